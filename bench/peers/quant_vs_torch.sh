#!/usr/bin/env bash
# Static int8 quantization, shrink vs PyTorch (Debian python3-torch, torch.ao eager-mode PTQ):
# the same trained network (PyTorch reads shrink's .shrk weights, so both start from identical
# f32 models), the same calibration samples (the first N of the training set), per-channel
# weights; then accuracy on the full test set and latency at batch 1 and 64. The runs alternate
# (shrink f32, shrink int8, PyTorch f32 + int8) for R rounds and the medians are reported with
# the spread of the rounds, because the machine is shared.
# Usage: bench/peers/quant_vs_torch.sh [--arch cnn|lenet5] [--model M.shrk] [--calib mse]
#        [--threads T] [--rounds R] [--json]            (SHRINK=path/to/shrink: another build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=cnn model="" calib=mse threads=2 rounds=3 json=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --calib) calib=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--arch cnn|lenet5] [--model M.shrk] [--calib M] [--threads T] [--rounds R] [--json]" >&2
       exit 2 ;;
  esac
done
"$root/scripts/install-deps.sh" python3-torch >&2
shrink=${SHRINK:-$root/build/shrink} py=/usr/bin/python3
[ -x "$shrink" ] || "$root/scripts/build.sh" release >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
field() { $py -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
if [ -z "$model" ]; then
  model=$tmp/f32.shrk
  "$shrink" train --arch "$arch" --data fashion-mnist --seed 1 -o "$model" >&2
fi
"$shrink" quantize "$model" --mode static --calib "$calib" --data fashion-mnist -o "$tmp/int8.shrk" --json \
  >"$tmp/q.json"
s_f32=$(field 'j["accuracy_before"]' <"$tmp/q.json"); s_int8=$(field 'j["accuracy_after"]' <"$tmp/q.json")
lat() { "$shrink" bench "$1" --batch 1,64 --threads "$threads" --seconds 1 --json; }
for r in $(seq "$rounds"); do
  lat "$model" >"$tmp/sf_$r.json"
  lat "$tmp/int8.shrk" >"$tmp/sq_$r.json"
  PYTHONPATH="$root/bench/peers" $py "$root/bench/peers/torch_quant.py" --model "$model" --threads "$threads" \
    >"$tmp/t_$r.json"
done
# medians (and min..max) over the rounds
stat() {
  $py - "$tmp" "$rounds" "$1" "$2" <<'EOF'
import json, statistics, sys
tmp, rounds, pre, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
vals = []
for r in range(1, rounds + 1):
    j = json.load(open(f"{tmp}/{pre}_{r}.json"))
    if pre == "t":
        vals.append(j[key])
    else:
        b = int(key)
        vals.append(next(e["latency_ms_p50"] for e in j["results"] if e["batch"] == b))
print(f"{statistics.median(vals):.4f} {min(vals):.4f} {max(vals):.4f}")
EOF
}
read -r sf1 sf1lo sf1hi < <(stat sf 1); read -r sf64 sf64lo sf64hi < <(stat sf 64)
read -r sq1 sq1lo sq1hi < <(stat sq 1); read -r sq64 sq64lo sq64hi < <(stat sq 64)
read -r tf1 tf1lo tf1hi < <(stat t latency_ms_f32_b1); read -r tf64 tf64lo tf64hi < <(stat t latency_ms_f32_b64)
read -r tq1 tq1lo tq1hi < <(stat t latency_ms_int8_b1); read -r tq64 tq64lo tq64hi < <(stat t latency_ms_int8_b64)
t_f32=$(field 'j["accuracy_f32"]' <"$tmp/t_1.json"); t_int8=$(field 'j["accuracy_int8"]' <"$tmp/t_1.json")
engine=$(field 'j["engine"]' <"$tmp/t_1.json"); tv=$(field 'j["version"]' <"$tmp/t_1.json")
# shrink's int8 kernels use AVX-512 VNNI when the CPU has it (SHRINK_KERNELS=avx2 turns it off)
vnni=no; grep -qw avx512_vnni /proc/cpuinfo && [ "${SHRINK_KERNELS:-}" != avx2 ] && [ "${SHRINK_KERNELS:-}" != generic ] && vnni=yes
if [ $json = 1 ]; then
  printf '{"benchmark": "quant_vs_torch", "arch": "%s", "calib": "%s", "threads": %s, "rounds": %s, "torch": "%s", "engine": "%s", "shrink_vnni": "%s",\n' \
    "$arch" "$calib" "$threads" "$rounds" "$tv" "$engine" "$vnni"
  printf ' "shrink": {"accuracy_f32": %s, "accuracy_int8": %s, "latency_ms_f32_b1": %s, "latency_ms_int8_b1": %s, "latency_ms_f32_b64": %s, "latency_ms_int8_b64": %s},\n' \
    "$s_f32" "$s_int8" "$sf1" "$sq1" "$sf64" "$sq64"
  printf ' "pytorch": {"accuracy_f32": %s, "accuracy_int8": %s, "latency_ms_f32_b1": %s, "latency_ms_int8_b1": %s, "latency_ms_f32_b64": %s, "latency_ms_int8_b64": %s}}\n' \
    "$t_f32" "$t_int8" "$tf1" "$tq1" "$tf64" "$tq64"
else
  printf "%s, static int8 per-channel (shrink: %s calibration, AVX-512 VNNI %s; PyTorch %s, %s engine), %s thread(s),\n" \
    "$arch" "$calib" "$vnni" "$tv" "$engine" "$threads"
  printf "median latency over %s alternating rounds (min..max)\n" "$rounds"
  printf "%-8s %8s %8s %24s %24s %24s %24s\n" "" "acc f32" "acc int8" "b1 f32 ms" "b1 int8 ms" "b64 f32 ms" "b64 int8 ms"
  printf "%-8s %8.4f %8.4f %8.4f (%6.4f..%6.4f) %8.4f (%6.4f..%6.4f) %8.3f (%6.3f..%6.3f) %8.3f (%6.3f..%6.3f)\n" \
    shrink "$s_f32" "$s_int8" "$sf1" "$sf1lo" "$sf1hi" "$sq1" "$sq1lo" "$sq1hi" "$sf64" "$sf64lo" "$sf64hi" "$sq64" "$sq64lo" "$sq64hi"
  printf "%-8s %8.4f %8.4f %8.4f (%6.4f..%6.4f) %8.4f (%6.4f..%6.4f) %8.3f (%6.3f..%6.3f) %8.3f (%6.3f..%6.3f)\n" \
    pytorch "$t_f32" "$t_int8" "$tf1" "$tf1lo" "$tf1hi" "$tq1" "$tq1lo" "$tq1hi" "$tf64" "$tf64lo" "$tf64hi" "$tq64" "$tq64lo" "$tq64hi"
fi
