//! Rewrites on small models built here; tests/precision.rs runs the
//! variants of real scripts on ONNX Runtime and checks them with onnx's
//! full checker.

use super::float::{FloatOptions, to_float};
use super::qdq::static_qdq;
use super::quant::{activation_scale, dynamic};
use super::*;
use crate::graph::{DType, Graph, HostTensor, Init, Op, Param, TypeInfo};
use crate::onnx::export::{ExportOptions, export_model};
use crate::onnx::proto::data_type::{BFLOAT16, FLOAT, FLOAT16, INT8};

fn ops(m: &ModelProto) -> Vec<String> {
    m.graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect()
}

/// y = relu(x @ W^T + b) then a classifier Gemm, via the exporter.
fn mlp() -> ModelProto {
    let mut g = Graph::new("Mlp");
    let x = g.add_input("x", TypeInfo::new(vec![2, 3, 8], DType::Float32));
    let p = |name: &str, shape: &[usize], seed| Param {
        name: name.into(),
        info: TypeInfo::new(shape.to_vec(), DType::Float32),
        init: Init::Uniform {
            low: -1.0,
            high: 1.0,
            seed,
        },
        trainable: true,
    };
    let w = g.add_param(p("w", &[4, 8], 1));
    let b = g.add_param(p("b", &[4], 2));
    let wt = g
        .add_node(Op::Transpose { perm: vec![1, 0] }, &[w], "")
        .unwrap()[0];
    let m = g.add_node(Op::MatMul, &[x, wt], "").unwrap()[0];
    let a = g.add_node(Op::Add, &[m, b], "").unwrap()[0];
    let r = g.add_node(Op::Relu, &[a], "").unwrap()[0];
    g.add_output("y", r);
    export_model(&g, &ExportOptions::default()).unwrap()
}

