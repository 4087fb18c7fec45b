#!/usr/bin/env bash
# Latency, shrink vs ONNX Runtime, on the same networks at batch 1 and 64, 1 thread each:
#   cnn        the zoo cnn (float), run by shrink from its .shrk and by ORT from shrink's export;
#   resnet     the PyTorch ResNet of onnx_torch_nets.py (torch.onnx.export), run by both from
#              the .onnx file (shrink imports it);
#   cnn_int8   the cnn after `shrink quantize --mode static --act-bits 8`: shrink's integer
#              kernels vs ORT on shrink's QDQ export, which ORT fuses into QLinearConv / QGemm;
#   cnn_int8a7 the same with shrink's default 7-bit activation codes: their clamp to 0..127 is a
#              Clip before each QuantizeLinear in ONNX, which keeps ORT from fusing (it runs the
#              float convolutions between QDQ pairs) — shown to say what the default costs there.
# The contenders alternate (shrink, ORT) for R rounds; the table gives the median over rounds of
# each round's median latency, and ORT / shrink (> 1: shrink is faster). The machine may be
# shared: read the ratios, not the absolute times.
# Usage: bench/peers/onnx_vs_ort.sh [--rounds R] [--seconds S] [--resnet NET.onnx] [--cnn M.shrk]
#   (SHRINK=path/to/shrink, ORT_VENV=venv with onnxruntime; default: the interop test's)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=5 seconds=1 resnet="" cnn=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --resnet) resnet=$2; shift 2 ;;
    --cnn) cnn=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds R] [--seconds S] [--resnet NET.onnx] [--cnn M.shrk]" >&2; exit 2 ;;
  esac
done
. "$root/bench/peers/onnx_env.sh"

if [ -z "$cnn" ]; then
  cnn=$tmp/cnn.shrk
  "$shrink" train --arch cnn --data fashion-mnist --train-limit 2000 --epochs 1 --threads 1 -o "$cnn" >/dev/null 2>&1
fi
"$shrink" export "$cnn" --format onnx -o "$tmp/cnn.onnx" >/dev/null
for a in 8 7; do
  q=$tmp/cnn_int8$([ $a = 7 ] && echo a7 || true)
  "$shrink" quantize "$cnn" --mode static --act-bits $a --data fashion-mnist --test-limit 500 --threads 1 -o "$q.shrk" \
    >/dev/null 2>&1
  "$shrink" export "$q.shrk" --format onnx -o "$q.onnx" >/dev/null
done
if [ -z "$resnet" ]; then
  /usr/bin/python3 "$root/bench/peers/onnx_torch_nets.py" "$shrink" "$tmp/torch" --nets resnet --train-limit 512 \
    --no-check >/dev/null
  resnet=$tmp/torch/resnet.onnx
fi

names=(cnn resnet cnn_int8 cnn_int8a7)
shrink_model=("$cnn" "$resnet" "$tmp/cnn_int8.shrk" "$tmp/cnn_int8a7.shrk")
ort_model=("$tmp/cnn.onnx" "$resnet" "$tmp/cnn_int8.onnx" "$tmp/cnn_int8a7.onnx")
for r in $(seq "$rounds"); do
  for i in 0 1 2 3; do
    "$shrink" bench "${shrink_model[$i]}" --batch 1,64 --threads 1 --seconds "$seconds" --json \
      >"$tmp/s_${names[$i]}_$r.json" 2>/dev/null
    "$py" "$root/bench/peers/onnx_ort_bench.py" "${ort_model[$i]}" --batch 1,64 --threads 1 --seconds "$seconds" \
      >"$tmp/o_${names[$i]}_$r.json"
  done
done
"$py" - "$tmp" "$rounds" <<'EOF'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def med(side, name, b):
    v = []
    for r in range(1, rounds + 1):
        j = json.load(open(f"{tmp}/{side}_{name}_{r}.json"))
        v.append(next(e["latency_ms_p50"] for e in j["results"] if e["batch"] == b))
    return statistics.median(v), min(v), max(v)
ver = json.load(open(f"{tmp}/o_cnn_1.json"))["version"]
print(f"shrink vs onnxruntime {ver}, 1 thread, median of {rounds} interleaved rounds (min..max), ms per batch")
print("%-10s %5s %26s %26s %9s" % ("model", "batch", "shrink", "onnxruntime", "ORT/shrk"))
for name in ("cnn", "resnet", "cnn_int8", "cnn_int8a7"):
    for b in (1, 64):
        s, o = med("s", name, b), med("o", name, b)
        print("%-10s %5d %9.3f (%6.3f..%7.3f) %9.3f (%6.3f..%7.3f) %9.2f" % (name, b, *s, *o, o[0] / s[0]))
EOF
