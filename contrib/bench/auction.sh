#!/bin/sh
# auction.sh: dml-auction on 100,000 waiting jobs (N=...): the time to
# order them (dml.slot records, and the jobs themselves with --jobs), the
# time to suggest a price, the part of it spent reading the ledger alone,
# and the peak memory. Best of 3 each, wall-clock and CPU seconds.
#
#   contrib/bench/auction.sh          (about a minute with the inputs)
#   N=10000 contrib/bench/auction.sh
#
# Inputs, made once under contrib/bench/work/auction/ by tests/helpers/
# mkjobs: N signed stats jobs with bids of 0..999 tokens, 1..50 devices
# and creation times spread over a day, and a ledger holding a genesis and
# one escrow per job.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${N:-100000}
work=$here/work/auction
make -C "$top" -s bin/dml-auction bin/dml-keygen tests/helpers/mkjobs
mkdir -p "$work"
cd "$work"
auc="$top/bin/dml-auction"

if [ ! -f stamp-$N ]; then
	echo "making $N jobs and their escrows (once) ..."
	rm -f cust.key auth.key
	"$top/bin/dml-keygen" -o cust.key >/dev/null
	"$top/bin/dml-keygen" -o auth.key >/dev/null
	/usr/bin/time -f "  made in %e s" "$top/tests/helpers/mkjobs" "$N" \
		cust.key auth.key jobs-$N.ndjson ledger-$N.ndjson
	touch stamp-$N
fi

# best of 3: wall-clock seconds, and CPU seconds (user + system), which a
# machine shared with other work disturbs less
best3() {
	best= cpu=
	for i in 1 2 3; do
		/usr/bin/time -f "%e %U %S" -o time.out "$@" >/dev/null
		t=$(tail -1 time.out | cut -d" " -f1)
		c=$(tail -1 time.out | awk '{ printf "%.2f", $2 + $3 }')
		best=$(echo "$t ${best:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
		cpu=$(echo "$c ${cpu:-$c}" | awk '{print ($1 < $2) ? $1 : $2}')
	done
	echo "$best s wall, $cpu s CPU"
}
peak() {
	/usr/bin/time -v "$@" >/dev/null 2>time.v
	sed -n 's/.*Maximum resident set size (kbytes): //p' time.v
}

A="--capacity 1000 -L ledger-$N.ndjson --time 2026-06-01T00:00:00Z"
echo "dml-auction, $N waiting jobs ($(du -m jobs-$N.ndjson | cut -f1) MB), their escrows in a ledger of $(du -m ledger-$N.ndjson | cut -f1) MB, capacity 1000:"
echo "  load average before: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores"
echo "  order (dml.slot records):  $(best3 "$auc" $A jobs-$N.ndjson)"
echo "  order (--jobs, the jobs):  $(best3 "$auc" $A --jobs jobs-$N.ndjson)"
echo "  suggest (--suggest):       $(best3 "$auc" $A --suggest jobs-$N.ndjson)"
echo "  reading the ledger alone (no jobs): $(best3 "$auc" $A /dev/null)"
echo "  peak memory (order):       $(peak "$auc" $A jobs-$N.ndjson) KB"
"$auc" $A --suggest jobs-$N.ndjson | sed 's/^/  /'