#[test]
fn float16_turns_weights_and_nodes_and_casts_at_the_edges() {
    let mut m = mlp();
    let s = to_float(
        &mut m,
        &FloatOptions {
            target: FLOAT16,
            low_io: false,
        },
    )
    .unwrap();
    let g = m.graph.as_ref().unwrap();
    assert_eq!(float::float_initializers(g), 0, "every weight turned");
    assert_eq!(s.converted["MatMul"], 1);
    assert!(s.kept.is_empty(), "{:?}", s.kept);
    let o = ops(&m);
    assert_eq!(o, ["Transpose", "Cast", "MatMul", "Add", "Relu", "Cast"]);
    assert_eq!(types::declared(&g.input[0].r#type), Some(FLOAT));
    assert_eq!(types::declared(&g.output[0].r#type), Some(FLOAT));
    assert_eq!(g.output[0].name, "y");
    // With low_io the edges take float16 and no cast is left.
    let mut m = mlp();
    to_float(
        &mut m,
        &FloatOptions {
            target: FLOAT16,
            low_io: true,
        },
    )
    .unwrap();
    assert!(!ops(&m).contains(&"Cast".to_string()), "{:?}", ops(&m));
    let g = m.graph.as_ref().unwrap();
    assert_eq!(types::declared(&g.input[0].r#type), Some(FLOAT16));
    assert_eq!(types::declared(&g.output[0].r#type), Some(FLOAT16));
}

#[test]
fn float16_values_past_its_range_become_its_largest() {
    let b = float::encode(&[1e6, -1e9, f32::NEG_INFINITY, 1.0], FLOAT16);
    let v: Vec<f32> = b
        .chunks(2)
        .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
        .collect();
    assert_eq!(v, [65504.0, -65504.0, f32::NEG_INFINITY, 1.0]);
}

#[test]
fn bfloat16_keeps_conv_in_float32_below_opset_22() {
    let mut g = Graph::new("C");
    let x = g.add_input("x", TypeInfo::new(vec![1, 2, 5, 5], DType::Float32));
    let w = g.add_param(Param {
        name: "w".into(),
        info: TypeInfo::new(vec![3, 2, 3, 3], DType::Float32),
        init: Init::Constant(0.5),
        trainable: true,
    });
    let c = g
        .add_node(
            Op::Conv {
                kernel: vec![3, 3],
                strides: vec![1, 1],
                pads: vec![0, 0, 0, 0],
                dilations: vec![1, 1],
                group: 1,
            },
            &[x, w],
            "",
        )
        .unwrap()[0];
    let r = g.add_node(Op::Relu, &[c], "").unwrap()[0];
    g.add_output("y", r);
    let mut m = export_model(&g, &ExportOptions::default()).unwrap();
    let s = to_float(
        &mut m,
        &FloatOptions {
            target: BFLOAT16,
            low_io: false,
        },
    )
    .unwrap();
    assert_eq!(s.kept["Conv"], 1);
    assert_eq!(s.converted["Relu"], 1);
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("Conv: no bfloat16 at opset 17")),
        "{:?}",
        s.notes
    );
    // The Conv reads float32: its weight stayed float32.
    let g = m.graph.as_ref().unwrap();
    assert_eq!(
        g.initializer
            .iter()
            .find(|t| t.name == "w")
            .unwrap()
            .data_type,
        FLOAT
    );
}

#[test]
fn int8_dynamic_quantizes_through_the_weight_transpose() {
    let mut m = mlp();
    let s = dynamic(&mut m).unwrap();
    assert_eq!(s.converted["MatMul"], 1);
    let o = ops(&m);
    for op in [
        "DynamicQuantizeLinear",
        "MatMulInteger",
        "Cast",
        "Mul",
        "Add",
        "Relu",
    ] {
        assert!(o.contains(&op.to_string()), "{op} missing from {o:?}");
    }
    assert!(
        !o.contains(&"Transpose".to_string()),
        "the weight's transpose is folded: {o:?}"
    );
    let g = m.graph.as_ref().unwrap();
    let w = g
        .initializer
        .iter()
        .find(|t| t.data_type == INT8 && t.dims.len() == 2)
        .unwrap();
    assert_eq!(w.dims, [8, 4], "MatMulInteger takes [K, N]");
    assert!(
        g.initializer.iter().all(|t| t.name != "w"),
        "the float32 weight is gone"
    );
}

#[test]
fn int8_static_needs_ranges_and_puts_qdq_around_the_node() {
    let mut m = mlp();
    let targets = calib::targets(&m).unwrap();
    // The MatMul's input and output, and the bias Add's output (the
    // ranges QDQ propagates through additions).
    assert_eq!(targets.len(), 3, "{targets:?}");
    let mut none = m.clone();
    let s = static_qdq(&mut none, &Default::default()).unwrap();
    assert_eq!(s.kept["MatMul"], 1);
    let ranges = targets.iter().map(|t| (t.clone(), (-1.0, 2.0))).collect();
    let s = static_qdq(&mut m, &ranges).unwrap();
    assert_eq!(s.converted["MatMul"], 1);
    let o = ops(&m);
    assert_eq!(
        o.iter().filter(|x| *x == "QuantizeLinear").count(),
        2,
        "{o:?}"
    );
    assert_eq!(
        o.iter().filter(|x| *x == "DequantizeLinear").count(),
        3,
        "{o:?}"
    );
    assert_eq!(activation_scale(-1.0, 2.0), (3.0 / 255.0, 85));
    assert_eq!(activation_scale(0.0, 0.0), (1.0, 0));
    let mut r = calib::Ranges::default();
    r.observe("a", &[1.0, f32::NAN, -2.0]);
    r.observe("a", &[3.0]);
    assert_eq!(r.0["a"], (-2.0, 3.0));
}

#[test]
fn a_model_survives_decode_and_encode_with_fields_turnkey_does_not_read() {
    let mut m = mlp();
    m.functions = vec![vec![10, 3, 102, 111, 111]];
    m.graph.as_mut().unwrap().sparse_initializer = vec![vec![1, 2, 3]];
    let bytes = m.encode_to_vec();
    let back = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn free_names_and_pruning() {
    let mut m = mlp();
    let g = m.graph.as_mut().unwrap();
    let extra = node(
        "Relu",
        "dead".into(),
        vec!["x".into()],
        vec!["unused".into()],
        vec![],
    );
    g.node.push(extra);
    g.initializer
        .push(raw_tensor("orphan", FLOAT, &[1], vec![0; 4]));
    prune(g);
    assert!(g.node.iter().all(|n| n.name != "dead"));
    assert!(g.initializer.iter().all(|t| t.name != "orphan"));
    let sub = GraphProto {
        node: vec![node(
            "Relu",
            "r".into(),
            vec!["outer".into()],
            vec!["o".into()],
            vec![],
        )],
        output: vec![crate::onnx::proto::ValueInfoProto {
            name: "o".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(free_names(&sub).into_iter().collect::<Vec<_>>(), ["outer"]);
    let _ = HostTensor::zeros(DType::Float32, &[1]);
}
