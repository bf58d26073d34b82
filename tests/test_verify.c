/*
 * test_verify.c - the end-to-end checksum: a stream that reads an object
 * front to back hashes what it delivers and compares it with the checksum
 * the server states (AIStore's Ais-Checksum-Type and Ais-Checksum-Value).
 * A real nginx serves the harness objects with those headers, computed
 * here from the object files with libxxhash and libcrypto one-shot calls
 * (and a bitwise CRC-32C), apart from the library's incremental code.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "suites.h"

/* Bit by bit, as the definition goes: the reference the library's table and
 * SSE4.2 versions must agree with. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void hex_digest(const EVP_MD *md, const unsigned char *p, size_t n,
                       char *out, size_t cap)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t used = 0;

	out[0] = '\0';
	if (EVP_Digest(p, n, d, &len, md, NULL) != 1)
		return;
	for (unsigned int i = 0; i < len && used + 3 <= cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%02x", d[i]);
}

enum { SUM_XXHASH2, SUM_XXHASH, SUM_CRC32C, SUM_MD5, SUM_SHA256, SUM_SHA512,
       SUM_WRONG, SUM_UPPER, SUM_SHORT, SUM_UNKNOWN, SUM_TEXT, SUM_EMPTY,
       SUM_COUNT };

static char values[SUM_COUNT][160];
static char value_headers[SUM_COUNT][200];
static const char *headers[SUM_COUNT][3];
static const char *const types[SUM_COUNT] = {
	"xxhash2", "xxhash", "crc32c", "md5", "sha256", "sha512",
	"xxhash2", "xxhash2", "xxhash2", "blake9", "xxhash", "xxhash2",
};
static char type_headers[SUM_COUNT][64];
static struct served_object served_list[SUM_COUNT];
static const char *const paths[SUM_COUNT] = {
	"/sum/xxhash2", "/sum/xxhash", "/sum/crc32c", "/sum/md5",
	"/sum/sha256", "/sum/sha512", "/sum/wrong", "/sum/upper",
	"/sum/short", "/sum/unknown", "/sum/text", "/sum/empty",
};

static void compute(int which, const char *object)
{
	size_t len;
	unsigned char *data = harness_object(object, &len);
	char *v = values[which];
	size_t cap = sizeof(values[which]);

	if (!data) {
		v[0] = '\0';
		return;
	}
	switch (which) {
	case SUM_CRC32C:
		snprintf(v, cap, "%08x", crc32c_bitwise(data, len));
		break;
	case SUM_MD5: hex_digest(EVP_md5(), data, len, v, cap); break;
	case SUM_SHA256: hex_digest(EVP_sha256(), data, len, v, cap); break;
	case SUM_SHA512: hex_digest(EVP_sha512(), data, len, v, cap); break;
	default:
		snprintf(v, cap, "%016llx",
		         (unsigned long long)XXH64(data, len, 0));
	}
	free(data);
}

static int verify_init(void)
{
	for (int i = 0; i < SUM_COUNT; i++) {
		const char *object = i == SUM_TEXT ? OBJ_TEXT :
		                     i == SUM_EMPTY ? OBJ_EMPTY : OBJ_RANDOM;

		compute(i, object);
		if (!values[i][0])
			return -1;
		if (i == SUM_WRONG) /* one hex digit off */
			values[i][15] = values[i][15] == '0' ? '1' : '0';
		if (i == SUM_UPPER)
			for (char *c = values[i]; *c; c++)
				if (*c >= 'a' && *c <= 'f')
					*c = (char)(*c - 'a' + 'A');
		if (i == SUM_SHORT)
			values[i][8] = '\0';
		snprintf(type_headers[i], sizeof(type_headers[i]),
		         "Ais-Checksum-Type: %.40s", types[i]);
		snprintf(value_headers[i], sizeof(value_headers[i]),
		         "Ais-Checksum-Value: %.159s", values[i]);
		headers[i][0] = type_headers[i];
		headers[i][1] = value_headers[i];
		headers[i][2] = NULL;
		served_list[i] = (struct served_object){ paths[i], object,
		                                         headers[i] };
	}
	return served_start(served_list, SUM_COUNT);
}

static const char *sum_url(const char *path)
{
	char *out = url_slot();

	served_url(out, URL_SLOT_SIZE, path);
	return out;
}

/* Read s to its end with ais_next, comparing with the object: the count of
 * bytes, or -1 (errno kept) when a read failed. */
static int64_t read_to_end(ais_stream *s, const char *object)
{
	const void *p;
	int64_t start = ais_tell(s), at = start;
	ssize_t n;

	while ((n = ais_next(s, &p)) > 0) {
		CU_ASSERT(object_matches(object, (uint64_t)at, p, (size_t)n));
		at += n;
	}
	return n < 0 ? -1 : at - start;
}

static struct ais_stats stats_of(ais_stream *s)
{
	struct ais_stats st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(ais_stats(s, &st), 0);
	return st;
}

