//! Reductions over dims: sums, means, extrema, products, norms, spread
//! (std, variance), logsumexp, the index reductions argmax/argmin/topk and
//! the running sum cumsum, with PyTorch's names and semantics.

use super::super::host::{Host, Trace};
use super::super::model::{op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::math::compose;
use super::util::{OptSpec, Opts, R, ap, axes, axis, opt, positive};
use crate::graph::{DType, HostTensor, Op, ValueId};
use rhai::{Array, Dynamic, Map, NativeCallContext};

#[derive(Clone, Copy)]
enum Kind {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

fn reduce_op(kind: Kind, axes: Vec<usize>, keepdims: bool) -> Op {
    match kind {
        Kind::Mean => Op::ReduceMean { axes, keepdims },
        Kind::Sum => Op::ReduceSum { axes, keepdims },
        Kind::Max => Op::ReduceMax { axes, keepdims },
        Kind::Min => Op::ReduceMin { axes, keepdims },
        Kind::Prod => Op::ReduceProd { axes, keepdims },
    }
}

/// Reduces over `a` (an int or an array; `()` or `[]` for every dim).
fn reduce(
    ctx: &NativeCallContext,
    h: &Host,
    kind: Kind,
    x: Tensor,
    a: &Dynamic,
    keepdims: bool,
) -> R<Tensor> {
    let axes = if a.is_unit() {
        vec![]
    } else {
        axes(ctx, a, x.rank())?
    };
    let x = match kind {
        // torch.prod of an integer or bool tensor is int64.
        Kind::Prod if !x.dtype().is_float() && x.dtype() != DType::Int64 => {
            ap(ctx, h, Op::Cast { to: DType::Int64 }, &[x])?
        }
        _ => x,
    };
    ap(ctx, h, reduce_op(kind, axes, keepdims), &[x])
}

/// Registers `name(x)`, `name(x, dim)` and `name(x, dim, keepdim)`.
fn register_reduce(api: &mut Api, name: &str, kind: Kind, with_all: bool) {
    if with_all {
        let h = api.host.clone();
        api.fun(
            name,
            ["x"],
            move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
                reduce(&ctx, &h, kind, x, &Dynamic::UNIT, false)
            },
        );
    }
    let h = api.host.clone();
    api.fun(
        name,
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, a: Dynamic| -> R<Tensor> {
            reduce(&ctx, &h, kind, x, &a, false)
        },
    );
    let h = api.host.clone();
    api.fun(
        name,
        ["x", "dim", "keepdim"],
        move |ctx: NativeCallContext, x: Tensor, a: Dynamic, k: bool| -> R<Tensor> {
            reduce(&ctx, &h, kind, x, &a, k)
        },
    );
}

fn need_float(ctx: &NativeCallContext, fname: &str, x: &Tensor) -> R<()> {
    if !x.dtype().is_float() {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: needs a float tensor, got {} (cast with .cast(\"float32\"))",
                x.dtype()
            ),
        ));
    }
    Ok(())
}

fn scalar(t: &mut Trace, like: ValueId, v: f64) -> ValueId {
    let d = t.graph.info(like).dtype;
    t.graph.add_const(HostTensor::full(d, &[], v))
}

const SPREAD_OPTS: &[OptSpec] = &[
    opt(
        "correction",
        "1",
        "divide by N - correction (1: Bessel's correction; 0: the population value)",
    ),
    opt("keepdim", "false", "keep the reduced dims as size 1"),
];

