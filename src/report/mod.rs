//! `turnkey report`: reads build records from one or more caches and writes
//! one file per format. Shaped like hyperfine's exporters: every format is an
//! [`Exporter`] in its own file, fed the same [`ReportRow`]s.
//!
//! # Columns of `turnkey-report.csv`
//!
//! One row per build × runtime × device; a build that failed before any
//! runtime ran (in discover or export) still has one row, with the failing
//! stage's status and error. Fixed columns, in this order:
//!
//! | column | meaning |
//! |---|---|
//! | `build` | build name: `<script stem>[_<author>]_<hash8>` |
//! | `script` | the script or ONNX file |
//! | `model_class` | the model's class name |
//! | `author` | the `author` label |
//! | `task` | the `task` label |
//! | `params` | trainable parameters |
//! | `flops` | FLOPs of one call |
//! | `input_shapes` | inputs as `name:dtype[d0,d1]`, separated by `; ` |
//! | `runtime` | `ort`, `tract`, `torch`, ... (empty when no runtime ran) |
//! | `runtime_version` | the runtime library's version |
//! | `device` | `cpu`, `cuda`, ... |
//! | `status` | `successful`, `error`, `crashed`, `timeout`, `killed`, `not_started`, `mismatch`, `running` |
//! | `compile_ms` | session creation / compile time |
//! | `first_ms` | first inference |
//! | `median_ms`, `mean_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `min_ms`, `max_ms`, `std_ms` | latency statistics of the measured iterations |
//! | `cov` | coefficient of variation (std / mean) |
//! | `stability` | `stable`, or `unstable` with the reason |
//! | `throughput` | samples per second (batch size counted) |
//! | `peak_rss_mb` | peak resident memory of the worker |
//! | `check` | output check: `passed`, `failed`, `reference`, `skipped` |
//! | `max_abs_diff` | largest absolute difference from the reference |
//! | `iterations` | measured iterations |
//! | `timestamp` | when the row ran (UTC, RFC 3339) |
//! | `cache` | the cache the record came from |
//! | `core_median_ms` | GPU rows: median latency with inputs and outputs on the device (the other latencies are host to host) |
//! | `peak_device_mem_mb` | GPU rows: peak device memory (NVML) |
//! | `gpu_util_pct` | GPU rows: mean GPU utilization while measuring (NVML) |
//! | `gpu_power_w` | GPU rows: mean GPU power while measuring (NVML) |
//! | `achieved_flops` | FLOP/s reached: the model's FLOPs per sample × throughput |
//! | `pct_of_peak` | `achieved_flops` as a percentage of the machine's peak (`turnkey peak`) |
//! | `param_bytes` | bytes of the weights (parameters and buffers) |
//! | `flops_per_token` | language models: `flops` over the tokens of `input_ids` (batch x sequence) |
//! | `activation_bytes` | most bytes of inputs and intermediate values alive at once in one call (nodes in order, each value freed after its last reader) |
//! | `variant` | precision variants: `fp16`, `bf16`, `int8-dynamic`, `int8-static`, `+ort-<level>`; empty for the build itself |
//! | `variant_of` | the fp32 build a variant was made from |
//! | `speedup_vs_fp32` | the fp32 build's median (same runtime and device) / this row's median |
//! | `rel_err` | variants: ‖variant − fp32‖₂ / ‖fp32‖₂ of the outputs (the largest over outputs) |
//! | `cosine` | variants: cosine similarity of the outputs with fp32's (the lowest over outputs) |
//! | `top1_agreement`, `top5_agreement` | variants, outputs shaped `[batch, classes]`: share of rows whose fp32 top class is the variant's top class / among its five best |
//! | `weights` | scripts: where the weights came from: `random(0)`, or the checkpoint and its sha256 |
//! | `error` | what went wrong, for a failed row |
//! | `median_ci_lo_ms`, `median_ci_hi_ms` | the median's 95% confidence interval (order statistics; with trials, widened by their spread) |
//! | `ci_pct` | half that interval's width, in % of the median |
//! | `mad_ms` | median absolute deviation from the median (unscaled) |
//! | `iqr_ms` | interquartile range (p75 - p25) |
//! | `outliers`, `outlier_pct` | samples outside Tukey's fences (1.5 IQR beyond the quartiles), count and % |
//! | `warmup_iterations`, `warmup_ms` | warm-up before measuring: iterations and time |
//! | `stop` | why measuring stopped: `target` (interval within `--target-ci`), `max_time`, `iterations` (fixed) |
//! | `trials` | worker processes the row pooled (`--trials`) |
//! | `trial_spread_pct` | (highest - lowest trial median) / median, in % |
//! | `host_other_cores` | CPU other processes used while the row ran, in cores |
//! | `host_wait_pct` | time the worker's threads waited for a CPU, in % of the measured time (summed over threads) |
//! | `host_steal_pct` | VM steal time, in % of the CPU time |
//! | `host_loadavg` | 1-minute load average at the end of the row |
//! | `cpu_mhz_min`, `cpu_mhz_max` | lowest and highest CPU clock seen |
//! | `pinned_cpus` | `--pin`: the CPUs the worker was pinned to |
//! | `prompt_tokens`, `new_tokens` | `lm.generate` builds: P prompt tokens, N generated |
//! | `ttft_ms` | time to first token: prefill and the greedy pick, median over repetitions |
//! | `decode_ms_median`, `decode_ms_p90`, `decode_ms_p99` | one decode step (one token per sequence), over all steps and repetitions |
//! | `gen_tokens_per_s` | generated tokens per second in the decode steps (batch counted) |
//! | `prompt_tokens_per_s` | prompt tokens per second in prefill (batch counted) |
//! | `e2e_ms` | prompt to N tokens, median over repetitions (also the row's latency block) |
//! | `kv_cache_bytes` | 2 x layers x kv_heads x head_dim x (P + N) x batch x dtype bytes |
//! | `tokens_match` | the greedy tokens equal the reference row's (`reference` on that row) |
//!
//! then one `label:<key>` column per label key seen in any row, sorted by key,
//! with multiple values joined by `,`. Empty cells mean "not measured".

