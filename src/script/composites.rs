//! PyTorch ops that ONNX writes as several nodes, built from IR ops at
//! trace time (as torch.onnx exports them): roll, flip, circular padding,
//! stack, pixel shuffles of any rank, adaptive pools of any size, group and
//! instance norm without weights, embedding bags. Shared by the functions
//! (`api/`) and the `nn::` layers that wrap them.

use super::host::Trace;
use super::model::op1;
use crate::graph::{DType, HostTensor, Op, ValueId, shape_str};

fn shape(t: &Trace, x: ValueId) -> Vec<usize> {
    t.graph.info(x).shape.clone()
}

/// Elements `start..end` of `axis`.
fn slice(
    t: &mut Trace,
    x: ValueId,
    axis: usize,
    start: usize,
    end: usize,
) -> Result<ValueId, String> {
    op1(
        t,
        Op::Slice {
            starts: vec![start as i64],
            ends: vec![end as i64],
            axes: vec![axis],
            steps: vec![1],
        },
        &[x],
    )
}

fn reshape(t: &mut Trace, x: ValueId, shape: Vec<usize>) -> Result<ValueId, String> {
    op1(t, Op::Reshape { shape }, &[x])
}

/// torch.roll along `axes` (each shifted by its shift, modulo its size):
/// the last `s` elements move to the front (Slice, Slice, Concat).
pub fn roll(t: &mut Trace, x: ValueId, shifts: &[i64], axes: &[usize]) -> Result<ValueId, String> {
    let mut y = x;
    for (&shift, &a) in shifts.iter().zip(axes) {
        let n = shape(t, y)[a];
        let s = shift.rem_euclid(n as i64) as usize;
        if s == 0 {
            continue;
        }
        let tail = slice(t, y, a, n - s, n)?;
        let head = slice(t, y, a, 0, n - s)?;
        y = op1(t, Op::Concat { axis: a }, &[tail, head])?;
    }
    Ok(y)
}

/// torch.roll without dims: over the flattened tensor, shape restored.
pub fn roll_flat(t: &mut Trace, x: ValueId, shift: i64) -> Result<ValueId, String> {
    let s = shape(t, x);
    let flat = reshape(t, x, vec![s.iter().product()])?;
    let y = roll(t, flat, &[shift], &[0])?;
    reshape(t, y, s)
}

/// torch.flip: one Slice stepping backwards over every axis in `axes`.
pub fn flip(t: &mut Trace, x: ValueId, axes: &[usize]) -> Result<ValueId, String> {
    if axes.is_empty() {
        return Ok(x);
    }
    op1(
        t,
        Op::Slice {
            starts: vec![-1; axes.len()],
            ends: vec![i64::MIN; axes.len()],
            axes: axes.to_vec(),
            steps: vec![-1; axes.len()],
        },
        &[x],
    )
}

/// F.pad(mode="circular"): each padded axis wraps around (its last `begin`
/// elements before it, its first `end` after it). `pads` = begins then
/// ends, one per axis.
pub fn pad_circular(t: &mut Trace, x: ValueId, pads: &[usize]) -> Result<ValueId, String> {
    let r = shape(t, x).len();
    let mut y = x;
    for a in 0..r {
        let (b, e) = (pads[a], pads[r + a]);
        let n = shape(t, y)[a];
        if b > n || e > n {
            return Err(format!(
                "circular padding of ({b}, {e}) is larger than axis {a} of size {n}"
            ));
        }
        if b + e == 0 {
            continue;
        }
        let mut parts = Vec::new();
        if b > 0 {
            parts.push(slice(t, y, a, n - b, n)?);
        }
        parts.push(y);
        if e > 0 {
            parts.push(slice(t, y, a, 0, e)?);
        }
        y = op1(t, Op::Concat { axis: a }, &parts)?;
    }
    Ok(y)
}

/// torch.stack: every tensor gets a new axis `dim`, then one Concat.
pub fn stack(t: &mut Trace, xs: &[ValueId], dim: usize) -> Result<ValueId, String> {
    let parts = xs
        .iter()
        .map(|&x| op1(t, Op::Unsqueeze { axes: vec![dim] }, &[x]))
        .collect::<Result<Vec<_>, _>>()?;
    op1(t, Op::Concat { axis: dim }, &parts)
}

/// The leading axes before the last three, and their product.
fn lead3(name: &str, s: &[usize]) -> Result<(Vec<usize>, usize), String> {
    if s.len() < 3 {
        return Err(format!(
            "{name} expects a (*, C, H, W) input of rank >= 3, got {}",
            shape_str(s)
        ));
    }
    let lead = s[..s.len() - 3].to_vec();
    let b = lead.iter().product();
    Ok((lead, b))
}

