# anvil/: client connection counts and request rates (Postfix's anvil);
# the table itself is lib/anvil_shm.c, shared with smtpd.
PROGRAMS += anvil
anvil_SRCS := anvil/anvil.c
