//! ONNX lowering of the norm family: Normalizations.

#[allow(unused_imports)]
use super::*;

impl Lowering<'_> {
    pub(super) fn lower_norm(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::LayerNorm { axis, epsilon } => {
                self.need_inputs(cur, 2, 3)?;
                if opset >= 17 {
                    self.same(
                        cur,
                        "LayerNormalization",
                        ins,
                        vec![a_int("axis", *axis as i64), a_float("epsilon", *epsilon)],
                    );
                } else {
                    // (x - mean) / sqrt(var + eps) * scale + bias over axis..
                    let info = self.in_info(cur, 0)?;
                    let axes: Vec<usize> = (*axis..info.rank()).collect();
                    let x = ins[0].clone();
                    let mean = self.fresh(cur, "mean");
                    self.emit(
                        cur,
                        "ReduceMean",
                        vec![x.clone()],
                        vec![mean.clone()],
                        vec![a_ints("axes", &axes), a_int("keepdims", 1)],
                        false,
                    );
                    let diff = self.step(cur, "Sub", vec![x, mean]);
                    let sq = self.step(cur, "Mul", vec![diff.clone(), diff.clone()]);
                    let var = self.fresh(cur, "var");
                    self.emit(
                        cur,
                        "ReduceMean",
                        vec![sq],
                        vec![var.clone()],
                        vec![a_ints("axes", &axes), a_int("keepdims", 1)],
                        false,
                    );
                    let eps = self.const_scalar(cur, "epsilon", info.dtype, *epsilon);
                    let t = self.step(cur, "Add", vec![var, eps]);
                    let t = self.step(cur, "Sqrt", vec![t]);
                    let t = self.step(cur, "Div", vec![diff, t]);
                    if ins.len() == 3 {
                        let t = self.step(cur, "Mul", vec![t, ins[1].clone()]);
                        self.same(cur, "Add", vec![t, ins[2].clone()], vec![]);
                    } else {
                        self.same(cur, "Mul", vec![t, ins[1].clone()], vec![]);
                    }
                }
            }
            Op::BatchNorm { epsilon } => {
                self.need_inputs(cur, 5, 5)?;
                self.same(
                    cur,
                    "BatchNormalization",
                    ins,
                    vec![a_float("epsilon", *epsilon)],
                );
            }
            other => unreachable!("{other:?} is not in the norm family"),
        }
        Ok(())
    }
}
