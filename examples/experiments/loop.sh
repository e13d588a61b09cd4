#!/bin/sh
# loop.sh NAME: one experiment, the whole protocol loop with the toolchain.
# Every setting comes from the environment (the Makefile passes its
# variables); the results go to $OUT/NAME:
#   metrics.ndjson   one dml.metrics per round (accuracy, loss, devices
#                    kept and excluded)
#   accuracy.tsv     round, accuracy, loss, kept, excluded
#   accuracy.svg     accuracy by round
#   control.tsv      (FINETUNE=1, WEIGHTED=1) per round and trainer: its
#                    labelling profile, control items asked, right, kept
# Devices are dealt round-robin to $NODES federated nodes; each node
# (optionally) weighs its trainers with dml-weight and aggregates with
# $RULE; the refining node aggregates the nodes' aggregates and refines.
set -eu
NAME=$1
: "${OUT:=out}" "${DEVICES:=10}" "${PARTITION:=iid}" "${ALPHA:=0.5}"
: "${CPD:=2}" "${LIMIT:=12000}" "${ROUNDS:=10}" "${EPOCHS:=1}"
: "${BATCH:=32}" "${LR:=0.1}" "${MODEL:=softmax}" "${RULE:=mean}"
: "${HIDDEN:=100}" "${ARCH:=}"
: "${MOMENTUM:=0}" "${WD:=0}"
: "${ATTACK:=}" "${MALICIOUS:=0}" "${LABELLING:=}" "${WEIGHTED:=0}"
: "${FINETUNE:=0}" "${CONTROL_POOL:=500}" "${CONTROL_BLOCK:=10}"
: "${CONTROL_MAX:=50}"
: "${MIN_ACCURACY:=0}" "${NODES:=3}" "${SEED:=1}" "${JOBS:=2}"
: "${DATA:=/usr/share/datasets/fashion-mnist}"
export OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
W=$OUT/$NAME
rm -rf "$W"
mkdir -p "$W"

# MODEL: softmax, mlp (one hidden layer of HIDDEN), cnn, or layer widths
case $MODEL in
softmax) layers=784,10 ;;
mlp) layers=784,$HIDDEN,10 ;;
cnn) layers=784,10 ARCH=cnn ;;
*) layers=$MODEL ;;
esac

mal=
if [ "$MALICIOUS" != 0 ]; then mal="--malicious $MALICIOUS --attack $ATTACK"; fi
# fine-tuning: the control set is held out of the training data (no
# device receives it), CONTROL_POOL samples on top of LIMIT
limit=$LIMIT ctl=
if [ "$FINETUNE" = 1 ]; then
	limit=$((LIMIT + CONTROL_POOL)) ctl="--control $CONTROL_POOL"
fi
dml-split --devices "$DEVICES" -o "$W/devices" --partition "$PARTITION" \
	--alpha "$ALPHA" --classes "$CPD" --limit "$limit" --seed "$SEED" \
	--consent-rate 1 ${LABELLING:+--labelling "$LABELLING"} $mal $ctl \
	>"$W/split.json"
for d in "$W"/devices/dev-*; do
	dml-keygen --seed "$SEED" --name "$(basename "$d")" -o "$d/key" >"$d/pub"
done
for who in customer refine $(seq -f fed%g "$NODES"); do
	dml-keygen --seed "$SEED" --name "$who" -o "$W/$who.key" >/dev/null
done
i=0
for d in "$W"/devices/dev-*; do
	echo "$d" >>"$W/node$((i % NODES + 1))"
	i=$((i + 1))
done
ctl= jctl=
if [ "$FINETUNE" = 1 ]; then
	# the job names the control set by the CID dml-split computed
	cs=$(sed 's/.*"control":{[^}]*"set":"\([^"]*\)".*/\1/' "$W/split.json")
	jctl="--control-set $cs --min-accuracy $MIN_ACCURACY
		--control-block $CONTROL_BLOCK --control-max $CONTROL_MAX"
	ctl="--control $W/devices/control"
fi

dml-refine --init "$layers" ${ARCH:+--arch "$ARCH"} --seed "$SEED" -o "$W/model-0.json"
# max-delta is wide so that attacks reach the rule, not validation
# shellcheck disable=SC2086
dml-job -k "$W/customer.key" -t train --data fashion-mnist -m "$W/model-0.json" \
	--rounds "$ROUNDS" --epochs "$EPOCHS" --batch "$BATCH" --lr "$LR" \
	--momentum "$MOMENTUM" --weight-decay "$WD" $jctl \
	--min-devices 1 --max-delta 1e4 --budget 0 \
	--created 2026-01-01T00:00:00Z --nonce "$NAME-$SEED" -o "$W/job.json"
# device key -> labelling profile, for control.tsv
for d in "$W"/devices/dev-*; do
	k=$(sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' "$d/pub")
	p=$(grep -o '"label_profile":{"kind":"[a-z]*"' "$d/profile.json" |
		sed 's/.*"kind":"//; s/"//')
	printf '%s\t%s\t%s\n' "$k" "$(basename "$d")" "${p:-careful}"
done >"$W/profiles.tsv"
[ "$WEIGHTED" = 1 ] && printf 'round\tdevice\tprofile\tasked\tright\tkept\n' >"$W/control.tsv"

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
				--answers "$W/devices/control/key.ndjson" \
				-w "$R/node$n.weights" "$R/node$n.res" \
				>"$R/node$n.kept" 2>"$R/node$n.log"
			sed 's/.*"answered":\([0-9]*\),"correct":\([0-9]*\),"device":"\([0-9a-f]*\)".*"kept":\([a-z]*\).*/\3 \1 \2 \4/' \
				"$R/node$n.weights" | while read -r key a c kp; do
				grep "^$key" "$W/profiles.tsv" | cut -f 2,3 |
					{ read -r dn pr; printf '%s\t%s\t%s\t%s\t%s\t%s\n' \
					"$r" "$dn" "$pr" "$a" "$c" "$kp"; }
			done >>"$W/control.tsv"
			scale="--scale $R/node$n.weights"
			k=$(grep -c '"kept":true' "$R/node$n.weights" || true)
			e=$(grep -c '"kept":false' "$R/node$n.weights" || true)
		else
			cp "$R/node$n.res" "$R/node$n.kept"
			k=$(wc -l <"$R/node$n.res") e=0
		fi
		dml-aggregate -j "$W/job.json" -k "$W/fed$n.key" --round "$r" \
			--rule "$RULE" $scale --keep-going "$R/node$n.kept" \
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
