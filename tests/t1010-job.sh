#!/bin/sh
# dml-job: composing, signing and identifying jobs.
. "$(dirname "$0")/lib.sh"

cat >model.json <<'M'
{"act":"relu","arch":"mlp","layers":[4,3],"params":{"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","dtype":"f32","shape":[15]},"type":"dml.model","v":1}
M
dml-keygen -o c.key >c.pub
dml-keygen -o d.key >d.pub
JOB="-k c.key -t predict --data toy -m model.json --budget 1000 --per-device 10 --developer-fee 100 --node-fee 10 --created 2026-01-01T00:00:00Z --nonce n1"

test_expect_success 'help and usage errors' '
	dml-job --help | test_grep "usage: dml-job" - &&
	test_expect_code 2 dml-job -t predict 2>err && test_grep "required" err &&
	test_expect_code 2 dml-job -k c.key -t guess --data toy 2>err &&
	test_grep "unknown task" err
'
test_expect_success 'a job is signed by its customer and names the model by CID' '
	dml-job $JOB -c "region in eu,na" -c "ram_gb >= 4" -o job.json &&
	test_grep "\"type\":\"dml.job\"" job.json &&
	test_grep "\"model\":\"bafkrei" job.json &&
	test_grep "\"params\":15" job.json &&
	test_grep "{\"attr\":\"region\",\"op\":\"in\",\"value\":\\[\"eu\",\"na\"\\]}" job.json &&
	test_grep "{\"attr\":\"ram_gb\",\"op\":\"ge\",\"value\":4}" job.json &&
	test $(wc -l <job.json) = 1
'
test_expect_success 'the id is the CID of the job line' '
	dml-job --id job.json >id &&
	test_grep "^bafkrei[a-z2-7]*$" id
'
test_expect_success 'same inputs give the same job and id; another nonce another id' '
	dml-job $JOB -c "region in eu,na" -c "ram_gb >= 4" >job2.json &&
	cmp job.json job2.json &&
	dml-job $JOB --nonce n2 >job3.json &&
	dml-job --id job3.json >id3 && ! cmp -s id id3
'
test_expect_success 'a tampered job is refused' '
	sed "s/\"min_devices\":10/\"min_devices\":1/" job.json >t.json &&
	test_must_fail dml-job --id t.json 2>err && test_grep "t.json:1: bad signature" err
'
test_expect_success 'a job signed by someone other than its customer is refused' '
	tests_helper=$SRC_DIR/tests/helpers/rec-sign &&
	$tests_helper d.key job.json >other.json &&
	test_must_fail dml-job --id other.json 2>err &&
	test_grep "not signed by its customer" err
'
test_expect_success 'the budget must cover the fees and min devices' '
	test_expect_code 2 dml-job -k c.key -t predict --data toy -m model.json \
		--budget 100 --per-device 10 --min-devices 11 2>err &&
	test_grep "does not cover" err
'
test_expect_success 'amounts must be decimal strings of digits' '
	test_expect_code 2 dml-job $JOB --budget 1e5 2>err &&
	test_expect_code 2 dml-job $JOB --per-device -3 2>err
'
test_expect_success 'bad criteria are usage errors' '
	test_expect_code 2 dml-job $JOB -c "region" 2>err &&
	test_expect_code 2 dml-job $JOB -c "region ~ eu" 2>err
'
test_expect_success 'a stats job needs features and classes' '
	test_expect_code 2 dml-job -k c.key -t stats --data toy 2>err &&
	dml-job -k c.key -t stats --data toy --features 4 --classes 3 >s.json &&
	test_grep "\"stats\":{\"classes\":3,\"features\":4}" s.json
'
test_expect_success 'bad job files: malformed, truncated, empty, missing, wrong type' '
	echo "{\"type\":" >m.json && test_must_fail dml-job --id m.json 2>err &&
	test_grep "m.json:1: malformed JSON" err &&
	printf "%s" "$(cat job.json)" >tr.json && test_must_fail dml-job --id tr.json 2>err &&
	test_grep "tr.json:1: truncated" err &&
	: >e.json && test_must_fail dml-job --id e.json 2>err && test_grep "empty" err &&
	test_expect_code 2 dml-job --id nosuch.json 2>err && test_grep "nosuch.json" err &&
	sed "s/\"dml.job\"/\"dml.jab\"/" job.json >w.json &&
	test_must_fail dml-job --id w.json 2>err && test_grep "expected a dml.job" err
'
test_expect_success 'wrong field types and missing fields are named' '
	sed "s/\"min_devices\":10/\"min_devices\":\"10\"/" job.json >ty.json &&
	test_must_fail dml-job --id ty.json 2>err &&
	test_grep "ty.json:1: field \"min_devices\" must be an integer" err &&
	sed "s/\"rounds\":1,//" job.json >mi.json &&
	test_must_fail dml-job --id mi.json 2>err &&
	test_grep "missing field \"rounds\"" err
