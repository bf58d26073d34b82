/*
 * aisbench - how fast aisfile streams an object, next to what a pipeline
 * uses today (curl, curl | bsdtar), against a local nginx.
 *
 *     aisbench [--quick] [--reps N]
 *
 * One run generates tars of random data on tmpfs, serves them with Debian's
 * nginx on 127.0.0.1, and times every contender in turn, repetition after
 * repetition, so that drift of the machine hits all of them alike.  It
 * prints the median GB/s (10^9 object bytes per second) and the ratios the
 * read-ahead work aims at; parallel ranged fetching against a server that
 * throttles each connection; the peak RSS of aistar on a small and a large
 * tar; the bytes the library copied per byte it delivered; and last a
 * Markdown summary for the README.  Results go to stdout, progress to stderr.
 *
 *   --quick    divide every size by 8 (also AISBENCH_QUICK=1): a smoke run
 *   --reps N   repetitions of every measurement (default 3)
 *
 * Environment: AISTAR (examples/aistar; else found next to this program),
 * NGINX (default /usr/sbin/nginx), and the library's own AIS_* variables,
 * which apply to every aisfile contender except where a section sets its
 * options explicitly (the throttled test).
 *
 * Exit status: 0 every measurement ran (whether or not targets were met),
 * 1 something failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aisfile.h>

#include "benchutil.h"

/* The fread contender's buffer. */
#define COPY_BUFFER_SIZE MIB
#define DEFAULT_REPS 3

/*
 * nginx limit_rate of the /slow/ location: 50 MiB/s per connection.  nginx
 * sends up to sendfile_max_chunk at once and only then waits for it (2 MiB
 * by default), so a request shorter than that would go out unthrottled;
 * 256k makes the wait 5 ms, exactly, at 50m.
 */
#define SLOW_RATE "50m"
#define SLOW_RATE_BYTES (50.0 * 1024 * 1024)
#define SLOW_RATE_LABEL "50 MiB/s"
#define SLOW_CHUNK "256k"
#define SLOW_CHUNK_BYTES (256 * KIB)
/* Options of the throttled test (divided by the scale in --quick); a part
 * spans at least 8 throttled sends, so its first, unthrottled send adds
 * little. */
#define THROTTLED_READAHEAD (128 * MIB)
#define THROTTLED_PART_SIZE (8 * MIB)
#define THROTTLED_MIN_PART_SIZE (8 * SLOW_CHUNK_BYTES)

/* aisfile.h: readahead_bytes defaults to 64 MiB; off, the stream keeps one
 * chunk_size (4 MiB) buffer. */
#define DEFAULT_READAHEAD (64 * MIB)
#define READAHEAD_OFF_BUFFER (4 * MIB)
/* What a process needs besides the stream's buffers: code, libcurl,
 * libarchive, stacks. */
#define RSS_SLACK (16 * MIB)
/* The large tar's peak RSS may exceed the small one's by this factor. */
#define RSS_GROWTH_LIMIT 1.10

/* Space the largest phase needs on the work dir's file system: the 256 MiB
 * and the 2 GiB tar, and the 2 GiB tar extracted, plus room. */
#define SPACE_NEEDED (4 * GIB + 768 * MIB)

/* A measurement that has not finished after WATCHDOG_BASE_S plus one second
 * per WATCHDOG_MIN_RATE bytes of the object is declared hung. */
#define WATCHDOG_BASE_S 60
#define WATCHDOG_MIN_RATE (10 * 1000 * 1000)

/* A tar of random members, generated on tmpfs and served by nginx. */
struct object {
	char label[80];        /* "1 GiB tar of 1 MiB members" */
	char path[PATH_MAX];
	char url[128];         /* full speed */
	char slow_url[128];    /* through limit_rate */
	uint64_t data_bytes;   /* the members' sizes added up */
	uint64_t member_bytes; /* each member but the last, which holds the rest */
	uint64_t members;
	uint64_t file_bytes;   /* the tar's size: what a GB/s figure counts */
};

/* What one timed run reports. */
struct sample {
	double seconds;
	long maxrss_kib;          /* subprocesses: wait4's ru_maxrss */
	bool have_counters;       /* the library's counters below are known */
	uint64_t copied, delivered;
};

/* All runs of one contender on one object. */
struct series {
	double seconds[BENCH_MAX_REPS];
	int ok, failed;
	long maxrss_kib;          /* the largest of all runs */
	bool have_counters;
	uint64_t copied, delivered; /* added up over the runs */
};

struct contender;
typedef int (*contender_run)(const struct object *obj, const struct contender *c,
			     struct sample *out);

struct contender {
	const char *name;
	contender_run run;
	bool in_process;    /* aisfile called from this program (in a forked child) */
	bool extracts;      /* writes the members into the extraction dir */
	bool slow;          /* reads the throttled location */
	bool via_wrapper;   /* aistar through its libtool wrapper script */
	int connections;    /* > 0: ais_options of the throttled test */
};

static struct {
	char objdir[PATH_MAX];
	char xdir[PATH_MAX];     /* extraction target, emptied after every run */
	struct bench_nginx nginx;
	char aistar[PATH_MAX];         /* the program run for aistar -x */
	char aistar_wrapper[PATH_MAX]; /* its libtool wrapper; "" if none */
	char **aistar_env;
	int home_fd;             /* cwd at start; in-process extraction leaves it */
	char *buffer;            /* the fread contender's */
	uint64_t prng_state;
} bench;

