#!/bin/bash
# InfluxDB 2.x init step (run once by the influxdb image after its first-run setup): make the bucket
# answer InfluxQL and v1 /write, which wifiwatch's dashboards and forwarder use on 1.x, 2.x and 3.x alike.
#   - a DBRP mapping: database $WIFIWATCH_INFLUX_DB, retention policy "autogen" -> the setup bucket
#   - v1 users: $INFLUX_USER may write and read the bucket, $GRAFANA_INFLUX_USER may only read it
# Passwords come from the environment (deploy/wifiwatch.env); nothing is echoed.
set -euo pipefail

bucket_id="$(influx bucket list --name "${DOCKER_INFLUXDB_INIT_BUCKET}" --hide-headers | cut -f1)"
if [ -z "${bucket_id}" ]; then
  echo "wifiwatch init: bucket ${DOCKER_INFLUXDB_INIT_BUCKET} not found" >&2
  exit 1
fi

influx v1 dbrp create --db "${WIFIWATCH_INFLUX_DB}" --rp autogen --bucket-id "${bucket_id}" --default

influx v1 auth create --username "${INFLUX_USER}" --password "${INFLUX_PASSWORD}" \
  --write-bucket "${bucket_id}" --read-bucket "${bucket_id}" --description "wifiwatch collector" >/dev/null
influx v1 auth create --username "${GRAFANA_INFLUX_USER}" --password "${GRAFANA_INFLUX_PASSWORD}" \
  --read-bucket "${bucket_id}" --description "Grafana (InfluxQL, read only)" >/dev/null

echo "wifiwatch init: DBRP ${WIFIWATCH_INFLUX_DB}/autogen -> bucket ${DOCKER_INFLUXDB_INIT_BUCKET}; v1 users created"
