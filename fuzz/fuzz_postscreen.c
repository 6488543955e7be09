/*
 * NAME
 *	fuzz_postscreen - libFuzzer target: postscreen's engine
 * DESCRIPTION
 *	The input is what a client sends to postscreen. The first byte
 *	picks the tests and actions (pregreet, pipelining, non-SMTP
 *	command, bare newline; ignore, enforce or drop) and how the rest
 *	is cut into writes. With the pregreet test on, the first piece
 *	arrives before the greeting (the early test's reader and
 *	psc_escape()); the rest goes to the dummy SMTP engine (line
 *	reader, command parser, forbidden-command patterns, limits) over
 *	a socketpair, the event loop run between writes as in
 *	postscreen/postscreen_smtp_test.c. At the end the client hangs up
 *	and the loop runs until the engine has freed its state. The
 *	handoff to smtpd (psc_send_socket) is a stub that frees it.
 */
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "postscreen.h"
#include "xalloc.h"

/* psc_send_socket - stub: the client passed, forget it */
void
psc_send_socket(struct psc_state *s)
{
	psc_state_free(s);
}

/* run_loop - let the engine handle what arrived */
static void
run_loop(void)
{
	int	 i;

	for (i = 0; i < 4; i++)
		event_base_loop(psc_base, EVLOOP_NONBLOCK);
}

/* drain - read what the engine wrote; 1 when it closed */
static int
drain(int fd)
{
	char	 junk[4096];
	ssize_t	 n;

	while ((n = read(fd, junk, sizeof(junk))) > 0)
		;
	return (n == 0);
}

/* setup - the configuration postscreen_smtp_test uses */
static void
setup(void)
{
	fuzz_quiet();
	signal(SIGPIPE, SIG_IGN);
	psc_base = event_base_new();
	psc_var.greet_banner = "teaser";
	psc_var.smtpd_banner = "mx ESMTP";
	psc_var.myhostname = "mx";
	psc_var.message_size_limit = 1000;
	psc_var.command_time_limit = 300;
	psc_var.command_count_limit = 20;
	psc_var.line_length_limit = 512;
	psc_var.greet_wait = 300;
	psc_var.dnsbl_timeout = 10;
	psc_var.greet_ttl = psc_var.pipel_ttl = psc_var.nsmtp_ttl =
	    psc_var.barlf_ttl = 86400;
	psc_var.forbidden = psc_forbidden_parse(
	    "CONNECT GET POST regexp:{{/^[^A-Z]/ Thrash}}");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct psc_state *s;
	char	 text[400];
	int	 sv[2], closed = 0, pregreet;
	size_t	 pos, step, n;
	uint8_t	 f;

	if (size < 2 || size > 16384)
		return (0);
	if (!init) {
		setup();
		init = 1;
	}
	f = data[0];
	data++;
	size--;
	psc_escape((const char *)data, size, text, sizeof(text));
	pregreet = (f & 1) != 0;
	psc_var.greet_action = psc_var.pipel_action = (f >> 1) % 3;
	psc_var.nsmtp_action = psc_var.barlf_action = (f >> 3) % 3;
	psc_var.pipel_enable = (f >> 5) & 1;
	psc_var.nsmtp_enable = (f >> 6) & 1;
	psc_var.barlf_enable = (f >> 7) & 1;
	/* Pieces of 1 to 64 bytes, but at most 32 writes an input: each
	 * costs a few system calls and four turns of the loop. */
	step = 1 + data[0] % 64;
	if (step < size / 32)
		step = size / 32;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	s = psc_state_new(sv[0], "192.0.2.9", "4711", "192.0.2.25", "25");
	s->todo[PSC_TEST_PIPEL] = psc_var.pipel_enable;
	s->todo[PSC_TEST_NSMTP] = psc_var.nsmtp_enable;
	s->todo[PSC_TEST_BARLF] = psc_var.barlf_enable;
	pos = 0;
	if (pregreet) {
		s->todo[PSC_TEST_PREGR] = 1;
		/* The client talks first: that is the pregreet. */
		n = step < size ? step : size;
		if (write(sv[1], data, n) != (ssize_t)n)
			abort();
		pos = n;
		psc_early_tests(s);
		run_loop();
		closed = drain(sv[1]);
	} else {
		s->pass[PSC_TEST_PREGR] = 1;
		psc_smtp_tests(s);
	}
	while (pos < size && !closed) {
		n = size - pos < step ? size - pos : step;
		if (write(sv[1], data + pos, n) < 0)
			break;
		pos += n;
		run_loop();
		closed = drain(sv[1]);
	}
	close(sv[1]);
	run_loop();
	return (0);
}
