//! The math, activation, reduction and embedding functions traced in
//! process: the ops they record, their shapes and dtypes, and the errors
//! that name the function and the script line and say what to do.
//! (Their values are checked on onnxruntime, tract and libtorch by
//! tests/ops_math.rs and tests/torch.rs.)

use crate::graph::{DType, Graph, Op};
use crate::script::{DiscoverOptions, discover};

fn trace(src: &str) -> Result<Graph, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rhai");
    std::fs::write(&path, src).unwrap();
    let d = discover(&path, &DiscoverOptions::default()).map_err(|e| e.to_string())?;
    Ok(d.builds[0].graph.clone())
}

/// A module over `x` (and int64 `i`) returning `body`.
fn body(x: &str, expr: &str) -> String {
    format!(
        "let m = nn::module(\"M\", |inp| {{\n let x = inp.x;\n let i = inp.i;\n {expr}\n}});\n\
         m.forward(#{{ x: {x}, i: randint(0, 5, [2, 4]) }});\n"
    )
}

fn err_of(x: &str, expr: &str) -> String {
    match trace(&body(x, expr)) {
        Ok(_) => panic!("`{expr}` traced without an error"),
        Err(e) => e,
    }
}

fn kinds(g: &Graph) -> Vec<&'static str> {
    g.nodes.iter().map(|n| n.op.kind()).collect()
}

#[test]
fn functions_record_their_onnx_ops_with_pytorch_shapes_and_dtypes() {
    let cases: [(&str, &[&str], &[usize], DType); 20] = [
        ("x.sin()", &["Sin"], &[2, 4], DType::Float32),
        ("rsqrt(x)", &["Sqrt", "Reciprocal"], &[2, 4], DType::Float32),
        ("round(i)", &["Identity"], &[2, 4], DType::Int64),
        ("minimum(2, i)", &["Min"], &[2, 4], DType::Int64),
        ("clamp(x, 0.0, ())", &["Clip"], &[2, 4], DType::Float32),
        (
            "clamp(x, x.amin(0), 1.0)",
            &["ReduceMin", "Max", "Min"],
            &[2, 4],
            DType::Float32,
        ),
        (
            "glu(x)",
            &["Split", "Sigmoid", "Mul"],
            &[2, 2],
            DType::Float32,
        ),
        (
            "nn::hardtanh().forward(x)",
            &["Clip"],
            &[2, 4],
            DType::Float32,
        ),
        ("argmax(x)", &["Reshape", "ArgMax"], &[], DType::Int64),
        ("x.argmin(1, true)", &["ArgMin"], &[2, 1], DType::Int64),
        ("topk(x, 3)[1]", &["TopK"], &[2, 3], DType::Int64),
        (
            "cumsum(greater(x, 0.5), 1)",
            &["Greater", "Cast", "CumSum"],
            &[2, 4],
            DType::Int64,
        ),
        ("prod(i)", &["ReduceProd"], &[], DType::Int64),
        ("norm(x, 2, 1)", &["ReduceL2"], &[2], DType::Float32),
        (
            "norm(x, 1, [0, 1], true)",
            &["ReduceL1"],
            &[1, 1],
            DType::Float32,
        ),
        ("sum(x)", &["ReduceSum"], &[], DType::Float32),
        // PyTorch's promotion: a float bound makes an int tensor float32.
        (
            "clamp(i, 0.5, 3)",
            &["Cast", "Clip"],
            &[2, 4],
            DType::Float32,
        ),
        ("minimum(i, 2.5)", &["Cast", "Min"], &[2, 4], DType::Float32),
        ("ne(x, 0.5)", &["NotEqual"], &[2, 4], DType::Bool),
        (
            "logical_xor(i, x)",
            &["Cast", "Cast", "Xor"],
            &[2, 4],
            DType::Bool,
        ),
    ];
    for (expr, ops, shape, dtype) in cases {
        let g = trace(&body("rand([2, 4])", expr)).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(kinds(&g), ops, "{expr}");
        let out = g.info(g.outputs[0]);
        assert_eq!((out.shape.as_slice(), out.dtype), (shape, dtype), "{expr}");
        assert!(
            g.stats().flops > 0 || ops == ["Identity"],
            "{expr}: no FLOPs counted"
        );
    }
}

#[test]
fn position_tables_are_graph_ops_whatever_the_length() {
    // 8192 positions x 128 dims would be a 1M-entry table: the graph holds
    // only the positions, the 64 frequencies and small constants.
    let src = "let m = nn::module(\"Rope\", |inp| {\n\
               let cs = rotary_cos_sin(inp.pos, 128);\n\
               let qk = apply_rotary_pos_emb(inp.q, inp.q, cs[0], cs[1]);\n\
               [qk[0], sinusoidal_embedding(inp.pos, 320)]\n});\n\
               m.forward(#{ q: zeros([1, 2, 8192, 128]), pos: arange(8192) });\n";
    let g = trace(src).unwrap();
    let ops = kinds(&g);
    for op in ["Sin", "Cos", "Mul", "Concat"] {
        assert!(ops.contains(&op), "{op} missing: {ops:?}");
    }
    let biggest = g
        .values
        .iter()
        .filter_map(|v| match &v.source {
            crate::graph::Source::Const(t) => Some(t.shape.iter().product::<usize>()),
            _ => None,
        })
        .max()
        .unwrap();
    assert!(biggest <= 160, "a constant of {biggest} entries");
    assert_eq!(g.info(g.outputs[1]).shape, [8192, 320]);
}

