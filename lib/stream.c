/*
 * stream.c - the resilient object stream.
 *
 * The stream owns one chunk buffer holding bytes [chunk_off, chunk_off +
 * chunk_len) of the object.  The transport fills it; ais_next() hands out
 * pointers into it.  When a request breaks, the stream asks again from the
 * first byte it does not have yet, through the original URL, after a backoff,
 * within the retry budget.  The first reply fixes the object's identity (size
 * and validators); every later reply must match it, so bytes of two versions
 * are never joined.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define POLL_SLICE_MS 100
/* After a reposition the first fill hands out this much as soon as it has
 * it; each sequential fill doubles it up to the chunk size.  A skip over a
 * large tar member thus costs about this much, not a whole chunk. */
#define FIRST_FILL (64 * 1024)

enum request_reason { REQ_FIRST, REQ_RESUME, REQ_SEEK };

struct ais_stream {
	struct ais_config cfg;
	char *url; /* every request goes here, never to a redirect target */
	struct http_conn *http;
	struct http_sink sink;

	/* Identity, fixed by the first reply. */
	bool have_identity;
	int64_t size; /* -1 while unknown */
	struct http_reply identity;

	/* The chunk: bytes [chunk_off, chunk_off + chunk_len) of the object. */
	char *chunk;
	size_t chunk_len;
	int64_t chunk_off;
	int64_t pos; /* the caller's read position */
	size_t fill_target; /* stop filling once the chunk holds this much */

	/* The request in flight. */
	int64_t req_offset; /* the byte asked for */
	int64_t req_next;   /* object offset of the next body byte on the wire */
	enum request_reason next_reason;

	/* Retry state: consecutive failed attempts since the last byte. */
	int failures;
	int64_t request_started_ms;
	int64_t first_failure_ms; /* start of the first failed attempt */
	unsigned int jitter_seed;

	int refused_errno; /* on_reply turned the last reply down (message set) */
	int sticky_errno;  /* ESTALE: the object changed, nothing more to read */
	struct ais_stats stats;
	char errmsg[AIS_ERRMSG_MAX];
};

