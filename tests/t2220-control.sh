#!/bin/sh
# The crowd control test: dml-split --control holds the control set out
# of every device and names it by CID; dml-job names it; dml-run asks its
# items adaptively among the device's own; dml-weight replays the test.
# Bad input: another control set, answers outside the sequence, a count
# the adaptive test would not give.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
SIGN=$SRC_DIR/tests/helpers/rec-sign
# field F of the dml.weight record of device folder DIR: wf WEIGHTS DIR F
wf() {
	$PY -c 'import json,sys
k = json.load(open(sys.argv[2] + "/pub"))["key"]
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["device"] == k: print(json.dumps(r.get(sys.argv[3])))' "$1" "$2" "$3"
}
asked() { $PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["control"]))' "$1"; }

test_expect_success 'setup: 6 devices (2 careful, 2 noisy, 2 adversarial) and a held-out control set of 200' '
	dml-split --devices 6 --limit 1400 --control 200 --consent-rate 1 --seed 4 \
		--labelling noisy:0.3=0.34,adversarial=0.33 -o devs >split.json &&
	for d in devs/dev-*; do
		dml-keygen --seed 1 --name $(basename $d) -o $d/key >$d/pub || return 1
	done &&
	dml-keygen --seed 1 --name customer -o c.key >/dev/null &&
	dml-keygen --seed 1 --name node -o node.key >/dev/null &&
	dml-refine --init 784,10 --seed 1 -o m0.json &&
	cs=$(sed "s/.*\"control\":{\"items\":200,\"set\":\"\([a-z0-9]*\)\".*/\1/" split.json) &&
	test -n "$cs" && echo "$cs" >cs
'

test_expect_success 'the control set is held out: no device holds its images' '
	test_grep "\"samples\":1200" split.json &&
	$PY - <<-\EOF
	import glob, hashlib
	def rows(d):
	    b = open(d + "/images-idx3-ubyte", "rb").read()[16:]
	    return {hashlib.sha256(b[i:i + 784]).digest() for i in range(0, len(b), 784)}
	ctl = rows("devs/control")
	assert len(ctl) > 190, len(ctl)
	for d in glob.glob("devs/dev-*"):
	    assert not (rows(d) & ctl), d
	EOF
'

test_expect_success 'its CID is what dml-ipfs-put gives for the items file; the key names it' '
	dml-ipfs-put -n devs/control/images-idx3-ubyte >stored &&
	test_grep "\"cid\":\"$(cat cs)\"" stored &&
	test_grep "\"set\":\"$(cat cs)\"" devs/control/key.ndjson &&
	test $($PY -c "import json; print(len(json.load(open(\"devs/control/key.ndjson\"))[\"answers\"]))") = 200
'

test_expect_success 'dml-split --control: bad sizes' '
	test_expect_code 2 dml-split --devices 2 --limit 100 --control 0 -o x 2>err &&
	test_expect_code 1 dml-split --devices 2 --limit 100 --control 99 -o y 2>err &&
	test_grep "fewer than one per device" err && ! test -e y
'

test_expect_success 'dml-job records the control test; misuse refused' '
	dml-job -k c.key -t train --data fashion-mnist -m m0.json --min-devices 1 \
		--budget 0 --control-set $(cat cs) --min-accuracy 0.5 \
		--control-block 10 --control-max 40 --control-alpha 0.05 \
		--created 2026-01-01T00:00:00Z --nonce ctl -o job.json &&
	test_grep "\"control\":{\"alpha\":0.05,\"block\":10,\"max\":40,\"min_accuracy\":0.5,\"set\":\"$(cat cs)\"}" job.json &&
	test_expect_code 2 dml-job -k c.key -t train --data fashion-mnist -m m0.json \
		--control-block 5 -o j2 2>err && test_grep "need --control-set" err &&
	test_expect_code 1 dml-job -k c.key -t train --data fashion-mnist -m m0.json \
		--budget 0 --control-set $(cat cs) --control-block 20 --control-max 10 -o j3 2>err &&
	test_grep "control.max" err && ! test -e j3
