//! The native `nn::` layers (the Rhai half is stdlib/nn.rhai): each a
//! `Model` with PyTorch's parameter shapes, names and default init.

use super::super::layers::gelu_tanh;
use super::super::model::{Layer, Model, const_param, normal_param, rt_err, uniform_param};
use super::Api;
use super::elementwise::GELU_MODES;
use super::util::{
    DTYPE_OPT, MAX_TENSOR_BYTES, OptSpec, Opts, R, dims, opt, positive, size2, spatial,
};
use crate::graph::Op;
use crate::script::host::Host;
use rhai::{Array, Dynamic, ImmutableString, Map, NativeCallContext};

const LINEAR_OPTS: &[OptSpec] = &[opt("bias", "true", "learn an additive bias"), DTYPE_OPT];
const CONV_OPTS: &[OptSpec] = &[
    opt(
        "stride",
        "1",
        "step of the window (an int or one per spatial dim)",
    ),
    opt(
        "padding",
        "0",
        "zeros added on both sides of each spatial dim",
    ),
    opt("dilation", "1", "spacing between kernel elements"),
    opt(
        "groups",
        "1",
        "blocked connections from input to output channels",
    ),
    opt("bias", "true", "learn an additive bias"),
    DTYPE_OPT,
];
const CONV_T_OPTS: &[OptSpec] = &[
    opt(
        "stride",
        "1",
        "step of the window (an int or one per spatial dim)",
    ),
    opt(
        "padding",
        "0",
        "dilation * (kernel - 1) - padding zeros on both sides",
    ),
    opt(
        "output_padding",
        "0",
        "extra size on one side of the output",
    ),
    opt("dilation", "1", "spacing between kernel elements"),
    opt(
        "groups",
        "1",
        "blocked connections from input to output channels",
    ),
    opt("bias", "true", "learn an additive bias"),
    DTYPE_OPT,
];
const BN_OPTS: &[OptSpec] = &[
    opt("eps", "1e-5", "added to the variance"),
    opt(
        "frozen",
        "false",
        "weight and bias are buffers, not parameters (torchvision's and DETR's FrozenBatchNorm2d)",
    ),
    DTYPE_OPT,
];
const LN_OPTS: &[OptSpec] = &[
    opt("eps", "1e-5", "added to the variance"),
    opt("bias", "true", "learn an additive bias"),
    DTYPE_OPT,
];
const RMS_OPTS: &[OptSpec] = &[opt("eps", "1e-6", "added to the mean square"), DTYPE_OPT];
const DTYPE_ONLY: &[OptSpec] = &[DTYPE_OPT];
const PARAM_OPTS: &[OptSpec] = &[
    opt(
        "init",
        "\"zeros\"",
        "zeros, ones, constant, normal or uniform",
    ),
    opt("std", "1.0", "normal: standard deviation"),
    opt("bound", "1.0", "uniform: values in [-bound, bound]"),
    opt("value", "0.0", "constant: the value"),
    opt(
        "buffer",
        "false",
        "true: a buffer (register_buffer): exported and loaded, not counted as a parameter",
    ),
    DTYPE_OPT,
];

