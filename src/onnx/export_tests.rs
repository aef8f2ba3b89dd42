//! Tests of the exporter against the real consumers: the ONNX checker with
//! full shape inference, ONNX Runtime (both through the project's Python)
//! and tract (in process). One Python process checks every model.

use super::export::{ExportOptions, export};
use super::tensor_io::{read_tensor_pb, write_tensor_pb};
use super::testutil::run_python;
use crate::graph::{
    DType, Graph, HostTensor, Init, InterpMode, Op, PadMode, Param, ResizeMode, Rnn, RnnMode,
    TypeInfo, ValueId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const OPSETS: [i64; 4] = [13, 17, 20, 21];

mod math;

/// One model for every op kind (some kinds several times, to cover their
/// attribute variants). `op_graph` matches on every `Op`, and
/// `every_op_variant_is_covered` checks this list against the enum itself.
pub(crate) fn all_ops() -> Vec<Op> {
    use Op::*;
    let conv = |kernel: [usize; 2], strides, pads: [usize; 4], dil, group| Conv {
        kernel: kernel.to_vec(),
        strides: vec![strides; 2],
        pads: pads.to_vec(),
        dilations: vec![dil; 2],
        group,
    };
    vec![
        Add,
        Sub,
        Mul,
        Div,
        Pow,
        Equal,
        Less,
        Greater,
        NotEqual,
        GreaterOrEqual,
        LessOrEqual,
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
            min: Some(-0.5),
            max: Some(0.5),
        },
        Clip {
            min: None,
            max: Some(0.25),
        },
        Clip {
            min: Some(0.0),
            max: None,
        },
        Softmax { axis: 2 },
        LogSoftmax { axis: 1 },
        MatMul,
        Gemm { trans_b: true },
        Gemm { trans_b: false },
        LayerNorm {
            axis: 2,
            epsilon: 1e-5,
        },
        LayerNorm {
            axis: 1,
            epsilon: 1e-6,
        },
        BatchNorm { epsilon: 1e-5 },
        conv([3, 3], 2, [1, 1, 1, 1], 1, 1),
        conv([3, 3], 1, [0, 1, 2, 1], 2, 2),
        ConvTranspose {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            output_padding: vec![1, 1],
            dilations: vec![1, 1],
            group: 1,
        },
        MaxPool {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            ceil_mode: false,
        },
        // ceil_mode where the last window would start in the right padding.
        MaxPool {
            kernel: vec![2, 2],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            ceil_mode: true,
        },
        AvgPool {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![1, 1, 1, 1],
            ceil_mode: false,
            count_include_pad: false,
        },
        AvgPool {
            kernel: vec![3, 3],
            strides: vec![2, 2],
            pads: vec![0; 4],
            ceil_mode: true,
            count_include_pad: true,
        },
        // Windows overhang the input: exact as floor mode without pads
        // counted, kept as ceil_mode with them.
        AvgPool {
            kernel: vec![2, 2],
            strides: vec![2, 2],
            pads: vec![0; 4],
            ceil_mode: true,
            count_include_pad: false,
        },
        AvgPool {
            kernel: vec![2, 2],
            strides: vec![2, 2],
            pads: vec![0; 4],
            ceil_mode: true,
            count_include_pad: true,
        },
        GlobalAvgPool,
        Resize {
            scales: vec![1.0, 1.0, 2.0, 2.0],
            mode: ResizeMode::Nearest,
        },
        Resize {
            scales: vec![1.0, 1.0, 1.5, 1.5],
            mode: ResizeMode::Linear,
        },
        Pad {
            pads: vec![0, 0, 1, 2, 0, 0, 2, 1],
            value: 0.5,
            mode: PadMode::Constant,
        },
        Reshape { shape: vec![6, 4] },
        Flatten { axis: 1 },
        Flatten { axis: 0 },
        Transpose {
            perm: vec![2, 0, 1],
        },
        Squeeze { axes: vec![1] },
        Squeeze { axes: vec![] },
        Unsqueeze { axes: vec![0, 3] },
        Unsqueeze { axes: vec![] },
        Concat { axis: 1 },
        Split {
            axis: 1,
            sizes: vec![1, 2],
        },
        Slice {
            starts: vec![1, 0],
            ends: vec![i64::MAX, -1],
            axes: vec![0, 2],
            steps: vec![1, 2],
        },
        Slice {
            starts: vec![-1],
            ends: vec![i64::MIN],
            axes: vec![1],
            steps: vec![-2],
        },
        Gather { axis: 0 },
        Gather { axis: 1 },
        Where,
        Cast { to: DType::Float16 },
        Cast { to: DType::Int64 },
        Expand {
            shape: vec![2, 3, 4],
        },
        ReduceMean {
            axes: vec![1],
            keepdims: true,
        },
        ReduceMean {
            axes: vec![],
            keepdims: true,
        },
        ReduceSum {
            axes: vec![0, 2],
            keepdims: false,
        },
        ReduceMax {
            axes: vec![],
            keepdims: false,
        },
        ReduceMax {
            axes: vec![2],
            keepdims: false,
        },
        Dropout { ratio: 0.1 },
        Identity,
        // Shape, resampling and normalization ops (issue #15).
        Pad {
            pads: vec![0, 0, 1, 2, 0, 0, 2, 1],
            value: 0.0,
            mode: PadMode::Reflect,
        },
        Pad {
            pads: vec![0, 1, 0, 3, 0, 0, 2, 1],
            value: 0.0,
            mode: PadMode::Edge,
        },
        Trilu {
            upper: false,
            diagonal: 0,
        },
        Trilu {
            upper: true,
            diagonal: 1,
        },
        Trilu {
            upper: false,
            diagonal: -1,
        },
        OneHot { depth: 5 },
        DepthToSpace { block: 2 },
        Tile {
            repeats: vec![2, 1, 3],
        },
        Einsum {
            equation: "bhqd,bhkd->bhqk".into(),
        },
        Einsum {
            equation: "bn,anm,bm->ba".into(),
        },
        Einsum {
            equation: "...ij,jk->...ik".into(),
        },
        interp(&[10, 10], Some(&[2.0, 2.0]), InterpMode::Nearest, false),
        interp(&[7, 3], None, InterpMode::Nearest, false),
        interp(&[8, 3], None, InterpMode::NearestExact, false),
        interp(&[8, 8], Some(&[1.7, 1.7]), InterpMode::Linear, false),
        // An output of 1 samples the centre (half_pixel), as PyTorch does.
        interp(&[1, 7], None, InterpMode::Linear, false),
        interp(&[9, 4], None, InterpMode::Linear, true),
        interp(&[8, 11], None, InterpMode::Cubic, false),
        interp(&[10, 2], Some(&[2.0, 0.5]), InterpMode::Cubic, false),
        interp(&[9, 3], None, InterpMode::Cubic, true),
        interp(&[8], Some(&[1.6]), InterpMode::Linear, false),
        interp(&[3, 5, 6], None, InterpMode::Linear, false),
        interp(
            &[4, 6, 8],
            Some(&[2.0, 2.0, 2.0]),
            InterpMode::Nearest,
            false,
        ),
        GroupNorm {
            groups: 2,
            epsilon: 1e-5,
        },
        InstanceNorm { epsilon: 1e-5 },
        // ---- math, activations and reductions (issue #15) ----
        Sin,
        Cos,
        Tan,
        Reciprocal,
        Floor,
        Ceil,
        Round,
        Sign,
        Min,
        Max,
        Softplus {
            beta: 1.0,
            threshold: 20.0,
        },
        // beta x crosses the threshold inside the feeds' [-2, 2).
        Softplus {
            beta: 2.0,
            threshold: 1.0,
        },
        Elu { alpha: 1.0 },
        Elu { alpha: 0.5 },
        Selu,
        Mish,
        Softsign,
        PRelu,
        ReduceMin {
            axes: vec![1],
            keepdims: true,
        },
        ReduceMin {
            axes: vec![],
            keepdims: false,
        },
        ReduceProd {
            axes: vec![2],
            keepdims: false,
        },
        ReduceProd {
            axes: vec![0, 1],
            keepdims: true,
        },
        ReduceL1 {
            axes: vec![0, 2],
            keepdims: true,
        },
        ReduceL2 {
            axes: vec![],
            keepdims: false,
        },
        ReduceL2 {
            axes: vec![1],
            keepdims: false,
        },
        ArgMax {
            axis: 2,
            keepdims: false,
        },
        ArgMin {
            axis: 0,
            keepdims: true,
        },
        TopK {
            k: 2,
            axis: 2,
            largest: true,
        },
        TopK {
            k: 3,
            axis: 1,
            largest: false,
        },
        CumSum { axis: 1 },
        CumSum { axis: 2 },
        Recurrent(rnn(RnnMode::Lstm, 2, true, false, true, true)),
        Recurrent(rnn(RnnMode::Gru, 1, false, true, false, true)),
        Recurrent(rnn(RnnMode::RnnTanh, 2, false, false, true, false)),
    ]
}

