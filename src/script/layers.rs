//! Host primitives the model zoo needs beyond the basics, all composed of
//! existing IR ops (no new `Op`): adaptive average pooling to any size, the
//! tanh approximation of GELU, leaky ReLU, RMSNorm, free parameters
//! (`nn::parameter`, `model.param(name)`: class tokens, layer scales, tied
//! embeddings), and random graph adjacency inputs for GNNs.

use super::host::Trace;
use super::model::op1;
use crate::graph::{DType, HostTensor, Op, ValueId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------- lowering

fn scalar(t: &mut Trace, like: ValueId, v: f64) -> ValueId {
    let d = t.graph.info(like).dtype;
    t.graph.add_const(HostTensor::full(d, &[], v))
}

/// PyTorch's adaptive pooling bins over an axis of `input` cells split into
/// `output` bins: bin i covers [floor(i*in/out), ceil((i+1)*in/out)).
pub fn adaptive_bins(input: usize, output: usize) -> Vec<(usize, usize)> {
    (0..output)
        .map(|i| {
            let start = i * input / output;
            let end = ((i + 1) * input).div_ceil(output);
            (start, end)
        })
        .collect()
}

/// nn.AdaptiveAvgPool2d(size) over the last two axes: a global pool for
/// 1x1, nothing when the size already matches, an AvgPool when the input
/// divides evenly, else two matmuls with constant averaging matrices
/// (the bins overlap, which no single ONNX pool expresses).
pub fn adaptive_avg_pool(t: &mut Trace, x: ValueId, size: [usize; 2]) -> Result<ValueId, String> {
    let info = t.graph.info(x).clone();
    if info.rank() < 3 {
        return Err(format!(
            "adaptive_avg_pool2d expects a [N, C, H, W] (or [C, H, W]) input, got {}",
            crate::graph::shape_str(&info.shape)
        ));
    }
    if !info.dtype.is_float() {
        return Err(format!(
            "adaptive_avg_pool2d needs a float tensor, got {}",
            info.dtype
        ));
    }
    let r = info.rank();
    let (h, w) = (info.shape[r - 2], info.shape[r - 1]);
    let [oh, ow] = size;
    if (h, w) == (oh, ow) {
        return Ok(x);
    }
    if (oh, ow) == (1, 1) && r == 4 {
        return op1(t, Op::GlobalAvgPool, &[x]);
    }
    if h % oh == 0 && w % ow == 0 && r == 4 {
        let k = vec![h / oh, w / ow];
        return op1(
            t,
            Op::AvgPool {
                kernel: k.clone(),
                strides: k,
                pads: vec![0; 4],
                ceil_mode: false,
                count_include_pad: true,
            },
            &[x],
        );
    }
    // Separable: mean over row bins, then over column bins.
    let matrix = |rows: usize, cols: usize, bins: &[(usize, usize)], transpose: bool| {
        // rows x cols, entry (i, j) = 1/len(bin i) when j is in bin i.
        HostTensor::from_fn(info.dtype, &[rows, cols], |idx| {
            let (i, j) = (idx / cols, idx % cols);
            let (bin, cell) = if transpose { (j, i) } else { (i, j) };
            let (s, e) = bins[bin];
            if (s..e).contains(&cell) {
                1.0 / (e - s) as f64
            } else {
                0.0
            }
        })
    };
    let mut y = x;
    if h != oh {
        let ph = t
            .graph
            .add_const(matrix(oh, h, &adaptive_bins(h, oh), false));
        y = op1(t, Op::MatMul, &[ph, y])?;
    }
    if w != ow {
        let pw = t
            .graph
            .add_const(matrix(w, ow, &adaptive_bins(w, ow), true));
        y = op1(t, Op::MatMul, &[y, pw])?;
    }
    Ok(y)
}

/// GELU with the tanh approximation (nn.GELU(approximate="tanh"), GPT-2's
/// gelu_new): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
pub fn gelu_tanh(t: &mut Trace, x: ValueId) -> Result<ValueId, String> {
    if !t.graph.info(x).dtype.is_float() {
        return Err("gelu needs a float tensor".into());
    }
    let c = scalar(t, x, (2.0 / std::f64::consts::PI).sqrt());
    let k = scalar(t, x, 0.044715);
    let one = scalar(t, x, 1.0);
    let half = scalar(t, x, 0.5);
    let x2 = op1(t, Op::Mul, &[x, x])?;
    let x3 = op1(t, Op::Mul, &[x2, x])?;
    let inner = op1(t, Op::Mul, &[x3, k])?;
    let inner = op1(t, Op::Add, &[x, inner])?;
    let inner = op1(t, Op::Mul, &[inner, c])?;
    let th = op1(t, Op::Tanh, &[inner])?;
    let th = op1(t, Op::Add, &[th, one])?;
    let y = op1(t, Op::Mul, &[x, th])?;
    op1(t, Op::Mul, &[y, half])
}

/// Leaky ReLU: x where x > 0, else slope * x (nn.LeakyReLU).
pub fn leaky_relu(t: &mut Trace, x: ValueId, slope: f64) -> Result<ValueId, String> {
    let zero = scalar(t, x, 0.0);
    let s = scalar(t, x, slope);
    let pos = op1(t, Op::Greater, &[x, zero])?;
    let neg = op1(t, Op::Mul, &[x, s])?;
    op1(t, Op::Where, &[pos, x, neg])
}

/// RMSNorm over the last `ndims` axes: x / sqrt(mean(x^2) + eps) * weight
/// (nn.RMSNorm; T5's T5LayerNorm); no Mul without a weight (F.rms_norm).
pub fn rms_norm(
    t: &mut Trace,
    x: ValueId,
    weight: Option<ValueId>,
    eps: f64,
    ndims: usize,
) -> Result<ValueId, String> {
    let r = t.graph.info(x).rank();
    if r < ndims {
        return Err(format!(
            "input of rank {r} is smaller than the normalized shape"
        ));
    }
    let e = scalar(t, x, eps);
    let sq = op1(t, Op::Mul, &[x, x])?;
    let ms = op1(
        t,
        Op::ReduceMean {
            axes: (r - ndims..r).collect(),
            keepdims: true,
        },
        &[sq],
    )?;
    let ms = op1(t, Op::Add, &[ms, e])?;
    let den = op1(t, Op::Sqrt, &[ms])?;
    let y = op1(t, Op::Div, &[x, den])?;
    match weight {
        Some(w) => op1(t, Op::Mul, &[y, w]),
        None => Ok(y),
    }
}

// ---------------------------------------------------------------- graphs

/// How `random_adjacency` normalizes the 0/1 adjacency matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjNorm {
    /// D^-1/2 A D^-1/2 (Kipf & Welling's GCN; degrees include self-loops).
    Gcn,
    /// D^-1 A: each row averages its neighbours (GraphSAGE mean aggregator).
    Mean,
    /// The 0/1 matrix itself (a mask, e.g. for GAT).
    None,
}

