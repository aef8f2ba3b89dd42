//! ONNX Runtime through the `ort` crate, loaded at run time (`load-dynamic`).
//!
//! The library is searched for (see [`locate`]), checked by hand with
//! `dlopen` (so a wrong file is a `Result`, never a panic inside `ort`), and
//! then handed to `ort::init_from` once per process.
//!
//! Execution providers are registered strictly: `--device cuda` asks for the
//! CUDA EP and `ort-trt` for TensorRT; when the library lacks the provider or
//! registering it fails, loading fails with the reason. ONNX Runtime would
//! otherwise fall back to the CPU silently and the row would lie.

use super::{Device, GraphOptimization, Precision, Runtime, RuntimeError, Session, SessionOptions};
use crate::graph::{DType, HostTensor, HostValue, ValueType as IoType};
use ort::ep::{self, ExecutionProvider, ExecutionProviderDispatch};
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::IoBinding;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynTensor, DynTensorValueType, DynValue, TensorElementType, ValueType};
use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const NAME: &str = "ort";
const TRT_NAME: &str = "ort-trt";

/// What to do about a library that cannot be used.
const UPGRADE_HINT: &str = "Upgrade it with `pip install -U onnxruntime` (1.31 or newer), \
     or set ORT_DYLIB_PATH to a newer libonnxruntime.so.<version>";

/// ONNX Runtime: the CPU execution provider on `cpu`, the CUDA execution
/// provider on `cuda:N`.
pub struct OrtRuntime;

/// ONNX Runtime with the TensorRT execution provider (`--runtime ort-trt`),
/// CUDA devices only; nodes TensorRT does not take run on the CUDA EP.
/// `--precision fp16` lets TensorRT build fp16 engines.
pub struct OrtTrtRuntime;

/// A usable ONNX Runtime library: where it is and its version string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrtLibrary {
    pub path: PathBuf,
    pub version: String,
    /// Which search step found it (`ORT_DYLIB_PATH`, `venv ...`, ...).
    pub found_by: String,
}

/// The places to look, read from the process (environment, build, executable).
#[derive(Clone, Debug, Default)]
pub struct SearchPlaces {
    /// `ORT_DYLIB_PATH`: when set, the only place looked at.
    pub dylib_path: Option<OsString>,
    /// Virtual environments whose `onnxruntime` package may hold the library.
    pub venvs: Vec<PathBuf>,
    /// A Python to ask where its `onnxruntime` package is.
    pub python: Option<PathBuf>,
    /// The folder of the running executable.
    pub exe_dir: Option<PathBuf>,
    /// Library names for the system loader (`LD_LIBRARY_PATH`, ld.so.cache).
    pub system_names: Vec<String>,
}

impl SearchPlaces {
    /// The search order of RECIPES.md: ORT_DYLIB_PATH; TURNKEY_VENV and the
    /// project's `.venv`; `python3`'s onnxruntime package; beside the
    /// executable; the system loader path.
    pub fn from_process() -> Self {
        let mut venvs = Vec::new();
        if let Some(v) = std::env::var_os("TURNKEY_VENV").filter(|v| !v.is_empty()) {
            venvs.push(PathBuf::from(v));
        }
        venvs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
        SearchPlaces {
            dylib_path: std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()),
            venvs,
            python: Some(PathBuf::from("python3")),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(Path::to_path_buf)),
            system_names: vec!["libonnxruntime.so".into(), "libonnxruntime.so.1".into()],
        }
    }
}

/// Finds a usable ONNX Runtime library for this process (cached).
pub fn locate() -> Result<OrtLibrary, RuntimeError> {
    static FOUND: OnceLock<Result<OrtLibrary, RuntimeError>> = OnceLock::new();
    FOUND
        .get_or_init(|| locate_in(&SearchPlaces::from_process()))
        .clone()
}

/// Walks `places` in order and returns the first library that loads and is
/// new enough. A library that is found but unusable is reported as such
/// (with what to do) rather than as "not found".
pub fn locate_in(places: &SearchPlaces) -> Result<OrtLibrary, RuntimeError> {
    if let Some(p) = &places.dylib_path {
        let path = PathBuf::from(p);
        return probe(&path)
            .map(|version| OrtLibrary {
                path: path.clone(),
                version,
                found_by: "ORT_DYLIB_PATH".into(),
            })
            .map_err(|message| RuntimeError::OrtLibrary {
                path,
                message,
                hint: "ORT_DYLIB_PATH points at it: point it at a libonnxruntime.so.<version> \
                       of ONNX Runtime 1.31 or newer (pip install -U onnxruntime), or unset it"
                    .into(),
            });
    }

    let mut looked_in = Vec::new();
    let mut unusable = None;
    let mut try_file = |path: PathBuf, found_by: String| match probe(&path) {
        Ok(version) => Some(OrtLibrary {
            path,
            version,
            found_by,
        }),
        Err(message) => {
            unusable.get_or_insert(RuntimeError::OrtLibrary {
                path,
                message,
                hint: format!("Found via {found_by}: {}", UPGRADE_HINT.to_lowercase()),
            });
            None
        }
    };

    for venv in &places.venvs {
        let capi = venv_capi_dirs(venv);
        let files: Vec<PathBuf> = capi.iter().filter_map(|d| library_in(d)).collect();
        if files.is_empty() {
            looked_in.push(format!("venv {}", venv.display()));
        }
        for f in files {
            if let Some(lib) = try_file(f, format!("venv {}", venv.display())) {
                return Ok(lib);
            }
        }
    }

    if let Some(py) = &places.python {
        match python_package_dir(py) {
            Some(dir) => match library_in(&dir.join("capi")) {
                Some(f) => {
                    if let Some(lib) = try_file(f, format!("{} onnxruntime package", py.display()))
                    {
                        return Ok(lib);
                    }
                }
                None => looked_in.push(format!("{}", dir.join("capi").display())),
            },
            None => looked_in.push(format!("`{} -c \"import onnxruntime\"`", py.display())),
        }
    }

    if let Some(dir) = &places.exe_dir {
        match library_in(dir) {
            Some(f) => {
                if let Some(lib) = try_file(f, "the executable's folder".into()) {
                    return Ok(lib);
                }
            }
            None => looked_in.push(format!("{}", dir.display())),
        }
    }

    for name in &places.system_names {
        // A bare name makes dlopen search LD_LIBRARY_PATH and the ld.so cache;
        // failing there just means "not installed".
        if let Ok(version) = probe(Path::new(name)) {
            return Ok(OrtLibrary {
                path: PathBuf::from(name),
                version,
                found_by: "the system loader path".into(),
            });
        }
    }
    if !places.system_names.is_empty() {
        looked_in.push(format!(
            "the system loader path ({})",
            places.system_names.join(", ")
        ));
    }

    Err(unusable.unwrap_or(RuntimeError::OrtNotFound {
        looked_in: looked_in.join("; "),
    }))
}

