#!/bin/sh
# dml-encrypt: sealed envelopes, signatures, all-or-nothing output.
. "$(dirname "$0")/lib.sh"

dml-keygen -o dev.key >dev.pub
dml-keygen -o node.key >node.pub
dml-keygen -o eve.key >eve.pub
printf '%s\n' '{"job":"bafkreiabc","n":3,"round":2,"type":"dml.note","v":1}' \
	'{"job":"bafkreiabc","n":4,"round":2,"type":"dml.note","v":1}' >plain.json
$SRC_DIR/tests/helpers/rec-sign dev.key plain.json >signed.json
DEV=$(sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' dev.pub)

test_expect_success 'help and usage' '
	dml-encrypt --help | test_grep "usage: dml-encrypt" - &&
	test_expect_code 2 dml-encrypt -k dev.key 2>err &&
	test_grep "^dml-encrypt: -r RECIPIENT is required" err &&
	test_expect_code 2 dml-encrypt -r node.pub -k dev.key --scheme rot13 2>err &&
	test_grep "^dml-encrypt: --scheme: .rot13. is not one of box, paillier, secagg" err &&
	test_expect_code 2 dml-encrypt -r node.pub 2>err &&
	test_grep "^dml-encrypt: give your secret key with -k FILE (or DML_KEY)" err &&
	test_expect_code 2 dml-encrypt -r node.pub -k dev.key --frac-bits 99 2>err &&
	test_grep "^dml-encrypt: --frac-bits: .99. is out of range" err
'
test_expect_success 'the key defaults to DML_KEY; -k wins over it' '
	DML_KEY=dev.key dml-encrypt -r node.pub signed.json >env.json &&
	dml-encrypt -d -k node.key env.json >back.json &&
	test_cmp signed.json back.json &&
	DML_KEY=eve.key dml-encrypt -r node.pub -k dev.key signed.json >env2.json &&
	test_grep "\"from\":\"$DEV\"" env2.json &&
	test_expect_code 2 env DML_KEY=nosuch.key dml-encrypt -r node.pub signed.json 2>err &&
	test_grep "nosuch.key" err
'
test_expect_success 'seal to the node; job and round stay readable for routing' '
	dml-encrypt -r node.pub -k dev.key signed.json >sealed.json &&
	test $(wc -l <sealed.json) = 2 &&
	test_grep "\"type\":\"dml.sealed\"" sealed.json &&
	test_grep "\"job\":\"bafkreiabc\",\"round\":2" sealed.json &&
	! grep -q "\"n\":3" sealed.json
'
test_expect_success 'the node opens them and gets the records back exactly' '
	dml-encrypt -d -k node.key sealed.json >opened.json &&
	test_cmp signed.json opened.json
'
test_expect_success 'another key cannot open them' '
	test_must_fail dml-encrypt -d -k eve.key sealed.json >out 2>err &&
	test_grep "sealed.json:1: envelope is addressed to" err && test_empty out
'
test_expect_success 'a forged envelope signature is refused, with no output' '
	sed "2s/\"round\":2/\"round\":3/" sealed.json >forged.json &&
	test_must_fail dml-encrypt -d -k node.key forged.json >out 2>err &&
	test_grep "forged.json:2: bad signature" err && test_empty out
'
test_expect_success 'an altered ciphertext is refused' '
	perl -pe '\''s/"ct":"(.)(.)/"\"ct\":\"$1".($2 eq "A" ? "B" : "A")/e if $. == 1'\'' sealed.json >alt.json &&
	! cmp -s sealed.json alt.json &&
	$SRC_DIR/tests/helpers/rec-sign dev.key alt.json >alt2.json &&
	test_must_fail dml-encrypt -d -k node.key alt2.json >out 2>err &&
	test_grep "cannot open" err && test_empty out
'
test_expect_success 'a record re-wrapped by someone else is refused' '
	dml-encrypt -r node.pub -k eve.key signed.json >rewrap.json &&
	test_must_fail dml-encrypt -d -k node.key rewrap.json 2>err &&
	test_grep "signed by another key" err
'
test_expect_success 'bad base64 in the ciphertext' '
	sed "1s/\"ct\":\"/\"ct\":\"*/" sealed.json | $SRC_DIR/tests/helpers/rec-sign dev.key >b64.json &&
	test_must_fail dml-encrypt -d -k node.key b64.json 2>err && test_grep "not base64" err
'
test_expect_success 'malformed, wrong type, missing field, truncated, empty, missing file' '
	echo "{\"type\":\"dml.sealed\"," >m.json &&
	test_must_fail dml-encrypt -d -k node.key m.json 2>err && test_grep "m.json:1: malformed" err &&
	sed "s/\"scheme\":\"box\"/\"scheme\":7/" sealed.json >t.json &&
	test_must_fail dml-encrypt -d -k node.key t.json 2>err && test_grep "must be a string" err &&
	sed "s/\"scheme\":\"box\",//" sealed.json >mf.json &&
	test_must_fail dml-encrypt -d -k node.key mf.json 2>err && test_grep "missing field \"scheme\"" err &&
	head -c 100 sealed.json >tr.json &&
	test_must_fail dml-encrypt -d -k node.key tr.json 2>err && test_grep "tr.json:1: truncated" err &&
	: >e.json && test_must_fail dml-encrypt -d -k node.key e.json 2>err && test_grep "empty" err &&
	test_expect_code 2 dml-encrypt -d -k node.key nosuch.json 2>err && test_grep "nosuch.json" err
'
test_expect_success 'a bad second record leaves no output file behind' '
	{ head -1 signed.json && echo "{bad"; } >half.json &&
	test_must_fail dml-encrypt -r node.pub -k dev.key -o out.json half.json 2>err &&
	test_grep "half.json:2:" err && test ! -e out.json && ! ls out.json.tmp* 2>/dev/null
'
test_done
