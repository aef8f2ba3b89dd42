//! ONNX lowering of the linalg family: Matrix products.

#[allow(unused_imports)]
use super::*;

impl Lowering<'_> {
    pub(super) fn lower_linalg(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::MatMul => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, "MatMul", ins, vec![]);
            }
            Op::Gemm { trans_b } => {
                self.need_inputs(cur, 2, 3)?;
                let attrs = if *trans_b {
                    vec![a_int("transB", 1)]
                } else {
                    vec![]
                };
                self.same(cur, "Gemm", ins, attrs);
            }
            Op::Einsum { equation } => {
                if ins.is_empty() || cur.outs.is_empty() {
                    return Err(self.err(cur, "needs inputs and an output"));
                }
                self.same(cur, "Einsum", ins, vec![a_str("equation", equation)]);
            }
            other => unreachable!("{other:?} is not in the linalg family"),
        }
        Ok(())
    }
}
