//! Sequences and optionals <-> their `.pb` files (`SequenceProto`,
//! `OptionalProto`, as ONNX test data stores them), and folders of numbered
//! values (`input_0.pb`, `input_1.pb`, ...).
//!
//! A `.pb` file does not say which message it holds, so reading needs the
//! type: from the model's interface for test data, and for turnkey's own
//! folders from `<prefix>_types.json`, written beside the files whenever a
//! value is not a tensor (absent: every file is a tensor).

use super::OnnxError;
use super::proto::{MapProto, OptionalProto, SequenceProto, TensorProto, value_kind};
use super::tensor_io::{dtype_to_onnx, proto_to_tensor, tensor_to_proto};
use crate::graph::{DType, HostTensor, HostValue, ValueType};
use prost::Message;
use std::path::{Path, PathBuf};

fn kind_of(t: &ValueType) -> i32 {
    match t {
        ValueType::Tensor(_) => value_kind::TENSOR,
        ValueType::Sequence(_) => value_kind::SEQUENCE,
        ValueType::Optional(_) => value_kind::OPTIONAL,
        ValueType::Map { .. } => value_kind::MAP,
    }
}

fn map_proto(name: &str, keys: &HostTensor, values: &HostTensor) -> MapProto {
    let mut p = MapProto {
        name: name.to_string(),
        key_type: dtype_to_onnx(keys.dtype),
        ..Default::default()
    };
    match (keys.strings(), keys.to_i64_vec()) {
        (Some(s), _) => p.string_keys = s.into_iter().map(<[u8]>::to_vec).collect(),
        (None, Some(k)) => p.keys = k,
        (None, None) => p.keys = keys.to_f64_vec().into_iter().map(|k| k as i64).collect(),
    }
    // Values: one scalar tensor each.
    let scalars = (0..values.numel()).map(|i| HostValue::Tensor(element(values, i)));
    p.values = Some(sequence_proto(
        "",
        &ValueType::Tensor(values.dtype),
        &scalars.collect::<Vec<_>>(),
    ));
    p
}

/// Element `i` of a 1-D tensor, as a scalar tensor.
fn element(t: &HostTensor, i: usize) -> HostTensor {
    match t.strings() {
        Some(s) => HostTensor::from_strings(&[], &[s[i]]),
        None => {
            let n = t.dtype.size_bytes();
            HostTensor {
                dtype: t.dtype,
                shape: Vec::new(),
                data: t.data[i * n..(i + 1) * n].to_vec(),
            }
        }
    }
}

fn sequence_proto(name: &str, elem: &ValueType, items: &[HostValue]) -> SequenceProto {
    let mut p = SequenceProto {
        name: name.to_string(),
        elem_type: kind_of(elem),
        ..Default::default()
    };
    for v in items {
        match v {
            HostValue::Tensor(t) => p.tensor_values.push(tensor_to_proto("", t)),
            HostValue::Sequence { elem, items } => {
                p.sequence_values.push(sequence_proto("", elem, items))
            }
            HostValue::Optional { inner, value } => {
                p.optional_values
                    .push(optional_proto("", inner, value.as_deref()))
            }
            HostValue::Map { keys, values } => p.map_values.push(map_proto("", keys, values)),
        }
    }
    p
}

fn optional_proto(name: &str, inner: &ValueType, value: Option<&HostValue>) -> OptionalProto {
    let mut p = OptionalProto {
        name: name.to_string(),
        // ONNX marks an absent value UNDEFINED (0), whatever the type.
        elem_type: if value.is_some() { kind_of(inner) } else { 0 },
        ..Default::default()
    };
    match value {
        None => {}
        Some(HostValue::Tensor(t)) => p.tensor_value = Some(tensor_to_proto("", t)),
        Some(HostValue::Sequence { elem, items }) => {
            p.sequence_value = Some(Box::new(sequence_proto("", elem, items)))
        }
        Some(HostValue::Optional { inner, value }) => {
            p.optional_value = Some(Box::new(optional_proto("", inner, value.as_deref())))
        }
        Some(HostValue::Map { keys, values }) => {
            p.map_value = Some(Box::new(map_proto("", keys, values)))
        }
    }
    p
}

