#!/usr/bin/env bash
# Round trip shrink -> ONNX -> ONNX Runtime on the full Fashion-MNIST test set (10k images; the
# interop test runs the first 2000 of a smaller model in CI). For each zoo model: trained by
# shrink, exported as float ONNX, quantized `--mode static` (default 7-bit activation codes, and
# --act-bits 8) and exported as QDQ; the test images preprocessed as the exported metadata says;
# ONNX Runtime (1 thread, default optimizations) vs shrink's logits: identical top-1 %, max and
# mean |difference|, and both accuracies. Last rows: shrink's own import of the QDQ file (float
# arithmetic with fake-quant, as ORT computes it) vs ORT.
# Usage: bench/peers/onnx_roundtrip.sh [--arch cnn,resnet8] [--train-limit N] [--epochs E] [--images N]
#   (SHRINK=path/to/shrink, ORT_VENV=venv with onnx + onnxruntime; default: the interop test's)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
archs=cnn,resnet8 limit=10000 epochs=2 images=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) archs=$2; shift 2 ;;
    --train-limit) limit=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    *) echo "usage: $0 [--arch a,b] [--train-limit N] [--epochs E] [--images N]" >&2; exit 2 ;;
  esac
done
. "$root/bench/peers/onnx_env.sh"
rows=()
# row NAME SRC FILE: FILE under test with shrink's logits for SRC on the images
row() {
  local d="$tmp/$1"
  mkdir -p "$d" && cp "$3" "$d/model.onnx"
  "$py" "$root/tests/onnx/ort_fmnist.py" input "$3" "$images" "$d"
  "$shrink" export "$2" --format onnx -o "$d/again.onnx" --test-data "$d" --test-input "$d/input_0.pb" >/dev/null
  rows+=("$1=$d")
}
qdq=()
for arch in ${archs//,/ }; do
  m=$tmp/$arch
  "$shrink" train --arch "$arch" --data fashion-mnist --train-limit "$limit" --epochs "$epochs" --threads 1 -o "$m.shrk" \
    >/dev/null 2>&1
  "$shrink" export "$m.shrk" --format onnx -o "$m.onnx" >/dev/null
  row "$arch" "$m.shrk" "$m.onnx"
  for a in 7 8; do
    "$shrink" quantize "$m.shrk" --mode static --act-bits $a --data fashion-mnist --test-limit 100 --threads 1 \
      -o "$m-a$a.shrk" >/dev/null 2>&1
    "$shrink" export "$m-a$a.shrk" --format onnx -o "$m-a$a.onnx" >/dev/null
    row "${arch}_int8a$a" "$m-a$a.shrk" "$m-a$a.onnx"
    qdq+=("${arch}_int8a$a")
  done
done
for q in "${qdq[@]}"; do row "${q}_imp" "$tmp/$q/model.onnx" "$tmp/$q/model.onnx"; done
echo "trained on $limit images, $epochs epoch(s); $images test images"
"$py" "$root/tests/onnx/ort_fmnist.py" check --min-agree 0 "${rows[@]}"