/// A random undirected graph on `n` nodes where every node links to `k`
/// distinct others (so degrees are >= k), as a dense [n, n] float32
/// matrix, reproducible from `seed`.
pub fn random_adjacency(
    n: usize,
    k: usize,
    norm: AdjNorm,
    self_loops: bool,
    seed: u64,
) -> HostTensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = vec![0f32; n * n];
    for i in 0..n {
        for j in rand::seq::index::sample(&mut rng, n - 1, k) {
            let j = if j >= i { j + 1 } else { j };
            a[i * n + j] = 1.0;
            a[j * n + i] = 1.0;
        }
        if self_loops {
            a[i * n + i] = 1.0;
        }
    }
    let deg: Vec<f32> = a.chunks(n).map(|row| row.iter().sum()).collect();
    match norm {
        AdjNorm::None => {}
        AdjNorm::Gcn => {
            let inv: Vec<f32> = deg
                .iter()
                .map(|&d| if d > 0.0 { d.powf(-0.5) } else { 0.0 })
                .collect();
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] *= inv[i] * inv[j];
                }
            }
        }
        AdjNorm::Mean => {
            for i in 0..n {
                if deg[i] > 0.0 {
                    a[i * n..(i + 1) * n].iter_mut().for_each(|v| *v /= deg[i]);
                }
            }
        }
    }
    HostTensor {
        dtype: DType::Float32,
        shape: vec![n, n],
        data: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{self, SessionOptions};
    use crate::script::{DiscoverOptions, Discovery, ScriptArgs, discover};
    use std::sync::{Arc, Mutex};

    type Outputs = Arc<Mutex<Vec<Vec<HostTensor>>>>;

    /// Runs a script whose model calls are executed on tract (in process);
    /// returns the discovery and every call's outputs.
    fn run(src: &str) -> Result<(Discovery, Vec<Vec<HostTensor>>), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rhai");
        std::fs::write(&path, src).unwrap();
        let outs: Outputs = Arc::default();
        let (sink, work) = (outs.clone(), dir.path().to_path_buf());
        let exec = move |g: &crate::graph::Graph, inputs: &[(String, HostTensor)]| {
            let bytes = crate::onnx::export(g, &crate::onnx::ExportOptions::default())
                .map_err(|e| e.to_string())?;
            let model = work.join(format!("call{}.onnx", sink.lock().unwrap().len()));
            std::fs::write(&model, bytes).map_err(|e| e.to_string())?;
            let rt = runtime::by_name("tract").map_err(|e| e.to_string())?;
            let mut s = rt
                .load(&model, &SessionOptions::default())
                .map_err(|e| e.to_string())?;
            s.set_inputs(inputs).map_err(|e| e.to_string())?;
            s.run().map_err(|e| e.to_string())?;
            let o: Vec<HostTensor> = s
                .outputs()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            sink.lock().unwrap().push(o.clone());
            Ok(o)
        };
        let opts = DiscoverOptions {
            script_args: ScriptArgs::default(),
            executor: Some(Arc::new(exec)),
            ..Default::default()
        };
        let d = discover(&path, &opts).map_err(|e| e.to_string())?;
        let o = outs.lock().unwrap().clone();
        Ok((d, o))
    }

    fn close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 + 1e-4 * w.abs(),
                "{what}[{i}]: got {g}, want {w}"
            );
        }
    }

    /// Average of x[r0..r1, c0..c1] over an [h, w] row-major grid.
    fn window_mean(x: &[f64], w: usize, (r0, r1): (usize, usize), (c0, c1): (usize, usize)) -> f64 {
        let mut s = 0.0;
        for r in r0..r1 {
            for c in c0..c1 {
                s += x[r * w + c];
            }
        }
        s / ((r1 - r0) * (c1 - c0)) as f64
    }

    #[test]
    fn adaptive_bins_follow_pytorch() {
        assert_eq!(adaptive_bins(7, 3), vec![(0, 3), (2, 5), (4, 7)]);
        assert_eq!(adaptive_bins(4, 2), vec![(0, 2), (2, 4)]);
        // Upsampling: 2 cells into 7 bins; the middle bin straddles both.
        let b = adaptive_bins(2, 7);
        assert_eq!(b.len(), 7);
        assert_eq!(b[0], (0, 1));
        assert_eq!(b[3], (0, 2));
        assert_eq!(b[6], (1, 2));
    }

    #[test]
    fn adaptive_avg_pool_matches_the_bin_means() {
        // Uneven (matmul path), even (AvgPool path), and upsampling shapes.
        for (h, w, oh, ow) in [(5, 7, 3, 2), (4, 6, 2, 3), (2, 2, 7, 7), (3, 3, 3, 3)] {
            let src = format!(
                "let p = nn::adaptive_avg_pool2d([{oh}, {ow}]);\np.forward(rand([1, 1, {h}, {w}]));"
            );
            let (d, outs) = run(&src).unwrap();
            let x = d.builds[0].inputs[0].1.to_f64_vec();
            let (rb, cb) = (adaptive_bins(h, oh), adaptive_bins(w, ow));
            let mut want = Vec::new();
            for r in &rb {
                for c in &cb {
                    want.push(window_mean(&x, w, *r, *c));
                }
            }
            assert_eq!(outs[0][0].shape, vec![1, 1, oh, ow]);
            close(
                &outs[0][0].to_f32_vec().unwrap(),
                &want,
                &format!("{h}x{w}->{oh}x{ow}"),
            );
            let ops = &d.builds[0].graph.stats().op_counts;
            if h % oh == 0 && w % ow == 0 && (h, w) != (oh, ow) {
                assert_eq!(ops.get("AveragePool"), Some(&1), "{ops:?}");
            }
        }
    }

    #[test]
    fn composite_activations_and_rms_norm_match_their_formulas() {
        let src = r#"
let norm = nn::rms_norm(4, #{ eps: 1e-6 });
let m = nn::module("Acts", |x| [gelu(x, "tanh"), leaky_relu(x, 0.2), norm.forward(x), nn::gelu("tanh").forward(x)]);
m.forward(tensor([[-3.0, -0.5, 0.0, 2.0], [1.0, 1.5, -2.5, 0.25]]));
"#;
        let (d, outs) = run(src).unwrap();
        assert_eq!(d.builds[0].graph.stats().params, 4);
        let x = d.builds[0].inputs[0].1.to_f64_vec();
        let gelu: Vec<f64> = x
            .iter()
            .map(|&v| {
                0.5 * v
                    * (1.0
                        + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
            })
            .collect();
        close(&outs[0][0].to_f32_vec().unwrap(), &gelu, "gelu tanh");
        close(&outs[0][3].to_f32_vec().unwrap(), &gelu, "nn::gelu(tanh)");
        let leaky: Vec<f64> = x
            .iter()
            .map(|&v| if v > 0.0 { v } else { 0.2 * v })
            .collect();
        close(&outs[0][1].to_f32_vec().unwrap(), &leaky, "leaky relu");
        let mut rms = Vec::new();
        for row in x.chunks(4) {
            let ms = row.iter().map(|v| v * v).sum::<f64>() / 4.0;
            rms.extend(row.iter().map(|v| v / (ms + 1e-6).sqrt()));
        }
        close(&outs[0][2].to_f32_vec().unwrap(), &rms, "rms norm");
    }

    #[test]
    fn tied_parameters_are_one_initializer_and_counted_once() {
        let src = r#"
let emb = nn::embedding(10, 4);
let cls = nn::parameter("class_token", [1, 1, 4], #{ init: "normal", std: 0.02 });
let m = nn::module("Tied", |ids| {
    let h = emb.forward(ids) + cls.param("class_token");
    matmul(h, emb.param("weight").transpose(0, 1))
});
if m.params != 44 { throw `known before the call: ${m.params}`; }
m.forward(randint(0, 10, [2, 3]));
"#;
        let (d, outs) = run(src).unwrap();
        let g = &d.builds[0].graph;
        assert_eq!(g.stats().params, 10 * 4 + 4);
        assert_eq!(g.params.len(), 2, "the embedding weight is one initializer");
        assert!(g.params.iter().any(|p| p.name.ends_with("class_token")));
        assert_eq!(outs[0][0].shape, vec![2, 3, 10]);
    }

    #[test]
    fn parameter_errors_say_what_exists() {
        let e = run("let l = nn::linear(2, 2);\nlet m = nn::module(\"M\", |x| x + l.param(\"wieght\"));\nm.forward(rand([2, 2]));")
            .unwrap_err();
        assert!(
            e.contains("no parameter 'wieght'") && e.contains("weight, bias"),
            "{e}"
        );
        let e = run("let p = nn::parameter(\"t\", [2], #{ init: \"xavier\" });").unwrap_err();
        assert!(e.contains("init \"xavier\" is not known"), "{e}");
        let e = run("let p = nn::gelu(\"fast\");").unwrap_err();
        assert!(e.contains("approximate must be"), "{e}");
    }

    #[test]
    fn pool_options_give_ceil_mode() {
        let shape = |opts: &str| {
            let src =
                format!("let p = nn::max_pool2d(3, {opts});\np.forward(rand([1, 2, 112, 112]));");
            run(&src).map(|(_, o)| o[0][0].shape.clone())
        };
        assert_eq!(shape("#{ stride: 2 }").unwrap(), vec![1, 2, 55, 55]);
        assert_eq!(
            shape("#{ stride: 2, ceil_mode: true }").unwrap(),
            vec![1, 2, 56, 56]
        );
        assert_eq!(
            shape("#{ stride: 1, padding: 1 }").unwrap(),
            vec![1, 2, 112, 112]
        );
        let e = shape("#{ strides: 2 }").unwrap_err();
        assert!(e.contains("unknown option 'strides'"), "{e}");
    }

    #[test]
    fn random_adjacency_is_symmetric_normalized_and_seeded() {
        let (n, k) = (50, 3);
        let raw = random_adjacency(n, k, AdjNorm::None, true, 7).to_f64_vec();
        let at = |a: &[f64], i: usize, j: usize| a[i * n + j];
        let deg: Vec<f64> = raw.chunks(n).map(|row| row.iter().sum()).collect();
        for (i, d) in deg.iter().enumerate() {
            assert_eq!(at(&raw, i, i), 1.0, "self-loop");
            for j in 0..n {
                assert_eq!(at(&raw, i, j), at(&raw, j, i), "symmetric");
            }
            assert!(*d >= (k + 1) as f64, "node {i} has degree {d}");
        }
        let gcn = random_adjacency(n, k, AdjNorm::Gcn, true, 7).to_f64_vec();
        for i in 0..n {
            for j in 0..n {
                let want = at(&raw, i, j) / (deg[i] * deg[j]).sqrt();
                assert!((at(&gcn, i, j) - want).abs() < 1e-6);
            }
        }
        let mean = random_adjacency(n, k, AdjNorm::Mean, false, 7).to_f64_vec();
        for i in 0..n {
            assert_eq!(at(&mean, i, i), 0.0, "no self-loop");
            let s: f64 = mean[i * n..(i + 1) * n].iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "row {i} sums to {s}");
        }
        assert_eq!(
            random_adjacency(n, k, AdjNorm::None, true, 7).to_f64_vec(),
            raw
        );
        assert_ne!(
            random_adjacency(n, k, AdjNorm::None, true, 8).to_f64_vec(),
            raw
        );
        let e = run("let a = random_adjacency(5, 5);").unwrap_err();
        assert!(e.contains("must be in 1..5"), "{e}");
    }
}