/// torch.var / torch.std: sum((x - mean)^2) / (N - correction) over dims.
fn spread(
    ctx: &NativeCallContext,
    h: &Host,
    fname: &str,
    x: Tensor,
    a: &Dynamic,
    opts: Map,
    root: bool,
) -> R<Tensor> {
    let o = Opts::new(ctx, fname, opts, SPREAD_OPTS)?;
    let correction = o.float("correction")?;
    let keepdims = o.bool("keepdim")?;
    need_float(ctx, fname, &x)?;
    let axes = if a.is_unit() {
        vec![]
    } else {
        axes(ctx, a, x.rank())?
    };
    let n: usize = if axes.is_empty() {
        x.shape().iter().product()
    } else {
        axes.iter().map(|&i| x.shape()[i]).product()
    };
    let dof = n as f64 - correction;
    if dof <= 0.0 {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: {n} values with correction {correction} leave no degrees of freedom \
                 (PyTorch returns nan or inf here); reduce over more values or lower the correction"
            ),
        ));
    }
    compose(ctx, h, fname, &[&x], |t, v| {
        let mean = op1(
            t,
            Op::ReduceMean {
                axes: axes.clone(),
                keepdims: true,
            },
            &[v[0]],
        )?;
        let d = op1(t, Op::Sub, &[v[0], mean])?;
        let sq = op1(t, Op::Mul, &[d, d])?;
        let s = op1(t, Op::ReduceSum { axes, keepdims }, &[sq])?;
        let k = scalar(t, s, dof);
        let var = op1(t, Op::Div, &[s, k])?;
        if root {
            op1(t, Op::Sqrt, &[var])
        } else {
            Ok(var)
        }
    })
}

/// The p of torch.norm: a number, or "fro", "inf", "-inf".
fn norm_p(ctx: &NativeCallContext, p: &Dynamic) -> R<f64> {
    if let Ok(s) = p.clone().into_immutable_string() {
        return match s.as_str() {
            "fro" => Ok(2.0),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            other => Err(rt_err(
                ctx,
                format!(
                    "norm: p \"{other}\" is not supported; use a number, \"fro\", \"inf\" or \"-inf\""
                ),
            )),
        };
    }
    super::util::num(ctx, p)
}

/// torch.norm(x, p, dim, keepdim): ReduceL2 for 2 and "fro", ReduceL1 for
/// 1, max/min of |x| for +-inf, the count of non-zeros for 0, else
/// (sum |x|^p)^(1/p).
fn norm(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    p: &Dynamic,
    a: &Dynamic,
    keepdims: bool,
) -> R<Tensor> {
    need_float(ctx, "norm", &x)?;
    let p = norm_p(ctx, p)?;
    if p.is_nan() {
        return Err(rt_err(ctx, "norm: p is nan"));
    }
    let axes = if a.is_unit() {
        vec![]
    } else {
        axes(ctx, a, x.rank())?
    };
    compose(ctx, h, "norm", &[&x], |t, v| {
        let x = v[0];
        if p == 2.0 {
            return op1(t, Op::ReduceL2 { axes, keepdims }, &[x]);
        }
        if p == 1.0 {
            return op1(t, Op::ReduceL1 { axes, keepdims }, &[x]);
        }
        let abs = op1(t, Op::Abs, &[x])?;
        if p == f64::INFINITY {
            return op1(t, Op::ReduceMax { axes, keepdims }, &[abs]);
        }
        if p == f64::NEG_INFINITY {
            return op1(t, Op::ReduceMin { axes, keepdims }, &[abs]);
        }
        if p == 0.0 {
            let zero = scalar(t, x, 0.0);
            let z = op1(t, Op::Equal, &[x, zero])?;
            let d = t.graph.info(x).dtype;
            let z = op1(t, Op::Cast { to: d }, &[z])?;
            let one = scalar(t, x, 1.0);
            let nz = op1(t, Op::Sub, &[one, z])?;
            return op1(t, Op::ReduceSum { axes, keepdims }, &[nz]);
        }
        let e = scalar(t, x, p);
        let pw = op1(t, Op::Pow, &[abs, e])?;
        let s = op1(t, Op::ReduceSum { axes, keepdims }, &[pw])?;
        let inv = scalar(t, s, 1.0 / p);
        op1(t, Op::Pow, &[s, inv])
    })
}

