//! ONNX files given as inputs: their interface (inputs, outputs, opset, IR
//! version, producer), a summary (op counts, parameter counts, external data
//! files), binding their dynamic axes to sizes, and the test data that ONNX's
//! own layout keeps beside a model. Only what is needed is decoded: weight
//! data is skipped, not copied.

use super::OnnxError;
use super::proto::{
    DimValue, OperatorSetIdProto, StringStringEntryProto, TypeProto, TypeProtoTensor,
    ValueInfoProto,
};
use super::tensor_io::{dtype_from_onnx, onnx_type_name, read_tensor_pb};
use super::value_io::read_value_pb;
use crate::graph::{DType, HostTensor, HostValue, ValueType};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The interface of a model file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIo {
    /// The graph inputs that are fed at run time (initializers excluded).
    pub inputs: Vec<IoInfo>,
    pub outputs: Vec<IoInfo>,
    /// The version of the default (`ai.onnx`) operator set; 0 when the
    /// model imports only other domains.
    pub opset: i64,
    pub ir_version: i64,
    /// `producer_name producer_version`, e.g. `pytorch 2.11.0`; may be empty.
    pub producer: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoInfo {
    pub name: String,
    /// `None` when the element type is one turnkey has no dtype for, or the
    /// value is not a tensor (a sequence, a map, ...).
    pub dtype: Option<DType>,
    /// The whole type (tensor, sequence, optional); `None` when turnkey
    /// cannot represent it (maps, sparse tensors, complex numbers, ...).
    #[serde(default)]
    pub value_type: Option<ValueType>,
    /// One entry per axis; empty for a scalar or when the rank is unknown.
    /// For a sequence or optional: the axes of the tensors inside.
    pub dims: Vec<Dim>,
    /// False when the file gives no shape at all (not even a rank).
    pub rank_known: bool,
    /// The ONNX type as written in the file (`float`, `uint32`, `sequence`),
    /// for messages about types turnkey cannot feed.
    #[serde(default)]
    pub type_name: String,
}

/// One axis of an input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    Fixed(usize),
    /// A symbolic size such as `batch_size`, chosen at run time.
    Named(String),
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

impl IoInfo {
    /// The shape when every axis has a fixed size.
    pub fn fixed_shape(&self) -> Option<Vec<usize>> {
        if !self.rank_known {
            return None;
        }
        self.dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    /// The shape as users write it: `[batch, 3, 224, 224]`, `[?]` for an
    /// unknown rank.
    pub fn shape_string(&self) -> String {
        if !self.rank_known {
            return "[?]".to_string();
        }
        let dims: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(", "))
    }
}

// Decode-only views of ModelProto/GraphProto/TensorProto: the fields not
// listed (nodes, raw_data, ...) are skipped by prost without being copied.

#[derive(Clone, PartialEq, prost::Message)]
struct ModelHead {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphHead {
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorName>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorName {
    #[prost(string, tag = "8")]
    name: String,
}

/// The value type, the innermost tensor type, and the type as written.
fn type_of(t: &TypeProto) -> (Option<ValueType>, Option<&TypeProtoTensor>, String) {
    if let Some(tt) = &t.tensor_type {
        let vt = dtype_from_onnx(tt.elem_type).map(ValueType::Tensor);
        return (vt, Some(tt), onnx_type_name(tt.elem_type));
    }
    fn wrap<'a>(
        inner: &'a TypeProto,
        make: fn(Box<ValueType>) -> ValueType,
        word: &str,
    ) -> (Option<ValueType>, Option<&'a TypeProtoTensor>, String) {
        let (vt, tt, name) = type_of(inner);
        (vt.map(|v| make(Box::new(v))), tt, format!("{word}({name})"))
    }
    if let Some(m) = &t.map_type {
        // ONNX Runtime's maps hold one scalar tensor per key.
        let value = m.value_type.as_deref().and_then(|v| v.tensor_type.as_ref());
        let vt = dtype_from_onnx(m.key_type)
            .zip(value.and_then(|v| dtype_from_onnx(v.elem_type)))
            .map(|(key, value)| ValueType::Map { key, value });
        let name = format!(
            "map({},{})",
            onnx_type_name(m.key_type),
            value.map_or("a non-tensor".into(), |v| format!(
                "tensor({})",
                onnx_type_name(v.elem_type)
            ))
        );
        return (vt, None, name);
    }
    match (&t.sequence_type, &t.optional_type) {
        (Some(s), _) if s.elem_type.is_some() => wrap(
            s.elem_type.as_deref().expect("checked"),
            ValueType::Sequence,
            "seq",
        ),
        (_, Some(o)) if o.elem_type.is_some() => wrap(
            o.elem_type.as_deref().expect("checked"),
            ValueType::Optional,
            "optional",
        ),
        _ => (None, None, "a sparse tensor".into()),
    }
}

fn io_info(v: &ValueInfoProto) -> IoInfo {
    let (value_type, tensor, type_name) = match v.r#type.as_ref() {
        Some(t) => type_of(t),
        None => (None, None, "an undeclared type".into()),
    };
    let shape = tensor.and_then(|t| t.shape.as_ref());
    let dims = shape
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    // A size of 0 is what some exporters write for "any"
                    // (silero-vad's inputs are [0, 0]); ONNX Runtime feeds
                    // any size there, and an empty input runs nothing.
                    Some(DimValue::DimValue(n)) if *n > 0 => Dim::Fixed(*n as usize),
                    Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
                    _ => Dim::Unknown,
                })
                .collect()
        })
        .unwrap_or_default();
    IoInfo {
        name: v.name.clone(),
        dtype: match &value_type {
            Some(ValueType::Tensor(d)) => Some(*d),
            _ => None,
        },
        value_type,
        dims,
        rank_known: shape.is_some(),
        type_name,
    }
}

