#!/usr/bin/env python3
"""Runs each zoo model in its reference implementation (torchvision,
transformers, torch_geometric, diffusers) and in ONNX Runtime on turnkey's export,
with the same weights given by name to both, and compares the outputs: the
names must reach the right tensors, in the right layout, and the graphs must
compute what the reference computes.

    python=$(scripts/setup_reference.sh) && cargo build --release &&
    $python scripts/reference_outputs.py [SCRIPT ...]

For each script: `turnkey --build-only` at small inputs (64x64 images, 16
tokens) into a scratch cache. Every weight of the export is then replaced by
fresh random values (see `fresh`: with turnkey's PyTorch-default init, deep
vision features fade until the classifier's bias is all an output shows,
which would hide a misplaced weight); the reference model is built on the
CPU and given the same tensors with `load_state_dict`, which must leave out
nothing but BatchNorm's step counters and tied aliases; both run on
turnkey's saved inputs, and the outputs must agree within 2e-5 of their
largest magnitude. Measured: float32 noise is 3e-7 to 2e-6 of it; two
same-shaped weights swapped late in a model (a q/k swap in Whisper's last
layer, layer4 convs of ResNet-101, late blocks of MobileNetV3, DenseNet,
EfficientNet, ConvNeXt) differ by 5e-5 to 0.7. The U-Net is left out: it is
not on PyPI (reference_names.py restates its module tree, not its forward).
Exits non-zero when any model differs.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import diffusers_models, gnn_models, llm_models, torchvision_models, transformers_models  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TURNKEY = ROOT / "target" / "release" / "turnkey"
SIZE = 64  # image side
SEQ = 16  # tokens
# Buffers the export need not hold: BatchNorm's step counter (training
# only); Swin's relative position index and V2's coordinate table, which
# the graph computes from the window size.
COMPUTED_BUFFERS = ("num_batches_tracked", "relative_position_index", "relative_coords_table")


def constructors():
    """script -> (turnkey script args, make the reference model)."""
    tv = {}
    for name in torchvision_models.TORCHVISION:
        if name == "vit_b_16":
            # torchvision's ViT-B/16 at SIZE x SIZE (its position table follows).
            from torchvision.models.vision_transformer import VisionTransformer
            make = lambda: VisionTransformer(SIZE, 16, 12, 12, 768, 3072)
        else:
            import torchvision
            make = lambda name=name: torchvision.models.get_model(name, weights=None)
        tv[f"models/torchvision/{name}.rhai"] = (f"--height {SIZE} --width {SIZE}", make)
    for key, (_, make) in transformers_models.models().items():
        tv[f"models/{key}.rhai"] = (f"--max_seq_length {SEQ}", make)
    for key, (_, make) in gnn_models.models().items():
        tv[f"models/{key}.rhai"] = ("", make)
    # UNets at 64x64 images: 8x8 latents. Not the SD 1.5 UNet: its 3.4 GB
    # of weights, held here four times over (export, fresh values, session,
    # PyTorch), outgrow a 24 GB machine; unet_block checks its blocks.
    # The VAEs (whole, encode, decode; with and without quant convs) and CLIP
    # text encoders (with and without projection) of SD 1.5 and SD 3; the
    # other diffusers scripts share their builders at sizes that outgrow it.
    checked = ("unet_block", "sd15_vae", "sd15_vae_encoder", "sd15_vae_decoder", "sd3_vae",
               "sd15_text_encoder", "sd3_text_encoder")
    for key, (_, make) in diffusers_models.models().items():
        if key.split("/")[1] in checked:
            args = "" if "text_encoder" in key else f"--height {SIZE} --width {SIZE}"
            tv[f"models/{key}.rhai"] = (args, make)
    llm = llm_models.models()
    for key in llm_models.OUTPUTS:
        # Two sequences; with an attention_mask input the second is
        # left-padded by 4 (see `pad`).
        tv[f"models/{key}.rhai"] = (f"--max_seq_length {SEQ} --batch_size 2", llm[key][1])
    for script, (cls, conf, cfg) in llm_models.VARIANTS.items():
        tv[script] = (f"--max_seq_length {SEQ} --batch_size 2", llm_models._make(cls, conf, cfg)[1])
    return tv


def build(script, args, cache):
    cmd = [str(TURNKEY), "-q", "-d", str(cache), "--build-only", "--script-args", args, script]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    (build_dir,) = [p for p in (cache / "builds").iterdir() if p.is_dir()]
    return build_dir


def read_pbs(folder, prefix):
    out, k = [], 0
    while (folder / f"{prefix}_{k}.pb").exists():
        t = onnx.TensorProto()
        t.ParseFromString((folder / f"{prefix}_{k}.pb").read_bytes())
        out.append((t.name, numpy_helper.to_array(t)))
        k += 1
    return out


def pad(inputs):
    """A decoder's attention_mask (all ones as the script makes it) with the
    second sequence's first 4 tokens marked as padding: the real tokens
    after them must not attend to them."""
    out = []
    for name, v in inputs:
        if name == "attention_mask" and v.shape[0] > 1:
            v = v.copy()
            v[1, :4] = 0
        out.append((name, v))
    return out


def edge_index(adj):
    """PyG's edges (source j -> target i) of a dense adjacency, without
    self-loops: GCNConv and GATConv add their own, SAGEConv has none."""
    i, j = np.nonzero(adj)
    keep = i != j
    return torch.from_numpy(np.stack([j[keep], i[keep]])).long()


def run_reference(script, model, inputs):
    """The reference's outputs by turnkey's output names."""
    named = {n: torch.from_numpy(np.array(v)) for n, v in inputs}
    with torch.no_grad():
        if "/torchvision/" in script:
            return {"output": model(named["input"])}
        if "/graph_convolutions/" in script:
            return {"output": model(named["x"], edge_index(named["adj"].numpy()))}
        if "/diffusers/" in script and "text_encoder" in script:
            out = model(input_ids=named["input_ids"])
            if hasattr(out, "text_embeds"):
                return {"text_embeds": out.text_embeds, "last_hidden_state": out.last_hidden_state}
            return {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output}
        if "/diffusers/" in script and "_vae" in script:
            (x,) = named.values()
            out = model(x)
            return {"output": getattr(out, "sample", out)}
        if "/diffusers/" in script:
            out = model(named["sample"], named["timestep"], encoder_hidden_states=named["encoder_hidden_states"])
            return {"output": out.sample}
        if "/llm/" in script:  # models/llm/ and tests/data/llm/
            kw = {"input_ids": named["input_ids"]}
            if "attention_mask" in named:
                kw["attention_mask"] = named["attention_mask"]
            return {"output": model(**kw).logits}
        if script.endswith("t5_small.rhai"):
            out = model(input_ids=named["input_ids"], decoder_input_ids=named["decoder_input_ids"])
            return {"output": out.logits}
        if "gpt2" in script:
            return {"output": model(input_ids=named["input_ids"]).logits}
        if "whisper" in script:
            return {"output": model(named["input_features"]).last_hidden_state}
        out = model(input_ids=named["input_ids"])
        res = {"last_hidden_state": out.last_hidden_state}
        if getattr(out, "pooler_output", None) is not None:
            res["pooler_output"] = out.pooler_output
        if len(res) == 1:
            return {"output": res["last_hidden_state"]}
        return res


def fresh(script, name, shape, gen):
    """Random values for one weight: norm scales and variances near 1,
    biases and means small; kernels ~ 1/sqrt(fan-in) in the vision and
    graph models (activations stay near 1), matrices normal(0, 0.02) in the
    transformers as HF initializes them (larger ones make a deep post-norm
    stack's tokens all alike, and then attention weights show in nothing)."""
    shape = list(shape)
    if name.endswith("running_var") or (len(shape) == 1 and name.endswith("weight")):
        return 0.5 + torch.rand(shape, generator=gen)
    if len(shape) <= 1:
        return 0.1 * torch.randn(shape, generator=gen)
    if "/transformers/" in script:
        return 0.02 * torch.randn(shape, generator=gen)
    fan_in = max(1, int(np.prod(shape[1:])))
    return torch.randn(shape, generator=gen) / fan_in ** 0.5


def check(script, args, make, scratch):
    gen = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory(dir=scratch) as cache:
        b = build(script, args, Path(cache))
        proto = onnx.load(b / "model.onnx")
        # The traced graph names its parameters; other initializers are constants.
        params = {p["name"] for p in json.loads((b / "model.graph.json").read_text())["params"]}
        weights = {}
        for t in proto.graph.initializer:
            if t.name in params:
                w = fresh(script, t.name, t.dims, gen)
                weights[t.name] = w
                t.CopyFrom(numpy_helper.from_array(w.numpy().astype(np.float32), t.name))
        if len(weights) != len(params):
            return f"model.onnx holds {len(weights)} of the graph's {len(params)} parameters"
        inputs = pad(read_pbs(b / "inputs", "input"))
    keep = dict(inputs).get("attention_mask")
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = list(zip(names, session.run(None, dict(inputs))))
    del proto, session
    model = make().eval()
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set()
    seen = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            tied.add(name)
        seen.setdefault(id(t), name)
    missing = [m for m in missing if m not in tied and not m.endswith(COMPUTED_BUFFERS)]
    if missing or unexpected:
        return f"state_dict: missing {missing[:5]}, unexpected {unexpected[:5]}"
    if "roberta" in script and any((v == 1).any() for _, v in inputs):
        return "skipped: the random ids hold RoBERTa's padding id 1"
    ref = run_reference(script, model, inputs)
    worst = []
    for name, got in outputs:
        want = ref[name].float().numpy()
        if want.shape != got.shape:
            return f"{name}: shape {list(got.shape)} vs the reference's {list(want.shape)}"
        if keep is not None:
            # Logits of padding tokens are not defined alike: real tokens only.
            want, got = want[keep == 1], got[keep == 1]
        scale = float(np.abs(want).max())
        diff = float(np.abs(want - got).max())
        worst.append((diff / max(scale, 1e-30), diff, scale, float(want.std()), name))
    rel, diff, scale, std, name = max(worst)
    verdict = "ok" if rel <= 2e-5 else "DIFFERS"
    return (f"{verdict}: max |ort - reference| {diff:.2e}, {rel:.1e} of the largest output "
            f"{scale:.3g} (std {std:.3g}, {name})")


def main():
    if not TURNKEY.exists():
        sys.exit(f"{TURNKEY} is missing: run cargo build --release first")
    table = constructors()
    scripts = sys.argv[1:] or sorted(table)
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    bad = 0
    for script in scripts:
        if script not in table:
            print(f"{script}: not checked (no runnable reference: the U-Net; too large: the SD 1.5 UNet)")
            continue
        args, make = table[script]
        verdict = check(script, args, make, scratch)
        bad += not (verdict.startswith("ok") or verdict.startswith("skipped"))
        print(f"{script:<48} {verdict}", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
