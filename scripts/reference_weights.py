#!/usr/bin/env python3
"""Writes the equivalence fixtures: for every case of CASES, a small
configuration of a stdlib architecture built in its reference library
(torchvision, transformers, diffusers, torch_geometric, timm; pytorch/examples' LSTM LM as
scripts/reference/recurrent_models.py rebuilds it) with a fixed-seed random
initialization, its weights as a safetensors checkpoint, fixed inputs, and
the reference's outputs on them. tests/equivalence.rs loads each checkpoint
into the matching stdlib builder through turnkey's loader, runs it on ort
and tract, and compares (atol 1e-4, rtol 1e-3; for LMs also the argmax
tokens).

    python=$(scripts/setup_reference.sh) && $python scripts/reference_weights.py [OUT] [CASE ...]

OUT defaults to .cache/equivalence (scripts/setup_equivalence.sh calls
this). Each case folder holds:

    <case>.rhai           the turnkey script: builder, load, inputs, forward
    model.safetensors     the checkpoint (or shards + model.safetensors.index.json)
    inputs.safetensors    the inputs, by the script's names
    outputs.safetensors   the reference outputs, by turnkey's output names
    case.json             what the test needs: outputs, lm, params, reference

Adding an architecture is one entry of CASES. The checkpoints come in the
layouts real ones have, spread over the cases: torchvision state_dicts
(with BatchNorm's num_batches_tracked), Hugging Face save_pretrained
folders (tied weights saved once), a checkpoint under a head's prefix with
legacy LayerNorm gamma/beta names (BERT), a base model's checkpoint for the
LM-head model (GPT-2), a deep prefix (Whisper's model.encoder.), shards
with an index (RoBERTa), a repo in a Hugging Face cache layout (DistilBERT),
and bfloat16 and float16 weights (converted on load; the reference runs on
the same rounded values in float32).

Weights: every floating tensor of the state_dict (buffers included, so
BatchNorm's running statistics count) is redrawn from a seeded generator:
norm scales and variances in [0.5, 1.5), other vectors normal(0, 0.1),
matrices and kernels normal(0, 1/fan_in). Library defaults would hide
misplaced weights (zero biases, unit variances, layer scales of 1e-6).
"""

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import safetensors.torch
import torch
import torch_geometric
import torchvision
import transformers

ROOT = Path(__file__).resolve().parent.parent
BATCH = 2
SEQ = 12
IMAGE = 32
NODES = 12


@dataclass
class Case:
    name: str
    reference: str  # how the reference model is made, for case.json
    make: Callable  # () -> (reference model, checkpoint writer(dir))
    builder: str  # the stdlib call; WEIGHTS marks where its weights option goes
    inputs: Callable  # generator -> {name: tensor}
    forward: str  # the script's call, `x` holding the inputs
    call: Callable  # (model, inputs) -> {turnkey output name: tensor}
    lm: bool = False
    load: str = "option"  # option | method | hub
    prelude: str = ""  # script lines before the builder (a model the stdlib has no builder for)
    lm_output: str = ""  # the output whose argmax tokens must agree (default: every output)
    dtype: torch.dtype = torch.float32  # how the checkpoint stores floats
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------- weights


def fresh(name, shape, gen):
    shape = list(shape)
    last = name.rsplit(".", 1)[-1]
    if last in ("running_var", "gamma") or (len(shape) == 1 and last == "weight") or "layer_scale" in name:
        return 0.5 + torch.rand(shape, generator=gen)
    if len(shape) <= 1:
        return 0.1 * torch.randn(shape, generator=gen)
    fan_in = max(1, int(np.prod(shape[1:])))
    return torch.randn(shape, generator=gen) / fan_in**0.5


# Float buffers computed from the geometry (Swin V2's log-spaced
# coordinates): the model's constants, not weights; turnkey computes them.
DERIVED = ("relative_coords_table",)


