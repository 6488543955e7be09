# tests/: programs that tests and benchmarks drive (not daemons, not tests).
TOOLS += smtp-load
smtp-load_SRCS := tests/bench/smtp-load.c
# tests/bench/fsync-rate: the machine's durable-file bound (make bench)
TOOLS += fsync-rate
fsync-rate_SRCS := tests/bench/fsync-rate.c

# tests/lib/dnsq: lookups through lib/dns.c for tests/25-dns.t
TOOLS += dnsq
dnsq_SRCS := tests/lib/dnsq.c

# tests/lib/saslq: one AUTH exchange through smtpd_sasl (tests/65-sasl.t)
TOOLS += saslq
saslq_SRCS := tests/lib/saslq.c smtpd/smtpd_sasl.c smtpd/smtpd_sasl_pw.c \
	smtpd/smtpd_sasl_dovecot.c

# tests/lib/canary: a one-byte heap overflow on demand (tests/01-harness.t)
TOOLS += canary
canary_SRCS := tests/lib/canary.c

# tests/lib/syncblock.so: LD_PRELOAD shim holding syncfs/fsync/fdatasync
# while a trigger file exists (tests/63-sync-order.t). A shared library,
# built without sanitizers (preloaded after libasan). The rule must not
# become make's default goal (mod.mk files are read before "all").
.DEFAULT_GOAL := all
test-programs: $(BUILD)/tools/syncblock.so
$(BUILD)/tools/syncblock.so: tests/lib/syncblock.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -g $(WARN) -o $@ $< -ldl
