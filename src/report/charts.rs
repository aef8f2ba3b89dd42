//! The HTML report's charts, drawn as SVG by `plotters`: grouped horizontal
//! bars (latency per model, % of peak, speedups), box plots (latency
//! distributions), and lines (throughput against batch size). Each function
//! returns one `<svg>` element as text. A legend sits in its own strip at
//! the right so it never hides a bar.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;

/// Chart width in pixels (the page is 1200 wide at most).
const WIDTH: u32 = 1080;
/// Width of the legend strip.
const LEGEND: u32 = 230;
/// Characters of a category label before it is cut with `…`.
const LABEL_CHARS: usize = 56;
const FONT: &str = "sans-serif";

/// Spread (max / min) over which an axis of positive values turns
/// logarithmic: beyond it, a linear axis squeezes the small values to nothing.
pub const LOG_SPREAD: f64 = 30.0;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn short(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        s.to_string()
    } else {
        let cut: String = s.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// Pixels for the category labels at the left.
fn label_width(labels: &[String]) -> u32 {
    let chars = labels
        .iter()
        .map(|l| short(l).chars().count())
        .max()
        .unwrap_or(4);
    (chars as u32 * 7 + 16).clamp(60, 420)
}

/// A compact number for axis labels: `0.0123`, `3.4`, `120`, `45k`.
pub fn compact(v: f64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        format!("{}G", trim(format!("{:.2}", v / 1e9)))
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.2}", v / 1e3)))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 1e-3 {
        trim(format!("{v:.4}"))
    } else {
        format!("{v:.1e}")
    }
}

/// Whether positive `values` need a log axis.
pub fn wide_spread(values: impl Iterator<Item = f64>) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    hi > 0.0 && hi / lo > LOG_SPREAD
}

/// How the value axis of a bar chart is scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Logarithmic when the values spread over more than [`LOG_SPREAD`].
    Auto,
    Log,
    /// Linear from zero.
    Linear,
}

/// Horizontal grouped bars: one group per category, one bar per series.
pub struct Bars<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub categories: &'a [String],
    pub series: &'a [String],
    /// `values[category][series]`; `None` leaves a gap.
    pub values: &'a [Vec<Option<f64>>],
    pub scale: Scale,
    /// A vertical rule (speedup 1.0, 100% of peak).
    pub rule: Option<f64>,
    /// `intervals[category][series]`: a confidence interval drawn as a
    /// whisker across the bar's end (empty: none).
    pub intervals: &'a [Vec<Option<(f64, f64)>>],
}