def randomize(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if t.dtype.is_floating_point and not name.endswith(DERIVED):
                t.copy_(fresh(name, t.shape, gen))
    return model


def rounded(model, dtype):
    """The model with its floats rounded to `dtype` and back (what a
    checkpoint in that dtype gives turnkey)."""
    if dtype != torch.float32:
        with torch.no_grad():
            for t in model.state_dict(keep_vars=True).values():
                if t.dtype.is_floating_point:
                    t.copy_(t.to(dtype).to(torch.float32))
    return model


def cast_file(path, dtype):
    tensors = safetensors.torch.load_file(path)
    tensors = {k: (v.to(dtype) if v.dtype.is_floating_point else v) for k, v in tensors.items()}
    safetensors.torch.save_file(tensors, path)


def save_state_dict(model, dtype=torch.float32, prefix=""):
    """A writer of model.safetensors as torch's state_dict holds it (shared
    tensors once, as safetensors.torch.save_model keeps them)."""

    def write(folder):
        sd = {prefix + k: v for k, v in model.state_dict().items()}
        seen, out = {}, {}
        for k, v in sd.items():
            key = (v.data_ptr(), v.dtype, tuple(v.shape))
            if key in seen:
                continue
            seen[key] = k
            out[k] = (v.to(dtype) if v.dtype.is_floating_point else v).contiguous()
        safetensors.torch.save_file(out, folder / "model.safetensors")

    return write


def save_pretrained(model, dtype=torch.float32, shard=None, rename=None):
    """A writer of a Hugging Face save_pretrained folder: model.safetensors,
    or shards and their index; `rename` maps keys (legacy names)."""

    def write(folder):
        tmp = folder / "hf"
        kw = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(tmp, safe_serialization=True, **kw)
        for f in tmp.iterdir():
            if f.suffix == ".safetensors":
                if dtype != torch.float32:
                    cast_file(f, dtype)
                if rename:
                    tensors = safetensors.torch.load_file(f)
                    safetensors.torch.save_file({rename(k): v for k, v in tensors.items()}, f)
            if f.name.endswith(".index.json") and rename:
                index = json.loads(f.read_text())
                index["weight_map"] = {rename(k): v for k, v in index["weight_map"].items()}
                f.write_text(json.dumps(index, indent=2))
            if f.suffix in (".safetensors", ".json") and f.name != "config.json" and f.name != "generation_config.json":
                shutil.move(str(f), folder / f.name)
        shutil.rmtree(tmp)

    return write


def legacy_layer_norm(k):
    """Old Hugging Face checkpoints (bert-base-uncased) name LayerNorm's
    weight and bias gamma and beta."""
    if ".LayerNorm." in k:
        return k.replace(".LayerNorm.weight", ".LayerNorm.gamma").replace(".LayerNorm.bias", ".LayerNorm.beta")
    return k


# ---------------------------------------------------------------- inputs


def image(channels=3, size=IMAGE):
    return lambda g: {"input": torch.randn(BATCH, channels, size, size, generator=g)}


def tokens(vocab, low=0, names=("input_ids",)):
    return lambda g: {n: torch.randint(low, vocab, (BATCH, SEQ), generator=g) for n in names}


def graph(channels, norm):
    """Node features and a random directed graph, with the dense adjacency
    turnkey's gnn layers take (norm: gcn, mean, mask or sum) beside the edge list
    PyG takes (as int64, an input the script does not pass)."""

    def make(g):
        x = torch.randn(NODES, channels, generator=g)
        a = (torch.rand(NODES, NODES, generator=g) < 0.3).float()
        a.fill_diagonal_(0)  # a[i, j] = 1: an edge j -> i
        target, source = a.nonzero(as_tuple=True)
        edges = torch.stack([source, target])
        if norm == "gcn":  # D^-1/2 (A + I) D^-1/2, degrees counted at the target
            s = a + torch.eye(NODES)
            d = s.sum(1).pow(-0.5)
            adj = d[:, None] * s * d[None, :]
        elif norm == "mean":
            deg = a.sum(1, keepdim=True)
            adj = torch.where(deg > 0, a / deg.clamp(min=1), a)
        elif norm == "sum":  # the 0/1 matrix without self-loops (GIN's sum aggregation)
            adj = a
        else:
            adj = a + torch.eye(NODES)
        return {"x": x, "adj": adj, "edge_index": edges}

    return make


# ---------------------------------------------------------------- cases


def tv(make, dtype=torch.float32):
    def build():
        m = randomize(make(), 0).eval()
        return rounded(m, dtype), save_state_dict(m, dtype)

    return build


def vision_call(model, x):
    return {"output": model(x["input"])}


def vision(name, reference, make, builder, dtype=torch.float32, inputs=None, load="option"):
    return Case(name, reference, tv(make, dtype), builder, inputs or image(), "model.forward(x.input)",
                vision_call, dtype=dtype, load=load)


def hf(make, writer, dtype=torch.float32, base=None, **kw):
    """A transformers model; `base` picks the part the checkpoint is of
    (the reference outputs come from the whole)."""

    def build():
        m = randomize(make(), 0).eval()
        saved = base(m) if base else m
        w = writer(saved, dtype=dtype, **kw)
        return rounded(m, dtype), w

    return build


def pyg(make):
    def build():
        m = randomize(make(), 0).eval()
        return m, save_state_dict(m)

    return build


def gnn_call(model, x):
    return {"output": model(x["x"], x["edge_index"])}


def cases():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    from torchvision.models.densenet import DenseNet
    from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
    from torchvision.models.vision_transformer import VisionTransformer
    from torch_geometric.nn import GATConv
    from torch_geometric.nn.models import GAT, GCN, GraphSAGE
    t = transformers
    from transformers.models.whisper.modeling_whisper import WhisperEncoder  # noqa: F401
    sys.path.insert(0, str(ROOT / "scripts" / "reference"))
    from recurrent_models import RNNModel  # the zoo's LSTM LM (pytorch/examples word_language_model)

    lstm = dict(ntoken=99, ninp=16, nhid=24, nlayers=2)
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2
    swin = dict(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4])
    decoder = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    import diffusers
    unet = dict(block_out_channels=[16, 32], layers_per_block=1,
                down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8)

    def unet_inputs(g):
        return {"sample": torch.randn(BATCH, 4, 8, 8, generator=g),
                "timestep": torch.randint(0, 1000, (BATCH,), generator=g),
                "encoder_hidden_states": torch.randn(BATCH, 7, 16, generator=g)}

    def unet_call(m, x):
        return {"output": m(x["sample"], x["timestep"], x["encoder_hidden_states"]).sample}

    llms = [("llama", "llama", t.LlamaForCausalLM, t.LlamaConfig, {}),
            ("llama_tied", "llama", t.LlamaForCausalLM, t.LlamaConfig, dict(tie_word_embeddings=True)),
            ("qwen2", "qwen2", t.Qwen2ForCausalLM, t.Qwen2Config, {}),
            ("mistral", "mistral", t.MistralForCausalLM, t.MistralConfig, dict(sliding_window=8))]
    # The decoder families of stdlib/transformers_<family>.rhai, each at a
    # tiny size of its own config class (what sets the family apart on).
    small = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=64)
    decoders = [
        ("phi", t.PhiForCausalLM, t.PhiConfig, dict(small, intermediate_size=37, partial_rotary_factor=0.5)),
        ("phi3", t.Phi3ForCausalLM, t.Phi3Config, dict(small, intermediate_size=37, num_key_value_heads=2,
                                                        sliding_window=8, pad_token_id=0)),
        ("gemma", t.GemmaForCausalLM, t.GemmaConfig, dict(small, intermediate_size=37, num_key_value_heads=2,
                                                           head_dim=16)),
        ("gemma2", t.Gemma2ForCausalLM, t.Gemma2Config, dict(small, intermediate_size=37, num_key_value_heads=2,
                                                              head_dim=16, sliding_window=8, query_pre_attn_scalar=12,
                                                              attn_logit_softcapping=5.0)),
        ("gpt_neox", t.GPTNeoXForCausalLM, t.GPTNeoXConfig, dict(small, intermediate_size=37)),
        ("opt", t.OPTForCausalLM, t.OPTConfig, dict(small, ffn_dim=37)),
        ("falcon", t.FalconForCausalLM, t.FalconConfig, dict(small)),
    ]
    # Not Mixtral: save_pretrained writes its experts one tensor each
    # (block_sparse_moe.experts.0.w1.weight, as the hub's checkpoints hold
    # them), which transformers::mixtral's fused expert tensors do not load.

    def lstm_call(m, x):
        # word_language_model RNNModel.forward (dropout is identity in eval).
        out, (h, c) = m.rnn(m.encoder(x["input"]), (x["h0"], x["c0"]))
        decoded = m.decoder(out).view(-1, lstm["ntoken"])
        return {"output_0": torch.log_softmax(decoded, dim=1), "output_1": h, "output_2": c}

    def lstm_inputs(g):
        state = (lstm["nlayers"], BATCH, lstm["nhid"])
        return {"input": torch.randint(0, lstm["ntoken"], (SEQ, BATCH), generator=g),
                "h0": torch.randn(*state, generator=g), "c0": torch.randn(*state, generator=g)}

    def efficientnet():
        setting, last = _efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
        return EfficientNet(setting, 0.2, last_channel=last, num_classes=10)

    def gat():
        m = GAT(16, 8, 2, 3, heads=2, act="elu")
        m.convs[1] = GATConv(8, 3, heads=1, concat=False)
        return m

    bert = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37, max_position_embeddings=64)
    roberta = dict(bert, max_position_embeddings=40, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1)
    distilbert = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)
    gpt2 = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
    t5 = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2, num_heads=4,
              relative_attention_num_buckets=8, relative_attention_max_distance=16)
    whisper = dict(d_model=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=37,
                   num_mel_bins=16, max_source_positions=30)
    whisper_full = dict(whisper, decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=37,
                        vocab_size=99, max_target_positions=20, pad_token_id=0, bos_token_id=1,
                        eos_token_id=2, decoder_start_token_id=1)

    def rhai_value(v):
        if isinstance(v, float):
            return format(v, ".12f").rstrip("0")  # Rhai reads 0.00001, not 1e-05
        return json.dumps(v)

    def rhai_map(d):
        return "#{ " + ", ".join(f"{k}: {rhai_value(v)}" for k, v in d.items()) + ", WEIGHTS }"

    def bert_out(m, x):
        o = m(input_ids=x["input_ids"])
        return {"last_hidden_state": o.last_hidden_state, "pooler_output": o.pooler_output}

    def hidden(m, x):
        return {"output": m(input_ids=x["input_ids"]).last_hidden_state}

    def logits(m, x):
        return {"output": m(input_ids=x["input_ids"]).logits}

    return [
        vision("resnet_basic", "torchvision ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)",
               lambda: ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10),
               'vision::resnet("basic", [1, 1, 1, 1], #{ num_classes: 10, WEIGHTS })'),
        vision("resnext_bottleneck",
               "torchvision ResNet(Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=8, num_classes=10), float16 checkpoint",
               lambda: ResNet(Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=8, num_classes=10),
               'vision::resnet("bottleneck", [1, 1, 1, 1], #{ groups: 4, width_per_group: 8, num_classes: 10, WEIGHTS })',
               dtype=torch.float16),
        vision("mobilenet_v2", "torchvision mobilenet_v2(width_mult=0.5, num_classes=10)",
               lambda: torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10),
               "vision::mobilenet_v2(#{ width_mult: 0.5, num_classes: 10, WEIGHTS })"),
        vision("mobilenet_v3_small", "torchvision mobilenet_v3_small(width_mult=0.5, num_classes=10), loaded with model.load_weights",
               lambda: torchvision.models.mobilenet_v3_small(width_mult=0.5, num_classes=10),
               'vision::mobilenet_v3("small", #{ width_mult: 0.5, num_classes: 10 })', load="method"),
        vision("mobilenet_v3_large", "torchvision mobilenet_v3_large(width_mult=0.25, num_classes=10)",
               lambda: torchvision.models.mobilenet_v3_large(width_mult=0.25, num_classes=10),
               'vision::mobilenet_v3("large", #{ width_mult: 0.25, num_classes: 10, WEIGHTS })'),
        vision("efficientnet", "torchvision EfficientNet(efficientnet_b0 conf, width_mult=0.25, depth_mult=0.25, num_classes=10)",
               efficientnet, "vision::efficientnet(0.25, 0.25, #{ num_classes: 10, WEIGHTS })"),
        vision("convnext", "torchvision ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10), bfloat16 checkpoint",
               lambda: ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10),
               "vision::convnext([[16, 32, 1], [32, (), 1]], #{ num_classes: 10, WEIGHTS })", dtype=torch.bfloat16),
        vision("vit", "torchvision VisionTransformer(32, 8, 2, 2, 32, 64, num_classes=10)",
               lambda: VisionTransformer(IMAGE, 8, 2, 2, 32, 64, num_classes=10),
               "vision::vision_transformer(32, 8, 2, 2, 32, 64, #{ num_classes: 10, WEIGHTS })"),
        vision("densenet", "torchvision DenseNet(8, (2, 2), 16, bn_size=2, num_classes=10)",
               lambda: DenseNet(8, (2, 2), 16, bn_size=2, num_classes=10),
               "vision::densenet(8, [2, 2], 16, #{ bn_size: 2, num_classes: 10, WEIGHTS })"),
        vision("squeezenet", "torchvision squeezenet1_1(num_classes=10)",
               lambda: torchvision.models.squeezenet1_1(num_classes=10),
               'vision::squeezenet("1_1", #{ num_classes: 10, WEIGHTS })', inputs=image(size=64)),
        Case("bert", f"transformers BertModel(BertConfig({bert})) saved as BertForPreTraining "
             "(keys under bert., cls. heads beside) with legacy LayerNorm gamma/beta names",
             hf(lambda: t.BertForPreTraining(t.BertConfig(**bert)), save_pretrained, rename=legacy_layer_norm),
             "transformers::bert(" + rhai_map(bert) + ")",
             tokens(99), "model.forward(#{ input_ids: x.input_ids })",
             lambda m, x: bert_out(m.bert, x), load="method"),
        Case("roberta", f"transformers RobertaModel(RobertaConfig({roberta})), sharded (40 KB shards + index)",
             hf(lambda: t.RobertaModel(t.RobertaConfig(**roberta)), save_pretrained, shard="40KB"),
             "transformers::roberta(" + rhai_map(roberta) + ")",
             tokens(99, low=2), "model.forward(#{ input_ids: x.input_ids })", bert_out),
        Case("distilbert", f"transformers DistilBertModel(DistilBertConfig({distilbert})), from a Hugging Face cache folder",
             hf(lambda: t.DistilBertModel(t.DistilBertConfig(**distilbert)), save_pretrained),
             "transformers::distilbert(" + rhai_map(distilbert) + ")",
             tokens(99), "model.forward(#{ input_ids: x.input_ids })", hidden, load="hub"),
        Case("gpt2", f"transformers GPT2LMHeadModel(GPT2Config({gpt2})); the checkpoint is its GPT2Model "
             "(no transformer. prefix, no lm_head), in bfloat16",
             hf(lambda: t.GPT2LMHeadModel(t.GPT2Config(**gpt2)), save_pretrained, dtype=torch.bfloat16,
                base=lambda m: m.transformer),
             "transformers::gpt2(" + rhai_map(gpt2) + ")",
             tokens(99), "model.forward(#{ input_ids: x.input_ids })", logits, lm=True, dtype=torch.bfloat16),
        Case("t5", f"transformers T5ForConditionalGeneration(T5Config({t5}, feed_forward_proj='relu'))",
             hf(lambda: t.T5ForConditionalGeneration(t.T5Config(**t5, feed_forward_proj="relu", decoder_start_token_id=0)),
                save_pretrained),
             "transformers::t5(" + rhai_map(t5) + ")",
             tokens(99, names=("input_ids", "decoder_input_ids")),
             "model.forward(#{ input_ids: x.input_ids, decoder_input_ids: x.decoder_input_ids })",
             lambda m, x: {"output": m(input_ids=x["input_ids"], decoder_input_ids=x["decoder_input_ids"]).logits},
             lm=True),
        Case("whisper_encoder", f"transformers WhisperForConditionalGeneration(WhisperConfig({whisper_full}))'s "
             "encoder; the checkpoint is the whole model (keys under model.encoder., decoder beside)",
             hf(lambda: t.WhisperForConditionalGeneration(t.WhisperConfig(**whisper_full)), save_pretrained),
             "transformers::whisper_encoder(" + rhai_map(whisper) + ")",
             lambda g: {"input_features": torch.randn(BATCH, 16, 60, generator=g)},
             "model.forward(#{ input_features: x.input_features })",
             lambda m, x: {"output": m.model.encoder(x["input_features"]).last_hidden_state}),
        vision("swin", f"torchvision SwinTransformer({swin}, num_classes=10)",
               lambda: SwinTransformer(**swin, stochastic_depth_prob=0.0, num_classes=10),
               "vision::swin_transformer(" + rhai_map(dict(swin, num_classes=10)) + ")"),
        vision("swin_v2", f"torchvision SwinTransformer({swin}, num_classes=10) with SwinTransformerBlockV2 "
               "and PatchMergingV2 (Swin V2)",
               lambda: SwinTransformer(**swin, stochastic_depth_prob=0.0, num_classes=10,
                                       block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2),
               "vision::swin_transformer(" + rhai_map(dict(swin, num_classes=10, version=2)) + ")"),
        *[Case(name, f"transformers {model.__name__}({conf.__name__}({dict(decoder, **extra)}))",
               hf(lambda model=model, conf=conf, extra=extra: model(conf(**decoder, **extra)), save_pretrained),
               "transformers::llama(" + rhai_map(dict(decoder, model_type=kind, **extra)) + ")",
               tokens(99), "model.forward(#{ input_ids: x.input_ids })", logits, lm=True)
          for name, kind, model, conf, extra in llms],
        Case("sd_unet", f"diffusers UNet2DConditionModel({unet}) (the SD UNet's blocks at a tiny size)",
             pyg(lambda: diffusers.UNet2DConditionModel(sample_size=8, **unet)),
             "diffusers::unet_2d_condition(" + rhai_map(unet) + ")", unet_inputs,
             "model.forward(#{ sample: x.sample, timestep: x.timestep, encoder_hidden_states: x.encoder_hidden_states })",
             unet_call, load="method"),
        Case("lstm_lm", f"pytorch/examples word_language_model RNNModel('LSTM', {lstm['ntoken']}, {lstm['ninp']}, "
             f"{lstm['nhid']}, {lstm['nlayers']}) as models/recurrent/lstm_lm_ptb_medium.rhai builds it, "
             "with non-zero initial states",
             pyg(lambda: RNNModel(**lstm)),
             'nn::module("RNNModel", |inputs| {\n'
             "    let out = rnn.forward(#{ input: encoder.forward(inputs.input), h0: inputs.h0, c0: inputs.c0 });\n"
             f"    [log_softmax(decoder.forward(out[0]).reshape([-1, {lstm['ntoken']}]), 1), out[1], out[2]]\n"
             "})",
             lstm_inputs, "model.forward(#{ input: x.input, h0: x.h0, c0: x.c0 })", lstm_call,
             lm=True, load="method", lm_output="output_0",
             prelude=(f"let encoder = nn::embedding({lstm['ntoken']}, {lstm['ninp']});\n"
                      f"let rnn = nn::lstm({lstm['ninp']}, {lstm['nhid']}, #{{ num_layers: {lstm['nlayers']} }});\n"
                      f"let decoder = nn::linear({lstm['nhid']}, {lstm['ntoken']});\n")),
        Case("gcn", "torch_geometric GCN(16, 8, num_layers=2, out_channels=4)", pyg(lambda: GCN(16, 8, 2, 4)),
             "gnn::gcn(16, 8, 4, #{ WEIGHTS })", graph(16, "gcn"), "model.forward(#{ x: x.x, adj: x.adj })", gnn_call),
        Case("graph_sage", "torch_geometric GraphSAGE(16, 8, num_layers=2, out_channels=4)",
             pyg(lambda: GraphSAGE(16, 8, 2, 4)),
             "gnn::graph_sage(16, 8, 4, #{ WEIGHTS })", graph(16, "mean"), "model.forward(#{ x: x.x, adj: x.adj })",
             gnn_call),
        Case("gat", "torch_geometric GAT(16, 8, num_layers=2, out_channels=3, heads=2, act='elu') with "
             "convs[1] = GATConv(8, 3, heads=1, concat=False)", pyg(gat),
             "gnn::gat(16, 4, 3, 2, #{ WEIGHTS })", graph(16, "mask"), "model.forward(#{ x: x.x, adj: x.adj })",
             gnn_call),
        *[Case(name, f"transformers {model.__name__}({conf.__name__}({cfg}))",
               hf(lambda model=model, conf=conf, cfg=cfg: model(conf(**cfg)), save_pretrained),
               f"transformers::{name}(" + rhai_map(cfg) + ")",
               tokens(99), "model.forward(#{ input_ids: x.input_ids })", logits, lm=True)
          for name, model, conf, cfg in decoders],
        *encoder_cases(rhai_map, bert_out, hidden, t5, whisper_full),
        *vision_zoo_cases(),
        *diffusion_cases(rhai_map),
        *detection_cases(rhai_map),
        *gin_cases(),
        *efficientformer_cases(),
        *timm_mobilevit_cases(),
        *timm_coatnet_cases(),
    ]


