//! The Rhai host: runs a model script, intercepts each top-level
//! `model.forward(inputs)`, and returns the traced calls as builds.

pub mod api;
pub mod args;
pub mod composites;
pub mod error;
pub mod generate;
pub mod guard;
pub mod header;
pub mod host;
pub mod layers;
pub mod model;
pub mod naming;
pub mod onnx_model;
pub mod tensor;
pub mod weights;

pub use args::{ArgValue, ScriptArgs};
pub use error::ScriptError;
pub use header::Labels;
pub use host::{Executor, human_bytes, parse_memory};

use crate::graph::{Graph, HostTensor};
use host::{Host, HostState};
use rhai::{Engine, Module, Scope};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Stdlib files compiled into the binary: (module name, file stem, source),
/// every stdlib/*.rhai (build.rs lists them). A module may span files (one
/// family each: stdlib/vision_swin.rhai is part of `vision::`); they are
/// merged into one.
const STDLIB: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// A stdlib file: (module, file stem, source).
type StdlibFile = (&'static str, String, std::borrow::Cow<'static, str>);

/// The stdlib files of a folder, named and ordered as build.rs does.
fn stdlib_from(dir: &Path) -> Result<Vec<StdlibFile>, String> {
    let err = |e: std::io::Error| format!("TURNKEY_STDLIB_DIR: {}: {e}", dir.display());
    let mut stems = Vec::new();
    for e in std::fs::read_dir(dir).map_err(err)? {
        let p = e.map_err(err)?.path();
        if p.extension().is_some_and(|x| x == "rhai")
            && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
        {
            stems.push(stem.to_string());
        }
    }
    stems.sort_by_key(|f| (f.contains('_'), f.clone()));
    stems
        .into_iter()
        .map(|f| {
            let src = std::fs::read_to_string(dir.join(format!("{f}.rhai"))).map_err(err)?;
            // Module names are few and live as long as the process (the
            // API reference keeps them as &'static str): leaked, dev only.
            let module: &'static str = f.split('_').next().unwrap_or(&f).to_string().leak();
            Ok((module, f, src.into()))
        })
        .collect()
}

#[derive(Clone, Default)]
pub struct DiscoverOptions {
    pub script_args: ScriptArgs,
    /// Also build sub-models down to this depth (0 = top-level calls only).
    pub max_depth: usize,
    /// Computes real outputs for each call (turnkey run); None = placeholders.
    pub executor: Option<Executor>,
    /// Wall-clock budget for running the script (`--timeout`); None = no limit.
    pub timeout: Option<Duration>,
    /// `--max-memory` in bytes; None = half the physical memory.
    pub max_memory: Option<u64>,
    /// `--analyze-only`: weights are never made, so their size is no limit.
    pub analyze_only: bool,
    /// `--weights PATH` (absolute): what `pretrained: true` loads.
    pub weights: Option<PathBuf>,
}

/// Size limits on script values: generous for model code, small enough that
/// a runaway script fails with a clear message instead of exhausting memory.
/// Rhai re-measures an array on every growth (quadratic), so the array and
/// map limits stay small; tensors come from rand()/zeros(), not literals.
pub const MAX_STRING_BYTES: usize = 16 << 20;
pub const MAX_ARRAY_LEN: usize = 20_000;
pub const MAX_MAP_LEN: usize = 20_000;
pub const MAX_CALL_LEVELS: usize = 256;

/// The token a script run is terminated with on Ctrl-C.
const INTERRUPTED: &str = "interrupted";

/// One distinct model call of a script.
#[derive(Clone, Debug)]
pub struct Build {
    /// `<script stem>[_<author>]_<hash8>`.
    pub name: String,
    /// sha256 of the graph structure and its inputs (SCRIPTS.md).
    pub hash: String,
    pub graph: Graph,
    pub inputs: Vec<(String, HostTensor)>,
    /// Line of the (first) call in the script.
    pub line: usize,
    pub depth: usize,
    /// Index in `Discovery::builds` of the top-level build this came from.
    pub parent: Option<usize>,
    /// How many times the script made this call.
    pub executions: usize,
    /// `lm.generate`: the decode graph and the generation's shape.
    pub generation: Option<Box<generate::Generation>>,
}

