//! FLOPs of an ONNX file's main graph, node by node, from the shapes of its
//! values (given: this module infers no shapes; the pipeline gets them from
//! tract's analysis). Conventions are the IR's (`graph::ops`): 2 FLOPs per
//! multiply-accumulate, 1 per element for elementwise ops, 0 for data
//! movement. Ops without a formula here, nodes whose shapes are unknown and
//! ops holding subgraphs are listed, never guessed.

use super::OnnxError;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What [`count`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlopCount {
    /// FLOPs of the nodes counted.
    pub total: u64,
    /// The same per op type.
    pub by_op: BTreeMap<String, u64>,
    /// Nodes not counted, per `Op (why)`: `Einsum (no formula)`,
    /// `Conv (shapes unknown)`, `If (subgraphs not counted)`.
    pub not_counted: BTreeMap<String, usize>,
}

impl FlopCount {
    /// Nodes counted with a formula of their own (not only data movement).
    pub fn counted_any(&self) -> bool {
        self.by_op.values().any(|&f| f > 0)
    }
}

// Decode-only views: tensor data is skipped, not copied.

#[derive(Clone, PartialEq, prost::Message)]
struct Model {
    #[prost(message, optional, tag = "7")]
    graph: Option<Graph>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Graph {
    #[prost(message, repeated, tag = "1")]
    node: Vec<Node>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<Tensor>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Node {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(string, tag = "7")]
    domain: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<Attr>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Attr {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(message, optional, tag = "5")]
    t: Option<Tensor>,
    #[prost(bytes = "vec", optional, tag = "6")]
    g: Option<Vec<u8>>,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "11")]
    graphs: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Tensor {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(string, tag = "8")]
    name: String,
}

fn dims(t: &Tensor) -> Vec<usize> {
    t.dims.iter().map(|&d| d.max(0) as usize).collect()
}

impl Node {
    fn attr(&self, name: &str) -> Option<&Attr> {
        self.attribute.iter().find(|a| a.name == name)
    }
    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }
    fn has_subgraph(&self) -> bool {
        self.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
    }
}

/// Counts the FLOPs of the model at `path`; `shapes` holds the shape of
/// every value known (inputs, intermediates, outputs) by name. Initializer
/// and `Constant` shapes come from the file.
pub fn count(path: &Path, shapes: &BTreeMap<String, Vec<usize>>) -> Result<FlopCount, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let model = Model::decode(bytes.as_slice()).map_err(|source| OnnxError::Decode {
        path: path.to_path_buf(),
        what: "model",
        source,
    })?;
    Ok(count_graph(&model.graph.unwrap_or_default(), shapes))
}

fn count_graph(g: &Graph, given: &BTreeMap<String, Vec<usize>>) -> FlopCount {
    let mut shapes = given.clone();
    for t in &g.initializer {
        shapes.insert(t.name.clone(), dims(t));
    }
    for n in g.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(t), Some(out)) = (n.attr("value").and_then(|a| a.t.as_ref()), n.output.first())
        {
            shapes.insert(out.clone(), dims(t));
        }
    }
    let mut c = FlopCount::default();
    for n in &g.node {
        let op = if n.domain.is_empty() || n.domain == "ai.onnx" {
            n.op_type.clone()
        } else {
            format!("{}:{}", n.domain, n.op_type)
        };
        if n.has_subgraph() {
            *c.not_counted
                .entry(format!("{op} (subgraphs not counted)"))
                .or_default() += 1;
            continue;
        }
        let shape = |k: usize, list: &[String]| -> Option<Vec<usize>> {
            let name = list.get(k).filter(|s| !s.is_empty())?;
            shapes.get(name).cloned()
        };
        let ins: Vec<Option<Vec<usize>>> = (0..n.input.len()).map(|k| shape(k, &n.input)).collect();
        let outs: Vec<Option<Vec<usize>>> =
            (0..n.output.len()).map(|k| shape(k, &n.output)).collect();
        match node_flops(n, &ins, &outs) {
            Formula::Flops(f) => {
                c.total = c.total.saturating_add(f);
                *c.by_op.entry(op).or_default() += f;
            }
            Formula::ShapesUnknown => {
                *c.not_counted
                    .entry(format!("{op} (shapes unknown)"))
                    .or_default() += 1
            }
            Formula::None => {
                *c.not_counted
                    .entry(format!("{op} (no formula)"))
                    .or_default() += 1
            }
        }
    }
    c
}

