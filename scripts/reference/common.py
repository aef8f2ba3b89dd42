"""The table format shared by every reference module."""

import inspect
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent.parent
OUT_DIR = ROOT / "tests" / "data" / "reference"


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
    out["config"], out["config_set"] = config_of(model)
    return out


# Bookkeeping keys of a config that no builder reads and that say nothing
# about the model: left out of the table.
UNRECORDED = {"transformers_version", "_diffusers_version", "architectures", "id2label", "label2id",
              "_name_or_path", "_class_name", "dtype", "torch_dtype", "_use_default_values"}


def _jsonable(v):
    return json.loads(json.dumps(v, default=str))


def _legacy_rope(d):
    """transformers 5 folds rope_theta, rope_scaling and the rotary
    fraction into rope_parameters; the corpus scripts pass config.json's
    own spellings (rope_theta, rope_scaling, partial_rotary_factor,
    GPT-NeoX's rotary_pct and rotary_emb_base), so those are added back."""
    rope = d.get("rope_parameters")
    if not isinstance(rope, dict):
        return d
    d = dict(d)
    if "rope_theta" in rope:
        d.setdefault("rope_theta", rope["rope_theta"])
        if d.get("model_type") == "gpt_neox":
            d.setdefault("rotary_emb_base", rope["rope_theta"])
    if "partial_rotary_factor" in rope:
        d.setdefault("partial_rotary_factor", rope["partial_rotary_factor"])
        if d.get("model_type") == "gpt_neox":
            d.setdefault("rotary_pct", rope["partial_rotary_factor"])
    scaling = {k: v for k, v in rope.items() if k not in ("rope_theta", "partial_rotary_factor")}
    d.setdefault("rope_scaling", None if scaling.get("rope_type", "default") == "default" else scaling)
    return d


def config_of(model):
    """The model's config after its library's defaults (transformers'
    config.to_dict(), diffusers' model.config), and the keys whose value
    differs from the config class's default; ({}, []) for models without
    one (torchvision, torch_geometric)."""
    cfg = getattr(model, "config", None)
    if cfg is None:
        return {}, []
    if hasattr(cfg, "to_dict"):  # transformers PretrainedConfig
        full = cfg.to_dict()
        default = type(cfg)().to_dict()
    elif isinstance(cfg, dict):  # diffusers' FrozenDict of __init__'s arguments
        full = dict(cfg)
        sig = inspect.signature(type(model).__init__).parameters
        default = {k: p.default for k, p in sig.items() if p.default is not inspect.Parameter.empty}
    else:
        return {}, []
    full = _jsonable(_legacy_rope(full))
    default = _jsonable(_legacy_rope(default))
    full = {k: v for k, v in sorted(full.items()) if k not in UNRECORDED}
    changed = sorted(k for k, v in full.items() if k not in default or default[k] != v)
    return full, changed



def write(module, versions, models):
    """Writes tests/data/reference/<module>.json: one [name, shape] pair per
    line, so a changed reference reads as a small diff."""
    table = {f"models/{k}.rhai": entry(*v) for k, v in sorted(models.items())}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{module}.json"
    lines = ["{"]
    lines.append(f'  "generated_by": {json.dumps("scripts/reference_names.py " + module)},')
    lines.append(f'  "versions": {json.dumps(versions)},')
    lines.append('  "models": {')
    items = list(table.items())
    for i, (script, e) in enumerate(items):
        lines.append(f"    {json.dumps(script)}: {{")
        lines.append(f'      "source": {json.dumps(e["source"])},')
        lines.append(f'      "num_parameters": {e["num_parameters"]},')
        lines.append(f'      "tied": {json.dumps(e["tied"])},')
        if e["config"]:
            lines.append(f'      "config": {json.dumps(e["config"])},')
            lines.append(f'      "config_set": {json.dumps(e["config_set"])},')
        for kind in ("parameters", "buffers"):
            rows = [f"        {json.dumps(r)}" for r in e[kind]]
            end = "," if kind == "parameters" else ""
            lines.append(f'      "{kind}": [' + ("\n" + ",\n".join(rows) + "\n      " if rows else "") + f"]{end}")
        lines.append("    }" + ("," if i + 1 < len(items) else ""))
    lines.append("  }")
    lines.append("}")
    out.write_text("\n".join(lines) + "\n")
    json.loads(out.read_text())  # the file must stay valid JSON
    return out, len(items)
