//! turnkey: benchmark ML models written as Rhai scripts across runtimes.

pub mod bench;
pub mod cache;
pub mod cli;
pub mod corpus;
pub mod graph;
pub mod interrupt;
pub mod onnx;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod script;
pub mod slurm;
pub mod telemetry;
pub mod text;
