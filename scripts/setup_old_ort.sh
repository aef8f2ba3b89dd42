#!/usr/bin/env bash
# Test data for the bad-input catalogue: the shared library of an ONNX
# Runtime release older than the `ort` crate accepts (1.20.1), so a test can
# check the "too old" error on a real library. Idempotent; ~13 MB download.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.20.1
DEST=.venv/test-data/ort-$VERSION
LIB=$DEST/libonnxruntime.so.$VERSION
if [ -f "$LIB" ]; then
    echo "setup: ONNX Runtime $VERSION test library already in $DEST"
    exit 0
fi
echo "setup: fetching ONNX Runtime $VERSION (test data for the too-old-library case)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download --disable-pip-version-check -q --no-deps \
    --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
    "onnxruntime==$VERSION" -d "$tmp"
mkdir -p "$DEST"
.venv/bin/python - "$tmp" "$DEST" "$VERSION" <<'PYEOF'
import glob, os, sys, zipfile
tmp, dest, version = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
name = f"onnxruntime/capi/libonnxruntime.so.{version}"
with zipfile.ZipFile(wheel) as z, open(os.path.join(dest, os.path.basename(name)), "wb") as f:
    f.write(z.read(name))
PYEOF
