#!/bin/sh
# dml-settle --rpc: a job settled on a real chain (ganache 7.9.2, contracts
# compiled with solc 0.8.24) pays what the embedded ledger pays; claims
# with proofs; refunds after the deadline; and each fault a clear error
# with no double payment: a revert, a wrong chain id, a nonce gap, no
# funds for gas, an unreachable node, a rerun, a wrong proof, a claim made
# twice. Skipped when contrib/ethereum/install has not been run, unless
# DML_REQUIRE_REAL=1, which makes a missing install a failure.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-eth.sh"

# the address book book.nd: every payee's address, signed by its
# identity; d5 has none (its pay goes back to the customer)
parties
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json
job j1 1000
job j2 1000
job j3 500
job j4 500 2099-01-01T00:00:00Z
contrib $j1 d1 d2 d3 d4 >c1.json
contrib $j2 d1 d2 d3 d4 d5 >c2.json

test_expect_success 'deploy the token and the escrow' '
	dml-settle deploy -K deployer.eth --contracts "$TRASH/build" \
		--supply 10000000 --growth-pool 1000000 --bounty-pool 1000 >dep &&
	test_grep "\"chain_id\":1337" dep &&
	test_grep "\"settler\":\"$DEPLOYER\"" dep
'
DML_ETH_ESCROW=$(field escrow <dep)
export DML_ETH_ESCROW

test_expect_success 'the customer is funded and deposits three budgets' '
	dml-settle transfer -K deployer.eth --to $CUSTOMER --amount 100000 >/dev/null &&
	test "$(bal $CUSTOMER $DEPLOYER)" = "100000 9900000" &&
	for j in j1 j2 j3 j4; do
		dml-settle deposit -K customer.eth --job $j.json >dep.$j || return 1
	done &&
	test_grep "\"amount\":\"1000\"" dep.j1 &&
	test "$(bal $CUSTOMER)" = 97000 &&
	dml-settle status --job j1.json | test_grep "\"state\":\"open\"" - &&
	test_expect_code 1 dml-settle deposit -K customer.eth --job j1.json 2>err &&
	test_grep "JobExists" err
'
test_expect_success 'the same job on the ledger and on the chain: the same payouts' '
	dml-ledger -L l.nd --time 2026-01-01T00:00:00Z genesis -k auth.key \
		--supply 10000000 --growth-pool 0 --bounty-pool 0 \
		--alloc cust.pub=100000 >/dev/null &&
	dml-ledger -L l.nd escrow -k cust.key --job j1.json --time 2026-01-01T00:01:00Z >/dev/null &&
	dml-settle -L l.nd -k rep.key --job j1.json --stored stored.json \
		--contributions c1.json --time 2026-01-01T12:00:00Z >ledger.out &&
	t0=$(date +%s%N) &&
	DML_IPFS_REPO=$TRASH/ipfs dml-settle -K deployer.eth -P book.nd --job j1.json \
		--stored stored.json --contributions c1.json >chain1.out &&
	t1=$(date +%s%N) &&
	echo "# settled on chain in $(( (t1 - t0) / 1000000 )) ms" >&3 &&
	head -1 ledger.out | jq -c "[.payouts[] | {amount, role, to}]" >want &&
	head -1 chain1.out | jq -c "[.leaves[] | {amount, role, to}]" >got &&
	test_cmp want got &&
	head -1 chain1.out | test_grep "\"paid\":\"189\",.*\"refund\":\"811\"" - &&
	tail -1 chain1.out | test_grep "\"type\":\"dml.eth.settled\"" - &&
	test "$(bal $CUSTOMER)" = 97811 &&
	dml-settle status --job j1.json | test_grep "\"state\":\"settled\"" - &&
	cid=$(tail -1 chain1.out | field payouts) &&
	head -1 chain1.out >first &&
	DML_IPFS_REPO=$TRASH/ipfs dml-ipfs-get $cid >stored.list &&
	cmp stored.list first
' 3>&1
test_expect_success 'every payee claims with its proof and is paid once' '
	n=$(head -1 chain1.out | jq ".leaves | length") && test $n = 8 &&
	i=0 && while [ $i -lt $n ]; do
		dml-settle claim -K customer.eth --payouts chain1.out --index $i >cl.$i &&
		i=$((i + 1)) || return 1
	done &&
	test_grep "\"type\":\"dml.eth.claimed\"" cl.0 &&
	test "$(bal $(addr d1.payee) $(addr devel.payee) $(addr fed1.payee) $(addr fed2.payee) $(addr rep.payee))" = "10 100 22 7 20" &&
	dml-settle status --job j1.json | test_grep "\"unclaimed\":\"0\"" -
