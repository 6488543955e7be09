# mk/fuzz.mk - libFuzzer targets (fuzz/), built with clang into build/fuzz
#
#   make fuzz-build   build every target: build/fuzz/bin/fuzz_NAME
#   make fuzz         build, then run every target for a long run, one at
#                     a time, and print executions, exec/s and crashes per
#                     target. FUZZ_RUNS (default 1000000 executions each)
#                     or FUZZ_SECONDS (time per target instead); FUZZ_ONLY
#                     ='dns reply' runs only those. Crashes and leaks are
#                     saved in build/fuzz/crashes/NAME/, the grown corpus in
#                     build/fuzz/corpus/NAME/ (never committed).
#   make fuzz-targets print the names (tests/90-fuzz.t reads them)
#   make fuzz-check   the short run tests/90-fuzz.t does: every target over
#                     its committed corpus (seeds and crash-* regression
#                     inputs) plus FUZZ_CHECK_RUNS (20000) new inputs.
#
# Everything here is separate from build/release and build/asan: the
# product sources are compiled again with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj, so
# libFuzzer sees the coverage of the code under test. Each target is
# fuzz/fuzz_NAME.c plus the module sources it needs beyond lib/ and maps/
# (FUZZ_SRCS_NAME) and linker options (FUZZ_LDFLAGS_NAME: --wrap puts a
# fake in front of a function the module calls, such as res_nquery()).

FUZZ_CC		:= clang
FUZZ_DIR	:= build/fuzz
FUZZ_TARGETS	:= smtpd_cmd smtpd_data addr sasl dovecot attr queue dns \
	reply postscreen conf mastercf map_cidr map_regexp map_pcre \
	map_texthash mysql_expand
FUZZ_RUNS	?= 1000000
FUZZ_SECONDS	?=
FUZZ_CHECK_RUNS	?= 20000
FUZZ_ONLY	?=

FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	:= -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
	-Ilib -Imaps -Itls -Icleanup -Iresolve -Ismtpd -Ipostscreen -Ismtp \
	-Ifuzz $(PKG_CFLAGS) -DPOSTERN_VERSION='"0.1"' \
	-Wall -Wno-unused-parameter $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LDFLAGS	:= $(FUZZ_SAN) -fsanitize=fuzzer

# The module sources come from the unit tests' lists (the same modules,
# the test file left out), so a module that gains a file stays linked.
FUZZ_SRCS_smtpd_cmd	= $(filter-out %_test.c,$(smtpd_cmd_test_SRCS))
FUZZ_SRCS_smtpd_data	= $(filter-out %_test.c,$(smtpd_data_test_SRCS))
FUZZ_SASL_SRCS		= $(filter-out %_test.c,$(smtpd_sasl_test_SRCS))
FUZZ_SRCS_sasl		= $(FUZZ_SASL_SRCS)
FUZZ_LDFLAGS_sasl	:= -Wl,--wrap=smtpd_sasl_pw_verify
FUZZ_SRCS_dovecot	= $(FUZZ_SASL_SRCS)
FUZZ_LDFLAGS_dovecot	:= -Wl,--wrap=sock_connect_unix
FUZZ_LDFLAGS_dns	:= -Wl,--wrap=res_nquery
FUZZ_SRCS_reply		= $(filter-out %_test.c,$(smtp_test_SRCS))
FUZZ_SRCS_postscreen	= $(filter-out %_test.c,$(postscreen_smtp_test_SRCS))

fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
FUZZ_ARCHIVES := $(FUZZ_DIR)/libcleanup.a $(FUZZ_DIR)/libresolve.a \
	$(FUZZ_DIR)/libmaps.a $(FUZZ_DIR)/libtls.a $(FUZZ_DIR)/libpostern.a
# selftest: a planted bug, built for tests/90-fuzz.t, never run by make fuzz
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/bin/fuzz_,$(FUZZ_TARGETS) selftest)

.PHONY: fuzz fuzz-build fuzz-check fuzz-targets
fuzz-build: $(FUZZ_BINS)

fuzz-targets:
	@echo $(FUZZ_TARGETS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libpostern.a: $(call fuzz_obj,$(LIB_SRCS) fuzz/fuzz.c)
$(FUZZ_DIR)/libmaps.a: $(call fuzz_obj,$(MAPS_SRCS))
$(FUZZ_DIR)/libtls.a: $(call fuzz_obj,$(TLS_SRCS))
$(FUZZ_DIR)/libcleanup.a: $(call fuzz_obj,$(CLEANUP_SRCS))
$(FUZZ_DIR)/libresolve.a: $(call fuzz_obj,$(RESOLVE_SRCS))
$(FUZZ_ARCHIVES):
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

# The source lists and LIBS are expanded late ($$, secondary expansion):
# mk files read after this one (sandbox.mk, mta-sts.mk, ...) still add
# sources to the unit tests' lists and libraries to LIBS.
.SECONDEXPANSION:
define FUZZ_template
$(FUZZ_DIR)/bin/fuzz_$(1): $$$$(call fuzz_obj,fuzz/fuzz_$(1).c \
    $$$$(FUZZ_SRCS_$(1))) $(FUZZ_ARCHIVES)
	@mkdir -p $(FUZZ_DIR)/bin
	@$(FUZZ_CC) $(FUZZ_LDFLAGS) $(FUZZ_LDFLAGS_$(1)) -o $$@ \
		$$(call fuzz_obj,fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1))) \
		-Wl,--start-group $(FUZZ_ARCHIVES) -Wl,--end-group $$(LIBS)
endef
$(foreach t,$(FUZZ_TARGETS) selftest,$(eval $(call FUZZ_template,$(t))))

fuzz: fuzz-build
	@FUZZ_RUNS='$(FUZZ_RUNS)' FUZZ_SECONDS='$(FUZZ_SECONDS)' \
		sh fuzz/run.sh long $(or $(FUZZ_ONLY),$(FUZZ_TARGETS))

fuzz-check: fuzz-build
	@FUZZ_RUNS='$(FUZZ_CHECK_RUNS)' sh fuzz/run.sh check \
		$(or $(FUZZ_ONLY),$(FUZZ_TARGETS))
