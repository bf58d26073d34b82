/*
 * test_cluster.c - an AIStore-shaped cluster of real nginx processes: a
 * gateway that answers every GET with a 301 to one of three targets.  The
 * stream must survive a target dying, and a whole outage within its budget,
 * always resuming through the gateway; past the budget it must fail in time
 * with a message that says where and why.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"

static const char *gateway(const char *path)
{
	static char url[8][512];
	static unsigned next;
	char *out = url[next++ % 8];

	cluster_url(out, 512, path);
	return out;
}

static int start_cluster(void)
{
	return cluster_start() == 0 ? 0 : -1;
}

/* Options for cluster tests: quick backoff, room for several retries. */
static struct ais_options cluster_options(void)
{
	struct ais_options o = fast_options();

	o.max_retries = 30;
	o.backoff_initial_ms = 20;
	o.backoff_max_ms = 200;
	o.connections = 4;
	return o;
}

/* Read n bytes (or to the end when n is 0) with ais_next, appending. */
static int read_some(ais_stream *s, unsigned char *dst, size_t cap,
                     size_t *used, size_t n)
{
	const void *p;
	ssize_t got;
	size_t goal = n ? *used + n : cap;

	while (*used < goal && (got = ais_next(s, &p)) != 0) {
		if (got < 0 || *used + (size_t)got > cap)
			return -1;
		memcpy(dst + *used, p, (size_t)got);
		*used += (size_t)got;
	}
	return 0;
}

static void test_read_through_gateway_redirect(void)
{
	ais_stream *s = ais_open(gateway("/v1/objects/testbck/random.bin?provider=ais"),
	                         NULL);
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	assert_object_equal(OBJ_RANDOM, got, len);
	free(got);
	ais_close(s);
}

static void test_target_killed_mid_read_resumes_through_gateway(void)
{
	struct ais_options o = cluster_options();
	size_t cap = 256u << 20, used = 0;
	unsigned char *got = malloc(cap);
	int before = cluster_gateway_requests();
	struct ais_stats st;
	ais_stream *s;

	/* A GET from byte 0 always goes to target 0. */
	s = ais_open(gateway("/big.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(read_some(s, got, cap, &used, 20 << 20), 0);
	CU_ASSERT_EQUAL_FATAL(cluster_kill_target(0), 0);
	CU_ASSERT_EQUAL(read_some(s, got, cap, &used, 0), 0);
	assert_object_equal(OBJ_BIG, got, used);
	ais_stats(s, &st);
	CU_ASSERT(st.resumes >= 1);
	/* Requests go straight to the target the gateway chose, until one
	 * fails there: each visit to the gateway is one redirect followed. */
	for (int i = 0; i < 300 && cluster_gateway_requests() - before <
	                          (int)st.redirects; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	CU_ASSERT_EQUAL(cluster_gateway_requests() - before, (int)st.redirects);
	CU_ASSERT(st.redirects >= 2);
	CU_ASSERT(st.redirects < st.requests);
	fprintf(stderr, "\n  target 0 killed at 20 MiB of 256 MiB: requests=%llu "
	        "resumes=%llu failures=%llu\n", (unsigned long long)st.requests,
	        (unsigned long long)st.resumes, (unsigned long long)st.failures);
	free(got);
	ais_close(s);
	CU_ASSERT_EQUAL(cluster_start_target(0), 0);
}

struct restarter {
	int gateway_hits_to_wait_for;
	atomic_int restarted;
};

/* Bring the targets back once the stream has retried through the gateway a
 * few times: the outage is measured in the stream's attempts, not in time. */
static void *restart_targets_later(void *arg)
{
	struct restarter *r = arg;
	struct timespec tick = { 0, 20 * 1000000L };

	for (int i = 0; i < 1500; i++) {
		if (cluster_gateway_requests() >= r->gateway_hits_to_wait_for)
			break;
		nanosleep(&tick, NULL);
	}
	atomic_store(&r->restarted, cluster_start_all_targets() == 0);
	return NULL;
}

static void test_all_targets_down_then_back_within_budget(void)
{
	struct ais_options o = cluster_options();
	size_t cap = 256u << 20, used = 0;
	unsigned char *got = malloc(cap);
	struct restarter r;
	struct ais_stats st;
	pthread_t t;
	ais_stream *s;

	/* The caller's thread fetches, 64 KiB at a time, from an object far
	 * larger than what read-ahead or socket buffers could hold when the
	 * targets die: the rest must come through the outage. */
	o.chunk_size = 64 * 1024;
	o.readahead_bytes = -1;
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	s = ais_open(gateway("/big.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(read_some(s, got, cap, &used, 1 << 20), 0);
	CU_ASSERT_EQUAL_FATAL(cluster_kill_all_targets(), 0);
	r.gateway_hits_to_wait_for = cluster_gateway_requests() + 4;
	atomic_init(&r.restarted, 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, restart_targets_later, &r), 0);
	CU_ASSERT_EQUAL(read_some(s, got, cap, &used, 0), 0);
	pthread_join(t, NULL);
	CU_ASSERT(atomic_load(&r.restarted));
	assert_object_equal(OBJ_BIG, got, used);
	ais_stats(s, &st);
	CU_ASSERT(st.failures >= 3);
	free(got);
	ais_close(s);
}

static void test_all_targets_down_past_budget_fails_in_time(void)
{
	struct ais_options o = cluster_options();
	struct timespec t0, t1;
	ais_stream *s;
	unsigned char *got;
	size_t len;
	int err;
	double elapsed;

	o.max_retries = 1000;
	o.retry_time_ms = 1500;
	o.chunk_size = 64 * 1024;
	s = ais_open(gateway("/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(cluster_kill_all_targets(), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = drain_next(s, &len, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CU_ASSERT_EQUAL(err, EIO);
	/* The budget is 1.5 s of failed attempts; an attempt may overrun it by
	 * at most one connect or stall timeout. */
	CU_ASSERT(elapsed < 1.5 + 2.0 + 1.0);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), gateway("/random.bin")));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "gave up at byte"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "onnect"));
	assert_object_prefix(OBJ_RANDOM, got, len);
	fprintf(stderr, "\n  all targets down: failed after %.2f s: %s\n", elapsed,
	        ais_errmsg(s));
	free(got);
	ais_close(s);
	CU_ASSERT_EQUAL(cluster_start_all_targets(), 0);
}

static void test_aistore_json_error_message_reaches_caller(void)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(gateway("/v1/objects/testbck/json-missing"), NULL));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(),
	                              "object \"ais://testbck/json-missing\" does not exist"));
	CU_ASSERT_PTR_NULL(strstr(ais_last_error(), "\"status\""));
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(gateway("/v1/objects/testbck/json-forbidden"),
	                            NULL));
	CU_ASSERT_EQUAL(errno, EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(),
	                              "access denied: token required"));
}

