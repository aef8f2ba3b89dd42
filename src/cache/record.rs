//! The build record: everything turnkey knows about one build, as JSON.
//!
//! One record per build (`builds/<build>/record.json`). Every stage and every
//! runtime × device result writes into it as it goes, so a record always says
//! how far a build got. Readers call [`Record::load`], which also turns
//! entries left `running` by a dead process into `killed`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CacheError;
use super::system::{hostname, process_alive};
use crate::bench::host::HostNoise;
use crate::bench::stats::{Histogram, LatencyStats};
use crate::graph::{DType, GraphStats};

/// The record format version. Bump it when a field changes meaning or is
/// removed; adding an optional field does not need a bump (`serde(default)`).
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of a stage or of a runtime × device row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done, and (for a row) its outputs agree with the reference.
    Successful,
    /// Failed with an error message (in `error`).
    Error,
    /// The worker process died from a signal (named in `error`).
    Crashed,
    /// Ran past `--timeout` and was stopped.
    Timeout,
    /// Interrupted: the process running it is gone (Ctrl-C, kill, OOM killer).
    Killed,
    /// Never run because an earlier stage failed.
    #[default]
    NotStarted,
    /// Ran, but its outputs disagree with the reference beyond tolerance.
    Mismatch,
    /// In progress in process `pid` (a dead `pid` reads back as `Killed`).
    Running,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Successful,
        Status::Error,
        Status::Crashed,
        Status::Timeout,
        Status::Killed,
        Status::NotStarted,
        Status::Mismatch,
        Status::Running,
    ];

    /// The name used in records, reports and the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Successful => "successful",
            Status::Error => "error",
            Status::Crashed => "crashed",
            Status::Timeout => "timeout",
            Status::Killed => "killed",
            Status::NotStarted => "not_started",
            Status::Mismatch => "mismatch",
            Status::Running => "running",
        }
    }

    /// True for the outcomes that make turnkey's exit code non-zero.
    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Successful | Status::Running)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Status::ALL.iter().map(|st| st.as_str()).collect();
                format!("unknown status '{s}': expected one of {}", known.join(", "))
            })
    }
}

/// Name, shape and element type of one model input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// The input's name (the key in the script's input map) or output's name.
    pub name: String,
    /// Concrete dimensions.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Sequences and optionals (ONNX files only): the whole value, e.g.
    /// `seq(float32[2], float32[3])`; `shape` and `dtype` are then those
    /// of the first tensor inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// ONNX file inputs: where the data came from (`random`, `script`,
    /// `test_data_set_0/input_0.pb`, `value 16000`, `file img.npy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl TensorSpec {
    pub fn new(name: &str, shape: &[usize], dtype: DType) -> Self {
        TensorSpec {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype,
            value: None,
            source: None,
        }
    }
}

impl fmt::Display for TensorSpec {
    /// `x:float32[1,10]`, the form the report uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = &self.value {
            return write!(f, "{}:{v}", self.name);
        }
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}:{}[{}]", self.name, self.dtype, dims.join(","))
    }
}

