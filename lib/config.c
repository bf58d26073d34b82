/*
 * config.c - resolve ais_options against the environment and the defaults.
 * Precedence: a field set in code, else its environment variable, else the
 * built-in default (documented in aisfile.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MIN_CHUNK_SIZE (64 * 1024)

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

static long pick_ms(long set, const char *env, long dflt, char *err,
                    size_t errlen)
{
	long from_env;

	if (set > 0)
		return set;
	if (!env)
		return dflt;
	from_env = env_seconds_ms(env);
	if (from_env < 0) {
		snprintf(err, errlen, "%s must be a number of seconds, not '%s'",
		         env, getenv(env));
		return -1;
	}
	return from_env > 0 ? from_env : dflt;
}

/* A whole number from min to max from the environment.  Returns 0 and *out
 * (unchanged when unset), or -1 with a message. */
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
	return 0;
}

static int pick_retries(int set, char *err, size_t errlen)
{
	long n = 8;

	if (set != 0)
		return set < 0 ? 0 : set;
	if (env_int("AIS_MAX_RETRIES", 0, 1000000, &n, err, errlen) < 0)
		return -1;
	return (int)n;
}

/* A byte count from the environment: digits with an optional K, M or G.
 * Returns 0 and *out (unchanged when unset), or -1 with a message. */
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
	return 0;
}

static int resolve_readahead(struct ais_config *cfg,
                             const struct ais_options *opts, char *err,
                             size_t errlen)
{
	size_t from_env = 64u << 20;
	long conns = 4;

	if (opts->readahead_bytes > 0)
		cfg->readahead_bytes = (size_t)opts->readahead_bytes;
	else if (opts->readahead_bytes < 0)
		cfg->readahead_bytes = 0;
	else if (env_bytes("AIS_READAHEAD", &from_env, err, errlen) < 0)
		return -1;
	else
		cfg->readahead_bytes = from_env;
	cfg->part_size = 8u << 20;
	if (opts->part_size)
		cfg->part_size = opts->part_size;
	else if (env_bytes("AIS_PART_SIZE", &cfg->part_size, err, errlen) < 0)
		return -1;
	if (cfg->part_size < MIN_CHUNK_SIZE)
		cfg->part_size = MIN_CHUNK_SIZE;
	if (opts->connections > 0)
		conns = opts->connections;
	else if (env_int("AIS_CONNECTIONS", 1, 64, &conns, err, errlen) < 0)
		return -1;
	cfg->connections = (int)conns;
	if (cfg->connections > 64)
		cfg->connections = 64;
	cfg->memory_limit = 256u << 20;
	if (opts->memory_limit)
		cfg->memory_limit = opts->memory_limit;
	else if (env_bytes("AIS_MEMORY_LIMIT", &cfg->memory_limit, err,
	                   errlen) < 0)
		return -1;
	return 0;
}

static int copy_headers(struct ais_config *cfg, const char *const *headers,
                        char *err, size_t errlen)
{
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
		if (!next) {
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		cfg->headers = next;
	}
	return 0;
}

/* The set value, else the environment's; an owned copy, or NULL for none.
 * Returns 0, or -1 with ENOMEM. */
static int pick_string(char **dst, const char *set, const char *env,
                       char *err, size_t errlen)
{
	const char *v = set ? set : (env ? getenv(env) : NULL);

	*dst = NULL;
	if (!v || !*v)
		return 0;
	if (!(*dst = strdup(v))) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* AIStore's booleans: 1/t/true/y/yes/on and 0/f/false/n/no/off. */
static int pick_bool(int set, const char *env, bool *out, char *err,
                     size_t errlen)
{
	static const char *yes[] = { "1", "t", "true", "y", "yes", "on" };
	static const char *no[] = { "", "0", "f", "false", "n", "no", "off" };
	const char *v = getenv(env);

	*out = set > 0;
	if (set != 0 || !v)
		return 0;
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

/* A small, strict reader, since the file is AuthN's own output and anything
 * else is a mistake to report. */
char *aisi_config_parse_token(const char *text, const char *path, char *err,
                         size_t errlen)
{
	const char *key, *start, *end;
	char *token;

	key = strstr(text, "\"token\"");
	start = key ? strchr(key + 7, ':') : NULL;
	start = start ? strchr(start, '"') : NULL;
	end = start ? strchr(start + 1, '"') : NULL;
	if (!end || end == start + 1 || memchr(start + 1, '\\', (size_t)(end - start - 1))) {
		snprintf(err, errlen, "AIS_AUTHN_TOKEN_FILE '%s': no {\"token\": "
		         "\"...\"} in it", path);
		errno = EINVAL;
		return NULL;
	}
	token = strndup(start + 1, (size_t)(end - start - 1));
	if (!token) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
	}
	return token;
}

/* The token of {"token": "..."} in path. */
static char *read_token_file(const char *path, char *err, size_t errlen)
{
	char buf[8192], *token;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "AIS_AUTHN_TOKEN_FILE '%s': %s", path,
		         strerror(errno));
		errno = EINVAL;
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	token = aisi_config_parse_token(buf, path, err, errlen);
	explicit_bzero(buf, sizeof(buf));
	return token;
}