/* ---- the work dir ---------------------------------------------------------- */

static unsigned watchdog_seconds(const struct object *obj)
{
	return WATCHDOG_BASE_S + (unsigned)(obj->file_bytes / WATCHDOG_MIN_RATE);
}

/* The objects and the extraction target, inside the shared work dir. */
static void make_paths(void)
{
	if (bench_path_join(bench.objdir, bench_ctx.workdir, "objects") < 0 ||
	    bench_path_join(bench.xdir, bench_ctx.workdir, "x") < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
}

/* ---- subprocesses --------------------------------------------------------- */

/* environ with NAME=... replaced by assignment ("NAME=value"). */
static char **environment_with(const char *assignment)
{
	size_t name_len = (size_t)(strchr(assignment, '=') - assignment) + 1;
	size_t count = 0, kept = 0;
	char **env;

	while (environ[count])
		count++;
	env = calloc(count + 2, sizeof(*env));
	if (env == NULL)
		bench_die("out of memory");
	for (size_t i = 0; i < count; i++)
		if (strncmp(environ[i], assignment, name_len) != 0)
			env[kept++] = environ[i];
	env[kept++] = strdup(assignment);
	if (env[kept - 1] == NULL)
		bench_die("out of memory");
	return env;
}

/* ---- finding aistar -------------------------------------------------------- */

/*
 * A libtool wrapper script names the real program (".libs/NAME") and the
 * library dir it puts in LD_LIBRARY_PATH.  Running those directly keeps the
 * wrapper's shell and sed calls out of the timing.  No, when the wrapper
 * would relink the program first.
 */
static bool resolve_libtool_wrapper(const char *wrapper, char *program, char *libdir)
{
	static const char marker[] = "temporary wrapper script for ";
	static const char ld_path[] = "LD_LIBRARY_PATH=\"";
	char text[32768], dir[PATH_MAX], name[PATH_MAX];
	const char *p, *end;

	if (bench_read_text(wrapper, text, sizeof(text)) <= 0 || strncmp(text, "#!", 2) != 0 ||
	    (p = strstr(text, marker)) == NULL || strstr(text, "relink_command=\"\"") == NULL)
		return false;
	p += sizeof(marker) - 1;
	end = strchr(p, '\n');
	if (end == NULL || end - p >= PATH_MAX)
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
	bench_dir_of(dir, wrapper);
	if (bench_path_join(program, dir, name) < 0 || access(program, X_OK) < 0)
		return false;
	if ((p = strstr(text, ld_path)) == NULL)
		return false;
	p += sizeof(ld_path) - 1;
	end = p + strcspn(p, ":\"\n");
	if (end == p || end - p >= PATH_MAX)
		return false;
	snprintf(libdir, PATH_MAX, "%.*s", (int)(end - p), p);
	return true;
}

/* $AISTAR, else examples/aistar next to this program (bench/aisbench, or
 * bench/.libs/aisbench when libtool wrapped it too). */
static void find_aistar(const char *argv0)
{
	char candidates[3][PATH_MAX], dir[PATH_MAX], exe[PATH_MAX];
	const char *env = getenv("AISTAR");
	size_t count = 0;
	ssize_t len;

	if (env && *env) {
		snprintf(candidates[count++], PATH_MAX, "%s", env);
	} else {
		bench_dir_of(dir, argv0);
		if (bench_path_join(candidates[count], dir, "../examples/aistar") == 0)
			count++;
		len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (len > 0) {
			exe[len] = '\0';
			bench_dir_of(dir, exe);
			if (bench_path_join(candidates[count], dir, "../examples/aistar") == 0)
				count++;
			if (bench_path_join(candidates[count], dir, "../../examples/aistar") == 0)
				count++;
		}
	}
	for (size_t i = 0; i < count; i++) {
		char program[PATH_MAX], libdir[PATH_MAX], assignment[2 * PATH_MAX + 32];
		const char *old = getenv("LD_LIBRARY_PATH");

		if (access(candidates[i], X_OK) < 0 || realpath(candidates[i], bench.aistar) == NULL)
			continue;
		bench.aistar_env = environ;
		if (!resolve_libtool_wrapper(bench.aistar, program, libdir))
			return;
		snprintf(bench.aistar_wrapper, PATH_MAX, "%s", bench.aistar);
		snprintf(bench.aistar, PATH_MAX, "%s", program);
		snprintf(assignment, sizeof(assignment), "LD_LIBRARY_PATH=%s%s%s", libdir,
			 old && *old ? ":" : "", old && *old ? old : "");
		bench.aistar_env = environment_with(assignment);
		return;
	}
	bench_die("examples/aistar not found (tried %s%s%s); build it (make) or set AISTAR",
		  candidates[0], count > 1 ? ", " : "", count > 1 ? candidates[1] : "");
}

/* ---- objects ----------------------------------------------------------------- */

static void object_init(struct object *obj, const char *file, uint64_t data_bytes,
			uint64_t member_bytes)
{
	char total[32], member[32];

	memset(obj, 0, sizeof(*obj));
	obj->data_bytes = data_bytes / bench_ctx.scale;
	obj->member_bytes = member_bytes / bench_ctx.scale;
	obj->members = (obj->data_bytes + obj->member_bytes - 1) / obj->member_bytes;
	snprintf(obj->label, sizeof(obj->label), "%s tar of %s members",
		 bench_format_size(total, sizeof(total), obj->data_bytes),
		 bench_format_size(member, sizeof(member), obj->member_bytes));
	if (bench_path_join(obj->path, bench.objdir, file) < 0)
		bench_die("path too long: %s/%s", bench.objdir, file);
	snprintf(obj->url, sizeof(obj->url), "http://127.0.0.1:%d/%s", bench.nginx.port, file);
	snprintf(obj->slow_url, sizeof(obj->slow_url), "http://127.0.0.1:%d/slow/%s",
		 bench.nginx.port, file);
}

/* A ustar of random members, written by libarchive. */
static void object_generate(struct object *obj)
{
	double start = bench_now();

	fprintf(stderr, "generating %s ... ", obj->label);
	obj->file_bytes = bench_write_archive(obj->path, BENCH_TAR, obj->data_bytes,
					      obj->member_bytes, &bench.prng_state);
	fprintf(stderr, "%.1f s\n", bench_now() - start);
}

static void object_delete(const struct object *obj)
{
	if (unlink(obj->path) < 0)
		bench_fail("unlink %s: %s", obj->path, strerror(errno));
}

/* ---- nginx -------------------------------------------------------------------- */

/* "/" serves at full speed; "/slow/" the same files, each connection
 * throttled to SLOW_RATE.  GET /ready finds the file "ready". */
static void write_servers(FILE *f, const struct bench_nginx *n, void *arg)
{
	(void)arg;
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\tlocation / { root %s; }\n"
		"\t\tlocation /slow/ { alias %s/; limit_rate %s; sendfile_max_chunk %s; }\n"
		"\t}\n",
		n->port, bench.objdir, bench.objdir, SLOW_RATE, SLOW_CHUNK);
}

