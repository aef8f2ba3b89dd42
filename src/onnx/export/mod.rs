//! Export of the IR as an ONNX `ModelProto`.
//!
//! Every `Op` lowers to one ONNX node where the requested opset has one,
//! else to a short decomposition into older ops (Gelu below 20, LayerNorm
//! below 17, HardSwish below 14). Attributes that later opsets moved to
//! inputs (Squeeze axes, Reduce* axes, ...) become int64 initializers.
//! Parameters are generated here (`Param::write_into`), in parallel, each
//! written once, straight into its `raw_data` in the output buffer (loaded
//! weights straight from their memory-mapped file).

use super::OnnxError;
use super::proto::{
    AttributeProto, DimValue, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeDimension, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto, attribute_type,
};
use super::tensor_io::{dtype_to_onnx, tensor_into_proto, tensor_to_proto};
use crate::graph::{
    DType, Family, Graph, HostTensor, Init, InterpMode, Node, Op, PadMode, Param, ResizeMode,
    Source, TypeInfo, ValueId, shape_str,
};
use prost::Message;
use std::collections::HashSet;
use std::ops::RangeInclusive;

mod conv;
mod elementwise;
mod file;
mod linalg;
mod norm;
mod recurrent;
mod reduce;
mod shape;

pub use file::{ExternalData, Written, data_file_name, export_to_file};

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
    /// Where [`export_to_file`] puts the weights.
    pub external_data: ExternalData,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            opset: 17,
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            metadata: Vec::new(),
            external_data: ExternalData::Auto,
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
///
/// The parameters are generated in parallel straight into their place in
/// the output buffer: no second copy of the weights, and the peak memory is
/// the model's size plus one parameter per thread.
pub fn export(graph: &Graph, opts: &ExportOptions) -> Result<Vec<u8>, OnnxError> {
    // Zeroed allocation: the OS hands out zero pages lazily, so the weight
    // regions are first touched by the threads that fill them.
    export_with(graph, opts, |total| Ok(vec![0u8; total]))
}

/// [`export`] into the buffer `make(total bytes)` returns (zeroed): a
/// vector, or a file's memory map, which the weights are generated into.
pub(super) fn export_with<B: AsMut<[u8]>>(
    graph: &Graph,
    opts: &ExportOptions,
    make: impl FnOnce(usize) -> Result<B, OnnxError>,
) -> Result<B, OnnxError> {
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
    let (mut model, params) = lower_model(graph, opts)?;
    let gp = model.graph.take().expect("lower_model sets the graph");

    // The layout: the model's other fields, then field 7 (graph): the
    // graph's other fields, then one field 5 (initializer) per param whose
    // field 9 (raw_data) is left to fill. Field order is free in protobuf.
    let headers: Vec<Vec<u8>> = params.iter().map(|p| p.header().encode_to_vec()).collect();
    let raw_lens: Vec<usize> = params.iter().map(ParamInit::raw_len).collect();
    let tensor_lens: Vec<usize> = headers
        .iter()
        .zip(&raw_lens)
        .map(|(h, &r)| h.len() + key_len(9) + encoded_len_varint(r as u64) + r)
        .collect();
    let graph_len = gp.encoded_len()
        + tensor_lens
            .iter()
            .map(|&t| key_len(5) + encoded_len_varint(t as u64) + t)
            .sum::<usize>();
    let total = model.encoded_len() + key_len(7) + encoded_len_varint(graph_len as u64) + graph_len;
    check_size(graph, total)?;

    let mut buffer = make(total)?;
    let out = buffer.as_mut();
    let mut pos = 0;
    let put = |out: &mut [u8], bytes: &[u8], pos: &mut usize| {
        out[*pos..*pos + bytes.len()].copy_from_slice(bytes);
        *pos += bytes.len();
    };
    let mut head = Vec::with_capacity(64);
    model.encode_raw(&mut head);
    encode_key(7, WireType::LengthDelimited, &mut head);
    encode_varint(graph_len as u64, &mut head);
    put(out, &head, &mut pos);
    put(out, &gp.encode_to_vec(), &mut pos);
    drop(gp);
    let mut slots = Vec::with_capacity(params.len());
    for (k, h) in headers.iter().enumerate() {
        head.clear();
        encode_key(5, WireType::LengthDelimited, &mut head);
        encode_varint(tensor_lens[k] as u64, &mut head);
        head.extend_from_slice(h);
        encode_key(9, WireType::LengthDelimited, &mut head);
        encode_varint(raw_lens[k] as u64, &mut head);
        put(out, &head, &mut pos);
        slots.push((pos, raw_lens[k]));
        pos += raw_lens[k];
    }
    debug_assert_eq!(pos, total, "the layout adds up");

    write_params(graph, out, params.iter().zip(slots))?;
    Ok(buffer)
}

