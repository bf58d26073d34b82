/*
 * writebench - how fast aisfile writes an object (issue 9), next to what a
 * user runs instead: curl -T of the same file to the same server.
 *
 *     writebench [--quick] [--reps N]
 *
 *   1. A 1 GiB file of random data in the work dir (tmpfs, so page-cached)
 *      goes up as `curl -sSf -T FILE -o /dev/null URL`, as the same with
 *      -H "Transfer-Encoding: chunked" (how a stream of unknown size goes
 *      to a plain server), and as ais_fopen(URL, "wb") + fwrite of the
 *      file's 1 MiB blocks + fclose, in turn, to
 *        a. one tests/objserver target, by its AIStore URL
 *           http://127.0.0.1:P/v1/objects/bench/OBJ?provider=ais: aisfile
 *           makes a multipart upload (8 MiB parts, 4 in flight: the
 *           defaults), curl one PUT.  A target, not a gateway: the gateway
 *           would only add a 307 to the same target (curl would need -L);
 *        b. nginx with WebDAV PUT: no multipart there, so aisfile streams
 *           one chunked PUT.
 *      The aisfile rows show the seconds spent in fclose: the parts still
 *      in flight, then the commit.  The object server's mpt-complete keeps
 *      the parts as the object's chunks, as AIStore does, and reads them
 *      once for the whole object's checksum, after the last part.  The peak
 *      RSS of the aisfile upload to the target, against the header's bound
 *      of (connections + 1) x part_size.
 *   2. Throttled: tests/faultproxy with upslow:THROTTLE_RATE on every
 *      connection, in front of the target; 256 MiB with connections=4
 *      against connections=1 (8 MiB parts), and curl -T through the same
 *      proxy.  The URL is the proxy's, which forwards to the target, so every
 *      request, every part, passes the throttle.  (A proxy in front of a
 *      gateway would throttle the first request only: the gateway's 307
 *      sends each part to the target directly.)
 *
 * Every upload is compared with its file byte for byte afterwards (the
 * object server's fetched with a GET: it keeps objects as chunks), and the
 * object server's counters say how it arrived (parts or one PUT).  Each
 * row is the median of --reps rounds, the contenders in turn.  Results go
 * to stdout, ending with a Markdown table for the README; progress to
 * stderr.
 *
 *   --quick    divide sizes by 8 (also AISBENCH_QUICK=1): a smoke run
 *   --reps N   rounds (default 5)
 *
 * Environment: OBJSERVER and FAULTPROXY (else tests/objserver and
 * tests/faultproxy of this build tree), NGINX (default /usr/sbin/nginx),
 * and the library's own AIS_* variables, which apply to the ais_fopen rows
 * (the throttled rows set connections and part_size themselves).
 *
 * Exit status: 0 every measurement ran (whether or not goals were met), 1
 * something failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <aisfile.h>

#include "benchutil.h"

#define DEFAULT_REPS 5
/* What the user's loop hands fwrite. */
#define WRITE_BLOCK MIB

#define BIG_BYTES GIB
/* Row 2: bytes per second the proxy takes from each connection (50 MB/s),
 * the object, and the part size (divided by the scale in --quick, but a
 * part stays long enough to be throttled for many of the proxy's steps). */
#define THROTTLE_RATE 50000000
#define THROTTLED_BYTES (256 * MIB)
#define THROTTLED_PART_SIZE (8 * MIB)
#define THROTTLED_MIN_PART_SIZE MIB

/* aisfile.h: a write stream's defaults. */
#define DEFAULT_CONNECTIONS 4
#define DEFAULT_PART_SIZE (8 * MIB)
/* The RSS baseline: the same multipart upload with the smallest parts
 * (aisfile.h: at least 64 KiB is used), so threads and connections are
 * there and the buffers are not. */
#define BASELINE_BYTES (4 * MIB)
#define BASELINE_PART_SIZE (64 * KIB)

/* What a process needs besides the stream's buffers, in the RSS goal. */
#define RSS_SLACK_MIB 16

/* Goals (issue 9). */
#define GOAL_VS_CURL 0.90
#define GOAL_THROTTLED 3.5

/* The sources, a stored object at a time and the copy of it fetched to
 * check it, plus room. */
#define SPACE_NEEDED (4 * GIB)

/* A run still going after WATCHDOG_BASE_S plus one second per
 * WATCHDOG_MIN_RATE bytes is declared hung. */
#define WATCHDOG_BASE_S 60
#define WATCHDOG_MIN_RATE (10 * 1000 * 1000)
#define CTL_TIMEOUT_MS 2000

/* Where an upload goes. */
struct destination {
	const char *label;
	char url_base[128];      /* the object's name is appended */
	const char *url_query;   /* after the name */
	char stored_dir[PATH_MAX]; /* nginx: where it puts the object on disk */
	int counters_port;       /* an objserver target's, for /_ctl and to fetch
				  * and delete what was stored; 0: nginx */
};

