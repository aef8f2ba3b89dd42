//! Benchmarking: the worker process, the measuring loop, statistics and the
//! output check. Sees ONNX files and tensors through `runtime/`, never scripts.

pub mod accuracy;
pub mod compare;
pub mod generate;
pub mod host;
pub mod peak;
pub mod pin;
pub mod robust;
pub mod stats;
pub mod timing;
pub mod variant_tasks;
pub mod verdict;
pub mod worker;

pub use compare::{CheckResult, OutputCheck, compare};
pub use stats::{LatencyStats, Stability, throughput};
pub use timing::{BenchOptions, Measurement, measure};
pub use verdict::{Stop, judge};
pub use worker::{
    WorkerOutcome, WorkerResult, WorkerSpec, WorkerStatus, spawn_worker, worker_command,
    worker_main,
};
