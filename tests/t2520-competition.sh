#!/bin/sh
# Competitions (dml-market compete, enter, score, award): a hidden test set
# committed to by CID, entries scored as dml-eval scores them, ties by
# entry time, copies disqualified, the prize split paid on the ledger once
# (dml-market award and dml-settle --competition, the same library call);
# bad entries, a wrong test set, early scoring, a forged leaderboard.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
SIGN=$SRC_DIR/tests/helpers/rec-sign
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
cidof() { dml-ipfs-put -n "$1" | sed 's/.*"cid":"\([^"]*\)".*/\1/'; }
for k in auth cust e1 e2 e3 eve; do dml-keygen -o $k.key >$k.pub; done
E1=$(hex e1.pub) E2=$(hex e2.pub) E3=$(hex e3.pub)
DML_LEDGER=$TRASH/ledger.nd
export DML_LEDGER
L=$DML_LEDGER
dml-ledger --time 2026-01-01T00:00:00Z genesis -k auth.key --supply 1000000 \
	--growth-pool 0 --bounty-pool 0 --alloc cust.pub=1000 >/dev/null

# The hidden test set: the first 200 samples of Fashion-MNIST's t10k.
N=200
{ printf '\0\0\10\3'; perl -e "print pack('N3', $N, 28, 28)";
  zcat $DATA/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c $((N * 784)); } >img.idx
{ printf '\0\0\10\1'; perl -e "print pack('N', $N)";
  zcat $DATA/t10k-labels-idx1-ubyte.gz | tail -c +9 | head -c $N; } >lab.idx
cp lab.idx lab2.idx && printf '\2' | dd of=lab2.idx bs=1 seek=8 conv=notrunc 2>/dev/null
# Tiny models: softmax with a bias of 1 on class C (accuracy: the share of
# class C in the set).
mk() {
	perl -MMIME::Base64 -e 'my @w = (0) x 7850; $w[7840 + $ARGV[0]] = 1;
	    print "{\"act\":\"relu\",\"arch\":\"softmax\",\"layers\":[784,10],\"params\":{\"data\":\"",
	    encode_base64(pack("f<*", @w), ""), "\",\"dtype\":\"f32\",\"shape\":[7850]},\"type\":\"dml.model\",\"v\":1}\n"' $1
}
for c in 1 2 3; do mk $c >m$c.model; done
perl -MMIME::Base64 -e 'print "{\"arch\":\"softmax\",\"layers\":[2,3],\"params\":{\"data\":\"",
    encode_base64(pack("f<*", (0) x 9), ""), "\",\"dtype\":\"f32\",\"shape\":[9]},\"type\":\"dml.model\",\"v\":1}\n"' >small.model
C="--competition comp.json"
SC="-k cust.key $C --images img.idx --labels lab.idx --time 2026-02-02T00:00:00Z"

test_expect_success 'compete: usage errors' '
	test_expect_code 2 dml-market compete -k cust.key --images img.idx \
		--labels lab.idx --deadline 2026-02-01T00:00:00Z 2>err &&
	test_grep "prize N is required" err &&
	test_expect_code 2 dml-market compete -k cust.key --images img.idx --labels lab.idx \
		--prize 600 --split 60,50 --deadline 2026-02-01T00:00:00Z \
		--time 2026-01-10T00:00:00Z 2>err && test_grep "more than 100%" err &&
	test_expect_code 2 dml-market compete -k cust.key --images img.idx --labels lab.idx \
		--prize 600 --split 0 --deadline 2026-02-01T00:00:00Z 2>err &&
	test_expect_code 2 dml-market compete -k cust.key --images img.idx --labels lab.idx \
		--prize 600 --deadline 2026-01-01T00:00:00Z --time 2026-01-10T00:00:00Z 2>err &&
	test_grep "deadline is not after" err &&
	test_expect_code 2 dml-market compete -k cust.key --images img.idx --labels lab.idx \
		--prize 600 --metric f1 --deadline 2026-02-01T00:00:00Z \
		--time 2026-01-10T00:00:00Z 2>err && test_grep "unknown metric" err &&
	test $(wc -l <$L) = 1
