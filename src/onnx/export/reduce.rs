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
            // ---- issue #15 ----
            Op::ReduceMin { axes, keepdims } => {
                self.reduce(cur, "ReduceMin", axes, *keepdims, 18)?
            }
            Op::ReduceProd { axes, keepdims } => {
                self.reduce(cur, "ReduceProd", axes, *keepdims, 18)?
            }
            Op::ReduceL1 { axes, keepdims } => self.reduce(cur, "ReduceL1", axes, *keepdims, 18)?,
            Op::ReduceL2 { axes, keepdims } => self.reduce(cur, "ReduceL2", axes, *keepdims, 18)?,
            Op::ArgMax { axis, keepdims } | Op::ArgMin { axis, keepdims } => {
                // select_last_index 0: the first index on ties, as torch.argmax.
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    cur.node.op.kind(),
                    ins,
                    vec![
                        a_int("axis", *axis as i64),
                        a_int("keepdims", i64::from(*keepdims)),
                        a_int("select_last_index", 0),
                    ],
                );
            }
            Op::TopK { k, axis, largest } => {
                // Always sorted: PyTorch leaves the order unspecified when
                // sorted=False, and runtimes must agree on one order to be
                // compared.
                self.need_inputs(cur, 1, 1)?;
                let kk = self.const_i64(cur, "k", &[*k as i64]);
                let attrs = vec![
                    a_int("axis", *axis as i64),
                    a_int("largest", i64::from(*largest)),
                    a_int("sorted", 1),
                ];
                if self.in_info(cur, 0)?.dtype == DType::Bfloat16 {
                    // TopK takes no bfloat16 before opset 24: select in
                    // float32 (exact: bfloat16 values widen exactly).
                    let to = |t: DType| vec![a_int("to", dtype_to_onnx(t) as i64)];
                    let (w, v) = (self.fresh(cur, "Cast_out"), self.fresh(cur, "TopK_out"));
                    self.emit(
                        cur,
                        "Cast",
                        vec![ins[0].clone()],
                        vec![w.clone()],
                        to(DType::Float32),
                        false,
                    );
                    let outs = vec![v.clone(), cur.outs[1].clone()];
                    self.emit(cur, "TopK", vec![w, kk], outs, attrs, true);
                    let y = vec![cur.outs[0].clone()];
                    self.emit(cur, "Cast", vec![v], y, to(DType::Bfloat16), false);
                } else {
                    self.same(cur, "TopK", vec![ins[0].clone(), kk], attrs);
                }
            }
            Op::CumSum { axis } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let a = self.const_scalar(cur, "axis", DType::Int64, *axis as f64);
                let half = matches!(d, DType::Float16 | DType::Bfloat16);
                if half && opset < 14 {
                    // CumSum takes 16-bit floats from opset 14: sum in
                    // float32 (as PyTorch accumulates them) and round back.
                    let f = self.fresh(cur, "Cast_out");
                    let to = |t: DType| vec![a_int("to", dtype_to_onnx(t) as i64)];
                    self.emit(
                        cur,
                        "Cast",
                        vec![ins[0].clone()],
                        vec![f.clone()],
                        to(DType::Float32),
                        false,
                    );
                    let s = self.step(cur, "CumSum", vec![f, a]);
                    self.same(cur, "Cast", vec![s], to(d));
                } else {
                    self.same(cur, "CumSum", vec![ins[0].clone(), a], vec![]);
                }
            }
            other => unreachable!("{other:?} is not in the reduce family"),
        }
        Ok(())
    }
}