enum Formula {
    Flops(u64),
    ShapesUnknown,
    None,
}

fn numel(s: &[usize]) -> u64 {
    s.iter().map(|&d| d as u64).product()
}

/// FLOPs per element of the first output, for the ops priced that way.
fn per_element(op: &str) -> Option<u64> {
    Some(match op {
        // Data movement, shapes and casts: no arithmetic.
        "Reshape" | "Flatten" | "Transpose" | "Squeeze" | "Unsqueeze" | "Concat" | "Split"
        | "Slice" | "Gather" | "GatherElements" | "GatherND" | "ScatterND" | "ScatterElements"
        | "Cast" | "CastLike" | "Expand" | "Dropout" | "Identity" | "Pad" | "Shape" | "Size"
        | "Constant" | "ConstantOfShape" | "Range" | "Tile" | "DepthToSpace" | "SpaceToDepth"
        | "EyeLike" | "OneHot" | "NonZero" | "Trilu" => 0,
        // One operation per output element.
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Sqrt" | "Exp" | "Log" | "Neg" | "Abs" | "Relu"
        | "Sigmoid" | "Tanh" | "Clip" | "Where" | "Equal" | "Less" | "Greater" | "LessOrEqual"
        | "GreaterOrEqual" | "Max" | "Min" | "Sum" | "Mean" | "Reciprocal" | "Floor" | "Ceil"
        | "Round" | "Sign" | "Not" | "And" | "Or" | "Xor" | "Mod" | "PRelu" | "LeakyRelu"
        | "Elu" | "Selu" | "Celu" | "ThresholdedRelu" | "Softplus" | "Softsign" | "Sin" | "Cos"
        | "Tan" | "Asin" | "Acos" | "Atan" | "Sinh" | "Cosh" | "IsNaN" | "IsInf" | "Resize"
        | "Upsample" | "QuantizeLinear" | "DequantizeLinear" | "BitShift" => 1,
        // Activations of a few operations each, as the IR counts them.
        "Gelu"
        | "HardSwish"
        | "HardSigmoid"
        | "Erf"
        | "Mish"
        | "com.microsoft:FastGelu"
        | "com.microsoft:BiasGelu"
        | "com.microsoft:QuickGelu" => 4,
        "BatchNormalization" => 4,
        "Softmax" | "LogSoftmax" | "Hardmax" => 5,
        "LayerNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "MeanVarianceNormalization"
        | "com.microsoft:SkipLayerNormalization"
        | "com.microsoft:SimplifiedLayerNormalization"
        | "RMSNormalization"
        | "com.microsoft:SkipSimplifiedLayerNormalization" => 8,
        "LpNormalization" => 3,
        _ => return None,
    })
}

/// FLOPs per element of the first input: reductions and the like.
fn per_input_element(op: &str) -> Option<u64> {
    Some(match op {
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" | "ArgMax"
        | "ArgMin" | "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" | "CumSum" => 1,
        "DynamicQuantizeLinear" => 3,
        _ => return None,
    })
}

