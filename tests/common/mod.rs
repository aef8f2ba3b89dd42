//! Shared helpers for the integration tests: run the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn turnkey() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_turnkey"));
    c.current_dir(root());
    c.env_remove("TURNKEY_CACHE_DIR");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    let out: Output = turnkey().args(args).output().expect("run turnkey");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "turnkey panicked:\n{}",
        r.stderr
    );
    r
}

pub fn selftest() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("models/selftest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

pub fn python() -> PathBuf {
    let p = std::env::var_os("TURNKEY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} not found: run scripts/setup.sh (or set TURNKEY_PYTHON)",
        p.display()
    );
    p
}

/// `code` preceded by the helpers of tests/common/values.py (reading
/// turnkey's saved values, comparing values).
pub fn with_value_helpers(code: &str) -> String {
    format!("{}\n{code}", include_str!("values.py"))
}

/// Runs Python code with the project's venv; returns stdout, fails on error.
pub fn py(code: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn builds(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache.join("builds"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub fn record(build: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(build.join("record.json")).unwrap()).unwrap()
}

/// The record of a build another process may still be creating: None
/// until its record.json exists and parses (it is written atomically, but
/// the build folder appears first).
#[allow(dead_code)]
pub fn record_if_written(build: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(build.join("record.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Runs `scripts` on ort and tract with `iterations` iterations; every row must
/// succeed and tract's outputs must agree with ort's.
pub fn agree_on_ort_and_tract(scripts: &[&str], script_args: &str, iterations: &str) {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let mut args = vec![
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--iterations",
        iterations,
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
        "--script-args",
        script_args,
    ];
    args.extend_from_slice(scripts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = builds(cache.path());
    assert_eq!(b.len(), scripts.len(), "{b:?}");
    for build in &b {
        let rec = record(build);
        let rows = rec["runtimes"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{rec}");
        for row in rows {
            assert_eq!(row["status"], "successful", "{row}");
        }
        let tract = rows.iter().find(|r| r["runtime"] == "tract").unwrap();
        let outs = tract["check"]["outputs"].as_array().unwrap();
        assert!(!outs.is_empty(), "{tract}");
        assert!(outs.iter().all(|o| o["passed"] == true), "{tract}");
    }
}