/* One contender: curl -T (chunked: with Transfer-Encoding: chunked, as a
 * stream of unknown size goes), or aisfile with the defaults (connections
 * 0) or with connections and the throttled part size. */
struct contender {
	const char *name;
	const char *object;      /* its object's name on the server */
	bool aisfile;
	int connections;
	bool chunked;
};

/* What one run reports. */
struct sample {
	double seconds;
	double closing;          /* aisfile: the seconds in fclose */
	long maxrss_kib;
	bool counted;            /* the server's counters below are known */
	long parts, puts, completes;
};

/* All runs of one contender. */
struct series {
	double seconds[BENCH_MAX_REPS];
	double closing[BENCH_MAX_REPS];
	int ok, failed;
	long maxrss_kib;         /* the largest of all runs */
	struct sample last;      /* of the last good run: the server's counters */
};

static struct {
	char datadir[PATH_MAX];
	char big_source[PATH_MAX];
	char throttled_source[PATH_MAX];
	char baseline_source[PATH_MAX];
	uint64_t big_bytes, throttled_bytes;
	char objserver[PATH_MAX], faultproxy[PATH_MAX];
	struct bench_server target, proxy;
	struct bench_nginx nginx;
	struct destination to_target, to_nginx, through_proxy;
	char *buffer;            /* WRITE_BLOCK: touched before any fork */
	char *compare_buffer;
	uint64_t prng_state;
} wb;

/* ---- helpers ------------------------------------------------------------------- */

static unsigned watchdog_seconds(uint64_t bytes)
{
	return WATCHDOG_BASE_S + (unsigned)(bytes / WATCHDOG_MIN_RATE);
}

static void object_url(char *out, size_t n, const struct destination *d, const char *object)
{
	snprintf(out, n, "%s%s%s", d->url_base, object, d->url_query);
}

static double mbps(uint64_t bytes, double seconds)
{
	return (double)bytes / seconds / 1e6;
}

static size_t throttled_part_size(void)
{
	uint64_t part = THROTTLED_PART_SIZE / bench_ctx.scale;

	return part < THROTTLED_MIN_PART_SIZE ? THROTTLED_MIN_PART_SIZE : (size_t)part;
}

/* An AIS_* size from the environment, as the library reads it, else the
 * default. */
static uint64_t setting(const char *var, uint64_t fallback)
{
	const char *env = getenv(var);
	uint64_t value;

	return env && *env && bench_parse_size(env, &value) && value > 0 ? value : fallback;
}

/* ---- servers ------------------------------------------------------------------- */