fn node_flops(n: &Node, ins: &[Option<Vec<usize>>], outs: &[Option<Vec<usize>>]) -> Formula {
    let op = if n.domain.is_empty() || n.domain == "ai.onnx" {
        n.op_type.clone()
    } else {
        format!("{}:{}", n.domain, n.op_type)
    };
    let need = |v: &[Option<Vec<usize>>], k: usize| v.get(k).cloned().flatten();
    macro_rules! or_unknown {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Formula::ShapesUnknown,
            }
        };
    }
    if let Some(f) = per_element(&op) {
        if f == 0 {
            return Formula::Flops(0);
        }
        let y = or_unknown!(need(outs, 0));
        return Formula::Flops(f * numel(&y));
    }
    if let Some(f) = per_input_element(&op) {
        let x = or_unknown!(need(ins, 0));
        return Formula::Flops(f * numel(&x));
    }
    let bias = |k: usize| -> u64 {
        match (need(ins, k), need(outs, 0)) {
            (Some(_), Some(y)) => numel(&y),
            _ => 0,
        }
    };
    let f = match op.as_str() {
        "MatMul" | "MatMulInteger" | "com.microsoft:MatMulNBits" | "com.microsoft:FusedMatMul" => {
            let a = or_unknown!(need(ins, 0));
            let y = or_unknown!(need(outs, 0));
            2 * numel(&y) * (*a.last().unwrap_or(&1) as u64)
        }
        "Gemm" => {
            let a = or_unknown!(need(ins, 0));
            let y = or_unknown!(need(outs, 0));
            if a.len() != 2 {
                return Formula::ShapesUnknown;
            }
            let k = if n.int("transA", 0) != 0 { a[0] } else { a[1] } as u64;
            2 * numel(&y) * k + bias(2)
        }
        "Conv" | "ConvInteger" | "com.microsoft:FusedConv" => {
            // W: [Cout, Cin/group, k...]: each output element is Cin/group·Πk MACs.
            let w = or_unknown!(need(ins, 1));
            let y = or_unknown!(need(outs, 0));
            let bias_k = if op == "ConvInteger" { usize::MAX } else { 2 };
            2 * numel(&y) * numel(w.get(1..).unwrap_or(&[])) + bias(bias_k)
        }
        "ConvTranspose" => {
            // W: [Cin, Cout/group, k...]: each input element feeds Cout/group·Πk outputs.
            let x = or_unknown!(need(ins, 0));
            let w = or_unknown!(need(ins, 1));
            2 * numel(&x) * numel(w.get(1..).unwrap_or(&[])) + bias(2)
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let y = or_unknown!(need(outs, 0));
            let k: u64 = n
                .attr("kernel_shape")
                .map(|a| a.ints.iter().map(|&d| d.max(0) as u64).product())
                .unwrap_or(1);
            numel(&y) * k
        }
        "LSTM" | "GRU" | "RNN" => {
            // X: [T, B, I] (layout 0) or [B, T, I]; W: [D, G·H, I]; R: [D, G·H, H].
            let x = or_unknown!(need(ins, 0));
            let w = or_unknown!(need(ins, 1));
            let r = or_unknown!(need(ins, 2));
            if x.len() != 3 || w.len() != 3 || r.len() != 3 {
                return Formula::ShapesUnknown;
            }
            let (t, b) = if n.int("layout", 0) == 0 {
                (x[0], x[1])
            } else {
                (x[1], x[0])
            };
            let (d, gh, i, h) = (w[0] as u64, w[1] as u64, w[2] as u64, r[2] as u64);
            let steps = t as u64 * b as u64 * d;
            // The gate GEMMs, then per hidden unit the gates' nonlinearities
            // and the state update (LSTM 4 gates and a cell; GRU 3; RNN 1).
            let elementwise = match op.as_str() {
                "LSTM" => 8,
                "GRU" => 6,
                _ => 1,
            };
            steps * (2 * gh * (i + h) + elementwise * h)
        }
        "Attention" => {
            // ONNX (opset 23): Q [B, Hq, S, D] or [B, S, Hq·D], K [B, Hkv, L, D] or [B, L, Hkv·D].
            let q = or_unknown!(need(ins, 0));
            let k = or_unknown!(need(ins, 1));
            let heads = n.int("q_num_heads", 0).max(0) as u64;
            let (bhsd, l) = match (q.len(), k.len()) {
                (4, 4) => (numel(&q), k[2] as u64),
                (3, 3) if heads > 0 => (numel(&q), k[1] as u64),
                _ => return Formula::ShapesUnknown,
            };
            let d = if q.len() == 4 {
                q[3] as u64
            } else {
                q[2] as u64 / heads
            };
            // QKᵀ and the weighted sum of V: 2 GEMMs of B·H·S·L·D MACs;
            // softmax over B·H·S·L scores.
            let scores = bhsd / d.max(1) * l;
            4 * bhsd * l + 5 * scores
        }
        "com.microsoft:MultiHeadAttention" => {
            let q = or_unknown!(need(ins, 0));
            let k = or_unknown!(need(ins, 1));
            let heads = n.int("num_heads", 1).max(1) as u64;
            if q.len() != 3 || k.len() != 3 {
                return Formula::ShapesUnknown;
            }
            let (bsh, l) = (numel(&q), k[1] as u64);
            4 * bsh * l + 5 * (q[0] as u64 * heads * q[1] as u64 * l)
        }
        "com.microsoft:Attention" => {
            // input [B, S, Hin], weights [Hin, 3·Hid]: the QKV projection, then attention.
            let x = or_unknown!(need(ins, 0));
            let w = or_unknown!(need(ins, 1));
            if x.len() != 3 || w.len() != 2 {
                return Formula::ShapesUnknown;
            }
            let heads = n.int("num_heads", 1).max(1) as u64;
            let (b, s) = (x[0] as u64, x[1] as u64);
            let hid = w[1] as u64 / 3;
            2 * b * s * w[0] as u64 * w[1] as u64 + 4 * b * s * s * hid + 5 * b * heads * s * s
        }
        _ => return Formula::None,
    };
    Formula::Flops(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<Attr>) -> Node {
        Node {
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            op_type: op.into(),
            domain: String::new(),
            attribute: attrs,
        }
    }

    fn ints(name: &str, v: &[i64]) -> Attr {
        Attr {
            name: name.into(),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    fn shapes(list: &[(&str, &[usize])]) -> BTreeMap<String, Vec<usize>> {
        list.iter()
            .map(|(n, s)| (n.to_string(), s.to_vec()))
            .collect()
    }

    #[test]
    fn formulas_follow_the_ir_conventions() {
        use crate::graph::{DType, Op, TypeInfo};
        let ti = |s: &[usize]| TypeInfo::new(s.to_vec(), DType::Float32);
        let f = |n: Node, s: &[(&str, &[usize])]| {
            count_graph(
                &Graph {
                    node: vec![n],
                    initializer: vec![],
                },
                &shapes(s),
            )
        };
        // MatMul [8, 2, 10] @ [10, 5]: as the IR counts it.
        let c = f(
            node("MatMul", &["a", "b"], &["y"], vec![]),
            &[("a", &[8, 2, 10]), ("b", &[10, 5]), ("y", &[8, 2, 5])],
        );
        let ir = Op::MatMul.flops(&[&ti(&[8, 2, 10]), &ti(&[10, 5])], &[ti(&[8, 2, 5])]);
        assert_eq!(c.total, ir);
        assert_eq!(c.total, 2 * 80 * 10);
        // Conv 3→8, 3x3, bias, output [1, 8, 6, 6]: 2·288·27 + 288.
        let c = f(
            node("Conv", &["x", "w", "b"], &["y"], vec![]),
            &[
                ("x", &[1, 3, 8, 8]),
                ("w", &[8, 3, 3, 3]),
                ("b", &[8]),
                ("y", &[1, 8, 6, 6]),
            ],
        );
        assert_eq!(c.total, 2 * 288 * 27 + 288);
        // Depthwise (group 8): W [8, 1, 3, 3].
        let c = f(
            node("Conv", &["x", "w"], &["y"], vec![]),
            &[("w", &[8, 1, 3, 3]), ("y", &[1, 8, 6, 6])],
        );
        assert_eq!(c.total, 2 * 288 * 9);
        // Gemm with transA: A [K=4, M=2].
        let c = f(
            node(
                "Gemm",
                &["a", "b"],
                &["y"],
                vec![Attr {
                    name: "transA".into(),
                    i: 1,
                    ..Default::default()
                }],
            ),
            &[("a", &[4, 2]), ("y", &[2, 3])],
        );
        assert_eq!(c.total, 2 * 6 * 4);
        // MaxPool 2x2 over an output of 16 elements; LSTM T=5, B=1, I=4, H=3.
        let c = f(
            node(
                "MaxPool",
                &["x"],
                &["y"],
                vec![ints("kernel_shape", &[2, 2])],
            ),
            &[("y", &[1, 1, 4, 4])],
        );
        assert_eq!(c.total, 16 * 4);
        let c = f(
            node("LSTM", &["x", "w", "r"], &["y"], vec![]),
            &[("x", &[5, 1, 4]), ("w", &[1, 12, 4]), ("r", &[1, 12, 3])],
        );
        assert_eq!(c.total, 5 * (2 * 12 * 7 + 8 * 3));
        // Data movement is free; unknown shapes and unknown ops are listed.
        let c = f(node("Reshape", &["x", "s"], &["y"], vec![]), &[]);
        assert_eq!((c.total, c.by_op["Reshape"]), (0, 0));
        let c = f(node("Relu", &["x"], &["y"], vec![]), &[]);
        assert_eq!(c.not_counted["Relu (shapes unknown)"], 1);
        let c = f(node("Einsum", &["x"], &["y"], vec![]), &[("y", &[2])]);
        assert_eq!(c.not_counted["Einsum (no formula)"], 1);
        let mut iff = node("If", &["c"], &["y"], vec![]);
        iff.attribute.push(Attr {
            name: "then_branch".into(),
            g: Some(vec![]),
            ..Default::default()
        });
        let c = f(iff, &[]);
        assert_eq!(c.not_counted["If (subgraphs not counted)"], 1);
        assert!(!c.counted_any());
    }
}
