//! The worker process: one runtime × device row, measured in its own process
//! so that a crash, a hang or an out-of-memory costs that row, not the run.
//!
//! Protocol: the parent writes a [`WorkerSpec`] (JSON) and runs
//! `turnkey __worker --spec FILE` ([`worker_command`]) through
//! [`spawn_worker`]. The worker ([`worker_main`]) reads the ONNX file and the
//! `input_<k>.pb` files, loads the session (timed: compile), measures, saves
//! its outputs as `output_<k>.pb`, its samples, and writes a [`WorkerResult`]
//! atomically to `result_path` — also when it fails (status `error`). The
//! worker's stdout and stderr go to `<result_path>.log`, whose last lines
//! explain a crash.
//!
//! On a GPU the worker measures twice: "whole" (host inputs to host
//! outputs, the row's latency) and "core" (device-resident inputs and
//! outputs), and an NVML sampler covers the whole measured iterations.

use super::host::{HostMonitor, HostNoise};
use super::stats::{LatencyStats, Stability};
use super::timing::{BenchOptions, Core, Window, measure_with};
use super::verdict::{self, Evidence, Stop};
use crate::cache::RuntimeRow;
use crate::graph::HostValue;
use crate::onnx::{OnnxError, read_values, write_values};
use crate::runtime::{self, Device, Precision, RuntimeError, Session, SessionOptions};
use crate::telemetry::{self, GpuTelemetry, Sampler};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// The hidden subcommand that runs [`worker_main`].
pub const WORKER_SUBCOMMAND: &str = "__worker";

/// What one worker must do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub onnx: PathBuf,
    /// Holds `input_0.pb`, `input_1.pb`, ... (each names its model input).
    pub inputs_dir: PathBuf,
    pub runtime: String,
    #[serde(default)]
    pub device: Device,
    /// Intra-op threads; 0 = all cores.
    #[serde(default)]
    pub threads: usize,
    #[serde(default)]
    pub precision: Precision,
    #[serde(default)]
    pub bench: BenchOptions,
    /// Samples per inference, for throughput.
    #[serde(default = "one")]
    pub batch_size: u64,
    /// Where to save this row's outputs as `output_<k>.pb`; none: not saved.
    #[serde(default)]
    pub outputs_dir: Option<PathBuf>,
    /// Per-iteration latencies: CSV when the name ends in `.csv`, else JSON.
    #[serde(default)]
    pub samples_path: Option<PathBuf>,
    pub result_path: PathBuf,
    /// `--pin`: `auto` or a CPU list (`0-3`); none: not pinned.
    #[serde(default)]
    pub pin: Option<String>,
    /// What to do: benchmark (the default), or only infer the shapes of
    /// the model's values for FLOP counting.
    #[serde(default)]
    pub task: WorkerTask,
    /// ONNX Runtime's graph optimization level (`--ort-opt-level` variants).
    #[serde(default)]
    pub graph_optimization: Option<crate::runtime::GraphOptimization>,
    /// A generation build's row (`lm.generate`): prefill is `onnx`, decode
    /// its sibling file; the worker runs the generation loop.
    #[serde(default)]
    pub generation: Option<crate::cache::generation::GenerationInfo>,
}

/// A worker's job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerTask {
    #[default]
    Benchmark,
    /// tract's shape inference with the inputs' shapes: writes
    /// `shapes.json` (value name → shape) into `outputs_dir`. In a worker
    /// because the analysis folds constants, whose size the parent cannot
    /// bound: running out of memory must cost this process, not the run.
    Shapes,
    /// int8-static calibration: the (min, max) of each output over the
    /// input batches `inputs_dir/batch_<k>` (see `variant_tasks`).
    Calibrate,
    /// Save the graph ONNX Runtime optimizes at `graph_optimization`.
    Optimize,
}

/// The file [`WorkerTask::Shapes`] writes into `outputs_dir`.
pub const SHAPES_FILE: &str = "shapes.json";

fn one() -> u64 {
    1
}

