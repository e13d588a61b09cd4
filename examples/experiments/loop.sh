#!/bin/sh
# loop.sh NAME: one experiment, the whole protocol loop with the toolchain.
# Every setting comes from the environment (the Makefile passes its
# variables); the results go to $OUT/NAME:
#   metrics.ndjson   one dml.metrics per round (accuracy, loss, devices
#                    kept and excluded)
#   accuracy.tsv     round, accuracy, loss, kept, excluded
#   accuracy.svg     accuracy by round
# Devices are dealt round-robin to $NODES federated nodes; each node
# (optionally) weighs its trainers with dml-weight and aggregates with
# $RULE; the refining node aggregates the nodes' aggregates and refines.
set -eu
NAME=$1
: "${OUT:=out}" "${DEVICES:=10}" "${PARTITION:=iid}" "${ALPHA:=0.5}"
: "${CPD:=2}" "${LIMIT:=12000}" "${ROUNDS:=10}" "${EPOCHS:=1}"
: "${BATCH:=32}" "${LR:=0.1}" "${MODEL:=784,10}" "${RULE:=mean}"
: "${MOMENTUM:=0}" "${WD:=0}"
: "${ATTACK:=}" "${MALICIOUS:=0}" "${LABELLING:=}" "${WEIGHTED:=0}"
: "${FINETUNE:=0}" "${CONTROL_POOL:=500}" "${CONTROL_ITEMS:=30}"
: "${MIN_ACCURACY:=0}" "${NODES:=3}" "${SEED:=1}" "${JOBS:=2}"
: "${DATA:=/usr/share/datasets/fashion-mnist}"
export OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
W=$OUT/$NAME
rm -rf "$W"
mkdir -p "$W"

mal=
if [ "$MALICIOUS" != 0 ]; then mal="--malicious $MALICIOUS --attack $ATTACK"; fi
dml-split -n "$DEVICES" -o "$W/devices" --partition "$PARTITION" \
	--alpha "$ALPHA" --classes "$CPD" --limit "$LIMIT" --seed "$SEED" \
	--consent-rate 1 ${LABELLING:+--labelling "$LABELLING"} $mal \
	>"$W/split.json"
for d in "$W"/devices/dev-*; do
	dml-keygen --seed "$SEED" -n "$(basename "$d")" -o "$d/key" >/dev/null
done
for who in customer refine $(seq -f fed%g "$NODES"); do
	dml-keygen --seed "$SEED" -n "$who" -o "$W/$who.key" >/dev/null
done
i=0
for d in "$W"/devices/dev-*; do
	echo "$d" >>"$W/node$((i % NODES + 1))"
	i=$((i + 1))
done
ctl=
if [ "$FINETUNE" = 1 ]; then
	# the job's common control set: test images the trainers label
	dml-split -n 1 -o "$W/control" --idx "$DATA/t10k-images-idx3-ubyte.gz" \
		"$DATA/t10k-labels-idx1-ubyte.gz" --limit "$CONTROL_POOL" \
		--consent-rate 1 --seed "$SEED" >/dev/null
	ctl="--control $W/control/dev-0001 --control-items $CONTROL_ITEMS"
fi

dml-refine --init "$MODEL" ${ARCH:+--arch "$ARCH"} --seed "$SEED" -o "$W/model-0.json"
# max-delta is wide so that attacks reach the rule, not validation
dml-job -k "$W/customer.key" -t train -d fashion-mnist -m "$W/model-0.json" \
	--rounds "$ROUNDS" --epochs "$EPOCHS" --batch "$BATCH" --lr "$LR" \
	--momentum "$MOMENTUM" --weight-decay "$WD" \
	--min-devices 1 --max-delta 1e4 --budget 0 \
	--created 2026-01-01T00:00:00Z --nonce "$NAME-$SEED" -o "$W/job.json"

printf 'round\taccuracy\tloss\tkept\texcluded\n' >"$W/accuracy.tsv"
: >"$W/metrics.ndjson"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	R=$W/round-$r
	mkdir -p "$R"
	# devices, in parallel
	cat "$W"/node* | xargs -P "$JOBS" -I{} sh -c 'dml-run -j "$1" -k "$2/key" \
		-D "$2" -m "$3" --round "$4" --seed "$5" $6 >"$7/$(basename "$2").res"' \
		_ "$W/job.json" {} "$W/model-$r.json" "$r" "$SEED" "$ctl" "$R"
	kept=0 excl=0
	for n in $(seq "$NODES"); do
		res=$(sed "s|.*/|$R/|; s|\$|.res|" "$W/node$n")
		# shellcheck disable=SC2086
		cat $res >"$R/node$n.res"
		scale=
		if [ "$WEIGHTED" = 1 ]; then
			dml-weight -j "$W/job.json" -k "$W/fed$n.key" \
				-a "$W/control/dev-0001" -w "$R/node$n.weights" \
				--min-accuracy "$MIN_ACCURACY" "$R/node$n.res" \
				>"$R/node$n.kept" 2>"$R/node$n.log"
			scale="--scale $R/node$n.weights"
			k=$(grep -c '"kept":true' "$R/node$n.weights" || true)
			e=$(grep -c '"kept":false' "$R/node$n.weights" || true)
		else
			cp "$R/node$n.res" "$R/node$n.kept"
			k=$(wc -l <"$R/node$n.res") e=0
		fi
		dml-aggregate -j "$W/job.json" -k "$W/fed$n.key" --round "$r" \
			--rule "$RULE" $scale -K "$R/node$n.kept" \
			>"$R/node$n.agg" 2>>"$R/node$n.log"
		# Krum leaves updates out: count them as excluded
		ke=$(grep -o '"excluded":\[[^]]*\]' "$R/node$n.agg" |
			grep -o '"[0-9a-f]\{64\}"' | wc -l)
		kept=$((kept + k - ke)) excl=$((excl + e + ke))
	done
	# the refining node: the nodes' aggregates, then the new model
	cat "$R"/node*.agg | grep '"type":"dml.aggregate"' |
		dml-aggregate -j "$W/job.json" -k "$W/refine.key" --round "$r" |
		dml-refine -m "$W/model-$r.json" -o "$W/model-$((r + 1)).json"
	r=$((r + 1))
	dml-eval -m "$W/model-$r.json" --round "$r" --kept "$kept" \
		--excluded "$excl" >>"$W/metrics.ndjson"
	tail -n 1 "$W/metrics.ndjson" | sed 's/.*"accuracy":\([^,]*\),.*"loss":\([^,}]*\).*/\1 \2/' |
		{ read -r a l; printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$a" "$l" "$kept" "$excl"; } \
		>>"$W/accuracy.tsv"
done
awk -f "$here/svg.awk" -v title="$NAME" "$W/accuracy.tsv" >"$W/accuracy.svg"
tail -n 1 "$W/accuracy.tsv" | awk -v n="$NAME" '{printf "%s\tround %s\taccuracy %s\tkept %s\texcluded %s\n", n, $1, $2, $4, $5}'
