//! Random parameter values, generated where they are written.
//!
//! Every element takes exactly one 32-bit word of a ChaCha8 stream seeded
//! by the parameter's seed, so element `k` is word `k`: any slice of a
//! tensor can be generated on its own (the exporter splits big tensors
//! across threads) and the bytes never depend on how it was split.
//!
//! Normal values come from the normal quantile function, tabulated at 4096
//! cells and interpolated linearly: one table lookup per element instead of
//! Box-Muller's logarithm, square root and sine (10x faster, which is most
//! of an export's time). The tails are clipped at about ±3.7 standard
//! deviations (the first and last cells) and the table is scaled so the
//! variance is exactly `std²`; the mean is 0 by symmetry. For benchmarking
//! random weights this is a normal distribution in every way that matters,
//! and closer to the truncated normals most libraries initialize with.

use rand::{Rng, SeedableRng};

/// How random parameters are drawn, part of every build's identity: change
/// it with the generator, so no cached export of the old one is reused
/// (`draws_are_pinned` holds it to the code).
pub const GENERATOR: &str = "chacha8-word-per-element/normal-quantile-4096";
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;

/// Words drawn from the stream at a time (a stack buffer).
const BLOCK: usize = 1024;

/// log2 of the quantile table's cells.
const CELL_BITS: u32 = 12;
const CELLS: usize = 1 << CELL_BITS;

/// The stream of `seed`, positioned at element (word) `first`.
fn stream_at(seed: u64, first: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_word_pos(first as u128);
    rng
}

/// Calls `f(out_element, word)` for every float32 slot of `out`, with the
/// stream's words from element `first` on.
fn for_each_word(out: &mut [u8], seed: u64, first: u64, mut f: impl FnMut(&mut [u8], u32)) {
    let mut rng = stream_at(seed, first);
    let mut words = [0u32; BLOCK];
    for chunk in out.chunks_mut(BLOCK * 4) {
        let n = chunk.len() / 4;
        rng.fill(&mut words[..n]);
        for (slot, &w) in chunk.chunks_exact_mut(4).zip(&words[..n]) {
            f(slot, w);
        }
    }
}

/// Fills `out` (little-endian float32s, elements `first..` of a tensor)
/// with uniform values in `[low, high)`: 24 bits of each word, as
/// `rand`'s `f32` sampling makes them.
pub fn fill_uniform_f32(out: &mut [u8], low: f64, high: f64, seed: u64, first: u64) {
    let (lo, span) = (low as f32, (high - low) as f32);
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    for_each_word(out, seed, first, |slot, w| {
        let u = (w >> 8) as f32 * SCALE;
        slot.copy_from_slice(&(lo + span * u).to_le_bytes());
    });
}

/// Fills `out` (little-endian float32s, elements `first..` of a tensor)
/// with normal values of mean 0 and standard deviation `std` (see the
/// module's note on how).
pub fn fill_normal_f32(out: &mut [u8], std: f64, seed: u64, first: u64) {
    let t = table();
    let std = std as f32;
    const FRAC: f32 = 1.0 / (1u32 << (32 - CELL_BITS)) as f32;
    for_each_word(out, seed, first, |slot, w| {
        let cell = (w >> (32 - CELL_BITS)) as usize;
        let frac = (w & ((1 << (32 - CELL_BITS)) - 1)) as f32 * FRAC;
        let x = t.start[cell] + frac * t.slope[cell];
        slot.copy_from_slice(&(std * x).to_le_bytes());
    });
}

struct Table {
    /// The quantile at each cell's start, and its rise across the cell.
    start: Vec<f32>,
    slope: Vec<f32>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let knots = quantile_knots();
        // Each cell is uniform between its knots: E[x²] = (a² + ab + b²) / 3.
        let var: f64 = knots
            .windows(2)
            .map(|k| (k[0] * k[0] + k[0] * k[1] + k[1] * k[1]) / 3.0)
            .sum::<f64>()
            / CELLS as f64;
        let scale = 1.0 / var.sqrt();
        Table {
            start: knots[..CELLS].iter().map(|&a| (a * scale) as f32).collect(),
            slope: knots
                .windows(2)
                .map(|k| ((k[1] - k[0]) * scale) as f32)
                .collect(),
        }
    })
}

