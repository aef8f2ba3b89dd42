#!/usr/bin/env bash
# Installs what turnkey needs beside Rust, idempotently: a Python venv in
# .venv with ONNX Runtime (the library the `ort` runtime loads) and the
# `onnx` package (the checker the tests use). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
ORT_VERSION=1.32.0
ONNX_VERSION=1.23.2

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" - <<PYEOF 2>/dev/null
import onnxruntime, onnx, numpy
assert onnxruntime.__version__ == "$ORT_VERSION", onnxruntime.__version__
assert onnx.__version__ == "$ONNX_VERSION", onnx.__version__
PYEOF
then
    echo "setup: onnxruntime $ORT_VERSION and onnx $ONNX_VERSION already in $VENV"
else
    echo "setup: installing onnxruntime $ORT_VERSION, onnx $ONNX_VERSION, numpy into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "onnxruntime==$ORT_VERSION" "onnx==$ONNX_VERSION" numpy
fi