def gin_cases():
    """PyG's GIN: sum aggregation with (1 + eps) x_i; plain, and with
    BatchNorm in every MLP and between the convs and a trained eps."""
    from torch_geometric.nn.models import GIN

    def gin(name, kw, opts):
        args = "".join(f", {k}={v!r}" for k, v in kw.items())
        return Case(name, f"torch_geometric GIN(16, 8, num_layers=3, out_channels=4{args})",
                    pyg(lambda: GIN(16, 8, 3, 4, **kw)), f"gnn::gin(16, 8, 4, #{{ num_layers: 3, {opts}WEIGHTS }})",
                    graph(16, "sum"), "model.forward(#{ x: x.x, adj: x.adj })", gnn_call)

    def graphs(g):
        # BATCH graphs of one random structure: x [graphs, nodes, 7] and the
        # shared adjacency for turnkey; PyG's batched node list and edges.
        one = graph(7, "sum")(g)
        x = torch.randn(BATCH, NODES, 7, generator=g)
        edges = torch.cat([one["edge_index"] + i * NODES for i in range(BATCH)], 1)
        return {"x": x, "adj": one["adj"], "edge_index": edges}

    def tu_call(model, x):
        b, n, c = x["x"].shape
        batch = torch.arange(b).repeat_interleave(n)
        return {"output": model(x["x"].reshape(b * n, c), x["edge_index"], batch)}

    sys.path.insert(0, str(ROOT / "scripts" / "reference"))
    from gnn_models import GinTU

    return [gin("gin", {}, ""),
            gin("gin_batch_norm", dict(norm="batch_norm", train_eps=True), 'norm: "batch_norm", train_eps: true, '),
            Case("gin_tu", "torch_geometric examples/gin.py GIN(7, 8, 3, num_layers=3) on 2 graphs (global_add_pool)",
                 pyg(lambda: GinTU(7, 8, 3, 3)), "gnn::gin_graph_classifier(7, 8, 3, #{ num_layers: 3, WEIGHTS })",
                 graphs, "model.forward(#{ x: x.x, adj: x.adj })", tu_call)]


