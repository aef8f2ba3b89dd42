//! Precision variants (issue #21) on the selftest CNN (a classifier) and
//! transformer: every variant is its own build, made by turnkey's graph
//! rewrite, run on ONNX Runtime and checked against the fp32 build within
//! the expected bands; the exported variants pass onnx's full checker; a
//! re-run finds each one in the cache; the reports carry the speedup next
//! to the accuracy; ONNX files given as input get the same variants, and a
//! runtime that cannot run one says what is missing.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FAST: [&str; 8] = [
    "--iterations",
    "5",
    "--warmup-iterations",
    "1",
    "--warmup-time",
    "0",
    "--min-time",
    "0",
];

/// Prints the relative error and the cosine of a model's outputs (run by
/// onnx.reference on a build's inputs) against that build's ORT outputs:
/// argv = [fp32 build folder, model.onnx].
const BF16_CHECK: &str = "
import sys, glob, numpy as np, onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
def load(d):
    out = []
    for f in sorted(glob.glob(d + '/*.pb')):
        t = onnx.TensorProto(); t.ParseFromString(open(f, 'rb').read())
        out.append((t.name, numpy_helper.to_array(t)))
    return out
b = sys.argv[1]
feed = dict(load(b + '/inputs'))
ref = [v for _, v in load(b + '/outputs/ort-cpu')]
got = ReferenceEvaluator(sys.argv[2]).run(None, feed)
r = np.concatenate([x.ravel().astype(np.float64) for x in ref])
a = np.concatenate([x.ravel().astype(np.float64) for x in got])
print(np.linalg.norm(a - r) / np.linalg.norm(r), r @ a / np.linalg.norm(r) / np.linalg.norm(a))
";

fn bench(cache: &Path, inputs: &[&str], extra: &[&str]) -> Run {
    let mut args = vec!["-d", cache.to_str().unwrap()];
    args.extend_from_slice(inputs);
    args.extend_from_slice(extra);
    args.extend_from_slice(&FAST);
    run(&args)
}

/// (model name, precision label or "" for the fp32 build) -> (folder, record).
fn by_variant(cache: &Path) -> BTreeMap<(String, String), (PathBuf, Value)> {
    builds(cache)
        .into_iter()
        .map(|b| {
            let r = record(&b);
            let name = b.file_name().unwrap().to_string_lossy();
            let model = name.split('_').next().unwrap().to_string();
            let v = r["identity"]["variant"]["precision"]
                .as_str()
                .unwrap_or("")
                .to_string();
            ((model, v), (b, r))
        })
        .collect()
}

fn row<'a>(r: &'a Value, runtime: &str) -> &'a Value {
    r["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["runtime"] == runtime)
        .unwrap_or_else(|| panic!("no {runtime} row in {r}"))
}

