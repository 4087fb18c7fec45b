#!/usr/bin/env bash
# shrink compare through the CLI on two briefly trained models: every output
# format, figures that agree with inspect/eval and the file system, the
# reference option, usage errors, and the lineage shown by inspect.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi; }
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

"$cli" train --arch mlp --data fashion-mnist --train-limit 400 --epochs 1 -o "$tmp/mlp.shrk" >/dev/null 2>&1
"$cli" train --arch lenet5 --data fashion-mnist --train-limit 400 --epochs 1 -o "$tmp/lenet5.shrk" >/dev/null 2>&1
common=(--data fashion-mnist --test-limit 300 --seconds 0.03 --threads 1)

"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --json --plot "$tmp/p.svg" --html "$tmp/r.html" \
  >"$tmp/c.json" 2>"$tmp/c.err"
check "compare --json exits 0 ($(tail -2 "$tmp/c.err"))" "[ $? = 0 ]"
check "JSON is an array of 2" "[ \"$(py "$tmp/c.json" 'len(d)')\" = 2 ]"
for key in name lineage file_bytes params nonzero_params flops accuracy latency_ms_b1 latency_ms_b64 peak_rss_bytes; do
  check "key $key" "[ \"$(py "$tmp/c.json" "all('$key' in m for m in d)")\" = True ]"
done
check "file_bytes is the file's size" \
  "[ \"$(py "$tmp/c.json" 'd[1]["file_bytes"]')\" = \"$(stat -c %s "$tmp/lenet5.shrk")\" ]"
"$cli" inspect "$tmp/lenet5.shrk" --json >"$tmp/i.json" 2>/dev/null
check "params agree with inspect" "[ \"$(py "$tmp/c.json" 'd[1]["params"]')\" = \"$(py "$tmp/i.json" 'd["params"]')\" ]"
check "dense flops agree with inspect" \
  "[ \"$(py "$tmp/c.json" 'd[1]["dense_flops"]')\" = \"$(py "$tmp/i.json" 'd["flops"]')\" ]"
"$cli" eval "$tmp/lenet5.shrk" --data fashion-mnist --test-limit 300 --json >"$tmp/e.json" 2>/dev/null
check "accuracy agrees with eval" \
  "[ \"$(py "$tmp/c.json" 'd[1]["accuracy"]')\" = \"$(py "$tmp/e.json" 'd["accuracy"]')\" ]"
check "peak RSS measured (> 1 MiB)" "[ \"$(py "$tmp/c.json" 'int(d[0]["peak_rss_bytes"] > 1 << 20)')\" = 1 ]"
check "reference is the first" "[ \"$(py "$tmp/c.json" 'd[0]["reference"] and d[0]["size_ratio"] == 1')\" = True ]"
check "size ratio" "[ \"$(py "$tmp/c.json" "abs(d[1]['size_ratio'] - d[1]['file_bytes'] / d[0]['file_bytes']) < 1e-7")\" = True ]"
check "lineage chain" "[ \"$(py "$tmp/c.json" 'd[0]["lineage"]')\" = mlp ]"
check "latency measured" "[ \"$(py "$tmp/c.json" 'int(d[0]["latency_ms_b1"] > 0 and d[1]["runs_b64"] >= 10)')\" = 1 ]"
check "SVG is valid XML" "xmllint --noout $tmp/p.svg"
check "HTML written" "grep -q '<table' $tmp/r.html && grep -q '<svg' $tmp/r.html"

"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --batch 2 >"$tmp/t.txt" 2>/dev/null
check "text table: header + 2 rows" "[ \"$(head -3 "$tmp/t.txt" | grep -c '\.shrk\|mlp\|lenet5\|front')\" = 3 ]"
check "text table shows the batch" "grep -q 'b2 p50 ms' $tmp/t.txt && ! grep -q 'b64' $tmp/t.txt"
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --csv >"$tmp/t.csv" 2>/dev/null
check "CSV: header + 2 rows" "[ \"$(wc -l <"$tmp/t.csv")\" = 3 ]"
check "CSV parses with 2 records" \
  "[ \"$(python3 -c "import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1])))))" "$tmp/t.csv")\" = 2 ]"
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --markdown >"$tmp/t.md" 2>/dev/null
check "Markdown table" "grep -q '^|---:\|^|:---' $tmp/t.md"

