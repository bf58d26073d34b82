/*
 * archive.c - an ais_stream as a libarchive data source, or sink.  The read
 * callback hands libarchive a pointer into the chunk the transport filled
 * (no copy); skip and seek move the stream, which turns a long jump into a
 * Range request.  The write callback copies libarchive's blocks into the
 * stream's part buffers; the close callback commits the object unless
 * libarchive failed, and the free callback discards what was not committed.
 */
#include <errno.h>

#include "internal.h"
#include "aisfile_archive.h"

AIS_EXPORT la_ssize_t ais_archive_read(struct archive *a, void *stream,
                                       const void **buf)
{
	ssize_t n = ais_next(stream, buf);

	if (n < 0) {
		archive_set_error(a, errno, "%s", ais_errmsg(stream));
		return ARCHIVE_FATAL;
	}
	return n;
}

AIS_EXPORT la_int64_t ais_archive_skip(struct archive *a, void *stream,
                                       la_int64_t request)
{
	int64_t pos = ais_tell(stream), size = ais_size(stream);

	if (request <= 0)
		return 0;
	/* Never claim bytes past the end: libarchive would take a truncated
	 * archive for a whole one. */
	if (size >= 0 && request > size - pos)
		request = size > pos ? size - pos : 0;
	if (ais_seek(stream, request, SEEK_CUR) < 0) {
		archive_set_error(a, errno, "%s", ais_errmsg(stream));
		return ARCHIVE_FATAL;
	}
	return request;
}

AIS_EXPORT la_int64_t ais_archive_seek(struct archive *a, void *stream,
                                       la_int64_t offset, int whence)
{
	int64_t pos = ais_seek(stream, offset, whence);

	if (pos < 0) {
		archive_set_error(a, errno, "%s", ais_errmsg(stream));
		return ARCHIVE_FATAL;
	}
	return pos;
}

AIS_EXPORT int ais_archive_close(struct archive *a, void *stream)
{
	if (ais_close(stream) == 0)
		return ARCHIVE_OK;
	if (a)
		archive_set_error(a, errno, "%s", ais_last_error());
	return ARCHIVE_FATAL;
}

/* ais_open or ais_create failed: the reason goes to the archive too. */
static int stream_failed(struct archive *a)
{
	int e = errno;

	archive_set_error(a, e, "%s", ais_last_error());
	errno = e;
	return ARCHIVE_FATAL;
}

static int no_archive(const char *caller)
{
	aisi_fail(NULL, EINVAL, "%s: archive is NULL", caller);
	return ARCHIVE_FATAL;
}

AIS_EXPORT int ais_archive_open(struct archive *a, const char *url,
                                const struct ais_options *opts)
{
	ais_stream *s;

	if (!a)
		return no_archive("ais_archive_open");
	/* libarchive takes callbacks only while the archive is new; an archive
	 * opened already would refuse archive_read_open2 without calling the
	 * close callback, and the stream would leak.  Ask first: no request is
	 * sent for an archive that cannot take it. */
	if (archive_read_set_seek_callback(a, ais_archive_seek) != ARCHIVE_OK) {
		aisi_fail(NULL, EINVAL, "ais_archive_open: %s",
		          archive_error_string(a) ? archive_error_string(a) :
		          "the archive is not new");
		return ARCHIVE_FATAL;
	}
	if (!(s = ais_open(url, opts)))
		return stream_failed(a);
	/* From the new state archive_read_open2 calls the close callback on
	 * failure too, so the stream is never leaked. */
	return archive_read_open2(a, s, NULL, ais_archive_read, ais_archive_skip,
	                          ais_archive_close);
}

/* ---- writing ------------------------------------------------------------------- */

AIS_EXPORT la_ssize_t ais_archive_write_cb(struct archive *a, void *stream,
                                           const void *buf, size_t len)
{
	ssize_t n = ais_write(stream, buf, len);

	if (n < 0) {
		archive_set_error(a, errno, "%s", ais_errmsg(stream));
		return ARCHIVE_FATAL;
	}
	return n;
}

/* libarchive calls this after its last block, and also when opening the
 * archive failed or after a failure of its own; then it has set an error,
 * and the upload is discarded rather than committed. */
AIS_EXPORT int ais_archive_write_close_cb(struct archive *a, void *stream)
{
	if (archive_errno(a) || archive_error_string(a)) {
		aisi_stream_discard(stream);
		return ARCHIVE_FATAL;
	}
	if (ais_commit(stream) < 0) {
		archive_set_error(a, errno, "%s", ais_errmsg(stream));
		return ARCHIVE_FATAL;
	}
	return ARCHIVE_OK;
}

AIS_EXPORT int ais_archive_write_free_cb(struct archive *a, void *stream)
{
	(void)a;
	ais_abort(stream); /* nothing to discard once committed */
	return ARCHIVE_OK;
}

static int write_open(struct archive *a, ais_stream *s)
{
	if (!s)
		return stream_failed(a);
	/* archive_write_open2 calls the close and free callbacks on failure
	 * too, so the stream is discarded and freed, never leaked. */
	return archive_write_open2(a, s, NULL, ais_archive_write_cb,
	                           ais_archive_write_close_cb,
	                           ais_archive_write_free_cb);
}

AIS_EXPORT int ais_archive_write_open(struct archive *a, const char *url,
                                      const struct ais_options *opts)
{
	if (!a)
		return no_archive("ais_archive_write_open");
	return write_open(a, ais_create(url, opts));
}

AIS_EXPORT int ais_client_archive_write_open(struct archive *a, ais_client *c,
                                             const char *url,
                                             const struct ais_options *opts)
{
	if (!a)
		return no_archive("ais_client_archive_write_open");
	return write_open(a, ais_client_create(c, url, opts));
}
