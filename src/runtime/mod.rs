//! Inference runtimes behind one interface.
//!
//! A [`Runtime`] loads an ONNX file into a [`Session`]; a session takes
//! [`HostTensor`] inputs once, runs any number of times, and hands back its
//! outputs as [`HostTensor`]s. Conversions happen outside [`Session::run`], so
//! a timed `run` measures the runtime and not our glue.
//!
//! Adding a runtime = one file here plus one line in [`REGISTRY`].
//!
//! On a GPU, [`Session::run`] goes from host inputs to host outputs
//! ("whole" latency) and [`Session::run_core`] from inputs already on the
//! device to outputs left there ("core" latency).

pub mod ort;
pub mod torch;
pub mod tract;

#[cfg(test)]
pub(crate) mod test_models;

use crate::graph::{DType, Graph, HostTensor, HostValue};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

/// An inference engine that turns an ONNX file into a runnable session.
pub trait Runtime {
    /// The name users type (`--runtime ort`).
    fn name(&self) -> &'static str;
    /// The engine's version, e.g. the loaded ONNX Runtime library's.
    fn version(&self) -> String;
    /// Loads and prepares `model` (the timed "compile" step).
    fn load(&self, model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError>;
}

/// A prepared model: set inputs once, then run and read outputs.
pub trait Session {
    /// Converts `inputs` to the runtime's own tensors and keeps them for [`Session::run`].
    /// Every model input must be given exactly once, with the model's dtype.
    fn set_inputs(&mut self, inputs: &[(String, HostTensor)]) -> Result<(), RuntimeError>;
    /// One inference on the inputs set last; the outputs are kept inside.
    /// Every run starts from the same state: nothing a run computes (a
    /// recurrent op's hidden state) carries over into the next.
    fn run(&mut self) -> Result<(), RuntimeError>;
    /// The outputs of the last [`Session::run`], in the model's output order.
    fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError>;
    /// Like [`Session::set_inputs`], for models whose inputs may be
    /// sequences or optionals. Runtimes without them take tensors only.
    fn set_values(&mut self, inputs: &[(String, HostValue)]) -> Result<(), RuntimeError> {
        let tensors = inputs
            .iter()
            .map(|(n, v)| match v {
                HostValue::Tensor(t) => Ok((n.clone(), t.clone())),
                other => Err(RuntimeError::UnsupportedDtype {
                    runtime: self.runtime_name(),
                    dtype: other.value_type().to_string(),
                    what: format!("model input '{n}'; only ort runs sequences and optionals"),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.set_inputs(&tensors)
    }
    /// Like [`Session::outputs`], keeping sequences and optionals.
    fn output_values(&mut self) -> Result<Vec<(String, HostValue)>, RuntimeError> {
        Ok(self
            .outputs()?
            .into_iter()
            .map(|(n, t)| (n, HostValue::Tensor(t)))
            .collect())
    }
    /// The runtime's name, for messages.
    fn runtime_name(&self) -> &'static str {
        "this runtime"
    }
    /// Settings worth recording: threads, optimization level, execution provider, ...
    fn details(&self) -> BTreeMap<String, String>;
    /// True when [`Session::run_core`] measures something else than
    /// [`Session::run`]: sessions on a GPU. On the CPU host memory is the
    /// device's, so both are the same.
    fn has_core(&self) -> bool {
        false
    }
    /// One inference with the inputs already on the device and the outputs
    /// left there, synchronized ("core" latency). Does not change what
    /// [`Session::outputs`] returns.
    fn run_core(&mut self) -> Result<(), RuntimeError> {
        self.run()
    }
}

/// The numeric precision a session computes in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The model's own dtypes (float32 for traced float models).
    #[default]
    Fp32,
    /// Half precision where the runtime builds its own kernels (TensorRT).
    Fp16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
        })
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp32" | "float32" => Ok(Precision::Fp32),
            "fp16" | "float16" => Ok(Precision::Fp16),
            _ => Err(format!("unknown precision '{s}': use fp32 or fp16")),
        }
    }
}

