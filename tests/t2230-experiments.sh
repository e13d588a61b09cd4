#!/bin/sh
# examples/experiments: small versions of each experiment (few devices,
# few rounds) through the Makefile; accuracy moves the right way.
. "$(dirname "$0")/lib.sh"

cp -r "$SRC_DIR/examples/experiments" exp
SMALL="DEVICES=10 LIMIT=3000 ROUNDS=3 JOBS=2"
acc() { tail -n 1 "exp/out/$1/accuracy.tsv" | cut -f 2; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

test_expect_success 'FedAvg IID: accuracy rises by round; metrics, TSV and SVG written' '
	make -s -C exp $SMALL fedavg-iid >out &&
	test $(wc -l <exp/out/fedavg-iid/metrics.ndjson) = 3 &&
	test_grep "\"devices_kept\":10" exp/out/fedavg-iid/metrics.ndjson &&
	first=$(sed -n 2p exp/out/fedavg-iid/accuracy.tsv | cut -f 2) &&
	gt "$(acc fedavg-iid)" "$first" && gt "$(acc fedavg-iid)" 0.5 &&
	test_grep "<polyline" exp/out/fedavg-iid/accuracy.svg
'

test_expect_success 'three federated nodes feed the refining node' '
	test $(ls exp/out/fedavg-iid/round-0/node*.agg | wc -l) = 3
'

test_expect_success 'two classes per device learns slower than IID' '
	make -s -C exp $SMALL fedavg-classes >out &&
	gt "$(acc fedavg-iid)" "$(acc fedavg-classes)"
'

test_expect_success 'fine-tuning: dml-weight excludes the adversaries, weighted beats plain' '
	make -s -C exp $SMALL finetune-weighted finetune-plain >out &&
	test "$(tail -n 1 exp/out/finetune-weighted/accuracy.tsv | cut -f 5)" = 2 &&
	gt "$(acc finetune-weighted)" "$(acc finetune-plain)"
'

test_expect_success 'fine-tuning: the adaptive control test, per trainer, in control.tsv' '
	t=exp/out/finetune-weighted/control.tsv &&
	test $(awk -F "\t" "NR > 1" $t | wc -l) = 30 &&
	awk -F "\t" "NR > 1 && \$3 != \"noisy\" && \$4 != 10 { exit 1 }" $t &&
	awk -F "\t" "NR > 1 && \$3 == \"adversarial\" && \$6 != \"false\" { exit 1 }" $t &&
	awk -F "\t" "NR > 1 && \$3 == \"noisy\" { s += \$4; n++ } END { exit !(s / n > 10) }" $t &&
	test_grep "\"control\":{\"block\":10,\"max\":50,\"min_accuracy\":0.5,\"set\":\"baf" \
		exp/out/finetune-weighted/job.json
'

test_expect_success 'MODEL reaches the fine-tuning and robust experiments (mlp, cnn)' '
	make -s -C exp $SMALL ROUNDS=1 MODEL=mlp OUT=out-mlp finetune-weighted >out &&
	test_grep "\"layers\":\[784,100,10\]" exp/out-mlp/finetune-weighted/model-1.json &&
	make -s -C exp DEVICES=5 LIMIT=1000 ROUNDS=1 MODEL=cnn OUT=out-cnn \
		robust-median-scale_10 >out &&
	test_grep "\"arch\":\"cnn\"" exp/out-cnn/robust-median-scale_10/model-1.json
'

test_expect_success 'scaling attack: the mean collapses, median and trimmed mean hold' '
	make -s -C exp $SMALL robust-mean-scale_10 robust-median-scale_10 \
		robust-trimmed_0.2-scale_10 >out &&
	gt "$(acc robust-median-scale_10)" "$(acc robust-mean-scale_10)" &&
	gt "$(acc robust-trimmed_0.2-scale_10)" "$(acc robust-mean-scale_10)"
'

test_expect_success 'noise attack: multi-Krum leaves the attackers out and beats the mean' '
	make -s -C exp $SMALL robust-mean-noise_1 robust-multikrum_2_6-noise_1 >out &&
	test "$(tail -n 1 exp/out/robust-multikrum_2_6-noise_1/accuracy.tsv | cut -f 5)" = 4 &&
	gt "$(acc robust-multikrum_2_6-noise_1)" "$(acc robust-mean-noise_1)"
'

test_expect_success 'same settings, same accuracy (seeded)' '
	cp exp/out/fedavg-iid/accuracy.tsv first.tsv &&
	make -s -C exp $SMALL fedavg-iid >out &&
	test_cmp first.tsv exp/out/fedavg-iid/accuracy.tsv
'

test_done
