//! transformers::from_config and from_config_file: a Hugging Face
//! config.json as it is (written by the transformers config classes:
//! tests/data/hf_configs/, scripts/hf_config_fixtures.py) builds the model
//! transformers builds from it, with its exact parameter count; unknown
//! keys are warnings naming the key, printed and recorded; unsupported
//! values are errors naming the key; the file is read inside the script's
//! sandbox.

mod common;
use common::*;
use std::path::Path;
use turnkey::script::{DiscoverOptions, discover};

/// The inputs a model of `model_type` (class `class`) is called with in these tests.
fn inputs(model_type: &str, class: &str) -> &'static str {
    match model_type {
        "whisper" if class == "WhisperEncoder" => "rand([1, 80, 3000])",
        "wav2vec2" | "hubert" => "rand([1, 4000])",
        "t5" | "bart" | "marian" => {
            "#{ input_ids: randint(0, 100, [1, 8]), decoder_input_ids: randint(0, 100, [1, 8]) }"
        }
        "whisper" => {
            "#{ input_features: rand([1, 80, 3000]), decoder_input_ids: randint(0, 100, [1, 8]) }"
        }
        _ => "#{ input_ids: randint(0, 100, [1, 8]) }",
    }
}

/// Writes `script` as s.rhai in `dir` and traces it without weights.
fn trace(dir: &Path, script: &str) -> Result<turnkey::script::Discovery, String> {
    let p = dir.join("s.rhai");
    std::fs::write(&p, script).unwrap();
    let opts = DiscoverOptions {
        analyze_only: true,
        ..Default::default()
    };
    discover(&p, &opts).map_err(|e| e.to_string())
}

