# tests/: programs that tests and benchmarks drive (not daemons, not tests).
TOOLS += smtp-load
smtp-load_SRCS := tests/bench/smtp-load.c
