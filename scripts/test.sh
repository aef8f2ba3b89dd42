#!/usr/bin/env bash
# The test command: set up the venv, then run every test in release mode
# (one build profile: the benchmarks and the tests share it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/setup_old_ort.sh
export TURNKEY_PYTHON="$PWD/.venv/bin/python"
cargo test --release "$@"
