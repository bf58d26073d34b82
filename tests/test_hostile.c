/*
 * test_hostile.c - servers that lie.  A reply whose headers contradict each
 * other or its body is a protocol error (EIO) and none of its lie is
 * delivered; a validator that disappears is a change (ESTALE); a 416 says
 * the object's size only when it says it; and a read that fails after
 * copying bytes reports the failure on the next call.  The lies come from
 * tests/liarserver (see liarserver.h for what each path sends).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liarserver.h"
#include "suites.h"

/* How reading a whole stream went. */
struct reading {
	unsigned char *bytes; /* what was delivered (NULL when the open failed) */
	size_t len;
	int err;              /* errno of the open or read that failed; 0: none */
	char msg[1024];       /* its message */
	int64_t size;         /* ais_size() at the end; -2 when the open failed */
	struct ais_stats stats; /* at the end */
};

static const char *liar(const char *path)
{
	char *out = url_slot();

	liar_url(out, URL_SLOT_SIZE, path);
	return out;
}

static void read_whole(const char *url, const struct ais_options *o,
                       struct reading *r)
{
	ais_stream *s = ais_open(url, o);

	memset(r, 0, sizeof(*r));
	r->size = -2;
	if (!s) {
		r->err = errno;
		snprintf(r->msg, sizeof(r->msg), "%s", ais_last_error());
		return;
	}
	r->bytes = drain_next(s, &r->len, &r->err);
	snprintf(r->msg, sizeof(r->msg), "%s", ais_errmsg(s));
	r->size = ais_size(s);
	ais_stats(s, &r->stats);
	ais_close(s);
}

/* Every byte of got is byte from + i of the version. */
static bool is_version(int version, int64_t from, const unsigned char *got,
                       size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != liar_byte(version, from + (int64_t)i))
			return false;
	return true;
}

static void assert_message_has(const char *msg, const char *want)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
	if (!strstr(msg, want))
		fprintf(stderr, "\n  message lacks '%s': %s\n", want, msg);
}

/* Reading path is a protocol error: EIO with a message naming the URL and
 * the two contradicting facts, and nothing but honest bytes delivered, at
 * most honest_max of them. */
static void assert_lie_refused(const char *path, size_t honest_max,
                               const char *fact, const char *other_fact)
{
	const char *url = liar(path);
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(url, &o, &r);
	CU_ASSERT_EQUAL(r.err, EIO);
	CU_ASSERT(r.len <= honest_max);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	assert_message_has(r.msg, url);
	assert_message_has(r.msg, "protocol error");
	assert_message_has(r.msg, fact);
	assert_message_has(r.msg, other_fact);
	free(r.bytes);
}

static void test_content_length_longer_than_content_range_is_eio(void)
{
	assert_lie_refused(LIAR_LONG_206, LIAR_LONG_LABEL, "Content-Length 1500",
	                   "bytes 0-999/5000");
}

static void test_body_longer_than_content_range_is_eio(void)
{
	assert_lie_refused(LIAR_LONG_206_CLOSE, LIAR_LONG_LABEL, "byte 999",
	                   "Content-Range");
}

static void test_two_content_lengths_are_eio(void)
{
	assert_lie_refused(LIAR_TWO_LENGTHS, 0, "5000", "1000");
}

static void test_content_range_total_smaller_than_body_is_eio(void)
{
	assert_lie_refused(LIAR_SMALL_TOTAL, 0, "Content-Range",
	                   "bytes 0-65535/1000");
}

static void test_validator_that_disappears_is_estale(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(liar(LIAR_ETAG_VANISHES), &o, &r);
	CU_ASSERT_EQUAL(r.err, ESTALE);
	CU_ASSERT(r.len <= LIAR_VANISH_CUT);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	assert_message_has(r.msg, "ETag");
	assert_message_has(r.msg, LIAR_VANISH_ETAG);
	free(r.bytes);
}

/* Not a lie: an AIStore target that checksums range reads sends each
 * range's own checksum.  Parallel parts must not take that for a change. */
static void test_range_checksums_are_not_a_change(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	o.connections = 4;
	o.part_size = 256 << 10;
	read_whole(liar(LIAR_RANGE_CKSUM), &o, &r);
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_RANGE_CKSUM_SIZE);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	free(r.bytes);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Options that give up after two attempts of a trickle. */
static struct ais_options trickle_options(void)
{
	struct ais_options o = fast_options();

	o.max_retries = 1;
	o.retry_time_ms = 20000;
	return o;
}

/* Header lines every 50 ms reset the stall timer forever: the header block
 * must be whole within connect + read timeout, so two attempts end in about
 * 2 x 3 s, not never. */
