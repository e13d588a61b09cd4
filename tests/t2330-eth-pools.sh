#!/bin/sh
# dml-settle emit, bounty and sweep on a real chain (ganache 7.9.2): the
# token's growth-pool emission follows the embedded ledger's schedule and
# split epoch by epoch (the same amount, the same owner shares, the same
# extras in total; only who draws the extras differs, see dml-settle(1)),
# refuses what the ledger refuses; bounties come out of the bounty pool;
# payouts not claimed within the claim period go back to the customer,
# once, and no claim is taken after that. Skipped like t2300-eth.sh.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-eth.sh"

parties
for k in d1 d2 d3 d4 devel; do hex $k.pub; done >owners.txt
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json
DML_IPFS_REPO=$TRASH/ipfs
export DML_IPFS_REPO

test_expect_success 'deploy with a growth pool, a bounty pool and a claim period' '
	dml-settle deploy -K deployer.eth --contracts "$TRASH/build" \
		--supply 10000000 --growth-pool 1000000 --bounty-pool 1000 \
		--claim-period 60 >dep &&
	test_grep "\"claim_period\":60" dep &&
	dml-ledger -L l.nd --time 2026-01-01T00:00:00Z genesis -k auth.key \
		--supply 10000000 --growth-pool 1000000 --bounty-pool 1000 \
		--alloc cust.pub=100000 >/dev/null
'
DML_ETH_ESCROW=$(field escrow <dep)
TOKEN=$(field token <dep)
export DML_ETH_ESCROW

# emit K: epoch K on the ledger and on the chain, then compare
emit() {
	dml-ledger -L l.nd emit -k auth.key --epoch $1 --owners owners.txt >/dev/null &&
	tail -1 l.nd >ledger.$1 &&
	dml-settle emit -K deployer.eth -P book.nd --epoch $1 --owners owners.txt >chain.$1 &&
	test "$(jq -r .amount ledger.$1)" = "$(jq -r .amount chain.$1)" &&
	jq -c "[.payouts[] | select(.role == \"owner\") | {to, amount}]" ledger.$1 >want &&
	jq -c "[.payouts[] | select(.role == \"owner\") | {to, amount}]" chain.$1 >got &&
	test_cmp want got &&
	jq "[.payouts[] | select(.role == \"extra\") | .amount | tonumber] | add" ledger.$1 >want &&
	jq "[.payouts[] | select(.role == \"extra\") | .amount | tonumber] | add" chain.$1 >got &&
	test_cmp want got &&
	test "$(jq "[.payouts[].amount | tonumber] | add" ledger.$1)" = "$(jq -r .paid chain.$1)"
}
test_expect_success 'emissions of epochs 0, 1, 41, 42, 100, 300: as on the ledger' '
	for k in 0 1 41 42 100 300; do emit $k || { echo "epoch $k differs"; return 1; }; done &&
	test "$(jq -r .amount chain.0) $(jq -r .amount chain.42) $(jq -r .amount chain.300)" = "15625 8064 138" &&
	jq -r ".payouts[] | \"\(.address) \(.amount)\"" chain.* | sort |
		awk "{ t[\$1] += \$2 } END { for (a in t) print a, t[a] }" | sort >want &&
	for a in $(cut -d" " -f1 want); do echo "$a $(bal $a)" || return 1; done >got &&
	test_cmp want got &&
	paid=$(jq -s "[.[].paid | tonumber] | add" chain.*) &&
	test "$(bal $TOKEN)" = $((1000000 + 1000 - paid))
'
test_expect_success 'the extras are drawn from the seed in the Emission event' '
	jq -r .seed chain.42 | test_grep "^0x[0-9a-f]\{64\}$" - &&
	jq "[.payouts[] | select(.role == \"extra\")] | length" chain.42 >n &&
	test "$(cat n)" -ge 1 && test "$(cat n)" -le 5
'
test_expect_success 'emission faults: refused on chain as on the ledger' '
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 300 \
		--owners owners.txt 2>err &&
	test_grep "emit: the call would fail: .*EpochNotAfter(300, 301)" err &&
	test_must_fail dml-ledger -L l.nd emit -k auth.key --epoch 300 --owners owners.txt 2>err &&
	test_grep "not after" err &&
	test_expect_code 1 dml-settle emit -K customer.eth -P book.nd --epoch 301 \
		--owners owners.txt 2>err &&
	test_grep "NotAuthority" err &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 500 \
		--owners owners.txt 2>err &&
	test_grep "NothingPaid(500, 5)" err &&
	test_must_fail dml-ledger -L l.nd emit -k auth.key --epoch 500 --owners owners.txt 2>err &&
	test_grep "pays none of 5 owners" err &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 700 \
		--owners owners.txt 2>err &&
	test_grep "NothingEmitted(700)" err &&
	test_must_fail dml-ledger -L l.nd emit -k auth.key --epoch 700 --owners owners.txt 2>err &&
	test_grep "emits nothing" err &&
	cp owners.txt owners5.txt && hex d5.pub >>owners5.txt &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 301 \
		--owners owners5.txt 2>err &&
	test_grep "owners5.txt: owner .* has no address in book.nd" err &&
	printf "{\"type\":\"dml.eth.payee\",\"v\":1,\"address\":\"%s\"}\n" \
		$(addr d1.payee) | $SIGN d5.key | cat book.nd - >book5.nd &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book5.nd --epoch 301 \
		--owners owners5.txt 2>err &&
	test_grep "owners5.txt: owners .* and .* have the same address $(addr d1.payee)" err &&
	cat owners.txt owners.txt >twice.txt &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 301 \
		--owners twice.txt 2>err &&
	test_grep "twice.txt: owner .* is named twice" err &&
	: >none.txt &&
	test_expect_code 1 dml-settle emit -K deployer.eth -P book.nd --epoch 301 \
		--owners none.txt 2>err &&
	test_grep "none.txt: no owners" err &&
	test_expect_code 2 dml-settle emit -K deployer.eth -P book.nd --epoch 301 2>err &&
	test_grep "^dml-settle: emit: needs --epoch K and --owners FILE" err &&
	test_expect_code 2 dml-settle emit -K deployer.eth -P book.nd --epoch 301 \
		--owners missing.txt 2>err &&
	test_grep "missing.txt: No such file" err
