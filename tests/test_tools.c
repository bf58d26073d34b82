/*
 * test_tools.c - examples/aiscat and examples/aistar as commands: -h, exit
 * status, errors on stderr, quiet when not on a terminal, listing, extraction
 * and extraction of named members.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "suites.h"

extern char **environ;

/* Path of examples/NAME: $AISCAT / $AISTAR from make check, else beside the
 * test binary's directory. */
static const char *tool(const char *name, const char *env)
{
	static char path[2][PATH_MAX];
	char *slot = path[name[3] == 't'];
	char self[PATH_MAX - 64];
	ssize_t n;

	if (getenv(env))
		return getenv(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(slot, PATH_MAX, "%s/../examples/%s", self, name);
	return slot;
}

struct run {
	int status;     /* exit status, or -1 when it did not exit */
	char *out;      /* what it printed, NUL-terminated, malloc'd */
	char *err;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	buf = malloc(1 << 20);
	len = fread(buf, 1, (1 << 20) - 1, f);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Run argv with stdin from /dev/null and stdout/stderr captured. */
static struct run run_tool(char *const argv[])
{
	struct run r = { -1, NULL, NULL };
	char out[PATH_MAX], err[PATH_MAX];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	snprintf(out, sizeof(out), "%s/tool.out", harness_dir());
	snprintf(err, sizeof(err), "%s/tool.err", harness_dir());
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
	    waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r.status = WEXITSTATUS(status);
	posix_spawn_file_actions_destroy(&fa);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static char *aiscat(void)
{
	return (char *)tool("aiscat", "AISCAT");
}

static char *aistar(void)
{
	return (char *)tool("aistar", "AISTAR");
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
		{ NULL, NULL },
	};

	return add_suite("example tools", tests);
}