pub mod csv;
pub mod html;
pub mod json;
pub mod md;

mod charts;
mod compare;
mod generation;
mod rows;
mod samples;
mod significance;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::cache::{CacheError, Status};

pub use compare::{Baseline, Comparison, Speedup, Sweep, SweepPoint, Variant, sweeps};
pub use rows::{CacheSummary, Collected, Problem, collect, collect_rows, rows_from_record};
pub use samples::{Histogram, SampleSummary, read_samples, summarize};
pub use table::{
    SUMMARY_COLUMNS, SummaryColumn, fmt_ci, fmt_latency, fmt_ms, fmt_rate, summary_columns,
    summary_table,
};

/// The fixed columns, in order (see the module docs for their meaning).
pub const COLUMNS: [&str; 79] = [
    "build",
    "script",
    "model_class",
    "author",
    "task",
    "params",
    "flops",
    "input_shapes",
    "runtime",
    "runtime_version",
    "device",
    "status",
    "compile_ms",
    "first_ms",
    "median_ms",
    "mean_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "min_ms",
    "max_ms",
    "std_ms",
    "cov",
    "stability",
    "throughput",
    "peak_rss_mb",
    "check",
    "max_abs_diff",
    "iterations",
    "timestamp",
    "cache",
    "core_median_ms",
    "peak_device_mem_mb",
    "gpu_util_pct",
    "gpu_power_w",
    "achieved_flops",
    "pct_of_peak",
    "param_bytes",
    "flops_per_token",
    "activation_bytes",
    "variant",
    "variant_of",
    "speedup_vs_fp32",
    "rel_err",
    "cosine",
    "top1_agreement",
    "top5_agreement",
    "weights",
    "error",
    "median_ci_lo_ms",
    "median_ci_hi_ms",
    "ci_pct",
    "mad_ms",
    "iqr_ms",
    "outliers",
    "outlier_pct",
    "warmup_iterations",
    "warmup_ms",
    "stop",
    "trials",
    "trial_spread_pct",
    "host_other_cores",
    "host_wait_pct",
    "host_steal_pct",
    "host_loadavg",
    "cpu_mhz_min",
    "cpu_mhz_max",
    "pinned_cpus",
    "prompt_tokens",
    "new_tokens",
    "ttft_ms",
    "decode_ms_median",
    "decode_ms_p90",
    "decode_ms_p99",
    "gen_tokens_per_s",
    "prompt_tokens_per_s",
    "e2e_ms",
    "kv_cache_bytes",
    "tokens_match",
];

