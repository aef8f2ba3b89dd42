//! Concrete tensors held by the host: script inputs, parameters, outputs.
//!
//! Data is kept as little-endian bytes so that every dtype has one
//! representation, which is also what ONNX `raw_data` and the runtimes take.

use super::dtype::DType;
use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Little-endian element bytes, `dtype.byte_len(numel)` long; for
    /// strings, each element as a u32 little-endian length then its bytes.
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// Tensor bytes as one hex string in JSON (a number array would be 2x larger).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Writes `v` as `dtype` into `out` (little-endian). Not for the packed
/// types (see [`packed_code`]).
fn push_value(out: &mut Vec<u8>, dtype: DType, v: f64) {
    match dtype {
        DType::Float32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
        DType::Float16 => out.extend_from_slice(&f16::from_f64(v).to_le_bytes()),
        DType::Bfloat16 => out.extend_from_slice(&bf16::from_f64(v).to_le_bytes()),
        DType::Float64 => out.extend_from_slice(&v.to_le_bytes()),
        DType::Int8 => out.push(v as i8 as u8),
        DType::Int16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
        DType::Int32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
        DType::Int64 => out.extend_from_slice(&(v as i64).to_le_bytes()),
        DType::Uint8 => out.push(v as u8),
        DType::Bool => out.push(u8::from(v != 0.0)),
        DType::Uint16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
        DType::Uint32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        DType::Uint64 => out.extend_from_slice(&(v as u64).to_le_bytes()),
        DType::Float8E4M3FN
        | DType::Float8E4M3FNUZ
        | DType::Float8E5M2
        | DType::Float8E5M2FNUZ
        | DType::Float8E8M0 => out.push(dtype.float8().map_or(0, |f| f.encode(v))),
        DType::Uint4 | DType::Int4 | DType::Uint2 | DType::Int2 => out.push(packed_code(dtype, v)),
        // A number as a string: what a string input gets from numeric fills.
        DType::String => push_string(out, format!("{v}").as_bytes()),
    }
}

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
}

/// The bit pattern of `v` in a packed integer type (saturating).
fn packed_code(dtype: DType, v: f64) -> u8 {
    let bits = dtype.bits() as u32;
    let mask = ((1u16 << bits) - 1) as u8;
    let signed = matches!(dtype, DType::Int4 | DType::Int2);
    let (lo, hi) = if signed {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    } else {
        (0, (1i64 << bits) - 1)
    };
    ((v as i64).clamp(lo, hi) as u8) & mask
}

/// The value of element `i` of packed `data`.
fn packed_value(dtype: DType, data: &[u8], i: usize) -> f64 {
    let bits = dtype.bits();
    let bit = i * bits;
    let code = (data[bit / 8] >> (bit % 8)) & (((1u16 << bits) - 1) as u8);
    match dtype {
        // Sign-extend from `bits`.
        DType::Int4 | DType::Int2 => (((code << (8 - bits)) as i8) >> (8 - bits)) as f64,
        _ => code as f64,
    }
}

