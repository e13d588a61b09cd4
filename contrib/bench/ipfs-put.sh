#!/bin/sh
# ipfs-put.sh: dml-ipfs-put against npm's ipfs-unixfs-importer computing
# the same CID (ipfs add --cid-version=1 --raw-leaves) of the same 1 GiB
# file, in the same run; best of 3 wall-clock seconds of each whole
# command (node's start-up included, as dml's is).
#
#   contrib/bench/ipfs-put.sh      (about a minute; the first run also
#                                   makes the 1 GiB input and installs the
#                                   importer from npm, about 5 s)
#
# Pairs that do the same work:
#   dml-ipfs-put --only-hash  vs  importer into a discarding blockstore
#                                 (blockstore-core's BlackHoleBlockstore)
#   dml-ipfs-put into a fresh blockstore directory (blocks written to
#     files, one syncfs at the end; and with --no-sync)
#                             vs  importer into blockstore-core's
#                                 MemoryBlockstore (blocks kept in memory)
#                                 and into blockstore-fs's FsBlockstore
#                                 (a file per block, not synced)
# and, for scale, cp of the same file: writing 1 GiB into the page cache
# is most of what storing costs, and it varies a lot between machines.
# Inputs and the importer live under contrib/bench/work/ (gitignored).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work/ipfs
IMPORTER=ipfs-unixfs-importer@17.1.1
BLOCKSTORE=blockstore-core@7.0.1
FSSTORE=blockstore-fs@4.0.1

make -C "$top" -s lib/libdml.a bin/dml-ipfs-put
put=$top/bin/dml-ipfs-put
mkdir -p "$work"
cd "$work"
if [ ! -f 1g.bin ]; then
	echo "making a 1 GiB random input (once) ..."
	head -c 1073741824 /dev/urandom >1g.tmp && mv 1g.tmp 1g.bin
fi
if [ ! -d node_modules/ipfs-unixfs-importer ] || [ ! -d node_modules/blockstore-core ] ||
	[ ! -d node_modules/blockstore-fs ]; then
	echo "npm install $IMPORTER $BLOCKSTORE $FSSTORE (once) ..."
	[ -f package.json ] || echo '{"private":true}' >package.json
	npm install --no-save --no-package-lock --no-audit --no-fund \
		--loglevel=error "$IMPORTER" "$BLOCKSTORE" "$FSSTORE" >npm.log 2>&1 ||
		{ tail -20 npm.log >&2; exit 1; }
	rm -f npm.log
fi
cp "$here/ipfs-put.mjs" .

# wall-clock seconds of a command line (evaluated), its stdout in out.$i;
# then, untimed, sync: no run pays for the writeback of the one before
time1() {
	eval "/usr/bin/time -f %e -o time.out $1" >out.$i
	sync
	tail -1 time.out
}
min() { echo "$1 ${2:-$1}" | awk '{print ($1 < $2) ? $1 : $2}'; }
# best of 3 ($i is the try, 1 to 3)
best3() {
	best=
	for i in 1 2 3; do
		best=$(min "$(time1 "$1")" "$best")
	done
	echo "$best"
}
cidof() { sed -n 's/.*"cid":"\([^"]*\)".*/\1/p' "$1"; }

bytes=$(wc -c <1g.bin)
cat 1g.bin >/dev/null		# the page cache holds it for everyone
echo "input: 1 GiB of random bytes; $(nproc) CPUs; node $(node --version)"
rm -rf repo.*
# a new blockstore per try, deleted only after all: deleting thousands of
# files just before a run slows ext4's inode allocation in the next one
t_hash=$(best3 '"$put" --only-hash 1g.bin')
c_dml=$(cidof out.1)
# each kind of run in turn, a new blockstore each time, all deleted only
# at the end: deleting thousands of files just before a run slows ext4's
# inode allocation in the next one for a minute
t_put='' t_nosync='' t_fs='' t_cp=''
for i in 1 2 3; do
	t_put=$(min "$(time1 '"$put" --repo repo.sync.$i 1g.bin')" "$t_put")
	c_put=$(cidof out.$i)
	t_nosync=$(min "$(time1 '"$put" --no-sync --repo repo.nosync.$i 1g.bin')" "$t_nosync")
	t_fs=$(min "$(time1 'node ipfs-put.mjs 1g.bin fs:repo.fs.$i')" "$t_fs")
	c_fs=$(cut -d' ' -f1 out.$i)
	# the floor: the same bytes written as one file, no hashing
	t_cp=$(min "$(time1 'cp 1g.bin repo.cp.$i')" "$t_cp")
done
rm -rf repo.*
t_discard=$(best3 'node ipfs-put.mjs 1g.bin discard')
c_imp=$(cut -d' ' -f1 out.1)
t_memory=$(best3 'node ipfs-put.mjs 1g.bin memory')

if [ "$c_dml" != "$c_imp" ] || [ "$c_put" != "$c_imp" ] || [ "$c_fs" != "$c_imp" ]; then
	echo "CIDs differ: dml $c_dml / $c_put, importer $c_imp / $c_fs" >&2
	exit 1
fi
echo "CID (both): $c_dml"
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%6.0f MB/s", b / 1e6 / t }'; }
row() { printf '%-46s %6.2f s  %s\n' "$1" "$2" "$(rate "$2")"; }
row "dml-ipfs-put --only-hash" "$t_hash"
row "ipfs-unixfs-importer, discarding blockstore" "$t_discard"
row "dml-ipfs-put, fresh blockstore, synced" "$t_put"
row "dml-ipfs-put --no-sync, fresh blockstore" "$t_nosync"
row "ipfs-unixfs-importer, memory blockstore" "$t_memory"
row "ipfs-unixfs-importer, blockstore-fs" "$t_fs"
row "(cp of the file: the machine's write floor)" "$t_cp"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r >= 3) ? "PASS" : "FAIL" }'; }
r1=$(ratio "$t_hash" "$t_discard")
r2=$(ratio "$t_nosync" "$t_memory")
r3=$(ratio "$t_nosync" "$t_fs")
r4=$(ratio "$t_put" "$t_fs")
echo "speed-up, CID only (--only-hash vs discarding importer): ${r1}x (goal >= 3x: $(verdict "$r1"))"
echo "speed-up, storing blocks (--no-sync vs memory importer): ${r2}x (goal >= 3x: $(verdict "$r2"))"
echo "speed-up, block files (--no-sync vs importer on blockstore-fs): ${r3}x"
echo "speed-up, block files, synced (vs blockstore-fs, not synced): ${r4}x"
rm -f out.[123] time.out
