//! The 8-bit float formats of ONNX (opset 19+ and 24+), decoded to and
//! encoded from f64. Turnkey never computes in them: it generates random
//! inputs in them and compares outputs decoded from them, so a table
//! search (256 entries) is simple and fast enough.
//!
//! Layouts (sign, exponent, mantissa bits; bias):
//! - E4M3FN   1,4,3; 7. No infinities; NaN is S.1111.111.
//! - E4M3FNUZ 1,4,3; 8. No infinities, no -0; NaN is 0x80.
//! - E5M2     1,5,2; 15. IEEE-like: infinities and NaNs at exponent 31.
//! - E5M2FNUZ 1,5,2; 16. No infinities, no -0; NaN is 0x80.
//! - E8M0     0,8,0; 127. Powers of two only; NaN is 0xFF.

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    E4M3FN,
    E4M3FNUZ,
    E5M2,
    E5M2FNUZ,
    E8M0,
}

impl Format {
    /// The value of byte `b`.
    pub fn decode(self, b: u8) -> f64 {
        if self == Format::E8M0 {
            return if b == 0xFF {
                f64::NAN
            } else {
                (2f64).powi(b as i32 - 127)
            };
        }
        let (exp_bits, man_bits, bias) = match self {
            Format::E4M3FN => (4, 3, 7),
            Format::E4M3FNUZ => (4, 3, 8),
            Format::E5M2 => (5, 2, 15),
            Format::E5M2FNUZ => (5, 2, 16),
            Format::E8M0 => unreachable!(),
        };
        let fnuz = matches!(self, Format::E4M3FNUZ | Format::E5M2FNUZ);
        if fnuz && b == 0x80 {
            return f64::NAN;
        }
        let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
        let exp = ((b >> man_bits) & ((1 << exp_bits) - 1)) as i32;
        let man = (b & ((1 << man_bits) - 1)) as i32;
        let max_exp = (1 << exp_bits) - 1;
        match self {
            Format::E4M3FN if exp == max_exp && man == (1 << man_bits) - 1 => return f64::NAN,
            Format::E5M2 if exp == max_exp => {
                return if man == 0 {
                    sign * f64::INFINITY
                } else {
                    f64::NAN
                };
            }
            _ => {}
        }
        let frac = man as f64 / (1 << man_bits) as f64;
        let v = if exp == 0 {
            frac * 2f64.powi(1 - bias)
        } else {
            (1.0 + frac) * 2f64.powi(exp - bias)
        };
        sign * v
    }

    /// The 256 values, decoded once (encoding searches them per element).
    fn values(self) -> &'static [f64; 256] {
        static TABLES: OnceLock<[[f64; 256]; 5]> = OnceLock::new();
        let tables = TABLES.get_or_init(|| {
            [
                Format::E4M3FN,
                Format::E4M3FNUZ,
                Format::E5M2,
                Format::E5M2FNUZ,
                Format::E8M0,
            ]
            .map(|f| std::array::from_fn(|b| f.decode(b as u8)))
        });
        &tables[self as usize]
    }

    /// The byte whose value is nearest `v` (finite values only; beyond the
    /// range saturates to the largest magnitude; NaN gives the NaN byte).
    pub fn encode(self, v: f64) -> u8 {
        if v.is_nan() {
            return match self {
                Format::E4M3FN => 0x7F,
                Format::E5M2 => 0x7F,
                Format::E4M3FNUZ | Format::E5M2FNUZ => 0x80,
                Format::E8M0 => 0xFF,
            };
        }
        let mut best = (f64::INFINITY, 0u8);
        for (b, &x) in self.values().iter().enumerate() {
            if !x.is_finite() {
                continue;
            }
            let d = (x - v).abs();
            if d < best.0 {
                best = (d, b as u8);
            }
        }
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Largest finite values, from the ONNX specification.
        let max = |f: Format| {
            (0..=255u8)
                .map(|b| f.decode(b))
                .filter(|x| x.is_finite())
                .fold(f64::MIN, f64::max)
        };
        assert_eq!(max(Format::E4M3FN), 448.0);
        assert_eq!(max(Format::E4M3FNUZ), 240.0);
        assert_eq!(max(Format::E5M2), 57344.0);
        assert_eq!(max(Format::E5M2FNUZ), 57344.0);
        assert_eq!(max(Format::E8M0), 2f64.powi(127));
        assert_eq!(Format::E4M3FN.decode(0x38), 1.0);
        assert_eq!(Format::E4M3FNUZ.decode(0x40), 1.0);
        assert_eq!(Format::E5M2.decode(0x3C), 1.0);
        assert_eq!(Format::E5M2FNUZ.decode(0x40), 1.0);
        assert_eq!(Format::E8M0.decode(127), 1.0);
        assert!(Format::E5M2.decode(0x7C).is_infinite());
        assert!(Format::E4M3FNUZ.decode(0x80).is_nan());
        // Smallest subnormal of E4M3FN: 2^-9.
        assert_eq!(Format::E4M3FN.decode(0x01), 2f64.powi(-9));
    }

    #[test]
    fn encode_inverts_decode_on_finite_values() {
        for f in [
            Format::E4M3FN,
            Format::E4M3FNUZ,
            Format::E5M2,
            Format::E5M2FNUZ,
            Format::E8M0,
        ] {
            for b in 0..=255u8 {
                let x = f.decode(b);
                if x.is_finite() {
                    assert_eq!(f.decode(f.encode(x)), x, "{f:?} {b:#x}");
                }
            }
            assert!(f.decode(f.encode(f64::NAN)).is_nan());
        }
        assert_eq!(Format::E4M3FN.decode(Format::E4M3FN.encode(1e9)), 448.0);
    }
}
