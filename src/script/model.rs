//! The `Model` type: layers built by the host (with PyTorch's parameter
//! shapes and default initialization), sequences, and closures; and the
//! interception of `model.forward(inputs)`.

use super::host::{Call, Host, SubCall, Trace, placeholder};
use super::layers;
use super::tensor::{Tensor, TensorKind};
use crate::graph::{DType, HostTensor, Init, Op, Param, TypeInfo, ValueId};
use rhai::{Array, Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext};
use std::collections::HashSet;
use std::sync::Arc;

/// What a model computes.
#[derive(Clone)]
pub enum Layer {
    Linear {
        bias: bool,
    },
    Conv {
        kernel: Vec<usize>,
        stride: Vec<usize>,
        padding: Vec<usize>,
        dilation: Vec<usize>,
        output_padding: Vec<usize>,
        groups: usize,
        bias: bool,
        transpose: bool,
    },
    BatchNorm {
        eps: f64,
    },
    LayerNorm {
        eps: f64,
        ndims: usize,
        bias: bool,
    },
    Embedding,
    Attention {
        dim: usize,
        heads: usize,
    },
    Sequential,
    Closure(FnPtr),
    /// A stateless op applied to the single input (activations, pools, ...).
    Op(Op),
    /// torch.flatten(x, start_dim).
    Flatten {
        start: usize,
    },
    /// nn.AdaptiveAvgPool2d(size) for any size (see layers::adaptive_avg_pool).
    AdaptiveAvgPool {
        size: [usize; 2],
    },
    /// A stateless layer made of several ops (e.g. the tanh GELU).
    Composite(fn(&mut Trace, ValueId) -> Result<ValueId, String>),
    LeakyRelu {
        slope: f64,
    },
    /// nn.RMSNorm / T5LayerNorm: weight only, no mean subtraction.
    RmsNorm {
        eps: f64,
        ndims: usize,
    },
    /// Free parameters (nn.Parameter), read with `model.param(name)`;
    /// its forward returns the first one.
    Parameter,
    /// A forward written as a host closure over the input and the layer's
    /// parameters in declaration order (group norm, upsample, adaptive
    /// pools, ...: each beside its function in `api/`).
    Native(NativeForward),
    /// nn.LSTM / nn.GRU / nn.RNN (script/api/recurrent.rs).
    Recurrent(crate::graph::Rnn),
}

/// The forward of a [`Layer::Native`].
pub type NativeForward =
    Arc<dyn Fn(&mut Trace, ValueId, &[ValueId]) -> Result<ValueId, String> + Send + Sync>;

/// A [`Layer::Native`] from its forward (input, parameters) -> output.
pub fn native(
    f: impl Fn(&mut Trace, ValueId, &[ValueId]) -> Result<ValueId, String> + Send + Sync + 'static,
) -> Layer {
    Layer::Native(Arc::new(f))
}

pub struct ParamDef {
    pub uid: u64,
    pub local: String,
    pub param: Param,
}

pub struct ModelDef {
    pub uid: u64,
    pub class: String,
    pub layer: Layer,
    pub params: Vec<ParamDef>,
    /// Submodules by name (naming.rs): a sequential's by index, a closure's
    /// by the variables it captures.
    pub children: Vec<(String, Model)>,
}

#[derive(Clone)]
pub struct Model {
    pub def: Arc<ModelDef>,
    /// Set by `model.half()` / `model.to_dtype(..)`: every float parameter
    /// of this model and its children is made in that dtype.
    pub dtype: Option<DType>,
    /// Set by `model.load_weights(..)`: parameters read from a checkpoint.
    pub weights: Option<Arc<super::weights::LoadedWeights>>,
}

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub fn rt_err(ctx: &NativeCallContext, msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(msg.into().into(), ctx.call_position()).into()
}

/// Models held anywhere inside a value (closure captures, arrays, maps).
pub fn models_in(d: &Dynamic, out: &mut Vec<Model>) {
    let d = d.flatten_clone();
    if let Some(m) = d.clone().try_cast::<Model>() {
        out.push(m);
    } else if let Some(a) = d.clone().try_cast::<Array>() {
        a.iter().for_each(|x| models_in(x, out));
    } else if let Some(m) = d.try_cast::<Map>() {
        m.values().for_each(|x| models_in(x, out));
    }
}

