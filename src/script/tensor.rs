//! The `Tensor` type scripts see: concrete (made at top level, or returned
//! by a model call) or traced (a value inside a forward being recorded).

use crate::graph::{DType, HostTensor, TypeInfo, ValueId};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum TensorKind {
    Concrete(Arc<HostTensor>),
    Traced {
        trace: u64,
        value: ValueId,
        info: TypeInfo,
    },
}

#[derive(Clone, Debug)]
pub struct Tensor(pub TensorKind);

impl Tensor {
    pub fn concrete(t: HostTensor) -> Self {
        Tensor(TensorKind::Concrete(Arc::new(t)))
    }

    pub fn traced(trace: u64, value: ValueId, info: TypeInfo) -> Self {
        Tensor(TensorKind::Traced { trace, value, info })
    }

    pub fn shape(&self) -> &[usize] {
        match &self.0 {
            TensorKind::Concrete(t) => &t.shape,
            TensorKind::Traced { info, .. } => &info.shape,
        }
    }

    pub fn dtype(&self) -> DType {
        match &self.0 {
            TensorKind::Concrete(t) => t.dtype,
            TensorKind::Traced { info, .. } => info.dtype,
        }
    }

    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    pub fn info(&self) -> TypeInfo {
        TypeInfo::new(self.shape().to_vec(), self.dtype())
    }

    pub fn describe(&self) -> String {
        let kind = match &self.0 {
            TensorKind::Concrete(t) => format!(" {}", t.preview(6)),
            TensorKind::Traced { .. } => " (traced)".to_string(),
        };
        format!(
            "Tensor({}, {}){kind}",
            crate::graph::shape_str(self.shape()),
            self.dtype()
        )
    }
}
