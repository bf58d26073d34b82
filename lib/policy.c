/*
 * policy.c - what the library does when a request fails or is redirected,
 * one rule for reads (fetch.c) and writes (upload.c):
 *
 *  - which failures another attempt may fix, and the errno of those it
 *    cannot;
 *  - the retry budget: max_retries consecutive failed attempts within
 *    retry_time_ms, with a backoff that doubles up to backoff_max_ms and
 *    random jitter, so many clients of one dead node do not return in step;
 *  - where a redirect may lead and what credentials go along: the URL's
 *    host and the host it redirects to (one hop, an AIStore gateway sending
 *    the request to its target), never further and never from https to
 *    http.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define MAX_REDIRECTS 10

/* ---- failures ---------------------------------------------------------------- */

const char *aisi_http_status_text(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return "";
	}
}

/* A server error, or a client error that says "later" (408, 429). */
bool aisi_status_retryable(long status)
{
	return status >= 500 || status == 408 || status == 429;
}

int aisi_status_errno(long status)
{
	switch (status) {
	case 404: return ENOENT;
	case 401: case 403: return EACCES;
	default: return EIO;
	}
}

bool aisi_transport_retryable(CURLcode code)
{
	switch (code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_CONTENT_ENCODING:
		return false;
	default:
		return true;
	}
}

/* ---- the retry budget ---------------------------------------------------------- */

void aisi_retry_init(struct retry *r, const void *salt)
{
	memset(r, 0, sizeof(*r));
	r->jitter_seed = (unsigned int)aisi_now_ms() ^ (unsigned int)getpid() ^
	                 (unsigned int)(uintptr_t)salt;
}

static long backoff_ms(struct retry *r, const struct ais_config *cfg)
{
	long delay = cfg->backoff_initial_ms;

	for (int i = 1; i < r->failures && delay < cfg->backoff_max_ms; i++)
		delay *= 2;
	if (delay > cfg->backoff_max_ms)
		delay = cfg->backoff_max_ms;
	return delay / 2 + (long)(rand_r(&r->jitter_seed) % (delay / 2 + 1));
}

long aisi_retry_next(struct retry *r, const struct ais_config *cfg,
                     int64_t started_ms)
{
	int64_t now = aisi_now_ms(), budget_end;
	long wait;

	if (r->failures++ == 0)
		r->first_failure_ms = started_ms;
	budget_end = r->first_failure_ms + cfg->retry_time_ms;
	if (r->failures > cfg->max_retries || now >= budget_end)
		return -1;
	wait = backoff_ms(r, cfg);
	if (now + wait > budget_end)
		wait = (long)(budget_end - now);
	return wait;
}

void aisi_retry_wait(long ms, const _Atomic bool *cancel)
{
	while (ms > 0 && !(cancel && atomic_load(cancel))) {
		long slice = ms < RETRY_WAIT_SLICE_MS ? ms : RETRY_WAIT_SLICE_MS;

		aisi_sleep_ms(slice);
		ms -= slice;
	}
}

/* ---- redirects ------------------------------------------------------------------- */

int aisi_redirect_check(const struct ais_config *cfg, const char *url,
                        const char *from, const char *location,
                        struct redirect *r, char *err, size_t errlen)
{
	bool from_https = !strncasecmp(from, "https:", 6);
	bool to_https = !strncasecmp(location, "https:", 6);

	if (!to_https && strncasecmp(location, "http:", 5)) {
		snprintf(err, errlen, "%s: redirected to '%.200s', which is not an "
		         "http or https URL", url, location);
		return EIO;
	}
	if (++r->hops > MAX_REDIRECTS) {
		snprintf(err, errlen, "%s: more than %d redirects (the last to "
		         "%.200s)", url, MAX_REDIRECTS, location);
		return EIO;
	}
	if (from_https && !to_https) {
		if (cfg->token) {
			snprintf(err, errlen, "%s: refused to follow a redirect from "
			         "https to http (%.200s) with an AuthN token, which "
			         "would travel in clear", url, location);
			return EACCES;
		}
		r->downgraded = true;
	}
	return 0;
}

bool aisi_redirect_with_auth(const struct redirect *r)
{
	return r->hops <= 1 && !r->downgraded;
}
