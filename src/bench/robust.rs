//! Robust statistics of a latency sample: the median's confidence interval,
//! MAD, Tukey outliers, and two shapes that make a median hard to trust
//! (two modes, a drift). All take samples in milliseconds; those named
//! `sorted` want them ascending, finite and non-empty.

/// The confidence level of [`median_ci`].
pub const CONFIDENCE: f64 = 0.95;

/// Samples below this give no 95% interval for the median: with n = 5 even
/// `[min, max]` covers the median only 93.75% of the time.
pub const MIN_SAMPLES_FOR_CI: usize = 6;

/// A distribution-free confidence interval of the median, from order
/// statistics: `[x(k), x(n+1-k)]` (1-based ranks) with the largest `k` such
/// that `2 * P(B <= k-1) <= 1 - level`, where B ~ Binomial(n, 1/2). Its
/// coverage is at least `level` whatever the distribution, provided the
/// samples are independent. Returns `(lo, hi, coverage)`; `None` below
/// [`MIN_SAMPLES_FOR_CI`] samples.
pub fn median_ci(sorted: &[f64], level: f64) -> Option<(f64, f64, f64)> {
    let n = sorted.len();
    let k = median_ci_rank(n, level)?;
    let coverage = 1.0 - 2.0 * binomial_half_cdf(n, k - 1);
    Some((sorted[k - 1], sorted[n - k], coverage))
}

/// The median's 95% interval as turnkey reports it: [`median_ci`], one
/// [`clock_tick`] wider each side when the clock is coarse (the true median
/// may lie anywhere within a tick of the order statistics).
pub fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    let tick = clock_tick(sorted).unwrap_or(0.0);
    median_ci(sorted, CONFIDENCE).map(|(lo, hi, _)| (lo - tick, hi + tick))
}

/// The clock's tick, when the samples show one: if at most half of them
/// are distinct values (a coarse clock makes ties common), the smallest
/// step between distinct values; else `None`. A difference of two readings
/// of such a clock is off by up to one tick either way, so an interval of
/// the median must be at least that much wider on each side.
pub fn clock_tick(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n < 20 {
        return None;
    }
    let mut distinct = 1;
    let mut step = f64::INFINITY;
    for w in sorted.windows(2) {
        let d = w[1] - w[0];
        if d > 0.0 {
            distinct += 1;
            step = step.min(d);
        }
    }
    (distinct * 2 <= n && step.is_finite()).then_some(step)
}

/// The lower rank `k` (1-based) of [`median_ci`] for `n` samples.
pub fn median_ci_rank(n: usize, level: f64) -> Option<usize> {
    if n < MIN_SAMPLES_FOR_CI {
        return None;
    }
    let alpha = 1.0 - level;
    if n > 20_000 {
        // The normal approximation is exact to a rank or two here, and the
        // exact sum would take n/2 terms at every stopping check.
        let z = normal_quantile(1.0 - alpha / 2.0);
        let k = ((n as f64 - z * (n as f64).sqrt()) / 2.0).floor() as usize;
        return Some(k.max(1));
    }
    // Walk the binomial CDF up from 0; P(B <= j) in log space to stay finite.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0; // ln C(n, 0)
    let mut cdf = 0.0;
    let mut k = 0usize;
    for j in 0..=n / 2 {
        if j > 0 {
            ln_c += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        cdf += (ln_c + ln_half_n).exp();
        if 2.0 * cdf > alpha {
            break;
        }
        // P(B <= j) is small enough: rank j + 1 is a valid lower bound.
        k = j + 1;
    }
    (k >= 1).then_some(k)
}

/// P(B <= j) for B ~ Binomial(n, 1/2).
fn binomial_half_cdf(n: usize, j: usize) -> f64 {
    if n > 20_000 {
        let z = (j as f64 + 0.5 - n as f64 / 2.0) / ((n as f64).sqrt() / 2.0);
        return normal_cdf(z);
    }
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0;
    let mut cdf = 0.0;
    for i in 0..=j.min(n) {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        cdf += (ln_c + ln_half_n).exp();
    }
    cdf.min(1.0)
}

/// Φ(z), the standard normal CDF (Abramowitz & Stegun 7.1.26 on erf,
/// |error| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The standard normal quantile, by bisection on [`normal_cdf`] (called
/// rarely; 60 halvings reach f64 precision).
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Student's t quantile at 0.975 for `df` degrees of freedom (the 95%
/// two-sided critical value), from the standard table; beyond 30 the normal
/// value with a first-order correction.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => 1.959_964 + 2.4 / df as f64,
    }
}

