#!/bin/sh
# make install: programs, man pages, libdml and libdml.pc under DESTDIR,
# and a program built against the installed library.
. "$(dirname "$0")/lib.sh"

R=$TRASH/root
test_expect_success 'make install honours DESTDIR and PREFIX' '
	make -s -C "$SRC_DIR" install DESTDIR="$R" PREFIX=/opt/dml >log 2>&1 &&
	for p in "$SRC_DIR"/cmd/dml-*.c; do
		n=$(basename "$p" .c) &&
		test -x "$R/opt/dml/bin/$n" &&
		test -f "$R/opt/dml/share/man/man1/$n.1" || return 1
	done &&
	test -f "$R/opt/dml/share/man/man5/dml-records.5" &&
	test -f "$R/opt/dml/share/man/man7/dml.7" &&
	test -f "$R/opt/dml/lib/libdml.a" &&
	test -f "$R/opt/dml/include/dml/record.h" &&
	test_grep "^prefix=/opt/dml" "$R/opt/dml/lib/pkgconfig/libdml.pc"
'
test_expect_success 'a program links against the installed libdml' '
	cat >prog.c <<-\EOF_C &&
	#include <record.h>
	#include <cid.h>
	#include <stdio.h>
	int main(void) { char s[CID_MAXSTR]; cid_of_bytes("hello\n", 6, s); puts(s); return 0; }
	EOF_C
	pc="env PKG_CONFIG_PATH=$R/opt/dml/lib/pkgconfig pkg-config --define-variable=prefix=$R/opt/dml" &&
	cc ${DML_TEST_CFLAGS:-} -o prog prog.c $($pc --cflags libdml) $($pc --libs libdml) &&
	./prog >out &&
	echo bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am >want &&
	test_cmp want out
'
test_expect_success 'installed man pages format without warnings' '
	for m in "$R"/opt/dml/share/man/man?/*; do
		groff -mandoc -Tutf8 -ww -z "$m" 2>>warn || return 1
	done &&
	test_empty warn
'
test_done
