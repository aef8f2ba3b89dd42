//! From records to report rows: reading caches, one row per runtime × device,
//! a row for builds that never reached a runtime, a row for records that
//! cannot be read, and no duplicates.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ReportError, ReportRow, par_map};
use crate::cache::{Cache, CacheError, Record, RuntimeRow, StageRecord, Status, SystemInfo};

/// Something that could not be read, and what to do about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// The file at fault.
    pub file: PathBuf,
    /// One line for people, naming the file.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One cache as the report's header shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheSummary {
    /// The folder, as given with `-d`.
    pub path: String,
    /// Distinct builds with a row in the report.
    pub builds: usize,
    /// Rows in the report from this cache.
    pub rows: usize,
    /// Rows whose status is `successful`.
    pub successful: usize,
    /// Rows whose status is a failure (`error`, `crashed`, ... `mismatch`).
    pub failed: usize,
    /// Records that could not be read (each is also a row and a problem).
    pub unreadable: usize,
    /// Rows skipped because an earlier cache holds the same result.
    pub duplicates: usize,
    /// Earliest and latest row timestamps.
    pub first_run: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    /// Runtime → the versions seen.
    pub runtimes: BTreeMap<String, BTreeSet<String>>,
    /// Device names seen (CPU model, GPU name).
    pub devices: BTreeSet<String>,
    /// The machines that wrote the records, one per host name (from its
    /// latest record).
    pub systems: Vec<SystemInfo>,
}

/// What [`collect`] read.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub rows: Vec<ReportRow>,
    pub caches: Vec<CacheSummary>,
    pub problems: Vec<Problem>,
}