/// What the build is: fixed by discover (and export for the counts). Fields a
/// failed script never reached stay empty/`None`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Identity {
    /// Build name: `<script stem>[_<author>]_<hash8>` (the folder name).
    pub name: String,
    /// Full sha256 (hex) of the graph structure and inputs; of the file for ONNX inputs.
    pub hash: String,
    /// The script or ONNX file, as given on the command line.
    pub script: String,
    /// The model's class name (`nn::sequential("TwoLayer", ..)` → `TwoLayer`).
    pub model_class: Option<String>,
    /// The script's `# labels:` line: key → values.
    pub labels: BTreeMap<String, Vec<String>>,
    /// The script's `//!` source docs.
    pub description: Option<String>,
    /// `--script-args` as given (part of the identity).
    pub script_args: String,
    /// Inputs of the traced call.
    pub inputs: Vec<TensorSpec>,
    /// Outputs of the traced call.
    pub outputs: Vec<TensorSpec>,
    /// Trainable parameter count (as PyTorch counts them).
    pub params: Option<u64>,
    /// Bytes of all parameters and buffers.
    pub param_bytes: Option<u64>,
    /// FLOPs of one call, counted from the IR.
    pub flops: Option<u64>,
    /// ONNX opset of the exported graph.
    pub opset: Option<i64>,
    /// Node count per op kind.
    pub op_counts: BTreeMap<String, usize>,
    /// Where the script calls the model: `file:line`.
    pub location: Option<String>,
    /// Nesting depth of this model for `--max-depth` sub-builds (0 = top level).
    pub depth: Option<u32>,
    /// The build this one is a sub-model of (`--max-depth`).
    pub parent: Option<String>,
    /// How many times the script called the model with these inputs.
    pub executions: u64,
    /// ONNX inputs: sha256 (hex) of the model file.
    pub file_sha256: Option<String>,
    /// ONNX inputs: of `params`, the elements in initializers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params_initializers: Option<u64>,
    /// ONNX inputs: of `params`, the elements in `Constant` nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params_constants: Option<u64>,
    /// ONNX inputs: FLOPs of the nodes counted when some could not be (then
    /// `flops` is empty: a partial sum is no model's FLOPs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops_partial: Option<u64>,
    /// ONNX inputs: the FLOPs of `flops` (or `flops_partial`) per op type.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flops_by_op: BTreeMap<String, u64>,
    /// ONNX inputs: nodes not in `flops`, by `Op (why)`: no formula, shapes
    /// unknown, subgraphs not counted.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flops_not_counted: BTreeMap<String, usize>,
    /// ONNX inputs: why no FLOPs could be counted (the shape analysis failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops_error: Option<String>,
    /// ONNX inputs: sha256 (hex) of each external data file, by its path
    /// relative to the model (part of the build's identity).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_sha256: BTreeMap<String, String>,
    /// ONNX inputs: the sizes bound to dynamic axes and inputs
    /// (`--axis`, `--shape`, a manifest's `axes`), e.g. `batch_size=8`.
    pub bindings: Option<String>,
    /// ONNX inputs: where the input data came from: `random`, `script`
    /// (`onnx::load`), or `test_data_set_0` (ONNX's test-data layout).
    pub input_source: Option<String>,
    /// The error this build must fail with (a manifest's `expected_failure`).
    pub expected_failure: Option<String>,
    /// The most bytes of inputs and intermediate values alive at once in
    /// one call (the nodes in order, each value freed after its last use).
    pub activation_bytes: Option<u64>,
    /// Language models: `flops` over the elements of `input_ids`.
    pub flops_per_token: Option<u64>,
    /// A precision variant: the build it was made from (`--precision`,
    /// `--ort-opt-level`), whose rows its rows are checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<String>,
    /// A precision variant: how it was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<super::variant::VariantInfo>,
    /// Scripts: where the weights came from (`random(0)`, or checkpoint
    /// files with their sha256); part of the build's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<crate::graph::WeightsInfo>,
    /// `lm.generate` builds: prompt, new tokens and KV cache (issue #18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<super::generation::GenerationInfo>,
}

impl Identity {
    /// Fills the counts that the IR computes.
    pub fn set_stats(&mut self, stats: &GraphStats) {
        self.params = Some(stats.params);
        self.param_bytes = Some(stats.param_bytes);
        self.flops = Some(stats.flops);
        self.op_counts = stats.op_counts.clone();
        self.activation_bytes = Some(stats.activation_peak_bytes);
        self.flops_per_token = stats.flops_per_token();
    }

    /// All values of one label, joined with `,` (empty when absent).
    pub fn label(&self, key: &str) -> String {
        self.labels
            .get(key)
            .map(|v| v.join(","))
            .unwrap_or_default()
    }
}

pub use super::system::SystemInfo;