'

test_expect_success 'dml-run: careful and adversarial trainers are decided after one block, noisy ones asked more' '
	for d in devs/dev-*; do
		dml-run -j job.json -k $d/key -D $d -m m0.json --seed 3 \
			--control devs/control >$(basename $d).res || return 1
	done &&
	for d in devs/dev-*; do
		n=$(asked $(basename $d).res) &&
		case $(grep -o "\"kind\":\"[a-z]*\"" $d/profile.json) in
		*careful*|*adversarial*) test $n = 10 ;;
		*noisy*) test $n -ge 10 && test $n -le 40 && test $((n % 10)) = 0 ;;
		esac &&
		echo "$(basename $d) $n" >>asked.txt || return 1
	done &&
	cat asked.txt
'

test_expect_success 'dml-run with --seed: the same result byte for byte' '
	dml-run -j job.json -k devs/dev-0001/key -D devs/dev-0001 -m m0.json \
		--seed 3 --control devs/control >again.res &&
	test_cmp dev-0001.res again.res
'

test_expect_success 'dml-weight replays the test: careful and noisy kept, adversaries excluded' '
	cat dev-*.res >all.res &&
	dml-weight -j job.json -k node.key -w w --answers devs/control/key.ndjson all.res >kept 2>err &&
	for d in devs/dev-*; do
		case $(grep -o "\"kind\":\"[a-z]*\"" $d/profile.json) in
		*adversarial*) test "$(wf w $d kept)" = false &&
			test "$(wf w $d test)" = "\"exclude\"" ;;
		*) test "$(wf w $d kept)" = true ;;
		esac || return 1
	done &&
	test $(wc -l <kept) = 4 &&
	dml-weight -j job.json -k node.key -w w2 --answers devs/control all.res >kept2 2>/dev/null &&
	test_cmp kept kept2
'

test_expect_success 'dml-run refuses a control set that is not the job'"'"'s, and a job with none' '
	dml-split --devices 2 --limit 300 --control 50 --seed 9 -o other >/dev/null &&
	test_expect_code 1 dml-run -j job.json -k devs/dev-0001/key -D devs/dev-0001 \
		-m m0.json --control other/control >out 2>err &&
	test_empty out &&
	test_grep "other/control: the control set is bafk[a-z0-9]*, the job.s control set is $(cat cs)" err &&
	dml-job -k c.key -t train --data fashion-mnist -m m0.json --min-devices 1 \
		--budget 0 --nonce plain -o plain.json &&
	test_expect_code 1 dml-run -j plain.json -k devs/dev-0001/key -D devs/dev-0001 \
		-m m0.json --control devs/control 2>err &&
	test_grep "the job names no control set" err
'

test_expect_success 'dml-weight refuses an answer key or folder of another control set' '
	test_expect_code 1 dml-weight -j job.json -k node.key -w wx \
		--answers other/control/key.ndjson all.res >out 2>err &&
	test_grep "key.ndjson:1: the answer key is for control set" err &&
	test_empty out && ! test -e wx &&
	test_expect_code 1 dml-weight -j job.json -k node.key -w wx \
		--answers other/control all.res 2>err &&
	test_grep "other/control: the control set is" err &&
	sed "s/,\"set\":\"[a-z0-9]*\"//" devs/control/key.ndjson >noset.ndjson &&
	test_expect_code 1 dml-weight -j job.json -k node.key -w wx \
		--answers noset.ndjson all.res 2>err &&
	test_grep "(none named)" err
'

# re-sign a result of device DIR after python code edits r["control"]
resign() {
	$PY -c 'import json,sys
r = json.load(open(sys.argv[1]))
del r["sig"]
c = r["control"]
exec(sys.argv[2])
print(json.dumps(r))' "$1" "$2" >tmp.json && $SIGN "$3/key" tmp.json
}

test_expect_success 'answers for an item outside the sequence: the trainer is excluded' '
	c=$(ls devs/dev-*/profile.json | xargs grep -l "\"careful\"" | head -1 | xargs dirname) &&
	b=$(basename $c) &&
	resign $b.res "
