//! How turnkey measures (issue #20), end to end on the real binary, ort and
//! tract: robust statistics and a verdict on every row, host noise recorded,
//! adaptive warm-up and stopping, `--trials`, `--pin`, and `turnkey report
//! --compare` with confidence intervals, old records included.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn rows(build: &Path) -> Vec<Value> {
    record(build)["runtimes"].as_array().unwrap().clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn every_row_has_robust_statistics_a_verdict_and_host_noise() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    // Default settings: adaptive warm-up and stopping.
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("95% CI"), "{}", r.stdout);
    let b = &builds(cache.path())[0];
    for row in rows(b) {
        let (lo, med, hi) = (
            f(&row["median_ci_lo_ms"]),
            f(&row["median_ms"]),
            f(&row["median_ci_hi_ms"]),
        );
        assert!(lo <= med && med <= hi, "{row}");
        assert!(
            f(&row["mad_ms"]) >= 0.0 && f(&row["iqr_ms"]) >= 0.0,
            "{row}"
        );
        assert!(row["outliers"].as_u64().unwrap() <= row["iterations"].as_u64().unwrap());
        assert!(row["warmup_iterations"].as_u64().unwrap() >= 2, "{row}");
        assert!(
            f(&row["warmup_ms"]) >= 0.0 && row["warmup_steady"].is_boolean(),
            "{row}"
        );
        assert_eq!(row["target_ci_pct"], 1.0);
        let half = 50.0 * (hi - lo) / med;
        match row["stop"].as_str().unwrap() {
            // The interval reached the target, after the floors.
            "target" => {
                assert!(half <= 1.0, "{row}");
                assert!(row["iterations"].as_u64().unwrap() >= 10, "{row}");
                assert!(f(&row["total_ms"]) >= 20.0, "{row}");
            }
            // A noisy machine can keep it from the target within --max-time.
            "max_time" => assert!(f(&row["total_ms"]) >= 10_000.0, "{row}"),
            other => panic!("stop {other}: {row}"),
        }
        let verdict = row["stability"].as_str().unwrap();
        assert!(
            verdict == "stable" || verdict.starts_with("unstable: ") && verdict.len() > 12,
            "{verdict}"
        );
        // A wide interval is never called stable.
        if half > 1.0 {
            assert!(verdict.starts_with("unstable: median ±"), "{verdict}");
        }
        let host = &row["host_noise"];
        assert!(host["cpus"].as_u64().unwrap() >= 1, "{host}");
        assert!(
            f(&host["other_cores"]) >= 0.0 && f(&host["own_cores"]) > 0.0,
            "{host}"
        );
        assert!(
            f(&host["wait_pct"]) >= 0.0 && host["loadavg"].is_number(),
            "{host}"
        );
        assert!(f(&host["window_s"]) > 0.0, "{host}");
    }
    // The report carries the new columns.
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let rep = run(&["report", "-d", d, "-o", o, "--format", "csv"]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let mut reader = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let ci: f64 = rec[at("ci_pct")].parse().unwrap();
        assert!(ci >= 0.0);
        assert!(
            rec[at("host_other_cores")].parse::<f64>().is_ok(),
            "{rec:?}"
        );
        assert!(
            ["target", "max_time"].contains(&&rec[at("stop")]),
            "{rec:?}"
        );
        assert_eq!(&rec[at("trials")], "1");
    }
}

/// Busy loops on every core: the verdict names the host load, whatever the
/// interval says.
#[test]
fn the_verdict_names_a_busy_host() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut hogs: Vec<std::process::Child> = (0..cores)
        .map(|_| {
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "tract",
        "--max-time",
        "1",
        "models/selftest/linear.rhai",
    ]);
    for h in &mut hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = &rows(&builds(cache.path())[0])[0];
    let verdict = row["stability"].as_str().unwrap();
    assert!(verdict.contains("noisy host: "), "{verdict}");
    assert!(f(&row["host_noise"]["other_cores"]) >= 0.5, "{row}");
    // The terminal's table names it briefly.
    assert!(r.stdout.contains("unstable: noisy host"), "{}", r.stdout);
}

