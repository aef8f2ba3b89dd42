//! Checking a runtime's outputs against the reference runtime's.

use crate::graph::{DType, HostTensor, shape_str};
use serde::{Deserialize, Serialize};

/// The verdict on one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputCheck {
    pub name: String,
    pub pass: bool,
    pub numel: usize,
    /// Elements outside tolerance (non-finite disagreements included).
    pub mismatched: usize,
    /// Elements where NaN or infinity appears in one place but not the other.
    pub nonfinite_mismatched: usize,
    /// Largest |actual - reference| over elements finite in both.
    pub max_abs_diff: f64,
    /// Largest |actual - reference| / |reference| over those with reference != 0.
    pub max_rel_diff: f64,
    /// Why the output failed, in words; `None` when it passed.
    pub problem: Option<String>,
}

/// The verdict on all outputs of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub pass: bool,
    pub atol: f64,
    pub rtol: f64,
    pub max_abs_diff: f64,
    pub max_rel_diff: f64,
    pub outputs: Vec<OutputCheck>,
    /// One line for humans: `pass: ...` or `FAIL: ...`.
    pub summary: String,
}

/// Compares `actual` to `reference` output by output (matched by name).
///
/// Names, dtypes and shapes must match. An element passes when
/// `|a - r| <= atol + rtol * |r|` (numpy.isclose); NaN in both places and
/// equal infinities count as equal, any other NaN or infinity is a mismatch.
/// Integers and bools compare exactly as numbers (int64 without rounding).
pub fn compare(
    reference: &[(String, HostTensor)],
    actual: &[(String, HostTensor)],
    atol: f64,
    rtol: f64,
) -> CheckResult {
    let mut outputs: Vec<OutputCheck> = reference
        .iter()
        .map(|(name, r)| match actual.iter().find(|(n, _)| n == name) {
            Some((_, a)) => compare_tensor(name, r, a, atol, rtol),
            None => structural(name, r.numel(), "missing from the outputs".into()),
        })
        .collect();
    for (name, a) in actual {
        if !reference.iter().any(|(n, _)| n == name) {
            outputs.push(structural(
                name,
                a.numel(),
                "is not an output of the reference".into(),
            ));
        }
    }
    let pass = outputs.iter().all(|o| o.pass);
    let max_abs_diff = outputs.iter().map(|o| o.max_abs_diff).fold(0.0, f64::max);
    let max_rel_diff = outputs.iter().map(|o| o.max_rel_diff).fold(0.0, f64::max);
    let summary = summarize(&outputs, pass, max_abs_diff, max_rel_diff, atol, rtol);
    CheckResult {
        pass,
        atol,
        rtol,
        max_abs_diff,
        max_rel_diff,
        outputs,
        summary,
    }
}

fn structural(name: &str, numel: usize, problem: String) -> OutputCheck {
    OutputCheck {
        name: name.to_string(),
        pass: false,
        numel,
        mismatched: numel,
        nonfinite_mismatched: 0,
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
        problem: Some(problem),
    }
}

fn compare_tensor(name: &str, r: &HostTensor, a: &HostTensor, atol: f64, rtol: f64) -> OutputCheck {
    if r.dtype != a.dtype {
        return structural(
            name,
            r.numel(),
            format!("is {} but the reference is {}", a.dtype, r.dtype),
        );
    }
    if r.shape != a.shape {
        return structural(
            name,
            r.numel(),
            format!(
                "has shape {} but the reference has {}",
                shape_str(&a.shape),
                shape_str(&r.shape)
            ),
        );
    }
    if !r.data_fits() || !a.data_fits() {
        return structural(
            name,
            r.numel(),
            "has a data length that does not match its shape".into(),
        );
    }

    if let (Some(rs), Some(as_)) = (r.strings(), a.strings()) {
        return compare_strings(name, r, &rs, &as_);
    }
    let mut c = Counter::default();
    if r.dtype == DType::Int64 {
        let (rv, av) = (
            r.to_i64_vec().unwrap_or_default(),
            a.to_i64_vec().unwrap_or_default(),
        );
        for (i, (&x, &y)) in rv.iter().zip(&av).enumerate() {
            let d = (i128::from(y) - i128::from(x)).unsigned_abs() as f64;
            c.finite(i, x as f64, y as f64, d, atol, rtol);
        }
    } else {
        for (i, (x, y)) in r.to_f64_vec().into_iter().zip(a.to_f64_vec()).enumerate() {
            if (x.is_nan() && y.is_nan()) || x == y {
                c.finite(i, x, y, 0.0, atol, rtol);
            } else if !x.is_finite() || !y.is_finite() {
                c.nonfinite(i, x, y);
            } else {
                c.finite(i, x, y, (y - x).abs(), atol, rtol);
            }
        }
    }
    let problem = c.worst.map(|(i, x, y)| {
        format!(
            "{} of {} elements differ (first at {}: reference {x}, got {y})",
            c.mismatched,
            r.numel(),
            shape_str(&unravel(i, &r.shape)),
        )
    });
    OutputCheck {
        name: name.to_string(),
        pass: c.mismatched == 0,
        numel: r.numel(),
        mismatched: c.mismatched,
        nonfinite_mismatched: c.nonfinite,
        max_abs_diff: c.max_abs,
        max_rel_diff: c.max_rel,
        problem,
    }
}

