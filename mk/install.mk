# mk/install.mk - "make install": postern in the layout a Debian
# administrator expects (tests/80-install.t checks it).
#
#   make install [PREFIX=/usr] [DESTDIR=]
#   make man	the manual pages into build/man (tools/mkman)
#
# PREFIX/sbin		the commands: postern postconf postmap postalias
#			postqueue postsuper postcat sendmail; mailq
#			(postqueue) and newaliases (postalias) as links
# PREFIX/bin		mailq, newaliases -> ../sbin (as Debian's postfix)
# PREFIX/lib/sendmail	-> ../sbin/sendmail
# PREFIX/lib/postern	the daemons master runs: master postscreen smtpd
#			qmgr virtual smtp, every program that is not a
#			command (daemon_directory: a command in PREFIX/sbin
#			finds them by itself, lib/params.c)
# /etc/postern		main.cf, master.cf from etc/postern/ (commented,
#			for a new site), only where absent: a reinstall
#			never overwrites the administrator's files
# /var/spool/postern	queue_directory (master creates what is inside)
# /var/lib/postern	data_directory
# PREFIX/share/man	man1 (commands), man5 (postconf), man8 (daemons)
# /lib/systemd/system	postern.service (Debian 12's unit directory);
#			its /usr paths follow PREFIX
#
# The programs come from build/release (built here if needed, never
# the sanitizer build): install works the same under make check. As
# root without DESTDIR it also creates the system user and group
# mail_owner (postern) if missing and gives it data_directory, as a
# package's postinst would; with DESTDIR it only creates directories
# (a package creates users in its maintainer scripts).

PREFIX		?= /usr
DESTDIR		?=
SYSCONFDIR	?= /etc
LOCALSTATEDIR	?= /var
UNITDIR		?= /lib/systemd/system
INST_SBIN	:= $(PREFIX)/sbin
INST_DAEMON	:= $(PREFIX)/lib/postern
INST_MAN	:= $(PREFIX)/share/man
INST_CONF	:= $(SYSCONFDIR)/postern
INST_QUEUE	:= $(LOCALSTATEDIR)/spool/postern
INST_DATA	:= $(LOCALSTATEDIR)/lib/postern
INST_BUILD	:= build/release

INSTALL_COMMANDS := postern postconf postmap postalias postqueue postsuper \
	postcat sendmail
# every other program of make all (echod is a test helper)
INSTALL_DAEMONS	= $(filter-out $(INSTALL_COMMANDS) echod,$(PROGRAMS))
# name=target: a second name of a command, in PREFIX/sbin
INSTALL_LINKS	:= mailq=postqueue newaliases=postalias
MAN1_PAGES	:= $(INSTALL_COMMANDS) postern
MAN_DIR		:= build/man

.PHONY: install install-programs man
install-programs:
	$(MAKE) VARIANT=release BUILD=$(INST_BUILD) all

# The pages are remade when a source they are made from changes.
MAN_SRCS	:= tools/mkman lib/params.c Makefile $(wildcard master/*.c \
	maps/*.c queuecmd/*.c postscreen/postscreen.c smtpd/smtpd.c \
	qmgr/qmgr.c virtual/virtual.c smtp/smtp.c anvil/anvil.c \
	metrics/metrics.c verify/verify.c)
man: $(MAN_DIR)/.made
$(MAN_DIR)/.made: $(MAN_SRCS)
	@mkdir -p $(MAN_DIR)
	sh tools/mkman $(MAN_DIR)
	@touch $@

install: install-programs man
	install -d -m 755 $(DESTDIR)$(INST_SBIN) $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(INST_DAEMON) $(DESTDIR)$(INST_CONF) \
		$(DESTDIR)$(INST_QUEUE) $(DESTDIR)$(INST_MAN)/man1 \
		$(DESTDIR)$(INST_MAN)/man5 $(DESTDIR)$(INST_MAN)/man8 \
		$(DESTDIR)$(UNITDIR)
	install -d -m 700 $(DESTDIR)$(INST_DATA)
	install -m 755 $(addprefix $(INST_BUILD)/bin/,$(INSTALL_COMMANDS)) \
		$(DESTDIR)$(INST_SBIN)/
	install -m 755 $(addprefix $(INST_BUILD)/bin/,$(INSTALL_DAEMONS)) \
		$(DESTDIR)$(INST_DAEMON)/
	@set -e; for l in $(INSTALL_LINKS); do \
		set -- $$(echo $$l | tr = ' '); \
		echo "ln -sf $$2 $(DESTDIR)$(INST_SBIN)/$$1"; \
		ln -sf $$2 $(DESTDIR)$(INST_SBIN)/$$1; \
		ln -sf ../sbin/$$1 $(DESTDIR)$(PREFIX)/bin/$$1; \
	done
	ln -sf ../sbin/sendmail $(DESTDIR)$(PREFIX)/lib/sendmail
	@set -e; for f in main.cf master.cf; do \
		if [ -e $(DESTDIR)$(INST_CONF)/$$f ]; then \
			echo "install: $(DESTDIR)$(INST_CONF)/$$f exists;" \
				"kept (the new one is etc/postern/$$f)"; \
		else \
			echo "install -m 644 etc/postern/$$f" \
				"$(DESTDIR)$(INST_CONF)/$$f"; \
			install -m 644 etc/postern/$$f \
				$(DESTDIR)$(INST_CONF)/$$f; \
		fi; \
	done
	install -m 644 $(MAN_DIR)/*.1 $(DESTDIR)$(INST_MAN)/man1/
	install -m 644 $(MAN_DIR)/*.5 $(DESTDIR)$(INST_MAN)/man5/
	install -m 644 $(MAN_DIR)/*.8 $(DESTDIR)$(INST_MAN)/man8/
	sed -e 's|/usr/lib/postern/|$(INST_DAEMON)/|g' \
		-e 's|/usr/sbin/|$(INST_SBIN)/|g' \
		-e 's|/var/spool/postern|$(INST_QUEUE)|g' \
		-e 's|/var/lib/postern|$(INST_DATA)|g' \
		etc/postern.service > $(DESTDIR)$(UNITDIR)/postern.service
	chmod 644 $(DESTDIR)$(UNITDIR)/postern.service
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		getent group postern >/dev/null || \
			groupadd --system postern; \
		getent passwd postern >/dev/null || \
			useradd --system --gid postern \
				--home-dir $(INST_QUEUE) --no-create-home \
				--shell /usr/sbin/nologin postern; \
		chown postern:postern $(INST_DATA); \
		echo "install: user postern, $(INST_DATA) owned by it"; \
	fi