/// `<venv>/lib/python3*/site-packages/onnxruntime/capi` folders that exist.
fn venv_capi_dirs(venv: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages/onnxruntime/capi"))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The most specific `libonnxruntime.so*` in `dir` (the wheel ships only the
/// versioned name, e.g. `libonnxruntime.so.1.32.0`).
fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libonnxruntime.so"))
        .max_by_key(|n| (n.len(), n.clone()))
        .map(|n| dir.join(n))
}

/// Asks `python` where its `onnxruntime` package lives.
fn python_package_dir(python: &Path) -> Option<PathBuf> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Opens `path` and reads its ONNX Runtime version, refusing files that are
/// not ONNX Runtime or older than `ort` supports. Returns the version string.
///
/// The handle stays open on purpose: unloading ONNX Runtime is not safe
/// everywhere, and `ort::init_from` reopens the same file (refcounted).
pub fn probe(path: &Path) -> Result<String, String> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "the path contains a NUL byte".to_string())?;
    // SAFETY: plain dlopen/dlsym on a C string we own; the symbol is only
    // called after checking it exists, with the signature ONNX Runtime's C
    // API defines for OrtGetApiBase.
    unsafe {
        let handle = libc::dlopen(c_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return Err(format!("dlopen failed: {}", dlerror_text()));
        }
        let sym = libc::dlsym(handle, c"OrtGetApiBase".as_ptr());
        if sym.is_null() {
            return Err("it does not export OrtGetApiBase, so it is not ONNX Runtime".into());
        }
        let get_base: unsafe extern "C" fn() -> *const ort::sys::OrtApiBase =
            std::mem::transmute(sym);
        let base = get_base();
        if base.is_null() {
            return Err("OrtGetApiBase returned nothing".into());
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err("it reports no version".into());
        }
        let version = CStr::from_ptr(v).to_string_lossy().into_owned();
        check_version(&version)?;
        Ok(version)
    }
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns a thread-local C string or null.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

/// `ort` needs a library whose minor version is at least its API version.
fn check_version(version: &str) -> Result<(), String> {
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(m) if m >= ort::MINOR_VERSION => Ok(()),
        _ => Err(format!(
            "it is ONNX Runtime {version}, but ort 2.0.0-rc.15 needs 1.{} or newer",
            ort::MINOR_VERSION
        )),
    }
}

/// The process-wide ONNX Runtime environment, created on first use.
struct Loaded {
    env: ort::environment::Environment,
    lib: OrtLibrary,
}

fn loaded() -> Result<&'static Loaded, RuntimeError> {
    static LOADED: OnceLock<Result<Loaded, RuntimeError>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let lib = locate()?;
            let fail = |message: String| RuntimeError::OrtLibrary {
                path: lib.path.clone(),
                message,
                hint: UPGRADE_HINT.to_string(),
            };
            let env = ort::init_from(&lib.path)
                .map_err(|e| fail(e.to_string()))?
                .with_name("turnkey")
                .with_telemetry(false)
                .build()
                .map_err(|e| fail(e.to_string()))?;
            Ok(Loaded { env, lib })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn library_version() -> String {
    match locate() {
        Ok(lib) => lib.version,
        Err(_) => "not found".into(),
    }
}

impl Runtime for OrtRuntime {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> String {
        library_version()
    }

    fn load(&self, model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        load_session(NAME, false, model, opts)
    }
}

impl Runtime for OrtTrtRuntime {
    fn name(&self) -> &'static str {
        TRT_NAME
    }

    fn version(&self) -> String {
        library_version()
    }

    fn load(&self, model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        load_session(TRT_NAME, true, model, opts)
    }
}

/// The execution providers a session needs, registered strictly, and how
/// to name them in the record.
struct Providers {
    list: Vec<ExecutionProviderDispatch>,
    used: String,
}

/// What to do when ONNX Runtime lacks a GPU provider.
const GPU_HINT: &str = "install onnxruntime-gpu (`pip install onnxruntime-gpu`; it needs the \
     CUDA 13 and cuDNN 9 libraries) and point ORT_DYLIB_PATH at its libonnxruntime.so.<version>";

/// Fails unless the loaded library was built with `E`.
fn require<E: ExecutionProvider>(
    runtime: &'static str,
    device: Device,
    label: &str,
    lib: &OrtLibrary,
) -> Result<(), RuntimeError> {
    let unavailable = |reason: String| RuntimeError::DeviceUnavailable {
        runtime,
        device,
        reason,
    };
    match E::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(unavailable(format!(
            "{label} execution provider is not enabled in this build: {GPU_HINT} \
             (ONNX Runtime {} at {} offers {})",
            lib.version,
            lib.path.display(),
            available_providers().join(", ")
        ))),
        Err(e) => Err(unavailable(format!(
            "cannot ask ONNX Runtime for its {label} execution provider: {e}"
        ))),
    }
}

/// The providers compiled into the loaded library (of those turnkey knows).
fn available_providers() -> Vec<&'static str> {
    let mut out = Vec::new();
    if ep::CPU::is_available().unwrap_or(false) {
        out.push(ep::CPU::NAME);
    }
    if ep::CUDA::is_available().unwrap_or(false) {
        out.push(ep::CUDA::NAME);
    }
    if ep::TensorRT::is_available().unwrap_or(false) {
        out.push(ep::TensorRT::NAME);
    }
    out
}

fn providers(
    runtime: &'static str,
    trt: bool,
    opts: &SessionOptions,
    lib: &OrtLibrary,
) -> Result<Providers, RuntimeError> {
    if opts.precision == Precision::Fp16 && !trt {
        return Err(RuntimeError::UnsupportedPrecision {
            runtime,
            precision: opts.precision,
            hint: "ort runs the model's own dtypes; use --runtime ort-trt for TensorRT fp16 \
                   engines, or export a float16 model"
                .into(),
        });
    }
    let cuda = |n: u32| {
        ep::CUDA::default()
            .with_device_id(n as i32)
            .build()
            .error_on_failure()
    };
    match (trt, opts.device) {
        (false, Device::Cpu) => Ok(Providers {
            list: Vec::new(),
            used: ep::CPU::NAME.into(),
        }),
        (false, Device::Cuda(n)) => {
            require::<ep::CUDA>(runtime, opts.device, "CUDA", lib)?;
            Ok(Providers {
                list: vec![cuda(n)],
                used: format!("{} (device {n})", ep::CUDA::NAME),
            })
        }
        (true, Device::Cpu) => Err(RuntimeError::DeviceUnavailable {
            runtime,
            device: opts.device,
            reason: "TensorRT runs on NVIDIA GPUs only: use --device cuda (or --runtime ort \
                     for the CPU)"
                .into(),
        }),
        (true, Device::Cuda(n)) => {
            require::<ep::TensorRT>(runtime, opts.device, "TensorRT", lib)?;
            require::<ep::CUDA>(runtime, opts.device, "CUDA", lib)?;
            let fp16 = opts.precision == Precision::Fp16;
            let trt = ep::TensorRT::default()
                .with_device_id(n as i32)
                .with_fp16(fp16)
                .build()
                .error_on_failure();
            Ok(Providers {
                list: vec![trt, cuda(n)],
                used: format!(
                    "{} (device {n}, {}; {} for the nodes TensorRT does not take)",
                    ep::TensorRT::NAME,
                    if fp16 { "fp16 engines" } else { "fp32 engines" },
                    ep::CUDA::NAME
                ),
            })
        }
    }
}

