#!/bin/sh
# The worked examples of dml-records(5) are true: each value is recomputed
# here, by the toolchain and independently (Python's hashlib and struct,
# and a dag-pb encoder written from the page's own description).
. "$(dirname "$0")/lib.sh"

PAGE="$SRC_DIR/man/man5/dml-records.5"
# example NAME: the lines of the .Bd block after '.\" example: NAME'
example() {
	awk -v name="$1" '
		$0 == ".\\\" example: " name { want = 1; next }
		want && /^\.Bd/ { inside = 1; next }
		inside && /^\.Ed/ { exit }
		inside { print }' "$PAGE"
}
joined() {
	example "$1" | tr -d '\n'
}

if ! command -v python3 >/dev/null 2>&1; then
	test_skip 'python3 is not installed'
	test_done
fi

test_expect_success 'the page holds every example' '
	for e in secretkey job-command job-canonical job-digest job-sig job-id tensor dagpb-node dagpb-cid; do
		test -n "$(example $e)" || { echo "no example $e"; return 1; }
	done
'
test_expect_success 'the test key: its public key is the one the seed 00..1f gives' '
	example secretkey >test.key && chmod 600 test.key &&
	dml-keygen -p test.key >pub &&
	test_grep "\"key\":\"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8\"" pub &&
	python3 -c "
import base64, json, sys
k = json.load(open(\"test.key\"))
sys.exit(base64.b64decode(k[\"seed\"]) != bytes(range(32)))"
'
test_expect_success 'the job: the command writes the page s signed line' '
	cmd=$(example job-command) &&
	eval "$cmd" -o job.json &&
	dml-job --id job.json >id &&
	test "$(cat id)" = "$(joined job-id)" &&
	test "$(wc -c <job.json)" -eq 679
'
test_expect_success 'the job: canonical bytes, digest, signature and id, recomputed' '
	joined job-canonical >canon &&
	joined job-digest >digest &&
	joined job-sig >sig &&
	python3 - <<-\EOF_PY
	import base64, hashlib, json, sys
	line = open("job.json", "rb").read()
	assert line.endswith(b"\n") and line.count(b"\n") == 1
	rec = json.loads(line)
	sig = rec.pop("sig")
	canon = json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()
	page = open("canon", "rb").read()
	assert canon == page, "canonical form differs"
	assert len(page) == 581
	assert hashlib.blake2b(page, digest_size=64).hexdigest() == open("digest").read()
	assert sig == open("sig").read()
	cid = b"\x01\x55\x12\x20" + hashlib.sha256(line).digest()
	want = "b" + base64.b32encode(cid).decode().lower().rstrip("=")
	assert want == open("id").read().strip(), "CID differs"
	EOF_PY
'
test_expect_success 'the job: the signature verifies over "dml-record-v1" || digest' '
	python3 - <<-\EOF_PY
	import base64, ctypes, ctypes.util, hashlib, json, sys
	so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
	assert so.sodium_init() >= 0
	rec = json.loads(open("job.json").read())
	sig = base64.b64decode(rec.pop("sig"))
	canon = json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()
	msg = b"dml-record-v1" + hashlib.blake2b(canon, digest_size=64).digest()
	assert len(msg) == 77
	pk = bytes.fromhex(rec["from"])
	assert so.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), pk) == 0
	bad = bytearray(msg); bad[20] ^= 1
	assert so.crypto_sign_verify_detached(sig, bytes(bad), ctypes.c_ulonglong(77), pk) != 0
	EOF_PY
'
test_expect_success 'the tensor: little-endian f64 in padded base64' '
	example tensor >t &&
	python3 -c "
import base64, json, struct, sys
t = json.load(open(\"t\"))
sys.exit(base64.b64decode(t[\"data\"]) != struct.pack(\"<2d\", 0.5, -2.0) or t[\"shape\"] != [2])"
'
test_expect_success 'two blocks: the page s dag-pb node, rebuilt from its description, has the CID dml-ipfs-put gives' '
	head -c 262145 /dev/zero >zeros &&
	dml-ipfs-put -n zeros >stored &&
	test_grep "\"cid\":\"$(joined dagpb-cid)\"" stored &&
	joined dagpb-node >node &&
	joined dagpb-cid >cid &&
	python3 - <<-\EOF_PY
	import base64, hashlib
	def varint(n):
	    out = b""
	    while True:
	        b, n = n & 0x7F, n >> 7
	        if not n:
	            return out + bytes([b])
	        out += bytes([b | 0x80])
	def cid(codec, data):
	    raw = bytes([1, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
	    return raw, "b" + base64.b32encode(raw).decode().lower().rstrip("=")
	leaves = [bytes(262144), bytes(1)]
	node = b""
	for leaf in leaves:
	    raw, _ = cid(0x55, leaf)
	    link = b"\x0a" + varint(len(raw)) + raw + b"\x12\x00" + b"\x18" + varint(len(leaf))
	    node += b"\x12" + varint(len(link)) + link
	data = b"\x08\x02\x18" + varint(262145) + b"".join(b"\x20" + varint(len(l)) for l in leaves)
	node += b"\x0a" + varint(len(data)) + data
	assert node.hex() == open("node").read(), "node bytes differ"
	assert len(node) == 104
	assert cid(0x70, node)[1] == open("cid").read()
	EOF_PY
'
test_done
