//! Comparisons across rows: speedups against a baseline (a cache, a
//! runtime, a device or a precision) with their 95% confidence intervals
//! and geometric mean, and batch-size sweeps.
//!
//! A speedup is baseline median / median. Its interval combines the two
//! medians' 95% intervals in log space: each interval's half-width in
//! ln(ms) is 1.96 standard errors, the two add in quadrature, and the
//! speedup's interval is `exp(ln s ± 1.96 se)`. When that interval holds
//! 1.0, the pair shows `no significant difference`. Records from before
//! turnkey kept the interval get it from their samples file; a row with
//! neither has no interval (and no significance claim).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::significance::{Side, Z95, measured, side, speedup_ci};
use super::{CacheSummary, ReportError, ReportRow};

/// What the other rows are compared with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Baseline {
    /// The same build × runtime × device in this cache (another machine,
    /// another day).
    Cache { path: String },
    /// The same build in the same cache on this runtime (on the same device
    /// as the other row, unless `device` names one).
    Runtime {
        runtime: String,
        device: Option<String>,
    },
    /// The same build × runtime × cache on this device.
    Device { device: String },
    /// The same build × runtime × device, in any cache, at this precision
    /// (`fp32`): the other precisions are compared with it.
    Precision { precision: String },
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Baseline::Cache { path } => write!(f, "cache {path}"),
            Baseline::Runtime {
                runtime,
                device: None,
            } => write!(f, "runtime {runtime}"),
            Baseline::Runtime {
                runtime,
                device: Some(d),
            } => write!(f, "runtime {runtime}/{d}"),
            Baseline::Device { device } => write!(f, "device {device}"),
            Baseline::Precision { precision } => write!(f, "precision {precision}"),
        }
    }
}

/// Speedups of every other runtime × device (× cache) against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub baseline: Baseline,
    /// One entry per compared runtime × device (× cache), by name.
    pub variants: Vec<Variant>,
    /// One entry per build × variant that ran successfully on both sides.
    pub speedups: Vec<Speedup>,
}

/// One compared runtime × device (× cache) and its speedups summarized.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Variant {
    /// `runtime/device`, with ` @ cache` when the caches differ.
    pub name: String,
    pub runtime: String,
    pub device: String,
    pub cache: String,
    /// Builds compared.
    pub builds: usize,
    /// Geometric mean of the speedups (> 1: faster than the baseline).
    pub geomean_speedup: f64,
    pub min_speedup: f64,
    pub max_speedup: f64,
    /// Builds faster / slower than the baseline.
    pub faster: usize,
    pub slower: usize,
    /// Builds whose speedup interval lies above / below 1.0, or holds it.
    pub significantly_faster: usize,
    pub significantly_slower: usize,
    pub no_significant_difference: usize,
    /// 95% interval of the geometric mean from the measurements' own
    /// uncertainty (not from the choice of builds); `None` when a build
    /// has no interval.
    pub geomean_ci_lo: Option<f64>,
    pub geomean_ci_hi: Option<f64>,
}

/// One build's speedup: baseline median / this median (> 1: faster).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Speedup {
    pub build: String,
    pub variant: String,
    pub baseline_ms: f64,
    pub median_ms: f64,
    pub speedup: f64,
    /// The speedup's 95% confidence interval.
    pub ci_lo: Option<f64>,
    pub ci_hi: Option<f64>,
    /// `faster`, `slower`, `no significant difference`, or `unknown` (no interval).
    pub verdict: String,
}

impl Speedup {
    /// `1.23x [1.20, 1.26] faster`, `0.99x [0.97, 1.01] no significant difference`.
    pub fn describe(&self) -> String {
        match (self.ci_lo, self.ci_hi) {
            (Some(lo), Some(hi)) => {
                format!("{:.3}x [{lo:.3}, {hi:.3}] {}", self.speedup, self.verdict)
            }
            _ => format!("{:.3}x (no interval)", self.speedup),
        }
    }
}

impl Comparison {
    /// One line per variant, for the terminal.
    pub fn headline(&self) -> Vec<String> {
        if self.variants.is_empty() {
            return vec![format!(
                "nothing to compare with {}: no build ran successfully on both sides",
                self.baseline
            )];
        }
        self.variants
            .iter()
            .map(|v| {
                let ci = match (v.geomean_ci_lo, v.geomean_ci_hi) {
                    (Some(lo), Some(hi)) => format!(" [{lo:.2}, {hi:.2}]"),
                    _ => String::new(),
                };
                format!(
                    "{} vs {}: {:.2}x{ci} geometric mean speedup over {} build(s) ({} faster, {} slower; significantly: {} faster, {} slower, {} no significant difference)",
                    v.name,
                    self.baseline,
                    v.geomean_speedup,
                    v.builds,
                    v.faster,
                    v.slower,
                    v.significantly_faster,
                    v.significantly_slower,
                    v.no_significant_difference
                )
            })
            .collect()
    }

