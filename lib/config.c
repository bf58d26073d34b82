/*
 * config.c - resolve ais_options into the settings a stream or a client
 * uses, and remember where each came from (ais_config_describe).
 *
 * For each setting: a field set in struct ais_options, else its environment
 * variable, else the built-in default (documented in aisfile.h).  For a
 * stream of an AIStore URI (ais://, s3://, ...), the settings the AIStore CLI
 * keeps come, after the environment, from the CLI's configuration, as the
 * CLI resolves them (NVIDIA/aistore cmd/cli/cli/init.go: AIS_ENDPOINT before
 * cluster.url, cmn.EnvToTLS: AIS_CRT, AIS_CRT_KEY, AIS_CLIENT_CA and
 * AIS_SKIP_VERIFY_CRT before the cluster.* TLS fields; api/authn/loadtoken.go:
 * AIS_AUTHN_TOKEN, then AIS_AUTHN_TOKEN_FILE, then the token file `ais auth
 * login` wrote).  Only those requests go to the CLI's cluster, so its token
 * and its TLS settings are never used for another server.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MIN_CHUNK_SIZE (64 * 1024)

static int out_of_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

static void set_source(struct config_source *src, enum config_origin origin,
                       const char *name)
{
	src->origin = origin;
	src->name = name;
}

/* Read a non-negative number of seconds (fractions allowed) from the
 * environment as milliseconds.  Returns 0 when unset, -1 when malformed. */
static long env_seconds_ms(const char *name)
{
	const char *v = getenv(name);
	char *end;
	double sec;

	if (!v || !*v)
		return 0;
	errno = 0;
	sec = strtod(v, &end);
	if (errno || *end || sec < 0 || sec > 1e9)
		return -1;
	return (long)(sec * 1000.0 + 0.5);
}

static long pick_ms(long set, const char *env, long dflt,
                    struct config_source *src, char *err, size_t errlen)
{
	long from_env;

	set_source(src, ORIGIN_OPTION, NULL);
	if (set > 0)
		return set;
	set_source(src, ORIGIN_DEFAULT, NULL);
	if (!env)
		return dflt;
	from_env = env_seconds_ms(env);
	if (from_env < 0) {
		snprintf(err, errlen, "%s must be a number of seconds, not '%s'",
		         env, getenv(env));
		return -1;
	}
	if (from_env == 0)
		return dflt;
	set_source(src, ORIGIN_ENV, env);
	return from_env;
}

/* A whole number from min to max from the environment.  Returns 1 and *out
 * when set, 0 when unset, or -1 with a message. */
static int env_int(const char *name, long min, long max, long *out,
                   char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		snprintf(err, errlen, "%s must be a whole number from %ld to %ld, "
		         "not '%s'", name, min, max, v);
		errno = EINVAL;
		return -1;
	}
	*out = n;
	return 1;
}

/* A byte count from the environment: digits with an optional K, M or G.
 * Returns 1 and *out when set, 0 when unset, or -1 with a message. */
static int env_bytes(const char *name, size_t *out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;
	int shift = 0;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (errno || *end || !isdigit((unsigned char)*v) || n > (1ULL << 40) >> shift) {
		snprintf(err, errlen, "%s must be a byte count such as 64M, not "
		         "'%s'", name, v);
		errno = EINVAL;
		return -1;
	}
	*out = (size_t)(n << shift);
	return 1;
}

/* A setting that is an option, else a variable of env_int's or env_bytes'
 * kind, else a default: which one it was goes to src.  Returns 0 or -1. */
static int from_env(int found, const char *env, struct config_source *src)
{
	if (found > 0)
		set_source(src, ORIGIN_ENV, env);
	return found < 0 ? -1 : 0;
}

static int pick_retries(int set, struct config_source *src, char *err,
                        size_t errlen)
{
	long n = 8;

	set_source(src, ORIGIN_OPTION, NULL);
	if (set != 0)
		return set < 0 ? 0 : set;
	set_source(src, ORIGIN_DEFAULT, NULL);
	if (from_env(env_int("AIS_MAX_RETRIES", 0, 1000000, &n, err, errlen),
	             "AIS_MAX_RETRIES", src) < 0)
		return -1;
	return (int)n;
}

