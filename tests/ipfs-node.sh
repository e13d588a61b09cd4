# ipfs-node.sh: sourced by the tests that need a real IPFS node (after
# lib.sh). Skips the whole test when contrib/ipfs/install has not been run,
# unless DML_REQUIRE_REAL=1, which makes a missing install a failure; else
# starts js-ipfs (the same RPC API as Kubo) on a free loopback port, sets
# PORT, API and node_pid, and stops the node at exit (stop_node).
IPFS=$SRC_DIR/contrib/ipfs
PY=/usr/bin/python3
test_require_real 'js-ipfs is' contrib/ipfs/install \
	'[ -x "$IPFS/node_modules/.bin/jsipfs" ]'
PORT=$(test_free_port)
API=http://127.0.0.1:$PORT
node_pid=
stop_node() {
	[ -z "$node_pid" ] || "$IPFS/stop" "$node_pid"
	node_pid=
}
test_at_exit stop_node
t0=$(date +%s)
if ! node_pid=$("$IPFS/start" "$TRASH/node" "$PORT" 2>start.err); then
	node_pid=
	test_bail "start a js-ipfs node" start.err
fi
echo "# js-ipfs node $node_pid on $API, up in $(($(date +%s) - t0)) s"
