//! The accuracy cost of a precision variant: its outputs against the fp32
//! build's, output by output. Unlike [`super::compare`] (do two runtimes
//! agree within a tolerance?), this measures how far a lower precision
//! moves the results:
//!
//! - `max_abs_err`: the largest |variant - fp32| over elements finite in both;
//! - `rel_err`: ‖variant - fp32‖₂ / ‖fp32‖₂, the relative error of the whole
//!   output (elementwise ratios explode near zero and say little);
//! - `cosine`: the cosine similarity of the two outputs as vectors;
//! - `top1`/`top5` for classifier outputs (`[batch, classes]`): the share of
//!   rows whose fp32 top class is the variant's top class / among its five
//!   highest;
//! - `agreement` for integer and bool outputs: the share of equal elements;
//! - `token_agreement`: for `generate` rows, the share of generated tokens
//!   equal to fp32's ([`token_agreement`]; filled once generation exists).
//!
//! A variant passes when every float output has a cosine of at least
//! `min_cosine` (and every integer output that agreement), with no NaN or
//! infinity where fp32 has a finite value, and the same shapes.

use crate::graph::{HostTensor, shape_str};
use serde::{Deserialize, Serialize};

/// One output's accuracy cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputAccuracy {
    pub name: String,
    pub max_abs_err: Option<f64>,
    pub rel_err: Option<f64>,
    pub cosine: Option<f64>,
    /// Integer and bool outputs: the share of equal elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top5: Option<f64>,
    /// Elements finite in fp32 but NaN or infinite in the variant.
    #[serde(default)]
    pub nonfinite: usize,
    /// Why this output fails the check, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A variant row's accuracy cost and speed against its fp32 build.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// The fp32 build compared with.
    pub reference_build: String,
    /// Its row compared with: `runtime/device` (the same runtime and device
    /// when that row succeeded, else the fp32 build's reference row).
    pub reference_row: String,
    /// That row's median latency, and fp32 median / variant median.
    pub reference_median_ms: Option<f64>,
    pub speedup: Option<f64>,
    /// Over all outputs: the largest absolute and relative errors, the
    /// lowest cosine similarity and top-1/top-5 agreement.
    pub max_abs_err: Option<f64>,
    pub rel_err: Option<f64>,
    pub cosine: Option<f64>,
    pub top1: Option<f64>,
    pub top5: Option<f64>,
    /// `generate` rows: the share of generated tokens equal to fp32's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_agreement: Option<f64>,
    /// The pass bound on every output's cosine (`--min-cosine`).
    pub min_cosine: f64,
    pub pass: bool,
    pub outputs: Vec<OutputAccuracy>,
}

impl Accuracy {
    /// One line: `cosine 0.99998, rel err 2.1e-3, max abs 4.0e-3, top-1 100%`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.cosine {
            parts.push(format!("cosine {}", fmt_cosine(c)));
        }
        if let Some(r) = self.rel_err {
            parts.push(format!("rel err {r:.1e}"));
        }
        if let Some(a) = self.max_abs_err {
            parts.push(format!("max abs {a:.1e}"));
        }
        if let Some(t) = self.top1 {
            parts.push(format!("top-1 {:.1}%", t * 100.0));
        }
        if let Some(t) = self.top5 {
            parts.push(format!("top-5 {:.1}%", t * 100.0));
        }
        if let Some(t) = self.token_agreement {
            parts.push(format!("tokens {:.1}%", t * 100.0));
        }
        let problems: Vec<String> = self
            .outputs
            .iter()
            .filter_map(|o| o.problem.as_ref().map(|p| format!("{}: {p}", o.name)))
            .collect();
        if !problems.is_empty() {
            parts.push(problems.join("; "));
        }
        format!(
            "{} against fp32 ({}): {}",
            if self.pass { "pass" } else { "FAIL" },
            self.reference_row,
            parts.join(", ")
        )
    }
}

/// Cosine similarity with as many nines as it has, up to 6 decimals.
pub fn fmt_cosine(c: f64) -> String {
    if (0.999_999_5..=1.0 + 1e-12).contains(&c) {
        "1.000000".into()
    } else {
        format!("{c:.6}")
    }
}

fn values(t: &HostTensor) -> Vec<f64> {
    t.to_f64_vec()
}