    /// One line per build × variant: its speedup with the interval.
    pub fn pairs(&self) -> Vec<String> {
        self.speedups
            .iter()
            .map(|s| {
                format!(
                    "{} {} vs {}: {}",
                    s.build,
                    s.variant,
                    self.baseline,
                    s.describe()
                )
            })
            .collect()
    }
}

/// The comparison the report shows: against `baseline` when given (a cache
/// folder from `-d`, a runtime, or `runtime/device`), else against the first
/// cache when there are several, else against the reference runtime when
/// there are several runtimes or devices; `None` when there is nothing to
/// compare.
pub(super) fn compare(
    rows: &[ReportRow],
    caches: &[CacheSummary],
    baseline: Option<&str>,
) -> Result<Option<Comparison>, ReportError> {
    let baseline = match baseline {
        Some(name) => resolve(name, rows, caches)?,
        None => match default_baseline(rows, caches) {
            Some(b) => b,
            None => return Ok(None),
        },
    };
    Ok(Some(speedups(rows, baseline, caches.len() > 1)))
}

fn resolve(
    name: &str,
    rows: &[ReportRow],
    caches: &[CacheSummary],
) -> Result<Baseline, ReportError> {
    let same_dir = |a: &str| {
        a == name
            || std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(name).is_ok_and(|b| a == b))
    };
    if let Some(c) = caches.iter().find(|c| same_dir(&c.path)) {
        return Ok(Baseline::Cache {
            path: c.path.clone(),
        });
    }
    let (runtime, device) = match name.split_once('/') {
        Some((r, d)) => (r, Some(d)),
        None => (name, None),
    };
    let known = rows
        .iter()
        .any(|r| r.runtime == runtime && device.is_none_or(|d| r.device == d));
    if known {
        return Ok(Baseline::Runtime {
            runtime: runtime.to_string(),
            device: device.map(String::from),
        });
    }
    if rows
        .iter()
        .any(|r| !r.runtime.is_empty() && r.device == name)
    {
        return Ok(Baseline::Device {
            device: name.to_string(),
        });
    }
    if rows
        .iter()
        .any(|r| !r.runtime.is_empty() && r.precision == name)
    {
        return Ok(Baseline::Precision {
            precision: name.to_string(),
        });
    }
    let mut runtimes: Vec<String> = rows
        .iter()
        .filter(|r| !r.runtime.is_empty())
        .map(|r| format!("{}/{}", r.runtime, r.device))
        .collect();
    runtimes.sort();
    runtimes.dedup();
    let paths: Vec<&str> = caches.iter().map(|c| c.path.as_str()).collect();
    Err(ReportError::UnknownBaseline {
        name: name.to_string(),
        caches: paths.join(", "),
        runtimes: if runtimes.is_empty() {
            "none".into()
        } else {
            runtimes.join(", ")
        },
    })
}

fn default_baseline(rows: &[ReportRow], caches: &[CacheSummary]) -> Option<Baseline> {
    if caches.len() > 1 {
        return Some(Baseline::Cache {
            path: caches[0].path.clone(),
        });
    }
    let mut pairs: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| !r.runtime.is_empty())
        .map(|r| (r.runtime.as_str(), r.device.as_str()))
        .collect();
    pairs.sort();
    pairs.dedup();
    if pairs.len() < 2 {
        return None;
    }
    // The runtime the output check used as its reference, else the first.
    let mut references: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.check == "reference") {
        *references.entry(r.runtime.as_str()).or_default() += 1;
    }
    let runtime = references
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
        .map(|(name, _)| *name)
        .unwrap_or(pairs[0].0);
    Some(Baseline::Runtime {
        runtime: runtime.to_string(),
        device: None,
    })
}

/// What a row and its baseline row share.
type Key<'a> = (&'a str, &'a str, &'a str);

fn is_base(b: &Baseline, r: &ReportRow) -> bool {
    match b {
        Baseline::Cache { path } => &r.cache == path,
        Baseline::Runtime { runtime, device } => {
            &r.runtime == runtime && device.as_ref().is_none_or(|d| &r.device == d)
        }
        Baseline::Device { device } => &r.device == device,
        Baseline::Precision { precision } => &r.precision == precision,
    }
}

