//! The interface of an ONNX file given as input: its inputs, outputs,
//! opset, IR version and producer. Only that is decoded: nodes and weight
//! data are skipped, not copied.

use super::OnnxError;
use super::proto::{DimValue, OperatorSetIdProto, ValueInfoProto};
use super::tensor_io::dtype_from_onnx;
use crate::graph::DType;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// The interface of a model file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIo {
    /// The graph inputs that are fed at run time (initializers excluded).
    pub inputs: Vec<IoInfo>,
    pub outputs: Vec<IoInfo>,
    /// The version of the default (`ai.onnx`) operator set.
    pub opset: i64,
    pub ir_version: i64,
    /// `producer_name producer_version`, e.g. `pytorch 2.11.0`; may be empty.
    pub producer: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoInfo {
    pub name: String,
    /// `None` when the element type is one turnkey has no dtype for, or the
    /// value is not a tensor (a sequence, a map, ...).
    pub dtype: Option<DType>,
    /// One entry per axis; empty for a scalar or when the rank is unknown.
    pub dims: Vec<Dim>,
    /// False when the file gives no shape at all (not even a rank).
    pub rank_known: bool,
}

/// One axis of an input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    Fixed(usize),
    /// A symbolic size such as `batch_size`, chosen at run time.
    Named(String),
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

impl IoInfo {
    /// The shape when every axis has a fixed size.
    pub fn fixed_shape(&self) -> Option<Vec<usize>> {
        if !self.rank_known {
            return None;
        }
        self.dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    /// The shape as users write it: `[batch, 3, 224, 224]`, `[?]` for an
    /// unknown rank.
    pub fn shape_string(&self) -> String {
        if !self.rank_known {
            return "[?]".to_string();
        }
        let dims: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(", "))
    }
}

// Decode-only views of ModelProto/GraphProto/TensorProto: the fields not
// listed (nodes, raw_data, ...) are skipped by prost without being copied.

#[derive(Clone, PartialEq, prost::Message)]
struct ModelHead {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GraphHead {
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorName>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorName {
    #[prost(string, tag = "8")]
    name: String,
}

fn io_info(v: &ValueInfoProto) -> IoInfo {
    let tensor = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
    let shape = tensor.and_then(|t| t.shape.as_ref());
    let dims = shape
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as usize),
                    Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
                    _ => Dim::Unknown,
                })
                .collect()
        })
        .unwrap_or_default();
    IoInfo {
        name: v.name.clone(),
        dtype: tensor.and_then(|t| dtype_from_onnx(t.elem_type)),
        dims,
        rank_known: shape.is_some(),
    }
}

/// Reads the interface of the ONNX model at `path`.
pub fn read_model_io(path: &Path) -> Result<ModelIo, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    model_io_from_bytes(&bytes).map_err(|e| match e {
        IoError::Decode(source) => OnnxError::Decode {
            path: path.to_path_buf(),
            what: "model",
            source,
        },
        IoError::Invalid(msg) => OnnxError::Model {
            path: path.to_path_buf(),
            msg,
        },
    })
}

enum IoError {
    Decode(prost::DecodeError),
    Invalid(String),
}

