# ipfs-node.sh: sourced by the tests that need a real IPFS node (after
# lib.sh). Skips the whole test when contrib/ipfs/install has not been run,
# unless DML_REQUIRE_REAL=1, which makes a missing install a failure; else
# starts js-ipfs (the same RPC API as Kubo) on a free loopback port, sets
# PORT, API and node_pid, and stops the node at exit (stop_node).
IPFS=$SRC_DIR/contrib/ipfs
PY=/usr/bin/python3
if [ ! -x "$IPFS/node_modules/.bin/jsipfs" ]; then
	if [ "${DML_REQUIRE_REAL:-0}" = 1 ]; then
		echo "not ok 1 - js-ipfs is installed (DML_REQUIRE_REAL=1): run contrib/ipfs/install"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP js-ipfs is not installed (contrib/ipfs/install)"
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
	exit 0
fi

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
API=http://127.0.0.1:$PORT
node_pid=
stop_node() {
	[ -z "$node_pid" ] || "$IPFS/stop" "$node_pid"
	node_pid=
}
trap 'stop_node' EXIT
trap 'stop_node; exit 1' HUP INT TERM
t0=$(date +%s)
if ! node_pid=$("$IPFS/start" "$TRASH/node" "$PORT" 2>start.err); then
	node_pid=
	echo "not ok 1 - start a js-ipfs node"
	sed 's/^/#  /' start.err
	echo "1..1"
	exit 1
fi
echo "# js-ipfs node $node_pid on $API, up in $(($(date +%s) - t0)) s"
