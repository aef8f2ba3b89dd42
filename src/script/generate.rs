//! `lm.generate(#{ input_ids }, #{ max_new_tokens })` at the top level of a
//! script (issue #18): traces a causal LM twice with a static KV cache, as
//! Hugging Face's StaticCache and ONNX Runtime GenAI do — prefill (the
//! prompt of P tokens, cache_position = arange(P)) and decode (one token at
//! a position input, past_key_values M long) — and records both graphs as
//! one build. The model keeps the convention of `transformers::kv_cache_setup`
//! (stdlib/transformers.rhai).

use super::host::{Call, Host};
use super::model::{Model, call_layer, flatten_io, rt_err};
use super::tensor::{Tensor, TensorKind};
use crate::cache::generation::GenerationInfo;
use crate::graph::{DType, Graph, HostTensor, TypeInfo};
use rhai::{Array, Dynamic, Map, NativeCallContext};

type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

/// The most new tokens a build may ask for: beyond it the cache alone
/// would outgrow any model's positions, and the loop any timeout.
pub const MAX_NEW_TOKENS: i64 = 32768;

/// The decode graph of a generation build and its shape.
#[derive(Clone, Debug)]
pub struct Generation {
    pub decode: Graph,
    pub info: GenerationInfo,
}

/// One traced graph of the model with the KV-cache inputs.
struct Traced {
    graph: Graph,
    /// Each layer's present key (its value has the same type).
    presents: Vec<TypeInfo>,
}

pub fn generate(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    inputs: Dynamic,
    options: Map,
) -> RhaiResult<Dynamic> {
    let class = model.class().to_string();
    let fail = |msg: String| rt_err(ctx, format!("{class}.generate: {msg}"));
    if host.lock().trace.is_some() {
        return Err(fail(
            "generate is intercepted at the top level of a script only; call forward inside a model".into(),
        ));
    }
    if host.lock().executor.is_some() {
        // Its tokens would be placeholders, not the model's.
        return Err(fail(
            "`turnkey run` does not run the generation loop: benchmark the script with \
             `turnkey SCRIPT`, whose rows generate and record the greedy tokens"
                .into(),
        ));
    }
    let items = flatten_io(&inputs, "input_ids").map_err(&fail)?;
    let ids = match items.as_slice() {
        [(_, t)] => t.clone(),
        _ => match items.iter().find(|(n, _)| n == "input_ids") {
            Some((_, t)) if items.len() == 1 => t.clone(),
            _ => {
                return Err(fail(
                    "takes #{ input_ids: ids } (int64 [batch, prompt]) and nothing else".into(),
                ));
            }
        },
    };
    let TensorKind::Concrete(ids_value) = &ids.0 else {
        return Err(fail(
            "input_ids must be a concrete tensor made at the top level".into(),
        ));
    };
    let info = ids.info();
    if info.dtype != DType::Int64 || info.shape.len() != 2 || info.shape.contains(&0) {
        return Err(fail(format!(
            "input_ids must be int64 [batch, prompt] with no empty dimension, got {} {:?}",
            info.dtype, info.shape
        )));
    }
    let (batch, prompt) = (info.shape[0], info.shape[1]);
    let new_tokens = new_tokens(&options).map_err(&fail)?;
    let max_cache_len = prompt + new_tokens;

    let position = |start: usize, len: usize| {
        HostTensor::from_fn(DType::Int64, &[len], |i| (start + i) as f64)
    };
    let prefill_inputs = vec![
        ("input_ids".to_string(), (**ids_value).clone()),
        ("cache_position".to_string(), position(0, prompt)),
    ];
    let prefill = trace(host, ctx, model, &prefill_inputs, None, max_cache_len)?;
    let Some(first) = prefill.presents.first().cloned() else {
        return Err(fail(
            "the model returned no present_key_values (no layers?)".into(),
        ));
    };
    let [b, kv_heads, m, head_dim] = first.shape[..] else {
        return Err(fail(format!(
            "present key 0 has shape {:?}; the convention is [batch, kv_heads, max_cache_len, head_dim]",
            first.shape
        )));
    };
    if b != batch || m != max_cache_len {
        return Err(fail(format!(
            "present key 0 has shape {:?}; expected batch {batch} and max_cache_len {max_cache_len}",
            first.shape
        )));
    }
    let decode_inputs = vec![
        (
            "input_ids".to_string(),
            HostTensor::zeros(DType::Int64, &[batch, 1]),
        ),
        ("cache_position".to_string(), position(prompt, 1)),
    ];
    let decode = trace(
        host,
        ctx,
        model,
        &decode_inputs,
        Some(&prefill.presents),
        max_cache_len,
    )?;
    if decode.presents != prefill.presents {
        return Err(fail(
            "the decode step's present_key_values differ in shape from prefill's".into(),
        ));
    }
    let info = GenerationInfo {
        prompt_tokens: prompt as u64,
        new_tokens: new_tokens as u64,
        max_cache_len: max_cache_len as u64,
        batch_size: batch as u64,
        layers: prefill.presents.len() as u64,
        kv_heads: kv_heads as u64,
        head_dim: head_dim as u64,
        kv_dtype_bytes: first.dtype.size_bytes() as u64,
        decode_onnx: "decode.onnx".into(),
    };
    let line = ctx.call_position().line().unwrap_or(0);
    let mut st = host.lock();
    let seed = st.next_seed();
    st.calls.push(Call {
        graph: prefill.graph,
        inputs: prefill_inputs,
        line,
        depth: 0,
        parent: None,
        generation: Some(Box::new(Generation {
            decode: decode.graph,
            info,
        })),
    });
    // The generated ids: placeholders while discovering (as forward's
    // outputs are), in the vocabulary's range.
    let vocab = 2.max(decode_vocab(&st.calls.last().expect("just pushed").graph)) as i64;
    Ok(Dynamic::from(Tensor::concrete(HostTensor::randint(
        DType::Int64,
        &[batch, new_tokens],
        0,
        vocab,
        seed,
    ))))
}

