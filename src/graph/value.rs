//! Model inputs and outputs that are not plain tensors: ONNX sequences
//! (`seq(tensor(float))`), optionals (`optional(seq(tensor(int32)))`) and
//! maps (`seq(map(int64,tensor(float)))`, what classifiers converted from
//! scikit-learn output). Only ONNX files given as inputs have them;
//! scripts trace tensors.

use super::{DType, HostTensor, shape_str};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The type of an input or output.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Tensor(DType),
    Sequence(Box<ValueType>),
    Optional(Box<ValueType>),
    /// Keys of one type to values of another (one scalar each).
    Map {
        key: DType,
        value: DType,
    },
}

impl ValueType {
    /// The element type of the innermost tensor (a map's values).
    pub fn elem(&self) -> DType {
        match self {
            ValueType::Tensor(d) => *d,
            ValueType::Sequence(t) | ValueType::Optional(t) => t.elem(),
            ValueType::Map { value, .. } => *value,
        }
    }

    pub fn is_tensor(&self) -> bool {
        matches!(self, ValueType::Tensor(_))
    }
}

/// ONNX Runtime's spelling: `tensor(float32)`, `seq(tensor(int64))`,
/// `optional(seq(tensor(float32)))`.
impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Tensor(d) => write!(f, "tensor({d})"),
            ValueType::Sequence(t) => write!(f, "seq({t})"),
            ValueType::Optional(t) => write!(f, "optional({t})"),
            ValueType::Map { key, value } => write!(f, "map({key},tensor({value}))"),
        }
    }
}

/// A concrete input or output.
#[derive(Clone, Debug, PartialEq)]
pub enum HostValue {
    Tensor(HostTensor),
    /// Values of type `elem`, possibly none.
    Sequence {
        elem: ValueType,
        items: Vec<HostValue>,
    },
    /// An optional of type `inner`; `None` is the absent value.
    Optional {
        inner: ValueType,
        value: Option<Box<HostValue>>,
    },
    /// `keys[i]` maps to `values[i]`; both 1-D and as long.
    Map {
        keys: HostTensor,
        values: HostTensor,
    },
}

impl From<HostTensor> for HostValue {
    fn from(t: HostTensor) -> Self {
        HostValue::Tensor(t)
    }
}

impl HostValue {
    pub fn value_type(&self) -> ValueType {
        match self {
            HostValue::Tensor(t) => ValueType::Tensor(t.dtype),
            HostValue::Sequence { elem, .. } => ValueType::Sequence(Box::new(elem.clone())),
            HostValue::Optional { inner, .. } => ValueType::Optional(Box::new(inner.clone())),
            HostValue::Map { keys, values } => ValueType::Map {
                key: keys.dtype,
                value: values.dtype,
            },
        }
    }

    pub fn as_tensor(&self) -> Option<&HostTensor> {
        match self {
            HostValue::Tensor(t) => Some(t),
            _ => None,
        }
    }

    pub fn into_tensor(self) -> Option<HostTensor> {
        match self {
            HostValue::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The tensors inside, depth first: those shaped like the input's
    /// declared tensor type (a map's keys and values are not).
    pub fn tensors(&self) -> Vec<&HostTensor> {
        let mut out = Vec::new();
        self.walk(&mut |t| out.push(t));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a HostTensor)) {
        match self {
            HostValue::Tensor(t) => f(t),
            HostValue::Sequence { items, .. } => items.iter().for_each(|v| v.walk(f)),
            HostValue::Optional { value, .. } => value.iter().for_each(|v| v.walk(f)),
            HostValue::Map { .. } => {}
        }
    }

    /// Whether every tensor inside holds data that fits its shape and type,
    /// and every item has the type its container declares.
    pub fn is_consistent(&self) -> bool {
        match self {
            HostValue::Tensor(t) => t.data_fits(),
            HostValue::Sequence { elem, items } => items
                .iter()
                .all(|v| &v.value_type() == elem && v.is_consistent()),
            HostValue::Optional { inner, value } => value
                .as_ref()
                .is_none_or(|v| &v.value_type() == inner && v.is_consistent()),
            HostValue::Map { keys, values } => {
                keys.shape.len() == 1
                    && keys.shape == values.shape
                    && keys.data_fits()
                    && values.data_fits()
            }
        }
    }

    /// For build names and messages: `float32[2, 3]`,
    /// `seq(float32[2], float32[3])`, `optional(none)`.
    pub fn describe(&self) -> String {
        match self {
            HostValue::Tensor(t) => format!("{}{}", t.dtype, shape_str(&t.shape)),
            HostValue::Sequence { elem, items } if items.is_empty() => {
                format!("seq({elem}; empty)")
            }
            HostValue::Sequence { items, .. } => {
                let parts: Vec<String> = items.iter().map(HostValue::describe).collect();
                format!("seq({})", parts.join(", "))
            }
            HostValue::Optional { inner, value: None } => format!("optional({inner}; none)"),
            HostValue::Optional { value: Some(v), .. } => format!("optional({})", v.describe()),
            HostValue::Map { keys, values } => {
                format!("map({},{})[{}]", keys.dtype, values.dtype, keys.numel())
            }
        }
    }

    /// Named tensors, for checking outputs element by element: a sequence
    /// item is `name[i]`, an absent optional contributes nothing (so an
    /// absent value on one side only is a missing output).
    pub fn flatten(&self, name: &str, out: &mut Vec<(String, HostTensor)>) {
        match self {
            HostValue::Tensor(t) => out.push((name.to_string(), t.clone())),
            HostValue::Sequence { items, .. } => {
                for (i, v) in items.iter().enumerate() {
                    v.flatten(&format!("{name}[{i}]"), out);
                }
            }
            HostValue::Optional { value, .. } => {
                if let Some(v) = value {
                    v.flatten(name, out);
                }
            }
            HostValue::Map { keys, values } => {
                out.push((format!("{name}.keys"), keys.clone()));
                out.push((format!("{name}.values"), values.clone()));
            }
        }
    }
}

/// Flattens named values (see [`HostValue::flatten`]).
pub fn flatten_all(values: &[(String, HostValue)]) -> Vec<(String, HostTensor)> {
    let mut out = Vec::new();
    for (n, v) in values {
        v.flatten(n, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: f64) -> HostValue {
        HostValue::Tensor(HostTensor::full(DType::Float32, &[2], v))
    }

    #[test]
    fn types_print_like_onnx_runtime_and_round_trip() {
        let ty = ValueType::Optional(Box::new(ValueType::Sequence(Box::new(ValueType::Tensor(
            DType::Int32,
        )))));
        assert_eq!(ty.to_string(), "optional(seq(tensor(int32)))");
        assert_eq!(ty.elem(), DType::Int32);
        let json = serde_json::to_string(&ty).unwrap();
        assert_eq!(serde_json::from_str::<ValueType>(&json).unwrap(), ty);
    }

    #[test]
    fn sequences_and_optionals_describe_and_flatten() {
        let f = ValueType::Tensor(DType::Float32);
        let seq = HostValue::Sequence {
            elem: f.clone(),
            items: vec![t(1.0), t(2.0)],
        };
        assert_eq!(seq.describe(), "seq(float32[2], float32[2])");
        assert!(seq.is_consistent());
        assert_eq!(seq.tensors().len(), 2);
        let none = HostValue::Optional {
            inner: seq.value_type(),
            value: None,
        };
        assert_eq!(none.describe(), "optional(seq(tensor(float32)); none)");
        let some = HostValue::Optional {
            inner: seq.value_type(),
            value: Some(Box::new(seq.clone())),
        };
        let flat = flatten_all(&[("a".into(), some), ("b".into(), none)]);
        let names: Vec<&str> = flat.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a[0]", "a[1]"]);
        // An item of another type than the sequence declares.
        let bad = HostValue::Sequence {
            elem: ValueType::Tensor(DType::Int64),
            items: vec![t(1.0)],
        };
        assert!(!bad.is_consistent());
        let map = HostValue::Map {
            keys: HostTensor::full(DType::Int64, &[3], 1.0),
            values: HostTensor::full(DType::Float32, &[3], 0.5),
        };
        assert_eq!(map.value_type().to_string(), "map(int64,tensor(float32))");
        assert_eq!(map.describe(), "map(int64,float32)[3]");
        assert!(map.is_consistent() && map.tensors().is_empty());
        let mut flat = Vec::new();
        map.flatten("m", &mut flat);
        assert_eq!(flat[1].0, "m.values");
        let uneven = HostValue::Map {
            keys: HostTensor::full(DType::Int64, &[2], 1.0),
            values: HostTensor::full(DType::Float32, &[3], 0.5),
        };
        assert!(!uneven.is_consistent());
    }
}
