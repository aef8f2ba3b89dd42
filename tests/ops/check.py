# The NumPy references of the op scripts in tests/ops/ (PyTorch's semantics,
# written from its documentation and UpSample.h, not from turnkey's
# lowering), and the check of every build in a cache: the ONNX checker with
# full shape inference, ONNX's reference evaluator, and every runtime's saved
# outputs against both. Needs tests/common/values.py before it.
# Usage: check.py CACHE -> one JSON line per (build, output, source).
import glob, json, math, os, sys
import numpy as np, onnx, onnx.utils
from onnx.reference import ReferenceEvaluator


# ---- resampling: PyTorch's coordinate rules, axis by axis (float32 as ATen)

def _scale(n_in, n_out, scale):
    """ATen's compute_scales_value: 1/scale_factor when given, else in/out."""
    return np.float32(1.0 / scale) if scale else np.float32(n_in / n_out)


def _src(dst, n_in, n_out, scale, align, cubic):
    """area_pixel_compute_source_index."""
    if align:
        s = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0)
        return s * np.float32(dst)
    s = _scale(n_in, n_out, scale)
    src = s * (np.float32(dst) + np.float32(0.5)) - np.float32(0.5)
    return src if cubic or src >= 0 else np.float32(0)


def _cubic(t, a=-0.75):
    """get_cubic_upsample_coefficients for taps -1, 0, 1, 2."""
    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1
    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def _matrix(n_in, n_out, scale, mode, align):
    """W [out, in] with y = W @ x along one axis."""
    W = np.zeros((n_out, n_in), np.float64)
    # ATen's special cases: nearest and linear copy an axis whose size
    # stays, nearest takes dst >> 1 when it doubles, whatever the scale.
    if n_out == n_in and mode in ("nearest", "linear"):
        return np.eye(n_in)
    if n_out == 2 * n_in and mode == "nearest":
        W[np.arange(n_out), np.arange(n_out) // 2] = 1
        return W
    for d in range(n_out):
        if mode == "nearest":
            i = min(int(np.floor(np.float32(d) * _scale(n_in, n_out, scale))), n_in - 1)
            W[d, i] = 1
        elif mode == "nearest-exact":
            # floorf((dst + 0.5) * scale): the product in double, then float.
            s = _scale(n_in, n_out, scale)
            i = min(int(np.floor(np.float32((d + 0.5) * float(s)))), n_in - 1)
            W[d, i] = 1
        elif mode == "linear":
            src = _src(d, n_in, n_out, scale, align, False)
            i0 = min(int(src), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            lam = float(src) - i0
            W[d, i0] += 1 - lam
            W[d, i1] += lam
        elif mode == "cubic":
            src = _src(d, n_in, n_out, scale, align, True)
            i = int(np.floor(src))
            for k, c in enumerate(_cubic(float(src) - i)):
                W[d, min(max(i - 1 + k, 0), n_in - 1)] += c
    return W


def interpolate(x, size=None, scale=None, mode="nearest", align=False, recompute=False):
    x = np.asarray(x, np.float64)
    sp = x.ndim - 2
    if scale is not None:
        scale = scale if isinstance(scale, (list, tuple)) else [scale] * sp
        size = [int(math.floor(x.shape[2 + i] * scale[i])) for i in range(sp)]
        if recompute:
            scale = None
    else:
        size = size if isinstance(size, (list, tuple)) else [size] * sp
    if mode == "area":
        return adaptive(x, size, np.mean)
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    for i in range(sp):
        W = _matrix(x.shape[2 + i], size[i], scale[i] if scale else None, kind, align)
        x = np.moveaxis(np.tensordot(W, np.moveaxis(x, 2 + i, 0), axes=1), 0, 2 + i)
    return x


# ---- pooling and convolution

def bins(n_in, n_out):
    """PyTorch's adaptive bins: [floor(i*in/out), ceil((i+1)*in/out))."""
    return [((i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


def adaptive(x, size, reduce):
    """Adaptive pooling of the last len(size) axes, None keeping an axis."""
    x = np.asarray(x, np.float64)
    sp = len(size)
    for k in range(sp):
        ax = x.ndim - sp + k
        n = x.shape[ax]
        m = size[k] if size[k] is not None else n
        parts = [reduce(np.take(x, range(s, e), axis=ax), axis=ax, keepdims=True)
                 for s, e in bins(n, m)]
        x = np.concatenate(parts, axis=ax)
    return x


def conv(x, w, b, stride, pad, groups=1):
    """F.conv{1,2,3}d: cross-correlation with zero padding."""
    sp = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=tuple(range(2, 2 + sp)))
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    outs = []
    for g in range(groups):
        xs = win[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        # windows: batch, channel, output position..., kernel offset...
        o_sp, k_sp = "uvw"[:sp], "ijk"[:sp]
        outs.append(np.einsum(f"nc{o_sp}{k_sp},oc{k_sp}->no{o_sp}", xs, ws))
    y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * sp)
    return y


def conv_transpose(x, w, b, stride, pad, out_pad, groups=1):
    """F.conv_transpose{1,2,3}d by its definition: every input cell scatters
    the kernel times its value, then `pad` is cut from both sides."""
    sp = x.ndim - 2
    n, cin = x.shape[:2]
    k = w.shape[2:]
    cout_g = w.shape[1]
    cin_g = cin // groups
    full = [(x.shape[2 + i] - 1) * stride[i] + k[i] + out_pad[i] for i in range(sp)]
    y = np.zeros((n, cout_g * groups, *full))
    for idx in np.ndindex(*x.shape[2:]):
        for g in range(groups):
            xs = x[(slice(None), slice(g * cin_g, (g + 1) * cin_g)) + idx]  # n, cin_g
            contrib = np.einsum("nc,co...->no...", xs, w[g * cin_g:(g + 1) * cin_g])
            sl = tuple(slice(idx[i] * stride[i], idx[i] * stride[i] + k[i]) for i in range(sp))
            y[(slice(None), slice(g * cout_g, (g + 1) * cout_g)) + sl] += contrib
    y = y[(slice(None), slice(None)) + tuple(slice(pad[i], full[i] - pad[i]) for i in range(sp))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * sp)
    return y


# ---- normalization

def group_norm(x, g, w=None, b=None, eps=1e-5):
    n, c = x.shape[:2]
    v = x.reshape(n, g, -1).astype(np.float64)
    v = (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + eps)
    v = v.reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if w is not None:
        v = v * w.reshape(shape)
    if b is not None:
        v = v + b.reshape(shape)
    return v


def instance_norm(x, w=None, b=None, eps=1e-5):
    return group_norm(x, x.shape[1], w, b, eps)


def rms_norm(x, ndims, w=None, eps=float(np.finfo(np.float32).eps)):
    axes = tuple(range(x.ndim - ndims, x.ndim))
    y = x / np.sqrt((x.astype(np.float64) ** 2).mean(axis=axes, keepdims=True) + eps)
    return y * w if w is not None else y


# ---- the expected value of each output, from the build's inputs

def pixel_shuffle(x, r):
    """out[..., c, h*r + i, w*r + j] = in[..., c*r*r + i*r + j, h, w]."""
    *lead, C, H, W = x.shape
    out = np.zeros((*lead, C // (r * r), H * r, W * r), x.dtype)
    for i in range(r):
        for j in range(r):
            out[..., i::r, j::r] = x[..., i * r + j::r * r, :, :]
    return out


def pixel_unshuffle(x, r):
    *lead, C, H, W = x.shape
    out = np.zeros((*lead, C * r * r, H // r, W // r), x.dtype)
    for i in range(r):
        for j in range(r):
            out[..., i * r + j::r * r, :, :] = x[..., i::r, j::r]
    return out


REFS = {
    # shape_ops
    "roll_dims": lambda I: np.roll(I["x"], (1, -2), axis=(1, 3)),
    "roll_flat": lambda I: np.roll(I["x"], 7),
    "flip": lambda I: np.flip(I["x"], (0, 3)),
    "tril": lambda I: np.tril(I["sq"]),
    "triu_1": lambda I: np.triu(I["sq"], 1),
    "tril_m1": lambda I: np.tril(I["sq"], -1),
    "one_hot": lambda I: np.eye(5, dtype=np.int64)[I["ids"]],
    "pixel_shuffle": lambda I: pixel_shuffle(I["img"], 2),
    "pixel_shuffle_3d": lambda I: pixel_shuffle(I["img3"], 2),
    "pixel_unshuffle": lambda I: pixel_unshuffle(I["big"], 2),
    "repeat": lambda I: np.tile(I["v"], (2, 1, 3)),
    "tile": lambda I: np.tile(I["x"], (2, 1)),
    "chunk_0": lambda I: I["x"][..., 0:2],
    "chunk_1": lambda I: I["x"][..., 2:4],
    "chunk_2": lambda I: I["x"][..., 4:5],
    "stack": lambda I: np.stack([I["v"], I["v"] * 2], 1),
    "index_select": lambda I: np.take(I["x"], I["idx"], axis=2),
    "narrow": lambda I: I["x"][..., 2:4],
    "pad_reflect": lambda I: np.pad(I["sq"], ((0, 0), (0, 0), (1, 2)), mode="reflect"),
    "pad_replicate": lambda I: np.pad(I["x"], ((0, 0), (0, 2), (2, 1), (1, 0)), mode="edge"),
    "pad_circular": lambda I: np.pad(I["x"], ((0, 0), (0, 0), (2, 0), (1, 1)), mode="wrap"),
    "pad_constant": lambda I: np.pad(I["x"], ((0, 0),) * 3 + ((1, 1),), constant_values=0.5),
    "einsum_scores": lambda I: np.einsum("bhqd,bhkd->bhqk", I["q"], I["k"]),
    "einsum_context": lambda I: np.einsum("bhqk,bhkd->bhqd", I["p"], I["k"]),
    "einsum_bilinear": lambda I: np.einsum("bn,anm,bm->ba", I["a"], I["w"], I["b"]),
    "einsum_implicit": lambda I: np.einsum("...ij,jk", I["q"], I["m"]),
    "einsum_broadcast": lambda I: np.einsum("...ij,...jk->...ik", I["bq"], I["bk"]),
    "einsum_sum": lambda I: np.einsum("ijk->", I["w"]),
    "einsum_sum_t": lambda I: np.einsum("ijk->ki", I["w"]),
    "einsum_diag": lambda I: np.einsum("bii->bi", I["d"]),
    # resample_ops
    "nearest_scale": lambda I: interpolate(I["img"], scale=2),
    "nearest_size": lambda I: interpolate(I["img"], size=[7, 4]),
    "nearest_frac": lambda I: interpolate(I["img"], scale=1.5),
    "nearest_exact": lambda I: interpolate(I["img"], size=[8, 4], mode="nearest-exact"),
    "bilinear": lambda I: interpolate(I["img"], scale=1.7, mode="bilinear"),
    "bilinear_ac": lambda I: interpolate(I["img"], size=[9, 4], mode="bilinear", align=True),
    "bilinear_one": lambda I: interpolate(I["img"], size=[1, 3], mode="bilinear"),
    "bilinear_recompute": lambda I: interpolate(I["img"], scale=1.7, mode="bilinear", recompute=True),
    "bicubic": lambda I: interpolate(I["img"], size=[8, 11], mode="bicubic"),
    "bicubic_ac": lambda I: interpolate(I["img"], scale=2, mode="bicubic", align=True),
    "bicubic_down": lambda I: interpolate(I["img"], scale=[1.5, 0.5], mode="bicubic"),
    "linear": lambda I: interpolate(I["seq"], scale=1.6, mode="linear"),
    "trilinear": lambda I: interpolate(I["vol"], size=[4, 6, 3], mode="trilinear"),
    "nearest_3d": lambda I: interpolate(I["vol"], scale=[2, 1, 0.5]),
    "area": lambda I: interpolate(I["img"], size=[3, 4], mode="area"),
    "upsample": lambda I: interpolate(I["img"], scale=2, mode="bilinear"),
    "nearest_keep_double": lambda I: interpolate(I["wide"], scale=[1.1, 2.05]),
    "bilinear_keep": lambda I: interpolate(I["wide"], scale=[1.1, 1.5], mode="bilinear"),
    "bicubic_keep": lambda I: interpolate(I["wide"], scale=[1.1, 1.5], mode="bicubic"),
    "nearest_exact_keep": lambda I: interpolate(I["wide"], scale=[1.1, 2.05], mode="nearest-exact"),
    "nearest_down": lambda I: interpolate(I["long"], scale=0.3),
    "nearest_down_size": lambda I: interpolate(I["long"], size=10),
    "nearest_exact_down": lambda I: interpolate(I["long"], scale=0.3, mode="nearest-exact"),
    "nearest_07": lambda I: interpolate(I["ten"], scale=0.7),
    "linear_07": lambda I: interpolate(I["ten"], scale=0.7, mode="linear"),
    # conv_pool_ops (functions; the layers' weights are initializers)
    "conv3d": lambda I: conv(I["vol"], I["w3"], I["b3"], [2, 1, 1], [1, 0, 1]),
    "conv_t1d": lambda I: conv_transpose(I["seq"], I["wt1"], I["bt1"], [2], [1], [1]),
    "conv_t3d": lambda I: conv_transpose(I["vol"], I["wt3"], None, [2, 1, 2], [0, 0, 0], [0, 0, 0], 2),
    "aavg1": lambda I: adaptive(I["seq"], [4], np.mean),
    "aavg1_up": lambda I: adaptive(I["seq"], [15], np.mean),
    "aavg3": lambda I: adaptive(I["vol"], [2, None, 3], np.mean),
    "aavg3_even": lambda I: adaptive(I["vol"], [5, 3, 1], np.mean),
    "amax1": lambda I: adaptive(I["seq"], [5], np.max),
    "amax2": lambda I: adaptive(I["img"], [3, 4], np.max),
    "amax2_up": lambda I: adaptive(I["img"], [10, 12], np.max),
    "amax2_global": lambda I: adaptive(I["img"], [1, 1], np.max),
    "amax3": lambda I: adaptive(I["vol"], [5, 3, 1], np.max),
    "amax3_uneven": lambda I: adaptive(I["vol"], [2, 4, 3], np.max),
    "layer_aavg1": lambda I: adaptive(I["seq"], [4], np.mean),
    "layer_amax2": lambda I: adaptive(I["img"], [3, 4], np.max),
    # norm_ops
    "group_norm": lambda I: group_norm(I["x"], 3, I["w6"], I["b6"]),
    "group_norm_plain": lambda I: group_norm(I["x"], 2),
    "group_norm_eps": lambda I: group_norm(I["x"], 3, I["w6"], None, 1e-3),
    "group_norm_seq": lambda I: group_norm(I["seq"], 5),
    "instance_norm": lambda I: instance_norm(I["x"]),
    "instance_norm_affine": lambda I: instance_norm(I["x"], I["w6"], I["b6"], 1e-3),
    "rms_norm": lambda I: rms_norm(I["seq"], 1),
    "rms_norm_2d": lambda I: rms_norm(I["seq"], 2, None, 1e-5),
    "rms_norm_weight": lambda I: rms_norm(I["seq"], 1, I["w8"]),
    # the layers' weights start at 1 and biases at 0, as in PyTorch
    "layer_group_norm": lambda I: group_norm(I["x"], 3),
    "layer_instance_norm2d": lambda I: instance_norm(I["x"]),
    "layer_instance_norm1d": lambda I: instance_norm(I["seq"]),
    "layer_instance_norm_running": lambda I: I["x"] / np.sqrt(1 + 1e-3),
}


def close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != {list(want.shape)}"
    if want.dtype.kind in "iub" or got.dtype.kind in "iub":
        if got.dtype.kind not in "iub" or not np.array_equal(got, want):
            return f"{got.dtype} values differ from {want.dtype}"
        return None
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bad = err > 1e-5 + 1e-4 * np.abs(want)
    if bad.any():
        i = np.unravel_index(np.argmax(err), err.shape)
        return f"max |diff| {err.max():.3g} at {list(i)}: {got[i]} vs {want[i]}"
    return None


def reference(model, ins):
    """ONNX's reference evaluator's value of every output, or why it has
    none: the whole model at once, else each output's own subgraph. Its
    ConvTranspose cannot do groups, and its BatchNormalization-9 (opsets
    below 14) reads the default momentum as training mode."""
    names = [o.name for o in model.graph.output]
    opset = next(o.version for o in model.opset_import if o.domain == "")
    bn9 = opset < 14 and any(n.op_type == "BatchNormalization" for n in model.graph.node)
    if not bn9:
        try:
            return dict(zip(names, ReferenceEvaluator(model).run(None, ins)))
        except Exception:
            pass
    out = {}
    inputs = [i.name for i in model.graph.input]
    for n in names:
        try:
            sub = onnx.utils.Extractor(model).extract_model(inputs, [n])
            if bn9 and any(x.op_type == "BatchNormalization" for x in sub.graph.node):
                out[n] = "reference evaluator: BatchNormalization-9 computes batch statistics"
                continue
            feeds = {i.name: ins[i.name] for i in sub.graph.input}
            out[n] = ReferenceEvaluator(sub).run(None, feeds)[0]
        except Exception as e:
            out[n] = f"reference evaluator: {str(e)[:200]}"
    return out


def main(cache):
    for build in sorted(glob.glob(os.path.join(cache, "builds", "*"))):
        path = os.path.join(build, "model.onnx")
        model = onnx.load(path)
        b = os.path.basename(build)
        try:
            onnx.checker.check_model(model, full_check=True)
            print(json.dumps({"build": b, "check": "full_check", "error": None}))
        except Exception as e:
            print(json.dumps({"build": b, "check": "full_check", "error": str(e)[:300]}))
        ins = dict(read_values(os.path.join(build, "inputs"), "input"))
        names = [o.name for o in model.graph.output]
        want = {"reference": reference(model, ins), "numpy": {}}
        for n in names:
            if n in REFS:
                want["numpy"][n] = REFS[n](ins)
            if n not in want["numpy"] and isinstance(want["reference"].get(n), str):
                # Neither reference computes this output.
                print(json.dumps({"build": b, "output": n, "check": "reference",
                                  "error": want["reference"][n]}))
        want["reference"] = {n: v for n, v in want["reference"].items() if not isinstance(v, str)}
        for rt in sorted(os.listdir(os.path.join(build, "outputs"))):
            got = dict(read_values(os.path.join(build, "outputs", rt), "output"))
            for n in names:
                for by, refs in want.items():
                    if n not in refs:
                        continue
                    msg = close(got.get(n), refs[n]) if n in got else "missing"
                    print(json.dumps({"build": b, "output": n, "runtime": rt, "by": by,
                                      "error": msg}))


main(sys.argv[1])