/// Reads the interface of the ONNX model at `path`.
pub fn read_model_io(path: &Path) -> Result<ModelIo, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    model_io_from_bytes(&bytes).map_err(|e| match e {
        IoError::Decode(source) => OnnxError::Decode {
            path: path.to_path_buf(),
            what: "model",
            source,
        },
        IoError::Invalid(msg) => OnnxError::Model {
            path: path.to_path_buf(),
            msg,
        },
    })
}

enum IoError {
    Decode(prost::DecodeError),
    Invalid(String),
}

fn model_io_from_bytes(bytes: &[u8]) -> Result<ModelIo, IoError> {
    let head = ModelHead::decode(bytes).map_err(IoError::Decode)?;
    // Protobuf decodes many non-ONNX byte strings (an empty file, most
    // text) as a message with nothing set: demand what every model has.
    let not_onnx = |what: &str| {
        IoError::Invalid(format!(
            "not an ONNX model ({what}); check that the file is a complete .onnx export"
        ))
    };
    if head.ir_version <= 0 {
        return Err(not_onnx("it has no IR version"));
    }
    let graph = head.graph.ok_or_else(|| not_onnx("it has no graph"))?;
    // A model of other domains only (ai.onnx.ml, say) has opset 0.
    let default_opset = head
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version);
    let opset = default_opset
        .or_else(|| (!head.opset_import.is_empty()).then_some(0))
        .ok_or_else(|| {
            IoError::Invalid(
                "the model imports no operator set; re-export it with its opset_import \
                 (e.g. onnx.helper.make_opsetid(\"\", 17))"
                    .into(),
            )
        })?;
    if graph.output.is_empty() {
        return Err(not_onnx("its graph has no outputs"));
    }
    // Before IR 4, initializers were also listed as inputs.
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !inits.contains(v.name.as_str()))
        .map(io_info)
        .collect();
    let producer = format!("{} {}", head.producer_name, head.producer_version)
        .trim()
        .to_string();
    Ok(ModelIo {
        inputs,
        outputs: graph.output.iter().map(io_info).collect(),
        opset,
        ir_version: head.ir_version,
        producer,
    })
}

// ---------------------------------------------------------------- summary

/// What turnkey records about an ONNX file besides its interface.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OnnxFileInfo {
    pub io: ModelIo,
    /// `GraphProto.name`; may be empty.
    pub graph_name: String,
    /// The model's and the graph's `doc_string`, joined; may be empty.
    pub doc: String,
    /// Nodes of the main graph per op type; ops outside `ai.onnx` as `domain:Op`.
    pub op_counts: BTreeMap<String, usize>,
    /// Weights: elements of all initializers (subgraphs' too) and of the
    /// `Constant` nodes holding floats or 8-bit integers (exporters such
    /// as Paddle's keep weights there; int32/int64/bool constants are
    /// shapes, axes and indices, not counted).
    pub params: u64,
    /// Bytes of those weights.
    pub param_bytes: u64,
    /// Of `params`: the elements in initializers.
    pub params_initializers: u64,
    /// Of `params`: the elements in `Constant` nodes.
    pub params_constants: u64,
    /// Files holding external tensor data, relative to the model's folder.
    pub external_files: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ModelBody {
    #[prost(string, tag = "6")]
    doc_string: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphBody>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphBody {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeBody>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorHead>,
    #[prost(string, tag = "10")]
    doc_string: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NodeBody {
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(string, tag = "7")]
    domain: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttrBody>,
}

/// The attribute fields that can hold tensors (and so external data).
#[derive(Clone, PartialEq, prost::Message)]
struct AttrBody {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "5")]
    t: Option<TensorHead>,
    #[prost(message, optional, boxed, tag = "6")]
    g: Option<Box<GraphBody>>,
    #[prost(message, repeated, tag = "10")]
    tensors: Vec<TensorHead>,
    #[prost(message, repeated, tag = "11")]
    graphs: Vec<GraphBody>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorHead {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(message, repeated, tag = "13")]
    external_data: Vec<StringStringEntryProto>,
}

/// Bits per element of an ONNX element type (for byte counts only).
fn elem_bits(t: i32) -> u64 {
    match onnx_type_name(t).as_str() {
        "double" | "int64" | "uint64" | "complex64" => 64,
        "complex128" => 128,
        "float" | "int32" | "uint32" => 32,
        "float16" | "bfloat16" | "int16" | "uint16" => 16,
        "uint4" | "int4" | "float4e2m1" => 4,
        "uint2" | "int2" => 2,
        _ => 8,
    }
}

fn collect_external(t: &TensorHead, out: &mut BTreeSet<String>) {
    out.extend(
        t.external_data
            .iter()
            .filter(|e| e.key == "location")
            .map(|e| e.value.clone()),
    );
}

fn walk_graph(g: &GraphBody, out: &mut BTreeSet<String>) {
    g.initializer.iter().for_each(|t| collect_external(t, out));
    for n in &g.node {
        for a in &n.attribute {
            a.t.iter()
                .chain(&a.tensors)
                .for_each(|t| collect_external(t, out));
            a.g.iter().for_each(|sub| walk_graph(sub, out));
            a.graphs.iter().for_each(|sub| walk_graph(sub, out));
        }
    }
}

