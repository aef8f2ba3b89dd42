//! End to end: scripts benchmarked on ort and tract in worker processes,
//! records, the CSV report, crashes, timeouts, and a killed run resuming.

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn csv_rows(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(dir.join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[test]
fn selftest_on_ort_and_tract_agrees_and_reports() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let scripts = selftest();
    let mut args = vec![
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--iterations",
        "20",
        "--warmup-time",
        "0.05",
    ];
    args.extend(scripts.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("median  95% CI"),
        "summary table:\n{}",
        r.stdout
    );

    let rep = run(&["report", "-d", d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let (header, rows) = csv_rows(out.path());
    let fixed = [
        "build",
        "script",
        "model_class",
        "author",
        "task",
        "params",
        "flops",
        "input_shapes",
        "runtime",
        "runtime_version",
        "device",
        "status",
        "compile_ms",
        "first_ms",
        "median_ms",
        "mean_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "min_ms",
        "max_ms",
        "std_ms",
        "cov",
        "stability",
        "throughput",
        "peak_rss_mb",
        "check",
        "max_abs_diff",
        "iterations",
        "timestamp",
        "cache",
    ];
    assert_eq!(&header[..fixed.len()], &fixed[..]);
    let builds = builds(cache.path()).len();
    assert_eq!(rows.len(), 2 * builds, "one row per build x runtime");
    let (st, rt, med, chk, it, thr) = (
        col(&header, "status"),
        col(&header, "runtime"),
        col(&header, "median_ms"),
        col(&header, "check"),
        col(&header, "iterations"),
        col(&header, "throughput"),
    );
    for row in &rows {
        assert_eq!(row[st], "successful", "{row:?}");
        assert!(row[med].parse::<f64>().unwrap() > 0.0, "{row:?}");
        assert!(row[thr].parse::<f64>().unwrap() > 0.0, "{row:?}");
        assert_eq!(row[it], "20");
        let want = if row[rt] == "ort" {
            "reference"
        } else {
            "passed"
        };
        assert_eq!(row[chk], want, "{row:?}");
    }
    // The record keeps the check per output.
    for b in &common::builds(cache.path()) {
        let rec = record(b);
        let tract = rec["runtimes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["runtime"] == "tract")
            .unwrap()
            .clone();
        let outs = tract["check"]["outputs"].as_array().unwrap();
        assert_eq!(
            outs.len(),
            rec["identity"]["outputs"].as_array().unwrap().len(),
            "{tract}"
        );
        assert!(outs.iter().all(|o| o["passed"] == true), "{tract}");
        assert_eq!(tract["check"]["reference"], "ort/cpu");
    }
    // Per-iteration samples are kept in the build folder.
    let b = &common::builds(cache.path())[0];
    let samples = std::fs::read_to_string(b.join("samples/tract-cpu.csv")).unwrap();
    assert!(samples.lines().count() >= 20, "{samples}");
    // A report over the same cache twice has no duplicate rows.
    let rep = run(&["report", "-d", d, d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0);
    assert_eq!(csv_rows(out.path()).1.len(), rows.len());
}

#[test]
fn a_crashing_worker_costs_only_its_row() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let out = turnkey()
        .env("TURNKEY_FAULT_INJECT", "crash:tract")
        .args([
            "-d",
            d,
            "--runtime",
            "ort,tract",
            "--iterations",
            "5",
            "--warmup-time",
            "0",
        ])
        .args([
            "models/selftest/linear.rhai",
            "models/selftest/twolayer.rhai",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for b in builds(cache.path()) {
        let rec = record(&b);
        let rows = rec["runtimes"].as_array().unwrap();
        let by = |rt: &str| rows.iter().find(|r| r["runtime"] == rt).unwrap().clone();
        assert_eq!(by("ort")["status"], "successful", "{rec}");
        assert_eq!(by("tract")["status"], "crashed", "{rec}");
        assert!(
            by("tract")["error"].as_str().unwrap().contains("SIGSEGV"),
            "{rec}"
        );
    }
}

#[test]
fn a_hanging_worker_times_out() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let t = Instant::now();
    let out = turnkey()
        .env("TURNKEY_FAULT_INJECT", "hang:tract")
        .args([
            "-d",
            d,
            "--runtime",
            "tract,ort",
            "--iterations",
            "5",
            "--timeout",
            "2",
        ])
        .arg("models/selftest/linear.rhai")
        .output()
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let rec = record(&builds(cache.path())[0]);
    let rows = rec["runtimes"].as_array().unwrap();
    let tract = rows.iter().find(|r| r["runtime"] == "tract").unwrap();
    assert_eq!(tract["status"], "timeout", "{rec}");
    // ort, with no reference before it, still ran and became the reference.
    let ort = rows.iter().find(|r| r["runtime"] == "ort").unwrap();
    assert_eq!(ort["status"], "successful", "{rec}");
}

#[test]
fn a_killed_run_resumes_and_loses_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap().to_string();
    let scripts = selftest();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "-d",
            &d,
            "--runtime",
            "tract",
            "--min-time",
            "0.4",
            "--min-iterations",
            "5",
            "--warmup-time",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(scripts.iter().cloned());
        a
    };
    let mut child = turnkey()
        .args(args(&[]))
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until one row is done, then kill the parent mid-run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_rows = |c: &Path| -> Vec<(String, String)> {
        builds(c)
            .iter()
            .filter_map(|b| std::fs::read(b.join("record.json")).ok())
            .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .flat_map(|r| {
                let name = r["identity"]["name"].as_str().unwrap_or("").to_string();
                r["runtimes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|row| row["status"] == "successful")
                    .map(move |row| {
                        (
                            name.clone(),
                            row["timestamp"].as_str().unwrap_or("").to_string(),
                        )
                    })
            })
            .collect()
    };
    while done_rows(cache.path()).is_empty() {
        assert!(Instant::now() < deadline, "no row finished in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let before = done_rows(cache.path());
    assert!(!before.is_empty());
    // What the killed run left says so: no stage or row is left 'running'.
    let out = tempfile::tempdir().unwrap();
    let rep = run(&["report", "-d", &d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let csv = std::fs::read_to_string(out.path().join("turnkey-report.csv")).unwrap();
    assert!(!csv.contains(",running,"), "{csv}");

    // The re-run finishes the rest without redoing what was done.
    let a = args(&[]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = run(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("[cached]"), "{}", r.stderr);
    let after = done_rows(cache.path());
    assert_eq!(
        after.len(),
        builds(cache.path()).len(),
        "every build has its row"
    );
    for row in &before {
        assert!(after.contains(row), "row {row:?} was redone or lost");
    }
}

#[test]
fn turnkey_run_prints_outputs() {
    let r = run(&[
        "run",
        "models/selftest/twolayer.rhai",
        "--runtime",
        "tract",
        "--",
        "--batch_size",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("TwoLayer (tract):"), "{}", r.stdout);
    assert!(r.stdout.contains("output: float32[3, 5]"), "{}", r.stdout);
}