#[test]
fn a_fixed_count_says_when_it_is_too_few_for_the_target() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "tract",
        "--iterations",
        "30",
        "--target-ci",
        "0.0001%",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row = &rows(&builds(cache.path())[0])[0];
    assert_eq!(row["iterations"], 30);
    assert_eq!(row["stop"], "iterations");
    let verdict = row["stability"].as_str().unwrap();
    assert!(
        verdict.contains("too few samples for the target: 30 iterations (--iterations)"),
        "{verdict}"
    );
}

fn trial_times(row: &Value) -> Vec<String> {
    row["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["timestamp"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn trials_run_in_fresh_processes_interleaved_and_pooled() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let args = [
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--trials",
        "3",
        "--max-time",
        "0.3",
        "models/selftest/linear.rhai",
        "models/selftest/twolayer.rhai",
    ];
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("trial 3/3: pooled median"),
        "{}",
        r.stderr
    );
    let mut by_trial: Vec<Vec<String>> = vec![Vec::new(); 3];
    for b in builds(cache.path()) {
        for row in rows(&b) {
            let trials = row["trials"].as_array().unwrap();
            assert_eq!(trials.len(), 3, "{row}");
            let sum: u64 = trials
                .iter()
                .map(|t| t["iterations"].as_u64().unwrap())
                .sum();
            assert_eq!(row["iterations"].as_u64().unwrap(), sum, "{row}");
            assert!(f(&row["trial_spread_pct"]) >= 0.0, "{row}");
            // Each trial's samples, and the pooled file with all of them.
            let key = format!("{}-cpu", row["runtime"].as_str().unwrap());
            for k in 1..=3 {
                let t = b.join(format!("samples/{key}.trial{k}.csv"));
                let lines = std::fs::read_to_string(&t).unwrap().lines().count() as u64;
                assert_eq!(lines - 1, trials[k - 1]["iterations"].as_u64().unwrap());
            }
            let pooled = std::fs::read_to_string(b.join(format!("samples/{key}.csv"))).unwrap();
            assert_eq!(pooled.lines().count() as u64 - 1, sum);
            // The interval is at least as wide as the trials' spread implies.
            let (lo, hi) = (f(&row["median_ci_lo_ms"]), f(&row["median_ci_hi_ms"]));
            assert!(
                lo <= f(&row["median_ms"]) && f(&row["median_ms"]) <= hi,
                "{row}"
            );
            for (k, t) in trial_times(&row).into_iter().enumerate() {
                by_trial[k].push(t);
            }
        }
    }
    // Round by round: every row's trial 2 before any row's trial 3.
    let last = |k: usize| by_trial[k].iter().max().unwrap().clone();
    let first = |k: usize| by_trial[k].iter().min().unwrap().clone();
    assert!(last(0) < first(1), "{by_trial:?}");
    assert!(last(1) < first(2), "{by_trial:?}");

    // Run again: nothing is missing, nothing is re-run.
    let before: Vec<Vec<String>> = builds(cache.path())
        .iter()
        .flat_map(|b| rows(b).iter().map(trial_times).collect::<Vec<_>>())
        .collect();
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after: Vec<Vec<String>> = builds(cache.path())
        .iter()
        .flat_map(|b| rows(b).iter().map(trial_times).collect::<Vec<_>>())
        .collect();
    assert_eq!(before, after);

    // --lean-cache waits for the last trial.
    let lean = tempfile::tempdir().unwrap();
    let r = run(&[
        "-d",
        lean.path().to_str().unwrap(),
        "--runtime",
        "tract",
        "--trials",
        "2",
        "--max-time",
        "0.2",
        "--lean-cache",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &builds(lean.path())[0];
    assert_eq!(rows(b)[0]["trials"].as_array().unwrap().len(), 2);
    assert!(!b.join("model.onnx").exists(), "made lean after the trials");
}

/// Precision variants are builds of their own: `--trials` gives their rows
/// fresh processes too, and each variant's speedup over fp32 is computed
/// from the pooled medians.
#[test]
fn trials_cover_precision_variant_builds() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort",
        "--precision",
        "fp32,fp16",
        "--trials",
        "2",
        "--max-time",
        "0.2",
        "models/selftest/cnn.rhai",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let builds = builds(cache.path());
    assert_eq!(builds.len(), 2, "{builds:?}");
    let mut precisions = Vec::new();
    for b in &builds {
        let rec = record(b);
        let p = &rec["identity"]["variant"]["precision"];
        precisions.push(p.as_str().unwrap_or("fp32").to_string());
        for row in rows(b) {
            let trials = row["trials"].as_array().unwrap();
            assert_eq!(trials.len(), 2, "{}: {row}", b.display());
            let sum: u64 = trials
                .iter()
                .map(|t| t["iterations"].as_u64().unwrap())
                .sum();
            assert_eq!(row["iterations"].as_u64().unwrap(), sum, "{row}");
        }
    }
    precisions.sort();
    assert_eq!(precisions, ["fp16", "fp32"]);
    // The fp16 row's speedup is the ratio of the pooled medians.
    let median = |b: &std::path::PathBuf| rows(b)[0]["median_ms"].as_f64().unwrap();
    let (fp16, fp32): (Vec<_>, Vec<_>) = builds
        .iter()
        .partition(|b| !record(b)["identity"]["variant"]["precision"].is_null());
    let a = &rows(fp16[0])[0]["accuracy"];
    assert_eq!(
        a["reference_median_ms"].as_f64().unwrap(),
        median(fp32[0]),
        "{a}"
    );
    let want = median(fp32[0]) / median(fp16[0]);
    let got = a["speedup"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-9 * want,
        "speedup {got}, pooled ratio {want}"
    );
}

