//! `turnkey-report.json`: the whole report for programs. Versioned:
//! `schema_version` changes when a key changes meaning or goes away (new
//! keys may appear without a bump).
//!
//! ```text
//! {
//!   "schema": "turnkey-report", "schema_version": 1,
//!   "generated": RFC 3339, "turnkey_version": "0.1.0",
//!   "columns": the CSV header (fixed columns, then label:<key>),
//!   "caches": [{path, builds, rows, successful, failed, unreadable, duplicates,
//!               first_run, last_run, runtimes: {name: [versions]}, devices,
//!               systems: [{os, os_version, kernel, hostname, cpu_model,
//!                          logical_cores, physical_cores, memory_gb, gpus,
//!                          gpu_driver, turnkey_version}]}],
//!   "rows": [{every CSV column by name (numbers as numbers, null when not
//!             measured), labels: {key: [values]}, hash, hostname, script_args,
//!             batch_size, device_name, samples_file, achieved_flops,
//!             peak_flops, pct_of_peak,
//!             samples: null | {count, mean_ms, std_ms, cov, min_ms, p25_ms,
//!                              median_ms, p75_ms, p90_ms, p95_ms, p99_ms,
//!                              max_ms, histogram: {lo_ms, hi_ms, counts}}}],
//!   "comparison": null | {baseline: {kind: "cache", path} | {kind: "runtime",
//!                         runtime, device} | {kind: "device", device} |
//!                         {kind: "precision", precision},
//!                         variants: [{name, runtime, device,
//!                         cache, builds, geomean_speedup, min_speedup,
//!                         max_speedup, faster, slower, significantly_faster,
//!                         significantly_slower, no_significant_difference,
//!                         geomean_ci_lo, geomean_ci_hi}],
//!                         speedups: [{build, variant, baseline_ms, median_ms,
//!                         speedup, ci_lo, ci_hi, verdict}]},
//!   "sweeps": [{model, runtime, device, cache,
//!               points: [{batch_size, build, throughput, median_ms}]}],
//!   "problems": [{file, message}]
//! }
//! ```

use chrono::SecondsFormat;
use serde::Serialize;

use super::{
    CacheSummary, Comparison, Exporter, Problem, Report, ReportError, ReportRow, Sweep, header,
    sweeps,
};

/// The `schema` value of the JSON report.
pub const JSON_SCHEMA: &str = "turnkey-report";
/// The JSON report's format version.
pub const JSON_SCHEMA_VERSION: u32 = 1;

pub struct JsonExporter;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    schema_version: u32,
    generated: String,
    turnkey_version: &'static str,
    columns: Vec<String>,
    caches: &'a [CacheSummary],
    rows: &'a [ReportRow],
    comparison: Option<&'a Comparison>,
    sweeps: Vec<Sweep>,
    problems: &'a [Problem],
}

impl Exporter for JsonExporter {
    fn serialize(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let doc = JsonReport {
            schema: JSON_SCHEMA,
            schema_version: JSON_SCHEMA_VERSION,
            generated: report.generated.to_rfc3339_opts(SecondsFormat::Secs, true),
            turnkey_version: env!("CARGO_PKG_VERSION"),
            columns: header(&report.rows),
            caches: &report.caches,
            rows: &report.rows,
            comparison: report.comparison.as_ref(),
            sweeps: sweeps(&report.rows),
            problems: &report.problems,
        };
        // Compact: at 20,000 rows pretty-printing triples the file (`jq .` reads it).
        let mut out = Vec::with_capacity(2048 * report.rows.len() + 4096);
        serde_json::to_writer(&mut out, &doc).map_err(|e| ReportError::Format {
            format: "json",
            message: e.to_string(),
        })?;
        out.push(b'\n');
        Ok(out)
    }

    fn file_name(&self) -> &str {
        "turnkey-report.json"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Status;
    use crate::report::COLUMNS;
    use serde_json::Value;

    #[test]
    fn every_csv_column_is_a_key_with_native_types() {
        let row = ReportRow {
            build: "b".into(),
            median_ms: Some(1.5),
            iterations: Some(10),
            status: Status::Mismatch,
            labels: [("author".to_string(), vec!["me".to_string()])].into(),
            ..Default::default()
        };
        let bytes = JsonExporter
            .serialize(&Report::from_rows(vec![row]))
            .unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["schema"], JSON_SCHEMA);
        assert_eq!(doc["schema_version"], JSON_SCHEMA_VERSION);
        let row = &doc["rows"][0];
        for c in COLUMNS {
            assert!(row.get(c).is_some(), "column {c} missing from {row}");
        }
        assert_eq!(row["median_ms"], 1.5);
        assert_eq!(row["mean_ms"], Value::Null);
        assert_eq!(row["iterations"], 10);
        assert_eq!(row["status"], "mismatch");
        assert_eq!(row["labels"]["author"][0], "me");
        assert_eq!(row["samples"], Value::Null);
        assert_eq!(doc["columns"].as_array().unwrap().len(), COLUMNS.len() + 1);
        assert_eq!(doc["caches"][0]["rows"], 1);
        assert_eq!(doc["comparison"], Value::Null);
        assert!(doc["problems"].as_array().unwrap().is_empty());
    }
}
