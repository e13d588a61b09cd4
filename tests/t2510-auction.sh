#!/bin/sh
# dml-auction: run order by bid then arrival, windows of the capacity, the
# clearing price, and the jobs refused: escrow below the bid, no escrow,
# past the deadline, tampered, a single-use license used twice; bad input.
. "$(dirname "$0")/lib.sh"

SIGN=$SRC_DIR/tests/helpers/rec-sign
cidof() { dml-ipfs-put -n "$1" | sed 's/.*"cid":"\([^"]*\)".*/\1/'; }
for k in auth cust dev; do dml-keygen -o $k.key >$k.pub; done
DML_LEDGER=$TRASH/ledger.nd
export DML_LEDGER
L=$DML_LEDGER
dml-ledger --time 2026-01-01T00:00:00Z genesis -k auth.key --supply 1000000 \
	--growth-pool 0 --bounty-pool 0 --alloc cust.pub=100000 >/dev/null

# job NAME PER_DEVICE MIN_DEVICES CREATED: NAME.json, escrowed, id in $NAME
job() {
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices $3 --per-device $2 --budget $(($2 * $3)) \
		--created 2026-01-0$4T00:00:00Z --deadline 2026-03-01T00:00:00Z \
		--nonce $1 -o $1.json &&
	dml-ledger escrow -k cust.key --job $1.json --time 2026-01-10T00:00:00Z >/dev/null &&
	eval "$1=\$(dml-job --id $1.json)"
}
job jA 10 3 2
job jB 20 2 3
job jC 10 4 1
job jD 5 5 1
job jE 30 6 4
cat jA.json jB.json jC.json jD.json jE.json >jobs.nd
A="--time 2026-01-20T00:00:00Z"

test_expect_success 'help and usage errors' '
	dml-auction --help | test_grep "usage: dml-auction" - &&
	test_expect_code 2 dml-auction jobs.nd 2>err &&
	test_grep "^dml-auction: --capacity N is required" err &&
	test_expect_code 2 dml-auction --capacity 0 jobs.nd 2>err &&
	test_grep "^dml-auction: --capacity: .0. is out of range" err &&
	test_expect_code 2 dml-auction --capacity 5 --reserve x jobs.nd 2>err &&
	test_grep "^dml-auction: --reserve: .x. is not a token amount" err &&
	test_expect_code 2 dml-auction --capacity 5 --suggest --jobs jobs.nd 2>err &&
	test_grep "^dml-auction: --suggest prints a price, not jobs" err &&
	test_expect_code 2 dml-auction --capacity 5 --time soon jobs.nd 2>err &&
	test_grep "^dml-auction: --time: " err &&
	test_expect_code 2 dml-auction --capacity 5 --devices 0 jobs.nd 2>err &&
	test_grep "^dml-auction: --devices: .0. is out of range" err &&
	test_expect_code 2 dml-auction --capacity 5 $A nosuch.nd 2>err &&
	test_grep "^dml-auction: nosuch.nd: No such file" err &&
	test_expect_code 2 dml-auction --capacity 5 $A -o nosuch/o.nd jobs.nd 2>err &&
	test_grep "^dml-auction: nosuch/o.nd: No such file" err &&
	test_expect_code 2 dml-auction --capacity 5 -L nosuch.ledger $A jobs.nd 2>err &&
	test_grep "^dml-auction: nosuch.ledger: No such file" err
'
test_expect_success 'the old spellings -c, -j, -s and -n still work, with a warning' '
	dml-auction --capacity 10 $A jobs.nd >want &&
	dml-auction -c 10 $A jobs.nd >out 2>err && test_cmp want out &&
	test_grep "^dml-auction: warning: -c is an old spelling of --capacity" err &&
	test $(wc -l <err) = 1 &&
	dml-auction --capacity 10 $A --jobs jobs.nd >want &&
	dml-auction --capacity 10 $A -j jobs.nd >out 2>err && test_cmp want out &&
	test_grep "^dml-auction: warning: -j is an old spelling of --jobs" err &&
	dml-auction --capacity 10 $A -s -n 3 jobs.nd >out 2>err &&
	test_grep "\"ahead\":1,\"bid\":\"21\"" out &&
	test_grep "^dml-auction: warning: -s is an old spelling of --suggest" err &&
	test_grep "^dml-auction: warning: -n is an old spelling of --devices" err
'
test_expect_success 'run order: highest bid first, equal bids by created time; windows of 10' '
	dml-auction --capacity 10 $A jobs.nd >out 2>err && test_empty err &&
	cat >want <<-EOF &&
	{"bid":"30","devices":6,"job":"$jE","rank":1,"type":"dml.slot","v":1,"window":0}
	{"bid":"20","devices":2,"job":"$jB","rank":2,"type":"dml.slot","v":1,"window":0}
	{"bid":"10","devices":4,"job":"$jC","rank":3,"type":"dml.slot","v":1,"window":1}
	{"bid":"10","devices":3,"job":"$jA","rank":4,"type":"dml.slot","v":1,"window":1}
	{"bid":"5","devices":5,"job":"$jD","rank":5,"type":"dml.slot","v":1,"window":2}
	EOF
	test_cmp want out
