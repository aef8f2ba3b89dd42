#!/usr/bin/env bash
# turnkey's ONNX export side by side with torch.onnx.export on the same
# architectures (BERT-base, GPT-2, VGG-16, ResNet-50), median of RUNS:
#   torch      torch.onnx.export of a model already built (the export call
#              alone), with the dynamo exporter (torch's default) and with
#              the TorchScript one (dynamo=False)
#   turnkey    the `export` stage of `turnkey --build-only --rebuild` (ONNX
#              with the weights generated into it, written to disk), and the
#              whole command's wall time (start-up and tracing included)
# and the ONNX bytes turnkey writes per second next to this disk's own
# sequential write speed (a file of the same size written and fsynced): the
# write is the floor. Both write to the same folder.
#
# Usage (from anywhere): scripts/bench_export_vs_torch.sh [RUNS]
#   RUNS           measured runs per model and exporter (default 3)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the outputs (default $TMPDIR or /tmp)
# Needs the reference venv (scripts/setup_reference.sh); installs onnxscript
# there for the dynamo exporter when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_export_vs_torch "${1:-${BENCH_RUNS:-3}}"
bench_binary bench_export_vs_torch
PY=$(scripts/setup_reference.sh)
"$PY" -c 'import onnxscript' 2>/dev/null ||
    "$PY" -m pip install --disable-pip-version-check -q onnxscript==0.7.2

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/turnkey-bench-export.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "export: turnkey vs torch.onnx.export, $RUNS runs each, median (min..max) seconds"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); output folder on $(df -PT "$WORK" | awk 'NR==2 {print $2}')"
echo

OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} "$PY" - "$BIN" "$WORK" "$RUNS" <<'PYEOF'
import glob, json, os, statistics, subprocess, sys, time, warnings
import torch, torchvision, transformers

warnings.filterwarnings("ignore")
binary, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)

def bert():
    m = transformers.BertModel(transformers.BertConfig())
    return m, {"input_ids": torch.randint(0, 30522, (1, 128))}

def gpt2():
    m = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    m.config.use_cache = False
    return m, {"input_ids": torch.randint(0, 50257, (1, 128))}

def vgg16():
    return torchvision.models.vgg16(), (torch.rand(1, 3, 224, 224),)

def resnet50():
    return torchvision.models.resnet50(), (torch.rand(1, 3, 224, 224),)

MODELS = [("bert", bert, "models/transformers/bert.rhai"),
          ("gpt2", gpt2, "models/transformers/gpt2.rhai"),
          ("vgg16", vgg16, "models/torchvision/vgg16.rhai"),
          ("resnet50", resnet50, "models/torchvision/resnet50.rhai")]

def med(xs):
    return statistics.median(xs)

def fmt(xs):
    return f"{med(xs):6.2f} ({min(xs):.2f}..{max(xs):.2f})"

def disk_write(nbytes, path):
    """Seconds to write and fsync nbytes sequentially (1 MiB blocks)."""
    block = os.urandom(1 << 20)
    t = time.perf_counter()
    with open(path, "wb") as f:
        left = nbytes
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
        f.flush()
        os.fsync(f.fileno())
    dt = time.perf_counter() - t
    os.remove(path)
    return dt

def torch_export(model, args, dynamo):
    out = os.path.join(work, "torch.onnx")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        # Hugging Face models take keyword inputs (transformers 5's forward
        # has keyword-only options after input_ids).
        pos, kw = ((), args) if isinstance(args, dict) else (args, None)
        torch.onnx.export(model, pos, out, kwargs=kw, dynamo=dynamo, opset_version=18 if dynamo else 17)
        times.append(time.perf_counter() - t)
    for f in glob.glob(os.path.join(work, "torch.onnx*")):
        os.remove(f)
    return times

rows = []
for name, make, script in MODELS:
    cache = os.path.join(work, name)
    cmd = [binary, "-q", "--build-only", "--rebuild", "-d", cache, script]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall, export = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t)
        rec = json.load(open(glob.glob(os.path.join(cache, "builds", "*", "record.json"))[0]))
        export.append(rec["stages"]["export"]["duration_s"])
    onnx = glob.glob(os.path.join(cache, "builds", "*", "model.onnx"))[0]
    size = os.path.getsize(onnx) + sum(os.path.getsize(f) for f in glob.glob(onnx + ".data"))
    subprocess.run(["rm", "-rf", cache], check=True)
    disk = [disk_write(size, os.path.join(work, "disk.bin")) for _ in range(runs)]
    model, args = make()
    model.eval()
    ts = dy = None
    with torch.no_grad():
        # An exporter failure is a result too: said, and the row goes on.
        try:
            ts = torch_export(model, args, dynamo=False)
        except Exception as e:
            print(f"{name}: TorchScript export failed: {str(e).splitlines()[0][:200]}", file=sys.stderr)
        try:
            dy = torch_export(model, args, dynamo=True)
        except Exception as e:
            print(f"{name}: dynamo export failed: {str(e).splitlines()[0][:200]}", file=sys.stderr)
    del model
    rows.append((name, size, wall, export, disk, ts, dy))

print(f"{'model':<9} {'MB':>5}  {'torch dynamo':<20} {'torch script':<20} {'turnkey export':<20} {'turnkey wall':<20} "
      f"{'x dynamo':>8} {'x script':>8}  {'MB/s':>6} {'disk MB/s':>9}")
for name, size, wall, export, disk, ts, dy in rows:
    ratio = lambda t: f"{med(t) / med(export):8.1f}" if t else f"{'-':>8}"
    cell = lambda t: fmt(t) if t else "failed"
    print(f"{name:<9} {size / 1e6:5.0f}  {cell(dy):<20} {cell(ts):<20} {fmt(export):<20} {fmt(wall):<20} "
          f"{ratio(dy)} {ratio(ts)}  {size / 1e6 / med(export):6.0f} {size / 1e6 / med(disk):9.0f}")
print(f"\ntorch {torch.__version__}, transformers {transformers.__version__}, torchvision {torchvision.__version__}; "
      "goal: turnkey's export >= 15x faster than torch.onnx.export on each")
PYEOF
