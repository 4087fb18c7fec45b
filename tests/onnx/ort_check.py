"""Checks ONNX files written by `shrink export` against shrink itself.

Each argument is a folder holding model.onnx, input_0.pb and output_0.pb (the
output shrink computed for that input). For each: onnx.checker (full check,
with shape inference) must accept the model, ONNX Runtime must run it, and its
output must match shrink's within rtol 1e-3 / atol 1e-5 with the same top-1
class per row for 2-D outputs. Prints one line per model and a summary; exits
1 on any failure."""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def check(folder):
    path = os.path.join(folder, "model.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    x = load_tensor(os.path.join(folder, "input_0.pb"))
    want = load_tensor(os.path.join(folder, "output_0.pb"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    if any(n.op_type == "QuantizeLinear" for n in model.graph.node):
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    if got.shape != want.shape:
        return "output shape %s, shrink %s" % (got.shape, want.shape)
    if not np.allclose(got, want, rtol=1e-3, atol=1e-5, equal_nan=True):
        return "outputs differ by up to %.3g" % float(np.nanmax(np.abs(got - want)))
    if got.ndim == 2 and got.shape[1] > 1 and not np.array_equal(got.argmax(1), want.argmax(1)):
        return "top-1 classes differ"
    return None


def main(folders):
    bad = 0
    for folder in folders:
        try:
            why = check(folder)
        except Exception as e:  # the checker and the runtime raise many kinds
            why = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        if why:
            bad += 1
            print("FAIL %s: %s" % (folder, why))
    print("onnxruntime %s: %d of %d exported models match shrink" % (ort.__version__, len(folders) - bad, len(folders)))
    return 1 if bad or not folders else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