static int pick_bytes(size_t set, const char *env, size_t dflt, size_t *out,
                      struct config_source *src, char *err, size_t errlen)
{
	*out = set;
	set_source(src, ORIGIN_OPTION, NULL);
	if (set)
		return 0;
	*out = dflt;
	set_source(src, ORIGIN_DEFAULT, NULL);
	return from_env(env_bytes(env, out, err, errlen), env, src);
}

static int resolve_readahead(struct ais_config *cfg,
                             const struct ais_options *opts, char *err,
                             size_t errlen)
{
	struct config_source *src = cfg->source;
	long conns = 4;

	if (opts->readahead_bytes) {
		cfg->readahead_bytes = opts->readahead_bytes < 0 ? 0 :
		                       (size_t)opts->readahead_bytes;
		set_source(&src[CFG_READAHEAD], ORIGIN_OPTION, NULL);
	} else if (pick_bytes(0, "AIS_READAHEAD", 64u << 20,
	                      &cfg->readahead_bytes, &src[CFG_READAHEAD], err,
	                      errlen) < 0) {
		return -1;
	}
	if (pick_bytes(opts->part_size, "AIS_PART_SIZE", 8u << 20,
	               &cfg->part_size, &src[CFG_PART_SIZE], err, errlen) < 0)
		return -1;
	if (cfg->part_size < MIN_CHUNK_SIZE)
		cfg->part_size = MIN_CHUNK_SIZE;
	if (opts->connections > 0) {
		conns = opts->connections > 64 ? 64 : opts->connections;
		set_source(&src[CFG_CONNECTIONS], ORIGIN_OPTION, NULL);
	} else if (from_env(env_int("AIS_CONNECTIONS", 1, 64, &conns, err,
	                            errlen), "AIS_CONNECTIONS",
	                    &src[CFG_CONNECTIONS]) < 0) {
		return -1;
	}
	cfg->connections = (int)conns;
	return pick_bytes(opts->memory_limit, "AIS_MEMORY_LIMIT", 256u << 20,
	                  &cfg->memory_limit, &src[CFG_MEMORY_LIMIT], err, errlen);
}

static int copy_headers(struct ais_config *cfg, const char *const *headers,
                        char *err, size_t errlen)
{
	if (headers && *headers)
		set_source(&cfg->source[CFG_HEADERS], ORIGIN_OPTION, NULL);
	for (; headers && *headers; headers++) {
		struct curl_slist *next;

		if (!strchr(*headers, ':') || strpbrk(*headers, "\r\n")) {
			snprintf(err, errlen,
			         "header '%s' is not a single 'Name: value' line",
			         *headers);
			errno = EINVAL;
			return -1;
		}
		next = curl_slist_append(cfg->headers, *headers);
		if (!next)
			return out_of_memory(err, errlen);
		cfg->headers = next;
	}
	return 0;
}

/* The set value, else the environment's; an owned copy, or NULL for none.
 * Returns 0, or -1 with ENOMEM. */
static int pick_string(char **dst, const char *set, const char *env,
                       struct config_source *src, char *err, size_t errlen)
{
	const char *v = set;

	set_source(src, ORIGIN_OPTION, NULL);
	if (!set && env && (v = getenv(env)) && *v)
		set_source(src, ORIGIN_ENV, env);
	else if (!set)
		set_source(src, ORIGIN_DEFAULT, NULL);
	*dst = NULL;
	if (!v || !*v)
		return 0;
	if (!(*dst = strdup(v)))
		return out_of_memory(err, errlen);
	return 0;
}

/* AIStore's booleans: 1/t/true/y/yes/on and 0/f/false/n/no/off; an empty
 * variable is unset, as for AIStore's clients. */
static int pick_bool(int set, const char *env, bool *out,
                     struct config_source *src, char *err, size_t errlen)
{
	static const char *yes[] = { "1", "t", "true", "y", "yes", "on" };
	static const char *no[] = { "0", "f", "false", "n", "no", "off" };
	const char *v = getenv(env);

