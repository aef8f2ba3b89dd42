//! Real weights: `model.load_weights(...)` and `load_tensors(path)`
//! (script::weights does the work).

use super::super::model::{Model, rt_err};
use super::super::weights::{self, OPTION_KEYS, Source};
use super::Api;
use super::util::R;
use crate::script::host::Host;
use rhai::{Map, NativeCallContext};

pub fn register(api: &mut Api) {
    api.family("weights");
    api.doc("load_weights")
        .about(
            "The model with real weights from a safetensors checkpoint (the original is \
             unchanged, as with half()). source: a .safetensors file, a sharded checkpoint's \
             model.safetensors.index.json, or a folder holding either, relative to the script \
             (inside its folder or the models dir); or \"hf:ORG/NAME[@REVISION]\", a repo in the \
             local Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub; never \
             downloaded). Tensors match parameters by their state_dict names (a checkpoint saved \
             under a head's prefix, e.g. bert., or without the model's outer prefix, e.g. \
             transformer., is found; legacy LayerNorm gamma/beta read as weight/bias; tied \
             weights load from any of their names). Missing and unexpected keys and other shapes \
             are one error listing the first few, unless opts has strict: false (then what fits \
             is loaded, the rest keeps random weights, and the build's warnings say so). Floats \
             convert to the parameter's dtype (bf16 -> float32, float32 -> float16 after \
             half(), ...), said in the warnings. Nothing is read until export, which streams each \
             tensor from the memory-mapped file. opts: strict (true), prefix (the checkpoint's \
             keys are the model's names under it), ignore (checkpoint keys to leave out, globs: \
             [\"*.attn.bias\"]), aliases (#{ \"lm_head.weight\": \"transformer.wte.weight\" }: more \
             checkpoint keys of a parameter). The map form takes a builder's config: weights \
             (a source), or pretrained: true, which loads --weights PATH when given, else the \
             config's repo (and revision) from the Hugging Face cache; no weights nor pretrained: \
             the model as it is.",
        )
        .torch("model.load_state_dict(safetensors.torch.load_file(path), strict=True)");
    let h = api.host.clone();
    api.fun(
        "load_weights",
        ["model", "source"],
        move |ctx: NativeCallContext, m: &mut Model, source: &str| -> R<Model> {
            load(&ctx, &h, m, Source::parse(source), &Map::new())
        },
    );
    let h = api.host.clone();
    api.fun(
        "load_weights",
        ["model", "source", "opts"],
        move |ctx: NativeCallContext, m: &mut Model, source: &str, opts: Map| -> R<Model> {
            if let Some(k) = opts.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
                return Err(rt_err(
                    &ctx,
                    format!(
                        "load_weights: unknown option \"{k}\"; known: {}",
                        OPTION_KEYS.join(", ")
                    ),
                ));
            }
            load(&ctx, &h, m, Source::parse(source), &opts)
        },
    );
    let h = api.host.clone();
    api.fun(
        "load_weights",
        ["model", "config"],
        move |ctx: NativeCallContext, m: &mut Model, config: Map| -> R<Model> {
            let access = h.lock().files.clone();
            match weights::config_source(&access, &config) {
                Ok(Some(source)) => load(&ctx, &h, m, source, &config),
                Ok(None) => Ok(m.clone()),
                Err(e) => Err(rt_err(&ctx, format!("{}: {e}", m.class()))),
            }
        },
    );

    api.doc("load_tensors")
        .about(
            "Every tensor of a safetensors file (relative to the script, inside its folder or \
             the models dir), as a map of concrete tensors by name: real inputs for a model.",
        )
        .torch("safetensors.torch.load_file(path)");
    let h = api.host.clone();
    api.fun(
        "load_tensors",
        ["path"],
        move |ctx: NativeCallContext, path: &str| -> R<Map> {
            let access = h.lock().files.clone();
            weights::load_tensors(&h, &access, path).map_err(|e| rt_err(&ctx, e))
        },
    );
}

fn load(ctx: &NativeCallContext, h: &Host, m: &Model, source: Source, opts: &Map) -> R<Model> {
    let err = |e: String| rt_err(ctx, format!("{}.load_weights: {e}", m.class()));
    let opts = weights::bind_options(opts).map_err(err)?;
    let access = h.lock().files.clone();
    let (model, notes) = weights::load(&access, m, &source, &opts).map_err(err)?;
    let mut st = h.lock();
    if matches!(source, Source::CommandLine(_)) {
        st.weights_used = true;
    }
    st.notes.extend(notes);
    Ok(model)
}
