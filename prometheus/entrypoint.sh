#!/bin/sh
# Entrypoint of the prometheus service in docker/compose.yaml (image prom/prometheus,
# busybox sh): writes the configuration from the environment, then becomes Prometheus
# with the remote-write receiver on. Arguments are passed on to Prometheus.
#
#   PROMETHEUS_CONFIG_FILE  where to write the configuration (default /etc/prometheus/prometheus.yml,
#                           writable by the image's user nobody)
#   PROMETHEUS_DATA_DIR     TSDB directory (default /prometheus, the image's volume)
#   PROMETHEUS_BIN          the binary (default /bin/prometheus); the tests point it at
#                           Debian's /usr/bin/prometheus to run this very script natively
# and the variables write-config.sh reads.
set -eu

config=${PROMETHEUS_CONFIG_FILE:-/etc/prometheus/prometheus.yml}
sh "$(dirname "$0")/write-config.sh" "$config"

exec "${PROMETHEUS_BIN:-/bin/prometheus}" \
  --config.file="$config" \
  --storage.tsdb.path="${PROMETHEUS_DATA_DIR:-/prometheus}" \
  --web.enable-remote-write-receiver \
  "$@"
