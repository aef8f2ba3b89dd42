//! `turnkey peak`: the machine's attainable FLOP/s for one runtime on one
//! device, measured with one large GEMM (`[n, n] @ [n, n]`) through the same
//! [`Runtime`](crate::runtime::Runtime) path as the benchmarks, and cached
//! per machine in the cache folder (`<cache>/peak/<host>.json`). Every row
//! then reports its achieved FLOP/s and the percentage of that peak
//! ([`annotate`]).
//!
//! On a GPU the GEMM is timed on the "core" path (operands already on the
//! device), since the peak is about compute, not copies. The peak is the
//! fastest iteration's rate: what the machine can attain, not its average
//! under whatever else runs.

use super::timing::{BenchOptions, Core, measure};
use crate::cache::RuntimeRow;
use crate::graph::{DType, Graph, HostTensor, Init, Op, Param, Source, TypeInfo};
use crate::runtime::{self, Device, Precision, RuntimeError, SessionOptions};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to measure.
#[derive(Clone, Debug, PartialEq)]
pub struct PeakOptions {
    pub runtime: String,
    pub device: Device,
    pub dtype: DType,
    pub precision: Precision,
    /// Matrix size; 0 tries each of [`default_sizes`] and keeps the best.
    pub n: usize,
    /// Intra-op threads; 0 = all cores.
    pub threads: usize,
    pub bench: BenchOptions,
}

/// The GEMM sizes tried unless told: which size a BLAS does best at
/// depends on caches and blocking, so the peak is the best of a few;
/// the largest takes a fraction of a second.
pub fn default_sizes(device: Device) -> &'static [usize] {
    match device {
        Device::Cpu => &[512, 1024, 2048],
        Device::Cuda(_) => &[2048, 4096, 8192],
    }
}

/// A few iterations of an expensive call: the loop's own minimums are for
/// microsecond models.
pub fn default_bench() -> BenchOptions {
    BenchOptions {
        iterations: None,
        min_iterations: 5,
        min_time: Duration::from_secs(2),
        max_time: Duration::from_secs(60),
        warmup_min_iterations: 2,
        warmup_min_time: Duration::ZERO,
        ..BenchOptions::default()
    }
}

/// The dtypes to measure on `device`: `list` (comma-separated float dtypes),
/// else float32, plus float16 on GPUs.
pub fn dtypes_for(device: Device, list: Option<&str>) -> Result<Vec<DType>, String> {
    match list {
        Some(list) => list
            .split(',')
            .map(|d| {
                DType::parse(d.trim())
                    .filter(|d| d.is_float())
                    .ok_or_else(|| {
                        format!("--dtype {d}: use float32, float16, bfloat16 or float64")
                    })
            })
            .collect(),
        None if device == Device::Cpu => Ok(vec![DType::Float32]),
        None => Ok(vec![DType::Float32, DType::Float16]),
    }
}

/// One measured peak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakEntry {
    pub runtime: String,
    pub runtime_version: String,
    pub device: Device,
    /// The device in words (CPU model or GPU name).
    pub device_name: String,
    pub dtype: DType,
    #[serde(default)]
    pub precision: Precision,
    /// Threads requested (0 = all cores), as rows record them.
    pub threads: usize,
    /// The GEMM's size: `[n, n] @ [n, n]`, 2n³ FLOPs.
    pub n: usize,
    /// Attainable FLOP/s: 2n³ / the fastest iteration (the best the
    /// machine did; a median would fold other processes' load into the peak).
    pub flops: f64,
    pub min_ms: f64,
    pub median_ms: f64,
    pub iterations: u64,
    /// `core` (device-resident operands) on GPUs, `whole` on the CPU.
    pub latency: String,
    pub measured: DateTime<Utc>,
}

impl PeakEntry {
    fn same_key(&self, other: &PeakEntry) -> bool {
        (
            &self.runtime,
            self.device,
            self.dtype,
            self.precision,
            self.threads,
        ) == (
            &other.runtime,
            other.device,
            other.dtype,
            other.precision,
            other.threads,
        )
    }

