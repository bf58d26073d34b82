/*
 * test_archive.c - libarchive reads an object through the aisfile callbacks
 * exactly as it reads the same file from local disk; skips and seeks become
 * Range requests, so listing and single-member reads fetch little.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "aisfile_archive.h"
#include "suites.h"

/* A digest of an archive's entries: names, sizes and an FNV-1a hash of all
 * data, in order.  Equal digests mean equal listings and equal bytes. */
struct digest {
	int entries;
	uint64_t names_hash;
	uint64_t data_hash;
	int64_t data_bytes;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* Walk an opened archive; read data when read_data, else skip it. */
static int walk(struct archive *a, int read_data, struct digest *d)
{
	struct archive_entry *e;
	int r;

	memset(d, 0, sizeof(*d));
	d->names_hash = d->data_hash = 14695981039346656037ULL;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		d->entries++;
		d->names_hash = fnv1a(d->names_hash, name, strlen(name) + 1);
		if (read_data) {
			const void *buf;
			size_t len;
			la_int64_t off;

			while ((r = archive_read_data_block(a, &buf, &len, &off)) ==
			       ARCHIVE_OK) {
				d->data_hash = fnv1a(d->data_hash, buf, len);
				d->data_bytes += (int64_t)len;
			}
			if (r != ARCHIVE_EOF)
				return r;
		} else if (archive_read_data_skip(a) != ARCHIVE_OK) {
			return ARCHIVE_FATAL;
		}
	}
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

static struct archive *reader(void)
{
	struct archive *a = archive_read_new();

	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	return a;
}

static void local_digest(const char *name, int read_data, struct digest *d)
{
	struct archive *a = reader();
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", harness_objdir(), name);
	CU_ASSERT_EQUAL_FATAL(archive_read_open_filename(a, path, 1 << 16),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL(walk(a, read_data, d), ARCHIVE_OK);
	archive_read_free(a);
}

/* Open name with the callbacks wired by hand, keeping the stream so its
 * counters can be read; the close callback is left out for that reason. */
static ais_stream *open_by_hand(struct archive *a, const char *url,
                                const struct ais_options *o)
{
	ais_stream *s = ais_open(url, o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	archive_read_set_seek_callback(a, ais_archive_seek);
	CU_ASSERT_EQUAL_FATAL(archive_read_open2(a, s, NULL, ais_archive_read,
	                                         ais_archive_skip, NULL),
	                      ARCHIVE_OK);
	return s;
}

static void test_tar_extraction_equals_local_read(void)
{
	struct archive *a = reader();
	struct digest remote, local;

	CU_ASSERT_EQUAL_FATAL(ais_archive_open(a, url_of("/small.tar"), NULL),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL(walk(a, 1, &remote), ARCHIVE_OK);
	archive_read_free(a);
	local_digest(OBJ_SMALLTAR, 1, &local);
	CU_ASSERT(local.entries > 300);
	CU_ASSERT_EQUAL(remote.entries, local.entries);
	CU_ASSERT_EQUAL(remote.names_hash, local.names_hash);
	CU_ASSERT_EQUAL(remote.data_hash, local.data_hash);
	CU_ASSERT_EQUAL(remote.data_bytes, local.data_bytes);
}

static void test_tar_read_is_zero_copy(void)
{
	struct archive *a = reader();
	struct digest d;
	struct ais_stats st;
	ais_stream *s = open_by_hand(a, url_of("/small.tar"), NULL);

	CU_ASSERT_EQUAL(walk(a, 1, &d), ARCHIVE_OK);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.bytes_copied, 0);
	CU_ASSERT(st.bytes_delivered > 0);
	archive_read_free(a);
	ais_close(s);
}

static void test_large_member_tar_listed_with_few_bytes(void)
{
	struct archive *a = reader();
	struct digest remote, local;
	struct ais_stats st;
	ais_stream *s = open_by_hand(a, url_of("/large.tar"), NULL);
	int64_t size = ais_size(s);

	CU_ASSERT_EQUAL(walk(a, 0, &remote), ARCHIVE_OK);
	ais_stats(s, &st);
	local_digest(OBJ_LARGETAR, 0, &local);
	CU_ASSERT_EQUAL(remote.entries, 4);
	CU_ASSERT_EQUAL(remote.names_hash, local.names_hash);
	/* Each 32 MiB member is jumped over with a Range request. */
	CU_ASSERT(st.seeks >= 4);
	CU_ASSERT(st.bytes_received * 20 < (uint64_t)size);
	fprintf(stderr, "\n  listing %lld-byte tar: requests=%llu received=%llu\n",
	        (long long)size, (unsigned long long)st.requests,
	        (unsigned long long)st.bytes_received);
	archive_read_free(a);
	ais_close(s);
}

static void test_large_member_tar_extraction_exact_through_cuts(void)
{
	struct ais_options o = fast_options();
	struct archive *a = reader();
	struct digest remote, local;
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;

	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:7000000*"), 0);
	s = open_by_hand(a, proxied(&p, "/large.tar"), &o);
	CU_ASSERT_EQUAL(walk(a, 1, &remote), ARCHIVE_OK);
	ais_stats(s, &st);
	local_digest(OBJ_LARGETAR, 1, &local);
	CU_ASSERT_EQUAL(remote.data_hash, local.data_hash);
	CU_ASSERT_EQUAL(remote.data_bytes, local.data_bytes);
	/* 128 MiB through connections cut every 7 MB. */
	CU_ASSERT(st.resumes >= 12);
	CU_ASSERT_EQUAL(st.failures, st.resumes);
	archive_read_free(a);
	ais_close(s);
	proxy_stop(&p);
}

static void test_zip_member_read_through_seek_callback(void)
{
	struct archive *a = reader();
	struct archive_entry *e;
	struct ais_stats st;
	ais_stream *s = open_by_hand(a, url_of("/members.zip"), NULL);
	int64_t size = ais_size(s);
	int found = 0;

	/* The seekable zip reader starts from the central directory at the
	 * end and jumps to each member: read only the small text members. */
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		char buf[4096];
		la_ssize_t n;

		if (archive_entry_size(e) > 65536)
			continue;
		n = archive_read_data(a, buf, sizeof(buf));
		CU_ASSERT(n >= 0);
		found += n > 0 && strstr(name, ".txt") != NULL;
	}
	ais_stats(s, &st);
	fprintf(stderr, "\n  3 small members of a %lld-byte zip: requests=%llu "
	        "received=%llu\n", (long long)size,
	        (unsigned long long)st.requests,
	        (unsigned long long)st.bytes_received);
	CU_ASSERT_EQUAL(found, 3);
	CU_ASSERT(st.seeks >= 1);
	CU_ASSERT(st.bytes_received * 4 < (uint64_t)size);
	archive_read_free(a);
	ais_close(s);
}

static void test_zip_all_members_equal_local(void)
{
	struct archive *a = reader();
	struct digest remote, local;

	CU_ASSERT_EQUAL_FATAL(ais_archive_open(a, url_of("/members.zip"), NULL),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL(walk(a, 1, &remote), ARCHIVE_OK);
	archive_read_free(a);
	local_digest(OBJ_ZIP, 1, &local);
	CU_ASSERT_EQUAL(remote.entries, 5);
	CU_ASSERT_EQUAL(remote.data_hash, local.data_hash);
	CU_ASSERT_EQUAL(remote.names_hash, local.names_hash);
}

static void test_archive_open_file_on_ais_fopen(void)
{
	struct archive *a = reader();
	struct digest remote, local;
	FILE *f = ais_fopen(url_of("/small.tar"), "rb");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(archive_read_open_FILE(a, f), ARCHIVE_OK);
	CU_ASSERT_EQUAL(walk(a, 1, &remote), ARCHIVE_OK);
	archive_read_free(a);
	fclose(f);
	local_digest(OBJ_SMALLTAR, 1, &local);
	CU_ASSERT_EQUAL(remote.data_hash, local.data_hash);
	CU_ASSERT_EQUAL(remote.entries, local.entries);
}

static void test_archive_open_missing_object_sets_archive_error(void)
{
	struct archive *a = reader();

	errno = 0;
	CU_ASSERT_EQUAL(ais_archive_open(a, url_of("/nothing.tar"), NULL),
	                ARCHIVE_FATAL);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(archive_errno(a), ENOENT);
	CU_ASSERT_PTR_NOT_NULL(archive_error_string(a));
	if (archive_error_string(a))
		CU_ASSERT_PTR_NOT_NULL(strstr(archive_error_string(a), "404"));
	archive_read_free(a);
}

static void test_archive_read_failure_reaches_libarchive(void)
{
	struct ais_options o = fast_options();
	struct archive *a = reader();
	struct digest d;
	struct proxy p;

	o.max_retries = 1;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:300000,503*"), 0);
	CU_ASSERT_EQUAL_FATAL(ais_archive_open(a, proxied(&p, "/small.tar"), &o),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL(walk(a, 1, &d), ARCHIVE_FATAL);
	CU_ASSERT_EQUAL(archive_errno(a), EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(archive_error_string(a), "gave up at byte"));
	archive_read_free(a);
	proxy_stop(&p);
}

/* An archive that is open already cannot take a second source: libarchive
 * would refuse it without calling the close callback.  ais_archive_open
 * must fail without sending a request (and without leaking a stream). */
static void test_archive_open_on_open_archive_sends_nothing(void)
{
	struct archive *a = reader();
	struct proxy p;
	char *log;

	CU_ASSERT_EQUAL_FATAL(ais_archive_open(a, url_of("/small.tar"), NULL),
	                      ARCHIVE_OK);
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	errno = 0;
	CU_ASSERT_EQUAL(ais_archive_open(a, proxied(&p, "/small.tar"), NULL),
	                ARCHIVE_FATAL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "ais_archive_open"));
	log = proxy_log(&p);
	CU_ASSERT_PTR_NOT_NULL(log);
	CU_ASSERT_STRING_EQUAL(log ? log : "?", ""); /* no connection at all */
	free(log);
	archive_read_free(a);
	proxy_stop(&p);
}

int register_archive_suite(void)
{
	static const struct test_case tests[] = {
		{ "tar extraction equals the local read",
		  test_tar_extraction_equals_local_read },
		{ "tar read is zero-copy", test_tar_read_is_zero_copy },
		{ "large-member tar listed with few bytes",
		  test_large_member_tar_listed_with_few_bytes },
		{ "large-member tar exact through cuts",
		  test_large_member_tar_extraction_exact_through_cuts },
		{ "zip member read through the seek callback",
		  test_zip_member_read_through_seek_callback },
		{ "zip members equal the local read",
		  test_zip_all_members_equal_local },
		{ "archive_read_open_FILE on ais_fopen",
		  test_archive_open_file_on_ais_fopen },
		{ "ais_archive_open of a missing object sets the archive error",
		  test_archive_open_missing_object_sets_archive_error },
		{ "read failure reaches libarchive",
		  test_archive_read_failure_reaches_libarchive },
		{ "ais_archive_open on an open archive sends no request",
		  test_archive_open_on_open_archive_sends_nothing },
		{ NULL, NULL },
	};

	return add_suite("libarchive", tests);
}
