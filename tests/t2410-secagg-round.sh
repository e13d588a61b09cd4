#!/bin/sh
# examples/quickstart/secagg-round.sh: one training round with secure
# aggregation and seeded dropouts, at a small scale.
. "$(dirname "$0")/lib.sh"

S=$SRC_DIR/examples/quickstart/secagg-round.sh
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1 JOBS=2

dml-split --devices 8 -o devices --partition dirichlet --alpha 0.5 --seed 3 \
	--limit 4000 >split.json
for d in devices/dev-*; do
	dml-keygen --seed 3 --name "$(basename "$d")" -o "$d/key" >"$d/pub"
done
for w in developer fed1; do dml-keygen --seed 3 --name $w -o $w.key >$w.pub; done
ls -d devices/dev-* >all
dml-refine --init 784,16,10 --seed 3 -o model-0.json
dml-job -k developer.key -t train --data fashion-mnist -m model-0.json --rounds 1 \
	--epochs 1 --batch 32 --lr 0.1 --min-devices 2 \
	--created 2026-01-01T00:00:00Z --deadline 2026-02-01T00:00:00Z \
	--nonce t -o job.json

test_expect_success 'usage' '
	test_expect_code 2 sh $S job.json 2>err && test_grep usage err
'
test_expect_success 'a round with a quarter of the devices dropping' '
	sh $S job.json model-0.json 0 fed1.key all out 0.25 3 >agg.json &&
	test $(wc -l <out/dropouts) = 2 &&
	test_grep "\"type\":\"dml.aggregate\"" agg.json &&
	test_grep "\"dropped\":[12]" agg.json
'
test_expect_success 'its sum is the plain sum of the devices that sent updates' '
	for f in out/dev/*.mask; do cat "${f%.mask}.result" || return 1; done |
		dml-aggregate -j job.json -k fed1.key >plain.json &&
	$PY -c "
import base64, json
import numpy as np
a = json.load(open(\"agg.json\")); p = json.load(open(\"plain.json\"))
x = np.frombuffer(base64.b64decode(a[\"sum\"][\"delta\"][\"data\"]), \"<f8\")
y = np.frombuffer(base64.b64decode(p[\"sum\"][\"delta\"][\"data\"]), \"<f8\")
bound = a[\"devices\"] * 2.0 ** -(a[\"secagg\"][\"frac_bits\"] + 1)
assert a[\"n\"] == p[\"n\"] and a[\"members\"] == p[\"members\"]
assert abs(x - y).max() <= bound, (abs(x - y).max(), bound)
"
'
test_expect_success 'the refining node makes the next model from it' '
	dml-aggregate -j job.json -k fed1.key --round 0 agg.json |
		dml-refine -m model-0.json -o model-1.json &&
	test_grep "\"type\":\"dml.model\"" model-1.json
'
test_expect_success 'the same seed gives the same aggregate, byte for byte' '
	sh $S job.json model-0.json 0 fed1.key all out2 0.25 3 >agg2.json &&
	test_cmp agg.json agg2.json
'
test_expect_success 'SecAgg+ neighbours and no dropouts' '
	NEIGHBOURS=4 sh $S job.json model-0.json 0 fed1.key all out3 0 3 >agg3.json &&
	test_grep "\"neighbours\":4" agg3.json && test_grep "\"dropped\":0" agg3.json
'
test_expect_success 'too many dropouts: exit 1, no aggregate' '
	test_must_fail sh $S job.json model-0.json 0 fed1.key all out4 0.75 3 \
		>agg4.json 2>err && test_grep "threshold not met" err &&
	test_empty agg4.json
'

test_done
