//! `--trials N`: each row runs in N fresh worker processes, so that
//! process-level noise (memory layout, thread placement) that one process
//! hides shows up. The first trial is the row's ordinary run (outputs
//! checked); trials 2..N run after every build of the run is done, round
//! by round — trial 2 of every row, then trial 3 of every row — so drift of
//! the machine hits all rows and runtimes alike. A row then pools the
//! samples of all its trials; its median's interval is the wider of the
//! pooled interval and the between-trial one (Student's t over the trial
//! medians), and `trial_spread_pct` is the spread of the trial medians.
//! A re-run resumes: a row with k trials recorded runs only the missing ones.

use super::{Event, Observer, RunOptions, RunSummary, row_key, run_worker};
use crate::bench::host::HostNoise;
use crate::bench::robust::t_975;
use crate::bench::stats::LatencyStats;
use crate::bench::verdict::{self, Evidence, Stop, TrialSpread};
use crate::bench::worker::{WorkerOutcome, WorkerResult, WorkerSpec, WorkerStatus};
use crate::cache::record::Trial;
use crate::cache::{Cache, RuntimeRow, Status};
use crate::runtime::{Device, Precision};
use chrono::Utc;
use std::path::{Path, PathBuf};

/// Copies what a worker measured beyond the latency statistics (warm-up,
/// stopping, host noise, pinning, the target) into `row`.
pub(super) fn measurement_fields(row: &mut RuntimeRow, res: &WorkerResult, opts: &RunOptions) {
    row.warmup_ms = res.warmup_ms;
    row.warmup_steady = res.warmup_steady;
    row.stop = res.stop.map(|s| s.to_string());
    row.target_ci_pct = Some(opts.bench.target_ci_pct);
    row.host_noise = res.host.clone();
    row.pinned_cpus = res.pinned_cpus.clone();
}

/// One row of this run that gets more trials.
struct RowRef {
    build: String,
    runtime: String,
    device: Device,
    batch: u64,
}

/// Runs trials 2..=N of every successful row of this run's builds.
pub(super) fn run_trials(
    cache: &Cache,
    opts: &RunOptions,
    obs: &dyn Observer,
    summary: &mut RunSummary,
) {
    if opts.trials <= 1 || opts.build_only {
        return;
    }
    let mut rows = Vec::new();
    for build in &summary.builds {
        let Ok(Some(record)) = cache.load_record(build) else {
            continue;
        };
        for r in record
            .runtimes
            .iter()
            .filter(|r| r.status == Status::Successful)
        {
            if let Ok(device) = r.device.parse::<Device>() {
                rows.push(RowRef {
                    build: build.clone(),
                    runtime: r.runtime.clone(),
                    device,
                    batch: r.batch_size.unwrap_or(1),
                });
            }
        }
    }
    'rounds: for trial in 2..=opts.trials {
        for r in &rows {
            if crate::interrupt::requested() {
                break 'rounds;
            }
            if let Err(e) = one_trial(cache, opts, obs, r, trial) {
                summary.failures.push(format!(
                    "{} on {}/{}: trial {trial}: {e}",
                    r.build, r.runtime, r.device
                ));
            }
        }
    }
    refresh_speedups(cache, summary);
    // `--lean-cache` waited for the last trial (it needs model.onnx and the inputs).
    if opts.lean_cache && !crate::interrupt::requested() {
        for build in &summary.builds {
            if let Err(e) = cache.make_lean(build) {
                let message = format!("--lean-cache: {e}");
                obs.on(Event::Warning {
                    path: Path::new(build),
                    message: &message,
                });
            }
        }
    }
}

