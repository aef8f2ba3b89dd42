"""Which models of corpora/real_models.toml tract itself runs, outside turnkey.

    .venv/bin/python scripts/real_models_tract.py TRACT_CLI

TRACT_CLI is tract's own command line (`cargo install tract-cli --version
0.23.9 --no-default-features --features onnx,transformers`, the version
turnkey embeds). Each entry is run as

    tract MODEL -i NAME:D1,D2,...,TYPE[=VALUE] ... [FLAGS] -O run --allow-random-input

with the manifest's shapes and given values, first as the file is, then
with tract's own flags that drop the file's shape annotations (the CLI
uses the declared output shapes unless --onnx-ignore-output-shapes; the
value_info unless --onnx-ignore-value-info), which go stale when a model
is exported at other sizes: a model runs on tract when any attempt works.
Prints one line per entry (`runs` or `fails: tract's last error line`);
tests/real_models.rs holds the result (TRACT_CANNOT).
"""
import os, subprocess, sys, tomllib

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "corpora", "real_models.toml")
TYPES = {onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.INT64: "i64", onnx.TensorProto.INT32: "i32"}


def input_specs(path, entry):
    """tract -i arguments for the graph inputs, sized as turnkey sizes them."""
    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    axes, shapes, values = entry.get("axes", {}), entry.get("shapes", {}), entry.get("inputs", {})
    specs = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        t = i.type.tensor_type
        if i.name in shapes:
            dims = shapes[i.name]
        else:
            dims = []
            for d in t.shape.dim:
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(d.dim_value)
                else:
                    dims.append(axes[d.dim_param])
        spec = f"{i.name}:" + ",".join([str(d) for d in dims] + [TYPES[t.elem_type]])
        if i.name in values:
            spec += f"={values[i.name]}"
        specs.append(spec)
    return specs


def main():
    tract = sys.argv[1]
    manifest = tomllib.load(open(MANIFEST, "rb"))
    for entry in manifest["onnx"]:
        path = os.path.normpath(os.path.join(os.path.dirname(MANIFEST), entry["path"]))
        args = []
        for spec in input_specs(path, entry):
            args += ["-i", spec]
        errors = []
        attempts = ([], ["--onnx-ignore-output-shapes"],
                    ["--onnx-ignore-output-shapes", "--onnx-ignore-value-info"])
        for extra in attempts:
            cmd = [tract, path, *args, *extra, "-O", "run", "--allow-random-input"]
            env = dict(os.environ, RUST_BACKTRACE="0")
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
            if r.returncode == 0:
                print(f"{entry['name']}: runs ({' '.join(cmd[1:])})")
                break
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            errors.append(lines[-1] if lines else f"exit {r.returncode}")
        else:
            print(f"{entry['name']}: fails: {errors[-1]}")


if __name__ == "__main__":
    main()