fn load_session(
    name: &'static str,
    trt: bool,
    model: &Path,
    opts: &SessionOptions,
) -> Result<Box<dyn Session>, RuntimeError> {
    let loaded = loaded()?;
    let load_err = |e: String| RuntimeError::Load {
        runtime: name,
        model: model.to_path_buf(),
        message: e,
    };
    let eps = providers(name, trt, opts, &loaded.lib)?;
    if !model.is_file() {
        return Err(load_err("the file does not exist".into()));
    }
    let threads = opts.effective_threads();
    let level = opts.graph_optimization.unwrap_or(GraphOptimization::All);
    let session = build_session(&loaded.env, model, threads, level, &eps.list, None).map_err(
        |e| match e {
            BuildError::Model(e) => load_err(missing_kernel_hint(e)),
            // Registration errors (missing CUDA libraries, no such device):
            // name the provider, not the model.
            BuildError::Provider(e) => RuntimeError::DeviceUnavailable {
                runtime: name,
                device: opts.device,
                reason: format!("{} could not be registered: {e}", eps.used),
            },
        },
    )?;

    let unsupported = |t: &ValueType, what: String| RuntimeError::UnsupportedDtype {
        runtime: name,
        dtype: t.to_string(),
        what,
    };
    let mut inputs = Vec::new();
    for outlet in session.inputs() {
        let ty = io_type(outlet.dtype()).ok_or_else(|| {
            unsupported(outlet.dtype(), format!("model input '{}'", outlet.name()))
        })?;
        let dims = tensor_type(outlet.dtype()).map_or_else(Vec::new, |(_, d)| d);
        inputs.push(InputSpec {
            name: outlet.name().to_string(),
            ty,
            dims,
        });
    }
    let mut output_names = Vec::new();
    let mut output_types = Vec::new();
    for o in session.outputs() {
        output_names.push(o.name().to_string());
        output_types.push(
            io_type(o.dtype())
                .ok_or_else(|| unsupported(o.dtype(), format!("model output '{}'", o.name())))?,
        );
    }

    let details = BTreeMap::from([
        ("library".to_string(), loaded.lib.path.display().to_string()),
        ("execution_provider".into(), eps.used.clone()),
        ("precision".into(), opts.precision.to_string()),
        ("intra_op_threads".into(), threads.to_string()),
        ("inter_op_threads".into(), "1".into()),
        ("threads_requested".into(), opts.threads.to_string()),
        (
            "graph_optimization_level".into(),
            opt_level_name(level).into(),
        ),
    ]);
    let gpu = match opts.device {
        Device::Cpu => None,
        Device::Cuda(n) => Some(n),
    };
    Ok(Box::new(OrtSession {
        name,
        session,
        inputs,
        output_names,
        output_types,
        values: Vec::new(),
        fed: Vec::new(),
        keep: Vec::new(),
        c_names: None,
        results: None,
        details,
        gpu,
        binding: None,
    }))
}

/// Which step of making a session failed.
enum BuildError {
    Provider(String),
    Model(String),
}

