//! int8-static: QDQ with calibrated activation scales, the layout runtimes
//! fuse into integer kernels (ONNX Runtime: `QLinearConv`, `QLinearMatMul`,
//! `QGemm`, uint8 `MaxPool`, `QLinearAdd`, ...).
//!
//! One pass over the nodes in order, knowing which tensors already pass
//! through a `QuantizeLinear`/`DequantizeLinear` pair:
//!
//! - MatMul / Gemm / Conv with constant weights: the activation through a
//!   Q/DQ pair (uint8, asymmetric, calibrated range), the weight through
//!   `DequantizeLinear` (int8, symmetric, per output channel), the bias as
//!   int32 at input scale × weight scale, and the output through a Q/DQ
//!   pair (after the ReLU that follows, when one does: the integer kernel
//!   applies it);
//! - ops that move data without changing its range (MaxPool, Reshape,
//!   Flatten, Transpose, ...) on a quantized tensor: a Q/DQ pair after them
//!   with the same scale, so they run on the integers;
//! - average pools and additions of quantized tensors (residual blocks): a
//!   Q/DQ pair after them with their calibrated range.
//!
//! Whatever has no finite calibrated range stays float32.

use super::quant::{Builder, Candidate, dims, f32_bytes, quantize_weight, setup, splice};
use super::types::Types;
use super::{Names, RewriteError, RewriteSummary, a_int, is_default, quant};
use crate::graph::HostTensor;
use crate::onnx::proto::{
    GraphProto, ModelProto, NodeProto,
    data_type::{FLOAT, INT8, INT32, UINT8},
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Ops whose output keeps its input's range (and so its scale).
const SAME_RANGE: [&str; 8] = [
    "MaxPool",
    "Flatten",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Relu",
];

/// Ops quantized with their own calibrated range when their inputs are.
const CALIBRATED: [&str; 3] = ["GlobalAveragePool", "AveragePool", "Add"];

/// For each candidate (by node index): the ReLU node that follows it alone,
/// whose output is then the one quantized.
fn relu_after(g: &GraphProto, cands: &[Candidate]) -> HashMap<usize, usize> {
    let mut uses: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, n) in g.node.iter().enumerate() {
        for i in &n.input {
            uses.entry(i.as_str()).or_default().push(k);
        }
    }
    let outputs: HashSet<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    let mut out = HashMap::new();
    for c in cands {
        if outputs.contains(c.y.as_str()) {
            continue;
        }
        if let Some([r]) = uses.get(c.y.as_str()).map(Vec::as_slice)
            && g.node[*r].op_type == "Relu"
            && is_default(&g.node[*r])
        {
            out.insert(c.node, *r);
        }
    }
    out
}

/// The tensors whose calibrated range [`static_qdq`] uses: each candidate's
/// activation input and (ReLU) output, and the outputs of average pools and
/// additions.
pub(crate) fn range_targets(g: &GraphProto, types: &Types) -> Vec<String> {
    let cands = quant::candidates(g, types, &mut RewriteSummary::default());
    let relus = relu_after(g, &cands);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |t: &str| {
        if seen.insert(t.to_string()) {
            out.push(t.to_string());
        }
    };
    for c in &cands {
        add(&c.x);
        match relus.get(&c.node) {
            Some(&r) => add(&g.node[r].output[0]),
            None => add(&c.y),
        }
    }
    for n in &g.node {
        if CALIBRATED.contains(&n.op_type.as_str())
            && is_default(n)
            && let Some(y) = n.output.first()
            && types.get(y) == Some(&FLOAT)
        {
            add(y);
        }
    }
    out
}

/// A quantized tensor: the DequantizeLinear output to read it from, and its scale and zero point.
#[derive(Clone)]
struct Quantized {
    dq: String,
    scale: f32,
    zero: u8,
}

struct Pass<'a> {
    b: Builder<'a>,
    q: HashMap<String, Quantized>,
    per_channel: bool,
}

