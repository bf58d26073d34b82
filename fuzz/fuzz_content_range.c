/*
 * fuzz_content_range.c - the Content-Range value of a reply, alone.
 *
 * Input: the value of one "Content-Range:" header.
 *
 * Invariants: start and end are both absent (-1) or both sizes, the total
 * is absent or a size, end + 1 is representable (the fetcher computes
 * end - start + 1 and end + 1); the forms of RFC 9110 with numbers that fit,
 * "bytes A-B/T" (T may be "*": absent) and "bytes * /T" (no blank), give
 * exactly A, B and T (a reversed range too: whether it adds up is the
 * fetcher's to judge);
 * nothing else touches the other fields of the reply.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Digits only, at most INT64_MAX - 1; returns past them or NULL. */
static const char *position(const char *p, int64_t *out)
{
	int64_t n = 0;

	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - 1 - (*p - '0')) / 10)
			return NULL;
		n = n * 10 + (*p - '0');
	}
	*out = n;
	return p;
}

/* The fields the strict grammar gives, or false when v is not in it. */
static bool strict_parse(const char *v, int64_t *a, int64_t *b, int64_t *t)
{
	const char *p;

	*a = *b = *t = -1;
	if (strncmp(v, "bytes ", 6))
		return false;
	v += 6;
	if (!strncmp(v, "*/", 2))
		return (p = position(v + 2, t)) && !*p;
	if (!(p = position(v, a)) || *p++ != '-' || !(p = position(p, b)) ||
	    *p++ != '/')
		return false;
	if (!strcmp(p, "*"))
		return true;
	return (p = position(p, t)) && !*p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "Content-Range: ";
	static const char status[] = "HTTP/1.1 206 Partial Content\r\n";
	size_t len = sizeof(name) - 1 + size + 2;
	char *line = malloc(len), value[HTTP_VALIDATOR_MAX];
	struct http_reply r;
	int64_t a, b, t;

	assert(line);
	memcpy(line, name, sizeof(name) - 1);
	memcpy(line + sizeof(name) - 1, data, size);
	memcpy(line + len - 2, "\r\n", 2);
	aisi_http_parse_header(&r, status, strlen(status));
	aisi_http_parse_header(&r, line, len);
	free(line);

	assert(r.status == 0 && r.content_length == -1 &&
	       r.content_length_conflict == -1 && !r.etag[0] &&
	       !r.last_modified[0] && !r.ais_version[0] && !r.ais_checksum[0]);
	assert(r.range_start == -1 || r.range_start >= 0);
	assert(r.range_end == -1 || r.range_end >= 0);
	assert(r.range_total == -1 || r.range_total >= 0);
	assert((r.range_start < 0) == (r.range_end < 0));
	assert(r.range_end < INT64_MAX);

	/* The value as the parser sees it: NUL-free, trimmed, not cut short. */
	if (size >= HTTP_VALIDATOR_MAX - 1 || memchr(data, '\0', size) ||
	    (size && strchr(" \t\r\n", data[0])) ||
	    (size && strchr(" \t\r\n", data[size - 1])))
		return 0;
	memcpy(value, data, size);
	value[size] = '\0';
	if (strict_parse(value, &a, &b, &t)) {
		assert(r.range_start == a && r.range_end == b);
		assert(r.range_total == t);
	}
	return 0;
}
