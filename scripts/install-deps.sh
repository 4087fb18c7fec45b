#!/usr/bin/env bash
# Installs (Debian packages only) what shrink needs to build, test and run its
# demo; does nothing when everything is present. Usage: install-deps.sh [extra packages...]
set -euo pipefail
# Library: zlib, jansson; ONNX: protobuf-c + onnx.proto (libonnx-dev) + conformance data;
# benchmarks only: OpenBLAS (peer sgemm); tests: xmllint (SVG validity), python3-venv (ONNX Runtime interop).
pkgs=(build-essential cmake pkg-config zlib1g-dev libjansson-dev python3 python3-venv dataset-fashion-mnist
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata libopenblas-dev libxml2-utils "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
