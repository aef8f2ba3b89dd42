//! Calibration for int8-static: which activations need a range (each
//! quantizable node's input and output), and the model that shows them
//! (those tensors added as outputs). The caller runs it on its batches
//! and hands the ranges to [`super::quant::static_qdq`].

use super::types::{self, Types};
use super::{RewriteError, default_opset, err};
use crate::onnx::proto::{
    ModelProto, TypeProto, TypeProtoTensor, ValueInfoProto, data_type::FLOAT,
};
use std::collections::{BTreeMap, BTreeSet};

/// The tensors whose (min, max) int8-static needs, in graph order.
pub fn targets(m: &ModelProto) -> Result<Vec<String>, RewriteError> {
    let Some(opset) = default_opset(m) else {
        return err("the model imports no version of the default ONNX operator set");
    };
    let Some(g) = m.graph.as_ref() else {
        return err("the model has no graph");
    };
    // The ranges are those of the model static_qdq quantizes: batch
    // normalizations folded first.
    let mut g = g.clone();
    super::fold::fold_batch_norms(&mut g);
    let types = types::infer(&g, opset, &Types::new());
    Ok(super::qdq::range_targets(&g, &types))
}

/// `m` with `names` among its outputs (float32 tensors of unknown shape).
pub fn with_outputs(m: &ModelProto, names: &[String]) -> ModelProto {
    let mut m = m.clone();
    if let Some(g) = m.graph.as_mut() {
        let have: BTreeSet<String> = g.output.iter().map(|o| o.name.clone()).collect();
        for n in names.iter().filter(|n| !have.contains(*n)) {
            g.output.push(ValueInfoProto {
                name: n.clone(),
                r#type: Some(TypeProto {
                    tensor_type: Some(TypeProtoTensor {
                        elem_type: FLOAT,
                        shape: None,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    m
}

/// Running (min, max) per tensor over the calibration batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranges(pub BTreeMap<String, (f32, f32)>);

impl Ranges {
    /// Widens the range of `name` to take in `values`; NaNs are skipped,
    /// infinities kept (they make the range unusable, which the quantizer
    /// says).
    pub fn observe(&mut self, name: &str, values: &[f32]) {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values.iter().filter(|v| !v.is_nan()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return;
        }
        let e = self.0.entry(name.to_string()).or_insert((lo, hi));
        e.0 = e.0.min(lo);
        e.1 = e.1.max(hi);
    }
}
