//! More activations, as functions and as `nn::` layers, with PyTorch's
//! names, defaults and semantics: mish, softplus, elu, selu, glu,
//! softsign, hardtanh, relu6 and prelu.

use super::super::host::Trace;
use super::super::model::{Layer, Model, const_param, op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::math::{compose, register_unary};
use super::util::{R, ap, num, positive};
use crate::graph::{DType, Op, ValueId, shape_str};
use rhai::{Dynamic, NativeCallContext};
use std::sync::Arc;

fn softplus_op(ctx: &NativeCallContext, beta: &Dynamic, threshold: &Dynamic) -> R<Op> {
    let (beta, threshold) = (num(ctx, beta)?, num(ctx, threshold)?);
    if beta == 0.0 || !beta.is_finite() {
        return Err(rt_err(
            ctx,
            format!("softplus: beta must be a non-zero number, got {beta}"),
        ));
    }
    Ok(Op::Softplus { beta, threshold })
}

fn hardtanh_op(ctx: &NativeCallContext, lo: &Dynamic, hi: &Dynamic) -> R<Op> {
    let (lo, hi) = (num(ctx, lo)?, num(ctx, hi)?);
    if lo > hi {
        return Err(rt_err(
            ctx,
            format!("hardtanh: min_val {lo} is greater than max_val {hi}"),
        ));
    }
    Ok(Op::Clip {
        min: Some(lo),
        max: Some(hi),
    })
}

/// F.glu: the first half of `dim` times the sigmoid of the second half.
fn glu(t: &mut Trace, x: ValueId, dim: i64) -> Result<ValueId, String> {
    let info = t.graph.info(x).clone();
    let r = info.rank() as i64;
    let a = if dim < 0 { dim + r } else { dim };
    if a < 0 || a >= r {
        return Err(format!(
            "dim {dim} is out of range for a tensor of rank {r}"
        ));
    }
    let a = a as usize;
    let n = info.shape[a];
    if !n.is_multiple_of(2) {
        return Err(format!(
            "dim {dim} of {} has odd size {n}: it must split into two halves",
            shape_str(&info.shape)
        ));
    }
    let halves = t.apply_ids(
        Op::Split {
            axis: a,
            sizes: vec![n / 2, n / 2],
        },
        &[x],
    )?;
    let (first, second) = (t.value_of(&halves[0])?, t.value_of(&halves[1])?);
    let gate = op1(t, Op::Sigmoid, &[second])?;
    op1(t, Op::Mul, &[first, gate])
}

/// F.prelu: x where x > 0, else weight * x, the weight's entries along
/// dim 1 (the channels) or one weight for every element.
fn prelu(t: &mut Trace, x: ValueId, w: ValueId) -> Result<ValueId, String> {
    let xi = t.graph.info(x).clone();
    let wi = t.graph.info(w).clone();
    let n = wi.numel() as usize;
    let shape = if n == 1 {
        vec![1]
    } else if wi.rank() == 1 && xi.rank() >= 2 && xi.shape[1] == n {
        // [C] -> [C, 1, ..., 1]: ONNX PRelu broadcasts from the right.
        let mut s = vec![n];
        s.resize(xi.rank() - 1, 1);
        s
    } else {
        return Err(format!(
            "the weight {} must have one entry, or one per channel (dim 1) of the input {}",
            shape_str(&wi.shape),
            shape_str(&xi.shape)
        ));
    };
    let w = if wi.shape == shape {
        w
    } else {
        op1(t, Op::Reshape { shape }, &[w])?
    };
    op1(t, Op::PRelu, &[x, w])
}

pub fn register(api: &mut Api) {
    api.family("activations");
    let plain: [(&str, &str, &str, &str, Op); 3] = [
        (
            "mish",
            "x * tanh(softplus(x)).",
            "Mish (opset 18), else Softplus, Tanh, Mul",
            "F.mish",
            Op::Mish,
        ),
        (
            "selu",
            "scale * (x if x > 0 else alpha * (exp(x) - 1)) with PyTorch's alpha 1.6732632 and \
             scale 1.0507010.",
            "Selu",
            "F.selu",
            Op::Selu,
        ),
        (
            "softsign",
            "x / (1 + |x|).",
            "Softsign",
            "F.softsign",
            Op::Softsign,
        ),
    ];
    for (name, about, onnx, torch, op) in plain {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        register_unary(api, name, op, false);
    }

    api.doc("elu")
        .about("x if x > 0, else alpha * (exp(x) - 1); alpha defaults to 1.0.")
        .onnx("Elu")
        .torch("F.elu(x, alpha)");
    let h = api.host.clone();
    api.fun(
        "elu",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::Elu { alpha: 1.0 }, &[x])
        },
    );
    let h = api.host.clone();
    api.fun(
        "elu",
        ["x", "alpha"],
        move |ctx: NativeCallContext, x: Tensor, alpha: Dynamic| -> R<Tensor> {
            let alpha = num(&ctx, &alpha)?;
            ap(&ctx, &h, Op::Elu { alpha }, &[x])
        },
    );

    api.doc("softplus")
        .about(
            "log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (beta \
             defaults to 1.0, threshold to 20.0, as in PyTorch).",
        )
        .onnx("Softplus, Greater, Where (Mul, Div when beta != 1)")
        .torch("F.softplus(x, beta, threshold)");
    let h = api.host.clone();
    api.fun(
        "softplus",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            let op = softplus_op(&ctx, &Dynamic::from(1.0), &Dynamic::from(20.0))?;
            ap(&ctx, &h, op, &[x])
        },
    );
    let h = api.host.clone();
    api.fun(
        "softplus",
        ["x", "beta"],
        move |ctx: NativeCallContext, x: Tensor, beta: Dynamic| -> R<Tensor> {
            let op = softplus_op(&ctx, &beta, &Dynamic::from(20.0))?;
            ap(&ctx, &h, op, &[x])
        },
    );
    let h = api.host.clone();
    api.fun(
        "softplus",
        ["x", "beta", "threshold"],
        move |ctx: NativeCallContext, x: Tensor, beta: Dynamic, th: Dynamic| -> R<Tensor> {
            let op = softplus_op(&ctx, &beta, &th)?;
            ap(&ctx, &h, op, &[x])
        },
    );

    api.doc("glu")
        .about(
            "Gated linear unit: splits dim (default -1) into halves a, b and returns \
             a * sigmoid(b).",
        )
        .onnx("Split, Sigmoid, Mul")
        .torch("F.glu(x, dim)");
    let h = api.host.clone();
    api.fun(
        "glu",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            compose(&ctx, &h, "glu", &[&x], |t, v| glu(t, v[0], -1))
        },
    );
    let h = api.host.clone();
    api.fun(
        "glu",
        ["x", "dim"],
        move |ctx: NativeCallContext, x: Tensor, dim: i64| -> R<Tensor> {
            compose(&ctx, &h, "glu", &[&x], |t, v| glu(t, v[0], dim))
        },
    );

    api.doc("hardtanh")
        .about("Limits x to [min_val, max_val] (defaults -1.0 and 1.0).")
        .onnx("Clip")
        .torch("F.hardtanh(x, min_val, max_val)");
    let h = api.host.clone();
    api.fun(
        "hardtanh",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            let op = hardtanh_op(&ctx, &Dynamic::from(-1.0), &Dynamic::from(1.0))?;
            ap(&ctx, &h, op, &[x])
        },
    );
    let h = api.host.clone();
    api.fun(
        "hardtanh",
        ["x", "min_val", "max_val"],
        move |ctx: NativeCallContext, x: Tensor, lo: Dynamic, hi: Dynamic| -> R<Tensor> {
            let op = hardtanh_op(&ctx, &lo, &hi)?;
            ap(&ctx, &h, op, &[x])
        },
    );

    api.doc("relu6")
        .about("min(max(x, 0), 6).")
        .onnx("Clip")
        .torch("F.relu6");
    let h = api.host.clone();
    api.fun(
        "relu6",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            let op = Op::Clip {
                min: Some(0.0),
                max: Some(6.0),
            };
            ap(&ctx, &h, op, &[x])
        },
    );

    api.doc("prelu")
        .about(
            "x where x > 0, else weight * x: weight has one entry, or one per channel (dim 1 \
             of x).",
        )
        .onnx("PRelu")
        .torch("F.prelu(x, weight)");
    let h = api.host.clone();
    api.fun(
        "prelu",
        ["x", "weight"],
        move |ctx: NativeCallContext, x: Tensor, w: Tensor| -> R<Tensor> {
            compose(&ctx, &h, "prelu", &[&x, &w], |t, v| prelu(t, v[0], v[1]))
        },
    );

    register_layers(api);
}

