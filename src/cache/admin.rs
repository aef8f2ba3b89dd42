//! Looking after a cache: list its builds, show one record, free space
//! (`clean`, `--lean-cache`) and delete builds. Everything here goes through
//! [`Cache::open_existing`], so a folder without the `.turnkeycache` marker
//! is never read as a cache nor deleted from; build folders are only
//! removed under their lock, and a symbolic link is removed as a link,
//! never followed.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::{CACHE_DIR_ENV, Cache, CacheError, RECORD_FILE, Record, Status, check_build_name};

/// What `cache clean` removes from a build folder (records and logs stay).
pub const CLEAN_PATHS: [&str; 6] = [
    "model.onnx",
    "model.onnx.data",
    "model.graph.json",
    "inputs",
    "outputs",
    "samples",
];
/// What `--lean-cache` removes after a build is benchmarked: the large
/// files; the samples stay for the report's charts.
pub const LEAN_PATHS: [&str; 5] = [
    "model.onnx",
    "model.onnx.data",
    "model.graph.json",
    "inputs",
    "outputs",
];

#[derive(Debug, Error)]
pub enum AdminError {
    #[error(transparent)]
    Cache(#[from] CacheError),

    #[error("no build '{name}' in the cache {}: `turnkey cache list -d {}` shows the builds", dir.display(), dir.display())]
    NoSuchBuild { name: String, dir: PathBuf },
}

/// One line of `turnkey cache list`.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildSummary {
    pub name: String,
    /// The build's overall status; `None` when its record cannot be read.
    pub status: Option<Status>,
    /// Runtime rows that succeeded, of all rows.
    pub rows_ok: usize,
    pub rows: usize,
    /// When the record was last written.
    pub last_run: Option<DateTime<Utc>>,
    /// Bytes on disk of the build folder.
    pub size_bytes: u64,
    /// Why the record cannot be read.
    pub problem: Option<String>,
}

/// What a delete or clean freed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freed {
    pub builds: usize,
    pub bytes: u64,
}

impl Cache {
    /// The cache folder `turnkey` would use: `dir` (from `-d`), else
    /// `$TURNKEY_CACHE_DIR`, else the user cache folder. Creates nothing.
    pub fn resolve_location(dir: Option<&Path>) -> Result<PathBuf, CacheError> {
        super::resolve_dir(dir, std::env::var_os(CACHE_DIR_ENV), super::default_dir)
    }