fn model_io_from_bytes(bytes: &[u8]) -> Result<ModelIo, IoError> {
    let head = ModelHead::decode(bytes).map_err(IoError::Decode)?;
    // Protobuf decodes many non-ONNX byte strings (an empty file, most
    // text) as a message with nothing set: demand what every model has.
    let not_onnx = |what: &str| {
        IoError::Invalid(format!(
            "not an ONNX model ({what}); check that the file is a complete .onnx export"
        ))
    };
    if head.ir_version <= 0 {
        return Err(not_onnx("it has no IR version"));
    }
    let graph = head.graph.ok_or_else(|| not_onnx("it has no graph"))?;
    let opset = head
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| {
            IoError::Invalid(
                "the model imports no default (ai.onnx) operator set; turnkey runs models \
                 built on the standard ONNX operators"
                    .into(),
            )
        })?;
    if graph.output.is_empty() {
        return Err(not_onnx("its graph has no outputs"));
    }
    // Before IR 4, initializers were also listed as inputs.
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !inits.contains(v.name.as_str()))
        .map(io_info)
        .collect();
    let producer = format!("{} {}", head.producer_name, head.producer_version)
        .trim()
        .to_string();
    Ok(ModelIo {
        inputs,
        outputs: graph.output.iter().map(io_info).collect(),
        opset,
        ir_version: head.ir_version,
        producer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, Init, Op, Param, TypeInfo};
    use crate::onnx::export::{ExportOptions, export};
    use crate::onnx::proto::{
        GraphProto, ModelProto, TensorShapeDimension, TensorShapeProto, TypeProto, TypeProtoTensor,
        data_type,
    };
    use crate::onnx::tensor_io::tensor_to_proto;
    use crate::onnx::testutil::run_python;

    fn exported() -> Vec<u8> {
        let mut g = Graph::new("Io");
        let x = g.add_input("x", TypeInfo::new(vec![2, 4], DType::Float32));
        let ids = g.add_input("ids", TypeInfo::new(vec![3], DType::Int64));
        let w = g.add_param(Param {
            name: "w".into(),
            info: TypeInfo::new(vec![4, 4], DType::Float32),
            init: Init::Constant(1.0),
            trainable: true,
        });
        let y = g.add_node(Op::MatMul, &[x, w], "").unwrap()[0];
        let z = g.add_node(Op::Gather { axis: 0 }, &[w, ids], "").unwrap()[0];
        g.add_output("y", y);
        g.add_output("z", z);
        export(&g, &ExportOptions::default()).unwrap()
    }

    fn vi(name: &str, elem: i32, dims: Option<Vec<Option<DimValue>>>) -> ValueInfoProto {
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TypeProtoTensor {
                    elem_type: elem,
                    shape: dims.map(|d| TensorShapeProto {
                        dim: d
                            .into_iter()
                            .map(|value| TensorShapeDimension {
                                value,
                                ..Default::default()
                            })
                            .collect(),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn reads_the_interface_of_an_exported_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        std::fs::write(&path, exported()).unwrap();
        let io = read_model_io(&path).unwrap();
        assert_eq!((io.opset, io.ir_version), (17, 8));
        assert_eq!(
            io.producer,
            format!("turnkey {}", env!("CARGO_PKG_VERSION"))
        );
        let ins: Vec<(&str, Option<DType>, String)> = io
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.dtype, i.shape_string()))
            .collect();
        assert_eq!(
            ins,
            [
                ("x", Some(DType::Float32), "[2, 4]".to_string()),
                ("ids", Some(DType::Int64), "[3]".to_string())
            ]
        );
        assert_eq!(io.outputs[1].name, "z");
        assert_eq!(io.outputs[1].fixed_shape(), Some(vec![3, 4]));
    }

    #[test]
    fn symbolic_dims_old_style_inputs_and_foreign_types() {
        let w = tensor_to_proto("w", &crate::graph::HostTensor::zeros(DType::Float32, &[4]));
        let m = ModelProto {
            ir_version: 3,
            opset_import: vec![
                OperatorSetIdProto {
                    domain: "com.microsoft".into(),
                    version: 1,
                },
                OperatorSetIdProto {
                    domain: "ai.onnx".into(),
                    version: 9,
                },
            ],
            producer_name: "pytorch".into(),
            graph: Some(GraphProto {
                initializer: vec![w],
                input: vec![
                    vi(
                        "x",
                        data_type::FLOAT16,
                        Some(vec![
                            Some(DimValue::DimParam("batch".into())),
                            None,
                            Some(DimValue::DimValue(3)),
                        ]),
                    ),
                    // IR 3: the initializer is an input too; not fed.
                    vi(
                        "w",
                        data_type::FLOAT,
                        Some(vec![Some(DimValue::DimValue(4))]),
                    ),
                    vi("s", data_type::STRING, None),
                ],
                output: vec![vi("y", data_type::FLOAT, Some(vec![]))],
                ..Default::default()
            }),
            ..Default::default()
        };
        let io = model_io_from_bytes(&m.encode_to_vec()).ok().unwrap();
        assert_eq!((io.opset, io.ir_version), (9, 3));
        assert_eq!(io.producer, "pytorch");
        assert_eq!(io.inputs.len(), 2);
        let x = &io.inputs[0];
        assert_eq!(x.dtype, Some(DType::Float16));
        assert_eq!(
            x.dims,
            [Dim::Named("batch".into()), Dim::Unknown, Dim::Fixed(3)]
        );
        assert_eq!(x.shape_string(), "[batch, ?, 3]");
        assert_eq!(x.fixed_shape(), None);
        let s = &io.inputs[1];
        assert_eq!(
            (s.dtype, s.rank_known, s.shape_string()),
            (None, false, "[?]".into())
        );
        let y = &io.outputs[0];
        assert_eq!((y.rank_known, y.fixed_shape()), (true, Some(vec![])));
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let model = exported();
        let cases: [(&str, Vec<u8>, &str); 5] = [
            (
                "truncated.onnx",
                model[..model.len() / 2].to_vec(),
                "not a valid ONNX model",
            ),
            ("empty.onnx", Vec::new(), "not an ONNX model"),
            (
                "text.onnx",
                b"hello, this is not a model\n".to_vec(),
                "ONNX model",
            ),
            ("garbage.onnx", vec![0xff; 64], "not a valid ONNX model"),
            (
                "noopset.onnx",
                ModelProto {
                    ir_version: 8,
                    graph: Some(GraphProto {
                        output: vec![vi("y", data_type::FLOAT, None)],
                        ..Default::default()
                    }),
                    ..Default::default()
                }
                .encode_to_vec(),
                "no default (ai.onnx) operator set",
            ),
        ];
        for (name, bytes, want) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let e = read_model_io(&path).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(want), "{name}: {e}");
        }
        let e = read_model_io(&dir.path().join("missing.onnx"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing.onnx") && e.contains("cannot read"),
            "{e}"
        );
    }

    /// A model written by the onnx package itself, with a symbolic batch.
    #[test]
    fn reads_a_model_written_by_the_onnx_package() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("py.onnx");
        run_python(
            r#"
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, None])
y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, None])
w = numpy_helper.from_array(np.ones((1,), np.float32), "w")
g = helper.make_graph([helper.make_node("Mul", ["input", "w"], ["logits"])], "g", [x], [y], [w])
m = helper.make_model(g, producer_name="onnx-test", opset_imports=[helper.make_opsetid("", 18)])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
"#,
            &[&path],
        );
        let io = read_model_io(&path).unwrap();
        assert_eq!(io.opset, 18);
        assert_eq!(io.producer, "onnx-test");
        assert_eq!(io.inputs.len(), 1);
        assert_eq!(io.inputs[0].name, "input");
        assert_eq!(io.inputs[0].shape_string(), "[batch, 3, ?]");
        assert_eq!(io.outputs[0].name, "logits");
    }
}
