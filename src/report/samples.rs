//! The per-iteration latencies a row's worker wrote
//! (`samples/<runtime>-<device>.csv`: `iteration,latency_ms`), summarized
//! for the JSON report and drawn as box plots in the HTML report.

use std::path::Path;

use serde::Serialize;

use super::{Problem, ReportRow, par_map};
pub use crate::bench::stats::Histogram;
use crate::cache::RuntimeRow;

/// Summary of one row's per-iteration latencies, in milliseconds.
/// Percentiles interpolate linearly between order statistics, as the
/// record's own statistics do (`bench::stats`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleSummary {
    pub count: usize,
    pub mean_ms: f64,
    pub std_ms: f64,
    pub cov: f64,
    pub min_ms: f64,
    pub p25_ms: f64,
    pub median_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub histogram: Histogram,
}

/// Reads a samples file: a header, then `iteration,latency_ms` lines.
/// Non-finite or negative latencies are refused (the file is damaged).
/// The format is turnkey's own and this simple; a plain line reader is
/// several times faster than building a CSV reader per file, which counts
/// when a report reads 20,000 of them.
pub fn read_samples(path: &Path) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read samples file {}: {e}", path.display()))?;
    let mut lines = bytes.split(|&b| b == b'\n');
    let col = lines
        .next()
        .and_then(|h| {
            h.split(|&b| b == b',')
                .position(|c| c.trim_ascii() == b"latency_ms")
        })
        .ok_or_else(|| {
            format!(
                "samples file {} has no latency_ms column: re-run the benchmark with --rebuild",
                path.display()
            )
        })?;
    let mut out = Vec::with_capacity(bytes.len() / 16);
    for (i, line) in lines.enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let value = line
            .split(|&b| b == b',')
            .nth(col)
            .and_then(|f| std::str::from_utf8(f.trim_ascii()).ok())
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
        match value {
            Some(v) => out.push(v),
            None => {
                return Err(format!(
                    "samples file {} line {}: not a latency in ms: re-run the benchmark with --rebuild",
                    path.display(),
                    i + 2
                ));
            }
        }
    }
    Ok(out)
}

