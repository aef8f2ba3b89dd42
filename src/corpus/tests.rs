use super::*;

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const LINEAR: &str = "let m = nn::linear(4, 4);\nm.forward(rand([1, 4]));\n";

fn opts() -> ExpandOptions {
    ExpandOptions::default()
}

fn names(plan: &Plan, root: &Path) -> Vec<String> {
    plan.jobs
        .iter()
        .map(|j| {
            j.path()
                .strip_prefix(root)
                .unwrap_or(j.path())
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn directories_globs_and_lists() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "a/x.rhai", LINEAR);
    write(r, "a/b/y.onnx", "");
    write(r, "a/readme.md", "");
    write(r, "a/__init__.rhai", "");
    write(r, "a/.hidden/z.rhai", LINEAR);
    write(r, "c/w.rhai", LINEAR);
    write(r, "list.txt", "# comment\n\nc/w.rhai\na/*.rhai\n");

    let plan = expand(&[r.join("a")], &opts()).unwrap();
    assert_eq!(names(&plan, r), ["a/b/y.onnx", "a/x.rhai"]);
    assert!(
        plan.notes.iter().any(|n| n.contains("__init__.rhai")),
        "{:?}",
        plan.notes
    );
    assert!(
        !plan.notes.iter().any(|n| n.contains("readme")),
        "dirs ignore other files silently"
    );

    let plan = expand(&[r.join("list.txt")], &opts()).unwrap();
    assert_eq!(names(&plan, r), ["c/w.rhai", "a/x.rhai"]);

    let plan = expand(&[r.join("a/*"), r.join("nothing/*.rhai")], &opts()).unwrap();
    assert_eq!(names(&plan, r), ["a/b/y.onnx", "a/x.rhai"]);
    assert_eq!(plan.failures.len(), 1);
    assert!(plan.failures[0].contains("nothing/*.rhai: no file matches"));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("readme.md") && n.contains("not a .rhai"))
    );
}

#[test]
fn odd_inputs_are_notes_or_failures_never_errors() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let py = write(r, "model.py", "");
    let self_list = write(r, "self.txt", "self.txt\n");
    let plan = expand(
        &[py, r.join("gone.bin"), self_list, r.join("missing.rhai")],
        &opts(),
    )
    .unwrap();
    assert!(
        plan.notes.iter().any(|n| n.contains("model.py")),
        "{:?}",
        plan.notes
    );
    let f = plan.failures.join("\n");
    assert!(f.contains("gone.bin: no such file"), "{f}");
    assert!(f.contains("nest deeper"), "{f}");
    // A missing script is a job: the pipeline reports (and records) it.
    assert_eq!(names(&plan, r), ["missing.rhai"]);
}

#[test]
fn duplicates_run_once() {
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "x.rhai", LINEAR);
    let plan = expand(&[s.clone(), d.path().to_path_buf(), s], &opts()).unwrap();
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(
        plan.notes
            .iter()
            .filter(|n| n.contains("more than once"))
            .count(),
        2
    );
}

/// A corpus folder of links to another's files (models/vision/ keeps the
/// old paths of models/torchvision/): a glob over both runs each file once,
/// without a note per link.
#[test]
fn a_file_and_a_link_to_it_run_once_quietly() {
    let d = tempfile::tempdir().unwrap();
    let new = d.path().join("torchvision");
    let old = d.path().join("vision");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(&old).unwrap();
    write(&new, "x.rhai", LINEAR);
    std::os::unix::fs::symlink("../torchvision/x.rhai", old.join("x.rhai")).unwrap();
    let pattern = d.path().join("*").join("*.rhai");
    let plan = expand(&[pattern], &opts()).unwrap();
    assert_eq!(plan.jobs.len(), 1, "{:?}", plan.jobs);
    assert!(plan.jobs[0].path().ends_with("torchvision/x.rhai"));
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    // Each path alone still runs.
    let plan = expand(&[old.join("x.rhai")], &opts()).unwrap();
    assert_eq!(plan.jobs.len(), 1);
}

