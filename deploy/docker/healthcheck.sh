#!/bin/sh
# Docker HEALTHCHECK of the PulseStream image: asks the daemon running in this container for
# /healthz (the gateway on $PORT, default 3000; the consumer on $CONSUMER_PORT, default 3001).
# A container running a one-shot tool has no daemon and reports healthy.
set -eu
role=""
for comm in /proc/[0-9]*/comm; do
    name=$(cat "$comm" 2>/dev/null || true)
    case "$name" in
        pulsestream-gat*) role=gateway; break ;;   # comm is cut to 15 characters
        pulsestream-con*) role=consumer; break ;;
    esac
done
case "$role" in
    gateway)  port=${PORT:-3000} ;;
    consumer) port=${CONSUMER_PORT:-3001} ;;
    *)        exit 0 ;;
esac
exec curl --fail --silent --show-error --max-time 2 --output /dev/null "http://127.0.0.1:${port}/healthz"
