#!/usr/bin/env bash
# Pruning, shrink vs PyTorch (Debian python3-torch, torch.nn.utils.prune): shrink trains the
# dense model once; both then prune that very model (PyTorch reads its weights from the .shrk)
# to the same per-layer L1 sparsity on every Linear/Conv weight (shrink: --method magnitude;
# PyTorch: l1_unstructured), fine-tune with the same recipe (Adam 1e-3, cosine per step,
# batch 64) for the same epochs, once per seed (the fine-tuning shuffle), and report accuracy
# on the full test set for each seed and the mean, file size and batch-1 latency (1 thread)
# before and after. PyTorch keeps pruned weights as stored zeros in a dense state_dict and runs
# them through the dense kernels; shrink stores them sparsely and runs sparse kernels.
# Usage: bench/peers/prune_vs_torch.sh [--arch mlp] [--sparsity 0.9] [--epochs 10]
#        [--finetune-epochs 2] [--seeds 1,2,3] [--block 8x1] [--train-limit N] [--json]
#        (SHRINK=path/to/shrink: another build; --block prunes shrink's side in blocks)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=mlp sparsity=0.9 epochs=10 ft=2 limit=0 json=0 seeds=1,2,3 block=
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --sparsity) sparsity=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --finetune-epochs) ft=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --block) block=$2; shift 2 ;;
    --train-limit) limit=$2; shift 2 ;;
    --json) json=1; shift ;;
    *) echo "usage: $0 [--arch A] [--sparsity S] [--epochs N] [--finetune-epochs N] [--seeds 1,2,3] [--block RxC] [--train-limit N] [--json]" >&2
       exit 2 ;;
  esac
done
case "$arch" in mlp|lenet5) ;; *) echo "$0: --arch mlp or lenet5 (PyTorch loads the weights of these)" >&2; exit 2 ;; esac
"$root/scripts/install-deps.sh" python3-torch >&2
shrink=${SHRINK:-$root/build/shrink} py=/usr/bin/python3 # SHRINK=path picks another build
[ -x "$shrink" ] || "$root/scripts/build.sh" release >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
field() { $py -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
lim=(); [ "$limit" = 0 ] || lim=(--train-limit "$limit")
blk=(); [ -z "$block" ] || blk=(--block "$block")
export OMP_NUM_THREADS=1

"$shrink" train --arch "$arch" --data fashion-mnist --epochs "$epochs" --seed 1 --threads 1 "${lim[@]}" \
  -o "$tmp/dense.shrk" --json >"$tmp/train.json"
s_acc=() t_acc=()
for seed in ${seeds//,/ }; do
  "$shrink" prune "$tmp/dense.shrk" --method magnitude --sparsity "$sparsity" "${blk[@]}" --epochs "$ft" \
    --data fashion-mnist --threads 1 --seed "$seed" "${lim[@]}" -o "$tmp/pruned$seed.shrk" --json >"$tmp/prune$seed.json"
  PYTHONPATH="$root/bench/peers" $py "$root/bench/peers/torch_prune.py" --arch "$arch" --from-shrk "$tmp/dense.shrk" \
    --sparsity "$sparsity" --finetune-epochs "$ft" --train-limit "$limit" --threads 1 --seed "$seed" >"$tmp/torch$seed.json"
  s_acc+=("$(field 'round(j["accuracy_after"], 4)' <"$tmp/prune$seed.json")")
  t_acc+=("$(field 'round(j["after"]["accuracy"], 4)' <"$tmp/torch$seed.json")")
  last=$seed
done
mean() { $py -c "import sys; v=[float(a) for a in sys.argv[1:]]; print(round(sum(v) / len(v), 5))" "$@"; }
s_mean=$(mean "${s_acc[@]}") t_mean=$(mean "${t_acc[@]}")
s_acc0=$(field 'j["accuracy_before"]' <"$tmp/prune$last.json")
t_acc0=$(field 'j["before"]["accuracy"]' <"$tmp/torch$last.json")
s_b0=$(field 'j["file_bytes_before"]' <"$tmp/prune$last.json"); s_b1=$(field 'j["file_bytes"]' <"$tmp/prune$last.json")
t_b0=$(field 'j["before"]["file_bytes"]' <"$tmp/torch$last.json"); t_b1=$(field 'j["after"]["file_bytes"]' <"$tmp/torch$last.json")
t_l0=$(field 'j["before"]["latency_ms"]' <"$tmp/torch$last.json"); t_l1=$(field 'j["after"]["latency_ms"]' <"$tmp/torch$last.json")
lat() { "$shrink" bench "$1" --batch 1 --threads 1 --seconds 2 --json | field 'j["results"][0]["latency_ms_p50"]'; }
s_l0=$(lat "$tmp/dense.shrk"); s_l1=$(lat "$tmp/pruned$last.shrk")
if [ $json = 1 ]; then
  printf '{"benchmark": "prune_vs_torch", "arch": "%s", "sparsity": %s, "block": "%s", "epochs": %s, "finetune_epochs": %s, "seeds": [%s],\n' \
    "$arch" "$sparsity" "${block:-1x1}" "$epochs" "$ft" "$seeds"
  printf ' "shrink": {"accuracy_before": %s, "accuracy_after": [%s], "accuracy_after_mean": %s, "file_bytes_before": %s, "file_bytes_after": %s, "latency_ms_before": %s, "latency_ms_after": %s},\n' \
    "$s_acc0" "$(IFS=,; echo "${s_acc[*]}")" "$s_mean" "$s_b0" "$s_b1" "$s_l0" "$s_l1"
  printf ' "torch": {"accuracy_before": %s, "accuracy_after": [%s], "accuracy_after_mean": %s, "file_bytes_before": %s, "file_bytes_after": %s, "latency_ms_before": %s, "latency_ms_after": %s}}\n' \
    "$t_acc0" "$(IFS=,; echo "${t_acc[*]}")" "$t_mean" "$t_b0" "$t_b1" "$t_l0" "$t_l1"
else
  printf "%s, magnitude %s per layer%s, from one dense model (%s epochs), %s fine-tune epochs, seeds %s\n" \
    "$arch" "$sparsity" "${block:+ in $block blocks (shrink)}" "$epochs" "$ft" "$seeds"
  printf "%-8s %9s %26s %9s %12s %12s %11s %11s\n" "" "acc" "acc pruned (per seed)" "mean" "file bytes" "file bytes" \
    "latency ms" "latency ms"
  printf "%-8s %9s %26s %9s %12s %12s %11s %11s\n" "" "dense" "" "" "dense" "pruned" "dense" "pruned"
  printf "%-8s %9.4f %26s %9.4f %12d %12d %11.4f %11.4f\n" shrink "$s_acc0" "${s_acc[*]}" "$s_mean" "$s_b0" "$s_b1" \
    "$s_l0" "$s_l1"
  printf "%-8s %9.4f %26s %9.4f %12d %12d %11.4f %11.4f\n" pytorch "$t_acc0" "${t_acc[*]}" "$t_mean" "$t_b0" "$t_b1" \
    "$t_l0" "$t_l1"
fi
