#!/bin/sh
# dml-settle: a job's contract executed on the ledger: exact payouts, once,
# bad inputs refused, and 8 concurrent settles of one job.
. "$(dirname "$0")/lib.sh"
unset DML_ETH_RPC DML_ETH_ESCROW	# the ledger, not a chain

SIGN=$SRC_DIR/tests/helpers/rec-sign
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
for k in auth cust rep fed1 fed2 devel eve; do dml-keygen -o $k.key >$k.pub; done
REP=$(hex rep.pub) FED1=$(hex fed1.pub) FED2=$(hex fed2.pub)
DEVEL=$(hex devel.pub) CUST=$(hex cust.pub)
DML_LEDGER=$TRASH/ledger.nd
export DML_LEDGER
L=$DML_LEDGER

# contrib JOB NDEVICES [FIRST]: an unsigned dml.contributions record with
# devices FIRST.., the report node, two federated nodes and the developer
contrib() {
	awk -v job="$1" -v n="$2" -v first="${3:-1}" -v rep="$REP" \
	    -v f1="$FED1" -v f2="$FED2" -v dev="$DEVEL" 'BEGIN {
		printf "{\"type\":\"dml.contributions\",\"v\":1,\"job\":\"%s\",", job
		printf "\"devices\":["
		for (i = 0; i < n; i++)
			printf "%s\"%064x\"", (i ? "," : ""), first + i
		printf "],\"nodes\":{\"report\":\"%s\",\"federated\":[", rep
		printf "{\"key\":\"%s\",\"devices\":%d},", f1, n - int(n / 3)
		printf "{\"key\":\"%s\",\"devices\":%d}]},", f2, int(n / 3)
		printf "\"developer\":\"%s\"}\n", dev
	}'
}
. "$SRC_DIR/tests/lib-job.sh"	# job NAME BUDGET [DEADLINE]
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json

dml-ledger --time 2026-01-01T00:00:00Z genesis -k auth.key --supply 10000000 \
	--growth-pool 0 --bounty-pool 0 --alloc cust.pub=1000000 >/dev/null
job j1 1000
dml-ledger escrow -k cust.key --job j1.json --time 2026-01-01T00:01:00Z >/dev/null
job j2 1000
dml-ledger escrow -k cust.key --job j2.json --time 2026-01-01T00:02:00Z >/dev/null
job j3 300
dml-ledger escrow -k cust.key --job j3.json --time 2026-01-01T00:03:00Z >/dev/null
contrib $j1 5 | $SIGN rep.key >c1.json
S="--stored stored.json --time 2026-01-01T12:00:00Z"

test_expect_success 'help and usage errors' '
	dml-settle --help | test_grep "usage: dml-settle" - &&
	test_expect_code 2 dml-settle -k rep.key --job j1.json 2>err &&
	test_grep "required" err &&
	test_expect_code 2 dml-settle -k rep.key --job j1.json $S \
		--contributions c1.json --time soon 2>err &&
	test_grep "^dml-settle: --time: .soon. is not an RFC 3339" err &&
	test_expect_code 2 dml-settle --payouts x 2>err &&
	test_grep "^dml-settle: --payouts: not an option of this command" err &&
	test_expect_code 2 dml-settle claim -L x 2>err &&
	test_grep "^dml-settle: claim: --ledger: not an option of this command" err &&
	test_expect_code 2 dml-settle -P book.nd -j j1.json $S \
		--contributions c1.json 2>err &&
	test_grep "^dml-settle: chain options need --rpc URL" err &&
	test_expect_code 2 dml-settle status -j j1.json 2>err &&
	test_grep "^dml-settle: status: needs --rpc URL (or \$DML_ETH_RPC)" err &&
	test_expect_code 2 dml-settle frob 2>err &&
	test_grep "^dml-settle: unexpected argument .frob." err
'
test_expect_success 'the old spellings -s and -c still work, with a warning' '
	dml-settle -n -j j1.json -s stored.json -c c1.json >out 2>err &&
	test_grep "^dml-settle: warning: -s is an old spelling of --stored" err &&
	test_grep "^dml-settle: warning: -c is an old spelling of --contributions" err &&
	test_grep "\"type\":\"dml.payouts\"" out
'
test_expect_success 'a dry run prints the payouts and appends nothing' '
	cp $L before &&
	dml-settle --dry-run --job j1.json $S --contributions c1.json >dry &&
	test $(wc -l <dry) = 1 && cmp before $L &&
	test_grep "\"type\":\"dml.payouts\"" dry &&
	dml-settle -n -j j1.json $S --contributions c1.json -o dry.out >out &&
	test_empty out && test_cmp dry dry.out
