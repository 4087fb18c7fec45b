#!/usr/bin/env bash
# ONNX export interop: models written by `shrink export --format onnx` must pass
# onnx.checker and run in ONNX Runtime with the outputs shrink computes.
#   - zoo models (mlp, lenet5, cnn, resnet8, dwnet), briefly trained on Fashion-MNIST,
#     checked on pixel-like inputs: logits within tolerance and the same top-1;
#   - a QDQ-quantized CNN: shrink's outputs must be ONNX Runtime's on the original
#     file and on shrink's re-export (fake_quant written as QuantizeLinear/DequantizeLinear);
#   - every ONNX backend test shrink passes, imported and written back out (the
#     conformance runner's --export), which covers the ops added for ONNX.
# Needs onnx, onnxruntime and numpy from PyPI, installed into a virtual
# environment under the build folder and kept between runs. Skips (exit 77)
# only when PyPI cannot be reached and the environment is not there yet.
set -u
cli=${SHR_CLI:?}
src=${SHR_SOURCE_DIR:?}
base=${SHR_TMPDIR:-/tmp}
venv="$base/onnx-venv"
runner="$(dirname "$cli")/tests/test_onnx_conformance"
tmp=$(mktemp -d "$base/onnx-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

have_env() { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; }

if ! have_env; then
  if ! python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/onnxruntime/', timeout=15)" \
      >/dev/null 2>&1; then
    echo "SKIP: PyPI (https://pypi.org) is unreachable, so onnx/onnxruntime cannot be installed"
    exit 77
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "FAIL: python3 -m venv failed (Debian: python3-venv)"; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check onnx onnxruntime numpy ||
    { echo "FAIL: pip install onnx onnxruntime numpy failed although PyPI is reachable"; exit 1; }
  have_env || { echo "FAIL: the virtual environment cannot import onnx/onnxruntime"; exit 1; }
fi

dirs=()
for arch in mlp lenet5 cnn resnet8 dwnet; do
  d="$tmp/zoo_$arch"
  mkdir -p "$d"
  "$cli" train --arch "$arch" --data fashion-mnist --train-limit 512 --test-limit 64 --epochs 1 --batch 64 \
    -o "$d/model.shrk" >/dev/null 2>"$d/train.err" || { echo "FAIL: training $arch: $(tail -1 "$d/train.err")"; exit 1; }
  "$cli" export "$d/model.shrk" --format onnx -o "$d/model.onnx" --test-data "$d" --samples 32 >/dev/null ||
    { echo "FAIL: exporting $arch"; exit 1; }
  dirs+=("$d")
done

# A QDQ model (as quantization tools write it): imported by shrink, its outputs
# must be ONNX Runtime's; exported again, it must still run the same.
"$venv/bin/python" "$src/tests/onnx/make_qdq.py" "$tmp/qdq" || { echo "FAIL: writing the QDQ model"; exit 1; }
mkdir -p "$tmp/qdq_export"
"$cli" export "$tmp/qdq/model.onnx" --format onnx -o "$tmp/qdq_export/model.onnx" --test-data "$tmp/qdq_export" --samples 16 \
  >/dev/null || { echo "FAIL: importing/exporting the QDQ model"; exit 1; }
cp "$tmp/qdq_export/input_0.pb" "$tmp/qdq_export/output_0.pb" "$tmp/qdq/"
dirs+=("$tmp/qdq" "$tmp/qdq_export")

# Every passing conformance model, through shrink's exporter.
if [ -d /usr/share/libonnx-testdata/data ] || [ -n "${SHR_ONNX_TESTDATA:-}" ]; then
  mkdir -p "$tmp/conf"
  "$runner" --export "$tmp/conf" >"$tmp/conf.log" 2>&1 || { echo "FAIL: conformance runner"; tail -5 "$tmp/conf.log"; exit 1; }
  for d in "$tmp/conf"/*/; do dirs+=("${d%/}"); done
fi

"$venv/bin/python" "$src/tests/onnx/ort_check.py" "${dirs[@]}"
