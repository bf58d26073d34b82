/*
 * test_seek.c - ais_seek/ais_tell move the read position exactly; a jump
 * inside fetched data costs no request, a long one is a Range request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static void test_seek_to_random_offsets_matches_source(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);
	size_t want_len;
	unsigned char *want = harness_object(OBJ_RANDOM, &want_len);
	unsigned char buf[5000];
	unsigned int seed = 12345;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 200; i++) {
		int64_t off = rand_r(&seed) % (int64_t)want_len;
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf)) + 1;
		size_t expect = off + n > want_len ? want_len - (size_t)off : n;

		CU_ASSERT_EQUAL(ais_seek(s, off, SEEK_SET), off);
		CU_ASSERT_EQUAL(ais_read(s, buf, n), (ssize_t)expect);
		CU_ASSERT_EQUAL(memcmp(buf, want + off, expect), 0);
		CU_ASSERT_EQUAL(ais_tell(s), off + (int64_t)expect);
	}
	free(want);
	ais_close(s);
}

static void test_seek_whence_cur_and_end(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);
	size_t want_len;
	unsigned char *want = harness_object(OBJ_RANDOM, &want_len);
	unsigned char buf[100];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_seek(s, -100, SEEK_END), (int64_t)want_len - 100);
	CU_ASSERT_EQUAL(ais_read(s, buf, 100), 100);
	CU_ASSERT_EQUAL(memcmp(buf, want + want_len - 100, 100), 0);
	CU_ASSERT_EQUAL(ais_read(s, buf, 100), 0);
	CU_ASSERT_EQUAL(ais_seek(s, -1000, SEEK_CUR), (int64_t)want_len - 1000);
	CU_ASSERT_EQUAL(ais_read(s, buf, 10), 10);
	CU_ASSERT_EQUAL(memcmp(buf, want + want_len - 1000, 10), 0);
	/* Past the end is allowed and reads as EOF, like lseek. */
	CU_ASSERT_EQUAL(ais_seek(s, 10, SEEK_END), (int64_t)want_len + 10);
	CU_ASSERT_EQUAL(ais_read(s, buf, 10), 0);
	free(want);
	ais_close(s);
}

static void test_bad_seeks_are_einval(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	errno = 0;
	CU_ASSERT_EQUAL(ais_seek(s, -1, SEEK_SET), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(ais_seek(s, 0, 42), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "whence 42"));
	errno = 0;
	CU_ASSERT_EQUAL(ais_seek(s, INT64_MAX, SEEK_END), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(ais_tell(s), 0);
	ais_close(s);
}

static void test_small_skip_inside_chunk_costs_no_request(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;

	/* One connection: no worker may start a part ahead meanwhile. */
	o.connections = 1;
	s = ais_open(url_of("/random.bin"), &o);
	struct ais_stats st;
	const void *p;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	n = ais_next(s, &p);
	CU_ASSERT_FATAL(n > 20000);
	/* Back into the bytes just handed out, and forward again. */
	CU_ASSERT_EQUAL(ais_seek(s, 1000, SEEK_SET), 1000);
	CU_ASSERT(ais_next(s, &p) > 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	/* A short hop forward reads through on the same connection. */
	CU_ASSERT(ais_seek(s, 100000, SEEK_CUR) > 0);
	CU_ASSERT(ais_next(s, &p) > 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	ais_close(s);
}

static void test_far_seek_is_one_range_request(void)
{
	ais_stream *s = ais_open(url_of("/big.bin"), NULL);
	size_t want_len;
	unsigned char *want = harness_object(OBJ_BIG, &want_len);
	struct ais_stats st;
	const void *p;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_seek(s, 200 << 20, SEEK_SET), 200 << 20);
	n = ais_next(s, &p);
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(memcmp(p, want + (200 << 20), (size_t)n), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 2);
	CU_ASSERT_EQUAL(st.seeks, 1);
	/* Far less than the 200 MiB jumped over came down the wire. */
	CU_ASSERT(st.bytes_received < 16 << 20);
	free(want);
	ais_close(s);
}

int register_seek_suite(void)
{
	static const struct test_case tests[] = {
		{ "seek to random offsets matches the source",
		  test_seek_to_random_offsets_matches_source },
		{ "SEEK_CUR and SEEK_END", test_seek_whence_cur_and_end },
		{ "bad seeks are EINVAL", test_bad_seeks_are_einval },
		{ "small skip inside fetched data costs no request",
		  test_small_skip_inside_chunk_costs_no_request },
		{ "far seek is one Range request", test_far_seek_is_one_range_request },
		{ NULL, NULL },
	};

	return add_suite("seek", tests);
}