/// The standard normal quantiles at j / CELLS for j = 1..CELLS-1, with the
/// two ends (infinite) clipped to the quantiles at 1/(2·CELLS) from each end;
/// antisymmetric by construction.
fn quantile_knots() -> Vec<f64> {
    // The CDF by Simpson's rule on a fine grid, then inverted by walking it
    // (the targets ascend); linear interpolation between grid points.
    const H: f64 = 1.0 / 2048.0;
    const LO: f64 = -9.0;
    let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let steps = (-2.0 * LO / H) as usize;
    let mut xs = Vec::with_capacity(steps + 1);
    let mut cdf = Vec::with_capacity(steps + 1);
    let mut acc = 0.0;
    for i in 0..=steps {
        let x = LO + i as f64 * H;
        if i > 0 {
            let a = x - H;
            acc += H / 6.0 * (pdf(a) + 4.0 * pdf(a + H / 2.0) + pdf(x));
        }
        xs.push(x);
        cdf.push(acc);
    }
    let mut i = 0;
    let mut quantile = |p: f64| {
        while cdf[i + 1] < p {
            i += 1;
        }
        let f = (p - cdf[i]) / (cdf[i + 1] - cdf[i]);
        xs[i] + f * H
    };
    let mut knots = vec![0.0; CELLS + 1];
    knots[0] = quantile(0.5 / CELLS as f64);
    for (j, k) in knots.iter_mut().enumerate().take(CELLS).skip(1) {
        *k = quantile(j as f64 / CELLS as f64);
    }
    knots[CELLS] = -knots[0];
    for j in 0..=CELLS / 2 {
        let m = 0.5 * (knots[j] - knots[CELLS - j]);
        knots[j] = m;
        knots[CELLS - j] = -m;
    }
    knots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(out: &[u8]) -> Vec<f64> {
        out.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    }

    #[test]
    fn any_split_makes_the_same_bytes() {
        for fill in [
            |o: &mut [u8], first| fill_normal_f32(o, 0.02, 7, first),
            |o: &mut [u8], first| fill_uniform_f32(o, -0.1, 0.1, 7, first),
        ] {
            let mut whole = vec![0u8; 4 * 5000];
            fill(&mut whole, 0);
            let mut parts = vec![0u8; 4 * 5000];
            // Splits off the block size, and one mid-block.
            for (a, b) in [(0, 1), (1, 1500), (1500, 1501), (1501, 4097), (4097, 5000)] {
                fill(&mut parts[a * 4..b * 4], a as u64);
            }
            assert_eq!(whole, parts);
        }
    }

    #[test]
    fn uniform_matches_rand_s_f32_sampling() {
        use rand::Rng;
        let mut mine = vec![0u8; 4 * 3000];
        fill_uniform_f32(&mut mine, -0.5, 0.5, 11, 0);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let theirs: Vec<f64> = (0..3000)
            .map(|_| (-0.5f32 + 1.0f32 * rng.random::<f32>()) as f64)
            .collect();
        assert_eq!(values(&mine), theirs);
    }

    #[test]
    fn normal_has_the_moments_and_quantiles_of_a_normal() {
        let n = 1 << 21;
        let mut out = vec![0u8; 4 * n];
        fill_normal_f32(&mut out, 2.0, 3, 0);
        let v = values(&out);
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.01, "std {}", var.sqrt());
        // Share within one and two standard deviations: 68.27% and 95.45%.
        let within = |k: f64| v.iter().filter(|x| x.abs() < 2.0 * k).count() as f64 / n as f64;
        assert!((within(1.0) - 0.6827).abs() < 0.003, "{}", within(1.0));
        assert!((within(2.0) - 0.9545).abs() < 0.003, "{}", within(2.0));
        // The tails are clipped near 3.5 standard deviations, no further.
        let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!((6.5..7.6).contains(&max), "max {max}");
    }

    /// The first draws, pinned: a change to the generator fails here, and
    /// must change GENERATOR too (or cached builds of the old one, whose
    /// hash would not change, disagree with the weights torch regenerates).
    #[test]
    fn draws_are_pinned() {
        let mut n = vec![0u8; 12];
        fill_normal_f32(&mut n, 1.0, 42, 0);
        let mut u = vec![0u8; 12];
        fill_uniform_f32(&mut u, -1.0, 1.0, 42, 0);
        let (n, u) = (values(&n), values(&u));
        assert_eq!(
            (n.as_slice(), u.as_slice(), GENERATOR),
            (
                PINNED_NORMAL.as_slice(),
                PINNED_UNIFORM.as_slice(),
                "chacha8-word-per-element/normal-quantile-4096"
            ),
            "the generator changed: update GENERATOR and these values"
        );
    }

    #[test]
    fn knots_are_the_normal_quantiles() {
        // Python's statistics.NormalDist().inv_cdf(j / 4096).
        let k = quantile_knots();
        for (j, q) in [
            (1, -3.4871041041144313),
            (2, -3.2971933456919635),
            (64, -2.1538746940614555),
            (512, -1.1503493803760079),
            (2048, 0.0),
            (3584, 1.1503493803760079),
            (4095, 3.4871041041144313),
        ] {
            assert!((k[j] - q).abs() < 1e-6, "knot {j}: {} vs {q}", k[j]);
        }
        // The clipped ends: inv_cdf(0.5 / 4096).
        assert!((k[0] + 3.668329285121323).abs() < 1e-6, "{}", k[0]);
        assert!((k[CELLS] - 3.668329285121323).abs() < 1e-6);
    }

    const PINNED_NORMAL: [f64; 3] = [-0.7586871981620789, 0.4731347858905792, -1.0523415803909302];
    const PINNED_UNIFORM: [f64; 3] = [-0.5518385171890259, 0.3637923002243042, -0.7072275876998901];
}
