//! The measuring loop: first inference, adaptive warm-up, measured
//! iterations with adaptive stopping.
//!
//! Warm-up runs in blocks of about [`WARMUP_BLOCK`] (at least one
//! iteration) and ends when two successive blocks' medians agree within
//! [`WARMUP_TOLERANCE`]: the model has reached its steady state, and the
//! second of the two blocks, timed like any measured iteration, becomes the
//! first measured samples (so BERT-base spends one iteration warming up, not
//! two). It runs at least `warmup_min_iterations` and `warmup_min_time`
//! (floors, counting that block), and stops trying at `warmup_max_time` (a
//! ceiling, recorded as not steady).
//!
//! Measuring stops, as in MLPerf LoadGen, only once both floors are met (a
//! minimum count and a minimum duration), and then as soon as the median's
//! 95% confidence interval is within ±`target_ci_pct`; it is capped by
//! `max_time` (then at least one iteration). `iterations` fixes the count
//! instead. The interval is checked at geometrically spaced counts (every
//! 25% more samples), so checking costs a small fraction of measuring.

use super::robust;
use super::stats::{LatencyStats, ci_half_pct, percentile};
use super::verdict::{DEFAULT_TARGET_CI_PCT, Stop};
use crate::runtime::{RuntimeError, Session};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The target length of one warm-up block.
pub const WARMUP_BLOCK: Duration = Duration::from_millis(4);
/// Two successive warm-up blocks whose medians differ by at most this
/// fraction mean the model has reached its steady state.
pub const WARMUP_TOLERANCE: f64 = 0.02;

/// How long and how often to measure. Durations serialize as seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchOptions {
    /// A fixed number of measured iterations (overrides the rules below).
    pub iterations: Option<u64>,
    /// Floors of the measured phase: count and duration.
    pub min_iterations: u64,
    #[serde(with = "secs")]
    pub min_time: Duration,
    /// Stops measuring (and warming up) once this much time has passed.
    #[serde(with = "secs")]
    pub max_time: Duration,
    /// Floors of the warm-up: count and duration.
    pub warmup_min_iterations: u64,
    #[serde(with = "secs")]
    pub warmup_min_time: Duration,
    /// The warm-up's ceiling: past it, measuring starts even if not steady.
    #[serde(with = "secs")]
    pub warmup_max_time: Duration,
    /// Stop once the median's 95% interval is within ± this % of it.
    pub target_ci_pct: f64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            iterations: None,
            min_iterations: 10,
            min_time: Duration::from_millis(20),
            max_time: Duration::from_secs(10),
            warmup_min_iterations: 1,
            warmup_min_time: Duration::ZERO,
            warmup_max_time: Duration::from_secs(1),
            target_ci_pct: DEFAULT_TARGET_CI_PCT,
        }
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(|_| {
            serde::de::Error::custom(format!("{v} is not a duration in seconds (>= 0)"))
        })
    }
}

/// What one measurement produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The first inference (cold caches, lazy allocations).
    pub first_ms: f64,
    pub warmup_iterations: u64,
    pub warmup_ms: f64,
    pub iterations: u64,
    /// Wall time of the measured phase (samples plus the loop around them).
    pub total_ms: f64,
    /// One latency per measured iteration, raw (timer overhead not subtracted).
    pub samples_ms: Vec<f64>,
    pub stats: LatencyStats,
    /// The median cost of an empty timed region (`Instant::now` + `elapsed`),
    /// included in every sample.
    pub timer_overhead_ns: f64,
    /// The measured phase stopped at `max_time` before reaching its minimums.
    pub hit_max_time: bool,
    /// Whether warm-up ended in a steady state (`None`: no warm-up blocks
    /// were compared, e.g. `--warmup-max-time 0`).
    pub warmup_steady: Option<bool>,
    /// Why measuring stopped.
    pub stop: Stop,
}

