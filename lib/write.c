/*
 * write.c - a write stream's buffers and the threads that send them.
 *
 * The caller's bytes are copied into parts of part_size bytes.  A full part
 * is handed to an upload thread once more bytes come (so an object of at
 * most one part is one PUT, sent at commit) and the caller fills the next
 * part meanwhile.  There are connections + 1 part buffers; when all are
 * full or in flight, ais_write waits for one.  Memory is therefore at most
 * (connections + 1) x part_size, whatever the size of the object, and a
 * buffer is allocated (growing from 64 KiB) only when bytes arrive for it.
 *
 * Two ways out:
 *  - AIStore: a multipart upload.  The first hand-off asks for an upload
 *    ID (on the caller's thread, so a missing bucket fails that write);
 *    up to `connections` threads of the stream PUT parts at once, each
 *    part resent from its buffer after a failure; commit lists the parts;
 *    a failure aborts the upload so no part is left behind.
 *  - Any other HTTP server: one PUT.  Larger than a part, it is a chunked
 *    PUT fed from the parts in order by one thread; once some of it has
 *    gone out it cannot be sent again, so a break fails the upload.
 *
 * The threads are the stream's own, started as parts need them: the
 * client's workers serve read-ahead and must not wait behind a writer's
 * part, and a writer's threads end with it.  Their connections come from
 * the client's pool.
 *
 * Locking: w->lock guards the parts, the thread counts and the first
 * failure; the counters are atomics in the stream's object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FIRST_BUFFER (64 * 1024)
#define REPLY_MAX 1024
#define UPLOAD_ID_MAX 256
/* Retries of the abort that cleans up after a failure: the server may be
 * the reason for the failure. */
#define ABORT_RETRIES 2

#define JSON_MPT_UPLOAD "{\"action\":\"mpt-upload\"}"
#define JSON_MPT_ABORT "{\"action\":\"mpt-abort\"}"

enum part_state { PART_FREE, PART_FILLING, PART_QUEUED, PART_SENDING };

struct part {
	char *buf;
	size_t cap;
	size_t len;
	int number; /* in the upload, from 1 */
	enum part_state state;
};

enum writer_state { WRITER_OPEN, WRITER_COMMITTED, WRITER_FAILED,
                    WRITER_ABORTED };

struct writer {
	struct object *obj;
	struct ais_client *client;
	bool multipart;
	size_t part_size;
	int max_threads;
	enum writer_state state;   /* the caller's thread only */
	uint64_t written;          /* the caller's thread only */
	bool begun;                /* a part was handed off */
	bool settled;              /* the failure was met: threads joined,
	                            * the upload aborted */
	char *upload_url;          /* the URL with uploadId, once begun */

	pthread_mutex_t lock;
	pthread_cond_t changed;    /* a part was queued or freed, a failure,
	                            * the end of input */
	struct part *parts;
	int nparts;
	struct part *filling;      /* the caller's; NULL when none */
	int numbered;              /* parts handed off so far */
	bool input_done;
	_Atomic bool cancel;
	pthread_t *threads;
	int nthreads;
	int idle_threads;
	/* The plain PUT reads the parts in order: the next, and how far. */
	int stream_next;
	size_t stream_off;
	_Atomic uint64_t stream_taken;
	/* The first failure, for good. */
	int err;
	char errmsg[AIS_ERRMSG_MAX];
};

/* ---- failures ----------------------------------------------------------------- */

/* Record the upload's failure (the first one wins) and stop the rest.
 * With the lock held. */
static void fail_locked(struct writer *w, int err, const char *msg)
{
	if (w->err)
		return;
	w->err = err;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s", msg);
	atomic_store(&w->cancel, true);
	pthread_cond_broadcast(&w->changed);
}

static void fail(struct writer *w, int err, const char *msg)
{
	pthread_mutex_lock(&w->lock);
	fail_locked(w, err, msg);
	pthread_mutex_unlock(&w->lock);
}

static void join_threads(struct writer *w);
static void abort_multipart(struct writer *w, char *outcome, size_t len);

/* The failure for the caller: -1 with *err and msg when there is one.
 * The first time the caller hears of it, the threads are stopped and the
 * multipart upload is aborted, and how that went joins the message. */
