//! Tensor constructors: random and constant tensors, literals, ranges,
//! masks and random graph adjacencies.

use super::super::layers::{AdjNorm, random_adjacency};
use super::super::model::rt_err;
use super::super::tensor::Tensor;
use super::Api;
use super::util::{MAX_TENSOR_BYTES, OptSpec, Opts, R, dims, dtype, num, opt, positive};
use crate::graph::{DType, HostTensor};
use crate::script::host::Host;
use rhai::{Array, Dynamic, Map, NativeCallContext};

/// Counts a new tensor against `--max-memory` before it is allocated.
pub fn reserve(ctx: &NativeCallContext, h: &Host, shape: &[usize], d: DType) -> R<()> {
    let bytes = shape
        .iter()
        .fold(d.size_bytes() as u64, |a, &n| a.saturating_mul(n as u64));
    let what = format!("a {d}{} tensor", crate::graph::shape_str(shape));
    h.lock().reserve(bytes, &what).map_err(|e| rt_err(ctx, e))
}

const ADJACENCY_OPTS: &[OptSpec] = &[
    opt(
        "normalize",
        "\"gcn\"",
        "\"gcn\" (D^-1/2 A D^-1/2), \"mean\" (D^-1 A) or \"none\" (0/1)",
    ),
    opt(
        "self_loops",
        "-",
        "add i->i edges (default: true, false for \"mean\")",
    ),
];

