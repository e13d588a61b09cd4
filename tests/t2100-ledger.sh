#!/bin/sh
# dml-ledger: the embedded smart contract: operations and their rules,
# queries, bad ledgers, tampering (200 flipped bytes), crashes (200 kill -9).
. "$(dirname "$0")/lib.sh"

H=$SRC_DIR/tests/helpers
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
# at MINUTE: a fixed entry time on 2026-01-01
at() { printf '2026-01-01T%02d:%02d:00Z' $(($1 / 60)) $(($1 % 60)); }
# seeded keys and fixed times: the ledger is the same byte for byte each run
for k in auth alice bob cust dev1 dev2; do
	dml-keygen --seed t2100 --name $k -o $k.key >$k.pub
done
AUTH=$(hex auth.pub) ALICE=$(hex alice.pub) BOB=$(hex bob.pub)
CUST=$(hex cust.pub)

test_expect_success 'help and usage errors' '
	dml-ledger --help >out && test_grep "usage: dml-ledger" out &&
	test_grep "emit" out &&
	test_expect_code 2 dml-ledger 2>err &&
	test_grep "^dml-ledger: give a command: genesis transfer" err &&
	test_expect_code 2 dml-ledger frobnicate 2>err &&
	test_grep "^dml-ledger: .frobnicate. is not a command" err &&
	test_expect_code 2 dml-ledger transfer -k auth.key --amount 5 2>err &&
	test_grep "^dml-ledger: transfer: --to KEY is required" err &&
	test_expect_code 2 dml-ledger transfer -k auth.key --to bob.pub \
		--amount 1e5 2>err &&
	test_grep "^dml-ledger: transfer: --amount: .1e5. is not a token amount" err &&
	test_expect_code 2 dml-ledger --time yesterday verify 2>err &&
	test_grep "^dml-ledger: verify: --time: .*RFC 3339" err &&
	test_expect_code 2 dml-ledger verify --amount 3 2>err &&
	test_grep "^dml-ledger: verify: --amount: not an option of this command" err &&
	test_expect_code 2 dml-ledger --epoch 1 transfer 2>err &&
	test_grep "^dml-ledger: transfer: --epoch: not an option of this command" err &&
	test_expect_code 2 dml-ledger emit --epoch x 2>err &&
	test_grep "^dml-ledger: emit: --epoch: .x. is not an integer" err &&
	test_expect_code 2 dml-ledger bounty --reason "$(printf "\377")" 2>err &&
	test_grep "^dml-ledger: bounty: --reason: not UTF-8" err &&
	test_expect_code 2 dml-ledger genesis --alloc bob.pub 2>err &&
	test_grep "^dml-ledger: genesis: --alloc: wants KEY=AMOUNT" err &&
	test_expect_code 2 dml-ledger balance nosuchkey 2>err &&
	test_grep "^dml-ledger: balance: nosuchkey: No such file" err
'
test_expect_success 'a writer without -k or $DML_KEY is a usage error' '
	(unset DML_KEY && test_expect_code 2 dml-ledger transfer --to bob.pub \
		--amount 1 2>err) &&
	test_grep "^dml-ledger: transfer: give your secret key with -k FILE (or DML_KEY)" err
'
test_expect_success 'a missing ledger is a system error (exit 2)' '
	test_expect_code 2 dml-ledger -L nosuch.nd verify 2>err &&
	test_grep "nosuch.nd: No such file" err &&
	test_expect_code 2 dml-ledger -L nosuch.nd transfer -k auth.key \
		--to bob.pub --amount 1 2>err && test ! -e nosuch.nd
'
test_expect_success 'genesis makes $HOME/.dml/ledger.ndjson; the rest goes to the authority' '
	dml-ledger --time $(at 0) genesis -k auth.key --supply 1000000 \
		--growth-pool 640000 --bounty-pool 1000 \
		--alloc alice.pub=5000 --alloc $BOB=2000 >out &&
	test_grep "\"op\":\"genesis\",\"seq\":0,\"type\":\"dml.appended\"" out &&
	test -f .dml/ledger.ndjson && test $(wc -l <.dml/ledger.ndjson) = 1 &&
	dml-ledger balance auth.key >out &&
	test_grep "\"amount\":\"352000\"" out &&
	test_expect_code 1 dml-ledger --time $(at 0) genesis -k auth.key \
		--supply 1 --growth-pool 0 --bounty-pool 0 2>err &&
	test_grep "already has a genesis" err