impl Model {
    pub fn new(
        host: &Host,
        class: &str,
        layer: Layer,
        params: Vec<(&str, Param)>,
        children: Vec<Model>,
    ) -> Model {
        let named = children
            .into_iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m))
            .collect();
        Model::with_children(host, class, layer, params, named)
    }

    /// A model whose children are named (nn::module's captures).
    pub fn with_children(
        host: &Host,
        class: &str,
        layer: Layer,
        params: Vec<(&str, Param)>,
        children: Vec<(String, Model)>,
    ) -> Model {
        let mut st = host.lock();
        let params = params
            .into_iter()
            .map(|(local, param)| ParamDef {
                uid: st.next_uid(),
                local: local.to_string(),
                param,
            })
            .collect();
        Model {
            def: Arc::new(ModelDef {
                uid: st.next_uid(),
                class: class.to_string(),
                layer,
                params,
                children,
            }),
            dtype: None,
            weights: None,
        }
    }

    pub fn class(&self) -> &str {
        &self.def.class
    }

    /// (trainable parameter count, bytes of all parameters and buffers),
    /// counting shared sub-models once.
    pub fn param_stats(&self) -> (u64, u64) {
        let mut seen = HashSet::new();
        let mut acc = (0, 0);
        self.walk_params(self.dtype, &mut seen, &mut acc);
        acc
    }

    fn walk_params(&self, dtype: Option<DType>, seen: &mut HashSet<u64>, acc: &mut (u64, u64)) {
        if !seen.insert(self.def.uid) {
            return;
        }
        let dtype = self.dtype.or(dtype);
        for p in &self.def.params {
            let n = p.param.info.numel();
            let dt = param_dtype(&p.param, dtype);
            if p.param.trainable {
                acc.0 += n;
            }
            acc.1 += n * dt.size_bytes() as u64;
        }
        for (_, c) in &self.def.children {
            c.walk_params(dtype, seen, acc);
        }
    }

    pub fn describe(&self) -> String {
        let (n, bytes) = self.param_stats();
        format!("Model({}, {n} params, {bytes} bytes)", self.def.class)
    }
}

/// A dtype override applies to float parameters only.
pub(crate) fn param_dtype(p: &Param, over: Option<DType>) -> DType {
    match over {
        Some(d) if p.info.dtype.is_float() => d,
        _ => p.info.dtype,
    }
}

// ---------------------------------------------------------------- inputs

/// Names and tensors of a call's inputs: a tensor is `input`, an array
/// `input_0..`, a map its keys (sorted, as Rhai keeps maps).
pub fn flatten_io(d: &Dynamic, base: &str) -> Result<Vec<(String, Tensor)>, String> {
    let d = d.flatten_clone();
    let bad = |what: &str| {
        format!("expected a tensor, an array of tensors or a map of tensors, got {what}")
    };
    if let Some(t) = d.clone().try_cast::<Tensor>() {
        return Ok(vec![(base.to_string(), t)]);
    }
    if let Some(a) = d.clone().try_cast::<Array>() {
        return a
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                let x = x.flatten();
                let tn = x.type_name();
                x.try_cast::<Tensor>()
                    .map(|t| (format!("{base}_{i}"), t))
                    .ok_or_else(|| bad(&format!("an array holding {tn}")))
            })
            .collect();
    }
    if let Some(m) = d.clone().try_cast::<Map>() {
        return m
            .into_iter()
            .map(|(k, x)| {
                let x = x.flatten();
                let tn = x.type_name();
                x.try_cast::<Tensor>()
                    .map(|t| (k.to_string(), t))
                    .ok_or_else(|| bad(&format!("a map whose '{k}' is {tn}")))
            })
            .collect();
    }
    Err(bad(d.type_name()))
}

