//! The op set of the IR. Each op's shape/dtype inference and FLOP count live
//! here together, so that adding an op is one place (plus its lowerings).

use super::dtype::{DType, shape_str};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A shape or type error found while tracing; the script host adds the line.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{op}: {msg}")]
pub struct GraphError {
    pub op: &'static str,
    pub msg: String,
}

fn err<T>(op: &'static str, msg: impl Into<String>) -> Result<T, GraphError> {
    Err(GraphError {
        op,
        msg: msg.into(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResizeMode {
    Nearest,
    Linear,
}

/// One operation. Attributes are stored normalized: axes are non-negative
/// and shapes concrete, since traced graphs have static shapes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Equal,
    Less,
    Greater,
    Sqrt,
    Exp,
    Log,
    Neg,
    Abs,
    Erf,
    Relu,
    Gelu,
    Silu,
    Sigmoid,
    Tanh,
    HardSwish,
    HardSigmoid,
    Clip {
        min: Option<f64>,
        max: Option<f64>,
    },
    Softmax {
        axis: usize,
    },
    LogSoftmax {
        axis: usize,
    },
    MatMul,
    /// `a @ b^T + c` when `trans_b`, else `a @ b + c`; `c` optional.
    Gemm {
        trans_b: bool,
    },
    /// Inputs: x, scale, bias (optional). Normalizes over `axis..`.
    LayerNorm {
        axis: usize,
        epsilon: f64,
    },
    /// Inputs: x, scale, bias, running mean, running var.
    BatchNorm {
        epsilon: f64,
    },
    /// Inputs: x, weight, bias (optional). `pads` = begins then ends.
    Conv {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        dilations: Vec<usize>,
        group: usize,
    },
    ConvTranspose {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        output_padding: Vec<usize>,
        dilations: Vec<usize>,
        group: usize,
    },
    MaxPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        ceil_mode: bool,
    },
    AvgPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalAvgPool,
    /// Output dims are `floor(in * scale)`.
    Resize {
        scales: Vec<f64>,
        mode: ResizeMode,
    },
    /// Constant padding; `pads` = begins then ends, one per axis.
    Pad {
        pads: Vec<usize>,
        value: f64,
    },
    Reshape {
        shape: Vec<usize>,
    },
    Flatten {
        axis: usize,
    },
    Transpose {
        perm: Vec<usize>,
    },
    Squeeze {
        axes: Vec<usize>,
    },
    Unsqueeze {
        axes: Vec<usize>,
    },
    Concat {
        axis: usize,
    },
    Split {
        axis: usize,
        sizes: Vec<usize>,
    },
    Slice {
        starts: Vec<i64>,
        ends: Vec<i64>,
        axes: Vec<usize>,
        steps: Vec<i64>,
    },
    Gather {
        axis: usize,
    },
    Where,
    Cast {
        to: DType,
    },
    Expand {
        shape: Vec<usize>,
    },
    ReduceMean {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceSum {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceMax {
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// Identity at inference, kept so the graph mirrors the model.
    Dropout {
        ratio: f64,
    },
    Identity,
}

/// The shape and dtype of one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeInfo {
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl TypeInfo {
    pub fn new(shape: Vec<usize>, dtype: DType) -> Self {
        TypeInfo { shape, dtype }
    }
    pub fn numel(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// Numpy-style broadcasting of two shapes.
pub fn broadcast(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>, GraphError> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return err(
                    op,
                    format!(
                        "shapes {} and {} cannot be broadcast together",
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
        };
    }
    Ok(out)
}

fn same_dtype(op: &'static str, a: DType, b: DType) -> Result<(), GraphError> {
    if a != b {
        return err(
            op,
            format!("dtype mismatch: {a} and {b} (cast one side with .cast(\"{a}\"))"),
        );
    }
    Ok(())
}

fn need_float(op: &'static str, d: DType) -> Result<(), GraphError> {
    if !d.is_float() {
        return err(op, format!("needs a floating-point tensor, got {d}"));
    }
    Ok(())
}

fn arity(op: &'static str, ins: &[&TypeInfo], lo: usize, hi: usize) -> Result<(), GraphError> {
    if ins.len() < lo || ins.len() > hi {
        return err(op, format!("takes {lo}..={hi} inputs, got {}", ins.len()));
    }
    Ok(())
}

/// Output spatial size of a sliding window.
#[allow(clippy::too_many_arguments)]
fn window_out(
    op: &'static str,
    input: usize,
    k: usize,
    s: usize,
    pb: usize,
    pe: usize,
    d: usize,
    ceil: bool,
) -> Result<usize, GraphError> {
    let span = d * (k - 1) + 1;
    let padded = input + pb + pe;
    if s == 0 {
        return err(op, "stride must be at least 1");
    }
    if padded < span {
        return err(
            op,
            format!("window {span} is larger than the padded input {padded}"),
        );
    }
    let n = padded - span;
    let mut out = if ceil { n.div_ceil(s) } else { n / s } + 1;
    // As in ONNX/PyTorch: the last window must start inside the input or left pad.
    if ceil && (out - 1) * s >= input + pb {
        out -= 1;
    }
    Ok(out)
}

fn check_spatial(
    op: &'static str,
    x: &TypeInfo,
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
) -> Result<usize, GraphError> {
    let sp = kernel.len();
    if x.rank() != sp + 2 {
        return err(
            op,
            format!(
                "expects a [N, C, {}] input of rank {}, got {}",
                (0..sp)
                    .map(|i| format!("d{i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                sp + 2,
                shape_str(&x.shape)
            ),
        );
    }
    if strides.len() != sp || pads.len() != 2 * sp {
        return err(op, "strides/pads do not match the kernel rank");
    }
    if kernel.contains(&0) {
        return err(op, "kernel sizes must be at least 1");
    }
    Ok(sp)
}

fn check_axes(op: &'static str, axes: &[usize], rank: usize) -> Result<(), GraphError> {
    for &a in axes {
        if a >= rank {
            return err(op, format!("axis {a} is out of range for rank {rank}"));
        }
    }
    Ok(())
}

fn reduce_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    let all = axes.is_empty();
    let mut out = Vec::new();
    for (i, &d) in shape.iter().enumerate() {
        if all || axes.contains(&i) {
            if keepdims {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

impl Op {
    /// The op's kind name (ONNX-like), used for op counts and node names.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::Div => "Div",
            Op::Pow => "Pow",
            Op::Equal => "Equal",
            Op::Less => "Less",
            Op::Greater => "Greater",
            Op::Sqrt => "Sqrt",
            Op::Exp => "Exp",
            Op::Log => "Log",
            Op::Neg => "Neg",
            Op::Abs => "Abs",
            Op::Erf => "Erf",
            Op::Relu => "Relu",
            Op::Gelu => "Gelu",
            Op::Silu => "Silu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::HardSwish => "HardSwish",
            Op::HardSigmoid => "HardSigmoid",
            Op::Clip { .. } => "Clip",
            Op::Softmax { .. } => "Softmax",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::MatMul => "MatMul",
            Op::Gemm { .. } => "Gemm",
            Op::LayerNorm { .. } => "LayerNormalization",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::Conv { .. } => "Conv",
            Op::ConvTranspose { .. } => "ConvTranspose",
            Op::MaxPool { .. } => "MaxPool",
            Op::AvgPool { .. } => "AveragePool",
            Op::GlobalAvgPool => "GlobalAveragePool",
            Op::Resize { .. } => "Resize",
            Op::Pad { .. } => "Pad",
            Op::Reshape { .. } => "Reshape",
            Op::Flatten { .. } => "Flatten",
            Op::Transpose { .. } => "Transpose",
            Op::Squeeze { .. } => "Squeeze",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice { .. } => "Slice",
            Op::Gather { .. } => "Gather",
            Op::Where => "Where",
            Op::Cast { .. } => "Cast",
            Op::Expand { .. } => "Expand",
            Op::ReduceMean { .. } => "ReduceMean",
            Op::ReduceSum { .. } => "ReduceSum",
            Op::ReduceMax { .. } => "ReduceMax",
            Op::Dropout { .. } => "Dropout",
            Op::Identity => "Identity",
        }
    }

    /// Infers the outputs' shapes and dtypes from the inputs'.
    pub fn infer(&self, ins: &[&TypeInfo]) -> Result<Vec<TypeInfo>, GraphError> {
        let op = self.kind();
        let one = |ti: TypeInfo| Ok(vec![ti]);
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow => {
                arity(op, ins, 2, 2)?;
                if !matches!(self, Op::Pow) {
                    same_dtype(op, ins[0].dtype, ins[1].dtype)?;
                }
                if ins[0].dtype == DType::Bool {
                    return err(op, "arithmetic on bool tensors is not defined; cast first");
                }
                one(TypeInfo::new(
                    broadcast(op, &ins[0].shape, &ins[1].shape)?,
                    ins[0].dtype,
                ))
            }
            Op::Equal | Op::Less | Op::Greater => {
                arity(op, ins, 2, 2)?;
                same_dtype(op, ins[0].dtype, ins[1].dtype)?;
                one(TypeInfo::new(
                    broadcast(op, &ins[0].shape, &ins[1].shape)?,
                    DType::Bool,
                ))
            }
            Op::Sqrt
            | Op::Exp
            | Op::Log
            | Op::Erf
            | Op::Gelu
            | Op::Silu
            | Op::Sigmoid
            | Op::Tanh
            | Op::HardSwish
            | Op::HardSigmoid => {
                arity(op, ins, 1, 1)?;
                need_float(op, ins[0].dtype)?;
                one(ins[0].clone())
            }
            Op::Neg | Op::Abs | Op::Relu | Op::Clip { .. } => {
                arity(op, ins, 1, 1)?;
                if ins[0].dtype == DType::Bool {
                    return err(op, "not defined on bool tensors");
                }
                one(ins[0].clone())
            }
            Op::Softmax { axis } | Op::LogSoftmax { axis } => {
                arity(op, ins, 1, 1)?;
                need_float(op, ins[0].dtype)?;
                check_axes(op, &[*axis], ins[0].rank())?;
                one(ins[0].clone())
            }
            Op::MatMul => {
                arity(op, ins, 2, 2)?;
                same_dtype(op, ins[0].dtype, ins[1].dtype)?;
                let (a, b) = (&ins[0].shape, &ins[1].shape);
                if a.is_empty() || b.is_empty() {
                    return err(op, "operands must have rank >= 1");
                }
                let a2: Vec<usize> = if a.len() == 1 {
                    vec![1, a[0]]
                } else {
                    a.clone()
                };
                let b2: Vec<usize> = if b.len() == 1 {
                    vec![b[0], 1]
                } else {
                    b.clone()
                };
                let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
                let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
                if k != k2 {
                    return err(
                        op,
                        format!(
                            "shapes {} and {} are not aligned: {k} (last dim of the first) != {k2} (second-to-last of the second)",
                            shape_str(a),
                            shape_str(b)
                        ),
                    );
                }
                let mut out = broadcast(op, &a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
                if a.len() > 1 {
                    out.push(m);
                }
                if b.len() > 1 {
                    out.push(n);
                }
                one(TypeInfo::new(out, ins[0].dtype))
            }
            Op::Gemm { trans_b } => {
                arity(op, ins, 2, 3)?;
                same_dtype(op, ins[0].dtype, ins[1].dtype)?;
                let (a, b) = (&ins[0].shape, &ins[1].shape);
                if a.len() != 2 || b.len() != 2 {
                    return err(
                        op,
                        format!(
                            "needs 2-D operands, got {} and {}",
                            shape_str(a),
                            shape_str(b)
                        ),
                    );
                }
                let (kb, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
                if a[1] != kb {
                    return err(
                        op,
                        format!(
                            "input has {} features but the weight expects {kb} (shapes {} and {})",
                            a[1],
                            shape_str(a),
                            shape_str(b)
                        ),
                    );
                }
                let out = vec![a[0], n];
                if let Some(c) = ins.get(2) {
                    same_dtype(op, ins[0].dtype, c.dtype)?;
                    let bc = broadcast(op, &c.shape, &out)?;
                    if bc != out {
                        return err(op, "bias does not broadcast to the output");
                    }
                }
                one(TypeInfo::new(out, ins[0].dtype))
            }
            Op::LayerNorm { axis, .. } => {
                arity(op, ins, 2, 3)?;
                let x = ins[0];
                need_float(op, x.dtype)?;
                check_axes(op, &[*axis], x.rank())?;
                let norm = &x.shape[*axis..];
                for p in &ins[1..] {
                    if p.shape != norm {
                        return err(
                            op,
                            format!(
                                "normalized shape {} does not match the input's trailing dims {} (input {})",
                                shape_str(&p.shape),
                                shape_str(norm),
                                shape_str(&x.shape)
                            ),
                        );
                    }
                    same_dtype(op, x.dtype, p.dtype)?;
                }
                one(x.clone())
            }
            Op::BatchNorm { .. } => {
                arity(op, ins, 5, 5)?;
                let x = ins[0];
                need_float(op, x.dtype)?;
                if x.rank() < 2 {
                    return err(
                        op,
                        format!("expects [N, C, ...], got {}", shape_str(&x.shape)),
                    );
                }
                let c = x.shape[1];
                for p in &ins[1..] {
                    if p.shape != [c] {
                        return err(
                            op,
                            format!(
                                "input has {c} channels but the layer has {} (input {})",
                                shape_str(&p.shape),
                                shape_str(&x.shape)
                            ),
                        );
                    }
                }
                one(x.clone())
            }
            Op::Conv {
                kernel,
                strides,
                pads,
                dilations,
                group,
            } => {
                arity(op, ins, 2, 3)?;
                let (x, w) = (ins[0], ins[1]);
                let sp = check_spatial(op, x, kernel, strides, pads)?;
                same_dtype(op, x.dtype, w.dtype)?;
                let cin = x.shape[1];
                if *group == 0 || cin % group != 0 {
                    return err(
                        op,
                        format!("{cin} input channels are not divisible by groups={group}"),
                    );
                }
                if w.rank() != sp + 2 || w.shape[1] * group != cin || w.shape[2..] != kernel[..] {
                    return err(
                        op,
                        format!(
                            "input has {cin} channels but the weight {} expects {} (input {})",
                            shape_str(&w.shape),
                            w.shape.get(1).copied().unwrap_or(0) * group,
                            shape_str(&x.shape)
                        ),
                    );
                }
                let cout = w.shape[0];
                if let Some(b) = ins.get(2)
                    && b.shape != [cout]
                {
                    return err(op, "bias must have one value per output channel");
                }
                let mut out = vec![x.shape[0], cout];
                for i in 0..sp {
                    out.push(window_out(
                        op,
                        x.shape[2 + i],
                        kernel[i],
                        strides[i],
                        pads[i],
                        pads[sp + i],
                        dilations[i],
                        false,
                    )?);
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::ConvTranspose {
                kernel,
                strides,
                pads,
                output_padding,
                dilations,
                group,
            } => {
                arity(op, ins, 2, 3)?;
                let (x, w) = (ins[0], ins[1]);
                let sp = check_spatial(op, x, kernel, strides, pads)?;
                same_dtype(op, x.dtype, w.dtype)?;
                let cin = x.shape[1];
                if w.rank() != sp + 2 || w.shape[0] != cin || w.shape[2..] != kernel[..] {
                    return err(
                        op,
                        format!(
                            "input has {cin} channels but the weight {} expects {}",
                            shape_str(&w.shape),
                            w.shape.first().copied().unwrap_or(0)
                        ),
                    );
                }
                let cout = w.shape[1] * group;
                let mut out = vec![x.shape[0], cout];
                for i in 0..sp {
                    let full = (x.shape[2 + i] - 1) * strides[i]
                        + dilations[i] * (kernel[i] - 1)
                        + output_padding[i]
                        + 1;
                    let cut = pads[i] + pads[sp + i];
                    if full <= cut {
                        return err(op, "padding removes the whole output");
                    }
                    out.push(full - cut);
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
                ceil_mode,
            }
            | Op::AvgPool {
                kernel,
                strides,
                pads,
                ceil_mode,
                ..
            } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                let sp = check_spatial(op, x, kernel, strides, pads)?;
                for i in 0..sp {
                    if pads[i] > kernel[i] / 2 || pads[sp + i] > kernel[i] / 2 {
                        return err(op, "padding must be at most half the kernel size");
                    }
                }
                let mut out = vec![x.shape[0], x.shape[1]];
                for i in 0..sp {
                    out.push(window_out(
                        op,
                        x.shape[2 + i],
                        kernel[i],
                        strides[i],
                        pads[i],
                        pads[sp + i],
                        1,
                        *ceil_mode,
                    )?);
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::GlobalAvgPool => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                if x.rank() < 3 {
                    return err(
                        op,
                        format!("expects [N, C, d...], got {}", shape_str(&x.shape)),
                    );
                }
                let mut out = x.shape[..2].to_vec();
                out.extend(std::iter::repeat_n(1, x.rank() - 2));
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Resize { scales, .. } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                if scales.len() != x.rank() {
                    return err(
                        op,
                        format!("needs {} scales, got {}", x.rank(), scales.len()),
                    );
                }
                let out: Vec<usize> = x
                    .shape
                    .iter()
                    .zip(scales)
                    .map(|(&d, &s)| (d as f64 * s).floor() as usize)
                    .collect();
                if out.contains(&0) {
                    return err(op, "a scale makes an axis empty");
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Pad { pads, .. } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                if pads.len() != 2 * x.rank() {
                    return err(
                        op,
                        format!(
                            "needs {} pads (begins then ends), got {}",
                            2 * x.rank(),
                            pads.len()
                        ),
                    );
                }
                let r = x.rank();
                let out = (0..r).map(|i| x.shape[i] + pads[i] + pads[r + i]).collect();
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Reshape { shape } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                let n: usize = shape.iter().product();
                if n as u64 != x.numel() {
                    return err(
                        op,
                        format!(
                            "cannot reshape {} ({} elements) into {} ({n} elements)",
                            shape_str(&x.shape),
                            x.numel(),
                            shape_str(shape)
                        ),
                    );
                }
                one(TypeInfo::new(shape.clone(), x.dtype))
            }
            Op::Flatten { axis } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                if *axis > x.rank() {
                    return err(
                        op,
                        format!("axis {axis} is out of range for rank {}", x.rank()),
                    );
                }
                let a: usize = x.shape[..*axis].iter().product();
                let b: usize = x.shape[*axis..].iter().product();
                one(TypeInfo::new(vec![a, b], x.dtype))
            }
            Op::Transpose { perm } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..x.rank()).collect::<Vec<_>>() {
                    return err(
                        op,
                        format!(
                            "{perm:?} is not a permutation of the {} axes of {}",
                            x.rank(),
                            shape_str(&x.shape)
                        ),
                    );
                }
                one(TypeInfo::new(
                    perm.iter().map(|&p| x.shape[p]).collect(),
                    x.dtype,
                ))
            }
            Op::Squeeze { axes } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                check_axes(op, axes, x.rank())?;
                for &a in axes {
                    if x.shape[a] != 1 {
                        return err(op, format!("axis {a} has size {}, not 1", x.shape[a]));
                    }
                }
                let out = x
                    .shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect();
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Unsqueeze { axes } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                let r = x.rank() + axes.len();
                check_axes(op, axes, r)?;
                let mut out = Vec::with_capacity(r);
                let mut it = x.shape.iter();
                for i in 0..r {
                    if axes.contains(&i) {
                        out.push(1);
                    } else {
                        out.push(*it.next().unwrap());
                    }
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Concat { axis } => {
                if ins.is_empty() {
                    return err(op, "needs at least one input");
                }
                let first = ins[0];
                check_axes(op, &[*axis], first.rank())?;
                let mut out = first.shape.clone();
                for t in &ins[1..] {
                    same_dtype(op, first.dtype, t.dtype)?;
                    let ok = t.rank() == first.rank()
                        && (0..t.rank()).all(|i| i == *axis || t.shape[i] == first.shape[i]);
                    if !ok {
                        return err(
                            op,
                            format!(
                                "shapes {} and {} differ outside axis {axis}",
                                shape_str(&first.shape),
                                shape_str(&t.shape)
                            ),
                        );
                    }
                    out[*axis] += t.shape[*axis];
                }
                one(TypeInfo::new(out, first.dtype))
            }
            Op::Split { axis, sizes } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                check_axes(op, &[*axis], x.rank())?;
                let total: usize = sizes.iter().sum();
                if total != x.shape[*axis] || sizes.contains(&0) {
                    return err(
                        op,
                        format!(
                            "sizes {sizes:?} do not add up to axis {axis} of {}",
                            shape_str(&x.shape)
                        ),
                    );
                }
                Ok(sizes
                    .iter()
                    .map(|&s| {
                        let mut sh = x.shape.clone();
                        sh[*axis] = s;
                        TypeInfo::new(sh, x.dtype)
                    })
                    .collect())
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                arity(op, ins, 1, 1)?;
                let x = ins[0];
                check_axes(op, axes, x.rank())?;
                if starts.len() != axes.len()
                    || ends.len() != axes.len()
                    || steps.len() != axes.len()
                {
                    return err(op, "starts, ends, axes and steps must have the same length");
                }
                let mut out = x.shape.clone();
                for (i, &a) in axes.iter().enumerate() {
                    out[a] =
                        slice_len(x.shape[a], starts[i], ends[i], steps[i]).ok_or_else(|| {
                            GraphError {
                                op,
                                msg: "step must not be 0".into(),
                            }
                        })?;
                }
                one(TypeInfo::new(out, x.dtype))
            }
            Op::Gather { axis } => {
                arity(op, ins, 2, 2)?;
                let (data, idx) = (ins[0], ins[1]);
                check_axes(op, &[*axis], data.rank())?;
                if !matches!(idx.dtype, DType::Int64 | DType::Int32) {
                    return err(
                        op,
                        format!("indices must be int64 or int32, got {}", idx.dtype),
                    );
                }
                let mut out = data.shape[..*axis].to_vec();
                out.extend_from_slice(&idx.shape);
                out.extend_from_slice(&data.shape[*axis + 1..]);
                one(TypeInfo::new(out, data.dtype))
            }
            Op::Where => {
                arity(op, ins, 3, 3)?;
                if ins[0].dtype != DType::Bool {
                    return err(op, format!("condition must be bool, got {}", ins[0].dtype));
                }
                same_dtype(op, ins[1].dtype, ins[2].dtype)?;
                let s = broadcast(op, &ins[0].shape, &ins[1].shape)?;
                one(TypeInfo::new(
                    broadcast(op, &s, &ins[2].shape)?,
                    ins[1].dtype,
                ))
            }
            Op::Cast { to } => {
                arity(op, ins, 1, 1)?;
                one(TypeInfo::new(ins[0].shape.clone(), *to))
            }
            Op::Expand { shape } => {
                arity(op, ins, 1, 1)?;
                let out = broadcast(op, &ins[0].shape, shape)?;
                one(TypeInfo::new(out, ins[0].dtype))
            }
            Op::ReduceMean { axes, keepdims }
            | Op::ReduceSum { axes, keepdims }
            | Op::ReduceMax { axes, keepdims } => {
                arity(op, ins, 1, 1)?;
                check_axes(op, axes, ins[0].rank())?;
                one(TypeInfo::new(
                    reduce_shape(&ins[0].shape, axes, *keepdims),
                    ins[0].dtype,
                ))
            }
            Op::Dropout { .. } | Op::Identity => {
                arity(op, ins, 1, 1)?;
                one(ins[0].clone())
            }
        }
    }

    /// Floating-point operations of one execution: 2 per multiply-add for
    /// matmul and convolutions, 1 per output element for elementwise ops,
    /// a small constant per element for normalizations.
    pub fn flops(&self, ins: &[&TypeInfo], outs: &[TypeInfo]) -> u64 {
        let out_n: u64 = outs.iter().map(|o| o.numel()).sum();
        match self {
            Op::MatMul => {
                let k = *ins[0].shape.last().unwrap_or(&1) as u64;
                2 * out_n * k
            }
            Op::Gemm { .. } => {
                let k = ins[0].shape[1] as u64;
                2 * out_n * k + if ins.len() > 2 { out_n } else { 0 }
            }
            Op::Conv { kernel, group, .. } => {
                let cin = ins[0].shape[1] as u64;
                let kk: u64 = kernel.iter().map(|&k| k as u64).product();
                2 * out_n * (cin / *group as u64) * kk + if ins.len() > 2 { out_n } else { 0 }
            }
            Op::ConvTranspose { kernel, group, .. } => {
                let cin = ins[0].numel();
                let cout = outs[0].shape[1] as u64;
                let kk: u64 = kernel.iter().map(|&k| k as u64).product();
                2 * cin * (cout / *group as u64) * kk
            }
            Op::MaxPool { kernel, .. } | Op::AvgPool { kernel, .. } => {
                out_n * kernel.iter().map(|&k| k as u64).product::<u64>()
            }
            Op::GlobalAvgPool
            | Op::ReduceMean { .. }
            | Op::ReduceSum { .. }
            | Op::ReduceMax { .. } => ins[0].numel(),
            Op::Softmax { .. } | Op::LogSoftmax { .. } => 5 * out_n,
            Op::LayerNorm { .. } => 8 * out_n,
            Op::BatchNorm { .. } => 4 * out_n,
            Op::Gelu | Op::Silu | Op::HardSwish | Op::HardSigmoid | Op::Erf => 4 * out_n,
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Sqrt
            | Op::Exp
            | Op::Log
            | Op::Neg
            | Op::Abs
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Clip { .. }
            | Op::Where
            | Op::Equal
            | Op::Less
            | Op::Greater
            | Op::Resize { .. } => out_n,
            Op::Pad { .. }
            | Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Transpose { .. }
            | Op::Squeeze { .. }
            | Op::Unsqueeze { .. }
            | Op::Concat { .. }
            | Op::Split { .. }
            | Op::Slice { .. }
            | Op::Gather { .. }
            | Op::Cast { .. }
            | Op::Expand { .. }
            | Op::Dropout { .. }
            | Op::Identity => 0,
        }
    }
}

/// Length of `range(start, end, step)` over an axis of size `dim`, with
/// ONNX's clamping of out-of-range and negative bounds.
pub fn slice_len(dim: usize, start: i64, end: i64, step: i64) -> Option<usize> {
    if step == 0 {
        return None;
    }
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v + d } else { v };
    let (s, e) = (norm(start), norm(end));
    let n = if step > 0 {
        let (s, e) = (s.clamp(0, d), e.clamp(0, d));
        if e > s { (e - s + step - 1) / step } else { 0 }
    } else {
        let (s, e) = (s.clamp(-1, d - 1), e.clamp(-1, d - 1));
        if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        }
    };
    Some(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(shape: &[usize]) -> TypeInfo {
        TypeInfo::new(shape.to_vec(), DType::Float32)
    }

    #[test]
    fn broadcasting() {
        assert_eq!(
            broadcast("Add", &[2, 1, 4], &[3, 1]).unwrap(),
            vec![2, 3, 4]
        );
        assert!(broadcast("Add", &[2, 3], &[4]).is_err());
    }

    #[test]
    fn matmul_shapes() {
        let out = Op::MatMul
            .infer(&[&ti(&[8, 2, 10]), &ti(&[10, 5])])
            .unwrap();
        assert_eq!(out[0].shape, vec![8, 2, 5]);
        let e = Op::MatMul
            .infer(&[&ti(&[2, 10]), &ti(&[5, 5])])
            .unwrap_err();
        assert!(e.msg.contains("not aligned"), "{e}");
        assert_eq!(
            Op::MatMul.infer(&[&ti(&[4]), &ti(&[4])]).unwrap()[0].shape,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn conv_and_pool_shapes() {
        let conv = Op::Conv {
            kernel: vec![7, 7],
            strides: vec![2, 2],
            pads: vec![3, 3, 3, 3],
            dilations: vec![1, 1],
            group: 1,
        };
        let out = conv
            .infer(&[&ti(&[1, 3, 224, 224]), &ti(&[64, 3, 7, 7])])
            .unwrap();
        assert_eq!(out[0].shape, vec![1, 64, 112, 112]);
        let pool = Op::MaxPool {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            ceil_mode: false,
        };
        assert_eq!(
            pool.infer(&[&out[0]]).unwrap()[0].shape,
            vec![1, 64, 56, 56]
        );
        let ceil = Op::MaxPool {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![0, 0, 0, 0],
            ceil_mode: true,
        };
        // squeezenet: 111 -> 55 with ceil mode
        assert_eq!(
            ceil.infer(&[&ti(&[1, 96, 111, 111])]).unwrap()[0].shape,
            vec![1, 96, 55, 55]
        );
    }

    #[test]
    fn conv_flops_count_macs_twice() {
        let conv = Op::Conv {
            kernel: vec![1, 1],
            strides: vec![1, 1],
            pads: vec![0; 4],
            dilations: vec![1, 1],
            group: 1,
        };
        let ins = [ti(&[1, 4, 2, 2]), ti(&[8, 4, 1, 1])];
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let outs = conv.infer(&refs).unwrap();
        assert_eq!(conv.flops(&refs, &outs), 2 * 8 * 4 * 4);
    }

    #[test]
    fn slice_lengths_follow_onnx_clamping() {
        assert_eq!(slice_len(10, 0, 5, 1), Some(5));
        assert_eq!(slice_len(10, -3, i64::MAX, 1), Some(3));
        assert_eq!(slice_len(10, 0, 10, 3), Some(4));
        assert_eq!(slice_len(10, -1, i64::MIN, -1), Some(10));
        assert_eq!(slice_len(10, 0, 5, 0), None);
    }

    #[test]
    fn dtype_mismatch_is_named() {
        let a = ti(&[2]);
        let b = TypeInfo::new(vec![2], DType::Int64);
        let e = Op::Add.infer(&[&a, &b]).unwrap_err();
        assert!(e.msg.contains("float32 and int64"), "{e}");
    }
}
