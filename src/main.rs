//! turnkey: parse the command line, call the library, map errors to exit codes.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use turnkey::bench::timing::BenchOptions;
use turnkey::cache::Cache;
use turnkey::cli::{
    ApiArgs, BenchArgs, CacheArgs, CacheCommand, Cli, Command, PeakArgs, ReportArgs, RunArgs,
};
use turnkey::graph::{Graph, HostTensor};
use turnkey::pipeline::{self, RunOptions};
use turnkey::progress::Terminal;
use turnkey::runtime::{self, Device, Precision, SessionOptions};
use turnkey::script::{self, DiscoverOptions, ScriptArgs};
use turnkey::{corpus, onnx, report};

// Terminal output that survives a closed pipe (see `progress::out_text`).
macro_rules! outln {
    ($($t:tt)*) => { turnkey::progress::out_line(&format!($($t)*)) };
}
macro_rules! out {
    ($($t:tt)*) => { turnkey::progress::out_text(&format!($($t)*)) };
}
macro_rules! errln {
    ($($t:tt)*) => { turnkey::progress::err_line(&format!($($t)*)) };
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Some(Command::Worker { spec }) => return turnkey::bench::worker::worker_main(&spec),
        Some(Command::Run(args)) => run_script(args),
        Some(Command::Report(args)) => write_report(args),
        None if cli.bench.slurm.use_slurm => {
            turnkey::slurm::main(&cli.bench, std::env::args_os()).map_err(Into::into)
        }
        Some(Command::Cache(args)) => cache_command(args),
        Some(Command::Peak(args)) => peak(args),
        Some(Command::Api(args)) => api_reference(args),
        None => benchmark(cli.bench),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {}", turnkey::text::one_line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// `turnkey api [NAME] [--markdown]`: the script API reference.
fn api_reference(a: ApiArgs) -> Result<ExitCode> {
    let book = script::reference();
    let text = match &a.name {
        None if a.markdown => book.to_markdown(),
        None => book.to_text(),
        Some(name) => match book.get(name) {
            Some(e) => book.entry_text(e),
            None => {
                let near: Vec<String> = book
                    .closest(name, 4)
                    .iter()
                    .map(|e| e.name.clone())
                    .collect();
                if near.is_empty() {
                    bail!("`{name}` is not in the script API; `turnkey api` lists every name");
                }
                bail!(
                    "`{name}` is not in the script API; did you mean {}? (`turnkey api` lists every name)",
                    near.join(", ")
                );
            }
        },
    };
    turnkey::text::print_stdout(&text);
    Ok(ExitCode::SUCCESS)
}

/// Help and version print as clap prints them; a usage error is one line
/// (clap's own message, which names the argument) plus where to look.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut first = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ")
        .to_string();
    // "the following required arguments were not provided:" + the names.
    if first.ends_with(':') {
        first = format!("{first} {}", lines.next().unwrap_or(""));
    }
    errln!("error: {first} (see turnkey --help)");
    ExitCode::from(2)
}

/// `auto` → ort when ONNX Runtime loads, else tract; names checked.
fn resolve_runtimes(list: &str, quiet: bool) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = if name == "auto" {
            let (rt, why) = runtime::resolve_auto();
            if !quiet {
                errln!("runtime auto: {rt} ({why})");
            }
            rt.to_string()
        } else {
            runtime::by_name(name).with_context(|| format!("--runtime {list}"))?;
            name.to_string()
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        bail!("--runtime is empty; give e.g. --runtime ort,tract");
    }
    Ok(out)
}

/// `--weights PATH`, absolute (jobs and scripts run from other folders).
fn weights_path(p: &std::path::Path) -> Result<std::path::PathBuf> {
    std::path::absolute(p)
        .ok()
        .filter(|a| a.exists())
        .with_context(|| {
            format!(
                "--weights {}: no such file or folder; give a .safetensors file, a \
                 model.safetensors.index.json or a folder holding either",
                p.display()
            )
        })
}