#[test]
fn pin_confines_the_worker_to_its_cpus() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--threads",
        "1",
        "--pin",
        "--iterations",
        "20",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for row in rows(&builds(cache.path())[0]) {
        let cpus = row["pinned_cpus"].as_str().unwrap();
        assert!(cpus.parse::<usize>().is_ok(), "one CPU: {row}");
        // Measured from inside the worker: it could run on that CPU only.
        assert_eq!(row["host_noise"]["allowed_cpus"], 1, "{row}");
    }
}

/// Copies the tree `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn compare_gives_each_pair_an_interval_old_records_included() {
    // A record written by turnkey before this issue (no intervals in it),
    // with its samples files.
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    copy_tree(&root().join("tests/fixtures/old_cache"), &old);
    let out = tmp.path().join("out");
    let r = run(&[
        "report",
        "-d",
        old.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--compare",
        "ort",
        "--format",
        "csv,json,html",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The pair's line: tract vs ort, an interval from the samples file.
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("linear_turnkey_f86c7eb2 tract/cpu vs runtime ort: "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains("x ["), "{line}");
    assert!(
        line.ends_with("faster")
            || line.ends_with("slower")
            || line.ends_with("no significant difference"),
        "{line}"
    );
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("turnkey-report.json")).unwrap()).unwrap();
    let s = &doc["comparison"]["speedups"][0];
    assert!(
        f(&s["ci_lo"]) <= f(&s["speedup"]) && f(&s["speedup"]) <= f(&s["ci_hi"]),
        "{s}"
    );
    // The old rows report, with the new columns empty.
    let row = &doc["rows"][0];
    assert_eq!(row["stability"], "stable");
    assert_eq!(row["median_ci_lo_ms"], Value::Null);
    let html = std::fs::read_to_string(out.join("turnkey-report.html")).unwrap();
    assert!(html.contains("95% confidence interval as a whisker"));

    // Two caches of new records: the same builds, compared with intervals.
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for c in [&a, &b] {
        let r = run(&[
            "-q",
            "-d",
            c.to_str().unwrap(),
            "--runtime",
            "tract",
            "--max-time",
            "0.5",
            "models/selftest/linear.rhai",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(&[
        "report",
        "-d",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--compare",
        "--format",
        "md",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("vs cache {}: ", a.display())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("geometric mean speedup over 1 build(s)"),
        "{}",
        r.stdout
    );
}
