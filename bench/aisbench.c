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
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <aisfile.h>

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define QUICK_SCALE 8
#define DEFAULT_REPS 3
#define MAX_REPS 99

/* The fread contender's buffer, and the generator's write size. */
#define COPY_BUFFER_SIZE MIB
#define GENERATE_BLOCK_SIZE MIB
/* Every member gets this mtime: runs are comparable byte for byte. */
#define MEMBER_MTIME ((time_t)1700000000)

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

#define NGINX_READY_TIMEOUT_MS 10000
#define NGINX_STOP_TIMEOUT_MS 5000
#define NGINX_BIND_ATTEMPTS 5
#define PROBE_TIMEOUT_MS 200
#define POLL_INTERVAL_MS 20

/* A measurement that has not finished after WATCHDOG_BASE_S plus one second
 * per WATCHDOG_MIN_RATE bytes of the object is declared hung. */
#define WATCHDOG_BASE_S 60
#define WATCHDOG_MIN_RATE (10 * 1000 * 1000)

/* The same extraction flags as examples/aistar. */
#define EXTRACT_FLAGS (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | \
	ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
	ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

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
	double seconds[MAX_REPS];
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

/* One line of the summary: a measured value next to its goal. */
struct verdict {
	char scope[80];
	char what[80];
	char value[32];
	char goal[32];
	const char *result; /* PASS, MISS, n/a */
};

static struct {
	bool quick;
	int reps;
	uint64_t scale;
	char command[2048];      /* how this run was started, for the report */
	char workdir[PATH_MAX];
	char objdir[PATH_MAX];
	char xdir[PATH_MAX];     /* extraction target, emptied after every run */
	char child_log[PATH_MAX]; /* stderr of the last subprocess */
	char nginx_conf[PATH_MAX];
	char nginx_errlog[PATH_MAX];
	char nginx_out[PATH_MAX];
	const char *nginx_binary;
	int port;
	char aistar[PATH_MAX];         /* the program run for aistar -x */
	char aistar_wrapper[PATH_MAX]; /* its libtool wrapper; "" if none */
	char **aistar_env;
	int home_fd;             /* cwd at start; in-process extraction leaves it */
	char *buffer;            /* the fread contender's */
	uint64_t prng_state;
	pid_t main_pid;
	bool any_failed;
	struct verdict verdicts[32];
	size_t verdict_count;
} bench;

/* Read by the signal handlers; written only by the main thread. */
static volatile pid_t nginx_pid;
static volatile pid_t running_child;
static volatile sig_atomic_t child_timed_out;

/* ---- small helpers ------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Print "aisbench: ..." on stderr and return -1, so error paths are one line. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("aisbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* exit() runs the atexit cleanup: nginx stops, the work dir goes. */
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("aisbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* out = dir/name in a PATH_MAX buffer; 0, or -1 if it would not fit. */
static int path_join(char *out, const char *dir, const char *name)
{
	int len = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return len < 0 || len >= PATH_MAX ? -1 : 0;
}

/* out = the directory part of path ("." when there is none). */
static void dir_of(char *out, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, PATH_MAX, ".");
	else
		snprintf(out, PATH_MAX, "%.*s", (int)(slash - path), path);
}

/* "1 GiB", "128 KiB", "1.25 MiB". */
static const char *format_size(char *buf, size_t n, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double value = (double)bytes;
	size_t unit = 0;

	while (value >= 1024 && unit + 1 < COUNT_OF(units)) {
		value /= 1024;
		unit++;
	}
	snprintf(buf, n, "%g %s", value, units[unit]);
	return buf;
}

/* The first line of a file, without its newline; "" if unreadable. */
static void first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)n, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* Up to n-1 bytes of a file, NUL-terminated; the count, or -1. */
static ssize_t read_text(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, out, n - 1);
	close(fd);
	out[got > 0 ? got : 0] = '\0';
	return got;
}

/* wyrand: one multiply per 8 bytes, so generating is not the bottleneck. */
static void prng_fill(void *buf, size_t len)
{
	uint64_t *word = buf;

	for (size_t i = 0; i < (len + 7) / 8; i++) {
		__uint128_t t;

		bench.prng_state += UINT64_C(0xa0761d6478bd642f);
		t = (__uint128_t)bench.prng_state * (bench.prng_state ^ UINT64_C(0xe7037ed1a0b428db));
		word[i] = (uint64_t)(t >> 64) ^ (uint64_t)t;
	}
}

/* ---- the work dir, cleanup and signals ----------------------------------- */

static uint64_t walk_files, walk_bytes;
static bool walk_keep_root;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (ftw->level == 0 && walk_keep_root)
		return 0;
	if (type == FTW_F) {
		walk_files++;
		walk_bytes += (uint64_t)st->st_size;
	}
	return remove(path) < 0 ? -1 : 0;
}

/* Remove everything under dir (and dir itself unless keep_root); count the
 * regular files and their bytes on the way, to check an extraction. */
static int remove_tree(const char *dir, bool keep_root, uint64_t *files, uint64_t *bytes)
{
	int rc;

	walk_files = walk_bytes = 0;
	walk_keep_root = keep_root;
	rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (files)
		*files = walk_files;
	if (bytes)
		*bytes = walk_bytes;
	return rc < 0 ? fail("remove %s: %s", dir, strerror(errno)) : 0;
}

/* SIGTERM, a bounded wait, then SIGKILL. */
static void stop_nginx(void)
{
	pid_t pid = nginx_pid;
	double deadline = now_seconds() + NGINX_STOP_TIMEOUT_MS / 1000.0;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_seconds() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
	nginx_pid = 0;
}

static void cleanup_at_exit(void)
{
	/* A forked child that exits owns neither nginx nor the work dir. */
	if (getpid() != bench.main_pid)
		return;
	stop_nginx();
	if (bench.workdir[0]) {
		remove_tree(bench.workdir, false, NULL, NULL);
		bench.workdir[0] = '\0';
	}
}

/*
 * From a signal handler: only async-signal-safe calls, so the work dir goes
 * through rm -rf in a forked child instead of nftw.  Children run in their
 * own process groups, so a pipeline dies with its shell.
 */
static void emergency_cleanup(void)
{
	char *const argv[] = { "rm", "-rf", "--", bench.workdir, NULL };
	char *const envp[] = { NULL };
	pid_t pid;

	if (running_child > 0)
		kill(-running_child, SIGKILL);
	if (nginx_pid > 0)
		kill(nginx_pid, SIGKILL);
	if (!bench.workdir[0])
		return;
	pid = fork();
	if (pid == 0) {
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void on_fatal_signal(int sig)
{
	static const char msg[] = "\naisbench: interrupted; stopping nginx, removing the work dir\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do about it */
	}
	emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Every timed run happens in a child (a tool, or a fork for the in-process
 * contenders): a hung run is killed, and counts as failed. */
static void on_watchdog(int sig)
{
	(void)sig;
	if (running_child > 0) {
		child_timed_out = 1;
		kill(-running_child, SIGKILL);
	}
}

static void install_signal_handlers(void)
{
	static const int fatal[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < COUNT_OF(fatal); i++)
		sigaction(fatal[i], &sa, NULL);
	sa.sa_handler = on_watchdog;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
}

static unsigned watchdog_seconds(const struct object *obj)
{
	return WATCHDOG_BASE_S + (unsigned)(obj->file_bytes / WATCHDOG_MIN_RATE);
}

/* tmpfs when there is one: the objects and the extraction never touch a disk. */
static void make_workdir(void)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };
	static const char *const subdirs[] = { "objects", "x", "tmp" };
	char sub[PATH_MAX];
	struct statvfs fs;

	for (size_t i = 0; i < COUNT_OF(bases) && !bench.workdir[0]; i++) {
		if (path_join(bench.workdir, bases[i], "aisbench-XXXXXX") == 0 &&
		    mkdtemp(bench.workdir) == NULL)
			bench.workdir[0] = '\0';
	}
	if (!bench.workdir[0])
		die("cannot create a work dir in /dev/shm or /tmp: %s", strerror(errno));
	for (size_t i = 0; i < COUNT_OF(subdirs); i++) {
		if (path_join(sub, bench.workdir, subdirs[i]) < 0 || mkdir(sub, 0755) < 0)
			die("mkdir %s: %s", sub, strerror(errno));
	}
	if (path_join(bench.objdir, bench.workdir, "objects") < 0 ||
	    path_join(bench.xdir, bench.workdir, "x") < 0 ||
	    path_join(bench.child_log, bench.workdir, "child.err") < 0 ||
	    path_join(bench.nginx_conf, bench.workdir, "nginx.conf") < 0 ||
	    path_join(bench.nginx_errlog, bench.workdir, "nginx-error.log") < 0 ||
	    path_join(bench.nginx_out, bench.workdir, "nginx.out") < 0)
		die("work dir path too long: %s", bench.workdir);
	if (statvfs(bench.workdir, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < SPACE_NEEDED / bench.scale)
		die("%s has %" PRIu64 " MiB free; this run needs %" PRIu64 " MiB",
		    bench.workdir, (uint64_t)fs.f_bavail * fs.f_frsize / MIB,
		    SPACE_NEEDED / bench.scale / MIB);
}

/* ---- subprocesses --------------------------------------------------------- */

static void describe_status(char *out, size_t n, int status)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, n, "ended with wait status %#x", status);
}

/* The start of the last subprocess's stderr, indented, after a failure. */
static void show_child_log(void)
{
	char text[2048];

	if (read_text(bench.child_log, text, sizeof(text)) > 0)
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "    | %s\n", line);
}

struct child_result {
	double seconds;   /* from spawn to reaped */
	long maxrss_kib;
};

/*
 * Run argv (searched in PATH) with stdin from /dev/null, stdout to
 * stdout_path (NULL: /dev/null), stderr to bench.child_log, in its own
 * process group; wait and time it.  0 if it exited with status 0.
 */
static int run_child(char *const argv[], char *const envp[], const char *stdout_path,
		     struct child_result *res)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none;
	struct rusage usage;
	char how[96];
	double start;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
					 stdout_path ? stdout_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, bench.child_log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	child_timed_out = 0;
	start = now_seconds();
	rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return fail("%s: %s", argv[0], strerror(rc));
	running_child = pid;
	while (wait4(pid, &status, 0, &usage) < 0) {
		if (errno != EINTR) {
			running_child = 0;
			return fail("wait4 %s: %s", argv[0], strerror(errno));
		}
	}
	res->seconds = now_seconds() - start;
	running_child = 0;
	res->maxrss_kib = usage.ru_maxrss;
	if (child_timed_out) {
		fail("%s did not finish within the watchdog's time and was killed", argv[0]);
		show_child_log();
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(how, sizeof(how), status);
		fail("%s %s", argv[0], how);
		show_child_log();
		return -1;
	}
	return 0;
}

