//! The float16 and bfloat16 variants: every float32 weight and every node
//! whose schema takes the lower precision at the model's opset computes in
//! it. A node that cannot (its schema lacks the type, it is not an ONNX
//! operator, it holds subgraphs, its types are unknown) computes in float32
//! between casts. The model's inputs and outputs keep float32, with casts
//! at the edges, unless `low_io` asks for them in the lower precision too.
//! Float32 values outside float16's range become ±65504 (its largest),
//! as a float16 model trained or converted elsewhere would hold them.

use super::types::{self, Types, attr};
use super::{
    Names, RewriteError, RewriteSummary, a_int, default_opset, err, is_default, node,
    node_free_names, prune, raw_tensor, rename_free, schema,
};
use crate::onnx::proto::{
    AttributeProto, ModelProto, NodeProto, TensorProto, attribute_type,
    data_type::{BFLOAT16, FLOAT, FLOAT16},
};
use crate::onnx::tensor_io::proto_to_tensor;
use std::collections::{HashMap, HashSet};

/// Which lower precision, and whether the model's inputs and outputs take it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloatOptions {
    /// `data_type::FLOAT16` or `data_type::BFLOAT16`.
    pub target: i32,
    /// Inputs and outputs in the lower precision (no casts at the edges).
    pub low_io: bool,
}

/// Ops whose output type an attribute sets: they stay as they are.
const KEEP_OPS: [&str; 10] = [
    "RandomNormal",
    "RandomUniform",
    "RandomNormalLike",
    "RandomUniformLike",
    "EyeLike",
    "Multinomial",
    "Bernoulli",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
];

fn type_name(t: i32) -> &'static str {
    match t {
        FLOAT16 => "float16",
        BFLOAT16 => "bfloat16",
        _ => "float32",
    }
}

/// Float32 values as `target`'s little-endian bytes.
pub fn encode(values: &[f32], target: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 2);
    for &v in values {
        let bits = if target == FLOAT16 {
            let v = if v.is_finite() {
                v.clamp(-65504.0, 65504.0)
            } else {
                v
            };
            half::f16::from_f32(v).to_bits()
        } else {
            half::bf16::from_f32(v).to_bits()
        };
        out.extend_from_slice(&bits.to_le_bytes());
    }
    out
}

fn convert_tensor(t: &TensorProto, target: i32) -> Result<TensorProto, RewriteError> {
    let h = proto_to_tensor(t).map_err(|e| RewriteError(e.to_string()))?;
    let v = h
        .to_f32_vec()
        .ok_or_else(|| RewriteError(format!("tensor '{}' is not float32", t.name)))?;
    let mut out = raw_tensor(&t.name, target, &t.dims, encode(&v, target));
    out.doc_string = t.doc_string.clone();
    Ok(out)
}

/// How a node takes part.
#[derive(Clone, Debug, PartialEq)]
enum Plan {
    /// No float32 input or output: nothing to do.
    Neutral,
    /// Computes in the lower precision: these float32 inputs / outputs turn.
    Low { ins: Vec<bool>, outs: Vec<bool> },
    /// Computes in float32, between casts.
    Kept,
}

