//! The HTML report's chart of `lm.generate` rows (issue #18): decode
//! latency per token against context length.

use super::ReportRow;
use super::charts::Lines;

/// Rows that decoded at least one step, at most this many lines.
const MAX_SERIES: usize = 12;

/// The chart's SVG and caption; none when no row generated.
pub fn decode_chart(
    rows: &[ReportRow],
    several_caches: bool,
) -> Result<Option<(String, String)>, String> {
    let shown: Vec<&ReportRow> = rows
        .iter()
        .filter(|r| !r.decode_ms_by_step.is_empty() && r.prompt_tokens.is_some())
        .take(MAX_SERIES)
        .collect();
    if shown.is_empty() {
        return Ok(None);
    }
    let series: Vec<String> = shown
        .iter()
        .map(|r| {
            let mut s = format!("{} · {}/{}", r.build, r.runtime, r.device);
            if several_caches {
                s.push_str(&format!(" @ {}", r.cache));
            }
            s
        })
        .collect();
    // Step k feeds token P + k and attends over P + k + 1 positions.
    let points: Vec<Vec<(f64, f64)>> = shown
        .iter()
        .map(|r| {
            let p = r.prompt_tokens.unwrap_or(0) as f64;
            r.decode_ms_by_step
                .iter()
                .enumerate()
                .filter(|(_, ms)| ms.is_finite() && **ms > 0.0)
                .map(|(k, ms)| (p + k as f64 + 1.0, *ms))
                .collect()
        })
        .collect();
    let svg = Lines {
        title: "Decode latency against context length",
        x_desc: "context length, tokens (log 2)",
        y_desc: "ms per decode step (median over repetitions)",
        series: &series,
        points: &points,
    }
    .svg()?;
    Ok(Some((
        svg,
        "lm.generate rows: the median latency of each decode step (one token per sequence) \
         against the positions it attends over. The static KV cache has P + N slots from the \
         first step (masked beyond the position), so each step computes over the same shapes: \
         a flat line is what to expect, and a rise points at the runtime, not the model."
            .to_string(),
    )))
}
