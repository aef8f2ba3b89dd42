//! GPU requests on a machine without one (the CI machine and the CPU
//! onnxruntime wheel): strict execution providers make clear row errors
//! while the CPU rows of the same run succeed, NVML's absence is one line,
//! and `turnkey peak` caches the GEMM peak that rows compare with.

mod common;
use common::*;
use std::path::Path;

fn rows(build: &Path) -> Vec<serde_json::Value> {
    record(build)["runtimes"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [serde_json::Value], runtime: &str, device: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["runtime"] == runtime && r["device"] == device)
        .unwrap_or_else(|| panic!("no {runtime}/{device} row in {rows:#?}"))
}

fn no_gpu_here() -> bool {
    turnkey::telemetry::probe().is_err()
}

#[test]
fn cuda_on_the_cpu_wheel_is_a_row_error_and_cpu_rows_still_run() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,ort-trt",
        "--device",
        "cpu,cuda",
        "--iterations",
        "3",
        "--warmup-time",
        "0",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let b = &builds(cache.path())[0];
    let rows = rows(b);
    assert_eq!(rows.len(), 4);
    let cpu = row(&rows, "ort", "cpu");
    assert_eq!(cpu["status"], "successful", "{cpu:#}");
    assert_eq!(cpu["details"]["execution_provider"], "CPUExecutionProvider");
    assert_eq!(cpu["check"]["status"], "reference");

    let cuda = row(&rows, "ort", "cuda:0");
    assert_eq!(cuda["status"], "error");
    let e = cuda["error"].as_str().unwrap();
    assert!(
        e.contains("CUDA execution provider is not enabled in this build: install onnxruntime-gpu"),
        "{e}"
    );
    assert!(e.starts_with("ort cannot run on cuda:0: "), "{e}");
    assert!(e.contains("offers CPUExecutionProvider"), "{e}");
    assert!(cuda["median_ms"].is_null());

    let trt_cpu = row(&rows, "ort-trt", "cpu");
    assert_eq!(trt_cpu["status"], "error");
    let e = trt_cpu["error"].as_str().unwrap();
    assert!(e.contains("TensorRT runs on NVIDIA GPUs only"), "{e}");
    let trt = row(&rows, "ort-trt", "cuda:0");
    let e = trt["error"].as_str().unwrap();
    assert!(
        e.contains("TensorRT execution provider is not enabled in this build"),
        "{e}"
    );

    // The end-of-run summary names each failed row.
    assert!(r.stderr.contains("3 failure(s)"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("on ort/cuda:0: error ort cannot run on cuda:0"),
        "{}",
        r.stderr
    );
    // System info: NVML answered, or said there is no GPU in one line.
    let sys = &record(b)["system"];
    let line = sys["gpu_telemetry"].as_str().unwrap();
    if no_gpu_here() {
        assert!(line.starts_with("no NVIDIA GPU ("), "{line}");
        assert!(!r.stderr.contains("NVML"), "{}", r.stderr);
    } else {
        assert_eq!(line, "ok");
    }
}

#[test]
fn fp16_is_a_variant_build_and_unknown_precisions_are_refused() {
    // --precision fp16 was a TensorRT engine flag only; it is now a variant
    // build (which on ort-trt also builds fp16 engines), run on every runtime.
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--precision",
        "fp16",
        "--iterations",
        "2",
        "models/selftest/linear.rhai",
    ]);
    let all = builds(cache.path());
    assert_eq!(all.len(), 2, "fp32 and its fp16 variant");
    let fp16 = all
        .iter()
        .find(|b| b.to_string_lossy().contains("_fp16_"))
        .unwrap();
    let rows = rows(fp16);
    let by = |rt: &str| rows.iter().find(|r| r["runtime"] == rt).unwrap();
    assert_eq!(by("ort")["status"], "successful", "{}", r.stderr);
    assert!(by("ort")["accuracy"]["rel_err"].as_f64().unwrap() < 3e-3);
    // tract's Gemm does not compute in float16: a row error saying so.
    let e = by("tract")["error"].as_str().unwrap();
    assert!(e.contains("Gemm") && e.contains("float16"), "{e}");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let r = run(&[
        "-d",
        d,
        "--precision",
        "int4",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("unknown precision 'int4': use fp32, fp16, bf16"),
        "{}",
        r.stderr
    );
}

#[test]
fn peak_is_cached_and_rows_report_percent_of_it() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "peak",
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--size",
        "256",
        "--min-time",
        "0.2",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    if no_gpu_here() {
        assert!(r.stdout.starts_with("no NVIDIA GPU ("), "{}", r.stdout);
    }
    for rt in ["ort", "tract"] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("peak {rt} cpu float32: ")))
            .unwrap_or_else(|| panic!("{}", r.stdout));
        assert!(line.contains("GFLOP/s (GEMM n=256"), "{line}");
    }
    let files: Vec<_> = std::fs::read_dir(cache.path().join("peak"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one file per machine: {files:?}");
    let peaks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(peaks["entries"].as_array().unwrap().len(), 2);

    // A GPU peak without a GPU is an error for that line only.
    let g = run(&[
        "peak",
        "-d",
        d,
        "--runtime",
        "ort",
        "--device",
        "cuda",
        "--size",
        "64",
    ]);
    if no_gpu_here() {
        assert_eq!(g.code, 1, "{}\n{}", g.stdout, g.stderr);
        assert!(
            g.stderr.contains("peak ort cuda:0 float32: error: "),
            "{}",
            g.stderr
        );
        assert!(
            g.stderr.contains("peak ort cuda:0 float16: error: "),
            "{}",
            g.stderr
        );
    }

    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,tract",
        "--iterations",
        "5",
        "--warmup-time",
        "0",
        "models/selftest/twolayer.rhai",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = &builds(cache.path())[0];
    for rt in ["ort", "tract"] {
        let rows = rows(b);
        let row = row(&rows, rt, "cpu");
        let achieved = row["achieved_flops"].as_f64().unwrap();
        let peak = row["peak_flops"].as_f64().unwrap();
        let pct = row["pct_of_peak"].as_f64().unwrap();
        assert!(achieved > 0.0 && peak > 0.0, "{row:#}");
        assert!((pct - 100.0 * achieved / peak).abs() < 1e-9, "{row:#}");
        let source = row["peak_source"].as_str().unwrap();
        assert!(
            source.starts_with(&format!("turnkey peak {rt}/cpu float32 GEMM n=256")),
            "{source}"
        );
        // FLOPs per sample × samples/s.
        let flops = record(b)["identity"]["flops"].as_f64().unwrap();
        let batch = row["batch_size"].as_f64().unwrap();
        let tp = row["throughput"].as_f64().unwrap();
        assert!(
            (achieved - flops / batch * tp).abs() <= 1e-6 * achieved,
            "{row:#}"
        );
    }

    // The report carries the new columns.
    let out = tempfile::tempdir().unwrap();
    let rep = run(&["report", "-d", d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let mut csv = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    for rec in csv.records() {
        let rec = rec.unwrap();
        assert!(rec[at("achieved_flops")].parse::<f64>().unwrap() > 0.0);
        assert!(rec[at("pct_of_peak")].parse::<f64>().unwrap() > 0.0);
        assert_eq!(
            &rec[at("core_median_ms")],
            "",
            "CPU rows have no core latency"
        );
        assert_eq!(&rec[at("gpu_util_pct")], "");
    }
}
