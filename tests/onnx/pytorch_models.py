"""Exports small PyTorch networks with torch.onnx.export (opset 13, dynamic
batch) for test_onnx_pytorch: OUTDIR/<name>.onnx plus, in ONNX's test-data
layout, OUTDIR/<name>/input_0.pb (a batch of 5, not the export batch) and
OUTDIR/<name>/output_0.pb (PyTorch's logits for it). Exit 77 without torch."""
import os
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("SKIP: /usr/bin/python3 has no torch (Debian python3-torch)")
    sys.exit(77)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """Conv + BN + ReLU, max pool, strided conv + ReLU6, a depthwise block with a
    residual add, average pools, x.view(x.size(0), -1) and a linear head."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.b2 = nn.BatchNorm2d(16)
        self.pw = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu6(self.c2(x))
        x = x + self.pw(F.relu(self.b2(self.dw(x))))
        x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        x = F.adaptive_avg_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class Residual(nn.Module):
    """GlobalAveragePool, sigmoid gating (Mul), LeakyReLU, concat, softmax."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 6, 5, stride=2)
        self.gate = nn.Linear(6, 6)
        self.fc = nn.Linear(6 * 12 * 12 * 2, 10)

    def forward(self, x):
        y = F.leaky_relu(self.c(x), 0.1)
        g = torch.sigmoid(self.gate(F.adaptive_avg_pool2d(y, 1).flatten(1)))
        z = torch.cat([y, y * g[:, :, None, None]], dim=1)
        return F.log_softmax(self.fc(torch.flatten(z, 1)), dim=1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.an = nn.BatchNorm2d(c)
        self.b = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn(self.b(F.relu(self.an(self.a(x))))))


class ResNet(nn.Module):
    """A small ResNet: BN kept as BatchNormalization nodes (exported with
    TrainingMode.PRESERVE), residual Adds, global average pool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False)
        self.sn = nn.BatchNorm2d(8)
        self.blocks = nn.Sequential(Block(8), Block(8))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.sn(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def tensor_pb(t, path):
    """Writes a float32 tensor as a serialized onnx TensorProto (no onnx package needed)."""
    def varint(v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    data = t.detach().contiguous().numpy().astype("<f4").tobytes()
    msg = bytearray()
    for d in t.shape:                      # field 1: dims (varint)
        msg += b"\x08" + varint(int(d))
    msg += b"\x10\x01"                     # field 2: data_type = FLOAT
    msg += b"\x4a" + varint(len(data)) + data  # field 9: raw_data
    with open(path, "wb") as f:
        f.write(bytes(msg))


def main(out):
    torch.manual_seed(0)
    for name, model in (("mlp", MLP()), ("cnn", CNN()), ("residual", Residual()), ("resnet", ResNet())):
        # A few training steps so BN statistics and weights are not at their defaults.
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(3):
            loss = model(torch.randn(16, 1, 28, 28)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        keep_bn = {"training": torch.onnx.TrainingMode.PRESERVE} if name == "resnet" else {}
        torch.onnx.export(model, torch.randn(2, 1, 28, 28), os.path.join(out, name + ".onnx"), opset_version=13,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **keep_bn)
        os.makedirs(os.path.join(out, name), exist_ok=True)
        x = torch.rand(5, 1, 28, 28)
        with torch.no_grad():
            y = model(x)
        tensor_pb(x, os.path.join(out, name, "input_0.pb"))
        tensor_pb(y, os.path.join(out, name, "output_0.pb"))
    print("exported mlp, cnn, residual, resnet to", out)


if __name__ == "__main__":
    main(sys.argv[1])