static int failure(struct writer *w, int *err, char *msg, size_t msglen)
{
	char outcome[AIS_ERRMSG_MAX] = "";
	int e;

	pthread_mutex_lock(&w->lock);
	e = w->err;
	pthread_mutex_unlock(&w->lock);
	if (!e)
		return 0;
	if (!w->settled) {
		join_threads(w);
		abort_multipart(w, outcome, sizeof(outcome));
		/* No thread is left: the message is the caller's alone. */
		snprintf(w->errmsg + strlen(w->errmsg),
		         sizeof(w->errmsg) - strlen(w->errmsg), "%s", outcome);
		w->settled = true;
	}
	*err = e;
	snprintf(msg, msglen, "%s", w->errmsg);
	return -1;
}

/* ---- requests ------------------------------------------------------------------- */

static int send_request(struct writer *w, struct upload_request *req,
                        const _Atomic bool *cancel, int max_retries,
                        char *msg, size_t msglen)
{
	struct upload_target to = { w->obj, w->client, cancel };

	return aisi_upload_send(&to, req, max_retries, msg, msglen);
}

static void count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* The upload ID AIStore answers with: plain text, trimmed; printable, no
 * spaces, bounded. */
static const char *upload_id(struct upload_request *req, char *why,
                             size_t whylen)
{
	char *id = req->reply;
	size_t len = req->reply_len;

	id[len] = '\0';
	while (len && strchr(" \t\r\n", id[len - 1]))
		id[--len] = '\0';
	while (*id && strchr(" \t\r\n", *id))
		id++, len--;
	if (!len)
		snprintf(why, whylen, "it is empty");
	else if (len > UPLOAD_ID_MAX)
		snprintf(why, whylen, "it is %zu bytes long, more than %d", len,
		         UPLOAD_ID_MAX);
	for (size_t i = 0; i < len && !*why; i++)
		if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f)
			snprintf(why, whylen, "byte %zu is not a printable "
			         "character", i);
	return *why ? NULL : id;
}

/* POST {"action":"mpt-upload"}: the upload ID, in w->upload_url. */
static int begin_multipart(struct writer *w, char *msg, size_t msglen)
{
	char reply[REPLY_MAX + 1], why[128] = "";
	struct upload_request req = {
		.url = w->obj->url,
		.what = "POST mpt-upload (start a multipart upload)",
		.body = { "POST", "application/json", JSON_MPT_UPLOAD,
		          (int64_t)strlen(JSON_MPT_UPLOAD), NULL, NULL },
		.reply = reply,
		.reply_cap = REPLY_MAX,
	};
	const char *id;

	if (send_request(w, &req, &w->cancel, -1, msg, msglen) < 0)
		return -1;
	if (!(id = upload_id(&req, why, sizeof(why)))) {
		snprintf(msg, msglen, "%s: the reply to %s is not an upload ID: "
		         "%s", w->obj->url, req.what, why);
		errno = EIO;
		return -1;
	}
	if (!(w->upload_url = aisi_url_add_query(w->obj->url, "uploadId", id))) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	return 0;
}

static int send_part(struct writer *w, struct part *p, char *msg,
                     size_t msglen)
{
	char number[16], what[48];
	struct upload_request req = { .what = what };
	int rc = -1;
	char *url;

	snprintf(number, sizeof(number), "%d", p->number);
	snprintf(what, sizeof(what), "PUT part %d", p->number);
	if (!(url = aisi_url_add_query(w->upload_url, "partNumber", number))) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	req.url = url;
	req.body = (struct http_body){ "PUT", NULL, p->buf, (int64_t)p->len,
	                               NULL, NULL };
	if (send_request(w, &req, &w->cancel, -1, msg, msglen) == 0) {
		count(&w->obj->stats.bytes_uploaded, p->len);
		count(&w->obj->stats.parts_uploaded, 1);
		rc = 0;
	}
	free(url);
	return rc;
}

/* {"action":"mpt-complete","value":[{"part-number":1,"etag":""},...]} */
static char *complete_json(int parts)
{
	static const char head[] = "{\"action\":\"mpt-complete\",\"value\":[";
	size_t cap = sizeof(head) + (size_t)parts * 48 + 4, len;
	char *json = malloc(cap);

	if (!json)
		return NULL;
	len = (size_t)snprintf(json, cap, "%s", head);
	for (int i = 1; i <= parts; i++)
		len += (size_t)snprintf(json + len, cap - len,
		                        "%s{\"part-number\":%d,\"etag\":\"\"}",
		                        i > 1 ? "," : "", i);
	snprintf(json + len, cap - len, "]}");
	return json;
}

