#!/bin/sh
# dml-split: device folders from IDX and CSV data, partitions, determinism,
# profiles, and refusal of bad data without leaving a folder behind.
. "$(dirname "$0")/lib.sh"

export OPENBLAS_NUM_THREADS=1
IMG=$DATA/train-images-idx3-ubyte.gz
LAB=$DATA/train-labels-idx1-ubyte.gz

# perl one-liners over JSON (perl and its core modules are build deps)
jq_() { perl -MJSON::PP -e "$@"; }

# a zero softmax model 784-10 (every probability 1/10)
printf '{"act":"relu","arch":"softmax","layers":[784,10],"params":{"data":"%s","dtype":"f32","shape":[7850]},"type":"dml.model","v":1}\n' \
	"$(head -c 31400 /dev/zero | base64 -w0)" >zero.model

test_expect_success 'help goes to stdout and exits 0' '
	dml-split --help >out && test_grep "usage: dml-split" out
'
test_expect_success 'usage errors exit 2 and create nothing' '
	test_expect_code 2 dml-split -o d 2>err && test_grep "Try" err &&
	test_expect_code 2 dml-split --devices 2 2>err &&
	test_expect_code 2 dml-split --devices 0 -o d 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --partition zipf 2>err &&
	test_grep "iid, dirichlet or classes" err &&
	test_expect_code 2 dml-split --devices 2 -o d --alpha -1 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --consent-rate 1.5 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --seed x 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --idx onlyone 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --idx a b --csv c 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d --bogus 2>err &&
	test_expect_code 2 dml-split --devices 2 -o d extra 2>err &&
	! test -e d
'
test_expect_success 'an IID split of Fashion-MNIST: folders, profiles, summary' '
	dml-split --devices 5 --limit 1000 --seed 1 -o iid >out &&
	test $(wc -l <out) = 1 &&
	test_grep "^{\"classes\":10,\"consent_rate\":0.9,\"consenting\":[0-9]*,\"data\":\"fashion-mnist\",\"devices\":5,\"features\":784,\"format\":\"idx\",\"partition\":\"iid\",\"samples\":1000,\"seed\":1,\"source\":\"train-images-idx3-ubyte.gz\",\"type\":\"dml.split\",\"v\":1}$" out &&
	ls iid >dirs && printf "dev-0001\ndev-0002\ndev-0003\ndev-0004\ndev-0005\nsplit.json\n" >want &&
	test_cmp want dirs &&
	ls iid/dev-0003 >files && printf "images-idx3-ubyte\nlabels-idx1-ubyte\nprofile.json\n" >want &&
	test_cmp want files &&
	test $(wc -l <iid/dev-0003/profile.json) = 1 &&
	test_grep "^{\"attrs\":{\"age_band\":\"[0-9+-]*\",\"os\":\"[a-z]*\",\"ram_gb\":[0-9]*,\"region\":\"[a-z]*\"},\"consent\":\[[^]]*\],\"data\":{\"classes\":10,\"features\":784,\"files\":\[\"images-idx3-ubyte\",\"labels-idx1-ubyte\"\],\"format\":\"idx\",\"n\":200,\"type\":\"fashion-mnist\"},\"id\":\"dev-0003\",\"type\":\"dml.profile\",\"v\":1}$" iid/dev-0003/profile.json &&
	test $(stat -c %s iid/dev-0003/labels-idx1-ubyte) = 208 &&
	test $(stat -c %s iid/dev-0003/images-idx3-ubyte) = $((16 + 200 * 784))
'
test_expect_success 'split.json counts every device and sums to the samples' '
	jq_ "my \$s = decode_json(<STDIN>); my \$t = 0;
	    for my \$d (@{\$s->{per_device}}) { die \"empty\" unless \$d->{n} > 0;
	        my \$l = 0; \$l += \$_ for @{\$d->{labels}}; die \"labels\" unless \$l == \$d->{n};
	        \$t += \$d->{n} }
	    die \"total \$t\" unless \$t == 1000 && \$s->{samples} == 1000;
	    print scalar @{\$s->{per_device}}, \"\n\"" <iid/split.json >n &&
	echo 5 >want && test_cmp want n
'
test_expect_success 'a device folder reads back (dml-eval -D)' '
	dml-eval -m zero.model -D iid/dev-0002 >m &&
	test_grep "\"data\":\"dev-0002\"" m && test_grep "\"n\":200," m &&
	test_grep "\"loss\":2.302585" m
'
test_expect_success 'the same seed gives byte-identical folders, another seed others' '
	dml-split --devices 5 --limit 1000 --seed 1 -o iid2 >out2 &&
	diff -r iid iid2 && test_cmp out out2 &&
	dml-split --devices 5 --limit 1000 --seed 2 -o iid3 >out3 &&
	! diff -r iid iid3 >/dev/null
