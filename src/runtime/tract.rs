//! tract, the pure-Rust ONNX engine built into the binary: always available.

use super::{Device, Precision, Runtime, RuntimeError, Session, SessionOptions};
use crate::graph::{DType, HostTensor};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::OpState;

const NAME: &str = "tract";

#[path = "tract_recurrent.rs"]
mod recurrent;

/// tract-onnx: optimized (decluttered and compiled) plans, single-threaded.
pub struct TractRuntime;

type Plan = Arc<TypedRunnableModel>;

/// The tract-onnx version this binary was built with, read from Cargo.lock.
pub fn tract_version() -> String {
    lock_version(
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")),
        "tract-onnx",
    )
    .unwrap_or_else(|| "0.23".to_string())
}

/// The `version` of package `name` in a Cargo.lock text.
fn lock_version(lock: &str, name: &str) -> Option<String> {
    let want = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == want {
            let v = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(v.trim_end_matches('"').to_string());
        }
    }
    None
}

/// tract implements the standard ONNX operators; a model holding another
/// domain's (ONNX Runtime's fused `com.microsoft` ops, saved by an
/// `--ort-opt-level` variant) fails on them: say which.
fn foreign_ops_hint(model: &Path, message: String) -> String {
    // tract's Gemm expansion computes in float32 whatever its inputs, and
    // refuses the float16 output the graph declares (an fp16 variant).
    if message.contains("Gemm") && message.contains("expected") && message.contains("F16") {
        return format!(
            "{message} (tract's Gemm does not compute in float16: run fp16 variants on ort)"
        );
    }
    if message.contains("Unknown DatumType Bfloat16") {
        return format!("{message} (tract has no bfloat16 type: run bf16 variants on ort)");
    }
    let Ok(info) = crate::onnx::inspect(model) else {
        return message;
    };
    let foreign: Vec<&str> = info
        .op_counts
        .keys()
        .filter(|k| k.contains(':') && !k.starts_with("ai.onnx:"))
        .map(String::as_str)
        .collect();
    if foreign.is_empty() {
        return message;
    }
    format!(
        "{message} (the model holds operators outside standard ONNX, which tract does not \
         implement: {})",
        foreign.join(", ")
    )
}

impl Runtime for TractRuntime {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> String {
        tract_version()
    }

    fn load(&self, model: &Path, opts: &SessionOptions) -> Result<Box<dyn Session>, RuntimeError> {
        if opts.device != Device::Cpu {
            return Err(RuntimeError::UnsupportedDevice {
                device: opts.device,
                runtime: NAME,
            });
        }
        if opts.precision != Precision::Fp32 {
            return Err(RuntimeError::UnsupportedPrecision {
                runtime: NAME,
                precision: opts.precision,
                hint: "tract runs the model's own dtypes (export a float16 model instead)".into(),
            });
        }
        let load_err = |message: String| RuntimeError::Load {
            runtime: NAME,
            model: model.to_path_buf(),
            message: foreign_ops_hint(model, message),
        };
        if !model.is_file() {
            return Err(load_err("the file does not exist".into()));
        }
        // With concrete input facts, the file's `value_info` adds nothing
        // tract needs, and a stale one (symbolic or wrong sizes left by an
        // exporter) conflicts with the facts and stops the analysis: it is
        // ignored first, and used only when tract cannot go on without it.
        let concrete = !opts.input_shapes.is_empty();
        let first = prepare(model, opts, concrete);
        let (prepared, value_info) = match first {
            Ok(p) => (p, if concrete { "ignored" } else { "used" }),
            Err(e) if concrete => match prepare(model, opts, false) {
                Ok(p) => (p, "used (tract needed it)"),
                Err(_) => return Err(load_err(e)),
            },
            Err(e) => return Err(load_err(e)),
        };
        let Prepared {
            plan,
            input_names,
            output_names,
            state_feeds,
        } = prepared;
        let state = plan.spawn().map_err(|e| load_err(format!("{e:#}")))?;
        // The op states of a fresh state (recurrent hidden state, a Scan's
        // position): every run starts from these, as on ONNX Runtime.
        let fresh = state.op_states.clone();
        let typed = plan.model();
        let mut inputs = Vec::new();
        // The initial states made inputs come last; the session feeds them.
        let own = state_feeds.own_inputs(&input_names).map_err(load_err)?;
        let state_values = state_feeds.values().map_err(load_err)?;
        for (name, outlet) in input_names
            .into_iter()
            .take(own)
            .zip(typed.input_outlets().unwrap_or(&[]))
        {
            let fact = typed
                .outlet_fact(*outlet)
                .map_err(|e| load_err(format!("{e:#}")))?;
            let dtype =
                from_tract(fact.datum_type).ok_or_else(|| RuntimeError::UnsupportedDtype {
                    runtime: NAME,
                    dtype: format!("{:?}", fact.datum_type),
                    what: format!("model input '{name}'"),
                })?;
            let dims = fact
                .shape
                .dims()
                .iter()
                .map(|d| d.to_i64().ok().and_then(|v| usize::try_from(v).ok()))
                .collect();
            inputs.push(InputSpec { name, dtype, dims });
        }

        let details = BTreeMap::from([
            ("intra_op_threads".to_string(), "1".to_string()),
            ("threads_requested".into(), opts.threads.to_string()),
            (
                "threading".into(),
                "single-threaded (tract-linalg without multithread-mm)".into(),
            ),
            (
                "optimization".into(),
                "into_optimized (declutter + codegen)".into(),
            ),
            ("execution_provider".into(), "tract cpu".into()),
            ("precision".into(), opts.precision.to_string()),
            (
                "input_facts".into(),
                if concrete {
                    "concrete (the shapes fed)".into()
                } else {
                    "as declared in the file".into()
                },
            ),
            ("value_info".into(), value_info.into()),
        ]);
        Ok(Box::new(TractSession {
            state,
            fresh,
            state_values,
            inputs,
            output_names,
            values: TVec::new(),
            results: None,
            details,
        }))
    }
}

