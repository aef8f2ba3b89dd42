//! `lm.generate` (issue #18): prefill + decode graphs with a static KV
//! cache, the worker's generation loop on ort and tract, the KV wiring
//! proven against one full forward, accounting, and errors as rows.

mod common;

use common::{builds, py, record, run, with_value_helpers};
use serde_json::Value;
use std::path::Path;

const LLAMA: &str = "tests/data/generate/llama_tiny_generate.rhai";
const GPT2: &str = "tests/data/generate/gpt2_tiny_generate.rhai";

/// The config lines of each script's model, for the full-forward reference.
const LLAMA_MODEL: &str = r#"let lm = transformers::llama(#{
    model_type: "llama", vocab_size: 1000, hidden_size: 64, intermediate_size: 128,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 64,
});"#;
const GPT2_MODEL: &str = r#"let lm = transformers::gpt2(#{ vocab_size: 1000, n_positions: 64, n_embd: 64, n_layer: 2, n_head: 4 });"#;

fn only_build(cache: &Path) -> std::path::PathBuf {
    let b = builds(cache);
    assert_eq!(b.len(), 1, "{b:?}");
    b[0].clone()
}

fn row<'a>(rec: &'a Value, runtime: &str) -> &'a Value {
    rec["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runtime"] == runtime)
        .unwrap_or_else(|| panic!("no {runtime} row in {rec:#}"))
}

