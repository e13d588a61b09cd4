#!/bin/sh
# contrib/lint/test-chain, the && chain lint that make check runs on the
# test scripts: every kind of break in tests/chainlint/bad.sh is found at
# its line, the chained forms in good.sh pass, and the suite is clean.
. "$(dirname "$0")/lib.sh"

L=$SRC_DIR/contrib/lint/test-chain
C=$TEST_DIRECTORY/chainlint
test_expect_success 'every break in bad.sh is named at its line, exit 1' '
	(cd "$C" && test_expect_code 1 "$L" bad.sh) >out &&
	test_cmp "$C/bad.expect" out
'
test_expect_success 'chains through here-docs, groups, loops, branches: no complaint' '
	"$L" "$C/good.sh" >out &&
	test_empty out
'
test_expect_success 'the test scripts themselves are clean' '
	"$L" "$TEST_DIRECTORY"/*.sh >out &&
	test_empty out
'
test_done
