# tls/: the OpenSSL wrapper library (libtls.a): contexts, sessions,
# verification, the LMDB session cache.
TLS_SRCS += tls/tls.c tls/tls_policy.c tls/tls_dane.c

UNIT_TESTS += tls_test
tls_test_SRCS := tls/tls_test.c

UNIT_TESTS += tls_dane_test
tls_dane_test_SRCS := tls/tls_dane_test.c
