//! The cache side of a Slurm run: which records a job wrote, what its
//! unfinished entries become when Slurm stopped it, the failure record of a
//! job that wrote none, and the job ledger that lets a re-submission skip
//! work already done or watch a job already queued.
//!
//! ```text
//! <cache>/slurm/jobs/<key>.json    one ledger entry per input × flags
//! <cache>/slurm/logs/<stem>-<key8>-<jobid>.{out,err}
//! ```

use crate::cache::record::seconds_between;
use crate::cache::{Cache, CacheError, RECORD_FILE, Record, Status};
use crate::script::ScriptArgs;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How far back (seconds) from a job's submission its records may be
/// stamped: node clocks are not exactly the submitter's.
pub const CLOCK_SLACK_S: i64 = 60;

/// What the ledger remembers of one input's latest job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The input as given on the command line.
    pub input: String,
    /// The job's turnkey flags (without -d and the input).
    pub args: Vec<String>,
    pub job_id: String,
    pub submitted: DateTime<Utc>,
    /// The final Slurm state; `None` while the job was last seen queued or running.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub ended: Option<DateTime<Utc>>,
    /// The builds whose records the job wrote.
    #[serde(default)]
    pub builds: Vec<String>,
}

/// The ledger key of an input and the flags that decide its results.
pub fn job_key(input: &Path, flags: &[OsString]) -> String {
    let mut h = Sha256::new();
    h.update(input.as_os_str().as_encoded_bytes());
    for f in flags {
        h.update([0u8]);
        h.update(f.as_encoded_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

pub fn slurm_dir(cache: &Cache) -> PathBuf {
    cache.location().join("slurm")
}

pub fn ledger_path(cache: &Cache, key: &str) -> PathBuf {
    slurm_dir(cache).join("jobs").join(format!("{key}.json"))
}

/// The ledger entry for `key`; `None` when absent or unreadable (a broken
/// entry only costs a re-submission).
pub fn read_ledger(cache: &Cache, key: &str) -> Option<LedgerEntry> {
    let bytes = std::fs::read(ledger_path(cache, key)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the ledger entry atomically.
pub fn write_ledger(cache: &Cache, key: &str, entry: &LedgerEntry) -> std::io::Result<()> {
    let path = ledger_path(cache, key);
    let dir = path.parent().expect("ledger folder");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ledger-")
        .tempfile_in(dir)?;
    let json = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
    tmp.write_all(&json)?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// True when the build got through every stage and every row it has.
pub fn all_successful(r: &Record) -> bool {
    r.stages.values().all(|s| s.status == Status::Successful)
        && r.runtimes
            .iter()
            .all(|row| row.status == Status::Successful)
}

/// The records written or touched since `since` (by file time, then by the
/// record's own `updated`), for matching finished jobs with their builds.
pub fn scan_recent(cache: &Cache, since: DateTime<Utc>) -> Vec<Record> {
    let Ok(names) = cache.list_builds() else {
        return Vec::new();
    };
    let since_sys: std::time::SystemTime = since.into();
    names
        .iter()
        .filter(|n| {
            let p = cache.builds_dir().join(n).join(RECORD_FILE);
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since_sys)
        })
        .filter_map(|n| cache.load_record(n).ok().flatten())
        .filter(|r| r.updated >= since)
        .collect()
}

/// The job one input ran as, for [`settle`].
pub struct JobRef<'a> {
    /// The input as given (matches `identity.script` of its records).
    pub input: &'a str,
    /// `--script-args`, for the name of a failure record.
    pub script_args: &'a str,
    /// Submission time minus [`CLOCK_SLACK_S`]: entries started before it
    /// belong to an earlier run.
    pub since: DateTime<Utc>,
}

/// What [`settle`] found and did.
#[derive(Debug, Default, PartialEq)]
pub struct Settled {
    /// The builds of the job (a failure record's name when it wrote none).
    pub builds: Vec<String>,
    /// Stages and rows turned from running/killed into the job's outcome.
    pub fixed: usize,
    /// The failure record written for a job that wrote no record.
    pub failure_record: Option<String>,
    /// Every build of the job succeeded in every stage and row.
    pub all_successful: bool,
}

/// After a job ended: finds its records among `recent`, and when Slurm
/// stopped it (`outcome`), gives its unfinished stages and rows that status
/// and reason, or writes a failure record (named as the pipeline names one
/// for a script that failed before any build) when it wrote nothing.
pub fn settle(
    cache: &Cache,
    job: &JobRef<'_>,
    outcome: Option<&(Status, String)>,
    recent: &[Record],
) -> Result<Settled, CacheError> {
    let mut out = Settled {
        builds: recent
            .iter()
            .filter(|r| r.identity.script == job.input && r.updated >= job.since)
            .map(|r| r.identity.name.clone())
            .collect(),
        ..Default::default()
    };
    out.builds.sort();
    out.builds.dedup();
    if let Some((status, why)) = outcome {
        if out.builds.is_empty() {
            let name = crate::pipeline::script_failure_name(
                Path::new(job.input),
                &ScriptArgs {
                    values: Default::default(),
                    text: job.script_args.to_string(),
                },
            );
            cache.update_record(&name, |r| {
                r.identity.name = name.clone();
                r.identity.script = job.input.to_string();
                r.identity.script_args = job.script_args.to_string();
                r.finish_stage("discover", *status, Some(why.clone()));
                if let Some(s) = r.stages.get_mut("discover") {
                    s.pid = None;
                    s.host = None;
                }
            })?;
            out.builds.push(name.clone());
            out.failure_record = Some(name);
        } else {
            for b in &out.builds {
                let mut n = 0;
                cache.update_record(b, |r| n = stop_unfinished(r, job.since, *status, why))?;
                out.fixed += n;
            }
        }
    }
    out.all_successful = !out.builds.is_empty()
        && out.builds.iter().all(|b| {
            cache
                .load_record(b)
                .ok()
                .flatten()
                .is_some_and(|r| all_successful(&r))
        });
    Ok(out)
}

/// Gives stages and rows left running (or read back as killed: their
/// process is gone) since `since` the job's status; returns how many.
fn stop_unfinished(r: &mut Record, since: DateTime<Utc>, status: Status, why: &str) -> usize {
    let now = Utc::now();
    let unfinished = |s: Status| matches!(s, Status::Running | Status::Killed);
    let mut n = 0;
    for stage in r.stages.values_mut() {
        if unfinished(stage.status) && stage.started >= since {
            stage.status = status;
            stage.error = Some(why.to_string());
            stage.finished = Some(now);
            stage.duration_s = Some(seconds_between(stage.started, now));
            n += 1;
        }
    }
    for row in &mut r.runtimes {
        if unfinished(row.status) && row.timestamp >= since {
            row.status = status;
            row.error = Some(why.to_string());
            row.duration_s = Some(seconds_between(row.timestamp, now));
            n += 1;
        }
    }
    n
}

/// The last non-empty line of a job's stderr file, for a crash's reason.
pub fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    // Only the tail matters; a huge log is not read into lines whole.
    let tail = &text[text.len().saturating_sub(8192)..];
    String::from_utf8_lossy(tail)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::RuntimeRow;
    use chrono::Duration;

    fn cache() -> (tempfile::TempDir, Cache) {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(t.path())).unwrap();
        (t, c)
    }

    /// A build of `script` as a job leaves it when stopped mid-benchmark:
    /// discover and export done, ort done, tract running in a dead process.
    fn half_done(c: &Cache, name: &str, script: &str) {
        c.update_record(name, |r| {
            r.identity.name = name.into();
            r.identity.script = script.into();
            r.finish_stage("discover", Status::Successful, None);
            r.finish_stage("export", Status::Successful, None);
            let mut ok = RuntimeRow::new("ort", "cpu");
            ok.status = Status::Successful;
            r.set_row(ok);
            r.row_mut("tract", "cpu").start(4_000_000);
        })
        .unwrap();
    }

    #[test]
    fn timeout_turns_unfinished_rows_into_timeout_and_keeps_the_rest() {
        let (_t, c) = cache();
        let since = Utc::now() - Duration::seconds(5);
        half_done(&c, "a_1", "models/a.rhai");
        half_done(&c, "b_1", "models/b.rhai");
        let recent = scan_recent(&c, since);
        assert_eq!(recent.len(), 2);
        let job = JobRef {
            input: "models/a.rhai",
            script_args: "",
            since,
        };
        let why = "Slurm job 7 reached its time limit".to_string();
        let s = settle(&c, &job, Some(&(Status::Timeout, why.clone())), &recent).unwrap();
        assert_eq!(s.builds, ["a_1"]);
        assert_eq!(s.fixed, 1);
        assert!(!s.all_successful);
        let r = c.load_record("a_1").unwrap().unwrap();
        assert_eq!(r.row("ort", "cpu").unwrap().status, Status::Successful);
        let t = r.row("tract", "cpu").unwrap();
        assert_eq!(t.status, Status::Timeout);
        assert_eq!(t.error.as_deref(), Some(why.as_str()));
        // The other input's build is not touched.
        let b = c.load_record("b_1").unwrap().unwrap();
        assert_eq!(b.row("tract", "cpu").unwrap().status, Status::Killed);
    }

    #[test]
    fn entries_from_before_the_job_are_left_alone() {
        let (_t, c) = cache();
        half_done(&c, "a_1", "a.rhai");
        let since = Utc::now() + Duration::seconds(1);
        // Touch the record after `since` without restarting anything.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        c.update_record("a_1", |_| {}).unwrap();
        let recent = scan_recent(&c, since);
        let job = JobRef {
            input: "a.rhai",
            script_args: "",
            since,
        };
        let s = settle(&c, &job, Some(&(Status::Killed, "x".into())), &recent).unwrap();
        assert_eq!(s.builds, ["a_1"]);
        assert_eq!(s.fixed, 0);
        let r = c.load_record("a_1").unwrap().unwrap();
        assert_ne!(r.row("tract", "cpu").unwrap().error.as_deref(), Some("x"));
    }

    #[test]
    fn a_job_that_wrote_nothing_gets_the_pipelines_failure_record() {
        let (_t, c) = cache();
        let since = Utc::now() - Duration::seconds(5);
        let job = JobRef {
            input: "models/x.rhai",
            script_args: "--batch_size 8",
            since,
        };
        let why = "Slurm job 9 was cancelled".to_string();
        let s = settle(&c, &job, Some(&(Status::Killed, why.clone())), &[]).unwrap();
        let name = crate::pipeline::script_failure_name(
            Path::new("models/x.rhai"),
            &ScriptArgs {
                values: Default::default(),
                text: "--batch_size 8".into(),
            },
        );
        assert!(name.starts_with("x_script_"), "{name}");
        assert_eq!(s.failure_record.as_deref(), Some(name.as_str()));
        let r = c.load_record(&name).unwrap().unwrap();
        assert_eq!(r.identity.script, "models/x.rhai");
        assert_eq!(r.identity.script_args, "--batch_size 8");
        let st = r.stage("discover").unwrap();
        assert_eq!(st.status, Status::Killed);
        assert_eq!(st.error.as_deref(), Some(why.as_str()));
    }

    #[test]
    fn completed_job_is_only_matched() {
        let (_t, c) = cache();
        let since = Utc::now() - Duration::seconds(5);
        c.update_record("ok_1", |r| {
            r.identity.script = "ok.rhai".into();
            r.finish_stage("discover", Status::Successful, None);
            r.row_mut("ort", "cpu").status = Status::Successful;
        })
        .unwrap();
        let job = JobRef {
            input: "ok.rhai",
            script_args: "",
            since,
        };
        let s = settle(&c, &job, None, &scan_recent(&c, since)).unwrap();
        assert_eq!(s.builds, ["ok_1"]);
        assert!(s.all_successful);
        assert_eq!(s.fixed, 0);
        assert_eq!(s.failure_record, None);
    }

    #[test]
    fn ledger_round_trip_and_keys() {
        let (_t, c) = cache();
        let k = job_key(Path::new("a.rhai"), &["--runtime".into(), "ort".into()]);
        assert_eq!(k.len(), 16);
        assert_ne!(
            k,
            job_key(Path::new("a.rhai"), &["--runtime".into(), "tract".into()])
        );
        assert_ne!(k, job_key(Path::new("a.rhai"), &["--runtime ort".into()]));
        assert!(read_ledger(&c, &k).is_none());
        let e = LedgerEntry {
            input: "a.rhai".into(),
            args: vec!["--runtime".into(), "ort".into()],
            job_id: "12".into(),
            submitted: Utc::now(),
            state: Some("COMPLETED".into()),
            ended: Some(Utc::now()),
            builds: vec!["a_1".into()],
        };
        write_ledger(&c, &k, &e).unwrap();
        assert_eq!(read_ledger(&c, &k), Some(e));
        std::fs::write(ledger_path(&c, &k), "{broken").unwrap();
        assert!(read_ledger(&c, &k).is_none());
    }

    #[test]
    fn last_line_of_a_log() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.err");
        std::fs::write(&p, "first\nerror: the real reason\n\n  \n").unwrap();
        assert_eq!(last_line(&p).as_deref(), Some("error: the real reason"));
        assert_eq!(last_line(&t.path().join("none")), None);
    }
}
