#!/bin/sh
# dml-aggregate: sums, composition, rejection, reruns, malformed input, CLI.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SQ="'"

# signed test records come from tests/helpers/mkresults
ln -sf "$SRC_DIR/tests/helpers/mkresults" mkresults

# sum of the "delta" of results, and of an aggregate's "sum", computed
# by numpy: f32 values added in f64 in input order
cat >sums.py <<'EOF'
import base64, json, sys
import numpy as np
total = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] != "dml.result":
        continue
    a = np.frombuffer(base64.b64decode(r["values"]["delta"]["data"]), "<f4")
    total = a.astype(np.float64) if total is None else total + a
print([repr(float(x)) for x in total])
EOF
cat >aggsum.py <<'EOF'
import base64, json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "dml.aggregate":
        t = r["sum"][sys.argv[2] if len(sys.argv) > 2 else "delta"]
        d = base64.b64decode(t["data"])
        print([repr(float(x)) for x in __import__("numpy").frombuffer(d, "<f8")])
EOF
# field FILE NAME: a top-level field of the last record, as JSON
field() {
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print(json.dumps(r[sys.argv[2]], sort_keys=True))' "$1" "$2"
}

sign() { ./mkresults sign -j job "$@"; }

test_expect_success 'setup: job, node key, results' '
	./mkresults job -o job --params 4 --min-samples 2 --max-delta 1e7 &&
	./mkresults job -o other --params 4 --seed other-customer &&
	dml-keygen -o node.key >node.pub &&
	cat >good.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[1,2.5,-3,0.125]},"_key":"a"}
	{"type":"dml.result","round":1,"task":"train","n":3,"weight":3,"values":{"delta":[0.1,-0.2,0.3,1e-7]},"_key":"b"}
	{"type":"dml.result","round":1,"task":"train","n":5,"weight":5,"values":{"delta":[16777216,1,-49.5,3.3]},"_key":"c"}
	EOF
	sign good.tpl >good &&
	head -2 good >ab && tail -1 good >c &&
	test $(wc -l <good) = 3
'

test_expect_success '--help goes to stdout, exit 0; --version' '
	dml-aggregate --help >out 2>err &&
	test_grep "^usage: dml-aggregate" out && test_empty err &&
	test_grep "keep-going" out &&
	dml-aggregate --version >out && test_grep "dml-aggregate (dml)" out
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dml-aggregate -k node.key good 2>err &&
	test_grep "JOBFILE is required" err &&
	test_expect_code 2 dml-aggregate -j job good 2>err &&
	test_expect_code 2 dml-aggregate -j job -k node.key --bogus good 2>err &&
	test_grep "Try .dml-aggregate --help" err &&
	test_expect_code 2 dml-aggregate -j job -k node.key --round x good 2>err
'

test_expect_success 'a bad value names its own option (the table was read off by two)' '
	test_expect_code 2 dml-aggregate --scheme secagg --step collect-keys \
		--state st -j job -k node.key --threshold 0 >out 2>err &&
	test_grep "^dml-aggregate: --threshold: .0. is out of range" err &&
	test_empty out &&
	test_expect_code 2 dml-aggregate --scheme secagg --step collect-keys \
		--state st -j job -k node.key --frac-bits 99 2>err &&
	test_grep "^dml-aggregate: --frac-bits: .99. is out of range" err &&
	test_expect_code 2 dml-aggregate --scheme secagg --step collect-keys \
		--state st -j job -k node.key --neighbours x 2>err &&
	test_grep "^dml-aggregate: --neighbours: .x. is not an integer" err &&
	test_expect_code 2 dml-aggregate --scheme secagg --step collect-keys \
		--state st -j job -k node.key --clip 0 2>err &&
	test_grep "^dml-aggregate: --clip: a positive number" err &&
	test_expect_code 2 dml-aggregate --scheme secagg --step nosuch \
		--state st -j job -k node.key 2>err &&
	test_grep "^dml-aggregate: --step: unknown step .nosuch." err &&
	test_expect_code 2 dml-aggregate --scheme x -j job -k node.key 2>err &&
	test_grep "^dml-aggregate: --scheme: .x. is not one of secagg" err &&
	! test -e st
'