fn fixtures() -> serde_json::Value {
    let text =
        std::fs::read_to_string(root().join("tests/data/hf_configs/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every fixture config.json builds, through from_config_file, with the
/// parameter count of the class transformers builds from it; a config whose
/// `architectures` names a head that is not built says so in a warning, the
/// others build without warnings.
#[test]
fn every_fixture_config_builds_with_the_reference_count() {
    let reference = fixtures();
    let models = reference["models"].as_object().unwrap();
    assert!(models.len() >= 12, "{}", models.len());
    let mut failures = Vec::new();
    for (name, want) in models {
        let dir = tempfile::tempdir().unwrap();
        let src = root().join(format!("tests/data/hf_configs/{name}.json"));
        let text = std::fs::read_to_string(&src).unwrap();
        std::fs::write(dir.path().join("config.json"), &text).unwrap();
        let config: serde_json::Value = serde_json::from_str(&text).unwrap();
        let model_type = config["model_type"].as_str().unwrap();
        let script = format!(
            "let m = transformers::from_config_file(\"config.json\");\nm.forward({});\n",
            inputs(model_type, want["class"].as_str().unwrap())
        );
        let d = match trace(dir.path(), &script) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let got = d.builds[0].graph.stats().params;
        let params = want["num_parameters"].as_u64().unwrap();
        if got != params {
            failures.push(format!("{name}: {got} parameters, transformers {params}"));
        }
        let arch = config["architectures"][0].as_str().unwrap();
        let class = want["class"].as_str().unwrap();
        let warned = d.warnings.iter().any(|w| {
            w.contains("config.json")
                && w.contains(&format!("architectures \"{arch}\" is built as {class}"))
        });
        if (arch != class) != warned || (arch == class && !d.warnings.is_empty()) {
            failures.push(format!(
                "{name}: architectures {arch}, built {class}; warnings {:?}",
                d.warnings
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A key no builder knows is one warning naming the key and the config,
/// printed once as `warning: <script>: ...` and kept in the build's record;
/// the keys every config.json carries (dropouts, token ids, generation
/// settings, bookkeeping) are accepted silently.
#[test]
fn unknown_keys_are_warnings_printed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/hf_configs/minilm_l6.json")).unwrap(),
    )
    .unwrap();
    config["num_hidden_layers"] = 1.into();
    config["my_custom_key"] = 3.into();
    // Legacy keys of older hub configs: accepted.
    config["gradient_checkpointing"] = false.into();
    config["position_embedding_type"] = "absolute".into();
    config["max_length"] = 20.into();
    config["hidden_dropout_prob"] = 0.1.into();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    let script = dir.path().join("embedder.rhai");
    // Two models from the one config: the warning is still printed once.
    std::fs::write(
        &script,
        "let m = transformers::from_config_file(\"config.json\");\n\
         let m2 = transformers::from_config_file(\"config.json\");\n\
         m.forward(#{ input_ids: randint(0, 100, [1, 8]) });\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = run(&[
        "-d",
        cache.path().to_str().unwrap(),
        "--analyze-only",
        script.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want = "config.json: unknown key \"my_custom_key\" for model_type \"bert\" is ignored";
    let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(want)).collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].starts_with("warning: ") && lines[0].contains("embedder.rhai"),
        "{}",
        lines[0]
    );
    for accepted in [
        "gradient_checkpointing",
        "position_embedding_type",
        "max_length",
        "dropout",
    ] {
        assert!(!r.stderr.contains(accepted), "{accepted}: {}", r.stderr);
    }
    let b = builds(cache.path());
    assert_eq!(b.len(), 1, "{b:?}");
    let rec = record(&b[0]);
    let warnings = &rec["stages"]["discover"]["warnings"];
    assert!(
        warnings
            .as_array()
            .is_some_and(|w| w.len() == 1 && w[0].as_str().unwrap().contains(want)),
        "{warnings}"
    );
}

/// Values the builders do not implement are errors naming the key (and
/// the script line), never a model built another way.
#[test]
fn unsupported_values_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bert = r#"model_type: "bert", num_hidden_layers: 1"#;
    for (config, want) in [
        (format!(r#"{bert}, hidden_act: "tanh""#), r#"hidden_act "tanh" is not supported"#),
        (
            format!(r#"{bert}, position_embedding_type: "relative_key""#),
            r#"position_embedding_type "relative_key" is not supported"#,
        ),
        (format!("{bert}, is_decoder: true"), "is_decoder: true is not supported"),
        (
            r#"model_type: "llama", num_hidden_layers: 1, rope_scaling: #{ rope_type: "yarn", factor: 4.0 }"#.into(),
            r#"rope_scaling.rope_type "yarn" is not supported"#,
        ),
        (
            r#"model_type: "t5", num_layers: 1, feed_forward_proj: "gated-gelu-x""#.into(),
            r#"feed_forward_proj "gated-gelu-x" is not valid"#,
        ),
        (
            r#"model_type: "distilbert", sinusoidal_pos_embds: true"#.into(),
            "sinusoidal_pos_embds: true (DistilBERT) is not supported",
        ),
        (
            r#"model_type: "whisper", architectures: ["WhisperForAudioClassification"]"#.into(),
            r#"architectures "WhisperForAudioClassification" (Whisper) is not supported"#,
        ),
        (
            r#"model_type: "bart", add_final_layer_norm: true"#.into(),
            "add_final_layer_norm: true is not supported for BART",
        ),
        (r#"model_type: "bort""#.into(), r#"model_type "bort" is not supported by transformers::from_config"#),
        ("hidden_size: 64".into(), "the config has no model_type"),
    ] {
        let err = match trace(
            dir.path(),
            &format!("let m = transformers::from_config(#{{ {config} }});\nm.forward(randint(0, 100, [1, 8]));\n"),
        ) {
            Ok(_) => panic!("{config}: built"),
            Err(e) => e,
        };
        assert!(err.contains(want) && err.contains("s.rhai:"), "{config}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// from_config_file reads only inside the script's sandbox; a missing file
/// or invalid JSON is one line naming the file.
#[test]
fn config_files_are_read_inside_the_sandbox() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("scripts");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        outer.path().join("outside.json"),
        r#"{"model_type": "bert"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("broken.json"), "{\"model_type\": \"bert\",\n}").unwrap();
    std::fs::write(dir.join("list.json"), "[1, 2]").unwrap();
    for (path, want) in [
        (
            "../outside.json",
            "read_json(\"../outside.json\"): not allowed",
        ),
        ("missing.json", "read_json(\"missing.json\"): cannot read"),
        (
            "broken.json",
            "read_json(\"broken.json\"): not valid JSON at line 2",
        ),
        (
            "list.json",
            "from_config_file(\"list.json\"): the file is not a JSON object",
        ),
    ] {
        let err = match trace(
            &dir,
            &format!(
                "let m = transformers::from_config_file(\"{path}\");\nm.forward(randint(0, 100, [1, 8]));\n"
            ),
        ) {
            Ok(_) => panic!("{path}: built"),
            Err(e) => e,
        };
        assert!(
            err.contains(want) && err.contains("s.rhai:1"),
            "{path}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
