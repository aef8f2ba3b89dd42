//! The end-of-run summary the terminal prints: plain aligned text, so it
//! reads the same in a log file, a CI page or a terminal without colors.

use super::ReportRow;

const HEADER: [&str; 8] = [
    "build",
    "runtime",
    "device",
    "median ms",
    "throughput/s",
    "stability",
    "check",
    "status",
];
/// Columns aligned to the right (numbers).
const NUMERIC: [bool; 8] = [false, false, false, true, true, false, false, false];

fn cells(row: &ReportRow) -> [String; 8] {
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    [
        row.build.clone(),
        or_dash(&row.runtime),
        or_dash(&row.device),
        row.median_ms.map_or("-".into(), |v| format!("{v:.3}")),
        row.throughput.map_or("-".into(), |v| format!("{v:.1}")),
        or_dash(&row.stability),
        or_dash(&row.check),
        row.status.to_string(),
    ]
}

/// One line per row (build, runtime, device, median ms, throughput,
/// stability, check, status) under a header, columns aligned; ends with a
/// newline.
pub fn summary_table(rows: &[ReportRow]) -> String {
    let body: Vec<[String; 8]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for line in &body {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header = HEADER.map(String::from);
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&body) {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if NUMERIC[i] {
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
            "build                    runtime  device  median ms  throughput/s  stability  check      status"
        );
        assert_eq!(
            lines[1],
            "linear_turnkey_1a2b3c4d  ort      cpu         0.012       81300.0  stable     reference  successful"
        );
        assert_eq!(
            lines[2],
            "broken                   -        -               -             -  -          -          error"
        );
        assert!(!text.contains('\x1b'));
    }
}