/// Reads a spec or result file written by [`write_atomic`].
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, WorkerError> {
    let text = std::fs::read(path).map_err(|source| WorkerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| WorkerError::Spec {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

impl WorkerSpec {
    pub fn read(path: &Path) -> Result<WorkerSpec, WorkerError> {
        read_json(path)
    }

    /// Writes the spec atomically (the worker never sees half a file).
    pub fn write(&self, path: &Path) -> Result<(), WorkerError> {
        write_atomic(path, &json_bytes(self)?)
    }

    /// The worker's captured stdout and stderr: `<result_path>.log`.
    pub fn log_path(&self) -> PathBuf {
        let mut p = self.result_path.clone().into_os_string();
        p.push(".log");
        PathBuf::from(p)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerStatus {
    Successful,
    Error,
}

/// What a worker reports. Fields it did not get to stay empty (`null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerResult {
    pub status: WorkerStatus,
    pub error: Option<String>,
    pub runtime: String,
    pub runtime_version: String,
    /// The spec's device (`cpu`, `cuda:0`).
    pub device_kind: Device,
    /// The device in words: the CPU model name.
    pub device: String,
    pub details: BTreeMap<String, String>,
    pub batch_size: u64,
    pub compile_ms: Option<f64>,
    pub first_ms: Option<f64>,
    pub warmup_iterations: u64,
    #[serde(default)]
    pub warmup_ms: Option<f64>,
    /// Whether warm-up reached a steady state (see `timing`).
    #[serde(default)]
    pub warmup_steady: Option<bool>,
    /// Why measuring stopped.
    #[serde(default)]
    pub stop: Option<Stop>,
    pub iterations: u64,
    pub total_ms: Option<f64>,
    pub stats: Option<LatencyStats>,
    pub stability: Option<Stability>,
    /// Samples per second at the median latency.
    pub throughput: Option<f64>,
    /// The measured phase stopped at max_time before its minimums.
    pub hit_max_time: bool,
    /// Peak resident memory of the worker (VmHWM), MiB.
    pub peak_rss_mb: Option<f64>,
    /// Cost of an empty timed region, included in every sample.
    pub timer_overhead_ns: Option<f64>,
    /// Output names in the order of the saved `output_<k>.pb` files.
    pub outputs: Vec<String>,
    /// "Core" latency (GPU sessions): device-resident inputs and outputs.
    #[serde(default)]
    pub core_stats: Option<LatencyStats>,
    #[serde(default)]
    pub core_iterations: Option<u64>,
    /// NVML telemetry of the measured iterations (GPU rows).
    #[serde(default)]
    pub gpu: Option<GpuTelemetry>,
    /// Non-fatal problems (no NVIDIA GPU for telemetry, ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What the host did while this row ran.
    #[serde(default)]
    pub host: Option<HostNoise>,
    /// `--pin`: the CPUs the worker and its threads were pinned to.
    #[serde(default)]
    pub pinned_cpus: Option<String>,
    /// Generation rows: TTFT, decode latency, tokens/s.
    #[serde(default)]
    pub generation: Option<crate::cache::generation::GenerationStats>,
}

impl WorkerResult {
    fn new(spec: &WorkerSpec) -> WorkerResult {
        WorkerResult {
            status: WorkerStatus::Error,
            error: None,
            runtime: spec.runtime.clone(),
            runtime_version: String::new(),
            device_kind: spec.device,
            device: device_name(spec.device),
            details: BTreeMap::new(),
            batch_size: spec.batch_size,
            compile_ms: None,
            first_ms: None,
            warmup_iterations: 0,
            warmup_ms: None,
            warmup_steady: None,
            stop: None,
            iterations: 0,
            total_ms: None,
            stats: None,
            stability: None,
            throughput: None,
            hit_max_time: false,
            peak_rss_mb: None,
            timer_overhead_ns: None,
            outputs: Vec::new(),
            core_stats: None,
            core_iterations: None,
            gpu: None,
            warnings: Vec::new(),
            host: None,
            pinned_cpus: None,
            generation: None,
        }
    }

    pub fn read(path: &Path) -> Result<WorkerResult, WorkerError> {
        read_json(path)
    }

    /// Copies what this module adds to rows (core latency, GPU telemetry,
    /// precision, warnings) into `row`; the caller fills the rest.
    pub fn apply_to(&self, row: &mut RuntimeRow) {
        row.precision = self.details.get("precision").cloned();
        if let Some(c) = &self.core_stats {
            row.core_mean_ms = Some(c.mean_ms);
            row.core_median_ms = Some(c.median_ms);
            row.core_p90_ms = Some(c.p90_ms);
            row.core_min_ms = Some(c.min_ms);
            row.core_max_ms = Some(c.max_ms);
            row.core_cov = Some(c.cov);
        }
        row.core_iterations = self.core_iterations;
        if let Some(g) = &self.gpu {
            row.peak_device_mem_mb = g.peak_mem_mb;
            row.peak_device_mem_scope = g.peak_mem_scope.clone();
            row.gpu_util_pct = g.util_mean_pct;
            row.gpu_util_max_pct = g.util_max_pct;
            row.gpu_power_w = g.power_mean_w;
            row.gpu_power_max_w = g.power_max_w;
            row.gpu_temp_max_c = g.temp_max_c;
            row.gpu_sm_clock_mhz = g.sm_clock_mean_mhz;
            row.gpu_sm_clock_max_mhz = g.sm_clock_max_mhz;
            row.gpu_telemetry_samples = Some(g.samples);
            row.gpu_throttle_reasons = g.throttle_reasons.clone();
        }
        row.warnings.extend(self.warnings.iter().cloned());
        row.generation = self.generation.clone();
    }
}

/// What a row watches while it measures: an NVML sampler over the measured
/// iterations of a GPU row, the host's noise, and (`--pin`) each thread
/// pinned once the runtime's threads exist.
struct RowWindow {
    cuda_index: Option<u32>,
    sampler: Option<Sampler>,
    telemetry: Option<GpuTelemetry>,
    problem: Option<String>,
    host: Option<HostMonitor>,
    pin: Option<Vec<usize>>,
    /// When the CPU clock was last read: at most every 250 ms.
    clock_read: Instant,
    /// The first inference's outputs, kept when the row saves outputs.
    first_outputs: Option<Vec<(String, HostValue)>>,
    keep_first_outputs: bool,
}

impl Window for RowWindow {
    fn first_run(&mut self, session: &mut dyn Session) -> Result<(), RuntimeError> {
        // Saved outputs are the first run's, as one `session.run` of a fresh
        // session gives them: a model with a seeded random op (training-mode
        // Dropout) or carried state gives other values on later runs, and
        // the number of runs differs per runtime and row.
        if self.keep_first_outputs {
            self.first_outputs = Some(session.output_values()?);
        }
        Ok(())
    }

    fn warm(&mut self) {
        if let Some(cpus) = &self.pin
            && let Err(e) = super::pin::pin_each_thread(cpus)
        {
            self.problem = Some(format!("--pin: {e}"));
        }
        // From here: warm-up's last block may open the measured samples.
        if let Some(h) = &mut self.host {
            h.measure_begin();
            self.clock_read = Instant::now();
        }
    }
    fn begin(&mut self) {
        if let Some(n) = self.cuda_index {
            match Sampler::start(n, telemetry::DEFAULT_INTERVAL) {
                Ok(s) => self.sampler = Some(s),
                Err(e) => self.problem = Some(format!("no GPU telemetry: {e}")),
            }
        }
    }
    fn checkpoint(&mut self) {
        if let Some(h) = &mut self.host
            && self.clock_read.elapsed() >= Duration::from_millis(250)
        {
            h.sample_clock();
            self.clock_read = Instant::now();
        }
    }
    fn end(&mut self) {
        if let Some(s) = self.sampler.take() {
            self.telemetry = Some(s.stop());
        }
        if let Some(h) = &mut self.host {
            h.measure_end();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid worker file: {message}", path.display())]
    Spec { path: PathBuf, message: String },
    #[error("no inputs: {} has no input_0.pb (the export stage writes them)", dir.display())]
    NoInputs { dir: PathBuf },
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Pin(String),
}

/// `exe __worker --spec SPEC`: the command [`spawn_worker`] expects.
pub fn worker_command(exe: &Path, spec_path: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg(WORKER_SUBCOMMAND).arg("--spec").arg(spec_path);
    cmd
}

/// The worker's entry point. Exit code 0: measured; 1: failed, with the
/// error in the result file; 2: not even a result could be written (the
/// reason goes to stderr, which the parent captures).
/// Fault injection for the harness's own tests (documented in the README):
/// `TURNKEY_FAULT_INJECT=crash:RUNTIME` makes that runtime's worker die by
/// SIGSEGV (`kill:RUNTIME` by SIGKILL, `oom:RUNTIME` by a failed allocation),
/// `hang:RUNTIME` makes it hang, so the parent's crash and timeout
/// handling is tested on real processes.
fn inject_fault(runtime: &str) {
    let Ok(f) = std::env::var("TURNKEY_FAULT_INJECT") else {
        return;
    };
    match f.split_once(':') {
        Some(("crash", rt)) if rt == runtime => {
            eprintln!("turnkey worker: injected crash");
            // SAFETY: our own process. Rust's stack-overflow handler would
            // swallow a raised SIGSEGV, so restore the default action first.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
        }
        Some(("kill", rt)) if rt == runtime => {
            eprintln!("turnkey worker: injected SIGKILL");
            // SAFETY: our own process; SIGKILL cannot be caught.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        }
        Some(("oom", rt)) if rt == runtime => {
            // An allocation no machine grants (4 EiB: more than any address
            // space, so no overcommit setting lets it touch real memory):
            // Rust's handler prints
            // "memory allocation of N bytes failed" and aborts, as when a
            // runtime asks for more than there is.
            let v = vec![1u8; 1 << 62];
            std::hint::black_box(&v);
        }
        Some(("hang", rt)) if rt == runtime => loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        },
        _ => {}
    }
}

pub fn worker_main(spec_path: &Path) -> ExitCode {
    ExitCode::from(worker_exit_code(spec_path))
}

fn worker_exit_code(spec_path: &Path) -> u8 {
    let spec = match WorkerSpec::read(spec_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("turnkey worker: {e}");
            return 2;
        }
    };
    inject_fault(&spec.runtime);
    let mut result = WorkerResult::new(&spec);
    match run_spec(&spec, &mut result) {
        Ok(()) => result.status = WorkerStatus::Successful,
        Err(e) => {
            result.status = WorkerStatus::Error;
            result.error = Some(e.to_string());
        }
    }
    result.peak_rss_mb = peak_rss_mb();
    let written = json_bytes(&result).and_then(|b| write_atomic(&spec.result_path, &b));
    match (written, result.status) {
        (Err(e), _) => {
            eprintln!("turnkey worker: cannot write the result: {e}");
            2
        }
        (Ok(()), WorkerStatus::Successful) => 0,
        (Ok(()), WorkerStatus::Error) => 1,
    }
}

/// Does the work, filling `result` as it goes so a failure keeps what was
/// learned before it.
fn run_spec(spec: &WorkerSpec, result: &mut WorkerResult) -> Result<(), WorkerError> {
    match spec.task {
        WorkerTask::Calibrate => return super::variant_tasks::calibrate(spec, result),
        WorkerTask::Optimize => return super::variant_tasks::optimize(spec, result),
        WorkerTask::Shapes | WorkerTask::Benchmark => {}
    }
    if spec.task == WorkerTask::Benchmark
        && let Some(g) = &spec.generation
    {
        return super::generate::run(spec, g, result);
    }
    let pin = match &spec.pin {
        Some(list) => {
            let cpus = super::pin::choose(list, spec.threads, &super::host::allowed_cpus())
                .and_then(|cpus| super::pin::pin_process(&cpus).map(|()| cpus))
                .map_err(|e| WorkerError::Pin(format!("--pin {list}: {e}")))?;
            result.pinned_cpus = Some(super::pin::show(&cpus));
            Some(cpus)
        }
        None => None,
    };
    // After pinning: the monitor reads the CPUs the worker may use.
    let host = HostMonitor::start();
    let inputs = read_inputs(&spec.inputs_dir)?;
    if spec.task == WorkerTask::Shapes {
        return write_shapes(spec, &inputs, result);
    }
    let rt = runtime::by_name(&spec.runtime)?;
    result.runtime_version = rt.version();
    let opts = SessionOptions {
        threads: spec.threads,
        device: spec.device,
        precision: spec.precision,
        graph_optimization: spec.graph_optimization,
        input_shapes: inputs
            .iter()
            .filter_map(|(n, v)| v.as_tensor().map(|t| (n.clone(), t.dtype, t.shape.clone())))
            .collect(),
    };

    let t = Instant::now();
    let mut session = rt.load(&spec.onnx, &opts)?;
    result.compile_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    result.details = session.details();

    session.set_values(&inputs)?;
    let mut window = RowWindow {
        cuda_index: match spec.device {
            Device::Cuda(n) => Some(n),
            Device::Cpu => None,
        },
        sampler: None,
        telemetry: None,
        problem: None,
        host: Some(host),
        pin,
        clock_read: Instant::now(),
        first_outputs: None,
        keep_first_outputs: spec.outputs_dir.is_some(),
    };
    let m = measure_with(session.as_mut(), &spec.bench, &mut window);
    result.gpu = window.telemetry.take();
    result.warnings.extend(window.problem.take());
    let host = window.host.take().map(HostMonitor::finish);
    let m = m?;
    result.first_ms = Some(m.first_ms);
    result.warmup_iterations = m.warmup_iterations;
    result.warmup_ms = Some(m.warmup_ms);
    result.warmup_steady = m.warmup_steady;
    result.stop = Some(m.stop);
    result.iterations = m.iterations;
    result.total_ms = Some(m.total_ms);
    result.throughput = Some(m.stats.throughput(spec.batch_size));
    let throttle = result
        .gpu
        .as_ref()
        .map(|g| g.throttle_reasons.clone())
        .unwrap_or_default();
    result.stability = Some(verdict::judge(&Evidence {
        stats: &m.stats,
        target_ci_pct: spec.bench.target_ci_pct,
        stop: m.stop,
        max_time_s: spec.bench.max_time.as_secs_f64(),
        host: host.as_ref(),
        warmup_steady: m.warmup_steady,
        gpu_throttle: &throttle,
        trials: None,
    }));
    result.host = host;
    result.stats = Some(m.stats);
    result.hit_max_time = m.hit_max_time;
    result.timer_overhead_ns = Some(m.timer_overhead_ns);

    if let Some(p) = &spec.samples_path {
        write_samples(p, &m.samples_ms)?;
    }
    if session.has_core() {
        let c = measure_with(&mut Core(session.as_mut()), &spec.bench, &mut ())?;
        result.core_iterations = Some(c.iterations);
        result.core_stats = Some(c.stats);
    }
    // A later trial (`--trials`) saves no outputs: the first one was checked.
    let Some(dir) = &spec.outputs_dir else {
        return Ok(());
    };
    let outputs = match window.first_outputs.take() {
        Some(o) => o,
        None => session.output_values()?,
    };
    result.outputs = outputs.iter().map(|(n, _)| n.clone()).collect();
    std::fs::create_dir_all(dir).map_err(|source| WorkerError::Io {
        path: dir.clone(),
        source,
    })?;
    write_values(dir, "output", &outputs)?;
    Ok(())
}

/// [`WorkerTask::Shapes`]: tract's analysis, saved as JSON.
fn write_shapes(
    spec: &WorkerSpec,
    inputs: &[(String, HostValue)],
    result: &mut WorkerResult,
) -> Result<(), WorkerError> {
    result.runtime_version = runtime::tract::tract_version();
    let facts: Vec<_> = inputs
        .iter()
        .filter_map(|(n, v)| v.as_tensor().map(|t| (n.clone(), t.dtype, t.shape.clone())))
        .collect();
    let shapes =
        runtime::tract::value_shapes(&spec.onnx, &facts).map_err(|message| RuntimeError::Load {
            runtime: "tract",
            model: spec.onnx.clone(),
            message,
        })?;
    let dir = spec.outputs_dir.as_ref().ok_or_else(|| WorkerError::Spec {
        path: spec.result_path.clone(),
        message: "a shapes task needs outputs_dir".into(),
    })?;
    std::fs::create_dir_all(dir).map_err(|source| WorkerError::Io {
        path: dir.clone(),
        source,
    })?;
    write_atomic(&dir.join(SHAPES_FILE), &json_bytes(&shapes)?)
}

/// `input_0.pb`, `input_1.pb`, ... until the first missing one.
pub fn read_inputs(dir: &Path) -> Result<Vec<(String, HostValue)>, WorkerError> {
    let inputs = read_values(dir, "input")?;
    // An existing, empty folder is a model without inputs (ONNX allows it).
    if inputs.is_empty() && !dir.is_dir() {
        return Err(WorkerError::NoInputs {
            dir: dir.to_path_buf(),
        });
    }
    Ok(inputs)
}

pub(super) fn write_samples(path: &Path, samples_ms: &[f64]) -> Result<(), WorkerError> {
    let bytes = if path.extension().is_some_and(|e| e == "csv") {
        let mut s = String::from("iteration,latency_ms\n");
        for (i, v) in samples_ms.iter().enumerate() {
            s += &format!("{i},{v}\n");
        }
        s.into_bytes()
    } else {
        json_bytes(&serde_json::json!({ "unit": "ms", "samples": samples_ms }))?
    };
    write_atomic(path, &bytes)
}

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, WorkerError> {
    serde_json::to_vec_pretty(v).map_err(|e| WorkerError::Spec {
        path: PathBuf::from("<json>"),
        message: e.to_string(),
    })
}

/// Writes `bytes` to `path` atomically (for the other worker tasks).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WorkerError> {
    write_atomic(path, bytes)
}

/// Write to a temporary file beside `path`, then rename over it.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WorkerError> {
    let io = |source| WorkerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The device in words: for the CPU, its model name; for a GPU, NVML's
/// name and driver.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => cpu_model_name(),
        Device::Cuda(n) => {
            let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
            let gpu = telemetry::probe().ok().and_then(|sys| {
                let g = match telemetry::target(n, visible.as_deref()) {
                    telemetry::Target::Index(i) => sys.gpus.iter().find(|g| g.index == i),
                    telemetry::Target::Uuid(u) => sys.gpus.iter().find(|g| g.uuid == u),
                }?;
                Some(format!(
                    "{} (driver {}, CUDA {})",
                    g.name, sys.driver, sys.cuda
                ))
            });
            gpu.unwrap_or_else(|| format!("CUDA device {n}"))
        }
    }
}

/// The CPU model from /proc/cpuinfo, or the architecture when it has none.
pub fn cpu_model_name() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| matches!(k.trim(), "model name" | "Model" | "cpu model" | "Hardware"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("{} CPU", std::env::consts::ARCH))
}

/// This process's peak resident set (VmHWM), MiB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// How a worker ended, seen from the parent.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerOutcome {
    /// It wrote a result (whose status may still be `error`).
    Finished(Box<WorkerResult>),
    /// It died by a signal, or exited without a result.
    Crashed {
        signal: Option<i32>,
        code: Option<i32>,
        stderr_tail: String,
    },
    /// It ran past the timeout and was killed with its process group.
    Timeout { after: Duration },
    /// The user interrupted the run (Ctrl-C); the worker group was killed.
    Interrupted { after: Duration },
    /// It could not be started or its result could not be read.
    Failed(String),
}