#[derive(Clone, Debug)]
pub struct Discovery {
    pub path: PathBuf,
    pub labels: Labels,
    pub description: String,
    pub script_args: String,
    pub builds: Vec<Build>,
    pub warnings: Vec<String>,
    /// Calls of models loaded with `onnx::load` (builds of ONNX files).
    pub onnx_calls: Vec<onnx_model::OnnxCall>,
    /// The configs the stdlib builders resolved (`record_config`), in call
    /// order: (builder, config after its defaults).
    pub configs: Vec<(String, serde_json::Value)>,
}

pub fn build_name(stem: &str, labels: &Labels, hash: &str) -> String {
    let author = labels.get("author").and_then(|a| a.first());
    match author {
        Some(a) => format!("{stem}_{a}_{}", &hash[..8]),
        None => format!("{stem}_{}", &hash[..8]),
    }
}

/// Reads a script file as UTF-8 text, with errors users can act on.
pub fn read_script(path: &Path) -> Result<String, ScriptError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ScriptError::file(path, "no such file"),
        _ => ScriptError::file(path, format!("cannot read: {e}")),
    })?;
    if meta.is_dir() {
        return Err(ScriptError::file(
            path,
            "is a directory, not a script (pass the scripts inside, e.g. DIR/*.rhai)",
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| ScriptError::file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        ScriptError::file(
            path,
            format!(
                "is not UTF-8 text (invalid byte at offset {}): is it a script?",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A Rhai engine with the API and stdlib, plus the stdlib's
/// closures: they are private to their module, so the host adds them to each
/// user script's AST, or a closure made inside e.g. `nn::transformer_encoder_layer`
/// could not be called back.
pub struct ScriptEngine {
    pub engine: Engine,
    stdlib_closures: rhai::AST,
    stdlib_fn_names: std::collections::HashSet<String>,
    /// The reference of everything registered (`turnkey api`).
    pub book: api::Book,
    /// The `onnx::load` calls the script makes.
    pub onnx_calls: onnx_model::OnnxCalls,
    host: Host,
}

impl ScriptEngine {
    /// Compiles a user script with the stdlib closures merged in.
    pub fn compile(&self, source: &str) -> Result<rhai::AST, rhai::ParseError> {
        let user = self.engine.compile(guard::guard_switches(source))?;
        // nn::module reads its closure's parameter names from here.
        self.host.lock().fn_params.add_ast(&user);
        Ok(self.stdlib_closures.merge(&user))
    }

    pub fn is_stdlib_fn(&self, name: &str) -> bool {
        self.stdlib_fn_names.contains(name)
    }
}

/// Refuses every `import`: the sandbox gives scripts no file access, and
/// the stdlib modules need no import.
struct NoImports;

impl rhai::ModuleResolver for NoImports {
    fn resolve(
        &self,
        _: &Engine,
        _: Option<&str>,
        path: &str,
        pos: rhai::Position,
    ) -> Result<rhai::Shared<Module>, Box<rhai::EvalAltResult>> {
        let msg = format!(
            "import \"{path}\" is not allowed: scripts cannot read files; the stdlib \
             modules (nn::, vision::, transformers::, gnn::) need no import"
        );
        Err(rhai::EvalAltResult::ErrorRuntime(msg.into(), pos).into())
    }
}

/// A Rhai engine with the whole script API and the stdlib registered;
/// `script` is the script's path (`onnx::load` resolves from its folder).
pub fn engine(host: &Host, script: &Path) -> Result<ScriptEngine, String> {
    host.lock().files.dir = script
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut engine = Engine::new();
    // `module` is reserved in Rhai, but SCRIPTS.md's API is `nn::module`.
    #[allow(deprecated)]
    engine.on_parse_token(|token, _, _| match token {
        rhai::Token::Reserved(s) if s.as_str() == "module" => rhai::Token::Identifier(s),
        other => other,
    });
    // Scripts get no file access: `import "file"` would read from disk.
    engine.set_module_resolver(NoImports);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(256, 128);
    engine.set_max_string_size(MAX_STRING_BYTES);
    engine.set_max_array_size(MAX_ARRAY_LEN);
    engine.set_max_map_size(MAX_MAP_LEN);
    // No compile-time rewriting: the optimizer folds `expr && true` to
    // `expr` and would let a tensor condition pass where Rhai needs a bool.
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    let (mut nn, mut book) = api::register(&mut engine, host);
    let onnx_calls = {
        let mut scratch = Module::new();
        let mut a = api::Api::new(&mut engine, &mut scratch, host, &mut book);
        onnx_model::register(&mut a, script)
    };
    let mut closures = rhai::AST::empty();
    let mut names = std::collections::HashSet::new();
    let mut modules: Vec<(&str, Module)> = Vec::new();
    // TURNKEY_STDLIB_DIR (development): read every stdlib file from that
    // folder instead of the copies compiled in, so that editing or adding a
    // family needs no rebuild. Builds stay honest: their hash is the traced
    // graph's.
    // Empty is unset, as shells write `TURNKEY_STDLIB_DIR= turnkey ...`.
    let files: Vec<StdlibFile> = match std::env::var_os("TURNKEY_STDLIB_DIR")
        .filter(|d| !d.is_empty())
    {
        Some(dir) => {
            // Said once per process: a run on another stdlib is never silent.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "note: the stdlib is read from TURNKEY_STDLIB_DIR={} (development), not the built-in one",
                    Path::new(&dir).display()
                )
            });
            stdlib_from(Path::new(&dir))?
        }
        None => STDLIB
            .iter()
            .map(|&(m, f, s)| (m, f.to_string(), s.into()))
            .collect(),
    };
    for (name, file, src) in &files {
        let (name, src) = (*name, src.as_ref());
        let mut ast = engine
            .compile(guard::guard_switches(src))
            .map_err(|e| format!("stdlib/{file}.rhai: {e} (a turnkey bug)"))?;
        ast.set_source(format!("stdlib/{file}.rhai"));
        names.extend(ast.iter_functions().map(|f| f.name.to_string()));
        host.lock().fn_params.add_ast(&ast);
        api::reference::add_stdlib(&mut book, name, src);
        let mut anon = ast.clone_functions_only_filtered(|_, _, _, n, _| n.starts_with("anon$"));
        anon.clear_source();
        closures = closures.merge(&anon);
        let module = Module::eval_ast_as_new(Scope::new(), &ast, &engine)
            .map_err(|e| format!("stdlib/{file}.rhai: {e} (a turnkey bug)"))?;
        if name == "nn" {
            nn.combine_flatten(module);
        } else if let Some((_, m)) = modules.iter_mut().find(|(n, _)| *n == name) {
            m.combine_flatten(module);
        } else {
            modules.push((name, module));
        }
    }
    for (name, module) in modules {
        engine.register_static_module(name, module.into());
    }
    engine.register_static_module("nn", nn.into());
    Ok(ScriptEngine {
        engine,
        stdlib_closures: closures,
        stdlib_fn_names: names,
        book,
        onnx_calls,
        host: host.clone(),
    })
}

/// The reference of the whole script API: every registered function,
/// operator, property, layer and stdlib builder.
pub fn reference() -> api::Book {
    let host = Host::new(HostState::new(ScriptArgs::default(), 0, None));
    engine(&host, Path::new("script.rhai"))
        .expect("the stdlib compiles (a turnkey bug otherwise)")
        .book
}

/// Runs the script at `path` and returns its distinct model calls.
pub fn discover(path: &Path, opts: &DiscoverOptions) -> Result<Discovery, ScriptError> {
    let text = read_script(path)?;
    let header = header::parse_header(&text).map_err(|e| ScriptError::Labels {
        path: path.display().to_string(),
        line: e.line,
        token: e.token,
        why: e.why.to_string(),
    })?;
    let mut state = HostState::new(
        opts.script_args.clone(),
        opts.max_depth,
        opts.executor.clone(),
    );
    if let Some(m) = opts.max_memory {
        state.max_memory = m;
    }
    state.analyze_only = opts.analyze_only;
    state.files.weights = opts.weights.clone();
    let host = Host::new(state);
    let mut engine = engine(&host, path).map_err(|e| ScriptError::file(path, e))?;
    let onnx_calls = engine.onnx_calls.clone();
    let ast = engine
        .compile(&header.source)
        .map_err(|e| error::from_parse(path, &e))?;
    // Checked every few thousand operations: an endless loop ends as a
    // timeout of this script (the run goes on), Ctrl-C as an interruption.
    let deadline = opts.timeout.map(|limit| (Instant::now() + limit, limit));
    engine.engine.on_progress(move |ops| {
        if ops % 4096 != 0 {
            return None;
        }
        if crate::interrupt::requested() {
            return Some(INTERRUPTED.into());
        }
        deadline
            .filter(|(at, _)| Instant::now() >= *at)
            .map(|(_, limit)| limit.as_secs_f64().into())
    });
    engine
        .engine
        .run_ast(&ast)
        .map_err(|e| error::from_eval(path, &e, &|f| engine.is_stdlib_fn(f), &engine.book))?;

    let mut st = host.lock();
    let calls = std::mem::take(&mut st.calls);
    if calls.is_empty() && onnx_calls.calls().is_empty() {
        return Err(ScriptError::NoModelCall {
            path: path.display().to_string(),
        });
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "script".into());
    let mut builds: Vec<Build> = Vec::new();
    let mut by_hash: HashMap<String, usize> = HashMap::new();
    let mut call_to_build = Vec::with_capacity(calls.len());
    for call in calls {
        let hash = match &call.generation {
            // Both graphs and the token count make a generation build.
            Some(g) => generate::build_hash(&call.graph, g),
            None => call.graph.structure_hash(),
        };
        if let Some(&i) = by_hash.get(&hash) {
            builds[i].executions += 1;
            call_to_build.push(i);
            continue;
        }
        let parent = call.parent.map(|p| call_to_build[p]);
        by_hash.insert(hash.clone(), builds.len());
        call_to_build.push(builds.len());
        builds.push(Build {
            name: build_name(&stem, &header.labels, &hash),
            hash,
            graph: call.graph,
            inputs: call.inputs,
            line: call.line,
            depth: call.depth,
            parent,
            executions: 1,
            generation: call.generation,
        });
    }
    let warnings = st
        .args
        .unused(&st.asked)
        .into_iter()
        .map(|a| {
            format!("--{a} was passed in --script-args but the script never asks for it in parse()")
        })
        .chain(onnx_calls.warnings())
        .chain(std::mem::take(&mut st.notes))
        .chain(
            (st.files.weights.is_some() && !st.weights_used).then(|| {
                "--weights was given but the script loaded no pretrained weights: ask for                  parse([\"pretrained\"]) and pass pretrained: args.pretrained to the builder                  (or call model.load_weights(#{ pretrained: true }))"
                    .to_string()
            }),
        )
        .collect();
    Ok(Discovery {
        path: path.to_path_buf(),
        labels: header.labels,
        description: header.description,
        script_args: st.args.text.clone(),
        builds,
        warnings,
        onnx_calls: onnx_calls.calls(),
        configs: std::mem::take(&mut st.configs),
    })
}

#[cfg(test)]
mod tests;
