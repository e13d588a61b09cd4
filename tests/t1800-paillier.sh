#!/bin/sh
# Paillier end to end: keys, jobs, device encryption, homomorphic sums at
# the nodes, the encrypted report and its decryption by the customer, the
# summand limit, encrypted model evaluation, an independent implementation
# of the documented formats, and every bad input.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SIGN=$SRC_DIR/tests/helpers/rec-sign
export OPENBLAS_NUM_THREADS=1

dml-split --devices 4 --limit 400 --partition iid --consent-rate 1 --seed 3 -o devs >/dev/null
for d in devs/dev-*; do dml-keygen -o $d/key >$d/pub; done
for w in cust fed1 fed2 rep eve dev; do dml-keygen -o $w.key >$w.pub; done
dml-keygen --paillier --seed t1800 --name cust -o cust.pkey >cust.ppub
dml-keygen --paillier --seed eve -o eve.pkey >eve.ppub
/usr/bin/python3 - <<'P' >model.json
import base64, json, struct
p = [((i * 7919) % 1000 - 500) / 5000.0 for i in range(7850)]
t = {"dtype": "f32", "shape": [7850], "data": base64.b64encode(struct.pack("<7850f", *p)).decode()}
print(json.dumps({"type": "dml.model", "v": 1, "arch": "softmax", "act": "relu",
    "layers": [784, 10], "params": t}, sort_keys=True, separators=(",", ":")))
P
J="-k cust.key -t predict --data fashion-mnist -m model.json --created 2026-01-01T00:00:00Z --nonce p --min-devices 3"
dml-job $J --paillier-key cust.ppub -o job.json
dml-job $J -o plain.json
dml-job $J --paillier-key cust.ppub --max-summands 3 --nonce small -o small.json
dml-job $J --paillier-key eve.ppub --nonce eve -o evejob.json

# encrypt DEVICE JOB: the device's run, encrypted to the job's key
encrypt() {
	dml-run -j "$2" -k devs/$1/key -D devs/$1 -m model.json |
		dml-encrypt --scheme paillier -j "$2" -k devs/$1/key
}
# edit FILE PYTHON-EXPR: apply an expression to record r of each line
edit() {
	$PY -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    exec(sys.argv[2])
    print(json.dumps(r, sort_keys=True, separators=(",", ":")))' "$1" "$2"
}

