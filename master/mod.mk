# master/: master, postern, postconf. Append your program below.

# postconf (config engineer); check.c is also linked into postern.
PROGRAMS += postconf
postconf_SRCS := master/postconf.c master/check.c

# master and the postern control command (master engineer).
PROGRAMS += master postern
master_SRCS := master/master.c master/master_svc.c master/master_listen.c \
	master/master_spawn.c master/check.c
postern_SRCS := master/postern.c master/check.c master/postern_perms.c
UNIT_TESTS += master_listen_test
master_listen_test_SRCS := master/master_listen_test.c master/master_listen.c
