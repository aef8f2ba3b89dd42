//! The command-line flags of input expansion (clap only), flattened into
//! the benchmark command.

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct CorpusArgs {
    /// Run every point of a sweep, each its own build: "batch_size=1,8,32 max_seq_length=128,512".
    /// Keys are script arguments for scripts and axis names for ONNX files.
    #[arg(long, value_name = "KEY=V1,V2 ...")]
    pub sweep: Vec<String>,

    /// Keep only inputs that carry, for every key given, one of its values: "task::vision,nlp author::me".
    #[arg(long = "labels", value_name = "KEY::V1,V2 ...")]
    pub labels: Vec<String>,

    /// Size of a dynamic axis of ONNX inputs, for every input using that axis name: batch_size=8.
    #[arg(long = "axis", value_name = "NAME=N")]
    pub axes: Vec<String>,

    /// Whole shape of an ONNX model input (wins over --axis): input_ids=1,128.
    #[arg(long = "shape", value_name = "INPUT=D1,D2,..")]
    pub shapes: Vec<String>,

    /// A value for an ONNX model input: a number (sr=16000), a comma list reshaped to the
    /// input's shape, or a .npy, .pb (TensorProto) or .bin (raw) file.
    #[arg(long = "input", id = "input_values", value_name = "NAME=VALUE")]
    pub input_values: Vec<String>,

    /// Labels for the inputs whose path matches a glob pattern: "models/*.onnx=task::vision author::me".
    #[arg(long = "labels-for", value_name = "PATTERN=LABELS")]
    pub labels_for: Vec<String>,

    /// Precisions, comma-separated: fp32, fp16, bf16, int8-dynamic, int8-static. Each but fp32
    /// is a variant build, made by a graph rewrite and checked against the fp32 build, which
    /// always runs (on ort-trt, fp16 also builds TensorRT fp16 engines).
    #[arg(long, value_name = "LIST")]
    pub precision: Option<String>,

    /// ONNX Runtime graph optimization levels to save variants at, comma-separated:
    /// default (none), disabled, basic, extended, all.
    #[arg(long = "ort-opt-level", value_name = "LIST")]
    pub ort_opt_level: Option<String>,
}
