//! turnkey: benchmark ML models written as Rhai scripts across runtimes.

pub mod graph;
pub mod onnx;
