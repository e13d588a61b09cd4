#!/bin/sh
# dml-ipfs-put and dml-ipfs-get on the embedded blockstore: CIDs as ipfs
# add --cid-version=1 --raw-leaves gives them, verified round trips, and
# nothing written when a block is bad.
. "$(dirname "$0")/lib.sh"

# deterministic, every chunk different
gen() { seq 1 100000000 | head -c "$1"; }
# the CIDs npm's ipfs-unixfs-importer (cidVersion 1, rawLeaves, 262144-byte
# chunks, balanced, 174 links) gives to `gen N`
cid_of() {
	case $1 in
	0) echo bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku ;;
	1) echo bafkreidlq2zhh7zu7tqz224aj37vup2xi6w2j2vcf4outqa6klo3pb23jm ;;
	262143) echo bafkreig34fexazwpi37cx45l7asy6ovwsupgvkrvukxwlgspcaz7bzzkxe ;;
	262144) echo bafkreifubmybw43havi3h6mtpws7pevigfeiipz5fi2tyjgma26th3c73i ;;
	262145) echo bafybeihsrzdfeayswrstksslqsmujjrknxqxeo2j7irtshp4oz5te7h5dy ;;
	45613056) echo bafybeia6x5maohcuulksitvk2245a5iveimm3zq7azndo56b3bjqkh3b44 ;;
	45613057) echo bafybeifcu5hbg3eqhbdqezgyijfdnqvl7hr7ox3otepoyfhpoyr6weicp4 ;;
	52428800) echo bafybeifrvxx5lyferae75zw3wecy62unfkddro2mksobgxxysr37jyjyxu ;;
	esac
}
SIZES="0 1 262143 262144 262145 45613056 45613057 52428800"
for n in $SIZES; do gen $n >in.$n; done
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p" "$2"; }
# the path of a block in the repo: blocks/<2 chars before the last>/<cid>
block() { echo "$1/blocks/$(echo "$2" | sed 's/.*\(..\).$/\1/')/$2"; }

test_expect_success 'help and usage' '
	dml-ipfs-put --help >out && test_grep "usage: dml-ipfs-put" out &&
	dml-ipfs-get --help >out && test_grep "usage: dml-ipfs-get" out &&
	test_expect_code 2 dml-ipfs-put --bogus 2>err && test_grep "Try" err &&
	test_expect_code 2 dml-ipfs-put --repo r --api http://127.0.0.1:1 in.1 2>err &&
	test_grep "not both" err &&
	test_expect_code 2 dml-ipfs-put --name x in.0 in.1 2>err &&
	test_grep "one input" err &&
	test_expect_code 2 dml-ipfs-put --timeout soon in.1 2>err &&
	test_grep "^dml-ipfs-put: --timeout: .soon. is not an integer" err &&
	test_expect_code 2 dml-ipfs-get 2>err && test_grep "no CID" err &&
	test_expect_code 2 dml-ipfs-get --repo r --api http://127.0.0.1:1 x 2>err &&
	test ! -e .dml && test ! -e r
'
test_expect_success 'the old spellings -r, -e, -a and -t still work, with a warning' '
	echo "{\"type\":\"dml.x\",\"v\":1}" >old.json &&
	dml-ipfs-put -e -r old -t 5 old.json >out 2>err &&
	test_grep "^dml-ipfs-put: warning: -e is an old spelling of --each" err &&
	test_grep "^dml-ipfs-put: warning: -r is an old spelling of --repo" err &&
	test_grep "^dml-ipfs-put: warning: -t is an old spelling of --timeout" err &&
	test_grep "\"content\":\"dml.x\"" out &&
	dml-ipfs-get -r old "$(field cid out)" >got 2>err &&
	test_grep "^dml-ipfs-get: warning: -r is an old spelling of --repo" err &&
	test_cmp old.json got &&
	test_expect_code 1 dml-ipfs-get -a http://127.0.0.1:1 -t 1 "$(field cid out)" 2>err &&
	test_grep "^dml-ipfs-get: warning: -a is an old spelling of --api" err &&
	test_grep "^dml-ipfs-get: warning: -t is an old spelling of --timeout" err
'
test_expect_success 'the empty file and hello: known CIDs, exact records' '
	: | dml-ipfs-put >empty.json &&
	echo "{\"cid\":\"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\",\"name\":\"-\",\"size\":0,\"type\":\"dml.stored\",\"v\":1}" >want &&
	test_cmp want empty.json &&
	printf "hello\n" >hello.txt && dml-ipfs-put hello.txt >hello.json &&
	echo "{\"cid\":\"bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am\",\"name\":\"hello.txt\",\"size\":6,\"type\":\"dml.stored\",\"v\":1}" >want &&
	test_cmp want hello.json &&
	dml-ipfs-get bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am >got &&
	test_cmp hello.txt got &&
	dml-ipfs-get bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku >got &&
	test_empty got
