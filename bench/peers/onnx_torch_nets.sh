#!/usr/bin/env bash
# PyTorch-exported networks (LeNet-5, a small ResNet with BN and residual Adds, a MobileNet-style
# net with depthwise convs and ReLU6) trained on Fashion-MNIST by PyTorch (Debian python3-torch,
# system python3, 1 thread), exported with torch.onnx.export (opset 13, dynamic batch), imported
# into shrink: logits within 1e-4 and the same test accuracy on the 10k test images, and the
# imported ResNet quantized static int8 within 1 point of its float accuracy (onnx_torch_nets.py).
# Preprocessing: pixels / 255 in [0, 1], no normalization (shrink's import default).
# Usage: bench/peers/onnx_torch_nets.sh [--epochs E] [--train-limit N] [--nets lenet5,resnet,mobilenet]
#   (SHRINK=path/to/shrink; OUT=folder to keep the .onnx files, else a temporary one)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shrink=${SHRINK:-$root/build/shrink}
[ -x "$shrink" ] || { echo "no shrink binary at $shrink (set SHRINK)" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "no torch in /usr/bin/python3 (Debian python3-torch)" >&2; exit 1; }
out=${OUT:-}
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
export OMP_NUM_THREADS=1
/usr/bin/python3 "$root/bench/peers/onnx_torch_nets.py" "$shrink" "$out" "$@"