/// The median absolute deviation from `median`, unscaled (multiply by
/// 1.4826 to estimate a normal distribution's standard deviation).
pub fn mad(sorted: &[f64], median: f64) -> f64 {
    let mut dev: Vec<f64> = sorted.iter().map(|x| (x - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    super::stats::percentile(&dev, 0.5)
}

/// Samples outside Tukey's fences `[p25 - 1.5 IQR, p75 + 1.5 IQR]`.
pub fn tukey_outliers(sorted: &[f64], p25: f64, p75: f64) -> u64 {
    let iqr = p75 - p25;
    let (lo, hi) = (p25 - 1.5 * iqr, p75 + 1.5 * iqr);
    let below = sorted.partition_point(|&x| x < lo);
    let above = sorted.len() - sorted.partition_point(|&x| x <= hi);
    (below + above) as u64
}

/// Share of the samples (each side of the dip) a mode must hold.
const MODE_SHARE: f64 = 0.10;
/// How far apart, relative to the median, two modes must be to matter.
const MODE_GAP: f64 = 0.01;

/// True when the samples between their 1st and 99th percentiles form two
/// clear modes: a histogram (lightly smoothed) has a bin that splits the
/// samples into two parts of at least 10% each, whose peaks both stand more
/// than twice as high as that bin, and the two peaks lie at least 1% of the
/// median apart. Bins are never narrower than twice the finest step between
/// distinct samples, so a coarse clock's ticks are not taken for modes.
pub fn bimodal(sorted: &[f64]) -> bool {
    let n = sorted.len();
    if n < 40 {
        return false;
    }
    let p = |q: f64| super::stats::percentile(sorted, q);
    let (lo, hi, median) = (p(0.01), p(0.99), p(0.5));
    if hi <= lo || median <= 0.0 {
        return false;
    }
    let step = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let bins_wanted = ((n as f64).sqrt() as usize).clamp(10, 40);
    let width = ((hi - lo) / bins_wanted as f64).max(2.0 * step);
    let bins = (((hi - lo) / width).ceil() as usize).max(1);
    if bins < 5 {
        return false;
    }
    let mut counts = vec![0f64; bins];
    for &x in sorted.iter().filter(|x| (lo..=hi).contains(*x)) {
        counts[(((x - lo) / width) as usize).min(bins - 1)] += 1.0;
    }
    let smooth: Vec<f64> = (0..bins)
        .map(|i| {
            let a = counts[i.saturating_sub(1)];
            let c = counts[(i + 1).min(bins - 1)];
            (a + 2.0 * counts[i] + c) / 4.0
        })
        .collect();
    let total: f64 = counts.iter().sum();
    let mut left_mass = 0.0;
    for v in 1..bins - 1 {
        left_mass += counts[v - 1];
        let right_mass = total - left_mass - counts[v];
        if left_mass < MODE_SHARE * total || right_mass < MODE_SHARE * total {
            continue;
        }
        let (li, lpeak) = argmax(&smooth[..v]);
        let (ri, rpeak) = argmax(&smooth[v + 1..]);
        let ri = ri + v + 1;
        let gap = (ri - li) as f64 * width / median;
        if smooth[v] * 2.0 < lpeak.min(rpeak) && gap >= MODE_GAP {
            return true;
        }
    }
    false
}

fn argmax(v: &[f64]) -> (usize, f64) {
    v.iter()
        .copied()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, x)| {
            if x > best.1 { (i, x) } else { best }
        })
}

