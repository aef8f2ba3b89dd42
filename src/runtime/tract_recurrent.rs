//! tract and ONNX's LSTM, GRU and RNN: models tract would run wrong are
//! refused, and models its optimizer breaks are changed before it sees
//! them (in memory; the ONNX file stays as it is).

use crate::graph::{DType, HostTensor};
use crate::onnx::dtype_from_onnx;
use std::path::Path;
use tract_onnx::Onnx;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::{
    GraphProto, NodeProto, TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};
use tract_onnx::prelude::*;

/// Reads `model` as `onnx.model_for_path` would, after refusing the
/// recurrent nodes tract would run wrong and making their absent initial
/// states inputs. Errors carry tract's whole cause chain.
pub(super) fn load_model(
    onnx: &Onnx,
    model: &Path,
) -> Result<(InferenceModel, StateFeeds), String> {
    let e = |e: TractError| format!("{e:#}");
    let mut proto = onnx.proto_model_for_path(model).map_err(e)?;
    let Some(graph) = proto.graph.as_mut() else {
        return Err("the file has no graph".into());
    };
    if let Some(why) = ignored_attributes(graph) {
        return Err(why);
    }
    let feeds = StateFeeds(absent_states_as_inputs(graph));
    let parsed = onnx
        .parse(&proto, model.parent().and_then(|d| d.to_str()))
        .map_err(e)?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(format!(
            "could not resolve inputs at top-level: {:?}",
            parsed.unresolved_inputs
        ));
    }
    Ok((parsed.model, feeds))
}

/// The initial states made model inputs, and the zeros the session feeds.
pub(super) struct StateFeeds(Vec<(String, HostTensor)>);

impl StateFeeds {
    /// How many of the model's inputs (`names`, in order) are its own: the
    /// states come after them.
    pub(super) fn own_inputs(&self, names: &[String]) -> Result<usize, String> {
        let own = names.len().saturating_sub(self.0.len());
        if names[own..].iter().ne(self.0.iter().map(|(n, _)| n)) {
            return Err(format!(
                "the initial states made inputs are not the model's last inputs: {names:?}"
            ));
        }
        Ok(own)
    }

    pub(super) fn values(&self) -> Result<TVec<TValue>, String> {
        self.0
            .iter()
            .map(|(name, t)| super::to_tvalue(t).map_err(|e| format!("{name}: {e}")))
            .collect()
    }
}

const RECURRENT: [&str; 3] = ["LSTM", "GRU", "RNN"];

fn is_recurrent(n: &NodeProto) -> bool {
    RECURRENT.contains(&n.op_type.as_str()) && (n.domain.is_empty() || n.domain == "ai.onnx")
}

/// tract's LSTM, GRU and RNN read their weights, states and `layout` only:
/// they compute the default activations (LSTM sigmoid, tanh, tanh; GRU
/// sigmoid, tanh; RNN tanh) with no clip or input_forget, and run forward
/// unless there are two directions. A node asking for anything else would
/// give wrong numbers without an error: says which, so the model is refused.
fn ignored_attributes(g: &GraphProto) -> Option<String> {
    for n in &g.node {
        for a in &n.attribute {
            let sub = a.g.iter().chain(&a.graphs);
            if let Some(why) = sub.filter_map(ignored_attributes).next() {
                return Some(why);
            }
        }
        if !is_recurrent(n) {
            continue;
        }
        let defaults: &[&str] = match n.op_type.as_str() {
            "LSTM" => &["sigmoid", "tanh", "tanh"],
            "GRU" => &["sigmoid", "tanh"],
            _ => &["tanh"],
        };
        for a in &n.attribute {
            let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
            let ignored = match a.name.as_str() {
                "activations" => {
                    let acts: Vec<String> = a.strings.iter().map(|s| text(s)).collect();
                    let default = acts.len().is_multiple_of(defaults.len())
                        && acts.chunks(defaults.len()).all(|c| {
                            c.iter()
                                .zip(defaults)
                                .all(|(a, d)| a.eq_ignore_ascii_case(d))
                        });
                    (!default).then(|| acts.join(", "))
                }
                "clip" => Some(a.f.to_string()),
                "input_forget" => (a.i != 0).then(|| a.i.to_string()),
                "direction" => (a.s == b"reverse").then(|| text(&a.s)),
                _ => None,
            };
            if let Some(value) = ignored {
                return Some(format!(
                    "{} node '{}' sets {} = {value}, which tract ignores (it would compute the \
                     default cell and give wrong numbers): run this model on ort instead",
                    n.op_type, n.name, a.name
                ));
            }
        }
    }
    None
}

/// The static shape and dtype of value `name`, when the graph declares them.
fn declared(g: &GraphProto, name: &str) -> Option<(Vec<usize>, DType)> {
    let vi = g
        .input
        .iter()
        .chain(&g.value_info)
        .chain(&g.output)
        .find(|v| v.name == name)?;
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = t.shape.as_ref()?.dim.iter().map(|d| match d.value {
        Some(dimension::Value::DimValue(v)) => usize::try_from(v).ok(),
        _ => None,
    });
    Some((dims.collect::<Option<_>>()?, dtype_from_onnx(t.elem_type)?))
}

fn int_attr(n: &NodeProto, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// tract 0.23's optimizer moves axis changes into the Scan that an LSTM (or
/// GRU, RNN) becomes and, when an initial state is a constant (an absent
/// state is zeros), changes the state's shape inside the Scan but not the
/// constant outside: the run then fails ("Clashing resolution for
/// expression"). States that are model inputs are left alone, so each
/// absent state of a top-level node becomes an extra model input, declared
/// at the end of the inputs; returns those inputs and the zeros to feed.
/// Nodes whose input shape is not static are left as they are.
fn absent_states_as_inputs(g: &mut GraphProto) -> Vec<(String, HostTensor)> {
    let mut feeds = Vec::new();
    for k in 0..g.node.len() {
        let n = &g.node[k];
        if !is_recurrent(n) {
            continue;
        }
        let slots = if n.op_type == "LSTM" { 5..7 } else { 5..6 };
        let absent: Vec<usize> = slots
            .filter(|&s| n.input.get(s).is_none_or(String::is_empty))
            .collect();
        let (Some((x, dtype)), Some(hidden)) = (
            n.input.first().and_then(|x| declared(g, x)),
            int_attr(n, "hidden_size").and_then(|h| usize::try_from(h).ok()),
        ) else {
            continue;
        };
        if absent.is_empty() || x.len() != 3 {
            continue;
        }
        let bidirectional = n
            .attribute
            .iter()
            .any(|a| a.name == "direction" && a.s == b"bidirectional");
        let dirs = if bidirectional { 2 } else { 1 };
        let shape = if int_attr(n, "layout") == Some(1) {
            vec![x[0], dirs, hidden]
        } else {
            vec![dirs, x[1], hidden]
        };
        for slot in absent {
            let name = format!("turnkey.tract.initial_state.{}", feeds.len());
            let n = &mut g.node[k];
            if n.input.len() <= slot {
                n.input.resize(slot + 1, String::new());
            }
            n.input[slot] = name.clone();
            g.input.push(value_info(&name, &shape, dtype));
            feeds.push((name, HostTensor::zeros(dtype, &shape)));
        }
    }
    feeds
}

fn value_info(name: &str, shape: &[usize], dtype: DType) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| Dimension {
            value: Some(dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: crate::onnx::dtype_to_onnx(dtype),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
