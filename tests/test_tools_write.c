/*
 * test_tools_write.c - the tools that write, as commands: examples/aisput
 * and aistar -c, against nginx's WebDAV (/dav/, stored in
 * harness_davdir()) and the object server's gateway (objharness.h, with
 * small parts so that a few MiB make a multipart upload).  What they store
 * is read back from disk, and archives are extracted again with aistar -x
 * and compared with their source, file by file.  Part of the "example
 * tools" suite (test_tools.c registers these too).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "objharness.h"
#include "suites.h"
#include "writing.h"

#define BUCKET "tools"
/* Parts the tools use on the object server (AIS_PART_SIZE), and the size
 * of the large file of the tests: several parts. */
#define PART_SIZE "64K"
#define PART (64 * 1024)
#define BIG_SIZE ((3 << 20) + 12345)
#define BIG_PARTS ((BIG_SIZE + PART - 1) / PART)
#define BSDTAR "/usr/bin/bsdtar"

static char *aisput(void)
{
	return (char *)tool_path("aisput");
}

static char *aistar(void)
{
	return (char *)tool_path("aistar");
}

static void expect_in(const char *text, const char *words)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(text, words));
	if (!strstr(text, words))
		fprintf(stderr, "\n  expected '%s' in:\n%s\n", words, text);
}

/* ---- what the tools run with -------------------------------------------------- */

/*
 * Run argv with vars ("NAME=VALUE", NULL-terminated; NULL for none) added
 * to the environment it inherits, removed again afterwards so that the
 * test binary's own streams never see them; with stdin fed data when data
 * is not NULL.
 */
static struct run run_with(char *const vars[], char *const argv[],
                           const void *data, size_t len)
{
	char name[64];
	struct run r;

	for (int i = 0; vars && vars[i]; i++) {
		snprintf(name, sizeof(name), "%.*s",
		         (int)strcspn(vars[i], "="), vars[i]);
		setenv(name, strchr(vars[i], '=') + 1, 1);
	}
	r = data ? run_tool_fed(argv, data, len) : run_tool(argv);
	for (int i = 0; vars && vars[i]; i++) {
		snprintf(name, sizeof(name), "%.*s",
		         (int)strcspn(vars[i], "="), vars[i]);
		unsetenv(name);
	}
	return r;
}

static char *small_parts[] = { "AIS_PART_SIZE=" PART_SIZE, NULL };

/* "AIS_ENDPOINT=" the gateway, and small parts, for ais:// URIs. */
static char **gateway_env(void)
{
	static char endpoint[64];
	static char *vars[] = { endpoint, "AIS_PART_SIZE=" PART_SIZE, NULL };

	snprintf(endpoint, sizeof(endpoint), "AIS_ENDPOINT=http://127.0.0.1:%d",
	         objsrv_port(OBJSRV_GATEWAY));
	return vars;
}

/* The gateway URL of object NAME in the test bucket. */
static char *gateway_url(const char *name)
{
	char *out = url_slot(), path[256];

	snprintf(path, sizeof(path), BUCKET "/%s", name);
	objsrv_url(out, URL_SLOT_SIZE, path);
	return out;
}

static char *dav_url(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/dav/%s", name);
	return (char *)url_of(path);
}

/* What earlier tests left in the store: a test must add nothing to it. */
static int leftovers_before;

/* The object server, running, with its counters at zero and no fault. */
static void objsrv_ready(void)
{
	CU_ASSERT_EQUAL_FATAL(objsrv_start(), 0);
	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	leftovers_before = objsrv_leftovers();
	CU_ASSERT_FATAL(leftovers_before >= 0);
}

static int new_leftovers(void)
{
	return objsrv_leftovers() - leftovers_before;
}

static char *dav_path(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", harness_davdir(), name);
	return path;
}

