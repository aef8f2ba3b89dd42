//! One run over many jobs (scripts, ONNX files, manifest entries):
//! discover → export → benchmark (worker per runtime × device) → record.
//! Every stage writes its status into the build record as it goes; a
//! failure is recorded and the run moves on. Nothing here prints: the
//! terminal listens through [`Observer`].

mod trials;

use crate::bench::compare::compare;
use crate::bench::timing::BenchOptions;
use crate::bench::worker::{WorkerOutcome, WorkerSpec, spawn_worker, worker_command};
use crate::cache::record::OutputDiff;
use crate::cache::{
    Cache, CheckStatus, OutputCheck, Record, RuntimeRow, Status, SystemInfo, TensorSpec,
};
use crate::corpus::{ExpectedFailure, Job, JobKind, OnnxJob};
use crate::graph::{HostTensor, HostValue, flatten_all};
use crate::onnx::{ExportOptions, write_tensor_pb};
use crate::runtime::{Device, GraphOptimization, Precision};
use crate::script::{self, Build, DiscoverOptions, Discovery, Labels, ScriptArgs};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod analysis;
mod feed;
mod onnx_file;
mod variant;

use onnx_file::{
    PreparedOnnx, prepare_onnx, script_onnx_source, set_flops, store_onnx, verify_copy,
};
pub use onnx_file::{file_sha256, random_input, random_value};
pub use variant::VariantOptions;

#[derive(Clone)]
pub struct RunOptions {
    pub script_args: ScriptArgs,
    pub build_only: bool,
    /// `--analyze-only`: scripts are traced and recorded, never exported.
    pub analyze_only: bool,
    pub max_depth: usize,
    pub opset: i64,
    /// Resolved runtime names, the reference first.
    pub runtimes: Vec<String>,
    /// Every runtime runs on each of these; the first successful row is the reference.
    pub devices: Vec<Device>,
    /// The precision sessions are told (TensorRT builds fp16 engines for
    /// fp16): fp32 but for the rows of fp16 variants.
    pub precision: Precision,
    /// ONNX Runtime's optimization level for the rows (`None`: its
    /// default); set for the rows of `--ort-opt-level` variants.
    pub graph_optimization: Option<GraphOptimization>,
    /// How precision variants are made and checked.
    pub variant: VariantOptions,
    pub threads: usize,
    pub bench: BenchOptions,
    pub timeout: Duration,
    /// `--max-memory` for scripts, bytes (None = half the physical memory).
    pub max_memory: Option<u64>,
    /// `--weights PATH` (absolute) for scripts that ask for pretrained weights.
    pub weights: Option<PathBuf>,
    pub atol: f64,
    pub rtol: f64,
    pub rebuild: bool,
    /// Drop each build's ONNX, inputs and outputs once benchmarked (`--lean-cache`).
    pub lean_cache: bool,
    /// The turnkey binary, re-executed as the worker.
    pub worker_exe: PathBuf,
    /// `--trials`: worker processes per row (1: just the first).
    pub trials: u32,
    /// `--pin`: `auto` or a CPU list.
    pub pin: Option<String>,
}

/// What happened, for the terminal.
pub enum Event<'a> {
    ScriptStarted {
        path: &'a Path,
        index: usize,
        total: usize,
    },
    ScriptFailed {
        path: &'a Path,
        error: &'a str,
    },
    Warning {
        path: &'a Path,
        message: &'a str,
    },
    /// `--analyze-only`: a build traced and recorded, with nothing exported.
    Analyzed {
        build: &'a Build,
        class: &'a str,
        location: &'a str,
    },
    BuildReady {
        build: &'a Build,
        cached: bool,
        onnx: &'a Path,
        class: &'a str,
        location: &'a str,
    },
    /// An ONNX file is in the cache with its inputs, ready to benchmark.
    OnnxReady {
        build: &'a str,
        cached: bool,
        /// The file in the cache.
        onnx: &'a Path,
        /// The file as given (or its `file:line` in a manifest or script).
        location: &'a str,
        inputs: &'a [TensorSpec],
        /// Initializer elements and bytes.
        params: u64,
        param_bytes: u64,
        /// `random`, `script` or `test_data_set_0`.
        input_source: &'a str,
        /// Of `params`, the elements in `Constant` nodes.
        params_constants: u64,
        /// FLOPs counted from the file, and what was not counted (or why
        /// nothing could be).
        flops: Option<u64>,
        /// The FLOPs of the nodes counted, when some were not.
        flops_partial: Option<u64>,
        flops_note: Option<String>,
    },
    /// A precision variant's model is in the cache, ready to benchmark.
    VariantReady {
        build: &'a str,
        /// The build it is a variant of.
        of: &'a str,
        info: &'a crate::cache::variant::VariantInfo,
        cached: bool,
        onnx: &'a Path,
        param_bytes: Option<u64>,
        /// Nodes of the variant's graph per op type (`domain:Op` outside ONNX).
        op_counts: &'a std::collections::BTreeMap<String, usize>,
    },
    BuildFailed {
        build: &'a str,
        stage: &'a str,
        error: &'a str,
    },
    RowStarted {
        build: &'a str,
        runtime: &'a str,
        device: &'a str,
    },
    RowFinished {
        build: &'a str,
        row: &'a RuntimeRow,
        cached: bool,
    },
    /// Trial `trial` of `trials` of a row ended (`--trials`); `row` pools
    /// the trials so far, `error` says why this one failed.
    TrialFinished {
        build: &'a str,
        row: &'a RuntimeRow,
        trial: u32,
        trials: u32,
        error: Option<&'a str>,
    },
}