'
DML_LEDGER=$TRASH/.dml/ledger.ndjson
export DML_LEDGER
L=$DML_LEDGER

test_expect_success 'balance: all accounts sorted, or one; pools by name' '
	dml-ledger balance >all && test $(wc -l <all) = 5 &&
	sed -n "s/.*\"account\":\"\([^\"]*\)\".*/\1/p" all >names &&
	sort names | cmp - names &&
	dml-ledger balance pool:growth >out &&
	echo "{\"account\":\"pool:growth\",\"amount\":\"640000\",\"type\":\"dml.balance\",\"v\":1}" >exp &&
	test_cmp exp out &&
	dml-ledger balance dev1.pub >out && test_grep "\"amount\":\"0\"" out &&
	dml-ledger balance -o all.out && test_cmp all all.out
'
test_expect_success 'transfer moves tokens (the key from $DML_KEY); an overdraft is refused and changes nothing' '
	DML_KEY=alice.key dml-ledger transfer --to bob.pub --amount 1500 \
		--time $(at 1) >out && test_grep "\"seq\":1" out &&
	dml-ledger balance bob.pub | test_grep "\"amount\":\"3500\"" - &&
	cp $L before &&
	test_expect_code 1 dml-ledger transfer -k alice.key --to bob.pub \
		--amount 3501 --time $(at 2) 2>err &&
	test_grep "insufficient funds" err && cmp before $L
'
test_expect_success 'times never go backwards' '
	test_expect_code 1 dml-ledger transfer -k bob.key --to alice.pub \
		--amount 1 --time $(at 0) 2>err && test_grep "before" err
'
dml-job -k cust.key -t stats --data toy --features 4 --classes 3 --min-devices 1 \
	--budget 400 --per-device 1 --created $(at 0) \
	--deadline 2026-01-01T10:00:00Z --nonce j1 -o job.json
JOB=$(dml-job --id job.json)
test_expect_success 'escrow locks a job budget, signed by its customer only' '
	dml-ledger transfer -k auth.key --to cust.pub --amount 1000 \
		--time $(at 3) >/dev/null &&
	test_expect_code 1 dml-ledger escrow -k bob.key --job job.json \
		--time $(at 4) 2>err && test_grep "customer" err &&
	dml-ledger escrow -k cust.key -j job.json --time $(at 4) >out &&
	dml-ledger balance escrow:$JOB | test_grep "\"amount\":\"400\"" - &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"600\"" - &&
	test_expect_code 1 dml-ledger escrow -k cust.key --job job.json \
		--time $(at 5) 2>err && test_grep "already has an escrow" err
'
test_expect_success 'refund only at or after the deadline, only to the customer' '
	test_expect_code 1 dml-ledger refund -k cust.key --job $JOB \
		--time $(at 599) 2>err && test_grep "has not come" err &&
	test_expect_code 1 dml-ledger refund -k bob.key --job job.json \
		--time $(at 600) 2>err && test_grep "only the job" err &&
	dml-ledger refund -k cust.key --job job.json --time $(at 600) >out &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"1000\"" - &&
	test_expect_code 1 dml-ledger refund -k cust.key --job $JOB \
		--time $(at 601) 2>err && test_grep "already refunded" err
'
test_expect_success 'history --job: the escrow and its refund' '
	dml-ledger history --job job.json >h && test $(wc -l <h) = 2 &&
	test_grep "\"op\":\"escrow\"" h && test_grep "\"op\":\"refund\"" h &&
	dml-ledger history --job $JOB | cmp - h &&
	dml-ledger history -j $JOB | cmp - h
