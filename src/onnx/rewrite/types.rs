//! The element type of every tensor of a graph: from its inputs,
//! initializers and `value_info` where the file says, else inferred node by
//! node from the operator schemas (a type slot bound by an input, or the
//! one type a slot allows) and the ops whose output type an attribute
//! decides (Cast, Constant, ...). A tensor whose type cannot be known is
//! absent: the rewrites leave what touches it alone.

use super::schema;
use crate::onnx::proto::{
    AttributeProto, GraphProto, NodeProto, TypeProto, ValueInfoProto, data_type,
};
use std::collections::HashMap;

/// Tensor name → `TensorProto.DataType`.
pub(crate) type Types = HashMap<String, i32>;

/// The element type a `TypeProto` declares, for tensors.
pub(crate) fn declared(t: &Option<TypeProto>) -> Option<i32> {
    let tt = t.as_ref()?.tensor_type.as_ref()?;
    (tt.elem_type != data_type::UNDEFINED).then_some(tt.elem_type)
}

fn from_infos(infos: &[ValueInfoProto], out: &mut Types) {
    for vi in infos {
        if let Some(t) = declared(&vi.r#type) {
            out.insert(vi.name.clone(), t);
        }
    }
}

pub(crate) fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

/// The type `n` gives its output `k`, when the op (not its schema's
/// slots) decides it.
fn op_decided(n: &NodeProto, k: usize, ty: &dyn Fn(usize) -> Option<i32>) -> Option<Option<i32>> {
    let int_attr = |name: &str| attr(n, name).map(|a| a.i as i32).filter(|&t| t != 0);
    Some(match n.op_type.as_str() {
        "Cast" => int_attr("to"),
        "CastLike" => ty(1),
        "Constant" => {
            let a = n.attribute.first()?;
            match a.name.as_str() {
                "value" => a.t.as_ref().map(|t| t.data_type),
                "value_float" | "value_floats" => Some(data_type::FLOAT),
                "value_int" | "value_ints" => Some(data_type::INT64),
                "value_string" | "value_strings" => Some(data_type::STRING),
                _ => None,
            }
        }
        "ConstantOfShape" => Some(
            attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .map_or(data_type::FLOAT, |t| t.data_type),
        ),
        "EyeLike" | "RandomNormalLike" | "RandomUniformLike" | "Bernoulli" => {
            int_attr("dtype").or_else(|| ty(0))
        }
        "RandomNormal" | "RandomUniform" => Some(int_attr("dtype").unwrap_or(data_type::FLOAT)),
        "Multinomial" => Some(int_attr("dtype").unwrap_or(data_type::INT32)),
        "QuantizeLinear" if k == 0 => int_attr("output_dtype")
            .or_else(|| ty(2))
            .or(Some(data_type::UINT8)),
        "DequantizeLinear" if k == 0 => int_attr("output_dtype").or_else(|| ty(1)),
        _ => return None,
    })
}

/// Infers `n`'s output types into `types`.
fn infer_node(n: &NodeProto, opset: i64, types: &mut Types) {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return;
    }
    let input_type = |i: usize| -> Option<i32> {
        n.input
            .get(i)
            .filter(|s| !s.is_empty())
            .and_then(|s| types.get(s).copied())
    };
    let sch = schema::lookup(&n.op_type, opset);
    let mut found = Vec::with_capacity(n.output.len());
    for (k, out) in n.output.iter().enumerate() {
        if out.is_empty() || types.contains_key(out) {
            found.push(None);
            continue;
        }
        let t = match op_decided(n, k, &input_type) {
            Some(t) => t,
            None => sch.and_then(|s| {
                let slot = s.output_slot(k)?;
                s.single_type(slot).or_else(|| {
                    (0..n.input.len())
                        .filter(|&i| s.input_slot(i) == Some(slot))
                        .find_map(input_type)
                })
            }),
        };
        found.push(t);
    }
    for (out, t) in n.output.iter().zip(found) {
        if let Some(t) = t {
            types.insert(out.clone(), t);
        }
    }
}

/// The types of `g`'s tensors; `outer` holds those of enclosing graphs
/// (a subgraph may use their tensors by name).
pub(crate) fn infer(g: &GraphProto, opset: i64, outer: &Types) -> Types {
    let mut types = outer.clone();
    from_infos(&g.input, &mut types);
    for t in &g.initializer {
        types.insert(t.name.clone(), t.data_type);
    }
    from_infos(&g.value_info, &mut types);
    from_infos(&g.output, &mut types);
    for n in &g.node {
        infer_node(n, opset, &mut types);
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{TensorProto, TypeProtoTensor, attribute_type};

    fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        }
    }

    #[test]
    fn infers_through_slots_and_attributes() {
        let g = GraphProto {
            input: vec![ValueInfoProto {
                name: "x".into(),
                r#type: Some(TypeProto {
                    tensor_type: Some(TypeProtoTensor {
                        elem_type: data_type::FLOAT,
                        shape: None,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            initializer: vec![TensorProto {
                name: "w".into(),
                data_type: data_type::FLOAT,
                ..Default::default()
            }],
            node: vec![
                node("MatMul", &["x", "w"], &["m"], vec![]),
                node("Shape", &["m"], &["s"], vec![]),
                node(
                    "Cast",
                    &["m"],
                    &["h"],
                    vec![AttributeProto {
                        name: "to".into(),
                        r#type: attribute_type::INT,
                        i: data_type::FLOAT16 as i64,
                        ..Default::default()
                    }],
                ),
                node("Greater", &["m", "w"], &["b"], vec![]),
                node("ArgMax", &["m"], &["a"], vec![]),
                node("ConstantOfShape", &["s"], &["z"], vec![]),
                node("Custom", &["m"], &["u"], vec![]),
            ],
            ..Default::default()
        };
        let t = infer(&g, 17, &Types::new());
        assert_eq!(t["m"], data_type::FLOAT);
        assert_eq!(t["s"], data_type::INT64);
        assert_eq!(t["h"], data_type::FLOAT16);
        assert_eq!(t["b"], data_type::BOOL);
        assert_eq!(t["a"], data_type::INT64);
        assert_eq!(t["z"], data_type::FLOAT);
        assert!(!t.contains_key("u"));
    }
}