# An implementation of dml-records(5) that shares no code with libdml:
#   pail.py dec SECRETKEY RECORD PATH   values of the tensor at PATH
#   pail.py enc PUBKEY JOB VALUES...    an unsigned dml.aggregate of the
#                                       job whose "sum" hist and prob
#                                       encrypt the values (10 + 10)
cat >pail.py <<'P'
import base64, hashlib, json, math, secrets, sys
def dec(sk, t):
    n, p, q, bits = int(sk["n"]), int(sk["p"]), int(sk["q"]), sk["bits"]
    n2, B = n * n, bits // 4
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    mu = pow(lam, -1, n)
    k, w, f = t["slots"], t["width"], t["frac_bits"]
    raw = base64.b64decode(t["data"], validate=True)
    assert len(raw) % B == 0
    out = []
    for j in range(len(raw) // B):
        c = int.from_bytes(raw[j * B:(j + 1) * B], "big")
        assert 0 < c < n2 and math.gcd(c, n) == 1
        m = (pow(c, lam, n2) - 1) // n * mu % n
        if 2 * m > n:
            m -= n
        for s in range(k):
            low = m & ((1 << w) - 1)
            if low >= 1 << (w - 1):
                low -= 1 << w
            out.append(low)
            m = (m - low) >> w
        assert m == 0
    size = math.prod(t["shape"])
    assert all(v == 0 for v in out[size:])
    return [v / 2 ** f for v in out[:size]]
def enc(pk, vals, k, w, f):
    n, hs = int(pk["n"]), int(pk["hs"])
    n2, B, data = n * n, pk["bits"] // 4, b""
    for j in range(0, len(vals), k):
        m = sum(round(v * 2 ** f) << (w * s) for s, v in enumerate(vals[j:j + k])) % n
        r = secrets.randbits(224)
        c = (1 + m * n) * pow(hs, r, n2) % n2
        data += c.to_bytes(B, "big")
    return {"dtype": "paillier", "kid": hashlib.sha256(str(n).encode()).hexdigest(),
            "shape": [len(vals)], "slots": k, "width": w, "frac_bits": f,
            "summands": 1, "data": base64.b64encode(data).decode()}
if sys.argv[1] == "dec":
    sk = json.load(open(sys.argv[2]))
    r = json.loads(open(sys.argv[3]).readline())
    t = r
    for key in sys.argv[4].split("."):
        t = t[key]
    print(" ".join("%.6f" % v for v in dec(sk, t)))
else:
    pk = json.load(open(sys.argv[2]))
    job = json.load(open(sys.argv[3]))
    e = job["encryption"]
    w = e["int_bits"] + e["frac_bits"] + math.ceil(math.log2(e["max_summands"])) + 1
    k = (pk["bits"] - 2) // w
    v = [float(x) for x in sys.argv[4:]]
    print(json.dumps({"type": "dml.aggregate", "v": 1, "job": open("jobid").read().strip(),
        "round": 0, "task": "predict", "n": 30, "weight": 30, "devices": 3, "results": 3,
        "members": ["%064x" % i for i in range(3)], "rejected": {},
        "sum": {"hist": enc(pk, v[:10], k, w, e["frac_bits"]),
                "prob": enc(pk, v[10:20], k, w, e["frac_bits"])}},
        sort_keys=True, separators=(",", ":")))
P

test_expect_success 'keygen --paillier: 0600, never overwritten, public record' '
	dml-keygen --help | test_grep "paillier" - &&
	test "$(stat -c %a cust.pkey)" = 600 &&
	test_grep "\"type\":\"dml.paillier.secretkey\"" cust.pkey &&
	test_grep "\"type\":\"dml.paillier.pubkey\"" cust.ppub &&
	test_grep "\"bits\":2048" cust.ppub && test_grep "\"name\":\"cust\"" cust.ppub &&
	! grep -q "\"p\":" cust.ppub &&
	test_expect_code 2 dml-keygen --paillier -o cust.pkey 2>err &&
	test_grep "File exists" err &&
	dml-keygen -p cust.pkey >pub2 && test_grep "$(sed "s/.*\"kid\":\"\([0-9a-f]*\)\".*/\1/" cust.ppub)" pub2
'
test_expect_success 'keygen --paillier: seeded keys repeat; bits; usage errors' '
	dml-keygen --paillier --seed t1800 --name cust -o again.pkey >again.ppub &&
	test_cmp cust.ppub again.ppub &&
	dml-keygen --paillier --bits 3072 -o big.pkey >big.ppub &&
	test_grep "\"bits\":3072" big.ppub &&
	test_expect_code 2 dml-keygen --paillier --bits 1024 -o x.pkey 2>err &&
	test_expect_code 2 dml-keygen --bits 3072 -o x.key 2>err &&
	test_grep "for --paillier" err && test ! -e x.key
'
test_expect_success 'dml-job --paillier-key: the job names the key and layout' '
	test_grep "\"encryption\":{\"frac_bits\":14,\"int_bits\":14,\"key\":{\"bits\":2048" job.json &&
	test_grep "\"max_summands\":256,\"scheme\":\"paillier\"}" job.json &&
	dml-job --id job.json >id && test_grep "^bafkrei" id &&
	test_expect_code 2 dml-job $J --frac-bits 8 -o x.json 2>err &&
	test_grep "need --paillier-key" err &&
	test_expect_code 2 dml-job $J --paillier-key cust.ppub --int-bits 40 --frac-bits 30 -o x.json 2>err &&
	test_grep "more than 63" err &&
	test_expect_code 2 dml-job $J --paillier-key nosuch -o x.json 2>err &&
	test_grep "nosuch" err && test ! -e x.json
