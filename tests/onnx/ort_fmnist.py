"""Round trip on Fashion-MNIST test images: shrink's model vs ONNX Runtime on shrink's export.

  ort_fmnist.py input MODEL.onnx N DIR
      writes DIR/input_0.pb: the first N test images, preprocessed as the model's
      metadata_props say (shrink.pixel_scale, shrink.normalize; what `shrink export`
      stores), and DIR/labels.npy. Fails if the metadata is missing.
  ort_fmnist.py check [--min-agree P] [--atol A] NAME=DIR ...
      DIR holds model.onnx, input_0.pb and output_0.pb (shrink's logits for that input,
      from `shrink export --test-data DIR --test-input DIR/input_0.pb`). Runs ONNX Runtime
      (1 thread, default graph optimizations, as a user would) and prints per model: images,
      identical top-1 %, max and mean |logit difference|, shrink's and ORT's accuracy.
      Fails unless identical top-1 >= P % (default 99.9) and max |difference| <= A.
The Fashion-MNIST folder is $SHR_FMNIST_DIR or /usr/share/datasets/fashion-mnist."""
import gzip
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

DATA = os.environ.get("SHR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    path = os.path.join(DATA, name)
    raw = gzip.open(path).read() if os.path.exists(path) else open(path[:-3], "rb").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def make_input(model_path, n, out):
    meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    if "shrink.normalize" not in meta or "shrink.pixel_scale" not in meta:
        sys.exit("FAIL: %s has no shrink.normalize / shrink.pixel_scale metadata" % model_path)
    mean, std = ([float(v) for v in part.split(":")] for part in meta["shrink.normalize"].split(","))
    scale = float(meta["shrink.pixel_scale"])
    x = idx("t10k-images-idx3-ubyte.gz")[:n].astype(np.float32)[:, None] * np.float32(scale)
    x = (x - np.float32(mean[0])) / np.float32(std[0])  # one channel
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.astype(np.float32), "input").SerializeToString())
    np.save(os.path.join(out, "labels.npy"), idx("t10k-labels-idx1-ubyte.gz")[:n].astype(np.int64))
    return 0


def check(args):
    min_agree, atol, bad = 99.9, float("inf"), 0
    while args and args[0].startswith("--"):
        if args[0] == "--min-agree":
            min_agree = float(args[1])
        elif args[0] == "--atol":
            atol = float(args[1])
        else:
            sys.exit("unknown option %s" % args[0])
        args = args[2:]
    print("%-14s %6s %9s %10s %10s %9s %9s" % ("model", "images", "same top1", "max |d|", "mean |d|", "acc shrk", "acc ORT"))
    for spec in args:
        name, d = spec.split("=", 1)
        x = load_tensor(os.path.join(d, "input_0.pb"))
        want = load_tensor(os.path.join(d, "output_0.pb"))
        labels = np.load(os.path.join(d, "labels.npy"))
        path = os.path.join(d, "model.onnx")
        onnx.checker.check_model(onnx.load(path), full_check=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        got = np.concatenate([sess.run(None, {sess.get_inputs()[0].name: x[i:i + 500]})[0]
                              for i in range(0, len(x), 500)])
        diff = np.abs(got - want)
        agree = 100.0 * float((got.argmax(1) == want.argmax(1)).mean())
        print("%-14s %6d %8.2f%% %10.3g %10.3g %8.2f%% %8.2f%%" % (
            name, len(x), agree, diff.max(), diff.mean(), 100.0 * (want.argmax(1) == labels).mean(),
            100.0 * (got.argmax(1) == labels).mean()))
        if agree < min_agree or not diff.max() <= atol:
            print("FAIL %s: identical top-1 %.2f %% (need %.2f), max |difference| %.3g (allowed %.3g)" % (
                name, agree, min_agree, diff.max(), atol))
            bad += 1
    print("onnxruntime %s" % ort.__version__)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "input":
        sys.exit(make_input(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    if len(sys.argv) > 2 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2:]))
    sys.exit(__doc__)
