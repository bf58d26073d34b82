/*
 * test_write.c - writing objects (ais_create, ais_write, ais_commit,
 * ais_close, ais_abort, the "w" FILE*, libarchive writing) against a plain
 * HTTP server: the harness's nginx takes PUTs at /dav/ and stores them in
 * harness_davdir(), where the tests read them back from disk.  The
 * AIStore multipart uploads are in test_write_mpt.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "aisfile_archive.h"
#include "suites.h"
#include "writing.h"

#define SMALL_PART (64 * 1024)

static const char *dav_url(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/dav/%s", name);
	return url_of(path);
}

static const char *dav_proxied(const struct proxy *p, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/dav/%s", name);
	return proxied(p, path);
}

/* The stored file, or NULL when there is none. */
static unsigned char *dav_file(const char *name, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", harness_davdir(), name);
	return (unsigned char *)harness_read_file(path, len);
}

static int dav_exists(const char *name)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", harness_davdir(), name);
	return stat(path, &st) == 0;
}

/* Options for writing through faults: parts of 64 KiB, one connection,
 * stalls noticed after 1 s. */
static struct ais_options small_parts(void)
{
	struct ais_options o = fast_options();

	o.part_size = SMALL_PART;
	return o;
}

static void assert_dav_text(const char *name, const char *text)
{
	size_t len = 0;
	unsigned char *got = dav_file(name, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(len, strlen(text));
	CU_ASSERT(len == strlen(text) && !memcmp(got, text, len));
	free(got);
}

static void assert_dav_pattern(const char *name, size_t size, unsigned seed)
{
	size_t len = 0;
	unsigned char *got = dav_file(name, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(len, size);
	CU_ASSERT(pattern_matches(got, len, 0, seed));
	free(got);
}

/* ---- plain PUTs ----------------------------------------------------------------- */

static void test_small_object_is_one_put_with_length(void)
{
	struct ais_options o = small_parts();
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	char *log;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_create(dav_proxied(&p, "w-small.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 1000, 0, 7, 333), 0);
	/* Nothing goes out before the commit. */
	CU_ASSERT_EQUAL(proxy_connections(&p), 0);
	CU_ASSERT_EQUAL(ais_tell(s), 1000);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	CU_ASSERT_EQUAL(ais_stats(s, &st), 0);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.bytes_copied, 1000);
	CU_ASSERT_EQUAL(st.bytes_uploaded, 1000);
	CU_ASSERT_EQUAL(st.parts_uploaded, 0);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	log = proxy_log(&p);
	CU_ASSERT_PTR_NOT_NULL(log);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "1 pass PUT /dav/w-small.bin range=- "
	                                   "length=1000\n"));
	CU_ASSERT_EQUAL(proxy_connections(&p), 1);
	free(log);
	proxy_stop(&p);
	assert_dav_pattern("w-small.bin", 1000, 7);
}

static void test_object_of_one_part_is_one_put(void)
{
	struct ais_options o = small_parts();
	struct ais_stats st;
	ais_stream *s = ais_create(dav_url("w-onepart.bin"), &o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, SMALL_PART, 0, 8, 4096), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.bytes_uploaded, SMALL_PART);
	ais_close(s);
	assert_dav_pattern("w-onepart.bin", SMALL_PART, 8);
}

static void test_empty_object_is_created(void)
{
	ais_stream *s = ais_create(dav_url("w-empty.bin"), NULL);
	size_t len = 1;
	unsigned char *got;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "", 0), 0);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	got = dav_file("w-empty.bin", &len);
	CU_ASSERT_PTR_NOT_NULL(got);
	CU_ASSERT_EQUAL(len, 0);
	free(got);
}