/// Prefix of the per-label columns.
pub const LABEL_PREFIX: &str = "label:";

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Cache(#[from] CacheError),

    #[error("cannot write the report {}: {source}: pass a writable output folder", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot format the {format} report: {message}")]
    Format {
        format: &'static str,
        message: String,
    },

    #[error(
        "unknown report format '{name}': expected one of {} (e.g. --format csv,html)",
        Format::names()
    )]
    UnknownFormat { name: String },

    #[error(
        "--baseline {name}: not one of the caches given with -d ({caches}) nor a runtime, device or precision in the report ({runtimes}); pass a cache folder, a runtime, runtime/device, a device or a precision"
    )]
    UnknownBaseline {
        name: String,
        caches: String,
        runtimes: String,
    },
}

/// One line of the report: a build × runtime × device.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportRow {
    pub build: String,
    pub script: String,
    pub model_class: String,
    pub author: String,
    pub task: String,
    pub params: Option<u64>,
    pub flops: Option<u64>,
    /// Bytes of the weights; FLOPs per token (language models); the most
    /// activation bytes alive at once in one call.
    pub param_bytes: Option<u64>,
    pub flops_per_token: Option<u64>,
    pub activation_bytes: Option<u64>,
    pub input_shapes: String,
    pub runtime: String,
    pub runtime_version: String,
    pub device: String,
    pub status: Status,
    pub compile_ms: Option<f64>,
    pub first_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub std_ms: Option<f64>,
    pub cov: Option<f64>,
    pub stability: String,
    pub throughput: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub check: String,
    pub max_abs_diff: Option<f64>,
    pub iterations: Option<u64>,
    pub timestamp: Option<DateTime<Utc>>,
    pub cache: String,
    pub core_median_ms: Option<f64>,
    pub peak_device_mem_mb: Option<f64>,
    pub gpu_util_pct: Option<f64>,
    pub gpu_power_w: Option<f64>,
    /// Scripts: where the weights came from (`random(0)`, a checkpoint).
    pub weights: String,
    pub error: String,
    /// All labels of the build (the `label:<key>` columns).
    pub labels: BTreeMap<String, Vec<String>>,
    /// The build's full hash (not a column: used to spot copied records).
    pub hash: String,
    /// The machine that ran it (not a column: used to spot copied records).
    pub hostname: String,
    /// `--script-args` of the build (not a column: finds batch-size sweeps).
    pub script_args: String,
    /// Samples per inference (not a column: the x axis of sweeps).
    pub batch_size: Option<u64>,
    /// What the device is: CPU model, GPU name (not a column).
    pub device_name: String,
    /// The per-iteration latencies file, when the record names one.
    pub samples_file: Option<PathBuf>,
    /// Summary of that file, once read ([`Report::load`] reads it for JSON).
    pub samples: Option<SampleSummary>,
    /// FLOPs of one call x calls per second (from `flops` and `median_ms`).
    pub achieved_flops: Option<f64>,
    /// The attainable FLOP/s of this runtime and device, when measured.
    pub peak_flops: Option<f64>,
    /// `achieved_flops` as a percentage of `peak_flops`.
    pub pct_of_peak: Option<f64>,
    /// The median's 95% confidence interval.
    pub median_ci_lo_ms: Option<f64>,
    pub median_ci_hi_ms: Option<f64>,
    pub mad_ms: Option<f64>,
    pub iqr_ms: Option<f64>,
    pub outliers: Option<u64>,
    pub warmup_iterations: Option<u64>,
    pub warmup_ms: Option<f64>,
    /// Why measuring stopped.
    pub stop: String,
    /// Worker processes pooled (`--trials`); 1 for an ordinary row.
    pub trials: Option<u64>,
    pub trial_spread_pct: Option<f64>,
    /// Half the median's interval, in % of the median.
    pub ci_pct: Option<f64>,
    /// Outliers in % of the measured iterations.
    pub outlier_pct: Option<f64>,
    /// What the host did while the row ran (`bench::host::HostNoise`).
    pub host_other_cores: Option<f64>,
    pub host_wait_pct: Option<f64>,
    pub host_steal_pct: Option<f64>,
    pub host_loadavg: Option<f64>,
    pub cpu_mhz_min: Option<f64>,
    pub cpu_mhz_max: Option<f64>,
    pub pinned_cpus: String,
    /// `fp32`, `fp16`, ... (not a column: a comparison baseline).
    pub precision: String,
    /// Precision variants: how the build was made (`fp16`, `int8-static+ort-basic`).
    pub variant: String,
    /// The fp32 build it is a variant of.
    pub variant_of: String,
    /// The fp32 row's median / this row's median.
    pub speedup_vs_fp32: Option<f64>,
    /// Accuracy against fp32 (see `bench::accuracy`).
    pub rel_err: Option<f64>,
    pub cosine: Option<f64>,
    pub top1_agreement: Option<f64>,
    pub top5_agreement: Option<f64>,
    /// `lm.generate` rows (issue #18).
    pub prompt_tokens: Option<u64>,
    pub new_tokens: Option<u64>,
    pub ttft_ms: Option<f64>,
    pub decode_ms_median: Option<f64>,
    pub decode_ms_p90: Option<f64>,
    pub decode_ms_p99: Option<f64>,
    pub gen_tokens_per_s: Option<f64>,
    pub prompt_tokens_per_s: Option<f64>,
    pub e2e_ms: Option<f64>,
    pub kv_cache_bytes: Option<u64>,
    pub tokens_match: String,
    /// Median decode latency of step k (context P + k + 1): the HTML chart.
    pub decode_ms_by_step: Vec<f64>,
}

