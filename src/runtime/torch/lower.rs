//! The libtorch lowering of every IR op (eager, like PyTorch): one arm
//! per [`Op`], so a new op does not compile until it has one here.

use super::imp::kind;
use crate::graph::{DType, InterpMode, Op, PadMode, ResizeMode, Rnn, RnnMode, TypeInfo};
use tch::{Kind, Tensor};

fn ints(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

fn shape_of(info: &TypeInfo) -> Vec<i64> {
    ints(&info.shape)
}

/// A scalar of `d`'s kind: integer tensors take integer bounds.
fn scalar(d: DType, v: f64) -> tch::Scalar {
    if d.is_float() {
        tch::Scalar::float(v)
    } else {
        tch::Scalar::int(v as i64)
    }
}

/// Splits ONNX `pads` (begins then ends) into torch's symmetric padding,
/// or `None` when begins and ends differ.
fn symmetric(pads: &[usize]) -> Option<Vec<i64>> {
    let sp = pads.len() / 2;
    (pads[..sp] == pads[sp..]).then(|| ints(&pads[..sp]))
}

/// `constant_pad_nd` takes the last axis first: (begin, end) pairs.
fn torch_pads(begins: &[usize], ends: &[usize]) -> Vec<i64> {
    let mut out = Vec::with_capacity(2 * begins.len());
    for i in (0..begins.len()).rev() {
        out.push(begins[i] as i64);
        out.push(ends[i] as i64);
    }
    out
}

/// Pads the spatial axes of `x` ([N, C, d...]) with `value`.
fn pad_spatial(x: &Tensor, pads: &[usize], value: f64) -> Result<Tensor, tch::TchError> {
    let sp = pads.len() / 2;
    let p = torch_pads(&pads[..sp], &pads[sp..]);
    x.f_pad(&p, "constant", Some(value))
}

/// Narrows the spatial axes of `t` to `shape`'s (windows that the IR
/// does not have, from padding done by hand).
fn narrow_to(t: Tensor, shape: &[usize]) -> Result<Tensor, tch::TchError> {
    let mut t = t;
    let size = t.size();
    for (axis, (&have, &want)) in size.iter().zip(shape).enumerate() {
        if have != want as i64 {
            t = t.f_narrow(axis as i64, 0, want as i64)?;
        }
    }
    Ok(t)
}

fn max_pool(
    x: &Tensor,
    k: &[i64],
    s: &[i64],
    p: &[i64],
    ceil: bool,
) -> Result<Tensor, tch::TchError> {
    let d = vec![1i64; k.len()];
    match k.len() {
        1 => x.f_max_pool1d(k, s, p, &d, ceil),
        2 => x.f_max_pool2d(k, s, p, &d, ceil),
        3 => x.f_max_pool3d(k, s, p, &d, ceil),
        n => Err(tch::TchError::Shape(format!(
            "MaxPool over {n} spatial axes"
        ))),
    }
}

fn avg_pool(
    x: &Tensor,
    k: &[i64],
    s: &[i64],
    p: &[i64],
    ceil: bool,
    include_pad: bool,
) -> Result<Tensor, tch::TchError> {
    match k.len() {
        1 => x.f_avg_pool1d(k, s, p, ceil, include_pad),
        2 => x.f_avg_pool2d(k, s, p, ceil, include_pad, None),
        3 => x.f_avg_pool3d(k, s, p, ceil, include_pad, None),
        n => Err(tch::TchError::Shape(format!(
            "AveragePool over {n} spatial axes"
        ))),
    }
}

/// One IR node in libtorch. `ins` are the node's input tensors (on the
/// device), the infos their and the outputs' IR shapes and dtypes.
/// Every [`Op`] has an arm: a new op does not compile until it has one.
pub fn lower_node(
    op: &Op,
    ins: &[&Tensor],
    in_infos: &[&TypeInfo],
    out_infos: &[&TypeInfo],
) -> Result<Vec<Tensor>, String> {
    lower(op, ins, in_infos, out_infos).map_err(|e| e.to_string())
}

fn lower(
    op: &Op,
    ins: &[&Tensor],
    in_infos: &[&TypeInfo],
    out_infos: &[&TypeInfo],
) -> Result<Vec<Tensor>, tch::TchError> {
    let bad = |msg: String| tch::TchError::Shape(msg);
    // `Plan::new` checked every node against the op's inference.
    let x = ins[0];
    let dt = in_infos[0].dtype;
    let out = out_infos[0];
    let one = |t: Tensor| Ok(vec![t]);
    match op {
        Op::Add => one(x.f_add(ins[1])?),
        Op::Sub => one(x.f_sub(ins[1])?),
        Op::Mul => one(x.f_mul(ins[1])?),
        Op::Div => {
            if dt.is_float() {
                one(x.f_div(ins[1])?)
            } else {
                // ONNX integer division truncates; torch's `/` would be true division.
                one(x.f_div_tensor_mode(ins[1], "trunc")?)
            }
        }
        Op::Pow => one(x.f_pow(ins[1])?),
        Op::Equal => one(x.f_eq_tensor(ins[1])?),
        Op::Less => one(x.f_lt_tensor(ins[1])?),
        Op::Greater => one(x.f_gt_tensor(ins[1])?),
        Op::NotEqual => one(x.f_ne_tensor(ins[1])?),
        Op::GreaterOrEqual => one(x.f_ge_tensor(ins[1])?),
        Op::LessOrEqual => one(x.f_le_tensor(ins[1])?),
        Op::Not => one(x.f_logical_not()?),
        Op::And => one(x.f_logical_and(ins[1])?),
        Op::Or => one(x.f_logical_or(ins[1])?),
        Op::Xor => one(x.f_logical_xor(ins[1])?),
        Op::Sqrt => one(x.f_sqrt()?),
        Op::Exp => one(x.f_exp()?),
        Op::Log => one(x.f_log()?),
        Op::Neg => one(x.f_neg()?),
        Op::Abs => one(x.f_abs()?),
        Op::Erf => one(x.f_erf()?),
        Op::Relu => one(x.f_relu()?),
        Op::Gelu => one(x.f_gelu("none")?),
        Op::Silu => one(x.f_silu()?),
        Op::Sigmoid => one(x.f_sigmoid()?),
        Op::Tanh => one(x.f_tanh()?),
        Op::HardSwish => one(x.f_hardswish()?),
        Op::HardSigmoid => one(x.f_hardsigmoid()?),
        Op::Clip { min, max } => one(match (min, max) {
            (Some(lo), Some(hi)) => x.f_clamp(scalar(dt, *lo), scalar(dt, *hi))?,
            (Some(lo), None) => x.f_clamp_min(scalar(dt, *lo))?,
            (None, Some(hi)) => x.f_clamp_max(scalar(dt, *hi))?,
            (None, None) => x.shallow_clone(),
        }),
        Op::Softmax { axis } => one(x.f_softmax(*axis as i64, None)?),
        Op::LogSoftmax { axis } => one(x.f_log_softmax(*axis as i64, None)?),
        Op::MatMul => one(x.f_matmul(ins[1])?),
        Op::Gemm { trans_b } => {
            // nn.Linear's path: addmm(bias, x, W^T).
            let w = if *trans_b {
                ins[1].f_tr()?
            } else {
                ins[1].shallow_clone()
            };
            one(match ins.get(2) {
                Some(c) => c.f_addmm(x, &w)?,
                None => x.f_mm(&w)?,
            })
        }
        Op::LayerNorm { axis, epsilon } => {
            let norm = ints(&in_infos[0].shape[*axis..]);
            one(x.f_layer_norm(&norm, Some(ins[1]), ins.get(2).copied(), *epsilon, true)?)
        }
        Op::BatchNorm { epsilon } => one(x.f_batch_norm(
            Some(ins[1]),
            Some(ins[2]),
            Some(ins[3]),
            Some(ins[4]),
            false,
            0.1,
            *epsilon,
            true,
        )?),
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            group,
        } => {
            let (x, padding) = match symmetric(pads) {
                Some(p) => (x.shallow_clone(), p),
                None => (pad_spatial(x, pads, 0.0)?, vec![0; kernel.len()]),
            };
            one(x.f_convolution(
                ins[1],
                ins.get(2).copied(),
                ints(strides),
                padding,
                ints(dilations),
                false,
                vec![0i64; kernel.len()],
                *group as i64,
            )?)
        }
        Op::ConvTranspose {
            kernel,
            strides,
            pads,
            output_padding,
            dilations,
            group,
        } => {
            let sp = kernel.len();
            match symmetric(pads) {
                Some(p) => one(x.f_convolution(
                    ins[1],
                    ins.get(2).copied(),
                    ints(strides),
                    p,
                    ints(dilations),
                    true,
                    ints(output_padding),
                    *group as i64,
                )?),
                None => {
                    // torch pads both sides alike: compute unpadded, then crop.
                    let mut y = x.f_convolution(
                        ins[1],
                        ins.get(2).copied(),
                        ints(strides),
                        vec![0i64; sp],
                        ints(dilations),
                        true,
                        ints(output_padding),
                        *group as i64,
                    )?;
                    let keep = pads[..sp].iter().zip(&out.shape[2..]);
                    for (i, (&begin, &len)) in keep.enumerate() {
                        y = y.f_narrow(2 + i as i64, begin as i64, len as i64)?;
                    }
                    one(y)
                }
            }
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        } => {
            let (k, s) = (ints(kernel), ints(strides));
            match symmetric(pads) {
                Some(p) => one(max_pool(x, &k, &s, &p, *ceil_mode)?),
                None => {
                    let padded = pad_spatial(x, pads, f64::NEG_INFINITY)?;
                    let y = max_pool(&padded, &k, &s, &vec![0; k.len()], *ceil_mode)?;
                    one(narrow_to(y, &out.shape)?)
                }
            }
        }
        Op::AvgPool {
            kernel,
            strides,
            pads,
            ceil_mode,
            count_include_pad,
        } => {
            let (k, s) = (ints(kernel), ints(strides));
            match symmetric(pads) {
                Some(p) => one(avg_pool(x, &k, &s, &p, *ceil_mode, *count_include_pad)?),
                None => {
                    let zero = vec![0; k.len()];
                    let padded = pad_spatial(x, pads, 0.0)?;
                    let sum_avg = avg_pool(&padded, &k, &s, &zero, *ceil_mode, true)?;
                    let y = if *count_include_pad {
                        sum_avg
                    } else {
                        // Divide by the real elements under each window.
                        let ones = x.f_ones_like()?;
                        let mask = pad_spatial(&ones, pads, 0.0)?;
                        let frac = avg_pool(&mask, &k, &s, &zero, *ceil_mode, true)?;
                        sum_avg.f_div(&frac)?
                    };
                    one(narrow_to(y, &out.shape)?)
                }
            }
        }
        Op::GlobalAvgPool => {
            let dims: Vec<i64> = (2..in_infos[0].rank() as i64).collect();
            one(x.f_mean_dim(Some(dims.as_slice()), true, None)?)
        }
        Op::Resize { scales, mode } => {
            let r = in_infos[0].rank();
            if r < 3 || scales[..2] != [1.0, 1.0] {
                return Err(bad(format!(
                    "resizing the batch or channel axis (scales {scales:?}) has no torch upsampling"
                )));
            }
            let size = ints(&out.shape[2..]);
            let sc = &scales[2..];
            one(match (mode, r - 2) {
                (ResizeMode::Nearest, 1) => x.f_upsample_nearest1d(&size, sc[0])?,
                (ResizeMode::Nearest, 2) => x.f_upsample_nearest2d(&size, sc[0], sc[1])?,
                (ResizeMode::Nearest, 3) => x.f_upsample_nearest3d(&size, sc[0], sc[1], sc[2])?,
                (ResizeMode::Linear, 1) => x.f_upsample_linear1d(&size, false, sc[0])?,
                (ResizeMode::Linear, 2) => x.f_upsample_bilinear2d(&size, false, sc[0], sc[1])?,
                (ResizeMode::Linear, 3) => {
                    x.f_upsample_trilinear3d(&size, false, sc[0], sc[1], sc[2])?
                }
                (_, n) => return Err(bad(format!("Resize over {n} spatial axes"))),
            })
        }
        Op::Pad { pads, value, mode } => {
            let r = in_infos[0].rank();
            match mode {
                PadMode::Constant => {
                    let p = torch_pads(&pads[..r], &pads[r..]);
                    one(x.f_pad(&p, "constant", Some(*value))?)
                }
                PadMode::Reflect | PadMode::Edge => {
                    let m = if *mode == PadMode::Reflect {
                        "reflect"
                    } else {
                        "replicate"
                    };
                    one(pad_mode(x, &in_infos[0].shape, pads, m, out)?)
                }
            }
        }
        Op::Reshape { .. } | Op::Flatten { .. } | Op::Squeeze { .. } | Op::Unsqueeze { .. } => {
            one(x.f_reshape(shape_of(out))?)
        }
        Op::Transpose { perm } => one(x.f_permute(ints(perm))?),
        Op::Concat { axis } => one(Tensor::f_cat(ins, *axis as i64)?),
        Op::Split { axis, sizes } => Ok(x.f_split_with_sizes(ints(sizes), *axis as i64)?),
        // The IR's output shape already says how many elements each
        // axis keeps (ONNX clamping included), so `ends` is not needed.
        Op::Slice {
            starts,
            ends: _,
            axes,
            steps,
        } => {
            let mut y = x.shallow_clone();
            for (i, &a) in axes.iter().enumerate() {
                let d = in_infos[0].shape[a] as i64;
                let n = out.shape[a] as i64;
                let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
                let step = steps[i];
                if n == 0 {
                    y = y.f_narrow(a as i64, 0, 0)?;
                } else if step > 0 {
                    let s = norm(starts[i]).clamp(0, d);
                    y = y.f_slice(a as i64, s, s + (n - 1) * step + 1, step)?;
                } else {
                    // torch has no negative steps: flip, then step forward.
                    let s = norm(starts[i]).clamp(-1, d - 1);
                    let f = d - 1 - s;
                    y = y.f_flip([a as i64])?.f_slice(
                        a as i64,
                        f,
                        f + (n - 1) * -step + 1,
                        -step,
                    )?;
                }
            }
            one(y)
        }
        Op::Gather { axis } => {
            let d = in_infos[0].shape[*axis] as i64;
            let idx = ins[1];
            // ONNX allows negative indices; index_select does not.
            let neg = idx.f_lt(0i64)?;
            let idx = idx.f_add_scalar(d)?.f_where_self(&neg, idx)?;
            let flat = idx.f_reshape([-1])?;
            one(x
                .f_index_select(*axis as i64, &flat)?
                .f_reshape(shape_of(out))?)
        }
        Op::Where => one(ins[1].f_where_self(x, ins[2])?),
        Op::Cast { to } => one(x.f_to_kind(kind(*to))?),
        Op::Expand { .. } => one(x.f_expand(shape_of(out), false)?),
        Op::ReduceMean { axes, keepdims } => {
            let dims = (!axes.is_empty()).then(|| ints(axes));
            if dt.is_float() {
                one(x.f_mean_dim(dims, *keepdims, None)?)
            } else {
                // torch means need floats; ONNX keeps the integer type.
                let m = x
                    .f_to_kind(Kind::Double)?
                    .f_mean_dim(dims, *keepdims, None)?;
                one(m.f_trunc()?.f_to_kind(kind(dt))?)
            }
        }
        Op::ReduceSum { axes, keepdims } => {
            let dims = (!axes.is_empty()).then(|| ints(axes));
            one(x.f_sum_dim_intlist(dims, *keepdims, kind(dt))?)
        }
        Op::ReduceMax { axes, keepdims } => {
            let dims: Vec<i64> = if axes.is_empty() {
                (0..in_infos[0].rank() as i64).collect()
            } else {
                ints(axes)
            };
            one(x.f_amax(dims, *keepdims)?)
        }
        // Inference: dropout is the identity, as in eval mode.
        Op::Dropout { .. } | Op::Identity => one(x.shallow_clone()),
        Op::Trilu { upper, diagonal } => one(if *upper {
            x.f_triu(*diagonal)?
        } else {
            x.f_tril(*diagonal)?
        }),
        Op::OneHot { depth } => {
            // ONNX counts negative indices from the end; one_hot refuses them.
            let idx = x.f_to_kind(Kind::Int64)?;
            let neg = idx.f_lt(0i64)?;
            let idx = idx.f_add_scalar(*depth as i64)?.f_where_self(&neg, &idx)?;
            one(idx.f_one_hot(*depth as i64)?)
        }
        Op::DepthToSpace { block } => one(x.f_pixel_shuffle(*block as i64)?),
        Op::Tile { repeats } => one(x.f_repeat(ints(repeats))?),
        Op::Einsum { equation } => one(Tensor::f_einsum(equation, ins, None::<&[i64]>)?),
        Op::Interpolate {
            sizes,
            scales,
            mode,
            align_corners,
        } => one(interpolate(
            x,
            sizes,
            scales.as_deref(),
            *mode,
            *align_corners,
        )?),
        Op::GroupNorm { groups, epsilon } => {
            one(x.f_group_norm(*groups as i64, Some(ins[1]), Some(ins[2]), *epsilon, true)?)
        }
        Op::InstanceNorm { epsilon } => one(x.f_instance_norm(
            Some(ins[1]),
            Some(ins[2]),
            None::<&Tensor>,
            None::<&Tensor>,
            true,
            0.1,
            *epsilon,
            true,
        )?),
        // ---- math, activations and reductions (issue #15) ----
        Op::Sin => one(x.f_sin()?),
        Op::Cos => one(x.f_cos()?),
        Op::Tan => one(x.f_tan()?),
        Op::Reciprocal => one(x.f_reciprocal()?),
        Op::Floor => one(x.f_floor()?),
        Op::Ceil => one(x.f_ceil()?),
        Op::Round => one(x.f_round()?),
        Op::Sign => one(x.f_sign()?),
        Op::Min => one(x.f_minimum(ins[1])?),
        Op::Max => one(x.f_maximum(ins[1])?),
        Op::Softplus { beta, threshold } => {
            // F.softplus's own formula: x where beta x > threshold, else
            // log1p(exp(beta x)) / beta (tch binds only the default form).
            let bx = x.f_mul_scalar(*beta)?;
            let soft = bx.f_exp()?.f_log1p()?.f_div_scalar(*beta)?;
            one(x.f_where_self(&bx.f_gt(*threshold)?, &soft)?)
        }
        Op::Elu { alpha } => {
            let neg = x.f_expm1()?.f_mul_scalar(*alpha)?;
            one(x.f_where_self(&x.f_gt(0.0)?, &neg)?)
        }
        Op::Selu => one(x.f_selu()?),
        Op::Mish => one(x.f_mish()?),
        Op::Softsign => one(x.f_div(&x.f_abs()?.f_add_scalar(1.0)?)?),
        Op::PRelu => one(x.f_where_self(&x.f_gt(0.0)?, &x.f_mul(ins[1])?)?),
        Op::ReduceMin { axes, keepdims } => {
            let dims: Vec<i64> = if axes.is_empty() {
                (0..in_infos[0].rank() as i64).collect()
            } else {
                ints(axes)
            };
            one(x.f_amin(dims, *keepdims)?)
        }
        Op::ReduceProd { axes, .. } => {
            // torch.prod takes one dim at a time: keep them, then reshape.
            let all: Vec<usize> = (0..in_infos[0].rank()).collect();
            let axes = if axes.is_empty() { &all } else { axes };
            let mut y = x.shallow_clone();
            for &a in axes.iter().rev() {
                y = y.f_prod_dim_int(a as i64, true, kind(dt))?;
            }
            one(y.f_reshape(shape_of(out))?)
        }
        Op::ReduceL1 { axes, keepdims } => {
            let dims = (!axes.is_empty()).then(|| ints(axes));
            one(x.f_abs()?.f_sum_dim_intlist(dims, *keepdims, kind(dt))?)
        }
        Op::ReduceL2 { axes, keepdims } => {
            let dims = (!axes.is_empty()).then(|| ints(axes));
            let sq = x.f_mul(x)?;
            one(sq.f_sum_dim_intlist(dims, *keepdims, kind(dt))?.f_sqrt()?)
        }
        Op::ArgMax { axis, keepdims } => one(x.f_argmax(*axis as i64, *keepdims)?),
        Op::ArgMin { axis, keepdims } => one(x.f_argmin(*axis as i64, *keepdims)?),
        Op::TopK { k, axis, largest } => {
            let (v, i) = x.f_topk(*k as i64, *axis as i64, *largest, true)?;
            Ok(vec![v, i])
        }
        Op::CumSum { axis } => one(x.f_cumsum(*axis as i64, kind(dt))?),
        Op::Recurrent(r) => recurrent(r, ins, out_infos),
    }
}