/// The serialized proto of `v`: a `TensorProto`, `SequenceProto` or `OptionalProto`.
pub fn value_to_bytes(name: &str, v: &HostValue) -> Vec<u8> {
    match v {
        HostValue::Tensor(t) => tensor_to_proto(name, t).encode_to_vec(),
        HostValue::Sequence { elem, items } => sequence_proto(name, elem, items).encode_to_vec(),
        HostValue::Optional { inner, value } => {
            optional_proto(name, inner, value.as_deref()).encode_to_vec()
        }
        HostValue::Map { keys, values } => map_proto(name, keys, values).encode_to_vec(),
    }
}

fn wrong(name: &str, msg: String) -> OnnxError {
    OnnxError::Tensor {
        name: name.to_string(),
        msg,
    }
}

fn tensor_from(name: &str, p: &TensorProto, want: &ValueType) -> Result<HostValue, OnnxError> {
    let t = proto_to_tensor(p)?;
    if let ValueType::Tensor(d) = want
        && *d != t.dtype
    {
        return Err(wrong(
            name,
            format!("holds {} where {want} is expected", t.dtype),
        ));
    }
    Ok(HostValue::Tensor(t))
}

fn map_from(name: &str, p: &MapProto, key: DType, value: DType) -> Result<HostValue, OnnxError> {
    if value.bits() < 8 && !value.is_string() {
        // Values are gathered byte-wise below; ONNX Runtime has no such maps.
        return Err(wrong(
            name,
            format!("maps of {value} values are not supported"),
        ));
    }
    if p.key_type != dtype_to_onnx(key) {
        return Err(wrong(
            name,
            format!("the map's keys are not {key} (key type {})", p.key_type),
        ));
    }
    let keys = match key {
        DType::String => HostTensor::from_strings(&[p.string_keys.len()], &p.string_keys),
        // Exactly, without the f64 detour of `from_fn`.
        DType::Int64 => HostTensor {
            dtype: key,
            shape: vec![p.keys.len()],
            data: p.keys.iter().flat_map(|k| k.to_le_bytes()).collect(),
        },
        _ => HostTensor::from_fn(key, &[p.keys.len()], |i| p.keys[i] as f64),
    };
    let empty = SequenceProto::default();
    let items = p.values.as_ref().unwrap_or(&empty);
    let items = sequence_items(name, items, &ValueType::Tensor(value))?;
    if items.len() != keys.numel() {
        return Err(wrong(
            name,
            format!(
                "the map has {} keys but {} values",
                keys.numel(),
                items.len()
            ),
        ));
    }
    let mut data = Vec::new();
    let mut strings = Vec::new();
    for v in &items {
        let t = v.as_tensor().expect("tensor items");
        if t.numel() != 1 {
            return Err(wrong(name, "a map value is not a scalar".into()));
        }
        match t.strings() {
            Some(s) => strings.push(s[0].to_vec()),
            None => data.extend_from_slice(&t.data),
        }
    }
    let values = if value.is_string() {
        HostTensor::from_strings(&[strings.len()], &strings)
    } else {
        HostTensor {
            dtype: value,
            shape: vec![items.len()],
            data,
        }
    };
    Ok(HostValue::Map { keys, values })
}

fn sequence_from(name: &str, p: &SequenceProto, elem: &ValueType) -> Result<HostValue, OnnxError> {
    Ok(HostValue::Sequence {
        elem: elem.clone(),
        items: sequence_items(name, p, elem)?,
    })
}

/// The items of a sequence, each of type `elem`.
fn sequence_items(
    name: &str,
    p: &SequenceProto,
    elem: &ValueType,
) -> Result<Vec<HostValue>, OnnxError> {
    let n = p.tensor_values.len()
        + p.sequence_values.len()
        + p.map_values.len()
        + p.optional_values.len();
    Ok(match elem {
        ValueType::Tensor(_) if n == p.tensor_values.len() => p
            .tensor_values
            .iter()
            .map(|t| tensor_from(name, t, elem))
            .collect::<Result<_, _>>()?,
        ValueType::Sequence(e) if n == p.sequence_values.len() => p
            .sequence_values
            .iter()
            .map(|s| sequence_from(name, s, e))
            .collect::<Result<_, _>>()?,
        ValueType::Optional(i) if n == p.optional_values.len() => p
            .optional_values
            .iter()
            .map(|o| optional_from(name, o, i))
            .collect::<Result<_, _>>()?,
        ValueType::Map { key, value } if n == p.map_values.len() => p
            .map_values
            .iter()
            .map(|m| map_from(name, m, *key, *value))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(wrong(
                name,
                format!("the sequence holds items of another type than {elem}"),
            ));
        }
    })
}

