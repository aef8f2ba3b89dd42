//! The math, activation, reduction and position-embedding ops of issue #15
//! end to end: one script per op family (tests/ops_math/*.rhai) is built,
//! exported at opsets 13, 17 and 21 and run on onnxruntime and tract, whose
//! outputs must agree; tests/ops_math/check.py then checks each model with
//! the full ONNX checker and every runtime's saved outputs against both
//! onnx.reference and NumPy formulas written from PyTorch's, diffusers' and
//! Hugging Face's definitions. (tests/torch.rs runs the same scripts on
//! libtorch.)

mod common;
use common::*;
use std::path::PathBuf;

pub const SCRIPTS: [&str; 5] = [
    "tests/ops_math/math.rhai",
    "tests/ops_math/comparison.rhai",
    "tests/ops_math/activations.rhai",
    "tests/ops_math/reductions.rhai",
    "tests/ops_math/embeddings.rhai",
];

/// Builds and runs every family script at `opset` on ort and tract into
/// `cache`; returns the build folders.
fn run_at(cache: &std::path::Path, opset: &str) -> Vec<PathBuf> {
    let mut args = vec![
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "ort,tract",
        "--opset",
        opset,
        "--iterations",
        "1",
        "--warmup-iterations",
        "0",
        "--warmup-time",
        "0",
    ];
    args.extend(SCRIPTS);
    let r = run(&args);
    assert_eq!(r.code, 0, "opset {opset}:\n{}\n{}", r.stdout, r.stderr);
    let b = builds(cache);
    assert_eq!(b.len(), SCRIPTS.len(), "{b:?}");
    for build in &b {
        let rec = record(build);
        assert_eq!(rec["identity"]["opset"], opset.parse::<i64>().unwrap());
        for row in rec["runtimes"].as_array().unwrap() {
            assert_eq!(row["status"], "successful", "{}: {row:#}", build.display());
        }
    }
    b
}

#[test]
fn op_family_scripts_match_numpy_and_onnx_reference_on_ort_and_tract() {
    let mut all = Vec::new();
    let caches: Vec<_> = ["13", "17", "21"]
        .iter()
        .map(|opset| {
            let c = tempfile::tempdir().unwrap();
            all.extend(run_at(c.path(), opset));
            c
        })
        .collect();
    let paths: Vec<&std::path::Path> = all.iter().map(PathBuf::as_path).collect();
    let check = std::fs::read_to_string(root().join("tests/ops_math/check.py")).unwrap();
    let failures = py(&with_value_helpers(&check), &paths);
    assert!(
        failures.trim().is_empty(),
        "outputs that differ from onnx.reference or NumPy:\n{failures}"
    );
    drop(caches);
}
