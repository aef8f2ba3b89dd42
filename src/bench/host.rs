//! Host noise, measured rather than guessed: how much CPU other processes
//! took while a row ran, how long the worker's threads waited for a CPU,
//! VM steal time, the load average and the CPU clock. Linux `/proc` and
//! `/sys`; elsewhere, or where a file is unreadable, the field stays `None`.
//!
//! - other processes' CPU: busy time of all CPUs (`/proc/stat`: user, nice,
//!   system, irq, softirq) minus the worker's own CPU time
//!   (`CLOCK_PROCESS_CPUTIME_ID`, all its threads), over the window. The
//!   kernel counts `/proc/stat` in clock ticks (1/100 s), so a short window
//!   is coarse: `other_cores_resolution` says by how much;
//! - the wait: the worker's threads' run-queue delay against their run time
//!   (`/proc/self/task/*/schedstat`, nanoseconds) over warm-up and measuring:
//!   of the time its threads were ready to run, the share no CPU was free
//!   for them;
//! - steal: `/proc/stat`'s steal column, the time a hypervisor gave this
//!   VM's CPUs to another guest;
//! - the load average (`/proc/loadavg`, 1 minute) at the end of the row;
//! - the CPU clock: the highest `scaling_cur_freq` (or `/proc/cpuinfo`'s
//!   `cpu MHz`) over the CPUs the worker may use, sampled a few times.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

/// What the host did while a row ran. Written into the row's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostNoise {
    /// Seconds covered by the CPU counters (worker start to the end of
    /// measuring).
    pub window_s: f64,
    /// Online CPUs of the machine.
    pub cpus: u32,
    /// CPUs this worker may run on (its affinity mask).
    pub allowed_cpus: u32,
    /// CPU time other processes used, in cores (0.9 = 90% of one core).
    pub other_cores: Option<f64>,
    /// How coarse `other_cores` is over this window (clock ticks).
    pub other_cores_resolution: Option<f64>,
    /// CPU time the worker used, in cores.
    pub own_cores: Option<f64>,
    /// Over warm-up and measuring, of the time the worker's threads were
    /// ready to run, the % they waited for a CPU (all threads together).
    pub wait_pct: Option<f64>,
    /// VM steal time, in % of all CPU time of the window.
    pub steal_pct: Option<f64>,
    /// Load average over 1 minute at the end of the row.
    pub loadavg: Option<f64>,
    /// Lowest and highest CPU clock seen (MHz).
    pub cpu_mhz_min: Option<f64>,
    pub cpu_mhz_max: Option<f64>,
}

impl HostNoise {
    /// The noisier of two (trials of one row): the larger of each figure.
    pub fn worst(&self, other: &HostNoise) -> HostNoise {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        HostNoise {
            window_s: self.window_s + other.window_s,
            cpus: self.cpus.max(other.cpus),
            allowed_cpus: self.allowed_cpus.max(other.allowed_cpus),
            other_cores: max(self.other_cores, other.other_cores),
            other_cores_resolution: max(self.other_cores_resolution, other.other_cores_resolution),
            own_cores: max(self.own_cores, other.own_cores),
            wait_pct: max(self.wait_pct, other.wait_pct),
            steal_pct: max(self.steal_pct, other.steal_pct),
            loadavg: max(self.loadavg, other.loadavg),
            cpu_mhz_min: min(self.cpu_mhz_min, other.cpu_mhz_min),
            cpu_mhz_max: max(self.cpu_mhz_max, other.cpu_mhz_max),
        }
    }
}

/// `/proc/stat`'s first line, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct CpuTicks {
    busy: u64,
    steal: u64,
    total: u64,
}

/// Parses the aggregate `cpu  user nice system idle iowait irq softirq steal ...` line.
fn parse_cpu_line(stat: &str) -> Option<CpuTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // guest and guest_nice are already inside user and nice.
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    let steal = at(7);
    Some(CpuTicks {
        busy,
        steal,
        total: busy + at(3) + at(4) + steal,
    })
}

fn online_cpus(stat: &str) -> u32 {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u32
}

/// The worker's CPU time so far (all threads, live and ended), seconds.
fn own_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Run time and run-queue delay (ns) of each of this process's threads, by
/// thread id.
fn thread_waits() -> Option<HashMap<u32, (u64, u64)>> {
    let mut out = HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // "<run ns> <wait ns> <timeslices>"; a thread gone since read_dir is skipped.
        if let Ok(s) = std::fs::read_to_string(entry.path().join("schedstat")) {
            let mut f = s.split_whitespace().map(|w| w.parse::<u64>().ok());
            if let (Some(Some(run)), Some(Some(wait))) = (f.next(), f.next()) {
                out.insert(tid, (run, wait));
            }
        }
    }
    Some(out)
}