'
test_expect_success 'bounties: the authority only, from the bounty pool' '
	test_expect_code 1 dml-ledger bounty -k alice.key --to bob.pub \
		--amount 5 --time $(at 602) 2>err && test_grep "authority" err &&
	test_expect_code 1 dml-ledger bounty -k auth.key --to bob.pub \
		--amount 1001 --time $(at 602) 2>err &&
	test_grep "insufficient funds: pool:bounty" err &&
	dml-ledger bounty -k auth.key --to bob.pub --amount 100 \
		--reason "heap overflow in dml-aggregate" --time $(at 602) >out &&
	dml-ledger balance pool:bounty | test_grep "\"amount\":\"900\"" -
'
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	printf '%064x\n' $i
done >owners
test_expect_success 'emit: epoch 0 pays P0/64: 90% equally, 10% in 10 draws' '
	dml-ledger emit -k auth.key --epoch 0 --owners owners \
		--time $(at 603) >out &&
	tail -1 $L >e0 &&
	test_grep "\"amount\":\"10000\",\"epoch\":0" e0 &&
	test $(grep -o "\"role\":\"owner\"" e0 | wc -l) = 12 &&
	test_grep "\"amount\":\"750\",\"role\":\"owner\"" e0 &&
	extra=$(grep -o "\"amount\":\"[0-9]*\",\"role\":\"extra\"" e0 |
		tr -dc "0-9\n" | awk "{ s += \$1 } END { print s }") &&
	test "$extra" = 1000 &&
	dml-ledger balance pool:growth | test_grep "\"amount\":\"630000\"" -
'
test_expect_success 'emit: epochs strictly increase; later epochs emit less' '
	test_expect_code 1 dml-ledger emit -k auth.key --epoch 0 \
		--owners owners --time $(at 604) 2>err &&
	test_grep "not after epoch 0" err &&
	test_expect_code 1 dml-ledger emit -k alice.key --epoch 1 \
		--owners owners --time $(at 604) 2>err &&
	dml-ledger emit -k auth.key --epoch 1 --owners owners \
		--time $(at 604) >/dev/null &&
	tail -1 $L | test_grep "\"amount\":\"9843\",\"epoch\":1" -
'
test_expect_success 'emit: a bad owners file is refused with its line' '
	printf "# owners\n%064x\nxyz\n" 1 >bad.owners &&
	test_expect_code 1 dml-ledger emit -k auth.key --epoch 2 \
		--owners bad.owners 2>err && test_grep "bad.owners:3: not a public key" err &&
	printf "%064x\n%064x\n" 1 1 >dup.owners &&
	test_expect_code 1 dml-ledger emit -k auth.key --epoch 2 \
		--owners dup.owners 2>err && test_grep "twice" err
'
test_expect_success 'history of an account; -L after the command' '
	dml-ledger history bob.pub >h &&
	test $(wc -l <h) = 3 && test_grep "\"op\":\"bounty\"" h &&
	dml-ledger history pool:growth >h && test $(wc -l <h) = 3 &&
	cp $L other.nd && dml-ledger history -L other.nd $ALICE >h &&
	test $(wc -l <h) = 2
'
test_expect_success 'verify: entries, head, supply' '
	dml-ledger verify >out &&
	test_grep "\"entries\":8" out && test_grep "\"supply\":\"1000000\"" out &&
	test_grep "\"torn\":0" out
'

# ---- bad ledgers -------------------------------------------------------
line() { sed -n "${1}p" $L; }
# corrupt N SED-EXPR: a copy of the ledger with line N edited
corrupt() { sed "$1s/$2/" $L >bad.nd; }
test_expect_success 'a malformed line is named by file and line' '
	sed "3s/.*/{\"type\":/" $L >bad.nd &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:3: malformed JSON" err &&
	test_must_fail dml-ledger -L bad.nd balance 2>err &&
	test_grep "bad.nd:3: malformed JSON" err
'
test_expect_success 'wrong types and missing fields are named' '
	corrupt 2 "\"seq\":1,/\"seq\":\"1\"," &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:2: field \"seq\" must be an integer" err &&
	corrupt 2 "\"prev\":\"[0-9a-f]*\",/" &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:2: missing field \"prev\"" err &&
	corrupt 2 "\"amount\":\"1500\"/\"amount\":1500" &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:2: field \"amount\" must be a string" err
