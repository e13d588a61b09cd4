#!/bin/sh
# secagg.sh: the costs of secure aggregation, one core each.
#   1. in process (secagg_bench node): the federated node's unmasking of
#      500 devices' 100,000-value updates with 10% dropped after sharing
#      (full graph, and SecAgg+ with k = 4 ceil(log2 n) neighbours),
#      checked to give the inputs' sum exactly. Bonawitz et al. (2017)
#      report about a minute for this in Java; the target here is 4 s.
#   2. in process (secagg_bench device): one device's work in a round of
#      500 and of 5,000 devices, full graph and k neighbours.
#   3. with the programs (FULL=0 skips; a few minutes on two cores): a
#      whole round of N=500 devices with P=100,000 parameters and 10%
#      dropping before masking, every step through dml-encrypt and
#      dml-aggregate; each node step's wall and CPU time and peak memory.
# CPU times are of the process (getrusage), so other load on the machine
# inflates them less than wall times.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work/secagg
PKGS=$("$top/contrib/install-deps" --pkg-config)
N=${N:-500} P=${P:-100000} FULL=${FULL:-1} INPROC=${INPROC:-1}

make -C "$top" -s lib/libdml.a bin/dml-keygen bin/dml-encrypt \
	bin/dml-aggregate tests/helpers/mkresults tests/helpers/rec-sign
mkdir -p "$work"
cd "$work"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 $(for d in "$top"/lib/*/; do printf -- "-I%s " "$d"; done) \
	$(pkg-config --cflags $PKGS) -o secagg_bench "$here/secagg_bench.c" \
	"$top/lib/libdml.a" $(pkg-config --libs $PKGS) -lpthread -lm

k500=36 k5000=52	# 4 ceil(log2 n)
[ "$INPROC" = 1 ] && {
echo "# node unmasking, in process: 500 devices, 100000 values, 10% dropped"
./secagg_bench node 500 100000 0.1 2>/dev/null | sed 's/^/full /'
./secagg_bench node 500 100000 0.1 $k500 2>/dev/null | sed "s/^/k$k500 /"
echo "# one device's round (share + key agreement + mask), in process"
for n in 500 5000; do
	eval k=\$k$n
	./secagg_bench device $n 100000 2>/dev/null | sed "s/^/full /"
	./secagg_bench device $n 100000 $k 2>/dev/null | sed "s/^/k$k /"
done
}

[ "$FULL" = 1 ] || exit 0
echo "# a whole round with the programs: $N devices, $P values, 10% drop before masking"
bin=$top/bin
PATH=$bin:$PATH
export PATH
rm -rf cli && mkdir -p cli/d && cd cli
"$top/tests/helpers/mkresults" job -o job --params "$P" >/dev/null
"$top/tests/helpers/mkresults" bench -j job -n 1 --round 0 >tmpl
/usr/bin/python3 - "$P" <<'EOF' >unsigned
import base64, json, sys
import numpy as np
t = json.loads(open("tmpl").readline())
p = int(sys.argv[1])
d = (np.random.default_rng(1).standard_normal(p) * 20).astype("<f4")
t["values"] = {"delta": {"dtype": "f32", "shape": [p],
                         "data": base64.b64encode(d.tobytes()).decode()}}
t["n"] = t["weight"] = 100
del t["from"], t["sig"]
print(json.dumps(t, sort_keys=True, separators=(",", ":")))
EOF
dml-keygen --seed b --name node -o node.key >node.pub
seq "$N" | xargs -P 2 -I{} sh -c '
	dml-keygen --seed b --name d{} -o d/{}.key >d/{}.pub &&
	"$1" d/{}.key unsigned >d/{}.res &&
	dml-encrypt --scheme secagg --step advertise --state d/{}.st -k d/{}.key \
		--seed 1 -o d/{}.keys d/{}.res' sh "$top/tests/helpers/rec-sign"
# timed NAME CMD...: wall s, user+sys CPU s, peak RSS MB of a node step
timed() {
	name=$1
	shift
	/usr/bin/time -f "$name %e s wall, %U+%S s CPU, %M kB" "$@" 2>>times
}
# the node's step, as a script so /usr/bin/time can run it
cat >nodestep <<'EOF2'
#!/bin/sh
s=$1
shift
exec dml-aggregate --scheme secagg --step "$s" --state node.st -j job -k node.key "$@"
EOF2
chmod +x nodestep
: >times
cat d/*.keys >keys.all
timed collect-keys ./nodestep collect-keys -o roster keys.all
timed "device 1 share" dml-encrypt --scheme secagg --step share \
	--state d/1.st -k d/1.key -r node.pub -o d/1.shares roster
seq 2 "$N" | xargs -P 2 -I{} dml-encrypt --scheme secagg --step share \
	--state d/{}.st -k d/{}.key -r node.pub -o d/{}.shares roster
cat d/*.shares >shares.all
timed route-shares ./nodestep route-shares -o inbox shares.all
# 10% drop before masking: every tenth device
seq "$N" | awk 'NR % 10 != 0' >alive
for i in $(cat alive); do
	echo "\"key\":\"$(sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' d/$i.pub)\" $i"
done | awk 'NR == FNR { want[$1] = $2; next }
	{ if (match($0, /"key":"[0-9a-f]*"/)) {
		k = substr($0, RSTART, RLENGTH)
		if (k in want) print > ("d/" want[k] ".inbox") } }' - inbox
timed "device 1 mask" dml-encrypt --scheme secagg --step mask --state d/1.st \
	-k d/1.key -r node.pub -o d/1.masked d/1.inbox d/1.res
tail -n +2 alive | xargs -P 2 -I{} dml-encrypt --scheme secagg --step mask \
	--state d/{}.st -k d/{}.key -r node.pub -o d/{}.masked d/{}.inbox d/{}.res
cat $(sed 's|.*|d/&.masked|' alive) >masked.all
timed collect-masked ./nodestep collect-masked -o request masked.all
xargs -P 2 -I{} dml-encrypt --scheme secagg --step unmask --state d/{}.st \
	-k d/{}.key -r node.pub -o d/{}.unmask request <alive
cat $(sed 's|.*|d/&.unmask|' alive) >unmask.all
timed unmask ./nodestep unmask -o aggregate unmask.all
cat times
echo "unmask answers: $(wc -c <unmask.all) bytes; masked inputs: $(wc -c <masked.all) bytes"
grep -o '"secagg":{[^}]*}' aggregate
grep -o '"devices":[0-9]*' aggregate