pub trait Observer {
    fn on(&self, event: Event<'_>);
}

#[derive(Default)]
pub struct RunSummary {
    /// Build names touched by this run, in order, each once.
    pub builds: Vec<String>,
    /// One line per failure (script, stage or row).
    pub failures: Vec<String>,
    /// Failures a manifest expects (`expected_failure`): not failures of the run.
    pub expected: Vec<String>,
    /// The user interrupted the run (Ctrl-C): later jobs were not started.
    pub interrupted: bool,
}

impl RunSummary {
    fn touch(&mut self, build: &str) {
        if !self.builds.iter().any(|b| b == build) {
            self.builds.push(build.to_string());
        }
    }
}

/// Runs each job in turn.
pub fn run(cache: &Cache, jobs: &[Job], opts: &RunOptions, obs: &dyn Observer) -> RunSummary {
    let mut summary = RunSummary::default();
    let system = SystemInfo::collect();
    let mut done = HashSet::new();
    for (i, job) in jobs.iter().enumerate() {
        if crate::interrupt::requested() {
            break;
        }
        obs.on(Event::ScriptStarted {
            path: job.path(),
            index: i,
            total: jobs.len(),
        });
        let jopts = job_options(opts, job);
        let mut cx = Cx {
            cache,
            opts: &jopts,
            system: &system,
            obs,
            summary: &mut summary,
            job,
            done: &mut done,
        };
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &job.kind {
            JobKind::Script { path, args } => cx.script(path, args),
            JobKind::Onnx(o) => {
                let src = OnnxSource {
                    job: o.clone(),
                    feed: None,
                    location: job.origin.clone(),
                    labels: job.labels.clone(),
                    description: None,
                    script_args: String::new(),
                    executions: 1,
                };
                cx.onnx(&src)
            }
            JobKind::Invalid { name, path, error } => cx.invalid(name, path, error),
        }));
        if found.is_err() {
            summary.failures.push(format!(
                "{}: internal error (a turnkey bug; please report it)",
                job.origin
            ));
        }
    }
    trials::run_trials(cache, opts, obs, &mut summary);
    summary.interrupted = crate::interrupt::requested();
    summary
}

/// A job's own runtimes and tolerances over the run's.
fn job_options(opts: &RunOptions, job: &Job) -> RunOptions {
    let mut o = opts.clone();
    if let Some(r) = &job.runtimes
        && !opts.build_only
    {
        let mut rts: Vec<String> = Vec::new();
        for name in r {
            let name = if name == "auto" {
                crate::runtime::resolve_auto().0.to_string()
            } else {
                name.clone()
            };
            if !rts.contains(&name) {
                rts.push(name);
            }
        }
        o.runtimes = rts;
    }
    if let Some(a) = job.atol {
        o.atol = a;
    }
    if let Some(r) = job.rtol {
        o.rtol = r;
    }
    o
}

/// The record name for an input that failed before it had a build.
fn failure_name(stem: &str, kind: &str, key: &str) -> String {
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{}_{kind}_{}", safe_stem(stem), &h[..8])
}

/// A build name part: one folder name, no leading dot.
fn safe_stem(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let t = t.trim_start_matches('.').to_string();
    if t.is_empty() { "model".into() } else { t }
}

/// The record name for a script that failed before it had any build
/// (public: a Slurm job that died before writing a record gets this one too).
pub fn script_failure_name(path: &Path, args: &ScriptArgs) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "script".into());
    failure_name(
        &stem,
        "script",
        &format!("{}\0{}", path.display(), args.text),
    )
}

/// An ONNX file to build: from the command line, a manifest, or a script's
/// `onnx::load` (which gives the input tensors).
struct OnnxSource {
    job: OnnxJob,
    /// Input tensors from a script; `None`: test data beside the model, else random.
    feed: Option<Vec<(String, HostTensor)>>,
    location: String,
    labels: Labels,
    description: Option<String>,
    script_args: String,
    executions: usize,
}

/// One job's context.
struct Cx<'a> {
    cache: &'a Cache,
    opts: &'a RunOptions,
    system: &'a SystemInfo,
    obs: &'a dyn Observer,
    summary: &'a mut RunSummary,
    job: &'a Job,
    /// Builds already run in this run (two jobs may make the same build).
    done: &'a mut HashSet<String>,
}

fn expected_text(e: &ExpectedFailure) -> String {
    format!("/{}/", e.pattern)
}

