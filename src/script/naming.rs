//! PyTorch-style parameter names: every model knows its children by name
//! (`nn::sequential` by index, `nn::module` by the variables its forward
//! closure captures, or by an explicit map), and a traced call names each
//! parameter by its module path from the called model, as `state_dict()`
//! does: `features.3.weight`, `encoder.layer.0.attention.self.query.weight`.
//!
//! Rhai compiles a closure to an anonymous function whose first parameters
//! are the variables it captures, in the order the body first reads them,
//! and the closure's `FnPtr` curries their values in that same order; so the
//! parameter names of the compiled function name the captured values.

use super::model::{Layer, Model};
use crate::graph::{Graph, Source};
use rhai::{AST, Array, Dynamic, FnPtr, Map};
use std::collections::{HashMap, HashSet};

/// The parameter names of every script function (closures included) the
/// engine has compiled, by (name, arity).
#[derive(Default)]
pub struct FnParams(HashMap<(String, usize), Vec<String>>);

impl FnParams {
    pub fn add_ast(&mut self, ast: &AST) {
        for f in ast.iter_functions() {
            let params: Vec<String> = f.params.iter().map(|p| p.to_string()).collect();
            self.0.insert((f.name.to_string(), params.len()), params);
        }
    }

    /// The names of the values a function pointer curries, when known.
    pub fn curried_names(&self, f: &FnPtr, arity: usize) -> Option<&[String]> {
        let params = self
            .0
            .get(&(f.fn_name().to_string(), f.curry().len() + arity))?;
        Some(&params[..f.curry().len()])
    }
}

/// `a.b` from a parent path and a child name (the root's path is empty).
pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Whether `name` can name a child module: dot-separated segments of
/// letters, digits, `_` and `-` (a dotted name places the child as if the
/// modules between existed, e.g. "attention.self").
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        })
}

/// The models held by `value`, named after `name`: a model is `name`, an
/// array's items `name.0`, `name.1`, ... (nn.ModuleList), a map's entries
/// `name.key` (nn.ModuleDict); other values hold none.
fn named_models(name: &str, value: &Dynamic, out: &mut Vec<(String, Model)>) {
    let value = value.flatten_clone();
    if let Some(m) = value.clone().try_cast::<Model>() {
        out.push((name.to_string(), m));
    } else if let Some(a) = value.clone().try_cast::<Array>() {
        for (i, x) in a.iter().enumerate() {
            named_models(&join(name, &i.to_string()), x, out);
        }
    } else if let Some(m) = value.try_cast::<Map>() {
        for (k, x) in &m {
            named_models(&join(name, k), x, out);
        }
    }
}

/// The children of `nn::module(class, [names,] forward)`: the entries of
/// the explicit `names` map first, then every model the closure captures,
/// named after the variable holding it; a model is a child once (its first
/// name). Children are kept in the order they were made (PyTorch registers
/// submodules in the order `__init__` assigns them), which decides the name
/// of a module reachable by two paths.
pub fn closure_children(
    class: &str,
    forward: &FnPtr,
    captured: Option<&[String]>,
    names: Option<&Map>,
) -> Result<Vec<(String, Model)>, String> {
    let mut found = Vec::new();
    if let Some(names) = names {
        for (k, v) in names {
            if !valid_name(k) {
                return Err(format!(
                    "nn::module(\"{class}\"): child name \"{k}\" is not usable: use letters, \
                     digits and _ in dot-separated parts"
                ));
            }
            let before = found.len();
            named_models(k, v, &mut found);
            if found.len() == before {
                return Err(format!(
                    "nn::module(\"{class}\"): \"{k}\" names {}, which holds no model",
                    v.type_name()
                ));
            }
        }
    }
    for (i, v) in forward.curry().iter().enumerate() {
        let name = match captured {
            Some(names) => names[i].clone(),
            None => i.to_string(),
        };
        named_models(&name, v, &mut found);
    }
    let mut seen = HashSet::new();
    let mut by_name: HashMap<String, u64> = HashMap::new();
    let mut children = Vec::new();
    for (name, m) in found {
        if !seen.insert(m.def.uid) {
            continue;
        }
        if let Some(other) = by_name.insert(name.clone(), m.def.uid)
            && other != m.def.uid
        {
            return Err(format!(
                "nn::module(\"{class}\"): two different models are named \"{name}\"; give \
                 each child its own name"
            ));
        }
        children.push((name, m));
    }
    children.sort_by_key(|(_, m)| m.def.uid);
    check_param_names(class, &children)?;
    Ok(children)
}

