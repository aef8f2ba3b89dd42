//! Detection and segmentation models: ultralytics YOLO (vision::yolo),
//! transformers DETR and SegFormer. Their counts and state_dict names are
//! checked with the rest of the corpus (tests/zoo.rs); here: the outputs
//! have the shapes the reference libraries' exports have, the builders
//! name the keys they do not know, a frozen batch norm holds buffers only,
//! and a model per family runs on ort and tract with agreeing outputs.

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

/// The shapes of a build's graph outputs.
fn output_shapes(script: &str, args: &str) -> Vec<Vec<usize>> {
    let d = discover_with(script, args);
    let g = &d.builds[0].graph;
    g.outputs.iter().map(|&o| g.info(o).shape.clone()).collect()
}

/// The heads compute what ultralytics' ONNX export outputs: Detect
/// [B, 4 + nc, anchors] (8400 anchors at 640x640: 80^2 + 40^2 + 20^2),
/// Segment also [B, 32, H/4, W/4] prototypes, Pose [B, 4 + nc + 51, A],
/// OBB [B, 4 + nc + 1, A], Classify [B, 1000]; DETR logits [B, 100, 92] and boxes [B, 100, 4];
/// SegFormer logits at a quarter of the image.
#[test]
fn heads_output_the_reference_shapes() {
    let at640 = "--height 640 --width 640";
    let cases: &[(&str, &str, Vec<Vec<usize>>)] = &[
        (
            "models/ultralytics/yolov8n.rhai",
            at640,
            vec![vec![1, 84, 8400]],
        ),
        (
            "models/ultralytics/yolo11n.rhai",
            at640,
            vec![vec![1, 84, 8400]],
        ),
        (
            "models/ultralytics/yolov8n_seg.rhai",
            at640,
            vec![vec![1, 116, 8400], vec![1, 32, 160, 160]],
        ),
        (
            "models/ultralytics/yolov8n_pose.rhai",
            at640,
            vec![vec![1, 56, 8400]],
        ),
        (
            "models/ultralytics/yolov8n_cls.rhai",
            "",
            vec![vec![1, 1000]],
        ),
        (
            "models/ultralytics/yolo11n_obb.rhai",
            at640,
            vec![vec![1, 85, 8400]],
        ),
        (
            "models/ultralytics/yolov8n_p2.rhai",
            at640,
            vec![vec![1, 84, 160 * 160 + 8400]],
        ),
        // P6 rounds 224 up to its stride, 256: levels of 32, 16, 8 and 4.
        (
            "models/ultralytics/yolov8n_p6.rhai",
            "",
            vec![vec![1, 84, 1024 + 256 + 64 + 16]],
        ),
        (
            "models/transformers/segformer_mit_b0.rhai",
            "",
            vec![vec![1, 1000]],
        ),
        (
            "models/ultralytics/yolov8s.rhai",
            "--batch_size 2 --height 320 --width 480",
            vec![vec![2, 84, 40 * 60 + 20 * 30 + 10 * 15]],
        ),
        (
            "models/transformers/detr_resnet_50.rhai",
            "--height 512 --width 640",
            vec![vec![1, 100, 92], vec![1, 100, 4]],
        ),
        (
            "models/transformers/segformer_b0.rhai",
            "--height 512 --width 512",
            vec![vec![1, 150, 128, 128]],
        ),
    ];
    for (script, args, want) in cases {
        assert_eq!(&output_shapes(script, args), want, "{script} {args}");
    }
}

/// A frozen batch norm (DETR's backbone) exports weight, bias and running
/// statistics, none of them counted as parameters.
#[test]
fn frozen_batch_norm_holds_buffers_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("frozen.rhai");
    std::fs::write(
        &p,
        "let m = nn::batch_norm2d(8, #{ frozen: true });\nm.forward(rand([1, 8, 4, 4]));\n",
    )
    .unwrap();
    let d = discover(&p, &DiscoverOptions::default()).unwrap();
    let g = &d.builds[0].graph;
    assert_eq!(g.stats().params, 0);
    let names: Vec<&str> = g.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
    // Not frozen: weight and bias count, as nn.BatchNorm2d's.
    std::fs::write(
        &p,
        "let m = nn::batch_norm2d(8);\nm.forward(rand([1, 8, 4, 4]));\n",
    )
    .unwrap();
    let d = discover(&p, &DiscoverOptions::default()).unwrap();
    assert_eq!(d.builds[0].graph.stats().params, 16);
}

/// Keys and values the builders do not know are errors that name them.
#[test]
fn detection_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (call, want) in [
        (
            "vision::yolo(vision::yolo_yaml(\"yolov8\"), #{ scale: \"n\", classes: 3 })",
            "vision::yolo: unknown cfg key \"classes\"",
        ),
        (
            "vision::yolo(vision::yolo_yaml(\"yolov8\"), #{ scale: \"q\" })",
            "vision::yolo: opts.scale must name one of the YAML's scales",
        ),
        (
            "vision::yolo(vision::yolo_yaml(\"yolov9\"), #{})",
            "vision::yolo_yaml: unknown model \"yolov9\"",
        ),
        (
            "vision::yolo(#{ nc: 2, backbone: [[-1, 1, \"Focus\", [64, 3]]], head: [] }, #{})",
            "vision::yolo: module Focus (row 0) is not supported",
        ),
        (
            "transformers::detr(#{ num_querys: 50 })",
            "transformers::detr: unknown config key \"num_querys\"",
        ),
        (
            "transformers::detr(#{ backbone_config: #{ depth: [2, 2, 2, 2] } })",
            "transformers::detr backbone_config: unknown config key \"depth\"",
        ),
        (
            "transformers::detr(#{ use_timm_backbone: true })",
            "use_timm_backbone is not supported",
        ),
        (
            "transformers::segformer(#{ hidden_size: [32, 64, 160, 256] })",
            "transformers::segformer: unknown config key \"hidden_size\"",
        ),
        (
            "transformers::segformer(#{ depths: [2, 2, 2] })",
            "config key depths has 3 entries, num_encoder_blocks is 4",
        ),
    ] {
        let p = dir.path().join("typo.rhai");
        std::fs::write(
            &p,
            format!("let m = {call};\nm.forward(rand([1, 3, 64, 64]));\n"),
        )
        .unwrap();
        let err = match discover(&p, &DiscoverOptions::default()) {
            Ok(_) => panic!("{call} built"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want) && err.contains("typo.rhai:1"), "{err}");
    }
}

/// YOLOv8n (detect and seg), YOLO11n (C2PSA attention), DETR-R50 and
/// SegFormer-b0 export, run on ort and tract, and agree.
#[test]
fn one_model_per_family_agrees_on_ort_and_tract() {
    let scripts = [
        "models/ultralytics/yolov8n.rhai",
        "models/ultralytics/yolov8n_seg.rhai",
        "models/ultralytics/yolo11n.rhai",
        "models/transformers/detr_resnet_50.rhai",
        "models/transformers/segformer_b0.rhai",
    ];
    agree_on_ort_and_tract(&scripts, "--height 256 --width 256", "2");
}
