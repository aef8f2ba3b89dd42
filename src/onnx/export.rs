//! Export of the IR as an ONNX `ModelProto`.
//!
//! Every `Op` lowers to one ONNX node where the requested opset has one,
//! else to a short decomposition into older ops (Gelu below 20, LayerNorm
//! below 17, HardSwish below 14). Attributes that later opsets moved to
//! inputs (Squeeze axes, Reduce* axes, ...) become int64 initializers.
//! Parameters are generated here (`Param::materialize`), in parallel, and
//! moved into the initializers' `raw_data` without a further copy.

use super::OnnxError;
use super::proto::{
    AttributeProto, DimValue, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeDimension, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto, attribute_type,
};
use super::tensor_io::{dtype_to_onnx, tensor_into_proto, tensor_to_proto};
use crate::graph::{DType, Graph, HostTensor, Node, Op, ResizeMode, Source, TypeInfo, ValueId};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

/// The producer name written into every model.
pub const PRODUCER_NAME: &str = "turnkey";

/// Protobuf cannot represent a message of 2 GiB or more.
const PROTOBUF_LIMIT: usize = i32::MAX as usize;

#[derive(Clone, Debug, PartialEq)]
pub struct ExportOptions {
    /// The default-domain opset to target; see [`supported_opsets`].
    pub opset: i64,
    pub producer_version: String,
    /// Written as the model's `metadata_props`, in this order.
    pub metadata: Vec<(String, String)>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            opset: 17,
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            metadata: Vec::new(),
        }
    }
}

/// The opsets [`export`] can target.
pub fn supported_opsets() -> RangeInclusive<i64> {
    13..=21
}

/// The lowest IR version that an opset belongs to (onnx's release table):
/// what checkers and runtimes expect to see next to that opset.
pub fn ir_version_for_opset(opset: i64) -> i64 {
    match opset {
        ..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        21..=22 => 10,
        _ => 11,
    }
}