def efficientformer_cases():
    """timm's EfficientFormer and EfficientFormerV2. V1: pooling MetaBlock2d blocks, then (after the
    parameter-free Flat) attention MetaBlock1d blocks with attention biases
    on 7x7 tokens (so a 224x224 image); the checkpoint holds timm's int64
    attention_bias_idxs buffers, which the builder computes."""
    import timm

    return [
        vision("efficientformer", "timm EfficientFormer(depths=(1, 1, 1, 3), embed_dims=(8, 16, 24, 32), num_vit=2, "
               "num_classes=10)",
               lambda: timm.models.efficientformer.EfficientFormer(depths=(1, 1, 1, 3), embed_dims=(8, 16, 24, 32),
                                                                   num_vit=2, num_classes=10),
               "vision::timm_efficientformer(#{ depths: [1, 1, 1, 3], embed_dims: [8, 16, 24, 32], num_vit: 2, "
               "num_classes: 10, WEIGHTS })", inputs=image(size=224)),
        # V2 at 96x96: strided attention on 3x3 of stage 2's 6x6 grid (then
        # bilinear upsampling), attention downsampling from 6x6 to 3x3.
        vision("efficientformerv2", "timm EfficientFormerV2(depths=(1, 1, 3, 2), embed_dims=(8, 16, 24, 32), "
               "mlp_ratios=(2, 2, (2, 3, 4), (3, 2)), num_vit=2, img_size=96, num_classes=10)",
               lambda: timm.models.efficientformer_v2.EfficientFormerV2(
                   depths=(1, 1, 3, 2), embed_dims=(8, 16, 24, 32), mlp_ratios=(2, 2, (2, 3, 4), (3, 2)), num_vit=2,
                   img_size=96, num_classes=10),
               "vision::timm_efficientformerv2(#{ depths: [1, 1, 3, 2], embed_dims: [8, 16, 24, 32], "
               "mlp_ratios: [2, 2, [2, 3, 4], [3, 2]], num_vit: 2, img_size: 96, num_classes: 10, WEIGHTS })",
               inputs=image(size=96)),
    ]


def encoder_cases(rhai_map, bert_out, hidden, t5, whisper_full):
    """ELECTRA, ALBERT (two groups of two shared layers), DeBERTa-v3 (log
    buckets, shared key) and -v2 (own position projections, clamped plain
    relative positions, absolute positions too), Flan-T5's gated FFN
    (through transformers::from_config), wav2vec 2.0 and HuBERT, BART, Marian and the
    whole Whisper."""
    t = transformers
    electra = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   intermediate_size=37, max_position_embeddings=64)
    albert = dict(electra, num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2)
    flan_t5 = dict(t5, model_type="t5", feed_forward_proj="gated-gelu", tie_word_embeddings=False)
    bart = dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=20,
                pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2)
    seq2seq = ("input_ids", "decoder_input_ids")
    marian = dict(bart, activation_function="swish", scale_embedding=True, pad_token_id=98,
                  decoder_start_token_id=98, decoder_vocab_size=99)
    deberta_v3 = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                      max_position_embeddings=64, relative_attention=True, position_buckets=8,
                      max_relative_positions=16, pos_att_type="p2c|c2p", share_att_key=True,
                      norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0)
    deberta_v2 = dict(deberta_v3, position_buckets=-1, max_relative_positions=5, share_att_key=False,
                      norm_rel_ebd="none", position_biased_input=True, type_vocab_size=2, embedding_size=16)

    def seq2seq_logits(m, x):
        return {"output": m(input_ids=x["input_ids"], decoder_input_ids=x["decoder_input_ids"]).logits}

    def whisper_inputs(g):
        return {"input_features": torch.randn(BATCH, 16, 60, generator=g),
                "decoder_input_ids": torch.randint(0, 99, (BATCH, SEQ), generator=g)}

    config = {k: v for k, v in flan_t5.items() if k != "model_type"}
    wav2vec2 = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                    conv_dim=[16, 16], conv_kernel=[10, 3], conv_stride=[5, 2], num_conv_pos_embeddings=16,
                    num_conv_pos_embedding_groups=4, mask_time_prob=0.0)
    hubert = dict(wav2vec2, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)

    def no_mask(cfg):  # training-only: not a builder key
        return {k: v for k, v in cfg.items() if k != "mask_time_prob"}

    def audio(g):
        return {"input_values": torch.randn(BATCH, 400, generator=g)}

    def audio_hidden(m, x):
        return {"output": m(x["input_values"]).last_hidden_state}

    return [
        Case("electra", f"transformers ElectraModel(ElectraConfig({electra}))",
             hf(lambda: t.ElectraModel(t.ElectraConfig(**electra)), save_pretrained),
             "transformers::electra(" + rhai_map(electra) + ")",
             tokens(99), "model.forward(#{ input_ids: x.input_ids })", hidden),
        Case("albert", f"transformers AlbertModel(AlbertConfig({albert}))",
             hf(lambda: t.AlbertModel(t.AlbertConfig(**albert)), save_pretrained),
             "transformers::albert(" + rhai_map(albert) + ")",
             tokens(99), "model.forward(#{ input_ids: x.input_ids })", bert_out),
        *[Case(name, f"transformers DebertaV2Model(DebertaV2Config({cfg}))",
               hf(lambda cfg=cfg: t.DebertaV2Model(t.DebertaV2Config(**cfg)), save_pretrained),
               "transformers::deberta_v2(" + rhai_map(cfg) + ")",
               tokens(99), "model.forward(#{ input_ids: x.input_ids })", hidden)
          for name, cfg in [("deberta_v3", deberta_v3), ("deberta_v2", deberta_v2)]],
        Case("flan_t5", f"transformers T5ForConditionalGeneration(T5Config({config})) (T5 v1.1: gated GELU, "
             "no output rescaling), built by transformers::from_config",
             hf(lambda: t.T5ForConditionalGeneration(t.T5Config(**config, decoder_start_token_id=0)), save_pretrained),
             "transformers::from_config(" + rhai_map(flan_t5).replace(", WEIGHTS }", " }") + ", #{ WEIGHTS })",
             tokens(99, names=seq2seq),
             "model.forward(#{ input_ids: x.input_ids, decoder_input_ids: x.decoder_input_ids })",
             seq2seq_logits, lm=True),
        Case("bart", f"transformers BartForConditionalGeneration(BartConfig({bart})) (final_logits_bias redrawn too)",
             hf(lambda: t.BartForConditionalGeneration(t.BartConfig(**bart)), save_pretrained),
             "transformers::bart(" + rhai_map(bart) + ")",
             tokens(99, names=seq2seq),
             "model.forward(#{ input_ids: x.input_ids, decoder_input_ids: x.decoder_input_ids })",
             seq2seq_logits, lm=True),
        Case("wav2vec2", f"transformers Wav2Vec2Model(Wav2Vec2Config({wav2vec2})) (group norm, post-norm layers, "
             "the weight-norm parametrized position convolution)",
             hf(lambda: t.Wav2Vec2Model(t.Wav2Vec2Config(**wav2vec2)), save_pretrained),
             "transformers::wav2vec2(" + rhai_map(no_mask(wav2vec2)) + ")", audio,
             "model.forward(#{ input_values: x.input_values })", audio_hidden),
        Case("hubert", f"transformers HubertModel(HubertConfig({hubert})) (layer norms, conv biases, pre-norm layers)",
             hf(lambda: t.HubertModel(t.HubertConfig(**hubert)), save_pretrained),
             "transformers::hubert(" + rhai_map(no_mask(hubert)) + ")", audio,
             "model.forward(#{ input_values: x.input_values })", audio_hidden),
        Case("marian", f"transformers MarianMTModel(MarianConfig({marian})), its state_dict as hub checkpoints "
             "hold it (with the position tables, which save_pretrained leaves out; redrawn like every weight)",
             hf(lambda: t.MarianMTModel(t.MarianConfig(**marian)), save_state_dict),
             "transformers::marian(" + rhai_map(marian) + ")",
             tokens(99, names=seq2seq),
             "model.forward(#{ input_ids: x.input_ids, decoder_input_ids: x.decoder_input_ids })",
             seq2seq_logits, lm=True),
        Case("whisper", f"transformers WhisperForConditionalGeneration(WhisperConfig({whisper_full})): "
             "encoder, decoder and the tied output projection",
             hf(lambda: t.WhisperForConditionalGeneration(t.WhisperConfig(**whisper_full)), save_pretrained),
             "transformers::whisper(" + rhai_map(whisper_full) + ")", whisper_inputs,
             "model.forward(#{ input_features: x.input_features, decoder_input_ids: x.decoder_input_ids })",
             lambda m, x: {"output": m(input_features=x["input_features"],
                                       decoder_input_ids=x["decoder_input_ids"]).logits},
             lm=True),
    ]


