//! Rhai's operators on tensors, and on nothing else: arithmetic and
//! comparisons with broadcasting and PyTorch's promotion of number
//! operands; logical operators on bool tensors; and, for every other pairing
//! of a Tensor or Model with a value, an error that says what to write
//! instead. Rhai's own fallback would otherwise answer `tensor > 0.0` with a
//! silent `false` (its rule for operands of different types).

use super::super::model::{Model, rt_err};
use super::super::onnx_model::OnnxModel;
use super::super::tensor::Tensor;
use super::Api;
use super::util::R;
use crate::graph::{DType, HostTensor, Op};
use crate::script::host::Host;
use rhai::{Array, FnPtr, ImmutableString, Map, NativeCallContext, Variant};

/// A number operand of a tensor op.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Num {
    fn value(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
            Num::Bool(b) => f64::from(u8::from(b)),
        }
    }
}

/// The tensor (cast where PyTorch would promote it) and a 0-d tensor for
/// the number: a float number with an integer or bool tensor computes in
/// float32, an int with a bool tensor in int64; otherwise the number takes
/// the tensor's dtype.
pub fn promote(h: &Host, t: Tensor, n: Num) -> Result<(Tensor, Tensor), String> {
    let d = t.dtype();
    let to = match (n, d) {
        (Num::Float(_), d) if !d.is_float() => Some(DType::Float32),
        (Num::Int(_), DType::Bool) => Some(DType::Int64),
        _ => None,
    };
    let t = match to {
        Some(to) => h.apply(Op::Cast { to }, &[t])?,
        None => t,
    };
    let s = Tensor::concrete(HostTensor::full(t.dtype(), &[], n.value()));
    Ok((t, s))
}

/// Applies a binary op as PyTorch would: true division on integers, and
/// number operands promoted by [`promote`].
pub fn apply_binary(h: &Host, op: &Op, a: Operand, b: Operand) -> Result<Tensor, String> {
    let (a, b) = match (a, b) {
        (Operand::T(a), Operand::T(b)) => (a, b),
        (Operand::T(a), Operand::N(n)) => promote(h, a, n)?,
        (Operand::N(n), Operand::T(b)) => {
            let (b, s) = promote(h, b, n)?;
            (s, b)
        }
        (Operand::N(_), Operand::N(_)) => unreachable!("one operand is a tensor"),
    };
    let (a, b) = if matches!(op, Op::Div) && !a.dtype().is_float() && !b.dtype().is_float() {
        // PyTorch's `/` is true division: integers divide as floats.
        let f = |t: Tensor| h.apply(Op::Cast { to: DType::Float32 }, &[t]);
        (f(a)?, f(b)?)
    } else {
        (a, b)
    };
    h.apply(op.clone(), &[a, b])
}

/// One side of a binary op.
pub enum Operand {
    T(Tensor),
    N(Num),
}

/// Registers `name` over (Tensor, Tensor), (Tensor, int|float) and
/// (int|float, Tensor); with `bools`, (Tensor, bool) and (bool, Tensor) too.
pub fn binary(api: &mut Api, name: &str, op: Op, bools: bool) {
    macro_rules! reg {
        ($a:ty, $b:ty, $wa:expr, $wb:expr) => {{
            let (h, o) = (api.host.clone(), op.clone());
            api.fun(
                name,
                ["a", "b"],
                move |ctx: NativeCallContext, a: $a, b: $b| -> R<Tensor> {
                    apply_binary(&h, &o, $wa(a), $wb(b)).map_err(|e| rt_err(&ctx, e))
                },
            );
        }};
    }
    let t = Operand::T;
    let int = |v: i64| Operand::N(Num::Int(v));
    let float = |v: f64| Operand::N(Num::Float(v));
    let boolean = |v: bool| Operand::N(Num::Bool(v));
    reg!(Tensor, Tensor, t, t);
    reg!(Tensor, i64, t, int);
    reg!(Tensor, f64, t, float);
    reg!(i64, Tensor, int, t);
    reg!(f64, Tensor, float, t);
    if bools {
        reg!(Tensor, bool, t, boolean);
        reg!(bool, Tensor, boolean, t);
    }
}

/// Every binary operator Rhai has.
const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "&", "|", "^", "<<", ">>",
];