#[test]
fn activation_layers_have_pytorch_parameters() {
    for (layer, params) in [
        ("nn::prelu()", 1),
        ("nn::prelu(4)", 4),
        ("nn::prelu(4, 0.1)", 4),
        ("nn::glu(1)", 0),
        ("nn::softplus(2.0, 10)", 0),
        ("nn::elu(0.5)", 0),
        ("nn::mish()", 0),
    ] {
        let src = format!("let l = {layer};\nl.forward(rand([2, 4, 3]));\n");
        let g = trace(&src).unwrap_or_else(|e| panic!("{layer}: {e}"));
        assert_eq!(g.stats().params, params, "{layer}");
    }
}

#[test]
fn errors_name_the_function_and_line_and_say_what_to_do() {
    let cases: [(&str, &str, &str); 17] = [
        (
            "rand([2, 4])",
            "masked_fill(i, greater(i, 2), 0.5)",
            "masked_fill: 0.5 is not exact in int64; cast",
        ),
        (
            "rand([2, 4])",
            "clamp(x, (), ())",
            "at least one of min and max",
        ),
        (
            "rand([2, 4])",
            "clip(i, 0.5, 3.0)",
            "bound 0.5 is not an integer",
        ),
        (
            "rand([2, 4])",
            "masked_fill(x, x, 0.0)",
            "the mask must be bool",
        ),
        (
            "rand([2, 4])",
            "masked_fill(x, causal_mask(3), 0.0)",
            "does not broadcast to x's shape [2, 4]",
        ),
        (
            "rand([2, 4], \"float16\")",
            "x.masked_fill(greater(x, 0.5), -1e9)",
            "-1000000000 overflows float16",
        ),
        ("rand([2, 4])", "topk(x, 9)", "k = 9 is not in 1..=4"),
        (
            "rand([2, 5])",
            "glu(x)",
            "glu: dim -1 of [2, 5] has odd size 5",
        ),
        ("rand([2, 5])", "glu(x, 2)", "glu: dim 2 is out of range"),
        ("rand([1, 4])", "std(x, 0)", "leave no degrees of freedom"),
        (
            "rand([2, 4])",
            "variance(x, 1, #{ ddof: 1 })",
            "unknown option 'ddof'; known: correction, keepdim",
        ),
        (
            "rand([2, 4])",
            "sin(i)",
            "Sin: needs a floating-point tensor, got int64",
        ),
        (
            "rand([2, 4])",
            "norm(x, \"nuc\")",
            "p \"nuc\" is not supported",
        ),
        (
            "rand([2, 4])",
            "hardtanh(x, 1.0, -1.0)",
            "min_val 1 is greater than max_val -1",
        ),
        (
            "rand([1, 2, 5, 8])",
            "rotary_embedding(x, arange(4))",
            "positions must be [seq] or [batch, seq]",
        ),
        (
            "rand([1, 2, 5, 8], \"float16\")",
            "let cs = rotary_cos_sin(arange(5), 8); apply_rotary_pos_emb(x, x, cs[0], cs[1])[0]",
            "cos/sin are float32 but q/k are float16",
        ),
        (
            "rand([2, 4])",
            "sinusoidal_embedding(i, 2)",
            "dim 2 with downscale_freq_shift 1 divides by zero",
        ),
    ];
    for (x, expr, want) in cases {
        let e = err_of(x, expr);
        assert!(e.contains(want), "`{expr}`: {e}");
        assert!(
            e.contains("t.rhai:4"),
            "`{expr}` does not name its line: {e}"
        );
    }
}

#[test]
fn ir_ops_infer_like_onnx() {
    use crate::graph::TypeInfo;
    let f = |s: &[usize]| TypeInfo::new(s.to_vec(), DType::Float32);
    let topk = Op::TopK {
        k: 2,
        axis: 1,
        largest: true,
    };
    let outs = topk.infer(&[&f(&[3, 5])]).unwrap();
    assert_eq!(outs[0], f(&[3, 2]));
    assert_eq!(outs[1], TypeInfo::new(vec![3, 2], DType::Int64));
    let e = Op::PRelu.infer(&[&f(&[2, 3]), &f(&[4])]).unwrap_err();
    assert!(e.msg.contains("cannot be broadcast"), "{e}");
    let e = Op::PRelu.infer(&[&f(&[3]), &f(&[2, 3])]).unwrap_err();
    assert!(e.msg.contains("does not broadcast to the input [3]"), "{e}");
    let b = TypeInfo::new(vec![2], DType::Bool);
    assert!(
        Op::Max
            .infer(&[&b, &b])
            .unwrap_err()
            .msg
            .contains("logical_or")
    );
    let i8 = TypeInfo::new(vec![2], DType::Int8);
    let e = Op::CumSum { axis: 0 }.infer(&[&i8]).unwrap_err();
    assert!(e.msg.contains("cast to int64 first"), "{e}");
}