/// Clock ticks per second of `/proc/stat`.
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity
    // fills it for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// The highest current clock (MHz) over `cpus`: sysfs `scaling_cur_freq`
/// where the kernel has cpufreq, else `/proc/cpuinfo`.
pub fn cpu_mhz(cpus: &[usize]) -> Option<f64> {
    let sysfs = cpus
        .iter()
        .filter_map(|c| {
            let p = format!("/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_cur_freq");
            let khz: f64 = std::fs::read_to_string(p).ok()?.trim().parse().ok()?;
            Some(khz / 1e3)
        })
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    if sysfs.is_some() {
        return sysfs;
    }
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo_mhz(&info, cpus)
}

/// `cpu MHz` of the `processor` blocks whose number is in `cpus`, highest.
fn cpuinfo_mhz(info: &str, cpus: &[usize]) -> Option<f64> {
    let mut cpu = None;
    let mut best: Option<f64> = None;
    for line in info.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => cpu = value.trim().parse::<usize>().ok(),
            "cpu MHz" if cpu.is_some_and(|c| cpus.is_empty() || cpus.contains(&c)) => {
                if let Ok(v) = value.trim().parse::<f64>() {
                    best = Some(best.map_or(v, |b| b.max(v)));
                }
            }
            _ => {}
        }
    }
    best
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Counters at one instant.
struct Snapshot {
    at: Instant,
    ticks: Option<CpuTicks>,
    own_cpu_s: f64,
}

impl Snapshot {
    fn now() -> Snapshot {
        let stat = std::fs::read_to_string("/proc/stat").ok();
        Snapshot {
            at: Instant::now(),
            ticks: stat.as_deref().and_then(parse_cpu_line),
            own_cpu_s: own_cpu_s(),
        }
    }
}

/// Watches the host over one row: [`HostMonitor::start`] when the worker
/// starts, [`measure_begin`](HostMonitor::measure_begin) and
/// [`measure_end`](HostMonitor::measure_end) around warm-up and the measured
/// iterations, [`sample_clock`](HostMonitor::sample_clock) now and then
/// (never inside a timed region), then [`finish`](HostMonitor::finish).
pub struct HostMonitor {
    start: Snapshot,
    cpus: u32,
    allowed: Vec<usize>,
    wait_begin: Option<HashMap<u32, (u64, u64)>>,
    wait_pct: Option<f64>,
    mhz: Vec<f64>,
    end: Option<Snapshot>,
}

impl HostMonitor {
    pub fn start() -> HostMonitor {
        let cpus = std::fs::read_to_string("/proc/stat")
            .map(|s| online_cpus(&s))
            .unwrap_or(0);
        let allowed = allowed_cpus();
        let mut m = HostMonitor {
            start: Snapshot::now(),
            cpus,
            allowed,
            wait_begin: None,
            wait_pct: None,
            mhz: Vec::new(),
            end: None,
        };
        m.sample_clock();
        m
    }

    /// Reads the CPU clock once more (outside timed regions).
    pub fn sample_clock(&mut self) {
        if let Some(v) = cpu_mhz(&self.allowed) {
            self.mhz.push(v);
        }
    }

    /// Warm-up (whose last block may become measured samples) begins.
    pub fn measure_begin(&mut self) {
        self.wait_begin = thread_waits();
    }

    /// The measured iterations ended.
    pub fn measure_end(&mut self) {
        self.end = Some(Snapshot::now());
        if let (Some(before), Some(after)) = (self.wait_begin.take(), thread_waits()) {
            // Threads alive at both ends count their difference; threads
            // started in between count all of theirs.
            let (mut ran, mut waited) = (0u64, 0u64);
            for (tid, (run, wait)) in &after {
                let (run0, wait0) = before.get(tid).copied().unwrap_or((0, 0));
                ran += run.saturating_sub(run0);
                waited += wait.saturating_sub(wait0);
            }
            if ran + waited > 0 {
                self.wait_pct = Some(100.0 * waited as f64 / (ran + waited) as f64);
            }
        }
        self.sample_clock();
    }

