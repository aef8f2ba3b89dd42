//! The int8 variants of the nodes that carry a model's weights (MatMul,
//! Gemm, Conv with constant weights): weights int8, symmetric, one scale
//! per output channel.
//!
//! - [`dynamic`]: activations quantized at run time, as ONNX Runtime's
//!   `quantize_dynamic` lays it out (`DynamicQuantizeLinear`, then
//!   `MatMulInteger`/`ConvInteger`, `Cast` and the scales multiplied back
//!   in), a pattern ONNX Runtime fuses into its `DynamicQuantizeMatMul`.
//! - [`super::qdq::static_qdq`]: QDQ (`QuantizeLinear`/`DequantizeLinear` pairs) on each
//!   node's activation input and output with scales from calibrated ranges
//!   (uint8, asymmetric), weights and biases through `DequantizeLinear`
//!   (int32 biases, scaled by input scale × weight scale), the layout
//!   runtimes fuse into integer kernels (`QLinearConv`, ...).
//!
//! Nodes that do not fit (both MatMul operands computed, a Gemm with
//! `transA`, a bias that is not constant, no calibrated range) stay float32.

use super::consts::{Consts, transpose};
use super::types::{self, Types, attr};
use super::{
    Names, RewriteError, RewriteSummary, a_int, default_opset, err, is_default, node, prune,
    raw_tensor,
};
use crate::graph::HostTensor;
use crate::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto,
    data_type::{FLOAT, INT8},
};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    MatMul,
    Gemm,
    Conv,
}

/// A node the quantizer can take.
pub(crate) struct Candidate {
    pub node: usize,
    pub kind: Kind,
    /// The activation input.
    pub x: String,
    /// The weight as the node uses it (Gemm: as stored, see `trans_b`).
    pub w: HostTensor,
    pub trans_b: bool,
    /// Gemm's `alpha`.
    pub alpha: f32,
    /// Conv's bias, Gemm's `beta * C`: constant, one value per output channel.
    pub bias: Option<Vec<f32>>,
    pub y: String,
}

impl Candidate {
    /// The axis of `w` that holds the output channels.
    pub fn channel_axis(&self) -> usize {
        match self.kind {
            Kind::MatMul => 1,
            Kind::Gemm if self.trans_b => 0,
            Kind::Gemm => 1,
            Kind::Conv => 0,
        }
    }
}

/// The nodes of `g` that can be quantized; the others of those op types
/// are counted (with why) in `summary.kept`.
pub(crate) fn candidates(
    g: &GraphProto,
    types: &Types,
    summary: &mut RewriteSummary,
) -> Vec<Candidate> {
    let mut consts = Consts::new(g);
    let mut out = Vec::new();
    for (k, n) in g.node.iter().enumerate() {
        let kind = match n.op_type.as_str() {
            "MatMul" => Kind::MatMul,
            "Gemm" => Kind::Gemm,
            "Conv" => Kind::Conv,
            _ => continue,
        };
        if !is_default(n) {
            continue;
        }
        let mut keep = |why: &str| {
            RewriteSummary::count(&mut summary.kept, &n.op_type);
            summary.note(format!("{}: {why}", n.op_type));
        };
        let x = n.input.first().cloned().unwrap_or_default();
        if types.get(&x) != Some(&FLOAT) || n.output.len() != 1 {
            keep("not a float32 node");
            continue;
        }
        let Some(w) = n.input.get(1).and_then(|w| consts.value(w)) else {
            keep("its weight is computed, not constant (left in float32)");
            continue;
        };
        let rank_ok = match kind {
            Kind::MatMul | Kind::Gemm => w.shape.len() == 2,
            Kind::Conv => w.shape.len() >= 3,
        };
        if w.dtype != crate::graph::DType::Float32 || !rank_ok || consts.value(&x).is_some() {
            keep("its weight is not a float32 matrix or kernel");
            continue;
        }
        let f = |a: &str, d: f32| attr(n, a).map_or(d, |a| a.f);
        let i = |a: &str| attr(n, a).is_some_and(|a| a.i != 0);
        let trans_b = kind == Kind::Gemm && i("transB");
        if kind == Kind::Gemm && i("transA") {
            keep("transA is set");
            continue;
        }
        let channels = w.shape[if kind == Kind::Conv || trans_b { 0 } else { 1 }];
        let bias = match (kind, n.input.get(2).filter(|s| !s.is_empty())) {
            (Kind::MatMul, _) | (_, None) => None,
            (_, Some(b)) => match consts.value(b).and_then(|t| t.to_f32_vec()) {
                Some(v) if v.len() == channels => {
                    let beta = if kind == Kind::Gemm {
                        f("beta", 1.0)
                    } else {
                        1.0
                    };
                    Some(v.iter().map(|x| x * beta).collect())
                }
                _ => {
                    keep("its bias is not a constant vector");
                    continue;
                }
            },
        };
        out.push(Candidate {
            node: k,
            kind,
            x,
            w,
            trans_b,
            alpha: if kind == Kind::Gemm {
                f("alpha", 1.0)
            } else {
                1.0
            },
            bias,
            y: n.output[0].clone(),
        });
    }
    out
}

