//! Latency statistics, stability verdict and throughput.

use super::robust;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Summary of per-iteration latencies, all in milliseconds.
///
/// Percentiles interpolate linearly between the two nearest order
/// statistics: for sorted samples `x[0..n]` and fraction `p`, rank
/// `h = (n - 1) * p`, value `x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])`
/// (NumPy's default, Hyndman & Fan type 7). The median is `p = 0.5`.
/// `std_ms` is the sample standard deviation (n - 1 in the denominator; 0
/// for one sample) and `cov = std_ms / mean_ms` (a fraction, 0.05 = 5%).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub std_ms: f64,
    pub cov: f64,
    /// Quartiles, for box plots.
    #[serde(default)]
    pub p25_ms: f64,
    #[serde(default)]
    pub p75_ms: f64,
    /// The distribution's shape, kept in the record so a report over
    /// thousands of rows need not read every samples file.
    #[serde(default)]
    pub histogram: Histogram,
    /// Samples summarized.
    #[serde(default)]
    pub count: u64,
    /// The median's 95% confidence interval ([`robust::median_interval`]:
    /// order statistics, one clock tick wider each side when the clock is
    /// coarse); `None` below 6 samples.
    #[serde(default)]
    pub median_ci_lo_ms: Option<f64>,
    #[serde(default)]
    pub median_ci_hi_ms: Option<f64>,
    /// Median absolute deviation from the median (unscaled).
    #[serde(default)]
    pub mad_ms: f64,
    /// Interquartile range, `p75_ms - p25_ms`.
    #[serde(default)]
    pub iqr_ms: f64,
    /// Samples outside Tukey's fences (1.5 IQR beyond the quartiles).
    #[serde(default)]
    pub outliers: u64,
    /// Two clear modes ([`robust::bimodal`]).
    #[serde(default)]
    pub bimodal: bool,
    /// How far the median moved from the first to the last third of the
    /// samples, in % of the median ([`robust::drift_pct`]).
    #[serde(default)]
    pub drift_pct: f64,
}

/// Bins of [`Histogram`].
pub const HISTOGRAM_BINS: usize = 20;

/// Equal-width bins from `lo_ms` to `hi_ms`; the last bin includes `hi_ms`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo_ms: f64,
    pub hi_ms: f64,
    pub counts: Vec<u32>,
}

impl Histogram {
    /// [`HISTOGRAM_BINS`] bins over `sorted` (ascending, finite, non-empty).
    pub fn of_sorted(sorted: &[f64]) -> Histogram {
        let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
        let mut counts = vec![0u32; HISTOGRAM_BINS];
        let width = (hi - lo) / HISTOGRAM_BINS as f64;
        for &x in sorted {
            let bin = if width > 0.0 {
                (((x - lo) / width) as usize).min(HISTOGRAM_BINS - 1)
            } else {
                0
            };
            counts[bin] += 1;
        }
        Histogram {
            lo_ms: lo,
            hi_ms: hi,
            counts,
        }
    }
}

impl LatencyStats {
    /// Statistics of `samples_ms`; `None` when there are no finite samples.
    pub fn from_samples(samples_ms: &[f64]) -> Option<LatencyStats> {
        let mut s: Vec<f64> = samples_ms
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if s.is_empty() {
            return None;
        }
        let in_order = s.clone();
        s.sort_by(f64::total_cmp);
        let n = s.len() as f64;
        let mean = s.iter().sum::<f64>() / n;
        let var = if s.len() > 1 {
            s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let std = var.sqrt();
        let median = percentile(&s, 0.5);
        let (p25, p75) = (percentile(&s, 0.25), percentile(&s, 0.75));
        let ci = robust::median_interval(&s);
        Some(LatencyStats {
            mean_ms: mean,
            median_ms: median,
            p90_ms: percentile(&s, 0.9),
            p95_ms: percentile(&s, 0.95),
            p99_ms: percentile(&s, 0.99),
            min_ms: s[0],
            max_ms: s[s.len() - 1],
            std_ms: std,
            cov: if mean > 0.0 { std / mean } else { 0.0 },
            p25_ms: p25,
            p75_ms: p75,
            histogram: Histogram::of_sorted(&s),
            count: s.len() as u64,
            median_ci_lo_ms: ci.map(|c| c.0),
            median_ci_hi_ms: ci.map(|c| c.1),
            mad_ms: robust::mad(&s, median),
            iqr_ms: p75 - p25,
            outliers: robust::tukey_outliers(&s, p25, p75),
            bimodal: robust::bimodal(&s),
            drift_pct: robust::drift_pct(&in_order, median),
        })
    }

    /// Half the width of the median's confidence interval, in % of the
    /// median (`±0.4%`); `None` without an interval.
    pub fn ci_half_pct(&self) -> Option<f64> {
        ci_half_pct(self.median_ms, self.median_ci_lo_ms, self.median_ci_hi_ms)
    }

    /// Outliers in % of the samples.
    pub fn outlier_pct(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            100.0 * self.outliers as f64 / self.count as f64
        }
    }

    /// Samples per second: `batch_size` samples per inference at the median
    /// latency (the median resists outliers that would skew 1/mean).
    pub fn throughput(&self, batch_size: u64) -> f64 {
        throughput(batch_size, self.median_ms)
    }
}

