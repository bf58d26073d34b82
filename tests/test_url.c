/*
 * test_url.c - what ais_open and ais_fopen do with bad input: a clear errno
 * and message, no request, no crash; and the ais:// form resolved against the
 * endpoint.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static void test_null_url_is_einval(void)
{
	expect_open_fails(NULL, EINVAL, "no URL");
	expect_open_fails("", EINVAL, "no URL");
}

static void test_url_without_scheme_is_einval(void)
{
	expect_open_fails("127.0.0.1/random.bin", EINVAL, "no scheme");
}

static void test_unknown_scheme_is_einval(void)
{
	expect_open_fails("ftp://127.0.0.1/x", EINVAL, "unsupported scheme 'ftp'");
	expect_open_fails("file:///etc/passwd", EINVAL,
	                  "unsupported scheme 'file'");
}

static void test_malformed_http_url_is_einval(void)
{
	expect_open_fails("http://", EINVAL, "malformed URL");
	expect_open_fails("http://host:99999999/x", EINVAL, "malformed URL");
	expect_open_fails("http://exa mple.com/x", EINVAL, "contains a space");
	expect_open_fails("http://example.com/\x01", EINVAL, "control character");
}

static void test_ais_url_without_endpoint_is_einval(void)
{
	char *saved = getenv("AIS_ENDPOINT") ? strdup(getenv("AIS_ENDPOINT")) : NULL;

	unsetenv("AIS_ENDPOINT");
	expect_open_fails("ais://testbck/random.bin", EINVAL, "AIS_ENDPOINT");
	if (saved)
		setenv("AIS_ENDPOINT", saved, 1);
	free(saved);
}

static void test_malformed_ais_url_is_einval(void)
{
	expect_open_fails("ais://", EINVAL, "ais://BUCKET/OBJECT");
	expect_open_fails("ais://bucket", EINVAL, "ais://BUCKET/OBJECT");
	expect_open_fails("ais://bucket/", EINVAL, "no object name");
	expect_open_fails("ais://bad$bucket/obj", EINVAL, "bucket name");
}

static void test_ais_url_reads_through_endpoint(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	o.endpoint = url_of("");
	s = ais_open("ais://testbck/random.bin", &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	assert_object_equal(OBJ_RANDOM, got, len);
	free(got);
	ais_close(s);
}

static void test_ais_url_uses_env_endpoint(void)
{
	char *saved = getenv("AIS_ENDPOINT") ? strdup(getenv("AIS_ENDPOINT")) : NULL;
	ais_stream *s;

	setenv("AIS_ENDPOINT", url_of("/"), 1);
	s = ais_open("ais://testbck/text.txt", NULL);
	CU_ASSERT_PTR_NOT_NULL(s);
	if (s) {
		size_t want_len;
		unsigned char *want = harness_object(OBJ_TEXT, &want_len);

		CU_ASSERT_EQUAL(ais_size(s), (int64_t)want_len);
		free(want);
	}
	ais_close(s);
	if (saved)
		setenv("AIS_ENDPOINT", saved, 1);
	else
		unsetenv("AIS_ENDPOINT");
	free(saved);
}

static void test_ais_object_name_is_percent_encoded(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	/* "random bin" with a space must be sent as random%20bin: nginx has no
	 * such file, so the answer is a clean 404, not a malformed request. */
	o.endpoint = url_of("");
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open("ais://testbck/random bin", &o));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "random%20bin"));
}

static void test_bad_header_option_is_einval(void)
{
	const char *headers[] = { "NoColonHere", NULL };
	struct ais_options o = AIS_OPTIONS_INIT;

	o.headers = headers;
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), &o));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "NoColonHere"));
}

static void test_malformed_env_timeout_is_einval(void)
{
	setenv("AIS_READ_TIMEOUT", "soon", 1);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "AIS_READ_TIMEOUT"));
	unsetenv("AIS_READ_TIMEOUT");
}

/* "w" and "wb" write an object (test_write.c); updating or appending
 * cannot be done to one. */
