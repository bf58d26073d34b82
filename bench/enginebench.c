/*
 * enginebench - what one engine for many streams buys (issue 7): many small
 * objects, random reads, a gateway's redirects, archives, and many streams
 * on one client, against Debian's nginx on 127.0.0.1.  Connections are
 * counted on the server side: every nginx logs "$connection" (its serial
 * number of the TCP connection) with each request.
 *
 *     enginebench [--quick] [--reps N]
 *
 *   1. N objects of 100 KiB: ais_fopen + fread + fclose in a loop, next to
 *      one curl -K process (keep-alive) and to the AIStore Python SDK's
 *      quoted ObjectFile rate; 8 threads on one ais_client; the TCP
 *      connections nginx saw for the loop.
 *   2. Random fseeko + fread of 64 KiB on one FILE*: connections, requests.
 *   3. A gateway nginx that answers every GET with 301 to one of 3 target
 *      nginx: how many requests reach the gateway for one read.
 *   4. Extracting a tar through ais_archive_open, next to curl -o /dev/null.
 *   5. Every 10th member of a stored zip through libarchive's seekable zip
 *      reader: bytes, requests, connections (fsspec's figures quoted).
 *   6. 32 threads each streaming its own object through one ais_client:
 *      peak RSS against the client's memory limit, and the aggregate rate.
 *
 * Each phase runs in a forked child (a crash or hang costs that phase; a
 * watchdog kills a hung one); the timed comparisons (1, 4) alternate the
 * contenders for --reps rounds and take the median.  Results go to stdout,
 * ending with a Markdown table for the README; progress to stderr.
 *
 *   --quick    divide sizes and counts by 8 (also AISBENCH_QUICK=1): a smoke run
 *   --reps N   rounds of the timed comparisons (default 5)
 *
 * Environment: NGINX (default /usr/sbin/nginx), and the library's own AIS_*
 * variables (AIS_MEMORY_LIMIT moves the RSS goal of phase 6 with it).
 *
 * Exit status: 0 every phase ran (whether or not goals were met), 1
 * something failed, 2 usage.
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
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <aisfile.h>
#include <aisfile_archive.h>

#include "benchutil.h"

/* 1: many small objects. */
#define SMALL_OBJECTS 2000
#define SMALL_OBJECT_BYTES (100 * KIB)
#define SMALL_THREADS 8
#define FREAD_BUFFER (64 * KIB)
/* The AIStore Python SDK's ObjectFile, objects/s, as quoted in issue 7. */
#define PYTHON_SDK_RATE 809.0

/* 2, 3, 6: one large object of random data. */
#define BIG_OBJECT_BYTES (256 * MIB)
#define RANDOM_READS 200
#define RANDOM_READ_BYTES (64 * KIB)
#define GATEWAY_CONNECTIONS 4
#define TARGETS 3

/* 4: a tar of 1 MiB members. */
#define TAR_BYTES (128 * MIB)
#define TAR_MEMBER_BYTES MIB

/* 5: a stored zip; every ZIP_READ_EVERY-th member is read. */
#define ZIP_MEMBERS 400
#define ZIP_MEMBER_BYTES MIB
#define ZIP_READ_EVERY 10
/* fsspec reading the same members, as quoted in issue 7. */
#define FSSPEC_SECONDS 0.65
#define FSSPEC_REQUESTS 43
#define FSSPEC_MB 203

/* 6: streams on one client; 8 in --quick. */
#define STREAMS 32
#define QUICK_STREAMS 8
/* aisfile.h: a client's memory_limit defaults to 256 MiB; the process may
 * need this much besides the buffers (code, libcurl, stacks). */
#define DEFAULT_MEMORY_LIMIT (256 * MIB)
#define RSS_ALLOWANCE (64 * MIB)

/* Space on the work dir's file system: the big object, the zip, the tar and
 * its extraction, plus room. */
#define SPACE_NEEDED (1280 * MIB)

/* A phase still running WATCHDOG_BASE_S plus one second per
 * WATCHDOG_MIN_RATE bytes it moves is declared hung. */
#define WATCHDOG_BASE_S 60
#define WATCHDOG_MIN_RATE (20 * 1000 * 1000)

/* Rounds of the timed comparisons: each is short, so more than aisbench's. */
#define DEFAULT_REPS 5

static struct {
	char objdir[PATH_MAX];
	char xdir[PATH_MAX];            /* extraction target of phase 4 */
	char curl_list[PATH_MAX];       /* curl -K list of the small objects */
	struct bench_nginx targets[TARGETS]; /* targets[0] also serves 1, 2, 4-6 */
	struct bench_nginx gateway;
	int small_objects;
	uint64_t big_bytes;
	int streams;
	uint64_t prng_state;
} eb;

/* ---- helpers ------------------------------------------------------------------ */

static unsigned watchdog_seconds(uint64_t bytes)
{
	return WATCHDOG_BASE_S + (unsigned)(bytes / WATCHDOG_MIN_RATE);
}

static void object_path(char *out, const char *name)
{
	if (bench_path_join(out, eb.objdir, name) < 0)
		bench_die("path too long: %s/%s", eb.objdir, name);
}

static void object_url(char *out, size_t n, const struct bench_nginx *server, const char *name)
{
	snprintf(out, n, "http://127.0.0.1:%d/%s", server->port, name);
}

