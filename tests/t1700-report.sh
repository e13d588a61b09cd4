#!/bin/sh
# dml-report: the min-devices rule, the report's contents, sealing, render.
. "$(dirname "$0")/lib.sh"

SIGN=$SRC_DIR/tests/helpers/rec-sign
cat >model.json <<'M'
{"act":"relu","arch":"mlp","layers":[4,3],"params":{"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","dtype":"f32","shape":[15]},"type":"dml.model","v":1}
M
dml-keygen -o cust.key >cust.pub
dml-keygen -o node.key >node.pub
dml-keygen -o rep.key >rep.pub
dml-keygen -o eve.key >eve.pub
dml-job -k cust.key -t predict --data toy -m model.json --min-devices 3 \
	--created 2026-01-01T00:00:00Z --nonce x -o job.json
id=$(dml-job --id job.json)

# agg DEVICES HIST0 HIST1 HIST2: an aggregate as a federated node writes it
agg() {
	/usr/bin/python3 - "$id" "$@" <<'P'
import base64, json, struct, sys
job, dev, h = sys.argv[1], int(sys.argv[2]), [float(x) for x in sys.argv[3:6]]
n = sum(h)
t = lambda v: {"dtype": "f64", "shape": [len(v)],
               "data": base64.b64encode(struct.pack("<%dd" % len(v), *v)).decode()}
prob = [x * 0.9 + 0.1 * n / 3 for x in h]
print(json.dumps({"type": "dml.aggregate", "v": 1, "job": job, "round": 0,
  "task": "predict", "n": int(n), "weight": n, "devices": dev, "results": dev,
  "sum": {"hist": t(h), "prob": t(prob)},
  "members": ["%064x" % i for i in range(dev)],
  "rejected": {"forged": 1, "duplicate": 0}}, sort_keys=True, separators=(",", ":")))
P
}

test_expect_success 'help and usage' '
	dml-report --help | test_grep "usage: dml-report" - &&
	test_expect_code 2 dml-report -j job.json 2>err &&
	test_grep "^dml-report: give your secret key with -k FILE (or DML_KEY)" err &&
	test_expect_code 2 dml-report -k rep.key 2>err &&
	test_grep "^dml-report: -j JOB is required" err &&
	test_expect_code 2 dml-report -j job.json -k rep.key --weights w a b 2>err &&
	test_grep "^dml-report: unexpected argument .b." err &&
	test_expect_code 2 dml-report -j job.json -k rep.key --weights w a 2>err &&
	test_grep "^dml-report: --weights goes with --contributions" err &&
	test_expect_code 2 dml-report -j job.json -k rep.key --refining nosuch a 2>err &&
	test_grep "^dml-report: --refining: " err
'
test_expect_success 'below min_devices the report is withheld (exit 1)' '
	agg 2 10 20 30 | $SIGN node.key >small.agg &&
	test_must_fail dml-report -j job.json -k rep.key small.agg >out 2>err &&
	test_grep "\"type\":\"dml.withheld\"" out &&
	test_grep "\"min_devices\":3" out && test_grep "withheld" err &&
	! grep -q "hist" out
'
test_expect_success 'at min_devices the report is sealed to the customer' '
	agg 3 10 20 70 | $SIGN node.key >ok.agg &&
	dml-report -j job.json -k rep.key ok.agg >rep.sealed &&
	test_grep "\"type\":\"dml.sealed\"" rep.sealed &&
	test_grep "\"content\":\"dml.report\"" rep.sealed &&
	! grep -q distribution rep.sealed &&
	test_must_fail dml-encrypt -d -k node.key rep.sealed 2>err
'
test_expect_success 'the customer opens it: means, counts, contributors' '
	dml-encrypt -d -k cust.key rep.sealed >rep.json &&
	test_grep "\"distribution\":\\[0.1,0.2,0.7\\]" rep.json &&
	test_grep "\"counts\":\\[10,20,70\\]" rep.json &&
	test_grep "\"mean_prob\":\\[0.123333,0.213333,0.663333\\]" rep.json &&
	test_grep "\"devices\":3,\"from\"" rep.json &&
	test_grep "\"samples\":100" rep.json &&
	test_grep "\"contributors\":\\[\"0000" rep.json &&
	test_grep "\"rejected\":{\"duplicate\":0,\"forged\":1}" rep.json
'
test_expect_success 'the same aggregate gives the byte-identical report' '
	dml-report -j job.json -k rep.key --no-seal ok.agg >plain1 &&
	dml-report -j job.json -k rep.key --no-seal ok.agg >plain2 &&
	cmp plain1 plain2 && cmp plain1 rep.json
'
test_expect_success 'the key defaults to DML_KEY' '
	DML_KEY=rep.key dml-report -j job.json --no-seal ok.agg >plain3 &&
	cmp plain1 plain3
'
test_expect_success 'render writes Markdown and an SVG bar chart' '
	dml-report --render rendered rep.json &&
	test_grep "| class 2 | 70 | 70.00% |" rendered/report.md &&
	test_grep "<svg" rendered/report.svg && test $(grep -c "<rect" rendered/report.svg) = 4
'
test_expect_success 'render refuses a report whose signature does not hold' '
	sed "s/\"samples\":100/\"samples\":101/" rep.json >fake.json &&
	test_must_fail dml-report --render out2 fake.json 2>err &&
	test_grep "bad signature" err && test ! -e out2
'
test_expect_success 'a forged aggregate is refused with no output' '
	sed "s/\"devices\":3/\"devices\":4/" ok.agg >forged.agg &&
	test_must_fail dml-report -j job.json -k rep.key forged.agg >out 2>err &&
	test_grep "forged.agg:1: bad signature" err && test_empty out
