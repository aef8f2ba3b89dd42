//! The script API reference, generated from the registrations themselves:
//! each registered function adds its signature to the entry of its name, so
//! `turnkey api` and docs/API.md cannot drift from what scripts can call.

use super::util::OptSpec;
use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What kind of name an entry documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A function, also callable as a method on its first argument.
    Function,
    /// A Rhai operator (`+`, `>`, ...).
    Operator,
    /// A read-only property (`x.shape`).
    Property,
    /// An `nn::` layer constructor: returns a `Model`.
    Layer,
    /// A stdlib builder written in Rhai (`vision::resnet`).
    Builder,
}

/// One parameter of a signature: its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub params: Vec<Param>,
    pub ret: String,
}

/// The reference entry of one name.
#[derive(Clone, Debug)]
pub struct Entry {
    /// As scripts write it: `sin`, `nn::linear`, `vision::resnet`, `+`.
    pub name: String,
    pub family: &'static str,
    pub kind: Kind,
    pub about: String,
    /// The ONNX operator(s) it becomes ("" for none).
    pub onnx: String,
    /// The PyTorch equivalent ("" when none).
    pub torch: String,
    pub options: &'static [OptSpec],
    pub signatures: Vec<Signature>,
    /// Overloads registered only to refuse an operand pairing with a
    /// helpful error (`tensor > "a"`): not shown, but counted.
    pub refused: usize,
}

impl Entry {
    pub fn about(&mut self, s: &str) -> &mut Self {
        self.about = s.to_string();
        self
    }
    pub fn onnx(&mut self, s: &str) -> &mut Self {
        self.onnx = s.to_string();
        self
    }
    pub fn torch(&mut self, s: &str) -> &mut Self {
        self.torch = s.to_string();
        self
    }
    pub fn options(&mut self, o: &'static [OptSpec]) -> &mut Self {
        self.options = o;
        self
    }

    /// `name(a: T, b: U) -> R`, qualified as scripts call it.
    pub fn signature_text(&self, s: &Signature) -> String {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                if p.ty.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}: {}", p.name, p.ty)
                }
            })
            .collect();
        match self.kind {
            Kind::Operator if s.params.len() == 1 => {
                format!("{}{} -> {}", self.name, params[0], s.ret)
            }
            Kind::Operator => format!(
                "{} {} {} -> {}",
                params[0],
                self.name,
                params.get(1).cloned().unwrap_or_default(),
                s.ret
            ),
            Kind::Property => format!("{}.{} -> {}", params[0], self.name, s.ret),
            Kind::Builder => format!("{}({})", self.name, params.join(", ")),
            _ => format!("{}({}) -> {}", self.name, params.join(", "), s.ret),
        }
    }

    /// The method form (`x.sin()`) of a function whose first argument is a
    /// tensor or model, shown beside its function form.
    pub fn method_text(&self, s: &Signature) -> Option<String> {
        if self.kind != Kind::Function {
            return None;
        }
        let first = s.params.first()?;
        if !matches!(first.ty.as_str(), "Tensor" | "Model" | "OnnxModel") {
            return None;
        }
        let rest: Vec<&str> = s.params[1..].iter().map(|p| p.name.as_str()).collect();
        Some(format!("{}.{}({})", first.name, self.name, rest.join(", ")))
    }
}

/// Every entry, keyed by name.
#[derive(Clone, Debug, Default)]
pub struct Book {
    pub entries: BTreeMap<String, Entry>,
    /// (name, parameter types) of every registered overload.
    pub(super) overloads: std::collections::HashSet<(String, Vec<TypeId>)>,
}

impl Book {
    /// The entry for `name`, made on first use.
    pub fn entry(&mut self, name: &str, family: &'static str, kind: Kind) -> &mut Entry {
        self.entries
            .entry(name.to_string())
            .or_insert_with(|| Entry {
                name: name.to_string(),
                family,
                kind,
                about: String::new(),
                onnx: String::new(),
                torch: String::new(),
                options: &[],
                signatures: Vec::new(),
                refused: 0,
            })
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// Families in the order the reference lists them.
    pub fn families(&self) -> Vec<&'static str> {
        let mut f: Vec<&'static str> = Vec::new();
        for e in self.entries.values() {
            if !f.contains(&e.family) {
                f.push(e.family);
            }
        }
        f.sort_by_key(|name| FAMILY_ORDER.iter().position(|x| x == name).unwrap_or(99));
        f
    }

