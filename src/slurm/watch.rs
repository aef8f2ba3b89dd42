//! Submit, watch, gather: keeps at most `--slurm-max-jobs` jobs in the
//! queue, polls their states with backoff, and settles each job's records
//! as it ends. Slurm does the scheduling; this only keeps count.

use super::SlurmError;
use super::client::Scheduler;
use super::job::{self, JobInfo, Limits, Phase};
use super::records::{self, CLOCK_SLACK_S, JobRef, LedgerEntry};
use crate::cache::{Cache, Status};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One input's job, ready to submit.
#[derive(Clone, Debug)]
pub struct JobPlan {
    /// The input as given.
    pub input: PathBuf,
    /// Ledger key (input × result-deciding flags).
    pub key: String,
    /// The job's turnkey flags (for the ledger).
    pub flags: Vec<OsString>,
    /// The whole sbatch argument list (with `--parsable` and `--wrap`).
    pub sbatch: Vec<OsString>,
    /// Log files are `<log_base>-<jobid>.out` / `.err`.
    pub log_base: PathBuf,
}

impl JobPlan {
    pub fn err_log(&self, id: &str) -> PathBuf {
        let mut p = self.log_base.clone().into_os_string();
        p.push(format!("-{id}.err"));
        PathBuf::from(p)
    }

    fn input_str(&self) -> String {
        self.input.display().to_string()
    }

    /// The ledger's entry for job `id`, submitted at `submitted`, not ended.
    fn ledger_entry(&self, id: &str, submitted: DateTime<Utc>) -> LedgerEntry {
        LedgerEntry {
            input: self.input_str(),
            args: self
                .flags
                .iter()
                .map(|f| f.to_string_lossy().into_owned())
                .collect(),
            job_id: id.to_string(),
            submitted,
            state: None,
            ended: None,
            builds: Vec::new(),
        }
    }
}

pub struct WatchOptions {
    /// Most jobs of this run in the queue at once.
    pub max_jobs: usize,
    pub poll_min: Duration,
    pub poll_max: Duration,
    pub cancel_on_exit: bool,
    /// `--rebuild`: submit everything, skip nothing.
    pub rebuild: bool,
    pub limits: Limits,
    /// `--script-args`, for failure record names.
    pub script_args: String,
    /// Give up after the scheduler has failed to answer this long.
    pub query_patience: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            max_jobs: usize::MAX,
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            cancel_on_exit: false,
            rebuild: false,
            limits: Limits::default(),
            script_args: String::new(),
            query_patience: Duration::from_secs(600),
        }
    }
}

/// What happened, for the terminal.
pub enum Event<'a> {
    Skipped {
        input: &'a str,
        builds: usize,
    },
    Submitted {
        input: &'a str,
        id: &'a str,
    },
    Adopted {
        input: &'a str,
        id: &'a str,
    },
    SubmitFailed {
        input: &'a str,
        error: &'a str,
    },
    Started {
        input: &'a str,
        id: &'a str,
        nodes: &'a str,
    },
    Ended {
        input: &'a str,
        id: &'a str,
        phase: Phase,
        state: &'a str,
        detail: &'a str,
    },
    Counts {
        pending: usize,
        running: usize,
        done: usize,
        failed: usize,
        total: usize,
    },
    Warning(&'a str),
    /// Ctrl-C: `left` are still in Slurm; `cancelled` were scancel'ed.
    Interrupted {
        left: &'a [String],
        cancelled: &'a [String],
        unsubmitted: &'a [String],
    },
}

