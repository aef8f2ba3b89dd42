#!/usr/bin/env python3
"""Writes tests/data/reference/<module>.json: for each corpus script, the
parameter and buffer names and shapes of its reference implementation
(torchvision, transformers, torch_geometric, ...) built with that script's
configuration, in state_dict() order, tied weights once (under their first
name, as named_parameters() and torch.onnx keep them), and the parameter
count. The corpus tests compare every build's ONNX initializers with it.
Models with a library config also get "config" (transformers'
config.to_dict(), diffusers' model.config, with rope_theta / rope_scaling /
partial_rotary_factor spelt as config.json spells them) and "config_set"
(the keys away from the config class's defaults), which tests/zoo_config.rs
compares with the config each script's builder resolved.

The models are registered one module per corpus in scripts/reference/
(`LIBRARIES` and `models()`); a new corpus is a new `*_models.py` module
there, found by its name.

Run it in the reference venv (scripts/setup_reference.sh makes it):
    python=$(scripts/setup_reference.sh) && $python scripts/reference_names.py [MODULE...]
Models are built on the meta device: no weights are allocated.
"""

import importlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference.common import ROOT, write  # noqa: E402

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parent / "reference").glob("*_models.py"))


def main():
    wanted = sys.argv[1:] or MODULES
    for name in wanted:
        if name not in MODULES:
            sys.exit(f"reference_names: unknown module {name}; known: {', '.join(MODULES)}")
        mod = importlib.import_module(f"reference.{name}")
        versions = {"torch": torch.__version__, **mod.LIBRARIES}
        out, n = write(name, versions, mod.models())
        print(f"wrote {out.relative_to(ROOT)}: {n} models", file=sys.stderr)


if __name__ == "__main__":
    main()