/// Builds the `ModelProto` of `graph`, weights included: what [`export`]
/// serializes, as a message (for inspection and tests; [`export`] is
/// faster and needs half the memory).
pub fn export_model(graph: &Graph, opts: &ExportOptions) -> Result<ModelProto, OnnxError> {
    let (mut model, params) = lower_model(graph, opts)?;
    let made = std::sync::Mutex::new(Vec::with_capacity(params.len()));
    parallel(
        params.iter().enumerate().collect(),
        |(_, p)| p.raw_len(),
        |(k, p)| {
            let values = p.param.materialize().map_err(|msg| OnnxError::Graph {
                graph: graph.name.clone(),
                msg,
            })?;
            let t = tensor_into_proto(&p.name, values);
            if t.raw_data.len() != p.raw_len() {
                return Err(p.size_error(t.raw_data.len(), graph));
            }
            made.lock().expect("no panics while held").push((k, t));
            Ok(())
        },
    )?;
    let mut made = made.into_inner().expect("no panics while held");
    made.sort_by_key(|(k, _)| *k);
    let gp = model.graph.as_mut().expect("lower_model sets the graph");
    gp.initializer.extend(made.into_iter().map(|(_, t)| t));
    check_size(graph, model.encoded_len())?;
    Ok(model)
}

fn check_size(graph: &Graph, len: usize) -> Result<(), OnnxError> {
    if len > PROTOBUF_LIMIT {
        return Err(OnnxError::Graph {
            graph: graph.name.clone(),
            msg: format!(
                "the model is {:.2} GiB, over the 2 GiB limit of a single ONNX protobuf file; \
                 write it with export_to_file, which puts the weights in external data",
                len as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(())
}

/// The model without its params' initializers, and those params.
fn lower_model<'g>(
    graph: &'g Graph,
    opts: &ExportOptions,
) -> Result<(ModelProto, Vec<ParamInit<'g>>), OnnxError> {
    let range = supported_opsets();
    if !range.contains(&opts.opset) {
        return Err(OnnxError::UnsupportedOpset {
            opset: opts.opset,
            lo: *range.start(),
            hi: *range.end(),
        });
    }
    let (gp, params) = Lowering::new(graph, opts.opset)?.run()?;
    let model = ModelProto {
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
    };
    Ok((model, params))
}

/// A parameter that becomes an initializer named `name`.
struct ParamInit<'g> {
    name: String,
    param: &'g Param,
}

impl ParamInit<'_> {
    /// The initializer without its data.
    fn header(&self) -> TensorProto {
        TensorProto {
            name: self.name.clone(),
            dims: i64s(&self.param.info.shape),
            data_type: dtype_to_onnx(self.param.info.dtype),
            ..Default::default()
        }
    }

    fn raw_len(&self) -> usize {
        self.param.info.numel() as usize * self.param.info.dtype.size_bytes()
    }

    fn size_error(&self, got: usize, graph: &Graph) -> OnnxError {
        OnnxError::Graph {
            graph: graph.name.clone(),
            msg: format!(
                "parameter '{}' generated {got} bytes, but {} {} needs {}",
                self.param.name,
                self.param.info.dtype,
                shape_str(&self.param.info.shape),
                self.raw_len()
            ),
        }
    }
}

/// Runs `f` on every item on all cores, largest items first; the first
/// error wins.
/// Generates (or copies) each param's values into `out` at its (offset,
/// length), in parallel; the slots are disjoint and in ascending order.
fn write_params<'a, 'g: 'a>(
    graph: &Graph,
    out: &mut [u8],
    slots: impl Iterator<Item = (&'a ParamInit<'g>, (usize, usize))>,
) -> Result<(), OnnxError> {
    // Disjoint slices: one per param, and big random tensors in parts, so
    // one large matrix keeps every thread busy.
    let mut jobs = Vec::new();
    let mut rest: &mut [u8] = out;
    let mut consumed = 0;
    for (param, (at, len)) in slots {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(at - consumed);
        let (slot, tail) = tail.split_at_mut(len);
        rest = tail;
        consumed = at + len;
        if param.param.splits() {
            for (k, part) in slot.chunks_mut(PART_BYTES).enumerate() {
                jobs.push((param, part, Some((k * PART_BYTES / 4) as u64)));
            }
        } else {
            jobs.push((param, slot, None));
        }
    }
    parallel(
        jobs,
        |(_, slot, _)| slot.len(),
        |(param, slot, first)| {
            match first {
                Some(first) => param.param.write_part(slot, first),
                None => param.param.write_into(slot),
            }
            .map_err(|msg| OnnxError::Graph {
                graph: graph.name.clone(),
                msg,
            })
        },
    )
}

