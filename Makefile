# dml: the Decentralized Machine Learning toolchain.
# make            build every program and lib/libdml.a
# make check      run the test suite (TAP, prove)
# make demo       run examples/quickstart
# make bench      run the benchmarks under contrib/bench
# make install    copies what make built: PREFIX (the same as at build
#                 time: libdml.pc names it), DESTDIR, MANPREFIX honoured
# make uninstall  removes every file install copied
# Variables: WERROR=1 turns warnings into errors; SANITIZE=1 builds with
# AddressSanitizer and UndefinedBehaviorSanitizer.

VERSION   = 0.2.0
PREFIX    = /usr/local
BINDIR    = $(PREFIX)/bin
LIBDIR    = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
# the public headers, flat: a user writes #include <dml/record.h>
INCDIR    = $(INCLUDEDIR)/dml
MANPREFIX = $(PREFIX)/share/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

# the libraries' pkg-config names, from the one package list
PKGS := $(shell contrib/install-deps --pkg-config)
# recursive on purpose: evaluated after contrib/install-deps has run
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

CC      ?= cc
OPT     ?= -O2 -g
CFLAGS  ?=
WARN     = -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
ifeq ($(SANITIZE),1)
OPT     += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANLDFLAGS = -fsanitize=address,undefined
endif
# lib/ has one folder per layer, lowest first; contrib/lint/check-layers
# says which folder may include which.
LAYERS   = base crypto ml net protocol ledger chain
LIBINC   = $(addprefix -Ilib/,$(LAYERS))
ALL_CFLAGS  = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(OPT) $(WARN) $(LIBINC) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANLDFLAGS) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lpthread -lm

LIBSRC := $(wildcard $(LAYERS:%=lib/%/*.c) $(LAYERS:%=lib/%/*/*.c))
LIBOBJ := $(LIBSRC:.c=.o)
LIBHDR := $(wildcard $(LAYERS:%=lib/%/*.h) $(LAYERS:%=lib/%/*/*.h))
CMDSRC := $(wildcard cmd/dml-*.c)
# a program with subcommands may be a folder, cmd/NAME/*.c
CMDDIRS := $(patsubst %/,%,$(wildcard cmd/dml-*/))
CMDDIROBJ := $(patsubst %.c,%.o,$(foreach d,$(CMDDIRS),$(wildcard $(d)/*.c)))
PROGS  := $(CMDSRC:cmd/%.c=bin/%) $(CMDDIRS:cmd/%=bin/%)
UNITSRC := $(wildcard tests/unit/t-*.c)
UNITS  := $(UNITSRC:.c=.t)
HELPERSRC := $(wildcard tests/helpers/*.c)
HELPERS := $(HELPERSRC:.c=)
MAN1   := $(wildcard man/man1/*.1)
MAN3   := $(wildcard man/man3/*.3)
MAN5   := $(wildcard man/man5/*.5)
MAN7   := $(wildcard man/man7/*.7)
# The public API is every lib header but these, plus the umbrella
# lib/dml.h: cli exits the process (it is the programs' option parser),
# pipeline and cnn are internals of aggregate and model. Public headers
# include each other by bare name, which resolves in the one installed
# folder.
PRIVHDR = lib/base/cli.h lib/base/pipeline.h lib/ml/cnn.h lib/protocol/secagg/secagg_private.h
PUBHDR := $(filter-out $(PRIVHDR),$(LIBHDR)) lib/dml.h

all: lib/libdml.a $(PROGS) libdml.pc

# A fresh machine gets its packages on the first build (see README).
.deps-ok: contrib/install-deps contrib/packages
	contrib/install-deps
	@touch $@

# Every object and program depends on the headers it includes (-MMD) and
# on the flags it was built with: .flags changes when CFLAGS, SANITIZE,
# WERROR or the compiler do, so `make` then `make SANITIZE=1 check`
# rebuilds everything the new flags touch.
DEPFLAGS = -MMD -MP
.flags: FORCE
	@printf '%s\n' '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LIBS)' > .flags.new
	@if cmp -s .flags.new .flags; then rm -f .flags.new; else mv .flags.new .flags; fi

lib/%.o: lib/%.c .flags | .deps-ok
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

lib/libdml.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

bin/%: cmd/%.c lib/libdml.a .flags
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d $(ALL_LDFLAGS) -o $@ $< lib/libdml.a $(LIBS)

cmd/%.o: cmd/%.c .flags | .deps-ok
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

.SECONDEXPANSION:
$(CMDDIRS:cmd/%=bin/%): bin/%: $$(subst .c,.o,$$(wildcard cmd/$$*/*.c)) lib/libdml.a
	@mkdir -p bin
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) lib/libdml.a $(LIBS)

tests/unit/%.t: tests/unit/%.c lib/libdml.a .flags
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d $(ALL_LDFLAGS) -Itests/unit -o $@ $< lib/libdml.a $(LIBS)

