//! Shape and dtype inference of the elementwise family: Elementwise ops: arithmetic, comparisons, math, activations, where, cast.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow => {
            arity(op, ins, 2, 2)?;
            if !matches!(o, Op::Pow) {
                same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            }
            if ins[0].dtype == DType::Bool {
                return err(
                    op,
                    "arithmetic on bool tensors is not defined: choose values with where(mask, a, b), \
                     combine masks with & | ^, or make 0/1 numbers with .cast(\"float32\")",
                );
            }
            one(TypeInfo::new(
                broadcast(op, &ins[0].shape, &ins[1].shape)?,
                ins[0].dtype,
            ))
        }
        Op::Equal
        | Op::Less
        | Op::Greater
        | Op::NotEqual
        | Op::GreaterOrEqual
        | Op::LessOrEqual => {
            arity(op, ins, 2, 2)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            let ordered = !matches!(o, Op::Equal | Op::NotEqual);
            if ordered && ins[0].dtype == DType::Bool {
                return err(
                    op,
                    "bool tensors are not ordered: compare them with == or !=",
                );
            }
            one(TypeInfo::new(
                broadcast(op, &ins[0].shape, &ins[1].shape)?,
                DType::Bool,
            ))
        }
        Op::And | Op::Or | Op::Xor | Op::Not => {
            let n = if matches!(o, Op::Not) { 1 } else { 2 };
            arity(op, ins, n, n)?;
            for t in ins {
                if t.dtype != DType::Bool {
                    return err(
                        op,
                        format!(
                            "logical ops take bool tensors, got {} (compare first, e.g. x > 0, or cast with .cast(\"bool\"))",
                            t.dtype
                        ),
                    );
                }
            }
            let shape = if n == 1 {
                ins[0].shape.clone()
            } else {
                broadcast(op, &ins[0].shape, &ins[1].shape)?
            };
            one(TypeInfo::new(shape, DType::Bool))
        }
        Op::Sqrt
        | Op::Exp
        | Op::Log
        | Op::Erf
        | Op::Gelu
        | Op::Silu
        | Op::Sigmoid
        | Op::Tanh
        | Op::HardSwish
        | Op::HardSigmoid => {
            arity(op, ins, 1, 1)?;
            need_float(op, ins[0].dtype)?;
            one(ins[0].clone())
        }
        Op::Neg | Op::Abs | Op::Relu | Op::Clip { .. } => {
            arity(op, ins, 1, 1)?;
            if ins[0].dtype == DType::Bool {
                return err(op, "not defined on bool tensors");
            }
            // A fractional bound would be truncated in an integer tensor's
            // type and clip at another value.
            if let Op::Clip { min, max } = o
                && ins[0].dtype.is_int()
                && let Some(b) = [min, max].into_iter().flatten().find(|b| b.fract() != 0.0)
            {
                return err(
                    op,
                    format!(
                        "bound {b} is not an integer but the input is {}: cast it to a float \
                         dtype first",
                        ins[0].dtype
                    ),
                );
            }
            one(ins[0].clone())
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            arity(op, ins, 1, 1)?;
            need_float(op, ins[0].dtype)?;
            check_axes(op, &[*axis], ins[0].rank())?;
            one(ins[0].clone())
        }
        Op::Where => {
            arity(op, ins, 3, 3)?;
            if ins[0].dtype != DType::Bool {
                return err(op, format!("condition must be bool, got {}", ins[0].dtype));
            }
            same_dtype(op, ins[1].dtype, ins[2].dtype)?;
            let s = broadcast(op, &ins[0].shape, &ins[1].shape)?;
            one(TypeInfo::new(
                broadcast(op, &s, &ins[2].shape)?,
                ins[1].dtype,
            ))
        }
        Op::Cast { to } => {
            arity(op, ins, 1, 1)?;
            one(TypeInfo::new(ins[0].shape.clone(), *to))
        }
        Op::Dropout { .. } | Op::Identity => {
            arity(op, ins, 1, 1)?;
            one(ins[0].clone())
        }
        // ---- math and activations (issue #15) ----
        Op::Sin
        | Op::Cos
        | Op::Tan
        | Op::Reciprocal
        | Op::Floor
        | Op::Ceil
        | Op::Round
        | Op::Softplus { .. }
        | Op::Elu { .. }
        | Op::Selu
        | Op::Mish
        | Op::Softsign => {
            arity(op, ins, 1, 1)?;
            need_float(op, ins[0].dtype)?;
            one(ins[0].clone())
        }
        Op::Sign => {
            arity(op, ins, 1, 1)?;
            if ins[0].dtype == DType::Bool {
                return err(op, "not defined on bool tensors");
            }
            one(ins[0].clone())
        }
        Op::Min | Op::Max => {
            arity(op, ins, 2, 2)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            if ins[0].dtype == DType::Bool {
                return err(
                    op,
                    "not defined on bool tensors; use logical_and / logical_or",
                );
            }
            one(TypeInfo::new(
                broadcast(op, &ins[0].shape, &ins[1].shape)?,
                ins[0].dtype,
            ))
        }
        Op::PRelu => {
            arity(op, ins, 2, 2)?;
            need_float(op, ins[0].dtype)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            if broadcast(op, &ins[0].shape, &ins[1].shape)? != ins[0].shape {
                return err(
                    op,
                    format!(
                        "the slope {} does not broadcast to the input {}",
                        shape_str(&ins[1].shape),
                        shape_str(&ins[0].shape)
                    ),
                );
            }
            one(ins[0].clone())
        }
        other => unreachable!("{other:?} is not in the elementwise family"),
    }
}
