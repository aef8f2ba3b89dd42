#!/usr/bin/env bash
# How close each runtime comes to this machine's peak: measures the GEMM
# peak (`turnkey peak`) for ort, tract and torch on the CPU, benchmarks each
# model at batch 8 on the three runtimes, and prints per row the median
# latency, throughput, achieved GFLOP/s (model FLOPs per sample × samples/s)
# and % of the runtime's own peak.
#
# Usage (from anywhere): scripts/bench_peak.sh [MODEL.rhai ...]
#   default models: models/torchvision/resnet50.rhai and models/transformers/bert.rhai
#   when present, else models/bench/encoder_100m.rhai (BERT-base sized)
#   BATCH          batch size (default 8)
#   SEQ            --max_seq_length for scripts that take one (default 128)
#   RUNTIMES       default ort,tract,torch
#   ITERATIONS     measured iterations per row (default 5)
#   THREADS        intra-op threads for peak and rows (default 0 = all cores;
#                  on a shared machine 1 avoids OpenMP oversubscription)
#   TURNKEY_BIN    use this binary (built with --features torch) and skip the build
#   BENCH_CACHE    keep the cache here (default: a temporary folder, removed)
set -euo pipefail
cd "$(dirname "$0")/.."

BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
RUNTIMES=${RUNTIMES:-ort,tract,torch}
ITERATIONS=${ITERATIONS:-5}
THREADS=${THREADS:-0}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi

models=("$@")
if [ ${#models[@]} -eq 0 ]; then
    for m in models/torchvision/resnet50.rhai models/transformers/bert.rhai; do
        [ -f "$m" ] && models+=("$m")
    done
    [ ${#models[@]} -eq 0 ] && models=(models/bench/encoder_100m.rhai)
fi
for m in "${models[@]}"; do
    [ -f "$m" ] || { echo "bench_peak: no such model script: $m" >&2; exit 2; }
done

LIBTORCH=${LIBTORCH:-$(scripts/setup_torch.sh 2>/dev/null | tail -1)}
export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
. scripts/lib/bench.sh
bench_binary bench_peak --features torch

if [ -n "${BENCH_CACHE:-}" ]; then
    CACHE=$BENCH_CACHE
    mkdir -p "$CACHE"
else
    CACHE=$(mktemp -d "${TMPDIR:-/tmp}/turnkey-bench-peak.XXXXXX")
    trap 'rm -rf "$CACHE"' EXIT
fi

echo "== peak (GEMM, float32, --threads $THREADS) ==" >&2
"$BIN" peak -d "$CACHE" --runtime "$RUNTIMES" --device cpu --threads "$THREADS"

for m in "${models[@]}"; do
    args="--batch_size $BATCH"
    grep -q max_seq_length "$m" && args="$args --max_seq_length $SEQ"
    echo "== $m ($args) ==" >&2
    # A failed row is reported in the table, not fatal here.
    "$BIN" -d "$CACHE" -q --runtime "$RUNTIMES" --device cpu --threads "$THREADS" --script-args "$args" \
        --iterations "$ITERATIONS" --warmup-iterations 1 --warmup-time 0 "$m" >/dev/null || true
done

"$BIN" report -d "$CACHE" -o "$CACHE/report" >/dev/null
"$PY" - "$CACHE/report/turnkey-report.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
f = lambda v, fmt: (fmt % float(v)) if v else "-"
print(f"{'model':<22} {'runtime':<8} {'status':<11} {'median ms':>10} {'samples/s':>10} "
      f"{'GFLOP/s':>9} {'% of peak':>9}")
for r in sorted(rows, key=lambda r: (r["model_class"], r["runtime"])):
    print(f"{r['model_class'][:22]:<22} {r['runtime']:<8} {r['status']:<11} "
          f"{f(r['median_ms'], '%.2f'):>10} {f(r['throughput'], '%.2f'):>10} "
          f"{f(r['achieved_flops'] and float(r['achieved_flops']) / 1e9, '%.1f'):>9} "
          f"{f(r['pct_of_peak'], '%.1f'):>9}")
PYEOF
