//! Shape and dtype inference of the reduce family: Reductions.

#[allow(unused_imports)]
use super::*;

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
        other => unreachable!("{other:?} is not in the reduce family"),
    }
}