/// ONNX Runtime's graph optimization levels (`--ort-opt-level`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum GraphOptimization {
    /// No graph optimization (ORT_DISABLE_ALL).
    Disabled,
    /// Constant folding, redundant node removal, simple fusions (ORT_ENABLE_BASIC).
    Basic,
    /// Basic + complex fusions: GELU, layer norm, attention, skip layer norm, ... (ORT_ENABLE_EXTENDED).
    Extended,
    /// Extended + memory layout (NCHWc) optimizations (ORT_ENABLE_ALL).
    All,
}

impl GraphOptimization {
    pub const ALL: [GraphOptimization; 4] = [
        GraphOptimization::Disabled,
        GraphOptimization::Basic,
        GraphOptimization::Extended,
        GraphOptimization::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GraphOptimization::Disabled => "disabled",
            GraphOptimization::Basic => "basic",
            GraphOptimization::Extended => "extended",
            GraphOptimization::All => "all",
        }
    }
}

impl fmt::Display for GraphOptimization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GraphOptimization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        GraphOptimization::ALL
            .into_iter()
            .find(|g| g.as_str() == t)
            .ok_or_else(|| {
                format!("unknown ONNX Runtime optimization level '{s}': use disabled, basic, extended or all")
            })
    }
}

/// How to build a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionOptions {
    /// Intra-op threads; 0 means all cores the process may use.
    pub threads: usize,
    pub device: Device,
    pub precision: Precision,
    /// ONNX Runtime's graph optimization level; `None`: its default (all).
    /// Other runtimes have no such setting and ignore it.
    pub graph_optimization: Option<GraphOptimization>,
    /// The dtype and shape each tensor input will have, when known at load
    /// (the worker reads its inputs first). Runtimes that analyse and
    /// optimize for concrete shapes (tract) set them before optimization.
    pub input_shapes: Vec<(String, DType, Vec<usize>)>,
}

impl SessionOptions {
    /// The thread count to ask a runtime for: `threads`, or all usable cores when 0.
    pub fn effective_threads(&self) -> usize {
        if self.threads == 0 {
            available_cores()
        } else {
            self.threads
        }
    }
}

/// Logical CPUs this process may run on (affinity and cgroup limits included).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where a session runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA GPU by index (`cuda` = `cuda:0`).
    Cuda(u32),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl Device {
    /// Parses a comma-separated list (`cpu,cuda:1`), without duplicates.
    pub fn parse_list(s: &str) -> Result<Vec<Device>, RuntimeError> {
        let mut out: Vec<Device> = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let d: Device = part.parse()?;
            if !out.contains(&d) {
                out.push(d);
            }
        }
        if out.is_empty() {
            return Err(RuntimeError::InvalidDevice(s.to_string()));
        }
        Ok(out)
    }
}

impl FromStr for Device {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        if t == "cpu" {
            return Ok(Device::Cpu);
        }
        if t == "cuda" {
            return Ok(Device::Cuda(0));
        }
        if let Some(n) = t.strip_prefix("cuda:")
            && let Ok(i) = n.parse::<u32>()
        {
            return Ok(Device::Cuda(i));
        }
        Err(RuntimeError::InvalidDevice(s.to_string()))
    }
}

