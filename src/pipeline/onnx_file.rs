//! ONNX files given as inputs, before any runtime: checking the file,
//! choosing its input data and naming the build (`prepare_onnx`), putting
//! copies into the cache and checking them (`store_onnx`, `verify_copy`),
//! and recording the FLOPs found (`set_flops`).

use super::{OnnxSource, feed, safe_stem};
use crate::cache::TensorSpec;
use crate::corpus::OnnxJob;
use crate::graph::{DType, HostTensor, HostValue, ValueType};
use crate::onnx::{Bindings, OnnxFileInfo};
use crate::script::onnx_model::OnnxCall;
use crate::script::{self, Discovery, Labels};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(super) fn script_onnx_source(
    disc: &Discovery,
    call: &OnnxCall,
    job_labels: &Labels,
) -> OnnxSource {
    let mut labels = disc.labels.clone();
    crate::corpus::labels::merge(&mut labels, job_labels);
    OnnxSource {
        job: OnnxJob {
            path: call.path.clone(),
            stem: crate::corpus::onnx_stem(&call.path),
            sha256: None,
            bindings: Bindings::default(),
        },
        feed: Some(call.inputs.clone()),
        location: format!("{}:{}", disc.path.display(), call.line),
        labels,
        description: (!disc.description.is_empty()).then(|| disc.description.clone()),
        script_args: disc.script_args.clone(),
        executions: call.executions,
    }
}

/// An ONNX build, known before anything is written.
pub(super) struct PreparedOnnx {
    pub(super) name: String,
    /// sha256 over the file's sha256 and the input shapes.
    pub(super) hash: String,
    pub(super) file_sha256: String,
    pub(super) info: OnnxFileInfo,
    pub(super) feed: Vec<(String, HostValue)>,
    /// The kinds of data fed: `random`, `test_data_set_0`, `given+random`, ...
    pub(super) input_source: String,
    /// Where each input's data came from, in the model's order.
    pub(super) input_sources: Vec<String>,
    /// sha256 of each external data file, by its path relative to the model.
    pub(super) external_sha256: std::collections::BTreeMap<String, String>,
    pub(super) bindings: String,
    pub(super) batch: u64,
    pub(super) warnings: Vec<String>,
}

impl PreparedOnnx {
    pub(super) fn specs(&self) -> Vec<TensorSpec> {
        let mut specs: Vec<TensorSpec> = self
            .feed
            .iter()
            .map(|(n, v)| match v {
                HostValue::Tensor(t) => TensorSpec::new(n, &t.shape, t.dtype),
                other => {
                    let first = other.tensors().first().map(|t| t.shape.clone());
                    TensorSpec {
                        value: Some(other.describe()),
                        ..TensorSpec::new(n, &first.unwrap_or_default(), other.value_type().elem())
                    }
                }
            })
            .collect();
        for (s, src) in specs.iter_mut().zip(&self.input_sources) {
            s.source = Some(src.clone());
        }
        specs
    }
}

/// sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Random data for a model input: floats uniform in [0, 1), integers 0 or 1
/// (valid token ids, masks and indices into any axis), bools either,
/// strings short lowercase words.
pub fn random_input(dtype: DType, shape: &[usize], seed: u64) -> HostTensor {
    if dtype.is_string() {
        HostTensor::random_words(shape, seed)
    } else if dtype.is_float() {
        HostTensor::uniform(dtype, shape, 0.0, 1.0, seed)
    } else {
        HostTensor::randint(dtype, shape, 0, 2, seed)
    }
}