/// Builds a stateless layer of class `class` computing `op`.
fn op_layer(h: &super::super::host::Host, class: &str, op: Op) -> Model {
    Model::new(h, class, Layer::Op(op), vec![], vec![])
}

fn register_layers(api: &mut Api) {
    api.family("nn");
    let plain: [(&str, &str, &str, Op); 3] = [
        (
            "mish",
            "Mish",
            "Mish (opset 18), else Softplus, Tanh, Mul",
            Op::Mish,
        ),
        ("selu", "SELU", "Selu", Op::Selu),
        ("softsign", "Softsign", "Softsign", Op::Softsign),
    ];
    for (name, class, onnx, op) in plain {
        api.doc_layer(name)
            .about(&format!(
                "The {class} activation as a layer (no parameters)."
            ))
            .onnx(onnx)
            .torch(&format!("nn.{class}"));
        let h = api.host.clone();
        api.layer(name, [], move |ctx: NativeCallContext| {
            let _ = &ctx;
            Ok(op_layer(&h, class, op.clone()))
        });
    }

    api.doc_layer("elu")
        .about("ELU as a layer: (), or (alpha); alpha defaults to 1.0.")
        .onnx("Elu")
        .torch("nn.ELU");
    let h = api.host.clone();
    api.layer("elu", [], move |ctx: NativeCallContext| {
        let _ = &ctx;
        Ok(op_layer(&h, "ELU", Op::Elu { alpha: 1.0 }))
    });
    let h = api.host.clone();
    api.layer(
        "elu",
        ["alpha"],
        move |ctx: NativeCallContext, alpha: Dynamic| {
            let alpha = num(&ctx, &alpha)?;
            Ok(op_layer(&h, "ELU", Op::Elu { alpha }))
        },
    );

    api.doc_layer("softplus")
        .about("Softplus as a layer: (), (beta) or (beta, threshold); defaults 1.0 and 20.0.")
        .onnx("Softplus, Greater, Where (Mul, Div when beta != 1)")
        .torch("nn.Softplus");
    let h = api.host.clone();
    api.layer("softplus", [], move |ctx: NativeCallContext| {
        let op = softplus_op(&ctx, &Dynamic::from(1.0), &Dynamic::from(20.0))?;
        Ok(op_layer(&h, "Softplus", op))
    });
    let h = api.host.clone();
    api.layer(
        "softplus",
        ["beta"],
        move |ctx: NativeCallContext, beta: Dynamic| {
            let op = softplus_op(&ctx, &beta, &Dynamic::from(20.0))?;
            Ok(op_layer(&h, "Softplus", op))
        },
    );
    let h = api.host.clone();
    api.layer(
        "softplus",
        ["beta", "threshold"],
        move |ctx: NativeCallContext, beta: Dynamic, th: Dynamic| {
            let op = softplus_op(&ctx, &beta, &th)?;
            Ok(op_layer(&h, "Softplus", op))
        },
    );

    api.doc_layer("hardtanh")
        .about("Hardtanh as a layer: () or (min_val, max_val); defaults -1.0 and 1.0.")
        .onnx("Clip")
        .torch("nn.Hardtanh");
    let h = api.host.clone();
    api.layer("hardtanh", [], move |ctx: NativeCallContext| {
        let op = hardtanh_op(&ctx, &Dynamic::from(-1.0), &Dynamic::from(1.0))?;
        Ok(op_layer(&h, "Hardtanh", op))
    });
    let h = api.host.clone();
    api.layer(
        "hardtanh",
        ["min_val", "max_val"],
        move |ctx: NativeCallContext, lo: Dynamic, hi: Dynamic| {
            let op = hardtanh_op(&ctx, &lo, &hi)?;
            Ok(op_layer(&h, "Hardtanh", op))
        },
    );

    api.doc_layer("glu")
        .about("GLU as a layer: () or (dim); dim defaults to -1 and may be negative.")
        .onnx("Split, Sigmoid, Mul")
        .torch("nn.GLU");
    for with_dim in [false, true] {
        let h = api.host.clone();
        let make = move |dim: i64| {
            let body = move |t: &mut Trace, x: ValueId, _: &[ValueId]| glu(t, x, dim);
            Model::new(&h, "GLU", Layer::Native(Arc::new(body)), vec![], vec![])
        };
        if with_dim {
            api.layer("glu", ["dim"], move |ctx: NativeCallContext, dim: i64| {
                let _ = &ctx;
                Ok(make(dim))
            });
        } else {
            api.layer("glu", [], move |ctx: NativeCallContext| {
                let _ = &ctx;
                Ok(make(-1))
            });
        }
    }

    api.doc_layer("prelu")
        .about(
            "PReLU as a layer: (), (num_parameters) or (num_parameters, init); one learned \
             slope (init 0.25), or one per channel (dim 1 of the input).",
        )
        .onnx("PRelu")
        .torch("nn.PReLU");
    let h = api.host.clone();
    let make = move |ctx: &NativeCallContext, n: i64, init: &Dynamic| -> R<Model> {
        let n = positive(ctx, "nn::prelu: num_parameters", n)?;
        let init = num(ctx, init)?;
        let body = |t: &mut Trace, x: ValueId, ps: &[ValueId]| prelu(t, x, ps[0]);
        Ok(Model::new(
            &h,
            "PReLU",
            Layer::Native(Arc::new(body)),
            vec![("weight", const_param(&[n], init, DType::Float32, true))],
            vec![],
        ))
    };
    let m = make.clone();
    api.layer("prelu", [], move |ctx: NativeCallContext| {
        m(&ctx, 1, &Dynamic::from(0.25))
    });
    let m = make.clone();
    api.layer(
        "prelu",
        ["num_parameters"],
        move |ctx: NativeCallContext, n: i64| m(&ctx, n, &Dynamic::from(0.25)),
    );
    api.layer(
        "prelu",
        ["num_parameters", "init"],
        move |ctx: NativeCallContext, n: i64, init: Dynamic| make(&ctx, n, &init),
    );
}
