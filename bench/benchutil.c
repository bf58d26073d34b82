/*
 * benchutil.c - the work dir, nginx, subprocesses, generated objects and
 * the summary that bench/aisbench.c and bench/enginebench.c share.  See
 * benchutil.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <aisfile.h>

#include "benchutil.h"

#define GENERATE_BLOCK_SIZE MIB
#define MAX_SERVERS 16
#define SERVER_STOP_TIMEOUT_MS 5000
#define POLL_INTERVAL_MS 20
/* Every member gets this mtime: runs are comparable byte for byte. */
#define MEMBER_MTIME ((time_t)1700000000)


struct bench_context bench_ctx;

/* Read by the signal handlers; written only by the main thread. */
static volatile pid_t running_child;
static volatile sig_atomic_t child_timed_out;
static volatile pid_t *servers[MAX_SERVERS];

static struct {
	struct {
		char scope[80], what[80], value[32], goal[32];
		const char *result;
	} lines[48];
	size_t count;
} summary;

/* ---- small helpers ------------------------------------------------------- */

static void vmessage(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", bench_ctx.program);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Print "PROGRAM: ..." on stderr and return -1, so error paths are one line. */
int bench_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return -1;
}

/* exit() runs the atexit cleanup: nginx stops, the work dir goes. */
void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(1);
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int bench_path_join(char *out, const char *dir, const char *name)
{
	int len = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return len < 0 || len >= PATH_MAX ? -1 : 0;
}

void bench_dir_of(char *out, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, PATH_MAX, ".");
	else
		snprintf(out, PATH_MAX, "%.*s", (int)(slash - path), path);
}

const char *bench_format_size(char *buf, size_t n, uint64_t bytes)
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

ssize_t bench_read_text(const char *path, char *out, size_t n)
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

bool bench_parse_size(const char *text, uint64_t *bytes)
{
	unsigned long long value;
	char *end;

	if (text == NULL || !isdigit((unsigned char)*text))
		return false;
	errno = 0;
	value = strtoull(text, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K': value *= KIB; end++; break;
	case 'M': value *= MIB; end++; break;
	case 'G': value *= GIB; end++; break;
	default: break;
	}
	if (errno || *end)
		return false;
	*bytes = value;
	return true;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *values, int n)
{
	if (n <= 0)
		return NAN;
	qsort(values, (size_t)n, sizeof(values[0]), compare_doubles);
	return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

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

int bench_remove_tree(const char *dir, bool keep_root, uint64_t *files, uint64_t *bytes)
{
	int rc;

	walk_files = walk_bytes = 0;
	walk_keep_root = keep_root;
	rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (files)
		*files = walk_files;
	if (bytes)
		*bytes = walk_bytes;
	return rc < 0 ? bench_fail("remove %s: %s", dir, strerror(errno)) : 0;
}

/* ---- servers ---------------------------------------------------------------- */

void bench_register_server(volatile pid_t *pid)
{
	for (size_t i = 0; i < MAX_SERVERS; i++) {
		if (servers[i] == pid)
			return;
		if (servers[i] == NULL) {
			servers[i] = pid;
			return;
		}
	}
	bench_die("more than %d servers", MAX_SERVERS);
}

void bench_spawn_server(volatile pid_t *record, char *const argv[], const char *out_path)
{
	int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;

	if (out < 0)
		bench_die("create %s: %s", out_path, strerror(errno));
	bench_register_server(record);
	pid = bench_fork_child(record);
	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out);
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
}

void bench_terminate(volatile pid_t *record)
{
	double deadline = bench_now() + SERVER_STOP_TIMEOUT_MS / 1000.0;
	pid_t pid = *record;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (bench_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		bench_sleep_ms(POLL_INTERVAL_MS);
	}
	*record = 0;
}

void bench_stop_servers(void)
{
	for (size_t i = 0; i < MAX_SERVERS; i++)
		if (servers[i])
			bench_terminate(servers[i]);
}

/* From a signal handler: async-signal-safe. */
static void kill_servers(void)
{
	for (size_t i = 0; i < MAX_SERVERS; i++)
		if (servers[i] && *servers[i] > 0)
			kill(*servers[i], SIGKILL);
}

/* ---- cleanup and signals -------------------------------------------------- */