static void test_fopen_rejects_update_and_append_modes(void)
{
	static const char *modes[] = { "r+", "a", "rw", "", "w+", "a+" };

	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
		errno = 0;
		CU_ASSERT_PTR_NULL(ais_fopen(url_of("/random.bin"), modes[i]));
		CU_ASSERT_EQUAL(errno, EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "mode"));
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_fopen(url_of("/random.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

static void test_null_stream_calls_are_einval(void)
{
	const void *p;
	char buf[4];
	struct ais_stats st;

	errno = 0;
	CU_ASSERT_EQUAL(ais_next(NULL, &p), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(ais_read(NULL, buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(ais_seek(NULL, 0, SEEK_SET), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(ais_stats(NULL, &st), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(ais_fdopen(NULL, "r"));
	CU_ASSERT_EQUAL(ais_close(NULL), 0);
}

/* Open uri with the endpoint behind a logging proxy and return the request
 * line the gateway saw, e.g. "GET /v1/objects/b/o?provider=aws". */
static char *request_seen_for(const char *uri, int *err)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	struct proxy p;
	ais_stream *s;
	char *log, *line = NULL;

	if (proxy_start(&p, "pass") < 0)
		return NULL;
	o.endpoint = proxied(&p, "");
	errno = 0;
	s = ais_open(uri, &o);
	*err = s ? 0 : errno;
	ais_close(s);
	log = proxy_log(&p);
	if (log && strstr(log, "GET ")) {
		char *start = strstr(log, "GET "), *end = strstr(start, " range=");

		line = strndup(start, end ? (size_t)(end - start) : strlen(start));
	}
	free(log);
	proxy_stop(&p);
	return line;
}

static void expect_request(const char *uri, const char *request)
{
	int err;
	char *seen = request_seen_for(uri, &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_STRING_EQUAL(seen, request);
	CU_ASSERT_EQUAL(err, 0);
	free(seen);
}

static void test_remote_backend_schemes_name_their_provider(void)
{
	expect_request("s3://testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=aws");
	expect_request("gs://testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=gcp");
	expect_request("az://testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=azure");
	expect_request("oc://testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=oci");
}

static void test_namespace_goes_in_query(void)
{
	expect_request("ais://@Zuid1#ns1/testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=ais"
	               "&namespace=%40Zuid1%23ns1");
	expect_request("ais://#ns2/testbck/random.bin",
	               "GET /v1/objects/testbck/random.bin?provider=ais"
	               "&namespace=%40%23ns2");
	expect_open_fails("ais://@uuidonly/testbck/random.bin", EINVAL,
	                  "namespace");
}

static void test_object_name_keeps_slashes_and_encodes_the_rest(void)
{
	int err;
	char *seen = request_seen_for("ais://testbck/dir one/a+b?c#d.bin", &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_STRING_EQUAL(seen, "GET /v1/objects/testbck/dir%20one/"
	                       "a%2Bb%3Fc%23d.bin?provider=ais");
	CU_ASSERT_EQUAL(err, ENOENT);
	free(seen);
}

/* "." and ".." in an object name are names, not directions: plain, the URL
 * parser would resolve them and the request (with the token) would go to
 * another object or another API path. */
static void test_dot_segments_reach_the_server_as_names(void)
{
	int err;
	char *seen = request_seen_for("ais://testbck/dir/../../../../obj", &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_STRING_EQUAL(seen, "GET /v1/objects/testbck/dir/%2E%2E/%2E%2E/"
	                       "%2E%2E/%2E%2E/obj?provider=ais");
	CU_ASSERT_EQUAL(err, ENOENT);
	free(seen);
	seen = request_seen_for("ais://testbck/./a..b/.x", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_STRING_EQUAL(seen, "GET /v1/objects/testbck/%2E/a..b/.x"
	                       "?provider=ais");
	free(seen);
	/* A bucket named ".." would climb out of /v1/objects/. */
	seen = request_seen_for("ais://../v1/x", &err);
	CU_ASSERT_PTR_NULL(seen);
	CU_ASSERT_EQUAL(err, EINVAL);
	free(seen);
}

/* An endpoint with a query or fragment would swallow the API path. */
static void test_endpoint_with_query_is_einval(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.endpoint = "http://127.0.0.1:1/?x=1#frag";
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open("ais://b/o", &o));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "endpoint"));
	o.endpoint = "ftp://127.0.0.1:1";
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open("ais://b/o", &o));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* A program built against an older header passes a shorter struct: the
 * library reads none of the fields past its size (here they hold bytes
 * that would crash it as pointers). */
static void test_options_of_an_older_program_are_read_to_their_size(void)
{
	const struct ais_options init = AIS_OPTIONS_INIT;
	size_t older = offsetof(struct ais_options, headers);
	struct ais_options *o = malloc(sizeof(*o));
	ais_stream *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	memset(o, 0xa5, sizeof(*o));
	memcpy(o, &init, older);
	o->size = older;
	s = ais_open(url_of("/text.txt"), o);
	CU_ASSERT_PTR_NOT_NULL(s);
	ais_close(s);
	free(o);
}

/* A program built against a newer header passes a longer struct: fields
 * this library does not know must be unset, or it says so. */
static void test_options_of_a_newer_program_must_not_set_unknown_fields(void)
{
	const struct ais_options init = AIS_OPTIONS_INIT;
	size_t newer = sizeof(init) + 16;
	unsigned char *buf = calloc(1, newer);
	struct ais_options *o = (struct ais_options *)buf;
	ais_stream *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memcpy(buf, &init, sizeof(init));
	o->size = newer;
	s = ais_open(url_of("/text.txt"), o);
	CU_ASSERT_PTR_NOT_NULL(s);
	ais_close(s);
	buf[sizeof(init) + 3] = 1;
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/text.txt"), o));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "does not know"));
	o->size = 4;
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/text.txt"), o));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "AIS_OPTIONS_INIT"));
	free(buf);
}

static void test_malformed_env_boolean_is_einval(void)
{
	setenv("AIS_SKIP_VERIFY_CRT", "maybe", 1);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "AIS_SKIP_VERIFY_CRT"));
	unsetenv("AIS_SKIP_VERIFY_CRT");
}

static void test_malformed_readahead_env_is_einval(void)
{
	static const char *bad[][2] = {
		{ "AIS_READAHEAD", "lots" }, { "AIS_READAHEAD", "64Q" },
		{ "AIS_PART_SIZE", "-1" }, { "AIS_CONNECTIONS", "0" },
		{ "AIS_CONNECTIONS", "65" }, { "AIS_MAX_RETRIES", "many" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		/* CI runs the suite with AIS_READAHEAD=0 too: put it back. */
		const char *was = getenv(bad[i][0]);
		char *saved = was ? strdup(was) : NULL;

		setenv(bad[i][0], bad[i][1], 1);
		errno = 0;
		CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), NULL));
		CU_ASSERT_EQUAL(errno, EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), bad[i][0]));
		if (saved)
			setenv(bad[i][0], saved, 1);
		else
			unsetenv(bad[i][0]);
		free(saved);
	}
}

static void test_unreadable_token_file_is_einval(void)
{
	char path[1024];
	FILE *f;

	setenv("AIS_AUTHN_TOKEN_FILE", "/nonexistent/token.json", 1);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "/nonexistent/token.json"));
	snprintf(path, sizeof(path), "%s/bad-token.json", harness_dir());
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"tokn\": \"x\"}\n", f);
	fclose(f);
	setenv("AIS_AUTHN_TOKEN_FILE", path, 1);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/random.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "no {\"token\""));
	unsetenv("AIS_AUTHN_TOKEN_FILE");
}

