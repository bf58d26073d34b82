/*
 * config.c - resolve ais_options against the environment and the defaults.
 * Precedence: a field set in code, else its environment variable, else the
 * built-in default (documented in aisfile.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int pick_retries(int set, char *err, size_t errlen)
{
	const char *v = getenv("AIS_MAX_RETRIES");
	char *end;
	long n;

	if (set != 0)
		return set < 0 ? 0 : set;
	if (!v || !*v)
		return 8;
	n = strtol(v, &end, 10);
	if (*end || n < 0 || n > 1000000) {
		snprintf(err, errlen,
		         "AIS_MAX_RETRIES must be a whole number, not '%s'", v);
		return -1;
	}
	return (int)n;
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

int config_resolve(struct ais_config *cfg, const struct ais_options *opts,
                   char *err, size_t errlen)
{
	static const struct ais_options none = AIS_OPTIONS_INIT;
	const char *endpoint;

	if (!opts)
		opts = &none;
	memset(cfg, 0, sizeof(*cfg));
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
	endpoint = opts->endpoint ? opts->endpoint : getenv("AIS_ENDPOINT");
	if (endpoint && *endpoint && !(cfg->endpoint = strdup(endpoint))) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	if (copy_headers(cfg, opts->headers, err, errlen) < 0) {
		config_release(cfg);
		return -1;
	}
	return 0;
}

void config_release(struct ais_config *cfg)
{
	curl_slist_free_all(cfg->headers);
	free(cfg->endpoint);
	cfg->headers = NULL;
	cfg->endpoint = NULL;
}
