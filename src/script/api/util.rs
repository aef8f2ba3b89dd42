//! Argument readers shared by every op family: shapes, axes, dtypes,
//! numbers, and options maps checked against their documented keys.

use super::super::host::{Host, Trace};
use super::super::model::rt_err;
use super::super::tensor::Tensor;
use crate::graph::{DType, HostTensor, Op, ValueId};
use rhai::{Array, Dynamic, EvalAltResult, Map, NativeCallContext};

pub type R<T> = Result<T, Box<EvalAltResult>>;

/// The largest single tensor a script may ask for (bytes).
pub const MAX_TENSOR_BYTES: u64 = 1 << 40;

/// One key of an options map: its name, its default as the reference shows
/// it (and as [`Opts`] parses it), and what it means. `"-"` = no default
/// (the key is optional and absent means "not set").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptSpec {
    pub key: &'static str,
    pub default: &'static str,
    pub about: &'static str,
}

/// Shorthand for an [`OptSpec`] in a `const` table.
pub const fn opt(key: &'static str, default: &'static str, about: &'static str) -> OptSpec {
    OptSpec {
        key,
        default,
        about,
    }
}

pub const DTYPE_OPT: OptSpec = opt("dtype", "\"float32\"", "dtype of the parameters");

pub fn dims(ctx: &NativeCallContext, shape: &Array) -> R<Vec<usize>> {
    let mut out = Vec::with_capacity(shape.len());
    let mut total: u64 = 1;
    for d in shape {
        let Some(v) = d.as_int().ok() else {
            return Err(rt_err(
                ctx,
                format!("shape entries must be integers, got {}", d.type_name()),
            ));
        };
        if v < 1 {
            return Err(rt_err(
                ctx,
                format!("shape {shape:?} has a dimension {v}: every dimension must be at least 1"),
            ));
        }
        total = total.saturating_mul(v as u64);
        out.push(v as usize);
    }
    if total.saturating_mul(8) > MAX_TENSOR_BYTES {
        return Err(rt_err(
            ctx,
            format!("shape {shape:?} asks for {total} elements, more than this machine can hold"),
        ));
    }
    Ok(out)
}

pub fn dtype(ctx: &NativeCallContext, s: &str) -> R<DType> {
    DType::parse(s).ok_or_else(|| {
        let names: Vec<&str> = DType::SCRIPT.iter().map(|d| d.name()).collect();
        rt_err(
            ctx,
            format!("unknown dtype \"{s}\"; use one of {}", names.join(", ")),
        )
    })
}

/// A possibly negative axis, normalized against `rank`.
pub fn axis(ctx: &NativeCallContext, a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let n = if a < 0 { a + r } else { a };
    if n < 0 || n >= r.max(1) {
        return Err(rt_err(
            ctx,
            format!("axis {a} is out of range for a tensor of rank {rank}"),
        ));
    }
    Ok(n as usize)
}

/// An int or an array of ints, as normalized axes (sorted, deduplicated).
pub fn axes(ctx: &NativeCallContext, a: &Dynamic, rank: usize) -> R<Vec<usize>> {
    let raw = if let Ok(i) = a.as_int() {
        vec![i]
    } else if let Some(arr) = a.clone().try_cast::<Array>() {
        ints(ctx, "dims", &arr)?
    } else {
        return Err(rt_err(ctx, "dims must be an int or an array of ints"));
    };
    let mut out = raw
        .into_iter()
        .map(|v| axis(ctx, v, rank))
        .collect::<R<Vec<_>>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub fn ints(ctx: &NativeCallContext, what: &str, a: &Array) -> R<Vec<i64>> {
    a.iter()
        .map(|d| {
            d.as_int().map_err(|_| {
                rt_err(
                    ctx,
                    format!("{what} must be integers, got {}", d.type_name()),
                )
            })
        })
        .collect()
}

/// An int or an `[h, w]`-style array, expanded to `n` spatial dims.
pub fn spatial(ctx: &NativeCallContext, what: &str, d: &Dynamic, n: usize) -> R<Vec<usize>> {
    let vals: Vec<i64> = if let Ok(v) = d.as_int() {
        vec![v; n]
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        ints(ctx, what, &a)?
    } else {
        return Err(rt_err(
            ctx,
            format!("{what} must be an int or an array of {n} ints"),
        ));
    };
    if vals.len() != n || vals.iter().any(|&v| v < 0) {
        return Err(rt_err(
            ctx,
            format!("{what} must be {n} non-negative ints, got {vals:?}"),
        ));
    }
    Ok(vals.into_iter().map(|v| v as usize).collect())
}

pub fn positive(ctx: &NativeCallContext, what: &str, v: i64) -> R<usize> {
    if v < 1 {
        return Err(rt_err(ctx, format!("{what} must be at least 1, got {v}")));
    }
    Ok(v as usize)
}

/// An int or an [h, w] array of positive ints.
pub fn size2(ctx: &NativeCallContext, what: &str, d: &Dynamic) -> R<[usize; 2]> {
    if let Ok(v) = d.as_int() {
        let v = positive(ctx, what, v)?;
        return Ok([v, v]);
    }
    if let Some(a) = d.clone().try_cast::<Array>()
        && a.len() == 2
        && let (Ok(h), Ok(w)) = (a[0].as_int(), a[1].as_int())
    {
        return Ok([positive(ctx, what, h)?, positive(ctx, what, w)?]);
    }
    Err(rt_err(
        ctx,
        format!("{what} must be an int or an [h, w] array of ints"),
    ))
}

/// A number (int, float or bool) as f64.
pub fn num(ctx: &NativeCallContext, v: &Dynamic) -> R<f64> {
    v.as_float()
        .or_else(|_| v.as_int().map(|i| i as f64))
        .or_else(|_| v.as_bool().map(|b| f64::from(u8::from(b))))
        .map_err(|_| rt_err(ctx, format!("expected a number, got {}", v.type_name())))
}

pub fn tensors(ctx: &NativeCallContext, xs: &Array) -> R<Vec<Tensor>> {
    xs.iter()
        .map(|d| {
            let d = d.flatten_clone();
            let tn = d.type_name();
            d.try_cast::<Tensor>()
                .ok_or_else(|| rt_err(ctx, format!("expected an array of tensors, found {tn}")))
        })
        .collect()
}

/// A 0-d tensor of `x`'s dtype holding `v` (a scalar operand).
pub fn scalar_like(x: &Tensor, v: f64) -> Tensor {
    Tensor::concrete(HostTensor::full(x.dtype(), &[], v))
}

/// Applies one op to traced tensors; its error is reported at the call.
pub fn ap(ctx: &NativeCallContext, h: &Host, op: Op, ins: &[Tensor]) -> R<Tensor> {
    h.apply(op, ins).map_err(|e| rt_err(ctx, e))
}

/// Runs `f` on `x`'s graph value inside the active trace.
pub fn traced(
    ctx: &NativeCallContext,
    h: &Host,
    x: &Tensor,
    f: impl FnOnce(&mut Trace, ValueId) -> Result<ValueId, String>,
) -> R<Tensor> {
    h.with_trace(|t| {
        let v = t.value_of(x)?;
        let y = f(t, v)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, e))
}

/// Reads an options map, rejecting keys its spec does not list; defaults
/// come from the spec, so the reference and the code cannot disagree.
pub struct Opts<'a> {
    ctx: &'a NativeCallContext<'a>,
    fname: String,
    map: Map,
    spec: &'static [OptSpec],
}