fn build_session(
    env: &ort::environment::Environment,
    model: &Path,
    threads: usize,
    level: GraphOptimization,
    eps: &[ExecutionProviderDispatch],
    save_to: Option<&Path>,
) -> Result<ort::session::Session, BuildError> {
    let text = |e: ort::Error<_>| BuildError::Model(e.to_string());
    let mut builder = ort::session::Session::builder(env)
        .map_err(|e| BuildError::Model(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .with_optimization_level(ort_level(level))
        .map_err(text)?;
    if let Some(p) = save_to {
        builder = builder.with_optimized_model_path(p).map_err(text)?;
    }
    if !eps.is_empty() {
        builder = builder
            .with_execution_providers(eps)
            .map_err(|e| BuildError::Provider(e.to_string()))?;
    }
    builder
        .commit_from_file(model)
        .map_err(|e| BuildError::Model(e.to_string()))
}

/// The default is every graph optimization (ORT_ENABLE_ALL, Python's
/// default): levels 1-3 (basic, extended, layout) and whatever later
/// versions add.
fn ort_level(level: GraphOptimization) -> GraphOptimizationLevel {
    match level {
        GraphOptimization::Disabled => GraphOptimizationLevel::Disable,
        GraphOptimization::Basic => GraphOptimizationLevel::Level1,
        GraphOptimization::Extended => GraphOptimizationLevel::Level2,
        GraphOptimization::All => GraphOptimizationLevel::All,
    }
}

fn opt_level_name(level: GraphOptimization) -> &'static str {
    match level {
        GraphOptimization::Disabled => "disabled (ORT_DISABLE_ALL)",
        GraphOptimization::Basic => "basic (ORT_ENABLE_BASIC)",
        GraphOptimization::Extended => "extended (ORT_ENABLE_EXTENDED: basic + fusions)",
        GraphOptimization::All => "all (ORT_ENABLE_ALL: basic + extended + layout)",
    }
}

/// ONNX Runtime's "Could not find an implementation for X(13) node" names
/// the operator; say what it means.
fn missing_kernel_hint(e: String) -> String {
    if e.contains("Could not find an implementation for") {
        format!(
            "{e} (this execution provider has no kernel for that operator with these element \
             types: ONNX Runtime's CPU provider lacks bfloat16 for most operators)"
        )
    } else {
        e
    }
}

/// Saves the model as ONNX Runtime optimizes it at `level` on the CPU
/// execution provider (its `optimized_model_filepath`): the graph a
/// session at that level runs, fusions (and at `all`, this CPU's NCHWc
/// layout) included.
pub fn optimize(
    model: &Path,
    out: &Path,
    level: GraphOptimization,
    threads: usize,
) -> Result<(), RuntimeError> {
    let loaded = loaded()?;
    build_session(&loaded.env, model, threads.max(1), level, &[], Some(out))
        .map(|_| ())
        .map_err(|e| RuntimeError::Load {
            runtime: NAME,
            model: model.to_path_buf(),
            message: match e {
                BuildError::Model(e) | BuildError::Provider(e) => missing_kernel_hint(e),
            },
        })
}

struct InputSpec {
    name: String,
    ty: IoType,
    /// Tensor inputs: `None` for a free (symbolic) dimension.
    dims: Vec<Option<usize>>,
}

struct OrtSession {
    name: &'static str,
    session: ort::session::Session,
    inputs: Vec<InputSpec>,
    output_names: Vec<String>,
    output_types: Vec<IoType>,
    /// Input values in the model's input order, made once by `set_inputs`;
    /// absent optionals are left out.
    values: Vec<DynValue>,
    /// The index in `inputs` of each of `values`.
    fed: Vec<usize>,
    /// The parts of sequence and map inputs, alive as long as `values`.
    keep: Vec<DynValue>,
    /// The fed inputs' and the outputs' names as C strings, made once by
    /// `set_values` for [`OrtSession::run_raw`] (not on every run).
    c_names: Option<(Vec<CString>, Vec<CString>)>,
    /// The last run's outputs, in the model's output order; `None` for an
    /// absent optional.
    results: Option<Vec<Option<DynValue>>>,
    details: BTreeMap<String, String>,
    /// The CUDA device of a GPU session.
    gpu: Option<u32>,
    /// GPU sessions: the inputs copied to the device once and the outputs
    /// bound to device memory, for `run_core`.
    binding: Option<IoBinding>,
}

impl OrtSession {
    fn run_err(&self, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Run {
            runtime: self.name,
            message: e.to_string(),
        }
    }

    /// Binds the current inputs (copied to device `n` now) and every output
    /// to device memory.
    fn bind(&mut self, n: u32) -> Result<(), RuntimeError> {
        let mut b = self.session.create_binding().map_err(|e| self.run_err(e))?;
        for (&k, v) in self.fed.iter().zip(&self.values) {
            let spec = &self.inputs[k];
            b.bind_input(spec.name.as_str(), v)
                .map_err(|e| self.run_err(format!("binding input '{}': {e}", spec.name)))?;
        }
        let mem = MemoryInfo::new(
            AllocationDevice::CUDA,
            n as i32,
            AllocatorType::Device,
            MemoryType::Default,
        )
        .map_err(|e| self.run_err(e))?;
        for name in &self.output_names {
            b.bind_output_to_device(name.as_str(), &mem)
                .map_err(|e| self.run_err(format!("binding output '{name}': {e}")))?;
        }
        b.synchronize_inputs().map_err(|e| self.run_err(e))?;
        self.binding = Some(b);
        Ok(())
    }
}

impl OrtSession {
    /// One run through ONNX Runtime's C API, for models with optional
    /// outputs: an absent optional is a value without a type, which the
    /// ort crate cannot wrap (it crashes), so each output is checked with
    /// `HasValue` first.
    fn run_raw(&mut self) -> Result<Vec<Option<DynValue>>, RuntimeError> {
        use ort::AsPointer;
        use std::ffi::c_char;
        let api = ort::api();
        let (c_inputs, c_outputs) = self
            .c_names
            .as_ref()
            .ok_or_else(|| self.run_err("inputs not set; call set_inputs first"))?;
        let in_ptrs: Vec<*const c_char> = c_inputs.iter().map(|n| n.as_ptr()).collect();
        let out_ptrs: Vec<*const c_char> = c_outputs.iter().map(|n| n.as_ptr()).collect();
        let values: Vec<*const ort::sys::OrtValue> = self.values.iter().map(|v| v.ptr()).collect();
        let mut outs: Vec<*mut ort::sys::OrtValue> = vec![std::ptr::null_mut(); out_ptrs.len()];
        // SAFETY: the names and values outlive the call, the lengths match
        // their arrays, and `outs` has a slot per output name.
        let status = unsafe {
            (api.Run)(
                self.session.ptr().cast_mut(),
                std::ptr::null(),
                in_ptrs.as_ptr(),
                values.as_ptr(),
                values.len(),
                out_ptrs.as_ptr(),
                out_ptrs.len(),
                outs.as_mut_ptr(),
            )
        };
        let mut wrapped = Vec::with_capacity(outs.len());
        let mut failure = check(api, status).err();
        for p in outs {
            let Some(p) = std::ptr::NonNull::new(p) else {
                wrapped.push(None);
                continue;
            };
            let mut has = 0;
            // SAFETY: `p` is an output value ONNX Runtime just made for us.
            let st = unsafe { (api.HasValue)(p.as_ptr(), &mut has) };
            if let Err(m) = check(api, st) {
                failure.get_or_insert(m);
            }
            if failure.is_some() || has == 0 {
                // SAFETY: we own `p` and do not use it again.
                unsafe { (api.ReleaseValue)(p.as_ptr()) };
                wrapped.push(None);
            } else {
                // SAFETY: an owned value holding data, made with the
                // session's allocator; the wrapper releases it.
                wrapped.push(Some(unsafe {
                    DynValue::from_ptr(p, Some(self.session.allocator()))
                }));
            }
        }
        match failure {
            Some(m) => Err(self.run_err(m)),
            None => Ok(wrapped),
        }
    }
}

impl Session for OrtSession {
    fn runtime_name(&self) -> &'static str {
        self.name
    }

    fn set_inputs(&mut self, inputs: &[(String, HostTensor)]) -> Result<(), RuntimeError> {
        let values: Vec<(String, HostValue)> = inputs
            .iter()
            .map(|(n, t)| (n.clone(), HostValue::Tensor(t.clone())))
            .collect();
        self.set_values(&values)
    }

    fn set_values(&mut self, inputs: &[(String, HostValue)]) -> Result<(), RuntimeError> {
        let rt = self.name;
        let names: Vec<String> = self.inputs.iter().map(|i| i.name.clone()).collect();
        let order = super::match_inputs(rt, &names, inputs)?;
        let mut values = Vec::with_capacity(order.len());
        let mut fed = Vec::with_capacity(order.len());
        let mut keep = Vec::new();
        for (i, (spec, &k)) in self.inputs.iter().zip(&order).enumerate() {
            let v = &inputs[k].1;
            let input_err = |message: String| RuntimeError::Input {
                runtime: rt,
                message: format!("input '{}': {message}", spec.name),
            };
            if let (IoType::Tensor(dtype), HostValue::Tensor(t)) = (&spec.ty, v) {
                super::check_input(rt, &spec.name, t, *dtype, Some(&spec.dims))?;
            } else if v.value_type() != spec.ty {
                return Err(input_err(format!(
                    "the model expects {}, the value given is {}",
                    spec.ty,
                    v.value_type()
                )));
            } else if !v.is_consistent() {
                return Err(input_err(
                    "a tensor inside holds data that does not fit its shape".into(),
                ));
            }
            // An optional input is fed its value; an absent one is left out.
            if let Some(value) =
                to_ort_value(self.session.allocator(), v, &mut keep).map_err(input_err)?
            {
                values.push(value);
                fed.push(i);
            }
        }
        let c = |s: &str| {
            CString::new(s).map_err(|_| RuntimeError::Input {
                runtime: rt,
                message: format!("the name '{s}' holds a NUL byte"),
            })
        };
        let c_inputs = fed
            .iter()
            .map(|&k| c(&self.inputs[k].name))
            .collect::<Result<_, _>>()?;
        let c_outputs = self
            .output_names
            .iter()
            .map(|n| c(n))
            .collect::<Result<_, _>>()?;
        self.c_names = Some((c_inputs, c_outputs));
        self.values = values;
        self.fed = fed;
        self.keep = keep;
        self.results = None;
        self.binding = None;
        if let Some(n) = self.gpu {
            self.bind(n)?;
        }
        Ok(())
    }

    /// Host inputs to host outputs: ONNX Runtime copies the inputs to the
    /// device and the outputs back on every run.
    fn run(&mut self) -> Result<(), RuntimeError> {
        if self
            .output_types
            .iter()
            .any(|t| matches!(t, IoType::Optional(_)))
        {
            let outputs = self.run_raw()?;
            self.results = Some(outputs);
            return Ok(());
        }
        let outputs = if self.fed.len() == self.inputs.len() {
            let views: Vec<ort::session::SessionInputValue<'_>> =
                self.values.iter().map(Into::into).collect();
            self.session
                .run(views.as_slice())
                .map(|o| o.into_iter().map(|(_, v)| Some(v)).collect::<Vec<_>>())
        } else {
            // Absent optionals: inputs by name, the absent ones left out.
            let named: Vec<(&str, ort::session::SessionInputValue<'_>)> = self
                .fed
                .iter()
                .zip(&self.values)
                .map(|(&k, v)| (self.inputs[k].name.as_str(), v.into()))
                .collect();
            self.session
                .run(named)
                .map(|o| o.into_iter().map(|(_, v)| Some(v)).collect::<Vec<_>>())
        };
        self.results = Some(outputs.map_err(|e| self.run_err(e))?);
        Ok(())
    }

    fn has_core(&self) -> bool {
        self.gpu.is_some()
    }

    /// IoBinding: inputs already on the device, outputs left there. ONNX
    /// Runtime synchronizes its stream at the end of a run; the explicit
    /// output synchronization makes sure.
    fn run_core(&mut self) -> Result<(), RuntimeError> {
        let Some(binding) = self.binding.as_ref() else {
            return self.run();
        };
        let outputs = self
            .session
            .run_binding(binding)
            .map_err(|e| RuntimeError::Run {
                runtime: self.name,
                message: e.to_string(),
            })?;
        drop(outputs);
        binding
            .synchronize_outputs()
            .map_err(|e| RuntimeError::Run {
                runtime: self.name,
                message: e.to_string(),
            })
    }

    fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
        let rt = self.name;
        self.output_values()?
            .into_iter()
            .map(|(name, v)| match v {
                HostValue::Tensor(t) => Ok((name, t)),
                other => Err(RuntimeError::UnsupportedDtype {
                    runtime: rt,
                    dtype: other.value_type().to_string(),
                    what: format!("model output '{name}'; read it with output_values"),
                }),
            })
            .collect()
    }

    fn output_values(&mut self) -> Result<Vec<(String, HostValue)>, RuntimeError> {
        let rt = self.name;
        let values = self
            .results
            .as_ref()
            .ok_or(RuntimeError::NotRun { runtime: rt })?;
        self.output_names
            .iter()
            .zip(&self.output_types)
            .zip(values)
            .map(|((name, ty), v)| {
                let read = match (v, ty) {
                    (Some(v), _) => from_ort_value(v, ty),
                    (None, IoType::Optional(inner)) => Ok(HostValue::Optional {
                        inner: (**inner).clone(),
                        value: None,
                    }),
                    (None, _) => Err(format!("no value for {ty}")),
                };
                read.map(|t| (name.clone(), t))
                    .map_err(|message| RuntimeError::UnsupportedDtype {
                        runtime: rt,
                        dtype: message,
                        what: format!("model output '{name}'"),
                    })
            })
            .collect()
    }

    fn details(&self) -> BTreeMap<String, String> {
        self.details.clone()
    }
}

