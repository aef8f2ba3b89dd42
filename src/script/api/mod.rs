//! Everything a script can call, registered one family per file. Each
//! registration goes through [`Api`], which records its signature in the
//! reference [`Book`] under an entry the family file wrote beside it:
//! a name without an entry panics at start-up (every test would fail), so
//! the reference cannot miss a function or drift from its arity.

mod activations;
mod comparison;
mod config_files;
mod constructors;
mod containers;
mod elementwise;
mod embeddings;
mod indexing;
mod linalg;
mod math;
mod models;
mod nn_layers;
mod normalization;
mod operators;
pub(crate) mod recurrent;
mod reductions;
pub mod reference;
mod resample;
mod shape;
mod spatial;
pub mod util;
mod weights;

pub use reference::{Book, Entry, Kind};
pub use util::MAX_TENSOR_BYTES;

use super::host::Host;
use reference::{Param, Signature, type_label};
use rhai::{Engine, Module, RhaiNativeFunc, Variant};
use std::any::TypeId;

/// Registers functions on the engine (or layers on the `nn` module) and
/// their reference entries.
pub struct Api<'a> {
    pub engine: &'a mut Engine,
    pub nn: &'a mut Module,
    pub host: Host,
    pub book: &'a mut Book,
    family: &'static str,
}

impl<'a> Api<'a> {
    pub fn new(
        engine: &'a mut Engine,
        nn: &'a mut Module,
        host: &Host,
        book: &'a mut Book,
    ) -> Self {
        Api {
            engine,
            nn,
            host: host.clone(),
            book,
            family: "script",
        }
    }

    /// Sets the family that following entries belong to.
    pub fn family(&mut self, f: &'static str) -> &mut Self {
        self.family = f;
        self
    }

    /// The reference entry of a function or operator (made on first use).
    pub fn doc(&mut self, name: &str) -> &mut Entry {
        let kind = if name.chars().next().is_some_and(|c| c.is_alphabetic()) {
            Kind::Function
        } else {
            Kind::Operator
        };
        self.book.entry(name, self.family, kind)
    }

    /// The reference entry of an `nn::` layer.
    pub fn doc_layer(&mut self, name: &str) -> &mut Entry {
        self.book
            .entry(&format!("nn::{name}"), self.family, Kind::Layer)
    }

    /// The reference entry of a function in a static module (`onnx::load`).
    pub fn doc_in(&mut self, module: &str, name: &str) -> &mut Entry {
        self.book
            .entry(&format!("{module}::{name}"), self.family, Kind::Function)
    }

    /// The reference entry of a property.
    pub fn doc_property(&mut self, name: &str) -> &mut Entry {
        self.book.entry(name, self.family, Kind::Property)
    }

    fn signature<const N: usize>(params: [&str; N], types: [TypeId; N], ret: TypeId) -> Signature {
        Signature {
            params: params
                .iter()
                .zip(types)
                .map(|(n, t)| Param {
                    name: n.to_string(),
                    ty: type_label(t).to_string(),
                })
                .collect(),
            ret: type_label(ret).to_string(),
        }
    }

    /// Whether `name` already has an overload over (A, B).
    pub fn is_registered<A: 'static, B: 'static>(&self, name: &str) -> bool {
        self.book
            .overloads
            .contains(&(name.to_string(), vec![TypeId::of::<A>(), TypeId::of::<B>()]))
    }

    fn note_overload(&mut self, name: &str, types: &[TypeId]) {
        self.book
            .overloads
            .insert((name.to_string(), types.to_vec()));
    }