pub fn register(api: &mut Api) {
    api.family("constructors");
    type Make = fn(DType, &[usize], u64) -> HostTensor;
    let makers: [(&str, &str, &str, Make); 4] = [
        (
            "rand",
            "Uniform random values in [0, 1) (seeded: a script always makes the same tensors).",
            "torch.rand",
            |d, s, seed| HostTensor::uniform(d, s, 0.0, 1.0, seed),
        ),
        (
            "randn",
            "Standard normal random values (seeded).",
            "torch.randn",
            |d, s, seed| HostTensor::normal(d, s, 1.0, seed),
        ),
        ("ones", "A tensor of ones.", "torch.ones", |d, s, _| {
            HostTensor::full(d, s, 1.0)
        }),
        ("zeros", "A tensor of zeros.", "torch.zeros", |d, s, _| {
            HostTensor::zeros(d, s)
        }),
    ];
    for (name, about, torch, make) in makers {
        api.doc(name)
            .about(&format!("{about} dtype defaults to \"float32\"."))
            .torch(torch);
        let h = api.host.clone();
        api.fun(
            name,
            ["shape"],
            move |ctx: NativeCallContext, shape: Array| -> R<Tensor> {
                let s = dims(&ctx, &shape)?;
                reserve(&ctx, &h, &s, DType::Float32)?;
                let seed = h.lock().next_seed();
                Ok(Tensor::concrete(make(DType::Float32, &s, seed)))
            },
        );
        let h = api.host.clone();
        api.fun(
            name,
            ["shape", "dtype"],
            move |ctx: NativeCallContext, shape: Array, dt: &str| -> R<Tensor> {
                let s = dims(&ctx, &shape)?;
                let d = dtype(&ctx, dt)?;
                reserve(&ctx, &h, &s, d)?;
                let seed = h.lock().next_seed();
                Ok(Tensor::concrete(make(d, &s, seed)))
            },
        );
    }

    api.doc("full")
        .about("A tensor filled with one value (dtype defaults to \"float32\").")
        .torch("torch.full");
    let h = api.host.clone();
    api.fun(
        "full",
        ["shape", "value"],
        move |ctx: NativeCallContext, shape: Array, v: Dynamic| -> R<Tensor> {
            let s = dims(&ctx, &shape)?;
            let v = num(&ctx, &v)?;
            reserve(&ctx, &h, &s, DType::Float32)?;
            Ok(Tensor::concrete(HostTensor::full(DType::Float32, &s, v)))
        },
    );
    let h = api.host.clone();
    api.fun(
        "full",
        ["shape", "value", "dtype"],
        move |ctx: NativeCallContext, shape: Array, v: Dynamic, dt: &str| -> R<Tensor> {
            let s = dims(&ctx, &shape)?;
            let v = num(&ctx, &v)?;
            let d = dtype(&ctx, dt)?;
            reserve(&ctx, &h, &s, d)?;
            Ok(Tensor::concrete(HostTensor::full(d, &s, v)))
        },
    );

    api.doc("randint")
        .about("Random integers in [low, high) (int64 by default): token ids, labels, indices.")
        .torch("torch.randint");
    let h = api.host.clone();
    api.fun(
        "randint",
        ["low", "high", "shape"],
        move |ctx: NativeCallContext, lo: i64, hi: i64, shape: Array| -> R<Tensor> {
            randint(&ctx, &h, lo, hi, &shape, DType::Int64)
        },
    );
    let h = api.host.clone();
    api.fun(
        "randint",
        ["low", "high", "shape", "dtype"],
        move |ctx: NativeCallContext, lo: i64, hi: i64, shape: Array, dt: &str| -> R<Tensor> {
            let d = dtype(&ctx, dt)?;
            randint(&ctx, &h, lo, hi, &shape, d)
        },
    );

    api.doc("tensor")
        .about(
            "A tensor from (nested) arrays of numbers: int64 when every value is an int, \
             else float32, unless a dtype is given. Arrays hold at most 20,000 items in all \
             (nested items count): build large tables with ops (arange, sin, ...) instead.",
        )
        .torch("torch.tensor");
    api.fun(
        "tensor",
        ["values"],
        |ctx: NativeCallContext, values: Array| -> R<Tensor> { tensor_from(&ctx, &values, None) },
    );
    api.fun(
        "tensor",
        ["values", "dtype"],
        |ctx: NativeCallContext, values: Array, dt: &str| -> R<Tensor> {
            let d = dtype(&ctx, dt)?;
            tensor_from(&ctx, &values, Some(d))
        },
    );

    api.doc("arange")
        .about("The int64 range [start, end) (start defaults to 0): positions, indices.")
        .torch("torch.arange");
    api.fun(
        "arange",
        ["end"],
        |ctx: NativeCallContext, end: i64| -> R<Tensor> { arange(&ctx, 0, end) },
    );
    api.fun(
        "arange",
        ["start", "end"],
        |ctx: NativeCallContext, start: i64, end: i64| -> R<Tensor> { arange(&ctx, start, end) },
    );

    api.doc("causal_mask")
        .about(
            "A [n, n] bool mask, true where query i may attend to key j (j <= i): pass it to \
             attention(q, k, v, mask) or where(mask, scores, -inf).",
        )
        .torch("torch.ones(n, n, dtype=torch.bool).tril()");
    api.fun(
        "causal_mask",
        ["n"],
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

    api.doc("random_adjacency")
        .about(
            "A random undirected graph on num_nodes nodes, each linked to k others, as a dense \
             [n, n] float32 adjacency matrix (seeded), normalized for GNN layers.",
        )
        .options(ADJACENCY_OPTS);
    for with_opts in [false, true] {
        let h = api.host.clone();
        let make = move |ctx: &NativeCallContext, n: i64, k: i64, opts: Map| -> R<Tensor> {
            let o = Opts::new(ctx, "random_adjacency", opts, ADJACENCY_OPTS)?;
            let n = positive(ctx, "num_nodes", n)?;
            if k < 1 || k as usize >= n {
                return Err(rt_err(
                    ctx,
                    format!("random_adjacency: k (neighbours per node) must be in 1..{n}, got {k}"),
                ));
            }
            if (n as u64).saturating_mul(n as u64).saturating_mul(4) > MAX_TENSOR_BYTES {
                return Err(rt_err(
                    ctx,
                    format!("random_adjacency: a dense {n}x{n} matrix is too large"),
                ));
            }
            let norm = match o.string("normalize")?.as_str() {
                "gcn" => AdjNorm::Gcn,
                "mean" => AdjNorm::Mean,
                "none" => AdjNorm::None,
                other => {
                    return Err(rt_err(
                        ctx,
                        format!(
                            "random_adjacency: normalize \"{other}\" is not known; use \"gcn\", \"mean\" or \"none\""
                        ),
                    ));
                }
            };
            let self_loops = match o.get("self_loops") {
                None => norm != AdjNorm::Mean,
                Some(_) => o.bool("self_loops")?,
            };
            let seed = h.lock().next_seed();
            Ok(Tensor::concrete(random_adjacency(
                n, k as usize, norm, self_loops, seed,
            )))
        };
        if with_opts {
            api.fun(
                "random_adjacency",
                ["num_nodes", "k", "opts"],
                move |ctx: NativeCallContext, n: i64, k: i64, opts: Map| make(&ctx, n, k, opts),
            );
        } else {
            api.fun(
                "random_adjacency",
                ["num_nodes", "k"],
                move |ctx: NativeCallContext, n: i64, k: i64| make(&ctx, n, k, Map::new()),
            );
        }
    }
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