'
test_expect_success 'the input order does not matter; --jobs writes the jobs themselves' '
	cat jD.json jC.json jE.json jA.json jB.json | dml-auction --capacity 10 $A >out2 &&
	test_cmp out out2 &&
	dml-auction --capacity 10 $A --jobs jobs.nd -o ordered.nd >out && test_empty out &&
	cat jE.json jB.json jC.json jA.json jD.json >want && test_cmp want ordered.nd
'
test_expect_success 'equal bids and times: the job id decides' '
	job jF 10 3 2 && job jG 10 3 2 &&
	dml-auction --capacity 100 $A jF.json jG.json >out &&
	first=$(printf "%s\n%s\n" $jF $jG | sort | head -1) &&
	head -1 out | test_grep "\"job\":\"$first\",\"rank\":1" -
'
test_expect_success '--suggest: the lowest winning bid plus one, or the reserve' '
	dml-auction --capacity 10 $A --suggest jobs.nd >out &&
	echo "{\"ahead\":2,\"bid\":\"11\",\"capacity\":10,\"devices\":1,\"type\":\"dml.price\",\"v\":1,\"waiting\":5}" >want &&
	test_cmp want out &&
	dml-auction --capacity 10 $A --suggest --devices 3 jobs.nd >out &&
	test_grep "\"ahead\":1,\"bid\":\"21\"" out &&
	dml-auction --capacity 10 $A --suggest --devices 10 jobs.nd >out &&
	test_grep "\"ahead\":0,\"bid\":\"31\"" out &&
	dml-auction --capacity 100 $A --suggest jobs.nd >out &&
	test_grep "\"ahead\":5,\"bid\":\"0\"" out &&
	dml-auction --capacity 100 $A --suggest --reserve 7 jobs.nd >out 2>err &&
	test_grep "\"ahead\":4,\"bid\":\"7\"" out &&
	test_grep "job $jD refused: the bid is below the reserve price" err &&
	test_must_fail dml-auction --capacity 10 $A --suggest --devices 11 jobs.nd >out 2>err &&
	test_grep "a job of 11 devices never fits in a window of 10" err && test_empty out
'
test_expect_success 'a bid above the escrow is refused, the others still run' '
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 3 --per-device 10 --budget 100 --nonce big \
		--created 2026-01-05T00:00:00Z \
		--deadline 2026-03-01T00:00:00Z -o big0.json &&
	sed "s/\"per_device\":\"10\"/\"per_device\":\"50\"/" big0.json | $SIGN cust.key >big.json &&
	dml-ledger escrow -k cust.key --job big.json --time 2026-01-10T00:00:00Z >/dev/null &&
	BIG=$(dml-job --id big.json) &&
	cat jobs.nd big.json >all.nd &&
	dml-auction --capacity 10 $A all.nd >out 2>err &&
	test_grep "^dml-auction: all.nd:6: job $BIG refused: escrow 100 does not cover the bid 50 x 3 devices = 150" err &&
	test $(wc -l <err) = 1 &&
	dml-auction --capacity 10 $A jobs.nd >want && test_cmp want out
'
test_expect_success 'no escrow, a tampered job, a job past its deadline, too big a job' '
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 3 --per-device 10 --budget 100 --nonce none -o none.json &&
	sed "s/\"data\":\"toy\"/\"data\":\"tox\"/" jA.json >tampered.json &&
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 30 --per-device 1 --budget 30 --nonce huge \
		--created 2026-01-05T00:00:00Z \
		--deadline 2026-03-01T00:00:00Z -o huge.json &&
	dml-ledger escrow -k cust.key --job huge.json --time 2026-01-10T00:00:00Z >/dev/null &&
	dml-auction --capacity 10 $A none.json tampered.json huge.json >out 2>err &&
	test_empty out &&
	test_grep "none.json:1: job .* refused: no escrow on the ledger" err &&
	test_grep "tampered.json:1: job .* refused: no escrow on the ledger" err &&
	test_grep "huge.json:1: job .* refused: it needs more devices than a window has" err &&
	dml-auction --capacity 10 --time 2026-03-01T00:00:00Z jA.json >out 2>err &&
	test_empty out && test_grep "refused: its deadline has passed" err
