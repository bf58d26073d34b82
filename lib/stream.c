/*
 * stream.c - the object stream the caller holds: its position, and where its
 * bytes come from.  With read-ahead off, one fetcher fills one chunk on the
 * caller's thread; with it on, readahead.c fills slots on worker threads.
 * Either way the caller gets pointers into the filled buffers, and errors
 * reach it here, with errno and a message, on its own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* With read-ahead off, the first fill after a jump hands out this much as
 * soon as it has it; each sequential fill doubles it up to the chunk size.
 * A skip over a large tar member thus costs about this much, not a chunk. */
#define FIRST_FILL (64 * 1024)

struct ais_stream {
	struct ais_config cfg;
	char *url;
	struct object obj;
	int64_t pos; /* the caller's read position */

	/* Read-ahead off: one fetcher on the caller's thread filling the chunk,
	 * bytes [chunk_off, chunk_off + chunk_len) of the object. */
	struct fetcher direct;
	char *chunk;
	size_t chunk_len;
	int64_t chunk_off;
	size_t fill_target;

	/* Read-ahead on. */
	struct readahead *ra;

	uint64_t bytes_delivered;
	uint64_t bytes_copied;
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

/* ---- bytes at pos ----------------------------------------------------------- */

static size_t chunk_available(const ais_stream *s)
{
	if (s->pos < s->chunk_off || s->pos >= s->chunk_off + (int64_t)s->chunk_len)
		return 0;
	return (size_t)(s->chunk_off + (int64_t)s->chunk_len - s->pos);
}

/* Read-ahead off: refill the chunk from pos on the caller's thread. */
static ssize_t direct_peek(ais_stream *s, const char **p)
{
	struct fetcher *f = &s->direct;
	ssize_t n;

	if (!chunk_available(s)) {
		int64_t size = atomic_load(&s->obj.size);

		if (size >= 0 && s->pos >= size)
			return 0;
		if (!fetcher_aim(f, s->chunk, s->cfg.chunk_size, s->pos, false))
			s->fill_target = FIRST_FILL;
		s->chunk_off = s->pos;
		n = fetcher_fill(f, 0, s->fill_target);
		s->chunk_len = f->len;
		if (n < 0)
			return ais_fail(s, errno, "%s", f->errmsg);
		if (s->fill_target < s->cfg.chunk_size)
			s->fill_target = s->fill_target * 2 < s->cfg.chunk_size ?
			                 s->fill_target * 2 : s->cfg.chunk_size;
	}
	*p = s->chunk + (s->pos - s->chunk_off);
	return (ssize_t)chunk_available(s);
}

/* Bytes at pos, from wherever they come: count, 0 at the end, -1 (errno and
 * message set) on failure.  *p is valid until the next call. */
static ssize_t stream_peek(ais_stream *s, const char **p)
{
	char msg[AIS_ERRMSG_MAX];
	int err = 0;
	ssize_t n;

	if (atomic_load(&s->obj.sticky_errno))
		return ais_fail(s, ESTALE, "%s", s->obj.sticky_msg);
	if (!s->ra)
		return direct_peek(s, p);
	n = readahead_peek(s->ra, s->pos, p, &err, msg, sizeof(msg));
	if (n < 0)
		return ais_fail(s, err, "%s", msg);
	return n;
}

/* ---- opening ------------------------------------------------------------------ */

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
	pthread_mutex_init(&s->obj.lock, NULL);
	atomic_init(&s->obj.size, -1);
	if (config_resolve(&s->cfg, opts, err, sizeof(err)) < 0) {
		int e = errno;

		ais_close(s);
		ais_fail(NULL, e, "%s", err);
		return NULL;
	}
	s->url = url_resolve(url, s->cfg.endpoint, err, sizeof(err));
	if (!s->url) {
		int e = errno;

		ais_close(s);
		ais_fail(NULL, e, "%s", err);
		return NULL;
	}
	s->obj.cfg = &s->cfg;
	s->obj.url = s->url;
	s->fill_target = FIRST_FILL;
	if (s->cfg.readahead_bytes)
		s->ra = readahead_new(&s->obj);
	else if (fetcher_init(&s->direct, &s->obj) == 0)
		s->chunk = malloc(s->cfg.chunk_size);
	if (s->cfg.readahead_bytes ? !s->ra : !s->chunk) {
		ais_close(s);
		ais_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	return s;
}

AIS_EXPORT ais_stream *ais_open(const char *url, const struct ais_options *opts)
{
	ais_stream *s = stream_new(url, opts);
	const char *p;

	if (!s)
		return NULL;
	/* Ask now, so that a missing object fails here as fopen() would. */
	if (stream_peek(s, &p) < 0) {
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
	const char *p;
	ssize_t n;

	if (!s || !buf)
		return ais_fail(s, EINVAL, "ais_next: %s is NULL",
		                s ? "buf" : "stream");
	n = stream_peek(s, &p);
	if (n <= 0)
		return n;
	*buf = p;
	s->pos += n;
	s->bytes_delivered += (uint64_t)n;
	return n;
}

AIS_EXPORT ssize_t ais_read(ais_stream *s, void *buf, size_t len)
{
	size_t done = 0;

	if (!s || (!buf && len))
		return ais_fail(s, EINVAL, "ais_read: %s is NULL",
		                s ? "buf" : "stream");
	while (done < len) {
		const char *p;
		ssize_t n = stream_peek(s, &p);
		size_t take;

		if (n < 0 && !done)
			return -1;
		if (n <= 0)
			break;
		take = (size_t)n < len - done ? (size_t)n : len - done;
		memcpy((char *)buf + done, p, take);
		s->pos += (int64_t)take;
		done += take;
	}
	s->bytes_delivered += done;
	s->bytes_copied += done;
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
		base = atomic_load(&s->obj.size);
		if (base < 0)
			return ais_fail(s, ESPIPE, "ais_seek: size of %s is unknown, "
			                "cannot seek from the end", s->url);
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
	return atomic_load(&s->obj.size);
}

AIS_EXPORT int ais_stats(const ais_stream *s, struct ais_stats *out)
{
	const struct fetch_stats *st;

	if (!s || !out)
		return ais_fail(NULL, EINVAL, "ais_stats: %s is NULL",
		                s ? "out" : "stream");
	st = &s->obj.stats;
	out->requests = atomic_load(&st->requests);
	out->resumes = atomic_load(&st->resumes);
	out->seeks = atomic_load(&st->seeks);
	out->failures = atomic_load(&st->failures);
	out->bytes_received = atomic_load(&st->bytes_received);
	out->bytes_discarded = atomic_load(&st->bytes_discarded);
	out->bytes_delivered = s->bytes_delivered;
	out->bytes_copied = s->bytes_copied;
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
	readahead_free(s->ra);
	if (s->direct.http)
		fetcher_release(&s->direct);
	free(s->chunk);
	free(s->url);
	config_release(&s->cfg);
	pthread_mutex_destroy(&s->obj.lock);
	free(s);
	return 0;
}

AIS_EXPORT const char *ais_version(void)
{
	return PACKAGE_VERSION;
}
