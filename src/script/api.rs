//! Everything a script can call: tensor constructors, ops (as functions
//! and methods), `parse()`, the `Model` methods and the `nn::` primitives.

use super::args::{ArgValue, known_names};
use super::host::Host;
use super::model::{self, Layer, Model, const_param, normal_param, rt_err, uniform_param};
use super::tensor::Tensor;
use crate::graph::{DType, HostTensor, Op, ResizeMode};
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, Module, NativeCallContext,
};

type R<T> = Result<T, Box<EvalAltResult>>;

/// The largest single tensor a script may ask for (bytes).
pub const MAX_TENSOR_BYTES: u64 = 1 << 40;

fn dims(ctx: &NativeCallContext, shape: &Array) -> R<Vec<usize>> {
    let mut out = Vec::with_capacity(shape.len());
    let mut total: u64 = 1;
    for d in shape {
        let Some(v) = d.as_int().ok() else {
            return Err(rt_err(
                ctx,
                format!("shape entries must be integers, got {}", d.type_name()),
            ));
        };
        if v < 1 {
            return Err(rt_err(
                ctx,
                format!("shape {shape:?} has a dimension {v}: every dimension must be at least 1"),
            ));
        }
        total = total.saturating_mul(v as u64);
        out.push(v as usize);
    }
    if total.saturating_mul(8) > MAX_TENSOR_BYTES {
        return Err(rt_err(
            ctx,
            format!("shape {shape:?} asks for {total} elements, more than this machine can hold"),
        ));
    }
    Ok(out)
}

fn dtype(ctx: &NativeCallContext, s: &str) -> R<DType> {
    DType::parse(s).ok_or_else(|| {
        let names: Vec<&str> = DType::SCRIPT.iter().map(|d| d.name()).collect();
        rt_err(
            ctx,
            format!("unknown dtype \"{s}\"; use one of {}", names.join(", ")),
        )
    })
}

/// A possibly negative axis, normalized against `rank`.
fn axis(ctx: &NativeCallContext, a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let n = if a < 0 { a + r } else { a };
    if n < 0 || n >= r.max(1) {
        return Err(rt_err(
            ctx,
            format!("axis {a} is out of range for a tensor of rank {rank}"),
        ));
    }
    Ok(n as usize)
}

fn ints(ctx: &NativeCallContext, what: &str, a: &Array) -> R<Vec<i64>> {
    a.iter()
        .map(|d| {
            d.as_int().map_err(|_| {
                rt_err(
                    ctx,
                    format!("{what} must be integers, got {}", d.type_name()),
                )
            })
        })
        .collect()
}

/// An int or an `[h, w]`-style array, expanded to `n` spatial dims.
fn spatial(ctx: &NativeCallContext, what: &str, d: &Dynamic, n: usize) -> R<Vec<usize>> {
    let vals: Vec<i64> = if let Ok(v) = d.as_int() {
        vec![v; n]
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        ints(ctx, what, &a)?
    } else {
        return Err(rt_err(
            ctx,
            format!("{what} must be an int or an array of {n} ints"),
        ));
    };
    if vals.len() != n || vals.iter().any(|&v| v < 0) {
        return Err(rt_err(
            ctx,
            format!("{what} must be {n} non-negative ints, got {vals:?}"),
        ));
    }
    Ok(vals.into_iter().map(|v| v as usize).collect())
}

/// Reads an options map, rejecting unknown keys.
struct Opts<'a> {
    ctx: &'a NativeCallContext<'a>,
    map: Map,
}

impl<'a> Opts<'a> {
    fn new(ctx: &'a NativeCallContext<'a>, fname: &str, map: Map, known: &[&str]) -> R<Self> {
        for k in map.keys() {
            if !known.contains(&k.as_str()) {
                return Err(rt_err(
                    ctx,
                    format!("{fname}: unknown option '{k}'; known: {}", known.join(", ")),
                ));
            }
        }
        Ok(Opts { ctx, map })
    }
    fn get(&self, k: &str) -> Option<Dynamic> {
        self.map.get(k).cloned()
    }
    fn bool(&self, k: &str, default: bool) -> R<bool> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .map_err(|_| rt_err(self.ctx, format!("option '{k}' must be true or false"))),
        }
    }
    fn int(&self, k: &str, default: i64) -> R<i64> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .as_int()
                .map_err(|_| rt_err(self.ctx, format!("option '{k}' must be an integer"))),
        }
    }
    fn float(&self, k: &str, default: f64) -> R<f64> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map_err(|_| rt_err(self.ctx, format!("option '{k}' must be a number"))),
        }
    }
    fn spatial(&self, k: &str, default: usize, n: usize) -> R<Vec<usize>> {
        match self.get(k) {
            None => Ok(vec![default; n]),
            Some(v) => spatial(self.ctx, k, &v, n),
        }
    }
    fn dtype(&self) -> R<DType> {
        match self.get("dtype") {
            None => Ok(DType::Float32),
            Some(v) => {
                let s = v
                    .into_immutable_string()
                    .map_err(|_| rt_err(self.ctx, "option 'dtype' must be a string"))?;
                dtype(self.ctx, &s)
            }
        }
    }
}

fn scalar_like(x: &Tensor, v: f64) -> Tensor {
    Tensor::concrete(HostTensor::full(x.dtype(), &[], v))
}

/// Registers everything on `engine`.
pub fn register(engine: &mut Engine, host: &Host) {
    engine.register_type_with_name::<Tensor>("Tensor");
    engine.register_type_with_name::<Model>("Model");
    register_constructors(engine, host);
    register_ops(engine, host);
    register_parse(engine, host);
    register_model_methods(engine, host);
    super::layers::register(engine, host);
}

/// Counts a new tensor against `--max-memory` before it is allocated.
fn reserve(ctx: &NativeCallContext, h: &Host, shape: &[usize], d: DType) -> R<()> {
    let bytes = shape
        .iter()
        .fold(d.size_bytes() as u64, |a, &n| a.saturating_mul(n as u64));
    let what = format!("a {d}{} tensor", crate::graph::shape_str(shape));
    h.lock().reserve(bytes, &what).map_err(|e| rt_err(ctx, e))
}