key = json.load(open(\"devs/control/key.ndjson\"))[\"answers\"]
first = sorted(c)[0]
out = next(k for k in sorted(key) if k not in c)
del c[first]; c[out] = key[out]" $c >forged.res &&
	grep -v "$(sed "s/.*\"from\":\"\([0-9a-f]*\)\".*/\1/" $b.res)" all.res >rest.res &&
	cat rest.res forged.res | dml-weight -j job.json -k node.key -w wo \
		--answers devs/control/key.ndjson >/dev/null 2>err &&
	test "$(wf wo $c kept)" = false &&
	wf wo $c reason | test_grep "not among the 10 of its sequence" -
'

test_expect_success 'answers the adaptive test would not have stopped at (8 of 10 right), or past its stop: excluded' '
	c=$(ls devs/dev-*/profile.json | xargs grep -l "\"careful\"" | head -1 | xargs dirname) &&
	b=$(basename $c) &&
	resign $b.res "
for k in sorted(c)[:2]: c[k] = (c[k] + 1) % 10" $c >short.res &&
	cat rest.res short.res | dml-weight -j job.json -k node.key -w ws \
		--answers devs/control/key.ndjson >/dev/null 2>err &&
	wf ws $c reason | test_grep "answered 10 control items; the adaptive test asks more" - &&
	sed "s/\"kind\":\"careful\"/\"kind\":\"noisy\",\"rate\":0.3/" $c/profile.json >p &&
	mkdir -p noisy && cp $c/images-idx3-ubyte $c/labels-idx1-ubyte $c/key noisy/ &&
	sed "s/\"id\":\"dev-[0-9]*\"/\"id\":\"noisy\"/" p >noisy/profile.json &&
	dml-run -j job.json -k $c/key -D noisy -m m0.json --seed 11 \
		--control devs/control >noisy.res &&
	n=$(asked noisy.res) && echo "noisy asked $n" &&
	test $n -gt 10 &&
	resign noisy.res "
key = json.load(open(\"devs/control/key.ndjson\"))[\"answers\"]
for k in c: c[k] = key[k]" $c >perfect.res &&
	cat rest.res perfect.res | dml-weight -j job.json -k node.key -w wp \
		--answers devs/control/key.ndjson >/dev/null 2>err &&
	wf wp $c reason | test_grep "answered $n control items; the adaptive test stops at 10" -
'

test_expect_success 'the adaptive test decides, not a fixed level: 5 of 10 kept at standard chance' '
	dml-job -k c.key -t train --data fashion-mnist -m m0.json --min-devices 1 \
		--budget 0 --control-set $(cat cs) --nonce chance -o job0.json &&
	c=$(ls devs/dev-*/profile.json | xargs grep -l "\"careful\"" | head -1 | xargs dirname) &&
	dml-run -j job0.json -k $c/key -D $c -m m0.json --seed 3 \
		--control devs/control >c0.res &&
	test $(asked c0.res) = 10 &&
	resign c0.res "
for k in sorted(c)[:5]: c[k] = (c[k] + 1) % 10" $c >half.res &&
	dml-weight -j job0.json -k node.key -w wh --answers devs/control/key.ndjson \
		half.res >/dev/null &&
	test "$(wf wh $c kept)" = true && test "$(wf wh $c test)" = "\"keep\"" &&
	test "$(wf w devs/dev-0001 test)" != null
'

test_expect_success 'a trainer with no control answers is excluded' '
	c=$(ls devs/dev-*/profile.json | xargs grep -l "\"careful\"" | head -1 | xargs dirname) &&
	resign $(basename $c).res "r[\"control\"] = {}" $c >mute.res &&
	cat rest.res mute.res | dml-weight -j job.json -k node.key -w wm \
		--answers devs/control/key.ndjson >/dev/null 2>err &&
	test "$(wf wm $c reason)" = "\"no control answers\""
'

test_done
