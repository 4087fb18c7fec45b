#!/usr/bin/env bash
# Pruning, shrink vs PyTorch (Debian python3-torch, torch.nn.utils.prune): the same
# model and training recipe, every Linear/Conv weight pruned to the same per-layer
# L1 sparsity (shrink: --method magnitude), the same fine-tuning, then accuracy,
# file size and batch-1 latency (1 thread) before and after on the full test set.
# PyTorch keeps pruned weights as stored zeros in a dense state_dict and runs them
# through the dense kernels; shrink stores them sparsely and runs sparse kernels.
# Usage: bench/peers/prune_vs_torch.sh [--arch mlp] [--sparsity 0.9] [--epochs 10]
#        [--finetune-epochs 2] [--train-limit N] [--json]     (SHRINK=path/to/shrink: another build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=mlp sparsity=0.9 epochs=10 ft=2 limit=0 json=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --sparsity) sparsity=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --finetune-epochs) ft=$2; shift 2 ;;
    --train-limit) limit=$2; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--arch A] [--sparsity S] [--epochs N] [--finetune-epochs N] [--train-limit N] [--json]" >&2
       exit 2 ;;
  esac
done
"$root/scripts/install-deps.sh" python3-torch >&2
shrink=${SHRINK:-$root/build/shrink} py=/usr/bin/python3 # SHRINK=path picks another build
[ -x "$shrink" ] || "$root/scripts/build.sh" release >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
field() { $py -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
lim=(); [ "$limit" = 0 ] || lim=(--train-limit "$limit")

"$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --seed 1 --threads 1 "${lim[@]}" \
  -o "$tmp/dense.shrk" --json >"$tmp/train.json"
"$shrink" prune "$tmp/dense.shrk" --method magnitude --sparsity "$sparsity" --epochs "$ft" \
  --data fashion-mnist --threads 1 "${lim[@]}" -o "$tmp/pruned.shrk" --json >"$tmp/prune.json"
lat() { "$shrink" bench "$1" --batch 1 --threads 1 --seconds 2 --json | field 'j["results"][0]["latency_ms_p50"]'; }
s_acc0=$(field 'j["accuracy_before"]' <"$tmp/prune.json"); s_acc1=$(field 'j["accuracy_after"]' <"$tmp/prune.json")
s_b0=$(field 'j["file_bytes_before"]' <"$tmp/prune.json"); s_b1=$(field 'j["file_bytes"]' <"$tmp/prune.json")
s_l0=$(lat "$tmp/dense.shrk"); s_l1=$(lat "$tmp/pruned.shrk")
OMP_NUM_THREADS=1 PYTHONPATH="$root/bench/peers" $py "$root/bench/peers/torch_prune.py" --arch "$arch" \
  --sparsity "$sparsity" --epochs "$epochs" --finetune-epochs "$ft" --train-limit "$limit" --threads 1 >"$tmp/torch.json"
t_acc0=$(field 'j["before"]["accuracy"]' <"$tmp/torch.json"); t_acc1=$(field 'j["after"]["accuracy"]' <"$tmp/torch.json")
t_b0=$(field 'j["before"]["file_bytes"]' <"$tmp/torch.json"); t_b1=$(field 'j["after"]["file_bytes"]' <"$tmp/torch.json")
t_l0=$(field 'j["before"]["latency_ms"]' <"$tmp/torch.json"); t_l1=$(field 'j["after"]["latency_ms"]' <"$tmp/torch.json")
if [ $json = 1 ]; then
  printf '{"benchmark": "prune_vs_torch", "arch": "%s", "sparsity": %s, "epochs": %s, "finetune_epochs": %s,\n' \
    "$arch" "$sparsity" "$epochs" "$ft"
  printf ' "shrink": {"accuracy_before": %s, "accuracy_after": %s, "file_bytes_before": %s, "file_bytes_after": %s, "latency_ms_before": %s, "latency_ms_after": %s},\n' \
    "$s_acc0" "$s_acc1" "$s_b0" "$s_b1" "$s_l0" "$s_l1"
  printf ' "torch": {"accuracy_before": %s, "accuracy_after": %s, "file_bytes_before": %s, "file_bytes_after": %s, "latency_ms_before": %s, "latency_ms_after": %s}}\n' \
    "$t_acc0" "$t_acc1" "$t_b0" "$t_b1" "$t_l0" "$t_l1"
else
  printf "%s, magnitude %s per layer, %s + %s epochs, batch-1 latency on 1 thread\n" "$arch" "$sparsity" "$epochs" "$ft"
  printf "%-8s %9s %9s %12s %12s %11s %11s\n" "" "acc" "acc" "file bytes" "file bytes" "latency ms" "latency ms"
  printf "%-8s %9s %9s %12s %12s %11s %11s\n" "" "dense" "pruned" "dense" "pruned" "dense" "pruned"
  printf "%-8s %9.4f %9.4f %12d %12d %11.4f %11.4f\n" shrink "$s_acc0" "$s_acc1" "$s_b0" "$s_b1" "$s_l0" "$s_l1"
  printf "%-8s %9.4f %9.4f %12d %12d %11.4f %11.4f\n" pytorch "$t_acc0" "$t_acc1" "$t_b0" "$t_b1" "$t_l0" "$t_l1"
fi
