//! The verdict on a row: `stable` when the median's 95% confidence interval
//! is within the target (`--target-ci`, ±1% by default) and nothing on the
//! host may have biased it; otherwise `unstable`, saying why.
//!
//! Two kinds of reasons. Disturbances make a row unstable even when its
//! interval is tight, because the median itself may be off: a noisy host
//! (other processes' CPU time competing with the worker's, or its threads
//! waiting for a CPU), VM steal time, a CPU clock that changed, a throttled
//! GPU, two modes. Explanations say why an interval is wide: outliers, a
//! drift, a warm-up that never settled, trials that disagree, too few
//! samples for the target.

use super::host::HostNoise;
use super::stats::{LatencyStats, Stability};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The default `--target-ci`: the median within ±1%.
pub const DEFAULT_TARGET_CI_PCT: f64 = 1.0;

/// Other processes must use at least this many cores to count as noise.
const OTHER_CORES: f64 = 0.2;
/// The share of their ready time the worker's threads waited for a CPU
/// that shows contention by itself, and the level that confirms it.
const WAIT_ALONE_PCT: f64 = 20.0;
const WAIT_CONFIRMS_PCT: f64 = 5.0;
/// VM steal time that counts, % of CPU time.
const STEAL_PCT: f64 = 2.0;
/// A CPU clock change that counts: (max - min) / max.
const CLOCK_CHANGE: f64 = 0.05;
/// Outliers worth naming, % of samples.
const OUTLIERS_PCT: f64 = 2.0;
/// A drift worth naming, % of the median.
const DRIFT_PCT: f64 = 2.0;

/// Why measuring stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The median's interval reached the target (after the floors).
    #[default]
    Target,
    /// `--max-time` ran out first.
    MaxTime,
    /// `--iterations N` fixed the count.
    Iterations,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Target => "target",
            Stop::MaxTime => "max_time",
            Stop::Iterations => "iterations",
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Between-trial spread of a row run in several processes (`--trials`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrialSpread {
    pub trials: usize,
    pub min_median_ms: f64,
    pub max_median_ms: f64,
    /// The between-trial part of the interval is the wider one.
    pub dominates: bool,
}

/// Everything the verdict looks at.
pub struct Evidence<'a> {
    /// The latency statistics, whose median interval may already include
    /// the between-trial spread.
    pub stats: &'a LatencyStats,
    pub target_ci_pct: f64,
    pub stop: Stop,
    /// `--max-time`, for the message.
    pub max_time_s: f64,
    pub host: Option<&'a HostNoise>,
    pub warmup_steady: Option<bool>,
    /// NVML throttle reasons seen while measuring (GPU rows).
    pub gpu_throttle: &'a [String],
    pub trials: Option<TrialSpread>,
}

