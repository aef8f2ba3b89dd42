//! Real weights for script models: `model.load_weights(...)` opens a
//! safetensors checkpoint (a file, a sharded index, a folder, or a repo id
//! in the local Hugging Face cache), matches its tensors to the model's
//! parameters by their state_dict names, and returns the model with those
//! parameters bound to slices of the files. Nothing is read but headers
//! until export, which streams each tensor from its memory-mapped file
//! (graph::weights). `load_tensors(path)` reads a small safetensors file
//! of inputs as concrete tensors.

pub mod bind;
pub mod checkpoint;
pub mod hub;

use super::host::Host;
use super::model::Model;
use crate::graph::{FileSlice, HostTensor};
use bind::BindOptions;
use checkpoint::Checkpoint;
use rhai::{Dynamic, Map};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A model's parameters bound to checkpoint tensors, by parameter id.
#[derive(Debug, Default)]
pub struct LoadedWeights {
    pub by_param: HashMap<u64, FileSlice>,
}

/// Where a script may read files, and the `--weights` given on the
/// command line.
#[derive(Clone, Debug, Default)]
pub struct FileAccess {
    /// The script's folder: relative paths start here.
    pub dir: PathBuf,
    /// `--weights PATH` (absolute): what `pretrained: true` loads.
    pub weights: Option<PathBuf>,
}

/// What a script names as the source of weights.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A path (relative to the script's folder) inside the sandbox.
    Path(String),
    /// `hf:ORG/NAME[@REVISION]`, or a config's `repo`.
    Repo { repo: String, revision: String },
    /// `--weights PATH` from the command line.
    CommandLine(PathBuf),
}

impl Source {
    /// `hf:org/name@rev` is a repo id; anything else a path.
    pub fn parse(s: &str) -> Source {
        match s.strip_prefix("hf:") {
            Some(rest) => {
                let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
                Source::Repo {
                    repo: repo.to_string(),
                    revision: revision.to_string(),
                }
            }
            None => Source::Path(s.to_string()),
        }
    }

    fn shown(&self) -> String {
        match self {
            Source::Path(p) => p.clone(),
            Source::Repo { repo, revision } => format!("hf:{repo}@{revision}"),
            Source::CommandLine(p) => p.display().to_string(),
        }
    }
}

/// A script path resolved inside the sandbox (the script's folder or the
/// models dir, as for onnx::load).
pub fn sandboxed(access: &FileAccess, what: &str, path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        access.dir.join(p)
    };
    let roots = super::onnx_model::allowed_roots(&access.dir);
    if !super::onnx_model::is_under(&full, &roots) {
        return Err(format!(
            "{what}(\"{path}\"): not allowed: scripts read files only from their own folder ({}) \
             or the models dir ({}); move the file there, or pass weights with --weights PATH",
            access.dir.display(),
            crate::corpus::manifest::models_dir()
                .map_or("unset".into(), |d| d.display().to_string())
        ));
    }
    Ok(full)
}

/// Opens the checkpoint `source` names.
pub fn open(access: &FileAccess, source: &Source) -> Result<Checkpoint, String> {
    let shown = source.shown();
    match source {
        Source::Path(p) => {
            let full = sandboxed(access, "load_weights", p)?;
            Checkpoint::open(&full, &shown)
        }
        Source::Repo { repo, revision } => {
            let snap = hub::snapshot(repo, revision)?;
            Checkpoint::open(&snap, &shown)
        }
        Source::CommandLine(p) => Checkpoint::open(p, &format!("--weights {}", p.display())),
    }
}

/// Binds the checkpoint of `source` to `model`; returns the model with its
/// weights, and notes for the build's warnings.
pub fn load(
    access: &FileAccess,
    model: &Model,
    source: &Source,
    opts: &BindOptions,
) -> Result<(Model, Vec<String>), String> {
    let ck = open(access, source)?;
    let bound = bind::bind(model, &ck, opts)?;
    let mut by_param = model
        .weights
        .as_ref()
        .map(|w| w.by_param.clone())
        .unwrap_or_default();
    by_param.extend(bound.by_param);
    let mut m = model.clone();
    m.weights = Some(Arc::new(LoadedWeights { by_param }));
    Ok((m, bound.notes))
}

/// The option keys of `load_weights(source, opts)`.
pub const OPTION_KEYS: &[&str] = &["strict", "prefix", "ignore", "aliases"];

