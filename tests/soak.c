/*
 * soak.c - make soak: many randomized reads of large objects through the
 * fault proxy, each judged byte for byte (issue 8).
 *
 * Every run draws, from its own seed (soak_plan.c), an object of 64-256 MiB,
 * a read path (ais_next; fread on ais_fopen or ais_fdopen; libarchive over a
 * tar), options (connections 1/4/8, read-ahead off/64M/16M, part and chunk
 * sizes, a 500 ms read timeout) and faults at random offsets: cut, reset,
 * stall, bursts of 503, a reply that ignores Range, and a switch to another
 * version of the object in the middle of the read.  A forked child reads
 * (soak_read.c); this process runs the proxy and a watchdog, and sorts the
 * run into one outcome:
 *
 *   ok            every byte of the object, exactly
 *   stale         ESTALE or EBADMSG after a version switch, every byte
 *                 before it from the version being read
 *   other error   any other errno (EIO after the retry budget, ...)
 *   WRONG BYTES   a byte that differs from the version being read, or too
 *                 few or too many bytes (a damaged tar counts here)
 *   HANG          no result within the watchdog period; the child is killed
 *                 (after a gdb backtrace of its threads, if gdb is there)
 *   CRASH         the reader died without a result
 *   BAD STALE     ESTALE or EBADMSG with no version switch
 *   HARNESS       the soak could not set the run up
 *
 * The soak fails (exit 1) on any run of the last five kinds, or when other
 * errors exceed 10 % of the runs: the plan never spends more failed attempts
 * than the default retry budget allows, so EIO should be rare; a few are
 * tolerated because a 500 ms read timeout on a loaded 2-CPU machine can add
 * a failure the plan did not make.
 *
 * Environment: SOAK_RUNS (default 40), SOAK_SEED (default from the clock;
 * run 1 uses it, each next run the next splitmix64 value, so
 * SOAK_SEED=<a run's seed> SOAK_RUNS=1 draws that run again), SOAK_SIZE
 * (bytes, K/M/G suffix: read one generated object of that size instead of
 * the 64M+, 160M+ and 256M ones; the tar stays), SOAK_WATCHDOG (seconds,
 * default 60), SOAK_GDB=0 (no backtrace of a hung run).  Plus the harness's
 * (FAULTPROXY, NGINX, HARNESS_KEEP).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "soak.h"

#define MIB ((uint64_t)1 << 20)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define GDB_TIMEOUT_MS 30000
#define OTHER_ERROR_PERCENT_ALLOWED 10

enum outcome {
	OUTCOME_OK, OUTCOME_STALE, OUTCOME_OTHER, OUTCOME_WRONG, OUTCOME_HANG,
	OUTCOME_CRASH, OUTCOME_BAD_STALE, OUTCOME_HARNESS, OUTCOME_COUNT
};

static const struct {
	const char *tag;	/* in the run's line */
	const char *title;	/* in the summary */
	bool fails;		/* one such run fails the soak */
} outcomes[OUTCOME_COUNT] = {
	[OUTCOME_OK] = { "ok", "byte-exact", false },
	[OUTCOME_STALE] = { "stale", "ESTALE/EBADMSG after a switch", false },
	[OUTCOME_OTHER] = { "other-error", "other error", false },
	[OUTCOME_WRONG] = { "WRONG-BYTES", "WRONG BYTES", true },
	[OUTCOME_HANG] = { "HANG", "HANG (watchdog)", true },
	[OUTCOME_CRASH] = { "CRASH", "CRASH (reader died)", true },
	[OUTCOME_BAD_STALE] = { "BAD-STALE", "ESTALE/EBADMSG without a switch", true },
	[OUTCOME_HARNESS] = { "HARNESS", "harness failure", true },
};

struct config {
	long runs;
	uint64_t seed;
	uint64_t size;		/* 0: the default objects */
	long watchdog_ms;
	bool gdb;
};

struct totals {
	int count[OUTCOME_COUNT];
	int by_path[3];
	int faults, switches;
	uint64_t bytes, requests, resumes, failures;
	int runs_with_stats;
	char failed_seeds[1024];
};

static struct soak_object objects[4];
static size_t object_count;

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static bool parse_number(const char *name, uint64_t low, uint64_t high, bool suffix, uint64_t *out)
{
	const char *text = getenv(name);
	char *end;
	uint64_t value;

	if (!text || !*text)
		return true;
	errno = 0;
	value = strtoull(text, &end, 0);
	if (suffix && *end && strchr("kKmMgG", *end) && !end[1]) {
		value <<= *end == 'k' || *end == 'K' ? 10 : *end == 'm' || *end == 'M' ? 20 : 30;
		end++;
	}
	if (errno || *end || text[0] == '-' || value < low || value > high) {
		fprintf(stderr, "soak: %s must be a number from %" PRIu64 " to %" PRIu64 ", not '%s'\n",
		        name, low, high, text);
		return false;
	}
	*out = value;
	return true;
}