/// F.pad in "reflect" or "replicate" mode, which libtorch has for the last
/// 1 to 3 axes of a tensor with one or two leading axes: the leading axes
/// are merged into one (or one is added) around the call.
fn pad_mode(
    x: &Tensor,
    shape: &[usize],
    pads: &[usize],
    mode: &str,
    out: &TypeInfo,
) -> Result<Tensor, tch::TchError> {
    let r = shape.len();
    let Some(first) = (0..r).find(|&i| pads[i] + pads[r + i] > 0) else {
        return Ok(x.shallow_clone());
    };
    let k = r - first;
    if k > 3 {
        return Err(tch::TchError::Shape(format!(
            "{mode} padding of {k} axes: libtorch pads at most the last 3"
        )));
    }
    let lead: usize = shape[..first].iter().product();
    let mut merged = vec![lead as i64];
    merged.extend(ints(&shape[first..]));
    let p = torch_pads(&pads[first..r], &pads[r + first..]);
    x.f_reshape(merged)?
        .f_pad(&p, mode, None)?
        .f_reshape(shape_of(out))
}

/// F.interpolate's kernels, given the scale factors when the script gave
/// them (PyTorch then maps coordinates by them, not by in/out).
fn interpolate(
    x: &Tensor,
    sizes: &[usize],
    scales: Option<&[f64]>,
    mode: InterpMode,
    align_corners: bool,
) -> Result<Tensor, tch::TchError> {
    let size = ints(sizes);
    let s = |i: usize| scales.map(|v| v[i]);
    let ac = align_corners;
    Ok(match (mode, sizes.len()) {
        (InterpMode::Nearest, 1) => x.f_upsample_nearest1d(&size, s(0))?,
        (InterpMode::Nearest, 2) => x.f_upsample_nearest2d(&size, s(0), s(1))?,
        (InterpMode::Nearest, 3) => x.f_upsample_nearest3d(&size, s(0), s(1), s(2))?,
        (InterpMode::NearestExact, 1) => x.f_internal_upsample_nearest_exact1d(&size, s(0))?,
        (InterpMode::NearestExact, 2) => {
            x.f_internal_upsample_nearest_exact2d(&size, s(0), s(1))?
        }
        (InterpMode::NearestExact, 3) => {
            x.f_internal_upsample_nearest_exact3d(&size, s(0), s(1), s(2))?
        }
        (InterpMode::Linear, 1) => x.f_upsample_linear1d(&size, ac, s(0))?,
        (InterpMode::Linear, 2) => x.f_upsample_bilinear2d(&size, ac, s(0), s(1))?,
        (InterpMode::Linear, 3) => x.f_upsample_trilinear3d(&size, ac, s(0), s(1), s(2))?,
        (InterpMode::Cubic, 2) => x.f_upsample_bicubic2d(&size, ac, s(0), s(1))?,
        (m, n) => {
            return Err(tch::TchError::Shape(format!(
                "interpolation {m:?} over {n} spatial axes has no libtorch kernel"
            )));
        }
    })
}

