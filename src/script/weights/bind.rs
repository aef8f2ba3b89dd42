//! Matching a checkpoint's tensors to a model's parameters by their
//! PyTorch state_dict names, as `load_state_dict` does, with what Hugging
//! Face's loader adds: a checkpoint saved with a head under a prefix
//! (`bert.` of BertForPreTraining) or without the wrapper's (`transformer.`
//! of GPT2LMHeadModel), legacy `gamma`/`beta` LayerNorm names, and tied
//! weights saved under any of their names.

use super::super::model::{Layer, Model, param_dtype};
use super::checkpoint::Checkpoint;
use crate::graph::weights::convertible;
use crate::graph::{DType, FileSlice, shape_str};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How a load may deviate from an exact match.
#[derive(Clone, Debug, Default)]
pub struct BindOptions {
    /// false: load what fits, keep the rest random, say so.
    pub strict: bool,
    /// The checkpoint's keys are the model's names under this prefix.
    pub prefix: Option<String>,
    /// Checkpoint keys to leave out (globs: `*.attn.bias`).
    pub ignore: Vec<glob::Pattern>,
    /// More checkpoint keys of a parameter: checkpoint key -> model name
    /// (a tied head saved as `lm_head.weight`).
    pub aliases: BTreeMap<String, String>,
}

/// Buffers PyTorch checkpoints hold that no turnkey model has.
const ALWAYS_IGNORED: &[&str] = &["*num_batches_tracked"];

/// One parameter of the model with every name it has (a module reachable
/// by several paths, e.g. T5's shared embedding, has several).
struct ModelParam {
    uid: u64,
    names: Vec<String>,
    shape: Vec<usize>,
    dtype: DType,
}

/// What a successful load binds, and what to tell the user.
pub struct Bound {
    pub by_param: HashMap<u64, FileSlice>,
    pub notes: Vec<String>,
}

/// At most this many paths per module are followed (names of tied weights).
const MAX_PATHS: usize = 16;

/// At most this many prefixes are tried.
const MAX_CANDIDATES: usize = 64;

fn model_params(root: &Model) -> Vec<ModelParam> {
    let mut out: Vec<ModelParam> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut visits: HashMap<u64, usize> = HashMap::new();
    walk(root, "", root.dtype, &mut out, &mut index, &mut visits);
    out
}

fn walk(
    m: &Model,
    path: &str,
    dtype: Option<DType>,
    out: &mut Vec<ModelParam>,
    index: &mut HashMap<u64, usize>,
    visits: &mut HashMap<u64, usize>,
) {
    let n = visits.entry(m.def.uid).or_default();
    *n += 1;
    if *n > MAX_PATHS {
        return;
    }
    let dtype = m.dtype.or(dtype);
    for p in &m.def.params {
        let name = super::super::naming::join(path, &p.local);
        match index.get(&p.uid) {
            Some(&i) => {
                if !out[i].names.contains(&name) {
                    out[i].names.push(name);
                }
            }
            None => {
                index.insert(p.uid, out.len());
                out.push(ModelParam {
                    uid: p.uid,
                    names: vec![name],
                    shape: p.param.info.shape.clone(),
                    dtype: param_dtype(&p.param, dtype),
                });
            }
        }
    }
    for (name, child) in &m.def.children {
        let p = if matches!(child.def.layer, Layer::Parameter) {
            path.to_string()
        } else {
            super::super::naming::join(path, name)
        };
        walk(child, &p, dtype, out, index, visits);
    }
}

/// How model names become checkpoint keys.
#[derive(Clone, Debug, PartialEq)]
enum Prefix {
    None,
    /// key = prefix + name (a checkpoint saved with a head around the model).
    Checkpoint(String),
    /// name = prefix + key (the model wraps what the checkpoint holds).
    Model(String),
}

impl Prefix {
    fn key(&self, name: &str) -> Option<String> {
        match self {
            Prefix::None => Some(name.to_string()),
            Prefix::Checkpoint(p) => Some(format!("{p}{name}")),
            Prefix::Model(p) => name.strip_prefix(p.as_str()).map(str::to_string),
        }
    }