/// `0.43` → `0.43`, `3.41` → `3.4`, `12.3` → `12`: two significant digits
/// (`<0.01` below that, `0` for none).
pub fn pct(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a < 0.005 {
        "<0.01".to_string()
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The host-level reasons (each a disturbance).
pub fn host_reasons(h: &HostNoise) -> Vec<String> {
    let mut out = Vec::new();
    let wait = h.wait_pct.unwrap_or(0.0);
    let cpus = h.cpus.max(1);
    let mut noisy = false;
    if let Some(other) = h.other_cores {
        let measurable = other >= OTHER_CORES && other > h.other_cores_resolution.unwrap_or(0.0);
        let own = h.own_cores.unwrap_or(0.0);
        let contended = other + own >= f64::from(cpus) - 0.5 || wait >= WAIT_CONFIRMS_PCT;
        if measurable && contended {
            noisy = true;
            let mut s = format!(
                "noisy host: other processes used {other:.1} of {cpus} cores during the row"
            );
            if wait >= WAIT_CONFIRMS_PCT {
                s += &format!(
                    ", and the worker's threads waited for a CPU {}% of their time",
                    pct(wait)
                );
            }
            out.push(s);
        }
    }
    if !noisy && wait >= WAIT_ALONE_PCT {
        noisy = true;
        out.push(format!(
            "noisy host: the worker's threads waited for a CPU {}% of their time",
            pct(wait)
        ));
    }
    if noisy
        && let Some(l) = h.loadavg
        && l > f64::from(cpus)
        && let Some(last) = out.last_mut()
    {
        *last += &format!(" (load average {l:.1})");
    }
    if let Some(s) = h.steal_pct.filter(|s| *s >= STEAL_PCT) {
        out.push(format!("VM steal time {}% of the CPU time", pct(s)));
    }
    if let (Some(lo), Some(hi)) = (h.cpu_mhz_min, h.cpu_mhz_max)
        && hi > 0.0
        && (hi - lo) / hi > CLOCK_CHANGE
    {
        out.push(format!("CPU frequency changed: {lo:.0}-{hi:.0} MHz"));
    }
    out
}

/// The verdict, with its reasons in the order a user should act on them.
pub fn judge(e: &Evidence<'_>) -> Stability {
    let s = e.stats;
    let ci = s.ci_half_pct();
    let ci_ok = ci.is_some_and(|c| c <= e.target_ci_pct);

    let mut disturbances = e.host.map(host_reasons).unwrap_or_default();
    if !e.gpu_throttle.is_empty() {
        disturbances.push(format!("throttled: {}", e.gpu_throttle.join(", ")));
    }
    if s.bimodal {
        disturbances.push("bimodal".to_string());
    }

    let mut explanations = Vec::new();
    if let Some(t) = &e.trials
        && t.dominates
        && !ci_ok
    {
        let spread = 100.0 * (t.max_median_ms - t.min_median_ms) / s.median_ms;
        explanations.push(format!(
            "trials disagree: medians {}-{} ms over {} processes ({}%)",
            sig(t.min_median_ms),
            sig(t.max_median_ms),
            t.trials,
            pct(spread)
        ));
    }
    if s.drift_pct.abs() >= DRIFT_PCT {
        explanations.push(format!(
            "drift: the median moved {}{}% during the row",
            if s.drift_pct > 0.0 { "+" } else { "" },
            pct(s.drift_pct)
        ));
    }
    if s.outlier_pct() >= OUTLIERS_PCT {
        explanations.push(format!("outliers {}%", pct(s.outlier_pct())));
    }
    if e.warmup_steady == Some(false) {
        explanations.push("warm-up never settled (--warmup-max-time)".to_string());
    }

    if ci_ok && disturbances.is_empty() {
        return Stability::Stable;
    }
    let mut reasons = disturbances;
    let ci_text = ci.map(|c| format!("median ±{}%", pct(c)));
    if ci_ok {
        let ci_text = ci_text.unwrap_or_default();
        return Stability::Unstable {
            reason: format!("{} ({ci_text})", reasons.join("; ")),
        };
    }
    reasons.extend(explanations);
    let too_few = match (ci, e.stop) {
        (None, _) => format!(
            "too few samples for a 95% interval ({} iterations)",
            s.count
        ),
        (Some(_), Stop::Iterations) => format!(
            "too few samples for the target: {} iterations (--iterations)",
            s.count
        ),
        (Some(_), Stop::MaxTime) => format!(
            "too few samples for the target: {} iterations in --max-time {} s",
            s.count, e.max_time_s
        ),
        // Trials pool processes that each reached the target.
        (Some(_), Stop::Target) => String::new(),
    };
    if reasons.is_empty() && too_few.is_empty() {
        reasons.push(format!("wide spread (CoV {}%)", pct(100.0 * s.cov)));
    }
    if !too_few.is_empty() {
        reasons.push(too_few);
    }
    let head = match ci {
        Some(c) => format!("median ±{}% > ±{}% target", pct(c), pct(e.target_ci_pct)),
        None => "no interval".to_string(),
    };
    Stability::Unstable {
        reason: format!("{head}: {}", reasons.join("; ")),
    }
}

/// A verdict in a few words, for tables: `stable`, or `unstable: ` and the
/// name of each reason (`noisy host, outliers 7%`).
pub fn brief(verdict: &str) -> String {
    let Some(reasons) = verdict.strip_prefix("unstable: ") else {
        return verdict.to_string();
    };
    // Drop the interval's head ("median ±3.4% > ±1.0% target: ").
    let reasons = match reasons.split_once(" target: ") {
        Some((_, rest)) => rest,
        None => reasons.strip_prefix("no interval: ").unwrap_or(reasons),
    };
    let names: Vec<&str> = reasons
        .split("; ")
        .map(|r| {
            let r = r.split(" (").next().unwrap_or(r);
            let name = r.split(':').next().unwrap_or(r);
            name.strip_suffix(" for the target")
                .or_else(|| name.strip_suffix(" for a 95% interval"))
                .unwrap_or(name)
                .trim()
        })
        .collect();
    format!("unstable: {}", names.join(", "))
}

/// Four significant digits, no exponent for everyday latencies.
fn sig(v: f64) -> String {
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else if a >= 1.0 {
        3
    } else if a > 0.0 {
        (3 - a.log10().floor() as i32).clamp(3, 12) as usize
    } else {
        0
    };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight() -> LatencyStats {
        // 1000 samples within ±0.5% of 1 ms: the interval is a sliver.
        let s: Vec<f64> = (0..1000)
            .map(|i| 1.0 + 0.01 * ((i * 7919 % 1000) as f64 / 1000.0 - 0.5))
            .collect();
        LatencyStats::from_samples(&s).unwrap()
    }

    fn wide() -> LatencyStats {
        // 20 samples from 0.5 to 1.5 ms.
        let s: Vec<f64> = (0..20).map(|i| 0.5 + (i * 7 % 20) as f64 / 19.0).collect();
        LatencyStats::from_samples(&s).unwrap()
    }

    fn evidence<'a>(stats: &'a LatencyStats, host: Option<&'a HostNoise>) -> Evidence<'a> {
        Evidence {
            stats,
            target_ci_pct: 1.0,
            stop: Stop::Target,
            max_time_s: 10.0,
            host,
            warmup_steady: Some(true),
            gpu_throttle: &[],
            trials: None,
        }
    }

    fn quiet() -> HostNoise {
        HostNoise {
            window_s: 2.0,
            cpus: 2,
            other_cores: Some(0.05),
            other_cores_resolution: Some(0.01),
            own_cores: Some(1.0),
            wait_pct: Some(0.1),
            steal_pct: Some(0.0),
            loadavg: Some(0.3),
            cpu_mhz_min: Some(2600.0),
            cpu_mhz_max: Some(2600.0),
            ..Default::default()
        }
    }

    #[test]
    fn a_tight_interval_on_a_quiet_host_is_stable() {
        let s = tight();
        assert!(s.ci_half_pct().unwrap() < 0.1);
        let h = quiet();
        assert_eq!(judge(&evidence(&s, Some(&h))), Stability::Stable);
        assert_eq!(judge(&evidence(&s, None)), Stability::Stable);
    }

    #[test]
    fn a_busy_host_is_named_even_with_a_tight_interval() {
        let s = tight();
        let h = HostNoise {
            other_cores: Some(0.9),
            loadavg: Some(3.2),
            ..quiet()
        };
        let v = judge(&evidence(&s, Some(&h))).to_string();
        assert!(
            v.starts_with(
                "unstable: noisy host: other processes used 0.9 of 2 cores during the row (load average 3.2) (median ±0.0"
            ),
            "{v}"
        );
        // Threads waiting for a CPU show contention by themselves.
        let h = HostNoise {
            other_cores: Some(0.1),
            wait_pct: Some(35.0),
            ..quiet()
        };
        let v = judge(&evidence(&s, Some(&h))).to_string();
        assert!(
            v.contains("the worker's threads waited for a CPU 35% of their time"),
            "{v}"
        );
        // On a big machine, other processes on free cores are no contention.
        let h = HostNoise {
            cpus: 64,
            other_cores: Some(2.0),
            own_cores: Some(4.0),
            ..quiet()
        };
        assert_eq!(judge(&evidence(&s, Some(&h))), Stability::Stable);
        // A busy reading coarser than its value is not trusted.
        let h = HostNoise {
            other_cores: Some(0.3),
            other_cores_resolution: Some(0.4),
            ..quiet()
        };
        assert_eq!(judge(&evidence(&s, Some(&h))), Stability::Stable);
    }

    #[test]
    fn steal_clock_throttle_and_modes_are_disturbances() {
        let s = tight();
        let h = HostNoise {
            steal_pct: Some(6.0),
            cpu_mhz_min: Some(1800.0),
            cpu_mhz_max: Some(3400.0),
            ..quiet()
        };
        let v = judge(&evidence(&s, Some(&h))).to_string();
        assert!(v.contains("VM steal time 6.0% of the CPU time"), "{v}");
        assert!(v.contains("CPU frequency changed: 1800-3400 MHz"), "{v}");
        let throttle = ["sw_thermal_slowdown".to_string()];
        let e = Evidence {
            gpu_throttle: &throttle,
            ..evidence(&s, None)
        };
        assert!(
            judge(&e)
                .to_string()
                .contains("throttled: sw_thermal_slowdown")
        );
        let mut two: Vec<f64> = (0..300).map(|i| 1.0 + 0.00001 * f64::from(i)).collect();
        two.extend((0..200).map(|i| 1.3 + 0.00001 * f64::from(i)));
        let b = LatencyStats::from_samples(&two).unwrap();
        assert!(b.bimodal);
        assert!(judge(&evidence(&b, None)).to_string().contains("bimodal"));
    }

    #[test]
    fn a_wide_interval_says_why() {
        let s = wide();
        let v = judge(&Evidence {
            stop: Stop::MaxTime,
            ..evidence(&s, Some(&quiet()))
        })
        .to_string();
        assert!(v.starts_with("unstable: median ±"), "{v}");
        assert!(
            v.contains(
                "> ±1.0% target: too few samples for the target: 20 iterations in --max-time 10 s"
            ),
            "{v}"
        );
        let v = judge(&Evidence {
            stop: Stop::Iterations,
            ..evidence(&s, None)
        })
        .to_string();
        assert!(v.contains("20 iterations (--iterations)"), "{v}");
        let few = LatencyStats::from_samples(&[1.0, 1.1, 1.2]).unwrap();
        let v = judge(&Evidence {
            stop: Stop::Iterations,
            ..evidence(&few, None)
        })
        .to_string();
        assert_eq!(
            v,
            "unstable: no interval: too few samples for a 95% interval (3 iterations)"
        );
    }

    #[test]
    fn outliers_drift_warmup_and_trials_explain_a_wide_interval() {
        let mut v: Vec<f64> = (0..100)
            .map(|i| 1.0 + 0.2 * f64::from(i % 10) / 10.0)
            .collect();
        for x in v.iter_mut().skip(66) {
            *x += 0.05;
        }
        for x in v.iter_mut().step_by(20) {
            *x = 5.0;
        }
        let s = LatencyStats::from_samples(&v).unwrap();
        let text = judge(&Evidence {
            target_ci_pct: 0.1,
            stop: Stop::MaxTime,
            warmup_steady: Some(false),
            trials: Some(TrialSpread {
                trials: 3,
                min_median_ms: 1.05,
                max_median_ms: 1.2,
                dominates: true,
            }),
            ..evidence(&s, None)
        })
        .to_string();
        assert!(
            text.contains("trials disagree: medians 1.050-1.200 ms over 3 processes"),
            "{text}"
        );
        assert!(text.contains("drift: the median moved +"), "{text}");
        assert!(text.contains("outliers 5.0%"), "{text}");
        assert!(text.contains("warm-up never settled"), "{text}");
    }

    #[test]
    fn brief_names_each_reason() {
        assert_eq!(brief("stable"), "stable");
        assert_eq!(
            brief(
                "unstable: median ±3.4% > ±1.0% target: noisy host: other processes used 0.9 of 2 cores during the row (load average 3.1); outliers 7.0%; too few samples for the target: 20 iterations in --max-time 10 s"
            ),
            "unstable: noisy host, outliers 7.0%, too few samples"
        );
        assert_eq!(
            brief(
                "unstable: noisy host: other processes used 1.5 of 2 cores during the row (median ±0.12%)"
            ),
            "unstable: noisy host"
        );
        assert_eq!(
            brief("unstable: no interval: too few samples for a 95% interval (3 iterations)"),
            "unstable: too few samples"
        );
        assert_eq!(
            brief("unstable: CoV 9.0% > 5.0%"),
            "unstable: CoV 9.0% > 5.0%"
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(pct(0.432), "0.43");
        assert_eq!(pct(3.41), "3.4");
        assert_eq!(pct(12.3), "12");
        assert_eq!(pct(0.001), "<0.01");
        assert_eq!(pct(0.0), "0");
        assert_eq!(sig(0.0025), "0.002500");
        assert_eq!(sig(12.345), "12.35");
        assert_eq!(Stop::MaxTime.to_string(), "max_time");
        assert_eq!(
            serde_json::to_string(&Stop::Iterations).unwrap(),
            "\"iterations\""
        );
    }
}
