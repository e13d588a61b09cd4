#!/bin/sh
# dml-aggregate --rule: median, trimmed mean, Krum, multi-Krum against
# numpy; the output stays a sum; refusals (encrypted job, too few devices,
# bad rule, NaN update).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
ln -sf "$SRC_DIR/tests/helpers/mkresults" mkresults
sign() { ./mkresults sign -j job "$@"; }

# mean update (sum / weight) of the last dml.aggregate, as %.6g values
cat >mean.py <<'PYEOF'
import base64, json, sys
import numpy as np
r = [json.loads(l) for l in open(sys.argv[1])][-1]
s = np.frombuffer(base64.b64decode(r["sum"]["delta"]["data"]), "<f8")
print(" ".join("%.6g" % x for x in s / r["weight"]))
PYEOF
# the rule computed by numpy over the results' mean updates
cat >rule.py <<'PYEOF'
import base64, json, sys
import numpy as np
rule = sys.argv[2]
rows, w = [], []
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = np.frombuffer(base64.b64decode(r["values"]["delta"]["data"]), "<f4")
    rows.append(d.astype(np.float64) / r["weight"]); w.append(r["weight"])
X = np.array(rows); w = np.array(w, float); n = len(rows)
if rule == "median":
    m = np.median(X, axis=0)
elif rule.startswith("trimmed:"):
    k = int(np.floor(float(rule[8:]) * n))
    m = np.sort(X, axis=0)[k:n - k].mean(axis=0)
else:
    p = rule.split(":"); f = int(p[1]); pick = 1 if p[0] == "krum" else int(p[2])
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    sc = [np.sort(np.delete(D[i], i))[: n - f - 2].sum() for i in range(n)]
    idx = np.argsort(sc, kind="stable")[:pick]
    ww = np.ones(pick) if pick == 1 and p[0] == "krum" else w[idx]
    m = (X[idx] * ww[:, None]).sum(0) / ww.sum()
print(" ".join("%.6g" % x for x in m))
PYEOF

test_expect_success 'setup: job, node key, 5 honest and 2 attacking results' '
	./mkresults job -o job --params 3 --max-delta 1e9 &&
	dml-keygen -o node.key >node.pub &&
	cat >res.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[2,2.2,-2]},"_key":"a"}
	{"type":"dml.result","round":1,"task":"train","n":4,"weight":4,"values":{"delta":[4.4,4,-4.8]},"_key":"b"}
	{"type":"dml.result","round":1,"task":"train","n":1,"weight":1,"values":{"delta":[0.9,1.1,-1]},"_key":"c"}
	{"type":"dml.result","round":1,"task":"train","n":3,"weight":3,"values":{"delta":[3.3,3,-2.7]},"_key":"d"}
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[2.1,1.9,-2.2]},"_key":"e"}
	{"type":"dml.result","round":1,"task":"train","n":5,"weight":5,"values":{"delta":[-500,-500,500]},"_key":"x"}
	{"type":"dml.result","round":1,"task":"train","n":5,"weight":5,"values":{"delta":[5000,5000,5000]},"_key":"y"}
	EOF
	sign res.tpl >res
'

for rule in median trimmed:0.2 trimmed:0.3 krum:2 multikrum:2:3 multikrum:1:5; do
	test_expect_success "--rule $rule equals numpy" "
		dml-aggregate -j job -k node.key --rule $rule res >agg &&
		\$PY rule.py res $rule >expect &&
		\$PY mean.py agg >actual &&
		test_cmp expect actual &&
		test_grep '\"rule\":\"$rule\"' agg
	"
done

test_expect_success 'robust rules resist the attackers, the mean does not' '
	dml-aggregate -j job -k node.key res >mean &&
	$PY mean.py mean >m && test_grep "^205.123 " m &&
	for r in median trimmed:0.3 krum:2 multikrum:2:3; do
		dml-aggregate -j job -k node.key --rule $r res >agg &&
		$PY mean.py agg >m &&
		$PY -c "import sys; v=[float(x) for x in open(\"m\").read().split()]; sys.exit(not (0.9<v[0]<1.2 and 0.9<v[1]<1.2 and -1.2<v[2]<-0.9))" ||
		return 1
	done
'

test_expect_success 'Krum lists the inputs it left out; weight and members stay whole' '
	dml-aggregate -j job -k node.key --rule krum:2 res >agg &&
	test_grep "\"excluded\":\[" agg &&
	for k in x y; do test_grep "$(./mkresults key $k)" agg || return 1; done &&
	test_grep "\"weight\":22" agg && test_grep "\"devices\":7" agg
