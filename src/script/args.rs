//! `--script-args` and the standard `parse()` table of SCRIPTS.md.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgValue {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl std::fmt::Display for ArgValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgValue::Int(v) => write!(f, "{v}"),
            ArgValue::Float(v) => write!(f, "{v}"),
            ArgValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// Every name `parse()` knows, with its default (which also fixes its type).
pub const STANDARD_ARGS: &[(&str, ArgValue, &str)] = &[
    (
        "batch_size",
        ArgValue::Int(1),
        "batch dimension of the inputs",
    ),
    (
        "max_seq_length",
        ArgValue::Int(128),
        "sequence length of text inputs",
    ),
    (
        "max_new_tokens",
        ArgValue::Int(32),
        "tokens lm.generate makes after the prompt",
    ),
    (
        "max_audio_seq_length",
        ArgValue::Int(25600),
        "samples of audio inputs",
    ),
    ("height", ArgValue::Int(224), "image height"),
    ("width", ArgValue::Int(224), "image width"),
    ("num_channels", ArgValue::Int(3), "image channels"),
    (
        "pretrained",
        ArgValue::Bool(false),
        "load real weights where the script can",
    ),
    ("k", ArgValue::Int(8), "GNN: neighbours"),
    ("alpha", ArgValue::Float(2.2), "GNN: alpha"),
    ("out_channels", ArgValue::Int(16), "GNN: output channels"),
    ("num_layers", ArgValue::Int(8), "GNN: layers"),
    ("in_channels", ArgValue::Int(1433), "GNN: input channels"),
];

pub fn known_names() -> String {
    STANDARD_ARGS
        .iter()
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn default_of(name: &str) -> Option<ArgValue> {
    STANDARD_ARGS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, v, _)| *v)
}

/// Script arguments as given on the command line, typed and validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptArgs {
    pub values: BTreeMap<String, ArgValue>,
    /// The original text, recorded with each build.
    pub text: String,
}

impl ScriptArgs {
    /// Parses `--batch_size 8 --height=512 --pretrained` (a bare flag is
    /// `true`). Every name must be one of the standard ones.
    pub fn parse(text: &str) -> Result<ScriptArgs, String> {
        let words = shell_words::split(text)
            .map_err(|e| format!("--script-args: cannot split {text:?}: {e}"))?;
        let mut values = BTreeMap::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let Some(stripped) = w.strip_prefix("--") else {
                return Err(format!(
                    "--script-args: expected --name value, got {w:?} (e.g. --script-args \"--batch_size 8\")"
                ));
            };
            let (name, value) = match stripped.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => {
                    let next = words.get(i + 1).filter(|n| !n.starts_with("--"));
                    if next.is_some() {
                        i += 1;
                    }
                    (stripped.to_string(), next.cloned())
                }
            };
            let Some(default) = default_of(&name) else {
                return Err(format!(
                    "--script-args: unknown argument --{}; known: {}",
                    crate::text::one_line(&name),
                    known_names()
                ));
            };
            let v = typed(&name, default, value.as_deref())?;
            values.insert(name, v);
            i += 1;
        }
        Ok(ScriptArgs {
            values,
            text: text.trim().to_string(),
        })
    }

    /// The value of a standard name: given, else its default.
    pub fn get(&self, name: &str) -> Option<ArgValue> {
        self.values.get(name).copied().or_else(|| default_of(name))
    }

    /// Arguments that were passed but are not in `asked`.
    pub fn unused(&self, asked: &BTreeSet<String>) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !asked.contains(*k))
            .cloned()
            .collect()
    }
}

fn typed(name: &str, default: ArgValue, value: Option<&str>) -> Result<ArgValue, String> {
    let bad = |want: &str, got: &str| format!("--script-args: --{name} takes {want}, got {got:?}");
    match (default, value) {
        (ArgValue::Bool(_), None) => Ok(ArgValue::Bool(true)),
        (_, None) => Err(format!("--script-args: --{name} needs a value")),
        (ArgValue::Int(_), Some(v)) => {
            let n: i64 = v.parse().map_err(|_| bad("an integer", v))?;
            if n < 0 {
                return Err(bad("a non-negative integer", v));
            }
            Ok(ArgValue::Int(n))
        }
        (ArgValue::Float(_), Some(v)) => v
            .parse()
            .map(ArgValue::Float)
            .map_err(|_| bad("a number", v)),
        (ArgValue::Bool(_), Some(v)) => match v {
            "true" | "True" | "1" => Ok(ArgValue::Bool(true)),
            "false" | "False" | "0" => Ok(ArgValue::Bool(false)),
            _ => Err(bad("true or false", v)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_and_defaults() {
        let a = ScriptArgs::parse("--batch_size 8 --height=512 --pretrained").unwrap();
        assert_eq!(a.get("batch_size"), Some(ArgValue::Int(8)));
        assert_eq!(a.get("height"), Some(ArgValue::Int(512)));
        assert_eq!(a.get("pretrained"), Some(ArgValue::Bool(true)));
        assert_eq!(a.get("width"), Some(ArgValue::Int(224)));
        assert_eq!(a.get("alpha"), Some(ArgValue::Float(2.2)));
        assert_eq!(a.get("nope"), None);
    }

    #[test]
    fn wrong_type_names_the_argument() {
        let e = ScriptArgs::parse("--batch_size eight").unwrap_err();
        assert!(e.contains("--batch_size") && e.contains("integer"), "{e}");
        let e = ScriptArgs::parse("--pretrained maybe").unwrap_err();
        assert!(e.contains("--pretrained"), "{e}");
        let e = ScriptArgs::parse("batch_size 8").unwrap_err();
        assert!(e.contains("expected --name"), "{e}");
        let e = ScriptArgs::parse("--bogus 1").unwrap_err();
        assert!(e.contains("unknown argument --bogus"), "{e}");
        // Found by fuzzing: a quoted name with a line break stays one line.
        let e = ScriptArgs::parse("'--a\nb' 1").unwrap_err();
        assert!(
            e.contains("unknown argument --a\\nb") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn unused_lists_passed_but_not_asked() {
        let a = ScriptArgs::parse("--batch_size 2 --height 9").unwrap();
        let asked: BTreeSet<String> = ["batch_size".to_string()].into();
        assert_eq!(a.unused(&asked), vec!["height".to_string()]);
    }
}
