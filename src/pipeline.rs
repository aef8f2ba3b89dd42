//! One run over many scripts: discover → export → benchmark (worker per
//! runtime × device) → record. Every stage writes its status into the build
//! record as it goes; a failure is recorded and the run moves on.
//! Nothing here prints: the terminal listens through [`Observer`].

use crate::bench::compare::compare;
use crate::bench::timing::BenchOptions;
use crate::bench::worker::{WorkerOutcome, WorkerSpec, spawn_worker, worker_command};
use crate::cache::record::OutputDiff;
use crate::cache::{
    Cache, CheckStatus, OutputCheck, Record, RuntimeRow, Status, SystemInfo, TensorSpec,
};
use crate::graph::HostTensor;
use crate::onnx::{ExportOptions, export, read_tensor_pb, write_tensor_pb};
use crate::runtime::{Device, Precision};
use crate::script::{self, Build, DiscoverOptions, Discovery, ScriptArgs};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct RunOptions {
    pub script_args: ScriptArgs,
    pub build_only: bool,
    pub max_depth: usize,
    pub opset: i64,
    /// Resolved runtime names, the reference first.
    pub runtimes: Vec<String>,
    /// Every runtime runs on each of these; the first successful row is the reference.
    pub devices: Vec<Device>,
    pub precision: Precision,
    pub threads: usize,
    pub bench: BenchOptions,
    pub timeout: Duration,
    pub atol: f64,
    pub rtol: f64,
    pub rebuild: bool,
    /// The turnkey binary, re-executed as the worker.
    pub worker_exe: PathBuf,
}

/// What happened, for the terminal.
pub enum Event<'a> {
    ScriptStarted {
        path: &'a Path,
        index: usize,
        total: usize,
    },
    ScriptFailed {
        path: &'a Path,
        error: &'a str,
    },
    Warning {
        path: &'a Path,
        message: &'a str,
    },
    BuildReady {
        build: &'a Build,
        cached: bool,
        onnx: &'a Path,
        class: &'a str,
        location: &'a str,
    },
    BuildFailed {
        build: &'a str,
        stage: &'a str,
        error: &'a str,
    },
    RowStarted {
        build: &'a str,
        runtime: &'a str,
        device: &'a str,
    },
    RowFinished {
        build: &'a str,
        row: &'a RuntimeRow,
        cached: bool,
    },
}

pub trait Observer {
    fn on(&self, event: Event<'_>);
}

#[derive(Default)]
pub struct RunSummary {
    /// Build names touched by this run, in order.
    pub builds: Vec<String>,
    /// One line per failure (script, stage or row).
    pub failures: Vec<String>,
}

pub fn run(cache: &Cache, inputs: &[PathBuf], opts: &RunOptions, obs: &dyn Observer) -> RunSummary {
    let mut summary = RunSummary::default();
    let system = SystemInfo::collect();
    for (i, path) in inputs.iter().enumerate() {
        obs.on(Event::ScriptStarted {
            path,
            index: i,
            total: inputs.len(),
        });
        run_script(cache, path, opts, &system, obs, &mut summary);
    }
    summary
}

/// The record name for a script that failed before it had any build.
fn failure_name(path: &Path, args: &ScriptArgs) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "script".into());
    let key = format!("{}\0{}", path.display(), args.text);
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{stem}_script_{}", &h[..8])
}

