//! NVIDIA GPU telemetry through NVML (`nvml-wrapper`), which loads
//! `libnvidia-ml.so.1` at run time: the binary builds and runs without a
//! driver, and then every function here says "no NVIDIA GPU" instead of
//! failing.
//!
//! [`probe`] reads the machine (driver, CUDA version, GPUs) for the system
//! info; a [`Sampler`] thread reads one GPU every few tens of milliseconds
//! during a measured window and [`Sampler::stop`] sums it up as
//! [`GpuTelemetry`]. Imports nothing else of ours.

use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nvml_wrapper::Nvml;
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;

/// The one line printed or recorded on a machine without NVML.
pub const NO_GPU: &str = "no NVIDIA GPU";

/// The default sampling interval (the issue asks for 10-50 ms).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(20);

/// The NVIDIA driver and its GPUs, as NVML sees them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuSystem {
    /// Driver version, e.g. `550.54.15`.
    pub driver: String,
    /// The CUDA version the driver supports, e.g. `12.4`.
    pub cuda: String,
    pub gpus: Vec<GpuInfo>,
}

/// One GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// NVML's index (PCI order).
    pub index: u32,
    pub name: String,
    /// Total device memory, MiB.
    pub memory_mb: f64,
    pub uuid: String,
}

/// Why NVML cannot be used, as the one line to show: `no NVIDIA GPU (...)`.
fn no_gpu(why: impl std::fmt::Display) -> String {
    format!("{NO_GPU} ({why})")
}

fn init() -> Result<Nvml, String> {
    Nvml::init().map_err(no_gpu)
}

/// Reads the driver and the GPUs; `Err` is the "no NVIDIA GPU" line.
pub fn probe() -> Result<GpuSystem, String> {
    let nvml = init()?;
    let driver = nvml.sys_driver_version().map_err(no_gpu)?;
    let cuda = nvml
        .sys_cuda_driver_version()
        .map(|v| {
            format!(
                "{}.{}",
                nvml_wrapper::cuda_driver_version_major(v),
                nvml_wrapper::cuda_driver_version_minor(v)
            )
        })
        .unwrap_or_default();
    let count = nvml.device_count().map_err(no_gpu)?;
    if count == 0 {
        return Err(no_gpu("the driver reports no devices"));
    }
    let mut gpus = Vec::new();
    for index in 0..count {
        let Ok(d) = nvml.device_by_index(index) else {
            continue;
        };
        gpus.push(GpuInfo {
            index,
            name: d.name().unwrap_or_default(),
            memory_mb: d.memory_info().map_or(0.0, |m| mib(m.total)),
            uuid: d.uuid().unwrap_or_default(),
        });
    }
    Ok(GpuSystem { driver, cuda, gpus })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How NVML finds the GPU that CUDA calls `cuda:N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Index(u32),
    Uuid(String),
}

/// Maps CUDA's device `n` to NVML through `CUDA_VISIBLE_DEVICES` (indices
/// or `GPU-...` UUIDs). Without it, CUDA's order is taken as NVML's (PCI)
/// order, which holds for one GPU and under `CUDA_DEVICE_ORDER=PCI_BUS_ID`.
pub fn target(cuda_index: u32, visible: Option<&str>) -> Target {
    let Some(list) = visible.map(str::trim).filter(|v| !v.is_empty()) else {
        return Target::Index(cuda_index);
    };
    match list.split(',').nth(cuda_index as usize).map(str::trim) {
        Some(e) if e.starts_with("GPU-") || e.starts_with("MIG-") => Target::Uuid(e.to_string()),
        Some(e) => e
            .parse()
            .map(Target::Index)
            .unwrap_or(Target::Index(cuda_index)),
        None => Target::Index(cuda_index),
    }
}

/// What the sampler saw during a measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuTelemetry {
    /// The GPU's name.
    pub device: String,
    /// Samples taken.
    pub samples: u64,
    /// The sampling interval asked for, ms.
    pub interval_ms: f64,
    /// Peak device memory used by this process (NVML's per-process figure),
    /// else by the whole device, MiB.
    pub peak_mem_mb: Option<f64>,
    /// Which of the two `peak_mem_mb` is: `process` or `device`.
    pub peak_mem_scope: Option<String>,
    pub util_mean_pct: Option<f64>,
    pub util_max_pct: Option<f64>,
    pub power_mean_w: Option<f64>,
    pub power_max_w: Option<f64>,
    pub temp_max_c: Option<f64>,
    pub sm_clock_mean_mhz: Option<f64>,
    pub sm_clock_max_mhz: Option<f64>,
    /// Lowest SM clock sampled, MHz.
    pub sm_clock_min_mhz: Option<f64>,
    /// Clock throttle reasons NVML gave while measuring, other than an idle
    /// GPU or a clock setting (`sw_power_cap`, `hw_slowdown`,
    /// `sw_thermal_slowdown`, `hw_thermal_slowdown`, `hw_power_brake_slowdown`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub throttle_reasons: Vec<String>,
}

/// The throttle reasons that slow a busy GPU down, by name.
const THROTTLES: [(ThrottleReasons, &str); 5] = [
    (ThrottleReasons::SW_POWER_CAP, "sw_power_cap"),
    (ThrottleReasons::HW_SLOWDOWN, "hw_slowdown"),
    (ThrottleReasons::SW_THERMAL_SLOWDOWN, "sw_thermal_slowdown"),
    (ThrottleReasons::HW_THERMAL_SLOWDOWN, "hw_thermal_slowdown"),
    (
        ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
        "hw_power_brake_slowdown",
    ),
];

/// The names of the slowing reasons in NVML's bit mask `bits`.
pub fn throttle_names(bits: u64) -> Vec<String> {
    let seen = ThrottleReasons::from_bits_truncate(bits);
    THROTTLES
        .iter()
        .filter(|(r, _)| seen.contains(*r))
        .map(|(_, n)| n.to_string())
        .collect()
}

/// One reading; a field NVML refused stays `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub process_mem_mb: Option<f64>,
    pub device_mem_mb: Option<f64>,
    pub util_pct: Option<f64>,
    pub power_w: Option<f64>,
    pub temp_c: Option<f64>,
    pub sm_clock_mhz: Option<f64>,
    /// NVML's clock throttle reasons, as its bit mask.
    pub throttle: Option<u64>,
}