#[test]
fn label_filter_keeps_matching_scripts_and_onnx() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(
        r,
        "v.rhai",
        &format!("# labels: task::vision author::a\n{LINEAR}"),
    );
    write(
        r,
        "n.rhai",
        &format!("# labels: task::nlp author::b\n{LINEAR}"),
    );
    write(r, "none.rhai", LINEAR);
    write(r, "m.onnx", "");
    let mut o = opts();
    o.filter = LabelFilter::parse(&["task::vision,nlp author::a".into()]).unwrap();
    let plan = expand(&[r.to_path_buf()], &o).unwrap();
    assert_eq!(names(&plan, r), ["v.rhai"]);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("3 input(s) skipped")),
        "{:?}",
        plan.notes
    );

    o.labels_for = vec![LabelsFor::parse("*.onnx=task::vision author::a").unwrap()];
    let plan = expand(&[r.to_path_buf()], &o).unwrap();
    assert_eq!(names(&plan, r), ["m.onnx", "v.rhai"]);
    assert_eq!(plan.jobs[0].labels["task"], ["vision"]);
}

#[test]
fn sweeps_make_one_job_per_point() {
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "t.rhai", LINEAR);
    let o = write(d.path(), "m.onnx", "");
    let mut opt = opts();
    opt.script_args = "--height 32".into();
    opt.sweep = Sweep::parse("batch_size=1,8 max_seq_length=16,32", "--sweep").unwrap();
    opt.bindings.axes.insert("seq".into(), 7);
    let plan = expand(&[s, o], &opt).unwrap();
    assert_eq!(plan.jobs.len(), 8);
    let JobKind::Script { args, .. } = &plan.jobs[1].kind else {
        panic!()
    };
    assert_eq!(args.text, "--batch_size 1 --height 32 --max_seq_length 32");
    assert_eq!(
        point_string(&plan.jobs[1].point),
        "batch_size=1 max_seq_length=32"
    );
    let JobKind::Onnx(j) = &plan.jobs[6].kind else {
        panic!()
    };
    assert_eq!(
        j.bindings.describe(),
        "batch_size=8 max_seq_length=16 seq=7"
    );
    assert_eq!(j.stem, "m");

    // A value a script cannot take stops the run before it starts.
    opt.sweep = Sweep::parse("batch_size=one", "--sweep").unwrap();
    let e = expand(&[d.path().join("t.rhai")], &opt).unwrap_err();
    assert!(
        e.starts_with("--sweep: --batch_size takes an integer"),
        "{e}"
    );
    opt.sweep = Sweep::parse("bogus=1", "--sweep").unwrap();
    let e = expand(&[d.path().join("t.rhai")], &opt).unwrap_err();
    assert!(e.contains("unknown argument --bogus"), "{e}");
}

#[test]
fn manifests_expand_with_their_settings() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "models/t.rhai", &format!("# labels: task::x\n{LINEAR}"));
    write(r, "models/m.onnx", "");
    let models = r.join("zoo");
    write(&models, "oss/tiny@3/model.onnx", "");
    let man = write(
        r,
        "corpora/c.toml",
        r#"name = "suite"
runtimes = ["tract"]
[defaults]
atol = 0.5
[[script]]
path = "../models/t.rhai"
sweep = { batch_size = [2, 4] }
script_args = "--height 64"
[[onnx]]
name = "local"
path = "../models/m.onnx"
axes = { b = 3 }
expected_failure = "boom.*"
[[onnx]]
name = "tiny"
set = "oss"
version = 3
[[onnx]]
name = "gone"
set = "oss"
version = 1
"#,
    );
    let mut o = opts();
    o.models_dir = Some(models.clone());
    let plan = expand(std::slice::from_ref(&man), &o).unwrap();
    assert_eq!(plan.jobs.len(), 5, "{:?}", plan.jobs);
    let j = &plan.jobs[0];
    assert_eq!(j.origin, format!("{}:5", man.display()));
    assert_eq!(j.runtimes.as_deref(), Some(&["tract".to_string()][..]));
    assert_eq!(j.atol, Some(0.5));
    assert_eq!(j.labels["corpus"], ["suite"]);
    let JobKind::Script { args, .. } = &plan.jobs[1].kind else {
        panic!()
    };
    assert_eq!(args.text, "--batch_size 4 --height 64");
    let JobKind::Onnx(l) = &plan.jobs[2].kind else {
        panic!()
    };
    assert_eq!((l.stem.as_str(), l.bindings.axes["b"]), ("local", 3));
    assert!(plan.jobs[2].expected_failure.is_some());
    let JobKind::Onnx(t) = &plan.jobs[3].kind else {
        panic!()
    };
    assert_eq!(t.path, models.join("oss/tiny@3/model.onnx"));
    let JobKind::Invalid { name, error, .. } = &plan.jobs[4].kind else {
        panic!()
    };
    assert_eq!(name, "gone");
    assert!(error.contains("oss/gone@1/model.onnx"), "{error}");

    // --runtime on the command line wins; --axis wins over the manifest.
    o.runtimes_from_cli = true;
    o.bindings.axes.insert("b".into(), 9);
    let plan = expand(std::slice::from_ref(&man), &o).unwrap();
    assert!(plan.jobs.iter().all(|j| j.runtimes.is_none()));
    let JobKind::Onnx(l) = &plan.jobs[2].kind else {
        panic!()
    };
    assert_eq!(l.bindings.axes["b"], 9);

    // A broken manifest is one invalid job, named after the file and line.
    let bad = write(r, "corpora/bad.toml", "name = \"b\"\nwhat = 1\n");
    let plan = expand(&[bad, man], &o).unwrap();
    let JobKind::Invalid { name, error, .. } = &plan.jobs[0].kind else {
        panic!()
    };
    assert_eq!(name, "bad");
    assert!(error.contains("bad.toml:2: unknown key `what`"), "{error}");
    assert_eq!(plan.jobs.len(), 6);
}

