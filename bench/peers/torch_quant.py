#!/usr/bin/env python3
"""PyTorch side of the quantization comparison (bench/peers/quant_vs_torch.sh): the network
shrink trained (weights read from its .shrk file, same preprocessing), quantized with PyTorch's
eager-mode static post-training quantization (torch.ao: conv+bn+relu and linear+relu fused,
per-channel weights, the engine's default observers, calibrated on the same first training
samples shrink calibrates on), evaluated on the full test set and timed at batch 1 and 64.
Prints one JSON object."""
import argparse, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn
import torch.ao.quantization as tq

import shrk_reader
from torch_train import load_idx


class Block(nn.Module):
    def __init__(self, ci, co):
        super().__init__()
        self.conv = nn.Conv2d(ci, co, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(co)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.relu(self.bn(self.conv(x))))


class CNN(nn.Module):
    fuse = [["block%d.conv" % i, "block%d.bn" % i, "block%d.relu" % i] for i in (1, 2, 3)]

    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.block1, self.block2, self.block3 = Block(1, 32), Block(32, 64), Block(64, 128)
        self.fc = nn.Linear(128 * 3 * 3, 10)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.quant(x))))
        return self.dequant(self.fc(torch.flatten(x, 1)))


class LeNet5(nn.Module):
    fuse = [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"], ["fc2", "relu4"]]

    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2)
        self.fc1, self.relu3 = nn.Linear(400, 120), nn.ReLU()
        self.fc2, self.relu4 = nn.Linear(120, 84), nn.ReLU()
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool2(self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(self.quant(x)))))))
        x = self.relu4(self.fc2(self.relu3(self.fc1(torch.flatten(x, 1)))))
        return self.dequant(self.fc3(x))


def data(root, split, pre):
    p = "train" if split == "train" else "t10k"
    x = load_idx(os.path.join(root, f"{p}-images-idx3-ubyte.gz")).astype(np.float32)
    y = load_idx(os.path.join(root, f"{p}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    return torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y)


def accuracy(net, x, y):
    with torch.no_grad():
        pred = torch.cat([net(x[s:s + 500]).argmax(1) for s in range(0, len(x), 500)])
    return float((pred == y).float().mean())


def latency_ms(net, x, seconds):
    """Median of single calls after a warm-up, like `shrink bench`."""
    times = []
    with torch.no_grad():
        for _ in range(20):
            net(x)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(times) < 20:
            t = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--calib-samples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--engine", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    meta, tensors = shrk_reader.load(args.model)
    arch = meta["arch"]
    net = {"cnn": CNN, "lenet5": LeNet5}[arch]()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    net.eval()
    xt, yt = data(args.data, "train", meta["preproc"])
    xs, ys = data(args.data, "test", meta["preproc"])
    engine = args.engine or ("fbgemm" if "fbgemm" in torch.backends.quantized.supported_engines else "onednn")
    torch.backends.quantized.engine = engine
    q = tq.fuse_modules(net, net.fuse, inplace=False)
    q.qconfig = tq.get_default_qconfig(engine)
    tq.prepare(q, inplace=True)
    with torch.no_grad():
        for s in range(0, args.calib_samples, 100):
            q(xt[s:min(s + 100, args.calib_samples)])
    tq.convert(q, inplace=True)
    out = {"peer": "pytorch", "version": torch.__version__, "engine": engine, "arch": arch, "threads": args.threads,
           "accuracy_f32": accuracy(net, xs, ys), "accuracy_int8": accuracy(q, xs, ys)}
    for b in (1, 64):
        out[f"latency_ms_f32_b{b}"] = latency_ms(net, xs[:b], args.seconds)
        out[f"latency_ms_int8_b{b}"] = latency_ms(q, xs[:b], args.seconds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
