/*
 * fuzz_cli_config.c - aisi_cli_config_parse() on the text of the AIStore
 * CLI's cli.json.
 *
 * Input: the file's bytes (any bytes, NUL included, with their length).
 *
 * Invariants: -1 comes with errno EINVAL or ENOMEM, a one-line message that
 * names the file, and nothing left in the result; 0 gives strings that are
 * NULL or non-empty, and the cli.json json-c writes from the result, parsed
 * again, gives the same result.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_string(json_object *o, const char *key, const char *value)
{
	if (value) {
		assert(value[0]);
		json_object_object_add(o, key, json_object_new_string(value));
	}
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_config cfg, again;
	json_object *root, *cluster;
	const char *text;
	char err[256];

	memset(err, 'x', sizeof(err));
	errno = 0;
	if (aisi_cli_config_parse(&cfg, (const char *)data, size, "cli.json",
	                          err, sizeof(err)) < 0) {
		assert(errno == EINVAL || errno == ENOMEM);
		assert(memchr(err, '\0', sizeof(err)) && err[0]);
		assert(!strpbrk(err, "\r\n"));
		assert(errno == ENOMEM || strstr(err, "cli.json"));
		assert(!cfg.endpoint && !cfg.ca_file && !cfg.cert_file &&
		       !cfg.key_file && !cfg.skip_verify);
		return 0;
	}
	root = json_object_new_object();
	cluster = json_object_new_object();
	assert(root && cluster);
	if (cfg.endpoint)
		add_string(cluster, strchr(cfg.endpoint_field, '.') + 1,
		           cfg.endpoint);
	add_string(cluster, "client_ca_tls", cfg.ca_file);
	add_string(cluster, "client_crt", cfg.cert_file);
	add_string(cluster, "client_crt_key", cfg.key_file);
	if (cfg.has_skip_verify)
		json_object_object_add(cluster, "skip_verify_crt",
		                       json_object_new_boolean(cfg.skip_verify));
	json_object_object_add(root, "cluster", cluster);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	assert(aisi_cli_config_parse(&again, text, strlen(text), "again.json",
	                             err, sizeof(err)) == 0);
	assert(same(again.endpoint, cfg.endpoint) &&
	       same(again.ca_file, cfg.ca_file) &&
	       same(again.cert_file, cfg.cert_file) &&
	       same(again.key_file, cfg.key_file) &&
	       again.skip_verify == cfg.skip_verify &&
	       again.has_skip_verify == cfg.has_skip_verify);
	json_object_put(root);
	aisi_cli_config_release(&again);
	aisi_cli_config_release(&cfg);
	return 0;
}
