#!/usr/bin/env bash
# Coverage-guided fuzzing of the four readers of hostile input with libFuzzer +
# ASan + UBSan: .shrk files (fuzz_shrk: the bytes; fuzz_graph: hostile graphs a
# file can hold), --arch-file text, IDX and CSV datasets. Not part of CI (minutes).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60; targets: shrk graph arch idx csv)
#
# Builds the library sources and tests/fuzz/fuzz_*.c with clang into build-fuzz/,
# generates the seed corpora into build-fuzz/corpus/<target>/ (kept between runs,
# so coverage accumulates), then runs the targets one after another, one process
# each. A crash, leak, UB report, timeout or OOM leaves its input in
# build-fuzz/artifacts/ and makes the script fail. Replay one input with
#   build-fuzz/fuzz_<target> build-fuzz/artifacts/<file>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(shrk graph arch idx csv)
out="$root/build-fuzz"
cc=${CC:-clang}
jobs=$(nproc)
mkdir -p "$out/obj" "$out/corpus" "$out/artifacts"

# SHR_MAX_PARAMS: networks at the production limit (2^28 elements, 1 GiB) take
# seconds to initialize under ASan and would read as hangs; the logic is the same.
# The ONNX importer's protobuf-c code, generated as the CMake build does it.
mkdir -p "$out/onnx_gen"
if [ ! -e "$out/onnx_gen/onnx.pb-c.c" ] || [ /usr/include/onnx/onnx.proto -nt "$out/onnx_gen/onnx.pb-c.c" ]; then
  protoc-c --proto_path=/usr/include/onnx --c_out="$out/onnx_gen" /usr/include/onnx/onnx.proto
fi
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -DSHR_MAX_PARAMS='(1LL << 22)' -O1 -g -fno-omit-frame-pointer -fopenmp
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I "$root/include" -I "$root/src" -I "$out/onnx_gen" -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed)
libs=(-fopenmp -lz -ljansson -lprotobuf-c -lm)

# Library objects: coverage-instrumented, without libFuzzer's main. Rebuilt when
# the source or any header under src/ or include/ is newer than the object, or
# the compiler flags changed.
if [ "$(cat "$out/obj/flags" 2>/dev/null)" != "$cc ${cflags[*]}" ]; then rm -f "$out"/obj/*.o; fi
echo "$cc ${cflags[*]}" > "$out/obj/flags"
newest_header=$(find "$root/src" "$root/include" -name '*.h' -printf '%T@\n' | sort -n | tail -1)
objs=()
running=0
while IFS= read -r src; do
  rel=${src#"$root/src/"}
  rel=${rel#"$out/"}
  obj="$out/obj/${rel//\//_}.o"
  objs+=("$obj")
  if [ -e "$obj" ] && [ "$obj" -nt "$src" ] &&
     [ "$(stat -c %Y "$obj")" -ge "${newest_header%.*}" ]; then continue; fi
  extra=()
  case "$src" in *_avx2.c) extra=(-mavx2 -mfma) ;; esac
  "$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link "${extra[@]}" -c "$src" -o "$obj" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done < <(find "$root/src" "$out/onnx_gen" -name '*.c' | sort)
while [ "$running" -gt 0 ]; do wait -n; running=$((running - 1)); done

for t in "${targets[@]}"; do
  "$cc" "${cflags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.c" "${objs[@]}" "${libs[@]}" -o "$out/fuzz_$t"
done
"$cc" "${cflags[@]}" "$root/tests/fuzz/gen_seeds.c" "${objs[@]}" "${libs[@]}" -o "$out/gen_seeds"

# Seeds: models saved by the library (fuzz_graph starts from nothing: its input
# is a recipe, and any bytes make one), arch specs (plus the shipped examples),
# tiny IDX sets and CSVs. Regenerating adds them next to what fuzzing found.
"$out/gen_seeds" "$out/corpus" "$root"/examples/*.txt
mkdir -p "$out/corpus/graph"

status=0
for t in "${targets[@]}"; do
  echo "fuzz.sh: fuzz_$t for ${secs}s"
  # One in-process run at a time (no -jobs/-workers): the machine may be shared.
  # One OpenMP thread unless asked otherwise: with more, barriers dominate the
  # tiny graphs and the exec rate drops fivefold on a 2-core machine.
  if ! OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
      UBSAN_OPTIONS=print_stacktrace=1 \
      "$out/fuzz_$t" "$out/corpus/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=5 \
      -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1; then
    echo "fuzz.sh: fuzz_$t found a problem; inputs in $out/artifacts/" >&2
    status=1
  fi
done
exit $status
