//! The reference against the engine: every registered name has an entry
//! with one signature per overload, and docs/API.md is current.

use super::Kind;
use crate::script::host::{Host, HostState};
use crate::script::{ScriptArgs, engine, reference};
use std::collections::BTreeMap;
use std::path::Path;

/// (entry key, overload count) of every function the engine can call,
/// natively registered or written in the stdlib.
fn registered() -> BTreeMap<String, usize> {
    let host = Host::new(HostState::new(ScriptArgs::default(), 0, None));
    let e = engine(&host, Path::new("t.rhai")).unwrap();
    let mut out: BTreeMap<String, Vec<(usize, Vec<std::any::TypeId>)>> = BTreeMap::new();
    let all = e.engine.collect_fn_metadata(
        None,
        |info| {
            let m = info.metadata;
            let name = m.name.as_str();
            if name.starts_with("anon$")
                || name.starts_with("__")
                || matches!(m.access, rhai::FnAccess::Private)
            {
                return None;
            }
            let base = name.strip_prefix("get$").unwrap_or(name);
            let key = if info.namespace.is_empty() {
                base.to_string()
            } else {
                format!("{}::{base}", info.namespace)
            };
            Some((key, (m.num_params, m.param_types.to_vec())))
        },
        false,
    );
    for (key, sig) in all {
        let v = out.entry(key).or_default();
        if !v.contains(&sig) {
            v.push(sig);
        }
    }
    out.into_iter().map(|(k, v)| (k, v.len())).collect()
}

#[test]
fn every_registered_name_has_an_entry_with_each_overload() {
    let book = reference();
    let reg = registered();
    assert!(reg.len() > 100, "only {} names found", reg.len());
    for (name, overloads) in &reg {
        let Some(e) = book.get(name) else {
            panic!("`{name}` can be called but has no reference entry");
        };
        assert_eq!(
            e.signatures.len() + e.refused,
            *overloads,
            "`{name}`: {} signatures in the reference, {overloads} overloads registered: {:?}",
            e.signatures.len(),
            e.signatures
        );
        assert!(!e.about.trim().is_empty(), "`{name}` has no description");
    }
    for (name, e) in &book.entries {
        assert!(
            reg.contains_key(name),
            "the reference documents `{name}`, which scripts cannot call"
        );
        assert!(
            !e.signatures.is_empty() || e.refused > 0,
            "`{name}` has no signature"
        );
        for s in &e.signatures {
            if e.kind != Kind::Builder {
                for p in &s.params {
                    assert_ne!(
                        p.ty, "?",
                        "`{name}`: parameter {} has an unnamed type",
                        p.name
                    );
                }
                assert_ne!(s.ret, "?", "`{name}` returns an unnamed type");
            }
        }
    }
}

#[test]
fn docs_api_md_is_current() {
    let want = reference().to_markdown();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md");
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/API.md is stale: regenerate it with `cargo run --release -- api --markdown > docs/API.md`"
    );
}

#[test]
fn hints_suggest_real_names() {
    let book = reference();
    let names =
        |w: &str| -> Vec<String> { book.closest(w, 4).iter().map(|e| e.name.clone()).collect() };
    assert!(names("reshap").contains(&"reshape".to_string()));
    assert!(names("cat").contains(&"cat".to_string()));
    assert!(names("view").contains(&"reshape".to_string()));
}

/// Runs `src` as a script file; the error text when it fails.
fn run_script(src: &str) -> Result<crate::script::Discovery, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.rhai");
    std::fs::write(&path, src).unwrap();
    crate::script::discover(&path, &crate::script::DiscoverOptions::default())
        .map_err(|e| e.to_string())
}