#[test]
fn every_precision_of_a_cnn_and_a_transformer_is_its_own_build_checked_against_fp32() {
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let models = [
        "models/selftest/cnn.rhai",
        "models/selftest/transformer.rhai",
    ];
    let opts = [
        "--precision",
        "fp32,fp16,bf16,int8-dynamic,int8-static",
        "--runtime",
        "ort",
    ];
    let r = bench(c, &models, &opts);
    // bf16 cannot run on ONNX Runtime's CPU provider: a failed row, so the
    // exit code says so.
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = by_variant(c);
    assert_eq!(all.len(), 2 * 5, "{:?}", all.keys());

    let mut hashes = std::collections::BTreeSet::new();
    for model in ["cnn", "transformer"] {
        let (fp32_dir, fp32) = &all[&(model.to_string(), String::new())];
        let fp32_name = fp32_dir.file_name().unwrap().to_str().unwrap();
        assert!(fp32["identity"]["variant_of"].is_null());
        for p in ["fp16", "bf16", "int8-dynamic", "int8-static"] {
            let (dir, rec) = &all[&(model.to_string(), p.to_string())];
            let id = &rec["identity"];
            assert_eq!(id["variant_of"], fp32_name, "{model} {p}");
            assert!(hashes.insert(id["hash"].as_str().unwrap().to_string()));
            // Made by our rewrite, valid ONNX for onnx's full checker.
            py(
                "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)",
                &[&dir.join("model.onnx")],
            );
            let ort = row(rec, "ort");
            if p == "bf16" {
                let e = ort["error"].as_str().unwrap();
                assert!(
                    e.contains("bfloat16") && e.contains("Could not find an implementation"),
                    "{e}"
                );
                // Still numerically right: onnx's reference evaluator runs
                // it on the fp32 build's inputs, against ORT's fp32 outputs.
                let (rel, cos): (f64, f64) = {
                    let out = py(BF16_CHECK, &[fp32_dir, &dir.join("model.onnx")]);
                    let v: Vec<f64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
                    (v[0], v[1])
                };
                assert!(
                    cos >= 0.99 && rel < 3e-2,
                    "{model} bf16: rel {rel} cosine {cos}"
                );
                assert!(rel > 1e-4, "{model} bf16 is not float32: {rel}");
                continue;
            }
            assert_eq!(ort["status"], "successful", "{model} {p}: {ort}");
            let a = &ort["accuracy"];
            assert_eq!(a["reference_build"], fp32_name);
            assert_eq!(a["pass"], true, "{model} {p}: {a}");
            assert!(a["speedup"].as_f64().unwrap() > 0.0);
            let (rel, cos) = (
                a["rel_err"].as_f64().unwrap(),
                a["cosine"].as_f64().unwrap(),
            );
            if p == "fp16" {
                assert!(rel < 3e-3, "{model} fp16 relative error {rel}");
                assert!(rel > 1e-6, "{model} fp16 is not float32: {rel}");
            } else {
                assert!(cos >= 0.99, "{model} {p} cosine {cos}");
                assert!(rel > 1e-5, "{model} {p} is not float32: {rel}");
            }
            // Top-1/top-5 for the classifier's [batch, classes] output only.
            assert_eq!(a["top1"].is_number(), model == "cnn", "{model} {p}: {a}");
        }
    }
    // The variants' weights are what they say.
    let dtypes = |m: &str, p: &str| {
        py(
            "import onnx, sys, collections\n\
             m = onnx.load(sys.argv[1])\n\
             c = collections.Counter(onnx.TensorProto.DataType.Name(t.data_type) for t in m.graph.initializer if len(t.dims) >= 2)\n\
             print(','.join(sorted(c)))",
            &[&all[&(m.to_string(), p.to_string())].0.join("model.onnx")],
        )
    };
    assert_eq!(dtypes("cnn", "fp16").trim(), "FLOAT16");
    assert_eq!(dtypes("transformer", "bf16").trim(), "BFLOAT16");
    assert!(dtypes("cnn", "int8-dynamic").contains("INT8"));
    assert!(dtypes("transformer", "int8-static").contains("INT8"));

    // A re-run finds every variant in the cache and rebuilds nothing.
    let again = bench(c, &models, &opts);
    let said = format!("{}{}", again.stdout, again.stderr);
    assert_eq!(said.matches(" variant of ").count(), 8, "{said}");
    assert_eq!(
        said.matches("(found in cache, not rebuilt)").count(),
        10,
        "{said}"
    );
    // Successful rows are not measured again either (bf16's failed rows are).
    assert_eq!(said.matches("[cached]").count(), 8, "{said}");
    assert_eq!(by_variant(c).len(), 10);

    // The reports show the speedup next to the accuracy cost.
    let out = tempfile::tempdir().unwrap();
    let rep = run(&[
        "report",
        "-d",
        c.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let mut csv = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    let int8: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[col("variant")] == "int8-dynamic")
        .collect();
    assert_eq!(int8.len(), 2, "{rows:?}");
    for r in int8 {
        assert!(r[col("variant_of")].starts_with(&r[col("build")][..3]));
        assert!(r[col("speedup_vs_fp32")].parse::<f64>().unwrap() > 0.0);
        assert!(r[col("cosine")].parse::<f64>().unwrap() >= 0.99);
    }
    let json = std::fs::read_to_string(out.path().join("turnkey-report.json")).unwrap();
    assert!(json.contains("\"speedup_vs_fp32\"") && json.contains("\"top1_agreement\""));
    let html = std::fs::read_to_string(out.path().join("turnkey-report.html")).unwrap();
    assert!(html.contains("accuracy vs fp32"), "HTML summary columns");
    assert!(
        again.stdout.contains("accuracy vs fp32"),
        "{}",
        again.stdout
    );
}

#[test]
fn an_onnx_file_gets_the_same_variants_and_ort_optimized_models() {
    // The fp32 export of the selftest CNN, given as an ONNX file.
    let src = tempfile::tempdir().unwrap();
    let r = run(&[
        "-d",
        src.path().to_str().unwrap(),
        "models/selftest/cnn.rhai",
        "--build-only",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let onnx = src.path().join("smallcnn.onnx");
    std::fs::copy(builds(src.path())[0].join("model.onnx"), &onnx).unwrap();

    let cache = tempfile::tempdir().unwrap();
    let c = cache.path();
    let r = bench(
        c,
        &[onnx.to_str().unwrap()],
        &[
            "--precision",
            "fp32,fp16,int8-dynamic,int8-static",
            "--ort-opt-level",
            "default,all",
            "--runtime",
            "ort,tract",
        ],
    );
    // tract cannot load ONNX Runtime's fused operators.
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let recs: Vec<(PathBuf, Value)> = builds(c)
        .into_iter()
        .map(|b| (b.clone(), record(&b)))
        .collect();
    assert_eq!(recs.len(), 8, "fp32 + 3 precisions, each also at level all");
    for (dir, rec) in &recs {
        let v = &rec["identity"]["variant"];
        let ort = row(rec, "ort");
        assert_eq!(ort["status"], "successful", "{}: {ort}", dir.display());
        if v.is_null() {
            continue;
        }
        let a = &ort["accuracy"];
        assert!(
            a["cosine"].as_f64().unwrap() >= 0.99,
            "{}: {a}",
            dir.display()
        );
        let tract = row(rec, "tract");
        if v["ort_opt_level"] == "all" {
            // The model ONNX Runtime saved, with its own fused operators.
            let e = tract["error"].as_str().unwrap();
            assert!(e.contains("com.microsoft"), "{e}");
            assert!(e.contains("outside standard ONNX"), "{e}");
        } else if v["precision"].as_str().unwrap().starts_with("int8") {
            // tract has int8 kernels for these.
            assert_eq!(tract["status"], "successful", "{}: {tract}", dir.display());
            assert!(tract["accuracy"]["cosine"].as_f64().unwrap() >= 0.99);
        }
    }
}

#[test]
fn a_variant_below_the_cosine_threshold_is_a_mismatch_and_fails_the_run() {
    let cache = tempfile::tempdir().unwrap();
    let r = bench(
        cache.path(),
        &["models/selftest/linear.rhai"],
        &[
            "--precision",
            "int8-dynamic",
            "--runtime",
            "ort",
            "--min-cosine",
            "0.9999999",
        ],
    );
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = by_variant(cache.path());
    let (_, rec) = &all[&("linear".to_string(), "int8-dynamic".to_string())];
    let ort = row(rec, "ort");
    assert_eq!(ort["status"], "mismatch", "{ort}");
    assert_eq!(ort["accuracy"]["pass"], false);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("below 0.9999999"), "{said}");
}

#[test]
fn tract_says_what_it_lacks_for_a_variant_and_runs_the_int8_ones() {
    let cache = tempfile::tempdir().unwrap();
    let r = bench(
        cache.path(),
        &["models/selftest/linear.rhai"],
        &[
            "--precision",
            "fp16,bf16,int8-dynamic,int8-static",
            "--runtime",
            "tract",
        ],
    );
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = by_variant(cache.path());
    let tract = |p: &str| row(&all[&("linear".to_string(), p.to_string())].1, "tract").clone();
    let e = tract("bf16")["error"].as_str().unwrap().to_string();
    assert!(e.contains("tract has no bfloat16 type"), "{e}");
    let e = tract("fp16")["error"].as_str().unwrap().to_string();
    assert!(
        e.contains("tract's Gemm does not compute in float16"),
        "{e}"
    );
    for p in ["int8-dynamic", "int8-static"] {
        let t = tract(p);
        assert_eq!(t["status"], "successful", "{t}");
        assert!(t["accuracy"]["cosine"].as_f64().unwrap() >= 0.99, "{t}");
    }
}

#[test]
fn int8_static_calibrates_on_test_data_sets_or_random_batches() {
    // An ONNX model-zoo folder: model.onnx and two test data sets.
    let src = tempfile::tempdir().unwrap();
    let r = run(&[
        "-d",
        src.path().to_str().unwrap(),
        "models/selftest/cnn.rhai",
        "--build-only",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let zoo = src.path().join("smallcnn");
    std::fs::create_dir(&zoo).unwrap();
    std::fs::copy(
        builds(src.path())[0].join("model.onnx"),
        zoo.join("model.onnx"),
    )
    .unwrap();
    py(
        "import numpy as np, os, sys\n\
         from onnx import numpy_helper\n\
         for k in range(2):\n\
         \x20   d = os.path.join(sys.argv[1], f'test_data_set_{k}'); os.makedirs(d)\n\
         \x20   x = np.random.default_rng(k).random((1, 3, 224, 224), dtype=np.float32)\n\
         \x20   open(d + '/input_0.pb', 'wb').write(numpy_helper.from_array(x, 'input').SerializeToString())\n",
        &[&zoo],
    );
    let calibration = |inputs: &str, batches: &str| {
        let cache = tempfile::tempdir().unwrap();
        let r = bench(
            cache.path(),
            &[inputs],
            &[
                "--precision",
                "int8-static",
                "--calibration-batches",
                batches,
                "--runtime",
                "ort",
            ],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let b = builds(cache.path());
        let v = b
            .iter()
            .map(|b| record(b))
            .find(|r| !r["identity"]["variant"].is_null())
            .unwrap();
        assert_eq!(row(&v, "ort")["status"], "successful");
        v["identity"]["variant"]["calibration"]["sources"].clone()
    };
    // The build's own data (test_data_set_0) and the other set; no random
    // data mixed into real data.
    let zoo_model = zoo.join("model.onnx");
    assert_eq!(
        calibration(zoo_model.to_str().unwrap(), "4"),
        serde_json::json!(["inputs", "test_data_set_1"])
    );
    // A script's random inputs, then more random batches.
    assert_eq!(
        calibration("models/selftest/linear.rhai", "3"),
        serde_json::json!(["inputs", "random (seed 7919)", "random (seed 15838)"])
    );
}

#[test]
fn an_ort_optimized_transformer_holds_ort_transformer_fusions() {
    let cache = tempfile::tempdir().unwrap();
    let r = bench(
        cache.path(),
        &["models/selftest/transformer.rhai"],
        &["--ort-opt-level", "basic,all", "--runtime", "ort"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ops = |level: &str| {
        let b = builds(cache.path())
            .into_iter()
            .find(|b| record(b)["identity"]["variant"]["ort_opt_level"] == level)
            .unwrap();
        let rec = record(&b);
        assert!(row(&rec, "ort")["accuracy"]["cosine"].as_f64().unwrap() > 0.9999);
        py(
            "import onnx, sys\n\
             m = onnx.load(sys.argv[1])\n\
             print(' '.join(sorted({f'{n.domain}:{n.op_type}' for n in m.graph.node if n.domain})))",
            &[&b.join("model.onnx")],
        )
    };
    // Layer norms with their residual add, and GELU: ORT's own fused ops.
    let all = ops("all");
    assert!(
        all.contains("com.microsoft:SkipLayerNormalization"),
        "{all}"
    );
    assert!(all.contains("com.microsoft:Gelu"), "{all}");
    // basic folds constants but keeps standard ONNX.
    assert_eq!(ops("basic").trim(), "");
}
