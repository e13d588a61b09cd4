#!/bin/sh
# dml-refine: the FedAvg step params += ETA * sum.delta / weight, lineage
# (parent, round), signatures, and refusal of bad aggregates and models.
. "$(dirname "$0")/lib.sh"

SIGN="$SRC_DIR/tests/helpers/rec-sign"

# softmax 2 -> 3, params 1,0,0,1,0,0,0,0,0, round 3
perl -MMIME::Base64 -e 'print "{\"arch\":\"softmax\",\"layers\":[2,3],\"params\":{\"data\":\"",
    encode_base64(pack("f<*", 1, 0, 0, 1, 0, 0, 0, 0, 0), ""),
    "\",\"dtype\":\"f32\",\"shape\":[9]},\"round\":3,\"type\":\"dml.model\",\"v\":1}\n"' >base.model
sed 's/,"round":3//' base.model >noround.model

# mkagg WEIGHT ROUND DTYPE V1 V2 ...: a train aggregate (ROUND "-": none)
cat >mkagg.pl <<'EOF'
use JSON::PP; use MIME::Base64;
my ($w, $round, $dt, @v) = @ARGV;
my $data = encode_base64(pack($dt eq "f64" ? "d<*" : "f<*", @v), "");
my $r = {type => "dml.aggregate", v => 1, job => "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    task => "train", n => 10, weight => $w + 0, devices => 2,
    sum => {delta => {dtype => $dt, shape => [scalar @v], data => $data}},
    members => [], rejected => {}};
$r->{round} = $round + 0 if $round ne "-";
print JSON::PP->new->canonical->encode($r), "\n";
EOF
mkagg() { perl mkagg.pl "$@"; }
# the params of a model file, space separated
params() {
	perl -MJSON::PP -MMIME::Base64 -e 'my $r = decode_json(<STDIN>);
	    print join(" ", unpack("f<*", decode_base64($r->{params}{data}))), "\n"' <"$1"
}
# Each bad aggregate must give exit 1, the message, no output, no -o file.
refused() {
	test_must_fail dml-refine --no-verify -m base.model -o new.model "$1" >out 2>err &&
	test_grep "$2" err && test_empty out && ! test -e new.model
}

mkagg 4 5 f64 0.5 1 -1 2 0 0 4 -4 8 >agg.json
dml-keygen -o node.key >node.pub
dml-keygen -o other.key >other.pub

test_expect_success 'help goes to stdout and exits 0' '
	dml-refine --help >out && test_grep "usage: dml-refine" out
'
test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dml-refine agg.json 2>err && test_grep "Try" err &&
	test_expect_code 2 dml-refine -m - agg.json 2>err &&
	test_expect_code 2 dml-refine -m base.model --lr 0 agg.json 2>err &&
	test_expect_code 2 dml-refine -m base.model --lr x agg.json 2>err &&
	test_expect_code 2 dml-refine -m base.model --no-verify --signer node.pub agg.json 2>err &&
	test_expect_code 2 dml-refine -m base.model --signer nosuch.pub agg.json 2>err &&
	test_expect_code 2 dml-refine -m base.model agg.json extra 2>err
'
test_expect_success 'params += ETA * delta / weight; parent and round set' '
	dml-refine --no-verify -m base.model --lr 2 agg.json >new &&
	params new >p && echo "1.25 0.5 -0.5 2 0 0 2 -2 4" >want && test_cmp want p &&
	test_grep "\"round\":6," new &&
	test_grep "^{\"act\":\"relu\",\"arch\":\"softmax\",\"layers\":\[2,3\],\"params\":{\"data\":\"[A-Za-z0-9+/=]*\",\"dtype\":\"f32\",\"shape\":\[9\]},\"parent\":\"bafkrei[a-z2-7]*\",\"round\":6,\"type\":\"dml.model\",\"v\":1}$" new
'
test_expect_success 'the parent is the CID of the base model file' '
	printf "x,y,label\n1,1,0\n" >one.csv &&
	dml-eval -m base.model --csv one.csv >m &&
	cid=$(sed "s/.*\"model\":\"\([a-z0-9]*\)\".*/\1/" m) &&
	dml-refine --no-verify -m base.model agg.json >new &&
	test_grep "\"parent\":\"$cid\"" new
