//! Values given for the inputs of ONNX files: `--input NAME=VALUE` and a
//! manifest's `inputs = { sr = 16000, image = "img.npy" }`. A value is a
//! literal (one number, or a comma list reshaped to the input's shape) or a
//! file: `.npy` (NumPy), `.pb` (an ONNX TensorProto) or `.bin` (raw
//! little-endian elements of the input's dtype).

use super::import::{Bindings, Dim, IoInfo};
use super::read_tensor_pb;
use crate::graph::{DType, HostTensor, shape_str};
use std::fmt;
use std::path::{Path, PathBuf};

/// A value for one model input, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputValue {
    /// Numbers (or `true`/`false`) as written: one fills the input, several
    /// are its elements in row-major order.
    Literal(Vec<String>),
    /// A `.npy`, `.pb` or `.bin` file.
    File(PathBuf),
}

impl fmt::Display for InputValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputValue::Literal(v) => f.write_str(&v.join(",")),
            InputValue::File(p) => write!(f, "{}", p.display()),
        }
    }
}

const FILE_KINDS: [&str; 3] = ["npy", "pb", "bin"];

fn file_kind(p: &Path) -> Option<String> {
    let e = p.extension()?.to_string_lossy().to_ascii_lowercase();
    FILE_KINDS.contains(&e.as_str()).then_some(e)
}

impl InputValue {
    /// `16000`, `1,2,3`, `img.npy`: a file when it ends in `.npy`, `.pb` or
    /// `.bin` (relative paths against `base`), else a literal list.
    pub fn parse(text: &str, base: &Path) -> Result<InputValue, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("the value is empty".into());
        }
        let p = Path::new(t);
        if file_kind(p).is_some() {
            return Ok(InputValue::File(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }));
        }
        let items: Vec<String> = t.split(',').map(|s| s.trim().to_string()).collect();
        if items.iter().any(String::is_empty) {
            return Err(format!("'{t}' has an empty element"));
        }
        if let Some(bad) = items.iter().find(|s| parse_number(s).is_none()) {
            return Err(format!(
                "'{bad}' is not a number; a value is numbers (16000, or 1,2,3) or a \
                 .npy, .pb or .bin file"
            ));
        }
        Ok(InputValue::Literal(items))
    }

    /// The tensor for input `io` (its dtype and shape: fixed sizes, bound
    /// axes and `--shape`). A literal of one number fills the shape; a list
    /// must have its element count (one axis left unbound is sized from the
    /// count). A file must hold the input's dtype and a shape that fits.
    pub fn load(&self, io: &IoInfo, b: &Bindings) -> Result<HostTensor, String> {
        let dtype = io
            .dtype
            .filter(|d| !d.is_string() && d.bits() >= 8 && d.float8().is_none())
            .ok_or_else(|| {
                format!(
                    "input '{}' is {}: values can be given for tensors of numbers and bools",
                    io.name, io.type_name
                )
            })?;
        match self {
            InputValue::Literal(items) => literal(io, b, dtype, items),
            InputValue::File(p) => {
                let t = match file_kind(p).as_deref() {
                    Some("npy") => read_npy(p)?,
                    Some("pb") => read_tensor_pb(p).map_err(|e| e.to_string())?.1,
                    _ => raw(io, b, dtype, p)?,
                };
                if t.dtype != dtype {
                    return Err(format!(
                        "{} holds {} but input '{}' is {dtype}",
                        p.display(),
                        t.dtype,
                        io.name
                    ));
                }
                Ok(t)
            }
        }
    }
}

/// `NAME=VALUE` (several may share one argument, separated by spaces).
pub fn parse_input_args(args: &[String], base: &Path) -> Result<Vec<(String, InputValue)>, String> {
    let mut out: Vec<(String, InputValue)> = Vec::new();
    for a in args {
        for tok in a.split_whitespace() {
            let (k, v) = tok.split_once('=').ok_or_else(|| {
                format!("--input {tok}: expected NAME=VALUE (e.g. --input sr=16000, --input image=img.npy)")
            })?;
            if k.is_empty() {
                return Err(format!("--input {tok}: the input name is empty"));
            }
            let v = InputValue::parse(v, base).map_err(|e| format!("--input {tok}: {e}"))?;
            out.retain(|(n, _)| n != k);
            out.push((k.to_string(), v));
        }
    }
    Ok(out)
}

