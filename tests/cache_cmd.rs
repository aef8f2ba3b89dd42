//! `turnkey cache ...` and `--lean-cache` end to end, as a user tends a
//! cache: list, stats, clean, delete, location; and never deleting from a
//! folder that is not a cache.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const FAST: [&str; 6] = [
    "--iterations",
    "10",
    "--warmup-iterations",
    "2",
    "--warmup-time",
    "0.02",
];

fn bench(cache: &Path, extra: &[&str], scripts: &[&str]) {
    let d = cache.to_str().unwrap();
    let mut args = vec!["-d", d, "--runtime", "tract"];
    args.extend(FAST);
    args.extend(extra);
    args.extend(scripts);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

fn build_named(cache: &Path, prefix: &str) -> PathBuf {
    builds(cache)
        .into_iter()
        .find(|b| b.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} build in {}", cache.display()))
}

fn name(build: &Path) -> String {
    build.file_name().unwrap().to_str().unwrap().to_string()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        // Per-stage lock files come and go with runs; not what is checked.
        .filter(|n| !n.starts_with(".lock-"))
        .collect();
    v.sort();
    v
}

#[test]
fn list_stats_clean_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let d = cache.to_str().unwrap();
    bench(
        &cache,
        &[],
        &[
            "models/selftest/linear.rhai",
            "models/selftest/twolayer.rhai",
        ],
    );
    let linear = build_named(&cache, "linear");
    let twolayer = build_named(&cache, "twolayer");

    let r = run(&["cache", "list", "-d", d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("build") && lines[0].contains("last run"),
        "{}",
        r.stdout
    );
    for b in [&linear, &twolayer] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&name(b)))
            .unwrap_or_else(|| panic!("{} not listed:\n{}", name(b), r.stdout));
        assert!(
            line.contains("successful") && line.contains("1/1"),
            "{line}"
        );
    }
    assert!(r.stdout.contains("2 build(s)"), "{}", r.stdout);

    let r = run(&["cache", "stats", &name(&linear), "-d", d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("build       {}", name(&linear))),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("script      models/selftest/linear.rhai"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("tract/cpu successful"), "{}", r.stdout);
    assert!(r.stdout.contains("10 iterations"), "{}", r.stdout);
    assert!(r.stdout.contains("model.onnx"), "{}", r.stdout);
    let r = run(&["cache", "stats", "--json", &name(&linear), "-d", d]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["identity"]["name"], name(&linear).as_str());

    // clean: records stay, the report still works, the next run rebuilds.
    let r = run(&["cache", "clean", &name(&linear), "-d", d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("cleaned 1 build(s), freed "),
        "{}",
        r.stdout
    );
    assert_eq!(files(&linear), vec![".lock", "log", "record.json"]);
    assert!(twolayer.join("model.onnx").exists(), "only the named build");
    let out = tmp.path().join("out");
    let r = run(&["report", "-d", d, "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let csv = std::fs::read_to_string(out.join("turnkey-report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);

    let r = run(&["cache", "delete", &name(&linear), "-d", d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!linear.exists());
    let r = run(&["cache", "delete", &name(&linear), "-d", d]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!("no build '{}'", name(&linear)))
            && r.stderr.contains("cache list"),
        "{}",
        r.stderr
    );
    let r = run(&["cache", "delete", "../..", "-d", d]);
    assert_eq!(r.code, 2, "a path is not a build name");
    assert!(cache.exists());

    bench(&cache, &[], &["models/selftest/linear.rhai"]);
    let r = run(&["cache", "clean", "--all", "-d", d]);
    assert!(r.stdout.contains("cleaned 2 build(s)"), "{}", r.stdout);
    let r = run(&["cache", "delete", "--all", "-d", d]);
    assert!(r.stdout.contains("deleted 2 build(s)"), "{}", r.stdout);
    assert!(builds(&cache).is_empty());
    assert!(
        cache.join(".turnkeycache").is_file(),
        "the cache itself stays"
    );
    let r = run(&["cache", "list", "-d", d]);
    assert!(r.stdout.contains("0 build(s)"), "{}", r.stdout);

    // Neither a build nor --all: a usage error.
    let r = run(&["cache", "delete", "-d", d]);
    assert_eq!(r.code, 2);
    let r = run(&["cache", "delete", "x", "--all", "-d", d]);
    assert_eq!(r.code, 2);
}

#[test]
fn deleting_refuses_a_folder_that_is_not_a_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("Documents");
    std::fs::create_dir_all(docs.join("builds/thesis")).unwrap();
    std::fs::write(docs.join("builds/thesis/record.json"), "precious").unwrap();
    let d = docs.to_str().unwrap();
    for args in [
        vec!["cache", "delete", "--all", "-d", d],
        vec!["cache", "delete", "thesis", "-d", d],
        vec!["cache", "clean", "--all", "-d", d],
        vec!["cache", "list", "-d", d],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(
            r.stderr
                .contains("is not a turnkey cache (no .turnkeycache marker)"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(docs.join("builds/thesis/record.json")).unwrap(),
        "precious"
    );
    assert!(!docs.join(".turnkeycache").exists(), "nothing created");
    let missing = tmp.path().join("nope");
    let r = run(&["cache", "list", "-d", missing.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!missing.exists());
}

#[test]
fn location_follows_d_then_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path().join("here");
    let r = run(&["cache", "location", "-d", here.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.trim(), here.display().to_string());
    assert!(!here.exists(), "location creates nothing");
    let env = tmp.path().join("from_env");
    let out = turnkey()
        .args(["cache", "location"])
        .env("TURNKEY_CACHE_DIR", &env)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env.display().to_string()
    );
    let out = turnkey()
        .args(["cache", "location"])
        .env("HOME", tmp.path())
        .env_remove("XDG_CACHE_HOME")
        .output()
        .unwrap();
    let default = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        default.starts_with(&tmp.path().display().to_string()) && default.ends_with("turnkey"),
        "{default}"
    );
}

#[test]
fn lean_cache_drops_the_big_files_and_keeps_what_reports_need() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    bench(&cache, &["--lean-cache"], &["models/selftest/linear.rhai"]);
    let b = build_named(&cache, "linear");
    assert_eq!(files(&b), vec![".lock", "log", "record.json", "samples"]);
    let rec = record(&b);
    assert_eq!(rec["runtimes"][0]["status"], "successful");
    let out = tmp.path().join("out");
    let r = run(&[
        "report",
        "-d",
        cache.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("turnkey-report.json")).unwrap()).unwrap();
    assert_eq!(
        doc["rows"][0]["samples"]["count"], 10,
        "samples kept for the charts"
    );
    // A lean build is rebuilt by the next run, which works as before.
    bench(&cache, &["--lean-cache"], &["models/selftest/linear.rhai"]);
    assert_eq!(record(&b)["runtimes"][0]["status"], "successful");
    assert!(!b.join("model.onnx").exists());
}
