//! ONNX: the protobuf messages, export of the IR to a `ModelProto`, tensor
//! files (`.pb`) and reading the interface of ONNX files given as inputs.
//! Knows only `graph/`.

pub mod export;
pub mod feed;
pub mod flops;
pub mod import;
pub mod proto;
pub mod rewrite;
pub mod tensor_io;
pub mod value_io;

#[cfg(test)]
pub(crate) mod export_tests;
#[cfg(test)]
mod testutil;

use std::path::PathBuf;
use thiserror::Error;

pub use export::{
    ExportOptions, ExternalData, Written, data_file_name, export, export_model, export_to_file,
    ir_version_for_opset, supported_opsets,
};
pub use feed::{InputValue, parse_input_args, read_npy};
pub use import::{
    BindError, Bindings, BoundInput, Dim, IoInfo, ModelIo, OnnxFileInfo, axis_names, bind_inputs,
    check_feed, external_paths, infer_outputs, inspect, read_model_io, test_data_dir,
    test_data_inputs, unknown_axis_names, unknown_shape_names,
};
pub use tensor_io::{
    dtype_from_onnx, dtype_to_onnx, proto_to_tensor, read_tensor_pb, tensor_into_proto,
    tensor_to_proto, write_tensor_pb,
};
pub use value_io::{read_value_pb, read_values, write_value_pb, write_values};

/// Everything that can go wrong reading or writing ONNX. Messages name the
/// file (or the tensor/node) and say what to do.
#[derive(Debug, Error)]
pub enum OnnxError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not a valid ONNX {what} file (it may be truncated or in another format): {source}",
        path.display()
    )]
    Decode {
        path: PathBuf,
        what: &'static str,
        source: prost::DecodeError,
    },
    #[error("tensor '{name}': {msg}")]
    Tensor { name: String, msg: String },
    #[error("{}: {source}", path.display())]
    InFile {
        path: PathBuf,
        source: Box<OnnxError>,
    },
    #[error("{}: {msg}", path.display())]
    Model { path: PathBuf, msg: String },
    #[error(
        "ONNX opset {opset} is not supported: turnkey exports opsets {lo} to {hi}; choose one in that range"
    )]
    UnsupportedOpset { opset: i64, lo: i64, hi: i64 },
    #[error("cannot export node '{node}' ({op}) at opset {opset}: {msg}")]
    Export {
        node: String,
        op: &'static str,
        opset: i64,
        msg: String,
    },
    #[error("cannot export graph '{graph}': {msg}")]
    Graph { graph: String, msg: String },
}

impl OnnxError {
    /// Attaches the file a tensor-level error came from.
    pub(crate) fn in_file(self, path: &std::path::Path) -> OnnxError {
        OnnxError::InFile {
            path: path.to_path_buf(),
            source: Box::new(self),
        }
    }
}
