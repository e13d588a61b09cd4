#!/bin/sh
# The DML protocol end to end on one machine, with the embedded defaults.
#
#  1. Fashion-MNIST is split over DEVICES device folders (Dirichlet label
#     skew); each device gets an identity.
#  2. A developer's MLP (784-200-200-10) is trained by ROUNDS FedAvg
#     rounds: every consenting device runs the training job on its own
#     data; each of two federated nodes sums its half of the deltas by
#     secure aggregation (secagg-round.sh: pairwise masks, Shamir shares),
#     learning only the sum, while a seeded DROPOUT share (10%) of its
#     devices drops out mid-round; the refining node combines the two
#     aggregates and forms the next model. Test accuracy is printed each
#     round.
#  3. A customer posts a predict job for the trained model; the devices
#     that consent and qualify run it and encrypt their sums under the
#     customer's Paillier key; the two federated nodes add the ciphertexts;
#     the report node combines them and writes the (still encrypted) report
#     sealed to the customer, who alone can decrypt and render it.
#  4. The report node stores the sealed report on IPFS (the embedded
#     blockstore, or a real node when DML_IPFS_API is set); the customer
#     fetches it by CID and opens it.
#  5. The contract pays: the customer's budget was escrowed on the ledger
#     when the job was posted; dml-settle pays the developer, the nodes and
#     the devices and returns the rest.
# With the same SEED the report is byte-identical from run to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
SEED=${SEED:-42} DEVICES=${DEVICES:-100} ROUNDS=${ROUNDS:-5} WORK=${WORK:-work}
MIN_DEVICES=${MIN_DEVICES:-20} LIMIT=${LIMIT:-} DROPOUT=${DROPOUT:-0.1}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export PATH SEED OPENBLAS_NUM_THREADS=1
W=$WORK
T0=$(date +%s)
rm -rf "$W"
mkdir -p "$W"

say() { printf '%s\n' "$*"; }

say "== 1. $DEVICES devices from Fashion-MNIST (Dirichlet alpha 0.5, seed $SEED)"
dml-split -n "$DEVICES" -o "$W/devices" --partition dirichlet --alpha 0.5 \
	--seed "$SEED" ${LIMIT:+--limit "$LIMIT"} >"$W/split.json"
for d in "$W"/devices/dev-*; do
	dml-keygen --seed "$SEED" -n "$(basename "$d")" -o "$d/key" >"$d/pub"
done
for who in developer customer fed1 fed2 refine report authority; do
	dml-keygen --seed "$SEED" -n "$who" -o "$W/$who.key" >"$W/$who.pub"
done
ls -d "$W"/devices/dev-* >"$W/all"
half=$(( ($(wc -l <"$W/all") + 1) / 2 ))
head -n "$half" "$W/all" >"$W/half1"
tail -n +"$((half + 1))" "$W/all" >"$W/half2"
say "   $(wc -l <"$W/all") devices, $(grep -c '"consent":\[\]' "$W"/devices/*/profile.json | grep -c ':1$') without consent"

