#!/usr/bin/env bash
# ONNX export interop: models written by `shrink export --format onnx` must pass
# onnx.checker and run in ONNX Runtime with the outputs shrink computes.
#   - zoo models (mlp, lenet5, cnn, resnet8, dwnet), briefly trained on Fashion-MNIST,
#     checked on pixel-like inputs: logits within tolerance and the same top-1;
#   - a QDQ-quantized CNN: shrink's outputs must be ONNX Runtime's on the original
#     file and on shrink's re-export (fake_quant written as QuantizeLinear/DequantizeLinear);
#   - every ONNX backend test shrink passes, imported and written back out (the
#     conformance runner's --export), which covers the ops added for ONNX;
#   - the Fashion-MNIST round trip on the first $SHR_ONNX_FMNIST_N test images (2000; the
#     full 10k is bench/peers/onnx_roundtrip.sh): a cnn and its static int8 model (QDQ
#     export), preprocessed as the exported metadata says, ONNX Runtime vs shrink.
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

"$venv/bin/python" "$src/tests/onnx/ort_check.py" "${dirs[@]}" || exit 1

# Fashion-MNIST round trip. fm NAME SRC FILE: FILE (an .onnx) under test in $tmp/fm_NAME
# with shrink's logits for SRC (a .shrk, or FILE itself: shrink's import) on the images.
nfm=${SHR_ONNX_FMNIST_N:-2000}
fm() {
  local d="$tmp/fm_$1"
  mkdir -p "$d" && cp "$3" "$d/model.onnx" && "$venv/bin/python" "$src/tests/onnx/ort_fmnist.py" input "$3" "$nfm" "$d" &&
    "$cli" export "$2" --format onnx -o "$d/again.onnx" --test-data "$d" --test-input "$d/input_0.pb" >/dev/null ||
    { echo "FAIL: Fashion-MNIST inputs / shrink's outputs for $1"; exit 1; }
}
m="$tmp/fm_cnn"
"$cli" train --arch cnn --data fashion-mnist --train-limit 4000 --test-limit 100 --epochs 1 --batch 64 -o "$m.shrk" \
  >/dev/null 2>"$m.err" || { echo "FAIL: training the round-trip cnn: $(tail -1 "$m.err")"; exit 1; }
"$cli" quantize "$m.shrk" --data fashion-mnist --mode static --calib-samples 1000 --test-limit 100 -o "$m-q.shrk" \
  >/dev/null 2>"$m.err" || { echo "FAIL: quantizing the round-trip cnn: $(tail -1 "$m.err")"; exit 1; }
for q in "$tmp/zoo_resnet8/model" "$tmp/zoo_dwnet/model" "$m"; do
  [ -e "$q-q.shrk" ] || "$cli" quantize "$q.shrk" --data fashion-mnist --mode static --calib-samples 256 --test-limit 64 \
    -o "$q-q.shrk" >/dev/null 2>"$m.err" || { echo "FAIL: quantizing $q: $(tail -1 "$m.err")"; exit 1; }
  "$cli" export "$q-q.shrk" --format onnx -o "$q-q.onnx" >/dev/null || { echo "FAIL: QDQ export of $q"; exit 1; }
  "$cli" export "$q.shrk" --format onnx -o "$q.onnx" >/dev/null || { echo "FAIL: export of $q"; exit 1; }
done
fm float "$m.shrk" "$m.onnx"
fm int8 "$m-q.shrk" "$m-q.onnx"
fm int8_resnet8 "$tmp/zoo_resnet8/model-q.shrk" "$tmp/zoo_resnet8/model-q.onnx"
fm int8_dwnet "$tmp/zoo_dwnet/model-q.shrk" "$tmp/zoo_dwnet/model-q.onnx"
for a in cnn resnet8 dwnet; do
  q="$tmp/zoo_$a/model"
  [ "$a" = cnn ] && q="$m"
  fm "qdq_$a" "$q-q.onnx" "$q-q.onnx"
done
# float: shrink's logits to 1e-4. int8 (static, default --requant float): shrink's integer
# layers requantize as ONNX Runtime's fused QLinearConv / QLinearMatMul do (float32 multiplier,
# ties to even), so 8-bit codes agree exactly; 7-bit codes (the default) keep a Clip before each
# QuantizeLinear in the file, which ORT runs in float, so a rare code differs: measured on 10k
# images 100.00 % (cnn) and 99.97 % (resnet8) identical top-1, max |d| 0.047 / 0.123
# (bench/peers/onnx_roundtrip.sh); here 100.00 % for the cnn. The zoo resnet8 and dwnet are barely
# trained (accuracy ~15 %: near-tied logits, so a one-code difference can flip the top-1; measured
# here 99.90 and 99.95 %) and get a looser bar. shrink's import of the QDQ file runs the same float
# arithmetic as ORT.
py="$venv/bin/python $src/tests/onnx/ort_fmnist.py check"
$py --min-agree 99.9 --atol 1e-4 "float=$tmp/fm_float" &&
  $py --min-agree 99.9 --atol 0.25 "int8=$tmp/fm_int8" &&
  $py --min-agree 99.5 --atol 0.25 "int8_resnet8=$tmp/fm_int8_resnet8" "int8_dwnet=$tmp/fm_int8_dwnet" &&
  $py --min-agree 99.9 --atol 0.1 "qdq_import=$tmp/fm_qdq_cnn" "qdq_resnet8=$tmp/fm_qdq_resnet8" "qdq_dwnet=$tmp/fm_qdq_dwnet"
