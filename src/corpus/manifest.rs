//! Corpus manifests (`corpora/*.toml`): a suite's scripts and ONNX files,
//! with their sweeps, axes, runtimes, tolerances, labels, expected failures
//! and ONNX sha256s. Unknown keys are errors with their line; a per-entry key
//! equal to its `[defaults]` value is a warning (it does nothing).
//!
//! ```toml
//! name = "selftest"
//! runtimes = ["ort", "tract"]
//! [defaults]
//! atol = 1e-4
//! [[script]]
//! path = "../models/selftest/twolayer.rhai"
//! sweep = { batch_size = [1, 8, 32] }
//! [[onnx]]
//! set = "oss"
//! name = "tiny-mlp"
//! version = 1
//! sha256 = "…"
//! axes = { batch_size = 4 }
//! runtimes = ["ort"]
//! expected_failure = "unsupported operator .*"
//! ```

use super::sweep::Sweep;
use crate::script::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The environment variable naming the models folder.
pub const MODELS_DIR_ENV: &str = "TURNKEY_MODELS_DIR";

/// Where `[[onnx]]` entries without a `path` are looked for:
/// `$TURNKEY_MODELS_DIR`, else `<user data dir>/turnkey/models`.
pub fn models_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "turnkey").map(|d| d.data_dir().join("models"))
}

// ---------------------------------------------------------------- schema

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    runtimes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    defaults: Option<Common>,
    #[serde(default)]
    script: Vec<Spanned<ScriptEntry>>,
    #[serde(default)]
    onnx: Vec<Spanned<OnnxEntry>>,
}

/// Keys allowed both in `[defaults]` and in entries.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Common {
    #[serde(default)]
    atol: Option<Spanned<f64>>,
    #[serde(default)]
    rtol: Option<Spanned<f64>>,
    #[serde(default)]
    axes: Option<BTreeMap<String, Spanned<u64>>>,
    #[serde(default)]
    shapes: Option<BTreeMap<String, Spanned<Vec<u64>>>>,
    #[serde(default)]
    inputs: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    sweep: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    script_args: Option<Spanned<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    precision: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    ort_opt_level: Option<Spanned<OneOrMany>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptEntry {
    path: String,
    #[serde(default)]
    runtimes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    expected_failure: Option<Spanned<String>>,
    #[serde(default)]
    atol: Option<Spanned<f64>>,
    #[serde(default)]
    rtol: Option<Spanned<f64>>,
    #[serde(default)]
    sweep: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    script_args: Option<Spanned<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    precision: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    ort_opt_level: Option<Spanned<OneOrMany>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnnxEntry {
    name: String,
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    sha256: Option<Spanned<String>>,
    #[serde(default)]
    runtimes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    expected_failure: Option<Spanned<String>>,
    #[serde(default)]
    atol: Option<Spanned<f64>>,
    #[serde(default)]
    rtol: Option<Spanned<f64>>,
    #[serde(default)]
    axes: Option<BTreeMap<String, Spanned<u64>>>,
    #[serde(default)]
    shapes: Option<BTreeMap<String, Spanned<Vec<u64>>>>,
    #[serde(default)]
    inputs: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    sweep: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    #[serde(default)]
    precision: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    ort_opt_level: Option<Spanned<OneOrMany>>,
}

/// A string, integer, float or bool, kept as text.
#[derive(Deserialize, Clone, PartialEq)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Int(v) => v.to_string(),
            Scalar::Float(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
            Scalar::Str(v) => v.clone(),
        }
    }
}

/// `8` or `[1, 8, 32]`.
#[derive(Deserialize, Clone, PartialEq)]
#[serde(untagged)]
enum OneOrMany {
    One(Scalar),
    Many(Vec<Scalar>),
}

impl OneOrMany {
    fn texts(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.text()],
            OneOrMany::Many(v) => v.iter().map(Scalar::text).collect(),
        }
    }
}

// ---------------------------------------------------------------- result

/// What an entry runs with, defaults applied.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub runtimes: Option<Vec<String>>,
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    pub axes: BTreeMap<String, usize>,
    pub shapes: BTreeMap<String, Vec<usize>>,
    /// Values for ONNX model inputs (`inputs = { sr = 16000, image = "img.npy" }`).
    pub inputs: BTreeMap<String, crate::onnx::InputValue>,
    pub sweep: Sweep,
    /// `script_args` of `[defaults]`, then of the entry (later values win).
    pub script_args: Vec<String>,
    pub labels: Labels,
    pub expected_failure: Option<(String, regex::Regex)>,
    /// `precision = ["fp32", "int8-dynamic"]`: the variants to make.
    pub precisions: Option<Vec<super::Precision>>,
    /// `ort_opt_level = ["basic", "all"]`.
    pub ort_opt_levels: Option<Vec<Option<crate::runtime::GraphOptimization>>>,
}

#[derive(Clone, Debug)]
pub enum EntryKind {
    Script {
        path: PathBuf,
    },
    Onnx {
        /// The entry's name: the build's name stem.
        name: String,
        /// The model file, or why it cannot be used (where it was looked for).
        path: Result<PathBuf, String>,
        sha256: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Entry {
    /// Line of the entry in the manifest.
    pub line: usize,
    pub kind: EntryKind,
    pub settings: Settings,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub entries: Vec<Entry>,
    /// `file:line: ...` lines: overrides equal to their defaults.
    pub warnings: Vec<String>,
}

/// Line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Ctx<'a> {
    file: &'a Path,
    /// The manifest's folder: relative paths are against it.
    base: &'a Path,
    text: &'a str,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn at(&self, span: std::ops::Range<usize>) -> String {
        format!("{}:{}", self.file.display(), line_of(self.text, span.start))
    }
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        msg: impl std::fmt::Display,
    ) -> Result<T, String> {
        Err(format!("{}: {msg}", self.at(span)))
    }
    fn warn_same(&mut self, span: std::ops::Range<usize>, key: &str) {
        let w = format!(
            "{}: {key} is the same as in [defaults]; the entry's value does nothing (remove it)",
            self.at(span)
        );
        self.warnings.push(w);
    }
}

/// Reads and checks a manifest. `models_dir` resolves `[[onnx]]` entries
/// without a `path`. Errors are one line: `file:line: what`.
pub fn load(path: &Path, models_dir: Option<&Path>) -> Result<Manifest, String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
        _ => format!("{}: cannot read: {e}", path.display()),
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: is not UTF-8 text: is it a manifest?", path.display()))?;
    parse(path, &text, models_dir)
}

