#!/usr/bin/env bash
# Can the numbers be trusted? The selftest corpus plus one mid-size model
# (MobileNetV2, 224x224), default settings (adaptive warm-up and stopping,
# --target-ci 1%), on ort:
#
#  - quiet: RUNS runs, each in a fresh cache. Per row: each run's median and
#    95% interval, whether the RUNS intervals overlap, the verdicts; per run:
#    how many rows are stable and how busy the host was (other processes'
#    CPU, from the rows' host_noise);
#  - quiet, --trials 3: RUNS runs again, each row in 3 worker processes, so
#    each interval also covers what differs between processes;
#  - loaded: the same as quiet with a synthetic busy loop on one core
#    (taskset -c 0): the verdicts should name the host load.
#
# "Quiet" means nothing of ours runs beside turnkey; on a shared machine
# other users' work still shows in the host columns, and the script prints it.
#
# Usage: scripts/bench_trust.sh [RUNS] [MODEL.rhai ...]   (default 3; mobilenet_v2)
#   TURNKEY_BIN   use this binary instead of building one
#   EXTRA         more turnkey flags for every run (e.g. "--threads 1 --pin")
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench.sh
bench_runs bench_trust "${1:-3}"
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(models/torchvision/mobilenet_v2.rhai)
bench_python bench_trust "to summarize the records"
bench_binary bench_trust
command -v taskset >/dev/null || { echo "bench_trust: needs taskset (util-linux) for the busy loop" >&2; exit 2; }

"$PY" - "$BIN" "$RUNS" "${EXTRA:-}" models/selftest/*.rhai "${models[@]}" <<'PYEOF'
import glob, json, os, shlex, subprocess, sys, tempfile, time

exe, runs, extra, scripts = sys.argv[1], int(sys.argv[2]), shlex.split(sys.argv[3]), sys.argv[4:]

def one_run(more=()):
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        subprocess.run([exe, "-q", "-d", cache, "--runtime", "ort", *extra, *more, *scripts],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        rows = {}
        for p in sorted(glob.glob(os.path.join(cache, "builds/*/record.json"))):
            rec = json.load(open(p))
            for r in rec["runtimes"]:
                rows[f'{rec["identity"]["name"]} {r["runtime"]}/{r["device"]}'] = r
    return wall, rows

def short(verdict):
    if not verdict or verdict == "stable":
        return verdict or "-"
    rest = verdict[len("unstable: "):]
    rest = rest.split(" target: ", 1)[-1]
    names = [r.split(" (")[0].split(":")[0].replace(" for the target", "") for r in rest.split("; ")]
    return "unstable: " + ", ".join(names)

def fmt(ms):
    if ms is None:
        return "-"
    for unit, k in (("ms", 1), ("us", 1e3), ("ns", 1e6)):
        if ms * k >= 1 or unit == "ns":
            return f"{ms * k:.4g} {unit}"

def ci_pct(r):
    lo, hi, m = r.get("median_ci_lo_ms"), r.get("median_ci_hi_ms"), r.get("median_ms")
    return None if lo is None or hi is None or not m else 50 * (hi - lo) / m

def phase(name, results):
    print(f"\n== {name}: {len(results)} run(s) ==")
    keys = sorted({k for _, rows in results for k in rows})
    overlap_n = 0
    for k in keys:
        rs = [rows.get(k) for _, rows in results]
        cells = []
        for r in rs:
            if r is None or r.get("median_ms") is None:
                cells.append("failed")
                continue
            c = ci_pct(r)
            cells.append(f"{fmt(r['median_ms'])} ±{c:.2f}%" if c is not None else fmt(r["median_ms"]))
        ok = [r for r in rs if r and r.get("median_ci_lo_ms") is not None]
        overlap = len(ok) == len(rs) and max(r["median_ci_lo_ms"] for r in ok) <= min(r["median_ci_hi_ms"] for r in ok)
        overlap_n += overlap
        print(f"  {k}")
        print(f"    medians: {' | '.join(cells)}   intervals overlap: {'yes' if overlap else 'no'}")
        print(f"    verdicts: {' | '.join(short(r.get('stability')) if r else '-' for r in rs)}")
    for i, (wall, rows) in enumerate(results, 1):
        stable = sum(1 for r in rows.values() if r.get("stability") == "stable")
        noisy = sum(1 for r in rows.values() if "noisy host" in (r.get("stability") or ""))
        other = [r["host_noise"]["other_cores"] for r in rows.values()
                 if r.get("host_noise") and r["host_noise"].get("other_cores") is not None]
        wait = [r["host_noise"]["wait_pct"] for r in rows.values()
                if r.get("host_noise") and r["host_noise"].get("wait_pct") is not None]
        print(f"  run {i}: wall {wall:.2f} s, {stable}/{len(rows)} stable, {noisy} name a noisy host; "
              f"other processes {min(other, default=0):.2f}-{max(other, default=0):.2f} cores, "
              f"worker waited {min(wait, default=0):.1f}-{max(wait, default=0):.1f}% of its time")
    if len(results) > 1:
        print(f"  intervals of all {len(results)} runs overlap for {overlap_n} of {len(keys)} rows")

load = lambda: open("/proc/loadavg").read().split()[0]
print(f"machine: {os.cpu_count()} cores, load average {load()}; corpus: {len(scripts)} scripts; flags: {' '.join(extra) or '(defaults)'}")
quiet = [one_run() for _ in range(runs)]
phase("quiet", quiet)
trials = [one_run(["--trials", "3"]) for _ in range(runs)]
phase("quiet, --trials 3", trials)
print(f"\nload average {load()}: starting a busy loop on CPU 0")
hog = subprocess.Popen(["taskset", "-c", "0", "sh", "-c", "while :; do :; done"])
try:
    time.sleep(1)
    loaded = [one_run() for _ in range(runs)]
finally:
    hog.kill()
    hog.wait()
phase("loaded (busy loop on CPU 0)", loaded)
print(f"\nload average {load()} at the end")
PYEOF
