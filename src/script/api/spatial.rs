//! Convolutions, pools and resizing over [N, C, spatial...] tensors.

use super::super::layers::adaptive_avg_pool;
use super::super::model::rt_err;
use super::super::tensor::Tensor;
use super::Api;
use super::util::{OptSpec, Opts, R, ap, num, opt, size2, spatial, traced};
use crate::graph::{Op, ResizeMode};
use crate::script::host::Host;
use rhai::{Array, Dynamic, Map, NativeCallContext};

pub const CONV_FN_OPTS: &[OptSpec] = &[
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
    opt(
        "output_padding",
        "0",
        "transposed convolutions: extra size on one side of the output",
    ),
];

pub const POOL_OPTS: &[OptSpec] = &[
    opt(
        "stride",
        "-",
        "step of the window (defaults to the kernel size)",
    ),
    opt("padding", "0", "implicit padding on both sides"),
    opt(
        "ceil_mode",
        "false",
        "ceil instead of floor when computing the output size",
    ),
    opt(
        "count_include_pad",
        "true",
        "avg_pool2d: count padded zeros in the average",
    ),
];

pub fn register(api: &mut Api) {
    api.family("convolution");
    for (name, sp, tr, onnx, torch) in [
        ("conv1d", 1usize, false, "Conv", "F.conv1d"),
        ("conv2d", 2, false, "Conv", "F.conv2d"),
        (
            "conv_transpose2d",
            2,
            true,
            "ConvTranspose",
            "F.conv_transpose2d",
        ),
    ] {
        api.doc(name)
            .about(
                "Convolution of x [N, C_in, spatial...] with weight [C_out, C_in/groups, \
                 kernel...] ([C_in, C_out/groups, kernel...] when transposed) and an optional \
                 bias (pass () for none when giving options).",
            )
            .onnx(onnx)
            .torch(torch)
            .options(CONV_FN_OPTS);
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "weight"],
            move |ctx: NativeCallContext, x: Tensor, w: Tensor| -> R<Tensor> {
                conv_fn(&ctx, &h, sp, tr, x, w, None, Map::new())
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "weight", "bias"],
            move |ctx: NativeCallContext, x: Tensor, w: Tensor, b: Tensor| -> R<Tensor> {
                conv_fn(&ctx, &h, sp, tr, x, w, Some(b), Map::new())
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "weight", "bias", "opts"],
            move |ctx: NativeCallContext, x: Tensor, w: Tensor, b: Dynamic, o: Map| -> R<Tensor> {
                let b = b.try_cast::<Tensor>();
                conv_fn(&ctx, &h, sp, tr, x, w, b, o)
            },
        );
    }

    api.family("pooling");
    for (name, is_max, onnx, torch) in [
        ("max_pool2d", true, "MaxPool", "F.max_pool2d"),
        ("avg_pool2d", false, "AveragePool", "F.avg_pool2d"),
    ] {
        api.doc(name)
            .about(
                "Pools over the last two dims with a kernel (an int or [h, w]); stride \
                 defaults to the kernel. Takes (kernel), (kernel, stride), (kernel, stride, \
                 padding) or (kernel, options).",
            )
            .onnx(onnx)
            .torch(torch)
            .options(POOL_OPTS);
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "kernel_size"],
            move |ctx: NativeCallContext, x: Tensor, k: Dynamic| -> R<Tensor> {
                pool(&ctx, &h, is_max, x, &k, None, None)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "kernel_size", "stride_or_opts"],
            move |ctx: NativeCallContext, x: Tensor, k: Dynamic, s: Dynamic| -> R<Tensor> {
                pool(&ctx, &h, is_max, x, &k, Some(&s), None)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "kernel_size", "stride", "padding"],
            move |ctx: NativeCallContext,
                  x: Tensor,
                  k: Dynamic,
                  s: Dynamic,
                  p: Dynamic|
                  -> R<Tensor> { pool(&ctx, &h, is_max, x, &k, Some(&s), Some(&p)) },
        );
    }
    api.doc("global_avg_pool")
        .about("The mean over every spatial dim, kept as size 1: [N, C, 1, 1].")
        .onnx("GlobalAveragePool")
        .torch("F.adaptive_avg_pool2d(x, 1)");
    let h = api.host.clone();
    api.fun(
        "global_avg_pool",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::GlobalAvgPool, &[x])
        },
    );
    api.doc("adaptive_avg_pool2d")
        .about(
            "Average pooling to a fixed output size (an int or [h, w]) with PyTorch's bins: a \
             global pool, an AvgPool when the input divides evenly, else two averaging matmuls.",
        )
        .onnx("GlobalAveragePool | AveragePool | MatMul")
        .torch("F.adaptive_avg_pool2d");
    let h = api.host.clone();
    api.fun(
        "adaptive_avg_pool2d",
        ["x", "output_size"],
        move |ctx: NativeCallContext, x: Tensor, size: Dynamic| -> R<Tensor> {
            let size = size2(&ctx, "output_size", &size)?;
            traced(&ctx, &h, &x, |t, v| adaptive_avg_pool(t, v, size))
        },
    );

    api.doc("resize")
        .about(
            "Scales the spatial dims by a factor (a number for every dim after the first \
             two, or one per dim); mode \"nearest\" (default) or \"linear\"/\"bilinear\" \
             (half-pixel, as PyTorch's align_corners=False).",
        )
        .onnx("Resize")
        .torch("F.interpolate(x, scale_factor=..., mode=...)");
    let h = api.host.clone();
    api.fun(
        "resize",
        ["x", "scale"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic| -> R<Tensor> {
            resize(&ctx, &h, x, &s, "nearest")
        },
    );
    let h = api.host.clone();
    api.fun(
        "resize",
        ["x", "scale", "mode"],
        move |ctx: NativeCallContext, x: Tensor, s: Dynamic, mode: &str| -> R<Tensor> {
            resize(&ctx, &h, x, &s, mode)
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn conv_fn(
    ctx: &NativeCallContext,
    h: &Host,
    sp: usize,
    transpose: bool,
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
    o: Map,
) -> R<Tensor> {
    let o = Opts::new(ctx, "conv", o, CONV_FN_OPTS)?;
    let kernel: Vec<usize> = w.shape().iter().skip(2).copied().collect();
    if kernel.len() != sp {
        return Err(rt_err(
            ctx,
            format!("conv weight must have rank {}, got {}", sp + 2, w.rank()),
        ));
    }
    let strides = o.spatial("stride", sp)?;
    let pad = o.spatial("padding", sp)?;
    let dilations = o.spatial("dilation", sp)?;
    let group = o.int("groups")?.max(1) as usize;
    let pads: Vec<usize> = pad.iter().chain(pad.iter()).copied().collect();
    let op = if transpose {
        Op::ConvTranspose {
            kernel,
            strides,
            pads,
            output_padding: o.spatial("output_padding", sp)?,
            dilations,
            group,
        }
    } else {
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            group,
        }
    };
    let mut ins = vec![x, w];
    ins.extend(b);
    ap(ctx, h, op, &ins)
}

fn pool(
    ctx: &NativeCallContext,
    h: &Host,
    is_max: bool,
    x: Tensor,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Tensor> {
    ap(ctx, h, pool_op(ctx, is_max, k, s, p)?, &[x])
}

/// `(kernel)`, `(kernel, stride)`, `(kernel, stride, padding)`, or
/// `(kernel, #{stride, padding, ceil_mode, count_include_pad})`.
pub fn pool_op(
    ctx: &NativeCallContext,
    is_max: bool,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Op> {
    let kernel = spatial(ctx, "kernel size", k, 2)?;
    let fname = if is_max { "max_pool2d" } else { "avg_pool2d" };
    let opts = match s.and_then(|s| s.clone().try_cast::<Map>()) {
        Some(map) if p.is_none() => {
            if is_max && map.contains_key("count_include_pad") {
                return Err(rt_err(
                    ctx,
                    "max_pool2d: unknown option 'count_include_pad'; known: stride, padding, ceil_mode",
                ));
            }
            Some(Opts::new(ctx, fname, map, POOL_OPTS)?)
        }
        _ => None,
    };
    let (strides, pad, ceil_mode, count_include_pad) = match &opts {
        Some(o) => (
            match o.get("stride") {
                Some(s) => spatial(ctx, "stride", &s, 2)?,
                None => kernel.clone(),
            },
            o.spatial("padding", 2)?,
            o.bool("ceil_mode")?,
            o.bool("count_include_pad")?,
        ),
        None => (
            match s {
                Some(s) => spatial(ctx, "stride", s, 2)?,
                None => kernel.clone(),
            },
            match p {
                Some(p) => spatial(ctx, "padding", p, 2)?,
                None => vec![0, 0],
            },
            false,
            true,
        ),
    };
    let pads: Vec<usize> = pad.iter().chain(pad.iter()).copied().collect();
    Ok(if is_max {
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        }
    } else {
        Op::AvgPool {
            kernel,
            strides,
            pads,
            ceil_mode,
            count_include_pad,
        }
    })
}

fn resize(ctx: &NativeCallContext, h: &Host, x: Tensor, s: &Dynamic, mode: &str) -> R<Tensor> {
    let mode = match mode {
        "nearest" => ResizeMode::Nearest,
        "linear" | "bilinear" => ResizeMode::Linear,
        m => {
            return Err(rt_err(
                ctx,
                format!("resize mode \"{m}\" is not known; use \"nearest\" or \"linear\""),
            ));
        }
    };
    let scales: Vec<f64> = if let Ok(f) = num(ctx, s) {
        (0..x.rank()).map(|i| if i < 2 { 1.0 } else { f }).collect()
    } else if let Some(a) = s.clone().try_cast::<Array>() {
        a.iter().map(|v| num(ctx, v)).collect::<R<_>>()?
    } else {
        return Err(rt_err(
            ctx,
            "resize scale must be a number or an array of numbers",
        ));
    };
    ap(ctx, h, Op::Resize { scales, mode }, &[x])
}
