//! Graph rewrites that make a model's precision variants: float16 and
//! bfloat16 ([`float`]), int8 with activations quantized at run time and
//! int8 QDQ with calibrated activation scales ([`quant`], [`calib`]).
//!
//! They work on the `ModelProto` itself, so that a traced script's export
//! and an ONNX file given as input get the same variants; what the schemas
//! allow at the model's opset comes from onnx's own operator schemas
//! ([`schema`]). Nothing else is used: no converter, no runtime (the
//! calibration's activation ranges are measured by the caller and handed
//! in). Knows only `graph/` and the ONNX messages.

pub mod calib;
mod consts;
pub mod float;
mod fold;
pub mod qdq;
pub mod quant;
pub(crate) mod schema;
mod schemas;
pub(crate) mod types;

use super::OnnxError;
use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto,
    attribute_type, data_location,
};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What a rewrite did, for the record: nodes per op type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RewriteSummary {
    /// Nodes that now compute in the new precision (or were quantized).
    pub converted: BTreeMap<String, usize>,
    /// Nodes of the kind the rewrite works on that were left in float32,
    /// with why ("Conv: no bfloat16 at opset 17").
    pub kept: BTreeMap<String, usize>,
    /// Things worth saying once (why something was kept).
    pub notes: Vec<String>,
}

impl RewriteSummary {
    fn count(map: &mut BTreeMap<String, usize>, key: &str) {
        *map.entry(key.to_string()).or_insert(0) += 1;
    }
    fn note(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }
}

/// A failed rewrite: what in the model stopped it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RewriteError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, RewriteError> {
    Err(RewriteError(msg.into()))
}

