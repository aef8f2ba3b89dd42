#!/usr/bin/env bash
# Writes the equivalence fixtures (tests/equivalence.rs) into
# .cache/equivalence, idempotently: small configurations of every stdlib
# architecture built in its reference library with fixed-seed random
# weights, saved as safetensors checkpoints with fixed inputs and the
# reference outputs (scripts/reference_weights.py). Needs the reference venv
# (scripts/setup_reference.sh: torch, torchvision, transformers, diffusers,
# torch_geometric at pinned versions; about 3 GB the first time). The
# fixtures are rewritten when reference_weights.py changes.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.cache/equivalence
# Tests running at once wait for one writer rather than racing it.
mkdir -p .cache
exec 9>.cache/equivalence.lock
flock 9
STAMP=$(sha256sum scripts/reference_weights.py | cut -d' ' -f1)
if [ -f "$OUT/.complete" ] && [ "$(cat "$OUT/.complete")" = "$STAMP" ]; then
    echo "setup_equivalence: $OUT is ready" >&2
    exit 0
fi
PYTHON=$(scripts/setup_reference.sh | tail -1)
rm -rf "$OUT"
mkdir -p "$OUT"
"$PYTHON" scripts/reference_weights.py "$PWD/$OUT"
echo "$STAMP" > "$OUT/.complete"
echo "setup_equivalence: wrote $OUT" >&2