test_expect_success 'the old spellings -r, -d and -K still work, with a warning' '
	{ ./mkresults key a && ./mkresults key b && ./mkresults key c; } >all.dev &&
	dml-aggregate -j job -k node.key --round 1 --devices all.dev --keep-going good >new &&
	dml-aggregate -j job -k node.key -r 1 -d all.dev -K good >old 2>err &&
	test_cmp new old &&
	test_grep "^dml-aggregate: warning: -r is an old spelling of --round" err &&
	test_grep "^dml-aggregate: warning: -d is an old spelling of --devices" err &&
	test_grep "^dml-aggregate: warning: -K is an old spelling of --keep-going" err
'

test_expect_success 'the key defaults to DML_KEY; -a is --assignments' '
	DML_KEY=node.key dml-aggregate -j job good >agg.env &&
	dml-aggregate -j job -k node.key good >agg.k && test_cmp agg.k agg.env &&
	test_expect_code 2 dml-aggregate -j job good 2>err &&
	test_grep "^dml-aggregate: give your secret key with -k FILE (or DML_KEY)" err &&
	test_expect_code 2 dml-aggregate -j job -k node.key -a nosuch good 2>err &&
	test_grep "^dml-aggregate: nosuch: No such file" err
'

test_expect_success 'sums are exact f64 sums of the f32 values (numpy agrees)' '
	dml-aggregate -j job -k node.key good >agg &&
	test $(wc -l <agg) = 1 &&
	$PY sums.py good >expect &&
	$PY aggsum.py agg >actual &&
	test_cmp expect actual &&
	test "$(field agg n)" = 10 && test "$(field agg weight)" = 10 &&
	test "$(field agg devices)" = 3 && test "$(field agg results)" = 3 &&
	test "$(field agg round)" = 1 && test "$(field agg task)" = "\"train\""
'

test_expect_success 'the aggregate is signed by the node; members sorted' '
	node=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" node.pub) &&
	test "$(field agg from)" = "\"$node\"" &&
	for k in a b c; do ./mkresults key $k || return 1; done >keys && sort keys >expect &&
	field agg members | tr -d "[]\" " | tr , "\n" >actual &&
	test_cmp expect actual &&
	test "$(field agg rejected)" = "{\"duplicate\": 0, \"forged\": 0, \"invalid\": 0, \"malformed\": 0, \"replay\": 0, \"wrong_job\": 0}"
'

test_expect_success 'stdin and files give the same, byte for byte' '
	dml-aggregate -j job -k node.key <good >agg2 &&
	test_cmp agg agg2 &&
	dml-aggregate -j job -k node.key ab c >agg3 &&
	test_cmp agg agg3
'

test_expect_success 'aggregate of aggregates equals aggregate of all results' '
	dml-keygen -o node2.key >node2.pub &&
	dml-aggregate -j job -k node.key ab >agg.ab &&
	dml-aggregate -j job -k node2.key c >agg.c &&
	dml-aggregate -j job -k node.key agg.ab agg.c >agg.top &&
	for f in devices members model n results round sum weight rejected; do
		test "$(field agg $f)" = "$(field agg.top $f)" || return 1
	done &&
	test "$(field agg.ab devices)" = 2
'
test_expect_success 'an aggregate of aggregates names the federated nodes inside' '
	k1=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" node.pub) &&
	k2=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" node2.pub) &&
	test_grep "\"nodes\":\[" agg.top &&
	test_grep "{\"devices\":2,\"key\":\"$k1\"}" agg.top &&
	test_grep "{\"devices\":1,\"key\":\"$k2\"}" agg.top &&
	! grep -q "\"nodes\"" agg.ab &&
	dml-aggregate -j job -k node2.key agg.top >agg.top2 &&
	test "$(field agg.top nodes)" = "$(field agg.top2 nodes)"
'

test_expect_success 'a device in two aggregates is a duplicate' '
	dml-aggregate -j job -k node.key good >agg.all &&
	test_must_fail dml-aggregate -j job -k node.key agg.ab agg.all \
		>out 2>err &&
	test_empty out && test_grep "agg.all:1: duplicate" err
'

