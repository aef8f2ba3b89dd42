# Checks the builds of tests/ops_math/*.rhai (run by tests/ops_math.rs with
# the helpers of tests/common/values.py prepended): each exported model
# passes onnx.checker with full_check; every output saved by every runtime
# (outputs/<runtime>-<device>/) equals both onnx.reference's evaluation of
# the model and an independent NumPy formula, written here from PyTorch's,
# diffusers' and Hugging Face's definitions. Prints one line per failure.
import math, sys
from pathlib import Path
from onnx.reference import ReferenceEvaluator

f32 = np.float32


def per_axis(x, axes):
    return tuple(a % x.ndim for a in axes) if axes is not None else None


def softplus(x, beta=1.0, threshold=20.0):
    bx = x.astype(np.float64) * beta
    return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, 80.0))) / beta)


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def selu(x):
    return 1.0507009873554804934193349852946 * elu(x, 1.6732632423543772848170429916717)


def glu(x, dim=-1):
    a, b = np.split(x.astype(np.float64), 2, axis=dim)
    return a / (1.0 + np.exp(-b))


def prelu(x, w):
    w = w.reshape([-1] + [1] * (x.ndim - 2)) if w.size > 1 else w.reshape(1)
    return np.where(x > 0, x, w * x)


def math_ops(i):
    x, n, lo, mask = i["x"], i["i"], i["lo"], i["mask"]
    return {
        "sin": np.sin(x), "cos": np.cos(x), "tan": np.tan(x),
        "rsqrt": 1 / np.sqrt(np.abs(x) + 0.5), "reciprocal": 1 / x,
        "floor": np.floor(x), "ceil": np.ceil(x), "round": np.round(x),  # halves to even
        "sign": np.sign(np.floor(x)), "sign_int": np.sign(n - 2), "square": x * x,
        "floor_int": n,
        "minimum": np.minimum(x, lo), "minimum_num": np.minimum(x, 0.5),
        "maximum_num": np.maximum(-0.25, x), "maximum_int": np.maximum(n, 2),
        "clamp": np.clip(x, -1, 1), "clamp_min": np.maximum(x, -0.5), "clamp_max": np.minimum(x, 0.75),
        "clamp_t": np.minimum(np.maximum(x, lo), 1.0), "clamp_tt": np.minimum(np.maximum(x, lo), lo + 1),
        "clamp_int": np.clip(n, 1, 3), "clamp_promote": np.clip(n.astype(f32), 0.5, 3),
        "minimum_promote": np.minimum(n, 2.5),
        "masked_fill": np.where(x > 0, -1.0, x), "masked_row": np.where(mask, 9.0, x),
    }


def activations(i):
    x, img, w = i["x"].astype(np.float64), i["img"].astype(np.float64), i["w"].astype(np.float64)
    mish = x * np.tanh(softplus(x))
    out = {
        "mish": mish, "softplus": softplus(x), "softplus_beta": softplus(x, 2.0),
        "softplus_t": softplus(x, 2.0, 1.0), "softplus_big": softplus(x * 100.0),
        "elu": elu(x), "elu_a": elu(x, 0.5), "selu": selu(x), "glu": glu(x), "glu0": glu(x, 0),
        "softsign": x / (1 + np.abs(x)), "hardtanh": np.clip(x, -1, 1), "hardtanh_r": np.clip(x, -0.5, 2.0),
        "relu6": np.clip(x * 4, 0, 6), "prelu": prelu(img, w), "prelu_one": prelu(img, w[:1]),
        "l_prelu": prelu(img, np.array([0.25])), "l_prelu4": prelu(img, np.full(4, 0.1)),
    }
    for k in ["mish", "softplus", "softplus_t", "elu", "elu_a", "selu", "glu", "glu0", "softsign",
              "hardtanh", "hardtanh_r", "relu6"]:
        out["l_" + k] = out[k]
    return out


def norm(x, p, axes=None, keepdims=False):
    x = x.astype(np.float64)
    ax = per_axis(x, axes)
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=ax, keepdims=keepdims)
    if p == -np.inf:
        return a.min(axis=ax, keepdims=keepdims)
    if p == 0:
        return (x != 0).sum(axis=ax, keepdims=keepdims).astype(np.float64)
    return (a ** p).sum(axis=ax, keepdims=keepdims) ** (1.0 / p)


def logsumexp(x, axes, keepdims=False):
    x = x.astype(np.float64)
    m = x.max(axis=axes, keepdims=True)
    y = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axes)


def topk(x, k, dim, largest):
    order = np.argsort(-x if largest else x, axis=dim, kind="stable")
    idx = np.take(order, np.arange(k), axis=dim)
    return np.take_along_axis(x, idx, axis=dim), idx