    /// Every folder under `builds/` that is a build (with or without a record).
    fn build_folders(&self) -> Result<Vec<String>, CacheError> {
        let builds = self.builds_dir();
        if !builds.exists() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&builds).map_err(CacheError::io("list", &builds))? {
            let entry = entry.map_err(CacheError::io("list", &builds))?;
            if let Ok(name) = entry.file_name().into_string()
                && check_build_name(&name).is_ok()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The folder of an existing build, or [`AdminError::NoSuchBuild`].
    fn existing_build(&self, name: &str) -> Result<PathBuf, AdminError> {
        let dir = self.build_dir(name)?;
        if fs::symlink_metadata(&dir).is_err() {
            return Err(AdminError::NoSuchBuild {
                name: name.to_string(),
                dir: self.location().to_path_buf(),
            });
        }
        Ok(dir)
    }

    /// The builds with their status, rows, last run and size, sorted by name.
    pub fn build_summaries(&self) -> Result<Vec<BuildSummary>, CacheError> {
        let mut out = Vec::new();
        for name in self.build_folders()? {
            let dir = self.build_dir(&name)?;
            let size_bytes = dir_size(&dir);
            let path = dir.join(RECORD_FILE);
            let summary = if !path.exists() {
                BuildSummary {
                    name,
                    status: None,
                    rows_ok: 0,
                    rows: 0,
                    last_run: None,
                    size_bytes,
                    problem: Some("no record (an interrupted first run)".into()),
                }
            } else {
                match Record::load(&path) {
                    Ok(r) => BuildSummary {
                        name,
                        status: Some(overall_status(&r)),
                        rows_ok: r
                            .runtimes
                            .iter()
                            .filter(|x| x.status == Status::Successful)
                            .count(),
                        rows: r.runtimes.len(),
                        last_run: Some(r.updated),
                        size_bytes,
                        problem: None,
                    },
                    Err(e) => BuildSummary {
                        name,
                        status: None,
                        rows_ok: 0,
                        rows: 0,
                        last_run: None,
                        size_bytes,
                        problem: Some(e.to_string()),
                    },
                }
            };
            out.push(summary);
        }
        Ok(out)
    }

    /// Removes build `name` entirely.
    pub fn delete_build(&self, name: &str) -> Result<Freed, AdminError> {
        let dir = self.existing_build(name)?;
        let bytes = dir_size(&dir);
        remove_build_folder(&dir)?;
        Ok(Freed { builds: 1, bytes })
    }

    /// Removes every build; the cache folder and its marker stay.
    pub fn delete_all(&self) -> Result<Freed, CacheError> {
        let mut freed = Freed::default();
        for name in self.build_folders()? {
            let dir = self.build_dir(&name)?;
            freed.bytes += dir_size(&dir);
            remove_build_folder(&dir)?;
            freed.builds += 1;
        }
        Ok(freed)
    }

    /// Drops build `name`'s ONNX file, inputs, outputs and samples; keeps
    /// its record and logs.
    pub fn clean_build(&self, name: &str) -> Result<Freed, AdminError> {
        let dir = self.existing_build(name)?;
        Ok(Freed {
            builds: 1,
            bytes: remove_in_build(&dir, &CLEAN_PATHS)?,
        })
    }

    /// [`Cache::clean_build`] for every build.
    pub fn clean_all(&self) -> Result<Freed, CacheError> {
        let mut freed = Freed::default();
        for name in self.build_folders()? {
            freed.bytes += remove_in_build(&self.build_dir(&name)?, &CLEAN_PATHS)?;
            freed.builds += 1;
        }
        Ok(freed)
    }

    /// `--lean-cache`: after build `name` is benchmarked, drops its ONNX
    /// file, inputs and outputs; the record, samples and logs stay.
    pub fn make_lean(&self, name: &str) -> Result<u64, CacheError> {
        let dir = self.build_dir(name)?;
        if !dir.is_dir() {
            return Ok(0);
        }
        remove_in_build(&dir, &LEAN_PATHS)
    }
}

/// The worst outcome of a build: a failed stage or row first, then one still
/// running, then one never started; `successful` when everything succeeded.
pub fn overall_status(r: &Record) -> Status {
    let mut stages: Vec<_> = r.stages.values().collect();
    stages.sort_by_key(|s| s.started);
    let all: Vec<Status> = stages
        .iter()
        .map(|s| s.status)
        .chain(r.runtimes.iter().map(|x| x.status))
        .collect();
    let failed = all
        .iter()
        .find(|s| s.is_failure() && **s != Status::NotStarted);
    if let Some(s) = failed {
        return *s;
    }
    for s in [Status::Running, Status::NotStarted] {
        if all.contains(&s) {
            return s;
        }
    }
    if all.is_empty() {
        Status::NotStarted
    } else {
        Status::Successful
    }
}

/// Bytes of the files under `path` (links counted as links, not followed).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes a file, a link, or a folder with its contents; a missing path is fine.
fn remove_path(path: &Path) -> Result<(), CacheError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CacheError::io("read", path)(e)),
    };
    // `remove_dir_all` does not follow links; a link to a folder is a file here.
    let removed = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(CacheError::io("remove", path))
}

/// Removes a whole build folder: emptied under its lock (so no writer is
/// half-way through a record), then the folder itself.
fn remove_build_folder(dir: &Path) -> Result<(), CacheError> {
    let meta = fs::symlink_metadata(dir).map_err(CacheError::io("read", dir))?;
    if !meta.is_dir() {
        return remove_path(dir);
    }
    super::store::clear(dir)?;
    remove_path(dir)
}

/// Removes `names` inside a build folder under its lock; returns bytes freed.
fn remove_in_build(dir: &Path, names: &[&str]) -> Result<u64, CacheError> {
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(0);
    }
    let _lock = super::store::BuildLock::acquire(dir)?;
    let mut freed = 0;
    for name in names {
        let path = dir.join(name);
        freed += dir_size(&path);
        remove_path(&path)?;
    }
    Ok(freed)
}