/// Rebuilds `template`'s structure with `tensors` (in flatten order).
fn rebuild(template: &Dynamic, tensors: Vec<Tensor>) -> Dynamic {
    let template = template.flatten_clone();
    let mut it = tensors.into_iter();
    if template.is::<Tensor>() {
        return Dynamic::from(it.next().expect("one tensor"));
    }
    if let Some(a) = template.clone().try_cast::<Array>() {
        return Dynamic::from_array(
            a.iter()
                .map(|_| Dynamic::from(it.next().expect("tensor")))
                .collect(),
        );
    }
    let m = template.try_cast::<Map>().expect("validated structure");
    Dynamic::from_map(
        m.keys()
            .map(|k| (k.clone(), Dynamic::from(it.next().expect("tensor"))))
            .collect(),
    )
}

/// What a model's forward receives: a map with one entry is its tensor.
fn argument(d: Dynamic) -> Dynamic {
    let flat = d.flatten_clone();
    if let Some(m) = flat.clone().try_cast::<Map>()
        && m.len() == 1
    {
        return m.into_values().next().expect("one entry").flatten();
    }
    flat
}

fn single(ctx: &NativeCallContext, class: &str, d: &Dynamic) -> RhaiResult<Tensor> {
    let items = flatten_io(d, "input").map_err(|e| rt_err(ctx, format!("{class}: {e}")))?;
    if items.len() != 1 {
        return Err(rt_err(
            ctx,
            format!("{class} takes one tensor, got {}", items.len()),
        ));
    }
    Ok(items.into_iter().next().expect("one").1)
}

// ---------------------------------------------------------------- forward

/// `model.forward(inputs)`: at top level, traces a new graph and records a
/// call; inside another forward, becomes part of that graph.
pub fn forward(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    inputs: Dynamic,
) -> RhaiResult<Dynamic> {
    let top = host.lock().trace.is_none();
    if top {
        forward_top(host, ctx, model, inputs)
    } else {
        forward_nested(host, ctx, model, inputs, None)
    }
}

fn forward_top(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    inputs: Dynamic,
) -> RhaiResult<Dynamic> {
    let class = model.class().to_string();
    let items =
        flatten_io(&inputs, "input").map_err(|e| rt_err(ctx, format!("{class}.forward: {e}")))?;
    let line = ctx.call_position().line().unwrap_or(0);
    let mut concrete = Vec::new();
    let traced_inputs = {
        let mut st = host.lock();
        let id = st.start_trace(&class);
        let trace = st.trace.as_mut().expect("just started");
        trace.paths = super::naming::module_paths(model);
        trace.bindings = super::weights::bindings(model);
        let mut traced = Vec::new();
        for (name, t) in &items {
            let TensorKind::Concrete(h) = &t.0 else {
                st.trace = None;
                return Err(rt_err(ctx, "a traced tensor escaped its model call"));
            };
            let v = trace.graph.add_input(name, t.info());
            concrete.push((name.clone(), (**h).clone()));
            traced.push(Tensor::traced(id, v, t.info()));
        }
        traced
    };
    let arg = argument(rebuild(&inputs, traced_inputs));
    let result = call_layer(host, ctx, model, arg, model.dtype);
    let trace = host.lock().trace.take().expect("trace still active");
    let out = result?;
    if let Some(clash) = &trace.name_clash {
        return Err(rt_err(ctx, format!("{class}.forward: {clash}")));
    }
    let outputs = flatten_io(&out, "output")
        .map_err(|e| rt_err(ctx, format!("{class}.forward returned a bad value: {e}")))?;
    let Trace {
        mut graph, subs, ..
    } = trace;
    // Weights are made at export, after discovery: refuse a model too big
    // for --max-memory now, at its forward line, before anything is made.
    let weights: u64 = graph
        .params
        .iter()
        .map(|p| p.info.numel() * p.info.dtype.size_bytes() as u64)
        .sum();
    let st = host.lock();
    if !st.analyze_only {
        st.fits(weights, &format!("{class}'s parameters"))
            .map_err(|e| {
                rt_err(
                    ctx,
                    format!("{e}, or trace it without weights with --analyze-only"),
                )
            })?;
    }
    drop(st);
    let mut out_ids = Vec::new();
    for (name, t) in &outputs {
        let v = match &t.0 {
            TensorKind::Traced { value, .. } => *value,
            TensorKind::Concrete(h) => graph.add_const((**h).clone()),
        };
        out_ids.push((name.clone(), v));
    }
    let full_graph = graph.clone();
    for (name, v) in &out_ids {
        graph.add_output(name, *v);
    }
    // Real outputs when an executor is set (turnkey run), else placeholders.
    let executor = host.lock().executor.clone();
    let values: Vec<HostTensor> = match executor {
        Some(exec) => exec(&graph, &concrete).map_err(|e| rt_err(ctx, format!("{class}: {e}")))?,
        None => {
            let mut st = host.lock();
            // graph.outputs holds the outputs in out_ids order.
            graph
                .outputs
                .iter()
                .map(|&o| placeholder(graph.info(o), st.next_seed()))
                .collect()
        }
    };
    let mut st = host.lock();
    let parent = st.calls.len();
    st.calls.push(Call {
        graph,
        inputs: concrete,
        line,
        depth: 0,
        parent: None,
        generation: None,
    });
    for sub in subs {
        match full_graph.extract(&sub.class, sub.nodes.clone(), &sub.inputs, &sub.outputs) {
            Ok(mut g) => {
                super::naming::relative_to(&mut g, &sub.path);
                let inputs = sub
                    .inputs
                    .iter()
                    .map(|(n, v)| {
                        let info = full_graph.info(*v).clone();
                        (n.clone(), placeholder(&info, st.next_seed()))
                    })
                    .collect();
                st.calls.push(Call {
                    graph: g,
                    inputs,
                    line: sub.line,
                    depth: sub.depth,
                    parent: Some(parent),
                    generation: None,
                });
            }
            Err(why) => errln!(
                "warning: sub-model {} at line {} is not built: {why}",
                sub.class,
                sub.line
            ),
        }
    }
    drop(st);
    Ok(rebuild(
        &out,
        values.into_iter().map(Tensor::concrete).collect(),
    ))
}

