#!/bin/sh
# distribute.sh: dml-distribute on a registry of 1,000,000 devices: wall
# time (target: under 5 s) and peak memory, and peak memory at 100,000
# devices to show it does not grow with the registry, only with the
# devices selected.
#
#   contrib/bench/distribute.sh        (about half a minute; the first run
#                                       also writes the registries, 333 MB
#                                       and 33 MB, under contrib/bench/work)
#
# The registries are made by gen_registry.c: 5% of the devices consent to
# fashion-mnist, the job's data type, and carry real keys and signatures
# (the only devices dml-distribute ever verifies one by one); the others
# carry random bytes where their key and signature go, which the
# snapshot's hash covers like any other line. The job asks for ram_gb >= 12
# and os = ios, so about 0.8% of the devices are selected; each of them is
# verified, spread over four nodes (three with a region), and gets the
# algorithm's key sealed to it and a signed dml.assignment.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work/distribute
PKGS=$("$top/contrib/install-deps" --pkg-config)
bin=$top/bin
export OPENBLAS_NUM_THREADS=1	# dml-distribute does no linear algebra

make -C "$top" -s lib/libdml.a bin/dml-keygen bin/dml-job bin/dml-distribute \
	bin/dml-refine
mkdir -p "$work"
cd "$work"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 $(for d in "$top"/lib/*/; do printf -- "-I%s " "$d"; done) \
	$(pkg-config --cflags $PKGS) -o gen_registry "$here/gen_registry.c" \
	"$top/lib/libdml.a" $(pkg-config --libs $PKGS) -lpthread -lm

if [ ! -f stamp ]; then
	echo "making the registries (once) ..."
	rm -f ./*.key ./*.pub
	for w in dist n1 n2 n3 n4 cust; do
		"$bin/dml-keygen" --seed bench --name "$w" -o "$w.key" >"$w.pub"
	done
	"$bin/dml-refine" --init 784,10 --seed 1 -o model.json
	./gen_registry 1000000 dist.key reg-1000000.ndjson
	./gen_registry 100000 dist.key reg-100000.ndjson
	touch stamp
fi
"$bin/dml-job" -k cust.key -t predict --data fashion-mnist -m model.json \
	-c 'ram_gb >= 12' -c 'os = ios' --min-devices 1 --budget 0 \
	--created 2026-01-01T00:00:00Z --nonce bench -o job.json
# the command, word-split on purpose (no spaces in its words)
DIST="$bin/dml-distribute -j job.json -k dist.key --node n1.pub=eu
	--node n2.pub=na --node n3.pub=asia --node n4.pub -m model.json
	-A alg.sealed"

. "$here/lib.sh"	# best3, peak, verdict

echo "registry of 1,000,000 devices, $(du -m reg-1000000.ndjson | cut -f1) MB; one core"
$DIST -v reg-1000000.ndjson 2>counts.txt >assign.ndjson
sed 's/^dml-distribute: /  /' counts.txt
sel=$(wc -l <assign.ndjson)
t=$(best3 $DIST reg-1000000.ndjson)
printf '%-52s %6s s   (target < 5 s: %s)\n' "dml-distribute, 1,000,000 devices, $sel selected" \
	"$t" "$(verdict "$t < 5")"
m1=$(peak $DIST reg-1000000.ndjson)
sel1=$($DIST reg-100000.ndjson | wc -l)
m2=$(peak $DIST reg-100000.ndjson)
t2=$(best3 $DIST reg-100000.ndjson)
printf '%-52s %6s s\n' "dml-distribute, 100,000 devices, $sel1 selected" "$t2"
printf '%-52s %6s MB\n' "peak RSS, 1,000,000 devices ($sel selected)" \
	"$(awk -v k="$m1" 'BEGIN { printf "%.1f", k / 1024 }')"
printf '%-52s %6s MB\n' "peak RSS, 100,000 devices ($sel1 selected)" \
	"$(awk -v k="$m2" 'BEGIN { printf "%.1f", k / 1024 }')"
# the same number selected from both: memory is then the same
m3=$(peak $DIST --max 500 reg-1000000.ndjson)
m4=$(peak $DIST --max 500 reg-100000.ndjson)
printf '%-52s %6s MB\n' "peak RSS, 1,000,000 devices, --max 500" \
	"$(awk -v k="$m3" 'BEGIN { printf "%.1f", k / 1024 }')"
printf '%-52s %6s MB\n' "peak RSS, 100,000 devices, --max 500" \
	"$(awk -v k="$m4" 'BEGIN { printf "%.1f", k / 1024 }')"
printf '%-52s %s\n' "memory independent of the registry's size" \
	"$(verdict "$m3 < 1.2 * $m4")"
