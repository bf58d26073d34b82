/*
 * test_config.c - where settings come from: struct ais_options, then the
 * environment, then, for AIStore URIs, the AIStore CLI's cli.json and login
 * token file under $HOME/.config/ais/cli; what a malformed file gives; what
 * ais_config_describe() and aiscat -v say about it.
 *
 * Every test runs with HOME set to a fresh directory of its own and the
 * cluster variables (AIS_ENDPOINT, AIS_AUTHN_*, the TLS ones) unset; the
 * suite's teardown puts the environment back, even after a failed test.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "suites.h"

/* What a test may change. */
static const char *const env_names[] = {
	"HOME", "AIS_ENDPOINT", "AIS_AUTHN_TOKEN", "AIS_AUTHN_TOKEN_FILE",
	"AIS_CLIENT_CA", "AIS_CRT", "AIS_CRT_KEY", "AIS_SKIP_VERIFY_CRT",
	"AIS_READ_TIMEOUT", "AIS_CONNECTIONS", "AIS_VERIFY",
};
#define ENV_COUNT (sizeof(env_names) / sizeof(*env_names))
static char *env_saved[ENV_COUNT];
static bool env_was_set[ENV_COUNT];
static char cli_dir[256];

static void setup(void)
{
	static const char *const dirs[] = { "", "/.config", "/.config/ais",
	                                    "/.config/ais/cli" };
	static int homes;
	char home[128];

	for (size_t i = 0; i < ENV_COUNT; i++) {
		const char *v = getenv(env_names[i]);

		env_was_set[i] = v != NULL;
		env_saved[i] = v ? strdup(v) : NULL;
		if (i > 0)
			unsetenv(env_names[i]);
	}
	snprintf(home, sizeof(home), "%s/config-home-%d", harness_dir(), ++homes);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		snprintf(cli_dir, sizeof(cli_dir), "%s%s", home, dirs[i]);
		mkdir(cli_dir, 0700);
	}
	setenv("HOME", home, 1);
}

static void teardown(void)
{
	for (size_t i = 0; i < ENV_COUNT; i++) {
		if (env_was_set[i])
			setenv(env_names[i], env_saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(env_saved[i]);
		env_saved[i] = NULL;
	}
}

/* Path of file name in the CLI's directory of this test's HOME. */
static const char *cli_file(const char *name)
{
	char *out = url_slot();

	snprintf(out, URL_SLOT_SIZE, "%s/%s", cli_dir, name);
	return out;
}

static void write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	CU_ASSERT_EQUAL(fclose(f), 0);
}

/* A cli.json whose cluster section is the JSON members given. */
static void write_cli_json(const char *members)
{
	write_file(cli_file("cli.json"),
	           "{\n  \"cluster\": {%s},\n  \"timeout\": {\"tcp_timeout\": "
	           "\"60s\", \"http_timeout\": \"0s\"},\n  \"no_color\": false\n}\n",
	           members);
}

/* ais_config_describe()'s text for url and o, malloc'd ("" on failure). */
static char *describe(const char *url, const struct ais_options *o)
{
	int len = ais_config_describe(url, o, NULL, 0);
	char *text;

	CU_ASSERT(len > 0);
	if (len <= 0)
		return strdup("");
	text = malloc((size_t)len + 1);
	CU_ASSERT_EQUAL(ais_config_describe(url, o, text, (size_t)len + 1), len);
	return text;
}

/* Whether text has line, whole. */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || !p[len]))
			return true;
	return false;
}

static void expect_line(const char *text, const char *line)
{
	CU_ASSERT(has_line(text, line));
	if (!has_line(text, line))
		fprintf(stderr, "\n  expected the line\n    %s\n  in\n%s", line, text);
}

static char *line_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *line_of(const char *fmt, ...)
{
	char *out = url_slot();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, URL_SLOT_SIZE, fmt, ap);
	va_end(ap);
	return out;
}

/* An http URL on which nothing listens. */
static const char *dead_endpoint(void)
{
	return line_of("http://127.0.0.1:%d", harness_free_port());
}

/* ---- the endpoint ------------------------------------------------------ */

static void test_ais_uri_reads_with_only_cli_json(void)
{
	write_cli_json(line_of("\"url\": \"%s\"", url_of("")));
	CU_ASSERT(read_exact("ais://testbck/random.bin", NULL, OBJ_RANDOM, NULL));
}

