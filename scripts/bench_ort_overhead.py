#!/usr/bin/env python3
"""How much does turnkey's ORT benchmark loop cost over the model itself?

For each model below: build it with turnkey (`--build-only`, temp cache), then
alternate, for --rounds rounds,
  * turnkey: `turnkey --runtime ort --threads 1 --iterations N --rebuild` on
    the script; its median is `runtimes[*].median_ms` (runtime "ort") of the
    build's record.json;
  * python:  onnxruntime.InferenceSession on the SAME model.onnx (1 intra-op
    and 1 inter-op thread, ORT_ENABLE_ALL), fed the SAME inputs (the build's
    inputs/input_<k>.pb), warmed up like turnkey (>= 10 runs and >= 0.5 s),
    then N timed `sess.run(None, feeds)`; median.
and print per-model medians and the ratio turnkey / python. Alternating
rounds spreads the noise of a shared machine over both sides; the reported
median of each side is the median of its round medians.

`py IoBinding` is a second, tighter Python baseline: the inputs bound once as
OrtValues and the outputs left in ORT (`sess.run_with_iobinding`), as turnkey's
loop does, so no numpy conversion on either end. (The public
`run_with_ort_values` is no baseline: on ORT 1.32 it costs ~50 us a call.)

Run from the repo root with the venv python (scripts/setup.sh makes it):
    .venv/bin/python scripts/bench_ort_overhead.py [--rounds 3] [--cpu 1]
Builds the release binary first (`cargo build --release`, honouring
CARGO_TARGET_DIR) unless --turnkey/TURNKEY_BIN names one.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(
        f"bench_ort_overhead: {e}; run it with the venv python "
        "(.venv/bin/python, made by scripts/setup.sh)"
    )

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Case:
    label: str
    script: str
    script_args: str
    iterations: int
    target: float  # the ratio turnkey/python must be <= this


CASES = [
    Case("tiny linear 10->10, batch 1", "models/bench/tiny_linear.rhai", "--batch_size 1", 20000, 0.5),
    Case("MLP 4x1024, batch 8", "models/bench/mlp_1024.rhai", "--batch_size 8", 2000, 1.02),
]


def turnkey_binary(explicit: str | None) -> str:
    if explicit:
        path = explicit
    else:
        print("bench_ort_overhead: cargo build --release", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", "target")
        path = os.path.join(REPO, target, "release", "turnkey")
    if not os.access(path, os.X_OK):
        sys.exit(f"bench_ort_overhead: no turnkey binary at {path}; set --turnkey or CARGO_TARGET_DIR")
    return os.path.abspath(path)


def run_turnkey(binary: str, cache: str, case: Case, extra: list[str]) -> None:
    cmd = [binary, "-q", "-d", cache, "--script-args", case.script_args, *extra, case.script]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_ort_overhead: `{' '.join(cmd)}` failed ({r.returncode}):\n{r.stdout}{r.stderr}")


def build_dir(cache: str, case: Case) -> str:
    stem = os.path.splitext(os.path.basename(case.script))[0]
    dirs = glob.glob(os.path.join(cache, "builds", f"{stem}_*"))
    if len(dirs) != 1:
        sys.exit(f"bench_ort_overhead: expected one build of {case.script} in {cache}, found {dirs}")
    return dirs[0]


def turnkey_round(binary: str, cache: str, case: Case) -> float:
    run_turnkey(
        binary,
        cache,
        case,
        ["--rebuild", "--runtime", "ort", "--threads", "1", "--iterations", str(case.iterations)],
    )
    with open(os.path.join(build_dir(cache, case), "record.json")) as f:
        rec = json.load(f)
    rows = [r for r in rec["runtimes"] if r["runtime"] == "ort"]
    if not rows or rows[0]["status"] != "successful":
        sys.exit(f"bench_ort_overhead: no successful ort row in {case.script}'s record: {rows}")
    row = rows[0]
    if row["iterations"] != case.iterations or row["details"].get("intra_op_threads") != "1":
        sys.exit(f"bench_ort_overhead: unexpected ort row settings: {row['iterations']} iterations, {row['details']}")
    return row["median_ms"]


def load_feeds(bdir: str, sess: ort.InferenceSession) -> dict[str, np.ndarray]:
    """The build's inputs/input_<k>.pb, in the model's input order."""
    feeds = {}
    for k, meta in enumerate(sess.get_inputs()):
        t = onnx.TensorProto()
        with open(os.path.join(bdir, "inputs", f"input_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        arr = numpy_helper.to_array(t)
        if t.name and t.name != meta.name:
            sys.exit(f"bench_ort_overhead: input_{k}.pb is '{t.name}' but the model's input {k} is '{meta.name}'")
        feeds[meta.name] = arr
    return feeds


def check_outputs(bdir: str, outputs: list[np.ndarray]) -> None:
    """Same model, same inputs: Python's outputs must match turnkey's ort outputs."""
    for k, got in enumerate(outputs):
        path = os.path.join(bdir, "outputs", "ort-cpu", f"output_{k}.pb")
        if not os.path.exists(path):
            return  # turnkey keeps no outputs for this build: nothing to compare
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        want = numpy_helper.to_array(t)
        if want.shape != got.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            sys.exit(f"bench_ort_overhead: Python's output {k} differs from turnkey's {path}: "
                     "the two sides do not run the same model on the same inputs")


def python_round(bdir: str, iterations: int) -> tuple[float, float]:
    """(median ms of sess.run, median ms of run_with_iobinding)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(bdir, "model.onnx"), so, providers=["CPUExecutionProvider"])
    feeds = load_feeds(bdir, sess)
    clock = time.perf_counter_ns

    def timed(fn) -> float:
        # Warm-up as turnkey's defaults: >= 10 runs and >= 0.5 s.
        n, start = 0, time.perf_counter()
        while n < 10 or time.perf_counter() - start < 0.5:
            fn()
            n += 1
        samples = [0] * iterations
        for i in range(iterations):
            t = clock()
            fn()
            samples[i] = clock() - t
        return statistics.median(samples) / 1e6

    check_outputs(bdir, sess.run(None, feeds))
    run = sess.run
    plain = timed(lambda: run(None, feeds))
    binding = sess.io_binding()
    for name, arr in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(arr))
    for out in sess.get_outputs():
        binding.bind_output(out.name)  # ORT allocates it on the CPU, as in turnkey
    run_bound = sess.run_with_iobinding
    bound = timed(lambda: run_bound(binding))
    return plain, bound


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per side (default 3)")
    ap.add_argument("--turnkey", default=os.environ.get("TURNKEY_BIN"), help="turnkey binary (skips cargo build)")
    ap.add_argument("--iterations-scale", type=float, default=1.0, help="scale each model's iteration count")
    ap.add_argument("--cpu", type=int, help="pin this process and turnkey's workers to one CPU (less noise)")
    ap.add_argument("--keep-cache", action="store_true", help="keep the temporary cache and print its path")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    if args.iterations_scale <= 0:
        ap.error("--iterations-scale must be > 0")
    if args.cpu is not None:
        # Inherited by the turnkey subprocess and its workers.
        os.sched_setaffinity(0, {args.cpu})

    binary = turnkey_binary(args.turnkey)
    cache = tempfile.mkdtemp(prefix="turnkey-bench-ort-")
    results = []
    try:
        print(f"turnkey {binary}; onnxruntime (python) {ort.__version__}; {os.cpu_count()} cores, "
              f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}"
              + (f"; pinned to CPU {args.cpu}" if args.cpu is not None else ""))
        for case in CASES:
            case.iterations = max(1, round(case.iterations * args.iterations_scale))
            run_turnkey(binary, cache, case, ["--build-only"])
            bdir = build_dir(cache, case)
            tk, py, pyov = [], [], []
            for r in range(args.rounds):
                tk.append(turnkey_round(binary, cache, case))
                p, b = python_round(bdir, case.iterations)
                py.append(p)
                pyov.append(b)
                print(f"  {case.label}: round {r + 1}/{args.rounds}: turnkey {tk[-1] * 1e3:9.2f} us  "
                      f"python {py[-1] * 1e3:9.2f} us  py IoBinding {pyov[-1] * 1e3:9.2f} us",
                      flush=True)
            results.append((case, statistics.median(tk), statistics.median(py), statistics.median(pyov), tk, py))
    finally:
        if args.keep_cache:
            print(f"cache kept: {cache}")
        else:
            shutil.rmtree(cache, ignore_errors=True)

    print()
    print(f"{'model':<30} {'iters':>6} {'turnkey ms':>11} {'python ms':>11} {'ratio':>6} {'target':>7}  "
          f"{'verdict':<22} {'py IoBinding ms':>15} {'ratio':>6}")
    for case, tk, py, pyov, _, _ in results:
        ratio = tk / py
        verdict = "PASS" if ratio <= case.target else f"MISS by {ratio - case.target:.3f}"
        print(f"{case.label:<30} {case.iterations:>6} {tk:>11.5f} {py:>11.5f} {ratio:>6.3f} {'<=' + format(case.target, 'g'):>7}  "
              f"{verdict:<22} {pyov:>15.5f} {tk / pyov:>6.3f}")
    print("(medians of the per-round medians; first ratio = turnkey / python sess.run, last = turnkey / py IoBinding)")


if __name__ == "__main__":
    main()
