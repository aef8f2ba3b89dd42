//! Recurrent-layer cases shared by tests/recurrent.rs (ort, tract) and
//! tests/torch.rs (libtorch): one script per configuration, and a NumPy
//! implementation of PyTorch's LSTM/GRU/RNN equations that reads the
//! exported initializers by their PyTorch names, so the reference does
//! not depend on the exporter's gate conversion.
#![allow(dead_code)]

use super::{py, with_value_helpers};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Case {
    /// The script's file stem (and build-name prefix).
    pub stem: &'static str,
    pub script: &'static str,
    /// For the reference: mode, layers, bidirectional, batch_first, bias,
    /// and which feeds are x, h0, c0.
    pub config: &'static str,
}

pub const CASES: &[Case] = &[
    Case {
        stem: "lstm_2layers_bidirectional_states",
        script: "let m = nn::lstm(3, 5, #{ num_layers: 2, bidirectional: true });\n\
                 m.forward(#{ input: randn([6, 2, 3]), h0: randn([4, 2, 5]), c0: randn([4, 2, 5]) });",
        config: r#"{"mode": "lstm", "layers": 2, "bi": true, "bf": false, "bias": true,
                    "x": "input", "h0": "h0", "c0": "c0"}"#,
    },
    Case {
        stem: "lstm_batch_first",
        script: "let m = nn::lstm(3, 4, #{ batch_first: true });\nm.forward(randn([2, 6, 3]));",
        config: r#"{"mode": "lstm", "layers": 1, "bi": false, "bf": true, "bias": true, "x": "input"}"#,
    },
    Case {
        stem: "lstm_unbatched_states",
        script: "let m = nn::lstm(3, 4, #{ num_layers: 2 });\n\
                 m.forward([randn([6, 3]), randn([2, 4]), randn([2, 4])]);",
        config: r#"{"mode": "lstm", "layers": 2, "bi": false, "bf": false, "bias": true,
                    "x": "input_0", "h0": "input_1", "c0": "input_2", "unbatched": true}"#,
    },
    Case {
        stem: "gru_2layers_batch_first_state",
        script: "let m = nn::gru(3, 5, #{ num_layers: 2, batch_first: true });\n\
                 m.forward([randn([2, 6, 3]), randn([2, 2, 5])]);",
        config: r#"{"mode": "gru", "layers": 2, "bi": false, "bf": true, "bias": true,
                    "x": "input_0", "h0": "input_1"}"#,
    },
    Case {
        stem: "gru_bidirectional_no_bias",
        script: "let m = nn::gru(3, 5, #{ bidirectional: true, bias: false });\n\
                 m.forward(randn([6, 2, 3]));",
        config: r#"{"mode": "gru", "layers": 1, "bi": true, "bf": false, "bias": false, "x": "input"}"#,
    },
    Case {
        stem: "rnn_2layers_bidirectional_state",
        script: "let m = nn::rnn(3, 5, #{ num_layers: 2, bidirectional: true });\n\
                 m.forward([randn([6, 2, 3]), randn([4, 2, 5])]);",
        config: r#"{"mode": "rnn_tanh", "layers": 2, "bi": true, "bf": false, "bias": true,
                    "x": "input_0", "h0": "input_1"}"#,
    },
];

/// nn.RNN(nonlinearity="relu"): ONNX Runtime and torch run it; tract
/// refuses it (it would compute tanh).
pub const RELU: Case = Case {
    stem: "rnn_relu_2layers_bidirectional",
    script: "let m = nn::rnn(3, 5, #{ nonlinearity: \"relu\", num_layers: 2, bidirectional: true });\n\
             m.forward(randn([6, 2, 3]));",
    config: r#"{"mode": "rnn_relu", "layers": 2, "bi": true, "bf": false, "bias": true, "x": "input"}"#,
};

