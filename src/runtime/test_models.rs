//! Small ONNX models for tests, written by the venv's `onnx.helper` so that
//! the runtimes are tested on files made independently of our exporter.

use crate::graph::{DType, HostTensor};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The project venv (symlinked into each worktree by the setup script).
pub(crate) fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv")
}

/// TURNKEY_PYTHON, else the project venv's python.
pub(crate) fn python() -> PathBuf {
    let py = std::env::var_os("TURNKEY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv_dir().join("bin/python"));
    assert!(
        py.exists(),
        "no Python with onnx at {}: run the setup script to create the project .venv \
         (pip install onnx onnxruntime numpy), or set TURNKEY_PYTHON",
        py.display()
    );
    py
}

/// Runs `body` (Python using `onnx`, `helper`, `TensorProto`, `np`) which
/// must leave a `ModelProto` in `m`; saves it as `dir/<name>.onnx`.
pub(crate) fn make_model(dir: &Path, name: &str, body: &str) -> PathBuf {
    let out = dir.join(format!("{name}.onnx"));
    let script = format!(
        "import sys, numpy as np, onnx\n\
         from onnx import helper, TensorProto, numpy_helper\n\
         {body}\n\
         m.ir_version = 9\n\
         onnx.checker.check_model(m, full_check=True)\n\
         onnx.save(m, sys.argv[1])\n"
    );
    let res = Command::new(python())
        .arg("-c")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("run python");
    assert!(
        res.status.success(),
        "making {name} failed:\n{}\n{script}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

fn onnx_type(d: DType) -> &'static str {
    match d {
        DType::Float32 => "FLOAT",
        DType::Float16 => "FLOAT16",
        DType::Bfloat16 => "BFLOAT16",
        DType::Float64 => "DOUBLE",
        DType::Int8 => "INT8",
        DType::Int16 => "INT16",
        DType::Int32 => "INT32",
        DType::Int64 => "INT64",
        DType::Uint8 => "UINT8",
        DType::String => "STRING",
        DType::Bool => "BOOL",
        DType::Uint16 => "UINT16",
        DType::Uint32 => "UINT32",
        DType::Uint64 => "UINT64",
        DType::Float8E4M3FN => "FLOAT8E4M3FN",
        DType::Float8E4M3FNUZ => "FLOAT8E4M3FNUZ",
        DType::Float8E5M2 => "FLOAT8E5M2",
        DType::Float8E5M2FNUZ => "FLOAT8E5M2FNUZ",
        DType::Float8E8M0 => "FLOAT8E8M0",
        DType::Uint4 => "UINT4",
        DType::Int4 => "INT4",
        DType::Uint2 => "UINT2",
        DType::Int2 => "INT2",
    }
}

/// `y = Identity(x)` with x: `dtype` [2, 3]. ONNX Runtime implements no
/// Identity for the packed 4- and 2-bit integers or float8e8m0 (see
/// [`has_identity`]).
/// Opset 21 for the types only ONNX files carry (8-bit floats joined
/// Identity in 19, unsigned 16-64-bit always had it).
pub(crate) fn identity(dir: &Path, dtype: DType) -> PathBuf {
    let t = onnx_type(dtype);
    let opset = if dtype.in_scripts() { 17 } else { 21 };
    make_model(
        dir,
        &format!("identity_{dtype}"),
        &format!(
            "g = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'id',\n\
             [helper.make_tensor_value_info('x', TensorProto.{t}, [2, 3])],\n\
             [helper.make_tensor_value_info('y', TensorProto.{t}, [2, 3])])\n\
             m = helper.make_model(g, opset_imports=[helper.make_opsetid('', {opset})])"
        ),
    )
}

/// Whether ONNX Runtime runs `identity` for `dtype`.
pub(crate) fn has_identity(dtype: DType) -> bool {
    !matches!(
        dtype,
        DType::Uint4 | DType::Int4 | DType::Uint2 | DType::Int2 | DType::Float8E8M0
    )
}

/// Distinct, exactly representable values for every dtype.
pub(crate) fn sample_tensor(dtype: DType, shape: &[usize]) -> HostTensor {
    if dtype.is_string() {
        let items: Vec<String> = (0..crate::graph::tensor::numel(shape))
            .map(|i| ["", "a", "héllo", "x y", "日本"][i % 5].repeat(1 + i / 5))
            .collect();
        return HostTensor::from_strings(shape, &items);
    }
    HostTensor::from_fn(dtype, shape, |i| match dtype {
        DType::Bool => (i % 2) as f64,
        DType::Uint8 => (i * 7 % 250) as f64,
        DType::Uint16 | DType::Uint32 | DType::Uint64 | DType::Uint4 | DType::Uint2 => {
            (i * 3 % 4) as f64
        }
        _ if dtype.is_float() => (i as f64 - 2.0) * 0.5,
        _ => i as f64 * 3.0 - 5.0,
    })
}

/// x: f32 [2, 4], idx: i64 [3] ->
/// `y = Relu(x @ W + b)` (f32 [2, 5]), `g = Gather(table, idx)` (f32 [3, 3]),
/// `k = idx + 1` (i64 [3]).
pub(crate) fn mlp_gather(dir: &Path) -> PathBuf {
    make_model(
        dir,
        "mlp_gather",
        "rng = np.random.default_rng(0)\n\
         W = numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), 'W')\n\
         b = numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), 'b')\n\
         table = numpy_helper.from_array(rng.standard_normal((6, 3)).astype(np.float32), 'table')\n\
         one = numpy_helper.from_array(np.array([1], dtype=np.int64), 'one')\n\
         nodes = [helper.make_node('MatMul', ['x', 'W'], ['xw']),\n\
                  helper.make_node('Add', ['xw', 'b'], ['xwb']),\n\
                  helper.make_node('Relu', ['xwb'], ['y']),\n\
                  helper.make_node('Gather', ['table', 'idx'], ['g'], axis=0),\n\
                  helper.make_node('Add', ['idx', 'one'], ['k'])]\n\
         g = helper.make_graph(nodes, 'mlp_gather',\n\
             [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 4]),\n\
              helper.make_tensor_value_info('idx', TensorProto.INT64, [3])],\n\
             [helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 5]),\n\
              helper.make_tensor_value_info('g', TensorProto.FLOAT, [3, 3]),\n\
              helper.make_tensor_value_info('k', TensorProto.INT64, [3])],\n\
             [W, b, table, one])\n\
         m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])",
    )
}

pub(crate) fn mlp_gather_inputs() -> Vec<(String, HostTensor)> {
    vec![
        (
            "x".into(),
            HostTensor::uniform(DType::Float32, &[2, 4], -1.0, 1.0, 3),
        ),
        (
            "idx".into(),
            HostTensor::from_fn(DType::Int64, &[3], |i| [5.0, 0.0, 2.0][i]),
        ),
    ]
}

/// The RECIPES.md overhead model: y = Relu(x @ W + b), x: f32 [1, 10], W [10, 10].
pub(crate) fn tiny_linear(dir: &Path) -> PathBuf {
    make_model(
        dir,
        "tiny_linear",
        "rng = np.random.default_rng(1)\n\
         W = numpy_helper.from_array(rng.standard_normal((10, 10)).astype(np.float32), 'W')\n\
         b = numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), 'b')\n\
         nodes = [helper.make_node('MatMul', ['x', 'W'], ['xw']),\n\
                  helper.make_node('Add', ['xw', 'b'], ['xwb']),\n\
                  helper.make_node('Relu', ['xwb'], ['y'])]\n\
         g = helper.make_graph(nodes, 'tiny',\n\
             [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 10])],\n\
             [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 10])], [W, b])\n\
         m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])",
    )
}

/// An LSTM over x: f32 [T, 1, 4] (T symbolic), hidden size 3, no initial
/// state: y_h (f32 [1, 1, 3]) is the last hidden state. A runtime that keeps
/// the hidden state between runs gives another y_h on the second run.
pub(crate) fn lstm(dir: &Path) -> PathBuf {
    make_model(
        dir,
        "lstm",
        "rng = np.random.default_rng(2)\n\
         W = numpy_helper.from_array(rng.standard_normal((1, 12, 4)).astype(np.float32), 'W')\n\
         R = numpy_helper.from_array(rng.standard_normal((1, 12, 3)).astype(np.float32), 'R')\n\
         B = numpy_helper.from_array(rng.standard_normal((1, 24)).astype(np.float32), 'B')\n\
         nodes = [helper.make_node('LSTM', ['x', 'W', 'R', 'B'], ['', 'y_h'], hidden_size=3)]\n\
         g = helper.make_graph(nodes, 'lstm',\n\
             [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['T', 1, 4])],\n\
             [helper.make_tensor_value_info('y_h', TensorProto.FLOAT, [1, 1, 3])], [W, R, B])\n\
         m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])",
    )
}

/// y = Relu(Reshape(x, [N, 2, 2])) with x: f32 [N, 4], the target shape
/// computed from Shape(x), and a stale `value_info` for the reshaped value
/// saying [3, 2, 2] (as an exporter traced at N = 3 leaves it).
pub(crate) fn stale_value_info(dir: &Path) -> PathBuf {
    make_model(
        dir,
        "stale",
        "starts = numpy_helper.from_array(np.array([0], dtype=np.int64), 'starts')\n\
         ends = numpy_helper.from_array(np.array([1], dtype=np.int64), 'ends')\n\
         tail = numpy_helper.from_array(np.array([2, 2], dtype=np.int64), 'tail')\n\
         nodes = [helper.make_node('Shape', ['x'], ['s']),\n\
                  helper.make_node('Slice', ['s', 'starts', 'ends'], ['n']),\n\
                  helper.make_node('Concat', ['n', 'tail'], ['target'], axis=0),\n\
                  helper.make_node('Reshape', ['x', 'target'], ['r']),\n\
                  helper.make_node('Relu', ['r'], ['y'])]\n\
         g = helper.make_graph(nodes, 'stale',\n\
             [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 4])],\n\
             [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 2, 2])],\n\
             [starts, ends, tail],\n\
             value_info=[helper.make_tensor_value_info('r', TensorProto.FLOAT, [3, 2, 2])])\n\
         m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])",
    )
}