'
test_expect_success 'a bounty comes out of the bounty pool, within it' '
	before=$(bal $TOKEN) && d1=$(bal $(addr d1.payee)) &&
	dml-settle bounty -K deployer.eth --to $(addr d1.payee) --amount 100 \
		--reason "crash in dml-run on an empty shard" >b &&
	test_grep "\"type\":\"dml.eth.bounty\"" b &&
	test_grep "\"reason\":\"crash in dml-run on an empty shard\"" b &&
	test "$(bal $(addr d1.payee)) $(bal $TOKEN)" = "$((d1 + 100)) $((before - 100))" &&
	dml-ledger -L l.nd bounty -k auth.key --to $(hex d1.pub) --amount 100 >/dev/null &&
	test_expect_code 1 dml-settle bounty -K deployer.eth --to $(addr d1.payee) --amount 901 2>err &&
	test_grep "PoolExhausted(900, 901)" err &&
	test_must_fail dml-ledger -L l.nd bounty -k auth.key --to $(hex d1.pub) --amount 901 2>err &&
	test_expect_code 1 dml-settle bounty -K deployer.eth --to $(addr d1.payee) --amount 0 2>err &&
	test_grep "ZeroAmount" err &&
	test_expect_code 1 dml-settle bounty -K customer.eth --to $CUSTOMER --amount 1 2>err &&
	test_grep "NotAuthority" err &&
	test "$(bal $TOKEN)" = $((before - 100))
'

job j1 1000
contrib $j1 d1 d2 d3 d4 >c1.json
test_expect_success 'a settled job: claims within the claim period, no sweep yet' '
	dml-settle transfer -K deployer.eth --to $CUSTOMER --amount 100000 >/dev/null &&
	dml-settle deposit -K customer.eth --job j1.json >/dev/null &&
	dml-settle -K deployer.eth -P book.nd --job j1.json --stored stored.json \
		--contributions c1.json >s1 &&
	head -1 s1 | test_grep "\"paid\":\"189\"" - &&
	dml-settle status --job j1.json >st && test_grep "\"claim_until\":[0-9]" st &&
	dml-settle claim -K customer.eth --payouts s1 --index 0 >/dev/null &&
	dml-settle claim -K customer.eth --payouts s1 --index 1 >/dev/null &&
	claimed=$(head -1 s1 | jq "[.leaves[0,1].amount | tonumber] | add") &&
	echo $claimed >claimed &&
	test_expect_code 1 dml-settle sweep -K customer.eth --job j1.json 2>err &&
	test_grep "sweep: the call would fail: .*ClaimPeriodNotOver" err &&
	test "$(dml-settle status --job j1.json | field unclaimed)" = $((189 - claimed))
'
test_expect_success 'after the claim period: no claim; the sweep returns the rest once' '
	test "$(rpc evm_increaseTime [120])" -ge 120 &&
	test "$(rpc evm_mine)" = "\"0x0\"" &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts s1 --index 2 2>err &&
	test_grep "ClaimPeriodOver" err &&
	before=$(bal $CUSTOMER) && rest=$((189 - $(cat claimed))) &&
	dml-settle sweep -K deployer.eth --job j1.json >sw &&
	test_grep "\"type\":\"dml.eth.swept\"" sw &&
	test "$(field amount <sw)" = $rest &&
	test "$(bal $CUSTOMER)" = $((before + rest)) &&
	dml-settle status --job j1.json >st &&
	test_grep "\"state\":\"swept\"" st && test_grep "\"unclaimed\":\"0\"" st &&
	test_expect_code 1 dml-settle sweep -K customer.eth --job j1.json 2>err &&
	test_grep "NotOpen" err &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts s1 --index 3 2>err &&
	test_grep "is swept on chain, not settled" err &&
	test_expect_code 1 dml-settle claim -K customer.eth --payouts s1 --index 3 --force 2>err &&
	test_grep "NotOpen" err &&
	test "$(bal $CUSTOMER)" = $((before + rest))
'
test_expect_success 'sweep refuses a job that is open or unknown' '
	job j2 500 2099-01-01T00:00:00Z &&
	test_expect_code 1 dml-settle sweep -K customer.eth --job j2.json 2>err &&
	test_grep "NoSuchJob" err &&
	dml-settle deposit -K customer.eth --job j2.json >/dev/null &&
	test_expect_code 1 dml-settle sweep -K customer.eth --job j2.json 2>err &&
	test_grep "NotOpen" err &&
	test_expect_code 2 dml-settle sweep -K customer.eth 2>err &&
	test_grep "^dml-settle: sweep: needs --job FILE" err
'
stop_node
test_done
