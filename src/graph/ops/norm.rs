//! Shape and dtype inference of the norm family: Normalizations.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::LayerNorm { axis, .. } => {
            arity(op, ins, 2, 3)?;
            let x = ins[0];
            need_float(op, x.dtype)?;
            check_axes(op, &[*axis], x.rank())?;
            let norm = &x.shape[*axis..];
            for p in &ins[1..] {
                if p.shape != norm {
                    return err(
                        op,
                        format!(
                            "normalized shape {} does not match the input's trailing dims {} (input {})",
                            shape_str(&p.shape),
                            shape_str(norm),
                            shape_str(&x.shape)
                        ),
                    );
                }
                same_dtype(op, x.dtype, p.dtype)?;
            }
            one(x.clone())
        }
        Op::BatchNorm { .. } => {
            arity(op, ins, 5, 5)?;
            let x = ins[0];
            need_float(op, x.dtype)?;
            if x.rank() < 2 {
                return err(
                    op,
                    format!("expects [N, C, ...], got {}", shape_str(&x.shape)),
                );
            }
            let c = x.shape[1];
            for p in &ins[1..] {
                if p.shape != [c] {
                    return err(
                        op,
                        format!(
                            "input has {c} channels but the layer has {} (input {})",
                            shape_str(&p.shape),
                            shape_str(&x.shape)
                        ),
                    );
                }
            }
            one(x.clone())
        }
        Op::GroupNorm { groups, .. } => {
            arity(op, ins, 3, 3)?;
            let x = ins[0];
            need_float(op, x.dtype)?;
            if x.rank() < 2 {
                return err(
                    op,
                    format!("expects [N, C, ...], got {}", shape_str(&x.shape)),
                );
            }
            let c = x.shape[1];
            if *groups == 0 || !c.is_multiple_of(*groups) {
                return err(
                    op,
                    format!(
                        "{c} channels (input {}) are not divisible by num_groups={groups}",
                        shape_str(&x.shape)
                    ),
                );
            }
            channel_params(op, x, &ins[1..])?;
            one(x.clone())
        }
        Op::InstanceNorm { .. } => {
            arity(op, ins, 3, 3)?;
            let x = ins[0];
            need_float(op, x.dtype)?;
            if x.rank() < 3 {
                return err(
                    op,
                    format!(
                        "expects [N, C, d...] with at least one spatial dim, got {}",
                        shape_str(&x.shape)
                    ),
                );
            }
            channel_params(op, x, &ins[1..])?;
            one(x.clone())
        }
        other => unreachable!("{other:?} is not in the norm family"),
    }
}

/// Per-channel weight and bias: [C] each, of the input's dtype.
fn channel_params(op: &'static str, x: &TypeInfo, params: &[&TypeInfo]) -> Result<(), GraphError> {
    let c = x.shape[1];
    for p in params {
        if p.shape != [c] {
            return err(
                op,
                format!(
                    "input has {c} channels but weight/bias have shape {} (input {})",
                    shape_str(&p.shape),
                    shape_str(&x.shape)
                ),
            );
        }
        same_dtype(op, x.dtype, p.dtype)?;
    }
    Ok(())
}