# round JOB MODEL ROUND DIR: every device's turn, then both federated nodes
round() {
	job=$1 model=$2 r=$3 dir=$4
	mkdir -p "$dir/fed1" "$dir/fed2"
	for n in 1 2; do
		xargs -P "$JOBS" -I{} sh "$here/device.sh" "$job" "$model" "$r" \
			"$W/fed$n.pub" {} "$dir/fed$n" <"$W/half$n"
		cat "$dir/fed$n"/*.sealed | dml-encrypt -d -k "$W/fed$n.key" |
			dml-aggregate -j "$job" -k "$W/fed$n.key" --round "$r" \
			>"$dir/fed$n.agg"
	done
}

say "== 2. federated training: $ROUNDS rounds of FedAvg"
dml-refine --init 784,200,200,10 --seed "$SEED" -o "$W/model-0.json"
dml-job -k "$W/developer.key" -t train -d fashion-mnist -m "$W/model-0.json" \
	--rounds "$ROUNDS" --epochs 2 --batch 32 --lr 0.1 --min-devices "$MIN_DEVICES" \
	--created 2026-01-01T00:00:00Z --deadline 2026-02-01T00:00:00Z \
	--nonce "train-$SEED" -o "$W/train-job.json"
say "   training job $(dml-job --id "$W/train-job.json")"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	dir="$W/train/round-$r"
	mkdir -p "$dir"
	# secure aggregation: each federated node learns only the sum of its
	# devices' updates; a seeded DROPOUT share of them drops mid-round
	for n in 1 2; do
		sh "$here/secagg-round.sh" "$W/train-job.json" "$W/model-$r.json" \
			"$r" "$W/fed$n.key" "$W/half$n" "$dir/fed$n" "$DROPOUT" \
			"$SEED" >"$dir/fed$n.agg"
	done
	say "   round $((r + 1)): $(cat "$dir"/fed?/present | wc -l) devices trained, $(cat "$dir"/fed?/dropouts | wc -l) dropped out mid-round, $(sed 's/^{"devices":\([0-9]*\).*/\1/' "$dir"/fed?.agg | awk '{ s += $1 } END { print s }') in the secure sums"
	cat "$dir/fed1.agg" "$dir/fed2.agg" |
		dml-aggregate -j "$W/train-job.json" -k "$W/refine.key" --round "$r" |
		dml-refine -m "$W/model-$r.json" -o "$W/model-$((r + 1)).json"
	r=$((r + 1))
	dml-eval -m "$W/model-$r.json" --round "$r" >"$W/metrics-$r.json"
	sed 's/.*"accuracy":\([0-9.]*\).*"loss":\([0-9.]*\).*/   round '"$r"': test accuracy \1, loss \2/' \
		"$W/metrics-$r.json"
done

say "== 3. the customer's predict job on the trained model"
# the ledger: the authority's genesis gives the customer tokens
L="$W/ledger.ndjson"
dml-ledger -L "$L" --time 2026-01-01T00:00:00Z genesis -k "$W/authority.key" \
	--supply 1000000000 --growth-pool 100000000 --bounty-pool 10000000 \
	--alloc "$W/customer.pub=1000000" >/dev/null
# the customer's Paillier key: devices encrypt to it, nodes add ciphertexts
# they cannot read, only the customer decrypts the sums
dml-keygen --paillier --seed "$SEED" -n customer -o "$W/customer.pkey" >"$W/customer.ppub"
dml-job -k "$W/customer.key" -t predict -d fashion-mnist -m "$W/model-$ROUNDS.json" \
	--paillier-key "$W/customer.ppub" \
	--developer "$W/developer.pub" -c 'ram_gb >= 4' --min-devices "$MIN_DEVICES" \
	--budget 100000 --per-device 100 --developer-fee 5000 --node-fee 500 \
	--created 2026-01-02T00:00:00Z --deadline 2026-02-01T00:00:00Z \
	--nonce "predict-$SEED" -o "$W/predict-job.json"
say "   predict job $(dml-job --id "$W/predict-job.json")"
dml-ledger -L "$L" --time 2026-01-02T00:00:01Z escrow -k "$W/customer.key" \
	--job "$W/predict-job.json" >/dev/null
say "   the customer escrowed the budget of 100000 tokens"
round "$W/predict-job.json" "$W/model-$ROUNDS.json" 0 "$W/predict"
cat "$W/predict/fed1.agg" "$W/predict/fed2.agg" |
	dml-aggregate -j "$W/predict-job.json" -k "$W/report.key" |
	dml-report -j "$W/predict-job.json" -k "$W/report.key" -o "$W/report.sealed" \
	--contributions "$W/contributions.json"

say "== 4. the report on IPFS"
[ -n "${DML_IPFS_API:-}" ] || export DML_IPFS_REPO="$W/ipfs"
dml-ipfs-put --name report.sealed "$W/report.sealed" >"$W/report.stored"
cid=$(sed 's/.*"cid":"\([a-z2-7]*\)".*/\1/' "$W/report.stored")
say "   stored as $cid ($(sed 's/.*"size":\([0-9]*\).*/\1/' "$W/report.stored") bytes) in ${DML_IPFS_API:-$DML_IPFS_REPO}"
dml-ipfs-get -o "$W/fetched.sealed" "$cid"
dml-encrypt -d -k "$W/customer.key" --paillier-key "$W/customer.pkey" \
	-j "$W/predict-job.json" -o "$W/report.json" "$W/fetched.sealed"
dml-report --render "$W/report" "$W/report.json"
say "   the customer fetched it by CID, opened it and decrypted the Paillier sums"

say "== 5. settlement"
dml-settle -L "$L" -k "$W/report.key" --job "$W/predict-job.json" \
	--stored "$W/report.stored" --contributions "$W/contributions.json" \
	--time 2026-01-03T00:00:00Z >"$W/payouts.json"
dml-ledger -L "$L" verify >/dev/null
bal() { dml-ledger -L "$L" balance "$1" | sed 's/.*"amount":"\([0-9]*\)".*/\1/'; }
say "   customer $(bal "$W/customer.pub") (1000000 before), developer $(bal "$W/developer.pub"),"
say "   federated nodes $(bal "$W/fed1.pub") and $(bal "$W/fed2.pub"), report node $(bal "$W/report.pub"),"
say "   each of the $(grep -o '"devices":\[[^]]*\]' "$W/contributions.json" | grep -o '"[0-9a-f]\{64\}"' | wc -l) contributing devices $(bal "$(head -1 "$W/half1")/pub"); the ledger verifies"

ran=$(ls "$W"/predict/fed?/*.sealed | wc -l)
declined=$(ls "$W"/predict/fed?/*.declined 2>/dev/null | wc -l)
say "== summary"
say "   devices that ran the predict job: $ran; declined (consent or criteria): $declined"
say "   final test accuracy: $(sed 's/.*"accuracy":\([0-9.]*\).*/\1/' "$W/metrics-$ROUNDS.json")"
say "   report: $W/report.json (sha256 $(sha256sum <"$W/report.json" | cut -c1-16)), rendered in $W/report/report.md"
sed -n '/^| class/,/^$/p' "$W/report/report.md" | sed 's/^/   /'
say "   done in $(( $(date +%s) - T0 )) s"
