#!/usr/bin/env bash
# The main demo: installs what is missing, builds, trains a small CNN on
# Fashion-MNIST and shows its accuracy, size, structure and speed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
shrink="$root/build/shrink"
out="$root/out"
mkdir -p "$out"
echo "== training lenet5 on Fashion-MNIST (3 epochs) =="
"$shrink" train --arch lenet5 --data fashion-mnist --epochs 3 --seed 1 -o "$out/lenet5.shrk"
echo
echo "== evaluating =="
"$shrink" eval "$out/lenet5.shrk" --data fashion-mnist
echo
echo "== inspecting =="
"$shrink" inspect "$out/lenet5.shrk"
echo
echo "== inference speed =="
"$shrink" bench "$out/lenet5.shrk" --batch 1,64 --seconds 0.5
