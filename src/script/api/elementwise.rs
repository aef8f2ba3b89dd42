//! Elementwise ops: math, activations, named arithmetic and comparisons,
//! where, cast, clip, dropout.

use super::super::layers::{gelu_tanh, leaky_relu};
use super::super::model::rt_err;
use super::super::tensor::Tensor;
use super::Api;
use super::operators::binary;
use super::util::{R, ap, axis, dtype, num, scalar_like, traced};
use crate::graph::Op;
use rhai::{Dynamic, NativeCallContext};

pub const GELU_MODES: &str = "approximate must be \"none\" (erf, the default) or \"tanh\"";

/// Registers a one-input op under `name`.
fn unary(api: &mut Api, name: &str, op: Op) {
    let h = api.host.clone();
    api.fun(
        name,
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> { ap(&ctx, &h, op.clone(), &[x]) },
    );
}

pub fn register(api: &mut Api) {
    api.family("elementwise");
    let math: [(&str, &str, &str, &str, Op); 6] = [
        ("sqrt", "Square root.", "Sqrt", "torch.sqrt", Op::Sqrt),
        ("exp", "Exponential.", "Exp", "torch.exp", Op::Exp),
        ("log", "Natural logarithm.", "Log", "torch.log", Op::Log),
        ("neg", "Negation (also `-x`).", "Neg", "torch.neg", Op::Neg),
        ("abs", "Absolute value.", "Abs", "torch.abs", Op::Abs),
        ("erf", "The error function.", "Erf", "torch.erf", Op::Erf),
    ];
    for (name, about, onnx, torch, op) in math {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        unary(api, name, op);
    }
    let named: [(&str, &str, &str, &str, Op); 5] = [
        (
            "add",
            "a + b with broadcasting.",
            "Add",
            "torch.add",
            Op::Add,
        ),
        (
            "sub",
            "a - b with broadcasting.",
            "Sub",
            "torch.sub",
            Op::Sub,
        ),
        (
            "mul",
            "a * b with broadcasting.",
            "Mul",
            "torch.mul",
            Op::Mul,
        ),
        (
            "div",
            "a / b with broadcasting.",
            "Div",
            "torch.div",
            Op::Div,
        ),
        (
            "pow",
            "a ** b with broadcasting.",
            "Pow",
            "torch.pow",
            Op::Pow,
        ),
    ];
    for (name, about, onnx, torch, op) in named {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        binary(api, name, op, false);
    }

    api.family("comparison");
    let cmp: [(&str, &str, &str, &str, Op); 3] = [
        (
            "equal",
            "a == b elementwise, a bool tensor.",
            "Equal",
            "torch.eq",
            Op::Equal,
        ),
        (
            "less",
            "a < b elementwise, a bool tensor.",
            "Less",
            "torch.lt",
            Op::Less,
        ),
        (
            "greater",
            "a > b elementwise, a bool tensor.",
            "Greater",
            "torch.gt",
            Op::Greater,
        ),
    ];
    for (name, about, onnx, torch, op) in cmp {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        binary(api, name, op, false);
    }
    api.doc("where")
        .about(
            "Elementwise choice: a where cond is true, else b (broadcasting). This is how a \
             forward makes a data-dependent choice (script `if` runs at trace time).",
        )
        .onnx("Where")
        .torch("torch.where");
    let h = api.host.clone();
    api.fun(
        "where",
        ["cond", "a", "b"],
        move |ctx: NativeCallContext, c: Tensor, a: Tensor, b: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::Where, &[c, a, b])
        },
    );
    let h = api.host.clone();
    api.fun(
        "where",
        ["cond", "a", "b"],
        move |ctx: NativeCallContext, c: Tensor, a: Tensor, b: f64| -> R<Tensor> {
            let s = scalar_like(&a, b);
            ap(&ctx, &h, Op::Where, &[c, a, s])
        },
    );

    api.family("tensor");
    api.doc("cast")
        .about("The same values in another dtype.")
        .onnx("Cast")
        .torch("x.to(dtype)");
    let h = api.host.clone();
    api.fun(
        "cast",
        ["x", "dtype"],
        move |ctx: NativeCallContext, x: Tensor, d: &str| -> R<Tensor> {
            let d = dtype(&ctx, d)?;
            ap(&ctx, &h, Op::Cast { to: d }, &[x])
        },
    );
    api.doc("identity")
        .about("The input unchanged (kept as a node).")
        .onnx("Identity")
        .torch("nn.Identity");
    unary(api, "identity", Op::Identity);
    api.doc("dropout")
        .about("Identity at inference (kept as a node so the graph mirrors the model).")
        .onnx("Dropout")
        .torch("F.dropout(x, p, training=False)");
    let h = api.host.clone();
    api.fun(
        "dropout",
        ["x", "p"],
        move |ctx: NativeCallContext, x: Tensor, p: f64| -> R<Tensor> {
            ap(&ctx, &h, Op::Dropout { ratio: p }, &[x])
        },
    );

    api.family("activations");
    let acts: [(&str, &str, &str, &str, Op); 7] = [
        ("relu", "max(x, 0).", "Relu", "F.relu", Op::Relu),
        (
            "silu",
            "x * sigmoid(x) (swish).",
            "Sigmoid, Mul",
            "F.silu",
            Op::Silu,
        ),
        (
            "sigmoid",
            "1 / (1 + exp(-x)).",
            "Sigmoid",
            "torch.sigmoid",
            Op::Sigmoid,
        ),
        (
            "tanh",
            "Hyperbolic tangent.",
            "Tanh",
            "torch.tanh",
            Op::Tanh,
        ),
        (
            "hardswish",
            "x * relu6(x + 3) / 6.",
            "HardSwish",
            "F.hardswish",
            Op::HardSwish,
        ),
        (
            "hardsigmoid",
            "relu6(x + 3) / 6 (PyTorch's, not ONNX's default slope).",
            "HardSigmoid",
            "F.hardsigmoid",
            Op::HardSigmoid,
        ),
        ("gelu", "", "", "", Op::Gelu),
    ];
    for (name, about, onnx, torch, op) in acts {
        if name != "gelu" {
            api.doc(name).about(about).onnx(onnx).torch(torch);
        }
        if name == "gelu" {
            api.doc("gelu")
                .about(
                    "Gaussian error linear unit: x * Phi(x) (erf form), or with approximate \
                     \"tanh\" the tanh approximation (GPT-2's gelu_new).",
                )
                .onnx("Gelu (opset 20), else Div, Erf, Add, Mul")
                .torch("F.gelu(x, approximate=...)");
        }
        unary(api, name, op);
    }
    let h = api.host.clone();
    api.fun(
        "gelu",
        ["x", "approximate"],
        move |ctx: NativeCallContext, x: Tensor, approximate: &str| -> R<Tensor> {
            match approximate {
                "none" => ap(&ctx, &h, Op::Gelu, &[x]),
                "tanh" => traced(&ctx, &h, &x, gelu_tanh),
                _ => Err(rt_err(&ctx, GELU_MODES)),
            }
        },
    );
    api.doc("leaky_relu")
        .about("x where x > 0, else slope * x (slope defaults to 0.01).")
        .onnx("Greater, Mul, Where")
        .torch("F.leaky_relu");
    let h = api.host.clone();
    api.fun(
        "leaky_relu",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            traced(&ctx, &h, &x, |t, v| leaky_relu(t, v, 0.01))
        },
    );
    let h = api.host.clone();
    api.fun(
        "leaky_relu",
        ["x", "negative_slope"],
        move |ctx: NativeCallContext, x: Tensor, slope: f64| -> R<Tensor> {
            traced(&ctx, &h, &x, |t, v| leaky_relu(t, v, slope))
        },
    );
    api.doc("clip")
        .about("Limits values to [min, max]; either bound may be () for none.")
        .onnx("Clip")
        .torch("torch.clamp");
    let h = api.host.clone();
    api.fun(
        "clip",
        ["x", "min", "max"],
        move |ctx: NativeCallContext, x: Tensor, lo: Dynamic, hi: Dynamic| -> R<Tensor> {
            let lo = if lo.is_unit() {
                None
            } else {
                Some(num(&ctx, &lo)?)
            };
            let hi = if hi.is_unit() {
                None
            } else {
                Some(num(&ctx, &hi)?)
            };
            ap(&ctx, &h, Op::Clip { min: lo, max: hi }, &[x])
        },
    );
    for (name, about, onnx, torch, log) in [
        (
            "softmax",
            "exp(x) / sum(exp(x)) along dim.",
            "Softmax",
            "F.softmax(x, dim)",
            false,
        ),
        (
            "log_softmax",
            "log(softmax(x, dim)), computed stably.",
            "LogSoftmax",
            "F.log_softmax(x, dim)",
            true,
        ),
    ] {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim"],
            move |ctx: NativeCallContext, x: Tensor, a: i64| -> R<Tensor> {
                let a = axis(&ctx, a, x.rank())?;
                let op = if log {
                    Op::LogSoftmax { axis: a }
                } else {
                    Op::Softmax { axis: a }
                };
                ap(&ctx, &h, op, &[x])
            },
        );
    }
}
