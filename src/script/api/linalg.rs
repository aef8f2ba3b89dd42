//! Matrix products, einsum and attention.

use super::super::host::Trace;
use super::super::model::{self, op1, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, ap, tensors};
use crate::graph::{Einsum, Op, TypeInfo, ValueId};
use crate::script::host::Host;
use rhai::{Array, ImmutableString, NativeCallContext};

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
    api.doc("einsum")
        .about(
            "Sums products of the tensors' elements over the subscripts the equation \
             contracts: \"bhqd,bhkd->bhqk\" (attention scores), \"bn,anm,bm->ba\" \
             (bilinear). Letters a-z, A-Z and ... (broadcast dims); without ->, the output is \
             ... then the letters used once, in alphabetical order.",
        )
        .onnx("Einsum (one operand without a repeated letter: ReduceSum, Transpose)")
        .torch("torch.einsum(equation, tensors)");
    let h = api.host.clone();
    api.fun(
        "einsum",
        ["equation", "tensors"],
        move |ctx: NativeCallContext, eq: ImmutableString, xs: Array| -> R<Tensor> {
            let e = Einsum::parse(&eq).map_err(|e| rt_err(&ctx, format!("einsum: {e}")))?;
            let ts = tensors(&ctx, &xs)?;
            h.with_trace(|t| einsum(t, &e, &ts))
                .map_err(|m| rt_err(&ctx, format!("einsum: {m}")))
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

/// One Einsum node, its ellipsis spelled out as unused letters (tract
/// mis-sizes an ellipsis of two or more dims): an operand whose ellipsis
/// dims broadcast from 1 is expanded first, since ONNX sizes a letter alike
/// in every operand.
fn einsum(t: &mut Trace, e: &Einsum, ts: &[Tensor]) -> Result<Tensor, String> {
    let mut ids = ts
        .iter()
        .map(|x| t.value_of(x))
        .collect::<Result<Vec<_>, _>>()?;
    let infos: Vec<TypeInfo> = ts.iter().map(Tensor::info).collect();
    if e.inputs.len() != ts.len() {
        return Err(format!(
            "the equation names {} operands, got {} tensors",
            e.inputs.len(),
            ts.len()
        ));
    }
    let refs: Vec<&TypeInfo> = infos.iter().collect();
    let ell = e.sizes(&refs)?.ellipsis;
    let used: Vec<char> = e.inputs.iter().flatten().flatten().copied().collect();
    let free: Vec<char> = ('a'..='z')
        .chain('A'..='Z')
        .filter(|c| !used.contains(c))
        .take(ell.len())
        .collect();
    if free.len() < ell.len() {
        return Err("too many subscripts to spell out the ellipsis (...)".into());
    }
    let mut spelled = Vec::with_capacity(ts.len());
    for (k, term) in e.inputs.iter().enumerate() {
        let named = term.iter().filter(|l| l.is_some()).count();
        let r = infos[k].rank() - named;
        let mut letters = String::new();
        let mut want = infos[k].shape.clone();
        let mut d = 0;
        for l in term {
            match l {
                Some(c) => {
                    letters.push(*c);
                    d += 1;
                }
                None => {
                    for j in 0..r {
                        letters.push(free[ell.len() - r + j]);
                        want[d + j] = ell[ell.len() - r + j];
                    }
                    d += r;
                }
            }
        }
        if want != infos[k].shape {
            ids[k] = op1(t, Op::Expand { shape: want }, &[ids[k]])?;
        }
        spelled.push(letters);
    }
    let out: String = e
        .output
        .iter()
        .flat_map(|l| match l {
            Some(c) => vec![*c],
            None => free.clone(),
        })
        .collect();
    if let [term] = spelled.as_slice()
        && let Some(y) = sum_and_permute(t, ids[0], term, &out)?
    {
        return Ok(t.tensor(y));
    }
    let equation = format!("{}->{out}", spelled.join(","));
    let y = op1(t, Op::Einsum { equation }, &ids)?;
    Ok(t.tensor(y))
}

/// A one-operand einsum without a repeated letter is a sum over the
/// letters the output drops, then a permutation: written so, since tract
/// returns the input unchanged for a full sum such as "ij->".
fn sum_and_permute(
    t: &mut Trace,
    x: ValueId,
    term: &str,
    out: &str,
) -> Result<Option<ValueId>, String> {
    let letters: Vec<char> = term.chars().collect();
    if (1..letters.len()).any(|i| letters[..i].contains(&letters[i])) {
        return Ok(None);
    }
    let axes: Vec<usize> = (0..letters.len())
        .filter(|&i| !out.contains(letters[i]))
        .collect();
    let mut y = x;
    if !axes.is_empty() {
        y = op1(
            t,
            Op::ReduceSum {
                axes,
                keepdims: false,
            },
            &[y],
        )?;
    }
    let kept: Vec<char> = letters.into_iter().filter(|c| out.contains(*c)).collect();
    let perm: Vec<usize> = out
        .chars()
        .map(|c| {
            kept.iter()
                .position(|&k| k == c)
                .expect("output letters are kept")
        })
        .collect();
    if perm.iter().enumerate().any(|(i, &p)| i != p) {
        y = op1(t, Op::Transpose { perm }, &[y])?;
    }
    Ok(Some(y))
}
