//! From records to report rows: reading caches, one row per runtime × device,
//! a row for builds that never reached a runtime, and no duplicates.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{ReportError, ReportRow};
use crate::cache::{Cache, Record, RuntimeRow, StageRecord, Status};

/// Reads every record of every cache. A record that cannot be read (corrupt,
/// or from a newer turnkey) becomes a warning naming the file; a folder that
/// is not a cache is an error. Rows are sorted by build, runtime, device, and
/// the same result reached twice (a cache given twice, a copied record) is
/// kept once.
pub fn collect_rows(caches: &[PathBuf]) -> Result<(Vec<ReportRow>, Vec<String>), ReportError> {
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    for dir in caches {
        let cache = Cache::open_existing(dir)?;
        for name in cache.list_builds()? {
            let path = cache.record_path(&name)?;
            let record = match Record::load(&path) {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!("skipped a record: {e}"));
                    continue;
                }
            };
            for row in rows_from_record(&record, dir) {
                if seen.insert(dedupe_key(&row)) {
                    rows.push(row);
                }
            }
        }
    }
    rows.sort_by(|a, b| {
        (&a.build, &a.runtime, &a.device, &a.cache, a.timestamp).cmp(&(
            &b.build,
            &b.runtime,
            &b.device,
            &b.cache,
            b.timestamp,
        ))
    });
    Ok((rows, warnings))
}

/// What makes a result the same result wherever its record was copied to.
fn dedupe_key(
    row: &ReportRow,
) -> (
    String,
    String,
    String,
    String,
    String,
    Option<DateTime<Utc>>,
) {
    (
        row.build.clone(),
        row.hash.clone(),
        row.runtime.clone(),
        row.device.clone(),
        row.hostname.clone(),
        row.timestamp,
    )
}

/// The report rows of one record (`cache` fills the `cache` column). The
/// terminal's end-of-run summary uses this on the records it just wrote.
pub fn rows_from_record(record: &Record, cache: &Path) -> Vec<ReportRow> {
    let base = build_columns(record, cache);
    if record.runtimes.is_empty() {
        return vec![build_without_runtimes(record, base)];
    }
    record
        .runtimes
        .iter()
        .map(|rt| runtime_row(rt, base.clone()))
        .collect()
}

/// The columns that come from the build, shared by all its rows.
fn build_columns(record: &Record, cache: &Path) -> ReportRow {
    let id = &record.identity;
    let inputs: Vec<String> = id.inputs.iter().map(|t| t.to_string()).collect();
    ReportRow {
        build: id.name.clone(),
        script: id.script.clone(),
        model_class: id.model_class.clone().unwrap_or_default(),
        author: id.label("author"),
        task: id.label("task"),
        params: id.params,
        flops: id.flops,
        input_shapes: inputs.join("; "),
        cache: cache.display().to_string(),
        labels: id.labels.clone(),
        hash: id.hash.clone(),
        hostname: record.system.hostname.clone().unwrap_or_default(),
        timestamp: Some(record.updated),
        ..Default::default()
    }
}

fn runtime_row(rt: &RuntimeRow, base: ReportRow) -> ReportRow {
    let check = rt.check.as_ref();
    let error = rt.error.clone().or_else(|| {
        // A mismatch's explanation is the check summary when no error was set.
        (rt.status == Status::Mismatch)
            .then(|| check.and_then(|c| c.summary.clone()))
            .flatten()
    });
    ReportRow {
        runtime: rt.runtime.clone(),
        runtime_version: rt.runtime_version.clone().unwrap_or_default(),
        device: rt.device.clone(),
        status: rt.status,
        compile_ms: rt.compile_ms,
        first_ms: rt.first_ms,
        median_ms: rt.median_ms,
        mean_ms: rt.mean_ms,
        p90_ms: rt.p90_ms,
        p95_ms: rt.p95_ms,
        p99_ms: rt.p99_ms,
        min_ms: rt.min_ms,
        max_ms: rt.max_ms,
        std_ms: rt.std_ms,
        cov: rt.cov,
        stability: rt.stability.clone().unwrap_or_default(),
        throughput: rt.throughput,
        peak_rss_mb: rt.peak_rss_mb,
        core_median_ms: rt.core_median_ms,
        peak_device_mem_mb: rt.peak_device_mem_mb,
        gpu_util_pct: rt.gpu_util_pct,
        gpu_power_w: rt.gpu_power_w,
        achieved_flops: rt.achieved_flops,
        pct_of_peak: rt.pct_of_peak,
        check: check.map(|c| c.status.to_string()).unwrap_or_default(),
        max_abs_diff: check.and_then(|c| c.max_abs_diff),
        iterations: rt.iterations,
        timestamp: Some(rt.timestamp),
        error: error.unwrap_or_default(),
        ..base
    }
}

