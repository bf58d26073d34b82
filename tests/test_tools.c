/*
 * test_tools.c - examples/aiscat and examples/aistar as commands: -h,
 * --version, exit status, errors on stderr, quiet when not on a terminal and
 * a progress line when on one, listing, extraction and extraction of named
 * members.  The tools that write (aisput, aistar -c) are in
 * test_tools_write.c, in the same suite.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "suites.h"

static char *aiscat(void)
{
	return (char *)tool_path("aiscat");
}

static char *aistar(void)
{
	return (char *)tool_path("aistar");
}

static void test_aiscat_help_exits_zero(void)
{
	char *argv[] = { aiscat(), "-h", NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage: aiscat"));
	run_free(&r);
}

static void test_aiscat_writes_object_and_stays_quiet(void)
{
	char *argv[] = { aiscat(), (char *)url_of("/random.bin"), NULL };
	char path[PATH_MAX];
	struct run r = run_tool(argv);
	unsigned char *got;
	size_t len = 0;
	FILE *f;

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	snprintf(path, sizeof(path), "%s/tool.out", harness_dir());
	f = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	got = malloc(9 << 20);
	len = fread(got, 1, 9 << 20, f);
	fclose(f);
	assert_object_equal(OBJ_RANDOM, got, len);
	free(got);
	run_free(&r);
}

static void test_aiscat_error_goes_to_stderr_with_status_1(void)
{
	char *argv[] = { aiscat(), (char *)url_of("/no-such.bin"), NULL };
	char *usage[] = { aiscat(), NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "aiscat: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "404 Not Found"));
	run_free(&r);
	r = run_tool(usage);
	CU_ASSERT_EQUAL(r.status, 2);
	run_free(&r);
}

/* Names of the regular files in the local copy of a tar, one per line. */
static char *local_listing(const char *name)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char path[PATH_MAX];
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);

	out[0] = '\0';
	archive_read_support_format_all(a);
	snprintf(path, sizeof(path), "%s/%s", harness_objdir(), name);
	if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK)
		while (archive_read_next_header(a, &e) == ARCHIVE_OK)
			len += (size_t)snprintf(out + len, cap - len, "%s\n",
			                        archive_entry_pathname(e));
	archive_read_free(a);
	return out;
}

static void test_aistar_lists_like_local(void)
{
	char *argv[] = { aistar(), "-t", (char *)url_of("/small.tar"), NULL };
	struct run r = run_tool(argv);
	char *want = local_listing(OBJ_SMALLTAR);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, want);
	free(want);
	run_free(&r);
}

/* Compare extracted file rel under dir with the same member read locally. */
static int extracted_matches(const char *dir, const char *rel)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char path[PATH_MAX];
	int same = 0;

	archive_read_support_format_all(a);
	snprintf(path, sizeof(path), "%s/%s", harness_objdir(), OBJ_SMALLTAR);
	archive_read_open_filename(a, path, 65536);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), rel))
			continue;
		size_t size = (size_t)archive_entry_size(e), n;
		char *want = malloc(size + 1), *got = malloc(size + 1);
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		f = fopen(path, "rb");
		n = f ? fread(got, 1, size + 1, f) : 0;
		if (f)
			fclose(f);
		same = f && n == size &&
		       archive_read_data(a, want, size) == (la_ssize_t)size &&
		       !memcmp(want, got, size);
		free(want);
		free(got);
		break;
	}
	archive_read_free(a);
	return same;
}

static void test_aistar_extracts_named_members(void)
{
	char dir[1024], probe[PATH_MAX];
	struct stat st;
	struct run r;

	snprintf(dir, sizeof(dir), "%s/extract-named", harness_dir());
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	{
		char *argv[] = { aistar(), "-x", "-C", dir,
		                 (char *)url_of("/small.tar"),
		                 "dir00/file0010.dat", "dir02/file0070.dat", NULL };

		r = run_tool(argv);
	}
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(extracted_matches(dir, "dir00/file0010.dat"));
	CU_ASSERT(extracted_matches(dir, "dir02/file0070.dat"));
	/* Nothing else came out. */
	snprintf(probe, sizeof(probe), "%s/dir05", dir);
	CU_ASSERT_NOT_EQUAL(stat(probe, &st), 0);
	run_free(&r);
}