'
test_expect_success 'compete: a signed competition committing to the test set; the prize escrowed' '
	dml-market compete -k cust.key --images img.idx --labels lab.idx --prize 600 \
		--split 50,30 --deadline 2026-02-01T00:00:00Z --time 2026-01-10T00:00:00Z \
		--description "Fashion-MNIST, 200 hidden samples" -o comp.json &&
	COMP=$(cidof comp.json) &&
	test_grep "\"award_by\":\"2026-02-08T00:00:00Z\"" comp.json &&
	test_grep "\"metric\":\"accuracy\"" comp.json &&
	test_grep "\"prize\":\"600\"" comp.json && test_grep "\"split\":\[50,30\]" comp.json &&
	test_grep "\"test\":{\"images\":\"$(cidof img.idx)\",\"labels\":\"$(cidof lab.idx)\"}" comp.json &&
	dml-ledger balance escrow:$COMP | test_grep "\"amount\":\"600\"" - &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"400\"" -
'
test_expect_success 'enter: the model stored on IPFS, a signed entry' '
	dml-market enter -k e1.key $C --model m1.model --time 2026-01-12T00:00:00Z >ent.nd &&
	dml-market enter -k e2.key $C --model m2.model --time 2026-01-11T00:00:00Z >>ent.nd &&
	dml-market enter -k e3.key $C -m m3.model --time 2026-01-11T00:00:00Z >>ent.nd &&
	dml-market enter -k e3.key $C --model m1.model --time 2026-01-13T00:00:00Z >>ent.nd &&
	dml-market enter -k eve.key $C --model small.model --time 2026-01-13T00:00:00Z >>ent.nd &&
	test $(wc -l <ent.nd) = 5 &&
	head -1 ent.nd | test_grep "\"competition\":\"$(cidof comp.json)\",\"created\":\"2026-01-12T00:00:00Z\",\"entrant\":\"$E1\"" - &&
	head -1 ent.nd | test_grep "\"model\":\"$(cidof m1.model)\"" - &&
	dml-ipfs-get $(cidof m2.model) | cmp - m2.model
'
test_expect_success 'enter: after the deadline (nothing stored), or not a model, is refused' '
	mk 4 >m4.model &&
	test_must_fail dml-market enter -k e1.key $C --model m4.model \
		--time 2026-02-01T00:00:00Z >out 2>err &&
	test_grep "after the deadline 2026-02-01T00:00:00Z" err && test_empty out &&
	test_must_fail dml-ipfs-get $(cidof m4.model) >out 2>err && test_empty out &&
	test_must_fail dml-market enter -k e1.key $C --model comp.json 2>err
'
test_expect_success 'score: before the deadline, or on another test set, is refused' '
	test_must_fail dml-market score -k cust.key $C --images img.idx --labels lab.idx \
		--time 2026-01-31T00:00:00Z ent.nd >out 2>err &&
	test_grep "is open until its deadline" err && test_empty out &&
	test_must_fail dml-market score -k cust.key $C --images img.idx --labels lab2.idx \
		--time 2026-02-02T00:00:00Z ent.nd >out 2>err &&
	test_grep "the test set is not the one competition .* committed to" err &&
	test_empty out &&
	test_expect_code 2 dml-market score -k e1.key $C --images img.idx --labels lab.idx \
		--time 2026-02-02T00:00:00Z ent.nd 2>err &&
	test_grep "only the competition.s customer" err
