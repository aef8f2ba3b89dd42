//! The stdlib's blocks and builders: parameter counts equal PyTorch's
//! modules' by formula; config keys and values a builder does not know or
//! implement are errors naming the key; the Llama decoders compute RoPE in
//! the graph. (The corpus scripts themselves: tests/zoo.rs.)

mod common;
use common::*;
use turnkey::script::{DiscoverOptions, ScriptArgs, discover};

fn discover_with(script: &str, args: &str) -> turnkey::script::Discovery {
    let opts = DiscoverOptions {
        script_args: ScriptArgs::parse(args).unwrap(),
        analyze_only: true,
        ..Default::default()
    };
    discover(&root().join(script), &opts).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Parameters of one stdlib block called on `input`.
fn block_params(block: &str, input: &str) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("block.rhai");
    std::fs::write(&p, format!("let m = {block};\nm.forward({input});\n")).unwrap();
    let d = discover(&p, &DiscoverOptions::default()).unwrap_or_else(|e| panic!("{block}: {e}"));
    d.builds[0].graph.stats().params
}

/// Each block's count equals its PyTorch module's, by formula.
#[test]
fn blocks_have_pytorch_parameter_counts() {
    let img = |c: usize, s: usize| format!("rand([1, {c}, {s}, {s}])");
    let bn = |c: u64| 2 * c;
    // BasicBlock(64, 128, stride 2): two 3x3 convs, two BNs, 1x1 downsample + BN.
    assert_eq!(
        block_params("vision::basic_block(64, 128, 2, #{})", &img(64, 8)),
        64 * 128 * 9 + 128 * 128 * 9 + 2 * bn(128) + 64 * 128 + bn(128)
    );
    // Bottleneck(256, 64): 1x1, 3x3, 1x1 (x4), no downsample.
    assert_eq!(
        block_params("vision::bottleneck(256, 64, 1, #{})", &img(256, 8)),
        256 * 64 + 64 * 64 * 9 + 64 * 256 + bn(64) * 2 + bn(256)
    );
    // ResNeXt's grouped 3x3: width 128, 32 groups.
    assert_eq!(
        block_params(
            "vision::bottleneck(256, 64, 1, #{ groups: 32, base_width: 4 })",
            &img(256, 8)
        ),
        256 * 128 + 128 * (128 / 32) * 9 + 128 * 256 + bn(128) * 2 + bn(256)
    );
    // InvertedResidual(24, 24, 1, 6): expand, depthwise, project.
    assert_eq!(
        block_params("vision::inverted_residual(24, 24, 1, 6)", &img(24, 8)),
        24 * 144 + bn(144) + 144 * 9 + bn(144) + 144 * 24 + bn(24)
    );
    // Fire(96, 16, 64, 64), all convs with bias.
    assert_eq!(
        block_params("vision::fire(96, 16, 64, 64)", &img(96, 8)),
        (96 * 16 + 16) + (16 * 64 + 64) + (16 * 64 * 9 + 64)
    );
    // SqueezeExcitation(96, 24): two 1x1 convs with bias.
    assert_eq!(
        block_params("vision::squeeze_excitation(96, 24, #{})", &img(96, 4)),
        (96 * 24 + 24) + (24 * 96 + 96)
    );
    // MBConv(expand 6, k5, 40 -> 80): expand, depthwise 5x5, SE(240 -> 10), project.
    assert_eq!(
        block_params(
            "vision::mbconv(#{ expand_ratio: 6, kernel: 5, stride: 2, input_channels: 40, out_channels: 80 })",
            &img(40, 8)
        ),
        40 * 240
            + bn(240)
            + 240 * 25
            + bn(240)
            + (240 * 10 + 10 + 10 * 240 + 240)
            + 240 * 80
            + bn(80)
    );
    // _DenseLayer(64, growth 32, bn_size 4) over one feature map.
    assert_eq!(
        block_params(
            "vision::dense_layer(64, 32, 4)",
            &format!("[{}]", img(64, 8))
        ),
        bn(64) + 64 * 128 + bn(128) + 128 * 32 * 9
    );
    // _Transition(256, 128).
    assert_eq!(
        block_params("vision::transition(256, 128)", &img(256, 8)),
        bn(256) + 256 * 128
    );
    // CNBlock(96): depthwise 7x7 + bias, LN, 96->384->96 linears, layer scale.
    assert_eq!(
        block_params("vision::cn_block(96, 1e-6)", &img(96, 8)),
        (96 * 49 + 96) + 2 * 96 + (96 * 384 + 384) + (384 * 96 + 96) + 96
    );
    // SwinTransformerBlock(96, 3 heads, window 7) on channels-last tokens:
    // 2 LayerNorms, qkv and proj, the 13x13 bias table, the 4x MLP.
    let swin_block =
        4 * 96 + (96 * 288 + 288) + (96 * 96 + 96) + 169 * 3 + (96 * 384 + 384) + (384 * 96 + 96);
    assert_eq!(
        block_params(
            "vision::swin_block(96, 3, 7, [3, 3], #{})",
            "rand([1, 14, 14, 96])"
        ),
        swin_block
    );
    // SwinTransformerBlockV2 adds logit_scale and cpb_mlp (2->512->heads, the last without bias).
    assert_eq!(
        block_params(
            "vision::swin_block(96, 3, 8, [4, 4], #{ version: 2 })",
            "rand([1, 16, 16, 96])"
        ),
        swin_block - 169 * 3 + 3 + (2 * 512 + 512) + 512 * 3
    );
    // PatchMerging(96): LayerNorm(384) and Linear(384, 192, no bias).
    assert_eq!(
        block_params("vision::patch_merging(96, #{})", "rand([1, 7, 7, 96])"),
        2 * 384 + 384 * 192
    );
    // diffusers' ResnetBlock2D(32 -> 64, temb 128): 2 GroupNorms, two 3x3
    // convs, the time projection, a 1x1 shortcut (channels change).
    assert_eq!(
        block_params(
            "diffusers::resnet_block_2d(32, 64, 128, #{ groups: 8 })",
            "[rand([1, 32, 8, 8]), rand([1, 128])]"
        ),
        2 * 32
            + (32 * 64 * 9 + 64)
            + (128 * 64 + 64)
            + 2 * 64
            + (64 * 64 * 9 + 64)
            + (32 * 64 + 64)
    );
    // BasicTransformerBlock(64, 8 heads x 8, cross 32): 3 LayerNorms,
    // bias-free q/k/v (k/v of attn2 from 32), to_out with bias, GEGLU 64->2x256, 256->64.
    assert_eq!(
        block_params(
            "diffusers::basic_transformer_block(64, 8, 8, 32)",
            "[rand([1, 16, 64]), rand([1, 7, 32])]"
        ),
        3 * 2 * 64
            + (3 * 64 * 64 + 64 * 64 + 64)
            + (64 * 64 + 2 * 32 * 64 + 64 * 64 + 64)
            + (64 * 512 + 512)
            + (256 * 64 + 64)
    );
    let seq = |d: usize| format!("rand([1, 5, {d}])");
    // BertLayer(768, 12, 3072): 4 projections, 2 linears, 2 LayerNorms.
    let bert_layer = 4 * (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 4 * 768;
    assert_eq!(
        block_params("transformers::bert_layer(768, 12, 3072, #{})", &seq(768)),
        bert_layer
    );
    // GPT2Block has the same count (fused c_attn = q, k, v).
    assert_eq!(
        block_params("transformers::gpt2_block(768, 12, #{})", &seq(768)),
        bert_layer
    );
    // DistilBERT's TransformerBlock: BertLayer's count under other names.
    assert_eq!(
        block_params(
            "transformers::distilbert_layer(768, 12, 3072, \"gelu\")",
            &seq(768)
        ),
        bert_layer
    );
    // HF's Conv1D(nf 2304, nx 768): weight [768, 2304] and bias.
    assert_eq!(
        block_params("transformers::conv1d(2304, 768)", &seq(768)),
        768 * 2304 + 2304
    );
    // WhisperEncoderLayer(384, 6, 1536): k_proj has no bias.
    assert_eq!(
        block_params(
            "transformers::whisper_encoder_layer(384, 6, 1536)",
            &seq(384)
        ),
        4 * 384 * 384 + 3 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384) + 4 * 384
    );
    // T5LayerFF(512, 2048): RMSNorm weight + two bias-free linears.
    assert_eq!(
        block_params("transformers::t5_layer_ff(512, 2048, 1e-6)", &seq(512)),
        512 + 2 * 512 * 2048
    );
    let graph = |c: usize| format!("[rand([6, {c}]), random_adjacency(6, 2)]");
    // GCNConv(1433, 16): weight + bias.
    assert_eq!(
        block_params("gnn::gcn_conv(1433, 16)", &graph(1433)),
        1433 * 16 + 16
    );
    // SAGEConv(16, 7): lin_l with bias, lin_r without.
    assert_eq!(
        block_params("gnn::sage_conv(16, 7)", &graph(16)),
        2 * 16 * 7 + 7
    );
    // GATConv(1433, 8, heads 8): lin, att_src, att_dst, bias.
    assert_eq!(
        block_params("gnn::gat_conv(1433, 8, 8, #{})", &graph(1433)),
        1433 * 64 + 3 * 64
    );
    // GINConv(16, 7): MLP lins 16->7->7 (eps a buffer); trained eps and
    // the MLP's BatchNorm (weight, bias) count too.
    assert_eq!(
        block_params("gnn::gin_conv(16, 7, #{})", &graph(16)),
        16 * 7 + 7 + 7 * 7 + 7
    );
    assert_eq!(
        block_params(
            "gnn::gin_conv(16, 7, #{ train_eps: true, norm: \"batch_norm\" })",
            &graph(16)
        ),
        16 * 7 + 7 + 7 * 7 + 7 + 1 + 2 * 7
    );
}

