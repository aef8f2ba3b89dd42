//! The op set of the IR. Each op's shape/dtype inference and FLOP count live
//! here together, so that adding an op is one place (plus its lowerings).

use super::dtype::{DType, shape_str};
use serde::{Deserialize, Serialize};
use thiserror::Error;

mod conv;
mod elementwise;
mod linalg;
mod norm;
mod recurrent;
mod reduce;
pub mod resample;
mod shape;

pub use linalg::Einsum;
pub use recurrent::{Rnn, RnnMode};

/// The op families: each has its inference in its own file here, and its
/// lowering in one file of the ONNX exporter and of the torch runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Elementwise,
    Linalg,
    Conv,
    Norm,
    Shape,
    Reduce,
    Recurrent,
}

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

/// How `Pad` fills: a constant, the mirror image without the edge
/// (F.pad "reflect"), or the edge value repeated ("replicate", ONNX "edge").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    #[default]
    Constant,
    Reflect,
    Edge,
}

impl PadMode {
    /// Constant pads serialize as before the mode existed (same build hashes).
    pub fn is_constant(&self) -> bool {
        *self == PadMode::Constant
    }
}

/// F.interpolate's modes: "nearest" (floor of dst * in/out),
/// "nearest-exact" (floor of (dst + 0.5) * in/out), linear (bilinear,
/// trilinear) and cubic (bicubic, a = -0.75), all over the same axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterpMode {
    Nearest,
    NearestExact,
    Linear,
    Cubic,
}
/// SELU's alpha and scale as PyTorch has them (Klambauer et al., 2017).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

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
    /// a != b (ONNX: Not(Equal)).
    NotEqual,
    GreaterOrEqual,
    LessOrEqual,
    /// Logical ops on bool tensors.
    Not,
    And,
    Or,
    Xor,
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
    /// Padding; `pads` = begins then ends, one per axis; `value` fills
    /// constant pads.
    Pad {
        pads: Vec<usize>,
        value: f64,
        #[serde(default, skip_serializing_if = "PadMode::is_constant")]
        mode: PadMode,
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
    // ---- shape, resampling and normalization ops (issue #15) ----
    /// torch.tril (`upper: false`) or torch.triu over the last two axes:
    /// entries with `col - row` above (below) `diagonal` become 0.
    Trilu {
        upper: bool,
        diagonal: i64,
    },
    /// F.one_hot: int64 0/1 over a new last axis of `depth` classes.
    OneHot {
        depth: usize,
    },
    /// F.pixel_shuffle on [N, C*r*r, H, W] -> [N, C, H*r, W*r]
    /// (DepthToSpace in CRD order).
    DepthToSpace {
        block: usize,
    },
    /// Repeats the input `repeats[i]` times along axis i (Tensor.repeat).
    Tile {
        repeats: Vec<usize>,
    },
    /// torch.einsum; `equation` is explicit (`->`), without spaces.
    Einsum {
        equation: String,
    },
    /// F.interpolate of the axes after the first two to `sizes`. `scales`
    /// (when the script gave scale_factor) is what maps output to input
    /// coordinates, as in PyTorch; else in/out does. Inputs: x.
    Interpolate {
        sizes: Vec<usize>,
        scales: Option<Vec<f64>>,
        mode: InterpMode,
        align_corners: bool,
    },
    /// Inputs: x [N, C, ...], weight [C], bias [C]; statistics per sample
    /// over each group of C / groups channels.
    GroupNorm {
        groups: usize,
        epsilon: f64,
    },
    /// Inputs: x [N, C, d...], weight [C], bias [C]; statistics per sample
    /// and channel.
    InstanceNorm {
        epsilon: f64,
    },
    // ---- math, activations and reductions (issue #15) ----
    Sin,
    Cos,
    Tan,
    Reciprocal,
    Floor,
    Ceil,
    /// Half to even, as torch.round and ONNX Round.
    Round,
    Sign,
    /// Elementwise minimum / maximum of two tensors (broadcasting).
    Min,
    Max,
    /// PyTorch's softplus: log(1 + exp(beta x)) / beta, and x itself where
    /// beta x > threshold.
    Softplus {
        beta: f64,
        threshold: f64,
    },
    Elu {
        alpha: f64,
    },
    /// With PyTorch's alpha and scale (the SELU paper's constants).
    Selu,
    Mish,
    Softsign,
    /// Inputs: x, slope (which broadcasts to x's shape).
    PRelu,
    ReduceMin {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceProd {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceL1 {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceL2 {
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// The index of the first maximum along `axis`, int64.
    ArgMax {
        axis: usize,
        keepdims: bool,
    },
    /// The index of the first minimum along `axis`, int64.
    ArgMin {
        axis: usize,
        keepdims: bool,
    },
    /// The k largest (or smallest) values along `axis`, sorted, and their
    /// int64 indices: two outputs.
    TopK {
        k: usize,
        axis: usize,
        largest: bool,
    },
    /// Inclusive running sum along `axis`.
    CumSum {
        axis: usize,
    },
    /// nn.LSTM / nn.GRU / nn.RNN over all layers and directions.
    Recurrent(Rnn),
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
    if a != b && (a == DType::Bool || b == DType::Bool) {
        let other = if a == DType::Bool { b } else { a };
        return err(
            op,
            format!(
                "dtype mismatch: {a} and {b}: a bool mask does not take part in arithmetic; \
                 choose values with where(mask, x, value) (e.g. where(mask, scores, -1e9) to mask \
                 attention scores), or make it 0/1 numbers with mask.cast(\"{other}\")"
            ),
        );
    }
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
            Op::NotEqual => "NotEqual",
            Op::GreaterOrEqual => "GreaterOrEqual",
            Op::LessOrEqual => "LessOrEqual",
            Op::Not => "Not",
            Op::And => "And",
            Op::Or => "Or",
            Op::Xor => "Xor",
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
            Op::Trilu { .. } => "Trilu",
            Op::OneHot { .. } => "OneHot",
            Op::DepthToSpace { .. } => "DepthToSpace",
            Op::Tile { .. } => "Tile",
            Op::Einsum { .. } => "Einsum",
            Op::Interpolate { .. } => "Resize",
            Op::GroupNorm { .. } => "GroupNormalization",
            Op::InstanceNorm { .. } => "InstanceNormalization",
            Op::Sin => "Sin",
            Op::Cos => "Cos",
            Op::Tan => "Tan",
            Op::Reciprocal => "Reciprocal",
            Op::Floor => "Floor",
            Op::Ceil => "Ceil",
            Op::Round => "Round",
            Op::Sign => "Sign",
            Op::Min => "Min",
            Op::Max => "Max",
            Op::Softplus { .. } => "Softplus",
            Op::Elu { .. } => "Elu",
            Op::Selu => "Selu",
            Op::Mish => "Mish",
            Op::Softsign => "Softsign",
            Op::PRelu => "PRelu",
            Op::ReduceMin { .. } => "ReduceMin",
            Op::ReduceProd { .. } => "ReduceProd",
            Op::ReduceL1 { .. } => "ReduceL1",
            Op::ReduceL2 { .. } => "ReduceL2",
            Op::ArgMax { .. } => "ArgMax",
            Op::ArgMin { .. } => "ArgMin",
            Op::TopK { .. } => "TopK",
            Op::CumSum { .. } => "CumSum",
            Op::Recurrent(r) => r.mode.class(),
        }
    }

    /// The family whose files infer and lower this op.
    pub fn family(&self) -> Family {
        match self {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Equal
            | Op::Less
            | Op::Greater
            | Op::NotEqual
            | Op::GreaterOrEqual
            | Op::LessOrEqual
            | Op::Not
            | Op::And
            | Op::Or
            | Op::Xor
            | Op::Sqrt
            | Op::Exp
            | Op::Log
            | Op::Neg
            | Op::Abs
            | Op::Erf
            | Op::Relu
            | Op::Gelu
            | Op::Silu
            | Op::Sigmoid
            | Op::Tanh
            | Op::HardSwish
            | Op::HardSigmoid
            | Op::Clip { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::Where
            | Op::Cast { .. }
            | Op::Dropout { .. }
            | Op::Identity => Family::Elementwise,
            Op::MatMul | Op::Gemm { .. } => Family::Linalg,
            Op::Conv { .. }
            | Op::ConvTranspose { .. }
            | Op::MaxPool { .. }
            | Op::AvgPool { .. }
            | Op::GlobalAvgPool
            | Op::Resize { .. } => Family::Conv,
            Op::LayerNorm { .. } | Op::BatchNorm { .. } => Family::Norm,
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
            | Op::Expand { .. } => Family::Shape,
            Op::ReduceMean { .. } | Op::ReduceSum { .. } | Op::ReduceMax { .. } => Family::Reduce,
            Op::Trilu { .. } | Op::OneHot { .. } | Op::DepthToSpace { .. } | Op::Tile { .. } => {
                Family::Shape
            }
            Op::Einsum { .. } => Family::Linalg,
            Op::Interpolate { .. } => Family::Conv,
            Op::GroupNorm { .. } | Op::InstanceNorm { .. } => Family::Norm,
            Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Reciprocal
            | Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::Sign
            | Op::Min
            | Op::Max
            | Op::Softplus { .. }
            | Op::Elu { .. }
            | Op::Selu
            | Op::Mish
            | Op::Softsign
            | Op::PRelu => Family::Elementwise,
            Op::ReduceMin { .. }
            | Op::ReduceProd { .. }
            | Op::ReduceL1 { .. }
            | Op::ReduceL2 { .. }
            | Op::ArgMax { .. }
            | Op::ArgMin { .. }
            | Op::TopK { .. }
            | Op::CumSum { .. } => Family::Reduce,
            Op::Recurrent(_) => Family::Recurrent,
        }
    }

    /// Infers the outputs' shapes and dtypes from the inputs'.
    pub fn infer(&self, ins: &[&TypeInfo]) -> Result<Vec<TypeInfo>, GraphError> {
        let op = self.kind();
        match self.family() {
            Family::Elementwise => elementwise::infer(self, op, ins),
            Family::Linalg => linalg::infer(self, op, ins),
            Family::Conv => conv::infer(self, op, ins),
            Family::Norm => norm::infer(self, op, ins),
            Family::Shape => shape::infer(self, op, ins),
            Family::Reduce => reduce::infer(self, op, ins),
            Family::Recurrent => recurrent::infer(self, op, ins),
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
            | Op::NotEqual
            | Op::GreaterOrEqual
            | Op::LessOrEqual
            | Op::Not
            | Op::And
            | Op::Or
            | Op::Xor
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
            // Data movement only.
            Op::Trilu { .. } | Op::OneHot { .. } | Op::DepthToSpace { .. } | Op::Tile { .. } => 0,
            // One multiply-add per point of the joint index space.
            Op::Einsum { equation } => 2 * linalg::einsum_space(equation, ins),
            // Per output element: a copy, or one multiply-add per tap.
            Op::Interpolate { sizes, mode, .. } => {
                let taps = match mode {
                    InterpMode::Nearest | InterpMode::NearestExact => return out_n,
                    InterpMode::Linear => 2u64,
                    InterpMode::Cubic => 4,
                };
                2 * out_n * taps.pow(sizes.len() as u32)
            }
            Op::GroupNorm { .. } | Op::InstanceNorm { .. } => 8 * out_n,
            Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Reciprocal
            | Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::Sign
            | Op::Min
            | Op::Max
            | Op::Softsign
            | Op::PRelu => out_n,
            Op::Softplus { .. } | Op::Elu { .. } | Op::Selu | Op::Mish => 4 * out_n,
            Op::ReduceMin { .. }
            | Op::ReduceProd { .. }
            | Op::ReduceL1 { .. }
            | Op::ReduceL2 { .. }
            | Op::ArgMax { .. }
            | Op::ArgMin { .. }
            | Op::TopK { .. }
            | Op::CumSum { .. } => ins[0].numel(),
            Op::Recurrent(r) => match ins.first().map(|x| &x.shape[..]) {
                Some(&[a, b, features]) => {
                    let (seq, batch) = if r.batch_first { (b, a) } else { (a, b) };
                    r.flops(features, seq, batch)
                }
                _ => 0,
            },
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