fn run_script(
    cache: &Cache,
    path: &Path,
    opts: &RunOptions,
    system: &SystemInfo,
    obs: &dyn Observer,
    summary: &mut RunSummary,
) {
    let dopts = DiscoverOptions {
        script_args: opts.script_args.clone(),
        max_depth: opts.max_depth,
        executor: None,
    };
    let started = Instant::now();
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        script::discover(path, &dopts)
    }));
    let disc = match found {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return script_failed(cache, path, opts, system, &e.to_string(), obs, summary);
        }
        Err(_) => {
            let msg = format!(
                "{}: internal error while running the script (a turnkey bug; please report it)",
                path.display()
            );
            return script_failed(cache, path, opts, system, &msg, obs, summary);
        }
    };
    let discover_s = started.elapsed().as_secs_f64();
    // A script that works now leaves no stale failure record behind.
    let stale = failure_name(path, &opts.script_args);
    if cache.record_path(&stale).is_ok_and(|p| p.exists()) {
        let _ = cache.clear_build(&stale);
    }
    for w in &disc.warnings {
        obs.on(Event::Warning { path, message: w });
    }
    for build in &disc.builds {
        summary.builds.push(build.name.clone());
        if let Err(e) = run_build(cache, &disc, build, discover_s, opts, system, obs, summary) {
            let msg = format!("{}: {e}", build.name);
            obs.on(Event::BuildFailed {
                build: &build.name,
                stage: "record",
                error: &msg,
            });
            summary.failures.push(msg);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn script_failed(
    cache: &Cache,
    path: &Path,
    opts: &RunOptions,
    system: &SystemInfo,
    error: &str,
    obs: &dyn Observer,
    summary: &mut RunSummary,
) {
    obs.on(Event::ScriptFailed { path, error });
    summary.failures.push(error.to_string());
    let name = failure_name(path, &opts.script_args);
    summary.builds.push(name.clone());
    let res = cache.update_record(&name, |r| {
        r.identity.name = name.clone();
        r.identity.script = path.display().to_string();
        r.identity.script_args = opts.script_args.text.clone();
        r.system = system.clone();
        r.start_stage("discover");
        r.finish_stage("discover", Status::Error, Some(error.to_string()));
    });
    if let Err(e) = res {
        summary
            .failures
            .push(format!("{name}: could not record the failure: {e}"));
    }
}

fn specs(io: &[(String, crate::graph::TypeInfo)]) -> Vec<TensorSpec> {
    io.iter()
        .map(|(n, t)| TensorSpec {
            name: n.clone(),
            shape: t.shape.clone(),
            dtype: t.dtype,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_build(
    cache: &Cache,
    disc: &Discovery,
    build: &Build,
    discover_s: f64,
    opts: &RunOptions,
    system: &SystemInfo,
    obs: &dyn Observer,
    summary: &mut RunSummary,
) -> Result<(), crate::cache::CacheError> {
    let dir = cache.build_dir(&build.name)?;
    let onnx_path = dir.join("model.onnx");
    let inputs_dir = dir.join("inputs");
    let g = &build.graph;
    let location = format!("{}:{}", disc.path.display(), build.line);
    let previous = cache.load_record(&build.name).ok().flatten();
    let cached = !opts.rebuild
        && onnx_path.exists()
        && previous
            .as_ref()
            .is_some_and(|r| r.stage_succeeded("export") && r.identity.opset == Some(opts.opset));
    let parent = build.parent.map(|p| disc.builds[p].name.clone());
    cache.update_record(&build.name, |r| {
        let id = &mut r.identity;
        id.name = build.name.clone();
        id.hash = build.hash.clone();
        id.script = disc.path.display().to_string();
        id.model_class = Some(g.name.clone());
        id.labels = disc.labels.clone();
        id.description = (!disc.description.is_empty()).then(|| disc.description.clone());
        id.script_args = disc.script_args.clone();
        id.inputs = specs(
            &g.inputs
                .iter()
                .map(|&v| (g.values[v].name.clone(), g.info(v).clone()))
                .collect::<Vec<_>>(),
        );
        id.outputs = specs(
            &g.outputs
                .iter()
                .map(|&v| (g.values[v].name.clone(), g.info(v).clone()))
                .collect::<Vec<_>>(),
        );
        id.set_stats(&g.stats());
        id.opset = Some(opts.opset);
        id.location = Some(location.clone());
        id.depth = Some(build.depth as u32);
        id.parent = parent.clone();
        id.executions = build.executions as u64;
        r.system = system.clone();
        r.start_stage("discover");
        r.finish_stage("discover", Status::Successful, None);
        if let Some(s) = r.stages.get_mut("discover") {
            s.duration_s = Some(discover_s);
            s.warnings = disc.warnings.clone();
        }
        if !cached {
            r.start_stage("export");
        }
    })?;

    if cached && !crate::runtime::ir_path(&onnx_path).exists() {
        // Exported by a turnkey that did not save the traced graph yet.
        let _ = crate::runtime::write_ir(&onnx_path, g);
    }
    if !cached {
        let t = Instant::now();
        let result = export_build(build, &onnx_path, &inputs_dir, opts.opset);
        let err = result.as_ref().err().cloned();
        cache.update_record(&build.name, |r| {
            let status = if err.is_some() {
                Status::Error
            } else {
                Status::Successful
            };
            r.finish_stage("export", status, err.clone());
            if let Some(s) = r.stages.get_mut("export") {
                s.duration_s = Some(t.elapsed().as_secs_f64());
            }
        })?;
        if let Err(e) = result {
            let msg = format!("{}: export: {e}", build.name);
            obs.on(Event::BuildFailed {
                build: &build.name,
                stage: "export",
                error: &msg,
            });
            summary.failures.push(msg);
            mark_not_started(cache, &build.name, opts)?;
            return Ok(());
        }
    }
    obs.on(Event::BuildReady {
        build,
        cached,
        onnx: &onnx_path,
        class: &g.name,
        location: &location,
    });
    if opts.build_only {
        return Ok(());
    }
    let batch = build
        .inputs
        .first()
        .and_then(|(_, t)| t.shape.first().copied())
        .unwrap_or(1) as u64;
    let peak = crate::bench::peak::RowContext::new(g, opts.threads, cache.location());
    let mut reference: Option<(String, Vec<(String, HostTensor)>)> = None;
    for &device in &opts.devices {
        for rt in &opts.runtimes {
            let row = bench_row(
                cache,
                &build.name,
                &dir,
                (rt, device),
                batch,
                opts,
                reference.as_ref(),
                &peak,
                obs,
            )?;
            if row.status.is_failure() {
                summary.failures.push(format!(
                    "{} on {}/{}: {} {}",
                    build.name,
                    row.runtime,
                    row.device,
                    row.status.as_str(),
                    row.error.clone().unwrap_or_default()
                ));
            }
            if reference.is_none() && row.status == Status::Successful {
                let outs = read_outputs(&outputs_dir(&dir, rt, device));
                if let Ok(outs) = outs {
                    reference = Some((format!("{rt}/{device}"), outs));
                }
            }
        }
    }
    Ok(())
}

fn mark_not_started(
    cache: &Cache,
    build: &str,
    opts: &RunOptions,
) -> Result<(), crate::cache::CacheError> {
    if opts.build_only {
        return Ok(());
    }
    cache.update_record(build, |r| {
        for device in &opts.devices {
            for rt in &opts.runtimes {
                let row = r.row_mut(rt, &device.to_string());
                row.status = Status::NotStarted;
                row.error = Some("export failed".into());
            }
        }
    })?;
    Ok(())
}

/// Writes model.onnx and the inputs, each atomically.
fn export_build(
    build: &Build,
    onnx_path: &Path,
    inputs_dir: &Path,
    opset: i64,
) -> Result<(), String> {
    let eopts = ExportOptions {
        opset,
        metadata: vec![
            ("turnkey.build".into(), build.name.clone()),
            ("turnkey.hash".into(), build.hash.clone()),
        ],
        ..Default::default()
    };
    let bytes = export(&build.graph, &eopts).map_err(|e| e.to_string())?;
    let dir = onnx_path.parent().expect("build dir");
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tmp.write_all(&bytes)
        .map_err(|e| format!("{}: {e}", onnx_path.display()))?;
    tmp.persist(onnx_path)
        .map_err(|e| format!("{}: {e}", onnx_path.display()))?;
    crate::runtime::write_ir(onnx_path, &build.graph)
        .map_err(|e| format!("{}: {e}", crate::runtime::ir_path(onnx_path).display()))?;
    let _ = std::fs::remove_dir_all(inputs_dir);
    std::fs::create_dir_all(inputs_dir).map_err(|e| format!("{}: {e}", inputs_dir.display()))?;
    for (k, (name, t)) in build.inputs.iter().enumerate() {
        write_tensor_pb(&inputs_dir.join(format!("input_{k}.pb")), name, t)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn row_key(rt: &str, device: Device) -> String {
    format!("{rt}-{}", device.to_string().replace(':', "_"))
}

fn outputs_dir(dir: &Path, rt: &str, device: Device) -> PathBuf {
    dir.join("outputs").join(row_key(rt, device))
}

/// Reads `output_<k>.pb` files in order.
pub fn read_outputs(dir: &Path) -> Result<Vec<(String, HostTensor)>, String> {
    let mut out = Vec::new();
    for k in 0.. {
        let p = dir.join(format!("output_{k}.pb"));
        if !p.exists() {
            break;
        }
        out.push(read_tensor_pb(&p).map_err(|e| e.to_string())?);
    }
    if out.is_empty() {
        return Err(format!("{}: no saved outputs", dir.display()));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn bench_row(
    cache: &Cache,
    build: &str,
    dir: &Path,
    (rt, device_kind): (&str, Device),
    batch: u64,
    opts: &RunOptions,
    reference: Option<&(String, Vec<(String, HostTensor)>)>,
    peak: &crate::bench::peak::RowContext,
    obs: &dyn Observer,
) -> Result<RuntimeRow, crate::cache::CacheError> {
    let device = device_kind.to_string();
    let out_dir = outputs_dir(dir, rt, device_kind);
    if !opts.rebuild
        && let Some(rec) = cache.load_record(build)?
        && let Some(row) = rec.row(rt, &device)
        && matches!(row.status, Status::Successful | Status::Mismatch)
        && out_dir.exists()
    {
        obs.on(Event::RowFinished {
            build,
            row,
            cached: true,
        });
        return Ok(row.clone());
    }
    obs.on(Event::RowStarted {
        build,
        runtime: rt,
        device: &device,
    });
    cache.update_record(build, |r| r.row_mut(rt, &device).start(std::process::id()))?;
    let key = row_key(rt, device_kind);
    let log_dir = dir.join("log");
    let samples = dir.join("samples").join(format!("{key}.csv"));
    let _ = std::fs::create_dir_all(&log_dir);
    let _ = std::fs::create_dir_all(samples.parent().expect("samples dir"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let _ = std::fs::create_dir_all(&out_dir);
    let spec = WorkerSpec {
        onnx: dir.join("model.onnx"),
        inputs_dir: dir.join("inputs"),
        runtime: rt.to_string(),
        device: device_kind,
        threads: opts.threads,
        precision: opts.precision,
        bench: opts.bench.clone(),
        batch_size: batch,
        outputs_dir: Some(out_dir.clone()),
        samples_path: Some(samples.clone()),
        result_path: log_dir.join(format!("{key}.result.json")),
        cov_threshold: 0.05,
    };
    let spec_path = log_dir.join(format!("{key}.spec.json"));
    let started = Instant::now();
    let outcome = match spec.write(&spec_path) {
        Ok(()) => spawn_worker(
            worker_command(&opts.worker_exe, &spec_path),
            &spec,
            opts.timeout,
        ),
        Err(e) => WorkerOutcome::Failed(e.to_string()),
    };
    let mut row = RuntimeRow::new(rt, &device);
    row.pid = Some(std::process::id());
    row.host = crate::cache::system::hostname();
    row.batch_size = Some(batch);
    match outcome {
        WorkerOutcome::Finished(res) => {
            row.runtime_version = Some(res.runtime_version.clone());
            row.device_name = Some(res.device.clone());
            row.details = res.details.clone();
            row.compile_ms = res.compile_ms;
            row.first_ms = res.first_ms;
            row.warmup_iterations = Some(res.warmup_iterations);
            row.iterations = Some(res.iterations);
            row.total_ms = res.total_ms;
            if let Some(s) = &res.stats {
                row.mean_ms = Some(s.mean_ms);
                row.median_ms = Some(s.median_ms);
                row.p90_ms = Some(s.p90_ms);
                row.p95_ms = Some(s.p95_ms);
                row.p99_ms = Some(s.p99_ms);
                row.min_ms = Some(s.min_ms);
                row.max_ms = Some(s.max_ms);
                row.std_ms = Some(s.std_ms);
                row.cov = Some(s.cov);
            }
            row.stability = res.stability.as_ref().map(|s| s.to_string());
            row.throughput = res.throughput;
            row.peak_rss_mb = res.peak_rss_mb;
            row.timer_overhead_ns = res.timer_overhead_ns;
            row.samples_file = samples
                .strip_prefix(dir)
                .ok()
                .map(|p| p.display().to_string());
            if res.hit_max_time {
                row.warnings
                    .push("stopped at --max-time before --min-iterations".into());
            }
            res.apply_to(&mut row);
            match &res.error {
                Some(e) => {
                    row.status = Status::Error;
                    row.error = Some(e.clone());
                }
                None => {
                    row.status = Status::Successful;
                    row.check = Some(check_outputs(&out_dir, rt, &device, reference, opts));
                    if row
                        .check
                        .as_ref()
                        .is_some_and(|c| c.status == CheckStatus::Failed)
                    {
                        row.status = Status::Mismatch;
                    }
                }
            }
        }
        WorkerOutcome::Crashed {
            signal,
            code,
            stderr_tail,
        } => {
            row.status = Status::Crashed;
            let how = match (signal, code) {
                (Some(s), _) => format!("killed by signal {s} ({})", signal_name(s)),
                (None, Some(c)) => format!("exited with code {c} without a result"),
                _ => "ended without a result".to_string(),
            };
            let tail = stderr_tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            row.error = Some(if tail.is_empty() {
                how
            } else {
                format!("{how}: {tail}")
            });
        }
        WorkerOutcome::Timeout { after } => {
            row.status = Status::Timeout;
            row.error = Some(format!(
                "no result after {:.0} s (--timeout)",
                after.as_secs_f64()
            ));
        }
        WorkerOutcome::Failed(e) => {
            row.status = Status::Error;
            row.error = Some(e);
        }
    }
    if row.status == Status::Successful {
        peak.annotate(&mut row);
    }
    row.duration_s = Some(started.elapsed().as_secs_f64());
    let saved = row.clone();
    cache.update_record(build, |r| r.set_row(saved))?;
    obs.on(Event::RowFinished {
        build,
        row: &row,
        cached: false,
    });
    Ok(row)
}

fn check_outputs(
    out_dir: &Path,
    rt: &str,
    device: &str,
    reference: Option<&(String, Vec<(String, HostTensor)>)>,
    opts: &RunOptions,
) -> OutputCheck {
    let Some((ref_name, ref_outs)) = reference else {
        return OutputCheck {
            reference: format!("{rt}/{device}"),
            status: CheckStatus::Reference,
            summary: Some("reference outputs for the other runtimes".into()),
            ..Default::default()
        };
    };
    match read_outputs(out_dir) {
        Ok(actual) => {
            let c = compare(ref_outs, &actual, opts.atol, opts.rtol);
            OutputCheck {
                reference: ref_name.clone(),
                status: if c.pass {
                    CheckStatus::Passed
                } else {
                    CheckStatus::Failed
                },
                max_abs_diff: Some(c.max_abs_diff),
                max_rel_diff: Some(c.max_rel_diff),
                summary: Some(c.summary),
                atol: Some(c.atol),
                rtol: Some(c.rtol),
                outputs: c
                    .outputs
                    .iter()
                    .map(|o| OutputDiff {
                        name: o.name.clone(),
                        passed: o.pass,
                        max_abs_diff: o.max_abs_diff,
                        max_rel_diff: o.max_rel_diff,
                        mismatched: o.mismatched,
                        problem: o.problem.clone(),
                    })
                    .collect(),
            }
        }
        Err(e) => OutputCheck {
            reference: ref_name.clone(),
            status: CheckStatus::Failed,
            summary: Some(e),
            ..Default::default()
        },
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL, maybe out of memory",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Loads the records of the given builds (for the end-of-run summary).
pub fn records(cache: &Cache, builds: &[String]) -> Vec<Record> {
    builds
        .iter()
        .filter_map(|b| cache.load_record(b).ok().flatten())
        .collect()
}
