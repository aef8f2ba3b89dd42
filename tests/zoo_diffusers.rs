//! The diffusers:: builders (stdlib/diffusers*.rhai) refuse what they do
//! not build: a config key they do not know, a value they implement only
//! at its default, a part or block type they lack, or an SDXL UNet called
//! without its micro-conditioning, each one error naming the key and the
//! script line, never a silently different model. Their counts, names and
//! outputs are checked by tests/zoo.rs and tests/equivalence.rs.

mod common;
use turnkey::script::{DiscoverOptions, discover};

/// The error of a script that builds `call` and calls it on `input`.
fn error_of(call: &str, input: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.rhai");
    std::fs::write(&p, format!("let m = {call};\nm.forward({input});\n")).unwrap();
    match discover(&p, &DiscoverOptions::default()) {
        Ok(_) => panic!("{call} built"),
        Err(e) => e.to_string(),
    }
}

const IMAGE: &str = "rand([1, 3, 32, 32])";
const TOKENS: &str = "randint(0, 99, [1, 8])";

#[test]
fn config_errors_name_the_key_and_the_line() {
    let sdxl_like = "#{ block_out_channels: [32, 64], down_block_types: [\"DownBlock2D\", \"CrossAttnDownBlock2D\"], \
        up_block_types: [\"CrossAttnUpBlock2D\", \"UpBlock2D\"], norm_num_groups: 8, cross_attention_dim: 16, \
        addition_embed_type: \"text_time\", addition_time_embed_dim: 8, projection_class_embeddings_input_dim: 60 }";
    let unet_inputs = "#{ sample: rand([1, 4, 8, 8]), timestep: randint(0, 1000, [1]), encoder_hidden_states: rand([1, 7, 16]) }";
    for (call, input, want, line) in [
        (
            "diffusers::autoencoder_kl(#{ latent_channel: 16 })".to_string(),
            IMAGE,
            "diffusers::autoencoder_kl: unknown cfg key \"latent_channel\"",
            1,
        ),
        (
            "diffusers::autoencoder_kl(#{ act_fn: \"relu\" })".into(),
            IMAGE,
            "act_fn = relu is not supported (only silu)",
            1,
        ),
        (
            "diffusers::autoencoder_kl(#{}, \"latents\")".into(),
            IMAGE,
            "part \"latents\" is not known; use \"forward\", \"encode\" or \"decode\"",
            1,
        ),
        (
            "diffusers::autoencoder_kl(#{ down_block_types: [\"AttnDownEncoderBlock2D\"] })".into(),
            IMAGE,
            "down block type \"AttnDownEncoderBlock2D\" is not supported",
            1,
        ),
        (
            "diffusers::clip_text_model(#{ hidden_sizes: 32 })".into(),
            TOKENS,
            "diffusers::clip_text_model: unknown cfg key \"hidden_sizes\"",
            1,
        ),
        (
            "diffusers::clip_text_model(#{ hidden_act: \"relu\" })".into(),
            TOKENS,
            "hidden_act \"relu\" is not supported; use quick_gelu or gelu",
            1,
        ),
        (
            "diffusers::clip_text_model_with_projection(#{ projection: 16 })".into(),
            TOKENS,
            "diffusers::clip_text_model_with_projection: unknown cfg key \"projection\"",
            1,
        ),
        (
            "diffusers::clip_text_model(#{ max_position_embeddings: 4 })".into(),
            TOKENS,
            "8 tokens, more than max_position_embeddings 4",
            2,
        ),
        (
            "diffusers::unet_2d_condition(#{ addition_embed_type: \"image\" })".into(),
            IMAGE,
            "addition_embed_type \"image\" is not supported",
            1,
        ),
        (
            "diffusers::unet_2d_condition(#{ addition_embed_type: \"text_time\" })".into(),
            IMAGE,
            "needs projection_class_embeddings_input_dim",
            1,
        ),
        (
            "diffusers::unet_2d_condition(#{ transformer_layers_per_block: [1, 2] })".into(),
            IMAGE,
            "lists need one entry per level (4, 2, 4)",
            1,
        ),
        (
            format!("diffusers::unet_2d_condition({sdxl_like})"),
            unet_inputs,
            "takes #{sample, timestep, encoder_hidden_states, text_embeds, time_ids}",
            2,
        ),
        (
            "diffusers::controlnet(#{ conditioning_channel: 3 })".into(),
            unet_inputs,
            "diffusers::controlnet: unknown cfg key \"conditioning_channel\"",
            1,
        ),
        (
            "diffusers::controlnet(#{ block_out_channels: [32, 64], down_block_types: [\"CrossAttnDownBlock2D\", \"DownBlock2D\"], norm_num_groups: 8, cross_attention_dim: 16 })".into(),
            unet_inputs,
            "takes #{sample, timestep, encoder_hidden_states, controlnet_cond}",
            2,
        ),
    ] {
        let err = error_of(&call, input);
        assert!(
            err.contains(want) && err.contains(&format!("bad.rhai:{line}")),
            "{call}: {err}"
        );
    }
}

/// A real weights source on a builder that names none is an error saying
/// what to pass; no pretrained flag leaves the random weights.
#[test]
fn pretrained_without_a_source_says_what_to_pass() {
    let err = error_of("diffusers::autoencoder_kl(#{ pretrained: true })", IMAGE);
    assert!(err.contains("pass --weights PATH"), "{err}");
    let err = error_of("diffusers::clip_text_model(#{ pretrained: true })", TOKENS);
    assert!(err.contains("pass --weights PATH"), "{err}");
}