/// One stage of the pipeline ("discover", "export", "benchmark", ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageRecord {
    pub status: Status,
    /// When the stage began.
    pub started: DateTime<Utc>,
    /// When it ended; `None` while running.
    pub finished: Option<DateTime<Utc>>,
    /// Seconds from `started` to `finished`.
    pub duration_s: Option<f64>,
    /// What went wrong, for a failed stage.
    pub error: Option<String>,
    /// The process running it (used to detect a killed run).
    pub pid: Option<u32>,
    /// The host of `pid`: a pid is only checked on its own host.
    pub host: Option<String>,
    /// Non-fatal problems (an unused script argument, ...).
    pub warnings: Vec<String>,
}

impl Default for StageRecord {
    fn default() -> Self {
        StageRecord {
            status: Status::NotStarted,
            started: Utc::now(),
            finished: None,
            duration_s: None,
            error: None,
            pid: None,
            host: None,
            warnings: Vec::new(),
        }
    }
}

/// Outcome of comparing a row's outputs with the reference runtime's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Within tolerance.
    Passed,
    /// Beyond tolerance (the row's status is `mismatch`).
    Failed,
    /// This row is the reference the others are compared with.
    Reference,
    /// Not compared (no reference, or the row failed before producing outputs).
    #[default]
    Skipped,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Reference => "reference",
            CheckStatus::Skipped => "skipped",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The output check of one row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputCheck {
    /// The reference, as `runtime/device` (e.g. `ort/cpu`).
    pub reference: String,
    pub status: CheckStatus,
    /// Largest |out - ref| over all outputs.
    pub max_abs_diff: Option<f64>,
    /// Largest |out - ref| / |ref| over all outputs.
    pub max_rel_diff: Option<f64>,
    /// One line for people: which output, tolerance used, worst element.
    pub summary: Option<String>,
    /// The tolerances used.
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    /// The verdict for each output, by name.
    pub outputs: Vec<OutputDiff>,
}

/// The check of one output tensor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutputDiff {
    pub name: String,
    pub passed: bool,
    pub max_abs_diff: f64,
    pub max_rel_diff: f64,
    /// Elements outside the tolerance.
    pub mismatched: usize,
    /// Why it failed, when it did.
    pub problem: Option<String>,
}

