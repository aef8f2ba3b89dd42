"""Side-by-side timing and error of ONNX models on ONNX Runtime (Python).

Called by scripts/bench_precision.sh; usage:
  bench_precision.py THREADS RUNS FP32_BUILD NAME=MODEL.onnx ...
Every model is fed the fp32 build's inputs (FP32_BUILD/inputs/*.pb), run
with the same session options (THREADS intra-op threads, one inter-op
thread, ORT_ENABLE_ALL), interleaved round by round so that a busy machine
slows every model alike. Prints, per model: median ms over all timed
iterations, its ratio to the first model, and its error against the fp32
model's outputs (max abs, ||a-b||/||b||, cosine; the worst over outputs).
"""

import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ITERS = 10  # timed iterations per model per round
WARMUP = 3


def inputs(build: Path):
    feed = {}
    for pb in sorted((build / "inputs").glob("*.pb")):
        t = onnx.TensorProto()
        t.ParseFromString(pb.read_bytes())
        feed[t.name] = numpy_helper.to_array(t)
    if not feed:
        sys.exit(f"bench_precision: {build}/inputs holds no .pb inputs")
    return feed


def session(path: str, threads: int):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def errors(ref, out):
    worst = (0.0, 0.0, 1.0)
    for r, o in zip(ref, out):
        r = r.astype(np.float64).ravel()
        o = o.astype(np.float64).ravel()
        d = o - r
        mx = float(np.abs(d).max())
        rel = float(np.linalg.norm(d) / max(np.linalg.norm(r), 1e-30))
        cos = float(r @ o / max(np.linalg.norm(r) * np.linalg.norm(o), 1e-30))
        worst = (max(worst[0], mx), max(worst[1], rel), min(worst[2], cos))
    return worst


def main():
    threads, runs, build = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    models = [a.split("=", 1) for a in sys.argv[4:]]
    feed = inputs(build)
    sessions = [(n, session(p, threads)) for n, p in models]
    outs = {n: s.run(None, feed) for n, s in sessions}
    times = {n: [] for n, _ in sessions}
    for _ in range(runs):
        for n, s in sessions:
            for _ in range(WARMUP):
                s.run(None, feed)
            for _ in range(ITERS):
                t = time.perf_counter()
                s.run(None, feed)
                times[n].append((time.perf_counter() - t) * 1e3)
    base_name = sessions[0][0]
    base = float(np.median(times[base_name]))
    print(f"{'model':<28} {'median ms':>10} {'vs ' + base_name:>14} "
          f"{'max abs err':>12} {'rel err':>9} {'cosine':>9}")
    results = {}
    for n, _ in sessions:
        med = float(np.median(times[n]))
        mx, rel, cos = errors(outs[models[0][0]], outs[n])
        results[n] = (med, rel)
        print(f"{n:<28} {med:>10.2f} {med / base:>13.3f}x {mx:>12.3e} {rel:>9.2e} {cos:>9.6f}")
    return results


if __name__ == "__main__":
    main()
