//! The zoo's config values: for every corpus script built from a config
//! map (transformers::llama, ::phi, ::falcon, ..., diffusers::autoencoder_kl,
//! ::clip_text_model, ...), the config its builder resolved (the script's
//! keys over the builder's defaults, kept by `record_config`) equals, key by
//! key, the reference library's config for that script (its config class's
//! to_dict(), recorded in tests/data/reference/*.json by
//! scripts/reference_names.py). tests/zoo.rs checks counts and state_dict
//! names; this sees what changes neither: norm eps, rope_theta and rope
//! scaling, max_position_embeddings, sliding windows, activations, rotary
//! fractions. Analyze-only: no weights are made.
//!
//! Two directions:
//! - every key of the script's resolved config that the reference config
//!   has must have the same value (numbers compared as numbers: 1e-6 is
//!   1e-06, 10000 is 10000.0);
//! - every key the reference sets away from its config class's default
//!   (`config_set`) must be in the script's resolved config, or the builder
//!   would silently build the class default.

mod common;
use common::*;
use serde_json::{Map, Value};
use turnkey::script::{DiscoverOptions, ScriptArgs, discover};

/// Keys that are not the model's: the builder's own loading options and
/// settings with no effect on the inference graph (token ids, dropout,
/// output flags, initialisation), and keys the reference keeps in another
/// form that the test compares through their aliases (rope_parameters: its
/// rope_theta, rope_scaling and partial_rotary_factor are compared).
const NOT_COMPARED: &[&str] = &[
    "weights",
    "pretrained",
    "repo",
    "revision",
    "strict",
    "rope_parameters",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "sep_token_id",
    "decoder_start_token_id",
    "initializer_range",
    "initializer_factor",
    "init_std",
    "use_cache",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "problem_type",
    "chunk_size_feed_forward",
    "is_encoder_decoder",
    "router_aux_loss_coef",
    "router_jitter_noise",
    "output_router_logits",
    "pretraining_tp",
];

/// Spellings of one setting: a builder that takes either leaves the other
/// () (GPT-NeoX's rotary_pct / partial_rotary_factor, rotary_emb_base /
/// rope_theta); the one it was given is compared.
const ALIASES: &[(&str, &str)] = &[
    ("partial_rotary_factor", "rotary_pct"),
    ("rope_theta", "rotary_emb_base"),
];

/// Keys the reference's config class derives from keys compared here, that
/// the builder derives the same way and leaves (): (builder, key).
/// layer_types (Llama, Qwen2: every layer "full_attention", the sliding
/// window is not built; Qwen2's use_sliding_window is compared);
/// Falcon's num_key_value_heads: 1 with multi_query, else num_kv_heads;
/// T5's dense_act_fn and is_gated_act: from feed_forward_proj
/// ("gated-gelu"); DeBERTa's pooler_hidden_size and wav2vec2's
/// output_hidden_size: hidden_size unless given (the pooler and the
/// adapter they size are not built).
const DERIVED: &[(&str, &str)] = &[
    ("transformers::llama", "layer_types"),
    ("transformers::falcon", "num_key_value_heads"),
    ("transformers::t5", "dense_act_fn"),
    ("transformers::t5", "is_gated_act"),
    ("transformers::deberta_v2", "pooler_hidden_size"),
    ("transformers::wav2vec2", "output_hidden_size"),
];

/// Whether `key` is one the comparison skips (see NOT_COMPARED, DERIVED).
fn not_compared(builder: &str, key: &str) -> bool {
    NOT_COMPARED.contains(&key)
        // Training only: dropout, SpecAugment's masking (wav2vec2, HuBERT).
        || key.starts_with("mask_time_")
        || key.starts_with("mask_feature_")
        || key.contains("dropout")
        || key.ends_with("_pdrop")
        || DERIVED.contains(&(builder, key))
}

/// The reference tables, merged (as tests/zoo.rs reads them).
fn reference_tables() -> Map<String, Value> {
    let mut models = Map::new();
    for f in std::fs::read_dir(root().join("tests/data/reference")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "json") {
            let table: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            models.extend(table["models"].as_object().unwrap().clone());
        }
    }
    models
}