/// Told when the measured phase begins and ends (e.g. a GPU sampler, so
/// that telemetry covers exactly the measured iterations).
pub trait Window {
    /// Right after the first inference, untimed: the outputs a fresh
    /// session gives, before any state or random generator advances.
    fn first_run(&mut self, _session: &mut dyn Session) -> Result<(), RuntimeError> {
        Ok(())
    }
    /// After the first inference, before warm-up (the runtime's threads exist).
    fn warm(&mut self) {}
    fn begin(&mut self);
    /// Between measured iterations, at each stopping check (not timed).
    fn checkpoint(&mut self) {}
    fn end(&mut self);
}

/// No window observer.
impl Window for () {
    fn begin(&mut self) {}
    fn end(&mut self) {}
}

/// A session seen through its "core" path: `run` is [`Session::run_core`]
/// (inputs already on the device, outputs left there), so [`measure`]
/// times the compute alone.
pub struct Core<'a>(pub &'a mut dyn Session);

impl Session for Core<'_> {
    fn set_inputs(
        &mut self,
        inputs: &[(String, crate::graph::HostTensor)],
    ) -> Result<(), RuntimeError> {
        self.0.set_inputs(inputs)
    }
    fn run(&mut self) -> Result<(), RuntimeError> {
        self.0.run_core()
    }
    fn outputs(&mut self) -> Result<Vec<(String, crate::graph::HostTensor)>, RuntimeError> {
        self.0.outputs()
    }
    fn details(&self) -> std::collections::BTreeMap<String, String> {
        self.0.details()
    }
}

/// Runs `session` (inputs already set) through first inference, warm-up and
/// measurement. The session's load ("compile") time is the caller's to time.
pub fn measure(
    session: &mut dyn Session,
    opts: &BenchOptions,
) -> Result<Measurement, RuntimeError> {
    measure_with(session, opts, &mut ())
}

/// [`measure`], telling `window` when the measured phase begins and ends.
pub fn measure_with(
    session: &mut dyn Session,
    opts: &BenchOptions,
    window: &mut dyn Window,
) -> Result<Measurement, RuntimeError> {
    let timer_overhead_ns = timer_overhead_ns();
    let start = Instant::now();

    let t = Instant::now();
    session.run()?;
    let first_ms = ms(t.elapsed());
    window.first_run(session)?;
    window.warm();

    let warm_start = Instant::now();
    let mut warm = warm_up(session, opts, first_ms, start)?;
    // With a fixed count, at most that many samples come from warm-up.
    if let Some(n) = opts.iterations {
        let keep = warm
            .steady_block
            .len()
            .min(usize::try_from(n).unwrap_or(usize::MAX));
        let cut = warm.steady_block.len() - keep;
        if cut > 0 {
            let share = keep as f64 / warm.steady_block.len() as f64;
            warm.steady_block_time = warm.steady_block_time.mul_f64(share);
            warm.steady_block.drain(..cut);
        }
    }
    let seeded = warm.steady_block.len() as u64;
    let warmup_ms = ms(warm_start.elapsed().saturating_sub(warm.steady_block_time));

    let expected = opts.iterations.unwrap_or(opts.min_iterations);
    let mut samples_ms = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(1 << 24));
    samples_ms.append(&mut warm.steady_block);
    window.begin();
    // The seeded samples' time counts as measuring time.
    let measure_start = Instant::now()
        .checked_sub(warm.steady_block_time)
        .unwrap_or_else(Instant::now);
    let mut next_check = opts.min_iterations.max(robust::MIN_SAMPLES_FOR_CI as u64);
    let mut tick: Option<f64> = None;
    let measured = loop {
        let count = samples_ms.len() as u64;
        let stop = match opts.iterations {
            Some(n) => (count >= n).then_some(Stop::Iterations),
            None => {
                let elapsed = measure_start.elapsed();
                if count >= 1 && elapsed >= opts.max_time {
                    Some(Stop::MaxTime)
                } else if count >= next_check && elapsed >= opts.min_time {
                    let tick = *tick.get_or_insert_with(|| clock_tick(&samples_ms));
                    let reached =
                        median_ci_pct(&samples_ms, tick).is_some_and(|c| c <= opts.target_ci_pct);
                    next_check = (count + 1).max(count + count / 4);
                    window.checkpoint();
                    reached.then_some(Stop::Target)
                } else {
                    None
                }
            }
        };
        if let Some(stop) = stop {
            break Ok(stop);
        }
        let t = Instant::now();
        if let Err(e) = session.run() {
            break Err(e);
        }
        let dt = t.elapsed();
        samples_ms.push(ms(dt));
    };
    let total_ms = ms(measure_start.elapsed());
    window.end();
    let stop = measured?;
    let count = samples_ms.len() as u64;
    let hit_max_time =
        stop == Stop::MaxTime && (count < opts.min_iterations || total_ms < ms(opts.min_time));

    // Fixed zero iterations still get stats from the first inference.
    let stats = LatencyStats::from_samples(&samples_ms)
        .or_else(|| LatencyStats::from_samples(&[first_ms]))
        .unwrap_or_else(|| LatencyStats::from_samples(&[0.0]).expect("one finite sample"));
    Ok(Measurement {
        first_ms,
        warmup_iterations: warm.iterations - seeded,
        warmup_ms,
        iterations: count,
        total_ms,
        samples_ms,
        stats,
        timer_overhead_ns,
        hit_max_time,
        warmup_steady: warm.steady,
        stop,
    })
}

