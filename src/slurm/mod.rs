//! `--use-slurm`: one Slurm job per input, each running this same turnkey
//! binary on that input with the same flags against a shared cache; the
//! submitting turnkey watches them, maps how Slurm ended each one onto the
//! record statuses, and prints the summary. Slurm does the scheduling: no
//! SSH fan-out, no queue of our own beyond `--slurm-max-jobs`.
//!
//! ```text
//! argv ─► argv::split ─► per input: sbatch args (--wrap "exec turnkey FLAGS -d CACHE INPUT")
//!      ─► watch: decide (ledger: skip / re-attach / submit) ─► submit ≤ max ─► poll squeue
//!      ─► job ended: records::settle (unfinished entries → timeout/killed/crashed,
//!         failure record when the job wrote none) ─► ledger ─► summary
//! ```

pub mod args;
pub mod argv;
pub mod client;
pub mod fs;
pub mod job;
pub mod progress;
pub mod records;
pub mod watch;

pub use args::SlurmArgs;
pub use client::{Scheduler, SlurmCli};
pub use job::{JobInfo, Phase};
pub use watch::{JobPlan, Summary, WatchOptions};

use crate::cache::{Cache, CacheError};
use crate::cli::{BenchArgs, Cli};
use clap::CommandFactory;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SlurmError {
    #[error(
        "{name} is not on PATH: --use-slurm needs the Slurm client commands (sbatch, squeue, \
         scancel, sinfo) on this machine: install slurm-client or load your cluster's Slurm \
         module, or run without --use-slurm"
    )]
    NoClient { name: &'static str },

    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "sbatch refused the job: {message} (check --slurm-partition, --slurm-time, --slurm-mem, --slurm-gres and --sbatch-arg)"
    )]
    Sbatch { message: String },

    #[error("squeue/sinfo failed: {message}")]
    Query { message: String },

    #[error("scancel failed: {message}")]
    Cancel { message: String },

    #[error("{0}")]
    Args(String),

    #[error(transparent)]
    Cache(#[from] CacheError),

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Set by Ctrl-C (or SIGTERM); a second one exits at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn install_ctrlc() {
    // Only one handler per process; a second install (tests) is harmless.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// What the jobs run, derived from the submitting command line.
pub struct Prepared {
    pub cache: Cache,
    pub plans: Vec<JobPlan>,
    pub options: WatchOptions,
}

/// The sbatch options of every job (everything but the command itself).
#[derive(Clone, Debug, Default)]
pub struct SbatchOptions {
    pub partition: Option<String>,
    /// As given to `--time` (Slurm's format).
    pub time: Option<String>,
    pub cpus: Option<u32>,
    pub mem: Option<String>,
    pub gres: Option<String>,
    pub extra: Vec<String>,
}

/// The sbatch argument list of one job: its name, working folder, log
/// files, resources, and `--wrap` with `exec EXE ARGS` (shell-quoted).
pub fn sbatch_args(
    o: &SbatchOptions,
    job_name: &str,
    log_base: &Path,
    cwd: &Path,
    exe: &Path,
    job_args: &[OsString],
) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "--parsable".into(),
        format!("--job-name={job_name}").into(),
        flag_path("--chdir=", cwd),
        flag_path("--output=", &with_suffix(log_base, "-%j.out")),
        flag_path("--error=", &with_suffix(log_base, "-%j.err")),
    ];
    if let Some(p) = &o.partition {
        v.push(format!("--partition={p}").into());
    }
    if let Some(t) = &o.time {
        v.push(format!("--time={t}").into());
    }
    if let Some(n) = o.cpus {
        v.push(format!("--cpus-per-task={n}").into());
    }
    if let Some(m) = &o.mem {
        v.push(format!("--mem={m}").into());
    }
    if let Some(g) = &o.gres {
        v.push(format!("--gres={g}").into());
    }
    v.extend(o.extra.iter().map(OsString::from));
    let mut words = vec!["exec".to_string(), exe.to_string_lossy().into_owned()];
    words.extend(job_args.iter().map(|a| a.to_string_lossy().into_owned()));
    v.push(format!("--wrap={}", shell_words::join(&words)).into());
    v
}

fn flag_path(flag: &str, p: &Path) -> OsString {
    let mut s = OsString::from(flag);
    s.push(p.as_os_str());
    s
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Job names and log names: the input's stem, in characters any shell and
/// Slurm take.
fn stem(input: &Path) -> String {
    let s: String = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "input".into() } else { s }
}

