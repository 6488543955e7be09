# tests/: programs that tests and benchmarks drive (not daemons, not tests).
TOOLS += smtp-load
smtp-load_SRCS := tests/bench/smtp-load.c

# tests/lib/dnsq: lookups through lib/dns.c for tests/25-dns.t
TOOLS += dnsq
dnsq_SRCS := tests/lib/dnsq.c