static bool read_config(struct config *c)
{
	struct timespec now;
	uint64_t runs = 40, watchdog = 60;
	const char *gdb = getenv("SOAK_GDB");

	clock_gettime(CLOCK_REALTIME, &now);
	c->seed = (uint64_t)now.tv_sec * 1000000007u ^ (uint64_t)now.tv_nsec ^ (uint64_t)getpid() << 32;
	c->size = 0;
	if (!parse_number("SOAK_RUNS", 1, 10000000, false, &runs) ||
	    !parse_number("SOAK_SEED", 0, UINT64_MAX, false, &c->seed) ||
	    !parse_number("SOAK_SIZE", 1, (uint64_t)1 << 34, true, &c->size) ||
	    !parse_number("SOAK_WATCHDOG", 1, 3600, false, &watchdog))
		return false;
	c->runs = (long)runs;
	c->watchdog_ms = (long)watchdog * 1000;
	c->gdb = !(gdb && strcmp(gdb, "0") == 0);
	return true;
}

static uint64_t file_size(const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", harness_objdir(), name);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void add_object(const char *name, uint64_t size, bool is_tar, unsigned seed)
{
	objects[object_count++] = (struct soak_object){ name, size, is_tar, seed };
}

/* The soak's objects: two generated ones of odd sizes (parts and chunks do
 * not divide them) and the harness's 256 MiB object and 128 MiB tar. */
static int set_up_objects(const struct config *c)
{
	static char sized_name[64];

	if (c->size) {
		snprintf(sized_name, sizeof sized_name, "soak-%" PRIu64 ".bin", c->size);
		add_object(sized_name, c->size, false, 5003);
	} else {
		add_object("soak-64.bin", 64 * MIB + 12345, false, 5001);
		add_object("soak-160.bin", 160 * MIB + 1, false, 5002);
		add_object(OBJ_BIG, file_size(OBJ_BIG), false, 0);
	}
	add_object(OBJ_LARGETAR, file_size(OBJ_LARGETAR), true, 0);
	for (size_t i = 0; i < object_count; i++) {
		if (objects[i].seed &&
		    harness_add_object(objects[i].name, objects[i].seed, objects[i].size) < 0)
			return -1;
		if (objects[i].size == 0)
			return -1;
	}
	return 0;
}

/* Put the object back as it was before the run, so each run starts from the
 * same bytes whatever ran before it. */
static int restore_object(const struct soak_object *o)
{
	return o->seed ? harness_add_object(o->name, o->seed, o->size) : harness_restore(o->name);
}

/* Reads the child's result; 1 got it, 0 the child closed the pipe without
 * one, -1 the watchdog period passed. */
static int wait_for_result(int fd, long timeout_ms, struct soak_result *result)
{
	struct timespec start;
	size_t got = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (got < sizeof(*result)) {
		long left = timeout_ms - (long)(seconds_since(&start) * 1000);
		struct pollfd pipe_end = { fd, POLLIN, 0 };
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pipe_end, 1, (int)left) < 0 && errno != EINTR)
			return 0;
		if (pipe_end.revents == 0)
			continue;
		n = read(fd, (char *)result + got, sizeof(*result) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

/* Backtrace of every thread of a hung reader, bounded in time. */
static void print_backtrace(pid_t pid)
{
	char pid_text[16];
	char *argv[] = { "gdb", "-p", pid_text, "-batch", "-nx", "-ex", "thread apply all bt", NULL };
	pid_t gdb;
	int status;

	snprintf(pid_text, sizeof pid_text, "%d", (int)pid);
	fflush(NULL);
	gdb = fork();
	if (gdb == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int waited = 0; gdb > 0 && waited < GDB_TIMEOUT_MS; waited += 100) {
		if (waitpid(gdb, &status, WNOHANG) == gdb)
			return;
		poll(NULL, 0, 100);
	}
	if (gdb > 0) {
		kill(gdb, SIGKILL);
		waitpid(gdb, &status, 0);
	}
}

static void read_in_child(const struct soak_plan *plan, const char *url, int fd,
                          struct soak_progress *progress, pid_t parent)
{
	struct soak_result result;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);	/* for the hang backtrace */
	soak_read(plan, url, progress, &result);
	if (write(fd, &result, sizeof result) != (ssize_t)sizeof result)
		_exit(1);
	_exit(0);
}

/* The watchdog period passed: say where the reader stopped, show its
 * threads, and kill it. */
static void end_hung_reader(const struct config *c, const struct soak_plan *plan, pid_t child,
                            const struct soak_progress *progress, struct soak_result *result)
{
	snprintf(result->message, sizeof result->message,
	         "no result in %ld s; stuck in '%.31s' after %" PRIu64 " bytes",
	         c->watchdog_ms / 1000, progress->phase,
	         __atomic_load_n(&progress->delivered, __ATOMIC_RELAXED));
	fprintf(stderr, "soak: run seed 0x%016" PRIx64 " hung: %s\n", plan->seed, result->message);
	if (c->gdb)
		print_backtrace(child);
	kill(child, SIGKILL);
}

/* Run the reader in a child, under the watchdog.  Returns OUTCOME_COUNT
 * when the child delivered its result, for judge() to sort. */
static enum outcome read_under_watchdog(const struct config *c, const struct soak_plan *plan,
                                        const char *url, struct soak_result *result)
{
	struct soak_progress *progress = mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE,
	                                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t parent = getpid(), child = -1;
	int fds[2] = { -1, -1 }, status = 0, got = 0;

	memset(result, 0, sizeof(*result));
	if (progress != MAP_FAILED && pipe2(fds, O_CLOEXEC) == 0) {
		memset(progress, 0, sizeof *progress);
		snprintf(progress->phase, sizeof progress->phase, "start");
		fflush(NULL);
		child = fork();
	}
	if (child < 0) {
		snprintf(result->message, sizeof result->message, "mmap, pipe or fork: %s",
		         strerror(errno));
	} else if (child == 0) {
		close(fds[0]);
		read_in_child(plan, url, fds[1], progress, parent);
	} else {
		close(fds[1]);
		fds[1] = -1;
		got = wait_for_result(fds[0], c->watchdog_ms, result);
		if (got < 0)
			end_hung_reader(c, plan, child, progress, result);
		waitpid(child, &status, 0);
		if (got != 1)
			result->delivered = progress->delivered;
	}
	if (child > 0 && got == 0)
		snprintf(result->message, sizeof result->message,
		         "reader %s %d in '%.31s' after %" PRIu64 " bytes",
		         WIFSIGNALED(status) ? "killed by signal" : "exited with",
		         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		         progress->phase, progress->delivered);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (progress != MAP_FAILED)
		munmap(progress, sizeof *progress);
	return got == 1 ? OUTCOME_COUNT : got < 0 ? OUTCOME_HANG
		: child > 0 ? OUTCOME_CRASH : OUTCOME_HARNESS;
}

static enum outcome judge(const struct soak_result *r)
{
	if (r->wrong_bytes)
		return OUTCOME_WRONG;
	if (r->err == 0)
		return OUTCOME_OK;
	if (r->err == ESTALE || r->err == EBADMSG)
		return r->switched ? OUTCOME_STALE : OUTCOME_BAD_STALE;
	return OUTCOME_OTHER;
}

static enum outcome run_once(const struct config *c, const struct soak_plan *plan,
                             struct soak_result *result, int *connections_seen)
{
	char path[128], url[512];
	struct proxy proxy;
	enum outcome outcome;

	*connections_seen = -1;
	if (proxy_start(&proxy, plan->schedule) < 0) {
		memset(result, 0, sizeof(*result));
		snprintf(result->message, sizeof result->message, "proxy_start failed");
		return OUTCOME_HARNESS;
	}
	snprintf(path, sizeof path, "/%s", plan->object->name);
	proxy_url(&proxy, url, sizeof url, path);
	outcome = read_under_watchdog(c, plan, url, result);
	if (outcome == OUTCOME_COUNT)
		outcome = judge(result);
	*connections_seen = proxy_connections(&proxy);
	proxy_stop(&proxy);
	if (plan->version_switch && restore_object(plan->object) < 0 && outcome != OUTCOME_HANG) {
		snprintf(result->message, sizeof result->message, "cannot restore %s",
		         plan->object->name);
		outcome = OUTCOME_HARNESS;
	}
	return outcome;
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "errno?";
}

static void print_run(long run, long runs, const struct soak_plan *plan, enum outcome outcome,
                      const struct soak_result *r, double seconds, int proxy_connections)
{
	char options[160], switch_text[48] = "", stats[160] = "stats=n/a";

	soak_describe_plan(plan, options, sizeof options);
	if (plan->version_switch)
		snprintf(switch_text, sizeof switch_text, " switch@%" PRIu64 "%s", plan->switch_at,
		         r->switched ? "" : "(not reached)");
	if (r->have_stats)
		snprintf(stats, sizeof stats, "req=%" PRIu64 " res=%" PRIu64 " fail=%" PRIu64
		         " tcp=%" PRIu64 " disc=%" PRIu64, r->stats.requests, r->stats.resumes,
		         r->stats.failures, r->stats.connections, r->stats.bytes_discarded);
	printf("[%*ld/%ld] seed=0x%016" PRIx64 " %s %s faults=%d[%s]%s -> %s%s%s %.1fs got=%"
	       PRIu64 " %s proxy-conns=%d\n",
	       runs > 999 ? 4 : 3, run, runs, plan->seed, plan->object->name, options, plan->faults,
	       plan->schedule, switch_text, outcomes[outcome].tag, r->err ? " " : "",
	       r->err ? errno_name(r->err) : "", seconds, r->delivered, stats, proxy_connections);
	if (r->message[0])
		printf("        %s\n", r->message);
}

static void count_run(struct totals *t, const struct soak_plan *plan, enum outcome outcome,
                      const struct soak_result *r)
{
	size_t used = strlen(t->failed_seeds);

	t->count[outcome]++;
	t->by_path[plan->path]++;
	t->faults += plan->faults;
	t->switches += r->switched;
	t->bytes += r->delivered;
	if (r->have_stats) {
		t->runs_with_stats++;
		t->requests += r->stats.requests;
		t->resumes += r->stats.resumes;
		t->failures += r->stats.failures;
	}
	if (outcomes[outcome].fails || outcome == OUTCOME_OTHER)
		snprintf(t->failed_seeds + used, sizeof t->failed_seeds - used, " 0x%016" PRIx64 "(%s)",
		         plan->seed, outcomes[outcome].tag);
}

static bool print_summary(const struct config *c, const struct totals *t, double seconds)
{
	int other_allowed = (int)(c->runs * OTHER_ERROR_PERCENT_ALLOWED / 100);
	bool failed = t->count[OUTCOME_OTHER] > other_allowed;

	printf("\nsoak summary: %ld runs, seed 0x%016" PRIx64 ", %.1f s, %.2f GiB checked\n",
	       c->runs, c->seed, seconds, (double)t->bytes / (double)(1u << 30));
	printf("  %-34s %6s  %s\n", "outcome", "runs", "fails the soak");
	for (int i = 0; i < OUTCOME_COUNT; i++) {
		char rule[32] = "no";

		if (outcomes[i].fails)
			snprintf(rule, sizeof rule, "if > 0");
		else if (i == OUTCOME_OTHER)
			snprintf(rule, sizeof rule, "if > %d (10 %%)", other_allowed);
		printf("  %-34s %6d  %s\n", outcomes[i].title, t->count[i], rule);
		failed |= outcomes[i].fails && t->count[i] > 0;
	}
	printf("  paths: next %d, fread %d, archive %d; fault actions %d, version switches made %d\n",
	       t->by_path[SOAK_NEXT], t->by_path[SOAK_FREAD], t->by_path[SOAK_ARCHIVE], t->faults,
	       t->switches);
	printf("  ais_stats over %d runs: requests %" PRIu64 ", resumes %" PRIu64 ", failures %" PRIu64 "\n",
	       t->runs_with_stats, t->requests, t->resumes, t->failures);
	if (t->failed_seeds[0] && c->size)
		printf("  seeds to look at (SOAK_SEED=S SOAK_RUNS=1 SOAK_SIZE=%" PRIu64 " make soak):%s\n",
		       c->size, t->failed_seeds);
	else if (t->failed_seeds[0])
		printf("  seeds to look at (SOAK_SEED=S SOAK_RUNS=1 make soak):%s\n", t->failed_seeds);
	printf("soak verdict: %s\n", failed ? "FAIL" : "PASS");
	return !failed;
}

int main(void)
{
	struct config c;
	struct totals totals = { 0 };
	struct timespec start;
	uint64_t seed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!read_config(&c))
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &start);
	printf("soak: %ld runs, seed 0x%016" PRIx64 " (SOAK_SEED), watchdog %ld s\n",
	       c.runs, c.seed, c.watchdog_ms / 1000);
	if (harness_start() < 0 || set_up_objects(&c) < 0) {
		fprintf(stderr, "soak: cannot set up the harness or its objects\n");
		return 2;
	}
	printf("soak: objects ready in %.1f s:", seconds_since(&start));
	for (size_t i = 0; i < object_count; i++)
		printf(" %s(%" PRIu64 ")", objects[i].name, objects[i].size);
	printf("\n");
	seed = c.seed;
	for (long run = 1; run <= c.runs; run++) {
		struct soak_plan plan;
		struct soak_result result;
		struct timespec run_start;
		int proxy_connections;
		enum outcome outcome;

		soak_plan_run(&plan, seed, objects, object_count);
		clock_gettime(CLOCK_MONOTONIC, &run_start);
		outcome = run_once(&c, &plan, &result, &proxy_connections);
		print_run(run, c.runs, &plan, outcome, &result, seconds_since(&run_start),
		          proxy_connections);
		count_run(&totals, &plan, outcome, &result);
		seed = soak_random(&seed);
	}
	bool passed = print_summary(&c, &totals, seconds_since(&start));
	harness_stop();
	return passed ? 0 : 1;
}
