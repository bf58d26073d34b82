/*
 * fetch.c - one resilient request at a time: a fetcher fills a window of the
 * object (a buffer that must hold bytes [off, off + cap)) over a connection
 * borrowed from the client.  When a request breaks it asks again from the
 * first byte the window lacks, through the original URL, after a backoff,
 * within the retry budget.  Every reply is checked against the object's
 * identity, fixed by the first reply, so bytes of two versions are never
 * joined.
 *
 * Redirects are followed here, so the policy is code: the stream's
 * credentials go to the URL's host and to the host it redirects to (one hop,
 * an AIStore gateway sending a GET to its target), never further and never
 * from https to http.  The target of the first redirect is remembered and
 * later requests go straight there; any failure there starts over at the
 * URL, so the gateway can send the request to a live node.
 *
 * A stream runs one fetcher on the caller's thread and borrows the client's
 * workers for read-ahead (readahead.c); what they share lives in struct
 * object, under its lock or in atomics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define POLL_SLICE_MS 100
/* How long the end of a bounded request may take to read, rather than
 * closing its connection. */
#define DRAIN_MAX_MS 500
/* The bytes an attempt must bring to clear the failures before it. */
#define PROGRESS_BYTES (64 * 1024)

/* ---- errors --------------------------------------------------------------- */

static void set_errmsg(struct fetcher *f, const char *fmt, va_list ap)
{
	vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
}

