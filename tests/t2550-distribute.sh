#!/bin/sh
# dml-distribute: device records, the registry snapshot, selection by
# consent and criteria, spreading, the sealed algorithm, dml-run -a and
# dml-aggregate --assignments, and bad input.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
dml-split --devices 8 --limit 800 --partition iid --consent-rate 1 --seed 3 -o devs >/dev/null
for d in devs/dev-*; do dml-keygen -o $d/key >$d/pub; done
for w in dist fed1 fed2 cust eve; do dml-keygen -o $w.key >$w.pub; done
$PY - <<'P' >model.json
import base64, json, struct
p = [((i * 7919) % 1000 - 500) / 50000.0 for i in range(7850)]
t = {"dtype": "f32", "shape": [7850], "data": base64.b64encode(struct.pack("<7850f", *p)).decode()}
print(json.dumps({"type": "dml.model", "v": 1, "arch": "softmax", "act": "relu",
    "layers": [784, 10], "params": t}, sort_keys=True, separators=(",", ":")))
P
J="-k cust.key --data fashion-mnist --created 2026-01-01T00:00:00Z --budget 0 --min-devices 1 -t predict -m model.json"
dml-job $J --nonce a -c "ram_gb >= 8" -o job.json
dml-job $J --nonce b -c "ram_gb >= 8" -o job2.json
dml-job $J --nonce c -c "ram_gb >= 8" --min-devices 100 -o big.json
T=2026-01-01T00:00:00Z
pubof() { sed 's/.*"key":"\([0-9a-f]*\)".*/\1/' "$1"; }
# the devices that consent to fashion-mnist and have ram_gb >= 8, less $1
expected() {
	for d in devs/dev-*; do
		[ "$d" = "${1:-}" ] && continue
		$PY -c "import json,sys; p=json.load(open('$d/profile.json')); sys.exit(not ('fashion-mnist' in p['consent'] and p['attrs']['ram_gb'] >= 8))" &&
			pubof $d/pub
	done | sort
}
devices_of() { cat "$@" | sed 's/.*"device":"\([0-9a-f]*\)".*/\1/' | sort; }

test_expect_success 'help and usage' '
	dml-distribute --help | test_grep "usage: dml-distribute" - &&
	dml-distribute --version | test_grep "0\." - &&
	test_expect_code 2 dml-distribute -j job.json -k dist.key 2>err &&
	test_grep "at least one --node" err &&
	test_expect_code 2 dml-distribute -j job.json -k dist.key --node fed1.pub -m model.json reg 2>err &&
	test_grep "needs -o DIR or -A FILE" err &&
	test_expect_code 2 dml-distribute register -k dist.key 2>err &&
	test_expect_code 2 dml-distribute --bogus 2>err
'
test_expect_success 'register: a dml.device signed by the device, from its profile' '
	for d in devs/dev-*; do
		dml-distribute register -k $d/key -D $d --created $T -o $d.device || return 1
	done &&
	D=devs/dev-0001 &&
	test_grep "\"type\":\"dml.device\"" $D.device &&
	test_grep "\"from\":\"$(pubof $D/pub)\"" $D.device &&
	test_grep "\"consent\":\[\"fashion-mnist\"\]" $D.device &&
	region=$($PY -c "import json; print(json.load(open(\"$D/profile.json\"))[\"attrs\"][\"region\"])") &&
	test_grep "\"region\":\"$region\"" $D.device &&
	dml-distribute register -k $D/key -D $D --region mars --capacity 3 --created $T >r.json &&
	test_grep "\"region\":\"mars\"" r.json && test_grep "\"capacity\":3" r.json
