//! Shape and indexing ops: reshape, transpose, slice, split, chunk,
//! concat, stack, gather, expand, repeat/tile, pad.

use super::super::composites;
use super::super::model::{self, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{OptSpec, Opts, R, ap, axis, dims, ints, opt, tensors, traced};
use crate::graph::{Op, PadMode};
use crate::script::host::Host;
use rhai::{Array, Dynamic, Map, NativeCallContext};

pub fn register(api: &mut Api) {
    api.family("shape");
    api.doc("reshape")
        .about("The same values in a new shape; one dim may be -1 (inferred).")
        .onnx("Reshape")
        .torch("x.reshape(shape)");
    let h = api.host.clone();
    api.fun(
        "reshape",
        ["x", "shape"],
        move |ctx: NativeCallContext, x: Tensor, s: Array| -> R<Tensor> {
            let shape = reshape_target(&ctx, &x, &s)?;
            ap(&ctx, &h, Op::Reshape { shape }, &[x])
        },
    );
    api.doc("flatten")
        .about("Merges dims start_dim.. into one (start_dim defaults to 0).")
        .onnx("Flatten or Reshape")
        .torch("torch.flatten(x, start_dim)");
    let h = api.host.clone();
    api.fun(
        "flatten",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> { flatten_fn(&ctx, &h, x, 0) },
    );
    let h = api.host.clone();
    api.fun(
        "flatten",
        ["x", "start_dim"],
        move |ctx: NativeCallContext, x: Tensor, s: i64| -> R<Tensor> {
            flatten_fn(&ctx, &h, x, s)
        },
    );
    api.doc("transpose")
        .about("Swaps two dims.")
        .onnx("Transpose")
        .torch("x.transpose(dim0, dim1)");
    let h = api.host.clone();
    api.fun(
        "transpose",
        ["x", "dim0", "dim1"],
        move |ctx: NativeCallContext, x: Tensor, a: i64, b: i64| -> R<Tensor> {
            let (a, b) = (axis(&ctx, a, x.rank())?, axis(&ctx, b, x.rank())?);
            let mut perm: Vec<usize> = (0..x.rank()).collect();
            perm.swap(a, b);
            ap(&ctx, &h, Op::Transpose { perm }, &[x])
        },
    );
    api.doc("permute")
        .about("Reorders all dims.")
        .onnx("Transpose")
        .torch("x.permute(dims)");
    let h = api.host.clone();
    api.fun(
        "permute",
        ["x", "dims"],
        move |ctx: NativeCallContext, x: Tensor, p: Array| -> R<Tensor> {
            let perm = ints(&ctx, "permute dims", &p)?
                .into_iter()
                .map(|a| axis(&ctx, a, x.rank()))
                .collect::<R<Vec<_>>>()?;
            ap(&ctx, &h, Op::Transpose { perm }, &[x])
        },
    );
    api.doc("squeeze")
        .about("Removes dim (which must have size 1), or every size-1 dim.")
        .onnx("Squeeze")
        .torch("x.squeeze(dim)");
    let h = api.host.clone();
    api.fun(
        "squeeze",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            let axes: Vec<usize> = (0..x.rank()).filter(|&i| x.shape()[i] == 1).collect();
            ap(&ctx, &h, Op::Squeeze { axes }, &[x])
        },
    );
    let h = api.host.clone();
    api.fun(
        "squeeze",
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, a: i64| -> R<Tensor> {
            let a = axis(&ctx, a, x.rank())?;
            ap(&ctx, &h, Op::Squeeze { axes: vec![a] }, &[x])
        },
    );
    api.doc("unsqueeze")
        .about("Inserts a size-1 dim at dim.")
        .onnx("Unsqueeze")
        .torch("x.unsqueeze(dim)");
    let h = api.host.clone();
    api.fun(
        "unsqueeze",
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, a: i64| -> R<Tensor> {
            let a = axis(&ctx, a, x.rank() + 1)?;
            ap(&ctx, &h, Op::Unsqueeze { axes: vec![a] }, &[x])
        },
    );
    for name in ["concat", "cat"] {
        api.doc(name)
            .about("Joins tensors along dim (all other dims equal).")
            .onnx("Concat")
            .torch("torch.cat(tensors, dim)");
        let h = api.host.clone();
        api.fun(
            name,
            ["tensors", "dim"],
            move |ctx: NativeCallContext, xs: Array, a: i64| -> R<Tensor> {
                let ts = tensors(&ctx, &xs)?;
                let r = ts.first().map(Tensor::rank).unwrap_or(0);
                let a = axis(&ctx, a, r)?;
                ap(&ctx, &h, Op::Concat { axis: a }, &ts)
            },
        );
    }
    api.doc("split")
        .about(
            "Splits along dim into chunks of split_size (the last may be smaller), or into \
             the given sizes (an array); returns an array of tensors.",
        )
        .onnx("Split")
        .torch("torch.split(x, split_size_or_sections, dim)");
    let h = api.host.clone();
    api.fun(
        "split",
        ["x", "split_size_or_sections", "dim"],
        move |ctx: NativeCallContext, x: Tensor, sizes: Dynamic, a: i64| -> R<Array> {
            let a = axis(&ctx, a, x.rank())?;
            let dim = x.shape()[a];
            let sizes: Vec<usize> = if let Ok(n) = sizes.as_int() {
                if n < 1 {
                    return Err(rt_err(&ctx, "split size must be at least 1"));
                }
                let n = n as usize;
                (0..dim.div_ceil(n)).map(|i| n.min(dim - i * n)).collect()
            } else if let Some(arr) = sizes.clone().try_cast::<Array>() {
                ints(&ctx, "split sizes", &arr)?
                    .into_iter()
                    .map(|v| v.max(0) as usize)
                    .collect()
            } else {
                return Err(rt_err(
                    &ctx,
                    "split(x, size_or_sizes, dim): sizes must be an int or an array of ints",
                ));
            };
            let outs = h
                .with_trace(|t| t.apply(Op::Split { axis: a, sizes }, &[x]))
                .map_err(|e| rt_err(&ctx, e))?;
            Ok(outs.into_iter().map(Dynamic::from).collect())
        },
    );
    api.doc("slice")
        .about(
            "Elements start..end (step 1 by default) along dim; negative bounds count from \
             the end and bounds are clamped, as in Python slicing.",
        )
        .onnx("Slice")
        .torch("x.narrow / x[..., start:end:step]");
    let h = api.host.clone();
    api.fun(
        "slice",
        ["x", "dim", "start", "end"],
        move |ctx: NativeCallContext, x: Tensor, a: i64, s: i64, e: i64| -> R<Tensor> {
            slice(&ctx, &h, x, a, s, e, 1)
        },
    );
    let h = api.host.clone();
    api.fun(
        "slice",
        ["x", "dim", "start", "end", "step"],
        move |ctx: NativeCallContext, x: Tensor, a: i64, s: i64, e: i64, st: i64| -> R<Tensor> {
            slice(&ctx, &h, x, a, s, e, st)
        },
    );
    api.doc("gather")
        .about(
            "Picks entries of x along dim by an int64/int32 index tensor; the result has the \
             index's shape in place of dim (embedding lookup, index_select).",
        )
        .onnx("Gather")
        .torch("torch.index_select / embedding");
    let h = api.host.clone();
    api.fun(
        "gather",
        ["x", "index", "dim"],
        move |ctx: NativeCallContext, x: Tensor, i: Tensor, a: i64| -> R<Tensor> {
            let a = axis(&ctx, a, x.rank())?;
            ap(&ctx, &h, Op::Gather { axis: a }, &[x, i])
        },
    );
    api.doc("expand")
        .about("Broadcasts x to shape.")
        .onnx("Expand")
        .torch("x.expand(shape)");
    let h = api.host.clone();
    api.fun(
        "expand",
        ["x", "shape"],
        move |ctx: NativeCallContext, x: Tensor, s: Array| -> R<Tensor> {
            let shape = dims(&ctx, &s)?;
            ap(&ctx, &h, Op::Expand { shape }, &[x])
        },
    );
    api.doc("pad")
        .about(
            "Pads x: pad holds (before, after) pairs from the last dim backwards, as in \
             F.pad. A value (default 0) fills constant pads; options choose the mode: \
             reflect (mirror without the edge), replicate (the edge repeated) or circular \
             (wrap around), each for the last 1 to 3 dims of a tensor with 1 or 2 more.",
        )
        .onnx("Pad (modes constant, reflect, edge); circular: Slice, Concat")
        .torch("F.pad(x, pad, mode=mode, value=value)")
        .options(PAD_OPTS);
    let h = api.host.clone();
    api.fun(
        "pad",
        ["x", "pad"],
        move |ctx: NativeCallContext, x: Tensor, p: Array| -> R<Tensor> {
            pad(&ctx, &h, x, &p, "constant", 0.0)
        },
    );
    let h = api.host.clone();
    api.fun(
        "pad",
        ["x", "pad", "value"],
        move |ctx: NativeCallContext, x: Tensor, p: Array, v: f64| -> R<Tensor> {
            pad(&ctx, &h, x, &p, "constant", v)
        },
    );
    let h = api.host.clone();
    api.fun(
        "pad",
        ["x", "pad", "opts"],
        move |ctx: NativeCallContext, x: Tensor, p: Array, o: Map| -> R<Tensor> {
            let o = Opts::new(&ctx, "pad", o, PAD_OPTS)?;
            let mode = o.string("mode")?;
            if mode != "constant" && o.get("value").is_some() {
                return Err(rt_err(
                    &ctx,
                    format!("pad: mode \"{mode}\" takes no value (it fills from the input)"),
                ));
            }
            pad(&ctx, &h, x, &p, &mode, o.float("value")?)
        },
    );
    api.doc("chunk")
        .about(
            "Splits dim (default 0) into chunks of ceil(size / chunks) elements, the last \
             smaller (so there may be fewer than chunks); returns an array of tensors.",
        )
        .onnx("Split")
        .torch("torch.chunk(x, chunks, dim)");
    let h = api.host.clone();
    api.fun(
        "chunk",
        ["x", "chunks"],
        move |ctx: NativeCallContext, x: Tensor, n: i64| -> R<Array> { chunk(&ctx, &h, x, n, 0) },
    );
    let h = api.host.clone();
    api.fun(
        "chunk",
        ["x", "chunks", "dim"],
        move |ctx: NativeCallContext, x: Tensor, n: i64, d: i64| -> R<Array> {
            chunk(&ctx, &h, x, n, d)
        },
    );
    api.doc("stack")
        .about("Joins tensors of one shape along a new dim (default 0).")
        .onnx("Unsqueeze, Concat")
        .torch("torch.stack(tensors, dim)");
    let h = api.host.clone();
    api.fun(
        "stack",
        ["tensors"],
        move |ctx: NativeCallContext, xs: Array| -> R<Tensor> { stack(&ctx, &h, &xs, 0) },
    );
    let h = api.host.clone();
    api.fun(
        "stack",
        ["tensors", "dim"],
        move |ctx: NativeCallContext, xs: Array, d: i64| -> R<Tensor> { stack(&ctx, &h, &xs, d) },
    );
    api.doc("repeat")
        .about(
            "Tiles x sizes[i] times along dim i; sizes may be longer than x's rank (new \
             leading dims), not shorter.",
        )
        .onnx("Tile (Reshape first for new dims)")
        .torch("x.repeat(sizes)");
    let h = api.host.clone();
    api.fun(
        "repeat",
        ["x", "sizes"],
        move |ctx: NativeCallContext, x: Tensor, s: Array| -> R<Tensor> {
            let s = ints(&ctx, "repeat sizes", &s)?;
            if s.len() < x.rank() {
                return Err(rt_err(
                    &ctx,
                    format!(
                        "repeat: {} sizes for a tensor of rank {}; give at least one per dim \
                         (tile(x, dims) pads them with 1s)",
                        s.len(),
                        x.rank()
                    ),
                ));
            }
            tile(&ctx, &h, x, s)
        },
    );
    api.doc("tile")
        .about(
            "Tiles x dims[i] times along dim i; fewer dims than x's rank count from the \
             last dim (the rest 1), more add leading dims.",
        )
        .onnx("Tile (Reshape first for new dims)")
        .torch("torch.tile(x, dims)");
    let h = api.host.clone();
    api.fun(
        "tile",
        ["x", "dims"],
        move |ctx: NativeCallContext, x: Tensor, d: Array| -> R<Tensor> {
            let mut d = ints(&ctx, "tile dims", &d)?;
            if d.len() < x.rank() {
                let mut full = vec![1; x.rank() - d.len()];
                full.append(&mut d);
                d = full;
            }
            tile(&ctx, &h, x, d)
        },
    );
}

