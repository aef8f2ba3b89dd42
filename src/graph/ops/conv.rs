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
        other => unreachable!("{other:?} is not in the conv family"),
    }
}
