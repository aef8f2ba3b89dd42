//! Precision variants of a build (`--precision`, `--ort-opt-level`; see
//! DESIGN.md, "Build variants"). Each is its own build, with its own hash
//! and record naming the build it is a variant of: its model is that
//! build's `model.onnx` rewritten (`onnx::rewrite`) and, for an ONNX
//! Runtime level, saved as ONNX Runtime optimizes it (a worker); its inputs
//! are the same data. Its rows are checked against the fp32 build's row on
//! the same runtime and device: accuracy cost and speedup
//! (`bench::accuracy`). Nothing of the fp32 build is touched.

use super::{Cx, Event, Observer, RunOptions, onnx_file::random_value, read_outputs};
use crate::bench::accuracy::{self, Accuracy};
use crate::bench::variant_tasks::{OPTIMIZED_FILE, RANGES_FILE};
use crate::bench::worker::{
    WorkerOutcome, WorkerSpec, WorkerStatus, WorkerTask, spawn_worker, worker_command,
};
use crate::cache::record::OutputDiff;
use crate::cache::variant::{Calibration, VariantInfo};
use crate::cache::{
    Cache, CacheError, CheckStatus, OutputCheck, Record, RuntimeRow, Status, TensorSpec,
};
use crate::corpus::{Precision as VariantPrecision, VariantKey};
use crate::graph::{DType, HostTensor, HostValue, flatten_all};
use crate::onnx::proto::{ModelProto, StringStringEntryProto, data_type};
use crate::onnx::rewrite::{self, RewriteSummary, calib, float, quant};
use crate::onnx::{read_values, write_values};
use crate::runtime::{Device, GraphOptimization, Precision};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Calibrated activation ranges (min, max) by tensor name.
type Ranges = BTreeMap<String, (f32, f32)>;

/// How variants are made and checked (the command line's settings).
#[derive(Clone, Debug, PartialEq)]
pub struct VariantOptions {
    /// int8-static: batches to calibrate on.
    pub calibration_batches: usize,
    /// fp16/bf16: the model's inputs and outputs in that precision too.
    pub low_precision_io: bool,
    /// A variant row passes when each output's cosine similarity with fp32
    /// (integer outputs: the share of equal elements) is at least this.
    pub min_cosine: f64,
}

impl Default for VariantOptions {
    fn default() -> Self {
        VariantOptions {
            calibration_batches: 8,
            low_precision_io: false,
            min_cosine: 0.99,
        }
    }
}

/// Bumped when a rewrite changes what it makes, so that variants cached
/// by an older turnkey are made again.
const REWRITE_VERSION: u32 = 1;