/// torch.logsumexp, stably: m + log(sum(exp(x - m))) with m the max over
/// the dims, taken as 0 where it is infinite (as PyTorch does).
fn logsumexp(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    a: &Dynamic,
    keepdims: bool,
) -> R<Tensor> {
    need_float(ctx, "logsumexp", &x)?;
    let axes = axes(ctx, a, x.rank())?;
    compose(ctx, h, "logsumexp", &[&x], |t, v| {
        let x = v[0];
        let m = op1(
            t,
            Op::ReduceMax {
                axes: axes.clone(),
                keepdims: true,
            },
            &[x],
        )?;
        let inf = scalar(t, m, f64::INFINITY);
        let zero = scalar(t, m, 0.0);
        let am = op1(t, Op::Abs, &[m])?;
        let infinite = op1(t, Op::Equal, &[am, inf])?;
        let m = op1(t, Op::Where, &[infinite, zero, m])?;
        let d = op1(t, Op::Sub, &[x, m])?;
        let e = op1(t, Op::Exp, &[d])?;
        let s = op1(
            t,
            Op::ReduceSum {
                axes: axes.clone(),
                keepdims,
            },
            &[e],
        )?;
        let l = op1(t, Op::Log, &[s])?;
        let m = if keepdims {
            m
        } else {
            let shape = t.graph.info(l).shape.clone();
            op1(t, Op::Reshape { shape }, &[m])?
        };
        op1(t, Op::Add, &[l, m])
    })
}

/// torch.argmax / argmin; without a dim, over the flattened tensor.
fn arg(
    ctx: &NativeCallContext,
    h: &Host,
    max: bool,
    x: Tensor,
    dim: Option<i64>,
    keepdims: bool,
) -> R<Tensor> {
    let fname = if max { "argmax" } else { "argmin" };
    let make = |axis: usize| {
        if max {
            Op::ArgMax { axis, keepdims }
        } else {
            Op::ArgMin { axis, keepdims }
        }
    };
    match dim {
        Some(d) => {
            let a = axis(ctx, d, x.rank())?;
            ap(ctx, h, make(a), &[x])
        }
        None => {
            let n = x.shape().iter().product();
            compose(ctx, h, fname, &[&x], |t, v| {
                let flat = op1(t, Op::Reshape { shape: vec![n] }, &[v[0]])?;
                op1(t, make(0), &[flat])
            })
        }
    }
}

fn topk(ctx: &NativeCallContext, h: &Host, x: Tensor, k: i64, dim: i64, largest: bool) -> R<Array> {
    let k = positive(ctx, "topk: k", k)?;
    let a = axis(ctx, dim, x.rank())?;
    let op = Op::TopK {
        k,
        axis: a,
        largest,
    };
    let outs = h
        .with_trace(|t| t.apply(op, &[x]))
        .map_err(|e| rt_err(ctx, e))?;
    Ok(outs.into_iter().map(Dynamic::from).collect())
}

