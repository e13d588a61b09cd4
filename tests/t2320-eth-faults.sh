#!/bin/sh
# dml-settle --rpc when the node fails under it (ganache 7.9.2, its chain
# kept in a database directory and restarted from it): a node killed
# between the deposit and the settlement, one killed after the settle
# transaction was sent and before it was mined, one killed after it was
# mined and before the client read the receipt: each a clear error, and
# the rerun on the restarted node settles the job exactly once (one
# Settled event, the refund paid once, every claim paid once). And a
# transaction mined with status 0 (two claims of one leaf racing into a
# block): a clear error naming the call and the transaction, paid once.
# Skipped like t2300-eth.sh.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-eth.sh"

parties
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json
DML_IPFS_REPO=$TRASH/ipfs
export DML_IPFS_REPO
for j in j1 j2 j3 j4; do job $j 1000 2099-01-01T00:00:00Z; done
for j in j1 j2 j3 j4; do eval "contrib \$$j d1 d2 d3 d4" >c$j.json; done
# the 0x hex of a string, and the topic of an event signature
tohex() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }
SETTLED=$(rpc web3_sha3 "[\"0x$(tohex 'Settled(bytes32,bytes32,uint256,uint256,string)')\"]" | tr -d '"')
# settled JOB: how many Settled events the escrow logged for the job
settled() {
	id=$(rpc web3_sha3 "[\"0x$(tohex "$1")\"]" | tr -d '"')
	rpc eth_getLogs "[{\"fromBlock\":\"0x0\",\"address\":\"$DML_ETH_ESCROW\",\"topics\":[\"$SETTLED\",\"$id\"]}]" | jq length
}
settle() {
	dml-settle -K deployer.eth -P book.nd --job $1.json --stored stored.json \
		--contributions c$1.json --timeout 20
}
# is WHAT GOT WANT: GOT must be WANT
is() { [ "$2" = "$3" ] || { echo "$1: got '$2', want '$3'"; return 1; }; }
# pending: transactions waiting in the node's pool
pending() { rpc txpool_content | jq "[.pending[] | keys[]] | length"; }
wait_pending() {
	i=0
	while [ "$(pending)" -lt $1 ]; do
		i=$((i + 1)) && [ $i -lt 300 ] || return 1
		sleep 0.1
	done
}

test_expect_success 'deploy, fund the customer, deposit four jobs' '
	test "$(echo $SETTLED | wc -c)" = 67 &&
	dml-settle deploy -K deployer.eth --contracts "$TRASH/build" \
		--supply 10000000 >dep &&
	DML_ETH_ESCROW=$(field escrow <dep) &&
	dml-settle --escrow $DML_ETH_ESCROW transfer -K deployer.eth --to $CUSTOMER \
		--amount 10000 >/dev/null &&
	for j in j1 j2 j3 j4; do
		dml-settle --escrow $DML_ETH_ESCROW deposit -K customer.eth --job $j.json >/dev/null || return 1
	done &&
	test "$(bal --escrow $DML_ETH_ESCROW $CUSTOMER)" = 6000
'
DML_ETH_ESCROW=$(field escrow <dep)
export DML_ETH_ESCROW

test_expect_success 'the node dies between the deposit and the settlement: restarted, the job settles once' '
	kill_node &&
	test_expect_code 2 dml-settle status --job j1.json 2>err &&
	test_grep "cannot reach the node" err &&
	start_node &&
	dml-settle status --job j1.json >st &&
	test_grep "\"state\":\"open\"" st && test_grep "\"amount\":\"1000\"" st &&
	settle j1 >s1 &&
	tail -1 s1 | test_grep "\"type\":\"dml.eth.settled\"" - &&
	test "$(settled $j1)" = 1 &&
	test "$(bal $CUSTOMER)" = 6811