/// The variant's hash: the fp32 build's, and everything that shapes the rewrite.
fn variant_hash(base_hash: &str, key: VariantKey, low_io: bool, calib: Option<usize>) -> String {
    let text = format!(
        "turnkey variant {REWRITE_VERSION}\0{base_hash}\0{}\0{:?}\0{low_io}\0{calib:?}",
        key.precision, key.ort_opt_level
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `<fp32 build's stem>_<precision>[_ort-<level>]_<hash8>`.
fn variant_name(base: &str, key: VariantKey, hash: &str) -> String {
    let stem = match base.rsplit_once('_') {
        Some((s, h)) if h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit()) => s,
        _ => base,
    };
    format!("{stem}_{}_{}", key.name_part(), &hash[..8])
}

/// What a variant's rows are checked against: its fp32 build's rows.
pub(super) struct Fp32Reference {
    build: String,
    dir: PathBuf,
    rows: Vec<RuntimeRow>,
    min_cosine: f64,
    /// `fp16`, `int8-static+ort-basic`.
    label: String,
}

impl Fp32Reference {
    /// Why `rt` cannot run this variant at all (no worker is started).
    pub fn cannot_run(&self, rt: &str) -> Option<String> {
        (rt == "torch").then(|| {
            format!(
                "torch runs the traced graph, and the {} variant exists only as ONNX (a rewrite \
                 of the exported model): run it on ort or tract",
                self.label
            )
        })
    }

    fn outputs_dir(&self, row: &RuntimeRow) -> PathBuf {
        self.dir
            .join("outputs")
            .join(format!("{}-{}", row.runtime, row.device.replace(':', "_")))
    }

    /// The fp32 row on `rt`/`device` when it ran, else the fp32 build's
    /// first row that did (its reference).
    fn row_for(&self, rt: &str, device: &str) -> Option<&RuntimeRow> {
        let ran = |r: &&RuntimeRow| {
            matches!(r.status, Status::Successful | Status::Mismatch)
                && self.outputs_dir(r).is_dir()
        };
        self.rows
            .iter()
            .filter(ran)
            .find(|r| r.runtime == rt && r.device == device)
            .or_else(|| {
                self.rows
                    .iter()
                    .filter(ran)
                    .find(|r| r.status == Status::Successful)
            })
    }

    /// Checks a variant row's saved outputs (in `out_dir`) against fp32:
    /// fills the row's `check` and `accuracy`.
    pub fn check(&self, out_dir: &Path, row: &mut RuntimeRow) {
        let Some(fp) = self.row_for(&row.runtime, &row.device) else {
            let why = format!(
                "no row of the fp32 build {} succeeded: nothing to compare with",
                self.build
            );
            row.warnings.push(why.clone());
            row.check = Some(OutputCheck {
                reference: self.build.clone(),
                status: CheckStatus::Skipped,
                summary: Some(why),
                ..Default::default()
            });
            return;
        };
        let reference_row = format!("{}/{}", fp.runtime, fp.device);
        let reference = format!("{} {reference_row}", self.build);
        let read =
            read_outputs(&self.outputs_dir(fp)).and_then(|r| read_outputs(out_dir).map(|a| (r, a)));
        let (r, a) = match read {
            Ok(v) => v,
            Err(e) => {
                row.check = Some(OutputCheck {
                    reference,
                    status: CheckStatus::Failed,
                    summary: Some(e),
                    ..Default::default()
                });
                return;
            }
        };
        let (pass, outs) = accuracy::measure(&flatten_all(&r), &flatten_all(&a), self.min_cosine);
        let (max_abs_err, rel_err, cosine, top1, top5) = accuracy::overall(&outs);
        let speedup = match (fp.median_ms, row.median_ms) {
            (Some(f), Some(v)) if v > 0.0 => Some(f / v),
            _ => None,
        };
        let acc = Accuracy {
            reference_build: self.build.clone(),
            reference_row,
            reference_median_ms: fp.median_ms,
            speedup,
            max_abs_err,
            rel_err,
            cosine,
            top1,
            top5,
            token_agreement: None,
            min_cosine: self.min_cosine,
            pass,
            outputs: outs.clone(),
        };
        row.check = Some(OutputCheck {
            reference,
            status: if pass {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            },
            max_abs_diff: max_abs_err,
            max_rel_diff: rel_err,
            summary: Some(acc.summary()),
            atol: None,
            rtol: None,
            outputs: outs
                .iter()
                .map(|o| OutputDiff {
                    name: o.name.clone(),
                    passed: o.problem.is_none(),
                    max_abs_diff: o.max_abs_err.unwrap_or(0.0),
                    max_rel_diff: o.rel_err.unwrap_or(0.0),
                    mismatched: o.nonfinite,
                    problem: o.problem.clone(),
                })
                .collect(),
        });
        row.accuracy = Some(acc);
    }
}

/// A row that fails before any worker starts (a runtime that cannot run the variant).
pub(super) fn error_row(
    cache: &Cache,
    build: &str,
    (rt, device): (&str, Device),
    why: String,
    obs: &dyn Observer,
) -> Result<RuntimeRow, CacheError> {
    let mut row = RuntimeRow::new(rt, &device.to_string());
    row.status = Status::Error;
    row.error = Some(why);
    let saved = row.clone();
    cache.update_record(build, |r| r.set_row(saved))?;
    obs.on(Event::RowFinished {
        build,
        row: &row,
        cached: false,
    });
    Ok(row)
}

/// What making a variant produced, for its record.
struct Made {
    info: VariantInfo,
    op_counts: BTreeMap<String, usize>,
    param_bytes: u64,
    opset: Option<i64>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

fn low_dtype(p: VariantPrecision) -> Option<DType> {
    match p {
        VariantPrecision::Fp16 => Some(DType::Float16),
        VariantPrecision::Bf16 => Some(DType::Bfloat16),
        _ => None,
    }
}

/// Runs one worker task; its error as one string.
fn run_task(opts: &RunOptions, spec: &WorkerSpec, what: &str) -> Result<(), String> {
    let spec_path = spec.result_path.with_extension("spec.json");
    spec.write(&spec_path).map_err(|e| e.to_string())?;
    match spawn_worker(
        worker_command(&opts.worker_exe, &spec_path),
        spec,
        opts.timeout,
    ) {
        WorkerOutcome::Finished(r) if r.status == WorkerStatus::Successful => Ok(()),
        WorkerOutcome::Finished(r) => Err(format!("{what}: {}", r.error.unwrap_or_default())),
        WorkerOutcome::Crashed { stderr_tail, .. } => Err(format!(
            "{what} stopped: {}",
            stderr_tail.lines().last().unwrap_or("").trim()
        )),
        WorkerOutcome::Timeout { .. } => Err(format!("{what} ran past --timeout")),
        WorkerOutcome::Interrupted { .. } => Err(format!("{what}: interrupted")),
        WorkerOutcome::Failed(e) => Err(format!("{what}: {e}")),
    }
}

fn task_spec(
    dir: &Path,
    task: WorkerTask,
    onnx: PathBuf,
    inputs: PathBuf,
    runtime: &str,
) -> WorkerSpec {
    let log = dir.join("log");
    let _ = std::fs::create_dir_all(&log);
    let name = match task {
        WorkerTask::Calibrate => "calibrate",
        _ => "optimize",
    };
    WorkerSpec {
        onnx,
        inputs_dir: inputs,
        runtime: runtime.into(),
        device: Device::Cpu,
        threads: 0,
        precision: Precision::Fp32,
        bench: Default::default(),
        batch_size: 1,
        outputs_dir: Some(dir.join("log").join(name)),
        samples_path: None,
        result_path: log.join(format!("{name}.result.json")),
        pin: None,
        task,
        graph_optimization: None,
        generation: None,
    }
}

impl Cx<'_> {
    /// Makes and runs the job's variants of the build `base` (in `base_dir`,
    /// benchmarked already).
    pub(super) fn variants(
        &mut self,
        base: &str,
        base_dir: &Path,
        batch: u64,
        path: &Path,
    ) -> Result<(), CacheError> {
        let keys = self.job.variants.keys();
        if keys.is_empty() {
            return Ok(());
        }
        let Some(rec) = self.cache.load_record(base)? else {
            return Ok(());
        };
        if !rec.stage_succeeded("export") || !base_dir.join("model.onnx").is_file() {
            return Ok(());
        }
        for key in keys {
            if crate::interrupt::requested() {
                break;
            }
            self.variant(&rec, base_dir, batch, key, path)?;
        }
        Ok(())
    }

    fn variant(
        &mut self,
        base: &Record,
        base_dir: &Path,
        batch: u64,
        key: VariantKey,
        path: &Path,
    ) -> Result<(), CacheError> {
        let (cache, opts) = (self.cache, self.opts);
        let vo = &opts.variant;
        let low_io = vo.low_precision_io && low_dtype(key.precision).is_some();
        let calib =
            (key.precision == VariantPrecision::Int8Static).then_some(vo.calibration_batches);
        let hash = variant_hash(&base.identity.hash, key, low_io, calib);
        let name = variant_name(&base.identity.name, key, &hash);
        if !self.first_time(&name, path) {
            return Ok(());
        }
        let dir = cache.build_dir(&name)?;
        let export_lock = cache.stage_lock(&name, "export")?;
        let onnx = dir.join("model.onnx");
        let previous = cache.load_record(&name).ok().flatten();
        let cached = !opts.rebuild
            && onnx.is_file()
            && dir.join("inputs").is_dir()
            && previous
                .as_ref()
                .is_some_and(|r| r.stage_succeeded("export") && r.identity.hash == hash);
        let mut identity = base.identity.clone();
        identity.name = name.clone();
        identity.hash = hash.clone();
        identity.variant_of = Some(base.identity.name.clone());
        identity.variant = Some(VariantInfo {
            precision: key.precision.to_string(),
            ort_opt_level: key.ort_opt_level.map(|l| l.to_string()),
            low_precision_io: low_io,
            ..Default::default()
        });
        identity.expected_failure = self.expected().map(|e| e.pattern.clone());
        if cached {
            identity = previous.as_ref().expect("cached").identity.clone();
        }
        let system = self.system;
        cache.update_record(&name, |r| {
            r.identity = identity;
            r.system = system.clone();
            r.start_stage("discover");
            r.finish_stage("discover", Status::Successful, None);
            if !cached {
                r.start_stage("export");
            }
        })?;
        if !cached {
            let t = Instant::now();
            let made = self.make(base, base_dir, &dir, key, low_io);
            if let Ok(m) = &made {
                cache.update_record(&name, |r| {
                    let id = &mut r.identity;
                    id.variant = Some(m.info.clone());
                    id.op_counts = m.op_counts.clone();
                    id.param_bytes = Some(m.param_bytes);
                    id.opset = m.opset;
                    id.inputs = m.inputs.clone();
                    id.outputs = m.outputs.clone();
                    id.file_sha256 = None;
                    if let Some(s) = r.stages.get_mut("export") {
                        s.warnings = m.info.notes.clone();
                    }
                })?;
            }
            if !self.export_done(&name, path, t, made.map(|_| ()))? {
                return Ok(());
            }
        }
        let rec = cache
            .load_record(&name)?
            .unwrap_or_else(|| Record::new(&name));
        let info = rec.identity.variant.clone().unwrap_or_default();
        self.obs.on(Event::VariantReady {
            build: &name,
            of: &base.identity.name,
            info: &info,
            cached,
            onnx: &onnx,
            param_bytes: rec.identity.param_bytes,
            op_counts: &rec.identity.op_counts,
        });
        drop(export_lock);
        let reference = Fp32Reference {
            build: base.identity.name.clone(),
            dir: base_dir.to_path_buf(),
            rows: cache
                .load_record(&base.identity.name)?
                .map(|r| r.runtimes)
                .unwrap_or_default(),
            min_cosine: vo.min_cosine,
            label: info.label(),
        };
        let mut vopts = opts.clone();
        vopts.precision = if key.precision == VariantPrecision::Fp16 {
            Precision::Fp16
        } else {
            Precision::Fp32
        };
        vopts.graph_optimization = key.ort_opt_level;
        // FLOP/s of int8 or half kernels against a float32 GEMM peak would
        // mislead: variant rows get no peak annotation.
        let peak =
            crate::bench::peak::RowContext::without_graph(None, opts.threads, cache.location());
        let mut cx = Cx {
            cache,
            opts: &vopts,
            system: self.system,
            obs: self.obs,
            summary: &mut *self.summary,
            job: self.job,
            done: &mut *self.done,
        };
        cx.rows(&name, &dir, batch, &peak, Some(&reference))?;
        cx.lean(&name, &dir);
        Ok(())
    }

    /// Writes the variant's model and inputs into `dir`.
    fn make(
        &mut self,
        base: &Record,
        base_dir: &Path,
        dir: &Path,
        key: VariantKey,
        low_io: bool,
    ) -> Result<Made, String> {
        let mut m = rewrite::read_model(&base_dir.join("model.onnx")).map_err(|e| e.to_string())?;
        let mut info = VariantInfo {
            precision: key.precision.to_string(),
            ort_opt_level: key.ort_opt_level.map(|l| l.to_string()),
            low_precision_io: low_io,
            ..Default::default()
        };
        let what = key.precision.as_str();
        let fail = |e: rewrite::RewriteError| format!("{what} rewrite: {e}");
        let summary = match key.precision {
            VariantPrecision::Fp32 => RewriteSummary::default(),
            VariantPrecision::Fp16 | VariantPrecision::Bf16 => {
                let target = if key.precision == VariantPrecision::Fp16 {
                    data_type::FLOAT16
                } else {
                    data_type::BFLOAT16
                };
                float::to_float(&mut m, &float::FloatOptions { target, low_io }).map_err(fail)?
            }
            VariantPrecision::Int8Dynamic => quant::dynamic(&mut m).map_err(fail)?,
            VariantPrecision::Int8Static => {
                let (ranges, cal) = self.calibrate(&m, base, base_dir, dir)?;
                info.calibration = Some(cal);
                rewrite::qdq::static_qdq(&mut m, &ranges).map_err(fail)?
            }
        };
        info.converted = summary.converted;
        info.kept_float32 = summary.kept;
        info.notes = summary.notes;
        if key.precision != VariantPrecision::Fp32 && info.converted.is_empty() {
            info.notes.push(format!(
                "no node could be made {what}: this variant computes as the fp32 build does"
            ));
        }
        mark(&mut m, base, &info);
        self.write_inputs(
            base_dir,
            dir,
            low_io.then(|| low_dtype(key.precision)).flatten(),
        )?;
        let out = dir.join("model.onnx");
        match key.ort_opt_level {
            None => rewrite::write_model(&m, &out).map_err(|e| e.to_string())?,
            Some(level) => self.optimize(&m, dir, level, &mut info)?,
        }
        let file = crate::onnx::inspect(&out).map_err(|e| e.to_string())?;
        let retype = |specs: &[TensorSpec]| -> Vec<TensorSpec> {
            specs
                .iter()
                .map(|t| {
                    let mut t = t.clone();
                    if low_io && t.dtype == DType::Float32 && t.value.is_none() {
                        t.dtype = low_dtype(key.precision).expect("low io");
                    }
                    t
                })
                .collect()
        };
        Ok(Made {
            info,
            op_counts: file.op_counts,
            param_bytes: file.param_bytes,
            opset: (file.io.opset > 0).then_some(file.io.opset),
            inputs: retype(&base.identity.inputs),
            outputs: retype(&base.identity.outputs),
        })
    }

    /// The fp32 build's inputs, as they are or (`--low-precision-io`) in `low`.
    fn write_inputs(&self, base_dir: &Path, dir: &Path, low: Option<DType>) -> Result<(), String> {
        let values = read_values(&base_dir.join("inputs"), "input").map_err(|e| e.to_string())?;
        let values: Vec<(String, HostValue)> = values
            .into_iter()
            .map(|(n, v)| match (v, low) {
                (HostValue::Tensor(t), Some(d)) if t.dtype == DType::Float32 => {
                    let f = t.to_f64_vec();
                    (
                        n,
                        HostValue::Tensor(HostTensor::from_fn(d, &t.shape, |i| f[i])),
                    )
                }
                (v, _) => (n, v),
            })
            .collect();
        let inputs = dir.join("inputs");
        let _ = std::fs::remove_dir_all(&inputs);
        std::fs::create_dir_all(&inputs).map_err(|e| format!("{}: {e}", inputs.display()))?;
        write_values(&inputs, "input", &values).map_err(|e| e.to_string())
    }

    /// Saves `m` as ONNX Runtime optimizes it at `level`, as `dir/model.onnx`.
    fn optimize(
        &self,
        m: &ModelProto,
        dir: &Path,
        level: GraphOptimization,
        info: &mut VariantInfo,
    ) -> Result<(), String> {
        let before = dir.join("log").join("before-ort-optimization.onnx");
        let _ = std::fs::create_dir_all(dir.join("log"));
        rewrite::write_model(m, &before).map_err(|e| e.to_string())?;
        let mut spec = task_spec(
            dir,
            WorkerTask::Optimize,
            before.clone(),
            dir.join("inputs"),
            "ort",
        );
        spec.graph_optimization = Some(level);
        let out = spec.outputs_dir.clone().expect("set").join(OPTIMIZED_FILE);
        let _ = std::fs::remove_file(&out);
        run_task(
            self.opts,
            &spec,
            &format!("ONNX Runtime optimization ({level})"),
        )?;
        std::fs::rename(&out, dir.join("model.onnx"))
            .map_err(|e| format!("{}: {e}", out.display()))?;
        let _ = std::fs::remove_file(&before);
        let version = crate::runtime::by_name("ort").map_or_else(|_| "?".into(), |r| r.version());
        info.notes.push(format!(
            "saved as ONNX Runtime {version} optimizes it at level {level} on the CPU"
        ));
        Ok(())
    }

    /// int8-static: the (min, max) of the activations to quantize, over the
    /// calibration batches: the build's own inputs, then ONNX files' other
    /// `test_data_set_<k>` folders, then (when the build's data is random
    /// anyway) random batches, up to `--calibration-batches`.
    fn calibrate(
        &self,
        m: &ModelProto,
        base: &Record,
        base_dir: &Path,
        dir: &Path,
    ) -> Result<(Ranges, Calibration), String> {
        let targets = calib::targets(m).map_err(|e| format!("int8-static calibration: {e}"))?;
        let cdir = dir.join("calibration");
        let _ = std::fs::remove_dir_all(&cdir);
        let bdir = cdir.join("batches");
        std::fs::create_dir_all(&bdir).map_err(|e| format!("{}: {e}", bdir.display()))?;
        let model = cdir.join("model.onnx");
        rewrite::write_model(&calib::with_outputs(m, &targets), &model)
            .map_err(|e| e.to_string())?;
        let own = read_values(&base_dir.join("inputs"), "input").map_err(|e| e.to_string())?;
        let wanted = self.opts.variant.calibration_batches.max(1);
        let mut batches: Vec<(String, Vec<(String, HostValue)>)> =
            vec![("inputs".into(), own.clone())];
        // An ONNX file's other test data sets, when they fit the same inputs.
        if base.identity.file_sha256.is_some() {
            let folder = Path::new(&base.identity.script)
                .parent()
                .unwrap_or(Path::new("."));
            for k in 1..wanted {
                let td = folder.join(format!("test_data_set_{k}"));
                let Ok(vals) = read_values(&td, "input") else {
                    break;
                };
                let fits = vals.len() == own.len()
                    && vals.iter().zip(&own).all(|((_, a), (_, b))| {
                        a.value_type() == b.value_type()
                            && a.tensors()
                                .iter()
                                .map(|t| &t.shape)
                                .eq(b.tensors().iter().map(|t| &t.shape))
                    });
                if vals.is_empty() || !fits {
                    break;
                }
                let named = own
                    .iter()
                    .zip(vals)
                    .map(|((n, _), (_, v))| (n.clone(), v))
                    .collect();
                batches.push((format!("test_data_set_{k}"), named));
            }
        }
        let random_data = matches!(base.identity.input_source.as_deref(), None | Some("random"));
        if random_data {
            for k in batches.len()..wanted {
                let seed = 7919 * k as u64;
                let vals = own
                    .iter()
                    .enumerate()
                    .map(|(i, (n, v))| {
                        let shape = v
                            .tensors()
                            .first()
                            .map(|t| t.shape.clone())
                            .unwrap_or_default();
                        (
                            n.clone(),
                            random_value(&v.value_type(), &shape, seed + i as u64),
                        )
                    })
                    .collect();
                batches.push((format!("random (seed {seed})"), vals));
            }
        }
        for (k, (_, vals)) in batches.iter().enumerate() {
            let d = bdir.join(format!("batch_{k}"));
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            write_values(&d, "input", vals).map_err(|e| e.to_string())?;
        }
        let runtime = crate::runtime::resolve_auto().0;
        let spec = task_spec(dir, WorkerTask::Calibrate, model, bdir, runtime);
        let out = spec.outputs_dir.clone().expect("set").join(RANGES_FILE);
        run_task(self.opts, &spec, "int8-static calibration")?;
        let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let ranges: BTreeMap<String, (f32, f32)> =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", out.display()))?;
        let _ = std::fs::remove_dir_all(&cdir);
        Ok((
            ranges,
            Calibration {
                batches: batches.len() as u64,
                sources: batches.into_iter().map(|(s, _)| s).collect(),
                runtime: runtime.to_string(),
                tensors: targets.len() as u64,
            },
        ))
    }
}

/// Names the variant in the model's metadata.
fn mark(m: &mut ModelProto, base: &Record, info: &VariantInfo) {
    m.metadata_props.retain(|p| !p.key.starts_with("turnkey."));
    for (k, v) in [
        ("turnkey.variant_of", base.identity.name.clone()),
        ("turnkey.precision", info.label()),
    ] {
        m.metadata_props.push(StringStringEntryProto {
            key: k.into(),
            value: v,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Precision as P;

    #[test]
    fn names_and_hashes_tell_variants_apart() {
        let k = |precision, ort_opt_level| VariantKey {
            precision,
            ort_opt_level,
        };
        let a = variant_hash("h", k(P::Fp16, None), false, None);
        assert_ne!(a, variant_hash("h", k(P::Fp16, None), true, None));
        assert_ne!(a, variant_hash("h2", k(P::Fp16, None), false, None));
        assert_ne!(a, variant_hash("h", k(P::Bf16, None), false, None));
        assert_ne!(
            variant_hash("h", k(P::Int8Static, None), false, Some(8)),
            variant_hash("h", k(P::Int8Static, None), false, Some(4))
        );
        let n = variant_name("cnn_turnkey_1a2b3c4d", k(P::Int8Dynamic, None), &a);
        assert_eq!(n, format!("cnn_turnkey_int8-dynamic_{}", &a[..8]));
        let n = variant_name("relu_ab", k(P::Fp32, Some(GraphOptimization::Basic)), &a);
        assert_eq!(n, format!("relu_ab_fp32_ort-basic_{}", &a[..8]));
    }
}
