#!/bin/sh
# dml-market: listings published, stored and indexed; search order and
# filters; licenses bought on the ledger; dml-job --license; bad listings,
# expired and foreign licenses, insufficient funds.
. "$(dirname "$0")/lib.sh"

SIGN=$SRC_DIR/tests/helpers/rec-sign
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
cidof() { dml-ipfs-put -n "$1" | sed 's/.*"cid":"\([^"]*\)".*/\1/'; }
for k in auth dev dev2 cust eve; do dml-keygen -o $k.key >$k.pub; done
DEV=$(hex dev.pub) CUST=$(hex cust.pub)
DML_LEDGER=$TRASH/ledger.nd
export DML_LEDGER
L=$DML_LEDGER
IDX=$TRASH/.dml/market.ndjson
ZEROS=$(head -c 31400 /dev/zero | base64 -w0)
printf '{"act":"relu","arch":"softmax","layers":[784,10],"params":{"data":"%s","dtype":"f32","shape":[7850]},"type":"dml.model","v":1}\n' \
	"$ZEROS" >zero.model
ALG=$(cidof zero.model)
T0=2026-01-01T00:00:00Z
dml-ledger --time $T0 genesis -k auth.key --supply 1000000 --growth-pool 0 \
	--bounty-pool 0 --alloc cust.pub=1000 >/dev/null

# pub NAME KEY CATEGORY PRICE KIND DESCRIPTION: publish into NAME.json
pub() {
	if [ "$5" = subscription ]; then per="--period 30"; else per=; fi
	dml-market publish -k $2 --algorithm zero.model --category $3 \
		--price $4 --license $5 $per --description "$6" --time $T0 >$1.json
}

test_expect_success 'help, usage errors exit 2' '
	dml-market --help | test_grep "usage: dml-market" - &&
	dml-market publish --help | test_grep "usage: dml-market" - &&
	test_expect_code 2 dml-market 2>err && test_grep "^dml-market: give a command: publish add" err &&
	test_expect_code 2 dml-market sell 2>err && test_grep "^dml-market: .sell. is not a command" err &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category c --description d --license single 2>err &&
	test_grep "^dml-market: publish: --price N is required" err &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category c --description d --price 5 --license forever 2>err &&
	test_grep "^dml-market: publish: --license: unknown license kind" err &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category c --description d --price 5 --license subscription 2>err &&
	test_grep "needs --period" err &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category c --description d --price 05 --license single 2>err &&
	test_grep "^dml-market: publish: --price: .05. is not a token amount" err &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category c --description d --price 0 --license single 2>err &&
	test_grep "^dml-market: publish: --price: .0. is not a positive" err &&
	test_expect_code 2 dml-market search --price 5 2>err &&
	test_grep "^dml-market: search: --price: not an option of this command" err &&
	test_expect_code 2 dml-market search --key dev.key 2>err &&
	test_grep "^dml-market: search: --key: not an option of this command" err &&
	test_grep "^Try .dml-market search --help.\." err &&
	test_expect_code 2 dml-market acquire -k cust.key extra 2>err &&
	test_grep "^dml-market: acquire: unexpected argument .extra." err &&
	test_expect_code 2 dml-market publish --algorithm zero.model --category c \
		--description d --price 5 --license single 2>err &&
	test_grep "^dml-market: publish: give your secret key with -k FILE (or DML_KEY)" err &&
	test_expect_code 2 dml-market publish -k nosuch.key --algorithm zero.model \
		--category c --description d --price 5 --license single 2>err &&
	test_grep "^dml-market: publish: nosuch.key: No such file" err &&
	! test -e $IDX
'
test_expect_success 'after a command every message names it: dml-market: COMMAND: ...' '
	test_expect_code 2 dml-market search --max-price x 2>err &&
	test_grep "^dml-market: search: --max-price: .x. is not a token amount" err &&
	test_expect_code 2 dml-market verify --license nosuch.json 2>err &&
	test_grep "^dml-market: verify: nosuch.json: No such file" err &&
	test_expect_code 2 dml-market --index nosuch/dir/idx add nosuch.nd 2>err &&
	test_grep "^dml-market: add: nosuch.nd: No such file" err &&
	test_expect_code 2 dml-market search -o nosuch/out.nd 2>err &&
	test_grep "^dml-market: search: nosuch/out.nd: No such file" err &&
	! grep -q "^search:\|^verify:\|^add:" err
