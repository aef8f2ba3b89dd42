//! libtorch through `tch` (cargo feature `torch`): the traced graph executed
//! eagerly, op by op, as PyTorch eager would run the model.
//!
//! The graph is not read back from ONNX: the export stage saves the IR
//! beside `model.onnx` ([`super::write_ir`]) and this runtime lowers every
//! [`Op`] to the libtorch call PyTorch's own module would make (Linear →
//! `addmm`, Conv → `convolution`, LayerNorm → `layer_norm`, ...). Parameters
//! are regenerated with [`Param::materialize`](crate::graph::Param), the
//! function the exporter uses, so both see the same weights bit for bit.
//!
//! CUDA: Rust links with `--as-needed`, which drops `libtorch_cuda.so`, and
//! then libtorch does not know CUDA. [`cuda_library`] `dlopen`s it (global)
//! before the first libtorch call, as RECIPES.md prescribes; where the CUDA
//! libraries are missing that fails and the CPU still works.
//!
//! Without the feature, `--runtime torch` is an error that says how to
//! build it; the default build needs no libtorch.

use super::{Runtime, RuntimeError, Session, SessionOptions};
use std::path::Path;

const NAME: &str = "torch";

/// How to get this runtime into the binary.
pub const BUILD_HINT: &str = "build turnkey with `--features torch` after `scripts/setup_torch.sh` \
     (which installs libtorch 2.11 from PyPI and prints the LIBTORCH folder), e.g. \
     `LIBTORCH=$(scripts/setup_torch.sh | tail -1) cargo build --release --features torch`; \
     run it with LD_LIBRARY_PATH=$LIBTORCH/lib";

/// libtorch executing turnkey's IR eagerly.
pub struct TorchRuntime;

/// Whether this binary was built with the `torch` feature.
pub const fn built() -> bool {
    cfg!(feature = "torch")
}

impl Runtime for TorchRuntime {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> String {
        imp::version()
    }

    fn load(&self, model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        imp::load(model, opts)
    }
}

/// The result of opening `libtorch_cuda.so` once per process: `Ok(path)`
/// when CUDA is registered with libtorch, else why not.
pub fn cuda_library() -> Result<String, String> {
    use std::sync::OnceLock;
    static OPENED: OnceLock<Result<String, String>> = OnceLock::new();
    OPENED.get_or_init(open_cuda_library).clone()
}

fn open_cuda_library() -> Result<String, String> {
    let mut tried = vec!["libtorch_cuda.so".to_string()];
    if let Some(dir) = std::env::var_os("LIBTORCH") {
        tried.push(
            Path::new(&dir)
                .join("lib/libtorch_cuda.so")
                .display()
                .to_string(),
        );
    }
    let mut errors = Vec::new();
    for name in &tried {
        let Ok(c) = std::ffi::CString::new(name.as_str()) else {
            continue;
        };
        // SAFETY: dlopen of a C string we own; the handle stays open for the
        // life of the process on purpose (libtorch keeps its registrations).
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if !handle.is_null() {
            return Ok(name.clone());
        }
        // SAFETY: dlerror returns a thread-local C string or null.
        let why = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        if !errors.contains(&why) {
            errors.push(why);
        }
    }
    Err(errors.join("; "))
}

#[cfg(not(feature = "torch"))]
fn not_built() -> RuntimeError {
    RuntimeError::NotBuilt {
        runtime: NAME,
        hint: BUILD_HINT.into(),
    }
}

#[cfg(not(feature = "torch"))]
mod imp {
    use super::*;

    pub fn version() -> String {
        "not built".into()
    }

    pub fn load(_: &Path, _: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        Err(not_built())
    }
}

#[cfg(feature = "torch")]
pub use imp::lower_node;

#[cfg(feature = "torch")]
mod lower;

#[cfg(feature = "torch")]
mod imp {
    use super::*;
    use crate::graph::{DType, Graph, HostTensor, Source, TypeInfo};
    use crate::runtime::{Device, Precision, check_input, match_inputs, normalized_bytes};
    use std::collections::BTreeMap;
    use tch::{Kind, Tensor};