pub fn register(api: &mut Api) {
    api.family("nn");
    api.doc_layer("linear")
        .about("y = x @ weight^T + bias; weight [out, in], uniform(+-1/sqrt(in)) init.")
        .onnx("Gemm (2-d input) or MatMul, Add")
        .torch("nn.Linear")
        .options(LINEAR_OPTS);
    let h = api.host.clone();
    api.layer(
        "linear",
        ["in_features", "out_features"],
        move |ctx: NativeCallContext, i: i64, o: i64| linear(&ctx, &h, i, o, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "linear",
        ["in_features", "out_features", "opts"],
        move |ctx: NativeCallContext, i: i64, o: i64, opts: Map| linear(&ctx, &h, i, o, opts),
    );
    for (name, sp, tr, torch) in [
        ("conv1d", 1usize, false, "nn.Conv1d"),
        ("conv2d", 2, false, "nn.Conv2d"),
        ("conv3d", 3, false, "nn.Conv3d"),
        ("conv_transpose1d", 1, true, "nn.ConvTranspose1d"),
        ("conv_transpose2d", 2, true, "nn.ConvTranspose2d"),
        ("conv_transpose3d", 3, true, "nn.ConvTranspose3d"),
    ] {
        api.doc_layer(name)
            .about("A convolution layer; kernel_size is an int or one per spatial dim.")
            .onnx(if tr { "ConvTranspose" } else { "Conv" })
            .torch(torch)
            .options(if tr { CONV_T_OPTS } else { CONV_OPTS });
        let h = api.host.clone();
        api.layer(
            name,
            ["in_channels", "out_channels", "kernel_size"],
            move |ctx: NativeCallContext, i: i64, o: i64, k: Dynamic| {
                conv(&ctx, &h, sp, tr, i, o, &k, Map::new())
            },
        );
        let h = api.host.clone();
        api.layer(
            name,
            ["in_channels", "out_channels", "kernel_size", "opts"],
            move |ctx: NativeCallContext, i: i64, o: i64, k: Dynamic, opts: Map| {
                conv(&ctx, &h, sp, tr, i, o, &k, opts)
            },
        );
    }
    for name in ["batch_norm2d", "batch_norm1d"] {
        api.doc_layer(name)
            .about(
                "Inference batch norm over channels (dim 1): weight, bias and the running_mean \
                 / running_var buffers (not counted as parameters).",
            )
            .onnx("BatchNormalization")
            .torch(if name == "batch_norm2d" {
                "nn.BatchNorm2d"
            } else {
                "nn.BatchNorm1d"
            })
            .options(BN_OPTS);
        let h = api.host.clone();
        api.layer(
            name,
            ["num_features"],
            move |ctx: NativeCallContext, c: i64| batch_norm(&ctx, &h, c, Map::new()),
        );
        let h = api.host.clone();
        api.layer(
            name,
            ["num_features", "opts"],
            move |ctx: NativeCallContext, c: i64, opts: Map| batch_norm(&ctx, &h, c, opts),
        );
    }
    api.doc_layer("layer_norm")
        .about("Layer norm over the trailing normalized_shape (an int or an array).")
        .onnx("LayerNormalization")
        .torch("nn.LayerNorm")
        .options(LN_OPTS);
    let h = api.host.clone();
    api.layer(
        "layer_norm",
        ["normalized_shape"],
        move |ctx: NativeCallContext, d: Dynamic| layer_norm_layer(&ctx, &h, &d, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "layer_norm",
        ["normalized_shape", "opts"],
        move |ctx: NativeCallContext, d: Dynamic, opts: Map| layer_norm_layer(&ctx, &h, &d, opts),
    );
    api.doc_layer("rms_norm")
        .about("x / sqrt(mean(x^2) + eps) * weight over the trailing normalized_shape (T5, Llama).")
        .onnx("Mul, ReduceMean, Add, Sqrt, Div, Mul")
        .torch("nn.RMSNorm")
        .options(RMS_OPTS);
    for with_opts in [false, true] {
        let h = api.host.clone();
        let make = move |ctx: &NativeCallContext, d: &Dynamic, opts: Map| -> R<Model> {
            let o = Opts::new(ctx, "nn::rms_norm", opts, RMS_OPTS)?;
            let shape = normalized_shape(ctx, "nn::rms_norm", d)?;
            let layer = Layer::RmsNorm {
                eps: o.float("eps")?,
                ndims: shape.len(),
            };
            let params = vec![("weight", const_param(&shape, 1.0, o.dtype()?, true))];
            Ok(Model::new(&h, "RMSNorm", layer, params, vec![]))
        };
        if with_opts {
            api.layer(
                "rms_norm",
                ["normalized_shape", "opts"],
                move |ctx: NativeCallContext, d: Dynamic, opts: Map| make(&ctx, &d, opts),
            );
        } else {
            api.layer(
                "rms_norm",
                ["normalized_shape"],
                move |ctx: NativeCallContext, d: Dynamic| make(&ctx, &d, Map::new()),
            );
        }
    }
    api.doc_layer("embedding")
        .about("A lookup table [num_embeddings, embedding_dim] (normal(0, 1) init) indexed by int64 ids.")
        .onnx("Gather")
        .torch("nn.Embedding")
        .options(DTYPE_ONLY);
    let h = api.host.clone();
    api.layer(
        "embedding",
        ["num_embeddings", "embedding_dim"],
        move |ctx: NativeCallContext, n: i64, d: i64| embedding(&ctx, &h, n, d, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "embedding",
        ["num_embeddings", "embedding_dim", "opts"],
        move |ctx: NativeCallContext, n: i64, d: i64, opts: Map| embedding(&ctx, &h, n, d, opts),
    );
    api.doc_layer("multi_head_attention")
        .about(
            "nn.MultiheadAttention(batch_first=True): forward takes one [batch, seq, dim] \
             tensor (self-attention) or [q, k, v]; in_proj_weight [3E, E], out_proj.",
        )
        .onnx("Split, MatMul, Add, Reshape, Transpose, Softmax, ...")
        .torch("nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)")
        .options(DTYPE_ONLY);
    let h = api.host.clone();
    api.layer(
        "multi_head_attention",
        ["embed_dim", "num_heads"],
        move |ctx: NativeCallContext, d: i64, heads: i64| mha(&ctx, &h, d, heads, Map::new()),
    );
    let h = api.host.clone();
    api.layer(
        "multi_head_attention",
        ["embed_dim", "num_heads", "opts"],
        move |ctx: NativeCallContext, d: i64, heads: i64, opts: Map| mha(&ctx, &h, d, heads, opts),
    );
    api.doc_layer("dropout")
        .about("Identity at inference (kept as a node).")
        .onnx("Dropout")
        .torch("nn.Dropout");
    let h = api.host.clone();
    api.layer("dropout", ["p"], move |ctx: NativeCallContext, p: f64| {
        if !(0.0..1.0).contains(&p) {
            return Err(rt_err(
                &ctx,
                format!("dropout probability must be in [0, 1), got {p}"),
            ));
        }
        Ok(Model::new(
            &h,
            "Dropout",
            Layer::Op(Op::Dropout { ratio: p }),
            vec![],
            vec![],
        ))
    });
    api.doc_layer("parameter")
        .about(
            "A free parameter (nn.Parameter) named name: read it inside a forward with \
             model.param(name); its own forward returns it (class tokens, layer scales). It is \
             exported as name in the module that holds it (`encoder.pos_embedding`), as \
             `self.name = nn.Parameter(...)` is.",
        )
        .torch("nn.Parameter")
        .options(PARAM_OPTS);
    for with_opts in [false, true] {
        let h = api.host.clone();
        let make = move |ctx: &NativeCallContext, name: &str, shape: &Array, opts: Map| {
            parameter(ctx, &h, name, shape, opts)
        };
        if with_opts {
            api.layer(
                "parameter",
                ["name", "shape", "opts"],
                move |ctx: NativeCallContext, name: ImmutableString, shape: Array, opts: Map| {
                    make(&ctx, &name, &shape, opts)
                },
            );
        } else {
            api.layer(
                "parameter",
                ["name", "shape"],
                move |ctx: NativeCallContext, name: ImmutableString, shape: Array| {
                    make(&ctx, &name, &shape, Map::new())
                },
            );
        }
    }

    api.family("nn");
    let acts: [(&str, &str, &str, &str, Op); 9] = [
        ("relu", "ReLU", "Relu", "nn.ReLU", Op::Relu),
        ("gelu", "GELU", "Gelu", "nn.GELU", Op::Gelu),
        ("silu", "SiLU", "Sigmoid, Mul", "nn.SiLU", Op::Silu),
        ("sigmoid", "Sigmoid", "Sigmoid", "nn.Sigmoid", Op::Sigmoid),
        ("tanh", "Tanh", "Tanh", "nn.Tanh", Op::Tanh),
        (
            "hardswish",
            "Hardswish",
            "HardSwish",
            "nn.Hardswish",
            Op::HardSwish,
        ),
        (
            "hardsigmoid",
            "Hardsigmoid",
            "HardSigmoid",
            "nn.Hardsigmoid",
            Op::HardSigmoid,
        ),
        (
            "identity",
            "Identity",
            "Identity",
            "nn.Identity",
            Op::Identity,
        ),
        (
            "relu6",
            "ReLU6",
            "Clip",
            "nn.ReLU6",
            Op::Clip {
                min: Some(0.0),
                max: Some(6.0),
            },
        ),
    ];
    for (name, class, onnx, torch, op) in acts {
        api.doc_layer(name)
            .about(&format!(
                "The {class} activation as a layer (no parameters)."
            ))
            .onnx(onnx)
            .torch(torch);
        let h = api.host.clone();
        api.layer(name, [], move |ctx: NativeCallContext| {
            let _ = &ctx;
            Ok(Model::new(&h, class, Layer::Op(op.clone()), vec![], vec![]))
        });
    }
    let h = api.host.clone();
    api.layer(
        "gelu",
        ["approximate"],
        move |ctx: NativeCallContext, approximate: ImmutableString| {
            let layer = match approximate.as_str() {
                "none" => Layer::Op(Op::Gelu),
                "tanh" => Layer::Composite(gelu_tanh),
                _ => return Err(rt_err(&ctx, GELU_MODES)),
            };
            Ok(Model::new(&h, "GELU", layer, vec![], vec![]))
        },
    );
    api.doc_layer("leaky_relu")
        .about("x where x > 0, else negative_slope * x.")
        .onnx("Greater, Mul, Where")
        .torch("nn.LeakyReLU");
    let h = api.host.clone();
    api.layer(
        "leaky_relu",
        ["negative_slope"],
        move |ctx: NativeCallContext, slope: f64| {
            let _ = &ctx;
            Ok(Model::new(
                &h,
                "LeakyReLU",
                Layer::LeakyRelu { slope },
                vec![],
                vec![],
            ))
        },
    );
    api.doc_layer("softmax")
        .about("Softmax over dim as a layer (dim must be non-negative: the rank is not known yet).")
        .onnx("Softmax")
        .torch("nn.Softmax(dim)");
    let h = api.host.clone();
    api.layer("softmax", ["dim"], move |ctx: NativeCallContext, a: i64| {
        if a < 0 {
            return Err(rt_err(
                &ctx,
                "nn::softmax(dim): give a non-negative dim (the layer does not know its input rank yet)",
            ));
        }
        Ok(Model::new(
            &h,
            "Softmax",
            Layer::Op(Op::Softmax { axis: a as usize }),
            vec![],
            vec![],
        ))
    });
    api.doc_layer("flatten")
        .about("torch.flatten(x, start_dim) as a layer (start_dim defaults to 1).")
        .onnx("Flatten or Reshape")
        .torch("nn.Flatten");
    let h = api.host.clone();
    api.layer("flatten", [], move |ctx: NativeCallContext| {
        let _ = &ctx;
        Ok(Model::new(
            &h,
            "Flatten",
            Layer::Flatten { start: 1 },
            vec![],
            vec![],
        ))
    });
    let h = api.host.clone();
    api.layer(
        "flatten",
        ["start_dim"],
        move |ctx: NativeCallContext, s: i64| {
            if s < 0 {
                return Err(rt_err(
                    &ctx,
                    "nn::flatten(start_dim) needs a non-negative start_dim",
                ));
            }
            Ok(Model::new(
                &h,
                "Flatten",
                Layer::Flatten { start: s as usize },
                vec![],
                vec![],
            ))
        },
    );
    super::spatial::pool_layers(api);
    api.doc_layer("adaptive_avg_pool2d")
        .about("Average pooling to a fixed output size (default 1: a global pool).")
        .onnx("GlobalAveragePool | AveragePool | MatMul")
        .torch("nn.AdaptiveAvgPool2d");
    let h = api.host.clone();
    api.layer("adaptive_avg_pool2d", [], move |ctx: NativeCallContext| {
        let _ = &ctx;
        Ok(Model::new(
            &h,
            "AdaptiveAvgPool2d",
            Layer::Op(Op::GlobalAvgPool),
            vec![],
            vec![],
        ))
    });
    let h = api.host.clone();
    api.layer(
        "adaptive_avg_pool2d",
        ["output_size"],
        move |ctx: NativeCallContext, size: Dynamic| {
            let size = size2(&ctx, "output_size", &size)?;
            Ok(Model::new(
                &h,
                "AdaptiveAvgPool2d",
                Layer::AdaptiveAvgPool { size },
                vec![],
                vec![],
            ))
        },
    );
}

fn linear(ctx: &NativeCallContext, h: &Host, i: i64, o: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::linear", opts, LINEAR_OPTS)?;
    let (i, o) = (
        positive(ctx, "in_features", i)?,
        positive(ctx, "out_features", o)?,
    );
    let bias = opts.bool("bias")?;
    let dt = opts.dtype()?;
    let bound = 1.0 / (i as f64).sqrt();
    let mut params = vec![("weight", uniform_param(h, &[o, i], bound, dt))];
    if bias {
        params.push(("bias", uniform_param(h, &[o], bound, dt)));
    }
    Ok(Model::new(
        h,
        "Linear",
        Layer::Linear { bias },
        params,
        vec![],
    ))
}

#[allow(clippy::too_many_arguments)]
fn conv(
    ctx: &NativeCallContext,
    h: &Host,
    sp: usize,
    transpose: bool,
    i: i64,
    o: i64,
    k: &Dynamic,
    opts: Map,
) -> R<Model> {
    let class = if transpose {
        format!("ConvTranspose{sp}d")
    } else {
        format!("Conv{sp}d")
    };
    let fname = &format!(
        "nn::{}",
        class.to_lowercase().replace("transpose", "_transpose")
    );
    let spec = if transpose { CONV_T_OPTS } else { CONV_OPTS };
    let opts = Opts::new(ctx, fname, opts, spec)?;
    let (i, o) = (
        positive(ctx, "in_channels", i)?,
        positive(ctx, "out_channels", o)?,
    );
    let kernel = spatial(ctx, "kernel_size", k, sp)?;
    if kernel.contains(&0) {
        return Err(rt_err(ctx, "kernel_size must be at least 1"));
    }
    let groups = positive(ctx, "groups", opts.int("groups")?)?;
    if i % groups != 0 || o % groups != 0 {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: in_channels {i} and out_channels {o} must both be divisible by groups {groups}"
            ),
        ));
    }
    let bias = opts.bool("bias")?;
    let dt = opts.dtype()?;
    let kk: usize = kernel.iter().product();
    // PyTorch's weight layouts and kaiming-uniform(a=sqrt 5) bound 1/sqrt(fan_in).
    let (wshape, fan_in) = if transpose {
        (
            [vec![i, o / groups], kernel.clone()].concat(),
            (o / groups) * kk,
        )
    } else {
        (
            [vec![o, i / groups], kernel.clone()].concat(),
            (i / groups) * kk,
        )
    };
    let bound = 1.0 / (fan_in as f64).sqrt();
    let mut params = vec![("weight", uniform_param(h, &wshape, bound, dt))];
    if bias {
        params.push(("bias", uniform_param(h, &[o], bound, dt)));
    }
    let layer = Layer::Conv {
        kernel,
        stride: opts.spatial("stride", sp)?,
        padding: opts.spatial("padding", sp)?,
        dilation: opts.spatial("dilation", sp)?,
        output_padding: if transpose {
            opts.spatial("output_padding", sp)?
        } else {
            vec![0; sp]
        },
        groups,
        bias,
        transpose,
    };
    Ok(Model::new(h, &class, layer, params, vec![]))
}

