/*
 * fuzz_token.c - aisi_config_parse_token() on the text of an AuthN token file.
 *
 * Input: the file's text, kept as read_token_file() keeps it (at most 8191
 * bytes, then a NUL; an embedded NUL ends it early).
 *
 * Invariants: NULL comes with errno EINVAL or ENOMEM and a NUL-terminated
 * message; a token is non-empty, holds no quote or backslash, and is the
 * text in the first quotes after the first "token" and a colon.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FILE_MAX 8191 /* read_token_file()'s buffer, less its NUL */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t keep = size < FILE_MAX ? size : FILE_MAX;
	char *text = malloc(keep + 1), err[128], *token;
	const char *key, *at;

	assert(text);
	memcpy(text, data, keep);
	text[keep] = '\0';
	memset(err, 'x', sizeof(err));
	errno = 0;
	token = aisi_config_parse_token(text, "fuzz.json", err, sizeof(err));
	if (!token) {
		assert(errno == EINVAL || errno == ENOMEM);
		assert(memchr(err, '\0', sizeof(err)) && err[0]);
		free(text);
		return 0;
	}
	assert(token[0] && !strpbrk(token, "\"\\"));
	key = strstr(text, "\"token\"");
	assert(key);
	/* The token is what the first quotes after the key's colon hold. */
	at = strchr(key + 7, ':');
	assert(at && (at = strchr(at, '"')));
	at++;
	assert(!strncmp(at, token, strlen(token)) && at[strlen(token)] == '"');
	free(token);
	free(text);
	return 0;
}
