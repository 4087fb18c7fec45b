#!/usr/bin/env bash
# shrink pipeline on three tiny train/distill steps (500 Fashion-MNIST samples):
# a step that fails the first time (its arch file is missing) is resumed without
# re-running steps 1-2; a pipeline killed during step 3 resumes at step 3; a
# changed option re-runs that step and what depends on it; --from-scratch runs
# everything again, bit for bit; a step whose subcommand is missing names itself;
# the example recipes in examples/ validate.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/pipeline.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi; }
cd "$tmp" || exit 1

recipe() { # $1: alpha of step 2, $2: epochs of step 3
  cat >r.json <<EOF
{"workdir": "w", "data": "fashion-mnist",
 "defaults": {"train-limit": 500, "test-limit": 200, "threads": 2, "seed": 3},
 "steps": [
  {"name": "teacher", "run": "train", "arch": "mlp-small", "epochs": 2},
  {"name": "student", "run": "distill", "teacher": "@teacher", "arch": "mlp-small", "alpha": $1, "epochs": 1},
  {"name": "small", "run": "distill", "teacher": "@student", "arch-file": "net.txt", "epochs": $2}],
 "compare": {"test-limit": 200}}
EOF
}
stamp() { stat -c '%i %Y %s' "w/$1.shrk" 2>/dev/null; }
state_has() { python3 -c "import json,sys; sys.exit(0 if '$1' in json.load(open('w/pipeline-state.json'))['steps'] else 1)" 2>/dev/null; }

# 1. Step 3 fails (no arch file yet): steps 1-2 are saved and recorded.
recipe 0.9 1
"$cli" pipeline r.json >out1 2>err1
rc=$?
check "a failing step 3 fails the pipeline (exit $rc)" "[ $rc = 1 ]"
check "the error names step 3" "grep -q \"step 3 'small'\" err1"
check "steps 1-2 recorded, 3 not" "state_has teacher && state_has student && ! state_has small"
check "no output for step 3" "[ ! -e w/small.shrk ]"
t1=$(stamp teacher) s1=$(stamp student)

# 2. Fixed: the re-run skips steps 1-2 (their files untouched) and runs step 3.
printf 'flatten\nlinear 16\nrelu\nlinear 10\n' >net.txt
"$cli" pipeline r.json >out2 2>err2
check "resumed run succeeds" "[ $? = 0 ]"
check "step 1 skipped" "grep -q '\[1/3\] teacher (train): up to date, skipped' err2"
check "step 2 skipped" "grep -q '\[2/3\] student (distill): up to date, skipped' err2"
check "step 3 ran" "grep -q '\[3/3\] small: shrink distill' err2"
check "step 1-2 files untouched" "[ \"$(stamp teacher)\" = \"$t1\" ] && [ \"$(stamp student)\" = \"$s1\" ]"
check "the final table lists all steps" "grep -q teacher out2 && grep -q student out2 && grep -q small out2"

# 3. Nothing changed: nothing runs.
"$cli" pipeline r.json --json >out3 2>err3
check "all skipped" "[ \$(grep -c 'up to date, skipped' err3) = 3 ]"
check "JSON statuses" "python3 -c \"import json; d=json.load(open('out3')); \
assert [s['status'] for s in d['steps']] == ['skipped'] * 3; assert d['steps'][1]['accuracy'] > 0.3\""

# 4. A changed option re-runs its step; the step after it sees a new teacher and runs too.
recipe 0.5 1
"$cli" pipeline r.json >/dev/null 2>err4
check "changed option: step 1 skipped" "grep -q '\[1/3\] teacher (train): up to date' err4"
check "changed option: steps 2-3 ran" "grep -q '\[2/3\] student: shrink' err4 && grep -q '\[3/3\] small: shrink' err4"

# 5. Killed (with its child) during step 3: the re-run resumes at step 3.
recipe 0.5 40
setsid "$cli" pipeline r.json >/dev/null 2>err5 &
pid=$!
for _ in $(seq 1 600); do grep -q '\[3/3\] small: shrink' err5 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -9 -- -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
killed_in_step3=0
state_has small || killed_in_step3=1
"$cli" pipeline r.json >/dev/null 2>err6
check "after a kill: success" "[ $? = 0 ]"
check "after a kill: steps 1-2 skipped" "[ \$(grep -c 'up to date, skipped' err6) -ge 2 ]"
check "after a kill: step 3 ran" "[ $killed_in_step3 = 0 ] || grep -q '\[3/3\] small: shrink' err6"

# 6. --from-scratch runs everything again and reproduces the same bytes.
cp w/teacher.shrk teacher.before
"$cli" pipeline r.json --from-scratch >/dev/null 2>err7
check "from scratch: all ran" "[ \$(grep -c 'up to date' err7) = 0 ] && grep -q '\[3/3\] small: shrink' err7"
check "from scratch: same seed, same teacher bytes" "cmp -s w/teacher.shrk teacher.before"

# 7. A step whose subcommand this build lacks fails with its name.
if ! "$cli" help prune >/dev/null 2>&1; then
  cat >p.json <<EOF
{"workdir": "w", "data": "fashion-mnist", "defaults": {"train-limit": 500, "test-limit": 200, "threads": 2, "seed": 3},
 "steps": [{"name": "teacher", "run": "train", "arch": "mlp-small", "epochs": 2},
           {"name": "sparse", "run": "prune", "input": "@teacher", "sparsity": 0.5}]}
EOF
  "$cli" pipeline p.json >/dev/null 2>err8
  check "missing subcommand: exit 1" "[ $? = 1 ]"
  check "missing subcommand: names the step" "grep -q \"step 2 'sparse' needs 'shrink prune'\" err8"
  check "missing subcommand: step 1 still skipped" "grep -q 'teacher (train): up to date' err8"
fi

# 8. A broken recipe is one clear error.
echo '{"workdir": "w", "steps": [' >bad.json
"$cli" pipeline bad.json >/dev/null 2>err9
check "broken recipe: exit 1 with a line number" "[ $? = 1 ] && grep -q 'line' err9 && [ \$(wc -l <err9) = 1 ]"
"$cli" pipeline >/dev/null 2>&1
check "no recipe: usage error" "[ $? = 2 ]"

# 9. The shipped example recipes are valid (run from the source root, where they refer to examples/).
src=${SHR_SOURCE_DIR:-}
if [ -n "$src" ] && [ -d "$src/examples" ]; then
  for f in "$src"/examples/recipe-*.json; do
    (cd "$src" && "$cli" pipeline "$f" --dry-run) >dry.out 2>&1
    check "$(basename "$f") is a valid recipe" "[ $? = 0 ] && grep -q '^shrink ' dry.out"
  done
  (cd "$src" && "$cli" pipeline examples/recipe-full.json --dry-run) >dry.out 2>&1
  check "recipe-full prunes 80 % and quantizes to int8" \
    "grep -q 'prune .*--sparsity 0.8' dry.out && grep -q 'quantize .*--bits 8 --mode static' dry.out"
fi

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
