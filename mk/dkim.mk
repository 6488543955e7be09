# mk/dkim.mk: DKIM signing (issue 14): "postern dkim-keygen" in postern.
# The signer is lib/dkim.c (in the library) and cleanup/cleanup_dkim.c.
postern_SRCS += master/postern_dkim.c