/// A build with no runtime rows: its status is that of the stage that
/// stopped it (the first failure, else one still running, else one never
/// started); a build whose stages all succeeded reads `successful`.
fn build_without_runtimes(record: &Record, base: ReportRow) -> ReportRow {
    let rank = |s: &StageRecord| match s.status {
        Status::Running => 1,
        Status::NotStarted => 2,
        Status::Successful => 3,
        _ => 0,
    };
    let deciding = record
        .stages
        .iter()
        .min_by_key(|(_, s)| (rank(s), s.started));
    match deciding {
        Some((name, stage)) => ReportRow {
            status: stage.status,
            error: stage
                .error
                .as_ref()
                .map(|e| format!("{name}: {e}"))
                .unwrap_or_default(),
            timestamp: Some(stage.finished.unwrap_or(stage.started)),
            ..base
        },
        None => ReportRow {
            status: Status::NotStarted,
            ..base
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CheckStatus, OutputCheck, TensorSpec};
    use crate::graph::DType;
    use crate::report::{Format, write_report};

    fn successful_build(cache: &Cache, name: &str, labels: &[(&str, &[&str])]) {
        cache
            .update_record(name, |r| {
                r.identity.hash = format!("{name}-hash");
                r.identity.script = format!("models/{name}.rhai");
                r.identity.model_class = Some("TwoLayer".into());
                r.identity.params = Some(85);
                r.identity.inputs.push(TensorSpec {
                    name: "x".into(),
                    shape: vec![1, 10],
                    dtype: DType::Float32,
                });
                for (k, v) in labels {
                    r.identity
                        .labels
                        .insert(k.to_string(), v.iter().map(|s| s.to_string()).collect());
                }
                r.system.hostname = Some("node1".into());
                r.finish_stage("discover", Status::Successful, None);
                r.finish_stage("export", Status::Successful, None);
                for (runtime, median) in [("tract", 2.0), ("ort", 1.0)] {
                    let row = r.row_mut(runtime, "cpu");
                    row.status = Status::Successful;
                    row.median_ms = Some(median);
                    row.throughput = Some(1000.0 / median);
                    row.check = Some(OutputCheck {
                        reference: "ort/cpu".into(),
                        status: if runtime == "ort" {
                            CheckStatus::Reference
                        } else {
                            CheckStatus::Passed
                        },
                        max_abs_diff: Some(1e-6),
                        ..Default::default()
                    });
                }
            })
            .unwrap();
    }

    fn failed_export(cache: &Cache, name: &str) {
        cache
            .update_record(name, |r| {
                r.identity.script = format!("models/{name}.rhai");
                r.finish_stage("discover", Status::Successful, None);
                r.start_stage("export");
                r.finish_stage(
                    "export",
                    Status::Error,
                    Some("op Foo has no ONNX export".into()),
                );
                r.finish_stage("benchmark", Status::NotStarted, None);
            })
            .unwrap();
    }

    fn new_cache(dir: &Path) -> Cache {
        Cache::open(Some(dir)).unwrap()
    }

    #[test]
    fn one_row_per_runtime_sorted_and_failed_build_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let c = new_cache(tmp.path());
        successful_build(
            &c,
            "linear_1",
            &[("author", &["turnkey"]), ("task", &["Generic"])],
        );
        failed_export(&c, "broken_2");
        let (rows, warnings) = collect_rows(&[tmp.path().to_path_buf()]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.build.as_str(), r.runtime.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![("broken_2", ""), ("linear_1", "ort"), ("linear_1", "tract")]
        );
        let broken = &rows[0];
        assert_eq!(broken.status, Status::Error);
        assert_eq!(broken.error, "export: op Foo has no ONNX export");
        assert_eq!(broken.script, "models/broken_2.rhai");
        let tract = &rows[2];
        assert_eq!(tract.author, "turnkey");
        assert_eq!(tract.task, "Generic");
        assert_eq!(tract.check, "passed");
        assert_eq!(tract.input_shapes, "x:float32[1,10]");
        assert_eq!(tract.median_ms, Some(2.0));
    }

    #[test]
    fn killed_discover_reads_as_killed() {
        let tmp = tempfile::tempdir().unwrap();
        let c = new_cache(tmp.path());
        c.update_record("k", |r| {
            r.start_stage("discover");
            r.stages.get_mut("discover").unwrap().pid = Some(4_000_000);
        })
        .unwrap();
        let (rows, _) = collect_rows(&[tmp.path().to_path_buf()]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, Status::Killed);
        assert!(
            rows[0]
                .error
                .contains("interrupted while discover was running")
        );
    }

    #[test]
    fn corrupt_record_is_a_warning_not_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let c = new_cache(tmp.path());
        successful_build(&c, "good", &[]);
        c.update_record("bad", |_| {}).unwrap();
        let bad = c.record_path("bad").unwrap();
        std::fs::write(&bad, "{\"schema_version\": 1, ").unwrap();
        c.update_record("future", |_| {}).unwrap();
        let future = c.record_path("future").unwrap();
        std::fs::write(&future, "{\"schema_version\": 7}").unwrap();
        let (rows, warnings) = collect_rows(&[tmp.path().to_path_buf()]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains(&bad.display().to_string()),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("newer turnkey (schema 7 > 1)"),
            "{warnings:?}"
        );
    }

    #[test]
    fn not_a_cache_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = collect_rows(&[tmp.path().join("typo")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("typo") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn no_duplicates_across_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let ca = new_cache(&a);
        let cb = new_cache(&b);
        successful_build(&ca, "linear_1", &[]);
        successful_build(&cb, "other_3", &[]);
        // A copied record (rsync of one cache into another) is the same result.
        let from = ca.build_dir("linear_1").unwrap();
        let to = cb.build_dir("linear_1").unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(from.join("record.json"), to.join("record.json")).unwrap();

        let (rows, _) = collect_rows(&[a.clone(), b.clone(), a.clone()]).unwrap();
        let keys: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.build.as_str(), r.runtime.as_str(), r.cache.as_str()))
            .collect();
        let (a, b) = (a.display().to_string(), b.display().to_string());
        assert_eq!(
            keys,
            vec![
                ("linear_1", "ort", a.as_str()),
                ("linear_1", "tract", a.as_str()),
                ("other_3", "ort", b.as_str()),
                ("other_3", "tract", b.as_str()),
            ]
        );
    }

    #[test]
    fn a_rerun_elsewhere_is_not_a_duplicate() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        successful_build(&new_cache(&a), "linear_1", &[]);
        let cb = new_cache(&b);
        successful_build(&cb, "linear_1", &[]);
        cb.update_record("linear_1", |r| r.system.hostname = Some("node2".into()))
            .unwrap();
        let (rows, _) = collect_rows(&[a, b]).unwrap();
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn writes_the_csv_with_label_columns() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let c = new_cache(&dir);
        successful_build(
            &c,
            "linear_1",
            &[
                ("author", &["turnkey"]),
                ("test_group", &["selftest", "daily"]),
            ],
        );
        successful_build(&c, "other_3", &[("name", &["other"])]);
        failed_export(&c, "broken_2");
        let out = tmp.path().join("out");
        let summary = write_report(std::slice::from_ref(&dir), &out, &[Format::Csv]).unwrap();
        assert_eq!(summary.files, vec![out.join("turnkey-report.csv")]);
        assert_eq!(summary.rows, 5);
        assert_eq!(summary.builds, 3);

        let mut reader = ::csv::Reader::from_path(out.join("turnkey-report.csv")).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let n = crate::report::COLUMNS.len();
        assert_eq!(&header[..n], &crate::report::COLUMNS[..]);
        assert_eq!(
            &header[n..],
            ["label:author", "label:name", "label:test_group"]
        );
        let records: Vec<::csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), 5);
        assert!(records.iter().all(|r| r.len() == header.len()));
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(&records[0][col("build")], "broken_2");
        assert_eq!(&records[0][col("status")], "error");
        assert_eq!(&records[0][col("median_ms")], "");
        assert_eq!(&records[1][col("label:test_group")], "selftest,daily");
        assert_eq!(&records[1][col("label:name")], "");
        assert_eq!(&records[1][col("author")], "turnkey");
        assert_eq!(&records[3][col("label:name")], "other");
        assert_eq!(&records[3][col("cache")], dir.display().to_string());
    }
}
