//! Comparisons and logical ops as named functions, with PyTorch's names:
//! eq ne gt ge lt le (the operators `== != > >= < <=` do the same) and
//! logical_and / logical_or / logical_xor / logical_not.

use super::super::model::rt_err;
use super::super::tensor::Tensor;
use super::Api;
use super::operators::binary;
use super::util::R;
use crate::graph::{DType, Op};
use crate::script::host::Host;
use rhai::NativeCallContext;

/// `x` as bool: non-zero is true (ONNX Cast), as torch.logical_* reads
/// its operands.
fn truth(h: &Host, x: Tensor) -> Result<Tensor, String> {
    if x.dtype() == DType::Bool {
        Ok(x)
    } else {
        h.apply(Op::Cast { to: DType::Bool }, &[x])
    }
}

pub fn register(api: &mut Api) {
    api.family("comparison");
    let cmp: [(&str, &str, &str, &str, Op); 6] = [
        ("eq", "a == b", "Equal", "torch.eq", Op::Equal),
        ("ne", "a != b", "Not(Equal)", "torch.ne", Op::NotEqual),
        ("gt", "a > b", "Greater", "torch.gt", Op::Greater),
        (
            "ge",
            "a >= b",
            "GreaterOrEqual",
            "torch.ge",
            Op::GreaterOrEqual,
        ),
        ("lt", "a < b", "Less", "torch.lt", Op::Less),
        ("le", "a <= b", "LessOrEqual", "torch.le", Op::LessOrEqual),
    ];
    for (name, what, onnx, torch, op) in cmp {
        api.doc(name)
            .about(&format!(
                "{what} elementwise with broadcasting, a bool tensor; either side may be a \
                 number (promoted as by the operators). Bool tensors compare with eq and ne only."
            ))
            .onnx(onnx)
            .torch(torch);
        let bools = matches!(op, Op::Equal | Op::NotEqual);
        binary(api, name, op, bools);
    }

    api.family("logical");
    for (name, onnx, op) in [
        ("logical_and", "And", Op::And),
        ("logical_or", "Or", Op::Or),
        ("logical_xor", "Xor", Op::Xor),
    ] {
        api.doc(name)
            .about(
                "Elementwise logical op with broadcasting, a bool tensor; other dtypes count \
                 non-zero as true, as in PyTorch.",
            )
            .onnx(&format!("{onnx} (Cast to bool for non-bool tensors)"))
            .torch(&format!("torch.{name}"));
        let h = api.host.clone();
        api.fun(
            name,
            ["a", "b"],
            move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
                let run = || h.apply(op.clone(), &[truth(&h, a)?, truth(&h, b)?]);
                run().map_err(|e| rt_err(&ctx, format!("{name}: {e}")))
            },
        );
    }
    api.doc("logical_not")
        .about("Elementwise not, a bool tensor; other dtypes count non-zero as true.")
        .onnx("Not (Cast to bool for non-bool tensors)")
        .torch("torch.logical_not");
    let h = api.host.clone();
    api.fun(
        "logical_not",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            let run = || h.apply(Op::Not, &[truth(&h, x)?]);
            run().map_err(|e| rt_err(&ctx, format!("logical_not: {e}")))
        },
    );
}