'
test_expect_success 'a job with a broken Paillier key is refused by its readers' '
	edit job.json "r[\"encryption\"][\"key\"][\"kid\"] = \"0\" * 64" | $SIGN cust.key >badkid.json &&
	test_must_fail dml-job --id badkid.json 2>err &&
	test_grep "kid\" does not match n" err &&
	edit job.json "r[\"encryption\"][\"scheme\"] = \"rot13\"" | $SIGN cust.key >rot.json &&
	test_must_fail dml-job --id rot.json 2>err && test_grep "unknown scheme" err &&
	edit job.json "del r[\"encryption\"][\"max_summands\"]" | $SIGN cust.key >nos.json &&
	test_must_fail dml-job --id nos.json 2>err && test_grep "missing field \"max_summands\"" err
'
test_expect_success 'the device encrypts its result: counts clear, values not' '
	for d in dev-0001 dev-0002 dev-0003 dev-0004; do
		encrypt $d job.json >$d.enc || return 1
	done &&
	test_grep "\"type\":\"dml.result\"" dev-0001.enc &&
	test_grep "\"dtype\":\"paillier\"" dev-0001.enc &&
	test_grep "\"n\":100" dev-0001.enc &&
	! grep -q "\"dtype\":\"f64\"" dev-0001.enc &&
	dev=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" devs/dev-0001/pub) &&
	test_grep "\"from\":\"$dev\"" dev-0001.enc &&
	test_grep "\"slots\":55,\"summands\":1,\"width\":37" dev-0001.enc
'
test_expect_success 'an independent implementation decrypts the device values' '
	dml-run -j job.json -k devs/dev-0001/key -D devs/dev-0001 -m model.json >clear.json &&
	$PY -c "