static void test_ais_endpoint_wins_over_cluster_url(void)
{
	char *text;

	write_cli_json(line_of("\"url\": \"%s\"", dead_endpoint()));
	setenv("AIS_ENDPOINT", url_of(""), 1);
	CU_ASSERT(read_exact("ais://testbck/text.txt", NULL, OBJ_TEXT, NULL));
	text = describe("ais://testbck/text.txt", NULL);
	expect_line(text, line_of("endpoint: %s (AIS_ENDPOINT)", url_of("")));
	free(text);
}

static void test_option_endpoint_wins_over_ais_endpoint(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	char *text;

	write_cli_json(line_of("\"url\": \"%s\"", dead_endpoint()));
	setenv("AIS_ENDPOINT", dead_endpoint(), 1);
	o.endpoint = url_of("");
	CU_ASSERT(read_exact("ais://testbck/text.txt", &o, OBJ_TEXT, NULL));
	text = describe("ais://testbck/text.txt", &o);
	expect_line(text, line_of("endpoint: %s (options)", url_of("")));
	free(text);
}

static void test_default_ais_host_when_cluster_url_is_empty(void)
{
	char *text;

	write_cli_json(line_of("\"url\": \"\", \"default_ais_host\": \"%s\"",
	                       url_of("")));
	CU_ASSERT(read_exact("ais://testbck/text.txt", NULL, OBJ_TEXT, NULL));
	text = describe("ais://testbck/text.txt", NULL);
	expect_line(text, line_of("endpoint: %s (cluster.default_ais_host in %s)",
	                          url_of(""), cli_file("cli.json")));
	free(text);
}

static void test_missing_cli_json_is_no_error(void)
{
	char *text;

	expect_open_fails("ais://testbck/text.txt", EINVAL,
	                  "needs the AIStore endpoint");
	CU_ASSERT(read_exact(url_of("/text.txt"), NULL, OBJ_TEXT, NULL));
	text = describe("ais://testbck/text.txt", NULL);
	expect_line(text, line_of("cli.json: %s (absent)", cli_file("cli.json")));
	expect_line(text, "endpoint: none (default)");
	expect_line(text, "token: none");
	free(text);
}

static void test_malformed_cli_endpoint_names_its_source(void)
{
	write_cli_json("\"url\": \"ftp://127.0.0.1:1\"");
	expect_open_fails("ais://testbck/text.txt", EINVAL,
	                  line_of("cluster.url in %s", cli_file("cli.json")));
}

/* ---- malformed files --------------------------------------------------- */

static void test_malformed_cli_json_is_einval_naming_file_and_fault(void)
{
	static const char *const cases[][2] = {
		{ "not json\n", "not JSON" },
		{ "", "empty" },
		{ "\n\n", "empty" },
		{ "[1, 2]\n", "not a JSON object" },
		{ "{\"cluster\": 5}", "cluster is not a JSON object" },
		{ "{\"cluster\": {\"url\": 8080}}", "cluster.url is not a string" },
		{ "{\"cluster\": {\"client_crt\": [\"a\"]}}",
		  "cluster.client_crt is not a string" },
		{ "{\"cluster\": {\"skip_verify_crt\": \"yes\"}}",
		  "cluster.skip_verify_crt is not true or false" },
		{ "{\"cluster\": {\"url\": \"http://a\\u0000b\"}}",
		  "cluster.url holds a NUL character" },
		{ "{\"cluster\": {}} {}", "more after the value" },
		{ "{\"cluster\": {\"url\": \"http://x\"", "ends inside a value" },
		{ "{\"cluster\": {\"url\": \"http://x\",}}", "not JSON" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		write_file(cli_file("cli.json"), "%s", cases[i][0]);
		expect_open_fails("ais://testbck/text.txt", EINVAL, cases[i][1]);
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(),
		                              cli_file("cli.json")));
		errno = 0;
		CU_ASSERT_EQUAL(ais_config_describe("ais://b/o", NULL, NULL, 0), -1);
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
}

static void test_cli_json_that_is_a_directory_is_einval(void)
{
	CU_ASSERT_EQUAL_FATAL(mkdir(cli_file("cli.json"), 0700), 0);
	expect_open_fails("ais://testbck/text.txt", EINVAL, "not a regular file");
}

/* A request that is not for the CLI's cluster does not read its files, so
 * a broken cli.json or token file cannot fail it. */
static void test_http_urls_and_clients_do_not_read_cli_files(void)
{
	ais_client *c;
	char *text;

	write_file(cli_file("cli.json"), "{ broken");
	write_file(cli_file("auth.token"), "{ broken");
	CU_ASSERT(read_exact(url_of("/text.txt"), NULL, OBJ_TEXT, NULL));
	c = ais_client_new(NULL);
	CU_ASSERT_PTR_NOT_NULL(c);
	ais_client_free(c);
	text = describe(url_of("/text.txt"), NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "cli.json: not read"));
	free(text);
}

