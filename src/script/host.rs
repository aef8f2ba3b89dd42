//! The host's state while a script runs: argument bookkeeping, seeds, the
//! active trace, and the model calls recorded so far.

use super::args::ScriptArgs;
use super::tensor::{Tensor, TensorKind};
use crate::graph::{DType, Graph, GraphError, HostTensor, Op, Param, TypeInfo, ValueId};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

/// Computes real outputs for a traced call (used by `turnkey run`); when
/// absent, calls return placeholder values of the right shape and dtype.
pub type Executor =
    Arc<dyn Fn(&Graph, &[(String, HostTensor)]) -> Result<Vec<HostTensor>, String> + Send + Sync>;

/// One recorded model call: a build candidate.
#[derive(Clone, Debug)]
pub struct Call {
    pub graph: Graph,
    pub inputs: Vec<(String, HostTensor)>,
    pub line: usize,
    /// 0 for a top-level call; N for a sub-model built by `--max-depth N`.
    pub depth: usize,
    /// Index (in the call list) of the top-level call a sub-model came from.
    pub parent: Option<usize>,
    /// `lm.generate`: the decode graph beside this (prefill) graph.
    pub generation: Option<Box<super::generate::Generation>>,
}

/// A sub-model call inside a trace, kept for `--max-depth`.
#[derive(Clone, Debug)]
pub struct SubCall {
    pub class: String,
    /// Its module path in the traced model (its parameters' prefix).
    pub path: String,
    pub depth: usize,
    pub nodes: Range<usize>,
    pub inputs: Vec<(String, ValueId)>,
    pub outputs: Vec<(String, ValueId)>,
    pub line: usize,
}

#[derive(Default)]
struct Scope {
    path: String,
    counters: HashMap<String, usize>,
}

/// The graph being recorded for the current top-level call.
pub struct Trace {
    pub id: u64,
    pub graph: Graph,
    pub depth: usize,
    scopes: Vec<Scope>,
    params: HashMap<(u64, DType), ValueId>,
    pub subs: Vec<SubCall>,
    /// The module path of every model reachable from the called one
    /// (naming::module_paths): what its parameters are named after.
    pub paths: HashMap<u64, String>,
    /// Parameter names given so far, and whose (parameter id) they are.
    names: HashMap<String, u64>,
    /// Two parameters that would share one name (reported after the call).
    pub name_clash: Option<String>,
    /// Parameters loaded from checkpoints (weights::bindings), by id.
    pub bindings: HashMap<u64, crate::graph::FileSlice>,
}

impl Trace {
    fn new(id: u64, class: &str) -> Self {
        Trace {
            id,
            graph: Graph::new(class),
            depth: 0,
            scopes: vec![Scope::default()],
            params: HashMap::new(),
            subs: Vec::new(),
            paths: HashMap::new(),
            names: HashMap::new(),
            name_clash: None,
            bindings: HashMap::new(),
        }
    }

    pub fn scope_path(&self) -> &str {
        &self.scopes.last().expect("root scope").path
    }

    /// Enters the child module `uid`: its scope is its module path. A model
    /// the called one does not hold (made inside a forward) is named
    /// `segment` under the current scope, else after its class with a
    /// per-parent counter.
    pub fn enter(&mut self, uid: u64, class: &str, segment: Option<String>) {
        let path = match self.paths.get(&uid) {
            Some(p) => p.clone(),
            None => {
                let parent = self.scopes.last_mut().expect("root scope");
                let seg = segment.unwrap_or_else(|| {
                    let base = class.to_lowercase();
                    let n = parent.counters.entry(base.clone()).or_insert(0);
                    *n += 1;
                    format!("{base}{}", *n - 1)
                });
                super::naming::join(&parent.path, &seg)
            }
        };
        self.scopes.push(Scope {
            path,
            counters: HashMap::new(),
        });
        self.depth += 1;
    }

    pub fn leave(&mut self) {
        self.scopes.pop();
        self.depth -= 1;
    }