fn interp(sizes: &[usize], scales: Option<&[f64]>, mode: InterpMode, align_corners: bool) -> Op {
    Op::Interpolate {
        sizes: sizes.to_vec(),
        scales: scales.map(<[f64]>::to_vec),
        mode,
        align_corners,
    }
}

/// The operand shapes of the einsum test equations.
fn einsum_operands(equation: &str) -> Vec<Vec<usize>> {
    match equation {
        "bhqd,bhkd->bhqk" => vec![vec![2, 2, 3, 4], vec![2, 2, 5, 4]],
        "bn,anm,bm->ba" => vec![vec![2, 3], vec![4, 3, 5], vec![2, 5]],
        "...ij,jk->...ik" => vec![vec![2, 3, 4], vec![4, 5]],
        other => panic!("no operands for einsum {other}"),
    }
}

/// A recurrent op of hidden size 5 (the relu RNN is tested apart: tract
/// refuses it).
fn rnn(mode: RnnMode, layers: usize, bi: bool, bf: bool, state: bool, bias: bool) -> Rnn {
    Rnn {
        mode,
        hidden_size: 5,
        num_layers: layers,
        bias,
        batch_first: bf,
        bidirectional: bi,
        initial_state: state,
    }
}

fn param(g: &mut Graph, name: &str, shape: &[usize], dtype: DType, low: f64) -> ValueId {
    g.add_param(Param {
        name: name.into(),
        info: TypeInfo::new(shape.to_vec(), dtype),
        init: Init::Uniform {
            low,
            high: low + 1.0,
            seed: g.values.len() as u64,
        },
        trainable: true,
    })
}

