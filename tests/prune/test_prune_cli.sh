#!/usr/bin/env bash
# shrink prune / sensitivity / inspect --sparsity-map from the command line:
# JSON keys and values, the file really shrinks, lineage, structured models
# evaluate, usage errors exit 2. Small Fashion-MNIST subsets.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/prune_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
# json FILE EXPR: evaluates a Python expression over the parsed object `j`.
json() { python3 -c "import json,sys; j=json.load(open('$1')); print($2)"; }

data=(--data fashion-mnist --train-limit 600 --test-limit 300)
"$cli" train --arch lenet5 "${data[@]}" --epochs 1 -o "$tmp/m.shrk" >/dev/null 2>"$tmp/err" ||
  { bad "training failed: $(cat "$tmp/err")"; exit 1; }

# global 0.9: nonzero_params is 10% of params, the file about a fifth of the dense one.
"$cli" prune "$tmp/m.shrk" --method global --sparsity 0.9 --epochs 1 "${data[@]}" --json -o "$tmp/g.shrk" \
  >"$tmp/g.json" 2>"$tmp/err" || bad "prune global: $(cat "$tmp/err")"
check "global json keys" '[ "$(json "$tmp/g.json" "all(k in j for k in (\"sparsity\",\"params\",\"nonzero_params\",\"accuracy_before\",\"accuracy_after\",\"file_bytes\",\"layers\"))")" = True ]'
check "global nonzero = 10% of params" '[ "$(json "$tmp/g.json" "0.099 * j[\"params\"] <= j[\"nonzero_params\"] <= 0.1 * j[\"params\"] + 1")" = True ]'
check "global file shrinks below 25%" '[ "$(json "$tmp/g.json" "j[\"file_bytes\"] < 0.25 * j[\"file_bytes_before\"]")" = True ]'
check "file_bytes is the file size" '[ "$(json "$tmp/g.json" "j[\"file_bytes\"]")" = "$(stat -c %s "$tmp/g.shrk")" ]'
"$cli" inspect "$tmp/g.shrk" --json >"$tmp/i.json" 2>"$tmp/err" || bad "inspect: $(cat "$tmp/err")"
check "lineage records the step" 'json "$tmp/i.json" "j[\"lineage\"]" | grep -q "prune global 0.9 schedule=oneshot finetune_epochs=1"'
check "lineage names the source file" 'json "$tmp/i.json" "j[\"lineage\"]" | grep -q "finetune_epochs=1 .*source=sha256:$(sha256sum "$tmp/m.shrk" | cut -c1-16)"'
check "inspect agrees on non-zeros" '[ "$(json "$tmp/i.json" "j[\"nonzero_params\"]")" = "$(json "$tmp/g.json" "j[\"nonzero_params\"]")" ]'
"$cli" inspect "$tmp/g.shrk" --sparsity-map "$tmp/map.svg" >/dev/null 2>"$tmp/err" || bad "sparsity map: $(cat "$tmp/err")"
check "sparsity map is XML with every layer" 'python3 -c "import xml.dom.minidom as m,sys; t=open(\"$tmp/map.svg\").read(); m.parseString(t); sys.exit(0 if all(n in t for n in (\"conv1\",\"conv2\",\"fc1\",\"fc2\",\"fc3\")) else 1)"'

# N:M 2:4: every layer about half zeros; magnitude per layer exact.
"$cli" prune "$tmp/m.shrk" --method nm --nm 2:4 "${data[@]}" --json -o "$tmp/nm.shrk" >"$tmp/nm.json" 2>"$tmp/err" ||
  bad "prune nm: $(cat "$tmp/err")"
check "2:4 halves every layer" '[ "$(json "$tmp/nm.json" "all(0.45 <= l[\"sparsity\"] <= 0.5 for l in j[\"layers\"])")" = True ]'
"$cli" prune "$tmp/m.shrk" --method magnitude --sparsity 0.75 --exclude fc3 "${data[@]}" --json -o "$tmp/mg.shrk" \
  >"$tmp/mg.json" 2>"$tmp/err" || bad "prune magnitude: $(cat "$tmp/err")"
check "magnitude 0.75 per layer, fc3 excluded" '[ "$(json "$tmp/mg.json" "all(abs(l[\"sparsity\"] - (0 if l[\"name\"] == \"fc3\" else 0.75)) < 0.01 for l in j[\"layers\"])")" = True ]'

# --block 4x1: whole blocks of 4 output units at one input go; the lineage says so.
"$cli" prune "$tmp/m.shrk" --method magnitude --sparsity 0.75 --block 4x1 "${data[@]}" --json -o "$tmp/b.shrk" \
  >"$tmp/b.json" 2>"$tmp/err" || bad "prune --block: $(cat "$tmp/err")"
