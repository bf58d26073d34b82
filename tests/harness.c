/*
 * harness.c - a real nginx serving generated objects, and the fault proxy in
 * front of it, for the CUnit suites.  See harness.h for the contract.
 *
 * Why a real server: the library's job is to cope with what real servers and
 * real broken networks do (Range handling, ETag/Last-Modified, keep-alive,
 * sendfile, error bodies).  A fake server would only test our idea of them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)
#define KIB ((uint64_t)1 << 10)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Every generated object gets this mtime, so ETags are the same on every run
 * and harness_restore() can put the original one back. */
#define ORIGINAL_MTIME ((time_t)1700000000)
/* harness_replace() seeds are salted so that replace(name, 1) never yields
 * the bytes of an object originally generated from seed 1. */
#define REPLACE_SEED_SALT UINT64_C(0x7265706c61636500)

#define WRITE_BUFFER_SIZE (1 * MIB)
#define NGINX_READY_TIMEOUT_MS 10000
#define NGINX_STOP_TIMEOUT_MS 5000
#define NGINX_BIND_ATTEMPTS 5
#define PROXY_PORT_TIMEOUT_MS 5000
#define PROXY_STOP_TIMEOUT_MS 2000
#define POLL_INTERVAL_MS 10
/* A probe that gets no answer just tries again on the next poll, so a short
 * wait is safe, and keeps a foreign server on the port from stalling us. */
#define PROBE_TIMEOUT_MS 200

static struct {
	bool running;
	/* The process that started the harness; a forked test child that
	 * exits must not tear down the parent's nginx through atexit. */
	pid_t owner;
	pid_t nginx_pid;
	int port;
	char dir[PATH_MAX];
	char objdir[PATH_MAX];
	char conf_path[PATH_MAX];
	char error_log[PATH_MAX];
	char nginx_output[PATH_MAX];
} harness;

