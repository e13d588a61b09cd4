#!/bin/sh
# dml-eval: metrics of known models, the model id, bad model files and
# data, and a model trained through the toolchain scoring > 0.75.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
ZEROS=$(head -c 31400 /dev/zero | base64 -w0)
printf '{"act":"relu","arch":"softmax","layers":[784,10],"params":{"data":"%s","dtype":"f32","shape":[7850]},"type":"dml.model","v":1}\n' \
	"$ZEROS" >zero.model

# softmax 2 -> 3 with W = [[1,0],[0,1],[0,0]], b = 0
perl -MMIME::Base64 -e 'print "{\"arch\":\"softmax\",\"layers\":[2,3],\"params\":{\"data\":\"",
    encode_base64(pack("f<*", 1, 0, 0, 1, 0, 0, 0, 0, 0), ""),
    "\",\"dtype\":\"f32\",\"shape\":[9]},\"round\":3,\"type\":\"dml.model\",\"v\":1}\n"' >tiny.model
printf 'x,y,label\n5,0,0\n0,5,1\n0,0,2\n' >tiny.csv

# Each bad model must give exit 1, "dml-eval: FILE:LINE: what", no output
# and no -o file.
refused() {
	test_must_fail dml-eval -m "$1" -o out.json >out 2>err &&
	test_grep "$2" err && test_empty out && ! test -e out.json
}

test_expect_success 'help goes to stdout and exits 0' '
	dml-eval --help >out && test_grep "usage: dml-eval" out
'
test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dml-eval 2>err && test_grep "Try" err &&
	test_expect_code 2 dml-eval -m - 2>err &&
	test_expect_code 2 dml-eval -m zero.model --idx one 2>err &&
	test_expect_code 2 dml-eval -m zero.model --csv a --device b 2>err &&
	test_expect_code 2 dml-eval -m zero.model --round x 2>err &&
	test_expect_code 2 dml-eval -m zero.model --label y 2>err &&
	test_expect_code 2 dml-eval -m zero.model extra 2>err
'
test_expect_success 'a zero model on t10k: accuracy 0.1, loss ln 10, the file CID' '
	dml-eval -m zero.model >out &&
	test $(wc -l <out) = 1 &&
	test_grep "^{\"accuracy\":0.1,\"data\":\"fashion-mnist-t10k\",\"loss\":2.302585,\"model\":\"bafkrei[a-z2-7]*\",\"n\":10000,\"type\":\"dml.metrics\",\"v\":1}$" out &&
	sed "s/\"v\":1}/\"v\":1} /" zero.model >zero2.model &&
	dml-eval -m zero2.model >out2 && ! cmp -s out out2 &&
	dml-eval -m zero.model >again && test_cmp out again
'
test_expect_success 'metrics of a hand-computed model on a CSV, round from the model' '
	dml-eval -m tiny.model --csv tiny.csv >out &&
	want=$(perl -e "printf q(%.6f), (log(1 + 2 * exp(-5)) * 2 + log(3)) / 3") &&
	test_grep "^{\"accuracy\":0.666667,\"data\":\"tiny.csv\",\"loss\":$want,\"model\":\"b[a-z2-7]*\",\"n\":3,\"round\":3," out
'
test_expect_success '--round, --name and -o' '
	dml-eval -m tiny.model --csv tiny.csv --round 9 --name t -o m.json >out &&
	test_empty out && test_grep "\"data\":\"t\"" m.json && test_grep "\"round\":9," m.json
'
test_expect_success 'IDX files given explicitly' '
	dml-eval -m zero.model --idx $DATA/t10k-images-idx3-ubyte.gz $DATA/t10k-labels-idx1-ubyte.gz >out &&
	test_grep "\"data\":\"t10k-images-idx3-ubyte.gz\"" out
'
test_expect_success 'malformed JSON' '
	echo "{\"type\":" >bad.model && refused bad.model "^dml-eval: bad.model:1: malformed JSON"
'
test_expect_success 'a wrong record type, wrong field types, missing fields' '
	sed "s/dml.model/dml.result/" zero.model >m && refused m "^dml-eval: m:1: expected a dml.model record" &&
	sed "s/\"layers\":\[784,10\]/\"layers\":\"784\"/" zero.model >m && refused m "^dml-eval: m:1: field \"layers\" must be an array" &&
	sed "s/\"arch\":\"softmax\"/\"arch\":7/" zero.model >m && refused m "^dml-eval: m:1: field \"arch\" must be a string" &&
	sed "s/\"params\":/\"parms\":/" zero.model >m && refused m "^dml-eval: m:1: missing field \"params\"" &&
	sed "s/\"arch\":\"softmax\",//" zero.model >m && refused m "^dml-eval: m:1: missing field \"arch\"" &&
	sed "s/\"v\":1/\"v\":2/" zero.model >m && refused m "^dml-eval: m:1: unsupported version 2"