/// A number or bool as f64 (for the element checks), or `None`.
fn parse_number(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(1.0),
        "false" => Some(0.0),
        t => t.parse::<f64>().ok(),
    }
}

/// The input's shape with unknown sizes as `None` (`--shape` wins).
fn target_dims(io: &IoInfo, b: &Bindings) -> Option<Vec<Option<usize>>> {
    if let Some(s) = b.shapes.get(&io.name) {
        return Some(s.iter().map(|&d| Some(d)).collect());
    }
    io.rank_known.then(|| {
        io.dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Named(a) => b.axes.get(a).copied(),
                Dim::Unknown => None,
            })
            .collect()
    })
}

/// The shape for `count` elements: every size known, or one unknown sized
/// from the count. `fill`: one element may fill a known shape.
fn shape_for(io: &IoInfo, b: &Bindings, count: usize, fill: bool) -> Result<Vec<usize>, String> {
    let dims = target_dims(io, b).ok_or_else(|| {
        format!(
            "input '{}' declares no shape: give it with --shape {}=D1,D2,...",
            io.name, io.name
        )
    })?;
    let unknown: Vec<usize> = (0..dims.len()).filter(|&k| dims[k].is_none()).collect();
    let known: usize = dims.iter().flatten().product();
    let shape_text = || {
        let d: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("?".into(), |n| n.to_string()))
            .collect();
        format!("[{}]", d.join(", "))
    };
    match unknown.as_slice() {
        [] if count == known || (fill && count == 1) => Ok(dims.into_iter().flatten().collect()),
        [] => Err(format!(
            "input '{}' {} has {known} element(s), the value gives {count}",
            io.name,
            shape_text()
        )),
        [k] if known > 0 && count.is_multiple_of(known) => {
            let mut s: Vec<usize> = dims.iter().map(|d| d.unwrap_or(0)).collect();
            s[*k] = count / known;
            Ok(s)
        }
        _ => Err(format!(
            "input '{}' {}: {count} element(s) do not say its unbound sizes; bind them \
             with --axis or --shape",
            io.name,
            shape_text()
        )),
    }
}

/// Element `s` as little-endian bytes of `dtype`, exactly, or why not.
fn encode(dtype: DType, s: &str) -> Result<Vec<u8>, String> {
    let lower = s.to_ascii_lowercase();
    if dtype == DType::Bool {
        return match lower.as_str() {
            "true" | "1" => Ok(vec![1]),
            "false" | "0" => Ok(vec![0]),
            _ => Err(format!("'{s}' is not a bool (true, false, 1 or 0)")),
        };
    }
    if dtype.is_float() {
        let v = parse_number(s).ok_or_else(|| format!("'{s}' is not a number"))?;
        return Ok(HostTensor::full(dtype, &[], v).data);
    }
    // Integers: parsed whole, range-checked, never rounded.
    let v: i128 = lower
        .parse()
        .map_err(|_| format!("'{s}' is not an integer (the input is {dtype})"))?;
    let (lo, hi): (i128, i128) = match dtype {
        DType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DType::Uint8 => (0, u8::MAX.into()),
        DType::Uint16 => (0, u16::MAX.into()),
        DType::Uint32 => (0, u32::MAX.into()),
        DType::Uint64 => (0, u64::MAX.into()),
        other => return Err(format!("values cannot be given for {other}")),
    };
    if v < lo || v > hi {
        return Err(format!("{s} is out of range for {dtype} ({lo} to {hi})"));
    }
    Ok(v.to_le_bytes()[..dtype.size_bytes()].to_vec())
}