fn batch_norm(ctx: &NativeCallContext, h: &Host, c: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::batch_norm2d", opts, BN_OPTS)?;
    let c = positive(ctx, "num_features", c)?;
    let dt = opts.dtype()?;
    let affine = !opts.bool("frozen")?;
    let params = vec![
        ("weight", const_param(&[c], 1.0, dt, affine)),
        ("bias", const_param(&[c], 0.0, dt, affine)),
        ("running_mean", const_param(&[c], 0.0, dt, false)),
        ("running_var", const_param(&[c], 1.0, dt, false)),
    ];
    Ok(Model::new(
        h,
        "BatchNorm2d",
        Layer::BatchNorm {
            eps: opts.float("eps")?,
        },
        params,
        vec![],
    ))
}

fn normalized_shape(ctx: &NativeCallContext, fname: &str, d: &Dynamic) -> R<Vec<usize>> {
    if let Ok(v) = d.as_int() {
        Ok(vec![positive(ctx, "normalized_shape", v)?])
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        dims(ctx, &a)
    } else {
        Err(rt_err(
            ctx,
            format!("{fname}(dim): dim must be an int or an array of ints"),
        ))
    }
}

fn layer_norm_layer(ctx: &NativeCallContext, h: &Host, d: &Dynamic, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::layer_norm", opts, LN_OPTS)?;
    let shape = normalized_shape(ctx, "nn::layer_norm", d)?;
    let dt = opts.dtype()?;
    let bias = opts.bool("bias")?;
    let mut params = vec![("weight", const_param(&shape, 1.0, dt, true))];
    if bias {
        params.push(("bias", const_param(&shape, 0.0, dt, true)));
    }
    let layer = Layer::LayerNorm {
        eps: opts.float("eps")?,
        ndims: shape.len(),
        bias,
    };
    Ok(Model::new(h, "LayerNorm", layer, params, vec![]))
}

