/*
 * fuzz_token.c - aisi_token_parse() on the text of an AuthN token file.
 *
 * Input: the file's bytes, as aisi_token_load() hands them over (any bytes,
 * NUL included, with their length).
 *
 * Invariants: NULL comes with errno EINVAL or ENOMEM and a one-line message
 * that names the file; a token is non-empty and holds no control character
 * (it becomes a header line), and the file json-c writes for it, parsed
 * again, gives the same token.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err, size_t cap)
{
	assert(memchr(err, '\0', cap) && err[0]);
	assert(!strpbrk(err, "\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *token, *again;
	json_object *obj;
	const char *text;

	memset(err, 'x', sizeof(err));
	errno = 0;
	token = aisi_token_parse((const char *)data, size, "fuzz", "fuzz.json",
	                         err, sizeof(err));
	if (!token) {
		assert(errno == EINVAL || errno == ENOMEM);
		check_message(err, sizeof(err));
		assert(errno == ENOMEM || strstr(err, "fuzz.json"));
		return 0;
	}
	assert(token[0]);
	for (const char *p = token; *p; p++)
		assert((unsigned char)*p >= ' ' && *p != 0x7f);
	obj = json_object_new_object();
	assert(obj);
	json_object_object_add(obj, "token", json_object_new_string(token));
	text = json_object_to_json_string(obj);
	again = aisi_token_parse(text, strlen(text), "fuzz", "again.json", err,
	                         sizeof(err));
	assert(again && !strcmp(again, token));
	json_object_put(obj);
	free(again);
	free(token);
	return 0;
}
