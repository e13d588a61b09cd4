#!/bin/sh
# dml-market acquire --rpc: a license paid in DML tokens on a real chain
# (ganache, the contracts of contrib/ethereum): the developer's address
# from the address book, the balances after, verify --rpc through the
# transaction's receipt and its Transfer log; bad cases: too few tokens
# (nothing paid, no license), a license naming a transaction that paid
# someone else or less (refused by verify), a payer that is not the
# licensee's address, an unreachable node. Skipped when
# contrib/ethereum/install has not been run, unless DML_REQUIRE_REAL=1.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-eth.sh"

. "$TEST_DIRECTORY/lib-market-eth.sh"
DEVADDR=$(addr devel.payee)

test_expect_success 'deploy; the customer holds 150 tokens; a listing at 100' '
	market_setup 150
'
DML_ETH_ESCROW=$(field escrow <dep)
export DML_ETH_ESCROW

test_expect_success 'usage: --rpc needs the address book, -K; chain options need --rpc' '
	test_expect_code 2 dml-market acquire -k cust.key --listing l.json $RPC \
		-K customer.eth 2>err &&
	test_grep "needs -P BOOK" err &&
	test_expect_code 2 dml-market acquire -k cust.key --listing l.json $RPC \
		-P book2.nd 2>err &&
	test_grep "needs -K ETHKEY" err &&
	test_expect_code 2 dml-market acquire -k cust.key --listing l.json \
		-P book2.nd 2>err &&
	test_grep "need --rpc URL" err &&
	test "$(bal $CUSTOMER)" = 150