static void start_target(void)
{
	char store[PATH_MAX];
	char *argv[] = { wb.objserver, "-d", store, "-n", "bench", NULL };

	if (bench_path_join(store, bench_ctx.workdir, "store") < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
	bench_server_start(&wb.target, "objserver", argv);
	wb.to_target = (struct destination){ .label = "objserver target, AIStore URL",
					      .url_query = "?provider=ais",
					      .counters_port = wb.target.port };
	snprintf(wb.to_target.url_base, sizeof(wb.to_target.url_base),
		 "http://127.0.0.1:%d/v1/objects/bench/", wb.target.port);
}

/* "upslow:N*": every connection, the first and all after it, is throttled. */
static void start_proxy(void)
{
	char upstream[16], schedule[32];
	char *argv[] = { wb.faultproxy, "-u", upstream, schedule, NULL };

	snprintf(upstream, sizeof(upstream), "%d", wb.target.port);
	snprintf(schedule, sizeof(schedule), "upslow:%d*", THROTTLE_RATE);
	bench_server_start(&wb.proxy, "faultproxy", argv);
	wb.through_proxy = wb.to_target;
	wb.through_proxy.label = "objserver target through faultproxy upslow";
	snprintf(wb.through_proxy.url_base, sizeof(wb.through_proxy.url_base),
		 "http://127.0.0.1:%d/v1/objects/bench/", wb.proxy.port);
}

/* PUT /dav/NAME stores DAVDIR/NAME (the body goes to a temp file in the
 * work dir first, then is renamed: nginx's own atomic PUT). */
static void write_dav_server(FILE *f, const struct bench_nginx *n, void *arg)
{
	const char *davdir = arg;

	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\tlocation = /ready { return 200 \"ready\\n\"; }\n"
		"\t\tlocation /dav/ {\n"
		"\t\t\talias %s/;\n"
		"\t\t\tdav_methods PUT;\n"
		"\t\t\tclient_max_body_size 0;\n"
		"\t\t}\n"
		"\t}\n",
		n->port, davdir);
}

static void start_nginx(void)
{
	static char davdir[PATH_MAX];

	if (bench_path_join(davdir, bench_ctx.workdir, "dav") < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
	bench_nginx_start(&wb.nginx, "nginx", write_dav_server, davdir);
	wb.to_nginx = (struct destination){ .label = "nginx WebDAV PUT", .url_query = "" };
	snprintf(wb.to_nginx.url_base, sizeof(wb.to_nginx.url_base), "http://127.0.0.1:%d/dav/",
		 wb.nginx.port);
	snprintf(wb.to_nginx.stored_dir, sizeof(wb.to_nginx.stored_dir), "%s", davdir);
}

/* One counter of the objserver's "mpt-upload=1 part=5 part-retry=1 ...". */
static long counter_of(const char *stats, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = stats; (p = strstr(p, name)) != NULL; p += len)
		if ((p == stats || p[-1] == ' ' || p[-1] == '\n') && p[len] == '=')
			return strtol(p + len + 1, NULL, 10);
	return -1;
}

static int reset_counters(const struct destination *d)
{
	if (d->counters_port == 0)
		return 0;
	if (bench_http_request(d->counters_port, "POST", "/_ctl/reset", CTL_TIMEOUT_MS, NULL, 0) != 200)
		return bench_fail("objserver: POST /_ctl/reset failed");
	return 0;
}

static int read_counters(const struct destination *d, struct sample *out)
{
	char stats[1024];

	if (d->counters_port == 0)
		return 0;
	if (bench_http_request(d->counters_port, "GET", "/_ctl/stats", CTL_TIMEOUT_MS, stats,
			       sizeof(stats)) != 200)
		return bench_fail("objserver: GET /_ctl/stats failed");
	out->counted = true;
	out->parts = counter_of(stats, "part");
	out->puts = counter_of(stats, "put");
	out->completes = counter_of(stats, "complete");
	return 0;
}

/* ---- checking what arrived --------------------------------------------------------- */

/* Whether stored holds the bytes of source: 0, or -1 after saying where
 * they differ. */
static int compare_files(const char *source, const char *stored)
{
	int a = open(source, O_RDONLY | O_CLOEXEC), b = open(stored, O_RDONLY | O_CLOEXEC);
	uint64_t offset = 0;
	int rc = 0;

	if (a < 0 || b < 0) {
		rc = bench_fail("open %s: %s", a < 0 ? source : stored, strerror(errno));
	} else {
		for (;;) {
			ssize_t x = read(a, wb.buffer, WRITE_BLOCK), y = read(b, wb.compare_buffer, WRITE_BLOCK);

			if (x != y || x < 0 || memcmp(wb.buffer, wb.compare_buffer, (size_t)x) != 0) {
				rc = bench_fail("%s differs from %s near byte %" PRIu64, stored, source,
						offset);
				break;
			}
			if (x == 0)
				break;
			offset += (uint64_t)x;
		}
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return rc;
}

/* The object server's copy of c's object, fetched with a GET from the
 * target (not through the proxy) into path: it keeps a manifest and chunk
 * files (tests/objserver.h), not the object's bytes in one file. */
static int fetch_stored(const struct destination *d, const struct contender *c, const char *path)
{
	char url[256];
	char *argv[] = { "curl", "-sSf", "--max-time", "300", "-o", (char *)path, url, NULL };
	struct bench_child_result res;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/objects/bench/%s?provider=ais",
		 d->counters_port, c->object);
	return bench_run_child(argv, environ, NULL, &res);
}

static int delete_stored(const struct destination *d, const struct contender *c)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/objects/bench/%s?provider=ais", c->object);
	if (bench_http_request(d->counters_port, "DELETE", path, CTL_TIMEOUT_MS, NULL, 0) != 200)
		return bench_fail("objserver: DELETE %s failed", path);
	return 0;
}

/* The stored object must be the source, byte for byte; it is removed
 * afterwards, so that the next run starts from nothing.  nginx's is a file
 * in its directory; the object server's is fetched, then deleted with a
 * request. */
static int check_stored(const struct destination *d, const struct contender *c,
			const char *source)
{
	char stored[PATH_MAX];
	int rc;

	if (d->counters_port == 0) {
		if (bench_path_join(stored, d->stored_dir, c->object) < 0)
			return bench_fail("path too long: %s/%s", d->stored_dir, c->object);
		rc = compare_files(source, stored);
		if (unlink(stored) < 0 && errno != ENOENT)
			bench_fail("unlink %s: %s", stored, strerror(errno));
		return rc;
	}
	if (bench_path_join(stored, wb.datadir, "fetched.bin") < 0)
		return bench_fail("path too long: %s", wb.datadir);
	rc = fetch_stored(d, c, stored);
	if (rc == 0)
		rc = compare_files(source, stored);
	unlink(stored);
	if (delete_stored(d, c) < 0)
		rc = -1;
	return rc;
}

/* ---- contenders ------------------------------------------------------------------ */

