#!/bin/sh
# dml-ipfs-put and dml-ipfs-get against a real IPFS node (js-ipfs, the
# same RPC API as Kubo), started here on a free loopback port and stopped
# at the end; and against a node that is down or answers badly.
# Skipped when contrib/ipfs/install has not been run, unless
# DML_REQUIRE_REAL=1, which makes a missing install a failure.
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/ipfs-node.sh"

# bounded: the command must end within $1 seconds (its status is kept)
within() {
	limit=$1
	shift
	t0=$(date +%s)
	"$@"
	rc=$?
	t1=$(date +%s)
	if [ $((t1 - t0)) -gt "$limit" ]; then
		echo "took $((t1 - t0)) s, more than $limit s: $*" >&2
		return 99
	fi
	return $rc
}

gen() { seq 1 100000000 | head -c "$1"; }
SIZES="0 1 262143 262144 262145 45613056 45613057 52428800"
for n in $SIZES; do gen $n >in.$n; done
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p" "$2"; }

test_expect_success 'the node gives the CID of the embedded store, for every size' '
	for n in $SIZES; do
		dml-ipfs-put -n in.$n >local.$n &&
		dml-ipfs-put --api $API in.$n >node.$n &&
		test "$(field cid node.$n)" = "$(field cid local.$n)" &&
		test "$(field size node.$n)" = $n || { echo "size $n"; return 1; }
	done &&
	test "$(field cid node.0)" = bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku
'
test_expect_success 'round trips through the node, every block verified' '
	for n in $SIZES; do
		dml-ipfs-get --api $API "$(field cid node.$n)" >out.$n &&
		cmp in.$n out.$n || { echo "size $n"; return 1; }
	done
'
test_expect_success 'standard input is streamed (chunked upload); DML_IPFS_API; -o' '
	gen 45613057 | DML_IPFS_API=$API dml-ipfs-put >pipe.json &&
	test "$(field cid pipe.json)" = "$(field cid local.45613057)" &&
	DML_IPFS_API=$API dml-ipfs-get -o got.bin "$(field cid pipe.json)" &&
	cmp in.45613057 got.bin &&
	dml-ipfs-put --api /ip4/127.0.0.1/tcp/$PORT in.1 >ma.json &&
	test "$(field cid ma.json)" = "$(field cid local.1)"
'
printf '%s\n' '{"type":"dml.note","v":1,"n":1}' '{"n":2,"type":"dml.note","v":1}' >recs.json
test_expect_success '--each through the node' '
	dml-ipfs-put --api $API --each recs.json >each.json &&
	dml-ipfs-put -n --each recs.json >each.local &&
	test_cmp each.local each.json &&
	dml-ipfs-get --api $API "$(sed -n 2p each.json | field cid -)" >got &&
	sed -n 2p recs.json >want && test_cmp want got
'
test_expect_success 'a CID the node does not have: exit 1, no output, bounded time' '
	within 20 test_must_fail dml-ipfs-get --api $API --timeout 2 \
		bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >out 2>err &&
	test_grep "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" err &&
	test_grep "$API" err && test_empty out
'

# A fake node: reads each request whole, then answers it badly: a body
# shorter than its Content-Length ("truncated"), or well-formed answers
# with the wrong CID or the wrong block ("wrong").
cat >fake.py <<'EOF'
import socket, sys, threading
mode, portfile = sys.argv[1], sys.argv[2]
def read_request(c):
    f = c.makefile('rb')
    line = f.readline()
    head = {}
    while True:
        h = f.readline()
        if h in (b'\r\n', b'\n', b''):
            break
        k, _, v = h.decode().partition(':')
        head[k.strip().lower()] = v.strip()
    if 'content-length' in head:
        f.read(int(head['content-length']))
    elif head.get('transfer-encoding', '').lower() == 'chunked':
        while True:
            n = int(f.readline().split(b';')[0], 16)
            f.read(n + 2)
            if n == 0:
                break
    return line
def serve(c):
    try:
        line = read_request(c)
        if mode == 'truncated':
            body = b'{"Name":"x","Hash":"bafkrei'
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                      b'Content-Length: 500\r\n\r\n' + body)
        elif mode == 'wrong':
            body = b'{"Name":"x","Hash":"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am","Size":"6"}\n'
            if b'block/get' in line:
                body = b'hello\n'
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0))
s.listen(16)
open(portfile, 'w').write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
fake_pid=
start_fake() {
	rm -f fake.port
	$PY fake.py "$1" fake.port &
	fake_pid=$!
	i=0
	while [ ! -s fake.port ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	FAKE=http://127.0.0.1:$(cat fake.port)
}
stop_fake() { [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; fake_pid=; }
trap 'stop_node; stop_fake' EXIT

start_fake truncated
test_expect_success 'a truncated HTTP answer: exit 1, no output' '
	within 20 test_must_fail dml-ipfs-get --api $FAKE "$(field cid local.1)" >out 2>err &&
	test_grep "truncated answer" err && test_empty out &&
	within 20 test_must_fail dml-ipfs-put --api $FAKE -o o.json in.262145 2>err &&
	test_grep "truncated answer" err && test ! -e o.json
'
stop_fake
start_fake wrong
test_expect_success 'a node that answers the wrong CID or wrong bytes' '
	test_must_fail dml-ipfs-put --api $FAKE in.262145 >out 2>err &&
	test_grep "the node made bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am of in.262145, but its CID is $(field cid local.262145)" err &&
	test_empty out &&
	test_must_fail dml-ipfs-get --api $FAKE "$(field cid local.1)" >out 2>err &&
	test_grep "corrupted" err && test_empty out
'
stop_fake

t0=$(date +%s)
stop_node
echo "# node stopped in $(($(date +%s) - t0)) s"
test_expect_success 'the node is down: clear error, exit 1, bounded time' '
	within 15 test_must_fail dml-ipfs-put --api $API in.1 >out 2>err &&
	test_grep "dml-ipfs-put: $API: cannot connect" err && test_empty out &&
	within 15 test_must_fail dml-ipfs-get --api $API "$(field cid local.1)" >out 2>err &&
	test_grep "dml-ipfs-get: .*$API: cannot connect" err && test_empty out
'
test_expect_success 'nothing listening on a port at all' '
	P=$(test_free_port) &&
	within 15 test_must_fail dml-ipfs-get --api 127.0.0.1:$P "$(field cid local.1)" 2>err &&
	test_grep "cannot connect" err
'
test_done
