#!/usr/bin/env bash
# Installs what building and testing Trident needs beyond a Rust toolchain, only if it
# is missing: rustfmt/clippy, a C toolchain and make (librdkafka for the Kafka client
# tests is built from source by the rdkafka crate), python3 with venv for the
# Python client suites, and Chromium for the dashboard's browser tests (Debian's
# package, driven by PyPI playwright; Playwright's own browser download is not used).
# Safe to run repeatedly.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v make >/dev/null || need_apt+=(make)
command -v perl >/dev/null || need_apt+=(perl)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv python3-pip)
# Without recommends: the headless tests need the browser, not a desktop around it.
need_chromium=0
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need_chromium=1
if ((${#need_apt[@]})) || ((need_chromium)); then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq
    if ((${#need_apt[@]})); then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
    fi
    if ((need_chromium)); then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    fi
  else
    if ((need_chromium)); then
      # Only the dashboard's browser tests need it; they skip, saying why, without it.
      echo "warning: chromium is missing (apt-get install --no-install-recommends chromium);" \
        "the dashboard browser tests will be skipped" >&2
    fi
    if ((${#need_apt[@]})); then
      echo "missing system packages: ${need_apt[*]} (install them, e.g. with apt-get)" >&2
      exit 1
    fi
  fi
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
