//! Real weights through the real binary (issue #19): a bad checkpoint is a
//! one-line error naming its file and key, recorded as that script's
//! failure while the run goes on; the weights' source is part of the
//! build's identity; `--weights PATH` feeds scripts that ask for
//! pretrained weights.

mod common;
use common::*;
use std::path::Path;

/// Writes a float32 safetensors file of `tensors` (name, shape, first
/// value; the values step by 0.25).
fn checkpoint(path: &Path, tensors: &[(&str, &[usize], f32)]) {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, shape, first)| {
            let len: usize = shape.iter().product();
            let bytes = (0..len)
                .flat_map(|i| (first + i as f32 * 0.25).to_le_bytes())
                .collect();
            (n.to_string(), shape.to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, s, b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .unwrap();
            (n.clone(), v)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

const FULL: [(&str, &[usize], f32); 4] = [
    ("fc1.weight", &[3, 4], 0.5),
    ("fc1.bias", &[3], -1.0),
    ("fc2.weight", &[2, 3], 2.0),
    ("fc2.bias", &[2], 3.0),
];

/// A two-layer script whose model is `model` after `load`.
fn script(dir: &Path, name: &str, load: &str) {
    let src = format!(
        "let fc1 = nn::linear(4, 3);\n\
         let fc2 = nn::linear(3, 2);\n\
         let m = nn::module(\"TwoLayer\", |x| fc2.forward(relu(fc1.forward(x))));\n\
         let m = {load};\n\
         m.forward(rand([1, 4]));\n"
    );
    std::fs::write(dir.join(name), src).unwrap();
}

fn tract(cache: &Path, scripts: &[&Path], extra: &[&str]) -> Run {
    let mut args: Vec<&str> = vec![
        "-d",
        cache.to_str().unwrap(),
        "--runtime",
        "tract",
        "--iterations",
        "2",
        "--warmup-iterations",
        "1",
        "--warmup-time",
        "0",
    ];
    args.extend(extra);
    args.extend(scripts.iter().map(|p| p.to_str().unwrap()));
    run(&args)
}

#[test]
fn bad_checkpoints_are_one_line_errors_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    checkpoint(&d.join("good.safetensors"), &FULL);
    checkpoint(&d.join("partial.safetensors"), &FULL[..3]);
    checkpoint(
        &d.join("shapes.safetensors"),
        &[FULL[0], FULL[1], ("fc2.weight", &[3, 2], 2.0), FULL[3]],
    );
    // A header length that runs past the end of the file.
    let mut bytes = 4096u64.to_le_bytes().to_vec();
    bytes.extend(b"{\"fc1.weight\": ");
    std::fs::write(d.join("corrupt.safetensors"), bytes).unwrap();
    std::fs::create_dir(d.join("sharded")).unwrap();
    checkpoint(
        &d.join("sharded/model-00001-of-00002.safetensors"),
        &FULL[..2],
    );
    let index = serde_json::json!({
        "metadata": {},
        "weight_map": {
            "fc1.weight": "model-00001-of-00002.safetensors",
            "fc1.bias": "model-00001-of-00002.safetensors",
            "fc2.weight": "model-00002-of-00002.safetensors",
            "fc2.bias": "model-00002-of-00002.safetensors",
        }
    });
    std::fs::write(
        d.join("sharded/model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();

    // (script, checkpoint, what its error must say)
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "missing_file.rhai",
            "nope.safetensors",
            &["nope.safetensors", "no such file: looked for"],
        ),
        (
            "missing_keys.rhai",
            "partial.safetensors",
            &["partial.safetensors", "1 missing (fc2.bias)"],
        ),
        (
            "wrong_shape.rhai",
            "shapes.safetensors",
            &["shapes.safetensors", "fc2.weight", "[3, 2]", "[2, 3]"],
        ),
        (
            "corrupt.rhai",
            "corrupt.safetensors",
            &["corrupt.safetensors", "not a valid safetensors file"],
        ),
        (
            "shard_missing.rhai",
            "sharded",
            &["model-00002-of-00002.safetensors", "is missing", "fc2.bias"],
        ),
    ];
    script(d, "good.rhai", "m.load_weights(\"good.safetensors\")");
    let mut scripts = vec![d.join("good.rhai")];
    for (name, file, _) in &cases {
        script(d, name, &format!("m.load_weights(\"{file}\")"));
        scripts.push(d.join(name));
    }
    let cache = tempfile::tempdir().unwrap();
    let paths: Vec<&Path> = scripts.iter().map(|p| p.as_path()).collect();
    let r = tract(cache.path(), &paths, &[]);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert_ne!(r.code, 0, "failures make the exit code non-zero:\n{all}");

    // The good script built and ran, with its checkpoint's weights.
    let builds = builds(cache.path());
    let good: Vec<_> = builds
        .iter()
        .map(|b| record(b))
        .filter(|r| {
            r["identity"]["script"]
                .as_str()
                .unwrap()
                .ends_with("good.rhai")
        })
        .collect();
    assert_eq!(good.len(), 1, "{all}");
    assert_eq!(good[0]["identity"]["weights"]["loaded"], 4, "{all}");
    assert_eq!(good[0]["runtimes"][0]["status"], "successful", "{all}");

    // Each bad script: one error line naming the script, the file and the
    // key, in the run's output and in its failure record.
    for (name, _, wants) in cases {
        let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(name)).collect();
        assert!(
            lines.iter().any(|l| wants.iter().all(|w| l.contains(w))),
            "{name}: no one line with {wants:?} in:\n{all}"
        );
        let failed = builds.iter().map(|b| record(b)).find(|rec| {
            rec["identity"]["script"]
                .as_str()
                .is_some_and(|s| s.ends_with(name))
        });
        let rec = failed.unwrap_or_else(|| panic!("{name}: no failure record:\n{all}"));
        let text = rec.to_string();
        assert!(
            wants.iter().all(|w| text.contains(w)),
            "{name}: the record lacks {wants:?}: {rec:#}"
        );
    }
}