static int complete_multipart(struct writer *w, char *msg, size_t msglen)
{
	char *json = complete_json(w->numbered);
	struct upload_request req = {
		.url = w->upload_url,
		.what = "POST mpt-complete (commit the multipart upload)",
	};
	int rc;

	if (!json) {
		snprintf(msg, msglen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	req.body = (struct http_body){ "POST", "application/json", json,
	                               (int64_t)strlen(json), NULL, NULL };
	rc = send_request(w, &req, NULL, -1, msg, msglen);
	free(json);
	return rc;
}

/* DELETE {"action":"mpt-abort"}, best effort; says how it went in
 * outcome. */
static void abort_multipart(struct writer *w, char *outcome, size_t len)
{
	char msg[AIS_ERRMSG_MAX];
	struct upload_request req = {
		.url = w->upload_url,
		.what = "DELETE mpt-abort (abort the multipart upload)",
		.body = { "DELETE", "application/json", JSON_MPT_ABORT,
		          (int64_t)strlen(JSON_MPT_ABORT), NULL, NULL },
	};

	if (!w->upload_url)
		return;
	if (send_request(w, &req, NULL, ABORT_RETRIES, msg, sizeof(msg)) < 0)
		snprintf(outcome, len, "; aborting the multipart upload failed "
		         "too: %.600s", msg);
	else
		snprintf(outcome, len, "; the multipart upload was aborted");
	free(w->upload_url);
	w->upload_url = NULL;
}

/* The whole object in one PUT, from the part being filled. */
static int put_whole(struct writer *w, char *msg, size_t msglen)
{
	struct part *p = w->filling;
	struct upload_request req = { .url = w->obj->url, .what = "PUT" };
	size_t len = p ? p->len : 0;

	req.body = (struct http_body){ "PUT", NULL, p && p->buf ? p->buf : "",
	                               (int64_t)len, NULL, NULL };
	if (send_request(w, &req, &w->cancel, -1, msg, msglen) < 0)
		return -1;
	count(&w->obj->stats.bytes_uploaded, len);
	return 0;
}

/* ---- the threads ------------------------------------------------------------------ */

/* The queued part with the lowest number, or NULL. */
static struct part *next_queued(struct writer *w)
{
	struct part *best = NULL;

	for (int i = 0; i < w->nparts; i++) {
		struct part *p = &w->parts[i];

		if (p->state == PART_QUEUED && (!best || p->number < best->number))
			best = p;
	}
	return best;
}

/* Part number n, queued or being sent, or NULL. */
static struct part *handed_off(struct writer *w, int n)
{
	for (int i = 0; i < w->nparts; i++) {
		struct part *p = &w->parts[i];

		if ((p->state == PART_QUEUED || p->state == PART_SENDING) &&
		    p->number == n)
			return p;
	}
	return NULL;
}

static void release_part(struct writer *w, struct part *p)
{
	p->state = PART_FREE;
	p->len = 0;
	p->number = 0;
	pthread_cond_broadcast(&w->changed);
}

/* A multipart thread: PUT the lowest queued part, until the input ends or
 * the upload fails. */
static void *part_thread(void *arg)
{
	struct writer *w = arg;
	char msg[AIS_ERRMSG_MAX];

	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->cancel)) {
		struct part *p = next_queued(w);

		if (p) {
			int err;

			p->state = PART_SENDING;
			pthread_mutex_unlock(&w->lock);
			err = send_part(w, p, msg, sizeof(msg)) < 0 ? errno : 0;
			pthread_mutex_lock(&w->lock);
			if (err && err != ECANCELED)
				fail_locked(w, err, msg);
			release_part(w, p);
			continue;
		}
		if (w->input_done)
			break;
		w->idle_threads++;
		pthread_cond_wait(&w->changed, &w->lock);
		w->idle_threads--;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* The plain PUT's body: the parts in order, as the caller hands them off;
 * blocks until one is there. */
static size_t stream_read(void *ctx, char *buf, size_t n)
{
	struct writer *w = ctx;
	size_t take = 0;
	struct part *p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (atomic_load(&w->cancel)) {
			take = HTTP_BODY_ABORT;
			break;
		}
		if ((p = handed_off(w, w->stream_next))) {
			p->state = PART_SENDING;
			take = p->len - w->stream_off < n ? p->len - w->stream_off : n;
			memcpy(buf, p->buf + w->stream_off, take);
			w->stream_off += take;
			atomic_fetch_add(&w->stream_taken, take);
			if (w->stream_off == p->len) {
				release_part(w, p);
				w->stream_next++;
				w->stream_off = 0;
			}
			break;
		}
		if (w->input_done)
			break; /* every part handed off went out: the end */
		pthread_cond_wait(&w->changed, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return take;
}

static uint64_t stream_taken(void *ctx)
{
	struct writer *w = ctx;

	return atomic_load(&w->stream_taken);
}

static void *stream_thread(void *arg)
{
	struct writer *w = arg;
	char msg[AIS_ERRMSG_MAX];
	struct upload_request req = {
		.url = w->obj->url,
		.what = "PUT",
		.body = { "PUT", NULL, NULL, -1, stream_read, w },
		.body_taken = stream_taken,
	};

	if (send_request(w, &req, &w->cancel, -1, msg, sizeof(msg)) < 0) {
		int err = errno;

		if (err != ECANCELED)
			fail(w, err, msg);
		return NULL;
	}
	/* A success before the body ended (stream_read said so only at the
	 * end of the input) would leave the caller's bytes unsent. */
	pthread_mutex_lock(&w->lock);
	if (!w->input_done || handed_off(w, w->stream_next)) {
		snprintf(msg, sizeof(msg), "%s: the server answered the PUT "
		         "before the end of its body", w->obj->url);
		fail_locked(w, EIO, msg);
	}
	pthread_mutex_unlock(&w->lock);
	count(&w->obj->stats.bytes_uploaded, atomic_load(&w->stream_taken));
	return NULL;
}

/* With the lock held: a part waits for a thread; wake or start one. */
static int want_thread(struct writer *w)
{
	void *(*main)(void *) = w->multipart ? part_thread : stream_thread;

	if (w->idle_threads > 0 || w->nthreads >= w->max_threads)
		return 0;
	errno = pthread_create(&w->threads[w->nthreads], NULL, main, w);
	if (errno)
		return -1;
	w->nthreads++;
	return 0;
}

/* Wake the threads and wait until they are gone. */
static void join_threads(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	/* Only the caller's thread starts threads, and it is here. */
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
}

/* ---- the caller's side ------------------------------------------------------------- */

/* A free part to fill, waiting while all are queued or in flight; NULL
 * when the upload failed. */
static struct part *take_part(struct writer *w)
{
	struct part *p = NULL;

	pthread_mutex_lock(&w->lock);
	while (!w->err) {
		for (int i = 0; i < w->nparts && !p; i++)
			if (w->parts[i].state == PART_FREE)
				p = &w->parts[i];
		if (p) {
			p->state = PART_FILLING;
			break;
		}
		pthread_cond_wait(&w->changed, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return p;
}

/* Queue the part being filled; the first one begins the upload. */
static int hand_off(struct writer *w)
{
	char msg[AIS_ERRMSG_MAX];
	int rc;

	if (!w->begun && w->multipart && begin_multipart(w, msg, sizeof(msg)) < 0) {
		fail(w, errno, msg);
		return -1;
	}
	w->begun = true;
	pthread_mutex_lock(&w->lock);
	w->filling->number = ++w->numbered;
	w->filling->state = PART_QUEUED;
	w->filling = NULL;
	pthread_cond_broadcast(&w->changed);
	if ((rc = want_thread(w)) < 0) {
		int e = errno;

		snprintf(msg, sizeof(msg), "%s: cannot start an upload thread: %s",
		         w->obj->url, strerror(e));
		fail_locked(w, e, msg);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Copy what fits of buf into the part being filled, growing its buffer
 * up to a part.  Returns the count, 0 when out of memory. */
static size_t fill(struct writer *w, const char *buf, size_t len)
{
	struct part *p = w->filling;
	size_t n = w->part_size - p->len < len ? w->part_size - p->len : len;

	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap : FIRST_BUFFER;
		char *grown;

		while (cap < p->len + n)
			cap *= 2;
		if (cap > w->part_size)
			cap = w->part_size;
		if (!(grown = realloc(p->buf, cap)))
			return 0;
		p->buf = grown;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, buf, n);
	p->len += n;
	return n;
}

static int not_open(const struct writer *w, int *err, char *msg,
                    size_t msglen)
{
	*err = EBADF;
	snprintf(msg, msglen, "%s: the stream was already %s", w->obj->url,
	         w->state == WRITER_COMMITTED ? "committed" :
	         w->state == WRITER_ABORTED ? "aborted" : "closed after a failure");
	return -1;
}

ssize_t aisi_writer_write(struct writer *w, const void *buf, size_t len,
                          int *err, char *msg, size_t msglen)
{
	size_t done = 0;

	if (w->state != WRITER_OPEN)
		return not_open(w, err, msg, msglen);
	if (failure(w, err, msg, msglen) < 0)
		return -1;
	while (done < len) {
		size_t n;

		if (w->filling && w->filling->len == w->part_size &&
		    hand_off(w) < 0)
			return failure(w, err, msg, msglen);
		if (!w->filling && !(w->filling = take_part(w)))
			return failure(w, err, msg, msglen);
		if (!(n = fill(w, (const char *)buf + done, len - done))) {
			*err = ENOMEM;
			snprintf(msg, msglen, "out of memory for a part of %zu bytes",
			         w->part_size);
			return -1;
		}
		done += n;
	}
	w->written += done;
	return (ssize_t)done;
}

/* Hand off the last part, let the threads finish; then the upload failed
 * or all of it is on the server. */
static int finish_parts(struct writer *w)
{
	if (w->filling && w->filling->len > 0)
		hand_off(w); /* a failure is the upload's */
	pthread_mutex_lock(&w->lock);
	if (w->filling)
		release_part(w, w->filling);
	w->filling = NULL;
	w->input_done = true;
	pthread_mutex_unlock(&w->lock);
	join_threads(w);
	return w->err ? -1 : 0;
}

/* The end of the writer's work: no thread runs, and the buffers go. */
static void finish(struct writer *w, enum writer_state state)
{
	for (int i = 0; i < w->nparts; i++) {
		free(w->parts[i].buf);
		w->parts[i] = (struct part){ NULL, 0, 0, 0, PART_FREE };
	}
	w->filling = NULL;
	w->state = state;
}

int aisi_writer_commit(struct writer *w, int *err, char *msg, size_t msglen)
{
	int rc = 0;

	if (w->state != WRITER_OPEN)
		return not_open(w, err, msg, msglen);
	if (!w->begun && failure(w, err, msg, msglen) == 0)
		rc = put_whole(w, msg, msglen);
	else if (w->begun && finish_parts(w) == 0 && w->multipart)
		rc = complete_multipart(w, msg, msglen);
	if (rc < 0)
		fail(w, errno, msg);
	rc = failure(w, err, msg, msglen);
	finish(w, rc < 0 ? WRITER_FAILED : WRITER_COMMITTED);
	return rc;
}

void aisi_writer_abort(struct writer *w)
{
	char outcome[AIS_ERRMSG_MAX];

	if (w->state != WRITER_OPEN)
		return;
	atomic_store(&w->cancel, true);
	join_threads(w);
	abort_multipart(w, outcome, sizeof(outcome));
	finish(w, WRITER_ABORTED);
}

bool aisi_writer_is_open(const struct writer *w)
{
	return w->state == WRITER_OPEN;
}

uint64_t aisi_writer_written(const struct writer *w)
{
	return w->written;
}

struct writer *aisi_writer_new(struct object *o, struct ais_client *c,
                               bool multipart)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->obj = o;
	w->client = c;
	w->multipart = multipart;
	w->part_size = o->cfg->part_size;
	w->max_threads = multipart ? o->cfg->connections : 1;
	w->nparts = o->cfg->connections + 1;
	w->stream_next = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	w->parts = calloc((size_t)w->nparts, sizeof(*w->parts));
	w->threads = calloc((size_t)w->max_threads, sizeof(*w->threads));
	if (!w->parts || !w->threads) {
		aisi_writer_free(w);
		errno = ENOMEM;
		return NULL;
	}
	return w;
}

void aisi_writer_free(struct writer *w)
{
	if (!w)
		return;
	if (w->parts && w->threads)
		aisi_writer_abort(w);
	free(w->parts);
	free(w->threads);
	free(w->upload_url);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