impl<'a> Bars<'a> {
    pub fn svg(&self) -> Result<String, String> {
        let k = self.series.len().max(1);
        let bar_px = if k > 4 { 9 } else { 13 };
        let group_px = (k as u32 * bar_px + 10).max(20);
        let height = 90 + self.categories.len().max(1) as u32 * group_px;
        let bounds = self
            .intervals
            .iter()
            .flatten()
            .flatten()
            .flat_map(|&(lo, hi)| [lo, hi]);
        let all = || self.values.iter().flatten().flatten().copied();
        let positive: Vec<f64> = all()
            .chain(bounds)
            .filter(|v| *v > 0.0 && v.is_finite())
            .collect();
        let log = match self.scale {
            Scale::Log => true,
            Scale::Linear => false,
            Scale::Auto => wide_spread(positive.iter().copied()),
        };
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
            draw_legend(&legend, self.series)?;
            if log {
                let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = positive.iter().copied().fold(0.0, f64::max);
                let (lo, hi) = match self.rule {
                    Some(r) if r > 0.0 => (lo.min(r), hi.max(r)),
                    _ => (lo, hi),
                };
                let (lo, hi) = if lo.is_finite() && hi > 0.0 {
                    (lo / 1.5, hi * 1.5)
                } else {
                    (0.1, 10.0)
                };
                // Speedups grow out of the 1.0 rule, left when slower, right when faster.
                let base = self.rule.filter(|r| *r > lo && *r < hi).unwrap_or(lo);
                self.draw(&plot, LogCoord::<f64>::from((lo..hi).log_scale()), base)
            } else {
                let hi = all().fold(0.0, f64::max).max(self.rule.unwrap_or(0.0));
                let hi = if hi > 0.0 { hi * 1.08 } else { 1.0 };
                self.draw(
                    &plot,
                    plotters::coord::types::RangedCoordf64::from(0.0..hi),
                    0.0,
                )
            }?;
            root.present().map_err(err)?;
        }
        Ok(out)
    }

    fn draw<X>(&self, area: &Area<'_>, x: X, base: f64) -> Result<(), String>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        if self.categories.is_empty() {
            return Ok(());
        }
        // The nested axis counts upwards: reversed, the first category is on top.
        let cats: Vec<&String> = self.categories.iter().rev().collect();
        let rows: Vec<&Vec<Option<f64>>> = self.values.iter().rev().collect();
        let cats = cats.as_slice();
        let k = self.series.len().max(1) as f64;
        let y = cats.nested_coord(|_| 0.0..1.0);
        let mut chart = ChartBuilder::on(area)
            .caption(self.title, (FONT, 18))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(label_width(self.categories))
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(cats.len())
            .y_label_formatter(&|v| match v {
                NestedValue::Category(c) => short(c),
                NestedValue::Value(..) => String::new(),
            })
            .x_label_formatter(&|v| compact(*v))
            .x_desc(self.x_desc)
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let pad = 0.08;
        let h = (1.0 - 2.0 * pad) / k;
        for (s, _) in self.series.iter().enumerate() {
            let c = color(s);
            let bars = cats.iter().zip(&rows).filter_map(|(cat, vals)| {
                let v = vals.get(s).copied().flatten()?;
                if !v.is_finite() || v <= 0.0 && base > 0.0 || v == base {
                    return None;
                }
                // Series 0 on top: the nested axis counts upwards.
                let top = 1.0 - pad - s as f64 * h;
                Some(Rectangle::new(
                    [
                        (base, NestedValue::Value(cat, top - h * 0.92)),
                        (v, NestedValue::Value(cat, top)),
                    ],
                    c.filled(),
                ))
            });
            chart.draw_series(bars).map_err(err)?;
            let whiskers = cats.iter().enumerate().filter_map(|(i, cat)| {
                // `cats` is reversed: category i is interval row len - 1 - i.
                let row = self
                    .intervals
                    .get(self.intervals.len().checked_sub(i + 1)?)?;
                let (lo, hi) = row.get(s).copied().flatten()?;
                if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi >= lo) {
                    return None;
                }
                let top = 1.0 - pad - s as f64 * h;
                let mid = top - h * 0.46;
                let cap = h * 0.3;
                let at = |x: f64, y: f64| (x, NestedValue::Value(cat, y));
                Some(PathElement::new(
                    vec![
                        at(lo, mid - cap),
                        at(lo, mid + cap),
                        at(lo, mid),
                        at(hi, mid),
                        at(hi, mid - cap),
                        at(hi, mid + cap),
                    ],
                    BLACK.stroke_width(1),
                ))
            });
            chart.draw_series(whiskers).map_err(err)?;
        }
        if let Some(r) = self.rule {
            let (first, last) = (&cats[0], &cats[cats.len() - 1]);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (r, NestedValue::Value(first, 0.0)),
                        (r, NestedValue::Value(last, 1.0)),
                    ],
                    BLACK.stroke_width(1),
                )))
                .map_err(err)?;
        }
        Ok(())
    }
}

