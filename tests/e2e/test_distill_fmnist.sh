#!/usr/bin/env bash
# End to end: distillation on a Fashion-MNIST subset through the CLI. An mlp
# teacher is distilled into mlp-small (logits, cached teacher) and into cnn-tiny
# with a feature hint (flat teacher layer -> linear adapter); both students
# learn, the JSON has the promised keys, the lineage records the step, the
# adapter is not saved, and the run is deterministic.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi; }
py=python3
get() { $py -c "import json; print(json.load(open('$1'))['$2'])"; }
data=(--data fashion-mnist --train-limit 10000 --test-limit 2000 --threads 2 --seed 4)

"$cli" train --arch mlp "${data[@]}" --epochs 3 -o "$tmp/t.shrk" --json >"$tmp/t.json" 2>"$tmp/t.err"
check "teacher trained" "[ -s $tmp/t.shrk ]"
"$cli" distill --teacher "$tmp/t.shrk" --arch mlp-small "${data[@]}" --epochs 3 --temperature 4 --alpha 0.9 \
  -o "$tmp/s.shrk" --json >"$tmp/s.json" 2>"$tmp/s.err"
check "distill ran" "[ -s $tmp/s.shrk ]"
acc=$(get "$tmp/s.json" accuracy)
tacc=$(get "$tmp/s.json" teacher_accuracy)
echo "mlp -> mlp-small, 10k samples, 3 epochs: student $acc, teacher $tacc" >&2
check "student accuracy >= 0.80 (got $acc)" "$py -c 'import sys; sys.exit(0 if $acc >= 0.80 else 1)'"
check "teacher_accuracy is the teacher's own ($tacc vs $(get "$tmp/t.json" accuracy))" \
  "[ '$tacc' = '$(get "$tmp/t.json" accuracy)' ]"
check "params of mlp-small" "[ '$(get "$tmp/s.json" params)' = 50890 ]"
"$cli" inspect "$tmp/s.shrk" >"$tmp/inspect.txt" 2>&1
check "lineage records the distillation" "grep -q 'distill teacher=$tmp/t.shrk student=mlp-small T=4 alpha=0.9' $tmp/inspect.txt"
"$cli" distill --teacher "$tmp/t.shrk" --arch mlp-small "${data[@]}" --epochs 3 --temperature 4 --alpha 0.9 \
  -o "$tmp/s2.shrk" >/dev/null 2>&1
check "same seed, same student bytes" "cmp -s $tmp/s.shrk $tmp/s2.shrk"

# Augmented batches: the teacher labels each batch's own view (no cache); the lineage says so.
"$cli" distill --teacher "$tmp/t.shrk" --arch mlp-small "${data[@]}" --train-limit 3000 --epochs 2 --hflip \
  --crop-pad 1 -o "$tmp/a.shrk" --json >"$tmp/a.json" 2>"$tmp/a.err"
check "augmented distill ran" "[ -s $tmp/a.shrk ]"
aacc=$(get "$tmp/a.json" accuracy)
echo "mlp -> mlp-small, augmented, 3k samples, 2 epochs: $aacc" >&2
check "augmented student learns (got $aacc)" "$py -c 'import sys; sys.exit(0 if $aacc >= 0.70 else 1)'"
"$cli" inspect "$tmp/a.shrk" >"$tmp/a-inspect.txt" 2>&1
check "lineage records the augmentation" "grep -q 'T=2 alpha=0.5 .* crop_pad=1 hflip' $tmp/a-inspect.txt"

# A feature hint from the teacher's hidden layer into cnn-tiny's last block.
"$cli" distill --teacher "$tmp/t.shrk" --arch cnn-tiny "${data[@]}" --train-limit 5000 --epochs 2 \
  --feature relu1:block3.pool --beta 0.5 -o "$tmp/h.shrk" --json >"$tmp/h.json" 2>"$tmp/h.err"
check "hint run" "[ -s $tmp/h.shrk ]"
hacc=$(get "$tmp/h.json" accuracy)
echo "mlp -> cnn-tiny with a hint, 5k samples, 2 epochs: $hacc" >&2
check "hinted student learns (got $hacc)" "$py -c 'import sys; sys.exit(0 if $hacc >= 0.65 else 1)'"
check "the adapter is not saved (params $(get "$tmp/h.json" params))" "[ '$(get "$tmp/h.json" params)' = 8834 ]"
"$cli" distill --teacher "$tmp/t.shrk" --arch cnn-tiny "${data[@]}" --feature nope:block3.pool -o "$tmp/x.shrk" \
  >/dev/null 2>"$tmp/x.err"
check "unknown hint layer: exit 1 naming it" "[ $? = 1 ] && grep -q 'nope:block3.pool' $tmp/x.err"
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
