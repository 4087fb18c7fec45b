#!/usr/bin/env bash
# The compare HTML report in a real browser: headless Chromium renders it with
# no console errors, and the screenshot is not blank and shows both plots
# (their marker colours). A page with a deliberate console error must be
# caught first, so a silent logger cannot pass the test.
# Exit 77 (skipped) when Chromium is missing and cannot be installed.
set -u
cli=${SHR_CLI:?}
src=${SHR_SOURCE_DIR:?}
tmp=$(mktemp -d "${SHR_TMPDIR:-/tmp}/html.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi; }

find_browser() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
browser=$(find_browser)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && [ -x "$(command -v apt-get)" ]; then
  bash "$src/scripts/install-deps.sh" chromium >&2 || true
  browser=$(find_browser)
fi
if [ -z "$browser" ]; then
  echo "SKIP: no chromium (install it: scripts/install-deps.sh chromium)" >&2
  exit 77
fi

# render PAGE PNG: screenshot at 1300x1100 (the table and both plots), Chromium's log in PNG.log
render() {
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 --window-size=1300,1100 \
    --screenshot="$2" "file://$1" >"$2.log" 2>&1
}

printf '<!DOCTYPE html><html><body>probe<script>console.error("shrink-probe")</script></body></html>' >"$tmp/probe.html"
render "$tmp/probe.html" "$tmp/probe.png"
check "the console probe is seen in Chromium's log" "grep -q ':CONSOLE.*shrink-probe' $tmp/probe.png.log"

"$cli" train --arch mlp --data fashion-mnist --train-limit 500 --epochs 1 -o "$tmp/mlp.shrk" >/dev/null 2>&1
"$cli" train --arch lenet5 --data fashion-mnist --train-limit 500 --epochs 1 -o "$tmp/lenet5.shrk" >/dev/null 2>&1
"$cli" compare "$tmp/mlp.shrk" "$tmp/lenet5.shrk" --data fashion-mnist --test-limit 300 --seconds 0.05 \
  --html "$tmp/report.html" >/dev/null 2>"$tmp/compare.err"
check "compare wrote the report ($(tail -1 "$tmp/compare.err"))" "[ -s $tmp/report.html ]"
render "$tmp/report.html" "$tmp/report.png"
check "screenshot taken" "[ -s $tmp/report.png ]"
check "no console messages: $(grep ':CONSOLE' "$tmp/report.png.log" | head -3)" \
  "! grep -q ':CONSOLE' $tmp/report.png.log"
# Palette colours of the size plot (#0072B2) and the latency plot (#D55E00).
stats=$(python3 "$src/tests/report/png_stats.py" "$tmp/report.png" '#0072B2' '#D55E00' 2>&1)
echo "screenshot: $stats" >&2
get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$stats" 2>/dev/null || echo 0; }
check "screenshot is not blank" "[ \"$(get x "int(d['non_white'] > 0.02 and d['colours'] > 20)")\" = 1 ]"
check "size plot drawn" "[ \"$(get x "int(d['near']['#0072B2'] > 10)")\" = 1 ]"
check "latency plot drawn" "[ \"$(get x "int(d['near']['#D55E00'] > 10)")\" = 1 ]"
if [ -n "${SHR_KEEP_SCREENSHOT:-}" ]; then cp "$tmp/report.png" "$SHR_KEEP_SCREENSHOT"; fi

echo "$passes passed, $fails failed" >&2
[ "$fails" = 0 ]