/* What a user types; -f: an HTTP error fails the run instead of being timed. */
static int run_curl(const char *url, const char *source, bool chunked, struct sample *out)
{
	char *argv[] = { "curl", "-sSf", "-T", (char *)source, "-o", "/dev/null", (char *)url,
			 chunked ? "-H" : NULL, "Transfer-Encoding: chunked", NULL };
	struct bench_child_result res;

	if (bench_run_child(argv, environ, NULL, &res) < 0)
		return -1;
	out->seconds = res.seconds;
	out->maxrss_kib = res.maxrss_kib;
	return 0;
}

/* ais_fopen "wb", or with options ais_create + ais_fdopen (what ais_fopen
 * does, with the options it cannot take). */
static FILE *open_writer(const char *url, int connections, size_t part_size)
{
	struct ais_options opts = AIS_OPTIONS_INIT;
	ais_stream *s;
	FILE *f;

	if (connections == 0 && part_size == 0)
		return ais_fopen(url, "wb");
	opts.connections = connections;
	opts.part_size = part_size;
	s = ais_create(url, &opts);
	if (s == NULL)
		return NULL;
	f = ais_fdopen(s, "wb");
	if (f == NULL)
		ais_abort(s);
	return f;
}

/* An aisfile upload; connections and part_size 0: ais_fopen's defaults. */
struct upload {
	const char *url;
	const char *source;
	int connections;
	size_t part_size;
};

