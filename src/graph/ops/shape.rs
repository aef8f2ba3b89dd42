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
        Op::Pad { pads, mode, .. } => {
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
            if *mode == PadMode::Reflect {
                // The mirror excludes the edge: a pad needs that many more cells.
                for i in 0..r {
                    let p = pads[i].max(pads[r + i]);
                    if p >= x.shape[i] {
                        return err(
                            op,
                            format!(
                                "reflect padding of {p} needs axis {i} to be longer than {p}, \
                                 but it has size {} (input {}); pad less or use mode \"replicate\"",
                                x.shape[i],
                                shape_str(&x.shape)
                            ),
                        );
                    }
                }
            }
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
        Op::Trilu { .. } => {
            arity(op, ins, 1, 1)?;
            if ins[0].rank() < 2 {
                return err(
                    op,
                    format!(
                        "needs a tensor of rank >= 2 (a matrix or a batch of them), got {}",
                        shape_str(&ins[0].shape)
                    ),
                );
            }
            one(ins[0].clone())
        }
        Op::OneHot { depth } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if !matches!(x.dtype, DType::Int64 | DType::Int32) {
                return err(
                    op,
                    format!("indices must be int64 or int32, got {}", x.dtype),
                );
            }
            if *depth == 0 {
                return err(op, "num_classes must be at least 1");
            }
            let mut out = x.shape.clone();
            out.push(*depth);
            one(TypeInfo::new(out, DType::Int64))
        }
        Op::DepthToSpace { block } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let b = *block;
            if x.rank() != 4 || b == 0 || !x.shape[1].is_multiple_of(b * b) {
                return err(
                    op,
                    format!(
                        "needs a [N, C, H, W] input whose C is divisible by {b}^2 = {}, got {}",
                        b * b,
                        shape_str(&x.shape)
                    ),
                );
            }
            let s = &x.shape;
            one(TypeInfo::new(
                vec![s[0], s[1] / (b * b), s[2] * b, s[3] * b],
                x.dtype,
            ))
        }
        Op::Tile { repeats } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if repeats.len() != x.rank() || repeats.contains(&0) {
                return err(
                    op,
                    format!(
                        "needs one repeat count >= 1 per axis of {}, got {repeats:?}",
                        shape_str(&x.shape)
                    ),
                );
            }
            let out = x.shape.iter().zip(repeats).map(|(d, r)| d * r).collect();
            one(TypeInfo::new(out, x.dtype))
        }
        other => unreachable!("{other:?} is not in the shape family"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(shape: &[usize]) -> TypeInfo {
        TypeInfo::new(shape.to_vec(), DType::Float32)
    }

    fn shape_of(op: Op, x: TypeInfo) -> Result<Vec<usize>, String> {
        op.infer(&[&x])
            .map(|o| o[0].shape.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn new_shape_ops_infer_shapes_and_refuse_what_they_cannot_do() {
        let d2s = Op::DepthToSpace { block: 2 };
        assert_eq!(
            shape_of(d2s.clone(), ti(&[1, 8, 3, 4])).unwrap(),
            [1, 2, 6, 8]
        );
        assert!(
            shape_of(d2s, ti(&[1, 6, 3, 4]))
                .unwrap_err()
                .contains("divisible by 2^2")
        );
        let tile = Op::Tile {
            repeats: vec![2, 1, 3],
        };
        assert_eq!(shape_of(tile.clone(), ti(&[2, 3, 4])).unwrap(), [4, 3, 12]);
        assert!(
            shape_of(tile, ti(&[2, 3]))
                .unwrap_err()
                .contains("one repeat count")
        );
        let ids = TypeInfo::new(vec![2, 3], DType::Int64);
        let oh = Op::OneHot { depth: 5 }.infer(&[&ids]).unwrap();
        assert_eq!(
            (oh[0].shape.clone(), oh[0].dtype),
            (vec![2, 3, 5], DType::Int64)
        );
        assert!(
            shape_of(Op::OneHot { depth: 5 }, ti(&[2]))
                .unwrap_err()
                .contains("int64")
        );
        let tri = Op::Trilu {
            upper: true,
            diagonal: -1,
        };
        assert_eq!(shape_of(tri.clone(), ti(&[2, 3, 4])).unwrap(), [2, 3, 4]);
        assert!(shape_of(tri, ti(&[4])).unwrap_err().contains("rank >= 2"));
        let reflect = |p: usize| Op::Pad {
            pads: vec![0, p, 0, p],
            value: 0.0,
            mode: PadMode::Reflect,
        };
        assert_eq!(shape_of(reflect(2), ti(&[2, 3])).unwrap(), [2, 7]);
        let e = shape_of(reflect(3), ti(&[2, 3])).unwrap_err();
        assert!(e.contains("reflect padding of 3 needs axis 1"), "{e}");
        // Constant pads serialize as before modes existed: old builds keep their hash.
        let pad = Op::Pad {
            pads: vec![1, 1],
            value: 0.0,
            mode: PadMode::Constant,
        };
        assert_eq!(
            serde_json::to_string(&pad).unwrap(),
            r#"{"Pad":{"pads":[1,1],"value":0.0}}"#
        );
        let back: Op = serde_json::from_str(r#"{"Pad":{"pads":[1,1],"value":0.0}}"#).unwrap();
        assert_eq!(back, pad);
    }
}
