//! Numbers of an ONNX build that need the shapes of its values: FLOPs per
//! node (`onnx::flops`) and the size of its outputs (`--max-memory`). The
//! shapes come from tract's analysis, run in a worker process (it folds
//! constants, so its memory use follows the model, not our checks).

use super::RunOptions;
use crate::bench::worker::{
    SHAPES_FILE, WorkerOutcome, WorkerSpec, WorkerStatus, WorkerTask, spawn_worker, worker_command,
};
use crate::graph::HostValue;
use crate::onnx::OnnxFileInfo;
use crate::onnx::flops::FlopCount;
use crate::script::host::human_bytes;
use std::collections::BTreeMap;
use std::path::Path;

/// What the analysis of a stored build found.
pub(super) struct Analysis {
    /// `None` with the reason when tract's analysis could not run.
    pub flops: Result<FlopCount, String>,
}

/// The shapes of the values of `dir/model.onnx` fed `dir/inputs`.
fn value_shapes(opts: &RunOptions, dir: &Path) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let log = dir.join("log");
    let out = log.join("shapes");
    let _ = std::fs::create_dir_all(&log);
    let spec = WorkerSpec {
        onnx: dir.join("model.onnx"),
        inputs_dir: dir.join("inputs"),
        runtime: "tract".into(),
        device: Default::default(),
        threads: 1,
        precision: Default::default(),
        bench: Default::default(),
        batch_size: 1,
        outputs_dir: Some(out.clone()),
        samples_path: None,
        result_path: log.join("shapes.result.json"),
        pin: None,
        task: WorkerTask::Shapes,
        graph_optimization: None,
        generation: None,
    };
    let spec_path = log.join("shapes.spec.json");
    spec.write(&spec_path).map_err(|e| e.to_string())?;
    match spawn_worker(
        worker_command(&opts.worker_exe, &spec_path),
        &spec,
        opts.timeout,
    ) {
        WorkerOutcome::Finished(r) if r.status == WorkerStatus::Successful => {
            let bytes = std::fs::read(out.join(SHAPES_FILE)).map_err(|e| e.to_string())?;
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        }
        WorkerOutcome::Finished(r) => Err(r.error.unwrap_or_default()),
        WorkerOutcome::Crashed { stderr_tail, .. } => Err(format!(
            "the shape analysis stopped: {}",
            stderr_tail.lines().last().unwrap_or("").trim()
        )),
        WorkerOutcome::Timeout { .. } => Err("the shape analysis ran past --timeout".into()),
        WorkerOutcome::Interrupted { .. } => Err("interrupted".into()),
        WorkerOutcome::Failed(e) => Err(e),
    }
}

/// Analyses a stored build. Errors (the export stage's): outputs that
/// would not fit in `--max-memory` beside the inputs.
pub(super) fn analyse(
    opts: &RunOptions,
    dir: &Path,
    info: &OnnxFileInfo,
    feed: &[(String, HostValue)],
) -> Result<Analysis, String> {
    let shapes = match value_shapes(opts, dir) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Analysis {
                flops: Err(crate::text::one_line(&e).into_owned()),
            });
        }
    };
    let max = opts
        .max_memory
        .unwrap_or_else(crate::script::host::default_max_memory);
    let inputs: u64 = feed
        .iter()
        .flat_map(|(_, v)| v.tensors())
        .map(|t| t.data.len() as u64)
        .sum();
    let mut outputs = 0u64;
    for o in &info.io.outputs {
        if let (Some(shape), Some(d)) = (shapes.get(&o.name), o.dtype) {
            let n = shape.iter().map(|&d| d as u64).product::<u64>();
            outputs = outputs.saturating_add(n.saturating_mul(d.bits() as u64).div_ceil(8));
        }
    }
    if inputs.saturating_add(outputs) > max {
        return Err(format!(
            "the outputs would take {} beside {} of inputs, over the --max-memory limit of {}: \
             use smaller shapes (--shape, --axis) or raise --max-memory",
            human_bytes(outputs),
            human_bytes(inputs),
            human_bytes(max)
        ));
    }
    let flops =
        crate::onnx::flops::count(&dir.join("model.onnx"), &shapes).map_err(|e| e.to_string());
    Ok(Analysis { flops })
}
