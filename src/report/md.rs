//! `turnkey-report.md`: a GitHub-flavoured Markdown table to paste into a
//! pull request: the end-of-run summary's columns (the same cells as the
//! terminal), the cache when there are several, the comparison's geometric
//! means, and any problems.

use std::fmt::Write;

use super::{Exporter, Report, ReportError, summary_columns};

pub struct MarkdownExporter;

/// A table cell: `|` escaped and line breaks folded, so a cell never breaks
/// the table.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn table(out: &mut String, header: &[String], right: &[bool], rows: &[Vec<String>]) {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(header));
    let rule: Vec<String> = right
        .iter()
        .map(|r| if *r { "--:" } else { "---" }.to_string())
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for r in rows {
        out.push_str(&line(r));
    }
}

impl Exporter for MarkdownExporter {
    fn serialize(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        let several = report.caches.len() > 1;
        let _ = writeln!(
            out,
            "## turnkey report\n\n{} rows, {} builds, {} cache(s); generated {}\n",
            report.rows.len(),
            report.build_count(),
            report.caches.len(),
            report.generated.format("%Y-%m-%d %H:%M UTC")
        );
        let columns = summary_columns(&report.rows);
        let mut header: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
        let mut right: Vec<bool> = columns.iter().map(|c| c.numeric).collect();
        if several {
            header.push("cache".into());
            right.push(false);
        }
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .map(|r| {
                let mut cells: Vec<String> = columns.iter().map(|c| cell(&(c.cell)(r))).collect();
                if several {
                    cells.push(cell(&r.cache));
                }
                cells
            })
            .collect();
        table(&mut out, &header, &right, &rows);

        if let Some(c) = &report.comparison {
            let _ = writeln!(out, "\n### Speedup vs {}\n", cell(&c.baseline.to_string()));
            if c.variants.is_empty() {
                out.push_str("No build ran successfully on both sides.\n");
            } else {
                let header: Vec<String> = [
                    "variant",
                    "builds",
                    "geomean speedup",
                    "95% CI",
                    "min",
                    "max",
                    "faster",
                    "slower",
                    "no significant difference",
                ]
                .map(String::from)
                .to_vec();
                let rows: Vec<Vec<String>> = c
                    .variants
                    .iter()
                    .map(|v| {
                        vec![
                            cell(&v.name),
                            v.builds.to_string(),
                            format!("{:.2}x", v.geomean_speedup),
                            match (v.geomean_ci_lo, v.geomean_ci_hi) {
                                (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}"),
                                _ => "-".into(),
                            },
                            format!("{:.2}x", v.min_speedup),
                            format!("{:.2}x", v.max_speedup),
                            format!("{} ({} significant)", v.faster, v.significantly_faster),
                            format!("{} ({} significant)", v.slower, v.significantly_slower),
                            v.no_significant_difference.to_string(),
                        ]
                    })
                    .collect();
                table(
                    &mut out,
                    &header,
                    &[false, true, true, true, true, true, true, true, true],
                    &rows,
                );
            }
        }
        if !report.problems.is_empty() {
            out.push_str("\n### Problems\n\n");
            for p in &report.problems {
                let _ = writeln!(out, "- {}", cell(&p.message));
            }
        }
        Ok(out.into_bytes())
    }

    fn file_name(&self) -> &str {
        "turnkey-report.md"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Status;
    use crate::report::{ReportRow, summary_table};

    #[test]
    fn same_cells_as_the_terminal_and_pipes_escaped() {
        let rows = vec![
            ReportRow {
                build: "linear_1".into(),
                runtime: "ort".into(),
                device: "cpu".into(),
                median_ms: Some(0.01234),
                throughput: Some(81300.0),
                stability: "unstable: cov 9% | noisy".into(),
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
        let terminal = summary_table(&rows);
        let text = String::from_utf8(
            MarkdownExporter
                .serialize(&Report::from_rows(rows))
                .unwrap(),
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            "| build | runtime | device | median | 95% CI | throughput/s | stability | check | status |"
        );
        assert_eq!(lines[1], "|---|---|---|--:|--:|--:|---|---|---|");
        assert_eq!(
            lines[2],
            "| linear_1 | ort | cpu | 12.34 µs | - | 81300.0 | unstable: cov 9% \\| noisy | reference | successful |"
        );
        assert_eq!(lines[3], "| broken | - | - | - | - | - | - | - | error |");
        // The terminal shows the same numbers.
        assert!(terminal.contains("12.34 µs") && terminal.contains("81300.0"));
        // Every table line has the same number of unescaped separators.
        let seps = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(lines.iter().all(|l| seps(l) == 10), "{text}");
    }
}
