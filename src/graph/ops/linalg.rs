//! Shape and dtype inference of the linalg family: Matrix products.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::MatMul => {
            arity(op, ins, 2, 2)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            let (a, b) = (&ins[0].shape, &ins[1].shape);
            if a.is_empty() || b.is_empty() {
                return err(op, "operands must have rank >= 1");
            }
            let a2: Vec<usize> = if a.len() == 1 {
                vec![1, a[0]]
            } else {
                a.clone()
            };
            let b2: Vec<usize> = if b.len() == 1 {
                vec![b[0], 1]
            } else {
                b.clone()
            };
            let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
            let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
            if k != k2 {
                return err(
                    op,
                    format!(
                        "shapes {} and {} are not aligned: {k} (last dim of the first) != {k2} (second-to-last of the second)",
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let mut out = broadcast(op, &a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
            if a.len() > 1 {
                out.push(m);
            }
            if b.len() > 1 {
                out.push(n);
            }
            one(TypeInfo::new(out, ins[0].dtype))
        }
        Op::Gemm { trans_b } => {
            arity(op, ins, 2, 3)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            let (a, b) = (&ins[0].shape, &ins[1].shape);
            if a.len() != 2 || b.len() != 2 {
                return err(
                    op,
                    format!(
                        "needs 2-D operands, got {} and {}",
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let (kb, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
            if a[1] != kb {
                return err(
                    op,
                    format!(
                        "input has {} features but the weight expects {kb} (shapes {} and {})",
                        a[1],
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let out = vec![a[0], n];
            if let Some(c) = ins.get(2) {
                same_dtype(op, ins[0].dtype, c.dtype)?;
                let bc = broadcast(op, &c.shape, &out)?;
                if bc != out {
                    return err(op, "bias does not broadcast to the output");
                }
            }
            one(TypeInfo::new(out, ins[0].dtype))
        }
        other => unreachable!("{other:?} is not in the linalg family"),
    }
}
