#!/usr/bin/env bash
# Harness overhead of a whole run: the selftest corpus, cold cache,
# --iterations 100, minus the time spent in measured iterations (and warm-up,
# reported separately). Prints the median over RUNS runs.
# Usage: scripts/bench_e2e_overhead.sh [RUNS] [extra turnkey args...]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}; shift || true
[ -n "${TURNKEY_BIN:-}" ] || { cargo build --release -q; TURNKEY_BIN=${CARGO_TARGET_DIR:-target}/release/turnkey; }
PY=${TURNKEY_PYTHON:-.venv/bin/python}
"$PY" - "$TURNKEY_BIN" "$RUNS" "$@" <<'PYEOF'
import glob, json, os, statistics, subprocess, sys, tempfile, time
exe, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
scripts = sorted(glob.glob("models/selftest/*.rhai"))
walls, overheads, measured, warm = [], [], [], []
for _ in range(runs):
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        subprocess.run([exe, "-q", "-d", cache, "--iterations", "100", "--warmup-time", "0", *extra, *scripts],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        m = w = 0.0
        rows = 0
        for rec in glob.glob(os.path.join(cache, "builds/*/record.json")):
            for r in json.load(open(rec))["runtimes"]:
                rows += 1
                m += (r.get("total_ms") or 0) / 1000
                w += (r.get("warmup_ms") or (r.get("warmup_iterations") or 0) * (r.get("median_ms") or 0)) / 1000
        walls.append(wall); measured.append(m); warm.append(w); overheads.append(wall - m - w)
print(f"selftest corpus: {len(scripts)} scripts, {rows} rows, --iterations 100, {runs} runs (median)")
print(f"  wall {statistics.median(walls):.3f} s   measured {statistics.median(measured):.3f} s   "
      f"warm-up ~{statistics.median(warm):.3f} s   overhead {statistics.median(overheads):.3f} s (target < 1 s)")
PYEOF