    /// Names closest to `want` (edit distance, then shared prefix), for
    /// "did you mean" hints; a small table maps PyTorch habits to our names.
    pub fn closest(&self, want: &str, n: usize) -> Vec<&Entry> {
        let want_l = want.to_lowercase();
        let bare = want_l.rsplit("::").next().unwrap_or(&want_l).to_string();
        let mut scored: Vec<(usize, &Entry)> = self
            .entries
            .values()
            .filter(|e| e.kind != Kind::Operator)
            .map(|e| {
                let name = e.name.rsplit("::").next().unwrap_or(&e.name);
                let mut d = strsim::levenshtein(&bare, name);
                if ALIASES
                    .iter()
                    .any(|(alias, real)| *alias == bare && real.split(',').any(|r| r == e.name))
                {
                    d = 0;
                } else if name.contains(&bare) || bare.contains(name) {
                    d = d.min(2);
                }
                (d, e)
            })
            .filter(|(d, _)| *d <= if bare.len() <= 4 { 1 } else { bare.len() / 3 })
            .collect();
        scored.sort_by_key(|(d, e)| (*d, e.kind != Kind::Function, e.name.len()));
        scored.into_iter().take(n).map(|(_, e)| e).collect()
    }

    /// The whole reference as plain text (`turnkey api`).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for fam in self.families() {
            let _ = writeln!(out, "== {fam} ==\n");
            for e in self.entries.values().filter(|e| e.family == fam) {
                out.push_str(&self.entry_text(e));
                out.push('\n');
            }
        }
        out
    }

    /// One entry as plain text (`turnkey api NAME`).
    pub fn entry_text(&self, e: &Entry) -> String {
        let mut out = String::new();
        for s in &e.signatures {
            let _ = write!(out, "{}", e.signature_text(s));
            if let Some(m) = e.method_text(s) {
                let _ = write!(out, "    (or {m})");
            }
            out.push('\n');
        }
        for line in wrap(&e.about, 76) {
            let _ = writeln!(out, "    {line}");
        }
        let mut links = Vec::new();
        if !e.onnx.is_empty() {
            links.push(format!("ONNX: {}", e.onnx));
        }
        if !e.torch.is_empty() {
            links.push(format!("PyTorch: {}", e.torch));
        }
        if !links.is_empty() {
            let _ = writeln!(out, "    {}", links.join("    "));
        }
        if !e.options.is_empty() {
            let _ = writeln!(out, "    options:");
            let w = e.options.iter().map(|o| o.key.len()).max().unwrap_or(0);
            let dw = e.options.iter().map(|o| o.default.len()).max().unwrap_or(0);
            for o in e.options {
                let _ = writeln!(
                    out,
                    "      {:w$}  {:dw$}  {}",
                    o.key,
                    o.default,
                    o.about,
                    w = w,
                    dw = dw
                );
            }
        }
        out
    }

    /// The whole reference as Markdown (docs/API.md).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(MARKDOWN_HEAD);
        let fams = self.families();
        out.push_str("\n## Contents\n\n");
        for fam in &fams {
            let names: Vec<String> = self
                .entries
                .values()
                .filter(|e| e.family == *fam)
                .map(|e| format!("[`{}`](#{})", e.name, anchor(&e.name)))
                .collect();
            let _ = writeln!(out, "- **{fam}**: {}", names.join(", "));
        }
        for fam in &fams {
            let _ = writeln!(out, "\n## {fam}\n");
            for e in self.entries.values().filter(|e| e.family == *fam) {
                let _ = writeln!(
                    out,
                    "<a id=\"{}\"></a>\n### `{}`\n",
                    anchor(&e.name),
                    e.name
                );
                out.push_str("```\n");
                for s in &e.signatures {
                    let _ = writeln!(out, "{}", e.signature_text(s));
                    if let Some(m) = e.method_text(s) {
                        let _ = writeln!(out, "{m}");
                    }
                }
                out.push_str("```\n\n");
                if !e.about.is_empty() {
                    let _ = writeln!(out, "{}\n", e.about);
                }
                let mut links = Vec::new();
                if !e.onnx.is_empty() {
                    links.push(format!("ONNX: `{}`", e.onnx));
                }
                if !e.torch.is_empty() {
                    links.push(format!("PyTorch: `{}`", e.torch));
                }
                if !links.is_empty() {
                    let _ = writeln!(out, "{}\n", links.join(" · "));
                }
                if !e.options.is_empty() {
                    out.push_str("| option | default | meaning |\n|---|---|---|\n");
                    for o in e.options {
                        let _ = writeln!(
                            out,
                            "| `{}` | `{}` | {} |",
                            o.key,
                            o.default,
                            o.about.replace('|', "\\|")
                        );
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// The order of families in the reference: what a user reads first.
const FAMILY_ORDER: &[&str] = &[
    "script",
    "constructors",
    "tensor",
    "operators",
    "elementwise",
    "activations",
    "comparison",
    "reductions",
    "shape",
    "linalg",
    "convolution",
    "pooling",
    "normalization",
    "attention",
    "recurrent",
    "model",
    "nn",
    "onnx",
    "vision",
    "transformers",
    "gnn",
];

/// PyTorch names (and habits) that are spelled differently here: a hint's
/// first suggestions. `alias -> comma-separated real names`.
const ALIASES: &[(&str, &str)] = &[
    ("max", "amax,maximum,reduce_max,argmax"),
    ("min", "amin,minimum,argmin"),
    ("var", "variance"),
    ("clamp_min", "clamp"),
    ("clamp_max", "clamp"),
    ("bmm", "matmul"),
    ("mm", "matmul"),
    ("view", "reshape"),
    ("cat", "concat"),
    ("stack", "concat,unsqueeze"),
    ("size", "shape"),
    ("dim", "rank"),
    ("index_select", "gather"),
    ("masked_fill_", "masked_fill"),
    ("upsample", "interpolate,nn::upsample"),
    ("layernorm", "layer_norm"),
    ("silu_", "silu"),
    ("swish", "silu"),
    ("to", "cast"),
    ("float", "cast"),
    ("type", "cast"),
    ("numel", "numel"),
    ("permute_", "permute"),
];

fn anchor(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => s.push(c.to_ascii_lowercase()),
            ':' => s.push('-'),
            other => {
                let _ = write!(s, "op-{:x}", other as u32);
            }
        }
    }
    s
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut cur = String::new();
        for w in para.split_whitespace() {
            if !cur.is_empty() && cur.len() + 1 + w.len() > width {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
        if !cur.is_empty() {
            lines.push(cur);
        }
    }
    lines
}

/// A script-facing name for a Rust parameter type.
pub fn type_label(t: TypeId) -> &'static str {
    use super::super::{model::Model, onnx_model::OnnxModel, tensor::Tensor};
    use rhai::{Array, Dynamic, FnPtr, ImmutableString, Map};
    if t == TypeId::of::<Tensor>() {
        "Tensor"
    } else if t == TypeId::of::<Model>() {
        "Model"
    } else if t == TypeId::of::<OnnxModel>() {
        "OnnxModel"
    } else if t == TypeId::of::<i64>() {
        "int"
    } else if t == TypeId::of::<f64>() {
        "float"
    } else if t == TypeId::of::<bool>() {
        "bool"
    } else if t == TypeId::of::<ImmutableString>()
        || t == TypeId::of::<String>()
        || t == TypeId::of::<&str>()
    {
        "string"
    } else if t == TypeId::of::<Array>() {
        "array"
    } else if t == TypeId::of::<Map>() {
        "map"
    } else if t == TypeId::of::<Dynamic>() {
        "any"
    } else if t == TypeId::of::<FnPtr>() {
        "Fn"
    } else if t == TypeId::of::<()>() {
        "()"
    } else if t == TypeId::of::<char>() {
        "char"
    } else {
        "?"
    }
}

const MARKDOWN_HEAD: &str = "# The turnkey script API

Generated by `turnkey api --markdown` from the registrations themselves (a
test fails when this file is stale; regenerate it with
`cargo run --release -- api --markdown > docs/API.md`). `turnkey api NAME`
prints one entry.

Conventions: a function whose first argument is a tensor or a model is also
a method (`sin(x)` and `x.sin()`). `dim`/`dims` may be negative (counted from
the end). Options maps (`#{...}`) may give any subset of their keys; an
unknown key is an error. Types: `int` (i64), `float` (f64), `any` (the
documented alternatives), `Fn` (a closure `|x| ...`).

Scripts run once, at trace time: inside a `forward`, tensors are symbolic,
loops unroll and `if` sees only values known while tracing (shapes, dtypes,
script arguments). A choice that depends on tensor *values* is written with
`where(cond, a, b)`; using a tensor where Rhai needs a bool is an error.
";

/// Adds the functions of a stdlib module written in Rhai: each top-level
/// `fn` with its `///` comment (private functions are left out).
pub fn add_stdlib(book: &mut Book, module: &'static str, src: &str) {
    let mut doc: Vec<&str> = Vec::new();
    for line in src.lines() {
        if let Some(c) = line.strip_prefix("///") {
            doc.push(c.trim());
            continue;
        }
        let Some(rest) = line.strip_prefix("fn ") else {
            doc.clear();
            continue;
        };
        let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) else {
            doc.clear();
            continue;
        };
        let name = rest[..open].trim();
        let params: Vec<Param> = rest[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| Param {
                name: p.to_string(),
                ty: String::new(),
            })
            .collect();
        let about = doc.join(" ");
        let e = book.entry(&format!("{module}::{name}"), module, Kind::Builder);
        if e.about.is_empty() {
            e.about = about;
        }
        let sig = Signature {
            params,
            ret: "Model".into(),
        };
        if !e.signatures.contains(&sig) {
            e.signatures.push(sig);
        }
        doc.clear();
    }
}