'
test_expect_success 'publish: a signed listing, stored on IPFS under its id, indexed' '
	pub l1 dev.key vision 100 subscription "Fashion classifier, 10 classes" &&
	test $(wc -l <l1.json) = 1 &&
	test_grep "\"algorithm\":\"$ALG\"" l1.json &&
	test_grep "\"category\":\"vision\",\"created\":\"$T0\"" l1.json &&
	test_grep "\"developer\":\"$DEV\"" l1.json &&
	test_grep "\"license\":{\"kind\":\"subscription\",\"period_days\":30},\"price\":\"100\"" l1.json &&
	test_grep "\"type\":\"dml.listing\"" l1.json &&
	L1=$(cidof l1.json) && dml-ipfs-get $L1 >back && test_cmp l1.json back &&
	test_cmp l1.json $IDX
'
test_expect_success 'the same listing twice is indexed once; --algorithm takes a CID' '
	dml-market publish -k dev.key --algorithm $ALG --category vision \
		--price 100 --license subscription --period 30 \
		--description "Fashion classifier, 10 classes" --time $T0 >again &&
	test_cmp l1.json again && test $(wc -l <$IDX) = 1
'
test_expect_success 'search: category, then price as a number, then id' '
	pub l2 dev.key vision 9 single "cheap Shirt detector" &&
	pub l3 dev2.key audio 500 single "speech commands" &&
	pub l4 dev2.key vision 20 single "shoes and bags" &&
	dml-market search >out &&
	cat l3.json l2.json l4.json l1.json >want && test_cmp want out
'
test_expect_success 'search filters: category, keyword (any case), max price' '
	dml-market search --category audio >out && test_cmp l3.json out &&
	dml-market search --keyword SHIRT >out && test_cmp l2.json out &&
	dml-market search --keyword vision --max-price 20 >out &&
	cat l2.json l4.json >want && test_cmp want out &&
	dml-market search --category none >out && test_empty out
'
test_expect_success 'add: a listing with a bad signature is refused, nothing indexed' '
	cp $IDX before &&
	sed "s/\"price\":\"9\"/\"price\":\"1\"/" l2.json >forged.json &&
	test_must_fail dml-market add l4.json forged.json >out 2>err &&
	test_grep "^dml-market: add: forged.json:1: bad signature" err &&
	test_empty out && cmp before $IDX &&
	sed "s/\"developer\":\"$DEV\"/\"developer\":\"$(hex eve.pub)\"/" l2.json |
		$SIGN dev.key >foreign.json &&
	test_must_fail dml-market add foreign.json 2>err &&
	test_grep "foreign.json:1: not signed by its developer" err &&
	cmp before $IDX
'
test_expect_success 'add: malformed records name file and line, exit 1' '
	cp $IDX before &&
	{ cat l3.json && echo "{\"type\":"; } >bad.json &&
	test_must_fail dml-market add bad.json >out 2>err &&
	test_grep "^dml-market: add: bad.json:2: malformed JSON" err &&
	sed "s/\"price\":\"9\"/\"price\":9/" l2.json | $SIGN dev.key >bad2.json &&
	test_must_fail dml-market add bad2.json 2>err &&
	test_grep "bad2.json:1: field \"price\" must be a string" err &&
	sed "s/\"kind\":\"single\"/\"kind\":\"lease\"/" l2.json | $SIGN dev.key >bad3.json &&
	test_must_fail dml-market add bad3.json 2>err &&
	test_grep "bad3.json:1: field \"license.kind\": unknown license kind" err &&
	test_empty out && cmp before $IDX
