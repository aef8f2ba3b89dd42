//! `parse()`, the `Model` methods (`forward`, `params`, `param`, `half`,
//! ...) and the tensor properties (`shape`, `dtype`, ...).

use super::super::args::{ArgValue, known_names};
use super::super::model::{self, Model, param_dtype, rt_err};
use super::super::tensor::Tensor;
use super::Api;
use super::util::{R, dtype};
use crate::graph::DType;
use rhai::{Array, Dynamic, ImmutableString, Map, NativeCallContext};

pub fn register(api: &mut Api) {
    api.family("script");
    api.doc("parse").about(
        "The script's parameters: a map from each requested name to its value, from \
         --script-args or the standard default (batch_size 1, max_seq_length 128, \
         max_audio_seq_length 25600, height 224, width 224, num_channels 3, pretrained false, \
         k 8, alpha 2.2, out_channels 16, num_layers 8, in_channels 1433). An unknown name is \
         an error; the values are part of the build's identity.",
    );
    let h = api.host.clone();
    api.fun(
        "parse",
        ["names"],
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
                // --weights makes pretrained true unless --script-args says otherwise.
                let v = if name == "pretrained"
                    && st.files.weights.is_some()
                    && !st.args.values.contains_key("pretrained")
                {
                    Some(ArgValue::Bool(true))
                } else {
                    st.args.get(&name)
                };
                let Some(v) = v else {
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

    api.family("model");
    api.doc("forward")
        .about(
            "Calls the model. At the top level of a script this is what turnkey intercepts: the \
         call is traced into a graph, exported and benchmarked (one build per distinct call), \
         and returns concrete tensors of the output shapes. Inside another model's forward it \
         becomes part of that graph. Inputs: a tensor, an array of tensors, or a map of named \
         tensors (a map with one entry is that tensor).",
        )
        .torch("module(...)");
    let h = api.host.clone();
    api.fun(
        "forward",
        ["model", "inputs"],
        move |ctx: NativeCallContext, m: &mut Model, inputs: Dynamic| -> R<Dynamic> {
            let m = m.clone();
            model::forward(&h, &ctx, &m, inputs)
        },
    );
    api.doc("generate")
        .about(
            "Greedy generation with a KV cache, intercepted at the top level of a script: \
         `lm.generate(#{ input_ids: ids }, #{ max_new_tokens: N })` traces the causal LM twice \
         with a static cache of P + N positions, prefill (the [batch, P] prompt) and decode (one \
         token at a cache_position), and makes one build of both graphs; each runtime row \
         runs prefill once and N - 1 decode steps, timed (TTFT, per-token latency, tokens/s). \
         The model's forward must follow the KV-cache convention of \
         transformers::kv_cache_setup (the stdlib's llama and gpt2 do). Returns [batch, N] \
         token ids (placeholders while discovering).",
        )
        .torch("model.generate(input_ids, max_new_tokens=N, do_sample=False)");
    let h = api.host.clone();
    api.fun(
        "generate",
        ["model", "inputs", "options"],
        move |ctx: NativeCallContext,
              m: &mut Model,
              inputs: Dynamic,
              options: rhai::Map|
              -> R<Dynamic> {
            let m = m.clone();
            crate::script::generate::generate(&h, &ctx, &m, inputs, options)
        },
    );
    api.doc_property("params")
        .about("Trainable parameter count (buffers excluded, shared weights once), known before any call.")
        .torch("sum(p.numel() for p in model.parameters())");
    api.getter("params", |m: &mut Model| -> i64 {
        m.param_stats().0 as i64
    });
    api.doc_property("param_bytes")
        .about("Bytes of all parameters and buffers, in their dtypes.");
    api.getter("param_bytes", |m: &mut Model| -> i64 {
        m.param_stats().1 as i64
    });
    api.doc_property("name").about("The model's class name.");
    api.getter("name", |m: &mut Model| -> ImmutableString {
        m.class().into()
    });
    api.doc("half")
        .about("The same model with float16 parameters (a new build; the original is unchanged).")
        .torch("model.half()");
    api.fun("half", ["model"], |m: &mut Model| -> Model {
        Model {
            dtype: Some(DType::Float16),
            ..m.clone()
        }
    });
    api.doc("to_dtype")
        .about("The same model with its float parameters in another float dtype.")
        .torch("model.to(dtype)");
    api.fun(
        "to_dtype",
        ["model", "dtype"],
        |ctx: NativeCallContext, m: &mut Model, d: &str| -> R<Model> {
            let d = dtype(&ctx, d)?;
            if !d.is_float() {
                return Err(rt_err(
                    &ctx,
                    format!("models hold float parameters; {d} is not a float dtype"),
                ));
            }
            Ok(Model {
                dtype: Some(d),
                ..m.clone()
            })
        },
    );
    api.doc("param")
        .about(
            "One of the model's own parameters as a tensor, inside a forward (tied weights, \
             class tokens, layer scales); an unknown name lists the model's parameters.",
        )
        .torch("module.weight");
    let h = api.host.clone();
    api.fun(
        "param",
        ["model", "name"],
        move |ctx: NativeCallContext, m: &mut Model, name: &str| -> R<Tensor> {
            let Some(pd) = m.def.params.iter().find(|p| p.local == name) else {
                let names: Vec<&str> = m.def.params.iter().map(|p| p.local.as_str()).collect();
                return Err(rt_err(
                    &ctx,
                    format!(
                        "{} has no parameter '{name}'; its parameters: {}",
                        m.class(),
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            };
            let dt = param_dtype(&pd.param, m.dtype);
            h.with_trace(|t| {
                let v = t.param(m.def.uid, pd.uid, &pd.local, &pd.param, Some(dt));
                Ok(t.tensor(v))
            })
            .map_err(|e| rt_err(&ctx, e))
        },
    );
    api.doc("get_submodule")
        .about(
            "The child model at a dotted module path (\"encoder.layer.0\", \"features.3\"), \
             named as the exported parameters are; \"\" is the model itself. Reading a child \
             this way does not make it a child of the module whose forward reads it (a tied LM \
             head: transformer.get_submodule(\"wte\").param(\"weight\")).",
        )
        .torch("model.get_submodule(target)");
    api.fun(
        "get_submodule",
        ["model", "target"],
        |ctx: NativeCallContext, m: &mut Model, target: &str| -> R<Model> {
            let mut child =
                super::super::naming::submodule(m, target).map_err(|e| rt_err(&ctx, e))?;
            child.dtype = child.dtype.or(m.dtype);
            // A child read from a loaded model keeps the loaded weights.
            if child.weights.is_none() {
                child.weights = m.weights.clone();
            }
            Ok(child)
        },
    );
    api.doc("to_string")
        .about("A one-line description (also what print and `${x}` show).");
    api.fun("to_string", ["model"], |m: &mut Model| -> String {
        m.describe()
    });
    api.fun("to_string", ["x"], |t: &mut Tensor| -> String {
        t.describe()
    });
    api.doc("to_debug")
        .about("Same as to_string (what debug() shows).");
    api.fun("to_debug", ["model"], |m: &mut Model| -> String {
        m.describe()
    });
    api.fun("to_debug", ["x"], |t: &mut Tensor| -> String {
        t.describe()
    });

    api.family("tensor");
    api.doc_property("shape")
        .about("The dimensions, an array of ints (known while tracing).")
        .torch("x.shape");
    api.getter("shape", |t: &mut Tensor| -> Array {
        t.shape().iter().map(|&d| Dynamic::from(d as i64)).collect()
    });
    api.doc_property("dtype")
        .about("The element type as a string (\"float32\", \"int64\", \"bool\", ...).")
        .torch("x.dtype");
    api.getter("dtype", |t: &mut Tensor| -> ImmutableString {
        t.dtype().name().into()
    });
    api.doc_property("rank")
        .about("The number of dimensions.")
        .torch("x.dim()");
    api.getter("rank", |t: &mut Tensor| -> i64 { t.rank() as i64 });
    api.doc_property("numel")
        .about("The number of elements.")
        .torch("x.numel()");
    api.getter("numel", |t: &mut Tensor| -> i64 {
        t.shape().iter().product::<usize>() as i64
    });
}
