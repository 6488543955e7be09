/*
 * NAME
 *	params - built-in parameter defaults: the one place they live
 * SYNOPSIS
 *	#include "params.h"
 * DESCRIPTION
 *	conf_params[] is every parameter postern knows: the names of the
 *	seed's main.cf and master.cf -o lines (so that Postfix names are
 *	"known" and only real misspellings are reported as unused), and
 *	everything a postern program reads. Defaults are Postfix 3.x's,
 *	written as postconf -d prints them, except for these postern
 *	choices:
 *	  mail_name = postern, mail_owner = postern (syslog_name is
 *	    Postfix's, postfix: the stock log tools match it)
 *	  config_directory = /etc/postern
 *	  queue_directory = /var/spool/postern
 *	  data_directory = /var/lib/postern
 *	  daemon_directory = the directory holding the running executable
 *	    if it holds "master" (a build tree, or a daemon installed in
 *	    $PREFIX/lib/postern), else that directory's ../lib/postern if
 *	    master is there (a command installed in $PREFIX/sbin: make
 *	    install's layout), else the executable's directory
 *	  command_directory = likewise: the executable's directory if it
 *	    holds "postconf", else its ../../sbin if postconf is there (a
 *	    daemon in $PREFIX/lib/postern), else the executable's directory
 *	    (so a build tree and an installed tree both work without
 *	    configuration and without a compile-time path)
 *	  myhostname = gethostname(), with ".localdomain" appended when it
 *	    has no dot (never a DNS query); mydomain = myhostname without
 *	    its first label
 *	  mynetworks = computed from mynetworks_style (conf_mynetworks())
 *	  resolver_nameservers = "" (postern's own: a list of ip[:port];
 *	    empty means /etc/resolv.conf)
 *	  compatibility_level = 3.6: postern has the defaults of Postfix
 *	    3.6 and later (append_dot_mydomain = no, relay_domains empty,
 *	    mynetworks_style = host, smtputf8_enable = yes, ...), written
 *	    as plain values instead of Postfix's ${{$compatibility_level}
 *	    <level ...} expressions.
 *	  alias_maps = hash:/etc/aliases (no nis:).
 *	Stress-dependent values keep Postfix's form, e.g. smtpd_timeout =
 *	${stress?{10}:{300}}s, which is 300s unless stress is set (master
 *	may set -o stress=yes under overload, as Postfix does).
 *
 *	To add a parameter: append one { "name", "default" }, line to the
 *	group of the daemon that uses it (keep the groups; order inside a
 *	group does not matter, names must be unique: conf_test checks).
 *	A time parameter's unit for a bare number is the unit letter of
 *	its default, so write "300s", "5d", "0h" as Postfix does.
 * SEE ALSO
 *	conf(3), postconf(5)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "params.h"
#include "str.h"
#include "xalloc.h"

static char *params_daemon_directory(void);
static char *params_command_directory(void);

/* One { "name", "default" } per line: the third field is for computed ones. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

const struct conf_param conf_params[] = {
	/* Identity, directories, logging (every program). */
	{ "mail_name", "postern" },
	{ "mail_version", POSTERN_VERSION },
	/* Postfix's read-only ones: each daemon sets them at start (server.c). */
	{ "service_name", "" },
	{ "process_name", "" },
	{ "process_id", "" },
	{ "syslog_name", "postfix" },
	{ "syslog_facility", "mail" },
	{ "maillog_file", "" },
	{ "maillog_file_prefixes", "/var, /dev/stdout" },
	{ "mail_owner", "postern" },
	{ "setgid_group", "postdrop" },
	{ "config_directory", "/etc/postern" },
	{ "queue_directory", "/var/spool/postern" },
	{ "data_directory", "/var/lib/postern" },
	{ "meta_directory", "$config_directory" },
	{ "daemon_directory", NULL, params_daemon_directory },
	{ "command_directory", NULL, params_command_directory },
	{ "myhostname", NULL, params_myhostname },
	{ "mydomain", NULL, params_mydomain },
	{ "myorigin", "$myhostname" },
	{ "mydestination", "$myhostname, localhost.$mydomain, localhost" },
	{ "mynetworks", NULL, params_mynetworks },
	{ "mynetworks_style", "host" },
	{ "inet_interfaces", "all" },
	{ "inet_protocols", "all" },
	{ "proxy_interfaces", "" },
	{ "parent_domain_matches_subdomains", "debug_peer_list,"
	    "fast_flush_domains,mynetworks,permit_mx_backup_networks,"
	    "qmqpd_authorized_clients,relay_domains,smtpd_access_maps" },
	{ "compatibility_level", "3.6" },	/* postern has 3.6 defaults */
	{ "stress", "" },
	{ "import_environment", "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ "
	    "XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME" },
	{ "export_environment", "TZ MAIL_CONFIG LANG" },
	{ "resolver_nameservers", "" },
	{ "line_length_limit", "2048" },
	{ "header_size_limit", "102400" },
	{ "message_size_limit", "10240000" },
	{ "mailbox_size_limit", "51200000" },
	{ "hopcount_limit", "50" },
	{ "message_drop_headers", "bcc, content-length, resent-bcc, return-path" },
	{ "ipc_timeout", "3600s" },
	{ "daemon_timeout", "18000s" },
	{ "soft_bounce", "no" },
	{ "biff", "yes" },
	{ "smtputf8_enable", "yes" },
	/* SMTPUTF8 and REQUIRETLS (smtpd_ext.c, smtp_ext.c); Postfix 3.11
	 * names. smtputf8_autodetect_classes: postern's message sources are
	 * smtpd (always flagged by the client) and sendmail. */
	{ "strict_smtputf8", "no" },
	{ "smtputf8_autodetect_classes", "sendmail, verify" },
	{ "requiretls_enable", "yes" },
	{ "tls_required_enable", "yes" },
	{ "requiretls_redact_dsn", "yes" },
	{ "enable_long_queue_ids", "no" },

	/* master and the server skeleton. */
	{ "default_process_limit", "100" },
	{ "max_idle", "100s" },
	{ "max_use", "0" },	/* postern: no limit (event-driven) */
	{ "master_service_disable", "" },
	{ "service_throttle_time", "60s" },
	{ "in_flow_delay", "1s" },

	/* Address rewriting and resolution (trivial-rewrite, cleanup). */
	{ "append_dot_mydomain", "no" },
	{ "append_at_myorigin", "yes" },
	{ "recipient_delimiter", "" },
	{ "swap_bangpath", "yes" },
	{ "allow_percent_hack", "yes" },
	{ "resolve_dequoted_address", "yes" },
	{ "empty_address_recipient", "MAILER-DAEMON" },
	{ "relay_domains", "" },
	{ "permit_mx_backup_networks", "" },
	{ "relayhost", "" },
	{ "relay_transport", "relay" },
	{ "relay_recipient_maps", "" },
	{ "default_transport", "smtp" },
	{ "local_transport", "local:$myhostname" },
	{ "virtual_transport", "virtual" },
	{ "transport_maps", "" },
	{ "relocated_maps", "" },
	{ "local_recipient_maps", "proxy:unix:passwd.byname $alias_maps" },
	{ "alias_maps", "hash:/etc/aliases" },
	{ "alias_database", "hash:/etc/aliases" },
	{ "canonical_maps", "" },
	{ "sender_canonical_maps", "" },
	{ "recipient_canonical_maps", "" },
	{ "canonical_classes", "envelope_sender, envelope_recipient, "
	    "header_sender, header_recipient" },
	{ "sender_canonical_classes", "envelope_sender, header_sender" },
	{ "recipient_canonical_classes", "envelope_recipient, "
	    "header_recipient" },
	{ "masquerade_domains", "" },
	{ "masquerade_classes", "envelope_sender, header_sender, "
	    "header_recipient" },
	{ "masquerade_exceptions", "" },
	{ "propagate_unmatched_extensions", "canonical, virtual" },
	{ "virtual_maps", "" },
	{ "virtual_alias_maps", "$virtual_maps" },
	{ "virtual_alias_domains", "$virtual_alias_maps" },
	{ "virtual_alias_recursion_limit", "1000" },
	{ "virtual_alias_expansion_limit", "1000" },

	/* Lookup tables (maps/): postern's cache of mysql: answers. */
	{ "lookup_cache_time", "5s" },
	{ "lookup_cache_size", "4096" },

	/* cleanup (folded into smtpd and qmgr's pickup). */
	{ "header_checks", "" },
	{ "mime_header_checks", "$header_checks" },
	{ "nested_header_checks", "$header_checks" },
	{ "body_checks", "" },
	{ "body_checks_size_limit", "51200" },
	{ "always_bcc", "" },
	{ "sender_bcc_maps", "" },
	{ "recipient_bcc_maps", "" },
	{ "enable_original_recipient", "yes" },
	{ "always_add_missing_headers", "no" },
	{ "local_header_rewrite_clients", "permit_inet_interfaces" },
	{ "remote_header_rewrite_domain", "" },
	{ "header_address_token_limit", "10240" },
	{ "duplicate_filter_limit", "1000" },
	{ "message_reject_characters", "" },
	{ "message_strip_characters", "" },
	{ "undisclosed_recipients_header", "" },
	{ "receive_override_options", "" },
	{ "content_filter", "" },
	/* DKIM signing (postern's own names; cleanup/cleanup_dkim.c). */
	{ "dkim_signing", "yes" },
	{ "dkim_signing_table", "" },
	{ "dkim_key_table", "" },
	{ "dkim_signed_headers", "From, Sender, Reply-To, Subject, Date, "
	    "Message-ID, To, Cc, MIME-Version, Content-Type, "
	    "Content-Transfer-Encoding, Content-ID, Content-Description, "
	    "Resent-Date, Resent-From, Resent-Sender, Resent-To, Resent-Cc, "
	    "Resent-Message-ID, In-Reply-To, References, List-Id, List-Help, "
	    "List-Unsubscribe, List-Subscribe, List-Post, List-Owner, "
	    "List-Archive" },

	/* smtpd: session, limits, timeouts. */
	{ "smtpd_banner", "$myhostname ESMTP $mail_name" },
	{ "smtpd_timeout", "${stress?{10}:{300}}s" },
	{ "smtpd_recipient_limit", "1000" },
	{ "smtpd_recipient_overshoot_limit", "1000" },
	{ "smtpd_soft_error_limit", "10" },
	{ "smtpd_hard_error_limit", "${stress?{1}:{20}}" },
	{ "smtpd_error_sleep_time", "1s" },
	{ "smtpd_junk_command_limit", "${stress?{1}:{100}}" },
	{ "smtpd_history_flush_threshold", "100" },
	{ "smtpd_helo_required", "no" },
	{ "smtpd_delay_reject", "yes" },
	{ "smtpd_peername_lookup", "yes" },
	{ "smtpd_client_port_logging", "no" },
	{ "smtpd_reject_footer", "" },
	{ "smtpd_discard_ehlo_keywords", "" },
	{ "smtpd_noop_commands", "" },
	{ "smtpd_forbidden_commands",
	    "CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}" },
	{ "smtpd_forbid_bare_newline", "normalize" },
	{ "smtpd_forbid_bare_newline_exclusions", "$mynetworks" },
	{ "smtpd_forbid_unauth_pipelining", "yes" },
	{ "smtpd_worker_threads", "8" },	/* postern: worker pool size */
	{ "smtpd_dns_worker_threads", "32" },	/* postern: connect-time PTR */
	/* postern: the policy pool grows to this while its jobs are stuck */
	{ "smtpd_worker_threads_max", "64" },
	{ "smtpd_queue_sync", "journal" },	/* postern: group commit */
	{ "queue_file_pool_limit", "8192" },	/* postern: pool/ (QUEUE.md) */
	{ "smtpd_client_connection_count_limit", "50" },
	{ "smtpd_client_connection_rate_limit", "0" },
	{ "smtpd_client_message_rate_limit", "0" },
	{ "smtpd_client_recipient_rate_limit", "0" },
	{ "smtpd_client_auth_rate_limit", "0" },
	{ "smtpd_client_new_tls_session_rate_limit", "0" },
	/* postern's own: per-login sending limits (smtpd_sasl.h) */
	{ "smtpd_sasl_message_rate_limit", "0" },
	{ "smtpd_sasl_recipient_rate_limit", "0" },
	{ "smtpd_sasl_rate_limit_maps", "" },
	{ "smtpd_sasl_rate_time_unit", "3600s" },
	/* Postfix 2.x's name; the default below still refers to it. */
	{ "smtpd_client_connection_limit_exceptions", "" },
	{ "smtpd_client_event_limit_exceptions",
	    "${smtpd_client_connection_limit_exceptions:$mynetworks}" },
	{ "smtpd_authorized_xclient_hosts", "" },
	{ "smtpd_proxy_filter", "" },
	/* check_policy_service (SMTPD_POLICY_README) */
	{ "smtpd_policy_service_timeout", "100s" },
	{ "smtpd_policy_service_max_idle", "300s" },
	{ "smtpd_policy_service_max_ttl", "1000s" },
	{ "smtpd_policy_service_request_limit", "0" },
	{ "smtpd_policy_service_try_limit", "2" },
	{ "smtpd_policy_service_retry_delay", "1s" },
	{ "smtpd_policy_service_default_action",
	    "451 4.3.5 Server configuration problem" },
	{ "smtpd_policy_service_policy_context", "" },
	{ "smtpd_milters", "" },
	{ "non_smtpd_milters", "" },
	{ "milter_macro_daemon_name", "$myhostname" },
	{ "milter_default_action", "tempfail" },
	{ "milter_protocol", "6" },
	{ "milter_connect_timeout", "30s" },
	{ "milter_command_timeout", "30s" },
	{ "milter_content_timeout", "300s" },
	{ "milter_connect_macros", "j {daemon_name} {daemon_addr} v _" },
	{ "milter_helo_macros",
	    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}" },
	{ "milter_mail_macros", "i {auth_type} {auth_authen} {auth_author} "
	    "{mail_addr} {mail_host} {mail_mailer}" },
	{ "milter_rcpt_macros", "i {rcpt_addr} {rcpt_host} {rcpt_mailer}" },
	{ "milter_data_macros", "i" },
	{ "milter_end_of_header_macros", "i" },
	{ "milter_end_of_data_macros", "i" },
	{ "milter_unknown_command_macros", "" },
	{ "milter_macro_v", "$mail_name $mail_version" },
	{ "disable_vrfy_command", "no" },
	{ "strict_rfc821_envelopes", "no" },
	{ "allow_untrusted_routing", "no" },

	/* smtpd: restrictions and their reply codes. */
	{ "smtpd_client_restrictions", "" },
	{ "smtpd_helo_restrictions", "" },
	{ "smtpd_sender_restrictions", "" },
	{ "smtpd_relay_restrictions", "permit_mynetworks, "
	    "permit_sasl_authenticated, defer_unauth_destination" },
	{ "smtpd_recipient_restrictions", "" },
	{ "smtpd_data_restrictions", "" },
	{ "smtpd_end_of_data_restrictions", "" },
	{ "smtpd_etrn_restrictions", "" },
	{ "smtpd_restriction_classes", "" },
	{ "smtpd_reject_unlisted_sender", "no" },
	{ "smtpd_reject_unlisted_recipient", "yes" },
	{ "smtpd_null_access_lookup_key", "<>" },
	{ "smtpd_log_access_permit_actions", "" },
	{ "smtpd_sender_login_maps", "" },
	{ "unverified_sender_reject_reason", "" },
	{ "unverified_recipient_reject_reason", "" },
	{ "unverified_sender_reject_code", "450" },
	{ "unverified_recipient_reject_code", "450" },
	{ "unverified_sender_defer_code", "450" },
	{ "unverified_recipient_defer_code", "450" },
	{ "unverified_sender_tempfail_action", "$reject_tempfail_action" },
	{ "unverified_recipient_tempfail_action",
	    "$reject_tempfail_action" },
	{ "reject_tempfail_action", "defer_if_permit" },
	{ "unknown_helo_hostname_tempfail_action",
	    "$reject_tempfail_action" },
	{ "unknown_address_tempfail_action", "$reject_tempfail_action" },
	{ "unknown_address_reject_code", "450" },
	{ "unknown_client_reject_code", "450" },
	{ "unknown_hostname_reject_code", "450" },
	{ "unknown_local_recipient_reject_code", "550" },
	{ "unknown_virtual_mailbox_reject_code", "550" },
	{ "unknown_virtual_alias_reject_code", "550" },
	{ "unknown_relay_recipient_reject_code", "550" },
	{ "relay_domains_reject_code", "554" },
	{ "invalid_hostname_reject_code", "501" },
	{ "non_fqdn_reject_code", "504" },
	{ "access_map_reject_code", "554" },
	{ "access_map_defer_code", "450" },
	{ "defer_code", "450" },
	{ "reject_code", "554" },
	{ "maps_rbl_reject_code", "554" },
	{ "plaintext_reject_code", "450" },
	{ "multi_recipient_bounce_reject_code", "550" },

	/* smtpd: SASL. */
	{ "smtpd_sasl_auth_enable", "no" },
	/* postern: built-in backend; "dovecot" as Postfix; "cyrus" warns. */
	{ "smtpd_sasl_type", "postern" },
	/* postern: the built-in backend's login -> password hash table. */
	{ "smtpd_sasl_password_maps", "" },
	/* postern: Dovecot auth server read timeout. */
	{ "smtpd_sasl_timeout", "30s" },
	{ "smtpd_sasl_failure_limit", "10" },	/* postern: per client */
	{ "anvil_rate_time_unit", "60s" },
	{ "anvil_status_update_time", "600s" },
	{ "smtpd_sasl_path", "smtpd" },
	{ "smtpd_sasl_service", "smtp" },
	{ "smtpd_sasl_local_domain", "" },
	{ "smtpd_sasl_security_options", "noanonymous" },
	{ "smtpd_sasl_tls_security_options", "$smtpd_sasl_security_options" },
	{ "smtpd_sasl_authenticated_header", "no" },
	{ "smtpd_sasl_exceptions_networks", "" },
	{ "broken_sasl_auth_clients", "no" },

	/* smtpd: TLS. */
	{ "smtpd_tls_security_level", "" },
	{ "smtpd_use_tls", "no" },
	{ "smtpd_enforce_tls", "no" },
	{ "smtpd_tls_wrappermode", "no" },
	{ "smtpd_tls_auth_only", "no" },
	{ "smtpd_tls_cert_file", "" },
	{ "smtpd_tls_key_file", "$smtpd_tls_cert_file" },
	{ "smtpd_tls_chain_files", "" },
	{ "smtpd_tls_CAfile", "" },
	{ "smtpd_tls_CApath", "" },
	{ "smtpd_tls_protocols", ">=TLSv1" },
	{ "smtpd_tls_mandatory_protocols", ">=TLSv1" },
	{ "smtpd_tls_ciphers", "medium" },
	{ "smtpd_tls_mandatory_ciphers", "medium" },
	{ "smtpd_tls_exclude_ciphers", "" },
	{ "smtpd_tls_mandatory_exclude_ciphers", "" },
	{ "smtpd_tls_eecdh_grade", "auto" },
	{ "smtpd_tls_dh1024_param_file", "" },
	{ "smtpd_tls_loglevel", "0" },
	{ "smtpd_tls_received_header", "no" },
	{ "smtpd_tls_session_cache_database", "" },
	{ "smtpd_tls_session_cache_timeout", "3600s" },
	{ "smtpd_tls_ask_ccert", "no" },
	{ "smtpd_tls_req_ccert", "no" },
	{ "smtpd_tls_fingerprint_digest", "sha256" },
	{ "relay_clientcerts", "" },
	{ "smtpd_starttls_timeout", "${stress?{10}:{300}}s" },

	/* TLS library (tls/), shared by client and server. */
	{ "tls_preempt_cipherlist", "no" },
	{ "tls_ssl_options", "" },
	{ "tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH" },
	{ "tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH" },
	{ "tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH" },
	{ "tls_null_cipherlist", "eNULL:!aNULL" },
	{ "tls_eecdh_strong_curve", "prime256v1" },
	{ "tls_eecdh_ultra_curve", "secp384r1" },
	{ "tls_random_source", "dev:/dev/urandom" },
	{ "tls_daemon_random_bytes", "32" },

	/* qmgr: scheduling, retries, bounces, delivery agents. */
	{ "queue_run_delay", "300s" },
	{ "minimal_backoff_time", "300s" },
	{ "maximal_backoff_time", "4000s" },
	{ "maximal_queue_lifetime", "5d" },
	{ "bounce_queue_lifetime", "5d" },
	{ "delay_warning_time", "0h" },
	{ "qmgr_message_active_limit", "20000" },
	{ "qmgr_message_recipient_limit", "20000" },
	{ "qmgr_fudge_factor", "100" },
	{ "qmgr_clog_warn_time", "300s" },
	{ "qmgr_daemon_timeout", "1000s" },
	{ "qmgr_ipc_timeout", "60s" },
	{ "transport_retry_time", "60s" },
	{ "default_destination_concurrency_limit", "20" },
	{ "default_destination_recipient_limit", "50" },
	{ "default_destination_rate_delay", "0s" },
	{ "initial_destination_concurrency", "5" },
	{ "default_recipient_limit", "20000" },
	{ "default_extra_recipient_limit", "1000" },
	{ "default_delivery_slot_cost", "5" },
	{ "defer_transports", "" },
	{ "hash_queue_names", "deferred, defer" },
	{ "hash_queue_depth", "1" },
	{ "queue_minfree", "0" },
	{ "fast_flush_domains", "$relay_domains" },
	{ "notify_classes", "resource, software" },
	{ "bounce_size_limit", "50000" },
	{ "bounce_template_file", "" },
	{ "bounce_notice_recipient", "postmaster" },
	{ "2bounce_notice_recipient", "postmaster" },
	{ "delay_notice_recipient", "postmaster" },
	{ "error_notice_recipient", "postmaster" },
	{ "double_bounce_sender", "double-bounce" },
	{ "command_time_limit", "1000s" },	/* <transport>_time_limit default */
	{ "smtp_destination_concurrency_limit",
	    "$default_destination_concurrency_limit" },
	{ "smtp_destination_recipient_limit",
	    "$default_destination_recipient_limit" },
	{ "relay_destination_concurrency_limit",
	    "$default_destination_concurrency_limit" },
	{ "relay_destination_recipient_limit",
	    "$default_destination_recipient_limit" },
	{ "lmtp_destination_concurrency_limit",
	    "$default_destination_concurrency_limit" },
	{ "lmtp_destination_recipient_limit",
	    "$default_destination_recipient_limit" },
	{ "virtual_destination_concurrency_limit",
	    "$default_destination_concurrency_limit" },
	{ "virtual_destination_recipient_limit",
	    "$default_destination_recipient_limit" },

	/* Address verification (verify). */
	{ "address_verify_map", "btree:$data_directory/verify_cache" },
	{ "address_verify_negative_cache", "yes" },
	{ "address_verify_negative_expire_time", "3d" },
	{ "address_verify_negative_refresh_time", "3h" },
	{ "address_verify_positive_expire_time", "31d" },
	{ "address_verify_positive_refresh_time", "7d" },
	{ "address_verify_poll_count", "${stress?{1}:{3}}" },
	{ "address_verify_poll_delay", "3s" },
	{ "address_verify_sender", "$double_bounce_sender" },
	{ "address_verify_sender_ttl", "0s" },
	{ "address_verify_service_name", "verify" },
	{ "address_verify_cache_cleanup_interval", "12h" },
	{ "address_verify_default_transport", "$default_transport" },
	{ "address_verify_relayhost", "$relayhost" },
	{ "address_verify_transport_maps", "$transport_maps" },
	{ "address_verify_local_transport", "$local_transport" },
	{ "address_verify_virtual_transport", "$virtual_transport" },
	{ "address_verify_relay_transport", "$relay_transport" },

	/* local delivery and aliases (postalias, qmgr's alias expansion). */
	{ "allow_mail_to_commands", "alias, forward" },
	{ "allow_mail_to_files", "alias, forward" },
	{ "expand_owner_alias", "no" },
	{ "owner_request_special", "yes" },
	{ "home_mailbox", "" },
	{ "mailbox_command", "" },
	{ "luser_relay", "" },

	/* virtual delivery agent. */
	{ "virtual_mailbox_domains", "$virtual_mailbox_maps" },
	{ "virtual_mailbox_maps", "" },
	{ "virtual_mailbox_base", "" },
	{ "virtual_mailbox_limit", "51200000" },
	{ "virtual_mailbox_lock", "fcntl, dotlock" },
	{ "virtual_uid_maps", "" },
	{ "virtual_gid_maps", "" },
	{ "virtual_minimum_uid", "100" },

	/* smtp and lmtp clients. */
	{ "smtp_bind_address", "" },
	{ "smtp_bind_address6", "" },
	{ "smtp_helo_name", "$myhostname" },
	{ "smtp_connect_timeout", "30s" },
	{ "smtp_helo_timeout", "300s" },
	{ "smtp_mail_timeout", "300s" },
	{ "smtp_rcpt_timeout", "300s" },
	{ "smtp_data_init_timeout", "120s" },
	{ "smtp_data_xfer_timeout", "180s" },
	{ "smtp_data_done_timeout", "600s" },
	{ "smtp_quit_timeout", "300s" },
	{ "smtp_starttls_timeout", "300s" },
	{ "smtp_line_length_limit", "998" },
	{ "disable_mime_output_conversion", "no" },
	{ "smtp_host_lookup", "dns" },
	{ "smtp_dns_support_level", "" },
	{ "disable_dns_lookups", "no" },
	{ "smtp_mx_address_limit", "5" },
	{ "smtp_mx_session_limit", "2" },
	{ "smtp_address_preference", "any" },
	{ "smtp_skip_5xx_greeting", "yes" },
	{ "smtp_always_send_ehlo", "yes" },
	{ "smtp_use_bdat", "yes" },	/* postern's own: BDAT to CHUNKING */
	{ "smtp_never_send_ehlo", "no" },
	{ "smtp_connection_cache_on_demand", "yes" },
	{ "smtp_generic_maps", "" },
	{ "smtp_sasl_auth_enable", "no" },
	{ "smtp_sasl_password_maps", "" },
	{ "smtp_sasl_security_options", "noplaintext, noanonymous" },
	{ "smtp_sasl_tls_security_options", "$smtp_sasl_security_options" },
	{ "smtp_sasl_mechanism_filter", "" },
	{ "smtp_tls_security_level", "" },
	{ "smtp_use_tls", "no" },
	{ "smtp_enforce_tls", "no" },
	{ "smtp_tls_wrappermode", "no" },
	{ "smtp_tls_CAfile", "" },
	{ "smtp_tls_CApath", "" },
	{ "smtp_tls_cert_file", "" },
	{ "smtp_tls_key_file", "$smtp_tls_cert_file" },
	{ "smtp_tls_protocols", ">=TLSv1" },
	{ "smtp_tls_mandatory_protocols", ">=TLSv1" },
	{ "smtp_tls_ciphers", "medium" },
	{ "smtp_tls_mandatory_ciphers", "medium" },
	{ "smtp_tls_loglevel", "0" },
	{ "smtp_tls_policy_maps", "" },
	/* postern's own: MTA-STS, RFC 8461 (smtp/smtp_sts.c) */
	{ "smtp_mta_sts_enable", "no" },
	{ "smtp_mta_sts_CAfile", "" },
	{ "smtp_mta_sts_timeout", "10s" },
	{ "smtp_mta_sts_cache", "$data_directory/mta-sts.lmdb" },
	/* postern's own: postern sandbox's capture mode (smtp_capture.c) */
	{ "smtp_sandbox_capture_directory", "" },
	{ "smtp_tls_note_starttls_offer", "no" },
	{ "smtp_tls_verify_cert_match", "hostname" },
	{ "smtp_tls_secure_cert_match", "nexthop, dot-nexthop" },
	{ "smtp_tls_session_cache_database", "" },
	{ "smtp_tls_session_cache_timeout", "3600s" },
	/* postern: blocking sessions, one per request qmgr may have in
	 * flight for the transport (maxproc "-": default_process_limit,
	 * 100); not "$default_process_limit" itself, which may be set far
	 * above what one process should run as threads (1 to 256). */
	{ "smtp_worker_threads", "100" },
	{ "lmtp_connect_timeout", "0s" },
	{ "lmtp_connection_cache_on_demand", "yes" },
	{ "lmtp_connection_cache_time_limit", "2s" },
	{ "lmtp_sasl_auth_enable", "no" },
	{ "lmtp_tls_security_level", "" },

	/*
	 * postscreen. The 3.6 allow/deny names fall back to the old ones,
	 * which stay known (empty unless set), exactly as Postfix 3.6+.
	 */
	{ "postscreen_access_list", "permit_mynetworks" },
	{ "postscreen_blacklist_action", "" },
	{ "postscreen_denylist_action", "${postscreen_blacklist_action?"
	    "{$postscreen_blacklist_action}:{ignore}}" },
	{ "postscreen_whitelist_interfaces", "" },
	{ "postscreen_allowlist_interfaces",
	    "${postscreen_whitelist_interfaces?"
	    "{$postscreen_whitelist_interfaces}:{static:all}}" },
	{ "postscreen_greet_action", "ignore" },
	{ "postscreen_greet_banner", "$smtpd_banner" },
	{ "postscreen_greet_wait", "${stress?{2}:{6}}s" },
	{ "postscreen_greet_ttl", "1d" },
	{ "postscreen_dnsbl_sites", "" },
	{ "postscreen_dnsbl_threshold", "1" },
	{ "postscreen_dnsbl_whitelist_threshold", "" },
	{ "postscreen_dnsbl_allowlist_threshold",
	    "${postscreen_dnsbl_whitelist_threshold?"
	    "{$postscreen_dnsbl_whitelist_threshold}:{0}}" },
	{ "postscreen_dnsbl_action", "ignore" },
	{ "postscreen_dnsbl_ttl", "" },
	{ "postscreen_dnsbl_min_ttl", "60s" },
	{ "postscreen_dnsbl_max_ttl",
	    "${postscreen_dnsbl_ttl?{$postscreen_dnsbl_ttl}:{1}}h" },
	{ "postscreen_dnsbl_timeout", "10s" },
	{ "postscreen_dnsbl_reply_map", "" },
	{ "postscreen_pipelining_enable", "no" },
	{ "postscreen_pipelining_action", "enforce" },
	{ "postscreen_pipelining_ttl", "30d" },
	{ "postscreen_non_smtp_command_enable", "no" },
	{ "postscreen_non_smtp_command_action", "drop" },
	{ "postscreen_non_smtp_command_ttl", "30d" },
	{ "postscreen_forbidden_commands", "$smtpd_forbidden_commands" },
	{ "postscreen_bare_newline_enable", "no" },
	{ "postscreen_bare_newline_action", "ignore" },
	{ "postscreen_bare_newline_ttl", "30d" },
	{ "postscreen_cache_map", "btree:$data_directory/postscreen_cache" },
	{ "postscreen_cache_cleanup_interval", "12h" },
	{ "postscreen_cache_retention_time", "7d" },
	{ "postscreen_command_count_limit", "20" },
	{ "postscreen_command_time_limit", "${stress?{10}:{300}}s" },
	{ "postscreen_client_connection_count_limit",
	    "$smtpd_client_connection_count_limit" },
	{ "postscreen_pre_queue_limit", "$default_process_limit" },
	{ "postscreen_post_queue_limit", "$default_process_limit" },
	{ "postscreen_watchdog_timeout", "10s" },
	{ "postscreen_upstream_proxy_protocol", "" },
	{ "postscreen_disable_vrfy_command", "$disable_vrfy_command" },
	{ "postscreen_helo_required", "$smtpd_helo_required" },
	{ "postscreen_discard_ehlo_keywords", "$smtpd_discard_ehlo_keywords" },
	{ "postscreen_reject_footer", "$smtpd_reject_footer" },
	{ "postscreen_tls_security_level", "$smtpd_tls_security_level" },
	{ "postscreen_use_tls", "$smtpd_use_tls" },
	{ "postscreen_enforce_tls", "$smtpd_enforce_tls" },
	{ "smtpd_service_name", "smtpd" },

	/* Lookup tables (maps/, postmap, postalias). hash: means lmdb. */
	{ "default_database_type", "lmdb" },

	{ NULL, NULL, NULL }
};

