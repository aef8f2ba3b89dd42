//! What an operator's schema allows, per opset: which of a node's inputs
//! and outputs share an element type, and which types each may take. The
//! data is onnx's own (`schemas.rs`, generated from `onnx.defs`).

use super::schemas::SCHEMAS;

/// One version of an operator of the default domain.
pub(crate) struct Schema {
    pub op: &'static str,
    /// The opset this version comes in at.
    pub since: u16,
    /// Each formal input's type slot (an index into `params`).
    pub ins: &'static [u8],
    pub outs: &'static [u8],
    /// Whether the last formal input / output repeats.
    pub variadic: (bool, bool),
    /// Per slot: bit `t` set when element type `t` is allowed.
    pub params: &'static [u32],
}

/// The version of `op` (default domain) in force at `opset`.
pub(crate) fn lookup(op: &str, opset: i64) -> Option<&'static Schema> {
    let start = SCHEMAS.partition_point(|s| s.op < op);
    SCHEMAS[start..]
        .iter()
        .take_while(|s| s.op == op)
        .filter(|s| i64::from(s.since) <= opset)
        .last()
}

fn slot(formals: &[u8], variadic: bool, i: usize) -> Option<usize> {
    match formals.get(i) {
        Some(&s) => Some(s as usize),
        None if variadic => formals.last().map(|&s| s as usize),
        None => None,
    }
}

impl Schema {
    /// The type slot of input `i`.
    pub fn input_slot(&self, i: usize) -> Option<usize> {
        slot(self.ins, self.variadic.0, i)
    }

    /// The type slot of output `i`.
    pub fn output_slot(&self, i: usize) -> Option<usize> {
        slot(self.outs, self.variadic.1, i)
    }

    /// Whether slot `s` allows element type `t`.
    pub fn allows(&self, s: usize, t: i32) -> bool {
        (0..32).contains(&t) && self.params.get(s).is_some_and(|m| m & (1 << t) != 0)
    }

    /// The one type slot `s` allows, when it allows exactly one.
    pub fn single_type(&self, s: usize) -> Option<i32> {
        let m = *self.params.get(s)?;
        (m.count_ones() == 1).then(|| m.trailing_zeros() as i32)
    }

    /// Whether slot `s` is bound by some input (else only outputs use it,
    /// and an attribute or the op itself decides its type).
    pub fn slot_has_input(&self, s: usize) -> bool {
        self.ins.iter().any(|&x| x as usize == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::data_type::{BFLOAT16, FLOAT, FLOAT16, INT64};

    #[test]
    fn versions_and_slots_follow_the_onnx_schemas() {
        // Conv takes bfloat16 only from opset 22; float16 always.
        let conv17 = lookup("Conv", 17).unwrap();
        assert_eq!(conv17.since, 11);
        assert!(conv17.allows(0, FLOAT16) && !conv17.allows(0, BFLOAT16));
        assert!(lookup("Conv", 22).unwrap().allows(0, BFLOAT16));
        // MatMul took bfloat16 at 13.
        assert!(!lookup("MatMul", 12).unwrap().allows(0, BFLOAT16));
        assert!(lookup("MatMul", 13).unwrap().allows(0, BFLOAT16));
        // Resize: scales are float32 whatever X is, sizes int64.
        let r = lookup("Resize", 17).unwrap();
        let scales = r.input_slot(2).unwrap();
        assert_eq!(r.single_type(scales), Some(FLOAT));
        assert_eq!(r.single_type(r.input_slot(3).unwrap()), Some(INT64));
        assert_eq!(r.input_slot(0), r.output_slot(0));
        // Concat's inputs repeat; Split's outputs repeat.
        let c = lookup("Concat", 17).unwrap();
        assert_eq!(c.input_slot(5), c.input_slot(0));
        let s = lookup("Split", 17).unwrap();
        assert_eq!(s.output_slot(3), s.output_slot(0));
        // Shape's output slot is int64 only, and no input binds it.
        let sh = lookup("Shape", 17).unwrap();
        let o = sh.output_slot(0).unwrap();
        assert_eq!(sh.single_type(o), Some(INT64));
        assert!(!sh.slot_has_input(o));
        assert!(lookup("NoSuchOp", 17).is_none());
        assert!(lookup("LayerNormalization", 16).is_none());
    }
}