fn draw_legend(area: &Area<'_>, series: &[String]) -> Result<(), String> {
    if series.len() < 2 {
        return Ok(());
    }
    let style = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
    for (i, name) in series.iter().enumerate() {
        let y = 40 + i as i32 * 18;
        area.draw(&Rectangle::new([(8, y), (20, y + 12)], color(i).filled()))
            .map_err(err)?;
        // Keep both ends: `ort/cpu @ …/cache_b` says more than `ort/cpu @ /ho…`.
        let chars: Vec<char> = name.chars().collect();
        let name: String = if chars.len() > 30 {
            let head: String = chars[..12].iter().collect();
            let tail: String = chars[chars.len() - 17..].iter().collect();
            format!("{head}…{tail}")
        } else {
            name.clone()
        };
        area.draw(&Text::new(name, (26, y), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}

/// Horizontal box plots, one per category, from each one's values: the box
/// is the quartiles, the whiskers 1.5 IQR beyond them (plotters'
/// `Quartiles`), the dots the minimum and maximum.
pub struct Boxes<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub categories: &'a [String],
    /// Each category's values (non-empty, finite).
    pub values: &'a [Vec<f64>],
    /// Axis labels for a value (e.g. `10^v` for a log-space plot).
    pub label: &'a dyn Fn(f64) -> String,
    /// The axis stops here; values beyond it are drawn at the edge.
    pub clamp: Option<(f64, f64)>,
}

impl Boxes<'_> {
    pub fn svg(&self) -> Result<String, String> {
        let rows: Vec<(&String, Quartiles, f64, f64)> = self
            .categories
            .iter()
            .zip(self.values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(c, v)| {
                let q = Quartiles::new(v);
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (c, q, lo, hi)
            })
            .collect();
        let height = 90 + rows.len().max(1) as u32 * 26;
        let mut out = String::new();
        if rows.is_empty() {
            return Ok(out);
        }
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            for (_, q, min, max) in &rows {
                let [lf, _, _, _, uf] = q.values();
                lo = lo.min(f64::from(lf)).min(*min);
                hi = hi.max(f64::from(uf)).max(*max);
            }
            if let Some((a, b)) = self.clamp {
                lo = lo.max(a);
                hi = hi.min(b);
            }
            let pad = ((hi - lo) * 0.05).max(1e-9);
            let (lo, hi) = ((lo - pad) as f32, (hi + pad) as f32);
            // A segmented axis counts upwards: reversed, the first row is on top.
            let cats: Vec<&String> = rows.iter().rev().map(|r| r.0).collect();
            let labels: Vec<String> = cats.iter().map(|c| c.to_string()).collect();
            let (plot, _) = root.split_horizontally(WIDTH - LEGEND / 2);
            let mut chart = ChartBuilder::on(&plot)
                .caption(self.title, (FONT, 18))
                .margin(8)
                .x_label_area_size(40)
                .y_label_area_size(label_width(&labels))
                .build_cartesian_2d(lo..hi, cats.as_slice().into_segmented())
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(cats.len())
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(c) | SegmentValue::Exact(c) => short(c),
                    SegmentValue::Last => String::new(),
                })
                .x_label_formatter(&|v| (self.label)(f64::from(*v)))
                .x_desc(self.x_desc)
                .label_style((FONT, 12))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            let clampf = |v: f64| (v as f32).clamp(lo, hi);
            chart
                .draw_series(rows.iter().enumerate().map(|(i, (c, q, _, _))| {
                    Boxplot::new_horizontal(SegmentValue::CenterOf(c), q)
                        .width(14)
                        .whisker_width(0.6)
                        .style(color(i).stroke_width(2))
                }))
                .map_err(err)?;
            chart
                .draw_series(rows.iter().flat_map(|(c, _, min, max)| {
                    [*min, *max].map(|v| {
                        Circle::new((clampf(v), SegmentValue::CenterOf(c)), 2, BLACK.filled())
                    })
                }))
                .map_err(err)?;
            root.present().map_err(err)?;
        }
        Ok(out)
    }
}

/// Lines through points, one per series, on log-2 x (batch sizes) and a y
/// axis that turns logarithmic when the values spread widely.
pub struct Lines<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub series: &'a [String],
    /// Each series' `(x, y)` points, x > 0 and y > 0.
    pub points: &'a [Vec<(f64, f64)>],
}

