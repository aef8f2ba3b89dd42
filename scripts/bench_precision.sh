#!/usr/bin/env bash
# Anchor of the precision variants (issue #21), side by side on ONNX Runtime
# (CPU), same inputs and threads:
#   1. BERT-base (batch 1, sequence 128): turnkey's fp32 export, our
#      int8-dynamic variant, and ONNX Runtime's own quantize_dynamic applied
#      to that fp32 export after ONNX Runtime's quant_pre_process (which the
#      quantizer asks for; it folds the Transpose our export puts before each
#      weight, without which quantize_dynamic finds 1 MatMul of 97 with a
#      constant weight: shown too, as ort_qd_no_preprocess), with its defaults
#      (per-tensor weights) and per_channel=True (what our variant does).
#      Targets: our latency within 10% of quantize_dynamic's, our error
#      against fp32 no worse.
#   2. ResNet-50 (batch 1, 224x224): fp16 against fp32.
# Prints turnkey's own rows (speedup and accuracy columns), then
# scripts/bench_precision.py's interleaved timing of the ONNX files in one
# Python process (median ms, ratio, error against fp32).
#
# Usage (from anywhere): scripts/bench_precision.sh [RUNS]
#   RUNS           interleaved rounds of 10 timed iterations per model
#                  (default 3; env BENCH_RUNS too)
#   BENCH_THREADS  intra-op threads of every session (default 2)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the temporary cache (default $TMPDIR or /tmp)
# The temporary cache is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_precision "${1:-${BENCH_RUNS:-3}}"
bench_python bench_precision "with onnxruntime and onnx (scripts/setup.sh)"
bench_binary bench_precision
THREADS=${BENCH_THREADS:-2}
if ! [[ "$THREADS" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench_precision: BENCH_THREADS must be a positive integer, got '$THREADS'" >&2
    exit 2
fi

CACHE=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench_precision.XXXXXX")
trap 'rm -rf "$CACHE"' EXIT

# The build folder of MODEL's fp32 build ("") or of its VARIANT, by record.json.
build_of() {
    "$PY" - "$CACHE" "$1" "$2" <<'PY'
import json, sys
from pathlib import Path
cache, name, variant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for rec in sorted(cache.glob("builds/*/record.json")):
    i = json.loads(rec.read_text())["identity"]
    v = i.get("variant") or {}
    if not rec.parent.name.startswith(name + "_") or v.get("ort_opt_level"):
        continue
    if (v.get("precision") == variant) if variant else not i.get("variant_of"):
        print(rec.parent)
        break
else:
    sys.exit(f"bench_precision: no {variant or 'fp32'} build of {name} in {cache}")
PY
}

run_turnkey() {
    "$BIN" "$@" --runtime ort --device cpu --threads "$THREADS" -d "$CACHE" \
        --min-time 2 --min-iterations 20 --quiet
}

echo "== BERT-base, batch 1, sequence 128, $THREADS thread(s): turnkey rows"
run_turnkey models/transformers/bert.rhai --script-args "--batch_size 1 --max_seq_length 128" \
    --precision fp32,int8-dynamic
BERT=$(build_of bert_huggingface "")
BERT_Q=$(build_of bert_huggingface int8-dynamic)
echo "quantize_dynamic (onnxruntime $("$PY" -c 'import onnxruntime; print(onnxruntime.__version__)')) on $BERT/model.onnx"
"$PY" - "$BERT/model.onnx" "$CACHE" <<'PY'
import sys
import logging
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
logging.disable(logging.WARNING)  # the pre-processing advice, taken below
src, out = sys.argv[1], sys.argv[2]
quantize_dynamic(src, f"{out}/ort_qd_raw.onnx", weight_type=QuantType.QInt8)
# Symbolic shape inference is for dynamic shapes (ours are static) and
# would import torch.
quant_pre_process(src, f"{out}/pre.onnx", skip_symbolic_shape=True)
quantize_dynamic(f"{out}/pre.onnx", f"{out}/ort_qd.onnx", weight_type=QuantType.QInt8)
quantize_dynamic(f"{out}/pre.onnx", f"{out}/ort_qd_pc.onnx", weight_type=QuantType.QInt8, per_channel=True)
PY
echo "== BERT-base side by side ($RUNS rounds)"
"$PY" scripts/bench_precision.py "$THREADS" "$RUNS" "$BERT" \
    fp32="$BERT/model.onnx" ort_qd_no_preprocess="$CACHE/ort_qd_raw.onnx" \
    ort_quantize_dynamic="$CACHE/ort_qd.onnx" ort_quantize_dynamic_pc="$CACHE/ort_qd_pc.onnx" \
    turnkey_int8_dynamic="$BERT_Q/model.onnx"

echo
echo "== ResNet-50, batch 1, 224x224, $THREADS thread(s): turnkey rows"
run_turnkey models/torchvision/resnet50.rhai --script-args "--batch_size 1" --precision fp32,fp16
R50=$(build_of resnet50_torchvision "")
R50_H=$(build_of resnet50_torchvision fp16)
echo "== ResNet-50 side by side ($RUNS rounds)"
"$PY" scripts/bench_precision.py "$THREADS" "$RUNS" "$R50" \
    fp32="$R50/model.onnx" turnkey_fp16="$R50_H/model.onnx"