    /// The libtorch version this binary links (tch 0.24 pins torch 2.11).
    pub fn version() -> String {
        let _ = cuda_library();
        "2.11 (tch 0.24.0)".into()
    }

    pub fn kind(d: DType) -> Kind {
        match d {
            DType::Float32 => Kind::Float,
            DType::Float16 => Kind::Half,
            DType::Bfloat16 => Kind::BFloat16,
            DType::Float64 => Kind::Double,
            DType::Int8 => Kind::Int8,
            DType::Int16 => Kind::Int16,
            DType::Int32 => Kind::Int,
            DType::Int64 => Kind::Int64,
            DType::Uint8 => Kind::Uint8,
            DType::Bool => Kind::Bool,
            DType::Float8E4M3FN => Kind::Float8e4m3fn,
            DType::Float8E4M3FNUZ => Kind::Float8e4m3fnuz,
            DType::Float8E5M2 => Kind::Float8e5m2,
            DType::Float8E5M2FNUZ => Kind::Float8e5m2fnuz,
            // The IR holds script types only (ONNX files never reach this
            // runtime), and `check_input` refuses any other input type
            // before a tensor is made: these arms are never taken.
            DType::Uint16
            | DType::Uint32
            | DType::Uint64
            | DType::Float8E8M0
            | DType::Uint4
            | DType::Int4
            | DType::Uint2
            | DType::Int2
            | DType::String => Kind::Double,
        }
    }

    fn run_err(message: impl Into<String>) -> RuntimeError {
        RuntimeError::Run {
            runtime: NAME,
            message: message.into(),
        }
    }

    /// A host tensor as a libtorch tensor on `device`.
    pub fn to_torch(t: &HostTensor, device: tch::Device) -> Result<Tensor, tch::TchError> {
        let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        let cpu = Tensor::f_from_data_size(&normalized_bytes(t), &dims, kind(t.dtype))?;
        if device == tch::Device::Cpu {
            Ok(cpu)
        } else {
            cpu.f_to(device)
        }
    }

    /// A libtorch tensor (any device, any layout) copied to the host as `dtype`.
    pub fn to_host(t: &Tensor, dtype: DType) -> Result<HostTensor, tch::TchError> {
        let t = if t.f_kind()? == kind(dtype) {
            t.shallow_clone()
        } else {
            t.f_to_kind(kind(dtype))?
        };
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let n = crate::graph::tensor::numel(&shape);
        let mut data = vec![0u8; dtype.byte_len(n)];
        if n > 0 {
            t.f_copy_data_u8(&mut data, n)?;
        }
        Ok(HostTensor { dtype, shape, data })
    }

    fn torch_device(device: Device) -> Result<tch::Device, RuntimeError> {
        match device {
            Device::Cpu => Ok(tch::Device::Cpu),
            Device::Cuda(n) => {
                let unavailable = |reason: String| RuntimeError::DeviceUnavailable {
                    runtime: NAME,
                    device,
                    reason,
                };
                if let Err(why) = cuda_library() {
                    return Err(unavailable(format!(
                        "libtorch_cuda.so cannot be loaded ({why}): install the CUDA build of \
                         torch 2.11 (`pip install torch==2.11.0`; the slim CPU set of \
                         scripts/setup_torch.sh has no CUDA) and put its torch/lib on \
                         LD_LIBRARY_PATH"
                    )));
                }
                if !tch::Cuda::is_available() {
                    return Err(unavailable(
                        "libtorch sees no CUDA device (no NVIDIA driver, or \
                         CUDA_VISIBLE_DEVICES hides them)"
                            .into(),
                    ));
                }
                let count = tch::Cuda::device_count();
                if i64::from(n) >= count {
                    return Err(unavailable(format!(
                        "there are {count} CUDA device(s): use cuda:0 to cuda:{}",
                        count - 1
                    )));
                }
                Ok(tch::Device::Cuda(n as usize))
            }
        }
    }

