//! `turnkey-report.html`: one self-contained page (inline CSS, SVG charts
//! drawn by plotters, a small script; nothing loaded from elsewhere, so it
//! opens offline and can be mailed or attached to CI runs):
//!
//! - a summary card per cache: machines, CPU/GPU, runtime versions, dates,
//!   counts of successful and failed rows;
//! - problems met while reading (unreadable records, damaged samples);
//! - the results table: sortable, filterable, paged (usable at 10,000 rows),
//!   with status, stability and check badges; its cells are the terminal
//!   summary's cells (`table::SUMMARY_COLUMNS`);
//! - charts: median latency per model by runtime/device (log scale when the
//!   spread is wide), the latency distribution of each row from its samples
//!   (box plots), throughput against batch size for sweeps, % of peak;
//! - the comparison against the baseline: speedup per build and the
//!   geometric mean per runtime/device/cache.
//!
//! Charts show at most [`MAX_CHART_ROWS`] models or rows (the table and the
//! JSON have everything); beyond that an aggregate chart shows all builds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use super::charts::{Bars, Boxes, Lines, Scale, compact, wide_spread};
use super::{
    Exporter, Report, ReportError, ReportRow, fmt_latency, fmt_ms, fmt_rate, read_samples,
    summary_columns, sweeps,
};
use crate::cache::Status;

/// Models (or rows) drawn in one chart at most.
pub const MAX_CHART_ROWS: usize = 40;
/// Rows per page of the tables at first.
const PAGE_SIZE: usize = 100;

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn serialize(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        Ok(page(report)?.into_bytes())
    }

    fn file_name(&self) -> &str {
        "turnkey-report.html"
    }
}

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can sit inside `<script>`: no `<` can close the element.
fn script_json(value: &impl Serialize) -> Result<String, ReportError> {
    let text = serde_json::to_string(value).map_err(|e| ReportError::Format {
        format: "html",
        message: e.to_string(),
    })?;
    Ok(text.replace('<', "\\u003c"))
}

fn chart_error(message: String) -> ReportError {
    ReportError::Format {
        format: "html",
        message: format!("cannot draw a chart: {message}"),
    }
}

#[derive(Serialize)]
struct Column {
    title: String,
    numeric: bool,
    /// `text`, `status`, `stability`, `check`, `error`: how the script shows the cell.
    kind: &'static str,
    /// Offer a drop-down filter of this column's values.
    filter: bool,
}

#[derive(Serialize)]
struct TableData {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    #[serde(rename = "pageSize")]
    page_size: usize,
}

