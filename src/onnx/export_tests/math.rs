//! References and bfloat16 export checks for the math and reduction ops
//! of issue #15.

use super::op_graph;
use crate::graph::{DType, HostTensor, Op};
use crate::onnx::export::{ExportOptions, export, export_model};
use crate::onnx::testutil::run_python;
use std::path::{Path, PathBuf};

/// `x` split around `axis`: (outer, n, inner) with element (o, j, i) at
/// `(o * n + j) * inner + i`.
fn around(x: &HostTensor, axis: usize) -> (usize, usize, usize) {
    let outer = x.shape[..axis].iter().product();
    let inner = x.shape[axis + 1..].iter().product();
    (outer, x.shape[axis], inner)
}

/// Folds `x` over `axes` (all when empty) with `f` from `init`, in
/// row-major output order (the same with or without keepdims).
fn fold_axes(x: &HostTensor, axes: &[usize], init: f64, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let red = |i: usize| axes.is_empty() || axes.contains(&i);
    let out_shape: Vec<usize> = (0..x.shape.len())
        .map(|i| if red(i) { 1 } else { x.shape[i] })
        .collect();
    let mut out = vec![init; out_shape.iter().product()];
    for (flat, v) in x.to_f64_vec().into_iter().enumerate() {
        let (mut rem, mut o, mut stride) = (flat, 0, 1);
        for i in (0..x.shape.len()).rev() {
            let k = rem % x.shape[i];
            rem /= x.shape[i];
            if !red(i) {
                o += k * stride;
            }
            stride *= out_shape[i];
        }
        out[o] = f(out[o], v);
    }
    out
}

/// References for the reductions and scans of issue #15 (first output).
pub(super) fn reduction_ref(op: &Op, x: &HostTensor) -> Option<Vec<f64>> {
    let v = x.to_f64_vec();
    Some(match op {
        Op::ReduceMin { axes, .. } => fold_axes(x, axes, f64::INFINITY, f64::min),
        Op::ReduceProd { axes, .. } => fold_axes(x, axes, 1.0, |a, b| a * b),
        Op::ReduceL1 { axes, .. } => fold_axes(x, axes, 0.0, |a, b| a + b.abs()),
        Op::ReduceL2 { axes, .. } => fold_axes(x, axes, 0.0, |a, b| a + b * b)
            .into_iter()
            .map(f64::sqrt)
            .collect(),
        Op::ArgMax { axis, .. } | Op::ArgMin { axis, .. } => {
            let (outer, n, inner) = around(x, *axis);
            let max = matches!(op, Op::ArgMax { .. });
            let mut out = Vec::new();
            for o in 0..outer {
                for i in 0..inner {
                    let at = |j: usize| v[(o * n + j) * inner + i];
                    // Strictly better only: the first index wins ties.
                    let best = (1..n).fold(0, |b, j| {
                        if (max && at(j) > at(b)) || (!max && at(j) < at(b)) {
                            j
                        } else {
                            b
                        }
                    });
                    out.push(best as f64);
                }
            }
            out
        }
        Op::TopK { k, axis, largest } => {
            let (outer, n, inner) = around(x, *axis);
            let mut out = vec![0.0; outer * k * inner];
            for o in 0..outer {
                for i in 0..inner {
                    let mut lane: Vec<f64> = (0..n).map(|j| v[(o * n + j) * inner + i]).collect();
                    lane.sort_by(|a, b| a.total_cmp(b));
                    if *largest {
                        lane.reverse();
                    }
                    for j in 0..*k {
                        out[(o * k + j) * inner + i] = lane[j];
                    }
                }
            }
            out
        }
        Op::CumSum { axis } => {
            let (outer, n, inner) = around(x, *axis);
            let mut out = v.clone();
            for o in 0..outer {
                for i in 0..inner {
                    for j in 1..n {
                        out[(o * n + j) * inner + i] += out[(o * n + j - 1) * inner + i];
                    }
                }
            }
            out
        }
        _ => return None,
    })
}

/// Ops whose ONNX schema takes no bfloat16 before opset 22 (Sin, Round,
/// Softplus, TopK, PRelu before 16, CumSum before 14, ...) are computed in
/// float32 between Casts for bfloat16 inputs: each exported model passes
/// the full checker at opsets 13, 17 and 21.
#[test]
fn bfloat16_math_is_widened_where_onnx_has_no_bfloat16() {
    use Op::*;
    let ops = [
        Sin,
        Cos,
        Tan,
        Round,
        Softsign,
        Selu,
        Mish,
        Elu { alpha: 0.5 },
        Softplus {
            beta: 2.0,
            threshold: 1.0,
        },
        PRelu,
        TopK {
            k: 2,
            axis: 2,
            largest: true,
        },
        CumSum { axis: 1 },
        Floor,
        Max,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for op in &ops {
        let g = op_graph(op, DType::Bfloat16);
        for opset in [13, 17, 21] {
            let opts = ExportOptions {
                opset,
                ..Default::default()
            };
            let f = dir.path().join(format!("{}_{opset}.onnx", op.kind()));
            std::fs::write(&f, export(&g, &opts).unwrap()).unwrap();
            files.push(f);
        }
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = run_python(
        "import onnx, sys\n\
         for p in sys.argv[1:]:\n\
         \x20   try:\n\
         \x20       onnx.checker.check_model(onnx.load(p), full_check=True)\n\
         \x20   except Exception as e:\n\
         \x20       print(p.rsplit('/', 1)[-1], str(e).splitlines()[0])\n",
        &paths,
    );
    assert!(out.trim().is_empty(), "{out}");
    // Floor and Max take bfloat16 as they are; the others are widened.
    let g = op_graph(&Sin, DType::Bfloat16);
    let m = export_model(&g, &ExportOptions::default()).unwrap();
    let kinds: Vec<&str> = m
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(kinds, ["Cast", "Sin", "Cast"]);
    let g = op_graph(&Floor, DType::Bfloat16);
    let m = export_model(&g, &ExportOptions::default()).unwrap();
    assert_eq!(m.graph.as_ref().unwrap().node.len(), 1);
}