    pub fn load(model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        if opts.precision != Precision::Fp32 {
            return Err(RuntimeError::UnsupportedPrecision {
                runtime: NAME,
                precision: opts.precision,
                hint: "torch runs the model's own dtypes (export a float16 model instead)".into(),
            });
        }
        // Before any libtorch call: CUDA must be registered first.
        let cuda = cuda_library();
        let device = torch_device(opts.device)?;
        let graph = super::super::read_ir(NAME, model)?;
        let plan = Plan::new(graph).map_err(|message| RuntimeError::Load {
            runtime: NAME,
            model: super::super::ir_path(model),
            message,
        })?;
        let threads = opts.effective_threads();
        tch::set_num_threads(threads as i32);
        // One inter-op thread, as ORT's sessions: the graph runs in order.
        let load_err = |e: tch::TchError| RuntimeError::Load {
            runtime: NAME,
            model: model.to_path_buf(),
            message: e.to_string(),
        };
        let mut fixed: Vec<Option<Tensor>> = (0..plan.graph.values.len()).map(|_| None).collect();
        for (v, value) in plan.graph.values.iter().enumerate() {
            let t = match &value.source {
                Source::Param(p) => plan.graph.params[*p].materialize(),
                Source::Const(t) => (**t).clone(),
                Source::Input | Source::Node(_) => continue,
            };
            fixed[v] = Some(to_torch(&t, device).map_err(load_err)?);
        }
        let mut details = BTreeMap::from([
            ("execution".to_string(), "eager, op by op".to_string()),
            ("device".into(), format!("{device:?}")),
            (
                "intra_op_threads".into(),
                tch::get_num_threads().to_string(),
            ),
            ("threads_requested".into(), opts.threads.to_string()),
            ("precision".into(), opts.precision.to_string()),
            (
                "execution_provider".into(),
                match opts.device {
                    Device::Cpu => "libtorch cpu".into(),
                    Device::Cuda(n) => format!("libtorch cuda:{n}"),
                },
            ),
        ]);
        details.insert(
            "cuda".into(),
            match &cuda {
                Ok(lib) => format!("registered ({lib})"),
                Err(e) => format!("not available ({e})"),
            },
        );
        if let Device::Cuda(n) = opts.device {
            details.insert(
                "cudnn_version".into(),
                tch::utils::version_cudnn().to_string(),
            );
            details.insert("gpu_index".into(), n.to_string());
        }
        Ok(Box::new(TorchSession {
            device,
            cuda_index: match opts.device {
                Device::Cuda(n) => Some(n as usize),
                Device::Cpu => None,
            },
            plan,
            fixed,
            host_inputs: Vec::new(),
            device_inputs: Vec::new(),
            last: None,
            checked: false,
            details,
        }))
    }

    /// A graph checked once so that running it cannot index out of bounds.
    struct Plan {
        graph: Graph,
        /// For each value, the index of the last node that reads it
        /// (`usize::MAX` for graph outputs, kept to the end).
        last_use: Vec<usize>,
    }