fn num<T: fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl ReportRow {
    /// The fixed columns' cells, in [`COLUMNS`] order.
    pub fn fixed_cells(&self) -> [String; COLUMNS.len()] {
        [
            self.build.clone(),
            self.script.clone(),
            self.model_class.clone(),
            self.author.clone(),
            self.task.clone(),
            num(self.params),
            num(self.flops),
            self.input_shapes.clone(),
            self.runtime.clone(),
            self.runtime_version.clone(),
            self.device.clone(),
            self.status.to_string(),
            num(self.compile_ms),
            num(self.first_ms),
            num(self.median_ms),
            num(self.mean_ms),
            num(self.p90_ms),
            num(self.p95_ms),
            num(self.p99_ms),
            num(self.min_ms),
            num(self.max_ms),
            num(self.std_ms),
            num(self.cov),
            self.stability.clone(),
            num(self.throughput),
            num(self.peak_rss_mb),
            self.check.clone(),
            num(self.max_abs_diff),
            num(self.iterations),
            self.timestamp
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default(),
            self.cache.clone(),
            num(self.core_median_ms),
            num(self.peak_device_mem_mb),
            num(self.gpu_util_pct),
            num(self.gpu_power_w),
            num(self.achieved_flops),
            num(self.pct_of_peak),
            num(self.param_bytes),
            num(self.flops_per_token),
            num(self.activation_bytes),
            self.variant.clone(),
            self.variant_of.clone(),
            num(self.speedup_vs_fp32),
            num(self.rel_err),
            num(self.cosine),
            num(self.top1_agreement),
            num(self.top5_agreement),
            self.weights.clone(),
            self.error.clone(),
            num(self.median_ci_lo_ms),
            num(self.median_ci_hi_ms),
            num(self.ci_pct),
            num(self.mad_ms),
            num(self.iqr_ms),
            num(self.outliers),
            num(self.outlier_pct),
            num(self.warmup_iterations),
            num(self.warmup_ms),
            self.stop.clone(),
            num(self.trials),
            num(self.trial_spread_pct),
            num(self.host_other_cores),
            num(self.host_wait_pct),
            num(self.host_steal_pct),
            num(self.host_loadavg),
            num(self.cpu_mhz_min),
            num(self.cpu_mhz_max),
            self.pinned_cpus.clone(),
            num(self.prompt_tokens),
            num(self.new_tokens),
            num(self.ttft_ms),
            num(self.decode_ms_median),
            num(self.decode_ms_p90),
            num(self.decode_ms_p99),
            num(self.gen_tokens_per_s),
            num(self.prompt_tokens_per_s),
            num(self.e2e_ms),
            num(self.kv_cache_bytes),
            self.tokens_match.clone(),
        ]
    }

    /// The `label:<key>` cell: the label's values joined by `,`.
    pub fn label_cell(&self, key: &str) -> String {
        self.labels
            .get(key)
            .map(|v| v.join(","))
            .unwrap_or_default()
    }
}

/// Every label key used by any row, sorted.
pub fn label_keys(rows: &[ReportRow]) -> Vec<String> {
    let keys: BTreeSet<&String> = rows.iter().flat_map(|r| r.labels.keys()).collect();
    keys.into_iter().cloned().collect()
}