/// Equal as config values: numbers by value (an int and a float of the
/// same value are equal), maps key by key (a key one side lacks must be
/// null on the other), arrays element by element.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).all(|k| {
            same(
                x.get(k).unwrap_or(&Value::Null),
                y.get(k).unwrap_or(&Value::Null),
            )
        }),
        // DeBERTa's pos_att_type: config.json's "p2c|c2p", the config
        // class's ["p2c", "c2p"].
        (Value::String(x), Value::Array(_)) | (Value::Array(_), Value::String(x))
            if x.contains('|') =>
        {
            let y = if let Value::Array(y) = a {
                y
            } else {
                b.as_array().unwrap()
            };
            let parts: Vec<Value> = x.split('|').map(|p| Value::String(p.into())).collect();
            same(&Value::Array(parts), &Value::Array(y.clone()))
        }
        _ => a == b,
    }
}

/// What the comparison of one script found.
#[derive(Default)]
struct Compared {
    keys: usize,
    mismatches: Vec<String>,
    /// Keys of the script's config that the reference config has not
    /// (builder-only switches such as add_pooling_layer): not compared.
    unmatched: Vec<String>,
}

/// Compares a script's resolved config (`builder`'s) with its reference
/// entry's config, both directions (see the module doc).
fn compare(script: &str, builder: &str, got: &Map<String, Value>, reference: &Value) -> Compared {
    let want = reference["config"].as_object().unwrap();
    let source = reference["source"].as_str().unwrap_or("the reference");
    let source = source.split('(').next().unwrap_or(source);
    let mut out = Compared::default();
    for (k, v) in got {
        let Some(w) = want.get(k) else {
            out.unmatched.push(k.clone());
            continue;
        };
        if not_compared(builder, k) {
            continue;
        }
        if v.is_null() && !w.is_null() {
            let alias = ALIASES
                .iter()
                .find_map(|&(a, b)| (a == k).then_some(b).or((b == k).then_some(a)));
            if alias.is_some_and(|a| got.get(a).is_some_and(|x| !x.is_null())) {
                continue;
            }
        }
        out.keys += 1;
        // A nested config (DETR's backbone_config): the keys the script
        // gives, over the nested config class's defaults.
        let nested = w.get("model_type").is_some() && v.is_object();
        let differs = if nested {
            let v = v.as_object().unwrap();
            v.iter()
                .any(|(k, x)| !same(x, w.get(k).unwrap_or(&Value::Null)))
        } else {
            !same(v, w)
        };
        if differs {
            out.mismatches.push(format!(
                "{script}: {k} = {v} (the script over {builder}'s defaults), {w} in {source}"
            ));
        }
    }
    for k in reference["config_set"].as_array().unwrap() {
        let k = k.as_str().unwrap();
        if !got.contains_key(k) && !not_compared(builder, k) {
            out.mismatches.push(format!(
                "{script}: {source} sets {k} = {}, which the script leaves out and {builder}'s defaults do not name (it builds the class default)",
                want[k]
            ));
        }
    }
    out
}

