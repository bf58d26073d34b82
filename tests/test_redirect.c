/*
 * test_redirect.c - redirects the library follows itself.  Credentials (the
 * token, a user's Authorization and Cookie headers) go to the URL's host and
 * the host it redirects to, and no further; a stream remembers where the
 * gateway sent it and asks there directly, and goes back through the gateway
 * when that target dies.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"

#define LOG_WAIT_POLLS 300 /* of 10 ms */

static int chain_state = -1;

static int start_servers(void)
{
	if (cluster_start() < 0)
		return -1;
	chain_state = chain_start();
	return chain_state < 0 ? -1 : 0;
}

/* True, after saying so, when the chain could not start for want of a
 * second loopback address. */
static bool chain_missing(void)
{
	if (chain_state == 0)
		return false;
	fprintf(stderr, "\n  skipped: this host cannot listen on 127.0.0.2\n");
	return true;
}

static const char *chain(enum chain_server which, const char *path)
{
	char *out = url_slot();

	chain_url(out, URL_SLOT_SIZE, which, path);
	return out;
}

static const char *gateway(const char *path)
{
	char *out = url_slot();

	cluster_url(out, URL_SLOT_SIZE, path);
	return out;
}

/* Log readers of one shape, for wait_for_log(). */
typedef char *(*log_reader)(int which);

static char *chain_log_of(int which)
{
	return chain_log((enum chain_server)which);
}

static char *cluster_gateway_log_of(int unused)
{
	(void)unused;
	return cluster_gateway_log();
}

static void pause_10ms(void)
{
	nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
}

/* The log once it has a line containing marker, polled within a bound
 * (nginx writes a line just after its response); whatever it holds by then
 * otherwise.  Caller frees. */
static char *wait_for_log(log_reader read, int which, const char *marker)
{
	char *text = read(which);

	for (int i = 0; i < LOG_WAIT_POLLS && (!text || !strstr(text, marker)); i++) {
		free(text);
		pause_10ms();
		text = read(which);
	}
	return text ? text : strdup("");
}

/* Lines of text that contain marker and, unless want is NULL, want too. */
static int lines_with(const char *text, const char *marker, const char *want)
{
	int count = 0;

	while (text && *text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		char *line = strndup(text, len);

		if (line && strstr(line, marker) && (!want || strstr(line, want)))
			count++;
		free(line);
		text += len + (end ? 1 : 0);
	}
	return count;
}

/* 1 MiB parts on 4 connections: the 8 MiB object takes several requests,
 * which a stream sends straight to the target it remembers. */
static struct ais_options part_options(void)
{
	struct ais_options o = fast_options();

	o.connections = 4;
	o.part_size = 1 << 20;
	return o;
}

/* Every line of server which's log that has marker (at least one, awaited)
 * also has want. */
static void assert_every_line(enum chain_server which, const char *marker,
                              const char *want)
{
	char *log = wait_for_log(chain_log_of, which, marker);
	int lines = lines_with(log, marker, NULL);

	CU_ASSERT(lines >= 1);
	CU_ASSERT_EQUAL(lines_with(log, marker, want), lines);
	if (lines < 1 || lines_with(log, marker, want) != lines)
		fprintf(stderr, "\n  %s log, lines with %s, each expected to hold %s:\n%s",
		        which == CHAIN_GATEWAY ? "gateway" :
		        which == CHAIN_HOP1 ? "hop 1" : "hop 2", marker, want, log);
	free(log);
}

static void test_token_follows_one_redirect_hop(void)
{
	struct ais_options o = part_options();

	if (chain_missing())
		return;
	o.token = "chain-token-a";
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain/random.bin?case=a"), &o,
	                     OBJ_RANDOM, NULL));
	assert_every_line(CHAIN_GATEWAY, "/chain/random.bin?case=a ",
	                  "|Bearer chain-token-a|");
	assert_every_line(CHAIN_HOP1, "/obj/random.bin?case=a ",
	                  "|Bearer chain-token-a|");
}

static void test_token_stops_after_one_hop(void)
{
	struct ais_options o = part_options();

	if (chain_missing())
		return;
	o.token = "chain-token-b";
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain2/random.bin?case=b"), &o,
	                     OBJ_RANDOM, NULL));
	assert_every_line(CHAIN_GATEWAY, "/chain2/random.bin?case=b ",
	                  "|Bearer chain-token-b|");
	assert_every_line(CHAIN_HOP1, "/chain2/random.bin?case=b ",
	                  "|Bearer chain-token-b|");
	/* Hop 2 needs no credential, so the read succeeds without one. */
	assert_every_line(CHAIN_HOP2, "/random.bin?case=b ", " HTTP/1.1|-|");
}

static const char *const user_credentials[] = {
	"Authorization: Basic xyz", "Cookie: a=b", NULL,
};

static void test_user_credentials_follow_one_redirect_hop(void)
{
	struct ais_options o = part_options();

	if (chain_missing())
		return;
	o.headers = user_credentials;
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain/random.bin?case=c1"), &o,
	                     OBJ_RANDOM, NULL));
	assert_every_line(CHAIN_GATEWAY, "/chain/random.bin?case=c1 ",
	                  "|Basic xyz|a=b|");
	assert_every_line(CHAIN_HOP1, "/obj/random.bin?case=c1 ",
	                  "|Basic xyz|a=b|");
}

static void test_user_credentials_stop_after_one_hop(void)
{
	struct ais_options o = part_options();

	if (chain_missing())
		return;
	o.headers = user_credentials;
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain2/random.bin?case=c2"), &o,
	                     OBJ_RANDOM, NULL));
	assert_every_line(CHAIN_HOP1, "/chain2/random.bin?case=c2 ",
	                  "|Basic xyz|a=b|");
	assert_every_line(CHAIN_HOP2, "/random.bin?case=c2 ", " HTTP/1.1|-|-|");
}