/// `w` as int8, symmetric, one scale per slice along `axis`.
pub(crate) fn quantize_weight(w: &HostTensor, axis: usize) -> (Vec<i8>, Vec<f32>) {
    let v = w.to_f32_vec().unwrap_or_default();
    let channels = w.shape[axis];
    let inner: usize = w.shape[axis + 1..].iter().product();
    let mut amax = vec![0f32; channels];
    for (i, x) in v.iter().enumerate() {
        let c = (i / inner) % channels;
        amax[c] = amax[c].max(x.abs());
    }
    let scales: Vec<f32> = amax
        .iter()
        .map(|&a| {
            if a > 0.0 && a.is_finite() {
                a / 127.0
            } else {
                1.0
            }
        })
        .collect();
    let q = v
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let s = scales[(i / inner) % channels];
            (x / s).round().clamp(-127.0, 127.0) as i8
        })
        .collect();
    (q, scales)
}

pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// Builds the new nodes and initializers.
pub(crate) struct Builder<'a> {
    pub names: &'a mut Names,
    pub nodes: Vec<NodeProto>,
    pub inits: Vec<crate::onnx::proto::TensorProto>,
}

impl Builder<'_> {
    pub fn fresh(&mut self, base: &str) -> String {
        self.names.fresh(base)
    }
    pub fn init(&mut self, base: &str, data_type: i32, shape: &[i64], raw: Vec<u8>) -> String {
        let name = self.fresh(base);
        self.inits.push(raw_tensor(&name, data_type, shape, raw));
        name
    }
    pub fn op(
        &mut self,
        op: &str,
        base: &str,
        ins: Vec<String>,
        attrs: Vec<AttributeProto>,
    ) -> String {
        let out = self.fresh(&format!("{base}/{op}_out"));
        let name = self.fresh(&format!("{base}/{op}"));
        self.nodes
            .push(node(op, name, ins, vec![out.clone()], attrs));
        out
    }
    /// Like `op`, writing to `out`.
    pub fn op_to(
        &mut self,
        op: &str,
        base: &str,
        ins: Vec<String>,
        out: &str,
        attrs: Vec<AttributeProto>,
    ) {
        let name = self.fresh(&format!("{base}/{op}"));
        self.nodes
            .push(node(op, name, ins, vec![out.to_string()], attrs));
    }
}

/// The model's opset (at least `min_opset`) and tensor types, once the
/// batch normalizations are folded into their convolutions.
pub(crate) fn setup(
    m: &mut ModelProto,
    min_opset: i64,
    what: &str,
) -> Result<(i64, Types), RewriteError> {
    let Some(opset) = default_opset(m) else {
        return err("the model imports no version of the default ONNX operator set");
    };
    if opset < min_opset {
        return err(format!(
            "{what} needs opset {min_opset} or later; the model has opset {opset}"
        ));
    }
    let Some(g) = m.graph.as_mut() else {
        return err("the model has no graph");
    };
    super::fold::fold_batch_norms(g);
    Ok((opset, types::infer(g, opset, &Types::new())))
}