'
test_expect_success 'dirichlet: every device non-empty, labels skewed' '
	dml-split --devices 20 --limit 2000 --partition dirichlet --alpha 0.1 --seed 4 -o dir >/dev/null &&
	dml-split --devices 20 --limit 2000 --seed 4 -o iid20 >/dev/null &&
	skew="my \$s = decode_json(<STDIN>); my \$m = 0;
	    for my \$d (@{\$s->{per_device}}) { die \"empty\" unless \$d->{n} > 0;
	        my (\$top) = sort { \$b <=> \$a } @{\$d->{labels}}; \$m += \$top / \$d->{n} }
	    printf \"%.0f\n\", 100 * \$m / @{\$s->{per_device}}" &&
	d=$(jq_ "$skew" <dir/split.json) && i=$(jq_ "$skew" <iid20/split.json) &&
	echo "top class share: dirichlet $d%, iid $i%" &&
	test "$d" -gt 50 && test "$i" -lt 30
'
test_expect_success 'dirichlet with more devices than some classes still fills every device' '
	dml-split --devices 200 --limit 400 --partition dirichlet --alpha 0.01 -o many >/dev/null &&
	for f in many/dev-*/labels-idx1-ubyte; do
		test $(stat -c %s $f) -gt 8 || exit 1
	done
