//! The traced graph: values, parameters, nodes, inputs and outputs.

use super::ops::{GraphError, Op, TypeInfo};
use super::tensor::HostTensor;
use super::weights::FileSlice;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub type ValueId = usize;

/// How a parameter's values are made. Values are generated only when
/// exported, so tracing a 100M-parameter model allocates nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Init {
    Uniform {
        low: f64,
        high: f64,
        seed: u64,
    },
    Normal {
        std: f64,
        seed: u64,
    },
    Constant(f64),
    Data(Arc<HostTensor>),
    /// A tensor of a checkpoint file, read (memory-mapped) and converted to
    /// the parameter's dtype only when exported.
    File(FileSlice),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub info: TypeInfo,
    pub init: Init,
    /// False for buffers (e.g. batch-norm running statistics): PyTorch does
    /// not count them as parameters.
    pub trainable: bool,
}

impl Param {
    /// The parameter's values. Fails only for a checkpoint tensor that
    /// cannot be read (the file is gone or changed).
    pub fn materialize(&self) -> Result<HostTensor, String> {
        let (d, s) = (self.info.dtype, &self.info.shape[..]);
        Ok(match &self.init {
            Init::Uniform { low, high, seed } => HostTensor::uniform(d, s, *low, *high, *seed),
            Init::Normal { std, seed } => {
                // The exporter's generator, in any dtype: float32 values
                // converted, so every dtype draws the same weights.
                let n = self.info.numel() as usize;
                let mut f = vec![0u8; n * 4];
                super::random::fill_normal_f32(&mut f, *std, *seed, 0);
                let t = HostTensor {
                    dtype: super::DType::Float32,
                    shape: s.to_vec(),
                    data: f,
                };
                if d == super::DType::Float32 {
                    t
                } else {
                    let v = t.to_f64_vec();
                    HostTensor::from_fn(d, s, |i| v[i])
                }
            }
            Init::Constant(v) => HostTensor::full(d, s, *v),
            Init::Data(t) => (**t).clone(),
            Init::File(f) => {
                let mut data = vec![0u8; d.byte_len(self.info.numel() as usize)];
                f.write_into(d, &mut data)?;
                HostTensor {
                    dtype: d,
                    shape: s.to_vec(),
                    data,
                }
            }
        })
    }

    /// Whether [`Param::write_part`] can make any slice of the values on
    /// its own: random float32 weights, which the exporter splits across
    /// threads.
    pub fn splits(&self) -> bool {
        self.info.dtype == super::DType::Float32
            && matches!(self.init, Init::Uniform { .. } | Init::Normal { .. })
    }

    /// Writes elements `first..` of the values into `out` (float32 bytes)
    /// when [`Param::splits`]: the same bytes as that part of
    /// [`Param::write_into`], however the tensor is split.
    pub fn write_part(&self, out: &mut [u8], first: u64) -> Result<(), String> {
        let end = first + out.len() as u64 / 4;
        if !self.splits() || !out.len().is_multiple_of(4) || end > self.info.numel() {
            return Err(format!(
                "parameter '{}': cannot write elements {first}..{end} of {} {} on their own",
                self.name,
                self.info.dtype,
                super::shape_str(&self.info.shape)
            ));
        }
        match &self.init {
            Init::Uniform { low, high, seed } => {
                super::random::fill_uniform_f32(out, *low, *high, *seed, first)
            }
            Init::Normal { std, seed } => super::random::fill_normal_f32(out, *std, *seed, first),
            _ => unreachable!("splits() admits random inits only"),
        }
        Ok(())
    }

