//! Host tensors <-> ONNX `TensorProto`, and the `.pb` tensor files of ONNX
//! test data (one serialized `TensorProto` per file, as written by
//! `onnx.numpy_helper.from_array(...).SerializeToString()`).

use super::OnnxError;
use super::proto::{TensorProto, data_location, data_type};
use crate::graph::{DType, HostTensor};
use prost::Message;
use std::path::Path;

/// The ONNX element type (`TensorProto.DataType`) of a dtype.
pub fn dtype_to_onnx(d: DType) -> i32 {
    match d {
        DType::Float32 => data_type::FLOAT,
        DType::Float16 => data_type::FLOAT16,
        DType::Bfloat16 => data_type::BFLOAT16,
        DType::Float64 => data_type::DOUBLE,
        DType::Int8 => data_type::INT8,
        DType::Int16 => data_type::INT16,
        DType::Int32 => data_type::INT32,
        DType::Int64 => data_type::INT64,
        DType::Uint8 => data_type::UINT8,
        DType::Bool => data_type::BOOL,
        DType::Uint16 => data_type::UINT16,
        DType::Uint32 => data_type::UINT32,
        DType::Uint64 => data_type::UINT64,
        DType::Float8E4M3FN => data_type::FLOAT8E4M3FN,
        DType::Float8E4M3FNUZ => data_type::FLOAT8E4M3FNUZ,
        DType::Float8E5M2 => data_type::FLOAT8E5M2,
        DType::Float8E5M2FNUZ => data_type::FLOAT8E5M2FNUZ,
        DType::Float8E8M0 => data_type::FLOAT8E8M0,
        DType::Uint4 => data_type::UINT4,
        DType::Int4 => data_type::INT4,
        DType::Uint2 => data_type::UINT2,
        DType::Int2 => data_type::INT2,
        DType::String => data_type::STRING,
    }
}

/// The dtype of an ONNX element type; `None` for types turnkey has no
/// dtype for (complex, 4- and 6-bit floats).
pub fn dtype_from_onnx(t: i32) -> Option<DType> {
    DType::ALL.iter().copied().find(|&d| dtype_to_onnx(d) == t)
}

/// A readable name for an ONNX element type, for error messages.
pub fn onnx_type_name(t: i32) -> String {
    const NAMES: [&str; 29] = [
        "undefined",
        "float",
        "uint8",
        "int8",
        "uint16",
        "int16",
        "int32",
        "int64",
        "string",
        "bool",
        "float16",
        "double",
        "uint32",
        "uint64",
        "complex64",
        "complex128",
        "bfloat16",
        "float8e4m3fn",
        "float8e4m3fnuz",
        "float8e5m2",
        "float8e5m2fnuz",
        "uint4",
        "int4",
        "float4e2m1",
        "float8e8m0",
        "uint2",
        "int2",
        "float6e2m3",
        "float6e3m2",
    ];
    usize::try_from(t)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("unknown element type {t}"), |n| n.to_string())
}

fn dims_of(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// A `TensorProto` holding a copy of `t` in `raw_data` (strings, which
/// have no raw form, in `string_data`).
pub fn tensor_to_proto(name: &str, t: &HostTensor) -> TensorProto {
    if t.dtype.is_string() {
        return string_proto(name, t);
    }
    TensorProto {
        name: name.to_string(),
        dims: dims_of(&t.shape),
        data_type: dtype_to_onnx(t.dtype),
        raw_data: t.data.clone(),
        ..Default::default()
    }
}

/// Like [`tensor_to_proto`], but moves the bytes instead of copying them
/// (the export path for large weights).
pub fn tensor_into_proto(name: &str, t: HostTensor) -> TensorProto {
    if t.dtype.is_string() {
        return string_proto(name, &t);
    }
    TensorProto {
        name: name.to_string(),
        dims: dims_of(&t.shape),
        data_type: dtype_to_onnx(t.dtype),
        raw_data: t.data,
        ..Default::default()
    }
}

fn string_proto(name: &str, t: &HostTensor) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims_of(&t.shape),
        data_type: data_type::STRING,
        string_data: t
            .strings()
            .unwrap_or_default()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect(),
        ..Default::default()
    }
}