/* The first line a tool prints about itself (stdout, else stderr). */
static void tool_version(char *const argv[], char *out, size_t n)
{
	char path[PATH_MAX];
	struct child_result res;

	out[0] = '\0';
	if (path_join(path, bench.workdir, "version.out") < 0 ||
	    run_child(argv, environ, path, &res) < 0)
		return;
	first_line(path, out, n);
	if (!out[0])
		first_line(bench.child_log, out, n);
	unlink(path);
}

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
		die("out of memory");
	for (size_t i = 0; i < count; i++)
		if (strncmp(environ[i], assignment, name_len) != 0)
			env[kept++] = environ[i];
	env[kept++] = strdup(assignment);
	if (env[kept - 1] == NULL)
		die("out of memory");
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

	if (read_text(wrapper, text, sizeof(text)) <= 0 || strncmp(text, "#!", 2) != 0 ||
	    (p = strstr(text, marker)) == NULL || strstr(text, "relink_command=\"\"") == NULL)
		return false;
	p += sizeof(marker) - 1;
	end = strchr(p, '\n');
	if (end == NULL || end - p >= PATH_MAX)
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
	dir_of(dir, wrapper);
	if (path_join(program, dir, name) < 0 || access(program, X_OK) < 0)
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
		dir_of(dir, argv0);
		if (path_join(candidates[count], dir, "../examples/aistar") == 0)
			count++;
		len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (len > 0) {
			exe[len] = '\0';
			dir_of(dir, exe);
			if (path_join(candidates[count], dir, "../examples/aistar") == 0)
				count++;
			if (path_join(candidates[count], dir, "../../examples/aistar") == 0)
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
	die("examples/aistar not found (tried %s%s%s); build it (make) or set AISTAR",
	    candidates[0], count > 1 ? ", " : "", count > 1 ? candidates[1] : "");
}

/* ---- objects ----------------------------------------------------------------- */

static void object_init(struct object *obj, const char *file, uint64_t data_bytes,
			uint64_t member_bytes)
{
	char total[32], member[32];

	memset(obj, 0, sizeof(*obj));
	obj->data_bytes = data_bytes / bench.scale;
	obj->member_bytes = member_bytes / bench.scale;
	obj->members = (obj->data_bytes + obj->member_bytes - 1) / obj->member_bytes;
	snprintf(obj->label, sizeof(obj->label), "%s tar of %s members",
		 format_size(total, sizeof(total), obj->data_bytes),
		 format_size(member, sizeof(member), obj->member_bytes));
	if (path_join(obj->path, bench.objdir, file) < 0)
		die("path too long: %s/%s", bench.objdir, file);
	snprintf(obj->url, sizeof(obj->url), "http://127.0.0.1:%d/%s", bench.port, file);
	snprintf(obj->slow_url, sizeof(obj->slow_url), "http://127.0.0.1:%d/slow/%s",
		 bench.port, file);
}

static int write_member(struct archive *a, struct archive_entry *entry, uint64_t index,
			uint64_t size, char *block)
{
	char name[32];

	snprintf(name, sizeof(name), "m%06" PRIu64 ".bin", index);
	archive_entry_clear(entry);
	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, (la_int64_t)size);
	archive_entry_set_mtime(entry, MEMBER_MTIME, 0);
	if (archive_write_header(a, entry) != ARCHIVE_OK)
		return fail("write header: %s", archive_error_string(a));
	while (size > 0) {
		size_t n = size < GENERATE_BLOCK_SIZE ? (size_t)size : GENERATE_BLOCK_SIZE;

		prng_fill(block, n);
		if (archive_write_data(a, block, n) != (la_ssize_t)n)
			return fail("write data: %s", archive_error_string(a));
		size -= n;
	}
	return 0;
}

/* A ustar of random members, written by libarchive. */
static void object_generate(struct object *obj)
{
	struct archive *a = archive_write_new();
	struct archive_entry *entry = archive_entry_new();
	char *block = malloc(GENERATE_BLOCK_SIZE + 8);
	double start = now_seconds();
	uint64_t left = obj->data_bytes;
	struct stat st;
	int rc = 0;

	if (a == NULL || entry == NULL || block == NULL)
		die("out of memory");
	fprintf(stderr, "generating %s ... ", obj->label);
	archive_write_set_format_ustar(a);
	/* Unblocked: no padding of the last block, one write per data call. */
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open_filename(a, obj->path) != ARCHIVE_OK)
		die("create %s: %s", obj->path, archive_error_string(a));
	for (uint64_t i = 0; i < obj->members && rc == 0; i++) {
		uint64_t size = left < obj->member_bytes ? left : obj->member_bytes;

		rc = write_member(a, entry, i, size, block);
		left -= size;
	}
	if (rc < 0 || archive_write_close(a) != ARCHIVE_OK || stat(obj->path, &st) < 0)
		die("generate %s: %s", obj->path, archive_error_string(a));
	obj->file_bytes = (uint64_t)st.st_size;
	archive_entry_free(entry);
	archive_write_free(a);
	free(block);
	fprintf(stderr, "%.1f s\n", now_seconds() - start);
}

