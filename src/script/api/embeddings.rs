//! Position embeddings computed in the graph, never as constant tables:
//! sinusoidal timestep embeddings (diffusers' `get_timestep_embedding`)
//! and rotary embeddings as Hugging Face's Llama applies them
//! (`LlamaRotaryEmbedding`, `rotate_half`, `apply_rotary_pos_emb`), plus
//! the interleaved (GPT-J) convention. Only the frequency vectors (dim / 2
//! numbers fixed by the options) are constants, computed here in float32
//! step by step as the reference code computes them; everything that
//! depends on the positions (products, sin, cos) is graph ops.

use super::super::host::{Host, Trace};
use super::super::model::{op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::math::compose;
use super::util::{OptSpec, Opts, R, opt, positive};
use crate::graph::{DType, HostTensor, Op, TypeInfo, ValueId, shape_str};
use rhai::{Array, Dynamic, Map, NativeCallContext};

const SINUSOIDAL_OPTS: &[OptSpec] = &[
    opt(
        "max_period",
        "10000.0",
        "the longest period: frequencies are max_period^(-i / (dim / 2 - shift))",
    ),
    opt(
        "flip_sin_to_cos",
        "false",
        "cos first, then sin (true), or sin then cos",
    ),
    opt(
        "downscale_freq_shift",
        "1.0",
        "the shift in the frequency exponent's denominator",
    ),
    opt("scale", "1.0", "multiplies the angles"),
];

const ROTARY_TABLE_OPTS: &[OptSpec] = &[
    opt(
        "base",
        "10000.0",
        "rope_theta: inv_freq = 1 / base^(2i / dim)",
    ),
    opt(
        "factor",
        "1.0",
        "linear RoPE scaling: inv_freq is divided by it (rope_scaling type \"linear\")",
    ),
    opt(
        "dtype",
        "\"float32\"",
        "dtype of cos and sin (Hugging Face casts them to the query's)",
    ),
];

const ROTARY_OPTS: &[OptSpec] = &[
    opt(
        "base",
        "10000.0",
        "rope_theta: inv_freq = 1 / base^(2i / dim)",
    ),
    opt(
        "dim",
        "-",
        "rotary dims, the leading part of head_dim (default: all of head_dim)",
    ),
    opt(
        "interleaved",
        "false",
        "rotate pairs (x0, x1), (x2, x3), ... (GPT-J) instead of halves (Llama's rotate_half)",
    ),
    opt(
        "factor",
        "1.0",
        "linear RoPE scaling: inv_freq is divided by it",
    ),
];

/// diffusers' frequencies: exp(-ln(max_period) * i / (half - shift)),
/// each step rounded to float32 as torch computes it.
fn timestep_freqs(half: usize, max_period: f64, shift: f64) -> Vec<f64> {
    let ln = -(max_period.ln()) as f32;
    let den = (half as f64 - shift) as f32;
    (0..half)
        .map(|i| {
            let e = ln * i as f32 / den;
            (e as f64).exp() as f32 as f64
        })
        .collect()
}

/// Llama's inv_freq: 1 / base^(arange(0, dim, 2) / dim) in float32, then
/// divided by the linear scaling factor.
fn inv_freq(dim: usize, base: f64, factor: f64) -> Vec<f64> {
    let base = base as f32;
    (0..dim)
        .step_by(2)
        .map(|i| {
            let e = i as f32 / dim as f32;
            let p = (base as f64).powf(e as f64) as f32;
            (1.0f32 / p / factor as f32) as f64
        })
        .collect()
}

/// positions (any shape, any numeric dtype) times `freqs`: the angles,
/// shaped positions.shape + [freqs.len()], in float32.
fn angles(t: &mut Trace, pos: ValueId, freqs: &[f64]) -> Result<ValueId, String> {
    let info = t.graph.info(pos).clone();
    if info.dtype == DType::Bool {
        return Err("positions must be numbers, got a bool tensor".into());
    }
    let p = if info.dtype == DType::Float32 {
        pos
    } else {
        op1(t, Op::Cast { to: DType::Float32 }, &[pos])?
    };
    let p = op1(
        t,
        Op::Unsqueeze {
            axes: vec![info.rank()],
        },
        &[p],
    )?;
    let f = t
        .graph
        .add_const(HostTensor::from_fn(DType::Float32, &[freqs.len()], |i| {
            freqs[i]
        }));
    op1(t, Op::Mul, &[p, f])
}

fn last_axis(t: &Trace, v: ValueId) -> usize {
    t.graph.info(v).rank() - 1
}

fn concat_last(t: &mut Trace, parts: &[ValueId]) -> Result<ValueId, String> {
    let axis = last_axis(t, parts[0]);
    op1(t, Op::Concat { axis }, parts)
}

/// `x[..., start..end]` (end may be i64::MAX), with a step.
fn slice_last(
    t: &mut Trace,
    x: ValueId,
    start: i64,
    end: i64,
    step: i64,
) -> Result<ValueId, String> {
    let axis = last_axis(t, x);
    op1(
        t,
        Op::Slice {
            starts: vec![start],
            ends: vec![end],
            axes: vec![axis],
            steps: vec![step],
        },
        &[x],
    )
}

fn cast_to(t: &mut Trace, v: ValueId, d: DType) -> Result<ValueId, String> {
    if t.graph.info(v).dtype == d {
        Ok(v)
    } else {
        op1(t, Op::Cast { to: d }, &[v])
    }
}

fn sinusoidal(ctx: &NativeCallContext, h: &Host, pos: Tensor, dim: i64, opts: Map) -> R<Tensor> {
    let fname = "sinusoidal_embedding";
    let o = Opts::new(ctx, fname, opts, SINUSOIDAL_OPTS)?;
    let (max_period, flip) = (o.float("max_period")?, o.bool("flip_sin_to_cos")?);
    let (shift, scale) = (o.float("downscale_freq_shift")?, o.float("scale")?);
    let dim = positive(ctx, &format!("{fname}: dim"), dim)?;
    let half = dim / 2;
    if half == 0 || half as f64 == shift {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: dim {dim} with downscale_freq_shift {shift} divides by zero \
                 (dim / 2 - shift must not be 0)"
            ),
        ));
    }
    if max_period <= 0.0 {
        return Err(rt_err(ctx, format!("{fname}: max_period must be positive")));
    }
    let freqs = timestep_freqs(half, max_period, shift);
    compose(ctx, h, fname, &[&pos], |t, v| {
        let mut a = angles(t, v[0], &freqs)?;
        if scale != 1.0 {
            let s = t
                .graph
                .add_const(HostTensor::full(DType::Float32, &[], scale));
            a = op1(t, Op::Mul, &[a, s])?;
        }
        let sin = op1(t, Op::Sin, &[a])?;
        let cos = op1(t, Op::Cos, &[a])?;
        let parts = if flip { [cos, sin] } else { [sin, cos] };
        let mut y = concat_last(t, &parts)?;
        if dim % 2 == 1 {
            // diffusers pads an odd dim with one zero column.
            let r = t.graph.info(y).rank();
            let mut pads = vec![0; 2 * r];
            pads[2 * r - 1] = 1;
            y = op1(
                t,
                Op::Pad {
                    pads,
                    value: 0.0,
                    mode: crate::graph::PadMode::Constant,
                },
                &[y],
            )?;
        }
        Ok(y)
    })
}

