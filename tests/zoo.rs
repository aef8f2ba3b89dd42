//! The model zoo: every script of each corpus (models/<corpus>/, named
//! after where the models come from: torchvision, torch_hub, transformers,
//! llm, diffusers, graph_convolutions, recurrent, ...) has an entry in the
//! reference tables (tests/data/reference/*.json, written from the
//! reference libraries by scripts/reference_names.py); it builds with
//! exactly that parameter count, names its weights as the reference's
//! state_dict, and exports ONNX that passes the full checker (models over
//! a sample, see SMALL_BYTES, the rest traced and counted); published MAC counts match;
//! one model of each family runs on ort and tract with agreeing outputs.
//! Adding a script is adding its reference entry: no table here to edit.
//!
//! FLOPs vs MACs: turnkey records FLOPs as 2 per multiply-accumulate of
//! matmuls and convolutions plus elementwise work (graph/ops.rs). Published
//! figures (torchvision's `_ops`, fvcore-style) count multiply-accumulates
//! (MACs) of convolutions and matmuls only, so the check compares the
//! graph's MACs, counted here from its Conv/ConvTranspose/MatMul/Gemm nodes.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use turnkey::graph::{Graph, Op};
use turnkey::script::{DiscoverOptions, ScriptArgs, discover};

/// One corpus script and its reference figures.
struct Entry {
    script: String,
    /// The reference library's count (tests/data/reference/*.json).
    params: u64,
    /// Published GMACs and the script arguments it was measured at.
    gmacs: Option<(f64, &'static str)>,
}

const AT_224: &str = "";
const AT_256: &str = "--height 256 --width 256";

/// Published multiply-accumulate counts (torchvision's `_ops`; BERT-base at
/// sequence length 128: 22.5 GFLOPs = 11.25 GMACs, MobileBERT's table).
const GMACS: &[(&str, f64, &str)] = &[
    ("models/torchvision/resnet18.rhai", 1.814, AT_224),
    ("models/torchvision/resnet34.rhai", 3.664, AT_224),
    ("models/torchvision/resnet50.rhai", 4.089, AT_224),
    ("models/torchvision/resnet101.rhai", 7.801, AT_224),
    ("models/torchvision/wide_resnet50_2.rhai", 11.398, AT_224),
    ("models/torchvision/resnext50_32x4d.rhai", 4.23, AT_224),
    ("models/torchvision/mobilenet_v2.rhai", 0.301, AT_224),
    ("models/torchvision/mobilenet_v3_large.rhai", 0.217, AT_224),
    ("models/torchvision/mobilenet_v3_small.rhai", 0.057, AT_224),
    ("models/torchvision/vgg11.rhai", 7.609, AT_224),
    ("models/torchvision/vgg16.rhai", 15.47, AT_224),
    ("models/torchvision/alexnet.rhai", 0.714, AT_224),
    ("models/torchvision/squeezenet1_0.rhai", 0.819, AT_224),
    ("models/torchvision/squeezenet1_1.rhai", 0.349, AT_224),
    ("models/torchvision/densenet121.rhai", 2.834, AT_224),
    ("models/torchvision/densenet169.rhai", 3.36, AT_224),
    ("models/torchvision/densenet201.rhai", 4.291, AT_224),
    ("models/torchvision/efficientnet_b0.rhai", 0.386, AT_224),
    (
        "models/torchvision/efficientnet_b1.rhai",
        0.687,
        "--height 240 --width 240",
    ),
    ("models/torchvision/vit_b_16.rhai", 17.564, AT_224),
    ("models/torchvision/convnext_tiny.rhai", 4.456, AT_224),
    ("models/torchvision/resnet152.rhai", 11.514, AT_224),
    ("models/torchvision/resnext101_32x8d.rhai", 16.414, AT_224),
    ("models/torchvision/resnext101_64x4d.rhai", 15.46, AT_224),
    ("models/torchvision/wide_resnet101_2.rhai", 22.753, AT_224),
    ("models/torchvision/vgg11_bn.rhai", 7.609, AT_224),
    ("models/torchvision/vgg13.rhai", 11.308, AT_224),
    ("models/torchvision/vgg13_bn.rhai", 11.308, AT_224),
    ("models/torchvision/vgg16_bn.rhai", 15.47, AT_224),
    ("models/torchvision/vgg19.rhai", 19.632, AT_224),
    ("models/torchvision/vgg19_bn.rhai", 19.632, AT_224),
    ("models/torchvision/densenet161.rhai", 7.728, AT_224),
    (
        "models/torchvision/efficientnet_b2.rhai",
        1.088,
        "--height 288 --width 288",
    ),
    (
        "models/torchvision/efficientnet_b3.rhai",
        1.827,
        "--height 300 --width 300",
    ),
    (
        "models/torchvision/efficientnet_b4.rhai",
        4.394,
        "--height 380 --width 380",
    ),
    (
        "models/torchvision/efficientnet_b5.rhai",
        10.266,
        "--height 456 --width 456",
    ),
    (
        "models/torchvision/efficientnet_b6.rhai",
        19.068,
        "--height 528 --width 528",
    ),
    (
        "models/torchvision/efficientnet_b7.rhai",
        37.746,
        "--height 600 --width 600",
    ),
    ("models/torchvision/convnext_small.rhai", 8.684, AT_224),
    ("models/torchvision/convnext_base.rhai", 15.355, AT_224),
    ("models/torchvision/convnext_large.rhai", 34.361, AT_224),
    ("models/torchvision/vit_b_32.rhai", 4.409, AT_224),
    ("models/torchvision/vit_l_16.rhai", 61.555, AT_224),
    ("models/torchvision/vit_l_32.rhai", 15.378, AT_224),
    ("models/torchvision/swin_t.rhai", 4.491, AT_224),
    ("models/torchvision/swin_s.rhai", 8.741, AT_224),
    ("models/torchvision/swin_b.rhai", 15.431, AT_224),
    ("models/torchvision/swin_v2_t.rhai", 5.94, AT_256),
    ("models/torchvision/swin_v2_s.rhai", 11.546, AT_256),
    ("models/torchvision/swin_v2_b.rhai", 20.325, AT_256),
    ("models/transformers/bert.rhai", 11.25, ""),
    ("models/torchvision/regnet_x_400mf.rhai", 0.414, AT_224),
    ("models/torchvision/regnet_x_800mf.rhai", 0.8, AT_224),
    ("models/torchvision/regnet_x_1_6gf.rhai", 1.603, AT_224),
    ("models/torchvision/regnet_x_3_2gf.rhai", 3.177, AT_224),
    ("models/torchvision/regnet_x_8gf.rhai", 7.995, AT_224),
    ("models/torchvision/regnet_x_16gf.rhai", 15.941, AT_224),
    ("models/torchvision/regnet_x_32gf.rhai", 31.736, AT_224),
    ("models/torchvision/regnet_y_400mf.rhai", 0.402, AT_224),
    ("models/torchvision/regnet_y_800mf.rhai", 0.834, AT_224),
    ("models/torchvision/regnet_y_1_6gf.rhai", 1.612, AT_224),
    ("models/torchvision/regnet_y_3_2gf.rhai", 3.176, AT_224),
    ("models/torchvision/regnet_y_8gf.rhai", 8.473, AT_224),
    ("models/torchvision/regnet_y_16gf.rhai", 15.912, AT_224),
    ("models/torchvision/regnet_y_32gf.rhai", 32.28, AT_224),
    (
        "models/torchvision/regnet_y_128gf.rhai",
        374.57,
        "--height 384 --width 384",
    ),
    ("models/torchvision/shufflenet_v2_x0_5.rhai", 0.04, AT_224),
    ("models/torchvision/shufflenet_v2_x1_0.rhai", 0.145, AT_224),
    ("models/torchvision/shufflenet_v2_x1_5.rhai", 0.296, AT_224),
    ("models/torchvision/shufflenet_v2_x2_0.rhai", 0.583, AT_224),
    ("models/torchvision/mnasnet0_5.rhai", 0.104, AT_224),
    ("models/torchvision/mnasnet0_75.rhai", 0.215, AT_224),
    ("models/torchvision/mnasnet1_0.rhai", 0.314, AT_224),
    ("models/torchvision/mnasnet1_3.rhai", 0.526, AT_224),
    ("models/torchvision/googlenet.rhai", 1.498, AT_224),
    (
        "models/torchvision/inception_v3.rhai",
        5.713,
        "--height 299 --width 299",
    ),
    (
        "models/torchvision/efficientnet_v2_s.rhai",
        8.366,
        "--height 384 --width 384",
    ),
    (
        "models/torchvision/efficientnet_v2_m.rhai",
        24.582,
        "--height 480 --width 480",
    ),
    (
        "models/torchvision/efficientnet_v2_l.rhai",
        56.08,
        "--height 480 --width 480",
    ),
    ("models/torchvision/maxvit_t.rhai", 5.558, AT_224),
    // Segmentation at 520 (torchvision's figures; the ResNet FCN/DeepLabV3 ones
    // count the auxiliary classifier, which builders without weights leave out).
    (
        "models/torchvision/deeplabv3_mobilenet_v3_large.rhai",
        10.452,
        "--height 520 --width 520",
    ),
    (
        "models/torchvision/lraspp_mobilenet_v3_large.rhai",
        2.086,
        "--height 520 --width 520",
    ),
];

/// Folders of models/ that are not reference corpora: micro-benchmarks,
/// the self-test and precision examples (their own tests check them).
const NOT_CORPORA: &[&str] = &["bench", "selftest", "precision"];

/// Every corpus script: the files (not links: models/vision/ and
/// models/gnn/ keep the old paths of models/torchvision/ and
/// models/graph_convolutions/) of each models/<corpus>/ folder.
fn corpus_files() -> Vec<String> {
    let mut v = Vec::new();
    for d in std::fs::read_dir(root().join("models")).unwrap() {
        let d = d.unwrap().path();
        let corpus = d.file_name().unwrap().to_string_lossy().to_string();
        if !d.is_dir() || NOT_CORPORA.contains(&corpus.as_str()) {
            continue;
        }
        for f in std::fs::read_dir(&d).unwrap() {
            let f = f.unwrap();
            let p = f.path();
            if f.file_type().unwrap().is_file() && p.extension().is_some_and(|x| x == "rhai") {
                v.push(format!(
                    "models/{corpus}/{}",
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    v.sort();
    v
}

/// The reference tables (tests/data/reference/*.json, one per corpus module
/// of scripts/reference/, written by scripts/reference_names.py), merged.
fn reference_tables() -> &'static serde_json::Map<String, serde_json::Value> {
    static TABLES: std::sync::OnceLock<serde_json::Map<String, serde_json::Value>> =
        std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut models = serde_json::Map::new();
        for f in std::fs::read_dir(root().join("tests/data/reference")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "json") {
                let table: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
                models.extend(table["models"].as_object().unwrap().clone());
            }
        }
        models
    })
}

/// The corpus with its reference figures. A script with no reference
/// entry fails the coverage test; here it is left out.
fn zoo() -> Vec<Entry> {
    let tables = reference_tables();
    corpus_files()
        .into_iter()
        .filter_map(|script| {
            let params = tables.get(&script)?["num_parameters"].as_u64()?;
            let gmacs = GMACS
                .iter()
                .find(|g| g.0 == script)
                .map(|&(_, gm, args)| (gm, args));
            Some(Entry {
                script,
                params,
                gmacs,
            })
        })
        .collect()
}

/// The default suite exports (and checks with the full ONNX checker) a
/// sample that keeps CI in budget (the corpus is 60 GB of float32 weights
/// under 1 GB a model): every script up to SMALL_BYTES, and the smallest
/// script of each stdlib builder (the first `module::builder(` call of the
/// script) when it is under EXPORT_LIMIT_BYTES, so every builder's export
/// is checked. The rest are traced and counted exactly, names and all.
/// `TURNKEY_ZOO_FULL=1` exports and checks every script up to
/// ALWAYS_TRACE_BYTES (the documented whole-corpus command in the README).
const SMALL_BYTES: u64 = 32 << 20;
const EXPORT_LIMIT_BYTES: u64 = 1 << 30;

/// Beyond this no export fits this machine's memory (Mistral-7B: 29 GB of
/// float32 weights; Mixtral, Llama-70B, SDXL): traced and counted only.
const ALWAYS_TRACE_BYTES: u64 = 12 << 30;

/// The stdlib builder a script calls first (`vision::resnet`).
fn builder_of(script: &str) -> String {
    let text = std::fs::read_to_string(root().join(script)).unwrap();
    let call = regex::Regex::new(r"\b(vision|transformers|diffusers|gnn|nn)::(\w+)\(").unwrap();
    text.lines()
        .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
        .find_map(|l| call.captures(l).map(|c| format!("{}::{}", &c[1], &c[2])))
        .unwrap_or_default()
}

/// The scripts this run exports (see SMALL_BYTES).
fn exported(all: &[Entry]) -> std::collections::HashSet<String> {
    let bytes = |e: &Entry| e.params * 4;
    if std::env::var_os("TURNKEY_ZOO_FULL").is_some_and(|v| v == "1") {
        return all
            .iter()
            .filter(|e| bytes(e) <= ALWAYS_TRACE_BYTES)
            .map(|e| e.script.clone())
            .collect();
    }
    let mut chosen: std::collections::HashSet<String> = all
        .iter()
        .filter(|e| bytes(e) <= SMALL_BYTES)
        .map(|e| e.script.clone())
        .collect();
    let mut smallest: std::collections::BTreeMap<String, &Entry> = Default::default();
    for e in all {
        let b = smallest.entry(builder_of(&e.script)).or_insert(e);
        if bytes(e) < bytes(b) {
            *b = e;
        }
    }
    for e in smallest.values() {
        if bytes(e) <= EXPORT_LIMIT_BYTES {
            chosen.insert(e.script.clone());
        }
    }
    chosen
}

fn discover_with(script: &str, args: &str) -> turnkey::script::Discovery {
    let opts = DiscoverOptions {
        script_args: ScriptArgs::parse(args).unwrap(),
        // As --analyze-only: no weights are made, so a trace-only model may
        // exceed the memory an export of it would need.
        analyze_only: true,
        ..Default::default()
    };
    discover(&root().join(script), &opts).unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Multiply-accumulates of the graph's convolutions and matmuls.
fn macs(g: &Graph) -> u64 {
    let numel = |v: usize| g.info(v).numel();
    g.nodes
        .iter()
        .map(|n| match &n.op {
            Op::Conv { kernel, group, .. } => {
                let cin = g.info(n.inputs[0]).shape[1] as u64;
                let kk: u64 = kernel.iter().map(|&k| k as u64).product();
                numel(n.outputs[0]) * (cin / *group as u64) * kk
            }
            Op::ConvTranspose { kernel, group, .. } => {
                let cout = g.info(n.outputs[0]).shape[1] as u64;
                let kk: u64 = kernel.iter().map(|&k| k as u64).product();
                numel(n.inputs[0]) * (cout / *group as u64) * kk
            }
            Op::MatMul | Op::Gemm { .. } => {
                let k = *g.info(n.inputs[0]).shape.last().unwrap_or(&1) as u64;
                numel(n.outputs[0]) * k
            }
            _ => 0,
        })
        .sum()
}

/// Every corpus script has a reference entry, a labels line naming its
/// source, a `//! Source:` line, and a `//! Reference:` line stating the
/// reference's count; every reference entry has its script.
#[test]
fn every_corpus_script_has_its_reference_labels_and_source() {
    let files = corpus_files();
    let tables = reference_tables();
    let mut failures = Vec::new();
    for f in &files {
        if !tables.contains_key(f) {
            failures.push(format!(
                "{f}: no entry in tests/data/reference/ (add it to scripts/reference/ and run scripts/reference_names.py)"
            ));
        }
    }
    for k in tables.keys() {
        if !files.contains(k) {
            failures.push(format!("{k}: in tests/data/reference/ but no such script"));
        }
    }
    for e in zoo() {
        let text = std::fs::read_to_string(root().join(&e.script)).unwrap();
        let stem = Path::new(&e.script).file_stem().unwrap().to_str().unwrap();
        let first = text.lines().next().unwrap();
        let labels: Vec<&str> = first.split_whitespace().collect();
        let ok = first.starts_with("# labels: ")
            && labels.contains(&"test_group::zoo")
            && labels.contains(&format!("name::{stem}").as_str())
            && ["author::", "task::", "source::"]
                .iter()
                .all(|k| labels.iter().any(|l| l.starts_with(k) && l.len() > k.len()));
        if !ok {
            failures.push(format!(
                "{}: labels line needs test_group::zoo name::{stem} author:: task:: source:: : {first}",
                e.script
            ));
        }
        let stated = text
            .lines()
            .find_map(|l| l.strip_prefix("//! Reference: "))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse::<u64>().ok());
        if stated != Some(e.params) {
            failures.push(format!(
                "{}: `//! Reference: {} parameters, ...` expected, found {stated:?}",
                e.script, e.params
            ));
        }
        if !text.contains("//! Source: ") {
            failures.push(format!("{}: no `//! Source:` line", e.script));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    eprintln!("{} corpus scripts", files.len());
}

/// A writable tmpfs for the exported models when there is room (the
/// corpus writes ~6 GB of weights; memory is far faster than a disk
/// flush), else the usual temp dir.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let c = std::ffi::CString::new("/dev/shm").unwrap();
    // SAFETY: statvfs only writes into `st`.
    let ok = shm.is_dir() && unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0;
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    if ok
        && free > 4 << 30
        && let Ok(d) = tempfile::Builder::new()
            .prefix("turnkey-zoo")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// One Python process running the full ONNX checker on each path it is sent.
struct Checker {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Checker {
    fn new() -> Self {
        let code = "import onnx, sys\n\
                    for line in sys.stdin:\n\
                    \x20   p = line.strip()\n\
                    \x20   try:\n\
                    \x20       onnx.checker.check_model(p, full_check=True)\n\
                    \x20       print('ok', flush=True)\n\
                    \x20   except Exception as e:\n\
                    \x20       print('error', str(e).replace('\\n', ' '), flush=True)\n";
        let mut child = Command::new(python())
            .arg("-c")
            .arg(code)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python");
        let out = BufReader::new(child.stdout.take().unwrap());
        Checker { child, out }
    }

    fn check(&mut self, model: &Path) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", model.display()).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_string()
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Starts `turnkey --build-only` of one script into its own cache.
fn start_build(script: &str, cache: &Path) -> std::process::Child {
    turnkey()
        .args(["--build-only", "-q", "-d", cache.to_str().unwrap(), script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start turnkey")
}

#[test]
fn every_script_builds_with_its_exact_parameter_count_and_valid_onnx() {
    let scratch = scratch_dir();
    let mut checker = Checker::new();
    let start = Instant::now();
    let cache_of = |i: usize| scratch.path().join(i.to_string());
    let all = zoo();
    let export = exported(&all);
    for e in all.iter().filter(|e| !export.contains(&e.script)) {
        let d = discover_with(&e.script, "");
        assert_eq!(
            d.builds[0].graph.stats().params,
            e.params,
            "{}: parameter count",
            e.script
        );
    }
    let zoo: Vec<&Entry> = all.iter().filter(|e| export.contains(&e.script)).collect();
    // Script i+1 builds while Python checks script i. Each script has its
    // own cache, removed once checked: at most two models' weights exist
    // at a time, and only one when either is over the export limit.
    let big = |e: &Entry| e.params * 4 > EXPORT_LIMIT_BYTES;
    let mut next = Some(start_build(&zoo[0].script, &cache_of(0)));
    for (i, e) in zoo.iter().enumerate() {
        let out = match next.take() {
            Some(child) => child,
            None => start_build(&e.script, &cache_of(i)),
        }
        .wait_with_output()
        .unwrap();
        if let Some(n) = zoo.get(i + 1).filter(|n| !big(e) && !big(n)) {
            next = Some(start_build(&n.script, &cache_of(i + 1)));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "{}:\n{stderr}",
            e.script
        );
        let cache = cache_of(i);
        let b = builds(&cache);
        assert_eq!(b.len(), 1, "{}: {b:?}", e.script);
        let rec = record(&b[0]);
        assert_eq!(rec["stages"]["export"]["status"], "successful", "{rec}");
        assert_eq!(
            rec["identity"]["params"].as_u64(),
            Some(e.params),
            "{}: parameter count",
            e.script
        );
        let verdict = checker.check(&b[0].join("model.onnx"));
        assert_eq!(verdict, "ok", "{}: ONNX checker", e.script);
        std::fs::remove_dir_all(&cache).unwrap();
    }
    eprintln!(
        "{} scripts built and checked in {:.1} s",
        zoo.len(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn macs_are_within_5_percent_of_the_published_figures() {
    let mut report = Vec::new();
    assert_eq!(
        zoo().iter().filter(|e| e.gmacs.is_some()).count(),
        GMACS.len(),
        "a GMACS entry names no corpus script"
    );
    for e in zoo() {
        let Some((gmacs, args)) = e.gmacs else {
            continue;
        };
        let d = discover_with(&e.script, args);
        let g = &d.builds[0].graph;
        let got = macs(g) as f64 / 1e9;
        let flops = g.stats().flops as f64 / 1e9;
        let err = got / gmacs - 1.0;
        report.push(format!(
            "{:<48} {got:8.3} GMACs vs {gmacs:8.3} published ({:+.2}%); IR FLOPs {flops:.3} G = {:.3} x MACs",
            e.script,
            100.0 * err,
            flops / got
        ));
        assert!(
            err.abs() < 0.05,
            "{}: {got:.3} GMACs is {:+.1}% off the published {gmacs}",
            e.script,
            100.0 * err
        );
    }
    eprintln!("{}", report.join("\n"));
}

/// Buffers PyTorch keeps in a state_dict that an inference graph never
/// reads as weights: BatchNorm's step counter (training only); Swin's
/// relative position index and V2's coordinate table, fixed functions of
/// the window size that the graph computes from it; EfficientFormer's
/// attention bias index, likewise a function of its 7x7 token grid.
const EXPECTED_ABSENT: &[&str] = &[
    "num_batches_tracked",
    "relative_position_index",
    "relative_coords_table",
    "attention_bias_idxs",
];

/// Every zoo build's initializers are the reference implementation's
/// state_dict: the same names, the same shapes, tied weights once under
/// their first name (tests/data/reference/*.json, written by
/// scripts/reference_names.py from torchvision, transformers and
/// torch_geometric).
#[test]
fn every_script_names_its_weights_as_the_reference_state_dict() {
    let models = reference_tables();
    let mut failures = Vec::new();
    for e in zoo() {
        let reference = models
            .get(&e.script)
            .unwrap_or_else(|| panic!("{}: not in tests/data/reference/", e.script));
        let pairs = |key: &str| -> Vec<(String, Vec<usize>)> {
            reference[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let shape = p[1].as_array().unwrap();
                    let shape = shape.iter().map(|d| d.as_u64().unwrap() as usize);
                    (p[0].as_str().unwrap().to_string(), shape.collect())
                })
                .collect()
        };
        let mut want = pairs("parameters");
        want.extend(
            pairs("buffers")
                .into_iter()
                .filter(|(n, _)| !EXPECTED_ABSENT.iter().any(|a| n.ends_with(a))),
        );
        assert_eq!(
            reference["num_parameters"].as_u64(),
            Some(e.params),
            "{}: the reference's parameter count",
            e.script
        );
        let d = discover_with(&e.script, "");
        let got: Vec<(String, Vec<usize>)> = d.builds[0]
            .graph
            .params
            .iter()
            .map(|p| (p.name.clone(), p.info.shape.clone()))
            .collect();
        let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
        let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
        if !missing.is_empty() || !extra.is_empty() || got.len() != want.len() {
            failures.push(format!(
                "{}: {} initializers, reference {}; missing {:?}; not in the reference {:?}",
                e.script,
                got.len(),
                want.len(),
                &missing[..missing.len().min(6)],
                &extra[..extra.len().min(6)],
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Runs `scripts` on ort and tract with 3 iterations (tests/common).
fn agree_on_ort_and_tract(scripts: &[&str], script_args: &str) {
    common::agree_on_ort_and_tract(scripts, script_args, "3");
}

#[test]
fn one_model_per_family_agrees_on_ort_and_tract() {
    // Vision at 64x64: residual blocks; squeeze-excitation, hardswish and
    // depthwise convs; ceil-mode pooling and Fire concatenations; Swin's
    // padded, rolled and masked windows (16x16 tokens in 7x7 windows).
    agree_on_ort_and_tract(
        &[
            "models/torchvision/resnet18.rhai",
            "models/torchvision/mobilenet_v3_small.rhai",
            "models/torchvision/squeezenet1_1.rhai",
            "models/torchvision/swin_t.rhai",
        ],
        "--height 64 --width 64",
    );
    // T5 at 16 tokens: RMSNorm, relative position buckets, causal mask,
    // cross-attention, the tied LM head.
    agree_on_ort_and_tract(
        &["models/transformers/t5_small.rhai"],
        "--max_seq_length 16",
    );
    // A GCN over a Cora-sized random graph.
    agree_on_ort_and_tract(&["models/graph_convolutions/gcn.rhai"], "");
    // The PTB LSTM language model (a 2-layer LSTM with carried states) and
    // the GRU greedy decoder (argmax tokens fed back for 10 steps).
    agree_on_ort_and_tract(
        &["models/recurrent/lstm_lm_ptb_medium.rhai"],
        "--max_seq_length 16 --batch_size 2",
    );
    agree_on_ort_and_tract(
        &["models/recurrent/gru_greedy_decoder.rhai"],
        "--batch_size 2",
    );
    // The small SD-style UNet on 8x8 latents: group norms, timestep
    // embedding, self- and cross-attention, GEGLU, nearest upsampling.
    agree_on_ort_and_tract(
        &["models/diffusers/unet_block.rhai"],
        "--height 64 --width 64 --batch_size 2",
    );
    // The tiny Llama: RMSNorm, graph-computed RoPE, grouped-query
    // attention, SwiGLU, causal and padding masks.
    agree_on_ort_and_tract(
        &["models/llm/llama_tiny.rhai"],
        "--max_seq_length 16 --batch_size 2",
    );
    // A tiny config of each decoder family of stdlib/transformers_<family>.rhai:
    // partial rotary, fused qkv, soft-capping and alternating windows,
    // learned positions, multi-query and grouped fused qkv, TopK-routed
    // experts gathered per token.
    agree_on_ort_and_tract(
        &[
            "tests/data/llm/phi_tiny.rhai",
            "tests/data/llm/phi3_tiny.rhai",
            "tests/data/llm/gemma_tiny.rhai",
            "tests/data/llm/gemma2_tiny.rhai",
            "tests/data/llm/gpt_neox_tiny.rhai",
            "tests/data/llm/opt_post_norm_tiny.rhai",
            "tests/data/llm/falcon_new_arch_tiny.rhai",
            "tests/data/llm/mixtral_tiny.rhai",
        ],
        "--max_seq_length 16 --batch_size 2",
    );
    // ELECTRA's projected embeddings, a from_config MiniLM, BART's
    // post-norm seq2seq with final_logits_bias, the whole Whisper-tiny.
    agree_on_ort_and_tract(
        &[
            "models/transformers/electra_small_discriminator.rhai",
            "models/transformers/paraphrase_minilm_l3_v2.rhai",
            "models/transformers/bart_base.rhai",
            "models/transformers/whisper_tiny.rhai",
        ],
        "--max_seq_length 16",
    );
}

/// The recurrent scripts export one ONNX LSTM/GRU node per layer (and
/// per decoding step), as PyTorch's exporter writes nn.LSTM/nn.GRU, never
/// an unrolled cell.
#[test]
fn recurrent_scripts_export_one_node_per_layer() {
    for (script, op, layers) in [
        ("models/recurrent/lstm_lm_ptb_medium.rhai", "LSTM", 2),
        // The encoder's GRU and the decoder's at each of its 10 steps.
        ("models/recurrent/gru_greedy_decoder.rhai", "GRU", 11),
    ] {
        let d = discover_with(script, "--max_seq_length 8");
        let m = turnkey::onnx::export_model(&d.builds[0].graph, &Default::default()).unwrap();
        let ops: Vec<String> = m
            .graph
            .unwrap()
            .node
            .into_iter()
            .map(|n| n.op_type)
            .collect();
        assert_eq!(
            ops.iter().filter(|o| *o == op).count(),
            layers,
            "{script}: {ops:?}"
        );
        for cell in ["Sigmoid", "Tanh", "Mul"] {
            assert!(!ops.iter().any(|o| o == cell), "{script}: {ops:?}");
        }
    }
}

/// The whole corpus on both runtimes at small inputs (several minutes):
/// `cargo test --release --test zoo -- --ignored`.
#[test]
#[ignore]
fn every_script_agrees_on_ort_and_tract() {
    let files = corpus_files();
    let of = |fam: &str| -> Vec<&str> {
        files
            .iter()
            .filter(|f| f.starts_with(&format!("models/{fam}/")))
            .map(String::as_str)
            .collect()
    };
    // Small inputs per corpus; a corpus not named here runs at its defaults.
    let args = |corpus: &str| match corpus {
        "torchvision" | "torch_hub" | "timm" | "diffusers" => "--height 64 --width 64",
        "transformers" => "--max_seq_length 16",
        "recurrent" => "--max_seq_length 16 --batch_size 2",
        _ => "",
    };
    let mut corpora: Vec<&str> = files
        .iter()
        .map(|f| f.split('/').nth(1).unwrap())
        .filter(|c| *c != "llm")
        .collect();
    corpora.dedup();
    for c in corpora {
        agree_on_ort_and_tract(&of(c), args(c));
    }
    // Not the tied-head Qwen2-0.5B and Llama-3.2-1B: turnkey's N(0, 1)
    // embeddings make their logits large (Qwen2's: std 30, max 732), and at
    // 16 tokens 2 of 2.4 M (Qwen2; largest difference 8.5e-4, 1.2e-6 of
    // the max) and 71 of 2.1 M (Llama-3.2; 3.4e-3, at position 0 too, where
    // attention and RoPE are trivial) logits near zero differ between ort
    // and tract by more than 1e-4 + 1e-3 * |x|: float32 rounding over many
    // layers. Their tiny variants (tests/data/llm) agree to 1.5e-5 and less.
    // Nor any LLM over the export limit (the 7B-405B models; their tiny
    // family variants run in one_model_per_family_agrees_on_ort_and_tract).
    let small: Vec<String> = zoo()
        .into_iter()
        .filter(|e| e.params * 4 <= EXPORT_LIMIT_BYTES)
        .map(|e| e.script)
        .collect();
    let llm: Vec<&str> = of("llm")
        .into_iter()
        .filter(|s| {
            !s.ends_with("mistral_7b_v0_1.rhai")
                && !s.ends_with("qwen2_0_5b.rhai")
                && !s.ends_with("llama_3_2_1b.rhai")
                && small.iter().any(|m| m == s)
        })
        .collect();
    agree_on_ort_and_tract(&llm, "--max_seq_length 16");
}