/// Free parameters (`nn::parameter`) are named in the module that holds
/// them: two of one name, or one named like a child, would collide.
fn check_param_names(class: &str, children: &[(String, Model)]) -> Result<(), String> {
    let mut taken: HashSet<&str> = children
        .iter()
        .filter(|(_, m)| !matches!(m.def.layer, Layer::Parameter))
        .map(|(n, _)| n.as_str())
        .collect();
    for (_, m) in children {
        if matches!(m.def.layer, Layer::Parameter) {
            for p in &m.def.params {
                if !taken.insert(p.local.as_str()) {
                    return Err(format!(
                        "nn::module(\"{class}\"): the parameter \"{}\" is named like another \
                         child or parameter of this module; rename one",
                        p.local
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The module path of every model reachable from `root`, by model id, as
/// `named_modules()` walks them: the model, then its children in order,
/// depth first; a model reachable by two paths keeps the first. A free
/// parameter (`nn::parameter`) takes its parent's path, so its value is
/// named `parent.name`.
pub fn module_paths(root: &Model) -> HashMap<u64, String> {
    let mut paths = HashMap::new();
    walk(root, String::new(), &mut paths);
    paths
}

fn walk(m: &Model, path: String, paths: &mut HashMap<u64, String>) {
    if paths.contains_key(&m.def.uid) {
        return;
    }
    paths.insert(m.def.uid, path.clone());
    for (name, child) in &m.def.children {
        let p = if matches!(child.def.layer, Layer::Parameter) {
            path.clone()
        } else {
            join(&path, name)
        };
        walk(child, p, paths);
    }
}

/// `model.get_submodule("a.b.0")`: the child at a dotted path.
pub fn submodule(m: &Model, target: &str) -> Result<Model, String> {
    if target.is_empty() {
        return Ok(m.clone());
    }
    // A child's name may itself hold dots ("attention.self"): match the
    // longest name that is a prefix of what is left.
    let mut cur = m.clone();
    let mut rest = target;
    while !rest.is_empty() {
        let next = cur
            .def
            .children
            .iter()
            .filter(|(n, _)| rest == n || rest.starts_with(&format!("{n}.")))
            .max_by_key(|(n, _)| n.len())
            .cloned();
        let Some((name, child)) = next else {
            let names: Vec<&str> = cur.def.children.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "{} has no submodule \"{target}\" (its children: {})",
                m.class(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        };
        rest = rest[name.len()..].trim_start_matches('.');
        cur = child;
    }
    Ok(cur)
}

/// A sub-model built on its own (`--max-depth`) names its parameters as its
/// own state_dict() would, relative to its module path (`layer1.0.conv1.weight`
/// is `0.conv1.weight` in the build of `layer1`); a weight it reads from
/// outside itself (tied to another module) keeps its full name.
pub fn relative_to(g: &mut Graph, path: &str) {
    if path.is_empty() {
        return;
    }
    let prefix = format!("{path}.");
    for v in &mut g.values {
        if let Source::Param(i) = v.source
            && let Some(rest) = v.name.strip_prefix(&prefix)
        {
            v.name = rest.to_string();
            g.params[i].name = v.name.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::script::{DiscoverOptions, Discovery, discover};

    fn run(src: &str) -> Result<Discovery, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rhai");
        std::fs::write(&path, src).unwrap();
        discover(&path, &DiscoverOptions::default()).map_err(|e| e.to_string())
    }

    /// (name, shape) of the first build's parameters, in first-use order.
    fn names(src: &str) -> Vec<(String, Vec<usize>)> {
        let d = run(src).unwrap_or_else(|e| panic!("{e}"));
        let g = &d.builds[0].graph;
        g.params
            .iter()
            .map(|p| (p.name.clone(), p.info.shape.clone()))
            .collect()
    }

    fn just_names(src: &str) -> Vec<String> {
        names(src).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn captured_variables_name_the_children() {
        let src = r#"
let fc1 = nn::linear(4, 3);
let fc2 = nn::linear(3, 2, #{ bias: false });
let m = nn::module("TwoLayer", |x| fc2.forward(relu(fc1.forward(x))));
m.forward(rand([1, 4]));
"#;
        assert_eq!(
            names(src),
            [
                ("fc1.weight".to_string(), vec![3, 4]),
                ("fc1.bias".to_string(), vec![3]),
                ("fc2.weight".to_string(), vec![2, 3]),
            ]
        );
    }

    #[test]
    fn arrays_and_maps_are_module_lists_and_dicts() {
        let src = r#"
let layers = [nn::linear(2, 2), nn::sequential([nn::relu(), nn::linear(2, 2)])];
let heads = #{ cls: nn::linear(2, 1), box: nn::linear(2, 4) };
let m = nn::module("M", |x| {
    for l in layers { x = l.forward(x); }
    [heads.cls.forward(x), heads["box"].forward(x)]
});
m.forward(rand([1, 2]));
"#;
        assert_eq!(
            just_names(src),
            [
                "layers.0.weight",
                "layers.0.bias",
                "layers.1.1.weight",
                "layers.1.1.bias",
                "heads.cls.weight",
                "heads.cls.bias",
                "heads.box.weight",
                "heads.box.bias",
            ]
        );
    }

    #[test]
    fn explicit_names_win_over_variables_and_may_be_dotted() {
        // `self` is a keyword in many languages and `shared` is reserved in
        // Rhai: a name that cannot be a variable comes from the map.
        let src = r#"
let query = nn::linear(2, 2);
let attn_out = nn::linear(2, 2);
let blocks = [nn::linear(2, 2), nn::linear(2, 2)];
let names = #{ "attention.self.query": query, "attention.output.dense": attn_out, "shared": blocks };
let m = nn::module("Layer", names, |x| {
    let h = attn_out.forward(query.forward(x));
    for b in blocks { h = b.forward(h); }
    h
});
m.forward(rand([1, 2]));
"#;
        assert_eq!(
            just_names(src),
            [
                "attention.self.query.weight",
                "attention.self.query.bias",
                "attention.output.dense.weight",
                "attention.output.dense.bias",
                "shared.0.weight",
                "shared.0.bias",
                "shared.1.weight",
                "shared.1.bias",
            ]
        );
    }

    #[test]
    fn sequential_items_may_be_named_pairs() {
        let src = r#"
let features = nn::sequential("Features", [
    ["conv0", nn::conv2d(3, 4, 3)], ["relu0", nn::relu()], ["2", nn::conv2d(4, 4, 1, #{ bias: false })],
]);
let m = nn::sequential("Net", [features, nn::flatten(1)]);
m.forward(rand([1, 3, 5, 5]));
"#;
        assert_eq!(
            just_names(src),
            ["0.conv0.weight", "0.conv0.bias", "0.2.weight"]
        );
        let bad = |items: &str| run(&format!("let s = nn::sequential({items});")).unwrap_err();
        let e = bad(r#"[["a", nn::relu()], ["a", nn::relu()]]"#);
        assert!(e.contains("two items are named \"a\""), "{e}");
        let e = bad(r#"[["a b", nn::relu()]]"#);
        assert!(e.contains("item 0's name \"a b\" is not usable"), "{e}");
        let e = bad(r#"[[nn::relu(), "a"]]"#);
        assert!(
            e.contains("item 0 is array, not a model or a [name, model] pair"),
            "{e}"
        );
    }

    #[test]
    fn free_parameters_are_named_in_the_module_holding_them() {
        // torchvision's ViT: `class_token` on the model, `pos_embedding` on
        // its encoder; the variable holding a parameter does not rename it.
        let src = r#"
let cls = nn::parameter("class_token", [1, 1, 4]);
let pos = nn::parameter("pos_embedding", [1, 3, 4], #{ init: "normal", std: 0.02 });
let ln = nn::layer_norm(4);
let encoder = nn::module("Encoder", |x| ln.forward(x + pos.param("pos_embedding")));
let vit = nn::module("ViT", |x| encoder.forward(concat([cls.param("class_token"), x], 1)));
vit.forward(rand([1, 2, 4]));
"#;
        assert_eq!(
            just_names(src),
            [
                "class_token",
                "encoder.pos_embedding",
                "encoder.ln.weight",
                "encoder.ln.bias"
            ]
        );
        let e = run(r#"
let a = nn::parameter("bias", [2]);
let b = nn::parameter("bias", [2]);
let m = nn::module("M", |x| x + a.param("bias") + b.param("bias"));
"#)
        .unwrap_err();
        assert!(
            e.contains("the parameter \"bias\" is named like another child"),
            "{e}"
        );
    }

    #[test]
    fn a_shared_module_is_one_initializer_named_after_its_first_registration() {
        // T5: the embedding is made first and held by the model (`shared`)
        // and by both stacks (`embed_tokens`): state_dict() keeps
        // `shared.weight` first, and torch.onnx names the initializer so.
        let src = r#"
let shared_embedding = nn::embedding(10, 4);
let stack = |e| nn::module("Stack", |ids| { let embed_tokens = e; embed_tokens.forward(ids) });
let encoder = stack.call(shared_embedding);
let decoder = stack.call(shared_embedding);
let m = nn::module("T5", #{ "shared": shared_embedding }, |ids| {
    let h = encoder.forward(ids) + decoder.forward(ids);
    matmul(h, shared_embedding.param("weight").transpose(0, 1))
});
m.forward(randint(0, 10, [1, 3]));
"#;
        assert_eq!(names(src), [("shared.weight".to_string(), vec![10, 4])]);
        // GPT-2: the head reads the embedding through the transformer
        // without holding it, so it stays `transformer.wte.weight`.
        let src = r#"
let wte = nn::embedding(10, 4);
let transformer = nn::module("GPT2Model", |ids| wte.forward(ids));
let m = nn::module("GPT2LMHeadModel", |ids| {
    matmul(transformer.forward(ids), transformer.get_submodule("wte").param("weight").transpose(0, 1))
});
m.forward(randint(0, 10, [1, 3]));
"#;
        assert_eq!(just_names(src), ["transformer.wte.weight"]);
    }

    #[test]
    fn names_that_would_collide_are_errors() {
        let e = run(r#"
let a = nn::linear(2, 2);
let other = nn::linear(2, 2);
let m = nn::module("M", #{ a: other }, |x| a.forward(other.forward(x)));
"#)
        .unwrap_err();
        assert!(e.contains("two different models are named \"a\""), "{e}");
        let e = run(r#"let m = nn::module("M", #{ "a..b": nn::relu() }, |x| x);"#).unwrap_err();
        assert!(e.contains("child name \"a..b\" is not usable"), "{e}");
        let e = run(r#"let m = nn::module("M", #{ a: 3 }, |x| x);"#).unwrap_err();
        assert!(e.contains("\"a\" names i64, which holds no model"), "{e}");
        // A dotted name and a nested module that reach the same path.
        let e = run(r#"
let inner = nn::linear(2, 2);
let a = nn::module("A", |x| inner.forward(x));
let flat = nn::linear(2, 2);
let m = nn::module("M", #{ "a.inner": flat }, |x| flat.forward(a.forward(x)));
m.forward(rand([1, 2]));
"#)
        .unwrap_err();
        assert!(
            e.contains("two parameters would both be named \"a.inner.weight\""),
            "{e}"
        );
    }

    #[test]
    fn get_submodule_follows_dotted_paths() {
        let src = r#"
let inner = nn::sequential([nn::linear(2, 3), nn::relu()]);
let m = nn::module("M", #{ "attention.self": inner }, |x| x);
let a = m.get_submodule("attention.self.0");
if a.params != 9 { throw `got ${a.params}`; }
if m.get_submodule("").params != 9 { throw "root"; }
m.get_submodule("attention.other");
"#;
        let e = run(src).unwrap_err();
        assert!(
            e.contains("M has no submodule \"attention.other\" (its children: attention.self)"),
            "{e}"
        );
    }

    #[test]
    fn models_made_inside_a_forward_are_named_after_their_class() {
        let src = r#"
let m = nn::module("M", |x| nn::linear(2, 2).forward(nn::linear(2, 2).forward(x)));
m.forward(rand([1, 2]));
"#;
        assert_eq!(
            just_names(src),
            [
                "linear0.weight",
                "linear0.bias",
                "linear1.weight",
                "linear1.bias"
            ]
        );
    }

    #[test]
    fn a_sub_model_build_names_its_weights_relative_to_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rhai");
        std::fs::write(
            &path,
            r#"
let wte = nn::embedding(10, 4);
let fc = nn::linear(4, 4);
let block = nn::module("Block", |x| fc.forward(x) + wte.param("weight").slice(0, 0, 1));
let blocks = [block];
let m = nn::module("M", |ids| { let h = wte.forward(ids); for b in blocks { h = b.forward(h); } h });
m.forward(randint(0, 10, [1, 3]));
"#,
        )
        .unwrap();
        let opts = crate::script::DiscoverOptions {
            max_depth: 1,
            ..Default::default()
        };
        let d = discover(&path, &opts).unwrap();
        let sub = d
            .builds
            .iter()
            .find(|b| b.graph.name == "Block")
            .expect("the block's own build");
        let names: Vec<&str> = sub.graph.params.iter().map(|p| p.name.as_str()).collect();
        // `fc` is the block's own; wte is the model's, read by the block.
        assert!(names.contains(&"wte.weight"), "{names:?}");
        assert!(
            names.contains(&"fc.weight") && names.contains(&"fc.bias"),
            "{names:?}"
        );
    }
}