/// One runtime × device result. Measurements are `None` when the row failed
/// before producing them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeRow {
    /// `ort`, `tract`, `torch`, ...
    pub runtime: String,
    /// The runtime library's version (e.g. ONNX Runtime 1.32.0).
    pub runtime_version: Option<String>,
    /// `cpu`, `cuda`, `ort-trt`, ...
    pub device: String,
    /// What the device is: CPU model, or GPU name and driver.
    pub device_name: Option<String>,
    /// Runtime settings worth knowing (threads, execution provider, graph optimization level).
    pub details: BTreeMap<String, String>,
    pub status: Status,
    /// What went wrong (error text, signal, timeout).
    pub error: Option<String>,
    /// Session creation / compile time.
    pub compile_ms: Option<f64>,
    /// Latency of the first inference.
    pub first_ms: Option<f64>,
    /// Warm-up iterations before measuring.
    pub warmup_iterations: Option<u64>,
    /// Measured iterations.
    pub iterations: Option<u64>,
    /// Total measured time.
    pub total_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Standard deviation of the latency.
    pub std_ms: Option<f64>,
    /// Coefficient of variation, std / mean.
    pub cov: Option<f64>,
    /// Quartiles and histogram of the latencies (absent in records from
    /// turnkey before they were kept here: the report then reads the
    /// samples file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p25_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p75_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// The median's 95% confidence interval (order statistics; with
    /// `--trials`, widened by the spread between trials). Absent in records
    /// from turnkey before it measured them, like the fields below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_ci_lo_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_ci_hi_ms: Option<f64>,
    /// Median absolute deviation (unscaled) and interquartile range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mad_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iqr_ms: Option<f64>,
    /// Samples outside Tukey's fences (1.5 IQR beyond the quartiles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outliers: Option<u64>,
    /// `--target-ci`: the half-width, in % of the median, a stable row reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_ci_pct: Option<f64>,
    /// Why measuring stopped: `target`, `max_time` or `iterations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    /// Warm-up time, and whether it ended in a steady state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_steady: Option<bool>,
    /// What the host did while the row ran (other processes' CPU, waits,
    /// steal, load, CPU clock); with trials, the noisiest of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_noise: Option<HostNoise>,
    /// `--pin`: the CPUs the worker and its threads were pinned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_cpus: Option<String>,
    /// `--trials`: each fresh worker process's result (the latency fields
    /// above then pool all their samples).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<Trial>,
    /// Between-trial spread: (highest - lowest trial median) / median, in %.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_spread_pct: Option<f64>,
    /// GPU rows: NVML clock throttle reasons seen while measuring.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpu_throttle_reasons: Vec<String>,
    /// Generation rows: TTFT, per-token decode latency, tokens/s (issue #18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<super::generation::GenerationStats>,
    /// Verdict on the measurement: `stable`, or `unstable` with the reason.
    pub stability: Option<String>,
    /// Samples per second: batch_size / median latency.
    pub throughput: Option<f64>,
    /// The batch size used for throughput.
    pub batch_size: Option<u64>,
    /// Peak resident memory of the worker process.
    pub peak_rss_mb: Option<f64>,
    /// Peak device memory (NVML), on GPUs.
    pub peak_device_mem_mb: Option<f64>,
    /// Mean GPU utilization in percent (NVML), on GPUs.
    pub gpu_util_pct: Option<f64>,
    /// Mean GPU power in watts (NVML), on GPUs.
    pub gpu_power_w: Option<f64>,
    /// Whose memory `peak_device_mem_mb` is: `process` (NVML's per-process
    /// figure) or `device` (all of the GPU's used memory).
    pub peak_device_mem_scope: Option<String>,
    /// Highest GPU utilization sampled, percent (NVML).
    pub gpu_util_max_pct: Option<f64>,
    /// Highest GPU power sampled, watts (NVML).
    pub gpu_power_max_w: Option<f64>,
    /// Highest GPU temperature sampled, °C (NVML).
    pub gpu_temp_max_c: Option<f64>,
    /// Mean and highest SM clock sampled, MHz (NVML).
    pub gpu_sm_clock_mhz: Option<f64>,
    pub gpu_sm_clock_max_mhz: Option<f64>,
    /// NVML samples taken during the measured iterations.
    pub gpu_telemetry_samples: Option<u64>,
    /// Numeric precision asked for (`fp32`, `fp16`).
    pub precision: Option<String>,
    /// "Core" latency, on GPUs: inputs already on the device, outputs left
    /// there, synchronized. The latency fields above are "whole": host
    /// inputs to host outputs (on the CPU the two are the same).
    pub core_mean_ms: Option<f64>,
    pub core_median_ms: Option<f64>,
    pub core_p90_ms: Option<f64>,
    pub core_min_ms: Option<f64>,
    pub core_max_ms: Option<f64>,
    pub core_cov: Option<f64>,
    pub core_iterations: Option<u64>,
    /// FLOP/s reached: the model's FLOPs per sample × throughput.
    pub achieved_flops: Option<f64>,
    /// The machine's measured peak FLOP/s for this runtime and device
    /// (`turnkey peak`), when one is cached.
    pub peak_flops: Option<f64>,
    /// `achieved_flops` as a percentage of `peak_flops`.
    pub pct_of_peak: Option<f64>,
    /// Which peak measurement `peak_flops` comes from.
    pub peak_source: Option<String>,
    /// Cost of an empty timed call, measured by the harness.
    pub timer_overhead_ns: Option<f64>,
    /// The output check; `None` when no outputs were produced.
    pub check: Option<OutputCheck>,
    /// Per-iteration latencies, relative to the build folder.
    pub samples_file: Option<String>,
    /// When the row was (last) run.
    pub timestamp: DateTime<Utc>,
    /// Wall time of the whole row, worker start to finish.
    pub duration_s: Option<f64>,
    /// The process running it (used to detect a killed run).
    pub pid: Option<u32>,
    /// The host of `pid`.
    pub host: Option<String>,
    /// Non-fatal problems.
    pub warnings: Vec<String>,
    /// With an expected failure: whether this row failed as expected.
    pub expectation: Option<String>,
    /// A precision variant's row: its accuracy cost and speedup against
    /// the fp32 build's row on the same runtime and device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<crate::bench::accuracy::Accuracy>,
}

