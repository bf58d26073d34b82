/*
 * upload.c - one request that carries a body (a part, a whole object, a
 * multipart control message), sent until the server accepts it, refuses it
 * for good, or the retry budget runs out.  It is the write side's fetch.c:
 * the same retry budget and backoff, the same status classification, the
 * same redirect and credential rule (policy.c).
 *
 * A 307 or 308 is followed with the same method and body (an AIStore
 * gateway answers every PUT, POST and DELETE so); other redirects cannot
 * carry a body and end the request.  Every attempt starts at the request's
 * own URL, so after a failure the gateway picks a live target.  A body in
 * memory can be sent again as often as needed; a streamed body only while
 * none of it has been taken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define POLL_SLICE_MS 100

/* One request being sent, through its redirects. */
struct upload {
	const struct upload_target *to;
	struct upload_request *req;
	struct http_conn *http;
	char *req_url;
	struct redirect route;
	int refused;      /* the reply was turned down: its errno */
	char *err;
	size_t errlen;
};

static void count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static bool cancelled(const struct upload *u)
{
	return u->to->cancel && atomic_load(u->to->cancel);
}

/* ---- the reply ---------------------------------------------------------------- */

static int on_reply(void *ctx, const struct http_reply *r)
{
	struct upload *u = ctx;

	(void)r;
	u->req->reply_len = 0;
	return 0;
}

/* What a 2xx brings is kept when the request wants it (an upload ID), up
 * to its room: a longer reply is not what was asked for. */
static size_t on_body(void *ctx, const char *p, size_t n)
{
	struct upload *u = ctx;
	struct upload_request *req = u->req;

	if (!req->reply)
		return n;
	if (n > req->reply_cap - req->reply_len) {
		snprintf(u->err, u->errlen, "%s: the reply to %s is longer than "
		         "%zu bytes", u->to->obj->url, req->what, req->reply_cap);
		u->refused = EIO;
		return HTTP_BODY_ABORT;
	}
	memcpy(req->reply + req->reply_len, p, n);
	req->reply_len += n;
	return n;
}

/* ---- one attempt -------------------------------------------------------------- */

enum attempt_end { ATTEMPT_DONE, ATTEMPT_FINAL, ATTEMPT_RETRY };

static enum attempt_end final(struct upload *u, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum attempt_end final(struct upload *u, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->err, u->errlen, fmt, ap);
	va_end(ap);
	errno = err;
	return ATTEMPT_FINAL;
}

static enum attempt_end follow(struct upload *u, const char *location)
{
	const struct object *o = u->to->obj;
	int err = aisi_redirect_check(o->cfg, o->url, u->req_url, location,
	                              &u->route, u->err, u->errlen);
	char *next;

	if (err) {
		errno = err;
		return ATTEMPT_FINAL;
	}
	if (!(next = strdup(location)))
		return final(u, ENOMEM, "out of memory following a redirect");
	free(u->req_url);
	u->req_url = next;
	count(&u->to->obj->stats.redirects, 1);
	return ATTEMPT_RETRY; /* not a failure: send it there */
}

/* How a request that reached its end went: done, a redirect to follow
 * (ATTEMPT_RETRY with *redirected), a failure another attempt may fix
 * (why says what), or a final one. */
static enum attempt_end judge(struct upload *u, const struct http_result *res,
                              bool *redirected, char *why, size_t whylen)
{
	const char *url = u->to->obj->url, *what = u->req->what;

	*redirected = false;
	if (u->refused)
		return errno = u->refused, ATTEMPT_FINAL;
	if (res->code != CURLE_OK) {
		snprintf(why, whylen, "%s (curl error %d)", res->detail,
		         (int)res->code);
		if (!aisi_transport_retryable(res->code))
			return final(u, EIO, "%s: %s failed: %s", url, what, why);
		return ATTEMPT_RETRY;
	}
	if (res->status >= 200 && res->status < 300)
		return ATTEMPT_DONE;
	if ((res->status == 307 || res->status == 308) && res->location) {
		*redirected = true;
		return follow(u, res->location);
	}
	aisi_http_status_why(res, why, whylen);
	if (res->status >= 300 && res->status < 400)
		return final(u, EIO, "%s: %s answered %s; only a 307 or 308 "
		             "redirect can be followed with a body", url, what, why);
	if (aisi_status_retryable(res->status))
		return ATTEMPT_RETRY;
	return final(u, aisi_status_errno(res->status), "%s: %s failed: %s",
	             url, what, why);
}