/// Rewrites `m` into its int8 variant with activations quantized at run time.
pub fn dynamic(m: &mut ModelProto) -> Result<RewriteSummary, RewriteError> {
    let (_, types) = setup(m, 11, "int8-dynamic (DynamicQuantizeLinear)")?;
    let g = m.graph.as_mut().expect("checked");
    let mut summary = RewriteSummary::default();
    let cands = candidates(g, &types, &mut summary);
    let mut names = Names::new(g);
    let mut b = Builder {
        names: &mut names,
        nodes: Vec::new(),
        inits: Vec::new(),
    };
    // One DynamicQuantizeLinear per activation, as onnxruntime's quantizer.
    let mut quantized: HashMap<String, (String, String, String)> = HashMap::new();
    let mut replace: BTreeMap<usize, Vec<NodeProto>> = BTreeMap::new();
    let w_zero = b.init("int8_zero_point", INT8, &[], vec![0]);
    for c in &cands {
        let n = &g.node[c.node];
        let base = if n.name.is_empty() {
            c.y.clone()
        } else {
            n.name.clone()
        };
        b.nodes.clear();
        let (xq, xs, xz) = match quantized.get(&c.x) {
            Some(q) => q.clone(),
            None => {
                let q = (
                    b.fresh(&format!("{}_quantized", c.x)),
                    b.fresh(&format!("{}_scale", c.x)),
                    b.fresh(&format!("{}_zero_point", c.x)),
                );
                let name = b.fresh(&format!("{}_QuantizeLinear", c.x));
                b.nodes.push(node(
                    "DynamicQuantizeLinear",
                    name,
                    vec![c.x.clone()],
                    vec![q.0.clone(), q.1.clone(), q.2.clone()],
                    vec![],
                ));
                quantized.insert(c.x.clone(), q.clone());
                q
            }
        };
        let (acc, scale) = match c.kind {
            Kind::MatMul | Kind::Gemm => {
                // MatMulInteger takes B as [K, N].
                let w = if c.trans_b {
                    transpose(&c.w, &[1, 0]).expect("2-D")
                } else {
                    c.w.clone()
                };
                let (q, scales) = quantize_weight(&w, 1);
                let scales: Vec<f32> = scales.iter().map(|s| s * c.alpha).collect();
                let wq = b.init(
                    &format!("{base}/weight_quantized"),
                    INT8,
                    &dims(&w.shape),
                    q.iter().map(|&v| v as u8).collect(),
                );
                let ws = b.init(
                    &format!("{base}/weight_scale"),
                    FLOAT,
                    &[scales.len() as i64],
                    f32_bytes(&scales),
                );
                let s = b.op("Mul", &base, vec![xs.clone(), ws], vec![]);
                let acc = b.op(
                    "MatMulInteger",
                    &base,
                    vec![xq.clone(), wq, xz.clone(), w_zero.clone()],
                    vec![],
                );
                (acc, s)
            }
            Kind::Conv => {
                let (q, scales) = quantize_weight(&c.w, 0);
                let wq = b.init(
                    &format!("{base}/weight_quantized"),
                    INT8,
                    &dims(&c.w.shape),
                    q.iter().map(|&v| v as u8).collect(),
                );
                // [1, M, 1, ...]: broadcast over the output's channels.
                let mut bshape = vec![1i64; c.w.shape.len()];
                bshape[1] = scales.len() as i64;
                let ws = b.init(
                    &format!("{base}/weight_scale"),
                    FLOAT,
                    &bshape,
                    f32_bytes(&scales),
                );
                let s = b.op("Mul", &base, vec![xs.clone(), ws], vec![]);
                let attrs: Vec<AttributeProto> = n
                    .attribute
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.name.as_str(),
                            "auto_pad"
                                | "dilations"
                                | "group"
                                | "kernel_shape"
                                | "pads"
                                | "strides"
                        )
                    })
                    .cloned()
                    .collect();
                let acc = b.op(
                    "ConvInteger",
                    &base,
                    vec![xq.clone(), wq, xz.clone(), w_zero.clone()],
                    attrs,
                );
                (acc, s)
            }
        };
        let accf = b.op("Cast", &base, vec![acc], vec![a_int("to", FLOAT as i64)]);
        match &c.bias {
            None => b.op_to("Mul", &base, vec![accf, scale], &c.y, vec![]),
            Some(bias) => {
                let y = b.op("Mul", &base, vec![accf, scale], vec![]);
                let bshape = bias_shape(c, bias.len());
                let bn = b.init(&format!("{base}/bias"), FLOAT, &bshape, f32_bytes(bias));
                b.op_to("Add", &base, vec![y, bn], &c.y, vec![]);
            }
        }
        replace.insert(c.node, std::mem::take(&mut b.nodes));
        RewriteSummary::count(&mut summary.converted, &n.op_type);
    }
    let inits = std::mem::take(&mut b.inits);
    splice(g, replace, inits);
    Ok(summary)
}

/// The bias's shape for an Add after the node: `[N]`, or `[1, M, 1, ...]` for Conv.
fn bias_shape(c: &Candidate, len: usize) -> Vec<i64> {
    match c.kind {
        Kind::Conv => {
            let mut s = vec![1i64; c.w.shape.len()];
            s[1] = len as i64;
            s
        }
        _ => vec![len as i64],
    }
}

/// Replaces nodes by index with their new nodes; adds initializers; prunes.
pub(crate) fn splice(
    g: &mut GraphProto,
    mut replace: BTreeMap<usize, Vec<NodeProto>>,
    inits: Vec<crate::onnx::proto::TensorProto>,
) {
    let old = std::mem::take(&mut g.node);
    for (k, n) in old.into_iter().enumerate() {
        match replace.remove(&k) {
            Some(new) => g.node.extend(new),
            None => g.node.push(n),
        }
    }
    g.initializer.extend(inits);
    prune(g);
}

/// uint8 asymmetric (scale, zero point) of an activation range, with 0 inside it.
pub fn activation_scale(min: f32, max: f32) -> (f32, u8) {
    let (lo, hi) = (min.min(0.0), max.max(0.0));
    if hi <= lo {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    let zp = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zp)
}
