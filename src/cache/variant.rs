//! What the record says about a precision variant: in the identity, what
//! makes the build a variant of another ([`VariantInfo`]); in each row,
//! its accuracy cost and speed against the fp32 build
//! ([`crate::bench::accuracy::Accuracy`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a variant build was made from the build it is a variant of.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantInfo {
    /// `fp32`, `fp16`, `bf16`, `int8-dynamic` or `int8-static`.
    pub precision: String,
    /// The ONNX Runtime graph optimization level the saved model was
    /// optimized at (`--ort-opt-level`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ort_opt_level: Option<String>,
    /// fp16/bf16: the model's inputs and outputs are in that precision too
    /// (`--low-precision-io`), not float32 with casts at the edges.
    pub low_precision_io: bool,
    /// int8-static: how the activation ranges were measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Nodes per op type that compute in the new precision (or were quantized).
    pub converted: BTreeMap<String, usize>,
    /// Nodes per op type left in float32 (between casts), and why in `notes`.
    pub kept_float32: BTreeMap<String, usize>,
    pub notes: Vec<String>,
}

impl VariantInfo {
    /// `fp16`, `int8-static`, `fp32+ort-basic`: how reports name the variant.
    pub fn label(&self) -> String {
        match &self.ort_opt_level {
            Some(l) => format!("{}+ort-{l}", self.precision),
            None => self.precision.clone(),
        }
    }
}

/// int8-static's calibration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calibration {
    /// Batches run.
    pub batches: u64,
    /// Where they came from: `inputs` (the build's own), `test_data_set_1`,
    /// ..., `random (seed k)`, one entry per batch.
    pub sources: Vec<String>,
    /// The runtime that ran them.
    pub runtime: String,
    /// Tensors whose range was measured.
    pub tensors: u64,
}
