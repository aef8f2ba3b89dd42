#!/usr/bin/env bash
# The test command: set up the venv, then run every test in release mode
# (one build profile: the benchmarks and the tests share it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export TURNKEY_PYTHON="$PWD/.venv/bin/python"
# The torch runtime is tested too: libtorch from scripts/setup_torch.sh
# (already installed by setup.sh; this only prints where it is).
LIBTORCH=$(scripts/setup_torch.sh 2>/dev/null | tail -1)
export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo test --release --features torch "$@"