/// Reads the binding options from a map (a load's options, or a builder's
/// config, whose other keys are the builder's).
pub fn bind_options(m: &Map) -> Result<BindOptions, String> {
    let mut o = BindOptions {
        strict: true,
        ..Default::default()
    };
    if let Some(v) = m.get("strict") {
        o.strict = v
            .as_bool()
            .map_err(|t| format!("strict takes true or false, got {t}"))?;
    }
    if let Some(v) = m.get("prefix") {
        o.prefix = Some(
            v.clone()
                .into_string()
                .map_err(|t| format!("prefix takes a string, got {t}"))?,
        );
    }
    if let Some(v) = m.get("ignore") {
        let items = v
            .clone()
            .into_typed_array::<rhai::ImmutableString>()
            .map_err(|t| format!("ignore takes an array of key patterns (strings), got {t}"))?;
        for g in items {
            o.ignore.push(
                glob::Pattern::new(&g)
                    .map_err(|e| format!("ignore: \"{g}\" is not a pattern: {e}"))?,
            );
        }
    }
    if let Some(v) = m.get("aliases") {
        let map = v
            .clone()
            .try_cast::<Map>()
            .ok_or("aliases takes a map of checkpoint key -> model parameter name")?;
        for (k, v) in map {
            let name = v
                .into_string()
                .map_err(|t| format!("aliases: \"{k}\" maps to {t}, not a parameter name"))?;
            o.aliases.insert(k.to_string(), name);
        }
    }
    Ok(o)
}

/// What a builder config asks for: `weights: "path"`, or `pretrained:
/// true` (with `--weights PATH`, else the config's `repo` and `revision`
/// in the Hugging Face cache); None when it asks for no weights.
pub fn config_source(access: &FileAccess, config: &Map) -> Result<Option<Source>, String> {
    let text = |k: &str| -> Result<Option<String>, String> {
        match config.get(k) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v
                .clone()
                .into_string()
                .map(Some)
                .map_err(|t| format!("{k} takes a string, got {t}")),
        }
    };
    if let Some(w) = text("weights")? {
        return Ok(Some(Source::parse(&w)));
    }
    let pretrained = match config.get("pretrained") {
        None => false,
        Some(v) if v.is_unit() => false,
        Some(v) => v
            .as_bool()
            .map_err(|t| format!("pretrained takes true or false, got {t}"))?,
    };
    if !pretrained {
        return Ok(None);
    }
    if let Some(p) = &access.weights {
        return Ok(Some(Source::CommandLine(p.clone())));
    }
    match text("repo")? {
        Some(repo) => Ok(Some(Source::Repo {
            repo,
            revision: text("revision")?.unwrap_or_else(|| "main".into()),
        })),
        None => Err(
            "pretrained: true, but no --weights was given and the config names no repo id: pass \
             --weights PATH, or give the builder weights: \"file.safetensors\" or repo: \"org/name\""
                .into(),
        ),
    }
}

/// The weights of every model reachable from `root`, by parameter id: a
/// model's own load wins over a load of a model inside it.
pub fn bindings(root: &Model) -> HashMap<u64, FileSlice> {
    let mut out = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    collect(root, &mut out, &mut seen);
    out
}

fn collect(
    m: &Model,
    out: &mut HashMap<u64, FileSlice>,
    seen: &mut std::collections::HashSet<(u64, usize)>,
) {
    let key = (
        m.def.uid,
        m.weights.as_ref().map_or(0, |w| Arc::as_ptr(w) as usize),
    );
    if !seen.insert(key) {
        return;
    }
    if let Some(w) = &m.weights {
        for (k, v) in &w.by_param {
            out.entry(*k).or_insert_with(|| v.clone());
        }
    }
    for (_, c) in &m.def.children {
        collect(c, out, seen);
    }
}

/// `load_tensors(path)`: every tensor of a safetensors file, by name.
pub fn load_tensors(host: &Host, access: &FileAccess, path: &str) -> Result<Map, String> {
    let full = sandboxed(access, "load_tensors", path)?;
    let ck = Checkpoint::open(&full, path).map_err(|e| format!("load_tensors: {e}"))?;
    let mut out = Map::new();
    for (key, e) in &ck.tensors {
        let Some(dtype) = e.dtype.filter(|d| d.in_scripts()) else {
            return Err(format!(
                "load_tensors(\"{path}\"): {key} is stored as {}, which scripts cannot hold",
                e.stored
            ));
        };
        let slice = ck.slice(key);
        host.lock().reserve(
            slice.nbytes() as u64,
            &format!("load_tensors(\"{path}\"): {key}"),
        )?;
        let mut data = vec![0u8; slice.nbytes()];
        slice.write_into(dtype, &mut data)?;
        let t = HostTensor {
            dtype,
            shape: e.shape.clone(),
            data,
        };
        out.insert(
            key.as_str().into(),
            Dynamic::from(super::tensor::Tensor::concrete(t)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