'
test_expect_success 'admit: a snapshot whose header counts and hashes the device lines' '
	dml-distribute admit -k dist.key --registry reg --created $T devs/*.device &&
	test $(wc -l <reg) = 9 &&
	head -1 reg | test_grep "\"type\":\"dml.registry\"" - &&
	head -1 reg | test_grep "\"devices\":8" - &&
	h=$(tail -n +2 reg | $PY -c "import hashlib,sys; print(hashlib.blake2b(sys.stdin.buffer.read(), digest_size=32).hexdigest())") &&
	head -1 reg | test_grep "\"hash\":\"$h\"" - &&
	cp reg reg.v1 &&
	dml-distribute admit -k dist.key --registry reg --created $T devs/*.device &&
	test_cmp reg.v1 reg
'
test_expect_success 'admit refuses a device record with a bad signature, registry unchanged' '
	sed "s/\"capacity\":1/\"capacity\":9/" devs/dev-0002.device >forged.device &&
	test_must_fail dml-distribute admit -k dist.key --registry reg --created $T forged.device 2>err &&
	test_grep "^dml-distribute: admit: forged.device:1: bad signature" err &&
	test_cmp reg.v1 reg &&
	printf "{\"type\":\"dml.device\"\n" >bad.device &&
	test_must_fail dml-distribute admit -k dist.key -o new --created $T bad.device 2>err &&
	test_grep "bad.device:1: malformed JSON" err && ! test -e new
'
test_expect_success 'select: the devices that consent and meet the criteria, each once' '
	dml-distribute -j job.json -k dist.key --node fed1.pub --node fed2.pub \
		-m model.json -A alg.sealed reg >all.ndjson &&
	expected >want && test -s want &&
	devices_of all.ndjson >got && test_cmp want got &&
	test $(wc -l <want) -lt 8 &&
	test_grep "\"job\":\"$(dml-job --id job.json)\"" all.ndjson &&
	dml-distribute -j job.json -k dist.key --node fed1.pub --node fed2.pub \
		-m model.json -A alg.sealed -v <reg >stdin.ndjson 2>counts &&
	devices_of stdin.ndjson >got2 && test_cmp want got2 &&
	test_grep "8 devices read, $(wc -l <want) eligible, $(wc -l <want) assigned" counts
'
test_expect_success 'revoking consent: a newer record without the data type excludes the device' '
	R=$(head -1 want) && D=$(grep -l "$R" devs/*/pub | xargs dirname) &&
	dml-distribute register -k $D/key -D $D --revoke fashion-mnist \
		--created 2026-01-05T00:00:00Z -o revoked.device &&
	test_grep "\"consent\":\[\]" revoked.device &&
	dml-distribute admit -k dist.key --registry reg --created $T revoked.device &&
	head -1 reg | test_grep "\"devices\":8" - &&
	dml-distribute -j job.json -k dist.key --node fed1.pub --node fed2.pub \
		-m model.json -A alg.sealed reg >all.ndjson &&
	expected $D >want2 && devices_of all.ndjson >got && test_cmp want2 got &&
	! grep -q "$R" all.ndjson &&
	test_must_fail dml-distribute admit -k dist.key --registry reg --created $T $D.device 2>err &&
	test_grep "$D.device:1: device .* already has a record of 2026-01-05T00:00:00Z" err
'
test_expect_success 'spreading: balanced over nodes without regions, reproducible' '
	dml-distribute -j job.json -k dist.key --node fed1.pub --node fed2.pub \
		-m model.json --seed 7 -o out reg &&
	a=$(wc -l <out/fed1.ndjson) && b=$(wc -l <out/fed2.ndjson) &&
	test $((a + b)) = $(wc -l <want2) &&
	test $((a - b)) -le 1 && test $((b - a)) -le 1 &&
	test_grep "\"node\":\"$(pubof fed1.pub)\"" out/fed1.ndjson &&
	! grep -q "$(pubof fed2.pub)" out/fed1.ndjson &&
	test -s out/algorithm.sealed &&
	dml-distribute -j job.json -k dist.key --node fed1.pub --node fed2.pub \
		-m model.json --seed 7 -o out2 reg &&
	test_cmp out/fed1.ndjson out2/fed1.ndjson &&
	cmp out/algorithm.sealed out2/algorithm.sealed
