#!/usr/bin/env bash
# Fetches ONNX's backend node test models (each a model.onnx with its
# test_data_set_0 inputs) for tests/conformance.rs. The onnx wheel we use
# (1.23.2) ships none, so they come from the onnx 1.22.0 wheel, downloaded
# (not installed: the venv's onnx stays as it is) and unpacked into
# .cache/onnx-node-tests/1.22.0/node. Idempotent: does nothing when present.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.22.0
ROOT=.cache/onnx-node-tests
DEST=$ROOT/$VERSION
PY=${TURNKEY_PYTHON:-.venv/bin/python}

if [ -f "$DEST/.complete" ]; then
    echo "setup: ONNX node tests (onnx $VERSION) already in $DEST"
    exit 0
fi
echo "setup: fetching ONNX node tests from the onnx $VERSION wheel into $DEST"
mkdir -p "$ROOT/wheels"
# One fixed wheel whatever the host: the test data is the same in all of them.
"$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 \
    "onnx==$VERSION" -d "$ROOT/wheels"
rm -rf "$DEST"
"$PY" - "$ROOT/wheels" "$DEST" "$VERSION" <<'PYEOF'
import glob, os, sys, zipfile
wheels, dest, version = sys.argv[1:4]
found = glob.glob(os.path.join(wheels, f"onnx-{version}-*.whl"))
if not found:
    sys.exit(f"no onnx-{version} wheel in {wheels}")
prefix = "onnx/backend/test/data/node/"
n = 0
with zipfile.ZipFile(found[0]) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, "node", name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())
            n += 1
if n == 0:
    sys.exit(f"{found[0]} holds no {prefix}")
print(f"setup: {n} files, {len(os.listdir(os.path.join(dest, 'node')))} node tests")
PYEOF
touch "$DEST/.complete"