    /// Whether checkpoint key `k` is meant for the model at all.
    fn in_scope(&self, k: &str) -> bool {
        match self {
            Prefix::Checkpoint(p) => k.starts_with(p.as_str()),
            _ => true,
        }
    }
}

/// Checkpoint keys by the name they stand for: themselves, and for legacy
/// LayerNorm keys `x.gamma`/`x.beta` also `x.weight`/`x.bias`.
fn normalized(ck: &Checkpoint) -> HashMap<String, String> {
    let mut map: HashMap<String, String> =
        ck.tensors.keys().map(|k| (k.clone(), k.clone())).collect();
    for k in ck.tensors.keys() {
        let alt = if let Some(b) = k.strip_suffix(".gamma") {
            format!("{b}.weight")
        } else if let Some(b) = k.strip_suffix(".beta") {
            format!("{b}.bias")
        } else {
            continue;
        };
        map.entry(alt).or_insert_with(|| k.clone());
    }
    map
}

/// `whole` minus `part` at its end, when what is left ends at a dot.
fn prefix_before(whole: &str, part: &str) -> Option<String> {
    let p = whole.strip_suffix(part)?;
    (!p.is_empty() && p.ends_with('.')).then(|| p.to_string())
}

/// The prefix that matches the most parameters (no prefix wins ties).
/// Candidates come from names that one side holds under a prefix of the
/// other: `model.encoder.conv1.weight` for `conv1.weight` gives
/// `model.encoder.`.
fn choose_prefix(
    params: &[ModelParam],
    keys: &HashMap<String, String>,
    opts: &BindOptions,
) -> Prefix {
    if let Some(p) = &opts.prefix {
        return if p.is_empty() {
            Prefix::None
        } else {
            Prefix::Checkpoint(p.clone())
        };
    }
    let score = |pre: &Prefix| {
        params
            .iter()
            .filter(|p| {
                p.names
                    .iter()
                    .any(|n| pre.key(n).is_some_and(|k| keys.contains_key(&k)))
            })
            .count()
    };
    let none = score(&Prefix::None);
    if none == params.len() {
        return Prefix::None;
    }
    // A few parameters suffice to find the candidates.
    let mut candidates: Vec<Prefix> = Vec::new();
    for p in params.iter().take(32) {
        let name = &p.names[0];
        for k in keys.keys() {
            let c = if let Some(pre) = prefix_before(k, name) {
                Prefix::Checkpoint(pre)
            } else if let Some(pre) = prefix_before(name, k) {
                Prefix::Model(pre)
            } else {
                continue;
            };
            if !candidates.contains(&c) && candidates.len() < MAX_CANDIDATES {
                candidates.push(c);
            }
        }
    }
    let mut best = (none, Prefix::None);
    for c in candidates {
        let s = score(&c);
        if s > best.0 || (s == best.0 && s > 0 && prefix_len(&c) < prefix_len(&best.1)) {
            best = (s, c);
        }
    }
    best.1
}

fn prefix_len(p: &Prefix) -> usize {
    match p {
        Prefix::None => 0,
        Prefix::Checkpoint(s) | Prefix::Model(s) => s.len(),
    }
}