fn forward_nested(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    inputs: Dynamic,
    segment: Option<String>,
) -> RhaiResult<Dynamic> {
    let class = model.class().to_string();
    let line = ctx.call_position().line().unwrap_or(0);
    let (depth, max_depth, start, in_ids, path) = {
        let mut st = host.lock();
        let max_depth = st.max_depth;
        let trace = st.trace.as_mut().expect("nested call inside a trace");
        trace.enter(model.def.uid, &class, segment);
        let depth = trace.depth;
        let path = trace.scope_path().to_string();
        let mut in_ids = Vec::new();
        if depth <= max_depth
            && let Ok(items) = flatten_io(&inputs, "input")
        {
            for (n, t) in items {
                if let Ok(v) = trace.value_of(&t) {
                    in_ids.push((n, v));
                }
            }
        }
        (depth, max_depth, trace.graph.nodes.len(), in_ids, path)
    };
    let dtype = model.dtype;
    let result = call_layer(host, ctx, model, argument(inputs), dtype);
    let mut st = host.lock();
    let trace = st.trace.as_mut().expect("trace still active");
    trace.leave();
    let out = result?;
    if depth <= max_depth
        && let Ok(outs) = flatten_io(&out, "output")
    {
        let out_ids: Vec<(String, ValueId)> = outs
            .iter()
            .filter_map(|(n, t)| match &t.0 {
                TensorKind::Traced {
                    value, trace: id, ..
                } if *id == trace.id => Some((n.clone(), *value)),
                _ => None,
            })
            .collect();
        let end = trace.graph.nodes.len();
        if out_ids.len() == outs.len() && end > start {
            trace.subs.push(SubCall {
                class,
                path,
                depth,
                nodes: start..end,
                inputs: in_ids,
                outputs: out_ids,
                line,
            });
        }
    }
    Ok(out)
}

