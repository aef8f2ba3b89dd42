//! ONNX files as inputs, end to end on the real binary: files made by the
//! Python `onnx` package (dynamic axes, many dtypes, external data) run on
//! ort and tract; `--axis`/`--shape`; `onnx::load` in scripts; manifests
//! (sha256, models folder, expected failures, unknown keys); folders,
//! lists and label filters.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Writes the test models into `dir` with the project's Python.
fn make_models(dir: &Path) {
    py(
        r#"
import os, sys, numpy as np, onnx
from onnx import helper, TensorProto as T, numpy_helper
d = sys.argv[1]
rng = np.random.default_rng(0)
def save(m, path, **kw):
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path, **kw)
def model(nodes, ins, outs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", ins, outs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
vi = helper.make_tensor_value_info

# Two inputs sharing the dynamic axis batch_size.
w = numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w")
zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
save(model([helper.make_node("Where", ["mask", "x", "zero"], ["h"]),
            helper.make_node("MatMul", ["h", "w"], ["y"])],
           [vi("x", T.FLOAT, ["batch_size", 16]), vi("mask", T.BOOL, ["batch_size", 16])],
           [vi("y", T.FLOAT, ["batch_size", 4])], [w, zero]), f"{d}/dyn.onnx")

# One model per input dtype: cast to float, scale.
for name, t in [("float32", T.FLOAT), ("float16", T.FLOAT16), ("bfloat16", T.BFLOAT16),
                ("float64", T.DOUBLE), ("int8", T.INT8), ("int16", T.INT16), ("int32", T.INT32),
                ("int64", T.INT64), ("uint8", T.UINT8), ("bool", T.BOOL)]:
    two = numpy_helper.from_array(np.full((), 2.0, np.float32), "two")
    save(model([helper.make_node("Cast", ["a"], ["f"], to=T.FLOAT),
                helper.make_node("Mul", ["f", "two"], ["y"])],
               [vi("a", t, [2, "n"])], [vi("y", T.FLOAT, [2, "n"])], [two]),
         f"{d}/types/{name}.onnx")

# The types only ONNX files carry: cast to float (opsets where Cast takes them).
for name, t, opset in [("uint16", T.UINT16, 17), ("uint32", T.UINT32, 17), ("uint64", T.UINT64, 17),
                       ("float8e4m3fn", T.FLOAT8E4M3FN, 21), ("float8e4m3fnuz", T.FLOAT8E4M3FNUZ, 21),
                       ("float8e5m2", T.FLOAT8E5M2, 21), ("float8e5m2fnuz", T.FLOAT8E5M2FNUZ, 21),
                       ("float8e8m0", T.FLOAT8E8M0, 25), ("uint4", T.UINT4, 21), ("int4", T.INT4, 21),
                       ("uint2", T.UINT2, 25), ("int2", T.INT2, 25)]:
    m = model([helper.make_node("Cast", ["a"], ["y"], to=T.FLOAT)],
              [vi("a", t, [2, "n"])], [vi("y", T.FLOAT, [2, "n"])], opset=opset)
    m.ir_version = 11
    onnx.checker.check_model(m, full_check=True)
    os.makedirs(f"{d}/file_types", exist_ok=True)
    onnx.save(m, f"{d}/file_types/{name}.onnx")

# Token ids over two named axes into an embedding.
emb = numpy_helper.from_array(rng.standard_normal((50, 8)).astype(np.float32), "emb")
save(model([helper.make_node("Gather", ["emb", "ids"], ["y"])],
           [vi("ids", T.INT64, ["batch", "seq"])], [vi("y", T.FLOAT, ["batch", "seq", 8])], [emb]),
     f"{d}/seq.onnx")

# An axis without a name.
save(model([helper.make_node("Relu", ["x"], ["y"])],
           [vi("x", T.FLOAT, [None, 4])], [vi("y", T.FLOAT, [None, 4])]), f"{d}/unnamed.onnx")

# Weights in an external file, in a subfolder.
w1 = numpy_helper.from_array(rng.standard_normal((16, 64)).astype(np.float32), "w1")
w2 = numpy_helper.from_array(rng.standard_normal((64, 4)).astype(np.float32), "w2")
m = model([helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
           helper.make_node("MatMul", ["r", "w2"], ["y"])],
          [vi("x", T.FLOAT, ["batch_size", 16])], [vi("y", T.FLOAT, ["batch_size", 4])], [w1, w2])
os.makedirs(f"{d}/ext/data", exist_ok=True)
save(m, f"{d}/ext/model_ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
     location="data/weights.bin", size_threshold=0)
m = onnx.load(f"{d}/ext/model_ext.onnx", load_external_data=False)
os.makedirs(f"{d}/ext_missing", exist_ok=True)
onnx.save(m, f"{d}/ext_missing/broken.onnx")

# A fixed-shape model.
save(model([helper.make_node("Relu", ["x"], ["y"])],
           [vi("x", T.FLOAT, [1, 8])], [vi("y", T.FLOAT, [1, 8])]), f"{d}/fixed.onnx")
"#,
        &[dir],
    );
}