/* ---- TLS ------------------------------------------------------------------ */

static const char *tls_base(enum tls_server which)
{
	char *out = url_slot();

	tls_url(out, URL_SLOT_SIZE, which, "");
	return out;
}

static void test_tls_settings_come_from_cli_json(void)
{
	CU_ASSERT_EQUAL_FATAL(tls_start(), 0);
	write_cli_json(line_of("\"url\": \"%s\", \"client_ca_tls\": \"%s\", "
	                       "\"client_crt\": \"%s\", \"client_crt_key\": "
	                       "\"%s\", \"skip_verify_crt\": false",
	                       tls_base(TLS_CLIENT_CERT), tls_file("ca.pem"),
	                       tls_file("client.pem"), tls_file("client.key")));
	CU_ASSERT(read_exact("ais://testbck/random.bin", NULL, OBJ_RANDOM, NULL));
}

static void test_tls_variables_win_over_cli_json(void)
{
	CU_ASSERT_EQUAL_FATAL(tls_start(), 0);
	write_cli_json(line_of("\"url\": \"%s\", \"client_ca_tls\": \"%s\"",
	                       tls_base(TLS_PLAIN), tls_file("ca.pem")));
	setenv("AIS_CLIENT_CA", tls_file("other-ca.pem"), 1);
	expect_open_fails("ais://testbck/random.bin", EIO, "certificate");
}

static void test_skip_verify_crt_from_cli_json_and_env_override(void)
{
	char *text;

	CU_ASSERT_EQUAL_FATAL(tls_start(), 0);
	write_cli_json(line_of("\"url\": \"%s\", \"skip_verify_crt\": true",
	                       tls_base(TLS_PLAIN)));
	CU_ASSERT(read_exact("ais://testbck/text.txt", NULL, OBJ_TEXT, NULL));
	text = describe("ais://testbck/text.txt", NULL);
	expect_line(text, line_of("skip_verify: yes (cluster.skip_verify_crt "
	                          "in %s)", cli_file("cli.json")));
	free(text);
	setenv("AIS_SKIP_VERIFY_CRT", "false", 1);
	expect_open_fails("ais://testbck/text.txt", EIO, "certificate");
}

/* The cluster's CA is for the cluster: an https URL elsewhere is verified
 * as before, against the system's store or AIS_CLIENT_CA. */
static void test_cli_ca_is_not_used_for_https_urls(void)
{
	char url[URL_SLOT_SIZE];

	CU_ASSERT_EQUAL_FATAL(tls_start(), 0);
	tls_url(url, sizeof(url), TLS_PLAIN, "/text.txt");
	write_cli_json(line_of("\"url\": \"%s\", \"client_ca_tls\": \"%s\"",
	                       tls_base(TLS_PLAIN), tls_file("ca.pem")));
	expect_open_fails(url, EIO, "certificate");
	setenv("AIS_CLIENT_CA", tls_file("ca.pem"), 1);
	CU_ASSERT(read_exact(url, NULL, OBJ_TEXT, NULL));
}

/* ---- the token ------------------------------------------------------------ */

static void test_token_precedence(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	const char *uri = "ais://testbck/text.txt";
	char *text;

	write_cli_json(line_of("\"url\": \"%s\"", url_of("")));
	write_file(cli_file("auth.token"), "{\"token\": \"secret-login\"}\n");
	write_file(cli_file("other.token"), "{\"token\": \"secret-file\"}\n");
	setenv("AIS_AUTHN_TOKEN_FILE", cli_file("other.token"), 1);
	setenv("AIS_AUTHN_TOKEN", "secret-env", 1);
	o.token = "secret-option";

	text = describe(uri, &o);
	expect_line(text, "token: from options");
	CU_ASSERT_PTR_NULL(strstr(text, "secret"));
	free(text);
	text = describe(uri, NULL);
	expect_line(text, "token: from AIS_AUTHN_TOKEN");
	free(text);
	unsetenv("AIS_AUTHN_TOKEN");
	text = describe(uri, NULL);
	expect_line(text, line_of("token: from AIS_AUTHN_TOKEN_FILE %s",
	                          cli_file("other.token")));
	free(text);
	unsetenv("AIS_AUTHN_TOKEN_FILE");
	text = describe(uri, NULL);
	expect_line(text, line_of("token: from the AIStore CLI's token file %s",
	                          cli_file("auth.token")));
	CU_ASSERT_PTR_NULL(strstr(text, "secret"));
	free(text);
	/* Logged out: no token, and no error. */
	CU_ASSERT_EQUAL(remove(cli_file("auth.token")), 0);
	text = describe(uri, NULL);
	expect_line(text, "token: none");
	free(text);
	CU_ASSERT(read_exact(uri, NULL, OBJ_TEXT, NULL));
}