/// Tile with one count per dim of the result: x gets leading 1-dims first
/// when there are more counts than dims.
fn tile(ctx: &NativeCallContext, h: &Host, x: Tensor, reps: Vec<i64>) -> R<Tensor> {
    if let Some(r) = reps.iter().find(|&&r| r < 1) {
        return Err(rt_err(
            ctx,
            format!("repeat counts must be at least 1, got {r} in {reps:?}"),
        ));
    }
    let repeats: Vec<usize> = reps.iter().map(|&r| r as usize).collect();
    let extra = repeats.len() - x.rank();
    h.with_trace(|t| {
        let mut v = t.value_of(&x)?;
        if extra > 0 {
            let mut shape = vec![1; extra];
            shape.extend(x.shape());
            v = model::op1(t, Op::Reshape { shape }, &[v])?;
        }
        let y = model::op1(t, Op::Tile { repeats }, &[v])?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, e))
}

fn chunk(ctx: &NativeCallContext, h: &Host, x: Tensor, n: i64, d: i64) -> R<Array> {
    let a = axis(ctx, d, x.rank())?;
    if n < 1 {
        return Err(rt_err(
            ctx,
            format!("chunk: chunks must be at least 1, got {n}"),
        ));
    }
    let dim = x.shape()[a];
    let size = dim.div_ceil(n as usize);
    let sizes: Vec<usize> = (0..dim.div_ceil(size))
        .map(|i| size.min(dim - i * size))
        .collect();
    let outs = h
        .with_trace(|t| t.apply(Op::Split { axis: a, sizes }, &[x]))
        .map_err(|e| rt_err(ctx, e))?;
    Ok(outs.into_iter().map(Dynamic::from).collect())
}