static void test_trickled_headers_give_up_in_time(void)
{
	struct ais_options o = trickle_options();
	int64_t start = now_ms(), took;
	ais_stream *s;

	errno = 0;
	s = ais_open(liar(LIAR_HEADER_TRICKLE), &o);
	took = now_ms() - start;
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(errno, EIO);
	assert_message_has(ais_last_error(), "no complete reply header");
	CU_ASSERT(took >= 2 * (o.connect_timeout_ms + o.read_timeout_ms));
	CU_ASSERT(took < 12000);
	ais_close(s);
}

/* One byte every 50 ms is never a stall, but far below 1 KiB/s: the
 * transfer is replaced, and past the budget the read fails in time. */
static void test_trickled_body_is_too_slow(void)
{
	struct ais_options o = trickle_options();
	int64_t start = now_ms(), took;
	struct reading r;

	read_whole(liar(LIAR_BODY_TRICKLE), &o, &r);
	took = now_ms() - start;
	CU_ASSERT_EQUAL(r.err, EIO);
	assert_message_has(r.msg, "minimum of 1024 bytes/s");
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	CU_ASSERT(took < 12000);
	free(r.bytes);
}

/* With the check off, the same trickle goes on without a failure. */
static void test_min_speed_off_lets_a_trickle_run(void)
{
	struct ais_options o = trickle_options();
	unsigned char got[40];
	size_t have = 0;
	ais_stream *s;

	o.min_speed = -1;
	s = ais_open(liar(LIAR_BODY_TRICKLE), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* 40 bytes take 2 s, two read-timeout windows. */
	while (have < sizeof(got)) {
		ssize_t n = ais_read(s, got + have, sizeof(got) - have);

		CU_ASSERT_FATAL(n > 0);
		have += (size_t)n;
	}
	CU_ASSERT(is_version(1, 0, got, have));
	ais_close(s);
}

static void test_empty_object_answered_416_is_empty(void)
{
	ais_stream *s = ais_open(liar(LIAR_EMPTY_416), NULL);
	const void *p;
	char c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_size(s), 0);
	CU_ASSERT_EQUAL(ais_read(s, &c, 1), 0);
	CU_ASSERT_EQUAL(ais_next(s, &p), 0);
	ais_close(s);
}

/* A 416 without a size says only that the object ends before the byte
 * asked for: a read there fails, and the size stays unknown until a read
 * from the start finds the end. */
static void test_416_without_size_invents_no_size(void)
{
	struct ais_options o = fast_options();
	ais_stream *s = ais_open(liar(LIAR_UNKNOWN_416), &o);
	unsigned char *got;
	char c;
	size_t len;
	int err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_size(s), -1);
	CU_ASSERT_EQUAL(ais_seek(s, 2 * LIAR_UNKNOWN_SIZE, SEEK_SET),
	                2 * LIAR_UNKNOWN_SIZE);
	CU_ASSERT_EQUAL(ais_read(s, &c, 1), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	assert_message_has(ais_errmsg(s), "416");
	CU_ASSERT_EQUAL(ais_size(s), -1);
	CU_ASSERT_EQUAL(ais_seek(s, 0, SEEK_SET), 0);
	got = drain_next(s, &len, &err);
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_EQUAL(len, LIAR_UNKNOWN_SIZE);
	CU_ASSERT(is_version(1, 0, got, len));
	CU_ASSERT_EQUAL(ais_size(s), LIAR_UNKNOWN_SIZE);
	free(got);
	ais_close(s);
}

/* Kept: a break exactly at the end of an object of unknown size, then a 416
 * without a size for the byte after the last one received, is the end. */
static void test_416_after_break_at_the_end_is_the_end(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	o.resume_unvalidated = 1; /* the object has no validator */
	read_whole(liar(LIAR_UNKNOWN_CUT_AT_END), &o, &r);
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_UNKNOWN_SIZE);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	CU_ASSERT_EQUAL(r.size, LIAR_UNKNOWN_SIZE);
	free(r.bytes);
}

/* Nothing proves that the bytes of a second request belong to the version
 * of the first: a break is EIO, saying why and how to allow a resume. */
static void test_no_validator_is_not_resumed_by_default(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(liar(LIAR_NO_VALIDATOR), &o, &r);
	CU_ASSERT_EQUAL(r.err, EIO);
	CU_ASSERT_EQUAL(r.len, LIAR_NOVAL_CUT);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	assert_message_has(r.msg, "AIS_RESUME_UNVALIDATED");
	free(r.bytes);
}

static void test_no_validator_resumes_when_allowed(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	o.resume_unvalidated = 1;
	read_whole(liar(LIAR_NO_VALIDATOR), &o, &r);
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_NOVAL_SIZE);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	free(r.bytes);
	/* The environment says the same. */
	o.resume_unvalidated = 0;
	setenv("AIS_RESUME_UNVALIDATED", "yes", 1);
	read_whole(liar(LIAR_NO_VALIDATOR), &o, &r);
	unsetenv("AIS_RESUME_UNVALIDATED");
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_NOVAL_SIZE);
	free(r.bytes);
}