pub fn register(api: &mut Api) {
    api.family("reductions");
    let all: [(&str, &str, &str, &str, Kind, bool); 8] = [
        (
            "mean",
            "Mean over dim(s) (an int or an array; every dim when none is given); keepdim keeps \
             them as size 1.",
            "ReduceMean",
            "torch.mean(x, dim, keepdim)",
            Kind::Mean,
            true,
        ),
        (
            "sum",
            "Sum over dim(s) (every dim when none is given); keepdim keeps them as size 1.",
            "ReduceSum",
            "torch.sum(x, dim, keepdim)",
            Kind::Sum,
            true,
        ),
        (
            "reduce_mean",
            "Same as mean.",
            "ReduceMean",
            "torch.mean",
            Kind::Mean,
            false,
        ),
        (
            "reduce_sum",
            "Same as sum.",
            "ReduceSum",
            "torch.sum",
            Kind::Sum,
            false,
        ),
        (
            "reduce_max",
            "Maximum over dim(s) (values only; see amax, argmax).",
            "ReduceMax",
            "torch.amax",
            Kind::Max,
            false,
        ),
        (
            "amax",
            "Maximum over dim(s) (every dim when none is given; values only, see argmax and \
             topk for indices).",
            "ReduceMax",
            "torch.amax(x, dim, keepdim)",
            Kind::Max,
            true,
        ),
        (
            "amin",
            "Minimum over dim(s) (every dim when none is given).",
            "ReduceMin",
            "torch.amin(x, dim, keepdim)",
            Kind::Min,
            true,
        ),
        (
            "prod",
            "Product over dim(s) (every dim when none is given); integer and bool tensors give \
             int64, as in PyTorch.",
            "ReduceProd",
            "torch.prod(x, dim, keepdim)",
            Kind::Prod,
            true,
        ),
    ];
    for (name, about, onnx, torch, kind, with_all) in all {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        register_reduce(api, name, kind, with_all);
    }

    for (name, root, about, onnx, torch) in [
        (
            "std",
            true,
            "Standard deviation over dims (every dim when none is given or ()), dividing by \
             N - correction.",
            "ReduceMean, Sub, Mul, ReduceSum, Div, Sqrt",
            "torch.std(x, dim, correction=1, keepdim=False)",
        ),
        (
            "variance",
            false,
            "Variance over dims (every dim when none is given or ()), dividing by \
             N - correction. Named variance because Rhai reserves `var`.",
            "ReduceMean, Sub, Mul, ReduceSum, Div",
            "torch.var(x, dim, correction=1, keepdim=False)",
        ),
    ] {
        api.doc(name)
            .about(about)
            .onnx(onnx)
            .torch(torch)
            .options(SPREAD_OPTS);
        let h = api.host.clone();
        api.fun(
            name,
            ["x"],
            move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
                spread(&ctx, &h, name, x, &Dynamic::UNIT, Map::new(), root)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim"],
            move |ctx: NativeCallContext, x: Tensor, a: Dynamic| -> R<Tensor> {
                spread(&ctx, &h, name, x, &a, Map::new(), root)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim", "opts"],
            move |ctx: NativeCallContext, x: Tensor, a: Dynamic, o: Map| -> R<Tensor> {
                spread(&ctx, &h, name, x, &a, o, root)
            },
        );
    }

    api.doc("norm")
        .about(
            "The p-norm over dims (every dim when none is given or ()): p = 2 or \"fro\" \
             (the default), 1, \"inf\", \"-inf\", 0 (the count of non-zeros) or any other number.",
        )
        .onnx("ReduceL2 | ReduceL1 | Abs, ReduceMax/ReduceMin | Abs, Pow, ReduceSum, Pow")
        .torch("torch.norm(x, p, dim, keepdim)");
    let h = api.host.clone();
    api.fun(
        "norm",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            norm(&ctx, &h, x, &Dynamic::from(2.0), &Dynamic::UNIT, false)
        },
    );
    let h = api.host.clone();
    api.fun(
        "norm",
        ["x", "p"],
        move |ctx: NativeCallContext, x: Tensor, p: Dynamic| -> R<Tensor> {
            norm(&ctx, &h, x, &p, &Dynamic::UNIT, false)
        },
    );
    let h = api.host.clone();
    api.fun(
        "norm",
        ["x", "p", "dim"],
        move |ctx: NativeCallContext, x: Tensor, p: Dynamic, a: Dynamic| -> R<Tensor> {
            norm(&ctx, &h, x, &p, &a, false)
        },
    );
    let h = api.host.clone();
    api.fun(
        "norm",
        ["x", "p", "dim", "keepdim"],
        move |ctx: NativeCallContext, x: Tensor, p: Dynamic, a: Dynamic, k: bool| -> R<Tensor> {
            norm(&ctx, &h, x, &p, &a, k)
        },
    );

    api.doc("logsumexp")
        .about("log(sum(exp(x))) over dim(s), computed stably (the max is subtracted first).")
        .onnx("ReduceMax, Sub, Exp, ReduceSum, Log, Add")
        .torch("torch.logsumexp(x, dim, keepdim)");
    let h = api.host.clone();
    api.fun(
        "logsumexp",
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, a: Dynamic| -> R<Tensor> {
            logsumexp(&ctx, &h, x, &a, false)
        },
    );
    let h = api.host.clone();
    api.fun(
        "logsumexp",
        ["x", "dim", "keepdim"],
        move |ctx: NativeCallContext, x: Tensor, a: Dynamic, k: bool| -> R<Tensor> {
            logsumexp(&ctx, &h, x, &a, k)
        },
    );

    for (name, max) in [("argmax", true), ("argmin", false)] {
        let (which, onnx) = if max {
            ("maximum", "ArgMax")
        } else {
            ("minimum", "ArgMin")
        };
        api.doc(name)
            .about(&format!(
                "The int64 index of the first {which} along dim (of the flattened tensor when no \
                 dim is given)."
            ))
            .onnx(onnx)
            .torch(&format!("torch.{name}(x, dim, keepdim)"));
        let h = api.host.clone();
        api.fun(
            name,
            ["x"],
            move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
                arg(&ctx, &h, max, x, None, false)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim"],
            move |ctx: NativeCallContext, x: Tensor, d: i64| -> R<Tensor> {
                arg(&ctx, &h, max, x, Some(d), false)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim", "keepdim"],
            move |ctx: NativeCallContext, x: Tensor, d: i64, k: bool| -> R<Tensor> {
                arg(&ctx, &h, max, x, Some(d), k)
            },
        );
    }

    api.doc("topk")
        .about(
            "[values, indices]: the k largest (largest = true, the default) or smallest entries \
             along dim (default -1), sorted; indices are int64. The output is sorted even with \
             sorted = false (PyTorch leaves that order unspecified; runtimes must agree on one).",
        )
        .onnx("TopK")
        .torch("torch.topk(x, k, dim, largest, sorted)");
    let h = api.host.clone();
    api.fun(
        "topk",
        ["x", "k"],
        move |ctx: NativeCallContext, x: Tensor, k: i64| -> R<Array> {
            topk(&ctx, &h, x, k, -1, true)
        },
    );
    let h = api.host.clone();
    api.fun(
        "topk",
        ["x", "k", "dim"],
        move |ctx: NativeCallContext, x: Tensor, k: i64, d: i64| -> R<Array> {
            topk(&ctx, &h, x, k, d, true)
        },
    );
    let h = api.host.clone();
    api.fun(
        "topk",
        ["x", "k", "dim", "largest"],
        move |ctx: NativeCallContext, x: Tensor, k: i64, d: i64, l: bool| -> R<Array> {
            topk(&ctx, &h, x, k, d, l)
        },
    );
    let h = api.host.clone();
    api.fun(
        "topk",
        ["x", "k", "dim", "largest", "sorted"],
        move |ctx: NativeCallContext,
              x: Tensor,
              k: i64,
              d: i64,
              l: bool,
              _sorted: bool|
              -> R<Array> { topk(&ctx, &h, x, k, d, l) },
    );

    api.doc("cumsum")
        .about("The running sum along dim; integer and bool tensors sum as int64, as in PyTorch.")
        .onnx("CumSum")
        .torch("torch.cumsum(x, dim)");
    let h = api.host.clone();
    api.fun(
        "cumsum",
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, d: i64| -> R<Tensor> {
            let a = axis(&ctx, d, x.rank())?;
            let x = if x.dtype().is_float() || x.dtype() == DType::Int64 {
                x
            } else {
                ap(&ctx, &h, Op::Cast { to: DType::Int64 }, &[x])?
            };
            ap(&ctx, &h, Op::CumSum { axis: a }, &[x])
        },
    );
}
