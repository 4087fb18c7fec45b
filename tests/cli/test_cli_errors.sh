#!/usr/bin/env bash
# CLI contract: hostile or missing inputs give a one-line error and exit 1 or 2,
# never a crash; help, --version and JSON output work.
set -u
cli=${SHR_CLI:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE DESCRIPTION -- command...: exit code CODE and exactly one stderr line starting "shrink"
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" != "$want" ]; then bad "$what: exit $rc, want $want ($(head -c 300 "$tmp/err"))"; return; fi
  if [ "$want" != 0 ] && { [ "$lines" != 1 ] || ! grep -q '^shrink' "$tmp/err"; }; then
    bad "$what: expected one error line, got: $(cat "$tmp/err")"; return
  fi
  ok
}

# A small real model to corrupt.
"$cli" train --arch mlp --data fashion-mnist --train-limit 300 --test-limit 100 --epochs 1 -o "$tmp/m.shrk" \
  >/dev/null 2>"$tmp/train.err" || { bad "training a tiny model failed: $(cat "$tmp/train.err")"; }
size=$(stat -c %s "$tmp/m.shrk" 2>/dev/null || echo 0)

head -c $((size / 2)) "$tmp/m.shrk" >"$tmp/trunc.shrk"
expect 1 "truncated model" -- "$cli" inspect "$tmp/trunc.shrk"
expect 1 "truncated model (eval)" -- "$cli" eval "$tmp/trunc.shrk" --data fashion-mnist
head -c 10 "$tmp/m.shrk" >"$tmp/tiny.shrk"
expect 1 "10-byte model" -- "$cli" inspect "$tmp/tiny.shrk"
: >"$tmp/empty.shrk"
expect 1 "empty model" -- "$cli" inspect "$tmp/empty.shrk"
for off in 0 5 9 20 40 $((size / 3)) $((size / 2)) $((size - 3)); do
  cp "$tmp/m.shrk" "$tmp/flip.shrk"
  byte=$(od -An -tu1 -j "$off" -N1 "$tmp/flip.shrk" | tr -d ' ')
  printf "$(printf '\\%03o' $(((byte ^ 16) & 255)))" | dd of="$tmp/flip.shrk" bs=1 seek="$off" conv=notrunc 2>/dev/null
  expect 1 "bit flip at byte $off" -- "$cli" inspect "$tmp/flip.shrk"
done
expect 1 "missing model" -- "$cli" inspect "$tmp/nope.shrk"
expect 1 "directory as model" -- "$cli" inspect "$tmp"
expect 1 "missing dataset folder" -- "$cli" eval "$tmp/m.shrk" --data "$tmp/no-such-dir"
expect 1 "missing dataset folder (train)" -- "$cli" train --arch mlp --data "$tmp/no-such-dir" -o "$tmp/x.shrk"
expect 2 "unknown arch" -- "$cli" train --arch resnet9000 --data fashion-mnist --train-limit 10 -o "$tmp/x.shrk"
expect 2 "unknown option" -- "$cli" train --arch mlp --data fashion-mnist --frobnicate -o "$tmp/x.shrk"
expect 2 "bad number" -- "$cli" train --arch mlp --data fashion-mnist --epochs many -o "$tmp/x.shrk"
expect 2 "negative lr" -- "$cli" train --arch mlp --data fashion-mnist --lr -1 -o "$tmp/x.shrk"
expect 2 "missing -o" -- "$cli" train --arch mlp --data fashion-mnist
expect 2 "both arch options" -- "$cli" train --arch mlp --arch-file x --data fashion-mnist -o "$tmp/x.shrk"
expect 2 "unknown command" -- "$cli" frobnicate
expect 2 "bench bad batch list" -- "$cli" bench "$tmp/m.shrk" --batch 1,,x
expect 1 "missing arch file" -- "$cli" train --arch-file "$tmp/none.txt" --data fashion-mnist -o "$tmp/x.shrk"
printf 'flatten\nlinear 10\nwobble\n' >"$tmp/bad.txt"
expect 1 "bad arch file" -- "$cli" train --arch-file "$tmp/bad.txt" --data fashion-mnist --train-limit 50 -o "$tmp/x.shrk"
[ ! -e "$tmp/x.shrk" ] && ok || bad "a failed train left an output file"

# A run that fails late (here: the dataset has no test split) must not replace an existing model.
mkdir -p "$tmp/trainonly"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  ln -s /usr/share/datasets/fashion-mnist/$f "$tmp/trainonly/$f"
done
cp "$tmp/m.shrk" "$tmp/keep.shrk"
expect 1 "train on a dataset without a test split" -- "$cli" train --arch mlp --data "$tmp/trainonly" --train-limit 200 --epochs 1 -o "$tmp/keep.shrk"
cmp -s "$tmp/m.shrk" "$tmp/keep.shrk" && ok || bad "existing model changed by a failed run"
printf 'relu3: flatten\nlinear 10\nrelu\nlinear 10\n' >"$tmp/dup.txt"
expect 1 "arch file with a clashing label" -- "$cli" train --arch-file "$tmp/dup.txt" --data fashion-mnist --train-limit 50 -o "$tmp/x.shrk"

expect 0 "version" -- "$cli" --version
expect 0 "help train" -- "$cli" help train
grep -q -- "--epochs" "$tmp/out" && ok || bad "help train does not document --epochs"
for c in train eval inspect bench; do expect 0 "help $c" -- "$cli" help "$c"; done

# JSON outputs parse and hold the documented keys.
check_json() { # file keys...
  python3 - "$@" <<'PY' && ok || bad "json check failed for $1"
import json, sys
o = json.load(open(sys.argv[1]))
missing = [k for k in sys.argv[2:] if k not in o]
sys.exit(1 if missing else 0)
PY
}
"$cli" inspect "$tmp/m.shrk" --json >"$tmp/i.json" 2>/dev/null
check_json "$tmp/i.json" params nonzero_params file_bytes flops layers
python3 -c "import json,sys; o=json.load(open('$tmp/i.json')); sys.exit(0 if o['params']==266610 and all(set(l)>={'name','op','shape','params','nonzero','dtype'} for l in o['layers']) else 1)" && ok || bad "inspect json content"
"$cli" eval "$tmp/m.shrk" --data fashion-mnist --test-limit 200 --json >"$tmp/e.json" 2>/dev/null
check_json "$tmp/e.json" accuracy loss samples seconds
"$cli" bench "$tmp/m.shrk" --batch 1,8 --seconds 0.05 --json >"$tmp/b.json" 2>/dev/null
check_json "$tmp/b.json" results peak_rss_bytes
python3 -c "import json,sys; r=json.load(open('$tmp/b.json'))['results']; sys.exit(0 if [x['batch'] for x in r]==[1,8] and all(x['latency_ms_p50']>0 and x['samples_per_s']>0 and x['latency_ms_p99']>=x['latency_ms_p50'] for x in r) else 1)" && ok || bad "bench json content"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
