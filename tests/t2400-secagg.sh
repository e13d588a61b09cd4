#!/bin/sh
# secure aggregation: dml-encrypt --scheme secagg (devices) and
# dml-aggregate --scheme secagg (the node): exact sums with dropouts,
# SecAgg+ neighbours, thresholds, and bad input at every step.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
ln -sf "$SRC_DIR/tests/helpers/mkresults" mkresults
ln -sf "$SRC_DIR/tests/helpers/rec-sign" rec-sign

./mkresults job -o job --params 10 >/dev/null
./mkresults bench -j job -n 1 --round 0 >tmpl
dml-keygen --seed t --name node -o node.key >node.pub
dml-keygen --seed t --name eve -o eve.key >eve.pub

# a device's unsigned result: 10 deltas of about +-50 (some beyond the
# clip when CLIP is small), n = 10 i
cat >mkres.py <<'EOF'
import base64, json, sys
import numpy as np
t = json.loads(open(sys.argv[1]).readline())
i = int(sys.argv[2])
d = (np.random.default_rng(i).standard_normal(10) * 50).astype("<f4")
t["values"] = {"delta": {"dtype": "f32", "shape": [10],
                         "data": base64.b64encode(d.tobytes()).decode()}}
t["n"] = t["weight"] = 10 * i
del t["from"], t["sig"]
print(json.dumps(t, sort_keys=True, separators=(",", ":")))
EOF
# compare A (secure) and P (plain) aggregates: n, weight, devices exact,
# every sum within devices x 2^-(f+1)
cat >cmp.py <<'EOF'
import base64, json, sys
a = json.loads(open(sys.argv[1]).readlines()[-1])
p = json.loads(open(sys.argv[2]).readlines()[-1])
f = a["secagg"]["frac_bits"]
x = [v for v in __import__("numpy").frombuffer(base64.b64decode(a["sum"]["delta"]["data"]), "<f8")]
y = [v for v in __import__("numpy").frombuffer(base64.b64decode(p["sum"]["delta"]["data"]), "<f8")]
bound = a["devices"] * 2.0 ** -(f + 1)
err = max(abs(u - v) for u, v in zip(x, y))
assert a["n"] == p["n"] and a["weight"] == p["weight"], (a["n"], p["n"])
assert a["devices"] == p["devices"] and a["members"] == p["members"]
assert err <= bound, (err, bound)
assert a["type"] == "dml.aggregate" and a["job"] == p["job"]
print("ok", a["devices"], a["secagg"]["dropped"], err, bound)
EOF

N=0
setup() {	# setup COUNT: devices d1..dCOUNT with keys and signed results
	N=$1
	for i in $(seq "$N"); do
		mkdir -p d$i
		[ -f d$i/key ] || dml-keygen --seed t --name d$i -o d$i/key >d$i/pub
		$PY mkres.py tmpl $i >d$i/u
		./rec-sign d$i/key d$i/u >d$i/res
	done
}
hexkey() { sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' d$1/pub; }
idx() {		# idx I: device I's index in the roster (its key's rank)
	for j in $(seq "$N"); do hexkey $j; done | sort | grep -n "$(hexkey $1)" |
		cut -d: -f1
}
dev() {		# dev I STEP [args]: device I's step
	i=$1 step=$2
	shift 2
	dml-encrypt --scheme secagg --step "$step" --state d$i/st -k d$i/key "$@"
}
node() {	# node STEP [args]
	step=$1
	shift
	dml-aggregate --scheme secagg --step "$step" --state node.st -j job \
		-k node.key "$@"
}
# round DROPSHARE DROPMASK DROPUNMASK [collect-keys options]: a whole round
# in directory r/; the devices listed (space-separated) drop before
# sharing, before masking, before answering the unmask request
round() {
	ds=" $1 " dm=" $2 " du=" $3 "
	shift 3
	rm -rf node.st d*/st r && mkdir r
	for i in $(seq "$N"); do
		dev $i advertise --seed 1 d$i/res >r/keys.$i || return 1
	done
	cat r/keys.* | node collect-keys "$@" >r/roster || return 1
	for i in $(seq "$N"); do
		case "$ds" in *" $i "*) continue ;; esac
		dev $i share -r node.pub r/roster >r/shares.$i || return 1
	done
	cat r/shares.* | node route-shares >r/inbox || return 1
	for i in $(seq "$N"); do
		case "$ds$dm" in *" $i "*) continue ;; esac
		grep "\"key\":\"$(hexkey $i)\"" r/inbox >r/inbox.$i &&
		dev $i mask -r node.pub r/inbox.$i d$i/res >r/masked.$i ||
			return 1
	done
	cat r/masked.* | node collect-masked >r/request || return 1
	for i in $(seq "$N"); do
		case "$ds$dm$du" in *" $i "*) continue ;; esac
		dev $i unmask -r node.pub r/request >r/unmask.$i || return 1
	done
	cat r/unmask.* | node unmask >r/agg
}
plain() {	# plain aggregate of the devices not listed
	for i in $(seq "$N"); do
		case " $* " in *" $i "*) continue ;; esac
		cat d$i/res
	done | dml-aggregate -j job -k node.key >r/plain
}