/// A config key the builder does not know is an error naming it, never a
/// silently different model (Swin and diffusers take whole config maps).
#[test]
fn config_typos_are_errors_that_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (call, want) in [
        (
            "vision::swin_transformer(#{ embed_dim: 96, depths: [2, 2, 6, 2], num_heads: [3, 6, 12, 24], window: 8 })",
            "vision::swin_transformer: unknown cfg key \"window\"",
        ),
        (
            "diffusers::unet_2d_condition(#{ cross_attention: 768 })",
            "diffusers::unet_2d_condition: unknown cfg key \"cross_attention\"",
        ),
        (
            "diffusers::unet_2d_condition(#{ act_fn: \"gelu\" })",
            "act_fn = gelu is not supported (only silu)",
        ),
        (
            "gnn::gin(16, 8, 4, #{ nrm: \"batch_norm\" })",
            "gnn::gin: unknown option \"nrm\"",
        ),
        (
            "vision::timm_efficientformer(#{ depths: [3, 2, 6, 4], embed_dims: [48, 96, 224, 448], num_vit: 1, mlp_ratio: 4 })",
            "vision::timm_efficientformer: unknown cfg key \"mlp_ratio\"",
        ),
        (
            "vision::timm_efficientformerv2(#{ depths: [2, 2, 6, 4], embed_dims: [32, 48, 96, 176], mlp_ratios: 4, num_vit: 2, distilled: true })",
            "vision::timm_efficientformerv2: unknown cfg key \"distilled\"",
        ),
    ] {
        let p = dir.path().join("typo.rhai");
        std::fs::write(
            &p,
            format!("let m = {call};\nm.forward(rand([1, 3, 32, 32]));\n"),
        )
        .unwrap();
        let err = match discover(&p, &DiscoverOptions::default()) {
            Ok(_) => panic!("{call} built"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want) && err.contains("typo.rhai:1"), "{err}");
    }
}