'
test_expect_success 'the node dies with the settle transaction sent, not mined: a clear error, no output; the rerun settles once' '
	test "$(rpc miner_stop)" = true &&
	{ settle j2 >s2 2>err & } &&
	pid=$! &&
	wait_pending 1 &&
	kill_node &&
	test_expect_code 2 wait $pid &&
	test_grep "settle: transaction 0x[0-9a-f]\{64\} was sent, its receipt is unknown: .*cannot reach the node" err &&
	test_empty s2 &&
	start_node &&
	test "$(settled $j2)" = 0 &&
	dml-settle status --job j2.json | test_grep "\"state\":\"open\"" - &&
	settle j2 >s2 &&
	tail -1 s2 | test_grep "\"gas_used\"" - &&
	settle j2 >again 2>err &&
	test_grep "already settled" err &&
	test "$(settled $j2)" = 1 &&
	test "$(bal $CUSTOMER)" = 7622
'
test_expect_success 'the node dies after mining the settle transaction, before the client read the receipt: the rerun sends nothing' '
	test "$(rpc miner_stop)" = true &&
	{ dml-settle -K deployer.eth -P book.nd --job j3.json --stored stored.json \
		--contributions cj3.json >s3 2>err & } &&	# $! is dml-settle
	pid=$! &&
	wait_pending 1 &&
	kill -STOP $pid &&
	sleep 0.5 &&	# a poll in flight gets its answer (not mined) first
	rpc evm_mine >/dev/null &&
	is pending "$(pending)" 0 &&
	kill_node &&
	kill -CONT $pid &&
	{ wait $pid && rc=0 || rc=$?; } && is "exit status" $rc 2 &&
	test_grep "was sent, its receipt is unknown" err &&
	test_empty s3 &&
	start_node &&
	is "Settled events after the restart" "$(settled $j3)" 1 &&
	before=$(bal $CUSTOMER) && is "customer" $before 8433 &&
	settle j3 >s3 2>err &&
	test_grep "job $j3 was already settled with these payouts: nothing sent" err &&
	tail -1 s3 | test_grep "\"already\":true" - &&
	test "$(settled $j3)" = 1 &&
	test "$(bal $CUSTOMER)" = $before
'
test_expect_success 'every payee of the restarted jobs claims once' '
	for s in s1 s2 s3; do
		i=0 && while [ $i -lt 8 ]; do
			dml-settle claim -K customer.eth --payouts $s --index $i >/dev/null &&
			i=$((i + 1)) || return 1
		done || return 1
	done &&
	test "$(bal $(addr d1.payee) $(addr devel.payee) $(addr rep.payee))" = "30 300 60" &&
	for j in j1 j2 j3; do
		dml-settle status --job $j.json | test_grep "\"unclaimed\":\"0\"" - || return 1
	done
'
test_expect_success 'a transaction mined with status 0: a clear error naming the call, paid once' '
	settle j4 >s4 &&
	ethkey third.eth 6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c &&
	test "$(rpc miner_stop)" = true &&
	{ dml-settle claim -K customer.eth --payouts s4 --index 0 >cl.a 2>err.a & } &&
	a=$! &&
	{ dml-settle claim -K third.eth --payouts s4 --index 0 >cl.b 2>err.b & } &&
	b=$! &&
	wait_pending 2 &&
	test "$(rpc miner_start)" = true &&
	{ wait $a && ra=0 || ra=$?; } && { wait $b && rb=0 || rb=$?; } &&
	test "$ra$rb" = 01 || test "$ra$rb" = 10 &&
	cat err.a err.b >err &&
	test_grep "claim: transaction 0x[0-9a-f]\{64\} was mined in block [0-9]* and reverted (status 0): .*AlreadyClaimed" err &&
	if [ $ra = 1 ]; then test_empty cl.a; else test_empty cl.b; fi &&
	leaf0=$(head -1 s4 | jq -r ".leaves[0].address") &&
	amount0=$(head -1 s4 | jq -r ".leaves[0].amount") &&
	test "$(dml-settle status --job j4.json | field unclaimed)" = $((189 - amount0)) &&
	test "$(bal $leaf0)" = $((4 * amount0))
'
stop_node
test_done