static void small_name(char *out, size_t n, int index)
{
	snprintf(out, n, "small/o%05d", index);
}

static void stream_name(char *out, size_t n, int index)
{
	snprintf(out, n, "streams/s%02d", index);
}

/* A line that is reported but has no goal. */
static void report_figure(const char *scope, const char *what, const char *format, double value)
{
	char text[32];

	snprintf(text, sizeof(text), format, value);
	printf("  %-44s %8s\n", what, text);
	bench_add_verdict(scope, what, text, "-", "-");
}

static void note_failure(const char *phase)
{
	fprintf(stderr, "%s: phase %s FAILED\n", bench_ctx.program, phase);
	bench_ctx.any_failed = true;
}

/* Run fn in a forked child under the watchdog; see bench_run_in_child(). */
static int run_phase(const char *name, uint64_t bytes, int (*fn)(void *, void *), void *arg,
		     void *report, size_t size, struct bench_child_result *res)
{
	int rc;

	bench_watchdog(watchdog_seconds(bytes));
	rc = bench_run_in_child(name, fn, arg, report, size, res);
	bench_watchdog(0);
	return rc;
}

/* ---- objects ------------------------------------------------------------------ */

/* count names in dir, every one a hard link to one random file of bytes:
 * distinct objects to nginx at the space of one. */
static void make_linked_objects(const char *dir, int count, uint64_t bytes,
				void (*name_of)(char *, size_t, int))
{
	char path[PATH_MAX], first[PATH_MAX], name[32];

	object_path(path, dir);
	if (mkdir(path, 0755) < 0)
		bench_die("mkdir %s: %s", path, strerror(errno));
	for (int i = 0; i < count; i++) {
		name_of(name, sizeof(name), i);
		object_path(path, name);
		if (i == 0) {
			bench_write_random_file(path, bytes, &eb.prng_state);
			snprintf(first, sizeof(first), "%s", path);
		} else if (link(first, path) < 0) {
			bench_die("link %s: %s", path, strerror(errno));
		}
	}
}

/* The curl -K list: one url and one output line per small object. */
static void write_curl_list(void)
{
	FILE *f = fopen(eb.curl_list, "we");
	char name[32], url[128];

	if (f == NULL)
		bench_die("create %s: %s", eb.curl_list, strerror(errno));
	for (int i = 0; i < eb.small_objects; i++) {
		small_name(name, sizeof(name), i);
		object_url(url, sizeof(url), &eb.targets[0], name);
		fprintf(f, "url = \"%s\"\noutput = \"/dev/null\"\n", url);
	}
	if (fclose(f) != 0)
		bench_die("write %s: %s", eb.curl_list, strerror(errno));
}

/* The size of a zip's central directory, from its end record. */
static uint64_t zip_central_directory_size(const char *path)
{
	unsigned char tail[64 * 1024 + 22];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	size_t n = size < (off_t)sizeof(tail) ? (size_t)size : sizeof(tail);

	if (size < 22 || pread(fd, tail, n, size - (off_t)n) != (ssize_t)n)
		bench_die("read %s: %s", path, strerror(errno));
	close(fd);
	for (size_t i = n - 22 + 1; i-- > 0;)
		if (tail[i] == 'P' && tail[i + 1] == 'K' && tail[i + 2] == 5 && tail[i + 3] == 6)
			return (uint64_t)tail[i + 12] | (uint64_t)tail[i + 13] << 8 |
			       (uint64_t)tail[i + 14] << 16 | (uint64_t)tail[i + 15] << 24;
	bench_die("%s: no zip end of central directory record", path);
}

/* ---- nginx: three targets and a gateway ------------------------------------ */

/* A target: the objects; GET /ready finds the file "ready". */
static void write_target(FILE *f, const struct bench_nginx *n, void *arg)
{
	(void)arg;
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\taccess_log %s bench;\n"
		"\t\tlocation / { root %s; }\n"
		"\t}\n",
		n->port, n->access_log, eb.objdir);
}

/* The gateway redirects every GET, path and query kept, to a target picked
 * at random per request ($request_id), as an AIStore proxy does. */
static void write_gateway(FILE *f, const struct bench_nginx *n, void *arg)
{
	(void)arg;
	fprintf(f,
		"\tsplit_clients \"$request_id\" $bench_target { 33.3%% %d; 33.3%% %d; * %d; }\n"
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\taccess_log %s bench;\n"
		"\t\tlocation = /ready { default_type text/plain; return 200 \"ready\\n\"; }\n"
		"\t\tlocation / { return 301 http://127.0.0.1:$bench_target$request_uri; }\n"
		"\t}\n",
		eb.targets[0].port, eb.targets[1].port, eb.targets[2].port, n->port,
		n->access_log);
}

static void start_servers(void)
{
	char ready[PATH_MAX], name[16];
	int fd;

	object_path(ready, "ready");
	fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		bench_die("create %s: %s", ready, strerror(errno));
	close(fd);
	for (int i = 0; i < TARGETS; i++) {
		snprintf(name, sizeof(name), "target%d", i);
		bench_nginx_start(&eb.targets[i], name, write_target, NULL);
	}
	bench_nginx_start(&eb.gateway, "gateway", write_gateway, NULL);
}