/* nginx writes a log line just after the response, so a client can be done
 * a moment before the line exists: poll for it, within a bound. */
static int log_has(int target, const char *want)
{
	struct timespec tick = { 0, 10 * 1000000L };

	for (int i = 0; i < 300; i++) {
		char *log = target < 0 ? cluster_gateway_log() : cluster_target_log(target);
		int seen = log && strstr(log, want) != NULL;

		free(log);
		if (seen)
			return 1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

/* Read the object through the gateway with o and say whether target 0 saw
 * "Bearer token" for it. */
static int target0_saw_token(const struct ais_options *set, const char *token)
{
	char want[256];
	struct ais_options o = set ? *set : (struct ais_options)AIS_OPTIONS_INIT;
	ais_stream *s;

	/* One connection: the first request asks for "bytes=0-". */
	o.connections = 1;
	s = ais_open(gateway("/text.txt"), &o);
	unsigned char *got;
	size_t len;
	int err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	got = drain_next(s, &len, &err);
	assert_object_equal(OBJ_TEXT, got, len);
	free(got);
	ais_close(s);
	snprintf(want, sizeof(want), "GET /text.txt HTTP/1.1|bytes=0-|Bearer %s|",
	         token);
	return log_has(0, want);
}

static void test_token_follows_gateway_redirect_to_target(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.token = "opt-token-1";
	CU_ASSERT(target0_saw_token(&o, "opt-token-1"));
}

static void test_token_from_env_and_file_with_precedence(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token.json", harness_dir());
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"token\": \"file-token-2\", \"expires\": 0}\n", f);
	fclose(f);
	setenv("AIS_AUTHN_TOKEN_FILE", path, 1);
	CU_ASSERT(target0_saw_token(NULL, "file-token-2"));
	setenv("AIS_AUTHN_TOKEN", "env-token-3", 1);
	CU_ASSERT(target0_saw_token(NULL, "env-token-3"));
	o.token = "opt-token-4";
	CU_ASSERT(target0_saw_token(&o, "opt-token-4"));
	unsetenv("AIS_AUTHN_TOKEN");
	unsetenv("AIS_AUTHN_TOKEN_FILE");
}

static void test_no_token_sends_no_authorization(void)
{
	static const char line[] = "GET /text.txt?no-token HTTP/1.1|bytes=0-|-|";
	struct ais_options o = AIS_OPTIONS_INIT;
	ais_stream *s;

	o.connections = 1;
	s = ais_open(gateway("/text.txt?no-token"), &o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	ais_close(s);
	/* Log lines are "$request|$http_range|$http_authorization|$status":
	 * "-" where the request had no Authorization.  The first request of a
	 * stream asks for "bytes=0-" to learn whether Range works. */
	CU_ASSERT(log_has(0, line));
	CU_ASSERT(log_has(-1, line));
}

int register_cluster_suite(void)
{
	static const struct test_case tests[] = {
		{ "read through the gateway's redirect",
		  test_read_through_gateway_redirect },
		{ "target killed mid-read resumes through the gateway",
		  test_target_killed_mid_read_resumes_through_gateway },
		{ "all targets down, back within the budget",
		  test_all_targets_down_then_back_within_budget },
		{ "all targets down past the budget fails in time",
		  test_all_targets_down_past_budget_fails_in_time },
		{ "AIStore JSON error message reaches the caller",
		  test_aistore_json_error_message_reaches_caller },
		{ "token follows the gateway's redirect to the target",
		  test_token_follows_gateway_redirect_to_target },
		{ "token from env and file, with precedence",
		  test_token_from_env_and_file_with_precedence },
		{ "no token sends no Authorization",
		  test_no_token_sends_no_authorization },
		{ NULL, NULL },
	};

	return add_suite_with_init("AIStore cluster", start_cluster, tests);
}