static void cleanup_at_exit(void)
{
	/* A forked child that exits owns neither nginx nor the work dir. */
	if (getpid() != bench_ctx.main_pid)
		return;
	bench_stop_servers();
	if (bench_ctx.workdir[0]) {
		bench_remove_tree(bench_ctx.workdir, false, NULL, NULL);
		bench_ctx.workdir[0] = '\0';
	}
}

/*
 * From a signal handler: only async-signal-safe calls, so the work dir goes
 * through rm -rf in a forked child instead of nftw.  Children run in their
 * own process groups, so a pipeline dies with its shell.
 */
static void emergency_cleanup(void)
{
	char *const argv[] = { "rm", "-rf", "--", bench_ctx.workdir, NULL };
	char *const envp[] = { NULL };
	pid_t pid;

	if (running_child > 0)
		kill(-running_child, SIGKILL);
	kill_servers();
	if (!bench_ctx.workdir[0])
		return;
	pid = fork();
	if (pid == 0) {
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Written by the signal handler, so made beforehand. */
static char interrupted_message[128];

static void on_fatal_signal(int sig)
{
	if (write(STDERR_FILENO, interrupted_message, strlen(interrupted_message)) < 0) {
		/* nothing to do about it */
	}
	emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Every timed run happens in a child (a tool, or a fork for in-process
 * code): a hung run is killed, and counts as failed. */
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

	snprintf(interrupted_message, sizeof(interrupted_message),
		 "\n%s: interrupted; stopping nginx, removing the work dir\n", bench_ctx.program);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < COUNT_OF(fatal); i++)
		sigaction(fatal[i], &sa, NULL);
	sa.sa_handler = on_watchdog;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
}

void bench_watchdog(unsigned seconds)
{
	alarm(seconds);
}

/* ---- setup ------------------------------------------------------------------- */

static void usage_exit(const char *purpose, int default_reps, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [--quick] [--reps N]\n%s\n"
		"  --quick   divide sizes and counts by %d (also AISBENCH_QUICK=1)\n"
		"  --reps N  rounds of every timed measurement (default %d)\n",
		bench_ctx.program, purpose, BENCH_QUICK_SCALE, default_reps);
	exit(status);
}

static void parse_args(int argc, char **argv, const char *purpose, int default_reps)
{
	const char *quick = getenv("AISBENCH_QUICK");

	bench_ctx.reps = default_reps;
	bench_ctx.quick = quick && *quick && strcmp(quick, "0") != 0;
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--quick") == 0) {
			bench_ctx.quick = true;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			long reps = strtol(argv[++i], &end, 10);

			if (*end || reps < 1 || reps > BENCH_MAX_REPS) {
				fprintf(stderr, "%s: --reps wants 1..%d\n", bench_ctx.program,
					BENCH_MAX_REPS);
				exit(2);
			}
			bench_ctx.reps = (int)reps;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage_exit(purpose, default_reps, 0);
		} else {
			usage_exit(purpose, default_reps, 2);
		}
	}
	bench_ctx.scale = bench_ctx.quick ? BENCH_QUICK_SCALE : 1;
}

/* argv as a shell command, with the variables that change the result. */
static void record_command(int argc, char **argv, const char *const *vars)
{
	char *out = bench_ctx.command;
	size_t size = sizeof(bench_ctx.command), len = 0;

	for (size_t i = 0; vars[i] && len < size; i++)
		if (getenv(vars[i]))
			len += (size_t)snprintf(out + len, size - len, "%s=%s ", vars[i],
						getenv(vars[i]));
	for (int i = 0; i < argc && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", argv[i]);
}

/* tmpfs when there is one: the objects and the extraction never touch a disk. */
static void make_workdir(const char *const *subdirs, uint64_t space_needed)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };
	char *dir = bench_ctx.workdir, name[64], sub[PATH_MAX];
	struct statvfs fs;

	snprintf(name, sizeof(name), "%s-XXXXXX", bench_ctx.program);
	for (size_t i = 0; i < COUNT_OF(bases) && !dir[0]; i++) {
		if (statvfs(bases[i], &fs) < 0 || (uint64_t)fs.f_bavail * fs.f_frsize < space_needed)
			continue;
		if (bench_path_join(dir, bases[i], name) == 0 && mkdtemp(dir) == NULL)
			dir[0] = '\0';
	}
	if (!dir[0])
		bench_die("no room for %" PRIu64 " MiB in /dev/shm or /tmp, or mkdtemp failed: %s",
			  space_needed / MIB, strerror(errno));
	if (bench_path_join(bench_ctx.child_log, dir, "child.err") < 0 ||
	    bench_path_join(sub, dir, "nginx-tmp") < 0 || mkdir(sub, 0755) < 0)
		bench_die("work dir %s: %s", dir, strerror(errno));
	for (size_t i = 0; subdirs[i]; i++) {
		if (bench_path_join(sub, dir, subdirs[i]) < 0 || mkdir(sub, 0755) < 0)
			bench_die("mkdir %s/%s: %s", dir, subdirs[i], strerror(errno));
	}
}

