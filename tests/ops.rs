//! The shape, resampling, convolution/pooling and normalization ops of
//! issue #15, end to end: each family's script in tests/ops/ builds at
//! opsets 13 and 17 (and 21, where GroupNormalization is native), passes
//! the ONNX checker with full shape inference, runs on onnxruntime and
//! tract (and libtorch with the `torch` feature), and every output of every
//! runtime equals NumPy's reference (PyTorch's semantics, tests/ops/check.py)
//! and ONNX's reference evaluator.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const SCRIPTS: [&str; 4] = [
    "tests/ops/shape_ops.rhai",
    "tests/ops/resample_ops.rhai",
    "tests/ops/conv_pool_ops.rhai",
    "tests/ops/norm_ops.rhai",
];

/// Benchmarks the op scripts on `runtimes` at `opset` into `cache`; every
/// row must succeed and agree with the reference row.
fn run_scripts(cache: &Path, runtimes: &str, opset: &str) {
    let d = cache.to_str().unwrap();
    let mut args = vec![
        "-d",
        d,
        "--runtime",
        runtimes,
        "--opset",
        opset,
        "--iterations",
        "2",
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
    ];
    args.extend(SCRIPTS);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let builds = builds(cache);
    assert_eq!(builds.len(), SCRIPTS.len(), "{builds:?}");
    for b in &builds {
        let rec = record(b);
        if b.to_string_lossy().contains("resample_ops") {
            // The nearest resizes a runtime would round otherwise are Gathers.
            let ops = &rec["identity"]["op_counts"];
            assert_eq!(ops["Gather"], 2, "{ops}");
        }
        for row in rec["runtimes"].as_array().unwrap() {
            assert_eq!(row["status"], "successful", "{row:#}");
            if let Some(outs) = row["check"]["outputs"].as_array() {
                assert!(outs.iter().all(|o| o["passed"] == true), "{row:#}");
            }
        }
    }
}

/// Every line of tests/ops/check.py for `cache`: no checker, reference
/// evaluator or value failure, and every output compared to NumPy on every
/// runtime that ran.
fn check_values(cache: &Path, runtimes: &[&str]) -> Vec<Value> {
    let code = with_value_helpers(include_str!("ops/check.py"));
    let lines: Vec<Value> = py(&code, &[cache])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failures: Vec<&Value> = lines.iter().filter(|l| !l["error"].is_null()).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let checked = |rt: &str, by: &str| {
        lines
            .iter()
            .filter(|l| l["runtime"] == rt && l["by"] == by)
            .count()
    };
    for rt in runtimes {
        // check.py reports an output that neither reference computes; most
        // have both (the conv/pool layers and the embedding bag, whose
        // weights are inside the model, only ONNX's reference evaluator).
        assert!(checked(rt, "numpy") >= 74, "{rt}: {}", checked(rt, "numpy"));
        assert!(
            checked(rt, "reference") >= 80,
            "{rt}: {}",
            checked(rt, "reference")
        );
    }
    assert_eq!(
        lines.iter().filter(|l| l["check"] == "full_check").count(),
        SCRIPTS.len()
    );
    lines
}

#[test]
fn op_scripts_match_numpy_on_ort_and_tract_at_opsets_13_17_21() {
    for opset in ["13", "17", "21"] {
        let cache = tempfile::tempdir().unwrap();
        run_scripts(cache.path(), "ort,tract", opset);
        check_values(cache.path(), &["ort-cpu", "tract-cpu"]);
    }
}

#[cfg(feature = "torch")]
#[test]
fn op_scripts_match_numpy_on_torch() {
    let cache = tempfile::tempdir().unwrap();
    run_scripts(cache.path(), "ort,torch", "17");
    check_values(cache.path(), &["ort-cpu", "torch-cpu"]);
}

/// Parameters of one layer called on `input` (in a throwaway script).
fn layer_params(layer: &str, input: &str) -> u64 {
    use turnkey::script::{DiscoverOptions, discover};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("layer.rhai");
    std::fs::write(&p, format!("let m = {layer};\nm.forward({input});\n")).unwrap();
    let d = discover(&p, &DiscoverOptions::default()).unwrap_or_else(|e| panic!("{layer}: {e}"));
    d.builds[0].graph.stats().params
}

