//! Edges of the command line found by trying turnkey as a new user (issue
//! #16, point 8): a closed stdout, mismatch details, bad sizes and
//! tolerances, the cache listing after a failure was fixed, the `runtime
//! auto` line, help headings.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_nothing_lost() {
    let cache = tempfile::tempdir().unwrap();
    // `turnkey ... | head -0`: the reader is gone before the summary.
    let mut child = turnkey()
        .args(["-d", p(cache.path()), "--build-only"])
        .arg("models/selftest/linear.rhai")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let b = builds(cache.path());
    assert_eq!(b.len(), 1);
    assert_eq!(record(&b[0])["stages"]["export"]["status"], "successful");
    // `turnkey cache list | head` too.
    let mut child = turnkey()
        .args(["cache", "-d", p(cache.path()), "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_mismatch_says_what_differs_in_the_terminal() {
    let cache = tempfile::tempdir().unwrap();
    // Zero tolerance: ort and tract round differently somewhere.
    let r = run(&[
        "-d",
        p(cache.path()),
        "--runtime",
        "ort,tract",
        "--iterations",
        "2",
        "--atol",
        "0",
        "--rtol",
        "0",
        "models/selftest/transformer.rhai",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let row = r
        .stderr
        .lines()
        .find(|l| l.contains("tract/cpu: mismatch"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(
        row.contains("check failed") && row.contains("FAIL: output"),
        "{row}"
    );
    let failure = r
        .stderr
        .lines()
        .find(|l| l.contains("on tract/cpu: mismatch"))
        .unwrap();
    assert!(failure.contains("elements differ"), "{failure}");
}

#[test]
fn sizes_and_tolerances_are_checked_up_front() {
    let r = run(&[
        "--build-only",
        "--shape",
        "x=1,0",
        "models/selftest/linear.rhai",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--shape x=1,0: sizes must be at least 1"),
        "{}",
        r.stderr
    );
    for (flag, v) in [("--atol", "nan"), ("--rtol", "-1"), ("--atol", "inf")] {
        let r = run(&[flag, v, "--build-only", "models/selftest/linear.rhai"]);
        assert_eq!(r.code, 2, "{flag} {v}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{flag} must be a non-negative number")),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_build_that_failed_then_succeeded_lists_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("relu.onnx");
    py(
        "import sys, onnx\nfrom onnx import helper, TensorProto as T\n\
         g = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'g',\n\
             [helper.make_tensor_value_info('x', T.FLOAT, ['n', 2])],\n\
             [helper.make_tensor_value_info('y', T.FLOAT, ['n', 2])])\n\
         m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])\n\
         m.ir_version = 8\nonnx.save(m, sys.argv[1])",
        &[&m],
    );
    let c = dir.path().join("c");
    // Unbound axis: a failure record; then bound: a build.
    let r = run(&["-d", p(&c), "--build-only", p(&m)]);
    assert_eq!(r.code, 1);
    let r = run(&["-d", p(&c), "--build-only", "--axis", "n=2", p(&m)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["cache", "-d", p(&c), "list"]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains("unreadable"), "{}", r.stdout);
    assert!(!r.stderr.contains("interrupted first run"), "{}", r.stderr);
    assert!(r.stdout.contains("1 build(s)"), "{}", r.stdout);
}

#[test]
fn runtime_auto_is_not_announced_when_the_manifest_names_the_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.toml");
    std::fs::write(
        &m,
        format!(
            "name = \"t\"\nruntimes = [\"tract\"]\n[[script]]\npath = \"{}\"\n",
            root().join("models/selftest/linear.rhai").display()
        ),
    )
    .unwrap();
    let c = dir.path().join("c");
    let r = run(&["-d", p(&c), "--iterations", "2", p(&m)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("runtime auto"), "{}", r.stderr);
    // A plain script still says what auto chose.
    let r = run(&[
        "-d",
        p(&c),
        "--iterations",
        "2",
        "models/selftest/linear.rhai",
    ]);
    assert!(r.stderr.contains("runtime auto: "), "{}", r.stderr);
}

#[test]
fn general_flags_are_not_under_the_slurm_heading() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    let at = |s: &str| {
        r.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s} not in help:\n{}", r.stdout))
    };
    let slurm = at("Slurm (scale out):");
    for flag in ["--lean-cache", "--precision", "--input <NAME=VALUE>"] {
        assert!(at(flag) < slurm, "{flag} is under the Slurm heading");
    }
    assert!(at("--use-slurm") > slurm);
}
