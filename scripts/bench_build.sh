#!/usr/bin/env bash
# Times `turnkey --build-only --rebuild` (discover + trace + ONNX export +
# cache writes, no runtime) on two workloads and prints medians:
#   (a) the selftest corpus, models/selftest/*.rhai     target: well under 1 s
#   (b) models/bench/encoder_100m.rhai (~109M params)   target: < 3 s
#   (c) models/bench/trace_10k_ops.rhai (11,000 ops): the discover stage
#       (engine, compile, trace) from the record    target: < 0.2 s
# Each is measured with the cache on the disk (${BENCH_DIR:-${TMPDIR:-/tmp}})
# and, where /dev/shm is a writable tmpfs, in memory too: the difference is
# what file writes and fsync cost, the tmpfs figure is turnkey's own CPU time.
#
# Usage (from anywhere): scripts/bench_build.sh [RUNS]
#   RUNS           measured runs per command (default 10; env BENCH_RUNS too)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the on-disk cache (default $TMPDIR or /tmp)
#   BENCH_NO_SHM=1 skip the tmpfs measurement
# Uses hyperfine when installed (apt-get install -y hyperfine), else times
# the runs itself in Python. Temporary caches are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_build "${1:-${BENCH_RUNS:-10}}"
bench_python bench_build "to compute medians"
bench_binary bench_build

