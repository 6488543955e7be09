# mk/mta-sts.mk - libcurl for MTA-STS policy fetches (smtp/smtp_sts.c):
# a maintained HTTPS client (certificate checks, no redirects, limits)
# instead of hand-written HTTP. Debian 12: libcurl4-openssl-dev.
# --as-needed: only the programs that call it (smtp) depend on it, so
# dpkg-shlibdeps sees no useless link in the other binaries.
LIBS += -Wl,--as-needed $(shell pkg-config --libs libcurl 2>/dev/null) \
	-Wl,--no-as-needed