/// Reads every record of every cache. A record that cannot be read (corrupt,
/// half-written, or from a newer turnkey) becomes a problem naming the file
/// and an `error` row for its build, and the rest is still reported; a folder
/// that is not a cache is an error. Rows are sorted by build, runtime,
/// device, cache; the same result reached twice (a cache given twice, a
/// copied record) is kept once.
pub fn collect(caches: &[PathBuf]) -> Result<Collected, ReportError> {
    let mut opened: Vec<PathBuf> = Vec::new();
    let mut canonical = HashSet::new();
    for dir in caches {
        Cache::open_existing(dir)?;
        // `-d a -d ./a` is one cache.
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if canonical.insert(key) {
            opened.push(dir.clone());
        }
    }
    let mut jobs: Vec<(usize, String, PathBuf)> = Vec::new();
    for (i, dir) in opened.iter().enumerate() {
        let cache = Cache::open_existing(dir)?;
        for name in build_folders(&cache)? {
            if let Ok(path) = cache.record_path(&name) {
                jobs.push((i, name, path));
            }
        }
    }
    let loaded = par_map(&jobs, |(i, _, path)| load(path, &opened[*i]));

    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut duplicates = vec![0usize; opened.len()];
    let mut systems: Vec<BTreeMap<String, (DateTime<Utc>, SystemInfo)>> =
        vec![BTreeMap::new(); opened.len()];
    for ((i, name, path), result) in jobs.iter().zip(loaded) {
        match result {
            // A build folder whose first record was never written.
            Ok(None) => {}
            Ok(Some(Loaded {
                rows: new_rows,
                system,
                updated,
            })) => {
                let host = system.hostname.clone().unwrap_or_default();
                let slot = systems[*i]
                    .entry(host)
                    .or_insert_with(|| (updated, system.clone()));
                if updated > slot.0 {
                    *slot = (updated, system);
                }
                for row in new_rows {
                    if seen.insert(dedupe_key(&row)) {
                        rows.push(row);
                    } else {
                        duplicates[*i] += 1;
                    }
                }
            }
            Err(e) => {
                let problem = Problem {
                    file: path.clone(),
                    message: format!("unreadable record: {e}"),
                };
                rows.push(unreadable_row(name, &opened[*i], &problem));
                problems.push(problem);
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
    let known: Vec<(String, Vec<SystemInfo>)> = opened
        .iter()
        .zip(systems)
        .map(|(dir, s)| {
            (
                dir.display().to_string(),
                s.into_values().map(|(_, s)| s).collect(),
            )
        })
        .collect();
    let mut summaries = summarize_caches(&rows, &known);
    for (summary, dups) in summaries.iter_mut().zip(duplicates) {
        summary.duplicates = dups;
    }
    Ok(Collected {
        rows,
        caches: summaries,
        problems,
    })
}

/// [`collect`]'s rows, with its problems as warning lines.
pub fn collect_rows(caches: &[PathBuf]) -> Result<(Vec<ReportRow>, Vec<String>), ReportError> {
    let c = collect(caches)?;
    let warnings = c.problems.iter().map(|p| p.to_string()).collect();
    Ok((c.rows, warnings))
}

/// One record's rows and the machine that wrote it.
struct Loaded {
    rows: Vec<ReportRow>,
    system: SystemInfo,
    updated: DateTime<Utc>,
}

/// The folder names under `builds/` (one `read_dir`, no `stat` per build:
/// a folder without a record is skipped when its record is read).
fn build_folders(cache: &Cache) -> Result<Vec<String>, CacheError> {
    let builds = cache.builds_dir();
    let entries = match std::fs::read_dir(&builds) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CacheError::Io {
                action: "list",
                path: builds,
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// One record's rows; `None` when the folder has no record.
fn load(path: &Path, cache: &Path) -> Result<Option<Loaded>, CacheError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        // No record yet, or a stray file in builds/.
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(source) => {
            return Err(CacheError::Io {
                action: "read the build record",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let record = Record::from_json(&bytes, path)?;
    // Fields another turnkey may add (peak FLOP/s): read when present, never
    // required. A substring test first: a second parse of every record
    // costs 15% of a 10,000-record report.
    let has_peaks = PEAK_KEYS
        .iter()
        .any(|k| memchr::memmem::find(&bytes, k.as_bytes()).is_some());
    let peaks = if has_peaks {
        serde_json::from_slice::<PeakProbe>(&bytes)
            .map(|p| p.runtimes)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Some(Loaded {
        rows: record_rows(&record, cache, &peaks),
        updated: record.updated,
        system: record.system,
    }))
}

/// The row standing for a record that could not be read.
fn unreadable_row(build: &str, cache: &Path, problem: &Problem) -> ReportRow {
    ReportRow {
        build: build.to_string(),
        status: Status::Error,
        error: problem.message.clone(),
        cache: cache.display().to_string(),
        // Unique: two unreadable files are never "the same result".
        hash: format!("unreadable:{}", problem.file.display()),
        ..Default::default()
    }
}

/// The per-cache header: counts, dates, runtimes and machines. `known`
/// lists the caches read, in order, with their machines; caches only named
/// by rows come after them.
pub(super) fn summarize_caches(
    rows: &[ReportRow],
    known: &[(String, Vec<SystemInfo>)],
) -> Vec<CacheSummary> {
    let mut out: Vec<CacheSummary> = known
        .iter()
        .map(|(path, systems)| CacheSummary {
            path: path.clone(),
            systems: systems.clone(),
            ..Default::default()
        })
        .collect();
    let mut builds: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); out.len()];
    for row in rows {
        let i = match out.iter().position(|c| c.path == row.cache) {
            Some(i) => i,
            None => {
                out.push(CacheSummary {
                    path: row.cache.clone(),
                    ..Default::default()
                });
                builds.push(BTreeSet::new());
                out.len() - 1
            }
        };
        let c = &mut out[i];
        builds[i].insert(&row.build);
        c.rows += 1;
        if row.status == Status::Successful {
            c.successful += 1;
        } else if row.status.is_failure() {
            c.failed += 1;
        }
        if row.hash.starts_with("unreadable:") {
            c.unreadable += 1;
        }
        if let Some(t) = row.timestamp {
            c.first_run = Some(c.first_run.map_or(t, |f| f.min(t)));
            c.last_run = Some(c.last_run.map_or(t, |l| l.max(t)));
        }
        if !row.runtime.is_empty() {
            let versions = c.runtimes.entry(row.runtime.clone()).or_default();
            if !row.runtime_version.is_empty() {
                versions.insert(row.runtime_version.clone());
            }
        }
        if !row.device_name.is_empty() {
            c.devices.insert(row.device_name.clone());
        }
    }
    for (c, b) in out.iter_mut().zip(builds) {
        c.builds = b.len();
    }
    out
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

/// Peak-FLOP/s fields of a runtime row. The record does not define them yet
/// (the peak measurement writes them); the report reads them under these
/// names when they are there.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PeakFields {
    runtime: String,
    device: String,
    #[serde(alias = "peak_flops_per_s", alias = "peak_flop_s")]
    peak_flops: Option<f64>,
    #[serde(alias = "percent_of_peak", alias = "peak_pct")]
    pct_of_peak: Option<f64>,
    #[serde(alias = "achieved_flops_per_s", alias = "achieved_flop_s")]
    achieved_flops: Option<f64>,
}

/// Substrings of every name [`PeakFields`] reads.
const PEAK_KEYS: [&str; 4] = ["peak_flop", "of_peak", "peak_pct", "achieved_flop"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PeakProbe {
    runtimes: Vec<PeakFields>,
}

/// The report rows of one record (`cache` fills the `cache` column). The
/// terminal's end-of-run summary uses this on the records it just wrote.
pub fn rows_from_record(record: &Record, cache: &Path) -> Vec<ReportRow> {
    record_rows(record, cache, &[])
}

fn record_rows(record: &Record, cache: &Path, peaks: &[PeakFields]) -> Vec<ReportRow> {
    let base = build_columns(record, cache);
    if record.runtimes.is_empty() {
        return vec![build_without_runtimes(record, base)];
    }
    let build_dir = cache.join("builds").join(&record.identity.name);
    record
        .runtimes
        .iter()
        .map(|rt| {
            let peak = peaks
                .iter()
                .find(|p| p.runtime == rt.runtime && p.device == rt.device);
            runtime_row(rt, base.clone(), &build_dir, peak)
        })
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
        param_bytes: id.param_bytes,
        flops_per_token: id.flops_per_token,
        activation_bytes: id.activation_bytes,
        input_shapes: inputs.join("; "),
        weights: id
            .weights
            .as_ref()
            .map(|w| w.source.clone())
            .unwrap_or_default(),
        cache: cache.display().to_string(),
        labels: id.labels.clone(),
        hash: id.hash.clone(),
        hostname: record.system.hostname.clone().unwrap_or_default(),
        timestamp: Some(record.updated),
        script_args: id.script_args.clone(),
        variant: id.variant.as_ref().map(|v| v.label()).unwrap_or_default(),
        variant_of: id.variant_of.clone().unwrap_or_default(),
        batch_size: id
            .inputs
            .first()
            .and_then(|t| t.shape.first())
            .map(|&d| d as u64),
        prompt_tokens: id.generation.as_ref().map(|g| g.prompt_tokens),
        new_tokens: id.generation.as_ref().map(|g| g.new_tokens),
        ..Default::default()
    }
}

fn runtime_row(
    rt: &RuntimeRow,
    base: ReportRow,
    build_dir: &Path,
    peak: Option<&PeakFields>,
) -> ReportRow {
    let check = rt.check.as_ref();
    let error = rt.error.clone().or_else(|| {
        // A mismatch's explanation is the check summary when no error was set.
        (rt.status == Status::Mismatch)
            .then(|| check.and_then(|c| c.summary.clone()))
            .flatten()
    });
    // FLOPs of one call times calls per second (one call per median latency).
    let achieved_flops = rt
        .achieved_flops
        .or_else(|| peak.and_then(|p| p.achieved_flops))
        .or_else(|| match (base.flops, rt.median_ms) {
            (Some(f), Some(ms)) if ms > 0.0 && f > 0 => Some(f as f64 * 1000.0 / ms),
            _ => None,
        });
    let host = rt.host_noise.as_ref();
    let peak_flops = rt
        .peak_flops
        .or_else(|| peak.and_then(|p| p.peak_flops))
        .filter(|p| *p > 0.0);
    let pct_of_peak = rt
        .pct_of_peak
        .or_else(|| peak.and_then(|p| p.pct_of_peak))
        .or_else(|| {
            achieved_flops
                .zip(peak_flops)
                .map(|(achieved, peak)| 100.0 * achieved / peak)
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
        check: check.map(|c| c.status.to_string()).unwrap_or_default(),
        max_abs_diff: check.and_then(|c| c.max_abs_diff),
        speedup_vs_fp32: rt.accuracy.as_ref().and_then(|a| a.speedup),
        rel_err: rt.accuracy.as_ref().and_then(|a| a.rel_err),
        cosine: rt.accuracy.as_ref().and_then(|a| a.cosine),
        top1_agreement: rt.accuracy.as_ref().and_then(|a| a.top1),
        top5_agreement: rt.accuracy.as_ref().and_then(|a| a.top5),
        iterations: rt.iterations,
        timestamp: Some(rt.timestamp),
        error: error.unwrap_or_default(),
        batch_size: rt.batch_size.or(base.batch_size),
        device_name: rt.device_name.clone().unwrap_or_default(),
        samples_file: rt.samples_file.as_ref().map(|f| build_dir.join(f)),
        samples: super::samples::from_record(rt),
        achieved_flops,
        peak_flops,
        pct_of_peak,
        median_ci_lo_ms: rt.median_ci_lo_ms,
        median_ci_hi_ms: rt.median_ci_hi_ms,
        mad_ms: rt.mad_ms,
        iqr_ms: rt.iqr_ms,
        outliers: rt.outliers,
        warmup_iterations: rt.warmup_iterations,
        warmup_ms: rt.warmup_ms,
        stop: rt.stop.clone().unwrap_or_default(),
        trials: rt.median_ms.map(|_| rt.trials.len().max(1) as u64),
        trial_spread_pct: rt.trial_spread_pct,
        ci_pct: rt.median_ms.and_then(|m| {
            crate::bench::stats::ci_half_pct(m, rt.median_ci_lo_ms, rt.median_ci_hi_ms)
        }),
        outlier_pct: match (rt.outliers, rt.iterations) {
            (Some(o), Some(n)) if n > 0 => Some(100.0 * o as f64 / n as f64),
            _ => None,
        },
        host_other_cores: host.and_then(|h| h.other_cores),
        host_wait_pct: host.and_then(|h| h.wait_pct),
        host_steal_pct: host.and_then(|h| h.steal_pct),
        host_loadavg: host.and_then(|h| h.loadavg),
        cpu_mhz_min: host.and_then(|h| h.cpu_mhz_min),
        cpu_mhz_max: host.and_then(|h| h.cpu_mhz_max),
        pinned_cpus: rt.pinned_cpus.clone().unwrap_or_default(),
        precision: rt.precision.clone().unwrap_or_default(),
        ..generation_columns(rt, base)
    }
}

/// The columns of an `lm.generate` row (issue #18).
fn generation_columns(rt: &RuntimeRow, base: ReportRow) -> ReportRow {
    let Some(g) = &rt.generation else {
        return base;
    };
    ReportRow {
        ttft_ms: Some(g.ttft_ms),
        decode_ms_median: g.decode_ms_median,
        decode_ms_p90: g.decode_ms_p90,
        decode_ms_p99: g.decode_ms_p99,
        gen_tokens_per_s: g.gen_tokens_per_s,
        prompt_tokens_per_s: Some(g.prompt_tokens_per_s),
        e2e_ms: Some(g.e2e_ms),
        kv_cache_bytes: Some(g.kv_cache_bytes),
        tokens_match: match g.tokens_match {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => "reference".into(),
        },
        decode_ms_by_step: g.decode_ms_by_step.clone(),
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
    use crate::report::{Format, ReportOptions, write_report};

    fn successful_build(cache: &Cache, name: &str, labels: &[(&str, &[&str])]) {
        cache
            .update_record(name, |r| {
                r.identity.hash = format!("{name}-hash");
                r.identity.script = format!("models/{name}.rhai");
                r.identity.model_class = Some("TwoLayer".into());
                r.identity.params = Some(85);
                r.identity
                    .inputs
                    .push(TensorSpec::new("x", &[1, 10], DType::Float32));
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
        let c = collect(&[tmp.path().to_path_buf()]).unwrap();
        // The good build's two rows, and one row per unreadable record.
        let keys: Vec<(&str, Status)> = c
            .rows
            .iter()
            .map(|r| (r.build.as_str(), r.status))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("bad", Status::Error),
                ("future", Status::Error),
                ("good", Status::Successful),
                ("good", Status::Successful)
            ]
        );
        assert!(
            c.rows[0].error.contains(&bad.display().to_string()),
            "{:?}",
            c.rows[0]
        );
        let warnings: Vec<String> = c.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(c.problems[0].file, bad);
        assert!(
            warnings[0].contains(&bad.display().to_string()),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("newer turnkey (schema 7 > 1)"),
            "{warnings:?}"
        );
        let summary = &c.caches[0];
        assert_eq!(
            (
                summary.rows,
                summary.successful,
                summary.failed,
                summary.unreadable
            ),
            (4, 2, 2, 2)
        );
        // Two unreadable records of the same name in two caches stay two rows.
        let other = tmp.path().join("other");
        let o = new_cache(&other);
        o.update_record("bad", |_| {}).unwrap();
        std::fs::write(o.record_path("bad").unwrap(), "{").unwrap();
        let c = collect(&[tmp.path().to_path_buf(), other]).unwrap();
        assert_eq!(c.rows.iter().filter(|r| r.build == "bad").count(), 2);
    }

    #[test]
    fn peak_fields_are_read_when_present() {
        let tmp = tempfile::tempdir().unwrap();
        let c = new_cache(tmp.path());
        successful_build(&c, "linear_1", &[]);
        c.update_record("linear_1", |r| r.identity.flops = Some(2_000_000))
            .unwrap();
        // Another turnkey wrote the peak FLOP/s of ort/cpu into the row.
        let path = c.record_path("linear_1").unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ort = json["runtimes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["runtime"] == "ort")
            .unwrap();
        ort["peak_flops"] = serde_json::json!(4e9);
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        // A stray file in builds/ is not a build.
        std::fs::write(c.builds_dir().join("notes.txt"), "x").unwrap();

        let (rows, warnings) = collect_rows(&[tmp.path().to_path_buf()]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (ort, tract) = (&rows[0], &rows[1]);
        // 2 MFLOP per call at 1 ms: 2 GFLOP/s, half of the 4 GFLOP/s peak.
        assert_eq!(ort.achieved_flops, Some(2e9));
        assert_eq!(ort.peak_flops, Some(4e9));
        assert_eq!(ort.pct_of_peak, Some(50.0));
        assert_eq!(tract.achieved_flops, Some(1e9));
        assert_eq!((tract.peak_flops, tract.pct_of_peak), (None, None));
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
        let opts = ReportOptions {
            formats: vec![Format::Csv],
            baseline: None,
            pairs: false,
        };
        let summary = write_report(std::slice::from_ref(&dir), &out, &opts).unwrap();
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