/* The access logs of all targets from marks on, added up. */
static int count_targets(const off_t *marks, struct bench_log_counts *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < TARGETS; i++) {
		struct bench_log_counts one;

		if (bench_nginx_log_count(&eb.targets[i], marks[i], &one) < 0)
			return -1;
		sum->requests += one.requests;
		sum->connections += one.connections;
		sum->body_bytes += one.body_bytes;
	}
	return 0;
}

/* ---- 1. many small objects ------------------------------------------------- */

struct small_share {
	ais_client *client; /* NULL: the default client (ais_fopen) */
	int first, end;     /* object indexes */
	int rc;
};

/* Read objects [first, end) to the end with fread, each through its own
 * FILE*; check every size. */
static void *read_small_share(void *arg)
{
	struct small_share *share = arg;
	char name[32], url[128];
	char *buf = malloc(FREAD_BUFFER);

	share->rc = buf ? 0 : bench_fail("out of memory");
	for (int i = share->first; i < share->end && share->rc == 0; i++) {
		uint64_t total = 0;
		size_t n;
		FILE *f;

		small_name(name, sizeof(name), i);
		object_url(url, sizeof(url), &eb.targets[0], name);
		f = share->client ? ais_client_fopen(share->client, url, "rb") : ais_fopen(url, "rb");
		if (f == NULL) {
			share->rc = bench_fail("open %s: %s", url, ais_last_error());
			break;
		}
		while ((n = fread(buf, 1, FREAD_BUFFER, f)) > 0)
			total += n;
		if (ferror(f))
			share->rc = bench_fail("fread %s: %s", url, ais_last_error());
		else if (total != SMALL_OBJECT_BYTES)
			share->rc = bench_fail("%s: %" PRIu64 " bytes", url, total);
		fclose(f);
	}
	free(buf);
	return NULL;
}

struct timed_report {
	double seconds;
};

/* arg: the thread count; 1 is the plain ais_fopen loop on this thread. */
static int read_small_objects(void *arg, void *report)
{
	int threads = *(const int *)arg, rc = 0;
	struct small_share shares[SMALL_THREADS];
	pthread_t ids[SMALL_THREADS];
	ais_client *client = NULL;
	struct timed_report *out = report;
	double start;

	if (threads > 1 && (client = ais_client_new(NULL)) == NULL)
		return bench_fail("ais_client_new: %s", ais_last_error());
	start = bench_now();
	for (int t = 0; t < threads; t++) {
		shares[t] = (struct small_share){ client, eb.small_objects * t / threads,
						  eb.small_objects * (t + 1) / threads, 0 };
		if (threads == 1)
			read_small_share(&shares[t]);
		else if ((rc = pthread_create(&ids[t], NULL, read_small_share, &shares[t])) != 0)
			bench_die("pthread_create: %s", strerror(rc));
	}
	for (int t = 0; t < threads; t++) {
		if (threads > 1)
			pthread_join(ids[t], NULL);
		rc |= shares[t].rc;
	}
	out->seconds = bench_now() - start;
	ais_client_free(client);
	return rc;
}

enum { SMALL_CURL, SMALL_LOOP, SMALL_THREADED, SMALL_COUNT };

static int run_small_once(int which, double *rate, uint64_t *connections)
{
	static const int one = 1, many = SMALL_THREADS;
	char *curl_argv[] = { "curl", "-sS", "--fail", "-K", eb.curl_list, NULL };
	off_t mark = bench_nginx_log_mark(&eb.targets[0]);
	uint64_t bytes = (uint64_t)eb.small_objects * SMALL_OBJECT_BYTES;
	struct bench_child_result res;
	struct timed_report rep;
	struct bench_log_counts counts;
	double seconds;

	if (which == SMALL_CURL) {
		bench_watchdog(watchdog_seconds(bytes));
		if (bench_run_child(curl_argv, environ, NULL, &res) < 0) {
			bench_watchdog(0);
			return -1;
		}
		bench_watchdog(0);
		seconds = res.seconds;
	} else {
		if (run_phase(which == SMALL_LOOP ? "ais_fopen loop" : "threads on one client",
			      bytes, read_small_objects, (void *)(which == SMALL_LOOP ? &one : &many),
			      &rep, sizeof(rep), NULL) != 0)
			return -1;
		seconds = rep.seconds;
	}
	if (bench_nginx_log_count(&eb.targets[0], mark, &counts) < 0)
		return -1;
	if (counts.requests != (uint64_t)eb.small_objects)
		return bench_fail("nginx logged %" PRIu64 " requests for %d objects",
				  counts.requests, eb.small_objects);
	*rate = eb.small_objects / seconds;
	*connections = counts.connections;
	return 0;
}