/// Reads a `TensorProto` from `raw_data` or, when that is empty, from the
/// typed field the ONNX spec assigns to its element type.
pub fn proto_to_tensor(p: &TensorProto) -> Result<HostTensor, OnnxError> {
    let bad = |msg: String| OnnxError::Tensor {
        name: p.name.clone(),
        msg,
    };
    if p.data_location == data_location::EXTERNAL || !p.external_data.is_empty() {
        return Err(bad(
            "its data is stored in an external file, which turnkey does not read; \
             save the tensor with its data inline"
                .into(),
        ));
    }
    let dtype = dtype_from_onnx(p.data_type).ok_or_else(|| {
        bad(format!(
            "element type {} is not supported (supported: {})",
            onnx_type_name(p.data_type),
            DType::ALL.map(|d| d.name()).join(", ")
        ))
    })?;
    let mut shape = Vec::with_capacity(p.dims.len());
    for &d in &p.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        shape.push(d);
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {:?} is too large", p.dims)))?;
    if dtype.is_string() {
        // The spec keeps strings in string_data only (never raw_data).
        if p.string_data.len() != numel {
            return Err(bad(format!(
                "string_data has {} strings but shape {:?} needs {numel}",
                p.string_data.len(),
                p.dims
            )));
        }
        return Ok(HostTensor::from_strings(&shape, &p.string_data));
    }
    let want = dtype
        .checked_byte_len(numel)
        .ok_or_else(|| bad(format!("shape {:?} is too large", p.dims)))?;

    let data = if !p.raw_data.is_empty() || numel == 0 {
        if p.raw_data.len() != want {
            return Err(bad(format!(
                "raw_data has {} bytes but shape {:?} of {} needs {want}",
                p.raw_data.len(),
                p.dims,
                dtype
            )));
        }
        p.raw_data.clone()
    } else {
        let (field, n) = match dtype {
            DType::Float32 => ("float_data", p.float_data.len()),
            DType::Float64 => ("double_data", p.double_data.len()),
            DType::Int64 => ("int64_data", p.int64_data.len()),
            DType::Uint32 | DType::Uint64 => ("uint64_data", p.uint64_data.len()),
            _ => ("int32_data", p.int32_data.len()),
        };
        // Packed types hold one byte (several elements) per int32 entry.
        let entries = if dtype.bits() < 8 { want } else { numel };
        if n != entries {
            return Err(bad(if n == 0 {
                format!("it holds no data (shape {:?} of {dtype})", p.dims)
            } else {
                format!(
                    "{field} has {n} values but shape {:?} needs {entries}",
                    p.dims
                )
            }));
        }
        let mut out = Vec::with_capacity(want);
        match dtype {
            DType::Float32 => p
                .float_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DType::Float64 => p
                .double_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DType::Int64 => p
                .int64_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            // The spec stores these one per int32 entry: the value itself for
            // integers and bool, the 16-bit pattern for float16/bfloat16.
            DType::Int32 => p
                .int32_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DType::Int16 | DType::Float16 | DType::Bfloat16 => p
                .int32_data
                .iter()
                .for_each(|&v| out.extend_from_slice(&(v as u16).to_le_bytes())),
            DType::Int8 | DType::Uint8 => p.int32_data.iter().for_each(|&v| out.push(v as u8)),
            DType::Bool => p
                .int32_data
                .iter()
                .for_each(|&v| out.push(u8::from(v != 0))),
            DType::Uint16 => p
                .int32_data
                .iter()
                .for_each(|&v| out.extend_from_slice(&(v as u16).to_le_bytes())),
            DType::Uint32 => p
                .uint64_data
                .iter()
                .for_each(|&v| out.extend_from_slice(&(v as u32).to_le_bytes())),
            DType::Uint64 => p
                .uint64_data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            // The rest (8-bit floats, packed integers): bytes, one per entry.
            _ => p.int32_data.iter().for_each(|&v| out.push(v as u8)),
        }
        out
    };
    Ok(HostTensor { dtype, shape, data })
}

