//! The measuring loop: first inference, warm-up, measured iterations.
//!
//! Stopping rules follow MLPerf LoadGen and trtexec: measure until both a
//! minimum count and a minimum duration are reached, capped by a maximum
//! duration (then at least one iteration); or exactly `iterations` when fixed.

use super::stats::LatencyStats;
use crate::runtime::{RuntimeError, Session};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long and how often to measure. Durations serialize as seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchOptions {
    /// A fixed number of measured iterations (overrides the rules below).
    pub iterations: Option<u64>,
    pub min_iterations: u64,
    #[serde(with = "secs")]
    pub min_time: Duration,
    /// Stops measuring (and warming up) once this much time has passed.
    #[serde(with = "secs")]
    pub max_time: Duration,
    pub warmup_min_iterations: u64,
    #[serde(with = "secs")]
    pub warmup_min_time: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            iterations: None,
            min_iterations: 100,
            min_time: Duration::from_secs(2),
            max_time: Duration::from_secs(60),
            warmup_min_iterations: 10,
            warmup_min_time: Duration::from_millis(500),
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
}

/// Told when the measured phase begins and ends (e.g. a GPU sampler, so
/// that telemetry covers exactly the measured iterations).
pub trait Window {
    fn begin(&mut self);
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

    // Warm-up: both minimums, but never past max_time.
    let warm_start = Instant::now();
    let mut warmup_iterations = 0u64;
    while (warmup_iterations < opts.warmup_min_iterations
        || warm_start.elapsed() < opts.warmup_min_time)
        && start.elapsed() < opts.max_time
    {
        session.run()?;
        warmup_iterations += 1;
    }
    let warmup_ms = ms(warm_start.elapsed());

    let expected = opts.iterations.unwrap_or(opts.min_iterations);
    let mut samples_ms = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(1 << 24));
    let mut hit_max_time = false;
    window.begin();
    let measure_start = Instant::now();
    let measured = loop {
        let done = match opts.iterations {
            Some(n) => samples_ms.len() as u64 >= n,
            None => {
                let count = samples_ms.len() as u64;
                let elapsed = measure_start.elapsed();
                if count >= opts.min_iterations && elapsed >= opts.min_time {
                    true
                } else if count >= 1 && elapsed >= opts.max_time {
                    hit_max_time = true;
                    true
                } else {
                    false
                }
            }
        };
        if done {
            break Ok(());
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
    measured?;

    // Fixed zero iterations still get stats from the first inference.
    let stats = LatencyStats::from_samples(&samples_ms)
        .or_else(|| LatencyStats::from_samples(&[first_ms]))
        .unwrap_or_else(|| LatencyStats::from_samples(&[0.0]).expect("one finite sample"));
    Ok(Measurement {
        first_ms,
        warmup_iterations,
        warmup_ms,
        iterations: samples_ms.len() as u64,
        total_ms,
        samples_ms,
        stats,
        timer_overhead_ns,
        hit_max_time,
    })
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

    /// A session that sleeps `each` per run and counts runs.
    struct Fake {
        runs: u64,
        each: Duration,
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
            if !self.each.is_zero() {
                std::thread::sleep(self.each);
            }
            Ok(())
        }
        fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
            Ok(vec![])
        }
        fn details(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
    }

    fn fake(each_ms: u64) -> Fake {
        Fake {
            runs: 0,
            each: Duration::from_millis(each_ms),
            fail_at: None,
        }
    }

    fn quick() -> BenchOptions {
        BenchOptions {
            iterations: None,
            min_iterations: 5,
            min_time: Duration::ZERO,
            max_time: Duration::from_secs(30),
            warmup_min_iterations: 3,
            warmup_min_time: Duration::ZERO,
        }
    }

    #[test]
    fn min_iterations_and_warmup_counts() {
        let mut s = fake(0);
        let m = measure(&mut s, &quick()).unwrap();
        assert_eq!(m.warmup_iterations, 3);
        assert_eq!(m.iterations, 5);
        assert_eq!(m.samples_ms.len(), 5);
        assert_eq!(s.runs, 1 + 3 + 5);
        assert!(!m.hit_max_time);
    }

    #[test]
    fn min_time_keeps_measuring() {
        let mut s = fake(2);
        let opts = BenchOptions {
            min_time: Duration::from_millis(60),
            ..quick()
        };
        let m = measure(&mut s, &opts).unwrap();
        assert!(m.total_ms >= 60.0, "{}", m.total_ms);
        assert!(m.iterations >= 5);
        // Each sample holds one 2 ms sleep.
        assert!(m.stats.min_ms >= 2.0, "{:?}", m.stats);
    }

    #[test]
    fn max_time_caps_but_keeps_one_iteration() {
        let mut s = fake(30);
        let opts = BenchOptions {
            min_iterations: 1000,
            max_time: Duration::from_millis(50),
            warmup_min_iterations: 1000,
            ..quick()
        };
        let m = measure(&mut s, &opts).unwrap();
        assert!(m.hit_max_time);
        assert!(m.iterations >= 1 && m.iterations < 10, "{}", m.iterations);
        assert!(m.warmup_iterations < 10, "{}", m.warmup_iterations);
    }

    #[test]
    fn fixed_iterations_are_exact() {
        let mut s = fake(0);
        let opts = BenchOptions {
            iterations: Some(7),
            min_iterations: 1000,
            min_time: Duration::from_secs(100),
            ..quick()
        };
        let m = measure(&mut s, &opts).unwrap();
        assert_eq!(m.iterations, 7);
        let m = measure(
            &mut fake(0),
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
            ..fake(0)
        };
        let e = measure(&mut s, &quick()).unwrap_err();
        assert!(e.to_string().contains("boom"));
    }

    #[derive(Default)]
    struct Log(Vec<&'static str>);
    impl Window for Log {
        fn begin(&mut self) {
            self.0.push("begin");
        }
        fn end(&mut self) {
            self.0.push("end");
        }
    }

    #[test]
    fn the_window_spans_the_measured_phase_even_on_failure() {
        let mut log = Log::default();
        let m = measure_with(&mut fake(0), &quick(), &mut log).unwrap();
        assert_eq!(m.iterations, 5);
        assert_eq!(log.0, ["begin", "end"]);
        let mut log = Log::default();
        let mut s = Fake {
            fail_at: Some(7),
            ..fake(0)
        };
        assert!(measure_with(&mut s, &quick(), &mut log).is_err());
        assert_eq!(log.0, ["begin", "end"]);
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
        measure(&mut Core(&mut s), &quick()).unwrap();
        assert_eq!((s.runs, s.core_runs), (0, 1 + 3 + 5));
        measure(&mut s, &quick()).unwrap();
        assert_eq!((s.runs, s.core_runs), (9, 9));
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
        assert_eq!(j["min_time"], 2.0);
        assert_eq!(j["warmup_min_time"], 0.5);
        assert_eq!(serde_json::from_value::<BenchOptions>(j).unwrap(), o);
        let partial: BenchOptions = serde_json::from_str(r#"{"iterations": 3}"#).unwrap();
        assert_eq!(partial.iterations, Some(3));
        assert_eq!(partial.min_iterations, 100);
        assert!(serde_json::from_str::<BenchOptions>(r#"{"min_time": -1}"#).is_err());
    }
}