static void phase_small_objects(void)
{
	static const char *const names[SMALL_COUNT] = {
		"curl -K (one process, keep-alive)", "ais_fopen + fread + fclose loop",
		"8 threads on one ais_client",
	};
	double rates[SMALL_COUNT][BENCH_MAX_REPS], median[SMALL_COUNT];
	uint64_t connections[SMALL_COUNT] = { 0 };
	int ok[SMALL_COUNT] = { 0 };
	char scope[80], size[32];

	fprintf(stderr, "1. %d objects of %s\n", eb.small_objects,
		bench_format_size(size, sizeof(size), SMALL_OBJECT_BYTES));
	for (int rep = 0; rep < bench_ctx.reps; rep++) {
		for (int c = 0; c < SMALL_COUNT; c++) {
			uint64_t conns = 0;

			if (run_small_once(c, &rates[c][ok[c]], &conns) < 0) {
				note_failure(names[c]);
				continue;
			}
			fprintf(stderr, "  rep %d/%d  %-44s %8.0f objects/s, %" PRIu64
				" connections\n", rep + 1, bench_ctx.reps, names[c],
				rates[c][ok[c]], conns);
			ok[c]++;
			if (conns > connections[c])
				connections[c] = conns;
		}
	}
	for (int c = 0; c < SMALL_COUNT; c++)
		median[c] = bench_median(rates[c], ok[c]);
	snprintf(scope, sizeof(scope), "%d objects of %s", eb.small_objects, size);
	printf("\n== 1. %s: median of %d; connections: the most nginx saw in one run ==\n",
	       scope, bench_ctx.reps);
	for (int c = 0; c < SMALL_COUNT; c++) {
		char what[96];

		snprintf(what, sizeof(what), "%s, objects/s", names[c]);
		report_figure(scope, what, "%.0f", median[c]);
	}
	report_figure(scope, "curl -K: TCP connections (nginx)", "%.0f", (double)connections[SMALL_CURL]);
	report_figure(scope, "8 threads: TCP connections (nginx)", "%.0f",
		      (double)connections[SMALL_THREADED]);
	bench_report(scope, "ais_fopen loop / curl -K", median[SMALL_LOOP] / median[SMALL_CURL],
		     "%.2f", 1.25, false);
	bench_report(scope, "ais_fopen loop / Python SDK 809/s (quoted)",
		     median[SMALL_LOOP] / PYTHON_SDK_RATE, "%.2f", 5.0, false);
	bench_report(scope, "8 threads on one client / ais_fopen loop",
		     median[SMALL_THREADED] / median[SMALL_LOOP], "%.2f", 1.5, false);
	bench_report(scope, "ais_fopen loop: TCP connections (nginx)",
		     ok[SMALL_LOOP] ? (double)connections[SMALL_LOOP] : NAN, "%.0f", 8, true);
	fflush(stdout);
}

/* ---- 2. random reads on one FILE* ------------------------------------------ */

struct stream_report {
	double seconds;
	uint64_t bytes;
	struct ais_stats stats;
};