test_expect_success 'duplicate: strict fails with no output; --keep-going counts' '
	cat good c >dup &&
	test_must_fail dml-aggregate -j job -k node.key dup >out 2>err &&
	test_empty out &&
	test_grep "^dml-aggregate: dup:4: duplicate" err &&
	dml-aggregate -j job -k node.key --keep-going dup >out 2>err &&
	test_grep "dup:4: duplicate" err &&
	$PY aggsum.py out >actual && $PY sums.py good >expect &&
	test_cmp expect actual &&
	test "$(field out rejected)" = "{\"duplicate\": 1, \"forged\": 0, \"invalid\": 0, \"malformed\": 0, \"replay\": 0, \"wrong_job\": 0}"
'

test_expect_success 'replay: a result of another round' '
	sed "s/\"round\":1/\"round\":2/" good.tpl | sign >r2 &&
	test_must_fail dml-aggregate -j job -k node.key --round 1 ab r2 >out 2>err &&
	test_empty out && test_grep "r2:1: result of round 2, this is round 1" err &&
	dml-aggregate -j job -k node.key --keep-going --round 1 ab r2 >out 2>err &&
	test_grep "\"replay\":3" out && test_grep "\"devices\":2" out
'

test_expect_success 'without --round the first authentic result sets it' '
	test_must_fail dml-aggregate -j job -k node.key r2 ab >out 2>err &&
	test_grep "ab:1: result of round 1, this is round 2" err &&
	dml-aggregate -j job -k node.key r2 >out && test "$(field out round)" = 2
'

test_expect_success 'wrong job' '
	./mkresults sign -j other good.tpl >foreign &&
	test_must_fail dml-aggregate -j job -k node.key ab foreign >out 2>err &&
	test_empty out && test_grep "foreign:1: result for another job" err &&
	dml-aggregate -j job -k node.key --keep-going ab foreign >out 2>/dev/null &&
	test_grep "\"wrong_job\":3" out
'

test_expect_success 'forged: a signed result altered' '
	sed "2s/\"n\":3,/\"n\":4,/; 2s/\"weight\":3}/\"weight\":4}/" good >forged &&
	! cmp -s good forged &&
	test_must_fail dml-aggregate -j job -k node.key forged >out 2>err &&
	test_empty out && test_grep "forged:2: forged: bad signature" err &&
	dml-aggregate -j job -k node.key --keep-going forged >out 2>/dev/null &&
	test_grep "\"forged\":1" out && test "$(field out n)" = 7
'

test_expect_success 'forged: a device that was not assigned (--devices)' '
	{ echo "# assigned" && ./mkresults key a && ./mkresults key c; } >devices &&
	test_must_fail dml-aggregate -j job -k node.key --devices devices good \
		>out 2>err &&
	test_grep "good:2: forged: device .* is not an assigned device" err &&
	dml-aggregate -j job -k node.key --devices devices --keep-going good >out 2>/dev/null &&
	test "$(field out devices)" = 2 && test_grep "\"forged\":1" out
'

test_expect_success 'reruns: small n, NaN, out of range, wrong shape' '
	cat >bad.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":1,"weight":1,"values":{"delta":[1,1,1,1]},"_key":"d"}
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[1,"nan",1,1]},"_key":"e"}
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[1,1,1e8,1]},"_key":"f"}
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[1,1,1]},"_key":"g"}
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":3,"values":{"delta":[1,1,1,1]},"_key":"h"}
	EOF
	sign bad.tpl >bad && cat ab bad c >mixed &&
	dml-aggregate -j job -k node.key mixed >out 2>err &&
	test $(wc -l <out) = 6 &&
	head -5 out | grep -c "\"type\":\"dml.rerun\"" >count &&
	echo 5 >expect && test_cmp expect count &&
	tail -1 out | grep -q "\"type\":\"dml.aggregate\"" &&
	test_grep "\"invalid\":5" out &&
	$PY aggsum.py out >actual && $PY sums.py good >expect &&
	test_cmp expect actual &&
	test_grep "mixed:3: rerun requested" err
'

test_expect_success 'a node output with reruns is summed as it is' '
	dml-aggregate -j job -k node.key mixed >node1 2>/dev/null &&
	test $(grep -c dml.rerun node1) = 5 &&
	dml-aggregate -j job -k node.key node1 >top 2>err &&
	test $(wc -l <top) = 1 && test_empty err &&
	$PY aggsum.py top >actual && $PY sums.py good >expect &&
	test_cmp expect actual && test_grep "\"invalid\":5" top
