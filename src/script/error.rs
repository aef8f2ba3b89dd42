//! Script errors as one line that names the file and line.

use super::api::Book;
use rhai::{EvalAltResult, ParseError};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScriptError {
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    #[error(
        "{path}:{line}: malformed labels token '{token}': {why} (expected e.g. `# labels: name::resnet author::me task::vision,classification`)"
    )]
    Labels {
        path: String,
        line: usize,
        token: String,
        why: String,
    },
    #[error("{path}:{line}: {msg}")]
    At {
        path: String,
        line: usize,
        msg: String,
    },
    /// The script ran past `--timeout` (e.g. an endless loop).
    #[error(
        "{path}:{line}: the script ran past the {seconds} s time limit (--timeout): is there an endless loop?"
    )]
    Timeout {
        path: String,
        line: usize,
        seconds: f64,
    },
    /// The user pressed Ctrl-C while the script ran.
    #[error("{path}: interrupted by the user")]
    Interrupted { path: String },
    #[error("{path}: no model call found: the script must call model.forward(inputs) at top level")]
    NoModelCall { path: String },
}

impl ScriptError {
    pub fn file(path: &Path, msg: impl Into<String>) -> Self {
        ScriptError::File {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }
}

pub fn from_parse(path: &Path, e: &ParseError) -> ScriptError {
    ScriptError::At {
        path: path.display().to_string(),
        line: e.position().line().unwrap_or(0),
        msg: format!("syntax error: {}", e.err_type()),
    }
}

/// The innermost message, at the deepest position that lies in the user's
/// script (errors inside stdlib functions are reported at the user's call).
pub fn from_eval(
    path: &Path,
    e: &EvalAltResult,
    is_stdlib: &dyn Fn(&str) -> bool,
    book: &Book,
) -> ScriptError {
    let mut cur = e;
    let mut line = e.position().line();
    let mut in_user = true;
    let mut via: Option<String> = None;
    loop {
        match cur {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                if in_user {
                    line = pos.line().or(line);
                }
                let stdlib = !src.is_empty() || is_stdlib(name);
                if in_user && stdlib {
                    via = Some(if src.is_empty() {
                        "in a stdlib closure".to_string()
                    } else {
                        format!("in {name} ({src})")
                    });
                }
                in_user = in_user && !stdlib;
                cur = inner;
            }
            EvalAltResult::ErrorInModule(_, inner, pos) => {
                if in_user {
                    line = pos.line().or(line);
                }
                cur = inner;
            }
            _ => break,
        }
    }
    if in_user {
        line = cur.position().line().or(line);
    }
    if let EvalAltResult::ErrorTerminated(token, _) = cur {
        if token.is_string() {
            return ScriptError::Interrupted {
                path: path.display().to_string(),
            };
        }
        return ScriptError::Timeout {
            path: path.display().to_string(),
            line: line.unwrap_or(0),
            seconds: token.as_float().unwrap_or(0.0),
        };
    }
    let mut msg = match cur {
        EvalAltResult::ErrorRuntime(d, _) if d.is_string() => d.to_string(),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too long (operation limit reached): is there an endless loop?"
                .to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "call stack overflow (more than {} nested calls): is there an endless recursion?",
            super::MAX_CALL_LEVELS
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!(
            "{what} is over the script limit (strings {} MiB; arrays {} items, counting the items of nested arrays; maps {} entries): make large tensors with rand()/zeros()/arange() and compute tables with tensor ops (arange, sin, cos, ...) instead of literals",
            super::MAX_STRING_BYTES >> 20,
            super::MAX_ARRAY_LEN,
            super::MAX_MAP_LEN
        ),
        EvalAltResult::ErrorMismatchDataType(expected, actual, _)
            if expected == "bool" && (is_traced(actual)) =>
        {
            format!(
                "a {} is used where a bool is needed (an `if`, `while`, `&&`, `||` or `!` condition): script code runs once, at trace time, and cannot branch on tensor values; choose values with where(cond, a, b)",
                friendly_types(actual)
            )
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => unknown_function(sig, book),
        other => {
            let s = friendly_types(&other.to_string());
            let first = s.lines().next().unwrap_or("").to_string();
            match first.rfind(" (line ") {
                Some(i) => first[..i].to_string(),
                None => first,
            }
        }
    };
    if let Some(v) = via {
        msg = format!("{msg} [{v}]");
    }
    ScriptError::At {
        path: path.display().to_string(),
        line: line.unwrap_or(0),
        msg,
    }
}

fn is_traced(type_name: &str) -> bool {
    let t = friendly_types(type_name);
    t == "Tensor" || t == "Model" || t == "OnnxModel"
}

/// Rust type names as scripts know them.
fn friendly_types(s: &str) -> String {
    s.replace("turnkey::script::tensor::Tensor", "Tensor")
        .replace("turnkey::script::model::Model", "Model")
        .replace("turnkey::script::onnx_model::OnnxModel", "OnnxModel")
        .replace("rhai::ImmutableString", "string")
        .replace("ImmutableString", "string")
        .replace("&str", "string")
        .replace("i64", "int")
        .replace("f64", "float")
}

/// `Function not found: max (Tensor, i64)` as a hint with the closest
/// names and their signatures.
fn unknown_function(sig: &str, book: &Book) -> String {
    let sig = friendly_types(sig);
    let name = sig.split([' ', '(']).next().unwrap_or(&sig).trim();
    let name = name.strip_prefix("get$").unwrap_or(name);
    let args = sig[name.len().min(sig.len())..].trim();
    // A known name called with other argument types.
    if let Some(e) = book.get(name) {
        let sigs: Vec<String> = e.signatures.iter().map(|s| e.signature_text(s)).collect();
        return format!(
            "{name} {args}: no form of `{name}` takes these arguments; it is {}",
            sigs.join(" or ")
        );
    }
    let near = book.closest(name, 3);
    if near.is_empty() {
        return format!(
            "unknown function `{name}` {args}: `turnkey api` lists every function, layer and builder"
        );
    }
    let hints: Vec<String> = near
        .iter()
        .map(|e| {
            e.signatures
                .first()
                .map(|s| e.signature_text(s))
                .unwrap_or_else(|| e.name.clone())
        })
        .collect();
    format!(
        "unknown function `{name}` {args}; did you mean {}? (`turnkey api NAME` shows one entry)",
        hints.join(", or ")
    )
}