static void assert_dav_pattern(const char *name, size_t size, unsigned seed)
{
	size_t len = 0;
	unsigned char *got = (unsigned char *)harness_read_file(dav_path(name), &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(len, size);
	CU_ASSERT(len == size && pattern_matches(got, len, 0, seed));
	free(got);
}

/* ---- files and trees ------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;

	if (f && fclose(f) != 0)
		rc = -1;
	return rc;
}

/* A file of size pattern bytes of seed under the harness dir; its path. */
static const char *pattern_file(const char *name, size_t size, unsigned seed)
{
	static char path[PATH_MAX];
	unsigned char *data = malloc(size ? size : 1);

	snprintf(path, sizeof(path), "%s/%s", harness_dir(), name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	fill_pattern(data, size, 0, seed);
	CU_ASSERT_EQUAL(write_file(path, data, size), 0);
	free(data);
	return path;
}

static unsigned char *pattern_bytes(size_t size, unsigned seed)
{
	unsigned char *data = malloc(size);

	if (data)
		fill_pattern(data, size, 0, seed);
	return data;
}

/*
 * The source of the archives, made once: DIR/tree-src/tree with
 * directories (one empty), files of 0 bytes, a few bytes and a few MiB, a
 * symbolic link and a hard link.  Returns DIR/tree-src, which aistar -c
 * gets as -C, with "tree" as its PATH.
 */
static const char *source_tree(void)
{
	static char root[1024];
	static const char *const dirs[] = { "tree", "tree/sub", "tree/sub/deeper",
	                                    "tree/sub/empty-dir" };
	char path[PATH_MAX], target[PATH_MAX];
	unsigned char *big;

	if (root[0])
		return root;
	snprintf(root, sizeof(root), "%s/tree-src", harness_dir());
	CU_ASSERT_EQUAL_FATAL(mkdir(root, 0755), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	}
	snprintf(path, sizeof(path), "%s/tree/empty.txt", root);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "", 0), 0);
	snprintf(path, sizeof(path), "%s/tree/small.txt", root);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "a few bytes\n", 12), 0);
	snprintf(path, sizeof(path), "%s/tree/sub/deeper/note.txt", root);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "deeper\n", 7), 0);
	big = pattern_bytes(BIG_SIZE, 21);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	snprintf(path, sizeof(path), "%s/tree/sub/big.bin", root);
	CU_ASSERT_EQUAL_FATAL(write_file(path, big, BIG_SIZE), 0);
	free(big);
	snprintf(path, sizeof(path), "%s/tree/link-to-big", root);
	CU_ASSERT_EQUAL_FATAL(symlink("sub/big.bin", path), 0);
	snprintf(target, sizeof(target), "%s/tree/small.txt", root);
	snprintf(path, sizeof(path), "%s/tree/sub/hard-link.txt", root);
	CU_ASSERT_EQUAL_FATAL(link(target, path), 0);
	return root;
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static int same_file(const char *a, const char *b, const struct stat *sa,
                     const struct stat *sb)
{
	char la[PATH_MAX] = "", lb[PATH_MAX] = "";
	size_t na = 0, nb = 0;
	char *da, *db;
	int same;

	if ((sa->st_mode & S_IFMT) != (sb->st_mode & S_IFMT))
		return 0;
	if (S_ISLNK(sa->st_mode))
		return readlink(a, la, sizeof(la) - 1) > 0 &&
		       readlink(b, lb, sizeof(lb) - 1) > 0 && !strcmp(la, lb);
	if (!S_ISREG(sa->st_mode))
		return 1;
	if (sa->st_size != sb->st_size)
		return 0;
	da = harness_read_file(a, &na);
	db = harness_read_file(b, &nb);
	same = da && db && na == nb && memcmp(da, db, na) == 0;
	free(da);
	free(db);
	return same;
}

/* Whether directories a and b hold the same names, types, sizes, bytes
 * and link targets, all the way down; the first difference on stderr. */
static int same_tree(const char *a, const char *b)
{
	struct dirent **in_a = NULL, **in_b = NULL;
	int na = scandir(a, &in_a, skip_dots, alphasort);
	int nb = scandir(b, &in_b, skip_dots, alphasort);
	int same = na >= 0 && na == nb;

	if (!same)
		fprintf(stderr, "\n  %s has %d entries, %s %d\n", a, na, b, nb);
	for (int i = 0; same && i < na; i++) {
		char pa[PATH_MAX], pb[PATH_MAX];
		struct stat sa, sb;

		snprintf(pa, sizeof(pa), "%s/%s", a, in_a[i]->d_name);
		snprintf(pb, sizeof(pb), "%s/%s", b, in_b[i]->d_name);
		same = strcmp(in_a[i]->d_name, in_b[i]->d_name) == 0 &&
		       lstat(pa, &sa) == 0 && lstat(pb, &sb) == 0 &&
		       same_file(pa, pb, &sa, &sb);
		if (!same)
			fprintf(stderr, "\n  %s and %s differ\n", pa, pb);
		else if (S_ISDIR(sa.st_mode))
			same = same_tree(pa, pb);
	}
	for (int i = 0; i < na; i++)
		free(in_a[i]);
	for (int i = 0; i < nb; i++)
		free(in_b[i]);
	free(in_a);
	free(in_b);
	return same;
}