impl Lines<'_> {
    pub fn svg(&self) -> Result<String, String> {
        let height = 420;
        let xs = || self.points.iter().flatten().map(|p| p.0);
        let ys = || self.points.iter().flatten().map(|p| p.1);
        let xlo = xs().fold(f64::INFINITY, f64::min).max(1e-9);
        let xhi = xs().fold(0.0, f64::max).max(xlo * 2.0);
        let yhi = ys().fold(0.0, f64::max).max(1e-9);
        let ylo = ys().fold(f64::INFINITY, f64::min).max(1e-12);
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
            draw_legend(&legend, self.series)?;
            let x = (xlo / 1.3..xhi * 1.3).log_scale().base(2.0);
            if wide_spread(ys()) {
                self.draw(
                    &plot,
                    x,
                    LogCoord::<f64>::from((ylo / 1.5..yhi * 1.5).log_scale()),
                )?;
            } else {
                self.draw(
                    &plot,
                    x,
                    plotters::coord::types::RangedCoordf64::from(0.0..yhi * 1.1),
                )?;
            }
            root.present().map_err(err)?;
        }
        Ok(out)
    }

    fn draw<Y>(&self, area: &Area<'_>, x: impl Into<LogCoord<f64>>, y: Y) -> Result<(), String>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(self.title, (FONT, 18))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x.into(), y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| compact(*v))
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, pts) in self.points.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn bars_draw_one_rect_per_value_and_label_categories() {
        let cats = names(3, "model_");
        let series = names(2, "rt");
        let values = vec![
            vec![Some(1.0), Some(2.0)],
            vec![Some(3.0), None],
            vec![Some(0.5), Some(0.25)],
        ];
        let svg = Bars {
            intervals: &[],
            title: "Median latency",
            x_desc: "ms",
            categories: &cats,
            series: &series,
            values: &values,
            scale: Scale::Auto,
            rule: None,
        }
        .svg()
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for c in &cats {
            assert!(svg.contains(c.as_str()), "label {c} missing");
        }
        // Five bars + two legend swatches + the background and plot frames.
        let filled = svg.matches("<rect").count();
        assert!(filled >= 7, "{filled} rects");
        assert!(svg.contains("Median latency") && svg.contains("rt1"));
        assert!(
            !svg.contains("http://")
                || svg.matches("http://").count()
                    == svg.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }

    #[test]
    fn log_scale_when_the_spread_is_wide() {
        assert!(wide_spread([0.01, 5.0].into_iter()));
        assert!(!wide_spread([1.0, 5.0].into_iter()));
        assert!(!wide_spread([0.0, -1.0].into_iter()));
        let cats = names(2, "m");
        let series = names(1, "ort");
        let values = vec![vec![Some(0.01)], vec![Some(100.0)]];
        let bars = |scale| Bars {
            intervals: &[],
            title: "t",
            x_desc: "ms",
            categories: &cats,
            series: &series,
            values: &values,
            scale,
            rule: Some(1.0),
        };
        // A log axis labels decades; a linear one from 0 would not show 0.1.
        let log = bars(Scale::Auto).svg().unwrap();
        let linear = bars(Scale::Linear).svg().unwrap();
        assert_ne!(log, linear);
        let labels = |svg: &str| -> Vec<String> {
            svg.split("<text")
                .skip(1)
                .filter_map(|t| {
                    t.split('>')
                        .nth(1)?
                        .split('<')
                        .next()
                        .map(|s| s.trim().to_string())
                })
                .collect()
        };
        let log_labels = labels(&log);
        for decade in ["0.01", "0.1", "1", "10", "100"] {
            assert!(log_labels.iter().any(|l| l == decade), "{log_labels:?}");
        }
        assert!(!labels(&linear).iter().any(|l| l == "0.01"));
    }

    #[test]
    fn boxes_and_lines_render() {
        let cats = names(2, "row");
        let values = vec![vec![1.0, 1.1, 0.9, 1.0, 3.0], vec![2.0]];
        let svg = Boxes {
            title: "Distribution",
            x_desc: "latency / median",
            categories: &cats,
            values: &values,
            label: &|v| format!("{v:.1}"),
            clamp: None,
        }
        .svg()
        .unwrap();
        assert!(svg.contains("row0") && svg.contains("row1"));
        assert!(svg.contains("<circle"));
        let series = names(2, "ort/cpu ");
        let pts = vec![
            vec![(1.0, 100.0), (8.0, 600.0)],
            vec![(1.0, 50.0), (4.0, 150.0)],
        ];
        let svg = Lines {
            title: "Throughput",
            x_desc: "batch size",
            y_desc: "samples/s",
            series: &series,
            points: &pts,
        }
        .svg()
        .unwrap();
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("<polyline"));
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(150.0), "150");
        assert_eq!(compact(45000.0), "45k");
        assert_eq!(compact(2.5e9), "2.5G");
        assert_eq!(compact(0.0123), "0.0123");
        assert_eq!(compact(0.00001), "1.0e-5");
    }
}
