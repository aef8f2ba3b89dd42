//! Resampling: interpolate (F.interpolate with PyTorch's coordinate
//! conventions), pixel_shuffle / pixel_unshuffle, and their layers
//! nn::upsample, nn::pixel_shuffle, nn::pixel_unshuffle.

use super::super::composites;
use super::super::host::Trace;
use super::super::model::{Model, native, op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{OptSpec, Opts, R, num, opt, positive, traced};
use crate::graph::ops::resample;
use crate::graph::{DType, HostTensor, InterpMode, Op, ValueId, shape_str};
use rhai::{Array, Map, NativeCallContext};

pub const INTERP_OPTS: &[OptSpec] = &[
    opt(
        "size",
        "-",
        "output size of the spatial dims: an int for all, or one per dim",
    ),
    opt(
        "scale_factor",
        "-",
        "multiplier of the spatial dims (output = floor(input * scale)): a number, or one per dim",
    ),
    opt(
        "mode",
        "\"nearest\"",
        "nearest, nearest-exact, linear (3-d input), bilinear (4-d), bicubic (4-d), \
         trilinear (5-d) or area",
    ),
    opt(
        "align_corners",
        "false",
        "linear and cubic modes: corner pixels' centres map onto each other",
    ),
    opt(
        "recompute_scale_factor",
        "false",
        "with scale_factor: size the output by it, then map coordinates by in/out",
    ),
];

/// How big the output is: one value for every spatial dim, or one each.
#[derive(Clone, Debug)]
enum PerDim<T> {
    All(T),
    Each(Vec<T>),
}

impl<T: Clone> PerDim<T> {
    fn expand(&self, what: &str, sp: usize) -> Result<Vec<T>, String> {
        match self {
            PerDim::All(v) => Ok(vec![v.clone(); sp]),
            PerDim::Each(v) if v.len() == sp => Ok(v.clone()),
            PerDim::Each(v) => Err(format!(
                "{what} has {} values for {sp} spatial dims",
                v.len()
            )),
        }
    }
}

/// F.interpolate's arguments, checked against the input at forward time.
#[derive(Clone, Debug)]
pub struct Interp {
    size: Option<PerDim<usize>>,
    scale: Option<PerDim<f64>>,
    mode: String,
    align_corners: Option<bool>,
    recompute: bool,
}

impl Interp {
    pub fn parse(ctx: &NativeCallContext, fname: &str, map: Map) -> R<Interp> {
        let o = Opts::new(ctx, fname, map, INTERP_OPTS)?;
        let bad = |m: String| rt_err(ctx, format!("{fname}: {m}"));
        let size = match o.get("size") {
            None => None,
            Some(d) if d.is_unit() => None,
            Some(d) => Some(if let Ok(v) = d.as_int() {
                PerDim::All(positive(ctx, "size", v)?)
            } else if let Some(a) = d.clone().try_cast::<Array>() {
                let v = a
                    .iter()
                    .map(|e| {
                        e.as_int()
                            .map_err(|_| bad("size must be an int or an array of ints".into()))
                            .and_then(|v| positive(ctx, "size", v))
                    })
                    .collect::<R<Vec<_>>>()?;
                PerDim::Each(v)
            } else {
                return Err(bad("size must be an int or an array of ints".into()));
            }),
        };
        let scale = match o.get("scale_factor") {
            None => None,
            Some(d) if d.is_unit() => None,
            Some(d) => {
                let check = |v: f64| {
                    if v > 0.0 && v.is_finite() {
                        Ok(v)
                    } else {
                        Err(bad(format!("scale_factor must be positive, got {v}")))
                    }
                };
                Some(if let Some(a) = d.clone().try_cast::<Array>() {
                    PerDim::Each(
                        a.iter()
                            .map(|e| num(ctx, e).and_then(check))
                            .collect::<R<_>>()?,
                    )
                } else {
                    PerDim::All(check(num(ctx, &d)?)?)
                })
            }
        };
        if size.is_some() == scale.is_some() {
            return Err(bad("give exactly one of size and scale_factor".to_string()));
        }
        let mode = o.string("mode")?;
        let modes = [
            "nearest",
            "nearest-exact",
            "linear",
            "bilinear",
            "bicubic",
            "trilinear",
            "area",
        ];
        if !modes.contains(&mode.as_str()) {
            return Err(bad(format!(
                "mode \"{mode}\" is not known; use {}",
                modes.join(", ")
            )));
        }
        let align_corners = match o.get("align_corners") {
            None => None,
            Some(d) if d.is_unit() => None,
            Some(_) => Some(o.bool("align_corners")?),
        };
        if align_corners.is_some() && matches!(mode.as_str(), "nearest" | "nearest-exact" | "area")
        {
            return Err(bad(format!(
                "align_corners applies to linear, bilinear, bicubic and trilinear modes, not \"{mode}\""
            )));
        }
        Ok(Interp {
            size,
            scale,
            mode,
            align_corners,
            recompute: o.bool("recompute_scale_factor")?,
        })
    }

    /// The nodes for input `x`: one Resize, or an adaptive average pool
    /// for mode "area".
    pub fn apply(&self, t: &mut Trace, x: ValueId) -> Result<ValueId, String> {
        let info = t.graph.info(x).clone();
        let r = info.rank();
        if !(3..=5).contains(&r) {
            return Err(format!(
                "interpolate takes 3-d, 4-d or 5-d input ([N, C, spatial...]), got {}",
                shape_str(&info.shape)
            ));
        }
        let need = match self.mode.as_str() {
            "linear" => Some(3),
            "bilinear" | "bicubic" => Some(4),
            "trilinear" => Some(5),
            _ => None,
        };
        if let Some(k) = need
            && k != r
        {
            return Err(format!(
                "mode \"{}\" needs {k}-d input, got {r}-d {}; use {} for {r}-d input",
                self.mode,
                shape_str(&info.shape),
                ["linear", "bilinear", "trilinear"][r - 3]
            ));
        }
        let sp = r - 2;
        let (sizes, scales) = match (&self.size, &self.scale) {
            (Some(s), _) => (s.expand("size", sp)?, None),
            (None, Some(s)) => {
                let sc = s.expand("scale_factor", sp)?;
                let mut sizes = Vec::with_capacity(sp);
                for (i, &f) in sc.iter().enumerate() {
                    let d = (info.shape[2 + i] as f64 * f).floor();
                    if d < 1.0 {
                        return Err(format!(
                            "scale_factor {f} makes dim {} of {} empty",
                            2 + i,
                            shape_str(&info.shape)
                        ));
                    }
                    sizes.push(d as usize);
                }
                (sizes, (!self.recompute).then_some(sc))
            }
            (None, None) => unreachable!("parse requires size or scale_factor"),
        };
        let mode = match self.mode.as_str() {
            "nearest" => InterpMode::Nearest,
            "nearest-exact" => InterpMode::NearestExact,
            "bicubic" => InterpMode::Cubic,
            "area" => return composites::adaptive_pool(t, x, &sizes, false),
            _ => InterpMode::Linear,
        };
        // ATen ignores the scale_factor of an axis whose size stays (nearest
        // and linear copy it) or doubles (nearest takes dst / 2): those axes
        // get exactly that scale.
        let scales = scales.map(|mut sc| {
            for (i, s) in sc.iter_mut().enumerate() {
                let (n, m) = (info.shape[2 + i], sizes[i]);
                let copies = matches!(mode, InterpMode::Nearest | InterpMode::Linear);
                if copies && m == n {
                    *s = 1.0;
                } else if mode == InterpMode::Nearest && m == 2 * n {
                    *s = 2.0;
                }
            }
            sc
        });
        if matches!(mode, InterpMode::Nearest | InterpMode::NearestExact)
            && let Some(idx) = nearest_fallback(&info.shape[2..], &sizes, scales.as_deref(), mode)
        {
            return gather_cells(t, x, idx);
        }
        let op = Op::Interpolate {
            sizes,
            scales,
            mode,
            align_corners: self.align_corners.unwrap_or(false),
        };
        op1(t, op, &[x])
    }
}

/// ATen's input cells of every resized axis, when an ONNX Resize would read
/// another cell for some output (float32 rounding of the scale or of the
/// division; about one (size, scale) pair in thirty): then the nearest
/// resize is written as a Gather of those cells, exact everywhere.
fn nearest_fallback(
    dims: &[usize],
    sizes: &[usize],
    scales: Option<&[f64]>,
    mode: InterpMode,
) -> Option<Vec<(usize, Vec<usize>)>> {
    let exact = mode == InterpMode::NearestExact;
    let mut cells = Vec::new();
    let mut differ = false;
    for (i, (&n, &m)) in dims.iter().zip(sizes).enumerate() {
        let s = scales.map(|s| s[i]);
        let aten = resample::aten_nearest(n, m, s, exact);
        let written = match s {
            Some(f) => resample::onnx_scale(n, m, f),
            None => Some(m as f32 / n as f32),
        };
        differ |= written.is_none_or(|w| resample::onnx_nearest(n, m, w, exact) != aten);
        if m != n || exact {
            cells.push((2 + i, aten));
        }
    }
    differ.then_some(cells)
}

/// x's cells at `idx` along each (axis, indices): one Gather per axis.
fn gather_cells(
    t: &mut Trace,
    x: ValueId,
    cells: Vec<(usize, Vec<usize>)>,
) -> Result<ValueId, String> {
    let mut y = x;
    for (axis, idx) in cells {
        let n = idx.len();
        let idx = t
            .graph
            .add_const(HostTensor::from_fn(DType::Int64, &[n], |k| idx[k] as f64));
        y = op1(t, Op::Gather { axis }, &[y, idx])?;
    }
    Ok(y)
}

pub fn register(api: &mut Api) {
    api.family("resampling");
    api.doc("interpolate")
        .about(
            "Resizes the spatial dims (after [N, C]) to size or by scale_factor, with \
             PyTorch's conventions: nearest takes floor(dst * in/out) (1/scale_factor when \
             given), nearest-exact rounds half up, linear modes sample half-pixel centres (or \
             align_corners), bicubic uses a = -0.75 with edge clamping, area averages bins.",
        )
        .onnx(
            "Resize (scales when scale_factor is given, else sizes); nearest where a \
             runtime's float32 rounding would read another cell than PyTorch: Gather; area: \
             pools",
        )
        .torch("F.interpolate(x, size, scale_factor, mode, align_corners)")
        .options(INTERP_OPTS);
    let h = api.host.clone();
    api.fun(
        "interpolate",
        ["x", "opts"],
        move |ctx: NativeCallContext, x: Tensor, o: Map| -> R<Tensor> {
            let spec = Interp::parse(&ctx, "interpolate", o)?;
            traced(&ctx, &h, &x, |t, v| spec.apply(t, v))
        },
    );
    for (name, arg, up) in [
        ("pixel_shuffle", "upscale_factor", true),
        ("pixel_unshuffle", "downscale_factor", false),
    ] {
        api.doc(name)
            .about(if up {
                "(*, C*r*r, H, W) -> (*, C, H*r, W*r): each channel group of r*r becomes an \
                 r x r block (sub-pixel convolution upsampling)."
            } else {
                "(*, C, H*r, W*r) -> (*, C*r*r, H, W): the inverse of pixel_shuffle."
            })
            .onnx(if up {
                "DepthToSpace (CRD)"
            } else {
                "Reshape, Transpose, Reshape"
            })
            .torch(&format!("F.{name}(x, {arg})"));
        let h = api.host.clone();
        api.fun(
            name,
            ["x", arg],
            move |ctx: NativeCallContext, x: Tensor, r: i64| -> R<Tensor> {
                let r = positive(&ctx, arg, r)?;
                traced(&ctx, &h, &x, |t, v| shuffle(t, v, r, up))
            },
        );
    }

    api.doc_layer("upsample")
        .about("interpolate as a layer, with the same options (size or scale_factor, mode, ...).")
        .onnx("Resize")
        .torch("nn.Upsample(size, scale_factor, mode, align_corners)")
        .options(INTERP_OPTS);
    let h = api.host.clone();
    api.layer(
        "upsample",
        ["opts"],
        move |ctx: NativeCallContext, o: Map| {
            let spec = Interp::parse(&ctx, "nn::upsample", o)?;
            let layer = native(move |t, x, _| spec.apply(t, x));
            Ok(Model::new(&h, "Upsample", layer, vec![], vec![]))
        },
    );
    for (name, class, arg, up) in [
        ("pixel_shuffle", "PixelShuffle", "upscale_factor", true),
        (
            "pixel_unshuffle",
            "PixelUnshuffle",
            "downscale_factor",
            false,
        ),
    ] {
        api.doc_layer(name)
            .about(&format!("{name} as a layer (no parameters)."))
            .onnx(if up {
                "DepthToSpace (CRD)"
            } else {
                "Reshape, Transpose, Reshape"
            })
            .torch(&format!("nn.{class}({arg})"));
        let h = api.host.clone();
        api.layer(name, [arg], move |ctx: NativeCallContext, r: i64| {
            let r = positive(&ctx, arg, r)?;
            let layer = native(move |t, x, _| shuffle(t, x, r, up));
            Ok(Model::new(&h, class, layer, vec![], vec![]))
        });
    }
}

fn shuffle(t: &mut Trace, x: ValueId, r: usize, up: bool) -> Result<ValueId, String> {
    if up {
        composites::pixel_shuffle(t, x, r)
    } else {
        composites::pixel_unshuffle(t, x, r)
    }
}
