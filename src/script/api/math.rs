//! Elementwise math with PyTorch's names and semantics: trigonometry,
//! rounding, reciprocals, minimum/maximum, clamp and masked_fill.

use super::super::host::{Host, Trace};
use super::super::model::{op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::operators::{Num, binary};
use super::util::{R, ap, num};
use crate::graph::ops::broadcast;
use crate::graph::{DType, HostTensor, Op, ValueId, shape_str};
use rhai::{Dynamic, NativeCallContext};

/// `v` as a 0-d tensor of `d`, or an error when `d` cannot hold it: a
/// fraction or an out-of-range value for an integer or bool tensor (the
/// op would compute with another number), a finite value that overflows
/// a 16-bit float (it would become infinite).
fn exact_scalar(ctx: &NativeCallContext, fname: &str, d: DType, v: f64) -> R<Tensor> {
    let t = HostTensor::full(d, &[], v);
    let got = t.to_f64_vec()[0];
    if d.is_float() {
        if v.is_finite() && !got.is_finite() {
            return Err(rt_err(
                ctx,
                format!("{fname}: {v} overflows {d}; use a value within its range"),
            ));
        }
    } else if got != v {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: {v} is not exact in {d}; cast the tensor to a float dtype first \
                 (.cast(\"float32\"))"
            ),
        ));
    }
    Ok(Tensor::concrete(t))
}

/// Runs `f` over the graph values of `xs` inside the active trace; its
/// errors are prefixed with `fname`.
pub(super) fn compose(
    ctx: &NativeCallContext,
    h: &Host,
    fname: &str,
    xs: &[&Tensor],
    f: impl FnOnce(&mut Trace, &[ValueId]) -> Result<ValueId, String>,
) -> R<Tensor> {
    h.with_trace(|t| {
        let vs = xs
            .iter()
            .map(|x| t.value_of(x))
            .collect::<Result<Vec<_>, _>>()?;
        let y = f(t, &vs)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, format!("{fname}: {e}")))
}

/// A bound of clamp: absent, a number, or a tensor.
enum Bound {
    None,
    Num(Num),
    Tensor(Tensor),
}

fn bound(ctx: &NativeCallContext, d: &Dynamic) -> R<Bound> {
    if d.is_unit() {
        return Ok(Bound::None);
    }
    if let Some(t) = d.clone().try_cast::<Tensor>() {
        return Ok(Bound::Tensor(t));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Bound::Num(Num::Int(i)));
    }
    if let Ok(f) = d.as_float() {
        return Ok(Bound::Num(Num::Float(f)));
    }
    Err(rt_err(
        ctx,
        format!(
            "clamp: a bound must be a number, a tensor or (), got {}",
            d.type_name()
        ),
    ))
}

fn num_value(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
        Num::Bool(b) => f64::from(u8::from(b)),
    }
}

/// torch.clamp: number bounds become one Clip, with PyTorch's promotion (a
/// float bound makes an integer tensor float32); a tensor bound makes the
/// pair Max(x, min) then Min(., max), broadcasting.
fn clamp(ctx: &NativeCallContext, h: &Host, x: Tensor, lo: &Dynamic, hi: &Dynamic) -> R<Tensor> {
    let (lo, hi) = (bound(ctx, lo)?, bound(ctx, hi)?);
    if x.dtype() == DType::Bool {
        return Err(rt_err(ctx, "clamp: not defined on bool tensors"));
    }
    let float_bound = [&lo, &hi]
        .iter()
        .any(|b| matches!(b, Bound::Num(Num::Float(_))));
    let x = if float_bound && !x.dtype().is_float() {
        ap(ctx, h, Op::Cast { to: DType::Float32 }, &[x])?
    } else {
        x
    };
    let d = x.dtype();
    match (lo, hi) {
        (Bound::None, Bound::None) => Err(rt_err(
            ctx,
            "clamp: at least one of min and max must be given (not ())",
        )),
        (lo @ (Bound::None | Bound::Num(_)), hi @ (Bound::None | Bound::Num(_))) => {
            let get = |b: Bound| match b {
                Bound::Num(n) => Some(num_value(n)),
                _ => None,
            };
            let op = Op::Clip {
                min: get(lo),
                max: get(hi),
            };
            ap(ctx, h, op, &[x])
        }
        (lo, hi) => {
            let as_tensor = |b: Bound| -> Option<Tensor> {
                match b {
                    Bound::None => None,
                    Bound::Num(n) => Some(Tensor::concrete(HostTensor::full(d, &[], num_value(n)))),
                    Bound::Tensor(t) => Some(t),
                }
            };
            let (lo, hi) = (as_tensor(lo), as_tensor(hi));
            let mut xs = vec![&x];
            xs.extend(lo.iter());
            xs.extend(hi.iter());
            let has_lo = lo.is_some();
            compose(ctx, h, "clamp", &xs, |t, v| {
                let mut y = v[0];
                let mut k = 1;
                if has_lo {
                    y = op1(t, Op::Max, &[y, v[k]])?;
                    k += 1;
                }
                if k < v.len() {
                    y = op1(t, Op::Min, &[y, v[k]])?;
                }
                Ok(y)
            })
        }
    }
}

