# Each test body below has one kind of break that contrib/lint/test-chain
# must find (bad.expect: where and what). Read by t0050, never run.
test_expect_success 'a ; after a command whose status is expected (t2300:114)' '
	test_expect_code 1 dml-settle -j j.json 2>err ;
	test_grep "contributions are for job" err
'
test_expect_success 'a bare newline between two commands' '
	dml-job -o job
	dml-job --id job
'
test_expect_success 'a ; inside a group' '
	{ head -1 good; echo "{"; } >m &&
	test_must_fail dml-aggregate m
'
test_expect_success 'a ; inside a subshell' '
	(cd sub; make) &&
	true
'
test_expect_success 'a for loop whose body can fail silently' '
	for i in 1 2; do
		dml-keygen -o k$i
	done
'
test_expect_success 'a while loop whose body can fail silently' '
	while read f; do cmp $f $f.orig && rm $f; done <list
'
test_expect_success 'a bare wait hides the background jobs failures (t2310)' '
	for f in dev.*; do ./device.sh $f & done && wait
'
test_expect_success 'a here-doc command not chained' '
	cat >f <<-\EOF
	a ; b
	EOF
	test -s f
'
test_expect_success 'a ; inside an if branch' '
	if test -f a; then rm a; touch b; fi
'
test_expect_success 'a ; inside a case arm' '
	case $x in
	a) rm a; touch b ;;
	esac
'
test_expect_success 'a newline after fi' '
	if test -f a; then rm a; fi
	touch b
'
test_expect_success 'a && with nothing after it' '
	true &&
'
test_expect_success "a double-quoted body $x" "
	true
	false
"
test_expect_success 'a body spliced with '"$x"' pieces' '
	echo '"$y"'
	false
'
test_expect_success 'a || return 1 then a newline in a loop' '
	i=0 && while [ $i -lt 3 ]; do
		dml-settle claim --index $i || return 1
		i=$((i + 1))
	done
'