#[test]
fn the_checkpoint_is_part_of_the_build_identity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    checkpoint(&d.join("a.safetensors"), &FULL);
    script(d, "s.rhai", "m.load_weights(\"a.safetensors\")");
    let s = d.join("s.rhai");
    let cache = tempfile::tempdir().unwrap();
    let name_of = |r: &Run| {
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let b = builds(cache.path());
        b.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    let first = name_of(&tract(cache.path(), &[&s], &["--build-only"]));
    assert_eq!(first.len(), 1);
    // The same file again: the cached build.
    let again = name_of(&tract(cache.path(), &[&s], &["--build-only"]));
    assert_eq!(again, first);
    // Other values under the same names and path: another build.
    checkpoint(
        &d.join("a.safetensors"),
        &[FULL[0], FULL[1], FULL[2], ("fc2.bias", &[2], 7.0)],
    );
    let other = name_of(&tract(cache.path(), &[&s], &["--build-only"]));
    assert_eq!(other.len(), 2, "{other:?}");
    // Random weights: a third, whose record says random(seed).
    script(d, "s.rhai", "m");
    let random = name_of(&tract(cache.path(), &[&s], &["--build-only"]));
    assert_eq!(random.len(), 3, "{random:?}");
    let sources: Vec<String> = builds(cache.path())
        .iter()
        .map(|b| record(b)["identity"]["weights"]["source"].to_string())
        .collect();
    assert!(sources.iter().any(|s| s.contains("random(")), "{sources:?}");
    assert_eq!(
        sources
            .iter()
            .filter(|s| s.contains("a.safetensors (sha256 "))
            .count(),
        2,
        "{sources:?}"
    );
}

#[test]
fn weights_on_the_command_line_feed_pretrained_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Outside the script's folder: the command line may name any file.
    let ckpt = tempfile::tempdir().unwrap();
    let file = ckpt.path().join("w.safetensors");
    checkpoint(&file, &FULL);
    std::fs::write(
        d.join("p.rhai"),
        "let args = parse([\"pretrained\"]);\n\
         let fc1 = nn::linear(4, 3);\n\
         let fc2 = nn::linear(3, 2);\n\
         let m = nn::module(\"TwoLayer\", |x| fc2.forward(relu(fc1.forward(x))));\n\
         let m = if args.pretrained { m.load_weights(#{ pretrained: true }) } else { m };\n\
         m.forward(rand([1, 4]));\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let s = d.join("p.rhai");
    let w = format!("--weights={}", file.display());
    let r = tract(cache.path(), &[&s], &["--build-only", &w]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let rec = record(&builds(cache.path())[0]);
    let weights = &rec["identity"]["weights"];
    assert_eq!(weights["loaded"], 4, "{weights}");
    assert_eq!(
        weights["files"][0]["path"].as_str().unwrap(),
        file.display().to_string()
    );
    // The report has a weights column naming the checkpoint.
    let out = tempfile::tempdir().unwrap();
    let (c, o) = (cache.path().to_str().unwrap(), out.path().to_str().unwrap());
    let r = run(&["report", "-d", c, "-o", o, "--format", "csv"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let mut csv = csv::Reader::from_path(out.path().join("turnkey-report.csv")).unwrap();
    let col = csv.headers().unwrap().iter().position(|h| h == "weights");
    let col = col.expect("a weights column");
    let row = csv.records().next().unwrap().unwrap();
    assert!(
        row[col].contains("w.safetensors (sha256 "),
        "{:?}",
        &row[col]
    );
}
