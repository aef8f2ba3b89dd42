//! vision::model(name[, opts]): torchvision's names dispatch to the
//! stdlib builders with the library's defaults, giving the very graph the
//! corpus script of that name builds; unknown names and options are one
//! error naming them. (Counts and names against torchvision: tests/zoo.rs.)

mod common;
use common::*;
use turnkey::script::{DiscoverOptions, discover};

fn discover_source(
    dir: &std::path::Path,
    source: &str,
) -> Result<turnkey::script::Discovery, String> {
    let p = dir.join("by_name.rhai");
    std::fs::write(&p, source).unwrap();
    let opts = DiscoverOptions {
        analyze_only: true,
        ..Default::default()
    };
    discover(&p, &opts).map_err(|e| e.to_string())
}

/// The names vision::model knows: the strings of stdlib/vision.rhai's
/// model_names().
fn known_names() -> Vec<String> {
    let src = std::fs::read_to_string(root().join("stdlib/vision.rhai")).unwrap();
    let body = src.split("fn model_names()").nth(1).unwrap();
    let body = &body[..body.find(']').unwrap()];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The timm names vision::model knows, with their image sizes: the keys
/// of the timm_*_configs() of stdlib/vision_timm_*.rhai.
fn known_timm_names() -> Vec<(String, usize)> {
    [
        ("vision_timm_vit", "timm_vit_configs"),
        ("vision_timm_beit", "timm_beit_configs"),
        ("vision_timm_convnext", "timm_convnext_configs"),
        ("vision_timm_levit", "timm_levit_configs"),
        ("vision_timm_mobilevit", "timm_mobilevit_configs"),
        ("vision_timm_coatnet", "timm_coatnet_configs"),
    ]
    .iter()
    .flat_map(|(file, f)| timm_configs(file, f))
    .collect()
}

fn timm_configs(file: &str, function: &str) -> Vec<(String, usize)> {
    let src = std::fs::read_to_string(root().join(format!("stdlib/{file}.rhai"))).unwrap();
    let body = src.split(&format!("fn {function}()")).nth(1).unwrap();
    body.lines()
        .filter_map(|l| {
            let (name, cfg) = l.trim().split_once(": #{")?;
            let size = cfg
                .split_once("img_size: ")
                .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .unwrap_or(224);
            Some((name.to_string(), size))
        })
        .collect()
}

/// For every torchvision and timm corpus script named like a vision::model
/// name, vision::model(name) on the same image builds the same graph (the same
/// structural hash: ops, attributes, parameter names and shapes, inputs);
/// and every known name has its corpus script.
#[test]
fn vision_model_by_name_is_the_corpus_scripts_graph() {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<(String, &str, usize)> = known_names()
        .into_iter()
        .map(|n| (n, "torchvision", 224))
        .collect();
    assert!(names.len() >= 86, "{} torchvision names", names.len());
    let timm = known_timm_names();
    assert!(timm.len() >= 55, "{} timm names", timm.len());
    names.extend(timm.into_iter().map(|(n, size)| (n, "timm", size)));
    let mut failures = Vec::new();
    for (stem, corpus, size) in &names {
        let script = format!("models/{corpus}/{stem}.rhai");
        // timm's names go through "timm/" (convnext_tiny is also torchvision's).
        let name = if *corpus == "timm" {
            format!("timm/{stem}")
        } else {
            stem.clone()
        };
        if !root().join(&script).exists() {
            failures.push(format!("{name}: no {script}"));
            continue;
        }
        let opts = DiscoverOptions {
            analyze_only: true,
            ..Default::default()
        };
        let want = discover(&root().join(&script), &opts).unwrap_or_else(|e| panic!("{e}"));
        let got = discover_source(
            dir.path(),
            &format!(
                "let model = vision::model(\"{name}\");\nmodel.forward(rand([1, 3, {size}, {size}]));\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        if got.builds[0].hash != want.builds[0].hash {
            failures.push(format!(
                "{name}: vision::model's graph differs from {script}'s ({} vs {} params)",
                got.builds[0].graph.stats().params,
                want.builds[0].graph.stats().params
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Options reach the builder (num_classes changes the head) and
/// inference-neutral ones (dropout) change nothing.
#[test]
fn vision_model_options_reach_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let build = |call: &str| {
        let d = discover_source(
            dir.path(),
            &format!("let model = {call};\nmodel.forward(rand([1, 3, 96, 96]));\n"),
        )
        .unwrap_or_else(|e| panic!("{call}: {e}"));
        (d.builds[0].hash.clone(), d.builds[0].graph.stats().params)
    };
    let explicit = build("vision::mnasnet(0.5, #{ num_classes: 10 })");
    assert_eq!(
        build("vision::model(\"mnasnet0_5\", #{ num_classes: 10, dropout: 0.5 })"),
        explicit
    );
    assert_ne!(build("vision::model(\"mnasnet0_5\")"), explicit);
    let (_, with_aux) = build("vision::model(\"googlenet\")");
    let (_, without) = build("vision::model(\"googlenet\", #{ aux_logits: false })");
    // torchvision: 13,004,888 with the auxiliary heads, 6,624,904 without.
    assert_eq!((with_aux, without), (13_004_888, 6_624_904));
    let (_, seg) = build("vision::model(\"lraspp_mobilenet_v3_large\", #{ num_classes: 5 })");
    assert_eq!(seg, 3_221_538 - (40 + 1 + 128 + 1) * (21 - 5));
}

/// An unknown name is one error naming it and the closest known names; an
/// option the model does not take is one error naming it and the options it takes.
#[test]
fn vision_model_errors_name_the_model_and_the_option() {
    let dir = tempfile::tempdir().unwrap();
    for (call, want) in [
        (
            "vision::model(\"regnet_y_400\")",
            "vision::model: unknown model \"regnet_y_400\"; closest: [\"regnet_y_400mf\"",
        ),
        (
            "vision::model(\"deit_tiny_patch16\")",
            "closest: [\"deit_tiny_patch16_224\"",
        ),
        (
            "vision::model(\"deit_tiny_patch16_224\", #{ img: 32 })",
            "vision::model(\"deit_tiny_patch16_224\"): unknown option \"img\"",
        ),
        (
            "vision::model(\"resnet50\", #{ aux_logits: false })",
            "vision::model(\"resnet50\"): unknown option \"aux_logits\"; it takes [\"num_classes\"",
        ),
        (
            "vision::regnet(#{ depth: 16, w_0: 48, w_a: 27.89, w_m: 2.09, group_width: 8, se: 0.25 })",
            "vision::regnet: unknown cfg key \"se\"",
        ),
        (
            "vision::fcn_resnet(50, #{ aux_loss: true })",
            "vision::fcn_resnet: aux_loss: true",
        ),
    ] {
        let err = match discover_source(
            dir.path(),
            &format!("let m = {call};\nm.forward(rand([1, 3, 64, 64]));\n"),
        ) {
            Ok(_) => panic!("{call} built"),
            Err(e) => e,
        };
        assert!(
            err.contains(want) && err.contains("by_name.rhai:1"),
            "{err}"
        );
    }
}

/// A name both libraries use picks torchvision's bare and timm's with
/// "timm/": ConvNeXt-T is 28,589,128 parameters in both, under other names.
#[test]
fn timm_prefix_picks_timms_module_tree() {
    let dir = tempfile::tempdir().unwrap();
    let names = |call: &str| -> Vec<String> {
        let d = discover_source(
            dir.path(),
            &format!("let model = {call};\nmodel.forward(rand([1, 3, 64, 64]));\n"),
        )
        .unwrap_or_else(|e| panic!("{call}: {e}"));
        d.builds[0]
            .graph
            .params
            .iter()
            .map(|p| p.name.clone())
            .collect()
    };
    let tv = names("vision::model(\"convnext_tiny\")");
    let timm = names("vision::model(\"timm/convnext_tiny\")");
    assert_eq!(tv.len(), timm.len());
    assert!(
        tv.contains(&"features.1.0.block.0.weight".to_string()),
        "{tv:?}"
    );
    assert!(
        timm.contains(&"stages.0.blocks.0.conv_dw.weight".to_string()),
        "{timm:?}"
    );
    assert_eq!(
        names("vision::model(\"convnext_atto\")"),
        names("vision::model(\"timm/convnext_atto\")")
    );
}

/// MobileViT and CoAtNet configs: a key the builder does not know (in the
/// model cfg, in a MobileViT stage, in timm's _rw_*_cfg helpers) or a value
/// it does not implement is one error naming it, at the script's line; and
/// a CoAtNet, whose attention biases are made for one feature-map size, fed
/// another image size is an error naming img_size, never a wrong graph.
#[test]
fn mobilevit_and_coatnet_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ir = "#{ d: 1, c: 16, s: 2 }";
    for (call, size, want) in [
        (
            format!("vision::timm_mobilevit(#{{ blocks: [{ir}], patch: 2 }})"),
            64,
            "vision::timm_mobilevit: unknown cfg key \"patch\"",
        ),
        (
            "vision::timm_mobilevit(#{ blocks: [#{ d: 1, c: 16, s: 2, transformer_dims: 32, transformer_depth: 1 }] })".into(),
            64,
            "unknown key \"transformer_dims\" in blocks[0]",
        ),
        (
            "vision::timm_mobilevit(#{ blocks: [#{ d: 1, c: 16, s: 2, transformer_depth: 1 }] })".into(),
            64,
            "blocks[0] needs \"transformer_dim\" (version 1)",
        ),
        (
            "vision::timm_coatnet(#{ conv_attn_erly: true })".into(),
            224,
            "vision::timm_coatnet: unknown cfg key \"conv_attn_erly\"",
        ),
        (
            "vision::timm_coatnet(vision::timm_coatnet_rw_coat_cfg(#{ init_value: 1e-6 }))".into(),
            224,
            "vision::timm_coatnet_rw_coat_cfg: unknown key \"init_value\"",
        ),
        (
            "vision::timm_coatnet(#{ transformer_rel_pos_type: \"bias_tf\" })".into(),
            224,
            "rel_pos_type is \"bias\" or \"mlp\", got \"bias_tf\"",
        ),
        (
            "vision::timm_coatnet(#{ block_type: [\"C\", \"C\", \"M\", \"M\"] })".into(),
            224,
            "block type \"M\" is not supported",
        ),
        (
            "vision::model(\"coatnet_0_rw_224\")".into(),
            256,
            "attention made for a 14x14 map got 16x16",
        ),
    ] {
        let err = match discover_source(
            dir.path(),
            &format!("let m = {call};\nm.forward(rand([1, 3, {size}, {size}]));\n"),
        ) {
            Ok(_) => panic!("{call} built"),
            Err(e) => e,
        };
        assert!(err.contains(want) && err.contains("by_name.rhai:"), "{call}: {err}");
    }
    // MobileViT takes any size: a stage whose grid the 2x2 patches do not
    // divide is resized (bilinear), as timm does.
    let d = discover_source(
        dir.path(),
        "let m = vision::model(\"mobilevit_xxs\");\nm.forward(rand([1, 3, 224, 224]));\n",
    )
    .unwrap();
    assert!(d.builds[0].graph.stats().op_counts.contains_key("Resize"));
}