static void object_delete(const struct object *obj)
{
	if (unlink(obj->path) < 0)
		fail("unlink %s: %s", obj->path, strerror(errno));
}

/* ---- nginx -------------------------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

/*
 * One process in the foreground (the pid we fork is nginx itself), every
 * file it writes inside the work dir.  "/" serves at full speed; "/slow/"
 * the same files, each connection throttled to SLOW_RATE.
 */
static void write_nginx_conf(void)
{
	const char *d = bench.workdir;
	FILE *f = fopen(bench.nginx_conf, "we");

	if (f == NULL)
		die("create %s: %s", bench.nginx_conf, strerror(errno));
	fprintf(f, "daemon off;\nmaster_process off;\n");
	if (geteuid() == 0)
		fprintf(f, "user root;\n");
	fprintf(f,
		"pid %s/nginx.pid;\n"
		"lock_file %s/nginx.lock;\n"
		"error_log %s warn;\n"
		"events { worker_connections 1024; }\n"
		"http {\n"
		"\taccess_log off;\n"
		"\tclient_body_temp_path %s/tmp/client_body;\n"
		"\tproxy_temp_path %s/tmp/proxy;\n"
		"\tfastcgi_temp_path %s/tmp/fastcgi;\n"
		"\tuwsgi_temp_path %s/tmp/uwsgi;\n"
		"\tscgi_temp_path %s/tmp/scgi;\n"
		"\tdefault_type application/octet-stream;\n"
		"\tsendfile on;\n"
		"\tkeepalive_timeout 60;\n"
		"\tkeepalive_requests 100000;\n"
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\tlocation / { root %s; }\n"
		"\t\tlocation /slow/ { alias %s/; limit_rate %s; sendfile_max_chunk %s; }\n"
		"\t}\n"
		"}\n",
		d, d, bench.nginx_errlog, d, d, d, d, d, bench.port, bench.objdir,
		bench.objdir, SLOW_RATE, SLOW_CHUNK);
	if (fclose(f) != 0)
		die("write %s: %s", bench.nginx_conf, strerror(errno));
}

/*
 * fork for a child that must not outlive the bench: it gets SIGKILL when the
 * bench dies, even by SIGKILL, and runs in its own process group, so that
 * killing the group takes its children too.  Signals stay blocked across the
 * fork, so our handlers never run in the child; *record gets the pid before
 * they can run in the parent.  Returns as fork().
 */