/// How far the median moved during the measurement: the median of the last
/// third of the samples (in time order) minus that of the first third, in
/// percent of the overall `median`. 0 below 30 samples.
pub fn drift_pct(in_order: &[f64], median: f64) -> f64 {
    let n = in_order.len();
    if n < 30 || median <= 0.0 {
        return 0.0;
    }
    let third = n / 3;
    let med = |part: &[f64]| {
        let mut v = part.to_vec();
        v.sort_by(f64::total_cmp);
        super::stats::percentile(&v, 0.5)
    };
    100.0 * (med(&in_order[n - third..]) - med(&in_order[..third])) / median
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower ranks checked against the exact binomial with Python
    /// (`math.comb`): the largest k with 2 * sum(C(n, i), i < k) / 2^n <= 0.05.
    #[test]
    fn median_ci_ranks_match_the_binomial_tables() {
        for (n, k) in [
            (6, 1),
            (7, 1),
            (8, 1),
            (9, 2),
            (10, 2),
            (20, 6),
            (50, 18),
            (100, 40),
            (1000, 469),
            (20_000, 9861),
        ] {
            assert_eq!(median_ci_rank(n, 0.95), Some(k), "n = {n}");
        }
        for n in 0..6 {
            assert_eq!(median_ci_rank(n, 0.95), None, "n = {n}");
        }
        // The normal approximation beyond 20,000 agrees within a rank.
        let k = median_ci_rank(40_000, 0.95).unwrap();
        assert!((19_803..=19_805).contains(&k), "{k}");
    }

    #[test]
    fn median_ci_of_known_samples() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi, cov) = median_ci(&s, CONFIDENCE).unwrap();
        assert_eq!((lo, hi), (2.0, 9.0));
        // 1 - 2 * 11/1024
        assert!((cov - 0.978_515_625).abs() < 1e-9, "{cov}");
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        let (lo, hi, cov) = median_ci(&s, CONFIDENCE).unwrap();
        assert_eq!((lo, hi), (40.0, 61.0));
        assert!((cov - 0.9648).abs() < 1e-4, "{cov}");
        assert!(median_ci(&[1.0; 5], CONFIDENCE).is_none());
    }

    /// The interval covers the true median of a skewed distribution at least
    /// 95% of the time (a simulation with a fixed seed).
    #[test]
    fn median_ci_covers_the_true_median() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        // Exponential(1) + 1: median 1 + ln 2.
        let truth = 1.0 + std::f64::consts::LN_2;
        let (mut hit, trials) = (0, 2000);
        for _ in 0..trials {
            let mut s: Vec<f64> = (0..31).map(|_| 1.0 - (1.0 - uniform()).ln()).collect();
            s.sort_by(f64::total_cmp);
            let (lo, hi, _) = median_ci(&s, CONFIDENCE).unwrap();
            if lo <= truth && truth <= hi {
                hit += 1;
            }
        }
        let rate = hit as f64 / trials as f64;
        assert!(rate >= 0.94, "coverage {rate}");
    }

    #[test]
    fn a_coarse_clock_shows_its_tick() {
        // 10 ns ticks (in ms), values repeating: the tick.
        let mut s: Vec<f64> = (0..100).map(|i| 0.002 + 1e-5 * f64::from(i % 4)).collect();
        s.sort_by(f64::total_cmp);
        let t = clock_tick(&s).unwrap();
        assert!((t - 1e-5).abs() < 1e-12, "{t}");
        // Distinct values: no tick to see.
        let s: Vec<f64> = (0..100).map(|i| 1.0 + f64::from(i) * 1e-3).collect();
        assert_eq!(clock_tick(&s), None);
        assert_eq!(clock_tick(&[1.0; 5]), None);
    }

    #[test]
    fn normal_and_t_quantiles() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert_eq!(t_975(2), 4.303);
        assert!((t_975(1000) - 1.962).abs() < 0.01);
        assert!(t_975(0).is_infinite());
    }

    #[test]
    fn mad_and_outliers() {
        let s = [1.0, 2.0, 3.0, 4.0, 100.0];
        // |x - 3| = 2, 1, 0, 1, 97 -> median 1
        assert_eq!(mad(&s, 3.0), 1.0);
        // p25 = 2, p75 = 4: fences -1 and 7; 100 is out.
        assert_eq!(tukey_outliers(&s, 2.0, 4.0), 1);
        assert_eq!(tukey_outliers(&[1.0, 1.0, 1.0], 1.0, 1.0), 0);
        assert_eq!(tukey_outliers(&[0.0, 1.0, 1.0, 1.0, 2.0], 1.0, 1.0), 2);
    }

    fn spread(center: f64, n: usize, width: f64) -> Vec<f64> {
        (0..n)
            .map(|i| center + width * ((i as f64 + 0.5) / n as f64 - 0.5))
            .collect()
    }

    #[test]
    fn two_clusters_are_bimodal_one_is_not() {
        let mut two = spread(1.0, 300, 0.02);
        two.extend(spread(1.2, 200, 0.02));
        two.sort_by(f64::total_cmp);
        assert!(bimodal(&two));
        let mut one = spread(1.0, 500, 0.1);
        one.sort_by(f64::total_cmp);
        assert!(!bimodal(&one));
        // A long right tail (typical latency) is one mode.
        let mut tail: Vec<f64> = (0..500).map(|i| 1.0 + (i as f64 / 500.0).powi(6)).collect();
        tail.sort_by(f64::total_cmp);
        assert!(!bimodal(&tail));
        // A small second cluster (5%) is outliers, not a mode.
        let mut small = spread(1.0, 475, 0.02);
        small.extend(spread(1.5, 25, 0.02));
        small.sort_by(f64::total_cmp);
        assert!(!bimodal(&small));
        // Two modes 0.2% apart do not matter.
        let mut close = spread(1.0, 250, 0.0005);
        close.extend(spread(1.002, 250, 0.0005));
        close.sort_by(f64::total_cmp);
        assert!(!bimodal(&close));
    }

    #[test]
    fn a_coarse_clock_is_not_bimodal() {
        // Samples on a 40 ns grid around 2.5 us: ticks, not modes.
        let mut s: Vec<f64> = (0..1000)
            .map(|i| 0.0025 + 0.000_04 * f64::from([0, 1, 1, 2, 0, 1, 3, 1, 0, 2][i % 10]))
            .collect();
        s.sort_by(f64::total_cmp);
        assert!(!bimodal(&s));
    }

    #[test]
    fn drift_is_the_move_from_first_to_last_third() {
        let s: Vec<f64> = (0..90).map(|i| if i < 45 { 1.0 } else { 1.1 }).collect();
        assert!((drift_pct(&s, 1.0) - 10.0).abs() < 1e-9);
        assert_eq!(drift_pct(&[1.0; 10], 1.0), 0.0);
    }
}