int register_url_suite(void)
{
	static const struct test_case tests[] = {
		{ "null URL is EINVAL", test_null_url_is_einval },
		{ "URL without scheme is EINVAL", test_url_without_scheme_is_einval },
		{ "unknown scheme is EINVAL", test_unknown_scheme_is_einval },
		{ "malformed http URL is EINVAL", test_malformed_http_url_is_einval },
		{ "ais:// without endpoint is EINVAL",
		  test_ais_url_without_endpoint_is_einval },
		{ "malformed ais:// URL is EINVAL", test_malformed_ais_url_is_einval },
		{ "ais:// reads through the endpoint",
		  test_ais_url_reads_through_endpoint },
		{ "ais:// uses AIS_ENDPOINT", test_ais_url_uses_env_endpoint },
		{ "ais:// object name is percent-encoded",
		  test_ais_object_name_is_percent_encoded },
		{ "bad header option is EINVAL", test_bad_header_option_is_einval },
		{ "malformed env timeout is EINVAL",
		  test_malformed_env_timeout_is_einval },
		{ "ais_fopen rejects update and append modes",
		  test_fopen_rejects_update_and_append_modes },
		{ "NULL stream calls are EINVAL", test_null_stream_calls_are_einval },
		{ "s3/gs/az/oc name their provider",
		  test_remote_backend_schemes_name_their_provider },
		{ "namespace goes in the query", test_namespace_goes_in_query },
		{ "object name keeps slashes and encodes the rest",
		  test_object_name_keeps_slashes_and_encodes_the_rest },
		{ "options of an older program are read to their size",
		  test_options_of_an_older_program_are_read_to_their_size },
		{ "options of a newer program must not set unknown fields",
		  test_options_of_a_newer_program_must_not_set_unknown_fields },
		{ "dot segments reach the server as names",
		  test_dot_segments_reach_the_server_as_names },
		{ "endpoint with a query or another scheme is EINVAL",
		  test_endpoint_with_query_is_einval },
		{ "malformed env boolean is EINVAL",
		  test_malformed_env_boolean_is_einval },
		{ "malformed read-ahead env is EINVAL",
		  test_malformed_readahead_env_is_einval },
		{ "unreadable token file is EINVAL",
		  test_unreadable_token_file_is_einval },
		{ NULL, NULL },
	};

	return add_suite("url and input checks", tests);
}
