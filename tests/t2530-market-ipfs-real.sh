#!/bin/sh
# dml-market against a real IPFS node (js-ipfs, Kubo's RPC API): a listing
# published to the node is bought by its CID alone from another index, and
# a competition's entries are fetched from the node to be scored.
# Skipped when contrib/ipfs/install has not been run, unless
# DML_REQUIRE_REAL=1.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/ipfs-node.sh"
DML_IPFS_API=$API
export DML_IPFS_API

cidof() { dml-ipfs-put -n "$1" | sed 's/.*"cid":"\([^"]*\)".*/\1/'; }
for k in auth dev cust e1; do dml-keygen -o $k.key >$k.pub; done
DML_LEDGER=$TRASH/ledger.nd
export DML_LEDGER
dml-ledger --time 2026-01-01T00:00:00Z genesis -k auth.key --supply 1000000 \
	--growth-pool 0 --bounty-pool 0 --alloc cust.pub=1000 >/dev/null
ZEROS=$(head -c 31400 /dev/zero | base64 -w0)
printf '{"act":"relu","arch":"softmax","layers":[784,10],"params":{"data":"%s","dtype":"f32","shape":[7850]},"type":"dml.model","v":1}\n' \
	"$ZEROS" >zero.model

test_expect_success 'publish stores the listing on the node; acquire by CID from it' '
	dml-market publish -k dev.key --algorithm zero.model --category vision \
		--price 10 --license single --description d --index dev.nd \
		--time 2026-01-01T00:00:00Z >l.json &&
	L=$(cidof l.json) &&
	dml-ipfs-get $L | cmp - l.json &&
	dml-market acquire -k cust.key --listing $L --index cust.nd \
		--time 2026-01-02T00:00:00Z >lic.json &&
	test_grep "\"listing\":\"$L\"" lic.json &&
	! test -s cust.nd
'
test_expect_success 'an id that is not a listing on the node is refused, nothing paid' '
	cp $DML_LEDGER before && dml-ipfs-put zero.model >/dev/null &&
	test_must_fail dml-market acquire -k cust.key --listing $(cidof zero.model) \
		--index cust.nd 2>err &&
	test_grep "^dml-market: acquire: $(cidof zero.model): expected a dml.listing record, got dml.model" err &&
	cmp before $DML_LEDGER
'
test_expect_success 'a competition scores a model fetched from the node' '
	N=50 &&
	{ printf "\0\0\10\3" && perl -e "print pack(q(N3), $N, 28, 28)" &&
	  zcat $DATA/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c $((N * 784)); } >img.idx &&
	{ printf "\0\0\10\1" && perl -e "print pack(q(N), $N)" &&
	  zcat $DATA/t10k-labels-idx1-ubyte.gz | tail -c +9 | head -c $N; } >lab.idx &&
	dml-market compete -k cust.key --images img.idx --labels lab.idx --prize 100 \
		--deadline 2026-02-01T00:00:00Z --time 2026-01-10T00:00:00Z -o comp.json &&
	dml-market enter -k e1.key --competition comp.json --model zero.model \
		--time 2026-01-11T00:00:00Z >ent.nd &&
	dml-ipfs-get $(cidof zero.model) | cmp - zero.model &&
	dml-market score -k cust.key --competition comp.json --images img.idx \
		--labels lab.idx --time 2026-02-02T00:00:00Z ent.nd >board.json &&
	dml-eval -m zero.model --idx img.idx lab.idx >m.json &&
	acc=$(sed "s/.*\"accuracy\":\([0-9.]*\),.*/\1/" m.json) &&
	test_grep "\"ranking\":\[{\"accuracy\":$acc," board.json
'
stop_node
test_done