/* A new empty directory DIR/name; its path (valid until the next call). */
static const char *new_dir(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", harness_dir(), name);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	return path;
}

/* aistar -x url into a new directory DIR/name, and compare what came out
 * with the source tree. */
static void assert_extracts_to_the_source(char *const vars[], const char *url,
                                          const char *name)
{
	char into[PATH_MAX], tree[PATH_MAX + 8], source[PATH_MAX + 8];
	char *argv[] = { aistar(), "-x", "-C", into, (char *)url, NULL };
	struct run r;

	snprintf(into, sizeof(into), "%s", new_dir(name));
	r = run_with(vars, argv, NULL, 0);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	snprintf(tree, sizeof(tree), "%s/tree", into);
	snprintf(source, sizeof(source), "%s/tree", source_tree());
	CU_ASSERT(same_tree(source, tree));
	run_free(&r);
}

/* aistar -c -C SOURCE url tree, with vars; asserts it succeeded quietly. */
static void create_from_source(char *const vars[], const char *url)
{
	char *argv[] = { aistar(), "-c", "-C", (char *)source_tree(),
	                 (char *)url, "tree", NULL };
	struct run r = run_with(vars, argv, NULL, 0);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	CU_ASSERT_STRING_EQUAL(r.out, "");
	run_free(&r);
}

/*
 * Assert that the archive in data (*len bytes; NULL fails) is of format
 * (a family such as ARCHIVE_FORMAT_TAR, or one exact format) with filter
 * next to it, as libarchive reads them.  Frees data.
 */
static void assert_archive_kind(void *data, const size_t *len, int format,
                                int filter)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int got_format = 0, got_filter = -1;

	CU_ASSERT_PTR_NOT_NULL(data);
	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	if (data && archive_read_open_memory(a, data, *len) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK) {
		got_format = archive_format(a);
		got_filter = archive_filter_code(a, 0);
	}
	archive_read_free(a);
	if (format == (format & ARCHIVE_FORMAT_BASE_MASK))
		got_format &= ARCHIVE_FORMAT_BASE_MASK;
	CU_ASSERT_EQUAL(got_format, format);
	CU_ASSERT_EQUAL(got_filter, filter);
	free(data);
}

/* ---- aisput -------------------------------------------------------------------- */

static void test_aisput_stores_a_file_on_webdav(void)
{
	char *argv[] = { aisput(), dav_url("put-file.bin"),
	                 (char *)pattern_file("put-file.src", BIG_SIZE, 31), NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	CU_ASSERT_STRING_EQUAL(r.out, "");
	assert_dav_pattern("put-file.bin", BIG_SIZE, 31);
	run_free(&r);
}

/* Larger than a part, of a size nobody knows: one chunked PUT. */
static void test_aisput_streams_stdin_to_webdav(void)
{
	char *argv[] = { aisput(), dav_url("put-stdin.bin"), NULL };
	unsigned char *data = pattern_bytes(BIG_SIZE, 32);
	struct run r = run_with(small_parts, argv, data, BIG_SIZE);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	assert_dav_pattern("put-stdin.bin", BIG_SIZE, 32);
	free(data);
	run_free(&r);
}

static void test_aisput_stores_a_file_in_parts(void)
{
	struct run r;

	objsrv_ready();
	char *argv[] = { aisput(), gateway_url("put-file.bin"),
	                 (char *)pattern_file("put-mpt.src", BIG_SIZE, 33), NULL };

	r = run_with(small_parts, argv, NULL, 0);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("part"), BIG_PARTS);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, "put-file.bin", BIG_SIZE, 33));
	run_free(&r);
}

static void test_aisput_stores_stdin_in_parts_through_an_ais_uri(void)
{
	char *argv[] = { aisput(), "-v", "ais://" BUCKET "/put-stdin.bin", NULL };
	unsigned char *data = pattern_bytes(BIG_SIZE, 34);
	char counters[128];
	struct run r;

	objsrv_ready();
	r = run_with(gateway_env(), argv, data, BIG_SIZE);
	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "aisput: part_size: 64 KiB (AIS_PART_SIZE)\n");
	snprintf(counters, sizeof(counters), " uploaded=%d parts=%d copied=%d\n",
	         BIG_SIZE, BIG_PARTS, BIG_SIZE);
	expect_in(r.err, counters);
	CU_ASSERT_EQUAL(objsrv_stat("part"), BIG_PARTS);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(stored_matches_pattern(BUCKET, "put-stdin.bin", BIG_SIZE, 34));
	free(data);
	run_free(&r);
}

