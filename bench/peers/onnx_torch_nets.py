#!/usr/bin/env python3
"""PyTorch-exported networks on Fashion-MNIST, imported into shrink.

Trains with PyTorch (Debian python3-torch; 1 thread, seed 1, Adam 1e-3, batch 128) a LeNet-5,
a small ResNet (BatchNorm, residual Adds, a strided projection shortcut) and a MobileNet-style
net (depthwise-separable blocks with ReLU6, an inverted residual), exports each with
torch.onnx.export (opset 13, dynamic batch axis, BatchNormalization kept as nodes), and checks
shrink against PyTorch on the 10k test images:
  - logits: shrink runs the .onnx on PyTorch's exact input tensor (`shrink export
    --test-input`), max |shrink - PyTorch| must be <= 1e-4;
  - accuracy: `shrink eval NET.onnx` with shrink's default import preprocessing, the one
    PyTorch trained with: pixels / 255 in [0, 1], no mean/std normalization;
  - the imported ResNet quantized with `shrink quantize --mode static` (default settings:
    1000 calibration images, minmax, per-channel) must stay within 1 point of its float accuracy.
Prints a table; exit 1 when a check fails.
Usage: onnx_torch_nets.py SHRINK OUTDIR [--epochs E] [--train-limit N] [--nets a,b,c] [--no-check]
(--no-check: only train and write OUTDIR/NET.onnx, for onnx_vs_ort.sh)"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "onnx"))
from pytorch_models import tensor_pb  # noqa: E402  (the test's TensorProto writer)

DATA = os.environ.get("SHR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    raw = gzip.open(os.path.join(DATA, name)).read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


class Basic(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.a, self.an = nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o)
        self.b, self.bn = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
        self.proj = None if stride == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False),
                                                                      nn.BatchNorm2d(o))

    def forward(self, x):
        y = self.bn(self.b(F.relu(self.an(self.a(x)))))
        return F.relu(y + (x if self.proj is None else self.proj(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.sn = nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        self.layers = nn.Sequential(Basic(16, 16, 1), Basic(16, 32, 2), Basic(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(F.relu(self.sn(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def dw_sep(i, o, stride):
    return [nn.Conv2d(i, i, 3, stride, 1, groups=i, bias=False), nn.BatchNorm2d(i), nn.ReLU6(),
            nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU6()]


class InvRes(nn.Module):
    """MobileNetV2's inverted residual: 1x1 expand, depthwise 3x3, 1x1 project, + x."""

    def __init__(self, c, t):
        super().__init__()
        h = c * t
        self.body = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                                  nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                                  nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
                                      *dw_sep(16, 32, 2), InvRes(32, 4), *dw_sep(32, 64, 2), InvRes(64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


NETS = {"lenet5": LeNet5, "resnet": ResNet, "mobilenet": MobileNet}


def read_pb(path):
    """The float32 raw_data of a TensorProto written by shrink (dims, data_type, name, raw_data)."""
    buf, i, dims, data = open(path, "rb").read(), 0, [], b""

    def varint(i):
        v, s = 0, 0
        while True:
            b = buf[i]
            v |= (b & 0x7F) << s
            i, s = i + 1, s + 7
            if b < 0x80:
                return v, i
    while i < len(buf):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(i)
            if field == 1:
                dims.append(v)
        elif wire == 2:
            n, i = varint(i)
            if field == 1:  # packed dims
                j = i
                while j < i + n:
                    v, j = varint(j)
                    dims.append(v)
            elif field == 9:
                data = buf[i:i + n]
            i += n
        else:
            raise ValueError("unexpected wire type %d in %s" % (wire, path))
    return np.frombuffer(data, "<f4").reshape(dims)


def shrink_json(shrink, *args):
    out = subprocess.run([shrink, *args, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shrink")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--nets", default="lenet5,resnet,mobilenet")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    # PRESERVE on a model in eval mode keeps BatchNormalization nodes; torch warns about training mode
    warnings.filterwarnings("ignore", message=".*constant folding.*")
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)[:, None]
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    if args.train_limit:
        xtr, ytr = xtr[:args.train_limit], ytr[:args.train_limit]
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)[:, None]
    yte = idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    print("PyTorch %s, preprocessing: pixels / 255 in [0, 1], no normalization; %d training images, "
          "%d epoch(s), 1 thread" % (torch.__version__, len(xtr), args.epochs))
    print("%-10s %7s %7s %9s %9s %10s %9s %8s" % ("net", "params", "train s", "acc torch", "acc shrk", "max |d|",
                                                  "same top1", "result"))
    bad = 0
    for name in args.nets.split(","):
        torch.manual_seed(1)
        model = NETS[name]()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1)
        t0 = time.time()
        model.train()
        for _ in range(args.epochs):
            perm = torch.randperm(len(xtr), generator=g)
            for i in range(0, len(xtr), 128):
                b = perm[i:i + 128]
                loss = F.cross_entropy(model(xtr[b]), ytr[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        train_s = time.time() - t0
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(xte[i:i + 500]) for i in range(0, len(xte), 500)])
        acc_t = float((logits.argmax(1).numpy() == yte).mean())
        path = os.path.join(args.out, name + ".onnx")
        torch.onnx.export(model, xte[:2], path, opset_version=13, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE)
        if args.no_check:
            continue
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        tensor_pb(xte, os.path.join(d, "input_0.pb"))
        subprocess.run([args.shrink, "export", path, "--format", "onnx", "-o", os.path.join(d, "again.onnx"),
                        "--test-data", d, "--test-input", os.path.join(d, "input_0.pb")], check=True,
                       stdout=subprocess.DEVNULL)
        got = read_pb(os.path.join(d, "output_0.pb"))
        diff = float(np.abs(got - logits.numpy()).max())
        same = 100.0 * float((got.argmax(1) == logits.argmax(1).numpy()).mean())
        acc_s = shrink_json(args.shrink, "eval", path, "--data", "fashion-mnist", "--threads", "1")["accuracy"]
        ok = diff <= 1e-4 and abs(acc_s - acc_t) < 1e-9
        bad += not ok
        params = sum(p.numel() for p in model.parameters())
        print("%-10s %7d %7.0f %8.2f%% %8.2f%% %10.2g %8.2f%% %8s" % (name, params, train_s, 100 * acc_t, 100 * acc_s,
                                                                     diff, same, "ok" if ok else "MISMATCH"))
        if name == "resnet":
            shrk, q = os.path.join(args.out, "resnet.shrk"), os.path.join(args.out, "resnet_int8.shrk")
            subprocess.run([args.shrink, "import", path, "-o", shrk], check=True, stdout=subprocess.DEVNULL)
            j = shrink_json(args.shrink, "quantize", shrk, "--mode", "static", "--data", "fashion-mnist",
                            "--threads", "1", "-o", q)
            drop = 100 * (j["accuracy_before"] - j["accuracy_after"])
            qok = drop <= 1.0
            bad += not qok
            print("%-10s imported ResNet, shrink quantize --mode static: float %.2f%% -> int8 %.2f%% "
                  "(%+.2f pt) %s" % ("", 100 * j["accuracy_before"], 100 * j["accuracy_after"], -drop,
                                     "ok" if qok else "DROP > 1 pt"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