'
test_expect_success 'a forged signature or changed amount is caught by verify' '
	sig=$(line 1 | sed "s/.*\"sig\":\"\([^\"]*\)\".*/\1/") &&
	sed "\$s|\"sig\":\"[^\"]*\"|\"sig\":\"$sig\"|" $L >bad.nd &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:8: bad signature" err &&
	corrupt 2 "\"amount\":\"1500\"/\"amount\":\"1400\"" &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:2: bad signature" err &&
	test_must_fail dml-ledger -L bad.nd balance 2>err &&
	test_grep "bad.nd:3: \"prev\" is not the hash" err
'
test_expect_success 'an entry re-signed by its own key but out of the chain is refused' '
	line 2 | $H/rec-sign alice.key >re &&
	{ line 1 && cat re; } >bad.nd && dml-ledger -L bad.nd verify >/dev/null &&
	{ line 1 && line 3; } >bad.nd &&
	test_must_fail dml-ledger -L bad.nd verify 2>err &&
	test_grep "bad.nd:2: \"seq\" is 2, the next entry is 1" err
'
test_expect_success 'a torn last line: verify warns and passes, a writer discards it' '
	cp $L torn.nd && line 2 | head -c 77 >>torn.nd &&
	dml-ledger -L torn.nd verify >out 2>err &&
	test_grep "torn last line (77 bytes" err &&
	test_grep "\"entries\":8" out && test_grep "\"torn\":77" out &&
	dml-ledger -L torn.nd balance >/dev/null 2>err &&
	test_grep "is ignored" err &&
	test_expect_code 1 cmp -s torn.nd $L &&
	dml-ledger -L torn.nd transfer -k bob.key --to alice.pub --amount 1 \
		--time $(at 700) >out 2>err && test_grep "was discarded" err &&
	test $(wc -l <torn.nd) = 9 &&
	dml-ledger -L torn.nd verify >out 2>err && test_grep "\"torn\":0" out &&
	test_empty err
'
test_expect_success 'a whole entry plus junk without newline is not a torn line' '
	cp $L junk.nd && printf "x" >>junk.nd &&
	$H/flip-byte junk.nd -2 3 &&
	test_must_fail dml-ledger -L junk.nd verify 2>err &&
	test_grep "junk.nd:8: a whole entry followed by other bytes" err &&
	test_must_fail dml-ledger -L junk.nd transfer -k bob.key \
		--to alice.pub --amount 1 --time $(at 700) 2>err
'
test_expect_success 'an empty ledger: verify warns; operations need a genesis' '
	: >empty.nd && dml-ledger -L empty.nd verify >out 2>err &&
	test_grep "empty ledger" err && test_grep "\"entries\":0" out &&
	test_must_fail dml-ledger -L empty.nd transfer -k bob.key \
		--to alice.pub --amount 1 2>err && test_grep "no genesis" err &&
	dml-ledger -L empty.nd balance >out && test_empty out
'

# ---- tampering: 200 single-byte flips, each caught ----------------------
test_expect_success 'a ledger of a few dozen entries for tampering' '
	cp $L t.nd &&
	i=0 && while [ $i -lt 30 ]; do
		dml-ledger -L t.nd transfer -k bob.key --to alice.pub \
			--amount $((i + 1)) --time $(at $((800 + i))) >/dev/null &&
		i=$((i + 1)) || return 1
	done &&
	dml-ledger -L t.nd emit -k auth.key --epoch 5 --owners owners \
		--time $(at 900) >/dev/null &&
	test $(wc -l <t.nd) -ge 36 && dml-ledger -L t.nd verify >/dev/null
