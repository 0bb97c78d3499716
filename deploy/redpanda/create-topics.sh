#!/bin/bash
# One-shot topic set-up for the PulseStream compose stacks (runs in the Redpanda image, which
# ships rpk). Creates the event topic and the dead-letter topic if they do not exist; a topic
# that exists is left alone (its partition count is printed, never changed). Safe to run again.
#
# Environment:
#   REDPANDA_BROKERS   Kafka API of the cluster, comma-separated host:port (redpanda:9092)
#   KAFKA_TOPIC        event topic (metrics.raw), TOPIC_PARTITIONS partitions (8)
#   KAFKA_DLQ_TOPIC    dead-letter topic (metrics.dlq), DLQ_PARTITIONS partitions (1)
#   REPLICAS           replication factor of both (1; 3 on a 3-node cluster)
#   MIN_INSYNC_REPLICAS  when set, passed as min.insync.replicas (Kafka semantics; on Redpanda an
#                      acks=all write is acknowledged once a Raft majority has it: 2 of 3)
#   WAIT_SECONDS       how long to wait for the cluster to answer (120)
set -euo pipefail

brokers=${REDPANDA_BROKERS:-redpanda:9092}
topic=${KAFKA_TOPIC:-metrics.raw}
partitions=${TOPIC_PARTITIONS:-8}
dlq_topic=${KAFKA_DLQ_TOPIC:-metrics.dlq}
dlq_partitions=${DLQ_PARTITIONS:-1}
replicas=${REPLICAS:-1}
wait_seconds=${WAIT_SECONDS:-120}
rpk_opts=(-X "brokers=$brokers")

say() { echo "create-topics: $*" >&2; }

deadline=$((SECONDS + wait_seconds))
until rpk cluster info "${rpk_opts[@]}" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "the cluster at $brokers did not answer within ${wait_seconds}s"
        exit 1
    fi
    sleep 1
done

create() {
    local name=$1 count=$2
    if rpk topic describe "$name" "${rpk_opts[@]}" >/dev/null 2>&1; then
        say "$name exists: $(rpk topic describe "$name" -p "${rpk_opts[@]}" | tail -n +2 | wc -l) partitions, left as it is"
        return
    fi
    local config=()
    [ -n "${MIN_INSYNC_REPLICAS:-}" ] && config=(-c "min.insync.replicas=$MIN_INSYNC_REPLICAS")
    rpk topic create "$name" -p "$count" -r "$replicas" "${config[@]}" "${rpk_opts[@]}"
    say "$name created: $count partitions, replication $replicas"
}

create "$topic" "$partitions"
create "$dlq_topic" "$dlq_partitions"
rpk topic list "${rpk_opts[@]}"