/* The gateway's log line for the request of object, once written. */
static char *gateway_line(const char *object)
{
	char *log = NULL, *line = NULL;
	const char *at = NULL, *end;

	for (int i = 0; i < 300 && !at; i++) {
		free(log);
		if (i)
			nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
		log = cluster_gateway_log();
		at = log ? strstr(log, object) : NULL;
	}
	if (at) {
		end = strchr(at, '\n');
		line = strndup(at, end ? (size_t)(end - at) : strlen(at));
	}
	free(log);
	return line ? line : strdup("");
}

static void test_cli_login_token_goes_to_the_cluster_only(void)
{
	char gateway[URL_SLOT_SIZE], url[URL_SLOT_SIZE];
	char *line;

	CU_ASSERT_EQUAL_FATAL(cluster_start(), 0);
	cluster_url(gateway, sizeof(gateway), "");
	write_cli_json(line_of("\"url\": \"%s\"", gateway));
	write_file(cli_file("auth.token"), "{\"token\": \"cli-login-token\"}");
	/* The gateway redirects, the target has no such object: 404, after
	 * the gateway logged the request with its Authorization. */
	expect_open_fails("ais://testbck/config-token-ais", ENOENT, "404");
	line = gateway_line("config-token-ais");
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "|Bearer cli-login-token|"));
	free(line);
	cluster_url(url, sizeof(url), "/v1/objects/testbck/config-token-http");
	expect_open_fails(url, ENOENT, "404");
	line = gateway_line("config-token-http");
	CU_ASSERT(line[0] && !strstr(line, "Bearer"));
	free(line);
}

static void test_malformed_login_token_file_is_einval_naming_it(void)
{
	write_cli_json(line_of("\"url\": \"%s\"", url_of("")));
	write_file(cli_file("auth.token"), "{\"token\": 42}");
	expect_open_fails("ais://testbck/text.txt", EINVAL,
	                  "\"token\" is not a string");
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), cli_file("auth.token")));
	write_file(cli_file("auth.token"), "{\"token\": \"a\\nb\"}");
	expect_open_fails("ais://testbck/text.txt", EINVAL, "control character");
	write_file(cli_file("auth.token"), "{\"token\": \"\"}");
	expect_open_fails("ais://testbck/text.txt", EINVAL, "\"token\" is empty");
	write_file(cli_file("auth.token"), "token");
	expect_open_fails("ais://testbck/text.txt", EINVAL, "not JSON");
}

/* ---- ais_config_describe ------------------------------------------------- */

static void test_describe_names_each_source(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	char *text;

	o.read_timeout_ms = 5000;
	o.readahead_bytes = -1;
	setenv("AIS_CONNECTIONS", "3", 1);
	setenv("AIS_CRT", "/etc/ais/client.pem", 1);
	write_cli_json(line_of("\"url\": \"%s\", \"client_crt\": \"/cli.pem\", "
	                       "\"client_crt_key\": \"/cli.key\"", url_of("")));
	text = describe("s3://bucket/object", &o);
	expect_line(text, line_of("cli.json: %s (read)", cli_file("cli.json")));
	expect_line(text, line_of("endpoint: %s (cluster.url in %s)", url_of(""),
	                          cli_file("cli.json")));
	expect_line(text, "cert_file: /etc/ais/client.pem (AIS_CRT)");
	expect_line(text, line_of("key_file: /cli.key (cluster.client_crt_key "
	                          "in %s)", cli_file("cli.json")));
	expect_line(text, "read_timeout: 5000 ms (options)");
	expect_line(text, "readahead: off (options)");
	expect_line(text, "connections: 3 (AIS_CONNECTIONS)");
	expect_line(text, "part_size: 8 MiB (default)");
	expect_line(text, "skip_verify: no (default)");
	expect_line(text, "verify: cheap (default)");
	free(text);
	setenv("AIS_VERIFY", "all", 1);
	text = describe("s3://bucket/object", &o);
	expect_line(text, "verify: all (AIS_VERIFY)");
	free(text);
}

