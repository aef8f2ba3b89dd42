//! `--analyze-only`: scripts are traced and recorded (params, parameter
//! bytes, FLOPs, FLOPs per token, op counts, activation memory) with no
//! weights made and nothing exported, whatever `--max-memory` says; the
//! report carries the numbers; a later full run of the same build exports.

mod common;
use common::*;

fn record_named(cache: &std::path::Path, prefix: &str) -> (std::path::PathBuf, serde_json::Value) {
    let b = builds(cache)
        .into_iter()
        .find(|b| b.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} build in {}", cache.display()));
    let r = record(&b);
    (b, r)
}

#[test]
fn analyze_only_records_the_numbers_without_weights_or_onnx() {
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    // 10 MB is far below either model's weights (GPT-2 498 MB, ResNet-50
    // 102 MB): a build is refused, an analysis is not.
    let scripts = [
        "models/transformers/gpt2.rhai",
        "models/torchvision/resnet50.rhai",
    ];
    let built = run(&[
        &["-d", c, "--build-only", "--max-memory", "10MB"][..],
        &scripts,
    ]
    .concat());
    assert_ne!(built.code, 0, "{}", built.stderr);
    assert!(
        built.stderr.contains("over the --max-memory limit")
            && built.stderr.contains("--analyze-only"),
        "{}",
        built.stderr
    );

    let r = run(&[
        &["-d", c, "--analyze-only", "--max-memory", "10MB"][..],
        &scripts,
    ]
    .concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("analyzed: no weights, no ONNX"),
        "{}",
        r.stderr
    );
    for (prefix, params, lm) in [
        ("gpt2_", 124_439_808u64, true),
        ("resnet50_", 25_557_032, false),
    ] {
        let (dir, rec) = record_named(cache.path(), prefix);
        let id = &rec["identity"];
        assert_eq!(id["params"], params, "{prefix}");
        // GPT-2 has no buffers; ResNet-50's BatchNorm running statistics
        // are bytes but not parameters.
        let bytes = id["param_bytes"].as_u64().unwrap();
        if lm {
            assert_eq!(bytes, params * 4);
        } else {
            assert!(bytes > params * 4, "{bytes}");
        }
        let flops = id["flops"].as_u64().unwrap();
        assert!(flops > 2 * params, "{prefix}: {flops}");
        assert!(id["activation_bytes"].as_u64().unwrap() > 0, "{prefix}");
        assert!(id["op_counts"].as_object().unwrap().len() > 3, "{prefix}");
        let tokens: u64 = id["inputs"][0]["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .product();
        if lm {
            assert_eq!(id["flops_per_token"].as_u64().unwrap(), flops / tokens);
        } else {
            assert!(id["flops_per_token"].is_null(), "{prefix}");
        }
        assert_eq!(rec["stages"]["analyze"]["status"], "successful");
        assert!(
            rec["stages"].get("export").is_none(),
            "{prefix}: {}",
            rec["stages"]
        );
        assert!(
            !dir.join("model.onnx").exists(),
            "{prefix}: an ONNX was written"
        );
        assert!(rec["runtimes"].as_array().unwrap().is_empty());
    }

    // The report carries them.
    let out = tempfile::tempdir().unwrap();
    let rep = run(&["report", "-d", c, "-o", out.path().to_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let mut rd = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let gpt2 = rows
        .iter()
        .find(|r| r[col("build")].starts_with("gpt2_"))
        .unwrap();
    assert_eq!(&gpt2[col("param_bytes")], (124_439_808u64 * 4).to_string());
    assert!(!gpt2[col("flops_per_token")].is_empty());
    assert!(!gpt2[col("activation_bytes")].is_empty());
    assert_eq!(&gpt2[col("status")], "successful");

    // An analysis is no export: a full build of the same script exports.
    let r = run(&["-d", c, "--build-only", "models/torchvision/resnet50.rhai"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (dir, rec) = record_named(cache.path(), "resnet50_");
    assert!(dir.join("model.onnx").exists());
    assert_eq!(rec["stages"]["export"]["status"], "successful");
}

#[test]
fn analyze_only_and_build_only_exclude_each_other() {
    let r = run(&[
        "--analyze-only",
        "--build-only",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--analyze-only"), "{}", r.stderr);
}
