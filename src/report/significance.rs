//! How sure a comparison is: each side's median with its 95% interval
//! (from the record, else from the samples file of a record written before
//! turnkey kept intervals), and a speedup's interval from the two, combined
//! in log space: each interval's half-width in ln(ms) is 1.96 standard
//! errors, the two add in quadrature, and the speedup's interval is
//! `exp(ln s ± 1.96 se)`.

use super::ReportRow;
use crate::cache::Status;

/// A successful row's median, when it has a usable one.
pub(super) fn measured(r: &ReportRow) -> Option<f64> {
    r.median_ms
        .filter(|ms| r.status == Status::Successful && *ms > 0.0 && ms.is_finite())
}

/// z for a two-sided 95% interval.
pub(super) const Z95: f64 = 1.959_964;

/// One side of a comparison: a median and its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Side {
    pub ms: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl Side {
    /// Standard error of ln(median), from the interval's width in ln(ms).
    pub fn se_ln(&self) -> Option<f64> {
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) if lo > 0.0 && hi >= lo => Some((hi.ln() - lo.ln()) / (2.0 * Z95)),
            _ => None,
        }
    }
}

/// The speedup `base.ms / other.ms` with its interval and verdict.
pub(super) fn speedup_ci(base: Side, other: Side) -> (f64, Option<(f64, f64)>, &'static str) {
    let s = base.ms / other.ms;
    match (base.se_ln(), other.se_ln()) {
        (Some(a), Some(b)) => {
            let se = (a * a + b * b).sqrt();
            let (lo, hi) = ((s.ln() - Z95 * se).exp(), (s.ln() + Z95 * se).exp());
            let verdict = if lo > 1.0 {
                "faster"
            } else if hi < 1.0 {
                "slower"
            } else {
                "no significant difference"
            };
            (s, Some((lo, hi)), verdict)
        }
        _ => (s, None, "unknown"),
    }
}

/// A successful row's median and its interval: the record's, else (records
/// from before turnkey kept it) one computed from the samples file.
pub(super) fn side(r: &ReportRow) -> Option<Side> {
    let ms = measured(r)?;
    if r.median_ci_lo_ms.is_some() && r.median_ci_hi_ms.is_some() {
        return Some(Side {
            ms,
            lo: r.median_ci_lo_ms,
            hi: r.median_ci_hi_ms,
        });
    }
    let from_samples = r.samples_file.as_ref().and_then(|f| {
        let mut s = super::read_samples(f).ok()?;
        s.sort_by(f64::total_cmp);
        crate::bench::robust::median_interval(&s)
    });
    Some(Side {
        ms,
        lo: from_samples.map(|c| c.0),
        hi: from_samples.map(|c| c.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ms: f64) -> ReportRow {
        ReportRow {
            median_ms: Some(ms),
            status: Status::Successful,
            ..Default::default()
        }
    }

    #[test]
    fn a_speedup_interval_from_two_medians() {
        // Checked with Python: ln-space half-widths in quadrature.
        let (s, ci, v) = speedup_ci(
            Side {
                ms: 2.0,
                lo: Some(1.9),
                hi: Some(2.1),
            },
            Side {
                ms: 1.0,
                lo: Some(0.99),
                hi: Some(1.01),
            },
        );
        let (lo, hi) = ci.unwrap();
        assert_eq!(s, 2.0);
        assert!(
            (lo - 1.900_498_08).abs() < 1e-6 && (hi - 2.104_711_41).abs() < 1e-6,
            "{lo} {hi}"
        );
        assert_eq!(v, "faster");
        let one = Side {
            ms: 1.0,
            lo: Some(0.98),
            hi: Some(1.02),
        };
        assert_eq!(speedup_ci(one, one).2, "no significant difference");
        let bare = Side {
            ms: 1.0,
            lo: None,
            hi: None,
        };
        assert_eq!(speedup_ci(one, bare), (1.0, None, "unknown"));
    }

    #[test]
    fn an_old_record_gets_its_interval_from_the_samples_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.csv");
        let mut text = String::from("iteration,latency_ms\n");
        for i in 0..100 {
            text += &format!("{i},{}\n", 1.0 + f64::from(i) / 1000.0);
        }
        std::fs::write(&file, text).unwrap();
        let old = ReportRow {
            samples_file: Some(file),
            ..row(1.05)
        };
        let s = side(&old).unwrap();
        // Ranks 40 and 61 of 1.000..1.099.
        assert_eq!((s.lo, s.hi), (Some(1.039), Some(1.06)));
        // Without a samples file: no interval, no claim.
        let s = side(&row(1.0)).unwrap();
        assert_eq!((s.lo, s.hi), (None, None));
    }
}