'
test_expect_success 'spreading by region: a device goes to a node of its region' '
	r=$($PY -c "import json; print(json.load(open(\"devs/dev-0001/profile.json\"))[\"attrs\"][\"region\"])") &&
	dml-distribute -j job.json -k dist.key --node fed1.pub=$r --node fed2.pub \
		-m model.json -o outr reg &&
	for d in devs/dev-*/; do
		k=$(pubof $d/pub) &&
		{ grep -q "$k" outr/*.ndjson || continue; } &&
		dr=$($PY -c "import json; print(json.load(open(\"$d/profile.json\"))[\"attrs\"][\"region\"])") &&
		if [ "$dr" = "$r" ]; then grep -q "$k" outr/fed1.ndjson; fi || return 1
	done &&
	test $(cat outr/*.ndjson | wc -l) = $(wc -l <want2)
'
test_expect_success '--max: a sample of the eligible devices' '
	dml-distribute -j job.json -k dist.key --node fed1.pub -m model.json \
		-A alg2 --max 2 reg >two.ndjson &&
	test $(wc -l <two.ndjson) = 2 &&
	devices_of two.ndjson | comm -23 - want2 >extra && test_empty extra
'
test_expect_success 'old spellings -r, -R and -n still work, with a warning' '
	dml-distribute admit -k dist.key -r reg.old --created $T devs/*.device 2>err &&
	test_grep "^dml-distribute: admit: warning: -r is an old spelling of --registry" err &&
	test_cmp reg.v1 reg.old &&
	dml-distribute -j job.json -k eve.key -R dist.pub -n 2 --node fed1.pub \
		-m model.json -A alg4 reg >two.ndjson 2>err &&
	test $(wc -l <two.ndjson) = 2 &&
	test_grep "^dml-distribute: warning: -R is an old spelling of --registrar" err &&
	test_grep "^dml-distribute: warning: -n is an old spelling of --max" err
'
test_expect_success 'options: named in errors, refused by a command that does not take them' '
	test_expect_code 2 dml-distribute register -k dist.key -D devs/dev-0001 \
		--registry reg >o.txt 2>err &&
	test_grep "^dml-distribute: register: --registry: not an option of this command" err &&
	test_empty o.txt &&
	test_expect_code 2 dml-distribute admit -k dist.key --max 3 2>err &&
	test_grep "^dml-distribute: admit: --max: not an option of this command" err &&
	test_expect_code 2 dml-distribute -j job.json --node fed1.pub --max 0 2>err &&
	test_grep "^dml-distribute: --max: .0. is out of range" err &&
	test_expect_code 2 dml-distribute -j job.json --node fed1.pub= 2>err &&
	test_grep "^dml-distribute: --node: fed1.pub=: empty region" err &&
	test_expect_code 2 dml-distribute -j job.json --node nosuch.pub 2>err &&
	test_grep "^dml-distribute: --node: nosuch.pub" err &&
	test_expect_code 2 dml-distribute -j job.json --node fed1.pub --node fed1.pub=eu 2>err &&
	test_grep "^dml-distribute: --node: fed1.pub=eu: the same node twice" err &&
	test_expect_code 2 dml-distribute register -D devs/dev-0001 --created 2026-02-30T00:00:00Z 2>err &&
	test_grep "^dml-distribute: register: --created: " err &&
	test_expect_code 2 dml-distribute register -D devs/dev-0001 2>err &&
	test_grep "^dml-distribute: register: give your secret key with -k FILE (or DML_KEY)" err
'
test_expect_success 'the key defaults to DML_KEY in every command' '
	D=devs/dev-0001 &&
	DML_KEY=$D/key dml-distribute register -D $D --created $T >env.device &&
	test_cmp $D.device env.device &&
	DML_KEY=dist.key dml-distribute admit --registry reg.env --created $T devs/*.device &&
	test_cmp reg.v1 reg.env &&
	DML_KEY=dist.key dml-distribute -j job.json --node fed1.pub --node fed2.pub \
		-m model.json --seed 7 -o outenv reg &&
	test_cmp out/fed1.ndjson outenv/fed1.ndjson
'
A1=$(head -1 want2)
D1=$(grep -l "$A1" devs/*/pub | xargs dirname)
D2=$(grep -l "$(sed -n 2p want2)" devs/*/pub | xargs dirname)
test_expect_success 'dml-run -a: the sealed algorithm opens with the device key' '
	grep -h "\"device\":\"$A1\"" out/*.ndjson >a1.json &&
	dml-run -j job.json -k $D1/key -D $D1 -a a1.json -m out/algorithm.sealed >res1.json &&
	dml-run -j job.json -k $D1/key -D $D1 -m model.json >plain1.json &&
	test_cmp plain1.json res1.json &&
	test_grep "\"from\":\"$A1\"" res1.json
'
test_expect_success 'dml-run -a refuses another device, another job, an altered algorithm' '
	test_must_fail dml-run -j job.json -k $D2/key -D $D2 -a a1.json \
		-m out/algorithm.sealed >out.json 2>err &&
	test_grep "a1.json:1: the assignment is for device .*, not for this device" err &&
	test_empty out.json &&
	test_must_fail dml-run -j job2.json -k $D1/key -D $D1 -a a1.json \
		-m out/algorithm.sealed >out.json 2>err &&
	test_grep "a1.json:1: the assignment is for job .*, not for this job" err &&
	test_empty out.json &&
	cp out/algorithm.sealed alt.sealed &&
	$SRC_DIR/tests/helpers/flip-byte alt.sealed 100 &&
	! cmp -s alt.sealed out/algorithm.sealed &&
	test_must_fail dml-run -j job.json -k $D1/key -D $D1 -a a1.json -m alt.sealed >out.json 2>err &&
	test_grep "a1.json:1: the algorithm file .* is not the assignment" err && test_empty out.json &&
	sed "s/\"node\":\"[0-9a-f]*\"/\"node\":\"$(pubof eve.pub)\"/" a1.json >a1f.json &&
	test_must_fail dml-run -j job.json -k $D1/key -D $D1 -a a1f.json -m out/algorithm.sealed 2>err &&
	test_grep "a1f.json:1: bad signature" err &&
	sed "s/\"device\":\"[0-9a-f]*\"/\"device\":\"$(pubof $D2/pub)\"/" a1.json |
		$SRC_DIR/tests/helpers/rec-sign dist.key >a2f.json &&
	test_must_fail dml-run -j job.json -k $D2/key -D $D2 -a a2f.json \
		-m out/algorithm.sealed >out.json 2>err &&
	test_grep "a2f.json:1: cannot open the sealed box" err && test_empty out.json
'
test_expect_success 'dml-aggregate --assignments: results only from assigned devices' '
	dml-run -j job.json -k $D2/key -D $D2 -m model.json >res2.json &&
	R=$(head -1 want) && DR=$(grep -l "$R" devs/*/pub | xargs dirname) &&
	dml-run -j job.json -k $DR/key -D $DR -m model.json >resr.json &&
	cat out/*.ndjson >assigned &&
	cat res1.json res2.json >ok.json &&
	dml-aggregate -j job.json -k fed1.key --assignments assigned --distributor dist.pub ok.json >agg &&
	test_grep "\"devices\":2" agg &&
	cat res1.json resr.json res2.json >mixed.json &&
	test_must_fail dml-aggregate -j job.json -k fed1.key --assignments assigned mixed.json >agg 2>err &&
	test_grep "mixed.json:2: forged: device .* is not an assigned device" err && test_empty agg &&
	dml-aggregate -j job.json -k fed1.key --assignments assigned --keep-going mixed.json >agg 2>/dev/null &&
	test_grep "\"devices\":2" agg && test_grep "\"forged\":1" agg
'
test_expect_success 'dml-aggregate --scheme secagg --assignments: keys only from assigned devices' '
	DR=$(grep -l "$(head -1 want)" devs/*/pub | xargs dirname) &&
	dml-encrypt --scheme secagg --step advertise --state sa1.st \
		-k $D1/key res1.json >keys1 &&
	dml-encrypt --scheme secagg --step advertise --state sa2.st \
		-k $D2/key res2.json >keys2 &&
	dml-encrypt --scheme secagg --step advertise --state sar.st \
		-k $DR/key resr.json >keysr &&
	cat keys1 keysr keys2 >keys &&
	test_must_fail dml-aggregate --scheme secagg --step collect-keys \
		--state sa.st -j job.json -k fed1.key --assignments assigned \
		keys >roster 2>err &&
	test_grep "keys:2: device .* is not one of the job.s devices" err &&
	test_empty roster && ! test -e sa.st &&
	dml-aggregate --scheme secagg --step collect-keys --state sa.st \
		-j job.json -k fed1.key --assignments assigned \
		--distributor dist.pub -K keys >roster 2>err &&
	test_grep "(skipped)" err &&
	test $(grep -o "\"sig\"" roster | wc -l) = 3 &&
	test_expect_code 2 dml-aggregate -j job.json -k fed1.key \
		--distributor dist.pub ok.json 2>err &&
	test_grep "distributor goes with --assignments" err
