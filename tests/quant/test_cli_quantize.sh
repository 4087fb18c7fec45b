#!/usr/bin/env bash
# shrink quantize from the command line: every mode produces a model that evaluates, the JSON
# report has its keys, inspect shows the quantization fields, the lineage records the step,
# and bad options are usage errors (exit 2) with one error line.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/quantcli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
json() { python3 -c "import json,sys; j=json.load(open('$1')); print($2)" 2>/dev/null; }

"$cli" train --arch lenet5 --data fashion-mnist --train-limit 600 --test-limit 100 --epochs 1 -o "$tmp/m.shrk" \
  >/dev/null 2>"$tmp/train.err" || bad "training a tiny model failed: $(cat "$tmp/train.err")"
"$cli" prune "$tmp/m.shrk" --method global --sparsity 0.8 --data fashion-mnist --train-limit 600 --test-limit 100 \
  -o "$tmp/p.shrk" >/dev/null 2>&1 || bad "pruning failed"

run() { # NAME MODEL options...: quantize with --json, check the report
  local name=$1 model=$2; shift 2
  if ! "$cli" quantize "$model" --data fashion-mnist --train-limit 600 --test-limit 200 --calib-samples 200 \
      -o "$tmp/$name.shrk" --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
    bad "$name: $(tail -1 "$tmp/$name.err")"; return
  fi
  local keys; keys=$(json "$tmp/$name.json" \
    "all(k in j for k in ('accuracy_before','accuracy_after','file_bytes','layers')) and all('sqnr_db' in l for l in j['layers'])")
  [ "$keys" = True ] && ok || bad "$name: JSON report lacks keys: $(head -c 300 "$tmp/$name.json")"
  local small; small=$(json "$tmp/$name.json" "j['file_bytes'] < j['file_bytes_before'] and j['accuracy_after'] > j['accuracy_before'] - 0.05")
  [ "$small" = True ] && ok || bad "$name: file not smaller or accuracy collapsed: $(head -c 300 "$tmp/$name.json")"
  "$cli" eval "$tmp/$name.shrk" --data fashion-mnist --test-limit 100 >/dev/null 2>&1 && ok || bad "$name: eval failed"
}
run static "$tmp/m.shrk" --calib entropy
run int16 "$tmp/m.shrk" --bits 16
run dynamic "$tmp/m.shrk" --mode dynamic
run w4 "$tmp/m.shrk" --mode weight-only --bits 4 --group-size 32 --gptq
run qat "$tmp/m.shrk" --mode qat --epochs 1 --weight-bits 4
run sparse "$tmp/p.shrk" --mode sparse --share-bits 4 --huffman
run mixed "$tmp/m.shrk" --exclude fc3 --keep-int16 conv2
run fixed "$tmp/m.shrk" --calib entropy --requant fixed

# inspect: quantization fields per layer, bytes per stage for sparse layers, the lineage step
"$cli" inspect "$tmp/static.shrk" --json >"$tmp/i.json" 2>/dev/null || bad "inspect failed"
q=$(json "$tmp/i.json" "[l['quant']['x_scale'] > 0 and l['quant']['sqnr_db'] is not None for l in j['layers'] if l['op'] == 'qconv2d']")
[ "$q" = "[True]" ] && ok || bad "inspect: qconv2d quant fields: $q"
lin=$(json "$tmp/i.json" "j['lineage'][-1].startswith('quantize int8 static entropy')")
[ "$lin" = True ] && ok || bad "lineage: $(json "$tmp/i.json" "j['lineage']")"
# the requantization mode: float by default, fixed on request; the text view and the lineage show it
rq=$(json "$tmp/i.json" "j.get('requant')")
[ "$rq" = float ] && ok || bad "inspect: requant of the default static model: $rq"
"$cli" inspect "$tmp/fixed.shrk" --json >"$tmp/f.json" 2>/dev/null
rq=$(json "$tmp/f.json" "(j.get('requant'), 'requant=fixed' in j['lineage'][-1])")
[ "$rq" = "('fixed', True)" ] && ok || bad "inspect: requant of --requant fixed: $rq"
"$cli" inspect "$tmp/fixed.shrk" 2>/dev/null | grep -q '^requant  *fixed$' && ok || bad "inspect text: no 'requant fixed' line"
"$cli" inspect "$tmp/int16.shrk" --json >"$tmp/w.json" 2>/dev/null
rq=$(json "$tmp/w.json" "j.get('requant')")
[ "$rq" = None ] && ok || bad "inspect: int16 layers (always fixed point) show no 8-bit requantization: $rq"
"$cli" inspect "$tmp/sparse.shrk" --json >"$tmp/s.json" 2>/dev/null
st=$(json "$tmp/s.json" "all(l['quant']['bytes']['entropy_coded'] < l['quant']['bytes']['dense_f32'] for l in j['layers'] if l['op'] == 'splinear')")
[ "$st" = True ] && ok || bad "inspect: sparse bytes per stage: $st"

# usage errors: exit 2, one line
expect2() {
  "$cli" quantize "$tmp/m.shrk" --data fashion-mnist -o "$tmp/x.shrk" "$@" >/dev/null 2>"$tmp/err"
  local rc=$?
  if [ $rc = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]; then ok; else bad "quantize $*: exit $rc: $(cat "$tmp/err")"; fi
}
expect2 --mode sideways
expect2 --bits 3
expect2 --mode dynamic --bits 4
expect2 --calib kl
expect2 --per-channel --per-tensor
expect2 --gptq
expect2 --max-drop 0.2
expect2 --share-bits 4
expect2 --lsq
expect2 --requant double
expect2 --mode dynamic --requant fixed
"$cli" quantize "$tmp/m.shrk" --data fashion-mnist -o "$tmp/x.shrk" --exclude no.such.layer >/dev/null 2>"$tmp/err"
[ $? = 1 ] && ok || bad "unknown --exclude layer should fail with exit 1"
"$cli" quantize "$tmp/missing.shrk" --data fashion-mnist -o "$tmp/x.shrk" >/dev/null 2>&1
[ $? = 1 ] && ok || bad "missing model should fail with exit 1"

echo "$passes passed, $fails failed" >&2
[ $fails = 0 ]