fn stack(ctx: &NativeCallContext, h: &Host, xs: &Array, d: i64) -> R<Tensor> {
    let ts = tensors(ctx, xs)?;
    let Some(first) = ts.first() else {
        return Err(rt_err(ctx, "stack needs at least one tensor"));
    };
    let a = axis(ctx, d, first.rank() + 1)?;
    h.with_trace(|t| {
        let ids = ts
            .iter()
            .map(|x| t.value_of(x))
            .collect::<Result<Vec<_>, _>>()?;
        let y = composites::stack(t, &ids, a)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, format!("stack: {e}")))
}

const PAD_OPTS: &[OptSpec] = &[
    opt(
        "mode",
        "\"constant\"",
        "constant, reflect, replicate or circular",
    ),
    opt("value", "0.0", "the fill value of constant padding"),
];

/// torch.nn.functional.pad order: pairs from the last axis backwards.
fn pad(ctx: &NativeCallContext, h: &Host, x: Tensor, p: &Array, mode: &str, v: f64) -> R<Tensor> {
    let p = ints(ctx, "pads", p)?;
    let r = x.rank();
    if p.len() % 2 != 0 || p.len() / 2 > r || p.iter().any(|&v| v < 0) {
        return Err(rt_err(
            ctx,
            format!(
                "pad takes (before, after) pairs from the last axis backwards, at most {r} pairs of non-negative ints; got {p:?}"
            ),
        ));
    }
    let mut pads = vec![0usize; 2 * r];
    for (i, pair) in p.chunks(2).enumerate() {
        let ax = r - 1 - i;
        pads[ax] = pair[0] as usize;
        pads[r + ax] = pair[1] as usize;
    }
    if mode == "constant" {
        let mode = PadMode::Constant;
        return ap(
            ctx,
            h,
            Op::Pad {
                pads,
                value: v,
                mode,
            },
            &[x],
        );
    }
    let fill = match mode {
        "reflect" => Some(PadMode::Reflect),
        "replicate" => Some(PadMode::Edge),
        "circular" => None,
        m => {
            return Err(rt_err(
                ctx,
                format!(
                    "pad: mode \"{m}\" is not known; use constant, reflect, replicate or circular"
                ),
            ));
        }
    };
    // As F.pad: these modes pad the last k dims of a tensor with 1 or 2 more.
    let k = p.len() / 2;
    if !(1..=3).contains(&k) || (r != k + 1 && r != k + 2) {
        return Err(rt_err(
            ctx,
            format!(
                "pad: {mode} padding of the last {k} dims needs a tensor of rank {} or {}, \
                 got {:?}; give 1 to 3 (before, after) pairs for the trailing dims",
                k + 1,
                k + 2,
                x.shape()
            ),
        ));
    }
    match fill {
        Some(mode) => ap(
            ctx,
            h,
            Op::Pad {
                pads,
                value: 0.0,
                mode,
            },
            &[x],
        ),
        None => traced(ctx, h, &x, |t, v| composites::pad_circular(t, v, &pads)),
    }
}