/// A graph of one `op` node in `d`, with inputs that fit its attributes.
pub(crate) fn op_graph(op: &Op, d: DType) -> Graph {
    let mut g = Graph::new(format!("{}Test", op.kind()));
    let t = |shape: &[usize]| TypeInfo::new(shape.to_vec(), d);
    let ins: Vec<ValueId> = match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => vec![
            g.add_input("a", t(&[2, 3, 4])),
            g.add_input("b", t(&[3, 4])),
        ],
        Op::Pow => vec![
            g.add_input("x", t(&[2, 3])),
            g.add_const(HostTensor::full(d, &[], 2.0)),
        ],
        Op::Equal
        | Op::Less
        | Op::Greater
        | Op::NotEqual
        | Op::GreaterOrEqual
        | Op::LessOrEqual => {
            vec![g.add_input("a", t(&[2, 3])), g.add_input("b", t(&[3]))]
        }
        Op::Not => vec![g.add_input("m", TypeInfo::new(vec![2, 3], DType::Bool))],
        Op::And | Op::Or | Op::Xor => vec![
            g.add_input("a", TypeInfo::new(vec![2, 3], DType::Bool)),
            g.add_input("b", TypeInfo::new(vec![3], DType::Bool)),
        ],
        Op::Sqrt
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
        | Op::Reshape { .. }
        | Op::Flatten { .. }
        | Op::Transpose { .. }
        | Op::Split { .. }
        | Op::ReduceMean { .. }
        | Op::ReduceSum { .. }
        | Op::ReduceMax { .. }
        | Op::Dropout { .. }
        | Op::Identity => vec![g.add_input("x", t(&[2, 3, 4]))],
        Op::MatMul => vec![
            g.add_input("x", t(&[2, 3, 4])),
            param(&mut g, "w", &[4, 5], d, -0.5),
        ],
        Op::Gemm { trans_b } => {
            let w = if *trans_b { [5, 4] } else { [4, 5] };
            vec![
                g.add_input("x", t(&[2, 4])),
                param(&mut g, "w", &w, d, -0.5),
                param(&mut g, "b", &[5], d, -0.5),
            ]
        }
        Op::LayerNorm { axis, .. } => {
            let shape = [2, 3, 4];
            vec![
                g.add_input("x", t(&shape)),
                param(&mut g, "scale", &shape[*axis..], d, 0.5),
                param(&mut g, "bias", &shape[*axis..], d, -0.5),
            ]
        }
        Op::BatchNorm { .. } => vec![
            g.add_input("x", t(&[2, 3, 4, 4])),
            param(&mut g, "scale", &[3], d, 0.5),
            param(&mut g, "bias", &[3], d, -0.5),
            param(&mut g, "running_mean", &[3], d, -0.5),
            param(&mut g, "running_var", &[3], d, 0.5),
        ],
        Op::Conv { kernel, group, .. } => {
            let mut w = vec![6, 4 / group];
            w.extend(kernel);
            vec![
                g.add_input("x", t(&[1, 4, 8, 8])),
                param(&mut g, "weight", &w, d, -0.5),
                param(&mut g, "bias", &[6], d, -0.5),
            ]
        }
        Op::ConvTranspose { kernel, group, .. } => {
            let mut w = vec![4, 3];
            w.extend(kernel);
            vec![
                g.add_input("x", t(&[1, 4, 5, 5])),
                param(&mut g, "weight", &w, d, -0.5),
                param(&mut g, "bias", &[3 * group], d, -0.5),
            ]
        }
        Op::MaxPool { .. } | Op::AvgPool { .. } => vec![g.add_input("x", t(&[1, 3, 9, 9]))],
        Op::GlobalAvgPool => vec![g.add_input("x", t(&[1, 3, 4, 4]))],
        Op::Resize { .. } => vec![g.add_input("x", t(&[1, 3, 5, 5]))],
        Op::Pad { .. } => vec![g.add_input("x", t(&[1, 2, 3, 3]))],
        Op::Squeeze { .. } => vec![g.add_input("x", t(&[2, 1, 3]))],
        Op::Unsqueeze { .. } => vec![g.add_input("x", t(&[2, 3]))],
        Op::Concat { .. } => vec![g.add_input("a", t(&[2, 3])), g.add_input("b", t(&[2, 4]))],
        Op::Slice { .. } => vec![g.add_input("x", t(&[3, 4, 5]))],
        Op::Gather { .. } => vec![
            param(&mut g, "table", &[10, 4], d, -0.5),
            g.add_input("ids", TypeInfo::new(vec![2, 3], DType::Int64)),
        ],
        Op::Where => vec![
            g.add_input("cond", TypeInfo::new(vec![2, 3], DType::Bool)),
            g.add_input("a", t(&[2, 3])),
            g.add_input("b", t(&[3])),
        ],
        Op::Cast { .. } => vec![g.add_input("x", t(&[2, 3]))],
        Op::Expand { .. } => vec![g.add_input("x", t(&[3, 1]))],
        Op::Trilu { .. } | Op::Tile { .. } => vec![g.add_input("x", t(&[2, 3, 4]))],
        Op::OneHot { .. } => vec![g.add_input("ids", TypeInfo::new(vec![2, 3], DType::Int64))],
        Op::DepthToSpace { .. } => vec![g.add_input("x", t(&[1, 8, 3, 3]))],
        Op::Einsum { equation } => einsum_operands(equation)
            .iter()
            .enumerate()
            .map(|(k, s)| g.add_input(&format!("x{k}"), t(s)))
            .collect(),
        Op::Interpolate { sizes, .. } => {
            let spatial: &[usize] = [&[5][..], &[5, 5], &[2, 3, 4]][sizes.len() - 1];
            vec![g.add_input("x", t(&[[1, 2].as_slice(), spatial].concat()))]
        }
        Op::GroupNorm { .. } => vec![
            g.add_input("x", t(&[2, 4, 3, 3])),
            param(&mut g, "weight", &[4], d, 0.5),
            param(&mut g, "bias", &[4], d, -0.5),
        ],
        Op::InstanceNorm { .. } => vec![
            g.add_input("x", t(&[2, 3, 4, 4])),
            param(&mut g, "weight", &[3], d, 0.5),
            param(&mut g, "bias", &[3], d, -0.5),
        ],
        // ---- issue #15 ----
        Op::Sin
        | Op::Cos
        | Op::Tan
        | Op::Reciprocal
        | Op::Floor
        | Op::Ceil
        | Op::Round
        | Op::Sign
        | Op::Softplus { .. }
        | Op::Elu { .. }
        | Op::Selu
        | Op::Mish
        | Op::Softsign
        | Op::ReduceMin { .. }
        | Op::ReduceProd { .. }
        | Op::ReduceL1 { .. }
        | Op::ReduceL2 { .. }
        | Op::ArgMax { .. }
        | Op::ArgMin { .. }
        | Op::TopK { .. }
        | Op::CumSum { .. } => vec![g.add_input("x", t(&[2, 3, 4]))],
        Op::Min | Op::Max => vec![
            g.add_input("a", t(&[2, 3, 4])),
            g.add_input("b", t(&[3, 4])),
        ],
        Op::PRelu => vec![
            g.add_input("x", t(&[2, 3, 4])),
            param(&mut g, "slope", &[3, 1], d, -0.5),
        ],
        Op::Recurrent(r) => {
            let (seq, batch) = (4, 2);
            let x = if r.batch_first {
                [batch, seq, 3]
            } else {
                [seq, batch, 3]
            };
            let mut v = vec![g.add_input("x", t(&x))];
            let state = [r.num_layers * r.directions(), batch, r.hidden_size];
            for name in ["h0", "c0"].into_iter().take(r.state_inputs()) {
                v.push(g.add_input(name, t(&state)));
            }
            for (name, shape) in r.params(3) {
                v.push(param(&mut g, &name, &shape, d, -0.5));
            }
            v
        }
    };
    let outs = g
        .add_node(op.clone(), &ins, "block")
        .unwrap_or_else(|e| panic!("test case {op:?}: {e}"));
    for (k, o) in outs.into_iter().enumerate() {
        g.add_output(&format!("y{k}"), o);
    }
    g
}

