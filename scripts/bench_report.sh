#!/usr/bin/env bash
# Times `turnkey report` over a synthetic cache of 10,000 build records
# (20,000 rows: ort and tract each, 100-iteration samples files) and prints
# the medians:
#   (a) --format csv,json        target: <= 1 s
#   (b) --format csv,json,html   target: <= 3 s
# The cache is written once by examples/synthetic_cache.rs (not timed).
#
# Usage (from anywhere): scripts/bench_report.sh [RUNS]
#   RUNS          measured runs per command (default 5; env BENCH_RUNS too)
#   BENCH_N       records to generate (default 10000)
#   BENCH_DIR     parent folder of the synthetic cache (default $TMPDIR or /tmp)
#   TURNKEY_BIN   use this binary (still builds the generator)
# Uses hyperfine when installed (it also reports CPU time, the figure to
# trust on a machine shared with other work), else times the runs in Python.
# The synthetic cache and the reports are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-${BENCH_RUNS:-5}}
N=${BENCH_N:-10000}
for v in "$RUNS" "$N"; do
    if ! [[ "$v" =~ ^[1-9][0-9]*$ ]]; then
        echo "bench_report: RUNS and BENCH_N must be positive integers, got '$v'" >&2
        exit 2
    fi
done
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi

echo "bench_report: cargo build --release (turnkey and the generator)" >&2
cargo build --release --quiet --bin turnkey --example synthetic_cache
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${TURNKEY_BIN:-$TARGET/release/turnkey}
GEN=$TARGET/release/examples/synthetic_cache

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/turnkey-bench-report.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "bench_report: writing $N synthetic records into $WORK/cache" >&2
"$GEN" "$WORK/cache" "$N" >&2

declare -A FORMATS=([csv_json]="csv,json" [csv_json_html]="csv,json,html")
for name in csv_json csv_json_html; do
    cmd="$BIN report -d $WORK/cache -o $WORK/out_$name --format ${FORMATS[$name]}"
    if command -v hyperfine >/dev/null; then
        hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/$name.json" \
            --command-name "report $name" "$cmd" >&2
        median=$("$PY" -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.3f s wall, %.3f s CPU (user+sys, mean)" % (r["median"], r["user"] + r["system"]))' "$WORK/$name.json")
    else
        median=$("$PY" - "$RUNS" "$cmd" <<'PYEOF'
import shlex, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), shlex.split(sys.argv[2])
subprocess.run(cmd, check=True, capture_output=True)  # warm-up
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    times.append(time.perf_counter() - t)
print("%.3f s wall" % statistics.median(times))
PYEOF
)
    fi
    rows=$(($(wc -l < "$WORK/out_$name/turnkey-report.csv") - 1))
    size=$(du -sh "$WORK/out_$name" | cut -f1)
    echo "report --format ${FORMATS[$name]}: median ${median} over $RUNS runs ($N records, $rows rows, output $size)"
done
