//! `nn::lstm`, `nn::gru`, `nn::rnn`: PyTorch's recurrent layers, each one
//! IR op ([`Rnn`]) over all its layers and directions, with PyTorch's
//! parameter names, shapes and init, and its forward's inputs and outputs.

use super::super::host::{Host, Trace};
use super::super::model::{self, Layer, Model, ModelDef, flatten_io, rt_err, uniform_param};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{DTYPE_OPT, OptSpec, Opts, R, opt, positive};
use crate::graph::{DType, Op, Param, Rnn, RnnMode, ValueId, shape_str};
use rhai::{Dynamic, Map, NativeCallContext};

/// The options of nn.LSTM/GRU/RNN; `$extra` are the class's own.
macro_rules! rnn_opts {
    ($($extra:expr),*) => {
        &[
            opt("num_layers", "1", "stacked layers; each reads the previous one's output"),
            opt("bias", "true", "learn bias_ih and bias_hh"),
            opt(
                "batch_first",
                "false",
                "input and output are [batch, seq, feature] (h0 and h_n are not)",
            ),
            opt(
                "bidirectional",
                "false",
                "add a reverse direction: output features and h_n rows double",
            ),
            opt(
                "dropout",
                "0.0",
                "in [0, 1]: between layers in training; identity at inference",
            ),
            $($extra,)*
            DTYPE_OPT,
        ]
    };
}

const LSTM_OPTS: &[OptSpec] = rnn_opts!(opt(
    "proj_size",
    "0",
    "LSTM projections: only 0 (none); ONNX's LSTM has no projection"
));
const GRU_OPTS: &[OptSpec] = rnn_opts!();
const RNN_OPTS: &[OptSpec] = rnn_opts!(opt(
    "nonlinearity",
    "\"tanh\"",
    "\"tanh\" or \"relu\" (relu: tract cannot run it, ORT and torch can)"
));

const SHAPES: &str = "x is [seq, batch, input_size] ([batch, seq, input_size] with batch_first, \
     or unbatched [seq, input_size]); output is [seq, batch, D * hidden_size] (D = 2 when \
     bidirectional; batch first with batch_first); h0 and h_n are [num_layers * D, batch, \
     hidden_size] whatever batch_first. Parameters as in PyTorch: weight_ih_l{k}[_reverse], \
     weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, uniform(+-1/sqrt(hidden_size)).";