impl HostTensor {
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }

    /// Whether `data` holds exactly `numel` elements of `dtype`.
    pub fn data_fits(&self) -> bool {
        if self.dtype.is_string() {
            self.strings().is_some()
        } else {
            self.data.len() == self.dtype.byte_len(self.numel())
        }
    }

    /// A string tensor (elements are byte strings, UTF-8 in practice).
    pub fn from_strings<S: AsRef<[u8]>>(shape: &[usize], items: &[S]) -> Self {
        debug_assert_eq!(items.len(), numel(shape));
        let mut data = Vec::with_capacity(items.iter().map(|s| 4 + s.as_ref().len()).sum());
        for s in items {
            push_string(&mut data, s.as_ref());
        }
        HostTensor {
            dtype: DType::String,
            shape: shape.to_vec(),
            data,
        }
    }

    /// The elements of a string tensor; `None` for other dtypes or when the
    /// data does not hold exactly `numel` strings.
    pub fn strings(&self) -> Option<Vec<&[u8]>> {
        if !self.dtype.is_string() {
            return None;
        }
        let mut out = Vec::with_capacity(self.numel());
        let mut rest = self.data.as_slice();
        while !rest.is_empty() {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            if tail.len() < len {
                return None;
            }
            out.push(&tail[..len]);
            rest = &tail[len..];
        }
        (out.len() == self.numel()).then_some(out)
    }

    /// Builds a tensor by evaluating `f(i)` for every element index.
    pub fn from_fn(dtype: DType, shape: &[usize], mut f: impl FnMut(usize) -> f64) -> Self {
        let n = numel(shape);
        let data = if dtype.bits() < 8 && !dtype.is_string() {
            let bits = dtype.bits();
            let mut data = vec![0u8; dtype.byte_len(n)];
            for i in 0..n {
                let bit = i * bits;
                data[bit / 8] |= packed_code(dtype, f(i)) << (bit % 8);
            }
            data
        } else {
            let mut data = Vec::with_capacity(dtype.byte_len(n));
            for i in 0..n {
                push_value(&mut data, dtype, f(i));
            }
            data
        };
        HostTensor {
            dtype,
            shape: shape.to_vec(),
            data,
        }
    }

    pub fn full(dtype: DType, shape: &[usize], value: f64) -> Self {
        if dtype.bits() < 8 && !dtype.is_string() {
            return Self::from_fn(dtype, shape, |_| value);
        }
        let mut one = Vec::new();
        push_value(&mut one, dtype, value);
        HostTensor {
            dtype,
            shape: shape.to_vec(),
            data: one.repeat(numel(shape)),
        }
    }

    pub fn zeros(dtype: DType, shape: &[usize]) -> Self {
        if dtype.is_string() {
            return Self::from_strings(shape, &vec![""; numel(shape)]);
        }
        HostTensor {
            dtype,
            shape: shape.to_vec(),
            data: vec![0; dtype.byte_len(numel(shape))],
        }
    }

    /// Uniform values in `[low, high)`, reproducible from `seed`.
    pub fn uniform(dtype: DType, shape: &[usize], low: f64, high: f64, seed: u64) -> Self {
        if dtype == DType::Float32 {
            // The hot path for parameters: skip the f64 detour.
            let mut data = vec![0u8; numel(shape) * 4];
            super::random::fill_uniform_f32(&mut data, low, high, seed, 0);
            return HostTensor {
                dtype,
                shape: shape.to_vec(),
                data,
            };
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Self::from_fn(dtype, shape, |_| low + (high - low) * rng.random::<f64>())
    }

    /// Normal values with mean 0 and standard deviation `std`.
    pub fn normal(dtype: DType, shape: &[usize], std: f64, seed: u64) -> Self {
        if dtype == DType::Float32 {
            let mut data = vec![0u8; numel(shape) * 4];
            fill_normal_f32(&mut data, std, seed);
            return HostTensor {
                dtype,
                shape: shape.to_vec(),
                data,
            };
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Box-Muller: keeps us off an extra distribution crate.
        Self::from_fn(dtype, shape, |_| {
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random::<f64>();
            std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
    }

    /// Lowercase ASCII words of 1 to 8 letters, reproducible from `seed`.
    pub fn random_words(shape: &[usize], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let words: Vec<String> = (0..numel(shape))
            .map(|_| {
                let n = rng.random_range(1..=8);
                (0..n)
                    .map(|_| rng.random_range(b'a'..=b'z') as char)
                    .collect()
            })
            .collect();
        Self::from_strings(shape, &words)
    }

    /// Integers in `[low, high)`, reproducible from `seed`.
    pub fn randint(dtype: DType, shape: &[usize], low: i64, high: i64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Self::from_fn(dtype, shape, |_| rng.random_range(low..high) as f64)
    }

    /// Every element as f64 (for comparisons and previews).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        let b = &self.data;
        match self.dtype {
            DType::Float32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::Float16 => b
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            DType::Bfloat16 => b
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            DType::Float64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            DType::Int8 => b.iter().map(|&x| x as i8 as f64).collect(),
            DType::Int16 => b
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
                .collect(),
            DType::Int32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::Int64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::Uint8 | DType::Bool => b.iter().map(|&x| x as f64).collect(),
            DType::Uint16 => b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64)
                .collect(),
            DType::Uint32 => b
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::Uint64 => b
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::Float8E4M3FN
            | DType::Float8E4M3FNUZ
            | DType::Float8E5M2
            | DType::Float8E5M2FNUZ
            | DType::Float8E8M0 => {
                let f = self.dtype.float8().expect("an 8-bit float type");
                b.iter().map(|&x| f.decode(x)).collect()
            }
            DType::Uint4 | DType::Int4 | DType::Uint2 | DType::Int2 => (0..self.numel())
                .map(|i| packed_value(self.dtype, b, i))
                .collect(),
            // Strings that read as numbers, NaN for the rest.
            DType::String => self
                .strings()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    std::str::from_utf8(s)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(f64::NAN)
                })
                .collect(),
        }
    }

    /// Typed copy of f32 data; `None` for other dtypes.
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        (self.dtype == DType::Float32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        })
    }

    /// Typed copy of i64 data; `None` for other dtypes.
    pub fn to_i64_vec(&self) -> Option<Vec<i64>> {
        (self.dtype == DType::Int64).then(|| {
            self.data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        })
    }

    /// The first `n` values, formatted for humans.
    pub fn preview(&self, n: usize) -> String {
        if let Some(items) = self.strings() {
            let shown: Vec<String> = items
                .iter()
                .take(n)
                .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                .collect();
            let more = if items.len() > n { ", ..." } else { "" };
            return format!("[{}{}]", shown.join(", "), more);
        }
        let vals = self.to_f64_vec();
        let shown: Vec<String> = vals
            .iter()
            .take(n)
            .map(|v| {
                if self.dtype.is_float() {
                    format!("{v:.6}")
                } else {
                    format!("{v}")
                }
            })
            .collect();
        let more = if vals.len() > n { ", ..." } else { "" };
        format!("[{}{}]", shown.join(", "), more)
    }
}

