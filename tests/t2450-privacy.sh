#!/bin/sh
# dml-privacy: clipping, central and distributed noise, the accountant and
# its budget, dml-job --dp-*, dml-report --privacy, and bad input.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
ln -sf "$SRC_DIR/tests/helpers/rec-sign" rec-sign

# norm FILE [FIELD]: L2 norm of the first record's update (values.delta
# of a result, sum.delta of an aggregate), in f64 over the stored values
cat >norm.py <<'EOF'
import base64, json, sys
import numpy as np
r = json.loads(open(sys.argv[1]).readline())
t = r["values"]["delta"] if r["type"] == "dml.result" else r["sum"]["delta"]
a = np.frombuffer(base64.b64decode(t["data"]), "<f4" if t["dtype"] == "f32" else "<f8")
print(repr(float(np.linalg.norm(a.astype(np.float64)))))
EOF
# noisesd A B: sd of (B - A) over the sums of two aggregates
cat >noisesd.py <<'EOF'
import base64, json, sys
import numpy as np
def s(f):
    r = [json.loads(l) for l in open(f) if '"dml.aggregate"' in l][0]
    return np.frombuffer(base64.b64decode(r["sum"]["delta"]["data"]), "<f8")
d = s(sys.argv[2]) - s(sys.argv[1])
print("%.6f %.6f" % (d.mean(), d.std()))
EOF
# field FILE NAME: a top-level field of the last record, as JSON
field() {
	$PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print(json.dumps(r[sys.argv[2]], sort_keys=True))' "$1" "$2"
}

dml-split --devices 4 --limit 200 --consent-rate 1 --seed 3 -o devs >/dev/null
for d in devs/dev-*; do
	dml-keygen --seed t --name "$(basename $d)" -o $d/key >/dev/null
done
D1=devs/dev-0001 D2=devs/dev-0002
dml-keygen --seed t --name cust -o cust.key >/dev/null
dml-keygen --seed t --name node -o node.key >/dev/null
dml-keygen --seed t --name other -o other.key >/dev/null
dml-refine --init 784,10 --seed 1 -o model.json
J="-k cust.key --data fashion-mnist -t train -m model.json --rounds 3 --batch 10
 --created 2026-01-01T00:00:00Z --budget 0 --min-devices 2"
DP="--dp-clip 10 --dp-noise 2 --dp-epsilon 3 --dp-sample-rate 1"
dml-job $J --nonce c $DP -o central.json
dml-job $J --nonce d $DP --dp-mode distributed -o dist.json
dml-job $J --nonce n -o nodp.json
dml-job $J --nonce t --dp-clip 10 --dp-noise 1 --dp-epsilon 3 -o tight.json
dml-job $J --nonce o $DP -o otherjob.json
# runall JOB ROUND EXT: round R of every device, unclipped, in dev-*.EXT
runall() {
	for d in devs/dev-*; do
		dml-run -j $1 -k $d/key -D $d -m model.json --round $2 --seed 1 \
			>$(basename $d).$3 || return 1
	done
}

test_expect_success 'help, version and usage errors' '
	dml-privacy --help >out && test_grep "^usage: dml-privacy clip" out &&
	dml-privacy --version >out && test_grep "dml-privacy (dml)" out &&
	test_expect_code 2 dml-privacy 2>err &&
	test_grep "^dml-privacy: give a command: clip noise account" err &&
	test_expect_code 2 dml-privacy blur -j central.json 2>err &&
	test_grep "^dml-privacy: .blur. is not a command" err &&
	test_expect_code 2 dml-privacy clip -k $D1/key 2>err &&
	test_grep "^dml-privacy: clip: -j JOB is required" err &&
	test_expect_code 2 dml-privacy clip -j central.json 2>err &&
	test_grep "^dml-privacy: clip: give your secret key with -k FILE (or DML_KEY)" err &&
	test_expect_code 2 dml-privacy noise -j central.json -k node.key --spent x 2>err &&
	test_grep "^dml-privacy: noise: --spent: not an option of this command" err &&
	test_expect_code 2 dml-privacy account -j central.json --seed 1 2>err &&
	test_grep "^dml-privacy: account: --seed: not an option of this command" err &&
	test_expect_code 2 dml-privacy clip -j central.json -k $D1/key --seed 9223372036854775808 2>err &&
	test_grep "^dml-privacy: clip: --seed: .9223372036854775808. is out of range" err &&
	test_expect_code 2 dml-privacy clip -j central.json -k $D1/key --bogus 2>err &&
	test_grep "^dml-privacy: clip: --bogus: unknown option" err &&
	test_expect_code 2 dml-privacy clip -j nosuch.json -k $D1/key 2>err &&
	test_grep "^dml-privacy: clip: nosuch.json: No such file" err
