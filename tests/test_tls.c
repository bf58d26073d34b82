/*
 * test_tls.c - https for real: nginx serves with a certificate from a CA the
 * harness made with openssl.  Verified, rejected (unknown CA), skip-verify,
 * client certificate, and the token's refusal to follow https -> http.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"

static const char *tls(enum tls_server which, const char *path)
{
	static char url[8][512];
	static unsigned next;
	char *out = url[next++ % 8];

	tls_url(out, 512, which, path);
	return out;
}

static int start_tls(void)
{
	return tls_start() == 0 ? 0 : -1;
}

static void expect_exact(const char *url, const struct ais_options *o)
{
	ais_stream *s = ais_open(url, o);
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_PTR_NOT_NULL(s);
	if (!s) {
		fprintf(stderr, "\n  %s: %s\n", url, ais_last_error());
		return;
	}
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	assert_object_equal(OBJ_RANDOM, got, len);
	free(got);
	ais_close(s);
}

static void expect_refused(const char *url, const struct ais_options *o,
                           int err, const char *words)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url, o));
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), words));
}

static void test_verified_with_ca_option(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.ca_file = tls_file("ca.pem");
	expect_exact(tls(TLS_PLAIN, "/random.bin"), &o);
}

static void test_verified_with_ais_client_ca(void)
{
	setenv("AIS_CLIENT_CA", tls_file("ca.pem"), 1);
	expect_exact(tls(TLS_PLAIN, "/random.bin"), NULL);
	unsetenv("AIS_CLIENT_CA");
}

static void test_unknown_ca_is_rejected_at_once(void)
{
	struct ais_options o = fast_options();

	o.ca_file = tls_file("other-ca.pem");
	o.max_retries = 50;
	/* A certificate problem is not retried: it fails on the first try. */
	expect_refused(tls(TLS_PLAIN, "/random.bin"), &o, EIO, "certificate");
	expect_refused(tls(TLS_PLAIN, "/random.bin"), &o, EIO, "curl error 60");
}

static void test_skip_verify_option_and_env(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.skip_verify = 1;
	expect_exact(tls(TLS_PLAIN, "/random.bin"), &o);
	setenv("AIS_SKIP_VERIFY_CRT", "yes", 1);
	expect_exact(tls(TLS_PLAIN, "/random.bin"), NULL);
	/* Code wins over the environment. */
	o.skip_verify = -1;
	expect_refused(tls(TLS_PLAIN, "/random.bin"), &o, EIO, "certificate");
	setenv("AIS_SKIP_VERIFY_CRT", "off", 1);
	expect_refused(tls(TLS_PLAIN, "/random.bin"), NULL, EIO, "certificate");
	unsetenv("AIS_SKIP_VERIFY_CRT");
}

static void test_client_certificate(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.ca_file = tls_file("ca.pem");
	expect_refused(tls(TLS_CLIENT_CERT, "/random.bin"), &o, EIO, "HTTP 400");
	o.cert_file = tls_file("client.pem");
	o.key_file = tls_file("client.key");
	expect_exact(tls(TLS_CLIENT_CERT, "/random.bin"), &o);
	setenv("AIS_CLIENT_CA", tls_file("ca.pem"), 1);
	setenv("AIS_CRT", tls_file("client.pem"), 1);
	setenv("AIS_CRT_KEY", tls_file("client.key"), 1);
	expect_exact(tls(TLS_CLIENT_CERT, "/random.bin"), NULL);
	unsetenv("AIS_CLIENT_CA");
	unsetenv("AIS_CRT");
	unsetenv("AIS_CRT_KEY");
}

static void test_token_never_follows_https_to_http(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	char *log;

	o.ca_file = tls_file("ca.pem");
	o.token = "secret-token-5";
	expect_refused(tls(TLS_DOWNGRADE, "/random.bin"), &o, EACCES,
	               "refused to follow a redirect from https to http");
	log = cluster_target_log(0);
	CU_ASSERT_PTR_NULL(log ? strstr(log, "secret-token-5") : NULL);
	free(log);
	/* Without a credential to leak, the same redirect is followed. */
	o.token = NULL;
	expect_exact(tls(TLS_DOWNGRADE, "/random.bin"), &o);
}

/* Target 0's log once it has a line with marker, polled within a bound
 * (nginx writes it just after the response).  Caller frees. */
static char *target0_log_with(const char *marker)
{
	char *log = cluster_target_log(0);

	for (int i = 0; i < 300 && log && !strstr(log, marker); i++) {
		free(log);
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
		log = cluster_target_log(0);
	}
	return log;
}

static void test_user_authorization_never_follows_https_to_http(void)
{
	static const char *const headers[] = {
		"Authorization: Basic c2VjcmV0LTY=", NULL,
	};
	const char *url = tls(TLS_DOWNGRADE, "/random.bin?user-authorization");
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;
	char *log;

	o.ca_file = tls_file("ca.pem");
	o.headers = headers;
	errno = 0;
	s = ais_open(url, &o);
	/* Refusing the redirect, or following it without the header: either
	 * way the credential does not travel in clear. */
	if (s) {
		unsigned char *got;
		size_t len;
		int err;

		got = drain_next(s, &len, &err);
		assert_object_equal(OBJ_RANDOM, got, len);
		free(got);
		ais_close(s);
		log = target0_log_with("/random.bin?user-authorization ");
		CU_ASSERT_PTR_NOT_NULL(log ? strstr(log, "/random.bin?user-authorization ") : NULL);
	} else {
		CU_ASSERT_EQUAL(errno, EACCES);
		log = cluster_target_log(0);
	}
	CU_ASSERT_PTR_NOT_NULL(log);
	CU_ASSERT_PTR_NULL(log ? strstr(log, "c2VjcmV0LTY=") : NULL);
	if (log && strstr(log, "c2VjcmV0LTY="))
		fprintf(stderr, "\n  target 0 (plain http) log:\n%s", log);
	free(log);
}

int register_tls_suite(void)
{
	static const struct test_case tests[] = {
		{ "verified with the CA option", test_verified_with_ca_option },
		{ "verified with AIS_CLIENT_CA", test_verified_with_ais_client_ca },
		{ "unknown CA is rejected at once",
		  test_unknown_ca_is_rejected_at_once },
		{ "skip-verify option and env", test_skip_verify_option_and_env },
		{ "client certificate", test_client_certificate },
		{ "token never follows https to http",
		  test_token_never_follows_https_to_http },
		{ "user Authorization never follows https to http",
		  test_user_authorization_never_follows_https_to_http },
		{ NULL, NULL },
	};

	return add_suite_with_init("TLS", start_tls, tests);
}