/// cos and sin of Llama's rotary embedding for `pos`: each
/// pos.shape + [dim], the angles concatenated with themselves.
fn cos_sin(
    t: &mut Trace,
    pos: ValueId,
    freqs: &[f64],
    d: DType,
) -> Result<(ValueId, ValueId), String> {
    let a = angles(t, pos, freqs)?;
    let emb = concat_last(t, &[a, a])?;
    let cos = op1(t, Op::Cos, &[emb])?;
    let sin = op1(t, Op::Sin, &[emb])?;
    Ok((cast_to(t, cos, d)?, cast_to(t, sin, d)?))
}

fn rotary_dim(dim: i64) -> Result<usize, String> {
    if dim < 2 || dim % 2 != 0 {
        return Err(format!(
            "the rotary dim must be even and at least 2, got {dim}"
        ));
    }
    Ok(dim as usize)
}

/// The shape `cos`/`sin` (info `ci`) take to broadcast against x [B, H,
/// S, D] (unsqueeze_dim 1) or [B, S, H, D] (unsqueeze_dim 2), from [S, rd]
/// or [B, S, rd], after checking their dtype and sizes against x; anything
/// else is an error rather than a broadcast that could pair the wrong dims.
fn fit_shape(xi: &TypeInfo, ci: &TypeInfo, si: &TypeInfo, ud: i64) -> Result<Vec<usize>, String> {
    if ci != si {
        return Err(format!(
            "cos {} {} and sin {} {} differ",
            ci.dtype,
            shape_str(&ci.shape),
            si.dtype,
            shape_str(&si.shape)
        ));
    }
    if ci.dtype != xi.dtype {
        return Err(format!(
            "cos/sin are {} but q/k are {}: build them with #{{dtype: \"{}\"}} (Hugging Face \
             casts them to the query's dtype)",
            ci.dtype, xi.dtype, xi.dtype
        ));
    }
    if xi.rank() != 4 {
        return Err(format!(
            "q and k must be [batch, heads, seq, head_dim] (or [batch, seq, heads, head_dim] \
             with unsqueeze_dim 2), got {}",
            shape_str(&xi.shape)
        ));
    }
    if ud != 1 && ud != 2 {
        return Err(format!("unsqueeze_dim must be 1 or 2, got {ud}"));
    }
    let d = xi.shape[3];
    let rd = *ci.shape.last().unwrap_or(&0);
    if !rd.is_multiple_of(2) || rd > d {
        return Err(format!(
            "the rotary dim {rd} must be even and at most head_dim {d}"
        ));
    }
    let shape = match ci.rank() {
        2 if ud == 1 => ci.shape.clone(),
        2 => vec![ci.shape[0], 1, rd],
        3 => {
            let mut s = ci.shape.clone();
            s.insert(ud as usize, 1);
            s
        }
        _ => {
            return Err(format!(
                "cos and sin must be [seq, dim] or [batch, seq, dim], got {}",
                shape_str(&ci.shape)
            ));
        }
    };
    let mut want = xi.shape.clone();
    want[3] = rd;
    let fits = crate::graph::ops::broadcast("rotary", &want, &shape).is_ok_and(|b| b == want);
    if !fits {
        return Err(format!(
            "cos/sin {} do not match q/k {} (seq length, batch, or the rotary dim)",
            shape_str(&ci.shape),
            shape_str(&xi.shape)
        ));
    }
    Ok(shape)
}

