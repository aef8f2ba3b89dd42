//! Indexing and rearranging: roll, flip, tril/triu, one_hot, index_select,
//! narrow; and nn::embedding_bag (a lookup reduced per bag).

use super::super::composites::{self, BagMode};
use super::super::model::{Model, native, normal_param, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{DTYPE_OPT, OptSpec, Opts, R, ap, axis, ints, opt, positive, traced};
use crate::graph::Op;
use crate::script::host::Host;
use rhai::{Array, Dynamic, Map, NativeCallContext};

const BAG_OPTS: &[OptSpec] = &[
    opt("mode", "\"mean\"", "how a bag is reduced: sum, mean or max"),
    DTYPE_OPT,
];

/// An int or an array of ints.
pub fn int_or_ints(ctx: &NativeCallContext, what: &str, d: &Dynamic) -> R<Vec<i64>> {
    if let Ok(v) = d.as_int() {
        Ok(vec![v])
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        ints(ctx, what, &a)
    } else {
        Err(rt_err(
            ctx,
            format!(
                "{what} must be an int or an array of ints, got {}",
                d.type_name()
            ),
        ))
    }
}

/// Normalized dims, each once (PyTorch refuses repeated dims).
fn distinct_dims(ctx: &NativeCallContext, fname: &str, d: &Dynamic, rank: usize) -> R<Vec<usize>> {
    let dims = int_or_ints(ctx, &format!("{fname} dims"), d)?
        .into_iter()
        .map(|a| axis(ctx, a, rank))
        .collect::<R<Vec<_>>>()?;
    for (i, a) in dims.iter().enumerate() {
        if dims[..i].contains(a) {
            return Err(rt_err(
                ctx,
                format!("{fname}: dim {a} is given more than once"),
            ));
        }
    }
    Ok(dims)
}

pub fn register(api: &mut Api) {
    api.family("indexing");
    api.doc("roll")
        .about(
            "Shifts elements along dims (an int or an array, one shift each), wrapping \
             around: element i moves to (i + shift) mod size. Without dims, over the \
             flattened tensor, shape kept.",
        )
        .onnx("Slice, Slice, Concat per dim (Reshape around them without dims)")
        .torch("torch.roll(x, shifts, dims)");
    let h = api.host.clone();
    api.fun(
        "roll",
        ["x", "shifts"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic| -> R<Tensor> {
            let s = int_or_ints(&ctx, "roll shifts", &s)?;
            if s.len() != 1 {
                return Err(rt_err(
                    &ctx,
                    "roll(x, shifts) without dims takes one shift; give dims for several",
                ));
            }
            traced(&ctx, &h, &x, |t, v| composites::roll_flat(t, v, s[0]))
        },
    );
    let h = api.host.clone();
    api.fun(
        "roll",
        ["x", "shifts", "dims"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic, d: Dynamic| -> R<Tensor> {
            let s = int_or_ints(&ctx, "roll shifts", &s)?;
            let d = int_or_ints(&ctx, "roll dims", &d)?
                .into_iter()
                .map(|a| axis(&ctx, a, x.rank()))
                .collect::<R<Vec<_>>>()?;
            if s.len() != d.len() {
                return Err(rt_err(
                    &ctx,
                    format!(
                        "roll: {} shifts for {} dims; give one shift per dim",
                        s.len(),
                        d.len()
                    ),
                ));
            }
            traced(&ctx, &h, &x, |t, v| composites::roll(t, v, &s, &d))
        },
    );
    api.doc("flip")
        .about("Reverses the order of elements along dims (an int or an array).")
        .onnx("Slice (steps -1)")
        .torch("torch.flip(x, dims)");
    let h = api.host.clone();
    api.fun(
        "flip",
        ["x", "dims"],
        move |ctx: NativeCallContext, x: Tensor, d: Dynamic| -> R<Tensor> {
            let d = distinct_dims(&ctx, "flip", &d, x.rank())?;
            traced(&ctx, &h, &x, |t, v| composites::flip(t, v, &d))
        },
    );
    for (name, upper, keep) in [
        ("tril", false, "on and below"),
        ("triu", true, "on and above"),
    ] {
        api.doc(name)
            .about(&format!(
                "Keeps the entries {keep} the diagonal of the last two dims, zeroing the \
                 rest; diagonal (default 0) shifts it: > 0 above the main diagonal, < 0 below."
            ))
            .onnx("Trilu (opset 14), else Where with a constant mask")
            .torch(&format!("torch.{name}(x, diagonal)"));
        let h = api.host.clone();
        api.fun(
            name,
            ["x"],
            move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
                ap(&ctx, &h, Op::Trilu { upper, diagonal: 0 }, &[x])
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "diagonal"],
            move |ctx: NativeCallContext, x: Tensor, k: i64| -> R<Tensor> {
                ap(&ctx, &h, Op::Trilu { upper, diagonal: k }, &[x])
            },
        );
    }
    api.doc("one_hot")
        .about(
            "An int64 tensor with a new last dim of num_classes: 1 at each index, 0 \
             elsewhere. num_classes must be given (the largest index is not known while \
             tracing).",
        )
        .onnx("OneHot")
        .torch("F.one_hot(indices, num_classes)");
    let h = api.host.clone();
    api.fun(
        "one_hot",
        ["indices", "num_classes"],
        move |ctx: NativeCallContext, x: Tensor, n: i64| -> R<Tensor> {
            if n < 1 {
                return Err(rt_err(
                    &ctx,
                    format!(
                        "one_hot: num_classes must be at least 1, got {n} (it cannot be inferred \
                         from the values while tracing)"
                    ),
                ));
            }
            ap(&ctx, &h, Op::OneHot { depth: n as usize }, &[x])
        },
    );
    api.doc("index_select")
        .about("The entries of x at a 1-d int64/int32 index along dim, in the index's order.")
        .onnx("Gather")
        .torch("torch.index_select(x, dim, index)");
    let h = api.host.clone();
    api.fun(
        "index_select",
        ["x", "dim", "index"],
        move |ctx: NativeCallContext, x: Tensor, d: i64, i: Tensor| -> R<Tensor> {
            let d = axis(&ctx, d, x.rank())?;
            if i.rank() > 1 {
                return Err(rt_err(
                    &ctx,
                    format!(
                        "index_select: the index must be 1-d, got shape {:?}; use gather(x, index, dim) \
                         for an index of any shape",
                        i.shape()
                    ),
                ));
            }
            ap(&ctx, &h, Op::Gather { axis: d }, &[x, i])
        },
    );
    api.doc("narrow")
        .about("length elements of dim from start (negative start counts from the end).")
        .onnx("Slice")
        .torch("torch.narrow(x, dim, start, length)");
    let h = api.host.clone();
    api.fun(
        "narrow",
        ["x", "dim", "start", "length"],
        move |ctx: NativeCallContext, x: Tensor, d: i64, s: i64, len: i64| -> R<Tensor> {
            let d = axis(&ctx, d, x.rank())?;
            let n = x.shape()[d] as i64;
            let start = if s < 0 { s + n } else { s };
            if !(0..=n).contains(&start) || len < 0 || start + len > n {
                return Err(rt_err(
                    &ctx,
                    format!("narrow: start {s} and length {len} do not fit in dim {d} of size {n}"),
                ));
            }
            ap(
                &ctx,
                &h,
                Op::Slice {
                    starts: vec![start],
                    ends: vec![start + len],
                    axes: vec![d],
                    steps: vec![1],
                },
                &[x],
            )
        },
    );

    api.doc_layer("embedding_bag")
        .about(
            "A lookup table [num_embeddings, embedding_dim] (normal(0, 1) init) whose \
             forward takes [bags, bag_size] int64 ids and reduces each bag's rows (mode sum, \
             mean or max); 1-d ids with offsets are not supported.",
        )
        .onnx("Gather, ReduceSum | ReduceMean | ReduceMax")
        .torch("nn.EmbeddingBag(num_embeddings, embedding_dim, mode=...)")
        .options(BAG_OPTS);
    let h = api.host.clone();
    api.layer(
        "embedding_bag",
        ["num_embeddings", "embedding_dim"],
        move |ctx: NativeCallContext, n: i64, d: i64| embedding_bag(&ctx, &h, n, d, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "embedding_bag",
        ["num_embeddings", "embedding_dim", "opts"],
        move |ctx: NativeCallContext, n: i64, d: i64, o: Map| embedding_bag(&ctx, &h, n, d, o),
    );
}

fn embedding_bag(ctx: &NativeCallContext, h: &Host, n: i64, d: i64, opts: Map) -> R<Model> {
    let o = Opts::new(ctx, "nn::embedding_bag", opts, BAG_OPTS)?;
    let (n, d) = (
        positive(ctx, "num_embeddings", n)?,
        positive(ctx, "embedding_dim", d)?,
    );
    let mode = match o.string("mode")?.as_str() {
        "sum" => BagMode::Sum,
        "mean" => BagMode::Mean,
        "max" => BagMode::Max,
        m => {
            return Err(rt_err(
                ctx,
                format!("nn::embedding_bag: mode \"{m}\" is not known; use sum, mean or max"),
            ));
        }
    };
    let dt = o.dtype()?;
    if !dt.is_float() {
        return Err(rt_err(
            ctx,
            format!("nn::embedding_bag: {dt} is not a float dtype"),
        ));
    }
    let params = vec![("weight", normal_param(h, &[n, d], 1.0, dt))];
    let layer = native(move |t, x, ps| composites::embedding_bag(t, x, ps[0], mode));
    Ok(Model::new(h, "EmbeddingBag", layer, params, vec![]))
}