    impl Plan {
        fn new(graph: Graph) -> Result<Plan, String> {
            let n = graph.values.len();
            let mut ready = vec![false; n];
            for (v, value) in graph.values.iter().enumerate() {
                match value.source {
                    Source::Param(p) if p >= graph.params.len() => {
                        return Err(format!(
                            "value {v} names parameter {p}, which does not exist"
                        ));
                    }
                    Source::Param(_) | Source::Const(_) => ready[v] = true,
                    _ => {}
                }
            }
            for &i in &graph.inputs {
                if i >= n || graph.values[i].source != Source::Input {
                    return Err(format!("graph input {i} is not an input value"));
                }
                ready[i] = true;
            }
            let mut last_use = vec![0usize; n];
            for (k, node) in graph.nodes.iter().enumerate() {
                for &i in &node.inputs {
                    if i >= n || !ready[i] {
                        return Err(format!(
                            "node {} reads value {i} before it is computed",
                            node.name
                        ));
                    }
                    last_use[i] = k;
                }
                for &o in &node.outputs {
                    if o >= n || graph.values[o].source != Source::Node(k) {
                        return Err(format!("node {} has a bad output {o}", node.name));
                    }
                    ready[o] = true;
                }
                // The IR's own inference checks arity, shapes and dtypes once
                // here, so the lowering can index its inputs freely.
                let ins: Vec<&TypeInfo> = node.inputs.iter().map(|&i| graph.info(i)).collect();
                let inferred = node
                    .op
                    .infer(&ins)
                    .map_err(|e| format!("node {}: {e}", node.name))?;
                let stored: Vec<&TypeInfo> = node.outputs.iter().map(|&o| graph.info(o)).collect();
                if inferred.iter().collect::<Vec<_>>() != stored {
                    return Err(format!(
                        "node {}: its outputs are not what its op computes",
                        node.name
                    ));
                }
            }
            for &o in &graph.outputs {
                if o >= n || !ready[o] {
                    return Err(format!("graph output {o} is never computed"));
                }
                last_use[o] = usize::MAX;
            }
            Ok(Plan { graph, last_use })
        }
    }

    struct TorchSession {
        device: tch::Device,
        cuda_index: Option<usize>,
        plan: Plan,
        /// Parameters and constants, on the device, by value id.
        fixed: Vec<Option<Tensor>>,
        /// Inputs in the graph's input order: on the host (for `run`) and
        /// on the device (for `run_core`; the same tensors on the CPU).
        host_inputs: Vec<Tensor>,
        device_inputs: Vec<Tensor>,
        /// The outputs of the last `run`, on the host.
        last: Option<Vec<Tensor>>,
        /// Shapes and dtypes were checked against the IR once.
        checked: bool,
        details: BTreeMap<String, String>,
    }