/// nn.Conv3d, ConvTranspose1d/3d, GroupNorm, InstanceNorm*d and
/// EmbeddingBag count parameters as PyTorch does (weight shapes from
/// torch/nn/modules; buffers are not parameters).
#[test]
fn new_layers_have_pytorch_parameter_counts() {
    let cases: [(&str, &str, u64); 10] = [
        (
            "nn::conv3d(4, 8, 3)",
            "rand([1, 4, 5, 5, 5])",
            8 * 4 * 27 + 8,
        ),
        (
            "nn::conv3d(4, 8, [1, 3, 3], #{ groups: 2, bias: false })",
            "rand([1, 4, 5, 5, 5])",
            8 * 2 * 9,
        ),
        (
            "nn::conv_transpose1d(4, 6, 3, #{ groups: 2 })",
            "rand([1, 4, 7])",
            4 * 3 * 3 + 6,
        ),
        (
            "nn::conv_transpose3d(3, 5, 2)",
            "rand([1, 3, 4, 4, 4])",
            3 * 5 * 8 + 5,
        ),
        ("nn::group_norm(4, 16)", "rand([2, 16, 3, 3])", 32),
        (
            "nn::group_norm(4, 16, #{ affine: false })",
            "rand([2, 16, 3, 3])",
            0,
        ),
        ("nn::instance_norm2d(8)", "rand([2, 8, 3, 3])", 0),
        (
            "nn::instance_norm2d(8, #{ affine: true, track_running_stats: true })",
            "rand([2, 8, 3, 3])",
            16,
        ),
        (
            "nn::instance_norm1d(8, #{ affine: true })",
            "rand([8, 5])",
            16,
        ),
        ("nn::embedding_bag(10, 3)", "randint(0, 10, [4, 2])", 30),
    ];
    for (layer, input, want) in cases {
        assert_eq!(layer_params(layer, input), want, "{layer}");
    }
}

/// A script that should fail discovery, with the message it gives.
fn script_error(src: &str) -> String {
    use turnkey::script::{DiscoverOptions, discover};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.rhai");
    std::fs::write(&p, src).unwrap();
    match discover(&p, &DiscoverOptions::default()) {
        Ok(_) => panic!("expected an error from:\n{src}"),
        Err(e) => e.to_string(),
    }
}

/// Misuse is an error at its line that says what to do, never a graph
/// that computes something else.
#[test]
fn misuse_is_a_clear_error_at_its_line() {
    let wrap = |body: &str, input: &str| {
        format!("let m = nn::module(\"M\", |x| {body});\nm.forward({input});\n")
    };
    let img = "rand([1, 2, 4, 6])";
    let cases: Vec<(String, &str)> = vec![
        (
            wrap("interpolate(x, #{ size: 3, scale_factor: 2 })", img),
            "exactly one of size and scale_factor",
        ),
        (
            wrap("interpolate(x, #{ size: 3, mode: \"linear\" })", img),
            "mode \"linear\" needs 3-d input, got 4-d",
        ),
        (
            wrap("interpolate(x, #{ size: 3, align_corners: true })", img),
            "align_corners applies to linear",
        ),
        (
            wrap("interpolate(x, #{ size: 3, mode: \"cubic\" })", img),
            "mode \"cubic\" is not known",
        ),
        (
            wrap("pad(x, [4, 4], #{ mode: \"reflect\" })", "rand([2, 3, 4])"),
            "reflect padding of 4 needs axis 2 to be longer than 4",
        ),
        (
            wrap("pad(x, [1, 1], #{ mode: \"reflect\" })", img),
            "needs a tensor of rank 2 or 3",
        ),
        (
            wrap("pad(x, [1, 1], #{ mode: \"edge\" })", "rand([2, 3, 4])"),
            "mode \"edge\" is not known",
        ),
        (wrap("roll(x, [1, 2], [0])", img), "2 shifts for 1 dims"),
        (
            wrap("flip(x, [1, -3])", img),
            "dim 1 is given more than once",
        ),
        (wrap("tril(x)", "rand([4])"), "rank >= 2"),
        (
            wrap("one_hot(x, 3)", "rand([4])"),
            "indices must be int64 or int32",
        ),
        (
            wrap("pixel_shuffle(x, 2)", "rand([1, 6, 2, 2])"),
            "6 channels",
        ),
        (
            wrap("einsum(\"ij,jk->ik\", [x, x])", "rand([2, 3])"),
            "subscript 'j' has size 3 in one place and 2",
        ),
        (
            wrap("einsum(\"ij->ik\", [x])", "rand([2, 3])"),
            "output subscript 'k' does not appear in any input",
        ),
        (
            wrap("group_norm(x, 4)", img),
            "2 channels (input [1, 2, 4, 6]) are not divisible by num_groups=4",
        ),
        (wrap("repeat(x, [2])", img), "give at least one per dim"),
        (
            wrap("index_select(x, 0, x)", "randint(0, 2, [2, 2])"),
            "the index must be 1-d",
        ),
        (
            wrap("rms_norm(x, 5)", img),
            "normalized_shape [5] does not match",
        ),
        (
            wrap("adaptive_max_pool2d(x, [2, 2, 2])", img),
            "output_size has 3 entries for 2 spatial dims",
        ),
        (
            "let l = nn::instance_norm2d(3);\nl.forward(rand([1, 2, 4, 4]));\n".to_string(),
            "should have 3 channels",
        ),
        (
            "let l = nn::embedding_bag(10, 3);\nl.forward(randint(0, 10, [5]));\n".to_string(),
            "variable-size bags",
        ),
    ];
    for (src, want) in cases {
        let e = script_error(&src);
        assert!(e.contains(want), "{src}\nwanted \"{want}\" in: {e}");
        // The op's own line (1); a layer's error is at its forward (2).
        let line = if src.starts_with("let m") { 1 } else { 2 };
        assert!(
            e.contains(&format!("bad.rhai:{line}:")),
            "not at line {line}: {e}"
        );
    }
}