'
test_expect_success 'flipping any of 200 bytes spread over the file fails verify' '
	size=$(wc -c <t.nd) && k=0 && missed= &&
	while [ $k -lt 200 ]; do
		pos=$((k * (size - 1) / 199)) && cp t.nd f.nd &&
		$H/flip-byte f.nd $pos $((1 + k * 37 % 255)) &&
		{ test_expect_code 1 dml-ledger -L f.nd verify >/dev/null 2>&1 ||
			missed="$missed $pos"; } &&
		k=$((k + 1)) || return 1
	done &&
	echo "flipped 200 of $size bytes, missed:${missed:- none}" >flip.stats &&
	test -z "$missed"
'
test -f flip.stats && sed "s/^/# /" flip.stats

# ---- crashes: kill -9 at random moments of 200 appends --------------------
test_expect_success 'kill -9 during appends, 200 times: nothing lost, nothing doubled' '
	dml-ledger -L crash.nd --time 2020-01-01T00:00:00Z genesis -k auth.key \
		--supply 1000000000 --growth-pool 0 --bounty-pool 0 >/dev/null &&
	$H/kill-loop -k 200 -s 7 -e errs -- dml-ledger -L crash.nd transfer \
		-k auth.key --to bob.pub --amount "{}" >cycles 2>kl &&
	test $(grep -c killed cycles) = 200 &&
	! grep -v -e " killed$" -e " exit 0$" cycles &&
	dml-ledger -L crash.nd verify >out 2>err &&
	sed -n "s/^{\"amount\":\"\([0-9]*\)\",\"from\":\"$AUTH\",\"op\":\"transfer\".*/\1/p" \
		crash.nd | sort -n >present &&
	sort -n present | uniq -d >doubled && test_empty doubled &&
	awk "NR == FNR { p[\$1] = 1; next }
	     \$2 == \"exit\" && !p[\$1] { print \"lost\", \$1 }" present cycles >lost &&
	test_empty lost &&
	test $(wc -l <crash.nd) = $(($(wc -l <present) + 1)) &&
	sum=$(awk "{ s += \$1 } END { print s }" present) &&
	dml-ledger -L crash.nd balance bob.pub |
		test_grep "\"amount\":\"$sum\"" - &&
	echo "$(grep -c exit cycles) appends finished, 200 killed," \
		"$(awk "NR == FNR { p[\$1] = 1; next } \$2 == \"killed\" && p[\$1]" \
		present cycles | wc -l) of them after writing," \
		"$(grep -c "was discarded" errs) torn lines discarded;" \
		"$(cat kl)" >crash.stats
'
test -f crash.stats && sed "s/^/# /" crash.stats
test_expect_success 'kill -9 in the middle of a 1.7 MB append: the torn line is never an entry' '
	awk "BEGIN { for (i = 1; i <= 10000; i++) printf \"%064x\\n\", i * 7919 }" \
		>big.owners &&
	dml-ledger -L big.nd --time 2020-01-01T00:00:00Z genesis -k auth.key \
		--supply 1000000000000 --growth-pool 100000000000 \
		--bounty-pool 0 >/dev/null &&
	$H/kill-loop -w big.nd -k 2 -n 12 -e big.errs -- dml-ledger -L big.nd \
		emit -k auth.key --epoch "{}" --owners big.owners >big.cycles &&
	torn=$(grep -c "killed torn" big.cycles) && test $torn -ge 1 &&
	last=$(tail -1 big.cycles | grep -c torn || :) &&
	test $(grep -c "was discarded" big.errs) = $((torn - last)) &&
	whole=$(grep -v torn big.cycles | wc -l) &&
	dml-ledger -L big.nd verify >out 2>err &&
	test_grep "\"entries\":$((whole + 1))," out &&
	if [ $last = 1 ]; then
		! grep -q "\"torn\":0," out && test_grep "is ignored" err
	else
		test_grep "\"torn\":0," out
	fi &&
	dml-ledger -L big.nd emit -k auth.key --epoch 100 \
		--owners big.owners >/dev/null &&
	dml-ledger -L big.nd verify >out &&
	test_grep "\"entries\":$((whole + 2))," out && test_grep "\"torn\":0," out &&
	echo "$(wc -l <big.cycles) large appends killed as the file grew," \
		"$torn torn mid-write, each discarded by the next writer" >big.stats
'
test -f big.stats && sed "s/^/# /" big.stats
test_done
