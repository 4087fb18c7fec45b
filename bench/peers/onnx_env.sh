# Sourced by the bench/peers/onnx_*.sh scripts: $shrink (SHRINK, default build/shrink), $py (the
# python of ORT_VENV, default the interop test's venv under the build folder, with onnx and
# onnxruntime from PyPI), a $tmp folder removed on exit, and one thread for everything.
shrink=${SHRINK:-$root/build/shrink}
venv=${ORT_VENV:-$(dirname "$shrink")/tests/onnx-venv}
py=$venv/bin/python
[ -x "$shrink" ] || { echo "no shrink binary at $shrink (set SHRINK)" >&2; exit 1; }
"$py" -c "import onnx, onnxruntime" 2>/dev/null ||
  { echo "no onnx/onnxruntime in $venv (run the interop test once: ctest -R onnx_interop, or set ORT_VENV)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
