/*
 * check_failpaths.c - the library's error paths, reached on purpose.  This
 * program is linked with the library's sources built with -DAIS_FAILPOINTS,
 * so that each FAILPOINT("name") in lib/ can be made to fail: an allocation
 * that returns NULL, a thread that cannot be created, a libcurl setting that
 * libcurl refuses.  Each case asserts what the caller sees (errno, the
 * message, or bytes equal to the object when the failure must be absorbed)
 * against the harness's real nginx; under AddressSanitizer and
 * LeakSanitizer (the CI's sanitizer build) a leak or a crash on any of these
 * paths fails it too.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aisfile.h"
#include "harness.h"

/* The armed point fails its skip-th call from now on (0: the next one),
 * every call when always. */
static const char *armed;
static int skip;
static bool always;
static int hits;

bool aisi_failpoint(const char *name);
bool aisi_failpoint(const char *name)
{
	if (!armed || strcmp(name, armed))
		return false;
	hits++;
	if (always)
		return true;
	return skip-- == 0;
}

static void arm(const char *name, int nth, bool every)
{
	armed = name;
	skip = nth;
	always = every;
	hits = 0;
}

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		failures++; \
	} \
} while (0)

static char url[512];

/* Reading the whole object gives its bytes. */
static bool reads_whole(ais_stream *s)
{
	size_t len;
	unsigned char *want = harness_object(OBJ_RANDOM, &len);
	const void *p;
	size_t at = 0;
	ssize_t n;
	bool same = want != NULL;

	while (same && (n = ais_next(s, &p)) > 0) {
		same = at + (size_t)n <= len && !memcmp(want + at, p, (size_t)n);
		at += (size_t)n;
	}
	free(want);
	return same && n == 0 && at == len;
}

/* An allocation that fails makes ais_open fail cleanly with ENOMEM. */
static void open_fails_with_enomem(const char *point)
{
	ais_stream *s;

	arm(point, 0, false);
	errno = 0;
	s = ais_open(url, NULL);
	CHECK(hits > 0, "%s: the failpoint was never reached", point);
	CHECK(!s && errno == ENOMEM, "%s: stream %p errno %d", point,
	      (void *)s, errno);
	CHECK(strstr(ais_last_error(), "out of memory") != NULL,
	      "%s: message '%s'", point, ais_last_error());
	ais_close(s);
	arm(NULL, 0, false);
	/* And the next open, with nothing failing, works. */
	s = ais_open(url, NULL);
	CHECK(s && reads_whole(s), "%s: the next open: %s", point,
	      s ? ais_errmsg(s) : ais_last_error());
	ais_close(s);
}

/* No worker thread can be started: the caller's thread fetches every part,
 * and the bytes are the same. */
static void no_threads_still_reads(void)
{
	ais_client *c;
	ais_stream *s;
	struct ais_options o = AIS_OPTIONS_INIT;

	o.connections = 4;
	o.part_size = 256 << 10; /* many parts, most of them queued ahead */
	o.readahead_bytes = 64 << 20; /* whatever AIS_READAHEAD says */
	arm("thread-create", 0, true);
	c = ais_client_new(&o);
	CHECK(c != NULL, "client: %s", ais_last_error());
	/* Whether a part is queued ahead at all depends on how fast the
	 * caller reads: read again until one was. */
	for (int round = 0; c && round < 20 && hits == 0; round++) {
		s = ais_client_open(c, url, &o);
		CHECK(s != NULL, "open: %s", ais_last_error());
		if (!s)
			break;
		CHECK(reads_whole(s), "read: %s", ais_errmsg(s));
		ais_close(s);
	}
	CHECK(hits > 0, "thread-create was never reached");
	ais_client_free(c);
	arm(NULL, 0, false);
}

/* Each setting libcurl might refuse in turn: the request is not sent, and
 * the caller hears which setting and why. */
static void refused_settings_stop_the_request(void)
{
	int reached;

	for (int nth = 0;; nth++) {
		ais_stream *s;

		arm("setopt", nth, false);
		errno = 0;
		s = ais_open(url, NULL);
		reached = hits > nth;
		arm(NULL, 0, false);
		if (!reached) { /* past the last setting: the open works */
			CHECK(s && reads_whole(s), "setopt past %d settings: %s", nth,
			      s ? ais_errmsg(s) : ais_last_error());
			ais_close(s);
			break;
		}
		CHECK(!s && errno == ENOTSUP, "setting %d: stream %p errno %d", nth,
		      (void *)s, errno);
		CHECK(strstr(ais_last_error(), "refused CURLOPT_") == NULL &&
		      strstr(ais_last_error(), "refused ") != NULL &&
		      strstr(ais_last_error(), "not sent") != NULL,
		      "setting %d: message '%s'", nth, ais_last_error());
		ais_close(s);
		if (nth > 40) {
			CHECK(false, "more than 40 settings?");
			break;
		}
	}
	arm(NULL, 0, false);
}

int main(void)
{
	if (harness_start() < 0)
		return 1;
	harness_url(url, sizeof(url), "/" OBJ_RANDOM);
	/* First, while the default client has no connection in its pool. */
	open_fails_with_enomem("conn-new");
	open_fails_with_enomem("stream-new");
	open_fails_with_enomem("readahead-new");
	open_fails_with_enomem("readahead-slots");
	no_threads_still_reads();
	refused_settings_stop_the_request();
	harness_stop();
	if (failures)
		fprintf(stderr, "check_failpaths: %d failures\n", failures);
	else
		printf("check_failpaths: every failure path reported as it should\n");
	return failures ? 1 : 0;
}
