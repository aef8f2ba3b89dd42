//! Worker tasks that make precision variants (see `pipeline::variant`):
//! measuring activation ranges for int8-static calibration, and saving the
//! graph ONNX Runtime optimizes at a level. In a worker because both run a
//! native runtime on the model: a crash costs that variant, not the run.

use super::worker::{WorkerError, WorkerResult, WorkerSpec, read_inputs};
use crate::onnx::rewrite::calib::Ranges;
use crate::runtime::{self, GraphOptimization, RuntimeError, SessionOptions};
use std::path::{Path, PathBuf};

/// What [`calibrate`] writes into `outputs_dir`: tensor name → [min, max].
pub const RANGES_FILE: &str = "ranges.json";
/// What [`optimize`] writes into `outputs_dir`.
pub const OPTIMIZED_FILE: &str = "model.onnx";

fn out_dir(spec: &WorkerSpec) -> Result<&PathBuf, WorkerError> {
    let dir = spec.outputs_dir.as_ref().ok_or_else(|| WorkerError::Spec {
        path: spec.result_path.clone(),
        message: "this task needs outputs_dir".into(),
    })?;
    std::fs::create_dir_all(dir).map_err(|source| WorkerError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The `batch_<k>` folders below `dir`, in order.
pub fn batch_dirs(dir: &Path) -> Vec<PathBuf> {
    (0..)
        .map(|k| dir.join(format!("batch_{k}")))
        .take_while(|d| d.is_dir())
        .collect()
}

/// Runs `spec.onnx` (the model with the calibrated tensors as outputs) on
/// every batch under `spec.inputs_dir` and writes each float32 output's
/// (min, max) over all of them.
pub fn calibrate(spec: &WorkerSpec, result: &mut WorkerResult) -> Result<(), WorkerError> {
    let batches = batch_dirs(&spec.inputs_dir);
    let first = batches.first().ok_or_else(|| WorkerError::NoInputs {
        dir: spec.inputs_dir.join("batch_0"),
    })?;
    let rt = runtime::by_name(&spec.runtime)?;
    result.runtime_version = rt.version();
    let inputs = read_inputs(first)?;
    let opts = SessionOptions {
        threads: spec.threads,
        device: spec.device,
        input_shapes: inputs
            .iter()
            .filter_map(|(n, v)| v.as_tensor().map(|t| (n.clone(), t.dtype, t.shape.clone())))
            .collect(),
        ..Default::default()
    };
    let mut session = rt.load(&spec.onnx, &opts)?;
    let mut ranges = Ranges::default();
    for dir in &batches {
        session.set_values(&read_inputs(dir)?)?;
        session.run()?;
        for (name, t) in session.outputs()? {
            if let Some(v) = t
                .to_f32_vec()
                .filter(|_| t.dtype == crate::graph::DType::Float32)
            {
                ranges.observe(&name, &v);
            }
        }
    }
    result.iterations = batches.len() as u64;
    let dir = out_dir(spec)?;
    let json = serde_json::to_vec_pretty(&ranges.0).map_err(|e| WorkerError::Spec {
        path: dir.join(RANGES_FILE),
        message: e.to_string(),
    })?;
    super::worker::write_file(&dir.join(RANGES_FILE), &json)
}

/// Saves `spec.onnx` as ONNX Runtime optimizes it at `spec.graph_optimization`.
pub fn optimize(spec: &WorkerSpec, result: &mut WorkerResult) -> Result<(), WorkerError> {
    let level = spec.graph_optimization.unwrap_or(GraphOptimization::All);
    result.runtime_version = runtime::by_name("ort")?.version();
    let dir = out_dir(spec)?;
    let out = dir.join(OPTIMIZED_FILE);
    runtime::ort::optimize(&spec.onnx, &out, level, spec.threads)?;
    if !out.is_file() {
        return Err(RuntimeError::Load {
            runtime: "ort",
            model: spec.onnx.clone(),
            message: format!("ONNX Runtime saved no optimized model at {}", out.display()),
        }
        .into());
    }
    Ok(())
}
