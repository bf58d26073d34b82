/*
 * test_stdio.c - ais_fopen gives a FILE* on which stdio behaves as on a file:
 * fread, getline, fgets, fseek/ftell, feof, ferror, fclose.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static void test_fread_whole_object(void)
{
	FILE *f = ais_fopen(url_of("/random.bin"), "rb");
	size_t cap = (8 << 20) + 1, used = 0, n;
	unsigned char *got = malloc(cap);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((n = fread(got + used, 1, 1 << 20 < cap - used ? 1 << 20 : cap - used,
	                  f)) > 0)
		used += n;
	CU_ASSERT(feof(f));
	CU_ASSERT(!ferror(f));
	assert_object_equal(OBJ_RANDOM, got, used);
	CU_ASSERT_EQUAL(fclose(f), 0);
	free(got);
}

/* Read f to the end with getline, comparing each line with the source
 * text; returns the count of lines that differ, *off the bytes read. */
static int getline_mismatches(FILE *f, const unsigned char *want,
                              size_t want_len, size_t *off, int *lines)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int mismatches = 0;

	*off = 0;
	*lines = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (*off + (size_t)n > want_len ||
		    memcmp(line, want + *off, (size_t)n) != 0)
			mismatches++;
		*off += (size_t)n;
		(*lines)++;
	}
	free(line);
	return mismatches;
}

static void test_getline_matches_source_lines(void)
{
	FILE *f = ais_fopen(url_of("/text.txt"), "r");
	size_t want_len, off;
	unsigned char *want = harness_object(OBJ_TEXT, &want_len);
	int lines;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(getline_mismatches(f, want, want_len, &off, &lines), 0);
	CU_ASSERT_EQUAL(off, want_len);
	CU_ASSERT(lines > 100);
	CU_ASSERT(feof(f) && !ferror(f));
	free(want);
	fclose(f);
}

static void test_fgets_reads_first_line(void)
{
	FILE *f = ais_fopen(url_of("/text.txt"), "r");
	size_t want_len;
	unsigned char *want = harness_object(OBJ_TEXT, &want_len);
	char buf[64];
	size_t first_len = strcspn((char *)want, "\n") + 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof(buf), f));
	/* fgets stops at the newline or the buffer's end, whichever first. */
	if (first_len < sizeof(buf))
		CU_ASSERT_EQUAL(strlen(buf), first_len);
	CU_ASSERT_EQUAL(memcmp(buf, want, strlen(buf)), 0);
	free(want);
	fclose(f);
}

static void test_fseek_ftell_random_offsets(void)
{
	FILE *f = ais_fopen(url_of("/random.bin"), "rb");
	size_t want_len;
	unsigned char *want = harness_object(OBJ_RANDOM, &want_len);
	unsigned char buf[3000];
	unsigned int seed = 99;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int i = 0; i < 200; i++) {
		long off = (long)(rand_r(&seed) % want_len);
		int whence = i % 3;
		long arg = whence == SEEK_SET ? off :
		           whence == SEEK_CUR ? off - ftell(f) :
		           off - (long)want_len;
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf)) + 1;
		size_t expect = (size_t)off + n > want_len ? want_len - (size_t)off : n;

		CU_ASSERT_EQUAL_FATAL(fseek(f, arg, whence), 0);
		CU_ASSERT_EQUAL(ftell(f), off);
		CU_ASSERT_EQUAL(fread(buf, 1, n, f), expect);
		CU_ASSERT_EQUAL(memcmp(buf, want + off, expect), 0);
		CU_ASSERT_EQUAL(ftell(f), off + (long)expect);
	}
	rewind(f);
	CU_ASSERT_EQUAL(fgetc(f), want[0]);
	free(want);
	fclose(f);
}

static void test_fopen_missing_object_is_enoent(void)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(ais_fopen(url_of("/missing.bin"), "r"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "404"));
}

static void test_fread_failure_sets_ferror_and_last_error(void)
{
	struct ais_options o = fast_options();
	struct proxy p;
	ais_stream *s;
	FILE *f;
	char buf[65536];

	o.max_retries = 1;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "cut:1000000,503*"), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	f = ais_fdopen(s, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fread(buf, 1, sizeof(buf), f) == sizeof(buf))
		;
	CU_ASSERT(ferror(f));
	CU_ASSERT_EQUAL(errno, EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(ais_last_error(), "HTTP 503"));
	fclose(f);
	proxy_stop(&p);
}