/// The accuracy of each output of `actual` against `reference` (matched by
/// name), and the verdict against `min_cosine`.
pub fn measure(
    reference: &[(String, HostTensor)],
    actual: &[(String, HostTensor)],
    min_cosine: f64,
) -> (bool, Vec<OutputAccuracy>) {
    let mut outs = Vec::new();
    for (name, r) in reference {
        let Some((_, a)) = actual.iter().find(|(n, _)| n == name) else {
            outs.push(OutputAccuracy {
                name: name.clone(),
                problem: Some("missing from the variant's outputs".into()),
                ..Default::default()
            });
            continue;
        };
        outs.push(output(name, r, a, min_cosine));
    }
    let pass = outs.iter().all(|o| o.problem.is_none());
    (pass, outs)
}

fn output(name: &str, r: &HostTensor, a: &HostTensor, min_cosine: f64) -> OutputAccuracy {
    let mut o = OutputAccuracy {
        name: name.to_string(),
        ..Default::default()
    };
    if r.shape != a.shape {
        o.problem = Some(format!(
            "shape {} but fp32 gives {}",
            shape_str(&a.shape),
            shape_str(&r.shape)
        ));
        return o;
    }
    if r.dtype.is_string() || a.dtype.is_string() {
        o.agreement = Some(if r == a { 1.0 } else { 0.0 });
        if r != a {
            o.problem = Some("strings differ".into());
        }
        return o;
    }
    let (rv, av) = (values(r), values(a));
    if !r.dtype.is_float() {
        let equal = rv.iter().zip(&av).filter(|(x, y)| x == y).count();
        let share = if rv.is_empty() {
            1.0
        } else {
            equal as f64 / rv.len() as f64
        };
        o.agreement = Some(share);
        if share < min_cosine {
            o.problem = Some(format!(
                "{:.1}% of the elements equal fp32's (below {min_cosine})",
                share * 100.0
            ));
        }
        return o;
    }
    let (mut dot, mut rr, mut aa, mut dd, mut max_abs) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&x, &y) in rv.iter().zip(&av) {
        if !x.is_finite() {
            continue;
        }
        if !y.is_finite() {
            o.nonfinite += 1;
            continue;
        }
        dot += x * y;
        rr += x * x;
        aa += y * y;
        dd += (x - y) * (x - y);
        max_abs = max_abs.max((x - y).abs());
    }
    o.max_abs_err = Some(max_abs);
    o.rel_err = Some(if rr > 0.0 {
        (dd / rr).sqrt()
    } else if dd == 0.0 {
        0.0
    } else {
        f64::INFINITY
    });
    let cos = match (rr > 0.0, aa > 0.0) {
        (true, true) => dot / (rr.sqrt() * aa.sqrt()),
        (false, false) => 1.0,
        _ => 0.0,
    };
    o.cosine = Some(cos);
    if r.shape.len() == 2 && r.shape[1] >= 2 && r.shape[0] > 0 {
        let (t1, t5) = top_k_agreement(&rv, &av, r.shape[1]);
        o.top1 = Some(t1);
        o.top5 = (r.shape[1] > 5).then_some(t5);
    }
    if o.nonfinite > 0 {
        o.problem = Some(format!(
            "{} element(s) are NaN or infinite where fp32 is finite",
            o.nonfinite
        ));
    } else if cos < min_cosine {
        o.problem = Some(format!("cosine {} below {min_cosine}", fmt_cosine(cos)));
    }
    o
}

/// Rows of `classes` scores: the share whose reference argmax is the
/// variant's argmax, and the share where it is among the variant's five best.
fn top_k_agreement(r: &[f64], a: &[f64], classes: usize) -> (f64, f64) {
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, &x)| {
                if x > best.1 { (i, x) } else { best }
            })
            .0
    };
    let rows = r.len() / classes;
    let (mut top1, mut top5) = (0usize, 0usize);
    for k in 0..rows {
        let (rr, aa) = (
            &r[k * classes..(k + 1) * classes],
            &a[k * classes..(k + 1) * classes],
        );
        let want = argmax(rr);
        if argmax(aa) == want {
            top1 += 1;
        }
        let above = aa.iter().filter(|&&x| x > aa[want]).count();
        if above < 5 {
            top5 += 1;
        }
    }
    (top1 as f64 / rows as f64, top5 as f64 / rows as f64)
}

