# mk/mta-sts.mk - libcurl for MTA-STS policy fetches (smtp/smtp_sts.c):
# a maintained HTTPS client (certificate checks, no redirects, limits)
# instead of hand-written HTTP. Debian 12: libcurl4-openssl-dev.
LIBS += $(shell pkg-config --libs libcurl 2>/dev/null)
