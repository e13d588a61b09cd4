#!/bin/sh
# dml-weight: control-set scoring (minimum standard, binomial test,
# robust z-score), FLTrust mode, the dml.weight records, the weighted sum
# through dml-aggregate --scale, bad input.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
ln -sf "$SRC_DIR/tests/helpers/mkresults" mkresults
sign() { ./mkresults sign -j job "$@"; }
# field of the dml.weight record of device KEYTEXT: wfield FILE KEYTEXT F
wfield() {
	$PY -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["device"] == sys.argv[2]: print(json.dumps(r.get(sys.argv[3])))' \
	"$1" "$(./mkresults key "$2")" "$3"
}

test_expect_success 'setup: job, node key, control key, 12 trainers' '
	./mkresults job -o job --params 3 --classes 10 &&
	dml-keygen -o node.key >node.pub &&
	$PY - <<-\EOF &&
	import json, random
	rnd = random.Random(7)
	items = {"c%02d" % i: rnd.randrange(10) for i in range(40)}
	open("answers", "w").write(json.dumps({"type": "dml.control", "v": 1,
	    "answers": items}) + "\n")
	def answers(p_right, flip=False):
	    out = {}
	    for k, y in items.items():
	        if flip: out[k] = (y + 1) % 10
	        elif rnd.random() < p_right: out[k] = y
	        else: out[k] = rnd.choice([c for c in range(10) if c != y])
	    return out
	with open("res.tpl", "w") as f:
	    def res(key, ctl, delta, n=10):
	        r = {"type": "dml.result", "round": 1, "task": "train", "n": n,
	             "weight": n, "values": {"delta": delta}, "_key": key}
	        if ctl is not None: r["control"] = ctl
	        f.write(json.dumps(r) + "\n")
	    for i in range(6): res("careful%d" % i, answers(0.95), [1, 1, 1])
	    for i in range(2): res("noisy%d" % i, answers(0.7), [1, 1, 1])
	    for i in range(2): res("adv%d" % i, answers(0, True), [-1, -1, -1])
	    res("lazy", answers(0.1), [1, 1, 1])
	    res("mute", None, [1, 1, 1])
	EOF
	sign res.tpl >res
'

test_expect_success '--help, usage errors' '
	dml-weight --help >out && test_grep "^usage: dml-weight" out &&
	test_expect_code 2 dml-weight -j job -k node.key res 2>err &&
	test_grep "required" err &&
	test_expect_code 2 dml-weight -j job -k node.key -w w res 2>err &&
	test_grep "one of --answers" err &&
	test_expect_code 2 dml-weight -j job -k node.key -w w --answers answers --alpha 2 res
'

test_expect_success 'careful and noisy kept, adversaries, guessers and the mute excluded' '
	dml-weight -j job -k node.key -w weights --answers answers res >kept 2>err &&
	test $(wc -l <weights) = 12 && test $(wc -l <kept) = 8 &&
	for k in careful0 careful5 noisy0 noisy1; do
		test "$(wfield weights $k kept)" = true || return 1
	done &&
	for k in adv0 adv1 lazy mute; do
		test "$(wfield weights $k kept)" = false || return 1
	done &&
	test "$(wfield weights mute reason)" = "\"no control answers\"" &&
	test_grep "not better than chance" weights &&
	test "$(wfield weights adv0 score)" = 0 &&
	test $(grep -c "excluded" err) = 4
'

test_expect_success 'the kept results pass unchanged (dml-aggregate verifies them)' '
	for k in careful0 noisy1; do
		grep -F "$(./mkresults key $k)" res >expect &&
		grep -F "$(./mkresults key $k)" kept >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'weights are chance-corrected accuracy; factor in thousandths' '
	s=$(wfield weights careful0 score) && w=$(wfield weights careful0 weight) &&
	f=$(wfield weights careful0 factor) &&
	$PY -c "import sys; s,w,f=$s,$w,$f; sys.exit(not (abs(w-(s-0.1)/0.9)<1e-12 and f==round(1000*w)))"
'

test_expect_success 'dml-aggregate --scale reads dml.weight records: weighted sum' '
	dml-aggregate -j job -k node.key --scale weights kept >agg &&
	$PY -c "
