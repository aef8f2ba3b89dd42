//! Command-line definitions (clap only; no logic).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "turnkey",
    version,
    about = "Benchmark ML models written as Rhai scripts across inference runtimes",
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true,
    arg_required_else_help = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a script on the default runtime and print each call's outputs.
    Run(RunArgs),
    /// Write reports (CSV, JSON, HTML, Markdown) from one or more caches.
    Report(ReportArgs),
    /// List, inspect, clean or delete the builds of a cache.
    Cache(CacheArgs),
    /// Measure this machine's attainable FLOP/s (a large GEMM) per runtime and device.
    Peak(PeakArgs),
    /// Print the script API reference: every function, operator, layer and builder, or one.
    Api(ApiArgs),
    /// Internal: benchmark one build on one runtime (a worker process).
    #[command(name = "__worker", hide = true)]
    Worker {
        #[arg(long)]
        spec: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    /// One name (`sin`, `nn::linear`, `vision::resnet`, `+`); every entry when absent.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Print Markdown: the text of docs/API.md.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// What to benchmark: scripts (.rhai), ONNX files (.onnx), manifests (.toml), lists (.txt), folders, globs.
    #[arg(required = true, value_name = "INPUTS")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub corpus: crate::corpus::CorpusArgs,

    /// Cache directory (default: TURNKEY_CACHE_DIR, else the user cache dir).
    #[arg(short = 'd', long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Arguments for the scripts' parse(), e.g. "--batch_size 8".
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "ARGS",
        default_value = ""
    )]
    pub script_args: String,

    /// Real weights for scripts that ask for pretrained ones: a
    /// .safetensors file, a sharded checkpoint's index.json, or a folder
    /// holding either. Makes parse(["pretrained"]) true by default.
    #[arg(long, value_name = "PATH")]
    pub weights: Option<PathBuf>,

    /// Discover and export only; do not benchmark.
    #[arg(long)]
    pub build_only: bool,

    /// Trace only: record params, parameter bytes, FLOPs (per token for
    /// language models), op counts and activation memory without making
    /// weights, exporting ONNX or benchmarking (any model size).
    #[arg(long, conflicts_with = "build_only")]
    pub analyze_only: bool,

    /// Also build sub-models called inside a forward, down to this depth.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_depth: usize,

    /// ONNX opset of the exported graphs.
    #[arg(long, default_value_t = 17, value_name = "N")]
    pub opset: i64,

    /// Runtimes, comma-separated: auto, ort, tract, ort-trt, torch. auto = ort when ONNX Runtime loads, else tract.
    #[arg(long, default_value = "auto", value_name = "LIST")]
    pub runtime: String,

    /// Devices, comma-separated: cpu, cuda, cuda:N. Every runtime runs on every device.
    #[arg(long, default_value = "cpu", value_name = "LIST")]
    pub device: String,

    /// Intra-op threads (0 = all cores).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// Fixed number of measured iterations (overrides adaptive stopping).
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,

    /// Stop measuring once the median's 95% confidence interval is within
    /// ± this percentage of it (after the floors); a row is `stable` there.
    #[arg(long, default_value = "1", value_name = "PCT")]
    pub target_ci: String,

    /// Floor: measure at least this many iterations.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub min_iterations: u64,

    /// Floor: measure at least this long, in seconds.
    #[arg(long, default_value_t = 0.02, value_name = "S")]
    pub min_time: f64,

    /// Ceiling: stop measuring after this long, in seconds, target reached or not.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub max_time: f64,

    /// Warm-up floor: at least this many iterations.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub warmup_iterations: u64,

    /// Warm-up floor: at least this long, in seconds.
    #[arg(long, default_value_t = 0.0, value_name = "S")]
    pub warmup_time: f64,

    /// Warm-up ceiling, in seconds: measure from here even if not steady.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub warmup_max_time: f64,

    /// Run each row in N fresh worker processes, interleaved across rows
    /// and runtimes; the row pools them and reports the spread between them.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub trials: u32,

    /// Pin the worker and its threads to CPUs: the first --threads CPUs
    /// (all when --threads is 0), or a list: --pin=0-3,6.
    #[arg(
        long,
        value_name = "CPUS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto"
    )]
    pub pin: Option<String>,

    /// Per-row time limit for a benchmark worker, in seconds.
    #[arg(long, default_value_t = 1800.0, value_name = "S")]
    pub timeout: f64,

    /// Most memory a script may ask for (tensors and one model's weights),
    /// e.g. 8GiB, 500MB or 25% of physical memory; default 50%.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,

    /// Absolute tolerance of the output check.
    #[arg(long, default_value_t = 1e-4)]
    pub atol: f64,

    /// Relative tolerance of the output check.
    #[arg(long, default_value_t = 1e-3)]
    pub rtol: f64,

    /// Redo builds and rows already successful in the cache.
    #[arg(long)]
    pub rebuild: bool,

    /// Print only errors and the final summary.
    #[arg(short, long)]
    pub quiet: bool,

    #[command(flatten)]
    pub cache_flags: CacheFlags,
    #[command(flatten)]
    pub variant: VariantArgs,
    // Last: its help heading carries over to the flags that follow it.
    #[command(flatten)]
    pub slurm: crate::slurm::SlurmArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The script to run.
    pub script: PathBuf,
    /// Arguments for the script's parse(), after `--`.
    #[arg(last = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Runtime that computes the outputs: auto, ort, tract.
    #[arg(long, default_value = "auto")]
    pub runtime: String,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Cache directories to read.
    #[arg(short = 'd', long = "cache-dir", value_name = "DIR", required = true, num_args = 1..)]
    pub caches: Vec<PathBuf>,
    /// Output folder for the report files.
    #[arg(short = 'o', long, default_value = ".", value_name = "DIR")]
    pub output: PathBuf,
    /// Formats to write, comma-separated: csv, json, html, md.
    #[arg(long, default_value = "csv,json,html", value_name = "LIST")]
    pub format: String,
    /// What the comparison measures speedups against: one of the -d caches,
    /// a runtime (ort), runtime/device (ort/cpu), a device (cpu) or a
    /// precision (fp32). Default: the first cache when there are several,
    /// else the reference runtime.
    #[arg(long, value_name = "CACHE|RUNTIME|DEVICE|PRECISION")]
    pub baseline: Option<String>,
    /// Print each pair's speedup with its 95% confidence interval (and `no
    /// significant difference` when it contains 1.0); with a value, also the
    /// baseline (as --baseline).
    #[arg(long, value_name = "BASELINE", num_args = 0..=1, default_missing_value = "", conflicts_with = "baseline")]
    pub compare: Option<String>,
}

