#!/bin/sh
# secagg-round.sh JOB MODEL ROUND NODEKEY DEVLIST OUTDIR DROPRATE SEED
# One training round with secure aggregation (dml-encrypt and
# dml-aggregate --scheme secagg): every device listed in DEVLIST (one
# device folder a line, each with its key and data as device.sh uses them)
# trains on its own data, and the node behind NODEKEY learns only the sum
# of the updates: the dml.aggregate it writes to stdout, ready for
# dml-aggregate (of aggregates) and dml-refine as any other.
#
# A seeded DROPRATE fraction of the devices (0 to 1) drops out after
# advertising its keys, each at a seeded step: before sharing its keys,
# before sending its masked update, or before answering the unmasking
# request. The sum is that of the devices that sent masked updates, exact
# up to the quantization; with more dropouts than the threshold allows
# the round fails (exit 1) and nothing is revealed.
#
# Environment: JOBS (parallel devices, default the cores), NEIGHBOURS
# (SecAgg+: mask with this many neighbours, default all), THRESHOLD,
# CLIP (default 4096). Files of the round are left in OUTDIR: the node's
# records and state, each device's records and (until it answers) state.
# With the same SEED and inputs the aggregate is byte-identical: for that
# the demo derives each device's round secrets from SEED (dml-encrypt
# --seed); a real device leaves --seed out and draws them from libsodium.
set -eu
[ $# -eq 8 ] || { echo "usage: secagg-round.sh JOB MODEL ROUND NODEKEY DEVLIST OUTDIR DROPRATE SEED" >&2; exit 2; }
job=$1 model=$2 r=$3 nodekey=$4 devlist=$5 out=$6 rate=$7 seed=$8
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
rm -rf "$out"
mkdir -p "$out/dev"
n() { basename "$1"; }
node() {	# node STEP [options]: the federated node's step
	step=$1
	shift
	dml-aggregate --scheme secagg --step "$step" --state "$out/node.state" \
		-j "$job" -k "$nodekey" --round "$r" "$@"
}
# each device: train, then advertise its secure-aggregation keys
# (a device that declines the job leaves no keys and takes no part)
export job model r out seed
xargs -P "$JOBS" -I{} sh -c '
	d=$1 name=$(basename "$1")
	dml-run -j "$job" -k "$d/key" -D "$d" ${model:+-m "$model"} --round "$r" \
		--seed "$seed" -o "$out/dev/$name.result" 2>/dev/null || exit 0
	dml-encrypt --scheme secagg --step advertise --state "$out/dev/$name.state" \
		-k "$d/key" --seed "$seed" -o "$out/dev/$name.keys" "$out/dev/$name.result"
' sh {} <"$devlist"
: >"$out/present"
while read -r d; do
	[ -f "$out/dev/$(n "$d").keys" ] && echo "$d" >>"$out/present"
done <"$devlist"
[ -s "$out/present" ] || { echo "secagg-round.sh: no device took part" >&2; exit 1; }

# the dropouts: devices ordered by a hash of (seed, round, name); the
# first DROPRATE share drop, at the step the hash's last digit picks
total=$(wc -l <"$out/present")
ndrop=$(awk -v n="$total" -v p="$rate" 'BEGIN { printf "%d", n * p + 0.5 }')
while read -r d; do
	h=$(printf '%s:%s:%s' "$seed" "$r" "$(n "$d")" | sha256sum | cut -c1-16)
	echo "$h $d"
done <"$out/present" | sort | head -n "$ndrop" | while read -r h d; do
	case $h in
	*[0-4]) echo "$d share" ;;
	*[5-9a]) echo "$d mask" ;;
	*) echo "$d unmask" ;;
	esac
done >"$out/dropouts"
# runs DEVICE STEP: whether the device is still there at STEP
runs() {
	case $2 in
	share) ! grep -q "^$1 share$" "$out/dropouts" ;;
	mask) ! grep -q "^$1 \(share\|mask\)$" "$out/dropouts" ;;
	unmask) ! grep -q "^$1 " "$out/dropouts" ;;
	esac
}
# step STEP INPUT...: every device still there runs its step of the round
step() {
	s=$1
	shift
	while read -r d; do
		runs "$d" "$s" || continue
		name=$(n "$d")
		case $s in
		share) in="$*" ;;
		mask) grep -F "\"key\":\"$(sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' "$d/pub")\"" \
			"$out/inbox" >"$out/dev/$name.inbox" || :
			in="$out/dev/$name.inbox $out/dev/$name.result" ;;
		unmask) in="$*" ;;
		esac
		echo "$d $name $in"
	done <"$out/present" |
	S=$s NODE=$nodekey xargs -P "$JOBS" -L1 sh -c '
		d=$1 name=$2
		shift 2
		dml-encrypt --scheme secagg --step "$S" --state "$out/dev/$name.state" \
			-k "$d/key" -r "$NODE" -o "$out/dev/$name.$S" "$@"
	' sh
}

cat "$out"/dev/*.keys | node collect-keys ${NEIGHBOURS:+--neighbours "$NEIGHBOURS"} \
	${THRESHOLD:+--threshold "$THRESHOLD"} ${CLIP:+--clip "$CLIP"} >"$out/roster"
step share "$out/roster"
cat "$out"/dev/*.share | node route-shares >"$out/inbox"
step mask
cat "$out"/dev/*.mask | node collect-masked >"$out/request"
step unmask "$out/request"
cat "$out"/dev/*.unmask | node unmask >"$out/aggregate"
cat "$out/aggregate"