fn optional_from(name: &str, p: &OptionalProto, inner: &ValueType) -> Result<HostValue, OnnxError> {
    let fields = (
        &p.tensor_value,
        &p.sequence_value,
        &p.map_value,
        &p.optional_value,
    );
    let value = match (inner, fields) {
        (_, (None, None, None, None)) => None,
        (ValueType::Tensor(_), (Some(t), None, None, None)) => Some(tensor_from(name, t, inner)?),
        (ValueType::Sequence(e), (None, Some(s), None, None)) => Some(sequence_from(name, s, e)?),
        (ValueType::Map { key, value }, (None, None, Some(m), None)) => {
            Some(map_from(name, m, *key, *value)?)
        }
        (ValueType::Optional(i), (None, None, None, Some(o))) => Some(optional_from(name, o, i)?),
        _ => {
            return Err(wrong(
                name,
                format!("the optional holds a value of another type than {inner}"),
            ));
        }
    };
    Ok(HostValue::Optional {
        inner: inner.clone(),
        value: value.map(Box::new),
    })
}

/// Decodes `bytes` as a value of type `ty`; returns the name stored in it.
pub fn value_from_bytes(bytes: &[u8], ty: &ValueType) -> Result<(String, HostValue), DecodeOr> {
    match ty {
        ValueType::Tensor(_) => {
            let p = TensorProto::decode(bytes).map_err(DecodeOr::Decode)?;
            let v = tensor_from(&p.name, &p, ty).map_err(DecodeOr::Value)?;
            Ok((p.name, v))
        }
        ValueType::Sequence(elem) => {
            let p = SequenceProto::decode(bytes).map_err(DecodeOr::Decode)?;
            let v = sequence_from(&p.name, &p, elem).map_err(DecodeOr::Value)?;
            Ok((p.name, v))
        }
        ValueType::Optional(inner) => {
            let p = OptionalProto::decode(bytes).map_err(DecodeOr::Decode)?;
            let v = optional_from(&p.name, &p, inner).map_err(DecodeOr::Value)?;
            Ok((p.name, v))
        }
        ValueType::Map { key, value } => {
            let p = MapProto::decode(bytes).map_err(DecodeOr::Decode)?;
            let v = map_from(&p.name, &p, *key, *value).map_err(DecodeOr::Value)?;
            Ok((p.name, v))
        }
    }
}

/// Why bytes are not a value.
pub enum DecodeOr {
    Decode(prost::DecodeError),
    Value(OnnxError),
}

