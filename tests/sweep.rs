//! `--sweep batch_size=1,8,32` over the selftest corpus: one build per
//! point of every entry (scripts and the ONNX file), one report row per
//! build × runtime, and throughput that grows with the batch for the small
//! models (their latency is mostly fixed overhead).

mod common;
use common::*;
use std::collections::BTreeMap;

#[test]
fn a_batch_sweep_over_the_selftest_corpus_reports_every_point() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "corpora/selftest.toml",
        "--sweep",
        "batch_size=1,8,32",
        "--iterations",
        "30",
        "--warmup-iterations",
        "3",
        "--warmup-time",
        "0.02",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let rep = run(&["report", "-d", d, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);

    let mut csv = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (build, script, shapes, rt, status, thr) = (
        col("build"),
        col("script"),
        col("input_shapes"),
        col("runtime"),
        col("status"),
        col("throughput"),
    );
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    let builds: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[build].as_str()).collect();
    // linear, twolayer, cnn, transformer, tiny-mlp: 1 build per point;
    // two_models: 2 (encoder and head) per point.
    assert_eq!(builds.len(), 7 * 3, "{builds:?}");
    assert_eq!(rows.len(), builds.len() * 2, "one row per build x runtime");
    assert!(rows.iter().all(|r| r[status] == "successful"), "{rows:?}");

    // (model file, batch) -> ort throughput.
    let mut ort: BTreeMap<(String, usize), f64> = BTreeMap::new();
    for row in &rows {
        let file = std::path::Path::new(&row[script])
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        // The batch is the first dimension of the first input: `x:float32[8,10]`.
        let first = row[shapes].split('[').nth(1).unwrap();
        let batch: usize = first.split([',', ']']).next().unwrap().parse().unwrap();
        assert!([1, 8, 32].contains(&batch), "{row:?}");
        if row[rt] == "ort" && !row[build].starts_with("two_models") {
            ort.insert((file, batch), row[thr].parse().unwrap());
        }
    }
    for m in ["linear", "twolayer", "cnn", "transformer", "model"] {
        for b in [1, 8, 32] {
            assert!(
                ort.contains_key(&(m.to_string(), b)),
                "{m} at batch {b}: {ort:?}"
            );
        }
    }
    // The tiny models are overhead-bound: more samples per call, more samples per second.
    for m in ["linear", "twolayer", "model"] {
        let t = |b: usize| ort[&(m.to_string(), b)];
        assert!(
            t(32) > t(1),
            "{m}: throughput at 32 {} <= at 1 {}",
            t(32),
            t(1)
        );
    }
}