/// Builds every job from the command line: the flags each job gets, the
/// cache (absolute, created if needed), the sbatch options.
pub fn prepare(bench: &BenchArgs, argv: &[OsString]) -> Result<Prepared, SlurmError> {
    let s = &bench.slurm;
    let tokens = argv::split(&Cli::command(), argv.get(1..).unwrap_or_default())
        .map_err(|e| SlurmError::Args(format!("cannot rebuild the job command line: {e}")))?;
    let mut drop = argv::ids_of::<SlurmArgs>();
    drop.push("cache_dir".into());
    let flags = argv::flags_without(&tokens, &drop);
    // Flags that change nothing in the results do not change the ledger key.
    drop.extend(["rebuild".to_string(), "quiet".to_string()]);
    let key_flags = argv::flags_without(&tokens, &drop);

    let runtimes = bench
        .runtime
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .count();
    let (time_arg, time_text) = match &s.slurm_time {
        Some(t) => {
            let secs = args::parse_time(t).map_err(SlurmError::Args)?;
            let text = secs.map(args::format_time).unwrap_or_else(|| t.clone());
            (t.clone(), text)
        }
        None => {
            let secs = args::default_time(bench.timeout, runtimes);
            ((secs / 60).to_string(), args::format_time(secs))
        }
    };
    if s.slurm_max_jobs == Some(0) {
        return Err(SlurmError::Args(
            "--slurm-max-jobs 0 would never submit anything: give at least 1".into(),
        ));
    }
    let poll_max = match s.slurm_poll {
        Some(p) if p.is_finite() && p >= 0.1 => Duration::from_secs_f64(p),
        Some(p) => {
            return Err(SlurmError::Args(format!(
                "--slurm-poll {p}: give a number of seconds of at least 0.1"
            )));
        }
        None => Duration::from_secs(10),
    };

    let opened = Cache::open(bench.cache_dir.as_deref())?;
    let abs = std::fs::canonicalize(opened.location()).map_err(|source| SlurmError::Io {
        what: format!(
            "cannot resolve the cache folder {}",
            opened.location().display()
        ),
        source,
    })?;
    let cache = Cache::open_existing(&abs)?;
    let cwd = std::env::current_dir().map_err(|source| SlurmError::Io {
        what: "cannot read the current folder".into(),
        source,
    })?;
    let exe = std::env::current_exe().map_err(|source| SlurmError::Io {
        what: "cannot find the turnkey executable".into(),
        source,
    })?;
    let logs = records::slurm_dir(&cache).join("logs");
    let sopts = SbatchOptions {
        partition: s.slurm_partition.clone(),
        time: Some(time_arg),
        cpus: s.slurm_cpus,
        mem: s.slurm_mem.clone(),
        gres: s.slurm_gres.clone(),
        extra: s.sbatch_args.clone(),
    };
    let mut seen = std::collections::HashSet::new();
    let plans = bench
        .inputs
        .iter()
        .filter(|i| seen.insert(i.as_path()))
        .map(|input| {
            let key = records::job_key(input, &key_flags);
            let st = stem(input);
            let log_base = logs.join(format!("{st}-{}", &key[..8]));
            let job_args = argv::job_args(&flags, abs.as_os_str(), input.as_os_str());
            JobPlan {
                input: input.clone(),
                key,
                flags: flags.clone(),
                sbatch: sbatch_args(
                    &sopts,
                    &format!("turnkey-{st}"),
                    &log_base,
                    &cwd,
                    &exe,
                    &job_args,
                ),
                log_base,
            }
        })
        .collect();
    let options = WatchOptions {
        max_jobs: s.slurm_max_jobs.unwrap_or(usize::MAX),
        poll_max,
        poll_min: Duration::from_secs(1).min(poll_max),
        cancel_on_exit: s.slurm_cancel_on_exit,
        rebuild: bench.rebuild,
        limits: job::Limits {
            time: time_text,
            mem: s.slurm_mem.clone(),
        },
        script_args: bench.script_args.clone(),
        ..Default::default()
    };
    Ok(Prepared {
        cache,
        plans,
        options,
    })
}

