/*
 * writing.c - the byte pattern and the archives the write tests check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive_entry.h>

#include "aisfile_archive.h"
#include "objharness.h"
#include "writing.h"

/* One 64-bit word of the pattern per 8 bytes (splitmix64 of its index). */
static uint64_t pattern_word(uint64_t index, unsigned seed)
{
	uint64_t x = index * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull;

	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void fill_pattern(void *buf, size_t len, uint64_t offset, unsigned seed)
{
	unsigned char *out = buf;
	size_t i = 0;

	/* Byte by byte to a word boundary and at the end; whole words
	 * between (a 2 GiB write is mostly this). */
	while (i < len) {
		uint64_t at = offset + i, word = pattern_word(at >> 3, seed);

		if ((at & 7) == 0 && len - i >= 8) {
			for (int k = 0; k < 8; k++)
				out[i + (size_t)k] = (unsigned char)(word >> (k * 8));
			i += 8;
			continue;
		}
		out[i++] = (unsigned char)(word >> ((at & 7) * 8));
	}
}

int pattern_matches(const void *buf, size_t len, uint64_t offset,
                    unsigned seed)
{
	unsigned char want[65536];

	for (size_t done = 0; done < len; ) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);

		fill_pattern(want, n, offset + done, seed);
		if (memcmp((const unsigned char *)buf + done, want, n))
			return 0;
		done += n;
	}
	return 1;
}

int write_pattern(ais_stream *s, uint64_t size, uint64_t offset,
                  unsigned seed, size_t chunk)
{
	size_t cap = chunk * 2 + 1;
	unsigned char *buf = malloc(cap);
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return -1;
	for (unsigned i = 0; done < size; i++) {
		/* chunk, then a third of it, then nearly twice: pieces that
		 * straddle part boundaries. */
		size_t n = i % 3 == 0 ? chunk : i % 3 == 1 ? chunk / 3 + 1 :
		           chunk * 2 - 7 + (chunk < 4 ? 8 : 0);

		if (n > size - done)
			n = (size_t)(size - done);
		fill_pattern(buf, n, offset + done, seed);
		if (ais_write(s, buf, n) != (ssize_t)n) {
			rc = -1;
			break;
		}
		done += n;
	}
	free(buf);
	return rc;
}

int stream_matches_pattern(ais_stream *s, uint64_t size, unsigned seed)
{
	uint64_t at = 0;
	const void *p;
	ssize_t n;

	while ((n = ais_next(s, &p)) > 0) {
		if (at + (uint64_t)n > size || !pattern_matches(p, (size_t)n, at, seed))
			return 0;
		at += (uint64_t)n;
	}
	if (n < 0)
		fprintf(stderr, "\n  read failed at %llu: %s\n",
		        (unsigned long long)at, ais_errmsg(s));
	return n == 0 && at == size;
}

size_t text_length(int lines)
{
	char line[64];
	size_t len = 0;

	for (int i = 0; i < lines; i++)
		len += (size_t)snprintf(line, sizeof(line), "line %d of the text\n", i);
	return len;
}

static size_t member_size(int i, size_t size)
{
	return size + (size_t)i * 37;
}

int write_members(struct archive *a, int n, size_t size)
{
	unsigned char *buf = malloc(member_size(n, size) + 1);
	int rc = 0;

	for (int i = 0; buf && i < n && rc == 0; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = member_size(i, size);
		char name[64];

		snprintf(name, sizeof(name), "dir/member-%02d.bin", i);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		fill_pattern(buf, len, 0, (unsigned)i);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, buf, len) != (la_ssize_t)len) {
			fprintf(stderr, "\n  writing %s: %s\n", name,
			        archive_error_string(a));
			rc = -1;
		}
		archive_entry_free(e);
	}
	free(buf);
	return buf ? rc : -1;
}

/* The data of the current member, up to cap bytes: its length, or -1. */
static la_ssize_t read_member(struct archive *a, unsigned char *buf,
                              size_t cap)
{
	size_t len = 0;
	la_ssize_t n = 0;

	while (len < cap && (n = archive_read_data(a, buf + len, cap - len)) > 0)
		len += (size_t)n;
	return len < cap && n < 0 ? -1 : (la_ssize_t)len;
}

int archive_has_members(const char *url, int n, size_t size)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	unsigned char *buf = malloc(member_size(n, size) + 1);
	int seen = 0, ok = buf != NULL, rc = ARCHIVE_FATAL;

	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	if (ais_archive_open(a, url, NULL) != ARCHIVE_OK) {
		fprintf(stderr, "\n  open %s: %s\n", url, archive_error_string(a));
		ok = 0;
	}
	while (ok && (rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		size_t len = member_size(seen, size);
		char name[64];

		snprintf(name, sizeof(name), "dir/member-%02d.bin", seen);
		ok = seen < n && !strcmp(archive_entry_pathname(e), name) &&
		     archive_entry_size(e) == (la_int64_t)len &&
		     read_member(a, buf, len + 1) == (la_ssize_t)len &&
		     pattern_matches(buf, len, 0, (unsigned)seen);
		seen++;
	}
	archive_read_free(a);
	free(buf);
	return ok && rc == ARCHIVE_EOF && seen == n;
}

int stored_matches_pattern(const char *bucket, const char *name,
                           uint64_t size, unsigned seed)
{
	size_t len = 0;
	unsigned char *got = objsrv_read_object(bucket, name, &len);
	int same = got && len == size && pattern_matches(got, len, 0, seed);

	if (!same)
		fprintf(stderr, "\n  %s/%s: %s\n", bucket, name,
		        !got ? strerror(errno) : len != size ? "wrong size" :
		        "wrong bytes");
	free(got);
	return same;
}

int not_stored(const char *bucket, const char *name)
{
	size_t len;
	unsigned char *got;

	errno = 0;
	got = objsrv_read_object(bucket, name, &len);
	free(got);
	return got == NULL && errno == ENOENT;
}
