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
            Op::InstanceNorm { epsilon } => {
                self.need_inputs(cur, 3, 3)?;
                self.same(
                    cur,
                    "InstanceNormalization",
                    ins,
                    vec![a_float("epsilon", *epsilon)],
                );
            }
            Op::GroupNorm { groups, epsilon } => {
                self.need_inputs(cur, 3, 3)?;
                let x = self.in_info(cur, 0)?;
                if opset >= 21 {
                    // Opset 18's GroupNormalization took per-group scales (a
                    // spec error, fixed in 21): only 21 is PyTorch's op.
                    self.same(
                        cur,
                        "GroupNormalization",
                        ins,
                        vec![
                            a_float("epsilon", *epsilon),
                            a_int("num_groups", *groups as i64),
                        ],
                    );
                } else {
                    // As torch.onnx writes it: [N, G, rest] normalized by
                    // InstanceNormalization (scale 1, bias 0 per group), back
                    // to x's shape, then the per-channel affine.
                    let (n, c, g) = (x.shape[0], x.shape[1], *groups);
                    let rest = x.numel() as usize / (n * g).max(1);
                    let grouped = self.const_i64(cur, "grouped", &i64s(&[n, g, rest]));
                    let t = self.step(cur, "Reshape", vec![ins[0].clone(), grouped]);
                    let ones = self.const_tensor(cur, "ones", HostTensor::full(x.dtype, &[g], 1.0));
                    let zeros =
                        self.const_tensor(cur, "zeros", HostTensor::full(x.dtype, &[g], 0.0));
                    let normed = self.fresh(cur, "normed");
                    self.emit(
                        cur,
                        "InstanceNormalization",
                        vec![t, ones, zeros],
                        vec![normed.clone()],
                        vec![a_float("epsilon", *epsilon)],
                        false,
                    );
                    let shape = self.const_i64(cur, "shape", &i64s(&x.shape));
                    let t = self.step(cur, "Reshape", vec![normed, shape]);
                    let mut per_channel = vec![c];
                    per_channel.extend(std::iter::repeat_n(1, x.rank() - 2));
                    let pc = self.const_i64(cur, "per_channel", &i64s(&per_channel));
                    let w = self.step(cur, "Reshape", vec![ins[1].clone(), pc.clone()]);
                    let b = self.step(cur, "Reshape", vec![ins[2].clone(), pc]);
                    let t = self.step(cur, "Mul", vec![t, w]);
                    self.same(cur, "Add", vec![t, b], vec![]);
                }
            }
            other => unreachable!("{other:?} is not in the norm family"),
        }
        Ok(())
    }
}
