#!/usr/bin/env bash
# Installs what building and testing Trident needs beyond a Rust toolchain, only if it
# is missing: rustfmt/clippy, a C toolchain and make (librdkafka for the Kafka client
# tests is built from source by the rdkafka crate), and python3 with venv for the
# Python client suites. Safe to run repeatedly.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v make >/dev/null || need_apt+=(make)
command -v perl >/dev/null || need_apt+=(perl)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv python3-pip)
if ((${#need_apt[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing system packages: ${need_apt[*]} (install them, e.g. with apt-get)" >&2
    exit 1
  fi
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