static void start_nginx(void)
{
	char ready[PATH_MAX];
	int fd;

	if (bench_path_join(ready, bench.objdir, "ready") < 0 ||
	    (fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		bench_die("create %s/ready: %s", bench.objdir, strerror(errno));
	close(fd);
	bench_nginx_start(&bench.nginx, "nginx", write_servers, NULL);
}

/* ---- contenders ------------------------------------------------------------ */

static const char *object_url(const struct object *obj, const struct contender *c)
{
	return c->slow ? obj->slow_url : obj->url;
}

static void take_counters(struct sample *out, const struct ais_stats *st)
{
	out->have_counters = true;
	out->copied = st->bytes_copied;
	out->delivered = st->bytes_delivered;
}

static int run_tool(char *const argv[], char *const envp[], struct sample *out)
{
	struct bench_child_result res;

	if (bench_run_child(argv, envp, NULL, &res) < 0)
		return -1;
	out->seconds = res.seconds;
	out->maxrss_kib = res.maxrss_kib;
	return 0;
}

/* The wire limit.  -f: an HTTP error fails the run instead of timing a
 * short error page. */
static int run_curl(const struct object *obj, const struct contender *c, struct sample *out)
{
	char *argv[] = { "curl", "-sf", "-o", "/dev/null", (char *)object_url(obj, c), NULL };

	return run_tool(argv, environ, out);
}

/* What a pipeline does today. */
static int run_curl_bsdtar(const struct object *obj, const struct contender *c,
			   struct sample *out)
{
	char command[3 * PATH_MAX];
	char *argv[] = { "/bin/sh", "-c", command, NULL };

	snprintf(command, sizeof(command), "curl -sf '%s' | bsdtar -x -C '%s' -f -",
		 object_url(obj, c), bench.xdir);
	return run_tool(argv, environ, out);
}

/* Extraction with no network at all. */
static int run_bsdtar_local(const struct object *obj, const struct contender *c,
			    struct sample *out)
{
	char *argv[] = { "bsdtar", "-x", "-C", bench.xdir, "-f", (char *)obj->path, NULL };

	(void)c;
	return run_tool(argv, environ, out);
}

/* aistar -v prints "aistar: members=M ... delivered=X copied=C". */
static void parse_aistar_counters(struct sample *out)
{
	char text[4096];
	const char *line, *delivered, *copied;

	if (bench_read_text(bench_ctx.child_log, text, sizeof(text)) <= 0 ||
	    (line = strstr(text, "aistar: members=")) == NULL ||
	    (delivered = strstr(line, " delivered=")) == NULL ||
	    (copied = strstr(line, " copied=")) == NULL)
		return;
	out->have_counters = true;
	out->delivered = strtoull(delivered + strlen(" delivered="), NULL, 10);
	out->copied = strtoull(copied + strlen(" copied="), NULL, 10);
}

/* libarchive on the zero-copy callbacks, in its own process. */
static int run_aistar(const struct object *obj, const struct contender *c, struct sample *out)
{
	char *argv[] = { c->via_wrapper ? bench.aistar_wrapper : bench.aistar, "-v", "-x",
			 "-C", bench.xdir, (char *)object_url(obj, c), NULL };

	if (run_tool(argv, c->via_wrapper ? environ : bench.aistar_env, out) < 0)
		return -1;
	parse_aistar_counters(out);
	return 0;
}

static size_t throttled_part_size(void)
{
	uint64_t part = THROTTLED_PART_SIZE / bench_ctx.scale;

	return part < THROTTLED_MIN_PART_SIZE ? THROTTLED_MIN_PART_SIZE : part;
}

/* Sum the counts ais_next hands out; the bytes are not touched. */
static int run_ais_next(const struct object *obj, const struct contender *c,
			struct sample *out)
{
	struct ais_options opts = AIS_OPTIONS_INIT;
	const char *url = object_url(obj, c);
	double start = bench_now();
	struct ais_stats st;
	const void *buf;
	uint64_t total = 0;
	ais_stream *s;
	ssize_t n;

	opts.connections = c->connections;
	if (c->connections > 0) {
		opts.readahead_bytes = (long)(THROTTLED_READAHEAD / bench_ctx.scale);
		opts.part_size = throttled_part_size();
	}
	s = ais_open(url, c->connections > 0 ? &opts : NULL);
	if (s == NULL)
		return bench_fail("ais_open %s: %s", url, ais_last_error());
	while ((n = ais_next(s, &buf)) > 0)
		total += (uint64_t)n;
	if (n < 0)
		bench_fail("ais_next %s at byte %" PRIu64 ": %s", url, total, ais_errmsg(s));
	ais_stats(s, &st);
	ais_close(s);
	out->seconds = bench_now() - start;
	take_counters(out, &st);
	if (n == 0 && total != obj->file_bytes)
		return bench_fail("ais_next %s: %" PRIu64 " bytes, the object has %" PRIu64,
				  url, total, obj->file_bytes);
	return n < 0 ? -1 : 0;
}

/* ais_fopen(url, "rb") as ais_open + ais_fdopen (what ais_fopen does), to
 * keep the stream for ais_stats; NULL with the reason printed. */
static FILE *open_object_file(const char *url, ais_stream **stream)
{
	ais_stream *s = ais_open(url, NULL);
	FILE *f;

	if (s == NULL) {
		bench_fail("ais_open %s: %s", url, ais_last_error());
		return NULL;
	}
	f = ais_fdopen(s, "rb");
	if (f == NULL) {
		bench_fail("ais_fdopen %s: %s", url, ais_last_error());
		ais_close(s);
		return NULL;
	}
	*stream = s;
	return f;
}

/* stdio code as it is: fread into a 1 MiB buffer. */
static int run_fread(const struct object *obj, const struct contender *c, struct sample *out)
{
	const char *url = object_url(obj, c);
	double start = bench_now();
	uint64_t total = 0;
	struct ais_stats st;
	ais_stream *s;
	bool failed;
	size_t n;
	FILE *f = open_object_file(url, &s);

	if (f == NULL)
		return -1;
	while ((n = fread(bench.buffer, 1, COPY_BUFFER_SIZE, f)) > 0)
		total += n;
	failed = ferror(f);
	if (failed)
		bench_fail("fread %s at byte %" PRIu64 ": %s", url, total, ais_last_error());
	ais_stats(s, &st);
	fclose(f);
	out->seconds = bench_now() - start;
	take_counters(out, &st);
	if (!failed && total != obj->file_bytes)
		return bench_fail("fread %s: %" PRIu64 " bytes, the object has %" PRIu64,
				  url, total, obj->file_bytes);
	return failed ? -1 : 0;
}

/* What code built on libarchive's FILE* reader gets from ais_fopen: the
 * same extraction as aistar, through the stdio shim. */
static int run_archive_file(const struct object *obj, const struct contender *c,
			    struct sample *out)
{
	const char *url = object_url(obj, c);
	double start = bench_now();
	struct archive *in, *disk;
	struct ais_stats st;
	ais_stream *s;
	int rc;
	FILE *f = open_object_file(url, &s);

	if (f == NULL)
		return -1;
	/* archive_write_disk writes entry paths relative to the cwd. */
	if (chdir(bench.xdir) < 0)
		bench_die("chdir %s: %s", bench.xdir, strerror(errno));
	in = archive_read_new();
	disk = archive_write_disk_new();
	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(disk, BENCH_EXTRACT_FLAGS);
	if (archive_read_open_FILE(in, f) != ARCHIVE_OK)
		rc = bench_fail("archive_read_open_FILE %s: %s", url, archive_error_string(in));
	else
		rc = bench_extract_all(in, disk);
	if (archive_write_close(disk) < ARCHIVE_WARN && rc == 0)
		rc = bench_fail("close %s: %s", bench.xdir, archive_error_string(disk));
	ais_stats(s, &st);
	archive_read_free(in);
	archive_write_free(disk);
	fclose(f);
	out->seconds = bench_now() - start;
	if (fchdir(bench.home_fd) < 0)
		bench_die("fchdir back: %s", strerror(errno));
	take_counters(out, &st);
	return rc;
}

enum {
	C_CURL,
	C_CURL_BSDTAR,
	C_BSDTAR_LOCAL,
	C_NEXT,
	C_FREAD,
	C_AISTAR,
	C_ARCHIVE_FILE,
	C_COUNT
};

#define SUBPROCESS(n, fn) .name = (n), .run = (fn)
#define IN_PROCESS(n, fn) .name = (n), .run = (fn), .in_process = true

static const struct contender matrix_contenders[C_COUNT] = {
	[C_CURL] = { SUBPROCESS("curl -o /dev/null", run_curl) },
	[C_CURL_BSDTAR] = { SUBPROCESS("curl | bsdtar -x", run_curl_bsdtar), .extracts = true },
	[C_BSDTAR_LOCAL] = { SUBPROCESS("bsdtar -x, local file", run_bsdtar_local), .extracts = true },
	[C_NEXT] = { IN_PROCESS("ais_next loop", run_ais_next) },
	[C_FREAD] = { IN_PROCESS("fread on ais_fopen, 1 MiB buffer", run_fread) },
	[C_AISTAR] = { SUBPROCESS("aistar -x", run_aistar), .extracts = true },
	[C_ARCHIVE_FILE] = { IN_PROCESS("archive_read_open_FILE on ais_fopen -x", run_archive_file),
			     .extracts = true },
};

enum { T_CURL, T_C1, T_C2, T_C4, T_C8, T_COUNT };

static const struct contender throttled_contenders[T_COUNT] = {
	[T_CURL] = { SUBPROCESS("curl -o /dev/null", run_curl), .slow = true },
	[T_C1] = { IN_PROCESS("ais_next, 1 connection", run_ais_next), .slow = true, .connections = 1 },
	[T_C2] = { IN_PROCESS("ais_next, 2 connections", run_ais_next), .slow = true, .connections = 2 },
	[T_C4] = { IN_PROCESS("ais_next, 4 connections", run_ais_next), .slow = true, .connections = 4 },
	[T_C8] = { IN_PROCESS("ais_next, 8 connections", run_ais_next), .slow = true, .connections = 8 },
};

static const struct contender aistar_contender = {
	SUBPROCESS("aistar -x", run_aistar), .extracts = true
};
static const struct contender aistar_wrapped = {
	SUBPROCESS("aistar -x (libtool wrapper)", run_aistar), .extracts = true, .via_wrapper = true
};

/* ---- measuring ------------------------------------------------------------- */

/* Empty the extraction dir; after a good run, check that it held every
 * member with every byte. */
static int check_extraction(const struct object *obj, bool ran)
{
	uint64_t files, bytes;

	if (bench_remove_tree(bench.xdir, true, &files, &bytes) < 0)
		bench_die("cannot empty %s", bench.xdir);
	if (ran && (files != obj->members || bytes != obj->data_bytes))
		return bench_fail("extracted %" PRIu64 " files of %" PRIu64 " bytes; the tar has %"
				  PRIu64 " of %" PRIu64, files, bytes, obj->members, obj->data_bytes);
	return 0;
}

static double gbps(uint64_t bytes, double seconds)
{
	return (double)bytes / seconds / 1e9;
}

struct contender_call {
	const struct object *obj;
	const struct contender *c;
};

static int call_contender(void *arg, void *report)
{
	const struct contender_call *call = arg;

	return call->c->run(call->obj, call->c, report);
}

/*
 * An in-process contender runs in a forked child, which times itself and
 * sends its sample back: a crash or a hang of the library under test then
 * costs one run, not the whole benchmark.  The fork is outside the timing.
 */
static int run_in_child(const struct object *obj, const struct contender *c,
			struct sample *out)
{
	struct contender_call call = { obj, c };

	return bench_run_in_child(c->name, call_contender, &call, out, sizeof(*out), NULL);
}

/* One timed run, checked, added to s. */
static void measure_once(const struct object *obj, const struct contender *c,
			 struct series *s, int rep)
{
	struct sample smp = { 0 };
	int rc;

	bench_watchdog(watchdog_seconds(obj)); /* kills the run's child if it hangs */
	rc = c->in_process ? run_in_child(obj, c, &smp) : c->run(obj, c, &smp);
	bench_watchdog(0);
	if (c->extracts && check_extraction(obj, rc == 0) < 0)
		rc = -1;
	fprintf(stderr, "  [%s] rep %d/%d  %-40s ", obj->label, rep + 1, bench_ctx.reps, c->name);
	if (rc < 0 || smp.seconds <= 0) {
		fprintf(stderr, "FAILED\n");
		s->failed++;
		bench_ctx.any_failed = true;
		return;
	}
	fprintf(stderr, "%7.3f GB/s  %7.3f s\n", gbps(obj->file_bytes, smp.seconds), smp.seconds);
	s->seconds[s->ok++] = smp.seconds;
	if (smp.maxrss_kib > s->maxrss_kib)
		s->maxrss_kib = smp.maxrss_kib;
	if (smp.have_counters) {
		s->have_counters = true;
		s->copied += smp.copied;
		s->delivered += smp.delivered;
	}
}

/* Every contender once per repetition, in turn. */
static void measure_series(const struct object *obj, const struct contender *cs, size_t n,
			   struct series *out)
{
	for (int rep = 0; rep < bench_ctx.reps; rep++)
		for (size_t i = 0; i < n; i++)
			measure_once(obj, &cs[i], &out[i], rep);
}

/* Median GB/s of the successful runs; NAN when none succeeded. */
static double median_gbps(const struct series *s, uint64_t bytes)
{
	double rates[BENCH_MAX_REPS];

	if (s->ok == 0)
		return NAN;
	for (int i = 0; i < s->ok; i++)
		rates[i] = gbps(bytes, s->seconds[i]);
	return bench_median(rates, s->ok);
}

/* ---- reporting ------------------------------------------------------------- */

static void print_series_table(const struct object *obj, const struct contender *cs, size_t n,
			       const struct series *results, size_t base)
{
	double base_rate = median_gbps(&results[base], obj->file_bytes);

	printf("  %-44s %9s %9s %10s  %s\n", "contender", "GB/s", "MB/s", "ratio", "runs");
	for (size_t i = 0; i < n; i++) {
		double rate = median_gbps(&results[i], obj->file_bytes);

		printf("  %-44s %9.3f %9.1f %10.2f  %d ok", cs[i].name, rate, rate * 1e3,
		       rate / base_rate, results[i].ok);
		if (results[i].failed)
			printf(", %d FAILED", results[i].failed);
		printf("\n");
	}
}

struct ratio_target {
	const char *what;
	int numerator, denominator;
	double goal;
};

static const struct ratio_target matrix_targets[] = {
	{ "aistar -x / curl | bsdtar -x", C_AISTAR, C_CURL_BSDTAR, 1.6 },
	{ "aistar -x / curl -o /dev/null", C_AISTAR, C_CURL, 0.85 },
	{ "ais_next loop / curl -o /dev/null", C_NEXT, C_CURL, 0.95 },
	{ "fread / curl -o /dev/null", C_FREAD, C_CURL, 0.90 },
};

static void report_matrix(const struct object *obj, const struct series *results)
{
	char size[32];

	printf("\n== %s (%s object, %" PRIu64 " members): median of %d ==\n", obj->label,
	       bench_format_size(size, sizeof(size), obj->file_bytes), obj->members, bench_ctx.reps);
	print_series_table(obj, matrix_contenders, C_COUNT, results, C_CURL);
	printf("  ratio = GB/s / GB/s of curl -o /dev/null (the wire limit)\n");
	for (size_t i = 0; i < COUNT_OF(matrix_targets); i++) {
		const struct ratio_target *t = &matrix_targets[i];

		bench_report(obj->label, t->what,
			     median_gbps(&results[t->numerator], obj->file_bytes) /
			     median_gbps(&results[t->denominator], obj->file_bytes), "%.2f",
			     t->goal, false);
	}
	fflush(stdout);
}

static void report_throttled(const struct object *obj, const struct series *results)
{
	char scope[128], ra[32], part[32];

	printf("\n== Throttled server: /slow/ (nginx limit_rate %s, sendfile_max_chunk %s), %s ==\n",
	       SLOW_RATE, SLOW_CHUNK, obj->label);
	printf("  ais_options: readahead_bytes %s, part_size %s, connections as named; median of %d\n",
	       bench_format_size(ra, sizeof(ra), THROTTLED_READAHEAD / bench_ctx.scale),
	       bench_format_size(part, sizeof(part), throttled_part_size()), bench_ctx.reps);
	print_series_table(obj, throttled_contenders, T_COUNT, results, T_CURL);
	printf("  ratio = GB/s / GB/s of curl on /slow/ (one throttled connection, ~%.0f MB/s)\n",
	       SLOW_RATE_BYTES / 1e6);
	snprintf(scope, sizeof(scope), "%s, %s per connection", obj->label, SLOW_RATE_LABEL);
	bench_report(scope, "ais_next 8 connections / 1 connection",
		     median_gbps(&results[T_C8], obj->file_bytes) /
		     median_gbps(&results[T_C1], obj->file_bytes), "%.2f", 6.0, false);
	fflush(stdout);
}

/* The read-ahead bound a stream may buffer: AIS_READAHEAD, else the
 * header's default.  source says where it came from. */
static uint64_t readahead_bound(char *source, size_t n)
{
	const char *env = getenv("AIS_READAHEAD");
	uint64_t value;

	if (env == NULL || !*env) {
		snprintf(source, n, "read-ahead default 64 MiB");
		return DEFAULT_READAHEAD;
	}
	if (!bench_parse_size(env, &value)) {
		snprintf(source, n, "AIS_READAHEAD=%s unreadable; read-ahead default 64 MiB", env);
		return DEFAULT_READAHEAD;
	}
	if (value == 0) {
		snprintf(source, n, "AIS_READAHEAD=0: off, one 4 MiB chunk");
		return READAHEAD_OFF_BUFFER;
	}
	snprintf(source, n, "AIS_READAHEAD=%s", env);
	return value;
}

static double mib_of_kib(long kib)
{
	return (double)kib / 1024.0;
}

static void report_rss(const struct object *small, const struct object *big,
		       const struct series *rss, const struct series *wrapped)
{
	char source[96], value[32], goal[32];
	uint64_t bound = readahead_bound(source, sizeof(source)) + RSS_SLACK;
	double ratio = rss[1].ok && rss[0].ok ? (double)rss[1].maxrss_kib / (double)rss[0].maxrss_kib : NAN;
	bool under = rss[0].ok && rss[1].ok && (uint64_t)rss[0].maxrss_kib * KIB < bound &&
		     (uint64_t)rss[1].maxrss_kib * KIB < bound;

	printf("\n== Peak RSS of aistar -x (wait4 ru_maxrss, largest of %d runs) ==\n", bench_ctx.reps);
	printf("  %-44s %8.1f MiB  (%.3f GB/s)\n", small->label, mib_of_kib(rss[0].maxrss_kib),
	       median_gbps(&rss[0], small->file_bytes));
	printf("  %-44s %8.1f MiB  (%.3f GB/s)\n", big->label, mib_of_kib(rss[1].maxrss_kib),
	       median_gbps(&rss[1], big->file_bytes));
	snprintf(value, sizeof(value), isnan(ratio) ? "n/a" : "%.3f", ratio);
	snprintf(goal, sizeof(goal), "<= %.2f", RSS_GROWTH_LIMIT);
	printf("  %-44s %8s   goal %-8s %s\n", "peak RSS, large tar / small tar", value, goal,
	       bench_verdict_of(ratio, RSS_GROWTH_LIMIT, true));
	if (small->file_bytes < readahead_bound(source, sizeof(source)))
		printf("  (the small tar is smaller than the read-ahead bound, so its stream never "
		       "fills it: the ratio means little here)\n");
	bench_add_verdict("aistar -x", "peak RSS, large tar / small tar", value, goal,
			  bench_verdict_of(ratio, RSS_GROWTH_LIMIT, true));
	snprintf(value, sizeof(value), "%.1f MiB", mib_of_kib(rss[0].maxrss_kib > rss[1].maxrss_kib ?
							   rss[0].maxrss_kib : rss[1].maxrss_kib));
	snprintf(goal, sizeof(goal), "< %" PRIu64 " MiB", bound / MIB);
	printf("  %-44s %8s   goal %-8s %s  (%s + 16 MiB)\n", "peak RSS, both tars", value, goal,
	       rss[0].ok && rss[1].ok ? (under ? "PASS" : "MISS") : "n/a", source);
	bench_add_verdict("aistar -x", "peak RSS, both tars", value, goal,
			  rss[0].ok && rss[1].ok ? (under ? "PASS" : "MISS") : "n/a");
	if (bench.aistar_wrapper[0])
		printf("  check: via the libtool wrapper %.1f / %.1f MiB, the real program run "
		       "directly %.1f / %.1f MiB\n  (the wrapper execs the program, so ru_maxrss "
		       "is the program's peak, or the shell's if larger)\n",
		       mib_of_kib(wrapped[0].maxrss_kib), mib_of_kib(wrapped[1].maxrss_kib),
		       mib_of_kib(rss[0].maxrss_kib), mib_of_kib(rss[1].maxrss_kib));
	fflush(stdout);
}

static const struct {
	int contender;
	bool zero_copy; /* goal: no byte copied */
} copy_paths[] = {
	{ C_NEXT, true },
	{ C_FREAD, false },
	{ C_ARCHIVE_FILE, false },
	{ C_AISTAR, true },
};

static double copy_ratio(const struct series *s)
{
	return s->have_counters && s->delivered ? (double)s->copied / (double)s->delivered : NAN;
}

static void report_copies(const struct object *objs, size_t n,
			  struct series (*results)[C_COUNT])
{
	printf("\n== Bytes copied by the library per byte delivered (ais_stats) ==\n");
	printf("  %-44s", "path \\ member size");
	for (size_t o = 0; o < n; o++) {
		char size[32];

		printf(" %14s", bench_format_size(size, sizeof(size), objs[o].member_bytes));
	}
	printf("   goal\n");
	for (size_t p = 0; p < COUNT_OF(copy_paths); p++) {
		int c = copy_paths[p].contender;
		double worst = 0;
		bool known = true;

		printf("  %-44s", matrix_contenders[c].name);
		for (size_t o = 0; o < n; o++) {
			double ratio = copy_ratio(&results[o][c]);

			printf(" %14.3f", ratio);
			known = known && !isnan(ratio);
			if (ratio > worst)
				worst = ratio;
		}
		if (copy_paths[p].zero_copy) {
			const char *result = known ? (worst == 0 ? "PASS" : "MISS") : "n/a";
			char value[32];

			snprintf(value, sizeof(value), known ? "%.3f" : "n/a", worst);
			printf("   0      %s\n", result);
			bench_add_verdict(matrix_contenders[c].name, "bytes copied / bytes delivered",
					  value, "0", result);
		} else {
			printf("   (copies by design: the FILE* shim)\n");
		}
	}
	printf("  columns: member size of each 1 GiB tar\n");
	fflush(stdout);
}

static void md_rows(const struct object *obj, const char *label, const struct contender *cs,
		    size_t n, const struct series *results, size_t base)
{
	double base_rate = median_gbps(&results[base], obj->file_bytes);

	for (size_t i = 0; i < n; i++) {
		double rate = median_gbps(&results[i], obj->file_bytes);
		char gb[32], ratio[32];

		snprintf(gb, sizeof(gb), isnan(rate) ? "failed" : "%.2f", rate);
		snprintf(ratio, sizeof(ratio), isnan(rate / base_rate) ? "-" : "%.2f", rate / base_rate);
		fputs("|", stdout);
		bench_md_cell(label);
		bench_md_cell(cs[i].name);
		bench_md_cell(gb);
		bench_md_cell(ratio);
		fputs("\n", stdout);
	}
}

/* Machine and tool versions, for the report. */
static char versions[512];

static void print_markdown(const struct object *matrix, size_t n,
			   struct series (*results)[C_COUNT], const struct object *small,
			   const struct series *throttled)
{
	char date[32], label[128];
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d", localtime(&t));
	printf("\n\n## Performance\n\n");
	printf("Measured by `make bench` (`bench/aisbench`) on %s: %s.\n", date, versions);
	printf("Tars of random data on tmpfs, served by nginx on 127.0.0.1 (sendfile). "
	       "GB/s is 10^9 object bytes per second, the median of %d runs, contenders "
	       "alternating; ratio is to `curl -o /dev/null` on the same object (the wire "
	       "limit), for the throttled rows to `curl` on the throttled location.%s\n\n",
	       bench_ctx.reps, bench_ctx.quick ? " **Quick run: every size divided by 8.**" : "");
	printf("| object | contender | median GB/s | ratio |\n| --- | --- | ---: | ---: |\n");
	for (size_t o = 0; o < n; o++)
		md_rows(&matrix[o], matrix[o].label, matrix_contenders, C_COUNT, results[o], C_CURL);
	snprintf(label, sizeof(label), "%s, %s per connection", small->label, SLOW_RATE_LABEL);
	md_rows(small, label, throttled_contenders, T_COUNT, throttled, T_CURL);
	printf("\n");
	bench_print_verdicts();
	printf("\nCommand: `%s`\n", bench_ctx.command);
	fflush(stdout);
}

/* ---- main ----------------------------------------------------------------- */

static void setup(int argc, char **argv)
{
	static const char *const vars[] = { "AISBENCH_QUICK", "AISTAR", "NGINX", "AIS_READAHEAD",
					    "AIS_CONNECTIONS", "AIS_PART_SIZE", NULL };
	static const char *const subdirs[] = { "objects", "x", NULL };

	bench_setup("aisbench", argc, argv,
		    "Benchmark aisfile against curl and bsdtar on a local nginx.",
		    DEFAULT_REPS, vars, subdirs, SPACE_NEEDED);
	make_paths();
	bench.prng_state = UINT64_C(0x61697362656e6368);
	bench.buffer = malloc(COPY_BUFFER_SIZE);
	bench.home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bench.buffer == NULL || bench.home_fd < 0)
		bench_die("setup: %s", strerror(errno));
	find_aistar(argv[0]);
}

static void print_header(void)
{
	printf("aisbench: %s\n", versions);
	printf("work dir %s; nginx on 127.0.0.1:%d; %d repetitions%s\n", bench_ctx.workdir,
	       bench.nginx.port, bench_ctx.reps, bench_ctx.quick ? "; QUICK: sizes / 8" : "");
	printf("aistar: %s\n", bench.aistar);
	if (bench.aistar_wrapper[0])
		printf("  (the program behind the libtool wrapper %s, run with its LD_LIBRARY_PATH)\n",
		       bench.aistar_wrapper);
	printf("AIS_READAHEAD=%s AIS_CONNECTIONS=%s AIS_PART_SIZE=%s\n",
	       getenv("AIS_READAHEAD") ? getenv("AIS_READAHEAD") : "(unset)",
	       getenv("AIS_CONNECTIONS") ? getenv("AIS_CONNECTIONS") : "(unset)",
	       getenv("AIS_PART_SIZE") ? getenv("AIS_PART_SIZE") : "(unset)");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct object matrix[3], small, big;
	static struct series results[3][C_COUNT], throttled[T_COUNT], rss[2], wrapped[2];
	static const uint64_t member_sizes[3] = { MIB, 10 * MIB, 100 * MIB };
	double start = bench_now();

	setup(argc, argv);
	start_nginx();
	bench_versions(versions, sizeof(versions));
	print_header();

	for (size_t o = 0; o < COUNT_OF(matrix); o++) {
		char file[32];

		snprintf(file, sizeof(file), "matrix-%zu.tar", o);
		object_init(&matrix[o], file, GIB, member_sizes[o]);
		object_generate(&matrix[o]);
		measure_series(&matrix[o], matrix_contenders, C_COUNT, results[o]);
		object_delete(&matrix[o]);
		report_matrix(&matrix[o], results[o]);
	}

	object_init(&small, "small.tar", 256 * MIB, MIB);
	object_generate(&small);
	measure_series(&small, throttled_contenders, T_COUNT, throttled);
	report_throttled(&small, throttled);

	object_init(&big, "big.tar", 2 * GIB, 10 * MIB);
	object_generate(&big);
	for (int rep = 0; rep < bench_ctx.reps; rep++) {
		measure_once(&small, &aistar_contender, &rss[0], rep);
		measure_once(&big, &aistar_contender, &rss[1], rep);
	}
	if (bench.aistar_wrapper[0]) {
		measure_once(&small, &aistar_wrapped, &wrapped[0], 0);
		measure_once(&big, &aistar_wrapped, &wrapped[1], 0);
	}
	object_delete(&big);
	object_delete(&small);
	report_rss(&small, &big, rss, wrapped);
	report_copies(matrix, COUNT_OF(matrix), results);

	bench_nginx_stop(&bench.nginx);
	print_markdown(matrix, COUNT_OF(matrix), results, &small, throttled);
	fprintf(stderr, "aisbench: done in %.0f s%s\n", bench_now() - start,
		bench_ctx.any_failed ? "; some runs FAILED (see above)" : "");
	return bench_ctx.any_failed ? 1 : 0;
}
