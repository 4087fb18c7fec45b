#!/usr/bin/env bash
# End to end through the CLI on real data: a CNN (lenet5) learns Fashion-MNIST,
# training twice with the same seed and thread count gives byte-identical model
# files, a different seed does not, and eval reproduces train's accuracy.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi; }
py=python3
common=(--arch lenet5 --data fashion-mnist --train-limit 12000 --test-limit 2000 --epochs 2 --threads 2 --json)
"$cli" train "${common[@]}" --seed 7 -o "$tmp/a.shrk" >"$tmp/a.json" 2>"$tmp/a.err"
check "train a" "[ -s $tmp/a.shrk ]"
"$cli" train "${common[@]}" --seed 7 -o "$tmp/b.shrk" >"$tmp/b.json" 2>/dev/null
"$cli" train "${common[@]}" --seed 8 -o "$tmp/c.shrk" >/dev/null 2>&1
check "same seed gives identical files" "cmp -s $tmp/a.shrk $tmp/b.shrk"
# The lineage records the seed, so compare what the weights compute, not the file bytes.
"$cli" eval "$tmp/c.shrk" --data fashion-mnist --test-limit 2000 --json >"$tmp/ce.json" 2>/dev/null
loss_a=$($py -c "import json; print(json.load(open('$tmp/a.json'))['loss'])")
loss_c=$($py -c "import json; print(json.load(open('$tmp/ce.json'))['loss'])")
check "different seed gives different weights (loss $loss_a vs $loss_c)" "[ '$loss_a' != '$loss_c' ]"
acc=$($py -c "import json; print(json.load(open('$tmp/a.json'))['accuracy'])")
echo "lenet5, 12k samples, 2 epochs: accuracy $acc" >&2
check "accuracy >= 0.78 (got $acc)" "$py -c 'import sys; sys.exit(0 if $acc >= 0.78 else 1)'"
"$cli" eval "$tmp/a.shrk" --data fashion-mnist --test-limit 2000 --json >"$tmp/e.json" 2>/dev/null
acc2=$($py -c "import json; print(json.load(open('$tmp/e.json'))['accuracy'])")
check "eval matches train's accuracy ($acc vs $acc2)" "[ '$acc' = '$acc2' ]"

# The plain-C kernels (forced by SHRINK_KERNELS=generic) train as well as the AVX2 ones.
quick=(--arch lenet5 --data fashion-mnist --train-limit 3000 --test-limit 1000 --epochs 1 --threads 2 --seed 3 --json)
SHRINK_KERNELS=generic "$cli" train "${quick[@]}" -o "$tmp/g.shrk" >"$tmp/g.json" 2>"$tmp/g.err"
"$cli" train "${quick[@]}" -o "$tmp/v.shrk" >"$tmp/v.json" 2>/dev/null
check "generic run used the plain-C kernels" "grep -q 'generic kernels' $tmp/g.err"
ga=$($py -c "import json; print(json.load(open('$tmp/g.json'))['accuracy'])")
va=$($py -c "import json; print(json.load(open('$tmp/v.json'))['accuracy'])")
echo "lenet5, 3k samples, 1 epoch: generic kernels $ga, avx2 kernels $va" >&2
check "generic and avx2 kernels reach similar accuracy ($ga vs $va)" \
  "$py -c 'import sys; sys.exit(0 if abs($ga - $va) <= 0.03 and min($ga, $va) >= 0.6 else 1)'"
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