'
test_expect_success 'bad base64 and a wrong tensor shape' '
	sed "s/\"data\":\"A/\"data\":\"#/" zero.model >m && refused m "^dml-eval: m:1: tensor \"params\": bad base64" &&
	sed "s/\"shape\":\[7850\]/\"shape\":[7849]/" zero.model >m && refused m "^dml-eval: m:1: tensor \"params\": data holds" &&
	sed "s/\"layers\":\[784,10\]/\"layers\":[784,9]/" zero.model >m && refused m "^dml-eval: m:1: field \"params\" must be a f32 tensor of shape \[7065\]"
'
test_expect_success 'a truncated last line, an empty file, two records (exit 1); a missing file (exit 2)' '
	head -c 1000 zero.model >m && refused m "^dml-eval: m:1: truncated record" &&
	: >m && refused m "^dml-eval: m: empty, expected a dml.model record" &&
	cat zero.model zero.model >m && refused m "^dml-eval: m:2: more than one record" &&
	test_expect_code 2 dml-eval -m nosuch.model >out 2>err &&
	test_grep "^dml-eval: nosuch.model: No such file" err && test_empty out
'
test_expect_success 'data that does not fit the model is refused (exit 1)' '
	test_must_fail dml-eval -m tiny.model -o o.json >out 2>err &&
	test_grep "^dml-eval: t10k-images-idx3-ubyte.gz: 784 features per sample, the model takes 2" err &&
	test_empty out && ! test -e o.json &&
	printf "x,y,label\n1,2,3\n" >big.csv &&
	test_must_fail dml-eval -m tiny.model --csv big.csv 2>err &&
	test_grep "big.csv: sample 1 has label 3, the model has 3 classes" err &&
	printf "x,y,label\n1,2,0\n1,z,1\n" >bad.csv &&
	test_must_fail dml-eval -m tiny.model --csv bad.csv 2>err &&
	test_grep "^dml-eval: bad.csv:3: column 1: \"z\" is not a finite number" err &&
	test_expect_code 2 dml-eval -m tiny.model --device nodir 2>err &&
	test_grep "nodir/profile.json: No such file" err &&
	test_expect_code 2 dml-eval -m tiny.model --idx nosuch $DATA/t10k-labels-idx1-ubyte.gz 2>err &&
	test_grep "^dml-eval: nosuch: No such file" err
'
# One epoch of task_train (through dml-run) over 10000 samples, then the
# refining step: the model reaches > 0.75 on t10k.
if test -x "$SRC_DIR/tests/helpers/rec-sign"; then
test_expect_success 'a softmax model trained through dml-run, refined, scores > 0.75' '
	dml-split --devices 1 --limit 10000 --consent-rate 1 --seed 1 -o devs >/dev/null &&
	dml-keygen -o devs/dev-0001/key >/dev/null && dml-keygen -o cust.key >/dev/null &&
	dml-keygen -o node.key >node.pub &&
	dml-job -k cust.key -t train --data fashion-mnist -m zero.model --min-devices 1 \
		--epochs 1 --batch 8 --lr 0.02 --budget 0 --nonce e -o job.json &&
	dml-run -j job.json -k devs/dev-0001/key -D devs/dev-0001 -m zero.model >res.json &&
	perl -MJSON::PP -e "my \$r = decode_json(<STDIN>);
	    print JSON::PP->new->canonical->encode({type => q(dml.aggregate), v => 1,
	        job => \$r->{job}, round => \$r->{round}, task => q(train), n => \$r->{n},
	        weight => \$r->{weight}, devices => 1, sum => {delta => \$r->{values}{delta}}}), qq(\n)" \
		<res.json >agg.json &&
	"$SRC_DIR/tests/helpers/rec-sign" node.key agg.json >signed.json &&
	dml-refine -m zero.model --signer node.pub signed.json >trained.model &&
	dml-eval -m trained.model >out &&
	acc=$(sed "s/.*\"accuracy\":\([0-9.]*\).*/\1/" out) && echo "accuracy $acc" &&
	perl -e "exit !($acc > 0.75)" && test_grep "\"round\":1," out
'
else
test_skip 'trained model (tests/helpers/rec-sign not built)'
fi
test_done
