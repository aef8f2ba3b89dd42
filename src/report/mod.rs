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
//! | `error` | what went wrong, for a failed row |
//!
//! then one `label:<key>` column per label key seen in any row, sorted by key,
//! with multiple values joined by `,`. Empty cells mean "not measured".

pub mod csv;
mod rows;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::cache::{CacheError, Status};

pub use rows::{collect_rows, rows_from_record};
pub use table::summary_table;

/// The fixed columns, in order (see the module docs for their meaning).
pub const COLUMNS: [&str; 38] = [
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
    "error",
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

    #[error("unknown report format '{name}': expected one of {}", Format::names())]
    UnknownFormat { name: String },
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
    pub achieved_flops: Option<f64>,
    pub pct_of_peak: Option<f64>,
    pub error: String,
    /// All labels of the build (the `label:<key>` columns).
    pub labels: BTreeMap<String, Vec<String>>,
    /// The build's full hash (not a column: used to spot copied records).
    pub hash: String,
    /// The machine that ran it (not a column: used to spot copied records).
    pub hostname: String,
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
            self.error.clone(),
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

/// One report format.
pub trait Exporter {
    /// The file's bytes for these rows.
    fn serialize(&self, rows: &[ReportRow]) -> Result<Vec<u8>, ReportError>;
    /// The file name to write into the output folder.
    fn file_name(&self) -> &str;
}

/// The report formats turnkey writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
}

impl Format {
    pub const ALL: [Format; 1] = [Format::Csv];

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
        }
    }

    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Csv => Box::new(csv::CsvExporter),
        }
    }

    fn names() -> String {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        names.join(", ")
    }
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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
}

/// Reads every record of `caches` and writes one file per format into
/// `out_dir` (created if missing).
pub fn write_report(
    caches: &[PathBuf],
    out_dir: &Path,
    formats: &[Format],
) -> Result<ReportSummary, ReportError> {
    let (rows, warnings) = collect_rows(caches)?;
    let files = export_rows(&rows, out_dir, formats)?;
    let builds: BTreeSet<&str> = rows.iter().map(|r| r.build.as_str()).collect();
    Ok(ReportSummary {
        files,
        rows: rows.len(),
        builds: builds.len(),
        warnings,
    })
}

/// Writes `rows` in each format into `out_dir`; returns the files written.
pub fn export_rows(
    rows: &[ReportRow],
    out_dir: &Path,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for format in formats {
        let exporter = format.exporter();
        let bytes = exporter.serialize(rows)?;
        let path = out_dir.join(exporter.file_name());
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        files.push(path);
    }
    Ok(files)
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
                        peak_device_mem_mb,gpu_util_pct,gpu_power_w,achieved_flops,pct_of_peak,error";
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
        let err = "xlsx".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("'xlsx'") && err.contains("csv"), "{err}");
    }
}