'

test_expect_success 'rerun records: device, reason, job, round, signed by the node' '
	for k in d e f g h; do ./mkresults key $k || return 1; done >expect &&
	head -5 out | sed "s/.*\"device\":\"\([0-9a-f]*\)\".*/\1/" >actual &&
	test_cmp expect actual &&
	head -1 out | grep -q "\"reason\":\"n is 1, below the job.s min_samples 2\"" &&
	sed -n 2p out | grep -q "element 1 is not finite" &&
	sed -n 3p out | grep -q "element 2 is 100000000: |delta / n| = 50000000 exceeds the job.s max_delta 10000000" &&
	sed -n 4p out | grep -q "has 3 elements, the job needs 4" &&
	sed -n 5p out | grep -q "weight 3 is not n (2)" &&
	node=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" node.pub) &&
	test $(head -5 out | grep -c "\"from\":\"$node\"") = 5 &&
	job=$(field agg job) && test $(head -5 out | grep -c "\"job\":$job,") = 5
'

test_expect_success 'only invalid results: nothing accepted, exit 1, no output' '
	head -1 bad >one &&
	test_must_fail dml-aggregate -j job -k node.key one >out 2>err &&
	test_empty out && test_grep "no results accepted" err
'

test_expect_success 'malformed JSON' '
	{ head -1 good && echo "{\"type\":" && tail -2 good; } >m &&
	test_must_fail dml-aggregate -j job -k node.key m >out 2>err &&
	test_empty out && test_grep "^dml-aggregate: m:2: malformed JSON" err &&
	dml-aggregate -j job -k node.key --keep-going m >out 2>err &&
	test_grep "\"malformed\":1" out && test "$(field out devices)" = 3
'

test_expect_success 'wrong types and missing fields' '
	sed "1s/\"n\":2,/\"n\":\"2\",/" good >m1 &&
	test_must_fail dml-aggregate -j job -k node.key m1 2>err >out &&
	test_empty out && test_grep "m1:1: field \"n\" must be an integer" err &&
	sed "2s/,\"weight\":3}/}/" good >m2 &&
	test_must_fail dml-aggregate -j job -k node.key m2 2>err &&
	test_grep "m2:2: missing field \"weight\"" err &&
	sed "3s/\"type\":\"dml.result\"/\"type\":\"dml.job\"/" good >m3 &&
	test_must_fail dml-aggregate -j job -k node.key m3 2>err &&
	test_grep "m3:3: expected a dml.result or dml.aggregate" err &&
	sed "1s/\"values\":{/\"values\":{\"x\":1,/" good >m4 &&
	test_must_fail dml-aggregate -j job -k node.key m4 2>err &&
	test_grep "m4:1: tensor \"x\" must be an object" err &&
	cat m1 m2 m3 m4 | dml-aggregate -j job -k node.key --keep-going >out 2>err &&
	test_grep "\"malformed\":4" out && test "$(field out devices)" = 3
'

test_expect_success 'bad base64 and a tensor whose data does not fit its shape' '
	sed "1s/\"data\":\"A/\"data\":\"*/" good >b1 &&
	! cmp -s good b1 &&
	test_must_fail dml-aggregate -j job -k node.key b1 >out 2>err &&
	test_empty out && test_grep "b1:1: tensor \"delta\": bad base64" err &&
	sed "2s/\"shape\":\[4\]/\"shape\":[5]/" good >b2 &&
	test_must_fail dml-aggregate -j job -k node.key b2 2>err &&
	test_grep "b2:2: tensor \"delta\": data holds" err &&
	cat b1 b2 | dml-aggregate -j job -k node.key --keep-going >out 2>/dev/null &&
	test_grep "\"malformed\":2" out
'

test_expect_success 'a truncated last line' '
	head -c -1 good >t && test "$(tail -c 1 t)" = "}" &&
	test_must_fail dml-aggregate -j job -k node.key t >out 2>err &&
	test_empty out && test_grep "t:3: truncated record" err &&
	dml-aggregate -j job -k node.key --keep-going t >out 2>err &&
	test_grep "\"malformed\":1" out && test "$(field out devices)" = 2
