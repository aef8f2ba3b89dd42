//! turnkey: benchmark ML models written as Rhai scripts across runtimes.

pub mod bench;
pub mod graph;
pub mod onnx;
pub mod runtime;
