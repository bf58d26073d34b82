/*
 * aisfile_archive.h - an ais_stream as a libarchive data source, or as the
 * place libarchive writes an archive to.
 *
 * The read callback hands libarchive a pointer into the buffer the transport
 * filled (ais_next), so no byte is copied between the fetch and libarchive.
 * The skip and seek callbacks become Range requests: listing a tar of large
 * members, or reading one zip member through its central directory, does not
 * download the whole object.
 *
 * Either wire the callbacks yourself:
 *
 *     ais_stream *s = ais_open(url, NULL);
 *     archive_read_set_seek_callback(a, ais_archive_seek);   // optional
 *     archive_read_open2(a, s, NULL, ais_archive_read, ais_archive_skip,
 *                        ais_archive_close);
 *
 * or call ais_archive_open(a, url, opts), which does the same and reports
 * failures through archive_set_error().  In both cases libarchive owns the
 * stream afterwards and ais_archive_close() closes it.
 */
#ifndef AISFILE_ARCHIVE_H
#define AISFILE_ARCHIVE_H

#include <archive.h>

#include "aisfile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* archive_read_callback: *buf points into the stream's fetch buffer, valid
 * until libarchive calls back again (libarchive's own rule).  Errors are
 * reported with archive_set_error() and ARCHIVE_FATAL. */
AIS_EXPORT la_ssize_t ais_archive_read(struct archive *a, void *stream,
                                       const void **buf);

/* archive_skip_callback: skips up to request bytes (fewer only at the end of
 * the object) and returns the count, or ARCHIVE_FATAL. */
AIS_EXPORT la_int64_t ais_archive_skip(struct archive *a, void *stream,
                                       la_int64_t request);

/* archive_seek_callback: returns the new position, or ARCHIVE_FATAL. */
AIS_EXPORT la_int64_t ais_archive_seek(struct archive *a, void *stream,
                                       la_int64_t offset, int whence);

/* archive_close_callback: closes the stream. */
AIS_EXPORT int ais_archive_close(struct archive *a, void *stream);

/*
 * Open url with opts (NULL for defaults) and attach it to the archive a with
 * the callbacks above, including the seek callback.  Returns ARCHIVE_OK, or
 * ARCHIVE_FATAL with errno and archive_error_string(a) saying why.
 */
AIS_EXPORT int ais_archive_open(struct archive *a, const char *url,
                                const struct ais_options *opts);

/*
 * Writing an archive straight into the store: archive_write_new(), any
 * format and filter, then
 *
 *     ais_archive_write_open(a, url, opts);
 *
 * or, with a stream of your own (ais_create()):
 *
 *     archive_write_open2(a, s, NULL, ais_archive_write_cb,
 *                         ais_archive_write_close_cb,
 *                         ais_archive_write_free_cb);
 *
 * libarchive owns the stream afterwards.  archive_write_close() (or
 * archive_write_free(), which closes) commits the object.  Check the
 * commit with archive_errno(a) after archive_write_close(), not with its
 * return alone: libarchive (3.6.2, and its master as of 2026) ignores
 * what the close callback returns, so a close whose commit failed still
 * returns ARCHIVE_OK.  archive_write_close() clears the archive's error on
 * entry, so archive_errno(a) != 0 after it means the object is not in the
 * store, and archive_error_string(a) says why:
 *
 *     if (archive_write_close(a) != ARCHIVE_OK || archive_errno(a) != 0)
 *         errx(1, "upload: %s", archive_error_string(a));  When libarchive failed before its close
 * callback (opening a filter, a fatal error of its own or of the upload),
 * the upload is aborted instead and no object appears; so is it when
 * archive_write_free() follows a fatal error without a close.  The write
 * callback copies libarchive's blocks into the stream's part buffers:
 * ais_stats.bytes_copied counts them (every byte of the archive).
 * Memory, threads and resends are those of ais_create() (aisfile.h).
 */

/* archive_write_callback: ais_write(); failures through archive_set_error()
 * and ARCHIVE_FATAL. */
AIS_EXPORT la_ssize_t ais_archive_write_cb(struct archive *a, void *stream,
                                           const void *buf, size_t len);

/* archive_close_callback: commits the object (the stream stays until the
 * free callback), or discards it when libarchive reports an error. */
AIS_EXPORT int ais_archive_write_close_cb(struct archive *a, void *stream);

/* archive_free_callback: discards an upload not committed (ais_abort())
 * and frees the stream. */
AIS_EXPORT int ais_archive_write_free_cb(struct archive *a, void *stream);

/* ais_create(url, opts) attached to a with the three callbacks above.
 * Returns what archive_write_open2() returns, or ARCHIVE_FATAL with errno
 * and archive_error_string(a) when the stream could not be made. */
AIS_EXPORT int ais_archive_write_open(struct archive *a, const char *url,
                                      const struct ais_options *opts);

/* The same on client c. */
AIS_EXPORT int ais_client_archive_write_open(struct archive *a, ais_client *c,
                                             const char *url,
                                             const struct ais_options *opts);

#ifdef __cplusplus
}
#endif

#endif /* AISFILE_ARCHIVE_H */