pub fn register(api: &mut Api) {
    api.family("recurrent");
    let layers = [
        (
            "lstm",
            RnnMode::Lstm,
            LSTM_OPTS,
            "nn.LSTM",
            "A multi-layer LSTM (gates i, f, g, o stacked in each weight; the export reorders \
             them to ONNX's i, o, f, c with Split/Concat nodes that runtimes fold at load). \
             forward takes x, [x, h0, c0] or #{input, h0, c0} and returns [output, h_n, c_n].",
            "LSTM per layer; Split, Concat, Unsqueeze, Transpose, Reshape",
        ),
        (
            "gru",
            RnnMode::Gru,
            GRU_OPTS,
            "nn.GRU",
            "A multi-layer GRU (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), \
             ONNX's linear_before_reset = 1; the export reorders the gates to ONNX's z, r, h). \
             forward takes x, [x, h0] or #{input, h0} and returns [output, h_n].",
            "GRU per layer; Split, Concat, Unsqueeze, Transpose, Reshape",
        ),
        (
            "rnn",
            RnnMode::RnnTanh,
            RNN_OPTS,
            "nn.RNN",
            "A multi-layer Elman RNN, h = tanh or relu(W_ih x + b_ih + W_hh h + b_hh). forward \
             takes x, [x, h0] or #{input, h0} and returns [output, h_n]. tract ignores ONNX \
             RNN activations, so it refuses a relu RNN (ORT and torch run it).",
            "RNN per layer (activations Relu for relu); Concat, Unsqueeze, Transpose, Reshape",
        ),
    ];
    for (name, mode, opts, torch, about, onnx) in layers {
        api.doc_layer(name)
            .about(&format!("{about} {SHAPES}"))
            .onnx(onnx)
            .torch(torch)
            .options(opts);
        let h = api.host.clone();
        api.layer(
            name,
            ["input_size", "hidden_size"],
            move |ctx: NativeCallContext, i: i64, hs: i64| {
                make(&ctx, &h, name, mode, opts, i, hs, Map::new())
            },
        );
        let h = api.host.clone();
        api.layer(
            name,
            ["input_size", "hidden_size", "opts"],
            move |ctx: NativeCallContext, i: i64, hs: i64, o: Map| {
                make(&ctx, &h, name, mode, opts, i, hs, o)
            },
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn make(
    ctx: &NativeCallContext,
    h: &Host,
    name: &str,
    mode: RnnMode,
    spec: &'static [OptSpec],
    input_size: i64,
    hidden_size: i64,
    opts: Map,
) -> R<Model> {
    let fname = format!("nn::{name}");
    let o = Opts::new(ctx, &fname, opts, spec)?;
    let input_size = positive(ctx, "input_size", input_size)?;
    let hidden_size = positive(ctx, "hidden_size", hidden_size)?;
    let num_layers = positive(ctx, "num_layers", o.int("num_layers")?)?;
    let bad = |msg: String| rt_err(ctx, format!("{fname}: {msg}"));
    let dropout = o.float("dropout")?;
    if !(0.0..=1.0).contains(&dropout) {
        return Err(bad(format!(
            "dropout must be a probability in [0, 1], got {dropout}"
        )));
    }
    let mode = match mode {
        RnnMode::Lstm => match o.int("proj_size")? {
            0 => RnnMode::Lstm,
            p => {
                return Err(bad(format!(
                    "proj_size {p} is not supported (ONNX's LSTM has no projection); leave it 0"
                )));
            }
        },
        RnnMode::Gru => RnnMode::Gru,
        RnnMode::RnnTanh | RnnMode::RnnRelu => match o.string("nonlinearity")?.as_str() {
            "tanh" => RnnMode::RnnTanh,
            "relu" => RnnMode::RnnRelu,
            other => {
                return Err(bad(format!(
                    "nonlinearity \"{other}\" is not known; use \"tanh\" or \"relu\""
                )));
            }
        },
    };
    let dt = o.dtype()?;
    if !dt.is_float() {
        return Err(bad(format!("dtype {dt} is not a float dtype")));
    }
    let rnn = Rnn {
        mode,
        hidden_size,
        num_layers,
        bias: o.bool("bias")?,
        batch_first: o.bool("batch_first")?,
        bidirectional: o.bool("bidirectional")?,
        initial_state: false,
    };
    // torch/nn/modules/rnn.py reset_parameters: every parameter
    // uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
    let bound = 1.0 / (hidden_size as f64).sqrt();
    let named: Vec<(String, Param)> = rnn
        .params(input_size)
        .into_iter()
        .map(|(n, shape)| (n, uniform_param(h, &shape, bound, dt)))
        .collect();
    let params = named.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    Ok(Model::new(
        h,
        mode.class(),
        Layer::Recurrent(rnn),
        params,
        vec![],
    ))
}

/// `model.forward(arg)` of a recurrent layer: [output, h_n] or
/// [output, h_n, c_n].
pub(crate) fn forward(
    host: &Host,
    ctx: &NativeCallContext,
    def: &ModelDef,
    rnn: &Rnn,
    arg: Dynamic,
    dtype: Option<DType>,
) -> R<Dynamic> {
    let class = def.class.as_str();
    let fail = |e: String| {
        let e = if e.starts_with(&format!("{class}: ")) {
            e
        } else {
            format!("{class}: {e}")
        };
        rt_err(ctx, e)
    };
    let (x, states) = arguments(rnn.mode, &arg).map_err(fail)?;
    let outs = host
        .with_trace(|t| trace(t, def, rnn, &x, &states, dtype))
        .map_err(fail)?;
    Ok(Dynamic::from_array(
        outs.into_iter().map(Dynamic::from).collect(),
    ))
}

/// x and the initial states given to a forward.
fn arguments(mode: RnnMode, arg: &Dynamic) -> Result<(Tensor, Vec<Tensor>), String> {
    let (usage, keys): (&str, &[&str]) = if mode == RnnMode::Lstm {
        (
            "x, [x, h0, c0] or #{ input: x, h0: h0, c0: c0 }",
            &["input", "h0", "c0"],
        )
    } else {
        ("x, [x, h0] or #{ input: x, h0: h0 }", &["input", "h0"])
    };
    let d = arg.flatten_clone();
    let (x, states) = if let Some(m) = d.clone().try_cast::<Map>() {
        if let Some(k) = m.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(format!("unknown input '{k}'; forward takes {usage}"));
        }
        let get = |k: &str| {
            m.get(k).map(|v| {
                let v = v.flatten_clone();
                let tn = v.type_name();
                v.try_cast::<Tensor>()
                    .ok_or_else(|| format!("input '{k}' is {tn}, not a tensor"))
            })
        };
        let x = get("input")
            .ok_or_else(|| format!("the map has no 'input'; forward takes {usage}"))??;
        let mut states = Vec::new();
        for k in &keys[1..] {
            if let Some(s) = get(k) {
                states.push(s?);
            }
        }
        (x, states)
    } else {
        let mut items = flatten_io(&d, "input")
            .map_err(|e| format!("{e}; forward takes {usage}"))?
            .into_iter()
            .map(|(_, t)| t);
        let x = items
            .next()
            .ok_or_else(|| format!("no input; forward takes {usage}"))?;
        (x, items.collect())
    };
    if !states.is_empty() && states.len() != mode.states() {
        return Err(if mode == RnnMode::Lstm {
            format!("give both initial states h0 and c0, or neither; forward takes {usage}")
        } else {
            format!("takes one initial state h0; forward takes {usage}")
        });
    }
    Ok((x, states))
}

/// The op over x, the states and the parameters; an unbatched 2-d input
/// (and its 2-d states) gets a batch axis of 1 and loses it after.
fn trace(
    t: &mut Trace,
    def: &ModelDef,
    rnn: &Rnn,
    x: &Tensor,
    states: &[Tensor],
    dtype: Option<DType>,
) -> Result<Vec<Tensor>, String> {
    let unbatched = match x.rank() {
        2 => true,
        3 => false,
        _ => {
            return Err(format!(
                "expects x of [seq, batch, input_size] ([batch, seq, input_size] with \
                 batch_first) or an unbatched [seq, input_size], got {}",
                shape_str(x.shape())
            ));
        }
    };
    let x_batch = if rnn.batch_first { 0 } else { 1 };
    let state_rank = if unbatched { 2 } else { 3 };
    for (s, name) in states.iter().zip(["h0", "c0"]) {
        if s.rank() != state_rank {
            return Err(format!(
                "for a {}-d input, {name} must be {state_rank}-d [num_layers * num_directions, \
                 {}hidden_size], got {}",
                x.rank(),
                if unbatched { "" } else { "batch, " },
                shape_str(s.shape())
            ));
        }
    }
    let unsqueeze = |t: &mut Trace, v: ValueId, axis: usize| -> Result<ValueId, String> {
        if !unbatched {
            return Ok(v);
        }
        let y = t.apply_ids(Op::Unsqueeze { axes: vec![axis] }, &[v])?;
        t.value_of(&y[0])
    };
    let xv = t.value_of(x)?;
    let mut ins = vec![unsqueeze(t, xv, x_batch)?];
    for s in states {
        let v = t.value_of(s)?;
        ins.push(unsqueeze(t, v, 1)?);
    }
    for i in 0..def.params.len() {
        ins.push(model::p(t, def, i, dtype));
    }
    let op = Op::Recurrent(Rnn {
        initial_state: !states.is_empty(),
        ..rnn.clone()
    });
    let outs = t.apply_ids(op, &ins)?;
    if !unbatched {
        return Ok(outs);
    }
    outs.iter()
        .enumerate()
        .map(|(k, o)| {
            let axis = if k == 0 { x_batch } else { 1 };
            let v = t.value_of(o)?;
            Ok(t.apply_ids(Op::Squeeze { axes: vec![axis] }, &[v])?
                .remove(0))
        })
        .collect()
}