/// cos and sin checked against every tensor of `xs` and shaped for them
/// (one reshape each, shared by q and k).
fn fitted(
    t: &mut Trace,
    xs: &[ValueId],
    cos: ValueId,
    sin: ValueId,
    ud: i64,
) -> Result<(ValueId, ValueId), String> {
    let (ci, si) = (t.graph.info(cos).clone(), t.graph.info(sin).clone());
    let mut shape = Vec::new();
    for &x in xs {
        shape = fit_shape(t.graph.info(x), &ci, &si, ud)?;
    }
    if shape == ci.shape {
        return Ok((cos, sin));
    }
    let c = op1(
        t,
        Op::Reshape {
            shape: shape.clone(),
        },
        &[cos],
    )?;
    let s = op1(t, Op::Reshape { shape }, &[sin])?;
    Ok((c, s))
}

/// x * cos + rotate_half(x) * sin over the first rd dims of the last axis
/// (rd: cos's last dim; the rest passes through, as GPT-NeoX's partial
/// rotary does). cos and sin come from [`fitted`].
fn rotate(t: &mut Trace, x: ValueId, c: ValueId, s: ValueId) -> Result<ValueId, String> {
    let d = *t.graph.info(x).shape.last().unwrap_or(&0);
    let rd = *t.graph.info(c).shape.last().unwrap_or(&0);
    let (xr, pass) = if rd < d {
        (
            slice_last(t, x, 0, rd as i64, 1)?,
            Some(slice_last(t, x, rd as i64, i64::MAX, 1)?),
        )
    } else {
        (x, None)
    };
    let half = (rd / 2) as i64;
    let x1 = slice_last(t, xr, 0, half, 1)?;
    let x2 = slice_last(t, xr, half, i64::MAX, 1)?;
    let nx2 = op1(t, Op::Neg, &[x2])?;
    let rot = concat_last(t, &[nx2, x1])?;
    let a = op1(t, Op::Mul, &[xr, c])?;
    let b = op1(t, Op::Mul, &[rot, s])?;
    let y = op1(t, Op::Add, &[a, b])?;
    match pass {
        Some(p) => concat_last(t, &[y, p]),
        None => Ok(y),
    }
}