/// A precision variant's speedup was taken when its first trial ran, from
/// both builds' first-trial medians; once the trials are pooled, it is
/// taken again from the pooled medians (else the record would pair a
/// pooled latency with a stale ratio).
fn refresh_speedups(cache: &Cache, summary: &mut RunSummary) {
    for build in &summary.builds {
        let Ok(Some(record)) = cache.load_record(build) else {
            continue;
        };
        let mut fresh = Vec::new();
        for row in &record.runtimes {
            let Some(a) = &row.accuracy else { continue };
            let Some((runtime, device)) = a.reference_row.split_once('/') else {
                continue;
            };
            let Ok(Some(fp32)) = cache.load_record(&a.reference_build) else {
                continue;
            };
            let reference = fp32.row(runtime, device).and_then(|r| r.median_ms);
            let speedup = match (reference, row.median_ms) {
                (Some(f), Some(v)) if v > 0.0 => Some(f / v),
                _ => None,
            };
            if reference != a.reference_median_ms || speedup != a.speedup {
                fresh.push((row.runtime.clone(), row.device.clone(), reference, speedup));
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let updated = cache.update_record(build, |rec| {
            for (runtime, device, reference, speedup) in &fresh {
                if let Some(a) = rec.row_mut(runtime, device).accuracy.as_mut() {
                    a.reference_median_ms = *reference;
                    a.speedup = *speedup;
                }
            }
        });
        if let Err(e) = updated {
            summary
                .failures
                .push(format!("{build}: speedup after the trials: {e}"));
        }
    }
}

/// Runs trial `trial` of `r` unless the record already has it, and pools it
/// into the row. `Err` says why the trial failed (the row keeps the trials
/// it had, with a warning).
fn one_trial(
    cache: &Cache,
    opts: &RunOptions,
    obs: &dyn Observer,
    r: &RowRef,
    trial: u32,
) -> Result<(), String> {
    let device = r.device.to_string();
    let key = row_key(&r.runtime, r.device);
    let dir = cache.build_dir(&r.build).map_err(|e| e.to_string())?;
    let _lock = cache
        .stage_lock(&r.build, &format!("row-{key}"))
        .map_err(|e| e.to_string())?;
    let record = cache.load_record(&r.build).map_err(|e| e.to_string())?;
    let Some(row) = record.as_ref().and_then(|rec| rec.row(&r.runtime, &device)) else {
        return Ok(());
    };
    if row.status != Status::Successful || row.trials.len() >= trial as usize {
        return Ok(());
    }
    let log_dir = dir.join("log");
    // As the row's first worker ran: a precision variant's level and
    // precision come from its record, not from this run's flags.
    let variant = record
        .as_ref()
        .and_then(|rec| rec.identity.variant.as_ref());
    let graph_optimization = match variant.and_then(|v| v.ort_opt_level.as_deref()) {
        Some(level) => Some(level.parse()?),
        None if variant.is_some() => None,
        None => opts.graph_optimization,
    };
    let precision = match variant {
        _ if r.runtime != "ort-trt" => Precision::Fp32,
        Some(v) if v.precision == "fp16" => Precision::Fp16,
        Some(_) => Precision::Fp32,
        None => opts.precision,
    };
    let spec = WorkerSpec {
        onnx: dir.join("model.onnx"),
        inputs_dir: dir.join("inputs"),
        runtime: r.runtime.clone(),
        device: r.device,
        threads: opts.threads,
        precision,
        graph_optimization,
        bench: opts.bench.clone(),
        batch_size: r.batch,
        outputs_dir: None,
        samples_path: Some(trial_samples(&dir, &key, trial)),
        result_path: log_dir.join(format!("{key}.trial{trial}.result.json")),
        pin: opts.pin.clone(),
        task: Default::default(),
        generation: record
            .as_ref()
            .and_then(|rec| rec.identity.generation.clone()),
    };
    let spec_path = log_dir.join(format!("{key}.trial{trial}.spec.json"));
    let result = match run_worker(&spec, &spec_path, opts) {
        WorkerOutcome::Finished(res) if res.status == WorkerStatus::Successful => Ok(res),
        WorkerOutcome::Finished(res) => Err(res.error.unwrap_or_else(|| "failed".into())),
        WorkerOutcome::Crashed {
            signal,
            stderr_tail,
            ..
        } => Err(format!(
            "the worker crashed ({}): {}",
            signal.map_or("no signal".to_string(), |s| format!("signal {s}")),
            stderr_tail.lines().last().unwrap_or("")
        )),
        WorkerOutcome::Timeout { after } => Err(format!(
            "no result after {:.0} s (--timeout)",
            after.as_secs_f64()
        )),
        WorkerOutcome::Interrupted { .. } => Err("interrupted by the user".into()),
        WorkerOutcome::Failed(e) => Err(e),
    };
    let mut pooled = Err(String::new());
    cache
        .update_record(&r.build, |rec| {
            let row = rec.row_mut(&r.runtime, &device);
            pooled = match &result {
                Ok(res) => pool(row, res, &dir, &key, opts),
                Err(e) => Err(e.clone()),
            };
            if let Err(e) = &pooled {
                row.warnings.push(format!("trial {trial}: {e}"));
            }
        })
        .map_err(|e| e.to_string())?;
    let saved = cache.load_record(&r.build).ok().flatten();
    if let Some(row) = saved.as_ref().and_then(|rec| rec.row(&r.runtime, &device)) {
        obs.on(Event::TrialFinished {
            build: &r.build,
            row,
            trial,
            trials: opts.trials,
            error: pooled.as_ref().err().map(String::as_str),
        });
    }
    pooled
}

/// `samples/<key>.trial<k>.csv`.
fn trial_samples(dir: &Path, key: &str, trial: u32) -> PathBuf {
    dir.join("samples").join(format!("{key}.trial{trial}.csv"))
}

/// The row's own run, as its first trial.
fn first_trial(row: &RuntimeRow) -> Trial {
    Trial {
        median_ms: row.median_ms.unwrap_or(0.0),
        median_ci_lo_ms: row.median_ci_lo_ms,
        median_ci_hi_ms: row.median_ci_hi_ms,
        iterations: row.iterations.unwrap_or(0),
        warmup_iterations: row.warmup_iterations.unwrap_or(0),
        warmup_ms: row.warmup_ms,
        warmup_steady: row.warmup_steady,
        stop: row.stop.clone(),
        stability: row.stability.clone(),
        host_noise: row.host_noise.clone(),
        timestamp: Some(row.timestamp),
    }
}

/// Adds a finished trial to `row`: pools every trial's samples into the
/// row's statistics and samples file, widens the median's interval by the
/// between-trial spread, and judges the row again.
fn pool(
    row: &mut RuntimeRow,
    res: &WorkerResult,
    dir: &Path,
    key: &str,
    opts: &RunOptions,
) -> Result<(), String> {
    let stats = res.stats.as_ref().ok_or("the trial has no statistics")?;
    let main_samples = dir.join("samples").join(format!("{key}.csv"));
    if row.trials.is_empty() {
        // Keep the first trial's own samples before the pooled file replaces them.
        let first = trial_samples(dir, key, 1);
        if !first.exists() {
            std::fs::copy(&main_samples, &first)
                .map_err(|e| format!("cannot keep {}: {e}", main_samples.display()))?;
        }
        row.trials.push(first_trial(row));
    }
    row.trials.push(Trial {
        median_ms: stats.median_ms,
        median_ci_lo_ms: stats.median_ci_lo_ms,
        median_ci_hi_ms: stats.median_ci_hi_ms,
        iterations: res.iterations,
        warmup_iterations: res.warmup_iterations,
        warmup_ms: res.warmup_ms,
        warmup_steady: res.warmup_steady,
        stop: res.stop.map(|s| s.to_string()),
        stability: res.stability.as_ref().map(|s| s.to_string()),
        host_noise: res.host.clone(),
        timestamp: Some(Utc::now()),
    });
    let mut all = Vec::new();
    for k in 1..=row.trials.len() {
        all.extend(crate::report::read_samples(&trial_samples(
            dir, key, k as u32,
        ))?);
    }
    let mut stats = LatencyStats::from_samples(&all).ok_or("the trials left no samples")?;
    let medians: Vec<f64> = row.trials.iter().map(|t| t.median_ms).collect();
    let within = stats.ci_half_pct().unwrap_or(f64::INFINITY);
    let between = between_trial_half_pct(&medians, stats.median_ms);
    if between > within {
        let half = between / 100.0 * stats.median_ms;
        stats.median_ci_lo_ms = Some(stats.median_ms - half);
        stats.median_ci_hi_ms = Some(stats.median_ms + half);
    }
    let (lo, hi) = medians.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), m| {
        (lo.min(*m), hi.max(*m))
    });

    let old_median = row.median_ms;
    row.set_latency(&stats);
    let sum = |f: fn(&Trial) -> u64| row.trials.iter().map(f).sum::<u64>();
    row.iterations = Some(sum(|t| t.iterations));
    row.warmup_iterations = Some(sum(|t| t.warmup_iterations));
    row.warmup_ms = row.trials.iter().map(|t| t.warmup_ms).sum();
    row.total_ms = Some(row.total_ms.unwrap_or(0.0) + res.total_ms.unwrap_or(0.0));
    row.throughput = Some(stats.throughput(row.batch_size.unwrap_or(1)));
    // FLOP/s scale with the speed.
    if let Some(old) = old_median.filter(|m| *m > 0.0) {
        let ratio = old / stats.median_ms;
        row.achieved_flops = row.achieved_flops.map(|f| f * ratio);
        row.pct_of_peak = row.pct_of_peak.map(|p| p * ratio);
    }
    row.trial_spread_pct = Some(100.0 * (hi - lo) / stats.median_ms);
    row.host_noise = row
        .trials
        .iter()
        .filter_map(|t| t.host_noise.clone())
        .reduce(|a, b| a.worst(&b));
    let stops: Vec<&str> = row
        .trials
        .iter()
        .filter_map(|t| t.stop.as_deref())
        .collect();
    let stop = if stops.contains(&"max_time") {
        Stop::MaxTime
    } else if stops.contains(&"iterations") {
        Stop::Iterations
    } else {
        Stop::Target
    };
    row.stop = Some(stop.to_string());
    row.warmup_steady = row
        .trials
        .iter()
        .map(|t| t.warmup_steady)
        .reduce(|a, b| match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), _) | (_, Some(true)) => Some(true),
            _ => None,
        })
        .flatten();
    for r in res.gpu.iter().flat_map(|g| &g.throttle_reasons) {
        if !row.gpu_throttle_reasons.contains(r) {
            row.gpu_throttle_reasons.push(r.clone());
        }
    }
    let host: Option<HostNoise> = row.host_noise.clone();
    row.stability = Some(
        verdict::judge(&Evidence {
            stats: &stats,
            target_ci_pct: opts.bench.target_ci_pct,
            stop,
            max_time_s: opts.bench.max_time.as_secs_f64(),
            host: host.as_ref(),
            warmup_steady: row.warmup_steady,
            gpu_throttle: &row.gpu_throttle_reasons,
            trials: Some(TrialSpread {
                trials: row.trials.len(),
                min_median_ms: lo,
                max_median_ms: hi,
                dominates: between > within,
            }),
        })
        .to_string(),
    );
    let mut text = String::from("iteration,latency_ms\n");
    for (i, v) in all.iter().enumerate() {
        text += &format!("{i},{v}\n");
    }
    std::fs::write(&main_samples, text)
        .map_err(|e| format!("cannot write {}: {e}", main_samples.display()))?;
    Ok(())
}

/// The 95% half-width, in % of `median`, of the mean of the trial medians
/// (Student's t with N - 1 degrees of freedom): how far apart fresh
/// processes land, which one process's own interval cannot show.
fn between_trial_half_pct(medians: &[f64], median: f64) -> f64 {
    let n = medians.len();
    if n < 2 || median <= 0.0 {
        return 0.0;
    }
    let mean = medians.iter().sum::<f64>() / n as f64;
    let var = medians.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    100.0 * t_975(n - 1) * (var / n as f64).sqrt() / median
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_trial_interval_is_students_t() {
        // Medians 1.0, 1.1, 1.2: mean 1.1, sd 0.1, t(2) = 4.303.
        let h = between_trial_half_pct(&[1.0, 1.1, 1.2], 1.1);
        let expected = 100.0 * 4.303 * 0.1 / 3f64.sqrt() / 1.1;
        assert!((h - expected).abs() < 1e-9, "{h} {expected}");
        assert_eq!(between_trial_half_pct(&[1.0], 1.0), 0.0);
        assert_eq!(between_trial_half_pct(&[1.0, 1.0, 1.0], 1.0), 0.0);
    }
}
