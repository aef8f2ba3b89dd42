//! The data an ONNX build is fed, and where each input's data came from:
//! a script's tensors (`onnx::load`), values given with `--input` or a
//! manifest's `inputs`, ONNX's `test_data_set_0` beside the model, or
//! random data. Sizes are checked against `--max-memory` before anything
//! is allocated.

use super::random_value;
use crate::graph::{HostTensor, HostValue};
use crate::onnx::{Bindings, Dim, ModelIo};
use crate::script::host::human_bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// What a build is fed.
pub(super) struct Feed {
    /// One value per model input, in the model's order.
    pub values: Vec<(String, HostValue)>,
    /// Per input: `random`, `script`, `test_data_set_0/input_1.pb`,
    /// `value 16000`, `file img.npy`.
    pub sources: Vec<String>,
    /// The kinds, joined: `random`, `script`, `test_data_set_0`, `given`,
    /// `given+random`, ...
    pub summary: String,
    /// sha256 over the data of every input not random (random data follows
    /// from the file and the shapes, which the build hash has already).
    pub digest: Option<String>,
}

/// Kind of a source, for [`Feed::summary`].
fn kind(source: &str) -> &str {
    match source {
        "random" | "script" => source,
        s if s.starts_with("test_data_set_0") => "test_data_set_0",
        _ => "given",
    }
}