    /// The graph value of parameter `uid` (named `local` in its model
    /// `owner`), added on first use: a shared weight appears once, named
    /// after the first module path that holds it. `dtype` overrides the
    /// parameter's own (model.half()).
    pub fn param(
        &mut self,
        owner: u64,
        uid: u64,
        local: &str,
        p: &Param,
        dtype: Option<DType>,
    ) -> ValueId {
        let dt = dtype.unwrap_or(p.info.dtype);
        if let Some(&v) = self.params.get(&(uid, dt)) {
            return v;
        }
        let path = self
            .paths
            .get(&owner)
            .map_or_else(|| self.scope_path().to_string(), Clone::clone);
        let name = super::naming::join(&path, local);
        match self.names.get(&name) {
            Some(&other) if other != uid && self.name_clash.is_none() => {
                self.name_clash = Some(format!(
                    "two parameters would both be named \"{name}\"; give the modules that \
                     hold them different names"
                ));
            }
            _ => {
                self.names.insert(name.clone(), uid);
            }
        }
        let mut param = p.clone();
        param.name = name;
        param.info.dtype = dt;
        if let Some(slice) = self.bindings.get(&uid) {
            param.init = crate::graph::Init::File(slice.clone());
        }
        let v = self.graph.add_param(param);
        self.params.insert((uid, dt), v);
        v
    }

    /// The graph value for a tensor used in this trace.
    pub fn value_of(&mut self, t: &Tensor) -> Result<ValueId, String> {
        match &t.0 {
            TensorKind::Traced { trace, value, .. } if *trace == self.id => Ok(*value),
            TensorKind::Traced { .. } => Err(
                "this tensor belongs to an earlier model call; pass it as an input instead of keeping it in a variable".into(),
            ),
            TensorKind::Concrete(h) => Ok(self.graph.add_const((**h).clone())),
        }
    }

