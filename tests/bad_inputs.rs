//! The bad-input catalogue: every file in tests/bad_inputs/ is one case of
//! something a user can get wrong, with the one-line error turnkey must give.
//! One test runs them all so the catalogue can grow without new code.
//!
//! A case (TOML):
//!   args   = [...]   command line; {dir} = a temp folder with the case's
//!                    files, {cache} = a fresh temp cache, {root} = the repo
//!   exit   = 1       expected exit code
//!   error  = '...'   regex one stderr line must match (and only one line)
//!   good   = "linear"  a build whose name starts with this was still made
//!   [files] name = "text"; [hex] name = "bytes in hex"; [env] VAR = "value"
//!   copy   = { "dest" = "path from repo root" }; truncate = { "file" = bytes }
//!   readonly = ["folder"]  made read-only before the run
//!   untouched = ["file"]   must exist, unchanged, after the run

mod common;

use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    args: Vec<String>,
    exit: i32,
    error: String,
    #[serde(default)]
    good: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    hex: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    copy: BTreeMap<String, String>,
    #[serde(default)]
    truncate: BTreeMap<String, u64>,
    #[serde(default)]
    readonly: Vec<String>,
    #[serde(default)]
    untouched: Vec<String>,
}

fn expand(s: &str, dir: &Path, cache: &Path) -> String {
    s.replace("{dir}", &dir.display().to_string())
        .replace("{cache}", &cache.display().to_string())
        .replace("{root}", &common::root().display().to_string())
}

/// Runs one case; returns what went wrong, if anything.
fn check(name: &str, case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (f, text) in &case.files {
        let p = d.join(expand(f, d, cache.path()));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, expand(text, d, cache.path())).unwrap();
    }
    for (f, h) in &case.hex {
        std::fs::write(d.join(f), hex::decode(h).expect("hex")).unwrap();
    }
    for (dest, src) in &case.copy {
        let p = d.join(dest);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(common::root().join(src), &p)
            .unwrap_or_else(|e| panic!("{name}: copy {src}: {e}"));
    }
    for (f, len) in &case.truncate {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(d.join(f))
            .unwrap();
        file.set_len(*len).unwrap();
    }
    let before: Vec<(String, Vec<u8>)> = case
        .untouched
        .iter()
        .map(|f| (f.clone(), std::fs::read(d.join(f)).expect("untouched file")))
        .collect();
    for f in &case.readonly {
        set_mode(&d.join(f), 0o555);
    }
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| expand(a, d, cache.path()))
        .collect();
    // Root writes through read-only modes: such cases run as `nobody`.
    let as_nobody = !case.readonly.is_empty() && unsafe { libc::geteuid() } == 0;
    let mut cmd = if as_nobody {
        set_mode(d, 0o777);
        set_mode(cache.path(), 0o777);
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_turnkey"))
            .current_dir(common::root())
            .env_remove("TURNKEY_CACHE_DIR");
        c
    } else {
        common::turnkey()
    };
    cmd.args(&args).stdin(std::process::Stdio::null());
    for (k, v) in &case.env {
        cmd.env(k, expand(v, d, cache.path()));
    }
    let out = cmd.output().expect("run turnkey");
    for f in &case.readonly {
        set_mode(&d.join(f), 0o755);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shown = format!("args: {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if stderr.contains(bad) || stdout.contains(bad) {
            return Err(format!("{name}: output contains {bad:?}\n{shown}"));
        }
    }
    let code = out.status.code().unwrap_or(-1);
    if code != case.exit {
        return Err(format!(
            "{name}: exit code {code}, want {}\n{shown}",
            case.exit
        ));
    }
    let re = Regex::new(&case.error).map_err(|e| format!("{name}: bad regex: {e}"))?;
    let hits = stderr.lines().filter(|l| re.is_match(l)).count();
    if hits != 1 {
        return Err(format!(
            "{name}: want exactly one stderr line matching {:?}, got {hits}\n{shown}",
            case.error
        ));
    }
    if let Some(prefix) = &case.good {
        let built = std::fs::read_dir(cache.path().join("builds"))
            .map(|rd| {
                rd.flatten().any(|e| {
                    e.file_name().to_string_lossy().starts_with(prefix)
                        && e.path().join("record.json").exists()
                })
            })
            .unwrap_or(false);
        if !built {
            return Err(format!(
                "{name}: the good input {prefix:?} was not recorded\n{shown}"
            ));
        }
    }
    for (f, bytes) in before {
        match std::fs::read(d.join(&f)) {
            Ok(now) if now == bytes => {}
            _ => return Err(format!("{name}: {f} was changed or removed\n{shown}")),
        }
    }
    Ok(())
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn every_bad_input_gets_its_one_line_error() {
    let folder = common::root().join("tests/bad_inputs");
    let mut names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "the catalogue has {} cases", names.len());
    let mut failures = Vec::new();
    for p in &names {
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(p).unwrap();
        let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Err(e) = check(&name, &case) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}
