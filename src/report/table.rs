//! The summary columns and how their cells read, shared by the terminal's
//! end-of-run table, the Markdown report and the HTML report's table: one
//! source of truth for "median 12.34 µs" everywhere, the terminal's row
//! lines included ([`fmt_latency`]). The terminal table is
//! plain aligned text, so it reads the same in a log file, a CI page or a
//! terminal without colors.

use super::ReportRow;

/// One summary column: its title, whether it is a number (aligned right),
/// and how a row's cell reads ("-" when there is nothing to show).
pub struct SummaryColumn {
    pub title: &'static str,
    pub numeric: bool,
    pub cell: fn(&ReportRow) -> String,
}

/// Milliseconds with three decimals (`0.012`), `-` when not measured.
pub fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

/// A latency with four significant digits in the unit that suits it:
/// `12.35 ms`, `250.0 µs`, `2.500 µs`, `850.0 ns`; `-` when not measured.
pub fn fmt_latency(ms: Option<f64>) -> String {
    let Some(ms) = ms.filter(|v| v.is_finite()) else {
        return "-".into();
    };
    let (v, unit) = match ms.abs() {
        a if a >= 1.0 || a == 0.0 => (ms, "ms"),
        a if a >= 1e-3 => (ms * 1e3, "µs"),
        _ => (ms * 1e6, "ns"),
    };
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$} {unit}")
}

/// The median's 95% interval as `±0.42%` of the median, `-` without one.
pub fn fmt_ci(median: Option<f64>, lo: Option<f64>, hi: Option<f64>) -> String {
    median
        .and_then(|m| crate::bench::stats::ci_half_pct(m, lo, hi))
        .map_or("-".into(), |p| {
            format!("±{}%", crate::bench::verdict::pct(p))
        })
}

/// A rate with one decimal (`81300.0`), `-` when not measured.
pub fn fmt_rate(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// The columns of the end-of-run summary and the Markdown report.
pub const SUMMARY_COLUMNS: [SummaryColumn; 9] = [
    SummaryColumn {
        title: "build",
        numeric: false,
        cell: |r| r.build.clone(),
    },
    SummaryColumn {
        title: "runtime",
        numeric: false,
        cell: |r| or_dash(&r.runtime),
    },
    SummaryColumn {
        title: "device",
        numeric: false,
        cell: |r| or_dash(&r.device),
    },
    SummaryColumn {
        title: "median",
        numeric: true,
        cell: |r| fmt_latency(r.median_ms),
    },
    SummaryColumn {
        title: "95% CI",
        numeric: true,
        cell: |r| fmt_ci(r.median_ms, r.median_ci_lo_ms, r.median_ci_hi_ms),
    },
    SummaryColumn {
        title: "throughput/s",
        numeric: true,
        cell: |r| fmt_rate(r.throughput),
    },
    SummaryColumn {
        title: "stability",
        numeric: false,
        cell: |r| or_dash(&crate::bench::verdict::brief(&r.stability)),
    },
    SummaryColumn {
        title: "check",
        numeric: false,
        cell: |r| or_dash(&r.check),
    },
    SummaryColumn {
        title: "status",
        numeric: false,
        cell: |r| r.status.to_string(),
    },
];

/// Precision variants' columns: the speedup over fp32 next to the accuracy
/// cost (shown when some row is a variant).
pub const VARIANT_COLUMNS: [SummaryColumn; 2] = [
    SummaryColumn {
        title: "vs fp32",
        numeric: true,
        cell: |r| r.speedup_vs_fp32.map_or("-".into(), |s| format!("{s:.2}x")),
    },
    SummaryColumn {
        title: "accuracy vs fp32",
        numeric: false,
        cell: |r| {
            let mut parts = Vec::new();
            if let Some(c) = r.cosine {
                parts.push(format!("cos {}", crate::bench::accuracy::fmt_cosine(c)));
            }
            if let Some(e) = r.rel_err {
                parts.push(format!("rel {e:.1e}"));
            }
            if let Some(t) = r.top1_agreement {
                parts.push(format!("top1 {:.0}%", t * 100.0));
            }
            if parts.is_empty() {
                "-".into()
            } else {
                parts.join(" ")
            }
        },
    },
];

/// The summary's columns for `rows`: [`SUMMARY_COLUMNS`], and
/// [`VARIANT_COLUMNS`] after `median ms` and `throughput/s` when some row
/// is a precision variant.
pub fn summary_columns(rows: &[ReportRow]) -> Vec<&'static SummaryColumn> {
    let variants = rows.iter().any(|r| !r.variant.is_empty());
    let mut out = Vec::new();
    for c in &SUMMARY_COLUMNS {
        out.push(c);
        if variants && c.title == "throughput/s" {
            out.extend(VARIANT_COLUMNS.iter());
        }
    }
    out
}

/// One line per row (build, runtime, device, median ms, throughput,
/// [vs fp32, accuracy,] stability, check, status) under a header, columns
/// aligned; ends with a newline.
pub fn summary_table(rows: &[ReportRow]) -> String {
    let columns = summary_columns(rows);
    let header: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| (c.cell)(r)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for line in &body {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&body) {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if columns[i].numeric {
                text.push_str(&pad);
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&pad);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Status;

    #[test]
    fn aligns_columns_and_marks_missing_values() {
        let rows = [
            ReportRow {
                build: "linear_turnkey_1a2b3c4d".into(),
                runtime: "ort".into(),
                device: "cpu".into(),
                median_ms: Some(0.0123),
                median_ci_lo_ms: Some(0.0122),
                median_ci_hi_ms: Some(0.0124),
                throughput: Some(81300.0),
                stability: "stable".into(),
                check: "reference".into(),
                status: Status::Successful,
                ..Default::default()
            },
            ReportRow {
                build: "broken".into(),
                status: Status::Error,
                ..Default::default()
            },
        ];
        let text = summary_table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "build                    runtime  device    median  95% CI  throughput/s  stability  check      status"
        );
        assert_eq!(
            lines[1],
            "linear_turnkey_1a2b3c4d  ort      cpu     12.30 µs  ±0.81%       81300.0  stable     reference  successful"
        );
        assert_eq!(
            lines[2],
            "broken                   -        -              -       -             -  -          -          error"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn latencies_keep_four_significant_digits_in_a_fitting_unit() {
        assert_eq!(fmt_latency(Some(0.0025)), "2.500 µs");
        assert_eq!(fmt_latency(Some(0.0008)), "800.0 ns");
        assert_eq!(fmt_latency(Some(0.000_012_34)), "12.34 ns");
        assert_eq!(fmt_latency(Some(0.25)), "250.0 µs");
        assert_eq!(fmt_latency(Some(1.0)), "1.000 ms");
        assert_eq!(fmt_latency(Some(12.345)), "12.35 ms");
        assert_eq!(fmt_latency(Some(1234.5)), "1234 ms");
        assert_eq!(fmt_latency(Some(0.0)), "0.000 ms");
        assert_eq!(fmt_latency(None), "-");
        assert_eq!(fmt_ci(Some(2.0), Some(1.99), Some(2.01)), "±0.50%");
        assert_eq!(fmt_ci(Some(2.0), None, Some(2.01)), "-");
    }
}
