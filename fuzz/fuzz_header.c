/*
 * fuzz_header.c - aisi_http_parse_header() on the header lines of a reply.
 *
 * Input: header lines separated by '\n' (each handed over with its '\n', as
 * libcurl does), starting from a reply full of garbage and a status line.
 *
 * Invariants: a status line starts the reply over (every field absent);
 * Content-Length and its conflict are -1 or a size, a conflict differs from
 * the length, and when every Content-Length of the reply is a plain list of
 * digits the length is its first value and the conflict the first one that
 * differs; Content-Range start and end are both absent or both sizes, with
 * end + 1 representable; the validators are NUL-terminated in their buffers
 * and hold what the last line of their name held, blanks trimmed.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the fuzzer expects, computed its own way. */
struct model {
	bool lengths_plain;     /* every Content-Length so far was digits */
	int64_t length, conflict;
	char validators[4][HTTP_VALIDATOR_MAX];
};

static const char *const validator_names[4] = {
	"ETag", "Last-Modified", "Ais-Version", "Ais-Checksum-Value"
};

static void model_reset(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->lengths_plain = true;
	m->length = m->conflict = -1;
}

/* A header value as the parser should keep it: blanks trimmed, at most
 * HTTP_VALIDATOR_MAX - 1 bytes, up to an embedded NUL. */
static void trimmed(const char *v, size_t len, char *out)
{
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && strchr(" \t\r\n", v[len - 1]) && v[len - 1])
		len--;
	if (len > HTTP_VALIDATOR_MAX - 1)
		len = HTTP_VALIDATOR_MAX - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

/* "1, 1 ,1": digits separated by commas and blanks, each fitting int64. */
static void model_length(struct model *m, const char *v)
{
	const char *p = v;

	for (;;) {
		int64_t n = 0;

		if (!isdigit((unsigned char)*p)) {
			m->lengths_plain = false;
			return;
		}
		for (; isdigit((unsigned char)*p); p++) {
			if (n > (INT64_MAX - (*p - '0')) / 10) {
				m->lengths_plain = false;
				return;
			}
			n = n * 10 + (*p - '0');
		}
		if (m->length < 0)
			m->length = n;
		else if (n != m->length && m->conflict < 0)
			m->conflict = n;
		p += strspn(p, " \t");
		if (!*p)
			return;
		if (*p++ != ',') {
			m->lengths_plain = false;
			return;
		}
		p += strspn(p, " \t");
	}
}

static void model_line(struct model *m, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	char value[HTTP_VALIDATOR_MAX];
	size_t name_len;

	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		model_reset(m);
		return;
	}
	if (!colon)
		return;
	name_len = (size_t)(colon - line);
	trimmed(colon + 1, len - name_len - 1, value);
	if (name_len == 14 && !strncasecmp(line, "Content-Length", 14)) {
		if (memchr(colon + 1, '\0', len - name_len - 1) ||
		    strlen(value) == HTTP_VALIDATOR_MAX - 1)
			m->lengths_plain = false; /* cut short: not modelled */
		else
			model_length(m, value);
	}
	for (int i = 0; i < 4; i++)
		if (name_len == strlen(validator_names[i]) &&
		    !strncasecmp(line, validator_names[i], name_len))
			strcpy(m->validators[i], value);
}

static bool is_size_or_absent(int64_t v)
{
	return v == -1 || v >= 0;
}

static void check_validator(const char *field, const char *want)
{
	size_t n = strnlen(field, HTTP_VALIDATOR_MAX);

	assert(n < HTTP_VALIDATOR_MAX);
	assert(!strcmp(field, want));
}

static void check_reply(const struct http_reply *r, const struct model *m)
{
	const char *fields[4] = { r->etag, r->last_modified, r->ais_version,
	                          r->ais_checksum };

	assert(r->status == 0);
	assert(is_size_or_absent(r->content_length));
	assert(is_size_or_absent(r->content_length_conflict));
	if (r->content_length_conflict >= 0)
		assert(r->content_length >= 0 &&
		       r->content_length_conflict != r->content_length);
	if (m->lengths_plain) {
		assert(r->content_length == m->length);
		assert(r->content_length_conflict == m->conflict);
	}
	assert(is_size_or_absent(r->range_start));
	assert(is_size_or_absent(r->range_end));
	assert(is_size_or_absent(r->range_total));
	assert((r->range_start < 0) == (r->range_end < 0));
	assert(r->range_end < INT64_MAX);
	for (int i = 0; i < 4; i++)
		check_validator(fields[i], m->validators[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char status[] = "HTTP/1.1 206 Partial Content\r\n";
	const char *p = (const char *)data, *end = p + size;
	struct http_reply r;
	struct model m;

	memset(&r, 0xa5, sizeof(r));
	aisi_http_parse_header(&r, status, strlen(status));
	model_reset(&m);
	check_reply(&r, &m);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		/* An exact-size copy, so reading past the line is caught. */
		char *line = malloc(len ? len : 1);

		assert(line);
		memcpy(line, p, len);
		aisi_http_parse_header(&r, line, len);
		model_line(&m, line, len);
		free(line);
		p += len;
	}
	check_reply(&r, &m);
	return 0;
}