/// Serializes `graph` as an ONNX `ModelProto`.
pub fn export(graph: &Graph, opts: &ExportOptions) -> Result<Vec<u8>, OnnxError> {
    let model = export_model(graph, opts)?;
    let len = model.encoded_len();
    if len > PROTOBUF_LIMIT {
        return Err(OnnxError::Graph {
            graph: graph.name.clone(),
            msg: format!(
                "the model is {:.2} GiB, over the 2 GiB limit of a single ONNX protobuf file; \
                 reduce the model size (external data files are not supported)",
                len as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(model.encode_to_vec())
}

/// Builds the `ModelProto` of `graph` (what [`export`] serializes).
pub fn export_model(graph: &Graph, opts: &ExportOptions) -> Result<ModelProto, OnnxError> {
    let range = supported_opsets();
    if !range.contains(&opts.opset) {
        return Err(OnnxError::UnsupportedOpset {
            opset: opts.opset,
            lo: *range.start(),
            hi: *range.end(),
        });
    }
    let gp = Lowering::new(graph, opts.opset)?.run()?;
    Ok(ModelProto {
        ir_version: ir_version_for_opset(opts.opset),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opts.opset,
        }],
        producer_name: PRODUCER_NAME.to_string(),
        producer_version: opts.producer_version.clone(),
        graph: Some(gp),
        metadata_props: opts
            .metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        ..Default::default()
    })
}

fn value_info(name: &str, info: &TypeInfo) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: dtype_to_onnx(info.dtype),
                shape: Some(TensorShapeProto {
                    dim: info
                        .shape
                        .iter()
                        .map(|&d| TensorShapeDimension {
                            value: Some(DimValue::DimValue(d as i64)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn a_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

fn a_float(name: &str, f: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::FLOAT,
        f: f as f32,
        ..Default::default()
    }
}

fn a_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn a_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::STRING,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn i64s(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// Picks `base`, or `base_1`, `base_2`, ... when taken.
fn unique(taken: &mut HashSet<String>, base: &str) -> String {
    let base = if base.is_empty() { "v" } else { base };
    if taken.insert(base.to_string()) {
        return base.to_string();
    }
    (1..)
        .map(|k| format!("{base}_{k}"))
        .find(|n| taken.insert(n.clone()))
        .expect("an unused name exists")
}

/// The state of one export.
struct Lowering<'g> {
    g: &'g Graph,
    opset: i64,
    /// ONNX name of each IR value (empty for values never referenced).
    names: Vec<String>,
    value_names: HashSet<String>,
    node_names: HashSet<String>,
    nodes: Vec<NodeProto>,
    /// Initializers made while lowering (shape constants and the like).
    consts: Vec<TensorProto>,
}

/// The IR node being lowered, for naming and errors.
struct Cur<'n> {
    node: &'n Node,
    ins: Vec<String>,
    outs: Vec<String>,
}

impl<'g> Lowering<'g> {
    fn new(g: &'g Graph, opset: i64) -> Result<Self, OnnxError> {
        let mut l = Lowering {
            g,
            opset,
            names: vec![String::new(); g.values.len()],
            value_names: HashSet::new(),
            node_names: HashSet::new(),
            nodes: Vec::with_capacity(g.nodes.len()),
            consts: Vec::new(),
        };
        l.assign_names()?;
        Ok(l)
    }

    fn graph_err(&self, msg: String) -> OnnxError {
        OnnxError::Graph {
            graph: self.g.name.clone(),
            msg,
        }
    }

    /// Graph inputs and outputs keep their names exactly (runtimes feed and
    /// fetch by them); every other value gets its IR name, made unique.
    fn assign_names(&mut self) -> Result<(), OnnxError> {
        let g = self.g;
        for &v in g.inputs.iter().chain(&g.outputs) {
            if v >= g.values.len() {
                return Err(self.graph_err(format!("input/output refers to missing value {v}")));
            }
        }
        for &v in &g.inputs {
            let name = &g.values[v].name;
            if !matches!(g.values[v].source, Source::Input) {
                return Err(self.graph_err(format!("input '{name}' is not an input value")));
            }
            if name.is_empty() || !self.value_names.insert(name.clone()) {
                return Err(self.graph_err(format!(
                    "two inputs are named '{name}'; give every input its own name"
                )));
            }
            self.names[v] = name.clone();
        }
        let mut outs_seen = HashSet::new();
        for &v in &g.outputs {
            let name = &g.values[v].name;
            // Outputs that are not a node's own (first) output get an
            // Identity in `run`; their value keeps a name of its own.
            if !matches!(g.values[v].source, Source::Node(_)) || !outs_seen.insert(v) {
                continue;
            }
            if name.is_empty() || !self.value_names.insert(name.clone()) {
                return Err(self.graph_err(format!(
                    "output name '{name}' is used twice (by another output or an input); \
                     give every output its own name"
                )));
            }
            self.names[v] = name.clone();
        }
        for v in 0..g.values.len() {
            if self.names[v].is_empty() {
                let base = g.values[v].name.clone();
                let base = if base.is_empty() {
                    format!("v{v}")
                } else {
                    base
                };
                self.names[v] = unique(&mut self.value_names, &base);
            }
        }
        Ok(())
    }

    fn run(mut self) -> Result<GraphProto, OnnxError> {
        let g = self.g;
        // Which params and constants are read, in order of first use.
        let mut used = vec![false; g.values.len()];
        for n in &g.nodes {
            for &i in &n.inputs {
                if i >= g.values.len() {
                    return Err(
                        self.graph_err(format!("node '{}' reads missing value {i}", n.name))
                    );
                }
                used[i] = true;
            }
            for &o in &n.outputs {
                if o >= g.values.len() {
                    return Err(
                        self.graph_err(format!("node '{}' writes missing value {o}", n.name))
                    );
                }
            }
        }
        for &o in &g.outputs {
            used[o] = true;
        }

        for n in &g.nodes {
            let cur = Cur {
                node: n,
                ins: n.inputs.iter().map(|&i| self.names[i].clone()).collect(),
                outs: n.outputs.iter().map(|&o| self.names[o].clone()).collect(),
            };
            self.lower(&cur)?;
        }

        let mut output_vi = Vec::with_capacity(g.outputs.len());
        let mut outs_seen = HashSet::new();
        for &v in &g.outputs {
            let info = &g.values[v].info;
            if matches!(g.values[v].source, Source::Node(_)) && outs_seen.insert(v) {
                output_vi.push(value_info(&self.names[v], info));
            } else {
                let name = unique(&mut self.value_names, &format!("{}_out", self.names[v]));
                let node_name = unique(&mut self.node_names, &format!("/Identity_{name}"));
                self.nodes.push(NodeProto {
                    input: vec![self.names[v].clone()],
                    output: vec![name.clone()],
                    name: node_name,
                    op_type: "Identity".into(),
                    ..Default::default()
                });
                output_vi.push(value_info(&name, info));
            }
        }
        let input_vi = g
            .inputs
            .iter()
            .map(|&v| value_info(&self.names[v], &g.values[v].info))
            .collect();
        // Shapes of intermediate values: lets `onnx.checker(full_check)`
        // compare every IR-inferred shape with ONNX's, and gives runtimes
        // the static shapes.
        let out_set: HashSet<ValueId> = g.outputs.iter().copied().collect();
        let value_info_list = g
            .nodes
            .iter()
            .flat_map(|n| &n.outputs)
            .filter(|v| !out_set.contains(v))
            .map(|&v| value_info(&self.names[v], &g.values[v].info))
            .collect();

        let mut initializer = self.materialize(&used);
        initializer.append(&mut self.consts);
        Ok(GraphProto {
            node: self.nodes,
            name: g.name.clone(),
            initializer,
            input: input_vi,
            output: output_vi,
            value_info: value_info_list,
            ..Default::default()
        })
    }

    /// The initializers of the params and constants in `used`: one per
    /// value, params generated in parallel (largest first).
    fn materialize(&self, used: &[bool]) -> Vec<TensorProto> {
        let g = self.g;
        let mut todo: Vec<ValueId> = (0..g.values.len())
            .filter(|&v| used[v] && matches!(g.values[v].source, Source::Param(_)))
            .collect();
        todo.sort_by_key(|&v| std::cmp::Reverse(g.values[v].info.numel()));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(todo.len())
            .max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let make = |v: ValueId| -> TensorProto {
            let Source::Param(p) = g.values[v].source else {
                unreachable!("only params are queued")
            };
            tensor_into_proto(&self.names[v], g.params[p].materialize())
        };
        let mut made: HashMap<ValueId, TensorProto> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&v) = todo.get(k) else { break };
                            out.push((v, make(v)));
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("parameter generation does not panic"))
                .collect()
        });
        // Value order: initializers follow the order the model was built in.
        (0..g.values.len())
            .filter(|&v| used[v])
            .filter_map(|v| match &g.values[v].source {
                Source::Param(_) => made.remove(&v),
                Source::Const(t) => Some(tensor_to_proto(&self.names[v], t)),
                _ => None,
            })
            .collect()
    }

    // ---- building blocks -------------------------------------------------

    fn fresh(&mut self, cur: &Cur, suffix: &str) -> String {
        unique(
            &mut self.value_names,
            &format!("{}/{suffix}", cur.node.name),
        )
    }

    /// A 1-D int64 initializer.
    fn const_i64(&mut self, cur: &Cur, suffix: &str, vals: &[i64]) -> String {
        let name = self.fresh(cur, suffix);
        let t = HostTensor {
            dtype: DType::Int64,
            shape: vec![vals.len()],
            data: vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        self.consts.push(tensor_into_proto(&name, t));
        name
    }

    /// A scalar initializer of `dtype` (the dtype of the tensor it meets).
    fn const_scalar(&mut self, cur: &Cur, suffix: &str, dtype: DType, v: f64) -> String {
        let name = self.fresh(cur, suffix);
        self.consts
            .push(tensor_into_proto(&name, HostTensor::full(dtype, &[], v)));
        name
    }

    /// A 1-D float32 initializer (Resize scales).
    fn const_f32(&mut self, cur: &Cur, suffix: &str, vals: &[f64]) -> String {
        let name = self.fresh(cur, suffix);
        let t = HostTensor {
            dtype: DType::Float32,
            shape: vec![vals.len()],
            data: vals
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
        };
        self.consts.push(tensor_into_proto(&name, t));
        name
    }

    /// Emits one ONNX node. `main` nodes carry the IR node's name; helper
    /// nodes of a decomposition get `<name>/<OpType>`.
    fn emit(
        &mut self,
        cur: &Cur,
        op_type: &str,
        input: Vec<String>,
        output: Vec<String>,
        attribute: Vec<AttributeProto>,
        main: bool,
    ) {
        let base = if main {
            cur.node.name.clone()
        } else {
            format!("{}/{op_type}", cur.node.name)
        };
        let name = unique(&mut self.node_names, &base);
        self.nodes.push(NodeProto {
            input,
            output,
            name,
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
    }

    /// A helper node with one fresh output; returns that output's name.
    fn step(&mut self, cur: &Cur, op_type: &str, input: Vec<String>) -> String {
        let out = self.fresh(cur, &format!("{op_type}_out"));
        self.emit(cur, op_type, input, vec![out.clone()], vec![], false);
        out
    }

    /// The IR node as one ONNX node of `op_type`.
    fn same(&mut self, cur: &Cur, op_type: &str, input: Vec<String>, attrs: Vec<AttributeProto>) {
        let outs = cur.outs.clone();
        self.emit(cur, op_type, input, outs, attrs, true);
    }

    fn err(&self, cur: &Cur, msg: impl Into<String>) -> OnnxError {
        OnnxError::Export {
            node: cur.node.name.clone(),
            op: cur.node.op.kind(),
            opset: self.opset,
            msg: msg.into(),
        }
    }

    fn in_info(&self, cur: &Cur, k: usize) -> Result<&'g TypeInfo, OnnxError> {
        cur.node
            .inputs
            .get(k)
            .map(|&v| &self.g.values[v].info)
            .ok_or_else(|| self.err(cur, format!("input {k} is missing")))
    }

    fn need_inputs(&self, cur: &Cur, lo: usize, hi: usize) -> Result<(), OnnxError> {
        let n = cur.ins.len();
        if n < lo || n > hi {
            return Err(self.err(cur, format!("takes {lo}..={hi} inputs, has {n}")));
        }
        if cur.outs.is_empty() {
            return Err(self.err(cur, "has no output"));
        }
        Ok(())
    }

    /// Reduce* with `axes` as an attribute before `input_from`, an input after.
    fn reduce(
        &mut self,
        cur: &Cur,
        op_type: &str,
        axes: &[usize],
        keepdims: bool,
        input_from: i64,
    ) -> Result<(), OnnxError> {
        self.need_inputs(cur, 1, 1)?;
        let mut input = vec![cur.ins[0].clone()];
        let mut attrs = vec![a_int("keepdims", i64::from(keepdims))];
        // No axes: ONNX reduces over all axes, as the IR does.
        if !axes.is_empty() {
            if self.opset >= input_from {
                input.push(self.const_i64(cur, "axes", &i64s(axes)));
            } else {
                attrs.push(a_ints("axes", axes));
            }
        }
        self.same(cur, op_type, input, attrs);
        Ok(())
    }

    /// Pads and ceil_mode for a pool. `ceil_mode` is written as floor mode
    /// with the end pads that give the IR's output size: ONNX's shape
    /// inference (onnx 1.23) does not drop a last window that starts in the
    /// right padding while onnxruntime, tract and PyTorch do, so floor mode
    /// is the form every consumer sizes alike. Exact for MaxPool, and for
    /// AveragePool unless it counts pads and the windows overhang the input
    /// and pads (then ceil_mode stays). `count_include_pad`: `None` for MaxPool.
    fn pool_pads(
        &self,
        cur: &Cur,
        kernel: &[usize],
        strides: &[usize],
        pads: &[usize],
        ceil_mode: bool,
        count_include_pad: Option<bool>,
    ) -> Result<(Vec<usize>, bool), OnnxError> {
        if !ceil_mode {
            return Ok((pads.to_vec(), false));
        }
        let x = self.in_info(cur, 0)?;
        let y = &self.g.values[cur.node.outputs[0]].info;
        let sp = kernel.len();
        if x.rank() != sp + 2 || y.rank() != sp + 2 || pads.len() != 2 * sp || strides.len() != sp {
            return Err(self.err(cur, "kernel, strides and pads do not match the input rank"));
        }
        let mut new = pads.to_vec();
        for i in 0..sp {
            let reach = (y.shape[2 + i].max(1) - 1) * strides[i] + kernel[i];
            let end = reach.saturating_sub(x.shape[2 + i] + pads[i]);
            if count_include_pad == Some(true) && end > pads[sp + i] {
                return Ok((pads.to_vec(), true));
            }
            new[sp + i] = end;
        }
        Ok((new, false))
    }

    // ---- the lowering of each op ------------------------------------------

    fn lower(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        let opset = self.opset;
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Equal
            | Op::Less
            | Op::Greater
            | Op::MatMul
            | Op::Where => {
                let n = if matches!(cur.node.op, Op::Where) {
                    3
                } else {
                    2
                };
                self.need_inputs(cur, n, n)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::Sqrt
            | Op::Exp
            | Op::Log
            | Op::Neg
            | Op::Abs
            | Op::Erf
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::GlobalAvgPool
            | Op::Identity => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::Gelu => {
                self.need_inputs(cur, 1, 1)?;
                if opset >= 20 {
                    self.same(cur, "Gelu", ins, vec![]);
                } else {
                    // 0.5 * x * (1 + erf(x / sqrt(2))), as torch.onnx writes it.
                    let d = self.in_info(cur, 0)?.dtype;
                    let x = ins[0].clone();
                    let sqrt2 = self.const_scalar(cur, "sqrt2", d, std::f64::consts::SQRT_2);
                    let one = self.const_scalar(cur, "one", d, 1.0);
                    let half = self.const_scalar(cur, "half", d, 0.5);
                    let t = self.step(cur, "Div", vec![x.clone(), sqrt2]);
                    let t = self.step(cur, "Erf", vec![t]);
                    let t = self.step(cur, "Add", vec![t, one]);
                    let t = self.step(cur, "Mul", vec![x, t]);
                    self.same(cur, "Mul", vec![t, half], vec![]);
                }
            }
            Op::Silu => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.step(cur, "Sigmoid", vec![ins[0].clone()]);
                self.same(cur, "Mul", vec![ins[0].clone(), s], vec![]);
            }
            Op::HardSwish => {
                self.need_inputs(cur, 1, 1)?;
                if opset >= 14 {
                    self.same(cur, "HardSwish", ins, vec![]);
                } else {
                    // x * HardSigmoid(x) with HardSwish's alpha = 1/6, beta = 0.5.
                    let out = self.fresh(cur, "HardSigmoid_out");
                    self.emit(
                        cur,
                        "HardSigmoid",
                        vec![ins[0].clone()],
                        vec![out.clone()],
                        vec![a_float("alpha", 1.0 / 6.0), a_float("beta", 0.5)],
                        false,
                    );
                    self.same(cur, "Mul", vec![ins[0].clone(), out], vec![]);
                }
            }
            Op::HardSigmoid => {
                // PyTorch's hardsigmoid, relu6(x + 3) / 6 (ONNX's default
                // alpha is 0.2, Keras's).
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "HardSigmoid",
                    ins,
                    vec![a_float("alpha", 1.0 / 6.0), a_float("beta", 0.5)],
                );
            }
            Op::Clip { min, max } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let mut input = vec![ins[0].clone()];
                input.push(match min {
                    Some(v) => self.const_scalar(cur, "min", d, *v),
                    None => String::new(),
                });
                if let Some(v) = max {
                    input.push(self.const_scalar(cur, "max", d, *v));
                }
                self.same(cur, "Clip", input, vec![]);
            }
            Op::Softmax { axis } | Op::LogSoftmax { axis } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    cur.node.op.kind(),
                    ins,
                    vec![a_int("axis", *axis as i64)],
                );
            }
            Op::Gemm { trans_b } => {
                self.need_inputs(cur, 2, 3)?;
                let attrs = if *trans_b {
                    vec![a_int("transB", 1)]
                } else {
                    vec![]
                };
                self.same(cur, "Gemm", ins, attrs);
            }
            Op::LayerNorm { axis, epsilon } => {
                self.need_inputs(cur, 2, 3)?;
                if opset >= 17 {
                    self.same(
                        cur,
                        "LayerNormalization",
                        ins,
                        vec![a_int("axis", *axis as i64), a_float("epsilon", *epsilon)],
                    );
                } else {
                    // (x - mean) / sqrt(var + eps) * scale + bias over axis..
                    let info = self.in_info(cur, 0)?;
                    let axes: Vec<usize> = (*axis..info.rank()).collect();
                    let x = ins[0].clone();
                    let mean = self.fresh(cur, "mean");
                    self.emit(
                        cur,
                        "ReduceMean",
                        vec![x.clone()],
                        vec![mean.clone()],
                        vec![a_ints("axes", &axes), a_int("keepdims", 1)],
                        false,
                    );
                    let diff = self.step(cur, "Sub", vec![x, mean]);
                    let sq = self.step(cur, "Mul", vec![diff.clone(), diff.clone()]);
                    let var = self.fresh(cur, "var");
                    self.emit(
                        cur,
                        "ReduceMean",
                        vec![sq],
                        vec![var.clone()],
                        vec![a_ints("axes", &axes), a_int("keepdims", 1)],
                        false,
                    );
                    let eps = self.const_scalar(cur, "epsilon", info.dtype, *epsilon);
                    let t = self.step(cur, "Add", vec![var, eps]);
                    let t = self.step(cur, "Sqrt", vec![t]);
                    let t = self.step(cur, "Div", vec![diff, t]);
                    if ins.len() == 3 {
                        let t = self.step(cur, "Mul", vec![t, ins[1].clone()]);
                        self.same(cur, "Add", vec![t, ins[2].clone()], vec![]);
                    } else {
                        self.same(cur, "Mul", vec![t, ins[1].clone()], vec![]);
                    }
                }
            }
            Op::BatchNorm { epsilon } => {
                self.need_inputs(cur, 5, 5)?;
                self.same(
                    cur,
                    "BatchNormalization",
                    ins,
                    vec![a_float("epsilon", *epsilon)],
                );
            }
            Op::Conv {
                kernel,
                strides,
                pads,
                dilations,
                group,
            } => {
                self.need_inputs(cur, 2, 3)?;
                self.same(
                    cur,
                    "Conv",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", pads),
                        a_ints("dilations", dilations),
                        a_int("group", *group as i64),
                    ],
                );
            }
            Op::ConvTranspose {
                kernel,
                strides,
                pads,
                output_padding,
                dilations,
                group,
            } => {
                self.need_inputs(cur, 2, 3)?;
                self.same(
                    cur,
                    "ConvTranspose",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", pads),
                        a_ints("output_padding", output_padding),
                        a_ints("dilations", dilations),
                        a_int("group", *group as i64),
                    ],
                );
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
                ceil_mode,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let (pads, ceil) = self.pool_pads(cur, kernel, strides, pads, *ceil_mode, None)?;
                self.same(
                    cur,
                    "MaxPool",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", &pads),
                        a_int("ceil_mode", i64::from(ceil)),
                    ],
                );
            }
            Op::AvgPool {
                kernel,
                strides,
                pads,
                ceil_mode,
                count_include_pad,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let (pads, ceil) = self.pool_pads(
                    cur,
                    kernel,
                    strides,
                    pads,
                    *ceil_mode,
                    Some(*count_include_pad),
                )?;
                self.same(
                    cur,
                    "AveragePool",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", &pads),
                        a_int("ceil_mode", i64::from(ceil)),
                        a_int("count_include_pad", i64::from(*count_include_pad)),
                    ],
                );
            }
            Op::Resize { scales, mode } => {
                self.need_inputs(cur, 1, 1)?;
                // PyTorch's conventions: nearest = floor of x_out / scale;
                // linear = bilinear with align_corners=False.
                let attrs = match mode {
                    ResizeMode::Nearest => vec![
                        a_str("mode", "nearest"),
                        a_str("coordinate_transformation_mode", "asymmetric"),
                        a_str("nearest_mode", "floor"),
                    ],
                    ResizeMode::Linear => vec![
                        a_str("mode", "linear"),
                        a_str("coordinate_transformation_mode", "pytorch_half_pixel"),
                    ],
                };
                let s = self.const_f32(cur, "scales", scales);
                self.same(cur, "Resize", vec![ins[0].clone(), String::new(), s], attrs);
            }
            Op::Pad { pads, value } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let p = self.const_i64(cur, "pads", &i64s(pads));
                let v = self.const_scalar(cur, "value", d, *value);
                self.same(cur, "Pad", vec![ins[0].clone(), p, v], vec![]);
            }
            Op::Reshape { shape } => {
                self.need_inputs(cur, 1, 1)?;
                // A 0 in ONNX's shape means "copy this dim" unless allowzero.
                let mut attrs = vec![];
                if shape.contains(&0) {
                    if opset < 14 {
                        return Err(self.err(
                            cur,
                            "reshaping to a shape with a 0 dim needs opset 14 or later (allowzero)",
                        ));
                    }
                    attrs.push(a_int("allowzero", 1));
                }
                let s = self.const_i64(cur, "shape", &i64s(shape));
                self.same(cur, "Reshape", vec![ins[0].clone(), s], attrs);
            }
            Op::Flatten { axis } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Flatten", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Transpose { perm } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Transpose", ins, vec![a_ints("perm", perm)]);
            }
            Op::Squeeze { axes } | Op::Unsqueeze { axes } => {
                self.need_inputs(cur, 1, 1)?;
                if axes.is_empty() {
                    // The IR's no-op; ONNX's Squeeze without axes would drop
                    // every 1-sized dim.
                    self.same(cur, "Identity", ins, vec![]);
                } else {
                    let a = self.const_i64(cur, "axes", &i64s(axes));
                    self.same(cur, cur.node.op.kind(), vec![ins[0].clone(), a], vec![]);
                }
            }
            Op::Concat { axis } => {
                if ins.is_empty() {
                    return Err(self.err(cur, "has no inputs"));
                }
                self.same(cur, "Concat", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Split { axis, sizes } => {
                self.need_inputs(cur, 1, 1)?;
                if sizes.len() != cur.outs.len() {
                    return Err(self.err(
                        cur,
                        format!("{} sizes for {} outputs", sizes.len(), cur.outs.len()),
                    ));
                }
                let s = self.const_i64(cur, "split", &i64s(sizes));
                self.same(
                    cur,
                    "Split",
                    vec![ins[0].clone(), s],
                    vec![a_int("axis", *axis as i64)],
                );
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.const_i64(cur, "starts", starts);
                let e = self.const_i64(cur, "ends", ends);
                let a = self.const_i64(cur, "axes", &i64s(axes));
                let st = self.const_i64(cur, "steps", steps);
                self.same(cur, "Slice", vec![ins[0].clone(), s, e, a, st], vec![]);
            }
            Op::Gather { axis } => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, "Gather", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Cast { to } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "Cast",
                    ins,
                    vec![a_int("to", dtype_to_onnx(*to) as i64)],
                );
            }
            Op::Expand { shape } => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.const_i64(cur, "shape", &i64s(shape));
                self.same(cur, "Expand", vec![ins[0].clone(), s], vec![]);
            }
            Op::ReduceMean { axes, keepdims } => {
                self.reduce(cur, "ReduceMean", axes, *keepdims, 18)?
            }
            Op::ReduceMax { axes, keepdims } => {
                self.reduce(cur, "ReduceMax", axes, *keepdims, 18)?
            }
            Op::ReduceSum { axes, keepdims } => {
                self.reduce(cur, "ReduceSum", axes, *keepdims, 13)?
            }
            Op::Dropout { ratio } => {
                // Kept as a node so the graph mirrors the model; without a
                // training_mode input it is the identity (ORT and tract).
                self.need_inputs(cur, 1, 1)?;
                let r = self.const_scalar(cur, "ratio", DType::Float32, *ratio);
                self.same(cur, "Dropout", vec![ins[0].clone(), r], vec![]);
            }
        }
        Ok(())
    }
}