setup 6

test_expect_success 'help and usage' '
	dml-encrypt --help | test_grep "scheme secagg --step" - &&
	dml-aggregate --help | test_grep "collect-keys" - &&
	test_expect_code 2 dml-encrypt --scheme secagg -k d1/key --state x &&
	test_expect_code 2 dml-encrypt --scheme secagg -k d1/key --step nope \
		--state x 2>err &&
	test_grep "^dml-encrypt: --step: .nope. is not one of advertise, share, mask, unmask" err &&
	test_expect_code 2 dml-encrypt --scheme secagg -k d1/key --step mask \
		--state x 2>err && test_grep "NODE" err &&
	test_expect_code 2 dml-aggregate -j job -k node.key --step unmask \
		--state x 2>err && test_grep "scheme secagg" err &&
	test_expect_code 2 dml-aggregate -j job -k node.key --scheme secagg \
		--step collect-keys --state x --threshold 0 &&
	test_expect_code 2 dml-aggregate -j job -k node.key --scheme nope \
		--step x --state x
'
test_expect_success 'a full round: the secure sum is the plain sum within the quantization error' '
	round "" "" "" &&
	plain && $PY cmp.py r/agg r/plain >out && test_grep "^ok 6 0 " out &&
	test $(wc -l <r/roster) = 1 && test $(wc -l <r/inbox) = 6 &&
	test_grep "\"type\":\"dml.secagg.unmask-request\"" r/request &&
	test_grep "\"dropped\":\[\]" r/request
'
test_expect_success 'the node and the refining node read the aggregate as any other' '
	dml-aggregate -j job -k node.key r/agg >re &&
	test_grep "\"devices\":6" re && test_grep "\"n\":210" re
'
test_expect_success 'no masked input shows a device value in the clear' '
	! grep -q "\"values\"" r/masked.* &&
	$PY -c "
