#!/bin/sh
# dml-run: consent, criteria, the three tasks, determinism, bad inputs.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
dml-split --devices 4 --limit 400 --partition iid --consent-rate 1 --seed 3 -o devs >/dev/null
for d in devs/dev-*; do dml-keygen -o $d/key >/dev/null; done
dml-keygen -o cust.key >/dev/null
# a softmax model 784-10 with small deterministic weights
/usr/bin/python3 - <<'P' >model.json
import base64, json, struct
p = [((i * 7919) % 1000 - 500) / 50000.0 for i in range(7850)]
t = {"dtype": "f32", "shape": [7850], "data": base64.b64encode(struct.pack("<7850f", *p)).decode()}
print(json.dumps({"type": "dml.model", "v": 1, "arch": "softmax", "act": "relu",
    "layers": [784, 10], "params": t}, sort_keys=True, separators=(",", ":")))
P
J="-k cust.key --data fashion-mnist --created 2026-01-01T00:00:00Z --nonce t --budget 0 --min-devices 1"
dml-job $J -t predict -m model.json -o predict.json
dml-job $J -t stats --features 784 --classes 10 -o stats.json
dml-job $J -t train -m model.json --rounds 2 --epochs 1 --batch 16 --lr 0.1 -o train.json
dml-job $J -t predict -m model.json -c "ram_gb > 1000" -o picky.json
D=devs/dev-0001

test_expect_success 'help and usage errors' '
	dml-run --help | test_grep "usage: dml-run" - &&
	test_expect_code 2 dml-run -j predict.json 2>err &&
	test_expect_code 2 dml-run -j predict.json -k $D/key -D $D 2>err &&
	test_grep "needs -m MODEL" err
'
test_expect_success 'predict: class counts sum to the samples, signed by the device' '
	dml-run -j predict.json -k $D/key -D $D -m model.json >res.json &&
	test_grep "\"type\":\"dml.result\"" res.json &&
	test_grep "\"task\":\"predict\"" res.json &&
	n=$(sed "s/.*\"n\":\([0-9]*\).*/\1/" res.json) && test "$n" = 100 &&
	/usr/bin/python3 -c "
