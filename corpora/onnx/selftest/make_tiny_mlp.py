"""Writes tiny-mlp@1/model.onnx, the ONNX entry of corpora/selftest.toml: a
two-layer perceptron (16 -> 32 -> 4, softmax) over a dynamic `batch_size`,
with fixed weights. Run it with the project's venv; the file is committed,
and its sha256 is in the manifest (regenerating changes it only if onnx
serializes differently)."""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20240501)
def w(name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", 16])
y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch_size", 4])
nodes = [
    helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
    helper.make_node("Relu", ["h"], ["r"]),
    helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["logits"], transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
]
inits = [w("fc1.weight", 32, 16), w("fc1.bias", 32), w("fc2.weight", 4, 32), w("fc2.bias", 4)]
graph = helper.make_graph(nodes, "TinyMLP", [x], [y], inits)
model = helper.make_model(graph, producer_name="turnkey-corpora", opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny-mlp@1", "model.onnx")
onnx.save(model, out)
print(out)