static int random_reads(void *arg, void *report)
{
	struct stream_report *out = report;
	char name[32], path[PATH_MAX], url[128];
	char *got = malloc(RANDOM_READ_BYTES), *want = malloc(RANDOM_READ_BYTES);
	uint64_t state = UINT64_C(0x72616e646f6d), span = eb.big_bytes - RANDOM_READ_BYTES + 1;
	double start = bench_now();
	int fd, rc = 0;
	ais_stream *s;
	FILE *f;

	(void)arg;
	stream_name(name, sizeof(name), 0);
	object_path(path, name);
	object_url(url, sizeof(url), &eb.targets[0], name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (got == NULL || want == NULL || fd < 0)
		return bench_fail("setup: %s", strerror(errno));
	/* ais_open + ais_fdopen is ais_fopen, keeping the stream for ais_stats. */
	s = ais_open(url, NULL);
	f = s ? ais_fdopen(s, "rb") : NULL;
	if (f == NULL) {
		rc = bench_fail("open %s: %s", url, ais_last_error());
		ais_close(s);
		return rc;
	}
	for (int i = 0; i < RANDOM_READS && rc == 0; i++) {
		uint64_t offset;

		bench_prng_fill(&state, &offset, sizeof(offset));
		offset %= span;
		if (fseeko(f, (off_t)offset, SEEK_SET) != 0 ||
		    fread(got, 1, RANDOM_READ_BYTES, f) != RANDOM_READ_BYTES)
			rc = bench_fail("read %s at %" PRIu64 ": %s", url, offset, ais_last_error());
		else if (pread(fd, want, RANDOM_READ_BYTES, (off_t)offset) != RANDOM_READ_BYTES ||
			 memcmp(got, want, RANDOM_READ_BYTES) != 0)
			rc = bench_fail("%s: wrong bytes at %" PRIu64, url, offset);
		out->bytes += RANDOM_READ_BYTES;
	}
	ais_stats(s, &out->stats);
	fclose(f);
	out->seconds = bench_now() - start;
	close(fd);
	free(got);
	free(want);
	return rc;
}

static void phase_random_reads(void)
{
	static const char scope[] = "random fseeko + fread on one FILE*";
	off_t mark = bench_nginx_log_mark(&eb.targets[0]);
	struct stream_report rep = { 0 };
	struct bench_log_counts counts;
	char size[32];

	fprintf(stderr, "2. %d random reads of 64 KiB\n", RANDOM_READS);
	printf("\n== 2. %d random fseeko + fread of 64 KiB on one FILE*, %s object ==\n",
	       RANDOM_READS, bench_format_size(size, sizeof(size), eb.big_bytes));
	if (run_phase(scope, eb.big_bytes, random_reads, NULL, &rep, sizeof(rep), NULL) != 0 ||
	    bench_nginx_log_count(&eb.targets[0], mark, &counts) < 0) {
		note_failure(scope);
		bench_report(scope, "TCP connections (nginx)", NAN, "%.0f", 8, true);
		return;
	}
	report_figure(scope, "time, s", "%.3f", rep.seconds);
	report_figure(scope, "requests (nginx)", "%.0f", (double)counts.requests);
	report_figure(scope, "requests (ais_stats)", "%.0f", (double)rep.stats.requests);
	report_figure(scope, "MiB sent (nginx)", "%.1f", (double)counts.body_bytes / MIB);
	report_figure(scope, "TCP connections (ais_stats)", "%.0f", (double)rep.stats.connections);
	bench_report(scope, "TCP connections (nginx)", (double)counts.connections, "%.0f", 8, true);
	fflush(stdout);
}

/* ---- 3. through a redirecting gateway -------------------------------------- */

static int read_through_gateway(void *arg, void *report)
{
	struct ais_options opts = AIS_OPTIONS_INIT;
	struct stream_report *out = report;
	double start = bench_now();
	char name[32], url[128];
	const void *buf;
	ais_stream *s;
	ssize_t n;

	(void)arg;
	opts.connections = GATEWAY_CONNECTIONS;
	stream_name(name, sizeof(name), 0);
	object_url(url, sizeof(url), &eb.gateway, name);
	s = ais_open(url, &opts);
	if (s == NULL)
		return bench_fail("ais_open %s: %s", url, ais_last_error());
	while ((n = ais_next(s, &buf)) > 0)
		out->bytes += (uint64_t)n;
	if (n < 0)
		bench_fail("ais_next %s at %" PRIu64 ": %s", url, out->bytes, ais_errmsg(s));
	ais_stats(s, &out->stats);
	ais_close(s);
	out->seconds = bench_now() - start;
	if (n == 0 && out->bytes != eb.big_bytes)
		return bench_fail("%s: %" PRIu64 " bytes of %" PRIu64, url, out->bytes, eb.big_bytes);
	return n < 0 ? -1 : 0;
}

static void phase_gateway(void)
{
	static const char scope[] = "gateway redirecting to 3 targets";
	off_t gateway_mark = bench_nginx_log_mark(&eb.gateway), marks[TARGETS];
	struct bench_log_counts gateway, targets;
	struct stream_report rep = { 0 };
	char size[32];

	for (int i = 0; i < TARGETS; i++)
		marks[i] = bench_nginx_log_mark(&eb.targets[i]);
	fprintf(stderr, "3. through the gateway\n");
	printf("\n== 3. %s object through a gateway that answers 301 to one of %d targets, "
	       "ais_open with connections=%d + ais_next ==\n",
	       bench_format_size(size, sizeof(size), eb.big_bytes), TARGETS, GATEWAY_CONNECTIONS);
	if (run_phase(scope, eb.big_bytes, read_through_gateway, NULL, &rep, sizeof(rep), NULL) != 0 ||
	    bench_nginx_log_count(&eb.gateway, gateway_mark, &gateway) < 0 ||
	    count_targets(marks, &targets) < 0) {
		note_failure(scope);
		bench_report(scope, "requests that reached the gateway (nginx)", NAN, "%.0f", 2, true);
		return;
	}
	report_figure(scope, "GB/s", "%.3f", (double)rep.bytes / rep.seconds / 1e9);
	report_figure(scope, "requests (ais_stats)", "%.0f", (double)rep.stats.requests);
	report_figure(scope, "redirects (ais_stats)", "%.0f", (double)rep.stats.redirects);
	report_figure(scope, "requests at the targets (nginx)", "%.0f", (double)targets.requests);
	report_figure(scope, "TCP connections at the targets (nginx)", "%.0f",
		      (double)targets.connections);
	bench_report(scope, "requests that reached the gateway (nginx)", (double)gateway.requests,
		     "%.0f", 2, true);
	fflush(stdout);
}

/* ---- 4. tar extraction ----------------------------------------------------- */

static int extract_tar(void *arg, void *report)
{
	const char *url = arg;
	struct timed_report *out = report;
	double start = bench_now();
	struct archive *in = archive_read_new(), *disk = archive_write_disk_new();
	int rc;

	/* This is a forked child: the chdir does not reach the bench. */
	if (chdir(eb.xdir) < 0)
		return bench_fail("chdir %s: %s", eb.xdir, strerror(errno));
	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(disk, BENCH_EXTRACT_FLAGS);
	if (ais_archive_open(in, url, NULL) != ARCHIVE_OK)
		rc = bench_fail("ais_archive_open %s: %s", url, archive_error_string(in));
	else
		rc = bench_extract_all(in, disk);
	if (archive_write_close(disk) < ARCHIVE_WARN && rc == 0)
		rc = bench_fail("close %s: %s", eb.xdir, archive_error_string(disk));
	archive_read_free(in);
	archive_write_free(disk);
	out->seconds = bench_now() - start;
	return rc;
}

/* Extract once; check and remove what it wrote. */
static int run_extraction(const char *url, uint64_t members, uint64_t data_bytes, double *seconds)
{
	struct timed_report rep;
	uint64_t files, bytes;
	int rc = run_phase("ais_archive_open -x", data_bytes, extract_tar, (void *)url, &rep,
			   sizeof(rep), NULL);

	if (bench_remove_tree(eb.xdir, true, &files, &bytes) < 0)
		bench_die("cannot empty %s", eb.xdir);
	if (rc == 0 && (files != members || bytes != data_bytes))
		rc = bench_fail("extracted %" PRIu64 " files of %" PRIu64 " bytes; the tar has %"
				PRIu64 " of %" PRIu64, files, bytes, members, data_bytes);
	*seconds = rep.seconds;
	return rc;
}

static int run_curl_download(const char *url, uint64_t bytes, double *seconds)
{
	char *argv[] = { "curl", "-sSf", "-o", "/dev/null", (char *)url, NULL };
	struct bench_child_result res;
	int rc;

	bench_watchdog(watchdog_seconds(bytes));
	rc = bench_run_child(argv, environ, NULL, &res);
	bench_watchdog(0);
	*seconds = res.seconds;
	return rc;
}

static void phase_tar(void)
{
	uint64_t data_bytes = TAR_BYTES / bench_ctx.scale, file_bytes;
	uint64_t members = data_bytes / TAR_MEMBER_BYTES;
	double curl_s[BENCH_MAX_REPS], ais_s[BENCH_MAX_REPS];
	int curl_ok = 0, ais_ok = 0;
	char path[PATH_MAX], url[128], size[32], scope[80];

	bench_format_size(size, sizeof(size), data_bytes);
	snprintf(scope, sizeof(scope), "%s tar of 1 MiB members", size);
	fprintf(stderr, "4. %s\n", scope);
	object_path(path, "shard.tar");
	object_url(url, sizeof(url), &eb.targets[0], "shard.tar");
	file_bytes = bench_write_archive(path, BENCH_TAR, data_bytes, TAR_MEMBER_BYTES,
					 &eb.prng_state);
	for (int rep = 0; rep < bench_ctx.reps; rep++) {
		if (run_curl_download(url, file_bytes, &curl_s[curl_ok]) == 0)
			fprintf(stderr, "  rep %d/%d  curl -o /dev/null        %.3f s\n", rep + 1,
				bench_ctx.reps, curl_s[curl_ok++]);
		else
			note_failure("curl -o /dev/null");
		if (run_extraction(url, members, data_bytes, &ais_s[ais_ok]) == 0)
			fprintf(stderr, "  rep %d/%d  ais_archive_open -x      %.3f s\n", rep + 1,
				bench_ctx.reps, ais_s[ais_ok++]);
		else
			note_failure("ais_archive_open -x");
	}
	unlink(path);
	printf("\n== 4. %s: extraction into tmpfs through ais_archive_open vs "
	       "curl -o /dev/null, median of %d ==\n", scope, bench_ctx.reps);
	report_figure(scope, "curl -s -o /dev/null, s", "%.3f", bench_median(curl_s, curl_ok));
	report_figure(scope, "ais_archive_open -x, s", "%.3f", bench_median(ais_s, ais_ok));
	bench_report(scope, "ais_archive_open -x time / curl time",
		     bench_median(ais_s, ais_ok) / bench_median(curl_s, curl_ok), "%.2f", 1.25, true);
	fflush(stdout);
}

/* ---- 5. some members of a stored zip ---------------------------------------- */

struct zip_report {
	double seconds;
	uint64_t members, members_read, bytes_read;
	struct ais_stats stats;
};

/* Read every ZIP_READ_EVERY-th member's data, skip the others. */
static int read_zip_members(struct archive *a, struct zip_report *out)
{
	struct archive_entry *entry;
	const void *block;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
		if (out->members++ % ZIP_READ_EVERY != 0) {
			if (archive_read_data_skip(a) != ARCHIVE_OK)
				return bench_fail("skip: %s", archive_error_string(a));
			continue;
		}
		while ((r = archive_read_data_block(a, &block, &size, &offset)) == ARCHIVE_OK)
			out->bytes_read += size;
		if (r != ARCHIVE_EOF)
			return bench_fail("read data: %s", archive_error_string(a));
		out->members_read++;
	}
	return r == ARCHIVE_EOF ? 0 : bench_fail("read header: %s", archive_error_string(a));
}

