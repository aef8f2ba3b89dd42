//! `turnkey --build-only`: discover + export, checked with the onnx checker.

mod common;
use common::*;

#[test]
fn selftest_exports_valid_onnx() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let mut args = vec!["--build-only", "-d", d];
    let scripts = selftest();
    args.extend(scripts.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let builds = builds(cache.path());
    // two_models: encoder + head; every other script one build.
    assert_eq!(builds.len(), scripts.len() + 1, "{builds:?}");
    for b in &builds {
        assert!(b.join("model.onnx").exists(), "{}", b.display());
        assert!(b.join("inputs/input_0.pb").exists(), "{}", b.display());
        let rec = record(b);
        assert_eq!(rec["stages"]["export"]["status"], "successful");
        assert!(rec["identity"]["params"].as_u64().unwrap() > 0);
    }
    // Each build line says name, class, location, params, inputs, FLOPs, onnx.
    assert!(
        r.stderr.contains("Linear  models/selftest/linear.rhai:10"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("params 110 (440B)"), "{}", r.stderr);
    assert!(
        r.stderr.contains("inputs x: float32[1, 10]"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("params 85 "), "{}", r.stderr);
    assert!(r.stderr.contains("called 2x"), "{}", r.stderr);
    // The full ONNX checker (with shape inference) on every export.
    let onnx: Vec<std::path::PathBuf> = builds.iter().map(|b| b.join("model.onnx")).collect();
    let paths: Vec<&std::path::Path> = onnx.iter().map(|p| p.as_path()).collect();
    let out = py(
        "import onnx, sys\nfor p in sys.argv[1:]:\n    m = onnx.load(p)\n    onnx.checker.check_model(m, full_check=True)\n    assert m.producer_name == 'turnkey'\n    print('ok', m.graph.name)",
        &paths,
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        builds.len(),
        "{out}"
    );
}

#[test]
fn batch_sizes_make_two_builds_and_reruns_find_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let s = "models/selftest/twolayer.rhai";
    let r1 = run(&[
        "--build-only",
        "-d",
        d,
        s,
        "--script-args",
        "--batch_size 1",
    ]);
    assert_eq!(r1.code, 0, "{}", r1.stderr);
    let r8 = run(&["--build-only", "-d", d, s, "--script-args=--batch_size 8"]);
    assert_eq!(r8.code, 0, "{}", r8.stderr);
    let b = builds(cache.path());
    assert_eq!(b.len(), 2, "{b:?}");
    let shapes: Vec<String> = b
        .iter()
        .map(|p| record(p)["identity"]["inputs"][0]["shape"].to_string())
        .collect();
    assert!(
        shapes.contains(&"[1,10]".to_string()) && shapes.contains(&"[8,10]".to_string()),
        "{shapes:?}"
    );
    let mtime = std::fs::metadata(b[0].join("model.onnx"))
        .unwrap()
        .modified()
        .unwrap();
    let again = run(&[
        "--build-only",
        "-d",
        d,
        s,
        "--script-args",
        "--batch_size 1",
    ]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("found in cache"), "{}", again.stderr);
    assert_eq!(builds(cache.path()).len(), 2);
    let b1 = b
        .iter()
        .find(|p| record(p)["identity"]["inputs"][0]["shape"] == serde_json::json!([1, 10]))
        .unwrap();
    if b1 == &b[0] {
        assert_eq!(
            std::fs::metadata(b[0].join("model.onnx"))
                .unwrap()
                .modified()
                .unwrap(),
            mtime
        );
    }
}

#[test]
fn max_depth_builds_each_sub_model() {
    let cache = tempfile::tempdir().unwrap();
    let d = cache.path().to_str().unwrap();
    let r = run(&[
        "--build-only",
        "--max-depth",
        "1",
        "-d",
        d,
        "models/selftest/twolayer.rhai",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let classes: Vec<String> = builds(cache.path())
        .iter()
        .map(|b| {
            record(b)["identity"]["model_class"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        classes.iter().filter(|c| *c == "Linear").count(),
        2,
        "{classes:?}"
    );
    assert_eq!(
        classes.iter().filter(|c| *c == "TwoLayer").count(),
        1,
        "{classes:?}"
    );
}

#[test]
fn bad_inputs_are_one_line_each_and_do_not_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let w = |name: &str, body: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let bad = vec![
        (
            w("syntax.rhai", b"let x = ;\n"),
            "syntax.rhai:1: syntax error",
        ),
        (
            w("labels.rhai", b"# labels: ok::1 broken\nlet x = 1;"),
            "labels.rhai:1: malformed labels token 'broken'",
        ),
        (
            w("parse.rhai", b"let a = parse([\"batch\"]);"),
            "parse.rhai:1: parse(): unknown argument \"batch\"",
        ),
        (
            w(
                "shape.rhai",
                b"let m = nn::linear(4, 4);\nm.forward(rand([1, 5]));",
            ),
            "shape.rhai:2: Linear",
        ),
        (
            w("nocall.rhai", b"let m = nn::linear(4, 4);"),
            "nocall.rhai: no model call found",
        ),
        (
            w("binary.rhai", &[0xff, 0xfe, 0x00, 0x41]),
            "binary.rhai: is not UTF-8",
        ),
        (
            dir.path().join("missing.rhai").display().to_string(),
            "missing.rhai: no such file",
        ),
    ];
    // (A folder is no longer an error: it expands to the scripts below it;
    // see tests/onnx_inputs.rs.)
    let mut args = vec![
        "--build-only".to_string(),
        "-d".into(),
        cache.path().display().to_string(),
    ];
    args.push("models/selftest/linear.rhai".into());
    args.extend(bad.iter().map(|(p, _)| p.clone()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&a);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for (_, want) in &bad {
        let lines: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: ") && l.contains(want))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "want one 'error:' line with {want:?} in:\n{}",
            r.stderr
        );
    }
    // The good script still built.
    assert!(
        builds(cache.path())
            .iter()
            .any(|b| b.join("model.onnx").exists())
    );
    // A wrong type in --script-args is named.
    let r = run(&[
        "--build-only",
        "-d",
        cache.path().to_str().unwrap(),
        "models/selftest/linear.rhai",
        "--script-args",
        "--batch_size eight",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--batch_size takes an integer"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[test]
fn a_fixed_script_leaves_no_stale_failure_record() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (d, out) = (cache.path().to_str().unwrap(), dir.path().to_str().unwrap());
    let script = dir.path().join("fixme.rhai");
    let s = script.to_str().unwrap();
    std::fs::write(
        &script,
        "let m = nn::linear(4, 4);\nm.forward(rand([1, 5]));",
    )
    .unwrap();
    assert_eq!(run(&["--build-only", "-d", d, s]).code, 1);
    assert_eq!(run(&["report", "-d", d, "-o", out]).code, 0);
    let csv = std::fs::read_to_string(dir.path().join("turnkey-report.csv")).unwrap();
    assert!(
        csv.contains("fixme_script_"),
        "the failure is reported:\n{csv}"
    );
    std::fs::write(
        &script,
        "let m = nn::linear(4, 4);\nm.forward(rand([1, 4]));",
    )
    .unwrap();
    assert_eq!(run(&["--build-only", "-d", d, s]).code, 0);
    assert_eq!(run(&["report", "-d", d, "-o", out]).code, 0);
    let csv = std::fs::read_to_string(dir.path().join("turnkey-report.csv")).unwrap();
    assert!(
        !csv.contains("fixme_script_"),
        "stale failure row left:\n{csv}"
    );
    assert!(csv.contains("fixme_"), "{csv}");
}
