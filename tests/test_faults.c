/*
 * test_faults.c - the stream heals every break the proxy injects, asks again
 * from the exact byte reached, gives up cleanly past its budget, and never
 * joins bytes of two versions of an object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

/* Read path through a proxy running schedule and check every byte. */
static struct ais_stats read_through_proxy(const char *schedule,
                                           const char *path, const char *name,
                                           const struct ais_options *o)
{
	struct ais_stats st = { 0 };
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, schedule), 0);
	s = ais_open(proxied(&p, path), o);
	CU_ASSERT_PTR_NOT_NULL(s);
	if (s) {
		got = drain_next(s, &len, &err);
		CU_ASSERT_EQUAL(err, 0);
		if (err)
			fprintf(stderr, "\n  %s: %s\n", schedule, ais_errmsg(s));
		assert_object_equal(name, got, len);
		ais_stats(s, &st);
		free(got);
		ais_close(s);
	}
	proxy_stop(&p);
	return st;
}

static void test_resume_after_cut_mid_body(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("cut:1000000,cut:3000000,pass",
	                                         "/random.bin", OBJ_RANDOM, &o);

	CU_ASSERT_EQUAL(st.resumes, 2);
	CU_ASSERT_EQUAL(st.requests, 3);
	CU_ASSERT_EQUAL(st.bytes_delivered, 8 << 20);
}

static void test_resume_after_reset_mid_chunk(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st;

	o.chunk_size = 1 << 20;
	st = read_through_proxy("reset:1500000,reset:700000,pass", "/random.bin",
	                        OBJ_RANDOM, &o);
	CU_ASSERT_EQUAL(st.resumes, 2);
	CU_ASSERT_EQUAL(st.failures, 2);
}

static void test_resume_after_cut_inside_headers(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("pass,cut:40,pass", "/random.bin",
	                                         OBJ_RANDOM, &o);

	/* The first connection serves everything: no failure at all. */
	CU_ASSERT_EQUAL(st.resumes, 0);
	st = read_through_proxy("cut:2000000,cut:40,pass", "/random.bin",
	                        OBJ_RANDOM, &o);
	CU_ASSERT_EQUAL(st.resumes, 2);
}

static void test_resume_after_stall(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("stall:2500000,pass", "/random.bin",
	                                         OBJ_RANDOM, &o);

	CU_ASSERT_EQUAL(st.resumes, 1);
	CU_ASSERT_EQUAL(st.failures, 1);
}

static void test_resume_after_503(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("cut:1000000,503,503,pass",
	                                         "/random.bin", OBJ_RANDOM, &o);

	CU_ASSERT_EQUAL(st.failures, 3);
	CU_ASSERT_EQUAL(st.resumes, 3);
}

static void test_first_request_retried_after_503_and_close(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("503,close,pass", "/text.txt",
	                                         OBJ_TEXT, &o);

	CU_ASSERT_EQUAL(st.failures, 2);
	CU_ASSERT_EQUAL(st.requests, 3);
}

static void test_resume_asks_for_exact_byte(void)
{
	struct ais_options o = fast_options();
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	char *log;
	size_t len;
	int err;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:1000000,pass"), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	assert_object_equal(OBJ_RANDOM, got, len);
	log = proxy_log(&p);
	/* The proxy cut after 1000000 bytes on the wire, headers included, so
	 * the body broke a little before byte 1000000: the resume must ask for
	 * exactly the first byte not received. */
	CU_ASSERT_PTR_NOT_NULL(log);
	if (log) {
		/* Line 1 is the first request ("bytes=0-"), line 2 the resume. */
		const char *line2 = strchr(log, '\n');
		const char *r = line2 ? strstr(line2, "range=bytes=") : NULL;
		long long from = r ? atoll(r + strlen("range=bytes=")) : -1;

		CU_ASSERT(from > 999000 && from < 1000000);
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "2 pass GET /random.bin range=bytes="));
	}
	free(log);
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

static void test_big_object_cut_every_10_mib(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st;

	o.connections = 4; /* the client's workers fetch parts in parallel */
	st = read_through_proxy("cut:10485760*", "/big.bin",
	                                         OBJ_BIG, &o);

	/* 256 MiB in cuts of 10 MiB on the wire: every connection is cut
	 * after each 10 MiB it carried, so the breaks number 25 less at most
	 * one per connection (its last stretch), each healed by one resume,
	 * and no byte is fetched twice. */
	CU_ASSERT(st.resumes <= 26);
	CU_ASSERT(st.resumes + st.connections >= 25);
	CU_ASSERT_EQUAL(st.failures, st.resumes);
	CU_ASSERT_EQUAL(st.bytes_delivered, 256u << 20);
	CU_ASSERT_EQUAL(st.bytes_received - st.bytes_discarded, 256u << 20);
	fprintf(stderr, "\n  256 MiB, cut every 10 MiB: requests=%llu resumes=%llu "
	        "connections=%llu received=%llu discarded=%llu\n",
	        (unsigned long long)st.requests, (unsigned long long)st.resumes,
	        (unsigned long long)st.connections,
	        (unsigned long long)st.bytes_received,
	        (unsigned long long)st.bytes_discarded);
}

