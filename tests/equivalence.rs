//! Equivalence with the reference implementations, output for output
//! (issue #19): scripts/reference_weights.py builds every case of its table
//! (a small configuration of a stdlib architecture in torchvision,
//! transformers or torch_geometric, with fixed-seed random weights) and
//! writes its checkpoint, fixed inputs and the reference's outputs into
//! .cache/equivalence (scripts/setup_equivalence.sh, the reference venv at
//! pinned versions). turnkey loads each checkpoint into the matching stdlib
//! builder through its loader, runs it on ort and tract, and every output
//! of every runtime must equal the reference's (atol 1e-4, rtol 1e-3; for
//! LMs also the same argmax token at every position).
//!
//! Adding an architecture is one entry of CASES in reference_weights.py;
//! REQUIRED below names the families that must be there.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;

/// The families the suite must cover (the cases of reference_weights.py;
/// more may be there).
const REQUIRED: [&str; 81] = [
    "resnet_basic",
    "resnext_bottleneck",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet",
    "convnext",
    "vit",
    "swin",
    "swin_v2",
    "bert",
    "roberta",
    "distilbert",
    "gpt2",
    "llama",
    "llama_tied",
    "qwen2",
    "mistral",
    "t5",
    "whisper_encoder",
    "gcn",
    "gat",
    "lstm_lm",
    "sd_unet",
    "phi",
    "phi3",
    "gemma",
    "gemma2",
    "gpt_neox",
    "opt",
    "falcon",
    "electra",
    "albert",
    "flan_t5",
    "deberta_v3",
    "deberta_v2",
    "bart",
    "marian",
    "wav2vec2",
    "hubert",
    "whisper",
    "regnet_y",
    "shufflenet_v2",
    "mnasnet",
    "googlenet",
    "inception_v3",
    "efficientnet_v2",
    "maxvit",
    "lraspp",
    "deeplabv3_mobilenet",
    "deit_distilled",
    "deit3",
    "beit",
    "timm_convnext",
    "timm_convnext_conv_mlp",
    "levit",
    "sd_vae",
    "sd_vae_decode",
    "clip_text",
    "clip_text_projection",
    "sdxl_unet",
    "controlnet",
    "lcm_unet",
    "yolov8",
    "yolo11",
    "yolov8_seg",
    "yolov8_pose",
    "yolo11_obb",
    "yolov8_ghost",
    "detr",
    "segformer",
    "deeplabv3_resnet50",
    "gin",
    "gin_batch_norm",
    "gin_tu",
    "efficientformer",
    "efficientformerv2",
    "timm_mobilevit",
    "timm_mobilevitv2",
    "timm_coatnet_rw",
    "timm_coatnet",
    "timm_coatnet_bn",
];

/// The fixtures folder, written (once, idempotently) by
/// scripts/setup_equivalence.sh.
fn fixtures() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts/setup_equivalence.sh"))
        .current_dir(root())
        .output()
        .expect("run scripts/setup_equivalence.sh");
    assert!(
        out.status.success(),
        "scripts/setup_equivalence.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    root().join(".cache/equivalence")
}

struct Case {
    name: String,
    dir: PathBuf,
    info: Value,
}

fn cases(fixtures: &Path) -> Vec<Case> {
    let mut v: Vec<Case> = std::fs::read_dir(fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .map(|dir| {
            let info: Value =
                serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
            Case {
                name: info["name"].as_str().unwrap().to_string(),
                dir,
                info,
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The float32 tensors of a safetensors file, with their shapes.
fn read_safetensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, t)| {
            assert_eq!(
                t.dtype(),
                safetensors::Dtype::F32,
                "{}: {name}",
                path.display()
            );
            let data = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (t.shape().to_vec(), data))
        })
        .collect()
}

/// Where `got` and `want` differ beyond atol + rtol * |want|: the count,
/// the worst index and its values.
fn mismatch(got: &[f32], want: &[f32]) -> Option<String> {
    let mut bad = 0;
    let mut worst = (0.0f64, 0);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g as f64, w as f64);
        let excess = (g - w).abs() - (ATOL + RTOL * w.abs());
        if excess > 0.0 || !g.is_finite() {
            bad += 1;
            if excess > worst.0 || !g.is_finite() {
                worst = (excess, i);
            }
        }
    }
    (bad > 0).then(|| {
        let i = worst.1;
        format!(
            "{bad} of {} values differ; at {i}: got {} want {}",
            got.len(),
            got[i],
            want[i]
        )
    })
}

/// The argmax over the last axis of each row.
fn argmax(values: &[f32], last: usize) -> Vec<usize> {
    values
        .chunks_exact(last)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                })
                .0
        })
        .collect()
}

