//! Matrix products and attention.

use super::super::model::{self, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, ap};
use crate::graph::Op;
use crate::script::host::Host;
use rhai::NativeCallContext;

pub fn register(api: &mut Api) {
    api.family("linalg");
    api.doc("matmul")
        .about("Matrix product with batch broadcasting (1-d operands as in numpy).")
        .onnx("MatMul")
        .torch("torch.matmul");
    let h = api.host.clone();
    api.fun(
        "matmul",
        ["a", "b"],
        move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::MatMul, &[a, b])
        },
    );
    api.doc("gemm")
        .about("a @ b (+ c) on 2-d operands.")
        .onnx("Gemm")
        .torch("torch.addmm(c, a, b)");
    let h = api.host.clone();
    api.fun(
        "gemm",
        ["a", "b"],
        move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::Gemm { trans_b: false }, &[a, b])
        },
    );
    let h = api.host.clone();
    api.fun(
        "gemm",
        ["a", "b", "c"],
        move |ctx: NativeCallContext, a: Tensor, b: Tensor, c: Tensor| -> R<Tensor> {
            ap(&ctx, &h, Op::Gemm { trans_b: false }, &[a, b, c])
        },
    );
    api.doc("linear")
        .about("x @ weight^T (+ bias), weight [out, in] as nn.Linear stores it.")
        .onnx("Transpose, MatMul, Add")
        .torch("F.linear(x, weight, bias)");
    let h = api.host.clone();
    api.fun(
        "linear",
        ["x", "weight"],
        move |ctx: NativeCallContext, x: Tensor, w: Tensor| -> R<Tensor> {
            linear_fn(&ctx, &h, x, w, None)
        },
    );
    let h = api.host.clone();
    api.fun(
        "linear",
        ["x", "weight", "bias"],
        move |ctx: NativeCallContext, x: Tensor, w: Tensor, b: Tensor| -> R<Tensor> {
            linear_fn(&ctx, &h, x, w, Some(b))
        },
    );

    api.family("attention");
    for name in ["attention", "scaled_dot_product_attention"] {
        api.doc(name)
            .about(
                "softmax(q @ k^T / sqrt(head_dim) (+ mask)) @ v over [..., seq, head_dim] \
                 tensors. A bool mask is true where attending is allowed (causal_mask(n)); \
                 a float mask is added to the scores.",
            )
            .onnx("Transpose, MatMul, Mul, (Where|Add), Softmax, MatMul")
            .torch("F.scaled_dot_product_attention(q, k, v, attn_mask)");
        let h = api.host.clone();
        api.fun(
            name,
            ["q", "k", "v"],
            move |ctx: NativeCallContext, q: Tensor, k: Tensor, v: Tensor| -> R<Tensor> {
                attention(&ctx, &h, q, k, v, None)
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["q", "k", "v", "mask"],
            move |ctx: NativeCallContext,
                  q: Tensor,
                  k: Tensor,
                  v: Tensor,
                  m: Tensor|
                  -> R<Tensor> { attention(&ctx, &h, q, k, v, Some(m)) },
        );
    }
}

fn linear_fn(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
) -> R<Tensor> {
    h.with_trace(|t| {
        let wt = t.apply(Op::Transpose { perm: vec![1, 0] }, &[w])?.remove(0);
        let y = t.apply(Op::MatMul, &[x, wt])?.remove(0);
        match b {
            Some(b) => Ok(t.apply(Op::Add, &[y, b])?.remove(0)),
            None => Ok(y),
        }
    })
    .map_err(|e| rt_err(ctx, format!("linear: {e}")))
}

fn attention(
    ctx: &NativeCallContext,
    h: &Host,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    m: Option<Tensor>,
) -> R<Tensor> {
    h.with_trace(|t| {
        let (q, k, v) = (t.value_of(&q)?, t.value_of(&k)?, t.value_of(&v)?);
        let m = match &m {
            Some(m) => Some(t.value_of(m)?),
            None => None,
        };
        let y = model::sdpa(t, q, k, v, m)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, format!("attention: {e}")))
}
