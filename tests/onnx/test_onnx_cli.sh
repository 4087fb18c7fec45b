#!/usr/bin/env bash
# shrink import / export on the command line: a trained model survives
# shrk -> ONNX -> shrk with the same test accuracy (the preprocessing travels in the
# ONNX metadata), --normalize overrides it and is stored in the .shrk file, `export` reads .onnx directly, and bad input gives one error line
# with exit 1 (failure) or 2 (usage).
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/onnx-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE WHAT -- command...: exit code CODE and (on failure) one stderr line starting "shrink"
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" != "$want" ]; then bad "$what: exit $rc, want $want ($(head -c 300 "$tmp/err"))"; return; fi
  if [ "$want" != 0 ] && { [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q '^shrink' "$tmp/err"; }; then
    bad "$what: expected one error line, got: $(cat "$tmp/err")"
  fi
}

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

"$cli" train --arch lenet5 --data fashion-mnist --train-limit 512 --test-limit 200 --epochs 1 -o "$tmp/m.shrk" \
  >/dev/null 2>"$tmp/train.err" || bad "training: $(tail -1 "$tmp/train.err")"
expect 0 "export" -- "$cli" export "$tmp/m.shrk" --format onnx -o "$tmp/m.onnx"
expect 0 "import" -- "$cli" import "$tmp/m.onnx" -o "$tmp/back.shrk" --json
[ "$(json "$tmp/out" "d['params']")" = "$("$cli" inspect "$tmp/m.shrk" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["params"])')" ] ||
  bad "params differ after the round trip"
"$cli" eval "$tmp/m.shrk" --data fashion-mnist --test-limit 200 --json >"$tmp/a.json" 2>/dev/null || bad "eval m.shrk"
# The normalization travels in the file's metadata_props: no --normalize needed to import
# or to evaluate the .onnx directly.
expect 0 "eval the exported .onnx" -- "$cli" eval "$tmp/m.onnx" --data fashion-mnist --test-limit 200 --json
[ "$(json "$tmp/a.json" "d['accuracy']")" = "$(json "$tmp/out" "d['accuracy']")" ] ||
  bad "accuracy of the .onnx without --normalize: $(json "$tmp/out" "d['accuracy']") vs $(json "$tmp/a.json" "d['accuracy']")"
"$cli" eval "$tmp/back.shrk" --data fashion-mnist --test-limit 200 --json >"$tmp/b.json" 2>/dev/null || bad "eval back.shrk"
[ "$(json "$tmp/a.json" "d['accuracy']")" = "$(json "$tmp/b.json" "d['accuracy']")" ] ||
  bad "accuracy changed through ONNX (metadata): $(json "$tmp/a.json" "d['accuracy']") vs $(json "$tmp/b.json" "d['accuracy']")"
# --normalize still overrides what the file says.
norm=$("$cli" inspect "$tmp/m.shrk" --json | python3 -c 'import json,sys; p=json.load(sys.stdin)["preprocess"]; print("%r,%r" % (p["mean"][0], p["std"][0]))')
expect 0 "import --normalize" -- "$cli" import "$tmp/m.onnx" -o "$tmp/back.shrk" --normalize "$norm"
"$cli" eval "$tmp/back.shrk" --data fashion-mnist --test-limit 200 --json >"$tmp/b.json" 2>/dev/null || bad "eval back.shrk"
[ "$(json "$tmp/a.json" "d['accuracy']")" = "$(json "$tmp/b.json" "d['accuracy']")" ] ||
  bad "accuracy changed through ONNX: $(json "$tmp/a.json" "d['accuracy']") vs $(json "$tmp/b.json" "d['accuracy']")"
"$cli" inspect "$tmp/back.shrk" --json >"$tmp/i.json" 2>/dev/null || bad "inspect"
[ "$(json "$tmp/i.json" "'%.4f %.5f' % (d['preprocess']['std'][0], d['preprocess']['scale'])")" = \
  "$(json "$tmp/i.json" "'%.4f %.5f' % (float('$norm'.split(',')[1]), 1/255)")" ] || bad "--normalize not stored"
expect 0 "per-channel --normalize" -- "$cli" import "$tmp/m.onnx" -o "$tmp/n3.shrk" --normalize 0.5:0.4:0.3,0.2:0.2:0.25
expect 0 "export of an .onnx file with test data" -- "$cli" export "$tmp/m.onnx" --format onnx -o "$tmp/again.onnx" \
  --test-data "$tmp/td" --samples 3
[ -s "$tmp/td/input_0.pb" ] && [ -s "$tmp/td/output_0.pb" ] || bad "test data files missing"

expect 2 "bad --normalize" -- "$cli" import "$tmp/m.onnx" -o "$tmp/x.shrk" --normalize 0.5
expect 2 "zero std" -- "$cli" import "$tmp/m.onnx" -o "$tmp/x.shrk" --normalize 0.5,0
expect 2 "import without -o" -- "$cli" import "$tmp/m.onnx"
expect 2 "unknown format" -- "$cli" export "$tmp/m.shrk" --format tflite -o "$tmp/x"
expect 1 "missing file" -- "$cli" import "$tmp/none.onnx" -o "$tmp/x.shrk"
head -c 300 "$tmp/m.onnx" >"$tmp/trunc.onnx"
expect 1 "truncated model" -- "$cli" import "$tmp/trunc.onnx" -o "$tmp/x.shrk"
printf 'not a model at all' >"$tmp/text.onnx"
expect 1 "text file" -- "$cli" import "$tmp/text.onnx" -o "$tmp/x.shrk"
[ ! -e "$tmp/x.shrk" ] || bad "a failed import left an output file"

[ "$fails" = 0 ] && echo "onnx cli: all checks passed"
exit $((fails > 0))
