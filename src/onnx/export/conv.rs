//! ONNX lowering of the conv family: Convolutions, pools and resizing.

#[allow(unused_imports)]
use super::*;
use crate::graph::ops::resample::onnx_scale;

impl Lowering<'_> {
    pub(super) fn lower_conv(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        #[allow(unused_variables)]
        let opset = self.opset;
        #[allow(unused_variables)]
        let ins = cur.ins.clone();
        match &cur.node.op {
            Op::Conv {
                kernel,
                strides,
                pads,
                dilations,
                group,
            } => {
                self.need_inputs(cur, 2, 3)?;
                self.same(
                    cur,
                    "Conv",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", pads),
                        a_ints("dilations", dilations),
                        a_int("group", *group as i64),
                    ],
                );
            }
            Op::ConvTranspose {
                kernel,
                strides,
                pads,
                output_padding,
                dilations,
                group,
            } => {
                self.need_inputs(cur, 2, 3)?;
                self.same(
                    cur,
                    "ConvTranspose",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", pads),
                        a_ints("output_padding", output_padding),
                        a_ints("dilations", dilations),
                        a_int("group", *group as i64),
                    ],
                );
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
                ceil_mode,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let (pads, ceil) = self.pool_pads(cur, kernel, strides, pads, *ceil_mode, None)?;
                self.same(
                    cur,
                    "MaxPool",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", &pads),
                        a_int("ceil_mode", i64::from(ceil)),
                    ],
                );
            }
            Op::AvgPool {
                kernel,
                strides,
                pads,
                ceil_mode,
                count_include_pad,
            } => {
                self.need_inputs(cur, 1, 1)?;
                let (pads, ceil) = self.pool_pads(
                    cur,
                    kernel,
                    strides,
                    pads,
                    *ceil_mode,
                    Some(*count_include_pad),
                )?;
                self.same(
                    cur,
                    "AveragePool",
                    ins,
                    vec![
                        a_ints("kernel_shape", kernel),
                        a_ints("strides", strides),
                        a_ints("pads", &pads),
                        a_int("ceil_mode", i64::from(ceil)),
                        a_int("count_include_pad", i64::from(*count_include_pad)),
                    ],
                );
            }
            Op::Resize { scales, mode } => {
                self.need_inputs(cur, 1, 1)?;
                // PyTorch's conventions: nearest = floor of x_out / scale;
                // linear = bilinear with align_corners=False.
                let attrs = match mode {
                    ResizeMode::Nearest => vec![
                        a_str("mode", "nearest"),
                        a_str("coordinate_transformation_mode", "asymmetric"),
                        a_str("nearest_mode", "floor"),
                    ],
                    ResizeMode::Linear => vec![
                        a_str("mode", "linear"),
                        a_str("coordinate_transformation_mode", "pytorch_half_pixel"),
                    ],
                };
                let s = self.const_f32(cur, "scales", scales);
                self.same(cur, "Resize", vec![ins[0].clone(), String::new(), s], attrs);
            }
            Op::Interpolate {
                sizes,
                scales,
                mode,
                align_corners,
            } => {
                self.need_inputs(cur, 1, 1)?;
                // PyTorch's conventions (UpSample.h): nearest = floor(dst *
                // scale); nearest-exact = floor((dst + 0.5) * scale), which is
                // half_pixel rounded half up; linear and cubic = half_pixel
                // (also for an output of 1, where pytorch_half_pixel says 0
                // but PyTorch takes the centre) or align_corners. Cubic: a =
                // -0.75 with edge values outside (PyTorch clamps indices).
                let ctm = if *align_corners {
                    "align_corners"
                } else {
                    "half_pixel"
                };
                let attrs = match mode {
                    InterpMode::Nearest => vec![
                        a_str("mode", "nearest"),
                        a_str("coordinate_transformation_mode", "asymmetric"),
                        a_str("nearest_mode", "floor"),
                    ],
                    InterpMode::NearestExact => vec![
                        a_str("mode", "nearest"),
                        a_str("coordinate_transformation_mode", "half_pixel"),
                        a_str("nearest_mode", "round_prefer_ceil"),
                    ],
                    InterpMode::Linear => vec![
                        a_str("mode", "linear"),
                        a_str("coordinate_transformation_mode", ctm),
                    ],
                    InterpMode::Cubic => vec![
                        a_str("mode", "cubic"),
                        a_str("coordinate_transformation_mode", ctm),
                        a_float("cubic_coeff_a", -0.75),
                        a_int("exclude_outside", 0),
                    ],
                };
                // scale_factor given: ONNX maps coordinates by the scales, as
                // PyTorch does; else by the sizes (out / in).
                let x = self.in_info(cur, 0)?;
                let input = match scales {
                    Some(sc) => {
                        let mut all = vec![1.0, 1.0];
                        for (i, (&s, &out)) in sc.iter().zip(sizes).enumerate() {
                            let n = x.shape[2 + i];
                            let f = onnx_scale(n, out, s).ok_or_else(|| {
                                self.err(
                                    cur,
                                    format!(
                                        "no float32 scale near {s} sizes {n} cells to {out} \
                                         for every ONNX consumer; give the size instead"
                                    ),
                                )
                            })?;
                            all.push(f as f64);
                        }
                        let s = self.const_f32(cur, "scales", &all);
                        vec![ins[0].clone(), String::new(), s]
                    }
                    None => {
                        let all: Vec<i64> = x.shape[..2]
                            .iter()
                            .chain(sizes)
                            .map(|&d| d as i64)
                            .collect();
                        let s = self.const_i64(cur, "sizes", &all);
                        vec![ins[0].clone(), String::new(), String::new(), s]
                    }
                };
                self.same(cur, "Resize", input, attrs);
            }
            Op::GlobalAvgPool => {
                self.need_inputs(cur, 1, 1)?;
                self.same(cur, "GlobalAveragePool", ins, vec![]);
            }
            other => unreachable!("{other:?} is not in the conv family"),
        }
        Ok(())
    }
}
