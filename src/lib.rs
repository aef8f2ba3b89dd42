//! turnkey: benchmark ML models written as Rhai scripts across runtimes.

pub mod cache;
pub mod graph;
pub mod onnx;
pub mod report;
pub mod script;
