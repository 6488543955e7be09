# postern - top-level Makefile.
#
#   make            build every program (release: -O2) into build/release/bin
#   make check      install missing packages, build with ASan+UBSan, run
#                   every unit and integration test under prove
#   make run        install missing packages, build, start a demo instance
#   make bench      benchmarks against real Postfix (not tests)
#   make check-fresh  make run and make check on a fresh Debian 12 root
#   make VARIANT=asan   the sanitizer build by itself
#
# Each folder has a mod.mk that adds its programs (PROGRAMS += name,
# name_SRCS := ...) and unit tests (UNIT_TESTS += name, name_SRCS := ...).
# lib/, maps/, tls/, cleanup/ and resolve/ become static libraries every
# program links with.

VARIANT	?= release
BUILD	?= build/$(VARIANT)
CC	?= cc
PKGS	:= libevent_openssl libevent_pthreads libmariadb lmdb libpcre2-8 openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN	:= -Wall -Wextra -Wno-unused-parameter $(if $(WERROR),-Werror)
CFLAGS_BASE := -std=gnu11 -g -D_GNU_SOURCE -Ilib -Imaps -Itls -Icleanup \
	-Iresolve $(WARN) \
	$(PKG_CFLAGS) -DPOSTERN_VERSION='"0.1"'
ifeq ($(VARIANT),asan)
CFLAGS_V := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS_V := -fsanitize=address,undefined
else
CFLAGS_V := -O2
LDFLAGS_V :=
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS_V) $(CFLAGS)
LIBS	:= $(PKG_LIBS) -lcrypt -lresolv -lpthread

PROGRAMS :=
UNIT_TESTS :=
TOOLS :=
PROGRAM_LINKS :=
LIB_SRCS :=
MAPS_SRCS :=
TLS_SRCS :=
CLEANUP_SRCS :=
RESOLVE_SRCS :=

-include lib/mod.mk maps/mod.mk tls/mod.mk cleanup/mod.mk resolve/mod.mk \
	master/mod.mk \
	postscreen/mod.mk smtpd/mod.mk qmgr/mod.mk smtp/mod.mk virtual/mod.mk \
	queuecmd/mod.mk anvil/mod.mk metrics/mod.mk tests/mod.mk

# mk/*.mk: targets beside the build (install, deb, fuzz), one file each.
-include $(sort $(wildcard mk/*.mk))

obj	= $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
ARCHIVES := $(BUILD)/libcleanup.a $(BUILD)/libresolve.a $(BUILD)/libmaps.a \
	$(BUILD)/libtls.a $(BUILD)/libpostern.a

.PHONY: all check check-unit check-integration prove run bench deps clean \
	check-fresh \
	test-programs
all: $(addprefix $(BUILD)/bin/,$(PROGRAMS)) links

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libpostern.a: $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libmaps.a: $(call obj,$(MAPS_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libtls.a: $(call obj,$(TLS_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libcleanup.a: $(call obj,$(CLEANUP_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libresolve.a: $(call obj,$(RESOLVE_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define LINK_template
$(2)/$(1): $(call obj,$($(1)_SRCS)) $(ARCHIVES)
	@mkdir -p $(2)
	$(CC) $(LDFLAGS_V) -o $$@ $(call obj,$($(1)_SRCS)) \
		-Wl,--start-group $(ARCHIVES) -Wl,--end-group $(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call LINK_template,$(p),$(BUILD)/bin)))
$(foreach t,$(UNIT_TESTS),$(eval $(call LINK_template,$(t),$(BUILD)/t)))
$(foreach t,$(TOOLS),$(eval $(call LINK_template,$(t),$(BUILD)/tools)))

# Programs that are another program under a second name (argv[0]).
links: $(addprefix $(BUILD)/bin/,$(PROGRAMS))
	@for l in $(PROGRAM_LINKS); do \
		set -- $$(echo $$l | tr = ' '); \
		ln -sf $$2 $(BUILD)/bin/$$1; \
	done

test-programs: all $(addprefix $(BUILD)/t/,$(UNIT_TESTS)) \
	$(addprefix $(BUILD)/tools/,$(TOOLS))

deps:
	@sh tools/install-deps check

# make check: the sanitizer build runs every test; the release build is
# checked warning-free too (-Werror), as CI demands.
check: deps
	$(MAKE) -j2 WERROR=1 all
	$(MAKE) -j2 VARIANT=asan WERROR=1 test-programs
	$(MAKE) prove

# make prove [TESTS='tests/60-mailpath.t ...']: run tests against the
# sanitizer build exactly as make check does (it does not build).
# POSTERN_CHECK=1 tells a test it runs under make check: a check that
# needs root or a program must then run or fail, never skip (a test run
# by hand with prove may print a TAP SKIP with the reason instead).
# tests/lib/runtest runs each file with the sanitizer options and a
# fresh log_path directory, and fails the file on any report of any
# process it started (master's children included), whatever it checks.
TESTS	?= build/asan/t/* tests/*.t
prove:
	POSTERN_CHECK=1 POSTERN_BIN=$(CURDIR)/build/asan/bin POSTERN_TOP=$(CURDIR) \
		prove -e $(CURDIR)/tests/lib/runtest $(TESTS) $(PROVE_FLAGS)

run:
	@sh tools/install-deps run
	$(MAKE) all
	sh etc/run.sh

bench:
	sh tools/install-deps bench
	$(MAKE) all $(addprefix $(BUILD)/tools/,$(TOOLS))
	POSTERN_BIN=$(abspath $(BUILD)/bin) \
	    SMTP_LOAD=$(abspath $(BUILD)/tools/smtp-load) bash tests/bench/run.sh

# make check-fresh: the two commands on a fresh Debian 12 root
# (debootstrap) with a clean clone of HEAD; see tools/check-fresh.
check-fresh:
	@sh tools/install-deps fresh
	bash tools/check-fresh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
