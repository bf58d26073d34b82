/*
 * test_readahead.c - read-ahead on worker threads and parallel ranged
 * fetching: several connections when they pay, one when asked, in-flight
 * work reused on a short skip and dropped on a far one, ESTALE across
 * parallel parts, and a close that does not wait for the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"

static struct ais_options parallel_options(int connections)
{
	struct ais_options o = fast_options();

	o.connections = connections;
	o.part_size = 1 << 20;
	o.readahead_bytes = 16 << 20;
	return o;
}

static void test_parallel_fetch_uses_several_connections(void)
{
	struct ais_options o = parallel_options(4);
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	assert_object_equal(OBJ_RANDOM, got, len);
	ais_stats(s, &st);
	/* 8 parts of 1 MiB: the first request, then parts on 4 connections. */
	CU_ASSERT(st.requests > 4);
	CU_ASSERT_EQUAL(st.bytes_copied, 0);
	CU_ASSERT(proxy_connections(&p) >= 4);
	CU_ASSERT(proxy_connections(&p) <= 5);
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

static void test_one_connection_when_asked(void)
{
	struct ais_options o = parallel_options(1);
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	assert_object_equal(OBJ_RANDOM, got, len);
	ais_stats(s, &st);
	/* One open-ended request streams every part. */
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(proxy_connections(&p), 1);
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

static void test_short_skip_into_readahead_is_not_refetched(void)
{
	struct ais_options o = parallel_options(4);
	size_t want_len;
	unsigned char *want = harness_object(OBJ_BIG, &want_len);
	unsigned char buf[4096];
	struct ais_stats before, after;
	ais_stream *s = ais_open(url_of("/big.bin"), &o);
	const void *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Read 16 MiB so the window is wide, then hop 3 MiB ahead: those
	 * bytes are already fetched or in flight. */
	while (ais_tell(s) < (16 << 20) && ais_next(s, &p) > 0)
		;
	ais_stats(s, &before);
	CU_ASSERT(ais_seek(s, 3 << 20, SEEK_CUR) > 0);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(memcmp(buf, want + ais_tell(s) - (int64_t)sizeof(buf),
	                       sizeof(buf)), 0);
	ais_stats(s, &after);
	/* Workers may start parts further ahead meanwhile (and drop what was
	 * still in flight behind the hop), but no request was sent for the
	 * hop itself. */
	CU_ASSERT_EQUAL(after.seeks, 0);
	free(want);
	ais_close(s);
}

static void test_far_seek_drops_readahead(void)
{
	struct ais_options o = parallel_options(4);
	size_t want_len;
	unsigned char *want = harness_object(OBJ_BIG, &want_len);
	unsigned char buf[4096];
	struct ais_stats st;
	ais_stream *s = ais_open(url_of("/big.bin"), &o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(ais_seek(s, 200 << 20, SEEK_SET), 200 << 20);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(memcmp(buf, want + (200 << 20), sizeof(buf)), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.seeks, 1);
	/* Not the 200 MiB jumped over, nor a full read-ahead at either end. */
	CU_ASSERT(st.bytes_received < 8 << 20);
	free(want);
	ais_close(s);
}

static void test_estale_across_parallel_parts(void)
{
	struct ais_options o = parallel_options(4);
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	/* Two 1 MiB slots: most of the 16 MiB is fetched after the swap. */
	o.readahead_bytes = 2 << 20;
	s = ais_open(url_of("/mutable.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(harness_replace(OBJ_MUTABLE, 91), 0);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, ESTALE);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "object changed during read"));
	CU_ASSERT(len < 16u << 20);
	harness_restore(OBJ_MUTABLE);
	assert_object_prefix(OBJ_MUTABLE, got, len);
	free(got);
	ais_close(s);
}

static void test_close_does_not_wait_for_the_network(void)
{
	struct ais_options o = parallel_options(4);
	struct timespec t0, t1;
	struct proxy p;
	ais_stream *s;
	const void *q;

	/* Every connection after the first stalls: workers sit waiting. */
	o.read_timeout_ms = 30000;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass,stall:0*"), 0);
	s = ais_open(proxied(&p, "/big.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(ais_next(s, &q) > 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ais_close(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CU_ASSERT((t1.tv_sec - t0.tv_sec) * 1000 +
	          (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	proxy_stop(&p);
}

static void test_readahead_off_by_option(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	o.readahead_bytes = -1;
	s = ais_open(url_of("/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	assert_object_equal(OBJ_RANDOM, got, len);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	free(got);
	ais_close(s);
}

int register_readahead_suite(void)
{
	static const struct test_case tests[] = {
		{ "parallel fetch uses several connections",
		  test_parallel_fetch_uses_several_connections },
		{ "one connection when asked", test_one_connection_when_asked },
		{ "short skip into read-ahead is not fetched again",
		  test_short_skip_into_readahead_is_not_refetched },
		{ "far seek drops the read-ahead", test_far_seek_drops_readahead },
		{ "ESTALE across parallel parts", test_estale_across_parallel_parts },
		{ "close does not wait for the network",
		  test_close_does_not_wait_for_the_network },
		{ "read-ahead off by option", test_readahead_off_by_option },
		{ NULL, NULL },
	};

	return add_suite("read-ahead and parallel parts", tests);
}
