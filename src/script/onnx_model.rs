//! `onnx::load(path)`: a model from an ONNX file (path relative to the
//! script). Its `forward(inputs)` at the top level of a script is
//! intercepted like any model call: each distinct set of input shapes
//! becomes a build of that file, fed with the script's tensors. It returns
//! placeholder outputs of the right shapes and dtypes, so the script can go
//! on with them. An ONNX model cannot be part of another model's traced
//! graph: the IR has no node for a whole ONNX file.

use super::api::Api;
use super::host::{Host, placeholder};
use super::model::{flatten_io, rt_err};
use super::tensor::{Tensor, TensorKind};
use crate::graph::{HostTensor, HostValue, TypeInfo, ValueType};
use crate::onnx::{Bindings, BoundInput, ModelIo, check_feed, infer_outputs, read_model_io};
use rhai::{Array, Dynamic, EvalAltResult, Map, Module, NativeCallContext};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type R<T> = Result<T, Box<EvalAltResult>>;

/// A model loaded from an ONNX file (the Rhai type `OnnxModel`).
#[derive(Clone)]
pub struct OnnxModel {
    path: PathBuf,
    io: Arc<ModelIo>,
}

/// One distinct call of an ONNX model: a build candidate.
#[derive(Clone, Debug)]
pub struct OnnxCall {
    pub path: PathBuf,
    /// The script's tensors, named and ordered as the model's inputs.
    pub inputs: Vec<(String, HostTensor)>,
    /// Line of the (first) call in the script.
    pub line: usize,
    /// How many times the script made this call.
    pub executions: usize,
}

#[derive(Default)]
struct State {
    calls: Vec<OnnxCall>,
    warnings: Vec<String>,
}

/// The ONNX calls a script made, shared with the registered functions.
#[derive(Clone, Default)]
pub struct OnnxCalls(Arc<Mutex<State>>);

impl OnnxCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The calls so far, in the order the script made them.
    pub fn calls(&self) -> Vec<OnnxCall> {
        self.lock().calls.clone()
    }

    /// Non-fatal problems (an output size that had to be guessed, ...).
    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }
}

/// Registers `onnx::load` and the `OnnxModel` methods; `script` is the
/// script's path (relative model paths start from its folder).
pub fn register(api: &mut Api, script: &Path) -> OnnxCalls {
    let calls = OnnxCalls::default();
    let dir = script
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    api.engine.register_type_with_name::<OnnxModel>("OnnxModel");
    api.family("onnx");
    let mut module = Module::new();
    api.doc_in("onnx", "load")
        .about(
            "Loads an ONNX file (relative to the script; inside the script's folder or the \
             models dir): its top-level m.forward(#{ name: tensor, ... }) becomes a build of that \
             file fed with the script's tensors.",
        )
        .torch("onnx.load");
    let d = dir.clone();
    api.fun_in(
        &mut module,
        "onnx",
        "load",
        ["path"],
        move |ctx: NativeCallContext, path: &str| load(&d, path).map_err(|e| rt_err(&ctx, e)),
    );
    api.engine.register_static_module("onnx", module.into());

    let (h, c) = (api.host.clone(), calls.clone());
    api.fun(
        "forward",
        ["model", "inputs"],
        move |ctx: NativeCallContext, m: &mut OnnxModel, inputs: Dynamic| -> R<Dynamic> {
            forward(&h, &c, &ctx, m, inputs)
        },
    );
    api.fun("to_string", ["model"], |m: &mut OnnxModel| describe(m));
    api.fun("to_debug", ["model"], |m: &mut OnnxModel| describe(m));
    api.getter("name", |m: &mut OnnxModel| -> String {
        crate::corpus::onnx_stem(&m.path)
    });
    api.doc_property("inputs")
        .about("An ONNX model's input names, in order.");
    api.getter("inputs", |m: &mut OnnxModel| -> Array {
        m.io.inputs
            .iter()
            .map(|i| Dynamic::from(i.name.clone()))
            .collect()
    });
    calls
}

fn describe(m: &OnnxModel) -> String {
    let ins: Vec<String> =
        m.io.inputs
            .iter()
            .map(|i| format!("{}: {} {}", i.name, i.type_name, i.shape_string()))
            .collect();
    format!("OnnxModel({}, inputs {})", m.path.display(), ins.join(", "))
}

/// The sandbox: the script's folder and the models dir, resolved.
fn allowed_roots(dir: &Path) -> Vec<PathBuf> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    [
        Some(dir.to_path_buf()),
        crate::corpus::manifest::models_dir(),
    ]
    .into_iter()
    .flatten()
    .map(|d| resolve(&d))
    .collect()
}

/// The real path where it exists (symbolic links followed, so a link
/// cannot lead out), else the path with `.` and `..` folded.
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_under(file: &Path, roots: &[PathBuf]) -> bool {
    let f = resolve(file);
    roots.iter().any(|r| f.starts_with(r))
}