	*out = set > 0;
	set_source(src, set ? ORIGIN_OPTION : ORIGIN_DEFAULT, NULL);
	if (set != 0 || !v || !*v)
		return 0;
	set_source(src, ORIGIN_ENV, env);
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		if (!strcasecmp(v, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		if (!strcasecmp(v, no[i]))
			return 0;
	snprintf(err, errlen, "%s must be a boolean "
	         "(1/t/true/y/yes/on or 0/f/false/n/no/off), not '%s'", env, v);
	errno = EINVAL;
	return -1;
}

/* The token of AIS_AUTHN_TOKEN_FILE, else (for the CLI's cluster) of the
 * token file `ais auth login` wrote, which need not exist. */
static int token_from_file(struct ais_config *cfg, bool use_cli, char *err,
                           size_t errlen)
{
	const char *file = getenv("AIS_AUTHN_TOKEN_FILE");
	bool named = file && *file;

	if (!named && !use_cli)
		return 0;
	cfg->token_path = named ? strdup(file) : aisi_cli_path("auth.token");
	if (!cfg->token_path) /* ENOENT: no home directory, no login */
		return named || errno == ENOMEM ? out_of_memory(err, errlen) : 0;
	cfg->token = aisi_token_load(cfg->token_path, named ?
	                             "AIS_AUTHN_TOKEN_FILE" :
	                             "AIStore CLI token file", err, errlen);
	if (!cfg->token) {
		if (errno == ENOENT && !named) { /* not logged in */
			free(cfg->token_path);
			cfg->token_path = NULL;
			return 0;
		}
		errno = errno == ENOMEM ? ENOMEM : EINVAL;
		return -1;
	}
	set_source(&cfg->source[CFG_TOKEN], ORIGIN_TOKEN_FILE,
	           named ? "AIS_AUTHN_TOKEN_FILE" : NULL);
	return 0;
}

static int pick_token(struct ais_config *cfg, const char *set, bool use_cli,
                      char *err, size_t errlen)
{
	if (pick_string(&cfg->token, set, "AIS_AUTHN_TOKEN",
	                &cfg->source[CFG_TOKEN], err, errlen) < 0)
		return -1;
	if (cfg->source[CFG_TOKEN].origin == ORIGIN_DEFAULT &&
	    token_from_file(cfg, use_cli, err, errlen) < 0)
		return -1;
	if (cfg->token && strpbrk(cfg->token, "\r\n")) {
		snprintf(err, errlen, "the AuthN token holds a line break");
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* A setting nothing else gave, from the CLI's file: *from moves to *dst. */
static void take_cli(char **dst, char **from, struct config_source *src,
                     const char *field)
{
	if (src->origin != ORIGIN_DEFAULT || !*from)
		return;
	*dst = *from;
	*from = NULL;
	set_source(src, ORIGIN_CLI_CONFIG, field);
}

/* The cluster settings the options and the environment left unset, from
 * the CLI's cli.json; a missing file is no error. */
static int cli_fallback(struct ais_config *cfg, char *err, size_t errlen)
{
	struct config_source *src = cfg->source;
	struct cli_config cli;
	int rc;

	cfg->cli_state = CLI_CONFIG_ABSENT;
	if (!(cfg->cli_path = aisi_cli_path("cli.json")))
		return errno == ENOMEM ? out_of_memory(err, errlen) : 0;
	rc = aisi_cli_config_load(&cli, cfg->cli_path, err, errlen);
	if (rc <= 0)
		return rc;
	cfg->cli_state = CLI_CONFIG_READ;
	take_cli(&cfg->endpoint, &cli.endpoint, &src[CFG_ENDPOINT],
	         cli.endpoint_field);
	take_cli(&cfg->ca_file, &cli.ca_file, &src[CFG_CA_FILE],
	         "cluster.client_ca_tls");
	take_cli(&cfg->cert_file, &cli.cert_file, &src[CFG_CERT_FILE],
	         "cluster.client_crt");
	take_cli(&cfg->key_file, &cli.key_file, &src[CFG_KEY_FILE],
	         "cluster.client_crt_key");
	if (src[CFG_SKIP_VERIFY].origin == ORIGIN_DEFAULT && cli.has_skip_verify) {
		cfg->skip_verify = cli.skip_verify;
		set_source(&src[CFG_SKIP_VERIFY], ORIGIN_CLI_CONFIG,
		           "cluster.skip_verify_crt");
	}
	aisi_cli_config_release(&cli);
	return 0;
}

static int resolve_cluster(struct ais_config *cfg,
                           const struct ais_options *opts, bool use_cli,
                           char *err, size_t errlen)
{
	struct config_source *src = cfg->source;

	if (pick_string(&cfg->endpoint, opts->endpoint, "AIS_ENDPOINT",
	                &src[CFG_ENDPOINT], err, errlen) < 0 ||
	    pick_string(&cfg->ca_file, opts->ca_file, "AIS_CLIENT_CA",
	                &src[CFG_CA_FILE], err, errlen) < 0 ||
	    pick_string(&cfg->cert_file, opts->cert_file, "AIS_CRT",
	                &src[CFG_CERT_FILE], err, errlen) < 0 ||
	    pick_string(&cfg->key_file, opts->key_file, "AIS_CRT_KEY",
	                &src[CFG_KEY_FILE], err, errlen) < 0 ||
	    pick_bool(opts->skip_verify, "AIS_SKIP_VERIFY_CRT",
	              &cfg->skip_verify, &src[CFG_SKIP_VERIFY], err, errlen) < 0)
		return -1;
	if (use_cli && cli_fallback(cfg, err, errlen) < 0)
		return -1;
	return pick_token(cfg, opts->token, use_cli, err, errlen);
}

/* The caller's options as this library's struct: the fields a shorter
 * (older) struct lacks stay 0, and fields of a longer (newer) one that this
 * library does not know must be 0, or the caller would be silently ignored.
 * Returns 0, or -1 with EINVAL. */
static int copy_options(struct ais_options *out, const struct ais_options *in,
                        char *err, size_t errlen)
{
	size_t size = in->size ? in->size : sizeof(*out);
	const unsigned char *bytes = (const unsigned char *)in;

	memset(out, 0, sizeof(*out));
	if (size < offsetof(struct ais_options, connect_timeout_ms)) {
		snprintf(err, errlen, "options.size %zu is too small: initialise "
		         "the struct with AIS_OPTIONS_INIT", size);
		errno = EINVAL;
		return -1;
	}
	for (size_t i = sizeof(*out); i < size; i++) {
		if (bytes[i]) {
			snprintf(err, errlen, "options set a field at byte %zu that "
			         "this libaisfile %s does not know (options.size "
			         "%zu, known %zu)", i, PACKAGE_VERSION, size,
			         sizeof(*out));
			errno = EINVAL;
			return -1;
		}
	}
	memcpy(out, in, size < sizeof(*out) ? size : sizeof(*out));
	out->size = sizeof(*out);
	return 0;
}

/* Bytes per second a transfer must bring: option, else AIS_MIN_SPEED, else
 * 1 KiB/s; -1 or 0 in the environment turn the check off. */
static int pick_min_speed(long set, long *out, struct config_source *src,
                          char *err, size_t errlen)
{
	size_t bytes;

	if (set) {
		*out = set < 0 ? 0 : set;
		set_source(src, ORIGIN_OPTION, NULL);
		return 0;
	}
	if (pick_bytes(0, "AIS_MIN_SPEED", 1024, &bytes, src, err, errlen) < 0)
		return -1;
	*out = (long)bytes;
	return 0;
}

/* Which checksums to verify: option, else AIS_VERIFY (off, cheap, all),
 * else cheap. */
static int pick_verify(int set, int *out, struct config_source *src,
                       char *err, size_t errlen)
{
	static const char *names[] = { "off", "cheap", "all" };
	const char *v = getenv("AIS_VERIFY");

	if (set < 0 || set > AIS_VERIFY_ALL) {
		snprintf(err, errlen, "options.verify %d is not AIS_VERIFY_OFF, "
		         "AIS_VERIFY_CHEAP or AIS_VERIFY_ALL", set);
		errno = EINVAL;
		return -1;
	}
	*out = set ? set : AIS_VERIFY_CHEAP;
	set_source(src, set ? ORIGIN_OPTION : ORIGIN_DEFAULT, NULL);
	if (set || !v || !*v)
		return 0;
	set_source(src, ORIGIN_ENV, "AIS_VERIFY");
	for (int i = 0; i < 3; i++)
		if (!strcasecmp(v, names[i]))
			return *out = AIS_VERIFY_OFF + i, 0;
	snprintf(err, errlen, "AIS_VERIFY must be off, cheap or all, not '%s'",
	         v);
	errno = EINVAL;
	return -1;
}

/* The timeouts and retry budget; -1 with a message for a bad variable. */
static int resolve_retries(struct ais_config *cfg,
                           const struct ais_options *opts, char *err,
                           size_t errlen)
{
	struct config_source *src = cfg->source, ignored;

	cfg->connect_timeout_ms = pick_ms(opts->connect_timeout_ms,
	                                  "AIS_CONNECT_TIMEOUT", 10000,
	                                  &src[CFG_CONNECT_TIMEOUT], err, errlen);
	cfg->read_timeout_ms = pick_ms(opts->read_timeout_ms, "AIS_READ_TIMEOUT",
	                               30000, &src[CFG_READ_TIMEOUT], err,
	                               errlen);
	cfg->retry_time_ms = pick_ms(opts->retry_time_ms, "AIS_RETRY_TIME",
	                             120000, &src[CFG_RETRY_TIME], err, errlen);
	cfg->backoff_initial_ms = pick_ms(opts->backoff_initial_ms, NULL, 100,
	                                  &src[CFG_BACKOFF], err, errlen);
	cfg->backoff_max_ms = pick_ms(opts->backoff_max_ms, NULL, 5000,
	                              &ignored, err, errlen);
	if (ignored.origin == ORIGIN_OPTION)
		src[CFG_BACKOFF] = ignored;
	cfg->max_retries = pick_retries(opts->max_retries, &src[CFG_MAX_RETRIES],
	                                err, errlen);
	if (cfg->connect_timeout_ms < 0 || cfg->read_timeout_ms < 0 ||
	    cfg->retry_time_ms < 0 || cfg->max_retries < 0) {
		errno = EINVAL;
		return -1;
	}
	if (cfg->backoff_max_ms < cfg->backoff_initial_ms)
		cfg->backoff_max_ms = cfg->backoff_initial_ms;
	return 0;
}

/* The buffers of the stream without read-ahead. */
static void resolve_buffers(struct ais_config *cfg,
                            const struct ais_options *opts)
{
	struct config_source *src = cfg->source;

	set_source(&src[CFG_CHUNK_SIZE], opts->chunk_size ? ORIGIN_OPTION :
	           ORIGIN_DEFAULT, NULL);
	cfg->chunk_size = opts->chunk_size ? opts->chunk_size : 4 << 20;
	if (cfg->chunk_size < MIN_CHUNK_SIZE)
		cfg->chunk_size = MIN_CHUNK_SIZE;
	set_source(&src[CFG_SKIP_READ_THROUGH], opts->skip_read_through ?
	           ORIGIN_OPTION : ORIGIN_DEFAULT, NULL);
	cfg->skip_read_through = opts->skip_read_through ?
	                         opts->skip_read_through : 256 << 10;
}

int aisi_config_resolve(struct ais_config *cfg, const struct ais_options *given,
                        const char *url, char *err, size_t errlen)
{
	struct ais_options copy = AIS_OPTIONS_INIT;
	const struct ais_options *opts = &copy;
	bool use_cli = url && aisi_url_is_store(url);

	memset(cfg, 0, sizeof(*cfg));
	if (given && copy_options(&copy, given, err, errlen) < 0)
		return -1;
	resolve_buffers(cfg, opts);
	if (resolve_retries(cfg, opts, err, errlen) < 0 ||
	    resolve_cluster(cfg, opts, use_cli, err, errlen) < 0 ||
	    resolve_readahead(cfg, opts, err, errlen) < 0 ||
	    pick_min_speed(opts->min_speed, &cfg->min_speed,
	                   &cfg->source[CFG_MIN_SPEED], err, errlen) < 0 ||
	    pick_bool(opts->resume_unvalidated, "AIS_RESUME_UNVALIDATED",
	              &cfg->resume_unvalidated,
	              &cfg->source[CFG_RESUME_UNVALIDATED], err, errlen) < 0 ||
	    pick_verify(opts->verify, &cfg->verify, &cfg->source[CFG_VERIFY],
	                err, errlen) < 0 ||
	    copy_headers(cfg, opts->headers, err, errlen) < 0) {
		int e = errno;

		aisi_config_release(cfg);
		errno = e;
		return -1;
	}
	return 0;
}

void aisi_config_release(struct ais_config *cfg)
{
	aisi_http_free_headers(cfg->headers);
	free(cfg->endpoint);
	if (cfg->token) /* do not leave a credential in freed memory */
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->cli_path);
	free(cfg->token_path);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- where each setting came from ---------------------------------------- */

/* n as "64 MiB" when a whole number of a unit, else "N bytes". */
static const char *bytes_text(size_t n, char *buf, size_t len)
{
	static const char *const units[] = { "GiB", "MiB", "KiB" };

	for (int i = 0; i < 3; i++) {
		size_t unit = (size_t)1 << (30 - 10 * i);

		if (n && n % unit == 0) {
			snprintf(buf, len, "%zu %s", n / unit, units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%zu bytes", n);
	return buf;
}

static void describe_line(FILE *out, const struct ais_config *cfg,
                          enum config_setting k, const char *name,
                          const char *value)
{
	const struct config_source *src = &cfg->source[k];

	fprintf(out, "%s: %s (", name, value ? value : "none");
	switch (src->origin) {
	case ORIGIN_DEFAULT:
		fputs("default", out);
		break;
	case ORIGIN_OPTION:
		fputs("options", out);
		break;
	case ORIGIN_ENV:
		fputs(src->name, out);
		break;
	case ORIGIN_CLI_CONFIG:
		fprintf(out, "%s in %s", src->name, cfg->cli_path);
		break;
	case ORIGIN_TOKEN_FILE:
		fprintf(out, "%s", cfg->token_path);
		break;
	}
	fputs(")\n", out);
}

/* Never the token itself: only where it came from. */
static void describe_token(FILE *out, const struct ais_config *cfg)
{
	const struct config_source *src = &cfg->source[CFG_TOKEN];

	if (!cfg->token)
		fprintf(out, "token: none%s\n", src->origin == ORIGIN_OPTION ?
		        " (options)" : "");
	else if (src->origin == ORIGIN_OPTION)
		fputs("token: from options\n", out);
	else if (src->origin == ORIGIN_ENV)
		fprintf(out, "token: from %s\n", src->name);
	else if (src->name)
		fprintf(out, "token: from %s %s\n", src->name, cfg->token_path);
	else
		fprintf(out, "token: from the AIStore CLI's token file %s\n",
		        cfg->token_path);
}

static void describe_cli_config(FILE *out, const struct ais_config *cfg)
{
	if (cfg->cli_state == CLI_CONFIG_UNUSED)
		fputs("cli.json: not read (only ais://, s3://, gs://, az:// and "
		      "oc:// URLs use the AIStore CLI's configuration)\n", out);
	else if (!cfg->cli_path)
		fputs("cli.json: none (no home directory)\n", out);
	else
		fprintf(out, "cli.json: %s (%s)\n", cfg->cli_path,
		        cfg->cli_state == CLI_CONFIG_READ ? "read" : "absent");
}

static void describe(FILE *out, const struct ais_config *cfg)
{
	char v[64], w[32];
	int headers = 0;

	describe_cli_config(out, cfg);
	describe_line(out, cfg, CFG_ENDPOINT, "endpoint", cfg->endpoint);
	describe_token(out, cfg);
	describe_line(out, cfg, CFG_CA_FILE, "ca_file", cfg->ca_file);
	describe_line(out, cfg, CFG_CERT_FILE, "cert_file", cfg->cert_file);
	describe_line(out, cfg, CFG_KEY_FILE, "key_file", cfg->key_file);
	describe_line(out, cfg, CFG_SKIP_VERIFY, "skip_verify",
	              cfg->skip_verify ? "yes" : "no");
	snprintf(v, sizeof(v), "%ld ms", cfg->connect_timeout_ms);
	describe_line(out, cfg, CFG_CONNECT_TIMEOUT, "connect_timeout", v);
	snprintf(v, sizeof(v), "%ld ms", cfg->read_timeout_ms);
	describe_line(out, cfg, CFG_READ_TIMEOUT, "read_timeout", v);
	snprintf(v, sizeof(v), "%ld ms", cfg->retry_time_ms);
	describe_line(out, cfg, CFG_RETRY_TIME, "retry_time", v);
	snprintf(v, sizeof(v), "%d", cfg->max_retries);
	describe_line(out, cfg, CFG_MAX_RETRIES, "max_retries", v);
	snprintf(v, sizeof(v), "%ld ms doubling to %ld ms",
	         cfg->backoff_initial_ms, cfg->backoff_max_ms);
	describe_line(out, cfg, CFG_BACKOFF, "backoff", v);
	describe_line(out, cfg, CFG_CHUNK_SIZE, "chunk_size",
	              bytes_text(cfg->chunk_size, v, sizeof(v)));
	describe_line(out, cfg, CFG_SKIP_READ_THROUGH, "skip_read_through",
	              bytes_text(cfg->skip_read_through, v, sizeof(v)));
	describe_line(out, cfg, CFG_READAHEAD, "readahead", !cfg->readahead_bytes ?
	              "off" : bytes_text(cfg->readahead_bytes, v, sizeof(v)));
	snprintf(v, sizeof(v), "%d", cfg->connections);
	describe_line(out, cfg, CFG_CONNECTIONS, "connections", v);
	describe_line(out, cfg, CFG_PART_SIZE, "part_size",
	              bytes_text(cfg->part_size, v, sizeof(v)));
	describe_line(out, cfg, CFG_MEMORY_LIMIT, "memory_limit",
	              bytes_text(cfg->memory_limit, v, sizeof(v)));
	if (cfg->min_speed)
		snprintf(v, sizeof(v), "%s/s",
		         bytes_text((size_t)cfg->min_speed, w, sizeof(w)));
	describe_line(out, cfg, CFG_MIN_SPEED, "min_speed",
	              cfg->min_speed ? v : "off");
	describe_line(out, cfg, CFG_RESUME_UNVALIDATED, "resume_unvalidated",
	              cfg->resume_unvalidated ? "yes" : "no");
	describe_line(out, cfg, CFG_VERIFY, "verify",
	              cfg->verify == AIS_VERIFY_OFF ? "off" :
	              cfg->verify == AIS_VERIFY_ALL ? "all" : "cheap");
	for (const struct curl_slist *h = cfg->headers; h; h = h->next)
		headers++;
	snprintf(v, sizeof(v), "%d", headers);
	describe_line(out, cfg, CFG_HEADERS, "headers", headers ? v : NULL);
}

AIS_EXPORT int ais_config_describe(const char *url,
                                   const struct ais_options *opts, char *buf,
                                   size_t len)
{
	struct ais_config cfg;
	char err[AIS_ERRMSG_MAX], *text = NULL;
	size_t size = 0;
	FILE *out;

	if (!buf && len)
		return aisi_fail(NULL, EINVAL, "ais_config_describe: buf is NULL "
		                 "but len is %zu", len);
	if (aisi_config_resolve(&cfg, opts, url, err, sizeof(err)) < 0)
		return aisi_fail(NULL, errno, "%s", err);
	out = open_memstream(&text, &size);
	if (out) {
		describe(out, &cfg);
		if (fclose(out) != 0) {
			free(text);
			text = NULL;
		}
	}
	aisi_config_release(&cfg);
	if (!text || size > INT_MAX) {
		free(text);
		return aisi_fail(NULL, ENOMEM, "out of memory");
	}
	if (len)
		snprintf(buf, len, "%s", text);
	free(text);
	return (int)size;
}
