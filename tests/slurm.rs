//! `turnkey --use-slurm` against a real single-node Slurm cluster on
//! loopback, started (and stopped) by scripts/slurm/start.sh / stop.sh:
//! a two-point sweep over the selftest corpus matches a local run, a
//! re-submission skips what is done, a job past --slurm-time ends as
//! `timeout`, a cancelled one as `killed`, and Ctrl-C leaves jobs running
//! or (--slurm-cancel-on-exit) cancels them. Also the dry run and the
//! missing-sbatch error, which need no cluster.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster of one test run; stopped when dropped (also on a panic).
/// One at a time: the daemons share munged and loopback ports.
struct Cluster {
    base: tempfile::TempDir,
    conf: PathBuf,
    _one: std::sync::MutexGuard<'static, ()>,
}

/// Held while a test starts Slurm daemons.
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_cluster() -> std::sync::MutexGuard<'static, ()> {
    ONE_CLUSTER.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Starts it; `None` (with the reason printed) where it cannot run:
    /// not root, or Slurm neither installed nor installable.
    fn start(cpus: Option<usize>) -> Option<Cluster> {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: the Slurm test needs root (it starts slurmd and munged)");
            return None;
        }
        let have = |p: &str| {
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(p).exists())
        };
        if !(have("slurmctld") || have("apt-get")) {
            eprintln!("SKIPPED: Slurm is not installed and apt-get is not available");
            return None;
        }
        let one = one_cluster();
        let base = tempfile::Builder::new()
            .prefix("turnkey-slurm-")
            .tempdir()
            .unwrap();
        let mut start = Command::new("bash");
        start
            .arg(root().join("scripts/slurm/start.sh"))
            .arg(base.path())
            .stdin(Stdio::null());
        if let Some(n) = cpus {
            start.env("SLURM_CPUS", n.to_string());
        }
        let out = start.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let cluster = Cluster {
            conf: base.path().join("slurm.conf"),
            base,
            _one: one,
        };
        assert!(
            out.status.success(),
            "scripts/slurm/start.sh failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("SLURM_CONF="), "{stdout}");
        Some(cluster)
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn turnkey(&self, args: &[&str]) -> Run {
        let out = turnkey()
            .env("SLURM_CONF", &self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        r
    }

    /// `squeue` lines `id name state` of every job the cluster knows.
    fn jobs(&self) -> Vec<(String, String, String)> {
        let out = self
            .cmd("squeue")
            .args(["-h", "-t", "all", "-o", "%i %j %T"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let v: Vec<&str> = l.split_whitespace().collect();
                (v.len() == 3).then(|| (v[0].into(), v[1].into(), v[2].into()))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm/stop.sh"))
            .arg(self.base.path())
            .stdin(Stdio::null())
            .status();
        // The daemons ran as `slurm` and wrote here: make sure it can go.
        let _ = std::fs::remove_dir_all(self.base.path());
    }
}

/// The flags of every run here: both runtimes, few iterations.
const BENCH: &[&str] = &[
    "--runtime",
    "ort,tract",
    "--iterations",
    "10",
    "--warmup-iterations",
    "1",
    "--warmup-time",
    "0",
];

const POINTS: [&str; 2] = ["--batch_size 1", "--batch_size 8"];

/// Runs one sweep point over the selftest corpus, locally or through Slurm.
fn sweep_point(cluster: &Cluster, cache: &Path, point: &str, slurm: bool) -> Run {
    let scripts = selftest();
    let mut args: Vec<&str> = vec!["-d", cache.to_str().unwrap(), "--script-args", point];
    args.extend(BENCH);
    if slurm {
        args.extend(["--use-slurm", "--slurm-poll", "1"]);
    }
    args.extend(scripts.iter().map(String::as_str));
    cluster.turnkey(&args)
}

/// (build, script, runtime, device, status) of every report row.
fn report_rows(cache: &Path) -> BTreeSet<Vec<String>> {
    let out = tempfile::tempdir().unwrap();
    let r = run(&[
        "report",
        "-d",
        cache.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rd = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let cols = [
        "build",
        "script",
        "runtime",
        "device",
        "status",
        "input_shapes",
    ]
    .map(col);
    rd.records()
        .map(|rec| {
            let rec = rec.unwrap();
            cols.iter().map(|&c| rec[c].to_string()).collect()
        })
        .collect()
}

fn record_of(cache: &Path, script: &str) -> serde_json::Value {
    builds(cache)
        .iter()
        .map(|b| record(b))
        .find(|r| r["identity"]["script"] == script)
        .unwrap_or_else(|| panic!("no record for {script} in {}", cache.display()))
}

/// Starts two jobs that hang in the ort worker (--timeout is long): one
/// runs past --slurm-time 1, the other is cancelled once its row runs.
fn start_faulty_jobs(cluster: &Cluster, cache: &Path) -> std::process::Child {
    turnkey()
        .env("SLURM_CONF", &cluster.conf)
        .env("TURNKEY_FAULT_INJECT", "hang:ort")
        .args([
            "-d",
            cache.to_str().unwrap(),
            "--runtime",
            "ort",
            "--timeout",
            "600",
        ])
        .args(["--use-slurm", "--slurm-time", "1", "--slurm-poll", "1"])
        .args([
            "models/selftest/linear.rhai",
            "models/selftest/twolayer.rhai",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Cancels twolayer's job once its benchmark row is running; its id.
fn cancel_twolayer_when_running(cluster: &Cluster, cache: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        assert!(
            Instant::now() < deadline,
            "twolayer never started: {:?}",
            cluster.jobs()
        );
        let running = cluster
            .jobs()
            .into_iter()
            .find(|j| j.1 == "turnkey-twolayer" && j.2 == "RUNNING");
        let row_running = builds(cache).iter().any(|b| {
            record_if_written(b).is_some_and(|r| {
                r["identity"]["script"] == "models/selftest/twolayer.rhai"
                    && r["runtimes"][0]["status"] == "running"
            })
        });
        if let (Some(j), true) = (running, row_running) {
            let st = cluster.cmd("scancel").arg(&j.0).status().unwrap();
            assert!(st.success());
            return j.0;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn slurm_sweep_matches_local_run_and_maps_timeout_and_cancel() {
    // Six CPUs on offer: the two hanging jobs sleep while the sweep runs
    // beside them, so the test lasts about as long as the timeout case.
    let Some(cluster) = Cluster::start(Some(6)) else {
        return;
    };
    let t0 = Instant::now();
    let faults = tempfile::tempdir().unwrap();
    let faulty = start_faulty_jobs(&cluster, faults.path());
    let cancel_id = cancel_twolayer_when_running(&cluster, faults.path());

    let slurm = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let n = selftest().len();

    // The sweep, through Slurm, then locally.
    let t = Instant::now();
    for point in POINTS {
        let r = sweep_point(&cluster, slurm.path(), point, true);
        assert_eq!(r.code, 0, "{point}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains(&format!("slurm: {n} job(s) done, 0 failed")),
            "{}",
            r.stdout
        );
    }
    let slurm_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for point in POINTS {
        let r = sweep_point(&cluster, local.path(), point, false);
        assert_eq!(r.code, 0, "{point}:\n{}\n{}", r.stdout, r.stderr);
    }
    let local_s = t.elapsed().as_secs_f64();
    eprintln!(
        "selftest sweep ({} jobs, beside the hanging ones): local {local_s:.1} s, Slurm {slurm_s:.1} s",
        2 * n
    );

    // Every job ran: Slurm ended 2n jobs as COMPLETED, and the ledger agrees.
    let jobs = cluster.jobs();
    let done = jobs.iter().filter(|j| j.2 == "COMPLETED").count();
    assert_eq!(done, 2 * n, "{jobs:?}");
    let ledger: Vec<serde_json::Value> = std::fs::read_dir(slurm.path().join("slurm/jobs"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(ledger.len(), 2 * n);
    assert!(
        ledger.iter().all(|e| e["state"] == "COMPLETED"),
        "{ledger:?}"
    );

    // The shared cache has every record, and the report has the local rows.
    assert_eq!(builds(slurm.path()).len(), builds(local.path()).len());
    let (s_rows, l_rows) = (report_rows(slurm.path()), report_rows(local.path()));
    assert_eq!(s_rows, l_rows);
    assert!(s_rows.len() >= 4 * n, "{s_rows:?}");
    assert!(s_rows.iter().all(|r| r[4] == "successful"), "{s_rows:?}");

    // Re-submitting skips every input: nothing new in Slurm.
    let r = sweep_point(&cluster, slurm.path(), POINTS[0], true);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("{n} skipped")), "{}", r.stdout);
    assert_eq!(cluster.jobs().len(), jobs.len());

    // Ctrl-C leaves the job running; the same command again re-attaches,
    // and with --slurm-cancel-on-exit a Ctrl-C cancels it: `killed`.
    let ctrlc = tempfile::tempdir().unwrap();
    let interrupt = |extra: &[&str]| {
        let child = turnkey()
            .env("SLURM_CONF", &cluster.conf)
            .env("TURNKEY_FAULT_INJECT", "hang:ort")
            .args(["-d", ctrlc.path().to_str().unwrap(), "--runtime", "ort"])
            .args(["--timeout", "600", "--use-slurm", "--slurm-poll", "1"])
            .args(extra)
            .arg("models/selftest/cnn.rhai")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cluster
            .jobs()
            .iter()
            .any(|j| j.1 == "turnkey-cnn" && j.2 == "RUNNING")
        {
            assert!(Instant::now() < deadline, "{:?}", cluster.jobs());
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(1500));
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = interrupt(&[]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("left 1 Slurm job(s) running"), "{stderr}");
    let (code, stderr) = interrupt(&["--slurm-cancel-on-exit"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("still in Slurm: watching it"), "{stderr}");
    assert!(
        stderr.contains("interrupted: cancelled Slurm job(s)"),
        "{stderr}"
    );
    // Killed where it was (the ort row, unless the node was slow to get there).
    let cnn = record_of(ctrlc.path(), "models/selftest/cnn.rhai");
    let entries = cnn["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(cnn["stages"].as_object().unwrap().values());
    let killed = entries
        .filter(|e| e["status"] == "killed")
        .filter(|e| e["error"].as_str().unwrap_or("").contains("was cancelled"))
        .count();
    assert_eq!(killed, 1, "{cnn:#}");
    assert!(
        !cluster
            .jobs()
            .iter()
            .any(|j| j.1 == "turnkey-cnn" && j.2 == "RUNNING")
    );

    // The hanging jobs: one timed out, one was cancelled.
    let out = faulty.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("whole test: {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("0 job(s) done, 2 failed"),
        "{stdout}\n{stderr}"
    );
    let linear = record_of(faults.path(), "models/selftest/linear.rhai");
    let row = &linear["runtimes"][0];
    assert_eq!(row["status"], "timeout", "{linear:#}");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("time limit (00:01:00)"),
        "{linear:#}"
    );
    // Its stages finished before the hang: untouched.
    assert_eq!(linear["stages"]["export"]["status"], "successful");
    let twolayer = record_of(faults.path(), "models/selftest/twolayer.rhai");
    let row = &twolayer["runtimes"][0];
    assert_eq!(row["status"], "killed", "{twolayer:#}");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains(&format!("Slurm job {cancel_id}")),
        "{twolayer:#}"
    );
    // No worker outlived its job.
    let d = faults.path().to_str().unwrap();
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let left = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains("__worker") && l.contains(d))
        .count();
    assert_eq!(left, 0, "hung workers outlived their jobs");
}

#[test]
fn start_fails_at_once_with_the_line_of_a_daemon_that_died() {
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/sbin/slurmctld").exists() {
        eprintln!("SKIPPED: needs root and an installed Slurm (the cluster test installs it)");
        return;
    }
    let _one = one_cluster();
    // The cluster's folder inside one the slurm user cannot enter:
    // slurmctld cannot reach its state folder and stops at start.
    let outer = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let base = outer.path().join("cluster");
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(root().join("scripts/slurm/start.sh"))
        .arg(&base)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let _ = Command::new("bash")
        .arg(root().join("scripts/slurm/stop.sh"))
        .arg(&base)
        .output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {err}");
    assert!(
        err.contains("slurmctld stopped at start: slurmctld: fatal: Unable to stat state save loc")
            && err.contains("Permission denied"),
        "{err}"
    );
}

#[test]
fn dry_run_prints_the_sbatch_commands() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "--use-slurm",
        "--dry-run",
        "-d",
        d,
        "--slurm-partition",
        "gpu",
        "--slurm-gres",
        "gpu:1",
        "--runtime",
        "ort",
        "models/selftest/linear.rhai",
        "models/selftest/cnn.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    for (line, input) in lines.iter().zip(["linear", "cnn"]) {
        let words = shell_words::split(line).unwrap();
        assert_eq!(words[0..2], ["sbatch", "--parsable"]);
        assert!(words.contains(&"--partition=gpu".to_string()), "{line}");
        assert!(words.contains(&"--gres=gpu:1".to_string()), "{line}");
        let wrap = words.last().unwrap().strip_prefix("--wrap=").unwrap();
        let cmd = shell_words::split(wrap).unwrap();
        assert_eq!(cmd[0], "exec");
        assert!(cmd[1].ends_with("turnkey"), "{wrap}");
        assert_eq!(
            cmd.last().unwrap(),
            &format!("models/selftest/{input}.rhai")
        );
        assert!(
            !wrap.contains("--use-slurm") && !wrap.contains("--slurm"),
            "{wrap}"
        );
    }
    // Nothing was submitted or written but the cache itself.
    assert!(builds(cache.path()).is_empty());
}

#[test]
fn without_sbatch_on_path_it_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let out = turnkey()
        .env("PATH", "/nonexistent")
        .args(["--use-slurm", "-d", cache.path().to_str().unwrap()])
        .arg("models/selftest/linear.rhai")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sbatch is not on PATH"), "{stderr}");
    assert!(stderr.contains("install slurm-client"), "{stderr}");
}

/// Not a test: measures the poller (`cargo test --release --test slurm --
/// --ignored poller_throughput --nocapture`). One squeue round trip over N
/// queued (held) jobs, parsed; parsing alone; and settling N ended jobs'
/// records in a cache of N builds.
#[test]
#[ignore = "measurement: run by hand"]
fn poller_throughput() {
    use turnkey::slurm::Scheduler;
    use turnkey::slurm::records::{self, JobRef};
    let Some(cluster) = Cluster::start(None) else {
        return;
    };
    const N: usize = 500;
    // SAFETY: set before any thread of this test reads the environment; the
    // other tests of this binary are not run with --ignored.
    unsafe { std::env::set_var("SLURM_CONF", &cluster.conf) };
    let sched = turnkey::slurm::SlurmCli::from_path().unwrap();
    let t = Instant::now();
    let ids: Vec<String> = (0..N)
        .map(|_| {
            let args: Vec<std::ffi::OsString> =
                ["--parsable", "--hold", "--output=/dev/null", "--wrap=true"]
                    .iter()
                    .map(Into::into)
                    .collect();
            sched.submit(&args).unwrap()
        })
        .collect();
    let submit_s = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let jobs = sched.query(&ids).unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(jobs.len(), N);
        assert!(jobs.iter().all(|j| j.state == "PENDING"));
    }
    times.sort_by(f64::total_cmp);
    let q = times[2];
    sched.cancel(&ids).unwrap();

    let line = "1234567|RUNNING|None|0|node-0042|\n";
    let text = line.repeat(100_000);
    let t = Instant::now();
    let parsed = turnkey::slurm::job::parse_squeue(&text);
    let parse_s = t.elapsed().as_secs_f64();
    assert_eq!(parsed.len(), 100_000);

    let tmp = tempfile::tempdir().unwrap();
    let cache = turnkey::cache::Cache::open(Some(tmp.path())).unwrap();
    let since = chrono::Utc::now() - chrono::Duration::seconds(60);
    for i in 0..N {
        cache
            .update_record(&format!("m{i}_build"), |r| {
                r.identity.script = format!("m{i}.rhai");
                r.finish_stage("discover", turnkey::cache::Status::Successful, None);
            })
            .unwrap();
    }
    let t = Instant::now();
    let recent = records::scan_recent(&cache, since);
    for i in 0..N {
        let input = format!("m{i}.rhai");
        let job = JobRef {
            input: &input,
            script_args: "",
            since,
        };
        let s = records::settle(&cache, &job, None, &recent).unwrap();
        assert!(s.all_successful);
    }
    let settle_s = t.elapsed().as_secs_f64();
    eprintln!(
        "poller: {N} sbatch in {submit_s:.2} s ({:.0} jobs/s submitted); one squeue poll of {N} jobs: \
         {:.1} ms median of 5 ({:.0} jobs/s); parsing alone: {:.0} k lines/s; settling {N} ended \
         jobs (scan + match + check): {:.2} s ({:.0} jobs/s)",
        N as f64 / submit_s,
        q * 1e3,
        N as f64 / q,
        100.0 / parse_s,
        settle_s,
        N as f64 / settle_s
    );
}
