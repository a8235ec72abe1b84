#!/usr/bin/env bash
# Runs the AMQP, MQTT and Kafka benchmark matrix against Trident and the peers, back to
# back, the same client and settings on both sides, alternating the broker on every run.
#
#   TRIDENT_PID=... PEER_PID=... tools/loadgen/bench.sh amqp|mqtt|kafka|streams|mem|mqtt-mem|all [results.jsonl]
#
# MQTT: Trident on 127.0.0.1:1883, Mosquitto on :31883 (start-peers.sh mosquitto).
# MQTT_BROKERS="mosquitto" measures one broker alone; MQTT_PROTOCOL=5 runs the matrix in
# MQTT 5.0 instead of 3.1.1. TRIDENT_MQTT moves Trident off :1883 (docs/benchmarks.md
# used 127.0.0.1:50883).
#
# Needs: Trident on 127.0.0.1:5672 (AMQP) and :9092 (Kafka), RabbitMQ on :35672 and the
# Kafka-protocol peer on :39092 (../shared/tools/peers/start-peers.sh rabbitmq tansu).
# Every scenario prints one JSON line; this script tags each line with the run number and
# the load average and appends it to the results file. REPS (default 3) repetitions.
set -euo pipefail

what=${1:-all}
out=${2:-/tmp/trident-bench-results.jsonl}
reps=${REPS:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin=${TRIDENT_LOAD:-$here/../../target/release/trident-load}

TRIDENT_AMQP=${TRIDENT_AMQP:-127.0.0.1:5672}
PEER_AMQP=${PEER_AMQP:-127.0.0.1:35672}
TRIDENT_MQTT=${TRIDENT_MQTT:-127.0.0.1:1883}
PEER_MQTT=${PEER_MQTT:-127.0.0.1:31883}
MQTT_BROKERS=${MQTT_BROKERS:-trident mosquitto}
MQTT_PROTOCOL=${MQTT_PROTOCOL:-311}
TRIDENT_KAFKA=${TRIDENT_KAFKA:-127.0.0.1:9092}
PEER_KAFKA=${PEER_KAFKA:-127.0.0.1:39092}

run() { # name broker-label args...
  local name=$1 label=$2
  shift 2
  local line
  echo "+ $bin $*" >&2
  if line=$("$bin" "$@" 2>/tmp/trident-bench-stderr); then :; else
    echo "  (exit $?: $(tail -3 /tmp/trident-bench-stderr | tr '\n' ' '))" >&2
  fi
  local json human
  json=$(printf '%s\n' "$line" | grep '^{' | head -1 || true)
  human=$(printf '%s\n' "$line" | grep -v '^{' | head -1 || true)
  echo "  $human" >&2
  if [ -n "$json" ]; then
    printf '{"bench":"%s","broker":"%s","rep":%s,"loadavg":"%s","result":%s}\n' \
      "$name" "$label" "$rep" "$(cut -d' ' -f1-3 /proc/loadavg)" "$json" >>"$out"
  fi
}

amqp_pair() { # name args...
  local name=$1
  shift
  run "$name" trident amqp --addr "$TRIDENT_AMQP" --label trident "$@"
  run "$name" rabbitmq amqp --addr "$PEER_AMQP" --label rabbitmq "$@"
}

amqp() {
  local common=(--size 1024 --producers 1 --consumers 1 --prefetch 256 --warmup 2 --duration 10)
  amqp_pair amqp-transient "${common[@]}"
  amqp_pair amqp-persistent-confirms "${common[@]}" --persistent --confirm --confirm-window 256
  amqp_pair amqp-transient-multiack "${common[@]}" --ack-every 64
  amqp_pair amqp-persistent-confirms-multiack "${common[@]}" --persistent --confirm --ack-every 64
  amqp_pair amqp-transient-rate10k "${common[@]}" --rate 10000
  amqp_pair amqp-transient-rate30k "${common[@]}" --rate 30000
  amqp_pair amqp-persistent-confirms-rate10k "${common[@]}" --persistent --confirm --rate 10000
  amqp_pair amqp-persistent-confirms-rate15k "${common[@]}" --persistent --confirm --rate 15000
}

# Broker RSS with 10k idle connections; needs the brokers' process ids.
mem() {
  run amqp-idle-10k trident amqp-idle --addr "$TRIDENT_AMQP" --label trident --connections 10000 \
    --settle 10 ${TRIDENT_PID:+--broker-pid "$TRIDENT_PID"}
  run amqp-idle-10k rabbitmq amqp-idle --addr "$PEER_AMQP" --label rabbitmq --connections 10000 \
    --settle 10 ${PEER_PID:+--broker-pid "$PEER_PID"}
}

mqtt_pair() { # name args...
  local name=$1 b addr
  shift
  for b in $MQTT_BROKERS; do
    if [ "$b" = trident ]; then addr=$TRIDENT_MQTT; else addr=$PEER_MQTT; fi
    run "$name" "$b" mqtt --addr "$addr" --label "$b" --protocol "$MQTT_PROTOCOL" "$@"
  done
}

# Fan-in (4 publishers -> 1 subscriber) and fan-out (1 -> 50), QoS 0/1/2, 128-byte
# payloads, at saturation and at a fixed rate; every run counts lost and duplicated.
mqtt() {
  local common=(--size 128 --warmup 2 --duration 10 --inflight 100)
  local q
  for q in 0 1 2; do
    mqtt_pair "mqtt-fanin-q$q" "${common[@]}" --qos "$q" --publishers 4 --subscribers 1
    mqtt_pair "mqtt-fanin-q$q-rate4k" "${common[@]}" --qos "$q" --publishers 4 --subscribers 1 --rate 4000
    mqtt_pair "mqtt-fanout-q$q" "${common[@]}" --qos "$q" --publishers 1 --subscribers 50
    mqtt_pair "mqtt-fanout-q$q-rate200" "${common[@]}" --qos "$q" --publishers 1 --subscribers 50 --rate 200
  done
}

# Broker RSS with 10k idle MQTT connections from 4 source addresses (50k cannot be
# opened here: the hard descriptor limit is 20000 per process). Read it on a freshly
# started broker: an allocator that already grew keeps its RSS and hides the cost.
mqtt_mem() {
  local b
  for b in $MQTT_BROKERS; do
    if [ "$b" = trident ]; then
      run mqtt-idle-10k trident mqtt-idle --addr "$TRIDENT_MQTT" --label trident --connections 10000 \
        --sources 4 --settle 10 ${TRIDENT_PID:+--broker-pid "$TRIDENT_PID"}
    else
      run mqtt-idle-10k "$b" mqtt-idle --addr "$PEER_MQTT" --label "$b" --connections 10000 \
        --sources 4 --settle 10 ${MQTT_PEER_PID:+--broker-pid "$MQTT_PEER_PID"}
    fi
  done
}

# A Kafka consumer reading a stream queue (filled over AMQP with confirmed persistent
# publishes, one record per message) and reading a Kafka-made topic (filled by a Kafka
# producer, many records per batch), same size and count, in the same run. Trident only.
streams() {
  local count=${STREAM_COUNT:-500000} s t
  s="bench-stream-$rep-$$"
  t="bench-topic-$rep-$$"
  run stream-fill trident stream-fill --addr "$TRIDENT_AMQP" --label trident --stream "$s" \
    --size 100 --count "$count"
  run stream-topic-produce trident kafka-produce --bootstrap "$TRIDENT_KAFKA" --label trident \
    --topic "$t" --size 100 --count "$count" --acks 1
  run stream-consume-stream-queue trident kafka-consume --bootstrap "$TRIDENT_KAFKA" \
    --label trident --topic "$s" --count "$count" --delete-topic
  run stream-consume-kafka-topic trident kafka-consume --bootstrap "$TRIDENT_KAFKA" \
    --label trident --topic "$t" --count "$count" --delete-topic
}

kafka_pair() { # name size count acks
  local name=$1 size=$2 count=$3 acks=$4 t
  for b in trident:$TRIDENT_KAFKA peer:$PEER_KAFKA; do
    t="bench-$name-$rep-$$"
    run "$name-produce" "${b%%:*}" kafka-produce --bootstrap "${b#*:}" --label "${b%%:*}" \
      --topic "$t" --size "$size" --count "$count" --acks "$acks"
    run "$name-consume" "${b%%:*}" kafka-consume --bootstrap "${b#*:}" --label "${b%%:*}" \
      --topic "$t" --count "$count" --delete-topic
  done
}

kafka() {
  kafka_pair k100-acks1 100 5000000 1
  kafka_pair k100-acksall 100 5000000 all
  kafka_pair k1k-acks1 1024 1000000 1
  kafka_pair k1k-acksall 1024 1000000 all
  for b in trident:$TRIDENT_KAFKA peer:$PEER_KAFKA; do
    run k100-e2e-10k-acks1 "${b%%:*}" kafka-e2e --bootstrap "${b#*:}" --label "${b%%:*}" \
      --topic "bench-e2e1-$rep-$$" --size 100 --rate 10000 --acks 1 --warmup 2 --duration 10
    run k100-e2e-10k-acks1-fetchwait10 "${b%%:*}" kafka-e2e --bootstrap "${b#*:}" --label "${b%%:*}" \
      --topic "bench-e2e2-$rep-$$" --size 100 --rate 10000 --acks 1 --warmup 2 --duration 10 \
      --set fetch.wait.max.ms=10
    run k100-e2e-10k-acksall-fetchwait10 "${b%%:*}" kafka-e2e --bootstrap "${b#*:}" --label "${b%%:*}" \
      --topic "bench-e2e3-$rep-$$" --size 100 --rate 10000 --acks all --warmup 2 --duration 10 \
      --set fetch.wait.max.ms=10
  done
}

for rep in $(seq 1 "$reps"); do
  case $what in
    amqp) amqp ;;
    streams) streams ;;
    mqtt) mqtt ;;
    mqtt-mem) mqtt_mem ;;
    kafka) kafka ;;
    mem) mem ;;
    all) amqp; mqtt; kafka; mem; mqtt_mem ;;
    *) echo "usage: $0 amqp|mqtt|kafka|streams|mem|mqtt-mem|all [results.jsonl]" >&2; exit 2 ;;
  esac
done
echo "results appended to $out" >&2