import base64, json, struct, sys
r = json.load(open(\"res.json\"))
h = struct.unpack(\"<10d\", base64.b64decode(r[\"values\"][\"hist\"][\"data\"]))
p = struct.unpack(\"<10d\", base64.b64decode(r[\"values\"][\"prob\"][\"data\"]))
assert sum(h) == r[\"n\"] and abs(sum(p) - r[\"n\"]) < 1e-6, (h, p)
assert sorted(r[\"values\"]) == [\"hist\", \"prob\"]
" &&
	pub=$(dml-keygen -p $D/key | sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/") &&
	test_grep "\"from\":\"$pub\"" res.json
'
test_expect_success 'stats: per-feature sums and a label histogram' '
	dml-run -j stats.json -k $D/key -D $D >st.json &&
	/usr/bin/python3 -c "
import base64, json, struct
r = json.load(open(\"st.json\"))
v = r[\"values\"]
lab = struct.unpack(\"<10d\", base64.b64decode(v[\"labels\"][\"data\"]))
assert sum(lab) == r[\"n\"] == 100
s = struct.unpack(\"<784d\", base64.b64decode(v[\"sum\"][\"data\"]))
q = struct.unpack(\"<784d\", base64.b64decode(v[\"sumsq\"][\"data\"]))
assert all(0 <= a <= 100 and 0 <= b <= a + 1e-9 for a, b in zip(s, q))
assert v[\"hist\"][\"shape\"] == [784, 10]
"
'
test_expect_success 'train: a delta of every parameter, reproducible with --seed' '
	dml-run -j train.json -k $D/key -D $D -m model.json --seed 5 >t1.json &&
	dml-run -j train.json -k $D/key -D $D -m model.json --seed 5 >t2.json &&
	dml-run -j train.json -k $D/key -D $D -m model.json --seed 6 >t3.json &&
	cmp t1.json t2.json && ! cmp -s t1.json t3.json &&
	test_grep "\"shape\":\\[7850\\]" t1.json && test_grep "\"weight\":100" t1.json
'
test_expect_success 'a round beyond the job is refused' '
	test_must_fail dml-run -j train.json -k $D/key -D $D -m model.json --round 2 2>err &&
	test_grep "2 rounds" err
'
test_expect_success 'no consent: a signed dml.declined and exit 1' '
	cp -r $D nocons && sed "s/\"consent\":\\[[^]]*\\]/\"consent\":[]/" $D/profile.json >nocons/profile.json &&
	test_must_fail dml-run -j predict.json -k nocons/key -D nocons -m model.json >dec.json 2>err &&
	test_grep "\"type\":\"dml.declined\"" dec.json && test_grep "no consent" dec.json &&
	! grep -q values dec.json
'
test_expect_success 'criteria not met: declined naming the attribute' '
	test_must_fail dml-run -j picky.json -k $D/key -D $D -m model.json >dec.json 2>err &&
	test_grep "criterion not met: ram_gb" dec.json
'
test_expect_success 'a model that is not the job model is refused' '
	sed "s/\"arch\":\"softmax\"/\"arch\":\"softmax\",\"name\":\"x\"/" model.json >other.json &&
	test_must_fail dml-run -j predict.json -k $D/key -D $D -m other.json >out 2>err &&
	test_grep "not the job.s model" err && test_empty out
'
test_expect_success 'a forged job is refused' '
	sed "s/\"min_samples\":1/\"min_samples\":2/" predict.json >forged.json &&
	test_must_fail dml-run -j forged.json -k $D/key -D $D -m model.json >out 2>err &&
	test_grep "forged.json:1: bad signature" err && test_empty out
'
test_expect_success 'bad model files: shape, base64, type, missing field, truncated' '
	sed "s/\"shape\":\\[7850\\]/\"shape\":[7849]/" model.json >m1.json &&
	test_must_fail dml-run -j train.json -k $D/key -D $D -m m1.json 2>err &&
	test_grep "m1.json:1:" err &&
	sed "s/\"data\":\"/\"data\":\"#/" model.json >m2.json &&
	test_must_fail dml-run -j train.json -k $D/key -D $D -m m2.json 2>err &&
	test_grep "m2.json:1:" err &&
	sed "s/\"layers\":\\[784,10\\]/\"layers\":\"784\"/" model.json >m3.json &&
	test_must_fail dml-run -j train.json -k $D/key -D $D -m m3.json 2>err &&
	test_grep "m3.json:1:" err &&
	sed "s/\"params\":/\"parms\":/" model.json >m4.json &&
	test_must_fail dml-run -j train.json -k $D/key -D $D -m m4.json 2>err &&
	test_grep "params" err &&
	head -c 1000 model.json >m5.json &&
	test_must_fail dml-run -j train.json -k $D/key -D $D -m m5.json 2>err &&
	test_grep "truncated" err
'
test_expect_success 'bad jobs: malformed, empty, missing; a missing device folder' '
	echo "{" >bad.json && test_must_fail dml-run -j bad.json -k $D/key -D $D -m model.json 2>err &&
	test_grep "bad.json:1: malformed JSON" err &&
	: >empty.json && test_must_fail dml-run -j empty.json -k $D/key -D $D -m model.json 2>err &&
	test_grep "empty" err &&
	test_expect_code 2 dml-run -j nosuch.json -k $D/key -D $D -m model.json 2>err &&
	test_grep "nosuch.json" err &&
	test_expect_code 2 dml-run -j predict.json -k $D/key -D nodev -m model.json 2>err &&
	test_grep "nodev" err &&
	test_expect_code 2 dml-run -j predict.json -k $D/key -D $D -m nosuch.model >out 2>err &&
	test_grep "^dml-run: nosuch.model: No such file" err && test_empty out
'
test_expect_success 'a failed run leaves no output file' '
	test_must_fail dml-run -j forged.json -k $D/key -D $D -m model.json -o out.json 2>err &&
	test ! -e out.json
'
delta_of() {
	/usr/bin/python3 -c 'import base64,json,sys,struct
r = json.loads(open(sys.argv[1]).read())
d = base64.b64decode(r["values"]["delta"]["data"])
print(" ".join("%.6g" % x for x in struct.unpack("<%df" % (len(d) // 4), d)[:5]))' "$1"
}
test_expect_success 'malicious devices: signflip negates, scale multiplies, noise replaces' '
	cp -r $D sim && sed "s/}\$/,\"malicious\":{\"attack\":\"signflip\"}}/" $D/profile.json >sim/profile.json &&
	dml-run -j train.json -k $D/key -D $D -m model.json --seed 5 >honest.json &&
	dml-run -j train.json -k $D/key -D sim -m model.json --seed 5 >flip.json &&
	delta_of honest.json | tr " " "\n" | sed "s/^-//;t;s/^/-/" | sed "s/^-0\$/0/" >expect &&
	delta_of flip.json | tr " " "\n" | sed "s/^-0\$/0/" >actual && test_cmp expect actual &&
	sed "s/}\$/,\"malicious\":{\"attack\":\"scale\",\"lambda\":3}}/" $D/profile.json >sim/profile.json &&
	dml-run -j train.json -k $D/key -D sim -m model.json --seed 5 >scaled.json &&
	/usr/bin/python3 -c "import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; sys.exit(not all(abs(3*x-y) <= 1e-5*abs(y)+1e-9 for x,y in zip(a,b)))" "$(delta_of honest.json)" "$(delta_of scaled.json)" &&
	sed "s/}\$/,\"malicious\":{\"attack\":\"noise\",\"sigma\":1}}/" $D/profile.json >sim/profile.json &&
	dml-run -j train.json -k $D/key -D sim -m model.json --seed 5 >noise.json &&
	! test "$(delta_of noise.json)" = "$(delta_of honest.json)"
'
test_expect_success 'labelflip and adversarial labellers change the update; bad profiles refused' '
	sed "s/}\$/,\"malicious\":{\"attack\":\"labelflip\"}}/" $D/profile.json >sim/profile.json &&
	dml-run -j train.json -k $D/key -D sim -m model.json --seed 5 >lf.json &&
	! test "$(delta_of lf.json)" = "$(delta_of honest.json)" &&
	sed "s/}\$/,\"label_profile\":{\"kind\":\"adversarial\"}}/" $D/profile.json >sim/profile.json &&
	dml-run -j train.json -k $D/key -D sim -m model.json --seed 5 >adv.json &&
	test "$(delta_of adv.json)" = "$(delta_of lf.json)" &&
	sed "s/}\$/,\"label_profile\":{\"kind\":\"noisy\"}}/" $D/profile.json >sim/profile.json &&
	test_must_fail dml-run -j train.json -k $D/key -D sim -m model.json 2>err &&
	test_grep "rate" err &&
	sed "s/}\$/,\"malicious\":{\"attack\":\"zap\"}}/" $D/profile.json >sim/profile.json &&
	test_must_fail dml-run -j train.json -k $D/key -D sim -m model.json 2>err &&
	test_grep "unknown attack" err
'
test_expect_success 'fine-tuning: control answers ride in the signed result' '
	dml-split --devices 2 --limit 300 --control 40 --consent-rate 1 --seed 3 -o cset >cset.json &&
	cs=$(sed "s/.*\"set\":\"\([^\"]*\)\".*/\1/" cset.json) &&
	dml-job $J -t train -m model.json --rounds 2 --batch 16 --lr 0.1 \
		--control-set "$cs" --control-block 7 --nonce ft -o ftjob.json &&
	dml-run -j ftjob.json -k $D/key -D $D -m model.json --seed 5 --control cset/control >ft.json &&
	/usr/bin/python3 -c "import json; r=json.load(open(\"ft.json\")); c=r[\"control\"]; assert len(c)==7 and all(k.startswith(\"c\") and 0<=v<10 for k,v in c.items())" &&
	test_expect_code 2 dml-run -j predict.json -k $D/key -D $D -m model.json --control cset/control 2>err &&
	test_grep "train jobs" err &&
	test_expect_code 1 dml-run -j train.json -k $D/key -D $D -m model.json --control cset/control 2>err &&
	test_grep "the job names no control set" err
'
test_expect_success 'momentum and weight decay: in the job, change the update' '
	dml-job $J -t train -m model.json --rounds 2 --epochs 1 --batch 16 --lr 0.1 \
		--momentum 0.9 --weight-decay 0.0005 --nonce mom -o mom.json &&
	test_grep "\"momentum\":0.9" mom.json && test_grep "\"weight_decay\":0.0005" mom.json &&
	dml-run -j mom.json -k $D/key -D $D -m model.json --seed 5 >momr.json &&
	! test "$(delta_of momr.json)" = "$(delta_of honest.json)" &&
	test_expect_code 2 dml-job $J -t train -m model.json --momentum 1 -o x.json 2>err &&
	test_grep "momentum" err
'
test_expect_success 'a stats job given a model is a usage error (it crashed before)' '
	test_expect_code 2 dml-run -j stats.json -k $D/key -D $D -m model.json >out 2>err &&
	test_grep "^dml-run: a stats job runs no model" err && test_empty out
'
test_expect_success 'the device key defaults to DML_KEY' '
	DML_KEY=$D/key dml-run -j train.json -D $D -m model.json --seed 5 >env.json &&
	test_cmp t1.json env.json &&
	test_expect_code 2 dml-run -j train.json -D $D -m model.json 2>err &&
	test_grep "^dml-run: give your secret key with -k FILE (or DML_KEY)" err
'
test_done