/* The fetch failed: say why in f->errmsg, set errno, return -1. */
static int fetch_fail(struct fetcher *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fetch_fail(struct fetcher *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errmsg(f, fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* The object changed: every fetcher of the stream stops for good. */
static int stale(struct fetcher *f, const char *fmt, const char *was,
                 const char *now)
{
	struct object *o = f->obj;
	char what[AIS_ERRMSG_MAX / 2];

	snprintf(what, sizeof(what), fmt, was, now);
	fetch_fail(f, ESTALE, "object changed during read of %s at byte %lld: %s",
	           o->url, (long long)f->req_offset, what);
	/* The first fetcher to see it writes the message; the release store
	 * publishes it to whoever reads sticky_errno. */
	if (!atomic_exchange(&o->sticky_claimed, true)) {
		snprintf(o->sticky_msg, sizeof(o->sticky_msg), "%s", f->errmsg);
		atomic_store(&o->sticky_errno, ESTALE);
	}
	errno = ESTALE;
	return -1;
}

/* Turn a reply down: the transport aborts the request and request_ended()
 * reports err with this message, or retries when err is EAGAIN. */
static int refuse(struct fetcher *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct fetcher *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errmsg(f, fmt, ap);
	va_end(ap);
	f->refused_errno = err;
	return err;
}

/* ---- identity --------------------------------------------------------------- */

/* A validator the first reply had must come back unchanged: one that is
 * gone hides a change as well as one that differs. */
static int compare_validator(struct fetcher *f, const char *name,
                             const char *was, const char *now)
{
	char fmt[64];

	if (!*was || !strcmp(was, now))
		return 0;
	snprintf(fmt, sizeof(fmt), "%s was %%s, now %%s", name);
	return stale(f, fmt, was, *now ? now : "absent");
}

/* A size a reply states (-1: none) must be the one known, if any.  Called
 * with the object's lock held. */
static int compare_size(struct fetcher *f, int64_t total)
{
	int64_t size = atomic_load(&f->obj->size);
	char was[32], now[32];

	if (total < 0 || size < 0 || total == size)
		return 0;
	snprintf(was, sizeof(was), "%lld", (long long)size);
	snprintf(now, sizeof(now), "%lld", (long long)total);
	return stale(f, "size was %s, now %s", was, now);
}

/* Whether a reply carries the whole object.  An AIStore target with
 * checksummed range reads (cksum.enable_read_range) sends the checksum of
 * the range in Ais-Checksum-Value, so that header names the object only in
 * a reply of all of it. */
static bool whole_object(const struct http_reply *r)
{
	return r->status == 200 ||
	       (r->range_start == 0 && r->range_total >= 0 &&
	        r->range_end == r->range_total - 1);
}

static int64_t range_length(const struct http_reply *r)
{
	return r->range_start >= 0 ? r->range_end - r->range_start + 1 : -1;
}

/* Learn the checksum of the whole object from r, when r shows it.  Called
 * with the object's lock held. */
static void learn_whole_sum(struct object *o, const struct http_reply *r)
{
	const struct http_reply *id = &o->identity;

	if (*o->whole_sum || !*r->ais_checksum)
		return;
	if (!whole_object(r)) {
		/* Two ranges of different lengths cannot share a checksum of
		 * their own (short of a collision): the same value names the
		 * object. */
		if (r == id || whole_object(id) || !*id->ais_checksum ||
		    range_length(r) == range_length(id))
			return;
		if (strcmp(r->ais_checksum, id->ais_checksum)) {
			o->range_sums = true;
			return;
		}
	}
	snprintf(o->whole_sum, sizeof(o->whole_sum), "%s", r->ais_checksum);
	snprintf(o->whole_sum_type, sizeof(o->whole_sum_type), "%s",
	         r->ais_checksum_type);
}

/* Called with the object's lock held. */
static int check_identity(struct fetcher *f, const struct http_reply *r,
                          int64_t total)
{
	struct object *o = f->obj;
	const struct http_reply *id = &o->identity;

	if (compare_size(f, total) ||
	    compare_validator(f, "ETag", id->etag, r->etag) ||
	    compare_validator(f, "Last-Modified", id->last_modified,
	                      r->last_modified) ||
	    compare_validator(f, "Ais-Version", id->ais_version, r->ais_version))
		return -1;
	if (whole_object(id) && whole_object(r) &&
	    compare_validator(f, "Ais-Checksum-Value", id->ais_checksum,
	                      r->ais_checksum))
		return -1;
	if (*o->whole_sum && whole_object(r) &&
	    compare_validator(f, "Ais-Checksum-Value", o->whole_sum,
	                      r->ais_checksum))
		return -1;
	learn_whole_sum(o, r);
	return 0;
}

static int check_or_fix_identity(struct fetcher *f, const struct http_reply *r,
                                 int64_t total)
{
	struct object *o = f->obj;
	int rc = 0;

	pthread_mutex_lock(&o->lock);
	if (o->have_identity) {
		rc = check_identity(f, r, total);
	} else {
		o->identity = *r;
		o->have_identity = true;
		learn_whole_sum(o, &o->identity);
		atomic_store(&o->size, total);
		atomic_store(&o->range_ok, r->status == 206);
		atomic_store(&o->joinable, o->cfg->resume_unvalidated ||
		             *r->etag || *r->last_modified || *r->ais_version ||
		             (*r->ais_checksum && whole_object(r)));
	}
	pthread_mutex_unlock(&o->lock);
	return rc;
}

/* A 416 said where the object ends: that is its size, unless another size
 * is known (then the object changed). */
static int check_or_fix_size(struct fetcher *f, int64_t size)
{
	struct object *o = f->obj;
	int rc;

	pthread_mutex_lock(&o->lock);
	if ((rc = compare_size(f, size)) == 0 && atomic_load(&o->size) < 0)
		atomic_store(&o->size, size);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

/* The redirect led somewhere that answered: send later requests there. */
static void remember_target(struct fetcher *f)
{
	struct object *o = f->obj;

	pthread_mutex_lock(&o->lock);
	if (!o->target && (o->target = strdup(f->req_url))) {
		o->target_route = f->route;
	}
	pthread_mutex_unlock(&o->lock);
}

/* A request at the remembered target failed: start over at the URL. */
static void forget_target(struct fetcher *f)
{
	struct object *o = f->obj;

	pthread_mutex_lock(&o->lock);
	if (o->target && !strcmp(o->target, f->req_url)) {
		free(o->target);
		o->target = NULL;
	}
	pthread_mutex_unlock(&o->lock);
	f->at_target = false;
}

static bool cancelled(const struct fetcher *f)
{
	return f->cancel && atomic_load(f->cancel);
}

/* Headers that contradict each other or the object leave no way to tell
 * which bytes are the object's: a protocol error, refused before a byte is
 * taken and not retried (the server would only lie again). */
static int check_framing(struct fetcher *f, const struct http_reply *r)
{
	const char *url = f->obj->url;
	char range[96], total[32] = "*";

	if (r->content_length_conflict >= 0)
		return refuse(f, EIO, "%s: protocol error: two Content-Length "
		              "headers, %lld and %lld", url,
		              (long long)r->content_length,
		              (long long)r->content_length_conflict);
	if (r->status != 206)
		return 0;
	if (r->range_total >= 0)
		snprintf(total, sizeof(total), "%lld", (long long)r->range_total);
	snprintf(range, sizeof(range), "bytes %lld-%lld/%s",
	         (long long)r->range_start, (long long)r->range_end, total);
	if (r->range_end < r->range_start ||
	    (r->range_total >= 0 && r->range_end >= r->range_total))
		return refuse(f, EIO, "%s: protocol error: Content-Range %s is not "
		              "a range within its total", url, range);
	if (r->content_length >= 0 &&
	    r->content_length != r->range_end - r->range_start + 1)
		return refuse(f, EIO, "%s: protocol error: Content-Length %lld "
		              "disagrees with Content-Range %s (%lld bytes)", url,
		              (long long)r->content_length, range,
		              (long long)(r->range_end - r->range_start + 1));
	return 0;
}

/* The transport calls this once per 2xx reply, before its body. */
static int on_reply(void *ctx, const struct http_reply *r)
{
	struct fetcher *f = ctx;
	int64_t start = 0, total = r->content_length;

	if (r->status == 206) {
		/* Seen when a connection breaks inside the headers: retry. */
		if (r->range_start < 0)
			return refuse(f, EAGAIN, "206 reply without a Content-Range "
			              "for byte %lld", (long long)f->req_offset);
		start = r->range_start;
		total = r->range_total;
	} else if (r->status != 200) {
		return refuse(f, EIO, "%s answered HTTP %ld, expected 200 or 206",
		              f->obj->url, r->status);
	}
	if (check_framing(f, r))
		return f->refused_errno;
	if (check_or_fix_identity(f, r, total) < 0)
		return f->refused_errno = ESTALE;
	if (start > f->req_offset)
		return refuse(f, EIO, "%s answered from byte %lld, asked for %lld",
		              f->obj->url, (long long)start,
		              (long long)f->req_offset);
	if (f->route.hops > 0 && !f->at_target)
		remember_target(f);
	/* A 200 to a ranged request restarts at byte 0: the bytes before the
	 * one we want are dropped in on_body, never handed out twice, and the
	 * rest of the object follows. */
	f->req_next = start;
	f->reply_end = r->status == 206 ? r->range_end + 1 : -1;
	if (r->status == 200)
		f->req_end = -1;
	/* Bytes past where a reply without a length ended: it was cut. */
	if (f->confirming_end && r->status == 206 &&
	    !atomic_load(&f->obj->joinable))
		return refuse(f, EIO, "%s: a reply without a length ended at "
		              "byte %lld, and the object goes on; without a "
		              "validator the rest cannot be joined to it (set "
		              "AIS_RESUME_UNVALIDATED=1 to allow it)",
		              f->obj->url, (long long)f->confirm_at);
	return 0;
}

/* ---- receiving -------------------------------------------------------------- */

/* The object has at least end bytes: some reply brought the one before. */
static void note_known_length(struct object *o, int64_t end)
{
	int64_t known = atomic_load(&o->known_length);

	while (known < end &&
	       !atomic_compare_exchange_weak(&o->known_length, &known, end))
		;
}

static size_t on_body(void *ctx, const char *p, size_t n)
{
	struct fetcher *f = ctx;
	int64_t want = f->off + (int64_t)f->len;
	size_t drop = 0, keep;

	/* Hold the bytes: the window is no longer ours, but the rest of a
	 * bounded request may still be read to keep its connection. */
	if (cancelled(f))
		return HTTP_BODY_PAUSE;
	/* A body without a Content-Length that runs past its Content-Range
	 * (check_framing covers one with a length). */
	if (f->reply_end >= 0 && f->req_next + (int64_t)n > f->reply_end) {
		refuse(f, EIO, "%s: protocol error: the body goes on at least "
		       "%lld bytes past byte %lld, where its Content-Range ends",
		       f->obj->url, (long long)(f->req_next + (int64_t)n -
		                                f->reply_end),
		       (long long)(f->reply_end - 1));
		return HTTP_BODY_ABORT;
	}
	if (f->req_next < want)
		drop = (uint64_t)(want - f->req_next) < n ?
		       (size_t)(want - f->req_next) : n;
	keep = n - drop;
	/* Stopping at the fill limit, not only at the window's end, keeps a
	 * seek from pulling a whole window it may jump away from again.  (A
	 * draining fetcher has limit 0 and keeps nothing.) */
	if (keep > f->limit - f->len) {
		size_t fits = f->limit - f->len, rest = keep - fits;

		if (f->spill_len || rest > sizeof(f->spill))
			return HTTP_BODY_PAUSE;
		f->spill_off = f->off + (int64_t)f->limit;
		f->spill_len = rest;
		memcpy(f->spill, p + drop + fits, rest);
		keep = fits;
	}
	if (keep)
		memcpy(f->buf + f->len, p + drop, keep);
	f->len += keep;
	f->req_next += (int64_t)n;
	note_known_length(f->obj, f->req_next);
	atomic_fetch_add_explicit(&f->obj->stats.bytes_received, n,
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&f->obj->stats.bytes_discarded, drop,
	                          memory_order_relaxed);
	/* An attempt that brings something worth having is progress: the
	 * failures before it no longer count.  A trickle is not. */
	f->attempt_bytes += keep;
	if (f->attempt_bytes >= PROGRESS_BYTES)
		f->retry.failures = 0;
	if (keep)
		f->confirming_end = false;
	return n;
}

static void count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* Send the request for the rest of the window to f->req_url, which is
 * f->route.hops redirects from the URL. */
static int send_request(struct fetcher *f)
{
	struct object *o = f->obj;
	struct http_range range;
	char etag[HTTP_VALIDATOR_MAX] = "";
	bool first, with_auth = aisi_redirect_with_auth(&f->route);
	int64_t size = atomic_load(&o->size);

	pthread_mutex_lock(&o->lock);
	first = !o->have_identity;
	/* If-Match needs a strong ETag: a weak one never matches. */
	if (!first && strncmp(o->identity.etag, "W/", 2))
		snprintf(etag, sizeof(etag), "%s", o->identity.etag);
	pthread_mutex_unlock(&o->lock);
	if (!f->http && !(f->http = aisi_client_conn_get(f->client)))
		return fetch_fail(f, ENOMEM, "out of memory starting a request");
	range.from = f->off + (int64_t)f->len;
	range.to = -1;
	if (f->bounded) {
		range.to = f->off + (int64_t)f->cap - 1;
		if (size >= 0 && range.to >= size)
			range.to = size - 1;
	}
	/* The first request asks for "bytes=0-" too: a 206 tells that the
	 * server honours Range, which parallel fetching needs. */
	range.send = first || range.from > 0 || range.to >= 0;
	if (aisi_http_start(f->http, o->cfg, f->req_url, &range, *etag ? etag : NULL,
	               with_auth, &f->sink) < 0)
		return fetch_fail(f, errno, "%s: %s", o->url,
		                  aisi_http_start_error(f->http));
	f->req_offset = range.from;
	f->req_next = range.from;
	f->req_end = range.to >= 0 ? range.to + 1 : -1;
	return 0;
}

/* A new request for the rest of the window: to the remembered target, if
 * any, else to the URL. */
static int start_request(struct fetcher *f)
{
	struct object *o = f->obj;
	int64_t from = f->off + (int64_t)f->len;
	char *url;

	/* The broken request brought bytes: the next would be joined to them
	 * with nothing to prove they are of one version. */
	if (f->next_reason == REQ_RESUME && from > f->req_offset &&
	    !atomic_load(&o->joinable))
		return fetch_fail(f, EIO, "%s: broke at byte %lld and cannot "
		                  "resume: the server sent no ETag, Last-Modified "
		                  "or Ais-Version, so nothing proves that the bytes "
		                  "of a new request belong to the same version (set "
		                  "AIS_RESUME_UNVALIDATED=1 or "
		                  "options.resume_unvalidated to allow it)",
		                  o->url, (long long)from);

	pthread_mutex_lock(&o->lock);
	url = strdup(o->target ? o->target : o->url);
	f->at_target = o->target != NULL;
	f->route = o->target ? o->target_route : (struct redirect){ 0, false };
	pthread_mutex_unlock(&o->lock);
	if (!url)
		return fetch_fail(f, ENOMEM, "out of memory starting a request");
	free(f->req_url);
	f->req_url = url;
	f->attempt_bytes = 0;
	if (send_request(f) < 0)
		return -1;
	f->request_started_ms = aisi_now_ms();
	count(&o->stats.requests);
	if (f->next_reason == REQ_RESUME)
		count(&o->stats.resumes);
	else if (f->next_reason == REQ_SEEK)
		count(&o->stats.seeks);
	f->next_reason = REQ_SEEK;
	return 0;
}

/* ---- how a request ended ------------------------------------------------------ */

/* Count a failed attempt; give up past the budget, else wait and go on. */
static int retry_or_give_up(struct fetcher *f, const char *why)
{
	long wait;
	int64_t size;

	count(&f->obj->stats.failures);
	wait = aisi_retry_next(&f->retry, f->obj->cfg, f->request_started_ms);
	if (wait < 0) {
		char size_text[32] = "unknown size";
		int n = f->retry.failures;

		if ((size = atomic_load(&f->obj->size)) >= 0)
			snprintf(size_text, sizeof(size_text), "%lld", (long long)size);
		return fetch_fail(f, EIO, "%s: gave up at byte %lld of %s after %d "
		                  "failed attempt%s: %s", f->obj->url,
		                  (long long)(f->off + (int64_t)f->len), size_text,
		                  n, n == 1 ? "" : "s", why);
	}
	aisi_retry_wait(wait, f->cancel);
	f->next_reason = REQ_RESUME;
	return 0;
}

static int http_status_failure(struct fetcher *f, const struct http_result *res)
{
	char why[AIS_ERRMSG_MAX], etag[HTTP_VALIDATOR_MAX];
	int err;

	aisi_http_status_why(res, why, sizeof(why));
	if (aisi_status_retryable(res->status))
		return retry_or_give_up(f, why);
	if (res->status == 412) {
		pthread_mutex_lock(&f->obj->lock);
		snprintf(etag, sizeof(etag), "%s", f->obj->identity.etag);
		pthread_mutex_unlock(&f->obj->lock);
		return stale(f, "If-Match %s failed (%s)", etag, why);
	}
	err = aisi_status_errno(res->status);
	return fetch_fail(f, err, "%s: %s", f->obj->url, why);
}

static int refused_reply(struct fetcher *f)
{
	char why[AIS_ERRMSG_MAX];
	int err = f->refused_errno;

	f->refused_errno = 0;
	if (err == EAGAIN) {
		snprintf(why, sizeof(why), "%s", f->errmsg);
		return retry_or_give_up(f, why);
	}
	errno = err;
	return -1;
}

/* A reply of unknown length ended.  A 206 whose labelled range ended
 * there, or a second look that found nothing more, is the end of the
 * object.  A close alone is not (an HTTP/1.0 reply cut early ends the same
 * way): ask once more from there, and only a 416 or an empty answer makes
 * it the end. */
static int unlabelled_end(struct fetcher *f)
{
	struct object *o = f->obj;

	if ((f->reply_end >= 0 && f->req_next == f->reply_end) ||
	    (f->confirming_end && f->req_next == f->confirm_at)) {
		f->confirming_end = false;
		atomic_store(&o->size, f->req_next);
		return 0;
	}
	f->confirming_end = true;
	f->confirm_at = f->req_next;
	f->next_reason = REQ_PART;
	return 0;
}

/* The request ended whole: was that the end of what it was to bring? */
static int request_complete(struct fetcher *f)
{
	struct object *o = f->obj;
	int64_t size = atomic_load(&o->size);
	char why[128];

	if (f->req_end >= 0 && f->req_next >= f->req_end)
		return 0;
	if (size < 0)
		return unlabelled_end(f);
	if (f->req_next >= size)
		return 0;
	snprintf(why, sizeof(why), "connection closed at byte %lld of %lld",
	         (long long)f->req_next, (long long)size);
	return retry_or_give_up(f, why);
}

static void count_connections(struct fetcher *f)
{
	if (f->http)
		atomic_fetch_add_explicit(&f->obj->stats.connections,
		                          (uint64_t)aisi_http_take_connections(f->http),
		                          memory_order_relaxed);
}

/* A 3xx: go where it points, with credentials only one hop from the URL
 * and never from https to plain http. */
static int follow_redirect(struct fetcher *f, const char *location)
{
	const struct object *o = f->obj;
	char *next;
	int err = aisi_redirect_check(o->cfg, o->url, f->req_url, location,
	                              &f->route, f->errmsg, sizeof(f->errmsg));

	if (err) {
		errno = err;
		return -1;
	}
	if (!(next = strdup(location)))
		return fetch_fail(f, ENOMEM, "out of memory following a redirect");
	free(f->req_url);
	f->req_url = next;
	count(&f->obj->stats.redirects);
	return send_request(f);
}

/*
 * Whether a reply says the object ends at or before the byte asked for, and
 * at which size.  A 416 with a total ("bytes * /N", which RFC 9110 requires)
 * gives the size: an empty object answers the first "bytes=0-" so.  A 416
 * without one says only that the object ends at or before req_offset, so
 * that is taken as the size only when some reply brought the byte before
 * it (a break exactly at the end of an object of unknown length).  Any
 * other offset would be a size made up, and a later read from 0 would fail
 * at the real end: the read fails with the 416 instead, and the size stays
 * unknown.
 */
static bool ends_object(struct fetcher *f, const struct http_result *res,
                        int64_t *size)
{
	if (res->status != 416)
		return false;
	if (res->range_total >= 0) {
		*size = res->range_total;
		return *size <= f->req_offset;
	}
	*size = f->req_offset;
	return f->req_offset > 0 &&
	       atomic_load(&f->obj->known_length) == f->req_offset;
}

static int request_ended(struct fetcher *f, const struct http_result *res)
{
	char why[AIS_ERRMSG_MAX];
	bool whole = res->code == CURLE_OK;
	int64_t size;

	count_connections(f);
	if (f->refused_errno) /* on_reply turned it down and said why */
		return refused_reply(f);
	if (cancelled(f))
		return fetch_fail(f, ECANCELED, "cancelled");
	if (whole && res->status >= 200 && res->status < 300)
		return request_complete(f);
	if (whole && res->status >= 300 && res->status < 400 && res->location)
		return follow_redirect(f, res->location);
	if (f->at_target) {
		/* The node may be gone: the URL finds the object's new home. */
		forget_target(f);
		count(&f->obj->stats.failures);
		f->next_reason = REQ_RESUME;
		return 0;
	}
	if (res->code == CURLE_OK) {
		if (ends_object(f, res, &size))
			return check_or_fix_size(f, size);
		return http_status_failure(f, res);
	}
	snprintf(why, sizeof(why), "%s (curl error %d)", res->detail,
	         (int)res->code);
	if (!aisi_transport_retryable(res->code))
		return fetch_fail(f, EIO, "%s: %s", f->obj->url, why);
	return retry_or_give_up(f, why);
}

/* ---- the fetcher's life ------------------------------------------------------ */

void aisi_fetcher_init(struct fetcher *f, struct object *o, struct ais_client *c)
{
	memset(f, 0, sizeof(*f));
	f->obj = o;
	f->client = c;
	f->sink = (struct http_sink){ on_reply, on_body, f };
	f->next_reason = REQ_FIRST;
	aisi_retry_init(&f->retry, f);
}

/* End the request in flight.  When little of a bounded one is left, read it
 * to its end so the connection stays open for the next request; else drop
 * it (libcurl then closes the connection). */
static void finish_request(struct fetcher *f)
{
	struct http_result res;
	long wait = f->obj->cfg->read_timeout_ms < DRAIN_MAX_MS ?
	            f->obj->cfg->read_timeout_ms : DRAIN_MAX_MS;
	int64_t deadline = aisi_now_ms() + wait;

	if (!f->http || !aisi_http_active(f->http))
		return;
	if (f->req_end >= 0 && !f->refused_errno && !cancelled(f) &&
	    f->req_next <= f->req_end &&
	    (uint64_t)(f->req_end - f->req_next) <= f->obj->cfg->skip_read_through) {
		f->buf = NULL;
		f->cap = f->len = f->limit = 0;
		f->off = f->req_end;
		f->spill_len = 0;
		while (aisi_now_ms() < deadline) {
			if (aisi_http_pump(f->http, POLL_SLICE_MS, &res) == HTTP_PUMP_DONE)
				break;
		}
	}
	aisi_http_abort(f->http);
	count_connections(f);
}

void aisi_fetcher_release(struct fetcher *f)
{
	finish_request(f);
	aisi_client_conn_put(f->client, f->http);
	f->http = NULL;
	free(f->req_url);
	f->req_url = NULL;
}

void aisi_fetcher_wake(struct fetcher *f)
{
	if (f->http)
		aisi_http_wakeup(f->http);
}

/* Start the new window with what spilled over from the last one, when the
 * request goes on and the spill reaches the window.  A window smaller than
 * the spill takes its share and leaves the rest for the next one. */
static void take_spill(struct fetcher *f, bool kept)
{
	int64_t skip = f->off - f->spill_off;
	size_t n;

	if (!f->spill_len)
		return;
	if (!kept || skip < 0 || (uint64_t)skip >= f->spill_len) {
		atomic_fetch_add_explicit(&f->obj->stats.bytes_discarded,
		                          f->spill_len, memory_order_relaxed);
		f->spill_len = 0;
		return;
	}
	n = f->spill_len - (size_t)skip;
	if (n > f->cap)
		n = f->cap;
	memcpy(f->buf, f->spill + skip, n);
	f->len = n;
	f->spill_len -= (size_t)skip + n;
	memmove(f->spill, f->spill + skip + n, f->spill_len);
	f->spill_off += skip + (int64_t)n;
}

bool aisi_fetcher_aim(struct fetcher *f, char *buf, size_t cap, int64_t off,
                 bool bounded)
{
	/* The first byte not in hand: the spill's, if any, else the wire's. */
	int64_t ahead = off - (f->spill_len ? f->spill_off : f->req_next);
	bool keep = f->http && aisi_http_active(f->http) && ahead >= 0 &&
	            (uint64_t)ahead <= f->obj->cfg->skip_read_through &&
	            (f->req_end < 0 || off < f->req_end);

	if (!keep)
		finish_request(f);
	f->buf = buf;
	f->cap = cap;
	f->off = off;
	f->len = 0;
	f->bounded = bounded;
	take_spill(f, keep);
	return keep;
}

static bool window_done(const struct fetcher *f)
{
	int64_t size = atomic_load(&f->obj->size);

	return f->len >= f->cap ||
	       (size >= 0 && f->off + (int64_t)f->len >= size);
}

ssize_t aisi_fetcher_fill(struct fetcher *f, size_t have, size_t limit)
{
	struct http_result res;
	size_t before;

	f->limit = limit < f->cap ? limit : f->cap;
	while (!window_done(f) && f->len < f->limit) {
		if (cancelled(f))
			return fetch_fail(f, ECANCELED, "cancelled");
		if (atomic_load(&f->obj->sticky_errno))
			return fetch_fail(f, ESTALE, "%s", f->obj->sticky_msg);
		if ((!f->http || !aisi_http_active(f->http)) && start_request(f) < 0)
			return -1;
		before = f->len;
		if (aisi_http_pump(f->http, f->len > have ? 0 : POLL_SLICE_MS, &res) ==
		    HTTP_PUMP_DONE) {
			if (request_ended(f, &res) < 0)
				return -1;
			continue;
		}
		/* Hand out what arrived once nothing more is ready at once. */
		if (f->len > have && f->len == before)
			break;
	}
	return (ssize_t)f->len;
}
