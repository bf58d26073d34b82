/*
 * stream.c - the object stream the caller holds: its position, its client,
 * and the buffers its bytes come from (readahead.c, filled on the caller's
 * thread or by the client's workers) or go to (write.c, for a stream made
 * by ais_create).  The caller gets pointers into the filled buffers, and
 * errors reach it here, with errno and a message, on its own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ais_stream {
	struct ais_config cfg;
	char *url;
	struct object obj;
	int64_t pos; /* the caller's read position */
	/* Where the last ais_next started: of the bytes it handed out, the
	 * caller may have used few before it seeks (libarchive reads a header
	 * and skips), so the run read before a seek ends there. */
	int64_t next_from;
	struct ais_client *client;
	struct readahead *ra;   /* a read stream's */
	struct writer *writer;  /* a write stream's */

	uint64_t bytes_delivered;
	uint64_t bytes_copied;
	/* A failure ais_read met after copying bytes, which it returned short:
	 * the next read reports it (errmsg still holds its message), as
	 * read(2) and stdio do, so a short count is never taken for the end. */
	int pending_errno;
	char errmsg[AIS_ERRMSG_MAX];

	/* The end-to-end checksum of the bytes handed out, in order: running
	 * while bytes [0, upto) are hashed and no byte past upto was handed
	 * out first; done once the end was reached.  bad holds EBADMSG and
	 * bad_msg why, once the hash and the server disagreed; every read at
	 * the end reports it, and ais_close if no read did. */
	enum { VERIFY_IDLE, VERIFY_RUNNING, VERIFY_DONE } verify;
	struct cksum cksum;
	char cksum_type[32];
	int64_t cksum_upto;
	int bad;
	bool bad_reported;
	char bad_msg[AIS_ERRMSG_MAX];
};

char *aisi_stream_errbuf(struct ais_stream *s)
{
	return s->errmsg;
}

/* ---- the end-to-end checksum -------------------------------------------------- */

static void verify_skipped(ais_stream *s)
{
	if (s->verify == VERIFY_RUNNING)
		aisi_cksum_end(&s->cksum);
	s->verify = VERIFY_DONE;
	atomic_fetch_add(&s->obj.stats.checksums_skipped, 1);
}

/* After the first reply: hash what is delivered when the server states the
 * object's checksum in a type the options ask to check. */
static void verify_begin(ais_stream *s)
{
	struct object *o = &s->obj;
	char type[sizeof(s->cksum_type)];
	enum cksum_kind kind;
	bool stated, cheap;
	size_t hex_len;

	pthread_mutex_lock(&o->lock);
	stated = o->have_identity && *o->identity.ais_checksum;
	snprintf(type, sizeof(type), "%s", o->identity.ais_checksum_type);
	pthread_mutex_unlock(&o->lock);
	if (!stated)
		return;
	kind = aisi_cksum_kind(type, &cheap, &hex_len);
	s->verify = VERIFY_DONE;
	if (kind == CKSUM_NONE || s->cfg.verify == AIS_VERIFY_OFF ||
	    (!cheap && s->cfg.verify != AIS_VERIFY_ALL)) {
		atomic_fetch_add(&o->stats.checksums_skipped, 1);
		return;
	}
	if (aisi_cksum_begin(&s->cksum, kind) < 0) {
		aisi_cksum_end(&s->cksum);
		atomic_fetch_add(&o->stats.checksums_skipped, 1);
		return;
	}
	snprintf(s->cksum_type, sizeof(s->cksum_type), "%s", type);
	s->verify = VERIFY_RUNNING;
}

/* All bytes are hashed: compare with the checksum the server stated for the
 * whole object. */
static void verify_end(ais_stream *s)
{
	struct object *o = &s->obj;
	char want[HTTP_VALIDATOR_MAX], want_type[32], got[160];
	enum cksum_kind kind;
	size_t hex_len;
	bool cheap;

	pthread_mutex_lock(&o->lock);
	snprintf(want, sizeof(want), "%s", o->whole_sum);
	snprintf(want_type, sizeof(want_type), "%s", o->whole_sum_type);
	pthread_mutex_unlock(&o->lock);
	/* Only checksums of ranges were seen, or the one of the whole object
	 * is of another type than the first reply said. */
	kind = aisi_cksum_kind(want_type, &cheap, &hex_len);
	if (!*want || strcasecmp(want_type, s->cksum_type) ||
	    aisi_cksum_hex(&s->cksum, got, sizeof(got)) < 0) {
		verify_skipped(s);
		return;
	}
	aisi_cksum_end(&s->cksum);
	s->verify = VERIFY_DONE;
	if (kind != CKSUM_NONE && strlen(want) == hex_len &&
	    !strcasecmp(want, got)) {
		atomic_fetch_add(&o->stats.checksums_verified, 1);
		return;
	}
	s->bad = EBADMSG;
	snprintf(s->bad_msg, sizeof(s->bad_msg), "checksum mismatch in %s: the "
	         "server states %s %s, the %lld bytes delivered hash to %s; the "
	         "object is damaged or changed (AIS_VERIFY=off skips the check)",
	         s->url, s->cksum_type, want, (long long)s->cksum_upto, got);
}