/*
 * ais_open with the callbacks ais_archive_open() wires (aisfile_archive.h:
 * it "does the same"), so that the stream stays at hand for ais_stats;
 * libarchive closes it.
 */
static int read_zip(void *arg, void *report)
{
	const char *url = arg;
	struct zip_report *out = report;
	double start = bench_now();
	struct archive *a = archive_read_new();
	ais_stream *s = ais_open(url, NULL);
	int rc;

	if (s == NULL)
		return bench_fail("ais_open %s: %s", url, ais_last_error());
	archive_read_support_format_zip_seekable(a);
	archive_read_set_seek_callback(a, ais_archive_seek);
	if (archive_read_open2(a, s, NULL, ais_archive_read, ais_archive_skip,
			       ais_archive_close) != ARCHIVE_OK) {
		rc = bench_fail("open %s: %s", url, archive_error_string(a));
		archive_read_free(a);
		return rc;
	}
	rc = read_zip_members(a, out);
	ais_stats(s, &out->stats);
	archive_read_free(a);
	out->seconds = bench_now() - start;
	return rc;
}

static void phase_zip(void)
{
	uint64_t members = ZIP_MEMBERS / bench_ctx.scale, central_directory, file_bytes;
	struct zip_report rep = { 0 };
	struct bench_log_counts counts;
	char path[PATH_MAX], url[128], scope[80];
	off_t mark;

	snprintf(scope, sizeof(scope), "stored zip of %" PRIu64 " 1 MiB members, every %dth read",
		 members, ZIP_READ_EVERY);
	fprintf(stderr, "5. %s\n", scope);
	object_path(path, "shard.zip");
	object_url(url, sizeof(url), &eb.targets[0], "shard.zip");
	file_bytes = bench_write_archive(path, BENCH_ZIP, members * ZIP_MEMBER_BYTES,
					 ZIP_MEMBER_BYTES, &eb.prng_state);
	central_directory = zip_central_directory_size(path);
	mark = bench_nginx_log_mark(&eb.targets[0]);
	printf("\n== 5. %s (%.1f MiB; central directory %" PRIu64 " bytes): "
	       "archive_read_support_format_zip_seekable on the aisfile callbacks ==\n",
	       scope, (double)file_bytes / MIB, central_directory);
	if (run_phase(scope, file_bytes, read_zip, url, &rep, sizeof(rep), NULL) != 0 ||
	    bench_nginx_log_count(&eb.targets[0], mark, &counts) < 0 ||
	    rep.members != members) {
		unlink(path);
		note_failure(scope);
		bench_report(scope, "bytes received / (read + central dir)", NAN, "%.2f",
			     1.5, true);
		return;
	}
	unlink(path);
	report_figure(scope, "members read", "%.0f", (double)rep.members_read);
	report_figure(scope, "time, s (fsspec 0.65, quoted)", "%.3f", rep.seconds);
	report_figure(scope, "MB received (ais_stats; fsspec 203, quoted)", "%.1f",
		      (double)rep.stats.bytes_received / 1e6);
	report_figure(scope, "MB sent (nginx)", "%.1f", (double)counts.body_bytes / 1e6);
	report_figure(scope, "requests (ais_stats)", "%.0f", (double)rep.stats.requests);
	bench_report(scope, "bytes received / (read + central dir)",
		     (double)rep.stats.bytes_received / (double)(rep.bytes_read + central_directory),
		     "%.2f", 1.5, true);
	bench_report(scope, "requests (nginx; fsspec 43, quoted)", (double)counts.requests,
		     "%.0f", 50, true);
	bench_report(scope, "TCP connections (nginx)", (double)counts.connections, "%.0f", 2, true);
	fflush(stdout);
}