/// Running mean and maximum of one quantity.
#[derive(Clone, Copy, Debug, Default)]
struct Stat {
    n: u64,
    sum: f64,
    max: Option<f64>,
}

impl Stat {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.n += 1;
            self.sum += v;
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }
    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// Sums samples up into a [`GpuTelemetry`].
#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    samples: u64,
    process_mem: Stat,
    device_mem: Stat,
    util: Stat,
    power: Stat,
    temp: Stat,
    clock: Stat,
    clock_min: Option<f64>,
    throttle: u64,
}

impl Accumulator {
    pub fn add(&mut self, s: &Sample) {
        self.samples += 1;
        self.process_mem.add(s.process_mem_mb);
        self.device_mem.add(s.device_mem_mb);
        self.util.add(s.util_pct);
        self.power.add(s.power_w);
        self.temp.add(s.temp_c);
        self.clock.add(s.sm_clock_mhz);
        if let Some(c) = s.sm_clock_mhz.filter(|c| c.is_finite()) {
            self.clock_min = Some(self.clock_min.map_or(c, |m| m.min(c)));
        }
        self.throttle |= s.throttle.unwrap_or(0);
    }

    pub fn finish(&self, device: &str, interval: Duration) -> GpuTelemetry {
        let (peak, scope) = match (self.process_mem.max, self.device_mem.max) {
            (Some(p), _) => (Some(p), Some("process".to_string())),
            (None, Some(d)) => (Some(d), Some("device".to_string())),
            _ => (None, None),
        };
        GpuTelemetry {
            device: device.to_string(),
            samples: self.samples,
            interval_ms: interval.as_secs_f64() * 1e3,
            peak_mem_mb: peak,
            peak_mem_scope: scope,
            util_mean_pct: self.util.mean(),
            util_max_pct: self.util.max,
            power_mean_w: self.power.mean(),
            power_max_w: self.power.max,
            temp_max_c: self.temp.max,
            sm_clock_mean_mhz: self.clock.mean(),
            sm_clock_max_mhz: self.clock.max,
            sm_clock_min_mhz: self.clock_min,
            throttle_reasons: throttle_names(self.throttle),
        }
    }
}

/// A thread sampling one GPU until [`Sampler::stop`].
pub struct Sampler {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<GpuTelemetry>,
}

