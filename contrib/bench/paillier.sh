#!/bin/sh
# paillier.sh: Paillier in dml against textbook Paillier (one value a
# ciphertext, c = (1 + m n) r^n mod n^2, as FATE and python-paillier do),
# in the same run on the same GMP, one core each:
#   - encryption and decryption, values per second (paillier_bench speed),
#     in the job's default layout (14 fractional bits, 14 integer bits,
#     256 summands: 37-bit slots, 55 values a ciphertext)
#   - dml-encrypt --scheme paillier of one 200,000-parameter update
#   - dml-aggregate of 100 such encrypted updates (signatures verified)
#   - dml-encrypt -d --paillier-key of their aggregate (200,000 values)
#   - bytes sent per value
# Decryption is two mpz_powm_sec of 1024-bit exponents mod p^2 and q^2
# (about 1 ms each here) whatever a ciphertext holds, so its values per
# second are the slots a ciphertext packs over about 2 ms.
#
#   contrib/bench/paillier.sh      (the first run also makes the inputs:
#                                   100 encrypted updates, ~270 MB, about
#                                   a minute on two cores)
# Inputs are cached under contrib/bench/work/paillier/ (gitignored).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$here/work/paillier
PKGS=$("$top/contrib/install-deps" --pkg-config)
bin=$top/bin
LAYOUT="--frac-bits 14 --int-bits 14 --max-summands 256"	# the default

make -C "$top" -s lib/libdml.a bin/dml-keygen bin/dml-job bin/dml-encrypt \
	bin/dml-aggregate bin/dml-refine