/// The full header: [`COLUMNS`] then `label:<key>` per key in `rows`.
pub fn header(rows: &[ReportRow]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(
            label_keys(rows)
                .iter()
                .map(|k| format!("{LABEL_PREFIX}{k}")),
        )
        .collect()
}

/// Everything a report file shows: the rows, a summary per cache, the
/// problems met while reading, and the comparison against a baseline.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rows: Vec<ReportRow>,
    pub caches: Vec<CacheSummary>,
    /// Records that could not be read, samples files that could not be parsed.
    pub problems: Vec<Problem>,
    /// Speedups against the baseline, when there is something to compare.
    pub comparison: Option<Comparison>,
    /// When the report was made.
    pub generated: DateTime<Utc>,
}

/// What `turnkey report` was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    pub formats: Vec<Format>,
    /// `--baseline`: a cache folder, a runtime, `runtime/device`, a device
    /// or a precision.
    pub baseline: Option<String>,
    /// `--compare`: list each pair's speedup with its interval.
    pub pairs: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            formats: Format::DEFAULT.to_vec(),
            baseline: None,
            pairs: false,
        }
    }
}

impl Report {
    /// Reads `caches` into a report: rows (deduplicated), per-cache
    /// summaries, the samples files when a format draws them, and the
    /// comparison against `opts.baseline` (or the default baseline).
    pub fn load(caches: &[PathBuf], opts: &ReportOptions) -> Result<Report, ReportError> {
        let Collected {
            mut rows,
            caches,
            mut problems,
        } = collect(caches)?;
        if opts.formats.iter().any(|f| f.uses_samples()) {
            problems.extend(samples::attach(&mut rows));
        }
        let comparison = compare::compare(&rows, &caches, opts.baseline.as_deref())?;
        Ok(Report {
            rows,
            caches,
            problems,
            comparison,
            generated: Utc::now(),
        })
    }

    /// A report of just these rows (no caches read), for tests and tools.
    pub fn from_rows(rows: Vec<ReportRow>) -> Report {
        Report {
            caches: rows::summarize_caches(&rows, &[]),
            rows,
            generated: Utc::now(),
            ..Default::default()
        }
    }

    /// Distinct builds.
    pub fn build_count(&self) -> usize {
        let builds: BTreeSet<&str> = self.rows.iter().map(|r| r.build.as_str()).collect();
        builds.len()
    }
}

/// `f` over `items` on all cores, results in order. Reading 10,000 records
/// or samples files is I/O and parsing that parallelizes cleanly.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in `f` is a bug: re-raise it where it can be seen.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// One report format (hyperfine's shape: one file per format).
pub trait Exporter {
    /// The file's bytes for this report.
    fn serialize(&self, report: &Report) -> Result<Vec<u8>, ReportError>;
    /// The file name to write into the output folder.
    fn file_name(&self) -> &str;
}

/// The report formats turnkey writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Json,
    Html,
    Md,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Csv, Format::Json, Format::Html, Format::Md];
    /// Written when `--format` is not given.
    pub const DEFAULT: [Format; 3] = [Format::Csv, Format::Json, Format::Html];

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Html => "html",
            Format::Md => "md",
        }
    }

    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Csv => Box::new(csv::CsvExporter),
            Format::Json => Box::new(json::JsonExporter),
            Format::Html => Box::new(html::HtmlExporter),
            Format::Md => Box::new(md::MarkdownExporter),
        }
    }

    /// True for the formats that need every row's samples summary (the
    /// HTML report reads only the few samples files it draws).
    pub fn uses_samples(self) -> bool {
        matches!(self, Format::Json)
    }

    /// `csv,json` → the formats, in order, without repeats.
    pub fn parse_list(list: &str) -> Result<Vec<Format>, ReportError> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let f: Format = name.parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err(ReportError::UnknownFormat {
                name: list.to_string(),
            });
        }
        Ok(out)
    }

    fn names() -> String {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        names.join(", ")
    }
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s.eq_ignore_ascii_case("markdown") {
            "md"
        } else {
            s
        };
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ReportError::UnknownFormat {
                name: s.to_string(),
            })
    }
}

/// What `write_report` did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportSummary {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// Rows in the report.
    pub rows: usize,
    /// Distinct builds in the report.
    pub builds: usize,
    /// Records skipped and other problems, one line each, for the terminal.
    pub warnings: Vec<String>,
    /// The comparison's headline, one line per variant (geometric means).
    pub comparison: Vec<String>,
    /// With `--compare`: one line per build × variant, its speedup and interval.
    pub pairs: Vec<String>,
}