pub fn register(api: &mut Api) {
    api.family("operators");
    let arith: [(&str, &str, &str, &str, Op); 5] = [
        (
            "+",
            "Addition with broadcasting. A number operand takes the tensor's dtype; a float \
             number with an integer tensor computes in float32 (PyTorch's promotion).",
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
            "True division with broadcasting: integer tensors divide as float32, as in PyTorch.",
            "Div",
            "a / b",
            Op::Div,
        ),
        ("**", "Power with broadcasting.", "Pow", "a ** b", Op::Pow),
    ];
    for (sym, about, onnx, torch, op) in arith {
        api.doc(sym).about(about).onnx(onnx).torch(torch);
        binary(api, sym, op, false);
    }
    let cmp: [(&str, &str, &str, Op); 6] = [
        ("==", "Equal", "a == b", Op::Equal),
        ("!=", "Not(Equal)", "a != b", Op::NotEqual),
        ("<", "Less", "a < b", Op::Less),
        ("<=", "LessOrEqual", "a <= b", Op::LessOrEqual),
        (">", "Greater", "a > b", Op::Greater),
        (">=", "GreaterOrEqual", "a >= b", Op::GreaterOrEqual),
    ];
    for (sym, onnx, torch, op) in cmp {
        api.doc(sym)
            .about(
                "Elementwise comparison with broadcasting: a bool tensor (use it with where(...), \
                 never as a script `if`). Bool tensors compare with == and != only.",
            )
            .onnx(onnx)
            .torch(torch);
        let bools = matches!(op, Op::Equal | Op::NotEqual);
        binary(api, sym, op, bools);
    }
    let logic: [(&str, &str, &str, Op); 3] = [
        ("&", "And", "a & b", Op::And),
        ("|", "Or", "a | b", Op::Or),
        ("^", "Xor", "a ^ b", Op::Xor),
    ];
    for (sym, onnx, torch, op) in logic {
        api.doc(sym)
            .about("Elementwise logical op on bool tensors (or a tensor and a bool).")
            .onnx(onnx)
            .torch(torch);
        let (h, o) = (api.host.clone(), op.clone());
        api.fun(
            sym,
            ["a", "b"],
            move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
                h.apply(o.clone(), &[a, b]).map_err(|e| rt_err(&ctx, e))
            },
        );
        for flip in [false, true] {
            let (h, o) = (api.host.clone(), op.clone());
            let f = move |ctx: NativeCallContext, a: Tensor, b: bool| -> R<Tensor> {
                let s =
                    Tensor::concrete(HostTensor::full(DType::Bool, &[], f64::from(u8::from(b))));
                h.apply(o.clone(), &[a, s]).map_err(|e| rt_err(&ctx, e))
            };
            if flip {
                api.fun(
                    sym,
                    ["a", "b"],
                    move |ctx: NativeCallContext, b: bool, a: Tensor| f(ctx, a, b),
                );
            } else {
                api.fun(sym, ["a", "b"], f);
            }
        }
    }
    let h = api.host.clone();
    api.fun(
        "-",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            h.apply(Op::Neg, &[x]).map_err(|e| rt_err(&ctx, e))
        },
    );
    api.fun("+", ["x"], |x: Tensor| -> Tensor { x });
    api.doc("!")
        .about("Logical not of a bool tensor.")
        .onnx("Not")
        .torch("~a / torch.logical_not");
    let h = api.host.clone();
    api.fun(
        "!",
        ["x"],
        move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
            h.apply(Op::Not, &[x]).map_err(|e| rt_err(&ctx, e))
        },
    );
    for sym in ["%", "<<", ">>"] {
        api.doc(sym)
            .about("Not defined on tensors or models: an error that says what to write instead.");
    }
    refuse_the_rest(api);
}