/// Token ids -> embeddings + positions -> LayerNorm -> projection.
fn embedding_graph() -> Graph {
    let mut g = Graph::new("Embedding");
    let ids = g.add_input("input_ids", TypeInfo::new(vec![2, 5], DType::Int64));
    let table = param(&mut g, "embeddings.weight", &[50, 16], DType::Float32, -0.5);
    let pos = param(&mut g, "positions.weight", &[5, 16], DType::Float32, -0.5);
    let scale = param(&mut g, "ln.weight", &[16], DType::Float32, 0.5);
    let bias = param(&mut g, "ln.bias", &[16], DType::Float32, -0.5);
    let w = param(&mut g, "proj.weight", &[16, 8], DType::Float32, -0.5);
    let e = g
        .add_node(Op::Gather { axis: 0 }, &[table, ids], "embeddings")
        .unwrap()[0];
    let e = g.add_node(Op::Add, &[e, pos], "embeddings").unwrap()[0];
    let e = g
        .add_node(
            Op::LayerNorm {
                axis: 2,
                epsilon: 1e-12,
            },
            &[e, scale, bias],
            "ln",
        )
        .unwrap()[0];
    let y = g.add_node(Op::MatMul, &[e, w], "proj").unwrap()[0];
    let y = g.add_node(Op::Softmax { axis: 2 }, &[y], "proj").unwrap()[0];
    g.add_output("probs", y);
    // An int64 result too: the argmax-like mask of the ids.
    let three = g.add_const(HostTensor::full(DType::Int64, &[], 3.0));
    let m = g.add_node(Op::Greater, &[ids, three], "mask").unwrap()[0];
    let m = g
        .add_node(Op::Cast { to: DType::Int64 }, &[m], "mask")
        .unwrap()[0];
    g.add_output("mask", m);
    g
}

/// A small transformer-ish block in `d` (float16 for the half test).
fn mlp_graph(d: DType) -> Graph {
    let mut g = Graph::new(format!("Mlp_{d}"));
    let x = g.add_input("x", TypeInfo::new(vec![2, 4, 8], d));
    let w = param(&mut g, "fc.weight", &[8, 8], d, -0.5);
    let b = param(&mut g, "fc.bias", &[8], d, -0.5);
    let scale = param(&mut g, "ln.weight", &[8], d, 0.5);
    let bias = param(&mut g, "ln.bias", &[8], d, -0.5);
    let h = g.add_node(Op::MatMul, &[x, w], "fc").unwrap()[0];
    let h = g.add_node(Op::Add, &[h, b], "fc").unwrap()[0];
    let h = g.add_node(Op::Gelu, &[h], "act").unwrap()[0];
    let h = g.add_node(Op::Silu, &[h], "act").unwrap()[0];
    let h = g.add_node(Op::HardSwish, &[h], "act").unwrap()[0];
    let h = g
        .add_node(
            Op::LayerNorm {
                axis: 2,
                epsilon: 1e-5,
            },
            &[h, scale, bias],
            "ln",
        )
        .unwrap()[0];
    let h = g
        .add_node(
            Op::Clip {
                min: Some(-1.0),
                max: Some(1.0),
            },
            &[h],
            "clip",
        )
        .unwrap()[0];
    let h = g
        .add_node(
            Op::Pad {
                pads: vec![0, 0, 1, 0, 0, 1],
                value: 0.25,
                mode: PadMode::Constant,
            },
            &[h],
            "pad",
        )
        .unwrap()[0];
    let h = g
        .add_node(
            Op::ReduceMean {
                axes: vec![1],
                keepdims: false,
            },
            &[h],
            "pool",
        )
        .unwrap()[0];
    let y = g.add_node(Op::Softmax { axis: 1 }, &[h], "head").unwrap()[0];
    g.add_output("y", y);
    g
}