// ---- cache commands and cache flags of benchmark runs (issue #7) ----

/// Cache options of a benchmark run.
#[derive(Args, Debug, Clone, Default)]
pub struct CacheFlags {
    /// After benchmarking a build, drop its ONNX file, inputs and outputs
    /// (records, samples and logs stay; a re-run rebuilds).
    #[arg(long)]
    pub lean_cache: bool,
}

#[derive(Args, Debug)]
pub struct CacheArgs {
    /// Cache directory (default: TURNKEY_CACHE_DIR, else the user cache dir).
    #[arg(short = 'd', long = "cache-dir", value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// List the builds: status, runtimes, last run, size on disk.
    List,
    /// Show one build's record, readable (--json for the record itself).
    Stats {
        build: String,
        /// Print the record.json as it is.
        #[arg(long)]
        json: bool,
    },
    /// Delete builds entirely (record included).
    Delete {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        build: Option<String>,
        /// Every build of the cache (the cache folder and marker stay).
        #[arg(long)]
        all: bool,
    },
    /// Free space but keep the records: drop ONNX files, inputs, outputs and samples.
    Clean {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        build: Option<String>,
        /// Every build of the cache.
        #[arg(long)]
        all: bool,
    },
    /// Print the cache folder in use (-d, else TURNKEY_CACHE_DIR, else the user cache dir).
    Location,
}

// ---- precision variants (issue #21; --precision is with the corpus flags) --

#[derive(Args, Debug, Clone)]
pub struct VariantArgs {
    /// int8-static: calibration batches (the build's inputs, test data sets, then random data).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub calibration_batches: usize,
    /// fp16/bf16 variants take and return that precision (no float32 casts at the model's edges).
    #[arg(long)]
    pub low_precision_io: bool,
    /// A variant row fails when an output's cosine similarity with fp32 is below this.
    #[arg(long, default_value_t = 0.99, value_name = "C")]
    pub min_cosine: f64,
}

// ---- GPUs and peak FLOP/s (issue #6) ---------------------------------------

#[derive(Args, Debug)]
pub struct PeakArgs {
    /// Runtimes, comma-separated: ort, tract, ort-trt, torch.
    #[arg(long, default_value = "ort", value_name = "LIST")]
    pub runtime: String,
    /// Devices, comma-separated: cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu", value_name = "LIST")]
    pub device: String,
    /// Element types, comma-separated (default: float32; on GPUs float32,float16).
    #[arg(long, value_name = "LIST")]
    pub dtype: Option<String>,
    /// GEMM size n of [n, n] @ [n, n] (default: the best of 512, 1024, 2048 on the CPU; 2048, 4096, 8192 on GPUs).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub size: usize,
    /// Intra-op threads (0 = all cores), as for benchmarks: rows compare with the peak of their own thread setting.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Precision: fp32, or fp16 (TensorRT engines, --runtime ort-trt).
    #[arg(long, default_value = "fp32", value_name = "P")]
    pub precision: String,
    /// Minimum measured time per runtime and dtype, in seconds (shared by the sizes tried).
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub min_time: f64,
    /// Cache directory the peaks are saved in (default: TURNKEY_CACHE_DIR, else the user cache dir).
    #[arg(short = 'd', long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
}