/// A runnable plan and the model's input and output names.
struct Prepared {
    plan: Plan,
    input_names: Vec<String>,
    output_names: Vec<String>,
    state_feeds: recurrent::StateFeeds,
}

/// Loads `model`, sets the input facts from `opts.input_shapes` (by input
/// name; inputs not listed keep the file's facts), optimizes and plans.
/// Errors carry tract's whole cause chain (`{:#}`): its top error alone is vague.
fn prepare(
    model: &Path,
    opts: &SessionOptions,
    ignore_value_info: bool,
) -> Result<Prepared, String> {
    let e = |e: TractError| format!("{e:#}");
    // Recurrent nodes tract would run wrong are refused here, and absent
    // initial states become inputs the session feeds (tract_recurrent.rs).
    let onnx = tract_onnx::onnx().with_ignore_value_info(ignore_value_info);
    let (mut inference, state_feeds) = recurrent::load_model(&onnx, model)?;
    // Names come from the ONNX graph: optimization may replace the nodes
    // that carry them, but keeps the order of inputs and outputs.
    let input_names = outlet_names(&inference, inference.input_outlets()).map_err(e)?;
    let output_names = outlet_names(&inference, inference.output_outlets()).map_err(e)?;
    for (k, name) in input_names.iter().enumerate() {
        let Some((_, dtype, shape)) = opts.input_shapes.iter().find(|(n, _, _)| n == name) else {
            continue;
        };
        let dt =
            to_tract(*dtype).ok_or_else(|| format!("tract has no {dtype} (input '{name}')"))?;
        inference
            .set_input_fact(k, InferenceFact::dt_shape(dt, shape))
            .map_err(e)?;
    }
    let plan = inference
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(e)?;
    Ok(Prepared {
        plan,
        input_names,
        output_names,
        state_feeds,
    })
}