/// Deterministic feeds: floats in [-2, 2), ids in [0, 4), alternating bools.
pub(crate) fn feeds(g: &Graph) -> Vec<(String, HostTensor)> {
    g.inputs
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let info = &g.values[v].info;
            let t = match info.dtype {
                DType::Bool => {
                    HostTensor::from_fn(DType::Bool, &info.shape, |i| (i % 3 % 2) as f64)
                }
                d if d.is_float() => HostTensor::uniform(d, &info.shape, -2.0, 2.0, 100 + k as u64),
                d => HostTensor::randint(d, &info.shape, 0, 4, 100 + k as u64),
            };
            (g.values[v].name.clone(), t)
        })
        .collect()
}

struct Case {
    id: String,
    /// Cases of one graph at several opsets share a group.
    group: String,
    graph: Graph,
    opset: i64,
    dir: PathBuf,
    feeds: Vec<(String, HostTensor)>,
}

fn make_cases(root: &Path) -> Vec<Case> {
    let mut graphs: Vec<(String, Graph)> = all_ops()
        .iter()
        .enumerate()
        .map(|(k, op)| {
            (
                format!("{k:02}_{}", op.kind()),
                op_graph(op, DType::Float32),
            )
        })
        .collect();
    graphs.push(("embedding_int64".into(), embedding_graph()));
    graphs.push(("mlp_float32".into(), mlp_graph(DType::Float32)));
    graphs.push(("mlp_float16".into(), mlp_graph(DType::Float16)));
    let mut cases = Vec::new();
    for (group, graph) in graphs {
        for opset in OPSETS {
            let id = format!("{group}@{opset}");
            let dir = root.join(id.replace('@', "_op"));
            let feeds = feeds(&graph);
            cases.push(Case {
                id,
                group: group.clone(),
                graph: graph.clone(),
                opset,
                dir,
                feeds,
            });
        }
    }
    cases
}

/// Checks every model with onnx.checker (full_check: strict shape
/// inference against the declared shapes), runs it in onnxruntime with the
/// feeds from .pb files, compares output shapes/dtypes with the IR's and
/// writes the outputs as .pb files for the Rust side. Also writes one .pb
/// per dtype with numpy_helper, for `read_tensor_pb`.
const CHECK_PY: &str = r#"
import json, sys
import numpy as np, onnx, onnxruntime as ort
from onnx import numpy_helper

man = json.load(open(sys.argv[1]))
so = ort.SessionOptions()
so.log_severity_level = 3
so.intra_op_num_threads = 1
failures = []
for case in man["cases"]:
    cid = case["id"]
    try:
        onnx.checker.check_model(onnx.load(case["model"]), full_check=True)
    except Exception as e:
        failures.append(f"{cid}: onnx.checker(full_check=True): {e}")
    try:
        sess = ort.InferenceSession(case["model"], so, providers=["CPUExecutionProvider"])
        feeds = {i["name"]: numpy_helper.to_array(onnx.load_tensor(i["file"])) for i in case["inputs"]}
        outs = sess.run(None, feeds)
        names = [o.name for o in sess.get_outputs()]
        for exp, name, got in zip(case["outputs"], names, outs):
            got = np.asarray(got)
            if name != exp["name"] or list(got.shape) != exp["shape"] or str(got.dtype) != exp["dtype"]:
                failures.append(f"{cid}: onnxruntime output {name} is {got.dtype}{list(got.shape)}, the IR says {exp['name']} {exp['dtype']}{exp['shape']}")
            onnx.save_tensor(numpy_helper.from_array(got, name), exp["file"])
    except Exception as e:
        failures.append(f"{cid}: onnxruntime: {str(e).strip()}")

for t in man["pb_to_python"]:
    arr = numpy_helper.to_array(onnx.load_tensor(t["file"]))
    want = np.array(t["values"], dtype=np.float64)
    if str(arr.dtype) != t["dtype"] or list(arr.shape) != t["shape"] or not np.array_equal(arr.astype(np.float64).ravel(), want):
        failures.append(f"{t['file']}: numpy_helper reads {arr.dtype}{list(arr.shape)} {arr.ravel().tolist()}, wrote {t['dtype']}{t['shape']} {t['values']}")
for t in man["pb_from_python"]:
    dt = t["dtype"]
    if dt == "bfloat16":
        import ml_dtypes
        dt = ml_dtypes.bfloat16
    arr = np.array(t["values"], dtype=np.float64).astype(dt).reshape(t["shape"])
    onnx.save_tensor(numpy_helper.from_array(arr, t["name"]), t["file"])
json.dump(failures, open(man["results"], "w"))
"#;

fn json_str(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.to_string())
}

fn path_json(p: &Path) -> serde_json::Value {
    json_str(&p.to_string_lossy())
}