#[test]
fn flags_parse_or_name_themselves() {
    assert_eq!(
        parse_axes(&["batch_size=8 seq=128".into()]).unwrap(),
        BTreeMap::from([("batch_size".into(), 8), ("seq".into(), 128)])
    );
    assert!(
        parse_axes(&["batch_size".into()])
            .unwrap_err()
            .contains("--axis batch_size")
    );
    assert!(
        parse_axes(&["b=0".into()])
            .unwrap_err()
            .contains("not a positive integer")
    );
    assert_eq!(
        parse_shapes(&["x=1,3,224,224".into(), "s=".into()]).unwrap(),
        BTreeMap::from([("x".into(), vec![1, 3, 224, 224]), ("s".into(), vec![])])
    );
    assert!(
        parse_shapes(&["x=1,a".into()])
            .unwrap_err()
            .contains("'a' is not a size")
    );
    let a = CorpusArgs {
        sweep: vec!["batch_size=1,2".into(), "batch_size=4 height=8".into()],
        ..Default::default()
    };
    let o = ExpandOptions::from_args(&a, "", false).unwrap();
    assert_eq!(o.sweep.to_string(), "batch_size=4 height=8");
    let a = CorpusArgs {
        labels: vec!["broken".into()],
        ..Default::default()
    };
    assert!(
        ExpandOptions::from_args(&a, "", false)
            .unwrap_err()
            .starts_with("--labels")
    );
}

#[test]
fn onnx_stems() {
    assert_eq!(onnx_stem(Path::new("a/resnet50.onnx")), "resnet50");
    assert_eq!(onnx_stem(Path::new("node/test_abs/model.onnx")), "test_abs");
    assert_eq!(onnx_stem(Path::new("model.onnx")), "model");
}

#[test]
fn merged_args() {
    let a = merge_args(&["--batch_size 2"], &vec![]).unwrap();
    assert_eq!(a.text, "--batch_size 2");
    let a = merge_args(&["--batch_size 2 --height 3", "--height 5"], &vec![]).unwrap();
    assert_eq!(a.text, "--batch_size 2 --height 5");
    let a = merge_args(&["--pretrained"], &vec![("batch_size".into(), "8".into())]).unwrap();
    assert_eq!(a.text, "--batch_size 8 --pretrained true");
    assert!(a.values.contains_key("pretrained"));
}

#[test]
fn shipped_manifests_parse_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if ext(&p) != "toml" {
            continue;
        }
        seen += 1;
        let m = manifest::load(&p, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert!(!m.entries.is_empty(), "{}", p.display());
        if m.name == "selftest" {
            for e in &m.entries {
                match &e.kind {
                    manifest::EntryKind::Script { path } => assert!(path.is_file(), "{path:?}"),
                    manifest::EntryKind::Onnx { path, sha256, .. } => {
                        let path = path.as_ref().unwrap();
                        let real = crate::pipeline::file_sha256(path).unwrap();
                        assert_eq!(sha256.as_deref(), Some(real.as_str()), "{path:?}");
                    }
                }
            }
        }
    }
    assert!(seen >= 3, "selftest, vision, transformers");
}

