//! Constant values behind the data-movement ops exporters put between a
//! weight and its use (our traced linears are `MatMul(x, Transpose(W))`,
//! attention projections `Split` one packed weight): the quantizer
//! quantizes the value the node really multiplies by.

use super::types::attr;
use crate::graph::{DType, HostTensor};
use crate::onnx::proto::{GraphProto, NodeProto};
use crate::onnx::tensor_io::proto_to_tensor;
use std::collections::{HashMap, HashSet};

/// Resolves tensors of one graph to their constant values.
pub(crate) struct Consts<'g> {
    g: &'g GraphProto,
    inits: HashMap<&'g str, usize>,
    producers: HashMap<&'g str, (usize, usize)>,
    inputs: HashSet<&'g str>,
    memo: HashMap<String, Option<HostTensor>>,
}

impl<'g> Consts<'g> {
    pub fn new(g: &'g GraphProto) -> Consts<'g> {
        let mut producers = HashMap::new();
        for (k, n) in g.node.iter().enumerate() {
            for (j, o) in n.output.iter().enumerate() {
                producers.insert(o.as_str(), (k, j));
            }
        }
        Consts {
            g,
            inits: g
                .initializer
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.as_str(), i))
                .collect(),
            producers,
            inputs: g.input.iter().map(|v| v.name.as_str()).collect(),
            memo: HashMap::new(),
        }
    }

    /// The value of `name`, when constants alone decide it.
    pub fn value(&mut self, name: &str) -> Option<HostTensor> {
        if let Some(v) = self.memo.get(name) {
            return v.clone();
        }
        let v = self.compute(name);
        self.memo.insert(name.to_string(), v.clone());
        v
    }

    /// Whether `name` is a graph input (whose value a caller may override).
    fn is_input(&self, name: &str) -> bool {
        self.inputs.contains(name)
    }

    fn compute(&mut self, name: &str) -> Option<HostTensor> {
        if self.is_input(name) {
            return None;
        }
        if let Some(&i) = self.inits.get(name) {
            return proto_to_tensor(&self.g.initializer[i]).ok();
        }
        let &(k, j) = self.producers.get(name)?;
        let n: &NodeProto = &self.g.node[k];
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return None;
        }
        let ints = |a: &str| attr(n, a).map(|a| a.ints.clone());
        match n.op_type.as_str() {
            "Constant" => {
                let a = n.attribute.first()?;
                match a.name.as_str() {
                    "value" => proto_to_tensor(a.t.as_ref()?).ok(),
                    "value_float" => Some(f32_tensor(&[], &[a.f])),
                    "value_floats" => Some(f32_tensor(&[a.floats.len()], &a.floats)),
                    "value_int" => Some(i64_tensor(&[], &[a.i])),
                    "value_ints" => Some(i64_tensor(&[a.ints.len()], &a.ints)),
                    _ => None,
                }
            }
            "Identity" => self.value(n.input.first()?),
            "Transpose" => {
                let x = self.value(n.input.first()?)?;
                let perm: Vec<usize> = match ints("perm") {
                    Some(p) => p.iter().map(|&v| v as usize).collect(),
                    None => (0..x.shape.len()).rev().collect(),
                };
                transpose(&x, &perm)
            }
            "Reshape" => {
                let x = self.value(n.input.first()?)?;
                let shape = self.value(n.input.get(1)?)?.to_i64_vec()?;
                let allow_zero = attr(n, "allowzero").is_some_and(|a| a.i != 0);
                let dims = reshape_dims(&x.shape, &shape, allow_zero)?;
                Some(HostTensor {
                    dtype: x.dtype,
                    shape: dims,
                    data: x.data,
                })
            }
            "Squeeze" | "Unsqueeze" => {
                let x = self.value(n.input.first()?)?;
                let axes = match n.input.get(1).filter(|s| !s.is_empty()) {
                    Some(a) => self.value(a)?.to_i64_vec()?,
                    None => ints("axes").unwrap_or_default(),
                };
                let shape = if n.op_type == "Squeeze" {
                    squeeze(&x.shape, &axes)?
                } else {
                    unsqueeze(&x.shape, &axes)?
                };
                Some(HostTensor {
                    dtype: x.dtype,
                    shape,
                    data: x.data,
                })
            }
            "Split" => {
                let x = self.value(n.input.first()?)?;
                let rank = x.shape.len() as i64;
                let axis = attr(n, "axis").map_or(0, |a| a.i);
                let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok()?;
                let len = *x.shape.get(axis)?;
                let parts: Vec<usize> = match n.input.get(1).filter(|s| !s.is_empty()) {
                    Some(s) => self
                        .value(s)?
                        .to_i64_vec()?
                        .iter()
                        .map(|&v| v as usize)
                        .collect(),
                    None => match ints("split") {
                        Some(s) if !s.is_empty() => s.iter().map(|&v| v as usize).collect(),
                        _ => {
                            let k = n.output.len();
                            let each = len.div_ceil(k);
                            (0..k)
                                .map(|i| each.min(len - (each * i).min(len)))
                                .collect()
                        }
                    },
                };
                let start: usize = parts[..j].iter().sum();
                slice_axis(&x, axis, start, *parts.get(j)?)
            }
            _ => None,
        }
    }
}

