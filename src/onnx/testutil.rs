//! Test helpers: the project's Python (onnx, onnxruntime) for cross-checks.

use std::path::PathBuf;
use std::process::Command;

/// The Python with `onnx` and `onnxruntime`: `TURNKEY_PYTHON`, else the
/// project's `.venv`. A missing one fails the test, never skips it.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TURNKEY_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: these tests need Python with onnx and onnxruntime. \
         Run the project's setup script (it creates .venv), or set TURNKEY_PYTHON \
         to a python that has them",
        p.display()
    );
    p
}

/// Runs `script` with `args`; panics with its stderr when it fails.
pub fn run_python(script: &str, args: &[&std::path::Path]) -> String {
    let py = python();
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        py.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
