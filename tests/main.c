/*
 * main.c - runs every suite of test_aisfile against a real nginx started on
 * a free loopback port, and stops it at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "suites.h"

int add_suite(const char *name, const struct test_case *tests)
{
	return add_suite_with_init(name, NULL, tests);
}

static int add_tests(CU_pSuite suite, const struct test_case *tests)
{
	if (!suite)
		return -1;
	for (; tests->name; tests++)
		if (!CU_add_test(suite, tests->name, tests->fn))
			return -1;
	return 0;
}

int add_suite_with_init(const char *name, int (*init)(void),
                        const struct test_case *tests)
{
	return add_tests(CU_add_suite(name, init, NULL), tests);
}

int add_suite_with_setup(const char *name, void (*setup)(void),
                         void (*teardown)(void),
                         const struct test_case *tests)
{
	return add_tests(CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
	                                                      setup, teardown),
	                 tests);
}

/* The user's AIStore CLI configuration (~/.config/ais/cli) must not reach
 * the suites: HOME is an empty directory of the run's own. */
static int isolate_home(void)
{
	char home[1024];

	snprintf(home, sizeof(home), "%s/home", harness_dir());
	if (mkdir(home, 0700) < 0 || setenv("HOME", home, 1) < 0) {
		perror(home);
		return -1;
	}
	return 0;
}

char *url_slot(void)
{
	static char slots[8][URL_SLOT_SIZE];
	static unsigned next;

	return slots[next++ % 8];
}

const char *url_of(const char *path)
{
	char *out = url_slot();

	harness_url(out, URL_SLOT_SIZE, path);
	return out;
}

const char *proxied(const struct proxy *p, const char *path)
{
	char *out = url_slot();

	proxy_url(p, out, URL_SLOT_SIZE, path);
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
	/* One connection: a proxy's per-connection schedule applies in order. */
	o.connections = 1;
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

int object_matches(const char *name, uint64_t offset, const void *got,
                   size_t len)
{
	char path[1024];
	unsigned char *want = malloc(len ? len : 1);
	int fd, same = 0;

	snprintf(path, sizeof(path), "%s/%s", harness_objdir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (want && fd >= 0 &&
	    pread(fd, want, len, (off_t)offset) == (ssize_t)len)
		same = memcmp(want, got, len) == 0;
	if (fd >= 0)
		close(fd);
	free(want);
	return same;
}

int stream_matches_object(ais_stream *s, const char *name, int64_t stop)
{
	uint64_t at = (uint64_t)ais_tell(s);
	const void *p;
	ssize_t n = 1;

	while ((stop < 0 || (int64_t)at < stop) && (n = ais_next(s, &p)) > 0) {
		if (!object_matches(name, at, p, (size_t)n))
			return 0;
		at += (uint64_t)n;
	}
	if (n < 0)
		fprintf(stderr, "\n  read failed at %llu: %s\n",
		        (unsigned long long)at, ais_errmsg(s));
	return n >= 0 && (stop >= 0 || (int64_t)at == ais_size(s));
}

int read_exact(const char *url, const struct ais_options *o,
               const char *name, struct ais_stats *st)
{
	ais_stream *s = ais_open(url, o);
	int exact;

	if (!s) {
		fprintf(stderr, "\n  open %s: %s\n", url, ais_last_error());
		return 0;
	}
	exact = stream_matches_object(s, name, -1);
	if (st)
		ais_stats(s, st);
	ais_close(s);
	return exact;
}

void expect_open_fails(const char *url, int err, const char *words)
{
	ais_stream *s;

	errno = 0;
	s = ais_open(url, NULL);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), words));
	if (!strstr(ais_last_error(), words))
		fprintf(stderr, "\n  expected '%s' in: %s\n", words,
		        ais_last_error());
	ais_close(s);
}

/* AIS_TEST_SUITE=NAME runs one suite only (a development aid; make check
 * runs them all). */
static int run_tests(void)
{
	const char *only = getenv("AIS_TEST_SUITE");
	CU_pSuite suite;

	if (!only || !*only)
		return CU_basic_run_tests() == CUE_SUCCESS ? 0 : -1;
	suite = CU_get_suite(only);
	if (!suite) {
		fprintf(stderr, "AIS_TEST_SUITE: no suite named '%s'\n", only);
		return -1;
	}
	return CU_basic_run_suite(suite) == CUE_SUCCESS ? 0 : -1;
}

int main(void)
{
	unsigned failures;
	int run;

	if (harness_start() < 0)
		return 1;
	if (isolate_home() < 0) {
		harness_stop();
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (register_url_suite() || register_read_suite() ||
	    register_fault_suite() || register_seek_suite() ||
	    register_stdio_suite() || register_archive_suite() ||
	    register_cluster_suite() || register_tls_suite() ||
	    register_tools_suite() || register_readahead_suite() ||
	    register_client_suite() || register_redirect_suite() ||
	    register_hostile_suite() || register_verify_suite() ||
	    register_config_suite() || register_objserver_suite() ||
	    register_write_suite()) {
		fprintf(stderr, "cannot register suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		harness_stop();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	run = run_tests();
	failures = (run < 0) + CU_get_number_of_tests_failed() +
	           CU_get_number_of_failures() +
	           CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	harness_stop();
	return failures ? 1 : 0;
}
