#!/usr/bin/env bash
# Times `turnkey --analyze-only` over the whole corpus (every models/*/*.rhai:
# trace, count params, FLOPs and activation memory, write the records; no
# weights, no ONNX) and prints the median of RUNS runs, wall and CPU, with the
# slowest scripts of the last run. Target: the whole corpus in under 60 s.
#
# Usage (from anywhere): scripts/bench_analyze.sh [RUNS]
#   RUNS           measured runs (default 3; env BENCH_RUNS too)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_analyze "${1:-${BENCH_RUNS:-3}}"
bench_python bench_analyze "to time runs and compute medians"
bench_binary bench_analyze

WORK=$(mktemp -d "${TMPDIR:-/tmp}/turnkey-bench-analyze.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mapfile -t SCRIPTS < <(find models -mindepth 2 -maxdepth 2 -name "*.rhai" -type f | sort)  # -type f: not the old paths (links)

echo "turnkey --analyze-only over the corpus: ${#SCRIPTS[@]} scripts, $RUNS runs, median (min..max)"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$PY" - "$BIN" "$WORK" "$RUNS" "${SCRIPTS[@]}" <<'PYEOF'
import glob, json, resource, statistics, subprocess, sys, time

binary, work, runs, scripts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def fmt(xs):
    return f"{statistics.median(xs):.2f} s ({min(xs):.2f}..{max(xs):.2f})"

wall, cpu_s = [], []
for k in range(runs):
    cache = f"{work}/run{k}"
    t, c = time.perf_counter(), cpu()
    p = subprocess.run([binary, "-q", "--analyze-only", "-d", cache, *scripts],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall.append(time.perf_counter() - t)
    cpu_s.append(cpu() - c)
    if p.returncode != 0:
        sys.exit(f"bench_analyze: turnkey failed:\n{p.stderr[-2000:]}")

records = [json.load(open(f)) for f in glob.glob(f"{cache}/builds/*/record.json")]
params = sum(r["identity"].get("params") or 0 for r in records)
print(f"builds analyzed: {len(records)}  parameters in all: {params:,}")
print(f"wall: {fmt(wall)}   cpu: {fmt(cpu_s)}   target: < 60 s wall")
slow = sorted(records, key=lambda r: -r["stages"]["discover"]["duration_s"])[:5]
print("slowest traces (last run): " + ", ".join(
    f"{r['identity']['script']} {r['stages']['discover']['duration_s']:.2f} s" for r in slow))
PYEOF
