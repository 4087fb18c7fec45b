"""Writes OUT/model.onnx: a small CNN in QDQ form, as quantization tools emit it
(QuantizeLinear/DequantizeLinear around activations, int8 weights with a
per-channel scale behind DequantizeLinear). Used by test_onnx_interop.sh to
check that shrink imports QDQ models the way ONNX Runtime runs them."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

rng = np.random.default_rng(0)


def init(name, arr):
    return numpy_helper.from_array(arr, name)


def main(out):
    os.makedirs(out, exist_ok=True)
    inits = [
        init("s_in", np.array(1 / 255, np.float32)), init("z_in", np.array(0, np.uint8)),
        init("s_a", np.array(0.02, np.float32)), init("z_a", np.array(3, np.uint8)),
        init("s_b", np.array(0.05, np.float32)), init("z_b", np.array(0, np.int8)),
        init("wq", rng.integers(-127, 128, (4, 1, 3, 3)).astype(np.int8)),
        init("ws", (rng.random(4) * 0.01 + 0.005).astype(np.float32)), init("wz", np.zeros(4, np.int8)),
        init("bias", rng.standard_normal(4).astype(np.float32) * 0.1),
        init("fq", rng.integers(-127, 128, (10, 4 * 13 * 13)).astype(np.int8)),
        init("fs", np.array(0.003, np.float32)), init("fz", np.array(0, np.int8)),
        init("fb", rng.standard_normal(10).astype(np.float32) * 0.1),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
        helper.make_node("Conv", ["xd", "w", "bias"], ["c"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s_a", "z_a"], ["rq"]),
        helper.make_node("DequantizeLinear", ["rq", "s_a", "z_a"], ["rd"]),
        helper.make_node("Flatten", ["rd"], ["f"], axis=1),
        helper.make_node("DequantizeLinear", ["fq", "fs", "fz"], ["fw"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1),
        helper.make_node("QuantizeLinear", ["g", "s_b", "z_b"], ["gq"]),
        helper.make_node("DequantizeLinear", ["gq", "s_b", "z_b"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qdq-test")
    model.ir_version = 7
    save(model, os.path.join(out, "model.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