'
test_expect_success 'score: ranked as dml-eval scores them, ties by entry time, copies out' '
	dml-market score $SC ent.nd -o board.json 2>err &&
	test_grep "model $(cidof m1.model) was entered before; disqualified" err &&
	test_grep "model $(cidof small.model): .*disqualified" err &&
	for c in 1 2 3; do
		dml-eval -m m$c.model --idx img.idx lab.idx |
			sed "s/.*\"accuracy\":\([0-9.]*\),.*\"loss\":\([0-9.]*\),.*/\1 \2/" >a$c || return 1
	done &&
	test "$(cat a1)" = "0.135 2.32615" && test "$(cat a2)" = "0.135 2.32615" &&
	test "$(cat a3)" = "0.085 2.37615" &&
	sed "s/},{/}\n{/g" board.json | sed -n "s/.*\"accuracy\":\([0-9.]*\),\"entrant\":\"\([0-9a-f]*\)\".*\"loss\":\([0-9.]*\),.*\"prize\":\"\([0-9]*\)\",\"rank\":\([0-9]\).*/\5 \2 \1 \3 \4/p" >ranks &&
	printf "1 $E2 0.135 2.32615 300\n2 $E1 0.135 2.32615 180\n3 $E3 0.085 2.37615 0\n" >want &&
	test_cmp want ranks &&
	test_grep "\"disqualified\":\[\"[a-z0-9]*\",\"[a-z0-9]*\"\]" board.json &&
	test_grep "\"test\":{\"images\":\"$(cidof img.idx)\",\"labels\":\"$(cidof lab.idx)\",\"n\":200}" board.json
'
test_expect_success 'score: the same inputs give the same leaderboard' '
	dml-market score $SC ent.nd 2>/dev/null >again && test_cmp board.json again
'
test_expect_success 'score: a bad entry names its file and line, exit 1, no output' '
	sed -n 2p ent.nd | sed "s/2026-01-11/2026-01-10/" >forged.nd &&
	{ sed -n 1p ent.nd && cat forged.nd; } >bad.nd &&
	test_must_fail dml-market score $SC bad.nd -o b.json >out 2>err &&
	test_grep "^dml-market: score: bad.nd:2: bad signature" err && test_empty out && ! test -e b.json &&
	{ sed -n 1p ent.nd && echo "{\"type\":"; } >bad.nd &&
	test_must_fail dml-market score $SC bad.nd 2>err &&
	test_grep "^dml-market: score: bad.nd:2: malformed JSON" err &&
	sed -n 1p ent.nd | sed "s/\"competition\":\"[a-z0-9]*\"/\"competition\":\"$(cidof m1.model)\"/" |
		$SIGN e1.key >bad.nd &&
	test_must_fail dml-market score $SC bad.nd 2>err &&
	test_grep "bad.nd:1: the entry is for competition" err &&
	sed -n 1p ent.nd | sed "s/2026-01-12/2026-02-12/" | $SIGN e1.key >bad.nd &&
	test_must_fail dml-market score $SC bad.nd 2>err &&
	test_grep "bad.nd:1: the entry was made after the deadline" err
'
test_expect_success 'award: a forged leaderboard, one for another competition, refused' '
	cp $L before &&
	sed "s/\"prize\":\"180\",\"rank\":2/\"prize\":\"180\",\"rank\":2/; s/$E2/$E3/" board.json |
		$SIGN eve.key >fake.json &&
	test_must_fail dml-market award -k cust.key $C --leaderboard fake.json 2>err &&
	test_grep "not a leaderboard of competition .* signed by its customer" err &&
	sed "s/$E2/$E3/" board.json >tampered.json &&
	test_must_fail dml-market award -k cust.key $C --leaderboard tampered.json 2>err &&
	test_grep "tampered.json:1: bad signature" err &&
	cmp before $L
'
test_expect_success 'award: the split paid from the escrow, the rest back, once' '
	dml-market award -k cust.key $C --leaderboard board.json \
		--time 2026-02-02T00:00:00Z >pay.json &&
	test_grep "\"escrow\":\"600\"" pay.json && test_grep "\"paid\":\"480\"" pay.json &&
	test_grep "\"refund\":\"120\"" pay.json &&
	test_grep "\"report\":\"$(cidof board.json)\"" pay.json &&
	dml-ledger balance e2.pub | test_grep "\"amount\":\"300\"" - &&
	dml-ledger balance e1.pub | test_grep "\"amount\":\"180\"" - &&
	dml-ledger balance e3.pub | test_grep "\"amount\":\"0\"" - &&
	dml-ledger balance cust.pub | test_grep "\"amount\":\"520\"" - &&
	dml-ledger verify >/dev/null &&
	cp $L before &&
	test_must_fail dml-market award -k cust.key $C --leaderboard board.json \
		--time 2026-02-03T00:00:00Z >out 2>err &&
	test_grep "already settled" err && test_empty out && cmp before $L