    /// The row's host noise, from the start to the end of measuring (or now).
    pub fn finish(mut self) -> HostNoise {
        let end = self.end.take().unwrap_or_else(Snapshot::now);
        let window = end.at.duration_since(self.start.at).as_secs_f64();
        let own = end.own_cpu_s - self.start.own_cpu_s;
        let hz = ticks_per_s();
        let (mut other, mut resolution, mut steal) = (None, None, None);
        if let (Some(a), Some(b)) = (self.start.ticks, end.ticks)
            && window > 0.0
        {
            let busy_s = b.busy.saturating_sub(a.busy) as f64 / hz;
            other = Some(((busy_s - own) / window).max(0.0));
            // Every CPU's counter may be a tick off at each end.
            resolution = Some(self.cpus.max(1) as f64 / hz / window);
            let total = b.total.saturating_sub(a.total);
            if total > 0 {
                steal = Some(100.0 * b.steal.saturating_sub(a.steal) as f64 / total as f64);
            }
        }
        let mhz = |f: fn(f64, f64) -> f64| self.mhz.iter().copied().reduce(f);
        HostNoise {
            window_s: window,
            cpus: self.cpus,
            allowed_cpus: self.allowed.len() as u32,
            other_cores: other,
            other_cores_resolution: resolution,
            own_cores: (window > 0.0).then(|| own / window),
            wait_pct: self.wait_pct,
            steal_pct: steal,
            loadavg: loadavg(),
            cpu_mhz_min: mhz(f64::min),
            cpu_mhz_max: mhz(f64::max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let stat = "cpu  100 5 20 1000 7 3 2 11 0 0\ncpu0 50 0 10 500 3 1 1 5 0 0\ncpu1 50 5 10 500 4 2 1 6 0 0\nintr 1\n";
        let t = parse_cpu_line(stat).unwrap();
        assert_eq!(t.busy, 100 + 5 + 20 + 3 + 2);
        assert_eq!(t.steal, 11);
        assert_eq!(t.total, 130 + 1000 + 7 + 11);
        assert_eq!(online_cpus(stat), 2);
        assert!(parse_cpu_line("nothing").is_none());
    }

    #[test]
    fn cpuinfo_clock_of_the_allowed_cpus() {
        let info = "processor\t: 0\ncpu MHz\t\t: 2000.5\n\nprocessor\t: 1\ncpu MHz\t\t: 3100.0\n";
        assert_eq!(cpuinfo_mhz(info, &[0]), Some(2000.5));
        assert_eq!(cpuinfo_mhz(info, &[0, 1]), Some(3100.0));
        assert_eq!(cpuinfo_mhz(info, &[]), Some(3100.0));
        assert_eq!(cpuinfo_mhz("", &[0]), None);
    }

    /// A spinning thread shows up as this process's own CPU time, not as
    /// other processes'; a child process spinning shows up as other
    /// processes' CPU. Run alone in a child process: the test harness's
    /// other threads would count as this process's own.
    #[test]
    fn own_and_other_cpu_are_told_apart() {
        if std::env::var_os("TURNKEY_TEST_HOST_CHILD").is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "bench::host::tests::own_and_other_cpu_are_told_apart",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env("TURNKEY_TEST_HOST_CHILD", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let spin = |d: std::time::Duration| {
            let t = Instant::now();
            while t.elapsed() < d {
                std::hint::black_box(0);
            }
        };
        let mut m = HostMonitor::start();
        m.measure_begin();
        spin(std::time::Duration::from_millis(600));
        m.measure_end();
        let h = m.finish();
        assert!(h.window_s >= 0.6, "{h:?}");
        assert!(h.cpus >= 1 && h.allowed_cpus >= 1, "{h:?}");
        // One spinning thread either runs or waits for a CPU (the machine
        // may be busy): the two add up to the window.
        let own = h.own_cores.unwrap();
        let waited = h.wait_pct.unwrap() / 100.0;
        assert!((own + waited - 1.0).abs() < 0.15, "{h:?}");
        assert!(h.other_cores.is_some() && h.other_cores_resolution.unwrap() < 0.5);
        assert!(h.loadavg.is_some());

        // Another process spinning for the whole window.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut m = HostMonitor::start();
        m.measure_begin();
        std::thread::sleep(std::time::Duration::from_millis(1000));
        m.measure_end();
        let h = m.finish();
        let _ = child.kill();
        let _ = child.wait();
        // The child used most of a core (the machine may be busier still).
        assert!(h.other_cores.unwrap() > 0.5, "{h:?}");
        assert!(h.own_cores.unwrap() < 0.2, "{h:?}");
    }

    #[test]
    fn worst_of_two() {
        let a = HostNoise {
            window_s: 1.0,
            other_cores: Some(0.2),
            cpu_mhz_min: Some(2000.0),
            cpu_mhz_max: Some(2100.0),
            ..Default::default()
        };
        let b = HostNoise {
            window_s: 2.0,
            other_cores: Some(0.9),
            steal_pct: Some(3.0),
            cpu_mhz_min: Some(1800.0),
            cpu_mhz_max: Some(2000.0),
            ..Default::default()
        };
        let w = a.worst(&b);
        assert_eq!(w.window_s, 3.0);
        assert_eq!(w.other_cores, Some(0.9));
        assert_eq!(w.steal_pct, Some(3.0));
        assert_eq!((w.cpu_mhz_min, w.cpu_mhz_max), (Some(1800.0), Some(2100.0)));
    }
}