static pid_t fork_child(volatile pid_t *record)
{
	static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };
	sigset_t all, old;
	pid_t parent = getpid(), pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < COUNT_OF(handled); i++)
			signal(handled[i], SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
	} else if (pid > 0) {
		*record = pid;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static void spawn_nginx(void)
{
	char prefix[PATH_MAX + 1];
	char *argv[] = { (char *)bench.nginx_binary, "-p", prefix, "-e", bench.nginx_errlog,
			 "-c", bench.nginx_conf, NULL };
	int out = open(bench.nginx_out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;

	if (out < 0)
		die("create %s: %s", bench.nginx_out, strerror(errno));
	snprintf(prefix, sizeof(prefix), "%s/", bench.workdir);
	pid = fork_child(&nginx_pid);
	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out);
	if (pid < 0)
		die("fork: %s", strerror(errno));
}

/* true if GET /ready answers 200. */
static bool nginx_answers(void)
{
	static const char request[] = "GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)bench.port) };
	struct timeval timeout = { 0, PROBE_TIMEOUT_MS * 1000 };
	char reply[16] = "";
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(request) - 1)) {
		while (got < 12) {
			ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	close(fd);
	reply[got] = '\0';
	return got >= 12 && strncmp(reply, "HTTP/1.", 7) == 0 && strncmp(reply + 8, " 200", 4) == 0;
}

enum nginx_outcome { NGINX_READY, NGINX_PORT_TAKEN, NGINX_FAILED };

/* Poll until nginx answers, exits, or the time is up.  A taken port shows in
 * the error log at once, though nginx itself retries bind() for 2.5 s. */
static enum nginx_outcome wait_for_nginx(void)
{
	double deadline = now_seconds() + NGINX_READY_TIMEOUT_MS / 1000.0;
	char log[8192];
	int status;

	for (;;) {
		bool taken = read_text(bench.nginx_errlog, log, sizeof(log)) > 0 &&
			     strstr(log, "Address already in use") != NULL;

		if (waitpid(nginx_pid, &status, WNOHANG) == nginx_pid) {
			nginx_pid = 0;
			return taken ? NGINX_PORT_TAKEN : NGINX_FAILED;
		}
		if (taken) {
			stop_nginx();
			return NGINX_PORT_TAKEN;
		}
		if (nginx_answers())
			return NGINX_READY;
		if (now_seconds() > deadline) {
			stop_nginx();
			return NGINX_FAILED;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
}

static void start_nginx(void)
{
	char ready[PATH_MAX], log[4096];
	int fd;

	if (path_join(ready, bench.objdir, "ready") < 0 ||
	    (fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		die("create %s/ready: %s", bench.objdir, strerror(errno));
	close(fd);
	if (access(bench.nginx_binary, X_OK) < 0)
		die("nginx %s: %s (install nginx, or set NGINX)", bench.nginx_binary, strerror(errno));
	for (int attempt = 0; attempt < NGINX_BIND_ATTEMPTS; attempt++) {
		bench.port = free_port();
		if (bench.port < 0)
			die("no free port: %s", strerror(errno));
		write_nginx_conf();
		unlink(bench.nginx_errlog);
		spawn_nginx();
		switch (wait_for_nginx()) {
		case NGINX_READY:
			fprintf(stderr, "nginx %d listens on 127.0.0.1:%d\n", nginx_pid, bench.port);
			return;
		case NGINX_PORT_TAKEN:
			continue;
		case NGINX_FAILED:
			if (read_text(bench.nginx_errlog, log, sizeof(log)) > 0)
				fprintf(stderr, "%s", log);
			if (read_text(bench.nginx_out, log, sizeof(log)) > 0)
				fprintf(stderr, "%s", log);
			die("nginx did not answer GET /ready within %d ms", NGINX_READY_TIMEOUT_MS);
		}
	}
	die("nginx could not bind a free port in %d attempts", NGINX_BIND_ATTEMPTS);
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
	struct child_result res;

	if (run_child(argv, envp, NULL, &res) < 0)
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

	if (read_text(bench.child_log, text, sizeof(text)) <= 0 ||
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
	uint64_t part = THROTTLED_PART_SIZE / bench.scale;

	return part < THROTTLED_MIN_PART_SIZE ? THROTTLED_MIN_PART_SIZE : part;
}

/* Sum the counts ais_next hands out; the bytes are not touched. */
static int run_ais_next(const struct object *obj, const struct contender *c,
			struct sample *out)
{
	struct ais_options opts = AIS_OPTIONS_INIT;
	const char *url = object_url(obj, c);
	double start = now_seconds();
	struct ais_stats st;
	const void *buf;
	uint64_t total = 0;
	ais_stream *s;
	ssize_t n;

	opts.connections = c->connections;
	if (c->connections > 0) {
		opts.readahead_bytes = (long)(THROTTLED_READAHEAD / bench.scale);
		opts.part_size = throttled_part_size();
	}
	s = ais_open(url, c->connections > 0 ? &opts : NULL);
	if (s == NULL)
		return fail("ais_open %s: %s", url, ais_last_error());
	while ((n = ais_next(s, &buf)) > 0)
		total += (uint64_t)n;
	if (n < 0)
		fail("ais_next %s at byte %" PRIu64 ": %s", url, total, ais_errmsg(s));
	ais_stats(s, &st);
	ais_close(s);
	out->seconds = now_seconds() - start;
	take_counters(out, &st);
	if (n == 0 && total != obj->file_bytes)
		return fail("ais_next %s: %" PRIu64 " bytes, the object has %" PRIu64,
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
		fail("ais_open %s: %s", url, ais_last_error());
		return NULL;
	}
	f = ais_fdopen(s, "rb");
	if (f == NULL) {
		fail("ais_fdopen %s: %s", url, ais_last_error());
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
	double start = now_seconds();
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
		fail("fread %s at byte %" PRIu64 ": %s", url, total, ais_last_error());
	ais_stats(s, &st);
	fclose(f);
	out->seconds = now_seconds() - start;
	take_counters(out, &st);
	if (!failed && total != obj->file_bytes)
		return fail("fread %s: %" PRIu64 " bytes, the object has %" PRIu64,
			    url, total, obj->file_bytes);
	return failed ? -1 : 0;
}

/* Each entry from in to disk, data blocks handed over as they come. */
static int extract_all(struct archive *in, struct archive *disk)
{
	struct archive_entry *entry;
	int r;

	while ((r = archive_read_next_header(in, &entry)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return fail("read header: %s", archive_error_string(in));
		if (archive_write_header(disk, entry) < ARCHIVE_WARN)
			return fail("write %s: %s", archive_entry_pathname(entry),
				    archive_error_string(disk));
		for (;;) {
			const void *block;
			size_t size;
			la_int64_t offset;

			r = archive_read_data_block(in, &block, &size, &offset);
			if (r == ARCHIVE_EOF)
				break;
			if (r < ARCHIVE_WARN)
				return fail("read data: %s", archive_error_string(in));
			if (archive_write_data_block(disk, block, size, offset) < ARCHIVE_WARN)
				return fail("write data: %s", archive_error_string(disk));
		}
		if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
			return fail("finish %s: %s", archive_entry_pathname(entry),
				    archive_error_string(disk));
	}
	return 0;
}

/* What code built on libarchive's FILE* reader gets from ais_fopen: the
 * same extraction as aistar, through the stdio shim. */
static int run_archive_file(const struct object *obj, const struct contender *c,
			    struct sample *out)
{
	const char *url = object_url(obj, c);
	double start = now_seconds();
	struct archive *in, *disk;
	struct ais_stats st;
	ais_stream *s;
	int rc;
	FILE *f = open_object_file(url, &s);

	if (f == NULL)
		return -1;
	/* archive_write_disk writes entry paths relative to the cwd. */
	if (chdir(bench.xdir) < 0)
		die("chdir %s: %s", bench.xdir, strerror(errno));
	in = archive_read_new();
	disk = archive_write_disk_new();
	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(disk, EXTRACT_FLAGS);
	if (archive_read_open_FILE(in, f) != ARCHIVE_OK)
		rc = fail("archive_read_open_FILE %s: %s", url, archive_error_string(in));
	else
		rc = extract_all(in, disk);
	if (archive_write_close(disk) < ARCHIVE_WARN && rc == 0)
		rc = fail("close %s: %s", bench.xdir, archive_error_string(disk));
	ais_stats(s, &st);
	archive_read_free(in);
	archive_write_free(disk);
	fclose(f);
	out->seconds = now_seconds() - start;
	if (fchdir(bench.home_fd) < 0)
		die("fchdir back: %s", strerror(errno));
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

	if (remove_tree(bench.xdir, true, &files, &bytes) < 0)
		die("cannot empty %s", bench.xdir);
	if (ran && (files != obj->members || bytes != obj->data_bytes))
		return fail("extracted %" PRIu64 " files of %" PRIu64 " bytes; the tar has %"
			    PRIu64 " of %" PRIu64, files, bytes, obj->members, obj->data_bytes);
	return 0;
}

static double gbps(uint64_t bytes, double seconds)
{
	return (double)bytes / seconds / 1e9;
}

/*
 * An in-process contender runs in a forked child, which times itself and
 * sends its sample back: a crash or a hang of the library under test then
 * costs one run, not the whole benchmark.  The fork is outside the timing.
 */
static int run_in_child(const struct object *obj, const struct contender *c,
			struct sample *out)
{
	struct { int rc; struct sample smp; } report = { .rc = -1 };
	size_t got = 0;
	char how[96];
	int fds[2], status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return fail("pipe: %s", strerror(errno));
	child_timed_out = 0;
	pid = fork_child(&running_child);
	if (pid == 0) {
		close(fds[0]);
		report.rc = c->run(obj, c, &report.smp);
		_exit(write(fds[1], &report, sizeof(report)) == (ssize_t)sizeof(report) ? 0 : 1);
	}
	close(fds[1]);
	while (pid > 0 && got < sizeof(report)) {
		ssize_t n = read(fds[0], (char *)&report + got, sizeof(report) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	running_child = 0;
	if (child_timed_out)
		return fail("%s did not finish within the watchdog's time and was killed", c->name);
	if (got != sizeof(report) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(how, sizeof(how), status);
		return fail("%s: the child that ran it %s", c->name, how);
	}
	*out = report.smp;
	return report.rc;
}

/* One timed run, checked, added to s. */
static void measure_once(const struct object *obj, const struct contender *c,
			 struct series *s, int rep)
{
	struct sample smp = { 0 };
	int rc;

	alarm(watchdog_seconds(obj)); /* on_watchdog kills the run's child */
	rc = c->in_process ? run_in_child(obj, c, &smp) : c->run(obj, c, &smp);
	alarm(0);
	if (c->extracts && check_extraction(obj, rc == 0) < 0)
		rc = -1;
	fprintf(stderr, "  [%s] rep %d/%d  %-40s ", obj->label, rep + 1, bench.reps, c->name);
	if (rc < 0 || smp.seconds <= 0) {
		fprintf(stderr, "FAILED\n");
		s->failed++;
		bench.any_failed = true;
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
	for (int rep = 0; rep < bench.reps; rep++)
		for (size_t i = 0; i < n; i++)
			measure_once(obj, &cs[i], &out[i], rep);
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median GB/s of the successful runs; NAN when none succeeded. */
static double median_gbps(const struct series *s, uint64_t bytes)
{
	double rates[MAX_REPS];

	if (s->ok == 0)
		return NAN;
	for (int i = 0; i < s->ok; i++)
		rates[i] = gbps(bytes, s->seconds[i]);
	qsort(rates, (size_t)s->ok, sizeof(rates[0]), compare_doubles);
	return s->ok % 2 ? rates[s->ok / 2] : (rates[s->ok / 2 - 1] + rates[s->ok / 2]) / 2;
}

/* ---- reporting ------------------------------------------------------------- */

static const char *verdict_of(double value, double goal, bool at_most)
{
	if (isnan(value))
		return "n/a";
	return (at_most ? value <= goal : value >= goal) ? "PASS" : "MISS";
}

static void add_verdict(const char *scope, const char *what, const char *value,
			const char *goal, const char *result)
{
	struct verdict *v;

	if (bench.verdict_count == COUNT_OF(bench.verdicts))
		return;
	v = &bench.verdicts[bench.verdict_count++];
	snprintf(v->scope, sizeof(v->scope), "%s", scope);
	snprintf(v->what, sizeof(v->what), "%s", what);
	snprintf(v->value, sizeof(v->value), "%s", value);
	snprintf(v->goal, sizeof(v->goal), "%s", goal);
	v->result = result;
}

/* Print one value/goal line and remember it for the summary. */
static void report_ratio(const char *scope, const char *what, double value, double goal)
{
	char value_text[32], goal_text[32];
	const char *result = verdict_of(value, goal, false);

	snprintf(value_text, sizeof(value_text), isnan(value) ? "n/a" : "%.2f", value);
	snprintf(goal_text, sizeof(goal_text), ">= %.2f", goal);
	printf("  %-44s %8s   goal %-8s %s\n", what, value_text, goal_text, result);
	add_verdict(scope, what, value_text, goal_text, result);
}

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
	       format_size(size, sizeof(size), obj->file_bytes), obj->members, bench.reps);
	print_series_table(obj, matrix_contenders, C_COUNT, results, C_CURL);
	printf("  ratio = GB/s / GB/s of curl -o /dev/null (the wire limit)\n");
	for (size_t i = 0; i < COUNT_OF(matrix_targets); i++) {
		const struct ratio_target *t = &matrix_targets[i];

		report_ratio(obj->label, t->what,
			     median_gbps(&results[t->numerator], obj->file_bytes) /
			     median_gbps(&results[t->denominator], obj->file_bytes), t->goal);
	}
	fflush(stdout);
}

static void report_throttled(const struct object *obj, const struct series *results)
{
	char scope[128], ra[32], part[32];

	printf("\n== Throttled server: /slow/ (nginx limit_rate %s, sendfile_max_chunk %s), %s ==\n",
	       SLOW_RATE, SLOW_CHUNK, obj->label);
	printf("  ais_options: readahead_bytes %s, part_size %s, connections as named; median of %d\n",
	       format_size(ra, sizeof(ra), THROTTLED_READAHEAD / bench.scale),
	       format_size(part, sizeof(part), throttled_part_size()), bench.reps);
	print_series_table(obj, throttled_contenders, T_COUNT, results, T_CURL);
	printf("  ratio = GB/s / GB/s of curl on /slow/ (one throttled connection, ~%.0f MB/s)\n",
	       SLOW_RATE_BYTES / 1e6);
	snprintf(scope, sizeof(scope), "%s, %s per connection", obj->label, SLOW_RATE_LABEL);
	report_ratio(scope, "ais_next 8 connections / 1 connection",
		     median_gbps(&results[T_C8], obj->file_bytes) /
		     median_gbps(&results[T_C1], obj->file_bytes), 6.0);
	fflush(stdout);
}

/* The read-ahead bound a stream may buffer: AIS_READAHEAD, else the
 * header's default.  source says where it came from. */
static uint64_t readahead_bound(char *source, size_t n)
{
	const char *env = getenv("AIS_READAHEAD");
	char *end;
	unsigned long long value;

	if (env == NULL || !*env) {
		snprintf(source, n, "read-ahead default 64 MiB");
		return DEFAULT_READAHEAD;
	}
	errno = 0;
	value = strtoull(env, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K': value *= KIB; end++; break;
	case 'M': value *= MIB; end++; break;
	case 'G': value *= GIB; end++; break;
	default: break;
	}
	if (errno || *end || end == env) {
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

	printf("\n== Peak RSS of aistar -x (wait4 ru_maxrss, largest of %d runs) ==\n", bench.reps);
	printf("  %-44s %8.1f MiB  (%.3f GB/s)\n", small->label, mib_of_kib(rss[0].maxrss_kib),
	       median_gbps(&rss[0], small->file_bytes));
	printf("  %-44s %8.1f MiB  (%.3f GB/s)\n", big->label, mib_of_kib(rss[1].maxrss_kib),
	       median_gbps(&rss[1], big->file_bytes));
	snprintf(value, sizeof(value), isnan(ratio) ? "n/a" : "%.3f", ratio);
	snprintf(goal, sizeof(goal), "<= %.2f", RSS_GROWTH_LIMIT);
	printf("  %-44s %8s   goal %-8s %s\n", "peak RSS, large tar / small tar", value, goal,
	       verdict_of(ratio, RSS_GROWTH_LIMIT, true));
	if (small->file_bytes < readahead_bound(source, sizeof(source)))
		printf("  (the small tar is smaller than the read-ahead bound, so its stream never "
		       "fills it: the ratio means little here)\n");
	add_verdict("aistar -x", "peak RSS, large tar / small tar", value, goal,
		    verdict_of(ratio, RSS_GROWTH_LIMIT, true));
	snprintf(value, sizeof(value), "%.1f MiB", mib_of_kib(rss[0].maxrss_kib > rss[1].maxrss_kib ?
							   rss[0].maxrss_kib : rss[1].maxrss_kib));
	snprintf(goal, sizeof(goal), "< %" PRIu64 " MiB", bound / MIB);
	printf("  %-44s %8s   goal %-8s %s  (%s + 16 MiB)\n", "peak RSS, both tars", value, goal,
	       rss[0].ok && rss[1].ok ? (under ? "PASS" : "MISS") : "n/a", source);
	add_verdict("aistar -x", "peak RSS, both tars", value, goal,
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

		printf(" %14s", format_size(size, sizeof(size), objs[o].member_bytes));
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
			add_verdict(matrix_contenders[c].name, "bytes copied / bytes delivered",
				    value, "0", result);
		} else {
			printf("   (copies by design: the FILE* shim)\n");
		}
	}
	printf("  columns: member size of each 1 GiB tar\n");
	fflush(stdout);
}

/* A table cell: '|' would end the cell. */
static void md_cell(const char *text)
{
	fputs(" ", stdout);
	for (const char *p = text; *p; p++) {
		if (*p == '|')
			fputs("\\|", stdout);
		else
			fputc(*p, stdout);
	}
	fputs(" |", stdout);
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
		md_cell(label);
		md_cell(cs[i].name);
		md_cell(gb);
		md_cell(ratio);
		fputs("\n", stdout);
	}
}

static void cpu_model(char *out, size_t n)
{
	char text[8192];
	const char *p;

	snprintf(out, n, "unknown CPU");
	if (read_text("/proc/cpuinfo", text, sizeof(text)) > 0 &&
	    (p = strstr(text, "model name")) != NULL && (p = strchr(p, ':')) != NULL)
		snprintf(out, n, "%.*s", (int)strcspn(p + 2, "\n"), p + 2);
}

static char versions[512];

static void collect_versions(void)
{
	char *nginx_argv[] = { (char *)bench.nginx_binary, "-v", NULL };
	char *curl_argv[] = { "curl", "--version", NULL };
	char nginx_v[128], curl_v[128], cpu[128], curl_short[64];
	struct utsname u;

	tool_version(nginx_argv, nginx_v, sizeof(nginx_v));
	tool_version(curl_argv, curl_v, sizeof(curl_v));
	/* "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 ...": the first two words */
	snprintf(curl_short, sizeof(curl_short), "%.*s",
		 strstr(curl_v, " (") ? (int)(strstr(curl_v, " (") - curl_v) : (int)strlen(curl_v),
		 curl_v);
	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	snprintf(versions, sizeof(versions), "%s, %ld CPUs, Linux %s; %s, %s, %s, aisfile %s",
		 cpu, sysconf(_SC_NPROCESSORS_ONLN), u.release,
		 strncmp(nginx_v, "nginx version: ", 15) == 0 ? nginx_v + 15 : nginx_v,
		 curl_short, archive_version_string(), ais_version());
}

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
	       bench.reps, bench.quick ? " **Quick run: every size divided by 8.**" : "");
	printf("| object | contender | median GB/s | ratio |\n| --- | --- | ---: | ---: |\n");
	for (size_t o = 0; o < n; o++)
		md_rows(&matrix[o], matrix[o].label, matrix_contenders, C_COUNT, results[o], C_CURL);
	snprintf(label, sizeof(label), "%s, %s per connection", small->label, SLOW_RATE_LABEL);
	md_rows(small, label, throttled_contenders, T_COUNT, throttled, T_CURL);
	printf("\n| scope | measure | value | goal | result |\n| --- | --- | ---: | ---: | --- |\n");
	for (size_t i = 0; i < bench.verdict_count; i++) {
		const struct verdict *v = &bench.verdicts[i];

		fputs("|", stdout);
		md_cell(v->scope);
		md_cell(v->what);
		md_cell(v->value);
		md_cell(v->goal);
		md_cell(v->result);
		fputs("\n", stdout);
	}
	printf("\nCommand: `%s`\n", bench.command);
	fflush(stdout);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *out)
{
	fputs("usage: aisbench [--quick] [--reps N]\n"
	      "Benchmark aisfile against curl and bsdtar on a local nginx.\n"
	      "  --quick   divide every size by 8 (also AISBENCH_QUICK=1)\n"
	      "  --reps N  repetitions of each measurement (default 3)\n",
	      out);
}

/* argv as a shell command, with the variables that change the result. */
static void record_command(int argc, char **argv)
{
	static const char *const vars[] = { "AISBENCH_QUICK", "AISTAR", "NGINX", "AIS_READAHEAD",
					    "AIS_CONNECTIONS", "AIS_PART_SIZE" };
	size_t len = 0;

	for (size_t i = 0; i < COUNT_OF(vars); i++)
		if (getenv(vars[i]))
			len += (size_t)snprintf(bench.command + len, sizeof(bench.command) - len,
						"%s=%s ", vars[i], getenv(vars[i]));
	for (int i = 0; i < argc && len < sizeof(bench.command); i++)
		len += (size_t)snprintf(bench.command + len, sizeof(bench.command) - len,
					"%s%s", i ? " " : "", argv[i]);
}

static void parse_args(int argc, char **argv)
{
	const char *quick = getenv("AISBENCH_QUICK");

	bench.reps = DEFAULT_REPS;
	bench.quick = quick && *quick && strcmp(quick, "0") != 0;
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--quick") == 0) {
			bench.quick = true;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			long reps = strtol(argv[++i], &end, 10);

			if (*end || reps < 1 || reps > MAX_REPS) {
				fprintf(stderr, "aisbench: --reps wants 1..%d\n", MAX_REPS);
				exit(2);
			}
			bench.reps = (int)reps;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
	}
	bench.scale = bench.quick ? QUICK_SCALE : 1;
}

static void setup(int argc, char **argv)
{
	const char *nginx = getenv("NGINX");

	bench.main_pid = getpid();
	parse_args(argc, argv);
	record_command(argc, argv);
	bench.nginx_binary = nginx && *nginx ? nginx : "/usr/sbin/nginx";
	bench.prng_state = UINT64_C(0x61697362656e6368);
	bench.buffer = malloc(COPY_BUFFER_SIZE);
	bench.home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bench.buffer == NULL || bench.home_fd < 0)
		die("setup: %s", strerror(errno));
	find_aistar(argv[0]);
	install_signal_handlers();
	make_workdir();
	atexit(cleanup_at_exit);
}

static void print_header(void)
{
	printf("aisbench: %s\n", versions);
	printf("work dir %s; nginx on 127.0.0.1:%d; %d repetitions%s\n", bench.workdir,
	       bench.port, bench.reps, bench.quick ? "; QUICK: sizes / 8" : "");
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
	double start = now_seconds();

	setup(argc, argv);
	start_nginx();
	collect_versions();
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
	for (int rep = 0; rep < bench.reps; rep++) {
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

	stop_nginx();
	print_markdown(matrix, COUNT_OF(matrix), results, &small, throttled);
	fprintf(stderr, "aisbench: done in %.0f s%s\n", now_seconds() - start,
		bench.any_failed ? "; some runs FAILED (see above)" : "");
	return bench.any_failed ? 1 : 0;
}
