#!/bin/sh
# settle.sh: dml-settle of one job with 100,000 contributing devices: the
# wall-clock time (goal: under 2 s), the size of the one ledger entry it
# appends, and what reading that ledger back costs (balance, verify).
#
#   contrib/bench/settle.sh           (about 15 s, most of it making inputs)
#   DEVICES=10000 contrib/bench/settle.sh
#
# Each timed run settles its own job on its own copy of the same ledger
# (genesis + three escrows), so the runs are alike; the figure is the best
# of three. Inputs live under contrib/bench/work/settle (gitignored).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work/settle
N=${DEVICES:-100000}

make -C "$top" -s lib/libdml.a bin/dml-ledger bin/dml-settle bin/dml-keygen \
	bin/dml-job tests/helpers/rec-sign
PATH=$top/bin:$PATH
rm -rf "$work"
mkdir -p "$work"
cd "$work"

hex() { sed -n 's/.*"key":"\([0-9a-f]*\)".*/\1/p' "$1"; }
for k in auth cust rep fed dev; do dml-keygen -o $k.key >$k.pub; done
L=base.nd
dml-ledger -L $L --time 2026-01-01T00:00:00Z genesis -k auth.key \
	--supply 1000000000000 --growth-pool 0 --bounty-pool 0 \
	--alloc cust.pub=100000000000 >/dev/null
echo '{"type":"dml.stored","v":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0,"name":"report.json"}' >stored.json
for r in 1 2 3; do
	dml-job -k cust.key -t stats --data toy --features 4 --classes 3 \
		--min-devices $N --budget $((N * 10 + 1000)) --per-device 10 \
		--developer-fee 100 --node-fee 50 --created 2026-01-01T00:00:00Z \
		--deadline 2026-02-01T00:00:00Z --nonce bench$r -o job$r.json
	dml-ledger -L $L escrow -k cust.key --job job$r.json \
		--time 2026-01-01T00:0$r:00Z >/dev/null
	id=$(dml-job --id job$r.json)
	# devices 1..N; one federated node, the report node, a developer
	awk -v job="$id" -v n=$N -v rep=$(hex rep.pub) -v fed=$(hex fed.pub) \
	    -v dev=$(hex dev.pub) 'BEGIN {
		printf "{\"type\":\"dml.contributions\",\"v\":1,\"job\":\"%s\",", job
		printf "\"devices\":["
		for (i = 1; i <= n; i++)
			printf "%s\"%064x\"", (i > 1 ? "," : ""), i * 7919
		printf "],\"nodes\":{\"report\":\"%s\",", rep
		printf "\"federated\":[{\"key\":\"%s\",\"devices\":%d}]},", fed, n
		printf "\"developer\":\"%s\"}\n", dev
	}' | "$top/tests/helpers/rec-sign" rep.key >contrib$r.json
done
lines=$(wc -l <$L)
echo "input: $N devices; contributions $(wc -c <contrib1.json) bytes, signed"

best=
for r in 1 2 3; do
	cp $L run$r.nd
	cat job$r.json contrib$r.json >/dev/null	# warm the page cache
	/usr/bin/time -f %e -o time.out dml-settle -L run$r.nd -k rep.key \
		--job job$r.json --stored stored.json --contributions contrib$r.json \
		--time 2026-01-01T01:00:00Z >payouts$r.out
	t=$(tail -1 time.out)
	best=$(echo "$t ${best:-$t}" | awk '{ print ($1 < $2) ? $1 : $2 }')
	test $(wc -l <run$r.nd) = $((lines + 1)) || {
		echo "FAIL: the settle did not append exactly one entry"; exit 1; }
done
entry=$(tail -1 run1.nd | wc -c)
paid=$(head -1 payouts1.out | sed -n 's/.*"paid":"\([0-9]*\)".*/\1/p')
verdict=$(awk -v t="$best" 'BEGIN { print (t < 2) ? "PASS" : "FAIL" }')
printf '%-44s %6.2f s  (goal < 2 s: %s)\n' "dml-settle, $N devices (best of 3)" \
	"$best" "$verdict"
printf '%-44s %d bytes, one line, %s tokens paid\n' "the settle entry" \
	"$entry" "$paid"
/usr/bin/time -f %e -o time.out dml-ledger -L run1.nd balance >/dev/null
printf '%-44s %6.2f s\n' "dml-ledger balance (replay, all accounts)" \
	"$(tail -1 time.out)"
/usr/bin/time -f %e -o time.out dml-ledger -L run1.nd verify >/dev/null
printf '%-44s %6.2f s\n' "dml-ledger verify (signatures, canonical)" \
	"$(tail -1 time.out)"
rm -f time.out