tests/helpers/%: tests/helpers/%.c lib/libdml.a .flags
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d $(ALL_LDFLAGS) -o $@ $< lib/libdml.a $(LIBS)

# single-file programs only: a program that became a folder leaves a stale
# bin/NAME.d naming cmd/NAME.c
-include $(LIBOBJ:.o=.d) $(CMDDIROBJ:.o=.d) $(CMDSRC:cmd/%.c=bin/%.d) $(UNITS:=.d) $(HELPERS:=.d)

# libdml.pc is made at build time for the PREFIX given then (rewritten
# only when its text changes); make install copies it, and refuses when
# it was made for another PREFIX rather than write into the tree.
PCTEXT = printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: libdml\nDescription: Decentralized Machine Learning toolchain library\nVersion: %s\nRequires: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -ldml -lpthread -lm\n' \
	  '$(PREFIX)' '$(subst $(PREFIX),$${prefix},$(LIBDIR))' \
	  '$(subst $(PREFIX),$${prefix},$(INCLUDEDIR))' '$(VERSION)' '$(PKGS)'
libdml.pc: FORCE
	@$(PCTEXT) > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

check: all $(UNITS) $(HELPERS) check-layers check-size test-lint
	DML_TEST_CFLAGS='$(SANLDFLAGS)' prove -j2 --exec '' tests/unit/*.t tests/t[0-9]*.sh

# No include may go up a layer or sideways outside the map.
check-layers:
	contrib/lint/check-layers

# A program is option parsing, a record loop and library calls: at most
# 300 lines a file; no function anywhere over 120 lines.
check-size:
	contrib/lint/long-functions
	@awk 'FNR == 1 && NR > 1 && n > 300 { print f ": " n " lines (at most 300)"; bad = 1 } \
	    { f = FILENAME; n = FNR } END { if (n > 300) { print f ": " n " lines (at most 300)"; bad = 1 } exit bad }' \
	    $(CMDSRC) $(wildcard cmd/*/*.c)
	@echo "check-size: every function <= 120 lines, every program file <= 300"

# Every command of a test body chained with && (git's test-lint).
test-lint:
	contrib/lint/test-chain tests/*.sh

demo: all
	$(MAKE) -C examples/quickstart

bench: all
	contrib/bench/run

# install copies and nothing else: no build step, no write into the tree.
install:
	@for f in lib/libdml.a libdml.pc $(PROGS); do \
	  test -f $$f || { echo "make install: $$f is not built: run make first" >&2; exit 2; }; done
	@$(PCTEXT) | cmp -s - libdml.pc || { \
	  echo "make install: libdml.pc was made for another PREFIX or LIBDIR ($$(sed -n 's/^prefix=//p' libdml.pc)): run make PREFIX=$(PREFIX) first" >&2; exit 2; }
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANPREFIX)/man1 \
	  $(DESTDIR)$(MANPREFIX)/man3 $(DESTDIR)$(MANPREFIX)/man5 \
	  $(DESTDIR)$(MANPREFIX)/man7
	cp -f $(PROGS) $(DESTDIR)$(BINDIR)/
	cp -f lib/libdml.a $(DESTDIR)$(LIBDIR)/
	cp -f $(PUBHDR) $(DESTDIR)$(INCDIR)/
	cp -f libdml.pc $(DESTDIR)$(PKGCONFIGDIR)/
	cp -f $(MAN1) $(DESTDIR)$(MANPREFIX)/man1/
	cp -f $(MAN3) $(DESTDIR)$(MANPREFIX)/man3/
	cp -f $(MAN5) $(DESTDIR)$(MANPREFIX)/man5/
	cp -f $(MAN7) $(DESTDIR)$(MANPREFIX)/man7/

# every file install copied, by name (the folders may hold others')
uninstall:
	rm -f $(PROGS:bin/%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libdml.a $(DESTDIR)$(PKGCONFIGDIR)/libdml.pc
	rm -rf $(DESTDIR)$(INCDIR)
	rm -f $(MAN1:man/%=$(DESTDIR)$(MANPREFIX)/%) \
	  $(MAN3:man/%=$(DESTDIR)$(MANPREFIX)/%) \
	  $(MAN5:man/%=$(DESTDIR)$(MANPREFIX)/%) \
	  $(MAN7:man/%=$(DESTDIR)$(MANPREFIX)/%)

clean:
	rm -rf bin .deps-ok .flags lib/libdml.a tests/unit/*.t tests/unit/*.t.d \
	  $(HELPERS) $(HELPERS:=.d) libdml.pc libdml.pc.new tests/trash.*
	find lib cmd -name '*.[od]' -exec rm -f {} +

FORCE:
.PHONY: all check check-layers check-size test-lint demo bench install uninstall clean FORCE
.SECONDARY:
