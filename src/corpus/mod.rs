//! What a run runs: the command line's inputs (scripts, ONNX files, globs,
//! directories, `.txt` lists, manifests) expanded into jobs, filtered by
//! labels and multiplied by sweeps. Nothing here runs a model; the pipeline
//! takes the jobs.

pub mod args;
pub mod labels;
pub mod manifest;
pub mod sweep;
pub mod variants;

pub use args::CorpusArgs;
pub use labels::{LabelFilter, LabelsFor};
pub use manifest::{Manifest, models_dir};
pub use sweep::{Point, Sweep, point_string};
pub use variants::{Precision, VariantKey, Variants};

use crate::onnx::Bindings;
use crate::script::{Labels, ScriptArgs};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One thing to run.
#[derive(Clone, Debug)]
pub struct Job {
    pub kind: JobKind,
    /// Where it comes from, for messages: the input as given, or `manifest:line`.
    pub origin: String,
    /// Labels from a manifest or `--labels-for`, over the script's own.
    pub labels: Labels,
    /// Runtimes for this job (a manifest's); `None`: the command line's.
    pub runtimes: Option<Vec<String>>,
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    /// The job must fail with an error matching this.
    pub expected_failure: Option<ExpectedFailure>,
    /// The sweep point this job is (empty without a sweep).
    pub point: Point,
    /// The precision variants to make of its builds.
    pub variants: Variants,
}

#[derive(Clone, Debug)]
pub struct ExpectedFailure {
    /// The pattern as written.
    pub pattern: String,
    pub regex: regex::Regex,
}

#[derive(Clone, Debug)]
pub enum JobKind {
    Script {
        path: PathBuf,
        args: ScriptArgs,
    },
    Onnx(OnnxJob),
    /// An entry that cannot run (a bad manifest, a missing model file): it is
    /// recorded as failed, and the run goes on.
    Invalid {
        /// Stem of the failure's build name.
        name: String,
        path: PathBuf,
        error: String,
    },
}

#[derive(Clone, Debug)]
pub struct OnnxJob {
    pub path: PathBuf,
    /// The build name's stem: a manifest entry's name, else the file stem
    /// (the folder name for `…/name/model.onnx`).
    pub stem: String,
    /// The sha256 the file must have (a manifest's).
    pub sha256: Option<String>,
    pub bindings: Bindings,
}

impl Job {
    fn new(kind: JobKind, origin: String) -> Job {
        Job {
            kind,
            origin,
            labels: Labels::new(),
            runtimes: None,
            atol: None,
            rtol: None,
            expected_failure: None,
            point: Vec::new(),
            variants: Variants::default(),
        }
    }

    /// The file the job runs (the manifest for an invalid entry).
    pub fn path(&self) -> &Path {
        match &self.kind {
            JobKind::Script { path, .. } | JobKind::Invalid { path, .. } => path,
            JobKind::Onnx(o) => &o.path,
        }
    }

    /// Equal keys: the same work. Paths are compared resolved, so a file
    /// reached through a link (models/vision/ keeps the old paths of
    /// models/torchvision/) is the same work as the file itself.
    fn key(&self) -> String {
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let what = match &self.kind {
            JobKind::Script { path, args } => {
                format!("script {} {}", real(path).display(), args.text)
            }
            JobKind::Onnx(o) => format!(
                "onnx {} {} {}",
                real(&o.path).display(),
                o.stem,
                o.bindings.describe()
            ),
            JobKind::Invalid { error, .. } => format!("invalid {error}"),
        };
        format!(
            "{what} {:?} {:?} {:?} {:?} {:?} {}",
            self.runtimes,
            self.atol,
            self.rtol,
            self.expected_failure.as_ref().map(|e| &e.pattern),
            self.labels,
            self.variants.describe()
        )
    }
}

/// The jobs of a run, and what expansion has to say.
#[derive(Debug, Default)]
pub struct Plan {
    pub jobs: Vec<Job>,
    /// Things skipped on purpose (not a model file, filtered out, listed twice).
    pub notes: Vec<String>,
    /// Things that work but are probably not meant (a manifest override that does nothing).
    pub warnings: Vec<String>,
    /// Inputs that name nothing to run (a pattern matching no file): each is
    /// a failure of the run.
    pub failures: Vec<String>,
}

impl Plan {
    /// What to tell the user before the run, as (level, message): notes
    /// (unless `quiet`), warnings, then errors.
    pub fn messages(&self, quiet: bool) -> Vec<(&'static str, &str)> {
        let notes = self
            .notes
            .iter()
            .filter(|_| !quiet)
            .map(|n| ("note", n.as_str()));
        let warnings = self.warnings.iter().map(|w| ("warning", w.as_str()));
        let errors = self.failures.iter().map(|f| ("error", f.as_str()));
        notes.chain(warnings).chain(errors).collect()
    }
}

/// Expands the command line's inputs with its flags (see [`expand`]); an
/// error when nothing at all is left to run.
pub fn plan(
    inputs: &[PathBuf],
    args: &CorpusArgs,
    script_args: &str,
    runtimes_from_cli: bool,
) -> Result<Plan, String> {
    let o = ExpandOptions::from_args(args, script_args, runtimes_from_cli)?;
    let plan = expand(inputs, &o)?;
    if plan.jobs.is_empty() && plan.failures.is_empty() {
        let mut why =
            "nothing to run: no .rhai script, .onnx model or manifest entry among the inputs"
                .to_string();
        if let Some(n) = plan.notes.last() {
            why.push_str(&format!(" ({n})"));
        }
        return Err(why);
    }
    Ok(plan)
}

/// Everything from the command line that shapes the jobs.
#[derive(Clone, Debug, Default)]
pub struct ExpandOptions {
    /// `--script-args` as given.
    pub script_args: String,
    pub sweep: Sweep,
    pub filter: LabelFilter,
    /// `--axis` and `--shape`.
    pub bindings: Bindings,
    pub labels_for: Vec<LabelsFor>,
    /// `--runtime` was given: it wins over manifests' runtimes.
    pub runtimes_from_cli: bool,
    /// Where manifests' `[[onnx]]` entries are looked for.
    pub models_dir: Option<PathBuf>,
    /// `--precision` and `--ort-opt-level`: win over manifests and sweeps.
    pub precisions: Option<Vec<Precision>>,
    pub ort_opt_levels: Option<Vec<Option<crate::runtime::GraphOptimization>>>,
}

fn positive(what: &str, arg: &str, v: &str) -> Result<usize, String> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{what} {arg}: '{v}' is not a positive integer")),
    }
}

/// `name=8` (several may share one argument, separated by spaces).
pub fn parse_axes(args: &[String]) -> Result<BTreeMap<String, usize>, String> {
    let mut out = BTreeMap::new();
    for a in args {
        for tok in a.split_whitespace() {
            let (k, v) = tok.split_once('=').ok_or_else(|| {
                format!("--axis {tok}: expected NAME=N (e.g. --axis batch_size=8)")
            })?;
            if k.is_empty() {
                return Err(format!("--axis {tok}: the axis name is empty"));
            }
            out.insert(k.to_string(), positive("--axis", tok, v)?);
        }
    }
    Ok(out)
}

/// `input=1,3,224,224` (several may share one argument, separated by spaces).
pub fn parse_shapes(args: &[String]) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let mut out = BTreeMap::new();
    for a in args {
        for tok in a.split_whitespace() {
            let (k, v) = tok.split_once('=').ok_or_else(|| {
                format!("--shape {tok}: expected INPUT=D1,D2,... (e.g. --shape input=1,3,224,224)")
            })?;
            if k.is_empty() {
                return Err(format!("--shape {tok}: the input name is empty"));
            }
            let dims = if v.trim().is_empty() {
                Vec::new() // a scalar input
            } else {
                v.split(',')
                    .map(|d| match d.trim().parse::<usize>() {
                        Ok(0) => Err(format!(
                            "--shape {tok}: sizes must be at least 1 (an empty tensor has no data to run)"
                        )),
                        Ok(n) => Ok(n),
                        Err(_) => Err(format!(
                            "--shape {tok}: '{d}' is not a size (a positive integer)"
                        )),
                    })
                    .collect::<Result<_, _>>()?
            };
            out.insert(k.to_string(), dims);
        }
    }
    Ok(out)
}

impl ExpandOptions {
    /// Checks and converts the flags; errors name the flag.
    pub fn from_args(
        a: &CorpusArgs,
        script_args: &str,
        runtimes_from_cli: bool,
    ) -> Result<ExpandOptions, String> {
        let mut sweep = Sweep::default();
        for s in &a.sweep {
            sweep = sweep.overlaid(&Sweep::parse(s, "--sweep")?);
        }
        Ok(ExpandOptions {
            script_args: script_args.to_string(),
            sweep,
            filter: LabelFilter::parse(&a.labels)?,
            bindings: Bindings {
                axes: parse_axes(&a.axes)?,
                shapes: parse_shapes(&a.shapes)?,
                values: crate::onnx::parse_input_args(&a.input_values, Path::new("."))?
                    .into_iter()
                    .collect(),
            },
            labels_for: a
                .labels_for
                .iter()
                .map(|l| LabelsFor::parse(l))
                .collect::<Result<_, _>>()?,
            runtimes_from_cli,
            models_dir: models_dir(),
            precisions: a
                .precision
                .as_ref()
                .map(|p| Variants::parse_precisions(std::slice::from_ref(p), "--precision"))
                .transpose()?,
            ort_opt_levels: a
                .ort_opt_level
                .as_ref()
                .map(|p| Variants::parse_levels(std::slice::from_ref(p), "--ort-opt-level"))
                .transpose()?,
        })
    }
}

const MODEL_EXTS: [&str; 2] = ["rhai", "onnx"];
/// How deep `.txt` lists may include each other.
const MAX_LIST_DEPTH: usize = 8;

fn ext(p: &Path) -> String {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// `__init__.rhai` and the like: not models.
fn dunder(p: &Path) -> bool {
    p.file_stem()
        .map(|s| s.to_string_lossy())
        .is_some_and(|s| s.len() > 4 && s.starts_with("__") && s.ends_with("__"))
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The build stem of an ONNX file: its stem, or its folder's name for the
/// `name/model.onnx` layout (ONNX's test data, the model zoo, models dirs).
pub fn onnx_stem(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "model".into());
    if stem == "model"
        && let Some(dir) = path.parent().and_then(|d| d.file_name())
    {
        return dir.to_string_lossy().to_string();
    }
    stem
}

/// Files below `dir` with a model extension, sorted; hidden folders skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, notes: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        notes.push(format!("skipped {}: cannot read the folder", dir.display()));
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, notes);
        } else if MODEL_EXTS.contains(&ext(&p).as_str()) {
            out.push(p);
        }
    }
}

struct Expander<'a> {
    o: &'a ExpandOptions,
    plan: Plan,
    /// Job keys, each with the path it was first listed by.
    seen: HashMap<String, PathBuf>,
    /// Candidate jobs before filtering and sweeping, with their base settings.
    filtered_out: usize,
}

/// Where an entry's settings come from.
#[derive(Default)]
struct Base {
    labels: Labels,
    runtimes: Option<Vec<String>>,
    atol: Option<f64>,
    rtol: Option<f64>,
    expected_failure: Option<ExpectedFailure>,
    sweep: Sweep,
    script_args: Vec<String>,
    bindings: Bindings,
    /// `file:line` of a manifest entry: its errors become invalid jobs.
    entry: Option<String>,
    /// A manifest's `precision` and `ort_opt_level`.
    precisions: Option<Vec<Precision>>,
    ort_opt_levels: Option<Vec<Option<crate::runtime::GraphOptimization>>>,
}

/// Expands the command line's inputs into jobs. Errors (returned) are about
/// the command line itself, e.g. a `--sweep` value a script cannot take;
/// problems of single inputs become notes, failures or invalid jobs.
pub fn expand(inputs: &[PathBuf], o: &ExpandOptions) -> Result<Plan, String> {
    let mut x = Expander {
        o,
        plan: Plan::default(),
        seen: HashMap::new(),
        filtered_out: 0,
    };
    for p in inputs {
        x.input(p, 0)?;
    }
    if x.filtered_out > 0 {
        let wanted: Vec<String> = o
            .filter
            .wanted
            .iter()
            .map(|(k, v)| format!("{k}::{}", v.join(",")))
            .collect();
        x.plan.notes.push(format!(
            "{} input(s) skipped: their labels do not match --labels {}",
            x.filtered_out,
            wanted.join(" ")
        ));
    }
    Ok(x.plan)
}