'
test_expect_success 'settle: fees, federated by devices, per device, the rest back (the key from $DML_KEY)' '
	DML_KEY=fed1.key dml-settle -j j1.json $S --contributions c1.json >out &&
	test $(wc -l <out) = 2 && head -1 out | cmp - dry &&
	test_grep "\"paid\":\"200\",\"payouts\":" out &&
	test_grep "\"refund\":\"800\"" out &&
	test_grep "\"escrow\":\"1000\"" out &&
	test_grep "\"totals\":{\"developer\":\"100\",\"device\":\"50\",\"distributing\":\"0\",\"federated\":\"30\",\"refining\":\"0\",\"report\":\"20\",\"trainer\":\"0\"}" out &&
	test_grep "{\"amount\":\"10\",\"role\":\"device\",\"to\":\"0000000000000000000000000000000000000000000000000000000000000005\"}" out &&
	test_grep "{\"amount\":\"24\",\"role\":\"federated\",\"to\":\"$FED1\"}" out &&
	test_grep "{\"amount\":\"6\",\"role\":\"federated\",\"to\":\"$FED2\"}" out &&
	tail -1 out | test_grep "\"op\":\"settle\",\"seq\":4" - &&
	dml-ledger balance devel.pub | test_grep "\"amount\":\"100\"" - &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"998500\"" - &&
	dml-ledger balance escrow:$j1 | test_grep "\"amount\":\"0\"" - &&
	dml-ledger verify >/dev/null
'
test_expect_success 'the settle entry: job, report CID, contributions CID, sorted payouts' '
	tail -1 $L >entry &&
	test_grep "\"contributions\":\"bafkrei" entry &&
	test_grep "\"customer\":\"$CUST\"" entry &&
	test_grep "\"report\":\"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\"" entry &&
	sed -n "s/.*\"payouts\":\(\[[^]]*\]\).*/\1/p" entry >p1 &&
	sed -n "s/.*\"payouts\":\(\[[^]]*\]\).*/\1/p" dry >p2 && test_cmp p2 p1
'
test_expect_success 'a job settles once: the second attempt exits 1, changes nothing' '
	cp $L before &&
	test_must_fail dml-settle -k rep.key --job j1.json $S \
		--contributions c1.json >out 2>err &&
	test_grep "already settled" err && test_empty out && cmp before $L &&
	test_must_fail dml-ledger refund -k cust.key --job j1.json \
		--time 2026-01-03T00:00:00Z 2>err && test_grep "settled" err
'
test_expect_success 'contributions for another job, forged or tampered are refused' '
	cp $L before &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c1.json 2>err &&
	test_grep "c1.json:1: the contributions are for job $j1" err &&
	contrib $j2 5 | $SIGN eve.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err &&
	test_grep "not by the report node" err &&
	contrib $j2 5 | $SIGN rep.key | sed "s/0000000005\"/0000000006\"/" >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err && test_grep "bad signature" err &&
	cmp before $L
'
test_expect_success 'duplicate devices, bad keys and wrong types are refused' '
	contrib $j2 3 | sed "s/0000000002\"/0000000001\"/" | $SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err && test_grep "appears twice" err &&
	contrib $j2 3 | sed "s/0000000002\"/000000000G\"/" | $SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err &&
	test_grep "c2.json:1: \"devices\"\[1\] is not a public key" err &&
	contrib $j2 3 | sed "s/\"devices\":\[/\"devices\":{\"x\":[/; s/\],\"nodes\"/]},\"nodes\"/" |
		$SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err &&
	test_grep "field \"devices\" must be an array" err
'
test_expect_success 'malformed, empty and missing inputs' '
	echo "{\"type\":" >bad.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions bad.json 2>err && test_grep "bad.json:1: malformed JSON" err &&
	: >empty.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions empty.json 2>err && test_grep "empty" err &&
	test_expect_code 2 dml-settle -k rep.key --job j2.json $S \
		--contributions nosuch.json 2>err && test_grep "nosuch.json" err &&
	echo "{\"type\":\"dml.stored\",\"v\":1,\"size\":3}" >st.json &&
	contrib $j2 5 | $SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json --stored st.json \
		--contributions c2.json 2>err && test_grep "missing field \"cid\"" err &&
	sed "s/\"budget\":\"1000\"/\"budget\":\"9000\"/" j2.json >jt.json &&
	test_must_fail dml-settle -k rep.key --job jt.json $S \
		--contributions c2.json 2>err && test_grep "bad signature" err