# --reference: one of the models, or an extra one shown first.
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --reference "$tmp/lenet5.shrk" --json \
  >"$tmp/r1.json" 2>/dev/null
check "reference among the models" "[ \"$(py "$tmp/r1.json" 'len(d) == 2 and d[1]["reference"] and d[1]["size_ratio"] == 1')\" = True ]"
mkdir -p "$tmp/other" && cp "$tmp/mlp.shrk" "$tmp/other/mlp.shrk"
"$cli" compare "$tmp/lenet5.shrk" "${common[@]}" --reference "$tmp/other/mlp.shrk" --json >"$tmp/r2.json" 2>/dev/null
check "extra reference first" "[ \"$(py "$tmp/r2.json" 'len(d) == 2 and d[0]["reference"]')\" = True ]"
"$cli" compare "$tmp/mlp.shrk" "$tmp/other/mlp.shrk" "${common[@]}" --json >"$tmp/r3.json" 2>/dev/null
check "clashing names fall back to paths" "[ \"$(py "$tmp/r3.json" 'd[0]["name"] != d[1]["name"]')\" = True ]"
check "a copy's outputs are the reference's (agreement 1, infinite SQNR: null)" \
  "[ \"$(py "$tmp/r3.json" 'd[1]["top1_agreement"] == 1 and d[1]["output_sqnr_db"] is None and d[1]["output_samples"] == 300')\" = True ]"
check "outputs compared on the test samples (300 < 500)" \
  "[ \"$(py "$tmp/c.json" 'd[0]["output_samples"] == 0 and d[1]["output_samples"] == 300 and 0 <= d[1]["top1_agreement"] <= 1')\" = True ]"
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --sqnr-samples 0 --json >"$tmp/s0.json" 2>/dev/null
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" "${common[@]}" --clock cpu >"$tmp/cpu.txt" 2>/dev/null
check "--clock cpu: timed and said so" "grep -q \"thread's CPU clock\" $tmp/cpu.txt && grep -q '^ *[SL ]* *lenet5 ' $tmp/cpu.txt"
"$cli" bench "$tmp/lenet5.shrk" --threads 1 --clock cpu --seconds 0.05 --json >"$tmp/b.json" 2>/dev/null
check "bench --clock cpu" "[ \"$(py "$tmp/b.json" 'd["clock"] == "thread-cpu" and d["results"][0]["latency_ms_p50"] > 0')\" = True ]"
check "--sqnr-samples 0 skips the outputs" "[ \"$(py "$tmp/s0.json" 'd[1]["output_samples"] == 0 and d[1]["top1_agreement"] is None')\" = True ]"

expect() { "${@:2}" >/dev/null 2>"$tmp/err"; local rc=$?; check "$* -> exit $1 (got $rc)" "[ $rc = $1 ]"; }
expect 2 "$cli" compare --data fashion-mnist
expect 2 "$cli" compare "$tmp/mlp.shrk"
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --json --csv
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --batch 1,,2
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --batch 1,2,3,4,5,6,7,8,9
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --sqnr-samples -1
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --clock cpu --threads 2
expect 2 "$cli" compare "$tmp/mlp.shrk" --data fashion-mnist --clock sundial
expect 2 "$cli" bench "$tmp/mlp.shrk" --clock cpu --threads 2
expect 1 "$cli" compare "$tmp/mlp.shrk" "$tmp/none.shrk" --data fashion-mnist
expect 1 "$cli" compare "$tmp/mlp.shrk" --data "$tmp/no-such-data"

# inspect shows the lineage: the chain, this file's hash, each step.
"$cli" inspect "$tmp/mlp.shrk" >"$tmp/i.txt" 2>&1
sum=$(sha256sum "$tmp/mlp.shrk" | cut -d' ' -f1)
check "inspect shows the file's sha256" "grep -q \"sha256 *$sum\" $tmp/i.txt"
check "inspect numbers the steps" "grep -q '^  1\. train arch=mlp .*train_limit=400' $tmp/i.txt"
check "inspect --json sha256" "[ \"$(py "$tmp/i.json" 'd["sha256"]')\" = \"$(sha256sum "$tmp/lenet5.shrk" | cut -d' ' -f1)\" ]"

echo "$passes passed, $fails failed" >&2
[ "$fails" = 0 ]
