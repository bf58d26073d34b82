/*
 * stdio.c - an ais_stream as a real FILE* through glibc's fopencookie, so
 * fread, getline, fseek and friends work on an object with no other change
 * to the caller's code, and fwrite, fprintf and fclose write one.
 *
 * glibc reads a large fread straight into the caller's buffer and uses its own
 * small stream buffer only for small reads, so the bytes are copied once, from
 * the fetch buffer to the caller (counted in ais_stats.bytes_copied).  A
 * write goes the other way: from the caller's buffer (or stdio's, for small
 * writes) into the stream's part buffer.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
	return ais_read(cookie, buf, size);
}

static int cookie_seek(void *cookie, off64_t *offset, int whence)
{
	int64_t pos = ais_seek(cookie, *offset, whence);

	if (pos < 0)
		return -1;
	*offset = pos;
	return 0;
}

/* fopencookie wants 0, not -1, for a failed write; errno tells why. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
	ssize_t n = ais_write(cookie, buf, size);

	return n < 0 ? 0 : n;
}

/* An object being written has one position, its end: ftell asks for it,
 * and any move elsewhere fails. */
static int cookie_tell(void *cookie, off64_t *offset, int whence)
{
	int64_t at = ais_tell(cookie);

	if ((whence == SEEK_CUR && *offset == 0) ||
	    (whence == SEEK_SET && *offset == at)) {
		*offset = at;
		return 0;
	}
	return aisi_fail(cookie, ESPIPE, "fseek: an object being written "
	                 "cannot be seeked");
}

static int cookie_close(void *cookie)
{
	return ais_close(cookie);
}

enum mode { MODE_BAD, MODE_READ, MODE_WRITE };

static enum mode parse_mode(const char *mode)
{
	if (mode && (!strcmp(mode, "r") || !strcmp(mode, "rb")))
		return MODE_READ;
	if (mode && (!strcmp(mode, "w") || !strcmp(mode, "wb")))
		return MODE_WRITE;
	return MODE_BAD;
}

AIS_EXPORT FILE *ais_fdopen(ais_stream *s, const char *mode)
{
	static const cookie_io_functions_t reader = {
		.read = cookie_read,
		.write = NULL,
		.seek = cookie_seek,
		.close = cookie_close,
	};
	static const cookie_io_functions_t writer = {
		.read = NULL,
		.write = cookie_write,
		.seek = cookie_tell,
		.close = cookie_close,
	};
	bool writable;
	FILE *f;

	if (!s) {
		aisi_fail(NULL, EINVAL, "ais_fdopen: stream is NULL");
		return NULL;
	}
	writable = aisi_stream_writable(s);
	if (parse_mode(mode) != (writable ? MODE_WRITE : MODE_READ)) {
		aisi_fail(s, EINVAL, "ais_fdopen: mode '%s' is not %s for a "
		          "stream opened for %s", mode ? mode : "(null)",
		          writable ? "\"w\" or \"wb\"" : "\"r\" or \"rb\"",
		          writable ? "writing" : "reading");
		return NULL;
	}
	f = fopencookie(s, writable ? "w" : "r", writable ? writer : reader);
	if (!f)
		aisi_fail(s, ENOMEM, "ais_fdopen: fopencookie failed: out of memory");
	return f;
}

/* Open on client c, or the default client when c is NULL. */
static FILE *open_file(ais_client *c, const char *url, const char *mode)
{
	enum mode m = parse_mode(mode);
	ais_stream *s;
	FILE *f;

	if (m == MODE_BAD) {
		aisi_fail(NULL, EINVAL, "ais_fopen: mode '%s' is not \"r\", \"rb\", "
		          "\"w\" or \"wb\" (an object is read, or written whole; "
		          "it cannot be appended to or updated)",
		          mode ? mode : "(null)");
		return NULL;
	}
	if (m == MODE_READ)
		s = c ? ais_client_open(c, url, NULL) : ais_open(url, NULL);
	else
		s = c ? ais_client_create(c, url, NULL) : ais_create(url, NULL);
	if (!s)
		return NULL;
	f = ais_fdopen(s, mode);
	if (!f) {
		int e = errno;

		ais_abort(s);
		errno = e;
	}
	return f;
}

AIS_EXPORT FILE *ais_fopen(const char *url, const char *mode)
{
	return open_file(NULL, url, mode);
}

AIS_EXPORT FILE *ais_client_fopen(ais_client *c, const char *url,
                                  const char *mode)
{
	if (!c) {
		aisi_fail(NULL, EINVAL, "ais_client_fopen: client is NULL");
		return NULL;
	}
	return open_file(c, url, mode);
}
