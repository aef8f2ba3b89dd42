//! Real-world ONNX files, end to end on the real binary (issue #16): input
//! values (`--input`, a manifest's `inputs`), the data fed as part of the
//! build identity, memory limits before allocation, stateful models on
//! tract, the cache never aliasing the user's files, and weights and FLOPs
//! counted from the file.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Writes the test models into `dir` with the project's Python.
fn make_models(dir: &Path) {
    py(
        r#"
import os, sys, numpy as np, onnx
from onnx import helper, TensorProto as T, numpy_helper
d = sys.argv[1]
rng = np.random.default_rng(0)
def save(m, path):
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)
def model(nodes, ins, outs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", ins, outs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
vi = helper.make_tensor_value_info
c = lambda name, v: numpy_helper.from_array(np.array(v), name)

# A scalar int64 control input chooses a branch, as silero-vad's sample rate:
# y = 2x at sr 16000, 3x otherwise.
then_g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t"])], "then", [],
                           [vi("t", T.FLOAT, ["n"])])
else_g = helper.make_graph([helper.make_node("Mul", ["x", "three"], ["e"])], "else", [],
                           [vi("e", T.FLOAT, ["n"])])
save(model([helper.make_node("Equal", ["sr", "k16"], ["is16"]),
            helper.make_node("If", ["is16"], ["y"], then_branch=then_g, else_branch=else_g)],
           [vi("x", T.FLOAT, ["n"]), vi("sr", T.INT64, [])], [vi("y", T.FLOAT, ["n"])],
           [c("k16", np.int64(16000)), c("two", np.float32(2)), c("three", np.float32(3))]),
     f"{d}/branch.onnx")

# y = relu(x) with x [1, 3, h, w]: any size can be asked for.
save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", T.FLOAT, [1, 3, "h", "w"])],
           [vi("y", T.FLOAT, [1, 3, "h", "w"])]), f"{d}/relu/model.onnx")
"#,
        &[dir],
    );
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    make_models(&models);
    (dir, models)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The one build of a cache whose name starts with `stem`.