static void test_server_ignoring_range_still_exact(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st = read_through_proxy("cut:3000000,pass",
	                                         "/norange/random.bin", OBJ_RANDOM,
	                                         &o);

	/* The second answer is a 200 from byte 0: what we had is dropped. */
	CU_ASSERT_EQUAL(st.resumes, 1);
	CU_ASSERT(st.bytes_discarded > 2900000 && st.bytes_discarded < 3000000);
	CU_ASSERT_EQUAL(st.bytes_delivered, 8 << 20);
}

/* Read half of path through a proxy that cuts at 4 MB, replace the object,
 * and read on: the read must fail with ESTALE, having delivered only bytes
 * of the first version. */
static void expect_stale_after_replace(const char *path)
{
	struct ais_options o = fast_options();
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	o.chunk_size = 64 * 1024;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:4000000,pass"), 0);
	s = ais_open(proxied(&p, path), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(harness_replace(OBJ_MUTABLE, 77), 0);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, ESTALE);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "object changed during read"));
	CU_ASSERT(len > 0 && len < 4000000);
	harness_restore(OBJ_MUTABLE);
	assert_object_prefix(OBJ_MUTABLE, got, len);
	/* It stays failed: no later call may splice the new version in. */
	{
		const void *q;

		errno = 0;
		CU_ASSERT_EQUAL(ais_next(s, &q), -1);
		CU_ASSERT_EQUAL(errno, ESTALE);
	}
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

static void test_object_replaced_is_estale_by_if_match(void)
{
	expect_stale_after_replace("/mutable.bin");
}

static void test_object_replaced_is_estale_by_last_modified(void)
{
	/* No ETag, so no If-Match: the changed Last-Modified gives it away. */
	expect_stale_after_replace("/noetag/mutable.bin");
}

static void test_budget_exhausted_is_eio_with_offset(void)
{
	struct ais_options o = fast_options();
	struct proxy p;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;

	o.max_retries = 3;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:2000000,503*"), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "gave up at byte"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "4 failed attempts"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "HTTP 503"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "/random.bin"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "gave up at byte"));
	assert_object_prefix(OBJ_RANDOM, got, len);
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

static void test_connection_refused_gives_up_within_budget(void)
{
	struct ais_options o = fast_options();
	char url[128];

	o.max_retries = 2;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/random.bin",
	         harness_free_port());
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url, &o));
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "3 failed attempts"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "onnect"));
}

static void test_always_503_gives_up_with_server_text(void)
{
	struct ais_options o = fast_options();

	o.max_retries = 1;
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(url_of("/always503"), &o));
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "overloaded"));
}

static void test_retry_time_budget_bounds_the_wait(void)
{
	struct ais_options o = fast_options();
	struct proxy p;

	/* Many retries allowed, but only 1.5 s in all: with stalls of 1 s
	 * each, the second attempt ends past the budget and is the last. */
	o.max_retries = 100;
	o.retry_time_ms = 1500;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "stall:0*"), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(proxied(&p, "/random.bin"), &o));
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "no data for 1000 ms"));
	CU_ASSERT_EQUAL(proxy_connections(&p), 2);
	proxy_stop(&p);
}

int register_fault_suite(void)
{
	static const struct test_case tests[] = {
		{ "resume after cut mid-body", test_resume_after_cut_mid_body },
		{ "resume after reset mid-chunk", test_resume_after_reset_mid_chunk },
		{ "resume after cut inside headers",
		  test_resume_after_cut_inside_headers },
		{ "resume after stall", test_resume_after_stall },
		{ "resume after 503", test_resume_after_503 },
		{ "first request retried after 503 and close",
		  test_first_request_retried_after_503_and_close },
		{ "resume asks for the exact byte", test_resume_asks_for_exact_byte },
		{ "256 MiB cut every 10 MiB arrives exact",
		  test_big_object_cut_every_10_mib },
		{ "server ignoring Range is still exact",
		  test_server_ignoring_range_still_exact },
		{ "object replaced is ESTALE (If-Match)",
		  test_object_replaced_is_estale_by_if_match },
		{ "object replaced is ESTALE (Last-Modified)",
		  test_object_replaced_is_estale_by_last_modified },
		{ "budget exhausted is EIO with offset",
		  test_budget_exhausted_is_eio_with_offset },
		{ "connection refused gives up within budget",
		  test_connection_refused_gives_up_within_budget },
		{ "always 503 gives up with the server's text",
		  test_always_503_gives_up_with_server_text },
		{ "retry time budget bounds the wait",
		  test_retry_time_budget_bounds_the_wait },
		{ NULL, NULL },
	};

	return add_suite("faults and resume", tests);
}
