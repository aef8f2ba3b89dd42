#!/usr/bin/env bash
# Installs libtorch for the optional `torch` runtime (cargo feature `torch`),
# idempotently: the slim CPU set of RECIPES.md from PyPI into the project
# .venv (torch 2.11.0 without its CUDA dependencies, ~545 MB; PyPI only has
# the CUDA build of torch, and these two small NVIDIA packages are all its
# CPU libraries need). Prints the LIBTORCH folder on its last line.
# A GPU machine with a full `pip install torch==2.11.0` needs nothing more:
# this script sees that torch and leaves it alone.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${TURNKEY_VENV:-.venv}
TORCH_VERSION=2.11.0
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_torch: $VENV/bin/python is missing: run scripts/setup.sh first" >&2
    exit 1
fi
# The venv's site-packages, without importing torch (the slim set cannot be imported).
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TORCH_DIR="$SITE/torch"
have_version() {
    [ -f "$TORCH_DIR/lib/libtorch_cpu.so" ] && [ -f "$TORCH_DIR/version.py" ] &&
        grep -q "^__version__ = '$TORCH_VERSION" "$TORCH_DIR/version.py"
}
if have_version; then
    echo "setup_torch: torch $TORCH_VERSION already in $VENV" >&2
else
    echo "setup_torch: installing torch $TORCH_VERSION (slim, CPU libraries) into $VENV" >&2
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
        "torch==$TORCH_VERSION" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
    have_version || { echo "setup_torch: torch $TORCH_VERSION did not install into $TORCH_DIR" >&2; exit 1; }
fi
# torch-sys compiles a C++ wrapper around libtorch: it needs a C++ compiler.
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup_torch: installing g++ (torch-sys compiles C++)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q g++ >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q g++ >&2; }
    else
        echo "setup_torch: no C++ compiler: install g++ (torch-sys compiles C++ for --features torch)" >&2
    fi
fi
echo "$TORCH_DIR"
