# tls/: the OpenSSL wrapper library (libtls.a): contexts, sessions,
# verification, the LMDB session cache.
TLS_SRCS += tls/tls.c

UNIT_TESTS += tls_test
tls_test_SRCS := tls/tls_test.c
