#!/usr/bin/env bash
# turnkey against TurnkeyML 3.0.7, side by side in one run, the two tools
# alternated run by run (this machine drifts by ~15% over minutes), medians:
#
#  1. the selftest pair (linear + twolayer) end to end, cold cache, ORT,
#     --iterations 100: wall time and the ratio (target: turnkey >= 20x faster);
#  2. BERT-base end to end, cold cache, ORT, --iterations 100: the time beyond
#     the measured iterations (wall - measured time) and the ratio (target
#     >= 20x), with turnkey's own breakdown;
#  3. turnkey alone: the whole selftest corpus on default settings (adaptive
#     warm-up and stopping): wall time and how many rows come out stable.
#
# TurnkeyML is installed into .cache/turnkeyml-venv by
# scripts/setup_turnkeyml.sh (about 3 GB, once). Its BERT script loads its
# config from the Hugging Face hub; here BertConfig() (the same bert-base
# configuration) stands in, so no network is needed.
#
# Usage: scripts/bench_vs_turnkeyml.sh [RUNS] [BERT_RUNS]   (default 5 and 3)
#   TURNKEY_BIN   use this turnkey binary instead of building one
#   PARTS         which parts to run, e.g. "1 3" (default "1 2 3")
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench.sh
bench_runs bench_vs_turnkeyml "${1:-5}"
BERT_RUNS=${2:-3}
bench_binary bench_vs_turnkeyml
TKML_PY=$(scripts/setup_turnkeyml.sh | tail -1)
TKML_VENV=$(cd "$(dirname "$TKML_PY")/.." && pwd)

"$TKML_PY" - "$BIN" "$TKML_VENV" "$RUNS" "$BERT_RUNS" "${PARTS:-1 2 3}" <<'PYEOF'
import glob, json, os, resource, statistics, subprocess, sys, tempfile, time
import yaml