mkdir -p "$work"
cd "$work"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 $(for d in "$top"/lib/*/; do printf -- "-I%s " "$d"; done) \
	$(pkg-config --cflags $PKGS) -o paillier_bench "$here/paillier_bench.c" \
	"$top/lib/libdml.a" $(pkg-config --libs $PKGS) -lpthread -lm

. "$here/lib.sh"	# best, verdict
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }

echo "one core; 2048-bit keys (112-bit security)"
./paillier_bench speed 3 14 14 256 >speed.txt
f=speed.txt
tenc=$(field textbook_enc_values_per_s $f) tdec=$(field textbook_dec_values_per_s $f)
printf '%-46s %9.1f values/s  (%s us a ciphertext)\n' "encryption, textbook r^n mod n^2" "$tenc" "$(field textbook_enc_ct_us $f)"
printf '%-46s %9.1f values/s  (%s us a ciphertext)\n' "decryption, textbook (CRT, one value each)" "$tdec" "$(field textbook_dec_ct_us $f)"
enc=$(field enc_values_per_s $f) dec=$(field dec_values_per_s $f)
k=$(field slots $f) w=$(field width $f)
echo "dml, the default layout: $k values a ciphertext ($w-bit slots)"
printf '  %-44s %9.0f values/s  (%s us a ciphertext)\n' "encryption (fixed base, 224-bit exponent)" "$enc" "$(field enc_ct_us $f)"
echo "    $(ratio "$enc" "$tenc")x textbook per value (goal >= 350x and >= 50,000 values/s: $(verdict "$enc >= 50000 && $enc / $tenc >= 350"))"
printf '  %-44s %9.0f values/s  (%s us a ciphertext)\n' "decryption (CRT, mpz_powm_sec)" "$dec" "$(field dec_ct_us $f)"
echo "    $(ratio "$dec" "$tdec")x textbook per value (goal >= 25,000 values/s: $(verdict "$dec >= 25000"))"

# inputs, made once: a train job of 200,000 parameters encrypted to a
# Paillier key, 100 device updates, clear and encrypted
if [ "$(cat stamp 2>/dev/null)" != "$LAYOUT" ]; then
	echo "making inputs (once) ..."
	rm -rf in enc ./*.key ./*.pkey stamp
	mkdir -p in enc
	"$bin/dml-keygen" -o cust.key >/dev/null
	"$bin/dml-keygen" -o node.key >/dev/null
	"$bin/dml-keygen" --paillier --seed bench -o cust.pkey >cust.ppub
	"$bin/dml-refine" --init 1999,100 --arch softmax --seed 1 -o model.json
	"$bin/dml-job" -k cust.key -t train --data bench -m model.json \
		--paillier-key cust.ppub $LAYOUT --created 2026-01-01T00:00:00Z \
		--nonce bench -o job.json
	./paillier_bench results -j job.json -n 100 -d in
	seq 0 99 | xargs -P "$(nproc)" -I{} "$bin/dml-encrypt" --scheme paillier \
		-j job.json -k in/dev-{}.key -o enc/enc-{}.ndjson in/res-{}.ndjson
	for i in $(seq 0 99); do cat enc/enc-$i.ndjson; done >enc-100.ndjson
	echo "$LAYOUT" >stamp
fi
params=200000
echo "a training job of $params parameters in the default layout"
t_enc=$(best 3 "$bin/dml-encrypt" --scheme paillier -j job.json -k in/dev-0.key in/res-0.ndjson)
echo "dml-encrypt --scheme paillier, one update: $t_enc s (goal < 4 s: $(verdict "$t_enc < 4"))"
mb=$(awk -v b="$(wc -c <enc-100.ndjson)" 'BEGIN { printf "%.0f", b / 1e6 }')
"$bin/dml-aggregate" -j job.json -k node.key enc-100.ndjson >agg.ndjson
t_agg=$(best 3 "$bin/dml-aggregate" -j job.json -k node.key enc-100.ndjson)
echo "dml-aggregate, 100 encrypted updates ($mb MB, signatures verified): $t_agg s (goal < 10 s: $(verdict "$t_agg < 10"))"
"$bin/dml-encrypt" -d -k cust.key --paillier-key cust.pkey -j job.json -o agg.dec agg.ndjson
t_dec=$(best 2 "$bin/dml-encrypt" -d -k cust.key --paillier-key cust.pkey -j job.json agg.ndjson)
echo "dml-encrypt -d --paillier-key, the aggregate ($params values): $t_dec s, $(awk -v t="$t_dec" -v n=$params 'BEGIN { printf "%.0f", n / t }') values/s"
# the decrypted sum must be the exact sum of the updates' fixed-point values
/usr/bin/python3 - <<'P'
import base64, json
import numpy as np
tot = None
for i in range(100):
    r = json.loads(open("in/res-%d.ndjson" % i).readline())
    a = np.frombuffer(base64.b64decode(r["values"]["delta"]["data"]), "<f4").astype(np.float64)
    a = np.sign(a) * np.floor(np.abs(a) * 16384 + 0.5)	# ties away from zero
    tot = a if tot is None else tot + a
d = json.loads(open("agg.dec").readline())
got = np.frombuffer(base64.b64decode(d["sum"]["delta"]["data"]), "<f8") * 16384
print("the decrypted sum of the 100 updates is the exact sum of their fixed-point values: %s"
      % ("yes" if np.array_equal(got, tot) else "NO (max error %g)" % np.abs(got - tot).max()))
P
clear=$(wc -c <in/res-0.ndjson) encb=$(wc -c <enc/enc-0.ndjson)
ctb=$(field ct_bytes speed.txt) slots=$(field slots speed.txt)
echo "bytes sent per value (one update of $params parameters):"
awk -v c="$clear" -v e="$encb" -v b="$ctb" -v k="$slots" -v p=$params 'BEGIN {
	printf "  dml clear f32 result record                 %8.2f\n", c / p
	printf "  dml Paillier result record (JSON, base64)   %8.2f  (%.1fx the clear record)\n", e / p, e / c
	printf "  dml Paillier ciphertexts, raw binary        %8.2f  (%d bytes / %d values)\n", b / k, b, k
	printf "  textbook, a ciphertext a value, raw binary  %8.2f\n", b
	printf "  textbook, as a decimal string               %8.2f  (a 4096-bit number has\n", 1236
	printf "    about 1233 digits; with quotes and a comma, as a JSON list of Python ints)\n"
	printf "  dml record vs textbook: %.0fx fewer bytes than binary, %.0fx fewer than decimal\n", b / (e / p), 1236 / (e / p)
}'
rm -f time.out