/* ---- 6. many streams on one client ---------------------------------------------- */

struct stream_job {
	ais_client *client;
	int index;
	uint64_t bytes;
	int rc;
};

static void *stream_to_end(void *arg)
{
	struct stream_job *job = arg;
	char name[32], url[128];
	const void *buf;
	ais_stream *s;
	ssize_t n;

	stream_name(name, sizeof(name), job->index);
	object_url(url, sizeof(url), &eb.targets[0], name);
	s = ais_client_open(job->client, url, NULL);
	if (s == NULL) {
		job->rc = bench_fail("ais_client_open %s: %s", url, ais_last_error());
		return NULL;
	}
	while ((n = ais_next(s, &buf)) > 0)
		job->bytes += (uint64_t)n;
	if (n < 0)
		job->rc = bench_fail("ais_next %s at %" PRIu64 ": %s", url, job->bytes, ais_errmsg(s));
	else if (job->bytes != eb.big_bytes)
		job->rc = bench_fail("%s: %" PRIu64 " bytes of %" PRIu64, url, job->bytes,
				     eb.big_bytes);
	ais_close(s);
	return NULL;
}

struct streams_report {
	double seconds;
	uint64_t bytes;
	long vmhwm_kib; /* VmHWM of the child, after the streams closed */
};

static long vmhwm_kib(void)
{
	char text[4096];
	const char *p;

	if (bench_read_text("/proc/self/status", text, sizeof(text)) <= 0 ||
	    (p = strstr(text, "VmHWM:")) == NULL)
		return -1;
	return strtol(p + 6, NULL, 10);
}

/* arg: the stream count. */
static int stream_many(void *arg, void *report)
{
	int streams = *(const int *)arg, rc = 0;
	struct streams_report *out = report;
	struct stream_job jobs[STREAMS];
	pthread_t ids[STREAMS];
	ais_client *client = ais_client_new(NULL);
	double start = bench_now();

	if (client == NULL)
		return bench_fail("ais_client_new: %s", ais_last_error());
	for (int i = 0; i < streams; i++) {
		jobs[i] = (struct stream_job){ client, i, 0, 0 };
		if ((rc = pthread_create(&ids[i], NULL, stream_to_end, &jobs[i])) != 0)
			bench_die("pthread_create: %s", strerror(rc));
	}
	for (int i = 0; i < streams; i++) {
		pthread_join(ids[i], NULL);
		rc |= jobs[i].rc;
		out->bytes += jobs[i].bytes;
	}
	out->seconds = bench_now() - start;
	ais_client_free(client);
	out->vmhwm_kib = vmhwm_kib();
	return rc;
}

/* The client's memory budget: AIS_MEMORY_LIMIT, else the default. */
static uint64_t memory_limit(void)
{
	const char *env = getenv("AIS_MEMORY_LIMIT");
	uint64_t value;

	return env && *env && bench_parse_size(env, &value) && value > 0 ? value
									 : DEFAULT_MEMORY_LIMIT;
}

