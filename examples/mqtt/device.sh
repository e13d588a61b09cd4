#!/bin/sh
# device.sh HOST PORT JOBID FILE: a device publishes its encrypted, signed
# results (the lines of FILE: dml-run | dml-encrypt output) to the broker,
# one MQTT message per line, on topic dml/JOBID/results, QoS 1.
set -eu
[ $# -eq 4 ] || { echo "usage: device.sh HOST PORT JOBID FILE" >&2; exit 2; }
exec mosquitto_pub -h "$1" -p "$2" -q 1 -t "dml/$3/results" -l <"$4"