def vision_zoo_cases():
    """RegNet, ShuffleNet V2, MNASNet, GoogLeNet and Inception v3 (their
    checkpoints hold the auxiliary heads), EfficientNetV2, MaxViT,
    LR-ASPP and DeepLabV3 (torchvision segmentation), timm's distilled
    DeiT, DeiT III (LayerScale, no_embed_class), BEiT (relative position
    bias with the class token's entries), ConvNeXt (both MLP forms) and
    LeViT (attention biases, subsampling attention, BatchNorm1d)."""
    from functools import partial

    import timm
    from torchvision.models.efficientnet import EfficientNet, FusedMBConvConfig, MBConvConfig
    from torchvision.models.maxvit import MaxVit
    from torchvision.models.regnet import BlockParams, RegNet
    from torchvision.models.shufflenetv2 import ShuffleNetV2
    from torchvision.models import segmentation

    def seg_call(model, x):
        return {"output": model(x["input"])["out"]}

    def efficientnet_v2():
        setting = [FusedMBConvConfig(1, 3, 1, 8, 8, 1), FusedMBConvConfig(4, 3, 2, 8, 16, 2),
                   MBConvConfig(4, 3, 2, 16, 24, 2, width_mult=1.0, depth_mult=1.0)]
        return EfficientNet(setting, 0.2, last_channel=64, num_classes=10, norm_layer=partial(torch.nn.BatchNorm2d, eps=1e-3))

    vit = dict(img_size=IMAGE, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)
    vit_rhai = "img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2, num_classes: 10"
    return [
        vision("regnet_y", "torchvision RegNet(BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, "
               "group_width=8, se_ratio=0.25), stem_width=8, num_classes=10)",
               lambda: RegNet(BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25),
                              stem_width=8, num_classes=10),
               "vision::regnet(#{ depth: 4, w_0: 8, w_a: 8.0, w_m: 2.0, group_width: 8, se_ratio: 0.25, stem_width: 8, "
               "num_classes: 10, WEIGHTS })"),
        vision("shufflenet_v2", "torchvision ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=10)",
               lambda: ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=10),
               "vision::shufflenet_v2([2, 2, 2], [8, 16, 32, 64, 128], #{ num_classes: 10, WEIGHTS })"),
        vision("mnasnet", "torchvision MNASNet(0.25, num_classes=10)",
               lambda: torchvision.models.MNASNet(0.25, num_classes=10),
               "vision::mnasnet(0.25, #{ num_classes: 10, WEIGHTS })"),
        vision("googlenet", "torchvision GoogLeNet(num_classes=10, aux_logits=True, init_weights=False): the "
               "checkpoint holds the auxiliary heads", lambda: torchvision.models.GoogLeNet(num_classes=10, init_weights=False),
               "vision::googlenet(#{ num_classes: 10, WEIGHTS })", inputs=image(size=64)),
        vision("inception_v3", "torchvision Inception3(num_classes=10, aux_logits=True, init_weights=False), float16 "
               "checkpoint with the auxiliary head", lambda: torchvision.models.Inception3(num_classes=10, init_weights=False),
               "vision::inception_v3(#{ num_classes: 10, WEIGHTS })", dtype=torch.float16, inputs=image(size=80)),
        vision("efficientnet_v2", "torchvision EfficientNet([FusedMBConvConfig(1, 3, 1, 8, 8, 1), FusedMBConvConfig(4, 3, 2, "
               "8, 16, 2), MBConvConfig(4, 3, 2, 16, 24, 2)], last_channel=64, num_classes=10, BatchNorm eps 1e-3)",
               efficientnet_v2,
               'vision::efficientnet_v2([["F", 1, 3, 1, 8, 8, 1], ["F", 4, 3, 2, 8, 16, 2], ["M", 4, 3, 2, 16, 24, 2]], '
               "#{ last_channel: 64, num_classes: 10, WEIGHTS })"),
        vision("maxvit", "torchvision MaxVit(input_size=(64, 64), stem_channels=8, partition_size=4, block_channels=[16, 32], "
               "block_layers=[1, 2], head_dim=8, stochastic_depth_prob=0.0, num_classes=10)",
               lambda: MaxVit(input_size=(64, 64), stem_channels=8, partition_size=4, block_channels=[16, 32],
                              block_layers=[1, 2], head_dim=8, stochastic_depth_prob=0.0, num_classes=10),
               "vision::maxvit(#{ stem_channels: 8, block_channels: [16, 32], block_layers: [1, 2], head_dim: 8, "
               "partition_size: 4, input_size: 64, num_classes: 10, WEIGHTS })", inputs=image(size=64)),
        Case("lraspp", "torchvision lraspp_mobilenet_v3_large(weights_backbone=None, num_classes=5)",
             tv(lambda: segmentation.lraspp_mobilenet_v3_large(weights_backbone=None, num_classes=5)),
             "vision::lraspp_mobilenet_v3_large(#{ num_classes: 5, WEIGHTS })", image(size=64),
             "model.forward(x.input)", seg_call),
        Case("deeplabv3_mobilenet", "torchvision deeplabv3_mobilenet_v3_large(weights_backbone=None, num_classes=5), "
             "float16 checkpoint", tv(lambda: segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None, num_classes=5),
                                      torch.float16),
             "vision::deeplabv3_mobilenet_v3_large(#{ num_classes: 5, WEIGHTS })", image(size=64),
             "model.forward(x.input)", seg_call, dtype=torch.float16),
        Case("deeplabv3_resnet50", "torchvision deeplabv3_resnet50(weights_backbone=None, num_classes=5) (dilated "
             "ResNet-50), float16 checkpoint",
             tv(lambda: segmentation.deeplabv3_resnet50(weights_backbone=None, num_classes=5), torch.float16),
             "vision::deeplabv3_resnet(50, #{ num_classes: 5, WEIGHTS })", image(size=48),
             "model.forward(x.input)", seg_call, dtype=torch.float16),
        vision("deit_distilled", f"timm VisionTransformerDistilled({vit})",
               lambda: timm.models.deit.VisionTransformerDistilled(**vit),
               f"vision::timm_vision_transformer(#{{ {vit_rhai}, distilled: true, WEIGHTS }})"),
        vision("deit3", f"timm VisionTransformer({vit}, init_values=1e-6, no_embed_class=True)",
               lambda: timm.models.vision_transformer.VisionTransformer(**vit, init_values=1e-6, no_embed_class=True),
               f"vision::timm_vision_transformer(#{{ {vit_rhai}, init_values: 0.000001, no_embed_class: true, WEIGHTS }})"),
        vision("beit", "timm Beit(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10, "
               "use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1)",
               lambda: timm.models.beit.Beit(img_size=IMAGE, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10,
                                             use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1),
               "vision::timm_beit(#{ img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2, num_classes: 10, "
               "WEIGHTS })"),
        *[vision(f"timm_convnext{'_conv_mlp' if conv_mlp else ''}",
                 f"timm ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32), conv_mlp={conv_mlp}, num_classes=10)",
                 lambda conv_mlp=conv_mlp: timm.models.convnext.ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32),
                                                                         conv_mlp=conv_mlp, num_classes=10),
                 f"vision::timm_convnext(#{{ depths: [1, 1, 2, 1], dims: [8, 16, 24, 32], conv_mlp: {str(conv_mlp).lower()}, "
                 "num_classes: 10, WEIGHTS })") for conv_mlp in (False, True)],
        vision("levit", "timm LevitDistilled(img_size=64, embed_dim=(32, 48), key_dim=8, num_heads=(2, 3), depth=(1, 2), "
               "num_classes=10)",
               lambda: timm.models.levit.LevitDistilled(img_size=64, embed_dim=(32, 48), key_dim=8, num_heads=(2, 3),
                                                        depth=(1, 2), num_classes=10),
               "vision::timm_levit(#{ img_size: 64, embed_dim: [32, 48], key_dim: 8, num_heads: [2, 3], depth: [1, 2], "
               "num_classes: 10, WEIGHTS })", inputs=image(size=64)),
    ]