/* Each type, with read-ahead on (the first reply is a 256 KiB range; the
 * next, longer one confirms the value names the object) and off (the first
 * reply is all of it). */
static void check_kind(int which, int verify, bool want_verified)
{
	for (int ra = 0; ra < 2; ra++) {
		struct ais_options o = AIS_OPTIONS_INIT;
		ais_stream *s;
		struct ais_stats st;
		const char *object = which == SUM_TEXT ? OBJ_TEXT :
		                     which == SUM_EMPTY ? OBJ_EMPTY : OBJ_RANDOM;
		size_t len;
		unsigned char *want = harness_object(object, &len);

		o.verify = verify;
		o.readahead_bytes = ra ? 0 : -1;
		s = ais_open(sum_url(paths[which]), &o);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL(read_to_end(s, object), (int64_t)len);
		st = stats_of(s);
		CU_ASSERT_EQUAL(st.checksums_verified, want_verified ? 1u : 0u);
		CU_ASSERT_EQUAL(st.checksums_skipped, want_verified ? 0u : 1u);
		CU_ASSERT_EQUAL(ais_close(s), 0);
		free(want);
	}
}

static void test_cheap_types_are_verified_by_default(void)
{
	check_kind(SUM_XXHASH2, 0, true);
	check_kind(SUM_XXHASH, 0, true);
	check_kind(SUM_CRC32C, 0, true);
	check_kind(SUM_TEXT, 0, true);
	check_kind(SUM_EMPTY, 0, true);
	check_kind(SUM_UPPER, 0, true); /* hex is hex, in either case */
}

static void test_costly_types_only_when_asked(void)
{
	check_kind(SUM_MD5, 0, false);
	check_kind(SUM_SHA256, 0, false);
	check_kind(SUM_SHA512, 0, false);
	check_kind(SUM_MD5, AIS_VERIFY_ALL, true);
	check_kind(SUM_SHA256, AIS_VERIFY_ALL, true);
	check_kind(SUM_SHA512, AIS_VERIFY_ALL, true);
	check_kind(SUM_XXHASH2, AIS_VERIFY_OFF, false);
	check_kind(SUM_UNKNOWN, AIS_VERIFY_ALL, false);
}

static void test_environment_selects_types(void)
{
	ais_stream *s;

	setenv("AIS_VERIFY", "all", 1);
	s = ais_open(sum_url(paths[SUM_SHA256]), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(read_to_end(s, OBJ_RANDOM) > 0);
	CU_ASSERT_EQUAL(stats_of(s).checksums_verified, 1u);
	ais_close(s);

	setenv("AIS_VERIFY", "off", 1);
	s = ais_open(sum_url(paths[SUM_WRONG]), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(read_to_end(s, OBJ_RANDOM) > 0); /* not checked: a clean end */
	CU_ASSERT_EQUAL(stats_of(s).checksums_skipped, 1u);
	ais_close(s);

	setenv("AIS_VERIFY", "some", 1);
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(sum_url(paths[SUM_XXHASH2]), NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "AIS_VERIFY"));
	unsetenv("AIS_VERIFY");
}

static void expect_mismatch(ais_stream *s, const char *want_value)
{
	const void *p;

	CU_ASSERT_EQUAL(read_to_end(s, OBJ_RANDOM), -1);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), "checksum mismatch"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), want_value));
	/* The error stays: the end is never reported as clean. */
	errno = 0;
	CU_ASSERT_EQUAL(ais_next(s, &p), -1);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	CU_ASSERT_EQUAL(stats_of(s).checksums_verified, 0u);
}

static void test_wrong_header_fails_the_last_read(void)
{
	for (int ra = 0; ra < 2; ra++) {
		struct ais_options o = AIS_OPTIONS_INIT;
		ais_stream *s;

		o.readahead_bytes = ra ? 0 : -1;
		s = ais_open(sum_url(paths[SUM_WRONG]), &o);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		expect_mismatch(s, values[SUM_WRONG]);
		/* Both values are named: the stated one and the computed one. */
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), values[SUM_XXHASH2]));
		CU_ASSERT_EQUAL(ais_close(s), 0); /* reported already */
	}
	/* A value of the wrong length is no xxhash at all. */
	ais_stream *s = ais_open(sum_url(paths[SUM_SHORT]), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	expect_mismatch(s, values[SUM_SHORT]);
	ais_close(s);
}

/* A caller that stops at the last byte without asking for more hears of
 * the mismatch from ais_close, and fread/fclose report it too. */