/* In a forked child: the user's loop, timed from the open to fclose. */
static int upload_with_aisfile(void *arg, void *report)
{
	const struct upload *up = arg;
	struct sample *out = report;
	double start = bench_now(), closing;
	int fd = open(up->source, O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : open_writer(up->url, up->connections, up->part_size);
	ssize_t n = 0;

	if (fd < 0)
		return bench_fail("open %s: %s", up->source, strerror(errno));
	if (f == NULL) {
		close(fd);
		return bench_fail("open %s for writing: %s", up->url, ais_last_error());
	}
	while ((n = read(fd, wb.buffer, WRITE_BLOCK)) > 0)
		if (fwrite(wb.buffer, 1, (size_t)n, f) != (size_t)n)
			break;
	close(fd);
	if (n != 0) {
		bench_fail("%s %s: %s", n < 0 ? "read" : "fwrite", n < 0 ? up->source : up->url,
			   n < 0 ? strerror(errno) : ais_last_error());
		fclose(f);
		return -1;
	}
	closing = bench_now();
	if (fclose(f) != 0)
		return bench_fail("fclose %s: %s", up->url, ais_last_error());
	out->closing = bench_now() - closing;
	out->seconds = closing - start + out->closing;
	return 0;
}

static int run_aisfile(const struct upload *up, struct sample *out)
{
	struct bench_child_result res;

	if (bench_run_in_child("aisfile upload", upload_with_aisfile, (void *)up, out,
			       sizeof(*out), &res) < 0)
		return -1;
	out->maxrss_kib = res.maxrss_kib;
	return 0;
}

/* ---- measuring ------------------------------------------------------------------ */

/* One timed run, checked, added to s. */
static void measure_once(const struct destination *d, const struct contender *c,
			 const char *source, uint64_t bytes, struct series *s, int rep)
{
	struct sample smp = { 0 };
	char url[256];
	struct upload up = { url, source, c->connections,
			     c->connections ? throttled_part_size() : 0 };
	int rc;

	object_url(url, sizeof(url), d, c->object);
	rc = reset_counters(d);
	bench_watchdog(watchdog_seconds(bytes)); /* kills the run's child if it hangs */
	if (rc == 0)
		rc = c->aisfile ? run_aisfile(&up, &smp) : run_curl(url, source, c->chunked, &smp);
	bench_watchdog(0);
	if (rc == 0)
		rc = read_counters(d, &smp);
	if (rc == 0)
		rc = check_stored(d, c, source);
	fprintf(stderr, "  [%s] rep %d/%d  %-42s ", d->label, rep + 1, bench_ctx.reps, c->name);
	if (rc < 0 || smp.seconds <= 0) {
		fprintf(stderr, "FAILED\n");
		s->failed++;
		bench_ctx.any_failed = true;
		return;
	}
	fprintf(stderr, "%8.1f MB/s  %6.3f s", mbps(bytes, smp.seconds), smp.seconds);
	if (c->aisfile)
		fprintf(stderr, " (fclose %.3f s)", smp.closing);
	if (smp.counted)
		fprintf(stderr, "  (parts %ld, PUT %ld)", smp.parts, smp.puts);
	fprintf(stderr, "\n");
	s->closing[s->ok] = smp.closing;
	s->seconds[s->ok++] = smp.seconds;
	if (smp.maxrss_kib > s->maxrss_kib)
		s->maxrss_kib = smp.maxrss_kib;
	s->last = smp;
}

static double median_mbps(const struct series *s, uint64_t bytes)
{
	double rates[BENCH_MAX_REPS];

	if (s->ok == 0)
		return NAN;
	for (int i = 0; i < s->ok; i++)
		rates[i] = mbps(bytes, s->seconds[i]);
	return bench_median(rates, s->ok);
}

/* Median seconds an aisfile run spent in fclose: the parts still in
 * flight, then the commit (mpt-complete, or the end of the chunked PUT). */
static double median_closing(const struct series *s)
{
	double closing[BENCH_MAX_REPS];

	memcpy(closing, s->closing, sizeof(closing));
	return bench_median(closing, s->ok);
}

/* A ratio printed and kept for the summary without a goal. */
static void print_figure(const char *scope, const char *what, double ratio)
{
	char value[32];

	snprintf(value, sizeof(value), isnan(ratio) ? "n/a" : "%.2f", ratio);
	printf("  %-44s %8s\n", what, value);
	bench_add_verdict(scope, what, value, "-", "-");
}

/* ---- the rows ----------------------------------------------------------------------- */

enum { C_CURL, C_CURL_CHUNKED, C_AISFILE, C_COUNT };

static const struct contender big_contenders[C_COUNT] = {
	[C_CURL] = { "curl -T", "curl.bin", false, 0, false },
	[C_CURL_CHUNKED] = { "curl -T, chunked", "curl-chunked.bin", false, 0, true },
	[C_AISFILE] = { "ais_fopen \"wb\" + fwrite 1 MiB + fclose", "aisfile.bin", true, 0, false },
};

enum { T_CURL, T_C1, T_C4, T_COUNT };

static const struct contender throttled_contenders[T_COUNT] = {
	[T_CURL] = { "curl -T", "t-curl.bin", false, 0, false },
	[T_C1] = { "aisfile, connections=1", "t-c1.bin", true, 1, false },
	[T_C4] = { "aisfile, connections=4", "t-c4.bin", true, 4, false },
};

/* "128 parts, 1 complete", "1 PUT", or "-" when the server cannot say. */
static void describe_arrival(char *out, size_t n, const struct series *s)
{
	if (!s->last.counted)
		snprintf(out, n, "%s", s->ok ? "-" : "");
	else if (s->last.parts > 0)
		snprintf(out, n, "%ld parts, %ld complete", s->last.parts, s->last.completes);
	else
		snprintf(out, n, "%ld PUT", s->last.puts);
}

static void print_rows(const struct destination *d, const struct contender *cs, size_t n,
		       const struct series *results, uint64_t bytes, size_t base)
{
	double base_rate = median_mbps(&results[base], bytes);
	char arrival[64];

	printf("  %s\n  %-42s %9s %7s %9s  %-5s %s\n", d->label, "contender", "MB/s", "ratio",
	       "fclose s", "runs", "the server saw");
	for (size_t i = 0; i < n; i++) {
		double rate = median_mbps(&results[i], bytes);
		char closing[16] = "-";

		if (cs[i].aisfile && results[i].ok)
			snprintf(closing, sizeof(closing), "%.3f", median_closing(&results[i]));
		describe_arrival(arrival, sizeof(arrival), &results[i]);
		printf("  %-42s %9.1f %7.2f %9s  %d ok%s  %s\n", cs[i].name, rate, rate / base_rate,
		       closing, results[i].ok, results[i].failed ? " +FAILED" : "", arrival);
	}
}

static void measure_big(struct series *to_target, struct series *to_nginx)
{
	const struct destination *dests[] = { &wb.to_target, &wb.to_nginx };
	struct series *results[] = { to_target, to_nginx };
	char size[32];

	fprintf(stderr, "1. %s uploads\n", bench_format_size(size, sizeof(size), wb.big_bytes));
	for (int rep = 0; rep < bench_ctx.reps; rep++)
		for (size_t d = 0; d < COUNT_OF(dests); d++)
			for (size_t c = 0; c < C_COUNT; c++)
				measure_once(dests[d], &big_contenders[c], wb.big_source, wb.big_bytes,
					     &results[d][c], rep);
}

/*
 * When the last fwrite returns, every part but the one being filled and the
 * `connections` in flight has been answered by the server, so the parts
 * before fclose went at least this fast: the transfer without the commit.
 */
static double median_mbps_before_close(const struct series *s, uint64_t bytes, uint64_t in_flight)
{
	double rates[BENCH_MAX_REPS];

	for (int i = 0; i < s->ok; i++)
		rates[i] = mbps(bytes - in_flight, s->seconds[i] - s->closing[i]);
	return bench_median(rates, s->ok);
}

static void report_big(const struct series *to_target, const struct series *to_nginx)
{
	uint64_t connections = setting("AIS_CONNECTIONS", DEFAULT_CONNECTIONS);
	uint64_t part = setting("AIS_PART_SIZE", DEFAULT_PART_SIZE);
	char size[32], part_text[32];

	printf("\n== 1. Upload of %s from a page-cached file: aisfile vs curl -T; median of %d ==\n",
	       bench_format_size(size, sizeof(size), wb.big_bytes), bench_ctx.reps);
	printf("  ratio = MB/s / MB/s of curl -T to the same server; fclose s = median seconds "
	       "in fclose: the parts in flight, then the commit\n");
	print_rows(&wb.to_target, big_contenders, C_COUNT, to_target, wb.big_bytes, C_CURL);
	bench_report(wb.to_target.label, "ais_fopen + fwrite / curl -T",
		     median_mbps(&to_target[C_AISFILE], wb.big_bytes) /
		     median_mbps(&to_target[C_CURL], wb.big_bytes), "%.2f", GOAL_VS_CURL, false);
	if (to_target[C_AISFILE].ok && wb.big_bytes > (connections + 1) * part)
		printf("  before fclose, all parts but the last %" PRIu64 " x %s were answered: at "
		       "least %.1f MB/s;\n  fclose (those parts, then mpt-complete: the object server "
		       "has the checksum from its running hash) %.3f s\n", connections + 1,
		       bench_format_size(part_text, sizeof(part_text), part),
		       median_mbps_before_close(&to_target[C_AISFILE], wb.big_bytes,
						(connections + 1) * part),
		       median_closing(&to_target[C_AISFILE]));
	print_rows(&wb.to_nginx, big_contenders, C_COUNT, to_nginx, wb.big_bytes, C_CURL);
	bench_report(wb.to_nginx.label, "ais_fopen + fwrite / curl -T",
		     median_mbps(&to_nginx[C_AISFILE], wb.big_bytes) /
		     median_mbps(&to_nginx[C_CURL], wb.big_bytes), "%.2f", GOAL_VS_CURL, false);
	print_figure(wb.to_nginx.label, "the same / curl -T, chunked (no goal)",
		     median_mbps(&to_nginx[C_AISFILE], wb.big_bytes) /
		     median_mbps(&to_nginx[C_CURL_CHUNKED], wb.big_bytes));
	printf("  (the size of a stream written through ais_fopen is not known up front, so a "
	       "plain server\n  gets one chunked PUT; curl -T sends a Content-Length)\n");
	fflush(stdout);
}

static void measure_throttled(struct series *results)
{
	char size[32];

	fprintf(stderr, "2. %s uploads, %d bytes/s per connection\n",
		bench_format_size(size, sizeof(size), wb.throttled_bytes), THROTTLE_RATE);
	for (int rep = 0; rep < bench_ctx.reps; rep++)
		for (size_t c = 0; c < T_COUNT; c++)
			measure_once(&wb.through_proxy, &throttled_contenders[c], wb.throttled_source,
				     wb.throttled_bytes, &results[c], rep);
}

/* The parts alone, without the commit that both wait for at the end: the
 * rates before fclose of a with a_connections and b with b_connections, as
 * a figure without a goal. */
static void print_before_close(const char *scope, const struct series *a, int a_connections,
			       const struct series *b, int b_connections)
{
	uint64_t part = throttled_part_size();
	double rate_a = median_mbps_before_close(a, wb.throttled_bytes, (uint64_t)(a_connections + 1) * part);
	double rate_b = median_mbps_before_close(b, wb.throttled_bytes, (uint64_t)(b_connections + 1) * part);

	printf("  before fclose: connections=%d at least %.1f MB/s, connections=%d at least %.1f "
	       "MB/s\n", a_connections, rate_a, b_connections, rate_b);
	print_figure(scope, "the same, parts before fclose (no goal)", rate_a / rate_b);
}

static void report_throttled(const struct series *results)
{
	char size[32], part[32], scope[96];

	printf("\n== 2. Throttled: %s, %.0f MB/s per connection (faultproxy upslow:%d on every "
	       "connection); median of %d ==\n",
	       bench_format_size(size, sizeof(size), wb.throttled_bytes), THROTTLE_RATE / 1e6,
	       THROTTLE_RATE, bench_ctx.reps);
	printf("  aisfile: ais_create with connections as named, part_size %s; ratio = MB/s / "
	       "MB/s of curl -T\n", bench_format_size(part, sizeof(part), throttled_part_size()));
	print_rows(&wb.through_proxy, throttled_contenders, T_COUNT, results, wb.throttled_bytes,
		   T_CURL);
	snprintf(scope, sizeof(scope), "%s, %.0f MB/s per connection", size, THROTTLE_RATE / 1e6);
	bench_report(scope, "connections=4 / connections=1",
		     median_mbps(&results[T_C4], wb.throttled_bytes) /
		     median_mbps(&results[T_C1], wb.throttled_bytes), "%.2f", GOAL_THROTTLED, false);
	print_before_close(scope, &results[T_C4], 4, &results[T_C1], 1);
	fflush(stdout);
}

/* ---- memory ------------------------------------------------------------------------ */

static double mib_of_kib(long kib)
{
	return (double)kib / 1024.0;
}

/*
 * The header's bound is on the stream's buffers: (connections + 1) x
 * part_size.  The goal allows RSS_SLACK for the rest of the process (code,
 * libcurl, the threads and their connections, the user's 1 MiB block), as
 * aisbench and tests/writemem do.  That rest is also measured, as the
 * baseline: the same child making a multipart upload of 4 MiB in 64 KiB
 * parts (enough to start every thread), less those parts' buffers.  Both
 * children are forks of this small process, so what they share with it
 * counts in both alike.
 */
static void report_rss(const struct series *to_target)
{
	static const char scope[] = "aisfile upload to the objserver target";
	uint64_t connections = setting("AIS_CONNECTIONS", DEFAULT_CONNECTIONS);
	uint64_t part = setting("AIS_PART_SIZE", DEFAULT_PART_SIZE);
	double bound_mib = (double)((connections + 1) * part) / MIB;
	double baseline_buffers = (double)((connections + 1) * BASELINE_PART_SIZE) / MIB;
	char url[256], what[96], size[32], value[32];
	struct upload up = { url, wb.baseline_source, (int)connections, BASELINE_PART_SIZE };
	struct sample smp = { 0 };
	double baseline = NAN, peak = NAN;

	object_url(url, sizeof(url), &wb.to_target, "baseline.bin");
	if (run_aisfile(&up, &smp) == 0)
		baseline = mib_of_kib(smp.maxrss_kib) - baseline_buffers;
	else
		bench_ctx.any_failed = true;
	if (to_target[C_AISFILE].ok)
		peak = mib_of_kib(to_target[C_AISFILE].maxrss_kib);
	printf("\n== Peak RSS of the aisfile upload of %s to the objserver target (wait4 "
	       "ru_maxrss, largest of %d runs) ==\n",
	       bench_format_size(size, sizeof(size), wb.big_bytes), bench_ctx.reps);
	printf("  %-44s %8.1f MiB\n", "baseline: 4 MiB in 64 KiB parts, less buffers", baseline);
	snprintf(what, sizeof(what), "peak RSS, MiB (bound (%" PRIu64 "+1) x %s + %d)",
		 connections, bench_format_size(size, sizeof(size), part), RSS_SLACK_MIB);
	bench_report(scope, what, peak, "%.1f", bound_mib + RSS_SLACK_MIB, true);
	snprintf(value, sizeof(value), isnan(peak - baseline) ? "n/a" : "%.1f", peak - baseline);
	snprintf(what, sizeof(what), "peak RSS - baseline, MiB (buffers: %.0f)", bound_mib);
	printf("  %-44s %8s\n", what, value);
	bench_add_verdict(scope, what, value, "-", "-");
	fflush(stdout);
}

/* ---- the Markdown summary ---------------------------------------------------------- */

static void md_rows(const struct destination *d, const char *size, const struct contender *cs,
		    size_t n, const struct series *results, uint64_t bytes, size_t base)
{
	double base_rate = median_mbps(&results[base], bytes);
	char label[160], rate_text[32], ratio[32], arrival[64], closing[16];

	snprintf(label, sizeof(label), "%s, %s", size, d->label);
	for (size_t i = 0; i < n; i++) {
		double rate = median_mbps(&results[i], bytes);

		snprintf(rate_text, sizeof(rate_text), isnan(rate) ? "failed" : "%.0f", rate);
		snprintf(ratio, sizeof(ratio), isnan(rate / base_rate) ? "-" : "%.2f",
			 rate / base_rate);
		describe_arrival(arrival, sizeof(arrival), &results[i]);
		snprintf(closing, sizeof(closing), cs[i].aisfile && results[i].ok ? "%.2f" : "-",
			 median_closing(&results[i]));
		fputs("|", stdout);
		bench_md_cell(label);
		bench_md_cell(cs[i].name);
		bench_md_cell(rate_text);
		bench_md_cell(ratio);
		bench_md_cell(closing);
		bench_md_cell(arrival);
		fputs("\n", stdout);
	}
}

static char versions[512];

static void print_markdown(const struct series *to_target, const struct series *to_nginx,
			   const struct series *throttled)
{
	char date[32], big[32], small[32];
	time_t t = time(NULL);

	strftime(date, sizeof(date), "%Y-%m-%d", localtime(&t));
	bench_format_size(big, sizeof(big), wb.big_bytes);
	bench_format_size(small, sizeof(small), wb.throttled_bytes);
	printf("\n\n### Writing\n\n");
	printf("Measured by `bench/writebench` on %s: %s.  MB/s is 10^6 object bytes per "
	       "second, the median of %d runs, contenders in turn; ratio is to `curl -T` "
	       "to the same server.%s\n\n", date, versions, bench_ctx.reps,
	       bench_ctx.quick ? " **Quick run: every size divided by 8.**" : "");
	printf("| object, server | contender | MB/s | ratio | s in fclose | the server saw |\n"
	       "| --- | --- | ---: | ---: | ---: | --- |\n");
	md_rows(&wb.to_target, big, big_contenders, C_COUNT, to_target, wb.big_bytes, C_CURL);
	md_rows(&wb.to_nginx, big, big_contenders, C_COUNT, to_nginx, wb.big_bytes, C_CURL);
	md_rows(&wb.through_proxy, small, throttled_contenders, T_COUNT, throttled,
		wb.throttled_bytes, T_CURL);
	printf("\n");
	bench_print_verdicts();
	printf("\nCommand: `%s`\n", bench_ctx.command);
	fflush(stdout);
}

/* ---- main ------------------------------------------------------------------------- */

static void make_sources(void)
{
	static const struct {
		char *path;
		const char *name;
	} files[] = {
		{ wb.big_source, "big.bin" },
		{ wb.throttled_source, "throttled.bin" },
		{ wb.baseline_source, "baseline.bin" },
	};
	uint64_t sizes[] = { wb.big_bytes, wb.throttled_bytes, BASELINE_BYTES };
	double start = bench_now();

	fprintf(stderr, "generating the files to upload ... ");
	for (size_t i = 0; i < COUNT_OF(files); i++) {
		if (bench_path_join(files[i].path, wb.datadir, files[i].name) < 0)
			bench_die("path too long: %s", wb.datadir);
		bench_write_random_file(files[i].path, sizes[i], &wb.prng_state);
	}
	fprintf(stderr, "%.1f s\n", bench_now() - start);
}

static void setup(int argc, char **argv)
{
	static const char *const vars[] = { "AISBENCH_QUICK", "OBJSERVER", "FAULTPROXY", "NGINX",
					    "AIS_CONNECTIONS", "AIS_PART_SIZE", NULL };
	static const char *const subdirs[] = { "data", "store", "dav", NULL };

	bench_setup("writebench", argc, argv,
		    "Benchmark aisfile's uploads against curl -T on a local object server and nginx.",
		    DEFAULT_REPS, vars, subdirs, SPACE_NEEDED);
	bench_find_program(wb.objserver, "OBJSERVER", "tests/objserver");
	bench_find_program(wb.faultproxy, "FAULTPROXY", "tests/faultproxy");
	if (bench_path_join(wb.datadir, bench_ctx.workdir, "data") < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
	wb.big_bytes = BIG_BYTES / bench_ctx.scale;
	wb.throttled_bytes = THROTTLED_BYTES / bench_ctx.scale;
	wb.prng_state = UINT64_C(0x7772697465626e63);
	wb.buffer = malloc(WRITE_BLOCK);
	wb.compare_buffer = malloc(WRITE_BLOCK);
	if (wb.buffer == NULL || wb.compare_buffer == NULL)
		bench_die("out of memory");
	memset(wb.buffer, 0, WRITE_BLOCK);
}

static void print_header(void)
{
	printf("writebench: %s\n", versions);
	printf("work dir %s; objserver target on 127.0.0.1:%d (store in the work dir), faultproxy "
	       "on 127.0.0.1:%d, nginx on 127.0.0.1:%d; %d rounds%s\n",
	       bench_ctx.workdir, wb.target.port, wb.proxy.port, wb.nginx.port, bench_ctx.reps,
	       bench_ctx.quick ? "; QUICK: sizes / 8" : "");
	printf("objserver %s, faultproxy %s\n", wb.objserver, wb.faultproxy);
	printf("AIS_CONNECTIONS=%s AIS_PART_SIZE=%s\n",
	       getenv("AIS_CONNECTIONS") ? getenv("AIS_CONNECTIONS") : "(unset)",
	       getenv("AIS_PART_SIZE") ? getenv("AIS_PART_SIZE") : "(unset)");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct series to_target[C_COUNT], to_nginx[C_COUNT], throttled[T_COUNT];
	double start = bench_now();

	setup(argc, argv);
	make_sources();
	start_target();
	start_proxy();
	start_nginx();
	bench_versions(versions, sizeof(versions));
	print_header();

	measure_big(to_target, to_nginx);
	report_big(to_target, to_nginx);
	measure_throttled(throttled);
	report_throttled(throttled);
	report_rss(to_target);

	bench_nginx_stop(&wb.nginx);
	bench_server_stop(&wb.proxy);
	bench_server_stop(&wb.target);
	print_markdown(to_target, to_nginx, throttled);
	fprintf(stderr, "writebench: done in %.0f s%s\n", bench_now() - start,
		bench_ctx.any_failed ? "; some runs FAILED (see above)" : "");
	return bench_ctx.any_failed ? 1 : 0;
}
