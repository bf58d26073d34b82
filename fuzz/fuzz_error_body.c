/*
 * fuzz_error_body.c - aisi_http_error_text() on the body of an error reply.
 *
 * Input: the body, kept as http.c keeps it (at most 4095 bytes, then a NUL;
 * an embedded NUL ends it early).
 *
 * Invariants: the text is NUL-terminated within its buffer, for the buffer
 * of a result and for small ones (each exactly its size, so a write past it
 * is caught); it is one line (no CR or LF); a body that is neither JSON nor
 * HTML gives its first line, blanks before it skipped, cut to fit.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BODY_MAX 4096 /* http.c's ERROR_BODY_MAX */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *body, size_t cap)
{
	char *out = malloc(cap);
	const char *first = body;
	size_t n;

	assert(out);
	memset(out, 'x', cap);
	aisi_http_error_text(body, out, cap);
	assert(memchr(out, '\0', cap));
	n = strlen(out);
	assert(!memchr(out, '\r', n) && !memchr(out, '\n', n));
	while (*first == ' ' || *first == '\n')
		first++;
	if (*first != '{' && *first != '<') {
		size_t line = strcspn(first, "\r\n");

		assert(n == (line < cap ? line : cap - 1));
		assert(!memcmp(out, first, n));
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t keep = size < BODY_MAX - 1 ? size : BODY_MAX - 1;
	char *body = malloc(keep + 1);

	assert(body);
	memcpy(body, data, keep);
	body[keep] = '\0';
	check_text(body, 512); /* sizeof(struct http_result.detail) */
	check_text(body, 1);
	check_text(body, 1 + size % 16);
	free(body);
	return 0;
}