/// Runs `cmd` (normally [`worker_command`]) for `spec`, which the caller has
/// written where `cmd` points. The worker gets its own process group, killed
/// whole on timeout, and dies with the calling thread (PR_SET_PDEATHSIG), so
/// an interrupted run leaves no worker behind. Its stdout and stderr go to
/// [`WorkerSpec::log_path`]. Blocks until the worker ends.
pub fn spawn_worker(mut cmd: Command, spec: &WorkerSpec, timeout: Duration) -> WorkerOutcome {
    // A stale result must not pass for this run's.
    match std::fs::remove_file(&spec.result_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return WorkerOutcome::Failed(format!(
                "cannot remove the old result {}: {e}",
                spec.result_path.display()
            ));
        }
    }
    let log_path = spec.log_path();
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => {
            return WorkerOutcome::Failed(format!(
                "cannot create the worker log {}: {e}",
                log_path.display()
            ));
        }
    };
    let log_out = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return WorkerOutcome::Failed(format!("cannot share the worker log: {e}")),
    };
    cmd.stdin(Stdio::null())
        .stdout(log_out)
        .stderr(log)
        .process_group(0);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }

    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return WorkerOutcome::Failed(format!(
                "cannot start the worker {}: {e}",
                cmd.get_program().to_string_lossy()
            ));
        }
    };
    let pgid = child.id() as libc::pid_t;
    // Waits in short slices so a Ctrl-C is answered within ~50 ms.
    let status = loop {
        if crate::interrupt::requested() {
            kill_group(pgid);
            let _ = child.wait();
            return WorkerOutcome::Interrupted {
                after: start.elapsed(),
            };
        }
        let left = timeout.saturating_sub(start.elapsed());
        match child.wait_timeout(left.min(Duration::from_millis(50))) {
            Ok(Some(status)) => break status,
            Ok(None) if left.is_zero() => {
                kill_group(pgid);
                let _ = child.wait();
                return WorkerOutcome::Timeout {
                    after: start.elapsed(),
                };
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(pgid);
                let _ = child.wait();
                return WorkerOutcome::Failed(format!("cannot wait for the worker: {e}"));
            }
        }
    };

    if let Some(signal) = status.signal() {
        return WorkerOutcome::Crashed {
            signal: Some(signal),
            code: None,
            stderr_tail: tail(&log_path),
        };
    }
    match std::fs::read(&spec.result_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(r) => WorkerOutcome::Finished(Box::new(r)),
            Err(e) => WorkerOutcome::Failed(format!(
                "the worker's result {} is unreadable: {e}",
                spec.result_path.display()
            )),
        },
        Err(_) => WorkerOutcome::Crashed {
            signal: None,
            code: status.code(),
            stderr_tail: tail(&log_path),
        },
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: plain kill(2) on the group we created for the worker, before
    // the worker is reaped (so its id cannot have been reused).
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// The last lines of the worker's log (at most 20 lines / 4000 bytes).
fn tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    if out.len() > 4000 {
        let mut cut = out.len() - 4000;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{read_tensor_pb, write_tensor_pb};
    use crate::runtime::test_models;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    fn spec_in(dir: &Path) -> WorkerSpec {
        WorkerSpec {
            onnx: dir.join("model.onnx"),
            inputs_dir: dir.join("inputs"),
            runtime: "tract".into(),
            device: Device::Cpu,
            threads: 1,
            precision: Precision::Fp32,
            bench: BenchOptions {
                iterations: None,
                min_iterations: 20,
                min_time: Duration::from_millis(50),
                max_time: Duration::from_secs(20),
                warmup_min_iterations: 2,
                warmup_min_time: Duration::ZERO,
                ..BenchOptions::default()
            },
            batch_size: 2,
            outputs_dir: Some(dir.join("outputs")),
            samples_path: Some(dir.join("samples.csv")),
            result_path: dir.join("result.json"),
            pin: None,
            task: Default::default(),
            graph_optimization: None,
            generation: None,
        }
    }

    #[test]
    fn spec_round_trips_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let p = dir.path().join("spec.json");
        spec.write(&p).unwrap();
        assert_eq!(WorkerSpec::read(&p).unwrap(), spec);
        let minimal =
            r#"{"onnx": "m.onnx", "inputs_dir": "in", "runtime": "ort", "result_path": "r.json"}"#;
        let s: WorkerSpec = serde_json::from_str(minimal).unwrap();
        assert_eq!((s.device, s.threads, s.batch_size), (Device::Cpu, 0, 1));
        assert_eq!(s.bench, BenchOptions::default());
        assert_eq!(s.log_path(), PathBuf::from("r.json.log"));
        std::fs::write(&p, "{").unwrap();
        let e = WorkerSpec::read(&p).unwrap_err().to_string();
        assert!(e.contains("is not a valid worker file"), "{e}");
    }

    #[test]
    fn crash_by_signal_shows_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let out = spawn_worker(
            sh("echo 'about to die' >&2; kill -SEGV $$"),
            &spec,
            Duration::from_secs(20),
        );
        match out {
            WorkerOutcome::Crashed {
                signal,
                stderr_tail,
                ..
            } => {
                assert_eq!(signal, Some(libc::SIGSEGV));
                assert_eq!(stderr_tail, "about to die");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exit_without_result_is_a_crash_with_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        // A result left by an earlier run must not be taken for this one.
        std::fs::write(&spec.result_path, "{}").unwrap();
        let out = spawn_worker(sh("echo oops; exit 3"), &spec, Duration::from_secs(20));
        assert_eq!(
            out,
            WorkerOutcome::Crashed {
                signal: None,
                code: Some(3),
                stderr_tail: "oops".into()
            }
        );
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let pidfile = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let t = Instant::now();
        let out = spawn_worker(sh(&script), &spec, Duration::from_millis(500));
        match out {
            WorkerOutcome::Timeout { after } => {
                assert!(after >= Duration::from_millis(500), "{after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(10));
        // The grandchild (`sleep 30`) was killed too: gone or a zombie.
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        if let Ok(stat) = stat {
            let state = stat.rsplit(')').next().unwrap().split_whitespace().next();
            assert_eq!(state, Some("Z"), "{stat}");
        }
    }

    #[test]
    fn unstartable_command_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let out = spawn_worker(
            Command::new(dir.path().join("no-such-binary")),
            &spec,
            Duration::from_secs(5),
        );
        match out {
            WorkerOutcome::Failed(m) => assert!(m.contains("cannot start the worker"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// Runs `worker_main` when spawned by the tests below as a worker
    /// (the test binary stands in for `turnkey __worker`).
    #[test]
    fn child_worker_main() {
        if let Some(spec) = std::env::var_os("TURNKEY_TEST_WORKER_SPEC") {
            let code = worker_exit_code(Path::new(&spec));
            if code != 0 {
                std::process::exit(code.into());
            }
        }
    }

    fn test_binary_worker(spec_path: &Path) -> Command {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args([
            "--exact",
            "bench::worker::tests::child_worker_main",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TURNKEY_TEST_WORKER_SPEC", spec_path);
        c
    }

    fn prepare(dir: &Path) -> WorkerSpec {
        let spec = spec_in(dir);
        let model = test_models::mlp_gather(dir);
        std::fs::rename(model, &spec.onnx).unwrap();
        std::fs::create_dir_all(&spec.inputs_dir).unwrap();
        for (k, (name, t)) in test_models::mlp_gather_inputs().iter().enumerate() {
            write_tensor_pb(&spec.inputs_dir.join(format!("input_{k}.pb")), name, t).unwrap();
        }
        spec
    }

    /// Writes `spec` into `dir` and runs it in a worker (this test binary).
    fn run_spec(dir: &Path, spec: &WorkerSpec, timeout: Duration) -> WorkerOutcome {
        let spec_path = dir.join("spec.json");
        spec.write(&spec_path).unwrap();
        spawn_worker(test_binary_worker(&spec_path), spec, timeout)
    }

    #[test]
    fn a_worker_measures_saves_outputs_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        for rt in ["tract", "ort"] {
            let mut spec = prepare(dir.path());
            spec.runtime = rt.into();
            spec.outputs_dir = Some(dir.path().join(format!("outputs_{rt}")));
            let out = run_spec(dir.path(), &spec, Duration::from_secs(120));
            let r = match out {
                WorkerOutcome::Finished(r) => r,
                other => panic!("{rt}: {other:?}"),
            };
            assert_eq!(r.status, WorkerStatus::Successful, "{rt}: {:?}", r.error);
            assert_eq!(r.runtime, rt);
            assert!(!r.runtime_version.is_empty());
            assert!(!r.device.is_empty());
            assert!(r.iterations >= 20, "{}", r.iterations);
            assert!(r.warmup_iterations >= 2);
            assert!(r.total_ms.unwrap() >= 50.0);
            let st = r.stats.as_ref().unwrap();
            assert!(st.min_ms > 0.0 && st.min_ms <= st.median_ms && st.median_ms <= st.max_ms);
            assert_eq!(r.throughput.unwrap(), st.throughput(2));
            assert!(r.compile_ms.unwrap() > 0.0 && r.first_ms.unwrap() > 0.0);
            assert!(r.peak_rss_mb.unwrap() > 1.0);
            assert!(r.timer_overhead_ns.is_some());
            assert_eq!(r.details["intra_op_threads"], "1");
            assert_eq!(r.outputs, ["y", "g", "k"]);
            let samples = std::fs::read_to_string(spec.samples_path.as_ref().unwrap()).unwrap();
            assert_eq!(samples.lines().count() as u64, r.iterations + 1);
            assert!(samples.starts_with("iteration,latency_ms\n0,"));
        }
        // Both rows saved the same outputs.
        for k in 0..3 {
            let f = |rt: &str| dir.path().join(format!("outputs_{rt}/output_{k}.pb"));
            let (n1, t1) = read_tensor_pb(&f("tract")).unwrap();
            let (n2, t2) = read_tensor_pb(&f("ort")).unwrap();
            let c = crate::bench::compare::compare(&[(n1, t1)], &[(n2, t2)], 1e-5, 1e-4);
            assert!(c.pass, "{}", c.summary);
        }
    }

    #[test]
    fn a_failing_worker_still_writes_its_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = prepare(dir.path());
        spec.runtime = "nope".into();
        match run_spec(dir.path(), &spec, Duration::from_secs(60)) {
            WorkerOutcome::Finished(r) => {
                assert_eq!(r.status, WorkerStatus::Error);
                let e = r.error.unwrap();
                assert!(e.contains("unknown runtime 'nope'"), "{e}");
                assert!(r.stats.is_none());
                assert!(r.peak_rss_mb.is_some());
            }
            other => panic!("{other:?}"),
        }
        // No inputs: the message says which folder.
        std::fs::remove_dir_all(&spec.inputs_dir).unwrap();
        spec.runtime = "tract".into();
        match run_spec(dir.path(), &spec, Duration::from_secs(60)) {
            WorkerOutcome::Finished(r) => {
                let e = r.error.unwrap();
                assert!(e.contains("has no input_0.pb"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreadable_spec_exits_2_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path());
        let missing = dir.path().join("missing-spec.json");
        match spawn_worker(test_binary_worker(&missing), &spec, Duration::from_secs(60)) {
            WorkerOutcome::Crashed {
                signal: None,
                code: Some(code),
                stderr_tail,
            } => {
                assert_eq!(code, 2);
                assert!(stderr_tail.contains("turnkey worker: "), "{stderr_tail}");
                assert!(stderr_tail.contains("missing-spec.json"), "{stderr_tail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn core_latency_and_gpu_telemetry_reach_the_row() {
        let spec = spec_in(Path::new("/x"));
        let mut res = WorkerResult::new(&spec);
        res.details.insert("precision".into(), "fp16".into());
        res.core_stats = LatencyStats::from_samples(&[1.0, 2.0, 3.0]);
        res.core_iterations = Some(3);
        res.gpu = Some(GpuTelemetry {
            device: "H100".into(),
            samples: 7,
            peak_mem_mb: Some(512.0),
            peak_mem_scope: Some("process".into()),
            util_mean_pct: Some(80.0),
            util_max_pct: Some(99.0),
            power_mean_w: Some(300.0),
            power_max_w: Some(350.0),
            temp_max_c: Some(61.0),
            sm_clock_mean_mhz: Some(1700.0),
            sm_clock_max_mhz: Some(1980.0),
            ..Default::default()
        });
        res.warnings.push("w".into());
        let mut row = RuntimeRow::new("torch", "cuda:0");
        res.apply_to(&mut row);
        assert_eq!(row.precision.as_deref(), Some("fp16"));
        assert_eq!(row.core_median_ms, Some(2.0));
        assert_eq!((row.core_min_ms, row.core_max_ms), (Some(1.0), Some(3.0)));
        assert_eq!(row.core_iterations, Some(3));
        assert_eq!(row.peak_device_mem_mb, Some(512.0));
        assert_eq!(row.peak_device_mem_scope.as_deref(), Some("process"));
        assert_eq!(
            (row.gpu_util_pct, row.gpu_util_max_pct),
            (Some(80.0), Some(99.0))
        );
        assert_eq!(
            (row.gpu_power_w, row.gpu_power_max_w),
            (Some(300.0), Some(350.0))
        );
        assert_eq!(row.gpu_temp_max_c, Some(61.0));
        assert_eq!(row.gpu_sm_clock_mhz, Some(1700.0));
        assert_eq!(row.gpu_telemetry_samples, Some(7));
        assert_eq!(row.warnings, ["w"]);
        // A CPU result leaves the GPU fields empty.
        let mut cpu = RuntimeRow::new("ort", "cpu");
        WorkerResult::new(&spec).apply_to(&mut cpu);
        assert_eq!((cpu.core_median_ms, cpu.gpu_util_pct), (None, None));
    }

    #[test]
    fn a_gpu_row_without_a_gpu_is_an_error_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = prepare(dir.path());
        spec.runtime = "ort".into();
        spec.device = Device::Cuda(0);
        match run_spec(dir.path(), &spec, Duration::from_secs(60)) {
            WorkerOutcome::Finished(r) => {
                if r.status == WorkerStatus::Successful {
                    return; // a GPU build of ONNX Runtime on a GPU machine
                }
                let e = r.error.unwrap();
                assert!(e.starts_with("ort cannot run on cuda:0: "), "{e}");
                assert!(r.stats.is_none() && r.core_stats.is_none() && r.gpu.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn machine_facts() {
        assert!(!cpu_model_name().is_empty());
        assert!(peak_rss_mb().unwrap() > 0.0);
    }
}