/// The summary of `samples`; `None` when there are none. The statistics
/// are those of `bench::stats::LatencyStats` (a unit test holds them equal),
/// computed here over one sorted copy.
pub fn summarize(samples: &[f64]) -> Option<SampleSummary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let std = if sorted.len() > 1 {
        (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some(SampleSummary {
        count: sorted.len(),
        mean_ms: mean,
        std_ms: std,
        cov: if mean > 0.0 { std / mean } else { 0.0 },
        min_ms: sorted[0],
        p25_ms: quantile(&sorted, 0.25),
        median_ms: quantile(&sorted, 0.5),
        p75_ms: quantile(&sorted, 0.75),
        p90_ms: quantile(&sorted, 0.9),
        p95_ms: quantile(&sorted, 0.95),
        p99_ms: quantile(&sorted, 0.99),
        max_ms: sorted[sorted.len() - 1],
        histogram: Histogram::of_sorted(&sorted),
    })
}

/// Linear interpolation between order statistics of sorted, non-empty `s`
/// (the rule of `bench::stats` and NumPy's default).
fn quantile(s: &[f64], p: f64) -> f64 {
    let h = (s.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

/// The summary kept in the record itself, when the turnkey that wrote it
/// kept quartiles and a histogram (it equals the samples file's summary).
pub(super) fn from_record(rt: &RuntimeRow) -> Option<SampleSummary> {
    Some(SampleSummary {
        count: rt.iterations? as usize,
        mean_ms: rt.mean_ms?,
        std_ms: rt.std_ms?,
        cov: rt.cov?,
        min_ms: rt.min_ms?,
        p25_ms: rt.p25_ms?,
        median_ms: rt.median_ms?,
        p75_ms: rt.p75_ms?,
        p90_ms: rt.p90_ms?,
        p95_ms: rt.p95_ms?,
        p99_ms: rt.p99_ms?,
        max_ms: rt.max_ms?,
        histogram: rt.histogram.clone()?,
    })
    .filter(|s| {
        s.count > 0
            && s.histogram
                .counts
                .iter()
                .map(|&c| c as usize)
                .sum::<usize>()
                == s.count
    })
}

/// Reads and summarizes the samples file of every row whose record did not
/// carry its summary (all cores). A missing
/// file (`turnkey cache clean`) leaves the summary empty; a damaged one is
/// a problem naming it.
pub(super) fn attach(rows: &mut [ReportRow]) -> Vec<Problem> {
    let results = par_map(rows, |row| {
        if row.samples.is_some() {
            return None;
        }
        let path = row.samples_file.as_deref()?;
        match read_samples(path) {
            // Removed by `cache clean`: nothing to summarize, nothing wrong.
            Err(_) if !path.exists() => None,
            result => Some(result.map(|s| summarize(&s))),
        }
    });
    let mut problems = Vec::new();
    for (row, result) in rows.iter_mut().zip(results) {
        match result {
            Some(Ok(summary)) => row.samples = summary,
            Some(Err(message)) => problems.push(Problem {
                file: row.samples_file.clone().unwrap_or_default(),
                message,
            }),
            None => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::HISTOGRAM_BINS;

    #[test]
    fn reads_the_workers_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ort-cpu.csv");
        std::fs::write(&p, "iteration,latency_ms\n0,1.5\n1,0.5\n2,1\n").unwrap();
        assert_eq!(read_samples(&p).unwrap(), vec![1.5, 0.5, 1.0]);
    }

    #[test]
    fn damaged_files_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "iteration,latency_ms\n0,1.5\n1,abc\n").unwrap();
        let err = read_samples(&p).unwrap_err();
        assert!(
            err.contains("s.csv line 3") && err.contains("--rebuild"),
            "{err}"
        );
        std::fs::write(&p, "a,b\n0,1\n").unwrap();
        assert!(
            read_samples(&p)
                .unwrap_err()
                .contains("no latency_ms column")
        );
        std::fs::write(&p, "iteration,latency_ms\n0,-1\n").unwrap();
        assert!(read_samples(&p).is_err());
        let err = read_samples(&dir.path().join("missing.csv")).unwrap_err();
        assert!(err.contains("missing.csv"), "{err}");
    }

    #[test]
    fn summary_agrees_with_the_record_statistics() {
        use crate::bench::stats::LatencyStats;
        // Uneven samples, so that every percentile interpolates.
        let uneven: Vec<f64> = (0..37)
            .map(|i| ((i * 7919) % 101) as f64 / 7.0 + 0.5)
            .collect();
        let s = summarize(&uneven).unwrap();
        let st = LatencyStats::from_samples(&uneven).unwrap();
        let ours = [
            s.mean_ms,
            s.median_ms,
            s.p90_ms,
            s.p95_ms,
            s.p99_ms,
            s.min_ms,
            s.max_ms,
            s.std_ms,
            s.cov,
        ];
        let theirs = [
            st.mean_ms,
            st.median_ms,
            st.p90_ms,
            st.p95_ms,
            st.p99_ms,
            st.min_ms,
            st.max_ms,
            st.std_ms,
            st.cov,
        ];
        for (a, b) in ours.iter().zip(theirs) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{ours:?} vs {theirs:?}"
            );
        }

        let samples: Vec<f64> = (1..=101).map(|i| i as f64 / 10.0).rev().collect();
        let s = summarize(&samples).unwrap();
        let stats = LatencyStats::from_samples(&samples).unwrap();
        assert_eq!(s.count, 101);
        assert_eq!(s.median_ms, stats.median_ms);
        assert_eq!(s.p90_ms, stats.p90_ms);
        assert!((s.p25_ms - 2.6).abs() < 1e-12, "{}", s.p25_ms);
        assert!((s.p75_ms - 7.6).abs() < 1e-12, "{}", s.p75_ms);
        assert_eq!((s.min_ms, s.max_ms), (0.1, 10.1));
        let h = &s.histogram;
        assert_eq!(h.counts.len(), HISTOGRAM_BINS);
        assert_eq!(h.counts.iter().sum::<u32>(), 101);
        assert_eq!((h.lo_ms, h.hi_ms), (0.1, 10.1));
        // 101 evenly spread samples: 5 per bin, the maximum in the last.
        assert_eq!(h.counts[0], 5);
        assert_eq!(h.counts[HISTOGRAM_BINS - 1], 6);
        assert!(summarize(&[]).is_none());
        let one = summarize(&[2.0]).unwrap();
        assert_eq!(
            (one.p25_ms, one.p75_ms, one.histogram.counts[0]),
            (2.0, 2.0, 1)
        );
    }

    #[test]
    fn the_records_summary_equals_the_samples_files() {
        use crate::bench::stats::LatencyStats;
        let samples: Vec<f64> = (0..53)
            .map(|i| ((i * 31) % 17) as f64 * 0.3 + 1.0)
            .collect();
        let mut rt = RuntimeRow::new("ort", "cpu");
        rt.iterations = Some(samples.len() as u64);
        rt.set_latency(&LatencyStats::from_samples(&samples).unwrap());
        assert_eq!(from_record(&rt), summarize(&samples));
        // An older record (no quartiles) leaves the report to read the file.
        rt.p25_ms = None;
        assert_eq!(from_record(&rt), None);
    }

    #[test]
    fn attach_fills_summaries_and_reports_damage() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        let bad = dir.path().join("bad.csv");
        std::fs::write(&good, "iteration,latency_ms\n0,2\n1,4\n").unwrap();
        std::fs::write(&bad, "iteration,latency_ms\n0,x\n").unwrap();
        let row = |f: Option<&Path>| ReportRow {
            samples_file: f.map(Path::to_path_buf),
            ..Default::default()
        };
        let mut rows = vec![
            row(Some(&good)),
            row(Some(&bad)),
            row(Some(&dir.path().join("cleaned.csv"))),
            row(None),
        ];
        let problems = attach(&mut rows);
        assert_eq!(rows[0].samples.as_ref().unwrap().median_ms, 3.0);
        assert!(rows[1].samples.is_none() && rows[2].samples.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].file, bad);
    }
}