static void test_fdopen_stats_show_one_copy(void)
{
	ais_stream *s = ais_open(url_of("/random.bin"), NULL);
	struct ais_stats st;
	FILE *f;
	static char buf[1 << 20];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	f = ais_fdopen(s, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fread(buf, 1, sizeof(buf), f) > 0)
		;
	ais_stats(s, &st);
	/* 1 MiB freads go straight from the fetch buffer to the caller. */
	CU_ASSERT_EQUAL(st.bytes_copied, 8 << 20);
	CU_ASSERT_EQUAL(st.bytes_delivered, 8 << 20);
	fclose(f);
}

/* Every fault kind on one stream: cut, reset, stall, 503, close; the
 * second schedule fits the 2 MiB text object. */
#define EVERY_FAULT "cut:1000000,reset:900000,stall:800000,503,close,pass"
#define EVERY_FAULT_TEXT "cut:700000,reset:600000,stall:500000,503,close,pass"

static FILE *open_through_faults(struct proxy *p, const char *schedule,
                                 const char *path, ais_stream **s)
{
	struct ais_options o = fast_options();

	o.connections = 1; /* one connection: the schedule applies in order */
	CU_ASSERT_EQUAL_FATAL(proxy_start(p, schedule), 0);
	*s = ais_open(proxied(p, path), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*s);
	return ais_fdopen(*s, "rb");
}

static void test_fread_through_every_fault_kind(void)
{
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	FILE *f = open_through_faults(&p, EVERY_FAULT, "/random.bin", &s);
	size_t cap = (8 << 20) + 1, used = 0, n;
	unsigned char *got = malloc(cap);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((n = fread(got + used, 1, 65536 < cap - used ? 65536 : cap - used,
	                  f)) > 0)
		used += n;
	CU_ASSERT(!ferror(f));
	assert_object_equal(OBJ_RANDOM, got, used);
	ais_stats(s, &st);
	/* cut, reset, stall, 503 and close each cost one failed attempt. */
	CU_ASSERT_EQUAL(st.failures, 5);
	CU_ASSERT_EQUAL(st.resumes, 5);
	free(got);
	fclose(f);
	proxy_stop(&p);
}

static void test_getline_through_every_fault_kind(void)
{
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	FILE *f = open_through_faults(&p, EVERY_FAULT_TEXT, "/text.txt", &s);
	size_t want_len, off;
	unsigned char *want = harness_object(OBJ_TEXT, &want_len);
	int lines;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(getline_mismatches(f, want, want_len, &off, &lines), 0);
	CU_ASSERT_EQUAL(off, want_len);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.failures, 5);
	CU_ASSERT_EQUAL(st.resumes, 5);
	free(want);
	fclose(f);
	proxy_stop(&p);
}

static void test_ais_read_through_every_fault_kind(void)
{
	struct ais_options o = fast_options();
	struct ais_stats st;
	struct proxy p;
	ais_stream *s;
	size_t cap = 8 << 20, used = 0;
	unsigned char *got = malloc(cap);
	ssize_t n;

	o.connections = 1;
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, EVERY_FAULT), 0);
	s = ais_open(proxied(&p, "/random.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	while ((n = ais_read(s, got + used, cap - used < 100000 ? cap - used : 100000)) > 0)
		used += (size_t)n;
	CU_ASSERT_EQUAL(n, 0);
	assert_object_equal(OBJ_RANDOM, got, used);
	ais_stats(s, &st);
	CU_ASSERT_EQUAL(st.failures, 5);
	CU_ASSERT_EQUAL(st.bytes_copied, 8 << 20);
	free(got);
	ais_close(s);
	proxy_stop(&p);
}

int register_stdio_suite(void)
{
	static const struct test_case tests[] = {
		{ "fread reads the whole object", test_fread_whole_object },
		{ "getline matches the source lines",
		  test_getline_matches_source_lines },
		{ "fgets reads the first line", test_fgets_reads_first_line },
		{ "fseek/ftell at random offsets", test_fseek_ftell_random_offsets },
		{ "ais_fopen of a missing object is ENOENT",
		  test_fopen_missing_object_is_enoent },
		{ "fread failure sets ferror and the last error",
		  test_fread_failure_sets_ferror_and_last_error },
		{ "ais_fdopen: stats show one copy", test_fdopen_stats_show_one_copy },
		{ "fread through every fault kind",
		  test_fread_through_every_fault_kind },
		{ "getline through every fault kind",
		  test_getline_through_every_fault_kind },
		{ "ais_read through every fault kind",
		  test_ais_read_through_every_fault_kind },
		{ NULL, NULL },
	};

	return add_suite("stdio FILE*", tests);
}
