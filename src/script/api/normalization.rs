//! Normalizations as functions over given weights, and the group and
//! instance norm layers.

use super::super::composites;
use super::super::host::Trace;
use super::super::layers;
use super::super::model::{Model, const_param, native, op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{DTYPE_OPT, OptSpec, Opts, R, ap, dims, opt, positive, traced};
use crate::graph::{DType, Op, ValueId, shape_str};
use crate::script::host::Host;
use rhai::{Array, Dynamic, Map, NativeCallContext};

const GN_OPTS: &[OptSpec] = &[
    opt("eps", "1e-5", "added to the variance"),
    opt("affine", "true", "learn a per-channel weight and bias"),
    DTYPE_OPT,
];
const IN_OPTS: &[OptSpec] = &[
    opt("eps", "1e-5", "added to the variance"),
    opt("affine", "false", "learn a per-channel weight and bias"),
    opt(
        "track_running_stats",
        "false",
        "normalize by running_mean / running_var buffers (as batch norm) instead of each sample's statistics",
    ),
    DTYPE_OPT,
];
const IN_FN_OPTS: &[OptSpec] = &[
    opt("weight", "-", "per-channel scale [C] (default 1)"),
    opt("bias", "-", "per-channel shift [C] (default 0)"),
    opt("eps", "1e-5", "added to the variance"),
];

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
    group_and_instance(api);
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

/// A tensor argument that may be () (PyTorch's None).
fn maybe_tensor(ctx: &NativeCallContext, what: &str, d: Dynamic) -> R<Option<Tensor>> {
    if d.is_unit() {
        return Ok(None);
    }
    let tn = d.type_name();
    d.try_cast::<Tensor>()
        .map(Some)
        .ok_or_else(|| rt_err(ctx, format!("{what} must be a tensor or (), got {tn}")))
}

/// The graph values of optional tensors, in the active trace.
fn values(t: &mut Trace, xs: &[&Option<Tensor>]) -> Result<Vec<Option<ValueId>>, String> {
    xs.iter()
        .map(|x| x.as_ref().map(|x| t.value_of(x)).transpose())
        .collect()
}

/// torch.finfo(dtype).eps: F.rms_norm's default eps.
fn finfo_eps(d: DType) -> f64 {
    match d {
        DType::Float16 => 2f64.powi(-10),
        DType::Bfloat16 => 2f64.powi(-7),
        DType::Float64 => f64::EPSILON,
        _ => f32::EPSILON as f64,
    }
}

#[allow(clippy::too_many_arguments)]
fn group_norm_fn(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    groups: i64,
    w: Dynamic,
    b: Dynamic,
    eps: f64,
) -> R<Tensor> {
    let groups = positive(ctx, "num_groups", groups)?;
    let (w, b) = (
        maybe_tensor(ctx, "weight", w)?,
        maybe_tensor(ctx, "bias", b)?,
    );
    traced(ctx, h, &x, |t, v| {
        let wb = values(t, &[&w, &b])?;
        composites::group_norm(t, v, groups, wb[0], wb[1], eps)
    })
}

fn rms_norm_fn(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    shape: &Dynamic,
    w: Dynamic,
    eps: Option<f64>,
) -> R<Tensor> {
    let shape = match shape.as_int() {
        Ok(v) => vec![positive(ctx, "normalized_shape", v)?],
        Err(_) => match shape.clone().try_cast::<Array>() {
            Some(a) => dims(ctx, &a)?,
            None => {
                return Err(rt_err(
                    ctx,
                    "rms_norm: normalized_shape must be an int or an array of ints",
                ));
            }
        },
    };
    let r = x.rank();
    if r < shape.len() || x.shape()[r - shape.len()..] != shape[..] {
        return Err(rt_err(
            ctx,
            format!(
                "rms_norm: normalized_shape {} does not match the trailing dims of the input {}",
                shape_str(&shape),
                shape_str(x.shape())
            ),
        ));
    }
    let w = maybe_tensor(ctx, "weight", w)?;
    let eps = eps.unwrap_or_else(|| finfo_eps(x.dtype()));
    traced(ctx, h, &x, |t, v| {
        let w = values(t, &[&w])?[0];
        layers::rms_norm(t, v, w, eps, shape.len())
    })
}

fn group_and_instance(api: &mut Api) {
    api.doc("group_norm")
        .about(
            "Normalizes each sample over groups of C / num_groups channels (and all spatial \
             dims), then a per-channel weight and bias (() for none; eps defaults to 1e-5).",
        )
        .onnx(
            "GroupNormalization (opset 21), else Reshape, InstanceNormalization, Reshape, Mul, Add",
        )
        .torch("F.group_norm(x, num_groups, weight, bias, eps)");
    let h = api.host.clone();
    api.fun(
        "group_norm",
        ["x", "num_groups"],
        move |ctx: NativeCallContext, x: Tensor, g: i64| -> R<Tensor> {
            group_norm_fn(&ctx, &h, x, g, Dynamic::UNIT, Dynamic::UNIT, 1e-5)
        },
    );
    let h = api.host.clone();
    api.fun(
        "group_norm",
        ["x", "num_groups", "weight", "bias"],
        move |ctx: NativeCallContext, x: Tensor, g: i64, w: Dynamic, b: Dynamic| -> R<Tensor> {
            group_norm_fn(&ctx, &h, x, g, w, b, 1e-5)
        },
    );
    let h = api.host.clone();
    api.fun(
        "group_norm",
        ["x", "num_groups", "weight", "bias", "eps"],
        move |ctx: NativeCallContext,
              x: Tensor,
              g: i64,
              w: Dynamic,
              b: Dynamic,
              eps: f64|
              -> R<Tensor> { group_norm_fn(&ctx, &h, x, g, w, b, eps) },
    );
    api.doc("instance_norm")
        .about(
            "Normalizes each sample and channel of [N, C, d...] over its spatial dims with \
             its own statistics, then the optional per-channel weight and bias (PyTorch's \
             keyword arguments, as options).",
        )
        .onnx("InstanceNormalization")
        .torch("F.instance_norm(x, weight=weight, bias=bias, eps=eps)")
        .options(IN_FN_OPTS);
    let h = api.host.clone();
    api.fun(
        "instance_norm",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            traced(&ctx, &h, &x, |t, v| {
                composites::instance_norm(t, v, None, None, 1e-5)
            })
        },
    );
    let h = api.host.clone();
    api.fun(
        "instance_norm",
        ["x", "opts"],
        move |ctx: NativeCallContext, x: Tensor, o: Map| -> R<Tensor> {
            let o = Opts::new(&ctx, "instance_norm", o, IN_FN_OPTS)?;
            let w = maybe_tensor(&ctx, "weight", o.get("weight").unwrap_or(Dynamic::UNIT))?;
            let b = maybe_tensor(&ctx, "bias", o.get("bias").unwrap_or(Dynamic::UNIT))?;
            let eps = o.float("eps")?;
            traced(&ctx, &h, &x, |t, v| {
                let wb = values(t, &[&w, &b])?;
                composites::instance_norm(t, v, wb[0], wb[1], eps)
            })
        },
    );
    api.doc("rms_norm")
        .about(
            "x / sqrt(mean(x^2) + eps) over the trailing normalized_shape (an int or an \
             array), times weight when given (() for none); eps defaults to the dtype's \
             machine epsilon, as F.rms_norm's eps=None.",
        )
        .onnx("Mul, ReduceMean, Add, Sqrt, Div(, Mul)")
        .torch("F.rms_norm(x, normalized_shape, weight, eps)");
    let h = api.host.clone();
    api.fun(
        "rms_norm",
        ["x", "normalized_shape"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic| -> R<Tensor> {
            rms_norm_fn(&ctx, &h, x, &s, Dynamic::UNIT, None)
        },
    );
    let h = api.host.clone();
    api.fun(
        "rms_norm",
        ["x", "normalized_shape", "weight"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic, w: Dynamic| -> R<Tensor> {
            rms_norm_fn(&ctx, &h, x, &s, w, None)
        },
    );
    let h = api.host.clone();
    api.fun(
        "rms_norm",
        ["x", "normalized_shape", "weight", "eps"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic, w: Dynamic, eps: f64| -> R<Tensor> {
            rms_norm_fn(&ctx, &h, x, &s, w, Some(eps))
        },
    );

    api.family("nn");
    api.doc_layer("group_norm")
        .about(
            "Group norm as a layer: num_groups groups of num_channels / num_groups channels; \
             weight (ones) and bias (zeros) of [num_channels] when affine.",
        )
        .onnx("GroupNormalization (opset 21), else InstanceNormalization and reshapes")
        .torch("nn.GroupNorm(num_groups, num_channels, eps, affine)")
        .options(GN_OPTS);
    let h = api.host.clone();
    api.layer(
        "group_norm",
        ["num_groups", "num_channels"],
        move |ctx: NativeCallContext, g: i64, c: i64| group_norm_layer(&ctx, &h, g, c, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "group_norm",
        ["num_groups", "num_channels", "opts"],
        move |ctx: NativeCallContext, g: i64, c: i64, o: Map| group_norm_layer(&ctx, &h, g, c, o),
    );
    for sp in 1..=3usize {
        let name = format!("instance_norm{sp}d");
        let class = format!("InstanceNorm{sp}d");
        api.doc_layer(&name)
            .about(&format!(
                "Instance norm of [N, C, {sp} spatial] (or unbatched [C, ...]) inputs: each \
                 sample and channel by its own statistics; weight and bias [num_features] only \
                 when affine (PyTorch's default is without)."
            ))
            .onnx("InstanceNormalization (BatchNormalization with track_running_stats)")
            .torch(&format!(
                "nn.{class}(num_features, eps, affine, track_running_stats)"
            ))
            .options(IN_OPTS);
        for with_opts in [false, true] {
            let (h, class) = (api.host.clone(), class.clone());
            let make = move |ctx: &NativeCallContext, c: i64, o: Map| {
                instance_norm_layer(ctx, &h, &class, sp, c, o)
            };
            if with_opts {
                api.layer(
                    &name,
                    ["num_features", "opts"],
                    move |ctx: NativeCallContext, c: i64, o: Map| make(&ctx, c, o),
                );
            } else {
                api.layer(
                    &name,
                    ["num_features"],
                    move |ctx: NativeCallContext, c: i64| make(&ctx, c, Map::new()),
                );
            }
        }
    }
}

fn group_norm_layer(ctx: &NativeCallContext, h: &Host, g: i64, c: i64, opts: Map) -> R<Model> {
    let o = Opts::new(ctx, "nn::group_norm", opts, GN_OPTS)?;
    let (g, c) = (
        positive(ctx, "num_groups", g)?,
        positive(ctx, "num_channels", c)?,
    );
    if c % g != 0 {
        return Err(rt_err(
            ctx,
            format!("nn::group_norm: num_channels {c} must be divisible by num_groups {g}"),
        ));
    }
    let (eps, affine, dt) = (o.float("eps")?, o.bool("affine")?, o.dtype()?);
    let params = if affine {
        vec![
            ("weight", const_param(&[c], 1.0, dt, true)),
            ("bias", const_param(&[c], 0.0, dt, true)),
        ]
    } else {
        vec![]
    };
    let layer = native(move |t, x, ps| {
        check_channels(t, x, c, "num_channels")?;
        composites::group_norm(t, x, g, ps.first().copied(), ps.get(1).copied(), eps)
    });
    Ok(Model::new(h, "GroupNorm", layer, params, vec![]))
}

/// The layer's channel count against the input's dim 1.
fn check_channels(t: &Trace, x: ValueId, c: usize, what: &str) -> Result<(), String> {
    let s = &t.graph.info(x).shape;
    if s.get(1) != Some(&c) {
        return Err(format!(
            "the input {} should have {c} channels ({what}) in dim 1",
            shape_str(s)
        ));
    }
    Ok(())
}

fn instance_norm_layer(
    ctx: &NativeCallContext,
    h: &Host,
    class: &str,
    sp: usize,
    c: i64,
    opts: Map,
) -> R<Model> {
    let o = Opts::new(ctx, &format!("nn::instance_norm{sp}d"), opts, IN_OPTS)?;
    let c = positive(ctx, "num_features", c)?;
    let (eps, affine, dt) = (o.float("eps")?, o.bool("affine")?, o.dtype()?);
    let running = o.bool("track_running_stats")?;
    let mut params = Vec::new();
    if affine {
        params.push(("weight", const_param(&[c], 1.0, dt, true)));
        params.push(("bias", const_param(&[c], 0.0, dt, true)));
    }
    if running {
        params.push(("running_mean", const_param(&[c], 0.0, dt, false)));
        params.push(("running_var", const_param(&[c], 1.0, dt, false)));
    }
    let layer = native(move |t, x, ps| {
        let rank = t.graph.info(x).rank();
        if rank != sp + 1 && rank != sp + 2 {
            return Err(format!(
                "expects a [N, C, {sp} spatial] or unbatched [C, {sp} spatial] input, got {}",
                shape_str(&t.graph.info(x).shape)
            ));
        }
        let unbatched = rank == sp + 1;
        let x = if unbatched {
            op1(t, Op::Unsqueeze { axes: vec![0] }, &[x])?
        } else {
            x
        };
        check_channels(t, x, c, "num_features")?;
        let (w, b) = if affine {
            (Some(ps[0]), Some(ps[1]))
        } else {
            (None, None)
        };
        let y = if running {
            // Running statistics at inference: batch norm with those buffers.
            let k = if affine { 2 } else { 0 };
            let w = w.unwrap_or_else(|| composites::channel_const(t, x, 1.0));
            let b = b.unwrap_or_else(|| composites::channel_const(t, x, 0.0));
            op1(
                t,
                Op::BatchNorm { epsilon: eps },
                &[x, w, b, ps[k], ps[k + 1]],
            )?
        } else {
            composites::instance_norm(t, x, w, b, eps)?
        };
        if unbatched {
            op1(t, Op::Squeeze { axes: vec![0] }, &[y])
        } else {
            Ok(y)
        }
    });
    Ok(Model::new(h, class, layer, params, vec![]))
}
