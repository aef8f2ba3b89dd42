//! Shape and dtype inference of the reduce family: Reductions.

#[allow(unused_imports)]
use super::*;

fn no_bool(op: &'static str, d: DType) -> Result<(), GraphError> {
    if d == DType::Bool {
        return err(op, "not defined on bool tensors; cast to int64 first");
    }
    Ok(())
}

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::ReduceMean { axes, keepdims }
        | Op::ReduceSum { axes, keepdims }
        | Op::ReduceMax { axes, keepdims } => {
            arity(op, ins, 1, 1)?;
            check_axes(op, axes, ins[0].rank())?;
            one(TypeInfo::new(
                reduce_shape(&ins[0].shape, axes, *keepdims),
                ins[0].dtype,
            ))
        }
        // ---- issue #15 ----
        Op::ReduceMin { axes, keepdims }
        | Op::ReduceProd { axes, keepdims }
        | Op::ReduceL1 { axes, keepdims }
        | Op::ReduceL2 { axes, keepdims } => {
            arity(op, ins, 1, 1)?;
            check_axes(op, axes, ins[0].rank())?;
            no_bool(op, ins[0].dtype)?;
            one(TypeInfo::new(
                reduce_shape(&ins[0].shape, axes, *keepdims),
                ins[0].dtype,
            ))
        }
        Op::ArgMax { axis, keepdims } | Op::ArgMin { axis, keepdims } => {
            arity(op, ins, 1, 1)?;
            check_axes(op, &[*axis], ins[0].rank())?;
            no_bool(op, ins[0].dtype)?;
            one(TypeInfo::new(
                reduce_shape(&ins[0].shape, &[*axis], *keepdims),
                DType::Int64,
            ))
        }
        Op::TopK { k, axis, .. } => {
            arity(op, ins, 1, 1)?;
            check_axes(op, &[*axis], ins[0].rank())?;
            no_bool(op, ins[0].dtype)?;
            let n = ins[0].shape[*axis];
            if *k < 1 || *k > n {
                return err(
                    op,
                    format!("k = {k} is not in 1..={n}, the size of dim {axis}"),
                );
            }
            let mut shape = ins[0].shape.clone();
            shape[*axis] = *k;
            Ok(vec![
                TypeInfo::new(shape.clone(), ins[0].dtype),
                TypeInfo::new(shape, DType::Int64),
            ])
        }
        Op::CumSum { axis } => {
            arity(op, ins, 1, 1)?;
            check_axes(op, &[*axis], ins[0].rank())?;
            let d = ins[0].dtype;
            let ok = matches!(
                d,
                DType::Float32
                    | DType::Float16
                    | DType::Bfloat16
                    | DType::Float64
                    | DType::Int32
                    | DType::Int64
                    | DType::Uint32
                    | DType::Uint64
            );
            if !ok {
                return err(
                    op,
                    format!(
                        "sums float or 32/64-bit integer tensors, got {d}: cast to int64 first"
                    ),
                );
            }
            one(ins[0].clone())
        }
        other => unreachable!("{other:?} is not in the reduce family"),
    }
}