/// Writes each case's script into `dir`; returns their paths.
pub fn write_scripts(dir: &Path, cases: &[&Case]) -> Vec<String> {
    cases
        .iter()
        .map(|c| {
            let p: PathBuf = dir.join(format!("{}.rhai", c.stem));
            std::fs::write(&p, c.script).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

const REFERENCE_PY: &str = r#"
import glob, json, sys
import numpy as np

def sig(v):
    return 1.0 / (1.0 + np.exp(-v))

def cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of torch.nn.LSTM/GRU/RNN (the equations in their docs)."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if mode == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c), c
    if mode == "gru":
        ir, iz, inn = np.split(gi, 3, axis=-1)
        hr, hz, hn = np.split(gh, 3, axis=-1)
        r, z = sig(ir + hr), sig(iz + hz)
        n = np.tanh(inn + r * hn)
        return (1 - z) * n + z * h, c
    a = gi + gh
    return (np.tanh(a) if mode == "rnn_tanh" else np.maximum(a, 0.0)), c

def reference(cfg, p, feeds):
    x = feeds[cfg["x"]].astype(np.float64)
    if cfg.get("unbatched"):
        x = x[:, None, :]
    elif cfg["bf"]:
        x = x.transpose(1, 0, 2)
    seq, batch = x.shape[:2]
    L, D = cfg["layers"], 2 if cfg["bi"] else 1
    H = p["weight_hh_l0"].shape[1]
    def state(k):
        if k not in cfg:
            return np.zeros((L * D, batch, H))
        s = feeds[cfg[k]].astype(np.float64)
        return s[:, None, :] if cfg.get("unbatched") else s
    h0, c0 = state("h0"), state("c0")
    hn, cn, inp = [], [], x
    for l in range(L):
        outs = []
        for d in range(D):
            sfx = "_reverse" if d else ""
            w = lambda n: p[f"{n}_l{l}{sfx}"].astype(np.float64)
            gates = w("weight_ih").shape[0]
            b_ih = w("bias_ih") if cfg["bias"] else np.zeros(gates)
            b_hh = w("bias_hh") if cfg["bias"] else np.zeros(gates)
            h, c = h0[l * D + d], c0[l * D + d]
            ys = [None] * seq
            for t in (range(seq) if d == 0 else reversed(range(seq))):
                h, c = cell(cfg["mode"], inp[t], h, c, w("weight_ih"), w("weight_hh"), b_ih, b_hh)
                ys[t] = h
            outs.append(np.stack(ys))
            hn.append(h)
            cn.append(c)
        inp = np.concatenate(outs, axis=-1)
    out, hn, cn = inp, np.stack(hn), np.stack(cn)
    if cfg.get("unbatched"):
        out, hn, cn = out[:, 0], hn[:, 0], cn[:, 0]
    elif cfg["bf"]:
        out = out.transpose(1, 0, 2)
    return [out, hn, cn] if cfg["mode"] == "lstm" else [out, hn]

import onnx
from onnx import numpy_helper
cache, cases, rows = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for stem, cfg in cases:
    [b] = glob.glob(f"{cache}/builds/{stem}_*")
    m = onnx.load(f"{b}/model.onnx")
    onnx.checker.check_model(m, full_check=True)
    p = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    feeds = dict(read_values(f"{b}/inputs", "input"))
    want = reference(cfg, p, feeds)
    res = {"stem": stem, "op_types": [n.op_type for n in m.graph.node],
           "weights": {n: list(v.shape) for n, v in p.items() if n.startswith(("weight_", "bias_"))},
           "diffs": {}}
    for row in rows:
        got = [v for _, v in read_values(f"{b}/outputs/{row}", "output")]
        res["diffs"][row] = [float(np.max(np.abs(g - w))) if g.shape == w.shape else f"shape {list(g.shape)} vs {list(w.shape)}"
                             for g, w in zip(got, want)] if len(got) == len(want) else f"{len(got)} outputs"
    print(json.dumps(res))
"#;

/// For each case's build in `cache`: runs the full ONNX checker and the
/// NumPy reference on the saved inputs, and compares the outputs of each
/// row folder (`ort-cpu`, ...). One JSON object per case: op_types,
/// weights (PyTorch names and shapes), diffs per row and output.
pub fn against_reference(cache: &Path, cases: &[&Case], rows: &[&str]) -> Vec<Value> {
    let cfgs: Vec<Value> = cases
        .iter()
        .map(|c| {
            let cfg: Value = serde_json::from_str(c.config).unwrap();
            serde_json::json!([c.stem, cfg])
        })
        .collect();
    let cfgs = Value::Array(cfgs).to_string();
    let rows = serde_json::to_string(rows).unwrap();
    let args = [cache, Path::new(&cfgs), Path::new(&rows)];
    let out = py(&with_value_helpers(REFERENCE_PY), &args);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Asserts every output of every row within `tol` of the reference.
pub fn assert_close(results: &[Value], tol: f64) {
    for r in results {
        for (row, diffs) in r["diffs"].as_object().unwrap() {
            let diffs = diffs
                .as_array()
                .unwrap_or_else(|| panic!("{}: {row}: {diffs}", r["stem"]));
            for (k, d) in diffs.iter().enumerate() {
                let d = d
                    .as_f64()
                    .unwrap_or_else(|| panic!("{}: {row} output {k}: {d}", r["stem"]));
                assert!(
                    d < tol,
                    "{}: {row} output {k} is {d} off the reference",
                    r["stem"]
                );
            }
        }
    }
}