/// What a user meant with `op` between these operand kinds, and what to
/// write instead.
fn hint(op: &str, a: &str, b: &str) -> String {
    let article = |t: &str| {
        if t.starts_with(['a', 'e', 'i', 'o', 'u', 'O']) {
            format!("an {t}")
        } else {
            format!("a {t}")
        }
    };
    let pair = format!("`{op}` between {} and {}", article(a), article(b));
    let model = a == "Model" || b == "Model" || a == "OnnxModel" || b == "OnnxModel";
    if model {
        return format!(
            "{pair} is not defined: a model is not a tensor; call model.forward(inputs) and use the tensors it returns"
        );
    }
    let other = if a == "Tensor" { b } else { a };
    match (op, other) {
        ("%", _) => format!(
            "{pair} is not supported: write the remainder as x - floor(x / y) * y (PyTorch's torch.remainder)"
        ),
        ("<<" | ">>", _) => format!("{pair} is not defined: tensors have no bit shifts"),
        (_, "string") => format!(
            "{pair} is not defined: to show a tensor, write `${{x}}` inside a back-tick string or x.to_string()"
        ),
        (_, "array") => {
            format!("{pair} is not defined: make a tensor from the array first with tensor([...])")
        }
        ("&" | "|" | "^", _) => format!(
            "{pair} is not defined: logical operators take bool tensors or bools (compare first, e.g. (x > 0) & mask)"
        ),
        (_, "bool") => format!(
            "{pair} is not defined: to choose values by a condition write where(cond, a, b); a bool tensor becomes 0/1 numbers with .cast(\"float32\")"
        ),
        (_, "Tensor") => format!("{pair}: see `turnkey api {op}`"),
        _ => format!("{pair} is not defined: tensor operators take tensors, ints and floats"),
    }
}

/// Registers an error for every operator over a Tensor or Model and a
/// value that no overload above accepts.
fn refuse_the_rest(api: &mut Api) {
    fn refuse<A: Variant + Clone, B: Variant + Clone>(api: &mut Api, op: &str, a: &str, b: &str) {
        if api.is_registered::<A, B>(op) {
            return;
        }
        let msg = hint(op, a, b);
        api.refuse(op, move |ctx: NativeCallContext, _: A, _: B| -> R<Tensor> {
            Err(rt_err(&ctx, msg.clone()))
        });
    }
    macro_rules! with_other {
        ($api:expr, $op:expr, $t:ty, $tn:expr) => {{
            refuse::<$t, Tensor>($api, $op, $tn, "Tensor");
            refuse::<Tensor, $t>($api, $op, "Tensor", $tn);
            refuse::<$t, Model>($api, $op, $tn, "Model");
            refuse::<Model, $t>($api, $op, "Model", $tn);
            refuse::<$t, OnnxModel>($api, $op, $tn, "OnnxModel");
            refuse::<OnnxModel, $t>($api, $op, "OnnxModel", $tn);
        }};
    }
    for op in OPERATORS {
        with_other!(api, op, i64, "int");
        with_other!(api, op, f64, "float");
        with_other!(api, op, bool, "bool");
        with_other!(api, op, ImmutableString, "string");
        with_other!(api, op, Array, "array");
        with_other!(api, op, Map, "map");
        with_other!(api, op, (), "()");
        with_other!(api, op, char, "char");
        with_other!(api, op, FnPtr, "Fn");
        refuse::<Tensor, Tensor>(api, op, "Tensor", "Tensor");
        refuse::<Model, Model>(api, op, "Model", "Model");
        refuse::<OnnxModel, OnnxModel>(api, op, "OnnxModel", "OnnxModel");
        refuse::<Tensor, Model>(api, op, "Tensor", "Model");
        refuse::<Model, Tensor>(api, op, "Model", "Tensor");
        refuse::<Tensor, OnnxModel>(api, op, "Tensor", "OnnxModel");
        refuse::<OnnxModel, Tensor>(api, op, "OnnxModel", "Tensor");
        refuse::<Model, OnnxModel>(api, op, "Model", "OnnxModel");
        refuse::<OnnxModel, Model>(api, op, "OnnxModel", "Model");
    }
    for op in ["-", "+", "!"] {
        let msg = hint(op, "Model", "value");
        let m2 = msg.clone();
        api.refuse1(op, move |ctx: NativeCallContext, _: Model| -> R<Tensor> {
            Err(rt_err(&ctx, msg.clone()))
        });
        api.refuse1(
            op,
            move |ctx: NativeCallContext, _: OnnxModel| -> R<Tensor> {
                Err(rt_err(&ctx, m2.clone()))
            },
        );
    }
}
