#!/bin/sh
# train.sh MODEL: one epoch of minibatch SGD over the 60,000 Fashion-MNIST
# training images, libdml's training (what dml-run does on a device)
# against PyTorch on the CPU, both on one thread, both with the data
# decoded into memory before the clock starts (train_c.c,
# train_torch.py). MODEL is
#   mlp  the 784-200-200-10 ReLU MLP (batch 32, lr 0.05, no momentum;
#        task_train)
#   cnn  the arch "cnn" model of lib/ml/model.h (conv 6@5x5, pool, conv
#        16@5x5, pool, 256-120-84-10; batch 32, lr 0.05, momentum 0.9,
#        weight decay 5e-4; task_train_sgd)
# Each side runs REPEAT times (default 3) in alternation; the median is
# reported. train-mlp.sh and train-cnn.sh are this script for each model.
#
# Prints TSV: tool, seconds per epoch, accuracy on t10k after the epoch;
# then the speedup of dml over PyTorch.
#
# usage: contrib/bench/train.sh mlp|cnn   (env: REPEAT, THREADS, DATA)
set -eu
case ${1:-} in
mlp|cnn) M=$1 ;;
*) echo "usage: train.sh mlp|cnn" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"
TOP=../..
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-1}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
PY=/usr/bin/python3
mkdir -p work

make -s -C $TOP lib/libdml.a
PKGS=$($TOP/contrib/install-deps --pkg-config)
# shellcheck disable=SC2046
cc -std=c11 -D_DEFAULT_SOURCE -O2 $(for d in "$TOP"/lib/*/; do printf -- "-I%s " "$d"; done) $(pkg-config --cflags $PKGS) \
	-o work/train_c train_c.c $TOP/lib/libdml.a \
	$(pkg-config --libs $PKGS) -lpthread -lm

export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
: >work/train-$M.tsv
i=0
while [ $i -lt "$REPEAT" ]; do
	work/train_c $M "$DATA" 1 32 0.05 $((i + 1)) >>work/train-$M.tsv
	if $PY -c 'import torch' 2>/dev/null; then
		$PY train_torch.py $M --data "$DATA" --threads "$THREADS" \
		    --seed $((i + 1)) >>work/train-$M.tsv
	fi
	i=$((i + 1))
done

# median per tool, then the ratio
printf 'tool\tseconds_per_epoch\taccuracy\n'
sort -k1,1 -k2,2n work/train-$M.tsv | awk -F'\t' '
	{ t[$1, ++n[$1]] = $2; a[$1, n[$1]] = $3 }
	END {
		for (k in n) {
			m = int((n[k] + 1) / 2)
			printf "%s\t%.3f\t%.4f\n", k, t[k, m], a[k, m]
			med[k] = t[k, m]
		}
		if (("dml" in med) && ("pytorch" in med))
			printf "speedup\t%.2fx\t(pytorch / dml, %d thread(s), batch 32)\n",
			    med["pytorch"] / med["dml"], '"$THREADS"'
		else
			print "# pytorch not installed: contrib/install-deps --bench"
	}' | sort