char *ais_stream_errbuf(struct ais_stream *s)
{
	return s->errmsg;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- identity ---------------------------------------------------------- */

static int stale(ais_stream *s, const char *fmt, const char *was,
                 const char *now)
{
	char what[AIS_ERRMSG_MAX / 2];

	snprintf(what, sizeof(what), fmt, was, now);
	s->sticky_errno = ESTALE;
	return ais_fail(s, ESTALE,
	                "object changed during read of %s at byte %lld: %s",
	                s->url, (long long)s->req_offset, what);
}

/* A validator present in both replies must be equal. */
static int compare_validator(ais_stream *s, const char *name, const char *was,
                             const char *now)
{
	char fmt[64];

	if (!*was || !*now || !strcmp(was, now))
		return 0;
	snprintf(fmt, sizeof(fmt), "%s was %%s, now %%s", name);
	return stale(s, fmt, was, now);
}

static int check_identity(ais_stream *s, const struct http_reply *r,
                          int64_t total)
{
	const struct http_reply *id = &s->identity;
	char was[32], now[32];

	if (total >= 0 && s->size >= 0 && total != s->size) {
		snprintf(was, sizeof(was), "%lld", (long long)s->size);
		snprintf(now, sizeof(now), "%lld", (long long)total);
		return stale(s, "size was %s, now %s", was, now);
	}
	if (compare_validator(s, "ETag", id->etag, r->etag) ||
	    compare_validator(s, "Last-Modified", id->last_modified,
	                      r->last_modified) ||
	    compare_validator(s, "Ais-Version", id->ais_version,
	                      r->ais_version) ||
	    compare_validator(s, "Ais-Checksum-Value", id->ais_checksum,
	                      r->ais_checksum))
		return -1;
	return 0;
}

/* Turn a reply down: the transport aborts the request and request_ended()
 * reports err with this message, or retries when err is EAGAIN. */
static int refuse(ais_stream *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(ais_stream *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ais_failv(s, err, fmt, ap);
	va_end(ap);
	s->refused_errno = err;
	return err;
}

/* The transport calls this once per 2xx reply, before its body. */
static int on_reply(void *ctx, const struct http_reply *r)
{
	ais_stream *s = ctx;
	int64_t start = 0, total = r->content_length;

	if (r->status == 206) {
		/* Seen when a connection breaks inside the headers: retry. */
		if (r->range_start < 0)
			return refuse(s, EAGAIN, "206 reply without a Content-Range "
			              "for byte %lld", (long long)s->req_offset);
		start = r->range_start;
		total = r->range_total;
	} else if (r->status != 200) {
		return refuse(s, EIO, "%s answered HTTP %ld, expected 200 or 206",
		              s->url, r->status);
	}
	if (s->have_identity) {
		if (check_identity(s, r, total) < 0)
			return s->refused_errno = ESTALE;
	} else {
		s->identity = *r;
		s->size = total;
		s->have_identity = true;
	}
	if (start > s->req_offset)
		return refuse(s, EIO, "%s answered from byte %lld, asked for %lld",
		              s->url, (long long)start, (long long)s->req_offset);
	/* A 200 to a ranged request restarts at byte 0: the bytes before the
	 * one we want are dropped in on_body, never handed out twice. */
	s->req_next = start;
	return 0;
}

/* ---- receiving ---------------------------------------------------------- */

static size_t on_body(void *ctx, const char *p, size_t n)
{
	ais_stream *s = ctx;
	int64_t want = s->chunk_off + (int64_t)s->chunk_len;
	size_t drop = 0, keep;

	if (s->req_next < want)
		drop = (uint64_t)(want - s->req_next) < n ?
		       (size_t)(want - s->req_next) : n;
	keep = n - drop;
	/* Pausing at the fill target, not only at the chunk's end, keeps a
	 * seek from pulling a whole chunk it may jump away from again. */
	if (keep && s->chunk_len + keep > s->fill_target)
		return HTTP_BODY_PAUSE;
	memcpy(s->chunk + s->chunk_len, p + drop, keep);
	s->chunk_len += keep;
	s->req_next += (int64_t)n;
	s->stats.bytes_received += n;
	s->stats.bytes_discarded += drop;
	if (keep)
		s->failures = 0;
	return n;
}

static int start_request(ais_stream *s)
{
	int64_t offset = s->chunk_off + (int64_t)s->chunk_len;
	const char *etag = s->identity.etag;
	/* If-Match needs a strong ETag: a weak one never matches. */
	bool strong = s->have_identity && *etag && strncmp(etag, "W/", 2);

	if (http_start(s->http, s->url, offset, strong ? etag : NULL,
	               &s->sink) < 0)
		return ais_fail(s, ENOMEM, "out of memory starting a request");
	s->req_offset = offset;
	s->req_next = offset;
	s->request_started_ms = ais_now_ms();
	s->stats.requests++;
	if (s->next_reason == REQ_RESUME)
		s->stats.resumes++;
	else if (s->next_reason == REQ_SEEK) {
		s->stats.seeks++;
		s->fill_target = FIRST_FILL;
	}
	s->next_reason = REQ_SEEK;
	return 0;
}

/* ---- how a request ended ------------------------------------------------ */

static const char *status_text(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 412: return "Precondition Failed";
	case 416: return "Range Not Satisfiable";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* Transport failures that another attempt cannot fix. */
static bool permanent_transport_error(CURLcode code)
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
		return true;
	default:
		return false;
	}
}

static long backoff_ms(ais_stream *s)
{
	long delay = s->cfg.backoff_initial_ms;

	for (int i = 1; i < s->failures && delay < s->cfg.backoff_max_ms; i++)
		delay *= 2;
	if (delay > s->cfg.backoff_max_ms)
		delay = s->cfg.backoff_max_ms;
	/* Jitter keeps many clients of one dead node from returning in step. */
	return delay / 2 + (long)(rand_r(&s->jitter_seed) % (delay / 2 + 1));
}

/* Count a failed attempt; give up past the budget, else wait and go on. */
static int retry_or_give_up(ais_stream *s, const char *why)
{
	int64_t now = ais_now_ms(), budget_end;
	long wait;

	s->stats.failures++;
	if (s->failures++ == 0)
		s->first_failure_ms = s->request_started_ms;
	budget_end = s->first_failure_ms + s->cfg.retry_time_ms;
	if (s->failures > s->cfg.max_retries || now >= budget_end) {
		char size[32] = "unknown size";

		if (s->size >= 0)
			snprintf(size, sizeof(size), "%lld", (long long)s->size);
		return ais_fail(s, EIO, "%s: gave up at byte %lld of %s after %d "
		                "failed attempt%s: %s", s->url,
		                (long long)(s->chunk_off + (int64_t)s->chunk_len),
		                size, s->failures, s->failures == 1 ? "" : "s", why);
	}
	wait = backoff_ms(s);
	if (now + wait > budget_end)
		wait = (long)(budget_end - now);
	ais_sleep_ms(wait);
	s->next_reason = REQ_RESUME;
	return 0;
}

static int http_status_failure(ais_stream *s, const struct http_result *res)
{
	char why[AIS_ERRMSG_MAX];
	int err;

	snprintf(why, sizeof(why), "HTTP %ld %s%s%s", res->status,
	         status_text(res->status), *res->detail ? ": " : "",
	         res->detail);
	if (res->status >= 500)
		return retry_or_give_up(s, why);
	switch (res->status) {
	case 404: err = ENOENT; break;
	case 401: case 403: err = EACCES; break;
	case 412:
		s->sticky_errno = ESTALE;
		return ais_fail(s, ESTALE, "object changed during read of %s at "
		                "byte %lld: If-Match %s failed (%s)", s->url,
		                (long long)s->req_offset, s->identity.etag, why);
	default: err = EIO; break;
	}
	return ais_fail(s, err, "%s: %s", s->url, why);
}

static int request_ended(ais_stream *s, const struct http_result *res)
{
	char why[AIS_ERRMSG_MAX];

	if (s->refused_errno) { /* on_reply turned it down and said why */
		int err = s->refused_errno;

		s->refused_errno = 0;
		if (err == EAGAIN) {
			snprintf(why, sizeof(why), "%s", s->errmsg);
			s->errmsg[0] = '\0';
			return retry_or_give_up(s, why);
		}
		errno = err;
		return -1;
	}
	if (res->code == CURLE_OK && res->status >= 200 && res->status < 300) {
		if (s->size < 0) {
			s->size = s->req_next; /* no length given: the end is here */
			return 0;
		}
		if (s->req_next >= s->size)
			return 0;
		snprintf(why, sizeof(why), "connection closed at byte %lld of %lld",
		         (long long)s->req_next, (long long)s->size);
		return retry_or_give_up(s, why);
	}
	if (res->code == CURLE_OK) {
		/* A ranged request past the end of an object of unknown size. */
		if (res->status == 416 && s->size < 0 && s->req_offset > 0) {
			s->size = s->req_offset;
			return 0;
		}
		return http_status_failure(s, res);
	}
	snprintf(why, sizeof(why), "%s (curl error %d)", res->detail,
	         (int)res->code);
	if (res->code == CURLE_UNSUPPORTED_PROTOCOL && s->cfg.token &&
	    res->status >= 300 && res->status < 400)
		return ais_fail(s, EACCES, "%s: refused to follow a redirect from "
		                "https to http with an AuthN token, which would "
		                "travel in clear (%s)", s->url, why);
	if (permanent_transport_error(res->code))
		return ais_fail(s, EIO, "%s: %s", s->url, why);
	return retry_or_give_up(s, why);
}

/* ---- positioning and filling -------------------------------------------- */

static size_t available(const ais_stream *s)
{
	if (s->pos < s->chunk_off || s->pos >= s->chunk_off + (int64_t)s->chunk_len)
		return 0;
	return (size_t)(s->chunk_off + (int64_t)s->chunk_len - s->pos);
}

/* Empty the chunk so that it starts at pos.  The request in flight goes on
 * when it will reach pos soon; otherwise it is dropped and the next one asks
 * for pos with a Range. */
static void restart_chunk_at_pos(ais_stream *s)
{
	int64_t ahead = s->pos - s->req_next;

	if (http_active(s->http) &&
	    (ahead < 0 || (uint64_t)ahead > s->cfg.skip_read_through))
		http_abort(s->http);
	s->chunk_off = s->pos;
	s->chunk_len = 0;
}

static bool chunk_reaches_end(const ais_stream *s)
{
	return s->size >= 0 && s->chunk_off + (int64_t)s->chunk_len >= s->size;
}

/* Make bytes at pos available.  Returns their count, 0 at the end of the
 * object, -1 on failure. */
static ssize_t stream_fill(ais_stream *s)
{
	struct http_result res;
	size_t before;

	if (available(s))
		return (ssize_t)available(s);
	if (s->sticky_errno)
		return ais_fail(s, s->sticky_errno, "%s", s->errmsg);
	if (s->size >= 0 && s->pos >= s->size)
		return 0;
	restart_chunk_at_pos(s);
	while (!chunk_reaches_end(s)) {
		if (!http_active(s->http) && start_request(s) < 0)
			return -1;
		before = s->chunk_len;
		if (http_pump(s->http, before ? 0 : POLL_SLICE_MS, &res) ==
		    HTTP_PUMP_DONE) {
			if (request_ended(s, &res) < 0)
				return -1;
			continue;
		}
		/* Hand out what we have once nothing more is ready at once or
		 * the fill target is reached (a full chunk pauses the body). */
		if (before && (s->chunk_len == before ||
		               s->chunk_len >= s->fill_target))
			break;
	}
	if (s->fill_target < s->cfg.chunk_size)
		s->fill_target = s->fill_target * 2 < s->cfg.chunk_size ?
		                 s->fill_target * 2 : s->cfg.chunk_size;
	return (ssize_t)available(s);
}

/* ---- public API ----------------------------------------------------------- */

static ais_stream *stream_new(const char *url, const struct ais_options *opts)
{
	char err[AIS_ERRMSG_MAX];
	ais_stream *s;

	pthread_once(&curl_once, init_curl);
	if (curl_init_result != CURLE_OK) {
		ais_fail(NULL, EIO, "libcurl failed to initialise: %s",
		         curl_easy_strerror(curl_init_result));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ais_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	if (config_resolve(&s->cfg, opts, err, sizeof(err)) < 0) {
		free(s);
		ais_fail(NULL, errno, "%s", err);
		return NULL;
	}
	s->url = url_resolve(url, s->cfg.endpoint, err, sizeof(err));
	if (!s->url) {
		int e = errno;

		ais_close(s);
		ais_fail(NULL, e, "%s", err);
		return NULL;
	}
	s->chunk = malloc(s->cfg.chunk_size);
	s->http = http_conn_new(&s->cfg);
	if (!s->chunk || !s->http) {
		ais_close(s);
		ais_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	s->size = -1;
	s->jitter_seed = (unsigned int)ais_now_ms() ^ (unsigned int)getpid();
	s->sink = (struct http_sink){ on_reply, on_body, s };
	s->next_reason = REQ_FIRST;
	s->fill_target = FIRST_FILL;
	return s;
}

AIS_EXPORT ais_stream *ais_open(const char *url, const struct ais_options *opts)
{
	ais_stream *s = stream_new(url, opts);

	if (!s)
		return NULL;
	/* Ask now, so that a missing object fails here as fopen() would. */
	if (stream_fill(s) < 0) {
		int e = errno;
		char msg[AIS_ERRMSG_MAX];

		snprintf(msg, sizeof(msg), "%s", s->errmsg);
		ais_close(s);
		ais_fail(NULL, e, "%s", msg);
		return NULL;
	}
	return s;
}

AIS_EXPORT ssize_t ais_next(ais_stream *s, const void **buf)
{
	ssize_t n;

	if (!s || !buf)
		return ais_fail(s, EINVAL, "ais_next: %s is NULL",
		                s ? "buf" : "stream");
	n = stream_fill(s);
	if (n <= 0)
		return n;
	*buf = s->chunk + (s->pos - s->chunk_off);
	s->pos += n;
	s->stats.bytes_delivered += (uint64_t)n;
	return n;
}

AIS_EXPORT ssize_t ais_read(ais_stream *s, void *buf, size_t len)
{
	size_t done = 0;

	if (!s || (!buf && len))
		return ais_fail(s, EINVAL, "ais_read: %s is NULL",
		                s ? "buf" : "stream");
	while (done < len) {
		ssize_t n = stream_fill(s);
		size_t take;

		if (n < 0 && !done)
			return -1;
		if (n <= 0)
			break;
		take = (size_t)n < len - done ? (size_t)n : len - done;
		memcpy((char *)buf + done, s->chunk + (s->pos - s->chunk_off), take);
		s->pos += (int64_t)take;
		done += take;
	}
	s->stats.bytes_delivered += done;
	s->stats.bytes_copied += done;
	return (ssize_t)done;
}

AIS_EXPORT int64_t ais_seek(ais_stream *s, int64_t offset, int whence)
{
	int64_t base;

	if (!s)
		return ais_fail(NULL, EINVAL, "ais_seek: stream is NULL");
	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = s->pos; break;
	case SEEK_END:
		if (s->size < 0)
			return ais_fail(s, ESPIPE, "ais_seek: size of %s is unknown, "
			                "cannot seek from the end", s->url);
		base = s->size;
		break;
	default:
		return ais_fail(s, EINVAL, "ais_seek: whence %d is not SEEK_SET, "
		                "SEEK_CUR or SEEK_END", whence);
	}
	if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
		return ais_fail(s, EINVAL, "ais_seek: position %lld%+lld is out of "
		                "range", (long long)base, (long long)offset);
	s->pos = base + offset;
	return s->pos;
}

AIS_EXPORT int64_t ais_tell(const ais_stream *s)
{
	if (!s)
		return ais_fail(NULL, EINVAL, "ais_tell: stream is NULL");
	return s->pos;
}

AIS_EXPORT int64_t ais_size(const ais_stream *s)
{
	if (!s)
		return ais_fail(NULL, EINVAL, "ais_size: stream is NULL");
	return s->size;
}

AIS_EXPORT int ais_stats(const ais_stream *s, struct ais_stats *out)
{
	if (!s || !out)
		return ais_fail(NULL, EINVAL, "ais_stats: %s is NULL",
		                s ? "out" : "stream");
	*out = s->stats;
	return 0;
}

AIS_EXPORT const char *ais_errmsg(const ais_stream *s)
{
	return s ? s->errmsg : "no stream";
}

AIS_EXPORT int ais_close(ais_stream *s)
{
	if (!s)
		return 0;
	http_conn_free(s->http);
	free(s->chunk);
	free(s->url);
	config_release(&s->cfg);
	free(s);
	return 0;
}

AIS_EXPORT const char *ais_version(void)
{
	return PACKAGE_VERSION;
}
