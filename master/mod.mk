# master/: master, postern, postconf. Append your program below.

# postconf (config engineer); check.c is also linked into postern.
PROGRAMS += postconf
postconf_SRCS := master/postconf.c master/check.c
