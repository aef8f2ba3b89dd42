//! ONNX lowering of the elementwise family: Elementwise ops.

#[allow(unused_imports)]
use super::*;
use crate::graph::ops::{SELU_ALPHA, SELU_SCALE};

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
            | Op::Greater => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
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
            // ---- math and activations (issue #15) ----
            Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Reciprocal
            | Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::Sign
            | Op::Softsign => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::Min | Op::Max | Op::PRelu => {
                self.need_inputs(cur, 2, 2)?;
                self.same(cur, cur.node.op.kind(), ins, vec![]);
            }
            Op::Elu { alpha } => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "Elu", ins, vec![a_float("alpha", *alpha)]);
            }
            Op::Selu => {
                // PyTorch's constants (ONNX's defaults are their float32 roundings).
                self.need_inputs(cur, 1, 1)?;
                self.same(
                    cur,
                    "Selu",
                    ins,
                    vec![a_float("alpha", SELU_ALPHA), a_float("gamma", SELU_SCALE)],
                );
            }
            Op::Mish => {
                self.need_inputs(cur, 1, 1)?;
                if opset >= 18 {
                    self.same(cur, "Mish", ins, vec![]);
                } else {
                    let sp = self.step(cur, "Softplus", vec![ins[0].clone()]);
                    let t = self.step(cur, "Tanh", vec![sp]);
                    self.same(cur, "Mul", vec![ins[0].clone(), t], vec![]);
                }
            }
            Op::Softplus { beta, threshold } => {
                // torch.onnx writes Softplus(beta x) / beta and drops the
                // threshold; the Where keeps PyTorch's linear branch (and
                // keeps runtimes whose Softplus is log(1 + exp(x)) from
                // overflowing to inf for large x).
                self.need_inputs(cur, 1, 1)?;
                let d = self.in_info(cur, 0)?.dtype;
                let x = ins[0].clone();
                let bx = if *beta == 1.0 {
                    x.clone()
                } else {
                    let b = self.const_scalar(cur, "beta", d, *beta);
                    self.step(cur, "Mul", vec![x.clone(), b])
                };
                let mut y = self.step(cur, "Softplus", vec![bx.clone()]);
                if *beta != 1.0 {
                    let b = self.const_scalar(cur, "beta", d, *beta);
                    y = self.step(cur, "Div", vec![y, b]);
                }
                let t = self.const_scalar(cur, "threshold", d, *threshold);
                let linear = self.step(cur, "Greater", vec![bx, t]);
                self.same(cur, "Where", vec![linear, x, y], vec![]);
            }
            other => unreachable!("{other:?} is not in the elementwise family"),
        }
        Ok(())
    }
}