void bench_setup(const char *program, int argc, char **argv, const char *purpose,
		 int default_reps, const char *const *vars, const char *const *subdirs,
		 uint64_t space_needed)
{
	const char *nginx = getenv("NGINX");

	bench_ctx.program = program;
	bench_ctx.main_pid = getpid();
	parse_args(argc, argv, purpose, default_reps);
	record_command(argc, argv, vars);
	bench_ctx.nginx_binary = nginx && *nginx ? nginx : "/usr/sbin/nginx";
	install_signal_handlers();
	make_workdir(subdirs, space_needed / bench_ctx.scale);
	atexit(cleanup_at_exit);
}

/* ---- generated objects ------------------------------------------------------ */

/* wyrand: one multiply per 8 bytes, so generating is not the bottleneck. */
void bench_prng_fill(uint64_t *state, void *buf, size_t len)
{
	uint64_t *word = buf;

	for (size_t i = 0; i < (len + 7) / 8; i++) {
		__uint128_t t;

		*state += UINT64_C(0xa0761d6478bd642f);
		t = (__uint128_t)*state * (*state ^ UINT64_C(0xe7037ed1a0b428db));
		word[i] = (uint64_t)(t >> 64) ^ (uint64_t)t;
	}
}

static char *generate_block(void)
{
	/* prng_fill writes whole words: room for a partial last one. */
	char *block = malloc(GENERATE_BLOCK_SIZE + 8);

	if (block == NULL)
		bench_die("out of memory");
	return block;
}

void bench_write_random_file(const char *path, uint64_t bytes, uint64_t *state)
{
	char *block = generate_block();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		bench_die("create %s: %s", path, strerror(errno));
	while (bytes > 0) {
		size_t n = bytes < GENERATE_BLOCK_SIZE ? (size_t)bytes : GENERATE_BLOCK_SIZE;

		bench_prng_fill(state, block, n);
		if (write(fd, block, n) != (ssize_t)n)
			bench_die("write %s: %s", path, strerror(errno));
		bytes -= n;
	}
	if (close(fd) < 0)
		bench_die("close %s: %s", path, strerror(errno));
	free(block);
}

static int write_member(struct archive *a, struct archive_entry *entry, uint64_t index,
			uint64_t size, char *block, uint64_t *state)
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
		return bench_fail("write header: %s", archive_error_string(a));
	while (size > 0) {
		size_t n = size < GENERATE_BLOCK_SIZE ? (size_t)size : GENERATE_BLOCK_SIZE;

		bench_prng_fill(state, block, n);
		if (archive_write_data(a, block, n) != (la_ssize_t)n)
			return bench_fail("write data: %s", archive_error_string(a));
		size -= n;
	}
	return 0;
}

uint64_t bench_write_archive(const char *path, enum bench_archive_format format,
			     uint64_t data_bytes, uint64_t member_bytes, uint64_t *state)
{
	struct archive *a = archive_write_new();
	struct archive_entry *entry = archive_entry_new();
	char *block = generate_block();
	uint64_t members = (data_bytes + member_bytes - 1) / member_bytes, left = data_bytes;
	struct stat st;
	int rc = 0;

	if (a == NULL || entry == NULL)
		bench_die("out of memory");
	if (format == BENCH_ZIP) {
		archive_write_set_format_zip(a);
		if (archive_write_set_options(a, "zip:compression=store") != ARCHIVE_OK)
			bench_die("zip:compression=store: %s", archive_error_string(a));
	} else {
		archive_write_set_format_ustar(a);
	}
	/* Unblocked: no padding of the last block, one write per data call. */
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		bench_die("create %s: %s", path, archive_error_string(a));
	for (uint64_t i = 0; i < members && rc == 0; i++) {
		uint64_t size = left < member_bytes ? left : member_bytes;

		rc = write_member(a, entry, i, size, block, state);
		left -= size;
	}
	if (rc < 0 || archive_write_close(a) != ARCHIVE_OK || stat(path, &st) < 0)
		bench_die("generate %s: %s", path, archive_error_string(a));
	archive_entry_free(entry);
	archive_write_free(a);
	free(block);
	return (uint64_t)st.st_size;
}