fn embedding(ctx: &NativeCallContext, h: &Host, n: i64, d: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::embedding", opts, DTYPE_ONLY)?;
    let (n, d) = (
        positive(ctx, "num_embeddings", n)?,
        positive(ctx, "embedding_dim", d)?,
    );
    let params = vec![("weight", normal_param(h, &[n, d], 1.0, opts.dtype()?))];
    Ok(Model::new(h, "Embedding", Layer::Embedding, params, vec![]))
}

fn mha(ctx: &NativeCallContext, h: &Host, d: i64, heads: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::multi_head_attention", opts, DTYPE_ONLY)?;
    let (d, heads) = (
        positive(ctx, "embed_dim", d)?,
        positive(ctx, "num_heads", heads)?,
    );
    if d % heads != 0 {
        return Err(rt_err(
            ctx,
            format!(
                "nn::multi_head_attention: embed_dim {d} must be divisible by num_heads {heads}"
            ),
        ));
    }
    let dt = opts.dtype()?;
    // PyTorch: xavier-uniform in_proj, zero biases, out_proj like a Linear.
    let xavier = (6.0 / (d + 3 * d) as f64).sqrt();
    let params = vec![
        ("in_proj_weight", uniform_param(h, &[3 * d, d], xavier, dt)),
        ("in_proj_bias", const_param(&[3 * d], 0.0, dt, true)),
        (
            "out_proj.weight",
            uniform_param(h, &[d, d], 1.0 / (d as f64).sqrt(), dt),
        ),
        ("out_proj.bias", const_param(&[d], 0.0, dt, true)),
    ];
    Ok(Model::new(
        h,
        "MultiheadAttention",
        Layer::Attention { dim: d, heads },
        params,
        vec![],
    ))
}