/// Random data for an input of type `ty` whose tensors have `shape`: a
/// sequence of two tensors, an optional holding its value, a map of three
/// entries.
pub fn random_value(ty: &ValueType, shape: &[usize], seed: u64) -> HostValue {
    match ty {
        ValueType::Tensor(d) => HostValue::Tensor(random_input(*d, shape, seed)),
        ValueType::Sequence(elem) => HostValue::Sequence {
            elem: (**elem).clone(),
            items: (0..2)
                .map(|k| random_value(elem, shape, seed.wrapping_add(1000 * (k + 1))))
                .collect(),
        },
        ValueType::Optional(inner) => HostValue::Optional {
            inner: (**inner).clone(),
            value: Some(Box::new(random_value(inner, shape, seed))),
        },
        // Three entries: keys 0, 1, 2 (or "0", "1", "2"), random values.
        ValueType::Map { key, value } => HostValue::Map {
            keys: HostTensor::from_fn(*key, &[3], |i| i as f64),
            values: random_input(*value, &[3], seed),
        },
    }
}

/// Checks the file (sha256, interface), chooses the input data and names
/// the build. Errors are one line naming the file.
pub(super) fn prepare_onnx(
    src: &OnnxSource,
    max_memory: Option<u64>,
) -> Result<PreparedOnnx, String> {
    let path = &src.job.path;
    let file = path.display();
    let sha = file_sha256(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{file}: no such file"),
        _ => format!("{file}: cannot read: {e}"),
    })?;
    if let Some(want) = &src.job.sha256
        && *want != sha
    {
        return Err(format!(
            "{file}: sha256 mismatch: the manifest says {want}, the file has {sha}; \
             the file is not used (replace it, or update sha256 if the new file is right)"
        ));
    }
    let info = crate::onnx::inspect(path).map_err(|e| e.to_string())?;
    // External data is part of the model: its sha256 joins the identity.
    let mdir = path.parent().unwrap_or(Path::new("."));
    let mut external_sha256 = std::collections::BTreeMap::new();
    for ext in crate::onnx::external_paths(path, &info).map_err(|e| e.to_string())? {
        let rel = ext.strip_prefix(mdir).unwrap_or(&ext).display().to_string();
        let h = file_sha256(&ext).map_err(|e| format!("{}: cannot read: {e}", ext.display()))?;
        external_sha256.insert(rel, h);
    }
    let io = &info.io;
    let b = &src.job.bindings;
    let mut warnings = Vec::new();
    for n in crate::onnx::unknown_shape_names(io, b) {
        let names: Vec<&str> = io.inputs.iter().map(|i| i.name.as_str()).collect();
        warnings.push(format!(
            "--shape {n}: the model has no input named '{n}' (its inputs: {})",
            names.join(", ")
        ));
    }
    for a in crate::onnx::unknown_axis_names(io, b) {
        warnings.push(format!(
            "--axis {a}: no input of the model has an axis named '{a}' (its axes: {})",
            crate::onnx::axis_names(io).join(", ")
        ));
    }
    let max_memory = max_memory.unwrap_or_else(crate::script::host::default_max_memory);
    let chosen = feed::choose(
        path,
        io,
        b,
        src.feed.as_deref(),
        &sha,
        max_memory,
        &mut warnings,
    )?;
    let feed = chosen.values;
    // A tensor describes itself as `float32[1, 3]`: hashes of tensor-only
    // builds are what they were before sequences and optionals.
    let shapes: Vec<String> = feed
        .iter()
        .map(|(n, v)| format!("{n}:{}", v.describe()))
        .collect();
    // The data fed is part of the identity: given values and test data add
    // their digest (random data follows from the file and the shapes).
    let digest = chosen
        .digest
        .as_ref()
        .map(|d| format!("\0data\0{d}"))
        .unwrap_or_default();
    let external: String = external_sha256
        .iter()
        .map(|(f, h)| format!("\0ext\0{f}\0{h}"))
        .collect();
    let hash = hex::encode(Sha256::digest(
        format!("onnx\0{sha}\0{}{digest}{external}", shapes.join("\0")).as_bytes(),
    ));
    let name = script::build_name(&safe_stem(&src.job.stem), &src.labels, &hash);
    Ok(PreparedOnnx {
        name,
        hash,
        file_sha256: sha,
        batch: batch_of(&info, &feed),
        info,
        feed,
        input_source: chosen.summary,
        input_sources: chosen.sources,
        external_sha256,
        bindings: b.describe(),
        warnings,
    })
}