    impl TorchSession {
        /// Runs every node on `inputs` (on the device); returns the outputs.
        fn execute(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>, RuntimeError> {
            let _no_grad = tch::no_grad_guard();
            let g = &self.plan.graph;
            let mut temps: Vec<Option<Tensor>> = (0..g.values.len()).map(|_| None).collect();
            for (&v, t) in g.inputs.iter().zip(inputs) {
                temps[v] = Some(t.shallow_clone());
            }
            let check = !self.checked;
            for (k, node) in g.nodes.iter().enumerate() {
                let ins: Vec<&Tensor> =
                    node.inputs
                        .iter()
                        .map(|&i| {
                            self.fixed[i].as_ref().or(temps[i].as_ref()).ok_or_else(|| {
                                run_err(format!("node {}: a missing input", node.name))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                let in_infos: Vec<&TypeInfo> = node.inputs.iter().map(|&i| g.info(i)).collect();
                let out_infos: Vec<&TypeInfo> = node.outputs.iter().map(|&o| g.info(o)).collect();
                let outs = lower_node(&node.op, &ins, &in_infos, &out_infos).map_err(|e| {
                    run_err(format!("node {} ({}): {e}", node.name, node.op.kind()))
                })?;
                if outs.len() != node.outputs.len() {
                    return Err(run_err(format!(
                        "node {} ({}) gave {} outputs, the graph has {}",
                        node.name,
                        node.op.kind(),
                        outs.len(),
                        node.outputs.len()
                    )));
                }
                for ((&o, t), info) in node.outputs.iter().zip(outs).zip(&out_infos) {
                    // libtorch promotes some integer results (sum of int32
                    // is int64): the IR's dtype is the contract.
                    let want = kind(info.dtype);
                    let t = if t.f_kind().map_err(|e| run_err(e.to_string()))? == want {
                        t
                    } else {
                        t.f_to_kind(want).map_err(|e| run_err(e.to_string()))?
                    };
                    if check {
                        let got: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
                        if got != info.shape {
                            return Err(run_err(format!(
                                "node {} ({}) made shape {:?}, the graph says {:?} (a turnkey bug \
                                 in the torch lowering; please report it)",
                                node.name,
                                node.op.kind(),
                                got,
                                info.shape
                            )));
                        }
                    }
                    temps[o] = Some(t);
                }
                // Free what no later node reads, as eager PyTorch would.
                for &i in &node.inputs {
                    if self.plan.last_use[i] == k {
                        temps[i] = None;
                    }
                }
            }
            self.checked = true;
            g.outputs
                .iter()
                .map(|&o| {
                    self.fixed[o]
                        .as_ref()
                        .map(Tensor::shallow_clone)
                        .or_else(|| temps[o].take())
                        .ok_or_else(|| run_err("an output was not computed"))
                })
                .collect()
        }

        fn synchronize(&self) {
            if let Some(n) = self.cuda_index {
                tch::Cuda::synchronize(n as i64);
            }
        }
    }

    impl Session for TorchSession {
        fn runtime_name(&self) -> &'static str {
            NAME
        }

        fn set_inputs(&mut self, inputs: &[(String, HostTensor)]) -> Result<(), RuntimeError> {
            let g = &self.plan.graph;
            let names: Vec<String> = g.inputs.iter().map(|&v| g.values[v].name.clone()).collect();
            let order = match_inputs(NAME, &names, inputs)?;
            let mut host = Vec::with_capacity(order.len());
            let mut dev = Vec::with_capacity(order.len());
            for (&v, &k) in g.inputs.iter().zip(&order) {
                let info = g.info(v);
                let t = &inputs[k].1;
                let dims: Vec<Option<usize>> = info.shape.iter().map(|&d| Some(d)).collect();
                check_input(NAME, &g.values[v].name, t, info.dtype, Some(&dims))?;
                let conv = |e: tch::TchError| RuntimeError::Input {
                    runtime: NAME,
                    message: format!("input '{}': {e}", g.values[v].name),
                };
                let h = to_torch(t, tch::Device::Cpu).map_err(conv)?;
                let d = if self.device == tch::Device::Cpu {
                    h.shallow_clone()
                } else {
                    h.f_to(self.device).map_err(conv)?
                };
                host.push(h);
                dev.push(d);
            }
            self.host_inputs = host;
            self.device_inputs = dev;
            self.last = None;
            self.synchronize();
            Ok(())
        }

        /// Host inputs to host outputs: on a GPU, copies in, computes, and
        /// copies the outputs back (the copy back synchronizes).
        fn run(&mut self) -> Result<(), RuntimeError> {
            let outs = if self.device == tch::Device::Cpu {
                let inputs: Vec<Tensor> =
                    self.host_inputs.iter().map(|t| t.shallow_clone()).collect();
                self.execute(&inputs)?
            } else {
                let dev = self.device;
                let inputs: Vec<Tensor> = self
                    .host_inputs
                    .iter()
                    .map(|t| t.f_to(dev))
                    .collect::<Result<_, _>>()
                    .map_err(|e| run_err(e.to_string()))?;
                let outs = self.execute(&inputs)?;
                outs.iter()
                    .map(|t| t.f_to(tch::Device::Cpu))
                    .collect::<Result<_, _>>()
                    .map_err(|e| run_err(e.to_string()))?
            };
            self.last = Some(outs);
            Ok(())
        }

        fn has_core(&self) -> bool {
            self.cuda_index.is_some()
        }

        /// Inputs already on the device, outputs left there, synchronized.
        fn run_core(&mut self) -> Result<(), RuntimeError> {
            let inputs: Vec<Tensor> = self
                .device_inputs
                .iter()
                .map(|t| t.shallow_clone())
                .collect();
            let outs = self.execute(&inputs)?;
            self.synchronize();
            drop(outs);
            Ok(())
        }

        fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
            let last = self
                .last
                .as_ref()
                .ok_or(RuntimeError::NotRun { runtime: NAME })?;
            let g = &self.plan.graph;
            g.outputs
                .iter()
                .zip(last)
                .map(|(&o, t)| {
                    let name = g.values[o].name.clone();
                    to_host(t, g.info(o).dtype)
                        .map(|h| (name.clone(), h))
                        .map_err(|e| run_err(format!("output '{name}': {e}")))
                })
                .collect()
        }

        fn details(&self) -> BTreeMap<String, String> {
            self.details.clone()
        }
    }

    pub use super::lower::lower_node;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_library_is_opened_once_with_a_reason() {
        let a = cuda_library();
        assert_eq!(a, cuda_library());
        if let Err(why) = a {
            assert!(!why.is_empty());
        }
    }

    #[cfg(not(feature = "torch"))]
    #[test]
    fn without_the_feature_torch_says_how_to_build_it() {
        let e = TorchRuntime
            .load(Path::new("model.onnx"), &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("runtime torch is not in this build of turnkey"),
            "{e}"
        );
        assert!(
            e.contains("--features torch") && e.contains("setup_torch.sh"),
            "{e}"
        );
        assert_eq!(TorchRuntime.version(), "not built");
    }

    #[cfg(feature = "torch")]
    mod with_libtorch {
        use super::*;
        use crate::bench::compare::compare;
        use crate::graph::{DType, Graph, HostTensor};
        use crate::onnx::export_tests::{all_ops, feeds, op_graph};
        use crate::runtime::{Precision, by_name, write_ir};

        /// Exports `g` beside its traced graph and runs it on `rt`.
        fn run_on(
            rt: &str,
            dir: &Path,
            g: &Graph,
            feeds: &[(String, HostTensor)],
        ) -> Result<Vec<(String, HostTensor)>, String> {
            let model = dir.join("model.onnx");
            let bytes = crate::onnx::export(g, &Default::default()).map_err(|e| e.to_string())?;
            std::fs::write(&model, bytes).unwrap();
            write_ir(&model, g).unwrap();
            let opts = SessionOptions {
                threads: 1,
                ..Default::default()
            };
            let mut s = by_name(rt)
                .unwrap()
                .load(&model, &opts)
                .map_err(|e| e.to_string())?;
            s.set_inputs(feeds).map_err(|e| e.to_string())?;
            s.run().map_err(|e| e.to_string())?;
            s.outputs().map_err(|e| e.to_string())
        }

        /// The walk over the op list: every op of the IR (with its
        /// attribute variants, as the exporter's tests list them) runs on
        /// libtorch and agrees with ONNX Runtime and tract. A new op fails
        /// to compile until `lower` has an arm for it, and fails here until
        /// that arm agrees.
        #[test]
        fn every_op_matches_ort_and_tract() {
            let dir = tempfile::tempdir().unwrap();
            let mut failures = Vec::new();
            let ops = all_ops();
            for (k, op) in ops.iter().enumerate() {
                let g = op_graph(op, DType::Float32);
                let f = feeds(&g);
                let torch = match run_on("torch", dir.path(), &g, &f) {
                    Ok(o) => o,
                    Err(e) => {
                        failures.push(format!("{k} {op:?}: torch: {e}"));
                        continue;
                    }
                };
                for reference in ["ort", "tract"] {
                    match run_on(reference, dir.path(), &g, &f) {
                        Ok(r) => {
                            let c = compare(&r, &torch, 1e-5, 1e-4);
                            if !c.pass {
                                failures.push(format!("{k} {op:?}: vs {reference}: {}", c.summary));
                            }
                        }
                        Err(e) => failures.push(format!("{k} {op:?}: {reference}: {e}")),
                    }
                }
            }
            assert!(
                failures.is_empty(),
                "{} of {} ops failed:\n{}",
                failures.len(),
                ops.len(),
                failures.join("\n")
            );
        }

        /// Asymmetric pads take the hand-padded paths of Conv, pools and
        /// ConvTranspose; float16 and bfloat16 run through the same code.
        #[test]
        fn asymmetric_pads_and_half_types_match_ort() {
            use crate::graph::Op;
            let dir = tempfile::tempdir().unwrap();
            let cases = [
                Op::MaxPool {
                    kernel: vec![3, 3],
                    strides: vec![2, 2],
                    pads: vec![0, 1, 1, 0],
                    ceil_mode: true,
                },
                Op::AvgPool {
                    kernel: vec![3, 3],
                    strides: vec![2, 2],
                    pads: vec![1, 0, 0, 1],
                    ceil_mode: false,
                    count_include_pad: false,
                },
                Op::AvgPool {
                    kernel: vec![3, 3],
                    strides: vec![1, 1],
                    pads: vec![1, 0, 0, 1],
                    ceil_mode: false,
                    count_include_pad: true,
                },
                Op::ConvTranspose {
                    kernel: vec![3, 3],
                    strides: vec![2, 2],
                    pads: vec![0, 1, 1, 2],
                    output_padding: vec![0, 0],
                    dilations: vec![1, 1],
                    group: 1,
                },
            ];
            for op in &cases {
                let g = op_graph(op, DType::Float32);
                let f = feeds(&g);
                let t = run_on("torch", dir.path(), &g, &f).unwrap();
                let r = run_on("ort", dir.path(), &g, &f).unwrap();
                let c = compare(&r, &t, 1e-5, 1e-4);
                assert!(c.pass, "{op:?}: {}", c.summary);
            }
            // Half precision, through the same code: against ONNX Runtime's
            // own float16 kernels (the same generated float16 weights).
            for op in [
                Op::MatMul,
                Op::Add,
                Op::Softmax { axis: 2 },
                Op::LayerNorm {
                    axis: 2,
                    epsilon: 1e-5,
                },
                Op::Conv {
                    kernel: vec![3, 3],
                    strides: vec![1, 1],
                    pads: vec![1, 1, 1, 1],
                    dilations: vec![1, 1],
                    group: 1,
                },
            ] {
                let g = op_graph(&op, DType::Float16);
                let f = feeds(&g);
                let t = run_on("torch", dir.path(), &g, &f).unwrap();
                assert_eq!(t[0].1.dtype, DType::Float16);
                let r = run_on("ort", dir.path(), &g, &f).unwrap();
                let c = compare(&r, &t, 2e-2, 2e-2);
                assert!(c.pass, "float16 {op:?}: {}", c.summary);
            }
            let g = op_graph(&Op::Gelu, DType::Bfloat16);
            let t = run_on("torch", dir.path(), &g, &feeds(&g)).unwrap();
            assert_eq!(t[0].1.dtype, DType::Bfloat16);
        }

        #[test]
        fn sessions_report_and_refuse_clearly() {
            let dir = tempfile::tempdir().unwrap();
            let g = op_graph(&crate::graph::Op::Relu, DType::Float32);
            let model = dir.path().join("model.onnx");
            let e = TorchRuntime
                .load(&model, &SessionOptions::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.contains("model.graph.json") && e.contains("--rebuild"),
                "{e}"
            );
            write_ir(&model, &g).unwrap();
            let mut s = TorchRuntime
                .load(
                    &model,
                    &SessionOptions {
                        threads: 2,
                        ..Default::default()
                    },
                )
                .unwrap();
            assert!(!s.has_core());
            assert!(matches!(s.outputs(), Err(RuntimeError::NotRun { .. })));
            let d = s.details();
            assert_eq!(d["execution_provider"], "libtorch cpu");
            assert_eq!(d["intra_op_threads"], "2");
            let bad = vec![("x".to_string(), HostTensor::zeros(DType::Float32, &[2, 3]))];
            let e = s.set_inputs(&bad).unwrap_err().to_string();
            assert!(e.contains("input 'x' has shape [2, 3]"), "{e}");
            let e = TorchRuntime
                .load(
                    &model,
                    &SessionOptions {
                        precision: Precision::Fp16,
                        ..Default::default()
                    },
                )
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("does not support --precision fp16"), "{e}");
            // A corrupt graph (a node reading a value never computed) is a
            // load error, not a crash.
            let mut broken = g.clone();
            broken.nodes[0].inputs[0] = 99;
            write_ir(&model, &broken).unwrap();
            let e = TorchRuntime
                .load(&model, &SessionOptions::default())
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("reads value 99 before it is computed"), "{e}");
        }
    }
}
