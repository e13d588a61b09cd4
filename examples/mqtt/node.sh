#!/bin/sh
# node.sh subscribe HOST PORT JOBID
#     register the federated node's persistent session (client id
#     dml-node-JOBID, QoS 1) so that results published from now on are
#     queued for it even before it reads; returns at once.
# node.sh aggregate HOST PORT JOBFILE KEY COUNT [SECONDS] [ARGS...]
#     read COUNT messages of topic dml/JOBID/results (or stop after SECONDS
#     without one, default 30) and sum them with dml-aggregate: results are
#     verified and deduplicated there, so a device that publishes twice or
#     a result of another round is rejected and counted (--keep-going),
#     exactly as when results arrive through a pipe or a file.
set -eu
cmd=${1:-}
[ $# -ge 4 ] || { echo "usage: node.sh subscribe|aggregate HOST PORT ..." >&2; exit 2; }
shift
host=$1 port=$2
shift 2
case $cmd in
subscribe)
	exec mosquitto_sub -h "$host" -p "$port" -q 1 -c -i "dml-node-$1" \
		-t "dml/$1/results" -E ;;
aggregate)
	[ $# -ge 3 ] || { echo "usage: node.sh aggregate HOST PORT JOBFILE KEY COUNT [SECONDS] [ARGS...]" >&2; exit 2; }
	job=$1 key=$2 count=$3
	shift 3
	wait=${1:-30}
	[ $# -eq 0 ] || shift
	id=$(dml-job --id "$job")
	# -W ends a node whose devices went quiet; dml-aggregate then sums
	# what came (and the report's min-devices rule decides)
	mosquitto_sub -h "$host" -p "$port" -q 1 -c -i "dml-node-$id" \
		-t "dml/$id/results" -C "$count" -W "$wait" |
	dml-aggregate -j "$job" -k "$key" --keep-going "$@" ;;
*)
	echo "node.sh: unknown command '$cmd'" >&2
	exit 2 ;;
esac
