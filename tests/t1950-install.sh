#!/bin/sh
# make install and uninstall, the public API, and the build's hygiene:
# install copies what make built under DESTDIR and PREFIX and writes
# nothing into the tree; a C and a C++ program build against the
# installed libdml with pkg-config; private headers stay private;
# uninstall removes every file install copied; changed flags or a changed
# header rebuild exactly what they touch.
. "$(dirname "$0")/lib.sh"

# make as a user would run it, not with the flags of a `make check` above
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u WERROR -u CFLAGS \
	    -u OPT make --no-print-directory "$@"
}
# install takes the PREFIX the tree was built for (libdml.pc names it)
P=$(sed -n 's/^prefix=//p' "$SRC_DIR/libdml.pc")
R=$TRASH/root
I=$R$P/include/dml
progs=$(cd "$SRC_DIR/cmd" && ls | sed "s/\.c\$//" | sort -u)

test_expect_success 'make install copies under DESTDIR and PREFIX, and writes nothing into the tree' '
	test -n "$P" &&
	: >stamp &&
	mk -s -C "$SRC_DIR" install DESTDIR="$R" PREFIX="$P" >log 2>&1 &&
	(cd "$SRC_DIR" && find . -maxdepth 1 -newer "$TRASH/stamp" &&
	 find bin lib man cmd -newer "$TRASH/stamp") >written &&
	test_empty written &&
	for p in $progs; do
		test -x "$R$P/bin/$p" &&
		test -f "$R$P/share/man/man1/$p.1" || return 1
	done &&
	test -f "$R$P/share/man/man3/dml.3" &&
	test -f "$R$P/share/man/man5/dml-records.5" &&
	test -f "$R$P/share/man/man7/dml.7" &&
	test -f "$R$P/lib/libdml.a" &&
	test_grep "^prefix=$P\$" "$R$P/lib/pkgconfig/libdml.pc" &&
	test_grep "^Cflags: -I\${includedir}\$" "$R$P/lib/pkgconfig/libdml.pc"