'

test_expect_success 'empty input: nothing accepted, exit 1' '
	: >empty &&
	test_must_fail dml-aggregate -j job -k node.key empty >out 2>err &&
	test_empty out && test_grep "no results accepted" err &&
	test_must_fail dml-aggregate -j job -k node.key </dev/null 2>err
'

test_expect_success 'a missing input file is a system error (exit 2), no output' '
	test_expect_code 2 dml-aggregate -j job -k node.key good nosuch \
		>out 2>err &&
	test_empty out && test_grep "nosuch: No such file" err &&
	test_expect_code 2 dml-aggregate -j nosuch -k node.key good 2>err &&
	sed "s/\"min_samples\":2/\"min_samples\":1/" job >badjob &&
	test_must_fail dml-aggregate -j badjob -k node.key good 2>err &&
	test_grep "badjob:1: bad signature" err
'

test_expect_success '-o writes the file whole, and nothing on failure' '
	dml-aggregate -j job -k node.key -o o.agg good >out &&
	test_empty out && test_cmp agg o.agg &&
	test_must_fail dml-aggregate -j job -k node.key -o o2.agg dup &&
	! test -e o2.agg
'

test_expect_success '--no-verify sums a forged result (trusted path only)' '
	dml-aggregate -j job -k node.key --no-verify forged >out &&
	test "$(field out n)" = 11
'

test_expect_success 'predict: class counts and probabilities summed' '
	./mkresults job -o pjob --task predict --features 3 --classes 2 &&
	cat >p.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"predict","n":4,"weight":4,"values":{"hist":[1,3],"prob":[1.25,2.75]},"_key":"p"}
	{"type":"dml.result","round":1,"task":"predict","n":2,"weight":2,"values":{"hist":[2,0],"prob":[1.5,0.5]},"_key":"q"}
	{"type":"dml.result","round":1,"task":"predict","n":2,"weight":2,"values":{"hist":[2,1],"prob":[1.5,0.5]},"_key":"r"}
	EOF
	./mkresults sign -j pjob p.tpl >p &&
	dml-aggregate -j pjob -k node.key p >out 2>err &&
	$PY aggsum.py out hist >actual &&
	echo "[${SQ}3.0${SQ}, ${SQ}3.0${SQ}]" >expect && test_cmp expect actual &&
	$PY aggsum.py out prob >actual &&
	echo "[${SQ}2.75${SQ}, ${SQ}3.25${SQ}]" >expect && test_cmp expect actual &&
	test_grep "\"value \\\\\"hist\\\\\" sums to 3, not n (2)\"" out
'

test_expect_success 'stats: histogram bins are a multiple of the features' '
	./mkresults job -o sjob --task stats --features 2 --classes 3 &&
	cat >s.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"stats","n":3,"weight":3,"values":{"sum":[1,-2],"sumsq":[1,4],"hist":[1,2,0,3,2,1],"labels":[1,1,1]},"_key":"s"}
	{"type":"dml.result","round":1,"task":"stats","n":3,"weight":3,"values":{"sum":[1,-2],"sumsq":[1,4],"hist":[1,2,0,3,2],"labels":[1,1,1]},"_key":"t"}
	{"type":"dml.result","round":1,"task":"stats","n":3,"weight":3,"values":{"sum":[1,-2],"sumsq":[1,-4],"hist":[1,2,0,3,2,1],"labels":[1,1,1]},"_key":"u"}
	EOF
	./mkresults sign -j sjob s.tpl >s &&
	dml-aggregate -j sjob -k node.key s >out 2>err &&
	test_grep "not a multiple of the job.s 2 features" out &&
	test_grep "value \\\\\"sumsq\\\\\" element 1 is negative" out &&
	$PY aggsum.py out hist >actual &&
	echo "[${SQ}1.0${SQ}, ${SQ}2.0${SQ}, ${SQ}0.0${SQ}, ${SQ}3.0${SQ}, ${SQ}2.0${SQ}, ${SQ}1.0${SQ}]" >expect &&
	test_cmp expect actual
'

test_done