/// What the warm-up did.
struct Warm {
    iterations: u64,
    steady: Option<bool>,
    /// The last block, in order, when it was steady: the first measured samples.
    steady_block: Vec<f64>,
    /// How long that block took.
    steady_block_time: Duration,
}

/// Runs blocks of about [`WARMUP_BLOCK`] until two successive blocks'
/// medians agree (after the floors), the warm-up ceiling, or `max_time`
/// since `start`.
fn warm_up(
    session: &mut dyn Session,
    opts: &BenchOptions,
    first_ms: f64,
    start: Instant,
) -> Result<Warm, RuntimeError> {
    let warm_start = Instant::now();
    let mut iterations = 0u64;
    let mut latency_ms = first_ms;
    let mut previous: Option<f64> = None;
    let mut steady: Option<bool> = None;
    let mut block: Vec<f64> = Vec::new();
    let mut block_time = Duration::ZERO;
    loop {
        let elapsed = warm_start.elapsed();
        let floors = iterations >= opts.warmup_min_iterations && elapsed >= opts.warmup_min_time;
        if start.elapsed() >= opts.max_time
            || floors && (steady == Some(true) || elapsed >= opts.warmup_max_time)
        {
            break;
        }
        let size = block_size(latency_ms);
        block.clear();
        let block_start = Instant::now();
        for _ in 0..size {
            let t = Instant::now();
            session.run()?;
            block.push(ms(t.elapsed()));
        }
        block_time = block_start.elapsed();
        iterations += size;
        let mut sorted = block.clone();
        sorted.sort_by(f64::total_cmp);
        let median = percentile(&sorted, 0.5);
        if let Some(p) = previous {
            steady = Some((median - p).abs() <= WARMUP_TOLERANCE * p.min(median));
        }
        previous = Some(median);
        latency_ms = median;
    }
    // The block that agreed with the one before it is already steady: its
    // samples, timed like any other, open the measured phase.
    let (steady_block, steady_block_time) = if steady == Some(true) {
        (block, block_time)
    } else {
        (Vec::new(), Duration::ZERO)
    };
    Ok(Warm {
        iterations,
        steady,
        steady_block,
        steady_block_time,
    })
}

/// Iterations in a warm-up block of about [`WARMUP_BLOCK`] at `latency_ms`.
fn block_size(latency_ms: f64) -> u64 {
    let block_ms = WARMUP_BLOCK.as_secs_f64() * 1e3;
    if latency_ms > 0.0 && latency_ms.is_finite() {
        ((block_ms / latency_ms).ceil() as u64).clamp(1, 100_000)
    } else {
        1
    }
}

/// The clock's tick as the first samples show it ([`robust::clock_tick`]),
/// 0 when they show none: a tick does not change, so one look will do.
fn clock_tick(samples_ms: &[f64]) -> f64 {
    let mut s = samples_ms[..samples_ms.len().min(50_000)].to_vec();
    s.sort_by(f64::total_cmp);
    robust::clock_tick(&s).unwrap_or(0.0)
}