fn reshape_target(ctx: &NativeCallContext, x: &Tensor, s: &Array) -> R<Vec<usize>> {
    let want = ints(ctx, "reshape dims", s)?;
    let total: usize = x.shape().iter().product();
    let known: i64 = want.iter().filter(|&&d| d != -1).product();
    let holes = want.iter().filter(|&&d| d == -1).count();
    if holes > 1 || want.iter().any(|&d| d == 0 || d < -1) {
        return Err(rt_err(
            ctx,
            format!("reshape to {want:?}: dims must be >= 1, with at most one -1"),
        ));
    }
    Ok(want
        .iter()
        .map(|&d| {
            if d == -1 {
                if known > 0 { total / known as usize } else { 0 }
            } else {
                d as usize
            }
        })
        .collect())
}

fn flatten_fn(ctx: &NativeCallContext, h: &Host, x: Tensor, start: i64) -> R<Tensor> {
    let start = axis(ctx, start, x.rank())?;
    h.with_trace(|t| {
        let v = t.value_of(&x)?;
        let y = model::flatten(t, v, start)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, e))
}

fn slice(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    a: i64,
    s: i64,
    e: i64,
    st: i64,
) -> R<Tensor> {
    let a = axis(ctx, a, x.rank())?;
    if st == 0 {
        return Err(rt_err(ctx, "slice step must not be 0"));
    }
    ap(
        ctx,
        h,
        Op::Slice {
            starts: vec![s],
            ends: vec![e],
            axes: vec![a],
            steps: vec![st],
        },
        &[x],
    )
}
