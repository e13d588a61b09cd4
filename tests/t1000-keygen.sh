#!/bin/sh
# dml-keygen: identities, file modes, refusal to overwrite.
. "$(dirname "$0")/lib.sh"

test_expect_success 'help goes to stdout and exits 0' '
	dml-keygen --help >out && test_grep "usage: dml-keygen" out
'
test_expect_success 'no arguments is a usage error (exit 2)' '
	test_expect_code 2 dml-keygen 2>err && test_grep "Try" err
'
test_expect_success 'a new key file is mode 0600 and the record names the key' '
	dml-keygen -o a.key --name alice >a.pub &&
	test "$(stat -c %a a.key)" = 600 &&
	test_grep "\"type\":\"dml.pubkey\"" a.pub &&
	test_grep "\"name\":\"alice\"" a.pub &&
	key=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" a.pub) &&
	test ${#key} = 64
'
test_expect_success 'an existing file is never overwritten' '
	cp a.key a.before &&
	test_expect_code 2 dml-keygen -o a.key 2>err &&
	test_grep "File exists" err && cmp a.key a.before
'
test_expect_success '-p prints the same public record' '
	key=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" a.pub) &&
	dml-keygen -p a.key >again && test_grep "$key" again
'
test_expect_success 'two keys differ' '
	dml-keygen -o b.key >b.pub && ! cmp -s a.pub b.pub
'
test_expect_success 'a seeded key is reproducible and depends on the name' '
	dml-keygen -o s1.key --seed demo --name dev1 >s1.pub &&
	dml-keygen -o s2.key --seed demo --name dev1 >s2.pub &&
	dml-keygen -o s3.key --seed demo --name dev2 >s3.pub &&
	cmp s1.pub s2.pub && ! cmp -s s1.pub s3.pub
'
test_expect_success 'a damaged key file is refused (exit 1)' '
	sed "s/\"seed\":\"./\"seed\":\"#/" a.key >bad.key &&
	test_must_fail dml-keygen -p bad.key 2>err && test_grep "seed" err &&
	echo "{}" >notkey && test_must_fail dml-keygen -p notkey 2>err &&
	test_grep "not a dml secret key" err
'
test_expect_success 'a key whose public half does not match is refused' '
	pub=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" b.pub) &&
	sed "s/\"key\":\"[0-9a-f]*\"/\"key\":\"$pub\"/" a.key >mixed.key &&
	test_must_fail dml-keygen -p mixed.key 2>err && test_grep "does not match" err
'
test_expect_success 'a missing key file is an error naming it' '
	test_expect_code 2 dml-keygen -p nosuch.key 2>err && test_grep "nosuch.key" err
'
test_expect_success 'the old spelling -n of --name still works, with a warning' '
	dml-keygen -o s4.key --seed demo -n dev1 >s4.pub 2>err &&
	test_grep "^dml-keygen: warning: -n is an old spelling of --name" err &&
	test_cmp s1.pub s4.pub
'
test_done
