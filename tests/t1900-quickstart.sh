#!/bin/sh
# The quickstart at a small scale: the whole protocol runs, training
# improves the model, and the same seed gives the byte-identical report.
. "$(dirname "$0")/lib.sh"

Q=$SRC_DIR/examples/quickstart/quickstart.sh
export DEVICES=12 ROUNDS=2 MIN_DEVICES=4 LIMIT=12000 JOBS=2

test_expect_success 'the quickstart runs end to end' '
	WORK=q1 SEED=7 sh $Q >out1 2>err1 &&
	test_grep "round 2: test accuracy" out1 &&
	test -s q1/report.json && test -s q1/report/report.md &&
	test_grep "<svg" q1/report/report.svg
'
test_expect_success 'training improves test accuracy from round 1 to 2' '
	a1=$(sed "s/.*\"accuracy\":\([0-9.]*\).*/\1/" q1/metrics-1.json) &&
	a2=$(sed "s/.*\"accuracy\":\([0-9.]*\).*/\1/" q1/metrics-2.json) &&
	echo "$a1 -> $a2" &&
	awk "BEGIN { exit !($a2 > $a1 && $a1 > 0.3) }"
'
test_expect_success 'the training rounds ran with secure aggregation and dropouts' '
	for a in q1/train/round-*/fed?.agg; do
		test_grep "\"secagg\":{" $a || return 1
	done &&
	drops=$(cat q1/train/round-*/fed?/dropouts | wc -l) &&
	test "$drops" -ge 4 &&
	! grep -l "\"type\":\"dml.result\"" q1/train/round-0/fed1/request q1/train/round-0/fed1/aggregate
'
test_expect_success 'the predict job went through the marketplace, the auction and the distributing node' '
	test_grep "\"license\":{\"id\":\"bafkrei" q1/predict-job.json &&
	dml-market verify -L q1/ledger.ndjson --license q1/license.json --job q1/predict-job.json &&
	pj=$(dml-job --id q1/predict-job.json) &&
	test $(wc -l <q1/slots.ndjson) = 3 &&
	sed -n 2p q1/slots.ndjson | test_grep "\"job\":\"$pj\"" - &&
	assigned=$(cat q1/half1 q1/half2 | wc -l) &&
	test "$assigned" = $(ls q1/predict/fed?/*.sealed | wc -l) &&
	test "$assigned" -lt 12 &&
	test $(grep -c "\"type\":\"dml.assignment\"" q1/assigned/fed1.ndjson) = $(wc -l <q1/half1) &&
	dml-ledger -L q1/ledger.ndjson balance q1/developer.pub >dev.bal &&
	fee=$(grep -o "\"developer\":\"[0-9]*\"" q1/payouts.json | head -1 | tr -dc 0-9) &&
	test_grep "\"amount\":\"$((fee + 1000))\"" dev.bal
'
test_expect_success 'the report counts the devices that ran and no more' '
	ran=$(ls q1/predict/fed?/*.sealed | wc -l) &&
	test_grep "\"devices\":$ran," q1/report.json &&
	test_grep "\"task\":\"predict\"" q1/report.json
'
test_expect_success 'the report was stored by CID and the customer decrypted it' '
	cid=$(sed "s/.*\"cid\":\"\([a-z2-7]*\)\".*/\1/" q1/report.stored) &&
	dml-ipfs-put -n q1/report.sealed | test_grep "\"cid\":\"$cid\"" - &&
	cmp q1/report.sealed q1/fetched.sealed &&
	test_grep "\"content\":\"dml.report\"" q1/report.sealed &&
	test_grep "\"distribution\":" q1/report.json
'
test_expect_success 'settlement paid every contributing device once and verifies' '
	dml-ledger -L q1/ledger.ndjson verify >v.json &&
	test_grep "\"type\":\"dml.verified\"" v.json &&
	ran=$(ls q1/predict/fed?/*.sealed | wc -l) &&
	test_grep "\"device\":\"$((ran * 100))\"" q1/payouts.json &&
	test_must_fail dml-settle -L q1/ledger.ndjson -k q1/report.key \
		--job q1/predict-job.json --stored q1/report.stored \
		--contributions q1/contributions.json 2>err &&
	test_grep "already settled" err
'
test_expect_success 'the same seed gives the byte-identical report' '
	WORK=q2 SEED=7 sh $Q >out2 2>err2 &&
	cmp q1/report.json q2/report.json &&
	cmp q1/model-2.json q2/model-2.json
'
test_expect_success 'another seed gives another report' '
	WORK=q3 SEED=8 sh $Q >out3 2>err3 &&
	! cmp -s q1/report.json q3/report.json
'
test_done