impl Default for RuntimeRow {
    fn default() -> Self {
        RuntimeRow {
            runtime: String::new(),
            runtime_version: None,
            device: String::new(),
            device_name: None,
            details: BTreeMap::new(),
            status: Status::NotStarted,
            error: None,
            compile_ms: None,
            first_ms: None,
            warmup_iterations: None,
            iterations: None,
            total_ms: None,
            mean_ms: None,
            median_ms: None,
            p90_ms: None,
            p95_ms: None,
            p99_ms: None,
            min_ms: None,
            max_ms: None,
            std_ms: None,
            cov: None,
            median_ci_lo_ms: None,
            median_ci_hi_ms: None,
            mad_ms: None,
            iqr_ms: None,
            outliers: None,
            target_ci_pct: None,
            stop: None,
            warmup_ms: None,
            warmup_steady: None,
            host_noise: None,
            pinned_cpus: None,
            trials: Vec::new(),
            trial_spread_pct: None,
            gpu_throttle_reasons: Vec::new(),
            generation: None,
            stability: None,
            throughput: None,
            batch_size: None,
            peak_rss_mb: None,
            peak_device_mem_mb: None,
            gpu_util_pct: None,
            gpu_power_w: None,
            peak_device_mem_scope: None,
            gpu_util_max_pct: None,
            gpu_power_max_w: None,
            gpu_temp_max_c: None,
            gpu_sm_clock_mhz: None,
            gpu_sm_clock_max_mhz: None,
            gpu_telemetry_samples: None,
            precision: None,
            core_mean_ms: None,
            core_median_ms: None,
            core_p90_ms: None,
            core_min_ms: None,
            core_max_ms: None,
            core_cov: None,
            core_iterations: None,
            achieved_flops: None,
            peak_flops: None,
            pct_of_peak: None,
            peak_source: None,
            timer_overhead_ns: None,
            check: None,
            samples_file: None,
            p25_ms: None,
            p75_ms: None,
            histogram: None,
            timestamp: Utc::now(),
            duration_s: None,
            pid: None,
            host: None,
            warnings: Vec::new(),
            expectation: None,
            accuracy: None,
        }
    }
}

/// One run of a row in its own worker process (`--trials`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trial {
    pub median_ms: f64,
    pub median_ci_lo_ms: Option<f64>,
    pub median_ci_hi_ms: Option<f64>,
    pub iterations: u64,
    pub warmup_iterations: u64,
    pub warmup_ms: Option<f64>,
    pub warmup_steady: Option<bool>,
    /// Why its measuring stopped (`target`, `max_time`, `iterations`).
    pub stop: Option<String>,
    /// This trial's own verdict.
    pub stability: Option<String>,
    pub host_noise: Option<HostNoise>,
    pub timestamp: Option<DateTime<Utc>>,
}

impl RuntimeRow {
    /// A fresh row for `runtime` on `device`, not started.
    pub fn new(runtime: &str, device: &str) -> Self {
        RuntimeRow {
            runtime: runtime.to_string(),
            device: device.to_string(),
            ..Default::default()
        }
    }

