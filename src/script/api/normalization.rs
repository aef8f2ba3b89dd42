//! Normalizations as functions over given weights.

use super::super::model::rt_err;
use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, ap};
use crate::graph::Op;
use crate::script::host::Host;
use rhai::NativeCallContext;

pub fn register(api: &mut Api) {
    api.family("normalization");
    api.doc("layer_norm")
        .about(
            "(x - mean) / sqrt(var + eps) * weight + bias over the trailing dims that weight \
             covers (eps defaults to 1e-5).",
        )
        .onnx("LayerNormalization (opset 17), else ReduceMean, Sub, ...")
        .torch("F.layer_norm");
    let h = api.host.clone();
    api.fun(
        "layer_norm",
        ["x", "weight", "bias"],
        move |ctx: NativeCallContext, x: Tensor, w: Tensor, b: Tensor| -> R<Tensor> {
            layer_norm(&ctx, &h, x, w, b, 1e-5)
        },
    );
    let h = api.host.clone();
    api.fun(
        "layer_norm",
        ["x", "weight", "bias", "eps"],
        move |ctx: NativeCallContext, x: Tensor, w: Tensor, b: Tensor, eps: f64| -> R<Tensor> {
            layer_norm(&ctx, &h, x, w, b, eps)
        },
    );
    api.doc("batch_norm")
        .about("Inference batch norm over dim 1 with running statistics (eps defaults to 1e-5).")
        .onnx("BatchNormalization")
        .torch("F.batch_norm(x, mean, var, weight, bias, training=False)");
    let h = api.host.clone();
    api.fun(
        "batch_norm",
        ["x", "weight", "bias", "running_mean", "running_var"],
        move |ctx: NativeCallContext,
              x: Tensor,
              s: Tensor,
              b: Tensor,
              m: Tensor,
              v: Tensor|
              -> R<Tensor> {
            ap(&ctx, &h, Op::BatchNorm { epsilon: 1e-5 }, &[x, s, b, m, v])
        },
    );
    let h = api.host.clone();
    api.fun(
        "batch_norm",
        ["x", "weight", "bias", "running_mean", "running_var", "eps"],
        move |ctx: NativeCallContext,
              x: Tensor,
              s: Tensor,
              b: Tensor,
              m: Tensor,
              v: Tensor,
              eps: f64|
              -> R<Tensor> {
            ap(&ctx, &h, Op::BatchNorm { epsilon: eps }, &[x, s, b, m, v])
        },
    );
}

fn layer_norm(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    eps: f64,
) -> R<Tensor> {
    let ax = x
        .rank()
        .checked_sub(w.rank())
        .ok_or_else(|| rt_err(ctx, "layer_norm: weight has a higher rank than the input"))?;
    ap(
        ctx,
        h,
        Op::LayerNorm {
            axis: ax,
            epsilon: eps,
        },
        &[x, w, b],
    )
}