/// A baseline row's key.
fn own_key<'r>(b: &Baseline, r: &'r ReportRow) -> Key<'r> {
    match b {
        Baseline::Cache { .. } | Baseline::Precision { .. } => (&r.build, &r.runtime, &r.device),
        Baseline::Runtime { .. } => (&r.build, &r.cache, &r.device),
        Baseline::Device { .. } => (&r.build, &r.cache, &r.runtime),
    }
}

/// The key of the baseline row that `r` compares with.
fn base_key<'r>(b: &'r Baseline, r: &'r ReportRow) -> Key<'r> {
    match b {
        Baseline::Runtime {
            device: Some(d), ..
        } => (&r.build, &r.cache, d),
        _ => own_key(b, r),
    }
}

fn speedups(rows: &[ReportRow], baseline: Baseline, several_caches: bool) -> Comparison {
    let name = |r: &ReportRow| {
        if several_caches {
            format!("{}/{} @ {}", r.runtime, r.device, r.cache)
        } else {
            format!("{}/{}", r.runtime, r.device)
        }
    };
    let base: HashMap<Key<'_>, Side> = rows
        .iter()
        .filter(|r| !r.runtime.is_empty() && is_base(&baseline, r))
        .filter_map(|r| Some((own_key(&baseline, r), side(r)?)))
        .collect();
    let mut out: Vec<(Speedup, &ReportRow)> = Vec::new();
    for r in rows {
        if r.runtime.is_empty() || is_base(&baseline, r) || measured(r).is_none() {
            continue;
        }
        if let Some(&b) = base.get(&base_key(&baseline, r))
            && let Some(o) = side(r)
        {
            out.push((speedup(r, name(r), b, o), r));
        }
    }
    out.sort_by(|(a, _), (b, _)| (&a.variant, &a.build).cmp(&(&b.variant, &b.build)));
    let mut variants: Vec<Variant> = Vec::new();
    for (s, r) in &out {
        match variants.last_mut() {
            Some(v) if v.name == s.variant => add(v, s),
            _ => {
                let mut v = Variant {
                    name: s.variant.clone(),
                    runtime: r.runtime.clone(),
                    device: r.device.clone(),
                    cache: r.cache.clone(),
                    builds: 0,
                    // The sum of logs until `finish`.
                    geomean_speedup: 0.0,
                    min_speedup: f64::INFINITY,
                    max_speedup: 0.0,
                    faster: 0,
                    slower: 0,
                    significantly_faster: 0,
                    significantly_slower: 0,
                    no_significant_difference: 0,
                    // The sum of squared ln standard errors until the end.
                    geomean_ci_lo: Some(0.0),
                    geomean_ci_hi: None,
                };
                add(&mut v, s);
                variants.push(v);
            }
        }
    }
    for v in &mut variants {
        let mean_ln = v.geomean_speedup / v.builds as f64;
        v.geomean_speedup = mean_ln.exp();
        if let Some(var) = v.geomean_ci_lo {
            let se = var.sqrt() / v.builds as f64;
            v.geomean_ci_lo = Some((mean_ln - Z95 * se).exp());
            v.geomean_ci_hi = Some((mean_ln + Z95 * se).exp());
        }
    }
    Comparison {
        baseline,
        variants,
        speedups: out.into_iter().map(|(s, _)| s).collect(),
    }
}

fn speedup(r: &ReportRow, variant: String, base: Side, other: Side) -> Speedup {
    let (speedup, ci, verdict) = speedup_ci(base, other);
    Speedup {
        build: r.build.clone(),
        variant,
        baseline_ms: base.ms,
        median_ms: other.ms,
        speedup,
        ci_lo: ci.map(|c| c.0),
        ci_hi: ci.map(|c| c.1),
        verdict: verdict.to_string(),
    }
}

fn add(v: &mut Variant, s: &Speedup) {
    let x = s.speedup;
    v.builds += 1;
    v.geomean_speedup += x.ln();
    v.min_speedup = v.min_speedup.min(x);
    v.max_speedup = v.max_speedup.max(x);
    if x > 1.0 {
        v.faster += 1;
    } else if x < 1.0 {
        v.slower += 1;
    }
    match s.verdict.as_str() {
        "faster" => v.significantly_faster += 1,
        "slower" => v.significantly_slower += 1,
        "no significant difference" => v.no_significant_difference += 1,
        _ => {}
    }
    // Accumulate the variance of ln(speedup); no interval anywhere: none.
    v.geomean_ci_lo = match (v.geomean_ci_lo, s.ci_lo, s.ci_hi) {
        (Some(acc), Some(lo), Some(hi)) => {
            let se = (hi.ln() - lo.ln()) / (2.0 * Z95);
            Some(acc + se * se)
        }
        _ => None,
    };
}