'
test_expect_success 'dml-aggregate --assignments refuses an assignment for another job or signer' '
	dml-distribute -j job2.json -k dist.key --node fed1.pub -m model.json -A alg3 reg >other &&
	test_must_fail dml-aggregate -j job.json -k fed1.key --assignments other ok.json >agg 2>err &&
	test_grep "other:1: the assignment is for job" err && test_empty agg &&
	test_must_fail dml-aggregate -j job.json -k fed1.key --assignments assigned \
		--distributor eve.pub ok.json >agg 2>err &&
	test_grep "assigned:1: the assignment is not signed by the distributing node" err
'
# a registry as a dishonest or broken registrar could sign it: the header
# re-signed over whatever lines follow
resign() {
	tail -n +2 "$1" >body &&
	h=$($PY -c "import hashlib,sys; print(hashlib.blake2b(open(\"body\",\"rb\").read(), digest_size=32).hexdigest())") &&
	n=$(wc -l <body) &&
	echo "{\"created\":\"$T\",\"devices\":$n,\"hash\":\"$h\",\"type\":\"dml.registry\",\"v\":1}" |
		$SRC_DIR/tests/helpers/rec-sign dist.key >"$2" &&
	cat body >>"$2"
}
test_expect_success 'a registry altered after admission is refused, no output' '
	sed "3s/\"ram_gb\":[0-9]*/\"ram_gb\":64/" reg >tampered &&
	! cmp -s reg tampered &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -o bad1 tampered >out.json 2>err &&
	test_grep "tampered: the registry.s hash does not match its header" err &&
	! test -e bad1/fed1.ndjson && ! test -e bad1/algorithm.sealed &&
	test_must_fail dml-distribute -j job.json -k eve.key --node fed1.pub \
		-m model.json -A x reg >out.json 2>err &&
	test_grep "reg:1: the registry is signed by .*, not by the registrar" err &&
	test_empty out.json && ! test -e x &&
	dml-distribute -j job.json -k eve.key --registrar dist.pub --node fed1.pub \
		-m model.json -A x reg >out.json && test -s out.json