pub trait Observer {
    fn on(&self, event: Event<'_>);
}

/// An observer that shows nothing (tests, measurements).
pub struct Silent;
impl Observer for Silent {
    fn on(&self, _: Event<'_>) {}
}

#[derive(Debug, Default)]
pub struct Summary {
    /// Builds the jobs wrote (and those of skipped inputs), for the table.
    pub builds: Vec<String>,
    /// One line per failed input.
    pub failures: Vec<String>,
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Jobs submitted (not adopted) by this run.
    pub submitted: usize,
    pub interrupted: bool,
    /// Jobs left in Slurm after Ctrl-C.
    pub left_running: Vec<String>,
}

/// What to do with an input before anything is submitted.
#[derive(Debug, PartialEq)]
pub enum Start {
    /// Its last job completed and all its builds are still successful.
    Skip(Vec<String>),
    /// Its last job may still be queued: watch that one if Slurm knows it.
    Adopt(LedgerEntry),
    Submit,
}

/// Decides from the ledger; no scheduler call.
pub fn decide(cache: &Cache, plan: &JobPlan, rebuild: bool) -> Start {
    if rebuild {
        return Start::Submit;
    }
    match records::read_ledger(cache, &plan.key) {
        Some(e) if e.state.as_deref() == Some("COMPLETED") && !e.builds.is_empty() => {
            let ok = e.builds.iter().all(|b| {
                cache
                    .load_record(b)
                    .ok()
                    .flatten()
                    .is_some_and(|r| records::all_successful(&r))
            });
            if ok {
                Start::Skip(e.builds)
            } else {
                Start::Submit
            }
        }
        Some(e) if e.state.is_none() => Start::Adopt(e),
        _ => Start::Submit,
    }
}

struct Tracked {
    plan: usize,
    id: Option<String>,
    phase: Phase,
    submitted: DateTime<Utc>,
    info: Option<JobInfo>,
    /// Polls in a row that did not list the job.
    missing: u32,
}

impl Tracked {
    fn active(&self) -> bool {
        self.id.is_some() && !self.phase.is_final()
    }
}

/// Polls in a row a job may be missing from squeue before it counts as gone.
const MISSING_POLLS: u32 = 3;

struct Run<'a> {
    sched: &'a dyn Scheduler,
    cache: &'a Cache,
    plans: &'a [JobPlan],
    opts: &'a WatchOptions,
    obs: &'a dyn Observer,
    jobs: Vec<Tracked>,
    summary: Summary,
}

/// Submits the plans, watches the jobs to their end (or Ctrl-C via `stop`),
/// and settles their records.
pub fn watch(
    sched: &dyn Scheduler,
    cache: &Cache,
    plans: &[JobPlan],
    opts: &WatchOptions,
    obs: &dyn Observer,
    stop: &AtomicBool,
) -> Result<Summary, SlurmError> {
    let mut run = Run {
        sched,
        cache,
        plans,
        opts,
        obs,
        jobs: Vec::new(),
        summary: Summary::default(),
    };
    let mut queue = run.start()?;
    let mut interval = opts.poll_min;
    let mut failing_since: Option<Instant> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            run.interrupt(&queue);
            break;
        }
        run.submit_some(&mut queue)?;
        let changed = match run.poll() {
            Ok(c) => {
                failing_since = None;
                c
            }
            Err(e) => {
                // Warn once per streak of failures; give up after a long one.
                match failing_since {
                    None => {
                        failing_since = Some(Instant::now());
                        run.obs.on(Event::Warning(&format!(
                            "{e} (retrying; the jobs are unaffected)"
                        )));
                    }
                    Some(t) if t.elapsed() > opts.query_patience => return Err(e),
                    Some(_) => {}
                }
                false
            }
        };
        run.counts(queue.len());
        if queue.is_empty() && run.jobs.iter().all(|t| t.phase.is_final()) {
            break;
        }
        interval = if changed {
            opts.poll_min
        } else {
            interval.mul_f64(1.5).min(opts.poll_max)
        };
        sleep_unless(stop, interval);
    }
    Ok(run.summary)
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