'
test_expect_success 'the default blockstore: ~/.dml/ipfs, mode 0700, documented layout' '
	test -d "$HOME/.dml/ipfs/blocks" && test -d "$HOME/.dml/ipfs/tmp" &&
	test_grep "dml-blockstore 1" "$HOME/.dml/ipfs/version" &&
	ls -ld "$HOME/.dml/ipfs" | test_grep "^drwx------" - &&
	test -f "$(block "$HOME/.dml/ipfs" bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am)" &&
	cmp hello.txt "$(block "$HOME/.dml/ipfs" bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am)"
'
test_expect_success 'put and get across sizes: the CIDs of ipfs add, the same bytes back' '
	for n in $SIZES; do
		dml-ipfs-put --repo repo in.$n >rec.$n &&
		test "$(field cid rec.$n)" = "$(cid_of $n)" &&
		test "$(field size rec.$n)" = $n &&
		test "$(field name rec.$n)" = in.$n &&
		dml-ipfs-get --repo repo "$(cid_of $n)" >out.$n &&
		cmp in.$n out.$n || { echo "size $n failed"; return 1; }
	done
'
test_expect_success 'standard input, several files, --name, -o, DML_IPFS_REPO' '
	gen 700000 | DML_IPFS_REPO=repo dml-ipfs-put --name data.bin -o rec.json &&
	test "$(field name rec.json)" = data.bin &&
	test "$(field size rec.json)" = 700000 &&
	gen 700000 >in.700000 && dml-ipfs-put --repo repo in.700000 >rec2.json &&
	test "$(field cid rec.json)" = "$(field cid rec2.json)" &&
	dml-ipfs-put --repo repo in.1 in.262145 hello.txt >three.json &&
	test $(wc -l <three.json) = 3 &&
	test "$(sed -n 2p three.json | field cid -)" = "$(cid_of 262145)" &&
	test "$(sed -n 3p three.json | field name -)" = hello.txt &&
	DML_IPFS_REPO=repo dml-ipfs-get -o out.bin /ipfs/"$(field cid rec.json)" &&
	cmp in.700000 out.bin
'
test_expect_success 'several CIDs are written one after the other' '
	dml-ipfs-get --repo repo "$(cid_of 1)" "$(cid_of 262145)" "$(cid_of 1)" >cat.out &&
	cat in.1 in.262145 in.1 >want && cmp want cat.out
'
test_expect_success '--only-hash stores nothing and gives the same CID' '
	dml-ipfs-put -n --repo fresh in.262145 >h.json &&
	test "$(field cid h.json)" = "$(cid_of 262145)" &&
	test ! -e fresh &&
	gen 45613057 | dml-ipfs-put --only-hash --repo fresh >h2.json &&
	test "$(field cid h2.json)" = "$(cid_of 45613057)" && test ! -e fresh
'
test_expect_success 'storing again writes nothing new (blocks are immutable)' '
	find repo/blocks -type f | sort >before &&
	dml-ipfs-put --repo repo in.45613057 >/dev/null &&
	find repo/blocks -type f | sort >after &&
	test_cmp before after && test -z "$(ls repo/tmp)"
'

cp -R repo bad
cp -R repo bad2
# every file longer than a chunk starts with the block of in.262144
FIRST=$(cid_of 262144)
# the second leaf of in.262145: its last byte
tail -c 1 in.262145 >last.byte
LEAF=$(dml-ipfs-put -n last.byte | field cid -)
test_expect_success 'a block altered on disk: exit 1, nothing on stdout, no -o file' '
	f=$(block bad $FIRST) && test -f "$f" &&
	chmod u+w "$f" && printf X | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	test_must_fail dml-ipfs-get --repo bad $FIRST >out 2>err &&
	test_grep "dml-ipfs-get: bad: block $FIRST is corrupted" err && test_empty out &&
	test_must_fail dml-ipfs-get --repo bad -o got.bin $(cid_of 262145) 2>err &&
	test_grep "corrupted" err && test ! -e got.bin && test -z "$(ls got.bin.tmp* 2>/dev/null)"
'
test_expect_success 'the same bad leaf under a two-level DAG; other files still read' '
	test_must_fail dml-ipfs-get --repo bad $(cid_of 45613057) >out 2>err &&
	test_grep "block $FIRST is corrupted" err && test_empty out &&
	dml-ipfs-get --repo bad $(cid_of 262143) | cmp - in.262143
'
test_expect_success 'a missing block: exit 1, clear message, no output' '
	rm -f "$(block bad2 $LEAF)" &&
	test_must_fail dml-ipfs-get --repo bad2 $(cid_of 262145) >out 2>err &&
	test_grep "block $LEAF is not in bad2" err && test_empty out &&
	dml-ipfs-get --repo bad2 $FIRST | cmp - in.262144
'
test_expect_success 'a block truncated on disk' '
	f=$(block bad2 $(cid_of 262143)) && chmod u+w "$f" && : >"$f" &&
	test_must_fail dml-ipfs-get --repo bad2 $(cid_of 262143) >out 2>err &&
	test_grep "corrupted" err && test_empty out