/// The config the script's first builder resolved, traced analyze-only.
fn resolved_config(path: &std::path::Path) -> Option<(String, Map<String, Value>)> {
    let opts = DiscoverOptions {
        script_args: ScriptArgs::parse("").unwrap(),
        analyze_only: true,
        ..Default::default()
    };
    let d = discover(path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (builder, config) = d.configs.into_iter().next()?;
    Some((builder, config.as_object().unwrap().clone()))
}

/// At least this many scripts and keys are compared: a builder that stops
/// recording, or a table regenerated without configs, fails here instead
/// of passing with nothing checked.
const MIN_SCRIPTS: usize = 150;
const MIN_KEYS: usize = 2000;

#[test]
fn every_config_built_script_matches_its_reference_config_key_by_key() {
    let tables = reference_tables();
    let (mut scripts, mut keys) = (0, 0);
    let mut failures = Vec::new();
    let mut unrecorded = Vec::new();
    let mut unmatched =
        std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for (script, reference) in &tables {
        if reference.get("config").is_none() || !root().join(script).exists() {
            continue;
        }
        let Some((builder, got)) = resolved_config(&root().join(script)) else {
            unrecorded.push(script.clone());
            continue;
        };
        let c = compare(script, &builder, &got, reference);
        scripts += 1;
        keys += c.keys;
        unmatched.entry(builder).or_default().extend(c.unmatched);
        failures.extend(c.mismatches);
    }
    eprintln!(
        "compared {keys} config keys of {scripts} scripts; {} scripts with a reference config \
         whose builder records none: {unrecorded:?}",
        unrecorded.len()
    );
    for (builder, keys) in unmatched.iter().filter(|(_, k)| !k.is_empty()) {
        eprintln!("{builder}: keys the reference config has not (not compared): {keys:?}");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(
        unrecorded.is_empty(),
        "these scripts' builders record no config: add record_config(\"<module>::<builder>\", c) \
         where the builder has applied its defaults: {unrecorded:?}"
    );
    assert!(
        scripts >= MIN_SCRIPTS && keys >= MIN_KEYS,
        "only {scripts} scripts and {keys} keys compared (at least {MIN_SCRIPTS} and {MIN_KEYS} expected)"
    );
}

/// The mismatches of `script` with its text's first `from` replaced by
/// `to` (traced from a temporary copy), compared with `script`'s reference
/// entry; `from` == `to` compares the script as it is.
fn injected(script: &str, from: &str, to: &str) -> Compared {
    let reference = reference_tables()[script].clone();
    let text = std::fs::read_to_string(root().join(script)).unwrap();
    assert!(text.contains(from), "{script} has no `{from}`");
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(std::path::Path::new(script).file_name().unwrap());
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    let (builder, got) = resolved_config(&path).expect("the builder records its config");
    compare(script, &builder, &got, &reference)
}

/// The comparison catches a wrong value a script gives (Qwen2.5's
/// rms_norm_eps 1e-6 written 1e-5; a UNet's norm_eps; Llama 3.1's RoPE
/// scaling factor) and one it leaves to
/// a builder default that is not the checkpoint's (rope_theta left out:
/// 10000, not Qwen's 1000000 or Llama 3.1's 500000; SDXL's VAE scaling_factor left out: SD's
/// 0.18215, not 0.13025), naming the key, while the parameter count and
/// names stay the same; the unchanged scripts compare clean.
#[test]
fn an_injected_wrong_config_value_is_caught_naming_the_key() {
    let qwen = "models/llm/qwen2_5_0_5b.rhai";
    let llama = "models/llm/llama_3_1_8b.rhai";
    let clean = injected(qwen, "", "");
    assert!(clean.mismatches.is_empty(), "{:?}", clean.mismatches);
    assert!(clean.keys >= 12, "only {} keys compared", clean.keys);
    let cases = [
        (
            qwen,
            "rms_norm_eps: 1e-6",
            "rms_norm_eps: 1e-5",
            "rms_norm_eps = 0.00001",
        ),
        (qwen, "rope_theta: 1000000.0,", "", "rope_theta = 10000.0"),
        // Llama 3.1's rope_theta left out: the builder's 10000, not 500000.
        (llama, "rope_theta: 500000.0,", "", "rope_theta = 10000.0"),
        (llama, "factor: 8.0,", "factor: 4.0,", "rope_scaling = {"),
        (
            "models/diffusers/sdxl_vae.rhai",
            "sample_size: 1024, scaling_factor: 0.13025",
            "sample_size: 1024",
            "scaling_factor = 0.18215",
        ),
        (
            "models/diffusers/sd15_unet.rhai",
            "sample_size: 64",
            "sample_size: 64, norm_eps: 1e-6",
            "norm_eps = 1e-6",
        ),
    ];
    for (script, from, to, says) in cases {
        assert!(
            injected(script, from, from).mismatches.is_empty(),
            "{script} as it is"
        );
        let m = injected(script, from, to).mismatches;
        assert!(
            m.len() == 1 && m[0].contains(says),
            "{script} with `{to}` for `{from}`: {m:?}"
        );
    }
}