/* The caller was handed n bytes at at. */
static void verify_bytes(ais_stream *s, int64_t at, const char *p, size_t n)
{
	int64_t size;

	if (s->verify != VERIFY_RUNNING)
		return;
	if (at > s->cksum_upto) { /* a gap: the hash cannot cover it */
		verify_skipped(s);
		return;
	}
	if (at + (int64_t)n <= s->cksum_upto)
		return; /* read again: hashed already */
	aisi_cksum_update(&s->cksum, p + (s->cksum_upto - at),
	                  (size_t)(at + (int64_t)n - s->cksum_upto));
	s->cksum_upto = at + (int64_t)n;
	size = atomic_load(&s->obj.size);
	if (size >= 0 && s->cksum_upto >= size)
		verify_end(s);
}

/* At the end of the object: a mismatch fails the read that would have said
 * so. */
static ssize_t verify_at_end(ais_stream *s)
{
	if (s->verify == VERIFY_RUNNING && s->pos == s->cksum_upto)
		verify_end(s);
	if (!s->bad)
		return 0;
	s->bad_reported = true;
	return aisi_fail(s, s->bad, "%s", s->bad_msg);
}

/* ---- bytes at pos ----------------------------------------------------------- */

/* The failure ais_read held back behind its short count, once. */
static ssize_t report_pending(ais_stream *s)
{
	char msg[AIS_ERRMSG_MAX];
	int err = s->pending_errno;

	s->pending_errno = 0;
	snprintf(msg, sizeof(msg), "%s", s->errmsg);
	return aisi_fail(s, err, "%s", msg);
}

/* Bytes at pos, from wherever they come: count, 0 at the end, -1 (errno and
 * message set) on failure.  *p is valid until the next call. */
static ssize_t stream_peek(ais_stream *s, const char **p)
{
	char msg[AIS_ERRMSG_MAX];
	int err = 0;
	ssize_t n;

	if (s->pending_errno)
		return report_pending(s);
	if (atomic_load(&s->obj.sticky_errno))
		return aisi_fail(s, ESTALE, "%s", s->obj.sticky_msg);
	n = aisi_readahead_peek(s->ra, s->pos, p, &err, msg, sizeof(msg));
	if (n < 0)
		return aisi_fail(s, err, "%s", msg);
	if (n == 0)
		return verify_at_end(s);
	return n;
}

/* ---- opening ------------------------------------------------------------------ */

/* A stream of client c, which holds c from now on (even on failure:
 * ais_close releases it). */