fn register_constructors(engine: &mut Engine, host: &Host) {
    macro_rules! ctor {
        ($name:literal, $f:expr) => {{
            let h = host.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext, shape: Array| -> R<Tensor> {
                    let s = dims(&ctx, &shape)?;
                    reserve(&ctx, &h, &s, DType::Float32)?;
                    let seed = h.lock().next_seed();
                    Ok(Tensor::concrete($f(DType::Float32, &s, seed)))
                },
            );
            let h = host.clone();
            engine.register_fn(
                $name,
                move |ctx: NativeCallContext, shape: Array, dt: &str| -> R<Tensor> {
                    let s = dims(&ctx, &shape)?;
                    let d = dtype(&ctx, dt)?;
                    reserve(&ctx, &h, &s, d)?;
                    let seed = h.lock().next_seed();
                    Ok(Tensor::concrete($f(d, &s, seed)))
                },
            );
        }};
    }
    ctor!("rand", |d, s: &[usize], seed| HostTensor::uniform(
        d, s, 0.0, 1.0, seed
    ));
    ctor!("randn", |d, s: &[usize], seed| HostTensor::normal(
        d, s, 1.0, seed
    ));
    ctor!("ones", |d, s: &[usize], _| HostTensor::full(d, s, 1.0));
    ctor!("zeros", |d, s: &[usize], _| HostTensor::zeros(d, s));
    let h = host.clone();
    engine.register_fn(
        "full",
        move |ctx: NativeCallContext, shape: Array, v: Dynamic| -> R<Tensor> {
            let s = dims(&ctx, &shape)?;
            let v = num(&ctx, &v)?;
            reserve(&ctx, &h, &s, DType::Float32)?;
            Ok(Tensor::concrete(HostTensor::full(DType::Float32, &s, v)))
        },
    );
    let h = host.clone();
    engine.register_fn(
        "full",
        move |ctx: NativeCallContext, shape: Array, v: Dynamic, dt: &str| -> R<Tensor> {
            let s = dims(&ctx, &shape)?;
            let v = num(&ctx, &v)?;
            let d = dtype(&ctx, dt)?;
            reserve(&ctx, &h, &s, d)?;
            Ok(Tensor::concrete(HostTensor::full(d, &s, v)))
        },
    );
    let h = host.clone();
    engine.register_fn(
        "randint",
        move |ctx: NativeCallContext, lo: i64, hi: i64, shape: Array| -> R<Tensor> {
            randint(&ctx, &h, lo, hi, &shape, DType::Int64)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "randint",
        move |ctx: NativeCallContext, lo: i64, hi: i64, shape: Array, dt: &str| -> R<Tensor> {
            let d = dtype(&ctx, dt)?;
            randint(&ctx, &h, lo, hi, &shape, d)
        },
    );
    engine.register_fn(
        "tensor",
        |ctx: NativeCallContext, values: Array| -> R<Tensor> { tensor_from(&ctx, &values, None) },
    );
    engine.register_fn(
        "tensor",
        |ctx: NativeCallContext, values: Array, dt: &str| -> R<Tensor> {
            let d = dtype(&ctx, dt)?;
            tensor_from(&ctx, &values, Some(d))
        },
    );
    engine.register_fn("arange", |ctx: NativeCallContext, end: i64| -> R<Tensor> {
        arange(&ctx, 0, end)
    });
    engine.register_fn(
        "arange",
        |ctx: NativeCallContext, start: i64, end: i64| -> R<Tensor> { arange(&ctx, start, end) },
    );
    engine.register_fn(
        "causal_mask",
        |ctx: NativeCallContext, n: i64| -> R<Tensor> {
            if n < 1 {
                return Err(rt_err(&ctx, "causal_mask(n) needs n >= 1"));
            }
            let n = n as usize;
            Ok(Tensor::concrete(HostTensor::from_fn(
                DType::Bool,
                &[n, n],
                |i| f64::from(u8::from(i % n <= i / n)),
            )))
        },
    );
}

fn num(ctx: &NativeCallContext, v: &Dynamic) -> R<f64> {
    v.as_float()
        .or_else(|_| v.as_int().map(|i| i as f64))
        .or_else(|_| v.as_bool().map(|b| f64::from(u8::from(b))))
        .map_err(|_| rt_err(ctx, format!("expected a number, got {}", v.type_name())))
}

fn randint(
    ctx: &NativeCallContext,
    h: &Host,
    lo: i64,
    hi: i64,
    shape: &Array,
    d: DType,
) -> R<Tensor> {
    if hi <= lo {
        return Err(rt_err(
            ctx,
            format!("randint({lo}, {hi}, ..): high must be greater than low"),
        ));
    }
    if !d.is_int() {
        return Err(rt_err(
            ctx,
            format!("randint makes integer tensors, not {d}"),
        ));
    }
    let s = dims(ctx, shape)?;
    reserve(ctx, h, &s, d)?;
    let seed = h.lock().next_seed();
    Ok(Tensor::concrete(HostTensor::randint(d, &s, lo, hi, seed)))
}

fn arange(ctx: &NativeCallContext, start: i64, end: i64) -> R<Tensor> {
    if end <= start {
        return Err(rt_err(ctx, format!("arange({start}, {end}) is empty")));
    }
    let n = (end - start) as usize;
    Ok(Tensor::concrete(HostTensor::from_fn(
        DType::Int64,
        &[n],
        |i| (start + i as i64) as f64,
    )))
}

/// `tensor([[1, 2], [3, 4]])`: nested arrays of numbers.
fn tensor_from(ctx: &NativeCallContext, values: &Array, d: Option<DType>) -> R<Tensor> {
    fn walk(
        ctx: &NativeCallContext,
        a: &Array,
        depth: usize,
        shape: &mut Vec<usize>,
        out: &mut Vec<f64>,
        all_int: &mut bool,
    ) -> R<()> {
        if shape.len() <= depth {
            shape.push(a.len());
        } else if shape[depth] != a.len() {
            return Err(rt_err(ctx, "tensor([...]): rows have different lengths"));
        }
        for v in a {
            if let Some(inner) = v.clone().try_cast::<Array>() {
                walk(ctx, &inner, depth + 1, shape, out, all_int)?;
            } else {
                *all_int &= v.is_int();
                out.push(num(ctx, v)?);
            }
        }
        Ok(())
    }
    let (mut shape, mut vals, mut all_int) = (Vec::new(), Vec::new(), true);
    walk(ctx, values, 0, &mut shape, &mut vals, &mut all_int)?;
    if vals.is_empty() {
        return Err(rt_err(ctx, "tensor([]) is empty"));
    }
    let d = d.unwrap_or(if all_int {
        DType::Int64
    } else {
        DType::Float32
    });
    Ok(Tensor::concrete(HostTensor::from_fn(d, &shape, |i| {
        vals[i]
    })))
}