/// Runs a model's own computation on already-traced arguments.
pub(crate) fn call_layer(
    host: &Host,
    ctx: &NativeCallContext,
    model: &Model,
    arg: Dynamic,
    dtype: Option<DType>,
) -> RhaiResult<Dynamic> {
    let def = &model.def;
    let class = def.class.as_str();
    let err = |e: String| rt_err(ctx, format!("{class}: {e}"));
    match &def.layer {
        Layer::Closure(f) => f.call_within_context::<Dynamic>(ctx, (arg,)),
        Layer::Sequential => {
            let mut x = arg;
            for (name, child) in &def.children {
                let mut child = child.clone();
                child.dtype = child.dtype.or(dtype);
                x = forward_nested(host, ctx, &child, x, Some(name.clone()))?;
            }
            Ok(x)
        }
        Layer::Recurrent(r) => super::api::recurrent::forward(host, ctx, def, r, arg, dtype),
        _ => {
            let x = single(ctx, class, &arg)?;
            let y = host
                .with_trace(|t| lower_layer(t, def, &x, dtype, &arg))
                .map_err(err)?;
            Ok(Dynamic::from(y))
        }
    }
}

pub(crate) fn p(t: &mut Trace, def: &ModelDef, i: usize, dtype: Option<DType>) -> ValueId {
    let pd = &def.params[i];
    t.param(
        def.uid,
        pd.uid,
        &pd.local,
        &pd.param,
        param_dtype(&pd.param, dtype).into(),
    )
}

pub(crate) fn op1(t: &mut Trace, op: Op, ins: &[ValueId]) -> Result<ValueId, String> {
    Ok(t.apply_ids(op, ins)?.remove(0).value_id())
}

impl Tensor {
    fn value_id(&self) -> ValueId {
        match &self.0 {
            TensorKind::Traced { value, .. } => *value,
            TensorKind::Concrete(_) => unreachable!("ops return traced tensors"),
        }
    }
}

/// Emits the nodes of one primitive layer.
fn lower_layer(
    t: &mut Trace,
    def: &ModelDef,
    x: &Tensor,
    dtype: Option<DType>,
    arg: &Dynamic,
) -> Result<Tensor, String> {
    let xv = t.value_of(x)?;
    let y = match &def.layer {
        Layer::Linear { bias } => {
            let w = p(t, def, 0, dtype);
            let b = bias.then(|| p(t, def, 1, dtype));
            if x.rank() == 2 {
                let mut ins = vec![xv, w];
                ins.extend(b);
                op1(t, Op::Gemm { trans_b: true }, &ins)?
            } else {
                if x.rank() == 0 {
                    return Err("input must have at least one dimension".into());
                }
                let wt = op1(t, Op::Transpose { perm: vec![1, 0] }, &[w])?;
                check_features(x, t.graph.info(w).shape[1])?;
                let y = op1(t, Op::MatMul, &[xv, wt])?;
                match b {
                    Some(b) => op1(t, Op::Add, &[y, b])?,
                    None => y,
                }
            }
        }
        Layer::Conv {
            kernel,
            stride,
            padding,
            dilation,
            output_padding,
            groups,
            bias,
            transpose,
        } => {
            let w = p(t, def, 0, dtype);
            let mut ins = vec![xv, w];
            if *bias {
                ins.push(p(t, def, 1, dtype));
            }
            let pads: Vec<usize> = padding.iter().chain(padding.iter()).copied().collect();
            let op = if *transpose {
                Op::ConvTranspose {
                    kernel: kernel.clone(),
                    strides: stride.clone(),
                    pads,
                    output_padding: output_padding.clone(),
                    dilations: dilation.clone(),
                    group: *groups,
                }
            } else {
                Op::Conv {
                    kernel: kernel.clone(),
                    strides: stride.clone(),
                    pads,
                    dilations: dilation.clone(),
                    group: *groups,
                }
            };
            op1(t, op, &ins)?
        }
        Layer::BatchNorm { eps } => {
            let ins: Vec<ValueId> = std::iter::once(xv)
                .chain((0..4).map(|i| p(t, def, i, dtype)))
                .collect();
            op1(t, Op::BatchNorm { epsilon: *eps }, &ins)?
        }
        Layer::LayerNorm { eps, ndims, bias } => {
            if x.rank() < *ndims {
                return Err(format!(
                    "input of rank {} is smaller than the normalized shape",
                    x.rank()
                ));
            }
            let mut ins = vec![xv, p(t, def, 0, dtype)];
            if *bias {
                ins.push(p(t, def, 1, dtype));
            }
            op1(
                t,
                Op::LayerNorm {
                    axis: x.rank() - ndims,
                    epsilon: *eps,
                },
                &ins,
            )?
        }
        Layer::Embedding => {
            if !matches!(x.dtype(), DType::Int64 | DType::Int32) {
                return Err(format!(
                    "takes int64 token ids (randint), got {}",
                    x.dtype()
                ));
            }
            let w = p(t, def, 0, dtype);
            op1(t, Op::Gather { axis: 0 }, &[w, xv])?
        }
        Layer::Attention { dim, heads } => {
            let qkv: Vec<Tensor> = match flatten_io(arg, "input") {
                Ok(items) if items.len() == 3 => items.into_iter().map(|(_, t)| t).collect(),
                _ => vec![x.clone(), x.clone(), x.clone()],
            };
            attention_layer(t, def, &qkv, *dim, *heads, dtype)?
        }
        Layer::Op(op) => op1(t, op.clone(), &[xv])?,
        Layer::Flatten { start } => flatten(t, xv, *start)?,
        Layer::AdaptiveAvgPool { size } => layers::adaptive_avg_pool(t, xv, *size)?,
        Layer::Composite(f) => f(t, xv)?,
        Layer::LeakyRelu { slope } => layers::leaky_relu(t, xv, *slope)?,
        Layer::RmsNorm { eps, ndims } => {
            let w = p(t, def, 0, dtype);
            layers::rms_norm(t, xv, Some(w), *eps, *ndims)?
        }
        Layer::Parameter => p(t, def, 0, dtype),
        Layer::Native(f) => {
            let ps: Vec<ValueId> = (0..def.params.len()).map(|i| p(t, def, i, dtype)).collect();
            f(t, xv, &ps)?
        }
        Layer::Sequential | Layer::Closure(_) | Layer::Recurrent(_) => {
            unreachable!("handled by call_layer")
        }
    };
    Ok(t.tensor(y))
}