/// The shape of every value of `model` that tract's analysis finds, by
/// its ONNX name, given the inputs' dtypes and shapes: what FLOP counting
/// needs. The analysis goes on past nodes it cannot infer (those values are
/// absent); nothing is optimized or run.
pub fn value_shapes(
    model: &Path,
    inputs: &[(String, DType, Vec<usize>)],
) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let e = |e: TractError| format!("{e:#}");
    let mut m = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_path(model)
        .map_err(e)?;
    let names = outlet_names(&m, m.input_outlets()).map_err(e)?;
    for (k, name) in names.iter().enumerate() {
        if let Some((_, dtype, shape)) = inputs.iter().find(|(n, _, _)| n == name)
            && let Some(dt) = to_tract(*dtype)
        {
            m.set_input_fact(k, InferenceFact::dt_shape(dt, shape))
                .map_err(e)?;
        }
    }
    // Obstinate: a node tract cannot infer leaves its values unknown, and
    // the error is not the caller's concern.
    let _ = m.analyse(true);
    let mut out = BTreeMap::new();
    for node in m.nodes() {
        for (ix, o) in node.outputs.iter().enumerate() {
            let label = m
                .outlet_label(OutletId::new(node.id, ix))
                .map(str::to_string)
                .unwrap_or_else(|| node.name.clone());
            if let Ok(Some(shape)) = o.fact.shape.as_concrete_finite() {
                out.insert(label, shape.to_vec());
            }
        }
    }
    Ok(out)
}

fn outlet_names(
    model: &InferenceModel,
    outlets: TractResult<&[OutletId]>,
) -> TractResult<Vec<String>> {
    Ok(outlets?
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .map(str::to_string)
                .unwrap_or_else(|| model.node(o.node).name.clone())
        })
        .collect())
}

struct InputSpec {
    name: String,
    dtype: DType,
    dims: Vec<Option<usize>>,
}

struct TractSession {
    state: TypedSimpleState,
    /// The op states of a freshly spawned state, restored before each run.
    fresh: Vec<Option<Box<dyn OpState>>>,
    /// Values of the initial states made inputs, fed after the model's own
    /// (see `tract_recurrent.rs`).
    state_values: TVec<TValue>,
    inputs: Vec<InputSpec>,
    output_names: Vec<String>,
    /// Inputs in model order; cloning a `TValue` only bumps a refcount.
    values: TVec<TValue>,
    results: Option<TVec<TValue>>,
    details: BTreeMap<String, String>,
}

impl Session for TractSession {
    fn runtime_name(&self) -> &'static str {
        NAME
    }

    fn set_inputs(&mut self, inputs: &[(String, HostTensor)]) -> Result<(), RuntimeError> {
        let names: Vec<String> = self.inputs.iter().map(|i| i.name.clone()).collect();
        let order = super::match_inputs(NAME, &names, inputs)?;
        let mut values = TVec::new();
        for (spec, &k) in self.inputs.iter().zip(&order) {
            let t = &inputs[k].1;
            super::check_input(NAME, &spec.name, t, spec.dtype, Some(&spec.dims))?;
            values.push(to_tvalue(t).map_err(|message| RuntimeError::Input {
                runtime: NAME,
                message: format!("input '{}': {message}", spec.name),
            })?);
        }
        values.extend(self.state_values.iter().cloned());
        self.values = values;
        self.results = None;
        Ok(())
    }

    fn run(&mut self) -> Result<(), RuntimeError> {
        // Stateful ops (LSTM/GRU as Scan, Loop) keep their state between
        // runs of one tract state: without this reset, each iteration would
        // continue the previous one's sequence. Only those ops have a state.
        for (now, fresh) in self.state.op_states.iter_mut().zip(&self.fresh) {
            if fresh.is_some() || now.is_some() {
                now.clone_from(fresh);
            }
        }
        let out = self
            .state
            .run(self.values.clone())
            .map_err(|e| RuntimeError::Run {
                runtime: NAME,
                message: format!("{e:#}"),
            })?;
        self.results = Some(out);
        Ok(())
    }

    fn outputs(&mut self) -> Result<Vec<(String, HostTensor)>, RuntimeError> {
        let values = self
            .results
            .as_ref()
            .ok_or(RuntimeError::NotRun { runtime: NAME })?;
        self.output_names
            .iter()
            .zip(values.iter())
            .map(|(name, v)| {
                from_tensor(v).map(|t| (name.clone(), t)).map_err(|dtype| {
                    RuntimeError::UnsupportedDtype {
                        runtime: NAME,
                        dtype,
                        what: format!("model output '{name}'"),
                    }
                })
            })
            .collect()
    }

    fn details(&self) -> BTreeMap<String, String> {
        self.details.clone()
    }
}

