/*
 * benchutil.h - what the aisfile benchmarks (aisbench, enginebench,
 * writebench) share: a work dir on tmpfs that goes away on exit and on
 * signals, Debian's nginx on free 127.0.0.1 ports, this project's test
 * servers, subprocesses and forked children with a watchdog, generated
 * objects, and the value/goal summary.
 *
 * benchutil.c holds all but the nginx part, which is in benchnginx.c, and
 * the project's own test servers, in benchserver.c.
 * One benchmark per process; the main thread alone calls these.  Every
 * failure is printed as "PROGRAM: ..." on stderr; bench_die() exits, and
 * the atexit handler stops every nginx and test server and removes the
 * work dir.
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <archive.h>

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define BENCH_QUICK_SCALE 8
#define BENCH_MAX_REPS 99

/* What every run has; filled by bench_setup(). */
struct bench_context {
	const char *program;      /* "aisbench": the prefix of every message */
	bool quick;               /* --quick or AISBENCH_QUICK=1 */
	int reps;                 /* --reps N: rounds of every timed measurement */
	uint64_t scale;           /* sizes are divided by it: 8 in --quick */
	char command[2048];       /* how this run was started, for the report */
	char workdir[PATH_MAX];   /* /dev/shm if it has room, else /tmp */
	char child_log[PATH_MAX]; /* stderr of the last subprocess */
	const char *nginx_binary; /* $NGINX, else /usr/sbin/nginx */
	pid_t main_pid;
	bool any_failed;          /* a measurement failed: exit status 1 */
};

extern struct bench_context bench_ctx;

/*
 * Parse "[--quick] [--reps N] [--help]" (exit 2 on anything else, after
 * printing the usage, with purpose as its second line; reps default to
 * default_reps), record the command line
 * with the environment variables named in vars (NULL-terminated), install
 * the signal handlers and the exit cleanup, and make the work dir with
 * subdirs (NULL-terminated) in it, on the first of /dev/shm and /tmp with
 * space_needed bytes free (the full run's need: divided by the scale in
 * --quick); dies if neither has.
 */
void bench_setup(const char *program, int argc, char **argv, const char *purpose,
		 int default_reps, const char *const *vars, const char *const *subdirs,
		 uint64_t space_needed);

int bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

double bench_now(void);
void bench_sleep_ms(long ms);
/* out = dir/name in a PATH_MAX buffer; 0, or -1 if it would not fit. */
int bench_path_join(char *out, const char *dir, const char *name);
/* out = the directory part of path ("." when there is none). */
void bench_dir_of(char *out, const char *path);
/* "1 GiB", "128 KiB", "1.25 MiB". */
const char *bench_format_size(char *buf, size_t n, uint64_t bytes);
/* Up to n-1 bytes of a file, NUL-terminated; the count, or -1. */
ssize_t bench_read_text(const char *path, char *out, size_t n);
/* "64M", "512K", "1G", "1000": bytes; false if text is not such a size. */
bool bench_parse_size(const char *text, uint64_t *bytes);
/* The median of n values (sorted in place); NAN when n is 0. */
double bench_median(double *values, int n);
/* Remove everything under dir (and dir itself unless keep_root); count the
 * regular files and their bytes on the way (either may be NULL). */
int bench_remove_tree(const char *dir, bool keep_root, uint64_t *files, uint64_t *bytes);

/* ---- generated objects ---------------------------------------------------- */

/* Fast pseudo-random bytes; state advances. */
void bench_prng_fill(uint64_t *state, void *buf, size_t len);
/* A file of bytes random bytes; dies on failure. */
void bench_write_random_file(const char *path, uint64_t bytes, uint64_t *state);

enum bench_archive_format {
	BENCH_TAR, /* ustar, unblocked */
	BENCH_ZIP  /* zip, every member stored (no compression) */
};

/* An archive of random members m000000.bin, m000001.bin, ... of member_bytes
 * each (the last holds the rest of data_bytes), written by libarchive.
 * Returns the file's size; dies on failure. */
uint64_t bench_write_archive(const char *path, enum bench_archive_format format,
			     uint64_t data_bytes, uint64_t member_bytes, uint64_t *state);

/* The flags examples/aistar extracts with. */
#define BENCH_EXTRACT_FLAGS (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | \
	ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
	ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Every entry from in to disk, data blocks handed over as they come; 0, or
 * -1 with the reason printed. */
int bench_extract_all(struct archive *in, struct archive *disk);

/* ---- subprocesses and forked children ----------------------------------- */

struct bench_child_result {
	double seconds;   /* from start to reaped */
	long maxrss_kib;  /* wait4's ru_maxrss: the child's peak RSS */
};

/*
 * Run argv (searched in PATH) with stdin from /dev/null, stdout to
 * stdout_path (NULL: /dev/null), stderr to bench_ctx.child_log, in its own
 * process group; wait and time it.  0 if it exited with status 0; else -1,
 * with the reason and the start of its stderr printed.
 */
int bench_run_child(char *const argv[], char *const envp[], const char *stdout_path,
		    struct bench_child_result *res);

/* The first line a tool prints about itself (stdout, else stderr); "" if it
 * cannot be run. */
void bench_tool_version(char *const argv[], char *out, size_t n);

/*
 * Run fn(arg, report) in a forked child, which then sends report
 * (report_size bytes) back: a crash or a hang of the code under test costs
 * one run, not the benchmark.  Returns what fn returned, with *report
 * filled; -1 when the child could not run, died or was killed by the
 * watchdog (report untouched).  res (may be NULL): wall time from the fork
 * to reaped, and the child's peak RSS.
 */
int bench_run_in_child(const char *name, int (*fn)(void *arg, void *report), void *arg,
		       void *report, size_t report_size, struct bench_child_result *res);