/* Send the request to u->req_url and drive it to its end. */
static int send_and_wait(struct upload *u, struct http_result *res)
{
	const struct upload_target *to = u->to;
	struct http_sink sink = { on_reply, on_body, u };

	if (!u->http && !(u->http = aisi_client_conn_get(to->client)))
		return final(u, ENOMEM, "out of memory starting a request"), -1;
	u->refused = 0;
	if (aisi_http_send(u->http, to->obj->cfg, u->req_url, &u->req->body,
	                   aisi_redirect_with_auth(&u->route), &sink) < 0)
		return final(u, errno, "%s: %s", u->req_url,
		             aisi_http_start_error(u->http)), -1;
	while (aisi_http_pump(u->http, POLL_SLICE_MS, res) == HTTP_PUMP_RUNNING) {
		if (cancelled(u)) {
			aisi_http_abort(u->http);
			return final(u, ECANCELED, "cancelled"), -1;
		}
	}
	count(&to->obj->stats.connections,
	      (uint64_t)aisi_http_take_connections(u->http));
	return 0;
}

/* One attempt: the request and the redirects it meets. */
static enum attempt_end attempt(struct upload *u, char *why, size_t whylen)
{
	struct http_result res;
	enum attempt_end end;
	bool redirected;

	free(u->req_url);
	if (!(u->req_url = strdup(u->req->url)))
		return final(u, ENOMEM, "out of memory starting a request");
	u->route = (struct redirect){ 0, false };
	count(&u->to->obj->stats.requests, 1);
	do {
		if (send_and_wait(u, &res) < 0)
			return ATTEMPT_FINAL;
		/* A request cut because the writer stopped is no failure. */
		if (cancelled(u))
			return final(u, ECANCELED, "cancelled");
		end = judge(u, &res, &redirected, why, whylen);
	} while (end == ATTEMPT_RETRY && redirected);
	return end;
}

/* A streamed body that went out in part cannot be sent again. */
static bool resendable(const struct upload_request *req)
{
	return req->body.data || !req->body_taken ||
	       req->body_taken(req->body.ctx) == 0;
}

int aisi_upload_send(const struct upload_target *to, struct upload_request *req,
                     int max_retries, char *err, size_t errlen)
{
	struct upload u = { to, req, NULL, NULL, { 0, false }, 0, err, errlen };
	struct ais_config cfg = *to->obj->cfg;
	struct retry retry;
	char why[AIS_ERRMSG_MAX];
	int rc = -1;

	if (max_retries >= 0 && max_retries < cfg.max_retries)
		cfg.max_retries = max_retries;
	aisi_retry_init(&retry, &u);
	for (;;) {
		int64_t started = aisi_now_ms();
		enum attempt_end end = attempt(&u, why, sizeof(why));
		long wait;

		/* A connection that failed is closed by libcurl; the pool
		 * keeps the handle either way. */
		aisi_client_conn_put(to->client, u.http);
		u.http = NULL;
		if (end == ATTEMPT_DONE) {
			rc = 0;
			break;
		}
		if (end == ATTEMPT_FINAL)
			break;
		count(&to->obj->stats.failures, 1);
		if (!resendable(req)) {
			final(&u, EIO, "%s: %s broke after %llu bytes of the body: "
			      "%s; a plain HTTP PUT streams the object and cannot "
			      "be resumed (only AIStore multipart uploads can)",
			      to->obj->url, req->what,
			      (unsigned long long)req->body_taken(req->body.ctx),
			      why);
			break;
		}
		if ((wait = aisi_retry_next(&retry, &cfg, started)) < 0) {
			final(&u, EIO, "%s: gave up on %s after %d failed attempt%s: "
			      "%s", to->obj->url, req->what, retry.failures,
			      retry.failures == 1 ? "" : "s", why);
			break;
		}
		aisi_retry_wait(wait, to->cancel);
		if (cancelled(&u)) {
			final(&u, ECANCELED, "cancelled");
			break;
		}
		if (!strcmp(req->body.method, "PUT"))
			count(&to->obj->stats.resumes, 1);
	}
	free(u.req_url);
	return rc;
}
