/*
 * test_write_mpt.c - writing into AIStore: multipart uploads through the
 * object server's gateway (tests/objserver, objharness.h), which redirects
 * every PUT, POST and DELETE with a 307 to a target.  Part of the
 * "writing" suite (test_write.c registers these too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>

#include "aisfile_archive.h"
#include "objharness.h"
#include "suites.h"
#include "writing.h"

#define PART (256 * 1024)
#define MIN_PART (64 * 1024) /* the smallest part_size used */
#define BUCKET "wbck"

/* The gateway URL of object NAME in the test bucket. */
static const char *mpt_url(const char *name)
{
	char *out = url_slot();
	char path[256];

	snprintf(path, sizeof(path), BUCKET "/%s", name);
	objsrv_url(out, URL_SLOT_SIZE, path);
	return out;
}

/* What earlier tests left in the store (an upload nobody could abort
 * while the server was down): a test must add nothing to it. */
static int leftovers_before;

/* The object server, running, with its counters at zero and no fault. */
static void ready(void)
{
	CU_ASSERT_EQUAL_FATAL(objsrv_start(), 0);
	CU_ASSERT_EQUAL_FATAL(objsrv_restart(), 0);
	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	leftovers_before = objsrv_leftovers();
	CU_ASSERT_FATAL(leftovers_before >= 0);
}

static int new_leftovers(void)
{
	return objsrv_leftovers() - leftovers_before;
}

static struct ais_options mpt_options(void)
{
	struct ais_options o = fast_options();

	o.part_size = PART;
	o.connections = 4;
	return o;
}

static void test_multipart_through_the_gateway(void)
{
	struct ais_options o = mpt_options();
	uint64_t size = 20 * PART + 777;
	struct ais_stats st;
	ais_stream *s, *r;

	ready();
	s = ais_create(mpt_url("big.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, size, 0, 11, 100003), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	/* mpt-upload, 21 parts, mpt-complete: each redirected once. */
	CU_ASSERT_EQUAL(st.requests, 23);
	CU_ASSERT_EQUAL(st.redirects, 23);
	CU_ASSERT_EQUAL(st.parts_uploaded, 21);
	CU_ASSERT_EQUAL(st.bytes_uploaded, size);
	CU_ASSERT_EQUAL(st.bytes_copied, size);
	CU_ASSERT_EQUAL(st.failures, 0);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("part"), 21);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("put"), 0);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, "big.bin", size, 11));
	/* The library reads back what it wrote, through the gateway. */
	r = ais_open(mpt_url("big.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(stream_matches_pattern(r, size, 11));
	ais_close(r);
}

static void test_small_object_is_one_put_through_an_ais_uri(void)
{
	struct ais_options o = mpt_options();
	char endpoint[64];
	struct ais_stats st;
	ais_stream *s;

	ready();
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d",
	         objsrv_port(OBJSRV_GATEWAY));
	o.endpoint = endpoint;
	s = ais_create("ais://" BUCKET "/small.bin", &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, PART, 0, 12, 4000), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.redirects, 1);
	CU_ASSERT_EQUAL(st.parts_uploaded, 0);
	CU_ASSERT_EQUAL(st.bytes_uploaded, PART);
	ais_close(s);
	CU_ASSERT_EQUAL(objsrv_stat("put"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, "small.bin", PART, 12));
}

/* The TCP connections an upload of `parts` parts of 64 KiB on up to
 * `connections` connections takes, when a proxy in front of a target lets
 * each connection carry 500 kB/s: a part keeps its connection for 130 ms,
 * so a part handed off meanwhile goes out at once only on a connection of
 * its own.  The bytes come from one buffer filled beforehand, so that the
 * caller hands the parts off faster than they go. */