static void test_aisput_refused_fails_with_the_servers_words(void)
{
	char *argv[] = { aisput(), (char *)url_of("/forbidden"), NULL };
	struct run r = run_tool_fed(argv, "refused\n", 8);

	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	CU_ASSERT_EQUAL(strncmp(r.err, "aisput: http://", 15), 0);
	expect_in(r.err, "/forbidden");
	expect_in(r.err, "HTTP 403 Forbidden");
	expect_in(r.err, "forbidden by policy");
	run_free(&r);
}

static void test_aisput_missing_file_sends_nothing(void)
{
	char *argv[] = { aisput(), dav_url("put-missing.bin"), "/no/such/file",
	                 NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.err, "aisput: /no/such/file: No such file or directory\n");
	CU_ASSERT_NOT_EQUAL(access(dav_path("put-missing.bin"), F_OK), 0);
	run_free(&r);
}

/*
 * SIGINT while parts are out: once the test has written 4 MiB into the
 * pipe, aisput has read all but a pipe's worth, more than its buffers hold
 * (5 parts of 64 KiB), so the upload has begun.  The input then ends, which
 * must not commit what came before.
 */
static void test_aisput_interrupted_stores_nothing(void)
{
	size_t len = 4 << 20;
	unsigned char *data = pattern_bytes(len, 35);
	struct run r;
	pid_t pid;
	int feed;

	objsrv_ready();
	char *argv[] = { aisput(), gateway_url("put-interrupted.bin"), NULL };

	setenv("AIS_PART_SIZE", PART_SIZE, 1);
	pid = start_tool_fed(argv, &feed);
	unsetenv("AIS_PART_SIZE");
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(feed_tool(feed, data, len), 0);
	CU_ASSERT(objsrv_stat("part") >= 1);
	CU_ASSERT_EQUAL(kill(pid, SIGINT), 0);
	close(feed);
	r = finish_tool(pid);
	CU_ASSERT_EQUAL(r.status, 128 + SIGINT);
	CU_ASSERT_STRING_EQUAL(r.err, "aisput: interrupted: nothing was stored\n");
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 0);
	CU_ASSERT_EQUAL(objsrv_stat("abort"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(not_stored(BUCKET, "put-interrupted.bin"));
	free(data);
	run_free(&r);
}

/* A file's size is known: percent and time left, then the totals. */
static void test_aisput_progress_on_a_terminal(void)
{
	char *argv[] = { aisput(), dav_url("put-progress.bin"),
	                 (char *)pattern_file("put-progress.src", BIG_SIZE, 36),
	                 NULL };
	struct run r = run_tool_on_terminal(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "% ");
	expect_in(r.err, " of 3.0 MiB, ");
	expect_in(r.err, " MB/s, ETA ");
	expect_in(r.err, "3.0 MiB of 3.0 MiB in ");
	expect_in(r.err, " uploaded, 0 resends");
	assert_dav_pattern("put-progress.bin", BIG_SIZE, 36);
	run_free(&r);
}

/* ---- aistar -c ------------------------------------------------------------------ */

/* .tar: pax restricted, in parts through the gateway. */
static void test_aistar_creates_a_tar_in_parts(void)
{
	size_t len = 0;

	objsrv_ready();
	char *url = gateway_url("tree.tar");

	create_from_source(small_parts, url);
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT(objsrv_stat("part") >= BIG_PARTS);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	assert_archive_kind(objsrv_read_object(BUCKET, "tree.tar", &len), &len,
	                    ARCHIVE_FORMAT_TAR, ARCHIVE_FILTER_NONE);
	assert_extracts_to_the_source(NULL, url, "from-tar");
}

static void test_aistar_creates_a_tar_gz_through_an_ais_uri(void)
{
	char *url = "ais://" BUCKET "/tree.tar.gz";
	size_t len = 0;

	objsrv_ready();
	create_from_source(gateway_env(), url);
	CU_ASSERT_EQUAL(objsrv_stat("complete") + objsrv_stat("put"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	assert_archive_kind(objsrv_read_object(BUCKET, "tree.tar.gz", &len), &len,
	                    ARCHIVE_FORMAT_TAR, ARCHIVE_FILTER_GZIP);
	assert_extracts_to_the_source(gateway_env(), url, "from-tar-gz");
}

static void test_aistar_creates_a_zip_on_webdav(void)
{
	char *url = dav_url("tree.zip");
	size_t len = 0;

	create_from_source(NULL, url);
	assert_archive_kind(harness_read_file(dav_path("tree.zip"), &len), &len,
	                    ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE);
	assert_extracts_to_the_source(NULL, url, "from-zip");
}

/* Where bsdtar is installed, aistar -c stores the very bytes that
 * bsdtar -a -cf writes to a file (both walk with archive_read_disk).  Not
 * zip, which records access times that the first reader changes, nor gzip,
 * whose header holds the time of writing. */
static void test_aistar_stores_what_bsdtar_writes(void)
{
	static const char *const names[] = { "same.tar", "same.tar.xz", "same.cpio" };

	if (access(BSDTAR, X_OK) != 0) {
		fprintf(stderr, "(no %s: not compared) ", BSDTAR);
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char local[PATH_MAX];
		char *argv[] = { BSDTAR, "-a", "-cf", local, "-C",
		                 (char *)source_tree(), "tree", NULL };
		char *want, *got;
		size_t want_len = 0, got_len = 0;
		struct run r;

		snprintf(local, sizeof(local), "%s/bsdtar-%s", harness_dir(), names[i]);
		r = run_tool(argv);
		CU_ASSERT_EQUAL(r.status, 0);
		run_free(&r);
		create_from_source(NULL, dav_url(names[i]));
		want = harness_read_file(local, &want_len);
		got = harness_read_file(dav_path(names[i]), &got_len);
		CU_ASSERT_PTR_NOT_NULL(want);
		CU_ASSERT_PTR_NOT_NULL(got);
		CU_ASSERT(want && got && want_len == got_len &&
		          memcmp(want, got, want_len) == 0);
		if (!want || !got || want_len != got_len || memcmp(want, got, want_len))
			fprintf(stderr, "\n  %s differs from bsdtar's\n", names[i]);
		free(want);
		free(got);
	}
}

static void test_aistar_format_options_override_the_name(void)
{
	size_t len = 0;
	struct run r;

	objsrv_ready();
	char *argv[] = { aistar(), "-c", "--format", "cpio", "-z", "-C",
	                 (char *)source_tree(), gateway_url("override.tar"),
	                 "tree", NULL };

	r = run_tool(argv);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	assert_archive_kind(objsrv_read_object(BUCKET, "override.tar", &len), &len,
	                    ARCHIVE_FORMAT_CPIO_POSIX, ARCHIVE_FILTER_GZIP);
	run_free(&r);
	assert_extracts_to_the_source(NULL, gateway_url("override.tar"),
	                              "from-override");
}

/* newc stores a file's data with its last name: a hard link whose other
 * name is not archived is held back to the end, then read from its file. */
static void test_aistar_newc_keeps_the_data_of_a_lone_hard_link(void)
{
	char *argv[] = { aistar(), "-c", "--format", "newc", "-C",
	                 (char *)source_tree(), dav_url("lone-link.cpio"),
	                 "tree/sub/hard-link.txt", "tree/sub/deeper", NULL };
	char into[PATH_MAX], path[PATH_MAX + 32];
	size_t len = 0;
	struct run r = run_tool(argv);
	char *got;

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	run_free(&r);
	snprintf(into, sizeof(into), "%s", new_dir("from-newc"));
	{
		char *extract[] = { aistar(), "-x", "-C", into,
		                    dav_url("lone-link.cpio"), NULL };

		r = run_tool(extract);
	}
	CU_ASSERT_EQUAL(r.status, 0);
	run_free(&r);
	snprintf(path, sizeof(path), "%s/tree/sub/hard-link.txt", into);
	got = harness_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL(got);
	CU_ASSERT(got && len == 12 && memcmp(got, "a few bytes\n", 12) == 0);
	free(got);
	snprintf(path, sizeof(path), "%s/tree/sub/deeper/note.txt", into);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
}

/* The missing path comes after the tree: parts were out, and are aborted. */
static void test_aistar_missing_path_stores_nothing(void)
{
	struct run r;

	objsrv_ready();
	char *argv[] = { aistar(), "-c", "-C", (char *)source_tree(),
	                 gateway_url("missing.tar"), "tree", "no-such-path", NULL };

	r = run_with(small_parts, argv, NULL, 0);
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.err, "aistar: no-such-path: Cannot stat: "
	                              "No such file or directory\n");
	CU_ASSERT(objsrv_stat("part") >= 1);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 0);
	CU_ASSERT_EQUAL(objsrv_stat("abort"), 1);
	CU_ASSERT_EQUAL(new_leftovers(), 0);
	CU_ASSERT(not_stored(BUCKET, "missing.tar"));
	run_free(&r);
}

/* A small archive is one PUT, at the commit: the close must fail. */
static void test_aistar_refused_commit_fails_with_the_servers_words(void)
{
	char *argv[] = { aistar(), "-c", "-C", (char *)source_tree(),
	                 (char *)url_of("/forbidden"), "tree/small.txt", NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_EQUAL(strncmp(r.err, "aistar: http://", 15), 0);
	expect_in(r.err, "HTTP 403 Forbidden");
	expect_in(r.err, "forbidden by policy");
	run_free(&r);
}

static void test_aistar_v_lists_members_as_written(void)
{
	char *argv[] = { aistar(), "-c", "-v", "-C", (char *)source_tree(),
	                 dav_url("listed.tar"), "tree/small.txt", "tree/sub/deeper",
	                 NULL };
	struct run r = run_tool(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "\na tree/small.txt\na tree/sub/deeper/\n"
	                 "a tree/sub/deeper/note.txt\naistar: members=3 ");
	run_free(&r);
}

static void test_aistar_c_needs_a_path(void)
{
	char *no_path[] = { aistar(), "-c", dav_url("none.tar"), NULL };
	char *format_listing[] = { aistar(), "-t", "--format", "zip",
	                           (char *)url_of("/small.tar"), NULL };
	struct run r = run_tool(no_path);

	CU_ASSERT_EQUAL(r.status, 2);
	expect_in(r.err, "usage: aistar");
	run_free(&r);
	r = run_tool(format_listing);
	CU_ASSERT_EQUAL(r.status, 2);
	run_free(&r);
	CU_ASSERT_NOT_EQUAL(access(dav_path("none.tar"), F_OK), 0);
}

/* The first walk knows the total: percent and time left, the members. */
static void test_aistar_c_progress_on_a_terminal(void)
{
	char *argv[] = { aistar(), "-c", "-C", (char *)source_tree(),
	                 dav_url("progress.tar"), "tree", NULL };
	struct run r = run_tool_on_terminal(argv);

	CU_ASSERT_EQUAL(r.status, 0);
	expect_in(r.err, "% ");
	expect_in(r.err, " MB/s, ETA ");
	expect_in(r.err, "10 members, "); /* 4 dirs, 5 files, 1 symlink */
	expect_in(r.err, " archive, 0 resends");
	run_free(&r);
}

const struct test_case tools_write_tests[] = {
	{ "aisput stores a file on WebDAV", test_aisput_stores_a_file_on_webdav },
	{ "aisput streams stdin to WebDAV", test_aisput_streams_stdin_to_webdav },
	{ "aisput stores a file in parts", test_aisput_stores_a_file_in_parts },
	{ "aisput stores stdin in parts through an ais:// URI",
	  test_aisput_stores_stdin_in_parts_through_an_ais_uri },
	{ "aisput refused fails with the server's words",
	  test_aisput_refused_fails_with_the_servers_words },
	{ "aisput of a missing file sends nothing",
	  test_aisput_missing_file_sends_nothing },
	{ "aisput interrupted stores nothing",
	  test_aisput_interrupted_stores_nothing },
	{ "aisput progress on a terminal", test_aisput_progress_on_a_terminal },
	{ "aistar -c creates a tar in parts", test_aistar_creates_a_tar_in_parts },
	{ "aistar -c creates a tar.gz through an ais:// URI",
	  test_aistar_creates_a_tar_gz_through_an_ais_uri },
	{ "aistar -c creates a zip on WebDAV", test_aistar_creates_a_zip_on_webdav },
	{ "aistar -c stores what bsdtar writes",
	  test_aistar_stores_what_bsdtar_writes },
	{ "aistar -c format options override the name",
	  test_aistar_format_options_override_the_name },
	{ "aistar -c newc keeps the data of a lone hard link",
	  test_aistar_newc_keeps_the_data_of_a_lone_hard_link },
	{ "aistar -c with a missing path stores nothing",
	  test_aistar_missing_path_stores_nothing },
	{ "aistar -c refused commit fails with the server's words",
	  test_aistar_refused_commit_fails_with_the_servers_words },
	{ "aistar -c -v lists members as written",
	  test_aistar_v_lists_members_as_written },
	{ "aistar -c needs a path", test_aistar_c_needs_a_path },
	{ "aistar -c progress on a terminal", test_aistar_c_progress_on_a_terminal },
	{ NULL, NULL },
};