/*
 * fork for a child that must not outlive the bench: it gets SIGKILL when the
 * bench dies, even by SIGKILL, and runs in its own process group, so that
 * killing the group takes its children too.  *record gets the pid before a
 * signal handler can look at it.  Returns as fork().
 */
pid_t bench_fork_child(volatile pid_t *record);

/* Servers (nginx, the test servers) are registered when started: the exit
 * cleanup stops each, a fatal signal kills each.  pid is the server's
 * record, 0 while it is not running. */
void bench_register_server(volatile pid_t *pid);
/* Register *record and start argv[0] with argv as a child of the bench
 * (bench_fork_child), its stdout and stderr appended to out_path; dies if
 * it cannot be started. */
void bench_spawn_server(volatile pid_t *record, char *const argv[], const char *out_path);
/* SIGTERM, a bounded wait, then SIGKILL, and reap; *pid becomes 0.
 * Nothing if *pid <= 0. */
void bench_terminate(volatile pid_t *pid);
/* bench_terminate() every registered server. */
void bench_stop_servers(void);

/* The watchdog: a child of bench_run_child() or bench_run_in_child() still
 * running seconds from now is killed, and its run fails.  0 disarms it. */
void bench_watchdog(unsigned seconds);

/* ---- nginx (benchnginx.c) ------------------------------------------------- */

/* One nginx: a single process in the foreground, every file it writes in
 * the work dir, named after it. */
struct bench_nginx {
	char name[32];
	char conf[PATH_MAX];
	char error_log[PATH_MAX];
	char out[PATH_MAX];        /* its stdout and stderr */
	char access_log[PATH_MAX]; /* for the servers writer to use, in format "bench" */
	int port;                  /* on 127.0.0.1 */
	volatile pid_t pid;
};

/*
 * Writes the server {} blocks inside http {}: listen on 127.0.0.1:n->port,
 * and answer GET /ready with 200.  The http {} block defines the access log
 * format "bench": "$connection|$request|$http_range|$status|$body_bytes_sent"
 * ($connection is nginx's serial number of the TCP connection).
 */
typedef void (*bench_nginx_servers)(FILE *f, const struct bench_nginx *n, void *arg);

/* Start nginx on a free port with the servers of write_servers, and wait
 * (bounded) until GET /ready answers 200; dies on failure. */
void bench_nginx_start(struct bench_nginx *n, const char *name,
		       bench_nginx_servers write_servers, void *arg);
/* bench_terminate() it. */
void bench_nginx_stop(struct bench_nginx *n);
/* true if GET /ready on n answers 200 (one try, a short timeout).  nginx
 * runs one event loop, so an answer also means it is done with every
 * connection that closed before this call. */
bool bench_nginx_answers(const struct bench_nginx *n);

/* What n's access log shows from offset from on: requests other than the
 * GET /ready probes, the distinct TCP connections they came on, and the
 * body bytes sent. */
struct bench_log_counts {
	uint64_t requests;
	uint64_t connections;
	uint64_t body_bytes;
};

/* The access log's size once nginx has answered a probe: where the next
 * phase's lines begin. */
off_t bench_nginx_log_mark(const struct bench_nginx *n);
/* Count from mark to the end, once nginx has answered a probe (so it has
 * logged every request whose connection closed before); 0, or -1. */
int bench_nginx_log_count(const struct bench_nginx *n, off_t mark, struct bench_log_counts *out);

/* ---- this project's test servers, HTTP (benchserver.c) ------------------- */

/*
 * method path to 127.0.0.1:port (HTTP/1.1, no body, Connection: close), one
 * try, each socket operation bounded by timeout_ms.  Returns the status, or
 * -1 without an answer; body (may be NULL) gets up to n-1 bytes of the
 * reply's body, NUL-terminated.
 */
int bench_http_request(int port, const char *method, const char *path, long timeout_ms,
		       char *body, size_t n);

/* out (PATH_MAX) = $env_var if set, else target ("tests/objserver") in the
 * build tree this program runs from; dies saying how to build it. */
void bench_find_program(char *out, const char *env_var, const char *target);

/* A server that prints the port it listens on as the first line of stdout
 * once it listens (tests/objserver, tests/faultproxy). */
struct bench_server {
	char name[32];
	char out[PATH_MAX]; /* its stdout and stderr, in the work dir */
	int port;           /* on 127.0.0.1 */
	volatile pid_t pid;
};

/* Run argv[0] with argv (a child that dies with the bench) and wait,
 * bounded, until it printed its port; dies on failure. */
void bench_server_start(struct bench_server *s, const char *name, char *const argv[]);
/* bench_terminate() it. */
void bench_server_stop(struct bench_server *s);

/* ---- reporting -------------------------------------------------------------- */

/* "PASS" / "MISS" for value against goal, "n/a" for NAN. */
const char *bench_verdict_of(double value, double goal, bool at_most);
/* Remember one line of the summary table. */
void bench_add_verdict(const char *scope, const char *what, const char *value,
		       const char *goal, const char *result);
/* Print "  WHAT  VALUE  goal >= GOAL  RESULT" (<= when at_most), with value
 * and goal printed by format ("%.2f"), and remember it for the summary. */
void bench_report(const char *scope, const char *what, double value, const char *format,
		  double goal, bool at_most);
/* One Markdown table cell, '|' escaped. */
void bench_md_cell(const char *text);
/* The summary: "| scope | measure | value | goal | result |". */
void bench_print_verdicts(void);
/* "CPU, N CPUs, Linux R; nginx/V, curl V, libarchive V, aisfile V". */
void bench_versions(char *out, size_t n);

#endif /* BENCHUTIL_H */
