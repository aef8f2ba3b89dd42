//! ONNX lowering of the shape family: Shape and indexing ops.

#[allow(unused_imports)]
use super::*;

impl Lowering<'_> {
    pub(super) fn lower_shape(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::Pad { pads, value } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let p = self.const_i64(cur, "pads", &i64s(pads));
                let v = self.const_scalar(cur, "value", d, *value);
                self.same(cur, "Pad", vec![ins[0].clone(), p, v], vec![]);
            }
            Op::Reshape { shape } => {
                self.need_inputs(cur, 1, 1)?;
                // A 0 in ONNX's shape means "copy this dim" unless allowzero.
                let mut attrs = vec![];
                if shape.contains(&0) {
                    if opset < 14 {
                        return Err(self.err(
                            cur,
                            "reshaping to a shape with a 0 dim needs opset 14 or later (allowzero)",
                        ));
                    }
                    attrs.push(a_int("allowzero", 1));
                }
                let s = self.const_i64(cur, "shape", &i64s(shape));
                self.same(cur, "Reshape", vec![ins[0].clone(), s], attrs);
            }
            Op::Flatten { axis } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Flatten", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Transpose { perm } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Transpose", ins, vec![a_ints("perm", perm)]);
            }
            Op::Squeeze { axes } | Op::Unsqueeze { axes } => {
                self.need_inputs(cur, 1, 1)?;
                if axes.is_empty() {
                    // The IR's no-op; ONNX's Squeeze without axes would drop
                    // every 1-sized dim.
                    self.same(cur, "Identity", ins, vec![]);
                } else {
                    let a = self.const_i64(cur, "axes", &i64s(axes));
                    self.same(cur, cur.node.op.kind(), vec![ins[0].clone(), a], vec![]);
                }
            }
            Op::Concat { axis } => {
                if ins.is_empty() {
                    return Err(self.err(cur, "has no inputs"));
                }
                self.same(cur, "Concat", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Split { axis, sizes } => {
                self.need_inputs(cur, 1, 1)?;
                if sizes.len() != cur.outs.len() {
                    return Err(self.err(
                        cur,
                        format!("{} sizes for {} outputs", sizes.len(), cur.outs.len()),
                    ));
                }
                let s = self.const_i64(cur, "split", &i64s(sizes));
                self.same(
                    cur,
                    "Split",
                    vec![ins[0].clone(), s],
                    vec![a_int("axis", *axis as i64)],
                );
            }
            Op::Slice {
                starts,
                ends,
                axes,
                steps,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.const_i64(cur, "starts", starts);
                let e = self.const_i64(cur, "ends", ends);
                let a = self.const_i64(cur, "axes", &i64s(axes));
                let st = self.const_i64(cur, "steps", steps);
                self.same(cur, "Slice", vec![ins[0].clone(), s, e, a, st], vec![]);
            }
            Op::Gather { axis } => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, "Gather", ins, vec![a_int("axis", *axis as i64)]);
            }
            Op::Expand { shape } => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.const_i64(cur, "shape", &i64s(shape));
                self.same(cur, "Expand", vec![ins[0].clone(), s], vec![]);
            }
            other => unreachable!("{other:?} is not in the shape family"),
        }
        Ok(())
    }
}