'
test_expect_success 'classes: each device holds exactly C classes' '
	dml-split --devices 5 --limit 1000 --partition classes --classes 2 -o cls >out &&
	test_grep "\"classes_per_device\":2" out &&
	jq_ "my \$s = decode_json(<STDIN>);
	    for my \$d (@{\$s->{per_device}}) { my \$k = grep { \$_ > 0 } @{\$d->{labels}};
	        die \"\$d->{id} holds \$k classes\" unless \$k == 2 }" <cls/split.json
'
test_expect_success 'consent rate 0 and 1' '
	dml-split --devices 3 --limit 30 --consent-rate 0 -o c0 >out &&
	test_grep "\"consenting\":0" out &&
	cat c0/dev-*/profile.json | grep -c "\"consent\":\[\]" >n && echo 3 >want && test_cmp want n &&
	dml-split --devices 3 --limit 30 --consent-rate 1 --type shirts -o c1 >out &&
	cat c1/dev-*/profile.json | grep -c "\"consent\":\[\"shirts\"\]" >n && echo 3 >want && test_cmp want n
'
test_expect_success 'a CSV split keeps the header and the label column' '
	awk "BEGIN { print \"a,b,kind\"; for (i = 0; i < 40; i++) printf \"%d,%g,%d\n\", i, i / 40, i % 3 }" >iris.csv &&
	dml-split --devices 4 --csv iris.csv --label kind -o csv >out &&
	test_grep "\"data\":\"iris\"" out && test_grep "\"format\":\"csv\"" out &&
	test_grep "\"files\":\[\"data.csv\"\],\"format\":\"csv\",\"label\":\"kind\",\"n\":10," csv/dev-0001/profile.json &&
	head -1 csv/dev-0001/data.csv >h && echo "a,b,kind" >want && test_cmp want h &&
	cat csv/dev-*/data.csv | grep -v kind | sort >all && tail -n +2 iris.csv | sort >want &&
	test_cmp want all
'
test_expect_success 'an empty output folder is used, a non-empty one refused (exit 2)' '
	mkdir empty && dml-split --devices 2 --limit 10 -o empty/ >/dev/null && test -f empty/split.json &&
	mkdir full && echo x >full/keep &&
	test_expect_code 2 dml-split --devices 2 --limit 10 -o full 2>err &&
	test_grep "full: exists and is not empty" err && ls full >l && echo keep >want && test_cmp want l &&
	echo x >afile && test_expect_code 2 dml-split --devices 2 --limit 10 -o afile 2>err &&
	test_grep "not a directory" err
'
test_expect_success 'a missing file is a system error (exit 2), nothing created' '
	test_expect_code 2 dml-split --devices 2 --idx nosuch $LAB -o x >out 2>err &&
	test_grep "^dml-split: nosuch: No such file" err && test_empty out && ! test -e x
'
test_expect_success 'truncated or mismatched IDX refused (exit 1), nothing created' '
	gzip -dc $IMG | head -c 100000 >short-images &&
	test_must_fail dml-split --devices 2 --idx short-images $LAB -o x >out 2>err &&
	test_grep "short-images: truncated: item 128 of 60000" err && test_empty out &&
	printf "\0\0\10\1\0\0\0\3abc" >three-labels &&
	test_must_fail dml-split --devices 2 --idx $IMG three-labels -o x >out 2>err &&
	test_grep "three-labels: 3 labels for the 60000 images" err &&
	printf "not an idx file" >junk &&
	test_must_fail dml-split --devices 2 --idx junk $LAB -o x 2>err &&
	test_grep "junk: not an IDX file" err && ! test -e x
'
test_expect_success 'bad CSV rows name file and line (exit 1), nothing created' '
	printf "a,b,y\n1,2,0\n1,x,1\n" >bad.csv &&
	test_must_fail dml-split --devices 1 --csv bad.csv -o x >out 2>err &&
	test_grep "^dml-split: bad.csv:3: column 1: \"x\" is not a finite number" err &&
	printf "a,b,y\n1,2,0\n1,2\n" >short.csv &&
	test_must_fail dml-split --devices 1 --csv short.csv -o x 2>err &&
	test_grep "short.csv:3: 2 fields, expected 3" err &&
	printf "a,b,y\n1,2,0.5\n" >frac.csv &&
	test_must_fail dml-split --devices 1 --csv frac.csv -o x 2>err &&
	test_grep "frac.csv:2: label \"0.5\" is not an integer" err &&
	: >empty.csv && test_must_fail dml-split --devices 1 --csv empty.csv -o x 2>err &&
	test_grep "empty.csv: no samples" err &&
	test_must_fail dml-split --devices 1 --csv bad.csv --label nope -o x 2>err &&
	test_grep "no column named \"nope\"" err && test_empty out && ! test -e x
'
test_expect_success 'more devices than samples refused (exit 1)' '
	test_must_fail dml-split --devices 11 --limit 10 -o x 2>err &&
	test_grep "cannot split 10 samples among 11 devices" err && ! test -e x
'
test_expect_success 'labelling profiles and malicious devices: seeded subsets in profile.json' '
	dml-split --devices 10 --limit 200 --seed 4 --labelling noisy:0.3=0.3,adversarial=0.2 \
		--malicious 0.2 --attack scale:10 -o roles >out &&
	test $(grep -l "\"kind\":\"noisy\",\"rate\":0.3" roles/dev-*/profile.json | wc -l) = 3 &&
	test $(grep -l "\"kind\":\"adversarial\"" roles/dev-*/profile.json | wc -l) = 2 &&
	test $(grep -l "\"kind\":\"careful\"" roles/dev-*/profile.json | wc -l) = 5 &&
	test $(grep -l "\"malicious\":{\"attack\":\"scale\",\"lambda\":10}" roles/dev-*/profile.json | wc -l) = 2 &&
	test_grep "\"label_profile\"" roles/split.json &&
	dml-split --devices 10 --limit 200 --seed 4 --labelling noisy:0.3=0.3,adversarial=0.2 \
		--malicious 0.2 --attack scale:10 -o roles2 >/dev/null &&
	cat roles/dev-*/profile.json >a && cat roles2/dev-*/profile.json >b && test_cmp a b
'
test_expect_success 'bad labelling and attack options are usage errors' '
	test_expect_code 2 dml-split --devices 4 --limit 40 --labelling noisy:2=0.1 -o x 2>err &&
	test_grep "labelling" err &&
	test_expect_code 2 dml-split --devices 4 --limit 40 --labelling noisy:0.1=0.7,adversarial=0.5 -o x 2>err &&
	test_grep "more than 1" err &&
	test_expect_code 2 dml-split --devices 4 --limit 40 --labelling sloppy=0.5 -o x 2>err &&
	test_expect_code 2 dml-split --devices 4 --limit 40 --malicious 0.5 -o x 2>err &&
	test_grep "go together" err &&
	test_expect_code 2 dml-split --devices 4 --limit 40 --malicious 0.5 --attack bogus -o x 2>err &&
	test_grep "attack" err &&
	test_expect_code 2 dml-split --devices 4 --limit 40 --malicious 0.5 --attack noise:0 -o x 2>err &&
	! test -e x
'
test_expect_success 'the old one-letter spellings still work, with a warning each' '
	dml-split -n 4 -p dirichlet -a 0.5 -s 7 -t shirts --limit 200 -o old >old.out 2>err &&
	for o in "-n devices" "-p partition" "-a alpha" "-s seed" "-t type"; do
		test_grep "^dml-split: warning: ${o% *} is an old spelling of --${o#* }" err || return 1
	done &&
	dml-split --devices 4 --partition dirichlet --alpha 0.5 --seed 7 --type shirts \
		--limit 200 -o new >new.out 2>err &&
	test_empty err && test_cmp old.out new.out && diff -r old new &&
	dml-split --devices 4 --partition classes -c 3 --limit 200 -o old3 >/dev/null 2>err &&
	test_grep "^dml-split: warning: -c is an old spelling of --classes" err
'
test_expect_success 'a seed must fit split.json: below 2^53' '
	test_expect_code 2 dml-split --devices 2 --seed 9007199254740992 -o x 2>err &&
	test_grep "^dml-split: --seed: .9007199254740992. is not below 2^53" err && ! test -e x
'
test_done