fn seconds(flag: &str, v: f64) -> Result<Duration> {
    if !v.is_finite() || v < 0.0 {
        bail!("{flag} must be a non-negative number of seconds, got {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

/// `--target-ci 1`, `1%` or `0.5`: a percentage above 0 and at most 100.
fn target_ci(v: &str) -> Result<f64> {
    let pct: f64 = v
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--target-ci {v}: give a percentage, like 1 or 0.5%"))?;
    if !(pct > 0.0 && pct <= 100.0) {
        bail!("--target-ci {v}: give a percentage above 0 and at most 100, like 1 or 0.5%");
    }
    Ok(pct)
}

fn benchmark(a: BenchArgs) -> Result<ExitCode> {
    let script_args = ScriptArgs::parse(&a.script_args).map_err(anyhow::Error::msg)?;
    let range = onnx::supported_opsets();
    if !range.contains(&a.opset) {
        bail!(
            "--opset {}: supported opsets are {}..={}",
            a.opset,
            range.start(),
            range.end()
        );
    }
    let devices =
        Device::parse_list(&a.device).map_err(|e| anyhow::anyhow!("--device {}: {e}", a.device))?;
    if a.variant.calibration_batches == 0 {
        bail!("--calibration-batches must be at least 1");
    }
    let min_cosine = a.variant.min_cosine;
    if !(0.0..=1.0).contains(&min_cosine) {
        bail!("--min-cosine must be between 0 and 1, got {min_cosine}");
    }
    // Checked before anything runs: a NaN tolerance would pass every check.
    for (flag, v) in [("--atol", a.atol), ("--rtol", a.rtol)] {
        if !v.is_finite() || v < 0.0 {
            bail!("{flag} must be a non-negative number, got {v}");
        }
    }
    let plan = corpus::plan(&a.inputs, &a.corpus, &a.script_args, a.runtime != "auto")
        .map_err(anyhow::Error::msg)?;
    // `auto` is resolved (and said) only when some job uses it: a manifest
    // that names its runtimes does not.
    let uses_cli_runtimes = a.runtime != "auto" || plan.jobs.iter().any(|j| j.runtimes.is_none());
    let runtimes = if a.build_only || a.analyze_only {
        Vec::new()
    } else {
        resolve_runtimes(&a.runtime, a.quiet || !uses_cli_runtimes)?
    };
    let cache = Cache::open(a.cache_dir.as_deref())?;
    let opts = RunOptions {
        script_args,
        // ONNX files are analysed as built: copied and FLOP-counted.
        build_only: a.build_only || a.analyze_only,
        analyze_only: a.analyze_only,
        max_depth: a.max_depth,
        opset: a.opset,
        runtimes,
        devices,
        precision: Precision::Fp32,
        graph_optimization: None,
        variant: pipeline::VariantOptions {
            calibration_batches: a.variant.calibration_batches,
            low_precision_io: a.variant.low_precision_io,
            min_cosine,
        },
        threads: a.threads,
        bench: BenchOptions {
            iterations: a.iterations,
            min_iterations: a.min_iterations,
            min_time: seconds("--min-time", a.min_time)?,
            max_time: seconds("--max-time", a.max_time)?,
            warmup_min_iterations: a.warmup_iterations,
            warmup_min_time: seconds("--warmup-time", a.warmup_time)?,
            warmup_max_time: seconds("--warmup-max-time", a.warmup_max_time)?,
            target_ci_pct: target_ci(&a.target_ci)?,
        },
        trials: match a.trials {
            0 => bail!("--trials 0: give 1 or more (the number of worker processes per row)"),
            n => n,
        },
        pin: match &a.pin {
            Some(list) => {
                let allowed = turnkey::bench::host::allowed_cpus();
                turnkey::bench::pin::choose(list, a.threads, &allowed)
                    .map_err(|e| anyhow::anyhow!("--pin {list}: {e}"))?;
                Some(list.clone())
            }
            None => None,
        },
        timeout: seconds("--timeout", a.timeout)?,
        max_memory: a
            .max_memory
            .as_deref()
            .map(script::parse_memory)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        weights: a.weights.as_deref().map(weights_path).transpose()?,
        atol: a.atol,
        rtol: a.rtol,
        rebuild: a.rebuild,
        lean_cache: a.cache_flags.lean_cache,
        worker_exe: std::env::current_exe().context("cannot find the turnkey executable")?,
    };
    for (level, msg) in plan.messages(a.quiet) {
        errln!("{level}: {msg}");
    }
    let term = Terminal::new(a.quiet, plan.jobs.len());
    turnkey::interrupt::install();
    let mut summary = pipeline::run(&cache, &plan.jobs, &opts, &term);
    summary.failures.splice(0..0, plan.failures);
    term.finish();
    let rows: Vec<report::ReportRow> = pipeline::records(&cache, &summary.builds)
        .iter()
        .flat_map(|r| report::rows_from_record(r, cache.location()))
        .collect();
    if !rows.is_empty() {
        outln!("{}", report::summary_table(&rows));
    }
    outln!("cache: {}", cache.location().display());
    if !summary.expected.is_empty() {
        errln!("{} expected failure(s):", summary.expected.len());
        for f in &summary.expected {
            errln!("  {}", turnkey::text::one_line(f));
        }
    }
    if !summary.failures.is_empty() {
        errln!("{} failure(s):", summary.failures.len());
        for f in &summary.failures {
            errln!("  {}", turnkey::text::one_line(f));
        }
    }
    if summary.interrupted {
        errln!("interrupted: finished rows are saved; run the same command again to resume");
        Ok(ExitCode::from(turnkey::interrupt::EXIT_CODE))
    } else if summary.failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn write_report(a: ReportArgs) -> Result<ExitCode> {
    let show_pairs = a.compare.is_some();
    let baseline = match a.compare {
        Some(b) if !b.is_empty() => Some(b),
        _ => a.baseline,
    };
    let opts = report::ReportOptions {
        formats: report::Format::parse_list(&a.format).context("--format")?,
        baseline,
        pairs: show_pairs,
    };
    let s = report::write_report(&a.caches, &a.output, &opts)?;
    for w in &s.warnings {
        errln!("warning: {w}");
    }
    for line in s.pairs.iter().chain(&s.comparison) {
        outln!("{line}");
    }
    for f in &s.files {
        outln!(
            "wrote {} ({} rows, {} builds)",
            f.display(),
            s.rows,
            s.builds
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `turnkey cache ...`: every command but `location` needs an existing,
/// marked cache; nothing is created.
fn cache_command(a: CacheArgs) -> Result<ExitCode> {
    use turnkey::cache::admin;
    let dir = Cache::resolve_location(a.cache_dir.as_deref())?;
    if let CacheCommand::Location = a.command {
        outln!("{}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let cache = Cache::open_existing(&dir)?;
    let freed = |what: &str, f: turnkey::cache::Freed| {
        outln!(
            "{what} {} build(s), freed {} in {}",
            f.builds,
            admin::human_bytes(f.bytes),
            cache.location().display()
        )
    };
    match a.command {
        CacheCommand::Location => {}
        CacheCommand::List => out!("{}", admin::list_text(&cache, &cache.build_summaries()?)),
        CacheCommand::Stats { build, json } => {
            if json {
                let path = cache.record_path(&build)?;
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "no record for build '{build}' ({}): `turnkey cache list` shows the builds",
                        path.display()
                    )
                })?;
                out!("{text}");
            } else {
                out!("{}", admin::stats_text(&cache, &build)?);
            }
        }
        CacheCommand::Delete { build, all } => match (build, all) {
            (_, true) => freed("deleted", cache.delete_all()?),
            (Some(b), false) => freed("deleted", cache.delete_build(&b)?),
            (None, false) => bail!("cache delete: name a BUILD or pass --all"),
        },
        CacheCommand::Clean { build, all } => match (build, all) {
            (_, true) => freed("cleaned", cache.clean_all()?),
            (Some(b), false) => freed("cleaned", cache.clean_build(&b)?),
            (None, false) => bail!("cache clean: name a BUILD or pass --all"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// `turnkey peak`: measures and caches the GEMM peak per runtime × device × dtype.
fn peak(a: PeakArgs) -> Result<ExitCode> {
    use turnkey::bench::peak::{self as pk, PeakOptions};
    let devices =
        Device::parse_list(&a.device).map_err(|e| anyhow::anyhow!("--device {}: {e}", a.device))?;
    let precision: Precision = a
        .precision
        .parse()
        .map_err(|e| anyhow::anyhow!("--precision: {e}"))?;
    let runtimes = resolve_runtimes(&a.runtime, true)?;
    let cache = Cache::open(a.cache_dir.as_deref())?;
    let host = pk::host_key();
    let bench = BenchOptions {
        min_time: seconds("--min-time", a.min_time)?,
        ..pk::default_bench()
    };
    match turnkey::telemetry::probe() {
        Ok(sys) => {
            for g in &sys.gpus {
                outln!(
                    "GPU {}: {} (driver {}, CUDA {})",
                    g.index,
                    g.name,
                    sys.driver,
                    sys.cuda
                );
            }
        }
        Err(line) => outln!("{line}"),
    }
    let mut failed = 0;
    for device in &devices {
        let dtypes = pk::dtypes_for(*device, a.dtype.as_deref()).map_err(anyhow::Error::msg)?;
        for rt in &runtimes {
            for dtype in &dtypes {
                let opts = PeakOptions {
                    runtime: rt.clone(),
                    device: *device,
                    dtype: *dtype,
                    precision,
                    n: a.size,
                    threads: a.threads,
                    bench: bench.clone(),
                };
                match pk::measure_peak(&opts) {
                    Ok(e) => {
                        let file = pk::save(cache.location(), &host, &e)?;
                        outln!(
                            "peak {rt} {device} {dtype}: {:.1} GFLOP/s (GEMM n={}, best {:.3} ms, median {:.3} ms, {} iterations, {} latency) -> {}",
                            e.flops / 1e9,
                            e.n,
                            e.min_ms,
                            e.median_ms,
                            e.iterations,
                            e.latency,
                            file.display()
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        errln!("peak {rt} {device} {dtype}: error: {e}");
                    }
                }
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs each traced call on a runtime in this process and prints outputs.
fn run_script(a: RunArgs) -> Result<ExitCode> {
    let text = a.args.join(" ");
    let script_args = ScriptArgs::parse(&text).map_err(anyhow::Error::msg)?;
    let rt_name = resolve_runtimes(&a.runtime, false)?.remove(0);
    let dir = tempfile::tempdir()?;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let exec = move |g: &Graph,
                     inputs: &[(String, HostTensor)]|
          -> Result<Vec<HostTensor>, String> {
        let rt = runtime::by_name(&rt_name).map_err(|e| e.to_string())?;
        let bytes = onnx::export(g, &onnx::ExportOptions::default()).map_err(|e| e.to_string())?;
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("call{n}.onnx"));
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        runtime::write_ir(&path, g).map_err(|e| e.to_string())?;
        let mut s = rt
            .load(&path, &SessionOptions::default())
            .map_err(|e| e.to_string())?;
        s.set_inputs(inputs).map_err(|e| e.to_string())?;
        s.run().map_err(|e| e.to_string())?;
        let outs = s.outputs().map_err(|e| e.to_string())?;
        outln!("{} ({}):", g.name, rt.name());
        for (name, t) in &outs {
            outln!(
                "  {name}: {}{} {}",
                t.dtype,
                turnkey::graph::shape_str(&t.shape),
                t.preview(8)
            );
        }
        Ok(outs.into_iter().map(|(_, t)| t).collect())
    };
    let opts = DiscoverOptions {
        script_args,
        max_depth: 0,
        executor: Some(Arc::new(exec)),
        timeout: None,
        max_memory: None,
        analyze_only: false,
        weights: None,
    };
    match script::discover(&a.script, &opts) {
        Ok(d) => {
            for w in &d.warnings {
                errln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