fn build(cache: &Path, stem: &str) -> PathBuf {
    let found: Vec<PathBuf> = builds(cache)
        .into_iter()
        .filter(|b| {
            b.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{stem}_"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{stem}: {found:?}");
    found[0].clone()
}

/// The values of `outputs/<row>/output_<k>.pb` (or inputs) as Python lists.
fn saved(dir: &Path, prefix: &str) -> String {
    py(
        &with_value_helpers(&format!(
            "import sys\nprint([(n, np.asarray(v).tolist()) for n, v in read_values(sys.argv[1], '{prefix}')])"
        )),
        &[dir],
    )
    .trim()
    .to_string()
}

#[test]
fn a_scalar_control_input_is_given_with_input() {
    let (dir, models) = setup();
    let cache = dir.path().join("c");
    let model = models.join("branch.onnx");
    let r = run(&[
        "-d",
        p(&cache),
        "--runtime",
        "ort,tract",
        "--iterations",
        "3",
        "--axis",
        "n=4",
        "--input",
        "sr=16000",
        p(&model),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = build(&cache, "branch");
    let id = &record(&b)["identity"];
    assert_eq!(id["input_source"], "given+random");
    assert_eq!(id["inputs"][0]["source"], "random");
    assert_eq!(id["inputs"][1]["source"], "value 16000");
    assert!(
        id["bindings"].as_str().unwrap().contains("sr:=16000"),
        "{id}"
    );
    // The 16000 branch ran: y = 2x, on both runtimes.
    let inputs = saved(&b.join("inputs"), "input");
    assert!(inputs.contains("('sr', 16000)"), "{inputs}");
    for row in ["ort-cpu", "tract-cpu"] {
        let check = py(
            &with_value_helpers(
                "import sys\nx = dict(read_values(sys.argv[1], 'input'))['x']\n\
                 y = dict(read_values(sys.argv[2], 'output'))['y']\n\
                 assert np.array_equal(y, 2 * x), (x, y)\nprint('ok')",
            ),
            &[&b.join("inputs"), &b.join("outputs").join(row)],
        );
        assert_eq!(check.trim(), "ok", "{row}");
    }
    // Another value is another build (never the cached 16000 one): y = 3x.
    let r = run(&[
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--iterations",
        "3",
        "--axis",
        "n=4",
        "--input",
        "sr=8000",
        p(&model),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(builds(&cache).len(), 2);
    // An input the model does not have is an error naming the inputs.
    let r = run(&[
        "-d",
        p(&cache),
        "--build-only",
        "--axis",
        "n=4",
        "--input",
        "rate=16000",
        p(&model),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--input rate: the model has no input named 'rate' (its inputs: x, sr)"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_manifest_gives_values_and_files() {
    let (dir, models) = setup();
    let cache = dir.path().join("c");
    // x as a .npy file beside the manifest, sr as a number.
    py(
        "import sys, numpy as np\nnp.save(sys.argv[1], np.array([1.5, -2, 3], np.float32))",
        &[&dir.path().join("x.npy")],
    );
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        format!(
            "name = \"values\"\n[[onnx]]\nname = \"branch\"\npath = \"{}\"\n\
             inputs = {{ sr = 8000, x = \"x.npy\" }}\n",
            models.join("branch.onnx").display()
        ),
    )
    .unwrap();
    let r = run(&[
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--iterations",
        "2",
        p(&manifest),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = build(&cache, "branch");
    let id = &record(&b)["identity"];
    assert_eq!(id["input_source"], "given");
    assert!(
        id["inputs"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("x.npy"),
        "{id}"
    );
    // The axis n was sized by the file: 3.
    assert_eq!(id["inputs"][0]["shape"], serde_json::json!([3]));
    let out = saved(&b.join("outputs/ort-cpu"), "output");
    assert_eq!(out, "[('y', [4.5, -6.0, 9.0])]");
    // A bad value is an error with its line.
    std::fs::write(
        &manifest,
        "name = \"values\"\n[[onnx]]\nname = \"b\"\npath = \"x.onnx\"\ninputs = { sr = \"x.txt\" }\n",
    )
    .unwrap();
    let r = run(&["-d", p(&cache), "--build-only", p(&manifest)]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("m.toml:5: inputs.sr: a file value must be a .npy, .pb or .bin file"),
        "{}",
        r.stderr
    );
}

#[test]
fn adding_test_data_makes_a_new_build_fed_with_it() {
    let (dir, models) = setup();
    let cache = dir.path().join("c");
    let model = models.join("relu/model.onnx");
    let args = [
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--iterations",
        "2",
        "--axis",
        "h=2",
        "--axis",
        "w=2",
        p(&model),
    ];
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = build(&cache, "relu");
    assert_eq!(record(&first)["identity"]["input_source"], "random");
    // Test data of the same shape appears beside the model.
    py(
        "import sys, os, numpy as np\nfrom onnx import numpy_helper\n\
         os.makedirs(sys.argv[1], exist_ok=True)\n\
         t = numpy_helper.from_array(np.full((1, 3, 2, 2), -1.0, np.float32), 'x')\n\
         open(os.path.join(sys.argv[1], 'input_0.pb'), 'wb').write(t.SerializeToString())",
        &[&models.join("relu/test_data_set_0")],
    );
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = builds(&cache);
    assert_eq!(all.len(), 2, "{all:?}");
    let second = all.into_iter().find(|b| *b != first).unwrap();
    let id = &record(&second)["identity"];
    assert_eq!(id["input_source"], "test_data_set_0");
    assert_eq!(id["inputs"][0]["source"], "test_data_set_0/input_0.pb");
    // And it was fed: relu(-1) = 0 everywhere.
    let out = saved(&second.join("outputs/ort-cpu"), "output");
    assert!(out.contains("[[[[0.0, 0.0], [0.0, 0.0]]"), "{out}");
}

#[test]
fn a_huge_shape_fails_its_build_and_the_run_goes_on() {
    let (dir, models) = setup();
    let cache = dir.path().join("c");
    let r = run(&[
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--iterations",
        "2",
        "--shape",
        "x=1,3,100000,100000",
        p(&models.join("relu/model.onnx")),
        p(&models.join("branch.onnx")),
        "--axis",
        "n=2",
    ]);
    // No abort (exit 134) and no backtrace: one failure, the other file ran.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "input 'x' float32 [1, 3, 100000, 100000] would take 111.8 GiB, over the --max-memory limit"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("branch_"), "{}", r.stdout);
    // --max-memory covers ONNX inputs: 100 MB refuses a 192 MB input.
    let r = run(&[
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--max-memory",
        "100MB",
        "--axis",
        "h=4000",
        "--axis",
        "w=4000",
        p(&models.join("relu/model.onnx")),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("would take 183.1 MiB, over the --max-memory limit of 95.4 MiB"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_axis_names_are_warned_about() {
    let (dir, models) = setup();
    let r = run(&[
        "-d",
        p(&dir.path().join("c")),
        "--build-only",
        "--axis",
        "h=2",
        "--axis",
        "w=2",
        "--axis",
        "hieght=3",
        p(&models.join("relu/model.onnx")),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--axis hieght: no input of the model has an axis named 'hieght' (its axes: h, w)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn the_cache_holds_copies_checked_against_the_record() {
    use std::os::unix::fs::MetadataExt;
    let (dir, models) = setup();
    let cache = dir.path().join("c");
    let model = models.join("relu/model.onnx");
    let args = [
        "-d",
        p(&cache),
        "--runtime",
        "ort",
        "--iterations",
        "2",
        "--axis",
        "h=2",
        "--axis",
        "w=2",
        p(&model),
    ];
    assert_eq!(run(&args).code, 0);
    let b = build(&cache, "relu");
    let copy = b.join("model.onnx");
    let sha = record(&b)["identity"]["file_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let sha_of = |f: &Path| {
        py(
            "import sys, hashlib\nprint(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
            &[f],
        )
        .trim()
        .to_string()
    };
    // A copy, not a link to the user's file.
    assert_ne!(
        std::fs::metadata(&copy).unwrap().ino(),
        std::fs::metadata(&model).unwrap().ino()
    );
    // A damaged copy is noticed and copied again before it is benchmarked.
    std::fs::write(&copy, b"not the model").unwrap();
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("but the build is of a file with")
            && r.stderr.contains("copied again from the source"),
        "{}",
        r.stderr
    );
    assert_eq!(sha_of(&copy), sha);
    // Overwriting the source in place (same inode) leaves the cache alone.
    let before = std::fs::read(&model).unwrap();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&model)
            .unwrap();
        f.write_all(b"overwritten").unwrap();
    }
    assert_eq!(
        sha_of(&copy),
        sha,
        "the cached model changed with its source"
    );
    std::fs::write(&model, before).unwrap();
}

#[test]
fn a_failed_allocation_in_a_worker_is_a_row_error() {
    let cache = tempfile::tempdir().unwrap();
    let out = turnkey()
        .args([
            "-d",
            p(cache.path()),
            "--runtime",
            "tract,ort",
            "--iterations",
            "2",
        ])
        .arg("models/selftest/linear.rhai")
        .env("TURNKEY_FAULT_INJECT", "oom:tract")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let rec = record(&builds(cache.path())[0]);
    let rows = rec["runtimes"].as_array().unwrap();
    let tract = rows.iter().find(|r| r["runtime"] == "tract").unwrap();
    assert_eq!(tract["status"], "error", "{rec}");
    let e = tract["error"].as_str().unwrap();
    assert!(
        e.starts_with("out of memory: memory allocation of 4611686018427387904 bytes failed"),
        "{e}"
    );
    // The run went on: ort ran, and is the reference.
    let ort = rows.iter().find(|r| r["runtime"] == "ort").unwrap();
    assert_eq!(ort["status"], "successful", "{rec}");
}

#[test]
fn onnx_files_get_the_flops_of_their_script_builds() {
    // A script build's FLOPs come from the IR; its exported model.onnx,
    // given as a file, must count the same from the file alone.
    let dir = tempfile::tempdir().unwrap();
    let (c1, c2) = (dir.path().join("c1"), dir.path().join("c2"));
    let r = run(&[
        "-d",
        p(&c1),
        "--build-only",
        "models/selftest/cnn.rhai",
        "models/selftest/twolayer.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for b in builds(&c1) {
        let ir = record(&b)["identity"]["flops"].as_u64().unwrap();
        assert!(ir > 0);
        let c = c2.join(b.file_name().unwrap());
        let r = run(&[
            "-d",
            p(&c),
            "--runtime",
            "ort",
            "--iterations",
            "3",
            p(&b.join("model.onnx")),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let rec = record(&builds(&c)[0]);
        let id = &rec["identity"];
        assert_eq!(id["flops"].as_u64(), Some(ir), "{}", id);
        assert!(id.get("flops_not_counted").is_none(), "{id}");
        // Rows get achieved FLOP/s as script rows do.
        let row = &rec["runtimes"][0];
        let achieved = row["achieved_flops"].as_f64().unwrap();
        let want =
            ir as f64 * row["throughput"].as_f64().unwrap() / row["batch_size"].as_f64().unwrap();
        assert!((achieved / want - 1.0).abs() < 1e-9, "{achieved} vs {want}");
        assert!(r.stderr.contains("FLOPs "), "{}", r.stderr);
    }
}

#[test]
fn weights_in_constant_nodes_are_counted_and_unknown_ops_listed() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("consts.onnx");
    // Paddle-style: the weights are Constant nodes, not initializers; an
    // int64 shape constant is no weight. Einsum has no FLOP formula.
    py(
        r#"
import sys, numpy as np, onnx
from onnx import helper, TensorProto as T, numpy_helper
w = numpy_helper.from_array(np.ones((4, 6), np.float32), "wt")
shape = numpy_helper.from_array(np.array([2, 3, 2], np.int64), "st")
nodes = [helper.make_node("Constant", [], ["w"], value=w),
         helper.make_node("Constant", [], ["s"], value=shape),
         helper.make_node("MatMul", ["x", "w"], ["h"]),
         helper.make_node("Einsum", ["h"], ["e"], equation="ij->ji"),
         helper.make_node("Reshape", ["e", "s"], ["y"])]
g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, [2, 4])],
                      [helper.make_tensor_value_info("y", T.FLOAT, [2, 3, 2])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.checker.check_model(m, full_check=True)
onnx.save(m, sys.argv[1])
"#,
        &[&m],
    );
    let c = dir.path().join("c");
    let r = run(&["-d", p(&c), "--build-only", p(&m)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = record(&builds(&c)[0])["identity"].clone();
    assert_eq!(id["params"], 24, "{id}");
    assert_eq!(id["params_constants"], 24);
    assert_eq!(id["params_initializers"], 0);
    assert_eq!(id["param_bytes"], 96);
    // Einsum is not counted: the sum is partial, so no `flops` (rows get
    // no achieved FLOP/s from a partial count).
    assert!(id.get("flops").is_none_or(|f| f.is_null()), "{id}");
    assert_eq!(id["flops_partial"], 2 * 2 * 6 * 4);
    assert_eq!(id["flops_by_op"]["MatMul"], 96);
    assert_eq!(id["flops_not_counted"]["Einsum (no formula)"], 1);
    assert!(
        r.stderr.contains("weights 24 (96B, in Constant nodes)")
            && r.stderr
                .contains("FLOPs >= 96 (1 node(s) not counted: 1 Einsum (no formula))"),
        "{}",
        r.stderr
    );
}
