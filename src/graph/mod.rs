//! The IR: tensors, ops, shape inference, FLOP counting. Imports nothing
//! else of ours, so every later stage can depend on it.

pub mod dtype;
pub mod float8;
pub mod ir;
pub mod ops;
pub mod random;
pub mod tensor;
pub mod value;
pub mod weights;

pub use dtype::{DType, shape_str};
pub use ir::{Graph, GraphStats, Init, Node, Param, Source, Value, ValueId};
pub use ops::{
    Einsum, Family, GraphError, InterpMode, Op, PadMode, ResizeMode, Rnn, RnnMode, TypeInfo,
};
pub use tensor::HostTensor;
pub use value::{HostValue, ValueType, flatten_all};
pub use weights::{FileSlice, WeightsInfo};
