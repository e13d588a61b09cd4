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
#  3. The developer lists the trained model on the marketplace (a signed
#     listing stored on IPFS and indexed); a customer finds it and buys a
#     license, paid to the developer on the ledger.
#  4. The customer posts a predict job under the license and escrows its
#     budget; the auction orders it among other waiting jobs by bid and
#     prints the price of the next window; the distributing node admits
#     the devices' signed registrations, selects those that consented and
#     meet the criteria, spreads them over the two federated nodes and
#     seals the algorithm to each. The devices run it from their
#     assignments and encrypt their sums under the customer's Paillier
#     key; the federated nodes add the ciphertexts of their assigned
#     devices only; the report node combines them and writes the (still
#     encrypted) report sealed to the customer.
#  5. The report node stores the sealed report on IPFS (the embedded
#     blockstore, or a real node when DML_IPFS_API is set); the customer
#     fetches it by CID, opens it and decrypts it.
#  6. The contract pays: dml-settle pays the developer, the nodes and the
#     devices from the escrow and returns the rest.
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
dml-split --devices "$DEVICES" -o "$W/devices" --partition dirichlet --alpha 0.5 \
	--seed "$SEED" ${LIMIT:+--limit "$LIMIT"} >"$W/split.json"
for d in "$W"/devices/dev-*; do
	dml-keygen --seed "$SEED" --name "$(basename "$d")" -o "$d/key" >"$d/pub"
done
for who in developer customer customer2 distributor fed1 fed2 refine report authority; do
	dml-keygen --seed "$SEED" --name "$who" -o "$W/$who.key" >"$W/$who.pub"
done
ls -d "$W"/devices/dev-* >"$W/all"
half=$(( ($(wc -l <"$W/all") + 1) / 2 ))
head -n "$half" "$W/all" >"$W/half1"
tail -n +"$((half + 1))" "$W/all" >"$W/half2"
say "   $(wc -l <"$W/all") devices, $(grep -c '"consent":\[\]' "$W"/devices/*/profile.json | grep -c ':1$') without consent"

say "== 2. federated training: $ROUNDS rounds of FedAvg"
dml-refine --init 784,200,200,10 --seed "$SEED" -o "$W/model-0.json"
dml-job -k "$W/developer.key" -t train --data fashion-mnist -m "$W/model-0.json" \
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

say "== 3. the marketplace: the developer lists the trained model"
# the ledger: the authority's genesis gives the customers tokens
L="$W/ledger.ndjson"
dml-ledger -L "$L" --time 2026-01-01T00:00:00Z genesis -k "$W/authority.key" \
	--supply 1000000000 --growth-pool 100000000 --bounty-pool 10000000 \
	--alloc "$W/customer.pub=1000000" --alloc "$W/customer2.pub=1000000" >/dev/null
[ -n "${DML_IPFS_API:-}" ] || export DML_IPFS_REPO="$W/ipfs"
export DML_MARKET_INDEX="$W/market.ndjson"
dml-market publish -k "$W/developer.key" --algorithm "$W/model-$ROUNDS.json" \
	--category vision --description "Fashion-MNIST classifier, MLP 784-200-200-10, FedAvg-trained" \
	--price 1000 --license subscription --period 30 \
	--time 2026-01-01T12:00:00Z >"$W/listing.json"
say "   listing $(dml-ipfs-put -n "$W/listing.json" | sed 's/.*"cid":"\([a-z2-7]*\)".*/\1/') stored on IPFS and indexed"
say "   the customer searches: $(dml-market search --category vision --keyword fashion --max-price 5000 | wc -l) listing(s) in vision under 5000 tokens"
dml-market acquire -L "$L" -k "$W/customer.key" --listing "$W/listing.json" \
	--time 2026-01-01T12:00:01Z -o "$W/license.json"
say "   the customer bought a 30-day license for 1000 tokens, paid to the developer on the ledger"