/// The part of a random tensor one thread generates at a time (a multiple
/// of 4: whole float32s).
const PART_BYTES: usize = 8 << 20;

fn parallel<T: Send>(
    mut items: Vec<T>,
    size: impl Fn(&T) -> usize,
    f: impl Fn(T) -> Result<(), OnnxError> + Sync,
) -> Result<(), OnnxError> {
    // Ascending, so that pop() hands out the largest first.
    items.sort_by_key(|t| size(t));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.into_iter().rev().try_for_each(f);
    }
    let queue = std::sync::Mutex::new(items);
    let next = || queue.lock().expect("no panics while held").pop();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    while let Some(item) = next() {
                        f(item)?;
                    }
                    Ok(())
                })
            })
            .collect();
        // The scope joins every worker; the first error is returned.
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("parameter generation does not panic"))
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
    /// Shapes of helper values a lowering declares (recurrent layers).
    helper_infos: Vec<ValueInfoProto>,
    /// ONNX-layout weights made from a recurrent layer's parameters, by
    /// those parameters' names: a layer called at every decoding step
    /// converts its weights once.
    rec_weights: std::collections::HashMap<Vec<String>, [String; 3]>,
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
            helper_infos: Vec::new(),
            rec_weights: Default::default(),
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

    /// The graph without the params' initializers, and those params.
    fn run(mut self) -> Result<(GraphProto, Vec<ParamInit<'g>>), OnnxError> {
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
        let mut value_info_list: Vec<ValueInfoProto> = g
            .nodes
            .iter()
            .flat_map(|n| &n.outputs)
            .filter(|v| !out_set.contains(v))
            .map(|&v| value_info(&self.names[v], &g.values[v].info))
            .collect();
        value_info_list.append(&mut self.helper_infos);

        // Constants first (graph constants, then lowering ones), then params.
        let mut initializer: Vec<TensorProto> = (0..g.values.len())
            .filter(|&v| used[v])
            .filter_map(|v| match &g.values[v].source {
                Source::Const(t) => Some(tensor_to_proto(&self.names[v], t)),
                _ => None,
            })
            .collect();
        initializer.append(&mut self.consts);
        let mut params = Vec::new();
        for v in (0..g.values.len()).filter(|&v| used[v]) {
            let Source::Param(p) = g.values[v].source else {
                continue;
            };
            let param = g.params.get(p).ok_or_else(|| {
                self.graph_err(format!(
                    "value '{}' refers to missing param {p}",
                    self.names[v]
                ))
            })?;
            if let Init::Data(t) = &param.init
                && (t.dtype != param.info.dtype || t.shape != param.info.shape || !t.data_fits())
            {
                return Err(self.graph_err(format!(
                    "parameter '{}' holds {} data of shape {} but is declared {} {}",
                    param.name,
                    t.dtype,
                    shape_str(&t.shape),
                    param.info.dtype,
                    shape_str(&param.info.shape)
                )));
            }
            if let Init::File(f) = &param.init
                && (f.shape != param.info.shape
                    || !crate::graph::weights::convertible(f.dtype, param.info.dtype))
            {
                return Err(self.graph_err(format!(
                    "parameter '{}' reads {} {} from {} but is declared {} {}",
                    param.name,
                    f.dtype,
                    shape_str(&f.shape),
                    f.path.display(),
                    param.info.dtype,
                    shape_str(&param.info.shape)
                )));
            }
            params.push(ParamInit {
                name: self.names[v].clone(),
                param,
            });
        }
        let graph = GraphProto {
            node: self.nodes,
            name: g.name.clone(),
            initializer,
            input: input_vi,
            output: output_vi,
            value_info: value_info_list,
            ..Default::default()
        };
        Ok((graph, params))
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

    // ---- the lowering of each op: one file per family ----------------------

    fn lower(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        match cur.node.op.family() {
            Family::Elementwise => self.lower_elementwise(cur),
            Family::Linalg => self.lower_linalg(cur),
            Family::Conv => self.lower_conv(cur),
            Family::Norm => self.lower_norm(cur),
            Family::Shape => self.lower_shape(cur),
            Family::Reduce => self.lower_reduce(cur),
            Family::Recurrent => self.lower_recurrent(cur),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Init, Param};
    use crate::onnx::proto::data_type;
    use crate::onnx::tensor_io::proto_to_tensor;

    fn p(name: &str, shape: &[usize], dtype: DType, init: Init) -> Param {
        Param {
            name: name.into(),
            info: TypeInfo::new(shape.to_vec(), dtype),
            init,
            trainable: true,
        }
    }

    fn uniform(seed: u64) -> Init {
        Init::Uniform {
            low: -0.1,
            high: 0.1,
            seed,
        }
    }

    fn unary(op: Op, d: DType, shape: &[usize]) -> Graph {
        let mut g = Graph::new("Unary");
        let x = g.add_input("x", TypeInfo::new(shape.to_vec(), d));
        let y = g.add_node(op, &[x], "m").unwrap()[0];
        g.add_output("y", y);
        g
    }

    fn model(g: &Graph, opset: i64) -> ModelProto {
        let opts = ExportOptions {
            opset,
            ..Default::default()
        };
        ModelProto::decode(export(g, &opts).unwrap().as_slice()).unwrap()
    }

    fn op_types(m: &ModelProto) -> Vec<&str> {
        let g = m.graph.as_ref().unwrap();
        g.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn opsets_outside_the_range_are_refused() {
        let g = unary(Op::Relu, DType::Float32, &[2]);
        for opset in [12, 22] {
            let opts = ExportOptions {
                opset,
                ..Default::default()
            };
            let e = export(&g, &opts).unwrap_err().to_string();
            assert!(
                e.contains(&format!("opset {opset}")) && e.contains("13 to 21"),
                "{e}"
            );
        }
        assert!(supported_opsets().contains(&13) && supported_opsets().contains(&21));
    }

    #[test]
    fn model_header_names_producer_opset_and_metadata() {
        let g = unary(Op::Relu, DType::Float32, &[2, 3]);
        let opts = ExportOptions {
            metadata: vec![("build".into(), "b1".into()), ("a".into(), "z".into())],
            ..Default::default()
        };
        let m = ModelProto::decode(export(&g, &opts).unwrap().as_slice()).unwrap();
        assert_eq!(m.ir_version, 8);
        assert_eq!(m.opset_import.len(), 1);
        assert_eq!(
            (m.opset_import[0].domain.as_str(), m.opset_import[0].version),
            ("", 17)
        );
        assert_eq!(m.producer_name, "turnkey");
        assert_eq!(m.producer_version, env!("CARGO_PKG_VERSION"));
        let meta: Vec<(&str, &str)> = m
            .metadata_props
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(meta, [("build", "b1"), ("a", "z")]);
        let gp = m.graph.unwrap();
        assert_eq!(gp.name, "Unary");
        assert_eq!(gp.node[0].name, "/m/Relu_0");
        let t = gp.input[0]
            .r#type
            .as_ref()
            .unwrap()
            .tensor_type
            .as_ref()
            .unwrap();
        assert_eq!(t.elem_type, data_type::FLOAT);
        let dims: Vec<_> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone())
            .collect();
        assert_eq!(
            dims,
            [Some(DimValue::DimValue(2)), Some(DimValue::DimValue(3))]
        );
        assert_eq!(ir_version_for_opset(13), 7);
        assert_eq!(ir_version_for_opset(20), 9);
        assert_eq!(ir_version_for_opset(21), 10);
    }

    #[test]
    fn gelu_is_native_from_20_else_decomposed_with_constants_of_the_input_dtype() {
        let g = unary(Op::Gelu, DType::Float16, &[2, 3]);
        let m = model(&g, 17);
        assert_eq!(op_types(&m), ["Div", "Erf", "Add", "Mul", "Mul"]);
        let gp = m.graph.as_ref().unwrap();
        assert_eq!(gp.node.last().unwrap().output, ["y"]);
        assert_eq!(gp.initializer.len(), 3);
        for t in &gp.initializer {
            assert_eq!(t.data_type, data_type::FLOAT16, "{}", t.name);
            assert!(t.dims.is_empty());
        }
        let sqrt2 = proto_to_tensor(&gp.initializer[0]).unwrap().to_f64_vec()[0];
        assert!((sqrt2 - std::f64::consts::SQRT_2).abs() < 1e-3);
        assert_eq!(op_types(&model(&g, 20)), ["Gelu"]);
    }

    #[test]
    fn layer_norm_and_hard_swish_are_decomposed_below_their_opsets() {
        let mut g = Graph::new("Ln");
        let x = g.add_input("x", TypeInfo::new(vec![2, 3, 4], DType::Float32));
        let s = g.add_param(p("s", &[4], DType::Float32, Init::Constant(1.0)));
        let y = g
            .add_node(
                Op::LayerNorm {
                    axis: 2,
                    epsilon: 1e-5,
                },
                &[x, s],
                "",
            )
            .unwrap()[0];
        g.add_output("y", y);
        assert_eq!(op_types(&model(&g, 17)), ["LayerNormalization"]);
        assert_eq!(
            op_types(&model(&g, 16)),
            [
                "ReduceMean",
                "Sub",
                "Mul",
                "ReduceMean",
                "Add",
                "Sqrt",
                "Div",
                "Mul"
            ]
        );
        let hs = unary(Op::HardSwish, DType::Float32, &[3]);
        assert_eq!(op_types(&model(&hs, 14)), ["HardSwish"]);
        assert_eq!(op_types(&model(&hs, 13)), ["HardSigmoid", "Mul"]);
        assert_eq!(
            op_types(&model(&unary(Op::Silu, DType::Float32, &[3]), 17)),
            ["Sigmoid", "Mul"]
        );
    }

    #[test]
    fn axes_are_attributes_or_inputs_as_the_opset_says() {
        let mean = unary(
            Op::ReduceMean {
                axes: vec![1],
                keepdims: false,
            },
            DType::Float32,
            &[2, 3],
        );
        let n = &model(&mean, 17).graph.unwrap().node[0];
        assert_eq!(n.input.len(), 1);
        assert!(
            n.attribute
                .iter()
                .any(|a| a.name == "axes" && a.ints == [1])
        );
        let m = model(&mean, 18);
        let gp = m.graph.unwrap();
        assert_eq!(gp.node[0].input.len(), 2);
        assert!(gp.node[0].attribute.iter().all(|a| a.name != "axes"));
        let axes = gp
            .initializer
            .iter()
            .find(|t| t.name == gp.node[0].input[1]);
        assert_eq!(
            proto_to_tensor(axes.unwrap()).unwrap().to_i64_vec(),
            Some(vec![1])
        );
        let sum = unary(
            Op::ReduceSum {
                axes: vec![0],
                keepdims: true,
            },
            DType::Float32,
            &[2, 3],
        );
        assert_eq!(model(&sum, 13).graph.unwrap().node[0].input.len(), 2);
        let sq = unary(Op::Squeeze { axes: vec![0] }, DType::Float32, &[1, 3]);
        assert_eq!(model(&sq, 13).graph.unwrap().node[0].input.len(), 2);
    }

    #[test]
    fn names_stay_unique_and_io_names_are_kept() {
        let mut g = Graph::new("Names");
        let x = g.add_input("x", TypeInfo::new(vec![2, 4], DType::Float32));
        // A param named like the input, two params with one name, an unused one.
        let w1 = g.add_param(p("x", &[4, 4], DType::Float32, uniform(1)));
        let w2 = g.add_param(p("w", &[4, 4], DType::Float32, uniform(2)));
        let w3 = g.add_param(p("w", &[4, 4], DType::Float32, uniform(3)));
        g.add_param(p("unused", &[1000], DType::Float32, uniform(4)));
        let h = g.add_node(Op::MatMul, &[x, w1], "a").unwrap()[0];
        let h = g.add_node(Op::MatMul, &[h, w2], "a").unwrap()[0];
        let h = g.add_node(Op::MatMul, &[h, w3], "a").unwrap()[0];
        g.add_output("w", h);
        g.add_output("x_copy", x);
        let gp = model(&g, 17).graph.unwrap();
        let inits: Vec<&str> = gp.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(inits, ["x_1", "w_1", "w_2"]);
        assert_eq!(gp.input[0].name, "x");
        let outs: Vec<&str> = gp.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outs, ["w", "x_copy"]);
        let mut all: Vec<&String> = gp.node.iter().flat_map(|n| &n.output).collect();
        all.extend(gp.initializer.iter().map(|t| &t.name));
        all.push(&gp.input[0].name);
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "value names are not unique");
        // The initializers hold exactly what materialize() generates.
        let w2_data = proto_to_tensor(&gp.initializer[1]).unwrap();
        assert_eq!(w2_data, g.params[1].materialize().unwrap());

        let mut bad = Graph::new("Bad");
        let a = bad.add_input("a", TypeInfo::new(vec![2], DType::Float32));
        bad.add_input("a", TypeInfo::new(vec![2], DType::Float32));
        let y = bad.add_node(Op::Relu, &[a], "").unwrap()[0];
        bad.add_output("y", y);
        let e = export(&bad, &ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("two inputs are named 'a'"), "{e}");

        let mut clash = Graph::new("Clash");
        let a = clash.add_input("a", TypeInfo::new(vec![2], DType::Float32));
        let y = clash.add_node(Op::Relu, &[a], "").unwrap()[0];
        clash.add_output("a", y);
        let e = export(&clash, &ExportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("output name 'a' is used twice"), "{e}");
    }

    #[test]
    fn ceil_mode_pools_are_written_in_floor_mode_with_the_ir_output_size() {
        let pool = |count_include_pad| Op::AvgPool {
            kernel: vec![2],
            strides: vec![2],
            pads: vec![0, 0],
            ceil_mode: true,
            count_include_pad,
        };
        // 9 wide, kernel 2, stride 2: the fifth window overhangs by one.
        let g = unary(pool(false), DType::Float32, &[1, 1, 9]);
        let n = &model(&g, 17).graph.unwrap().node[0];
        let attr = |n: &NodeProto, k: &str| n.attribute.iter().find(|a| a.name == k).cloned();
        assert_eq!(attr(n, "ceil_mode").unwrap().i, 0);
        assert_eq!(attr(n, "pads").unwrap().ints, [0, 1]);
        // Counting pads would count the overhang: keep ceil mode.
        let g = unary(pool(true), DType::Float32, &[1, 1, 9]);
        let n = &model(&g, 17).graph.unwrap().node[0];
        assert_eq!(attr(n, "ceil_mode").unwrap().i, 1);
        assert_eq!(attr(n, "pads").unwrap().ints, [0, 0]);
        // The last window would start in the right pad: dropped, as in the IR.
        let mp = Op::MaxPool {
            kernel: vec![2],
            strides: vec![2],
            pads: vec![1, 1],
            ceil_mode: true,
        };
        let g = unary(mp, DType::Float32, &[1, 1, 9]);
        assert_eq!(g.values[g.outputs[0]].info.shape, [1, 1, 5]);
        let n = &model(&g, 17).graph.unwrap().node[0];
        assert_eq!(attr(n, "ceil_mode").unwrap().i, 0);
        assert_eq!(attr(n, "pads").unwrap().ints, [1, 0]);
    }

    #[test]
    fn export_bytes_decode_to_export_model() {
        let mut g = Graph::new("Both");
        let x = g.add_input("x", TypeInfo::new(vec![2, 4], DType::Float32));
        let w = g.add_param(p("w", &[4, 300], DType::Float32, uniform(1)));
        let b = g.add_param(p("b", &[300], DType::Float16, Init::Constant(0.5)));
        let data = HostTensor::from_fn(DType::Int64, &[3], |i| i as f64);
        let ids = g.add_param(p(
            "ids",
            &[3],
            DType::Int64,
            Init::Data(std::sync::Arc::new(data)),
        ));
        let empty = g.add_param(p("empty", &[0, 4], DType::Float32, uniform(2)));
        let h = g.add_node(Op::MatMul, &[x, w], "").unwrap()[0];
        let bc = g
            .add_node(Op::Cast { to: DType::Float32 }, &[b], "")
            .unwrap()[0];
        let h = g.add_node(Op::Add, &[h, bc], "").unwrap()[0];
        let h = g.add_node(Op::Gelu, &[h], "").unwrap()[0];
        let e = g.add_node(Op::Concat { axis: 0 }, &[x, empty], "").unwrap()[0];
        let c = g.add_const(HostTensor::full(DType::Float32, &[1], 2.0));
        let e = g.add_node(Op::Mul, &[e, c], "").unwrap()[0];
        g.add_output("y", h);
        g.add_output("e", e);
        g.add_output("ids", ids);
        let opts = ExportOptions {
            metadata: vec![("k".into(), "v".into())],
            ..Default::default()
        };
        let bytes = export(&g, &opts).unwrap();
        let decoded = ModelProto::decode(bytes.as_slice()).unwrap();
        let built = export_model(&g, &opts).unwrap();
        assert_eq!(decoded, built);
        let inits = &built.graph.as_ref().unwrap().initializer;
        let names: Vec<&str> = inits.iter().map(|t| t.name.as_str()).collect();
        // The output "ids" keeps its name; the param it copies is renamed.
        assert_eq!(names[names.len() - 4..], ["w", "b", "ids_1", "empty"]);
        assert_eq!(
            proto_to_tensor(&inits[inits.len() - 4]).unwrap(),
            g.params[0].materialize().unwrap()
        );

        // Declared and given data that disagree are an error, not a panic.
        let mut bad = Graph::new("Bad");
        let t = HostTensor::zeros(DType::Float32, &[3]);
        let w = bad.add_param(p(
            "w",
            &[4],
            DType::Float32,
            Init::Data(std::sync::Arc::new(t)),
        ));
        let y = bad.add_node(Op::Relu, &[w], "").unwrap()[0];
        bad.add_output("y", y);
        let e = export(&bad, &opts).unwrap_err().to_string();
        assert!(
            e.contains("parameter 'w' holds float32 data of shape [3]"),
            "{e}"
        );
    }

    /// A BERT-base-sized graph: 108M float32 parameters.
    fn big_graph(init: impl Fn(u64) -> Init) -> Graph {
        let mut g = Graph::new("Big");
        let ids = g.add_input("ids", TypeInfo::new(vec![1, 128], DType::Int64));
        let emb = g.add_param(p("emb", &[30522, 768], DType::Float32, init(0)));
        let mut h = g
            .add_node(Op::Gather { axis: 0 }, &[emb, ids], "emb")
            .unwrap()[0];
        for l in 0..12u64 {
            let s = format!("layer{l}");
            for (k, shape) in [[768, 768], [768, 768], [768, 768], [768, 768], [768, 3072]]
                .iter()
                .enumerate()
            {
                let w = g.add_param(p(
                    &format!("{s}.w{k}"),
                    shape,
                    DType::Float32,
                    init(l * 8 + k as u64),
                ));
                h = g.add_node(Op::MatMul, &[h, w], &s).unwrap()[0];
            }
            h = g.add_node(Op::Gelu, &[h], &s).unwrap()[0];
            let w = g.add_param(p(
                &format!("{s}.fc2"),
                &[3072, 768],
                DType::Float32,
                init(l * 8 + 7),
            ));
            h = g.add_node(Op::MatMul, &[h, w], &s).unwrap()[0];
        }
        g.add_output("y", h);
        g
    }

    /// `cargo test --release --lib export_time -- --ignored --nocapture`
    #[test]
    #[ignore = "timing: run by hand"]
    fn export_time_of_a_100m_parameter_graph() {
        for (label, g) in [
            ("uniform", big_graph(uniform)),
            ("normal", big_graph(|seed| Init::Normal { std: 0.02, seed })),
        ] {
            let params = g.stats().params;
            let t = std::time::Instant::now();
            let bytes = export(&g, &ExportOptions::default()).unwrap();
            let dt = t.elapsed();
            let t0 = std::time::Instant::now();
            let m = export_model(&g, &ExportOptions::default()).unwrap();
            let build = t0.elapsed().as_secs_f64();
            let t0 = std::time::Instant::now();
            let n = m.encode_to_vec().len();
            println!(
                "  build ModelProto {build:.3} s, encode {:.3} s ({n} bytes)",
                t0.elapsed().as_secs_f64()
            );
            drop(m);
            // The parts: generating the weights alone, one thread.
            let t1 = std::time::Instant::now();
            let one = g.params[1].materialize().unwrap();
            let gen1 = t1.elapsed().as_secs_f64() / one.numel() as f64 * 1e9;
            println!(
                "{label}: {params} params, {} MB, export {:.3} s ({} threads); \
                 generating one param: {gen1:.1} ns/element",
                bytes.len() / 1_000_000,
                dt.as_secs_f64(),
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
            assert!(params > 100_000_000);
        }
    }
}
