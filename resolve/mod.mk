# resolve/: the one address resolver (Postfix's trivial-rewrite resolve
# part) as a library, libresolve.a: domain lists, address classes, "is
# this literal mine", for smtpd, qmgr and address verification.
RESOLVE_SRCS += resolve/resolve.c

UNIT_TESTS += resolve_test
resolve_test_SRCS := resolve/resolve_test.c
