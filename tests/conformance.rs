//! Conformance over ONNX's backend node tests (from the onnx 1.22.0 wheel,
//! fetched by scripts/setup_onnx_node_tests.sh): every sampled model that
//! ONNX Runtime itself (Python) loads and runs on its test data, with input
//! and output types turnkey has, must benchmark successfully under
//! turnkey's `ort` runtime. Models with types turnkey cannot represent must
//! fail cleanly (an error row, never a crash). Strings, sequences and
//! optionals are among the types turnkey has. One turnkey invocation runs
//! the whole sample from a `.txt` list.
//!
//! TURNKEY_CONFORMANCE_SAMPLE=N|all sets the sample (default 300 of 1765).

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DEFAULT_SAMPLE: usize = 300;

fn node_tests() -> PathBuf {
    if let Some(d) = std::env::var_os("TURNKEY_ONNX_NODE_TESTS") {
        return PathBuf::from(d);
    }
    let dir = root().join(".cache/onnx-node-tests/1.22.0/node");
    if !dir.is_dir() {
        let st = std::process::Command::new("bash")
            .arg(root().join("scripts/setup_onnx_node_tests.sh"))
            .env("TURNKEY_PYTHON", python())
            .status()
            .expect("run scripts/setup_onnx_node_tests.sh");
        assert!(st.success(), "scripts/setup_onnx_node_tests.sh failed");
    }
    dir
}

/// An even spread over the sorted list.
fn sample(all: &[PathBuf]) -> Vec<PathBuf> {
    let n = match std::env::var("TURNKEY_CONFORMANCE_SAMPLE").as_deref() {
        Ok("all") => all.len(),
        Ok(v) => v
            .parse()
            .expect("TURNKEY_CONFORMANCE_SAMPLE: a number or 'all'"),
        Err(_) => DEFAULT_SAMPLE,
    }
    .min(all.len());
    (0..n).map(|i| all[i * all.len() / n].clone()).collect()
}

/// What ONNX Runtime (Python) makes of each model, and whether turnkey's
/// saved outputs (from the cache in argv[2]) equal its outputs when turnkey
/// fed the same test data: one JSON line each.
const ORT_CHECK: &str = r#"
import glob, json, os, sys
import onnx, onnxruntime as ort
ort.set_default_logger_severity(4)
turnkey = {}
for b in glob.glob(os.path.join(sys.argv[2], "builds", "*")):
    try:
        rec = json.load(open(os.path.join(b, "record.json")))
    except Exception:
        continue
    if rec["identity"].get("input_source") == "test_data_set_0":
        turnkey[rec["identity"]["script"]] = b
def saved(folder):
    return [v for _, v in read_values(folder, "output")]
OK = {"tensor(float)", "tensor(float16)", "tensor(bfloat16)", "tensor(double)", "tensor(int8)",
      "tensor(int16)", "tensor(int32)", "tensor(int64)", "tensor(uint8)", "tensor(bool)",
      "tensor(uint16)", "tensor(uint32)", "tensor(uint64)", "tensor(float8e4m3fn)",
      "tensor(float8e4m3fnuz)", "tensor(float8e5m2)", "tensor(float8e5m2fnuz)",
      "tensor(float8e8m0)", "tensor(uint4)", "tensor(int4)", "tensor(uint2)", "tensor(int2)",
      "tensor(string)"}
def ok(t):
    # Sequences and optionals of the tensors above.
    for w in ("seq(", "optional("):
        if t.startswith(w):
            return ok(t[len(w):-1])
    return t in OK
for path in open(sys.argv[1]).read().split():
    r = {"path": path, "loads": False, "types_ok": False, "run_error": None, "same": None}
    try:
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        r["loads"] = True
    except Exception as e:
        r["load_error"] = str(e).splitlines()[0][:200]
        print(json.dumps(r)); continue
    types = [v.type for v in s.get_inputs() + s.get_outputs()]
    r["bad_types"] = sorted({t for t in types if not ok(t)})
    r["types_ok"] = not r["bad_types"]
    if r["types_ok"]:
        feeds = {}
        ins = s.get_inputs()
        files = sorted(glob.glob(os.path.join(os.path.dirname(path), "test_data_set_0", "input_*.pb")),
                       key=lambda f: int(f.rsplit("_", 1)[1][:-3]))
        try:
            for i, f in enumerate(files):
                name, value = load_value(f, kind_of(ins[i].type))
                if value is not None:  # an absent optional is left out
                    feeds[name or ins[i].name] = value
        except Exception:
            feeds = None  # numpy cannot hold it (bfloat16): not ORT's failure
        if feeds is not None:
            try:
                want = s.run(None, feeds)
                out_dir = os.path.join(turnkey.get(path, "/nonexistent"), "outputs", "ort-cpu")
                if os.path.isdir(out_dir):
                    got = saved(out_dir)
                    r["same"] = len(got) == len(want) and all(same(w, g) for w, g in zip(want, got))
            except Exception as e:
                msg = str(e)
                # numpy's own limits (bfloat16) are not ORT failing.
                if "Numpy_type" not in msg and "Numpy type" not in msg:
                    r["run_error"] = msg.splitlines()[0][:200]
    print(json.dumps(r))