fn plan_node(
    n: &NodeProto,
    opset: i64,
    target: i32,
    types: &Types,
    why: &mut Option<String>,
) -> Plan {
    let ty = |s: &String| types.get(s).copied();
    let float_in: Vec<bool> = n
        .input
        .iter()
        .map(|s| !s.is_empty() && ty(s) == Some(FLOAT))
        .collect();
    let float_out: Vec<bool> = n.output.iter().map(|s| ty(s) == Some(FLOAT)).collect();
    let subgraphs = n
        .attribute
        .iter()
        .any(|a| a.g.is_some() || !a.graphs.is_empty());
    if !float_in.contains(&true) && !float_out.contains(&true) {
        return Plan::Neutral;
    }
    let unknown = n
        .input
        .iter()
        .chain(&n.output)
        .any(|s| !s.is_empty() && ty(s).is_none());
    let kept = |w: String, why: &mut Option<String>| {
        *why = Some(w);
        Plan::Kept
    };
    if !is_default(n) {
        return kept(
            format!("{}:{}: not an ONNX operator", n.domain, n.op_type),
            why,
        );
    }
    if subgraphs {
        return kept(format!("{}: holds subgraphs", n.op_type), why);
    }
    if unknown {
        return kept(format!("{}: element types not known", n.op_type), why);
    }
    if KEEP_OPS.contains(&n.op_type.as_str()) {
        return kept(format!("{}: sets its own output type", n.op_type), why);
    }
    let Some(s) = schema::lookup(&n.op_type, opset) else {
        return kept(format!("{}: no schema at opset {opset}", n.op_type), why);
    };
    // Which slots hold float32 here, and can each take the target?
    let mut turn: HashMap<usize, bool> = HashMap::new();
    let positions = float_in
        .iter()
        .enumerate()
        .map(|(i, &f)| (f, s.input_slot(i)))
        .chain(
            float_out
                .iter()
                .enumerate()
                .map(|(k, &f)| (f, s.output_slot(k))),
        );
    for (is_float, slot) in positions {
        if !is_float {
            continue;
        }
        let Some(slot) = slot else {
            return kept(format!("{}: more inputs than its schema", n.op_type), why);
        };
        let ok = if s.allows(slot, target) {
            true
        } else if s.single_type(slot) == Some(FLOAT) || !s.slot_has_input(slot) {
            // float32 by definition (Resize's scales), or an output whose
            // type the op decides (LayerNormalization's mean): stays.
            false
        } else {
            return kept(
                format!("{}: no {} at opset {opset}", n.op_type, type_name(target)),
                why,
            );
        };
        turn.insert(slot, ok);
    }
    if n.op_type == "Cast" {
        // A cast to float32 now casts to the target.
        let to = attr(n, "to").map(|a| a.i as i32);
        let in_ok = !float_in.first().copied().unwrap_or(false) || s.allows(0, target);
        let out_ok = to != Some(FLOAT) || s.allows(s.outs[0] as usize, target);
        if !(in_ok && out_ok) {
            return kept(
                format!("Cast: no {} at opset {opset}", type_name(target)),
                why,
            );
        }
    }
    if !turn.values().any(|&t| t) {
        return Plan::Kept;
    }
    let at = |slot: Option<usize>| slot.and_then(|x| turn.get(&x).copied()).unwrap_or(false);
    Plan::Low {
        ins: float_in
            .iter()
            .enumerate()
            .map(|(i, &f)| f && at(s.input_slot(i)))
            .collect(),
        outs: float_out
            .iter()
            .enumerate()
            .map(|(k, &f)| f && at(s.output_slot(k)))
            .collect(),
    }
}

/// The attributes of a node turned to `target` (Cast's `to`, the values
/// of Constant and ConstantOfShape).
fn turn_attributes(n: &mut NodeProto, target: i32) -> Result<(), RewriteError> {
    match n.op_type.as_str() {
        "Cast" => {
            for a in &mut n.attribute {
                if a.name == "to" && a.i == FLOAT as i64 {
                    a.i = target as i64;
                }
            }
        }
        "ConstantOfShape" => match n.attribute.iter_mut().find(|a| a.name == "value") {
            Some(a) => {
                if let Some(t) = a.t.as_mut() {
                    *t = convert_tensor(t, target)?;
                }
            }
            None => n.attribute.push(AttributeProto {
                name: "value".into(),
                r#type: attribute_type::TENSOR,
                t: Some(raw_tensor("", target, &[1], encode(&[0.0], target))),
                ..Default::default()
            }),
        },
        "Constant" => {
            for a in &mut n.attribute {
                let values = match a.name.as_str() {
                    "value" => {
                        if let Some(t) = a.t.as_mut() {
                            *t = convert_tensor(t, target)?;
                        }
                        continue;
                    }
                    "value_float" => (vec![a.f], vec![]),
                    "value_floats" => (a.floats.clone(), vec![a.floats.len() as i64]),
                    _ => continue,
                };
                *a = AttributeProto {
                    name: "value".into(),
                    r#type: attribute_type::TENSOR,
                    t: Some(raw_tensor("", target, &values.1, encode(&values.0, target))),
                    ..Default::default()
                };
            }
        }
        _ => {}
    }
    Ok(())
}

/// Where each float32 tensor lives, in float32 and in the target, as the
/// nodes are emitted; casts are made the first time a version is needed.
struct Versions<'a> {
    low: HashMap<String, String>,
    f32: HashMap<String, String>,
    names: &'a mut Names,
    target: i32,
    tag: &'static str,
}