// Devices travel in worker specs and records as their user spelling.
impl serde::Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// Clone: a failed library search is cached and handed to every caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown runtime '{name}': known runtimes are {known}")]
    UnknownRuntime { name: String, known: String },

    #[error("unknown device '{0}': use cpu, cuda or cuda:N")]
    InvalidDevice(String),

    #[error("device {device} is not supported by {runtime}: use --device cpu")]
    UnsupportedDevice {
        device: Device,
        runtime: &'static str,
    },

    /// The device exists in principle, but this runtime cannot use it here.
    #[error("{runtime} cannot run on {device}: {reason}")]
    DeviceUnavailable {
        runtime: &'static str,
        device: Device,
        reason: String,
    },

    #[error("{runtime} does not support --precision {precision}: {hint}")]
    UnsupportedPrecision {
        runtime: &'static str,
        precision: Precision,
        hint: String,
    },

    #[error("runtime {runtime} is not in this build of turnkey: {hint}")]
    NotBuilt { runtime: &'static str, hint: String },

    #[error(
        "ONNX Runtime not found: pip install onnxruntime, or set ORT_DYLIB_PATH \
         (looked in: {looked_in})"
    )]
    OrtNotFound { looked_in: String },

    #[error("ONNX Runtime library {path} cannot be used: {message}. {hint}")]
    OrtLibrary {
        path: PathBuf,
        message: String,
        hint: String,
    },

    #[error("{runtime} could not load model {model}: {message}")]
    Load {
        runtime: &'static str,
        model: PathBuf,
        message: String,
    },

    #[error("{runtime}: {message}")]
    Input {
        runtime: &'static str,
        message: String,
    },

    #[error("{runtime} does not support {dtype} ({what})")]
    UnsupportedDtype {
        runtime: &'static str,
        dtype: String,
        what: String,
    },

    #[error("{runtime} inference failed: {message}")]
    Run {
        runtime: &'static str,
        message: String,
    },

    #[error("{runtime}: outputs asked for before any run; call run() first")]
    NotRun { runtime: &'static str },
}

/// One line per runtime: its name and how to make it.
type Maker = fn() -> Box<dyn Runtime>;
const REGISTRY: &[(&str, Maker)] = &[
    ("ort", || Box::new(ort::OrtRuntime)),
    ("tract", || Box::new(tract::TractRuntime)),
    ("ort-trt", || Box::new(ort::OrtTrtRuntime)),
    ("torch", || Box::new(torch::TorchRuntime)),
];

static NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| REGISTRY.iter().map(|(n, _)| *n).collect());

/// The runtimes this build knows, in preference order.
pub fn names() -> &'static [&'static str] {
    &NAMES
}

/// The runtime called `name`.
pub fn by_name(name: &str) -> Result<Box<dyn Runtime>, RuntimeError> {
    REGISTRY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make())
        .ok_or_else(|| RuntimeError::UnknownRuntime {
            name: name.to_string(),
            known: names().join(", "),
        })
}

/// The runtime to use when the user asks for `auto`: ONNX Runtime when its
/// library can be found and loaded, else tract. The string says why.
pub fn resolve_auto() -> (&'static str, String) {
    match ort::locate() {
        Ok(lib) => (
            "ort",
            format!("ONNX Runtime {} at {}", lib.version, lib.path.display()),
        ),
        Err(e) => ("tract", format!("using tract because {e}")),
    }
}

/// The traced graph saved beside an exported model (`model.onnx` →
/// `model.graph.json`): runtimes that execute the IR itself (torch) read it.
/// Parameter values are not in it, only how to make them (as for export).
pub fn ir_path(model: &Path) -> PathBuf {
    model.with_extension("graph.json")
}

/// Writes `graph` to [`ir_path`]`(model)`, atomically.
pub fn write_ir(model: &Path, graph: &Graph) -> std::io::Result<()> {
    let path = ir_path(model);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let bytes = serde_json::to_vec(graph).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&bytes)?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads the graph saved beside `model` by [`write_ir`].