"#;

fn outcome(cache: &Path) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for b in builds(cache) {
        if !b.join("record.json").exists() {
            continue;
        }
        let rec = record(&b);
        let script = rec["identity"]["script"].as_str().unwrap().to_string();
        let row = rec["runtimes"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["runtime"] == "ort").cloned());
        let (status, error) = match row {
            Some(r) => (
                r["status"].as_str().unwrap_or("").to_string(),
                r["error"].as_str().unwrap_or("").to_string(),
            ),
            None => {
                let err = rec["stages"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .filter_map(|s| s["error"].as_str())
                    .next()
                    .unwrap_or("")
                    .to_string();
                ("error".into(), err)
            }
        };
        out.insert(script, (status, error));
    }
    out
}

#[test]
fn onnx_node_tests_that_ort_runs_benchmark_under_turnkey() {
    let dir = node_tests();
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("model.onnx"))
        .filter(|p| p.is_file())
        .collect();
    all.sort();
    assert!(
        all.len() > 1000,
        "{} has {} node tests",
        dir.display(),
        all.len()
    );
    let picked = sample(&all);
    assert!(picked.len() >= 200 || picked.len() == all.len());

    let work = tempfile::tempdir().unwrap();
    let list = work.path().join("sample.txt");
    let text: Vec<String> = picked.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(&list, text.join("\n")).unwrap();

    let cache = work.path().join("cache");
    let r = run(&[
        "-q",
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "ort",
        "--iterations",
        "1",
        "--warmup-iterations",
        "0",
        "--warmup-time",
        "0",
        "--timeout",
        "120",
        list.to_str().unwrap(),
    ]);
    let got = outcome(&cache);
    let ort_view: Vec<Value> = py(&with_value_helpers(ORT_CHECK), &[&list, &cache])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ort_view.len(), picked.len());

    let (mut loads, mut representable, mut expected, mut passed) = (0, 0, 0, 0);
    let (mut compared, mut differ) = (0, Vec::new());
    let mut ort_run_fails = Vec::new();
    let mut must_pass_but_failed = Vec::new();
    let mut dirty = Vec::new();
    for v in &ort_view {
        let path = v["path"].as_str().unwrap();
        let name = Path::new(path)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let (status, error) = got
            .get(path)
            .cloned()
            .unwrap_or_else(|| ("missing".into(), "no record".into()));
        let ok = status == "successful";
        if !v["loads"].as_bool().unwrap() {
            continue;
        }
        loads += 1;
        if !v["types_ok"].as_bool().unwrap() {
            // turnkey cannot feed or read these types: a clean error, never a crash.
            if !ok && status != "error" {
                dirty.push(format!("{name}: {status} {error}"));
            }
            continue;
        }
        representable += 1;
        if let Some(e) = v["run_error"].as_str() {
            ort_run_fails.push(format!("{name}: {e}"));
            continue;
        }
        expected += 1;
        match v["same"].as_bool() {
            Some(true) => compared += 1,
            Some(false) => {
                compared += 1;
                differ.push(name.clone());
            }
            None => {}
        }
        if ok {
            passed += 1;
        } else {
            must_pass_but_failed.push(format!("{name}: {status}: {error}"));
        }
    }
    eprintln!(
        "conformance: sample {} of {} node tests; ONNX Runtime loads {loads}; \
         with types turnkey has {representable}; of those ORT (Python) fails to run {} \
         on their own test data; expected to pass {expected}; passed under turnkey {passed}; \
         outputs compared with ONNX Runtime (Python) on the same test data {compared}, \
         equal {}",
        picked.len(),
        all.len(),
        ort_run_fails.len(),
        compared - differ.len()
    );
    for f in &ort_run_fails {
        eprintln!("  ORT itself fails: {f}");
    }
    assert!(
        must_pass_but_failed.is_empty(),
        "{} model(s) that ONNX Runtime runs failed under turnkey:\n{}\n\nturnkey stderr:\n{}",
        must_pass_but_failed.len(),
        must_pass_but_failed.join("\n"),
        r.stderr
    );
    assert!(
        differ.is_empty(),
        "turnkey's ort outputs differ from ONNX Runtime's (Python) on the same inputs: {}",
        differ.join(", ")
    );
    assert!(
        compared * 2 >= expected,
        "too few outputs compared ({compared} of {expected}): test data not used?"
    );
    assert!(
        dirty.is_empty(),
        "not clean failures:\n{}",
        dirty.join("\n")
    );
    assert!(
        expected >= 150,
        "too few models in the sample ran: {expected}"
    );
}