impl Expander<'_> {
    fn input(&mut self, p: &Path, depth: usize) -> Result<(), String> {
        let text = p.to_string_lossy().to_string();
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files, &mut self.plan.notes);
            if files.is_empty() {
                self.plan.notes.push(format!(
                    "{}: no .rhai or .onnx files in this folder",
                    p.display()
                ));
            }
            for f in files {
                self.file(&f, depth)?;
            }
            return Ok(());
        }
        if !p.exists() && has_glob_chars(&text) {
            let skip_hidden = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..Default::default()
            };
            let paths = match glob::glob_with(&text, skip_hidden) {
                Ok(g) => g.filter_map(Result::ok).collect::<Vec<_>>(),
                Err(e) => {
                    self.plan
                        .failures
                        .push(format!("{text}: not a valid pattern: {e}"));
                    return Ok(());
                }
            };
            if paths.is_empty() {
                self.plan.failures.push(format!("{text}: no file matches"));
            }
            for m in paths {
                if m.is_dir() {
                    self.input(&m, depth)?;
                } else {
                    self.file(&m, depth)?;
                }
            }
            return Ok(());
        }
        self.file(p, depth)
    }

    fn file(&mut self, p: &Path, depth: usize) -> Result<(), String> {
        if dunder(p) {
            self.plan.notes.push(format!(
                "skipped {}: not a model (a __name__ file)",
                p.display()
            ));
            return Ok(());
        }
        match ext(p).as_str() {
            "rhai" => self.script(p, Base::default(), p.display().to_string()),
            "onnx" => {
                let job = OnnxJob {
                    path: p.to_path_buf(),
                    stem: onnx_stem(p),
                    sha256: None,
                    bindings: Bindings::default(),
                };
                self.onnx(job, Base::default(), p.display().to_string())
            }
            "toml" => self.manifest(p),
            "txt" => self.list(p, depth),
            _ if !p.exists() => {
                self.plan
                    .failures
                    .push(format!("{}: no such file", p.display()));
                Ok(())
            }
            _ => {
                self.plan.notes.push(format!(
                    "skipped {}: not a .rhai script, .onnx model, .toml manifest or .txt list",
                    p.display()
                ));
                Ok(())
            }
        }
    }

    fn list(&mut self, p: &Path, depth: usize) -> Result<(), String> {
        if depth >= MAX_LIST_DEPTH {
            self.plan.failures.push(format!(
                "{}: lists nest deeper than {MAX_LIST_DEPTH} levels (does a list include itself?)",
                p.display()
            ));
            return Ok(());
        }
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => {
                self.plan
                    .failures
                    .push(format!("{}: cannot read the list: {e}", p.display()));
                return Ok(());
            }
        };
        let dir = p.parent().unwrap_or(Path::new("."));
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            // Relative entries are relative to the list's folder.
            self.input(&dir.join(l), depth + 1)?;
        }
        Ok(())
    }

    fn labels_for(&self, p: &Path, labels: &mut Labels) {
        for l in &self.o.labels_for {
            if l.applies_to(p) {
                labels::merge(labels, &l.labels);
            }
        }
    }

    fn push(&mut self, job: Job) {
        let key = job.key();
        let Some(first) = self.seen.get(&key) else {
            self.seen.insert(key, job.path().to_path_buf());
            self.plan.jobs.push(job);
            return;
        };
        // The same file by another path (a link: models/*/*.rhai meets both
        // models/vision/ and models/torchvision/) runs once, quietly; the
        // same path listed twice is worth a note.
        if first != job.path() {
            return;
        }
        let pt = if job.point.is_empty() {
            String::new()
        } else {
            format!(" ({})", point_string(&job.point))
        };
        self.plan.notes.push(format!(
            "{}{pt} is listed more than once: running it once",
            job.origin
        ));
    }

    /// An error of a manifest entry becomes an invalid job; on the command
    /// line it stops the run before it starts.
    fn fail_or_invalid(
        &mut self,
        b: &Base,
        path: &Path,
        name: String,
        e: String,
    ) -> Result<(), String> {
        match &b.entry {
            Some(at) => {
                let mut j = Job::new(
                    JobKind::Invalid {
                        name,
                        path: path.to_path_buf(),
                        error: format!("{at}: {e}"),
                    },
                    at.clone(),
                );
                j.labels = b.labels.clone();
                j.expected_failure = b.expected_failure.clone();
                self.push(j);
                Ok(())
            }
            None => Err(e),
        }
    }

    /// The variants of an input: `--precision`/`--ort-opt-level`, else the
    /// sweep's `precision`/`ort_opt_level` keys (taken out of `sweep`: they
    /// choose variants, not script arguments or axes), else the manifest's.
    fn variants(&self, sweep: &mut Sweep, b: &Base) -> Result<Variants, String> {
        let mut take = |key: &str| {
            let v = sweep
                .keys
                .iter()
                .find(|(k, _)| k == key)
                .map(|e| e.1.clone());
            sweep.keys.retain(|(k, _)| k != key);
            v
        };
        let swept_p = take(variants::PRECISION_KEY);
        let swept_l = take(variants::ORT_OPT_LEVEL_KEY);
        let precisions = match (&self.o.precisions, swept_p, &b.precisions) {
            (Some(p), _, _) => p.clone(),
            (None, Some(v), _) => Variants::parse_precisions(&v, "sweep precision")?,
            (None, None, Some(p)) => p.clone(),
            _ => Variants::default().precisions,
        };
        let ort_opt_levels = match (&self.o.ort_opt_levels, swept_l, &b.ort_opt_levels) {
            (Some(l), _, _) => l.clone(),
            (None, Some(v), _) => Variants::parse_levels(&v, "sweep ort_opt_level")?,
            (None, None, Some(l)) => l.clone(),
            _ => Variants::default().ort_opt_levels,
        };
        Ok(Variants {
            precisions,
            ort_opt_levels,
        })
    }

    fn finish(&self, mut j: Job, b: &Base, point: Point) -> Job {
        j.labels = b.labels.clone();
        j.runtimes = if self.o.runtimes_from_cli {
            None
        } else {
            b.runtimes.clone()
        };
        j.atol = b.atol;
        j.rtol = b.rtol;
        j.expected_failure = b.expected_failure.clone();
        j.point = point;
        j
    }

    fn script(&mut self, p: &Path, mut b: Base, origin: String) -> Result<(), String> {
        // The script's own labels decide the filter; an unreadable script is
        // kept so that its error is reported.
        let mut labels = crate::script::read_script(p)
            .ok()
            .and_then(|t| crate::script::header::parse_header(&t).ok())
            .map(|h| h.labels)
            .unwrap_or_default();
        labels::merge(&mut labels, &b.labels);
        self.labels_for(p, &mut labels);
        if !self.o.filter.matches(&labels) {
            self.filtered_out += 1;
            return Ok(());
        }
        // Only the added labels travel with the job; the script's own are read again.
        let mut added = b.labels.clone();
        self.labels_for(p, &mut added);
        b.labels = added;
        let mut sweep = b.sweep.overlaid(&self.o.sweep);
        sweep.check_size(&format!("{}: sweep", p.display()))?;
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let variants = match self.variants(&mut sweep, &b) {
            Ok(v) => v,
            Err(e) => return self.fail_or_invalid(&b, p, stem, e),
        };
        for point in sweep.points() {
            let mut parts: Vec<&str> = b.script_args.iter().map(String::as_str).collect();
            parts.push(&self.o.script_args);
            match merge_args(&parts, &point) {
                Ok(args) => {
                    let job = Job::new(
                        JobKind::Script {
                            path: p.to_path_buf(),
                            args,
                        },
                        origin.clone(),
                    );
                    let mut job = self.finish(job, &b, point);
                    job.variants = variants.clone();
                    self.push(job);
                }
                Err(e) => self.fail_or_invalid(&b, p, stem.clone(), e)?,
            }
        }
        Ok(())
    }

    fn onnx(&mut self, mut job: OnnxJob, mut b: Base, origin: String) -> Result<(), String> {
        let mut labels = b.labels.clone();
        self.labels_for(&job.path, &mut labels);
        if !self.o.filter.matches(&labels) {
            self.filtered_out += 1;
            return Ok(());
        }
        b.labels = labels;
        let mut sweep = b.sweep.overlaid(&self.o.sweep);
        sweep.check_size(&format!("{}: sweep", job.path.display()))?;
        let variants = match self.variants(&mut sweep, &b) {
            Ok(v) => v,
            Err(e) => return self.fail_or_invalid(&b, &job.path, job.stem.clone(), e),
        };
        // Command line over the manifest.
        let mut base = b.bindings.clone();
        base.axes.extend(self.o.bindings.axes.clone());
        base.shapes.extend(self.o.bindings.shapes.clone());
        base.values.extend(self.o.bindings.values.clone());
        for point in sweep.points() {
            let mut bindings = base.clone();
            let mut bad = None;
            for (k, v) in &point {
                match positive("--sweep", &format!("{k}={v}"), v) {
                    Ok(n) => {
                        bindings.axes.insert(k.clone(), n);
                    }
                    Err(e) => bad = Some(format!("{e} (an ONNX sweep sizes axes)")),
                }
            }
            if let Some(e) = bad {
                self.fail_or_invalid(&b, &job.path, job.stem.clone(), e)?;
                continue;
            }
            job.bindings = bindings;
            let j = Job::new(JobKind::Onnx(job.clone()), origin.clone());
            let mut j = self.finish(j, &b, point);
            j.variants = variants.clone();
            self.push(j);
        }
        Ok(())
    }

    fn manifest(&mut self, p: &Path) -> Result<(), String> {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "manifest".into());
        let m = match manifest::load(p, self.o.models_dir.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                let j = Job::new(
                    JobKind::Invalid {
                        name: stem,
                        path: p.to_path_buf(),
                        error: e,
                    },
                    p.display().to_string(),
                );
                self.push(j);
                return Ok(());
            }
        };
        self.plan.warnings.extend(m.warnings.iter().cloned());
        for e in &m.entries {
            let s = &e.settings;
            let at = format!("{}:{}", p.display(), e.line);
            let mut labels = s.labels.clone();
            labels
                .entry("corpus".into())
                .or_insert_with(|| vec![m.name.clone()]);
            let b = Base {
                labels,
                runtimes: s.runtimes.clone(),
                atol: s.atol,
                rtol: s.rtol,
                expected_failure: s.expected_failure.as_ref().map(|(p, r)| ExpectedFailure {
                    pattern: p.clone(),
                    regex: r.clone(),
                }),
                sweep: s.sweep.clone(),
                script_args: s.script_args.clone(),
                bindings: Bindings {
                    axes: s.axes.clone(),
                    shapes: s.shapes.clone(),
                    values: s.inputs.clone(),
                },
                entry: Some(at.clone()),
                precisions: s.precisions.clone(),
                ort_opt_levels: s.ort_opt_levels.clone(),
            };
            match &e.kind {
                manifest::EntryKind::Script { path } => self.script(path, b, at)?,
                manifest::EntryKind::Onnx { name, path, sha256 } => match path {
                    Ok(path) => {
                        let job = OnnxJob {
                            path: path.clone(),
                            stem: name.clone(),
                            sha256: sha256.clone(),
                            bindings: Bindings::default(),
                        };
                        self.onnx(job, b, at)?;
                    }
                    Err(why) => {
                        let mut j = Job::new(
                            JobKind::Invalid {
                                name: name.clone(),
                                path: p.to_path_buf(),
                                error: why.clone(),
                            },
                            at,
                        );
                        j.labels = b.labels.clone();
                        j.expected_failure = b.expected_failure.clone();
                        self.push(j);
                    }
                },
            }
        }
        Ok(())
    }
}

/// Script arguments from several sources, later ones winning, then the
/// sweep point. One source alone keeps its text; merged ones are written
/// out as `--name value`, sorted.
pub fn merge_args(parts: &[&str], point: &Point) -> Result<ScriptArgs, String> {
    let given: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if point.is_empty() && given.len() <= 1 {
        return ScriptArgs::parse(given.first().copied().unwrap_or(""));
    }
    let mut values = BTreeMap::new();
    for p in given {
        values.extend(ScriptArgs::parse(p)?.values);
    }
    let point_text: Vec<String> = point.iter().map(|(k, v)| format!("--{k} {v}")).collect();
    let pt = ScriptArgs::parse(&point_text.join(" "))
        .map_err(|e| e.replacen("--script-args", "--sweep", 1))?;
    values.extend(pt.values);
    let text: Vec<String> = values.iter().map(|(k, v)| format!("--{k} {v}")).collect();
    ScriptArgs::parse(&text.join(" "))
}

#[cfg(test)]
mod tests;
