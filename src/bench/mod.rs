//! Benchmarking: the worker process, the measuring loop, statistics and the
//! output check. Sees ONNX files and tensors through `runtime/`, never scripts.

pub mod accuracy;
pub mod compare;
pub mod peak;
pub mod stats;
pub mod timing;
pub mod variant_tasks;
pub mod worker;

pub use compare::{CheckResult, OutputCheck, compare};
pub use stats::{LatencyStats, Stability, stability, throughput};
pub use timing::{BenchOptions, Measurement, measure};
pub use worker::{
    WorkerOutcome, WorkerResult, WorkerSpec, WorkerStatus, spawn_worker, worker_command,
    worker_main,
};
