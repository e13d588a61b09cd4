#!/bin/sh
# The CNN through the whole loop on a small slice: dml-split, dml-job
# (arch cnn), dml-run train on three devices, dml-aggregate, dml-refine,
# dml-eval, two rounds; the trained model beats the initial one.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
D=/usr/share/datasets/fashion-mnist
acc() { sed 's/.*"accuracy":\([0-9.e-]*\),.*/\1/' "$1"; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

test_expect_success 'setup: 3 devices of 400 images, a 1000-image test slice, keys' '
	dml-split --devices 3 --limit 1200 --consent-rate 1 --seed 2 -o devs >/dev/null &&
	dml-split --devices 1 --idx $D/t10k-images-idx3-ubyte.gz $D/t10k-labels-idx1-ubyte.gz \
		--limit 1000 --consent-rate 1 -o test >/dev/null &&
	for d in devs/dev-*; do
		dml-keygen --seed 1 --name $(basename $d) -o $d/key >/dev/null || return 1
	done &&
	dml-keygen --seed 1 --name customer -o c.key >/dev/null &&
	dml-keygen --seed 1 --name fed -o f.key >/dev/null &&
	dml-keygen --seed 1 --name refine -o r.key >/dev/null
'

test_expect_success 'a cnn model and a train job over it' '
	dml-refine --init 784,10 --arch cnn --seed 1 -o m0.json &&
	test_grep "\"arch\":\"cnn\"" m0.json &&
	dml-job -k c.key -t train --data fashion-mnist -m m0.json --rounds 2 \
		--epochs 1 --batch 32 --lr 0.05 --momentum 0.9 --min-devices 3 \
		--budget 0 --created 2026-01-01T00:00:00Z --nonce cnn -o job.json &&
	test_grep "\"arch\":\"cnn\",\"layers\":\[784,10\],\"model\":\"[a-z0-9]*\",\"params\":44426" job.json &&
	dml-eval -m m0.json -D test/dev-0001 --round 0 >met0
'

test_expect_success 'two rounds: devices train, the node aggregates, the refining node refines' '
	for r in 0 1; do
		for d in devs/dev-*; do
			dml-run -j job.json -k $d/key -D $d -m m$r.json --round $r \
				--seed 1 || return 1
		done >res$r &&
		test $(grep -c "\"task\":\"train\"" res$r) = 3 &&
		dml-aggregate -j job.json -k f.key --round $r res$r >agg$r &&
		test_grep "\"devices\":3" agg$r &&
		dml-aggregate -j job.json -k r.key --round $r agg$r |
			dml-refine -m m$r.json -o m$((r + 1)).json &&
		dml-eval -m m$((r + 1)).json --dir test/dev-0001 >met$((r + 1)) ||
		return 1
	done
'

test_expect_success 'accuracy after training is above the initial model' '
	a0=$(acc met0) && a1=$(acc met1) && a2=$(acc met2) &&
	echo "accuracy $a0 -> $a1 -> $a2" &&
	gt "$a2" "$a0" && gt "$a2" 0.4 && gt "$a1" "$a0"
'

test_expect_success 'the refined models are cnns of the same layout' '
	test_grep "\"arch\":\"cnn\"" m2.json &&
	dml-run -j job.json -k devs/dev-0001/key -D devs/dev-0001 -m m2.json \
		--round 1 --seed 1 >/dev/null
'

test_done
