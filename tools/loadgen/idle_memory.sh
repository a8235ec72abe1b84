#!/usr/bin/env bash
# Broker memory with many idle connections, and after they close: for each protocol a
# fresh broker (fresh data dir), RSS before, with N open, and after they closed
# (the load generator's *-idle modes read the broker's VmRSS from /proc).
#
#   tools/loadgen/idle_memory.sh [N] [results.jsonl]
#
# TRIDENT (broker binary, default target/debug/trident), TRIDENT_LOAD (load generator,
# default target/debug/trident-load), PROTOCOLS (default "kafka amqp mqtt") and
# BROKER_ENV (extra environment for the broker, e.g. "MIMALLOC_PURGE_DELAY=0") can be
# set. N is limited by the file descriptor limit: broker and clients each need N.
set -euo pipefail
n=${1:-10000}
out=${2:-/dev/null}
trident=${TRIDENT:-target/debug/trident}
load=${TRIDENT_LOAD:-target/debug/trident-load}
protocols=${PROTOCOLS:-kafka amqp mqtt}
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for proto in $protocols; do
  dir=$(mktemp -d)
  amqp=$(free_port) mqtt=$(free_port) kafka=$(free_port) http=$(free_port)
  # shellcheck disable=SC2086
  env ${BROKER_ENV:-} "$trident" serve --data-dir "$dir" \
    --amqp-listen 127.0.0.1:"$amqp" --mqtt-listen 127.0.0.1:"$mqtt" \
    --kafka-listen 127.0.0.1:"$kafka" --http-listen 127.0.0.1:"$http" \
    --set log=warn >"$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/"$kafka") 2>/dev/null && break
    sleep 0.1
  done
  sleep 2 # let start-up allocations settle before the baseline
  label="${BROKER_ENV:-default}"
  case $proto in
    kafka) "$load" kafka-idle --addr 127.0.0.1:"$kafka" --connections "$n" --sources 4 \
             --broker-pid "$pid" --label "$label" ;;
    amqp)  "$load" amqp-idle --addr 127.0.0.1:"$amqp" --connections "$n" \
             --broker-pid "$pid" --label "$label" ;;
    mqtt)  "$load" mqtt-idle --addr 127.0.0.1:"$mqtt" --connections "$n" \
             --broker-pid "$pid" --label "$label" ;;
  esac | tee -a "$out"
  kill "$pid"
  wait "$pid" || true
  rm -rf "$dir" "$dir.log"
done
