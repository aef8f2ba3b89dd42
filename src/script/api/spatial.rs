//! Convolutions, pools and resizing over [N, C, spatial...] tensors.

use super::super::composites;
use super::super::host::Trace;
use super::super::layers::adaptive_avg_pool;
use super::super::model::{Layer, Model, native, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{OptSpec, Opts, R, ap, num, opt, size2, spatial, traced};
use crate::graph::{Op, ResizeMode, ValueId};
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

/// The max and average pools over 1 to 3 dims: (spatial dims, is max,
/// script name, ONNX operator, PyTorch class).
pub fn pool_kinds() -> impl Iterator<Item = (usize, bool, String, &'static str, String)> {
    [1usize, 2, 3]
        .into_iter()
        .flat_map(|d| [(d, true), (d, false)])
        .map(|(sp, is_max)| {
            let (kind, onnx, class) = if is_max {
                ("max", "MaxPool", "Max")
            } else {
                ("avg", "AveragePool", "Avg")
            };
            (
                sp,
                is_max,
                format!("{kind}_pool{sp}d"),
                onnx,
                format!("{class}Pool{sp}d"),
            )
        })
}

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
        "average pools: count padded zeros in the average",
    ),
];

pub fn register(api: &mut Api) {
    api.family("convolution");
    for (name, sp, tr, onnx, torch) in [
        ("conv1d", 1usize, false, "Conv", "F.conv1d"),
        ("conv2d", 2, false, "Conv", "F.conv2d"),
        ("conv3d", 3, false, "Conv", "F.conv3d"),
        (
            "conv_transpose1d",
            1,
            true,
            "ConvTranspose",
            "F.conv_transpose1d",
        ),
        (
            "conv_transpose2d",
            2,
            true,
            "ConvTranspose",
            "F.conv_transpose2d",
        ),
        (
            "conv_transpose3d",
            3,
            true,
            "ConvTranspose",
            "F.conv_transpose3d",
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
    for (sp, is_max, name, onnx, _) in pool_kinds() {
        let dims = [
            "",
            "the last dim",
            "the last two dims",
            "the last three dims",
        ][sp];
        api.doc(&name)
            .about(&format!(
                "Pools over {dims} of [N, C, ...] with a kernel (an int or one per dim); \
                 stride defaults to the kernel. Takes (kernel), (kernel, stride), (kernel, \
                 stride, padding) or (kernel, options)."
            ))
            .onnx(onnx)
            .torch(&format!("F.{name}"))
            .options(POOL_OPTS);
        let h = api.host.clone();
        api.fun(
            &name,
            ["x", "kernel_size"],
            move |ctx: NativeCallContext, x: Tensor, k: Dynamic| -> R<Tensor> {
                pool(&ctx, &h, sp, is_max, x, &k, None, None)
            },
        );
        let h = api.host.clone();
        api.fun(
            &name,
            ["x", "kernel_size", "stride_or_opts"],
            move |ctx: NativeCallContext, x: Tensor, k: Dynamic, s: Dynamic| -> R<Tensor> {
                pool(&ctx, &h, sp, is_max, x, &k, Some(&s), None)
            },
        );
        let h = api.host.clone();
        api.fun(
            &name,
            ["x", "kernel_size", "stride", "padding"],
            move |ctx: NativeCallContext,
                  x: Tensor,
                  k: Dynamic,
                  s: Dynamic,
                  p: Dynamic|
                  -> R<Tensor> {
                pool(&ctx, &h, sp, is_max, x, &k, Some(&s), Some(&p))
            },
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
    adaptive(api);

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

#[allow(clippy::too_many_arguments)]
fn pool(
    ctx: &NativeCallContext,
    h: &Host,
    sp: usize,
    is_max: bool,
    x: Tensor,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Tensor> {
    ap(ctx, h, pool_op(ctx, sp, is_max, k, s, p)?, &[x])
}

/// `(kernel)`, `(kernel, stride)`, `(kernel, stride, padding)`, or
/// `(kernel, #{stride, padding, ceil_mode, count_include_pad})`, over `sp`
/// spatial dims.
pub fn pool_op(
    ctx: &NativeCallContext,
    sp: usize,
    is_max: bool,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Op> {
    let kernel = spatial(ctx, "kernel size", k, sp)?;
    let fname = format!("{}_pool{sp}d", if is_max { "max" } else { "avg" });
    let opts = match s.and_then(|s| s.clone().try_cast::<Map>()) {
        Some(map) if p.is_none() => {
            if is_max && map.contains_key("count_include_pad") {
                return Err(rt_err(
                    ctx,
                    format!(
                        "{fname}: unknown option 'count_include_pad'; known: stride, padding, ceil_mode"
                    ),
                ));
            }
            Some(Opts::new(ctx, &fname, map, POOL_OPTS)?)
        }
        _ => None,
    };
    let (strides, pad, ceil_mode, count_include_pad) = match &opts {
        Some(o) => (
            match o.get("stride") {
                Some(s) => spatial(ctx, "stride", &s, sp)?,
                None => kernel.clone(),
            },
            o.spatial("padding", sp)?,
            o.bool("ceil_mode")?,
            o.bool("count_include_pad")?,
        ),
        None => (
            match s {
                Some(s) => spatial(ctx, "stride", s, sp)?,
                None => kernel.clone(),
            },
            match p {
                Some(p) => spatial(ctx, "padding", p, sp)?,
                None => vec![0; sp],
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

/// The 1-3d pools as `nn::` layers (their reference entries in "nn").
pub fn pool_layers(api: &mut Api) {
    api.family("nn");
    for (sp, is_max, name, onnx, class) in pool_kinds() {
        api.doc_layer(&name)
            .about(&format!(
                "A {sp}-d pool as a layer: (kernel), (kernel, stride), (kernel, stride, \
                 padding) or (kernel, options)."
            ))
            .onnx(onnx)
            .torch(&format!("nn.{class}"))
            .options(POOL_OPTS);
        let (h, c) = (api.host.clone(), class.clone());
        api.layer(
            &name,
            ["kernel_size"],
            move |ctx: NativeCallContext, k: Dynamic| {
                let op = pool_op(&ctx, sp, is_max, &k, None, None)?;
                Ok(Model::new(&h, &c, Layer::Op(op), vec![], vec![]))
            },
        );
        let (h, c) = (api.host.clone(), class.clone());
        api.layer(
            &name,
            ["kernel_size", "stride_or_opts"],
            move |ctx: NativeCallContext, k: Dynamic, s: Dynamic| {
                let op = pool_op(&ctx, sp, is_max, &k, Some(&s), None)?;
                Ok(Model::new(&h, &c, Layer::Op(op), vec![], vec![]))
            },
        );
        let (h, c) = (api.host.clone(), class);
        api.layer(
            &name,
            ["kernel_size", "stride", "padding"],
            move |ctx: NativeCallContext, k: Dynamic, s: Dynamic, p: Dynamic| {
                let op = pool_op(&ctx, sp, is_max, &k, Some(&s), Some(&p))?;
                Ok(Model::new(&h, &c, Layer::Op(op), vec![], vec![]))
            },
        );
    }
}

/// An adaptive pool's output_size: an int for every dim, or one per dim
/// where () keeps the input's size (PyTorch's None).
fn out_size(ctx: &NativeCallContext, d: &Dynamic, sp: usize) -> R<Vec<Option<usize>>> {
    let one = |v: &Dynamic| -> R<Option<usize>> {
        if v.is_unit() {
            return Ok(None);
        }
        match v.as_int() {
            Ok(n) if n >= 1 => Ok(Some(n as usize)),
            _ => Err(rt_err(
                ctx,
                format!("output_size entries must be ints >= 1 or (), got {v}"),
            )),
        }
    };
    match d.clone().try_cast::<Array>() {
        Some(a) if a.len() == sp => a.iter().map(one).collect(),
        Some(a) => Err(rt_err(
            ctx,
            format!("output_size has {} entries for {sp} spatial dims", a.len()),
        )),
        None => Ok(vec![one(d)?; sp]),
    }
}

/// The output sizes for input `x`: () entries take the input's size.
fn resolve(t: &Trace, x: ValueId, want: &[Option<usize>]) -> Vec<usize> {
    let shape = &t.graph.info(x).shape;
    let off = shape.len().saturating_sub(want.len());
    want.iter()
        .enumerate()
        .map(|(i, w)| w.unwrap_or_else(|| shape.get(off + i).copied().unwrap_or(1)))
        .collect()
}

/// adaptive_{avg,max}_pool{1,2,3}d functions and layers (the 2-d average
/// pool is registered above and in nn_layers).
fn adaptive(api: &mut Api) {
    for (sp, max) in [(1usize, false), (3, false), (1, true), (2, true), (3, true)] {
        let kind = if max { "max" } else { "avg" };
        let name = format!("adaptive_{kind}_pool{sp}d");
        let class = format!("Adaptive{}Pool{sp}d", if max { "Max" } else { "Avg" });
        let onnx = if max {
            "ReduceMax | MaxPool | Slice, ReduceMax, Concat per bin"
        } else {
            "GlobalAveragePool | AveragePool | MatMul"
        };
        api.doc(&name)
            .about(&format!(
                "{} pooling of [N, C, ...] or [C, ...] to a fixed output_size (an int, or one \
                 per dim with () keeping that dim) with PyTorch's bins: a global pool for 1, \
                 one exact pool when the input divides, else bin by bin.",
                if max { "Max" } else { "Average" }
            ))
            .onnx(onnx)
            .torch(&format!("F.{name}"));
        let h = api.host.clone();
        api.fun(
            &name,
            ["x", "output_size"],
            move |ctx: NativeCallContext, x: Tensor, size: Dynamic| -> R<Tensor> {
                let want = out_size(&ctx, &size, sp)?;
                traced(&ctx, &h, &x, |t, v| {
                    let sizes = resolve(t, v, &want);
                    composites::adaptive_pool(t, v, &sizes, max)
                })
            },
        );
        api.doc_layer(&name)
            .about(&format!("{name} as a layer (no parameters)."))
            .onnx(onnx)
            .torch(&format!("nn.{class}(output_size)"));
        let h = api.host.clone();
        api.layer(
            &name,
            ["output_size"],
            move |ctx: NativeCallContext, size: Dynamic| {
                let want = out_size(&ctx, &size, sp)?;
                let layer = native(move |t, x, _| {
                    let sizes = resolve(t, x, &want);
                    composites::adaptive_pool(t, x, &sizes, max)
                });
                Ok(Model::new(&h, &class, layer, vec![], vec![]))
            },
        );
    }
}