static void test_large_object_streams_as_one_chunked_put(void)
{
	struct ais_options o = small_parts();
	size_t size = (1 << 20) + 12345;
	struct ais_stats st;
	struct proxy p;
	ais_stream *s, *r;
	char *log;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_create(dav_proxied(&p, "w-stream.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, size, 0, 9, 10007), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.failures, 0);
	CU_ASSERT_EQUAL(st.bytes_copied, size);
	CU_ASSERT_EQUAL(st.bytes_uploaded, size);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	log = proxy_log(&p);
	CU_ASSERT_PTR_NOT_NULL(log);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "1 pass PUT /dav/w-stream.bin range=- "
	                                   "te=chunked\n"));
	CU_ASSERT_EQUAL(proxy_connections(&p), 1);
	free(log);
	proxy_stop(&p);
	assert_dav_pattern("w-stream.bin", size, 9);
	/* And the library reads back what it wrote. */
	r = ais_open(dav_url("w-stream.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(stream_matches_pattern(r, size, 9));
	ais_close(r);
}

static void test_abort_sends_nothing_and_leaves_no_object(void)
{
	struct ais_options o = small_parts();
	struct proxy p;
	ais_stream *s;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_create(dav_proxied(&p, "w-aborted-small.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 5000, 0, 1, 1000), 0);
	ais_abort(s);
	CU_ASSERT_EQUAL(proxy_connections(&p), 0);
	CU_ASSERT_FALSE(dav_exists("w-aborted-small.bin"));
	proxy_stop(&p);
}

static void test_abort_mid_stream_leaves_no_object(void)
{
	struct ais_options o = small_parts();
	ais_stream *s = ais_create(dav_url("w-aborted.bin"), &o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 1 << 20, 0, 2, 65536), 0);
	ais_abort(s);
	CU_ASSERT_FALSE(dav_exists("w-aborted.bin"));
}

/* ---- stdio ---------------------------------------------------------------------- */

static void test_fopen_w_writes_with_fprintf_and_fwrite(void)
{
	FILE *f = ais_fopen(dav_url("w-stdio.txt"), "w");
	size_t bin = 300000, len = 0, text_len;
	unsigned char *block = malloc(bin), *got;
	char *want;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(block);
	fill_pattern(block, bin, 0, 3);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT(fprintf(f, "line %d of the text\n", i) > 0);
	CU_ASSERT_EQUAL(ftell(f), (long)text_length(1000));
	CU_ASSERT_EQUAL(fwrite(block, 1, bin, f), bin);
	CU_ASSERT_EQUAL(fputs("the end\n", f) >= 0, 1);
	CU_ASSERT_EQUAL(fseek(f, 0, SEEK_SET), -1);
	CU_ASSERT_EQUAL(errno, ESPIPE);
	CU_ASSERT_EQUAL(fclose(f), 0);

	text_len = text_length(1000);
	got = dav_file("w-stdio.txt", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL_FATAL(len, text_len + bin + 8);
	want = malloc(text_len + 1);
	for (int i = 0, at = 0; i < 1000; i++)
		at += sprintf(want + at, "line %d of the text\n", i);
	CU_ASSERT_EQUAL(memcmp(got, want, text_len), 0);
	CU_ASSERT_EQUAL(memcmp(got + text_len, block, bin), 0);
	CU_ASSERT_EQUAL(memcmp(got + text_len + bin, "the end\n", 8), 0);
	free(want);
	free(got);
	free(block);
}

static void test_fdopen_w_stream_counts_every_byte_copied(void)
{
	struct ais_options o = small_parts();
	ais_stream *s = ais_create(dav_url("w-fdopen.bin"), &o);
	size_t size = 700000;
	unsigned char *block = malloc(size);
	struct ais_stats st;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	fill_pattern(block, size, 0, 4);
	/* A read mode does not fit a write stream, which stays the caller's. */
	CU_ASSERT_PTR_NULL(ais_fdopen(s, "r"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	f = ais_fdopen(s, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(block, 1, size, f), size);
	CU_ASSERT_EQUAL(fflush(f), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.bytes_copied, size);
	CU_ASSERT_EQUAL(fclose(f), 0);
	assert_dav_pattern("w-fdopen.bin", size, 4);
	free(block);
}

static void test_fclose_after_a_cut_put_fails_with_eio(void)
{
	struct ais_options o = small_parts();
	size_t size = 1 << 20;
	unsigned char *block = malloc(size);
	struct proxy p;
	ais_stream *s;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "upcut:200000"), 0);
	s = ais_create(dav_proxied(&p, "w-cut.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	f = ais_fdopen(s, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fill_pattern(block, size, 0, 5);
	fwrite(block, 1, size, f);
	errno = 0;
	CU_ASSERT_EQUAL(fclose(f), EOF);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "cannot be resumed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "/dav/w-cut.bin"));
	CU_ASSERT_FALSE(dav_exists("w-cut.bin"));
	free(block);
	proxy_stop(&p);
}

static void test_bad_modes_are_einval(void)
{
	static const char *const modes[] = { "a", "r+", "w+", "a+", "wx", "rw",
	                                     "", "ab" };

	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
		errno = 0;
		CU_ASSERT_PTR_NULL(ais_fopen(dav_url("w-mode.bin"), modes[i]));
		CU_ASSERT_EQUAL(errno, EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "mode"));
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_fopen(dav_url("w-mode.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_FALSE(dav_exists("w-mode.bin"));
}

/* ---- failures ------------------------------------------------------------------- */

static void test_cut_during_a_small_put_is_retried(void)
{
	struct ais_options o = small_parts();
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;

	/* The head and a few body bytes, then the cut: the body is in memory
	 * and goes again on a new connection. */
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "upcut:300,503,pass"), 0);
	s = ais_create(dav_proxied(&p, "w-retried.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, 40000, 0, 6, 3000), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.requests, 3);
	CU_ASSERT_EQUAL(st.failures, 2);
	CU_ASSERT_EQUAL(st.resumes, 2);
	CU_ASSERT_EQUAL(st.bytes_uploaded, 40000);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	CU_ASSERT_EQUAL(proxy_connections(&p), 3);
	proxy_stop(&p);
	assert_dav_pattern("w-retried.bin", 40000, 6);
}

static void test_refusal_before_a_streamed_body_is_retried(void)
{
	struct ais_options o = small_parts();
	size_t size = (1 << 20) + 1;
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;

	/* The 503 comes before "100 Continue": none of the body went out, so
	 * the chunked PUT starts again. */
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "503,pass"), 0);
	s = ais_create(dav_proxied(&p, "w-503-stream.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(write_pattern(s, size, 0, 10, 30000), 0);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.failures, 1);
	CU_ASSERT_EQUAL(st.resumes, 1);
	CU_ASSERT_EQUAL(st.bytes_uploaded, size);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	CU_ASSERT_EQUAL(proxy_connections(&p), 2);
	proxy_stop(&p);
	assert_dav_pattern("w-503-stream.bin", size, 10);
}

static void test_reset_mid_stream_is_sticky(void)
{
	struct ais_options o = small_parts();
	char first[1024];
	size_t written = 0;
	int first_errno = 0;
	struct proxy p;
	ais_stream *s;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "upreset:150000"), 0);
	s = ais_create(dav_proxied(&p, "w-reset.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* The upload fails while the caller writes; a later write says so. */
	while (written < (64u << 20) && !first_errno) {
		if (write_pattern(s, 65536, written, 7, 65536) < 0)
			first_errno = errno;
		written += 65536;
	}
	CU_ASSERT_EQUAL(first_errno, EIO);
	snprintf(first, sizeof(first), "%s", ais_errmsg(s));
	CU_ASSERT_PTR_NOT_NULL(strstr(first, "cannot be resumed"));
	/* Every later call fails the same way. */
	CU_ASSERT_EQUAL(ais_write(s, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_STRING_EQUAL(ais_errmsg(s), first);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_STRING_EQUAL(ais_last_error(), first);
	CU_ASSERT_FALSE(dav_exists("w-reset.bin"));
	proxy_stop(&p);
}

static void test_stalled_put_fails_after_the_read_timeout(void)
{
	struct ais_options o = small_parts();
	struct proxy p;
	ais_stream *s;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "upstall:100000"), 0);
	s = ais_create(dav_proxied(&p, "w-stall.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* More than the loopback socket buffers hold. */
	write_pattern(s, 32u << 20, 0, 8, 1 << 20);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	/* The stall timer, or the speed check when the stall began just as
	 * its window did: both say the upload stopped. */
	CU_ASSERT(strstr(ais_last_error(), "no data for 1000 ms") ||
	          strstr(ais_last_error(), "less than the minimum"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "cannot be resumed"));
	CU_ASSERT_FALSE(dav_exists("w-stall.bin"));
	proxy_stop(&p);
}

static void test_refused_put_names_status_and_server_text(void)
{
	ais_stream *s = ais_create(url_of("/forbidden"), NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "data", 4), 4);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "HTTP 403 Forbidden"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "forbidden by policy"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "/forbidden"));

	/* nginx serves /random.bin but takes no PUT there: 405, final. */
	s = ais_create(url_of("/random.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "HTTP 405"));
}

/* The multipart upload cannot begin: the first write that hands a part
 * off fails, with the reason, and so does every later call. */
static void expect_begin_refused(const char *path, int err, const char *why)
{
	struct ais_options o = small_parts();
	ais_stream *s = ais_create(url_of(path), &o);
	int rc = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 4 && rc == 0; i++)
		rc = write_pattern(s, SMALL_PART, (uint64_t)i * SMALL_PART, 1, 8192);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "POST mpt-upload"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), why));
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), why));
}

static void test_bad_upload_ids_are_refused(void)
{
	expect_begin_refused("/v1/objects/mpt/empty-id", EIO,
	                     "is not an upload ID: it is empty");
	expect_begin_refused("/v1/objects/mpt/spaced-id", EIO,
	                     "is not an upload ID: byte 2 is not a printable");
	expect_begin_refused("/v1/objects/mpt/long-id", EIO,
	                     "is longer than 1024 bytes");
}

static void test_missing_bucket_is_enoent(void)
{
	ais_stream *s;

	expect_begin_refused("/v1/objects/nobucket/large.bin", ENOENT,
	                     "HTTP 404 Not Found: bucket ais://nobucket does "
	                     "not exist");
	s = ais_create(url_of("/v1/objects/nobucket/small.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "small", 5), 5);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "PUT failed: HTTP 404"));
}

static void test_server_that_stays_down_exhausts_the_budget(void)
{
	struct ais_options o = small_parts();
	char url[128];
	ais_stream *s;

	o.max_retries = 2;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/dav/w-down.bin",
	         harness_free_port());
	s = ais_create(url, &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "data", 4), 4);
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "gave up on PUT after 3 "
	                                                "failed attempts"));
}