/// `turnkey --use-slurm ...`: `argv` is the whole command line (program
/// name first). Exit code 0 when every job succeeded (or was skipped), 1
/// when any failed, 130 after Ctrl-C.
pub fn main(
    bench: &BenchArgs,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<ExitCode, SlurmError> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let p = prepare(bench, &argv)?;
    if bench.slurm.dry_run {
        return dry_run(&p);
    }
    let sched = SlurmCli::from_path()?;
    let nodes = sched
        .nodes(bench.slurm.slurm_partition.as_deref())
        .unwrap_or_default();
    let exe = std::env::current_exe().unwrap_or_default();
    for (what, path) in [
        ("the cache (-d)", p.cache.location()),
        ("the turnkey binary", &exe),
    ] {
        if let Some(w) = fs::shared_warning(what, path, &nodes) {
            errln!("warning: {w}");
        }
    }
    let logs = records::slurm_dir(&p.cache).join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| SlurmError::Io {
        what: format!("cannot create the job log folder {}", logs.display()),
        source,
    })?;
    install_ctrlc();
    let term = progress::SlurmProgress::new(bench.quiet, p.plans.len());
    let result = watch::watch(&sched, &p.cache, &p.plans, &p.options, &term, &INTERRUPTED);
    term.finish();
    let summary = result?;
    print_summary(&p.cache, &summary);
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what would be submitted; submits nothing, needs no cluster.
fn dry_run(p: &Prepared) -> Result<ExitCode, SlurmError> {
    for plan in &p.plans {
        match watch::decide(&p.cache, plan, p.options.rebuild) {
            watch::Start::Skip(builds) => outln!(
                "# {}: skipped, its {} build(s) already succeeded",
                plan.input.display(),
                builds.len()
            ),
            start => {
                if let watch::Start::Adopt(e) = start {
                    outln!(
                        "# {}: job {} of an earlier submission may still be queued (a real run watches it instead)",
                        plan.input.display(),
                        e.job_id
                    );
                }
                let mut words = vec!["sbatch".to_string()];
                words.extend(plan.sbatch.iter().map(|a| a.to_string_lossy().into_owned()));
                outln!("{}", shell_words::join(&words));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(cache: &Cache, s: &Summary) {
    let rows: Vec<crate::report::ReportRow> = crate::pipeline::records(cache, &s.builds)
        .iter()
        .flat_map(|r| crate::report::rows_from_record(r, cache.location()))
        .collect();
    if !rows.is_empty() {
        outln!("{}", crate::report::summary_table(&rows));
    }
    outln!(
        "slurm: {} job(s) done, {} failed, {} skipped; cache: {}",
        s.done - s.skipped,
        s.failed,
        s.skipped,
        cache.location().display()
    );
    if !s.failures.is_empty() {
        errln!("{} failure(s):", s.failures.len());
        for f in &s.failures {
            errln!("  {f}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> (BenchArgs, Vec<OsString>) {
        let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        let cli = Cli::try_parse_from(&argv).unwrap();
        (cli.bench, argv)
    }

    #[test]
    fn jobs_run_this_binary_on_one_input_with_the_other_flags() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("c");
        let (b, argv) = parse(&[
            "turnkey",
            "--use-slurm",
            "-d",
            d.to_str().unwrap(),
            "--runtime",
            "ort,tract",
            "--slurm-time",
            "5",
            "--slurm-cpus=2",
            "--sbatch-arg=--account=ml",
            "--script-args",
            "--batch_size 8",
            "m/a b.rhai",
            "m/c.rhai",
            "m/a b.rhai",
        ]);
        let p = prepare(&b, &argv).unwrap();
        assert_eq!(p.plans.len(), 2, "duplicates are submitted once");
        let args: Vec<String> = p.plans[0]
            .sbatch
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let abs = std::fs::canonicalize(&d).unwrap();
        assert!(args.contains(&"--parsable".to_string()));
        assert!(
            args.contains(&"--job-name=turnkey-a_b".to_string()),
            "{args:?}"
        );
        assert!(args.contains(&"--time=5".to_string()));
        assert!(args.contains(&"--cpus-per-task=2".to_string()));
        assert!(args.contains(&"--account=ml".to_string()));
        let wrap = args.last().unwrap().strip_prefix("--wrap=").unwrap();
        let words = shell_words::split(wrap).unwrap();
        assert_eq!(words[0], "exec");
        assert_eq!(
            words[2..],
            [
                "--runtime",
                "ort,tract",
                "--script-args",
                "--batch_size 8",
                "-d",
                abs.to_str().unwrap(),
                "m/a b.rhai"
            ]
        );
        assert!(
            args.iter()
                .any(|a| a.starts_with("--output=") && a.ends_with("-%j.out"))
        );
        assert_eq!(p.options.limits.time, "00:05:00");
        assert_eq!(p.options.script_args, "--batch_size 8");
        assert_ne!(p.plans[0].key, p.plans[1].key);
    }

    #[test]
    fn default_time_comes_from_timeout_and_bad_values_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_str().unwrap();
        let (b, argv) = parse(&[
            "turnkey",
            "--use-slurm",
            "-d",
            d,
            "--timeout",
            "120",
            "a.rhai",
        ]);
        let p = prepare(&b, &argv).unwrap();
        assert!(p.plans[0].sbatch.iter().any(|a| a == "--time=12"));
        assert_eq!(p.options.limits.time, "00:12:00");
        let (b, argv) = parse(&[
            "turnkey",
            "--use-slurm",
            "-d",
            d,
            "--slurm-time",
            "soon",
            "a.rhai",
        ]);
        let e = prepare(&b, &argv).err().unwrap().to_string();
        assert!(e.contains("--slurm-time \"soon\""), "{e}");
        let (b, argv) = parse(&[
            "turnkey",
            "--use-slurm",
            "-d",
            d,
            "--slurm-max-jobs",
            "0",
            "a.rhai",
        ]);
        assert!(prepare(&b, &argv).is_err());
    }

    #[test]
    fn slurm_flags_need_use_slurm() {
        let e = Cli::try_parse_from(["turnkey", "--slurm-time", "5", "a.rhai"]).unwrap_err();
        assert!(e.to_string().contains("--use-slurm"), "{e}");
        let e = Cli::try_parse_from(["turnkey", "--dry-run", "a.rhai"]).unwrap_err();
        assert!(e.to_string().contains("--use-slurm"), "{e}");
    }

    #[test]
    fn stems_are_safe_names() {
        assert_eq!(stem(Path::new("models/a b$.rhai")), "a_b_");
        assert_eq!(stem(Path::new("x/resnet-50.onnx")), "resnet-50");
    }
}