def diffusion_cases(rhai_map):
    """Stable Diffusion's parts at tiny sizes: the KL VAE (whole, and its
    decoder loaded from the whole VAE's checkpoint), the CLIP text encoders
    (argmax end-of-text pooling; the projection), and an SDXL-style UNet
    (text_time micro-conditioning, per-level transformer layers, linear
    projections) loaded with the builder's weights option."""
    import diffusers

    t = transformers
    vae = dict(block_out_channels=[16, 32], down_block_types=["DownEncoderBlock2D"] * 2,
               up_block_types=["UpDecoderBlock2D"] * 2, layers_per_block=1, latent_channels=4, norm_num_groups=8)
    clip = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                max_position_embeddings=16, projection_dim=24, bos_token_id=0, eos_token_id=2, pad_token_id=1)
    unet = dict(block_out_channels=[16, 32], layers_per_block=1,
                down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], attention_head_dim=[2, 4],
                transformer_layers_per_block=[1, 2], cross_attention_dim=16, norm_num_groups=8,
                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                projection_class_embeddings_input_dim=12 + 6 * 8)

    unet_tiny = dict(block_out_channels=[16, 32], layers_per_block=1,
                     down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                     up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                     cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8)
    controlnet = dict(block_out_channels=[16, 32], layers_per_block=1,
                      down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], cross_attention_dim=16,
                      attention_head_dim=4, norm_num_groups=8, conditioning_embedding_out_channels=[8, 16])

    def controlnet_inputs(g):
        return {"sample": torch.randn(BATCH, 4, 8, 8, generator=g),
                "timestep": torch.randint(0, 1000, (BATCH,), generator=g),
                "encoder_hidden_states": torch.randn(BATCH, 7, 16, generator=g),
                "controlnet_cond": torch.randn(BATCH, 3, 16, 16, generator=g)}

    def controlnet_call(m, x):
        down, mid = m(x["sample"], x["timestep"], x["encoder_hidden_states"], x["controlnet_cond"], return_dict=False)
        return {**{f"down_block_res_samples_{i}": d for i, d in enumerate(down)}, "mid_block_res_sample": mid}

    lcm = dict(unet_tiny, time_cond_proj_dim=8)

    def lcm_inputs(g):
        return {"sample": torch.randn(BATCH, 4, 8, 8, generator=g),
                "timestep": torch.randint(0, 1000, (BATCH,), generator=g),
                "encoder_hidden_states": torch.randn(BATCH, 7, 16, generator=g),
                "timestep_cond": torch.randn(BATCH, 8, generator=g)}

    def lcm_call(m, x):
        return {"output": m(x["sample"], x["timestep"], x["encoder_hidden_states"],
                            timestep_cond=x["timestep_cond"]).sample}

    def latents(g):
        return {"input": torch.randn(BATCH, 4, 8, 8, generator=g)}

    def unet_inputs(g):
        return {"sample": torch.randn(BATCH, 4, 8, 8, generator=g),
                "timestep": torch.randint(0, 1000, (BATCH,), generator=g),
                "encoder_hidden_states": torch.randn(BATCH, 7, 16, generator=g),
                "text_embeds": torch.randn(BATCH, 12, generator=g),
                "time_ids": torch.randint(0, 1024, (BATCH, 6), generator=g).float()}

    def unet_call(m, x):
        cond = {"text_embeds": x["text_embeds"], "time_ids": x["time_ids"]}
        return {"output": m(x["sample"], x["timestep"], x["encoder_hidden_states"], added_cond_kwargs=cond).sample}

    def clip_tokens(g):
        ids = torch.randint(3, 99, (BATCH, SEQ), generator=g)
        ids[0, 5] = 98  # the highest id (the end-of-text token) mid-sequence: pooling must find it
        ids[1, 7] = 5  # clip_text_projection's eos_token_id
        return {"input_ids": ids}

    def legacy_clip(model, dtype=torch.float32):
        """transformers 4's layout, as SD 1.5's text_encoder/model.safetensors
        holds it: every key under text_model., and the position_ids buffer."""

        def write(folder):
            sd = {"text_model." + k: v.contiguous() for k, v in model.state_dict().items()}
            sd["text_model.embeddings.position_ids"] = torch.arange(clip["max_position_embeddings"])[None]
            safetensors.torch.save_file(sd, folder / "model.safetensors")

        return write

    def clip_call(m, x):
        o = m(input_ids=x["input_ids"])
        return {"last_hidden_state": o.last_hidden_state, "pooler_output": o.pooler_output}

    def clip_projection_call(m, x):
        o = m(input_ids=x["input_ids"])
        return {"text_embeds": o.text_embeds, "last_hidden_state": o.last_hidden_state}

    return [
        Case("sd_vae", f"diffusers AutoencoderKL({vae}): encode, the latent mode, decode",
             pyg(lambda: diffusers.AutoencoderKL(**vae)),
             "diffusers::autoencoder_kl(" + rhai_map(vae) + ")", image(),
             "model.forward(x.input)", lambda m, x: {"output": m(x["input"]).sample}),
        Case("sd_vae_decode", f"diffusers AutoencoderKL({vae}).decode, loaded from the whole VAE's checkpoint",
             pyg(lambda: diffusers.AutoencoderKL(**vae)),
             "diffusers::autoencoder_kl(" + rhai_map(vae) + ', "decode")', latents,
             "model.forward(x.input)", lambda m, x: {"output": m.decode(x["input"]).sample}),
        Case("clip_text", f"transformers CLIPTextModel(CLIPTextConfig({clip})), saved in transformers 4's "
             "layout (keys under text_model., a position_ids buffer)",
             hf(lambda: t.CLIPTextModel(t.CLIPTextConfig(**clip)), legacy_clip),
             "diffusers::clip_text_model(" + rhai_map(clip) + ")", clip_tokens,
             "model.forward(#{ input_ids: x.input_ids })", clip_call),
        Case("clip_text_projection", f"transformers CLIPTextModelWithProjection(CLIPTextConfig({clip}, "
             "hidden_act='gelu', eos_token_id=5)): pooled at the first eos_token_id",
             hf(lambda: t.CLIPTextModelWithProjection(t.CLIPTextConfig(**dict(clip, hidden_act="gelu", eos_token_id=5))),
                save_pretrained),
             "diffusers::clip_text_model_with_projection(" + rhai_map(dict(clip, hidden_act="gelu", eos_token_id=5)) + ")",
             clip_tokens, "model.forward(#{ input_ids: x.input_ids })", clip_projection_call),
        Case("sdxl_unet", f"diffusers UNet2DConditionModel({unet}) (SDXL's text_time UNet at a tiny size), "
             "loaded with the builder's weights option",
             pyg(lambda: diffusers.UNet2DConditionModel(sample_size=8, **unet)),
             "diffusers::unet_2d_condition(" + rhai_map(unet) + ")", unet_inputs,
             "model.forward(#{ sample: x.sample, timestep: x.timestep, encoder_hidden_states: x.encoder_hidden_states, "
             "text_embeds: x.text_embeds, time_ids: x.time_ids })", unet_call),
        Case("controlnet", f"diffusers ControlNetModel({controlnet}) (SD's ControlNet at a tiny size)",
             pyg(lambda: diffusers.ControlNetModel(**controlnet)),
             "diffusers::controlnet(" + rhai_map(controlnet) + ")", controlnet_inputs,
             "model.forward(#{ sample: x.sample, timestep: x.timestep, encoder_hidden_states: x.encoder_hidden_states, "
             "controlnet_cond: x.controlnet_cond })", controlnet_call),
        Case("lcm_unet", f"diffusers UNet2DConditionModel({lcm}) (a Latent Consistency Model's UNet at a tiny "
             "size: the guidance embedding's cond_proj)",
             pyg(lambda: diffusers.UNet2DConditionModel(sample_size=8, **lcm)),
             "diffusers::unet_2d_condition(" + rhai_map(lcm) + ")", lcm_inputs,
             "model.forward(#{ sample: x.sample, timestep: x.timestep, encoder_hidden_states: x.encoder_hidden_states, "
             "timestep_cond: x.timestep_cond })", lcm_call),
    ]


