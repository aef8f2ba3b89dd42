//! Rhai's operators on tensors: arithmetic with broadcasting and scalars
//! on either side.

use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, ap, scalar_like};
use crate::graph::Op;
use rhai::NativeCallContext;

/// Registers `name` over (Tensor, Tensor), (Tensor, number) and
/// (number, Tensor), the scalar taking the tensor's dtype.
pub fn binary(api: &mut Api, name: &str, op: Op) {
    let (h, o) = (api.host.clone(), op.clone());
    api.fun(
        name,
        ["a", "b"],
        move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
            ap(&ctx, &h, o.clone(), &[a, b])
        },
    );
    let (h, o) = (api.host.clone(), op.clone());
    api.fun(
        name,
        ["a", "b"],
        move |ctx: NativeCallContext, a: Tensor, b: f64| -> R<Tensor> {
            let s = scalar_like(&a, b);
            ap(&ctx, &h, o.clone(), &[a, s])
        },
    );
    let (h, o) = (api.host.clone(), op.clone());
    api.fun(
        name,
        ["a", "b"],
        move |ctx: NativeCallContext, a: Tensor, b: i64| -> R<Tensor> {
            let s = scalar_like(&a, b as f64);
            ap(&ctx, &h, o.clone(), &[a, s])
        },
    );
    let (h, o) = (api.host.clone(), op.clone());
    api.fun(
        name,
        ["a", "b"],
        move |ctx: NativeCallContext, a: f64, b: Tensor| -> R<Tensor> {
            let s = scalar_like(&b, a);
            ap(&ctx, &h, o.clone(), &[s, b])
        },
    );
    let (h, o) = (api.host.clone(), op);
    api.fun(
        name,
        ["a", "b"],
        move |ctx: NativeCallContext, a: i64, b: Tensor| -> R<Tensor> {
            let s = scalar_like(&b, a as f64);
            ap(&ctx, &h, o.clone(), &[s, b])
        },
    );
}

pub fn register(api: &mut Api) {
    api.family("operators");
    let arith: [(&str, &str, &str, &str, Op); 5] = [
        (
            "+",
            "Addition with broadcasting; a number takes the tensor's dtype.",
            "Add",
            "a + b",
            Op::Add,
        ),
        (
            "-",
            "Subtraction with broadcasting; `-x` negates.",
            "Sub (Neg)",
            "a - b",
            Op::Sub,
        ),
        (
            "*",
            "Multiplication with broadcasting.",
            "Mul",
            "a * b",
            Op::Mul,
        ),
        (
            "/",
            "Division with broadcasting (integer tensors divide as integers).",
            "Div",
            "a / b",
            Op::Div,
        ),
        ("**", "Power with broadcasting.", "Pow", "a ** b", Op::Pow),
    ];
    for (sym, about, onnx, torch, op) in arith {
        api.doc(sym).about(about).onnx(onnx).torch(torch);
        binary(api, sym, op);
    }
    let h = api.host.clone();
    api.fun(
        "-",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> { ap(&ctx, &h, Op::Neg, &[x]) },
    );
}