SELFTEST=(models/selftest/*.rhai)
ENCODER=models/bench/encoder_100m.rhai
TRACE=models/bench/trace_10k_ops.rhai
[ -f "$ENCODER" ] || { echo "bench_build: $ENCODER is missing" >&2; exit 2; }

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/turnkey-bench-build.XXXXXX")
SHM=""
cleanup() { rm -rf "$WORK" ${SHM:+"$SHM"}; }
trap cleanup EXIT
LOCATIONS=("$WORK")
if [ "${BENCH_NO_SHM:-0}" != 1 ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    # The encoder's ONNX file is ~436 MB and is written beside the old one.
    avail_kb=$(df -Pk /dev/shm | awk 'NR==2 {print $4}')
    if [ "${avail_kb:-0}" -gt 2000000 ]; then
        SHM=$(mktemp -d /dev/shm/turnkey-bench-build.XXXXXX)
        LOCATIONS+=("$SHM")
    fi
fi

HYPERFINE=""
if command -v hyperfine >/dev/null; then
    HYPERFINE=$(command -v hyperfine)
    HF_SHELL=()
    # --shell=none (hyperfine >= 1.13) drops the shell's start-up from the times.
    if hyperfine --help 2>/dev/null | grep -q -- '--shell=none'; then
        HF_SHELL=(--shell=none)
    fi
fi

# time_cmd NAME CACHE ARGS... : writes RUNS wall times (s) to $WORK/NAME.times
time_cmd() {
    local name=$1 cache=$2
    shift 2
    local cmd=("$BIN" -q --build-only --rebuild -d "$cache" "$@")
    # One untimed run first: creates the cache, so every timed run rebuilds.
    "${cmd[@]}" >/dev/null
    if [ -n "$HYPERFINE" ]; then
        "$HYPERFINE" "${HF_SHELL[@]}" --style none --warmup 1 --runs "$RUNS" \
            --export-json "$WORK/$name.json" "${cmd[*]}" >/dev/null
        "$PY" -c 'import json,sys; print("\n".join(map(str, json.load(open(sys.argv[1]))["results"][0]["times"])))' \
            "$WORK/$name.json" >"$WORK/$name.times"
    else
        "$PY" - "$RUNS" "${cmd[@]}" >"$WORK/$name.times" <<'PYEOF'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(time.perf_counter() - t)
PYEOF
    fi
}

fs_of() { df -PT "$1" | awk 'NR==2 {print $2}'; }

echo "turnkey build-only benchmark: $RUNS runs per command ($([ -n "$HYPERFINE" ] && hyperfine --version || echo 'python loop, no hyperfine'))"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(a) $BIN --build-only --rebuild -d CACHE ${SELFTEST[*]}"
echo "(b) $BIN --build-only --rebuild -d CACHE $ENCODER"
echo "(c) $BIN --build-only --rebuild -d CACHE $TRACE (discover stage)"
echo

for loc in "${LOCATIONS[@]}"; do
    tag=$(basename "$loc")
    time_cmd "selftest-$tag" "$loc/selftest" "${SELFTEST[@]}"
    time_cmd "encoder-$tag" "$loc/encoder" "$ENCODER"
done
# (c): the discover stage's own duration, from each run's record.
for _ in $(seq "$RUNS"); do
    "$BIN" -q --build-only --rebuild -d "$WORK/trace" "$TRACE" >/dev/null
    "$PY" -c 'import glob,json,sys; r=json.load(open(glob.glob(sys.argv[1] + "/builds/*/record.json")[0])); print(r["stages"]["discover"]["duration_s"], sum(r["identity"]["op_counts"].values()))' \
        "$WORK/trace" >>"$WORK/trace.times"
done

"$PY" - "$WORK" "${#SELFTEST[@]}" "${LOCATIONS[@]}" <<'PYEOF'
import glob, json, os, statistics, subprocess, sys

work, n_scripts, locations = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def times(name):
    with open(os.path.join(work, name + ".times")) as f:
        return [float(x) for x in f.read().split()]

def fs(path):
    out = subprocess.run(["df", "-PT", path], capture_output=True, text=True).stdout
    return out.splitlines()[1].split()[1]

def verdict(median, target):
    if median < target:
        return f"PASS (target < {target:g} s)"
    over = median - target
    return f"MISS by {over:.2f} s (+{100 * over / target:.0f}%, target < {target:g} s)"

enc_record = None
for loc in locations:
    tag = os.path.basename(loc)
    kind = "memory" if loc.startswith("/dev/shm") else "disk"
    print(f"cache on {kind}: {os.path.dirname(loc)} ({fs(loc)})")
    builds = len(glob.glob(os.path.join(loc, "selftest", "builds", "*", "record.json")))
    for name, label, target in [
        (f"selftest-{tag}", f"(a) selftest corpus, {n_scripts} scripts, {builds} builds", 1.0),
        (f"encoder-{tag}", "(b) encoder_100m", 3.0),
    ]:
        t = times(name)
        med = statistics.median(t)
        print(f"  {label:<42} median {med:7.3f} s  min {min(t):7.3f}  max {max(t):7.3f}  "
              f"n={len(t)}  {verdict(med, target)}")
    recs = glob.glob(os.path.join(loc, "encoder", "builds", "*", "record.json"))
    if recs:
        with open(recs[0]) as f:
            rec = json.load(f)
        st = rec.get("stages", {})
        parts = ", ".join(f"{k} {v.get('duration_s', 0):.3f} s" for k, v in st.items())
        print(f"  encoder stages of the last run (record.json): {parts}")
        enc_record = (rec, os.path.join(os.path.dirname(recs[0]), "model.onnx"))
    print()

trace = [l.split() for l in open(os.path.join(work, "trace.times")).read().splitlines()]
discover = [float(t[0]) for t in trace]
print(f"(c) trace_10k_ops ({trace[0][1]} ONNX nodes): discover median {statistics.median(discover):.3f} s  "
      f"min {min(discover):.3f}  max {max(discover):.3f}  n={len(discover)}  {verdict(statistics.median(discover), 0.2)}")
print()

if enc_record:
    rec, onnx = enc_record
    ident = rec["identity"]
    size = os.path.getsize(onnx) if os.path.exists(onnx) else 0
    print(f"encoder_100m: {ident['params']:,} params ({ident['param_bytes'] / 1e6:.1f} MB), "
          f"model.onnx {size / 1e6:.1f} MB, {sum(ident['op_counts'].values())} ONNX nodes, "
          f"inputs {[(i['name'], i['shape'], i['dtype']) for i in ident['inputs']]}")
PYEOF