static void test_mismatch_reaches_close_and_stdio(void)
{
	size_t len;
	unsigned char *want = harness_object(OBJ_RANDOM, &len);
	unsigned char *buf = malloc(len + 1);
	ais_stream *s = ais_open(sum_url(paths[SUM_WRONG]), NULL);
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_read(s, buf, len), (ssize_t)len);
	CU_ASSERT_EQUAL(memcmp(buf, want, len), 0);
	errno = 0;
	CU_ASSERT_EQUAL(ais_close(s), -1);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "checksum mismatch"));

	f = ais_fopen(sum_url(paths[SUM_WRONG]), "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	errno = 0;
	CU_ASSERT_EQUAL(fread(buf, 1, len + 1, f), len);
	CU_ASSERT(ferror(f));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	fclose(f);

	f = ais_fopen(sum_url(paths[SUM_XXHASH2]), "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fread(buf, 1, len + 1, f), len);
	CU_ASSERT(feof(f) && !ferror(f));
	CU_ASSERT_EQUAL(fclose(f), 0);
	free(buf);
	free(want);
}

/* One byte inverted on the wire, framing intact: only the checksum can
 * tell, and it does. */
static void test_flipped_byte_is_caught(void)
{
	for (int ra = 0; ra < 2; ra++) {
		struct ais_options o = AIS_OPTIONS_INIT;
		struct proxy p;
		char url[URL_SLOT_SIZE];
		const void *q;
		ssize_t n;
		int64_t at = 0, differ = 0;
		ais_stream *s;

		/* Byte 5000 of the first connection: past the reply head. */
		CU_ASSERT_EQUAL_FATAL(proxy_start_to(&p, served_port(), "flip:5000"), 0);
		proxy_url(&p, url, sizeof(url), paths[SUM_XXHASH2]);
		o.readahead_bytes = ra ? 0 : -1;
		s = ais_open(url, &o);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		while ((n = ais_next(s, &q)) > 0) {
			if (!object_matches(OBJ_RANDOM, (uint64_t)at, q, (size_t)n))
				differ++;
			at += n;
		}
		CU_ASSERT_EQUAL(differ, 1); /* the damage did reach the caller */
		CU_ASSERT_EQUAL(n, -1);
		CU_ASSERT_EQUAL(errno, EBADMSG);
		CU_ASSERT_PTR_NOT_NULL(strstr(ais_errmsg(s), values[SUM_XXHASH2]));
		ais_close(s);
		proxy_stop(&p);
	}
}

/* A read that jumps cannot be hashed: it ends cleanly and says it skipped. */
static void test_jump_skips_and_counts(void)
{
	ais_stream *s = ais_open(sum_url(paths[SUM_WRONG]), NULL);
	unsigned char buf[4096];
	const void *p;
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(ais_seek(s, 1 << 20, SEEK_SET), 1 << 20);
	while ((n = ais_next(s, &p)) > 0)
		;
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(stats_of(s).checksums_skipped, 1u);
	CU_ASSERT_EQUAL(stats_of(s).checksums_verified, 0u);
	CU_ASSERT_EQUAL(ais_close(s), 0);

	/* Going back over bytes hashed already is no gap. */
	s = ais_open(sum_url(paths[SUM_XXHASH2]), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(ais_read(s, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(ais_seek(s, 100, SEEK_SET), 100);
	CU_ASSERT_EQUAL(read_to_end(s, OBJ_RANDOM) + 100, 8 << 20);
	CU_ASSERT_EQUAL(stats_of(s).checksums_verified, 1u);
	ais_close(s);
}

/* An object without the headers has nothing to check, and nothing is
 * counted. */
static void test_no_header_nothing_counted(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(read_to_end(s, OBJ_RANDOM) > 0);
	CU_ASSERT_EQUAL(stats_of(s).checksums_verified, 0u);
	CU_ASSERT_EQUAL(stats_of(s).checksums_skipped, 0u);
	ais_close(s);
}

static void test_options_reject_bad_verify(void)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.verify = 7;
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_open(sum_url(paths[SUM_XXHASH2]), &o));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "verify"));
}

static void test_crc32c_reference(void)
{
	/* The check value of the CRC-32C catalogue entry. */
	CU_ASSERT_EQUAL(crc32c_bitwise((const unsigned char *)"123456789", 9),
	                0xe3069283u);
}

int register_verify_suite(void)
{
	static const struct test_case tests[] = {
		{ "CRC-32C reference gives the catalogue check value", test_crc32c_reference },
		{ "xxhash, xxhash2, crc32c verified by default", test_cheap_types_are_verified_by_default },
		{ "md5, sha256, sha512 verified only with AIS_VERIFY_ALL", test_costly_types_only_when_asked },
		{ "AIS_VERIFY selects the types, rejects bad values", test_environment_selects_types },
		{ "wrong checksum header fails the last read with EBADMSG", test_wrong_header_fails_the_last_read },
		{ "mismatch reaches ais_close, fread and fclose", test_mismatch_reaches_close_and_stdio },
		{ "a byte flipped on the wire is caught", test_flipped_byte_is_caught },
		{ "a jump skips the check and counts it", test_jump_skips_and_counts },
		{ "no checksum header, nothing counted", test_no_header_nothing_counted },
		{ "options.verify out of range is EINVAL", test_options_reject_bad_verify },
		{ NULL, NULL },
	};

	return add_suite_with_init("checksums", verify_init, tests);
}
