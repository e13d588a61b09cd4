# lib-eth.sh: what the tests that settle on a real chain share (sourced
# after lib.sh). Skips the script when contrib/ethereum/install has not
# been run, unless DML_REQUIRE_REAL=1, which makes a missing install a
# failure. Compiles the contracts into $TRASH/build, starts ganache
# (deterministic accounts, chain id 1337) on a free loopback port with its
# database in $TRASH/chain/db, exports DML_ETH_RPC, and stops the node by
# its PID at exit.
#   start_node / stop_node      (re)start the node on the same port and
#                               database, stop it (SIGTERM, then SIGKILL)
#   kill_node                   SIGKILL: a node that dies mid-operation
#   rpc METHOD [PARAMS]         a raw JSON-RPC call's result (jq -c)
#   ethkey FILE SECRET          a dml.eth.secretkey file for a test key
#   hex PUB, addr PAYEE, field NAME, bal ADDRESS...
#   parties                     keys auth cust rep fed1 fed2 devel d1..d5,
#                               Ethereum keys and the address book
#                               book.nd for all but d5 and auth, cust
#   job NAME BUDGET [DEADLINE]  a job NAME.json; $NAME its id
#   contrib JOB DEVICES...      the report node's signed contributions
#                               ($REP, $FED1, $FED2, $DEVEL: the keys)
ETH=$SRC_DIR/contrib/ethereum
PY=/usr/bin/python3
test_require_real 'ganache and solc are' contrib/ethereum/install \
	'[ -x "$ETH/node_modules/.bin/ganache" ] && [ -d "$ETH/node_modules/solc" ]'
PORT=$(test_free_port)
DML_ETH_RPC=http://127.0.0.1:$PORT
export DML_ETH_RPC
# the node's PID lives in its pidfile: tests run in subshells
NODE_PIDFILE=$TRASH/chain/ganache.pid
stop_node() {
	"$ETH/stop" "$NODE_PIDFILE"
}
kill_node() {
	[ -f "$NODE_PIDFILE" ] || return 1
	node_pid=$(cat "$NODE_PIDFILE")
	kill -9 "$node_pid" && rm -f "$NODE_PIDFILE" || return 1
	while kill -0 "$node_pid" 2>/dev/null; do sleep 0.1; done
}
start_node() {
	ETH_PERSIST=1 "$ETH/start" "$TRASH/chain" "$PORT" >/dev/null 2>>"$TRASH/start.err"
}
test_at_exit stop_node
if ! "$ETH/compile" "$TRASH/build" 2>compile.err || ! start_node; then
	test_bail "compile the contracts and start ganache" compile.err \
		start.err
fi
rpc() {
	curl -s -H 'content-type: application/json' --data \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" \
		"$DML_ETH_RPC" | jq -c .result
}

SIGN=$SRC_DIR/tests/helpers/rec-sign
hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
addr() { sed -n 's/.*"address":"\(0x[0-9a-fA-F]*\)".*/\1/p' "$1"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# ganache --wallet.deterministic accounts 0 and 1 (well-known test keys)
ethkey() { printf '{"secret":"%s","type":"dml.eth.secretkey","v":1}\n' $2 >$1; chmod 600 $1; }
ethkey deployer.eth 4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d
ethkey customer.eth 6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1
DEPLOYER=0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1
CUSTOMER=0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0
bal() { dml-settle balance "$@" | field amount | paste -sd' '; }
parties() {
	for k in auth cust rep fed1 fed2 devel d1 d2 d3 d4 d5; do
		dml-keygen -o $k.key >$k.pub || return 1
	done
	for k in rep fed1 fed2 devel d1 d2 d3 d4; do
		dml-keygen --eth -o $k.eth --payee $k.key >$k.payee || return 1
	done
	cat rep.payee fed1.payee fed2.payee devel.payee d1.payee d2.payee \
		d3.payee d4.payee >book.nd
	REP=$(hex rep.pub) FED1=$(hex fed1.pub) FED2=$(hex fed2.pub)
	DEVEL=$(hex devel.pub)
}
devices() { for d in "$@"; do hex $d.pub; done | sort | paste -sd, | sed 's/\([0-9a-f]\{64\}\)/"\1"/g'; }
# contrib JOB DEVICES...: the report node's signed dml.contributions
contrib() {
	j=$1
	shift
	printf '{"type":"dml.contributions","v":1,"job":"%s","devices":[%s],"nodes":{"report":"%s","federated":[{"key":"%s","devices":3},{"key":"%s","devices":%d}]},"developer":"%s"}\n' \
		$j "$(devices "$@")" $REP $FED1 $FED2 $(($# - 3)) $DEVEL | $SIGN rep.key
}
. "$SRC_DIR/tests/lib-job.sh"	# job NAME BUDGET [DEADLINE]
