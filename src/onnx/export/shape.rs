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
            Op::Pad { pads, value, mode } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let p = self.const_i64(cur, "pads", &i64s(pads));
                match mode {
                    PadMode::Constant => {
                        let v = self.const_scalar(cur, "value", d, *value);
                        self.same(cur, "Pad", vec![ins[0].clone(), p, v], vec![]);
                    }
                    PadMode::Reflect | PadMode::Edge => {
                        let m = if *mode == PadMode::Reflect {
                            "reflect"
                        } else {
                            "edge"
                        };
                        self.same(cur, "Pad", vec![ins[0].clone(), p], vec![a_str("mode", m)]);
                    }
                }
            }
            Op::Trilu { upper, diagonal } => {
                self.need_inputs(cur, 1, 1)?;
                let x = self.in_info(cur, 0)?;
                if opset >= 14 {
                    let k = self.const_i64_scalar(cur, "k", *diagonal);
                    self.same(
                        cur,
                        "Trilu",
                        vec![ins[0].clone(), k],
                        vec![a_int("upper", i64::from(*upper))],
                    );
                } else {
                    // Trilu arrived in opset 14: a constant mask keeps the
                    // triangle, Where zeroes the rest.
                    let (h, w) = (x.shape[x.rank() - 2], x.shape[x.rank() - 1]);
                    let (k, up) = (*diagonal, *upper);
                    let mask = HostTensor::from_fn(DType::Bool, &[h, w], |i| {
                        let d = (i % w) as i64 - (i / w) as i64;
                        f64::from(u8::from(if up { d >= k } else { d <= k }))
                    });
                    let mask = self.const_tensor(cur, "mask", mask);
                    let zero = self.const_scalar(cur, "zero", x.dtype, 0.0);
                    self.same(cur, "Where", vec![mask, ins[0].clone(), zero], vec![]);
                }
            }
            Op::OneHot { depth } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.const_i64_scalar(cur, "depth", *depth as i64);
                let v = self.const_i64(cur, "values", &[0, 1]);
                self.same(
                    cur,
                    "OneHot",
                    vec![ins[0].clone(), d, v],
                    vec![a_int("axis", -1)],
                );
            }
            Op::DepthToSpace { block } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "DepthToSpace",
                    ins,
                    vec![a_int("blocksize", *block as i64), a_str("mode", "CRD")],
                );
            }
            Op::Tile { repeats } => {
                self.need_inputs(cur, 1, 1)?;
                let r = self.const_i64(cur, "repeats", &i64s(repeats));
                self.same(cur, "Tile", vec![ins[0].clone(), r], vec![]);
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

    /// A 0-d int64 initializer (Trilu's k, OneHot's depth).
    pub(super) fn const_i64_scalar(&mut self, cur: &Cur, suffix: &str, v: i64) -> String {
        let name = self.fresh(cur, suffix);
        let t = HostTensor {
            dtype: DType::Int64,
            shape: vec![],
            data: v.to_le_bytes().to_vec(),
        };
        self.consts.push(tensor_into_proto(&name, t));
        name
    }

    /// Any tensor as an initializer.
    pub(super) fn const_tensor(&mut self, cur: &Cur, suffix: &str, t: HostTensor) -> String {
        let name = self.fresh(cur, suffix);
        self.consts.push(tensor_into_proto(&name, t));
        name
    }
}