    /// Copies the latency statistics of the measured iterations.
    pub fn set_latency(&mut self, s: &LatencyStats) {
        self.mean_ms = Some(s.mean_ms);
        self.median_ms = Some(s.median_ms);
        self.p90_ms = Some(s.p90_ms);
        self.p95_ms = Some(s.p95_ms);
        self.p99_ms = Some(s.p99_ms);
        self.min_ms = Some(s.min_ms);
        self.max_ms = Some(s.max_ms);
        self.std_ms = Some(s.std_ms);
        self.cov = Some(s.cov);
        self.p25_ms = Some(s.p25_ms);
        self.p75_ms = Some(s.p75_ms);
        self.median_ci_lo_ms = s.median_ci_lo_ms;
        self.median_ci_hi_ms = s.median_ci_hi_ms;
        self.mad_ms = Some(s.mad_ms);
        self.iqr_ms = Some(s.iqr_ms);
        self.outliers = Some(s.outliers);
        // An empty histogram is a record from a worker that kept none.
        self.histogram = (!s.histogram.counts.is_empty()).then(|| s.histogram.clone());
    }

    /// Marks the row as running in `pid` on this host, now; measurements of
    /// an earlier run are cleared so a killed re-run does not show stale numbers.
    pub fn start(&mut self, pid: u32) {
        *self = RuntimeRow {
            status: Status::Running,
            pid: Some(pid),
            host: hostname(),
            ..RuntimeRow::new(&self.runtime, &self.device)
        };
    }
}

/// The whole build record (`record.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Format version; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    pub identity: Identity,
    /// The machine that last ran this build.
    pub system: SystemInfo,
    /// Pipeline stages by name.
    pub stages: BTreeMap<String, StageRecord>,
    /// One row per runtime × device.
    pub runtimes: Vec<RuntimeRow>,
    /// When the record was first written.
    pub created: DateTime<Utc>,
    /// When it was last written.
    pub updated: DateTime<Utc>,
}

impl Default for Record {
    fn default() -> Self {
        let now = Utc::now();
        Record {
            schema_version: SCHEMA_VERSION,
            identity: Identity::default(),
            system: SystemInfo::default(),
            stages: BTreeMap::new(),
            runtimes: Vec::new(),
            created: now,
            updated: now,
        }
    }
}

/// Just the version, read first so a newer record is refused with a clear
/// message instead of a confusing field error.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u32>,
}

impl Record {
    /// An empty record for build `name`.
    pub fn new(name: &str) -> Self {
        let mut r = Record::default();
        r.identity.name = name.to_string();
        r
    }

    /// Reads a record file: refuses a newer schema, names the file on a parse
    /// error, and marks entries left `running` by a dead process as `killed`.
    pub fn load(path: &Path) -> Result<Record, CacheError> {
        let bytes = std::fs::read(path).map_err(|source| CacheError::Io {
            action: "read the build record",
            path: path.to_path_buf(),
            source,
        })?;
        Record::from_json(&bytes, path)
    }