fn register_ops(engine: &mut Engine, host: &Host) {
    // Unary ops: function and method form (Rhai allows x.relu() for relu(x)).
    let unary: &[(&str, Op)] = &[
        ("sqrt", Op::Sqrt),
        ("exp", Op::Exp),
        ("log", Op::Log),
        ("neg", Op::Neg),
        ("abs", Op::Abs),
        ("erf", Op::Erf),
        ("relu", Op::Relu),
        ("gelu", Op::Gelu),
        ("silu", Op::Silu),
        ("sigmoid", Op::Sigmoid),
        ("tanh", Op::Tanh),
        ("hardswish", Op::HardSwish),
        ("hardsigmoid", Op::HardSigmoid),
        ("identity", Op::Identity),
    ];
    for (name, op) in unary {
        let (h, op) = (host.clone(), op.clone());
        engine.register_fn(
            *name,
            move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
                h.apply(op.clone(), &[x]).map_err(|e| rt_err(&ctx, e))
            },
        );
    }
    let h = host.clone();
    engine.register_fn("-", move |ctx: NativeCallContext, x: Tensor| -> R<Tensor> {
        h.apply(Op::Neg, &[x]).map_err(|e| rt_err(&ctx, e))
    });

    // Binary ops with broadcasting, and scalars on either side.
    let binary: &[(&str, &str, Op)] = &[
        ("+", "add", Op::Add),
        ("-", "sub", Op::Sub),
        ("*", "mul", Op::Mul),
        ("/", "div", Op::Div),
        ("**", "pow", Op::Pow),
        ("", "equal", Op::Equal),
        ("", "less", Op::Less),
        ("", "greater", Op::Greater),
    ];
    for (sym, name, op) in binary {
        for n in [*sym, *name] {
            if n.is_empty() {
                continue;
            }
            let (h, o) = (host.clone(), op.clone());
            engine.register_fn(
                n,
                move |ctx: NativeCallContext, a: Tensor, b: Tensor| -> R<Tensor> {
                    h.apply(o.clone(), &[a, b]).map_err(|e| rt_err(&ctx, e))
                },
            );
            let (h, o) = (host.clone(), op.clone());
            engine.register_fn(
                n,
                move |ctx: NativeCallContext, a: Tensor, b: f64| -> R<Tensor> {
                    let s = scalar_like(&a, b);
                    h.apply(o.clone(), &[a, s]).map_err(|e| rt_err(&ctx, e))
                },
            );
            let (h, o) = (host.clone(), op.clone());
            engine.register_fn(
                n,
                move |ctx: NativeCallContext, a: Tensor, b: i64| -> R<Tensor> {
                    let s = scalar_like(&a, b as f64);
                    h.apply(o.clone(), &[a, s]).map_err(|e| rt_err(&ctx, e))
                },
            );
            let (h, o) = (host.clone(), op.clone());
            engine.register_fn(
                n,
                move |ctx: NativeCallContext, a: f64, b: Tensor| -> R<Tensor> {
                    let s = scalar_like(&b, a);
                    h.apply(o.clone(), &[s, b]).map_err(|e| rt_err(&ctx, e))
                },
            );
            let (h, o) = (host.clone(), op.clone());
            engine.register_fn(
                n,
                move |ctx: NativeCallContext, a: i64, b: Tensor| -> R<Tensor> {
                    let s = scalar_like(&b, a as f64);
                    h.apply(o.clone(), &[s, b]).map_err(|e| rt_err(&ctx, e))
                },
            );
        }
    }

    macro_rules! reg {
        ($name:expr, |$ctx:ident, $h:ident $(, $a:ident : $t:ty)*| $body:expr) => {{
            let $h = host.clone();
            engine.register_fn($name, move |$ctx: NativeCallContext $(, $a: $t)*| -> R<Tensor> {
                let r: Result<Tensor, Box<EvalAltResult>> = $body;
                r
            });
        }};
    }
    fn ap(ctx: &NativeCallContext, h: &Host, op: Op, ins: &[Tensor]) -> R<Tensor> {
        h.apply(op, ins).map_err(|e| rt_err(ctx, e))
    }

    reg!("softmax", |ctx, h, x: Tensor, a: i64| {
        let a = axis(&ctx, a, x.rank())?;
        ap(&ctx, &h, Op::Softmax { axis: a }, &[x])
    });
    reg!("log_softmax", |ctx, h, x: Tensor, a: i64| {
        let a = axis(&ctx, a, x.rank())?;
        ap(&ctx, &h, Op::LogSoftmax { axis: a }, &[x])
    });
    reg!("clip", |ctx, h, x: Tensor, lo: Dynamic, hi: Dynamic| {
        let lo = if lo.is_unit() {
            None
        } else {
            Some(num(&ctx, &lo)?)
        };
        let hi = if hi.is_unit() {
            None
        } else {
            Some(num(&ctx, &hi)?)
        };
        ap(&ctx, &h, Op::Clip { min: lo, max: hi }, &[x])
    });
    reg!("matmul", |ctx, h, a: Tensor, b: Tensor| ap(
        &ctx,
        &h,
        Op::MatMul,
        &[a, b]
    ));
    reg!("gemm", |ctx, h, a: Tensor, b: Tensor| ap(
        &ctx,
        &h,
        Op::Gemm { trans_b: false },
        &[a, b]
    ));
    reg!("gemm", |ctx, h, a: Tensor, b: Tensor, c: Tensor| ap(
        &ctx,
        &h,
        Op::Gemm { trans_b: false },
        &[a, b, c]
    ));
    reg!("layer_norm", |ctx, h, x: Tensor, w: Tensor, b: Tensor| {
        layer_norm(&ctx, &h, x, w, b, 1e-5)
    });
    reg!("layer_norm", |ctx,
                        h,
                        x: Tensor,
                        w: Tensor,
                        b: Tensor,
                        eps: f64| layer_norm(
        &ctx, &h, x, w, b, eps
    ));
    reg!("batch_norm", |ctx,
                        h,
                        x: Tensor,
                        s: Tensor,
                        b: Tensor,
                        m: Tensor,
                        v: Tensor| {
        ap(&ctx, &h, Op::BatchNorm { epsilon: 1e-5 }, &[x, s, b, m, v])
    });
    reg!("batch_norm", |ctx,
                        h,
                        x: Tensor,
                        s: Tensor,
                        b: Tensor,
                        m: Tensor,
                        v: Tensor,
                        eps: f64| {
        ap(&ctx, &h, Op::BatchNorm { epsilon: eps }, &[x, s, b, m, v])
    });
    for (name, sp, tr) in [
        ("conv1d", 1, false),
        ("conv2d", 2, false),
        ("conv_transpose2d", 2, true),
    ] {
        reg!(name, |ctx, h, x: Tensor, w: Tensor| conv_fn(
            &ctx,
            &h,
            sp,
            tr,
            x,
            w,
            None,
            Map::new()
        ));
        reg!(name, |ctx, h, x: Tensor, w: Tensor, b: Tensor| conv_fn(
            &ctx,
            &h,
            sp,
            tr,
            x,
            w,
            Some(b),
            Map::new()
        ));
        reg!(name, |ctx, h, x: Tensor, w: Tensor, b: Dynamic, o: Map| {
            let b = b.try_cast::<Tensor>();
            conv_fn(&ctx, &h, sp, tr, x, w, b, o)
        });
    }
    for (name, is_max) in [("max_pool2d", true), ("avg_pool2d", false)] {
        reg!(name, |ctx, h, x: Tensor, k: Dynamic| pool(
            &ctx, &h, is_max, x, &k, None, None
        ));
        reg!(name, |ctx, h, x: Tensor, k: Dynamic, s: Dynamic| pool(
            &ctx,
            &h,
            is_max,
            x,
            &k,
            Some(&s),
            None
        ));
        reg!(name, |ctx,
                    h,
                    x: Tensor,
                    k: Dynamic,
                    s: Dynamic,
                    p: Dynamic| pool(
            &ctx,
            &h,
            is_max,
            x,
            &k,
            Some(&s),
            Some(&p)
        ));
    }
    reg!("global_avg_pool", |ctx, h, x: Tensor| ap(
        &ctx,
        &h,
        Op::GlobalAvgPool,
        &[x]
    ));
    reg!("resize", |ctx, h, x: Tensor, s: Dynamic| resize(
        &ctx, &h, x, &s, "nearest"
    ));
    reg!(
        "resize",
        |ctx, h, x: Tensor, s: Dynamic, mode: &str| resize(&ctx, &h, x, &s, mode)
    );
    reg!("pad", |ctx, h, x: Tensor, p: Array| pad(
        &ctx, &h, x, &p, 0.0
    ));
    reg!("pad", |ctx, h, x: Tensor, p: Array, v: f64| pad(
        &ctx, &h, x, &p, v
    ));
    reg!("reshape", |ctx, h, x: Tensor, s: Array| {
        let shape = reshape_target(&ctx, &x, &s)?;
        ap(&ctx, &h, Op::Reshape { shape }, &[x])
    });
    reg!("flatten", |ctx, h, x: Tensor| flatten_fn(&ctx, &h, x, 0));
    reg!("flatten", |ctx, h, x: Tensor, s: i64| flatten_fn(
        &ctx, &h, x, s
    ));
    reg!("transpose", |ctx, h, x: Tensor, a: i64, b: i64| {
        let (a, b) = (axis(&ctx, a, x.rank())?, axis(&ctx, b, x.rank())?);
        let mut perm: Vec<usize> = (0..x.rank()).collect();
        perm.swap(a, b);
        ap(&ctx, &h, Op::Transpose { perm }, &[x])
    });
    reg!("permute", |ctx, h, x: Tensor, p: Array| {
        let perm = ints(&ctx, "permute dims", &p)?
            .into_iter()
            .map(|a| axis(&ctx, a, x.rank()))
            .collect::<R<Vec<_>>>()?;
        ap(&ctx, &h, Op::Transpose { perm }, &[x])
    });
    reg!("squeeze", |ctx, h, x: Tensor| {
        let axes: Vec<usize> = (0..x.rank()).filter(|&i| x.shape()[i] == 1).collect();
        ap(&ctx, &h, Op::Squeeze { axes }, &[x])
    });
    reg!("squeeze", |ctx, h, x: Tensor, a: i64| {
        let a = axis(&ctx, a, x.rank())?;
        ap(&ctx, &h, Op::Squeeze { axes: vec![a] }, &[x])
    });
    reg!("unsqueeze", |ctx, h, x: Tensor, a: i64| {
        let a = axis(&ctx, a, x.rank() + 1)?;
        ap(&ctx, &h, Op::Unsqueeze { axes: vec![a] }, &[x])
    });
    for name in ["concat", "cat"] {
        reg!(name, |ctx, h, xs: Array, a: i64| {
            let ts = tensors(&ctx, &xs)?;
            let r = ts.first().map(Tensor::rank).unwrap_or(0);
            let a = axis(&ctx, a, r)?;
            ap(&ctx, &h, Op::Concat { axis: a }, &ts)
        });
    }
    let h = host.clone();
    engine.register_fn(
        "split",
        move |ctx: NativeCallContext, x: Tensor, sizes: Dynamic, a: i64| -> R<Array> {
            let a = axis(&ctx, a, x.rank())?;
            let dim = x.shape()[a];
            let sizes: Vec<usize> = if let Ok(n) = sizes.as_int() {
                if n < 1 {
                    return Err(rt_err(&ctx, "split size must be at least 1"));
                }
                let n = n as usize;
                (0..dim.div_ceil(n)).map(|i| n.min(dim - i * n)).collect()
            } else if let Some(arr) = sizes.clone().try_cast::<Array>() {
                ints(&ctx, "split sizes", &arr)?
                    .into_iter()
                    .map(|v| v.max(0) as usize)
                    .collect()
            } else {
                return Err(rt_err(
                    &ctx,
                    "split(x, size_or_sizes, axis): sizes must be an int or an array of ints",
                ));
            };
            let outs = h
                .with_trace(|t| t.apply(Op::Split { axis: a, sizes }, &[x]))
                .map_err(|e| rt_err(&ctx, e))?;
            Ok(outs.into_iter().map(Dynamic::from).collect())
        },
    );
    reg!("slice", |ctx, h, x: Tensor, a: i64, s: i64, e: i64| slice(
        &ctx, &h, x, a, s, e, 1
    ));
    reg!("slice", |ctx,
                   h,
                   x: Tensor,
                   a: i64,
                   s: i64,
                   e: i64,
                   st: i64| slice(
        &ctx, &h, x, a, s, e, st
    ));
    reg!("gather", |ctx, h, x: Tensor, i: Tensor, a: i64| {
        let a = axis(&ctx, a, x.rank())?;
        ap(&ctx, &h, Op::Gather { axis: a }, &[x, i])
    });
    reg!("where", |ctx, h, c: Tensor, a: Tensor, b: Tensor| ap(
        &ctx,
        &h,
        Op::Where,
        &[c, a, b]
    ));
    reg!("where", |ctx, h, c: Tensor, a: Tensor, b: f64| {
        let s = scalar_like(&a, b);
        ap(&ctx, &h, Op::Where, &[c, a, s])
    });
    reg!("cast", |ctx, h, x: Tensor, d: &str| {
        let d = dtype(&ctx, d)?;
        ap(&ctx, &h, Op::Cast { to: d }, &[x])
    });
    reg!("expand", |ctx, h, x: Tensor, s: Array| {
        let shape = dims(&ctx, &s)?;
        ap(&ctx, &h, Op::Expand { shape }, &[x])
    });
    for (name, kind) in [
        ("reduce_mean", 0),
        ("reduce_sum", 1),
        ("reduce_max", 2),
        ("mean", 0),
        ("sum", 1),
    ] {
        reg!(name, |ctx, h, x: Tensor, a: Dynamic| reduce(
            &ctx, &h, kind, x, &a, false
        ));
        reg!(name, |ctx, h, x: Tensor, a: Dynamic, k: bool| reduce(
            &ctx, &h, kind, x, &a, k
        ));
    }
    reg!("dropout", |ctx, h, x: Tensor, p: f64| ap(
        &ctx,
        &h,
        Op::Dropout { ratio: p },
        &[x]
    ));
    for name in ["attention", "scaled_dot_product_attention"] {
        reg!(name, |ctx, h, q: Tensor, k: Tensor, v: Tensor| attention(
            &ctx, &h, q, k, v, None
        ));
        reg!(name, |ctx,
                    h,
                    q: Tensor,
                    k: Tensor,
                    v: Tensor,
                    m: Tensor| attention(
            &ctx,
            &h,
            q,
            k,
            v,
            Some(m)
        ));
    }
    reg!("linear", |ctx, h, x: Tensor, w: Tensor| linear_fn(
        &ctx, &h, x, w, None
    ));
    reg!("linear", |ctx, h, x: Tensor, w: Tensor, b: Tensor| {
        linear_fn(&ctx, &h, x, w, Some(b))
    });

    engine.register_get("shape", |t: &mut Tensor| -> Array {
        t.shape().iter().map(|&d| Dynamic::from(d as i64)).collect()
    });
    engine.register_get("dtype", |t: &mut Tensor| -> ImmutableString {
        t.dtype().name().into()
    });
    engine.register_get("rank", |t: &mut Tensor| -> i64 { t.rank() as i64 });
    engine.register_get("numel", |t: &mut Tensor| -> i64 {
        t.shape().iter().product::<usize>() as i64
    });
    engine.register_fn("to_string", |t: &mut Tensor| -> String { t.describe() });
    engine.register_fn("to_debug", |t: &mut Tensor| -> String { t.describe() });
}