/// Runs `script` with P = 5, N = 4, batch 2 on ort and tract; checks the
/// record's accounting; returns the build folder.
fn generate(script: &str, dir: &Path) -> std::path::PathBuf {
    let cache = dir.join("cache");
    let r = run(&[
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "ort,tract",
        "--iterations",
        "3",
        script,
        "--script-args",
        "--batch_size 2 --max_seq_length 5 --max_new_tokens 4",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let build = only_build(&cache);
    let rec = record(&build);
    let g = &rec["identity"]["generation"];
    assert_eq!(g["prompt_tokens"], 5);
    assert_eq!(g["new_tokens"], 4);
    assert_eq!(g["max_cache_len"], 9);
    assert_eq!(g["layers"], 2);
    for (rt, reference) in [("ort", true), ("tract", false)] {
        let row = row(&rec, rt);
        assert_eq!(row["status"], "successful", "{row:#}");
        let s = &row["generation"];
        assert_eq!(s["repetitions"], 3, "{s:#}");
        assert_eq!(s["decode_steps"], 3);
        assert_eq!(s["decode_ms_by_step"].as_array().unwrap().len(), 3);
        let kv = g["layers"].as_u64().unwrap()
            * g["kv_heads"].as_u64().unwrap()
            * g["head_dim"].as_u64().unwrap();
        // 2 (k, v) x layers x kv_heads x head_dim x M (9) x batch (2) x 4 bytes.
        assert_eq!(s["kv_cache_bytes"].as_u64().unwrap(), 2 * kv * 9 * 2 * 4);
        for k in [
            "ttft_ms",
            "decode_ms_median",
            "decode_ms_p90",
            "decode_ms_p99",
            "gen_tokens_per_s",
            "prompt_tokens_per_s",
            "e2e_ms",
        ] {
            assert!(s[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {s:#}");
        }
        let tokens = s["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t.as_array().unwrap().len() == 4));
        if reference {
            assert!(s["tokens_match"].is_null());
        } else {
            assert_eq!(s["tokens_match"], true, "{row:#}");
            assert_eq!(row["check"]["status"], "passed", "{row:#}");
            assert_eq!(s["tokens"], row_tokens(&rec, "ort"));
        }
    }
    // Both graphs pass ONNX's full checker.
    py(
        "import onnx, sys\nfor p in sys.argv[1:]: onnx.checker.check_model(p, full_check=True)",
        &[&build.join("model.onnx"), &build.join("decode.onnx")],
    );
    build
}

fn row_tokens(rec: &Value, rt: &str) -> Value {
    row(rec, rt)["generation"]["tokens"].clone()
}

/// The KV wiring: the logits of step k (prefill's last position, then each
/// decode step) equal one full forward over the prompt and the first k
/// generated tokens, and the tokens are their argmax.
fn full_forward_agrees(build: &Path, model: &str, dir: &Path) {
    let full = py(
        &with_value_helpers(
            "import sys\nids = read_values(sys.argv[1] + '/inputs', 'input')[0][1]\n\
             out = read_values(sys.argv[1] + '/outputs/ort-cpu', 'output')\n\
             toks = dict(out)['tokens']\n\
             print(json.dumps(np.concatenate([ids, toks[:, :-1]], 1).tolist()))",
        ),
        &[build],
    );
    let script = dir.join("full.rhai");
    std::fs::write(
        &script,
        format!(
            "{model}\nlm.forward(#{{ input_ids: tensor({}, \"int64\") }});\n",
            full.trim()
        ),
    )
    .unwrap();
    let cache = dir.join("full_cache");
    let r = run(&[
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "ort",
        "--iterations",
        "1",
        script.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let forward = only_build(&cache);
    let report = py(
        &with_value_helpers(
            "import sys\ngen = dict(read_values(sys.argv[1] + '/outputs/ort-cpu', 'output'))\n\
             full = read_values(sys.argv[2] + '/outputs/ort-cpu', 'output')[0][1]\n\
             P = read_values(sys.argv[1] + '/inputs', 'input')[0][1].shape[1]\n\
             N = gen['logits'].shape[1]\n\
             ref = full[:, P - 1:P - 1 + N, :]\n\
             assert ref.shape == gen['logits'].shape, (ref.shape, gen['logits'].shape)\n\
             print(float(np.abs(ref - gen['logits']).max()), bool((ref.argmax(-1) == gen['tokens']).all()))",
        ),
        &[build, &forward],
    );
    let mut parts = report.split_whitespace();
    let diff: f64 = parts.next().unwrap().parse().unwrap();
    assert!(
        diff < 1e-4,
        "decode logits differ from the full forward by {diff}"
    );
    assert_eq!(
        parts.next(),
        Some("True"),
        "greedy tokens are not the full forward's argmax"
    );
}

#[test]
fn llama_generates_with_a_kv_cache_equal_to_full_forward() {
    let dir = tempfile::tempdir().unwrap();
    let build = generate(LLAMA, dir.path());
    full_forward_agrees(&build, LLAMA_MODEL, dir.path());
}

#[test]
fn gpt2_generates_with_a_kv_cache_equal_to_full_forward() {
    let dir = tempfile::tempdir().unwrap();
    let build = generate(GPT2, dir.path());
    full_forward_agrees(&build, GPT2_MODEL, dir.path());
}

/// Bad generate calls are clear errors of their script; the run goes on.
#[test]
fn bad_generate_calls_are_errors_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "no_lm_head.rhai",
            "let m = nn::linear(4, 4);\nm.generate(#{ input_ids: randint(0, 4, [1, 3]) }, #{ max_new_tokens: 2 });",
            "is a single layer, not a causal LM",
        ),
        (
            "not_an_lm.rhai",
            "let m = nn::module(\"Doubler\", |a| a.input_ids.cast(\"float32\"));\nm.generate(#{ input_ids: randint(0, 4, [1, 3]) }, #{ max_new_tokens: 2 });",
            "must return #{ logits, present_key_values }",
        ),
        (
            "zero_tokens.rhai",
            &format!(
                "{LLAMA_MODEL}\nlm.generate(#{{ input_ids: randint(0, 1000, [1, 3]) }}, #{{ max_new_tokens: 0 }});"
            ),
            "max_new_tokens 0 is out of range",
        ),
        (
            "absurd_tokens.rhai",
            &format!(
                "{LLAMA_MODEL}\nlm.generate(#{{ input_ids: randint(0, 1000, [1, 3]) }}, #{{ max_new_tokens: 10000000 }});"
            ),
            "max_new_tokens 10000000 is out of range",
        ),
        (
            "too_long.rhai",
            &format!(
                "{LLAMA_MODEL}\nlm.generate(#{{ input_ids: randint(0, 1000, [1, 60]) }}, #{{ max_new_tokens: 8 }});"
            ),
            "needs 68 positions",
        ),
    ];
    let mut args = vec![
        "-d".to_string(),
        dir.path().join("cache").display().to_string(),
        "--runtime".into(),
        "ort".into(),
        "--iterations".into(),
        "1".into(),
    ];
    for (name, text, _) in &cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        args.push(p.display().to_string());
    }
    args.extend([
        LLAMA.into(),
        "--script-args".into(),
        "--max_seq_length 5 --max_new_tokens 4".into(),
    ]);
    let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(r.code, 0);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    for (name, _, want) in &cases {
        assert!(all.contains(want), "{name}: no '{want}' in\n{all}");
    }
    // The good script after the bad ones still ran.
    let good = builds(&dir.path().join("cache"))
        .into_iter()
        .map(|b| record(&b))
        .find(|r| r["identity"]["generation"].is_object())
        .expect("the llama generate build");
    assert_eq!(row(&good, "ort")["status"], "successful");
}

/// The report carries the generation columns.
#[test]
fn report_has_generation_columns() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let r = run(&[
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "tract",
        "--iterations",
        "2",
        LLAMA,
        "--script-args",
        "--max_seq_length 4 --max_new_tokens 3",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = dir.path().join("report");
    let r = run(&[
        "report",
        "-d",
        cache.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut csv = csv::Reader::from_path(out.join("turnkey-report.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let cells = csv.records().next().unwrap().unwrap();
    let cell = |name: &str| cells[header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(cell("prompt_tokens"), "4");
    assert_eq!(cell("new_tokens"), "3");
    for c in [
        "ttft_ms",
        "decode_ms_median",
        "decode_ms_p99",
        "gen_tokens_per_s",
        "prompt_tokens_per_s",
        "e2e_ms",
    ] {
        assert!(
            cell(c).parse::<f64>().is_ok_and(|x| x > 0.0),
            "{c}: {cells:?}"
        );
    }
    // 2 x 2 layers x 2 kv heads x 16 x M 7 x batch 1 x 4 bytes.
    assert_eq!(cell("kv_cache_bytes"), (2 * 2 * 2 * 16 * 7 * 4).to_string());
    assert_eq!(cell("tokens_match"), "reference");
    let html = std::fs::read_to_string(out.join("turnkey-report.html")).unwrap();
    assert!(
        html.contains("Decode latency against context length"),
        "no decode chart"
    );
}

/// `max_new_tokens` is a standard argument: a sweep makes one build per point.
#[test]
fn max_new_tokens_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let r = run(&[
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "tract",
        "--iterations",
        "1",
        LLAMA,
        "--script-args",
        "--max_seq_length 4",
        "--sweep",
        "max_new_tokens=2,3",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut got: Vec<(u64, usize)> = builds(&cache)
        .iter()
        .map(|b| {
            let rec = record(b);
            let n = rec["identity"]["generation"]["new_tokens"]
                .as_u64()
                .unwrap();
            let steps = row(&rec, "tract")["generation"]["decode_ms_by_step"]
                .as_array()
                .unwrap()
                .len();
            (n, steps)
        })
        .collect();
    got.sort();
    assert_eq!(got, [(2, 1), (3, 2)]);
}