/// The Llama decoders compute RoPE in the graph: at 512 tokens Cos and Sin
/// nodes read the positions and no float constant grows with the sequence
/// (only the head_dim / 2 inverse frequencies are constants), also with
/// Llama 3's RoPE scaling.
#[test]
fn llama_rope_is_computed_in_the_graph() {
    for script in ["models/llm/llama_tiny.rhai", "models/llm/llama_3_2_1b.rhai"] {
        let d = discover_with(script, "--max_seq_length 512");
        let g = &d.builds[0].graph;
        let ops = g.stats().op_counts;
        assert!(
            ops.contains_key("Cos") && ops.contains_key("Sin"),
            "{script}: {ops:?}"
        );
        for v in &g.values {
            if let turnkey::graph::Source::Const(t) = &v.source
                && t.dtype == turnkey::graph::DType::Float32
            {
                assert!(
                    t.shape.iter().product::<usize>() <= 64,
                    "{script}: constant {:?}",
                    t.shape
                );
            }
        }
    }
}

/// Config values the Llama builder does not implement are errors naming
/// the key, never a silently different model.
#[test]
fn llama_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (config, want) in [
        (
            r#"rope_scaling: #{ rope_type: "yarn", factor: 4.0 }"#,
            r#"rope_scaling.rope_type "yarn" is not supported"#,
        ),
        (
            r#"model_type: "qwen2", use_sliding_window: true"#,
            "use_sliding_window: true (Qwen2) is not supported",
        ),
        (
            "num_attention_heads: 6, num_key_value_heads: 4",
            "num_attention_heads 6 must be a multiple of num_key_value_heads 4",
        ),
        (
            r#"rope_scaling: #{ rope_type: "llama3", factor: 8.0 }"#,
            "rope_scaling.low_freq_factor is missing",
        ),
        (r#"hidden_act: "tanh""#, r#"unknown activation "tanh""#),
        (
            r#"model_type: "gpt2""#,
            r#"model_type "gpt2" is not a Llama-style decoder"#,
        ),
        // A typo would build the default silently.
        (
            "rms_norm_epsilon: 1e-5",
            r#"transformers::llama: unknown config key "rms_norm_epsilon""#,
        ),
    ] {
        let p = dir.path().join("llama.rhai");
        let src = format!(
            "let m = transformers::llama(#{{ hidden_size: 64, intermediate_size: 64, \
             num_hidden_layers: 1, vocab_size: 100, {config} }});\n\
             m.forward(randint(0, 100, [1, 8]));\n"
        );
        std::fs::write(&p, src).unwrap();
        let err = match discover(&p, &DiscoverOptions::default()) {
            Ok(_) => panic!("{config}: built"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(want) && err.contains("llama.rhai:"),
            "{config}: {err}"
        );
    }
}