def cpu_s():
    """CPU time (user + sys) of all finished children so far: unlike wall
    time, it hardly changes with other users' load."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

exe, venv, runs, bert_runs, parts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split()
models = os.path.join(venv, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}",
                      "site-packages", "turnkeyml_models")
env = dict(os.environ)
env["PATH"] = f"{venv}/fake-conda:{venv}/bin:" + env["PATH"]
env["CONDA_EXE"] = f"{venv}/fake-conda/conda"
work = os.path.abspath(".cache/bench_vs_turnkeyml")
os.makedirs(work, exist_ok=True)
bert_py = os.path.join(work, "bert.py")
with open(bert_py, "w") as f:
    f.write('''# labels: name::bert author::transformers task::Generative_AI
# TurnkeyML's turnkeyml_models/transformers/bert.py with BertConfig() (the
# bert-base-uncased configuration) instead of a download from the hub.
from turnkeyml.parser import parse
from transformers import BertModel, BertConfig
import torch

torch.manual_seed(0)
batch_size, max_seq_length = parse(["batch_size", "max_seq_length"])
model = BertModel(BertConfig())
inputs = {
    "input_ids": torch.ones(batch_size, max_seq_length, dtype=torch.long),
    "attention_mask": torch.ones(batch_size, max_seq_length, dtype=torch.float),
}
model(**inputs)
''')

cpu = {}

def ours(scripts, extra):
    """Wall time, measured time and records of one cold-cache turnkey run."""
    with tempfile.TemporaryDirectory(dir=work) as cache:
        c, t = cpu_s(), time.perf_counter()
        subprocess.run([exe, "-q", "-d", cache, *extra, *scripts], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        cpu["ours"] = cpu_s() - c
        recs = [json.load(open(p)) for p in glob.glob(os.path.join(cache, "builds/*/record.json"))]
    measured = sum((r.get("total_ms") or 0) / 1000 for rec in recs for r in rec["runtimes"])
    return wall, measured, recs

def theirs(scripts):
    """Wall time and measured time of one cold-cache TurnkeyML run."""
    with tempfile.TemporaryDirectory(dir=work) as cache:
        c, t = cpu_s(), time.perf_counter()
        subprocess.run(["turnkey", "-i", *scripts, "-d", cache, "discover", "export-pytorch",
                        "optimize-ort", "benchmark", "--runtime", "ort", "--iterations", "100"],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        cpu["theirs"] = cpu_s() - c
        measured = 0.0
        for p in glob.glob(os.path.join(cache, "*/turnkey_stats.yaml")):
            s = yaml.safe_load(open(p))
            measured += float(s["mean_latency"]) * int(s["iterations"]) / 1000
    return wall, measured

med = statistics.median
load = lambda: open("/proc/loadavg").read().split()[0]
print(f"machine: {os.cpu_count()} cores, load average {load()} at the start; {runs} alternated runs per tool")

if "1" in parts:
    pair_ours = ["models/selftest/linear.rhai", "models/selftest/twolayer.rhai"]
    pair_theirs = [f"{models}/selftest/linear.py", f"{models}/selftest/twolayer.py"]
    a, b, ca, cb = [], [], [], []
    for _ in range(runs):
        a.append(ours(pair_ours, ["--runtime", "ort", "--iterations", "100"])[0])
        ca.append(cpu["ours"])
        b.append(theirs(pair_theirs)[0])
        cb.append(cpu["theirs"])
    print("\n1. selftest pair (linear + twolayer), cold cache, ORT, --iterations 100, end to end")
    print(f"   turnkey     wall median {med(a):.3f} s  (runs: {', '.join(f'{x:.3f}' for x in a)}), CPU median {med(ca):.3f} s")
    print(f"   TurnkeyML   wall median {med(b):.3f} s  (runs: {', '.join(f'{x:.3f}' for x in b)}), CPU median {med(cb):.3f} s")
    print(f"   turnkey is {med(b) / med(a):.1f}x faster in wall time (target >= 20x), {med(cb) / med(ca):.1f}x in CPU time")

if "2" in parts:
    a, b, parts_ours, ca, cb = [], [], [], [], []
    for _ in range(bert_runs):
        wall, measured, recs = ours(["models/transformers/bert.rhai"], ["--runtime", "ort", "--iterations", "100"])
        a.append(wall - measured)
        row = recs[0]["runtimes"][0]
        stages = recs[0]["stages"]
        parts_ours.append({
            "discover": stages["discover"]["duration_s"], "export": stages["export"]["duration_s"],
            "session": row["compile_ms"] / 1000, "first": row["first_ms"] / 1000,
            "warm-up": (row.get("warmup_ms") or 0) / 1000, "measured": measured, "wall": wall,
            "warm-up iterations": row["warmup_iterations"],
        })
        ca.append(cpu["ours"])
        wall, measured = theirs([bert_py])
        b.append(wall - measured)
        cb.append(cpu["theirs"])
    print("\n2. BERT-base (seq 128, batch 1), cold cache, ORT, --iterations 100, end to end")
    print(f"   turnkey     beyond the measured iterations: median {med(a):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in a)})")
    for k in parts_ours[0]:
        print(f"      {k:<19} median {med([p[k] for p in parts_ours]):.3f}")
    print(f"   TurnkeyML   beyond the measured iterations: median {med(b):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in b)})")
    print(f"   ratio {med(b) / med(a):.1f}x (target >= 20x); whole runs' CPU time: turnkey {med(ca):.1f} s, TurnkeyML {med(cb):.1f} s")

if "3" in parts:
    scripts = sorted(glob.glob("models/selftest/*.rhai"))
    walls, stable, rows = [], [], 0
    for _ in range(runs):
        wall, _, recs = ours(scripts, [])
        walls.append(wall)
        rs = [r for rec in recs for r in rec["runtimes"]]
        rows = len(rs)
        stable.append(sum(1 for r in rs if r.get("stability") == "stable"))
    print(f"\n3. whole selftest corpus ({len(scripts)} scripts, {rows} rows), default settings, cold cache")
    print(f"   wall median {med(walls):.3f} s  (runs: {', '.join(f'{x:.3f}' for x in walls)})")
    print(f"   stable rows per run: {stable} of {rows}")
print(f"\nload average {load()} at the end")
PYEOF