/// Fills `out` (little-endian float32s) with normal values of mean 0 and
/// standard deviation `std` from `seed`: Box-Muller, both outputs used, as
/// [`HostTensor::normal`] makes them.
fn fill_normal_f32(out: &mut [u8], std: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let std = std as f32;
    for pair in out.chunks_mut(8) {
        let u1: f32 = rng.random::<f32>().max(1e-12);
        let u2: f32 = rng.random::<f32>();
        let r = std * (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        pair[..4].copy_from_slice(&(r * c).to_le_bytes());
        if pair.len() == 8 {
            pair[4..].copy_from_slice(&(r * s).to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_reproducible_and_bounded() {
        let a = HostTensor::uniform(DType::Float32, &[4, 5], -0.5, 0.5, 7);
        let b = HostTensor::uniform(DType::Float32, &[4, 5], -0.5, 0.5, 7);
        assert_eq!(a, b);
        assert!(a.to_f64_vec().iter().all(|v| (-0.5..0.5).contains(v)));
        let c = HostTensor::uniform(DType::Float32, &[4, 5], -0.5, 0.5, 8);
        assert_ne!(a, c);
    }

    #[test]
    fn dtypes_round_trip_values() {
        for d in DType::ALL {
            let t = HostTensor::full(d, &[3], 1.0);
            assert!(t.data_fits(), "{d}");
            assert_eq!(t.to_f64_vec(), vec![1.0; 3], "{d}");
        }
    }

    #[test]
    fn packed_types_keep_the_onnx_layout_and_saturate() {
        let vals = [-1.0, 7.0, -8.0, 3.0, 9.0];
        let t = HostTensor::from_fn(DType::Int4, &[5], |i| vals[i]);
        // First element in the low nibble.
        assert_eq!(t.data, vec![0x7F, 0x38, 0x07]);
        assert_eq!(t.to_f64_vec(), vec![-1.0, 7.0, -8.0, 3.0, 7.0]);
        let t = HostTensor::from_fn(DType::Uint2, &[5], |i| [0.0, 1.0, 2.0, 3.0, 5.0][i]);
        assert_eq!(t.data, vec![0b1110_0100, 0b11]);
        assert_eq!(t.to_f64_vec(), vec![0.0, 1.0, 2.0, 3.0, 3.0]);
        let t = HostTensor::from_fn(DType::Int2, &[2], |i| [-2.0, -1.0][i]);
        assert_eq!(t.to_f64_vec(), vec![-2.0, -1.0]);
        let t = HostTensor::full(DType::Uint64, &[1], 2f64.powi(40));
        assert_eq!(t.to_f64_vec(), vec![2f64.powi(40)]);
        let t = HostTensor::uniform(DType::Float8E4M3FN, &[64], -1.0, 1.0, 3);
        assert!(t.to_f64_vec().iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn normal_has_the_asked_spread() {
        let t = HostTensor::normal(DType::Float32, &[10_001], 2.0, 3);
        let v = t.to_f64_vec();
        assert_eq!(v.len(), 10_001);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.1, "{mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.1, "{}", var.sqrt());
    }

    #[test]
    fn serializes_with_hex_data() {
        let t = HostTensor::from_fn(DType::Int16, &[2], |i| i as f64 - 1.0);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, r#"{"dtype":"int16","shape":[2],"data":"ffff0000"}"#);
        assert_eq!(serde_json::from_str::<HostTensor>(&j).unwrap(), t);
        assert!(serde_json::from_str::<HostTensor>(&j.replace("ffff", "zz")).is_err());
    }

    #[test]
    fn randint_in_range() {
        let t = HostTensor::randint(DType::Int64, &[100], 3, 7, 1);
        assert!(t.to_i64_vec().unwrap().iter().all(|v| (3..7).contains(v)));
    }

    #[test]
    fn strings_hold_their_bytes_and_count() {
        let t = HostTensor::from_strings(&[2, 2], &["a", "", "héllo", "x y"]);
        assert!(t.data_fits());
        let got: Vec<&[u8]> = t.strings().unwrap();
        assert_eq!(got, vec![&b"a"[..], b"", "héllo".as_bytes(), b"x y"]);
        assert_eq!(t.preview(2), r#"["a", "", ...]"#);
        // Too few strings for the shape, or a length past the end: not a fit.
        let short = HostTensor {
            shape: vec![5],
            ..t.clone()
        };
        assert!(!short.data_fits());
        let mut cut = t.clone();
        cut.data.truncate(cut.data.len() - 1);
        assert!(!cut.data_fits());
        assert_eq!(
            HostTensor::zeros(DType::String, &[3])
                .strings()
                .unwrap()
                .len(),
            3
        );
        assert!(HostTensor::zeros(DType::Float32, &[1]).strings().is_none());
    }
}