/// Runs `scripts` on ort and tract into `cache` with `env`; the run's
/// output.
fn bench(cache: &Path, scripts: &[PathBuf], env: &[(&str, &Path)]) -> Run {
    let mut cmd = turnkey();
    cmd.args(["-d", cache.to_str().unwrap()])
        .args(["--runtime", "ort,tract"])
        .args(["--iterations", "2", "--warmup-iterations", "1"])
        .args(["--warmup-time", "0"])
        .args(scripts);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

/// The failures of one build against its case's reference outputs, per
/// runtime; empty when every output of every runtime matches.
fn compare(build: &Path, case: &Case) -> Vec<String> {
    let want = read_safetensors(&case.dir.join("outputs.safetensors"));
    let mut fails = Vec::new();
    let runtimes = ["ort-cpu", "tract-cpu"];
    for rt in runtimes {
        let dir = build.join("outputs").join(rt);
        let mut seen = Vec::new();
        for k in 0.. {
            let p = dir.join(format!("output_{k}.pb"));
            if !p.exists() {
                break;
            }
            let (name, t) = turnkey::onnx::read_tensor_pb(&p).unwrap();
            let Some((shape, w)) = want.get(&name) else {
                fails.push(format!("{rt}: output '{name}' has no reference"));
                continue;
            };
            seen.push(name.clone());
            if &t.shape != shape {
                fails.push(format!(
                    "{rt}: {name} has shape {:?}, the reference {shape:?}",
                    t.shape
                ));
                continue;
            }
            let g = t.to_f32_vec().expect("float outputs");
            if let Some(m) = mismatch(&g, w) {
                fails.push(format!("{rt}: {name}: {m}"));
            }
            // LMs: the same argmax tokens in the logits (lm_output, else
            // every output).
            let logits = case.info["lm_output"].as_str().unwrap_or("");
            if case.info["lm"] == true && (logits.is_empty() || logits == name) {
                let last = *shape.last().unwrap();
                let (a, b) = (argmax(&g, last), argmax(w, last));
                let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
                if differ > 0 {
                    fails.push(format!(
                        "{rt}: {name}: {differ} of {} argmax tokens differ",
                        a.len()
                    ));
                }
            }
        }
        seen.sort();
        let mut all: Vec<&String> = want.keys().collect();
        all.sort();
        if seen.iter().collect::<Vec<_>>() != all {
            fails.push(format!("{rt}: outputs {seen:?}, the reference has {all:?}"));
        }
    }
    fails
}

/// The build of each script, by the script path its record names.
fn builds_by_script(cache: &Path) -> BTreeMap<String, (PathBuf, Value)> {
    builds(cache)
        .into_iter()
        .map(|b| {
            let rec = record(&b);
            let script = rec["identity"]["script"].as_str().unwrap().to_string();
            (script, (b, rec))
        })
        .collect()
}

#[test]
fn every_stdlib_architecture_matches_its_reference_on_ort_and_tract() {
    let fixtures = fixtures();
    let cases = cases(&fixtures);
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for r in REQUIRED {
        assert!(names.contains(&r), "no case {r} in {names:?}");
    }
    // Relative to the root, as the records name them.
    let scripts: Vec<PathBuf> = cases
        .iter()
        .map(|c| {
            let p = c.dir.join(format!("{}.rhai", c.name));
            p.strip_prefix(root()).unwrap().to_path_buf()
        })
        .collect();
    let cache = tempfile::tempdir().unwrap();
    // The hub case reads the Hugging Face cache layout the fixtures hold.
    let r = bench(cache.path(), &scripts, &[("HF_HOME", &fixtures)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let by_script = builds_by_script(cache.path());
    let mut failures = Vec::new();
    for (case, script) in cases.iter().zip(&scripts) {
        let rel = script.display().to_string();
        let Some((build, rec)) = by_script.get(&rel) else {
            failures.push(format!("{}: no build of {rel}", case.name));
            continue;
        };
        let id = &rec["identity"];
        // Every parameter came from the checkpoint, and there are as many
        // as the reference's module has.
        let w = &id["weights"];
        if w["random"] != 0 || w["loaded"].as_u64().unwrap_or(0) == 0 {
            failures.push(format!("{}: weights {w}", case.name));
        }
        if id["params"] != case.info["params"] {
            failures.push(format!(
                "{}: {} parameters, the reference {}",
                case.name, id["params"], case.info["params"]
            ));
        }
        for row in rec["runtimes"].as_array().unwrap() {
            if row["status"] != "successful" {
                failures.push(format!("{}: {row}", case.name));
            }
        }
        for f in compare(build, case) {
            failures.push(format!("{}: {f}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The comparison can fail: the same script with the builder's random
/// weights (no checkpoint) differs from the reference.
#[test]
fn random_weights_do_not_match_the_reference() {
    let fixtures = fixtures();
    let case = cases(&fixtures)
        .into_iter()
        .find(|c| c.name == "mobilenet_v3_small")
        .unwrap();
    let src = std::fs::read_to_string(case.dir.join("mobilenet_v3_small.rhai")).unwrap();
    let random = src.replace(".load_weights(\"model.safetensors\")", "");
    assert_ne!(random, src, "the case loads with .load_weights");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        case.dir.join("inputs.safetensors"),
        dir.path().join("inputs.safetensors"),
    )
    .unwrap();
    let script = dir.path().join("random.rhai");
    std::fs::write(&script, random).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = bench(cache.path(), &[script], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let b = &builds(cache.path())[0];
    assert_eq!(record(b)["identity"]["weights"]["loaded"], 0);
    let fails = compare(b, &case);
    assert!(
        fails.iter().any(|f| f.contains("values differ")),
        "{fails:?}"
    );
}