impl Pass<'_> {
    /// A Q/DQ pair reading `t`, writing `out`; returns the pair's params.
    fn pair(&mut self, t: &str, out: &str, scale: f32, zero: u8) {
        let sn = self
            .b
            .init(&format!("{out}_scale"), FLOAT, &[], f32_bytes(&[scale]));
        let zn = self
            .b
            .init(&format!("{out}_zero_point"), UINT8, &[], vec![zero]);
        let q = self.b.op(
            "QuantizeLinear",
            out,
            vec![t.to_string(), sn.clone(), zn.clone()],
            vec![],
        );
        self.b
            .op_to("DequantizeLinear", out, vec![q, sn, zn], out, vec![]);
    }

    /// `t` through a Q/DQ pair (made once); returns where to read it.
    fn input(&mut self, t: &str, range: (f32, f32)) -> Quantized {
        if let Some(q) = self.q.get(t) {
            return q.clone();
        }
        let (scale, zero) = quant::activation_scale(range.0, range.1);
        let dq = self.b.fresh(&format!("{t}_dequantized"));
        self.pair(t, &dq, scale, zero);
        let q = Quantized { dq, scale, zero };
        self.q.insert(t.to_string(), q.clone());
        q
    }

    /// `n`'s output 0 renamed, then a Q/DQ pair under the original name;
    /// returns the nodes to emit after `n`.
    fn output(&mut self, n: &mut NodeProto, scale: f32, zero: u8) {
        let y = n.output[0].clone();
        let pre = self.b.fresh(&format!("{y}_prequant"));
        n.output[0] = pre.clone();
        self.pair(&pre, &y, scale, zero);
        self.q.insert(y.clone(), Quantized { dq: y, scale, zero });
    }

    /// The weight (and bias) of a candidate through DequantizeLinear; returns (input index, name).
    fn weights(&mut self, c: &Candidate, base: &str, xs: f32) -> Vec<(usize, String)> {
        let axis = c.channel_axis();
        let (q, scales) = if self.per_channel {
            quantize_weight(&c.w, axis)
        } else {
            let flat = HostTensor {
                dtype: c.w.dtype,
                shape: vec![1, c.w.numel()],
                data: c.w.data.clone(),
            };
            quantize_weight(&flat, 0)
        };
        let sshape: Vec<i64> = if self.per_channel {
            vec![scales.len() as i64]
        } else {
            vec![]
        };
        let wq = self.b.init(
            &format!("{base}/weight_quantized"),
            INT8,
            &dims(&c.w.shape),
            q.iter().map(|&v| v as u8).collect(),
        );
        let ws = self.b.init(
            &format!("{base}/weight_scale"),
            FLOAT,
            &sshape,
            f32_bytes(&scales),
        );
        let wz = self.b.init(
            &format!("{base}/weight_zero_point"),
            INT8,
            &sshape,
            vec![0; scales.len()],
        );
        let attrs = if self.per_channel {
            vec![a_int("axis", axis as i64)]
        } else {
            vec![]
        };
        let wd = self.b.op("DequantizeLinear", base, vec![wq, ws, wz], attrs);
        let mut ins = vec![(1, wd)];
        if let Some(bias) = &c.bias {
            // int32 at input scale × weight scale, as integer kernels add it.
            let bs: Vec<f32> = (0..bias.len())
                .map(|i| xs * scales[if self.per_channel { i } else { 0 }])
                .collect();
            let bq: Vec<u8> = bias
                .iter()
                .zip(&bs)
                .flat_map(|(v, s)| {
                    ((v / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).to_le_bytes()
                })
                .collect();
            let len = [bias.len() as i64];
            let bn = self
                .b
                .init(&format!("{base}/bias_quantized"), INT32, &len, bq);
            let bsn = self
                .b
                .init(&format!("{base}/bias_scale"), FLOAT, &len, f32_bytes(&bs));
            let bz = self.b.init(
                &format!("{base}/bias_zero_point"),
                INT32,
                &len,
                vec![0; 4 * bs.len()],
            );
            let bd = self.b.op(
                "DequantizeLinear",
                base,
                vec![bn, bsn, bz],
                vec![a_int("axis", 0)],
            );
            ins.push((2, bd));
        }
        ins
    }
}

