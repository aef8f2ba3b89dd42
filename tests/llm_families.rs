//! The decoder families of stdlib/transformers_<family>.rhai (Phi, Phi-3,
//! Gemma, Gemma 2, GPT-NeoX, OPT, Falcon, Mixtral): config keys a builder
//! does not know, and values it does not implement, are errors naming the
//! key; Mixtral's routed graph computes its top-k experts only; partial
//! rotary rotates only the leading dims. (Counts and state_dict names of the
//! corpus scripts: tests/zoo.rs; outputs against transformers:
//! scripts/reference_outputs.py over tests/data/llm/*_tiny.rhai.)

use turnkey::script::{DiscoverOptions, discover};

/// Traces `builder(#{ <config> })` on 8 tokens of a 100-word vocabulary.
fn trace(builder: &str, config: &str) -> Result<turnkey::graph::GraphStats, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("decoder.rhai");
    let src = format!(
        "let m = transformers::{builder}(#{{ vocab_size: 100, hidden_size: 64, \
         num_hidden_layers: 1, num_attention_heads: 4, {config} }});\n\
         m.forward(randint(0, 100, [1, 8]));\n"
    );
    std::fs::write(&p, src).unwrap();
    let opts = DiscoverOptions {
        analyze_only: true,
        ..Default::default()
    };
    discover(&p, &opts)
        .map(|d| d.builds[0].graph.stats())
        .map_err(|e| e.to_string())
}

fn error_of(builder: &str, config: &str) -> String {
    match trace(builder, config) {
        Ok(_) => panic!("{builder}({config}) built"),
        Err(e) => {
            assert!(e.contains("decoder.rhai:"), "{e}: no script line");
            e
        }
    }
}

/// A typo in any family's config is an error naming the builder and the
/// key, never a model with the default silently in its place.
#[test]
fn unknown_config_keys_are_errors_that_name_them() {
    for (builder, typo) in [
        ("phi", "partial_rotary: 0.4"),
        ("phi3", "intermediate: 128"),
        ("gemma", "head_size: 16"),
        ("gemma2", "attn_softcap: 50.0"),
        ("gpt_neox", "rotary_percent: 0.25"),
        ("opt", "ffn_size: 128"),
        ("falcon", "multiquery: true"),
        ("mixtral", "num_experts: 4"),
    ] {
        let key = typo.split(':').next().unwrap();
        let err = error_of(builder, typo);
        assert!(
            err.contains(&format!(
                "transformers::{builder}: unknown config key \"{key}\""
            )),
            "{builder}: {err}"
        );
    }
}

/// Keys every config.json carries (token ids, dtype, dropout) and the
/// weight-loading keys are accepted by every family.
#[test]
fn config_json_bookkeeping_keys_are_accepted() {
    let generic = r#"architectures: ["X"], torch_dtype: "bfloat16", transformers_version: "4.40.0",
        bos_token_id: 1, eos_token_id: 2, use_cache: true, initializer_range: 0.02, attention_dropout: 0.0,
        activation_dropout: 0.0, _name_or_path: "org/model", pretraining_tp: 1"#;
    for (builder, own) in [
        ("phi", "intermediate_size: 128"),
        ("phi3", "intermediate_size: 128"),
        (
            "gemma",
            "intermediate_size: 128, head_dim: 16, num_key_value_heads: 4",
        ),
        (
            "gemma2",
            "intermediate_size: 128, head_dim: 16, num_key_value_heads: 2",
        ),
        ("gpt_neox", "intermediate_size: 128"),
        ("opt", "ffn_dim: 128"),
        ("falcon", "num_kv_heads: 4"),
        (
            "mixtral",
            "intermediate_size: 32, num_key_value_heads: 2, num_local_experts: 4",
        ),
    ] {
        if let Err(e) = trace(builder, &format!("{own}, {generic}")) {
            panic!("{builder}: {e}");
        }
    }
}

/// Values a family does not implement are errors naming the key.
#[test]
fn unsupported_values_are_errors_that_name_the_key() {
    for (builder, config, want) in [
        (
            "phi",
            "tie_word_embeddings: true",
            "transformers::phi: tie_word_embeddings = true is not supported",
        ),
        (
            "phi3",
            r#"rope_scaling: #{ rope_type: "longrope", short_factor: [1.0], long_factor: [1.0] }"#,
            r#"rope_scaling.rope_type "longrope" is not supported"#,
        ),
        (
            "gemma",
            "tie_word_embeddings: false",
            "transformers::gemma: tie_word_embeddings = false is not supported",
        ),
        (
            "gemma2",
            r#"head_dim: 16, layer_types: ["chunked_attention"]"#,
            r#"layer_types entry "chunked_attention" is not supported"#,
        ),
        (
            "gemma2",
            r#"head_dim: 16, layer_types: ["full_attention", "full_attention"]"#,
            "layer_types has 2 entries for 1 layers",
        ),
        (
            "opt",
            "layer_norm_elementwise_affine: false",
            "transformers::opt: layer_norm_elementwise_affine = false is not supported",
        ),
        (
            "falcon",
            "alibi: true",
            "transformers::falcon: alibi = true is not supported",
        ),
        (
            "gpt_neox",
            "rotary_pct: 0.01",
            "rotary_pct = 0.01 gives 0 rotary dims of head_dim 16",
        ),
        (
            "mixtral",
            "num_key_value_heads: 2, num_local_experts: 4, num_experts_per_tok: 5",
            "num_experts_per_tok 5 must be between 1 and num_local_experts 4",
        ),
        (
            "opt",
            r#"activation_function: "swish2""#,
            r#"unknown activation "swish2""#,
        ),
    ] {
        let err = error_of(builder, config);
        assert!(err.contains(want), "{builder}({config}): {err}");
    }
}

/// Mixtral's graph computes each token's top-k experts only: with the
/// same top-2 routing, 8 experts cost the FLOPs of 2 plus the wider router,
/// not 4x the expert work (what an "every expert times a mask" graph
/// counts). Parameters grow with every expert.
#[test]
fn mixtral_flops_follow_the_chosen_experts_not_all_of_them() {
    let of = |experts: u64| {
        trace(
            "mixtral",
            &format!(
                "intermediate_size: 256, num_key_value_heads: 2, num_local_experts: {experts}, num_experts_per_tok: 2"
            ),
        )
        .unwrap()
    };
    let (two, eight) = (of(2), of(8));
    // Each expert: gate_up_proj [512, 64] and down_proj [64, 256]; the router [experts, 64].
    assert_eq!(
        eight.params - two.params,
        6 * (512 * 64 + 64 * 256) + 6 * 64
    );
    // The expert matmuls of 8 tokens x 2 experts: 2 * 8 * 2 * (512 * 64 + 64 * 256) FLOPs.
    let expert_flops = 2 * 8 * 2 * (512 * 64 + 64 * 256);
    let extra = eight.flops - two.flops;
    assert!(
        extra < expert_flops / 10,
        "8 experts cost {extra} FLOPs more than 2 (the top-2 experts' matmuls are {expert_flops})"
    );
}