/// A row's figures: max abs error, relative error, cosine, top-1, top-5.
pub type Overall = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// Summarizes per-output results into the row's figures.
pub fn overall(outs: &[OutputAccuracy]) -> Overall {
    let max = |f: fn(&OutputAccuracy) -> Option<f64>| {
        outs.iter()
            .filter_map(f)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    let min = |f: fn(&OutputAccuracy) -> Option<f64>| {
        outs.iter()
            .filter_map(f)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
    };
    (
        max(|o| o.max_abs_err),
        max(|o| o.rel_err),
        min(|o| o.cosine),
        min(|o| o.top1),
        min(|o| o.top5),
    )
}

/// The share of `tokens` equal to `reference` position by position (the
/// generated ids of a `generate` row); positions past the shorter count
/// as different. The hook for generation rows' accuracy.
pub fn token_agreement(reference: &[i64], tokens: &[i64]) -> f64 {
    let n = reference.len().max(tokens.len());
    if n == 0 {
        return 1.0;
    }
    let same = reference.iter().zip(tokens).filter(|(a, b)| a == b).count();
    same as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DType;

    fn t(shape: &[usize], v: &[f64]) -> HostTensor {
        HostTensor::from_fn(DType::Float32, shape, |i| v[i])
    }

    #[test]
    fn errors_cosine_and_top_k() {
        let r = t(&[2, 6], &[0., 1., 2., 3., 4., 5., 5., 4., 3., 2., 1., 0.]);
        // Row 0 keeps its argmax (5); row 1's argmax moves from 0 to 1, but
        // class 0 is still among the five best.
        let a = t(
            &[2, 6],
            &[0., 1., 2., 3., 4., 5.1, 4.9, 5.0, 3., 2., 1., 0.],
        );
        let (pass, outs) = measure(&[("y".into(), r.clone())], &[("y".into(), a)], 0.99);
        assert!(pass);
        let o = &outs[0];
        assert_eq!(o.top1, Some(0.5));
        assert_eq!(o.top5, Some(1.0));
        // Row 1's class 1 moved from 4 to 5.
        assert!((o.max_abs_err.unwrap() - 1.0).abs() < 1e-6);
        assert!(o.cosine.unwrap() > 0.99 && o.cosine.unwrap() < 1.0);
        let rel = o.rel_err.unwrap();
        assert!(
            (rel - (1.02f64).sqrt() / 110f64.sqrt()).abs() < 1e-6,
            "{rel}"
        );
        // A NaN where fp32 is finite fails, whatever the cosine.
        let mut bad = r.clone();
        bad.data[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        let (pass, outs) = measure(&[("y".into(), r.clone())], &[("y".into(), bad)], 0.99);
        assert!(!pass);
        assert!(
            outs[0].problem.as_ref().unwrap().contains("NaN"),
            "{:?}",
            outs[0]
        );
        // Below the cosine bound fails; a wrong shape too.
        let neg = t(
            &[2, 6],
            &[0., -1., -2., -3., -4., -5., 5., 4., 3., 2., 1., 0.],
        );
        assert!(!measure(&[("y".into(), r.clone())], &[("y".into(), neg)], 0.99).0);
        let (_, outs) = measure(
            &[("y".into(), r)],
            &[("y".into(), t(&[12], &[0.; 12]))],
            0.99,
        );
        assert!(outs[0].problem.as_ref().unwrap().contains("shape [12]"));
    }

    #[test]
    fn integer_outputs_count_equal_elements_and_tokens_agree_by_position() {
        let r = HostTensor::from_fn(DType::Int64, &[4], |i| i as f64);
        let a = HostTensor::from_fn(DType::Int64, &[4], |i| if i == 3 { 9.0 } else { i as f64 });
        let (pass, outs) = measure(&[("ids".into(), r)], &[("ids".into(), a)], 0.7);
        assert!(pass);
        assert_eq!(outs[0].agreement, Some(0.75));
        assert_eq!(token_agreement(&[1, 2, 3, 4], &[1, 2, 5]), 0.5);
        assert_eq!(token_agreement(&[], &[]), 1.0);
        assert_eq!(fmt_cosine(0.99999996), "1.000000");
        assert_eq!(fmt_cosine(0.9876543), "0.987654");
    }
}