'
test_expect_success 'a CID that is not there; a store that is not there' '
	test_must_fail dml-ipfs-get --repo repo bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >out 2>err &&
	test_grep "is not in repo" err && test_empty out &&
	test_must_fail dml-ipfs-get --repo nowhere $(cid_of 1) >out 2>err &&
	test_grep "is not in nowhere" err && test ! -e nowhere
'
test_expect_success 'malformed CIDs are refused before anything is read' '
	test_must_fail dml-ipfs-get --repo repo QmUJPTFZnR2CPGAzmfdYPghgrFtYFB6pf1BqMvqfiPDam8 2>err &&
	test_grep "not a base32 CIDv1" err &&
	test_must_fail dml-ipfs-get --repo repo bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbaugul 2>err &&
	test_grep "not a CIDv1" err &&
	test_must_fail dml-ipfs-get --repo repo "$(cid_of 1)" bafy-not-base32 >out 2>err &&
	test_empty out
'
test_expect_success 'a missing input file, a directory' '
	test_expect_code 2 dml-ipfs-put --repo repo in.1 nosuch >out 2>err &&
	test_grep "nosuch: No such file" err && test_empty out &&
	test_expect_code 2 dml-ipfs-put --repo repo . 2>err && test_grep "Is a directory" err
'

printf '%s\n' '{"type":"dml.note","v":1,"n":1}' '{"v":1,"type":"dml.job","z":[1,2]}' \
	'{"n":3,"type":"dml.note","v":1}' >recs.json
test_expect_success '--each stores each record line on its own' '
	dml-ipfs-put --repo each --each recs.json >each.out &&
	test $(wc -l <each.out) = 3 &&
	test_grep "\"content\":\"dml.note\"" each.out &&
	test "$(sed -n 2p each.out | field content -)" = dml.job &&
	test "$(sed -n 2p each.out | field name -)" = recs.json &&
	echo "{\"n\":1,\"type\":\"dml.note\",\"v\":1}" >l1 &&
	test "$(sed -n 1p each.out | field size -)" = $(wc -c <l1) &&
	dml-ipfs-get --repo each "$(sed -n 1p each.out | field cid -)" >got &&
	test_cmp l1 got &&
	echo "{\"type\":\"dml.job\",\"v\":1,\"z\":[1,2]}" >l2 &&
	dml-ipfs-get --repo each "$(sed -n 2p each.out | field cid -)" >got &&
	test_cmp l2 got &&
	test "$(sed -n 1p each.out | field cid -)" = "$(dml-ipfs-put -n l1 | field cid -)"
'
test_expect_success '--each from standard input, with --only-hash and --name' '
	dml-ipfs-put --each -n --name listing --repo none <recs.json >e.out &&
	test ! -e none && test $(wc -l <e.out) = 3 &&
	test "$(sed -n 3p e.out | field name -)" = listing &&
	sed "s/\"name\":\"listing\"/\"name\":\"recs.json\"/" e.out >e2 &&
	test_cmp each.out e2
'
test_expect_success 'bad --each input: file:line errors, no output, nothing stored' '
	{ head -1 recs.json && echo "{\"type\":\"dml.note\","; } >m.json &&
	test_must_fail dml-ipfs-put --each --repo s1 m.json >out 2>err &&
	test_grep "m.json:2: malformed" err && test_empty out && test ! -e s1 &&
	{ cat recs.json && printf "{\"type\":\"dml.note\",\"v\":1}"; } >t.json &&
	test_must_fail dml-ipfs-put --each --repo s1 t.json >out 2>err &&
	test_grep "t.json:4: truncated" err && test_empty out && test ! -e s1 &&
	: >e.json && test_must_fail dml-ipfs-put --each --repo s1 e.json 2>err &&
	test_grep "e.json: empty input" err &&
	echo "{\"v\":1}" >nt.json && test_must_fail dml-ipfs-put --each --repo s1 nt.json 2>err &&
	test_grep "nt.json:1: missing field \"type\"" err &&
	test_expect_code 2 dml-ipfs-put --each --repo s1 recs.json nosuch.json >out 2>err &&
	test_grep "nosuch.json" err && test_empty out && test ! -e s1 &&
	test_must_fail dml-ipfs-put --each -o o.json --repo s1 recs.json m.json 2>err &&
	test ! -e o.json && test -z "$(ls o.json.tmp* 2>/dev/null)"
'
test_expect_success 'an unwritable blockstore is a system error (exit 2)' '
	if [ "$(id -u)" = 0 ]; then
		: >notadir && test_expect_code 2 dml-ipfs-put --repo notadir/x in.1 2>err
	else
		mkdir ro && chmod 500 ro &&
		test_expect_code 2 dml-ipfs-put --repo ro/x in.1 2>err
	fi &&
	test_grep "cannot make the blockstore" err
'
test_done
