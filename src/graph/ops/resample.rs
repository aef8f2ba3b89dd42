//! The arithmetic of `Interpolate` as its consumers do it, bit for bit:
//! the float32 scale an ONNX Resize carries, and the input cell each output
//! cell of a nearest resize reads, in ATen (PyTorch's CPU kernels,
//! UpSample.h) and in ONNX runtimes (onnxruntime and tract: float32
//! division by the scale). Where the two pick different cells, the script
//! host writes a Gather of ATen's indices instead of a Resize.

/// The float32 scale to write for an axis of `n_in` cells that the script
/// scaled by `scale` to `n_out = floor(n_in * scale)` cells: `scale`
/// rounded to float32, raised by the ulps it takes for every consumer to
/// size the output `n_out` (onnx's shape inference multiplies in float64,
/// onnxruntime and tract in float32). None when no float32 does.
pub fn onnx_scale(n_in: usize, n_out: usize, scale: f64) -> Option<f32> {
    let sizes_ok = |s: f32| {
        (n_in as f64 * s as f64).floor() == n_out as f64
            && (n_in as f32 * s).floor() == n_out as f32
    };
    let mut s = scale as f32;
    for _ in 0..8 {
        if sizes_ok(s) {
            return Some(s);
        }
        if (n_in as f64 * s as f64) >= (n_out + 1) as f64 {
            return None;
        }
        s = s.next_up();
    }
    None
}

/// ATen's input cell for each output cell of a nearest resize (mode
/// "nearest", or "nearest-exact" when `exact`): `scale` is the script's
/// scale_factor, if it gave one.
pub fn aten_nearest(n_in: usize, n_out: usize, scale: Option<f64>, exact: bool) -> Vec<usize> {
    // compute_scales_value<float>: 1/scale_factor, else in/out.
    let s = match scale {
        Some(f) if f > 0.0 => (1.0 / f) as f32,
        _ => n_in as f32 / n_out as f32,
    };
    (0..n_out)
        .map(|d| {
            let i = if exact {
                // floorf((dst + 0.5) * scale): the product in double.
                (((d as f64 + 0.5) * s as f64) as f32).floor() as usize
            } else if n_out == n_in {
                d
            } else if n_out == 2 * n_in {
                d >> 1
            } else {
                ((d as f32) * s).floor() as usize
            };
            i.min(n_in - 1)
        })
        .collect()
}

/// An ONNX runtime's input cell for each output cell of the Resize that
/// `Interpolate` lowers to: asymmetric + floor, or half_pixel +
/// round_prefer_ceil when `exact`, with `scale` the float32 written (or
/// out/in when the sizes are written).
pub fn onnx_nearest(n_in: usize, n_out: usize, scale: f32, exact: bool) -> Vec<usize> {
    (0..n_out)
        .map(|d| {
            let x = if exact {
                ((d as f32 + 0.5) / scale - 0.5).round()
            } else {
                (d as f32 / scale).floor()
            };
            (x.max(0.0) as usize).min(n_in - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_raised_until_every_consumer_sizes_the_output_alike() {
        // 10 * 0.7f is 6.99999988 in float64: onnx's shape inference says 6.
        let s = onnx_scale(10, 7, 0.7).unwrap();
        assert!(s > 0.7f32 && (10.0 * s as f64).floor() == 7.0);
        assert_eq!(onnx_scale(5, 8, 1.7), Some(1.7f32));
        assert_eq!(onnx_scale(10, 20, 2.0), Some(2.0));
    }

    #[test]
    fn nearest_indices_follow_aten_and_show_where_runtimes_differ() {
        // ATen's special cases: a kept or doubled size ignores the scale.
        assert_eq!(aten_nearest(10, 20, Some(2.05), false)[2], 1);
        assert_eq!(aten_nearest(5, 5, Some(1.1), false), [0, 1, 2, 3, 4]);
        // 34 cells by 0.3: ATen's 9 * f32(1/0.3) rounds to 30.0, a
        // runtime's 9 / f32(0.3) to 29.999998.
        let (a, o) = (
            aten_nearest(34, 10, Some(0.3), false),
            onnx_nearest(34, 10, 0.3, false),
        );
        assert_eq!((a[9], o[9]), (30, 29));
        // Integer upscaling agrees everywhere.
        for k in [2usize, 3, 4, 5, 7, 8] {
            assert_eq!(
                aten_nearest(9, 9 * k, Some(k as f64), false),
                onnx_nearest(9, 9 * k, k as f32, false),
                "x{k}"
            );
        }
        // nearest-exact: pixel centres, halves rounded up.
        assert_eq!(aten_nearest(4, 6, None, true), [0, 1, 1, 2, 3, 3]);
        assert_eq!(onnx_nearest(4, 6, 1.5, true), [0, 1, 1, 2, 3, 3]);
    }
}
