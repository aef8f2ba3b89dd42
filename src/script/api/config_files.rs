//! Config files and warnings for builders that take a library's own
//! configs: `read_json(path)` (inside the script sandbox) and `warn(msg)`
//! (a note in the build's warnings, e.g. a config key a builder ignores).

use super::super::model::rt_err;
use super::super::weights::sandboxed;
use super::Api;
use super::util::R;
use rhai::{Array, Dynamic, Map, NativeCallContext};

pub fn register(api: &mut Api) {
    api.family("config");
    api.doc("read_json")
        .about(
            "The contents of a JSON file (relative to the script, inside its folder or the \
             models dir) as Rhai values: objects become maps, arrays arrays, integers int, \
             other numbers float, null (). E.g. a Hugging Face config.json for \
             transformers::from_config.",
        )
        .torch("json.load(open(path))");
    let h = api.host.clone();
    api.fun(
        "read_json",
        ["path"],
        move |ctx: NativeCallContext, path: &str| -> R<Dynamic> {
            let access = h.lock().files.clone();
            read_json(&access, path).map_err(|e| rt_err(&ctx, e))
        },
    );

    api.doc("warn")
        .about(
            "Adds a line to the build's warnings (printed once as `warning: <script>: msg` and \
             kept in its record): something the script or a builder chose to go on without, \
             e.g. a config key it does not use. The same message twice is kept once.",
        )
        .torch("warnings.warn(msg)");
    let h = api.host.clone();
    api.fun("warn", ["msg"], move |msg: &str| {
        let mut st = h.lock();
        if !st.notes.iter().any(|n| n == msg) {
            st.notes.push(msg.to_string());
        }
    });

    api.doc("record_config")
        .about(
            "Keeps a builder's config as it resolved it (its defaults applied) beside the \
             script's builds, for tests that compare it key by key with the reference \
             library's config (tests/zoo_config.rs). Changes nothing in the model.",
        )
        .torch("model.config.to_dict()");
    let h = api.host.clone();
    api.fun(
        "record_config",
        ["builder", "config"],
        move |builder: &str, config: Map| {
            let value = to_json(&Dynamic::from_map(config));
            h.lock().configs.push((builder.to_string(), value));
        },
    );
}

/// A Rhai value as JSON: () is null, tensors and closures their type name
/// (a config holds neither in practice).
fn to_json(v: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
    if v.is_unit() {
        Value::Null
    } else if let Ok(b) = v.as_bool() {
        b.into()
    } else if let Ok(i) = v.as_int() {
        i.into()
    } else if let Ok(f) = v.as_float() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        Value::String(s.to_string())
    } else if let Some(a) = v.read_lock::<Array>() {
        Value::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = v.read_lock::<Map>() {
        Value::Object(m.iter().map(|(k, x)| (k.to_string(), to_json(x))).collect())
    } else {
        Value::String(format!("<{}>", v.type_name()))
    }
}

/// Reads and parses `path` (sandboxed like load_weights), or one line
/// naming the file and what is wrong with it.
fn read_json(access: &super::super::weights::FileAccess, path: &str) -> Result<Dynamic, String> {
    let full = sandboxed(access, "read_json", path)?;
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("read_json(\"{path}\"): cannot read {}: {e}", full.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "read_json(\"{path}\"): not valid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    Ok(to_dynamic(value))
}

fn to_dynamic(v: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.into(),
        Value::Array(a) => a.into_iter().map(to_dynamic).collect::<Array>().into(),
        Value::Object(o) => o
            .into_iter()
            .map(|(k, v)| (k.into(), to_dynamic(v)))
            .collect::<Map>()
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_keep_their_kind() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": 12, "b": 1e-12, "c": null, "d": [true, "x"]}"#).unwrap();
        let m = to_dynamic(v).cast::<Map>();
        assert_eq!(m["a"].as_int().unwrap(), 12);
        assert_eq!(m["b"].as_float().unwrap(), 1e-12);
        assert!(m["c"].is_unit());
        assert_eq!(m["d"].clone().cast::<Array>().len(), 2);
    }
}