'
test_expect_success 'a claim made twice: refused, by the client and by the contract' '
	test_expect_code 1 dml-settle claim -K customer.eth --payouts chain1.out \
		--address $(addr d1.payee) 2>err &&
	test_grep "already claimed" err &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts chain1.out \
		--address $(addr d1.payee) --force 2>err &&
	test_grep "AlreadyClaimed" err &&
	test "$(bal $(addr d1.payee))" = 10
'
test_expect_success 'a rerun of a settled job sends nothing and pays nothing twice' '
	DML_IPFS_REPO=$TRASH/ipfs dml-settle -K deployer.eth -P book.nd --job j1.json \
		--stored stored.json --contributions c1.json >rerun 2>err &&
	test_grep "already settled" err &&
	tail -1 rerun | test_grep "\"already\":true" - &&
	test "$(bal $CUSTOMER)" = 97811
'
test_expect_success 'an unmapped payee: its pay goes back to the customer' '
	DML_IPFS_REPO=$TRASH/ipfs dml-settle -K deployer.eth -P book.nd --job j2.json \
		--stored stored.json --contributions c2.json >chain2.out &&
	head -1 chain2.out | test_grep "\"unmapped\":\"10\"" - &&
	head -1 chain2.out | test_grep "\"paid\":\"190\",.*\"refund\":\"810\"" - &&
	test "$(bal $CUSTOMER)" = 98621
'
test_expect_success 'a claim with a wrong proof is reverted, nothing paid' '
	head -1 chain2.out | jq -c ".leaves[0].amount = \"1000\"" >forged &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts forged --index 0 2>err &&
	test_grep "do not give the root" err &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts forged --index 0 --force 2>err &&
	test_grep "BadProof" err &&
	dml-settle claim --proof-only --payouts chain2.out --index 0 >proof &&
	test_grep "\"type\":\"dml.eth.proof\"" proof &&
	test "$(dml-settle status --job j2.json | field unclaimed)" = 190
'
test_expect_success 'faults: a revert, a wrong chain id, a nonce gap, no gas money, no node' '
	test_expect_code 1 dml-settle -K customer.eth -P book.nd --job j3.json \
		--stored stored.json --contributions c1.json 2>err &&
	test_grep "contributions are for job" err &&
	contrib $j3 d1 d2 d3 >c3.json &&
	test_expect_code 1 dml-settle -K customer.eth -P book.nd --job j3.json \
		--stored stored.json --contributions c3.json 2>err &&
	test_grep "NotSettler" err &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --job j3.json \
		--stored stored.json --contributions c3.json --chain-id 1 2>err &&
	test_grep "wrong chain id: the node at .* is chain 1337, not 1" err &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --job j3.json \
		--stored stored.json --contributions c3.json --nonce 1000 2>err &&
	test_grep "nonce gap" err &&
	dml-keygen --eth -o poor.eth >/dev/null &&
	test_expect_code 1 dml-settle transfer -K poor.eth --to $CUSTOMER --amount 0 2>err &&
	test_grep "insufficient funds" err &&
	test_expect_code 2 dml-settle --rpc http://127.0.0.1:1 status --job j3.json 2>err &&
	test_grep "cannot reach the node" err &&
	test_expect_code 2 dml-settle -r http://127.0.0.1:1 status -j j3.json 2>err &&
	test_grep "^dml-settle: status: warning: -r is an old spelling of --rpc" err &&
	test_grep "cannot reach the node" err &&
	dml-settle status --job j3.json | test_grep "\"state\":\"open\"" -
'
test_expect_success 'unspent escrow returns after the deadline, not before' '
	test_expect_code 1 dml-settle refund -K customer.eth --job j4.json 2>err &&
	test_grep "DeadlineNotPassed" err &&
	before=$(bal $CUSTOMER) &&
	dml-settle refund -K customer.eth --job j3.json >/dev/null &&
	test "$(bal $CUSTOMER)" = $((before + 500)) &&
	test_expect_code 1 dml-settle refund -K customer.eth --job j3.json 2>err &&
	test_grep "NotOpen" err &&
	test_expect_code 1 dml-settle -K deployer.eth -P book.nd --job j3.json \
		--stored stored.json --contributions c3.json 2>err &&
	test_grep "already refunded" err
'
stop_node
test_done
