# lib.sh: a small shell test library in the manner of git's test suite.
# A test script sources this, calls test_expect_success with a title and a
# shell snippet, and ends with test_done. Output is TAP for prove.
#
#   test_expect_success 'title' 'commands && ...'
#   test_expect_code N cmd args...   exit status must be exactly N
#   test_must_fail cmd args...       exit status must be 1 (rejected input)
#   test_cmp expected actual         files must be equal (diff shown if not)
#   test_grep pattern file           file must match the pattern
#   test_empty file                  file must be empty
#   test_wait PID...                 every background job must exit 0
set -u
TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIRECTORY/.." && pwd)
PATH="$SRC_DIR/bin:$PATH"
export PATH LC_ALL=C
unset DML_IPFS_REPO DML_IPFS_API DML_KEY DML_LEDGER DML_ETH_RPC DML_ETH_ESCROW \
	DML_MARKET_INDEX
test_name=$(basename "$0" .sh)
TRASH="$TEST_DIRECTORY/trash.$test_name"
rm -rf "$TRASH"
mkdir -p "$TRASH"
cd "$TRASH" || exit 1
HOME="$TRASH"
export HOME
test_count=0
test_failed=0
DATA=/usr/share/datasets/fashion-mnist

test_expect_success() {
	test_count=$((test_count + 1))
	if (eval "$2") >"$TRASH/.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#  /' "$TRASH/.out" | head -40
	fi
}

test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count # skip $1"
}

test_expect_code() {
	want=$1
	shift
	"$@"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "expected exit $want, got $got: $*" >&2
		return 1
	fi
	return 0
}

test_must_fail() {
	test_expect_code 1 "$@"
}

test_cmp() {
	diff -u "$1" "$2"
}

test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "no line matches '$1' in $2:" >&2
		head -20 "$2" >&2
		return 1
	fi
}

test_empty() {
	if [ -s "$1" ]; then
		echo "$1 is not empty:" >&2
		head -5 "$1" >&2
		return 1
	fi
}

# A bare `wait` returns 0 whatever its jobs did; this waits for each job
# and names the ones that failed (collect PIDs with `cmd & pids="$pids $!"`).
test_wait() {
	_tw_rc=0
	for _tw_pid in "$@"; do
		wait "$_tw_pid" || {
			echo "background job $_tw_pid exited $?" >&2
			_tw_rc=1
		}
	done
	return $_tw_rc
}

test_done() {
	echo "1..$test_count"
	if [ "$test_failed" = 0 ]; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
		exit 0
	fi
	exit 1
}

# For a script that runs a real component (a node, a chain) on loopback
# (tests/ipfs-node.sh, tests/lib-eth.sh):
#   test_require_real 'WHAT is' INSTALL CHECK   unless the shell snippet
#       CHECK holds, skip the whole script (WHAT not installed), or fail
#       it when DML_REQUIRE_REAL=1 (as CI does): run INSTALL first
#   test_bail TITLE [FILE...]   fail the whole script now, FILEs shown
#   test_free_port              a free TCP port on 127.0.0.1
#   test_at_exit CMD            run CMD when the script exits or is killed
test_bail() {
	echo "not ok 1 - $1"
	shift
	[ $# = 0 ] || sed 's/^/#  /' "$@" 2>/dev/null
	echo "1..1"
	exit 1
}

test_require_real() {
	eval "$3" && return 0
	[ "${DML_REQUIRE_REAL:-0}" = 1 ] &&
		test_bail "$1 installed (DML_REQUIRE_REAL=1): run $2"
	echo "1..0 # SKIP $1 not installed ($2)"
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
	exit 0
}

test_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

test_at_exit() {
	trap "$1" EXIT
	trap "$1; exit 1" HUP INT TERM
}