fn tensors(ctx: &NativeCallContext, xs: &Array) -> R<Vec<Tensor>> {
    xs.iter()
        .map(|d| {
            let d = d.flatten_clone();
            let tn = d.type_name();
            d.try_cast::<Tensor>()
                .ok_or_else(|| rt_err(ctx, format!("expected an array of tensors, found {tn}")))
        })
        .collect()
}

fn layer_norm(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    eps: f64,
) -> R<Tensor> {
    let ax = x
        .rank()
        .checked_sub(w.rank())
        .ok_or_else(|| rt_err(ctx, "layer_norm: weight has a higher rank than the input"))?;
    h.apply(
        Op::LayerNorm {
            axis: ax,
            epsilon: eps,
        },
        &[x, w, b],
    )
    .map_err(|e| rt_err(ctx, e))
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

#[allow(clippy::too_many_arguments)]
fn conv_fn(
    ctx: &NativeCallContext,
    h: &Host,
    sp: usize,
    transpose: bool,
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
    o: Map,
) -> R<Tensor> {
    let o = Opts::new(
        ctx,
        "conv",
        o,
        &["stride", "padding", "dilation", "groups", "output_padding"],
    )?;
    let kernel: Vec<usize> = w.shape().iter().skip(2).copied().collect();
    if kernel.len() != sp {
        return Err(rt_err(
            ctx,
            format!("conv weight must have rank {}, got {}", sp + 2, w.rank()),
        ));
    }
    let strides = o.spatial("stride", 1, sp)?;
    let pad = o.spatial("padding", 0, sp)?;
    let dilations = o.spatial("dilation", 1, sp)?;
    let group = o.int("groups", 1)?.max(1) as usize;
    let pads: Vec<usize> = pad.iter().chain(pad.iter()).copied().collect();
    let op = if transpose {
        Op::ConvTranspose {
            kernel,
            strides,
            pads,
            output_padding: o.spatial("output_padding", 0, sp)?,
            dilations,
            group,
        }
    } else {
        Op::Conv {
            kernel,
            strides,
            pads,
            dilations,
            group,
        }
    };
    let mut ins = vec![x, w];
    ins.extend(b);
    h.apply(op, &ins).map_err(|e| rt_err(ctx, e))
}

fn pool(
    ctx: &NativeCallContext,
    h: &Host,
    is_max: bool,
    x: Tensor,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Tensor> {
    h.apply(pool_op(ctx, is_max, k, s, p)?, &[x])
        .map_err(|e| rt_err(ctx, e))
}

/// `(kernel)`, `(kernel, stride)`, `(kernel, stride, padding)`, or
/// `(kernel, #{stride, padding, ceil_mode, count_include_pad})`.
fn pool_op(
    ctx: &NativeCallContext,
    is_max: bool,
    k: &Dynamic,
    s: Option<&Dynamic>,
    p: Option<&Dynamic>,
) -> R<Op> {
    let kernel = spatial(ctx, "kernel size", k, 2)?;
    let opts = match s.and_then(|s| s.clone().try_cast::<Map>()) {
        Some(map) if p.is_none() => {
            let known: &[&str] = if is_max {
                &["stride", "padding", "ceil_mode"]
            } else {
                &["stride", "padding", "ceil_mode", "count_include_pad"]
            };
            let fname = if is_max { "max_pool2d" } else { "avg_pool2d" };
            Some(Opts::new(ctx, fname, map, known)?)
        }
        _ => None,
    };
    let (strides, pad, ceil_mode, count_include_pad) = match &opts {
        Some(o) => (
            match o.get("stride") {
                Some(s) => spatial(ctx, "stride", &s, 2)?,
                None => kernel.clone(),
            },
            o.spatial("padding", 0, 2)?,
            o.bool("ceil_mode", false)?,
            o.bool("count_include_pad", true)?,
        ),
        None => (
            match s {
                Some(s) => spatial(ctx, "stride", s, 2)?,
                None => kernel.clone(),
            },
            match p {
                Some(p) => spatial(ctx, "padding", p, 2)?,
                None => vec![0, 0],
            },
            false,
            true,
        ),
    };
    let pads: Vec<usize> = pad.iter().chain(pad.iter()).copied().collect();
    Ok(if is_max {
        Op::MaxPool {
            kernel,
            strides,
            pads,
            ceil_mode,
        }
    } else {
        Op::AvgPool {
            kernel,
            strides,
            pads,
            ceil_mode,
            count_include_pad,
        }
    })
}

fn resize(ctx: &NativeCallContext, h: &Host, x: Tensor, s: &Dynamic, mode: &str) -> R<Tensor> {
    let mode = match mode {
        "nearest" => ResizeMode::Nearest,
        "linear" | "bilinear" => ResizeMode::Linear,
        m => {
            return Err(rt_err(
                ctx,
                format!("resize mode \"{m}\" is not known; use \"nearest\" or \"linear\""),
            ));
        }
    };
    let scales: Vec<f64> = if let Ok(f) = num(ctx, s) {
        (0..x.rank()).map(|i| if i < 2 { 1.0 } else { f }).collect()
    } else if let Some(a) = s.clone().try_cast::<Array>() {
        a.iter().map(|v| num(ctx, v)).collect::<R<_>>()?
    } else {
        return Err(rt_err(
            ctx,
            "resize scale must be a number or an array of numbers",
        ));
    };
    h.apply(Op::Resize { scales, mode }, &[x])
        .map_err(|e| rt_err(ctx, e))
}

/// torch.nn.functional.pad order: pairs from the last axis backwards.
fn pad(ctx: &NativeCallContext, h: &Host, x: Tensor, p: &Array, v: f64) -> R<Tensor> {
    let p = ints(ctx, "pads", p)?;
    let r = x.rank();
    if p.len() % 2 != 0 || p.len() / 2 > r || p.iter().any(|&v| v < 0) {
        return Err(rt_err(
            ctx,
            format!(
                "pad takes (before, after) pairs from the last axis backwards, at most {r} pairs of non-negative ints; got {p:?}"
            ),
        ));
    }
    let mut pads = vec![0usize; 2 * r];
    for (i, pair) in p.chunks(2).enumerate() {
        let ax = r - 1 - i;
        pads[ax] = pair[0] as usize;
        pads[r + ax] = pair[1] as usize;
    }
    h.apply(Op::Pad { pads, value: v }, &[x])
        .map_err(|e| rt_err(ctx, e))
}

fn reshape_target(ctx: &NativeCallContext, x: &Tensor, s: &Array) -> R<Vec<usize>> {
    let want = ints(ctx, "reshape dims", s)?;
    let total: usize = x.shape().iter().product();
    let known: i64 = want.iter().filter(|&&d| d != -1).product();
    let holes = want.iter().filter(|&&d| d == -1).count();
    if holes > 1 || want.iter().any(|&d| d == 0 || d < -1) {
        return Err(rt_err(
            ctx,
            format!("reshape to {want:?}: dims must be >= 1, with at most one -1"),
        ));
    }
    Ok(want
        .iter()
        .map(|&d| {
            if d == -1 {
                if known > 0 { total / known as usize } else { 0 }
            } else {
                d as usize
            }
        })
        .collect())
}

fn flatten_fn(ctx: &NativeCallContext, h: &Host, x: Tensor, start: i64) -> R<Tensor> {
    let start = axis(ctx, start, x.rank())?;
    h.with_trace(|t| {
        let v = t.value_of(&x)?;
        let y = model::flatten(t, v, start)?;
        Ok(t.tensor(y))
    })
    .map_err(|e| rt_err(ctx, e))
}

fn slice(
    ctx: &NativeCallContext,
    h: &Host,
    x: Tensor,
    a: i64,
    s: i64,
    e: i64,
    st: i64,
) -> R<Tensor> {
    let a = axis(ctx, a, x.rank())?;
    if st == 0 {
        return Err(rt_err(ctx, "slice step must not be 0"));
    }
    h.apply(
        Op::Slice {
            starts: vec![s],
            ends: vec![e],
            axes: vec![a],
            steps: vec![st],
        },
        &[x],
    )
    .map_err(|e| rt_err(ctx, e))
}

fn reduce(
    ctx: &NativeCallContext,
    h: &Host,
    kind: u8,
    x: Tensor,
    a: &Dynamic,
    keepdims: bool,
) -> R<Tensor> {
    let raw = if let Ok(i) = a.as_int() {
        vec![i]
    } else if let Some(arr) = a.clone().try_cast::<Array>() {
        ints(ctx, "axes", &arr)?
    } else {
        return Err(rt_err(
            ctx,
            "reduce axes must be an int or an array of ints",
        ));
    };
    let mut axes = raw
        .into_iter()
        .map(|v| axis(ctx, v, x.rank()))
        .collect::<R<Vec<_>>>()?;
    axes.sort_unstable();
    axes.dedup();
    let op = match kind {
        0 => Op::ReduceMean { axes, keepdims },
        1 => Op::ReduceSum { axes, keepdims },
        _ => Op::ReduceMax { axes, keepdims },
    };
    h.apply(op, &[x]).map_err(|e| rt_err(ctx, e))
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

fn register_parse(engine: &mut Engine, host: &Host) {
    let h = host.clone();
    engine.register_fn(
        "parse",
        move |ctx: NativeCallContext, names: Array| -> R<Map> {
            let mut st = h.lock();
            let mut out = Map::new();
            for n in names {
                let name = n.into_immutable_string().map_err(|t| {
                    rt_err(
                        &ctx,
                        format!("parse() takes an array of names (strings), got {t}"),
                    )
                })?;
                let Some(v) = st.args.get(&name) else {
                    return Err(rt_err(
                        &ctx,
                        format!(
                            "parse(): unknown argument \"{name}\"; known: {}",
                            known_names()
                        ),
                    ));
                };
                st.asked.insert(name.to_string());
                let d = match v {
                    ArgValue::Int(i) => Dynamic::from(i),
                    ArgValue::Float(f) => Dynamic::from(f),
                    ArgValue::Bool(b) => Dynamic::from(b),
                };
                out.insert(name.as_str().into(), d);
            }
            Ok(out)
        },
    );
}

fn register_model_methods(engine: &mut Engine, host: &Host) {
    let h = host.clone();
    engine.register_fn(
        "forward",
        move |ctx: NativeCallContext, m: &mut Model, inputs: Dynamic| -> R<Dynamic> {
            let m = m.clone();
            model::forward(&h, &ctx, &m, inputs)
        },
    );
    engine.register_get("params", |m: &mut Model| -> i64 {
        m.param_stats().0 as i64
    });
    engine.register_get("param_bytes", |m: &mut Model| -> i64 {
        m.param_stats().1 as i64
    });
    engine.register_get("name", |m: &mut Model| -> ImmutableString {
        m.class().into()
    });
    engine.register_fn("half", |m: &mut Model| -> Model {
        Model {
            def: m.def.clone(),
            dtype: Some(DType::Float16),
        }
    });
    engine.register_fn(
        "to_dtype",
        |ctx: NativeCallContext, m: &mut Model, d: &str| -> R<Model> {
            let d = dtype(&ctx, d)?;
            if !d.is_float() {
                return Err(rt_err(
                    &ctx,
                    format!("models hold float parameters; {d} is not a float dtype"),
                ));
            }
            Ok(Model {
                def: m.def.clone(),
                dtype: Some(d),
            })
        },
    );
    engine.register_fn("to_string", |m: &mut Model| -> String { m.describe() });
    engine.register_fn("to_debug", |m: &mut Model| -> String { m.describe() });
}

/// The native half of `nn::` (the Rhai half is stdlib/nn.rhai).
pub fn nn_module(host: &Host) -> Module {
    let mut m = Module::new();
    macro_rules! nn_fn {
        ($name:expr, |$ctx:ident, $h:ident $(, $a:ident : $t:ty)*| $body:expr) => {{
            let $h = host.clone();
            m.set_native_fn($name, move |$ctx: NativeCallContext $(, $a: $t)*| -> R<Model> { $body });
        }};
    }
    nn_fn!("linear", |ctx, h, i: i64, o: i64| linear(
        &ctx,
        &h,
        i,
        o,
        Map::new()
    ));
    nn_fn!("linear", |ctx, h, i: i64, o: i64, opts: Map| linear(
        &ctx, &h, i, o, opts
    ));
    for (name, sp, tr) in [
        ("conv1d", 1usize, false),
        ("conv2d", 2, false),
        ("conv_transpose2d", 2, true),
    ] {
        nn_fn!(name, |ctx, h, i: i64, o: i64, k: Dynamic| conv(
            &ctx,
            &h,
            sp,
            tr,
            i,
            o,
            &k,
            Map::new()
        ));
        nn_fn!(name, |ctx, h, i: i64, o: i64, k: Dynamic, opts: Map| conv(
            &ctx, &h, sp, tr, i, o, &k, opts
        ));
    }
    for name in ["batch_norm2d", "batch_norm1d"] {
        nn_fn!(name, |ctx, h, c: i64| batch_norm(&ctx, &h, c, Map::new()));
        nn_fn!(name, |ctx, h, c: i64, opts: Map| batch_norm(
            &ctx, &h, c, opts
        ));
    }
    nn_fn!("layer_norm", |ctx, h, d: Dynamic| layer_norm_layer(
        &ctx,
        &h,
        &d,
        Map::new()
    ));
    nn_fn!("layer_norm", |ctx, h, d: Dynamic, opts: Map| {
        layer_norm_layer(&ctx, &h, &d, opts)
    });
    nn_fn!("embedding", |ctx, h, n: i64, d: i64| embedding(
        &ctx,
        &h,
        n,
        d,
        Map::new()
    ));
    nn_fn!("embedding", |ctx, h, n: i64, d: i64, opts: Map| embedding(
        &ctx, &h, n, d, opts
    ));
    nn_fn!("multi_head_attention", |ctx, h, d: i64, heads: i64| mha(
        &ctx,
        &h,
        d,
        heads,
        Map::new()
    ));
    nn_fn!(
        "multi_head_attention",
        |ctx, h, d: i64, heads: i64, opts: Map| mha(&ctx, &h, d, heads, opts)
    );
    nn_fn!("dropout", |ctx, h, p: f64| {
        if !(0.0..1.0).contains(&p) {
            return Err(rt_err(
                &ctx,
                format!("dropout probability must be in [0, 1), got {p}"),
            ));
        }
        Ok(Model::new(
            &h,
            "Dropout",
            Layer::Op(Op::Dropout { ratio: p }),
            vec![],
            vec![],
        ))
    });
    nn_fn!("sequential", |ctx,
                          h,
                          name: ImmutableString,
                          layers: Array| {
        sequential(&ctx, &h, &name, layers)
    });
    nn_fn!("sequential", |ctx, h, layers: Array| sequential(
        &ctx,
        &h,
        "Sequential",
        layers
    ));
    nn_fn!("module", |ctx, h, name: ImmutableString, f: FnPtr| {
        let mut children = Vec::new();
        for d in f.curry() {
            model::models_in(d, &mut children);
        }
        let _ = &ctx;
        Ok(Model::new(&h, &name, Layer::Closure(f), vec![], children))
    });
    let acts: &[(&str, &str, Op)] = &[
        ("relu", "ReLU", Op::Relu),
        ("gelu", "GELU", Op::Gelu),
        ("silu", "SiLU", Op::Silu),
        ("sigmoid", "Sigmoid", Op::Sigmoid),
        ("tanh", "Tanh", Op::Tanh),
        ("hardswish", "Hardswish", Op::HardSwish),
        ("hardsigmoid", "Hardsigmoid", Op::HardSigmoid),
        ("identity", "Identity", Op::Identity),
        (
            "adaptive_avg_pool2d",
            "AdaptiveAvgPool2d",
            Op::GlobalAvgPool,
        ),
    ];
    for (name, class, op) in acts {
        let (class, op) = (*class, op.clone());
        nn_fn!(*name, |ctx, h| {
            let _ = &ctx;
            Ok(Model::new(&h, class, Layer::Op(op.clone()), vec![], vec![]))
        });
    }
    nn_fn!("relu6", |ctx, h| {
        let _ = &ctx;
        Ok(Model::new(
            &h,
            "ReLU6",
            Layer::Op(Op::Clip {
                min: Some(0.0),
                max: Some(6.0),
            }),
            vec![],
            vec![],
        ))
    });
    nn_fn!("softmax", |ctx, h, a: i64| {
        if a < 0 {
            return Err(rt_err(
                &ctx,
                "nn::softmax(axis): give a non-negative axis (the layer does not know its input rank yet)",
            ));
        }
        Ok(Model::new(
            &h,
            "Softmax",
            Layer::Op(Op::Softmax { axis: a as usize }),
            vec![],
            vec![],
        ))
    });
    nn_fn!("flatten", |ctx, h| {
        let _ = &ctx;
        Ok(Model::new(
            &h,
            "Flatten",
            Layer::Flatten { start: 1 },
            vec![],
            vec![],
        ))
    });
    nn_fn!("flatten", |ctx, h, s: i64| {
        if s < 0 {
            return Err(rt_err(
                &ctx,
                "nn::flatten(start_dim) needs a non-negative start_dim",
            ));
        }
        Ok(Model::new(
            &h,
            "Flatten",
            Layer::Flatten { start: s as usize },
            vec![],
            vec![],
        ))
    });
    for (name, class, is_max) in [
        ("max_pool2d", "MaxPool2d", true),
        ("avg_pool2d", "AvgPool2d", false),
    ] {
        nn_fn!(name, |ctx, h, k: Dynamic| Ok(Model::new(
            &h,
            class,
            Layer::Op(pool_op(&ctx, is_max, &k, None, None)?),
            vec![],
            vec![]
        )));
        nn_fn!(name, |ctx, h, k: Dynamic, s: Dynamic| {
            Ok(Model::new(
                &h,
                class,
                Layer::Op(pool_op(&ctx, is_max, &k, Some(&s), None)?),
                vec![],
                vec![],
            ))
        });
        nn_fn!(name, |ctx, h, k: Dynamic, s: Dynamic, p: Dynamic| {
            Ok(Model::new(
                &h,
                class,
                Layer::Op(pool_op(&ctx, is_max, &k, Some(&s), Some(&p))?),
                vec![],
                vec![],
            ))
        });
    }
    super::layers::register_nn(&mut m, host);
    m
}

fn positive(ctx: &NativeCallContext, what: &str, v: i64) -> R<usize> {
    if v < 1 {
        return Err(rt_err(ctx, format!("{what} must be at least 1, got {v}")));
    }
    Ok(v as usize)
}

fn linear(ctx: &NativeCallContext, h: &Host, i: i64, o: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::linear", opts, &["bias", "dtype"])?;
    let (i, o) = (
        positive(ctx, "in_features", i)?,
        positive(ctx, "out_features", o)?,
    );
    let bias = opts.bool("bias", true)?;
    let dt = opts.dtype()?;
    let bound = 1.0 / (i as f64).sqrt();
    let mut params = vec![("weight", uniform_param(h, &[o, i], bound, dt))];
    if bias {
        params.push(("bias", uniform_param(h, &[o], bound, dt)));
    }
    Ok(Model::new(
        h,
        "Linear",
        Layer::Linear { bias },
        params,
        vec![],
    ))
}

#[allow(clippy::too_many_arguments)]
fn conv(
    ctx: &NativeCallContext,
    h: &Host,
    sp: usize,
    transpose: bool,
    i: i64,
    o: i64,
    k: &Dynamic,
    opts: Map,
) -> R<Model> {
    let fname = if transpose {
        "nn::conv_transpose2d"
    } else {
        "nn::conv"
    };
    let known: &[&str] = if transpose {
        &[
            "stride",
            "padding",
            "output_padding",
            "groups",
            "bias",
            "dilation",
            "dtype",
        ]
    } else {
        &["stride", "padding", "groups", "bias", "dilation", "dtype"]
    };
    let opts = Opts::new(ctx, fname, opts, known)?;
    let (i, o) = (
        positive(ctx, "in_channels", i)?,
        positive(ctx, "out_channels", o)?,
    );
    let kernel = spatial(ctx, "kernel_size", k, sp)?;
    if kernel.contains(&0) {
        return Err(rt_err(ctx, "kernel_size must be at least 1"));
    }
    let groups = positive(ctx, "groups", opts.int("groups", 1)?)?;
    if i % groups != 0 || o % groups != 0 {
        return Err(rt_err(
            ctx,
            format!(
                "{fname}: in_channels {i} and out_channels {o} must both be divisible by groups {groups}"
            ),
        ));
    }
    let bias = opts.bool("bias", true)?;
    let dt = opts.dtype()?;
    let kk: usize = kernel.iter().product();
    // PyTorch's weight layouts and kaiming-uniform(a=sqrt 5) bound 1/sqrt(fan_in).
    let (wshape, fan_in) = if transpose {
        (
            [vec![i, o / groups], kernel.clone()].concat(),
            (o / groups) * kk,
        )
    } else {
        (
            [vec![o, i / groups], kernel.clone()].concat(),
            (i / groups) * kk,
        )
    };
    let bound = 1.0 / (fan_in as f64).sqrt();
    let mut params = vec![("weight", uniform_param(h, &wshape, bound, dt))];
    if bias {
        params.push(("bias", uniform_param(h, &[o], bound, dt)));
    }
    let class = match (transpose, sp) {
        (true, _) => "ConvTranspose2d",
        (false, 1) => "Conv1d",
        _ => "Conv2d",
    };
    let layer = Layer::Conv {
        kernel,
        stride: opts.spatial("stride", 1, sp)?,
        padding: opts.spatial("padding", 0, sp)?,
        dilation: opts.spatial("dilation", 1, sp)?,
        output_padding: if transpose {
            opts.spatial("output_padding", 0, sp)?
        } else {
            vec![0; sp]
        },
        groups,
        bias,
        transpose,
    };
    Ok(Model::new(h, class, layer, params, vec![]))
}

fn batch_norm(ctx: &NativeCallContext, h: &Host, c: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::batch_norm2d", opts, &["eps", "dtype"])?;
    let c = positive(ctx, "num_features", c)?;
    let dt = opts.dtype()?;
    let params = vec![
        ("weight", const_param(&[c], 1.0, dt, true)),
        ("bias", const_param(&[c], 0.0, dt, true)),
        ("running_mean", const_param(&[c], 0.0, dt, false)),
        ("running_var", const_param(&[c], 1.0, dt, false)),
    ];
    Ok(Model::new(
        h,
        "BatchNorm2d",
        Layer::BatchNorm {
            eps: opts.float("eps", 1e-5)?,
        },
        params,
        vec![],
    ))
}

fn layer_norm_layer(ctx: &NativeCallContext, h: &Host, d: &Dynamic, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::layer_norm", opts, &["eps", "bias", "dtype"])?;
    let shape: Vec<usize> = if let Ok(v) = d.as_int() {
        vec![positive(ctx, "normalized_shape", v)?]
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        dims(ctx, &a)?
    } else {
        return Err(rt_err(
            ctx,
            "nn::layer_norm(dim): dim must be an int or an array of ints",
        ));
    };
    let dt = opts.dtype()?;
    let bias = opts.bool("bias", true)?;
    let mut params = vec![("weight", const_param(&shape, 1.0, dt, true))];
    if bias {
        params.push(("bias", const_param(&shape, 0.0, dt, true)));
    }
    let layer = Layer::LayerNorm {
        eps: opts.float("eps", 1e-5)?,
        ndims: shape.len(),
        bias,
    };
    Ok(Model::new(h, "LayerNorm", layer, params, vec![]))
}

fn embedding(ctx: &NativeCallContext, h: &Host, n: i64, d: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::embedding", opts, &["dtype"])?;
    let (n, d) = (
        positive(ctx, "num_embeddings", n)?,
        positive(ctx, "embedding_dim", d)?,
    );
    let params = vec![("weight", normal_param(h, &[n, d], 1.0, opts.dtype()?))];
    Ok(Model::new(h, "Embedding", Layer::Embedding, params, vec![]))
}

fn mha(ctx: &NativeCallContext, h: &Host, d: i64, heads: i64, opts: Map) -> R<Model> {
    let opts = Opts::new(ctx, "nn::multi_head_attention", opts, &["dtype"])?;
    let (d, heads) = (
        positive(ctx, "embed_dim", d)?,
        positive(ctx, "num_heads", heads)?,
    );
    if d % heads != 0 {
        return Err(rt_err(
            ctx,
            format!(
                "nn::multi_head_attention: embed_dim {d} must be divisible by num_heads {heads}"
            ),
        ));
    }
    let dt = opts.dtype()?;
    // PyTorch: xavier-uniform in_proj, zero biases, out_proj like a Linear.
    let xavier = (6.0 / (d + 3 * d) as f64).sqrt();
    let params = vec![
        ("in_proj_weight", uniform_param(h, &[3 * d, d], xavier, dt)),
        ("in_proj_bias", const_param(&[3 * d], 0.0, dt, true)),
        (
            "out_proj.weight",
            uniform_param(h, &[d, d], 1.0 / (d as f64).sqrt(), dt),
        ),
        ("out_proj.bias", const_param(&[d], 0.0, dt, true)),
    ];
    Ok(Model::new(
        h,
        "MultiheadAttention",
        Layer::Attention { dim: d, heads },
        params,
        vec![],
    ))
}

fn sequential(ctx: &NativeCallContext, h: &Host, name: &str, layers: Array) -> R<Model> {
    let mut children = Vec::new();
    for (i, l) in layers.into_iter().enumerate() {
        let l = l.flatten();
        let tn = l.type_name();
        let m = l.try_cast::<Model>().ok_or_else(|| {
            rt_err(
                ctx,
                format!("nn::sequential: item {i} is {tn}, not a model"),
            )
        })?;
        children.push(m);
    }
    if children.is_empty() {
        return Err(rt_err(ctx, "nn::sequential needs at least one layer"));
    }
    Ok(Model::new(h, name, Layer::Sequential, vec![], children))
}