/// `12.3 MB` (powers of 1000, as disks are sold).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `turnkey cache list`: one aligned line per build, then a total.
pub fn list_text(cache: &Cache, builds: &[BuildSummary]) -> String {
    let header = ["build", "status", "rows ok", "last run", "size"];
    let lines: Vec<[String; 5]> = builds
        .iter()
        .map(|b| {
            [
                b.name.clone(),
                b.status.map_or("unreadable".to_string(), |s| s.to_string()),
                if b.rows == 0 {
                    "-".into()
                } else {
                    format!("{}/{}", b.rows_ok, b.rows)
                },
                b.last_run
                    .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                human_bytes(b.size_bytes),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for l in &lines {
        for (w, c) in widths.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(String::from);
    for l in std::iter::once(&header).chain(&lines) {
        let mut text = String::new();
        for (i, c) in l.iter().enumerate() {
            let pad = " ".repeat(widths[i] - c.chars().count());
            if i == 2 || i == 4 {
                let _ = write!(text, "{pad}{c}  ");
            } else {
                let _ = write!(text, "{c}{pad}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    for b in builds {
        if let Some(p) = &b.problem {
            let _ = writeln!(out, "warning: {}: {p}", b.name);
        }
    }
    let total: u64 = builds.iter().map(|b| b.size_bytes).sum();
    let _ = writeln!(
        out,
        "{} build(s), {} in {}",
        builds.len(),
        human_bytes(total),
        cache.location().display()
    );
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3} ms"))
}

/// `turnkey cache stats BUILD`: the record for people.
pub fn stats_text(cache: &Cache, name: &str) -> Result<String, AdminError> {
    let dir = cache.existing_build(name)?;
    let record = Record::load(&dir.join(RECORD_FILE))?;
    let id = &record.identity;
    let mut out = String::new();
    let mut kv = |k: &str, v: String| {
        if !v.is_empty() {
            let _ = writeln!(out, "{k:<12}{v}");
        }
    };
    kv("build", id.name.clone());
    kv("script", id.script.clone());
    kv("location", id.location.clone().unwrap_or_default());
    kv("class", id.model_class.clone().unwrap_or_default());
    kv("hash", id.hash.clone());
    kv("args", id.script_args.clone());
    let labels: Vec<String> = id
        .labels
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.join(",")))
        .collect();
    kv("labels", labels.join("; "));
    let specs = |t: &[super::TensorSpec]| {
        t.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    kv("inputs", specs(&id.inputs));
    kv("outputs", specs(&id.outputs));
    if let Some(p) = id.params {
        let bytes = id.param_bytes.map(human_bytes).unwrap_or_default();
        kv("params", format!("{p} ({bytes})"));
    }
    kv("flops", id.flops.map(|f| f.to_string()).unwrap_or_default());
    kv("opset", id.opset.map(|o| o.to_string()).unwrap_or_default());
    let ops: Vec<String> = id
        .op_counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    kv("ops", ops.join(", "));
    let s = &record.system;
    kv(
        "machine",
        format!(
            "{} ({} {}), {}, {} threads",
            s.hostname.clone().unwrap_or_default(),
            s.os,
            s.os_version.clone().unwrap_or_default(),
            s.cpu_model.clone().unwrap_or_default(),
            s.logical_cores
        ),
    );
    if !s.gpus.is_empty() {
        kv("gpus", s.gpus.join(", "));
    }
    kv(
        "written",
        format!(
            "{} (first {})",
            record.updated.format("%Y-%m-%d %H:%M:%S UTC"),
            record.created.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    );
    kv("status", overall_status(&record).to_string());

    out.push_str("\nstages\n");
    let mut stages: Vec<_> = record.stages.iter().collect();
    stages.sort_by_key(|(_, s)| s.started);
    for (name, st) in stages {
        let _ = writeln!(
            out,
            "  {name:<10} {:<11} {}",
            st.status.as_str(),
            st.duration_s.map_or("-".into(), |d| format!("{d:.3} s"))
        );
        if let Some(e) = &st.error {
            let _ = writeln!(out, "    error: {e}");
        }
    }
    if !record.runtimes.is_empty() {
        out.push_str("\nruntimes\n");
    }
    for r in &record.runtimes {
        let _ = writeln!(
            out,
            "  {}/{} {} {}",
            r.runtime,
            r.device,
            r.status.as_str(),
            r.runtime_version.clone().unwrap_or_default()
        );
        if r.median_ms.is_some() {
            let _ = writeln!(
                out,
                "    median {}, p90 {}, min {}, max {}, {} iterations, cov {}",
                ms(r.median_ms),
                ms(r.p90_ms),
                ms(r.min_ms),
                ms(r.max_ms),
                r.iterations.unwrap_or(0),
                r.cov.map_or("-".into(), |c| format!("{:.1}%", c * 100.0))
            );
            let _ = writeln!(
                out,
                "    throughput {}/s (batch {}), compile {}, first {}, peak RSS {}",
                r.throughput.map_or("-".into(), |t| format!("{t:.1}")),
                r.batch_size.map_or("-".into(), |b| b.to_string()),
                ms(r.compile_ms),
                ms(r.first_ms),
                r.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1} MB"))
            );
        }
        if let (Some(lo), Some(hi)) = (r.median_ci_lo_ms, r.median_ci_hi_ms) {
            let _ = writeln!(
                out,
                "    median 95% CI {} - {}, MAD {}, IQR {}, {} outliers; warm-up {} iterations in {}{}; stopped at {}{}",
                ms(Some(lo)),
                ms(Some(hi)),
                ms(r.mad_ms),
                ms(r.iqr_ms),
                r.outliers.unwrap_or(0),
                r.warmup_iterations.unwrap_or(0),
                ms(r.warmup_ms),
                match r.warmup_steady {
                    Some(true) => " (steady)",
                    Some(false) => " (not steady)",
                    None => "",
                },
                r.stop.as_deref().unwrap_or("-"),
                if r.trials.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} trials, spread {:.2}%",
                        r.trials.len(),
                        r.trial_spread_pct.unwrap_or(0.0)
                    )
                }
            );
        }
        if let Some(h) = &r.host_noise {
            let num =
                |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v:.2}{unit}"));
            let _ = writeln!(
                out,
                "    host: other processes {} of {} cores, worker waited {}, steal {}, load {}, CPU {}-{} MHz",
                num(h.other_cores, ""),
                h.cpus,
                num(h.wait_pct, "%"),
                num(h.steal_pct, "%"),
                num(h.loadavg, ""),
                num(h.cpu_mhz_min, ""),
                num(h.cpu_mhz_max, "")
            );
        }
        if let Some(st) = &r.stability {
            let _ = writeln!(out, "    stability: {st}");
        }
        if let Some(c) = &r.check {
            let _ = writeln!(
                out,
                "    check: {} against {}{}",
                c.status,
                c.reference,
                c.max_abs_diff
                    .map_or(String::new(), |d| format!(", max |diff| {d:.2e}"))
            );
        }
        if let Some(e) = &r.error {
            let _ = writeln!(out, "    error: {e}");
        }
    }
    out.push_str("\nfiles\n");
    for f in [
        "record.json",
        "model.onnx",
        "inputs",
        "outputs",
        "samples",
        "log",
    ] {
        let p = dir.join(f);
        if fs::symlink_metadata(&p).is_ok() {
            let _ = writeln!(out, "  {f:<12} {}", human_bytes(dir_size(&p)));
        }
    }
    let _ = writeln!(out, "  {}", dir.display());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MARKER;

    fn build(cache: &Cache, name: &str, status: Status) -> PathBuf {
        cache
            .update_record(name, |r| {
                r.finish_stage("discover", Status::Successful, None);
                let row = r.row_mut("ort", "cpu");
                row.status = status;
                row.median_ms = Some(1.0);
            })
            .unwrap();
        let dir = cache.build_dir(name).unwrap();
        fs::write(dir.join("model.onnx"), vec![0u8; 1000]).unwrap();
        for sub in ["inputs", "outputs/ort-cpu", "samples", "log"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("inputs/input_0.pb"), [1u8; 10]).unwrap();
        fs::write(dir.join("outputs/ort-cpu/output_0.pb"), [1u8; 10]).unwrap();
        fs::write(
            dir.join("samples/ort-cpu.csv"),
            "iteration,latency_ms\n0,1\n",
        )
        .unwrap();
        fs::write(dir.join("log/ort-cpu.result.json"), "{}").unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn clean_keeps_records_and_logs() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        let dir = build(&c, "a_1", Status::Successful);
        let freed = c.clean_build("a_1").unwrap();
        assert!(freed.bytes >= 1000, "{freed:?}");
        assert_eq!(names(&dir), vec![".lock", "log", "record.json"]);
        assert!(c.load_record("a_1").unwrap().is_some());
        // Again: nothing left to free, no error.
        assert_eq!(c.clean_build("a_1").unwrap().bytes, 0);
        let err = c.clean_build("nope").unwrap_err().to_string();
        assert!(
            err.contains("no build 'nope'") && err.contains("cache list"),
            "{err}"
        );
    }

    #[test]
    fn lean_keeps_samples() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        let dir = build(&c, "a_1", Status::Successful);
        assert!(c.make_lean("a_1").unwrap() >= 1000);
        assert_eq!(names(&dir), vec![".lock", "log", "record.json", "samples"]);
        assert_eq!(c.make_lean("not_there").unwrap(), 0);
    }

    #[test]
    fn delete_one_and_all() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        build(&c, "a_1", Status::Successful);
        build(&c, "b_2", Status::Error);
        fs::create_dir(c.builds_dir().join("half_made")).unwrap();
        let freed = c.delete_build("a_1").unwrap();
        assert_eq!(freed.builds, 1);
        assert!(!c.builds_dir().join("a_1").exists());
        assert!(c.delete_build("a_1").is_err());
        assert!(c.delete_build("../escape").is_err());
        let freed = c.delete_all().unwrap();
        assert_eq!(freed.builds, 2);
        assert!(names(&c.builds_dir()).is_empty());
        assert!(tmp.path().join(MARKER).is_file(), "the marker stays");
    }

    #[test]
    fn a_link_is_removed_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let precious = tmp.path().join("precious");
        fs::create_dir(&precious).unwrap();
        fs::write(precious.join("model.onnx"), "keep me").unwrap();
        fs::write(precious.join("thesis.tex"), "keep me").unwrap();
        let c = Cache::open(Some(&tmp.path().join("cache"))).unwrap();
        std::os::unix::fs::symlink(&precious, c.builds_dir().join("linked")).unwrap();
        assert_eq!(c.clean_all().unwrap().bytes, 0);
        c.delete_build("linked").unwrap();
        assert_eq!(names(&precious), vec!["model.onnx", "thesis.tex"]);
        assert!(fs::symlink_metadata(c.builds_dir().join("linked")).is_err());
    }

    #[test]
    fn summaries_status_and_unreadable_records() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        build(&c, "a_1", Status::Successful);
        build(&c, "b_2", Status::Crashed);
        let bad = build(&c, "c_3", Status::Successful);
        fs::write(bad.join(RECORD_FILE), "{\"schema_version\": 1,").unwrap();
        let s = c.build_summaries().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].status, Some(Status::Successful));
        assert_eq!((s[0].rows_ok, s[0].rows), (1, 1));
        assert_eq!(s[1].status, Some(Status::Crashed));
        assert_eq!(s[2].status, None);
        assert!(s[2].problem.as_ref().unwrap().contains("record.json"));
        let text = list_text(&c, &s);
        assert!(text.lines().next().unwrap().starts_with("build"));
        assert!(text.contains("unreadable") && text.contains("warning: c_3"));
        assert!(text.contains("3 build(s)"));
    }

    #[test]
    fn stats_reads_like_a_record() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        build(&c, "a_1", Status::Successful);
        let text = stats_text(&c, "a_1").unwrap();
        assert!(text.starts_with("build       a_1\n"), "{text}");
        assert!(text.contains("ort/cpu successful"), "{text}");
        assert!(text.contains("median 1.000 ms"), "{text}");
        assert!(text.contains("model.onnx   1.0 kB"), "{text}");
        assert!(stats_text(&c, "zzz").is_err());
    }

    #[test]
    fn overall_status_prefers_failures() {
        let mut r = Record::new("b");
        assert_eq!(overall_status(&r), Status::NotStarted);
        r.finish_stage("discover", Status::Successful, None);
        assert_eq!(overall_status(&r), Status::Successful);
        r.row_mut("ort", "cpu").status = Status::NotStarted;
        assert_eq!(overall_status(&r), Status::NotStarted);
        r.row_mut("tract", "cpu").status = Status::Mismatch;
        assert_eq!(overall_status(&r), Status::Mismatch);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(2_000_000_000), "2.0 GB");
    }
}