'
test_expect_success 'add: a listing published elsewhere is indexed' '
	dml-market publish -k dev2.key --algorithm zero.model --category text \
		--price 3 --license single --description x --time $T0 \
		--index other.nd >l5.json &&
	dml-market add l5.json >out && test_cmp l5.json out &&
	dml-market search --category text >out && test_cmp l5.json out
'
test_expect_success 'acquire: pays the developer, writes a license signed by the customer' '
	L1=$(cidof l1.json) &&
	dml-market acquire -k cust.key --listing $L1 --time 2026-01-02T00:00:00Z \
		-o lic.json >out && test_empty out &&
	test_grep "\"listing\":\"$L1\"" lic.json &&
	test_grep "\"algorithm\":\"$ALG\",\"developer\":\"$DEV\",\"from\":\"$CUST\",\"kind\":\"subscription\",\"licensee\":\"$CUST\"" lic.json &&
	test_grep "\"payment\":{\"hash\":\"[0-9a-f]\{64\}\",\"seq\":1},\"price\":\"100\"" lic.json &&
	test_grep "\"valid_from\":\"2026-01-02T00:00:00Z\",\"valid_until\":\"2026-02-01T00:00:00Z\"" lic.json &&
	dml-ledger balance dev.pub | test_grep "\"amount\":\"100\"" - &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"900\"" - &&
	tail -1 $L | test_grep "\"op\":\"transfer\"" - &&
	dml-market verify --license lic.json -L $L
'
test_expect_success 'acquire: insufficient funds, unknown or forged listing; nothing paid' '
	cp $L before && L1=$(cidof l1.json) &&
	test_must_fail dml-market acquire -k eve.key --listing $L1 -o x.json 2>err &&
	test_grep "insufficient funds: listing $L1 costs 100 tokens" err &&
	! test -e x.json &&
	test_must_fail dml-market acquire -k cust.key --listing $ALG 2>err &&
	test_grep "unknown listing $ALG" err &&
	test_must_fail dml-market acquire -k cust.key --listing forged.json 2>err &&
	test_grep "forged.json:1: bad signature" err &&
	test_must_fail dml-market acquire -k dev.key --listing l1.json 2>err &&
	test_grep "is your own" err &&
	cmp before $L
'
test_expect_success 'a single-use license has no end' '
	dml-market acquire -k cust.key --listing l2.json --time 2026-01-02T00:00:00Z >lic2.json &&
	test_grep "\"kind\":\"single\"" lic2.json && ! grep -q valid_until lic2.json &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"891\"" -
'
J="-t predict --data fashion -m zero.model --min-devices 3 --budget 100 --nonce n"
test_expect_success 'dml-job --license: the license id and kind, the developer paid the fee' '
	dml-job -k cust.key $J --license lic.json --created 2026-01-20T00:00:00Z -o job.json &&
	LIC=$(cidof lic.json) &&
	test_grep "\"license\":{\"id\":\"$LIC\",\"kind\":\"subscription\"}" job.json &&
	test_grep "\"developer\":\"$DEV\"" job.json &&
	dml-job --id job.json >/dev/null &&
	dml-market verify --license lic.json --job job.json -L $L
'
test_expect_success 'an expired license is refused: no job written' '
	test_must_fail dml-job -k cust.key $J --license lic.json \
		--created 2026-02-01T00:00:00Z -o job2.json 2>err &&
	test_grep "^dml-job: lic.json: license .* expired at 2026-02-01T00:00:00Z" err &&
	! test -e job2.json &&
	test_must_fail dml-job -k cust.key $J --license lic.json \
		--created 2026-01-01T00:00:00Z -o job2.json 2>err &&
	test_grep "is valid from 2026-01-02T00:00:00Z only" err && ! test -e job2.json