static ais_stream *stream_new(struct ais_client *c, const char *url,
                              const struct ais_options *opts)
{
	char err[AIS_ERRMSG_MAX];
	ais_stream *s;

	s = FAILPOINT("stream-new") ? NULL : calloc(1, sizeof(*s));
	if (!s) {
		aisi_client_release(c);
		aisi_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	s->client = c;
	pthread_mutex_init(&s->obj.lock, NULL);
	atomic_init(&s->obj.size, -1);
	if (aisi_config_resolve(&s->cfg, opts, url, err, sizeof(err)) < 0) {
		int e = errno;

		ais_close(s);
		aisi_fail(NULL, e, "%s", err);
		return NULL;
	}
	s->url = aisi_url_resolve(url, s->cfg.endpoint, err, sizeof(err));
	if (!s->url) {
		const struct config_source *src = &s->cfg.source[CFG_ENDPOINT];
		int e = errno;

		/* An endpoint the user did not type: say where it is. */
		if (src->origin == ORIGIN_CLI_CONFIG && strstr(err, "endpoint"))
			aisi_fail(NULL, e, "%s (%s in %s)", err, src->name,
			          s->cfg.cli_path);
		else
			aisi_fail(NULL, e, "%s", err);
		ais_close(s);
		errno = e;
		return NULL;
	}
	s->obj.cfg = &s->cfg;
	s->obj.url = s->url;
	return s;
}

/* Open url on c (held by the caller, handed to the stream) and wait for
 * the first answer. */
static ais_stream *stream_open(struct ais_client *c, const char *url,
                               const struct ais_options *opts)
{
	ais_stream *s = stream_new(c, url, opts);
	const char *p;

	if (!s)
		return NULL;
	if (!(s->ra = aisi_readahead_new(&s->obj, c))) {
		ais_close(s);
		aisi_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	/* Ask now, so that a missing object fails here as fopen() would. */
	if (stream_peek(s, &p) < 0) {
		int e = errno;
		char msg[AIS_ERRMSG_MAX];

		snprintf(msg, sizeof(msg), "%s", s->errmsg);
		ais_close(s);
		aisi_fail(NULL, e, "%s", msg);
		return NULL;
	}
	verify_begin(s);
	return s;
}

AIS_EXPORT ais_stream *ais_open(const char *url, const struct ais_options *opts)
{
	struct ais_client *c;

	if (aisi_curl_init() < 0 || !(c = aisi_client_default()))
		return NULL;
	return stream_open(c, url, opts);
}

AIS_EXPORT ais_stream *ais_client_open(ais_client *c, const char *url,
                                       const struct ais_options *opts)
{
	if (!c) {
		aisi_fail(NULL, EINVAL, "ais_client_open: client is NULL");
		return NULL;
	}
	aisi_client_hold(c);
	return stream_open(c, url, opts);
}

/* A read on a write stream, or a write on a read stream. */
static int wrong_direction(ais_stream *s, const char *call)
{
	return aisi_fail(s, EBADF, "%s: %s was opened for %s", call, s->url,
	                 s->writer ? "writing (ais_create): it cannot be read "
	                 "or seeked" : "reading (ais_open): it cannot be "
	                 "written");
}

AIS_EXPORT ssize_t ais_next(ais_stream *s, const void **buf)
{
	const char *p;
	ssize_t n;

	if (!s || !buf)
		return aisi_fail(s, EINVAL, "ais_next: %s is NULL",
		                s ? "buf" : "stream");
	if (s->writer)
		return wrong_direction(s, "ais_next");
	n = stream_peek(s, &p);
	if (n <= 0)
		return n;
	*buf = p;
	verify_bytes(s, s->pos, p, (size_t)n);
	s->next_from = s->pos;
	s->pos += n;
	s->bytes_delivered += (uint64_t)n;
	return n;
}

AIS_EXPORT ssize_t ais_read(ais_stream *s, void *buf, size_t len)
{
	size_t done = 0;

	if (!s || (!buf && len))
		return aisi_fail(s, EINVAL, "ais_read: %s is NULL",
		                s ? "buf" : "stream");
	if (s->writer)
		return wrong_direction(s, "ais_read");
	while (done < len) {
		const char *p;
		ssize_t n = stream_peek(s, &p);
		size_t take;

		if (n < 0 && !done)
			return -1;
		if (n < 0)
			s->pending_errno = errno;
		if (n <= 0)
			break;
		take = (size_t)n < len - done ? (size_t)n : len - done;
		memcpy((char *)buf + done, p, take);
		verify_bytes(s, s->pos, p, take);
		s->pos += (int64_t)take;
		done += take;
	}
	s->bytes_delivered += done;
	s->bytes_copied += done;
	s->next_from = s->pos; /* copied: every byte was used */
	return (ssize_t)done;
}

AIS_EXPORT int64_t ais_seek(ais_stream *s, int64_t offset, int whence)
{
	int64_t base;

	if (!s)
		return aisi_fail(NULL, EINVAL, "ais_seek: stream is NULL");
	if (s->writer)
		return wrong_direction(s, "ais_seek");
	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = s->pos; break;
	case SEEK_END:
		base = atomic_load(&s->obj.size);
		if (base < 0)
			return aisi_fail(s, ESPIPE, "ais_seek: size of %s is unknown, "
			                "cannot seek from the end", s->url);
		break;
	default:
		return aisi_fail(s, EINVAL, "ais_seek: whence %d is not SEEK_SET, "
		                "SEEK_CUR or SEEK_END", whence);
	}
	if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
		return aisi_fail(s, EINVAL, "ais_seek: position %lld%+lld is out of "
		                "range", (long long)base, (long long)offset);
	if (base + offset != s->pos)
		aisi_readahead_seek(s->ra, s->next_from, base + offset);
	s->pos = s->next_from = base + offset;
	/* A failure at the old position is no concern of reads here. */
	s->pending_errno = 0;
	return s->pos;
}

AIS_EXPORT int64_t ais_tell(const ais_stream *s)
{
	if (!s)
		return aisi_fail(NULL, EINVAL, "ais_tell: stream is NULL");
	if (s->writer)
		return (int64_t)aisi_writer_written(s->writer);
	return s->pos;
}

AIS_EXPORT int64_t ais_size(const ais_stream *s)
{
	if (!s)
		return aisi_fail(NULL, EINVAL, "ais_size: stream is NULL");
	return atomic_load(&s->obj.size);
}

AIS_EXPORT int ais_stats(const ais_stream *s, struct ais_stats *out)
{
	const struct fetch_stats *st;

	if (!s || !out)
		return aisi_fail(NULL, EINVAL, "ais_stats: %s is NULL",
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
	out->connections = atomic_load(&st->connections);
	out->redirects = atomic_load(&st->redirects);
	out->checksums_verified = atomic_load(&st->checksums_verified);
	out->checksums_skipped = atomic_load(&st->checksums_skipped);
	out->bytes_uploaded = atomic_load(&st->bytes_uploaded);
	out->parts_uploaded = atomic_load(&st->parts_uploaded);
	memset(out->reserved, 0, sizeof(out->reserved));
	return 0;
}

AIS_EXPORT const char *ais_errmsg(const ais_stream *s)
{
	return s ? s->errmsg : "no stream";
}

static void stream_free(ais_stream *s)
{
	if (s->verify == VERIFY_RUNNING)
		aisi_cksum_end(&s->cksum);
	aisi_readahead_free(s->ra);
	aisi_writer_free(s->writer);
	free(s->obj.target);
	free(s->url);
	aisi_config_release(&s->cfg);
	pthread_mutex_destroy(&s->obj.lock);
	aisi_client_release(s->client);
	free(s);
}

AIS_EXPORT int ais_close(ais_stream *s)
{
	int rc = 0, err = 0;

	if (!s)
		return 0;
	/* A write stream that ais_commit (or libarchive's close callback)
	 * committed has nothing left to commit. */
	if (s->writer && aisi_writer_is_open(s->writer) && (rc = ais_commit(s)) < 0)
		err = errno;
	/* A checksum mismatch no read reported (the caller stopped at the
	 * last byte) fails the close. */
	if (s->bad && !s->bad_reported) {
		aisi_fail(NULL, s->bad, "%s", s->bad_msg);
		rc = -1;
		err = s->bad;
	}
	stream_free(s);
	if (rc < 0)
		errno = err;
	return rc;
}

AIS_EXPORT void ais_abort(ais_stream *s)
{
	if (!s)
		return;
	if (s->writer)
		aisi_writer_abort(s->writer);
	stream_free(s);
}

/* ---- writing ------------------------------------------------------------------ */

/* Open url for writing on c (held by the caller, handed to the stream).
 * Nothing is sent yet. */
static ais_stream *stream_create(struct ais_client *c, const char *url,
                                 const struct ais_options *opts)
{
	ais_stream *s = stream_new(c, url, opts);

	if (!s)
		return NULL;
	s->writer = aisi_writer_new(&s->obj, c, aisi_url_is_aistore(url, s->url));
	if (!s->writer) {
		ais_close(s);
		aisi_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	return s;
}

AIS_EXPORT ais_stream *ais_create(const char *url,
                                  const struct ais_options *opts)
{
	struct ais_client *c;

	if (aisi_curl_init() < 0 || !(c = aisi_client_default()))
		return NULL;
	return stream_create(c, url, opts);
}

AIS_EXPORT ais_stream *ais_client_create(ais_client *c, const char *url,
                                         const struct ais_options *opts)
{
	if (!c) {
		aisi_fail(NULL, EINVAL, "ais_client_create: client is NULL");
		return NULL;
	}
	aisi_client_hold(c);
	return stream_create(c, url, opts);
}

AIS_EXPORT ssize_t ais_write(ais_stream *s, const void *buf, size_t len)
{
	char msg[AIS_ERRMSG_MAX];
	int err = 0;
	ssize_t n;

	if (!s || (!buf && len))
		return aisi_fail(s, EINVAL, "ais_write: %s is NULL",
		                 s ? "buf" : "stream");
	if (!s->writer)
		return wrong_direction(s, "ais_write");
	n = aisi_writer_write(s->writer, buf, len, &err, msg, sizeof(msg));
	if (n < 0)
		return aisi_fail(s, err, "%s", msg);
	s->bytes_copied += (uint64_t)n;
	return n;
}

bool aisi_stream_writable(const ais_stream *s)
{
	return s->writer != NULL;
}

AIS_EXPORT int ais_commit(ais_stream *s)
{
	char msg[AIS_ERRMSG_MAX];
	int err = 0;

	if (!s)
		return aisi_fail(NULL, EINVAL, "ais_commit: stream is NULL");
	if (!s->writer)
		return wrong_direction(s, "ais_commit");
	if (aisi_writer_commit(s->writer, &err, msg, sizeof(msg)) < 0)
		return aisi_fail(s, err, "%s", msg);
	return 0;
}

void aisi_stream_discard(ais_stream *s)
{
	aisi_writer_abort(s->writer);
}

AIS_EXPORT const char *ais_version(void)
{
	return PACKAGE_VERSION;
}
