#!/bin/sh
# dml-settle --rpc deposit --job: a job's single-use license on a real
# chain (ganache, contrib/ethereum): JobEscrow binds the license to the
# first job whose deposit names it and refuses a second job's deposit
# (LicenseUsed), with no tokens moved; a subscription license backs
# several jobs; a job without a license deposits as before. Skipped when
# contrib/ethereum/install has not been run, unless DML_REQUIRE_REAL=1.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-eth.sh"

. "$TEST_DIRECTORY/lib-market-eth.sh"
# ljob NAME LICENSE: a predict job NAME.json backed by LICENSE, budget 100
ljob() {
	dml-job -k cust.key -t predict --data fashion -m zero.model --min-devices 3 \
		--budget 100 ${2:+--license $2} --created 2026-01-03T00:00:00Z \
		--deadline 2026-02-01T00:00:00Z --nonce $1 -o $1.json
}
# gas TX: the gas a transaction used (the escrow holds tokens before each
# measured deposit, so that all pay the same for the token's storage)
gas() { printf %d $(rpc eth_getTransactionReceipt "[\"$1\"]" | jq -r .gasUsed); }

test_expect_success 'setup: a single-use and a subscription license paid on chain' '
	market_setup 1000 &&
	export DML_ETH_ESCROW=$(field escrow <dep) &&
	dml-market acquire -k cust.key --listing l.json $RPC -K customer.eth \
		-P book2.nd --time 2026-01-02T00:00:00Z -o single.json &&
	dml-market acquire -k cust.key --listing l2.json $RPC -K customer.eth \
		-P book2.nd --time 2026-01-02T00:00:00Z -o sub.json &&
	ljob a single.json && ljob b single.json && ljob s1 sub.json &&
	ljob s2 sub.json && ljob n1 && ljob n2 &&
	dml-settle deposit -K customer.eth --job n1.json \
		--escrow $DML_ETH_ESCROW >dep.n1
'
DML_ETH_ESCROW=$(field escrow <dep)
export DML_ETH_ESCROW
LIC=$(jq -r .license.id a.json)

test_expect_success 'a single-use license: the first job deposits, bound on chain' '
	dml-settle deposit -K customer.eth --job a.json >dep.a &&
	jq -e ".license.id == \"$LIC\" and .license.kind == \"single\"" dep.a >/dev/null &&
	echo "# gas of a deposit naming a single-use license: $(gas $(field tx <dep.a))" >&3 &&
	dml-settle status --job a.json >st.a &&
	jq -e ".state == \"open\" and .license.used_by == .job_id" st.a >/dev/null
' 3>&1
test_expect_success 'the second job naming it is refused: a clear error, no tokens move' '
	before=$(bal $CUSTOMER $DML_ETH_ESCROW) &&
	n0=$(rpc eth_blockNumber) &&
	test_expect_code 1 dml-settle deposit -K customer.eth --job b.json >out 2>err &&
	test_grep "license $LIC is single use and already backs job $(jq -r .job_id dep.a) on chain: job $(dml-job --id b.json) may not use it" err &&
	test_empty out &&
	test "$(bal $CUSTOMER $DML_ETH_ESCROW)" = "$before" &&
	test "$(rpc eth_blockNumber)" = "$n0" &&
	dml-settle status --job b.json >st.b &&
	jq -e ".state == \"none\" and .license.id == \"$LIC\" and
		.license.used_by == $(jq .job_id dep.a)" st.b >/dev/null
'
# sel SIGNATURE: a function's or error's selector (js-sha3 of the install)
sel() {
	node -e 'const k = require(process.argv[1] + "/node_modules/js-sha3").keccak256;
		console.log(k(process.argv[2]).slice(0, 8))' "$ETH" "$1"
}
test_expect_success 'the contract refuses it too: a deposit naming it reverts LicenseUsed' '
	A=$(jq -r .job_id dep.a | cut -c3-) &&
	L=$(jq -r .license.license_id dep.a | cut -c3-) &&
	data=0x$(sel "deposit(bytes32,uint256,uint64,bytes32,bool)")$(printf %064d 7)$(printf %064x 1)$(printf %064x 99999999)$L$(printf %064x 1) &&
	curl -s -H "content-type: application/json" --data \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"from\":\"$CUSTOMER\",\"to\":\"$DML_ETH_ESCROW\",\"data\":\"$data\"},\"latest\"]}" \
		"$DML_ETH_RPC" >res &&
	test_grep "0x$(sel "LicenseUsed(bytes32,bytes32)")$L$A" res &&
	data=0x$(sel "licenseJob(bytes32)")$L &&
	test "$(rpc eth_call "[{\"to\":\"$DML_ETH_ESCROW\",\"data\":\"$data\"},\"latest\"]")" = "\"0x$A\""
'
test_expect_success 'a subscription license backs two jobs' '
	dml-settle deposit -K customer.eth --job s1.json >dep.s1 &&
	dml-settle deposit -K customer.eth --job s2.json >dep.s2 &&
	jq -e ".license.kind == \"subscription\"" dep.s2 >/dev/null &&
	echo "# gas of a deposit naming a subscription license: $(gas $(field tx <dep.s2))" >&3 &&
	dml-settle status --job s1.json | test_grep "\"state\":\"open\"" - &&
	dml-settle status --job s2.json | test_grep "\"state\":\"open\"" -
' 3>&1
test_expect_success 'jobs without a license deposit as before' '
	dml-settle deposit -K customer.eth --job n2.json >dep.n2 &&
	! jq -e .license dep.n1 >/dev/null &&
	dml-settle status --job n1.json >st.n1 && ! jq -e .license st.n1 >/dev/null &&
	dml-settle status --job s1.json >st.s1 && ! jq -e .license st.s1 >/dev/null &&
	echo "# gas of a deposit without a license: $(gas $(field tx <dep.n2))" >&3 &&
	test "$(bal $DML_ETH_ESCROW)" = 500
' 3>&1
test_done