'
test_expect_success 'a bad signature encoding is refused' '
	sed "s/\"sig\":\"[^\"]*\"/\"sig\":\"@@@\"/" job.json >bs.json &&
	test_must_fail dml-job --id bs.json 2>err && test_grep "not a base64" err
'
test_expect_success 'a missing model, license or key file is a system error (exit 2)' '
	test_expect_code 2 dml-job -k c.key -t predict --data toy -m nosuch.json >out 2>err &&
	test_grep "^dml-job: nosuch.json: No such file" err && test_empty out &&
	test_expect_code 2 dml-job $JOB --license nosuch.lic >out 2>err &&
	test_grep "^dml-job: nosuch.lic: No such file" err && test_empty out &&
	test_expect_code 2 dml-job $JOB -k nosuch.key >out 2>err &&
	test_grep "^dml-job: nosuch.key: No such file" err && test_empty out
'
test_expect_success 'a model file that is not a model is refused' '
	echo "{\"type\":\"dml.job\",\"v\":1}" >notmodel.json &&
	test_must_fail dml-job -k c.key -t predict --data toy -m notmodel.json 2>err &&
	test_grep "expected a dml.model" err
'
test_expect_success 'a developer key and a trainer pool are recorded and budgeted' '
	dml-keygen -o dev.key >dev.pub &&
	dk=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" dev.pub) &&
	dml-job $JOB --developer dev.pub --trainer-pool 50 >jd.json &&
	test_grep "\"developer\":\"$dk\"" jd.json &&
	test_grep "\"trainer_pool\":\"50\"" jd.json &&
	dml-job --id jd.json >/dev/null &&
	test_expect_code 2 dml-job $JOB --trainer-pool 1000 2>err &&
	test_grep "does not cover" err &&
	test_expect_code 2 dml-job $JOB --developer nosuch 2>err
'
test_expect_success 'a cnn job counts the cnn parameters' '
	dml-refine --init 784,10 --arch cnn --seed 1 -o cnn.json &&
	dml-job -k c.key -t train --data toy -m cnn.json --min-devices 1 >cj.json &&
	test_grep "\"arch\":\"cnn\",\"layers\":\[784,10\],\"model\":\"baf[a-z2-7]*\",\"params\":44426" cj.json &&
	dml-job --id cj.json >/dev/null &&
	sed "s/\"params\":44426/\"params\":7850/" cj.json | $SRC_DIR/tests/helpers/rec-sign c.key >bad.json &&
	test_must_fail dml-job --id bad.json 2>err && test_grep "44426 parameters" err
'
test_expect_success 'a date that does not exist is refused, as dml-ledger refuses it (exit 2)' '
	test_expect_code 2 dml-job $JOB --deadline 2026-02-30T00:00:00Z -o feb.json >out 2>err &&
	test_grep "^dml-job: --deadline: \"2026-02-30T00:00:00Z\" is not a valid time" err &&
	test_empty out && ! test -e feb.json &&
	test_expect_code 2 dml-job $JOB --created 2026-13-01T00:00:00Z 2>err &&
	test_grep "^dml-job: --created: \"2026-13-01T00:00:00Z\" is not" err &&
	test_expect_code 2 dml-job $JOB --deadline 2026-3-1T0:0:0Z 2>err &&
	test_grep "^dml-job: --deadline: \"2026-3-1T0:0:0Z\" is not an RFC 3339 UTC time" err &&
	dml-job $JOB --deadline 2026-02-28T00:00:00Z >ok.json &&
	test_grep "\"deadline\":\"2026-02-28T00:00:00Z\"" ok.json &&
	test_expect_code 2 dml-job $JOB --deadline 2025-12-31T00:00:00Z 2>err &&
	test_grep "the deadline is not after the creation time" err
'
test_expect_success 'the customer key defaults to DML_KEY; none at all is a usage error' '
	DML_KEY=c.key dml-job -t predict --data toy -m model.json --created 2026-01-01T00:00:00Z \
		--nonce n1 --budget 1000 --per-device 10 --developer-fee 100 --node-fee 10 >env.json &&
	dml-job $JOB >arg.json && test_cmp arg.json env.json &&
	test_expect_code 2 dml-job -t stats --data toy --features 4 --classes 3 >out 2>err &&
	test_grep "^dml-job: give your secret key with -k FILE (or DML_KEY)" err && test_empty out
'
test_expect_success 'the old spelling -d of --data still works, with a warning' '
	dml-job -k c.key -t stats -d toy --features 4 --classes 3 --nonce o \
		--created 2026-01-01T00:00:00Z >old.json 2>err &&
	test_grep "^dml-job: warning: -d is an old spelling of --data" err &&
	dml-job -k c.key -t stats --data toy --features 4 --classes 3 --nonce o \
		--created 2026-01-01T00:00:00Z >new.json 2>err &&
	test_empty err && test_cmp old.json new.json
'
test_done
