//! ONNX lowering of the elementwise family: Elementwise ops.

#[allow(unused_imports)]
use super::*;

impl Lowering<'_> {
    pub(super) fn lower_elementwise(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Pow
            | Op::Equal
            | Op::Less
            | Op::Greater
            | Op::GreaterOrEqual
            | Op::LessOrEqual
            | Op::And
            | Op::Or
            | Op::Xor => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::NotEqual => {
                self.need_inputs(cur, 2, 2)?;
                let eq = self.step(cur, "Equal", ins);
                self.same(cur, "Not", vec![eq], vec![]);
            }
            Op::Not => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Not", ins, vec![]);
            }
            Op::Where => {
                self.need_inputs(cur, 3, 3)?;
                self.same(cur, "Where", ins, vec![]);
            }
            Op::Sqrt
            | Op::Exp
            | Op::Log
            | Op::Neg
            | Op::Abs
            | Op::Erf
            | Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Identity => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::Gelu => {
                self.need_inputs(cur, 1, 1)?;
                if opset >= 20 {
                    self.same(cur, "Gelu", ins, vec![]);
                } else {
                    // 0.5 * x * (1 + erf(x / sqrt(2))), as torch.onnx writes it.
                    let d = self.in_info(cur, 0)?.dtype;
                    let x = ins[0].clone();
                    let sqrt2 = self.const_scalar(cur, "sqrt2", d, std::f64::consts::SQRT_2);
                    let one = self.const_scalar(cur, "one", d, 1.0);
                    let half = self.const_scalar(cur, "half", d, 0.5);
                    let t = self.step(cur, "Div", vec![x.clone(), sqrt2]);
                    let t = self.step(cur, "Erf", vec![t]);
                    let t = self.step(cur, "Add", vec![t, one]);
                    let t = self.step(cur, "Mul", vec![x, t]);
                    self.same(cur, "Mul", vec![t, half], vec![]);
                }
            }
            Op::Silu => {
                self.need_inputs(cur, 1, 1)?;
                let s = self.step(cur, "Sigmoid", vec![ins[0].clone()]);
                self.same(cur, "Mul", vec![ins[0].clone(), s], vec![]);
            }
            Op::HardSwish => {
                self.need_inputs(cur, 1, 1)?;
                if opset >= 14 {
                    self.same(cur, "HardSwish", ins, vec![]);
                } else {
                    // x * HardSigmoid(x) with HardSwish's alpha = 1/6, beta = 0.5.
                    let out = self.fresh(cur, "HardSigmoid_out");
                    self.emit(
                        cur,
                        "HardSigmoid",
                        vec![ins[0].clone()],
                        vec![out.clone()],
                        vec![a_float("alpha", 1.0 / 6.0), a_float("beta", 0.5)],
                        false,
                    );
                    self.same(cur, "Mul", vec![ins[0].clone(), out], vec![]);
                }
            }
            Op::HardSigmoid => {
                // PyTorch's hardsigmoid, relu6(x + 3) / 6 (ONNX's default
                // alpha is 0.2, Keras's).
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "HardSigmoid",
                    ins,
                    vec![a_float("alpha", 1.0 / 6.0), a_float("beta", 0.5)],
                );
            }
            Op::Clip { min, max } => {
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let mut input = vec![ins[0].clone()];
                input.push(match min {
                    Some(v) => self.const_scalar(cur, "min", d, *v),
                    None => String::new(),
                });
                if let Some(v) = max {
                    input.push(self.const_scalar(cur, "max", d, *v));
                }
                self.same(cur, "Clip", input, vec![]);
            }
            Op::Softmax { axis } | Op::LogSoftmax { axis } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    cur.node.op.kind(),
                    ins,
                    vec![a_int("axis", *axis as i64)],
                );
            }
            Op::Cast { to } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "Cast",
                    ins,
                    vec![a_int("to", dtype_to_onnx(*to) as i64)],
                );
            }
            Op::Dropout { ratio } => {
                // Kept as a node so the graph mirrors the model; without a
                // training_mode input it is the identity (ORT and tract).
                self.need_inputs(cur, 1, 1)?;
                let r = self.const_scalar(cur, "ratio", DType::Float32, *ratio);
                self.same(cur, "Dropout", vec![ins[0].clone(), r], vec![]);
            }
            other => unreachable!("{other:?} is not in the elementwise family"),
        }
        Ok(())
    }
}