'
test_expect_success 'an aggregate of another job is refused' '
	dml-job -k cust.key -t predict --data toy -m model.json --min-devices 3 \
		--created 2026-01-01T00:00:00Z --nonce y -o job2.json &&
	test_must_fail dml-report -j job2.json -k rep.key ok.agg >out 2>err &&
	test_grep "is for job" err && test_empty out
'
test_expect_success '--trust accepts only listed nodes' '
	dml-report -j job.json -k rep.key --trust node.pub ok.agg >/dev/null &&
	test_must_fail dml-report -j job.json -k rep.key --trust eve.pub ok.agg 2>err &&
	test_grep "untrusted" err
'
test_expect_success 'two aggregates must be combined first' '
	cat ok.agg ok.agg >two.agg &&
	test_must_fail dml-report -j job.json -k rep.key two.agg >out 2>err &&
	test_grep "two.agg:2: more than one aggregate" err && test_empty out
'
test_expect_success 'wrong tensor shape, bad base64, wrong type, missing field' '
	sed "s/\"shape\":\\[3\\]/\"shape\":[2]/" ok.agg | $SIGN node.key >shape.agg &&
	test_must_fail dml-report -j job.json -k rep.key shape.agg 2>err &&
	test_grep "shape.agg:1: tensor" err &&
	sed "s/\"data\":\"/\"data\":\"!/" ok.agg | $SIGN node.key >b64.agg &&
	test_must_fail dml-report -j job.json -k rep.key b64.agg 2>err &&
	test_grep "b64.agg:1:" err &&
	sed "s/\"devices\":3/\"devices\":\"3\"/" ok.agg | $SIGN node.key >type.agg &&
	test_must_fail dml-report -j job.json -k rep.key type.agg 2>err &&
	test_grep "must be an integer" err &&
	sed "s/\"n\":100,//" ok.agg | $SIGN node.key >miss.agg &&
	test_must_fail dml-report -j job.json -k rep.key miss.agg 2>err &&
	test_grep "missing field \"n\"" err
'
test_expect_success 'malformed, truncated, empty and missing inputs' '
	echo "{" >m.agg && test_must_fail dml-report -j job.json -k rep.key m.agg 2>err &&
	test_grep "m.agg:1: malformed JSON" err &&
	printf "%s" "$(cat ok.agg)" >t.agg &&
	test_must_fail dml-report -j job.json -k rep.key t.agg 2>err && test_grep "truncated" err &&
	: >e.agg && test_must_fail dml-report -j job.json -k rep.key e.agg 2>err &&
	test_grep "empty" err &&
	test_expect_code 2 dml-report -j job.json -k rep.key nosuch.agg 2>err && test_grep "nosuch" err
'
test_expect_success '--contributions: devices, federated node, report node, signed' '
	dml-report -j job.json -k rep.key ok.agg --contributions contrib.json \
		--refining eve.pub >/dev/null &&
	test_grep "\"type\":\"dml.contributions\"" contrib.json &&
	nk=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" node.pub) &&
	rk=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" rep.pub) &&
	ek=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" eve.pub) &&
	test_grep "\"federated\":\[{\"devices\":3,\"key\":\"$nk\"}\]" contrib.json &&
	test_grep "\"report\":\"$rk\"" contrib.json &&
	test_grep "\"refining\":\[\"$ek\"\]" contrib.json &&
	test_grep "\"devices\":\[\"0000" contrib.json &&
	$SRC_DIR/tests/helpers/rec-sign rep.key contrib.json | cmp - contrib.json
'
test_expect_success 'no contributions file when the report is withheld' '
	test_must_fail dml-report -j job.json -k rep.key small.agg \
		--contributions c2.json >/dev/null 2>&1 &&
	test ! -e c2.json
'
test_expect_success '--weights: kept trainers join the contributions by weight' '
	for i in 1 2 3; do
		printf "{\"device\":\"%064x\",\"job\":\"%s\",\"kept\":%s,\"round\":0,\"type\":\"dml.weight\",\"v\":1,\"weight\":%s}\n" \
			$i "$id" $( [ $i = 2 ] && echo false || echo true ) 0.$i || return 1
	done | $SIGN node.key >w.nd &&
	dml-report -j job.json -k rep.key ok.agg --contributions cw.json \
		--weights w.nd >/dev/null &&
	test_grep "\"trainers\":\[{\"key\":\"0\{63\}1\",\"weight\":0.1},{\"key\":\"0\{63\}3\",\"weight\":0.3}\]" cw.json
'
test_expect_success '--weights refuses forged, foreign and repeated weights' '
	sed "1s/\"weight\":0.1/\"weight\":0.9/" w.nd >wf.nd &&
	test_must_fail dml-report -j job.json -k rep.key ok.agg \
		--contributions c3.json --weights wf.nd >out 2>err &&
	test_grep "wf.nd:1: bad signature" err && test ! -e c3.json && test_empty out &&
	cat w.nd w.nd >wd.nd &&
	test_must_fail dml-report -j job.json -k rep.key ok.agg \
		--contributions c3.json --weights wd.nd >out 2>err &&
	test_grep "weighted twice" err &&
	sed "s/\"job\":\"[a-z0-9]*\"/\"job\":\"bafkreiother\"/" w.nd | $SIGN node.key >wj.nd &&
	test_must_fail dml-report -j job.json -k rep.key ok.agg \
		--contributions c3.json --weights wj.nd >out 2>err &&
	test_grep "a weight for job" err && test ! -e c3.json
'
test_done