fn models() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("m");
    make_models(&d);
    (t, d)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The records of a cache, by build name.
fn records(cache: &Path) -> Vec<Value> {
    builds(cache)
        .iter()
        .filter(|b| b.join("record.json").exists())
        .map(|b| record(b))
        .collect()
}

fn row<'a>(rec: &'a Value, rt: &str) -> &'a Value {
    rec["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runtime"] == rt)
        .unwrap_or_else(|| panic!("no {rt} row in {rec}"))
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect()
}

const FAST: [&str; 6] = [
    "--iterations",
    "3",
    "--warmup-iterations",
    "1",
    "--warmup-time",
    "0",
];

/// turnkey on every model of `folder`, on ort and tract, with `--axis axis`.
fn run_folder_on_ort_and_tract(cache: &Path, folder: &Path, axis: &str) -> Run {
    let mut args = vec!["-d", cache.to_str().unwrap(), "--runtime", "ort,tract"];
    args.extend(["--axis", axis, folder.to_str().unwrap()]);
    args.extend(FAST);
    run(&args)
}

#[test]
fn every_dtype_runs_on_ort_and_on_tract_where_tract_has_it() {
    let (_t, m) = models();
    let cache = tempfile::tempdir().unwrap();
    let r = run_folder_on_ort_and_tract(cache.path(), &m.join("types"), "n=3");
    // tract has no bfloat16: that row fails, so the run does.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let recs = records(cache.path());
    assert_eq!(recs.len(), 10, "one build per file");
    for rec in &recs {
        let id = &rec["identity"];
        let dtype = id["inputs"][0]["dtype"].as_str().unwrap().to_string();
        assert!(id["name"].as_str().unwrap().starts_with(&dtype), "{id}");
        assert_eq!(id["inputs"][0]["shape"], serde_json::json!([2, 3]));
        assert_eq!(id["input_source"], "random");
        assert_eq!(id["bindings"], "n=3");
        assert_eq!(id["file_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(row(rec, "ort")["status"], "successful", "{dtype}: {rec}");
        let tract = row(rec, "tract");
        if dtype == "bfloat16" {
            assert_eq!(tract["status"], "error", "{rec}");
            assert!(
                tract["error"].as_str().unwrap().contains("bfloat16"),
                "{tract}"
            );
        } else {
            assert_eq!(tract["status"], "successful", "{dtype}: {rec}");
            assert_eq!(tract["check"]["status"], "passed", "{dtype}: {rec}");
        }
    }
    // The identity is the file's sha256: Python agrees.
    let sha = py(
        "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        &[&m.join("types/int8.onnx")],
    );
    assert!(
        recs.iter()
            .any(|r| r["identity"]["file_sha256"] == sha.trim()),
        "{sha}"
    );
}

#[test]
fn onnx_only_types_run_on_ort_and_fail_cleanly_where_tract_lacks_them() {
    let (_t, m) = models();
    let cache = tempfile::tempdir().unwrap();
    let r = run_folder_on_ort_and_tract(cache.path(), &m.join("file_types"), "n=5");
    assert_eq!(r.code, 1, "tract rows fail: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let recs = records(cache.path());
    assert_eq!(recs.len(), 12, "one build per file");
    for rec in &recs {
        let dtype = rec["identity"]["inputs"][0]["dtype"].as_str().unwrap();
        assert_eq!(row(rec, "ort")["status"], "successful", "{dtype}: {rec}");
        let tract = row(rec, "tract");
        if ["uint16", "uint32", "uint64"].contains(&dtype) {
            assert_eq!(tract["status"], "successful", "{dtype}: {rec}");
            assert_eq!(tract["check"]["status"], "passed", "{dtype}: {rec}");
        } else {
            assert_eq!(tract["status"], "error", "{dtype}: {rec}");
            let e = tract["error"].as_str().unwrap();
            assert!(e.contains(dtype) || e.contains("tract"), "{dtype}: {e}");
        }
    }
}

#[test]
fn dynamic_axes_are_bound_by_axis_and_shape() {
    let (_t, m) = models();
    let cache = tempfile::tempdir().unwrap();
    let d = s(cache.path());
    let dyn_ = s(&m.join("dyn.onnx"));
    let bench = |extra: &[&str]| {
        let mut a = vec!["-d", &d, "--runtime", "ort,tract"];
        a.extend(FAST);
        a.extend(extra);
        run(&a)
    };

    // Unbound: one error line naming the axis and the inputs using it.
    let r = bench(&[&dyn_]);
    assert_eq!(r.code, 1);
    let errs = error_lines(&r.stderr);
    assert_eq!(errs.len(), 1, "{}", r.stderr);
    assert!(
        errs[0].contains("dyn.onnx: dynamic axes not bound: batch_size (input x, mask)")
            && errs[0].contains("--axis"),
        "{}",
        errs[0]
    );

    let r = bench(&["--axis", "batch_size=2", &dyn_]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first: Vec<Value> = records(cache.path())
        .into_iter()
        .filter(|r| {
            r["identity"]["inputs"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    assert_eq!(first.len(), 1, "the failure record was cleared");
    let id = &first[0]["identity"];
    let name = id["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("dyn_"), "{name}");
    assert_eq!(id["inputs"][1]["name"], "mask");
    assert_eq!(id["inputs"][1]["dtype"], "bool");
    assert_eq!(id["inputs"][1]["shape"], serde_json::json!([2, 16]));
    assert_eq!(id["params"], 65, "16x4 weights and a scalar");
    assert_eq!(id["op_counts"]["MatMul"], 1);
    assert_eq!(row(&first[0], "tract")["batch_size"], 2);

    // The same again: found in the cache.
    let r = bench(&["--axis", "batch_size=2", &dyn_]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("found in cache"), "{}", r.stderr);
    assert!(r.stderr.contains("[cached]"), "{}", r.stderr);

    // --shape wins over --axis, and makes a new build.
    let r = bench(&[
        "--axis",
        "batch_size=2",
        "--shape",
        "x=5,16 mask=5,16",
        &dyn_,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(cache.path());
    assert_eq!(recs.len(), 2);
    let five = recs.iter().find(|r| r["identity"]["name"] != name).unwrap();
    assert_eq!(
        five["identity"]["inputs"][0]["shape"],
        serde_json::json!([5, 16])
    );

    // A size against a fixed one, and an axis without a name, are errors.
    let r = bench(&["--shape", "x=2,17", "--axis", "batch_size=2", &dyn_]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("input 'x' has the fixed size 16 on axis 1, but 17 was asked for"),
        "{}",
        r.stderr
    );
    let r = bench(&[&s(&m.join("unnamed.onnx"))]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("input 'x' axis 0") && r.stderr.contains("--shape x="),
        "{}",
        r.stderr
    );
    // Two named axes; throughput counts the axis called batch.
    let r = bench(&[
        "--axis",
        "batch=3",
        "--axis",
        "seq=7",
        &s(&m.join("seq.onnx")),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seq = records(cache.path())
        .into_iter()
        .find(|r| r["identity"]["name"].as_str().unwrap().starts_with("seq_"))
        .unwrap();
    assert_eq!(
        seq["identity"]["inputs"][0]["shape"],
        serde_json::json!([3, 7])
    );
    assert_eq!(row(&seq, "ort")["batch_size"], 3);

    // `turnkey report` reads ONNX builds like script builds.
    let out = tempfile::tempdir().unwrap();
    let rep = run(&["report", "-d", &d, "-o", &s(out.path())]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let csv = std::fs::read_to_string(out.path().join("turnkey-report.csv")).unwrap();
    assert!(csv.contains("x:float32[2,16]"), "{csv}");
    assert!(csv.contains(&name), "{csv}");
}

#[test]
fn external_data_travels_with_the_model() {
    let (_t, m) = models();
    let cache = tempfile::tempdir().unwrap();
    let d = s(cache.path());
    let mut a = vec!["-d", &d, "--runtime", "ort,tract", "--axis", "batch_size=4"];
    a.extend(FAST);
    let model = s(&m.join("ext/model_ext.onnx"));
    a.push(&model);
    let r = run(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &builds(cache.path())[0];
    assert!(b.join("model.onnx").is_file());
    assert_eq!(
        std::fs::metadata(b.join("data/weights.bin")).unwrap().len(),
        (16 * 64 + 64 * 4) * 4
    );
    let rec = record(b);
    assert_eq!(row(&rec, "tract")["check"]["status"], "passed", "{rec}");
    assert_eq!(rec["identity"]["params"], 16 * 64 + 64 * 4);

    // Weights that are not there: an error naming the file, no crash.
    let r = run(&[
        "-d",
        &d,
        "--axis",
        "batch_size=4",
        &s(&m.join("ext_missing/broken.onnx")),
    ]);
    assert_eq!(r.code, 1);
    let errs = error_lines(&r.stderr);
    assert_eq!(errs.len(), 1, "{}", r.stderr);
    assert!(
        errs[0].contains("broken.onnx") && errs[0].contains("data/weights.bin"),
        "{}",
        errs[0]
    );
}

#[test]
fn onnx_load_in_a_script_is_a_build_fed_by_the_script() {
    let (_t, m) = models();
    let cache = tempfile::tempdir().unwrap();
    let script = m.join("uses_onnx.rhai");
    std::fs::write(
        &script,
        r#"# labels: author::me task::test
//! Loads an ONNX file and feeds its output to a script model.
let m = onnx::load("dyn.onnx");
let mask = ones([3, 16], "bool");
let y = m.forward(#{ x: rand([3, 16]), mask: mask });
m.forward(#{ x: rand([3, 16]), mask: mask });
let head = nn::linear(4, 2);
head.forward(y);
"#,
    )
    .unwrap();
    let d = s(cache.path());
    let mut a = vec!["-d", &d, "--runtime", "ort,tract"];
    a.extend(FAST);
    let sp = s(&script);
    a.push(&sp);
    let r = run(&a);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let recs = records(cache.path());
    assert_eq!(recs.len(), 2, "the ONNX call and the linear head");
    let onnx = recs
        .iter()
        .find(|r| {
            r["identity"]["name"]
                .as_str()
                .unwrap()
                .starts_with("dyn_me_")
        })
        .unwrap_or_else(|| panic!("{recs:?}"));
    let id = &onnx["identity"];
    assert_eq!(id["input_source"], "script");
    assert_eq!(id["executions"], 2);
    assert_eq!(id["labels"]["task"], serde_json::json!(["test"]));
    assert!(
        id["location"]
            .as_str()
            .unwrap()
            .ends_with("uses_onnx.rhai:5"),
        "{id}"
    );
    assert_eq!(id["inputs"][0]["shape"], serde_json::json!([3, 16]));
    assert_eq!(row(onnx, "tract")["check"]["status"], "passed");
    let head = recs.iter().find(|r| r != &onnx).unwrap();
    assert_eq!(
        head["identity"]["inputs"][0]["shape"],
        serde_json::json!([3, 4])
    );

    // Errors name the script line.
    for (text, want) in [
        (
            "let m = onnx::load(\"nope.onnx\");\nm.forward(rand([1, 4]));\n",
            "bad.rhai:1: onnx::load(\"nope.onnx\"): no such file: looked for",
        ),
        (
            "let m = onnx::load(\"dyn.onnx\");\nm.forward(#{ x: rand([2, 16]) });\n",
            "bad.rhai:2: ",
        ),
        (
            "let o = onnx::load(\"fixed.onnx\");\nlet w = nn::module(\"W\", |x| o.forward(x));\nw.forward(rand([1, 8]));\n",
            "cannot be called inside another model's forward",
        ),
    ] {
        let bad = m.join("bad.rhai");
        std::fs::write(&bad, text).unwrap();
        let r = run(&["--build-only", "-d", &d, &s(&bad)]);
        assert_eq!(r.code, 1, "{text}");
        let errs = error_lines(&r.stderr);
        assert_eq!(errs.len(), 1, "{}", r.stderr);
        assert!(errs[0].contains(want), "{want}: {}", errs[0]);
    }
    let bad = m.join("bad.rhai");
    std::fs::write(
        &bad,
        "let m = onnx::load(\"dyn.onnx\");\nm.forward(#{ x: rand([2, 16]) });\n",
    )
    .unwrap();
    let r = run(&["--build-only", "-d", &d, &s(&bad)]);
    assert!(
        r.stderr.contains("input 'mask'") && r.stderr.contains("is not given"),
        "{}",
        r.stderr
    );
}

#[test]
fn manifests_check_files_and_expect_failures() {
    let (_t, m) = models();
    let root = m.parent().unwrap();
    let zoo = root.join("zoo");
    std::fs::create_dir_all(zoo.join("oss/fixed@1")).unwrap();
    std::fs::copy(m.join("fixed.onnx"), zoo.join("oss/fixed@1/model.onnx")).unwrap();
    let sha = py(
        "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        &[&m.join("fixed.onnx")],
    );
    let sha = sha.trim();
    std::fs::write(
        m.join("ok.rhai"),
        "let l = nn::linear(4, 4);\nl.forward(rand([1, 4]));\n",
    )
    .unwrap();
    let bad_sha = "0".repeat(64);
    let manifest = root.join("corpora/t.toml");
    std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
    std::fs::write(
        &manifest,
        format!(
            r#"name = "t"
runtimes = ["ort"]
[defaults]
atol = 1e-4

[[onnx]]
name = "fixed"
set = "oss"
version = 1
sha256 = "{sha}"
atol = 1e-4

[[onnx]]
name = "badsha"
path = "../m/fixed.onnx"
sha256 = "{bad_sha}"

[[onnx]]
name = "gone"
set = "oss"
version = 2

[[onnx]]
name = "needs-axis"
path = "../m/dyn.onnx"
expected_failure = "dynamic axes not bound: batch_size"

[[script]]
path = "../m/ok.rhai"
expected_failure = "this never happens"
"#
        ),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let d = s(cache.path());
    let go = |target: &Path| {
        let mut c = turnkey();
        c.env("TURNKEY_MODELS_DIR", &zoo)
            .args(["-d", &d])
            .args(FAST)
            .arg(target);
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = go(&manifest);
    assert_eq!(code, 1, "{err}");
    let mp = s(&manifest);
    // The override equal to the default is a warning with its line.
    assert!(
        err.contains(&format!(
            "warning: {mp}:11: atol is the same as in [defaults]"
        )),
        "{err}"
    );
    // sha256 mismatch: both hashes, and the file is never used.
    assert!(
        err.contains(&format!("the manifest says {bad_sha}, the file has {sha}")),
        "{err}"
    );
    // The missing file says where it was looked for.
    assert!(
        err.contains(&format!(
            "{mp}:18: [[onnx]] 'gone': model file not found: looked for {}",
            zoo.join("oss/gone@2/model.onnx").display()
        )),
        "{err}"
    );
    // The expected failure is not a failure; the unexpected pass is.
    let (failures, expected) = err
        .split_once("failure(s):")
        .map(|_| {
            let exp = err.split("expected failure(s):").nth(1).unwrap_or("");
            let fail = err.rsplit(" failure(s):").next().unwrap_or("");
            (fail.to_string(), exp.to_string())
        })
        .unwrap();
    assert!(expected.contains("dynamic axes not bound"), "{err}");
    assert!(!failures.contains("dynamic axes not bound"), "{failures}");
    assert!(
        failures.contains("passed, but the manifest expects it to fail"),
        "{failures}"
    );
    assert!(
        failures.contains("sha256 mismatch") && failures.contains("gone"),
        "{failures}"
    );

    let recs = records(cache.path());
    let by = |prefix: &str| {
        recs.iter()
            .find(|r| r["identity"]["name"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} build in {recs:?}"))
    };
    assert_eq!(row(by("fixed_"), "ort")["status"], "successful");
    assert_eq!(
        by("fixed_")["identity"]["labels"]["corpus"],
        serde_json::json!(["t"])
    );
    let bad = by("badsha_onnx_");
    assert_eq!(bad["stages"]["discover"]["status"], "error");
    assert!(!builds(cache.path()).iter().any(|b| {
        b.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("badsha")
            && b.join("model.onnx").exists()
    }));
    assert_eq!(by("gone_entry_")["stages"]["discover"]["status"], "error");
    assert_eq!(
        by("needs-axis_onnx_")["identity"]["expected_failure"],
        "dynamic axes not bound: batch_size"
    );
    let ok = by("ok_");
    assert!(
        row(ok, "ort")["expectation"]
            .as_str()
            .unwrap()
            .starts_with("passed unexpectedly"),
        "{ok}"
    );

    // Only expected failures: success.
    let good = root.join("corpora/good.toml");
    std::fs::write(
        &good,
        "name = \"good\"\nruntimes = [\"ort\"]\n[[onnx]]\nname = \"needs-axis\"\npath = \"../m/dyn.onnx\"\nexpected_failure = \"not bound\"\n[[onnx]]\nname = \"fixed\"\npath = \"../m/fixed.onnx\"\n",
    )
    .unwrap();
    let (code, err) = go(&good);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 expected failure(s)"), "{err}");

    // An unknown key: one line with the file and line; nothing of it runs.
    let typo = root.join("corpora/typo.toml");
    std::fs::write(
        &typo,
        "name = \"typo\"\n[[onnx]]\nname = \"x\"\npath = \"../m/fixed.onnx\"\naxis = { b = 1 }\n",
    )
    .unwrap();
    let (code, err) = go(&typo);
    assert_eq!(code, 1);
    let errs = error_lines(&err);
    assert_eq!(errs.len(), 1, "{err}");
    assert!(
        errs[0].contains(&format!("{}:5: unknown key `axis`", typo.display())),
        "{err}"
    );
}

#[test]
fn folders_lists_globs_and_label_filters() {
    let (_t, m) = models();
    let root = m.parent().unwrap();
    let dir = root.join("mixed");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(m.join("fixed.onnx"), dir.join("sub/fixed.onnx")).unwrap();
    let linear = "let l = nn::linear(4, 4);\nl.forward(rand([1, 4]));\n";
    std::fs::write(dir.join("a.rhai"), format!("# labels: task::x\n{linear}")).unwrap();
    std::fs::write(dir.join("__init__.rhai"), "").unwrap();
    std::fs::write(dir.join("notes.md"), "").unwrap();
    let list = root.join("list.txt");
    std::fs::write(&list, "# a list\nmixed/a.rhai\nm/types/int*.onnx\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let d = s(cache.path());

    // A folder: every .rhai and .onnx below; odd files are notes.
    let r = run(&[
        "--build-only",
        "-d",
        &d,
        &s(&dir),
        &s(&dir.join("notes.md")),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("note: skipped") && r.stderr.contains("__init__.rhai"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("notes.md: not a .rhai script"),
        "{}",
        r.stderr
    );
    assert_eq!(builds(cache.path()).len(), 2, "a.rhai and sub/fixed.onnx");

    // A list, relative to its folder, with a glob in it.
    let r = run(&["--build-only", "-d", &d, "--axis", "n=2", &s(&list)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        builds(cache.path()).len(),
        2 + 4,
        "int8, int16, int32, int64"
    );

    // A pattern matching nothing is a failure of the run, not a stop.
    let r = run(&[
        "--build-only",
        "-d",
        &d,
        &s(&root.join("none/*.rhai")),
        &s(&dir.join("a.rhai")),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("none/*.rhai: no file matches"),
        "{}",
        r.stderr
    );
    let r = run(&["--build-only", "-d", &d, &s(&dir.join("notes.md"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nothing to run"), "{}", r.stderr);

    // --labels keeps what matches every key; --labels-for labels ONNX files.
    let c2 = tempfile::tempdir().unwrap();
    let d2 = s(c2.path());
    let r = run(&[
        "--build-only",
        "-d",
        &d2,
        "--labels",
        "name::linear,cnn test_group::selftest",
        "models/selftest",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = records(c2.path())
        .iter()
        .map(|r| {
            r["identity"]["labels"]["name"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"linear".into()) && names.contains(&"cnn".into()));
    assert!(r.stderr.contains("3 input(s) skipped"), "{}", r.stderr);
    let r = run(&[
        "--build-only",
        "-d",
        &d2,
        "--labels-for",
        "*.onnx=task::vision",
        "--labels",
        "task::vision",
        &s(&dir),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fixed = records(c2.path())
        .into_iter()
        .find(|r| {
            r["identity"]["name"]
                .as_str()
                .unwrap()
                .starts_with("fixed_")
        })
        .unwrap();
    assert_eq!(
        fixed["identity"]["labels"]["task"],
        serde_json::json!(["vision"])
    );
}

/// Models with string, sequence, optional and map inputs and outputs (which only
/// ONNX Runtime runs), one per folder where test data goes beside it.
fn make_value_models(dir: &Path) {
    py(
        r#"
import os, sys, numpy as np, onnx
from onnx import helper, TensorProto as T, numpy_helper
d = sys.argv[1]
def save(m, path):
    onnx.checker.check_model(m, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)
def model(nodes, ins, outs, opset, inits=()):
    g = helper.make_graph(nodes, "g", ins, outs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    return m
vi = helper.make_tensor_value_info
f_seq = helper.make_tensor_sequence_value_info
opt = lambda name, t: helper.make_value_info(name, helper.make_optional_type_proto(t))
tensor_t = lambda e, shape: helper.make_tensor_type_proto(e, shape)

# Strings: joined with themselves, and split at each "a".
save(model([helper.make_node("StringConcat", ["s", "s"], ["both"]),
            helper.make_node("StringSplit", ["both"], ["parts", "counts"], delimiter="a")],
           [vi("s", T.STRING, ["n"])],
           [vi("both", T.STRING, ["n"]), vi("parts", T.STRING, ["n", None]),
            vi("counts", T.INT64, ["n"])], 20),
     f"{d}/strings/model.onnx")

# A sequence in: its length, its items joined, and the sequence with one more item.
extra = numpy_helper.from_array(np.full((4,), 7.0, np.float32), "extra")
save(model([helper.make_node("SequenceLength", ["xs"], ["len"]),
            helper.make_node("ConcatFromSequence", ["xs"], ["cat"], axis=0),
            helper.make_node("SequenceInsert", ["xs", "extra"], ["more"])],
           [f_seq("xs", T.FLOAT, [4])],
           [vi("len", T.INT64, []), vi("cat", T.FLOAT, [None]), f_seq("more", T.FLOAT, [4])],
           17, [extra]),
     f"{d}/sequences/model.onnx")

# An optional in: whether it holds a value, the value, and the optional itself.
save(model([helper.make_node("OptionalHasElement", ["o"], ["has"]),
            helper.make_node("OptionalGetElement", ["o"], ["val"]),
            helper.make_node("Identity", ["o"], ["same"])],
           [opt("o", tensor_t(T.FLOAT, [3]))],
           [vi("has", T.BOOL, []), vi("val", T.FLOAT, [3]), opt("same", tensor_t(T.FLOAT, [3]))], 18),
     f"{d}/optional/model.onnx")

# An absent optional, from test data beside the model, in and out.
save(model([helper.make_node("OptionalHasElement", ["o"], ["has"]),
            helper.make_node("Identity", ["o"], ["same"])],
           [opt("o", tensor_t(T.INT32, [2]))],
           [vi("has", T.BOOL, []), opt("same", tensor_t(T.INT32, [2]))], 18),
     f"{d}/absent/model.onnx")
os.makedirs(f"{d}/absent/test_data_set_0")
none = numpy_helper.from_optional(None, name="o", dtype=onnx.OptionalProto.TENSOR)
open(f"{d}/absent/test_data_set_0/input_0.pb", "wb").write(none.SerializeToString())

# Maps out, as scikit-learn classifiers converted to ONNX give them.
ml = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
seq_map = lambda k: helper.make_sequence_type_proto(
    helper.make_map_type_proto(k, helper.make_tensor_type_proto(T.FLOAT, [])))
g = helper.make_graph(
    [helper.make_node("ZipMap", ["x"], ["by_id"], domain="ai.onnx.ml", classlabels_int64s=[7, 8, 9]),
     helper.make_node("ZipMap", ["x"], ["by_name"], domain="ai.onnx.ml",
                      classlabels_strings=["cat", "dog", "emu"])],
    "g", [vi("x", T.FLOAT, ["n", 3])],
    [helper.make_value_info("by_id", seq_map(T.INT64)), helper.make_value_info("by_name", seq_map(T.STRING))])
m = helper.make_model(g, opset_imports=ml); m.ir_version = 9
save(m, f"{d}/zipmap/model.onnx")

# A map in: the features of one sample by name.
g = helper.make_graph(
    [helper.make_node("DictVectorizer", ["feats"], ["v"], domain="ai.onnx.ml",
                      string_vocabulary=["0", "1", "2", "3"])],
    "g", [helper.make_value_info("feats", helper.make_map_type_proto(T.STRING, helper.make_tensor_type_proto(T.FLOAT, [])))],
    [vi("v", T.FLOAT, [1, 4])])
m = helper.make_model(g, opset_imports=ml); m.ir_version = 9
save(m, f"{d}/dictvec/model.onnx")
"#,
        &[dir],
    );
}

/// What ONNX's reference evaluator computes from each build's saved inputs,
/// against what turnkey saved from ONNX Runtime: one line per output.
const REFERENCE_CHECK: &str = r#"
import glob, json, os, sys
import onnx
from onnx.reference import ReferenceEvaluator
for build in sorted(glob.glob(os.path.join(sys.argv[1], "builds", "*"))):
    ins = read_values(os.path.join(build, "inputs"), "input")
    feeds = dict(ins)
    model = os.path.join(build, "model.onnx")
    ml = any(o.domain == "ai.onnx.ml" for o in onnx.load(model).opset_import)
    try:
        if ml:
            raise NotImplementedError("shapes of ai.onnx.ml ops differ from ONNX Runtime's")
        want, by = ReferenceEvaluator(model).run(None, feeds), "reference"
    except Exception:
        # The reference evaluator cannot output an absent optional, has no
        # ZipMap and shapes DictVectorizer's output otherwise; ONNX Runtime
        # (Python) is the reference there (absent inputs left out).
        import onnxruntime as ort
        s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        want = s.run(None, {n: v for n, v in feeds.items() if v is not None})
        by = "onnxruntime"
    got = read_values(os.path.join(build, "outputs", "ort-cpu"), "output")
    names = [o.name for o in onnx.load(model).graph.output]
    for n, w, (gn, g) in zip(names, want, got):
        print(json.dumps({"build": os.path.basename(build), "output": n, "name": gn, "by": by,
                          "same": bool(same(w, g)), "want": repr(w)[:120], "got": repr(g)[:120]}))
"#;

#[test]
fn strings_sequences_optionals_and_maps_run_on_ort_and_match_the_onnx_reference() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("values");
    make_value_models(&m);
    let cache = t.path().join("cache");
    let r = run_folder_on_ort_and_tract(&cache, &m, "n=5");
    // tract has none of these types: its rows fail, cleanly.
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let recs = records(&cache);
    assert_eq!(recs.len(), 6, "one build per model: {}", r.stderr);
    for rec in &recs {
        let name = rec["identity"]["name"].as_str().unwrap();
        assert_eq!(row(rec, "ort")["status"], "successful", "{name}: {rec}");
        let tract = row(rec, "tract");
        assert_eq!(tract["status"], "error", "{name}: {rec}");
        assert!(
            tract["error"].as_str().unwrap().contains("tract"),
            "{tract}"
        );
        let input = &rec["identity"]["inputs"][0];
        let source = rec["identity"]["input_source"].as_str().unwrap();
        match name.split('_').next().unwrap() {
            "strings" => assert_eq!(input["dtype"], "string", "{input}"),
            "sequences" => {
                assert_eq!(input["value"], "seq(float32[4], float32[4])", "{input}");
                assert_eq!(source, "random");
            }
            "optional" => assert_eq!(input["value"], "optional(float32[3])", "{input}"),
            "absent" => {
                assert_eq!(input["value"], "optional(tensor(int32); none)", "{input}");
                assert_eq!(source, "test_data_set_0");
            }
            "zipmap" => assert_eq!(input["shape"], serde_json::json!([5, 3]), "{input}"),
            "dictvec" => assert_eq!(input["value"], "map(string,float32)[3]", "{input}"),
            other => panic!("unexpected build {other}"),
        }
    }
    let lines: Vec<Value> = py(&with_value_helpers(REFERENCE_CHECK), &[&cache])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // both, parts, counts; len, cat, more; has, val, same; has, same;
    // by_id, by_name; v.
    assert_eq!(lines.len(), 14, "{lines:?}");
    for l in &lines {
        assert_eq!(
            l["same"], true,
            "turnkey's ort output differs from the reference: {l}"
        );
        assert_eq!(l["output"], l["name"], "{l}");
    }
    let absent: Vec<&str> = lines
        .iter()
        .filter(|l| l["build"].as_str().unwrap().starts_with("absent"))
        .map(|l| l["got"].as_str().unwrap())
        .collect();
    assert!(
        absent[0].contains("False") && absent[1] == "None",
        "{absent:?}"
    );
}