/// F.pixel_shuffle on (*, C*r*r, H, W): DepthToSpace (CRD) on a 4-d view.
pub fn pixel_shuffle(t: &mut Trace, x: ValueId, r: usize) -> Result<ValueId, String> {
    let s = shape(t, x);
    let (lead, b) = lead3("pixel_shuffle", &s)?;
    let [c, h, w] = [s[s.len() - 3], s[s.len() - 2], s[s.len() - 1]];
    if r == 0 || c % (r * r) != 0 {
        return Err(format!(
            "pixel_shuffle: {c} channels (input {}) are not divisible by upscale_factor^2 = {}",
            shape_str(&s),
            r * r
        ));
    }
    if s.len() == 4 {
        return op1(t, Op::DepthToSpace { block: r }, &[x]);
    }
    let y = reshape(t, x, vec![b, c, h, w])?;
    let y = op1(t, Op::DepthToSpace { block: r }, &[y])?;
    let mut out = lead;
    out.extend([c / (r * r), h * r, w * r]);
    reshape(t, y, out)
}

/// F.pixel_unshuffle on (*, C, H*r, W*r): channel c*r*r + i*r + j holds
/// pixel (i, j) of each r x r block (Reshape, Transpose, Reshape; ONNX's
/// SpaceToDepth orders channels the other way).
pub fn pixel_unshuffle(t: &mut Trace, x: ValueId, r: usize) -> Result<ValueId, String> {
    let s = shape(t, x);
    let (lead, b) = lead3("pixel_unshuffle", &s)?;
    let [c, h, w] = [s[s.len() - 3], s[s.len() - 2], s[s.len() - 1]];
    if r == 0 || h % r != 0 || w % r != 0 {
        return Err(format!(
            "pixel_unshuffle: height {h} and width {w} (input {}) must be divisible by downscale_factor {r}",
            shape_str(&s)
        ));
    }
    let y = reshape(t, x, vec![b, c, h / r, r, w / r, r])?;
    let y = op1(
        t,
        Op::Transpose {
            perm: vec![0, 1, 3, 5, 2, 4],
        },
        &[y],
    )?;
    let mut out = lead;
    out.extend([c * r * r, h / r, w / r]);
    reshape(t, y, out)
}

use super::layers::adaptive_bins;

/// nn.AdaptiveAvgPool{1,2,3}d / AdaptiveMaxPool{1,2,3}d over the last
/// `sizes.len()` axes of a batched or unbatched input: the input itself when
/// the sizes match; a global pool for size 1; one exact pool when every
/// axis divides; else axis by axis, PyTorch's overlapping bins (averaging
/// matrices for the mean, Slice and ReduceMax per bin for the max).
pub fn adaptive_pool(
    t: &mut Trace,
    x: ValueId,
    sizes: &[usize],
    max: bool,
) -> Result<ValueId, String> {
    let info = t.graph.info(x).clone();
    let sp = sizes.len();
    let name = format!("adaptive_{}_pool{sp}d", if max { "max" } else { "avg" });
    let r = info.rank();
    if r != sp + 1 && r != sp + 2 {
        return Err(format!(
            "{name} expects a [N, C, {sp} spatial] or [C, {sp} spatial] input, got {}",
            shape_str(&info.shape)
        ));
    }
    if !info.dtype.is_float() {
        return Err(format!("{name} needs a float tensor, got {}", info.dtype));
    }
    if sizes.contains(&0) {
        return Err(format!("{name}: output sizes must be at least 1"));
    }
    let ins = info.shape[r - sp..].to_vec();
    if ins == sizes {
        return Ok(x);
    }
    let spatial: Vec<usize> = (r - sp..r).collect();
    let batched = r == sp + 2;
    if batched && sizes.iter().all(|&s| s == 1) {
        return if max {
            op1(
                t,
                Op::ReduceMax {
                    axes: spatial,
                    keepdims: true,
                },
                &[x],
            )
        } else {
            op1(t, Op::GlobalAvgPool, &[x])
        };
    }
    if batched && ins.iter().zip(sizes).all(|(i, o)| i % o == 0) {
        let kernel: Vec<usize> = ins.iter().zip(sizes).map(|(i, o)| i / o).collect();
        let (strides, pads) = (kernel.clone(), vec![0; 2 * sp]);
        let op = if max {
            Op::MaxPool {
                kernel,
                strides,
                pads,
                ceil_mode: false,
            }
        } else {
            Op::AvgPool {
                kernel,
                strides,
                pads,
                ceil_mode: false,
                count_include_pad: true,
            }
        };
        return op1(t, op, &[x]);
    }
    // Mean and max over a box are the mean (max) over one axis of the mean
    // (max) over the other: every row of a bin has as many cells.
    let mut y = x;
    for (k, &ax) in spatial.iter().enumerate() {
        let (n, m) = (ins[k], sizes[k]);
        if n != m {
            y = if max {
                max_bins(t, y, ax, n, m)?
            } else {
                mean_bins(t, y, ax, n, m)?
            };
        }
    }
    Ok(y)
}

