#!/usr/bin/env bash
# Installs TurnkeyML 3.0.7 (the last version that benchmarks) into its own
# venv, .cache/turnkeyml-venv, for the side-by-side speed benchmark
# (scripts/bench_vs_turnkeyml.sh). Not needed by turnkey or its tests.
# Idempotent; prints the venv's python last. About 3 GB (PyPI's torch is a
# CUDA build). transformers 5.x refuses torch < 2.6, hence the pins.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.cache/turnkeyml-venv
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_turnkeyml: creating $VENV" >&2
    "$PY" -m venv "$VENV"
fi
if "$VENV/bin/python" -c "import turnkeyml.version as v, torch, transformers; assert v.__version__ == '3.0.7'" 2>/dev/null; then
    echo "setup_turnkeyml: turnkeyml 3.0.7 already in $VENV" >&2
else
    echo "setup_turnkeyml: installing turnkeyml 3.0.7, torch 2.4.1, transformers 4.45.2 into $VENV" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "turnkeyml==3.0.7" "torch==2.4.1" "transformers==4.45.2" \
        onnxruntime onnx onnxconverter-common >&2
fi

# TurnkeyML's ORT benchmark creates a conda env, pip-installs onnxruntime into
# it and runs `conda run --name X python -c ...`. A stand-in conda first on
# PATH makes "create" and "pip install" no-ops and runs the python step with
# this venv's python (a real conda would only add time).
mkdir -p "$VENV/fake-conda"
cat > "$VENV/fake-conda/conda" <<CONDA
#!/usr/bin/env bash
# Stand-in for conda (see scripts/setup_turnkeyml.sh).
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
    if [ "\${args[i]}" = python ] || [ "\${args[i]}" = python3 ]; then
        exec "$(pwd)/$VENV/bin/python" "\${args[@]:i+1}"
    fi
    if [ "\${args[i]}" = pip ]; then exit 0; fi
done
if [ "\${1:-}" = info ] || [ "\${1:-}" = env ]; then echo "{}"; fi
exit 0
CONDA
chmod +x "$VENV/fake-conda/conda"
echo "$VENV/bin/python"