int bench_extract_all(struct archive *in, struct archive *disk)
{
	struct archive_entry *entry;
	int r;

	while ((r = archive_read_next_header(in, &entry)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return bench_fail("read header: %s", archive_error_string(in));
		if (archive_write_header(disk, entry) < ARCHIVE_WARN)
			return bench_fail("write %s: %s", archive_entry_pathname(entry),
					  archive_error_string(disk));
		for (;;) {
			const void *block;
			size_t size;
			la_int64_t offset;

			r = archive_read_data_block(in, &block, &size, &offset);
			if (r == ARCHIVE_EOF)
				break;
			if (r < ARCHIVE_WARN)
				return bench_fail("read data: %s", archive_error_string(in));
			if (archive_write_data_block(disk, block, size, offset) < ARCHIVE_WARN)
				return bench_fail("write data: %s", archive_error_string(disk));
		}
		if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
			return bench_fail("finish %s: %s", archive_entry_pathname(entry),
					  archive_error_string(disk));
	}
	return 0;
}

/* ---- subprocesses ------------------------------------------------------------ */

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

	if (bench_read_text(bench_ctx.child_log, text, sizeof(text)) > 0)
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "    | %s\n", line);
}

/* Reap the watched child pid; 0 if it exited with status 0, else -1 with the
 * reason printed. */
static int reap_child(pid_t pid, const char *name, double start, struct bench_child_result *res)
{
	struct rusage usage;
	char how[96];
	int status;

	while (wait4(pid, &status, 0, &usage) < 0) {
		if (errno != EINTR) {
			running_child = 0;
			return bench_fail("wait4 %s: %s", name, strerror(errno));
		}
	}
	running_child = 0;
	if (res) {
		res->seconds = bench_now() - start;
		res->maxrss_kib = usage.ru_maxrss;
	}
	if (child_timed_out)
		return bench_fail("%s did not finish within the watchdog's time and was killed",
				  name);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		describe_status(how, sizeof(how), status);
		return bench_fail("%s %s", name, how);
	}
	return 0;
}

int bench_run_child(char *const argv[], char *const envp[], const char *stdout_path,
		    struct bench_child_result *res)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none;
	double start;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
					 stdout_path ? stdout_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, bench_ctx.child_log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	child_timed_out = 0;
	start = bench_now();
	rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return bench_fail("%s: %s", argv[0], strerror(rc));
	running_child = pid;
	if (reap_child(pid, argv[0], start, res) < 0) {
		show_child_log();
		return -1;
	}
	return 0;
}

void bench_tool_version(char *const argv[], char *out, size_t n)
{
	char path[PATH_MAX];
	struct bench_child_result res;

	out[0] = '\0';
	if (bench_path_join(path, bench_ctx.workdir, "version.out") < 0 ||
	    bench_run_child(argv, environ, path, &res) < 0)
		return;
	first_line(path, out, n);
	if (!out[0])
		first_line(bench_ctx.child_log, out, n);
	unlink(path);
}

/*
 * Signals stay blocked across the fork, so our handlers never run in the
 * child; *record gets the pid before they can run in the parent.
 */
pid_t bench_fork_child(volatile pid_t *record)
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

/* Read up to size bytes from fd until EOF; the count. */
static size_t read_fully(int fd, void *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* The child's end: run fn, send its return value and the report, exit. */
static void __attribute__((noreturn))
child_main(int fd, int (*fn)(void *, void *), void *arg, void *report, size_t report_size)
{
	int rc = fn(arg, report);

	fflush(NULL);
	_exit(write(fd, &rc, sizeof(rc)) == (ssize_t)sizeof(rc) &&
	      write(fd, report, report_size) == (ssize_t)report_size ? 0 : 1);
}

int bench_run_in_child(const char *name, int (*fn)(void *arg, void *report), void *arg,
		       void *report, size_t report_size, struct bench_child_result *res)
{
	void *copy = malloc(report_size);
	int fds[2], rc = -1;
	double start = bench_now();
	bool complete;
	pid_t pid;

	if (copy == NULL)
		return bench_fail("out of memory");
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(copy);
		return bench_fail("pipe: %s", strerror(errno));
	}
	fflush(NULL);
	child_timed_out = 0;
	pid = bench_fork_child(&running_child);
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1], fn, arg, report, report_size);
	}
	close(fds[1]);
	complete = pid > 0 && read_fully(fds[0], &rc, sizeof(rc)) == sizeof(rc) &&
		   read_fully(fds[0], copy, report_size) == report_size;
	close(fds[0]);
	if (pid < 0) {
		free(copy);
		return bench_fail("fork: %s", strerror(errno));
	}
	if (reap_child(pid, name, start, res) < 0)
		rc = -1;
	else if (!complete)
		rc = bench_fail("%s: the child sent no report", name);
	else
		memcpy(report, copy, report_size);
	free(copy);
	return rc;
}