/// Strings agree only when equal byte for byte.
fn compare_strings(name: &str, r: &HostTensor, rs: &[&[u8]], as_: &[&[u8]]) -> OutputCheck {
    let differ: Vec<usize> = (0..rs.len()).filter(|&i| rs[i] != as_[i]).collect();
    OutputCheck {
        name: name.to_string(),
        pass: differ.is_empty(),
        numel: r.numel(),
        mismatched: differ.len(),
        nonfinite_mismatched: 0,
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
        problem: differ.first().map(|&i| {
            format!(
                "{} of {} strings differ (first at {}: reference {:?}, got {:?})",
                differ.len(),
                r.numel(),
                shape_str(&unravel(i, &r.shape)),
                String::from_utf8_lossy(rs[i]),
                String::from_utf8_lossy(as_[i]),
            )
        }),
    }
}

#[derive(Default)]
struct Counter {
    mismatched: usize,
    nonfinite: usize,
    max_abs: f64,
    max_rel: f64,
    /// The first failing element: flat index, reference, actual.
    worst: Option<(usize, f64, f64)>,
}

impl Counter {
    fn finite(&mut self, i: usize, r: f64, a: f64, d: f64, atol: f64, rtol: f64) {
        self.max_abs = self.max_abs.max(d);
        if r != 0.0 && d > 0.0 {
            self.max_rel = self.max_rel.max(d / r.abs());
        }
        if d > atol + rtol * r.abs() {
            self.fail(i, r, a);
        }
    }

    fn nonfinite(&mut self, i: usize, r: f64, a: f64) {
        self.nonfinite += 1;
        self.fail(i, r, a);
    }

    fn fail(&mut self, i: usize, r: f64, a: f64) {
        self.mismatched += 1;
        self.worst.get_or_insert((i, r, a));
    }
}

/// Flat row-major index to a multi-index.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