fn literal(
    io: &IoInfo,
    b: &Bindings,
    dtype: DType,
    items: &[String],
) -> Result<HostTensor, String> {
    let shape = shape_for(io, b, items.len(), true)?;
    let mut one = Vec::new();
    for s in items {
        one.extend(encode(dtype, s).map_err(|e| format!("input '{}': {e}", io.name))?);
    }
    let n = crate::graph::tensor::numel(&shape);
    let data = if items.len() == 1 && n != 1 {
        let bytes = dtype
            .checked_byte_len(n)
            .ok_or_else(|| format!("input '{}': {} is too large", io.name, shape_str(&shape)))?;
        let mut d = Vec::new();
        d.try_reserve_exact(bytes).map_err(|_| {
            format!(
                "input '{}': cannot allocate {bytes} bytes for {}",
                io.name,
                shape_str(&shape)
            )
        })?;
        for _ in 0..n {
            d.extend_from_slice(&one);
        }
        d
    } else {
        one
    };
    Ok(HostTensor { dtype, shape, data })
}

/// A `.bin` file: raw little-endian elements of the input's dtype.
fn raw(io: &IoInfo, b: &Bindings, dtype: DType, p: &Path) -> Result<HostTensor, String> {
    let data = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let size = dtype.size_bytes();
    if data.len() % size != 0 {
        return Err(format!(
            "{}: {} bytes are not a whole number of {dtype} elements ({size} bytes each)",
            p.display(),
            data.len()
        ));
    }
    let shape =
        shape_for(io, b, data.len() / size, false).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(HostTensor { dtype, shape, data })
}

/// A NumPy `.npy` file (format 1.0 to 3.0, C order, little-endian or
/// one-byte elements).
pub fn read_npy(p: &Path) -> Result<HostTensor, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    parse_npy(&bytes).map_err(|e| format!("{} is not a usable .npy file: {e}", p.display()))
}

