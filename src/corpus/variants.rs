//! The precision variants a job asks for: `--precision`, `--ort-opt-level`,
//! a manifest's `precision` / `ort_opt_level` keys, and the same names as
//! `--sweep` keys. Each precision × level (but plain fp32) is a variant
//! build of the job's build, checked against it.

use crate::runtime::GraphOptimization;
use std::fmt;

/// A precision a variant is made in (see `onnx::rewrite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    /// The model as traced or given.
    Fp32,
    Fp16,
    Bf16,
    /// int8 weights, activations quantized at run time.
    Int8Dynamic,
    /// int8 weights and activations, activation scales calibrated.
    Int8Static,
}

impl Precision {
    pub const ALL: [Precision; 5] = [
        Precision::Fp32,
        Precision::Fp16,
        Precision::Bf16,
        Precision::Int8Dynamic,
        Precision::Int8Static,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
            Precision::Int8Dynamic => "int8-dynamic",
            Precision::Int8Static => "int8-static",
        }
    }

    pub fn parse(s: &str) -> Result<Precision, String> {
        let t = s.trim().to_ascii_lowercase();
        let t = match t.as_str() {
            "float32" => "fp32",
            "float16" | "half" => "fp16",
            "bfloat16" => "bf16",
            other => other,
        };
        Precision::ALL
            .into_iter()
            .find(|p| p.as_str() == t)
            .ok_or_else(|| {
                format!(
                    "unknown precision '{s}': use fp32, fp16, bf16, int8-dynamic or int8-static"
                )
            })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One variant: a precision, and the ONNX Runtime optimization level its
/// saved model was optimized at (`None`: not optimized ahead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VariantKey {
    pub precision: Precision,
    pub ort_opt_level: Option<GraphOptimization>,
}

impl VariantKey {
    /// Plain fp32: the build itself, not a variant.
    pub fn is_base(&self) -> bool {
        self.precision == Precision::Fp32 && self.ort_opt_level.is_none()
    }

    /// `fp16`, `int8-static_ort-basic`: a build name part.
    pub fn name_part(&self) -> String {
        match self.ort_opt_level {
            Some(l) => format!("{}_ort-{l}", self.precision),
            None => self.precision.to_string(),
        }
    }
}

/// The precisions and levels asked for; their product makes the variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variants {
    pub precisions: Vec<Precision>,
    /// `None` in the list: no ahead-of-time optimization (`default`).
    pub ort_opt_levels: Vec<Option<GraphOptimization>>,
}

impl Default for Variants {
    fn default() -> Self {
        Variants {
            precisions: vec![Precision::Fp32],
            ort_opt_levels: vec![None],
        }
    }
}

/// Splits `a,b, c` into trimmed, non-empty parts.
fn parts(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}

impl Variants {
    /// `fp32,int8-dynamic`; `what` names the source in errors.
    pub fn parse_precisions(values: &[String], what: &str) -> Result<Vec<Precision>, String> {
        let mut out = Vec::new();
        for v in values.iter().flat_map(|v| parts(v)) {
            let p = Precision::parse(v).map_err(|e| format!("{what}: {e}"))?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err(format!("{what} is empty; give e.g. fp32,fp16"));
        }
        Ok(out)
    }

    /// `default,basic,all`; `default` is no ahead-of-time optimization.
    pub fn parse_levels(
        values: &[String],
        what: &str,
    ) -> Result<Vec<Option<GraphOptimization>>, String> {
        let mut out = Vec::new();
        for v in values.iter().flat_map(|v| parts(v)) {
            let l = if v.eq_ignore_ascii_case("default") {
                None
            } else {
                Some(
                    v.parse::<GraphOptimization>()
                        .map_err(|e| format!("{what}: {e} (or default)"))?,
                )
            };
            if !out.contains(&l) {
                out.push(l);
            }
        }
        if out.is_empty() {
            return Err(format!("{what} is empty; give e.g. basic,all"));
        }
        Ok(out)
    }

    /// Every precision × level but the build itself, in the order given.
    pub fn keys(&self) -> Vec<VariantKey> {
        let mut out = Vec::new();
        for &precision in &self.precisions {
            for &ort_opt_level in &self.ort_opt_levels {
                let k = VariantKey {
                    precision,
                    ort_opt_level,
                };
                if !k.is_base() {
                    out.push(k);
                }
            }
        }
        out
    }

    /// `precision=fp32,fp16 ort_opt_level=basic` (empty for the default).
    pub fn describe(&self) -> String {
        if *self == Variants::default() {
            return String::new();
        }
        let p: Vec<&str> = self.precisions.iter().map(|p| p.as_str()).collect();
        let l: Vec<String> = self
            .ort_opt_levels
            .iter()
            .map(|l| l.map_or("default".to_string(), |l| l.to_string()))
            .collect();
        format!("precision={} ort_opt_level={}", p.join(","), l.join(","))
    }
}

/// The sweep keys that choose variants instead of script arguments or axes.
pub const PRECISION_KEY: &str = "precision";
pub const ORT_OPT_LEVEL_KEY: &str = "ort_opt_level";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_multiply() {
        let s = |v: &str| vec![v.to_string()];
        let p =
            Variants::parse_precisions(&s("fp32, FP16,int8-static,fp16"), "--precision").unwrap();
        assert_eq!(p, [Precision::Fp32, Precision::Fp16, Precision::Int8Static]);
        let e = Variants::parse_precisions(&s("int4"), "--precision").unwrap_err();
        assert!(
            e.starts_with("--precision: unknown precision 'int4'"),
            "{e}"
        );
        let l = Variants::parse_levels(&s("default,basic"), "--ort-opt-level").unwrap();
        assert_eq!(l, [None, Some(GraphOptimization::Basic)]);
        assert!(
            Variants::parse_levels(&s("max"), "x")
                .unwrap_err()
                .contains("disabled, basic")
        );
        let v = Variants {
            precisions: p,
            ort_opt_levels: l,
        };
        let keys: Vec<String> = v.keys().iter().map(|k| k.name_part()).collect();
        assert_eq!(
            keys,
            [
                "fp32_ort-basic",
                "fp16",
                "fp16_ort-basic",
                "int8-static",
                "int8-static_ort-basic"
            ]
        );
        assert!(Variants::default().keys().is_empty());
        assert_eq!(Variants::default().describe(), "");
    }
}
