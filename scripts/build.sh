#!/usr/bin/env bash
# Configures and builds one flavour: build.sh release|asan  (warnings are errors in both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-release}" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir="$root/build-asan"; flags=(-DCMAKE_BUILD_TYPE=Debug -DSHR_SANITIZE=ON -DSHR_BUILD_BENCH=OFF) ;;
  *) echo "usage: build.sh release|asan" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" -DSHR_WERROR=ON "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