/// Chooses each input's data. Errors are one line naming the file.
pub(super) fn choose(
    path: &Path,
    io: &ModelIo,
    b: &Bindings,
    script_feed: Option<&[(String, HostTensor)]>,
    file_sha: &str,
    max_memory: u64,
    warnings: &mut Vec<String>,
) -> Result<Feed, String> {
    let file = path.display();
    let bad = |e: crate::onnx::BindError| format!("{file}: {e}");
    if let Some(f) = script_feed {
        let f = f
            .iter()
            .map(|(n, t)| (n.clone(), HostValue::Tensor(t.clone())))
            .collect();
        let values = crate::onnx::check_feed(io, b, f).map_err(bad)?;
        let sources = vec!["script".to_string(); values.len()];
        return Ok(finish(values, sources));
    }
    let names: Vec<&str> = io.inputs.iter().map(|i| i.name.as_str()).collect();
    // Given values first: they may size axes that other inputs share.
    let mut given: BTreeMap<String, (HostTensor, String)> = BTreeMap::new();
    let mut bound = b.clone();
    for (name, v) in &b.values {
        let i = io.inputs.iter().find(|i| &i.name == name).ok_or_else(|| {
            format!(
                "{file}: --input {name}: the model has no input named '{name}' (its inputs: {})",
                names.join(", ")
            )
        })?;
        let t = v.load(i, b).map_err(|e| format!("{file}: {e}"))?;
        for (d, &n) in i.dims.iter().zip(&t.shape) {
            if let Dim::Named(a) = d {
                bound.axes.entry(a.clone()).or_insert(n);
            }
        }
        bound.shapes.insert(name.clone(), t.shape.clone());
        let source = match v {
            crate::onnx::InputValue::Literal(_) => format!("value {v}"),
            crate::onnx::InputValue::File(_) => format!("file {v}"),
        };
        given.insert(name.clone(), (t, source));
    }
    let with_given = |mut values: Vec<(String, HostValue)>, sources: &mut Vec<String>| {
        for ((n, v), s) in values.iter_mut().zip(sources.iter_mut()) {
            if let Some((t, src)) = given.get(n) {
                *v = HostValue::Tensor(t.clone());
                *s = src.clone();
            }
        }
        values
    };

    // ONNX's test data, when it fits (given values replace its inputs).
    match crate::onnx::test_data_inputs(path, io) {
        Some(Ok(t)) => {
            let mut sources: Vec<String> = (0..t.len())
                .map(|k| format!("test_data_set_0/input_{k}.pb"))
                .collect();
            let order: Vec<String> = t.iter().map(|(n, _)| n.clone()).collect();
            let t = with_given(t, &mut sources);
            match crate::onnx::check_feed(io, &bound, t) {
                Ok(values) => {
                    // check_feed puts the values in the model's order.
                    let by_name: BTreeMap<&str, &String> =
                        order.iter().map(String::as_str).zip(&sources).collect();
                    let sources = values
                        .iter()
                        .map(|(n, _)| {
                            by_name
                                .get(n.as_str())
                                .map_or("random".into(), |s| (*s).clone())
                        })
                        .collect();
                    return Ok(finish(values, sources));
                }
                Err(e) => {
                    if b.axes.is_empty() && b.shapes.is_empty() {
                        warnings.push(format!(
                            "the test data beside the model does not fit it ({e}): random inputs used"
                        ));
                    }
                }
            }
        }
        Some(Err(e)) => warnings.push(format!(
            "the test data beside the model cannot be read ({e}): random inputs used"
        )),
        None => {}
    }

    // Random data for the rest, sized before it is made.
    let inputs = crate::onnx::bind_inputs(io, &bound).map_err(bad)?;
    let mut total: u64 = 0;
    for i in inputs.iter().filter(|i| !given.contains_key(&i.name)) {
        let n = i
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .and_then(|n| i.dtype.checked_byte_len(n.max(1)))
            .map(|n| n as u64)
            .unwrap_or(u64::MAX);
        // A sequence holds two such tensors.
        let n = if matches!(i.ty, crate::graph::ValueType::Sequence(_)) {
            n.saturating_mul(2)
        } else {
            n
        };
        total = total.saturating_add(n);
        if total > max_memory {
            return Err(format!(
                "{file}: input '{}' {} {} would take {}, over the --max-memory limit of {} \
                 for all inputs: use smaller shapes (--shape, --axis) or raise --max-memory",
                i.name,
                i.dtype,
                crate::graph::shape_str(&i.shape),
                human_bytes(n),
                human_bytes(max_memory)
            ));
        }
    }
    let seed = u64::from_le_bytes(
        Sha256::digest(file_sha.as_bytes())[..8]
            .try_into()
            .expect("8 bytes"),
    );
    let mut sources = vec!["random".to_string(); inputs.len()];
    let values = inputs
        .iter()
        .enumerate()
        .map(|(k, i)| {
            if given.contains_key(&i.name) {
                // Replaced below; no random data is made for it.
                (
                    i.name.clone(),
                    HostValue::Tensor(HostTensor::zeros(i.dtype, &[])),
                )
            } else {
                let seed = seed.wrapping_add(k as u64);
                (i.name.clone(), random_value(&i.ty, &i.shape, seed))
            }
        })
        .collect();
    let values = with_given(values, &mut sources);
    // Same order as `inputs` (the model's), so `sources` still lines up.
    let values = crate::onnx::check_feed(io, &bound, values).map_err(bad)?;
    Ok(finish(values, sources))
}

/// Adds the summary and the digest to values and their sources.
fn finish(values: Vec<(String, HostValue)>, sources: Vec<String>) -> Feed {
    let mut kinds: Vec<&str> = Vec::new();
    for s in &sources {
        let k = kind(s);
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds.sort_unstable();
    let summary = if kinds.is_empty() {
        "random".to_string()
    } else {
        kinds.join("+")
    };
    let mut h = Sha256::new();
    let mut any = false;
    for ((n, v), s) in values.iter().zip(&sources) {
        if s == "random" {
            continue;
        }
        any = true;
        h.update(n.as_bytes());
        h.update([0]);
        h.update(v.describe().as_bytes());
        for t in v.tensors() {
            h.update([0]);
            h.update(&t.data);
        }
        h.update([0]);
    }
    Feed {
        values,
        summary,
        digest: any.then(|| hex::encode(h.finalize())),
        sources,
    }
}
