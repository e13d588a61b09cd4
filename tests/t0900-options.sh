#!/bin/sh
# Every program parses its command line through lib/base/cli: the same
# answers to --help and --version, to an unknown option, to an option
# without its value, to a bad value of a common option, to a missing input
# file (exit 2 everywhere), and the same letters (dml(7)).
. "$(dirname "$0")/lib.sh"

# the programs, as the sources name them (cmd/NAME.c or cmd/NAME/)
progs=$(cd "$SRC_DIR/cmd" && ls | sed "s/\.c\$//" | sort -u)

test_expect_success 'every program parses its options through lib/base/cli' '
	test "$(echo $progs | wc -w)" -eq 18 &&
	for p in $progs; do
		if test -d "$SRC_DIR/cmd/$p"; then cat "$SRC_DIR/cmd/$p"/*.c >src
		else cat "$SRC_DIR/cmd/$p.c" >src; fi &&
		grep -q "cli_init(" src && ! grep -q "getopt" src ||
		{ echo "$p does not parse through cli_init"; return 1; }
	done
'

# usage_fails PATTERN PROG ARGS...: exit 2, PATTERN on stderr (after the
# program's name), the hint to --help, nothing on stdout.
usage_fails() {
	pat=$1; prog=$2; shift
	test_expect_code 2 "$@" >out 2>err &&
	test_grep "^$prog: $pat" err && test_grep "^Try '$prog.*--help'" err &&
	test_empty out
}

# fails CODE PATTERN PROG ARGS...: exit CODE, PATTERN on stderr, nothing on
# stdout.
fails() {
	code=$1; pat=$2; prog=$3; shift 2
	test_expect_code "$code" "$@" >out 2>err &&
	test_grep "^$prog: $pat" err && test_empty out
}

test_expect_success 'every program: --help on stdout, exit 0; --version' '
	for p in $progs; do
		$p --help >out 2>err && test_grep "^usage: $p" out &&
		test_empty err && $p -h >out2 && test_cmp out out2 &&
		$p --version >out && test_grep "^$p (dml) " out || return 1
	done
'
test_expect_success 'every option in a program s table is in its --help and its man page' '
	for p in $progs; do
		if test -d "$SRC_DIR/cmd/$p"; then cat "$SRC_DIR/cmd/$p"/*.c >src
		else cat "$SRC_DIR/cmd/$p.c" >src; fi &&
		{ grep -oE "\{\"[a-z][a-z0-9-]*\", ('"'"'.'"'"'|0), [01]," src || :; } >t1 &&
		{ grep -oE "L\(\"[a-z][a-z0-9-]*\"" src || :; } >t2 &&
		sed "s/^[{L(]*\"//; s/\".*//" t1 t2 | sort -u >names &&
		test -s names &&
		$p --help >help &&
		while read -r o; do
			{ grep -q -- "--$o" help || { echo "$p: --$o not in --help"; return 1; }; } &&
			grep -q -- "-$o" "$SRC_DIR/man/man1/$p.1" ||
			{ echo "$p: --$o not in $p(1)"; return 1; }
		done <names || return 1
	done
'
test_expect_success 'every program: an unknown option is named, exit 2' '
	for p in $progs; do
		usage_fails "--no-such-option: unknown option" $p --no-such-option &&
		usage_fails "-Q: unknown option" $p -Q || return 1
	done
'
test_expect_success 'every program with -o: -o without its value is named, exit 2' '
	for p in $progs; do
		usage_fails "--output: needs a value" $p -o || return 1
	done
'

# The common options, in every program whose usage lists them.
keyprogs=$(for p in $progs; do $p --help | grep -q -- "-k, --key" && echo $p; done)
# (dml-keygen's --seed is a text, a demo identity's passphrase: any is good)
seedprogs=$(for p in $progs; do test $p = dml-keygen ||
	{ $p --help | grep -q -- "--seed" && echo $p; }; done)