/// Weight elements and bits: (initializers, constants, bits), over `g` and
/// its subgraphs.
fn count_weights(g: &GraphBody, acc: &mut (u64, u64, u64)) {
    let elems = |t: &TensorHead| t.dims.iter().map(|&d| d.max(0) as u64).product::<u64>();
    for t in &g.initializer {
        acc.0 += elems(t);
        acc.2 += elems(t) * elem_bits(t.data_type);
    }
    for n in &g.node {
        for a in &n.attribute {
            if n.op_type == "Constant"
                && n.domain.is_empty()
                && a.name == "value"
                && let Some(t) = &a.t
                && is_weight_type(t.data_type)
            {
                acc.1 += elems(t);
                acc.2 += elems(t) * elem_bits(t.data_type);
            }
            a.g.iter().for_each(|sub| count_weights(sub, acc));
            a.graphs.iter().for_each(|sub| count_weights(sub, acc));
        }
    }
}

/// Element types of weights: floats and (quantized) 8-bit integers.
fn is_weight_type(t: i32) -> bool {
    dtype_from_onnx(t).is_some_and(|d| d.is_float() || matches!(d, DType::Int8 | DType::Uint8))
}

/// Reads the interface and the summary of the ONNX model at `path`.
pub fn inspect(path: &Path) -> Result<OnnxFileInfo, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let decode = |source| OnnxError::Decode {
        path: path.to_path_buf(),
        what: "model",
        source,
    };
    let io = model_io_from_bytes(&bytes).map_err(|e| match e {
        IoError::Decode(source) => decode(source),
        IoError::Invalid(msg) => OnnxError::Model {
            path: path.to_path_buf(),
            msg,
        },
    })?;
    let body = ModelBody::decode(bytes.as_slice()).map_err(decode)?;
    let graph = body.graph.unwrap_or_default();
    let mut op_counts = BTreeMap::new();
    for n in &graph.node {
        let key = if n.domain.is_empty() || n.domain == "ai.onnx" {
            n.op_type.clone()
        } else {
            format!("{}:{}", n.domain, n.op_type)
        };
        *op_counts.entry(key).or_insert(0) += 1;
    }
    let mut w = (0u64, 0u64, 0u64);
    count_weights(&graph, &mut w);
    let (params_initializers, params_constants, bits) = w;
    let mut external = BTreeSet::new();
    walk_graph(&graph, &mut external);
    let doc = [body.doc_string.trim(), graph.doc_string.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(OnnxFileInfo {
        io,
        graph_name: graph.name,
        doc,
        op_counts,
        params: params_initializers + params_constants,
        param_bytes: bits.div_ceil(8),
        params_initializers,
        params_constants,
        external_files: external.into_iter().collect(),
    })
}

/// The external data files of a model, as paths beside it. A location that
/// leaves the model's folder is an error: ONNX Runtime refuses it too.
pub fn external_paths(model: &Path, info: &OnnxFileInfo) -> Result<Vec<PathBuf>, OnnxError> {
    let dir = model.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for loc in &info.external_files {
        let rel = Path::new(loc);
        let escapes = rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
        if escapes {
            return Err(OnnxError::Model {
                path: model.to_path_buf(),
                msg: format!(
                    "external data location '{loc}' is not a file inside the model's folder; \
                     re-save the model with its data beside it (onnx.save(..., location=\"NAME\"))"
                ),
            });
        }
        let p = dir.join(rel);
        if !p.is_file() {
            return Err(OnnxError::Model {
                path: model.to_path_buf(),
                msg: format!(
                    "its weights are stored in the external file {}, which does not exist; \
                     keep that file beside the model",
                    p.display()
                ),
            });
        }
        out.push(p);
    }
    Ok(out)
}

// ---------------------------------------------------------------- binding

/// Sizes chosen for dynamic axes (`--axis batch_size=8`, applies to every
/// input using that axis name) and whole input shapes (`--shape x=1,3,224,224`,
/// which win over axes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings {
    pub axes: BTreeMap<String, usize>,
    pub shapes: BTreeMap<String, Vec<usize>>,
    /// Values given for inputs (`--input`, a manifest's `inputs`).
    pub values: BTreeMap<String, super::feed::InputValue>,
}

impl Bindings {
    /// `batch_size=8 x=[1,3,224,224]`: part of a build's identity.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.extend(
            self.shapes
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::graph::shape_str(v))),
        );
        parts.extend(self.values.iter().map(|(k, v)| format!("{k}:={v}")));
        parts.join(" ")
    }
}

/// One model input with every axis sized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundInput {
    pub name: String,
    /// The element type of the tensor (or of the tensors inside a sequence or optional).
    pub dtype: DType,
    /// The shape of that tensor (or of each tensor inside).
    pub shape: Vec<usize>,
    pub ty: ValueType,
}

/// Why inputs cannot be fed. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BindError {
    #[error(
        "input '{input}' is of type {type_name}, which turnkey cannot feed (it feeds tensors \
         of {}, and sequences, optionals and maps of them)",
        DType::ALL.map(|d| d.name()).join(", ")
    )]
    Dtype { input: String, type_name: String },
    #[error("input '{input}' declares no shape: give it with --shape {input}=D1,D2,...")]
    UnknownRank { input: String },
    #[error(
        "--shape {input}: the input has rank {want} ({declared}), the shape given has {got} dimensions"
    )]
    Rank {
        input: String,
        want: usize,
        got: usize,
        declared: String,
    },
    #[error(
        "input '{input}' has the fixed size {fixed} on axis {axis}, but {given} was asked for ({how})"
    )]
    Fixed {
        input: String,
        axis: usize,
        fixed: usize,
        given: usize,
        how: String,
    },
    #[error("{}", unbound_message(axes, unnamed))]
    Unbound {
        /// Axis name → the inputs that use it.
        axes: Vec<(String, Vec<String>)>,
        /// (input, axis index) of axes without a name.
        unnamed: Vec<(String, usize)>,
    },
    #[error("{0}")]
    Feed(String),
}