'

test_expect_success 'dml-job --dp-*: the job carries "privacy"' '
	test "$(field central.json privacy)" = "{\"clip\": 10, \"delta\": 1e-05, \"epsilon\": 3, \"mode\": \"central\", \"noise\": 2, \"sample_rate\": 1}" &&
	test "$($PY -c "import json; print(json.load(open(\"dist.json\"))[\"privacy\"][\"mode\"])")" = distributed
'

test_expect_success 'dml-job refuses bad --dp-* options (exit 2)' '
	test_expect_code 2 dml-job $J --dp-clip -1 --dp-noise 1 --dp-epsilon 1 2>err &&
	test_grep "privacy.clip.* must be a positive number" err &&
	test_expect_code 2 dml-job $J --dp-clip 1 --dp-noise 1 2>err &&
	test_grep "needs --dp-clip, --dp-noise and --dp-epsilon" err &&
	test_expect_code 2 dml-job $J $DP --dp-mode loud 2>err &&
	test_grep "neither central nor distributed" err &&
	test_expect_code 2 dml-job $J $DP --dp-delta 1 2>err &&
	test_expect_code 2 dml-job $J $DP --dp-sample-rate 0 2>err &&
	test_expect_code 2 dml-job $J $DP --dp-noise x 2>err &&
	test_expect_code 2 dml-job -k cust.key --data fashion-mnist -t stats \
		--features 784 --classes 10 $DP 2>err &&
	test_grep "apply to train jobs" err
'

test_expect_success 'dml-job: an encrypted job takes distributed DP only' '
	dml-keygen --paillier --seed t2450 --name cust -o cust.pkey >cust.ppub &&
	test_expect_code 2 dml-job $J --nonce p $DP --paillier-key cust.ppub 2>err &&
	test_grep "an encrypted job takes --dp-mode distributed" err &&
	dml-job $J --nonce p $DP --dp-mode distributed --paillier-key cust.ppub \
		-o pdist.json &&
	test "$($PY -c "import json; j = json.load(open(\"pdist.json\")); print(j[\"privacy\"][\"mode\"], j[\"encryption\"][\"scheme\"])")" = "distributed paillier"
'

test_expect_success 'clip: the update is clipped to the norm and re-signed by the device' '
	runall central.json 0 raw &&
	$PY -c "import sys; assert float(sys.argv[1]) > 10" "$($PY norm.py dev-0001.raw)" &&
	for d in devs/dev-*; do
		b=$(basename $d) &&
		dml-privacy clip -j central.json -k $d/key $b.raw >$b.res || return 1
	done &&
	n=$($PY norm.py dev-0001.res) &&
	$PY -c "import sys; n = float(sys.argv[1]); assert 10 - 1e-5 < n <= 10, n" "$n" &&
	test "$(field dev-0001.res privacy)" = "{\"clip\": 10, \"mode\": \"central\", \"noise_sd\": 0}" &&
	test "$(field dev-0001.res from)" = "$(field dev-0001.raw from)" &&
	cat dev-*.res >all.res &&
	dml-aggregate -j central.json -k node.key all.res >plain.agg &&
	test "$(field plain.agg devices)" = 4
'

test_expect_success 'clip leaves an update already inside the ball alone' '
	dml-job $J --nonce big --dp-clip 1e6 --dp-noise 1 --dp-epsilon 100 -o big.json &&
	dml-run -j big.json -k $D1/key -D $D1 -m model.json --seed 1 >big.raw &&
	dml-privacy clip -j big.json -k $D1/key big.raw >big.res &&
	$PY -c "
import json
a, b = (json.loads(open(f).readline()) for f in (\"big.raw\", \"big.res\"))
assert a[\"values\"] == b[\"values\"]
"
'

test_expect_success 'noise: central noise of sd noise*clip, deterministic with --seed' '
	dml-privacy noise -j central.json -k node.key --seed 7 plain.agg >n1.agg &&
	dml-privacy noise -j central.json -k node.key --seed 7 plain.agg >n2.agg &&
	dml-privacy noise -j central.json -k node.key --seed 8 plain.agg >n3.agg &&
	dml-privacy noise -j central.json -k node.key plain.agg >n4.agg &&
	dml-privacy noise -j central.json -k node.key plain.agg >n5.agg &&
	test_cmp n1.agg n2.agg &&
	! cmp -s n1.agg n3.agg && ! cmp -s n4.agg n5.agg &&
	set -- $($PY noisesd.py plain.agg n1.agg) &&
	# 7850 coordinates: the sample sd is within 3% of 20, the mean near 0
	$PY -c "import sys; m, s = map(float, sys.argv[1:]); assert abs(s - 20) < 0.6 and abs(m) < 1, (m, s)" "$1" "$2" &&
	test "$(field n1.agg privacy)" = "{\"clip\": 10, \"mode\": \"central\", \"noise\": 2, \"noise_sd\": 20}" &&
	dml-refine -m model.json -o model-1.json n1.agg
'

test_expect_success 'account: epsilon of the Gaussian mechanism at q = 1 (closed form)' '
	dml-privacy account -j central.json -k node.key --spent spent n1.agg >rec 2>err &&
	test_cmp rec spent &&
	test_grep "note: round 0 is the last the budget allows (one more would bring epsilon to 3.189, past 3)" err &&
	test "$(field rec rounds)" = 1 && test "$(field rec round)" = 0 &&
	test "$(field rec accountant)" = "\"rdp-sgm\"" &&
	test "$(field rec orders | tr -d " " | cut -c1-21)" = "[1.1,1.2,1.3,1.4,1.5," &&
	$PY -c "
import json, math
r = json.loads(open(\"rec\").readline())
orders = [1 + x / 10 for x in range(1, 100)] + list(range(12, 64))
assert r[\"orders\"] == orders
z, d = 2, 1e-5
e = min(a / (2 * z * z) - (math.log(d) + math.log(a)) / (a - 1) + math.log((a - 1) / a) for a in orders)
assert abs(r[\"epsilon\"] - e) < 1e-12, (r[\"epsilon\"], e)
assert abs(e - 2.1657156590294) < 1e-9
" &&
	test "$(field rec from)" = "$(dml-keygen -p node.key | sed "s/.*\"key\":\(\"[0-9a-f]*\"\).*/\1/")"
'

test_expect_success 'account: the key from $DML_KEY when -k is absent' '
	DML_KEY=node.key dml-privacy account -j central.json n1.agg >rec2 2>err &&
	test_cmp rec rec2
'

test_expect_success 'account: the same round twice is refused, the file unchanged' '
	cp spent spent.before &&
	test_must_fail dml-privacy account -j central.json --spent spent n1.agg >out 2>err &&
	test_grep "^dml-privacy: account: spent: round 0 is already accounted" err &&
	test_empty out && test_cmp spent.before spent
'

test_expect_success 'account: the round that would pass the budget is refused, nothing written' '
	runall central.json 1 raw1 &&
	for d in devs/dev-*; do
		b=$(basename $d) &&
		dml-privacy clip -j central.json -k $d/key $b.raw1 >$b.res1 || return 1
	done &&
	cat dev-*.res1 | dml-aggregate -j central.json -k node.key |
		dml-privacy noise -j central.json -k node.key --seed 7 >r1.agg &&
	test_must_fail dml-privacy account -j central.json --spent spent -o rec1 r1.agg 2>err &&
	test_grep "^dml-privacy: account: r1.agg:1: round 1 would bring epsilon to 3.189.*past the job.s budget 3" err &&
	test_cmp spent.before spent && ! test -e rec1
'

test_expect_success 'account: a budget already exceeded is refused' '
	$PY -c "
import json
r = json.loads(open(\"spent\").readline())
r[\"epsilon\"] = 99; del r[\"sig\"]; del r[\"from\"]
print(json.dumps(r, separators=(\",\", \":\"), sort_keys=True))
" >over &&
	test_must_fail dml-privacy account -j central.json --spent over r1.agg >out 2>err &&
	test_grep "^dml-privacy: account: over:1: the budget is already exceeded: epsilon 99" err &&
	test_empty out
'

test_expect_success 'account: a budget too small for one round refuses round 0' '
	dml-run -j tight.json -k $D1/key -D $D1 -m model.json --seed 1 |
		dml-privacy clip -j tight.json -k $D1/key >t.res &&
	dml-run -j tight.json -k $D2/key -D $D2 -m model.json --seed 1 |
		dml-privacy clip -j tight.json -k $D2/key >>t.res &&
	dml-aggregate -j tight.json -k node.key t.res |
		dml-privacy noise -j tight.json -k node.key >t.agg &&
	test_must_fail dml-privacy account -j tight.json --spent tspent t.agg >out 2>err &&
	test_grep "round 0 would bring epsilon to 4.729" err &&
	test_empty out && ! test -e tspent
'

test_expect_success 'distributed: each device adds its share, the sum carries the noise' '
	runall dist.json 0 draw &&
	dml-privacy clip -j dist.json -k $D1/key --seed 5 dev-0001.draw >d1a &&
	dml-privacy clip -j dist.json -k $D1/key --seed 5 dev-0001.draw >d1b &&
	dml-privacy clip -j dist.json -k $D1/key --seed 6 dev-0001.draw >d1c &&
	test_cmp d1a d1b && ! cmp -s d1a d1c &&
	test "$(field d1a privacy)" = "{\"clip\": 10, \"mode\": \"distributed\", \"noise_sd\": 14.14213562373095}" &&
	for d in devs/dev-*; do
		b=$(basename $d) &&
		dml-privacy clip -j dist.json -k $d/key --seed 5 $b.draw >$b.dres || return 1
	done &&
	cat dev-*.dres | dml-aggregate -j dist.json -k node.key >d.agg &&
	dml-privacy account -j dist.json d.agg >drec &&
	test "$(field drec mode)" = "\"distributed\"" && test "$(field drec devices)" = 4 &&
	! test_grep "\"sig\"" drec &&
	test_must_fail dml-privacy noise -j dist.json -k node.key d.agg >out 2>err &&
	test_grep "distributed: the devices add the noise" err && test_empty out &&
	head -1 dev-0001.dres | dml-aggregate -j dist.json -k node.key >d1.agg &&
	test_must_fail dml-privacy account -j dist.json d1.agg >out 2>err &&
	test_grep "d1.agg:1: 1 devices: their noise shares sum to less" err &&
	test_empty out
'

test_expect_success 'distributed DP composes with Paillier encryption (noise before encryption)' '
	: >pclear && : >penc &&
	for d in devs/dev-*; do
		dml-run -j pdist.json -k $d/key -D $d -m model.json --seed 1 |
			dml-privacy clip -j pdist.json -k $d/key --seed 5 >pc &&
		cat pc >>pclear &&
		dml-encrypt --scheme paillier -j pdist.json -k $d/key pc >>penc ||
			return 1
	done &&
	dml-aggregate -j pdist.json -k node.key penc >penc.agg &&
	dml-privacy account -j pdist.json penc.agg >prec &&
	test "$(field prec devices)" = 4 &&
	dml-encrypt -d -k cust.key --paillier-key cust.pkey -j pdist.json \
		penc.agg >pdec.agg &&
	$PY -c "
import base64, json
import numpy as np
r = json.loads(open(\"pdec.agg\").readline())
a = np.frombuffer(base64.b64decode(r[\"sum\"][\"delta\"][\"data\"]), \"<f8\")
b = sum(np.frombuffer(base64.b64decode(json.loads(l)[\"values\"][\"delta\"][\"data\"]), \"<f4\").astype(np.float64) for l in open(\"pclear\"))
# 4 values each rounded to 2^-14: the sums agree within 4 * 2^-15
assert np.abs(a - b).max() <= 4 * 2.0 ** -15, np.abs(a - b).max()
"
'

test_expect_success 'dml-report --privacy: the privacy spent goes into the report' '
	dml-aggregate -j central.json -k node.key all.res |
		dml-privacy noise -j central.json -k node.key --seed 3 >f.agg &&
	dml-report -j central.json -k node.key --no-seal --privacy spent f.agg >rep &&
	$PY -c "
import json
p = json.loads(open(\"rep\").readline())[\"privacy\"]
s = json.loads(open(\"spent\").readline())
assert p[\"epsilon\"] == s[\"epsilon\"] and p[\"delta\"] == 1e-05 and p[\"rounds\"] == 1, p
assert \"Differential privacy\" in json.loads(open(\"rep\").readline())[\"render\"][\"markdown\"]
"
'

test_expect_success 'bad input: malformed record, with file:line, no output' '
	{ cat dev-0001.raw && echo "{\"type\":"; } >bad &&
	test_must_fail dml-privacy clip -j central.json -k $D1/key -o written bad 2>err &&
	test_grep "^dml-privacy: clip: bad:2: " err && ! test -e written
'

test_expect_success 'bad input: a NaN in the update' '
	$PY -c "
import base64, json, struct
r = json.loads(open(\"dev-0001.raw\").readline())
t = r[\"values\"][\"delta\"]
a = bytearray(base64.b64decode(t[\"data\"]))
a[40:44] = struct.pack(\"<f\", float(\"nan\"))
t[\"data\"] = base64.b64encode(bytes(a)).decode()
print(json.dumps(r, separators=(\",\", \":\"), sort_keys=True))
" | ./rec-sign $D1/key >nan.raw &&
	test_must_fail dml-privacy clip -j central.json -k $D1/key -o written nan.raw 2>err &&
	test_grep "^dml-privacy: clip: nan.raw:1: tensor \"delta\": element 10 is not finite" err &&
	! test -e written
'

test_expect_success 'bad input: a job without "privacy"' '
	dml-run -j nodp.json -k $D1/key -D $D1 -m model.json --seed 1 >nodp.raw &&
	test_must_fail dml-privacy clip -j nodp.json -k $D1/key nodp.raw >out 2>err &&
	test_grep "^dml-privacy: clip: nodp.json:1: the job has no \"privacy\" parameters" err &&
	test_empty out
'

test_expect_success 'bad input: a job with a negative clip norm' '
	$PY -c "
import json
r = json.load(open(\"central.json\"))
r[\"privacy\"][\"clip\"] = -1
print(json.dumps(r, separators=(\",\", \":\"), sort_keys=True))
" | ./rec-sign cust.key >neg.json &&
	test_must_fail dml-privacy clip -j neg.json -k $D1/key dev-0001.raw >out 2>err &&
	test_grep "^dml-privacy: clip: neg.json:1: field \"privacy.clip\" must be a positive number" err &&
	test_empty out
'

test_expect_success 'bad input: a result of another job, another device, clipped twice' '
	test_must_fail dml-privacy clip -j otherjob.json -k $D1/key dev-0001.raw >out 2>err &&
	test_grep "^dml-privacy: clip: dev-0001.raw:1: the result is for job .*, not " err &&
	test_empty out &&
	test_must_fail dml-privacy clip -j central.json -k $D2/key dev-0001.raw >out 2>err &&
	test_grep "dev-0001.raw:1: the result is signed by another key than -k" err &&
	test_must_fail dml-privacy clip -j central.json -k $D1/key dev-0001.res >out 2>err &&
	test_grep "dev-0001.res:1: the result already has \"privacy\"" err &&
	test_empty out &&
	{ cat dev-0001.raw && cat dev-0002.raw; } >two &&
	test_must_fail dml-privacy clip -j central.json -k $D1/key -o written two 2>err &&
	test_grep "two:2: the result is signed by another key" err && ! test -e written
'

test_expect_success 'bad input: aggregates (forged, of another job, not noised)' '
	sed "s/\"devices\":4/\"devices\":5/" plain.agg >forged.agg &&
	test_must_fail dml-privacy noise -j central.json -k node.key forged.agg >out 2>err &&
	test_grep "^dml-privacy: noise: forged.agg:1: " err && test_empty out &&
	test_must_fail dml-privacy noise -j otherjob.json -k node.key plain.agg >out 2>err &&
	test_grep "plain.agg:1: the aggregate is for job" err &&
	test_must_fail dml-privacy noise -j central.json -k other.key plain.agg >out 2>err &&
	test_grep "signed by another key than -k" err &&
	test_must_fail dml-privacy noise -j central.json -k node.key n1.agg >out 2>err &&
	test_grep "already has \"privacy\"" err &&
	test_must_fail dml-privacy account -j central.json plain.agg >out 2>err &&
	test_grep "plain.agg:1: the aggregate carries no central noise" err &&
	test_empty out &&
	cat n1.agg n3.agg >twoagg &&
	test_must_fail dml-privacy account -j central.json twoagg >out 2>err &&
	test_grep "twoagg:2: more than one aggregate" err &&
	test_must_fail dml-privacy account -j central.json /dev/null >out 2>err &&
	test_grep "empty input: no aggregate" err
'

test_expect_success 'bad input: a --spent file of another job' '
	$PY -c "
import json, subprocess
r = json.loads(open(\"spent\").readline())
del r[\"sig\"]; del r[\"from\"]
r[\"job\"] = subprocess.check_output([\"dml-job\", \"--id\", \"otherjob.json\"]).decode().strip()
print(json.dumps(r, separators=(\",\", \":\"), sort_keys=True))
" >wrongjob &&
	test_must_fail dml-privacy account -j central.json --spent wrongjob r1.agg >out 2>err &&
	test_grep "^dml-privacy: account: wrongjob:1: a dml.privacy record of job .*, not " err &&
	test_empty out &&
	test_must_fail dml-report -j central.json -k node.key --no-seal --privacy wrongjob f.agg >out 2>err &&
	test_grep "^dml-report: wrongjob:1: a dml.privacy record of job" err &&
	test_empty out
'

test_expect_success 'bad input: a privacy ledger whose rounds go back (dml-privacy and dml-report alike)' '
	$PY -c "
import json
r = json.loads(open(\"spent\").readline())
del r[\"sig\"]; del r[\"from\"]
for rd, e in ((1, r[\"epsilon\"] * 2), (0, r[\"epsilon\"])):
    r[\"round\"] = rd; r[\"epsilon\"] = e
    print(json.dumps(r, separators=(\",\", \":\"), sort_keys=True))
" >backward &&
	test_must_fail dml-privacy account -j central.json --spent backward r1.agg >out 2>err &&
	test_grep "^dml-privacy: account: backward:2: round 0 after round 1" err && test_empty out &&
	test_must_fail dml-report -j central.json -k node.key --no-seal --privacy backward f.agg >out 2>err &&
	test_grep "^dml-report: backward:2: round 0 after round 1" err && test_empty out
'

test_expect_success 'clip passes dml.declined on and noise dml.rerun, unchanged' '
	printf "{\"job\":\"x\",\"type\":\"dml.declined\",\"z\":[1,2]}\n" >dec &&
	printf "{\"a\":1,\"type\":\"dml.rerun\"}\n" >rr &&
	cat dec dev-0001.raw dec | dml-privacy clip -j central.json -k $D1/key >pass &&
	test $(wc -l <pass) = 3 &&
	sed -n 1p pass >l1 && sed -n 3p pass >l3 && test_cmp dec l1 && test_cmp dec l3 &&
	sed -n 2p pass >l2 && test "$(field l2 privacy)" = "{\"clip\": 10, \"mode\": \"central\", \"noise_sd\": 0}" &&
	cat rr plain.agg | dml-privacy noise -j central.json -k node.key --seed 7 >pass &&
	sed -n 1p pass >l1 && test_cmp rr l1 &&
	sed -n 2p pass >l2 && sed -n 1p n1.agg >want && test_cmp want l2
'

test_expect_success 'examples/experiments/privacy.sh runs and writes epsilon against accuracy' '
	OUT=exp DEVICES=20 LIMIT=400 Q=0.5 ROUNDS=2 ZS="1 2" JOBS=1 \
		sh "$SRC_DIR/examples/experiments/privacy.sh" >exp.out &&
	test $(wc -l <exp/privacy/privacy.tsv) = 4 &&
	test_grep "^0	inf	2	0\." exp/privacy/privacy.tsv &&
	test_grep "^2	[0-9.]*	2	0\." exp/privacy/privacy.tsv &&
	test_grep "<svg" exp/privacy/privacy.svg &&
	test $(wc -l <exp/privacy/z-1/spent.ndjson) = 2
'

test_done