/* ---- reporting ------------------------------------------------------------------ */

const char *bench_verdict_of(double value, double goal, bool at_most)
{
	if (isnan(value))
		return "n/a";
	return (at_most ? value <= goal : value >= goal) ? "PASS" : "MISS";
}

void bench_add_verdict(const char *scope, const char *what, const char *value,
		       const char *goal, const char *result)
{
	if (summary.count == COUNT_OF(summary.lines))
		return;
	snprintf(summary.lines[summary.count].scope, sizeof(summary.lines[0].scope), "%s", scope);
	snprintf(summary.lines[summary.count].what, sizeof(summary.lines[0].what), "%s", what);
	snprintf(summary.lines[summary.count].value, sizeof(summary.lines[0].value), "%s", value);
	snprintf(summary.lines[summary.count].goal, sizeof(summary.lines[0].goal), "%s", goal);
	summary.lines[summary.count++].result = result;
}

void bench_report(const char *scope, const char *what, double value, const char *format,
		  double goal, bool at_most)
{
	char value_text[32], goal_text[40], number[32];
	const char *result = bench_verdict_of(value, goal, at_most);

	if (isnan(value))
		snprintf(value_text, sizeof(value_text), "n/a");
	else
		snprintf(value_text, sizeof(value_text), format, value);
	snprintf(number, sizeof(number), format, goal);
	snprintf(goal_text, sizeof(goal_text), "%s %s", at_most ? "<=" : ">=", number);
	printf("  %-44s %8s   goal %-8s %s\n", what, value_text, goal_text, result);
	bench_add_verdict(scope, what, value_text, goal_text, result);
}

void bench_md_cell(const char *text)
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

void bench_print_verdicts(void)
{
	printf("| scope | measure | value | goal | result |\n| --- | --- | ---: | ---: | --- |\n");
	for (size_t i = 0; i < summary.count; i++) {
		fputs("|", stdout);
		bench_md_cell(summary.lines[i].scope);
		bench_md_cell(summary.lines[i].what);
		bench_md_cell(summary.lines[i].value);
		bench_md_cell(summary.lines[i].goal);
		bench_md_cell(summary.lines[i].result);
		fputs("\n", stdout);
	}
}

static void cpu_model(char *out, size_t n)
{
	char text[8192];
	const char *p;

	snprintf(out, n, "unknown CPU");
	if (bench_read_text("/proc/cpuinfo", text, sizeof(text)) > 0 &&
	    (p = strstr(text, "model name")) != NULL && (p = strchr(p, ':')) != NULL)
		snprintf(out, n, "%.*s", (int)strcspn(p + 2, "\n"), p + 2);
}

void bench_versions(char *out, size_t n)
{
	char *nginx_argv[] = { (char *)bench_ctx.nginx_binary, "-v", NULL };
	char *curl_argv[] = { "curl", "--version", NULL };
	char nginx_v[128], curl_v[128], cpu[128];
	const char *paren;
	struct utsname u;

	bench_tool_version(nginx_argv, nginx_v, sizeof(nginx_v));
	bench_tool_version(curl_argv, curl_v, sizeof(curl_v));
	/* "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 ...": the first two words */
	paren = strstr(curl_v, " (");
	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	snprintf(out, n, "%s, %ld CPUs, Linux %s; %s, %.*s, %s, aisfile %s", cpu,
		 sysconf(_SC_NPROCESSORS_ONLN), u.release,
		 strncmp(nginx_v, "nginx version: ", 15) == 0 ? nginx_v + 15 : nginx_v,
		 paren ? (int)(paren - curl_v) : (int)strlen(curl_v), curl_v,
		 archive_version_string(), ais_version());
}
