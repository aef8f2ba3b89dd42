#!/usr/bin/env bash
# Times trace + ONNX export of the big zoo models with
# `turnkey --build-only --rebuild` and prints medians per model:
#   wall    the whole command (start-up, trace, export, cache writes)
#   cpu     its user + system CPU time (what a busy machine cannot inflate)
#   trace   the `discover` stage: running the script and tracing the graph
#   export  the `export` stage: ONNX serialization with the weights
#           generated straight into the buffer, and the write of model.onnx
# (trace and export come from each run's record.json.)
# Models: bert (109M params), gpt2 (124M), vgg16 (138M), resnet50 (26M).
#
# Usage (from anywhere): scripts/bench_zoo.sh [RUNS]
#   RUNS           measured runs per model (default 5; env BENCH_RUNS too)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the cache (default: /dev/shm when it is a
#                  writable tmpfs with room, so that the figures are turnkey's
#                  own time and not the disk's; else $TMPDIR or /tmp)
# The temporary cache is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_zoo "${1:-${BENCH_RUNS:-5}}"
bench_python bench_zoo "to time runs and compute medians"
bench_binary bench_zoo

MODELS=(models/transformers/bert.rhai models/transformers/gpt2.rhai models/torchvision/vgg16.rhai models/torchvision/resnet50.rhai)
for m in "${MODELS[@]}"; do
    [ -f "$m" ] || { echo "bench_zoo: $m is missing" >&2; exit 2; }
done

PARENT=${BENCH_DIR:-}
if [ -z "$PARENT" ]; then
    PARENT=${TMPDIR:-/tmp}
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        avail_kb=$(df -Pk /dev/shm | awk 'NR==2 {print $4}')
        # vgg16's model.onnx is 553 MB, written beside the previous one.
        if [ "${avail_kb:-0}" -gt 2000000 ]; then PARENT=/dev/shm; fi
    fi
fi
WORK=$(mktemp -d "$PARENT/turnkey-bench-zoo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "turnkey zoo trace + export benchmark: $RUNS runs per model, median (min..max)"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cache: $WORK ($(df -PT "$WORK" | awk 'NR==2 {print $2}'))"
echo "command: $BIN -q --build-only --rebuild -d CACHE SCRIPT"
echo

"$PY" - "$BIN" "$WORK" "$RUNS" "${MODELS[@]}" <<'PYEOF'
import glob, json, os, resource, statistics, subprocess, sys, time

binary, work, runs, models = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]

def fmt(xs):
    return f"{statistics.median(xs):6.3f} ({min(xs):.3f}..{max(xs):.3f})"

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

print(f"{'model':<10} {'params':>12} {'onnx MB':>8} {'nodes':>6}   {'wall s':<22} {'cpu s':<22} {'trace s':<22} {'export s':<22}")
for script in models:
    name = os.path.splitext(os.path.basename(script))[0]
    cache = os.path.join(work, name)
    cmd = [binary, "-q", "--build-only", "--rebuild", "-d", cache, script]
    # One untimed run first: creates the cache, so every timed run rebuilds.
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall, cpu_s, trace, export = [], [], [], []
    for _ in range(runs):
        t, c = time.perf_counter(), cpu()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t)
        cpu_s.append(cpu() - c)
        rec_path = glob.glob(os.path.join(cache, "builds", "*", "record.json"))[0]
        with open(rec_path) as f:
            rec = json.load(f)
        trace.append(rec["stages"]["discover"]["duration_s"])
        export.append(rec["stages"]["export"]["duration_s"])
    ident = rec["identity"]
    onnx = os.path.join(os.path.dirname(rec_path), "model.onnx")
    size = os.path.getsize(onnx) / 1e6 if os.path.exists(onnx) else 0.0
    nodes = sum(ident["op_counts"].values())
    print(f"{name:<10} {ident['params']:>12,} {size:>8.1f} {nodes:>6}   {fmt(wall):<22} {fmt(cpu_s):<22} {fmt(trace):<22} {fmt(export):<22}")
PYEOF
