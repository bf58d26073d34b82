/*
 * main.c - runs every suite of test_aisfile against a real nginx started on
 * a free loopback port, and stops it at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "suites.h"

int add_suite(const char *name, const struct test_case *tests)
{
	return add_suite_with_init(name, NULL, tests);
}

int add_suite_with_init(const char *name, int (*init)(void),
                        const struct test_case *tests)
{
	CU_pSuite suite = CU_add_suite(name, init, NULL);

	if (!suite)
		return -1;
	for (; tests->name; tests++)
		if (!CU_add_test(suite, tests->name, tests->fn))
			return -1;
	return 0;
}

static char *next_url_slot(void)
{
	static char slots[8][512];
	static unsigned next;

	return slots[next++ % 8];
}

const char *url_of(const char *path)
{
	char *out = next_url_slot();

	harness_url(out, 512, path);
	return out;
}

const char *proxied(const struct proxy *p, const char *path)
{
	char *out = next_url_slot();

	proxy_url(p, out, 512, path);
	return out;
}

struct ais_options fast_options(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.read_timeout_ms = 1000;
	o.connect_timeout_ms = 2000;
	o.backoff_initial_ms = 10;
	o.backoff_max_ms = 100;
	o.max_retries = 5;
	o.retry_time_ms = 20000;
	return o;
}

unsigned char *drain_next(ais_stream *s, size_t *len, int *err)
{
	size_t cap = 1 << 20, used = 0;
	unsigned char *out = malloc(cap);
	const void *p;
	ssize_t n;

	*err = 0;
	while (out && (n = ais_next(s, &p)) != 0) {
		if (n < 0) {
			*err = errno;
			break;
		}
		if (used + (size_t)n > cap) {
			unsigned char *bigger;

			while (used + (size_t)n > cap)
				cap *= 2;
			bigger = realloc(out, cap);
			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		memcpy(out + used, p, (size_t)n);
		used += (size_t)n;
	}
	*len = used;
	return out;
}

static void assert_object(const char *name, const unsigned char *got,
                          size_t len, int whole)
{
	size_t want_len;
	unsigned char *want = harness_object(name, &want_len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	if (whole)
		CU_ASSERT_EQUAL(len, want_len);
	CU_ASSERT_FATAL(len <= want_len);
	CU_ASSERT(got != NULL && memcmp(got, want, len) == 0);
	free(want);
}

void assert_object_prefix(const char *name, const unsigned char *got,
                          size_t len)
{
	assert_object(name, got, len, 0);
}

void assert_object_equal(const char *name, const unsigned char *got,
                         size_t len)
{
	assert_object(name, got, len, 1);
}

int main(void)
{
	unsigned failures;

	if (harness_start() < 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (register_url_suite() || register_read_suite() ||
	    register_fault_suite() || register_seek_suite() ||
	    register_stdio_suite() || register_archive_suite() ||
	    register_cluster_suite() || register_tls_suite() ||
	    register_tools_suite() || register_readahead_suite()) {
		fprintf(stderr, "cannot register suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		harness_stop();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_tests_failed() +
	           CU_get_number_of_failures() +
	           CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	harness_stop();
	return failures ? 1 : 0;
}
