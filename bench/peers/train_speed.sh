#!/usr/bin/env bash
# Training speed, shrink vs PyTorch (Debian python3-torch): one epoch of
# Fashion-MNIST at batch 64 with 2 threads, same architecture, optimizer and
# preprocessing. Runs are interleaved (shrink, torch, shrink, torch, ...) and
# the median samples/s of each is reported with the ratio.
# --clock cpu (with --threads 1): samples per CPU-second of each process over its
# training loop, so other jobs on a shared machine do not distort the ratio.
# Usage: bench/peers/train_speed.sh [--repeats N] [--archs "mlp lenet5"] [--threads T] [--clock wall|cpu] [--json]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
repeats=3 archs="mlp lenet5" json=0 threads=2 batch=64 clock=wall
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --archs) archs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --clock) clock=$2; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--repeats N] [--archs \"mlp lenet5\"] [--threads T] [--clock wall|cpu] [--json]" >&2; exit 2 ;;
  esac
done
case "$clock" in
  wall) ;;
  cpu) [ "$threads" = 1 ] || { echo "$0: --clock cpu needs --threads 1 (CPU time of several threads adds up)" >&2; exit 2; } ;;
  *) echo "$0: --clock takes wall or cpu" >&2; exit 2 ;;
esac
"$root/scripts/install-deps.sh" python3-torch >&2
[ -x "$root/build/shrink" ] || "$root/scripts/build.sh" release >&2
py=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { $py -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# samples/s by the chosen clock, from one JSON result on stdin
rate() {
  if [ "$clock" = cpu ]; then
    $py -c "import json,sys; r=json.load(sys.stdin); print(r['samples_per_s'] * r['seconds'] / r['cpu_seconds'])"
  else field samples_per_s; fi
}
results=()
for arch in $archs; do
  : >"$tmp/s"; : >"$tmp/t"
  for r in $(seq "$repeats"); do
    "$root/build/shrink" train --arch "$arch" --data fashion-mnist --epochs 1 --batch $batch --threads $threads \
      --test-limit 1 --json -o "$tmp/m.shrk" 2>/dev/null | rate >>"$tmp/s"
    OMP_NUM_THREADS=$threads $py "$root/bench/peers/torch_train.py" --arch "$arch" --batch $batch --threads $threads \
      | rate >>"$tmp/t"
  done
  s=$(median <"$tmp/s"); t=$(median <"$tmp/t")
  ratio=$(awk -v a="$s" -v b="$t" 'BEGIN {printf "%.2f", a / b}')
  results+=("{\"arch\": \"$arch\", \"clock\": \"$clock\", \"shrink_samples_per_s\": $s, \"torch_samples_per_s\": $t, \"ratio\": $ratio, \"repeats\": $repeats}")
  [ $json = 1 ] || printf "%-8s shrink %10.0f samples/s   pytorch %10.0f samples/s   ratio %5.2fx  (median of %d, batch %d, %d threads, %s clock)\n" \
    "$arch" "$s" "$t" "$ratio" "$repeats" $batch $threads "$clock"
done
if [ $json = 1 ]; then (IFS=,; echo "{\"benchmark\": \"train_speed\", \"results\": [${results[*]}]}"); fi