/// `|a - b| <= atol + rtol * |b|`, NaNs equal, both tensors same dtype/shape.
fn close(a: &HostTensor, b: &HostTensor, atol: f64, rtol: f64) -> Result<(), String> {
    if a.dtype != b.dtype || a.shape != b.shape {
        return Err(format!(
            "{}{:?} vs {}{:?}",
            a.dtype, a.shape, b.dtype, b.shape
        ));
    }
    let (x, y) = (a.to_f64_vec(), b.to_f64_vec());
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        let ok = (p.is_nan() && q.is_nan()) || p == q || (p - q).abs() <= atol + rtol * q.abs();
        if !ok {
            return Err(format!("element {i}: {p} vs {q}"));
        }
    }
    Ok(())
}

fn tol(d: DType) -> (f64, f64) {
    match d {
        DType::Float16 | DType::Bfloat16 => (2e-2, 2e-2),
        _ => (1e-4, 1e-4),
    }
}

/// Runs an ONNX model in tract with `feeds`; the outputs in graph order.
fn run_tract(model: &[u8], feeds: &[(String, HostTensor)]) -> Result<Vec<HostTensor>, String> {
    use tract_onnx::prelude::*;
    let to_dt = |d: DType| match d {
        DType::Float32 => Ok(DatumType::F32),
        DType::Float16 => Ok(DatumType::F16),
        DType::Float64 => Ok(DatumType::F64),
        DType::Int8 => Ok(DatumType::I8),
        DType::Int16 => Ok(DatumType::I16),
        DType::Int32 => Ok(DatumType::I32),
        DType::Int64 => Ok(DatumType::I64),
        DType::Uint8 => Ok(DatumType::U8),
        DType::Bool => Ok(DatumType::Bool),
        other => Err(format!("tract has no {other}")),
    };
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &model[..])
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("{e:?}"))?;
    let mut inputs = TVec::new();
    for (_, t) in feeds {
        // SAFETY: `t.data` holds exactly numel little-endian elements of a
        // plain-old-data type whose tract datum type matches its dtype.
        let tensor = unsafe { Tensor::from_raw_dt(to_dt(t.dtype)?, &t.shape, &t.data) }
            .map_err(|e| format!("{e:?}"))?;
        inputs.push(tensor.into_tvalue());
    }
    let outs = plan.run(inputs).map_err(|e| format!("{e:?}"))?;
    outs.into_iter()
        .map(|v| {
            let mut t = v.into_tensor();
            // tract computes int64 results as symbolic dims (TDim).
            if t.datum_type() == DatumType::TDim {
                t = t
                    .cast_to_dt(DatumType::I64)
                    .map_err(|e| format!("{e:?}"))?
                    .into_owned();
            }
            let dtype = DType::ALL
                .into_iter()
                .find(|&d| to_dt(d).ok() == Some(t.datum_type()))
                .ok_or_else(|| format!("tract output of type {:?}", t.datum_type()))?;
            Ok(HostTensor {
                dtype,
                shape: t.shape().to_vec(),
                data: t.as_bytes().to_vec(),
            })
        })
        .collect()
}

/// Reference values for ops that are elementwise on one input, computed
/// here in f64, for the ops whose ONNX attributes carry a convention.
fn elementwise_ref(op: &Op) -> Option<Box<dyn Fn(f64) -> f64>> {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let hsig = |x: f64| (x / 6.0 + 0.5).clamp(0.0, 1.0);
    Some(match op {
        Op::HardSigmoid => Box::new(hsig),
        Op::HardSwish => Box::new(move |x| x * hsig(x)),
        Op::Silu => Box::new(move |x| x * sig(x)),
        Op::Sigmoid => Box::new(sig),
        Op::Relu => Box::new(|x: f64| x.max(0.0)),
        Op::Neg => Box::new(|x: f64| -x),
        Op::Abs => Box::new(f64::abs),
        Op::Tanh => Box::new(f64::tanh),
        Op::Exp => Box::new(f64::exp),
        Op::Clip { min, max } => {
            let (lo, hi) = (min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX));
            Box::new(move |x: f64| x.clamp(lo, hi))
        }
        Op::Dropout { .. } | Op::Identity => Box::new(|x| x),
        Op::Sin => Box::new(f64::sin),
        Op::Cos => Box::new(f64::cos),
        Op::Tan => Box::new(f64::tan),
        Op::Reciprocal => Box::new(|x: f64| 1.0 / x),
        Op::Floor => Box::new(f64::floor),
        Op::Ceil => Box::new(f64::ceil),
        Op::Round => Box::new(f64::round_ties_even),
        Op::Sign => Box::new(|x: f64| if x == 0.0 { 0.0 } else { x.signum() }),
        Op::Softplus { beta, threshold } => {
            let (b, t) = (*beta, *threshold);
            Box::new(move |x: f64| {
                if b * x > t {
                    x
                } else {
                    (b * x).exp().ln_1p() / b
                }
            })
        }
        Op::Elu { alpha } => {
            let a = *alpha;
            Box::new(move |x: f64| if x > 0.0 { x } else { a * x.exp_m1() })
        }
        Op::Selu => Box::new(|x: f64| {
            use crate::graph::ops::{SELU_ALPHA, SELU_SCALE};
            SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() }
        }),
        Op::Mish => Box::new(|x: f64| x * x.exp().ln_1p().tanh()),
        Op::Softsign => Box::new(|x: f64| x / (1.0 + x.abs())),
        _ => return None,
    })
}