import base64, json, sys
import numpy as np
for i in range(1, 7):
    m = json.loads(open(\"r/masked.%d\" % i).read())
    y = np.frombuffer(base64.b64decode(m[\"y\"]), \"<u4\")
    assert int(y[-1]) != 10 * i, i          # n is masked too
    assert (y > 2**24).sum() >= 8, y        # masks look uniform
"
'
test_expect_success 'state files are 0600, gone once the device has answered' '
	test ! -e d1/st && test -f node.st &&
	rm -f d1/st && dev 1 advertise d1/res >k1 &&
	test "$(stat -c %a d1/st)" = 600 && rm -f d1/st
'
test_expect_success 'with --seed the keys are reproducible; without, fresh' '
	dev 1 advertise --seed 1 d1/res >a && rm d1/st &&
	dev 1 advertise --seed 1 d1/res >b && rm d1/st &&
	dev 1 advertise d1/res >c && rm d1/st &&
	test_cmp a b && ! cmp -s a c &&
	dev 1 advertise --seed 01 d1/res >d && rm d1/st && test_cmp a d &&
	test_expect_code 2 dev 1 advertise --seed s d1/res 2>err &&
	test_grep "^dml-encrypt: --seed: .s. is not an integer" err && test ! -e d1/st
'
test_expect_success 'a device dropping before masking: the sum of the others, exact' '
	round "" "3" "" && plain 3 && $PY cmp.py r/agg r/plain >out &&
	test_grep "^ok 5 1 " out &&
	test_grep "\"dropped\":\[[0-9]\]" r/request
'
test_expect_success 'a device dropping before sharing, another after masking' '
	round "2" "" "5" --threshold 4 && plain 2 &&
	$PY cmp.py r/agg r/plain >out &&
	test_grep "^ok 5 0 " out
'
test_expect_success 'a device that dropped before sharing cannot send a masked input' '
	$PY -c "
import json
m = json.load(open(\"r/masked.1\")); del m[\"sig\"], m[\"from\"]
print(json.dumps(m))" >m2 && ./rec-sign d2/key m2 >m2.sig &&
	rm -f node.st && cat r/keys.* | node collect-keys --threshold 4 >/dev/null &&
	for i in 1 3 4 5 6; do rm -f d$i/st && dev $i advertise --seed 1 d$i/res >/dev/null &&
		dev $i share -r node.pub r/roster >/dev/null || return 1; done &&
	cat r/shares.* | node route-shares >/dev/null &&
	test_must_fail node collect-masked r/masked.1 m2.sig >out 2>err &&
	test_grep "m2.sig:1: device $(idx 2) did not share its keys" err &&
	test_empty out && rm -f d*/st
'
test_expect_success 'two drop (n - t with the default t = 5 of 6 is 1): below the threshold' '
	rm -f r/agg &&
	test_must_fail round "" "1 4" "" 2>err &&
	test_grep "threshold not met" err && test_empty r/request &&
	test_grep "\"step\":\"shares\"" node.st
'
test_expect_success 'a lower --threshold survives two dropouts, exactly' '
	round "" "1 4" "" --threshold 4 && plain 1 4 &&
	$PY cmp.py r/agg r/plain >out && test_grep "^ok 4 2 " out
'
test_expect_success 'too few unmask answers: the node fails and writes nothing' '
	test_must_fail round "" "1" "2 3" --threshold 4 2>err &&
	test_grep "threshold not met" err && test_empty r/agg
'
test_expect_success 'a threshold at or below half the holders is refused' '
	rm -f node.st && cat r/keys.* >keys.all &&
	test_must_fail node collect-keys --threshold 3 keys.all >out 2>err &&
	test_grep "must be above 3" err && test_empty out && test ! -e node.st
'

setup 12
test_expect_success 'SecAgg+: 12 devices, 4 neighbours each, one dropout' '
	round "" "7" "" --neighbours 4 && plain 7 &&
	$PY cmp.py r/agg r/plain >out && test_grep "^ok 11 1 " out &&
	test_grep "\"neighbours\":4" r/roster &&
	test $($PY -c "import json; print(len(json.load(open(\"r/shares.1\"))[\"shares\"]))") = 4
'
test_expect_success 'SecAgg+: odd --neighbours rounds up to even' '
	round "" "" "" --neighbours 5 && test_grep "\"neighbours\":6" r/roster
'
test_expect_success 'SecAgg+: a share addressed to a device that is not a neighbour' '
	round "" "" "" --neighbours 4 2>/dev/null && rm -f node.st &&
	node collect-keys --neighbours 4 r/keys.* >roster2 &&
	for i in 1 2 3; do dev $i share -r node.pub roster2 >s.$i 2>/dev/null ||
		{ rm -f d$i/st && dev $i advertise --seed 1 d$i/res >/dev/null &&
		  dev $i share -r node.pub roster2 >s.$i; } || return 1; done &&
	$PY -c "
import json
r = json.load(open(\"s.1\")); ro = json.load(open(\"roster2\"))
n = len(ro[\"devices\"]); mine = {e[\"to\"] for e in r[\"shares\"]}
me = [i + 1 for i, d in enumerate(ro[\"devices\"]) if d[\"key\"] == r[\"from\"]][0]
other = min(j for j in range(1, n + 1) if j not in mine and j != me)
r[\"shares\"][0][\"to\"] = other
del r[\"sig\"]
print(json.dumps(r))" >s.bad && ./rec-sign d1/key s.bad >s.badsig &&
	cp node.st node.st.keep &&
	test_must_fail node route-shares s.2 s.badsig >out 2>err &&
	test_grep "s.badsig:1: .*not one of its neighbours (wrong device)" err &&
	test_empty out && cmp node.st node.st.keep
'

setup 6
test_expect_success 'collect-keys: a bad signature, a duplicate, a stranger, a replay' '
	rm -rf node.st d*/st && for i in 1 2 3; do dev $i advertise d$i/res >k.$i || return 1; done &&
	sed "s/\"round\":0/\"round\":1/" k.1 >k.forged &&
	test_must_fail node collect-keys k.2 k.forged >out 2>err &&
	test_grep "k.forged:1: bad signature" err && test_empty out &&
	test ! -e node.st &&
	test_must_fail node collect-keys k.1 k.2 k.1 >out 2>err &&
	test_grep "k.1:1: a second dml.secagg.keys from device .* (duplicate)" err &&
	hexkey 1 >allowed && hexkey 2 >>allowed &&
	test_must_fail node collect-keys --devices allowed k.1 k.2 k.3 2>err &&
	test_grep "k.3:1: device .* is not one of the job" err &&
	test_must_fail node collect-keys --round 1 k.1 2>err &&
	test_grep "replayed" err &&
	node collect-keys --keep-going k.1 k.forged k.2 >r2 2>err &&
	test_grep "(skipped)" err && test_grep "\"devices\":\[" r2
'
test_expect_success 'truncated and malformed records, at every step' '
	rm -f node.st && head -c 100 k.1 >trunc &&
	test_must_fail node collect-keys k.2 trunc >out 2>err &&
	test_grep "trunc:1:" err && test_empty out &&
	printf "{\"type\":\"dml.secagg.keys\",\"v\":1}\n" >mal &&
	test_must_fail node collect-keys mal 2>err && test_grep "mal:1:" err &&
	test_must_fail node collect-keys k.1 2>err &&
	test_grep "at least 2" err &&
	test_must_fail dev 1 share -r node.pub trunc 2>err &&
	test_grep "trunc:1:" err
'
test_expect_success 'steps out of order are refused' '
	round "" "" "" && rm -f node.st &&
	test_expect_code 2 node route-shares r/shares.1 2>err &&
	test_grep "node.st" err &&
	dev 1 advertise --seed 1 d1/res >/dev/null &&
	test_must_fail dev 1 mask -r node.pub r/inbox.1 d1/res 2>err &&
	test_grep "after \"shared\"" err && rm -f d1/st
'

# one round stopped before its unmasking, for the attacks that follow
partial() {
	rm -rf node.st d*/st p && mkdir p
	for i in 1 2 3 4 5 6; do dev $i advertise --seed 1 d$i/res >p/keys.$i; done
	cat p/keys.* | node collect-keys --threshold 4 >p/roster &&
	for i in 1 2 3 4 5 6; do dev $i share -r node.pub p/roster >p/shares.$i; done &&
	cat p/shares.* | node route-shares >p/inbox &&
	for i in 1 2 3 4 5 6; do
		grep "\"key\":\"$(hexkey $i)\"" p/inbox >p/inbox.$i &&
		dev $i mask -r node.pub p/inbox.$i d$i/res >p/masked.$i || return 1
	done
}
test_expect_success 'a share for another device does not open' '
	partial && $PY -c "
import json
a = json.load(open(\"p/inbox.1\")); b = json.load(open(\"p/inbox.2\"))
# the node routes device 3 share for device 2 to device 1
sa = {e[\"from\"]: e for e in a[\"shares\"]}
for e in b[\"shares\"]:
    if e[\"from\"] == 3:
        sa[3][\"ct\"] = e[\"ct\"]
del a[\"sig\"]
print(json.dumps(a))" >inbox.bad && ./rec-sign node.key inbox.bad >inbox.sig &&
	rm -f d1/st && dev 1 advertise --seed 1 d1/res >/dev/null &&
	dev 1 share -r node.pub p/roster >/dev/null &&
	test_must_fail dev 1 mask -r node.pub inbox.sig d1/res >out 2>err &&
	test_grep "inbox.sig:1: the share from device 3 does not open" err &&
	test_empty out && test_grep "\"step\":\"shared\"" d1/st
'
test_expect_success 'an inbox or request not signed by the node is refused' '
	$PY -c "
import json; a = json.load(open(\"p/inbox.1\")); del a[\"sig\"]; print(json.dumps(a))" >ib &&
	./rec-sign eve.key ib >ib.eve &&
	test_must_fail dev 1 mask -r node.pub ib.eve d1/res 2>err &&
	test_grep "signed by another key than the node" err
'
test_expect_success 'a device refuses a request listing it as dropped' '
	partial &&
	cat p/masked.2 p/masked.3 p/masked.4 p/masked.5 p/masked.6 |
		node collect-masked >p/request &&
	test_grep "\"dropped\":\[$(idx 1)\]" p/request &&
	test_must_fail dev 1 unmask -r node.pub p/request >out 2>err &&
	test_grep "lists this device as dropped: refused" err && test_empty out &&
	test -f d1/st
'
test_expect_success 'a masked input after the unmasking round started is refused' '
	dev 2 unmask -r node.pub p/request >p/unmask.2 &&
	test_must_fail node unmask p/unmask.2 p/masked.1 >out 2>err &&
	test_grep "p/masked.1:1: a masked input after the unmasking round started" err &&
	test_empty out
'
test_expect_success 'a device counted as dropped that answers anyway is refused' '
	$PY -c "
import json
q = json.load(open(\"p/request\"))
print(json.dumps({\"type\": \"dml.secagg.unmask\", \"v\": 1, \"job\": q[\"job\"],
  \"round\": q[\"round\"], \"session\": q[\"session\"], \"b\": [], \"s\": []}))" >u1 &&
	./rec-sign d1/key u1 >u1.sig &&
	test_must_fail node unmask p/unmask.2 u1.sig >out 2>err &&
	test_grep "u1.sig:1: device $(idx 1) is counted as dropped" err && test_empty out
'
test_expect_success 'a request asking for both secrets of one device is refused' '
	$PY -c "
import json
q = json.load(open(\"p/request\")); del q[\"sig\"]
q[\"survivors\"] = sorted(q[\"survivors\"] + q[\"dropped\"])
print(json.dumps(q))" >req.both && ./rec-sign node.key req.both >req.both.sig &&
	test_must_fail dev 3 unmask -r node.pub req.both.sig >out 2>err &&
	test_grep "asks for both the self-mask seed and the mask key of device $(idx 1)" err &&
	test_empty out && test -f d3/st
'
test_expect_success 'duplicate and wrong unmask answers' '
	for i in 3 4 5 6; do dev $i unmask -r node.pub p/request >p/unmask.$i || return 1; done &&
	test_must_fail node unmask p/unmask.2 p/unmask.3 p/unmask.3 2>err &&
	test_grep "a second unmask record from device" err &&
	$PY -c "
import json
u = json.load(open(\"p/unmask.3\")); del u[\"sig\"]
e = u[\"b\"][0]; e[\"share\"] = (\"%064x\" % (int(e[\"share\"], 16) ^ 1))
print(json.dumps(u))" >u3 && ./rec-sign d3/key u3 >u3.sig &&
	cat p/unmask.2 u3.sig p/unmask.4 p/unmask.5 p/unmask.6 >wrong &&
	test_must_fail node unmask wrong >out 2>err &&
	test_grep "do not match its" err && test_empty out
'
test_expect_success 'the unmasking round completes with the honest answers' '
	cat p/unmask.2 p/unmask.3 p/unmask.4 p/unmask.5 p/unmask.6 |
		node unmask >p/agg && plain 1 && $PY cmp.py p/agg r/plain >out &&
	test_grep "^ok 5 1 " out &&
	test_must_fail node unmask p/unmask.2 2>err && test_grep "\"done\"" err
'
test_expect_success 'values beyond --clip are clamped (and said so)' '
	round "" "" "" --clip 20 2>err && test_grep "values clipped" err &&
	test_grep "\"clip\":20" r/roster
'

test_expect_success 'a masked input that claims more values than it holds is refused before room is made for them' '
	./mkresults job -o sjob --task stats >/dev/null &&
	SJ=$(dml-job --id sjob) && mkdir -p s && rm -f s/* d1/st d2/st d3/st &&
	for i in 1 2 3; do
		$PY -c "
import json, sys
u = json.load(open(\"d$i/u\")); u[\"job\"] = \"$SJ\"; u[\"task\"] = \"stats\"
print(json.dumps(u))" >s/u$i && ./rec-sign d$i/key s/u$i >s/res$i &&
		dev $i advertise s/res$i >s/keys$i || return 1
	done &&
	sn() { step=$1 && shift && dml-aggregate --scheme secagg --step $step \
		--state s/node.st -j sjob -k node.key "$@"; } &&
	cat s/keys1 s/keys2 s/keys3 | sn collect-keys >s/roster &&
	for i in 1 2 3; do dev $i share -r node.pub s/roster >s/shares$i || return 1; done &&
	cat s/shares1 s/shares2 s/shares3 | sn route-shares >s/inbox &&
	grep "\"key\":\"$(hexkey 1)\"" s/inbox >s/inbox1 &&
	dev 1 mask -r node.pub s/inbox1 s/res1 >s/masked1 &&
	$PY -c "
import json
m = json.load(open(\"s/masked1\")); del m[\"sig\"]
m[\"length\"] = 2 ** 31; m[\"layout\"] = [{\"name\": \"x\", \"length\": 2 ** 31 - 1}]
print(json.dumps(m))" >s/big && ./rec-sign d1/key s/big >s/big.sig &&
	# (under ASan, which maps terabytes, without the limit)
	lim="ulimit -v 2000000" &&
	(eval "$lim" && dml-aggregate --version) >/dev/null 2>&1 || lim=: &&
	(eval "$lim" && sn collect-masked s/big.sig >out 2>err && echo 0 >rc || echo $? >rc) &&
	echo 1 >want && test_cmp want rc &&
	test_grep "s/big.sig:1: field \"y\" must hold 8589934592 bytes" err &&
	test_empty out
'
test_expect_success 'a failed write of the output is an error (exit 2), not a crash' '
	rm -rf node.st d*/st &&
	test_expect_code 2 dev 1 advertise --seed 1 d1/res >/dev/full 2>err &&
	test_grep "write error" err && ! test_grep -i "sanitizer\|double free" err &&
	for i in 1 2 3; do
		rm -f d$i/st && dev $i advertise --seed 1 d$i/res >k.$i || return 1
	done &&
	cat k.1 k.2 k.3 >keys &&
	test_expect_code 2 node collect-keys keys >/dev/full 2>err &&
	test_grep "write error" err && ! test_grep -i "sanitizer\|double free" err
'

test_done