fn parse_npy(bytes: &[u8]) -> Result<HostTensor, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("it does not start with the NumPy magic")?;
    let (major, rest) = rest.split_first().ok_or("it is truncated")?;
    let rest = rest.get(1..).ok_or("it is truncated")?;
    let (len, rest) = match major {
        1 => (
            u16::from_le_bytes(
                rest.get(..2)
                    .ok_or("it is truncated")?
                    .try_into()
                    .expect("2"),
            ) as usize,
            &rest[2..],
        ),
        2 | 3 => (
            u32::from_le_bytes(
                rest.get(..4)
                    .ok_or("it is truncated")?
                    .try_into()
                    .expect("4"),
            ) as usize,
            &rest[4..],
        ),
        v => return Err(format!("format version {v} is unknown")),
    };
    let header = rest.get(..len).ok_or("its header is truncated")?;
    let header = std::str::from_utf8(header).map_err(|_| "its header is not text")?;
    let data = &rest[len..];
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("its header has no '{key}'"))?;
        let after = header[at + key.len() + 2..].trim_start();
        Ok(after.strip_prefix(':').unwrap_or(after).trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("its descr is not a plain type string")?;
    if field("fortran_order")?.starts_with("True") {
        return Err("it is in Fortran order; save np.ascontiguousarray(x) instead".into());
    }
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("its shape is not a tuple")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("shape size '{s}'")))
        .collect::<Result<Vec<_>, _>>()?;
    let (order, code) = descr.split_at(1);
    let dtype = match code {
        "f2" => DType::Float16,
        "f4" => DType::Float32,
        "f8" => DType::Float64,
        "i1" => DType::Int8,
        "i2" => DType::Int16,
        "i4" => DType::Int32,
        "i8" => DType::Int64,
        "u1" => DType::Uint8,
        "u2" => DType::Uint16,
        "u4" => DType::Uint32,
        "u8" => DType::Uint64,
        "b1" => DType::Bool,
        other => {
            return Err(format!(
                "its element type '{other}' is not one turnkey feeds"
            ));
        }
    };
    let little = matches!(order, "<" | "|") || (order == "=" && cfg!(target_endian = "little"));
    if !little && dtype.size_bytes() > 1 {
        return Err("it is big-endian; save x.astype(x.dtype.newbyteorder('<'))".into());
    }
    let want = crate::graph::tensor::numel(&shape)
        .checked_mul(dtype.size_bytes())
        .ok_or("its shape is too large")?;
    if data.len() != want {
        return Err(format!(
            "{} holds {want} bytes of data, the file has {}",
            shape_str(&shape),
            data.len()
        ));
    }
    Ok(HostTensor {
        dtype,
        shape,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(name: &str, dtype: DType, dims: Vec<Dim>) -> IoInfo {
        IoInfo {
            name: name.into(),
            dtype: Some(dtype),
            value_type: Some(crate::graph::ValueType::Tensor(dtype)),
            dims,
            rank_known: true,
            type_name: dtype.to_string(),
        }
    }

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn literals_are_exact_and_shaped() {
        let base = Path::new("/b");
        let b = Bindings::default();
        let sr = io("sr", DType::Int64, vec![]);
        let v = InputValue::parse("16000", base).unwrap();
        let t = v.load(&sr, &b).unwrap();
        assert_eq!(
            (t.shape.clone(), t.to_i64_vec().unwrap()),
            (vec![], vec![16000])
        );
        // Integers beyond 2^53 stay exact; out of range is an error.
        let t = InputValue::parse("9007199254740993", base)
            .unwrap()
            .load(&sr, &b)
            .unwrap();
        assert_eq!(t.to_i64_vec().unwrap(), vec![9007199254740993]);
        let small = io("s", DType::Uint8, vec![]);
        let e = InputValue::parse("300", base)
            .unwrap()
            .load(&small, &b)
            .unwrap_err();
        assert!(e.contains("out of range for uint8"), "{e}");
        let e = InputValue::parse("1.5", base)
            .unwrap()
            .load(&sr, &b)
            .unwrap_err();
        assert!(e.contains("not an integer"), "{e}");
        // A list fills the shape in order; one unbound axis is sized from it.
        let x = io(
            "x",
            DType::Float32,
            vec![Dim::Fixed(2), Dim::Named("n".into())],
        );
        let t = InputValue::parse("1,2,3,4,5,6", base)
            .unwrap()
            .load(&x, &b)
            .unwrap();
        assert_eq!(t.shape, [2, 3]);
        assert_eq!(t.to_f64_vec(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let e = InputValue::parse("1,2,3", base)
            .unwrap()
            .load(&x, &b)
            .unwrap_err();
        assert!(e.contains("unbound sizes"), "{e}");
        // One value fills a bound shape.
        let mut bound = Bindings::default();
        bound.axes.insert("n".into(), 2);
        let t = InputValue::parse("7", base)
            .unwrap()
            .load(&x, &bound)
            .unwrap();
        assert_eq!(
            (t.shape.clone(), t.to_f64_vec()),
            (vec![2, 2], vec![7.0; 4])
        );
        let e = InputValue::parse("1,2,3", base)
            .unwrap()
            .load(&x, &bound)
            .unwrap_err();
        assert!(e.contains("has 4 element(s), the value gives 3"), "{e}");
        let flag = io("f", DType::Bool, vec![Dim::Fixed(2)]);
        let t = InputValue::parse("true,0", base)
            .unwrap()
            .load(&flag, &b)
            .unwrap();
        assert_eq!(t.data, [1, 0]);
        for bad in ["", "1,,2", "abc", "16k"] {
            assert!(InputValue::parse(bad, base).is_err(), "{bad}");
        }
        let s = io("s", DType::String, vec![]);
        let e = InputValue::parse("1", base)
            .unwrap()
            .load(&s, &b)
            .unwrap_err();
        assert!(e.contains("numbers and bools"), "{e}");
    }

    #[test]
    fn files_npy_pb_and_bin() {
        let dir = tempfile::tempdir().unwrap();
        let b = Bindings::default();
        let x = io(
            "x",
            DType::Float32,
            vec![Dim::Named("n".into()), Dim::Fixed(2)],
        );
        let vals: Vec<u8> = [1.5f32, -2.0, 3.0, 4.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(dir.path().join("x.npy"), npy("<f4", "(2, 2)", &vals)).unwrap();
        let v = InputValue::parse("x.npy", dir.path()).unwrap();
        assert_eq!(v, InputValue::File(dir.path().join("x.npy")));
        let t = v.load(&x, &b).unwrap();
        assert_eq!(
            (t.shape.clone(), t.to_f64_vec()),
            (vec![2, 2], vec![1.5, -2.0, 3.0, 4.25])
        );
        // The dtype must be the input's.
        std::fs::write(dir.path().join("i.npy"), npy("<i8", "(2,)", &[0; 16])).unwrap();
        let e = InputValue::parse("i.npy", dir.path())
            .unwrap()
            .load(&x, &b)
            .unwrap_err();
        assert!(e.contains("holds int64 but input 'x' is float32"), "{e}");
        // Fortran order, big-endian and short data are refused.
        let mut fbytes = npy("<f4", "(2, 2)", &vals);
        let at = fbytes.windows(5).position(|w| w == b"False").unwrap();
        fbytes[at..at + 5].copy_from_slice(b"True ");
        std::fs::write(dir.path().join("f.npy"), fbytes).unwrap();
        let e = read_npy(&dir.path().join("f.npy")).unwrap_err();
        assert!(e.contains("Fortran order"), "{e}");
        std::fs::write(dir.path().join("be.npy"), npy(">f4", "(2, 2)", &vals)).unwrap();
        assert!(
            read_npy(&dir.path().join("be.npy"))
                .unwrap_err()
                .contains("big-endian")
        );
        std::fs::write(dir.path().join("short.npy"), npy("<f4", "(3, 2)", &vals)).unwrap();
        assert!(
            read_npy(&dir.path().join("short.npy"))
                .unwrap_err()
                .contains("holds 24 bytes")
        );
        // .bin: raw elements, the unbound axis from the size.
        std::fs::write(dir.path().join("x.bin"), &vals).unwrap();
        let t = InputValue::parse("x.bin", dir.path())
            .unwrap()
            .load(&x, &b)
            .unwrap();
        assert_eq!(t.shape, [2, 2]);
        std::fs::write(dir.path().join("odd.bin"), [0u8; 6]).unwrap();
        let e = InputValue::parse("odd.bin", dir.path())
            .unwrap()
            .load(&x, &b)
            .unwrap_err();
        assert!(e.contains("not a whole number of float32"), "{e}");
        // .pb: a TensorProto.
        let pb = dir.path().join("x.pb");
        crate::onnx::write_tensor_pb(&pb, "whatever", &t).unwrap();
        let back = InputValue::parse("x.pb", dir.path())
            .unwrap()
            .load(&x, &b)
            .unwrap();
        assert_eq!(back, t);
        let e = InputValue::parse("missing.npy", dir.path())
            .unwrap()
            .load(&x, &b)
            .unwrap_err();
        assert!(
            e.contains("cannot read") && e.contains("missing.npy"),
            "{e}"
        );
    }

    #[test]
    fn input_arguments_parse() {
        let base = Path::new("/w");
        let v = parse_input_args(&["sr=16000 img=a/b.npy".into(), "sr=8000".into()], base).unwrap();
        assert_eq!(
            v,
            vec![
                (
                    "img".to_string(),
                    InputValue::File(PathBuf::from("/w/a/b.npy"))
                ),
                ("sr".to_string(), InputValue::Literal(vec!["8000".into()])),
            ]
        );
        for bad in ["sr", "=1", "sr=", "sr=x"] {
            let e = parse_input_args(&[bad.into()], base).unwrap_err();
            assert!(e.starts_with(&format!("--input {bad}")), "{e}");
        }
    }
}