fn col(title: &str, numeric: bool, kind: &'static str, filter: bool) -> Column {
    Column {
        title: title.to_string(),
        numeric,
        kind,
        filter,
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn results_table(report: &Report) -> TableData {
    let several = report.caches.len() > 1;
    let summary = summary_columns(&report.rows);
    let mut columns: Vec<Column> = summary
        .iter()
        .map(|c| {
            let (kind, filter) = match c.title {
                "status" => ("status", true),
                "stability" => ("stability", false),
                "check" => ("check", true),
                "runtime" | "device" => ("text", true),
                _ => ("text", false),
            };
            col(c.title, c.numeric, kind, filter)
        })
        .collect();
    columns.extend([
        col("p90 ms", true, "text", false),
        col("p99 ms", true, "text", false),
        col("cov %", true, "text", false),
        col("compile ms", true, "text", false),
        col("first ms", true, "text", false),
        col("iterations", true, "text", false),
        col("batch", true, "text", false),
        col("params", true, "text", false),
        col("weights", false, "text", true),
        col("GFLOP/s", true, "text", false),
        col("% of peak", true, "text", false),
        col("peak RSS MB", true, "text", false),
    ]);
    if several {
        columns.push(col("cache", false, "text", true));
    }
    columns.push(col("error", false, "error", false));
    let rows = report
        .rows
        .iter()
        .map(|r| {
            // The page has room for the whole verdict; the terminal's is brief.
            let mut cells: Vec<String> = summary
                .iter()
                .map(|c| match c.title {
                    "stability" if !r.stability.is_empty() => r.stability.clone(),
                    _ => (c.cell)(r),
                })
                .collect();
            cells.extend([
                fmt_ms(r.p90_ms),
                fmt_ms(r.p99_ms),
                fmt_rate(r.cov.map(|c| c * 100.0)),
                fmt_ms(r.compile_ms),
                fmt_ms(r.first_ms),
                opt(r.iterations),
                opt(r.batch_size),
                opt(r.params),
                r.weights.clone(),
                fmt_ms(r.achieved_flops.map(|f| f / 1e9)),
                fmt_rate(r.pct_of_peak),
                fmt_rate(r.peak_rss_mb),
            ]);
            if several {
                cells.push(r.cache.clone());
            }
            cells.push(r.error.clone());
            cells
        })
        .collect();
    TableData {
        columns,
        rows,
        page_size: PAGE_SIZE,
    }
}

fn speedups_table(report: &Report) -> Option<TableData> {
    let c = report.comparison.as_ref()?;
    if c.speedups.is_empty() {
        return None;
    }
    Some(TableData {
        columns: vec![
            col("build", false, "text", false),
            col("variant", false, "text", true),
            col("baseline", true, "text", false),
            col("median", true, "text", false),
            col("speedup", true, "text", false),
            col("95% CI", false, "text", false),
            col("verdict", false, "text", true),
        ],
        rows: c
            .speedups
            .iter()
            .map(|s| {
                vec![
                    s.build.clone(),
                    s.variant.clone(),
                    fmt_latency(Some(s.baseline_ms)),
                    fmt_latency(Some(s.median_ms)),
                    format!("{:.3}", s.speedup),
                    match (s.ci_lo, s.ci_hi) {
                        (Some(lo), Some(hi)) => format!("{lo:.3} – {hi:.3}"),
                        _ => "-".into(),
                    },
                    s.verdict.clone(),
                ]
            })
            .collect(),
        page_size: PAGE_SIZE,
    })
}

/// `runtime/device`, with ` @ cache` when the report spans several caches.
fn series_name(r: &ReportRow, several_caches: bool) -> String {
    if several_caches {
        format!("{}/{} @ {}", r.runtime, r.device, r.cache)
    } else {
        format!("{}/{}", r.runtime, r.device)
    }
}

fn measured(r: &ReportRow) -> Option<f64> {
    r.median_ms
        .filter(|ms| r.status == Status::Successful && *ms > 0.0 && ms.is_finite())
}

struct Figure {
    svg: String,
    caption: String,
}

fn figure(out: &mut String, f: &Figure) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\">{}<figcaption>{}</figcaption></figure>",
        f.svg,
        esc(&f.caption)
    );
}

/// Median latency per build, one bar per runtime/device (/cache); at most
/// [`MAX_CHART_ROWS`] builds.
fn latency_chart(report: &Report) -> Result<Option<Figure>, ReportError> {
    let several = report.caches.len() > 1;
    let measured_rows: Vec<(&ReportRow, f64)> = report
        .rows
        .iter()
        .filter_map(|r| Some((r, measured(r)?)))
        .collect();
    if measured_rows.is_empty() {
        return Ok(None);
    }
    let builds: BTreeSet<&str> = measured_rows
        .iter()
        .map(|(r, _)| r.build.as_str())
        .collect();
    let series: BTreeSet<String> = measured_rows
        .iter()
        .map(|(r, _)| series_name(r, several))
        .collect();
    let series: Vec<String> = series.into_iter().collect();
    let shown: Vec<String> = builds
        .iter()
        .take(MAX_CHART_ROWS)
        .map(|b| b.to_string())
        .collect();
    let mut values = vec![vec![None; series.len()]; shown.len()];
    for (r, ms) in &measured_rows {
        let (Ok(b), Ok(s)) = (
            shown.binary_search(&r.build),
            series.binary_search(&series_name(r, several)),
        ) else {
            continue;
        };
        values[b][s] = Some(*ms);
    }
    let log = wide_spread(values.iter().flatten().flatten().copied());
    let svg = Bars {
        intervals: &[],
        title: "Median latency per model",
        x_desc: if log {
            "median ms (log scale)"
        } else {
            "median ms"
        },
        categories: &shown,
        series: &series,
        values: &values,
        // The same test as the caption's: log when the spread is wide.
        scale: Scale::Auto,
        rule: None,
    }
    .svg()
    .map_err(chart_error)?;
    let mut caption = format!(
        "Median latency of each successful row, grouped by runtime/device; shorter is faster. {} axis.",
        if log {
            "Logarithmic (the medians spread widely)"
        } else {
            "Linear"
        }
    );
    if builds.len() > shown.len() {
        let _ = write!(
            caption,
            " The first {} of {} builds by name; the table lists all.",
            shown.len(),
            builds.len()
        );
    }
    Ok(Some(Figure { svg, caption }))
}