/// `max_new_tokens` from the options map: an int in 1..=MAX_NEW_TOKENS.
fn new_tokens(options: &Map) -> Result<usize, String> {
    let Some(v) = options.get("max_new_tokens") else {
        return Err("needs #{ max_new_tokens: N } as its second argument".into());
    };
    let Some(n) = v.as_int().ok() else {
        return Err(format!(
            "max_new_tokens must be an int, got {}",
            v.type_name()
        ));
    };
    if !(1..=MAX_NEW_TOKENS).contains(&n) {
        return Err(format!(
            "max_new_tokens {n} is out of range: use 1 to {MAX_NEW_TOKENS}"
        ));
    }
    if let Some(k) = options.keys().find(|k| k.as_str() != "max_new_tokens") {
        return Err(format!(
            "unknown option '{k}': generate takes max_new_tokens"
        ));
    }
    Ok(n as usize)
}

/// The vocabulary size: the last dimension of the `logits` output.
fn decode_vocab(g: &Graph) -> usize {
    g.outputs
        .iter()
        .find(|&&o| g.values[o].name == "logits")
        .and_then(|&o| g.info(o).shape.last().copied())
        .unwrap_or(2)
}

/// Traces one forward of `model` with the KV-cache arguments; `past`: the
/// present types of prefill, to take as past_key_values inputs.
fn trace(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    inputs: &[(String, HostTensor)],
    past: Option<&[TypeInfo]>,
    max_cache_len: usize,
) -> RhaiResult<Traced> {
    let class = model.class().to_string();
    let fail = |msg: String| rt_err(ctx, format!("{class}.generate: {msg}"));
    if !matches!(model.def.layer, super::model::Layer::Closure(_)) {
        // A host layer (nn::linear, ...) has no LM head and no cache.
        return Err(fail(format!(
            "{class} is a single layer, not a causal LM: generate needs a model whose forward \
             takes the KV-cache arguments and returns #{{ logits, present_key_values }} \
             (transformers::llama, transformers::gpt2, or see transformers::kv_cache_setup)"
        )));
    }
    let mut arg = Map::new();
    {
        let mut st = host.lock();
        let id = st.start_trace(&class);
        let trace = st.trace.as_mut().expect("just started");
        trace.paths = super::naming::module_paths(model);
        trace.bindings = super::weights::bindings(model);
        for (name, t) in inputs {
            let info = TypeInfo::new(t.shape.clone(), t.dtype);
            let v = trace.graph.add_input(name, info.clone());
            arg.insert(
                name.as_str().into(),
                Dynamic::from(Tensor::traced(id, v, info)),
            );
        }
        if let Some(past) = past {
            let mut layers = Array::new();
            for (i, info) in past.iter().enumerate() {
                let k = trace
                    .graph
                    .add_input(&format!("past_key_values.{i}.key"), info.clone());
                let v = trace
                    .graph
                    .add_input(&format!("past_key_values.{i}.value"), info.clone());
                layers.push(Dynamic::from_array(vec![
                    Dynamic::from(Tensor::traced(id, k, info.clone())),
                    Dynamic::from(Tensor::traced(id, v, info.clone())),
                ]));
            }
            arg.insert("past_key_values".into(), Dynamic::from_array(layers));
        }
    }
    arg.insert("max_cache_len".into(), Dynamic::from(max_cache_len as i64));
    let result = call_layer(host, ctx, model, Dynamic::from_map(arg), model.dtype);
    let trace = host.lock().trace.take().expect("trace still active");
    let out = result?;
    if let Some(clash) = &trace.name_clash {
        return Err(fail(clash.clone()));
    }
    let mut graph = trace.graph;
    let convention = "the model's forward must return #{ logits, present_key_values } when given \
                      max_cache_len (a causal LM with the KV-cache convention: see \
                      transformers::kv_cache_setup)";
    let Some(map) = out.clone().try_cast::<Map>() else {
        return Err(fail(format!(
            "{convention}; it returned {}",
            out.type_name()
        )));
    };
    let (Some(logits), Some(presents)) = (
        map.get("logits")
            .and_then(|d| d.clone().try_cast::<Tensor>()),
        map.get("present_key_values")
            .and_then(|d| d.clone().try_cast::<Array>()),
    ) else {
        return Err(fail(convention.to_string()));
    };
    let add = |graph: &mut Graph, name: &str, t: &Tensor| match &t.0 {
        TensorKind::Traced { value, .. } => graph.add_output(name, *value),
        TensorKind::Concrete(h) => {
            let v = graph.add_const((**h).clone());
            graph.add_output(name, v);
        }
    };
    let li = logits.info();
    if li.shape.len() != 3 || li.shape[1] != inputs[0].1.shape[1] || !li.dtype.is_float() {
        return Err(fail(format!(
            "logits must be float [batch, seq, vocab], got {} {:?}",
            li.dtype, li.shape
        )));
    }
    add(&mut graph, "logits", &logits);
    let mut types = Vec::new();
    for (i, layer) in presents.iter().enumerate() {
        let kv = layer
            .clone()
            .try_cast::<Array>()
            .and_then(|a| {
                let k = a.first()?.clone().try_cast::<Tensor>()?;
                let v = a.get(1)?.clone().try_cast::<Tensor>()?;
                (a.len() == 2).then_some((k, v))
            })
            .ok_or_else(|| fail(format!("present_key_values[{i}] must be [key, value]")))?;
        if kv.0.info() != kv.1.info() {
            return Err(fail(format!(
                "present_key_values[{i}]: key {:?} and value {:?} differ",
                kv.0.info().shape,
                kv.1.info().shape
            )));
        }
        add(&mut graph, &format!("present.{i}.key"), &kv.0);
        add(&mut graph, &format!("present.{i}.value"), &kv.1);
        types.push(kv.0.info());
    }
    Ok(Traced {
        graph,
        presents: types,
    })
}

