#!/usr/bin/env bash
# Peak memory of building a 1 B-parameter model (models/bench/linear_1b.rhai,
# 1.07 B float32 parameters, 4.3 GB) with `--build-only --rebuild`:
#   (a) random weights (generated at export, one parameter per thread)
#   (b) real weights from a checkpoint given by --weights: bfloat16 (2.1 GB,
#       converted to float32 on the way) and float32 (4.3 GB, copied)
# The checkpoint is memory-mapped and each tensor streamed into the export's
# external data file, so no build should hold the model twice: the peak
# anonymous memory (the process's own) stays far below the model's 4.3 GB.
# The file-backed resident set (pages of the mapped checkpoint, which the
# kernel may drop at any time) is reported beside it. Sampled every 10 ms
# from /proc/PID/status (RssAnon, RssFile) with VmHWM at the end.
#
# Usage (from anywhere): scripts/bench_weights.sh [RUNS]
#   RUNS           builds per workload (default 3; env BENCH_RUNS too)
#   DTYPES         checkpoint dtypes to measure (default "bf16 f32")
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the checkpoint and cache (default $TMPDIR
#                  or /tmp; needs about 11 GB free: checkpoint + export)
# Temporary files are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_weights "${1:-${BENCH_RUNS:-3}}"
bench_python bench_weights "to write the checkpoint and sample memory"
bench_binary bench_weights
DTYPES=${DTYPES:-bf16 f32}
MODEL=models/bench/linear_1b.rhai

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/turnkey-bench-weights.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if [ "${avail_kb:-0}" -lt 11000000 ]; then
    echo "bench_weights: $WORK has $((avail_kb / 1024 / 1024)) GB free, needs about 11 GB (set BENCH_DIR)" >&2
    exit 2
fi

echo "turnkey weights benchmark: $RUNS builds per workload"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2 / 1e6}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL; cache and checkpoints in $WORK"
echo

"$PY" - "$WORK" "$RUNS" "$BIN" "$MODEL" $DTYPES <<'PYEOF'
import json, os, statistics, subprocess, sys, time
import numpy as np

work, runs, binary, model, dtypes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
LAYERS, WIDTH = 16, 8192


def write_checkpoint(path, dtype):
    """The model's state_dict names (0.weight, 0.bias, ...) with seeded
    normal values, as a safetensors file written tensor by tensor."""
    st = {"bf16": "BF16", "f32": "F32"}[dtype]
    size = {"bf16": 2, "f32": 4}[dtype]
    shapes = []
    for i in range(LAYERS):
        shapes += [(f"{i}.weight", [WIDTH, WIDTH]), (f"{i}.bias", [WIDTH])]
    header, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": st, "shape": shape, "data_offsets": [at, at + n]}
        at += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for name, shape in shapes:
            v = (rng.standard_normal(shape, dtype=np.float32) / WIDTH**0.5)
            if dtype == "bf16":
                v = (v.view(np.uint32) >> 16).astype(np.uint16)
            f.write(v.tobytes())
    return at


def measure(args):
    """(wall s, peak RssAnon MB, peak RssFile MB, VmHWM MB) of one run."""
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    anon = filed = hwm = 0
    status = f"/proc/{p.pid}/status"
    while p.poll() is None:
        try:
            fields = dict(l.split(":", 1) for l in open(status))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            break
        kb = lambda k: int(fields.get(k, "0 kB").split()[0])
        anon, filed, hwm = max(anon, kb("RssAnon")), max(filed, kb("RssFile")), max(hwm, kb("VmHWM"))
        time.sleep(0.01)
    err = p.stderr.read().decode()
    if p.wait() != 0:
        sys.exit(f"bench_weights: {' '.join(args)} failed:\n{err}")
    return time.perf_counter() - t, anon / 1024, filed / 1024, hwm / 1024


def workload(label, extra):
    cache = os.path.join(work, "cache")
    args = [binary, "-q", "--build-only", "--rebuild", "-d", cache, model] + extra
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)  # creates the cache entry
    res = [measure(args) for _ in range(runs)]
    rec_dir = [d for d in os.listdir(os.path.join(cache, "builds"))]
    rec = None
    for d in rec_dir:
        r = json.load(open(os.path.join(cache, "builds", d, "record.json")))
        rec = r if rec is None or r["updated"] > rec["updated"] else rec
    med = lambda k: statistics.median(r[k] for r in res)
    w = rec["identity"].get("weights", {})
    data = [f for f in os.listdir(os.path.join(cache, "builds", rec["identity"]["name"])) if f.endswith(".data")]
    print(f"{label:<34} wall median {med(0):6.2f} s  peak anon {med(1):7.0f} MB  "
          f"peak file-backed {med(2):6.0f} MB  VmHWM {med(3):6.0f} MB  n={runs}")
    print(f"{'':<34} weights: {w.get('source')}; loaded {w.get('loaded')}, random {w.get('random')}"
          f"{', converted ' + json.dumps(w['converted']) if w.get('converted') else ''}; "
          f"external data {data}")
    subprocess.run(["rm", "-rf", cache])


params = LAYERS * (WIDTH * WIDTH + WIDTH)
print(f"{params:,} parameters, {params * 4 / 1e9:.2f} GB in float32")
workload("(a) random weights", [])
for dt in dtypes:
    ckpt = os.path.join(work, f"linear_1b.{dt}.safetensors")
    t = time.perf_counter()
    n = write_checkpoint(ckpt, dt)
    print(f"(checkpoint {dt}: {n / 1e9:.2f} GB written in {time.perf_counter() - t:.1f} s)")
    workload(f"(b) --weights {dt} checkpoint", [f"--weights={ckpt}"])
    os.remove(ckpt)
PYEOF