/// Every build's median per runtime/device as one box each (log space):
/// the picture of a large corpus the per-model chart cannot show.
fn latency_overview_chart(report: &Report) -> Result<Option<Figure>, ReportError> {
    let several = report.caches.len() > 1;
    let mut by_series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &report.rows {
        if let Some(ms) = measured(r) {
            by_series
                .entry(series_name(r, several))
                .or_default()
                .push(ms.log10());
        }
    }
    let builds: BTreeSet<&str> = report.rows.iter().map(|r| r.build.as_str()).collect();
    if builds.len() <= MAX_CHART_ROWS || by_series.is_empty() {
        return Ok(None);
    }
    let categories: Vec<String> = by_series
        .iter()
        .map(|(k, v)| format!("{k} ({} builds)", v.len()))
        .collect();
    let values: Vec<Vec<f64>> = by_series.into_values().collect();
    let svg = Boxes {
        title: "Median latency across all builds",
        x_desc: "median ms (log scale)",
        categories: &categories,
        values: &values,
        label: &|v| compact(10f64.powf(v)),
        clamp: None,
    }
    .svg()
    .map_err(chart_error)?;
    Ok(Some(Figure {
        svg,
        caption: format!(
            "The median latencies of all {} builds, one box per runtime/device: quartiles, whiskers at 1.5 IQR, dots at the fastest and slowest build.",
            builds.len()
        ),
    }))
}

/// Box plots of each row's per-iteration latencies, relative to its median.
fn distribution_chart(report: &Report) -> Result<Option<Figure>, ReportError> {
    let several = report.caches.len() > 1;
    let mut categories = Vec::new();
    let mut values = Vec::new();
    let mut with_samples = 0usize;
    for r in &report.rows {
        let (Some(ms), Some(path)) = (measured(r), r.samples_file.as_deref()) else {
            continue;
        };
        if !path.exists() {
            continue;
        }
        with_samples += 1;
        if categories.len() >= MAX_CHART_ROWS {
            continue;
        }
        let Ok(samples) = read_samples(path) else {
            continue;
        };
        if samples.is_empty() {
            continue;
        }
        categories.push(format!(
            "{} · {} ({} ms)",
            r.build,
            series_name(r, several),
            fmt_ms(Some(ms))
        ));
        values.push(samples.iter().map(|s| s / ms).collect::<Vec<f64>>());
    }
    if categories.is_empty() {
        return Ok(None);
    }
    let svg = Boxes {
        title: "Latency distribution per row",
        x_desc: "iteration latency ÷ the row's median",
        categories: &categories,
        values: &values,
        label: &|v| format!("{v:.2}"),
        // Past 4x the median is an outlier whatever its size: the dot sits at the edge.
        clamp: Some((0.0, 4.0)),
    }
    .svg()
    .map_err(chart_error)?;
    let mut caption = "Each row's measured iterations divided by its median, so rows of any speed share the axis: box = quartiles, whiskers = 1.5 IQR, dots = fastest and slowest iteration (drawn at the edge past 4x). A wide box is a noisy row.".to_string();
    if with_samples > categories.len() {
        let _ = write!(
            caption,
            " The first {} of {} rows with samples.",
            categories.len(),
            with_samples
        );
    }
    Ok(Some(Figure { svg, caption }))
}

