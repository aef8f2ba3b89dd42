#!/usr/bin/env bash
# Creates .cache/reference-venv with the reference implementations the
# zoo's parameter names are checked against (torch, torchvision,
# transformers, diffusers, torch_geometric, timm; onnx and onnxruntime to read
# and run exports; safetensors for checkpoints), idempotently. Used by
# scripts/reference_names.py (which writes tests/data/reference/*.json),
# scripts/reference_outputs.py, and scripts/reference_weights.py, which
# writes the fixtures of tests/equivalence.rs (the one test that needs this
# venv; scripts/setup_equivalence.sh). PyPI's torch is the CUDA build
# (about 3 GB with its nvidia-* wheels); the models run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.cache/reference-venv
PKGS=(torchvision==0.29.2 transformers==5.25.0 diffusers==0.42.1 torch_geometric==2.8.1 safetensors==0.8.0 timm==1.0.31 onnx==1.23.2 onnxruntime==1.32.0)
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_reference: creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if "$VENV/bin/python" -c 'import torch, torchvision, transformers, diffusers, torch_geometric, safetensors, timm, onnx, onnxruntime' 2>/dev/null; then
    echo "setup_reference: $VENV is ready" >&2
else
    echo "setup_reference: installing ${PKGS[*]} into $VENV (about 3 GB)" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${PKGS[@]}"
fi
# ultralytics (YOLO reference counts and names, scripts/reference/detection_models.py):
# without its dependencies (matplotlib, polars, ...), which importing the
# model classes does not need; OpenCV headless is the one it imports.
if ! "$VENV/bin/python" -c 'import ultralytics' 2>/dev/null; then
    echo "setup_reference: installing ultralytics==8.4.190 (--no-deps) and opencv-python-headless into $VENV" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps ultralytics==8.4.190
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q opencv-python-headless==5.1.0.95
fi
echo "$VENV/bin/python"