/// The reference for the few non-elementwise ops with conventions to pin
/// down: nearest Resize by 2 repeats each pixel (PyTorch's "nearest").
fn structured_ref(op: &Op, x: &HostTensor) -> Option<Vec<f64>> {
    match op {
        Op::Resize {
            scales,
            mode: ResizeMode::Nearest,
        } if scales == &[1.0, 1.0, 2.0, 2.0] => {
            let v = x.to_f64_vec();
            let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
            let mut out = Vec::new();
            for ci in 0..c {
                for i in 0..2 * h {
                    for j in 0..2 * w {
                        out.push(v[(ci * h + i / 2) * w + j / 2]);
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[test]
fn every_op_variant_is_covered() {
    // serde lists every variant of `Op` when asked for an unknown one; this
    // catches a new variant that `op_graph` handles but `all_ops` forgot.
    let e = serde_json::from_str::<Op>("\"__no_such_op__\"")
        .unwrap_err()
        .to_string();
    let variants: BTreeSet<&str> = e.split('`').skip(3).step_by(2).collect::<BTreeSet<_>>();
    assert!(variants.len() > 40, "cannot list the variants of Op: {e}");
    let covered: BTreeSet<String> = all_ops()
        .iter()
        .map(|op| {
            let s = serde_json::to_string(op).unwrap();
            s.trim_start_matches("{\"")
                .trim_matches('"')
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let missing: Vec<&&str> = variants.iter().filter(|v| !covered.contains(**v)).collect();
    assert!(
        missing.is_empty(),
        "ops with no export test case: {missing:?}"
    );
}

/// The end-to-end check: every op kind (and a float16 and an int64
/// embedding graph) at opsets 13, 17, 20 and 21 passes the ONNX checker
/// with full shape inference, runs in onnxruntime and in tract with the
/// IR's output shapes and dtypes, and gives the same values in both, at
/// every opset (so decompositions match the native ops), and matching
/// reference values for ops with conventions (HardSigmoid, Resize, ...).
#[test]
fn exported_models_pass_checker_and_run_in_ort_and_tract() {
    let root = tempfile::tempdir().unwrap();
    let cases = make_cases(root.path());
    let mut failures: Vec<String> = Vec::new();
    let mut manifest_cases = Vec::new();
    let mut models: Vec<Vec<u8>> = Vec::new();
    for c in &cases {
        std::fs::create_dir_all(&c.dir).unwrap();
        let opts = ExportOptions {
            opset: c.opset,
            ..Default::default()
        };
        let bytes = match export(&c.graph, &opts) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{}: export failed: {e}", c.id));
                models.push(Vec::new());
                continue;
            }
        };
        let model = c.dir.join("model.onnx");
        std::fs::write(&model, &bytes).unwrap();
        models.push(bytes);
        let inputs: Vec<_> = c
            .feeds
            .iter()
            .enumerate()
            .map(|(k, (name, t))| {
                let f = c.dir.join(format!("input_{k}.pb"));
                write_tensor_pb(&f, name, t).unwrap();
                serde_json::json!({"name": name, "file": path_json(&f)})
            })
            .collect();
        let outputs: Vec<_> = c
            .graph
            .outputs
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let val = &c.graph.values[v];
                serde_json::json!({
                    "name": val.name,
                    "shape": val.info.shape,
                    "dtype": val.info.dtype.name(),
                    "file": path_json(&c.dir.join(format!("output_{k}.pb"))),
                })
            })
            .collect();
        manifest_cases.push(serde_json::json!({
            "id": c.id, "model": path_json(&model), "inputs": inputs, "outputs": outputs,
        }));
    }

    // .pb interop both ways, every dtype.
    let sample = |d: DType| {
        HostTensor::from_fn(d, &[2, 3], |i| match d {
            DType::Bool => (i % 2) as f64,
            DType::Uint8 => (i * 40) as f64,
            _ => i as f64 * 1.5 - 4.0,
        })
    };
    let pb_dir = root.path().join("pb");
    std::fs::create_dir_all(&pb_dir).unwrap();
    let mut to_py = Vec::new();
    let mut from_py = Vec::new();
    for d in DType::SCRIPT {
        let t = sample(d);
        let f = pb_dir.join(format!("rust_{d}.pb"));
        write_tensor_pb(&f, "t", &t).unwrap();
        to_py.push(serde_json::json!({
            "file": path_json(&f), "dtype": d.name(), "shape": t.shape, "values": t.to_f64_vec(),
        }));
        from_py.push(serde_json::json!({
            "file": path_json(&pb_dir.join(format!("py_{d}.pb"))), "name": format!("py_{d}"),
            "dtype": d.name(), "shape": t.shape, "values": t.to_f64_vec(),
        }));
    }
    let results = root.path().join("results.json");
    let manifest = serde_json::json!({
        "cases": manifest_cases, "pb_to_python": to_py, "pb_from_python": from_py,
        "results": path_json(&results),
    });
    let man_path = root.path().join("manifest.json");
    std::fs::write(&man_path, manifest.to_string()).unwrap();
    run_python(CHECK_PY, &[&man_path]);
    let py_failures: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    failures.extend(py_failures);

    for d in DType::SCRIPT {
        match read_tensor_pb(&pb_dir.join(format!("py_{d}.pb"))) {
            Ok((name, t)) if name == format!("py_{d}") && t == sample(d) => {}
            Ok((name, t)) => failures.push(format!(
                "py_{d}.pb: read {name} {t:?}, numpy wrote {:?}",
                sample(d)
            )),
            Err(e) => failures.push(format!("py_{d}.pb: {e}")),
        }
    }

    // Values: ORT vs tract, ORT across opsets, ORT vs references.
    let mut first_of_group: BTreeMap<&str, (i64, Vec<HostTensor>)> = BTreeMap::new();
    for (c, model) in cases.iter().zip(&models) {
        if model.is_empty() {
            continue;
        }
        let mut ort_outs = Vec::new();
        for k in 0..c.graph.outputs.len() {
            match read_tensor_pb(&c.dir.join(format!("output_{k}.pb"))) {
                Ok((_, t)) => ort_outs.push(t),
                // onnxruntime failed: already reported by Python.
                Err(_) => break,
            }
        }
        if ort_outs.len() != c.graph.outputs.len() {
            continue;
        }
        let (atol, rtol) = tol(c.graph.values[c.graph.outputs[0]].info.dtype);
        match run_tract(model, &c.feeds) {
            Ok(tract_outs) => {
                for (k, (t, o)) in tract_outs.iter().zip(&ort_outs).enumerate() {
                    if let Err(e) = close(t, o, atol, rtol) {
                        failures.push(format!("{}: output {k}: tract vs onnxruntime: {e}", c.id));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: tract: {e}", c.id)),
        }
        match first_of_group.get(c.group.as_str()) {
            None => {
                first_of_group.insert(&c.group, (c.opset, ort_outs.clone()));
            }
            Some((opset0, outs0)) => {
                for (k, (a, b)) in ort_outs.iter().zip(outs0).enumerate() {
                    if let Err(e) = close(a, b, atol, rtol) {
                        failures.push(format!(
                            "{}: output {k} differs from opset {opset0}: {e}",
                            c.id
                        ));
                    }
                }
            }
        }
        let op = &c.graph.nodes[0].op;
        let x = &c.feeds[0].1;
        let want: Option<Vec<f64>> = elementwise_ref(op)
            .map(|f| x.to_f64_vec().into_iter().map(f).collect())
            .or_else(|| structured_ref(op, x))
            .or_else(|| math::reduction_ref(op, x));
        if let (Some(want), true) = (want, c.graph.nodes.len() == 1) {
            let got = ort_outs[0].to_f64_vec();
            let bad = got
                .iter()
                .zip(&want)
                .position(|(g, w)| (g - w).abs() > atol + rtol * w.abs());
            if got.len() != want.len() || bad.is_some() {
                failures.push(format!(
                    "{}: values differ from the reference at {bad:?}: {:?} vs {:?}",
                    c.id,
                    &got[..got.len().min(6)],
                    &want[..want.len().min(6)]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} exported models failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Weights in external data: the checker, onnxruntime and tract read the
/// pair of files, and give the outputs of the one-file export.
#[test]
fn external_data_exports_run_like_inline_ones() {
    use crate::onnx::{ExternalData, export_to_file};
    use crate::runtime::{self, SessionOptions};
    let g = embedding_graph();
    let dir = tempfile::tempdir().unwrap();
    let (inl, ext) = (dir.path().join("inline"), dir.path().join("external"));
    std::fs::create_dir_all(&inl).unwrap();
    std::fs::create_dir_all(&ext).unwrap();
    let w = export_to_file(&g, &ExportOptions::default(), &inl.join("model.onnx")).unwrap();
    assert!(w.external.is_none(), "small models stay in one file");
    assert!(!inl.join("model.onnx.data").exists());
    let opts = ExportOptions {
        external_data: ExternalData::Always,
        ..Default::default()
    };
    let w = export_to_file(&g, &opts, &ext.join("model.onnx")).unwrap();
    let (data, len) = w.external.expect("weights written apart");
    assert_eq!(data, ext.join("model.onnx.data"));
    assert_eq!(std::fs::metadata(&data).unwrap().len(), len);
    assert!(
        w.model_bytes < 4096,
        "no weights in the graph file: {} bytes",
        w.model_bytes
    );
    // Re-exported inline, the data file of the earlier export goes.
    export_to_file(&g, &ExportOptions::default(), &ext.join("model.onnx")).unwrap();
    assert!(!data.exists(), "a stale data file was left behind");
    export_to_file(&g, &opts, &ext.join("model.onnx")).unwrap();

    let ids = HostTensor::from_fn(DType::Int64, &[2, 5], |i| (i * 7 % 50) as f64);
    let feeds = vec![("input_ids".to_string(), ids.clone())];
    let rt = runtime::by_name("tract").unwrap();
    let run = |m: &Path| {
        let mut s = rt.load(m, &SessionOptions::default()).unwrap();
        s.set_inputs(&feeds).unwrap();
        s.run().unwrap();
        s.outputs().unwrap()
    };
    let (a, b) = (run(&inl.join("model.onnx")), run(&ext.join("model.onnx")));
    assert_eq!(a, b, "tract: external data changes nothing");

    write_tensor_pb(&dir.path().join("ids.pb"), "input_ids", &ids).unwrap();
    let out = run_python(
        r#"
import sys, onnx, numpy as np, onnxruntime as ort
from onnx import numpy_helper
inl, ext, ids = sys.argv[1:4]
onnx.checker.check_model(ext, full_check=True)
t = onnx.TensorProto(); t.ParseFromString(open(ids, 'rb').read())
feed = {"input_ids": numpy_helper.to_array(t)}
a = ort.InferenceSession(inl).run(None, feed)
b = ort.InferenceSession(ext).run(None, feed)
assert all(np.array_equal(x, y) for x, y in zip(a, b)), "ort: outputs differ"
m = onnx.load(ext, load_external_data=False)
print(sum(1 for i in m.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL))
"#,
        &[
            &inl.join("model.onnx"),
            &ext.join("model.onnx"),
            &dir.path().join("ids.pb"),
        ],
    );
    assert_eq!(out.trim(), g.params.len().to_string());
}