fn tensor_type(t: &ValueType) -> Option<(TensorElementType, Vec<Option<usize>>)> {
    match t {
        ValueType::Tensor { ty, shape, .. } => Some((
            *ty,
            shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
        )),
        _ => None,
    }
}

fn to_ort(d: DType) -> TensorElementType {
    match d {
        DType::Float32 => TensorElementType::Float32,
        DType::Float16 => TensorElementType::Float16,
        DType::Bfloat16 => TensorElementType::Bfloat16,
        DType::Float64 => TensorElementType::Float64,
        DType::Int8 => TensorElementType::Int8,
        DType::Int16 => TensorElementType::Int16,
        DType::Int32 => TensorElementType::Int32,
        DType::Int64 => TensorElementType::Int64,
        DType::Uint8 => TensorElementType::Uint8,
        DType::Bool => TensorElementType::Bool,
        DType::Uint16 => TensorElementType::Uint16,
        DType::Uint32 => TensorElementType::Uint32,
        DType::Uint64 => TensorElementType::Uint64,
        DType::Float8E4M3FN => TensorElementType::Float8E4M3FN,
        DType::Float8E4M3FNUZ => TensorElementType::Float8E4M3FNUZ,
        DType::Float8E5M2 => TensorElementType::Float8E5M2,
        DType::Float8E5M2FNUZ => TensorElementType::Float8E5M2FNUZ,
        DType::Float8E8M0 => TensorElementType::Float8E8M0,
        DType::Uint4 => TensorElementType::Uint4,
        DType::Int4 => TensorElementType::Int4,
        DType::Uint2 => TensorElementType::Uint2,
        DType::Int2 => TensorElementType::Int2,
        DType::String => TensorElementType::String,
    }
}

fn from_ort(t: TensorElementType) -> Option<DType> {
    DType::ALL.into_iter().find(|&d| to_ort(d) == t)
}

/// Our type for an ONNX Runtime value type; `None` for maps and element
/// types turnkey has no dtype for.
fn io_type(t: &ValueType) -> Option<IoType> {
    Some(match t {
        ValueType::Tensor { ty, .. } => IoType::Tensor(from_ort(*ty)?),
        ValueType::Sequence(inner) => IoType::Sequence(Box::new(io_type(inner)?)),
        ValueType::Optional(inner) => IoType::Optional(Box::new(io_type(inner)?)),
        ValueType::Map { key, value } => IoType::Map {
            key: from_ort(*key)?,
            value: from_ort(*value)?,
        },
    })
}