/// Writes `v` as a `.pb` file, loadable with `onnx.load_tensor`,
/// `onnx.SequenceProto` or `onnx.OptionalProto` (and `onnx.numpy_helper`).
pub fn write_value_pb(path: &Path, name: &str, v: &HostValue) -> Result<(), OnnxError> {
    std::fs::write(path, value_to_bytes(name, v)).map_err(|source| OnnxError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a `.pb` file holding a value of type `ty`: its name and the value.
pub fn read_value_pb(path: &Path, ty: &ValueType) -> Result<(String, HostValue), OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    value_from_bytes(&bytes, ty).map_err(|e| match e {
        DecodeOr::Decode(source) => OnnxError::Decode {
            path: path.to_path_buf(),
            what: match ty {
                ValueType::Tensor(_) => "tensor (.pb)",
                ValueType::Sequence(_) => "sequence (.pb)",
                ValueType::Optional(_) => "optional (.pb)",
                ValueType::Map { .. } => "map (.pb)",
            },
            source,
        },
        DecodeOr::Value(e) => e.in_file(path),
    })
}

/// A model without inputs whose output `s` is an empty sequence of `elem`
/// tensors (one `SequenceEmpty` node): ONNX Runtime's C API has no other
/// way to make an empty sequence.
pub fn sequence_empty_model(elem: DType) -> Vec<u8> {
    use super::proto::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TypeProto,
        TypeProtoElem, TypeProtoTensor, ValueInfoProto, attribute_type,
    };
    let tensor = TypeProto {
        tensor_type: Some(TypeProtoTensor {
            elem_type: dtype_to_onnx(elem),
            shape: None,
        }),
        ..Default::default()
    };
    let seq = TypeProto {
        sequence_type: Some(Box::new(TypeProtoElem {
            elem_type: Some(Box::new(tensor)),
        })),
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        producer_name: "turnkey".into(),
        graph: Some(GraphProto {
            name: "sequence_empty".into(),
            node: vec![NodeProto {
                op_type: "SequenceEmpty".into(),
                output: vec!["s".into()],
                attribute: vec![AttributeProto {
                    name: "dtype".into(),
                    r#type: attribute_type::INT,
                    i: dtype_to_onnx(elem) as i64,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            output: vec![ValueInfoProto {
                name: "s".into(),
                r#type: Some(seq),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn types_path(dir: &Path, prefix: &str) -> PathBuf {
    dir.join(format!("{prefix}_types.json"))
}

/// Writes `<prefix>_<k>.pb` for each value into `dir` (which must exist),
/// and `<prefix>_types.json` when a value is not a tensor.
pub fn write_values(
    dir: &Path,
    prefix: &str,
    values: &[(String, HostValue)],
) -> Result<(), OnnxError> {
    for (k, (name, v)) in values.iter().enumerate() {
        write_value_pb(&dir.join(format!("{prefix}_{k}.pb")), name, v)?;
    }
    let types = types_path(dir, prefix);
    if values.iter().all(|(_, v)| v.value_type().is_tensor()) {
        let _ = std::fs::remove_file(&types);
        return Ok(());
    }
    let list: Vec<ValueType> = values.iter().map(|(_, v)| v.value_type()).collect();
    let json = serde_json::to_vec(&list).expect("value types serialize");
    std::fs::write(&types, json).map_err(|source| OnnxError::Write {
        path: types,
        source,
    })
}

/// Reads `<prefix>_0.pb`, `<prefix>_1.pb`, ... from `dir` until the first
/// missing one, with the types [`write_values`] recorded.
pub fn read_values(dir: &Path, prefix: &str) -> Result<Vec<(String, HostValue)>, OnnxError> {
    let types_file = types_path(dir, prefix);
    let types: Vec<ValueType> = match std::fs::read(&types_file) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| OnnxError::Model {
            path: types_file.clone(),
            msg: format!("not a list of value types ({e}); run the build again"),
        })?,
        Err(_) => Vec::new(),
    };
    let mut out = Vec::new();
    loop {
        let p = dir.join(format!("{prefix}_{}.pb", out.len()));
        if !p.is_file() {
            break;
        }
        let v = match types.get(out.len()) {
            Some(ty) => read_value_pb(&p, ty)?,
            None => {
                let (n, t) = super::tensor_io::read_tensor_pb(&p)?;
                (n, HostValue::Tensor(t))
            }
        };
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq_of(d: DType, n: usize) -> HostValue {
        HostValue::Sequence {
            elem: ValueType::Tensor(d),
            items: (0..n)
                .map(|i| HostValue::Tensor(HostTensor::full(d, &[i + 1], i as f64)))
                .collect(),
        }
    }

    #[test]
    fn values_round_trip_through_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let seq = seq_of(DType::Int64, 3);
        let values = vec![
            (
                "t".to_string(),
                HostValue::Tensor(HostTensor::full(DType::Float32, &[2], 1.5)),
            ),
            ("s".to_string(), seq.clone()),
            ("e".to_string(), seq_of(DType::Float32, 0)),
            (
                "o".to_string(),
                HostValue::Optional {
                    inner: seq.value_type(),
                    value: Some(Box::new(seq.clone())),
                },
            ),
            (
                "n".to_string(),
                HostValue::Optional {
                    inner: ValueType::Tensor(DType::Int32),
                    value: None,
                },
            ),
            (
                "m".to_string(),
                HostValue::Sequence {
                    elem: ValueType::Map {
                        key: DType::String,
                        value: DType::Float32,
                    },
                    items: vec![HostValue::Map {
                        keys: HostTensor::from_strings(&[2], &["a", "b"]),
                        values: HostTensor::full(DType::Float32, &[2], 0.25),
                    }],
                },
            ),
            (
                "k".to_string(),
                HostValue::Map {
                    keys: HostTensor::full(DType::Int64, &[2], (1i64 << 60) as f64),
                    values: HostTensor::from_strings(&[2], &["x", "y"]),
                },
            ),
        ];
        write_values(dir.path(), "input", &values).unwrap();
        assert!(dir.path().join("input_types.json").is_file());
        assert_eq!(read_values(dir.path(), "input").unwrap(), values);
        // Tensors only: no types file, and a stale one is removed.
        let tensors = &values[..1];
        write_values(dir.path(), "input", tensors).unwrap();
        assert!(!dir.path().join("input_types.json").exists());
    }

    /// Damaged files (bytes flipped, cut short) are errors or other values,
    /// never panics, and whatever decodes writes back the same.
    #[test]
    fn damaged_value_files_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let seq = seq_of(DType::Int32, 3);
        let opt = HostValue::Optional {
            inner: seq.value_type(),
            value: Some(Box::new(seq.clone())),
        };
        let map = HostValue::Map {
            keys: HostTensor::from_strings(&[3], &["a", "bb", ""]),
            values: HostTensor::full(DType::Float64, &[3], 2.5),
        };
        let types = [
            seq.value_type(),
            opt.value_type(),
            map.value_type(),
            ValueType::Tensor(DType::String),
            ValueType::Map {
                key: DType::Int64,
                value: DType::String,
            },
        ];
        let goods = [
            value_to_bytes("s", &seq),
            value_to_bytes("o", &opt),
            value_to_bytes("m", &map),
        ];
        for good in goods {
            for _ in 0..3000 {
                let mut b = good.clone();
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                }
                b.truncate(rng.random_range(0..=b.len()));
                for ty in &types {
                    if let Ok((name, v)) = value_from_bytes(&b, ty) {
                        let again = value_from_bytes(&value_to_bytes(&name, &v), ty);
                        assert!(matches!(again, Ok((_, w)) if w == v));
                    }
                }
            }
        }
    }

    #[test]
    fn the_empty_sequence_model_passes_the_full_checker() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.onnx");
        std::fs::write(&p, sequence_empty_model(DType::Int64)).unwrap();
        let out = crate::onnx::testutil::run_python(
            r#"
import sys, onnx
from onnx.reference import ReferenceEvaluator
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(ReferenceEvaluator(m).run(None, {}))
"#,
            &[&p],
        );
        assert_eq!(out.trim(), "[[]]");
    }

    #[test]
    fn python_onnx_reads_what_we_write_and_we_read_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let seq = seq_of(DType::Float32, 2);
        write_value_pb(&dir.path().join("ours.pb"), "s", &seq).unwrap();
        let none = HostValue::Optional {
            inner: ValueType::Tensor(DType::Int32),
            value: None,
        };
        write_value_pb(&dir.path().join("none.pb"), "o", &none).unwrap();
        let out = crate::onnx::testutil::run_python(
            r#"
import sys, os, numpy as np, onnx
from onnx import numpy_helper
d = sys.argv[1]
s = onnx.SequenceProto(); s.ParseFromString(open(os.path.join(d, "ours.pb"), "rb").read())
arrs = numpy_helper.to_list(s)
print(s.name, len(arrs), arrs[1].tolist())
o = onnx.OptionalProto(); o.ParseFromString(open(os.path.join(d, "none.pb"), "rb").read())
print(o.name, o.HasField("tensor_value"))
theirs = numpy_helper.from_optional(np.array([7, 8], dtype=np.int32), name="x",
    dtype=onnx.OptionalProto.TENSOR)
open(os.path.join(d, "theirs.pb"), "wb").write(theirs.SerializeToString())
"#,
            &[dir.path()],
        );
        assert_eq!(out.trim(), "s 2 [1.0, 1.0]\no False", "{out}");
        let (name, v) = read_value_pb(
            &dir.path().join("theirs.pb"),
            &ValueType::Optional(Box::new(ValueType::Tensor(DType::Int32))),
        )
        .unwrap();
        assert_eq!(name, "x");
        let t = v.tensors()[0].clone();
        assert_eq!(t.to_f64_vec(), [7.0, 8.0]);
        // Read as the wrong type: a clean error naming the file.
        let e = read_value_pb(
            &dir.path().join("theirs.pb"),
            &ValueType::Optional(Box::new(ValueType::Tensor(DType::Float32))),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("theirs.pb") && e.contains("tensor(float32)"),
            "{e}"
        );
    }
}