/* An HTTP/1.0 reply without a length ends at a close, whether the object
 * does or not: the stream asks once more before it calls it the end. */
static void test_http10_reply_cut_early_is_not_the_end(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(liar(LIAR_H10_CUT), &o, &r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.bytes); /* the open succeeded */
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_H10_SIZE);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	CU_ASSERT_EQUAL(r.size, LIAR_H10_SIZE);
	/* The cut reply, then the rest: a 206 to "bytes=N-" labels the last
	 * byte, so that end needs no third look. */
	CU_ASSERT_EQUAL(r.stats.requests, 2);
	free(r.bytes);
}

static void test_http10_reply_whole_is_confirmed_once(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(liar(LIAR_H10_WHOLE), &o, &r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.bytes); /* the open succeeded */
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, LIAR_H10_SIZE);
	CU_ASSERT(is_version(1, 0, r.bytes, r.len));
	CU_ASSERT_EQUAL(r.stats.requests, 2);
	free(r.bytes);
}

/* As read(2): the bytes copied before a failure come back as a short count,
 * and the failure on the next call; the call after that reads on. */
static void test_read_error_after_bytes_is_reported_on_the_next_call(void)
{
	struct ais_options o = fast_options();
	size_t size, done;
	unsigned char *want = harness_object(OBJ_RANDOM, &size), *buf;
	struct proxy p;
	ais_stream *s;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	free(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf = calloc(1, size));
	/* The cut, then a 503: two failed attempts, one more than allowed. */
	o.max_retries = 1;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:65536,503,pass"), 0);
	s = ais_open(proxied(&p, "/" OBJ_RANDOM), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	n = ais_read(s, buf, size);
	CU_ASSERT(n > 0 && (size_t)n < 65536);
	done = n > 0 ? (size_t)n : 0;
	CU_ASSERT_EQUAL(ais_read(s, buf + done, size - done), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	assert_message_has(ais_errmsg(s), "503");
	while (done < size && (n = ais_read(s, buf + done, size - done)) > 0)
		done += (size_t)n;
	assert_object_equal(OBJ_RANDOM, buf, done);
	ais_close(s);
	proxy_stop(&p);
	free(buf);
}

/* Kept: the library asks for no encoding, so a gzip body is the object. */
static void test_gzip_object_is_delivered_as_stored(void)
{
	struct ais_options o = fast_options();
	struct reading r;

	read_whole(liar(LIAR_GZIP), &o, &r);
	CU_ASSERT_EQUAL(r.err, 0);
	CU_ASSERT_EQUAL(r.len, sizeof(liar_gzip_body));
	CU_ASSERT(r.bytes && r.len == sizeof(liar_gzip_body) &&
	          !memcmp(r.bytes, liar_gzip_body, r.len));
	CU_ASSERT_EQUAL(r.size, (int64_t)sizeof(liar_gzip_body));
	free(r.bytes);
}

int register_hostile_suite(void)
{
	static const struct test_case tests[] = {
		{ "Content-Length longer than Content-Range is EIO",
		  test_content_length_longer_than_content_range_is_eio },
		{ "body longer than Content-Range is EIO",
		  test_body_longer_than_content_range_is_eio },
		{ "two Content-Lengths are EIO", test_two_content_lengths_are_eio },
		{ "Content-Range total smaller than body is EIO",
		  test_content_range_total_smaller_than_body_is_eio },
		{ "validator that disappears is ESTALE",
		  test_validator_that_disappears_is_estale },
		{ "empty object answered 416 is empty",
		  test_empty_object_answered_416_is_empty },
		{ "range checksums of AIStore are not a change",
		  test_range_checksums_are_not_a_change },
		{ "trickled headers give up in time",
		  test_trickled_headers_give_up_in_time },
		{ "trickled body is too slow", test_trickled_body_is_too_slow },
		{ "min_speed -1 lets a trickle run",
		  test_min_speed_off_lets_a_trickle_run },
		{ "416 without size invents no size",
		  test_416_without_size_invents_no_size },
		{ "416 after a break at the end is the end",
		  test_416_after_break_at_the_end_is_the_end },
		{ "HTTP/1.0 reply cut early is not the end",
		  test_http10_reply_cut_early_is_not_the_end },
		{ "HTTP/1.0 reply whole is confirmed once",
		  test_http10_reply_whole_is_confirmed_once },
		{ "no validator is not resumed by default",
		  test_no_validator_is_not_resumed_by_default },
		{ "no validator resumes when allowed",
		  test_no_validator_resumes_when_allowed },
		{ "read error after bytes is reported on the next call",
		  test_read_error_after_bytes_is_reported_on_the_next_call },
		{ "gzip object is delivered as stored",
		  test_gzip_object_is_delivered_as_stored },
		{ NULL, NULL },
	};

	return add_suite_with_init("hostile servers", liar_start, tests);
}