/// A host value as ONNX Runtime takes it: tensors as they are, an
/// optional as its value, `None` for an absent optional (left out of the
/// run, which ONNX Runtime reads as absent). The parts of sequences and
/// maps go to `keep`, which must live as long as the value.
fn to_ort_value(
    allocator: &ort::memory::Allocator,
    v: &HostValue,
    keep: &mut Vec<DynValue>,
) -> Result<Option<DynValue>, String> {
    match v {
        HostValue::Tensor(t) => to_value(allocator, t).map(Some),
        HostValue::Optional { value: None, .. } => Ok(None),
        HostValue::Optional { value: Some(v), .. } => to_ort_value(allocator, v, keep),
        HostValue::Sequence { elem, items } if items.is_empty() => empty_sequence(elem).map(Some),
        HostValue::Sequence { items, .. } => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match to_ort_value(allocator, item, keep)? {
                    Some(p) => parts.push(p),
                    None => {
                        return Err("ONNX Runtime takes no absent optionals in a sequence".into());
                    }
                }
            }
            compose(parts, ort::sys::ONNXType::ONNX_TYPE_SEQUENCE, keep).map(Some)
        }
        HostValue::Map { keys, values } => {
            let parts = vec![to_value(allocator, keys)?, to_value(allocator, values)?];
            compose(parts, ort::sys::ONNXType::ONNX_TYPE_MAP, keep).map(Some)
        }
    }
}

/// A sequence of `parts`, or a map of `[keys, values]`, made by ONNX
/// Runtime (`CreateValue`, which the ort crate offers for typed values only).
fn compose(
    parts: Vec<DynValue>,
    kind: ort::sys::ONNXType,
    keep: &mut Vec<DynValue>,
) -> Result<DynValue, String> {
    use ort::AsPointer;
    let api = ort::api();
    let ptrs: Vec<*const ort::sys::OrtValue> = parts.iter().map(|p| p.ptr()).collect();
    let mut out = std::ptr::null_mut();
    // SAFETY: `ptrs` points at live values (kept in `keep` below).
    let status = unsafe { (api.CreateValue)(ptrs.as_ptr(), ptrs.len(), kind, &mut out) };
    keep.extend(parts);
    check(api, status)?;
    let out = std::ptr::NonNull::new(out).ok_or("ONNX Runtime made no value")?;
    // SAFETY: a new, owned, non-tensor value; the wrapper releases it.
    Ok(unsafe { DynValue::from_ptr(out, None) })
}

/// `Err(message)` for a failed ONNX Runtime call (and releases the status).
fn check(api: &ort::sys::OrtApi, status: ort::sys::OrtStatusPtr) -> Result<(), String> {
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null status from the API, released once here.
    unsafe {
        let m = CStr::from_ptr((api.GetErrorMessage)(status.0))
            .to_string_lossy()
            .into_owned();
        (api.ReleaseStatus)(status.0);
        Err(m)
    }
}

/// The items of a sequence, or the `[keys, values]` of a map, as values.
fn parts_of(v: &DynValue) -> Result<Vec<DynValue>, String> {
    use ort::AsPointer;
    let api = ort::api();
    let allocator = ort::memory::Allocator::default();
    let mut n = 0usize;
    // SAFETY: `v` is a live sequence or map.
    check(api, unsafe { (api.GetValueCount)(v.ptr(), &mut n) })?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut p = std::ptr::null_mut();
        let index = i32::try_from(i).map_err(|_| "too many items")?;
        // SAFETY: index < count; the part is a new value we own.
        check(api, unsafe {
            (api.GetValue)(v.ptr(), index, allocator.ptr().cast_mut(), &mut p)
        })?;
        let p = std::ptr::NonNull::new(p).ok_or("ONNX Runtime gave no item")?;
        // SAFETY: an owned value made with `allocator`; the wrapper releases it.
        out.push(unsafe { DynValue::from_ptr(p, Some(&allocator)) });
    }
    Ok(out)
}

