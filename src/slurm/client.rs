//! Talking to Slurm through its command-line clients (sbatch, squeue,
//! scancel, sinfo). Behind a trait so the watch loop is tested without a cluster.

use super::SlurmError;
use super::job::{JobInfo, SQUEUE_FORMAT, parse_squeue};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What turnkey asks of the scheduler.
pub trait Scheduler {
    /// Runs `sbatch ARGS` (ARGS include `--parsable`); returns the job id.
    fn submit(&self, args: &[OsString]) -> Result<String, SlurmError>;
    /// The state of these jobs; ids Slurm no longer knows are left out.
    fn query(&self, ids: &[String]) -> Result<Vec<JobInfo>, SlurmError>;
    /// Cancels these jobs.
    fn cancel(&self, ids: &[String]) -> Result<(), SlurmError>;
    /// Node names of the partition (or all), for the shared-file-system check.
    fn nodes(&self, partition: Option<&str>) -> Result<Vec<String>, SlurmError>;
}

/// The real clients, found on PATH.
pub struct SlurmCli {
    sbatch: PathBuf,
    squeue: PathBuf,
    scancel: PathBuf,
    sinfo: PathBuf,
}

/// Looks `name` up in PATH like a shell would.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl SlurmCli {
    /// Finds sbatch, squeue, scancel and sinfo; a clear error naming the
    /// first one missing.
    pub fn from_path() -> Result<SlurmCli, SlurmError> {
        let find = |name: &'static str| find_on_path(name).ok_or(SlurmError::NoClient { name });
        Ok(SlurmCli {
            sbatch: find("sbatch")?,
            squeue: find("squeue")?,
            scancel: find("scancel")?,
            sinfo: find("sinfo")?,
        })
    }
}

/// Runs a client; its stdout, or an error with its stderr.
fn output(program: &Path, args: &[OsString]) -> Result<(bool, String, String), SlurmError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| SlurmError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
}

/// squeue refuses a whole query when it knows none of the ids.
fn all_ids_unknown(stderr: &str) -> bool {
    stderr.contains("Invalid job id")
}

/// At most this many ids per squeue call (a long but safe command line).
const QUERY_CHUNK: usize = 500;

impl Scheduler for SlurmCli {
    fn submit(&self, args: &[OsString]) -> Result<String, SlurmError> {
        let (ok, stdout, stderr) = output(&self.sbatch, args)?;
        // --parsable prints `id` or `id;cluster`.
        let id = stdout.trim().split(';').next().unwrap_or("").to_string();
        if !ok || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return Err(SlurmError::Sbatch {
                message: if stderr.is_empty() {
                    format!("no job id in its output {:?}", stdout.trim())
                } else {
                    stderr
                },
            });
        }
        Ok(id)
    }

    fn query(&self, ids: &[String]) -> Result<Vec<JobInfo>, SlurmError> {
        let mut jobs = Vec::new();
        for chunk in ids.chunks(QUERY_CHUNK) {
            let args: Vec<OsString> = [
                "--noheader",
                "--states=all",
                "--jobs",
                &chunk.join(","),
                "--Format",
                SQUEUE_FORMAT,
            ]
            .iter()
            .map(OsString::from)
            .collect();
            let (ok, stdout, stderr) = output(&self.squeue, &args)?;
            if !ok && !all_ids_unknown(&stderr) {
                return Err(SlurmError::Query { message: stderr });
            }
            jobs.extend(parse_squeue(&stdout));
        }
        Ok(jobs)
    }

    fn cancel(&self, ids: &[String]) -> Result<(), SlurmError> {
        if ids.is_empty() {
            return Ok(());
        }
        let args: Vec<OsString> = ids.iter().map(OsString::from).collect();
        let (ok, _, stderr) = output(&self.scancel, &args)?;
        // scancel complains about jobs that already ended: not a failure.
        if !ok && !stderr.contains("already completed") && !all_ids_unknown(&stderr) {
            return Err(SlurmError::Cancel { message: stderr });
        }
        Ok(())
    }

    fn nodes(&self, partition: Option<&str>) -> Result<Vec<String>, SlurmError> {
        let mut args: Vec<OsString> = ["--noheader", "--Node", "--format=%N"]
            .iter()
            .map(OsString::from)
            .collect();
        if let Some(p) = partition {
            args.push(format!("--partition={p}").into());
        }
        let (ok, stdout, stderr) = output(&self.sinfo, &args)?;
        if !ok {
            return Err(SlurmError::Query { message: stderr });
        }
        let mut v: Vec<String> = stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_only() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("turnkey-no-such-program").is_none());
    }

    #[test]
    fn squeue_unknown_ids_message() {
        assert!(all_ids_unknown(
            "slurm_load_jobs error: Invalid job id specified"
        ));
        assert!(!all_ids_unknown("Socket timed out on send/recv operation"));
    }
}