static int parallel_connections(int connections, int parts)
{
	struct ais_options o = mpt_options();
	size_t size = (size_t)parts * MIN_PART;
	unsigned char *bytes = malloc(size);
	char url[256], path[128];
	struct proxy p;
	ais_client *c;
	ais_stream *s;
	int conns;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	fill_pattern(bytes, size, 0, 13);
	o.connections = connections;
	o.part_size = MIN_PART;
	CU_ASSERT_EQUAL_FATAL(proxy_start_to(&p, objsrv_port(0), "upslow:500000*"), 0);
	snprintf(path, sizeof(path), "/v1/objects/" BUCKET "/parallel-%d.bin"
	         "?provider=ais", connections);
	proxy_url(&p, url, sizeof(url), path);
	c = ais_client_new(&o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	s = ais_client_create(c, url, &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (size_t at = 0; at < size; at += 16384)
		CU_ASSERT_EQUAL(ais_write(s, bytes + at, 16384), 16384);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	ais_client_free(c);
	conns = proxy_connections(&p);
	proxy_stop(&p);
	snprintf(path, sizeof(path), "parallel-%d.bin", connections);
	CU_ASSERT(stored_matches_pattern(BUCKET, path, size, 13));
	free(bytes);
	return conns;
}

static void test_parts_go_out_in_parallel(void)
{
	ready();
	CU_ASSERT_EQUAL(parallel_connections(4, 8), 4);
	CU_ASSERT_EQUAL(objsrv_stat("part"), 8);
	CU_ASSERT_EQUAL(parallel_connections(1, 8), 1);
}

/* Upload size bytes as name with one fault armed on the nth part request;
 * the part is resent from its buffer, once, and the object is whole. */
static void upload_through_part_fault(const char *name, uint64_t size,
                                      int nth, const char *action)
{
	struct ais_options o = mpt_options();
	uint64_t parts = (size + PART - 1) / PART;
	char fired[32];
	struct ais_stats st;
	ais_stream *s;

	ready();
	CU_ASSERT_EQUAL_FATAL(objsrv_fault("part", nth, action, -1), 0);
	s = ais_create(mpt_url(name), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, size, 0, 14, 50000), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.failures, 1);
	CU_ASSERT_EQUAL(st.resumes, 1);
	CU_ASSERT_EQUAL(st.parts_uploaded, parts);
	CU_ASSERT_EQUAL(st.bytes_uploaded, size);
	ais_close(s);
	snprintf(fired, sizeof(fired), "fault-%s", action);
	CU_ASSERT_EQUAL(objsrv_stat(fired), 1);
	CU_ASSERT_EQUAL(objsrv_stat("part"), (long long)parts + 1);
	CU_ASSERT_EQUAL(objsrv_stat("part-retry"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, name, size, 14));
}

static void test_503_on_a_part_is_resent(void)
{
	upload_through_part_fault("p503.bin", 8 * PART, 3, "503");
}

static void test_cut_mid_part_is_resent(void)
{
	upload_through_part_fault("pcut.bin", 8 * PART + 5, 2, "cut");
}

static void test_stalled_part_is_resent(void)
{
	struct ais_options o = mpt_options();
	uint64_t size = 6 * PART;
	char url[256];
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;

	ready();
	/* One connection: the second one takes the rest, after the first
	 * stalls in the middle of part 2. */
	o.connections = 1;
	CU_ASSERT_EQUAL_FATAL(proxy_start_to(&p, objsrv_port(0),
	                                     "upstall:400000,pass"), 0);
	proxy_url(&p, url, sizeof(url),
	          "/v1/objects/" BUCKET "/pstall.bin?provider=ais");
	s = ais_create(url, &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, size, 0, 16, 65536), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.failures, 1);
	CU_ASSERT_EQUAL(st.resumes, 1);
	ais_close(s);
	CU_ASSERT_EQUAL(proxy_connections(&p), 2);
	proxy_stop(&p);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, "pstall.bin", size, 16));
}