/// A generation build's hash: prefill's and decode's structure and N.
pub fn build_hash(prefill: &Graph, g: &Generation) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"generate\0");
    h.update(prefill.structure_hash().as_bytes());
    h.update(b"\0decode\0");
    h.update(g.decode.structure_hash().as_bytes());
    h.update(format!("\0new_tokens {}", g.info.new_tokens).as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    #[test]
    fn max_new_tokens_must_be_a_positive_int_in_range() {
        assert_eq!(
            new_tokens(&opts(&[("max_new_tokens", Dynamic::from(7_i64))])),
            Ok(7)
        );
        let max = Dynamic::from(MAX_NEW_TOKENS);
        assert_eq!(
            new_tokens(&opts(&[("max_new_tokens", max)])),
            Ok(MAX_NEW_TOKENS as usize)
        );
        for bad in [0_i64, -3, MAX_NEW_TOKENS + 1] {
            let e = new_tokens(&opts(&[("max_new_tokens", Dynamic::from(bad))])).unwrap_err();
            assert!(e.contains("out of range"), "{e}");
        }
        let e = new_tokens(&opts(&[("max_new_tokens", Dynamic::from(2.5_f64))])).unwrap_err();
        assert!(e.contains("must be an int"), "{e}");
        assert!(
            new_tokens(&Map::new())
                .unwrap_err()
                .contains("needs #{ max_new_tokens")
        );
        let e = new_tokens(&opts(&[
            ("max_new_tokens", Dynamic::from(4_i64)),
            ("do_sample", Dynamic::from(true)),
        ]))
        .unwrap_err();
        assert!(e.contains("unknown option 'do_sample'"), "{e}");
    }
}