static int pick_token(struct ais_config *cfg, const char *set, char *err,
                      size_t errlen)
{
	const char *file = getenv("AIS_AUTHN_TOKEN_FILE");

	if (pick_string(&cfg->token, set, "AIS_AUTHN_TOKEN", err, errlen) < 0)
		return -1;
	if (!cfg->token && !set && file && *file &&
	    !(cfg->token = read_token_file(file, err, errlen)))
		return -1;
	if (cfg->token && strpbrk(cfg->token, "\r\n")) {
		snprintf(err, errlen, "the AuthN token holds a line break");
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int resolve_security(struct ais_config *cfg,
                            const struct ais_options *opts, char *err,
                            size_t errlen)
{
	if (pick_token(cfg, opts->token, err, errlen) < 0 ||
	    pick_string(&cfg->ca_file, opts->ca_file, "AIS_CLIENT_CA", err,
	                errlen) < 0 ||
	    pick_string(&cfg->cert_file, opts->cert_file, "AIS_CRT", err,
	                errlen) < 0 ||
	    pick_string(&cfg->key_file, opts->key_file, "AIS_CRT_KEY", err,
	                errlen) < 0)
		return -1;
	return pick_bool(opts->skip_verify, "AIS_SKIP_VERIFY_CRT",
	                 &cfg->skip_verify, err, errlen);
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
static int pick_min_speed(long set, long *out, char *err, size_t errlen)
{
	size_t from_env = 1024;

	if (set) {
		*out = set < 0 ? 0 : set;
		return 0;
	}
	if (env_bytes("AIS_MIN_SPEED", &from_env, err, errlen) < 0)
		return -1;
	*out = (long)from_env;
	return 0;
}

/* Which checksums to verify: option, else AIS_VERIFY (off, cheap, all),
 * else cheap. */
static int pick_verify(int set, int *out, char *err, size_t errlen)
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
	if (set || !v || !*v)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!strcasecmp(v, names[i]))
			return *out = AIS_VERIFY_OFF + i, 0;
	snprintf(err, errlen, "AIS_VERIFY must be off, cheap or all, not '%s'",
	         v);
	errno = EINVAL;
	return -1;
}

int aisi_config_resolve(struct ais_config *cfg, const struct ais_options *given,
                   char *err, size_t errlen)
{
	struct ais_options copy = AIS_OPTIONS_INIT;
	const struct ais_options *opts = &copy;

	memset(cfg, 0, sizeof(*cfg));
	if (given && copy_options(&copy, given, err, errlen) < 0)
		return -1;
	cfg->connect_timeout_ms = pick_ms(opts->connect_timeout_ms,
	                                  "AIS_CONNECT_TIMEOUT", 10000, err, errlen);
	cfg->read_timeout_ms = pick_ms(opts->read_timeout_ms, "AIS_READ_TIMEOUT",
	                               30000, err, errlen);
	cfg->retry_time_ms = pick_ms(opts->retry_time_ms, "AIS_RETRY_TIME",
	                             120000, err, errlen);
	cfg->backoff_initial_ms = pick_ms(opts->backoff_initial_ms, NULL, 100,
	                                  err, errlen);
	cfg->backoff_max_ms = pick_ms(opts->backoff_max_ms, NULL, 5000, err,
	                              errlen);
	cfg->max_retries = pick_retries(opts->max_retries, err, errlen);
	if (cfg->connect_timeout_ms < 0 || cfg->read_timeout_ms < 0 ||
	    cfg->retry_time_ms < 0 || cfg->max_retries < 0) {
		errno = EINVAL;
		return -1;
	}
	if (cfg->backoff_max_ms < cfg->backoff_initial_ms)
		cfg->backoff_max_ms = cfg->backoff_initial_ms;
	cfg->chunk_size = opts->chunk_size ? opts->chunk_size : 4 << 20;
	if (cfg->chunk_size < MIN_CHUNK_SIZE)
		cfg->chunk_size = MIN_CHUNK_SIZE;
	cfg->skip_read_through = opts->skip_read_through ?
	                         opts->skip_read_through : 256 << 10;
	if (pick_string(&cfg->endpoint, opts->endpoint, "AIS_ENDPOINT", err,
	                errlen) < 0 ||
	    resolve_security(cfg, opts, err, errlen) < 0 ||
	    resolve_readahead(cfg, opts, err, errlen) < 0 ||
	    pick_min_speed(opts->min_speed, &cfg->min_speed, err, errlen) < 0 ||
	    pick_bool(opts->resume_unvalidated, "AIS_RESUME_UNVALIDATED",
	              &cfg->resume_unvalidated, err, errlen) < 0 ||
	    pick_verify(opts->verify, &cfg->verify, err, errlen) < 0 ||
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
	memset(cfg, 0, sizeof(*cfg));
}