/// Parses manifest `text` (read from `file`).
pub fn parse(file: &Path, text: &str, models_dir: Option<&Path>) -> Result<Manifest, String> {
    let f: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| format!(":{}", line_of(text, s.start)));
        let mut msg = e.message().replace("missing field", "missing key");
        if msg.contains("unknown field") {
            msg = msg
                .replace("unknown field", "unknown key")
                .replace("expected one of", "known keys:")
                .replace("expected `", "known key: `");
        }
        format!(
            "{}{}: {}",
            file.display(),
            line.unwrap_or_default(),
            msg.trim()
        )
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut cx = Ctx {
        file,
        base,
        text,
        warnings: Vec::new(),
    };
    let defaults = f.defaults.unwrap_or_default();
    let runtimes = f.runtimes.map(|r| {
        let span = r.span();
        (r.into_inner(), span)
    });
    if let Some((r, span)) = &runtimes {
        check_runtimes(&cx, r, span.clone())?;
    }
    let mut d = Settings {
        runtimes: runtimes.as_ref().map(|r| r.0.clone()),
        ..Default::default()
    };
    apply_common(&mut cx, &mut d, None, &defaults)?;

    let mut entries = Vec::new();
    for e in f.script {
        let span = e.span();
        let e = e.into_inner();
        let mut s = d.clone();
        let common = Common {
            atol: e.atol,
            rtol: e.rtol,
            axes: None,
            shapes: None,
            inputs: None,
            sweep: e.sweep,
            script_args: e.script_args,
            labels: e.labels,
            precision: e.precision,
            ort_opt_level: e.ort_opt_level,
        };
        apply_common(&mut cx, &mut s, Some(&d), &common)?;
        apply_entry(&mut cx, &mut s, &d, e.runtimes, e.expected_failure)?;
        entries.push(Entry {
            line: line_of(text, span.start),
            kind: EntryKind::Script {
                path: base.join(&e.path),
            },
            settings: s,
        });
    }
    for e in f.onnx {
        let span = e.span();
        let e = e.into_inner();
        let mut s = d.clone();
        let common = Common {
            atol: e.atol,
            rtol: e.rtol,
            axes: e.axes,
            shapes: e.shapes,
            inputs: e.inputs,
            sweep: e.sweep,
            script_args: None,
            labels: e.labels,
            precision: e.precision,
            ort_opt_level: e.ort_opt_level,
        };
        apply_common(&mut cx, &mut s, Some(&d), &common)?;
        apply_entry(&mut cx, &mut s, &d, e.runtimes, e.expected_failure)?;
        let sha256 = match e.sha256 {
            Some(h) => {
                let sp = h.span();
                let h = h.into_inner().to_ascii_lowercase();
                if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return cx.err(sp, "sha256 must be 64 hex digits");
                }
                Some(h)
            }
            None => None,
        };
        let path = match (&e.path, &e.set, &e.version) {
            (Some(p), _, _) => {
                let p = base.join(p);
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(format!(
                        "{}: [[onnx]] '{}': model file not found: looked for {}",
                        cx.at(span.clone()),
                        e.name,
                        p.display()
                    ))
                }
            }
            (None, Some(set), Some(v)) => {
                let rel = Path::new(set)
                    .join(format!("{}@{}", e.name, v.text()))
                    .join("model.onnx");
                match models_dir {
                    Some(dir) => {
                        let p = dir.join(&rel);
                        if p.is_file() {
                            Ok(p)
                        } else {
                            Err(format!(
                                "{}: [[onnx]] '{}': model file not found: looked for {} \
                                 (the models folder is ${MODELS_DIR_ENV}, else the user data folder; \
                                 put the file there or give `path`)",
                                cx.at(span.clone()),
                                e.name,
                                p.display()
                            ))
                        }
                    }
                    None => Err(format!(
                        "{}: [[onnx]] '{}': no models folder: set ${MODELS_DIR_ENV} or give `path`",
                        cx.at(span.clone()),
                        e.name
                    )),
                }
            }
            _ => {
                return cx.err(
                    span,
                    format!(
                        "[[onnx]] '{}' needs `path`, or `set` and `version` to find \
                         <models dir>/<set>/<name>@<version>/model.onnx",
                        e.name
                    ),
                );
            }
        };
        entries.push(Entry {
            line: line_of(text, span.start),
            kind: EntryKind::Onnx {
                name: e.name,
                path,
                sha256,
            },
            settings: s,
        });
    }
    entries.sort_by_key(|e| e.line);
    if f.name.trim().is_empty() {
        return Err(format!("{}: `name` must not be empty", file.display()));
    }
    Ok(Manifest {
        path: file.to_path_buf(),
        name: f.name,
        description: f.description,
        entries,
        warnings: cx.warnings,
    })
}

fn check_runtimes(cx: &Ctx, r: &[String], span: std::ops::Range<usize>) -> Result<(), String> {
    if r.is_empty() {
        return cx.err(
            span,
            "runtimes is empty; name at least one (e.g. [\"ort\"])",
        );
    }
    for name in r {
        if name != "auto" && !crate::runtime::names().contains(&name.as_str()) {
            return cx.err(
                span,
                format!(
                    "unknown runtime '{name}'; known: auto, {}",
                    crate::runtime::names().join(", ")
                ),
            );
        }
    }
    Ok(())
}