'
test_expect_success 'ETA defaults to 1; round from the base when the aggregate has none' '
	mkagg 2 - f64 2 0 0 0 0 0 0 0 -2 >a2 &&
	dml-refine --no-verify -m base.model a2 >new &&
	params new >p && echo "2 0 0 1 0 0 0 0 -1" >want && test_cmp want p &&
	test_grep "\"round\":4," new &&
	dml-refine --no-verify -m noround.model a2 >new &&
	test_grep "\"round\":1," new
'
test_expect_success 'an f32 sum, stdin and -o' '
	mkagg 1 0 f32 1 1 1 1 1 1 1 1 1 >a3 &&
	dml-refine --no-verify -m base.model -o out.model - <a3 >out && test_empty out &&
	params out.model >p && echo "2 1 1 2 1 1 1 1 1" >want && test_cmp want p &&
	dml-refine --no-verify -m base.model <a3 >new && test_cmp out.model new
'
test_expect_success 'a refined model is a valid model (dml-eval reads it)' '
	dml-refine --no-verify -m base.model agg.json >new &&
	printf "x,y,label\n1,0,0\n" >t.csv && dml-eval -m new --csv t.csv >m &&
	test_grep "\"round\":6," m
'
if test -x "$SIGN"; then
test_expect_success 'a signed aggregate is verified, with or without --signer' '
	"$SIGN" node.key agg.json >signed.json &&
	dml-refine -m base.model signed.json >a &&
	dml-refine -m base.model --signer node.pub signed.json >b && test_cmp a b &&
	dml-refine --no-verify -m base.model agg.json >c && test_cmp a c
'
test_expect_success 'another signer, a forged aggregate, an unsigned one: exit 1' '
	test_must_fail dml-refine -m base.model --signer other.pub -o new.model signed.json >out 2>err &&
	test_grep "^dml-refine: signed.json:1: signed by [0-9a-f]*, not by the --signer key" err &&
	test_empty out && ! test -e new.model &&
	sed "s/\"weight\":4/\"weight\":1/" signed.json >forged.json &&
	test_must_fail dml-refine -m base.model forged.json >out 2>err &&
	test_grep "^dml-refine: forged.json:1: .*signature" err && test_empty out &&
	test_must_fail dml-refine -m base.model agg.json >out 2>err &&
	test_grep "^dml-refine: agg.json:1: the aggregate is not signed" err && test_empty out
'
test_expect_success 'the old spelling -k of --signer still works, with a warning' '
	dml-refine -m base.model -k node.pub signed.json >k 2>err &&
	test_grep "^dml-refine: warning: -k is an old spelling of --signer" err &&
	test_cmp a k &&
	test_must_fail dml-refine -m base.model -k other.pub signed.json 2>err &&
	test_grep "not by the --signer key" err
'
else
test_skip 'signatures (tests/helpers/rec-sign not built)'
fi
test_expect_success 'malformed JSON, truncated last line, empty input, two records' '
	echo "{\"type\":\"dml.aggregate\",}" >bad && refused bad "^dml-refine: bad:1: malformed JSON" &&
	head -c 200 agg.json >bad && refused bad "^dml-refine: bad:1: truncated record" &&
	: >bad && refused bad "^dml-refine: bad: empty input: no dml.aggregate record" &&
	cat agg.json agg.json >bad && refused bad "^dml-refine: bad:2: more than one record" &&
	printf "\n" >blank && cat blank agg.json >bad && dml-refine --no-verify -m base.model bad >/dev/null &&
	echo "{\"type\":\"dml.rerun\",\"v\":1}" >rerun && cat rerun agg.json rerun >ok.json &&
	dml-refine --no-verify -m base.model ok.json >/dev/null &&
	test_must_fail dml-refine --no-verify -m base.model rerun 2>err && test_grep "empty input" err &&
	test_expect_code 2 dml-refine --no-verify -m base.model nosuch 2>err && test_grep "^dml-refine: nosuch: No such file" err &&
	test_must_fail dml-refine --no-verify -m base.model <blank >out 2>err &&
	test_grep "^dml-refine: <stdin>: empty input" err && test_empty out