/// GPT-J's rotation of pairs (x0, x1), (x2, x3), ...: each pair turns by
/// its angle; computed on the even and odd halves, then re-interleaved.
fn rotate_interleaved(
    t: &mut Trace,
    x: ValueId,
    ang: ValueId,
    rd: usize,
) -> Result<ValueId, String> {
    let xi = t.graph.info(x).clone();
    let d = xi.shape[3];
    let dt = xi.dtype;
    let c = op1(t, Op::Cos, &[ang])?;
    let s = op1(t, Op::Sin, &[ang])?;
    let (c, s) = (cast_to(t, c, dt)?, cast_to(t, s, dt)?);
    let (c, s) = fitted(t, &[x], c, s, 1)?;
    let xr = if rd < d {
        slice_last(t, x, 0, rd as i64, 1)?
    } else {
        x
    };
    let even = slice_last(t, xr, 0, i64::MAX, 2)?;
    let odd = slice_last(t, xr, 1, i64::MAX, 2)?;
    let ec = op1(t, Op::Mul, &[even, c])?;
    let os = op1(t, Op::Mul, &[odd, s])?;
    let new_even = op1(t, Op::Sub, &[ec, os])?;
    let oc = op1(t, Op::Mul, &[odd, c])?;
    let es = op1(t, Op::Mul, &[even, s])?;
    let new_odd = op1(t, Op::Add, &[oc, es])?;
    let mut shape = t.graph.info(new_even).shape.clone();
    let r = shape.len();
    let e = op1(t, Op::Unsqueeze { axes: vec![r] }, &[new_even])?;
    let o = op1(t, Op::Unsqueeze { axes: vec![r] }, &[new_odd])?;
    let pairs = op1(t, Op::Concat { axis: r }, &[e, o])?;
    shape[r - 1] = rd;
    let y = op1(t, Op::Reshape { shape }, &[pairs])?;
    if rd < d {
        let p = slice_last(t, x, rd as i64, i64::MAX, 1)?;
        concat_last(t, &[y, p])
    } else {
        Ok(y)
    }
}

fn rotary_embedding(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    pos: Tensor,
    opts: Map,
) -> R<Tensor> {
    let fname = "rotary_embedding";
    let o = Opts::new(ctx, fname, opts, ROTARY_OPTS)?;
    let (base, factor, interleaved) =
        (o.float("base")?, o.float("factor")?, o.bool("interleaved")?);
    if x.rank() != 4 {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: x must be [batch, heads, seq, head_dim], got {}",
                shape_str(x.shape())
            ),
        ));
    }
    let d = x.shape()[3];
    let rd = match o.get("dim") {
        None => d as i64,
        Some(_) => o.int("dim")?,
    };
    let rd = rotary_dim(rd).map_err(|e| rt_err(ctx, format!("{fname}: {e}")))?;
    if rd > d {
        return Err(rt_err(
            ctx,
            format!("{fname}: the rotary dim {rd} is larger than head_dim {d}"),
        ));
    }
    let (b, s) = (x.shape()[0], x.shape()[2]);
    let ok = match pos.shape() {
        [n] => *n == s,
        [pb, n] => *n == s && (*pb == b || *pb == 1),
        _ => false,
    };
    if !ok {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: positions must be [seq] or [batch, seq] for x {}, got {}",
                shape_str(x.shape()),
                shape_str(pos.shape())
            ),
        ));
    }
    let freqs = inv_freq(rd, base, factor);
    let dt = x.dtype();
    if !dt.is_float() {
        return Err(rt_err(
            ctx,
            format!("{fname}: x must be a float tensor, got {dt}"),
        ));
    }
    compose(ctx, h, fname, &[&x, &pos], |t, v| {
        if interleaved {
            let ang = angles(t, v[1], &freqs)?;
            rotate_interleaved(t, v[0], ang, rd)
        } else {
            let (c, s) = cos_sin(t, v[1], &freqs, dt)?;
            let (c, s) = fitted(t, &[v[0]], c, s, 1)?;
            rotate(t, v[0], c, s)
        }
    })
}

