#!/bin/sh
# aggregate.sh: dml-aggregate against a Python json+base64+numpy loop
# summing the same file, in the same run; and dml-aggregate's peak memory
# as the number of results grows.
#
#   contrib/bench/aggregate.sh            (about a minute; the first run
#                                          also writes ~2.2 GB of inputs)
#   FULL10K=0 contrib/bench/aggregate.sh  skips streaming 10,000 full-size
#                                          results (10.7 GB, made on the
#                                          fly, not stored) through a pipe
#                                          for the memory figure (~1 min)
#
# Inputs are cached under contrib/bench/work/ (gitignored): 1,000 signed
# train results of 200,000 f32 parameters (1.07 GB) and 10,000 of 20,000.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work
PY=/usr/bin/python3

make -C "$top" -s lib/libdml.a bin/dml-aggregate bin/dml-keygen \
	tests/helpers/mkresults
mkdir -p "$work"
cd "$work"
ln -sf "$top/tests/helpers/mkresults" mkresults
agg="$top/bin/dml-aggregate"

# inputs, made once: a job and results signed for it belong together
if [ ! -f stamp ]; then
	echo "making inputs (once) ..."
	rm -f node.key
	"$top/bin/dml-keygen" -o node.key >/dev/null
	./mkresults job -o job.train --params 200000
	./mkresults bench -j job.train -n 1000 -o results-1000.ndjson
	./mkresults job -o job.small --params 20000
	./mkresults bench -j job.small -n 10000 -o results-small-10000.ndjson
	touch stamp
fi
head -10 results-1000.ndjson >results-10.ndjson
head -10 results-small-10000.ndjson >results-small-10.ndjson

. "$here/lib.sh"	# best3, peak

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }'; }

file=results-1000.ndjson
bytes=$(wc -c <$file)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
cat $file >/dev/null		# warm the page cache for everyone
echo "input: 1000 dml.result records of 200000 f32 parameters, $mb MB"
"$agg" -j job.train -k node.key $file >out.agg
t_agg=$(best3 "$agg" -j job.train -k node.key $file)
t_nov=$(best3 "$agg" -j job.train -k node.key --no-verify $file)
t_py=$(best3 $PY "$here/aggregate_numpy.py" $file)
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%6.0f MB/s", b / 1e6 / t }'; }
printf '%-34s %6.2f s  %s\n' "dml-aggregate (verifies)" "$t_agg" "$(rate $t_agg)"
printf '%-34s %6.2f s  %s\n' "dml-aggregate --no-verify" "$t_nov" "$(rate $t_nov)"
printf '%-34s %6.2f s  %s\n' "python3 json+base64+numpy loop" "$t_py" "$(rate $t_py)"
ratio=$(awk -v a="$t_agg" -v p="$t_py" 'BEGIN { printf "%.2f", p / a }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 2) ? "PASS" : "FAIL" }')
echo "speed-up over python (verifying every signature): ${ratio}x (goal >= 2x: $verdict)"
$PY "$here/aggregate_numpy.py" $file --check out.agg

echo "peak RSS (/usr/bin/time -v):"
r10=$(peak "$agg" -j job.train -k node.key results-10.ndjson)
r1k=$(peak "$agg" -j job.train -k node.key $file)
echo "  200000 params:    10 results $r10 KB,  1000 results $r1k KB ($(pct $r10 $r1k))"
s10=$(peak "$agg" -j job.small -k node.key results-small-10.ndjson)
s10k=$(peak "$agg" -j job.small -k node.key results-small-10000.ndjson)
echo "   20000 params:    10 results $s10 KB, 10000 results $s10k KB ($(pct $s10 $s10k)) (a small model: 36 bytes per device weigh more)"
if [ "${FULL10K:-1}" = 1 ]; then
	piped() {
		./mkresults bench -j job.train -n "$1" --same |
			/usr/bin/time -v "$agg" -j job.train -k node.key \
			>/dev/null 2>time.v
		sed -n 's/.*Maximum resident set size (kbytes): //p' time.v
	}
	f10=$(piped 10)
	f10k=$(piped 10000)
	echo "  200000 params:    10 results $f10 KB, 10000 results $f10k KB ($(pct $f10 $f10k)), both piped"
fi
rm -f time.out time.v
