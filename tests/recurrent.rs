//! nn::lstm, nn::gru and nn::rnn end to end on the real binary: 1 and 2
//! layers, bidirectional, batch_first, unbatched, with and without initial
//! states and biases. Each export holds one ONNX LSTM/GRU/RNN node per
//! layer over initializers with PyTorch's names and shapes, passes the full
//! ONNX checker, and ONNX Runtime's and tract's outputs equal a NumPy
//! implementation of PyTorch's equations.

mod common;
#[path = "common/recurrent_cases.rs"]
mod recurrent_cases;
use common::*;
use recurrent_cases::*;

fn bench_args<'a>(cache: &'a str, runtimes: &'a str) -> Vec<&'a str> {
    vec![
        "-d",
        cache,
        "--runtime",
        runtimes,
        "--iterations",
        "2",
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
    ]
}

#[test]
fn ort_and_tract_equal_pytorchs_equations_with_one_node_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cases: Vec<&Case> = CASES.iter().collect();
    let scripts = write_scripts(dir.path(), &cases);
    let d = cache.path().to_str().unwrap();
    let mut args = bench_args(d, "ort,tract");
    args.extend(scripts.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(builds(cache.path()).len(), cases.len());
    for b in builds(cache.path()) {
        let rec = record(&b);
        for row in rec["runtimes"].as_array().unwrap() {
            assert_eq!(row["status"], "successful", "{row}");
        }
    }
    let results = against_reference(cache.path(), &cases, &["ort-cpu", "tract-cpu"]);
    assert_eq!(results.len(), cases.len());
    assert_close(&results, 1e-5);
    for (r, c) in results.iter().zip(&cases) {
        let cfg: serde_json::Value = serde_json::from_str(c.config).unwrap();
        let class = match cfg["mode"].as_str().unwrap() {
            "lstm" => "LSTM",
            "gru" => "GRU",
            _ => "RNN",
        };
        let ops: Vec<&str> = r["op_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        let layers = cfg["layers"].as_u64().unwrap() as usize;
        assert_eq!(
            ops.iter().filter(|o| **o == class).count(),
            layers,
            "{}: {ops:?}",
            c.stem
        );
        // Not unrolled: the cell's math is inside those nodes.
        for unrolled in ["MatMul", "Gemm", "Sigmoid", "Tanh", "Mul"] {
            assert!(!ops.contains(&unrolled), "{}: {ops:?}", c.stem);
        }
        // Initializers keep PyTorch's names and shapes.
        let weights = r["weights"].as_object().unwrap();
        let per_cell = if cfg["bias"] == true { 4 } else { 2 };
        let dirs = if cfg["bi"] == true { 2 } else { 1 };
        assert_eq!(weights.len(), layers * dirs * per_cell, "{weights:?}");
        let gates = match class {
            "LSTM" => 4,
            "GRU" => 3,
            _ => 1,
        };
        let hidden = weights["weight_hh_l0"][1].as_u64().unwrap();
        assert_eq!(
            weights["weight_ih_l0"],
            serde_json::json!([gates * hidden, 3])
        );
        if layers == 2 {
            assert_eq!(
                weights["weight_ih_l1"],
                serde_json::json!([gates * hidden, dirs as u64 * hidden])
            );
        }
        if dirs == 2 {
            assert!(weights.contains_key("weight_hh_l0_reverse"), "{weights:?}");
        }
    }
}

#[test]
fn a_relu_rnn_runs_on_ort_and_is_refused_by_tract() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let scripts = write_scripts(dir.path(), &[&RELU]);
    let d = cache.path().to_str().unwrap();
    let mut args = bench_args(d, "ort,tract");
    args.push(&scripts[0]);
    let r = run(&args);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let rec = record(&builds(cache.path())[0]);
    let rows = rec["runtimes"].as_array().unwrap();
    let ort = rows.iter().find(|r| r["runtime"] == "ort").unwrap();
    assert_eq!(ort["status"], "successful", "{ort}");
    let tract = rows.iter().find(|r| r["runtime"] == "tract").unwrap();
    assert_eq!(tract["status"], "error", "{tract}");
    let e = tract["error"].as_str().unwrap();
    assert!(
        e.contains("RNN node")
            && e.contains("activations = Relu, Relu")
            && e.contains("run this model on ort"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    let results = against_reference(cache.path(), &[&RELU], &["ort-cpu"]);
    assert_close(&results, 1e-5);
}

/// Parameter counts equal sum(p.numel() for p in module.parameters()) of
/// the PyTorch module, whose formula (torch/nn/modules/rnn.py) is: per
/// layer and direction, gate_size * (layer_input + hidden) + 2 * gate_size
/// with gate_size = 4, 3, 1 x hidden; layer_input = input_size for layer
/// 0, else D * hidden.
#[test]
fn parameter_counts_equal_pytorchs() {
    let cases: [(&str, u64); 6] = [
        // nn.LSTM(10, 20)
        ("nn::lstm(10, 20)", 80 * 30 + 160),
        // nn.LSTM(650, 650, num_layers=2): PTB medium
        (
            "nn::lstm(650, 650, #{ num_layers: 2 })",
            2 * (2600 * 1300 + 5200),
        ),
        // nn.LSTM(10, 20, num_layers=2, bidirectional=True)
        (
            "nn::lstm(10, 20, #{ num_layers: 2, bidirectional: true })",
            2 * (80 * 30 + 160) + 2 * (80 * 60 + 160),
        ),
        // nn.GRU(128, 128): the seq2seq tutorial's
        ("nn::gru(128, 128)", 384 * 256 + 768),
        // nn.GRU(10, 20, num_layers=3, bias=False)
        (
            "nn::gru(10, 20, #{ num_layers: 3, bias: false })",
            60 * 30 + 2 * 60 * 40,
        ),
        // nn.RNN(10, 20, num_layers=2, nonlinearity='relu', bidirectional=True)
        (
            "nn::rnn(10, 20, #{ num_layers: 2, nonlinearity: \"relu\", bidirectional: true })",
            2 * (20 * 30 + 40) + 2 * (20 * 60 + 40),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::new();
    for (k, (make, want)) in cases.iter().enumerate() {
        script.push_str(&format!(
            "let m{k} = {make};\nif m{k}.params != {want} {{ throw `{make}: ${{m{k}.params}} parameters, PyTorch has {want}`; }}\n"
        ));
    }
    // `turnkey run` wants a model call.
    script.push_str("m0.forward(rand([2, 1, 10]));\n");
    let p = dir.path().join("counts.rhai");
    std::fs::write(&p, script).unwrap();
    let r = run(&["run", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn bad_options_and_inputs_are_one_line_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "nn::lstm(3, 5, #{ num_layer: 2 })",
            "nn::lstm: unknown option 'num_layer'; known: num_layers, bias",
        ),
        (
            "nn::lstm(3, 5, #{ proj_size: 2 })",
            "nn::lstm: proj_size 2 is not supported (ONNX's LSTM has no projection)",
        ),
        (
            "nn::gru(3, 5, #{ proj_size: 2 })",
            "nn::gru: unknown option 'proj_size'",
        ),
        (
            "nn::rnn(3, 5, #{ nonlinearity: \"gelu\" })",
            "nn::rnn: nonlinearity \"gelu\" is not known; use \"tanh\" or \"relu\"",
        ),
        (
            "nn::gru(3, 5, #{ dropout: 1.5 })",
            "nn::gru: dropout must be a probability in [0, 1], got 1.5",
        ),
        (
            "nn::lstm(3, 5, #{ num_layers: 0 })",
            "num_layers must be at least 1, got 0",
        ),
        ("nn::lstm(0, 5)", "input_size must be at least 1, got 0"),
        (
            "nn::lstm(3, 5).forward([rand([4, 2, 3]), rand([1, 2, 5])])",
            "LSTM: give both initial states h0 and c0, or neither",
        ),
        (
            "nn::gru(3, 5).forward(#{ input: rand([4, 2, 3]), c0: rand([1, 2, 5]) })",
            "GRU: unknown input 'c0'; forward takes x, [x, h0] or #{ input: x, h0: h0 }",
        ),
        (
            "nn::gru(3, 5).forward(rand([4, 2, 7]))",
            "GRU: the input has 7 features (input [4, 2, 7]) but the layer was made for input_size 3",
        ),
        (
            "nn::rnn(3, 5, #{ num_layers: 2 }).forward([rand([4, 2, 3]), rand([1, 2, 5])])",
            "RNN: h0 must be [num_layers * num_directions, batch, hidden_size] = [2, 2, 5], got [1, 2, 5]",
        ),
        (
            "nn::rnn(3, 5).forward([rand([4, 3]), rand([1, 2, 5])])",
            "RNN: for a 2-d input, h0 must be 2-d [num_layers * num_directions, hidden_size], got [1, 2, 5]",
        ),
        (
            "nn::lstm(3, 5).forward(rand([2, 4, 2, 3]))",
            "LSTM: expects x of [seq, batch, input_size]",
        ),
        (
            "nn::lstm(3, 5).half().forward(rand([4, 2, 3]))",
            "LSTM: dtype mismatch: float32 and float16",
        ),
    ];
    for (k, (code, want)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{k}.rhai"));
        // Line 2, so the error's line number is checked too.
        std::fs::write(&p, format!("let a = 1;\nlet m = {code};\n")).unwrap();
        let r = run(&["run", p.to_str().unwrap()]);
        assert_ne!(r.code, 0, "{code}: {}", r.stdout);
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(want))
            .unwrap_or_else(|| panic!("{code}: want {want:?} in:\n{}", r.stderr));
        assert!(line.contains(&format!("bad{k}.rhai:2: ")), "{code}: {line}");
    }
}
