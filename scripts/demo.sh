#!/usr/bin/env bash
# The main demo: installs what is missing, builds, then tells the whole story on
# Fashion-MNIST with examples/recipe-demo.json: train a cnn teacher, prune it,
# quantize it (and the pruned model) to int8, distill a cnn-tiny student, and
# compare all five side by side (table, runs/demo/compare.svg and .html).
# A re-run skips the steps already done; `scripts/demo.sh --from-scratch` redoes all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
shrink="$root/build/shrink"
cd "$root"
# Waiting OpenMP threads sleep instead of spinning: on a 2-core machine shared
# with other jobs, spinning made cnn training 4.5x slower (101 against 453
# samples/s); on an idle machine passive costs some 15-30% (README, mlp).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
start=$(date +%s)
echo "== the recipe (each step is one shrink command) =="
"$shrink" pipeline examples/recipe-demo.json --dry-run "$@"
echo
echo "== running it: train, prune, quantize, distill, then shrink compare =="
"$shrink" pipeline examples/recipe-demo.json "$@"
echo
echo "plots:  runs/demo/compare.svg"
echo "report: runs/demo/compare.html (self-contained; open it in a browser)"
echo "demo took $(( $(date +%s) - start )) s after the build"