/* ---- the wrong calls -------------------------------------------------------------- */

static void test_reading_a_write_stream_is_ebadf(void)
{
	ais_stream *s = ais_create(dav_url("w-ebadf.bin"), NULL);
	const void *p;
	char buf[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "opened for writing"));
	CU_ASSERT_EQUAL(ais_next(s, &p), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_EQUAL(ais_seek(s, 0, SEEK_SET), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_EQUAL(ais_size(s), -1);
	ais_abort(s);
	CU_ASSERT_FALSE(dav_exists("w-ebadf.bin"));
}

static void test_writing_a_read_stream_is_ebadf(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "opened for reading"));
	CU_ASSERT_EQUAL(ais_commit(s), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_PTR_NULL(ais_fdopen(s, "w"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	/* The stream still reads. */
	CU_ASSERT(stream_matches_object(s, OBJ_RANDOM, -1));
	CU_ASSERT_EQUAL(ais_close(s), 0);
}

static void test_null_arguments_are_einval(void)
{
	ais_stream *s;

	errno = 0;
	CU_ASSERT_PTR_NULL(ais_create(NULL, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(ais_create("ftp://127.0.0.1/x", NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(ais_client_create(NULL, dav_url("w-null.bin"), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(ais_write(NULL, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(ais_commit(NULL), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	ais_abort(NULL);
	CU_ASSERT_EQUAL(ais_close(NULL), 0);
	CU_ASSERT_EQUAL(ais_archive_write_open(NULL, dav_url("w-null.bin"), NULL),
	                ARCHIVE_FATAL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	s = ais_create(dav_url("w-null.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, NULL, 1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(ais_write(s, NULL, 0), 0);
	ais_abort(s);
	CU_ASSERT_FALSE(dav_exists("w-null.bin"));
}

static void test_commit_is_once(void)
{
	ais_stream *s = ais_create(dav_url("w-once.bin"), NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_write(s, "once", 4), 4);
	CU_ASSERT_EQUAL(ais_commit(s), 0);
	CU_ASSERT_EQUAL(ais_write(s, "more", 4), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "already committed"));
	CU_ASSERT_EQUAL(ais_commit(s), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_EQUAL(ais_close(s), 0);
	assert_dav_text("w-once.bin", "once");
}

/* ---- libarchive ------------------------------------------------------------------- */

static void test_libarchive_writes_a_pax_tar(void)
{
	struct archive *a = archive_write_new();
	ais_client *c = ais_client_new(NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	archive_write_set_format_pax_restricted(a);
	CU_ASSERT_EQUAL_FATAL(ais_client_archive_write_open(a, c,
	                      dav_url("w-archive.tar"), NULL), ARCHIVE_OK);
	ais_client_free(c); /* the stream holds the client until it is freed */
	CU_ASSERT_EQUAL(write_members(a, 20, 100000), 0);
	CU_ASSERT_EQUAL(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	CU_ASSERT(archive_has_members(dav_url("w-archive.tar"), 20, 100000));
}

static void test_libarchive_failure_before_close_aborts(void)
{
	struct archive *a = archive_write_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	archive_write_set_format_pax_restricted(a);
	/* The filter cannot start, so opening fails after the stream was
	 * made: it is discarded and freed, and nothing is stored. */
	archive_write_add_filter_program(a, "/nonexistent/compressor");
	CU_ASSERT_NOT_EQUAL(ais_archive_write_open(a, dav_url("w-never.tar"),
	                                           NULL), ARCHIVE_OK);
	archive_write_free(a);
	CU_ASSERT_FALSE(dav_exists("w-never.tar"));
}

/* libarchive ignores what its close callback returns (3.6.2 and later):
 * archive_write_close() says ARCHIVE_OK even when the commit failed.  The
 * failure is in archive_errno() and archive_error_string() afterwards,
 * which archive_write_close() clears on entry, as the header says. */
static void test_libarchive_commit_failure_is_in_archive_errno(void)
{
	struct archive *a = archive_write_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	archive_write_set_format_pax_restricted(a);
	CU_ASSERT_EQUAL_FATAL(ais_archive_write_open(a, url_of("/forbidden"),
	                                             NULL), ARCHIVE_OK);
	CU_ASSERT_EQUAL(write_members(a, 2, 1000), 0); /* one PUT, at commit */
	archive_write_close(a);
	CU_ASSERT_EQUAL(archive_errno(a), EACCES);
	CU_ASSERT_PTR_NOT_NULL(archive_error_string(a));
	if (archive_error_string(a))
		CU_ASSERT_PTR_NOT_NULL(strstr(archive_error_string(a), "403"));
	archive_write_free(a);
}

int register_write_suite(void)
{
	static const struct test_case tests[] = {
		{ "a small object is one PUT with a length",
		  test_small_object_is_one_put_with_length },
		{ "an object of one part is one PUT",
		  test_object_of_one_part_is_one_put },
		{ "an empty object is created", test_empty_object_is_created },
		{ "a large object streams as one chunked PUT",
		  test_large_object_streams_as_one_chunked_put },
		{ "abort sends nothing and leaves no object",
		  test_abort_sends_nothing_and_leaves_no_object },
		{ "abort mid-stream leaves no object",
		  test_abort_mid_stream_leaves_no_object },
		{ "ais_fopen w writes with fprintf and fwrite",
		  test_fopen_w_writes_with_fprintf_and_fwrite },
		{ "ais_fdopen w counts every byte copied",
		  test_fdopen_w_stream_counts_every_byte_copied },
		{ "fclose after a cut PUT fails with EIO",
		  test_fclose_after_a_cut_put_fails_with_eio },
		{ "bad modes are EINVAL", test_bad_modes_are_einval },
		{ "a cut during a small PUT is retried",
		  test_cut_during_a_small_put_is_retried },
		{ "a refusal before a streamed body is retried",
		  test_refusal_before_a_streamed_body_is_retried },
		{ "a reset mid-stream is sticky", test_reset_mid_stream_is_sticky },
		{ "a stalled PUT fails after the read timeout",
		  test_stalled_put_fails_after_the_read_timeout },
		{ "a refused PUT names the status and the server's text",
		  test_refused_put_names_status_and_server_text },
		{ "bad upload IDs are refused", test_bad_upload_ids_are_refused },
		{ "a missing bucket is ENOENT", test_missing_bucket_is_enoent },
		{ "a server that stays down exhausts the budget",
		  test_server_that_stays_down_exhausts_the_budget },
		{ "reading a write stream is EBADF",
		  test_reading_a_write_stream_is_ebadf },
		{ "writing a read stream is EBADF",
		  test_writing_a_read_stream_is_ebadf },
		{ "NULL arguments are EINVAL", test_null_arguments_are_einval },
		{ "commit is once", test_commit_is_once },
		{ "libarchive writes a pax tar", test_libarchive_writes_a_pax_tar },
		{ "a libarchive failure before close aborts",
		  test_libarchive_failure_before_close_aborts },
		{ "a failed commit is in archive_errno after the close",
		  test_libarchive_commit_failure_is_in_archive_errno },
		{ NULL, NULL },
	};

	CU_pSuite suite;

	if (add_suite("writing", tests) < 0 || !(suite = CU_get_suite("writing")))
		return -1;
	for (const struct test_case *t = write_mpt_tests; t->name; t++)
		if (!CU_add_test(suite, t->name, t->fn))
			return -1;
	return 0;
}