def detection_cases(rhai_map):
    """YOLOv8 and YOLO11 (ultralytics DetectionModel from their YAML at a
    tiny width), DETR and SegFormer (transformers) at small configs."""
    from ultralytics.nn.tasks import DetectionModel, OBBModel, PoseModel, SegmentationModel, yaml_model_load

    t = transformers
    tiny = {"t": [0.33, 0.125, 1024]}

    def yolo(cls, yaml):
        def make():
            cfg = dict(yaml_model_load(f"{yaml}.yaml"), scales=tiny, scale="t")
            return cls(cfg, verbose=False)
        return make

    def yolo_call(m, x):
        y = m(x["input"])[0]  # eval mode: (decoded outputs, raw maps)
        if isinstance(y, (list, tuple)):  # Segment: detections and prototypes
            return {f"output_{i}": v for i, v in enumerate(y)}
        return {"output": y}

    def yolo_case(name, yaml, cls=DetectionModel):
        return Case(name, f"ultralytics {cls.__name__}({yaml}.yaml with scales {tiny}, scale t)",
                    pyg(yolo(cls, yaml)),
                    f'vision::yolo(vision::yolo_yaml("{yaml}") + #{{ scales: #{{ t: [0.33, 0.125, 1024] }} }}, '
                    '#{ scale: "t", WEIGHTS })',
                    image(size=64), "model.forward(x.input)", yolo_call)

    resnet = dict(embedding_size=8, hidden_sizes=[16, 32, 64, 128], depths=[1, 2, 1, 1],
                  out_features=["stage1", "stage2", "stage3", "stage4"])
    detr = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10, num_labels=5)
    backbone = "#{ " + ", ".join(f"{k}: {json.dumps(v)}" for k, v in resnet.items()) + " }"
    segformer = dict(hidden_sizes=[8, 16, 24, 32], depths=[1, 2, 1, 1], num_attention_heads=[1, 2, 3, 4],
                     decoder_hidden_size=16, num_labels=5)
    return [
        yolo_case("yolov8", "yolov8"),
        yolo_case("yolo11", "yolo11"),
        yolo_case("yolov8_seg", "yolov8-seg", SegmentationModel),
        yolo_case("yolov8_pose", "yolov8-pose", PoseModel),
        yolo_case("yolo11_obb", "yolo11-obb", OBBModel),
        yolo_case("yolov8_ghost", "yolov8-ghost"),
        Case("detr", f"transformers DetrForObjectDetection(DetrConfig({detr}, backbone_config=ResNetConfig({resnet})))",
             pyg(lambda: t.DetrForObjectDetection(t.DetrConfig(**detr, backbone_config=t.ResNetConfig(**resnet)))),
             "transformers::detr(" + rhai_map(detr).replace(", WEIGHTS }", f", backbone_config: {backbone}, WEIGHTS }}") + ")",
             image(size=64), "model.forward(x.input)",
             lambda m, x: (lambda o: {"output_0": o.logits, "output_1": o.pred_boxes})(m(pixel_values=x["input"]))),
        Case("segformer", f"transformers SegformerForSemanticSegmentation(SegformerConfig({segformer}))",
             pyg(lambda: t.SegformerForSemanticSegmentation(t.SegformerConfig(**segformer))),
             "transformers::segformer(" + rhai_map(segformer) + ")",
             image(size=64), "model.forward(x.input)",
             lambda m, x: {"output": m(pixel_values=x["input"]).logits}),
    ]


# ---------------------------------------------------------------- writing


HUB_REPO = "turnkey-test/{name}"


