#!/usr/bin/env python3
"""PyTorch side of the training-speed comparison: the same architecture, optimizer,
batch size, preprocessing and thread count as `shrink train`, one pass over the
Fashion-MNIST training set with batches sliced from in-memory tensors (no
DataLoader overhead, the fastest plain PyTorch loop). Prints one JSON object."""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model(arch):
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    if arch == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                             nn.ReLU(), nn.Linear(84, 10))
    if arch == "cnn":
        def block(i, o, pool):
            layers = [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
            return layers + ([nn.MaxPool2d(2)] if pool else [])
        return nn.Sequential(*block(1, 32, True), *block(32, 64, True), *block(64, 128, True),
                             nn.Flatten(), nn.Linear(128 * 3 * 3, 10))
    raise SystemExit(f"unknown arch {arch}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mlp")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x = load_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = load_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    x = (x - x.mean()) / x.std()
    x = torch.from_numpy(x).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y)
    net = model(args.arch)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=(len(x) + args.batch - 1) // args.batch)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    perm = torch.randperm(len(x))
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, len(x), args.batch):
        idx = perm[s:s + args.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        sched.step()
    el, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"arch": args.arch, "samples": len(x), "seconds": el, "samples_per_s": len(x) / el,
                      "cpu_seconds": cpu,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "loss": float(loss)}))


if __name__ == "__main__":
    main()
