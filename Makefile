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
#
# The test files run two at a time (CHECK_JOBS, prove -j): each one has
# loopback ports of its own (the range in its header: pick a range no
# other file names, grep -n Ports tests/*.t), its own temporary
# directories, MariaDB, dnsmasq and instance. PROVE_FIRST, the slowest
# files (the --timer figures of make check), start first, so that both
# slots end together.
# PROVE_ALONE run after the parallel part, by themselves: 45-postscreen
# asserts 0.7 s of silence after the 220- teaser with a 1 s greet wait,
# which a busy second slot can delay past (seen once in two runs).
CHECK_JOBS ?= 2
PROVE_FIRST := tests/82-deb.t tests/90-fuzz.t tests/42-pickup-crash.t \
	tests/51-master-services.t tests/70-submission.t tests/50-master.t \
	tests/65-sasl.t tests/58-smtp-tls-verify.t \
	tests/40-qmgr.t tests/53-smtp-tarpit.t tests/60-mailpath.t \
	tests/59-smtp-tls-policy.t tests/61-crash.t
PROVE_ALONE := tests/45-postscreen.t
check: deps
	$(MAKE) -j2 WERROR=1 all
	$(MAKE) -j2 VARIANT=asan WERROR=1 test-programs
	$(MAKE) prove PROVE_JOBS=$(CHECK_JOBS) PROVE_FLAGS="--timer $(PROVE_FLAGS)"

# make prove [TESTS='tests/60-mailpath.t ...']: run tests against the
# sanitizer build exactly as make check does (it does not build).
# POSTERN_CHECK=1 tells a test it runs under make check: a check that
# needs root or a program must then run or fail, never skip (a test run
# by hand with prove may print a TAP SKIP with the reason instead).
# tests/lib/runtest runs each file with the sanitizer options and a
# fresh log_path directory, and fails the file on any report of any
# process it started (master's children included), whatever it checks.
TESTS	?= build/asan/t/* tests/*.t
# Under PROVE_JOBS the files of PROVE_FIRST are scheduled first, then the
# rest in order; PROVE_ALONE, matched by no rule, run after them all.
# RUNTEST_STDERR_FD: see tests/lib/runtest (prove -j and stderr).
PROVE_RULES = $(foreach t,$(filter $(wildcard $(TESTS)),$(PROVE_FIRST)) \
	$(filter-out $(PROVE_FIRST) $(PROVE_ALONE),$(wildcard $(TESTS))),--rules=par=$(t))
prove:
	POSTERN_CHECK=1 POSTERN_BIN=$(CURDIR)/build/asan/bin POSTERN_TOP=$(CURDIR) \
	RUNTEST_STDERR_FD=7 prove -e $(CURDIR)/tests/lib/runtest \
		$(if $(PROVE_JOBS),-j$(PROVE_JOBS) $(PROVE_RULES)) \
		$(TESTS) $(PROVE_FLAGS) 7>&2

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