/// Every Rhai operator over every pairing of a Tensor or Model with a
/// value of each kind either gives a tensor (where PyTorch would) or an
/// error that says what to write; never a plain value.
#[test]
fn no_operator_on_a_tensor_or_model_yields_a_plain_value() {
    const OPS: &[&str] = &[
        "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "&", "|", "^", "<<", ">>",
    ];
    let kinds = [
        "x",
        "mask",
        "ids",
        "lin",
        "1",
        "2.5",
        "true",
        "\"s\"",
        "[1]",
        "#{a: 1}",
        "()",
        "'c'",
        "Fn(\"f\")",
    ];
    let traced = |k: &str| matches!(k, "x" | "mask" | "ids" | "lin");
    let mut body = String::new();
    for op in OPS {
        for a in kinds {
            for b in kinds {
                if !traced(a) && !traced(b) {
                    continue;
                }
                body.push_str(&format!(
                    "try {{ let r = {a} {op} {b}; if type_of(r) != \"Tensor\" {{ bad.push(`{a} {op} {b} gave ${{type_of(r)}}`); }} }} catch (e) {{ let m = `${{e}}`; if m.contains(\"not found\") || m.contains(\"turnkey::\") {{ bad.push(`{a} {op} {b}: ${{m}}`); }} else {{ errs += 1; }} }}\n"
                ));
            }
        }
    }
    for op in ["-", "+", "!"] {
        for a in ["x", "mask", "lin"] {
            body.push_str(&format!(
                "try {{ let r = {op}{a}; if type_of(r) != \"Tensor\" {{ bad.push(`{op}{a} gave ${{type_of(r)}}`); }} }} catch (e) {{ let m = `${{e}}`; if m.contains(\"not found\") {{ bad.push(`{op}{a}: ${{m}}`); }} else {{ errs += 1; }} }}\n"
            ));
        }
    }
    for cond in [
        "if x > 0.0 { 1 } else { 2 }",
        "x > 0.0 && true",
        "true && x > 0.0",
        "false || mask",
        "!mask && true",
        "switch x { 1 => 1, _ => 2 }",
        "switch [mask] { 1 => 1, _ => 2 }",
        "while mask { break; }",
    ] {
        body.push_str(&format!(
            "try {{ let r = {cond}; bad.push(`{cond} gave ${{type_of(r)}}`); }} catch (e) {{ let m = `${{e}}`; if !m.contains(\"expecting bool\") && !m.contains(\"where(\") {{ bad.push(`{cond}: ${{m}}`); }} }}\n"
        ));
    }
    let src = format!(
        "let lin = nn::linear(3, 3);\nlet m = nn::module(\"Ops\", |x| {{\n let mask = x > 0.5;\n let ids = randint(0, 3, [2, 3]);\n let bad = [];\n let errs = 0;\n{body}\n if bad.len() > 0 {{ throw bad; }}\n if errs < 100 {{ throw `only ${{errs}} errors`; }}\n x\n}});\nm.forward(rand([2, 3]));\n"
    );
    if let Err(e) = run_script(&src) {
        panic!("{e}");
    }
}

#[test]
fn comparisons_and_logic_follow_pytorch() {
    // Values checked on tract, numbers promoted as PyTorch promotes them.
    let d = run_script(
        "let m = nn::module(\"C\", |x| {\n let ids = randint(0, 5, [4]);\n [x > 0.5, 0.5 <= x, x != x, (x > 0.2) & (x < 0.8), !(x > 0.5), ids * 0.5, ids / 2, ids == 3]\n});\nm.forward(rand([4]));\n",
    )
    .unwrap();
    let g = &d.builds[0].graph;
    let dtypes: Vec<String> = g
        .outputs
        .iter()
        .map(|&o| g.info(o).dtype.name().to_string())
        .collect();
    assert_eq!(
        dtypes,
        [
            "bool", "bool", "bool", "bool", "bool", "float32", "float32", "bool"
        ]
    );
    let ops = g.stats().op_counts;
    for k in [
        "Greater",
        "LessOrEqual",
        "NotEqual",
        "And",
        "Not",
        "Less",
        "Equal",
        "Cast",
    ] {
        assert!(ops.contains_key(k), "{k} missing: {ops:?}");
    }
}

#[test]
fn errors_teach_the_right_call() {
    let e = run_script(
        "let m = nn::module(\"M\", |x| { let s = x.matmul(x.transpose(0, 1)); s + (x > 0.5) });\nm.forward(rand([2, 2]));",
    )
    .unwrap_err();
    assert!(e.contains("where(mask"), "{e}");
    let e = run_script("let m = nn::module(\"M\", |x| x.reshap([4]));\nm.forward(rand([2, 2]));")
        .unwrap_err();
    assert!(
        e.contains("did you mean reshape(x: Tensor, shape: array)"),
        "{e}"
    );
    let e = run_script("let m = nn::module(\"M\", |x| x.transpose(0));\nm.forward(rand([2, 2]));")
        .unwrap_err();
    assert!(
        e.contains("transpose(x: Tensor, dim0: int, dim1: int)"),
        "{e}"
    );
    // Uncaught, a tensor condition says why and what to write.
    for cond in [
        "if x > 0.0 { x } else { -x }",
        "if (x > 0.0) && true { x } else { x }",
        "switch x.mean(0) { 1 => x, _ => -x }",
    ] {
        let e = run_script(&format!(
            "let m = nn::module(\"M\", |x| {cond});\nm.forward(rand([2, 2]));"
        ))
        .unwrap_err();
        assert!(
            e.contains(":1: ") && e.contains("trace time") && e.contains("where(cond, a, b)"),
            "{cond}: {e}"
        );
    }
    let big = format!("let t = [{}];", vec!["[1, 2, 3, 4, 5]"; 5000].join(", "));
    let e = run_script(&big).unwrap_err();
    assert!(e.contains("nested") && e.contains("arange"), "{e}");
}