def reductions(i):
    x, n = i["x"], i["i"]
    xd = x.astype(np.float64)
    tv, ti = topk(x, 2, -1, True)
    sv, si = topk(x, 3, 1, False)
    uv, _ = topk(x, 2, 0, True)
    return {
        "mean_all": xd.mean(), "sum_all": xd.sum(), "mean_12": xd.mean(axis=(1, 2)), "sum_keep": xd.sum(0, keepdims=True),
        "amax": x.max(), "amax_1": x.max(1), "amax_keep": x.max(-1, keepdims=True), "amin": x.min(), "amin_02": x.min((0, 2)),
        "prod": xd.prod(), "prod_2": xd.prod(2), "prod_keep": xd.prod(1, keepdims=True), "prod_int": n.prod(1),
        "argmax": np.argmax(x), "argmax_1": np.argmax(x, 1), "argmax_keep": np.argmax(x, -1)[..., None],
        "argmin": np.argmin(x), "argmin_0": np.argmin(x, 0),
        "argmax_ties": np.argmax(n, 1), "argmin_ties": np.argmin(n, 1),  # numpy and torch: first index
        "topk_v": tv, "topk_i": ti, "topk_small_v": sv, "topk_small_i": si, "topk_unsorted_v": uv,
        "cumsum_1": xd.cumsum(1), "cumsum_neg": xd.cumsum(-1), "cumsum_int": n.cumsum(1),
        "std_all": xd.std(ddof=1), "std_1": xd.std(1, ddof=1), "std_pop": xd.std((0, 2), keepdims=True),
        "var_all": xd.var(ddof=1), "var_2": xd.var(-1, ddof=1), "var_keep": xd.var(1, ddof=1, keepdims=True),
        "norm": norm(x, 2), "norm_1": norm(x, 1, [1]), "norm_fro": norm(x, 2, [1, 2]), "norm_inf": norm(x, np.inf, [-1]),
        "norm_ninf": norm(x, -np.inf, [0], True), "norm_3": norm(x, 3, [2]), "norm_0": norm(np.floor(x), 0, [1]),
        "logsumexp": logsumexp(x, 1), "logsumexp_keep": logsumexp(x, (0, 2), True),
        "logsumexp_big": logsumexp(x * 100.0, -1),
    }


def timestep_embedding(t, dim, flip=False, shift=1.0, scale=1.0, max_period=10000):
    # diffusers.models.embeddings.get_timestep_embedding, in float32 as torch runs it.
    half = dim // 2
    exponent = f32(-math.log(max_period)) * np.arange(half, dtype=f32)
    exponent = exponent / f32(half - shift)
    emb = t.astype(f32)[:, None] * np.exp(exponent)[None, :]
    emb = f32(scale) * emb
    emb = np.concatenate([np.sin(emb), np.cos(emb)], -1)
    if flip:
        emb = np.concatenate([emb[:, half:], emb[:, :half]], -1)
    if dim % 2 == 1:
        emb = np.pad(emb, ((0, 0), (0, 1)))
    return emb


def inv_freq(dim, base=10000.0, factor=1.0):
    # transformers' _compute_default_rope_parameters (and the linear scaling).
    return (1.0 / (f32(base) ** (np.arange(0, dim, 2).astype(f32) / f32(dim)))).astype(f32) / f32(factor)


def cos_sin(pos, dim, **kw):
    # LlamaRotaryEmbedding.forward: freqs = inv_freq x positions, emb = cat(freqs, freqs).
    freqs = pos.astype(f32)[..., None] * inv_freq(dim, **kw)
    emb = np.concatenate([freqs, freqs], -1)
    return np.cos(emb), np.sin(emb)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], -1)


def apply_rope(x, cos, sin, unsqueeze_dim=1):
    # modeling_llama.apply_rotary_pos_emb; [seq, dim] tables broadcast as they are.
    if cos.ndim == 3:
        cos, sin = np.expand_dims(cos, unsqueeze_dim), np.expand_dims(sin, unsqueeze_dim)
    elif unsqueeze_dim == 2:
        cos, sin = cos[:, None, :], sin[:, None, :]
    rd = cos.shape[-1]
    xr, rest = x[..., :rd], x[..., rd:]
    return np.concatenate([xr * cos + rotate_half(xr) * sin, rest], -1)