/// Builds of one model that differ only by batch size, on one runtime ×
/// device × cache: throughput against batch size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    /// The model: its class (or script), with the other script arguments.
    pub model: String,
    pub runtime: String,
    pub device: String,
    pub cache: String,
    /// By batch size, at least two.
    pub points: Vec<SweepPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    pub batch_size: u64,
    pub build: String,
    pub throughput: f64,
    pub median_ms: f64,
    /// Not serialized: which of two points at one batch size is newer.
    #[serde(skip)]
    pub timestamp: Option<DateTime<Utc>>,
}

/// The batch-size sweeps among `rows`: successful rows grouped by script,
/// class, parameter count, input shapes without their batch dimension, and
/// script arguments without the batch size, per runtime × device × cache;
/// groups with at least two batch sizes. At one batch size the newest row
/// counts.
pub fn sweeps(rows: &[ReportRow]) -> Vec<Sweep> {
    type Key = (
        String,
        String,
        Option<u64>,
        String,
        String,
        String,
        String,
        String,
    );
    let mut groups: BTreeMap<Key, BTreeMap<u64, SweepPoint>> = BTreeMap::new();
    for r in rows {
        let (Some(batch), Some(throughput), Some(ms)) = (r.batch_size, r.throughput, measured(r))
        else {
            continue;
        };
        let key = (
            r.script.clone(),
            r.model_class.clone(),
            r.params,
            shapes_without_batch(&r.input_shapes),
            args_without_batch(&r.script_args),
            r.runtime.clone(),
            r.device.clone(),
            r.cache.clone(),
        );
        let point = SweepPoint {
            batch_size: batch,
            build: r.build.clone(),
            throughput,
            median_ms: ms,
            timestamp: r.timestamp,
        };
        let points = groups.entry(key).or_default();
        match points.get(&batch) {
            Some(p) if p.timestamp >= point.timestamp => {}
            _ => {
                points.insert(batch, point);
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, points)| points.len() >= 2)
        .map(
            |((script, class, _, _, args, runtime, device, cache), points)| {
                let mut model = if class.is_empty() {
                    Path::new(&script)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or(script)
                } else {
                    class
                };
                if !args.is_empty() {
                    model = format!("{model} {args}");
                }
                Sweep {
                    model,
                    runtime,
                    device,
                    cache,
                    points: points.into_values().collect(),
                }
            },
        )
        .collect()
}

/// `x:float32[8,10]; m:int64[8]` → `x:float32[N,10]; m:int64[N]`.
fn shapes_without_batch(shapes: &str) -> String {
    shapes
        .split("; ")
        .map(|s| match s.find('[') {
            Some(open) => {
                let rest = &s[open + 1..];
                let end = rest.find([',', ']']).unwrap_or(rest.len());
                format!("{}[N{}", &s[..open], &rest[end..])
            }
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The script arguments without `--batch_size N` (or `--batch-size`,
/// `--batch`, `=N` forms).
fn args_without_batch(args: &str) -> String {
    let Ok(words) = shell_words::split(args) else {
        return args.to_string();
    };
    let is_batch = |w: &str| matches!(w, "--batch_size" | "--batch-size" | "--batch");
    let mut out = Vec::new();
    let mut skip_value = false;
    for w in words {
        if skip_value {
            skip_value = false;
            continue;
        }
        if is_batch(&w) {
            skip_value = true;
            continue;
        }
        if w.split_once('=').is_some_and(|(k, _)| is_batch(k)) {
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Status;

    fn row(build: &str, rt: &str, dev: &str, cache: &str, ms: f64) -> ReportRow {
        ReportRow {
            build: build.into(),
            runtime: rt.into(),
            device: dev.into(),
            cache: cache.into(),
            median_ms: Some(ms),
            status: Status::Successful,
            ..Default::default()
        }
    }

    fn caches(paths: &[&str]) -> Vec<CacheSummary> {
        paths
            .iter()
            .map(|p| CacheSummary {
                path: p.to_string(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn runtime_baseline_gives_speedups_and_geomean() {
        let mut rows = vec![
            row("a", "ort", "cpu", "c", 1.0),
            row("a", "tract", "cpu", "c", 2.0),
            row("b", "ort", "cpu", "c", 4.0),
            row("b", "tract", "cpu", "c", 2.0),
            row("c", "tract", "cpu", "c", 1.0), // no baseline row: skipped
        ];
        let mut failed = row("d", "tract", "cpu", "c", 1.0);
        failed.status = Status::Error;
        rows.push(failed);
        rows.push(row("d", "ort", "cpu", "c", 1.0));
        rows[0].check = "reference".into();
        let c = compare(&rows, &caches(&["c"]), None).unwrap().unwrap();
        assert_eq!(
            c.baseline,
            Baseline::Runtime {
                runtime: "ort".into(),
                device: None
            }
        );
        assert_eq!(c.speedups.len(), 2);
        assert_eq!(c.speedups[0].speedup, 0.5);
        assert_eq!(c.speedups[1].speedup, 2.0);
        let v = &c.variants[0];
        assert_eq!((v.name.as_str(), v.builds), ("tract/cpu", 2));
        assert!((v.geomean_speedup - 1.0).abs() < 1e-12);
        assert_eq!(
            (v.faster, v.slower, v.min_speedup, v.max_speedup),
            (1, 1, 0.5, 2.0)
        );
        assert!(c.headline()[0].starts_with("tract/cpu vs runtime ort: 1.00x"));

        // The other way round: tract as the baseline.
        let c = compare(&rows, &caches(&["c"]), Some("tract/cpu"))
            .unwrap()
            .unwrap();
        assert_eq!(c.variants[0].name, "ort/cpu");
        assert_eq!(c.speedups[0].speedup, 2.0);
    }

    #[test]
    fn cache_baseline_matches_build_runtime_and_device() {
        let rows = vec![
            row("a", "ort", "cpu", "old", 2.0),
            row("a", "ort", "cpu", "new", 1.0),
            row("a", "tract", "cpu", "new", 1.0), // not in the baseline cache
            row("b", "ort", "cpu", "old", 3.0),
            row("b", "ort", "cpu", "new", 1.0),
        ];
        let c = compare(&rows, &caches(&["old", "new"]), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.baseline, Baseline::Cache { path: "old".into() });
        assert_eq!(c.variants.len(), 1);
        let v = &c.variants[0];
        assert_eq!(v.name, "ort/cpu @ new");
        assert!((v.geomean_speedup - 6f64.sqrt()).abs() < 1e-12);
        // Naming the second cache turns it round.
        let c = compare(&rows, &caches(&["old", "new"]), Some("new"))
            .unwrap()
            .unwrap();
        assert_eq!(c.variants[0].name, "ort/cpu @ old");
        assert!(c.variants[0].geomean_speedup < 1.0);
    }

    #[test]
    fn nothing_to_compare_and_unknown_baselines() {
        let rows = vec![row("a", "ort", "cpu", "c", 1.0)];
        assert!(compare(&rows, &caches(&["c"]), None).unwrap().is_none());
        let err = compare(&rows, &caches(&["c"]), Some("torch"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--baseline torch") && err.contains("ort/cpu"),
            "{err}"
        );
        let c = compare(&rows, &caches(&["c"]), Some("ort"))
            .unwrap()
            .unwrap();
        assert!(c.variants.is_empty());
        assert!(c.headline()[0].contains("nothing to compare"));
    }

    #[test]
    fn finds_batch_sweeps() {
        let sweep_row = |build: &str, batch: u64, args: &str, ms: f64| ReportRow {
            script: "models/bert.rhai".into(),
            model_class: "Bert".into(),
            params: Some(10),
            input_shapes: format!("ids:int64[{batch},128]; mask:int64[{batch}]"),
            script_args: args.into(),
            batch_size: Some(batch),
            throughput: Some(batch as f64 * 1000.0 / ms),
            ..row(build, "ort", "cpu", "c", ms)
        };
        let rows = vec![
            sweep_row("b1", 1, "", 1.0),
            sweep_row("b8", 8, "--batch_size 8", 4.0),
            sweep_row("b4", 4, "--batch_size=4", 2.0),
            // Another sequence length is another model.
            ReportRow {
                input_shapes: "ids:int64[2,64]; mask:int64[2]".into(),
                ..sweep_row("s64", 2, "--batch_size 2 --seq 64", 1.0)
            },
        ];
        let s = sweeps(&rows);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].model, "Bert");
        let batches: Vec<u64> = s[0].points.iter().map(|p| p.batch_size).collect();
        assert_eq!(batches, vec![1, 4, 8]);
        assert_eq!(s[0].points[2].throughput, 2000.0);
        assert_eq!(
            args_without_batch("--seq 64 --batch-size 2 --x=1"),
            "--seq 64 --x=1"
        );
        assert_eq!(shapes_without_batch("x:float32[8,10]"), "x:float32[N,10]");
    }

    fn with_ci(mut r: ReportRow, lo: f64, hi: f64) -> ReportRow {
        r.median_ci_lo_ms = Some(lo);
        r.median_ci_hi_ms = Some(hi);
        r
    }

    #[test]
    fn speedups_carry_a_95_interval_and_a_verdict() {
        // Overlapping intervals around 1.0: no significant difference.
        let rows = vec![
            with_ci(row("a", "ort", "cpu", "c", 1.00), 0.97, 1.03),
            with_ci(row("a", "tract", "cpu", "c", 1.01), 0.98, 1.04),
            with_ci(row("b", "ort", "cpu", "c", 1.0), 0.99, 1.01),
            with_ci(row("b", "tract", "cpu", "c", 2.0), 1.98, 2.02),
            // No interval on one side: no claim either way.
            row("z", "ort", "cpu", "c", 1.0),
            row("z", "tract", "cpu", "c", 3.0),
        ];
        let c = compare(&rows, &caches(&["c"]), Some("ort"))
            .unwrap()
            .unwrap();
        let by = |b: &str| c.speedups.iter().find(|s| s.build == b).unwrap();
        assert_eq!(by("a").verdict, "no significant difference");
        assert!(by("a").ci_lo.unwrap() < 1.0 && by("a").ci_hi.unwrap() > 1.0);
        assert_eq!(by("b").verdict, "slower");
        assert_eq!((by("z").verdict.as_str(), by("z").ci_lo), ("unknown", None));
        assert!(
            by("a").describe().ends_with("no significant difference"),
            "{}",
            by("a").describe()
        );
        assert_eq!(by("z").describe(), "0.333x (no interval)");
        let v = &c.variants[0];
        assert_eq!(
            (
                v.significantly_faster,
                v.significantly_slower,
                v.no_significant_difference
            ),
            (0, 1, 1)
        );
        // One build without an interval: the geometric mean has none.
        assert_eq!(v.geomean_ci_lo, None);
        let lines = c.pairs();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("a tract/cpu vs runtime ort: 0.990x ["),
            "{lines:?}"
        );
        let c = compare(&rows[..4], &caches(&["c"]), Some("ort"))
            .unwrap()
            .unwrap();
        let v = &c.variants[0];
        let (lo, hi) = (v.geomean_ci_lo.unwrap(), v.geomean_ci_hi.unwrap());
        assert!(lo < v.geomean_speedup && v.geomean_speedup < hi, "{v:?}");
        assert!(
            c.headline()[0]
                .contains("significantly: 0 faster, 1 slower, 1 no significant difference")
        );
    }

    #[test]
    fn device_and_precision_baselines() {
        let mut rows = vec![
            row("a", "ort", "cpu", "c", 4.0),
            row("a", "ort", "cuda:0", "c", 1.0),
            row("a", "torch", "cuda:0", "c", 2.0),
        ];
        let c = compare(&rows, &caches(&["c"]), Some("cpu"))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.baseline,
            Baseline::Device {
                device: "cpu".into()
            }
        );
        // ort/cuda against ort/cpu; torch has no cpu row to compare with.
        assert_eq!(c.speedups.len(), 1);
        assert_eq!(
            (c.speedups[0].variant.as_str(), c.speedups[0].speedup),
            ("ort/cuda:0", 4.0)
        );
        // Precisions across two caches: fp16 against fp32.
        rows = vec![
            ReportRow {
                precision: "fp32".into(),
                ..row("a", "ort-trt", "cuda:0", "c32", 2.0)
            },
            ReportRow {
                precision: "fp16".into(),
                ..row("a", "ort-trt", "cuda:0", "c16", 1.0)
            },
        ];
        let c = compare(&rows, &caches(&["c32", "c16"]), Some("fp32"))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.baseline,
            Baseline::Precision {
                precision: "fp32".into()
            }
        );
        assert_eq!(c.speedups[0].speedup, 2.0);
        assert_eq!(c.baseline.to_string(), "precision fp32");
    }
}
