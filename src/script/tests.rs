//! Host tests: scripts written to temp files and discovered.

use super::*;
use std::io::Write;

fn run_src(src: &str, args: &str) -> Result<Discovery, ScriptError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rhai");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    let opts = DiscoverOptions {
        script_args: ScriptArgs::parse(args).unwrap(),
        ..Default::default()
    };
    discover(&path, &opts)
}

fn params_of(layer: &str, input: &str) -> u64 {
    let src = format!("let m = {layer};\nm.forward({input});\n");
    let d = run_src(&src, "").unwrap_or_else(|e| panic!("{layer}: {e}"));
    d.builds[0].graph.stats().params
}

/// Each stdlib layer's parameter count equals PyTorch's formula.
#[test]
fn layer_param_counts_match_pytorch() {
    // nn.Linear: in*out + out
    assert_eq!(params_of("nn::linear(10, 10)", "rand([1, 10])"), 110);
    assert_eq!(
        params_of("nn::linear(10, 5, #{bias: false})", "rand([1, 10])"),
        50
    );
    // nn.Conv2d: out*(in/groups)*k*k + out
    assert_eq!(
        params_of(
            "nn::conv2d(3, 64, 7, #{stride: 2, padding: 3})",
            "rand([1, 3, 32, 32])"
        ),
        64 * 3 * 49 + 64
    );
    assert_eq!(
        params_of(
            "nn::conv2d(32, 32, 3, #{groups: 32, bias: false})",
            "rand([1, 32, 8, 8])"
        ),
        32 * 9
    );
    // nn.BatchNorm2d: 2*C (running stats are buffers)
    assert_eq!(params_of("nn::batch_norm2d(16)", "rand([1, 16, 4, 4])"), 32);
    // nn.LayerNorm: 2*D
    assert_eq!(params_of("nn::layer_norm(64)", "rand([2, 5, 64])"), 128);
    // nn.Embedding: N*D
    assert_eq!(
        params_of("nn::embedding(1000, 64)", "randint(0, 1000, [2, 7])"),
        64_000
    );
    // nn.MultiheadAttention: 4*E^2 + 4*E
    assert_eq!(
        params_of("nn::multi_head_attention(64, 4)", "rand([2, 7, 64])"),
        4 * 64 * 64 + 4 * 64
    );
    // nn.Dropout: none
    assert_eq!(params_of("nn::dropout(0.1)", "rand([2, 3])"), 0);
    // nn.ConvTranspose2d: in*(out/groups)*k*k + out
    assert_eq!(
        params_of(
            "nn::conv_transpose2d(8, 4, 2, #{stride: 2})",
            "rand([1, 8, 5, 5])"
        ),
        8 * 4 * 4 + 4
    );
    // an MLP [784, 128, 10]: two linears
    assert_eq!(
        params_of("nn::mlp([784, 128, 10])", "rand([1, 784])"),
        784 * 128 + 128 + 128 * 10 + 10
    );
    // PyTorch nn.TransformerEncoderLayer(64, 4, 256): attention + 2 linears + 2 norms
    assert_eq!(
        params_of(
            "nn::transformer_encoder_layer(64, 4, 256)",
            "rand([2, 7, 64])"
        ),
        (4 * 64 * 64 + 4 * 64) + (64 * 256 + 256) + (256 * 64 + 64) + 4 * 64
    );
}

#[test]
fn model_params_are_known_before_the_call() {
    let d = run_src(
        "let m = nn::sequential(\"TwoLayer\", [nn::linear(10, 5), nn::linear(5, 5)]);\nif m.params != 85 { throw `got ${m.params}`; }\nlet c = nn::module(\"C\", |x| m.forward(x));\nif c.params != 85 { throw `closure got ${c.params}`; }\nc.forward(rand([1, 10]));",
        "",
    )
    .unwrap();
    assert_eq!(d.builds[0].graph.stats().params, 85);
}

#[test]
fn script_args_change_the_build_and_weights_do_not() {
    let src = "let a = parse([\"batch_size\"]);\nlet m = nn::linear(10, 10);\nm.forward(rand([a.batch_size, 10]));";
    let b1 = run_src(src, "--batch_size 1").unwrap();
    let b8 = run_src(src, "--batch_size 8").unwrap();
    assert_ne!(b1.builds[0].hash, b8.builds[0].hash);
    assert_eq!(b1.builds[0].inputs[0].1.shape, vec![1, 10]);
    assert_eq!(b8.builds[0].inputs[0].1.shape, vec![8, 10]);
    // An extra layer made before (different seeds) changes weights, not the build.
    let other = run_src(
        &format!("let unused = nn::linear(3, 3);\n{src}"),
        "--batch_size 1",
    )
    .unwrap();
    assert_eq!(other.builds[0].hash, b1.builds[0].hash);
}

#[test]
fn same_model_same_shapes_is_one_build_run_twice() {
    let d = run_src(
        "let m = nn::linear(4, 4);\nm.forward(rand([2, 4]));\nm.forward(rand([2, 4]));\nm.forward(rand([3, 4]));",
        "",
    )
    .unwrap();
    assert_eq!(d.builds.len(), 2);
    assert_eq!(d.builds[0].executions, 2);
    assert_eq!(d.builds[1].executions, 1);
}

#[test]
fn outputs_have_real_shapes_and_feed_other_models() {
    let d = run_src(
        "let a = nn::linear(4, 6);\nlet b = nn::linear(6, 2);\nlet y = a.forward(rand([3, 4]));\nif y.shape != [3, 6] { throw `shape ${y.shape}`; }\nb.forward(y);",
        "",
    )
    .unwrap();
    assert_eq!(d.builds.len(), 2);
    assert_eq!(d.builds[1].inputs[0].1.shape, vec![3, 6]);
}

#[test]
fn max_depth_builds_sub_models() {
    let src = "let m = nn::sequential(\"TwoLayer\", [nn::linear(10, 5), nn::linear(5, 5)]);\nm.forward(rand([2, 10]));";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.rhai");
    std::fs::write(&path, src).unwrap();
    let opts = DiscoverOptions {
        max_depth: 1,
        ..Default::default()
    };
    let d = discover(&path, &opts).unwrap();
    assert_eq!(d.builds.len(), 3, "top + two linears");
    assert_eq!(d.builds[1].graph.name, "Linear");
    assert_eq!(d.builds[1].depth, 1);
    assert_eq!(d.builds[1].parent, Some(0));
    assert_eq!(d.builds[1].graph.stats().params, 55);
    assert_eq!(d.builds[2].graph.stats().params, 30);
}

#[test]
fn labels_docs_and_names() {
    let d = run_src(
        "# labels: name::x author::alice task::A,B\n//! Doc line.\nlet m = nn::linear(2, 2);\nm.forward(rand([1, 2]));",
        "",
    )
    .unwrap();
    assert_eq!(d.description, "Doc line.");
    assert!(
        d.builds[0].name.starts_with("t_alice_"),
        "{}",
        d.builds[0].name
    );
    assert_eq!(d.builds[0].name.len(), "t_alice_".len() + 8);
}

fn err_of(src: &str, args: &str) -> String {
    match run_src(src, args) {
        Ok(_) => panic!("expected an error for {src:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_scripts_give_one_line_with_file_and_line() {
    let cases: &[(&str, &str)] = &[
        ("let x = ;\n", "t.rhai:1: syntax error"),
        (
            "# labels: good::x bad\nlet x = 1;",
            "t.rhai:1: malformed labels token 'bad'",
        ),
        (
            "let a = parse([\"batch\"]);",
            "t.rhai:1: parse(): unknown argument \"batch\"; known: batch_size",
        ),
        ("let x = 1;\n", "no model call found"),
        (
            "let m = nn::linear(10, 5);\n\nm.forward(rand([2, 7]));",
            "t.rhai:3: Linear: Gemm: input has 7 features but the weight expects 10",
        ),
        (
            "let a = nn::linear(4, 4);\nlet m = nn::module(\"M\", |x| {\n  let y = a.forward(x);\n  y.matmul(rand([5, 5]))\n});\nm.forward(rand([1, 4]));",
            "t.rhai:4: MatMul: shapes [1, 4] and [5, 5] are not aligned",
        ),
        (
            "let t = rand([2, -1]);",
            "t.rhai:1: shape [2, -1] has a dimension -1",
        ),
        (
            "let t = rand([2, 2]);\nlet u = t.relu();",
            "t.rhai:2: tensor ops run only inside a model's forward",
        ),
        (
            "nn::linear(2, 2, #{bais: false});",
            "t.rhai:1: nn::linear: unknown option 'bais'",
        ),
        (
            "let t = rand([2], \"float8\");",
            "t.rhai:1: unknown dtype \"float8\"",
        ),
        (
            "import \"/etc/passwd\" as p;",
            "t.rhai:1: import \"/etc/passwd\" is not allowed",
        ),
    ];
    for (src, want) in cases {
        let got = err_of(src, "");
        assert!(got.contains(want), "for {src:?}\n got: {got}\nwant: {want}");
        assert_eq!(got.lines().count(), 1, "one line: {got}");
    }
}

#[test]
fn errors_in_stdlib_are_reported_at_the_users_line() {
    let got = err_of("let x = 1;\nlet m = nn::mlp([4]);", "");
    assert!(
        got.contains("t.rhai:2:") && got.contains("nn::mlp needs at least two sizes"),
        "{got}"
    );
}

#[test]
fn unused_script_args_warn() {
    let d = run_src(
        "let m = nn::linear(2, 2);\nm.forward(rand([1, 2]));",
        "--height 5",
    )
    .unwrap();
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0].contains("--height"));
}

#[test]
fn files_that_are_not_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let e = discover(dir.path(), &DiscoverOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a directory"), "{e}");
    let e = discover(
        &dir.path().join("missing.rhai"),
        &DiscoverOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing.rhai: no such file"), "{e}");
    let bin = dir.path().join("bin.rhai");
    std::fs::write(&bin, [0x66, 0xff, 0xfe, 0x00]).unwrap();
    let e = discover(&bin, &DiscoverOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not UTF-8"), "{e}");
}

#[test]
fn selftest_corpus_discovers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/selftest");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "rhai") {
            let d = discover(&p, &DiscoverOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!d.builds.is_empty());
            assert!(!d.description.is_empty(), "{} has no //! docs", p.display());
            assert!(d.labels.contains_key("author"));
            n += 1;
        }
    }
    assert!(n >= 5);
}

/// An endless loop ends at the deadline as a timeout naming the line.
#[test]
fn an_endless_loop_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loop.rhai");
    std::fs::write(&path, "let x = 0;\nloop { x += 1; }\n").unwrap();
    let opts = DiscoverOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let started = Instant::now();
    let e = discover(&path, &opts).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(e, ScriptError::Timeout { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("--timeout"), "{e}");
}

#[test]
fn runaway_values_and_recursion_fail_clearly() {
    let e = run_src("let a = [];\nloop { a.push(1); }\n", "").unwrap_err();
    assert!(e.to_string().contains("over the script limit"), "{e}");
    let e = run_src("let s = \"x\";\nloop { s += s; }\n", "").unwrap_err();
    assert!(e.to_string().contains("over the script limit"), "{e}");
    let e = run_src("fn f(n) { f(n + 1) }\nf(0);\n", "").unwrap_err();
    assert!(e.to_string().contains("endless recursion"), "{e}");
}

#[test]
fn max_memory_sizes_parse() {
    assert_eq!(parse_memory("8GiB").unwrap(), 8 << 30);
    assert_eq!(parse_memory("500 MB").unwrap(), 500_000_000);
    assert!(parse_memory("50%").unwrap() > 0);
    for bad in ["", "12x", "0", "-1GB", "150%", "0%"] {
        let e = parse_memory(bad).unwrap_err();
        assert!(e.starts_with("--max-memory"), "{bad}: {e}");
    }
}

/// Weights are refused at the forward line before export makes them.
#[test]
fn a_model_over_max_memory_fails_at_its_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.rhai");
    std::fs::write(
        &path,
        "let m = nn::linear(4096, 4096);\nlet x = rand([1, 4096]);\nm.forward(x);\n",
    )
    .unwrap();
    let opts = |m: u64| DiscoverOptions {
        max_memory: Some(m),
        ..Default::default()
    };
    let e = discover(&path, &opts(32 << 20)).unwrap_err().to_string();
    assert!(
        e.contains("big.rhai:3: Linear's parameters would take 64.0 MiB"),
        "{e}"
    );
    assert!(discover(&path, &opts(128 << 20)).is_ok());
}

/// TURNKEY_STDLIB_DIR reads the same files, under the same modules and in
/// the same order, as build.rs compiles in.
#[test]
fn stdlib_from_a_folder_matches_the_compiled_list() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
    let disk = super::stdlib_from(&dir).unwrap();
    let got: Vec<(&str, &str, bool)> = disk
        .iter()
        .map(|(m, f, s)| (*m, f.as_str(), s.is_empty()))
        .collect();
    let want: Vec<(&str, &str, bool)> = super::STDLIB
        .iter()
        .map(|(m, f, s)| (*m, *f, s.is_empty()))
        .collect();
    assert_eq!(got, want);
    assert!(want.contains(&("vision", "vision_swin", false)));
    assert!(!want[0].1.contains('_'), "a module's main file first");
}