static void test_redirect_hops_are_counted(void)
{
	struct ais_stats st;

	if (chain_missing())
		return;
	/* A small object: one request, which follows every hop. */
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain/small-00.bin?case=r1"),
	                     NULL, "small-00.bin", &st));
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.redirects, 1);
	CU_ASSERT(read_exact(chain(CHAIN_GATEWAY, "/chain2/small-00.bin?case=r2"),
	                     NULL, "small-00.bin", &st));
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.redirects, 2);
}

static ais_client *client_of(int connections)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.connections = connections;
	return ais_client_new(&o);
}

/* cluster_gateway_requests() once it is at least want, within a bound. */
static int gateway_requests_reaching(int want)
{
	int now = cluster_gateway_requests();

	for (int i = 0; i < LOG_WAIT_POLLS && now < want; i++) {
		pause_10ms();
		now = cluster_gateway_requests();
	}
	return now;
}

static void test_stream_asks_the_remembered_target(void)
{
	struct ais_options o = fast_options();
	ais_client *c = client_of(4);
	int before = cluster_gateway_requests(), grew;
	struct ais_stats st;
	ais_stream *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	o.connections = 4;
	s = ais_client_open(c, gateway("/big.bin?case=e"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(stream_matches_object(s, OBJ_BIG, -1));
	ais_stats(s, &st);
	ais_close(s);
	ais_client_free(c);
	grew = gateway_requests_reaching(before + (int)st.redirects) - before;
	fprintf(stderr, "\n  256 MiB through the gateway: requests=%llu redirects=%llu, "
	        "gateway saw %d\n", (unsigned long long)st.requests,
	        (unsigned long long)st.redirects, grew);
	CU_ASSERT(grew >= 1);
	CU_ASSERT(grew <= 2);
	CU_ASSERT_EQUAL(st.redirects, (uint64_t)grew);
}

/*
 * The target the gateway sent the first request with marker to.  A GET from
 * byte 0 without an end ("bytes=0-", or no Range) goes to target 0, by the
 * gateway's rule, and may still be streaming; a bounded first request is
 * logged by its target once answered.  -1 if no target, or more than one,
 * shows the marker within the bound.
 */
static int target_that_served(const char *marker)
{
	char *log = wait_for_log(cluster_gateway_log_of, 0, marker);
	const char *first = strstr(log, marker);
	const char *range = first ? strchr(first, '|') : NULL;
	bool from_zero = range && (strncmp(range, "|bytes=0-|", 10) == 0 ||
	                           strncmp(range, "|-|", 3) == 0);

	free(log);
	if (from_zero)
		return 0;
	for (int poll = 0; poll < LOG_WAIT_POLLS; poll++) {
		int served = -1, count = 0;

		for (int i = 0; i < CLUSTER_TARGETS; i++) {
			log = cluster_target_log(i);
			if (lines_with(log, marker, NULL) > 0) {
				served = i;
				count++;
			}
			free(log);
		}
		if (count > 0)
			return count == 1 ? served : -1;
		pause_10ms();
	}
	return -1;
}

static void test_dead_remembered_target_heals_through_gateway(void)
{
	struct ais_options o = fast_options();
	ais_client *c = client_of(4);
	int served, at_kill, after;
	ais_stream *s;
	char *log;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	o.connections = 4;
	o.max_retries = 30;
	o.backoff_initial_ms = 20;
	o.backoff_max_ms = 200;
	s = ais_client_open(c, gateway("/big.bin?case=f"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(stream_matches_object(s, OBJ_BIG, 16 << 20));
	/* Every request so far went to the one target the gateway chose. */
	served = target_that_served("/big.bin?case=f ");
	CU_ASSERT_FATAL(served >= 0);
	at_kill = cluster_gateway_requests();
	CU_ASSERT_EQUAL(cluster_kill_target(served), 0);
	CU_ASSERT(stream_matches_object(s, OBJ_BIG, -1));
	after = gateway_requests_reaching(at_kill + 1);
	log = cluster_gateway_log();
	fprintf(stderr, "\n  target %d killed at 16 MiB: gateway requests %d -> %d; "
	        "its lines for this read:\n", served, at_kill, after);
	for (const char *line = log; line && (line = strstr(line, "/big.bin?case=f "));
	     line++)
		fprintf(stderr, "    %.*s\n", (int)strcspn(line, "\n"), line);
	free(log);
	CU_ASSERT(after > at_kill);
	ais_close(s);
	ais_client_free(c);
	CU_ASSERT_EQUAL(cluster_start_target(served), 0);
}

int register_redirect_suite(void)
{
	static const struct test_case tests[] = {
		{ "token follows one redirect hop",
		  test_token_follows_one_redirect_hop },
		{ "token stops after one hop", test_token_stops_after_one_hop },
		{ "user Authorization and Cookie follow one redirect hop",
		  test_user_credentials_follow_one_redirect_hop },
		{ "user Authorization and Cookie stop after one hop",
		  test_user_credentials_stop_after_one_hop },
		{ "redirect hops are counted", test_redirect_hops_are_counted },
		{ "stream asks the remembered target",
		  test_stream_asks_the_remembered_target },
		{ "dead remembered target heals through the gateway",
		  test_dead_remembered_target_heals_through_gateway },
		{ NULL, NULL },
	};

	return add_suite_with_init("redirects and credentials", start_servers, tests);
}