fn unbound_message(axes: &[(String, Vec<String>)], unnamed: &[(String, usize)]) -> String {
    let mut parts = Vec::new();
    if !axes.is_empty() {
        let list: Vec<String> = axes
            .iter()
            .map(|(a, ins)| format!("{a} (input {})", ins.join(", ")))
            .collect();
        let example = &axes[0].0;
        parts.push(format!(
            "dynamic axes not bound: {}; bind them with --axis NAME=N (e.g. --axis {example}=1) \
             or `axes = {{ {} = 1 }}` in a manifest",
            list.join(", "),
            toml_key(example)
        ));
    }
    if !unnamed.is_empty() {
        let list: Vec<String> = unnamed
            .iter()
            .map(|(i, k)| format!("input '{i}' axis {k}"))
            .collect();
        parts.push(format!(
            "axes without a name: {}; give the whole shape with --shape {}=D1,D2,...",
            list.join(", "),
            unnamed[0].0
        ));
    }
    parts.join("; ")
}

/// `name` as a TOML key: bare when it is letters, digits, `_` and `-`,
/// else quoted (`"p2o.DynamicDimension.0"`: a bare dotted key would nest).
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        format!("{:?}", name)
    }
}

fn feedable(i: &IoInfo) -> Result<ValueType, BindError> {
    i.value_type.clone().ok_or_else(|| BindError::Dtype {
        input: i.name.clone(),
        type_name: i.type_name.clone(),
    })
}

/// Sizes every input's axes: `--shape` first, then `--axis` by name; fixed
/// sizes must agree with both. Every axis left unsized is listed in one error.
pub fn bind_inputs(io: &ModelIo, b: &Bindings) -> Result<Vec<BoundInput>, BindError> {
    let mut out = Vec::new();
    let mut unbound: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unnamed = Vec::new();
    for i in &io.inputs {
        let ty = feedable(i)?;
        let dtype = ty.elem();
        if matches!(ty, ValueType::Map { .. }) {
            // A map has entries, not axes: nothing to bind.
            out.push(BoundInput {
                name: i.name.clone(),
                dtype,
                shape: Vec::new(),
                ty,
            });
            continue;
        }
        if let Some(given) = b.shapes.get(&i.name) {
            if i.rank_known {
                if given.len() != i.dims.len() {
                    return Err(BindError::Rank {
                        input: i.name.clone(),
                        want: i.dims.len(),
                        got: given.len(),
                        declared: i.shape_string(),
                    });
                }
                for (k, (d, &g)) in i.dims.iter().zip(given).enumerate() {
                    if let Dim::Fixed(f) = d
                        && *f != g
                    {
                        return Err(BindError::Fixed {
                            input: i.name.clone(),
                            axis: k,
                            fixed: *f,
                            given: g,
                            how: format!("--shape {}={}", i.name, join_dims(given)),
                        });
                    }
                }
            }
            out.push(BoundInput {
                name: i.name.clone(),
                dtype,
                shape: given.clone(),
                ty,
            });
            continue;
        }
        if !i.rank_known {
            return Err(BindError::UnknownRank {
                input: i.name.clone(),
            });
        }
        let mut shape = Vec::with_capacity(i.dims.len());
        for (k, d) in i.dims.iter().enumerate() {
            match d {
                Dim::Fixed(n) => shape.push(*n),
                Dim::Named(a) => match b.axes.get(a) {
                    Some(&n) => shape.push(n),
                    None => {
                        let ins = unbound.entry(a.clone()).or_default();
                        if !ins.contains(&i.name) {
                            ins.push(i.name.clone());
                        }
                        shape.push(0);
                    }
                },
                Dim::Unknown => {
                    unnamed.push((i.name.clone(), k));
                    shape.push(0);
                }
            }
        }
        out.push(BoundInput {
            name: i.name.clone(),
            dtype,
            shape,
            ty,
        });
    }
    if !unbound.is_empty() || !unnamed.is_empty() {
        return Err(BindError::Unbound {
            axes: unbound.into_iter().collect(),
            unnamed,
        });
    }
    Ok(out)
}