def to_hub(folder, name):
    """Moves the checkpoint into a Hugging Face cache layout under
    OUT/hub: blobs by sha256, a snapshot of links, refs/main."""
    hub = folder.parent / "hub" / f"models--turnkey-test--{name}"
    shutil.rmtree(hub, ignore_errors=True)
    commit = hashlib.sha1(name.encode()).hexdigest()
    snap = hub / "snapshots" / commit
    (hub / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    (hub / "refs").mkdir()
    (hub / "refs" / "main").write_text(commit)
    for f in sorted(folder.glob("model*.safetensors*")):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.move(str(f), hub / "blobs" / digest)
        (snap / f.name).symlink_to(Path("../../blobs") / digest)


def script(case):
    weights = {
        "option": ('weights: "."', ""),
        "method": ("", '.load_weights("model.safetensors")'),
        "hub": (f'pretrained: true, repo: "{HUB_REPO.format(name=case.name)}"', ""),
    }[case.load]
    builder = case.builder.replace(", WEIGHTS }", f", {weights[0]} }}" if weights[0] else " }")
    builder = builder.replace("#{  }", "#{}").replace("WEIGHTS", weights[0])
    return (
        f"//! Equivalence case {case.name}: {case.reference}.\n"
        "//! Generated by scripts/reference_weights.py: the reference's weights, inputs and outputs\n"
        "//! lie beside this script.\n\n"
        'let x = load_tensors("inputs.safetensors");\n'
        f"{case.prelude}"
        f"let model = {builder}{weights[1]};\n"
        f"{case.forward};\n"
    )


def write_case(case, out):
    folder = out / case.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    model, writer = case.make()
    gen = torch.Generator().manual_seed(1)
    inputs = case.inputs(gen)
    with torch.no_grad():
        outputs = {k: v.detach().float().contiguous() for k, v in case.call(model, inputs).items()}
    for k, v in outputs.items():
        if not torch.isfinite(v).all() or v.std() < 1e-3:
            sys.exit(f"{case.name}: output {k} is degenerate (std {v.std():.2e}): change the case")
    writer(folder)
    if case.load == "hub":
        to_hub(folder, case.name)
    script_inputs = {k: v.contiguous() for k, v in inputs.items() if k != "edge_index"}
    safetensors.torch.save_file(script_inputs, folder / "inputs.safetensors")
    safetensors.torch.save_file(outputs, folder / "outputs.safetensors")
    (folder / f"{case.name}.rhai").write_text(script(case))
    params = {id(p): p.numel() for p in model.parameters()}
    info = {
        "name": case.name,
        "reference": case.reference,
        "outputs": sorted(outputs),
        "lm": case.lm,
        "checkpoint_dtype": str(case.dtype).replace("torch.", ""),
        "load": case.load,
        "lm_output": case.lm_output,
    }
    # The parameters of the part the script builds (BERT's BertModel of
    # BertForPreTraining, Whisper's encoder).
    part = {"bert": lambda m: m.bert, "whisper_encoder": lambda m: m.model.encoder,
            "sd_vae_decode": lambda m: torch.nn.ModuleList([m.post_quant_conv, m.decoder])}.get(case.name)
    counted = part(model) if part else model
    info["params"] = sum({id(p): p.numel() for p in counted.parameters()}.values())
    del params
    (folder / "case.json").write_text(json.dumps(info, indent=2) + "\n")
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{case.name:<20} {info['params']:>10,} params  {size / 1e6:6.2f} MB  {case.reference}", file=sys.stderr)


def timm_mobilevit_cases():
    """timm MobileViT and MobileViTv2 (ByobNet with timm's own block
    configs) at a small size; a 40x40 input leaves the last stage a 5x5
    grid, so both resize to fit the 2x2 patches (v1 back to 5x5, v2 not)."""
    import timm
    from timm.models.byobnet import ByobNet, ByoModelCfg
    from timm.models.mobilevit import _inverted_residual_block, _mobilevit_block, _mobilevitv2_block

    def byob(*blocks, **kw):
        return ByoModelCfg(blocks=blocks, stem_chs=8, stem_type="3x3", stem_pool="", downsample="", act_layer="silu", **kw)

    v1 = byob(_inverted_residual_block(d=2, c=8, s=1, br=2.0),
              _mobilevit_block(d=1, c=16, s=2, transformer_dim=16, transformer_depth=1, patch_size=2, br=2.0),
              _mobilevit_block(d=1, c=24, s=2, transformer_dim=32, transformer_depth=2, patch_size=2, br=2.0),
              num_features=40)
    v2 = byob(_inverted_residual_block(d=1, c=16, s=1, br=2.0), _inverted_residual_block(d=2, c=16, s=2, br=2.0),
              _mobilevitv2_block(d=1, c=32, s=2, transformer_depth=2), _mobilevitv2_block(d=1, c=48, s=2, transformer_depth=1))
    return [
        vision("timm_mobilevit", "timm ByobNet(ByoModelCfg(stem_chs=8, num_features=40, blocks=(_inverted_residual_block(d=2, c=8, "
               "s=1, br=2.0), _mobilevit_block(d=1, c=16, s=2, transformer_dim=16, transformer_depth=1, patch_size=2, br=2.0), "
               "_mobilevit_block(d=1, c=24, s=2, transformer_dim=32, transformer_depth=2, patch_size=2, br=2.0)), ...), "
               "num_classes=10) on a 40x40 image", lambda: ByobNet(v1, num_classes=10),
               "vision::timm_mobilevit(#{ stem_chs: 8, num_features: 40, num_classes: 10, blocks: ["
               "#{ d: 2, c: 8, s: 1, br: 2.0 }, "
               "#{ d: 1, c: 16, s: 2, br: 2.0, transformer_dim: 16, transformer_depth: 1, patch_size: 2 }, "
               "#{ d: 1, c: 24, s: 2, br: 2.0, transformer_dim: 32, transformer_depth: 2, patch_size: 2 }], WEIGHTS })",
               inputs=image(size=40)),
        vision("timm_mobilevitv2", "timm ByobNet(ByoModelCfg(stem_chs=8, blocks=(_inverted_residual_block(d=1, c=16, s=1, "
               "br=2.0), _inverted_residual_block(d=2, c=16, s=2, br=2.0), _mobilevitv2_block(d=1, c=32, s=2, transformer_depth=2), "
               "_mobilevitv2_block(d=1, c=48, s=2, transformer_depth=1)), ...), num_classes=10) on a 40x40 image", lambda: ByobNet(v2, num_classes=10),
               "vision::timm_mobilevit(#{ version: 2, stem_chs: 8, num_classes: 10, blocks: ["
               "#{ d: 1, c: 16, s: 1, br: 2.0 }, #{ d: 2, c: 16, s: 2, br: 2.0 }, "
               "#{ d: 1, c: 32, s: 2, br: 2.0, transformer_depth: 2 }, "
               "#{ d: 1, c: 48, s: 2, br: 2.0, transformer_depth: 1 }], WEIGHTS })",
               inputs=image(size=40)),
    ]


def timm_coatnet_cases():
    """timm CoAtNet (MaxxVit with MbConv and TransformerBlock2d stages) at a
    small size on a 64x64 image: an "_rw" config (pooled-stride MbConv with
    early ReLU SE, MLP relative position bias, LayerScale), the paper-style
    default (expanding attention, bias table, NormMlp head), and one with
    BatchNorm transformer norms and max-pool shortcuts (the pooled-stride
    MbConv's own pool stays avg2)."""
    from timm.models.maxxvit import MaxxVit, MaxxVitCfg, _rw_coat_cfg

    rw = dict(conv_attn_early=True, transformer_shortcut_bias=False, init_values=0.1, rel_pos_type="mlp", rel_pos_dim=16)
    # stride_mode "pool" with pool_type "max": the shortcut max-pools, the
    # block's own pool stays avg2 (MaxxVitConvCfg.downsample_pool_type).
    bn = dict(pool_type="max", transformer_norm_layer="batchnorm2d")
    small = "embed_dim: [16, 32, 64, 64], depths: [1, 2, 2, 1], stem_width: [8, 16], img_size: 64, num_classes: 10, " \
            "transformer_dim_head: 8"

    def coat(**kw):
        return lambda: MaxxVit(MaxxVitCfg(embed_dim=(16, 32, 64, 64), depths=(1, 2, 2, 1), stem_width=(8, 16), **kw),
                               img_size=64, num_classes=10, transformer_dim_head=8)

    return [
        vision("timm_coatnet_rw", f"timm MaxxVit(MaxxVitCfg(embed_dim=(16, 32, 64, 64), depths=(1, 2, 2, 1), "
               f"stem_width=(8, 16), **_rw_coat_cfg({rw})), img_size=64, num_classes=10, transformer_dim_head=8)",
               coat(**_rw_coat_cfg(**rw)),
               f"vision::timm_coatnet(#{{ {small}, WEIGHTS }} + vision::timm_coatnet_rw_coat_cfg(#{{ conv_attn_early: true, "
               "transformer_shortcut_bias: false, init_values: 0.1, rel_pos_type: \"mlp\", rel_pos_dim: 16 }))",
               inputs=image(size=64)),
        vision("timm_coatnet", "timm MaxxVit(MaxxVitCfg(embed_dim=(16, 32, 64, 64), depths=(1, 2, 2, 1), stem_width=(8, 16), "
               "head_hidden_size=32), img_size=64, num_classes=10, transformer_dim_head=8)",
               coat(head_hidden_size=32),
               f"vision::timm_coatnet(#{{ {small}, head_hidden_size: 32, WEIGHTS }})", inputs=image(size=64)),
        vision("timm_coatnet_bn", f"timm MaxxVit(MaxxVitCfg(embed_dim=(16, 32, 64, 64), depths=(1, 2, 2, 1), "
               f"stem_width=(8, 16), **_rw_coat_cfg({bn})), img_size=64, num_classes=10, transformer_dim_head=8)",
               coat(**_rw_coat_cfg(**bn)),
               f"vision::timm_coatnet(#{{ {small}, WEIGHTS }} + vision::timm_coatnet_rw_coat_cfg(#{{ pool_type: \"max\", "
               "transformer_norm_layer: \"batchnorm2d\" }))", inputs=image(size=64)),
    ]


def main():
    args = sys.argv[1:]
    out = Path(args.pop(0)) if args and not args[0].startswith("-") and "/" in args[0] else ROOT / ".cache" / "equivalence"
    table = cases()
    wanted = set(args) or {c.name for c in table}
    unknown = wanted - {c.name for c in table}
    if unknown:
        sys.exit(f"unknown cases: {', '.join(sorted(unknown))}; known: {', '.join(c.name for c in table)}")
    out.mkdir(parents=True, exist_ok=True)
    for case in table:
        if case.name in wanted:
            write_case(case, out)
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                "transformers": transformers.__version__, "torch_geometric": torch_geometric.__version__,
                "safetensors": getattr(safetensors, "__version__", "?"), "timm": __import__("timm").__version__}
    (out / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