fn summarize(
    outputs: &[OutputCheck],
    pass: bool,
    max_abs: f64,
    max_rel: f64,
    atol: f64,
    rtol: f64,
) -> String {
    let tol = format!("atol {atol:e}, rtol {rtol:e}");
    if pass {
        let n = outputs.len();
        let s = if n == 1 { "" } else { "s" };
        return format!(
            "pass: {n} output{s} within {tol} (max abs diff {max_abs:.1e}, max rel diff {max_rel:.1e})"
        );
    }
    let failed: Vec<&OutputCheck> = outputs.iter().filter(|o| !o.pass).collect();
    let first = failed[0];
    let mut line = format!(
        "FAIL: output '{}' {}",
        first.name,
        first.problem.as_deref().unwrap_or("differs")
    );
    if failed.len() > 1 {
        line += &format!(", and {} more failing outputs", failed.len() - 1);
    }
    line + format!("; max abs diff {max_abs:.1e} ({tol})").as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(name: &str, shape: &[usize], v: &[f32]) -> (String, HostTensor) {
        let mut i = 0;
        let t = HostTensor::from_fn(DType::Float32, shape, |_| {
            i += 1;
            v[i - 1] as f64
        });
        (name.to_string(), t)
    }

    #[test]
    fn strings_compare_exactly() {
        let r = HostTensor::from_strings(&[3], &["a", "héllo", ""]);
        let same = compare(
            &[("s".into(), r.clone())],
            &[("s".into(), r.clone())],
            0.0,
            0.0,
        );
        assert!(same.pass, "{}", same.summary);
        let a = HostTensor::from_strings(&[3], &["a", "hello", "x"]);
        let c = compare(&[("s".into(), r)], &[("s".into(), a)], 1.0, 1.0);
        assert!(!c.pass);
        let p = c.outputs[0].problem.clone().unwrap();
        assert!(
            p.contains("2 of 3 strings differ") && p.contains(r#"reference "héllo", got "hello""#),
            "{p}"
        );
    }

    #[test]
    fn identical_outputs_pass_with_zero_diff() {
        let r = vec![f32s("y", &[2, 2], &[1.0, -2.0, 3.0, 0.0])];
        let c = compare(&r, &r, 0.0, 0.0);
        assert!(c.pass, "{}", c.summary);
        assert_eq!((c.max_abs_diff, c.max_rel_diff), (0.0, 0.0));
        assert!(
            c.summary.starts_with("pass: 1 output within"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn tolerance_is_atol_plus_rtol_times_reference() {
        let r = vec![f32s("y", &[2], &[100.0, 0.0])];
        // 100 -> 100.5: within 0 + 0.01 * 100 = 1.
        let a = vec![f32s("y", &[2], &[100.5, 0.0])];
        let c = compare(&r, &a, 0.0, 0.01);
        assert!(c.pass, "{}", c.summary);
        assert!((c.max_abs_diff - 0.5).abs() < 1e-6);
        assert!((c.max_rel_diff - 0.005).abs() < 1e-6);
        // 0 -> 0.001: rtol gives nothing at 0, atol must cover it.
        let a = vec![f32s("y", &[2], &[100.0, 0.001])];
        assert!(!compare(&r, &a, 0.0, 0.01).pass);
        assert!(compare(&r, &a, 0.002, 0.01).pass);
    }

    #[test]
    fn failure_names_the_element() {
        let r = vec![f32s("y", &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])];
        let a = vec![f32s("y", &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.5, 5.0])];
        let c = compare(&r, &a, 1e-4, 1e-3);
        assert!(!c.pass);
        assert_eq!(c.outputs[0].mismatched, 1);
        assert_eq!(
            c.summary,
            "FAIL: output 'y' 1 of 6 elements differ (first at [1, 1]: reference 4, got 4.5); \
             max abs diff 5.0e-1 (atol 1e-4, rtol 1e-3)"
        );
    }

    #[test]
    fn nan_and_infinity() {
        let r = vec![f32s("y", &[3], &[f32::NAN, f32::INFINITY, 1.0])];
        let same = vec![f32s("y", &[3], &[f32::NAN, f32::INFINITY, 1.0])];
        let c = compare(&r, &same, 0.0, 0.0);
        assert!(c.pass, "{}", c.summary);
        assert_eq!(c.max_abs_diff, 0.0);

        let nan_one_side = vec![f32s("y", &[3], &[1.0, f32::INFINITY, 1.0])];
        let c = compare(&r, &nan_one_side, 1e9, 1e9);
        assert!(!c.pass, "a NaN is never within tolerance");
        assert_eq!(c.outputs[0].nonfinite_mismatched, 1);
        assert!(c.max_abs_diff.is_finite());

        let wrong_inf = vec![f32s("y", &[3], &[f32::NAN, f32::NEG_INFINITY, 1.0])];
        assert!(!compare(&r, &wrong_inf, 1e9, 1e9).pass);
        let new_nan = vec![f32s("y", &[3], &[f32::NAN, f32::INFINITY, f32::NAN])];
        let c = compare(&r, &new_nan, 1e9, 1e9);
        assert!(!c.pass);
        assert!(c.summary.contains("reference 1, got NaN"), "{}", c.summary);
        // The record stays valid JSON (no inf/NaN numbers).
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CheckResult>(&j).unwrap(), c);
    }

    #[test]
    fn names_shapes_and_dtypes_must_match() {
        let r = vec![f32s("y", &[2], &[1.0, 2.0])];
        let c = compare(&r, &[f32s("z", &[2], &[1.0, 2.0])], 1.0, 1.0);
        assert!(!c.pass);
        assert!(c.summary.contains("output 'y' missing"), "{}", c.summary);
        assert!(c.summary.contains("1 more failing"), "{}", c.summary);
        let c = compare(&r, &[f32s("y", &[1, 2], &[1.0, 2.0])], 1.0, 1.0);
        assert!(
            c.summary
                .contains("has shape [1, 2] but the reference has [2]"),
            "{}",
            c.summary
        );
        let i = ("y".to_string(), HostTensor::full(DType::Int32, &[2], 1.0));
        let c = compare(&r, &[i], 1.0, 1.0);
        assert!(
            c.summary.contains("is int32 but the reference is float32"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn int64_compares_exactly() {
        let big = 1i64 << 60;
        let t = |v: i64| {
            let mut d = Vec::new();
            d.extend_from_slice(&v.to_le_bytes());
            (
                "k".to_string(),
                HostTensor {
                    dtype: DType::Int64,
                    shape: vec![1],
                    data: d,
                },
            )
        };
        // 2^60 and 2^60 + 1 are the same f64; the check must still see them differ.
        let c = compare(&[t(big)], &[t(big + 1)], 0.0, 0.0);
        assert!(!c.pass);
        assert_eq!(c.max_abs_diff, 1.0);
        assert!(compare(&[t(big)], &[t(big)], 0.0, 0.0).pass);
    }

    #[test]
    fn bools_compare_as_numbers() {
        let a = ("b".to_string(), HostTensor::full(DType::Bool, &[2], 1.0));
        let b = ("b".to_string(), HostTensor::full(DType::Bool, &[2], 0.0));
        assert!(!compare(std::slice::from_ref(&a), &[b], 0.5, 0.0).pass);
        let same = std::slice::from_ref(&a);
        assert!(compare(same, same, 0.0, 0.0).pass);
    }
}