import base64, json, struct
r = json.load(open(\"clear.json\"))
for k in (\"hist\", \"prob\"):
    v = struct.unpack(\"<10d\", base64.b64decode(r[\"values\"][k][\"data\"]))
    print(\" \".join(\"%.6f\" % (round(x * 16384) / 16384) for x in v))" >expect &&
	$PY pail.py dec cust.pkey dev-0001.enc values.hist >actual &&
	$PY pail.py dec cust.pkey dev-0001.enc values.prob >>actual &&
	test_cmp expect actual
'
test_expect_success 'dml-encrypt --scheme paillier: usage and refusals' '
	test_expect_code 2 dml-encrypt --scheme paillier -k dev.key clear.json 2>err &&
	test_grep "needs -j JOB" err &&
	test_expect_code 2 dml-encrypt -d --scheme paillier -k cust.key x 2>err &&
	test_expect_code 2 dml-encrypt -d --paillier-key cust.pkey -k cust.key x 2>err &&
	test_must_fail dml-encrypt --scheme paillier -j job.json -k dev.key clear.json >out 2>err &&
	test_grep "clear.json:1: the result is signed by another key" err && test_empty out &&
	test_must_fail dml-encrypt --scheme paillier -j plain.json -k devs/dev-0001/key clear.json 2>err &&
	test_grep "does not ask for Paillier" err &&
	edit clear.json "import base64,struct; r[\"values\"][\"prob\"][\"data\"] = base64.b64encode(struct.pack(\"<10d\", *([1e6] * 10))).decode()" |
		$SIGN devs/dev-0001/key >huge.json &&
	test_must_fail dml-encrypt --scheme paillier -j job.json -k devs/dev-0001/key huge.json 2>err &&
	test_grep "huge.json:1: value \"prob\": element 0 is 1000000" err &&
	dml-run -j plain.json -k devs/dev-0001/key -D devs/dev-0001 -m model.json >other.json &&
	test_must_fail dml-encrypt --scheme paillier -j job.json -k devs/dev-0001/key other.json 2>err &&
	test_grep "the result is for job" err
'
test_expect_success 'federated nodes multiply ciphertexts; the report node adds the nodes' '
	cat dev-0001.enc dev-0002.enc | dml-aggregate -j job.json -k fed1.key >fed1.agg &&
	cat dev-0003.enc dev-0004.enc | dml-aggregate -j job.json -k fed2.key >fed2.agg &&
	test_grep "\"summands\":2" fed1.agg && test_grep "\"devices\":2" fed1.agg &&
	test_grep "\"n\":200" fed1.agg &&
	cat fed1.agg fed2.agg | dml-aggregate -j job.json -k rep.key >top.agg &&
	test_grep "\"summands\":4" top.agg && test_grep "\"devices\":4" top.agg &&
	test_grep "\"n\":400" top.agg
'
test_expect_success 'the report node keeps the sums encrypted; min-devices still rules' '
	dml-report -j job.json -k rep.key --no-seal top.agg >enc.json &&
	test_grep "\"encryption\":\"paillier\"" enc.json &&
	test_grep "\"samples\":400" enc.json && ! grep -q distribution enc.json &&
	test_must_fail dml-report --render r enc.json 2>err &&
	test_grep "the report is encrypted" err &&
	dml-report -j job.json -k rep.key top.agg >rep.sealed &&
	test_must_fail dml-report -j job.json -k rep.key fed1.agg >out 2>err &&
	test_grep "dml.withheld" out
'
test_expect_success 'the customer decrypts: the report of the clear pipeline' '
	dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json rep.sealed >report.json &&
	for d in dev-0001 dev-0002 dev-0003 dev-0004; do
		dml-run -j plain.json -k devs/$d/key -D devs/$d -m model.json || return 1
	done >clear.all &&
	dml-aggregate -j plain.json -k rep.key clear.all |
		dml-report -j plain.json -k rep.key --no-seal >plainrep.json &&
	$PY -c "
import json
a = json.load(open(\"report.json\"))[\"result\"]
b = json.load(open(\"plainrep.json\"))[\"result\"]
assert a[\"counts\"] == b[\"counts\"] and a[\"distribution\"] == b[\"distribution\"], (a, b)
assert max(abs(x - y) for x, y in zip(a[\"mean_prob\"], b[\"mean_prob\"])) <= 2e-6, (a, b)
assert a[\"classes\"] == b[\"classes\"]" &&
	cust=$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" cust.pub) &&
	test_grep "\"from\":\"$cust\"" report.json &&
	test_grep "\"report_node\":" report.json &&
	dml-report --render rendered report.json &&
	test_grep "| Trouser |" rendered/report.md
'
test_expect_success 'decrypted reports are identical whatever the randomness' '
	for d in dev-0001 dev-0002 dev-0003 dev-0004; do
		encrypt $d job.json || return 1
	done | dml-aggregate -j job.json -k rep.key |
		dml-report -j job.json -k rep.key |
		dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json >report2.json &&
	! cmp -s dev-0001.enc report2.json && test_cmp report.json report2.json
'
test_expect_success 'an aggregate decrypts to f64 sums (for the customer only)' '
	dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json top.agg >dec.agg &&
	test_grep "\"dtype\":\"f64\"" dec.agg && test_grep "\"decrypted_from\":" dec.agg &&
	test_must_fail dml-aggregate -j job.json -k rep.key dec.agg 2>err &&
	test_grep "is in the clear" err
'
test_expect_success 'another Paillier key cannot decrypt; nor a forged report' '
	test_must_fail dml-encrypt -d -k cust.key --paillier-key eve.pkey -j job.json rep.sealed >out 2>err &&
	test_grep "is not the key given" err && test_empty out &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j evejob.json rep.sealed 2>err &&
	edit enc.json "r[\"devices\"] = 9" >forged.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json forged.json 2>err &&
	test_grep "forged.json:1: bad signature" err &&
	edit enc.json "r[\"devices\"] = 2" | $SIGN rep.key >few.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json few.json 2>err &&
	test_grep "below the job.s min_devices" err
'
test_expect_success 'an independent implementation encrypts what dml decrypts' '
	dml-job --id job.json >jobid &&
	$PY pail.py enc cust.ppub job.json 1 2 3 4 5 6 7 8 9 -10.5 0.25 0.5 0.75 1 1.25 1.5 1.75 2 2.25 2.5 >py.agg &&
	dml-encrypt -d --no-verify -k cust.key --paillier-key cust.pkey -j job.json py.agg >py.dec &&
	$PY -c "
import base64, json, struct
r = json.load(open(\"py.dec\"))
print(struct.unpack(\"<10d\", base64.b64decode(r[\"sum\"][\"hist\"][\"data\"])))
print(struct.unpack(\"<10d\", base64.b64decode(r[\"sum\"][\"prob\"][\"data\"])))" >actual &&
	printf "%s\n" "(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -10.5)" \
		"(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5)" >expect &&
	test_cmp expect actual
'
test_expect_success 'the summand limit: refused, never overflowed' '
	for d in dev-0001 dev-0002 dev-0003 dev-0004; do
		encrypt $d small.json >$d.small || return 1
	done &&
	cat dev-0001.small dev-0002.small dev-0003.small | dml-aggregate -j small.json -k fed1.key >three.agg &&
	test_grep "\"summands\":3" three.agg &&
	cat dev-0001.small dev-0002.small dev-0003.small dev-0004.small >four &&
	test_must_fail dml-aggregate -j small.json -k fed1.key four >out 2>err &&
	test_empty out && test_grep "four:4: summing this result would make 4 summands, more than the job.s max_summands 3" err &&
	test_must_fail dml-aggregate -j small.json -k fed1.key --keep-going four >out 2>err &&
	test_empty out &&
	cat dev-0001.small dev-0002.small | dml-aggregate -j small.json -k fed1.key >a.agg &&
	cat dev-0003.small dev-0004.small | dml-aggregate -j small.json -k fed2.key >b.agg &&
	test_must_fail dml-aggregate -j small.json -k rep.key a.agg b.agg >out 2>err &&
	test_grep "b.agg:1: summing this aggregate would make 4 summands" err
'
test_expect_success 'weighted sums: plaintext factors on ciphertexts and in the clear' '
	echo "$(sed "s/.*\"key\":\"\([0-9a-f]*\)\".*/\1/" devs/dev-0001/pub) 3" >scale &&
	cat dev-0001.enc dev-0002.enc | dml-aggregate -j job.json -k fed1.key --scale scale >w.agg &&
	test_grep "\"summands\":4" w.agg && test_grep "\"weight\":400" w.agg &&
	test_grep "\"n\":200" w.agg &&
	dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json w.agg >w.dec &&
	head -2 clear.all | dml-aggregate -j plain.json -k fed1.key --scale scale >wc.agg &&
	$PY -c "
import base64, json, struct
e, c = json.load(open(\"w.dec\")), json.load(open(\"wc.agg\"))
for k in (\"hist\", \"prob\"):
    a = struct.unpack(\"<10d\", base64.b64decode(e[\"sum\"][k][\"data\"]))
    b = struct.unpack(\"<10d\", base64.b64decode(c[\"sum\"][k][\"data\"]))
    assert max(abs(x - y) for x, y in zip(a, b)) < 4 * 2 ** -14, (k, a, b)
assert e[\"weight\"] == c[\"weight\"] == 400" &&
	test_must_fail dml-aggregate -j small.json -k fed1.key --scale scale dev-0001.small dev-0002.small 2>err &&
	test_grep "would make 4 summands" err &&
	echo "nothex 3" >badscale &&
	test_expect_code 2 dml-aggregate -j job.json -k fed1.key --scale badscale dev-0001.enc 2>err &&
	test_grep "badscale:1: want \"KEY FACTOR\"" err
'
test_expect_success 'the aggregator: clear results and foreign keys get reruns' '
	encrypt dev-0001 evejob.json >eve.enc &&
	edit eve.enc "r[\"job\"] = open(\"jobid\").read().strip()" | $SIGN devs/dev-0001/key >evekey.enc &&
	edit clear.json "r[\"job\"] = open(\"jobid\").read().strip()" | $SIGN devs/dev-0001/key >clearjob.json &&
	cat dev-0002.enc evekey.enc clearjob.json | dml-aggregate -j job.json -k fed1.key >out 2>err &&
	test_grep "another Paillier key than the job" out &&
	test_grep "is in the clear, the job.s results are Paillier-encrypted" out &&
	test_grep "\"invalid\":2" out && test_grep "\"summands\":1" out
'
test_expect_success 'the aggregator: non-canonical ciphertexts are invalid' '
	edit dev-0001.enc "import base64; r[\"values\"][\"hist\"][\"data\"] = base64.b64encode(b\"\\xff\" * 512).decode()" |
		$SIGN devs/dev-0001/key >big.enc &&
	edit dev-0002.enc "import base64; r[\"values\"][\"hist\"][\"data\"] = base64.b64encode(b\"\\0\" * 512).decode()" |
		$SIGN devs/dev-0002/key >zero.enc &&
	cat big.enc zero.enc dev-0003.enc | dml-aggregate -j job.json -k fed1.key >out 2>err &&
	test_grep "ciphertext 0 is not below n^2" out &&
	test_grep "not prime to n" out && test_grep "\"invalid\":2" out
'
test_expect_success 'the aggregator: wrong layout, shape and summands are invalid' '
	edit dev-0001.enc "r[\"values\"][\"hist\"][\"frac_bits\"] = 8" | $SIGN devs/dev-0001/key >f.enc &&
	edit dev-0002.enc "r[\"values\"][\"hist\"][\"summands\"] = 2" | $SIGN devs/dev-0002/key >s.enc &&
	edit dev-0003.enc "r[\"values\"][\"hist\"][\"shape\"] = [1, 10]" | $SIGN devs/dev-0003/key >sh.enc &&
	cat f.enc s.enc sh.enc dev-0004.enc | dml-aggregate -j job.json -k fed1.key >out 2>err &&
	test_grep "with 8 fractional bits, the job.s layout is 55 of 37 with 14" out &&
	test_grep "claims 2 summands, a result is one" out &&
	test_grep "has 2 dimensions, not 1" out && test_grep "\"invalid\":3" out
'
test_expect_success 'the aggregator: malformed ciphertext tensors are refused' '
	edit dev-0001.enc "t = r[\"values\"][\"hist\"]; t[\"data\"] = t[\"data\"][4:]" | $SIGN devs/dev-0001/key >tr.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key tr.enc >out 2>err &&
	test_empty out && test_grep "tr.enc:1: tensor \"hist\": data holds .* (truncated?)" err &&
	edit dev-0001.enc "t = r[\"values\"][\"hist\"]; t[\"data\"] = \"*\" + t[\"data\"][1:]" | $SIGN devs/dev-0001/key >b64.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key b64.enc 2>err &&
	test_grep "b64.enc:1: tensor \"hist\": bad base64" err &&
	edit dev-0001.enc "del r[\"values\"][\"hist\"][\"summands\"]" | $SIGN devs/dev-0001/key >ms.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key ms.enc 2>err &&
	test_grep "ms.enc:1: tensor \"hist\": missing field \"summands\"" err &&
	edit dev-0001.enc "r[\"values\"][\"hist\"][\"slots\"] = \"52\"" | $SIGN devs/dev-0001/key >ty.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key ty.enc 2>err &&
	test_grep "\"slots\" must be an integer" err &&
	sed "s/\"n\":100/\"n\":101/" dev-0001.enc >forged.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key forged.enc 2>err &&
	test_grep "forged.enc:1: forged: bad signature" err &&
	echo "{\"type\":" >m.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key m.enc 2>err &&
	test_grep "m.enc:1: malformed JSON" err &&
	head -c 1500 dev-0001.enc >t.enc &&
	test_must_fail dml-aggregate -j job.json -k fed1.key t.enc 2>err &&
	test_grep "t.enc:1: truncated record" err &&
	: >e.enc && test_must_fail dml-aggregate -j job.json -k fed1.key e.enc 2>err &&
	test_grep "no results accepted" err &&
	test_expect_code 2 dml-aggregate -j job.json -k fed1.key nosuch.enc 2>err &&
	test_grep "nosuch.enc" err
'
test_expect_success 'the customer refuses bad encrypted reports' '
	edit enc.json "t = r[\"sum\"][\"hist\"]; t[\"data\"] = t[\"data\"][:-8]" | $SIGN rep.key >r1.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json r1.json >out 2>err &&
	test_empty out && test_grep "r1.json:1: tensor \"hist\": data holds" err &&
	edit enc.json "import base64; r[\"sum\"][\"hist\"][\"data\"] = base64.b64encode(b\"\\xff\" * 512).decode()" | $SIGN rep.key >r2.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json r2.json 2>err &&
	test_grep "not below n^2 (not canonical)" err &&
	$PY pail.py enc cust.ppub job.json 40000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 >r3.json &&
	test_must_fail dml-encrypt -d --no-verify -k cust.key --paillier-key cust.pkey -j job.json r3.json 2>err &&
	test_grep "r3.json:1: tensor \"hist\": ciphertext 0 slot 0 is out of range for 1 summands" err &&
	edit enc.json "r[\"sum\"][\"hist\"][\"kid\"] = \"0\" * 64" | $SIGN rep.key >r4.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json r4.json 2>err &&
	test_grep "encrypted to Paillier key 0000000000000000" err &&
	head -c 2000 enc.json >r5.json &&
	test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json r5.json 2>err &&
	test_grep "r5.json:1: truncated" err &&
	: >r6.json && test_must_fail dml-encrypt -d -k cust.key --paillier-key cust.pkey -j job.json r6.json 2>err &&
	test_grep "empty input" err &&
	test_expect_code 2 dml-encrypt -d -k cust.key --paillier-key nosuch -j job.json enc.json 2>err &&
	test_grep "nosuch" err &&
	echo "{\"type\":\"dml.paillier.secretkey\",\"v\":1}" >bad.pkey &&
	test_expect_code 2 dml-encrypt -d -k cust.key --paillier-key bad.pkey -j job.json enc.json 2>err &&
	test_grep "bad.pkey:1: bad or missing \"bits\"" err
'

# encrypted model evaluation
test_expect_success 'the developer encrypts a model to the customer' '
	dml-encrypt --scheme paillier -r cust.ppub -k dev.key --int-bits 16 model.json >model.enc &&
	test_grep "\"type\":\"dml.paillier.model\"" model.enc &&
	test_grep "\"shape\":\\[785,10\\]" model.enc && test_grep "\"slots\":10" model.enc &&
	! grep -q "\"dtype\":\"f32\"" model.enc &&
	test_expect_code 2 dml-encrypt --scheme paillier -r cust.ppub -k dev.key --int-bits 40 --frac-bits 30 model.json 2>err &&
	test_must_fail dml-encrypt --scheme paillier -r cust.ppub -k dev.key dev.pub 2>err &&
	test_grep "encrypts dml.result and dml.model records, not dml.pubkey" err &&
	dml-refine --init 784,20,10 --seed 1 -o mlp.json &&
	test_must_fail dml-encrypt --scheme paillier -r cust.ppub -k dev.key mlp.json 2>err &&
	test_grep "only a model of one weight layer" err
'
test_expect_success 'the job names the encrypted model; key and layout must agree' '
	E="-k cust.key -t predict --data fashion-mnist -m model.enc --created 2026-01-01T00:00:00Z --min-devices 3" &&
	dml-job $E --paillier-key cust.ppub --int-bits 16 --nonce em -o ejob.json &&
	test_grep "\"encrypted\":{\"score_frac_bits\":16}" ejob.json &&
	test_expect_code 1 dml-job $E --paillier-key eve.ppub --int-bits 16 --nonce x -o x.json 2>err &&
	test_grep "encrypted to another Paillier key" err &&
	test_expect_code 1 dml-job $E --paillier-key cust.ppub -o x.json 2>err &&
	test_grep "39-bit slots, the job.s layout has 37-bit" err &&
	test_expect_code 1 dml-job $E -o x.json 2>err && test_grep "needs --paillier-key" err
'
test_expect_success 'devices score their data without the weights; the customer gets mean scores' '
	for d in dev-0001 dev-0002 dev-0003 dev-0004; do
		dml-run -j ejob.json -k devs/$d/key -D devs/$d -m model.enc >$d.score || return 1
	done &&
	test_grep "\"score\":{" dev-0001.score && test_grep "\"frac_bits\":16" dev-0001.score &&
	cat dev-0001.score dev-0002.score | dml-aggregate -j ejob.json -k fed1.key >s1.agg &&
	cat dev-0003.score dev-0004.score | dml-aggregate -j ejob.json -k fed2.key >s2.agg &&
	cat s1.agg s2.agg | dml-aggregate -j ejob.json -k rep.key |
		dml-report -j ejob.json -k rep.key |
		dml-encrypt -d -k cust.key --paillier-key cust.pkey -j ejob.json >score.json &&
	$PY -c "
import base64, json, struct
import numpy as np
m = json.load(open(\"model.json\"))
p = np.frombuffer(base64.b64decode(m[\"params\"][\"data\"]), \"<f4\").astype(np.float64)
W, b = p[:7840].reshape(10, 784), p[7840:]
tot, n = np.zeros(10), 0
for d in (\"dev-0001\", \"dev-0002\", \"dev-0003\", \"dev-0004\"):
    raw = open(\"devs/%s/images-idx3-ubyte\" % d, \"rb\").read()
    c = struct.unpack(\">I\", raw[4:8])[0]
    x = np.frombuffer(raw[16:], np.uint8).reshape(c, 784).astype(np.float32) / np.float32(255)
    tot += (x.astype(np.float64) @ W.T + b).sum(0); n += c
got = np.array(json.load(open(\"score.json\"))[\"result\"][\"mean_score\"])
err = np.abs(got - tot / n).max()
assert err < 5e-3, (got, tot / n)" &&
	dml-report --render sc score.json && test_grep "Mean class scores" sc/report.md &&
	test_grep "<svg" sc/report.svg
'
test_expect_success 'a device refuses what could overflow; a plain model for the encrypted job' '
	E="-k cust.key -t predict --data fashion-mnist -m tight.enc --created 2026-01-01T00:00:00Z --min-devices 1" &&
	dml-encrypt --scheme paillier -r cust.ppub -k dev.key --int-bits 2 --max-summands 2 model.json >tight.enc &&
	dml-job $E --paillier-key cust.ppub --int-bits 2 --max-summands 2 --nonce t -o tjob.json &&
	test_must_fail dml-run -j tjob.json -k devs/dev-0001/key -D devs/dev-0001 -m tight.enc 2>err &&
	test_grep "the job needs more int_bits" err &&
	test_must_fail dml-run -j ejob.json -k devs/dev-0001/key -D devs/dev-0001 -m model.json 2>err &&
	test_grep "is not the job.s model" err
'
test_done
