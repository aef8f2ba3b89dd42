//! Slurm job states: parsing `squeue` output, and what a state means for
//! the progress display and for the records of a job that ended badly.

use crate::cache::Status;

/// The `squeue -O` fields turnkey reads, in order, each ending in `|`.
pub const SQUEUE_FORMAT: &str = "JobID:|,State:|,Reason:|,exit_code:|,NodeList:|";

/// What `squeue` says about one job.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct JobInfo {
    pub id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `TIMEOUT`, ...
    pub state: String,
    /// Slurm's reason (`Priority`, `NonZeroExitCode`, `None`, ...).
    pub reason: String,
    /// Exit of the batch script.
    pub exit: Exit,
    /// Where it ran or runs (empty while pending).
    pub nodes: String,
}

/// The batch script's exit, as Slurm reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Exit {
    #[default]
    Unknown,
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// From squeue's `exit_code` (a raw wait status: 768 = code 3, 11 = SIGSEGV)
    /// or scontrol's `ExitCode=3:0` (code:signal).
    pub fn parse(text: &str) -> Exit {
        let t = text.trim();
        if let Some((code, sig)) = t.split_once(':') {
            return match (code.parse::<i32>(), sig.parse::<i32>()) {
                (_, Ok(s)) if s != 0 => Exit::Signal(s),
                (Ok(c), _) => Exit::Code(c),
                _ => Exit::Unknown,
            };
        }
        match t.parse::<i32>() {
            Ok(raw) if raw & 0x7f != 0 => Exit::Signal(raw & 0x7f),
            Ok(raw) => Exit::Code((raw >> 8) & 0xff),
            Err(_) => Exit::Unknown,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Unknown => f.write_str("exit status unknown"),
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// Parses `squeue -h -O` output in [`SQUEUE_FORMAT`]; lines that do not fit
/// (a warning Slurm printed) are skipped.
pub fn parse_squeue(text: &str) -> Vec<JobInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('|').map(str::trim).collect();
            if f.len() < 5 || f[0].is_empty() || f[1].is_empty() {
                return None;
            }
            Some(JobInfo {
                id: f[0].to_string(),
                state: base_state(f[1]).to_string(),
                reason: f[2].to_string(),
                exit: Exit::parse(f[3]),
                nodes: f[4].to_string(),
            })
        })
        .collect()
}

/// `CANCELLED by 0` → `CANCELLED`; `COMPLETING+` → `COMPLETING`.
fn base_state(s: &str) -> &str {
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_end_matches(['+', '*'])
}

/// Where a job is, for the progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Not yet submitted (queue cap), or waiting in the queue.
    Pending,
    Running,
    /// Ended with exit code 0: every build of the input succeeded.
    Done,
    /// Ended any other way.
    Failed,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// The phase of a Slurm state. Unknown states count as running: a job is
/// only final once Slurm says how it ended.
pub fn phase(state: &str) -> Phase {
    match base_state(state) {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD"
        | "RESV_DEL_HOLD" => Phase::Pending,
        "COMPLETED" => Phase::Done,
        "CANCELLED" | "FAILED" | "TIMEOUT" | "NODE_FAIL" | "PREEMPTED" | "BOOT_FAIL"
        | "DEADLINE" | "OUT_OF_MEMORY" | "REVOKED" | "SPECIAL_EXIT" => Phase::Failed,
        _ => Phase::Running,
    }
}

/// Context for the reason text of a failed job.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    /// `--slurm-time` as given, or the default, for a timeout's reason.
    pub time: String,
    /// `--slurm-mem`, for an out-of-memory reason.
    pub mem: Option<String>,
}