def rope_gptj(x, pos, rd, base=10000.0):
    # modeling_gptj: duplicate_interleave(sin/cos), rotate_every_two.
    ang = pos.astype(f32)[..., None] * inv_freq(rd, base)
    cos, sin = np.repeat(np.cos(ang), 2, -1), np.repeat(np.sin(ang), 2, -1)
    if pos.ndim == 2:
        cos, sin = cos[:, None], sin[:, None]
    xr = x[..., :rd]
    rot = np.stack([-xr[..., 1::2], xr[..., ::2]], -1).reshape(xr.shape)
    return np.concatenate([xr * cos + rot * sin, x[..., rd:]], -1)


def embeddings(i):
    t, q, k, pos = i["t"], i["q"], i["k"], i["pos"]
    c, s = cos_sin(pos, 8)
    cb, sb = cos_sin(pos[None], 8, base=500000.0)
    cp, sp = cos_sin(pos, 4, factor=2.0)
    return {
        "timestep": timestep_embedding(t, 32),
        "timestep_flip": timestep_embedding(t, 16, flip=True, shift=0),
        "timestep_odd": timestep_embedding(t, 7, max_period=100, scale=2.0),
        "cos": c, "sin": s, "cos_b": cb,
        "q_rot": apply_rope(q, c, s), "k_rot": apply_rope(k, c, s), "q_rot_b": apply_rope(q, cb, sb),
        "q_rot_part": apply_rope(q, cp, sp),
        "k_rot_bshd": apply_rope(k.transpose(0, 2, 1, 3), c, s, unsqueeze_dim=2),
        "k_one": apply_rope(k, *cos_sin(pos, 8, base=1000.0)), "q_interleaved": rope_gptj(q, pos[None], 8),
        "q_interleaved_part": rope_gptj(q, pos, 4, base=100.0),
    }


def comparisons(i):
    x, y, n, b = i["x"], i["y"], i["i"], i["b"]
    return {
        "eq": x == y, "ne": x != y, "gt": x > 0, "ge": x >= y, "lt": 0 < n, "le": n <= 2,
        "eq_num": n == 2, "ne_bool": b != True, "eq_float_int": n == 2.5, "ge_num": 1.0 >= x,
        "l_and": b & (x > 0), "l_or": b | (x != 0), "l_xor": (n != 0) ^ b,
        "l_not": n == 0, "l_not_b": ~b, "op_ge": x >= y, "op_not": ~b,
    }


EXPECT = {"math": math_ops, "comparison": comparisons, "activations": activations, "reductions": reductions, "embeddings": embeddings}
# float32 angles of up to ~1000 rad carry ~3e-5 of rounding in any implementation.
ATOL = {"timestep": 1e-4, "timestep_flip": 1e-4, "timestep_odd": 1e-4}


def close(got, want, atol):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} vs {want.shape}"
    if got.dtype.kind in "iub":
        return None if np.array_equal(got, want) else f"{got.ravel()[:8]} vs {want.ravel()[:8]}"
    g, w = got.astype(np.float64), want.astype(np.float64)
    bad = ~np.isclose(g, w, rtol=1e-4, atol=atol, equal_nan=True)
    if bad.any():
        k = tuple(int(j) for j in np.argwhere(bad)[0])
        return f"at {k}: {g[k]} vs {w[k]} ({bad.sum()} of {bad.size} differ)"
    return None


failures = []
for build in map(Path, sys.argv[1:]):
    stem = json.load(open(build / "record.json"))["identity"]["script"]
    stem = Path(stem).stem
    model = onnx.load(str(build / "model.onnx"))
    opset = model.opset_import[0].version
    tag = f"{stem}@{opset}"
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        failures.append(f"{tag}: onnx.checker: {e}")
    inputs = dict(read_values(str(build / "inputs"), "input"))
    names = [o.name for o in model.graph.output]
    ref = dict(zip(names, ReferenceEvaluator(model).run(None, inputs)))
    want = EXPECT[stem](inputs)
    if sorted(want) != sorted(names):
        failures.append(f"{tag}: outputs {sorted(names)} but formulas for {sorted(want)}")
        continue
    runs = sorted(p for p in (build / "outputs").iterdir())
    if not runs:
        failures.append(f"{tag}: no runtime saved outputs")
    for n in names:
        atol = ATOL.get(n, 1e-5)
        if (e := close(ref[n], want[n], atol)) is not None:
            failures.append(f"{tag}: {n}: onnx.reference vs NumPy: {e}")
    for run in runs:
        got = dict(read_values(str(run), "output"))
        for n in names:
            if n not in got:
                failures.append(f"{tag}: {run.name} saved no output {n}")
            elif (e := close(got[n], want[n], atol := ATOL.get(n, 1e-5))) is not None:
                failures.append(f"{tag}: {n}: {run.name} vs NumPy: {e}")
    print(f"checked {tag}: {len(names)} outputs on {', '.join(r.name for r in runs)}", file=sys.stderr)
print("\n".join(failures))