    /// Adds `op` over `inputs`; returns the traced outputs.
    pub fn apply(&mut self, op: Op, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        let ids = inputs
            .iter()
            .map(|t| self.value_of(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.apply_ids(op, &ids)
    }

    pub fn apply_ids(&mut self, op: Op, ids: &[ValueId]) -> Result<Vec<Tensor>, String> {
        let scope = self.scope_path().replace('.', "/");
        let outs = self
            .graph
            .add_node(op, ids, &scope)
            .map_err(|e: GraphError| e.to_string())?;
        Ok(outs
            .into_iter()
            .map(|v| Tensor::traced(self.id, v, self.graph.info(v).clone()))
            .collect())
    }

    pub fn tensor(&self, v: ValueId) -> Tensor {
        Tensor::traced(self.id, v, self.graph.info(v).clone())
    }
}

pub struct HostState {
    pub args: ScriptArgs,
    pub asked: BTreeSet<String>,
    pub max_depth: usize,
    seed: u64,
    next_uid: u64,
    next_trace: u64,
    pub trace: Option<Trace>,
    pub calls: Vec<Call>,
    pub executor: Option<Executor>,
    /// Bytes of tensors and parameters the script asked for so far.
    pub requested_bytes: u64,
    /// `--max-memory`: what the script may ask for in all (bytes).
    pub max_memory: u64,
    /// `--analyze-only`: model weights are never made (not limited).
    pub analyze_only: bool,
    /// Parameter names of the compiled script functions: nn::module names
    /// its children after the variables its closure captures.
    pub fn_params: super::naming::FnParams,
    /// Where load_weights and load_tensors may read, and `--weights`.
    pub files: super::weights::FileAccess,
    /// Whether a load used `--weights` (else it was given for nothing).
    pub weights_used: bool,
    /// Notes for the build's warnings (tensors converted, left out, ...).
    pub notes: Vec<String>,
    /// `record_config(builder, config)`: each builder's config after its
    /// defaults, in call order (tests/zoo_config.rs compares them with the
    /// reference library's).
    pub configs: Vec<(String, serde_json::Value)>,
}

impl HostState {
    pub fn new(args: ScriptArgs, max_depth: usize, executor: Option<Executor>) -> Self {
        HostState {
            args,
            asked: BTreeSet::new(),
            max_depth,
            seed: 0,
            next_uid: 0,
            next_trace: 0,
            trace: None,
            calls: Vec::new(),
            executor,
            requested_bytes: 0,
            max_memory: default_max_memory(),
            analyze_only: false,
            fn_params: Default::default(),
            files: Default::default(),
            weights_used: false,
            notes: Vec::new(),
            configs: Vec::new(),
        }
    }

    /// Accounts for `bytes` more of script data, or says why it cannot be
    /// had: checked before anything is allocated.
    pub fn reserve(&mut self, bytes: u64, what: &str) -> Result<(), String> {
        self.fits(bytes, what)?;
        self.requested_bytes += bytes;
        Ok(())
    }

    /// Whether `bytes` more would fit beside what the script holds, without
    /// keeping them (a build's weights: builds are exported one at a time).
    pub fn fits(&self, bytes: u64, what: &str) -> Result<(), String> {
        let total = self.requested_bytes.saturating_add(bytes);
        if total > self.max_memory {
            let before = if self.requested_bytes > 0 {
                format!(
                    " (on top of {} asked for before)",
                    human_bytes(self.requested_bytes)
                )
            } else {
                String::new()
            };
            return Err(format!(
                "{what} would take {}{before}, over the --max-memory limit of {}: use smaller \
                 shapes or raise --max-memory",
                human_bytes(bytes),
                human_bytes(self.max_memory)
            ));
        }
        Ok(())
    }

    /// A fresh deterministic seed: the n-th random thing a script makes.
    pub fn next_seed(&mut self) -> u64 {
        self.seed += 1;
        // splitmix64 spreads consecutive counters over the seed space.
        let mut z = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn next_uid(&mut self) -> u64 {
        self.next_uid += 1;
        self.next_uid
    }

    pub fn start_trace(&mut self, class: &str) -> u64 {
        self.next_trace += 1;
        self.trace = Some(Trace::new(self.next_trace, class));
        self.next_trace
    }
}

/// The state shared by every registered function of one engine.
#[derive(Clone)]
pub struct Host(pub Arc<Mutex<HostState>>);

impl Host {
    pub fn new(state: HostState) -> Self {
        Host(Arc::new(Mutex::new(state)))
    }

    pub fn lock(&self) -> MutexGuard<'_, HostState> {
        // A panic while holding the lock is a bug, but the data is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the active trace; outside a forward it is an error.
    pub fn with_trace<R>(
        &self,
        f: impl FnOnce(&mut Trace) -> Result<R, String>,
    ) -> Result<R, String> {
        let mut st = self.lock();
        match st.trace.as_mut() {
            Some(t) => f(t),
            None => Err(
                "tensor ops run only inside a model's forward: wrap them in nn::module(\"Name\", |x| ...)".into(),
            ),
        }
    }

    pub fn apply(&self, op: Op, inputs: &[Tensor]) -> Result<Tensor, String> {
        self.with_trace(|t| t.apply(op, inputs))
            .map(|mut v| v.remove(0))
    }
}

/// Placeholder output values: floats uniform in [0, 1), integers zero
/// (valid as indices into anything), bools false.
pub fn placeholder(info: &TypeInfo, seed: u64) -> HostTensor {
    if info.dtype.is_float() {
        HostTensor::uniform(info.dtype, &info.shape, 0.0, 1.0, seed)
    } else {
        HostTensor::zeros(info.dtype, &info.shape)
    }
}

/// Half the machine's physical memory: the script's tensors and weights are
/// held again by the exporter and by each runtime, so half leaves room.
pub fn default_max_memory() -> u64 {
    physical_memory().map_or(8 << 30, |m| m / 2)
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// 1.50 GiB, 12.0 MiB, 512 B: sizes in error messages.
pub fn human_bytes(b: u64) -> String {
    bytesize::ByteSize::b(b).display().iec().to_string()
}

/// `--max-memory`: a size (`8GiB`, `500 MB`, `1e9`) or a share of physical
/// memory (`25%`).
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || {
        format!("--max-memory {text}: give a size such as 8GiB or 500MB, or a share such as 25%")
    };
    let bytes = if let Some(pct) = t.strip_suffix('%') {
        let p: f64 = pct.trim().parse().map_err(|_| bad())?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(bad());
        }
        let total = physical_memory().ok_or_else(|| {
            format!("--max-memory {text}: cannot read this machine's memory; give a size instead")
        })?;
        (total as f64 * p / 100.0) as u64
    } else {
        t.parse::<bytesize::ByteSize>().map_err(|_| bad())?.as_u64()
    };
    if bytes == 0 {
        return Err(bad());
    }
    Ok(bytes)
}