/// Applies the keys of `c` over `s`; with `defaults`, warns about values
/// equal to them.
fn apply_common(
    cx: &mut Ctx,
    s: &mut Settings,
    defaults: Option<&Settings>,
    c: &Common,
) -> Result<(), String> {
    let same = |a: Option<f64>, b: f64| defaults.is_some() && a == Some(b);
    if let Some(v) = &c.atol {
        check_tol(cx, "atol", v)?;
        if same(defaults.and_then(|d| d.atol), *v.get_ref()) {
            cx.warn_same(v.span(), "atol");
        }
        s.atol = Some(*v.get_ref());
    }
    if let Some(v) = &c.rtol {
        check_tol(cx, "rtol", v)?;
        if same(defaults.and_then(|d| d.rtol), *v.get_ref()) {
            cx.warn_same(v.span(), "rtol");
        }
        s.rtol = Some(*v.get_ref());
    }
    for (k, v) in c.axes.iter().flatten() {
        let n = *v.get_ref();
        if n == 0 {
            return cx.err(v.span(), format!("axes.{k} must be at least 1"));
        }
        let n = n as usize;
        if defaults.is_some_and(|d| d.axes.get(k) == Some(&n)) {
            cx.warn_same(v.span(), &format!("axes.{k}"));
        }
        s.axes.insert(k.clone(), n);
    }
    for (k, v) in c.shapes.iter().flatten() {
        let dims: Vec<usize> = v.get_ref().iter().map(|&d| d as usize).collect();
        if dims.contains(&0) {
            return cx.err(v.span(), format!("shapes.{k}: sizes must be at least 1"));
        }
        if defaults.is_some_and(|d| d.shapes.get(k) == Some(&dims)) {
            cx.warn_same(v.span(), &format!("shapes.{k}"));
        }
        s.shapes.insert(k.clone(), dims);
    }
    for (k, v) in c.inputs.iter().flatten() {
        // A string is a file (relative to the manifest), numbers a literal.
        let value = match v.get_ref() {
            OneOrMany::One(Scalar::Str(f)) => {
                let p = Path::new(f);
                if !["npy", "pb", "bin"].contains(
                    &p.extension()
                        .map(|e| e.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_default()
                        .as_str(),
                ) {
                    return cx.err(
                        v.span(),
                        format!("inputs.{k}: a file value must be a .npy, .pb or .bin file"),
                    );
                }
                crate::onnx::InputValue::File(cx.base.join(p))
            }
            other => crate::onnx::InputValue::parse(&other.texts().join(","), cx.base)
                .map_err(|e| format!("{}: inputs.{k}: {e}", cx.at(v.span())))?,
        };
        if defaults.is_some_and(|d| d.inputs.get(k) == Some(&value)) {
            cx.warn_same(v.span(), &format!("inputs.{k}"));
        }
        s.inputs.insert(k.clone(), value);
    }
    for (k, v) in c.sweep.iter().flatten() {
        let values = v.get_ref().texts();
        if values.is_empty() {
            return cx.err(v.span(), format!("sweep.{k} has no values"));
        }
        let old = s.sweep.keys.iter().find(|(n, _)| n == k).map(|x| &x.1);
        if defaults.is_some() && old == Some(&values) {
            cx.warn_same(v.span(), &format!("sweep.{k}"));
        }
        s.sweep.set(k, values);
    }
    if let Some(a) = &c.script_args {
        if let Err(e) = crate::script::ScriptArgs::parse(a.get_ref()) {
            return cx.err(a.span(), format!("script_args: {e}"));
        }
        if defaults.is_some_and(|d| d.script_args.last() == Some(a.get_ref())) {
            cx.warn_same(a.span(), "script_args");
        }
        s.script_args.push(a.get_ref().clone());
    }
    for (k, v) in c.labels.iter().flatten() {
        let values = v.get_ref().texts();
        let ok_key = !k.is_empty()
            && k.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if !ok_key
            || values
                .iter()
                .any(|x| x.is_empty() || x.contains("::") || x.contains(','))
        {
            return cx.err(
                v.span(),
                format!("labels.{k}: keys are letters, digits, '_' or '-'; values are non-empty, without '::' or ','"),
            );
        }
        if defaults.is_some_and(|d| d.labels.get(k) == Some(&values)) {
            cx.warn_same(v.span(), &format!("labels.{k}"));
        }
        s.labels.insert(k.clone(), values);
    }
    if let Some(v) = &c.precision {
        let p = super::Variants::parse_precisions(&v.get_ref().texts(), "precision")
            .map_err(|e| format!("{}: {e}", cx.at(v.span())))?;
        if defaults.is_some_and(|d| d.precisions.as_ref() == Some(&p)) {
            cx.warn_same(v.span(), "precision");
        }
        s.precisions = Some(p);
    }
    if let Some(v) = &c.ort_opt_level {
        let l = super::Variants::parse_levels(&v.get_ref().texts(), "ort_opt_level")
            .map_err(|e| format!("{}: {e}", cx.at(v.span())))?;
        if defaults.is_some_and(|d| d.ort_opt_levels.as_ref() == Some(&l)) {
            cx.warn_same(v.span(), "ort_opt_level");
        }
        s.ort_opt_levels = Some(l);
    }
    Ok(())
}

fn check_tol(cx: &Ctx, what: &str, v: &Spanned<f64>) -> Result<(), String> {
    let x = *v.get_ref();
    if !x.is_finite() || x < 0.0 {
        return cx.err(v.span(), format!("{what} must be a non-negative number"));
    }
    Ok(())
}

fn apply_entry(
    cx: &mut Ctx,
    s: &mut Settings,
    d: &Settings,
    runtimes: Option<Spanned<Vec<String>>>,
    expected: Option<Spanned<String>>,
) -> Result<(), String> {
    if let Some(r) = runtimes {
        check_runtimes(cx, r.get_ref(), r.span())?;
        if d.runtimes.as_ref() == Some(r.get_ref()) {
            cx.warn_same(r.span(), "runtimes");
        }
        s.runtimes = Some(r.into_inner());
    }
    if let Some(x) = expected {
        let re = regex::Regex::new(x.get_ref()).map_err(|e| {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim().to_string();
            format!(
                "{}: expected_failure is not a valid regular expression: {first}",
                cx.at(x.span())
            )
        })?;
        s.expected_failure = Some((x.get_ref().clone(), re));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str, models: Option<&Path>) -> Result<Manifest, String> {
        parse(Path::new("corpora/t.toml"), text, models)
    }

    #[test]
    fn reads_the_issue_example() {
        let models = tempfile::tempdir().unwrap();
        let m = models.path().join("oss/tiny-mlp@1");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("model.onnx"), b"x").unwrap();
        let text = r#"
name = "selftest"
runtimes = ["ort", "tract"]
[defaults]
atol = 1e-4
[[script]]
path = "../models/selftest/twolayer.rhai"
sweep = { batch_size = [1, 8, 32] }
[[onnx]]
set = "oss"
name = "tiny-mlp"
version = 1
sha256 = "ab00000000000000000000000000000000000000000000000000000000000000"
axes = { batch_size = 4 }
runtimes = ["ort"]
expected_failure = "unsupported operator .*"
"#;
        let m = parse_text(text, Some(models.path())).unwrap();
        assert_eq!(m.name, "selftest");
        assert_eq!(m.entries.len(), 2);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let s = &m.entries[0];
        assert_eq!(s.line, 6, "the [[script]] line");
        assert!(
            matches!(&s.kind, EntryKind::Script { path } if path == Path::new("corpora/../models/selftest/twolayer.rhai"))
        );
        assert_eq!(s.settings.sweep.to_string(), "batch_size=1,8,32");
        assert_eq!(s.settings.atol, Some(1e-4));
        assert_eq!(
            s.settings.runtimes.as_deref(),
            Some(&["ort".to_string(), "tract".into()][..])
        );
        let o = &m.entries[1];
        assert_eq!(o.settings.axes["batch_size"], 4);
        assert_eq!(
            o.settings.runtimes.as_deref(),
            Some(&["ort".to_string()][..])
        );
        assert!(
            o.settings
                .expected_failure
                .as_ref()
                .unwrap()
                .1
                .is_match("unsupported operator Foo")
        );
        match &o.kind {
            EntryKind::Onnx { name, path, sha256 } => {
                assert_eq!(name, "tiny-mlp");
                assert!(
                    path.as_ref()
                        .unwrap()
                        .ends_with("oss/tiny-mlp@1/model.onnx")
                );
                assert!(sha256.as_ref().unwrap().starts_with("ab00"));
            }
            _ => panic!("not onnx"),
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        for (text, line, key) in [
            ("name = \"x\"\nbogus = 1\n", 2, "bogus"),
            ("name = \"x\"\n[defaults]\natol = 1e-3\nrtl = 1\n", 4, "rtl"),
            (
                "name = \"x\"\n[[script]]\npath = \"a.rhai\"\n\n[[script]]\npath = \"b.rhai\"\nswep = { a = 1 }\n",
                7,
                "swep",
            ),
            (
                "name = \"x\"\n[[onnx]]\nname = \"m\"\npath = \"m.onnx\"\naxis = { b = 1 }\n",
                5,
                "axis",
            ),
        ] {
            let e = parse_text(text, None).unwrap_err();
            assert!(
                e.starts_with(&format!("corpora/t.toml:{line}: unknown key `{key}`")),
                "{e}"
            );
            assert!(e.contains("known keys"), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn bad_values_are_errors_with_their_line() {
        for (text, want) in [
            (
                "name = \"x\"\nruntimes = [\"onnxruntime\"]\n",
                ":2: unknown runtime 'onnxruntime'",
            ),
            ("name = \"x\"\n[defaults]\natol = -1\n", ":3: atol must be"),
            ("name = \"x\"\n[defaults]\naxes = { b = \"big\" }\n", ":3:"),
            (
                "name = \"x\"\n[defaults]\nscript_args = \"--batch 3\"\n",
                ":3: script_args: --script-args: unknown argument --batch",
            ),
            (
                "name = \"x\"\n[[onnx]]\nname = \"m\"\nset = \"oss\"\n",
                ":2: [[onnx]] 'm' needs `path`",
            ),
            (
                "name = \"x\"\n[[onnx]]\nname = \"m\"\npath = \"m.onnx\"\nsha256 = \"abc\"\n",
                ":5: sha256 must be 64 hex digits",
            ),
            (
                "name = \"x\"\n[[script]]\npath = \"a.rhai\"\nexpected_failure = \"(\"\n",
                ":4: expected_failure is not a valid regular expression",
            ),
            ("[[script]]\npath = \"a.rhai\"\n", "missing key `name`"),
            ("name = \"x\"\n[[script]]\n", "missing key `path`"),
            ("name = [", "corpora/t.toml:1: unclosed array, expected `]`"),
        ] {
            let e = parse_text(text, None).unwrap_err();
            assert!(
                e.contains(want) && e.starts_with("corpora/t.toml"),
                "{text:?}: {e}"
            );
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn entries_override_defaults_and_equal_overrides_warn() {
        let text = r#"name = "x"
runtimes = ["ort"]
[defaults]
atol = 1e-3
axes = { batch_size = 2, seq = 128 }
labels = { task = "nlp" }
[[onnx]]
name = "m"
path = "m.onnx"
atol = 1e-3
axes = { seq = 512, batch_size = 2 }
runtimes = ["ort"]
labels = { author = "me" }
"#;
        let m = parse_text(text, None).unwrap();
        let s = &m.entries[0].settings;
        assert_eq!(s.atol, Some(1e-3));
        assert_eq!(s.axes["seq"], 512);
        assert_eq!(s.axes["batch_size"], 2);
        assert_eq!(s.labels["task"], ["nlp"]);
        assert_eq!(s.labels["author"], ["me"]);
        let w = m.warnings.join("\n");
        assert_eq!(m.warnings.len(), 3, "{w}");
        assert!(
            w.contains("corpora/t.toml:10: atol is the same as in [defaults]"),
            "{w}"
        );
        assert!(w.contains("corpora/t.toml:11: axes.batch_size"), "{w}");
        assert!(w.contains("corpora/t.toml:12: runtimes"), "{w}");
    }

    #[test]
    fn a_missing_model_says_where_it_looked() {
        let models = tempfile::tempdir().unwrap();
        let text = "name = \"x\"\n[[onnx]]\nset = \"oss\"\nname = \"gone\"\nversion = \"2\"\n";
        let m = parse_text(text, Some(models.path())).unwrap();
        let EntryKind::Onnx { path, .. } = &m.entries[0].kind else {
            panic!()
        };
        let e = path.as_ref().unwrap_err();
        let want = models.path().join("oss/gone@2/model.onnx");
        assert!(e.contains(&want.display().to_string()), "{e}");
        assert!(e.starts_with("corpora/t.toml:2:"), "{e}");
        let text = "name = \"x\"\n[[onnx]]\nname = \"p\"\npath = \"nothere.onnx\"\n";
        let m = parse_text(text, None).unwrap();
        let EntryKind::Onnx { path, .. } = &m.entries[0].kind else {
            panic!()
        };
        assert!(path.as_ref().unwrap_err().contains("corpora/nothere.onnx"));
    }
}