fn sweep_chart(report: &Report) -> Result<Option<Figure>, ReportError> {
    let several = report.caches.len() > 1;
    let all = sweeps(&report.rows);
    if all.is_empty() {
        return Ok(None);
    }
    let shown = &all[..all.len().min(12)];
    let series: Vec<String> = shown
        .iter()
        .map(|s| {
            if several {
                format!("{} · {}/{} @ {}", s.model, s.runtime, s.device, s.cache)
            } else {
                format!("{} · {}/{}", s.model, s.runtime, s.device)
            }
        })
        .collect();
    let points: Vec<Vec<(f64, f64)>> = shown
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|p| (p.batch_size as f64, p.throughput))
                .collect()
        })
        .collect();
    let svg = Lines {
        title: "Throughput vs batch size",
        x_desc: "batch size (log 2)",
        y_desc: "samples / s",
        series: &series,
        points: &points,
    }
    .svg()
    .map_err(chart_error)?;
    let mut caption = "Builds of one model that differ only by batch size, per runtime/device: samples per second at each batch size.".to_string();
    if all.len() > shown.len() {
        let _ = write!(caption, " {} of {} sweeps.", shown.len(), all.len());
    }
    Ok(Some(Figure { svg, caption }))
}

fn peak_chart(report: &Report) -> Result<Option<Figure>, ReportError> {
    let several = report.caches.len() > 1;
    let rows: Vec<(&ReportRow, f64)> = report
        .rows
        .iter()
        .filter_map(|r| Some((r, r.pct_of_peak.filter(|p| p.is_finite())?)))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let builds: BTreeSet<&str> = rows.iter().map(|(r, _)| r.build.as_str()).collect();
    let shown: Vec<String> = builds
        .iter()
        .take(MAX_CHART_ROWS)
        .map(|b| b.to_string())
        .collect();
    let series: Vec<String> = rows
        .iter()
        .map(|(r, _)| series_name(r, several))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut values = vec![vec![None; series.len()]; shown.len()];
    for (r, pct) in &rows {
        if let (Ok(b), Ok(s)) = (
            shown.binary_search(&r.build),
            series.binary_search(&series_name(r, several)),
        ) {
            values[b][s] = Some(*pct);
        }
    }
    let svg = Bars {
        intervals: &[],
        title: "% of peak FLOP/s",
        x_desc: "% of the measured peak",
        categories: &shown,
        series: &series,
        values: &values,
        scale: Scale::Linear,
        rule: Some(100.0),
    }
    .svg()
    .map_err(chart_error)?;
    let mut caption = "Achieved FLOP/s (model FLOPs x calls per second) as a share of the peak measured for that runtime and device.".to_string();
    if builds.len() > shown.len() {
        let _ = write!(
            caption,
            " The first {} of {} builds.",
            shown.len(),
            builds.len()
        );
    }
    Ok(Some(Figure { svg, caption }))
}

fn comparison_charts(report: &Report) -> Result<Vec<Figure>, ReportError> {
    let Some(c) = &report.comparison else {
        return Ok(Vec::new());
    };
    if c.variants.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = c.variants.iter().map(|v| v.name.clone()).collect();
    let geo: Vec<Vec<Option<f64>>> = c
        .variants
        .iter()
        .map(|v| vec![Some(v.geomean_speedup)])
        .collect();
    let series = vec!["geometric mean".to_string()];
    let geo_ci: Vec<Vec<Option<(f64, f64)>>> = c
        .variants
        .iter()
        .map(|v| vec![v.geomean_ci_lo.zip(v.geomean_ci_hi)])
        .collect();
    let svg = Bars {
        intervals: &geo_ci,
        title: "Geometric mean speedup",
        x_desc: "speedup vs the baseline (log scale; > 1 is faster)",
        categories: &names,
        series: &series,
        values: &geo,
        scale: Scale::Log,
        rule: Some(1.0),
    }
    .svg()
    .map_err(chart_error)?;
    let mut out = vec![Figure {
        svg,
        caption: format!(
            "Geometric mean over the builds that ran successfully on both sides, against {}; the whisker is its 95% interval from the measurements' own uncertainty.",
            c.baseline
        ),
    }];
    let builds: BTreeSet<&str> = c.speedups.iter().map(|s| s.build.as_str()).collect();
    let shown: Vec<String> = builds
        .iter()
        .take(MAX_CHART_ROWS)
        .map(|b| b.to_string())
        .collect();
    let mut values = vec![vec![None; names.len()]; shown.len()];
    let mut intervals = vec![vec![None; names.len()]; shown.len()];
    for s in &c.speedups {
        if let (Ok(b), Some(v)) = (
            shown.binary_search(&s.build),
            names.iter().position(|n| *n == s.variant),
        ) {
            values[b][v] = Some(s.speedup);
            intervals[b][v] = s.ci_lo.zip(s.ci_hi);
        }
    }
    let svg = Bars {
        intervals: &intervals,
        title: "Speedup per build",
        x_desc: "speedup vs the baseline (log scale; > 1 is faster)",
        categories: &shown,
        series: &names,
        values: &values,
        scale: Scale::Log,
        rule: Some(1.0),
    }
    .svg()
    .map_err(chart_error)?;
    let mut caption = format!(
        "Baseline median / median for each build, with its 95% confidence interval as a whisker (an interval across the line: no significant difference); the line marks the baseline ({}).",
        c.baseline
    );
    if builds.len() > shown.len() {
        let _ = write!(
            caption,
            " The first {} of {} builds; the table lists all.",
            shown.len(),
            builds.len()
        );
    }
    out.push(Figure { svg, caption });
    Ok(out)
}