check "block 4x1 per layer near 0.75" '[ "$(json "$tmp/b.json" "all(0.75 - 1.0 / l[\"params\"] <= l[\"sparsity\"] < 0.75 + 4.0 / l[\"params\"] + 1e-9 for l in j[\"layers\"])")" = True ]'
check "block in the lineage" '"$cli" inspect "$tmp/b.shrk" | grep -q "prune magnitude 0.75 block=4x1"'

# channel 0.5: a smaller dense model that evaluates.
"$cli" prune "$tmp/m.shrk" --method channel --sparsity 0.5 --importance taylor "${data[@]}" --json -o "$tmp/c.shrk" \
  >"$tmp/c.json" 2>"$tmp/err" || bad "prune channel: $(cat "$tmp/err")"
check "channel halves the conv filters" '[ "$(json "$tmp/c.json" "[l[\"out_channels\"] for l in j[\"layers\"]]")" = "[3, 8, 60, 42, 10]" ]'
check "channel params drop" '[ "$(json "$tmp/c.json" "j[\"params\"] < 0.5 * j[\"params_before\"]")" = True ]'
"$cli" eval "$tmp/c.shrk" --data fashion-mnist --test-limit 100 >/dev/null 2>"$tmp/err" || bad "eval channel: $(cat "$tmp/err")"

# Fine-tuning with the unpruned model as the teacher.
"$cli" prune "$tmp/m.shrk" --method magnitude --sparsity 0.5 --epochs 1 --teacher self "${data[@]}" -o "$tmp/t.shrk" \
  >/dev/null 2>"$tmp/err" || bad "prune --teacher self: $(cat "$tmp/err")"
check "teacher in the lineage" '"$cli" inspect "$tmp/t.shrk" | grep -q "teacher=self"'

# sensitivity: JSON and plot.
"$cli" sensitivity "$tmp/m.shrk" --data fashion-mnist --test-limit 200 --sparsities 0.5,0.9 --json --plot "$tmp/s.svg" \
  >"$tmp/s.json" 2>"$tmp/err" || bad "sensitivity: $(cat "$tmp/err")"
check "sensitivity json" '[ "$(json "$tmp/s.json" "len(j[\"layers\"]) == 5 and [round(x, 3) for x in j[\"sparsities\"]] == [0.5, 0.9] and all(len(l[\"accuracy\"]) == 2 for l in j[\"layers\"])")" = True ]'
check "sensitivity plot" 'python3 -c "import xml.dom.minidom as m; m.parse(\"$tmp/s.svg\")"'

# Usage errors: exit 2, one line, no output file.
expect2() {
  local what=$1; shift
  "$cli" prune "$@" >/dev/null 2>"$tmp/err"
  local rc=$?
  if [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]; then ok; else bad "$what: exit $rc: $(cat "$tmp/err")"; fi
}
expect2 "unknown method" "$tmp/m.shrk" --method snip --sparsity 0.5 "${data[@]}" -o "$tmp/x.shrk"
expect2 "sparsity above 1" "$tmp/m.shrk" --method magnitude --sparsity 1.5 "${data[@]}" -o "$tmp/x.shrk"
expect2 "structured sparsity 1" "$tmp/m.shrk" --method channel --sparsity 1 "${data[@]}" -o "$tmp/x.shrk"
expect2 "--nm without nm" "$tmp/m.shrk" --method magnitude --sparsity 0.5 --nm 2:4 "${data[@]}" -o "$tmp/x.shrk"
expect2 "bad N:M" "$tmp/m.shrk" --method nm --nm 4:4 "${data[@]}" -o "$tmp/x.shrk"
expect2 "auto with channel" "$tmp/m.shrk" --method channel --sparsity auto "${data[@]}" -o "$tmp/x.shrk"
expect2 "unknown importance" "$tmp/m.shrk" --method channel --sparsity 0.5 --importance random "${data[@]}" -o "$tmp/x.shrk"
expect2 "unknown schedule" "$tmp/m.shrk" --method global --sparsity 0.5 --schedule cubic "${data[@]}" -o "$tmp/x.shrk"
expect2 "missing data" "$tmp/m.shrk" --method global --sparsity 0.5 -o "$tmp/x.shrk"
expect2 "teacher without fine-tuning" "$tmp/m.shrk" --method global --sparsity 0.5 --teacher self "${data[@]}" -o "$tmp/x.shrk"
expect2 "block with channel" "$tmp/m.shrk" --method channel --sparsity 0.5 --block 4x1 "${data[@]}" -o "$tmp/x.shrk"
expect2 "block side 0" "$tmp/m.shrk" --method magnitude --sparsity 0.5 --block 0x1 "${data[@]}" -o "$tmp/x.shrk"
expect2 "block not RxC" "$tmp/m.shrk" --method magnitude --sparsity 0.5 --block 8 "${data[@]}" -o "$tmp/x.shrk"
check "no output after usage errors" '[ ! -e "$tmp/x.shrk" ]'

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