fn to_tract(d: DType) -> Option<DatumType> {
    Some(match d {
        DType::Float32 => DatumType::F32,
        DType::Float16 => DatumType::F16,
        DType::Bfloat16 => return None,
        DType::Float64 => DatumType::F64,
        DType::Int8 => DatumType::I8,
        DType::Int16 => DatumType::I16,
        DType::Int32 => DatumType::I32,
        DType::Int64 => DatumType::I64,
        DType::Uint8 => DatumType::U8,
        DType::Bool => DatumType::Bool,
        DType::Uint16 => DatumType::U16,
        DType::Uint32 => DatumType::U32,
        DType::Uint64 => DatumType::U64,
        // The rest (8-bit floats, packed integers): tract has no such types.
        _ => return None,
    })
}

fn from_tract(dt: DatumType) -> Option<DType> {
    DType::ALL.into_iter().find(|&d| to_tract(d) == Some(dt))
}

fn to_tvalue(t: &HostTensor) -> Result<TValue, String> {
    let dt = to_tract(t.dtype).ok_or_else(|| format!("tract has no {}", t.dtype))?;
    let bytes = super::normalized_bytes(t);
    // SAFETY: `check_input` verified the byte length, and bool bytes are
    // normalized to 0/1, so every element is a valid value of `dt`.
    let tensor =
        unsafe { Tensor::from_raw_dt(dt, &t.shape, &bytes) }.map_err(|e| format!("{e:#}"))?;
    Ok(tensor.into_tvalue())
}