test_expect_success 'every program with --seed: a bad seed is named, exit 2' '
	for p in $seedprogs; do
		usage_fails "--seed: .x. is not" $p --seed x &&
		usage_fails "--seed: .-1. is not" $p --seed=-1 &&
		usage_fails "--seed: .18446744073709551616. is not" $p --seed 18446744073709551616 ||
		return 1
	done
'
test_expect_success 'every program with -k: the usage says DML_KEY is its default' '
	for p in $keyprogs; do
		$p --help >out && test_grep "DML_KEY" out || { echo "$p: no DML_KEY in --help"; return 1; }
	done
'
test_expect_success 'dml-eval: a missing model or device folder is exit 2, a bad --round is named' '
	fails 2 "nosuch: No such file" dml-eval -m nosuch &&
	usage_fails "--round: .x. is not an integer" dml-eval --round x &&
	usage_fails "--round: .-1. is out of range" dml-eval --round -1
'
# A missing input file, named by the common option (or operand) that gave
# it, is exit 2 in every program; the rest of each line is valid enough
# that the missing file is what stops the program.
test_expect_success 'a missing key, job, model or input file: exit 2, named' '
	dml-keygen -o k.key >k.pub && mkdir dev &&
	dml-job -k k.key -t stats --data x --features 1 --classes 1 --budget 0 -o job.json &&
	while read -r p args; do
		test_expect_code 2 $p $args </dev/null >out 2>err &&
		test_grep "^$p: \([a-z]*: \)\{0,1\}nosuch[a-z.]*: No such file" err &&
		test_empty out || { echo "$p $args"; return 1; }
	done <<-\EOF
	dml-aggregate -k nosuch.key -j job.json
	dml-aggregate -k k.key -j nosuch.json
	dml-auction --capacity 5 -L nosuch.nd job.json
	dml-distribute -k nosuch.key -j job.json --node k.pub
	dml-distribute -k k.key -j nosuch.json --node k.pub
	dml-encrypt -k nosuch.key -r k.pub
	dml-encrypt -d -k nosuch.key
	dml-eval -m nosuch.model
	dml-ipfs-put --repo r nosuch
	dml-job -k nosuch.key -t stats --data x --features 1 --classes 1 --budget 0
	dml-job -k k.key -t train --data x -m nosuch.model --budget 0
	dml-keygen -p nosuch.key
	dml-ledger -L l.nd transfer -k nosuch.key --to k.pub --amount 1
	dml-ledger -L nosuch.nd verify
	dml-market add -i idx nosuch.listing
	dml-privacy clip -k k.key -j nosuch.json
	dml-refine -m nosuch.model k.pub
	dml-report -k nosuch.key -j job.json
	dml-report -k k.key -j nosuch.json
	dml-run -k nosuch.key -j job.json -D dev
	dml-run -k k.key -j nosuch.json -D dev
	dml-settle -L l.nd -k nosuch.key -j job.json --stored k.pub --contributions k.pub
	dml-settle -L l.nd -k k.key -j nosuch.json --stored k.pub --contributions k.pub
	dml-split --devices 2 --idx nosuch nosuch -o x
	dml-weight -k k.key -j nosuch.json -w w.out --answers k.pub
	EOF
'
test_expect_success 'DML_KEY is the key when -k is not given, and -k wins over it' '
	DML_KEY=nosuch.key && export DML_KEY &&
	test_expect_code 2 dml-aggregate -j job.json </dev/null 2>err &&
	test_grep "^dml-aggregate: nosuch.key: No such file" err &&
	test_expect_code 2 dml-run -j job.json -D dev </dev/null 2>err &&
	test_grep "^dml-run: nosuch.key: No such file" err &&
	test_expect_code 2 dml-aggregate -k other.key -j job.json </dev/null 2>err &&
	test_grep "^dml-aggregate: other.key: No such file" err
'
test_expect_success 'an old spelling still works, with a warning naming the new one' '
	test_expect_code 2 dml-eval -m nosuch -d nodir 2>err &&
	test_grep "^dml-eval: warning: -d is an old spelling of --device" err &&
	test_expect_code 2 dml-eval -m nosuch --dir nodir 2>err &&
	test_grep "^dml-eval: warning: --dir is an old spelling of --device" err
'
test_done