say "== 4. the predict job, the auction and the distributing node"
# the customer's Paillier key: devices encrypt to it, nodes add ciphertexts
# they cannot read, only the customer decrypts the sums
dml-keygen --paillier --seed "$SEED" --name customer -o "$W/customer.pkey" >"$W/customer.ppub"
dml-job -k "$W/customer.key" -t predict --data fashion-mnist -m "$W/model-$ROUNDS.json" \
	--paillier-key "$W/customer.ppub" --license "$W/license.json" \
	-c 'ram_gb >= 4' --min-devices "$MIN_DEVICES" \
	--budget 100000 --per-device 100 --developer-fee 5000 --node-fee 500 \
	--created 2026-01-02T00:00:00Z --deadline 2026-02-01T00:00:00Z \
	--nonce "predict-$SEED" -o "$W/predict-job.json"
dml-market verify -L "$L" --license "$W/license.json" --job "$W/predict-job.json"
say "   predict job $(dml-job --id "$W/predict-job.json") under the license"
dml-ledger -L "$L" --time 2026-01-02T00:00:01Z escrow -k "$W/customer.key" \
	--job "$W/predict-job.json" >/dev/null
say "   the customer escrowed the budget of 100000 tokens"
# two other customers' jobs wait too: one bids more, one less
big=$((DEVICES * 6 / 10)) small=$((DEVICES * 4 / 10))
for j in "high 150 $big" "low 50 $small"; do
	set -- $j
	dml-job -k "$W/customer2.key" -t stats --data fashion-mnist --features 784 \
		--classes 10 --min-devices "$3" --per-device "$2" \
		--budget $(($2 * $3)) --created 2026-01-02T00:00:00Z \
		--deadline 2026-02-01T00:00:00Z --nonce "$1-$SEED" -o "$W/job-$1.json"
	dml-ledger -L "$L" --time 2026-01-02T00:00:02Z escrow -k "$W/customer2.key" \
		--job "$W/job-$1.json" >/dev/null
done
cat "$W/job-low.json" "$W/predict-job.json" "$W/job-high.json" >"$W/waiting.ndjson"
dml-auction -L "$L" --capacity "$DEVICES" --time 2026-01-02T00:01:00Z \
	"$W/waiting.ndjson" >"$W/slots.ndjson"
pj=$(dml-job --id "$W/predict-job.json")
sed -e 's/.*"bid":"\([0-9]*\)","devices":\([0-9]*\),"job":"\([a-z2-7]*\)","rank":\([0-9]*\).*"window":\([0-9]*\).*/   rank \4: \3, bid \1 x \2 devices, window \5/' \
	-e "s/$pj,/the predict job,/" "$W/slots.ndjson"
dml-auction -L "$L" --capacity "$DEVICES" --time 2026-01-02T00:01:00Z --suggest \
	--devices "$MIN_DEVICES" "$W/waiting.ndjson" >"$W/price.json"
say "   a new job of $MIN_DEVICES devices would need a bid of $(sed 's/.*"bid":"\([0-9]*\)".*/\1/' "$W/price.json") tokens per device for the next window"
# every device registers (signed, from its profile); the distributing node
# admits them into its registry, selects those that consented and meet
# the criteria, spreads them over the two federated nodes and seals the
# algorithm's key to each
for d in "$W"/devices/dev-*; do
	dml-distribute register -k "$d/key" -D "$d" --created 2026-01-01T00:00:00Z
done | dml-distribute admit -k "$W/distributor.key" --registry "$W/registry.ndjson" \
	--created 2026-01-02T00:00:00Z -
dml-distribute -j "$W/predict-job.json" -k "$W/distributor.key" \
	--node "$W/fed1.pub" --node "$W/fed2.pub" -m "$W/model-$ROUNDS.json" \
	--seed "$SEED" -o "$W/assigned" "$W/registry.ndjson"
for n in 1 2; do
	: >"$W/half$n"
	sed 's/.*"device":"\([0-9a-f]*\)".*/\1/' "$W/assigned/fed$n.ndjson" |
	while read -r key; do
		d=$(dirname "$(grep -l "\"key\":\"$key\"" "$W"/devices/dev-*/pub)")
		grep "\"device\":\"$key\"" "$W/assigned/fed$n.ndjson" >"$d/assignment"
		echo "$d" >>"$W/half$n"
	done