'
test_expect_success 'a single-use license runs one job: the ledger escrows the first only' '
	ZEROS=$(head -c 31400 /dev/zero | base64 -w0) &&
	printf "{\"act\":\"relu\",\"arch\":\"softmax\",\"layers\":[784,10],\"params\":{\"data\":\"%s\",\"dtype\":\"f32\",\"shape\":[7850]},\"type\":\"dml.model\",\"v\":1}\n" \
		"$ZEROS" >zero.model &&
	dml-market publish -k dev.key --algorithm zero.model --category vision \
		--price 7 --license single --description d --time 2026-01-01T00:00:00Z >l.json &&
	dml-market acquire -k cust.key --listing l.json --time 2026-01-10T00:00:00Z >lic.json &&
	for n in 1 2; do
		dml-job -k cust.key -t predict --data x -m zero.model --min-devices 3 \
			--per-device 10 --budget 30 --license lic.json --nonce s$n \
			--created 2026-01-1${n}T00:00:00Z --deadline 2026-03-01T00:00:00Z -o s$n.json || return 1
	done &&
	S1=$(dml-job --id s1.json) && S2=$(dml-job --id s2.json) &&
	dml-ledger escrow -k cust.key --job s1.json --time 2026-01-15T00:00:00Z >/dev/null &&
	test_expect_code 1 dml-ledger escrow -k cust.key --job s2.json \
		--time 2026-01-15T00:00:00Z 2>err &&
	test_grep "single-use license $(cidof lic.json) is already used by job $S1" err &&
	dml-auction --capacity 10 $A s2.json s1.json >out 2>err &&
	test $(wc -l <out) = 1 && test_grep "\"job\":\"$S1\"" out &&
	test_grep "job $S2 refused: single-use license $(cidof lic.json) is used by job $S1" err
'
test_expect_success 'a Paillier job (long key strings in the record) is ordered, written unchanged' '
	dml-keygen --paillier --seed 1 --name c -o c.pkey >c.ppub &&
	dml-job -k cust.key -t predict --data x -m zero.model --paillier-key c.ppub \
		--min-devices 3 --per-device 10 --budget 30 --nonce p \
		--created 2026-01-14T00:00:00Z --deadline 2026-03-01T00:00:00Z -o pj.json &&
	dml-ledger escrow -k cust.key --job pj.json --time 2026-01-15T00:00:00Z >/dev/null &&
	dml-auction --capacity 10 $A pj.json >out 2>err && test_empty err &&
	test_grep "\"job\":\"$(dml-job --id pj.json)\"" out &&
	dml-auction --capacity 10 $A --jobs pj.json | cmp - pj.json
'
test_expect_success 'a refunded escrow does not count' '
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices 3 --per-device 10 --budget 30 --nonce r \
		--created 2026-01-05T00:00:00Z --deadline 2026-03-01T00:00:00Z -o jR.json &&
	dml-ledger escrow -k cust.key --job jR.json --time 2026-01-16T00:00:00Z >/dev/null &&
	dml-ledger refund -k cust.key --job jR.json --time 2026-03-02T00:00:00Z >/dev/null &&
	dml-auction --capacity 10 --time 2026-01-20T00:00:00Z jR.json >out 2>err &&
	test_empty out && test_grep "refused: the escrow is already refunded" err
'
test_expect_success 'bad input: malformed, wrong type, a job twice; exit 1, no output' '
	{ cat jA.json && echo "{\"type\":"; } >bad.nd &&
	test_must_fail dml-auction --capacity 10 $A -o o.nd bad.nd >out 2>err &&
	test_grep "^dml-auction: bad.nd:2: malformed JSON" err &&
	test_empty out && ! test -e o.nd &&
	{ cat jB.json && echo "{\"type\":\"dml.result\",\"v\":1}"; } >bad.nd &&
	test_must_fail dml-auction --capacity 10 $A bad.nd >out 2>err &&
	test_grep "^dml-auction: bad.nd:2: expected a dml.job record, got dml.result" err &&
	test_empty out &&
	sed "s/\"min_devices\":3/\"min_devices\":0/" jA.json >bad.nd &&
	test_must_fail dml-auction --capacity 10 $A bad.nd 2>err && test_grep "bad.nd:1: .*min_devices" err &&
	test_must_fail dml-auction --capacity 10 $A jA.json jA.json >out 2>err &&
	test_grep "job $jA is listed twice" err && test_empty out
'
test_expect_success 'many jobs (mkjobs): every escrowed job ordered, the order checked' '
	"$SRC_DIR/tests/helpers/mkjobs" 2000 cust.key auth.key many.nd many-ledger.nd &&
	dml-auction --capacity 500 -L many-ledger.nd --time 2026-06-01T00:00:00Z many.nd >slots &&
	test $(wc -l <slots) = 2000 &&
	sed "s/.*\"bid\":\"\([0-9]*\)\".*\"rank\":\([0-9]*\).*\"window\":\([0-9]*\).*/\1 \2 \3/" slots >brw &&
	sort -k1,1nr -s brw | cmp - brw &&
	sort -k3,3n -s brw | cmp - brw
'
test_done