'
test_expect_success 'a foreign license, another algorithm, a forged license are refused' '
	test_must_fail dml-job -k eve.key $J --license lic.json \
		--created 2026-01-20T00:00:00Z -o job2.json 2>err &&
	test_grep "belongs to another customer" err &&
	printf "{\"arch\":\"softmax\",\"layers\":[784,10],\"params\":{\"data\":\"%s\",\"dtype\":\"f32\",\"shape\":[7850]},\"round\":1,\"type\":\"dml.model\",\"v\":1}\n" \
		"$ZEROS" >other.model &&
	test_must_fail dml-job -k cust.key -t predict --data fashion -m other.model \
		--budget 100 --license lic.json --created 2026-01-20T00:00:00Z -o job2.json 2>err &&
	test_grep "is for algorithm $ALG, not" err &&
	sed "s/2026-02-01T00:00:00Z/2027-02-01T00:00:00Z/" lic.json >long.json &&
	test_must_fail dml-job -k cust.key $J --license long.json \
		--created 2026-03-01T00:00:00Z -o job2.json 2>err &&
	test_grep "long.json:1: bad signature" err &&
	test_must_fail dml-job -k cust.key $J --license lic.json --developer dev2.pub \
		--created 2026-01-20T00:00:00Z -o job2.json 2>err &&
	test_grep "not the listing.s developer" err &&
	! test -e job2.json &&
	test_expect_code 2 dml-job -k cust.key -t stats --data x --features 2 --classes 2 \
		--license lic.json 2>err
'
test_expect_success 'verify: a job not naming the license, a payment not in the ledger' '
	dml-job -k cust.key $J --created 2026-01-20T00:00:00Z -o plain.json &&
	test_must_fail dml-market verify --license lic.json --job plain.json 2>err &&
	test_grep "the job names no license" err &&
	sed "s/\"seq\":1}/\"seq\":0}/" lic.json | $SIGN cust.key >unpaid.json &&
	test_must_fail dml-market verify --license unpaid.json -L $L 2>err &&
	test_grep "ledger entry 0 has hash" err &&
	sed "s/\"seq\":1}/\"seq\":7}/" lic.json | $SIGN cust.key >unpaid.json &&
	test_must_fail dml-market verify --license unpaid.json -L $L 2>err &&
	test_grep "the ledger has no entry 7" err
'
test_expect_success 'a job with a malformed license field is refused by every reader' '
	sed "s/\"kind\":\"subscription\"}/\"kind\":\"rent\"}/" job.json | $SIGN cust.key >badjob.json &&
	test_must_fail dml-job --id badjob.json 2>err &&
	test_grep "badjob.json:1: field \"license\" needs \"id\"" err
'
test_expect_success 'a single-use license escrows one job: the ledger refuses a second' '
	J1="-t predict --data fashion -m zero.model --min-devices 3 --budget 100 --per-device 10" &&
	dml-job -k cust.key $J1 --license lic2.json --nonce s1 --created 2026-01-20T00:00:00Z \
		--deadline 2026-03-01T00:00:00Z -o s1.json &&
	dml-job -k cust.key $J1 --license lic2.json --nonce s2 --created 2026-01-20T00:00:00Z \
		--deadline 2026-03-01T00:00:00Z -o s2.json &&
	LIC2=$(cidof lic2.json) S1=$(dml-job --id s1.json) &&
	dml-ledger escrow -k cust.key --job s1.json --time 2026-01-20T00:00:01Z >/dev/null &&
	tail -1 $L | test_grep "\"license\":{\"id\":\"$LIC2\",\"kind\":\"single\"}" - &&
	cp $L before &&
	test_expect_code 1 dml-ledger escrow -k cust.key --job s2.json \
		--time 2026-01-20T00:00:02Z >out 2>err &&
	test_grep "single-use license $LIC2 is already used by job $S1" err &&
	test_empty out && cmp before $L &&
	dml-market verify --license lic2.json --job s1.json -L $L &&
	test_must_fail dml-market verify --license lic2.json --job s2.json -L $L 2>err &&
	test_grep "single-use license $LIC2 is used up: the escrow of job $S1" err &&
	test_must_fail dml-market verify --license lic2.json -L $L 2>err &&
	test_grep "is used up" err &&
	dml-auction --capacity 10 --time 2026-01-21T00:00:00Z s1.json s2.json >out 2>err &&
	test $(wc -l <out) = 1 && test_grep "\"job\":\"$S1\"" out &&
	test_grep "refused: single-use license $LIC2 is used by job $S1" err