    /// Writes the values into `out` (exactly their size): a checkpoint
    /// tensor straight from its mapped file, converted on the way.
    pub fn write_into(&self, out: &mut [u8]) -> Result<(), String> {
        let f32_len = (self.info.dtype == super::DType::Float32)
            .then(|| self.info.numel() as usize * 4)
            .filter(|&n| n == out.len());
        match (&self.init, f32_len) {
            (Init::File(f), _) => return f.write_into(self.info.dtype, out),
            // Random float32 weights are generated in place: no tensor
            // allocated and copied per parameter.
            (Init::Uniform { .. } | Init::Normal { .. }, Some(_)) => {
                return self.write_part(out, 0);
            }
            _ => {}
        }
        let t = self.materialize()?;
        if t.data.len() != out.len() {
            return Err(format!(
                "parameter '{}' generated {} bytes, but {} {} needs {}",
                self.name,
                t.data.len(),
                self.info.dtype,
                super::shape_str(&self.info.shape),
                out.len()
            ));
        }
        out.copy_from_slice(&t.data);
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Source {
    Input,
    Param(usize),
    Const(Arc<HostTensor>),
    Node(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub name: String,
    pub info: TypeInfo,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The model's class name.
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub params: Vec<Param>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// Summary numbers of a graph, as recorded with each build.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphStats {
    pub params: u64,
    pub param_bytes: u64,
    pub flops: u64,
    pub nodes: usize,
    pub op_counts: BTreeMap<String, usize>,
    /// The most bytes of inputs and intermediate values alive at once when
    /// the nodes run in order, each value freed after its last reader
    /// (graph outputs are kept): the activation memory of one call.
    pub activation_peak_bytes: u64,
    /// Elements of the `input_ids` input (batch x tokens) of a language
    /// model; `None` for other graphs.
    pub tokens: Option<u64>,
}

impl GraphStats {
    /// FLOPs per token of a language model (FLOPs over `input_ids`' elements).
    pub fn flops_per_token(&self) -> Option<u64> {
        self.tokens.filter(|&t| t > 0).map(|t| self.flops / t)
    }
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn info(&self, v: ValueId) -> &TypeInfo {
        &self.values[v].info
    }

    fn push_value(&mut self, name: String, info: TypeInfo, source: Source) -> ValueId {
        self.values.push(Value { name, info, source });
        self.values.len() - 1
    }

    pub fn add_input(&mut self, name: &str, info: TypeInfo) -> ValueId {
        let id = self.push_value(name.to_string(), info, Source::Input);
        self.inputs.push(id);
        id
    }

    pub fn add_param(&mut self, param: Param) -> ValueId {
        let name = param.name.clone();
        let info = param.info.clone();
        self.params.push(param);
        let idx = self.params.len() - 1;
        self.push_value(name, info, Source::Param(idx))
    }

    pub fn add_const(&mut self, t: HostTensor) -> ValueId {
        let name = format!("const_{}", self.values.len());
        let info = TypeInfo::new(t.shape.clone(), t.dtype);
        self.push_value(name, info, Source::Const(Arc::new(t)))
    }

    /// Adds a node after inferring its outputs; returns the output ids.
    pub fn add_node(
        &mut self,
        op: Op,
        inputs: &[ValueId],
        scope: &str,
    ) -> Result<Vec<ValueId>, GraphError> {
        let infos: Vec<&TypeInfo> = inputs.iter().map(|&i| &self.values[i].info).collect();
        let outs = op.infer(&infos)?;
        let node_idx = self.nodes.len();
        let name = if scope.is_empty() {
            format!("/{}_{node_idx}", op.kind())
        } else {
            format!("/{scope}/{}_{node_idx}", op.kind())
        };
        let ids: Vec<ValueId> = outs
            .into_iter()
            .enumerate()
            .map(|(k, info)| {
                let vname = format!("{name}_out{k}");
                self.push_value(vname, info, Source::Node(node_idx))
            })
            .collect();
        self.nodes.push(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            outputs: ids.clone(),
        });
        Ok(ids)
    }

    /// Marks `v` as a graph output named `name`. A value that is not a node
    /// output, or is already an output, is routed through an Identity so that
    /// every output has its own name.
    pub fn add_output(&mut self, name: &str, v: ValueId) {
        let needs_identity =
            !matches!(self.values[v].source, Source::Node(_)) || self.outputs.contains(&v);
        let v = if needs_identity {
            self.add_node(Op::Identity, &[v], "")
                .expect("identity never fails")[0]
        } else {
            v
        };
        self.values[v].name = name.to_string();
        self.outputs.push(v);
    }

    pub fn stats(&self) -> GraphStats {
        let mut s = GraphStats {
            nodes: self.nodes.len(),
            ..Default::default()
        };
        for p in &self.params {
            let n = p.info.numel();
            if p.trainable {
                s.params += n;
            }
            s.param_bytes += n * p.info.dtype.size_bytes() as u64;
        }
        for n in &self.nodes {
            let ins: Vec<&TypeInfo> = n.inputs.iter().map(|&i| &self.values[i].info).collect();
            let outs: Vec<TypeInfo> = n
                .outputs
                .iter()
                .map(|&o| self.values[o].info.clone())
                .collect();
            s.flops += n.op.flops(&ins, &outs);
            *s.op_counts.entry(n.op.kind().to_string()).or_default() += 1;
        }
        s.activation_peak_bytes = self.activation_peak_bytes();
        s.tokens = self
            .inputs
            .iter()
            .find(|&&i| self.values[i].name == "input_ids" && !self.info(i).dtype.is_float())
            .map(|&i| self.info(i).numel());
        s
    }

    /// See [`GraphStats::activation_peak_bytes`]. Constants and parameters
    /// are not activations; a node's inputs and outputs coexist while it runs.
    fn activation_peak_bytes(&self) -> u64 {
        let bytes = |v: ValueId| self.info(v).numel() * self.info(v).dtype.size_bytes() as u64;
        let mut last_use: Vec<Option<usize>> = vec![None; self.values.len()];
        for (k, n) in self.nodes.iter().enumerate() {
            for &i in &n.inputs {
                last_use[i] = Some(k);
            }
        }
        for &o in &self.outputs {
            last_use[o] = Some(usize::MAX);
        }
        let mut live: u64 = self
            .inputs
            .iter()
            .filter(|&&i| last_use[i].is_some())
            .map(|&i| bytes(i))
            .sum();
        let mut peak = live;
        for (k, n) in self.nodes.iter().enumerate() {
            live += n.outputs.iter().map(|&o| bytes(o)).sum::<u64>();
            peak = peak.max(live);
            // Outputs nobody reads are dropped at once; inputs after their
            // last reader. A value read twice by one node is freed once.
            let mut freed = std::collections::BTreeSet::new();
            for &v in n.inputs.iter().chain(&n.outputs) {
                let activation = matches!(self.values[v].source, Source::Input | Source::Node(_));
                let dead = match last_use[v] {
                    None => true,
                    Some(last) => last == k,
                };
                if activation && dead && freed.insert(v) {
                    live -= bytes(v);
                }
            }
        }
        peak
    }

    /// sha256 over the structure: ops, attributes and wiring, parameter
    /// shapes and dtypes, constants, and input names/shapes/dtypes. Random
    /// weight values are not part of it (their generator is); set values
    /// (constants, tensors) are, and loaded weights by the sha256 of their
    /// file and their key in it: two checkpoints make two builds.
    pub fn structure_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut put = |s: &str| {
            h.update(s.as_bytes());
            h.update([0u8]);
        };
        for &i in &self.inputs {
            let v = &self.values[i];
            put(&format!(
                "in {} {:?} {}",
                v.name, v.info.shape, v.info.dtype
            ));
        }
        for v in &self.values {
            match &v.source {
                Source::Param(p) => {
                    let p = &self.params[*p];
                    put(&format!(
                        "param {:?} {} {}",
                        p.info.shape, p.info.dtype, p.trainable
                    ));
                    // Random values are not identity (any seed benchmarks
                    // alike), but how they are drawn is: a build exported by
                    // another generator holds other bytes than the torch
                    // runtime regenerates. Set values are identity.
                    match &p.init {
                        Init::File(f) => {
                            put(&format!("weights {} {} {}", f.sha256, f.key, f.dtype))
                        }
                        Init::Uniform { .. } => {
                            put(&format!("uniform {}", super::random::GENERATOR))
                        }
                        Init::Normal { .. } => put(&format!("normal {}", super::random::GENERATOR)),
                        Init::Constant(v) => put(&format!("constant {v:?}")),
                        Init::Data(t) => {
                            put(&format!("data {}", hex::encode(Sha256::digest(&t.data))))
                        }
                    }
                }
                Source::Const(t) => {
                    put(&format!("const {:?} {}", t.shape, t.dtype));
                    put(&hex::encode(Sha256::digest(&t.data)));
                }
                _ => {}
            }
        }
        for n in &self.nodes {
            let op = serde_json::to_string(&n.op).expect("ops serialize");
            put(&format!("node {op} {:?} -> {:?}", n.inputs, n.outputs));
        }
        for &o in &self.outputs {
            put(&format!("out {} {o}", self.values[o].name));
        }
        hex::encode(h.finalize())
    }

    /// The sub-graph computed by nodes `nodes` from `inputs` to `outputs`,
    /// renumbered. Fails when those nodes read a value that is neither one
    /// of `inputs`, a parameter, a constant, nor made inside the range.
    pub fn extract(
        &self,
        name: &str,
        nodes: std::ops::Range<usize>,
        inputs: &[(String, ValueId)],
        outputs: &[(String, ValueId)],
    ) -> Result<Graph, String> {
        let mut g = Graph::new(name);
        let mut map: HashMap<ValueId, ValueId> = HashMap::new();
        let mut param_map: HashMap<usize, ValueId> = HashMap::new();
        for (n, v) in inputs {
            if map.contains_key(v) {
                return Err("the same tensor is passed twice".into());
            }
            let id = g.add_input(n, self.values[*v].info.clone());
            map.insert(*v, id);
        }
        for ni in nodes.clone() {
            let node = &self.nodes[ni];
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &v in &node.inputs {
                let id = match map.get(&v) {
                    Some(&id) => id,
                    None => match &self.values[v].source {
                        Source::Param(p) => *param_map
                            .entry(*p)
                            .or_insert_with(|| g.add_param(self.params[*p].clone())),
                        Source::Const(t) => g.add_const((**t).clone()),
                        _ => {
                            return Err(format!(
                                "it reads a tensor from outside its inputs ({})",
                                self.values[v].name
                            ));
                        }
                    },
                };
                ins.push(id);
            }
            let scope = node
                .name
                .rsplit_once('/')
                .map(|(s, _)| s.trim_start_matches('/'))
                .unwrap_or("");
            let outs = g
                .add_node(node.op.clone(), &ins, scope)
                .map_err(|e| e.to_string())?;
            for (a, b) in node.outputs.iter().zip(outs) {
                map.insert(*a, b);
            }
        }
        for (n, v) in outputs {
            let id = *map
                .get(v)
                .ok_or_else(|| "an output is not computed by the sub-model".to_string())?;
            g.add_output(n, id);
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DType;

    /// Weights generated in place (the export's path) are the values a
    /// tensor made from the same init holds, for odd sizes too.
    #[test]
    fn write_into_equals_materialize() {
        let inits = [
            Init::Uniform {
                low: -0.5,
                high: 0.25,
                seed: 7,
            },
            Init::Normal { std: 0.02, seed: 9 },
            Init::Constant(1.5),
        ];
        for dtype in [DType::Float32, DType::Float16] {
            for init in &inits {
                for shape in [vec![3, 5], vec![4, 4], vec![1]] {
                    let p = Param {
                        name: "w".into(),
                        info: TypeInfo::new(shape.clone(), dtype),
                        init: init.clone(),
                        trainable: true,
                    };
                    let want = p.materialize().unwrap().data;
                    let mut got = vec![0u8; want.len()];
                    p.write_into(&mut got).unwrap();
                    assert_eq!(got, want, "{init:?} {dtype:?} {shape:?}");
                }
            }
        }
    }

    fn linear_graph(batch: usize, seed: u64) -> Graph {
        let mut g = Graph::new("Linear");
        let x = g.add_input("x", TypeInfo::new(vec![batch, 10], DType::Float32));
        let w = g.add_param(Param {
            name: "weight".into(),
            info: TypeInfo::new(vec![5, 10], DType::Float32),
            init: Init::Uniform {
                low: -0.3,
                high: 0.3,
                seed,
            },
            trainable: true,
        });
        let b = g.add_param(Param {
            name: "bias".into(),
            info: TypeInfo::new(vec![5], DType::Float32),
            init: Init::Constant(0.0),
            trainable: true,
        });
        let y = g
            .add_node(Op::Gemm { trans_b: true }, &[x, w, b], "")
            .unwrap()[0];
        g.add_output("output", y);
        g
    }

    #[test]
    fn stats_count_params_and_flops() {
        let s = linear_graph(2, 1).stats();
        assert_eq!(s.params, 55);
        assert_eq!(s.param_bytes, 220);
        assert_eq!(s.flops, 2 * 2 * 5 * 10 + 10);
        assert_eq!(s.op_counts["Gemm"], 1);
    }

    #[test]
    fn activation_peak_frees_values_after_their_last_reader() {
        let f = |shape: Vec<usize>| TypeInfo::new(shape, DType::Float32);
        // x -> relu -> relu -> out: two 4 kB values alive at a time.
        let mut g = Graph::new("Chain");
        let x = g.add_input("x", f(vec![1, 1000]));
        let a = g.add_node(Op::Relu, &[x], "").unwrap()[0];
        let b = g.add_node(Op::Relu, &[a], "").unwrap()[0];
        g.add_output("y", b);
        assert_eq!(g.stats().activation_peak_bytes, 8000);
        assert_eq!(g.stats().tokens, None);
        // A residual keeps x alive across the branch: three at once.
        let mut g = Graph::new("Residual");
        let x = g.add_input("x", f(vec![1, 1000]));
        let a = g.add_node(Op::Relu, &[x], "").unwrap()[0];
        let b = g.add_node(Op::Add, &[x, a], "").unwrap()[0];
        g.add_output("y", b);
        assert_eq!(g.stats().activation_peak_bytes, 12000);
        // Parameters are weights, not activations.
        assert_eq!(
            linear_graph(2, 1).stats().activation_peak_bytes,
            2 * 10 * 4 + 2 * 5 * 4
        );
    }

    #[test]
    fn flops_per_token_divide_by_the_input_ids() {
        let mut g = Graph::new("Lm");
        let ids = g.add_input("input_ids", TypeInfo::new(vec![2, 8], DType::Int64));
        let y = g.add_node(Op::Identity, &[ids], "").unwrap()[0];
        g.add_output("y", y);
        let s = GraphStats {
            flops: 1600,
            ..g.stats()
        };
        assert_eq!(s.tokens, Some(16));
        assert_eq!(s.flops_per_token(), Some(100));
    }

    /// Two models alike but for a set value (a PReLU slope, a constant
    /// parameter) are two builds: sharing one would run the other's values.
    #[test]
    fn hash_covers_set_values_and_how_random_ones_are_drawn() {
        let with = |init: Init| {
            let mut g = linear_graph(1, 1);
            g.params[1].init = init;
            g.structure_hash()
        };
        assert_ne!(with(Init::Constant(0.0)), with(Init::Constant(0.25)));
        let data = |v: f64| {
            Init::Data(Arc::new(HostTensor::full(
                super::super::DType::Float32,
                &[5],
                v,
            )))
        };
        assert_ne!(with(data(1.0)), with(data(2.0)));
        assert_eq!(with(data(1.0)), with(data(1.0)));
        let normal = |seed| Init::Normal { std: 0.02, seed };
        assert_eq!(with(normal(1)), with(normal(2)), "seeds are not identity");
        assert_ne!(with(normal(1)), with(Init::Constant(0.0)));
    }

    #[test]
    fn hash_ignores_weights_but_not_shapes() {
        assert_eq!(
            linear_graph(1, 1).structure_hash(),
            linear_graph(1, 2).structure_hash()
        );
        assert_ne!(
            linear_graph(1, 1).structure_hash(),
            linear_graph(8, 1).structure_hash()
        );
    }

    #[test]
    fn output_of_an_input_goes_through_identity() {
        let mut g = Graph::new("Id");
        let x = g.add_input("x", TypeInfo::new(vec![2], DType::Float32));
        g.add_output("y", x);
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.values[g.outputs[0]].name, "y");
    }

    #[test]
    fn extract_takes_the_range() {
        let g = linear_graph(2, 1);
        let x = g.inputs[0];
        let y = g.outputs[0];
        let sub = g
            .extract(
                "Sub",
                0..1,
                &[("x".into(), x)],
                &[("out".into(), g.nodes[0].outputs[0])],
            )
            .unwrap();
        assert_eq!(sub.params.len(), 2);
        assert_eq!(sub.stats().params, 55);
        assert!(y > x);
    }
}
