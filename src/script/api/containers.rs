//! The containers `nn::sequential` and `nn::module`: models made of other
//! models, whose children are named (naming.rs) so that their parameters
//! are exported under PyTorch's state_dict names.

use super::super::model::{Layer, Model, rt_err};
use super::Api;
use super::util::R;
use crate::script::host::Host;
use crate::script::naming;
use rhai::{Array, Dynamic, FnPtr, ImmutableString, Map, NativeCallContext};

pub fn register(api: &mut Api) {
    api.family("nn");
    api.doc_layer("sequential")
        .about(
            "Runs its layers in order. Children are named by index (0, 1, ...) as in \
             nn.Sequential, or by name when an item is a [name, model] pair (as \
             nn.Sequential(OrderedDict(...))); parameters are exported as `2.weight`, \
             `conv0.weight`. The name is the class shown in reports (default \"Sequential\").",
        )
        .torch("nn.Sequential");
    let h = api.host.clone();
    api.layer(
        "sequential",
        ["name", "layers"],
        move |ctx: NativeCallContext, name: ImmutableString, layers: Array| {
            sequential(&ctx, &h, &name, layers)
        },
    );
    let h = api.host.clone();
    api.layer(
        "sequential",
        ["layers"],
        move |ctx: NativeCallContext, layers: Array| sequential(&ctx, &h, "Sequential", layers),
    );
    api.doc_layer("module")
        .about(
            "A model from a closure over other models: |x| ... is its forward. The models the \
             closure captures are its children, named after the variables that hold them (an \
             array `layers` holds `layers.0`, `layers.1`, ...; a map `m` holds `m.key`), so a \
             captured `fc1` exports `fc1.weight`, as a PyTorch attribute `self.fc1` does. The \
             optional `children` map names children explicitly, for names that are not \
             variable names or would collide (`#{ \"attention.self\": attn }`; a dotted name \
             places the child as if the modules between existed); it wins over the variable \
             name. A module reachable by two paths (tied weights) is named after the first, \
             children counted in the order they were made, as state_dict() does.",
        )
        .torch("a custom nn.Module");
    let h = api.host.clone();
    api.layer(
        "module",
        ["name", "forward"],
        move |ctx: NativeCallContext, name: ImmutableString, f: FnPtr| {
            module(&ctx, &h, &name, None, f)
        },
    );
    let h = api.host.clone();
    api.layer(
        "module",
        ["name", "children", "forward"],
        move |ctx: NativeCallContext, name: ImmutableString, children: Map, f: FnPtr| {
            module(&ctx, &h, &name, Some(&children), f)
        },
    );
}

fn sequential(ctx: &NativeCallContext, h: &Host, name: &str, layers: Array) -> R<Model> {
    let mut children: Vec<(String, Model)> = Vec::new();
    for (i, l) in layers.into_iter().enumerate() {
        let l = l.flatten();
        let tn = l.type_name();
        let bad = || {
            rt_err(
                ctx,
                format!("nn::sequential: item {i} is {tn}, not a model or a [name, model] pair"),
            )
        };
        let (child_name, m) = if let Some(pair) = l.clone().try_cast::<Array>() {
            let [n, m] = <[Dynamic; 2]>::try_from(pair).map_err(|_| bad())?;
            let n = n.into_immutable_string().map_err(|_| bad())?;
            let m = m.flatten().try_cast::<Model>().ok_or_else(bad)?;
            if !naming::valid_name(&n) {
                return Err(rt_err(
                    ctx,
                    format!(
                        "nn::sequential: item {i}'s name \"{n}\" is not usable: use letters, \
                         digits and _ in dot-separated parts"
                    ),
                ));
            }
            (n.to_string(), m)
        } else {
            (i.to_string(), l.try_cast::<Model>().ok_or_else(bad)?)
        };
        if children.iter().any(|(n, _)| *n == child_name) {
            return Err(rt_err(
                ctx,
                format!("nn::sequential: two items are named \"{child_name}\""),
            ));
        }
        children.push((child_name, m));
    }
    if children.is_empty() {
        return Err(rt_err(ctx, "nn::sequential needs at least one layer"));
    }
    Ok(Model::with_children(
        h,
        name,
        Layer::Sequential,
        vec![],
        children,
    ))
}

fn module(
    ctx: &NativeCallContext,
    h: &Host,
    name: &str,
    names: Option<&Map>,
    f: FnPtr,
) -> R<Model> {
    let children = {
        let st = h.lock();
        let captured = st.fn_params.curried_names(&f, 1);
        naming::closure_children(name, &f, captured, names).map_err(|e| rt_err(ctx, e))?
    };
    Ok(Model::with_children(
        h,
        name,
        Layer::Closure(f),
        vec![],
        children,
    ))
}