#[test]
fn precisions_come_from_flags_sweeps_and_manifests() {
    use crate::runtime::GraphOptimization;
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let s = write(r, "m.rhai", LINEAR);
    let precisions = |p: &Plan| -> Vec<Vec<&str>> {
        p.jobs
            .iter()
            .map(|j| j.variants.precisions.iter().map(|p| p.as_str()).collect())
            .collect()
    };
    // A sweep's `precision` chooses variants: no job per value, no script argument.
    let mut o = opts();
    o.sweep = Sweep::parse("precision=fp32,int8-dynamic batch_size=1,2", "--sweep").unwrap();
    let plan = expand(std::slice::from_ref(&s), &o).unwrap();
    assert_eq!(plan.jobs.len(), 2, "one job per batch size");
    assert_eq!(
        precisions(&plan),
        [["fp32", "int8-dynamic"], ["fp32", "int8-dynamic"]]
    );
    match &plan.jobs[0].kind {
        JobKind::Script { args, .. } => assert_eq!(args.text, "--batch_size 1"),
        k => panic!("{k:?}"),
    }
    // --precision wins over the sweep.
    o.precisions = Some(vec![Precision::Fp16]);
    let plan = expand(std::slice::from_ref(&s), &o).unwrap();
    assert_eq!(precisions(&plan), [["fp16"], ["fp16"]]);
    // A bad sweep value is an error naming the key.
    let mut o = opts();
    o.sweep = Sweep::parse("precision=int4", "--sweep").unwrap();
    let e = expand(std::slice::from_ref(&s), &o).unwrap_err();
    assert!(
        e.contains("sweep precision: unknown precision 'int4'"),
        "{e}"
    );

    // Manifests: defaults, entries, their sweeps; a bad value names its line.
    let m = write(
        r,
        "suite.toml",
        "name = \"s\"\n[defaults]\nprecision = [\"fp32\", \"fp16\"]\n\
         [[script]]\npath = \"m.rhai\"\n\
         [[script]]\npath = \"m.rhai\"\nscript_args = \"--batch_size 2\"\nprecision = \"int8-static\"\nort_opt_level = [\"default\", \"basic\"]\n\
         [[script]]\npath = \"m.rhai\"\nscript_args = \"--batch_size 3\"\nsweep = { precision = [\"bf16\"] }\n",
    );
    let plan = expand(std::slice::from_ref(&m), &opts()).unwrap();
    assert_eq!(
        precisions(&plan),
        [vec!["fp32", "fp16"], vec!["int8-static"], vec!["bf16"]]
    );
    assert_eq!(
        plan.jobs[1].variants.ort_opt_levels,
        [None, Some(GraphOptimization::Basic)]
    );
    assert_eq!(plan.jobs[1].variants.keys().len(), 2);
    let bad = write(
        r,
        "bad.toml",
        "name = \"s\"\n[[script]]\npath = \"m.rhai\"\nprecision = \"fp8\"\n",
    );
    let plan = expand(&[bad], &opts()).unwrap();
    match &plan.jobs[0].kind {
        JobKind::Invalid { error, .. } => {
            assert!(
                error.contains("bad.toml:4: precision: unknown precision 'fp8'"),
                "{error}"
            )
        }
        k => panic!("{k:?}"),
    }
    // The flags parse or name themselves.
    let a = CorpusArgs {
        precision: Some("fp32,bogus".into()),
        ..Default::default()
    };
    let e = ExpandOptions::from_args(&a, "", false).unwrap_err();
    assert!(
        e.starts_with("--precision: unknown precision 'bogus'"),
        "{e}"
    );
    let a = CorpusArgs {
        ort_opt_level: Some("turbo".into()),
        ..Default::default()
    };
    let e = ExpandOptions::from_args(&a, "", false).unwrap_err();
    assert!(
        e.starts_with("--ort-opt-level: unknown ONNX Runtime optimization level"),
        "{e}"
    );
}