    /// Parses record JSON; `path` is only used in error messages.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Record, CacheError> {
        let corrupt = |e: serde_json::Error| CacheError::CorruptRecord {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // One parse in the common case (a report reads thousands of
        // records); the version probe runs only to explain a failure.
        let parsed = serde_json::from_slice::<Record>(bytes);
        let version = match &parsed {
            // Fields default, so a parse alone does not prove the key was there.
            Ok(r) if memchr::memmem::find(bytes, b"\"schema_version\"").is_some() => {
                Some(r.schema_version)
            }
            Ok(_) => None,
            Err(_) => {
                serde_json::from_slice::<VersionProbe>(bytes)
                    .map_err(corrupt)?
                    .schema_version
            }
        };
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(CacheError::NewerSchema {
                    path: path.to_path_buf(),
                    version: v,
                });
            }
            Some(_) => {}
            None => {
                return Err(CacheError::CorruptRecord {
                    path: path.to_path_buf(),
                    message: "missing field `schema_version`".to_string(),
                });
            }
        }
        let mut record = parsed.map_err(corrupt)?;
        record.mark_killed(process_alive);
        Ok(record)
    }

    /// Pretty JSON, as written to `record.json`.
    pub fn to_json(&self) -> Vec<u8> {
        // A Record holds only strings, numbers and maps with string keys:
        // serialization cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Turns `running` entries whose process is gone into `killed`. Entries
    /// from another host are left alone: their pid means nothing here.
    pub fn mark_killed(&mut self, alive: impl Fn(u32) -> bool) {
        let this_host = hostname();
        let dead = |pid: Option<u32>, host: &Option<String>| match (pid, host) {
            (Some(pid), Some(h)) if Some(h) == this_host.as_ref() => !alive(pid),
            (Some(pid), None) => !alive(pid),
            // No pid: nothing can ever finish it, so it is not running.
            (None, _) => true,
            _ => false,
        };
        for (name, stage) in &mut self.stages {
            if stage.status == Status::Running && dead(stage.pid, &stage.host) {
                stage.status = Status::Killed;
                stage.error = Some(format!("interrupted while {name} was running"));
            }
        }
        for row in &mut self.runtimes {
            if row.status == Status::Running && dead(row.pid, &row.host) {
                row.status = Status::Killed;
                row.error = Some(format!(
                    "interrupted while benchmark {}/{} was running",
                    row.runtime, row.device
                ));
            }
        }
    }

    /// The stage `name`, if it was ever started.
    pub fn stage(&self, name: &str) -> Option<&StageRecord> {
        self.stages.get(name)
    }

    /// True when stage `name` completed successfully (a re-run skips it).
    pub fn stage_succeeded(&self, name: &str) -> bool {
        self.stage(name)
            .is_some_and(|s| s.status == Status::Successful)
    }

    /// Marks stage `name` as running in this process, now. Any earlier outcome
    /// of the stage is replaced.
    pub fn start_stage(&mut self, name: &str) {
        self.stages.insert(
            name.to_string(),
            StageRecord {
                status: Status::Running,
                started: Utc::now(),
                pid: Some(std::process::id()),
                host: hostname(),
                ..Default::default()
            },
        );
    }

    /// Records the outcome of stage `name`, now. A stage never started (e.g.
    /// `not_started` after an earlier failure) gets a zero duration.
    pub fn finish_stage(&mut self, name: &str, status: Status, error: Option<String>) {
        let now = Utc::now();
        let stage = self
            .stages
            .entry(name.to_string())
            .or_insert_with(|| StageRecord {
                started: now,
                ..Default::default()
            });
        stage.status = status;
        stage.finished = Some(now);
        stage.duration_s = Some(seconds_between(stage.started, now));
        stage.error = error;
    }

    /// The row for `runtime` on `device`, if any.
    pub fn row(&self, runtime: &str, device: &str) -> Option<&RuntimeRow> {
        self.runtimes
            .iter()
            .find(|r| r.runtime == runtime && r.device == device)
    }

    /// The row for `runtime` on `device`, created (not started) if missing.
    pub fn row_mut(&mut self, runtime: &str, device: &str) -> &mut RuntimeRow {
        let i = match self
            .runtimes
            .iter()
            .position(|r| r.runtime == runtime && r.device == device)
        {
            Some(i) => i,
            None => {
                self.runtimes.push(RuntimeRow::new(runtime, device));
                self.runtimes.len() - 1
            }
        };
        &mut self.runtimes[i]
    }

    /// Replaces the row with the same runtime and device, or adds it.
    pub fn set_row(&mut self, row: RuntimeRow) {
        let slot = self.row_mut(&row.runtime, &row.device);
        *slot = row;
    }
}

