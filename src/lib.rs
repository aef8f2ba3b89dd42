//! turnkey: benchmark ML models written as Rhai scripts across runtimes.

// Terminal output that survives a closed pipe (`turnkey ... | head`): see
// `progress::out_text`. Defined before the modules so that all can use them.
macro_rules! outln {
    ($($t:tt)*) => { $crate::progress::out_line(&format!($($t)*)) };
}
macro_rules! errln {
    ($($t:tt)*) => { $crate::progress::err_line(&format!($($t)*)) };
}

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