/// nn.LSTM / nn.GRU / nn.RNN as PyTorch eager runs them: libtorch's own
/// `lstm`/`gru`/`rnn_*` with the PyTorch-layout weights (inference:
/// no dropout), zero states when the op has none.
fn recurrent(
    r: &Rnn,
    ins: &[&Tensor],
    out_infos: &[&TypeInfo],
) -> Result<Vec<Tensor>, tch::TchError> {
    let x = ins[0];
    let states = r.state_inputs();
    let params = &ins[1 + states..];
    let state = |k: usize| match ins.get(1 + k) {
        Some(s) if k < states => Ok(s.shallow_clone()),
        _ => Tensor::f_zeros(shape_of(out_infos[1]), (x.kind(), x.device())),
    };
    let h0 = state(0)?;
    let (bias, layers, bi, bf) = (r.bias, r.num_layers as i64, r.bidirectional, r.batch_first);
    let (y, h) = match r.mode {
        RnnMode::Lstm => {
            let c0 = state(1)?;
            let (y, h, c) = x.f_lstm(&[&h0, &c0], params, bias, layers, 0.0, false, bi, bf)?;
            return Ok(vec![y, h, c]);
        }
        RnnMode::Gru => x.f_gru(&h0, params, bias, layers, 0.0, false, bi, bf)?,
        RnnMode::RnnTanh => x.f_rnn_tanh(&h0, params, bias, layers, 0.0, false, bi, bf)?,
        RnnMode::RnnRelu => x.f_rnn_relu(&h0, params, bias, layers, 0.0, false, bi, bf)?,
    };
    Ok(vec![y, h])
}