/// "a, b, c and 4 more"
fn few(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// Matches `ck` to `model`. An error is one line naming the checkpoint,
/// the first few keys of each problem and their counts.
pub fn bind(model: &Model, ck: &Checkpoint, opts: &BindOptions) -> Result<Bound, String> {
    let mut params = model_params(model);
    for (key, name) in &opts.aliases {
        if let Some(p) = params.iter_mut().find(|p| p.names.contains(name)) {
            p.names.push(format!("\u{0}{key}"));
        }
    }
    let ignored = |k: &str| {
        ALWAYS_IGNORED
            .iter()
            .any(|g| glob::Pattern::new(g).is_ok_and(|g| g.matches(k)))
            || opts.ignore.iter().any(|g| g.matches(k))
    };
    let mut keys = normalized(ck);
    keys.retain(|_, k| !ignored(k));
    let prefix = choose_prefix(&params, &keys, opts);
    let key_of = |name: &str| -> Option<String> {
        // An alias from opts.aliases is a checkpoint key as it is.
        match name.strip_prefix('\u{0}') {
            Some(k) => keys.get(k).cloned(),
            None => prefix.key(name).and_then(|k| keys.get(&k).cloned()),
        }
    };
    let mut consumed: HashSet<String> = HashSet::new();
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    let mut by_param = HashMap::new();
    let mut converted: BTreeMap<String, usize> = BTreeMap::new();
    for p in &params {
        let mut found: Vec<String> = Vec::new();
        for n in &p.names {
            if let Some(k) = key_of(n)
                && !found.contains(&k)
            {
                found.push(k);
            }
        }
        let Some(key) = found.first() else {
            missing.push(p.names[0].clone());
            continue;
        };
        consumed.extend(found.iter().cloned());
        let e = &ck.tensors[key];
        let problem = match e.dtype {
            None => Some(format!(
                "{key}: stored as {}, which turnkey cannot hold",
                e.stored
            )),
            Some(_) if e.shape != p.shape => Some(format!(
                "{key}: checkpoint {} vs model {}",
                shape_str(&e.shape),
                shape_str(&p.shape)
            )),
            Some(d) if !convertible(d, p.dtype) => Some(format!(
                "{key}: stored as {d}, which does not convert to the parameter's {}",
                p.dtype
            )),
            Some(_) => None,
        };
        if let Some(why) = problem {
            mismatched.push(why);
            continue;
        }
        for other in &found[1..] {
            tied_alike(ck, key, other)?;
        }
        let slice = ck.slice(key);
        if slice.dtype != p.dtype {
            *converted
                .entry(format!("{} to {}", slice.dtype, p.dtype))
                .or_default() += 1;
        }
        by_param.insert(p.uid, slice);
    }
    let mut unexpected = Vec::new();
    let mut outside = Vec::new();
    for k in ck.tensors.keys() {
        if consumed.contains(k) || ignored(k) {
            continue;
        }
        if prefix.in_scope(k) {
            unexpected.push(k.clone());
        } else {
            outside.push(k.clone());
        }
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("{} missing ({})", missing.len(), few(&missing)));
    }
    if !unexpected.is_empty() {
        problems.push(format!(
            "{} unexpected ({})",
            unexpected.len(),
            few(&unexpected)
        ));
    }
    if !mismatched.is_empty() {
        problems.push(format!(
            "{} of another shape or type ({})",
            mismatched.len(),
            few(&mismatched)
        ));
    }
    let class = model.class();
    let mut notes = Vec::new();
    if !problems.is_empty() {
        if opts.strict {
            return Err(format!(
                "{}: the checkpoint does not fit {class}: {}; fix the names or shapes, or pass \
                 #{{ strict: false }} to load what fits",
                ck.name,
                problems.join(", ")
            ));
        }
        notes.push(format!(
            "{}: loaded {} of {class}'s {} tensors; not loaded: {} (those keep random weights)",
            ck.name,
            by_param.len(),
            params.len(),
            problems.join(", ")
        ));
    }
    match &prefix {
        Prefix::Checkpoint(p) if !outside.is_empty() => notes.push(format!(
            "{}: {class} is read from the keys under \"{p}\"; {} other tensors are left out ({})",
            ck.name,
            outside.len(),
            few(&outside)
        )),
        _ => {}
    }
    for (pair, n) in &converted {
        notes.push(format!(
            "{}: {n} tensors converted from {pair} on load",
            ck.name
        ));
    }
    Ok(Bound { by_param, notes })
}

/// Two checkpoint keys of one tied parameter must hold the same values.
fn tied_alike(ck: &Checkpoint, a: &str, b: &str) -> Result<(), String> {
    let (ea, eb) = (&ck.tensors[a], &ck.tensors[b]);
    let read = |k: &str| -> Result<Vec<u8>, String> {
        let s = ck.slice(k);
        let mut out = vec![0u8; s.nbytes()];
        s.write_into(s.dtype, &mut out)?;
        Ok(out)
    };
    if ea.dtype != eb.dtype || ea.shape != eb.shape || read(a)? != read(b)? {
        return Err(format!(
            "{}: {a} and {b} name one tied parameter of the model but hold different values: \
             the checkpoint is not of this model (or pass #{{ ignore: [\"{b}\"] }})",
            ck.name
        ));
    }
    Ok(())
}