    /// How a row names the peak it is compared with.
    pub fn source(&self) -> String {
        format!(
            "turnkey peak {}/{} {} GEMM n={} ({:.1} GFLOP/s, {} threads requested, {})",
            self.runtime,
            self.device,
            self.dtype,
            self.n,
            self.flops / 1e9,
            self.threads,
            self.measured.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// The peaks measured on one machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeakFile {
    pub host: String,
    pub entries: Vec<PeakEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum PeakError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot build the GEMM model: {0}")]
    Export(String),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid peak file ({message}): delete it and run `turnkey peak` again", path.display())]
    Corrupt { path: PathBuf, message: String },
}

/// `y = a @ w` with a: `dtype` `[n, n]` the input and w a `[n, n]` weight,
/// as in a model's linear layers: runtimes may pre-pack constant weights
/// (ONNX Runtime does), and a GEMM of two inputs would pay that packing on
/// every call and understate the peak.
pub fn gemm_graph(n: usize, dtype: DType) -> Graph {
    let mut g = Graph::new("PeakGemm");
    let a = g.add_input("a", TypeInfo::new(vec![n, n], dtype));
    let b = g.add_param(Param {
        name: "w".into(),
        info: TypeInfo::new(vec![n, n], dtype),
        init: Init::Uniform {
            low: -1.0,
            high: 1.0,
            seed: 2,
        },
        trainable: true,
    });
    let y = g
        .add_node(Op::MatMul, &[a, b], "")
        .expect("a square matmul is well-formed")[0];
    g.add_output("y", y);
    g
}

/// Measures the GEMM on `opts.runtime` / `opts.device`: at `opts.n`, or
/// at each of [`default_sizes`] (sharing `min_time`), keeping the fastest.
pub fn measure_peak(opts: &PeakOptions) -> Result<PeakEntry, PeakError> {
    if opts.n != 0 {
        return measure_gemm(opts, opts.n, &opts.bench);
    }
    let sizes = default_sizes(opts.device);
    let bench = BenchOptions {
        min_time: opts.bench.min_time / sizes.len() as u32,
        ..opts.bench.clone()
    };
    let mut best: Option<PeakEntry> = None;
    for &n in sizes {
        let e = measure_gemm(opts, n, &bench)?;
        if best.as_ref().is_none_or(|b| e.flops > b.flops) {
            best = Some(e);
        }
    }
    Ok(best.expect("at least one size"))
}

fn measure_gemm(
    opts: &PeakOptions,
    n: usize,
    bench: &BenchOptions,
) -> Result<PeakEntry, PeakError> {
    let rt = runtime::by_name(&opts.runtime)?;
    let dir = tempfile::tempdir().map_err(|source| PeakError::Io {
        action: "create a temporary folder for",
        path: std::env::temp_dir(),
        source,
    })?;
    let model = dir.path().join("model.onnx");
    let g = gemm_graph(n, opts.dtype);
    let bytes = crate::onnx::export(&g, &crate::onnx::ExportOptions::default())
        .map_err(|e| PeakError::Export(e.to_string()))?;
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| PeakError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::write(&model, bytes).map_err(io("write", &model))?;
    runtime::write_ir(&model, &g).map_err(io("write", &runtime::ir_path(&model)))?;
    let mut session = rt.load(
        &model,
        &SessionOptions {
            threads: opts.threads,
            device: opts.device,
            precision: opts.precision,
            ..Default::default()
        },
    )?;
    let inputs = vec![(
        "a".to_string(),
        HostTensor::uniform(opts.dtype, &[n, n], -1.0, 1.0, 1),
    )];
    session.set_inputs(&inputs)?;
    let (m, latency) = if session.has_core() {
        (measure(&mut Core(session.as_mut()), bench)?, "core")
    } else {
        (measure(session.as_mut(), bench)?, "whole")
    };
    let flop = 2.0 * (n as f64).powi(3);
    Ok(PeakEntry {
        runtime: opts.runtime.clone(),
        runtime_version: rt.version(),
        device: opts.device,
        device_name: super::worker::device_name(opts.device),
        dtype: opts.dtype,
        precision: opts.precision,
        threads: opts.threads,
        n,
        flops: flop / (m.stats.min_ms / 1e3),
        min_ms: m.stats.min_ms,
        median_ms: m.stats.median_ms,
        iterations: m.iterations,
        latency: latency.into(),
        measured: Utc::now(),
    })
}

/// This machine's name for peak files: the host name, else `localhost`.
pub fn host_key() -> String {
    let h = crate::cache::system::hostname().unwrap_or_else(|| "localhost".into());
    h.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<cache>/peak/<host>.json`.
pub fn peak_path(cache_root: &Path, host: &str) -> PathBuf {
    cache_root.join("peak").join(format!("{host}.json"))
}

/// The peaks cached for `host` (none yet: an empty file).
pub fn load(cache_root: &Path, host: &str) -> Result<PeakFile, PeakError> {
    let path = peak_path(cache_root, host);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| PeakError::Corrupt {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PeakFile {
            host: host.to_string(),
            entries: Vec::new(),
        }),
        Err(source) => Err(PeakError::Io {
            action: "read",
            path,
            source,
        }),
    }
}

/// Adds `entry` to this machine's peaks, replacing one with the same
/// runtime, device, dtype, precision and threads. Written atomically.
pub fn save(cache_root: &Path, host: &str, entry: &PeakEntry) -> Result<PathBuf, PeakError> {
    let mut file = load(cache_root, host)?;
    file.host = host.to_string();
    file.entries.retain(|e| !e.same_key(entry));
    file.entries.push(entry.clone());
    let path = peak_path(cache_root, host);
    let dir = path.parent().expect("peak folder");
    let io = |action| {
        let path = path.clone();
        move |source| PeakError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
    let bytes = serde_json::to_vec_pretty(&file).expect("peaks serialize");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("write"))?;
    tmp.write_all(&bytes).map_err(io("write"))?;
    tmp.persist(&path).map_err(|e| io("write")(e.error))?;
    Ok(path)
}

/// The cached peak a row on `runtime` / `device` compares with.
pub fn lookup<'a>(
    file: &'a PeakFile,
    runtime: &str,
    device: Device,
    dtype: DType,
    precision: Precision,
    threads: usize,
) -> Option<&'a PeakEntry> {
    file.entries.iter().find(|e| {
        e.runtime == runtime
            && e.device == device
            && e.dtype == dtype
            && e.precision == precision
            && e.threads == threads
    })
}

/// The dtype a graph mostly computes in: that of its largest float
/// parameters, else of its first float input, else float32.
pub fn compute_dtype(g: &Graph) -> DType {
    let mut bytes: Vec<(DType, u64)> = Vec::new();
    for p in &g.params {
        if p.info.dtype.is_float() {
            match bytes.iter_mut().find(|(d, _)| *d == p.info.dtype) {
                Some((_, b)) => *b += p.info.numel(),
                None => bytes.push((p.info.dtype, p.info.numel())),
            }
        }
    }
    if let Some((d, _)) = bytes.iter().max_by_key(|(_, b)| *b) {
        return *d;
    }
    g.values
        .iter()
        .filter(|v| v.source == Source::Input)
        .map(|v| v.info.dtype)
        .find(|d| d.is_float())
        .unwrap_or(DType::Float32)
}

/// Fills a successful row's achieved FLOP/s (the call's FLOPs per sample ×
/// samples per second) and, when this machine has a cached peak for the
/// row's runtime, device, dtype and threads, its percentage of that peak.
pub fn annotate(
    row: &mut RuntimeRow,
    flops_per_call: Option<u64>,
    dtype: DType,
    threads: usize,
    peaks: &PeakFile,
) {
    let (Some(flops), Some(tp), Some(batch)) = (flops_per_call, row.throughput, row.batch_size)
    else {
        return;
    };
    if flops == 0 || batch == 0 || !tp.is_finite() {
        return;
    }
    let achieved = flops as f64 / batch as f64 * tp;
    row.achieved_flops = Some(achieved);
    let Ok(device) = row.device.parse::<Device>() else {
        return;
    };
    let precision = row
        .precision
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    if let Some(p) = lookup(peaks, &row.runtime, device, dtype, precision, threads) {
        row.peak_flops = Some(p.flops);
        row.pct_of_peak = Some(100.0 * achieved / p.flops);
        row.peak_source = Some(p.source());
    }
}

/// What a build's rows need to be compared with this machine's peaks.
#[derive(Clone, Debug)]
pub struct RowContext {
    pub flops: Option<u64>,
    pub dtype: DType,
    pub threads: usize,
    pub peaks: PeakFile,
}

impl RowContext {
    /// For the rows of `g`, run with `threads`, in the cache at `cache_root`
    /// (an unreadable peak file counts as none).
    pub fn new(g: &Graph, threads: usize, cache_root: &Path) -> RowContext {
        RowContext {
            flops: Some(g.stats().flops),
            dtype: compute_dtype(g),
            threads,
            peaks: load(cache_root, &host_key()).unwrap_or_default(),
        }
    }

    /// For an ONNX file's rows: the FLOPs counted from the file, if any.
    pub fn without_graph(flops: Option<u64>, threads: usize, cache_root: &Path) -> RowContext {
        RowContext {
            flops,
            dtype: DType::Float32,
            threads,
            peaks: load(cache_root, &host_key()).unwrap_or_default(),
        }
    }

    pub fn annotate(&self, row: &mut RuntimeRow) {
        annotate(row, self.flops, self.dtype, self.threads, &self.peaks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rt: &str, flops: f64) -> PeakEntry {
        PeakEntry {
            runtime: rt.into(),
            runtime_version: "1".into(),
            device: Device::Cpu,
            device_name: "cpu".into(),
            dtype: DType::Float32,
            precision: Precision::Fp32,
            threads: 0,
            n: 64,
            flops,
            min_ms: 1.0,
            median_ms: 1.0,
            iterations: 5,
            latency: "whole".into(),
            measured: Utc::now(),
        }
    }

    #[test]
    fn peaks_are_cached_per_host_and_replaced_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(load(root, "node1").unwrap().entries.is_empty());
        save(root, "node1", &entry("ort", 1e9)).unwrap();
        save(root, "node1", &entry("tract", 2e9)).unwrap();
        let p = save(root, "node1", &entry("ort", 3e9)).unwrap();
        assert_eq!(p, root.join("peak/node1.json"));
        let f = load(root, "node1").unwrap();
        assert_eq!(f.entries.len(), 2);
        let ort = lookup(&f, "ort", Device::Cpu, DType::Float32, Precision::Fp32, 0).unwrap();
        assert_eq!(ort.flops, 3e9);
        assert!(lookup(&f, "ort", Device::Cpu, DType::Float16, Precision::Fp32, 0).is_none());
        assert!(
            lookup(
                &f,
                "ort",
                Device::Cuda(0),
                DType::Float32,
                Precision::Fp32,
                0
            )
            .is_none()
        );
        assert!(lookup(&f, "ort", Device::Cpu, DType::Float32, Precision::Fp32, 1).is_none());
        assert!(load(root, "node2").unwrap().entries.is_empty());
        std::fs::write(peak_path(root, "node3"), "{").unwrap();
        let e = load(root, "node3").unwrap_err().to_string();
        assert!(
            e.contains("node3.json") && e.contains("turnkey peak"),
            "{e}"
        );
    }

    #[test]
    fn rows_get_achieved_flops_and_percent_of_peak() {
        let mut peaks = PeakFile::default();
        peaks.entries.push(entry("ort", 100e9));
        let mut row = RuntimeRow::new("ort", "cpu");
        row.throughput = Some(80.0); // samples/s
        row.batch_size = Some(8);
        // 1 GFLOP per call of 8 samples: 125 MFLOP/sample × 80/s = 10 GFLOP/s.
        annotate(&mut row, Some(1_000_000_000), DType::Float32, 0, &peaks);
        assert_eq!(row.achieved_flops, Some(10e9));
        assert_eq!(row.peak_flops, Some(100e9));
        assert!((row.pct_of_peak.unwrap() - 10.0).abs() < 1e-9);
        assert!(row.peak_source.as_deref().unwrap().contains("ort/cpu"));
        let mut other = RuntimeRow::new("tract", "cpu");
        other.throughput = Some(80.0);
        other.batch_size = Some(8);
        annotate(&mut other, Some(1_000_000_000), DType::Float32, 0, &peaks);
        assert_eq!(other.achieved_flops, Some(10e9));
        assert_eq!((other.peak_flops, other.pct_of_peak), (None, None));
        let mut failed = RuntimeRow::new("ort", "cpu");
        annotate(&mut failed, Some(1), DType::Float32, 0, &peaks);
        assert_eq!(failed.achieved_flops, None);
    }

    #[test]
    fn dtypes_default_by_device() {
        assert_eq!(dtypes_for(Device::Cpu, None).unwrap(), [DType::Float32]);
        assert_eq!(
            dtypes_for(Device::Cuda(0), None).unwrap(),
            [DType::Float32, DType::Float16]
        );
        assert_eq!(
            dtypes_for(Device::Cpu, Some("float16, float64")).unwrap(),
            [DType::Float16, DType::Float64]
        );
        assert!(
            dtypes_for(Device::Cpu, Some("int8"))
                .unwrap_err()
                .contains("--dtype int8")
        );
    }

    #[test]
    fn compute_dtype_follows_the_weights() {
        let g = gemm_graph(4, DType::Float16);
        assert_eq!(compute_dtype(&g), DType::Float16);
        let g = crate::onnx::export_tests::op_graph(&Op::MatMul, DType::Float32);
        assert_eq!(compute_dtype(&g), DType::Float32);
        let mut ids = Graph::new("Ids");
        ids.add_input("i", TypeInfo::new(vec![2], DType::Int64));
        assert_eq!(compute_dtype(&ids), DType::Float32);
    }

    #[test]
    fn the_gemm_peak_is_measured_on_tract_and_ort() {
        for rt in ["tract", "ort"] {
            let e = measure_peak(&PeakOptions {
                runtime: rt.into(),
                device: Device::Cpu,
                dtype: DType::Float32,
                precision: Precision::Fp32,
                n: 128,
                threads: 1,
                bench: BenchOptions {
                    min_iterations: 3,
                    min_time: Duration::ZERO,
                    warmup_min_iterations: 1,
                    ..default_bench()
                },
            })
            .unwrap();
            assert_eq!((e.n, e.latency.as_str()), (128, "whole"));
            assert!(e.iterations >= 3);
            // 4 MFLOP per call: anything from 0.1 to 1000 GFLOP/s is plausible.
            assert!(e.flops > 1e8 && e.flops < 1e12, "{rt}: {}", e.flops);
        }
        // The size sweep keeps the best of the default sizes.
        let e = measure_peak(&PeakOptions {
            runtime: "ort".into(),
            device: Device::Cpu,
            dtype: DType::Float32,
            precision: Precision::Fp32,
            n: 0,
            threads: 0,
            bench: BenchOptions {
                min_iterations: 2,
                min_time: Duration::ZERO,
                warmup_min_iterations: 1,
                ..default_bench()
            },
        })
        .unwrap();
        assert!(default_sizes(Device::Cpu).contains(&e.n), "{}", e.n);
        let e = measure_peak(&PeakOptions {
            runtime: "ort".into(),
            device: Device::Cuda(0),
            dtype: DType::Float32,
            precision: Precision::Fp32,
            n: 64,
            threads: 1,
            bench: default_bench(),
        });
        if let Err(e) = e {
            assert!(e.to_string().contains("cuda:0"), "{e}");
        }
    }
}