impl Versions<'_> {
    fn get(&mut self, t: &str, want_low: bool, out: &mut Vec<NodeProto>) -> String {
        let (have, other) = if want_low {
            (&self.low, &self.f32)
        } else {
            (&self.f32, &self.low)
        };
        if let Some(v) = have.get(t) {
            return v.clone();
        }
        let Some(src) = other.get(t).cloned() else {
            // Not a float32 tensor we track (an outer-scope name): as is.
            return t.to_string();
        };
        let suffix = if want_low { self.tag } else { "fp32" };
        let name = self.names.fresh(&format!("{t}_{suffix}"));
        let to = if want_low { self.target } else { FLOAT };
        let cast_name = self.names.fresh(&format!("{name}/Cast"));
        out.push(node(
            "Cast",
            cast_name,
            vec![src],
            vec![name.clone()],
            vec![a_int("to", to as i64)],
        ));
        if want_low {
            self.low.insert(t.to_string(), name.clone());
        } else {
            self.f32.insert(t.to_string(), name.clone());
        }
        name
    }
}

/// Rewrites `m` into its float16 or bfloat16 variant.
pub fn to_float(m: &mut ModelProto, o: &FloatOptions) -> Result<RewriteSummary, RewriteError> {
    let target = o.target;
    if target != FLOAT16 && target != BFLOAT16 {
        return err("the target must be float16 or bfloat16");
    }
    let Some(opset) = default_opset(m) else {
        return err("the model imports no version of the default ONNX operator set");
    };
    if !schema::lookup("Cast", opset).is_some_and(|c| c.allows(0, target)) {
        return err(format!(
            "{} needs opset 13 or later (ONNX's Cast takes it from 13); the model has opset {opset}",
            type_name(target)
        ));
    }
    let Some(g) = m.graph.as_mut() else {
        return err("the model has no graph");
    };
    let types = types::infer(g, opset, &Types::new());
    let mut summary = RewriteSummary::default();
    let mut plans = Vec::with_capacity(g.node.len());
    for n in &g.node {
        let mut why = None;
        let p = plan_node(n, opset, target, &types, &mut why);
        if let Some(w) = why {
            summary.note(w);
        }
        plans.push(p);
    }
    let is_float = |s: &str| types.get(s) == Some(&FLOAT);
    // Who wants which version of each float32 tensor.
    let mut wants_low: HashSet<String> = HashSet::new();
    let mut wants_f32: HashSet<String> = HashSet::new();
    for (n, p) in g.node.iter().zip(&plans) {
        for (i, t) in n.input.iter().enumerate() {
            if t.is_empty() || !is_float(t) {
                continue;
            }
            match p {
                Plan::Low { ins, .. } if ins[i] => wants_low.insert(t.clone()),
                _ => wants_f32.insert(t.clone()),
            };
        }
        for t in node_free_names(n) {
            if is_float(&t) {
                wants_f32.insert(t);
            }
        }
    }
    for out in &g.output {
        if is_float(&out.name) {
            if o.low_io {
                wants_low.insert(out.name.clone());
            } else {
                wants_f32.insert(out.name.clone());
            }
        }
    }
    // Constants turn when only low-precision nodes use them.
    for (n, p) in g.node.iter().zip(plans.iter_mut()) {
        if n.op_type == "Constant"
            && matches!(p, Plan::Low { .. })
            && n.output.iter().any(|t| wants_f32.contains(t))
        {
            *p = Plan::Kept;
        }
    }

    let mut names = Names::new(g);
    let tag = if target == FLOAT16 { "fp16" } else { "bf16" };
    let mut v = Versions {
        low: HashMap::new(),
        f32: HashMap::new(),
        names: &mut names,
        target,
        tag,
    };
    // Graph inputs.
    let initializer_names: HashSet<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    for vi in &mut g.input {
        if !is_float(&vi.name) {
            continue;
        }
        if o.low_io && !initializer_names.contains(&vi.name) {
            set_type(&mut vi.r#type, target);
            v.low.insert(vi.name.clone(), vi.name.clone());
        } else {
            v.f32.insert(vi.name.clone(), vi.name.clone());
        }
    }
    // Initializers: turned in place, or copied when float32 is wanted too.
    let inputs: HashSet<String> = g.input.iter().map(|i| i.name.clone()).collect();
    let mut added = Vec::new();
    for t in &mut g.initializer {
        if t.data_type != FLOAT || inputs.contains(&t.name) {
            continue;
        }
        let low = wants_low.contains(&t.name);
        match (low, wants_f32.contains(&t.name)) {
            (true, false) => {
                *t = convert_tensor(t, target)?;
                v.low.insert(t.name.clone(), t.name.clone());
            }
            (true, true) => {
                let mut c = convert_tensor(t, target)?;
                c.name = v.names.fresh(&format!("{}_{tag}", t.name));
                v.low.insert(t.name.clone(), c.name.clone());
                v.f32.insert(t.name.clone(), t.name.clone());
                added.push(c);
            }
            _ => {
                v.f32.insert(t.name.clone(), t.name.clone());
            }
        }
    }
    g.initializer.extend(added);

    // The nodes, with casts where a version is missing.
    let nodes = std::mem::take(&mut g.node);
    let mut out: Vec<NodeProto> = Vec::with_capacity(nodes.len() * 2);
    for (mut n, p) in nodes.into_iter().zip(plans) {
        let op = n.op_type.clone();
        match &p {
            Plan::Neutral => {}
            Plan::Low { ins, outs } => {
                for (i, turn) in ins.iter().enumerate() {
                    let t = n.input[i].clone();
                    if !t.is_empty() && is_float(&t) {
                        n.input[i] = v.get(&t, *turn, &mut out);
                    }
                }
                for (k, turn) in outs.iter().enumerate() {
                    let t = n.output[k].clone();
                    if *turn {
                        v.low.insert(t.clone(), t);
                    } else if is_float(&t) {
                        v.f32.insert(t.clone(), t);
                    }
                }
                turn_attributes(&mut n, target)?;
                RewriteSummary::count(&mut summary.converted, &op);
            }
            Plan::Kept => {
                for i in 0..n.input.len() {
                    let t = n.input[i].clone();
                    if !t.is_empty() && is_float(&t) {
                        n.input[i] = v.get(&t, false, &mut out);
                    }
                }
                for t in &n.output {
                    if is_float(t) {
                        v.f32.insert(t.clone(), t.clone());
                    }
                }
                RewriteSummary::count(&mut summary.kept, &op);
            }
        }
        // Subgraphs read outer float32 tensors as float32.
        for t in node_free_names(&n) {
            if is_float(&t) {
                let f = v.get(&t, false, &mut out);
                if f != t {
                    for a in &mut n.attribute {
                        for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                            rename_free(sg, &t, &f);
                        }
                    }
                }
            }
        }
        out.push(n);
    }

    // Graph outputs: the type asked for, under their own names.
    let want = if o.low_io { target } else { FLOAT };
    let produced: HashSet<String> = out.iter().flat_map(|n| n.output.clone()).collect();
    for i in 0..g.output.len() {
        let name = g.output[i].name.clone();
        if !is_float(&name) {
            continue;
        }
        let now_low = v.low.get(&name) == Some(&name);
        if now_low == o.low_io || !produced.contains(&name) {
            if now_low {
                set_type(&mut g.output[i].r#type, target);
            }
            continue;
        }
        let inner = v
            .names
            .fresh(&format!("{name}_{}", if now_low { tag } else { "fp32" }));
        rename_everywhere(&mut out, &name, &inner);
        let cast_name = v.names.fresh(&format!("{name}/Cast"));
        out.push(node(
            "Cast",
            cast_name,
            vec![inner],
            vec![name.clone()],
            vec![a_int("to", want as i64)],
        ));
        set_type(&mut g.output[i].r#type, want);
    }
    // value_info follows the tensors that turned.
    let low_now: HashSet<&String> = v
        .low
        .iter()
        .filter(|(k, val)| k == val)
        .map(|(k, _)| k)
        .collect();
    let outputs: HashSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
    for vi in &mut g.value_info {
        if low_now.contains(&vi.name) && !outputs.contains(&vi.name) {
            set_type(&mut vi.r#type, target);
        }
    }
    g.node = out;
    prune(g);
    Ok(summary)
}

fn set_type(t: &mut Option<crate::onnx::proto::TypeProto>, elem: i32) {
    if let Some(tt) = t.as_mut().and_then(|t| t.tensor_type.as_mut()) {
        tt.elem_type = elem;
    }
}

/// Renames tensor `from` to `to` in every node (and the subgraphs that use it).
fn rename_everywhere(nodes: &mut [NodeProto], from: &str, to: &str) {
    for n in nodes {
        for s in n.input.iter_mut().chain(n.output.iter_mut()) {
            if s == from {
                *s = to.to_string();
            }
        }
        for a in &mut n.attribute {
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                rename_free(sg, from, to);
            }
        }
    }
}

/// The graph's float32 weights, for tests and counts.
#[cfg(test)]
pub(crate) fn float_initializers(g: &crate::onnx::proto::GraphProto) -> usize {
    g.initializer
        .iter()
        .filter(|t| t.data_type == FLOAT)
        .count()
}
