//! The machine a build ran on, read from /proc and /etc (Linux); other
//! systems get what the standard library knows.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The machine that ran a build.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemInfo {
    /// OS name (`NAME` in /etc/os-release), e.g. `Debian GNU/Linux`.
    pub os: String,
    /// OS version (`VERSION`, else `VERSION_ID`), e.g. `12 (bookworm)`.
    pub os_version: Option<String>,
    /// Kernel release, e.g. `6.1.0-18-amd64`.
    pub kernel: Option<String>,
    pub hostname: Option<String>,
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// Logical cores (hardware threads) available.
    pub logical_cores: usize,
    /// Physical cores, when /proc/cpuinfo says.
    pub physical_cores: Option<usize>,
    /// Total memory in GB (10^9 bytes).
    pub memory_gb: Option<f64>,
    /// NVIDIA GPU models, from the driver's /proc entries.
    pub gpus: Vec<String>,
    /// NVIDIA driver version.
    pub gpu_driver: Option<String>,
    /// The CUDA version the NVIDIA driver supports (NVML).
    pub cuda_version: Option<String>,
    /// What NVML said: `ok`, or the one line `no NVIDIA GPU (why)`.
    pub gpu_telemetry: Option<String>,
    /// The turnkey that wrote the record.
    pub turnkey_version: String,
}

impl SystemInfo {
    /// Reads the current machine. Never fails: what cannot be read is left empty.
    pub fn collect() -> SystemInfo {
        let os_release = read("/etc/os-release");
        let (os, os_version) = parse_os_release(os_release.as_deref().unwrap_or(""));
        let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
        let (cpu_model, physical_cores) = parse_cpuinfo(&cpuinfo);
        let mut info = SystemInfo {
            os: os.unwrap_or_else(|| std::env::consts::OS.to_string()),
            os_version,
            kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()),
            hostname: hostname(),
            cpu_model,
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            physical_cores,
            memory_gb: read("/proc/meminfo").and_then(|s| parse_meminfo_gb(&s)),
            gpus: nvidia_gpus(),
            gpu_driver: read("/proc/driver/nvidia/version").and_then(|s| parse_nvidia_driver(&s)),
            cuda_version: None,
            gpu_telemetry: None,
            turnkey_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        // NVML knows the GPUs even where /proc/driver/nvidia is hidden
        // (containers), and the CUDA version; without a driver: one line.
        match crate::telemetry::probe() {
            Ok(sys) => {
                if info.gpus.is_empty() {
                    info.gpus = sys.gpus.iter().map(|g| g.name.clone()).collect();
                }
                if info.gpu_driver.is_none() {
                    info.gpu_driver = Some(sys.driver);
                }
                info.cuda_version = (!sys.cuda.is_empty()).then_some(sys.cuda);
                info.gpu_telemetry = Some("ok".into());
            }
            Err(line) => info.gpu_telemetry = Some(line),
        }
        info
    }
}

fn read(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// This machine's host name (read once per process: every record load asks,
/// and a report reads thousands).
pub fn hostname() -> Option<String> {
    static HOSTNAME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HOSTNAME.get_or_init(read_hostname).clone()
}

fn read_hostname() -> Option<String> {
    if let Some(h) = read("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            return Some(h.to_string());
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates within it
    // on success (we also stop at the buffer end).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let h = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!h.is_empty()).then_some(h)
}

/// Whether process `pid` exists on this host (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return match read(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesized command name, which may hold spaces.
            Some(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| state != "Z" && state != "X"),
            None => false,
        };
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_string()
}

fn parse_os_release(text: &str) -> (Option<String>, Option<String>) {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(unquote)
            .filter(|v| !v.is_empty())
    };
    (get("NAME"), get("VERSION").or_else(|| get("VERSION_ID")))
}

/// Model name, and physical cores as distinct (physical id, core id) pairs.
fn parse_cpuinfo(text: &str) -> (Option<String>, Option<usize>) {
    let mut model = None;
    let mut cores = std::collections::BTreeSet::new();
    let mut physical_id = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            // "model name" on x86, "Model"/"CPU part" style keys elsewhere.
            "model name" | "Model" if model.is_none() && !value.is_empty() => {
                model = Some(value.to_string())
            }
            "physical id" => physical_id = Some(value.to_string()),
            "core id" => {
                cores.insert((physical_id.clone(), value.to_string()));
            }
            _ => {}
        }
    }
    (model, (!cores.is_empty()).then_some(cores.len()))
}

fn parse_meminfo_gb(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb * 1024.0 / 1e9 * 10.0).round() / 10.0)
}

/// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ..." → "550.54.15".
fn parse_nvidia_driver(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let after = line.split("Kernel Module").nth(1)?;
    after.split_whitespace().next().map(str::to_string)
}

fn nvidia_gpus() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs.iter()
        .filter_map(|d| read(d.join("information")))
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("Model:"))
                .map(|m| m.trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n";
        let (os, v) = parse_os_release(text);
        assert_eq!(os.as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(v.as_deref(), Some("12 (bookworm)"));
        let (_, v) = parse_os_release("NAME=Arch\nVERSION_ID=rolling\n");
        assert_eq!(v.as_deref(), Some("rolling"));
    }

    #[test]
    fn parses_cpuinfo_and_counts_physical_cores() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 9654\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 9654\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                    processor\t: 2\nmodel name\t: AMD EPYC 9654\nphysical id\t: 1\ncore id\t\t: 0\n";
        let (model, cores) = parse_cpuinfo(text);
        assert_eq!(model.as_deref(), Some("AMD EPYC 9654"));
        assert_eq!(cores, Some(2));
        assert_eq!(parse_cpuinfo("processor : 0\n").1, None);
    }

    #[test]
    fn parses_memory_and_driver() {
        assert_eq!(
            parse_meminfo_gb("MemTotal:       16384000 kB\n"),
            Some(16.8)
        );
        let v = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n";
        assert_eq!(parse_nvidia_driver(v).as_deref(), Some("550.54.15"));
    }

    #[test]
    fn collects_this_machine() {
        let s = SystemInfo::collect();
        assert!(s.logical_cores >= 1);
        assert!(!s.os.is_empty());
        assert_eq!(s.turnkey_version, env!("CARGO_PKG_VERSION"));
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(4_000_000));
    }
}