static char *params_hostname_cache;

/* params_myhostname - gethostname(), made fully qualified */
char *
params_myhostname(void)
{
	char	 host[HOST_NAME_MAX + 1];

	if (params_hostname_cache == NULL) {
		if (gethostname(host, sizeof(host) - 1) < 0 || *host == 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = 0;
		str_lower(host);
		params_hostname_cache = strchr(host, '.') ? xstrdup(host)
		    : xasprintf("%s.localdomain", host);
	}
	return (xstrdup(params_hostname_cache));
}

/* params_mydomain - myhostname without its first label */
char *
params_mydomain(void)
{
	const char *h = conf_str("myhostname");
	const char *dot = strchr(h, '.');

	return (xstrdup(dot && dot[1] ? dot + 1 : "localdomain"));
}

/* params_exe_directory - the directory of the running executable */
char *
params_exe_directory(void)
{
	char	 path[PATH_MAX];
	ssize_t	 n;
	char	*slash;

	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return (xstrdup("/usr/libexec/postern"));
	path[n] = 0;
	if ((slash = strrchr(path, '/')) != NULL)
		*slash = 0;
	return (xstrdup(*path ? path : "/"));
}

/* params_sibling_directory - exe dir if it holds prog, else exe dir/rel */
static char *
params_sibling_directory(const char *prog, const char *rel)
{
	char	*dir = params_exe_directory();
	char	*path = xasprintf("%s/%s", dir, prog);
	char	*alt, *real;

	if (access(path, X_OK) == 0) {
		free(path);
		return (dir);
	}
	free(path);
	alt = xasprintf("%s/%s", dir, rel);
	path = xasprintf("%s/%s", alt, prog);
	if (access(path, X_OK) == 0 && (real = realpath(alt, NULL)) != NULL) {
		free(dir);
		dir = xstrdup(real);
		free(real);
	}
	free(path);
	free(alt);
	return (dir);
}

/* params_daemon_directory - where master and the daemons are */
static char *
params_daemon_directory(void)
{
	return (params_sibling_directory("master", "../lib/postern"));
}

/* params_command_directory - where postconf and the commands are */
static char *
params_command_directory(void)
{
	return (params_sibling_directory("postconf", "../../sbin"));
}

/* params_add_net - append a network if not already present */
static void
params_add_net(struct strv *v, const char *net)
{
	size_t	 i;

	for (i = 0; i < v->argc; i++)
		if (strcmp(v->argv[i], net) == 0)
			return;
	strv_add(v, net);
}

/* params_mask_len - number of leading one bits */
static int
params_mask_len(const unsigned char *m, size_t len)
{
	int	 bits = 0;
	size_t	 i;
	int	 b;

	for (i = 0; i < len; i++)
		for (b = 7; b >= 0; b--) {
			if (!(m[i] & (1 << b)))
				return (bits);
			bits++;
		}
	return (bits);
}

/* params_apply_mask - zero the host part of an address */
static void
params_apply_mask(unsigned char *a, size_t len, int bits)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (bits >= 8)
			bits -= 8;
		else {
			a[i] &= (unsigned char)(0xff << (8 - bits));
			bits = 0;
		}
	}
}