'
test_expect_success 'one entrant with two winning entries is paid once, the sum' '
	dml-market compete -k cust.key --images img.idx --labels lab.idx --prize 100 \
		--split 60,40 --deadline 2026-03-01T00:00:00Z --time 2026-02-10T00:00:00Z -o c2.json &&
	dml-market enter -k e1.key --competition c2.json --model m1.model --time 2026-02-11T00:00:00Z >e2.nd &&
	dml-market enter -k e1.key --competition c2.json --model m3.model --time 2026-02-11T00:00:00Z >>e2.nd &&
	dml-market score -k cust.key --competition c2.json --images img.idx --labels lab.idx \
		--time 2026-03-02T00:00:00Z e2.nd >b2.json &&
	dml-settle -k cust.key --competition c2.json --leaderboard b2.json \
		--time 2026-03-02T00:00:00Z >pay2.nd &&
	head -1 pay2.nd >pay2.json &&
	test_grep "\"payouts\":\[{\"amount\":\"100\",\"role\":\"developer\",\"to\":\"$E1\"}\]" pay2.json &&
	test_grep "\"refund\":\"0\"" pay2.json &&
	tail -1 pay2.nd | test_grep "\"op\":\"settle\",\"seq\":$(($(wc -l <$L) - 1))" -
'
test_expect_success 'dml-settle --competition: usage, a leaderboard not signed by the customer, a second award' '
	test_expect_code 2 dml-settle -k cust.key --competition c2.json 2>err &&
	test_grep "competition and --leaderboard are required" err &&
	test_expect_code 2 dml-settle -k cust.key --competition c2.json \
		--leaderboard b2.json --job x.json 2>err &&
	test_grep "takes no --job" err &&
	cp $L before &&
	test_expect_code 1 dml-settle -k cust.key --competition c2.json \
		--leaderboard b2.json --time 2026-03-03T00:00:00Z >out 2>err &&
	test_grep "already settled" err && test_empty out &&
	dml-ledger balance e1.pub | test_grep "\"amount\":\"280\"" - &&
	jq -c "del(.sig, .from)" b2.json | $SIGN e1.key >eve.json &&
	test_expect_code 1 dml-settle -k e1.key --competition c2.json \
		--leaderboard eve.json --time 2026-03-03T00:00:00Z >out 2>err &&
	test_grep "eve.json:1: not a leaderboard of competition .* signed by its customer" err &&
	test_empty out && cmp before $L
'
test_expect_success 'an unawarded prize returns to the customer after award_by only' '
	dml-market compete -k cust.key --images img.idx --labels lab.idx --prize 50 \
		--deadline 2026-03-10T00:00:00Z --award-by 2026-03-20T00:00:00Z \
		--time 2026-03-03T00:00:00Z -o c3.json &&
	C3=$(cidof c3.json) &&
	test_must_fail dml-ledger refund -k cust.key --job $C3 --time 2026-03-19T00:00:00Z 2>err &&
	test_grep "deadline 2026-03-20T00:00:00Z has not come" err &&
	dml-ledger refund -k cust.key --job $C3 --time 2026-03-20T00:00:00Z >/dev/null &&
	dml-ledger balance escrow:$C3 | test_grep "\"amount\":\"0\"" - &&
	echo "{\"type\":\"dml.leaderboard\",\"v\":1,\"competition\":\"$C3\",\"customer\":\"$(hex cust.pub)\",\"ranking\":[]}" |
		$SIGN cust.key >b3.json &&
	test_must_fail dml-market award -k cust.key --competition c3.json \
		--leaderboard b3.json --time 2026-03-21T00:00:00Z 2>err &&
	test_grep "already refunded" err
'
test_done