/// `batch_size * 1000 / median_ms` samples per second; 0 when the latency is
/// not positive.
pub fn throughput(batch_size: u64, median_ms: f64) -> f64 {
    if median_ms > 0.0 {
        batch_size as f64 * 1000.0 / median_ms
    } else {
        0.0
    }
}

/// Half the width of `[lo, hi]` in % of `median`; `None` when either bound
/// is missing or the median is not positive.
pub fn ci_half_pct(median: f64, lo: Option<f64>, hi: Option<f64>) -> Option<f64> {
    match (lo, hi) {
        (Some(lo), Some(hi)) if median > 0.0 => Some(50.0 * (hi - lo) / median),
        _ => None,
    }
}

/// Linear interpolation between order statistics of sorted, non-empty `s`.
pub(crate) fn percentile(s: &[f64], p: f64) -> f64 {
    let h = (s.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

/// Whether the measurement is steady enough to trust.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Stability {
    Stable,
    Unstable { reason: String },
}

impl Stability {
    pub fn is_stable(&self) -> bool {
        matches!(self, Stability::Stable)
    }
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stability::Stable => f.write_str("stable"),
            Stability::Unstable { reason } => write!(f, "unstable: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn known_samples() {
        // 1..=10 shuffled: order must not matter.
        let s = [7.0, 1.0, 10.0, 3.0, 5.0, 2.0, 9.0, 4.0, 8.0, 6.0];
        let st = LatencyStats::from_samples(&s).unwrap();
        assert!(close(st.mean_ms, 5.5));
        assert!(close(st.median_ms, 5.5));
        // h = 9 * 0.9 = 8.1 -> 9 + 0.1 * (10 - 9)
        assert!(close(st.p90_ms, 9.1), "{}", st.p90_ms);
        assert!(close(st.p95_ms, 9.55), "{}", st.p95_ms);
        assert!(close(st.p99_ms, 9.91), "{}", st.p99_ms);
        assert_eq!((st.min_ms, st.max_ms), (1.0, 10.0));
        // Sample std of 1..=10 = sqrt(82.5 / 9).
        assert!(close(st.std_ms, (82.5f64 / 9.0).sqrt()), "{}", st.std_ms);
        assert!(close(st.cov, st.std_ms / 5.5));
    }

    #[test]
    fn odd_count_median_is_the_middle_sample() {
        let st = LatencyStats::from_samples(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(st.median_ms, 2.0);
    }

    #[test]
    fn one_sample_and_none() {
        let st = LatencyStats::from_samples(&[2.5]).unwrap();
        assert_eq!(
            (st.mean_ms, st.median_ms, st.p99_ms, st.std_ms, st.cov),
            (2.5, 2.5, 2.5, 0.0, 0.0)
        );
        assert!(LatencyStats::from_samples(&[]).is_none());
        assert!(LatencyStats::from_samples(&[f64::NAN]).is_none());
    }

    #[test]
    fn throughput_counts_the_batch_at_the_median() {
        // Mean is dragged up by one outlier; the median is 2 ms.
        let st = LatencyStats::from_samples(&[2.0, 2.0, 2.0, 2.0, 100.0]).unwrap();
        assert_eq!(st.throughput(8), 4000.0);
        assert_eq!(st.throughput(1), 500.0);
        assert_eq!(throughput(4, 0.0), 0.0);
    }

    #[test]
    fn a_coarse_clock_widens_the_interval() {
        // Half the samples at 2.00 us, the rest 10 ns either side: without
        // the tick the interval would be [2.00, 2.00].
        let mut v = vec![0.002; 50];
        v.extend([0.00199; 25]);
        v.extend([0.00201; 25]);
        let st = LatencyStats::from_samples(&v).unwrap();
        let (lo, hi) = (st.median_ci_lo_ms.unwrap(), st.median_ci_hi_ms.unwrap());
        assert!(
            (lo - 0.00199).abs() < 1e-12 && (hi - 0.00201).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn robust_fields() {
        let mut s: Vec<f64> = (1..=100).map(f64::from).collect();
        s.push(1000.0);
        let st = LatencyStats::from_samples(&s).unwrap();
        assert_eq!(st.count, 101);
        assert_eq!(st.median_ms, 51.0);
        // n = 101: ranks 41 and 61 (k = 41, checked with Python's math.comb).
        assert_eq!(
            (st.median_ci_lo_ms, st.median_ci_hi_ms),
            (Some(41.0), Some(61.0))
        );
        assert!((st.ci_half_pct().unwrap() - 100.0 * 10.0 / 51.0).abs() < 1e-9);
        assert_eq!(st.iqr_ms, st.p75_ms - st.p25_ms);
        assert_eq!(st.mad_ms, 25.0);
        assert_eq!(st.outliers, 1);
        assert!((st.outlier_pct() - 100.0 / 101.0).abs() < 1e-9);
        assert!(!st.bimodal);
        let few = LatencyStats::from_samples(&[1.0, 2.0]).unwrap();
        assert_eq!((few.median_ci_lo_ms, few.ci_half_pct()), (None, None));
        // Records from before these fields read with defaults.
        let old = r#"{"mean_ms":1,"median_ms":1,"p90_ms":1,"p95_ms":1,"p99_ms":1,
            "min_ms":1,"max_ms":1,"std_ms":0,"cov":0}"#;
        let st: LatencyStats = serde_json::from_str(old).unwrap();
        assert_eq!((st.count, st.median_ci_lo_ms, st.outliers), (0, None, 0));
    }
}