/// For a job that ended badly: the status its unfinished stages and rows
/// (and a failure record, if it wrote none) get, and why. `None` for a job
/// that ended normally (COMPLETED, or FAILED only because turnkey exited
/// non-zero after recording its failures: those records already say it all).
pub fn outcome(info: &JobInfo, limits: &Limits) -> Option<(Status, String)> {
    let id = &info.id;
    let on = if info.nodes.is_empty() || info.nodes == "(null)" {
        String::new()
    } else {
        format!(" on {}", info.nodes)
    };
    let (status, why) = match info.state.as_str() {
        "COMPLETED" => return None,
        "TIMEOUT" => (
            Status::Timeout,
            format!(
                "Slurm job {id}{on} reached its time limit ({}) and was stopped: give more with --slurm-time",
                limits.time
            ),
        ),
        "DEADLINE" => (
            Status::Timeout,
            format!("Slurm job {id}{on} reached its deadline and was stopped"),
        ),
        "CANCELLED" => (Status::Killed, format!("Slurm job {id}{on} was cancelled")),
        "PREEMPTED" => (
            Status::Killed,
            format!("Slurm job {id}{on} was preempted by a higher-priority job"),
        ),
        "REVOKED" => (Status::Killed, format!("Slurm job {id} was revoked")),
        "OUT_OF_MEMORY" => (
            Status::Crashed,
            format!(
                "Slurm job {id}{on} ran out of memory{}",
                match &limits.mem {
                    Some(m) => format!(" (--slurm-mem {m}): give more with --slurm-mem"),
                    None => ": ask for more with --slurm-mem".into(),
                }
            ),
        ),
        "NODE_FAIL" => (
            Status::Crashed,
            format!("Slurm job {id}: its node{on} failed"),
        ),
        "BOOT_FAIL" => (
            Status::Crashed,
            format!("Slurm job {id}: its node{on} failed to boot"),
        ),
        // FAILED, SPECIAL_EXIT: the batch script ended non-zero or could not start.
        _ => (
            Status::Crashed,
            format!(
                "Slurm job {id}{on} failed ({}, {})",
                info.state.to_lowercase(),
                if info.reason.is_empty() || info.reason == "None" {
                    info.exit.to_string()
                } else {
                    format!("{}, {}", info.reason, info.exit)
                }
            ),
        ),
    };
    Some((status, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str, exit: Exit) -> JobInfo {
        JobInfo {
            id: "42".into(),
            state: state.into(),
            reason: "None".into(),
            exit,
            nodes: "n1".into(),
        }
    }

    #[test]
    fn parses_squeue_lines_with_padding_and_noise() {
        let text = "5|CANCELLED|Priority|0|(null)|\n\
                    3|FAILED|NonZeroExitCode|768|vm|            \n\
                    4|FAILED|JobLaunchFailure|11|vm|\n\
                    squeue: warning: something\n\
                    7|COMPLETING+|None|0|vm|\n";
        let jobs = parse_squeue(text);
        assert_eq!(jobs.len(), 4);
        assert_eq!(jobs[0].state, "CANCELLED");
        assert_eq!(jobs[1].exit, Exit::Code(3));
        assert_eq!(jobs[1].nodes, "vm");
        assert_eq!(jobs[2].exit, Exit::Signal(11));
        assert_eq!(jobs[3].state, "COMPLETING");
        assert_eq!(phase(&jobs[3].state), Phase::Running);
    }

    #[test]
    fn exit_forms() {
        assert_eq!(Exit::parse("0"), Exit::Code(0));
        assert_eq!(Exit::parse("256"), Exit::Code(1));
        assert_eq!(Exit::parse("9"), Exit::Signal(9));
        assert_eq!(Exit::parse("3:0"), Exit::Code(3));
        assert_eq!(Exit::parse("0:15"), Exit::Signal(15));
        assert_eq!(Exit::parse("n/a"), Exit::Unknown);
    }

    #[test]
    fn phases() {
        assert_eq!(phase("PENDING"), Phase::Pending);
        assert_eq!(phase("RUNNING"), Phase::Running);
        assert_eq!(phase("COMPLETED"), Phase::Done);
        assert_eq!(phase("CANCELLED by 0"), Phase::Failed);
        for s in [
            "TIMEOUT",
            "FAILED",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
            "PREEMPTED",
        ] {
            assert_eq!(phase(s), Phase::Failed, "{s}");
        }
        assert_eq!(phase("SOMETHING_NEW"), Phase::Running);
    }

    #[test]
    fn outcomes_map_onto_record_statuses() {
        let lim = Limits {
            time: "00:01:00".into(),
            mem: Some("1G".into()),
        };
        assert_eq!(outcome(&info("COMPLETED", Exit::Code(0)), &lim), None);
        let (s, why) = outcome(&info("TIMEOUT", Exit::Code(0)), &lim).unwrap();
        assert_eq!(s, Status::Timeout);
        assert!(
            why.contains("time limit (00:01:00)") && why.contains("job 42 on n1"),
            "{why}"
        );
        assert_eq!(
            outcome(&info("CANCELLED", Exit::Signal(15)), &lim)
                .unwrap()
                .0,
            Status::Killed
        );
        assert_eq!(
            outcome(&info("PREEMPTED", Exit::Unknown), &lim).unwrap().0,
            Status::Killed
        );
        let (s, why) = outcome(&info("OUT_OF_MEMORY", Exit::Signal(9)), &lim).unwrap();
        assert_eq!(s, Status::Crashed);
        assert!(why.contains("out of memory (--slurm-mem 1G)"), "{why}");
        let (s, why) = outcome(&info("NODE_FAIL", Exit::Unknown), &lim).unwrap();
        assert_eq!(s, Status::Crashed);
        assert!(why.contains("node on n1 failed"), "{why}");
        let mut f = info("FAILED", Exit::Signal(11));
        f.reason = "JobLaunchFailure".into();
        let (s, why) = outcome(&f, &lim).unwrap();
        assert_eq!(s, Status::Crashed);
        assert!(
            why.contains("JobLaunchFailure, killed by signal 11"),
            "{why}"
        );
    }
}