static void phase_streams(void)
{
	static const int one = 1;
	struct streams_report many = { 0 }, single = { 0 };
	struct bench_child_result many_res = { 0 };
	uint64_t bound = memory_limit() + RSS_ALLOWANCE;
	char scope[80], size[32], what[80];
	double many_rate, single_rate;
	bool many_ok, single_ok;

	bench_format_size(size, sizeof(size), eb.big_bytes);
	snprintf(scope, sizeof(scope), "%d streams of %s on one ais_client", eb.streams, size);
	fprintf(stderr, "6. %s\n", scope);
	single_ok = run_phase("one stream", eb.big_bytes, stream_many, (void *)&one, &single,
			      sizeof(single), NULL) == 0;
	many_ok = run_phase(scope, eb.big_bytes * (uint64_t)eb.streams, stream_many, &eb.streams,
			    &many, sizeof(many), &many_res) == 0;
	if (!single_ok)
		note_failure("one stream");
	if (!many_ok)
		note_failure(scope);
	single_rate = single_ok ? (double)single.bytes / single.seconds / 1e9 : NAN;
	many_rate = many_ok ? (double)many.bytes / many.seconds / 1e9 : NAN;
	printf("\n== 6. %s: ais_client_open + ais_next to the end, each on its own thread ==\n",
	       scope);
	report_figure(scope, "one stream alone, GB/s", "%.3f", single_rate);
	snprintf(what, sizeof(what), "%d streams together, GB/s", eb.streams);
	report_figure(scope, what, "%.3f", many_rate);
	report_figure(scope, "VmHWM of the process, MiB", "%.1f",
		      many_ok ? (double)many.vmhwm_kib / 1024 : NAN);
	bench_report(scope, "aggregate / one stream alone", many_rate / single_rate, "%.2f", 1.0,
		     false);
	snprintf(what, sizeof(what), "peak RSS, MiB (memory_limit %" PRIu64 " MiB + %" PRIu64 ")",
		 memory_limit() / MIB, RSS_ALLOWANCE / MIB);
	bench_report(scope, what, many_ok ? (double)many_res.maxrss_kib / 1024 : NAN, "%.1f",
		     (double)bound / MIB, true);
	fflush(stdout);
}

/* ---- main ------------------------------------------------------------------------- */

static void setup(int argc, char **argv)
{
	static const char *const vars[] = { "AISBENCH_QUICK", "NGINX", "AIS_READAHEAD",
					    "AIS_CONNECTIONS", "AIS_PART_SIZE", "AIS_MEMORY_LIMIT",
					    NULL };
	static const char *const subdirs[] = { "objects", "x", NULL };

	bench_setup("enginebench", argc, argv,
		    "Benchmark many aisfile streams on one engine (issue 7) on a local nginx.",
		    DEFAULT_REPS, vars, subdirs, SPACE_NEEDED);
	if (bench_path_join(eb.objdir, bench_ctx.workdir, "objects") < 0 ||
	    bench_path_join(eb.xdir, bench_ctx.workdir, "x") < 0 ||
	    bench_path_join(eb.curl_list, bench_ctx.workdir, "curl.list") < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
	eb.small_objects = SMALL_OBJECTS / (int)bench_ctx.scale;
	eb.big_bytes = BIG_OBJECT_BYTES / bench_ctx.scale;
	eb.streams = bench_ctx.quick ? QUICK_STREAMS : STREAMS;
	eb.prng_state = UINT64_C(0x656e67696e65);
}

static void print_markdown(const char *versions)
{
	char date[32];
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d", localtime(&t));
	printf("\n\n## One engine for many streams\n\n");
	printf("Measured by `make bench` (`bench/enginebench`) on %s: %s. Objects of random data "
	       "on tmpfs, served by nginx on 127.0.0.1 (sendfile); connections and requests "
	       "marked (nginx) are counted from its access log (`$connection`). Rates are the "
	       "median of %d alternating runs; the Python SDK and fsspec figures are quoted, not "
	       "measured here.%s\n\n", date, versions, bench_ctx.reps,
	       bench_ctx.quick ? " **Quick run: sizes and counts divided by 8, 8 streams.**" : "");
	bench_print_verdicts();
	printf("\nCommand: `%s`\n", bench_ctx.command);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static char versions[512];
	double start = bench_now(), generated;

	setup(argc, argv);
	start_servers();
	bench_versions(versions, sizeof(versions));
	printf("enginebench: %s\n", versions);
	printf("work dir %s; targets on 127.0.0.1:%d,%d,%d, gateway on 127.0.0.1:%d; "
	       "%d rounds%s\n", bench_ctx.workdir, eb.targets[0].port, eb.targets[1].port,
	       eb.targets[2].port, eb.gateway.port, bench_ctx.reps,
	       bench_ctx.quick ? "; QUICK: sizes and counts / 8" : "");
	fflush(stdout);

	generated = bench_now();
	make_linked_objects("small", eb.small_objects, SMALL_OBJECT_BYTES, small_name);
	write_curl_list();
	make_linked_objects("streams", eb.streams, eb.big_bytes, stream_name);
	fprintf(stderr, "objects generated in %.1f s\n", bench_now() - generated);

	phase_small_objects();
	phase_random_reads();
	phase_gateway();
	phase_tar();
	phase_zip();
	phase_streams();

	bench_stop_servers();
	print_markdown(versions);
	fprintf(stderr, "enginebench: done in %.0f s%s\n", bench_now() - start,
		bench_ctx.any_failed ? "; some phases FAILED (see above)" : "");
	return bench_ctx.any_failed ? 1 : 0;
}
