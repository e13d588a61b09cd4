#!/bin/sh
# examples/mqtt: 50 devices publish signed results through a mosquitto
# broker on loopback (mosquitto_pub -l, topic dml/JOB/results) and the
# federated node sums what mosquitto_sub reads with dml-aggregate: the same
# aggregate as from a file; a device that publishes twice and a late
# result of another round are rejected and counted. Skipped when mosquitto
# is not installed, unless DML_REQUIRE_REAL=1.
. "$(dirname "$0")/lib.sh"

EX=$SRC_DIR/examples/mqtt
PY=/usr/bin/python3
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] ||
	! command -v mosquitto_pub >/dev/null 2>&1; then
	if [ "${DML_REQUIRE_REAL:-0}" = 1 ]; then
		echo "not ok 1 - mosquitto is installed (DML_REQUIRE_REAL=1): apt-get install mosquitto mosquitto-clients"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
	exit 0
fi
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' $PORT >mosq.conf
"$MOSQ" -c mosq.conf >mosq.log 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null' EXIT
trap 'kill $broker 2>/dev/null; exit 1' HUP INT TERM
i=0
until mosquitto_pub -h 127.0.0.1 -p $PORT -t probe -m x 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] || { echo "not ok 1 - start mosquitto"; cat mosq.log; echo 1..1; exit 1; }
	sleep 0.1
done
ln -sf "$SRC_DIR/tests/helpers/mkresults" mkresults
N=50

test_expect_success 'setup: a job, 50 devices, a duplicate, a late result' '
	./mkresults job -o job --params 4 --min-samples 1 --max-delta 1e7 &&
	dml-keygen -o node.key >/dev/null &&
	./mkresults bench -j job -n $N --round 2 -o all &&
	./mkresults bench -j job -n 1 --first 7 --round 1 -o late &&
	split -l 1 -a 3 all dev. &&
	test $(ls dev.* | wc -l) = $N &&
	ID=$(dml-job --id job) && echo $ID >id
'
test_expect_success '50 devices publish, the node aggregates from the broker' '
	ID=$(cat id) &&
	"$EX/node.sh" subscribe 127.0.0.1 $PORT $ID &&
	pids= &&
	for f in dev.*; do
		"$EX/device.sh" 127.0.0.1 $PORT $ID $f & pids="$pids $!" || return 1
	done &&
	test_wait $pids &&
	"$EX/device.sh" 127.0.0.1 $PORT $ID dev.aab &&
	"$EX/device.sh" 127.0.0.1 $PORT $ID late &&
	"$EX/node.sh" aggregate 127.0.0.1 $PORT job node.key $((N + 2)) 20 \
		--round 2 >mqtt.agg 2>err &&
	test_grep "\"type\":\"dml.aggregate\"" mqtt.agg &&
	test_grep "\"devices\":$N," mqtt.agg &&
	test "$(jq -c .rejected mqtt.agg)" = "{\"duplicate\":1,\"forged\":0,\"invalid\":0,\"malformed\":0,\"replay\":1,\"wrong_job\":0}" &&
	dml-aggregate -j job -k node.key --round 2 all >file.agg &&
	test "$(jq -c .sum mqtt.agg)" = "$(jq -c .sum file.agg)"
'
test_done