/// The version of the default operator set the model imports.
pub fn default_opset(m: &ModelProto) -> Option<i64> {
    m.opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

/// Whether a node belongs to the default domain.
fn is_default(n: &NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

// ------------------------------------------------------------ reading, writing

/// Reads a model, with the data of external tensors (beside it) read in.
pub fn read_model(path: &Path) -> Result<ModelProto, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut m = ModelProto::decode(bytes.as_slice()).map_err(|source| OnnxError::Decode {
        path: path.to_path_buf(),
        what: "model",
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Some(g) = m.graph.as_mut() {
        inline_graph(g, dir).map_err(|msg| OnnxError::Model {
            path: path.to_path_buf(),
            msg,
        })?;
    }
    Ok(m)
}

fn inline_graph(g: &mut GraphProto, dir: &Path) -> Result<(), String> {
    for t in &mut g.initializer {
        inline_tensor(t, dir)?;
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            if let Some(t) = a.t.as_mut() {
                inline_tensor(t, dir)?;
            }
            for t in &mut a.tensors {
                inline_tensor(t, dir)?;
            }
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                inline_graph(sg, dir)?;
            }
        }
    }
    Ok(())
}

fn inline_tensor(t: &mut TensorProto, dir: &Path) -> Result<(), String> {
    if t.data_location != data_location::EXTERNAL {
        return Ok(());
    }
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    let loc = get("location").ok_or_else(|| format!("tensor '{}': no location", t.name))?;
    let rel = Path::new(&loc);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!(
            "tensor '{}': external data location '{loc}' is outside the model's folder",
            t.name
        ));
    }
    let num = |k: &str| -> Result<Option<u64>, String> {
        get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("tensor '{}': {k} '{v}' is not a number", t.name))
            })
            .transpose()
    };
    let offset = num("offset")?.unwrap_or(0);
    let path = dir.join(rel);
    let mut f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = Vec::new();
    match num("length")? {
        Some(n) => {
            data.resize(n as usize, 0);
            f.read_exact(&mut data)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        None => {
            f.read_to_end(&mut data)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    t.raw_data = data;
    t.external_data.clear();
    t.data_location = data_location::DEFAULT;
    Ok(())
}

/// Protobuf messages cannot exceed 2 GiB: past this, weights go to a file beside the model.
const INLINE_LIMIT: usize = 1 << 30;

/// Writes `m` to `path` (atomically); when it would be too large for one
/// protobuf message, the larger initializers go to `<file>.data` beside it
/// as ONNX external data.
pub fn write_model(m: &ModelProto, path: &Path) -> Result<(), OnnxError> {
    let werr = |source| OnnxError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let data_name = format!(
        "{}.data",
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "model.onnx".into())
    );
    let data_path = dir.join(&data_name);
    let mut m = m.clone();
    let _ = std::fs::remove_file(&data_path);
    if m.encoded_len() > INLINE_LIMIT
        && let Some(g) = m.graph.as_mut()
    {
        let mut data = tempfile::NamedTempFile::new_in(dir).map_err(werr)?;
        let mut offset = 0u64;
        for t in &mut g.initializer {
            if t.raw_data.len() < 4096 {
                continue;
            }
            data.write_all(&t.raw_data).map_err(werr)?;
            let len = t.raw_data.len() as u64;
            let entry = |k: &str, v: String| StringStringEntryProto {
                key: k.into(),
                value: v,
            };
            t.external_data = vec![
                entry("location", data_name.clone()),
                entry("offset", offset.to_string()),
                entry("length", len.to_string()),
            ];
            t.data_location = data_location::EXTERNAL;
            t.raw_data = Vec::new();
            offset += len;
        }
        data.persist(&data_path).map_err(|e| werr(e.error))?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(werr)?;
    tmp.write_all(&m.encode_to_vec()).map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

// ------------------------------------------------------------ graph helpers

/// Every value and node name used anywhere in `g` (subgraphs included).
fn collect_names(g: &GraphProto, out: &mut HashSet<String>) {
    for vi in g.input.iter().chain(&g.output).chain(&g.value_info) {
        out.insert(vi.name.clone());
    }
    for t in &g.initializer {
        out.insert(t.name.clone());
    }
    for n in &g.node {
        out.insert(n.name.clone());
        out.extend(n.input.iter().cloned());
        out.extend(n.output.iter().cloned());
        for a in &n.attribute {
            for sg in a.g.iter().chain(&a.graphs) {
                collect_names(sg, out);
            }
        }
    }
}

/// Fresh names that clash with nothing in the model.
pub(crate) struct Names {
    used: HashSet<String>,
}

impl Names {
    pub fn new(g: &GraphProto) -> Names {
        let mut used = HashSet::new();
        collect_names(g, &mut used);
        Names { used }
    }

    /// `base`, or `base_1`, `base_2`, ... when taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 0;
        while self.used.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.used.insert(name.clone());
        name
    }
}

/// The names a subgraph uses from enclosing graphs.
pub(crate) fn free_names(g: &GraphProto) -> BTreeSet<String> {
    let mut defined: HashSet<&str> = HashSet::new();
    defined.extend(g.input.iter().map(|v| v.name.as_str()));
    defined.extend(g.initializer.iter().map(|t| t.name.as_str()));
    let mut free = BTreeSet::new();
    for n in &g.node {
        for i in &n.input {
            if !i.is_empty() && !defined.contains(i.as_str()) {
                free.insert(i.clone());
            }
        }
        for a in &n.attribute {
            for sg in a.g.iter().chain(&a.graphs) {
                for f in free_names(sg) {
                    if !defined.contains(f.as_str()) {
                        free.insert(f);
                    }
                }
            }
        }
        defined.extend(n.output.iter().map(String::as_str));
    }
    for o in &g.output {
        if !defined.contains(o.name.as_str()) {
            free.insert(o.name.clone());
        }
    }
    free
}

/// The names `n`'s subgraphs use from the graph `n` is in.
pub(crate) fn node_free_names(n: &NodeProto) -> BTreeSet<String> {
    n.attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(&a.graphs))
        .flat_map(free_names)
        .collect()
}

/// Renames the uses of the outer tensor `from` inside subgraph `g` (not
/// where `g` defines a tensor of that name itself).
pub(crate) fn rename_free(g: &mut GraphProto, from: &str, to: &str) {
    let shadowed =
        g.input.iter().any(|v| v.name == from) || g.initializer.iter().any(|t| t.name == from);
    if shadowed {
        return;
    }
    for n in &mut g.node {
        for i in &mut n.input {
            if i == from {
                *i = to.to_string();
            }
        }
        for a in &mut n.attribute {
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                rename_free(sg, from, to);
            }
        }
        if n.output.iter().any(|o| o == from) {
            return;
        }
    }
    for o in &mut g.output {
        if o.name == from {
            o.name = to.to_string();
        }
    }
}

/// Drops nodes whose outputs nothing uses, and initializers nothing uses.
pub(crate) fn prune(g: &mut GraphProto) {
    loop {
        let mut used: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
        for n in &g.node {
            used.extend(n.input.iter().cloned());
            used.extend(node_free_names(n));
        }
        let before = g.node.len();
        g.node
            .retain(|n| n.output.iter().any(|o| !o.is_empty() && used.contains(o)));
        if g.node.len() == before {
            let inputs: HashSet<&str> = g.input.iter().map(|v| v.name.as_str()).collect();
            g.initializer
                .retain(|t| used.contains(&t.name) || inputs.contains(t.name.as_str()));
            let live: HashSet<String> = g
                .node
                .iter()
                .flat_map(|n| n.output.iter().cloned())
                .chain(g.initializer.iter().map(|t| t.name.clone()))
                .chain(g.input.iter().map(|v| v.name.clone()))
                .collect();
            g.value_info.retain(|v| live.contains(&v.name));
            return;
        }
    }
}

pub(crate) fn node(
    op: &str,
    name: String,
    input: Vec<String>,
    output: Vec<String>,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name,
        input,
        output,
        attribute,
        ..Default::default()
    }
}

pub(crate) fn a_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

/// A tensor initializer of raw little-endian bytes.
pub(crate) fn raw_tensor(name: &str, data_type: i32, dims: &[i64], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type,
        dims: dims.to_vec(),
        raw_data: raw,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
