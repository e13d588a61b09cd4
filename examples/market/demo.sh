#!/bin/sh
# The marketplace, the auction and a competition on one machine, with the
# embedded ledger, listing index and IPFS blockstore under $WORK.
#
#  1. A developer lists an algorithm (a softmax model) for a 30-day
#     subscription, and a cheaper one for a single use.
#  2. A customer searches the marketplace and buys the subscription: the
#     price moves to the developer on the ledger, the customer holds a
#     signed license.
#  3. The customer composes a job naming the license (dml-job --license)
#     and escrows its budget; an expired license would be refused.
#  4. The distributing node's auction orders it among other waiting jobs
#     by bid and suggests the price a new job needs for the next window.
#  5. A competition: a hidden test set (200 Fashion-MNIST samples), two
#     entries, a leaderboard, the prize paid from its escrow.
# Given the same SEED every record is the same from run to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../../bin:$PATH"
SEED=${SEED:-42} WORK=${WORK:-work}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
W=$WORK
rm -rf "$W"
mkdir -p "$W"
DML_LEDGER=$W/ledger.ndjson DML_MARKET_INDEX=$W/market.ndjson
DML_IPFS_REPO=$W/ipfs
export PATH DML_LEDGER DML_MARKET_INDEX DML_IPFS_REPO OPENBLAS_NUM_THREADS=1
say() { printf '%s\n' "$*"; }
cidof() { dml-ipfs-put -n "$1" | sed 's/.*"cid":"\([^"]*\)".*/\1/'; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2"; }

for who in authority developer customer alice bob; do
	dml-keygen --seed "$SEED" --name "$who" -o "$W/$who.key" >"$W/$who.pub"
done
dml-ledger --time 2026-01-01T00:00:00Z genesis -k "$W/authority.key" \
	--supply 1000000 --growth-pool 0 --bounty-pool 0 \
	--alloc "$W/customer.pub=10000" >/dev/null
# the developer's algorithm: a softmax model (784 -> 10), here all zeros
# but for a bias on class 1
perl -MMIME::Base64 -e 'my @w = (0) x 7850; $w[7841] = 1;
    print "{\"act\":\"relu\",\"arch\":\"softmax\",\"layers\":[784,10],\"params\":{\"data\":\"",
    encode_base64(pack("f<*", @w), ""), "\",\"dtype\":\"f32\",\"shape\":[7850]},\"type\":\"dml.model\",\"v\":1}\n"' \
	>"$W/model.json"

say "== 1. the developer lists the algorithm"
dml-market publish -k "$W/developer.key" --algorithm "$W/model.json" \
	--category vision --description "Fashion-MNIST classifier, 10 classes" \
	--price 100 --license subscription --period 30 \
	--time 2026-01-01T00:00:00Z >"$W/listing.json"
dml-market publish -k "$W/developer.key" --algorithm "$W/model.json" \
	--category vision --description "the same, for one job" \
	--price 40 --license single --time 2026-01-01T00:00:00Z >"$W/listing1.json"
LISTING=$(cidof "$W/listing.json")
say "   listing $LISTING (stored on IPFS, indexed)"

say "== 2. the customer searches and buys a license"
dml-market search --category vision --keyword fashion --max-price 150 |
	sed 's/.*"description":"\([^"]*\)".*"price":"\([0-9]*\)".*/   \2 tokens: \1/'
dml-market acquire -k "$W/customer.key" --listing "$LISTING" \
	--time 2026-01-02T00:00:00Z -o "$W/license.json"
say "   license $(cidof "$W/license.json"), valid until $(field valid_until "$W/license.json")"
say "   developer's balance: $(dml-ledger balance "$W/developer.pub" | field amount -)"

say "== 3. a job with the license, its budget escrowed"
dml-job -k "$W/customer.key" -t predict --data fashion-mnist -m "$W/model.json" \
	--license "$W/license.json" --min-devices 3 --per-device 25 \
	--developer-fee 10 --budget 200 --created 2026-01-03T00:00:00Z \
	--deadline 2026-01-31T00:00:00Z --nonce licensed -o "$W/job.json"
dml-market verify --license "$W/license.json" --job "$W/job.json"
dml-ledger escrow -k "$W/customer.key" --job "$W/job.json" \
	--time 2026-01-03T00:00:00Z >/dev/null
say "   job $(dml-job --id "$W/job.json") names the license; its developer fee goes to the developer"
if dml-job -k "$W/customer.key" -t predict --data fashion-mnist -m "$W/model.json" \
	--license "$W/license.json" --budget 200 --created 2026-03-01T00:00:00Z \
	-o "$W/late.json" 2>"$W/late.err"; then
	say "   BUG: an expired license was accepted"; exit 1
fi
say "   after the subscription: $(cat "$W/late.err")"

say "== 4. the auction: waiting jobs in run order, and the price of the next window"
for j in "a 10 4" "b 30 5" "c 10 2" "d 5 6"; do
	set -- $j
	dml-job -k "$W/customer.key" -t stats --data fashion-mnist --features 784 \
		--classes 10 --min-devices "$3" --per-device "$2" \
		--budget $(($2 * $3)) --created 2026-01-03T00:00:00Z \
		--deadline 2026-01-31T00:00:00Z --nonce "$1" -o "$W/job-$1.json"
	dml-ledger escrow -k "$W/customer.key" --job "$W/job-$1.json" \
		--time 2026-01-03T00:00:00Z >/dev/null
done
cat "$W/job.json" "$W"/job-?.json >"$W/waiting.ndjson"
dml-auction --capacity 10 --time 2026-01-04T00:00:00Z "$W/waiting.ndjson" >"$W/slots.ndjson"
sed 's/.*"bid":"\([0-9]*\)","devices":\([0-9]*\),"job":"\([a-z0-9]*\)","rank":\([0-9]*\).*"window":\([0-9]*\).*/   rank \4: bid \1 x \2 devices, window \5, \3/' \
	"$W/slots.ndjson"
dml-auction --capacity 10 --time 2026-01-04T00:00:00Z --suggest --devices 3 \
	"$W/waiting.ndjson" >"$W/price.json"
say "   a new job of 3 devices runs in the next window if it bids $(field bid "$W/price.json") tokens per device"

say "== 5. a competition with a hidden test set"
N=200
{ printf '\0\0\10\3'; perl -e "print pack('N3', $N, 28, 28)";
  zcat "$DATA/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((N * 784)); } >"$W/test-img.idx"
{ printf '\0\0\10\1'; perl -e "print pack('N', $N)";
  zcat "$DATA/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c $N; } >"$W/test-lab.idx"
dml-market compete -k "$W/customer.key" --images "$W/test-img.idx" \
	--labels "$W/test-lab.idx" --prize 500 --split 70,30 \
	--deadline 2026-02-01T00:00:00Z --time 2026-01-05T00:00:00Z \
	--nonce "demo-$SEED" -o "$W/comp.json"
perl -MMIME::Base64 -e 'my @w = (0) x 7850; $w[7849] = 1;
    print "{\"act\":\"relu\",\"arch\":\"softmax\",\"layers\":[784,10],\"params\":{\"data\":\"",
    encode_base64(pack("f<*", @w), ""), "\",\"dtype\":\"f32\",\"shape\":[7850]},\"type\":\"dml.model\",\"v\":1}\n"' \
	>"$W/bob.model"
dml-market enter -k "$W/alice.key" --competition "$W/comp.json" \
	--model "$W/model.json" --time 2026-01-10T00:00:00Z >"$W/entries.ndjson"
dml-market enter -k "$W/bob.key" --competition "$W/comp.json" \
	--model "$W/bob.model" --time 2026-01-11T00:00:00Z >>"$W/entries.ndjson"
dml-market score -k "$W/customer.key" --competition "$W/comp.json" \
	--images "$W/test-img.idx" --labels "$W/test-lab.idx" \
	--time 2026-02-02T00:00:00Z "$W/entries.ndjson" -o "$W/leaderboard.json"
sed 's/},{/}\n{/g' "$W/leaderboard.json" |
	sed -n 's/.*"accuracy":\([0-9.]*\),"entrant":"\(........\).*"prize":"\([0-9]*\)","rank":\([0-9]*\).*/   rank \4: entrant \2..., accuracy \1, prize \3/p'
# the winners are paid through dml-settle: one settle entry of the prize
dml-settle -k "$W/customer.key" --competition "$W/comp.json" \
	--leaderboard "$W/leaderboard.json" --time 2026-02-02T00:00:00Z >"$W/settled.ndjson"
head -1 "$W/settled.ndjson" >"$W/prizes.json"
say "   paid $(field paid "$W/prizes.json"), returned $(field refund "$W/prizes.json") to the customer"
dml-ledger verify >/dev/null
say "== the ledger verifies: $(wc -l <"$DML_LEDGER") entries"
