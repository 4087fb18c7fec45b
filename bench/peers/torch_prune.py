#!/usr/bin/env python3
"""PyTorch side of the pruning comparison (bench/peers/prune_vs_torch.sh): start from the
very weights shrink trained (--from-shrk, read by shrk_reader.py, with its preprocessing),
or train the zoo model with shrink's recipe (Adam 1e-3, cosine per step, batch 64, dataset
mean/std normalization); prune every Linear/Conv weight to the same per-layer L1 sparsity
with torch.nn.utils.prune.l1_unstructured (what `shrink prune --method magnitude` does),
fine-tune with the same recipe and the masks held (forward pre-hooks), make the pruning
permanent, save the state_dict and time batch-1 inference. --seed sets the fine-tuning
shuffle. Prints one JSON object: accuracy, file bytes and latency before and after."""
import argparse, io, json, os, statistics, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

import shrk_reader

from torch_train import load_idx, model


def data(root, split, limit):
    pre = "train" if split == "train" else "t10k"
    x = load_idx(os.path.join(root, f"{pre}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = load_idx(os.path.join(root, f"{pre}-labels-idx1-ubyte.gz")).astype(np.int64)
    if limit:
        x, y = x[:limit], y[:limit]
    return torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y)


def train(net, x, y, epochs, lr, batch=64):
    if epochs <= 0:
        return
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()


@torch.no_grad()
def accuracy(net, x, y):
    net.eval()
    return float((net(x).argmax(1) == y).float().mean())


@torch.no_grad()
def latency_ms(net, runs=2000):
    net.eval()
    x = torch.randn(1, 1, 28, 28)
    for _ in range(100):
        net(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        net(x)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def file_bytes(net):
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return buf.getbuffer().nbytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mlp")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--finetune-epochs", type=int, default=2)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--from-shrk", help="start from this dense .shrk model instead of training (mlp, lenet5)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = data(args.data, "train", args.train_limit)
    tx, ty = data(args.data, "test", 0)
    mean, std = float(x.mean()), float(x.std())
    net = model(args.arch)
    if args.from_shrk:
        meta, tensors = shrk_reader.load(args.from_shrk)
        mean, std = meta["preproc"]["mean"][0], meta["preproc"]["std"][0]
        # the layers in order: fcN / convN .weight and .bias as stored
        layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        names = [k[:-len(".weight")] for k in tensors if k.endswith(".weight")]
        if len(names) != len(layers):
            raise SystemExit(f"{args.from_shrk}: {len(names)} weights for {len(layers)} layers of {args.arch}")
        with torch.no_grad():
            for m, n in zip(layers, names):
                m.weight.copy_(torch.from_numpy(tensors[n + ".weight"]))
                m.bias.copy_(torch.from_numpy(tensors[n + ".bias"]))
    x, tx = (x - mean) / std, (tx - mean) / std
    if not args.from_shrk:
        train(net, x, y, args.epochs, 1e-3)
    before = {"accuracy": accuracy(net, tx, ty), "file_bytes": file_bytes(net), "latency_ms": latency_ms(net)}
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers:
        prune.l1_unstructured(m, "weight", amount=args.sparsity)
    train(net, x, y, args.finetune_epochs, 1e-3)  # the masks stay applied through forward pre-hooks
    for m in layers:
        prune.remove(m, "weight")
    weights = sum(m.weight.numel() for m in layers)
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    after = {"accuracy": accuracy(net, tx, ty), "file_bytes": file_bytes(net), "latency_ms": latency_ms(net),
             "sparsity": zeros / weights}
    print(json.dumps({"arch": args.arch, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "before": before, "after": after}))


if __name__ == "__main__":
    main()
