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
        let bools = self.in_info(cur, 0).is_ok_and(|i| i.dtype == DType::Bool);
        match &cur.node.op {
            // tract's Equal compares numbers only: on bools, a != b is Xor
            // and a == b its Not (the same truth table).
            Op::Equal | Op::NotEqual if bools => {
                self.need_inputs(cur, 2, 2)?;
                if cur.node.op == Op::NotEqual {
                    self.same(cur, "Xor", ins, vec![]);
                } else {
                    let x = self.step(cur, "Xor", ins);
                    self.same(cur, "Not", vec![x], vec![]);
                }
            }
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
            // ---- math and activations (issue #15) ----
            Op::Sin
            | Op::Cos
            | Op::Tan
            | Op::Reciprocal
            | Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::Sign
            | Op::Min
            | Op::Max
            | Op::Softplus { .. }
            | Op::Elu { .. }
            | Op::Selu
            | Op::Mish
            | Op::Softsign
            | Op::PRelu => self.lower_math(cur)?,
            other => unreachable!("{other:?} is not in the elementwise family"),
        }
        Ok(())
    }
}

impl Lowering<'_> {
    /// The math ops of issue #15. Those whose ONNX schema has no bfloat16
    /// before opset 22 (Sin, Round, Softplus, ...) compute a bfloat16 input
    /// in float32 between two Casts, as PyTorch's CPU kernels do.
    fn lower_math(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        let op = &cur.node.op;
        let n = if matches!(op, Op::Min | Op::Max | Op::PRelu) {
            2
        } else {
            1
        };
        self.need_inputs(cur, n, n)?;
        let d = self.in_info(cur, 0)?.dtype;
        let no_bf16 = match op {
            Op::PRelu => self.opset < 16,
            Op::Reciprocal | Op::Floor | Op::Ceil | Op::Sign | Op::Min | Op::Max => false,
            _ => true,
        };
        if d != DType::Bfloat16 || !no_bf16 {
            self.math_body(cur, cur.ins.clone(), d, true);
            return Ok(());
        }
        let to = |t: DType| vec![a_int("to", dtype_to_onnx(t) as i64)];
        let mut wide = Vec::with_capacity(n);
        for x in cur.ins.clone() {
            let w = self.fresh(cur, "Cast_out");
            self.emit(
                cur,
                "Cast",
                vec![x],
                vec![w.clone()],
                to(DType::Float32),
                false,
            );
            wide.push(w);
        }
        let y = self.math_body(cur, wide, DType::Float32, false);
        self.same(cur, "Cast", vec![y], to(DType::Bfloat16));
        Ok(())
    }

    /// The nodes of one math op over `ins` (of dtype `d`); the last writes
    /// the IR node's output when `main`, else a fresh value. Returns the
    /// name of the value written.
    fn math_body(&mut self, cur: &Cur, ins: Vec<String>, d: DType, main: bool) -> String {
        let x = ins[0].clone();
        match &cur.node.op {
            Op::Elu { alpha } => self.finish(cur, "Elu", ins, vec![a_float("alpha", *alpha)], main),
            // PyTorch's constants (ONNX's defaults are their float32 roundings).
            Op::Selu => self.finish(
                cur,
                "Selu",
                ins,
                vec![a_float("alpha", SELU_ALPHA), a_float("gamma", SELU_SCALE)],
                main,
            ),
            Op::Mish if self.opset >= 18 => self.finish(cur, "Mish", ins, vec![], main),
            Op::Mish => {
                let sp = self.step(cur, "Softplus", vec![x.clone()]);
                let t = self.step(cur, "Tanh", vec![sp]);
                self.finish(cur, "Mul", vec![x, t], vec![], main)
            }
            Op::Softplus { beta, threshold } => {
                // torch.onnx writes Softplus(beta x) / beta and drops the
                // threshold; the Where keeps PyTorch's linear branch (and
                // keeps runtimes whose Softplus is log(1 + exp(x)) from
                // overflowing to inf for large x).
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
                self.finish(cur, "Where", vec![linear, x, y], vec![], main)
            }
            // Sin..Sign, Min, Max, Softsign, PRelu: one node of the same name.
            op => self.finish(cur, op.kind(), ins, vec![], main),
        }
    }

    /// The last node of a lowering: into the IR node's output (`main`) or
    /// a fresh value; returns the value's name.
    fn finish(
        &mut self,
        cur: &Cur,
        op_type: &str,
        input: Vec<String>,
        attrs: Vec<AttributeProto>,
        main: bool,
    ) -> String {
        if main {
            self.same(cur, op_type, input, attrs);
            return cur.outs[0].clone();
        }
        let out = self.fresh(cur, &format!("{op_type}_out"));
        self.emit(cur, op_type, input, vec![out.clone()], attrs, false);
        out
    }
}