'

test_expect_success 'aggregate of robust aggregates composes (refining node)' '
	head -4 res >r1 && tail -3 res >r2 &&
	dml-aggregate -j job -k node.key --rule median r1 >a1 &&
	dml-aggregate -j job -k node.key --rule median r2 >a2 &&
	cat a1 a2 | dml-aggregate -j job -k node.key >top &&
	test_grep "\"devices\":7" top
'

test_expect_success '--rule mean is the streaming sum, byte for byte but the rule' '
	dml-aggregate -j job -k node.key res | sed "s/,\"sig\":\"[^\"]*\"//" >a &&
	dml-aggregate -j job -k node.key --rule mean res |
		sed "s/,\"rule\":\"mean\"//; s/,\"sig\":\"[^\"]*\"//" >b &&
	test_cmp a b
'

test_expect_success 'bad rules are usage errors' '
	for r in bogus trimmed:0.5 trimmed:-1 trimmed: krum:x multikrum:1 multikrum:1:0; do
		test_expect_code 2 dml-aggregate -j job -k node.key --rule $r res 2>err &&
		test_grep "rule" err || return 1
	done
'

test_expect_success 'too few updates for Krum: rejected, nothing written' '
	head -3 res >few &&
	test_expect_code 1 dml-aggregate -j job -k node.key --rule krum:1 few >out 2>err &&
	test_grep "needs at least 5 updates, got 3" err && test_empty out &&
	test_expect_code 1 dml-aggregate -j job -k node.key --rule multikrum:2:6 res >out 2>err &&
	test_grep "exceeds n - F" err
'

test_expect_success 'a NaN update gets a rerun, the rule combines the rest' '
	cat >nan.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":2,"weight":2,"values":{"delta":[1,"nan",1]},"_key":"z"}
	EOF
	sign nan.tpl >nan &&
	cat res nan | dml-aggregate -j job -k node.key --rule median >agg 2>err &&
	test_grep "dml.rerun" agg && test_grep "not finite" agg &&
	$PY rule.py res median >expect && $PY mean.py agg >actual &&
	test_cmp expect actual
'

test_expect_success 'fltrust: trust-weighted mean of updates rescaled to the reference norm' '
	cat >ref.tpl <<-\EOF &&
	{"type":"dml.result","round":1,"task":"train","n":1,"weight":1,"values":{"delta":[1,1,-1]},"_key":"node"}
	EOF
	sign ref.tpl >ref &&
	dml-aggregate -j job -k node.key --rule fltrust --reference ref res >agg &&
	$PY - <<-\EOF >expect &&
	import base64, json
	import numpy as np
	X, ref = [], None
	for l in open("res"):
	    r = json.loads(l)
	    X.append(np.frombuffer(base64.b64decode(r["values"]["delta"]["data"]), "<f4").astype(float) / r["weight"])
	g0 = np.array([1, 1, -1.0])
	t = [max(0, x @ g0 / np.linalg.norm(x) / np.linalg.norm(g0)) for x in X]
	m = sum(ti * x * np.linalg.norm(g0) / np.linalg.norm(x) for ti, x in zip(t, X)) / sum(t)
	print(" ".join("%.6g" % v for v in m))
	EOF
	$PY mean.py agg >actual && test_cmp expect actual &&
	test_grep "\"rule\":\"fltrust\"" agg &&
	test_grep "$(./mkresults key x)" agg &&
	test_expect_code 2 dml-aggregate -j job -k node.key --rule fltrust res 2>err &&
	test_grep "go together" err
'

test_expect_success 'a robust rule on a predict job is refused' '
	./mkresults job -o pjob --task predict --params 3 &&
	test_expect_code 2 dml-aggregate -j pjob -k node.key --rule median res 2>err &&
	test_grep "apply to train jobs" err
'

test_expect_success 'a robust rule on a Paillier-encrypted job is refused' '
	dml-keygen -o cust.key >/dev/null &&
	dml-keygen --paillier --seed t2210 --name cust -o cust.pkey >cust.ppub &&
	dml-refine --init 4,2 --seed 1 -o m.json &&
	dml-job -k cust.key -t train --data x -m m.json --paillier-key cust.ppub \
		--min-devices 1 --nonce p -o ejob &&
	test_expect_code 2 dml-aggregate -j ejob -k node.key --rule median res 2>err &&
	test_grep "need plaintext updates" err
'

test_done