'
test_expect_success 'a selected device whose own signature fails is refused' '
	L=$(grep -n "$A1" reg | cut -d: -f1) &&
	sed "${L}s/\"capacity\":1/\"capacity\":2/" reg >r0 && resign r0 badsig &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -A x2 badsig >out.json 2>err &&
	test_grep "badsig:$L: bad signature" err && test_empty out.json && ! test -e x2
'
test_expect_success 'malformed registry lines: FILE:LINE, exit 1, no output' '
	{ head -3 reg && echo "{\"consent\":[\"fashion-mnist\"]," && tail -n +4 reg; } >r1 &&
	resign r1 malformed &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -A x3 malformed >out.json 2>err &&
	test_grep "^dml-distribute: malformed:4: malformed JSON" err && test_empty out.json &&
	{ head -2 reg && echo "{\"attrs\":{},\"capacity\":1,\"consent\":\"fashion-mnist\",\"created\":\"$T\",\"from\":\"$A1\",\"type\":\"dml.device\",\"v\":1}" && tail -n +3 reg; } >r2 &&
	resign r2 wrongtype &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -A x3 wrongtype >out.json 2>err &&
	test_grep "wrongtype:3: .*consent" err && test_empty out.json &&
	head -5 reg >short &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -A x3 short >out.json 2>err &&
	test_grep "short: the registry holds 4 devices, its header says 8" err &&
	printf "%s" "$(cat reg)" >trunc &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m model.json -A x3 trunc >out.json 2>err &&
	test_grep "trunc:9: truncated record" err && test_empty out.json && ! test -e x3
'
test_expect_success 'too few eligible devices for the job: exit 1, no output' '
	test_must_fail dml-distribute -j big.json -k dist.key --node fed1.pub \
		-m model.json -o small reg 2>err &&
	test_grep "eligible devices, the job needs at least 100" err &&
	! test -e small/fed1.ndjson &&
	test_must_fail dml-distribute -j job.json -k dist.key --node fed1.pub \
		-m job.json -A x4 reg 2>err &&
	test_grep "is not the job.s model" err && ! test -e x4
'
test_done
