# Shared start of the bench_*.sh scripts (sourced, not run). Each function
# takes the script's name first, for its messages.

# bench_runs NAME VALUE: VALUE must be a positive integer; sets RUNS.
bench_runs() {
    if ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        echo "$1: RUNS must be a positive integer, got '$2'" >&2
        exit 2
    fi
    RUNS=$2
}

# bench_python NAME WHY: sets PY to the project venv's python, else python3.
bench_python() {
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
    if ! command -v "$PY" >/dev/null; then
        echo "$1: needs python3 (or .venv from scripts/setup.sh) $2" >&2
        exit 2
    fi
}

# bench_binary NAME [CARGO FLAGS...]: sets BIN to $TURNKEY_BIN, else builds
# turnkey in release mode (with the flags) and uses that; an absolute path.
bench_binary() {
    local name=$1
    shift
    if [ -n "${TURNKEY_BIN:-}" ]; then
        BIN=$TURNKEY_BIN
    else
        echo "$name: cargo build --release $*" >&2
        cargo build --release --quiet "$@"
        BIN=${CARGO_TARGET_DIR:-target}/release/turnkey
    fi
    if [ ! -x "$BIN" ]; then
        echo "$name: turnkey binary not found at $BIN (set TURNKEY_BIN or CARGO_TARGET_DIR)" >&2
        exit 2
    fi
    BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
}
