//! Faults from outside the script: other processes, full disks, signals.
//! Each test runs the real binary on small models.

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;

fn successful_rows(cache: &Path) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for b in builds(cache) {
        let r = record(&b);
        for row in r["runtimes"].as_array().cloned().unwrap_or_default() {
            if row["status"] == "successful" {
                rows.push((
                    r["identity"]["name"].as_str().unwrap().to_string(),
                    row["runtime"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    rows.sort();
    rows
}

/// Two turnkey processes on one cache at once: no corrupt record, no lost
/// row, and the report has each build × runtime once.
#[test]
fn two_processes_on_one_cache_lose_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let scripts = selftest();
    let spawn = || {
        turnkey()
            .args(["-q", "-d", d, "--runtime", "tract", "--iterations", "5"])
            .args(["--warmup-iterations", "1", "--warmup-time", "0"])
            .args(&scripts)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let all = builds(cache.path());
    assert!(all.len() >= scripts.len());
    let rows = successful_rows(cache.path());
    assert_eq!(rows.len(), all.len(), "one tract row per build: {rows:?}");
    let out = tempfile::tempdir().unwrap();
    let r = run(&["report", "-d", d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = std::fs::read_to_string(out.path().join("turnkey-report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + all.len(), "{csv}");
}

/// A full disk while a record is updated: the error names the problem, the
/// previous record survives intact, and the exit code says it failed.
#[test]
fn a_full_disk_keeps_the_previous_record() {
    let Some(disk) = small_disk("2m") else {
        return;
    };
    let mnt = &disk.path;
    let cache = mnt.join("cache");
    let d = cache.to_str().unwrap();
    let base_args = ["-d", d, "--iterations", "3", "--warmup-iterations", "1"];
    let r = run(&[
        &base_args[..],
        &["--runtime", "tract", "models/selftest/linear.rhai"],
    ]
    .concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let build = builds(&cache).remove(0);
    let before = std::fs::read(build.join("record.json")).unwrap();
    // Fill the disk to the last byte.
    let mut fill = std::fs::File::create(mnt.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    use std::io::Write;
    while fill.write_all(&chunk).is_ok() {}
    let mut one = [0u8; 1];
    while fill.write_all(&one[..]).is_ok() {
        one[0] = 1;
    }
    drop(fill);
    // A new runtime row for the same build must write into the full disk.
    let r = run(&[
        &base_args[..],
        &["--runtime", "ort", "models/selftest/linear.rhai"],
    ]
    .concat());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("No space left on device"),
        "the error says why: {}",
        r.stderr
    );
    let after = std::fs::read(build.join("record.json")).unwrap();
    assert_eq!(before, after, "the previous record is intact");
    // No half-written temporary files are left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&build)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A tmpfs mounted at `path`, unmounted (then removed) when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
    _base: tempfile::TempDir,
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Mounts a tmpfs of `size` at a fresh folder (root only); None says why not.
fn small_disk(size: &str) -> Option<SmallDisk> {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return None;
    }
    let base = tempfile::tempdir().unwrap();
    let path = base.path().join("disk");
    std::fs::create_dir(&path).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here");
        return None;
    }
    Some(SmallDisk { path, _base: base })
}

/// An export bigger than the disk: weights are written through a memory
/// map, where a full disk would be SIGBUS and kill the whole run. It must
/// be a failed build that says why, in one line, for the one-file (4 MB)
/// and the external-data (74 MB) layouts alike, while the run goes on.
#[test]
fn an_export_larger_than_the_disk_is_an_error_not_a_crash() {
    let Some(disk) = small_disk("2m") else {
        return;
    };
    let mnt = &disk.path;
    let scripts = tempfile::tempdir().unwrap();
    let script = |name: &str, n: usize| {
        let p = scripts.path().join(format!("{name}.rhai"));
        std::fs::write(
            &p,
            format!("let m = nn::linear({n}, {n});\nm.forward(rand([1, {n}]));\n"),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let (inline, external) = (script("inline4mb", 1024), script("external74mb", 4300));
    let cache = mnt.join("cache");
    let d = cache.to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--build-only",
        &inline,
        "models/selftest/linear.rhai",
        &external,
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let full = r.stderr.matches("No space left on device").count();
    assert!(full >= 2, "both exports say why: {}", r.stderr);
    let mut done = 0;
    for b in builds(&cache) {
        let rec = record(&b);
        let name = rec["identity"]["name"].as_str().unwrap().to_string();
        let export = rec["stages"]["export"]["status"].as_str().unwrap_or("");
        if name.starts_with("linear") {
            assert_eq!(export, "successful", "{name}");
            done += 1;
        } else {
            assert_eq!(export, "error", "{name}");
            let err = rec["stages"]["export"]["error"].as_str().unwrap();
            assert!(err.contains("No space left on device"), "{err}");
            assert!(!b.join("model.onnx").exists() && !b.join("model.onnx.data").exists());
        }
    }
    assert_eq!(done, 1, "the small build between them is recorded");
}

/// Ctrl-C while a row runs: that row is recorded `killed`, its worker group
/// is gone, the exit code is 130, and the same command resumes.
#[test]
fn ctrl_c_marks_the_row_killed_and_exits_130() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let args = [
        "-d",
        d,
        "--runtime",
        "tract",
        "--iterations",
        "3",
        "models/selftest/linear.rhai",
        "models/selftest/twolayer.rhai",
    ];
    let child = turnkey()
        .args(args)
        .env("TURNKEY_FAULT_INJECT", "hang:tract")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the (hanging) worker of the first build to start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let spec = loop {
        let found = builds(cache.path())
            .into_iter()
            .map(|b| b.join("log/tract-cpu.spec.json"))
            .find(|p| p.exists());
        if let Some(p) = found {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no worker started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?} to stop",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let build = spec.parent().unwrap().parent().unwrap();
    let rec = record(build);
    let row = &rec["runtimes"][0];
    assert_eq!(row["status"], "killed", "{rec}");
    assert!(
        row["error"].as_str().unwrap().contains("interrupted"),
        "{rec}"
    );
    // The second script was never started.
    assert_eq!(builds(cache.path()).len(), 1);
    // No worker is left behind.
    let spec_s = spec.to_str().unwrap();
    let alive = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(spec_s));
    assert!(!alive, "a worker outlived the interrupted run");
    // Running again (no fault) resumes and finishes everything.
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(successful_rows(cache.path()).len(), 2);
}

/// A worker killed by SIGKILL (e.g. the OOM killer) costs only its row.
#[test]
fn a_worker_killed_by_sigkill_is_a_crashed_row() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let out = turnkey()
        .args(["-d", d, "--runtime", "ort,tract", "--iterations", "3"])
        .arg("models/selftest/linear.rhai")
        .env("TURNKEY_FAULT_INJECT", "kill:ort")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let rec = record(&builds(cache.path())[0]);
    let rows = rec["runtimes"].as_array().unwrap();
    let ort = rows.iter().find(|r| r["runtime"] == "ort").unwrap();
    assert_eq!(ort["status"], "crashed", "{rec}");
    assert!(ort["error"].as_str().unwrap().contains("SIGKILL"), "{rec}");
    let tract = rows.iter().find(|r| r["runtime"] == "tract").unwrap();
    assert_eq!(tract["status"], "successful", "{rec}");
}