'
test_expect_success 'too few devices for the job: no settle' '
	contrib $j2 2 | $SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json $S \
		--contributions c2.json 2>err && test_grep "at least 3" err
'
test_expect_success 'a short escrow pays fees first, then devices pro rata' '
	contrib $j3 40 | $SIGN rep.key >c3.json &&
	dml-settle -k rep.key --job j3.json --stored stored.json \
		--time 2026-01-01T12:03:00Z --contributions c3.json >out &&
	test_grep "\"device\":\"120\"" out &&
	test_grep "{\"amount\":\"3\",\"role\":\"device\"" out &&
	test_grep "\"paid\":\"269\"" out && test_grep "\"refund\":\"31\"" out
'
test_expect_success 'no escrow, or refunded: no settle' '
	job j4 500 &&
	contrib $j4 5 | $SIGN rep.key >c4.json &&
	test_must_fail dml-settle -k rep.key --job j4.json $S \
		--contributions c4.json 2>err && test_grep "has no escrow" err &&
	dml-ledger escrow -k cust.key --job j4.json --time 2026-01-01T12:04:00Z >/dev/null &&
	dml-ledger refund -k cust.key --job j4.json --time 2026-01-02T00:00:00Z >/dev/null &&
	test_must_fail dml-settle -k rep.key --job j4.json \
		--stored stored.json --contributions c4.json 2>err &&
	test_grep "already refunded" err
'
test_expect_success 'a settle may not go back in time' '
	contrib $j2 5 | $SIGN rep.key >c2.json &&
	test_must_fail dml-settle -k rep.key --job j2.json --stored stored.json \
		--contributions c2.json --time 2026-01-01T00:30:00Z 2>err &&
	test_grep "before the previous entry" err
'
cat >model.json <<'M'
{"act":"relu","arch":"mlp","layers":[4,3],"params":{"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","dtype":"f32","shape":[15]},"type":"dml.model","v":1}
M
test_expect_success 'the developer the job names is paid, not the one the contributions name' '
	dml-job -k cust.key -t predict --data toy -m model.json --min-devices 3 \
		--budget 500 --per-device 10 --developer-fee 100 \
		--developer eve.pub --trainer-pool 60 --created 2026-01-01T00:00:00Z \
		--deadline 2027-01-01T00:00:00Z --nonce p1 -o p1.json &&
	p1=$(dml-job --id p1.json) &&
	dml-ledger escrow -k cust.key --job p1.json --time 2026-01-02T00:00:30Z >/dev/null &&
	contrib $p1 3 | sed "s/}\$/,\"trainers\":[{\"key\":\"$REP\",\"weight\":1},{\"key\":\"$FED1\",\"weight\":2}]}/" |
		$SIGN rep.key >p1c.json &&
	dml-settle -k rep.key --job p1.json --stored stored.json \
		--contributions p1c.json --time 2026-01-02T00:00:40Z >out &&
	test_grep "{\"amount\":\"100\",\"role\":\"developer\",\"to\":\"$(hex eve.pub)\"}" out &&
	! grep -q "\"role\":\"developer\",\"to\":\"$DEVEL\"" out &&
	test_grep "{\"amount\":\"20\",\"role\":\"trainer\",\"to\":\"$REP\"}" out &&
	test_grep "{\"amount\":\"40\",\"role\":\"trainer\",\"to\":\"$FED1\"}" out
'
test_expect_success '8 processes settle one job at once: exactly one succeeds' '
	job j5 100000 2027-01-01T00:00:00Z &&
	dml-ledger escrow -k cust.key --job j5.json --time 2026-01-02T00:01:00Z >/dev/null &&
	contrib $j5 3000 | $SIGN rep.key >c5.json &&
	cp $L before &&
	pids= &&
	for i in 1 2 3 4 5 6 7 8; do
		{ dml-settle -k rep.key --job j5.json --stored stored.json \
			--contributions c5.json --time 2026-01-02T00:02:0${i}Z \
			>out.$i 2>err.$i && echo 0 >rc.$i || echo $? >rc.$i; } &
		pids="$pids $!" || return 1
	done && test_wait $pids &&
	cat rc.* | sort | uniq -c >counts &&
	printf "      1 0\n      7 1\n" >exp && test_cmp exp counts &&
	test $(wc -l <$L) = $(($(wc -l <before) + 1)) &&
	head -c $(wc -c <before) $L | cmp - before &&
	test $(cat err.* | grep -c "already settled") = 7 &&
	test $(grep -c "\"op\":\"settle\",\"payouts\"" $L) = 4 &&
	dml-ledger verify >/dev/null
'
test_done