fn parameter(ctx: &NativeCallContext, h: &Host, name: &str, shape: &Array, opts: Map) -> R<Model> {
    let o = Opts::new(ctx, "nn::parameter", opts, PARAM_OPTS)?;
    if name.is_empty() || name.contains(['/', ' ']) {
        return Err(rt_err(
            ctx,
            format!("nn::parameter: \"{name}\" is not a usable parameter name"),
        ));
    }
    let dims: Vec<usize> = shape
        .iter()
        .map(|d| {
            d.as_int()
                .map_err(|_| rt_err(ctx, "nn::parameter: shape entries must be ints"))
                .and_then(|v| positive(ctx, "shape entry", v))
        })
        .collect::<R<_>>()?;
    let numel = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    if numel.is_none_or(|n| n.saturating_mul(8) > MAX_TENSOR_BYTES) {
        return Err(rt_err(
            ctx,
            format!("nn::parameter: shape {dims:?} is too large"),
        ));
    }
    let dt = o.dtype()?;
    if !dt.is_float() {
        return Err(rt_err(
            ctx,
            format!("nn::parameter: {dt} is not a float dtype"),
        ));
    }
    let mut param = match o.string("init")?.as_str() {
        "zeros" => const_param(&dims, 0.0, dt, true),
        "ones" => const_param(&dims, 1.0, dt, true),
        "constant" => const_param(&dims, o.float("value")?, dt, true),
        "normal" => normal_param(h, &dims, o.float("std")?, dt),
        "uniform" => uniform_param(h, &dims, o.float("bound")?, dt),
        other => {
            return Err(rt_err(
                ctx,
                format!(
                    "nn::parameter: init \"{other}\" is not known; use zeros, ones, constant, normal or uniform"
                ),
            ));
        }
    };
    param.trainable = !o.bool("buffer")?;
    Ok(Model::new(
        h,
        "Parameter",
        Layer::Parameter,
        vec![(name, param)],
        vec![],
    ))
}