/* params_net4 - one IPv4 interface address as a network */
static void
params_net4(struct strv *v, const char *style, struct ifaddrs *ifa)
{
	struct in_addr a = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
	unsigned char *p = (unsigned char *)&a;
	char	 txt[INET_ADDRSTRLEN], net[64];
	int	 bits = 32;

	if (p[0] == 127)
		return;
	if (strcasecmp(style, "subnet") == 0 && ifa->ifa_netmask)
		bits = params_mask_len((unsigned char *)&((struct sockaddr_in *)
		    ifa->ifa_netmask)->sin_addr, 4);
	else if (strcasecmp(style, "class") == 0)
		bits = p[0] < 128 ? 8 : p[0] < 192 ? 16 : p[0] < 224 ? 24 : 32;
	params_apply_mask(p, 4, bits);
	inet_ntop(AF_INET, &a, txt, sizeof(txt));
	snprintf(net, sizeof(net), "%s/%d", txt, bits);
	params_add_net(v, net);
}

/* params_net6 - one IPv6 interface address as a network */
static void
params_net6(struct strv *v, const char *style, struct ifaddrs *ifa)
{
	struct in6_addr a = ((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
	char	 txt[INET6_ADDRSTRLEN], net[80];
	int	 bits = 128;

	/* Loopback is added anyway. Link-local is listed, as Postfix does. */
	if (IN6_IS_ADDR_LOOPBACK(&a))
		return;
	if (strcasecmp(style, "host") != 0 && ifa->ifa_netmask)
		bits = params_mask_len(((struct sockaddr_in6 *)
		    ifa->ifa_netmask)->sin6_addr.s6_addr, 16);
	params_apply_mask(a.s6_addr, 16, bits);
	inet_ntop(AF_INET6, &a, txt, sizeof(txt));
	snprintf(net, sizeof(net), "[%s]/%d", txt, bits);
	params_add_net(v, net);
}

/* params_mynetworks - mynetworks computed from mynetworks_style */
char *
params_mynetworks(void)
{
	const char *style = conf_str("mynetworks_style");
	const char *proto = conf_str("inet_protocols");
	int	 v4 = 1, v6 = 1;
	struct strv *v = strv_new();
	struct ifaddrs *ifs = NULL, *ifa;
	char	*s;

	if (*proto && strstr(proto, "all") == NULL) {
		v4 = strstr(proto, "ipv4") != NULL;
		v6 = strstr(proto, "ipv6") != NULL;
	}
	/* IPv4 first, then IPv6, each in interface order (as Postfix). */
	if (getifaddrs(&ifs) < 0)
		ifs = NULL;
	if (v4) {
		strv_add(v, "127.0.0.0/8");
		for (ifa = ifs; ifa; ifa = ifa->ifa_next)
			if (ifa->ifa_addr
			    && ifa->ifa_addr->sa_family == AF_INET)
				params_net4(v, style, ifa);
	}
	if (v6) {
		strv_add(v, "[::1]/128");
		for (ifa = ifs; ifa; ifa = ifa->ifa_next)
			if (ifa->ifa_addr
			    && ifa->ifa_addr->sa_family == AF_INET6)
				params_net6(v, style, ifa);
	}
	if (ifs)
		freeifaddrs(ifs);
	s = strv_join(v, " ");
	strv_free(v);
	return (s);
}

/* conf_mynetworks - the effective mynetworks list (caller frees) */
struct strv *
conf_mynetworks(void)
{
	return (conf_list("mynetworks"));
}

/* conf_netlist - a network list parameter whose default is $mynetworks */
struct strv *
conf_netlist(const char *name)
{
	const char *raw = conf_raw(name);

	if (raw == NULL || strcmp(raw, "$mynetworks") == 0
	    || strcmp(raw, "${mynetworks}") == 0)
		return (conf_mynetworks());
	return (conf_list(name));
}