static int proxy_serial;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "harness: ..." on stderr and return -1, so error paths are one line. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 0 on success, -1 if the result would not fit. */
static int join_path(char *out, size_t n, const char *dir, const char *name)
{
	int len = snprintf(out, n, "%s/%s", dir, name);

	if (len < 0 || (size_t)len >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- pseudo-random bytes ------------------------------------------------ */

/* splitmix64: fast, and good enough that no two objects or offsets look
 * alike, which is all a byte-for-byte comparison needs. */
struct prng {
	uint64_t state;
};

static uint64_t prng_next(struct prng *rng)
{
	uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform enough in [low, high] for test data. */
static uint64_t prng_between(struct prng *rng, uint64_t low, uint64_t high)
{
	return low + prng_next(rng) % (high - low + 1);
}

static void prng_fill(struct prng *rng, unsigned char *buf, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t word = prng_next(rng);

		memcpy(buf + i, &word, 8);
	}
	if (i < n) {
		uint64_t word = prng_next(rng);

		memcpy(buf + i, &word, n - i);
	}
}

/* ---- file helpers ------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t done = write(fd, p, n);

		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += done;
		n -= (size_t)done;
	}
	return 0;
}

/* malloc'd contents plus a terminating NUL (so text can be used as a string);
 * reads to EOF because a proxy log may grow while we read it. */
static char *read_whole_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t cap, used = 0;
	char *buf;
	int saved_errno = ENOMEM;

	if (fd < 0)
		return NULL;
	cap = (fstat(fd, &st) == 0 && st.st_size > 0) ? (size_t)st.st_size + 1 : 4096;
	buf = malloc(cap);
	while (buf) {
		ssize_t got;

		if (used + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		got = read(fd, buf + used, cap - used - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			saved_errno = errno;
			free(buf);
			buf = NULL;
		} else if (got == 0) {
			break;
		} else {
			used += (size_t)got;
		}
	}
	close(fd);
	if (!buf) {
		errno = saved_errno;
		return NULL;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
}

static bool file_contains(const char *path, const char *needle)
{
	char *text = read_whole_file(path, NULL);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

static void print_file(const char *title, const char *path)
{
	char *text = read_whole_file(path, NULL);

	fprintf(stderr, "---- %s (%s) ----\n%s", title, path,
		text && *text ? text : "(empty or missing)\n");
	free(text);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "harness: remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* ---- object generators -------------------------------------------------- */

/* Writes one object to fd.  size is used only by objects whose size is a
 * parameter (random ones); the others have their own fixed shape. */
typedef int (*object_writer)(int fd, uint64_t seed, uint64_t size);

static int write_random(int fd, uint64_t seed, uint64_t size)
{
	struct prng rng = { seed };
	unsigned char *buf = malloc(WRITE_BUFFER_SIZE);
	int rc = 0;

	if (!buf)
		return -1;
	while (size > 0 && rc == 0) {
		size_t n = size < WRITE_BUFFER_SIZE ? (size_t)size : WRITE_BUFFER_SIZE;

		prng_fill(&rng, buf, n);
		rc = write_all(fd, buf, n);
		size -= n;
	}
	free(buf);
	return rc;
}

#define TEXT_TARGET_SIZE (2 * MIB)
#define TEXT_MAX_LINE 20000

/* The first lines pin the edge cases a line reader gets wrong: a leading
 * empty line, the longest line, lengths around an 8 KiB buffer, consecutive
 * empty lines, a one-character line. */
static const size_t text_forced_lengths[] = { 0, TEXT_MAX_LINE, 8191, 8192, 8193, 0, 0, 1 };

static size_t text_line_length(size_t line, struct prng *rng)
{
	uint64_t bucket;

	if (line < COUNT_OF(text_forced_lengths))
		return text_forced_lengths[line];
	bucket = prng_next(rng) % 100;
	if (bucket < 8)
		return 0;
	if (bucket < 20)
		return prng_between(rng, 8 * KIB + 1, TEXT_MAX_LINE);
	if (bucket < 45)
		return prng_between(rng, 81, 8 * KIB);
	return prng_between(rng, 1, 80);
}

static int write_text(int fd, uint64_t seed, uint64_t size)
{
	static const char alphabet[] =
		"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:-";
	struct prng rng = { seed };
	char *text = malloc(TEXT_TARGET_SIZE + TEXT_MAX_LINE + 1);
	size_t used = 0, line = 0;
	int rc;

	(void)size;
	if (!text)
		return -1;
	while (used < TEXT_TARGET_SIZE) {
		size_t length = text_line_length(line++, &rng);

		for (size_t i = 0; i < length; i++)
			text[used++] = alphabet[prng_next(&rng) % (sizeof(alphabet) - 1)];
		text[used++] = '\n';
	}
	rc = write_all(fd, text, used);
	free(text);
	return rc;
}

static int archive_failed(struct archive *a, const char *what)
{
	fail("libarchive: %s: %s", what, archive_error_string(a));
	archive_write_free(a);
	return -1;
}

/* One archive member of size random bytes; buf is WRITE_BUFFER_SIZE scratch. */
static int add_random_member(struct archive *a, const char *name, uint64_t size,
			     struct prng *rng, unsigned char *buf)
{
	struct archive_entry *entry = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, (la_int64_t)size);
	archive_entry_set_mtime(entry, ORIGINAL_MTIME, 0);
	if (archive_write_header(a, entry) != ARCHIVE_OK)
		rc = -1;
	while (rc == 0 && size > 0) {
		size_t n = size < WRITE_BUFFER_SIZE ? (size_t)size : WRITE_BUFFER_SIZE;

		prng_fill(rng, buf, n);
		if (archive_write_data(a, buf, n) != (la_ssize_t)n)
			rc = -1;
		size -= n;
	}
	archive_entry_free(entry);
	return rc;
}

static int add_directory(struct archive *a, const char *name)
{
	struct archive_entry *entry = archive_entry_new();
	int rc;

	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFDIR);
	archive_entry_set_perm(entry, 0755);
	archive_entry_set_mtime(entry, ORIGINAL_MTIME, 0);
	rc = archive_write_header(a, entry) == ARCHIVE_OK ? 0 : -1;
	archive_entry_free(entry);
	return rc;
}

/* Closes and frees a; 0 if everything written reached fd. */
static int finish_archive(struct archive *a, int rc)
{
	if (rc < 0)
		return archive_failed(a, "write");
	if (archive_write_close(a) != ARCHIVE_OK)
		return archive_failed(a, "close");
	archive_write_free(a);
	return 0;
}

#define SMALLTAR_DIRS 10
#define SMALLTAR_FILES_PER_DIR 30
#define SMALLTAR_MAX_FILE (40 * KIB)

/* The first files pin tar's block-boundary cases: empty, the maximum, one
 * byte, exactly one 512-byte block, one past it. */
static const uint64_t smalltar_forced_sizes[] = { 0, SMALLTAR_MAX_FILE, 1, 512, 513 };

static int write_small_tar(int fd, uint64_t seed, uint64_t size)
{
	struct archive *a = archive_write_new();
	struct prng rng = { seed };
	unsigned char *buf = malloc(WRITE_BUFFER_SIZE);
	char name[64];
	int rc = 0;

	(void)size;
	if (!a || !buf) {
		free(buf);
		archive_write_free(a);
		return -1;
	}
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		rc = -1;
	for (int d = 0; d < SMALLTAR_DIRS && rc == 0; d++) {
		snprintf(name, sizeof(name), "dir%02d/", d);
		rc = add_directory(a, name);
		for (int f = 0; f < SMALLTAR_FILES_PER_DIR && rc == 0; f++) {
			size_t index = (size_t)(d * SMALLTAR_FILES_PER_DIR + f);
			uint64_t file_size = index < COUNT_OF(smalltar_forced_sizes)
				? smalltar_forced_sizes[index]
				: prng_between(&rng, 0, SMALLTAR_MAX_FILE);

			snprintf(name, sizeof(name), "dir%02d/file%04zu.dat", d, index);
			rc = add_random_member(a, name, file_size, &rng, buf);
		}
	}
	free(buf);
	return finish_archive(a, rc);
}

#define LARGETAR_MEMBERS 4
#define LARGETAR_MEMBER_SIZE (32 * MIB)

static int write_large_tar(int fd, uint64_t seed, uint64_t size)
{
	struct archive *a = archive_write_new();
	struct prng rng = { seed };
	unsigned char *buf = malloc(WRITE_BUFFER_SIZE);
	char name[64];
	int rc = 0;

	(void)size;
	if (!a || !buf) {
		free(buf);
		archive_write_free(a);
		return -1;
	}
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		rc = -1;
	for (int m = 0; m < LARGETAR_MEMBERS && rc == 0; m++) {
		snprintf(name, sizeof(name), "member%d.bin", m);
		rc = add_random_member(a, name, LARGETAR_MEMBER_SIZE, &rng, buf);
	}
	free(buf);
	return finish_archive(a, rc);
}

/* Small deflated text members between the stored 8 MiB ones, so a reader
 * must both inflate and skip a large stored member to reach the next one. */
static const struct zip_member {
	const char *name;
	uint64_t random_size; /* 0: a deflated text member of text_lines lines */
	int text_lines;
} zip_members[] = {
	{ "hello.txt", 0, 1 },
	{ "random1.bin", 8 * MIB, 0 },
	{ "lines.txt", 0, 200 },
	{ "random2.bin", 8 * MIB, 0 },
	{ "numbers.txt", 0, 2000 },
};

static int add_text_member(struct archive *a, const struct zip_member *member)
{
	struct archive_entry *entry = archive_entry_new();
	size_t cap = (size_t)member->text_lines * 64, used = 0;
	char *text = malloc(cap);
	int rc = 0;

	if (!text) {
		archive_entry_free(entry);
		return -1;
	}
	for (int line = 1; line <= member->text_lines; line++)
		used += (size_t)snprintf(text + used, cap - used, "%s line %d\n", member->name, line);
	archive_entry_set_pathname(entry, member->name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, (la_int64_t)used);
	archive_entry_set_mtime(entry, ORIGINAL_MTIME, 0);
	if (archive_write_header(a, entry) != ARCHIVE_OK ||
	    archive_write_data(a, text, used) != (la_ssize_t)used)
		rc = -1;
	archive_entry_free(entry);
	free(text);
	return rc;
}

static int write_zip(int fd, uint64_t seed, uint64_t size)
{
	struct archive *a = archive_write_new();
	struct prng rng = { seed };
	unsigned char *buf = malloc(WRITE_BUFFER_SIZE);
	int rc = 0;

	(void)size;
	if (!a || !buf) {
		free(buf);
		archive_write_free(a);
		return -1;
	}
	archive_write_set_format_zip(a);
	/* No padding after the central directory: a zip ends where it ends. */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		rc = -1;
	for (size_t i = 0; i < COUNT_OF(zip_members) && rc == 0; i++) {
		const struct zip_member *member = &zip_members[i];

		if (member->random_size) {
			archive_write_zip_set_compression_store(a);
			rc = add_random_member(a, member->name, member->random_size, &rng, buf);
		} else {
			archive_write_zip_set_compression_deflate(a);
			rc = add_text_member(a, member);
		}
	}
	free(buf);
	return finish_archive(a, rc);
}

static const struct object_spec {
	const char *name;
	object_writer generate;
	uint64_t seed;
	uint64_t size;
} object_specs[] = {
	{ OBJ_RANDOM, write_random, 1, 8 * MIB },
	{ OBJ_BIG, write_random, 2, 256 * MIB },
	{ OBJ_TEXT, write_text, 3, 0 },
	{ OBJ_EMPTY, write_random, 4, 0 },
	{ OBJ_SMALLTAR, write_small_tar, 5, 0 },
	{ OBJ_LARGETAR, write_large_tar, 6, 0 },
	{ OBJ_ZIP, write_zip, 7, 0 },
	{ OBJ_MUTABLE, write_random, 8, 16 * MIB },
};

static const struct object_spec *find_object_spec(const char *name)
{
	for (size_t i = 0; i < COUNT_OF(object_specs); i++)
		if (strcmp(object_specs[i].name, name) == 0)
			return &object_specs[i];
	return NULL;
}

/* A plain file name in the object dir; nothing that escapes it. */
static bool valid_object_name(const char *name)
{
	return name && *name && *name != '.' && !strchr(name, '/');
}

/*
 * Write an object to a temp name, give it its mtime, then rename it into
 * place: nginx serves either the old file or the new one, never a mix, and a
 * response already in flight keeps reading the old inode.
 */
static int install_object(const char *name, object_writer generate, uint64_t seed,
			  uint64_t size, time_t mtime)
{
	char final_path[PATH_MAX], temp_path[PATH_MAX], temp_name[NAME_MAX + 1];
	struct timespec times[2] = { { mtime, 0 }, { mtime, 0 } };
	int fd, rc;

	if (snprintf(temp_name, sizeof(temp_name), ".%s.new", name) >= (int)sizeof(temp_name) ||
	    join_path(final_path, sizeof(final_path), harness.objdir, name) < 0 ||
	    join_path(temp_path, sizeof(temp_path), harness.objdir, temp_name) < 0)
		return fail("object name too long: %s", name);
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("create %s: %s", temp_path, strerror(errno));
	rc = generate(fd, seed, size);
	if (rc < 0)
		fail("generate %s: %s", temp_path, strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = fail("close %s: %s", temp_path, strerror(errno));
	if (rc == 0 && utimensat(AT_FDCWD, temp_path, times, 0) < 0)
		rc = fail("set mtime of %s: %s", temp_path, strerror(errno));
	if (rc == 0 && rename(temp_path, final_path) < 0)
		rc = fail("rename %s to %s: %s", temp_path, final_path, strerror(errno));
	if (rc < 0)
		unlink(temp_path);
	return rc;
}

static int generate_objects(void)
{
	for (size_t i = 0; i < COUNT_OF(object_specs); i++) {
		const struct object_spec *spec = &object_specs[i];

		if (install_object(spec->name, spec->generate, spec->seed, spec->size,
				   ORIGINAL_MTIME) < 0)
			return -1;
	}
	return 0;
}

/* ---- processes ---------------------------------------------------------- */

/*
 * fork+exec argv[0] with stdin from /dev/null and stdout/stderr on the given
 * fds (-1: inherit).  The child gets SIGKILL when the thread that started it
 * dies, so a crashed test binary leaves no server behind.
 */
static pid_t spawn(char *const argv[], int stdout_fd, int stderr_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	sigset_t no_signals;
	int devnull;

	if (pid != 0)
		return pid;
	/* Child: only async-signal-safe calls from here to execv. */
	sigemptyset(&no_signals);
	sigprocmask(SIG_SETMASK, &no_signals, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	if (stdout_fd >= 0)
		dup2(stdout_fd, STDOUT_FILENO);
	if (stderr_fd >= 0)
		dup2(stderr_fd, STDERR_FILENO);
	execv(argv[0], argv);
	/* The parent reports exit status 127; this says why. */
	ssize_t ignored = write(STDERR_FILENO, "harness: exec failed\n", 21);
	(void)ignored;
	_exit(127);
}

/* SIGTERM, wait up to timeout_ms, then SIGKILL; always reaps.  Returns the
 * wait status, or -1 if there was no child to reap. */
static int stop_child(pid_t pid, long timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int status = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done == pid)
			return status;
		if (done < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			break;
		sleep_ms(POLL_INTERVAL_MS);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static void describe_exit(char *out, size_t n, int status)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, n, "stopped (status 0x%x)", (unsigned)status);
}

static void format_url(char *out, size_t n, int port, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", port, path ? path : "");
}

int harness_free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addr_len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0)
		port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

/* ---- nginx -------------------------------------------------------------- */

/* Paths go into nginx.conf unquoted; refuse a temp dir that would need
 * quoting rather than get nginx's quoting and $variable rules subtly wrong. */
static bool safe_config_path(const char *path)
{
	for (const char *c = path; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/._-+", *c))
			return false;
	return true;
}

static int write_nginx_conf(int port)
{
	const char *d = harness.dir;
	FILE *f = fopen(harness.conf_path, "we");

	if (!f)
		return fail("create %s: %s", harness.conf_path, strerror(errno));
	/* Single process in the foreground, so the pid we forked is nginx
	 * itself and stopping it is one kill.  Every file nginx writes is in
	 * the temp dir, so it needs no privileges and no system paths. */
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
		"\tclient_body_temp_path %s/client_body_temp;\n"
		"\tproxy_temp_path %s/proxy_temp;\n"
		"\tfastcgi_temp_path %s/fastcgi_temp;\n"
		"\tuwsgi_temp_path %s/uwsgi_temp;\n"
		"\tscgi_temp_path %s/scgi_temp;\n"
		"\tdefault_type application/octet-stream;\n"
		"\tsendfile on;\n"
		/* Long keep-alive so tests see connection reuse, not churn. */
		"\tkeepalive_timeout 60;\n"
		"\tkeepalive_requests 100000;\n"
		/* open_file_cache stays off (the default): harness_replace()
		 * must be visible to the very next request. */
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n",
		d, d, harness.error_log, d, d, d, d, d, port);
	fprintf(f,
		/* The normal case: static files with Range, ETag, Last-Modified. */
		"\t\tlocation / { root %s; }\n"
		/* A server that ignores Range and sends the whole body with 200:
		 * resume must notice rather than splice from offset 0. */
		"\t\tlocation /norange/ { alias %s/; max_ranges 0; }\n"
		/* No ETag, only Last-Modified, to validate a resume with. */
		"\t\tlocation /noetag/ { alias %s/; etag off; }\n"
		/* The AIStore REST shape GET /v1/objects/BUCKET/OBJECT?provider=ais;
		 * nginx ignores the query. */
		"\t\tlocation /v1/objects/testbck/ { alias %s/; }\n"
		/* Permanent errors with a text body the library must surface
		 * in its message, and must not retry. */
		"\t\tlocation = /forbidden { default_type text/plain; return 403 \"forbidden by policy: test\\n\"; }\n"
		"\t\tlocation = /teapot { default_type text/plain; return 418 \"no coffee here\\n\"; }\n"
		"\t\tlocation = /unauthorized { default_type text/plain; return 401 \"token required\\n\"; }\n"
		/* A 5xx that never recovers: retries must give up within their
		 * bounds and report the last status. */
		"\t\tlocation = /always503 { default_type text/plain; return 503 \"overloaded\\n\"; }\n"
		"\t}\n"
		"}\n",
		harness.objdir, harness.objdir, harness.objdir, harness.objdir);
	if (fclose(f) != 0)
		return fail("write %s: %s", harness.conf_path, strerror(errno));
	return 0;
}

static pid_t start_nginx(void)
{
	const char *binary = getenv("NGINX") ? getenv("NGINX") : "/usr/sbin/nginx";
	char prefix[PATH_MAX + 1];
	char *argv[] = { (char *)binary, "-p", prefix, "-e", harness.error_log,
			 "-c", harness.conf_path, NULL };
	int out;
	pid_t pid;

	if (access(binary, X_OK) < 0)
		return fail("nginx %s: %s (set NGINX to its path)", binary, strerror(errno));
	snprintf(prefix, sizeof(prefix), "%s/", harness.dir);
	out = open(harness.nginx_output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return fail("create %s: %s", harness.nginx_output, strerror(errno));
	pid = spawn(argv, out, out);
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	close(out);
	return pid;
}

/* 1 if a GET of /empty.bin on port answers 200, else 0. */
static int answers_http_ok(int port)
{
	static const char request[] =
		"GET /" OBJ_EMPTY " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval timeout = { 0, PROBE_TIMEOUT_MS * 1000 };
	char reply[32];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = 0;

	if (fd < 0)
		return 0;
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
		reply[got] = '\0';
		ok = got >= 12 && strncmp(reply, "HTTP/1.", 7) == 0 &&
		     strncmp(reply + 8, " 200", 4) == 0;
	}
	close(fd);
	return ok;
}

enum nginx_outcome { NGINX_READY, NGINX_PORT_TAKEN, NGINX_FAILED };

/*
 * Poll until nginx answers, exits, or runs out of time.  A taken port shows
 * up in the error log at once, but nginx itself retries bind() for 2.5 s, so
 * reading the log lets us move on to another port without that wait.
 */
static enum nginx_outcome wait_for_nginx(void)
{
	int64_t deadline = now_ms() + NGINX_READY_TIMEOUT_MS;
	int status;

	for (;;) {
		pid_t done = waitpid(harness.nginx_pid, &status, WNOHANG);
		bool port_taken = file_contains(harness.error_log, "Address already in use");

		if (done == harness.nginx_pid) {
			char how[64];

			harness.nginx_pid = 0;
			if (port_taken)
				return NGINX_PORT_TAKEN;
			describe_exit(how, sizeof(how), status);
			fail("nginx %s before it answered", how);
			return NGINX_FAILED;
		}
		if (port_taken) {
			stop_child(harness.nginx_pid, NGINX_STOP_TIMEOUT_MS);
			harness.nginx_pid = 0;
			return NGINX_PORT_TAKEN;
		}
		if (answers_http_ok(harness.port))
			return NGINX_READY;
		if (now_ms() >= deadline) {
			fail("nginx did not answer GET /%s with 200 within %d ms",
			     OBJ_EMPTY, NGINX_READY_TIMEOUT_MS);
			return NGINX_FAILED;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
}

/* Start nginx on a fresh free port, retrying when someone else takes the
 * port between our check and nginx's bind. */
static int run_nginx(void)
{
	for (int attempt = 0; attempt < NGINX_BIND_ATTEMPTS; attempt++) {
		enum nginx_outcome outcome;

		harness.port = harness_free_port();
		if (harness.port < 0)
			return fail("no free port: %s", strerror(errno));
		unlink(harness.error_log);
		if (write_nginx_conf(harness.port) < 0)
			return -1;
		harness.nginx_pid = start_nginx();
		if (harness.nginx_pid < 0) {
			harness.nginx_pid = 0;
			return -1;
		}
		outcome = wait_for_nginx();
		if (outcome == NGINX_READY)
			return 0;
		if (outcome == NGINX_FAILED)
			return -1;
	}
	return fail("nginx could not bind a free port in %d attempts", NGINX_BIND_ATTEMPTS);
}

static bool keep_temp_dir(void)
{
	const char *keep = getenv("HARNESS_KEEP");

	return keep && *keep && strcmp(keep, "0") != 0;
}

static void remove_temp_dir(void)
{
	if (!harness.dir[0])
		return;
	if (keep_temp_dir())
		fprintf(stderr, "harness: HARNESS_KEEP set, keeping %s\n", harness.dir);
	else if (nftw(harness.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "harness: remove %s: %s\n", harness.dir, strerror(errno));
	harness.dir[0] = '\0';
	harness.objdir[0] = '\0';
}

static int make_temp_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	if (join_path(harness.dir, sizeof(harness.dir), base, "aisfile-test-XXXXXX") < 0)
		return fail("TMPDIR too long: %s", base);
	if (!mkdtemp(harness.dir)) {
		fail("mkdtemp %s: %s", harness.dir, strerror(errno));
		harness.dir[0] = '\0';
		return -1;
	}
	if (!safe_config_path(harness.dir))
		return fail("temp dir %s has characters nginx.conf would need quoted; "
			    "set TMPDIR to a plain path", harness.dir);
	if (join_path(harness.objdir, sizeof(harness.objdir), harness.dir, "objects") < 0 ||
	    join_path(harness.conf_path, sizeof(harness.conf_path), harness.dir, "nginx.conf") < 0 ||
	    join_path(harness.error_log, sizeof(harness.error_log), harness.dir, "error.log") < 0 ||
	    join_path(harness.nginx_output, sizeof(harness.nginx_output), harness.dir, "nginx.out") < 0)
		return fail("temp dir path too long: %s", harness.dir);
	if (mkdir(harness.objdir, 0755) < 0)
		return fail("mkdir %s: %s", harness.objdir, strerror(errno));
	return 0;
}

static void stop_at_exit(void)
{
	harness_stop();
}

int harness_start(void)
{
	static bool exit_handler_registered;

	if (harness.running)
		return 0;
	harness.owner = getpid();
	if (make_temp_dir() < 0 || generate_objects() < 0) {
		remove_temp_dir();
		return -1;
	}
	if (run_nginx() < 0) {
		print_file("nginx error_log", harness.error_log);
		print_file("nginx stdout/stderr", harness.nginx_output);
		stop_child(harness.nginx_pid, NGINX_STOP_TIMEOUT_MS);
		harness.nginx_pid = 0;
		remove_temp_dir();
		return -1;
	}
	harness.running = true;
	/* A suite that calls exit() or fails an assertion hard still cleans up. */
	if (!exit_handler_registered) {
		atexit(stop_at_exit);
		exit_handler_registered = true;
	}
	return 0;
}

void harness_stop(void)
{
	if (!harness.running || getpid() != harness.owner)
		return;
	stop_child(harness.nginx_pid, NGINX_STOP_TIMEOUT_MS);
	harness.nginx_pid = 0;
	remove_temp_dir();
	harness.port = 0;
	harness.running = false;
}

int harness_port(void)
{
	return harness.port;
}

void harness_url(char *out, size_t n, const char *path)
{
	format_url(out, n, harness.port, path);
}

const char *harness_dir(void)
{
	return harness.dir;
}

const char *harness_objdir(void)
{
	return harness.objdir;
}

unsigned char *harness_object(const char *name, size_t *len)
{
	char path[PATH_MAX];
	unsigned char *bytes;

	if (!valid_object_name(name) || join_path(path, sizeof(path), harness.objdir, name) < 0) {
		fail("bad object name: %s", name ? name : "(null)");
		return NULL;
	}
	bytes = (unsigned char *)read_whole_file(path, len);
	if (!bytes)
		fail("read %s: %s", path, strerror(errno));
	return bytes;
}

int harness_replace(const char *name, unsigned seed)
{
	char path[PATH_MAX];
	struct stat st;

	if (!valid_object_name(name) || join_path(path, sizeof(path), harness.objdir, name) < 0)
		return fail("bad object name: %s", name ? name : "(null)");
	if (stat(path, &st) < 0)
		return fail("stat %s: %s", path, strerror(errno));
	return install_object(name, write_random, (uint64_t)seed ^ REPLACE_SEED_SALT,
			      (uint64_t)st.st_size, st.st_mtime + 1000);
}

int harness_restore(const char *name)
{
	const struct object_spec *spec = valid_object_name(name) ? find_object_spec(name) : NULL;

	if (!spec)
		return fail("not a generated object: %s", name ? name : "(null)");
	return install_object(spec->name, spec->generate, spec->seed, spec->size, ORIGINAL_MTIME);
}

/* ---- fault proxy -------------------------------------------------------- */

/* $FAULTPROXY, else "faultproxy" in the directory of the running test binary. */
static int faultproxy_path(char *out, size_t n)
{
	const char *env = getenv("FAULTPROXY");
	char exe[PATH_MAX];
	ssize_t len;
	char *slash;

	if (env && *env) {
		snprintf(out, n, "%s", env);
		return 0;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return fail("readlink /proc/self/exe: %s", strerror(errno));
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return join_path(out, n, exe, "faultproxy") < 0 ? fail("path too long: %s", exe) : 0;
}

/* Read the first line the proxy prints, at most PROXY_PORT_TIMEOUT_MS. */
static int read_first_line(int fd, char *line, size_t n)
{
	int64_t deadline = now_ms() + PROXY_PORT_TIMEOUT_MS;
	size_t used = 0;

	while (used + 1 < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t got;

		if (left <= 0)
			return fail("faultproxy printed no port within %d ms", PROXY_PORT_TIMEOUT_MS);
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll: %s", strerror(errno));
		}
		if (!pfd.revents)
			continue;
		got = read(fd, line + used, n - 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return fail("faultproxy closed its stdout before printing a port");
		used += (size_t)got;
		line[used] = '\0';
		if (strchr(line, '\n'))
			return 0;
	}
	return fail("faultproxy's first line is too long");
}

/* The last run of digits on the line, so "12345", "port 12345" and
 * "127.0.0.1:12345" all work. */
static int port_from_line(const char *line)
{
	const char *end = strchr(line, '\n');
	const char *digits;
	long port;

	while (end > line && !isdigit((unsigned char)end[-1]))
		end--;
	digits = end;
	while (digits > line && isdigit((unsigned char)digits[-1]))
		digits--;
	if (digits == end || end - digits > 5)
		return -1;
	port = strtol(digits, NULL, 10);
	return port > 0 && port < 65536 ? (int)port : -1;
}

int proxy_start(struct proxy *p, const char *schedule)
{
	char binary[PATH_MAX], upstream[16], line[256];
	char *argv[] = { binary, "-u", upstream, "-l", p->log, (char *)schedule, NULL };
	int out[2];
	char log_name[64];

	memset(p, 0, sizeof(*p));
	p->stdout_fd = -1;
	if (!harness.running)
		return fail("proxy_start needs harness_start first");
	if (faultproxy_path(binary, sizeof(binary)) < 0)
		return -1;
	if (access(binary, X_OK) < 0)
		return fail("faultproxy %s: %s (build tests/faultproxy, or set FAULTPROXY)",
			    binary, strerror(errno));
	snprintf(upstream, sizeof(upstream), "%d", harness.port);
	snprintf(log_name, sizeof(log_name), "proxy-%d.log", ++proxy_serial);
	if (join_path(p->log, sizeof(p->log), harness.dir, log_name) < 0)
		return fail("proxy log path too long");
	if (pipe2(out, O_CLOEXEC) < 0)
		return fail("pipe: %s", strerror(errno));
	p->pid = spawn(argv, out[1], -1);
	close(out[1]);
	p->stdout_fd = out[0];
	if (p->pid < 0) {
		p->pid = 0;
		proxy_stop(p);
		return fail("fork: %s", strerror(errno));
	}
	if (read_first_line(p->stdout_fd, line, sizeof(line)) < 0) {
		char how[64];
		int status = stop_child(p->pid, PROXY_STOP_TIMEOUT_MS);

		p->pid = 0;
		proxy_stop(p);
		if (status != -1) {
			describe_exit(how, sizeof(how), status);
			fprintf(stderr, "harness: faultproxy %s\n", how);
		}
		return -1;
	}
	p->port = port_from_line(line);
	if (p->port < 0) {
		proxy_stop(p);
		return fail("no port in faultproxy's first line: %s", line);
	}
	return 0;
}

void proxy_stop(struct proxy *p)
{
	stop_child(p->pid, PROXY_STOP_TIMEOUT_MS);
	p->pid = 0;
	if (p->stdout_fd >= 0)
		close(p->stdout_fd);
	p->stdout_fd = -1;
}

void proxy_url(const struct proxy *p, char *out, size_t n, const char *path)
{
	format_url(out, n, p->port, path);
}

char *proxy_log(const struct proxy *p)
{
	char *text = p->log[0] ? read_whole_file(p->log, NULL) : NULL;

	/* The proxy creates its log lazily; no file yet means no connections. */
	if (!text && (!p->log[0] || errno == ENOENT))
		return strdup("");
	if (!text)
		fail("read %s: %s", p->log, strerror(errno));
	return text;
}

int proxy_connections(const struct proxy *p)
{
	char *text = proxy_log(p);
	int lines = 0;

	if (!text)
		return -1;
	for (const char *c = text; *c; c++)
		if (*c == '\n')
			lines++;
	/* A last line still being written counts as the connection it is. */
	if (*text && text[strlen(text) - 1] != '\n')
		lines++;
	free(text);
	return lines;
}
