#!/bin/sh
# builds.sh: this tree's programs against another build's (an earlier
# commit, built in its own work tree), on the same inputs, in the same run,
# alternating runs so that machine noise falls on both alike. It answers
# "did a change cost speed?" for the three hot paths: verified aggregation,
# a device's training step, Paillier encryption and decryption.
#
#   git worktree add /tmp/base COMMIT && make -C /tmp/base
#   contrib/bench/builds.sh /tmp/base [RUNS]        (RUNS: default 5)
#
# Each figure is the median of RUNS timed runs of each build, then the
# change in percent (negative: this tree is faster).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
base=$(cd "${1:?usage: builds.sh OTHER_TREE [RUNS]}" && pwd)
runs=${2:-5}
work=$here/work/builds
for t in "$top" "$base"; do
	[ -x "$t/bin/dml-aggregate" ] || { echo "builds.sh: build $t first" >&2; exit 2; }
done
make -C "$top" -s tests/helpers/mkresults
mkdir -p "$work"
cd "$work"

# Inputs, made by this tree once: 300 signed results of a 200,000-parameter
# model; one device of 6,000 Fashion-MNIST samples with a train job of the
# 784-200-200-10 MLP; a Paillier key, a job encrypted to it, the device's
# update (199,210 values) and a node's aggregate of it encrypted.
if [ ! -f stamp ]; then
	"$top/bin/dml-keygen" -o node.key >/dev/null
	"$top/tests/helpers/mkresults" job -o job.train --params 200000
	"$top/tests/helpers/mkresults" bench -j job.train -n 300 -o results.ndjson
	"$top/bin/dml-keygen" -o cust.key >/dev/null
	"$top/bin/dml-split" --devices 1 --limit 6000 --consent-rate 1 --seed 1 -o devs >/dev/null
	"$top/bin/dml-keygen" -o devs/dev-0001/key >/dev/null
	"$top/bin/dml-refine" --init 784,200,200,10 --seed 1 -o mlp.model
	"$top/bin/dml-job" -k cust.key -t train --data fashion-mnist -m mlp.model \
	    --min-devices 1 --epochs 1 --batch 32 --lr 0.05 --budget 0 --nonce b \
	    -o job.mlp
	"$top/bin/dml-keygen" --paillier -o pai.key >pai.pub
	"$top/bin/dml-job" -k cust.key -t train --data fashion-mnist -m mlp.model \
	    --min-devices 1 --epochs 1 --budget 0 --nonce p --paillier-key pai.pub \
	    -o job.pai
	"$top/bin/dml-run" -j job.pai -k devs/dev-0001/key -D devs/dev-0001 \
	    -m mlp.model >res.plain
	"$top/bin/dml-encrypt" --scheme paillier -j job.pai \
	    -k devs/dev-0001/key res.plain >res.pai
	"$top/bin/dml-aggregate" -j job.pai -k node.key res.pai >agg.pai
	touch stamp
fi

now() { date +%s.%N; }
# times_of CMD...: the seconds CMD took (a failed run stops the script)
times_of() {
	t0=$(now)
	"$@" >/dev/null 2>&1 || { echo "builds.sh: failed: $*" >&2; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# compare NAME CMD... (CMD's first word names a program in bin/)
compare() {
	name=$1
	shift
	prog=$1
	shift
	: >new.t
	: >old.t
	i=0
	while [ $i -lt "$runs" ]; do
		times_of "$top/bin/$prog" "$@" >>new.t
		times_of "$base/bin/$prog" "$@" >>old.t
		i=$((i + 1))
	done
	n=$(median <new.t)
	o=$(median <old.t)
	awk -v name="$name" -v n="$n" -v o="$o" 'BEGIN {
		printf "%-44s %8.3f s %8.3f s  %+6.1f%%\n", name, n, o, (n - o) * 100 / o }'
}

echo "# builds.sh: $(git -C "$top" rev-parse --short HEAD) against $(git -C "$base" rev-parse --short HEAD), median of $runs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
printf '%-44s %10s %10s  %7s\n' "" "this tree" "other" "change"
cat results.ndjson >/dev/null
compare "dml-aggregate, 300 x 200,000 (verifies)" \
    dml-aggregate -j job.train -k node.key results.ndjson
compare "dml-run train, MLP, 6,000 samples, 1 epoch" \
    dml-run -j job.mlp -k devs/dev-0001/key -D devs/dev-0001 -m mlp.model
compare "dml-encrypt: Paillier, 199,210 values" \
    dml-encrypt --scheme paillier -j job.pai -k devs/dev-0001/key res.plain
compare "dml-encrypt -d: Paillier decryption of them" \
    dml-encrypt -d -k cust.key --paillier-key pai.key -j job.pai agg.pai
