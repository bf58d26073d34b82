/*
 * test_read.c - whole-object reads with no fault: every path returns the
 * source bytes, the zero-copy pointer keeps its promise, HTTP errors map to
 * errno with the server's own text, and streams work side by side in threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static void test_next_reads_whole_object(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;

	/* One connection reads the object front to back in one request. */
	o.connections = 1;
	s = ais_open(url_of("/random.bin"), &o);
	struct ais_stats st;
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_size(s), 8 << 20);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	assert_object_equal(OBJ_RANDOM, got, len);
	CU_ASSERT_EQUAL(ais_tell(s), 8 << 20);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.resumes, 0);
	CU_ASSERT_EQUAL(st.bytes_received, 8 << 20);
	CU_ASSERT_EQUAL(st.bytes_delivered, 8 << 20);
	CU_ASSERT_EQUAL(st.bytes_copied, 0);
	free(got);
	ais_close(s);
}

static void test_read_copies_whole_object_in_odd_sizes(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);
	size_t cap = 8 << 20, used = 0, step = 1;
	unsigned char *got = malloc(cap);
	struct ais_stats st;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Sizes from 1 byte to 1 MiB cross chunk edges at every alignment. */
	while ((n = ais_read(s, got + used, cap - used < step ? cap - used : step)) > 0) {
		used += (size_t)n;
		step = step * 3 + 1;
		if (step > (1 << 20))
			step = 7;
	}
	CU_ASSERT_EQUAL(n, 0);
	assert_object_equal(OBJ_RANDOM, got, used);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.bytes_copied, 8 << 20);
	CU_ASSERT_EQUAL(ais_read(s, got, 10), 0);
	free(got);
	ais_close(s);
}

static void test_empty_object_reads_as_eof(void)
{
	ais_stream *s = ais_open(url_of("/empty.bin"), NULL);
	const void *p;
	char c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_size(s), 0);
	CU_ASSERT_EQUAL(ais_next(s, &p), 0);
	CU_ASSERT_EQUAL(ais_read(s, &c, 1), 0);
	ais_close(s);
}

static void test_zero_copy_pointer_stable_until_next_call(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;
	const void *p, *q;
	unsigned char *copy, *want;
	size_t want_len;
	ssize_t n, m;

	o.chunk_size = 64 * 1024;
	s = ais_open(url_of("/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	want = harness_object(OBJ_RANDOM, &want_len);
	n = ais_next(s, &p);
	CU_ASSERT_FATAL(n > 0);
	copy = malloc((size_t)n);
	memcpy(copy, p, (size_t)n);
	/* Calls that do not move the stream leave the buffer alone. */
	CU_ASSERT_EQUAL(ais_tell(s), n);
	CU_ASSERT_EQUAL(ais_size(s), (int64_t)want_len);
	CU_ASSERT_EQUAL(memcmp(p, copy, (size_t)n), 0);
	CU_ASSERT_EQUAL(memcmp(p, want, (size_t)n), 0);
	/* The next call may reuse the buffer, but must return the next bytes. */
	m = ais_next(s, &q);
	CU_ASSERT_FATAL(m > 0);
	CU_ASSERT_EQUAL(memcmp(q, want + n, (size_t)m), 0);
	free(copy);
	free(want);
	ais_close(s);
}

static void expect_status(const char *path, int err, const char *words)
{
	ais_stream *s;

	errno = 0;
	s = ais_open(url_of(path), NULL);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), words));
	/* The message names the URL, so a log line is enough to act on. */
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), path));
	ais_close(s);
}

static void test_404_is_enoent_with_url(void)
{
	expect_status("/no-such-object", ENOENT, "404 Not Found");
	/* nginx's own HTML error page is quoted by its <title>, not "<html>". */
	CU_ASSERT_PTR_NULL(strstr(ais_last_error(), "<html>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(),
	                              "HTTP 404 Not Found: 404 Not Found"));
}

static void test_403_is_eacces_with_server_text(void)
{
	expect_status("/forbidden", EACCES, "forbidden by policy: test");
}

static void test_401_is_eacces(void)
{
	expect_status("/unauthorized", EACCES, "token required");
}

static void test_other_4xx_is_eio_with_server_text(void)
{
	expect_status("/teapot", EIO, "HTTP 418");
	expect_status("/teapot", EIO, "no coffee here");
}

struct reader_job {
	const char *url;
	const char *name;
	int ok;
};

static void *read_in_thread(void *arg)
{
	struct reader_job *job = arg;
	ais_stream *s = ais_open(job->url, NULL);
	size_t len, want_len;
	unsigned char *got, *want;
	int err;

	if (!s)
		return NULL;
	got = drain_next(s, &len, &err);
	want = harness_object(job->name, &want_len);
	job->ok = !err && got && want && len == want_len &&
	          !memcmp(got, want, len);
	free(got);
	free(want);
	ais_close(s);
	return NULL;
}

static void test_streams_in_parallel_threads(void)
{
	/* One stream per thread is the documented contract. */
	struct reader_job jobs[6];
	pthread_t threads[6];
	static const char *names[] = { OBJ_RANDOM, OBJ_TEXT, OBJ_SMALLTAR };

	for (int i = 0; i < 6; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/%s", names[i % 3]);
		jobs[i] = (struct reader_job){ strdup(url_of(path)), names[i % 3], 0 };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&threads[i], NULL,
		                                     read_in_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(threads[i], NULL);
		CU_ASSERT(jobs[i].ok);
		free((char *)jobs[i].url);
	}
}

static void *fail_in_thread(void *arg)
{
	(void)arg;
	if (ais_open(url_of("/forbidden"), NULL) == NULL)
		return strdup(ais_last_error());
	return NULL;
}

static void test_last_error_is_per_thread(void)
{
	pthread_t t;
	char *their_error = NULL;

	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/no-such-object"), NULL));
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, fail_in_thread, NULL), 0);
	pthread_join(t, (void **)&their_error);
	CU_ASSERT_PTR_NOT_NULL_FATAL(their_error);
	CU_ASSERT_PTR_NOT_NULL(strstr(their_error, "403"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "404"));
	free(their_error);
}

int register_read_suite(void)
{
	static const struct test_case tests[] = {
		{ "ais_next reads the whole object", test_next_reads_whole_object },
		{ "ais_read copies the whole object in odd sizes",
		  test_read_copies_whole_object_in_odd_sizes },
		{ "empty object reads as EOF", test_empty_object_reads_as_eof },
		{ "zero-copy pointer is stable until the next call",
		  test_zero_copy_pointer_stable_until_next_call },
		{ "404 is ENOENT with the URL", test_404_is_enoent_with_url },
		{ "403 is EACCES with the server's text",
		  test_403_is_eacces_with_server_text },
		{ "401 is EACCES", test_401_is_eacces },
		{ "other 4xx is EIO with the server's text",
		  test_other_4xx_is_eio_with_server_text },
		{ "streams in parallel threads", test_streams_in_parallel_threads },
		{ "last error is per thread", test_last_error_is_per_thread },
		{ NULL, NULL },
	};

	return add_suite("reading without faults", tests);
}