pub fn register(api: &mut Api) {
    api.family("embeddings");
    api.doc("sinusoidal_embedding")
        .about(
            "Sinusoidal position/timestep embeddings computed in the graph, as diffusers' \
             get_timestep_embedding: positions (any shape, e.g. [batch] timesteps) times \
             max_period^(-i / (dim/2 - shift)), then [sin, cos] (or [cos, sin]); float32, \
             shaped positions.shape + [dim] (an odd dim gets a zero last column).",
        )
        .onnx("Cast, Unsqueeze, Mul, Sin, Cos, Concat (Pad)")
        .torch("diffusers.models.embeddings.get_timestep_embedding")
        .options(SINUSOIDAL_OPTS);
    let h = api.host.clone();
    api.fun(
        "sinusoidal_embedding",
        ["positions", "dim"],
        move |ctx: NativeCallContext, p: Tensor, dim: i64| -> R<Tensor> {
            sinusoidal(&ctx, &h, p, dim, Map::new())
        },
    );
    let h = api.host.clone();
    api.fun(
        "sinusoidal_embedding",
        ["positions", "dim", "opts"],
        move |ctx: NativeCallContext, p: Tensor, dim: i64, o: Map| -> R<Tensor> {
            sinusoidal(&ctx, &h, p, dim, o)
        },
    );

    api.doc("rotary_cos_sin")
        .about(
            "[cos, sin] of a rotary embedding for positions ([seq] or [batch, seq] ids), as \
             Hugging Face's LlamaRotaryEmbedding computes them in the graph: angles = \
             positions * inv_freq, emb = cat(angles, angles); each shaped positions.shape + \
             [dim]. Compute them once per forward and pass them to apply_rotary_pos_emb in \
             every layer.",
        )
        .onnx("Cast, Unsqueeze, Mul, Concat, Cos, Sin")
        .torch("LlamaRotaryEmbedding(config)(x, position_ids)")
        .options(ROTARY_TABLE_OPTS);
    for with_opts in [false, true] {
        let h = api.host.clone();
        let make = move |ctx: &NativeCallContext, p: Tensor, dim: i64, o: Map| -> R<Array> {
            let o = Opts::new(ctx, "rotary_cos_sin", o, ROTARY_TABLE_OPTS)?;
            let (base, factor, dt) = (o.float("base")?, o.float("factor")?, o.dtype()?);
            if !dt.is_float() {
                return Err(rt_err(
                    ctx,
                    format!("rotary_cos_sin: dtype must be a float type, got {dt}"),
                ));
            }
            let dim = rotary_dim(dim).map_err(|e| rt_err(ctx, format!("rotary_cos_sin: {e}")))?;
            let freqs = inv_freq(dim, base, factor);
            let (c, s) = h
                .with_trace(|t| {
                    let pv = t.value_of(&p)?;
                    let (c, s) = cos_sin(t, pv, &freqs, dt)?;
                    Ok((t.tensor(c), t.tensor(s)))
                })
                .map_err(|e| rt_err(ctx, format!("rotary_cos_sin: {e}")))?;
            Ok(vec![Dynamic::from(c), Dynamic::from(s)])
        };
        if with_opts {
            api.fun(
                "rotary_cos_sin",
                ["positions", "dim", "opts"],
                move |ctx: NativeCallContext, p: Tensor, dim: i64, o: Map| -> R<Array> {
                    make(&ctx, p, dim, o)
                },
            );
        } else {
            api.fun(
                "rotary_cos_sin",
                ["positions", "dim"],
                move |ctx: NativeCallContext, p: Tensor, dim: i64| -> R<Array> {
                    make(&ctx, p, dim, Map::new())
                },
            );
        }
    }

    api.doc("apply_rotary_pos_emb")
        .about(
            "[q_embed, k_embed] = q * cos + rotate_half(q) * sin (and k alike), as Hugging \
             Face's Llama: q and k are [batch, heads, seq, head_dim] (unsqueeze_dim 1, the \
             default) or [batch, seq, heads, head_dim] (unsqueeze_dim 2); cos and sin from \
             rotary_cos_sin, [seq, dim] or [batch, seq, dim]. A dim below head_dim rotates \
             only the leading dims (GPT-NeoX's partial rotary).",
        )
        .onnx("Slice, Neg, Concat, Mul, Add")
        .torch("transformers.models.llama.modeling_llama.apply_rotary_pos_emb");
    for with_ud in [false, true] {
        let h = api.host.clone();
        let make = move |ctx: &NativeCallContext,
                         q: Tensor,
                         k: Tensor,
                         c: Tensor,
                         s: Tensor,
                         ud: i64|
              -> R<Array> {
            let (qe, ke) = h
                .with_trace(|t| {
                    let v = [&q, &k, &c, &s]
                        .iter()
                        .map(|x| t.value_of(x))
                        .collect::<Result<Vec<_>, _>>()?;
                    let (cf, sf) = fitted(t, &v[..2], v[2], v[3], ud)?;
                    let (qe, ke) = (rotate(t, v[0], cf, sf)?, rotate(t, v[1], cf, sf)?);
                    Ok((t.tensor(qe), t.tensor(ke)))
                })
                .map_err(|e| rt_err(ctx, format!("apply_rotary_pos_emb: {e}")))?;
            Ok(vec![Dynamic::from(qe), Dynamic::from(ke)])
        };
        if with_ud {
            api.fun(
                "apply_rotary_pos_emb",
                ["q", "k", "cos", "sin", "unsqueeze_dim"],
                move |ctx: NativeCallContext,
                      q: Tensor,
                      k: Tensor,
                      c: Tensor,
                      s: Tensor,
                      ud: i64|
                      -> R<Array> { make(&ctx, q, k, c, s, ud) },
            );
        } else {
            api.fun(
                "apply_rotary_pos_emb",
                ["q", "k", "cos", "sin"],
                move |ctx: NativeCallContext,
                      q: Tensor,
                      k: Tensor,
                      c: Tensor,
                      s: Tensor|
                      -> R<Array> { make(&ctx, q, k, c, s, 1) },
            );
        }
    }

    api.doc("rotary_embedding")
        .about(
            "Applies a rotary embedding to x [batch, heads, seq, head_dim] at positions ([seq] \
             or [batch, seq]), computing cos and sin in the graph: Llama's rotate_half \
             convention, or GPT-J's pairs with interleaved: true. For q and k of many layers, \
             rotary_cos_sin once plus apply_rotary_pos_emb per layer makes a smaller graph.",
        )
        .onnx("Cast, Unsqueeze, Mul, Concat, Cos, Sin, Slice, Neg, Add")
        .torch("apply_rotary_pos_emb(q, k, *LlamaRotaryEmbedding(...)(x, position_ids))")
        .options(ROTARY_OPTS);
    let h = api.host.clone();
    api.fun(
        "rotary_embedding",
        ["x", "positions"],
        move |ctx: NativeCallContext, x: Tensor, p: Tensor| -> R<Tensor> {
            rotary_embedding(&ctx, &h, x, p, Map::new())
        },
    );
    let h = api.host.clone();
    api.fun(
        "rotary_embedding",
        ["x", "positions", "opts"],
        move |ctx: NativeCallContext, x: Tensor, p: Tensor, o: Map| -> R<Tensor> {
            rotary_embedding(&ctx, &h, x, p, o)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_the_reference_formulas() {
        // diffusers: exp(-ln(10000) * i / (half - 1)); the last is 1e-4.
        let f = timestep_freqs(4, 10000.0, 1.0);
        assert_eq!(f[0], 1.0);
        assert!((f[3] - 1e-4).abs() < 1e-9, "{f:?}");
        assert!((f[1] - 10000f64.powf(-1.0 / 3.0)).abs() < 1e-7, "{f:?}");
        // Llama: 1 / 10000^(2i / dim); dim 8 -> 1, 0.1, 0.01, 0.001.
        let g = inv_freq(8, 10000.0, 1.0);
        for (got, want) in g.iter().zip([1.0, 0.1, 0.01, 0.001]) {
            assert!((got - want).abs() < 1e-7 * want, "{g:?}");
        }
        assert_eq!(inv_freq(8, 10000.0, 2.0)[0], 0.5);
    }
}