fn check_features(x: &Tensor, want: usize) -> Result<(), String> {
    let have = *x.shape().last().unwrap_or(&0);
    if have != want {
        return Err(format!(
            "input {} has {have} features in its last dimension, the layer expects {want}",
            crate::graph::shape_str(x.shape())
        ));
    }
    Ok(())
}

/// torch.flatten(x, start): keep dims before `start`, merge the rest.
pub fn flatten(t: &mut Trace, x: ValueId, start: usize) -> Result<ValueId, String> {
    let shape = t.graph.info(x).shape.clone();
    if start > shape.len() {
        return Err(format!(
            "start dim {start} is out of range for rank {}",
            shape.len()
        ));
    }
    if start == 1 && shape.len() >= 2 {
        return op1(t, Op::Flatten { axis: 1 }, &[x]);
    }
    let mut out = shape[..start].to_vec();
    out.push(shape[start..].iter().product());
    op1(t, Op::Reshape { shape: out }, &[x])
}

/// Scaled dot-product attention over [.., heads, seq, head_dim] tensors;
/// `mask` (bool, true = keep) or an additive float mask.
pub fn sdpa(
    t: &mut Trace,
    q: ValueId,
    k: ValueId,
    v: ValueId,
    mask: Option<ValueId>,
) -> Result<ValueId, String> {
    let qi = t.graph.info(q).clone();
    let r = qi.rank();
    if r < 2 {
        return Err("attention inputs need rank >= 2".into());
    }
    let d = qi.shape[r - 1] as f64;
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    let kt = op1(t, Op::Transpose { perm }, &[k])?;
    let scores = op1(t, Op::MatMul, &[q, kt])?;
    let scale = t
        .graph
        .add_const(HostTensor::full(qi.dtype, &[], 1.0 / d.sqrt()));
    let mut scores = op1(t, Op::Mul, &[scores, scale])?;
    if let Some(m) = mask {
        scores = if t.graph.info(m).dtype == DType::Bool {
            let neg = t.graph.add_const(HostTensor::full(qi.dtype, &[], -1e4));
            op1(t, Op::Where, &[m, scores, neg])?
        } else {
            op1(t, Op::Add, &[scores, m])?
        };
    }
    let probs = op1(t, Op::Softmax { axis: r - 1 }, &[scores])?;
    op1(t, Op::MatMul, &[probs, v])
}