/// The max of each adaptive bin along `ax`: Slice + ReduceMax per bin.
fn max_bins(t: &mut Trace, x: ValueId, ax: usize, n: usize, m: usize) -> Result<ValueId, String> {
    let reduce = Op::ReduceMax {
        axes: vec![ax],
        keepdims: true,
    };
    if m == 1 {
        return op1(t, reduce, &[x]);
    }
    let mut parts = Vec::with_capacity(m);
    for (s, e) in adaptive_bins(n, m) {
        let part = slice(t, x, ax, s, e)?;
        parts.push(op1(t, reduce.clone(), &[part])?);
    }
    op1(t, Op::Concat { axis: ax }, &parts)
}

/// The mean of each adaptive bin along `ax`: a constant [m, n] averaging
/// matrix applied by MatMul (the last axis directly, another one through a
/// [before, n, after] view).
fn mean_bins(t: &mut Trace, x: ValueId, ax: usize, n: usize, m: usize) -> Result<ValueId, String> {
    let info = t.graph.info(x).clone();
    let bins = adaptive_bins(n, m);
    let last = ax + 1 == info.rank();
    // [m, n] (or its transpose [n, m] for the last axis).
    let (rows, cols) = if last { (n, m) } else { (m, n) };
    let p = HostTensor::from_fn(info.dtype, &[rows, cols], |idx| {
        let (i, j) = (idx / cols, idx % cols);
        let (bin, cell) = if last { (j, i) } else { (i, j) };
        let (s, e) = bins[bin];
        if (s..e).contains(&cell) {
            1.0 / (e - s) as f64
        } else {
            0.0
        }
    });
    let p = t.graph.add_const(p);
    if last {
        return op1(t, Op::MatMul, &[x, p]);
    }
    let before: usize = info.shape[..ax].iter().product();
    let after: usize = info.shape[ax + 1..].iter().product();
    let v = reshape(t, x, vec![before, n, after])?;
    let y = op1(t, Op::MatMul, &[p, v])?;
    let mut out = info.shape.clone();
    out[ax] = m;
    reshape(t, y, out)
}

/// A [C] constant of `x`'s dtype (a weight or bias the caller left out).
pub fn channel_const(t: &mut Trace, x: ValueId, v: f64) -> ValueId {
    let info = t.graph.info(x).clone();
    let c = info.shape.get(1).copied().unwrap_or(1);
    t.graph.add_const(HostTensor::full(info.dtype, &[c], v))
}

/// A per-channel normalization `op` over x, weight and bias, where a
/// missing weight is 1 and a missing bias 0 (PyTorch's None).
fn channel_norm(
    t: &mut Trace,
    op: Op,
    x: ValueId,
    weight: Option<ValueId>,
    bias: Option<ValueId>,
) -> Result<ValueId, String> {
    let w = weight.unwrap_or_else(|| channel_const(t, x, 1.0));
    let b = bias.unwrap_or_else(|| channel_const(t, x, 0.0));
    op1(t, op, &[x, w, b])
}

/// F.group_norm.
pub fn group_norm(
    t: &mut Trace,
    x: ValueId,
    groups: usize,
    weight: Option<ValueId>,
    bias: Option<ValueId>,
    eps: f64,
) -> Result<ValueId, String> {
    let op = Op::GroupNorm {
        groups,
        epsilon: eps,
    };
    channel_norm(t, op, x, weight, bias)
}

/// F.instance_norm with the input's own statistics.
pub fn instance_norm(
    t: &mut Trace,
    x: ValueId,
    weight: Option<ValueId>,
    bias: Option<ValueId>,
    eps: f64,
) -> Result<ValueId, String> {
    channel_norm(t, Op::InstanceNorm { epsilon: eps }, x, weight, bias)
}

/// How nn.EmbeddingBag reduces each bag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BagMode {
    Sum,
    Mean,
    Max,
}

/// nn.EmbeddingBag over a [bags, bag_size] id tensor (fixed-size bags):
/// the rows of `weight` each bag names, summed, averaged or maxed.
pub fn embedding_bag(
    t: &mut Trace,
    ids: ValueId,
    weight: ValueId,
    mode: BagMode,
) -> Result<ValueId, String> {
    let info = t.graph.info(ids).clone();
    if !matches!(info.dtype, DType::Int64 | DType::Int32) || info.rank() != 2 {
        return Err(format!(
            "takes a [bags, bag_size] int64 tensor of ids, got {} {}; \
             variable-size bags (1-d ids with offsets) are not supported",
            info.dtype,
            shape_str(&info.shape)
        ));
    }
    let rows = op1(t, Op::Gather { axis: 0 }, &[weight, ids])?;
    let (axes, keepdims) = (vec![1], false);
    let op = match mode {
        BagMode::Sum => Op::ReduceSum { axes, keepdims },
        BagMode::Mean => Op::ReduceMean { axes, keepdims },
        BagMode::Max => Op::ReduceMax { axes, keepdims },
    };
    op1(t, op, &[rows])
}