static void test_describe_fills_like_snprintf(void)
{
	char small[16], *whole = describe(NULL, NULL);
	int len = (int)strlen(whole);

	memset(small, 'x', sizeof(small));
	CU_ASSERT_EQUAL(ais_config_describe(NULL, NULL, small, sizeof(small)), len);
	CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
	CU_ASSERT(strncmp(small, whole, sizeof(small) - 1) == 0);
	errno = 0;
	CU_ASSERT_EQUAL(ais_config_describe(NULL, NULL, NULL, 10), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	setenv("AIS_READ_TIMEOUT", "soon", 1);
	errno = 0;
	CU_ASSERT_EQUAL(ais_config_describe(NULL, NULL, small, sizeof(small)), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "AIS_READ_TIMEOUT"));
	free(whole);
}

/* ---- aiscat -v ------------------------------------------------------------ */

static void test_aiscat_v_says_where_settings_came_from(void)
{
	char *argv[] = { (char *)tool_path("aiscat"), "-v",
	                 "ais://testbck/text.txt", NULL };
	char out[PATH_MAX], *got = malloc(4 << 20);
	size_t len = 0;
	struct run r;
	FILE *f;

	write_cli_json(line_of("\"url\": \"%s\"", url_of("")));
	write_file(cli_file("my.token"), "{\"token\": \"secret-aiscat\"}");
	setenv("AIS_AUTHN_TOKEN_FILE", cli_file("my.token"), 1);
	r = run_tool(argv);
	CU_ASSERT_EQUAL(r.status, 0);
	snprintf(out, sizeof(out), "%s/tool.out", harness_dir());
	if ((f = fopen(out, "rb"))) {
		len = fread(got, 1, 4 << 20, f);
		fclose(f);
	}
	assert_object_equal(OBJ_TEXT, (unsigned char *)got, len);
	expect_line(r.err, line_of("aiscat: endpoint: %s (cluster.url in %s)",
	                           url_of(""), cli_file("cli.json")));
	expect_line(r.err, line_of("aiscat: token: from AIS_AUTHN_TOKEN_FILE %s",
	                           cli_file("my.token")));
	expect_line(r.err, "aiscat: connections: 4 (default)");
	CU_ASSERT_PTR_NULL(strstr(r.err, "secret-aiscat"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "aiscat: requests="));
	free(got);
	run_free(&r);
}

int register_config_suite(void)
{
	static const struct test_case tests[] = {
		{ "ais:// reads with only a cli.json",
		  test_ais_uri_reads_with_only_cli_json },
		{ "AIS_ENDPOINT wins over cluster.url",
		  test_ais_endpoint_wins_over_cluster_url },
		{ "options.endpoint wins over AIS_ENDPOINT",
		  test_option_endpoint_wins_over_ais_endpoint },
		{ "cluster.default_ais_host when cluster.url is empty",
		  test_default_ais_host_when_cluster_url_is_empty },
		{ "a missing cli.json is no error",
		  test_missing_cli_json_is_no_error },
		{ "a malformed cluster.url names its source",
		  test_malformed_cli_endpoint_names_its_source },
		{ "a malformed cli.json is EINVAL naming file and fault",
		  test_malformed_cli_json_is_einval_naming_file_and_fault },
		{ "a cli.json that is a directory is EINVAL",
		  test_cli_json_that_is_a_directory_is_einval },
		{ "http URLs and clients do not read the CLI's files",
		  test_http_urls_and_clients_do_not_read_cli_files },
		{ "TLS settings come from cli.json",
		  test_tls_settings_come_from_cli_json },
		{ "TLS variables win over cli.json",
		  test_tls_variables_win_over_cli_json },
		{ "skip_verify_crt from cli.json, AIS_SKIP_VERIFY_CRT over it",
		  test_skip_verify_crt_from_cli_json_and_env_override },
		{ "the CLI's CA is not used for https URLs",
		  test_cli_ca_is_not_used_for_https_urls },
		{ "token: options, AIS_AUTHN_TOKEN, AIS_AUTHN_TOKEN_FILE, login file",
		  test_token_precedence },
		{ "the CLI's login token goes to the cluster only",
		  test_cli_login_token_goes_to_the_cluster_only },
		{ "a malformed login token file is EINVAL naming it",
		  test_malformed_login_token_file_is_einval_naming_it },
		{ "ais_config_describe names each source",
		  test_describe_names_each_source },
		{ "ais_config_describe fills like snprintf",
		  test_describe_fills_like_snprintf },
		{ "aiscat -v says where settings came from",
		  test_aiscat_v_says_where_settings_came_from },
		{ NULL, NULL },
	};

	return add_suite_with_setup("configuration", setup, teardown, tests);
}