/// nn.MultiheadAttention(batch_first=True): in_proj [3E, E] + bias, out_proj.
fn attention_layer(
    t: &mut Trace,
    def: &ModelDef,
    qkv: &[Tensor],
    dim: usize,
    heads: usize,
    dtype: Option<DType>,
) -> Result<ValueId, String> {
    let w_in = p(t, def, 0, dtype);
    let b_in = p(t, def, 1, dtype);
    let w_out = p(t, def, 2, dtype);
    let b_out = p(t, def, 3, dtype);
    for x in qkv {
        if x.rank() != 3 || x.shape()[2] != dim {
            return Err(format!(
                "expects [batch, seq, {dim}] inputs, got {}",
                crate::graph::shape_str(x.shape())
            ));
        }
    }
    let ws = t.apply_ids(
        Op::Split {
            axis: 0,
            sizes: vec![dim; 3],
        },
        &[w_in],
    )?;
    let bs = t.apply_ids(
        Op::Split {
            axis: 0,
            sizes: vec![dim; 3],
        },
        &[b_in],
    )?;
    let hd = dim / heads;
    let mut proj = Vec::new();
    for i in 0..3 {
        let x = t.value_of(&qkv[i])?;
        let (b, s) = (qkv[i].shape()[0], qkv[i].shape()[1]);
        let wt = op1(t, Op::Transpose { perm: vec![1, 0] }, &[ws[i].value_id()])?;
        let y = op1(t, Op::MatMul, &[x, wt])?;
        let y = op1(t, Op::Add, &[y, bs[i].value_id()])?;
        let y = op1(
            t,
            Op::Reshape {
                shape: vec![b, s, heads, hd],
            },
            &[y],
        )?;
        proj.push(op1(
            t,
            Op::Transpose {
                perm: vec![0, 2, 1, 3],
            },
            &[y],
        )?);
    }
    let o = sdpa(t, proj[0], proj[1], proj[2], None)?;
    let (b, s) = (qkv[0].shape()[0], qkv[0].shape()[1]);
    let o = op1(
        t,
        Op::Transpose {
            perm: vec![0, 2, 1, 3],
        },
        &[o],
    )?;
    let o = op1(
        t,
        Op::Reshape {
            shape: vec![b, s, dim],
        },
        &[o],
    )?;
    let wt = op1(t, Op::Transpose { perm: vec![1, 0] }, &[w_out])?;
    let o = op1(t, Op::MatMul, &[o, wt])?;
    op1(t, Op::Add, &[o, b_out])
}

// ---------------------------------------------------------------- layers

/// A parameter with PyTorch's default init for its layer kind.
pub fn uniform_param(host: &Host, shape: &[usize], bound: f64, dtype: DType) -> Param {
    let seed = host.lock().next_seed();
    Param {
        name: String::new(),
        info: TypeInfo::new(shape.to_vec(), dtype),
        init: Init::Uniform {
            low: -bound,
            high: bound,
            seed,
        },
        trainable: true,
    }
}

pub fn const_param(shape: &[usize], value: f64, dtype: DType, trainable: bool) -> Param {
    Param {
        name: String::new(),
        info: TypeInfo::new(shape.to_vec(), dtype),
        init: Init::Constant(value),
        trainable,
    }
}

pub fn normal_param(host: &Host, shape: &[usize], std: f64, dtype: DType) -> Param {
    let seed = host.lock().next_seed();
    Param {
        name: String::new(),
        info: TypeInfo::new(shape.to_vec(), dtype),
        init: Init::Normal { std, seed },
        trainable: true,
    }
}
