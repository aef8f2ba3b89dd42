//! Reductions over dims.

use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, ap, axes};
use crate::graph::Op;
use rhai::{Dynamic, NativeCallContext};

#[derive(Clone, Copy)]
enum Kind {
    Mean,
    Sum,
    Max,
}

fn reduce(
    ctx: &NativeCallContext,
    h: &crate::script::host::Host,
    kind: Kind,
    x: Tensor,
    a: &Dynamic,
    keepdims: bool,
) -> R<Tensor> {
    let axes = axes(ctx, a, x.rank())?;
    let op = match kind {
        Kind::Mean => Op::ReduceMean { axes, keepdims },
        Kind::Sum => Op::ReduceSum { axes, keepdims },
        Kind::Max => Op::ReduceMax { axes, keepdims },
    };
    ap(ctx, h, op, &[x])
}

pub fn register(api: &mut Api) {
    api.family("reductions");
    let all: [(&str, &str, &str, &str, Kind); 5] = [
        (
            "mean",
            "Mean over dim(s) (an int or an array); keepdim keeps them as size 1.",
            "ReduceMean",
            "torch.mean(x, dim, keepdim)",
            Kind::Mean,
        ),
        (
            "sum",
            "Sum over dim(s); keepdim keeps them as size 1.",
            "ReduceSum",
            "torch.sum(x, dim, keepdim)",
            Kind::Sum,
        ),
        (
            "reduce_mean",
            "Same as mean.",
            "ReduceMean",
            "torch.mean",
            Kind::Mean,
        ),
        (
            "reduce_sum",
            "Same as sum.",
            "ReduceSum",
            "torch.sum",
            Kind::Sum,
        ),
        (
            "reduce_max",
            "Maximum over dim(s) (values only; see amax, argmax).",
            "ReduceMax",
            "torch.amax",
            Kind::Max,
        ),
    ];
    for (name, about, onnx, torch, kind) in all {
        api.doc(name).about(about).onnx(onnx).torch(torch);
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim"],
            move |ctx: NativeCallContext, x: Tensor, a: Dynamic| -> R<Tensor> {
                reduce(&ctx, &h, kind, x, &a, false)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["x", "dim", "keepdim"],
            move |ctx: NativeCallContext, x: Tensor, a: Dynamic, k: bool| -> R<Tensor> {
                reduce(&ctx, &h, kind, x, &a, k)
            },
        );
    }
}