done
say "   $(wc -l <"$W/registry.ndjson" | awk '{ print $1 - 1 }') devices registered; $(cat "$W/half1" "$W/half2" | wc -l) assigned ($(wc -l <"$W/half1" | awk '{ print $1 }') to each node$( [ "$(wc -l <"$W/half1")" = "$(wc -l <"$W/half2")" ] || echo ", give or take one"))"
dir=$W/predict
for n in 1 2; do
	mkdir -p "$dir/fed$n"
	ASSIGNED=1 xargs -P "$JOBS" -I{} sh "$here/device.sh" "$W/predict-job.json" \
		"$W/assigned/algorithm.sealed" 0 "$W/fed$n.pub" {} "$dir/fed$n" <"$W/half$n"
	cat "$dir/fed$n"/*.sealed | dml-encrypt -d -k "$W/fed$n.key" |
		dml-aggregate -j "$W/predict-job.json" -k "$W/fed$n.key" --round 0 \
		--assignments "$W/assigned/fed$n.ndjson" --distributor "$W/distributor.pub" \
		>"$dir/fed$n.agg"
done
cat "$W/predict/fed1.agg" "$W/predict/fed2.agg" |
	dml-aggregate -j "$W/predict-job.json" -k "$W/report.key" |
	dml-report -j "$W/predict-job.json" -k "$W/report.key" -o "$W/report.sealed" \
	--contributions "$W/contributions.json"

say "== 5. the report on IPFS"
dml-ipfs-put --name report.sealed "$W/report.sealed" >"$W/report.stored"
cid=$(sed 's/.*"cid":"\([a-z2-7]*\)".*/\1/' "$W/report.stored")
say "   stored as $cid ($(sed 's/.*"size":\([0-9]*\).*/\1/' "$W/report.stored") bytes) in ${DML_IPFS_API:-$DML_IPFS_REPO}"
dml-ipfs-get -o "$W/fetched.sealed" "$cid"
dml-encrypt -d -k "$W/customer.key" --paillier-key "$W/customer.pkey" \
	-j "$W/predict-job.json" -o "$W/report.json" "$W/fetched.sealed"
dml-report --render "$W/report" "$W/report.json"
say "   the customer fetched it by CID, opened it and decrypted the Paillier sums"

say "== 6. settlement"
dml-settle -L "$L" -k "$W/report.key" --job "$W/predict-job.json" \
	--stored "$W/report.stored" --contributions "$W/contributions.json" \
	--time 2026-01-03T00:00:00Z >"$W/payouts.json"
dml-ledger -L "$L" verify >/dev/null
bal() { dml-ledger -L "$L" balance "$1" | sed 's/.*"amount":"\([0-9]*\)".*/\1/'; }
say "   customer $(bal "$W/customer.pub") (1000000 before, 1000 of it for the license), developer $(bal "$W/developer.pub"),"
say "   federated nodes $(bal "$W/fed1.pub") and $(bal "$W/fed2.pub"), report node $(bal "$W/report.pub"),"
say "   each of the $(grep -o '"devices":\[[^]]*\]' "$W/contributions.json" | grep -o '"[0-9a-f]\{64\}"' | wc -l) contributing devices $(bal "$(head -1 "$W/half1")/pub"); the ledger verifies"

ran=$(ls "$W"/predict/fed?/*.sealed | wc -l)
unassigned=$(( $(wc -l <"$W/all") - $(cat "$W/half1" "$W/half2" | wc -l) ))
say "== summary"
say "   devices that ran the predict job: $ran; not assigned (consent or criteria): $unassigned"
say "   final test accuracy: $(sed 's/.*"accuracy":\([0-9.]*\).*/\1/' "$W/metrics-$ROUNDS.json")"
say "   report: $W/report.json (sha256 $(sha256sum <"$W/report.json" | cut -c1-16)), rendered in $W/report/report.md"
sed -n '/^| class/,/^$/p' "$W/report/report.md" | sed 's/^/   /'
say "   done in $(( $(date +%s) - T0 )) s"