'
test_expect_success 'a job calling a single-use license a subscription: refused by the ledger and by verify' '
	LIC2=$(cidof lic2.json) S1=$(dml-job --id s1.json) &&
	jq -c ".license.kind = \"subscription\" | .nonce = \"s3\" | del(.sig, .from)" s2.json |
		$SIGN cust.key >s3.json &&
	cp $L before &&
	test_expect_code 1 dml-ledger escrow -k cust.key --job s3.json \
		--time 2026-01-20T00:00:03Z 2>err &&
	test_grep "single-use license $LIC2 is already used by job $S1" err &&
	cmp before $L &&
	test_must_fail dml-market verify --license lic2.json --job s3.json 2>err &&
	test_grep "the job calls license $LIC2 subscription, it is single" err
'
test_expect_success '--repo and --api name the IPFS store; the old -r and -a still work, with a warning' '
	dml-market publish -k dev.key --algorithm zero.model --category old \
		--price 4 --license single --description old --time $T0 \
		--index o.nd --repo store2 >o1.json 2>err && test_empty err &&
	DML_IPFS_REPO=store2 dml-ipfs-get $(cidof o1.json) | cmp - o1.json &&
	dml-market publish -k dev.key --algorithm zero.model --category old \
		--price 4 --license single --description old --time $T0 \
		--index o.nd -r store3 >o2.json 2>err && test_cmp o1.json o2.json &&
	test_grep "^dml-market: publish: warning: -r is an old spelling of --repo" err &&
	DML_IPFS_REPO=store3 dml-ipfs-get $(cidof o1.json) | cmp - o1.json &&
	test_expect_code 2 dml-market publish -k dev.key --algorithm zero.model \
		--category old --price 4 --license single --description old \
		--index o.nd -a ftp://x >out 2>err &&
	test_grep "^dml-market: publish: warning: -a is an old spelling of --api" err &&
	test_grep "^dml-market: publish: ftp://x: not an API URL" err && test_empty out
'
test_expect_success '$DML_KEY is the key when -k is not given; -j names the job to verify' '
	DML_KEY=dev.key dml-market publish --algorithm zero.model --category old \
		--price 4 --license single --description old --time $T0 \
		--index o.nd --repo store2 >o3.json && test_cmp o1.json o3.json &&
	dml-market verify --license lic.json -j job.json -L $L &&
	test_must_fail dml-market verify --license lic.json -j plain.json 2>err &&
	test_grep "^dml-market: verify: plain.json: the job names no license" err
'
test_expect_success '8 concurrent publishers: every listing indexed once, whole lines' '
	pids= &&
	for i in 1 2 3 4 5 6 7 8; do
		dml-market publish -k dev.key --algorithm zero.model --category c$i \
			--price $i --license single --description "parallel $i" \
			--index par.nd --time $T0 >p$i.json &
		pids="$pids $!" || return 1
	done &&
	test_wait $pids &&
	test $(wc -l <par.nd) = 8 &&
	dml-market search --index par.nd >all &&
	cat p1.json p2.json p3.json p4.json p5.json p6.json p7.json p8.json >want &&
	test_cmp want all
'
test_expect_success 'examples/market/demo.sh runs, byte-identical twice' '
	WORK=$TRASH/demo "$SRC_DIR/examples/market/demo.sh" >d1 &&
	test_grep "^   rank 2: bid 25 x 3 devices, window 0," d1 &&
	test_grep "runs in the next window if it bids 26 tokens" d1 &&
	test_grep "expired at 2026-02-01T00:00:00Z" d1 &&
	test_grep "paid 500, returned 0" d1 &&
	WORK=$TRASH/demo2 "$SRC_DIR/examples/market/demo.sh" | sed "s/demo2/demo/" >d2 &&
	test_cmp d1 d2 &&
	for f in ledger.ndjson market.ndjson license.json slots.ndjson comp.json \
		leaderboard.json prizes.json; do
		cmp demo/$f demo2/$f || return 1
	done
'
test_done
