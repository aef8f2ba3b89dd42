"""The table format shared by every reference module."""

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
    return out



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