/// Samples per inference: a bound axis named like a batch, else the first
/// axis of a first input of rank 2 or more, else 1.
pub(super) fn batch_of(info: &OnnxFileInfo, feed: &[(String, HostValue)]) -> u64 {
    let first = |v: &HostValue| v.tensors().first().map(|t| t.shape.clone());
    for (i, (_, v)) in info.io.inputs.iter().zip(feed) {
        let shape = first(v).unwrap_or_default();
        for (d, &n) in i.dims.iter().zip(&shape) {
            if let crate::onnx::Dim::Named(a) = d
                && a.to_ascii_lowercase().contains("batch")
            {
                return n.max(1) as u64;
            }
        }
    }
    match feed.first().and_then(|(_, v)| first(v)) {
        Some(s) if s.len() >= 2 => s[0].max(1) as u64,
        _ => 1,
    }
}

/// Puts copies of the model (and its external data files, under the same
/// relative names) into the build folder; then the inputs.
pub(super) fn store_onnx(
    model: &Path,
    info: &OnnxFileInfo,
    dir: &Path,
    feed: &[(String, HostValue)],
) -> Result<(), String> {
    let mut files = vec![(model.to_path_buf(), dir.join("model.onnx"))];
    let mdir = model.parent().unwrap_or(Path::new("."));
    for p in crate::onnx::external_paths(model, info).map_err(|e| e.to_string())? {
        let rel = p.strip_prefix(mdir).unwrap_or(&p).to_path_buf();
        files.push((p, dir.join(rel)));
    }
    for (from, to) in &files {
        place(from, to).map_err(|e| {
            format!(
                "cannot put {} into the cache at {}: {e}",
                from.display(),
                to.display()
            )
        })?;
    }
    let inputs_dir = dir.join("inputs");
    let _ = std::fs::remove_dir_all(&inputs_dir);
    std::fs::create_dir_all(&inputs_dir).map_err(|e| format!("{}: {e}", inputs_dir.display()))?;
    crate::onnx::write_values(&inputs_dir, "input", feed).map_err(|e| e.to_string())
}

/// Records an ONNX build's FLOPs, per op, and what was not counted and why.
/// `flops` is the total only when every node was counted: a partial sum
/// (`flops_partial`) would make achieved FLOP/s and % of peak wrong
/// without a word, so rows get none then.
pub(super) fn set_flops(
    id: &mut crate::cache::record::Identity,
    f: &Result<crate::onnx::flops::FlopCount, String>,
) {
    match f {
        Ok(c) => {
            let complete = c.not_counted.is_empty();
            id.flops = (complete && c.counted_any()).then_some(c.total);
            id.flops_partial = (!complete && c.counted_any()).then_some(c.total);
            id.flops_by_op = c.by_op.clone();
            id.flops_not_counted = c.not_counted.clone();
            id.flops_error = None;
        }
        Err(e) => {
            id.flops = None;
            id.flops_partial = None;
            id.flops_by_op.clear();
            id.flops_not_counted.clear();
            id.flops_error = Some(e.clone());
        }
    }
}

/// Checks the model and external data in the build folder against the
/// sha256s the build was named by.
pub(super) fn verify_copy(dir: &Path, p: &PreparedOnnx) -> Result<(), String> {
    let files = std::iter::once(("model.onnx".to_string(), &p.file_sha256))
        .chain(p.external_sha256.iter().map(|(f, h)| (f.clone(), h)));
    for (f, want) in files {
        let path = dir.join(&f);
        let got =
            file_sha256(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        if &got != want {
            return Err(format!(
                "{} has sha256 {got}, but the build is of a file with {want}",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Copies `from` to `to` (a reflink where the file system offers one, so
/// no data is duplicated), atomically replacing `to`. Never a hard link: the
/// user's later edits to `from` must not change what the cache holds.
pub(super) fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".{}.tmp{}",
        to.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    reflink_copy::reflink_or_copy(from, &tmp)?;
    // A file hard-linked by an older turnkey is replaced, not written through.
    std::fs::rename(&tmp, to)?;
    Ok(())
}
