//! Shape and dtype inference of the conv family: Convolutions, pools and resizing over [N, C, spatial...] tensors.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            group,
        } => {
            arity(op, ins, 2, 3)?;
            let (x, w) = (ins[0], ins[1]);
            let sp = check_spatial(op, x, kernel, strides, pads)?;
            same_dtype(op, x.dtype, w.dtype)?;
            let cin = x.shape[1];
            if *group == 0 || cin % group != 0 {
                return err(
                    op,
                    format!("{cin} input channels are not divisible by groups={group}"),
                );
            }
            if w.rank() != sp + 2 || w.shape[1] * group != cin || w.shape[2..] != kernel[..] {
                return err(
                    op,
                    format!(
                        "input has {cin} channels but the weight {} expects {} (input {})",
                        shape_str(&w.shape),
                        w.shape.get(1).copied().unwrap_or(0) * group,
                        shape_str(&x.shape)
                    ),
                );
            }
            let cout = w.shape[0];
            if let Some(b) = ins.get(2)
                && b.shape != [cout]
            {
                return err(op, "bias must have one value per output channel");
            }
            let mut out = vec![x.shape[0], cout];
            for i in 0..sp {
                out.push(window_out(
                    op,
                    x.shape[2 + i],
                    kernel[i],
                    strides[i],
                    pads[i],
                    pads[sp + i],
                    dilations[i],
                    false,
                )?);
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::ConvTranspose {
            kernel,
            strides,
            pads,
            output_padding,
            dilations,
            group,
        } => {
            arity(op, ins, 2, 3)?;
            let (x, w) = (ins[0], ins[1]);
            let sp = check_spatial(op, x, kernel, strides, pads)?;
            same_dtype(op, x.dtype, w.dtype)?;
            let cin = x.shape[1];
            if w.rank() != sp + 2 || w.shape[0] != cin || w.shape[2..] != kernel[..] {
                return err(
                    op,
                    format!(
                        "input has {cin} channels but the weight {} expects {}",
                        shape_str(&w.shape),
                        w.shape.first().copied().unwrap_or(0)
                    ),
                );
            }
            let cout = w.shape[1] * group;
            let mut out = vec![x.shape[0], cout];
            for i in 0..sp {
                let full = (x.shape[2 + i] - 1) * strides[i]
                    + dilations[i] * (kernel[i] - 1)
                    + output_padding[i]
                    + 1;
                let cut = pads[i] + pads[sp + i];
                if full <= cut {
                    return err(op, "padding removes the whole output");
                }
                out.push(full - cut);
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        }
        | Op::AvgPool {
            kernel,
            strides,
            pads,
            ceil_mode,
            ..
        } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let sp = check_spatial(op, x, kernel, strides, pads)?;
            for i in 0..sp {
                if pads[i] > kernel[i] / 2 || pads[sp + i] > kernel[i] / 2 {
                    return err(op, "padding must be at most half the kernel size");
                }
            }
            let mut out = vec![x.shape[0], x.shape[1]];
            for i in 0..sp {
                out.push(window_out(
                    op,
                    x.shape[2 + i],
                    kernel[i],
                    strides[i],
                    pads[i],
                    pads[sp + i],
                    1,
                    *ceil_mode,
                )?);
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::GlobalAvgPool => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if x.rank() < 3 {
                return err(
                    op,
                    format!("expects [N, C, d...], got {}", shape_str(&x.shape)),
                );
            }
            let mut out = x.shape[..2].to_vec();
            out.extend(std::iter::repeat_n(1, x.rank() - 2));
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Resize { scales, .. } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            if scales.len() != x.rank() {
                return err(
                    op,
                    format!("needs {} scales, got {}", x.rank(), scales.len()),
                );
            }
            let out: Vec<usize> = x
                .shape
                .iter()
                .zip(scales)
                .map(|(&d, &s)| (d as f64 * s).floor() as usize)
                .collect();
            if out.contains(&0) {
                return err(op, "a scale makes an axis empty");
            }
            one(TypeInfo::new(out, x.dtype))
        }
        Op::Interpolate {
            sizes,
            scales,
            mode,
            align_corners,
        } => {
            arity(op, ins, 1, 1)?;
            let x = ins[0];
            let sp = sizes.len();
            need_float(op, x.dtype)?;
            if sp == 0 || x.rank() != sp + 2 {
                return err(
                    op,
                    format!(
                        "{sp} output sizes for input {}: give one per axis after [N, C]",
                        shape_str(&x.shape)
                    ),
                );
            }
            if sizes.contains(&0) {
                return err(op, "output sizes must be at least 1");
            }
            if *align_corners && matches!(mode, InterpMode::Nearest | InterpMode::NearestExact) {
                return err(op, "align_corners applies to linear and cubic modes only");
            }
            if let Some(sc) = scales {
                for (i, (&s, &out)) in sc.iter().zip(sizes).enumerate() {
                    let want = (x.shape[2 + i] as f64 * s).floor();
                    if sc.len() != sp
                        || s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                        || want != out as f64
                    {
                        return err(
                            op,
                            format!(
                                "scale {s} of axis {} gives floor({} * {s}) = {want}, not the output size {out}",
                                2 + i,
                                x.shape[2 + i]
                            ),
                        );
                    }
                }
            }
            let mut out = x.shape[..2].to_vec();
            out.extend(sizes);
            one(TypeInfo::new(out, x.dtype))
        }
        other => unreachable!("{other:?} is not in the conv family"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolate_sizes_agree_with_their_scales() {
        let x = TypeInfo::new(vec![1, 2, 5, 6], DType::Float32);
        let op = |sizes: &[usize], scales: Option<&[f64]>, mode, align_corners| Op::Interpolate {
            sizes: sizes.to_vec(),
            scales: scales.map(<[f64]>::to_vec),
            mode,
            align_corners,
        };
        let ok = op(&[8, 10], Some(&[1.7, 1.7]), InterpMode::Linear, false);
        assert_eq!(ok.infer(&[&x]).unwrap()[0].shape, [1, 2, 8, 10]);
        let e = op(&[9, 10], Some(&[1.7, 1.7]), InterpMode::Linear, false)
            .infer(&[&x])
            .unwrap_err();
        assert!(e.msg.contains("not the output size 9"), "{e}");
        let e = op(&[9, 10], None, InterpMode::Nearest, true)
            .infer(&[&x])
            .unwrap_err();
        assert!(e.msg.contains("align_corners"), "{e}");
        let e = op(&[9], None, InterpMode::Nearest, false)
            .infer(&[&x])
            .unwrap_err();
        assert!(e.msg.contains("give one per axis"), "{e}");
        let ints = TypeInfo::new(vec![1, 2, 5, 6], DType::Int64);
        assert!(
            op(&[9, 10], None, InterpMode::Nearest, false)
                .infer(&[&ints])
                .is_err()
        );
        // FLOPs: a copy per element for nearest, a multiply-add per tap else.
        let out = ok.infer(&[&x]).unwrap();
        assert_eq!(ok.flops(&[&x], &out), 2 * 160 * 4);
    }
}