impl Sampler {
    /// Starts sampling CUDA device `cuda_index` every `interval`. `Err` is
    /// the "no NVIDIA GPU" line (or why that GPU cannot be read).
    pub fn start(cuda_index: u32, interval: Duration) -> Result<Sampler, String> {
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let want = target(cuda_index, visible.as_deref());
        let pid = std::process::id();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("turnkey-nvml".into())
            .spawn(move || {
                // NVML handles stay on this thread: nothing of it crosses.
                let nvml = match init() {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return GpuTelemetry::default();
                    }
                };
                let device = match &want {
                    Target::Index(i) => nvml.device_by_index(*i),
                    Target::Uuid(u) => nvml.device_by_uuid(u.as_str()),
                };
                let device = match device {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!(
                            "NVML cannot open CUDA device {cuda_index} ({want:?}): {e}"
                        )));
                        return GpuTelemetry::default();
                    }
                };
                let name = device.name().unwrap_or_default();
                let _ = ready_tx.send(Ok(()));
                let mut acc = Accumulator::default();
                let read = || Sample {
                    process_mem_mb: device.running_compute_processes().ok().and_then(|ps| {
                        ps.iter()
                            .find(|p| p.pid == pid)
                            .and_then(|p| match p.used_gpu_memory {
                                UsedGpuMemory::Used(b) => Some(mib(b)),
                                UsedGpuMemory::Unavailable => None,
                            })
                    }),
                    device_mem_mb: device.memory_info().ok().map(|m| mib(m.used)),
                    util_pct: device.utilization_rates().ok().map(|u| f64::from(u.gpu)),
                    power_w: device.power_usage().ok().map(|mw| f64::from(mw) / 1e3),
                    temp_c: device
                        .temperature(TemperatureSensor::Gpu)
                        .ok()
                        .map(f64::from),
                    sm_clock_mhz: device.clock_info(Clock::SM).ok().map(f64::from),
                    throttle: device.current_throttle_reasons().ok().map(|r| r.bits()),
                };
                loop {
                    let t = Instant::now();
                    acc.add(&read());
                    let wait = interval.saturating_sub(t.elapsed());
                    match stop_rx.recv_timeout(wait) {
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        // Stopped (or the owner is gone): one last reading.
                        _ => {
                            acc.add(&read());
                            break;
                        }
                    }
                }
                acc.finish(&name, interval)
            })
            .map_err(|e| format!("cannot start the NVML sampling thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Sampler {
                stop: stop_tx,
                handle,
            }),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => {
                let _ = handle.join();
                Err("the NVML sampling thread ended early".into())
            }
        }
    }

    /// Stops sampling and returns the summary.
    pub fn stop(self) -> GpuTelemetry {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_means_and_maxima() {
        let mut a = Accumulator::default();
        a.add(&Sample {
            device_mem_mb: Some(100.0),
            util_pct: Some(50.0),
            power_w: Some(100.0),
            temp_c: Some(40.0),
            sm_clock_mhz: Some(1000.0),
            ..Default::default()
        });
        a.add(&Sample {
            device_mem_mb: Some(300.0),
            util_pct: Some(100.0),
            power_w: Some(300.0),
            temp_c: Some(60.0),
            sm_clock_mhz: Some(2000.0),
            ..Default::default()
        });
        a.add(&Sample::default());
        let t = a.finish("H100", Duration::from_millis(20));
        assert_eq!(t.samples, 3);
        assert_eq!(t.device, "H100");
        assert_eq!(t.interval_ms, 20.0);
        assert_eq!(t.peak_mem_mb, Some(300.0));
        assert_eq!(t.peak_mem_scope.as_deref(), Some("device"));
        assert_eq!(t.util_mean_pct, Some(75.0));
        assert_eq!(t.util_max_pct, Some(100.0));
        assert_eq!(t.power_mean_w, Some(200.0));
        assert_eq!(t.power_max_w, Some(300.0));
        assert_eq!(t.temp_max_c, Some(60.0));
        assert_eq!(t.sm_clock_mean_mhz, Some(1500.0));
        assert_eq!(t.sm_clock_max_mhz, Some(2000.0));
        // The process's own figure wins over the device's when NVML has it.
        a.add(&Sample {
            process_mem_mb: Some(42.0),
            ..Default::default()
        });
        let t = a.finish("H100", Duration::from_millis(20));
        assert_eq!(t.peak_mem_mb, Some(42.0));
        assert_eq!(t.peak_mem_scope.as_deref(), Some("process"));
        assert_eq!(t.sm_clock_min_mhz, Some(1000.0));
        assert!(t.throttle_reasons.is_empty());
        a.add(&Sample {
            throttle: Some(
                (ThrottleReasons::GPU_IDLE | ThrottleReasons::SW_THERMAL_SLOWDOWN).bits(),
            ),
            ..Default::default()
        });
        a.add(&Sample {
            throttle: Some(ThrottleReasons::SW_POWER_CAP.bits()),
            ..Default::default()
        });
        let t = a.finish("H100", Duration::from_millis(20));
        assert_eq!(t.throttle_reasons, ["sw_power_cap", "sw_thermal_slowdown"]);
        let empty = Accumulator::default().finish("x", DEFAULT_INTERVAL);
        assert_eq!((empty.peak_mem_mb, empty.util_mean_pct), (None, None));
    }

    #[test]
    fn cuda_visible_devices_maps_to_nvml() {
        assert_eq!(target(1, None), Target::Index(1));
        assert_eq!(target(1, Some("")), Target::Index(1));
        assert_eq!(target(0, Some("3,2")), Target::Index(3));
        assert_eq!(target(1, Some("3, 2")), Target::Index(2));
        assert_eq!(target(0, Some("GPU-abc,1")), Target::Uuid("GPU-abc".into()));
        assert_eq!(target(5, Some("0")), Target::Index(5));
    }

    /// This machine may or may not have a GPU: either NVML answers, or the
    /// answer is the one "no NVIDIA GPU" line, never a panic or another error.
    #[test]
    fn probe_and_sampler_answer_or_say_no_gpu() {
        match probe() {
            Ok(sys) => {
                assert!(!sys.driver.is_empty());
                assert!(!sys.gpus.is_empty());
                let s = Sampler::start(0, Duration::from_millis(10)).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                let t = s.stop();
                assert!(t.samples >= 2, "{t:?}");
            }
            Err(line) => {
                assert!(line.starts_with("no NVIDIA GPU ("), "{line}");
                let e = Sampler::start(0, DEFAULT_INTERVAL).err().unwrap();
                assert!(e.starts_with("no NVIDIA GPU ("), "{e}");
            }
        }
    }
}
