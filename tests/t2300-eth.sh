#!/bin/sh
# dml-settle --rpc: a job settled on a real chain (ganache 7.9.2, contracts
# compiled with solc 0.8.24) pays what the embedded ledger pays; claims
# with proofs; refunds after the deadline; and each fault a clear error
# with no double payment: a revert, a wrong chain id, a nonce gap, no
# funds for gas, an unreachable node, a rerun, a wrong proof, a claim made
# twice. Skipped when contrib/ethereum/install has not been run, unless
# DML_REQUIRE_REAL=1, which makes a missing install a failure.
. "$(dirname "$0")/lib.sh"

ETH=$SRC_DIR/contrib/ethereum
PY=/usr/bin/python3
if [ ! -x "$ETH/node_modules/.bin/ganache" ] || [ ! -d "$ETH/node_modules/solc" ]; then
	if [ "${DML_REQUIRE_REAL:-0}" = 1 ]; then
		echo "not ok 1 - ganache and solc are installed (DML_REQUIRE_REAL=1): run contrib/ethereum/install"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP ganache and solc are not installed (contrib/ethereum/install)"
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
	exit 0
fi
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
DML_ETH_RPC=http://127.0.0.1:$PORT
export DML_ETH_RPC
node_pid=
stop_node() {
	[ -z "$node_pid" ] || "$ETH/stop" "$node_pid"
	node_pid=
}
trap 'stop_node' EXIT
trap 'stop_node; exit 1' HUP INT TERM
if ! "$ETH/compile" "$TRASH/build" 2>compile.err ||
	! node_pid=$("$ETH/start" "$TRASH/chain" "$PORT" 2>start.err); then
	node_pid=
	echo "not ok 1 - compile the contracts and start ganache"
	sed 's/^/#  /' compile.err start.err 2>/dev/null
	echo "1..1"
	exit 1
fi

SIGN=$SRC_DIR/tests/helpers/rec-sign
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
addr() { sed -n 's/.*"address":"\(0x[0-9a-fA-F]*\)".*/\1/p' "$1"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# ganache --wallet.deterministic accounts 0 and 1 (well-known test keys)
ethkey() { printf '{"secret":"%s","type":"dml.eth.secretkey","v":1}\n' $2 >$1; chmod 600 $1; }
ethkey deployer.eth 4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d
ethkey customer.eth 6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1
DEPLOYER=0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1
CUSTOMER=0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0

for k in auth cust rep fed1 fed2 devel d1 d2 d3 d4 d5; do dml-keygen -o $k.key >$k.pub; done
# the address book: every payee's address, signed by its identity; d5 has
# none (its pay goes back to the customer)
for k in rep fed1 fed2 devel d1 d2 d3 d4; do
	dml-keygen --eth -o $k.eth --payee $k.key >$k.payee
done
cat rep.payee fed1.payee fed2.payee devel.payee d1.payee d2.payee d3.payee \
	d4.payee >book.nd
REP=$(hex rep.pub) FED1=$(hex fed1.pub) FED2=$(hex fed2.pub) DEVEL=$(hex devel.pub)
devices() { for d in "$@"; do hex $d.pub; done | sort | paste -sd, | sed 's/\([0-9a-f]\{64\}\)/"\1"/g'; }
# contrib JOB DEVICES...: the report node's signed dml.contributions
contrib() {
	j=$1
	shift
	printf '{"type":"dml.contributions","v":1,"job":"%s","devices":[%s],"nodes":{"report":"%s","federated":[{"key":"%s","devices":3},{"key":"%s","devices":%d}]},"developer":"%s"}\n' \
		$j "$(devices "$@")" $REP $FED1 $FED2 $(($# - 3)) $DEVEL | $SIGN rep.key
}
job() {
	dml-job -k cust.key -t stats -d toy --features 4 --classes 3 \
		--min-devices 3 --budget $2 --per-device 10 \
		--developer-fee 100 --node-fee federated=30 --node-fee report=20 \
		--node-fee distributing=7 --created 2026-01-01T00:00:00Z \
		--deadline ${3:-2026-01-02T00:00:00Z} --nonce $1 -o $1.json &&
	eval "$1=\$(dml-job --id $1.json)"
}
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json
job j1 1000
job j2 1000
job j3 500
job j4 500 2099-01-01T00:00:00Z
contrib $j1 d1 d2 d3 d4 >c1.json
contrib $j2 d1 d2 d3 d4 d5 >c2.json
bal() { dml-settle balance "$@" | field amount | paste -sd' '; }

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
		dml-settle claim -K customer.eth --payouts chain1.out --index $i >cl.$i || return 1
		i=$((i + 1))
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
		--stored stored.json --contributions c1.json 2>err ;
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