/// Little-endian bytes of a plain tensor of one of our dtypes; on failure the
/// tract dtype's name.
fn from_tensor(t: &Tensor) -> Result<HostTensor, String> {
    // tract computes some int64 results as symbolic dims (TDim): a Cast to
    // int64 after shape arithmetic, say. They are plain integers here.
    if t.datum_type() == DatumType::TDim {
        let cast = t
            .cast_to_dt(DatumType::I64)
            .map_err(|e| format!("TDim ({e:#})"))?;
        return from_tensor(&cast);
    }
    let unsupported = || format!("{:?}", t.datum_type());
    let dtype = from_tract(t.datum_type()).ok_or_else(unsupported)?;
    fn le<T: Datum + Copy, const N: usize>(
        t: &Tensor,
        f: impl Fn(T) -> [u8; N],
    ) -> Result<Vec<u8>, String> {
        let view = t.to_plain_array_view::<T>().map_err(|e| format!("{e:#}"))?;
        Ok(view.iter().flat_map(|&x| f(x)).collect())
    }
    let data = match dtype {
        DType::Float32 => le(t, f32::to_le_bytes),
        DType::Float16 => le(t, f16::to_le_bytes),
        DType::Float64 => le(t, f64::to_le_bytes),
        DType::Int8 => le(t, i8::to_le_bytes),
        DType::Int16 => le(t, i16::to_le_bytes),
        DType::Int32 => le(t, i32::to_le_bytes),
        DType::Int64 => le(t, i64::to_le_bytes),
        DType::Uint8 => le(t, u8::to_le_bytes),
        DType::Bool => le(t, |b: bool| [u8::from(b)]),
        DType::Uint16 => le(t, u16::to_le_bytes),
        DType::Uint32 => le(t, u32::to_le_bytes),
        DType::Uint64 => le(t, u64::to_le_bytes),
        _ => Err(unsupported()),
    }?;
    Ok(HostTensor {
        dtype,
        shape: t.shape().to_vec(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ort::OrtRuntime, test_models};

    #[test]
    fn version_comes_from_the_lock_file() {
        let v = tract_version();
        assert!(v.starts_with("0.23."), "{v}");
        let lock = "[[package]]\nname = \"a\"\nversion = \"1.2.3\"\n";
        assert_eq!(lock_version(lock, "a").as_deref(), Some("1.2.3"));
        assert_eq!(lock_version(lock, "b"), None);
    }

    #[test]
    fn every_dtype_round_trips_through_identity() {
        let dir = tempfile::tempdir().unwrap();
        for dtype in DType::ALL
            .into_iter()
            .filter(|&d| test_models::has_identity(d))
        {
            let model = test_models::identity(dir.path(), dtype);
            let x = test_models::sample_tensor(dtype, &[2, 3]);
            let loaded = TractRuntime.load(&model, &SessionOptions::default());
            if to_tract(dtype).is_none() {
                // tract has no bfloat16 or 8-bit floats: a clean error, at
                // load or at input.
                let e = match loaded {
                    Err(e) => e,
                    Ok(mut s) => s.set_inputs(&[("x".into(), x)]).unwrap_err(),
                };
                let e = e.to_string();
                assert!(e.contains("tract"), "{dtype}: {e}");
                continue;
            }
            let mut s = loaded.unwrap_or_else(|e| panic!("{dtype}: {e}"));
            s.set_inputs(&[("x".into(), x.clone())]).unwrap();
            s.run().unwrap();
            let out = s.outputs().unwrap();
            assert_eq!(out, vec![("y".to_string(), x)], "{dtype}");
        }
    }

    #[test]
    fn tract_and_ort_agree() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::mlp_gather(dir.path());
        let inputs = test_models::mlp_gather_inputs();
        let run = |rt: &dyn Runtime| {
            let mut s = rt
                .load(
                    &model,
                    &SessionOptions {
                        threads: 1,
                        ..Default::default()
                    },
                )
                .unwrap();
            // Inputs in another order than the model's: matched by name.
            let reversed: Vec<_> = inputs.iter().rev().cloned().collect();
            s.set_inputs(&reversed).unwrap();
            s.run().unwrap();
            s.run().unwrap();
            s.outputs().unwrap()
        };
        let t = run(&TractRuntime);
        let o = run(&OrtRuntime);
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["y", "g", "k"]);
        let check = crate::bench::compare::compare(&o, &t, 1e-5, 1e-4);
        assert!(check.pass, "{}", check.summary);
        assert!(check.max_abs_diff < 1e-5, "{}", check.summary);
        // Integer path is exact and as expected: idx + 1.
        assert_eq!(t[2].1.to_i64_vec().unwrap(), vec![6, 1, 3]);
        // Relu really clipped something, and Gather picked rows 5, 0, 2.
        assert_eq!(t[0].1.shape, vec![2, 5]);
        assert_eq!(t[1].1.shape, vec![3, 3]);
    }

    fn opts_for(inputs: &[(String, HostTensor)]) -> SessionOptions {
        SessionOptions {
            threads: 1,
            input_shapes: inputs
                .iter()
                .map(|(n, t)| (n.clone(), t.dtype, t.shape.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn run_n(s: &mut dyn Session, n: usize) -> Vec<Vec<(String, HostTensor)>> {
        (0..n)
            .map(|_| {
                s.run().unwrap();
                s.outputs().unwrap()
            })
            .collect()
    }

    #[test]
    fn every_run_of_a_recurrent_model_starts_from_a_fresh_state() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::lstm(dir.path());
        let x = vec![(
            "x".to_string(),
            HostTensor::uniform(DType::Float32, &[5, 1, 4], -1.0, 1.0, 7),
        )];
        let opts = opts_for(&x);
        let mut t = TractRuntime.load(&model, &opts).unwrap();
        t.set_inputs(&x).unwrap();
        let runs = run_n(t.as_mut(), 3);
        let mut o = OrtRuntime.load(&model, &opts).unwrap();
        o.set_inputs(&x).unwrap();
        let reference = run_n(o.as_mut(), 1).remove(0);
        for (k, out) in runs.iter().enumerate() {
            // Before the reset, run 2 continued run 1's sequence (diff ~0.5).
            let c = crate::bench::compare::compare(&reference, out, 1e-5, 1e-4);
            assert!(c.pass, "run {k}: {}", c.summary);
            assert_eq!(out, &runs[0], "run {k} differs from the first");
        }
        // Without concrete facts too (the symbolic T stays).
        let mut t = TractRuntime
            .load(&model, &SessionOptions::default())
            .unwrap();
        t.set_inputs(&x).unwrap();
        let runs = run_n(t.as_mut(), 2);
        assert_eq!(runs[0], runs[1]);
    }

    #[test]
    fn concrete_input_facts_overrule_a_stale_value_info() {
        let dir = tempfile::tempdir().unwrap();
        let model = test_models::stale_value_info(dir.path());
        let x = vec![(
            "x".to_string(),
            HostTensor::uniform(DType::Float32, &[2, 4], -1.0, 1.0, 1),
        )];
        // Analysed with the file's facts only, the stale [3, 2, 2] blocks tract.
        let e = TractRuntime
            .load(&model, &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unify"), "{e}");
        let mut s = TractRuntime.load(&model, &opts_for(&x)).unwrap();
        assert_eq!(s.details()["value_info"], "ignored");
        assert_eq!(s.details()["input_facts"], "concrete (the shapes fed)");
        s.set_inputs(&x).unwrap();
        s.run().unwrap();
        let y = s.outputs().unwrap();
        assert_eq!(y[0].1.shape, [2, 2, 2]);
        let relu: Vec<f64> = x[0].1.to_f64_vec().iter().map(|v| v.max(0.0)).collect();
        assert_eq!(y[0].1.to_f64_vec(), relu);
        // A shape other than the one tract was optimized for is refused.
        let other = vec![("x".to_string(), HostTensor::zeros(DType::Float32, &[3, 4]))];
        let e = s.set_inputs(&other).unwrap_err().to_string();
        assert!(e.contains("expects [2, 4]"), "{e}");
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("junk.onnx");
        std::fs::write(&f, b"\x08\x07junk").unwrap();
        let e = TractRuntime
            .load(&f, &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("tract could not load model"), "{e}");
        assert!(e.contains("junk.onnx"), "{e}");
        let e = TractRuntime
            .load(&dir.path().join("missing.onnx"), &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }

    type Outputs = Vec<(String, HostTensor)>;

    /// Loads `g` exported on `rt`, runs it three times on the same feeds;
    /// the outputs of the first and the last run.
    fn run_thrice(rt: &dyn Runtime, dir: &Path, g: &crate::graph::Graph) -> (Outputs, Outputs) {
        let model = dir.join("model.onnx");
        std::fs::write(&model, crate::onnx::export(g, &Default::default()).unwrap()).unwrap();
        let mut s = rt
            .load(&model, &SessionOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", g.name));
        s.set_inputs(&crate::onnx::export_tests::feeds(g)).unwrap();
        s.run().unwrap();
        let first = s.outputs().unwrap();
        s.run().unwrap();
        s.run().unwrap();
        (first, s.outputs().unwrap())
    }

    /// An LSTM, GRU or RNN without initial states: tract's optimizer broke
    /// the one-layer LSTM (its zero states are constants), and tract's Scan
    /// started each run from the last run's final state. Every run now
    /// equals ONNX Runtime's.
    #[test]
    fn recurrent_models_run_from_their_initial_state_every_run() {
        use crate::graph::{Op, Rnn, RnnMode};
        let dir = tempfile::tempdir().unwrap();
        let rnn = |mode, num_layers, bidirectional| Rnn {
            mode,
            hidden_size: 5,
            num_layers,
            bias: true,
            batch_first: false,
            bidirectional,
            initial_state: false,
        };
        for r in [
            rnn(RnnMode::Lstm, 1, false),
            rnn(RnnMode::Gru, 1, false),
            rnn(RnnMode::RnnTanh, 2, true),
        ] {
            let g = crate::onnx::export_tests::op_graph(&Op::Recurrent(r), DType::Float32);
            let (first, last) = run_thrice(&TractRuntime, dir.path(), &g);
            assert_eq!(
                first, last,
                "{}: the third run differs from the first",
                g.name
            );
            let (ort, _) = run_thrice(&OrtRuntime, dir.path(), &g);
            let check = crate::bench::compare::compare(&ort, &first, 1e-5, 1e-4);
            assert!(check.pass, "{}: {}", g.name, check.summary);
        }
    }

    #[test]
    fn recurrent_attributes_tract_ignores_are_refused() {
        use crate::graph::{Op, Rnn, RnnMode};
        let dir = tempfile::tempdir().unwrap();
        let relu = Op::Recurrent(Rnn {
            mode: RnnMode::RnnRelu,
            hidden_size: 5,
            num_layers: 1,
            bias: true,
            batch_first: false,
            bidirectional: false,
            initial_state: false,
        });
        let g = crate::onnx::export_tests::op_graph(&relu, DType::Float32);
        let model = dir.path().join("relu.onnx");
        std::fs::write(
            &model,
            crate::onnx::export(&g, &Default::default()).unwrap(),
        )
        .unwrap();
        let e = TractRuntime
            .load(&model, &SessionOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("RNN node '/block/RNN_0' sets activations = Relu, which tract ignores")
                && e.contains("run this model on ort instead"),
            "{e}"
        );
    }
}