/// torch.Tensor.masked_fill: value where mask is true, else x; the mask
/// broadcasts to x's shape (never the other way).
fn masked_fill(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    mask: Tensor,
    value: &Dynamic,
) -> R<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(rt_err(
            ctx,
            format!(
                "masked_fill: the mask must be bool, got {} (compare to make one: x.gt(0.0), eq(ids, 0))",
                mask.dtype()
            ),
        ));
    }
    match broadcast("masked_fill", x.shape(), mask.shape()) {
        Ok(s) if s == x.shape() => {}
        _ => {
            return Err(rt_err(
                ctx,
                format!(
                    "masked_fill: the mask {} does not broadcast to x's shape {}",
                    shape_str(mask.shape()),
                    shape_str(x.shape())
                ),
            ));
        }
    }
    let v = match value.clone().try_cast::<Tensor>() {
        Some(t) if t.rank() == 0 => t,
        Some(t) => {
            return Err(rt_err(
                ctx,
                format!(
                    "masked_fill: a tensor value must be 0-d, got {}",
                    shape_str(t.shape())
                ),
            ));
        }
        None => exact_scalar(ctx, "masked_fill", x.dtype(), num(ctx, value)?)?,
    };
    ap(ctx, h, Op::Where, &[mask, v, x])
}

/// Registers `name(x)` applying `op`; with `ints_unchanged`, an integer
/// tensor is returned as it is (torch.floor and its kin on integers).
pub(super) fn register_unary(api: &mut Api, name: &str, op: Op, ints_unchanged: bool) {
    let h = api.host.clone();
    api.fun(
        name,
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            if ints_unchanged && x.dtype().is_int() {
                return Ok(x);
            }
            ap(&ctx, &h, op.clone(), &[x])
        },
    );
}

pub fn register(api: &mut Api) {
    api.family("math");
    let unary: [(&str, &str, &str, &str, Op); 5] = [
        ("sin", "Sine (radians).", "Sin", "torch.sin", Op::Sin),
        ("cos", "Cosine (radians).", "Cos", "torch.cos", Op::Cos),
        ("tan", "Tangent (radians).", "Tan", "torch.tan", Op::Tan),
        (
            "reciprocal",
            "1 / x (float tensors).",
            "Reciprocal",
            "torch.reciprocal",
            Op::Reciprocal,
        ),
        (
            "sign",
            "-1, 0 or 1 by the sign of x (integer tensors too).",
            "Sign",
            "torch.sign",
            Op::Sign,
        ),
    ];
    for (name, about, onnx, torch, op) in unary {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        register_unary(api, name, op, false);
    }
    let rounding: [(&str, &str, &str, &str, Op); 3] = [
        (
            "floor",
            "The largest integer <= x; integer tensors are returned unchanged.",
            "Floor",
            "torch.floor",
            Op::Floor,
        ),
        (
            "ceil",
            "The smallest integer >= x; integer tensors are returned unchanged.",
            "Ceil",
            "torch.ceil",
            Op::Ceil,
        ),
        (
            "round",
            "The nearest integer, halves to even (2.5 -> 2, as torch.round); integer tensors \
             are returned unchanged.",
            "Round",
            "torch.round",
            Op::Round,
        ),
    ];
    for (name, about, onnx, torch, op) in rounding {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        register_unary(api, name, op, true);
    }
    api.doc("rsqrt")
        .about("1 / sqrt(x).")
        .onnx("Sqrt, Reciprocal")
        .torch("torch.rsqrt");
    let h = api.host.clone();
    api.fun(
        "rsqrt",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            compose(&ctx, &h, "rsqrt", &[&x], |t, v| {
                let s = op1(t, Op::Sqrt, &[v[0]])?;
                op1(t, Op::Reciprocal, &[s])
            })
        },
    );
    api.doc("square")
        .about("x * x.")
        .onnx("Mul")
        .torch("torch.square");
    let h = api.host.clone();
    api.fun(
        "square",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::Mul, &[x.clone(), x])
        },
    );

    for (name, about, onnx, torch, op) in [
        (
            "minimum",
            "The elementwise minimum of a and b (broadcasting; either may be a number, promoted \
             as by the operators).",
            "Min",
            "torch.minimum",
            Op::Min,
        ),
        (
            "maximum",
            "The elementwise maximum of a and b (broadcasting; either may be a number, promoted \
             as by the operators).",
            "Max",
            "torch.maximum",
            Op::Max,
        ),
    ] {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        binary(api, name, op, false);
    }

    api.doc("clamp")
        .about(
            "Limits x to [min, max]. Each bound is a number, a tensor (broadcasting) or () for \
             none; number bounds become one Clip, tensor bounds Max then Min. A float bound \
             makes an integer tensor float32, as in PyTorch.",
        )
        .onnx("Clip, or Max and Min")
        .torch("torch.clamp(x, min, max)");
    let h = api.host.clone();
    api.fun(
        "clamp",
        ["x", "min", "max"],
        move |ctx: NativeCallContext, x: Tensor, lo: Dynamic, hi: Dynamic| -> R<Tensor> {
            clamp(&ctx, &h, x, &lo, &hi)
        },
    );
    let h = api.host.clone();
    api.fun(
        "clamp",
        ["x", "min"],
        move |ctx: NativeCallContext, x: Tensor, lo: Dynamic| -> R<Tensor> {
            clamp(&ctx, &h, x, &lo, &Dynamic::UNIT)
        },
    );

    api.doc("masked_fill")
        .about(
            "value where the bool mask is true, else x; the mask broadcasts to x's shape. value \
             is a 0-d tensor or a number that x's dtype holds exactly (PyTorch would truncate \
             0.5 into an integer tensor, or fail on -1e9 in float16: both are errors here).",
        )
        .onnx("Where")
        .torch("x.masked_fill(mask, value)");
    let h = api.host.clone();
    api.fun(
        "masked_fill",
        ["x", "mask", "value"],
        move |ctx: NativeCallContext, x: Tensor, mask: Tensor, v: Dynamic| -> R<Tensor> {
            masked_fill(&ctx, &h, x, mask, &v)
        },
    );
}
