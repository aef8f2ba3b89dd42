#!/usr/bin/env python3
"""Writes tests/data/reference_state_dicts.json: for each zoo script, the
parameter and buffer names and shapes of the reference implementation
(torchvision, transformers, torch_geometric, milesial/Pytorch-UNet) built
with that script's configuration, in state_dict() order, tied weights once
(under their first name, as named_parameters() and torch.onnx keep them).
tests/zoo.rs compares every zoo build's ONNX initializers with this table.

Run it in the reference venv (scripts/setup_reference.sh makes it):
    python=$(scripts/setup_reference.sh) && $python scripts/reference_names.py
Models are built on the meta device: no weights are allocated.
"""

import json
import sys
from pathlib import Path

import torch
import torch_geometric
import torchvision
import transformers
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "reference_state_dicts.json"

# The torchvision builder each vision script mirrors (same name, defaults).
TORCHVISION = [
    "alexnet", "convnext_tiny", "densenet121", "densenet169", "densenet201",
    "efficientnet_b0", "efficientnet_b1", "mobilenet_v2", "mobilenet_v3_large",
    "mobilenet_v3_small", "resnet101", "resnet18", "resnet34", "resnet50",
    "resnext50_32x4d", "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg16",
    "vit_b_16", "wide_resnet50_2",
]


def unet(n_channels, n_classes):
    """milesial/Pytorch-UNet's UNet(n_channels, n_classes, bilinear=False)
    (unet/unet_model.py and unet/unet_parts.py at 21d7850): not on PyPI, so
    its module tree is restated here, attribute for attribute; only the
    names and shapes matter, so there is no forward."""

    def double_conv(cin, cout):
        m = nn.Module()
        m.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        )
        return m

    def down(cin, cout):
        m = nn.Module()
        m.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), double_conv(cin, cout))
        return m

    def up(cin, cout):
        m = nn.Module()
        m.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        m.conv = double_conv(cin, cout)
        return m

    m = nn.Module()
    m.inc = double_conv(n_channels, 64)
    m.down1, m.down2, m.down3, m.down4 = down(64, 128), down(128, 256), down(256, 512), down(512, 1024)
    m.up1, m.up2, m.up3, m.up4 = up(1024, 512), up(512, 256), up(256, 128), up(128, 64)
    m.outc = nn.Module()
    m.outc.conv = nn.Conv2d(64, n_classes, 1)
    return m


def transformers_models():
    t = transformers
    bert_large = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    roberta = dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                   layer_norm_eps=1e-5, pad_token_id=1)
    whisper_tiny = dict(d_model=384, encoder_layers=4, encoder_attention_heads=6,
                        encoder_ffn_dim=1536, num_mel_bins=80, max_source_positions=1500)
    from transformers.models.whisper.modeling_whisper import WhisperEncoder
    return {
        "transformers/bert": ("BertModel(BertConfig())", lambda: t.BertModel(t.BertConfig())),
        "transformers/bert_large": (f"BertModel(BertConfig(**{bert_large}))",
                                    lambda: t.BertModel(t.BertConfig(**bert_large))),
        "transformers/roberta_base": (f"RobertaModel(RobertaConfig(**{roberta}))",
                                      lambda: t.RobertaModel(t.RobertaConfig(**roberta))),
        "transformers/distilbert": ("DistilBertModel(DistilBertConfig())",
                                    lambda: t.DistilBertModel(t.DistilBertConfig())),
        "transformers/gpt2": ("GPT2LMHeadModel(GPT2Config())", lambda: t.GPT2LMHeadModel(t.GPT2Config())),
        "transformers/distilgpt2": ("GPT2LMHeadModel(GPT2Config(n_layer=6))",
                                    lambda: t.GPT2LMHeadModel(t.GPT2Config(n_layer=6))),
        "transformers/t5_small": ("T5ForConditionalGeneration(T5Config())",
                                  lambda: t.T5ForConditionalGeneration(t.T5Config())),
        "transformers/whisper_tiny_encoder": (f"WhisperEncoder(WhisperConfig(**{whisper_tiny}))",
                                              lambda: WhisperEncoder(t.WhisperConfig(**whisper_tiny))),
    }


def gnn_models():
    from torch_geometric.nn.models import GAT, GCN, GraphSAGE
    return {
        "gnn/gcn": ("GCN(1433, 16, num_layers=2, out_channels=7)", lambda: GCN(1433, 16, 2, 7)),
        "gnn/graph_sage": ("GraphSAGE(1433, 16, num_layers=2, out_channels=7)",
                           lambda: GraphSAGE(1433, 16, 2, 7)),
        # Velickovic et al.'s Cora model (as gnn::gat builds it): 8 concatenated
        # heads, ELU, then one averaged output head; PyG's GAT class gives every
        # layer the same heads, so its output conv is replaced by that one.
        "gnn/gat": ("GAT(1433, 64, num_layers=2, out_channels=7, heads=8, act='elu') with "
                    "convs[1] = GATConv(64, 7, heads=1, concat=False)", gat),
    }


def gat():
    from torch_geometric.nn import GATConv
    from torch_geometric.nn.models import GAT
    m = GAT(1433, 64, 2, 7, heads=8, act="elu")
    m.convs[1] = GATConv(64, 7, heads=1, concat=False)
    return m


def entry(source, make):
    with torch.device("meta"):
        model = make()
    params = {id(p) for p in model.parameters()}
    seen = set()
    out = {"source": source, "parameters": [], "buffers": [], "tied": []}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            out["tied"].append(name)
            continue
        seen.add(id(t))
        kind = "parameters" if id(t) in params else "buffers"
        out[kind].append([name, list(t.shape)])
    out["num_parameters"] = sum(
        p.numel() for p in model.parameters())
    return out


def main():
    models = {}
    for name in TORCHVISION:
        models[f"vision/{name}"] = (f"torchvision.models.{name}()",
                                    lambda name=name: torchvision.models.get_model(name, weights=None))
    models["vision/unet"] = ("milesial/Pytorch-UNet UNet(3, 2) (module tree restated)", lambda: unet(3, 2))
    models.update(transformers_models())
    models.update(gnn_models())
    table = {
        "generated_by": "scripts/reference_names.py",
        "versions": {
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "torch_geometric": torch_geometric.__version__,
        },
        "models": {f"models/{k}.rhai": entry(*v) for k, v in sorted(models.items())},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One [name, shape] pair per line: readable diffs when a reference changes.
    lines = ["{"]
    lines.append(f'  "generated_by": {json.dumps(table["generated_by"])},')
    lines.append(f'  "versions": {json.dumps(table["versions"])},')
    lines.append('  "models": {')
    items = list(table["models"].items())
    for i, (script, e) in enumerate(items):
        lines.append(f"    {json.dumps(script)}: {{")
        lines.append(f'      "source": {json.dumps(e["source"])},')
        lines.append(f'      "num_parameters": {e["num_parameters"]},')
        lines.append(f'      "tied": {json.dumps(e["tied"])},')
        for kind in ("parameters", "buffers"):
            rows = [f"        {json.dumps(r)}" for r in e[kind]]
            end = "," if kind == "parameters" else ""
            lines.append(f'      "{kind}": [' + ("\n" + ",\n".join(rows) + "\n      " if rows else "") + f"]{end}")
        lines.append("    }" + ("," if i + 1 < len(items) else ""))
    lines.append("  }")
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")
    json.loads(OUT.read_text())  # the file must stay valid JSON
    print(f"wrote {OUT.relative_to(ROOT)}: {len(items)} models", file=sys.stderr)


if __name__ == "__main__":
    main()
