//! The terminal display: a progress bar over scripts on a TTY, plain lines
//! otherwise; `-q` keeps only errors.

use crate::cache::RuntimeRow;
use crate::graph::shape_str;
use crate::pipeline::{Event, Observer};
use crate::report::{fmt_ci, fmt_latency};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Terminal {
    quiet: bool,
    bar: Option<ProgressBar>,
}

/// 1234567 -> "1.23 M".
pub fn si(v: f64) -> String {
    let (d, unit) = match v.abs() {
        x if x >= 1e12 => (1e12, " T"),
        x if x >= 1e9 => (1e9, " G"),
        x if x >= 1e6 => (1e6, " M"),
        x if x >= 1e3 => (1e3, " k"),
        _ => (1.0, ""),
    };
    if d == 1.0 {
        format!("{v:.0}")
    } else {
        format!("{:.2}{unit}", v / d)
    }
}

pub fn bytes(v: u64) -> String {
    format!("{}B", si(v as f64))
}

impl Terminal {
    pub fn new(quiet: bool, total: usize) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal() && total > 1).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} scripts  {elapsed}  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Terminal { quiet, bar }
    }

    fn line(&self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => err_line(s),
        }
    }

    fn info(&self, s: &str) {
        if !self.quiet {
            self.line(s);
        }
    }

    fn status(&self, s: String) {
        if let Some(b) = &self.bar {
            b.set_message(s);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn row_line(row: &RuntimeRow, cached: bool) -> String {
    let mut s = format!(
        "    {}/{}: {}",
        row.runtime,
        row.device,
        row.status.as_str()
    );
    if row.median_ms.is_some() {
        s.push_str(&format!("  median {}", fmt_latency(row.median_ms)));
        let ci = fmt_ci(row.median_ms, row.median_ci_lo_ms, row.median_ci_hi_ms);
        if ci != "-" {
            s.push_str(&format!(" {ci}"));
        }
        if let Some(n) = row.iterations {
            s.push_str(&format!(" ({n} it)"));
        }
    }
    if let Some(g) = &row.generation {
        // lm.generate: the latency above is prompt to N tokens.
        s.push_str(&format!(
            "  TTFT {}  decode {}/token  {} tok/s",
            fmt_latency(Some(g.ttft_ms)),
            fmt_latency(g.decode_ms_median),
            g.gen_tokens_per_s.map_or("-".into(), |t| if t < 10.0 {
                format!("{t:.2}")
            } else {
                si(t)
            })
        ));
    } else if let Some(t) = row.throughput {
        s.push_str(&format!("  {}/s", si(t)));
    }
    if let Some(st) = &row.stability {
        s.push_str(&format!("  {st}"));
    }
    if let Some(c) = &row.check {
        s.push_str(&format!("  check {}", c.status.as_str()));
        if let Some(d) = c.max_abs_diff {
            s.push_str(&format!(" (max |diff| {d:.1e})"));
        }
        // A mismatch says which output differs and how, as the record does.
        if c.status == crate::cache::CheckStatus::Failed
            && let Some(summary) = &c.summary
        {
            s.push_str(&format!(": {summary}"));
        }
    }
    if let Some(a) = &row.accuracy {
        if let Some(x) = a.speedup {
            s.push_str(&format!("  {x:.2}x vs fp32"));
        }
        if row
            .check
            .as_ref()
            .is_some_and(|c| c.status != crate::cache::CheckStatus::Failed)
            && let Some(c) = &row.check.as_ref().and_then(|c| c.summary.clone())
        {
            s.push_str(&format!(": {c}"));
        }
    }
    if let Some(e) = &row.error {
        s.push_str(&format!(": {e}"));
    }
    if cached {
        s.push_str("  [cached]");
    }
    s
}

impl Observer for Terminal {
    fn on(&self, event: Event<'_>) {
        match event {
            Event::ScriptStarted { path, index, .. } => {
                if let Some(b) = &self.bar {
                    b.set_position(index as u64);
                }
                self.status(format!("{}", path.display()));
            }
            Event::ScriptFailed { error, .. } => self.line(&format!("error: {error}")),
            Event::Warning { path, message } => {
                self.info(&format!("warning: {}: {message}", path.display()))
            }
            Event::BuildReady {
                build,
                cached,
                onnx,
                class,
                location,
            } => {
                let s = build.graph.stats();
                let inputs: Vec<String> = build
                    .inputs
                    .iter()
                    .map(|(n, t)| format!("{n}: {}{}", t.dtype, shape_str(&t.shape)))
                    .collect();
                let found = if cached {
                    "  (found in cache, not rebuilt)"
                } else {
                    ""
                };
                let runs = if build.executions > 1 {
                    format!("  called {}x", build.executions)
                } else {
                    String::new()
                };
                self.info(&format!(
                    "{}  {class}  {location}{runs}{found}\n    params {} ({})  inputs {}  FLOPs {}\n    onnx {}",
                    build.name,
                    s.params,
                    bytes(s.param_bytes),
                    inputs.join(", "),
                    si(s.flops as f64),
                    onnx.display()
                ));
            }
            Event::Analyzed {
                build,
                class,
                location,
            } => {
                let s = build.graph.stats();
                let per_token = s
                    .flops_per_token()
                    .map(|f| format!(" ({}/token)", si(f as f64)))
                    .unwrap_or_default();
                self.info(&format!(
                    "{}  {class}  {location}\n    params {} ({})  FLOPs {}{per_token}  \
                     activations {}  nodes {}  (analyzed: no weights, no ONNX)",
                    build.name,
                    s.params,
                    bytes(s.param_bytes),
                    si(s.flops as f64),
                    bytes(s.activation_peak_bytes),
                    s.nodes,
                ));
            }
            Event::OnnxReady {
                build,
                cached,
                onnx,
                location,
                inputs,
                params,
                param_bytes,
                input_source,
                params_constants,
                flops,
                flops_partial,
                flops_note,
            } => {
                let mut ins: Vec<String> = inputs.iter().map(|t| t.to_string()).collect();
                if ins.is_empty() {
                    ins.push("none".into());
                }
                let found = if cached {
                    "  (found in cache, not rebuilt)"
                } else {
                    ""
                };
                let within = match (params_constants, params) {
                    (0, _) => "",
                    (c, p) if c == p => ", in Constant nodes",
                    _ => ", some in Constant nodes",
                };
                let flops = match (flops.or(flops_partial), flops_note) {
                    (Some(f), None) => si(f as f64),
                    (Some(f), Some(n)) => format!(">= {} ({n})", si(f as f64)),
                    (None, Some(n)) => format!("- ({n})"),
                    (None, None) => "-".into(),
                };
                self.info(&format!(
                    "{build}  ONNX file  {location}{found}\n    weights {} ({}{within})  inputs {} ({input_source})  FLOPs {flops}\n    onnx {}",
                    si(params as f64),
                    bytes(param_bytes),
                    ins.join(", "),
                    onnx.display()
                ));
            }
            Event::VariantReady {
                build,
                of,
                info,
                cached,
                onnx,
                param_bytes,
                op_counts,
            } => {
                let found = if cached {
                    "  (found in cache, not rebuilt)"
                } else {
                    ""
                };
                let count =
                    |m: &std::collections::BTreeMap<String, usize>| m.values().sum::<usize>();
                let mut what = Vec::new();
                if info.precision != "fp32" {
                    what.push(format!(
                        "{} node(s) {}",
                        count(&info.converted),
                        info.precision
                    ));
                    match count(&info.kept_float32) {
                        0 => {}
                        n => what.push(format!("{n} left in float32")),
                    }
                }
                if let Some(level) = &info.ort_opt_level {
                    let fused: usize = op_counts
                        .iter()
                        .filter(|(k, _)| k.contains(':'))
                        .map(|(_, v)| v)
                        .sum();
                    what.push(format!(
                        "ONNX Runtime {level} graph: {} node(s), {fused} of them its own fused ops",
                        count(op_counts)
                    ));
                }
                self.info(&format!(
                    "{build}  {} variant of {of}{found}\n    {}  weights {}\n    onnx {}",
                    info.label(),
                    what.join(", "),
                    param_bytes.map_or("-".into(), bytes),
                    onnx.display()
                ));
            }
            Event::BuildFailed { error, .. } => self.line(&format!("error: {error}")),
            Event::RowStarted {
                build,
                runtime,
                device,
            } => self.status(format!("{build} on {runtime}/{device}")),
            Event::RowFinished { row, cached, .. } => {
                let l = row_line(row, cached);
                if row.status.is_failure() {
                    self.line(&l)
                } else {
                    self.info(&l)
                }
            }
            Event::TrialFinished {
                build,
                row,
                trial,
                trials,
                error,
            } => match error {
                Some(e) => self.line(&format!(
                    "{build} {}/{}: trial {trial}/{trials} failed: {e}",
                    row.runtime, row.device
                )),
                None => self.info(&format!(
                    "{build} {}/{}: trial {trial}/{trials}: pooled median {} {}  spread {}%  {}",
                    row.runtime,
                    row.device,
                    fmt_latency(row.median_ms),
                    fmt_ci(row.median_ms, row.median_ci_lo_ms, row.median_ci_hi_ms),
                    row.trial_spread_pct
                        .map_or("-".into(), crate::bench::verdict::pct),
                    row.stability.as_deref().unwrap_or("-")
                )),
            },
        }
    }
}

/// Writes `text` to stdout. A closed stdout (`turnkey ... | head`) is no
/// error: the rest of the output is dropped, the run goes on and ends with
/// its own exit code (its records are in the cache).
pub fn out_text(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// [`out_text`] with a newline.
pub fn out_line(text: &str) {
    out_text(&format!("{text}\n"));
}

/// A line to stderr; a closed stderr is no error either.
pub fn err_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_units() {
        assert_eq!(si(110.0), "110");
        assert_eq!(si(2300.0), "2.30 k");
        assert_eq!(si(25_557_032.0), "25.56 M");
        assert_eq!(bytes(440), "440B");
    }
}