pub fn read_ir(runtime: &'static str, model: &Path) -> Result<Graph, RuntimeError> {
    let path = ir_path(model);
    let err = |message: String| RuntimeError::Load {
        runtime,
        model: model.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        err(format!(
            "{runtime} executes turnkey's traced graph, read from {}, which cannot be read ({e}). \
             ONNX files given as inputs have no traced graph; a build exported by an older \
             turnkey gets one with --rebuild",
            path.display()
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        err(format!(
            "{} is not a valid traced graph: {e}",
            path.display()
        ))
    })
}

/// Checks that `given` supplies every name in `expected` exactly once and
/// nothing else; returns, for each expected name, the index into `given`.
pub(crate) fn match_inputs<T>(
    runtime: &'static str,
    expected: &[String],
    given: &[(String, T)],
) -> Result<Vec<usize>, RuntimeError> {
    let err = |message: String| RuntimeError::Input { runtime, message };
    for (i, (name, _)) in given.iter().enumerate() {
        if !expected.contains(name) {
            return Err(err(format!(
                "input '{name}' is not an input of the model (model inputs: {})",
                expected.join(", ")
            )));
        }
        if given[..i].iter().any(|(n, _)| n == name) {
            return Err(err(format!("input '{name}' is given twice")));
        }
    }
    expected
        .iter()
        .map(|name| {
            given.iter().position(|(n, _)| n == name).ok_or_else(|| {
                err(format!(
                    "model input '{name}' is not given (given: {})",
                    given
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}

/// Checks a tensor's dtype, shape and byte length against what the model
/// declares; `dims` uses `None` for a dimension the model leaves free.
pub(crate) fn check_input(
    runtime: &'static str,
    name: &str,
    t: &HostTensor,
    dtype: DType,
    dims: Option<&[Option<usize>]>,
) -> Result<(), RuntimeError> {
    let err = |message: String| RuntimeError::Input { runtime, message };
    if t.dtype != dtype {
        return Err(err(format!(
            "input '{name}' is {} but the model expects {dtype}",
            t.dtype
        )));
    }
    if !t.data_fits() {
        return Err(err(format!(
            "input '{name}' holds {} bytes, which is not {} element(s) of {} (shape {:?})",
            t.data.len(),
            t.numel(),
            t.dtype,
            t.shape
        )));
    }
    if let Some(dims) = dims {
        let fits = dims.len() == t.shape.len()
            && dims
                .iter()
                .zip(&t.shape)
                .all(|(d, s)| d.is_none_or(|d| d == *s));
        if !fits {
            let want: Vec<String> = dims
                .iter()
                .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
                .collect();
            return Err(err(format!(
                "input '{name}' has shape {:?} but the model expects [{}]",
                t.shape,
                want.join(", ")
            )));
        }
    }
    Ok(())
}

/// Bool bytes must be 0 or 1 for the runtimes (Rust `bool`, C++ `bool`).
pub(crate) fn normalized_bytes(t: &HostTensor) -> std::borrow::Cow<'_, [u8]> {
    if t.dtype == DType::Bool && t.data.iter().any(|&b| b > 1) {
        t.data.iter().map(|&b| u8::from(b != 0)).collect()
    } else {
        std::borrow::Cow::Borrowed(&t.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("CUDA".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            let e = bad.parse::<Device>().unwrap_err().to_string();
            assert!(e.contains("use cpu, cuda or cuda:N"), "{bad}: {e}");
        }
        let j = serde_json::to_string(&Device::Cuda(1)).unwrap();
        assert_eq!(j, "\"cuda:1\"");
        assert_eq!(serde_json::from_str::<Device>(&j).unwrap(), Device::Cuda(1));
        assert!(serde_json::from_str::<Device>("\"tpu\"").is_err());
    }

    #[test]
    fn registry_lookup() {
        assert_eq!(names(), &["ort", "tract", "ort-trt", "torch"]);
        for n in names() {
            assert_eq!(by_name(n).unwrap().name(), *n);
        }
        let e = by_name("onnxruntime").err().unwrap().to_string();
        assert!(e.contains("unknown runtime 'onnxruntime'"), "{e}");
        assert!(e.contains("ort, tract, ort-trt, torch"), "{e}");
    }

    #[test]
    fn tract_refuses_cuda() {
        let opts = SessionOptions {
            threads: 1,
            device: Device::Cuda(0),
            ..Default::default()
        };
        let e = tract::TractRuntime
            .load(Path::new("/nonexistent.onnx"), &opts)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "device cuda:0 is not supported by tract: use --device cpu"
        );
    }

    #[test]
    fn device_lists_and_precisions_parse() {
        assert_eq!(
            Device::parse_list("cpu, cuda:1,cpu").unwrap(),
            vec![Device::Cpu, Device::Cuda(1)]
        );
        assert!(Device::parse_list(" , ").is_err());
        let e = Device::parse_list("cpu,gpu").unwrap_err().to_string();
        assert!(e.contains("unknown device 'gpu'"), "{e}");
        assert_eq!("FP16".parse::<Precision>().unwrap(), Precision::Fp16);
        assert_eq!("float32".parse::<Precision>().unwrap(), Precision::Fp32);
        assert!(
            "int8"
                .parse::<Precision>()
                .unwrap_err()
                .contains("fp32 or fp16")
        );
        assert_eq!(serde_json::to_string(&Precision::Fp16).unwrap(), "\"fp16\"");
    }

    #[test]
    fn the_traced_graph_round_trips_beside_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.onnx");
        assert_eq!(ir_path(&model), dir.path().join("model.graph.json"));
        let e = read_ir("torch", &model).unwrap_err().to_string();
        assert!(
            e.contains("model.graph.json") && e.contains("--rebuild"),
            "{e}"
        );
        for op in crate::onnx::export_tests::all_ops() {
            let g = crate::onnx::export_tests::op_graph(&op, DType::Float32);
            write_ir(&model, &g).unwrap();
            assert_eq!(read_ir("torch", &model).unwrap(), g, "{op:?}");
        }
        std::fs::write(ir_path(&model), "{\"name\": 3}").unwrap();
        let e = read_ir("torch", &model).unwrap_err().to_string();
        assert!(e.contains("is not a valid traced graph"), "{e}");
    }

    #[test]
    fn input_matching_names_problems() {
        let t = HostTensor::zeros(DType::Float32, &[1]);
        let expected = vec!["a".to_string(), "b".to_string()];
        let given = vec![("b".to_string(), t.clone()), ("a".to_string(), t.clone())];
        assert_eq!(match_inputs("x", &expected, &given).unwrap(), vec![1, 0]);
        let e = match_inputs("x", &expected, &given[..1]).unwrap_err();
        assert!(
            e.to_string().contains("model input 'a' is not given"),
            "{e}"
        );
        let extra = vec![
            ("a".to_string(), t.clone()),
            ("b".to_string(), t.clone()),
            ("c".to_string(), t.clone()),
        ];
        let e = match_inputs("x", &expected, &extra).unwrap_err();
        assert!(e.to_string().contains("'c' is not an input"), "{e}");
        let twice = vec![("a".to_string(), t.clone()), ("a".to_string(), t)];
        let e = match_inputs("x", &expected, &twice).unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn input_checks_dtype_and_shape() {
        let t = HostTensor::zeros(DType::Float32, &[2, 3]);
        check_input("x", "in", &t, DType::Float32, Some(&[None, Some(3)])).unwrap();
        let e = check_input("x", "in", &t, DType::Int64, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("is float32 but the model expects int64")
        );
        let e = check_input("x", "in", &t, DType::Float32, Some(&[Some(2), Some(4)])).unwrap_err();
        assert!(e.to_string().contains("expects [2, 4]"), "{e}");
        let e = check_input("x", "in", &t, DType::Float32, Some(&[None])).unwrap_err();
        assert!(e.to_string().contains("expects [?]"), "{e}");
        let mut short = t.clone();
        short.data.pop();
        assert!(check_input("x", "in", &short, DType::Float32, None).is_err());
    }
}
