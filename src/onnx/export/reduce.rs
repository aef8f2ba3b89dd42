//! ONNX lowering of the reduce family: Reductions.

#[allow(unused_imports)]
use super::*;

impl Lowering<'_> {
    pub(super) fn lower_reduce(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::ReduceMean { axes, keepdims } => {
                self.reduce(cur, "ReduceMean", axes, *keepdims, 18)?
            }
            Op::ReduceMax { axes, keepdims } => {
                self.reduce(cur, "ReduceMax", axes, *keepdims, 18)?
            }
            Op::ReduceSum { axes, keepdims } => {
                self.reduce(cur, "ReduceSum", axes, *keepdims, 13)?
            }
            other => unreachable!("{other:?} is not in the reduce family"),
        }
        Ok(())
    }
}
