//! Shape and dtype inference of the shape family: Shape and indexing ops.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::Pad { pads, .. } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if pads.len() != 2 * x.rank() {
                return err(
                    op,
                    format!(
                        "needs {} pads (begins then ends), got {}",
                        2 * x.rank(),
                        pads.len()
                    ),
                );
            }
            let r = x.rank();
            let out = (0..r).map(|i| x.shape[i] + pads[i] + pads[r + i]).collect();
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Reshape { shape } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let n: usize = shape.iter().product();
            if n as u64 != x.numel() {
                return err(
                    op,
                    format!(
                        "cannot reshape {} ({} elements) into {} ({n} elements)",
                        shape_str(&x.shape),
                        x.numel(),
                        shape_str(shape)
                    ),
                );
            }
            one(TypeInfo::new(shape.clone(), x.dtype))
        }
        Op::Flatten { axis } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if *axis > x.rank() {
                return err(
                    op,
                    format!("axis {axis} is out of range for rank {}", x.rank()),
                );
            }
            let a: usize = x.shape[..*axis].iter().product();
            let b: usize = x.shape[*axis..].iter().product();
            one(TypeInfo::new(vec![a, b], x.dtype))
        }
        Op::Transpose { perm } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let mut seen = perm.clone();
            seen.sort_unstable();
            if seen != (0..x.rank()).collect::<Vec<_>>() {
                return err(
                    op,
                    format!(
                        "{perm:?} is not a permutation of the {} axes of {}",
                        x.rank(),
                        shape_str(&x.shape)
                    ),
                );
            }
            one(TypeInfo::new(
                perm.iter().map(|&p| x.shape[p]).collect(),
                x.dtype,
            ))
        }
        Op::Squeeze { axes } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            check_axes(op, axes, x.rank())?;
            for &a in axes {
                if x.shape[a] != 1 {
                    return err(op, format!("axis {a} has size {}, not 1", x.shape[a]));
                }
            }
            let out = x
                .shape
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect();
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Unsqueeze { axes } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let r = x.rank() + axes.len();
            check_axes(op, axes, r)?;
            let mut out = Vec::with_capacity(r);
            let mut it = x.shape.iter();
            for i in 0..r {
                if axes.contains(&i) {
                    out.push(1);
                } else {
                    out.push(*it.next().unwrap());
                }
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Concat { axis } => {
            if ins.is_empty() {
                return err(op, "needs at least one input");
            }
            let first = ins[0];
            check_axes(op, &[*axis], first.rank())?;
            let mut out = first.shape.clone();
            for t in &ins[1..] {
                same_dtype(op, first.dtype, t.dtype)?;
                let ok = t.rank() == first.rank()
                    && (0..t.rank()).all(|i| i == *axis || t.shape[i] == first.shape[i]);
                if !ok {
                    return err(
                        op,
                        format!(
                            "shapes {} and {} differ outside axis {axis}",
                            shape_str(&first.shape),
                            shape_str(&t.shape)
                        ),
                    );
                }
                out[*axis] += t.shape[*axis];
            }
            one(TypeInfo::new(out, first.dtype))
        }
        Op::Split { axis, sizes } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            check_axes(op, &[*axis], x.rank())?;
            let total: usize = sizes.iter().sum();
            if total != x.shape[*axis] || sizes.contains(&0) {
                return err(
                    op,
                    format!(
                        "sizes {sizes:?} do not add up to axis {axis} of {}",
                        shape_str(&x.shape)
                    ),
                );
            }
            Ok(sizes
                .iter()
                .map(|&s| {
                    let mut sh = x.shape.clone();
                    sh[*axis] = s;
                    TypeInfo::new(sh, x.dtype)
                })
                .collect())
        }
        Op::Slice {
            starts,
            ends,
            axes,
            steps,
        } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            check_axes(op, axes, x.rank())?;
            if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
                return err(op, "starts, ends, axes and steps must have the same length");
            }
            let mut out = x.shape.clone();
            for (i, &a) in axes.iter().enumerate() {
                out[a] = slice_len(x.shape[a], starts[i], ends[i], steps[i]).ok_or_else(|| {
                    GraphError {
                        op,
                        msg: "step must not be 0".into(),
                    }
                })?;
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Gather { axis } => {
            arity(op, ins, 2, 2)?;
            let (data, idx) = (ins[0], ins[1]);
            check_axes(op, &[*axis], data.rank())?;
            if !matches!(idx.dtype, DType::Int64 | DType::Int32) {
                return err(
                    op,
                    format!("indices must be int64 or int32, got {}", idx.dtype),
                );
            }
            let mut out = data.shape[..*axis].to_vec();
            out.extend_from_slice(&idx.shape);
            out.extend_from_slice(&data.shape[*axis + 1..]);
            one(TypeInfo::new(out, data.dtype))
        }
        Op::Expand { shape } => {
            arity(op, ins, 1, 1)?;
            let out = broadcast(op, &ins[0].shape, shape)?;
            one(TypeInfo::new(out, ins[0].dtype))
        }
        other => unreachable!("{other:?} is not in the shape family"),
    }
}