'
test_expect_success 'acquire --rpc: the price paid to the developer in tokens, the license names the transaction' '
	dml-market acquire -k cust.key --listing l.json $RPC -K customer.eth \
		-P book2.nd --time 2026-01-02T00:00:00Z -o lic.json >out &&
	test_empty out &&
	test "$(bal $CUSTOMER $DEVADDR)" = "50 100" &&
	jq -e ".payment | .chain == 1337 and .amount == \"100\" and
		(.to | ascii_downcase) == (\"$DEVADDR\" | ascii_downcase) and
		(.from | ascii_downcase) == (\"$CUSTOMER\" | ascii_downcase)" lic.json >/dev/null &&
	TX=$(jq -r .payment.tx lic.json) && BLOCK=$(jq -r .payment.block lic.json) &&
	receipt=$(rpc eth_getTransactionReceipt "[\"$TX\"]") &&
	test "$(echo "$receipt" | jq -r .blockNumber)" = "$(printf 0x%x $BLOCK)" &&
	gas=$(printf %d $(echo "$receipt" | jq -r .gasUsed)) &&
	echo "# gas of a license purchase (ERC-20 transfer): $gas" >&3 &&
	! jq -e .payment.seq lic.json >/dev/null &&
	dml-market verify --license lic.json $RPC -P book2.nd
' 3>&1
test_expect_success 'the license is a valid single-use license for a job' '
	dml-job -k cust.key -t predict --data fashion -m zero.model --min-devices 3 \
		--budget 100 --license lic.json --created 2026-01-03T00:00:00Z \
		--nonce a -o job.json &&
	dml-market verify --license lic.json --job job.json $RPC -P book2.nd
'
test_expect_success 'insufficient token balance: a clear error, nothing paid, no license' '
	test_expect_code 1 dml-market acquire -k cust.key --listing l.json $RPC \
		-K customer.eth -P book2.nd -o lic2.json 2>err &&
	test_grep "insufficient funds: 100 tokens to pay, the token balance of $CUSTOMER is 50" err &&
	! test -e lic2.json &&
	test "$(bal $CUSTOMER $DEVADDR)" = "50 100"
'
test_expect_success 'a payer that is not the licensee, a developer without an address' '
	test_expect_code 1 dml-market acquire -k cust.key --listing l2.json $RPC \
		-K deployer.eth -P book2.nd -o lic2.json 2>err &&
	test_grep "the paying key.s address $DEPLOYER is not the licensee.s address" err &&
	test_expect_code 1 dml-market acquire -k cust.key --listing l2.json $RPC \
		-K customer.eth -P cust.payee -o lic2.json 2>err &&
	test_grep "has no address in cust.payee" err &&
	! test -e lic2.json && test "$(bal $CUSTOMER)" = 50
'
# forge TX [JQ]: lic.json naming another transaction, re-signed by its licensee
forge() {
	jq -c ".payment.tx = \"$1\" ${2:+| $2}" lic.json | jq -c "del(.sig, .from)" | $SIGN cust.key
}
test_expect_success 'verify --rpc refuses a transaction that paid someone else or less' '
	TX=$(jq -r .payment.tx lic.json) &&
	dml-settle transfer -K customer.eth --to $DEPLOYER --amount 10 >t1 &&
	forge $(field tx <t1) >other.json &&
	test_expect_code 1 dml-market verify --license other.json $RPC -P book2.nd 2>err &&
	test_grep "transaction $(field tx <t1) is no Transfer of 100 tokens to the developer" err &&
	dml-settle transfer -K customer.eth --to $DEVADDR --amount 40 >t2 &&
	forge $(field tx <t2) >less.json &&
	test_expect_code 1 dml-market verify --license less.json $RPC -P book2.nd 2>err &&
	test_grep "is no Transfer of 100 tokens" err &&
	forge $TX ".payment.to = \"$DEPLOYER\"" >to.json &&
	test_expect_code 1 dml-market verify --license to.json $RPC -P book2.nd 2>err &&
	test_grep "the payment went to $DEPLOYER, not to the developer.s address" err &&
	forge $TX ".payment.block = 1" >block.json &&
	test_expect_code 1 dml-market verify --license block.json $RPC -P book2.nd 2>err &&
	test_grep "was mined in block [0-9]*, not 1" err &&
	forge 0x$(printf "%064d" 7) >none.json &&
	test_expect_code 1 dml-market verify --license none.json $RPC -P book2.nd 2>err &&
	test_grep "is not on the chain" err &&
	forge $TX ".payment.amount = \"90\"" >amt.json &&
	test_expect_code 1 dml-market verify --license amt.json $RPC -P book2.nd 2>err &&
	test_grep "amt.json:1: field \"payment.amount\" is not the price" err &&
	sed "s/\"block\":/\"block\":1/" lic.json >tampered.json &&
	test_expect_code 1 dml-market verify --license tampered.json $RPC -P book2.nd 2>err &&
	test_grep "bad signature" err
'
test_expect_success 'a ledger check of a chain license names the chain; a wrong escrow token' '
	dml-ledger -L l.nd --time $T0 genesis -k auth.key --supply 100 \
		--growth-pool 0 --bounty-pool 0 >/dev/null &&
	test_expect_code 1 dml-market verify --license lic.json -L l.nd 2>err &&
	test_grep "was paid on chain (transaction .*), not on the ledger" err &&
	dml-settle deploy -K deployer.eth --contracts "$TRASH/build" --supply 5 >dep2 &&
	test_expect_code 1 dml-market verify --license lic.json $RPC -P book2.nd \
		--escrow $(field escrow <dep2) 2>err &&
	test_grep "not in the escrow.s token" err
'
test_expect_success 'an unreachable node: exit 2, nothing written' '
	test_expect_code 2 dml-market verify --license lic.json \
		--rpc http://127.0.0.1:1 -P book2.nd 2>err &&
	test_grep "cannot reach the node" err &&
	test_expect_code 2 dml-market acquire -k cust.key --listing l2.json \
		--rpc http://127.0.0.1:1 -K customer.eth -P book2.nd -o lic3.json 2>err &&
	test_grep "cannot reach the node" err &&
	! test -e lic3.json
'
# A competition on chain: the prize deposited on JobEscrow under the
# competition's id, settled by dml-settle as one Merkle root, claimed.
D1=$(hex d1.pub) D5=$(hex d5.pub)
test_expect_success 'compete --rpc: the prize deposited on chain under the competition id' '
	dml-settle transfer -K deployer.eth --to $CUSTOMER --amount 1000 >/dev/null &&
	head -c 100 /dev/urandom >img.idx && head -c 10 /dev/urandom >lab.idx &&
	test_expect_code 2 dml-market compete -k cust.key --images img.idx \
		--labels lab.idx --prize 300 --deadline 2026-02-01T00:00:00Z \
		--time 2026-01-05T00:00:00Z $RPC 2>err &&
	test_grep "needs -K ETHKEY" err &&
	dml-market compete -k cust.key --images img.idx --labels lab.idx \
		--prize 300 --split 50,30,10 --deadline 2026-02-01T00:00:00Z \
		--time 2026-01-05T00:00:00Z --nonce c1 $RPC -K customer.eth -o comp.json &&
	test "$(bal $CUSTOMER)" = 700 &&
	COMP=$(dml-ipfs-put -n comp.json | field cid) &&
	test_expect_code 1 dml-settle deposit -K customer.eth --competition comp.json 2>err &&
	test_grep "JobExists" err
'
# board NAME KEY ENTRANTS...: a leaderboard of comp.json signed by KEY
board() {
	n=$1 k=$2
	shift 2
	r=0 rk=
	for e in "$@"; do
		r=$((r + 1))
		rk="$rk${rk:+,}{\"entrant\":\"$e\",\"rank\":$r}"
	done
	printf '{"competition":"%s","customer":"%s","ranking":[%s],"type":"dml.leaderboard","v":1}\n' \
		"$(dml-ipfs-put -n comp.json | field cid)" "$(hex cust.pub)" "$rk" | $SIGN $k >$n
}
test_expect_success 'dml-settle --rpc --competition: one root, the winners claim their prizes' '
	board b.json cust.key $D1 $D5 $DEVEL &&
	dml-settle -K deployer.eth -P book.nd --competition comp.json \
		--leaderboard b.json >cs.out &&
	head -1 cs.out | jq -c "[.leaves[] | {amount, to}]" >got &&
	printf "[{\"amount\":\"150\",\"to\":\"%s\"},{\"amount\":\"30\",\"to\":\"%s\"}]\n" $D1 $DEVEL >want.0 &&
	jq -c "sort_by(.to)" want.0 >want && jq -c "sort_by(.to)" got >got.s &&
	test_cmp want got.s &&
	head -1 cs.out | test_grep "\"paid\":\"180\",\"refund\":\"120\"" - &&
	head -1 cs.out | test_grep "\"report\":\"$(dml-ipfs-put -n b.json | field cid)\"" - &&
	tail -1 cs.out | test_grep "\"type\":\"dml.eth.settled\"" - &&
	gas=$(tail -1 cs.out | jq .gas_used) &&
	echo "# gas of a competition settlement (one root, 3 ranks): $gas" >&3 &&
	before=$(bal $DEVADDR) &&
	dml-settle claim -K customer.eth --payouts cs.out --address $(addr d1.payee) >cl1 &&
	dml-settle claim -K customer.eth --payouts cs.out --address $DEVADDR >cl2 &&
	echo "# gas of a claim: $(jq .gas_used cl2 | tail -1)" >&3 &&
	test "$(bal $(addr d1.payee))" = 150 &&
	test "$(bal $DEVADDR)" = $((before + 30))
' 3>&1
test_expect_success 'a second award pays nothing; another leaderboard, a foreign one: refused' '
	b1=$(bal $(addr d1.payee) $DEVADDR $CUSTOMER) &&
	dml-settle -K deployer.eth -P book.nd --competition comp.json \
		--leaderboard b.json >again 2>err &&
	test_grep "competition .* was already settled with these payouts: nothing sent" err &&
	board b2.json cust.key $DEVEL $D1 &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --competition comp.json \
		--leaderboard b2.json >out 2>err &&
	test_grep "competition .* is already settled on chain with another root" err &&
	board fake.json d1.key $D1 &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --competition comp.json \
		--leaderboard fake.json >out 2>err &&
	test_grep "fake.json:1: not a leaderboard of competition .* signed by its customer" err &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts cs.out \
		--address $(addr d1.payee) 2>err &&
	test_grep "already claimed" err &&
	test "$(bal $(addr d1.payee) $DEVADDR $CUSTOMER)" = "$b1"
'
test_expect_success 'a competition without a deposit on chain is refused' '
	jq -c ".nonce = \"c2\" | del(.sig, .from)" comp.json | $SIGN cust.key >comp2.json &&
	cp comp.json comp1.json && cp comp2.json comp.json &&
	board b3.json cust.key $D1 && cp comp1.json comp.json &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --competition comp2.json \
		--leaderboard b3.json 2>err &&
	test_grep "competition .* has no escrow on chain (dml-settle deposit --competition)" err
'
test_done
