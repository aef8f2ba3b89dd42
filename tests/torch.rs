//! The torch runtime end to end (cargo feature `torch`): the selftest
//! corpus, a small ResNet and a BERT-like encoder run on libtorch's CPU, and
//! their outputs agree with ONNX Runtime's (the reference row).
#![cfg(feature = "torch")]

mod common;
#[path = "common/recurrent_cases.rs"]
mod recurrent_cases;
use common::*;
use std::path::Path;

/// Runs `scripts` on ort then torch; checks every torch row passed against ort.
fn ort_and_torch_agree(cache: &Path, scripts: &[&str], script_args: &str, iterations: &str) {
    let d = cache.to_str().unwrap();
    let mut args = vec![
        "-d",
        d,
        "--runtime",
        "ort,torch",
        "--iterations",
        iterations,
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
        "--script-args",
        script_args,
    ];
    args.extend(scripts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let builds = builds(cache);
    assert!(!builds.is_empty());
    for b in &builds {
        assert!(b.join("model.graph.json").is_file(), "{}", b.display());
        let rec = record(b);
        let rows = rec["runtimes"].as_array().unwrap();
        let torch = rows
            .iter()
            .find(|r| r["runtime"] == "torch")
            .unwrap_or_else(|| panic!("no torch row in {}", b.display()));
        assert_eq!(torch["status"], "successful", "{torch:#}");
        assert_eq!(torch["check"]["status"], "passed", "{torch:#}");
        assert_eq!(torch["check"]["reference"], "ort/cpu");
        assert_eq!(torch["details"]["execution_provider"], "libtorch cpu");
        assert!(torch["median_ms"].as_f64().unwrap() > 0.0);
        // The CPU has no separate core path and no NVML telemetry.
        assert!(torch["core_median_ms"].is_null(), "{torch:#}");
        assert!(torch["gpu_util_pct"].is_null(), "{torch:#}");
        assert!(torch["achieved_flops"].as_f64().unwrap() > 0.0, "{torch:#}");
    }
}

#[test]
fn selftest_corpus_on_torch_matches_ort() {
    let cache = tempfile::tempdir().unwrap();
    let scripts = selftest();
    let refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    ort_and_torch_agree(cache.path(), &refs, "", "5");
}

/// A ResNet-style network: stem conv 7x7/2 + max pool, basic residual
/// blocks with batch norm (one downsampling with a 1x1 projection), global
/// average pooling, linear head.
const RESNET: &str = r#"# labels: name::resnet_small author::turnkey task::Computer_Vision
let args = parse(["batch_size"]);
let stem = nn::sequential("Stem", [
    nn::conv2d(3, 32, 7, #{ stride: 2, padding: 3, bias: false }),
    nn::batch_norm2d(32),
    nn::relu(),
    nn::max_pool2d(3, 2, 1),
]);
fn block(cin, cout, stride) {
    let body = nn::sequential("Body", [
        nn::conv2d(cin, cout, 3, #{ stride: stride, padding: 1, bias: false }),
        nn::batch_norm2d(cout),
        nn::relu(),
        nn::conv2d(cout, cout, 3, #{ padding: 1, bias: false }),
        nn::batch_norm2d(cout),
    ]);
    let skip = if stride != 1 || cin != cout {
        nn::sequential("Downsample", [
            nn::conv2d(cin, cout, 1, #{ stride: stride, bias: false }),
            nn::batch_norm2d(cout),
        ])
    } else {
        nn::identity()
    };
    nn::module("BasicBlock", |x| (body.forward(x) + skip.forward(x)).relu())
}
let b1 = block(32, 32, 1);
let b2 = block(32, 64, 2);
let head = nn::sequential("Head", [nn::adaptive_avg_pool2d(), nn::flatten(), nn::linear(64, 100)]);
let model = nn::module("ResNetSmall", |x| head.forward(b2.forward(b1.forward(stem.forward(x)))));
model.forward(rand([args.batch_size, 3, 96, 96]));
"#;

#[test]
fn a_resnet_and_a_bert_encoder_on_torch_match_ort() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let resnet = dir.path().join("resnet_small.rhai");
    std::fs::write(&resnet, RESNET).unwrap();
    let mut vision = vec![resnet.to_str().unwrap().to_string()];
    // The model zoo's ResNet-50, when this checkout has it.
    if root().join("models/torchvision/resnet50.rhai").is_file() {
        vision.push("models/torchvision/resnet50.rhai".into());
    }
    let v: Vec<&str> = vision.iter().map(String::as_str).collect();
    ort_and_torch_agree(cache.path(), &v, "--batch_size 2", "3");
    // BERT-base-sized (109M parameters), short sequences to keep CI quick.
    let bert = if root().join("models/transformers/bert.rhai").is_file() {
        "models/transformers/bert.rhai"
    } else {
        "models/bench/encoder_100m.rhai"
    };
    let cache = tempfile::tempdir().unwrap();
    ort_and_torch_agree(
        cache.path(),
        &[bert],
        "--batch_size 2 --max_seq_length 32",
        "3",
    );
}

/// nn::lstm, nn::gru and nn::rnn run on libtorch's own lstm/gru/rnn_*
/// with the PyTorch-layout weights: their agreement with ONNX Runtime,
/// which runs the exported ONNX nodes, proves the exporter's gate
/// conversion; both equal NumPy's PyTorch equations (the relu RNN too).
#[test]
fn recurrent_layers_on_torch_match_ort_and_pytorchs_equations() {
    use recurrent_cases::*;
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cases: Vec<&Case> = CASES.iter().chain([&RELU]).collect();
    let scripts = write_scripts(dir.path(), &cases);
    let refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
    ort_and_torch_agree(cache.path(), &refs, "", "2");
    let results = against_reference(cache.path(), &cases, &["ort-cpu", "torch-cpu"]);
    assert_eq!(results.len(), cases.len());
    assert_close(&results, 1e-5);
}

#[test]
fn torch_cuda_without_a_gpu_is_a_clear_row_error() {
    if turnkey::telemetry::probe().is_ok() {
        return; // a GPU machine: the CUDA path is tested by hand there (README)
    }
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "torch",
        "--device",
        "cpu,cuda",
        "--iterations",
        "2",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let rec = record(&builds(cache.path())[0]);
    let rows = rec["runtimes"].as_array().unwrap();
    let cpu = rows.iter().find(|r| r["device"] == "cpu").unwrap();
    assert_eq!(cpu["status"], "successful", "{cpu:#}");
    let cuda = rows.iter().find(|r| r["device"] == "cuda:0").unwrap();
    assert_eq!(cuda["status"], "error");
    let e = cuda["error"].as_str().unwrap();
    assert!(e.starts_with("torch cannot run on cuda:0: "), "{e}");
}

/// The op-family scripts of issue #15 (tests/ops_math/) on libtorch: every
/// torch row agrees with ONNX Runtime, and its saved outputs with the
/// NumPy formulas of tests/ops_math/check.py.
#[test]
fn op_family_scripts_on_torch_match_ort_and_numpy() {
    let scripts = [
        "tests/ops_math/math.rhai",
        "tests/ops_math/comparison.rhai",
        "tests/ops_math/activations.rhai",
        "tests/ops_math/reductions.rhai",
        "tests/ops_math/embeddings.rhai",
    ];
    let cache = tempfile::tempdir().unwrap();
    ort_and_torch_agree(cache.path(), &scripts, "", "1");
    let b = builds(cache.path());
    let paths: Vec<&Path> = b.iter().map(|p| p.as_path()).collect();
    let check = std::fs::read_to_string(root().join("tests/ops_math/check.py")).unwrap();
    let failures = py(&with_value_helpers(&check), &paths);
    assert!(failures.trim().is_empty(), "{failures}");
}

/// Generation (issue #18) on libtorch: the prefill and decode graphs run
/// from their IR (model.graph.json, decode.graph.json), the greedy tokens
/// equal ORT's and the saved per-step logits pass the check.
#[test]
fn generation_on_torch_makes_ort_s_tokens() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "-d",
        d,
        "--runtime",
        "ort,torch",
        "--iterations",
        "3",
        "--script-args",
        "--batch_size 2 --max_seq_length 5 --max_new_tokens 4",
        "tests/data/generate/llama_tiny_generate.rhai",
        "tests/data/generate/gpt2_tiny_generate.rhai",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let builds = builds(cache.path());
    assert_eq!(builds.len(), 2);
    for b in &builds {
        assert!(b.join("decode.graph.json").is_file(), "{}", b.display());
        let rec = record(b);
        let rows = rec["runtimes"].as_array().unwrap();
        let of = |rt: &str| rows.iter().find(|r| r["runtime"] == rt).unwrap().clone();
        let (ort, torch) = (of("ort"), of("torch"));
        assert_eq!(torch["status"], "successful", "{torch:#}");
        assert_eq!(torch["check"]["status"], "passed", "{torch:#}");
        let g = &torch["generation"];
        assert_eq!(g["tokens_match"], true, "{g:#}");
        assert_eq!(g["tokens"], ort["generation"]["tokens"]);
        assert_eq!(g["decode_steps"], 3, "{g:#}");
        assert!(g["ttft_ms"].as_f64().unwrap() > 0.0);
    }
}
