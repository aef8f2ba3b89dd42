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
            if name.starts_with("anon$") || matches!(m.access, rhai::FnAccess::Private) {
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
            e.signatures.len(),
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
        assert!(!e.signatures.is_empty(), "`{name}` has no signature");
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