/// Half-width of the median's 95% interval in % of the median, as
/// [`robust::median_interval`] computes it but in linear time: three order
/// statistics by selection rather than a sort (checked every 25% more
/// samples, over millions of them for microsecond models). `None` below 6
/// samples.
fn median_ci_pct(samples_ms: &[f64], tick: f64) -> Option<f64> {
    let n = samples_ms.len();
    let k = robust::median_ci_rank(n, robust::CONFIDENCE)?;
    let mut v = samples_ms.to_vec();
    let mut nth = |i: usize| *v.select_nth_unstable_by(i, f64::total_cmp).1;
    let (lo, hi) = (nth(k - 1) - tick, nth(n - k) + tick);
    // Linear interpolation at rank (n - 1) / 2, as `percentile` does.
    let h = (n - 1) as f64 / 2.0;
    let below = nth(h.floor() as usize);
    let median = if h.fract() > 0.0 {
        // The next order statistic: the least of the upper part.
        let next = v[h.floor() as usize + 1..]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        below + h.fract() * (next - below)
    } else {
        below
    };
    ci_half_pct(median, Some(lo), Some(hi))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median duration, in nanoseconds, of an empty region timed exactly as the
/// measured loop times `session.run()` (as hyperfine measures its shell's
/// overhead). Reported, not subtracted: samples stay raw.
pub fn timer_overhead_ns() -> f64 {
    const N: usize = 1001;
    let mut v: Vec<f64> = (0..N)
        .map(|_| {
            let t = Instant::now();
            let dt = std::hint::black_box(t).elapsed();
            dt.as_secs_f64() * 1e9
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[N / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::HostTensor;
    use std::collections::BTreeMap;

    /// A session that spins (or sleeps) for `latency(run)` per run and
    /// counts runs. Spinning is exact to a microsecond on a quiet core.
    struct Fake {
        runs: u64,
        latency: fn(u64) -> Duration,
        sleep: bool,
        fail_at: Option<u64>,
    }

    impl Session for Fake {
        fn set_inputs(&mut self, _: &[(String, HostTensor)]) -> Result<(), RuntimeError> {
            Ok(())
        }
        fn run(&mut self) -> Result<(), RuntimeError> {
            self.runs += 1;
            if Some(self.runs) == self.fail_at {
                return Err(RuntimeError::Run {
                    runtime: "fake",
                    message: "boom".into(),
                });
            }
            let d = (self.latency)(self.runs);
            if self.sleep {
                std::thread::sleep(d);
            } else {
                let t = Instant::now();
                while t.elapsed() < d {
                    std::hint::spin_loop();
                }
            }
            Ok(())
        }
        fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
            // The number of runs so far: what a stateful model's output shows.
            let runs = self.runs as f64;
            Ok(vec![(
                "runs".into(),
                HostTensor::full(crate::graph::DType::Float64, &[1], runs),
            )])
        }
        fn details(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
    }

    /// Sees the outputs right after the first inference.
    #[derive(Default)]
    struct FirstOutputs(Vec<f64>);

    impl Window for FirstOutputs {
        fn first_run(&mut self, session: &mut dyn Session) -> Result<(), RuntimeError> {
            for (_, t) in session.outputs()? {
                self.0.extend(t.to_f64_vec());
            }
            Ok(())
        }
        fn begin(&mut self) {}
        fn end(&mut self) {}
    }

    #[test]
    fn the_window_sees_the_first_runs_outputs_before_warm_up() {
        let mut s = spin(steady_100us);
        let mut w = FirstOutputs::default();
        let m = measure_with(&mut s, &quick(), &mut w).unwrap();
        assert!(m.warmup_iterations > 0 && m.iterations > 0);
        // One run when the window looked, however many ran after it.
        assert_eq!(w.0, [1.0]);
        assert!(s.runs > 2, "{}", s.runs);
    }

    fn spin(latency: fn(u64) -> Duration) -> Fake {
        Fake {
            runs: 0,
            latency,
            sleep: false,
            fail_at: None,
        }
    }

    fn sleep_ms(ms: u64) -> Fake {
        let mut f = spin(|_| Duration::ZERO);
        f.sleep = true;
        f.latency = match ms {
            0 => |_| Duration::ZERO,
            2 => |_| Duration::from_millis(2),
            _ => |_| Duration::from_millis(30),
        };
        f
    }

    fn steady_100us(_: u64) -> Duration {
        Duration::from_micros(100)
    }

    /// Floors small, ceilings generous, the target loose: counts are the floors'.
    fn quick() -> BenchOptions {
        BenchOptions {
            iterations: None,
            min_iterations: 5,
            min_time: Duration::ZERO,
            max_time: Duration::from_secs(30),
            warmup_min_iterations: 3,
            warmup_min_time: Duration::ZERO,
            warmup_max_time: Duration::from_secs(5),
            target_ci_pct: f64::MAX,
        }
    }

    #[test]
    fn a_steady_model_warms_up_briefly_and_stops_at_the_floors() {
        let mut s = spin(steady_100us);
        let m = measure(&mut s, &quick()).unwrap();
        // Blocks of ~4 ms (about 40 runs of 100 us); two that agree end
        // warm-up, and the second opens the measured samples.
        assert_eq!(m.warmup_steady, Some(true));
        assert!(m.warmup_iterations >= 30, "{}", m.warmup_iterations);
        assert!(m.warmup_ms < 1000.0, "{}", m.warmup_ms);
        // Those samples already meet the floors and the loose target.
        assert!((30..=45).contains(&m.iterations), "{}", m.iterations);
        assert_eq!(m.stop, Stop::Target);
        assert_eq!(s.runs, 1 + m.warmup_iterations + m.iterations);
        // Their time counts as measuring.
        assert!(m.total_ms >= 0.1 * m.iterations as f64, "{}", m.total_ms);
        assert!(!m.hit_max_time);
        assert!(m.stats.min_ms >= 0.1, "{:?}", m.stats);
    }

    #[test]
    fn warm_up_waits_for_the_steady_state() {
        // 7% faster every run from 2 ms down to 100 us (run 42 on): no two
        // blocks agree until the plateau, so warm-up must outlast the descent.
        let mut s =
            spin(|run| Duration::from_secs_f64((2e-3 * 0.93f64.powi(run as i32)).max(100e-6)));
        let m = measure(&mut s, &quick()).unwrap();
        assert!(m.warmup_iterations > 42, "{}", m.warmup_iterations);
        assert_eq!(m.warmup_steady, Some(true));
        assert!(m.stats.median_ms < 0.5, "{:?}", m.stats);
    }

    #[test]
    fn warm_up_stops_at_its_ceiling_when_never_steady() {
        // Every run 3% slower than the one before: no two blocks agree.
        let mut s = spin(|run| Duration::from_secs_f64(100e-6 * 1.03f64.powi(run.min(200) as i32)));
        let opts = BenchOptions {
            warmup_max_time: Duration::from_millis(100),
            ..quick()
        };
        let t = Instant::now();
        let m = measure(&mut s, &opts).unwrap();
        assert_eq!(m.warmup_steady, Some(false));
        assert!(
            m.warmup_ms >= 100.0 && t.elapsed() < Duration::from_secs(5),
            "{}",
            m.warmup_ms
        );
        // No ceiling at all: no blocks compared, nothing to say.
        let opts = BenchOptions {
            warmup_max_time: Duration::ZERO,
            warmup_min_iterations: 0,
            ..quick()
        };
        let m = measure(&mut spin(steady_100us), &opts).unwrap();
        assert_eq!((m.warmup_iterations, m.warmup_steady), (0, None));
    }

    #[test]
    fn stops_when_the_interval_reaches_the_target() {
        let opts = BenchOptions {
            target_ci_pct: 1.0,
            max_time: Duration::from_secs(20),
            ..quick()
        };
        let m = measure(&mut spin(steady_100us), &opts).unwrap();
        assert_eq!(m.stop, Stop::Target);
        assert!(m.stats.ci_half_pct().unwrap() <= 1.0, "{:?}", m.stats);
        // A 100 us model on a quiet core needs well under a second.
        assert!(m.total_ms < 5000.0, "{}", m.total_ms);
    }

    #[test]
    fn noise_runs_to_max_time() {
        // Latencies spread over 50-950 us: ±0.01% needs far more than 150 ms.
        let mut s = spin(|run| Duration::from_micros(50 + (run * 7919) % 900));
        let opts = BenchOptions {
            target_ci_pct: 0.01,
            max_time: Duration::from_millis(150),
            warmup_max_time: Duration::from_millis(20),
            ..quick()
        };
        let m = measure(&mut s, &opts).unwrap();
        assert_eq!(m.stop, Stop::MaxTime);
        assert!(!m.hit_max_time, "the floors were met");
        assert!(m.total_ms >= 150.0 && m.total_ms < 1000.0, "{}", m.total_ms);
    }

    #[test]
    fn min_time_keeps_measuring() {
        let opts = BenchOptions {
            min_time: Duration::from_millis(60),
            ..quick()
        };
        let m = measure(&mut sleep_ms(2), &opts).unwrap();
        assert!(m.total_ms >= 60.0, "{}", m.total_ms);
        assert!(m.iterations >= 5);
        // Each sample holds one 2 ms sleep.
        assert!(m.stats.min_ms >= 2.0, "{:?}", m.stats);
    }

    #[test]
    fn max_time_caps_but_keeps_one_iteration() {
        let opts = BenchOptions {
            min_iterations: 1000,
            max_time: Duration::from_millis(50),
            warmup_min_iterations: 1000,
            ..quick()
        };
        let m = measure(&mut sleep_ms(30), &opts).unwrap();
        assert!(m.hit_max_time);
        assert_eq!(m.stop, Stop::MaxTime);
        assert!(m.iterations >= 1 && m.iterations < 10, "{}", m.iterations);
        assert!(m.warmup_iterations < 10, "{}", m.warmup_iterations);
    }

    #[test]
    fn fixed_iterations_are_exact() {
        let opts = BenchOptions {
            iterations: Some(7),
            min_iterations: 1000,
            min_time: Duration::from_secs(100),
            ..quick()
        };
        let m = measure(&mut sleep_ms(0), &opts).unwrap();
        assert_eq!((m.iterations, m.stop), (7, Stop::Iterations));
        let m = measure(
            &mut sleep_ms(0),
            &BenchOptions {
                iterations: Some(0),
                ..quick()
            },
        )
        .unwrap();
        assert_eq!(m.iterations, 0);
        assert_eq!(m.stats.median_ms, m.first_ms);
    }

    #[test]
    fn a_failing_run_is_an_error() {
        let mut s = Fake {
            fail_at: Some(4),
            ..spin(steady_100us)
        };
        let e = measure(&mut s, &quick()).unwrap_err();
        assert!(e.to_string().contains("boom"));
    }

    #[derive(Default)]
    struct Log(Vec<&'static str>);
    impl Window for Log {
        fn warm(&mut self) {
            self.0.push("warm");
        }
        fn begin(&mut self) {
            self.0.push("begin");
        }
        fn checkpoint(&mut self) {
            if self.0.last() != Some(&"checkpoint") {
                self.0.push("checkpoint");
            }
        }
        fn end(&mut self) {
            self.0.push("end");
        }
    }

    #[test]
    fn the_window_spans_the_measured_phase_even_on_failure() {
        let mut log = Log::default();
        let m = measure_with(&mut spin(steady_100us), &quick(), &mut log).unwrap();
        assert!(m.iterations >= 6);
        assert_eq!(log.0, ["warm", "begin", "checkpoint", "end"]);
        let mut log = Log::default();
        let mut s = Fake {
            fail_at: Some(50),
            ..spin(steady_100us)
        };
        let opts = BenchOptions {
            iterations: Some(100),
            warmup_min_iterations: 0,
            warmup_max_time: Duration::ZERO,
            ..quick()
        };
        assert!(measure_with(&mut s, &opts, &mut log).is_err());
        assert_eq!(log.0, ["warm", "begin", "end"]);
    }

    /// Counts `run` and `run_core` apart.
    struct TwoPaths {
        runs: u64,
        core_runs: u64,
    }
    impl Session for TwoPaths {
        fn set_inputs(&mut self, _: &[(String, HostTensor)]) -> Result<(), RuntimeError> {
            Ok(())
        }
        fn run(&mut self) -> Result<(), RuntimeError> {
            self.runs += 1;
            Ok(())
        }
        fn run_core(&mut self) -> Result<(), RuntimeError> {
            self.core_runs += 1;
            Ok(())
        }
        fn has_core(&self) -> bool {
            true
        }
        fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
            Ok(vec![])
        }
        fn details(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
    }

    #[test]
    fn core_measures_run_core_only() {
        let mut s = TwoPaths {
            runs: 0,
            core_runs: 0,
        };
        let opts = BenchOptions {
            iterations: Some(5),
            warmup_max_time: Duration::ZERO,
            warmup_min_iterations: 3,
            ..quick()
        };
        let m = measure(&mut Core(&mut s), &opts).unwrap();
        let total = 1 + m.warmup_iterations + 5;
        assert_eq!((s.runs, s.core_runs), (0, total));
        measure(&mut s, &opts).unwrap();
        assert!(s.runs > 0 && s.core_runs == total);
    }

    #[test]
    fn the_stopping_check_agrees_with_the_reported_interval() {
        for n in [6usize, 7, 10, 11, 100, 101, 1000, 25_001] {
            let v: Vec<f64> = (0..n)
                .map(|i| 1.0 + ((i * 7919) % 1009) as f64 * 1e-3)
                .collect();
            let st = LatencyStats::from_samples(&v).unwrap();
            let fast = median_ci_pct(&v, clock_tick(&v)).unwrap();
            let want = st.ci_half_pct().unwrap();
            assert!((fast - want).abs() < 1e-9, "n {n}: {fast} vs {want}");
        }
        // A coarse clock: ties, and the tick widens both.
        let v: Vec<f64> = (0..200).map(|i| 0.002 + 1e-5 * f64::from(i % 3)).collect();
        let st = LatencyStats::from_samples(&v).unwrap();
        let fast = median_ci_pct(&v, clock_tick(&v)).unwrap();
        assert!((fast - st.ci_half_pct().unwrap()).abs() < 1e-9);
        assert!(fast > 0.0);
    }

    #[test]
    fn a_fixed_count_takes_at_most_that_many_warm_up_samples() {
        let opts = BenchOptions {
            iterations: Some(5),
            ..quick()
        };
        let mut s = spin(steady_100us);
        let m = measure(&mut s, &opts).unwrap();
        assert_eq!(m.iterations, 5);
        assert_eq!(m.warmup_steady, Some(true));
        assert_eq!(s.runs, 1 + m.warmup_iterations + 5);
    }

    #[test]
    fn warm_up_blocks_last_about_4_ms() {
        assert_eq!(block_size(0.1), 40);
        assert_eq!(block_size(0.0025), 1600);
        assert_eq!(block_size(50.0), 1);
        assert_eq!(block_size(0.0), 1);
        assert_eq!(block_size(1e-9), 100_000);
    }

    #[test]
    fn timer_overhead_is_small_and_positive() {
        let ns = timer_overhead_ns();
        assert!((0.0..10_000.0).contains(&ns), "{ns}");
    }

    #[test]
    fn options_serialize_as_seconds() {
        let o = BenchOptions::default();
        let j = serde_json::to_value(&o).unwrap();
        assert_eq!(j["min_time"], 0.02);
        assert_eq!(j["warmup_max_time"], 1.0);
        assert_eq!(j["target_ci_pct"], 1.0);
        assert_eq!(serde_json::from_value::<BenchOptions>(j).unwrap(), o);
        let partial: BenchOptions = serde_json::from_str(r#"{"iterations": 3}"#).unwrap();
        assert_eq!(partial.iterations, Some(3));
        assert_eq!(partial.min_iterations, 10);
        assert!(serde_json::from_str::<BenchOptions>(r#"{"min_time": -1}"#).is_err());
    }
}