'
test_expect_success 'wrong record type, wrong task, wrong field types, missing fields' '
	sed "s/dml.aggregate/dml.result/" agg.json >bad && refused bad "^dml-refine: bad:1: expected a dml.aggregate record" &&
	sed "s/\"task\":\"train\"/\"task\":\"predict\"/" agg.json >bad && refused bad "^dml-refine: bad:1: task is \"predict\"" &&
	sed "s/\"weight\":4/\"weight\":\"4\"/" agg.json >bad && refused bad "^dml-refine: bad:1: field \"weight\" must be a number" &&
	sed "s/\"weight\":4/\"weight\":0/" agg.json >bad && refused bad "^dml-refine: bad:1: field \"weight\" must be positive" &&
	sed "s/,\"weight\":4//" agg.json >bad && refused bad "^dml-refine: bad:1: missing field \"weight\"" &&
	sed "s/\"sum\":{\"delta\":/\"sum\":{\"d\":/" agg.json >bad && refused bad "^dml-refine: bad:1: missing field \"sum\".\"delta\"" &&
	sed "s/\"sum\":/\"total\":/" agg.json >bad && refused bad "^dml-refine: bad:1: missing field \"sum\"" &&
	sed "s/\"task\":\"train\",//" agg.json >bad && refused bad "^dml-refine: bad:1: missing field \"task\"" &&
	sed "s/\"round\":5/\"round\":\"5\"/" agg.json >bad && refused bad "^dml-refine: bad:1: field \"round\" must be an integer"
'
test_expect_success 'bad base64, a wrong tensor shape, an overflowing update' '
	sed "s/\"data\":\"A/\"data\":\"#/" agg.json >bad && refused bad "^dml-refine: bad:1: tensor \"sum.delta\": bad base64" &&
	sed "s/\"shape\":\[9\]/\"shape\":[8]/" agg.json >bad && refused bad "^dml-refine: bad:1: tensor \"sum.delta\": data holds" &&
	mkagg 4 5 f64 1 2 3 4 5 6 7 8 >bad && refused bad "^dml-refine: bad:1: tensor \"sum.delta\" must be f32 or f64 of shape \[9\]" &&
	mkagg 1e-300 5 f64 1e300 0 0 0 0 0 0 0 0 >bad && refused bad "^dml-refine: the update makes parameter 0 overflow"
'
test_expect_success 'a bad base model is refused (exit 1) with file:line' '
	sed "s/\"shape\":\[9\]/\"shape\":[8]/" base.model >bm &&
	test_must_fail dml-refine --no-verify -m bm agg.json >out 2>err &&
	test_grep "^dml-refine: bm:1: tensor \"params\": data holds" err && test_empty out &&
	test_expect_code 2 dml-refine --no-verify -m nosuch.model agg.json >out 2>err &&
	test_grep "^dml-refine: nosuch.model: No such file" err && test_empty out
'
test_expect_success '--init makes a seeded first model of the given widths' '
	dml-refine --init 784,32,10 --seed 7 -o i1.json &&
	dml-refine --init 784,32,10 --seed 7 >i2.json &&
	dml-refine --init 784,32,10 --seed 8 >i3.json &&
	cmp i1.json i2.json && ! cmp -s i1.json i3.json &&
	test_grep "\"layers\":\[784,32,10\]" i1.json &&
	test_grep "\"shape\":\[25450\]" i1.json && test_grep "\"round\":0" i1.json
'
test_expect_success '--init refuses bad widths and a softmax with hidden layers' '
	test_expect_code 2 dml-refine --init 784,x,10 2>err && test_grep "bad widths" err &&
	test_expect_code 2 dml-refine --init 784,20,10 --arch softmax 2>err &&
	test_expect_code 2 dml-refine --init 784,10 -m i1.json 2>err
'
test_done