/// Seconds between two instants, never negative (clocks can step back).
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(0) as f64 / 1e6).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn p() -> PathBuf {
        PathBuf::from("/c/builds/x/record.json")
    }

    #[test]
    fn status_names_are_the_documented_ones() {
        for st in Status::ALL {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(st.as_str().parse::<Status>().unwrap(), st);
        }
        assert_eq!(Status::NotStarted.as_str(), "not_started");
        assert!("notstarted".parse::<Status>().is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let mut r = Record::new("linear_1a2b3c4d");
        r.identity
            .inputs
            .push(TensorSpec::new("x", &[1, 10], DType::Float32));
        r.identity
            .labels
            .insert("author".into(), vec!["turnkey".into()]);
        r.finish_stage("discover", Status::Successful, None);
        let row = r.row_mut("ort", "cpu");
        row.status = Status::Successful;
        row.median_ms = Some(0.25);
        row.check = Some(OutputCheck {
            reference: "ort/cpu".into(),
            status: CheckStatus::Reference,
            ..Default::default()
        });
        let back = Record::from_json(&r.to_json(), &p()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.identity.inputs[0].to_string(), "x:float32[1,10]");
    }

    #[test]
    fn newer_schema_is_refused_with_upgrade_hint() {
        let json = br#"{"schema_version": 2, "identity": {"name": "x", "brand_new": 1}}"#;
        let err = Record::from_json(json, &p()).unwrap_err().to_string();
        assert!(
            err.contains("written by a newer turnkey (schema 2 > 1)"),
            "{err}"
        );
        assert!(err.contains("upgrade turnkey"), "{err}");
        assert!(err.contains("/c/builds/x/record.json"), "{err}");
    }

    #[test]
    fn corrupt_record_names_file_and_serde_message() {
        let err = Record::from_json(b"{\"schema_version\": 1, \"stages\": [", &p())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/c/builds/x/record.json"), "{err}");
        assert!(err.contains("EOF"), "{err}");
        let err = Record::from_json(b"{\"identity\": {}}", &p())
            .unwrap_err()
            .to_string();
        assert!(err.contains("schema_version"), "{err}");
        let err = Record::from_json(
            br#"{"schema_version": 1, "identity": {"params": "many"}}"#,
            &p(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn stale_running_entries_read_back_as_killed() {
        let mut r = Record::new("b");
        r.start_stage("export");
        r.stages.get_mut("export").unwrap().pid = Some(4_000_000);
        r.row_mut("ort", "cpu").start(4_000_000);
        r.start_stage("benchmark"); // this process: still alive
        let back = Record::from_json(&r.to_json(), &p()).unwrap();
        let export = back.stage("export").unwrap();
        assert_eq!(export.status, Status::Killed);
        assert_eq!(
            export.error.as_deref(),
            Some("interrupted while export was running")
        );
        assert_eq!(back.stage("benchmark").unwrap().status, Status::Running);
        let row = back.row("ort", "cpu").unwrap();
        assert_eq!(row.status, Status::Killed);
        assert!(
            row.error
                .as_deref()
                .unwrap()
                .contains("interrupted while benchmark ort/cpu")
        );
    }

    #[test]
    fn running_on_another_host_is_left_alone() {
        let mut r = Record::new("b");
        r.start_stage("export");
        let s = r.stages.get_mut("export").unwrap();
        s.pid = Some(4_000_000);
        s.host = Some("some-other-node-that-is-not-this-one".into());
        r.mark_killed(|_| false);
        assert_eq!(r.stage("export").unwrap().status, Status::Running);
    }

    #[test]
    fn rows_are_keyed_by_runtime_and_device() {
        let mut r = Record::new("b");
        r.row_mut("ort", "cpu").median_ms = Some(1.0);
        r.row_mut("ort", "cuda").median_ms = Some(2.0);
        r.row_mut("ort", "cpu").median_ms = Some(3.0);
        assert_eq!(r.runtimes.len(), 2);
        let mut row = RuntimeRow::new("ort", "cuda");
        row.status = Status::Error;
        r.set_row(row);
        assert_eq!(r.runtimes.len(), 2);
        assert_eq!(r.row("ort", "cuda").unwrap().status, Status::Error);
        assert_eq!(r.row("ort", "cpu").unwrap().median_ms, Some(3.0));
    }

    #[test]
    fn restarting_a_row_clears_old_measurements() {
        let mut r = Record::new("b");
        let row = r.row_mut("tract", "cpu");
        row.median_ms = Some(1.0);
        row.status = Status::Successful;
        row.start(std::process::id());
        assert_eq!(row.status, Status::Running);
        assert_eq!(row.median_ms, None);
        assert_eq!(row.runtime, "tract");
    }
}
