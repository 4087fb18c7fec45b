#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with -Werror, runs every
# test (unit, CLI, end-to-end on Fashion-MNIST), then the unit and CLI tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" release
(cd "$root/build" && ctest -j"$(nproc)" --output-on-failure --timeout 1200)
"$root/scripts/build.sh" asan
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest -j"$(nproc)" -LE e2e --output-on-failure --timeout 1200)