'
test_expect_success 'the public headers: flat in include/dml, the umbrella dml.h includes each, no private one' '
	test -f "$I/record.h" && test -f "$I/sign.h" && test -f "$I/chain.h" &&
	for h in cli pipeline cnn; do
		test ! -e "$I/$h.h" || { echo "private $h.h installed"; return 1; }
	done &&
	(cd "$I" && ls *.h | grep -v "^dml\.h\$") >headers &&
	sed -n "s/^#include \"\(.*\)\"\$/\1/p" "$I/dml.h" | sort >included &&
	test_cmp headers included &&
	for h in "$I"/*.h; do
		grep -q "^extern \"C\" {\$" "$h" || test "$h" = "$I/dml.h" ||
			{ echo "$h: no extern \"C\""; return 1; }
	done
'
test_expect_success 'make install refuses a PREFIX the tree was not built for, copying nothing' '
	test_expect_code 2 mk -s -C "$SRC_DIR" install DESTDIR="$TRASH/other" \
		PREFIX=/opt/not-built-for 2>err &&
	test_grep "libdml.pc was made for another PREFIX.*make PREFIX=/opt/not-built-for first" err &&
	test ! -e "$TRASH/other"
'

pc="env PKG_CONFIG_PATH=$R$P/lib/pkgconfig pkg-config --define-variable=prefix=$R$P"
test_expect_success 'a C program builds against the installed libdml (pkg-config)' '
	cat >prog.c <<-\EOF_C &&
	#include <dml/cid.h>
	#include <dml/record.h>
	#include <dml/timefmt.h>
	#include <stdio.h>
	int
	main(void)
	{
		char s[CID_MAXSTR], t[32];
		json_t *r = rec_new("dml.note");

		if (cid_of_bytes("hello\n", 6, s) < 0 || !r)
			return 1;
		timefmt_format(86400, t);
		printf("%s %s\n", s, t);
		rec_write(stdout, r, NULL);
		json_decref(r);
		return 0;
	}
	EOF_C
	cc -std=c99 -Wall -Wextra -Werror ${DML_TEST_CFLAGS:-} -o prog prog.c \
		$($pc --cflags libdml) $($pc --libs libdml) &&
	./prog >out &&
	cat >want <<-\EOF &&
	bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am 1970-01-02T00:00:00Z
	{"type":"dml.note","v":1}
	EOF
	test_cmp want out
'
test_expect_success 'a C++ program builds against the installed libdml (<dml/dml.h>, extern "C")' '
	cat >prog.cc <<-\EOF_CC &&
	#include <dml/dml.h>
	#include <cstdio>
	#include <cstdlib>
	#include <string>
	int
	main()
	{
		char s[CID_MAXSTR];
		json_t *r = rec_new("dml.note");
		if (cid_of_bytes("hello\n", 6, s) < 0 || !r || !amount_ok("42"))
			return 1;
		char *c = canon_dump(r, NULL, NULL, NULL);
		std::string line = std::string(s) + " " + c;
		std::printf("%s\n", line.c_str());
		std::free(c);
		json_decref(r);
		return 0;
	}
	EOF_CC
	g++ -std=c++11 -Wall -Wextra -Werror ${DML_TEST_CFLAGS:-} -o progxx prog.cc \
		$($pc --cflags libdml) $($pc --libs libdml) &&
	./progxx >out &&
	echo "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am {\"type\":\"dml.note\",\"v\":1}" >want &&
	test_cmp want out
'
test_expect_success 'the example of dml(3) builds and checks signatures' '
	sed -n "/^\.Sh EXAMPLES/,/^\.Ed/p" "$R$P/share/man/man3/dml.3" |
		sed -e "1,/^\.Bd/d" -e "/^\.Ed/d" -e "s/\\\\e/\\\\/g" >verify.c &&
	test_grep "^main(int argc" verify.c &&
	cc -Wall -Wextra -Werror ${DML_TEST_CFLAGS:-} -o verify verify.c \
		$($pc --cflags libdml) $($pc --libs libdml) &&
	dml-keygen -o id.key >id.pub &&
	dml-keygen --eth -o e.key --payee id.key >payee.json &&
	sed "s/\"v\":1/\"v\":2/" payee.json >forged.json &&
	./verify payee.json >out &&
	echo "1 good, 0 bad" >want && test_cmp want out &&
	cat payee.json forged.json | test_must_fail ./verify >out 2>err &&
	echo "1 good, 1 bad" >want && test_cmp want out &&
	test_grep "^verify: <stdin>:2: bad signature" err &&
	test_expect_code 2 ./verify missing.json 2>err &&
	test_grep "^verify: missing.json: No such file" err
'
test_expect_success 'installed man pages format without warnings' '
	for m in "$R$P"/share/man/man?/*; do
		groff -mandoc -Tutf8 -ww -z "$m" 2>>warn || return 1
	done &&
	test_empty warn
'
test_expect_success 'make uninstall removes every file install copied' '
	mk -s -C "$SRC_DIR" uninstall DESTDIR="$R" PREFIX="$P" >log 2>&1 &&
	find "$R" ! -type d >left &&
	test_empty left
'

# The build's dependencies, in a copy of the sources (the tree itself is
# in use by the other tests): one object per step, so it is cheap.
test_expect_success 'a changed header or changed flags rebuild exactly what they touch' '
	mkdir b b/contrib &&
	cp "$SRC_DIR/Makefile" b/ &&
	cp "$SRC_DIR/contrib/install-deps" "$SRC_DIR/contrib/packages" b/contrib/ &&
	cp -R "$SRC_DIR/lib" b/ &&
	find b/lib -name "*.[oad]" -exec rm -f {} + &&
	: >b/.deps-ok &&
	o="lib/base/rng.o lib/base/amount.o" &&
	mk -C b $o >log 2>&1 &&
	test_grep "-o lib/base/rng.o lib/base/rng.c" log &&
	mk -C b $o >log 2>&1 &&
	! grep -e "-o lib/base/" log &&
	sleep 1 && touch b/lib/base/rng.h &&
	mk -C b $o >log 2>&1 &&
	test_grep "-o lib/base/rng.o lib/base/rng.c" log &&
	! grep -e "-o lib/base/amount.o" log &&
	mk -C b $o CFLAGS=-DDML_T1950 >log 2>&1 &&
	test_grep "-DDML_T1950 .*-o lib/base/rng.o" log &&
	test_grep "-DDML_T1950 .*-o lib/base/amount.o" log &&
	mk -C b $o CFLAGS=-DDML_T1950 SANITIZE=1 >log 2>&1 &&
	test_grep "-fsanitize=address,undefined .*-o lib/base/rng.o" log &&
	test_grep "-fsanitize=address,undefined .*-o lib/base/amount.o" log
'
test_done
