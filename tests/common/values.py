# Reading what turnkey saves (input_N.pb / output_N.pb, typed by
# <prefix>_types.json) and comparing values, for tests that check turnkey
# against ONNX's reference evaluator or ONNX Runtime (Python).
import json, os
import numpy as np, onnx
from onnx import numpy_helper


def load_value(path, kind):
    """(name, value) of a .pb file holding a tensor, "sequence" or "optional"."""
    b = open(path, "rb").read()
    if kind == "sequence":
        p = onnx.SequenceProto(); p.ParseFromString(b); return p.name, numpy_helper.to_list(p)
    if kind == "optional":
        p = onnx.OptionalProto(); p.ParseFromString(b); return p.name, numpy_helper.to_optional(p)
    if kind == "map":
        p = onnx.MapProto(); p.ParseFromString(b); return p.name, str_keys(numpy_helper.to_dict(p))
    p = onnx.TensorProto(); p.ParseFromString(b); return p.name, numpy_helper.to_array(p)


def str_keys(d):
    """String keys as str (numpy_helper gives bytes), as ONNX Runtime has them."""
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


def kind_of(ort_type):
    """The kind of an ONNX Runtime type string: seq(...), optional(...), tensor(...)."""
    return {"seq": "sequence", "optional": "optional", "map": "map"}.get(
        ort_type.split("(")[0], "tensor")


def read_values(folder, prefix):
    """[(name, value)] of <prefix>_0.pb, <prefix>_1.pb, ... in folder."""
    tf = os.path.join(folder, prefix + "_types.json")
    kinds = [next(iter(t)) for t in json.load(open(tf))] if os.path.exists(tf) else []
    out = []
    while os.path.exists(os.path.join(folder, f"{prefix}_{len(out)}.pb")):
        k = len(out)
        out.append(load_value(os.path.join(folder, f"{prefix}_{k}.pb"),
                              kinds[k] if k < len(kinds) else "tensor"))
    return out


def same(a, b):
    """Equal values: sequences item by item, maps key by key, absent optionals both absent,
    strings exactly, floats within rtol 1e-4 / atol 1e-5 (NaN equals NaN)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if not isinstance(b, dict):
            return False
        a, b = str_keys(a), str_keys(b)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == object or b.dtype == object:
        return [str(x) for x in a.flat] == [str(y) for y in b.flat]
    # ONNX Runtime (Python) hands 8-bit floats back as their uint8 bit patterns.
    if a.dtype != b.dtype and np.dtype(np.uint8) in (a.dtype, b.dtype) and a.dtype.itemsize == b.dtype.itemsize == 1:
        return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return bool(np.allclose(a.astype(np.float64), b.astype(np.float64),
                                rtol=1e-4, atol=1e-5, equal_nan=True))
    return bool(np.array_equal(a, b))