impl Cx<'_> {
    fn expected(&self) -> Option<&ExpectedFailure> {
        self.job.expected_failure.as_ref()
    }

    /// Counts a failure, unless the job expects exactly this one.
    fn failure(&mut self, msg: String, error: &str) {
        match self.expected() {
            Some(e) if e.regex.is_match(error) => self
                .summary
                .expected
                .push(format!("{msg} (expected: {})", expected_text(e))),
            Some(e) => {
                let t = expected_text(e);
                self.summary.failures.push(format!(
                    "{msg} (a failure was expected, but not this one: {t})"
                ))
            }
            None => self.summary.failures.push(msg),
        }
    }

    /// Reports a failed stage: an error, or a warning when expected.
    fn stage_failed(&mut self, build: &str, stage: &str, path: &Path, msg: String, error: &str) {
        if self.expected().is_some_and(|e| e.regex.is_match(error)) {
            self.obs.on(Event::Warning {
                path,
                message: &format!("failed as expected: {msg}"),
            });
        } else {
            self.obs.on(Event::BuildFailed {
                build,
                stage,
                error: &msg,
            });
        }
        self.failure(msg, error);
    }

    /// Records a failure of an input that has no build yet.
    fn record_failure(&mut self, name: &str, path: &Path, error: &str, status: Status) {
        self.summary.touch(name);
        let (job, system) = (self.job, self.system);
        let res = self.cache.update_record(name, |r| {
            r.identity.name = name.to_string();
            r.identity.script = path.display().to_string();
            r.identity.labels = job.labels.clone();
            r.identity.location = Some(job.origin.clone());
            r.identity.expected_failure = job.expected_failure.as_ref().map(|e| e.pattern.clone());
            if let JobKind::Script { args, .. } = &job.kind {
                r.identity.script_args = args.text.clone();
            }
            r.system = system.clone();
            r.start_stage("discover");
            r.finish_stage("discover", status, Some(error.to_string()));
        });
        if let Err(e) = res {
            self.summary
                .failures
                .push(format!("{name}: could not record the failure: {e}"));
        }
    }

    fn invalid(&mut self, name: &str, path: &Path, error: &str) {
        if self.expected().is_some_and(|e| e.regex.is_match(error)) {
            self.obs.on(Event::Warning {
                path,
                message: &format!("failed as expected: {error}"),
            });
        } else {
            self.obs.on(Event::ScriptFailed { path, error });
        }
        self.failure(error.to_string(), error);
        let fname = failure_name(name, "entry", &self.job.origin);
        self.record_failure(&fname, path, error, Status::Error);
    }

    fn script(&mut self, path: &Path, args: &ScriptArgs) {
        let dopts = DiscoverOptions {
            script_args: args.clone(),
            max_depth: self.opts.max_depth,
            executor: None,
            timeout: Some(self.opts.timeout),
            max_memory: self.opts.max_memory,
            analyze_only: self.opts.analyze_only,
            weights: self.opts.weights.clone(),
        };
        let started = Instant::now();
        let fname = script_failure_name(path, args);
        // A panic in the host is our bug: it costs this script, not the run.
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            script::discover(path, &dopts)
        }))
        .unwrap_or_else(|_| {
            Err(script::ScriptError::file(
                path,
                "internal error while running the script (a turnkey bug; please report it)",
            ))
        });
        let disc = match found {
            Ok(d) => d,
            Err(e) => {
                let status = match e {
                    script::ScriptError::Timeout { .. } => Status::Timeout,
                    script::ScriptError::Interrupted { .. } => Status::Killed,
                    _ => Status::Error,
                };
                let msg = e.to_string();
                if self.expected().is_some_and(|x| x.regex.is_match(&msg)) {
                    self.obs.on(Event::Warning {
                        path,
                        message: &format!("failed as expected: {msg}"),
                    });
                } else {
                    self.obs.on(Event::ScriptFailed { path, error: &msg });
                }
                self.failure(msg.clone(), &msg);
                self.record_failure(&fname, path, &msg, status);
                return;
            }
        };
        let discover_s = started.elapsed().as_secs_f64();
        // A script that works now leaves no stale failure record behind.
        if self.cache.record_path(&fname).is_ok_and(|p| p.exists()) {
            let _ = self.cache.delete_build(&fname);
        }
        for w in &disc.warnings {
            self.obs.on(Event::Warning { path, message: w });
        }
        for build in &disc.builds {
            if !self.first_time(&build.name, path) {
                continue;
            }
            if let Err(e) = self.build(&disc, build, discover_s) {
                let msg = format!("{}: {e}", build.name);
                self.obs.on(Event::BuildFailed {
                    build: &build.name,
                    stage: "record",
                    error: &msg,
                });
                self.summary.failures.push(msg);
            }
        }
        for call in &disc.onnx_calls {
            let src = script_onnx_source(&disc, call, &self.job.labels);
            self.onnx(&src);
        }
    }

    /// False (with a note) when this run already ran `build`.
    fn first_time(&mut self, build: &str, path: &Path) -> bool {
        self.summary.touch(build);
        if self.done.insert(build.to_string()) {
            return true;
        }
        self.obs.on(Event::Warning {
            path,
            message: &format!("{build} is the same build as an earlier input's: not run again"),
        });
        false
    }

    fn build(
        &mut self,
        disc: &Discovery,
        build: &Build,
        discover_s: f64,
    ) -> Result<(), crate::cache::CacheError> {
        let (cache, opts) = (self.cache, self.opts);
        let dir = cache.build_dir(&build.name)?;
        // Another process on this cache may be exporting this build now.
        let export_lock = cache.stage_lock(&build.name, "export")?;
        let onnx_path = dir.join("model.onnx");
        let inputs_dir = dir.join("inputs");
        let g = &build.graph;
        let location = format!("{}:{}", disc.path.display(), build.line);
        let previous = cache.load_record(&build.name).ok().flatten();
        let cached = !opts.rebuild
            && onnx_path.exists()
            && previous.as_ref().is_some_and(|r| {
                r.stage_succeeded("export") && r.identity.opset == Some(opts.opset)
            });
        let parent = build.parent.map(|p| disc.builds[p].name.clone());
        let mut labels = disc.labels.clone();
        crate::corpus::labels::merge(&mut labels, &self.job.labels);
        let expected = self.expected().map(|e| e.pattern.clone());
        let system = self.system;
        // A generation's FLOPs: prefill once and N - 1 decode steps, so
        // that achieved FLOP/s over its end-to-end latency is right.
        let gen_flops = build.generation.as_ref().map(|generation| {
            g.stats().flops + generation.info.decode_steps() * generation.decode.stats().flops
        });
        cache.update_record(&build.name, |r| {
            let id = &mut r.identity;
            id.name = build.name.clone();
            id.hash = build.hash.clone();
            id.script = disc.path.display().to_string();
            id.model_class = Some(g.name.clone());
            id.labels = labels.clone();
            id.description = (!disc.description.is_empty()).then(|| disc.description.clone());
            id.script_args = disc.script_args.clone();
            id.inputs = specs(
                &g.inputs
                    .iter()
                    .map(|&v| (g.values[v].name.clone(), g.info(v).clone()))
                    .collect::<Vec<_>>(),
            );
            id.outputs = specs(
                &g.outputs
                    .iter()
                    .map(|&v| (g.values[v].name.clone(), g.info(v).clone()))
                    .collect::<Vec<_>>(),
            );
            id.set_stats(&g.stats());
            id.weights = Some(g.weights_info());
            id.opset = Some(opts.opset);
            id.location = Some(location.clone());
            id.depth = Some(build.depth as u32);
            id.parent = parent.clone();
            id.executions = build.executions as u64;
            if let Some(generation) = &build.generation {
                let info = &generation.info;
                id.generation = Some(info.clone());
                id.flops = gen_flops;
                // Tokens through the model: the prompt, then one per step.
                let tokens = info.batch_size * (info.prompt_tokens + info.decode_steps());
                id.flops_per_token = gen_flops.map(|f| f / tokens.max(1));
            }
            id.expected_failure = expected.clone();
            r.system = system.clone();
            r.start_stage("discover");
            r.finish_stage("discover", Status::Successful, None);
            if let Some(s) = r.stages.get_mut("discover") {
                s.duration_s = Some(discover_s);
                s.warnings = disc.warnings.clone();
            }
            if opts.analyze_only {
                r.start_stage("analyze");
                r.finish_stage("analyze", Status::Successful, None);
            } else if !cached {
                r.start_stage("export");
            }
        })?;
        if opts.analyze_only {
            self.obs.on(Event::Analyzed {
                build,
                class: &g.name,
                location: &location,
            });
            return Ok(());
        }

        if cached && !crate::runtime::ir_path(&onnx_path).exists() {
            // Exported by a turnkey that did not save the traced graph yet.
            let _ = crate::runtime::write_ir(&onnx_path, g);
        }
        if !cached {
            let t = Instant::now();
            let result = export_build(build, &onnx_path, &inputs_dir, opts.opset);
            if !self.export_done(&build.name, &disc.path, t, result)? {
                return Ok(());
            }
        }
        self.obs.on(Event::BuildReady {
            build,
            cached,
            onnx: &onnx_path,
            class: &g.name,
            location: &location,
        });
        drop(export_lock);
        let batch = build
            .inputs
            .first()
            .and_then(|(_, t)| t.shape.first().copied())
            .unwrap_or(1) as u64;
        let mut peak = crate::bench::peak::RowContext::new(g, opts.threads, cache.location());
        if gen_flops.is_some() {
            peak.flops = gen_flops;
        }
        self.rows(&build.name, &dir, batch, &peak, None)?;
        // A generation build has no precision variants (yet): its loop feeds float32 caches.
        if build.generation.is_none() {
            self.variants(&build.name, &dir, batch, &disc.path)?;
        }
        self.lean(&build.name, &dir);
        Ok(())
    }

    /// Records the export stage's outcome; false when it failed.
    fn export_done(
        &mut self,
        name: &str,
        path: &Path,
        t: Instant,
        result: Result<(), String>,
    ) -> Result<bool, crate::cache::CacheError> {
        let err = result.as_ref().err().cloned();
        self.cache.update_record(name, |r| {
            let status = if err.is_some() {
                Status::Error
            } else {
                Status::Successful
            };
            r.finish_stage("export", status, err.clone());
            if let Some(s) = r.stages.get_mut("export") {
                s.duration_s = Some(t.elapsed().as_secs_f64());
            }
        })?;
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                let msg = format!("{name}: export: {e}");
                self.stage_failed(name, "export", path, msg, &e);
                self.mark_not_started(name)?;
                Ok(false)
            }
        }
    }

    fn mark_not_started(&self, build: &str) -> Result<(), crate::cache::CacheError> {
        if self.opts.build_only {
            return Ok(());
        }
        let opts = self.opts;
        self.cache.update_record(build, |r| {
            for device in &opts.devices {
                for rt in &opts.runtimes {
                    let row = r.row_mut(rt, &device.to_string());
                    row.status = Status::NotStarted;
                    row.error = Some("an earlier stage failed".into());
                }
            }
        })?;
        Ok(())
    }

    /// One row per device × runtime, the first successful one the reference;
    /// a variant's rows are each checked against its fp32 build's instead.
    fn rows(
        &mut self,
        name: &str,
        dir: &Path,
        batch: u64,
        peak: &crate::bench::peak::RowContext,
        fp32: Option<&variant::Fp32Reference>,
    ) -> Result<(), crate::cache::CacheError> {
        let opts = self.opts;
        if opts.build_only {
            return Ok(());
        }
        let mut reference: Option<(String, Vec<(String, HostValue)>)> = None;
        'devices: for &device in &opts.devices {
            for rt in &opts.runtimes {
                // Interrupted: the rows not started stay absent, for a re-run.
                if crate::interrupt::requested() {
                    break 'devices;
                }
                let check = match fp32 {
                    Some(f) => RowCheck::Fp32(f),
                    None => RowCheck::Reference(reference.as_ref()),
                };
                let mut row = match fp32.and_then(|f| f.cannot_run(rt)) {
                    Some(why) => variant::error_row(self.cache, name, (rt, device), why, self.obs)?,
                    None => bench_row(
                        self.cache,
                        name,
                        dir,
                        (rt, device),
                        batch,
                        opts,
                        check,
                        peak,
                        self.obs,
                    )?,
                };
                self.judge_row(name, &mut row)?;
                if reference.is_none() && row.status == Status::Successful {
                    let outs = read_outputs(&outputs_dir(dir, rt, device));
                    if let Ok(outs) = outs {
                        reference = Some((format!("{rt}/{device}"), outs));
                    }
                }
            }
        }
        Ok(())
    }

    /// `--lean-cache`: drops the build's ONNX, inputs and outputs once it
    /// and its variants are benchmarked (with more trials to run, the trials
    /// pass makes the build lean).
    fn lean(&mut self, name: &str, dir: &Path) {
        if self.opts.lean_cache
            && !self.opts.build_only
            && self.opts.trials <= 1
            && let Err(e) = self.cache.make_lean(name)
        {
            let message = format!("--lean-cache: {e}");
            self.obs.on(Event::Warning {
                path: dir,
                message: &message,
            });
        }
    }

    /// Counts a row's outcome against the job's expectation, and records
    /// the verdict in the row.
    fn judge_row(
        &mut self,
        name: &str,
        row: &mut RuntimeRow,
    ) -> Result<(), crate::cache::CacheError> {
        let what = format!("{name} on {}/{}", row.runtime, row.device);
        // A mismatch has no error: its check says what differs.
        let error = row.error.clone().unwrap_or_else(|| {
            row.check
                .as_ref()
                .filter(|c| c.status == CheckStatus::Failed)
                .and_then(|c| c.summary.clone())
                .unwrap_or_default()
        });
        let verdict = match (self.expected().cloned(), row.status.is_failure()) {
            (None, false) => return Ok(()),
            (None, true) => {
                self.summary
                    .failures
                    .push(format!("{what}: {} {error}", row.status.as_str()));
                return Ok(());
            }
            (Some(e), true) => {
                self.failure(format!("{what}: {} {error}", row.status.as_str()), &error);
                if e.regex.is_match(&error) {
                    format!("failed as expected ({})", expected_text(&e))
                } else {
                    format!("failed, but not as expected ({})", expected_text(&e))
                }
            }
            (Some(e), false) => {
                let t = expected_text(&e);
                self.summary.failures.push(format!(
                    "{what}: passed, but the manifest expects it to fail with {t} \
                     (fixed? then remove expected_failure)"
                ));
                format!("passed unexpectedly ({t})")
            }
        };
        row.expectation = Some(verdict.clone());
        let (rt, dev) = (row.runtime.clone(), row.device.clone());
        self.cache.update_record(name, |r| {
            r.row_mut(&rt, &dev).expectation = Some(verdict.clone());
        })?;
        Ok(())
    }

    // ------------------------------------------------------------ ONNX

    fn onnx(&mut self, src: &OnnxSource) {
        let path = src.job.path.clone();
        // One failure record per file: a later success (say, with --axis) clears it.
        let fname = failure_name(&src.job.stem, "onnx", &path.display().to_string());
        let started = Instant::now();
        let prepared = match prepare_onnx(src, self.opts.max_memory) {
            Ok(p) => p,
            Err(e) => {
                let msg = e;
                if self.expected().is_some_and(|x| x.regex.is_match(&msg)) {
                    self.obs.on(Event::Warning {
                        path: &path,
                        message: &format!("failed as expected: {msg}"),
                    });
                } else {
                    self.obs.on(Event::ScriptFailed {
                        path: &path,
                        error: &msg,
                    });
                }
                self.failure(msg.clone(), &msg);
                self.record_failure(&fname, &path, &msg, Status::Error);
                return;
            }
        };
        if self.cache.record_path(&fname).is_ok_and(|p| p.exists()) {
            let _ = self.cache.delete_build(&fname);
        }
        let name = prepared.name.clone();
        for w in &prepared.warnings {
            self.obs.on(Event::Warning {
                path: &path,
                message: w,
            });
        }
        if !self.first_time(&name, &path) {
            return;
        }
        if let Err(e) = self.onnx_build(src, &prepared, started.elapsed().as_secs_f64()) {
            let msg = format!("{name}: {e}");
            self.obs.on(Event::BuildFailed {
                build: &name,
                stage: "record",
                error: &msg,
            });
            self.summary.failures.push(msg);
        }
    }

    fn onnx_build(
        &mut self,
        src: &OnnxSource,
        p: &PreparedOnnx,
        discover_s: f64,
    ) -> Result<(), crate::cache::CacheError> {
        let (cache, opts) = (self.cache, self.opts);
        let name = &p.name;
        let dir = cache.build_dir(name)?;
        let export_lock = cache.stage_lock(name, "export")?;
        let onnx_path = dir.join("model.onnx");
        let previous = cache.load_record(name).ok().flatten();
        let recorded = !opts.rebuild
            && onnx_path.exists()
            && dir.join("inputs").is_dir()
            && previous
                .as_ref()
                .is_some_and(|r| r.stage_succeeded("export") && r.identity.hash == p.hash);
        // What is benchmarked must be what the record says: a cached copy
        // changed since (by hand, or through a hard link of an older
        // turnkey) is copied again.
        let cached = recorded
            && match verify_copy(&dir, p) {
                Ok(()) => true,
                Err(e) => {
                    self.obs.on(Event::Warning {
                        path: &src.job.path,
                        message: &format!("{e}: copied again from the source"),
                    });
                    false
                }
            };
        let info = &p.info;
        let expected = self.expected().map(|e| e.pattern.clone());
        let system = self.system;
        let inputs = p.specs();
        cache.update_record(name, |r| {
            let id = &mut r.identity;
            id.name = name.clone();
            id.hash = p.hash.clone();
            id.script = src.job.path.display().to_string();
            id.model_class = Some(if info.graph_name.is_empty() {
                src.job.stem.clone()
            } else {
                info.graph_name.clone()
            });
            id.labels = src.labels.clone();
            id.description = src
                .description
                .clone()
                .or_else(|| (!info.doc.is_empty()).then(|| info.doc.clone()));
            id.script_args = src.script_args.clone();
            id.inputs = inputs.clone();
            id.outputs = info
                .io
                .outputs
                .iter()
                .filter_map(|o| Some(TensorSpec::new(&o.name, &o.fixed_shape()?, o.dtype?)))
                .collect();
            id.params = Some(info.params);
            id.param_bytes = Some(info.param_bytes);
            id.params_initializers = Some(info.params_initializers);
            id.params_constants = Some(info.params_constants);
            if !cached {
                // Counted again by the export stage below.
                set_flops(id, &Err("not analysed yet".into()));
            }
            id.op_counts = info.op_counts.clone();
            id.opset = (info.io.opset > 0).then_some(info.io.opset);
            id.location = Some(src.location.clone());
            id.depth = Some(0);
            id.parent = None;
            id.executions = src.executions as u64;
            id.file_sha256 = Some(p.file_sha256.clone());
            id.external_sha256 = p.external_sha256.clone();
            id.bindings = Some(p.bindings.clone());
            id.input_source = Some(p.input_source.to_string());
            id.expected_failure = expected.clone();
            r.system = system.clone();
            r.start_stage("discover");
            r.finish_stage("discover", Status::Successful, None);
            if let Some(s) = r.stages.get_mut("discover") {
                s.duration_s = Some(discover_s);
                s.warnings = p.warnings.clone();
            }
            if !cached {
                r.start_stage("export");
            }
        })?;
        if !cached {
            let t = Instant::now();
            let result = store_onnx(&src.job.path, info, &dir, &p.feed)
                .and_then(|()| verify_copy(&dir, p))
                .and_then(|()| analysis::analyse(opts, &dir, info, &p.feed));
            let analysed = result.as_ref().ok().map(|a| a.flops.clone());
            if !self.export_done(name, &src.job.path, t, result.map(|_| ()))? {
                return Ok(());
            }
            if let Some(flops) = analysed {
                cache.update_record(name, |r| set_flops(&mut r.identity, &flops))?;
            }
        }
        let id = cache.load_record(name).ok().flatten().map(|r| r.identity);
        let flops = id.as_ref().and_then(|i| i.flops);
        let flops_partial = id.as_ref().and_then(|i| i.flops_partial);
        let flops_note = id.as_ref().and_then(|i| {
            let left: usize = i.flops_not_counted.values().sum();
            match (&i.flops_error, left) {
                (Some(e), _) => Some(format!("not counted: {e}")),
                (None, 0) => None,
                (None, n) => Some(format!(
                    "{n} node(s) not counted: {}",
                    i.flops_not_counted
                        .iter()
                        .map(|(k, v)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        });
        self.obs.on(Event::OnnxReady {
            build: name,
            cached,
            onnx: &onnx_path,
            location: &src.location,
            inputs: &inputs,
            params: info.params,
            param_bytes: info.param_bytes,
            input_source: &p.input_source,
            params_constants: info.params_constants,
            flops,
            flops_partial,
            flops_note,
        });
        drop(export_lock);
        let peak =
            crate::bench::peak::RowContext::without_graph(flops, opts.threads, cache.location());
        self.rows(name, &dir, p.batch, &peak, None)?;
        self.variants(name, &dir, p.batch, &src.job.path)?;
        self.lean(name, &dir);
        Ok(())
    }
}

fn specs(io: &[(String, crate::graph::TypeInfo)]) -> Vec<TensorSpec> {
    io.iter()
        .map(|(n, t)| TensorSpec::new(n, &t.shape, t.dtype))
        .collect()
}

/// Writes model.onnx and the inputs, each atomically.
fn export_build(
    build: &Build,
    onnx_path: &Path,
    inputs_dir: &Path,
    opset: i64,
) -> Result<(), String> {
    let eopts = ExportOptions {
        opset,
        metadata: vec![
            ("turnkey.build".into(), build.name.clone()),
            ("turnkey.hash".into(), build.hash.clone()),
        ],
        ..Default::default()
    };
    // Over 64 MiB of weights go to model.onnx.data (ONNX external data):
    // ONNX Runtime maps them (see `AUTO_EXTERNAL`).
    crate::onnx::export_to_file(&build.graph, &eopts, onnx_path).map_err(|e| e.to_string())?;
    crate::runtime::write_ir(onnx_path, &build.graph)
        .map_err(|e| format!("{}: {e}", crate::runtime::ir_path(onnx_path).display()))?;
    if let Some(g) = &build.generation {
        // The decode graph of `lm.generate`, beside prefill's model.onnx.
        let decode = onnx_path.with_file_name(&g.info.decode_onnx);
        crate::onnx::export_to_file(&g.decode, &eopts, &decode).map_err(|e| e.to_string())?;
        crate::runtime::write_ir(&decode, &g.decode)
            .map_err(|e| format!("{}: {e}", crate::runtime::ir_path(&decode).display()))?;
    }
    let _ = std::fs::remove_dir_all(inputs_dir);
    std::fs::create_dir_all(inputs_dir).map_err(|e| format!("{}: {e}", inputs_dir.display()))?;
    for (k, (name, t)) in build.inputs.iter().enumerate() {
        write_tensor_pb(&inputs_dir.join(format!("input_{k}.pb")), name, t)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn row_key(rt: &str, device: Device) -> String {
    format!("{rt}-{}", device.to_string().replace(':', "_"))
}

fn outputs_dir(dir: &Path, rt: &str, device: Device) -> PathBuf {
    dir.join("outputs").join(row_key(rt, device))
}

/// Reads `output_<k>.pb` files in order.
pub fn read_outputs(dir: &Path) -> Result<Vec<(String, HostValue)>, String> {
    let out = crate::onnx::read_values(dir, "output").map_err(|e| e.to_string())?;
    if out.is_empty() {
        return Err(format!("{}: no saved outputs", dir.display()));
    }
    Ok(out)
}

/// Writes `spec` to `spec_path` and runs it in a worker process.
fn run_worker(spec: &WorkerSpec, spec_path: &Path, opts: &RunOptions) -> WorkerOutcome {
    match spec.write(spec_path) {
        Ok(()) => spawn_worker(
            worker_command(&opts.worker_exe, spec_path),
            spec,
            opts.timeout,
        ),
        Err(e) => WorkerOutcome::Failed(e.to_string()),
    }
}

/// How a row's outputs are checked.
#[derive(Clone, Copy)]
enum RowCheck<'a> {
    /// Against the build's reference row (the first that succeeded); none
    /// yet: this row is the reference.
    Reference(Option<&'a (String, Vec<(String, HostValue)>)>),
    /// A variant's: against its fp32 build's row.
    Fp32(&'a variant::Fp32Reference),
}

#[allow(clippy::too_many_arguments)]
fn bench_row(
    cache: &Cache,
    build: &str,
    dir: &Path,
    (rt, device_kind): (&str, Device),
    batch: u64,
    opts: &RunOptions,
    check: RowCheck<'_>,
    peak: &crate::bench::peak::RowContext,
    obs: &dyn Observer,
) -> Result<RuntimeRow, crate::cache::CacheError> {
    let device = device_kind.to_string();
    let out_dir = outputs_dir(dir, rt, device_kind);
    // One process per row at a time; a second finds it done below.
    let _row_lock = cache.stage_lock(build, &format!("row-{}", row_key(rt, device_kind)))?;
    if !opts.rebuild
        && let Some(rec) = cache.load_record(build)?
        && let Some(row) = rec.row(rt, &device)
        && matches!(row.status, Status::Successful | Status::Mismatch)
        && out_dir.exists()
    {
        obs.on(Event::RowFinished {
            build,
            row,
            cached: true,
        });
        return Ok(row.clone());
    }
    obs.on(Event::RowStarted {
        build,
        runtime: rt,
        device: &device,
    });
    cache.update_record(build, |r| r.row_mut(rt, &device).start(std::process::id()))?;
    let key = row_key(rt, device_kind);
    let log_dir = dir.join("log");
    let samples = dir.join("samples").join(format!("{key}.csv"));
    let _ = std::fs::create_dir_all(&log_dir);
    let _ = std::fs::create_dir_all(samples.parent().expect("samples dir"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let _ = std::fs::create_dir_all(&out_dir);
    let spec = WorkerSpec {
        onnx: dir.join("model.onnx"),
        inputs_dir: dir.join("inputs"),
        runtime: rt.to_string(),
        device: device_kind,
        threads: opts.threads,
        // Only TensorRT builds engines in a precision of its own choosing.
        precision: if rt == "ort-trt" {
            opts.precision
        } else {
            Precision::Fp32
        },
        graph_optimization: opts.graph_optimization,
        bench: opts.bench.clone(),
        batch_size: batch,
        outputs_dir: Some(out_dir.clone()),
        samples_path: Some(samples.clone()),
        result_path: log_dir.join(format!("{key}.result.json")),
        pin: opts.pin.clone(),
        task: Default::default(),
        generation: cache
            .load_record(build)?
            .and_then(|r| r.identity.generation),
    };
    let spec_path = log_dir.join(format!("{key}.spec.json"));
    let started = Instant::now();
    let outcome = run_worker(&spec, &spec_path, opts);
    let mut row = RuntimeRow::new(rt, &device);
    row.pid = Some(std::process::id());
    row.host = crate::cache::system::hostname();
    row.batch_size = Some(batch);
    match outcome {
        WorkerOutcome::Finished(res) => {
            row.runtime_version = Some(res.runtime_version.clone());
            row.device_name = Some(res.device.clone());
            row.details = res.details.clone();
            row.compile_ms = res.compile_ms;
            row.first_ms = res.first_ms;
            row.warmup_iterations = Some(res.warmup_iterations);
            row.iterations = Some(res.iterations);
            row.total_ms = res.total_ms;
            if let Some(s) = &res.stats {
                row.set_latency(s);
            }
            trials::measurement_fields(&mut row, &res, opts);
            row.stability = res.stability.as_ref().map(|s| s.to_string());
            row.throughput = res.throughput;
            row.peak_rss_mb = res.peak_rss_mb;
            row.timer_overhead_ns = res.timer_overhead_ns;
            row.samples_file = samples
                .strip_prefix(dir)
                .ok()
                .map(|p| p.display().to_string());
            if res.hit_max_time {
                row.warnings
                    .push("stopped at --max-time before --min-iterations".into());
            }
            res.apply_to(&mut row);
            match &res.error {
                Some(e) => {
                    row.status = Status::Error;
                    row.error = Some(e.clone());
                }
                None => {
                    row.status = Status::Successful;
                    match check {
                        RowCheck::Reference(reference) => {
                            row.check = Some(check_outputs(&out_dir, rt, &device, reference, opts));
                        }
                        RowCheck::Fp32(f) => f.check(&out_dir, &mut row),
                    }
                    if let (Some(g), Some(c)) = (&mut row.generation, &row.check)
                        && c.status != CheckStatus::Reference
                    {
                        // Same weights, same greedy tokens on every runtime.
                        g.tokens_match = Some(
                            c.outputs
                                .iter()
                                .any(|o| o.name == "tokens" && o.passed && o.problem.is_none()),
                        );
                    }
                    if row
                        .check
                        .as_ref()
                        .is_some_and(|c| c.status == CheckStatus::Failed)
                    {
                        row.status = Status::Mismatch;
                    }
                }
            }
        }
        WorkerOutcome::Crashed {
            signal,
            code,
            stderr_tail,
        } => {
            // SIGTERM/SIGINT/SIGHUP come from outside (scancel, Ctrl-C, a
            // shutdown): the row was stopped, not crashed.
            let stopped =
                signal.is_some_and(|s| matches!(s, libc::SIGTERM | libc::SIGINT | libc::SIGHUP));
            // A failed allocation aborts a Rust process (tract, our glue):
            // the row ran out of memory, an error of its size, not a bug.
            let oom = (signal == Some(libc::SIGABRT))
                .then(|| {
                    stderr_tail
                        .lines()
                        .find(|l| l.starts_with("memory allocation of"))
                })
                .flatten();
            row.status = if stopped {
                Status::Killed
            } else if oom.is_some() {
                Status::Error
            } else {
                Status::Crashed
            };
            let how = match (signal, code) {
                (Some(s), _) => format!("killed by signal {s} ({})", signal_name(s)),
                (None, Some(c)) => format!("exited with code {c} without a result"),
                _ => "ended without a result".to_string(),
            };
            let tail = stderr_tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            row.error = Some(if let Some(line) = oom {
                format!(
                    "out of memory: {} (the worker stopped); use smaller shapes, or a \
                     machine with more memory",
                    line.trim()
                )
            } else if tail.is_empty() {
                how
            } else {
                format!("{how}: {tail}")
            });
        }
        WorkerOutcome::Timeout { after } => {
            row.status = Status::Timeout;
            row.error = Some(format!(
                "no result after {:.0} s (--timeout)",
                after.as_secs_f64()
            ));
        }
        WorkerOutcome::Interrupted { after } => {
            row.status = Status::Killed;
            row.error = Some(format!(
                "interrupted by the user after {:.1} s",
                after.as_secs_f64()
            ));
        }
        WorkerOutcome::Failed(e) => {
            row.status = Status::Error;
            row.error = Some(e);
        }
    }
    if row.status == Status::Successful {
        peak.annotate(&mut row);
    }
    row.duration_s = Some(started.elapsed().as_secs_f64());
    let saved = row.clone();
    cache.update_record(build, |r| r.set_row(saved))?;
    obs.on(Event::RowFinished {
        build,
        row: &row,
        cached: false,
    });
    Ok(row)
}

fn check_outputs(
    out_dir: &Path,
    rt: &str,
    device: &str,
    reference: Option<&(String, Vec<(String, HostValue)>)>,
    opts: &RunOptions,
) -> OutputCheck {
    let Some((ref_name, ref_outs)) = reference else {
        return OutputCheck {
            reference: format!("{rt}/{device}"),
            status: CheckStatus::Reference,
            summary: Some("reference outputs for the other runtimes".into()),
            ..Default::default()
        };
    };
    match read_outputs(out_dir) {
        Ok(actual) => {
            let c = compare(
                &flatten_all(ref_outs),
                &flatten_all(&actual),
                opts.atol,
                opts.rtol,
            );
            OutputCheck {
                reference: ref_name.clone(),
                status: if c.pass {
                    CheckStatus::Passed
                } else {
                    CheckStatus::Failed
                },
                max_abs_diff: Some(c.max_abs_diff),
                max_rel_diff: Some(c.max_rel_diff),
                summary: Some(c.summary),
                atol: Some(c.atol),
                rtol: Some(c.rtol),
                outputs: c
                    .outputs
                    .iter()
                    .map(|o| OutputDiff {
                        name: o.name.clone(),
                        passed: o.pass,
                        max_abs_diff: o.max_abs_diff,
                        max_rel_diff: o.max_rel_diff,
                        mismatched: o.mismatched,
                        problem: o.problem.clone(),
                    })
                    .collect(),
            }
        }
        Err(e) => OutputCheck {
            reference: ref_name.clone(),
            status: CheckStatus::Failed,
            summary: Some(e),
            ..Default::default()
        },
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL, maybe out of memory",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Loads the records of the given builds (for the end-of-run summary).
pub fn records(cache: &Cache, builds: &[String]) -> Vec<Record> {
    builds
        .iter()
        .filter_map(|b| cache.load_record(b).ok().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::onnx_file::place;
    use super::*;
    use crate::graph::{DType, Graph, Op, TypeInfo};
    use crate::onnx::Bindings;

    /// An ONNX file made by turnkey's exporter: y = relu(x), x: [2, 3].
    fn model(dir: &Path) -> PathBuf {
        let mut g = Graph::new("Relu");
        let x = g.add_input("x", TypeInfo::new(vec![2, 3], DType::Float32));
        let y = g.add_node(Op::Relu, &[x], "").unwrap()[0];
        g.add_output("y", y);
        let p = dir.join("relu.onnx");
        std::fs::write(
            &p,
            crate::onnx::export(&g, &ExportOptions::default()).unwrap(),
        )
        .unwrap();
        p
    }

    fn source(path: &Path) -> OnnxSource {
        OnnxSource {
            job: OnnxJob {
                path: path.to_path_buf(),
                stem: "relu".into(),
                sha256: None,
                bindings: Bindings::default(),
            },
            feed: None,
            location: path.display().to_string(),
            labels: Labels::new(),
            description: None,
            script_args: String::new(),
            executions: 1,
        }
    }

    #[test]
    fn an_onnx_build_is_named_by_file_and_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let p = model(dir.path());
        let a = prepare_onnx(&source(&p), None).unwrap();
        assert!(a.name.starts_with("relu_") && a.name.len() == "relu_".len() + 8);
        assert_eq!(a.input_source, "random");
        assert_eq!(a.feed[0].1.as_tensor().unwrap().shape, [2, 3]);
        assert_eq!(a.file_sha256, file_sha256(&p).unwrap());
        assert_eq!(a.batch, 2);
        // The data fed is part of the identity: a script's tensors make
        // another build than random data of the same shapes, and other
        // tensors another again; the same tensors the same build.
        let fed = |v: f64| {
            let mut s = source(&p);
            s.feed = Some(vec![(
                "x".into(),
                HostTensor::full(DType::Float32, &[2, 3], v),
            )]);
            prepare_onnx(&s, None).unwrap()
        };
        let (b, c) = (fed(0.0), fed(1.0));
        assert_eq!(b.input_source, "script");
        assert_eq!(b.input_sources, ["script"]);
        assert_ne!(b.name, a.name);
        assert_ne!(b.name, c.name);
        assert_eq!(fed(0.0).name, b.name);
        // An author label joins the name, as for scripts.
        let mut s = source(&p);
        s.labels.insert("author".into(), vec!["me".into()]);
        assert!(prepare_onnx(&s, None).unwrap().name.starts_with("relu_me_"));
    }

    #[test]
    fn a_sha256_mismatch_names_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let p = model(dir.path());
        let mut s = source(&p);
        s.job.sha256 = Some("ab".repeat(32));
        let e = prepare_onnx(&s, None).err().unwrap();
        let real = file_sha256(&p).unwrap();
        assert!(
            e.contains(&"ab".repeat(32)) && e.contains(&real) && e.contains("not used"),
            "{e}"
        );
        s.job.sha256 = Some(real);
        assert!(prepare_onnx(&s, None).is_ok());
        let e = prepare_onnx(&source(&dir.path().join("none.onnx")), None)
            .err()
            .unwrap();
        assert!(e.ends_with("none.onnx: no such file"), "{e}");
    }

    #[test]
    fn test_data_beside_the_model_is_used_when_it_fits() {
        let dir = tempfile::tempdir().unwrap();
        let p = model(dir.path());
        let td = dir.path().join("test_data_set_0");
        std::fs::create_dir_all(&td).unwrap();
        let t = HostTensor::full(DType::Float32, &[2, 3], 7.0);
        write_tensor_pb(&td.join("input_0.pb"), "x", &t).unwrap();
        let a = prepare_onnx(&source(&p), None).unwrap();
        assert_eq!(a.input_source, "test_data_set_0");
        assert_eq!(a.feed[0].1, HostValue::Tensor(t));
        write_tensor_pb(
            &td.join("input_0.pb"),
            "x",
            &HostTensor::zeros(DType::Int64, &[2, 3]),
        )
        .unwrap();
        let a = prepare_onnx(&source(&p), None).unwrap();
        assert_eq!(a.input_source, "random");
        assert!(a.warnings[0].contains("does not fit"), "{:?}", a.warnings);
    }

    #[test]
    fn random_inputs_per_dtype() {
        let f = random_input(DType::Float16, &[64], 1).to_f64_vec();
        assert!(f.iter().all(|v| (0.0..1.0).contains(v)));
        // 8-bit floats round to their nearest value: 1.0 is reachable.
        let f = random_input(DType::Float8E5M2, &[64], 1).to_f64_vec();
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
        for d in [
            DType::Int64,
            DType::Int8,
            DType::Uint8,
            DType::Bool,
            DType::Uint64,
            DType::Int4,
            DType::Uint2,
        ] {
            let v = random_input(d, &[64], 2).to_f64_vec();
            assert!(v.iter().all(|&x| x == 0.0 || x == 1.0), "{d}");
            assert!(v.contains(&1.0) && v.contains(&0.0), "{d}");
        }
        assert_eq!(
            random_input(DType::Int32, &[4], 3),
            random_input(DType::Int32, &[4], 3)
        );
        let s = random_input(DType::String, &[2, 8], 4);
        let words = s.strings().unwrap();
        assert_eq!(words.len(), 16);
        assert!(
            words
                .iter()
                .all(|w| (1..=8).contains(&w.len()) && w.iter().all(u8::is_ascii_lowercase))
        );
        assert_eq!(s, random_input(DType::String, &[2, 8], 4));
    }

    #[test]
    fn names_and_placing_files() {
        assert_eq!(safe_stem("../a b/c"), "_a_b_c");
        assert_eq!(safe_stem(".hidden"), "hidden");
        assert_eq!(safe_stem("tiny-mlp@1"), "tiny-mlp@1");
        let a = failure_name("m", "onnx", "k1");
        assert!(a.starts_with("m_onnx_") && a != failure_name("m", "onnx", "k2"));
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("w.bin");
        std::fs::write(&from, b"abc").unwrap();
        let to = dir.path().join("build/sub/w.bin");
        place(&from, &to).unwrap();
        place(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"abc");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("build/sub"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "no temporary files left");
    }
}