fn cache_cards(out: &mut String, report: &Report) {
    out.push_str("<section id=\"caches\"><h2>Caches</h2><div class=\"cards\">\n");
    let date = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        })
    };
    for c in &report.caches {
        let _ = write!(
            out,
            "<div class=\"card cache\"><h3>{}</h3><div class=\"counts\">\
             <span class=\"badge info\">{} builds</span>\
             <span class=\"badge info\">{} rows</span>\
             <span class=\"badge ok\">{} successful</span>\
             <span class=\"badge {}\">{} failed</span>",
            esc(&c.path),
            c.builds,
            c.rows,
            c.successful,
            if c.failed > 0 { "bad" } else { "muted" },
            c.failed
        );
        if c.unreadable > 0 {
            let _ = write!(
                out,
                "<span class=\"badge bad\">{} unreadable records</span>",
                c.unreadable
            );
        }
        if c.duplicates > 0 {
            let _ = write!(
                out,
                "<span class=\"badge muted\">{} duplicate rows skipped</span>",
                c.duplicates
            );
        }
        out.push_str("</div><dl>");
        let mut dl = |k: &str, v: String| {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
        };
        for s in &c.systems {
            let host = s.hostname.clone().unwrap_or_else(|| "unknown host".into());
            let os = [
                Some(s.os.clone()).filter(|o| !o.is_empty()),
                s.os_version.clone(),
                s.kernel.as_ref().map(|k| format!("kernel {k}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            dl("machine", format!("{host}: {os}"));
            let cores = match s.physical_cores {
                Some(p) => format!("{p} cores, {} threads", s.logical_cores),
                None => format!("{} threads", s.logical_cores),
            };
            dl(
                "CPU",
                format!(
                    "{} ({cores})",
                    s.cpu_model.clone().unwrap_or_else(|| "unknown CPU".into())
                ),
            );
            if let Some(m) = s.memory_gb {
                dl("memory", format!("{m:.1} GB"));
            }
            let gpu = if s.gpus.is_empty() {
                "none".to_string()
            } else {
                let mut g = s.gpus.join(", ");
                if let Some(d) = &s.gpu_driver {
                    let _ = write!(g, " (driver {d})");
                }
                g
            };
            dl("GPU", gpu);
            if !s.turnkey_version.is_empty() {
                dl("turnkey", s.turnkey_version.clone());
            }
        }
        if !c.runtimes.is_empty() {
            let rts: Vec<String> = c
                .runtimes
                .iter()
                .map(|(rt, versions)| {
                    if versions.is_empty() {
                        rt.clone()
                    } else {
                        format!(
                            "{rt} {}",
                            versions.iter().cloned().collect::<Vec<_>>().join(" / ")
                        )
                    }
                })
                .collect();
            dl("runtimes", rts.join("; "));
        }
        if !c.devices.is_empty() {
            dl(
                "devices",
                c.devices.iter().cloned().collect::<Vec<_>>().join("; "),
            );
        }
        dl(
            "runs",
            format!("{} – {}", date(c.first_run), date(c.last_run)),
        );
        out.push_str("</dl></div>\n");
    }
    out.push_str("</div></section>\n");
}

fn table_section(
    out: &mut String,
    id: &str,
    data: &TableData,
    fallback: &str,
) -> Result<(), ReportError> {
    let _ = write!(
        out,
        "<div id=\"{id}\" class=\"table\" data-total=\"{}\"><p class=\"note\">{}</p></div>\n\
         <script type=\"application/json\" data-table=\"{id}\">{}</script>\n",
        data.rows.len(),
        esc(fallback),
        script_json(data)?
    );
    Ok(())
}

fn page(report: &Report) -> Result<String, ReportError> {
    let mut out = String::with_capacity(64 * 1024 + report.rows.len() * 400);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>turnkey report</title><style>{CSS}</style></head><body>\n\
         <header><h1>turnkey report</h1><p>{} rows, {} builds, {} cache(s) · generated {} · turnkey {}</p></header>\n",
        report.rows.len(),
        report.build_count(),
        report.caches.len(),
        report.generated.format("%Y-%m-%d %H:%M UTC"),
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<nav><a href=\"#caches\">caches</a><a href=\"#results\">results</a><a href=\"#charts\">charts</a>");
    if report.comparison.is_some() {
        out.push_str("<a href=\"#comparison\">comparison</a>");
    }
    if !report.problems.is_empty() {
        out.push_str("<a href=\"#problems\">problems</a>");
    }
    out.push_str("</nav><main>\n");
    cache_cards(&mut out, report);

    if !report.problems.is_empty() {
        out.push_str("<section id=\"problems\"><h2>Problems</h2><ul class=\"problems\">");
        for p in &report.problems {
            let _ = write!(out, "<li>{}</li>", esc(&p.message));
        }
        out.push_str("</ul></section>\n");
    }

    out.push_str("<section id=\"results\"><h2>Results</h2>\n");
    table_section(
        &mut out,
        "results",
        &results_table(report),
        "The table needs JavaScript; turnkey-report.csv holds the same rows.",
    )?;
    out.push_str("</section>\n<section id=\"charts\"><h2>Charts</h2>\n");
    let mut any = false;
    for chart in [
        latency_chart(report)?,
        latency_overview_chart(report)?,
        distribution_chart(report)?,
    ]
    .into_iter()
    .flatten()
    {
        figure(&mut out, &chart);
        any = true;
    }
    if !any {
        out.push_str("<p class=\"note\">No row ran successfully: nothing to draw.</p>\n");
    }
    out.push_str("<h3>Throughput vs batch size</h3>\n");
    match sweep_chart(report)? {
        Some(f) => figure(&mut out, &f),
        None => out.push_str(
            "<p class=\"note\">No batch-size sweep: that takes builds of one model differing only by batch size (e.g. --script-args \"--batch_size 8\").</p>\n",
        ),
    }
    if let Some((svg, caption)) =
        super::generation::decode_chart(&report.rows, report.caches.len() > 1)
            .map_err(chart_error)?
    {
        out.push_str("<h3>Decode latency against context length</h3>\n");
        figure(&mut out, &Figure { svg, caption });
    }
    out.push_str("<h3>% of peak</h3>\n");
    match peak_chart(report)? {
        Some(f) => figure(&mut out, &f),
        None => out.push_str(
            "<p class=\"note\">No row has a measured peak FLOP/s for its runtime and device, so % of peak is not known.</p>\n",
        ),
    }
    out.push_str("</section>\n");

    if let Some(c) = &report.comparison {
        let _ = writeln!(
            out,
            "<section id=\"comparison\"><h2>Comparison</h2><p>Baseline: <b>{}</b>. Speedup = baseline median / median; above 1 is faster than the baseline.</p>",
            esc(&c.baseline.to_string())
        );
        if c.variants.is_empty() {
            out.push_str("<p class=\"note\">No build ran successfully on both sides.</p>\n");
        } else {
            out.push_str("<div class=\"tablewrap\"><table class=\"variants\"><thead><tr><th>variant</th><th class=\"num\">builds</th><th class=\"num\">geomean speedup</th><th class=\"num\">min</th><th class=\"num\">max</th><th class=\"num\">faster</th><th class=\"num\">slower</th></tr></thead><tbody>");
            for v in &c.variants {
                let class = if v.geomean_speedup >= 1.0 {
                    "ok"
                } else {
                    "bad"
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\"><span class=\"badge {class}\">{:.2}x</span></td><td class=\"num\">{:.2}x</td><td class=\"num\">{:.2}x</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&v.name),
                    v.builds,
                    v.geomean_speedup,
                    v.min_speedup,
                    v.max_speedup,
                    v.faster,
                    v.slower
                );
            }
            out.push_str("</tbody></table></div>\n");
            for f in comparison_charts(report)? {
                figure(&mut out, &f);
            }
            if let Some(t) = speedups_table(report) {
                out.push_str("<h3>Speedup per build</h3>\n");
                table_section(
                    &mut out,
                    "speedups",
                    &t,
                    "The table needs JavaScript; turnkey-report.json holds the same speedups.",
                )?;
            }
        }
        out.push_str("</section>\n");
    }
    let _ = writeln!(out, "</main><script>{JS}</script></body></html>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Comparison, Report};

    fn row(build: &str, rt: &str, ms: f64) -> ReportRow {
        ReportRow {
            build: build.into(),
            runtime: rt.into(),
            device: "cpu".into(),
            status: Status::Successful,
            median_ms: Some(ms),
            throughput: Some(1000.0 / ms),
            stability: "stable".into(),
            check: if rt == "ort" { "reference" } else { "passed" }.into(),
            cache: "c".into(),
            ..Default::default()
        }
    }

    fn report(rows: Vec<ReportRow>) -> Report {
        let mut r = Report::from_rows(rows);
        r.comparison = super::super::compare::compare(&r.rows, &r.caches, None).unwrap();
        r
    }

    #[test]
    fn escapes_text_and_embedded_json() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let mut evil = row("</script><script>alert(1)</script>", "ort", 1.0);
        evil.error = "<img src=x onerror=alert(1)>".into();
        let html = page(&report(vec![evil])).unwrap();
        assert!(
            !html.contains("</script><script>alert"),
            "raw script in page"
        );
        assert!(!html.contains("<img src=x"), "raw markup in page");
    }

    #[test]
    fn page_has_table_data_charts_and_comparison() {
        let rows = vec![
            row("a_1", "ort", 1.0),
            row("a_1", "tract", 2.0),
            row("b_2", "ort", 100.0),
            row("b_2", "tract", 50.0),
        ];
        let r = report(rows);
        assert!(matches!(r.comparison, Some(Comparison { .. })));
        let html = page(&r).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("data-table=\"results\""));
        assert!(html.contains("data-total=\"4\""));
        // Median chart (log: 1..100 ms), geomean chart, per-build speedups.
        assert!(html.matches("<svg").count() >= 3, "charts missing");
        assert!(html.contains("median ms (log scale)"));
        assert!(html.contains("tract/cpu") && html.contains("1.00x"));
        assert!(html.contains("id=\"comparison\""));
        // Self-contained: the only URLs are SVG namespace names.
        let urls = html.matches("http://").count() + html.matches("https://").count();
        let namespaces = html.matches("\"http://www.w3.org/").count();
        assert_eq!(urls, namespaces, "an external URL is referenced");
        assert!(!html.contains("<link") && !html.contains("@import") && !html.contains(" src="));
    }

    #[test]
    fn large_reports_cap_charts_and_add_the_overview() {
        let rows: Vec<ReportRow> = (0..120)
            .flat_map(|i| {
                let b = format!("m_{i:03}");
                [
                    row(&b, "ort", 1.0 + i as f64),
                    row(&b, "tract", 2.0 + i as f64),
                ]
            })
            .collect();
        let html = page(&report(rows)).unwrap();
        assert!(html.contains("The first 40 of 120 builds"));
        assert!(html.contains("Median latency across all builds"));
        assert!(html.contains("ort/cpu (120 builds)"));
    }

    #[test]
    fn empty_report_still_renders() {
        let html = page(&Report::default()).unwrap();
        assert!(html.contains("nothing to draw"));
        assert!(html.contains("data-total=\"0\""));
    }
}
