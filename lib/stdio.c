/*
 * stdio.c - an ais_stream as a real FILE* through glibc's fopencookie, so
 * fread, getline, fseek and friends work on an object with no other change
 * to the caller's code.
 *
 * glibc reads a large fread straight into the caller's buffer and uses its own
 * small stream buffer only for small reads, so the bytes are copied once, from
 * the fetch buffer to the caller (counted in ais_stats.bytes_copied).
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

static int cookie_close(void *cookie)
{
	return ais_close(cookie);
}

static bool read_mode(const char *mode)
{
	return mode && (!strcmp(mode, "r") || !strcmp(mode, "rb"));
}

AIS_EXPORT FILE *ais_fdopen(ais_stream *s, const char *mode)
{
	static const cookie_io_functions_t io = {
		.read = cookie_read,
		.write = NULL,
		.seek = cookie_seek,
		.close = cookie_close,
	};
	FILE *f;

	if (!s) {
		aisi_fail(NULL, EINVAL, "ais_fdopen: stream is NULL");
		return NULL;
	}
	if (!read_mode(mode)) {
		aisi_fail(s, EINVAL, "ais_fdopen: mode '%s' is not \"r\" or \"rb\"",
		         mode ? mode : "(null)");
		return NULL;
	}
	f = fopencookie(s, "r", io);
	if (!f)
		aisi_fail(s, ENOMEM, "ais_fdopen: fopencookie failed: out of memory");
	return f;
}

/* Open on client c, or the default client when c is NULL. */
static FILE *open_file(ais_client *c, const char *url, const char *mode)
{
	ais_stream *s;
	FILE *f;

	if (!read_mode(mode)) {
		aisi_fail(NULL, EINVAL, "ais_fopen: mode '%s' is not \"r\" or \"rb\" "
		         "(objects are read-only)", mode ? mode : "(null)");
		return NULL;
	}
	s = c ? ais_client_open(c, url, NULL) : ais_open(url, NULL);
	if (!s)
		return NULL;
	f = ais_fdopen(s, mode);
	if (!f) {
		int e = errno;

		ais_close(s);
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