fn f32_tensor(shape: &[usize], v: &[f32]) -> HostTensor {
    HostTensor {
        dtype: DType::Float32,
        shape: shape.to_vec(),
        data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn i64_tensor(shape: &[usize], v: &[i64]) -> HostTensor {
    HostTensor {
        dtype: DType::Int64,
        shape: shape.to_vec(),
        data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

pub(crate) fn transpose(x: &HostTensor, perm: &[usize]) -> Option<HostTensor> {
    let rank = x.shape.len();
    if perm.len() != rank || x.dtype.bits() < 8 || x.dtype.is_string() {
        return None;
    }
    let es = x.dtype.size_bytes();
    let out_shape: Vec<usize> = perm
        .iter()
        .map(|&p| x.shape.get(p).copied())
        .collect::<Option<_>>()?;
    let in_strides = strides(&x.shape);
    let n = x.numel();
    let mut data = vec![0u8; n * es];
    let mut idx = vec![0usize; rank];
    for o in 0..n {
        let src: usize = (0..rank).map(|d| idx[d] * in_strides[perm[d]]).sum();
        data[o * es..(o + 1) * es].copy_from_slice(&x.data[src * es..(src + 1) * es]);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(HostTensor {
        dtype: x.dtype,
        shape: out_shape,
        data,
    })
}

fn slice_axis(x: &HostTensor, axis: usize, start: usize, len: usize) -> Option<HostTensor> {
    if x.dtype.bits() < 8 || x.dtype.is_string() || start + len > x.shape[axis] {
        return None;
    }
    let es = x.dtype.size_bytes();
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product::<usize>() * es;
    let mut data = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        let base = o * x.shape[axis] * inner;
        data.extend_from_slice(&x.data[base + start * inner..base + (start + len) * inner]);
    }
    let mut shape = x.shape.clone();
    shape[axis] = len;
    Some(HostTensor {
        dtype: x.dtype,
        shape,
        data,
    })
}

fn reshape_dims(from: &[usize], to: &[i64], allow_zero: bool) -> Option<Vec<usize>> {
    let total: usize = from.iter().product();
    let mut dims = Vec::with_capacity(to.len());
    let mut infer = None;
    for (i, &d) in to.iter().enumerate() {
        match d {
            -1 => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allow_zero => dims.push(*from.get(i)?),
            d if d >= 0 => dims.push(d as usize),
            _ => return None,
        }
    }
    if let Some(i) = infer {
        let known: usize = dims.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return None;
        }
        dims[i] = total / known;
    }
    (dims.iter().product::<usize>() == total).then_some(dims)
}

fn norm_axes(axes: &[i64], rank: usize) -> Option<Vec<usize>> {
    axes.iter()
        .map(|&a| usize::try_from(if a < 0 { a + rank as i64 } else { a }).ok())
        .collect()
}

fn squeeze(shape: &[usize], axes: &[i64]) -> Option<Vec<usize>> {
    if axes.is_empty() {
        return Some(shape.iter().copied().filter(|&d| d != 1).collect());
    }
    let axes = norm_axes(axes, shape.len())?;
    Some(
        shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect(),
    )
}

fn unsqueeze(shape: &[usize], axes: &[i64]) -> Option<Vec<usize>> {
    let rank = shape.len() + axes.len();
    let axes = norm_axes(axes, rank)?;
    let mut it = shape.iter();
    (0..rank)
        .map(|i| {
            if axes.contains(&i) {
                Some(1)
            } else {
                it.next().copied()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_and_splits_like_numpy() {
        // [[0, 1, 2], [3, 4, 5]]
        let x = f32_tensor(&[2, 3], &[0., 1., 2., 3., 4., 5.]);
        let t = transpose(&x, &[1, 0]).unwrap();
        assert_eq!(t.shape, [3, 2]);
        assert_eq!(t.to_f32_vec().unwrap(), [0., 3., 1., 4., 2., 5.]);
        let s = slice_axis(&x, 1, 1, 2).unwrap();
        assert_eq!(s.to_f32_vec().unwrap(), [1., 2., 4., 5.]);
        let s = slice_axis(&x, 0, 1, 1).unwrap();
        assert_eq!(s.to_f32_vec().unwrap(), [3., 4., 5.]);
        assert_eq!(reshape_dims(&[2, 3], &[-1], false).unwrap(), [6]);
        assert_eq!(reshape_dims(&[2, 3], &[0, 3, 1], false).unwrap(), [2, 3, 1]);
        assert_eq!(squeeze(&[1, 3, 1], &[-1]).unwrap(), [1, 3]);
        assert_eq!(unsqueeze(&[3], &[0, 2]).unwrap(), [1, 3, 1]);
    }
}