static void test_abort_leaves_no_parts_and_no_object(void)
{
	struct ais_options o = mpt_options();
	ais_stream *s;

	ready();
	s = ais_create(mpt_url("aborted.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 10 * PART, 0, 17, 65536), 0);
	ais_abort(s);
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("abort"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 0);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(not_stored(BUCKET, "aborted.bin"));
}

static void test_failed_upload_is_aborted_and_sticky(void)
{
	struct ais_options o = mpt_options();
	char first[1024] = "";
	uint64_t written = 0;
	int first_errno = 0;
	ais_stream *s;

	ready();
	o.max_retries = -1; /* the first failure is final */
	CU_ASSERT_EQUAL_FATAL(objsrv_fault("part", 2, "503", 0), 0);
	s = ais_create(mpt_url("failed.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	while (written < 400 * (uint64_t)PART && !first_errno) {
		if (write_pattern(s, PART, written, 18, PART) < 0)
			first_errno = errno;
		written += PART;
	}
	CU_ASSERT_EQUAL(first_errno, EIO);
	snprintf(first, sizeof(first), "%s", ais_errmsg(s));
	CU_ASSERT_PTR_NOT_NULL(strstr(first, "gave up on PUT part "));
	CU_ASSERT_PTR_NOT_NULL(strstr(first, "HTTP 503"));
	CU_ASSERT_EQUAL(ais_write(s, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_STRING_EQUAL(ais_errmsg(s), first);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), first));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(),
	                              "the multipart upload was aborted"));
	CU_ASSERT_EQUAL(objsrv_stat("abort"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 0);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(not_stored(BUCKET, "failed.bin"));
}

static void test_server_killed_mid_upload_fails_and_stores_nothing(void)
{
	struct ais_options o = mpt_options();
	int rc = 0;
	ais_stream *s;

	ready();
	o.max_retries = 2;
	s = ais_create(mpt_url("killed.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 6 * PART, 0, 19, 65536), 0);
	CU_ASSERT_EQUAL(objsrv_kill(), 0);
	/* The parts still to send find nobody: the budget runs out. */
	for (uint64_t at = 6 * PART; at < 400 * (uint64_t)PART && rc == 0;
	     at += PART)
		rc = write_pattern(s, PART, at, 19, PART);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "gave up on"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "aborting the multipart "
	                                                "upload failed too"));
	CU_ASSERT_EQUAL(objsrv_restart(), 0);
	CU_ASSERT(not_stored(BUCKET, "killed.bin"));
	/* Nobody was there to abort the upload: its parts stay. */
	CU_ASSERT(new_leftovers() > 0);
}

static void test_fopen_w_on_an_ais_uri(void)
{
	char endpoint[64];
	FILE *f;

	ready();
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d",
	         objsrv_port(OBJSRV_GATEWAY));
	setenv("AIS_ENDPOINT", endpoint, 1);
	f = ais_fopen("ais://" BUCKET "/stdio.txt", "w");
	unsetenv("AIS_ENDPOINT");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int i = 0; i < 1000; i++)
		fprintf(f, "line %d of the text\n", i);
	CU_ASSERT_EQUAL(fclose(f), 0);
	CU_ASSERT_EQUAL(objsrv_stat("put"), 1);
	{
		size_t len = 0, want = text_length(1000);
		unsigned char *got = objsrv_read_object(BUCKET, "stdio.txt", &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_EQUAL(len, want);
		CU_ASSERT(len > 0 && !memcmp(got, "line 0 of the text\n", 19));
		free(got);
	}
}

/* Write an archive of 30 members through libarchive into the store, in
 * parts of PART bytes, and read it back with the library. */
static void check_archive(const char *name, int (*set_format)(struct archive *))
{
	struct ais_options o = mpt_options();
	struct archive *a = archive_write_new();

	ready();
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	set_format(a);
	CU_ASSERT_EQUAL_FATAL(ais_archive_write_open(a, mpt_url(name), &o),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL(write_members(a, 30, 150000), 0);
	CU_ASSERT_EQUAL(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	CU_ASSERT(objsrv_stat("part") > 1);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(archive_has_members(mpt_url(name), 30, 150000));
}

static void test_libarchive_writes_a_pax_tar_in_parts(void)
{
	check_archive("archive.tar", archive_write_set_format_pax_restricted);
}

static void test_libarchive_writes_a_zip_in_parts(void)
{
	check_archive("archive.zip", archive_write_set_format_zip);
}

const struct test_case write_mpt_tests[] = {
	{ "multipart upload through the gateway",
	  test_multipart_through_the_gateway },
	{ "a small object is one PUT through an ais:// URI",
	  test_small_object_is_one_put_through_an_ais_uri },
	{ "parts go out in parallel", test_parts_go_out_in_parallel },
	{ "a 503 on a part is resent", test_503_on_a_part_is_resent },
	{ "a cut mid-part is resent", test_cut_mid_part_is_resent },
	{ "a stalled part is resent", test_stalled_part_is_resent },
	{ "abort leaves no parts and no object",
	  test_abort_leaves_no_parts_and_no_object },
	{ "a failed upload is aborted and sticky",
	  test_failed_upload_is_aborted_and_sticky },
	{ "a server killed mid-upload fails and stores nothing",
	  test_server_killed_mid_upload_fails_and_stores_nothing },
	{ "ais_fopen w on an ais:// URI", test_fopen_w_on_an_ais_uri },
	{ "libarchive writes a pax tar in parts",
	  test_libarchive_writes_a_pax_tar_in_parts },
	{ "libarchive writes a zip in parts",
	  test_libarchive_writes_a_zip_in_parts },
	{ NULL, NULL },
};