/// An empty sequence of `elem` tensors. ONNX Runtime's C API makes
/// sequences from at least one value only; a one-node model that outputs
/// an empty sequence (`SequenceEmpty`) gives one.
fn empty_sequence(elem: &IoType) -> Result<DynValue, String> {
    let IoType::Tensor(d) = elem else {
        return Err(format!(
            "ONNX Runtime takes sequences of tensors only, not of {elem}"
        ));
    };
    let why = |e: ort::Error<_>| format!("making an empty sequence of {d}: {e}");
    let loaded = loaded().map_err(|e| e.to_string())?;
    let bytes = crate::onnx::value_io::sequence_empty_model(*d);
    let mut session = ort::session::Session::builder(&loaded.env)
        .map_err(|e| format!("making an empty sequence of {d}: {e}"))?
        .commit_from_memory(&bytes)
        .map_err(why)?;
    let none: [ort::session::SessionInputValue<'_>; 0] = [];
    let mut out = session.run(none).map_err(why)?;
    out.remove("s")
        .ok_or_else(|| format!("making an empty sequence of {d}: no output"))
}

/// Copies an ONNX Runtime output of type `ty` back to the host.
fn from_ort_value(v: &DynValue, ty: &IoType) -> Result<HostValue, String> {
    match ty {
        IoType::Tensor(_) => from_value(v).map(HostValue::Tensor),
        // A present optional comes back as its value.
        IoType::Optional(inner) => Ok(HostValue::Optional {
            inner: (**inner).clone(),
            value: Some(Box::new(from_ort_value(v, inner)?)),
        }),
        IoType::Sequence(elem) => Ok(HostValue::Sequence {
            elem: (**elem).clone(),
            items: parts_of(v)?
                .iter()
                .map(|item| from_ort_value(item, elem))
                .collect::<Result<_, _>>()?,
        }),
        IoType::Map { .. } => match parts_of(v)?.as_slice() {
            [keys, values] => Ok(HostValue::Map {
                keys: from_value(keys)?,
                values: from_value(values)?,
            }),
            _ => Err("a map without keys and values".into()),
        },
    }
}

/// Copies a host tensor into a new ONNX Runtime CPU tensor.
fn to_value(allocator: &ort::memory::Allocator, t: &HostTensor) -> Result<DynValue, String> {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    if let Some(items) = t.strings() {
        // ONNX Runtime copies C strings: UTF-8 without NUL bytes.
        // Owned: the ort crate takes 'static element types.
        let mut texts: Vec<String> = Vec::with_capacity(items.len());
        for (i, s) in items.into_iter().enumerate() {
            let s =
                std::str::from_utf8(s).map_err(|_| format!("string element {i} is not UTF-8"))?;
            if s.contains('\0') {
                return Err(format!("string element {i} holds a NUL byte"));
            }
            texts.push(s.to_string());
        }
        return ort::value::Tensor::from_string_array((shape, texts.as_slice()))
            .map(|v| v.into_dyn())
            .map_err(|e| e.to_string());
    }
    let mut value = DynTensor::new(allocator, to_ort(t.dtype), shape).map_err(|e| e.to_string())?;
    let bytes = super::normalized_bytes(t);
    if !bytes.is_empty() {
        let dst = value.data_ptr_mut().cast::<u8>();
        if dst.is_null() {
            return Err("ONNX Runtime gave no buffer for the tensor".into());
        }
        // SAFETY: the tensor was allocated on the CPU for exactly this dtype
        // and shape, and `check_input` verified the byte length matches.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    }
    Ok(value.into_dyn())
}

/// Copies an ONNX Runtime output tensor back to the host.
fn from_value(v: &DynValue) -> Result<HostTensor, String> {
    let (ty, dims) = tensor_type(v.dtype()).ok_or("a non-tensor value")?;
    let dtype = from_ort(ty).ok_or(format!("{ty:?}"))?;
    let shape: Vec<usize> = dims
        .into_iter()
        .map(|d| d.ok_or("a tensor with a negative dimension"))
        .collect::<Result<_, _>>()?;
    let tensor = v
        .view()
        .downcast::<DynTensorValueType>()
        .map_err(|e| e.to_string())?;
    if !tensor.memory_info().is_cpu_accessible() {
        return Err("a tensor outside CPU memory".into());
    }
    if dtype.is_string() {
        let (_, items) = tensor.try_extract_strings().map_err(|e| e.to_string())?;
        return Ok(HostTensor::from_strings(&shape, &items));
    }
    let len = dtype.byte_len(crate::graph::tensor::numel(&shape));
    let mut data = vec![0u8; len];
    if len > 0 {
        let src = tensor.data_ptr().cast::<u8>();
        if src.is_null() {
            return Err("a tensor without data".into());
        }
        // SAFETY: a CPU tensor of this dtype and shape holds `len` contiguous bytes.
        unsafe { std::ptr::copy_nonoverlapping(src, data.as_mut_ptr(), len) };
    }
    Ok(HostTensor { dtype, shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::test_models;

    fn venv_places() -> SearchPlaces {
        SearchPlaces {
            venvs: vec![test_models::venv_dir()],
            ..SearchPlaces::default()
        }
    }

    #[test]
    fn finds_the_venv_library_and_its_version() {
        let lib = locate_in(&venv_places()).unwrap();
        let name = lib.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("libonnxruntime.so."), "{name}");
        assert!(lib.found_by.starts_with("venv "), "{}", lib.found_by);
        // The versioned file name carries the version the library reports.
        assert_eq!(name, format!("libonnxruntime.so.{}", lib.version));
    }

    #[test]
    fn dylib_path_wins_and_a_bad_file_is_a_clean_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("libonnxruntime.so.1.99.0");
        std::fs::write(&bad, b"not a library").unwrap();
        let places = SearchPlaces {
            dylib_path: Some(bad.clone().into_os_string()),
            ..venv_places()
        };
        let e = locate_in(&places).unwrap_err().to_string();
        assert!(e.contains(&bad.display().to_string()), "{e}");
        assert!(e.contains("dlopen failed"), "{e}");
        assert!(e.contains("ORT_DYLIB_PATH"), "{e}");
        assert!(e.contains("pip install -U onnxruntime"), "{e}");
        assert!(e.contains("or unset it"), "{e}");
    }

    #[test]
    fn a_library_that_is_not_onnx_runtime_is_refused() {
        // libc loads fine but is not ONNX Runtime.
        let e = probe(Path::new("libc.so.6")).unwrap_err();
        assert!(e.contains("does not export OrtGetApiBase"), "{e}");
    }

    #[test]
    fn old_versions_are_refused_with_the_reason() {
        assert!(check_version("1.32.0").is_ok());
        assert!(check_version("1.31.1").is_ok());
        let e = check_version("1.24.4").unwrap_err();
        assert!(
            e.contains("1.24.4") && e.contains("needs 1.31 or newer"),
            "{e}"
        );
        assert!(check_version("garbage").is_err());
    }

    #[test]
    fn nothing_found_lists_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let places = SearchPlaces {
            venvs: vec![dir.path().join("novenv")],
            python: Some(dir.path().join("no-python")),
            exe_dir: Some(dir.path().to_path_buf()),
            system_names: vec!["libonnxruntime-does-not-exist.so".into()],
            ..SearchPlaces::default()
        };
        let e = locate_in(&places).unwrap_err().to_string();
        assert!(
            e.starts_with("ONNX Runtime not found: pip install onnxruntime, or set ORT_DYLIB_PATH"),
            "{e}"
        );
        assert!(e.contains("novenv"), "{e}");
        assert!(e.contains("no-python"), "{e}");
        assert!(e.contains("system loader path"), "{e}");
    }

    #[test]
    fn a_versioned_file_beside_the_executable_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let real = locate_in(&venv_places()).unwrap();
        let beside = dir.path().join(real.path.file_name().unwrap());
        std::os::unix::fs::symlink(&real.path, &beside).unwrap();
        let places = SearchPlaces {
            exe_dir: Some(dir.path().to_path_buf()),
            ..SearchPlaces::default()
        };
        let lib = locate_in(&places).unwrap();
        assert_eq!(lib.path, beside);
        assert_eq!(lib.found_by, "the executable's folder");
    }

    /// Runs in a child process (see `bad_dylib_path_is_an_error_not_a_panic`):
    /// with ORT_DYLIB_PATH at a non-library, loading a model must fail cleanly.
    #[test]
    fn child_load_with_bad_library() {
        if std::env::var_os("TURNKEY_TEST_CHILD").is_none() {
            return;
        }
        let e = OrtRuntime
            .load(Path::new("/nonexistent.onnx"), &SessionOptions::default())
            .err()
            .expect("loading must fail");
        println!("CHILD-ERROR: {e}");
        assert_eq!(OrtRuntime.version(), "not found");
        let (auto, why) = crate::runtime::resolve_auto();
        println!("CHILD-AUTO: {auto}: {why}");
    }

    #[test]
    fn bad_dylib_path_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("libonnxruntime.so");
        std::fs::write(&bad, b"junk").unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "runtime::ort::tests::child_load_with_bad_library",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TURNKEY_TEST_CHILD", "1")
            .env("ORT_DYLIB_PATH", &bad)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + String::from_utf8_lossy(&out.stderr).as_ref();
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(text.contains("CHILD-ERROR: ONNX Runtime library"), "{text}");
        assert!(text.contains("dlopen failed"), "{text}");
        assert!(
            text.contains("CHILD-AUTO: tract: using tract because"),
            "{text}"
        );
    }

    #[test]
    fn every_dtype_round_trips_through_identity() {
        let dir = tempfile::tempdir().unwrap();
        for dtype in DType::ALL
            .into_iter()
            .filter(|&d| test_models::has_identity(d))
        {
            let model = test_models::identity(dir.path(), dtype);
            let mut s = OrtRuntime
                .load(&model, &SessionOptions::default())
                .unwrap_or_else(|e| panic!("{dtype}: {e}"));
            let x = test_models::sample_tensor(dtype, &[2, 3]);
            s.set_inputs(&[("x".into(), x.clone())]).unwrap();
            s.run().unwrap();
            let out = s.outputs().unwrap();
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].0, "y");
            assert_eq!(out[0].1, x, "{dtype}");
        }
    }

    /// Empty sequences (which ONNX Runtime's C API cannot make directly)
    /// and absent optionals (left out of the run) are inputs like any other.
    #[test]
    fn empty_sequences_and_absent_optionals_are_fed() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::make_model(
            dir.path(),
            "seq_opt",
            "opt_t = helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.INT32, [2]))\n\
             g = helper.make_graph([helper.make_node('SequenceLength', ['xs'], ['len']),\n\
                                    helper.make_node('OptionalHasElement', ['o'], ['has']),\n\
                                    helper.make_node('Identity', ['o'], ['same'])], 'g',\n\
               [helper.make_tensor_sequence_value_info('xs', TensorProto.FLOAT, [3]),\n\
                helper.make_value_info('o', opt_t)],\n\
               [helper.make_tensor_value_info('len', TensorProto.INT64, []),\n\
                helper.make_tensor_value_info('has', TensorProto.BOOL, []),\n\
                helper.make_value_info('same', opt_t)])\n\
             m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 18)])",
        );
        let mut s = OrtRuntime.load(&model, &SessionOptions::default()).unwrap();
        let f32s = IoType::Tensor(DType::Float32);
        let i32s = IoType::Tensor(DType::Int32);
        let seq = |n: usize| HostValue::Sequence {
            elem: f32s.clone(),
            items: (0..n)
                .map(|_| HostValue::Tensor(HostTensor::zeros(DType::Float32, &[3])))
                .collect(),
        };
        let opt = |v: Option<HostTensor>| HostValue::Optional {
            inner: i32s.clone(),
            value: v.map(|t| Box::new(HostValue::Tensor(t))),
        };
        for (n, present) in [(0, false), (2, true)] {
            let o = opt(present.then(|| HostTensor::zeros(DType::Int32, &[2])));
            s.set_values(&[("xs".into(), seq(n)), ("o".into(), o.clone())])
                .unwrap();
            s.run().unwrap();
            let out = s.output_values().unwrap();
            let t = |k: usize| out[k].1.as_tensor().unwrap().clone();
            assert_eq!(t(0).to_i64_vec().unwrap(), [n as i64]);
            assert_eq!(t(1).to_f64_vec(), [f64::from(u8::from(present))]);
            // The optional comes back as it went in, absent or not.
            assert_eq!(out[2].1, o);
        }
        // A sequence where the model wants a tensor type of another element.
        let wrong = HostValue::Sequence {
            elem: IoType::Tensor(DType::Int64),
            items: vec![],
        };
        let e = s
            .set_values(&[("xs".into(), wrong), ("o".into(), opt(None))])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seq(tensor(float32))") && e.contains("seq(tensor(int64))"),
            "{e}"
        );
    }

    #[test]
    fn wrong_inputs_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::mlp_gather(dir.path());
        let mut s = OrtRuntime.load(&model, &SessionOptions::default()).unwrap();
        assert!(matches!(s.outputs(), Err(RuntimeError::NotRun { .. })));
        let mut inputs = test_models::mlp_gather_inputs();
        inputs[0].1 = HostTensor::zeros(DType::Float32, &[3, 4]);
        let e = s.set_inputs(&inputs).unwrap_err().to_string();
        assert!(e.contains("input 'x' has shape [3, 4]"), "{e}");
        let e = s.set_inputs(&inputs[1..]).unwrap_err().to_string();
        assert!(e.contains("model input 'x' is not given"), "{e}");
        let details = s.details();
        assert_eq!(
            details["intra_op_threads"],
            crate::runtime::available_cores().to_string()
        );
        assert_eq!(details["execution_provider"], "CPUExecutionProvider");
    }

    /// With the CPU wheel (the project's venv), GPU providers are refused
    /// with the reason, never a silent CPU session.
    #[test]
    fn gpu_providers_are_strict() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::tiny_linear(dir.path());
        let cpu = OrtRuntime.load(&model, &SessionOptions::default()).unwrap();
        assert!(!cpu.has_core());
        let cuda = SessionOptions {
            device: Device::Cuda(0),
            ..Default::default()
        };
        let e = OrtTrtRuntime
            .load(&model, &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("ort-trt cannot run on cpu: TensorRT runs on NVIDIA GPUs only"),
            "{e}"
        );
        let fp16 = SessionOptions {
            precision: Precision::Fp16,
            ..Default::default()
        };
        let e = OrtRuntime.load(&model, &fp16).err().unwrap().to_string();
        assert!(
            e.contains("does not support --precision fp16") && e.contains("ort-trt"),
            "{e}"
        );
        if ep::CUDA::is_available().unwrap_or(false) {
            return; // a GPU build of ONNX Runtime: registration may succeed
        }
        let e = OrtRuntime.load(&model, &cuda).err().unwrap().to_string();
        assert!(
            e.starts_with(
                "ort cannot run on cuda:0: CUDA execution provider is not enabled in this build: \
                 install onnxruntime-gpu"
            ),
            "{e}"
        );
        assert!(e.contains("offers CPUExecutionProvider"), "{e}");
        let e = OrtTrtRuntime.load(&model, &cuda).err().unwrap().to_string();
        assert!(
            e.contains("TensorRT execution provider is not enabled in this build"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_model_file_is_a_load_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("broken.onnx");
        std::fs::write(&f, b"not a protobuf at all").unwrap();
        let e = OrtRuntime
            .load(&f, &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("ort could not load model"), "{e}");
        assert!(e.contains("broken.onnx"), "{e}");
    }

    /// RECIPES.md: Rust `session.run` on the tiny 1x10 model takes ~3 us per
    /// call at 1 thread. Timing-sensitive, so run alone:
    /// `cargo test --release --lib ort_overhead -- --ignored --nocapture --test-threads=1`
    #[test]
    #[ignore]
    fn ort_overhead_tiny_model() {
        use crate::bench::timing::{BenchOptions, measure};
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::tiny_linear(dir.path());
        let x = HostTensor::uniform(DType::Float32, &[1, 10], -1.0, 1.0, 0);
        let opts = BenchOptions {
            min_iterations: 10_000,
            min_time: std::time::Duration::from_secs(3),
            warmup_min_iterations: 1000,
            ..BenchOptions::default()
        };
        for rt in crate::runtime::names() {
            let rt = crate::runtime::by_name(rt).unwrap();
            let mut s = rt
                .load(
                    &model,
                    &SessionOptions {
                        threads: 1,
                        ..Default::default()
                    },
                )
                .unwrap();
            s.set_inputs(&[("x".into(), x.clone())]).unwrap();
            let m = measure(s.as_mut(), &opts).unwrap();
            println!(
                "OVERHEAD {} {}: median {:.2} us, mean {:.2} us, p90 {:.2} us, min {:.2} us, \
                 cov {:.1}%, {} iterations, timer overhead {:.0} ns",
                rt.name(),
                rt.version(),
                m.stats.median_ms * 1e3,
                m.stats.mean_ms * 1e3,
                m.stats.p90_ms * 1e3,
                m.stats.min_ms * 1e3,
                m.stats.cov * 100.0,
                m.iterations,
                m.timer_overhead_ns
            );
            assert!(
                m.stats.median_ms < 0.1,
                "{} per call is over 100 us",
                rt.name()
            );
        }
    }
}