impl Run<'_> {
    /// Skips, adopts, and queues the rest for submission.
    fn start(&mut self) -> Result<VecDeque<usize>, SlurmError> {
        let mut queue = VecDeque::new();
        let mut adopt: Vec<(usize, LedgerEntry)> = Vec::new();
        for (i, plan) in self.plans.iter().enumerate() {
            match decide(self.cache, plan, self.opts.rebuild) {
                Start::Skip(builds) => {
                    self.obs.on(Event::Skipped {
                        input: &plan.input_str(),
                        builds: builds.len(),
                    });
                    self.summary.skipped += 1;
                    self.summary.done += 1;
                    self.summary.builds.extend(builds);
                    self.jobs.push(Tracked {
                        plan: i,
                        id: None,
                        phase: Phase::Done,
                        submitted: Utc::now(),
                        info: None,
                        missing: 0,
                    });
                }
                Start::Adopt(e) => adopt.push((i, e)),
                Start::Submit => queue.push_back(i),
            }
        }
        if !adopt.is_empty() {
            let ids: Vec<String> = adopt.iter().map(|(_, e)| e.job_id.clone()).collect();
            // Failing to ask would mean submitting a duplicate: better stop.
            let known = self.sched.query(&ids)?;
            for (i, e) in adopt {
                match known.iter().find(|j| j.id == e.job_id) {
                    Some(info) => {
                        self.obs.on(Event::Adopted {
                            input: &self.plans[i].input_str(),
                            id: &e.job_id,
                        });
                        self.jobs.push(Tracked {
                            plan: i,
                            id: Some(e.job_id.clone()),
                            phase: job::phase(&info.state).min(Phase::Running),
                            submitted: e.submitted,
                            info: None,
                            missing: 0,
                        });
                    }
                    None => queue.push_back(i),
                }
            }
            // Queue order follows the command line.
            queue.make_contiguous().sort_unstable();
        }
        Ok(queue)
    }

    fn active(&self) -> usize {
        self.jobs.iter().filter(|t| t.active()).count()
    }

    fn submit_some(&mut self, queue: &mut VecDeque<usize>) -> Result<(), SlurmError> {
        while self.active() < self.opts.max_jobs {
            let Some(i) = queue.pop_front() else {
                return Ok(());
            };
            let plan = &self.plans[i];
            let input = plan.input_str();
            let submitted = Utc::now();
            match self.sched.submit(&plan.sbatch) {
                Ok(id) => {
                    self.obs.on(Event::Submitted {
                        input: &input,
                        id: &id,
                    });
                    self.summary.submitted += 1;
                    let entry = plan.ledger_entry(&id, submitted);
                    if let Err(e) = records::write_ledger(self.cache, &plan.key, &entry) {
                        self.obs.on(Event::Warning(&format!(
                            "cannot write the job ledger {}: {e} (a re-submission will not know job {id})",
                            records::ledger_path(self.cache, &plan.key).display()
                        )));
                    }
                    self.jobs.push(Tracked {
                        plan: i,
                        id: Some(id),
                        phase: Phase::Pending,
                        submitted,
                        info: None,
                        missing: 0,
                    });
                }
                Err(e) => {
                    // The first sbatch failing means the options are wrong
                    // for this cluster: stop before anything else runs.
                    if self.summary.submitted == 0 && !self.jobs.iter().any(|t| t.id.is_some()) {
                        return Err(e);
                    }
                    let msg = e.to_string();
                    self.obs.on(Event::SubmitFailed {
                        input: &input,
                        error: &msg,
                    });
                    self.summary.failed += 1;
                    self.summary.failures.push(format!("{input}: {msg}"));
                    self.jobs.push(Tracked {
                        plan: i,
                        id: None,
                        phase: Phase::Failed,
                        submitted,
                        info: None,
                        missing: 0,
                    });
                }
            }
        }
        Ok(())
    }

    /// One squeue round: updates phases, settles jobs that ended. True when
    /// anything changed.
    fn poll(&mut self) -> Result<bool, SlurmError> {
        let ids: Vec<String> = self
            .jobs
            .iter()
            .filter(|t| t.active())
            .filter_map(|t| t.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(false);
        }
        let infos = self.sched.query(&ids)?;
        let mut changed = false;
        let mut ended: Vec<usize> = Vec::new();
        for (k, t) in self.jobs.iter_mut().enumerate() {
            if !t.active() {
                continue;
            }
            let id = t.id.as_deref().unwrap_or_default();
            match infos.iter().find(|j| j.id == id) {
                Some(info) => {
                    t.missing = 0;
                    let p = job::phase(&info.state);
                    if p != t.phase {
                        changed = true;
                        if p == Phase::Running {
                            self.obs.on(Event::Started {
                                input: &self.plans[t.plan].input_str(),
                                id,
                                nodes: &info.nodes,
                            });
                        }
                    }
                    t.info = Some(info.clone());
                    if p.is_final() {
                        ended.push(k);
                    } else {
                        t.phase = p;
                    }
                }
                None => {
                    t.missing += 1;
                    if t.missing >= MISSING_POLLS {
                        t.info = None;
                        changed = true;
                        ended.push(k);
                    }
                }
            }
        }
        self.settle(&ended);
        Ok(changed)
    }

    /// Settles the records of jobs that ended, with one scan of the cache.
    fn settle(&mut self, ended: &[usize]) {
        let Some(earliest) = ended.iter().map(|&k| self.jobs[k].submitted).min() else {
            return;
        };
        let slack = chrono::Duration::seconds(CLOCK_SLACK_S);
        let recent = records::scan_recent(self.cache, earliest - slack);
        for &k in ended {
            self.finish(k, &recent, slack);
        }
    }

    fn finish(&mut self, k: usize, recent: &[crate::cache::Record], slack: chrono::Duration) {
        let t = &self.jobs[k];
        let plan = &self.plans[t.plan];
        let input = plan.input_str();
        let id = t.id.clone().unwrap_or_default();
        let (state, mut outcome) = match &t.info {
            Some(info) => (info.state.clone(), job::outcome(info, &self.opts.limits)),
            None => (
                "UNKNOWN".to_string(),
                Some((
                    Status::Crashed,
                    format!(
                        "Slurm job {id} is no longer known to Slurm (it ended and was purged before turnkey saw how)"
                    ),
                )),
            ),
        };
        // A crash's reason ends with the job's last word on stderr.
        if let Some((Status::Crashed, why)) = &mut outcome
            && let Some(line) = records::last_line(&plan.err_log(&id))
        {
            why.push_str(": ");
            why.push_str(&line);
        }
        let job = JobRef {
            input: &input,
            script_args: &self.opts.script_args,
            since: t.submitted - slack,
        };
        let settled = match records::settle(self.cache, &job, outcome.as_ref(), recent) {
            Ok(s) => s,
            Err(e) => {
                self.obs.on(Event::Warning(&format!(
                    "cannot record the end of Slurm job {id} ({input}): {e}"
                )));
                Default::default()
            }
        };
        let phase = match t.info.as_ref() {
            Some(i) if i.state == "COMPLETED" => Phase::Done,
            None if settled.all_successful && settled.fixed == 0 => Phase::Done,
            _ => Phase::Failed,
        };
        let detail = match (&outcome, phase) {
            (_, Phase::Done) => format!("{} build(s)", settled.builds.len()),
            (Some((_, why)), _) => why.clone(),
            (None, _) => format!(
                "turnkey {}: the failures are in its builds' records",
                t.info
                    .as_ref()
                    .map(|i| i.exit.to_string())
                    .unwrap_or_default()
            ),
        };
        let entry = LedgerEntry {
            state: Some(state.clone()),
            ended: Some(Utc::now()),
            builds: settled.builds.clone(),
            ..plan.ledger_entry(&id, t.submitted)
        };
        let _ = records::write_ledger(self.cache, &plan.key, &entry);
        self.obs.on(Event::Ended {
            input: &input,
            id: &id,
            phase,
            state: &state,
            detail: &detail,
        });
        if phase == Phase::Done {
            self.summary.done += 1;
        } else {
            self.summary.failed += 1;
            self.summary
                .failures
                .push(format!("{input}: Slurm job {id} {state}: {detail}"));
        }
        self.summary.builds.extend(settled.builds);
        self.jobs[k].phase = phase;
    }

    fn counts(&self, unsubmitted: usize) {
        let n = |p: Phase| self.jobs.iter().filter(|t| t.phase == p).count();
        self.obs.on(Event::Counts {
            pending: n(Phase::Pending) + unsubmitted,
            running: n(Phase::Running),
            done: n(Phase::Done),
            failed: n(Phase::Failed),
            total: self.plans.len(),
        });
    }

    /// Ctrl-C: cancel and settle (--slurm-cancel-on-exit), or leave the jobs.
    fn interrupt(&mut self, queue: &VecDeque<usize>) {
        self.summary.interrupted = true;
        let active: Vec<String> = self
            .jobs
            .iter()
            .filter(|t| t.active())
            .filter_map(|t| t.id.clone())
            .collect();
        let unsubmitted: Vec<String> = queue.iter().map(|&i| self.plans[i].input_str()).collect();
        if !self.opts.cancel_on_exit || active.is_empty() {
            self.summary.left_running = active.clone();
            self.obs.on(Event::Interrupted {
                left: &active,
                cancelled: &[],
                unsubmitted: &unsubmitted,
            });
            return;
        }
        if let Err(e) = self.sched.cancel(&active) {
            self.obs.on(Event::Warning(&e.to_string()));
        }
        // Wait (briefly) for Slurm to end them, so their records say `killed`.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.jobs.iter().any(|t| t.active()) && Instant::now() < deadline {
            std::thread::sleep(self.opts.poll_min.min(Duration::from_secs(1)));
            let _ = self.poll();
        }
        let left: Vec<String> = self
            .jobs
            .iter()
            .filter(|t| t.active())
            .filter_map(|t| t.id.clone())
            .collect();
        self.summary.left_running = left.clone();
        self.obs.on(Event::Interrupted {
            left: &left,
            cancelled: &active,
            unsubmitted: &unsubmitted,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A scheduler whose jobs go PENDING → RUNNING → a final state chosen
    /// by the input's name, one step per query.
    #[derive(Default)]
    struct Fake {
        jobs: RefCell<Vec<(String, String, u32)>>, // id, input, queries seen
        finals: HashMap<String, &'static str>,
        cancelled: RefCell<Vec<String>>,
        max_active_seen: RefCell<usize>,
        refuse: bool,
    }

    impl Scheduler for Fake {
        fn submit(&self, args: &[OsString]) -> Result<String, SlurmError> {
            if self.refuse {
                return Err(SlurmError::Sbatch {
                    message: "invalid partition specified: nope".into(),
                });
            }
            let input = args.last().unwrap().to_string_lossy().into_owned();
            let mut jobs = self.jobs.borrow_mut();
            let id = (100 + jobs.len()).to_string();
            jobs.push((id.clone(), input, 0));
            Ok(id)
        }
        fn query(&self, ids: &[String]) -> Result<Vec<JobInfo>, SlurmError> {
            let mut out = Vec::new();
            let mut active = 0;
            for (id, input, seen) in self.jobs.borrow_mut().iter_mut() {
                if !ids.contains(id) {
                    continue;
                }
                *seen += 1;
                let state = if self.cancelled.borrow().contains(id) {
                    "CANCELLED"
                } else {
                    match *seen {
                        1 => "PENDING",
                        2 => "RUNNING",
                        _ => self
                            .finals
                            .get(input.as_str())
                            .copied()
                            .unwrap_or("COMPLETED"),
                    }
                };
                if !job::phase(state).is_final() {
                    active += 1;
                }
                out.push(JobInfo {
                    id: id.clone(),
                    state: state.into(),
                    reason: "None".into(),
                    exit: job::Exit::Code(0),
                    nodes: "n1".into(),
                });
            }
            let mut m = self.max_active_seen.borrow_mut();
            *m = (*m).max(active);
            Ok(out)
        }
        fn cancel(&self, ids: &[String]) -> Result<(), SlurmError> {
            self.cancelled.borrow_mut().extend(ids.iter().cloned());
            Ok(())
        }
        fn nodes(&self, _: Option<&str>) -> Result<Vec<String>, SlurmError> {
            Ok(vec!["n1".into()])
        }
    }

    fn plans(tmp: &std::path::Path, inputs: &[&str]) -> Vec<JobPlan> {
        inputs
            .iter()
            .map(|i| JobPlan {
                input: PathBuf::from(i),
                key: records::job_key(std::path::Path::new(i), &[]),
                flags: vec![],
                sbatch: vec![OsString::from("--parsable"), OsString::from(*i)],
                log_base: tmp.join(i),
            })
            .collect()
    }

    fn fast() -> WatchOptions {
        WatchOptions {
            poll_min: Duration::from_millis(1),
            poll_max: Duration::from_millis(2),
            ..Default::default()
        }
    }

    /// Makes the records a successful job writes.
    fn write_success(c: &Cache, input: &str) {
        let name = format!("{input}_build");
        c.update_record(&name, |r| {
            r.identity.script = input.into();
            r.finish_stage("discover", Status::Successful, None);
            r.row_mut("ort", "cpu").status = Status::Successful;
        })
        .unwrap();
    }

    #[test]
    fn runs_to_the_end_maps_failures_and_skips_on_resubmit() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        let mut fake = Fake::default();
        fake.finals.insert("slow".into(), "TIMEOUT");
        fake.finals.insert("gone".into(), "CANCELLED");
        write_success(&c, "ok");
        let p = plans(tmp.path(), &["ok", "slow", "gone"]);
        let stop = AtomicBool::new(false);
        let opts = WatchOptions {
            max_jobs: 2,
            limits: Limits {
                time: "00:01:00".into(),
                mem: None,
            },
            ..fast()
        };
        let s = watch(&fake, &c, &p, &opts, &Silent, &stop).unwrap();
        assert_eq!((s.done, s.failed, s.submitted), (1, 2, 3));
        assert!(*fake.max_active_seen.borrow() <= 2);
        assert_eq!(s.failures.len(), 2);
        assert!(s.failures[0].contains("TIMEOUT"), "{:?}", s.failures);
        // The two that wrote nothing got failure records saying why.
        let recs: Vec<_> = c
            .list_builds()
            .unwrap()
            .iter()
            .filter_map(|b| c.load_record(b).unwrap())
            .collect();
        let by = |script: &str| recs.iter().find(|r| r.identity.script == script).unwrap();
        let slow = by("slow").stage("discover").unwrap();
        assert_eq!(slow.status, Status::Timeout);
        assert!(
            slow.error
                .as_deref()
                .unwrap()
                .contains("time limit (00:01:00)")
        );
        assert_eq!(by("gone").stage("discover").unwrap().status, Status::Killed);

        // Again: the completed input is skipped, the others are submitted anew.
        let again = watch(&fake, &c, &p, &fast(), &Silent, &stop).unwrap();
        assert_eq!(again.skipped, 1);
        assert_eq!(again.submitted, 2);
        assert!(again.builds.contains(&"ok_build".to_string()));
        // --rebuild skips nothing.
        let opts = WatchOptions {
            rebuild: true,
            ..fast()
        };
        assert_eq!(
            watch(&fake, &c, &p, &opts, &Silent, &stop)
                .unwrap()
                .submitted,
            3
        );
    }

    #[test]
    fn first_sbatch_refusal_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        let fake = Fake {
            refuse: true,
            ..Default::default()
        };
        let stop = AtomicBool::new(false);
        let err = watch(
            &fake,
            &c,
            &plans(tmp.path(), &["a"]),
            &fast(),
            &Silent,
            &stop,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid partition"), "{err}");
    }

    #[test]
    fn interrupt_cancels_with_cancel_on_exit_or_leaves_jobs() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cache::open(Some(tmp.path())).unwrap();
        let fake = Fake::default();
        let stop = AtomicBool::new(true); // Ctrl-C before the first poll.
        let p = plans(tmp.path(), &["a", "b", "c"]);
        let opts = WatchOptions {
            max_jobs: 2,
            ..fast()
        };
        let s = watch(&fake, &c, &p, &opts, &Silent, &stop).unwrap();
        assert!(s.interrupted);
        assert_eq!(s.submitted, 0, "nothing submitted after Ctrl-C");

        // Interrupted once jobs are in: left running, re-attached next time.
        let stop = AtomicBool::new(false);
        struct StopAfterSubmit<'a>(&'a AtomicBool);
        impl Observer for StopAfterSubmit<'_> {
            fn on(&self, e: Event<'_>) {
                if let Event::Submitted { .. } = e {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
        }
        let s = watch(&fake, &c, &p, &opts, &StopAfterSubmit(&stop), &stop).unwrap();
        assert!(s.interrupted);
        assert_eq!(s.left_running.len(), 2);
        assert!(fake.cancelled.borrow().is_empty());
        let stop = AtomicBool::new(false);
        let again = watch(&fake, &c, &p, &opts, &Silent, &stop).unwrap();
        assert_eq!(again.submitted, 1, "two adopted, one new");
        assert_eq!(again.done, 3);

        // With --slurm-cancel-on-exit: scancel, then the records say killed.
        let opts = WatchOptions {
            cancel_on_exit: true,
            rebuild: true,
            ..fast()
        };
        let stop = AtomicBool::new(false);
        let s = watch(&fake, &c, &p, &opts, &StopAfterSubmit(&stop), &stop).unwrap();
        assert_eq!(fake.cancelled.borrow().len(), 3);
        assert!(s.left_running.is_empty());
        assert_eq!(s.failed, 3);
        assert!(
            s.failures.iter().all(|f| f.contains("CANCELLED")),
            "{:?}",
            s.failures
        );
    }
}