import json
w = sum(json.loads(l)[\"factor\"] * 10 for l in open(\"weights\") if json.loads(l)[\"kept\"])
a = json.loads(open(\"agg\").read())
assert a[\"weight\"] == w, (a[\"weight\"], w)
"
'

test_expect_success 'the minimum standard excludes the noisy trainers' '
	dml-weight -j job -k node.key -w w2 --answers answers --min-accuracy 0.85 res >kept2 2>err &&
	test $(wc -l <kept2) = 6 &&
	test "$(wfield w2 noisy0 kept)" = false &&
	test_grep "below the job.s minimum 0.85" w2
'

test_expect_success 'the job carries the control set and its minimum (dml-job)' '
	dml-keygen -o cust.key >/dev/null &&
	printf "{\"type\":\"dml.model\",\"v\":1,\"arch\":\"softmax\",\"features\":2,\"classes\":2}\n" >m.json &&
	cid=$(./mkresults job -o tmpjob --params 3 && dml-job --id tmpjob) &&
	dml-job -k cust.key -t stats --data x --features 2 --classes 2 \
		--control-set "$cid" --min-accuracy 0.5 -o cjob &&
	test_grep "\"control\":{\"min_accuracy\":0.5,\"set\":\"$cid\"}" cjob &&
	test_expect_code 2 dml-job -k cust.key -t stats --data x --features 2 \
		--classes 2 --min-accuracy 0.5 -o cjob2 2>err &&
	test_grep "needs --control-set" err
'

test_expect_success 'robust z-score drops a low outlier among good trainers' '
	$PY - <<-\EOF &&
	import json
	items = json.loads(open("answers").read())["answers"]
	keys = sorted(items)
	with open("z.tpl", "w") as f:
	    for i in range(8):
	        ctl = {k: items[k] for k in keys}
	        if i == 7:   # right on 24 of 40: above chance, far below the rest
	            ctl = {k: (items[k] if j < 24 else (items[k] + 1) % 10) for j, k in enumerate(keys)}
	        elif i % 2:
	            ctl[keys[0]] = (items[keys[0]] + 1) % 10
	        f.write(json.dumps({"type": "dml.result", "round": 1, "task": "train",
	            "n": 5, "weight": 5, "values": {"delta": [0, 0, 0]},
	            "control": ctl, "_key": "z%d" % i}) + "\n")
	EOF
	sign z.tpl >z &&
	dml-weight -j job -k node.key -w wz --answers answers z >kz 2>err &&
	test "$(wfield wz z7 kept)" = false && test_grep "robust z-score" wz &&
	test $(wc -l <kz) = 7
'

test_expect_success 'answers for an unknown control item exclude the trainer' '
	cat >u.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":5,"weight":5,"values":{"delta":[1,1,1]},"control":{"nosuch":3},"_key":"u"}
	EOF
	sign u.tpl >u &&
	cat res u | dml-weight -j job -k node.key -w wu --answers answers >/dev/null 2>err &&
	test_grep "answered unknown control item" wu
'

test_expect_success 'every trainer excluded: exit 1, nothing written' '
	grep -F "$(./mkresults key adv0)" res >adv &&
	test_expect_code 1 dml-weight -j job -k node.key -w wa --answers answers adv >out 2>err &&
	test_empty out && ! test -e wa && test_grep "every trainer was excluded" err
'

test_expect_success 'forged, duplicate and other-job results are rejected (exit 1)' '
	sed "1s/\"n\":10/\"n\":11/" res >forged &&
	test_expect_code 1 dml-weight -j job -k node.key -w wf --answers answers forged 2>err &&
	test_grep "forged" err &&
	head -1 res | cat - res >dup &&
	test_expect_code 1 dml-weight -j job -k node.key -w wf --answers answers dup 2>err &&
	test_grep "duplicate" err
'

test_expect_success 'a bad control key is refused' '
	echo "{\"type\":\"dml.control\",\"v\":1,\"answers\":{\"a\":\"x\"}}" >badkey &&
	test_expect_code 1 dml-weight -j job -k node.key -w wb --answers badkey res 2>err &&
	test_grep "must be an integer" err
'

test_expect_success 'FLTrust mode: weight is the ReLU of the cosine with the reference' '
	cat >ref.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":4,"weight":4,"values":{"delta":[4,4,4]},"_key":"node"}
	EOF
	sign ref.tpl >ref &&
	dml-weight -j job -k node.key -w wt --reference ref res >kt 2>err &&
	test "$(wfield wt careful0 weight)" = 1 &&
	test "$(wfield wt adv0 kept)" = false && test_grep "no trust" wt &&
	test "$(wfield wt adv0 mode)" = "\"fltrust\"" &&
	test $(wc -l <kt) = 10
'

test_expect_success 'FLTrust: a NaN update is excluded, not trusted' '
	cat >nan.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":4,"weight":4,"values":{"delta":[1,"nan",1]},"_key":"nan"}
	EOF
	sign nan.tpl >nan &&
	cat res nan | dml-weight -j job -k node.key -w wn --reference ref >/dev/null 2>err &&
	test "$(wfield wn nan kept)" = false && test_grep "not finite" wn
'

test_expect_success 'deterministic: same input, same output' '
	dml-weight -j job -k node.key -w weights2 --answers answers res >kept3 2>/dev/null &&
	test_cmp weights weights2 && test_cmp kept kept3
'

test_expect_success 'the old spelling -a still works, with a warning naming --answers' '
	dml-weight -j job -k node.key -w weights4 -a answers res >kept4 2>err &&
	test_grep "^dml-weight: warning: -a is an old spelling of --answers" err &&
	test_cmp weights weights4 && test_cmp kept kept4
'

test_expect_success 'the key defaults to DML_KEY; without either, a usage error' '
	DML_KEY=node.key dml-weight -j job -w weights5 --answers answers res \
		>kept5 2>/dev/null &&
	test_cmp weights weights5 &&
	test_expect_code 2 dml-weight -j job -w w6 --answers answers res 2>err &&
	test_grep "^dml-weight: give your secret key with -k FILE (or DML_KEY)" err
'

test_expect_success 'a result of another round or job, or of another task, is named' '
	head -1 res.tpl | sed "s/\"round\": 1/\"round\": 2/; s/\"_key\": \"[a-z0-9]*\"/\"_key\": \"late\"/" |
		sign >r2 && cat res r2 >rounds &&
	test_expect_code 1 dml-weight -j job -k node.key -w wr --answers answers rounds 2>err &&
	test_grep "rounds:13: result of round 2, this is round 1 (replayed?)" err &&
	./mkresults job -o other --params 3 --seed other-customer &&
	./mkresults sign -j other res.tpl >foreign &&
	test_expect_code 1 dml-weight -j job -k node.key -w wr --answers answers foreign 2>err &&
	test_grep "foreign:1: result for another job" err &&
	sed "1s/\"task\": \"train\"/\"task\": \"stats\"/" res.tpl | sign >stats &&
	test_expect_code 1 dml-weight -j job -k node.key -w wr --answers answers stats 2>err &&
	test_grep "stats:1: task is stats, dml-weight weighs train updates" err &&
	! test -e wr
'

test_done
