# Test bodies that contrib/lint/test-chain must accept: every command is
# chained, in the forms the suite uses. Read by t0050, never run.
test_expect_success 'chains across here-docs, groups, loops and branches' '
	cat >f <<-\EOF &&
	x ; y
	z
	EOF
	cat >g <<EOF &&
a ; b
EOF
	{ a && b; } >out &&
	a || { echo "why"; return 1; } &&
	for i in 1 2; do a $i || return 1; done &&
	for i in 1 2; do
		a $i &&
		b $i || { echo "$i failed"; return 1; }
	done &&
	while read x; do a || return 1; done <f &&
	if a; then b && c; elif d; then e; else f; fi &&
	case $x in
	a|b) c && d ;;
	(*) ;;
	esac &&
	x=$(a; b) && y="$(c; d)" && z=`e; f` && w=${v:-a;b} &&
	echo "a;b" '"'"'c;d'"'"' \; &&
	find . -name "*.o" -exec rm {} \; &&
	pids= &&
	for i in 1 2; do
		a $i & pids="$pids $!" || return 1
	done &&
	test_wait $pids &&
	a | b && ! c &&
	a |
		b &&
	(cd x && make) &&
	f() { a && b; } &&
	long command \
		continued &&
	test_must_fail cmd 2>&1 >out # a comment; here
'
test_expect_success 'a body on the next line' \
'
	a && b
'
test_expect_success "a double-quoted body" "
	a \"\$x\" &&
	b
"