static void test_aistar_extracts_everything(void)
{
	char dir[1024];
	struct run r;

	snprintf(dir, sizeof(dir), "%s/extract-all", harness_dir());
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	{
		char *argv[] = { aistar(), "-x", "-C", dir,
		                 (char *)url_of("/small.tar"), NULL };

		r = run_tool(argv);
	}
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(extracted_matches(dir, "dir00/file0000.dat"));
	CU_ASSERT(extracted_matches(dir, "dir09/file0299.dat"));
	CU_ASSERT(extracted_matches(dir, "dir05/file0150.dat"));
	run_free(&r);
}

static void test_aistar_missing_member_exits_1(void)
{
	char *argv[] = { aistar(), "-t", (char *)url_of("/small.tar"),
	                 "no/such/member", NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "no/such/member"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not found in archive"));
	run_free(&r);
}

static void test_tools_print_their_version(void)
{
	char *cat[] = { aiscat(), "--version", NULL };
	char *tar[] = { aistar(), "--version", NULL };
	char *put[] = { (char *)tool_path("aisput"), "--version", NULL };
	char want[128];
	struct run r = run_tool(cat);

	CU_ASSERT_EQUAL(r.status, 0);
	snprintf(want, sizeof(want), "aiscat (aisfile) %s\n", ais_version());
	CU_ASSERT_STRING_EQUAL(r.out, want);
	run_free(&r);
	r = run_tool(tar);
	CU_ASSERT_EQUAL(r.status, 0);
	snprintf(want, sizeof(want), "aistar (aisfile) %s\n", ais_version());
	CU_ASSERT_STRING_EQUAL(r.out, want);
	run_free(&r);
	r = run_tool(put);
	CU_ASSERT_EQUAL(r.status, 0);
	snprintf(want, sizeof(want), "aisput (aisfile) %s\n", ais_version());
	CU_ASSERT_STRING_EQUAL(r.out, want);
	run_free(&r);
}

static void expect_in(const char *text, const char *words)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(text, words));
	if (!strstr(text, words))
		fprintf(stderr, "\n  expected '%s' in:\n%s\n", words, text);
}

/* The first piece draws the line at once, with the size known from the
 * first reply: percent, rate and time left; the last one the totals. */
static void test_aiscat_progress_on_a_terminal(void)
{
	char *argv[] = { aiscat(), (char *)url_of("/random.bin"), NULL };
	struct run r = run_tool_on_terminal(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "% ");
	expect_in(r.err, " of 8.0 MiB, ");
	expect_in(r.err, " MB/s, ETA ");
	expect_in(r.err, "8.0 MiB of 8.0 MiB in ");
	expect_in(r.err, ", 0 resumes");
	run_free(&r);
}

static void test_aiscat_q_on_a_terminal_is_silent(void)
{
	char *argv[] = { aiscat(), "-q", (char *)url_of("/random.bin"), NULL };
	struct run r = run_tool_on_terminal(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	run_free(&r);
}

static void test_aistar_progress_on_a_terminal(void)
{
	char *argv[] = { aistar(), "-t", (char *)url_of("/small.tar"), NULL };
	struct run r = run_tool_on_terminal(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "% ");
	expect_in(r.err, ", ETA ");
	expect_in(r.err, "310 members, "); /* 300 files, 10 directories */
	expect_in(r.err, " received, 0 resumes");
	run_free(&r);
}

int register_tools_suite(void)
{
	static const struct test_case tests[] = {
		{ "aiscat -h exits 0", test_aiscat_help_exits_zero },
		{ "aiscat writes the object and stays quiet",
		  test_aiscat_writes_object_and_stays_quiet },
		{ "aiscat error goes to stderr with status 1",
		  test_aiscat_error_goes_to_stderr_with_status_1 },
		{ "aistar lists like the local tar", test_aistar_lists_like_local },
		{ "aistar extracts named members",
		  test_aistar_extracts_named_members },
		{ "aistar extracts everything", test_aistar_extracts_everything },
		{ "aistar missing member exits 1", test_aistar_missing_member_exits_1 },
		{ "the tools print their version", test_tools_print_their_version },
		{ "aiscat progress on a terminal", test_aiscat_progress_on_a_terminal },
		{ "aiscat -q on a terminal is silent",
		  test_aiscat_q_on_a_terminal_is_silent },
		{ "aistar progress on a terminal", test_aistar_progress_on_a_terminal },
		{ NULL, NULL },
	};

	CU_pSuite suite;

	if (add_suite("example tools", tests) < 0 ||
	    !(suite = CU_get_suite("example tools")))
		return -1;
	for (const struct test_case *t = tools_write_tests; t->name; t++)
		if (!CU_add_test(suite, t->name, t->fn))
			return -1;
	return 0;
}
