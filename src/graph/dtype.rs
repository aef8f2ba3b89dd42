//! Element types of tensors in the IR.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An element type. The names are the ones scripts and ONNX files use
/// (`"float32"`, `"float8e4m3fn"`, ...).
///
/// Scripts create the [`DType::SCRIPT`] types; the others come only from
/// ONNX files given as inputs (unsigned 16/32/64-bit integers, the 8-bit
/// floats, the packed 4- and 2-bit integers, strings) and are carried as
/// bytes between the file, the runtimes and the output check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Float16,
    Bfloat16,
    Float64,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Bool,
    Uint16,
    Uint32,
    Uint64,
    Float8E4M3FN,
    Float8E4M3FNUZ,
    Float8E5M2,
    Float8E5M2FNUZ,
    Float8E8M0,
    Uint4,
    Int4,
    Uint2,
    Int2,
    /// Byte strings (UTF-8 in practice); see [`crate::graph::HostTensor::from_strings`]
    /// for how a tensor holds them.
    String,
}

impl DType {
    /// The types scripts can create (and the IR computes with).
    pub const SCRIPT: [DType; 10] = [
        DType::Float32,
        DType::Float16,
        DType::Bfloat16,
        DType::Float64,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Uint8,
        DType::Bool,
    ];

    /// The types only ONNX files carry.
    pub const FILE_ONLY: [DType; 13] = [
        DType::Uint16,
        DType::Uint32,
        DType::Uint64,
        DType::Float8E4M3FN,
        DType::Float8E4M3FNUZ,
        DType::Float8E5M2,
        DType::Float8E5M2FNUZ,
        DType::Float8E8M0,
        DType::Uint4,
        DType::Int4,
        DType::Uint2,
        DType::Int2,
        DType::String,
    ];

    /// Every type: [`DType::SCRIPT`], then [`DType::FILE_ONLY`].
    pub const ALL: [DType; 23] = {
        let mut all = [DType::Float32; 23];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < DType::SCRIPT.len() {
                DType::SCRIPT[i]
            } else {
                DType::FILE_ONLY[i - DType::SCRIPT.len()]
            };
            i += 1;
        }
        all
    };

    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float16 => "float16",
            DType::Bfloat16 => "bfloat16",
            DType::Float64 => "float64",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Uint8 => "uint8",
            DType::Bool => "bool",
            DType::Uint16 => "uint16",
            DType::Uint32 => "uint32",
            DType::Uint64 => "uint64",
            DType::Float8E4M3FN => "float8e4m3fn",
            DType::Float8E4M3FNUZ => "float8e4m3fnuz",
            DType::Float8E5M2 => "float8e5m2",
            DType::Float8E5M2FNUZ => "float8e5m2fnuz",
            DType::Float8E8M0 => "float8e8m0",
            DType::Uint4 => "uint4",
            DType::Int4 => "int4",
            DType::Uint2 => "uint2",
            DType::Int2 => "int2",
            DType::String => "string",
        }
    }

    /// Parses a script dtype string; `None` when unknown or not one scripts
    /// may create.
    pub fn parse(s: &str) -> Option<DType> {
        DType::SCRIPT.iter().copied().find(|d| d.name() == s)
    }

    /// Whether scripts can create this type (else it comes from ONNX files).
    pub fn in_scripts(self) -> bool {
        DType::SCRIPT.contains(&self)
    }

    /// Bits per element; 0 for strings, whose elements have no fixed size.
    pub fn bits(self) -> usize {
        match self {
            DType::String => 0,
            DType::Float64 | DType::Int64 | DType::Uint64 => 64,
            DType::Float32 | DType::Int32 | DType::Uint32 => 32,
            DType::Float16 | DType::Bfloat16 | DType::Int16 | DType::Uint16 => 16,
            DType::Int8
            | DType::Uint8
            | DType::Bool
            | DType::Float8E4M3FN
            | DType::Float8E4M3FNUZ
            | DType::Float8E5M2
            | DType::Float8E5M2FNUZ
            | DType::Float8E8M0 => 8,
            DType::Uint4 | DType::Int4 => 4,
            DType::Uint2 | DType::Int2 => 2,
        }
    }

    /// Bytes per element, rounded up (1 for the packed 4- and 2-bit types:
    /// use [`DType::byte_len`] for the size of a tensor's data).
    pub fn size_bytes(self) -> usize {
        self.bits().div_ceil(8)
    }

    /// Bytes holding `numel` elements: packed types share bytes, the first
    /// element in the lowest bits (the ONNX layout). Strings have no fixed
    /// length: use [`crate::graph::HostTensor::data_fits`].
    pub fn byte_len(self, numel: usize) -> usize {
        if self.bits() >= 8 {
            numel * self.size_bytes()
        } else {
            (numel * self.bits()).div_ceil(8)
        }
    }

    /// `byte_len` without overflow; `None` when it would overflow.
    pub fn checked_byte_len(self, numel: usize) -> Option<usize> {
        if self.bits() >= 8 {
            numel.checked_mul(self.size_bytes())
        } else {
            numel.checked_mul(self.bits()).map(|b| b.div_ceil(8))
        }
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::Float32
                | DType::Float16
                | DType::Bfloat16
                | DType::Float64
                | DType::Float8E4M3FN
                | DType::Float8E4M3FNUZ
                | DType::Float8E5M2
                | DType::Float8E5M2FNUZ
                | DType::Float8E8M0
        )
    }

    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::Int8
                | DType::Int16
                | DType::Int32
                | DType::Int64
                | DType::Uint8
                | DType::Uint16
                | DType::Uint32
                | DType::Uint64
                | DType::Uint4
                | DType::Int4
                | DType::Uint2
                | DType::Int2
        )
    }

    pub fn is_string(self) -> bool {
        self == DType::String
    }

    /// The 8-bit float format of this type, if it is one.
    pub fn float8(self) -> Option<super::float8::Format> {
        use super::float8::Format;
        match self {
            DType::Float8E4M3FN => Some(Format::E4M3FN),
            DType::Float8E4M3FNUZ => Some(Format::E4M3FNUZ),
            DType::Float8E5M2 => Some(Format::E5M2),
            DType::Float8E5M2FNUZ => Some(Format::E5M2FNUZ),
            DType::Float8E8M0 => Some(Format::E8M0),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Formats a shape the way users write it: `[1, 3, 224, 224]`.
pub fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::SCRIPT {
            assert_eq!(DType::parse(d.name()), Some(d));
        }
        for d in DType::ALL {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.name()));
            assert_eq!(serde_json::from_str::<DType>(&json).unwrap(), d);
        }
        assert_eq!(DType::parse("float"), None);
        assert_eq!(DType::parse("uint16"), None, "ONNX files only");
    }

    #[test]
    fn packed_types_share_bytes() {
        assert_eq!(DType::Int4.byte_len(5), 3);
        assert_eq!(DType::Uint2.byte_len(5), 2);
        assert_eq!(DType::Uint64.byte_len(5), 40);
        assert_eq!(DType::Float8E5M2.byte_len(5), 5);
        assert_eq!(DType::Int4.checked_byte_len(usize::MAX), None);
    }
}