/// Rewrites `m` into its int8 QDQ variant; `ranges` holds the calibrated
/// (min, max) of the tensors [`super::calib::targets`] names.
pub fn static_qdq(
    m: &mut ModelProto,
    ranges: &BTreeMap<String, (f32, f32)>,
) -> Result<RewriteSummary, RewriteError> {
    let (opset, types) = setup(m, 10, "int8-static (QuantizeLinear)")?;
    let per_channel = opset >= 13;
    let g = m.graph.as_mut().expect("checked by setup");
    let mut summary = RewriteSummary::default();
    if !per_channel {
        summary.note(format!(
            "opset {opset}: one weight scale per tensor (per-channel DequantizeLinear needs opset 13)"
        ));
    }
    let cands = quant::candidates(g, &types, &mut summary);
    let relus = relu_after(g, &cands);
    // Candidate node → the output of the ReLU after it.
    let relu_out: HashMap<usize, String> = relus
        .iter()
        .map(|(&c, &r)| (c, g.node[r].output[0].clone()))
        .collect();
    let range = |t: &str| {
        ranges
            .get(t)
            .copied()
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
    };
    let mut names = Names::new(g);
    let mut p = Pass {
        b: Builder {
            names: &mut names,
            nodes: Vec::new(),
            inits: Vec::new(),
        },
        q: HashMap::new(),
        per_channel,
    };
    let by_node: HashMap<usize, &Candidate> = cands.iter().map(|c| (c.node, c)).collect();
    // ReLU node → the range of its output, when its candidate was quantized.
    let mut relu_range: HashMap<usize, (f32, f32)> = HashMap::new();
    let old = std::mem::take(&mut g.node);
    let mut out: Vec<NodeProto> = Vec::with_capacity(old.len() * 2);
    for (k, mut n) in old.into_iter().enumerate() {
        if let Some(c) = by_node.get(&k) {
            let y_range = range(relu_out.get(&k).unwrap_or(&c.y));
            let x_known = p.q.contains_key(&c.x);
            let (Some(ry), Some(rx)) = (y_range, range(&c.x).or(x_known.then_some((0.0, 0.0))))
            else {
                RewriteSummary::count(&mut summary.kept, &n.op_type);
                summary.note(format!(
                    "{}: no finite calibrated range for its input or output (left in float32)",
                    n.op_type
                ));
                out.push(n);
                continue;
            };
            let base = if n.name.is_empty() {
                c.y.clone()
            } else {
                n.name.clone()
            };
            let x = p.input(&c.x, rx);
            let ins = p.weights(c, &base, x.scale);
            n.input[0] = x.dq;
            for (i, name) in ins {
                if n.input.len() > i {
                    n.input[i] = name;
                }
            }
            if n.op_type == "Gemm" && c.bias.is_some() {
                // The bias holds beta * C now.
                for a in &mut n.attribute {
                    if a.name == "beta" {
                        a.f = 1.0;
                    }
                }
            }
            out.append(&mut p.b.nodes);
            match relus.get(&k) {
                Some(&r) => {
                    relu_range.insert(r, ry);
                    out.push(n);
                }
                None => {
                    let (s, z) = quant::activation_scale(ry.0, ry.1);
                    p.output(&mut n, s, z);
                    out.push(n);
                    out.append(&mut p.b.nodes);
                }
            }
            RewriteSummary::count(&mut summary.converted, &out_op(c));
            continue;
        }
        if let Some(ry) = relu_range.remove(&k) {
            let (s, z) = quant::activation_scale(ry.0, ry.1);
            p.output(&mut n, s, z);
            out.push(n);
            out.append(&mut p.b.nodes);
            continue;
        }
        let op = n.op_type.clone();
        let op = op.as_str();
        let first = n.input.first().cloned().unwrap_or_default();
        let float_out = n.output.len() == 1 && types.get(&n.output[0]) == Some(&FLOAT);
        if is_default(&n) && float_out && SAME_RANGE.contains(&op) && p.q.contains_key(&first) {
            let x = p.q[&first].clone();
            n.input[0] = x.dq.clone();
            p.output(&mut n, x.scale, x.zero);
            out.push(n);
            out.append(&mut p.b.nodes);
            continue;
        }
        let floats: Vec<usize> = (0..n.input.len())
            .filter(|&i| types.get(&n.input[i]) == Some(&FLOAT))
            .collect();
        if is_default(&n)
            && float_out
            && CALIBRATED.contains(&op)
            && !floats.is_empty()
            && floats.iter().all(|&i| p.q.contains_key(&n.input[i]))
            && let Some(ry) = range(&n.output[0])
        {
            for &i in &floats {
                n.input[i] = p.q[&n.input[i]].dq.clone();
            }
            let (s, z) = quant::activation_scale(ry.0, ry.1);
            p.output(&mut n, s, z);
            out.push(n);
            out.append(&mut p.b.nodes);
            RewriteSummary::count(&mut summary.converted, op);
            continue;
        }
        out.push(n);
    }
    let inits = std::mem::take(&mut p.b.inits);
    g.node = out;
    splice(g, BTreeMap::new(), inits);
    Ok(summary)
}

fn out_op(c: &Candidate) -> String {
    match c.kind {
        quant::Kind::MatMul => "MatMul",
        quant::Kind::Gemm => "Gemm",
        quant::Kind::Conv => "Conv",
    }
    .to_string()
}