impl<'a> Opts<'a> {
    pub fn new(
        ctx: &'a NativeCallContext<'a>,
        fname: &str,
        map: Map,
        spec: &'static [OptSpec],
    ) -> R<Self> {
        for k in map.keys() {
            if !spec.iter().any(|o| o.key == k.as_str()) {
                let known: Vec<&str> = spec.iter().map(|o| o.key).collect();
                return Err(rt_err(
                    ctx,
                    format!(
                        "{fname}: unknown option '{k}'; known: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(Opts {
            ctx,
            fname: fname.to_string(),
            map,
            spec,
        })
    }

    fn default_of(&self, k: &str) -> &'static str {
        self.spec
            .iter()
            .find(|o| o.key == k)
            .map(|o| o.default)
            .unwrap_or_else(|| panic!("{}: option '{k}' is not in its spec", self.fname))
    }

    /// The value given for `k`, if any.
    pub fn get(&self, k: &str) -> Option<Dynamic> {
        let _ = self.default_of(k);
        self.map.get(k).cloned()
    }

    fn bad(&self, k: &str, what: &str) -> Box<EvalAltResult> {
        rt_err(
            self.ctx,
            format!("{}: option '{k}' must be {what}", self.fname),
        )
    }

    pub fn bool(&self, k: &str) -> R<bool> {
        match self.get(k) {
            None => Ok(self.default_of(k) == "true"),
            Some(v) => v.as_bool().map_err(|_| self.bad(k, "true or false")),
        }
    }

    pub fn int(&self, k: &str) -> R<i64> {
        match self.get(k) {
            None => Ok(self.default_of(k).parse().expect("int default")),
            Some(v) => v.as_int().map_err(|_| self.bad(k, "an integer")),
        }
    }

    pub fn float(&self, k: &str) -> R<f64> {
        match self.get(k) {
            None => Ok(self.default_of(k).parse().expect("float default")),
            Some(v) => v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map_err(|_| self.bad(k, "a number")),
        }
    }

    /// A float option without a default (`"-"` in the spec): None when absent.
    pub fn maybe_float(&self, k: &str) -> R<Option<f64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(_) => self.float(k).map(Some),
        }
    }

    pub fn string(&self, k: &str) -> R<String> {
        match self.get(k) {
            None => Ok(self.default_of(k).trim_matches('"').to_string()),
            Some(v) => v
                .into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|_| self.bad(k, "a string")),
        }
    }

    /// An int or per-dim array, `n` dims; the default is an int.
    pub fn spatial(&self, k: &str, n: usize) -> R<Vec<usize>> {
        match self.get(k) {
            None => {
                let d: usize = self.default_of(k).parse().expect("int default");
                Ok(vec![d; n])
            }
            Some(v) => spatial(self.ctx, k, &v, n),
        }
    }

    pub fn dtype(&self) -> R<DType> {
        let s = self.string("dtype")?;
        dtype(self.ctx, &s)
    }
}
