//! `--pin`: CPU affinity for the worker and its threads, as OpenVINO's
//! benchmark_app `-pin` does. The worker is confined to the chosen CPUs
//! before the runtime starts any thread (threads inherit the mask); after
//! the first inference, when the runtime's thread pool exists, each thread
//! is pinned to one of those CPUs in turn, so none migrates while measuring.

/// `0-3,6` → `[0, 1, 2, 3, 6]` (sorted, without repeats).
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("'{list}' has an empty item: write CPUs like 0-3,6"));
        }
        let num = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| {
                format!("'{s}' in '{list}' is not a CPU number: write CPUs like 0-3,6")
            })
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("'{part}' in '{list}' is a backward range"));
                }
                if b >= libc::CPU_SETSIZE as usize {
                    return Err(format!(
                        "CPU {b} is beyond the {} CPUs Linux allows",
                        libc::CPU_SETSIZE
                    ));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The CPUs a pinned worker uses: `list` (`auto` = the first `threads` CPUs
/// this process may use, all of them when `threads` is 0), each checked
/// against the allowed set.
pub fn choose(list: &str, threads: usize, allowed: &[usize]) -> Result<Vec<usize>, String> {
    if allowed.is_empty() {
        return Err("cannot read this process's CPU affinity".into());
    }
    let shown = || {
        allowed
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if list == "auto" {
        let n = if threads == 0 {
            allowed.len()
        } else {
            threads.min(allowed.len())
        };
        return Ok(allowed[..n].to_vec());
    }
    let cpus = parse_cpu_list(list)?;
    if let Some(c) = cpus.iter().find(|c| !allowed.contains(c)) {
        return Err(format!(
            "CPU {c} is not available to turnkey (it may use {}): pass CPUs from that list",
            shown()
        ));
    }
    Ok(cpus)
}

fn set_of(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays in bounds
    // because every CPU was checked against CPU_SETSIZE or the allowed set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        set
    }
}

fn set_affinity(tid: libc::pid_t, cpus: &[usize]) -> std::io::Result<()> {
    let set = set_of(cpus);
    // SAFETY: sched_setaffinity reads the set we pass; tid 0 is this thread.
    let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Confines the whole process (every thread it has and will start) to `cpus`.
pub fn pin_process(cpus: &[usize]) -> Result<(), String> {
    let tids = threads();
    for tid in if tids.is_empty() { vec![0] } else { tids } {
        set_affinity(tid, cpus).map_err(|e| format!("cannot pin to CPUs {cpus:?}: {e}"))?;
    }
    Ok(())
}

/// Pins each thread of this process to one CPU of `cpus`, in turn (the
/// main thread to the first). Returns how many threads were pinned.
pub fn pin_each_thread(cpus: &[usize]) -> Result<usize, String> {
    if cpus.is_empty() {
        return Ok(0);
    }
    let tids = threads();
    for (i, &tid) in tids.iter().enumerate() {
        let cpu = cpus[i % cpus.len()];
        // A thread that ended since the listing is not an error.
        match set_affinity(tid, &[cpu]) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(format!("cannot pin thread {tid} to CPU {cpu}: {e}")),
        }
    }
    Ok(tids.len())
}

/// This process's thread ids, the main thread first.
fn threads() -> Vec<libc::pid_t> {
    let mut tids: Vec<libc::pid_t> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// The CPUs, as `0,1,2`.
pub fn show(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,6").unwrap(), vec![0, 1, 2, 3, 6]);
        assert_eq!(parse_cpu_list("2, 1,2").unwrap(), vec![1, 2]);
        for bad in ["", "a", "3-1", "1,,2", "0-99999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn choosing_cpus() {
        let allowed = [0, 1, 2, 3];
        assert_eq!(choose("auto", 0, &allowed).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(choose("auto", 2, &allowed).unwrap(), vec![0, 1]);
        assert_eq!(choose("auto", 9, &allowed).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(choose("1,3", 0, &allowed).unwrap(), vec![1, 3]);
        let e = choose("5", 0, &allowed).unwrap_err();
        assert!(
            e.contains("CPU 5 is not available") && e.contains("0,1,2,3"),
            "{e}"
        );
    }

    /// In a child process (pinning is per process): pin, start a thread,
    /// check both masks.
    #[test]
    fn pins_a_process_and_its_threads() {
        if std::env::var_os("TURNKEY_TEST_PIN_CHILD").is_some() {
            let allowed = crate::bench::host::allowed_cpus();
            let cpus = choose("auto", 1, &allowed).unwrap();
            pin_process(&cpus).unwrap();
            assert_eq!(crate::bench::host::allowed_cpus(), cpus);
            let h = std::thread::spawn(crate::bench::host::allowed_cpus);
            assert_eq!(h.join().unwrap(), cpus);
            assert!(pin_each_thread(&cpus).unwrap() >= 1);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bench::pin::tests::pins_a_process_and_its_threads",
            ])
            .env("TURNKEY_TEST_PIN_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
