//! Folds inference batch normalization into the convolution before it:
//! `BN(Conv(x, W, b))` = `Conv(x, W·s, (b - mean)·s + B)` with
//! `s = scale / sqrt(var + epsilon)` per output channel. ONNX Runtime does
//! this itself for float models (its basic level); an integer convolution
//! cannot take it afterwards, so the int8 rewrites fold first.

use super::consts::Consts;
use super::types::attr;
use super::{Names, is_default, prune, raw_tensor};
use crate::graph::DType;
use crate::onnx::proto::{GraphProto, data_type::FLOAT};
use std::collections::HashMap;

/// Folds every foldable Conv → BatchNormalization pair; returns how many.
pub(crate) fn fold_batch_norms(g: &mut GraphProto) -> usize {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *uses.entry(i.clone()).or_insert(0) += 1;
        }
    }
    let outputs: Vec<String> = g.output.iter().map(|o| o.name.clone()).collect();
    let producer: HashMap<String, usize> = g
        .node
        .iter()
        .enumerate()
        .flat_map(|(k, n)| n.output.iter().map(move |o| (o.clone(), k)))
        .collect();
    let mut folds = Vec::new();
    {
        let mut consts = Consts::new(g);
        for (k, bn) in g.node.iter().enumerate() {
            if bn.op_type != "BatchNormalization" || !is_default(bn) || bn.input.len() < 5 {
                continue;
            }
            if attr(bn, "training_mode").is_some_and(|a| a.i != 0)
                || bn.output.iter().skip(1).any(|o| !o.is_empty())
            {
                continue;
            }
            let x = &bn.input[0];
            let Some(&c) = producer.get(x) else { continue };
            let conv = &g.node[c];
            if conv.op_type != "Conv"
                || !is_default(conv)
                || uses.get(x) != Some(&1)
                || outputs.contains(x)
            {
                continue;
            }
            let f32s = |consts: &mut Consts, name: Option<&String>| {
                name.filter(|s| !s.is_empty())
                    .and_then(|s| consts.value(s))
                    .filter(|t| t.dtype == DType::Float32)
            };
            let Some(w) = f32s(&mut consts, conv.input.get(1)) else {
                continue;
            };
            let m = w.shape.first().copied().unwrap_or(0);
            let vals: Option<Vec<Vec<f32>>> = (1..5)
                .map(|i| f32s(&mut consts, bn.input.get(i)).and_then(|t| t.to_f32_vec()))
                .collect();
            let Some(vals) = vals.filter(|v| v.iter().all(|v| v.len() == m)) else {
                continue;
            };
            let bias = match conv.input.get(2).filter(|s| !s.is_empty()) {
                Some(_) => {
                    match f32s(&mut consts, conv.input.get(2)).and_then(|t| t.to_f32_vec()) {
                        Some(b) if b.len() == m => b,
                        _ => continue,
                    }
                }
                None => vec![0.0; m],
            };
            let eps = attr(bn, "epsilon").map_or(1e-5, |a| a.f);
            let (scale, shift, mean, var) = (&vals[0], &vals[1], &vals[2], &vals[3]);
            let s: Vec<f32> = (0..m).map(|c| scale[c] / (var[c] + eps).sqrt()).collect();
            let per = w.numel() / m.max(1);
            let wv = w.to_f32_vec().unwrap_or_default();
            let new_w: Vec<f32> = wv.iter().enumerate().map(|(i, v)| v * s[i / per]).collect();
            let new_b: Vec<f32> = (0..m)
                .map(|c| (bias[c] - mean[c]) * s[c] + shift[c])
                .collect();
            folds.push((c, k, w.shape.clone(), new_w, new_b));
        }
    }
    let mut names = Names::new(g);
    let n = folds.len();
    let mut drop = Vec::new();
    for (c, k, shape, w, b) in folds {
        let base = if g.node[c].name.is_empty() {
            g.node[c].output[0].clone()
        } else {
            g.node[c].name.clone()
        };
        let wn = names.fresh(&format!("{base}/weight_bn_folded"));
        let bn_name = names.fresh(&format!("{base}/bias_bn_folded"));
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        g.initializer.push(raw_tensor(&wn, FLOAT, &dims, bytes(&w)));
        g.initializer
            .push(raw_tensor(&bn_name, FLOAT, &[b.len() as i64], bytes(&b)));
        let y = g.node[k].output[0].clone();
        let conv = &mut g.node[c];
        conv.input.truncate(2);
        conv.input[1] = wn;
        conv.input.push(bn_name);
        conv.output[0] = y;
        drop.push(k);
    }
    let mut k = 0;
    g.node.retain(|_| {
        k += 1;
        !drop.contains(&(k - 1))
    });
    if n > 0 {
        prune(g);
    }
    n
}