/// Writes `t` as a `.pb` tensor file, loadable with
/// `onnx.numpy_helper.to_array(onnx.load_tensor(path))`.
pub fn write_tensor_pb(path: &Path, name: &str, t: &HostTensor) -> Result<(), OnnxError> {
    let bytes = tensor_to_proto(name, t).encode_to_vec();
    std::fs::write(path, bytes).map_err(|source| OnnxError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a `.pb` tensor file: its tensor name and its data.
pub fn read_tensor_pb(path: &Path) -> Result<(String, HostTensor), OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let p = TensorProto::decode(bytes.as_slice()).map_err(|source| OnnxError::Decode {
        path: path.to_path_buf(),
        what: "tensor (.pb)",
        source,
    })?;
    let t = proto_to_tensor(&p).map_err(|e| e.in_file(path))?;
    Ok((p.name, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::{bf16, f16};

    /// A tensor of `d` with distinct, exactly representable values.
    fn sample(d: DType) -> HostTensor {
        HostTensor::from_fn(d, &[2, 3], |i| match d {
            DType::Bool => (i % 2) as f64,
            DType::Uint8 => (i * 40) as f64,
            _ => i as f64 * 1.5 - 4.0,
        })
    }

    #[test]
    fn every_dtype_maps_to_a_distinct_onnx_type_and_back() {
        for d in DType::ALL {
            assert_eq!(dtype_from_onnx(dtype_to_onnx(d)), Some(d));
        }
        assert_eq!(dtype_from_onnx(data_type::FLOAT4E2M1), None);
        assert_eq!(onnx_type_name(data_type::FLOAT16), "float16");
        assert!(onnx_type_name(99).contains("99"));
    }

    #[test]
    fn raw_data_round_trips_every_dtype() {
        for d in DType::ALL {
            let t = sample(d);
            let p = tensor_to_proto("x", &t);
            let bytes = p.encode_to_vec();
            let back = proto_to_tensor(&TensorProto::decode(bytes.as_slice()).unwrap()).unwrap();
            assert_eq!(back, t, "{d}");
            assert_eq!(tensor_into_proto("x", t.clone()), p);
        }
    }

    #[test]
    fn scalars_and_empty_tensors_round_trip() {
        for t in [
            HostTensor::full(DType::Float32, &[], 2.5),
            HostTensor::zeros(DType::Int64, &[0, 3]),
        ] {
            let back = proto_to_tensor(&tensor_to_proto("s", &t)).unwrap();
            assert_eq!(back, t);
        }
    }

    /// Builds the proto the way the typed fields of the spec store it.
    fn typed_proto(t: &HostTensor) -> TensorProto {
        let vals = t.to_f64_vec();
        let mut p = TensorProto {
            name: "typed".into(),
            dims: dims_of(&t.shape),
            data_type: dtype_to_onnx(t.dtype),
            ..Default::default()
        };
        match t.dtype {
            DType::Float32 => p.float_data = vals.iter().map(|&v| v as f32).collect(),
            DType::Float64 => p.double_data = vals,
            DType::Int64 => p.int64_data = vals.iter().map(|&v| v as i64).collect(),
            DType::Float16 => {
                p.int32_data = vals
                    .iter()
                    .map(|&v| f16::from_f64(v).to_bits() as i32)
                    .collect()
            }
            DType::Bfloat16 => {
                p.int32_data = vals
                    .iter()
                    .map(|&v| bf16::from_f64(v).to_bits() as i32)
                    .collect()
            }
            DType::Uint32 | DType::Uint64 => {
                p.uint64_data = vals.iter().map(|&v| v as u64).collect()
            }
            DType::String => {
                p.string_data = t
                    .strings()
                    .unwrap()
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect()
            }
            // Bit patterns and packed bytes: one byte per entry.
            _ if t.dtype.float8().is_some() || t.dtype.bits() < 8 => {
                p.int32_data = t.data.iter().map(|&b| b as i32).collect()
            }
            _ => p.int32_data = vals.iter().map(|&v| v as i32).collect(),
        }
        p
    }

    #[test]
    fn typed_fields_decode_every_dtype() {
        for d in DType::ALL {
            let t = sample(d);
            let p = typed_proto(&t);
            assert!(p.raw_data.is_empty());
            let bytes = p.encode_to_vec();
            let back = proto_to_tensor(&TensorProto::decode(bytes.as_slice()).unwrap()).unwrap();
            assert_eq!(back, t, "{d}");
        }
        // Negative float16 values have the sign bit set: the int32 entry is
        // the zero-extended pattern, not a negative number.
        let t = HostTensor::full(DType::Float16, &[1], -2.0);
        assert_eq!(typed_proto(&t).int32_data, vec![0xC000]);
        assert_eq!(proto_to_tensor(&typed_proto(&t)).unwrap(), t);
    }

    #[test]
    fn inconsistent_tensors_are_errors_naming_the_tensor() {
        let mut p = tensor_to_proto("w", &sample(DType::Float32));
        p.raw_data.pop();
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(
            e.contains("'w'") && e.contains("raw_data has 23 bytes"),
            "{e}"
        );

        let mut p = typed_proto(&sample(DType::Int64));
        p.int64_data.pop();
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(e.contains("int64_data has 5 values"), "{e}");

        let mut p = typed_proto(&sample(DType::Int8));
        p.int32_data.clear();
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(e.contains("no data"), "{e}");

        let mut p = tensor_to_proto("s", &sample(DType::Float32));
        p.data_type = data_type::COMPLEX64;
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(e.contains("complex64 is not supported"), "{e}");

        let mut p = tensor_to_proto("e", &sample(DType::Float32));
        p.data_location = data_location::EXTERNAL;
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(e.contains("external"), "{e}");

        let mut p = tensor_to_proto("n", &sample(DType::Float32));
        p.dims = vec![-1, 6];
        let e = proto_to_tensor(&p).unwrap_err().to_string();
        assert!(e.contains("negative dimension"), "{e}");
    }

    #[test]
    fn pb_files_round_trip_and_bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        for d in DType::ALL {
            let path = dir.path().join(format!("input_{d}.pb"));
            let t = sample(d);
            write_tensor_pb(&path, "input_0", &t).unwrap();
            let (name, back) = read_tensor_pb(&path).unwrap();
            assert_eq!((name.as_str(), &back), ("input_0", &t), "{d}");
        }

        let path = dir.path().join("trunc.pb");
        let bytes = tensor_to_proto("x", &sample(DType::Float32)).encode_to_vec();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = read_tensor_pb(&path).unwrap_err().to_string();
        assert!(
            e.contains("trunc.pb") && e.contains("not a valid ONNX"),
            "{e}"
        );

        let missing = dir.path().join("missing.pb");
        let e = read_tensor_pb(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.pb") && e.contains("cannot read"), "{e}");

        // Decodes as protobuf but the data does not fit the shape.
        let mut p = tensor_to_proto("x", &sample(DType::Float32));
        p.dims = vec![7];
        let path = dir.path().join("short.pb");
        std::fs::write(&path, p.encode_to_vec()).unwrap();
        let e = read_tensor_pb(&path).unwrap_err().to_string();
        assert!(e.contains("short.pb") && e.contains("needs 28"), "{e}");
    }
}