    /// Registers a binary overload whose only job is a helpful error (an
    /// operand pairing that would otherwise fall back silently).
    pub fn refuse<A: 'static, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        f: impl RhaiNativeFunc<A, 2, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        self.refuse_n(name, f)
    }

    /// The one-operand form of [`Api::refuse`] (`-model`).
    pub fn refuse1<A: 'static, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        f: impl RhaiNativeFunc<A, 1, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        self.refuse_n(name, f)
    }

    fn refuse_n<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        f: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        let types = types_of(&f);
        self.note_overload(name, &types);
        let e = self.doc(name);
        e.refused += 1;
        self.engine.register_fn(name, f);
        self
    }

    fn add_signature(&mut self, key: &str, sig: Signature) {
        let Some(e) = self.book.entries.get_mut(key) else {
            panic!(
                "`{key}` is registered without a reference entry: add api.doc(\"{key}\") beside it"
            );
        };
        if !e.signatures.contains(&sig) {
            e.signatures.push(sig);
        }
    }

    /// Registers a global function (also a method on its first argument).
    /// `params` names its script-visible parameters: their count is the
    /// function's arity, checked at compile time.
    pub fn fun<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        params: [&str; N],
        f: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        let types = types_of(&f);
        self.note_overload(name, &types);
        let sig = Self::signature(params, types, TypeId::of::<R>());
        self.add_signature(name, sig);
        self.engine.register_fn(name, f);
        self
    }

    /// Registers a getter `x.name` (a read-only property).
    pub fn getter<A: 'static, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        f: impl RhaiNativeFunc<A, 1, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        let [recv] = types_of(&f);
        let sig = Signature {
            params: vec![Param {
                name: receiver_name(recv).to_string(),
                ty: type_label(recv).to_string(),
            }],
            ret: type_label(TypeId::of::<R>()).to_string(),
        };
        self.add_signature(name, sig);
        self.engine.register_fn(format!("get${name}"), f);
        self
    }

    /// Registers a function of a static module (`onnx::load`).
    pub fn fun_in<A: 'static, const N: usize, const X: bool, R: Variant + Clone>(
        &mut self,
        module: &mut Module,
        prefix: &str,
        name: &str,
        params: [&str; N],
        f: impl RhaiNativeFunc<A, N, X, R, true> + Send + Sync + 'static,
    ) -> &mut Self {
        let sig = Self::signature(params, types_of(&f), TypeId::of::<R>());
        self.add_signature(&format!("{prefix}::{name}"), sig);
        module.set_native_fn(name, f);
        self
    }

    /// Registers an `nn::` layer constructor.
    pub fn layer<A: 'static, const N: usize, const X: bool, R: Variant + Clone>(
        &mut self,
        name: &str,
        params: [&str; N],
        f: impl RhaiNativeFunc<A, N, X, R, true> + Send + Sync + 'static,
    ) -> &mut Self {
        let sig = Self::signature(params, types_of(&f), TypeId::of::<R>());
        self.add_signature(&format!("nn::{name}"), sig);
        self.nn.set_native_fn(name, f);
        self
    }
}

/// The parameter types of a native function.
fn types_of<A: 'static, const N: usize, const X: bool, R: 'static, const F: bool, T>(
    _: &T,
) -> [TypeId; N]
where
    T: RhaiNativeFunc<A, N, X, R, F>,
{
    T::param_types()
}

fn receiver_name(t: TypeId) -> &'static str {
    match type_label(t) {
        "Model" | "OnnxModel" => "model",
        _ => "x",
    }
}

/// The function `switch` heads are wrapped in (see `script::guard`): Rhai
/// sends a value it cannot hash to the default case without a word.
fn register_switch_guard(engine: &mut Engine) {
    fn holds_traced(d: &rhai::Dynamic) -> Option<&'static str> {
        let d = d.flatten_clone();
        if d.is::<super::tensor::Tensor>() {
            Some("a Tensor")
        } else if d.is::<super::model::Model>() || d.is::<super::onnx_model::OnnxModel>() {
            Some("a Model")
        } else if let Some(a) = d.clone().try_cast::<rhai::Array>() {
            a.iter().find_map(holds_traced)
        } else if let Some(m) = d.try_cast::<rhai::Map>() {
            m.values().find_map(holds_traced)
        } else {
            None
        }
    }
    engine.register_fn(
        super::guard::SWITCH_GUARD,
        |ctx: rhai::NativeCallContext, v: rhai::Dynamic| -> util::R<rhai::Dynamic> {
            match holds_traced(&v) {
                None => Ok(v),
                Some(what) => Err(super::model::rt_err(
                    &ctx,
                    format!(
                        "switch on {what}: script code runs once, at trace time, and cannot branch on tensor values; choose values with where(cond, a, b)"
                    ),
                )),
            }
        },
    );
}

/// Registers the whole API: global functions, operators and properties on
/// `engine`; returns the native half of `nn::` and the reference.
pub fn register(engine: &mut Engine, host: &Host) -> (Module, Book) {
    engine.register_type_with_name::<super::tensor::Tensor>("Tensor");
    engine.register_type_with_name::<super::model::Model>("Model");
    let mut nn = Module::new();
    let mut book = Book::default();
    let mut api = Api {
        engine,
        nn: &mut nn,
        host: host.clone(),
        book: &mut book,
        family: "script",
    };
    register_switch_guard(api.engine);
    models::register(&mut api);
    constructors::register(&mut api);
    operators::register(&mut api);
    elementwise::register(&mut api);
    math::register(&mut api);
    comparison::register(&mut api);
    activations::register(&mut api);
    reductions::register(&mut api);
    embeddings::register(&mut api);
    shape::register(&mut api);
    indexing::register(&mut api);
    linalg::register(&mut api);
    spatial::register(&mut api);
    resample::register(&mut api);
    normalization::register(&mut api);
    nn_layers::register(&mut api);
    containers::register(&mut api);
    recurrent::register(&mut api);
    weights::register(&mut api);
    config_files::register(&mut api);
    (nn, book)
}

#[cfg(test)]
mod ops_math_tests;
#[cfg(test)]
mod tests;