/// Reads every record of `caches` and writes one file per format into
/// `out_dir` (created if missing).
pub fn write_report(
    caches: &[PathBuf],
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, ReportError> {
    let report = Report::load(caches, opts)?;
    let files = export(&report, out_dir, &opts.formats)?;
    Ok(ReportSummary {
        files,
        rows: report.rows.len(),
        builds: report.build_count(),
        warnings: report.problems.iter().map(|p| p.to_string()).collect(),
        comparison: report
            .comparison
            .as_ref()
            .map(|c| c.headline())
            .unwrap_or_default(),
        pairs: match (&report.comparison, opts.pairs) {
            (Some(c), true) => c.pairs(),
            _ => Vec::new(),
        },
    })
}

/// Writes `report` in each format into `out_dir`; returns the files written.
/// The formats are serialized side by side (each is independent work over
/// the same rows).
pub fn export(
    report: &Report,
    out_dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let written = par_map_each(formats, |format| {
        let exporter = format.exporter();
        let bytes = exporter.serialize(report)?;
        let path = out_dir.join(exporter.file_name());
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    });
    written.into_iter().collect()
}

/// `f` on each item in its own thread (a handful of items).
fn par_map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|item| s.spawn(|| f(item))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_documented_order() {
        // The README copies this list: changing it is a breaking change.
        let expected = "build,script,model_class,author,task,params,flops,input_shapes,runtime,\
                        runtime_version,device,status,compile_ms,first_ms,median_ms,mean_ms,p90_ms,\
                        p95_ms,p99_ms,min_ms,max_ms,std_ms,cov,stability,throughput,peak_rss_mb,\
                        check,max_abs_diff,iterations,timestamp,cache,core_median_ms,\
                        peak_device_mem_mb,gpu_util_pct,gpu_power_w,achieved_flops,pct_of_peak,\
                        param_bytes,flops_per_token,activation_bytes,variant,variant_of,\
                        speedup_vs_fp32,rel_err,cosine,top1_agreement,top5_agreement,weights,error,\
                        median_ci_lo_ms,median_ci_hi_ms,ci_pct,mad_ms,iqr_ms,outliers,outlier_pct,\
                        warmup_iterations,warmup_ms,stop,trials,trial_spread_pct,host_other_cores,\
                        host_wait_pct,host_steal_pct,host_loadavg,cpu_mhz_min,cpu_mhz_max,pinned_cpus,\
                        prompt_tokens,new_tokens,ttft_ms,decode_ms_median,decode_ms_p90,\
                        decode_ms_p99,gen_tokens_per_s,prompt_tokens_per_s,e2e_ms,kv_cache_bytes,\
                        tokens_match";
        assert_eq!(COLUMNS.join(","), expected);
        // Every column is named in the module docs' table.
        let docs = include_str!("mod.rs");
        for c in COLUMNS {
            assert!(
                docs.contains(&format!("`{c}`")),
                "column {c} is not documented"
            );
        }
    }

    #[test]
    fn cells_follow_the_columns() {
        let row = ReportRow {
            build: "b".into(),
            median_ms: Some(1.5),
            iterations: Some(100),
            status: Status::Mismatch,
            error: "e".into(),
            ..Default::default()
        };
        let cells = row.fixed_cells();
        let at = |name: &str| cells[COLUMNS.iter().position(|c| *c == name).unwrap()].clone();
        assert_eq!(at("build"), "b");
        assert_eq!(at("median_ms"), "1.5");
        assert_eq!(at("mean_ms"), "");
        assert_eq!(at("iterations"), "100");
        assert_eq!(at("status"), "mismatch");
        assert_eq!(at("error"), "e");
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        assert_eq!("markdown".parse::<Format>().unwrap(), Format::Md);
        let err = "xlsx".parse::<Format>().unwrap_err().to_string();
        assert!(
            err.contains("'xlsx'") && err.contains("csv, json, html, md"),
            "{err}"
        );
        assert_eq!(
            Format::parse_list("csv, html,csv,md").unwrap(),
            vec![Format::Csv, Format::Html, Format::Md]
        );
        assert!(Format::parse_list(" , ").is_err());
        assert!(Format::parse_list("csv,pdf").is_err());
    }
}