fn join_dims(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The `--shape` names that are no input of this model.
pub fn unknown_shape_names(io: &ModelIo, b: &Bindings) -> Vec<String> {
    b.shapes
        .keys()
        .filter(|k| !io.inputs.iter().any(|i| &i.name == *k))
        .cloned()
        .collect()
}

/// The names of the model's dynamic axes, sorted, each once.
pub fn axis_names(io: &ModelIo) -> Vec<String> {
    let names: BTreeSet<String> = io
        .inputs
        .iter()
        .flat_map(|i| &i.dims)
        .filter_map(|d| match d {
            Dim::Named(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    names.into_iter().collect()
}

/// The `--axis` names that no input of this model uses.
pub fn unknown_axis_names(io: &ModelIo, b: &Bindings) -> Vec<String> {
    let known = axis_names(io);
    b.axes
        .keys()
        .filter(|k| !known.contains(k))
        .cloned()
        .collect()
}

/// Orders `feed` (values named after inputs) as the model's inputs and
/// checks it against the interface and the bindings: every input given once,
/// same type, and the fixed and bound sizes respected (by every tensor
/// inside a sequence or optional).
pub fn check_feed(
    io: &ModelIo,
    b: &Bindings,
    feed: Vec<(String, HostValue)>,
) -> Result<Vec<(String, HostValue)>, BindError> {
    let names: Vec<&str> = io.inputs.iter().map(|i| i.name.as_str()).collect();
    let mut by_name: BTreeMap<String, HostValue> = BTreeMap::new();
    for (n, t) in feed {
        if !names.contains(&n.as_str()) {
            return Err(BindError::Feed(format!(
                "'{n}' is not an input of the model (its inputs: {})",
                names.join(", ")
            )));
        }
        if by_name.insert(n.clone(), t).is_some() {
            return Err(BindError::Feed(format!("input '{n}' is given twice")));
        }
    }
    let mut out = Vec::with_capacity(io.inputs.len());
    for i in &io.inputs {
        let ty = feedable(i)?;
        let v = by_name.remove(&i.name).ok_or_else(|| {
            BindError::Feed(format!(
                "input '{}' ({} {}) is not given",
                i.name,
                i.type_name,
                i.shape_string()
            ))
        })?;
        if v.value_type() != ty {
            let (want, got) = match (&ty, v.value_type()) {
                (ValueType::Tensor(w), ValueType::Tensor(g)) => (w.to_string(), g.to_string()),
                (w, g) => (w.to_string(), g.to_string()),
            };
            return Err(BindError::Feed(format!(
                "input '{}' is {want}, the {} given is {got}",
                i.name,
                if v.as_tensor().is_some() {
                    "tensor"
                } else {
                    "value"
                }
            )));
        }
        for t in v.tensors() {
            check_tensor_shape(i, b, t)?;
        }
        out.push((i.name.clone(), v));
    }
    Ok(out)
}

/// The fixed and bound sizes of input `i` against one tensor fed to it.
fn check_tensor_shape(i: &IoInfo, b: &Bindings, t: &HostTensor) -> Result<(), BindError> {
    let wrong = |why: String| {
        BindError::Feed(format!(
            "input '{}' {}: the tensor given is {}: {why}",
            i.name,
            i.shape_string(),
            crate::graph::shape_str(&t.shape)
        ))
    };
    let whole = b.shapes.get(&i.name);
    if let Some(s) = whole
        && s != &t.shape
    {
        return Err(wrong(format!("--shape asks for {}", join_dims(s))));
    }
    if i.rank_known {
        if i.dims.len() != t.shape.len() {
            return Err(wrong(format!("the input has rank {}", i.dims.len())));
        }
        for (k, d) in i.dims.iter().enumerate() {
            let want = match d {
                Dim::Fixed(n) => Some(*n),
                // --shape wins over --axis.
                Dim::Named(a) if whole.is_none() => b.axes.get(a).copied(),
                Dim::Named(_) | Dim::Unknown => None,
            };
            if let Some(w) = want
                && w != t.shape[k]
            {
                return Err(wrong(format!("axis {k} must be {w}")));
            }
        }
    }
    Ok(())
}

/// The folder of ONNX's test-data layout (backend node tests, the model zoo):
/// `test_data_set_0/input_<k>.pb` beside the model.
pub fn test_data_dir(model: &Path) -> Option<PathBuf> {
    let d = model.parent()?.join("test_data_set_0");
    d.join("input_0.pb").is_file().then_some(d)
}

/// The inputs of `test_data_set_0` beside the model, named after the model's
/// inputs (a value without a name, or with a name that is no input, takes
/// the name of the input at its position). File `k` is read as the type of
/// input `k` (a `.pb` file does not say what it holds). `None` without
/// such a folder.
pub fn test_data_inputs(
    model: &Path,
    io: &ModelIo,
) -> Option<Result<Vec<(String, HostValue)>, OnnxError>> {
    let dir = test_data_dir(model)?;
    let mut out = Vec::new();
    for k in 0.. {
        let p = dir.join(format!("input_{k}.pb"));
        if !p.is_file() {
            break;
        }
        let read = match io.inputs.get(k).and_then(|i| i.value_type.as_ref()) {
            Some(ty) if !ty.is_tensor() => read_value_pb(&p, ty),
            _ => read_tensor_pb(&p).map(|(n, t)| (n, HostValue::Tensor(t))),
        };
        match read {
            Ok((name, t)) => {
                let known = io.inputs.iter().any(|i| i.name == name);
                let name = match io.inputs.get(k) {
                    Some(i) if !known => i.name.clone(),
                    _ => name,
                };
                out.push((name, t));
            }
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(out))
}

// ---------------------------------------------------------------- outputs

/// The outputs' dtypes and shapes for the given input shapes: from the file
/// where its dims are fixed or named after a bound axis, else from tract's
/// shape inference. Unknown sizes stay `None`.
pub fn infer_outputs(
    path: &Path,
    io: &ModelIo,
    inputs: &[BoundInput],
) -> Vec<(String, Option<DType>, Vec<Option<usize>>)> {
    // Axis sizes seen on the inputs, by name.
    let mut axes: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, b) in io.inputs.iter().zip(inputs) {
        for (d, &n) in i.dims.iter().zip(&b.shape) {
            if let Dim::Named(a) = d {
                axes.insert(a, n);
            }
        }
    }
    let mut outs: Vec<(String, Option<DType>, Vec<Option<usize>>)> = io
        .outputs
        .iter()
        .map(|o| {
            let dims = o
                .dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => Some(*n),
                    Dim::Named(a) => axes.get(a.as_str()).copied(),
                    Dim::Unknown => None,
                })
                .collect();
            (o.name.clone(), o.dtype, dims)
        })
        .collect();
    let complete = io
        .outputs
        .iter()
        .zip(&outs)
        .all(|(o, (_, _, d))| o.rank_known && d.iter().all(Option::is_some));
    if !complete && let Ok(facts) = tract_output_facts(path, inputs) {
        for (o, f) in outs.iter_mut().zip(facts) {
            if o.2.is_empty() || o.2.len() == f.len() {
                o.2 = f;
            }
        }
    }
    outs
}

fn tract_output_facts(
    path: &Path,
    inputs: &[BoundInput],
) -> Result<Vec<Vec<Option<usize>>>, String> {
    use tract_onnx::prelude::*;
    let mut model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(|e| format!("{e:#}"))?;
    for (k, b) in inputs.iter().enumerate() {
        let dt = match b.dtype {
            DType::Float32 => f32::datum_type(),
            DType::Float16 => tract_onnx::prelude::f16::datum_type(),
            DType::Float64 => f64::datum_type(),
            DType::Int8 => i8::datum_type(),
            DType::Int16 => i16::datum_type(),
            DType::Int32 => i32::datum_type(),
            DType::Int64 => i64::datum_type(),
            DType::Uint8 => u8::datum_type(),
            DType::Bool => bool::datum_type(),
            DType::Uint16 => u16::datum_type(),
            DType::Uint32 => u32::datum_type(),
            DType::Uint64 => u64::datum_type(),
            other => return Err(format!("tract has no {other}")),
        };
        model
            .set_input_fact(k, InferenceFact::dt_shape(dt, &b.shape))
            .map_err(|e| format!("{e:#}"))?;
    }
    let typed = model.into_typed().map_err(|e| format!("{e:#}"))?;
    let outlets = typed.output_outlets().map_err(|e| format!("{e:#}"))?;
    outlets
        .iter()
        .map(|o| {
            let f = typed.outlet_fact(*o).map_err(|e| format!("{e:#}"))?;
            Ok(f.shape
                .iter()
                .map(|d| d.to_i64().ok().and_then(|v| usize::try_from(v).ok()))
                .collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, Init, Op, Param, TypeInfo};
    use crate::onnx::export::{ExportOptions, export};
    use crate::onnx::proto::{
        GraphProto, ModelProto, TensorShapeDimension, TensorShapeProto, TypeProto, TypeProtoTensor,
        data_type,
    };
    use crate::onnx::tensor_io::tensor_to_proto;
    use crate::onnx::testutil::run_python;

    fn exported() -> Vec<u8> {
        let mut g = Graph::new("Io");
        let x = g.add_input("x", TypeInfo::new(vec![2, 4], DType::Float32));
        let ids = g.add_input("ids", TypeInfo::new(vec![3], DType::Int64));
        let w = g.add_param(Param {
            name: "w".into(),
            info: TypeInfo::new(vec![4, 4], DType::Float32),
            init: Init::Constant(1.0),
            trainable: true,
        });
        let y = g.add_node(Op::MatMul, &[x, w], "").unwrap()[0];
        let z = g.add_node(Op::Gather { axis: 0 }, &[w, ids], "").unwrap()[0];
        g.add_output("y", y);
        g.add_output("z", z);
        export(&g, &ExportOptions::default()).unwrap()
    }

    fn vi(name: &str, elem: i32, dims: Option<Vec<Option<DimValue>>>) -> ValueInfoProto {
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TypeProtoTensor {
                    elem_type: elem,
                    shape: dims.map(|d| TensorShapeProto {
                        dim: d
                            .into_iter()
                            .map(|value| TensorShapeDimension {
                                value,
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

    #[test]
    fn reads_the_interface_of_an_exported_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        std::fs::write(&path, exported()).unwrap();
        let io = read_model_io(&path).unwrap();
        assert_eq!((io.opset, io.ir_version), (17, 8));
        assert_eq!(
            io.producer,
            format!("turnkey {}", env!("CARGO_PKG_VERSION"))
        );
        let ins: Vec<(&str, Option<DType>, String)> = io
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.dtype, i.shape_string()))
            .collect();
        assert_eq!(
            ins,
            [
                ("x", Some(DType::Float32), "[2, 4]".to_string()),
                ("ids", Some(DType::Int64), "[3]".to_string())
            ]
        );
        assert_eq!(io.outputs[1].name, "z");
        assert_eq!(io.outputs[1].fixed_shape(), Some(vec![3, 4]));
    }

    #[test]
    fn symbolic_dims_old_style_inputs_and_foreign_types() {
        let w = tensor_to_proto("w", &crate::graph::HostTensor::zeros(DType::Float32, &[4]));
        let m = ModelProto {
            ir_version: 3,
            opset_import: vec![
                OperatorSetIdProto {
                    domain: "com.microsoft".into(),
                    version: 1,
                },
                OperatorSetIdProto {
                    domain: "ai.onnx".into(),
                    version: 9,
                },
            ],
            producer_name: "pytorch".into(),
            graph: Some(GraphProto {
                initializer: vec![w],
                input: vec![
                    vi(
                        "x",
                        data_type::FLOAT16,
                        Some(vec![
                            Some(DimValue::DimParam("batch".into())),
                            None,
                            Some(DimValue::DimValue(3)),
                        ]),
                    ),
                    // IR 3: the initializer is an input too; not fed.
                    vi(
                        "w",
                        data_type::FLOAT,
                        Some(vec![Some(DimValue::DimValue(4))]),
                    ),
                    vi("s", data_type::COMPLEX64, None),
                ],
                output: vec![vi("y", data_type::FLOAT, Some(vec![]))],
                ..Default::default()
            }),
            ..Default::default()
        };
        let io = model_io_from_bytes(&m.encode_to_vec()).ok().unwrap();
        assert_eq!((io.opset, io.ir_version), (9, 3));
        assert_eq!(io.producer, "pytorch");
        assert_eq!(io.inputs.len(), 2);
        let x = &io.inputs[0];
        assert_eq!(x.dtype, Some(DType::Float16));
        assert_eq!(
            x.dims,
            [Dim::Named("batch".into()), Dim::Unknown, Dim::Fixed(3)]
        );
        assert_eq!(x.shape_string(), "[batch, ?, 3]");
        assert_eq!(x.fixed_shape(), None);
        let s = &io.inputs[1];
        assert_eq!(
            (s.dtype, s.rank_known, s.shape_string()),
            (None, false, "[?]".into())
        );
        let y = &io.outputs[0];
        assert_eq!((y.rank_known, y.fixed_shape()), (true, Some(vec![])));
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let model = exported();
        let cases: [(&str, Vec<u8>, &str); 5] = [
            (
                "truncated.onnx",
                model[..model.len() / 2].to_vec(),
                "not a valid ONNX model",
            ),
            ("empty.onnx", Vec::new(), "not an ONNX model"),
            (
                "text.onnx",
                b"hello, this is not a model\n".to_vec(),
                "ONNX model",
            ),
            ("garbage.onnx", vec![0xff; 64], "not a valid ONNX model"),
            (
                "noopset.onnx",
                ModelProto {
                    ir_version: 8,
                    graph: Some(GraphProto {
                        output: vec![vi("y", data_type::FLOAT, None)],
                        ..Default::default()
                    }),
                    ..Default::default()
                }
                .encode_to_vec(),
                "imports no operator set",
            ),
        ];
        for (name, bytes, want) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let e = read_model_io(&path).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(want), "{name}: {e}");
        }
        let e = read_model_io(&dir.path().join("missing.onnx"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing.onnx") && e.contains("cannot read"),
            "{e}"
        );
    }

    /// A model written by the onnx package itself, with a symbolic batch.
    #[test]
    fn reads_a_model_written_by_the_onnx_package() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("py.onnx");
        run_python(
            r#"
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, None])
y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, None])
w = numpy_helper.from_array(np.ones((1,), np.float32), "w")
g = helper.make_graph([helper.make_node("Mul", ["input", "w"], ["logits"])], "g", [x], [y], [w])
m = helper.make_model(g, producer_name="onnx-test", opset_imports=[helper.make_opsetid("", 18)])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
"#,
            &[&path],
        );
        let io = read_model_io(&path).unwrap();
        assert_eq!(io.opset, 18);
        assert_eq!(io.producer, "onnx-test");
        assert_eq!(io.inputs.len(), 1);
        assert_eq!(io.inputs[0].name, "input");
        assert_eq!(io.inputs[0].shape_string(), "[batch, 3, ?]");
        assert_eq!(io.outputs[0].name, "logits");
    }

    fn io_of(inputs: &[(&str, Option<DType>, Vec<Dim>)]) -> ModelIo {
        ModelIo {
            inputs: inputs
                .iter()
                .map(|(n, d, dims)| IoInfo {
                    name: n.to_string(),
                    dtype: *d,
                    value_type: d.map(ValueType::Tensor),
                    dims: dims.clone(),
                    rank_known: true,
                    type_name: d.map(|d| d.name().to_string()).unwrap_or("uint32".into()),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn values(feed: Vec<(String, HostTensor)>) -> Vec<(String, HostValue)> {
        feed.into_iter()
            .map(|(n, t)| (n, HostValue::Tensor(t)))
            .collect()
    }

    fn named(s: &str) -> Dim {
        Dim::Named(s.into())
    }

    #[test]
    fn the_unbound_axis_hint_is_valid_toml() {
        for (axis, key) in [
            ("batch", "batch"),
            ("p2o.DynamicDimension.0", "\"p2o.DynamicDimension.0\""),
            ("?", "\"?\""),
        ] {
            let io = io_of(&[("x", Some(DType::Float32), vec![named(axis)])]);
            let e = bind_inputs(&io, &Bindings::default())
                .unwrap_err()
                .to_string();
            let hint = format!("`axes = {{ {key} = 1 }}`");
            assert!(e.contains(&hint), "{e}");
            // What the hint says parses, and binds this very axis.
            let toml_text = format!("axes = {{ {key} = 1 }}");
            let v: toml::Table = toml::from_str(&toml_text).unwrap();
            assert_eq!(v["axes"][axis].as_integer(), Some(1), "{toml_text}");
        }
    }

    #[test]
    fn binding_axes_shapes_and_their_errors() {
        let io = io_of(&[
            (
                "ids",
                Some(DType::Int64),
                vec![named("batch"), named("seq")],
            ),
            (
                "mask",
                Some(DType::Bool),
                vec![named("batch"), Dim::Fixed(4)],
            ),
        ]);
        let mut b = Bindings::default();
        let e = bind_inputs(&io, &b).unwrap_err().to_string();
        assert!(
            e.contains("dynamic axes not bound: batch (input ids, mask), seq (input ids)"),
            "{e}"
        );
        b.axes.insert("batch".into(), 2);
        b.axes.insert("seq".into(), 9);
        let got = bind_inputs(&io, &b).unwrap();
        assert_eq!(got[0].shape, [2, 9]);
        assert_eq!(got[1].shape, [2, 4]);
        // --shape wins over --axis.
        b.shapes.insert("ids".into(), vec![3, 5]);
        assert_eq!(bind_inputs(&io, &b).unwrap()[0].shape, [3, 5]);
        b.shapes.insert("mask".into(), vec![3, 5]);
        let e = bind_inputs(&io, &b).unwrap_err().to_string();
        assert!(e.contains("fixed size 4 on axis 1, but 5"), "{e}");
        b.shapes.insert("mask".into(), vec![3]);
        let e = bind_inputs(&io, &b).unwrap_err().to_string();
        assert!(e.contains("--shape mask: the input has rank 2"), "{e}");
        b.shapes.insert("nope".into(), vec![1]);
        assert_eq!(unknown_shape_names(&io, &b), ["nope"]);

        let io = io_of(&[("x", None, vec![Dim::Fixed(1)])]);
        let e = bind_inputs(&io, &Bindings::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input 'x' is of type uint32, which turnkey cannot feed"),
            "{e}"
        );
        let io = io_of(&[("x", Some(DType::Float32), vec![Dim::Unknown, Dim::Fixed(3)])]);
        let e = bind_inputs(&io, &Bindings::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input 'x' axis 0") && e.contains("--shape x="),
            "{e}"
        );
    }

    #[test]
    fn fed_tensors_are_checked_and_ordered() {
        let io = io_of(&[
            ("a", Some(DType::Float32), vec![named("n"), Dim::Fixed(2)]),
            ("b", Some(DType::Int64), vec![Dim::Fixed(3)]),
        ]);
        let a = HostTensor::zeros(DType::Float32, &[5, 2]);
        let bt = HostTensor::zeros(DType::Int64, &[3]);
        let b = Bindings::default();
        let got = check_feed(
            &io,
            &b,
            values(vec![("b".into(), bt.clone()), ("a".into(), a.clone())]),
        )
        .unwrap();
        assert_eq!(got[0].0, "a");
        let cases = [
            (
                vec![("a".to_string(), a.clone())],
                "input 'b' (int64 [3]) is not given",
            ),
            (
                vec![
                    ("a".into(), a.clone()),
                    ("b".into(), bt.clone()),
                    ("c".into(), bt.clone()),
                ],
                "'c' is not an input",
            ),
            (
                vec![
                    ("a".into(), HostTensor::zeros(DType::Float16, &[5, 2])),
                    ("b".into(), bt.clone()),
                ],
                "input 'a' is float32, the tensor given is float16",
            ),
            (
                vec![
                    ("a".into(), HostTensor::zeros(DType::Float32, &[5, 3])),
                    ("b".into(), bt.clone()),
                ],
                "axis 1 must be 2",
            ),
        ];
        for (feed, want) in cases {
            let e = check_feed(&io, &b, values(feed)).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let mut b = Bindings::default();
        b.axes.insert("n".into(), 4);
        let e = check_feed(&io, &b, values(vec![("a".into(), a), ("b".into(), bt)])).unwrap_err();
        assert!(e.to_string().contains("axis 0 must be 4"), "{e}");
    }

    /// External data, op counts, weights, test data and output shapes of a
    /// model written by the onnx package.
    #[test]
    fn inspects_external_data_and_test_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m/model.onnx");
        run_python(
            r#"
import os, sys, numpy as np, onnx
from onnx import helper, TensorProto as T, numpy_helper
p = sys.argv[1]; d = os.path.dirname(p)
os.makedirs(os.path.join(d, "w"), exist_ok=True)
os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
x = helper.make_tensor_value_info("x", T.FLOAT, ["b", 8])
y = helper.make_tensor_value_info("y", T.FLOAT, ["b", "?"])
w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]),
                       helper.make_node("Relu", ["h"], ["y"])], "Net", [x], [y], [w],
                      doc_string="a test net")
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(m, p, save_as_external_data=True, location="w/weights.bin", size_threshold=0)
t = numpy_helper.from_array(np.ones((2, 8), np.float32), "")
open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb").write(t.SerializeToString())
"#,
            &[&path],
        );
        let info = inspect(&path).unwrap();
        assert_eq!(info.graph_name, "Net");
        assert_eq!(info.doc, "a test net");
        assert_eq!((info.params, info.param_bytes), (24, 96));
        assert_eq!(info.op_counts["MatMul"], 1);
        assert_eq!(info.external_files, ["w/weights.bin"]);
        assert_eq!(
            external_paths(&path, &info).unwrap(),
            [dir.path().join("m/w/weights.bin")]
        );
        let feed = test_data_inputs(&path, &info.io).unwrap().unwrap();
        assert_eq!(feed[0].0, "x", "an unnamed tensor takes the input's name");
        assert_eq!(feed[0].1.as_tensor().unwrap().shape, [2, 8]);
        // "y" has an unnamed-in-effect axis ("?" is a name no input has): tract infers it.
        let outs = infer_outputs(
            &path,
            &info.io,
            &[BoundInput {
                name: "x".into(),
                dtype: DType::Float32,
                shape: vec![2, 8],
                ty: ValueType::Tensor(DType::Float32),
            }],
        );
        assert_eq!(outs[0].2, [Some(2), Some(3)]);

        std::fs::remove_file(dir.path().join("m/w/weights.bin")).unwrap();
        let e = external_paths(&path, &info).unwrap_err().to_string();
        assert!(
            e.contains("w/weights.bin") && e.contains("does not exist"),
            "{e}"
        );
        let mut bad = info.clone();
        bad.external_files = vec!["../elsewhere.bin".into()];
        let e = external_paths(&path, &bad).unwrap_err().to_string();
        assert!(e.contains("not a file inside the model's folder"), "{e}");
    }

    #[test]
    fn models_of_other_domains_only_have_opset_zero() {
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: "ai.onnx.ml".into(),
                version: 3,
            }],
            graph: Some(GraphProto {
                output: vec![vi("y", data_type::FLOAT, None)],
                ..Default::default()
            }),
            ..Default::default()
        };
        let io = model_io_from_bytes(&m.encode_to_vec()).ok().unwrap();
        assert_eq!(io.opset, 0);
    }
}