fn load(dir: &Path, path: &str) -> Result<OnnxModel, String> {
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    let roots = allowed_roots(dir);
    if !is_under(&full, &roots) {
        return Err(format!(
            "onnx::load(\"{path}\"): not allowed: scripts may load ONNX files only from their \
             own folder ({}) or the models dir ({}); move the file there or pass it to turnkey \
             directly",
            dir.display(),
            crate::corpus::manifest::models_dir()
                .map_or("unset".into(), |d| d.display().to_string())
        ));
    }
    if !full.is_file() {
        return Err(format!(
            "onnx::load(\"{path}\"): no such file: looked for {} (paths are relative to the script's folder)",
            full.display()
        ));
    }
    let io = read_model_io(&full).map_err(|e| format!("onnx::load(\"{path}\"): {e}"))?;
    Ok(OnnxModel {
        path: full,
        io: Arc::new(io),
    })
}

fn forward(
    host: &Host,
    calls: &OnnxCalls,
    ctx: &NativeCallContext,
    m: &OnnxModel,
    inputs: Dynamic,
) -> R<Dynamic> {
    let file = m.path.display().to_string();
    if host.lock().trace.is_some() {
        return Err(rt_err(
            ctx,
            format!(
                "{file}: an ONNX model cannot be called inside another model's forward; \
                 call it at the top level of the script"
            ),
        ));
    }
    let items = flatten_io(&inputs, "input").map_err(|e| rt_err(ctx, format!("{file}: {e}")))?;
    let by_name = inputs.flatten_clone().is::<Map>();
    if !by_name && items.len() != m.io.inputs.len() {
        return Err(rt_err(
            ctx,
            format!(
                "{file}: the model takes {} input(s) ({}), got {}; pass a map to name them",
                m.io.inputs.len(),
                m.io.inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                items.len()
            ),
        ));
    }
    let mut feed = Vec::with_capacity(items.len());
    for (k, (name, t)) in items.into_iter().enumerate() {
        let TensorKind::Concrete(h) = t.0 else {
            return Err(rt_err(ctx, "a traced tensor escaped its model call"));
        };
        let name = if by_name {
            name
        } else {
            m.io.inputs[k].name.clone()
        };
        feed.push((name, HostValue::Tensor((*h).clone())));
    }
    // Scripts make tensors only: a model wanting anything else is refused here.
    let feed: Vec<(String, HostTensor)> = check_feed(&m.io, &Bindings::default(), feed)
        .map_err(|e| rt_err(ctx, format!("{file}: {e}")))?
        .into_iter()
        .filter_map(|(n, v)| Some((n, v.into_tensor()?)))
        .collect();
    let bound: Vec<BoundInput> = feed
        .iter()
        .map(|(n, t)| BoundInput {
            name: n.clone(),
            dtype: t.dtype,
            shape: t.shape.clone(),
            ty: ValueType::Tensor(t.dtype),
        })
        .collect();
    let line = ctx.call_position().line().unwrap_or(0);
    let mut outs = Vec::new();
    let mut guessed = Vec::new();
    for (name, dtype, dims) in infer_outputs(&m.path, &m.io, &bound) {
        let dtype = dtype.ok_or_else(|| {
            rt_err(
                ctx,
                format!("{file}: output '{name}' has a type turnkey cannot represent"),
            )
        })?;
        if dims.iter().any(Option::is_none) {
            guessed.push(name.clone());
        }
        let shape: Vec<usize> = dims.into_iter().map(|d| d.unwrap_or(1)).collect();
        outs.push(TypeInfo::new(shape, dtype));
    }
    let values: Vec<Tensor> = {
        let mut st = host.lock();
        outs.iter()
            .map(|i| Tensor::concrete(placeholder(i, st.next_seed())))
            .collect()
    };
    let executing = host.lock().executor.is_some();
    {
        let mut st = calls.lock();
        if executing {
            st.warnings.push(format!(
                "line {line}: {file}: ONNX files are not executed here; the script sees \
                 placeholder outputs (benchmark the script to run the file)"
            ));
        }
        if !guessed.is_empty() {
            st.warnings.push(format!(
                "line {line}: {file}: the size of output(s) {} is not known before running; \
                 the script sees 1 for the unknown axes",
                guessed.join(", ")
            ));
        }
        let shapes = |f: &[(String, HostTensor)]| -> Vec<Vec<usize>> {
            f.iter().map(|(_, t)| t.shape.clone()).collect()
        };
        let same = st
            .calls
            .iter_mut()
            .find(|c| c.path == m.path && shapes(&c.inputs) == shapes(&feed));
        match same {
            Some(c) => c.executions += 1,
            None => st.calls.push(OnnxCall {
                path: m.path.clone(),
                inputs: feed,
                line,
                executions: 1,
            }),
        }
    }
    Ok(if values.len() == 1 {
        Dynamic::from(values.into_iter().next().expect("one output"))
    } else {
        Dynamic::from_array(values.into_iter().map(Dynamic::from).collect())
    })
}
