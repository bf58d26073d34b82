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
#include <pthread.h>
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
#define TOOL_TIMEOUT_MS 30000
/* A probe that gets no answer just tries again on the next poll, so a short
 * wait is safe, and keeps a foreign server on the port from stalling us. */
#define PROBE_TIMEOUT_MS 200
/* Sent by the probe, so that access logs can leave the probes out. */
#define PROBE_USER_AGENT "aisfile-harness-probe"
/* nginx ports come from this many ports just below the ephemeral range. */
#define STABLE_PORT_SPAN 8192
#define STABLE_PORT_ATTEMPTS 100
#define NGINX_MAX_PORTS 3
#define TLS_SERVER_COUNT 3

_Static_assert(TLS_DOWNGRADE + 1 == TLS_SERVER_COUNT, "one port per enum tls_server");
_Static_assert(TLS_SERVER_COUNT <= NGINX_MAX_PORTS, "the TLS nginx listens on them all");

/*
 * One nginx process, started by nginx_start() and named by name: its files
 * are DIR/NAME.conf, NAME-error.log, NAME.out (stdout and stderr) and
 * NAME.log (the access log, for servers that keep one).
 */
struct nginx {
	char name[32];
	/* What a plain-HTTP GET /empty.bin gets from every port once nginx
	 * is up: 200 from a file server, 301 from a gateway, 400 from https. */
	int ready_status;
	int port_count;
	int ports[NGINX_MAX_PORTS];
	pid_t pid;
	char conf_path[PATH_MAX];
	char error_log[PATH_MAX];
	char output[PATH_MAX];
	char access_log[PATH_MAX];
};

/* Writes the servers of an nginx.conf, inside its http {} block. */
typedef int (*nginx_http_writer)(FILE *f, const struct nginx *n);

static struct {
	bool running;
	/* The process that started the harness; a forked test child that
	 * exits must not tear down the parent's nginx through atexit. */
	pid_t owner;
	struct nginx server;
	char dir[PATH_MAX];
	char objdir[PATH_MAX];
	char davdir[PATH_MAX];
} harness;

static struct {
	bool running;
	/* Serialises killing and starting targets, which a test may do from
	 * a helper thread while its main thread reads. */
	pthread_mutex_t lock;
	struct nginx gateway;
	struct nginx targets[CLUSTER_TARGETS];
} cluster = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Everything tls_start() puts in DIR/tls; tls_file() looks names up here. */
static const char *const tls_file_names[] = {
	"ca.pem", "ca.key", "other-ca.pem", "other-ca.key",
	"server.pem", "server.key", "server.csr",
	"client.pem", "client.key", "client.csr",
	"openssl.cnf", "openssl.out",
};

static struct {
	bool running;
	struct nginx server; /* ports[which] serves enum tls_server which */
	char dir[PATH_MAX];
	char files[COUNT_OF(tls_file_names)][PATH_MAX];
} tls;

/*
 * PR_SET_PDEATHSIG fires when the *thread* that forked a child exits, not
 * the process.  So every child is forked by one launcher thread that lives
 * from harness_start() to harness_stop(): a target restarted from a test's
 * short-lived helper thread outlives that thread, and still dies with the
 * test binary.
 */
struct spawn_request {
	char *const *argv;
	int stdout_fd;
	int stderr_fd;
	bool done;
	pid_t pid; /* the child, or -1 and error */
	int error;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t thread;
	pid_t owner; /* the process the thread runs in; 0: none */
	bool quit;
	struct spawn_request *request; /* waiting to be forked */
} launcher = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static int proxy_serial;

/* harness_on_stop()'s functions, called first by harness_stop(). */
static void (*stop_hooks[4])(void);

/* The lying server (tests/liarserver), one for the whole run. */
static struct {
	pid_t pid; /* 0: not running */
	int stdout_fd;
	int port;
} liar = { .stdout_fd = -1 };

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cluster_stop(void);
static void tls_stop(void);
static void chain_stop(void);
static void liar_stop(void);
static void served_stop(void);

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

/* malloc'd content of a log a server appends to.  Servers create their logs
 * lazily, so a log that does not exist yet (or has no path) is "". */
static char *read_log(const char *path)
{
	char *text = path[0] ? read_whole_file(path, NULL) : NULL;

	if (!text && (!path[0] || errno == ENOENT))
		return strdup("");
	if (!text)
		fail("read %s: %s", path, strerror(errno));
	return text;
}

/* Lines in text, which it frees; -1 if text is NULL.  A last line still
 * being written counts as the entry it is. */
static int count_log_lines(char *text)
{
	int lines = 0;

	if (!text)
		return -1;
	for (const char *c = text; *c; c++)
		if (*c == '\n')
			lines++;
	if (*text && text[strlen(text) - 1] != '\n')
		lines++;
	free(text);
	return lines;
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

/* Seeds of the small objects start here, clear of object_specs' seeds. */
#define SMALL_OBJECT_SEED 1000
#define SMALL_OBJECT_MIN_SIZE KIB

/* The first sizes pin the ends of the range and the edges of a 64 KiB
 * buffer (the smallest chunk a stream uses). */
static const uint64_t small_forced_sizes[] = {
	SMALL_OBJECT_MIN_SIZE, SMALL_OBJECT_MAX_SIZE, 64 * KIB, 64 * KIB + 1,
};

void small_object_name(char *out, size_t n, int i)
{
	snprintf(out, n, "small-%02d.bin", i);
}

static int generate_small_objects(void)
{
	struct prng rng = { SMALL_OBJECT_SEED };

	for (int i = 0; i < SMALL_OBJECTS; i++) {
		uint64_t size = (size_t)i < COUNT_OF(small_forced_sizes)
			? small_forced_sizes[i]
			: prng_between(&rng, SMALL_OBJECT_MIN_SIZE, SMALL_OBJECT_MAX_SIZE);
		char name[32];

		small_object_name(name, sizeof(name), i);
		if (install_object(name, write_random, SMALL_OBJECT_SEED + 1 + (uint64_t)i,
				   size, ORIGINAL_MTIME) < 0)
			return -1;
	}
	return 0;
}

static int generate_objects(void)
{
	for (size_t i = 0; i < COUNT_OF(object_specs); i++) {
		const struct object_spec *spec = &object_specs[i];

		if (install_object(spec->name, spec->generate, spec->seed, spec->size,
				   ORIGINAL_MTIME) < 0)
			return -1;
	}
	return generate_small_objects();
}

/* ---- processes ---------------------------------------------------------- */

/*
 * fork+exec argv[0] with stdin from /dev/null, stdout/stderr on the given fds
 * (-1: inherit) and no other fd of ours (a test's sockets must not live on
 * in a server).  The child gets SIGKILL when the thread that forked it dies.
 */
static pid_t fork_child(char *const argv[], int stdout_fd, int stderr_fd)
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
	close_range(STDERR_FILENO + 1, ~0U, 0);
	execv(argv[0], argv);
	/* The parent reports exit status 127; this says why. */
	ssize_t ignored = write(STDERR_FILENO, "harness: exec failed\n", 21);
	(void)ignored;
	_exit(127);
}

static void *launcher_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&launcher.lock);
	for (;;) {
		struct spawn_request *request = launcher.request;

		if (request) {
			request->pid = fork_child(request->argv, request->stdout_fd,
						  request->stderr_fd);
			request->error = errno;
			request->done = true;
			launcher.request = NULL;
			pthread_cond_broadcast(&launcher.changed);
		} else if (launcher.quit) {
			break;
		} else {
			pthread_cond_wait(&launcher.changed, &launcher.lock);
		}
	}
	pthread_mutex_unlock(&launcher.lock);
	return NULL;
}

/*
 * The thread blocks signals, so a test's handler runs in the test's threads,
 * but not SIGCHLD: that goes to the thread that forked the child, and the
 * kernel discards an ignored signal only if that thread does not block it.
 * A blocked SIGCHLD would be queued instead, and wake a test thread with a
 * spurious EINTR from a read with a timeout.
 */
static int launcher_start(void)
{
	sigset_t blocked, old;
	int rc;

	if (launcher.owner == getpid())
		return 0;
	launcher.quit = false;
	launcher.request = NULL;
	sigfillset(&blocked);
	sigdelset(&blocked, SIGCHLD);
	pthread_sigmask(SIG_SETMASK, &blocked, &old);
	rc = pthread_create(&launcher.thread, NULL, launcher_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return fail("start the launcher thread: %s", strerror(rc));
	launcher.owner = getpid();
	return 0;
}

/* A child still running (a proxy a test never stopped) gets SIGKILL now. */
static void launcher_stop(void)
{
	if (launcher.owner != getpid())
		return;
	pthread_mutex_lock(&launcher.lock);
	launcher.quit = true;
	pthread_cond_broadcast(&launcher.changed);
	pthread_mutex_unlock(&launcher.lock);
	pthread_join(launcher.thread, NULL);
	launcher.owner = 0;
}

/* fork_child() on the launcher thread, from any thread; the pid, or -1 with
 * errno set. */
static pid_t spawn(char *const argv[], int stdout_fd, int stderr_fd)
{
	struct spawn_request request = {
		.argv = argv, .stdout_fd = stdout_fd, .stderr_fd = stderr_fd,
	};

	/* No launcher in this process (before harness_start(), or in a forked
	 * test child): fork here, and the child dies with this thread. */
	if (launcher.owner != getpid())
		return fork_child(argv, stdout_fd, stderr_fd);
	pthread_mutex_lock(&launcher.lock);
	while (launcher.request)
		pthread_cond_wait(&launcher.changed, &launcher.lock);
	launcher.request = &request;
	pthread_cond_broadcast(&launcher.changed);
	while (!request.done)
		pthread_cond_wait(&launcher.changed, &launcher.lock);
	pthread_mutex_unlock(&launcher.lock);
	errno = request.error;
	return request.pid;
}

/* Poll for pid's exit for up to timeout_ms: 1 with *status set once it has
 * exited (and is reaped), 0 if it still runs, -1 if there is no such child. */
static int wait_child(pid_t pid, long timeout_ms, int *status)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		pid_t done = waitpid(pid, status, WNOHANG);

		if (done == pid)
			return 1;
		if (done < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return 0;
		sleep_ms(POLL_INTERVAL_MS);
	}
}

/* SIGKILL and reap.  Returns the wait status, or -1 if there was no child to
 * reap (pid 0, or already reaped). */
static int kill_child(pid_t pid)
{
	int status;

	if (pid <= 0)
		return -1;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* SIGTERM, wait up to timeout_ms, then SIGKILL; always reaps.  Returns the
 * wait status, or -1 if there was no child to reap. */
static int stop_child(pid_t pid, long timeout_ms)
{
	int status = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	switch (wait_child(pid, timeout_ms, &status)) {
	case 1:
		return status;
	case -1:
		return -1;
	default:
		return kill_child(pid);
	}
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

/* origin is "http://127.0.0.1", "https://localhost", ... */
static void format_url(char *out, size_t n, const char *origin, int port, const char *path)
{
	snprintf(out, n, "%s:%d%s", origin, port, path ? path : "");
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

/* true if 127.0.0.1:port can be bound right now (nothing listens, nothing
 * is connected from it, no TIME_WAIT on it). */
static bool port_is_free(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool free_now;

	if (fd < 0)
		return false;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	free_now = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return free_now;
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

/* out = DIR/NAME + suffix; 0 or -1 if too long. */
static int nginx_file(char *out, const struct nginx *n, const char *suffix)
{
	char file[64];

	snprintf(file, sizeof(file), "%s%s", n->name, suffix);
	return join_path(out, PATH_MAX, harness.dir, file);
}

static int nginx_init(struct nginx *n, const char *name, int port_count, int ready_status)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->port_count = port_count;
	n->ready_status = ready_status;
	if (nginx_file(n->conf_path, n, ".conf") < 0 ||
	    nginx_file(n->error_log, n, "-error.log") < 0 ||
	    nginx_file(n->output, n, ".out") < 0 ||
	    nginx_file(n->access_log, n, ".log") < 0)
		return fail("temp dir path too long: %s", harness.dir);
	return 0;
}

/* Already given to n (ports[0..count)) or to a cluster target: a target a
 * test keeps killed must get its port back when it restarts. */
static bool port_known(int port, const struct nginx *n, int count)
{
	for (int i = 0; i < count; i++)
		if (n->ports[i] == port)
			return true;
	for (int i = 0; i < CLUSTER_TARGETS; i++)
		if (cluster.targets[i].ports[0] == port)
			return true;
	return false;
}

/*
 * A free loopback port below the kernel's ephemeral range.  bind(0) (proxies,
 * harness_free_port()) and outgoing connections only take ports inside that
 * range, so nothing grabs the port of a killed target before it restarts.
 * Falls back to bind(0) when the range leaves no room below it.
 */
static int stable_port(const struct nginx *n, int count)
{
	static struct prng rng;
	int low = 0, high = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

	if (f) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 0;
		fclose(f);
	}
	if (low - STABLE_PORT_SPAN < 1024)
		return harness_free_port();
	if (!rng.state)
		rng.state = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	for (int attempt = 0; attempt < STABLE_PORT_ATTEMPTS; attempt++) {
		int port = low - 1 - (int)(prng_next(&rng) % STABLE_PORT_SPAN);

		if (!port_known(port, n, count) && port_is_free(port))
			return port;
	}
	return harness_free_port();
}

/*
 * The part every nginx.conf shares: single process in the foreground, so the
 * pid we forked is nginx itself and stopping it is one kill; every file it
 * writes is in the temp dir, so it needs no privileges and no system paths.
 * write_http adds the servers inside http {}.
 */
static int write_nginx_conf(const struct nginx *n, nginx_http_writer write_http)
{
	const char *d = harness.dir;
	FILE *f = fopen(n->conf_path, "we");
	int rc;

	if (!f)
		return fail("create %s: %s", n->conf_path, strerror(errno));
	fprintf(f, "daemon off;\nmaster_process off;\n");
	if (geteuid() == 0)
		fprintf(f, "user root;\n");
	fprintf(f,
		"pid %s/%s.pid;\n"
		"lock_file %s/%s.lock;\n"
		"error_log %s warn;\n"
		"events { worker_connections 1024; }\n"
		"http {\n"
		"\taccess_log off;\n"
		/* The one format of every access log a test reads. */
		"\tlog_format aisfile '$request|$http_range|$http_authorization|$status';\n"
		/* Readiness probes stay out of the logs tests count. */
		"\tmap $http_user_agent $aisfile_loggable { \"%s\" 0; default 1; }\n"
		"\tclient_body_temp_path %s/client_body_temp;\n"
		"\tproxy_temp_path %s/proxy_temp;\n"
		"\tfastcgi_temp_path %s/fastcgi_temp;\n"
		"\tuwsgi_temp_path %s/uwsgi_temp;\n"
		"\tscgi_temp_path %s/scgi_temp;\n"
		"\tdefault_type application/octet-stream;\n"
		"\tsendfile on;\n"
		/* Long keep-alive so tests see connection reuse, not churn. */
		"\tkeepalive_timeout 60;\n"
		"\tkeepalive_requests 100000;\n",
		/* open_file_cache stays off (the default): harness_replace()
		 * must be visible to the very next request. */
		d, n->name, d, n->name, n->error_log, PROBE_USER_AGENT, d, d, d, d, d);
	rc = write_http(f, n);
	fprintf(f, "}\n");
	if (fclose(f) != 0 && rc == 0)
		rc = fail("write %s: %s", n->conf_path, strerror(errno));
	return rc;
}

/* Static files with Range, ETag and Last-Modified, at / and at the AIStore
 * REST shape GET /v1/objects/BUCKET/OBJECT?provider=ais (nginx ignores the
 * query). */
static void write_object_locations(FILE *f)
{
	fprintf(f,
		"\t\tlocation / { root %s; }\n"
		"\t\tlocation /v1/objects/testbck/ { alias %s/; }\n",
		harness.objdir, harness.objdir);
}

/* AIStore paths whose answers a writer must refuse: a multipart upload ID
 * that is empty, has spaces, or is longer than any ID (1100 bytes), and a
 * bucket that does not exist (AIStore's 404 JSON, for every method). */
static void write_bad_upload_locations(FILE *f)
{
	fprintf(f,
		"\t\tlocation = /v1/objects/mpt/empty-id { return 200 \"\"; }\n"
		"\t\tlocation = /v1/objects/mpt/spaced-id { return 200 \"an id\\n\"; }\n"
		"\t\tlocation /v1/objects/nobucket/ { default_type application/json; "
		"return 404 '{\"message\":\"bucket ais://nobucket does not exist\","
		"\"status\":404}'; }\n"
		"\t\tlocation = /v1/objects/mpt/long-id { return 200 \"");
	for (int i = 0; i < 1100; i++)
		fputc('x', f);
	fprintf(f, "\"; }\n");
}

/* harness_start()'s server: the objects, and the odd servers tests need. */
static int write_objects_http(FILE *f, const struct nginx *n)
{
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n",
		n->ports[0]);
	write_object_locations(f);
	fprintf(f,
		/* A server that ignores Range and sends the whole body with 200:
		 * resume must notice rather than splice from offset 0. */
		"\t\tlocation /norange/ { alias %s/; max_ranges 0; }\n"
		/* No ETag, only Last-Modified, to validate a resume with. */
		"\t\tlocation /noetag/ { alias %s/; etag off; }\n"
		/* Permanent errors with a text body the library must surface
		 * in its message, and must not retry. */
		"\t\tlocation = /forbidden { default_type text/plain; return 403 \"forbidden by policy: test\\n\"; }\n"
		"\t\tlocation = /teapot { default_type text/plain; return 418 \"no coffee here\\n\"; }\n"
		"\t\tlocation = /unauthorized { default_type text/plain; return 401 \"token required\\n\"; }\n"
		/* A 5xx that never recovers: retries must give up within their
		 * bounds and report the last status. */
		"\t\tlocation = /always503 { default_type text/plain; return 503 \"overloaded\\n\"; }\n"
		/* A plain HTTP server that takes PUTs of any size, in chunks
		 * too, for the write tests. */
		"\t\tlocation /dav/ { alias %s/; dav_methods PUT DELETE; "
		"create_full_put_path on; client_max_body_size 0; }\n",
		harness.objdir, harness.objdir, harness.davdir);
	write_bad_upload_locations(f);
	fprintf(f, "\t}\n");
	return 0;
}

static pid_t spawn_nginx(const struct nginx *n)
{
	const char *binary = getenv("NGINX") ? getenv("NGINX") : "/usr/sbin/nginx";
	char prefix[PATH_MAX + 1];
	char *argv[] = { (char *)binary, "-p", prefix, "-e", (char *)n->error_log,
			 "-c", (char *)n->conf_path, NULL };
	int out;
	pid_t pid;

	if (access(binary, X_OK) < 0)
		return fail("nginx %s: %s (set NGINX to its path)", binary, strerror(errno));
	snprintf(prefix, sizeof(prefix), "%s/", harness.dir);
	out = open(n->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return fail("create %s: %s", n->output, strerror(errno));
	pid = spawn(argv, out, out);
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	close(out);
	return pid;
}

/* true if a plain-HTTP GET /empty.bin on port gets an answer with status. */
static bool answers_with_status(int port, int status)
{
	static const char request[] =
		"GET /" OBJ_EMPTY " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		"User-Agent: " PROBE_USER_AGENT "\r\nConnection: close\r\n\r\n";
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval timeout = { 0, PROBE_TIMEOUT_MS * 1000 };
	char reply[32], expected[8];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	if (fd < 0)
		return false;
	snprintf(expected, sizeof(expected), " %03d", status);
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
		     strncmp(reply + 8, expected, 4) == 0;
	}
	close(fd);
	return ok;
}

static bool nginx_answers(const struct nginx *n)
{
	for (int i = 0; i < n->port_count; i++)
		if (!answers_with_status(n->ports[i], n->ready_status))
			return false;
	return true;
}

enum nginx_outcome { NGINX_READY, NGINX_PORT_TAKEN, NGINX_FAILED };

/*
 * Poll until nginx answers on every port, exits, or runs out of time.  A
 * taken port shows up in the error log at once, but nginx itself retries
 * bind() for 2.5 s, so reading the log lets us move on without that wait.
 */
static enum nginx_outcome wait_for_nginx(struct nginx *n)
{
	int64_t deadline = now_ms() + NGINX_READY_TIMEOUT_MS;
	int status;

	for (;;) {
		pid_t done = waitpid(n->pid, &status, WNOHANG);
		bool port_taken = file_contains(n->error_log, "Address already in use");

		if (done == n->pid) {
			char how[64];

			n->pid = 0;
			if (port_taken)
				return NGINX_PORT_TAKEN;
			describe_exit(how, sizeof(how), status);
			fail("%s %s before it answered", n->name, how);
			return NGINX_FAILED;
		}
		if (port_taken)
			return NGINX_PORT_TAKEN;
		if (nginx_answers(n))
			return NGINX_READY;
		if (now_ms() >= deadline) {
			fail("%s did not answer GET /%s with %d within %d ms",
			     n->name, OBJ_EMPTY, n->ready_status, NGINX_READY_TIMEOUT_MS);
			return NGINX_FAILED;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
}

/* Start nginx from n's conf file, on n's ports, and wait until it answers.
 * Unless it is ready, nothing is left running. */
static enum nginx_outcome nginx_launch(struct nginx *n)
{
	enum nginx_outcome outcome;

	unlink(n->error_log);
	n->pid = spawn_nginx(n);
	if (n->pid < 0) {
		n->pid = 0;
		return NGINX_FAILED;
	}
	outcome = wait_for_nginx(n);
	if (outcome != NGINX_READY) {
		stop_child(n->pid, NGINX_STOP_TIMEOUT_MS);
		n->pid = 0;
	}
	if (outcome == NGINX_FAILED) {
		print_file("nginx error_log", n->error_log);
		print_file("nginx stdout/stderr", n->output);
	}
	return outcome;
}

/* Start n on fresh ports with the servers write_http describes, retrying
 * when someone else takes a port between our check and nginx's bind. */
static int nginx_start(struct nginx *n, nginx_http_writer write_http)
{
	for (int attempt = 0; attempt < NGINX_BIND_ATTEMPTS; attempt++) {
		enum nginx_outcome outcome;

		for (int i = 0; i < n->port_count; i++) {
			n->ports[i] = stable_port(n, i);
			if (n->ports[i] < 0)
				return fail("no free port: %s", strerror(errno));
		}
		if (write_nginx_conf(n, write_http) < 0)
			return -1;
		outcome = nginx_launch(n);
		if (outcome != NGINX_PORT_TAKEN)
			return outcome == NGINX_READY ? 0 : -1;
	}
	return fail("%s could not bind free ports in %d attempts", n->name, NGINX_BIND_ATTEMPTS);
}

/* Start n again from the conf it last ran with, on the same ports; 0 at once
 * if it still runs.  nginx sets SO_REUSEADDR, so connections the last one
 * left in TIME_WAIT do not keep it from listening. */
static int nginx_restart(struct nginx *n)
{
	int status;

	if (n->pid > 0 && waitpid(n->pid, &status, WNOHANG) == 0)
		return 0;
	n->pid = 0;
	switch (nginx_launch(n)) {
	case NGINX_READY:
		return 0;
	case NGINX_PORT_TAKEN:
		return fail("%s cannot restart: port %d is taken", n->name, n->ports[0]);
	default:
		return -1;
	}
}

/* Stop n if it runs, and forget it. */
static void nginx_stop(struct nginx *n)
{
	stop_child(n->pid, NGINX_STOP_TIMEOUT_MS);
	memset(n, 0, sizeof(*n));
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
	harness.davdir[0] = '\0';
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
	if (join_path(harness.objdir, sizeof(harness.objdir), harness.dir, "objects") < 0)
		return fail("temp dir path too long: %s", harness.dir);
	if (mkdir(harness.objdir, 0755) < 0)
		return fail("mkdir %s: %s", harness.objdir, strerror(errno));
	if (join_path(harness.davdir, sizeof(harness.davdir), harness.dir, "dav") < 0)
		return fail("temp dir path too long: %s", harness.dir);
	if (mkdir(harness.davdir, 0755) < 0)
		return fail("mkdir %s: %s", harness.davdir, strerror(errno));
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
	if (make_temp_dir() < 0 || generate_objects() < 0 || launcher_start() < 0 ||
	    nginx_init(&harness.server, "nginx", 1, 200) < 0 ||
	    nginx_start(&harness.server, write_objects_http) < 0) {
		nginx_stop(&harness.server);
		launcher_stop();
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
	for (size_t i = 0; i < COUNT_OF(stop_hooks) && stop_hooks[i]; i++)
		stop_hooks[i]();
	liar_stop();
	served_stop();
	chain_stop();
	tls_stop();
	cluster_stop();
	nginx_stop(&harness.server);
	launcher_stop();
	remove_temp_dir();
	harness.running = false;
}

int harness_port(void)
{
	return harness.server.ports[0];
}

void harness_url(char *out, size_t n, const char *path)
{
	format_url(out, n, "http://127.0.0.1", harness.server.ports[0], path);
}

const char *harness_dir(void)
{
	return harness.dir;
}

const char *harness_objdir(void)
{
	return harness.objdir;
}

const char *harness_davdir(void)
{
	return harness.davdir;
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

int harness_add_object(const char *name, unsigned seed, uint64_t size)
{
	if (!harness.running)
		return fail("harness_add_object needs harness_start first");
	if (!valid_object_name(name) || find_object_spec(name))
		return fail("bad or reserved object name: %s", name ? name : "(null)");
	return install_object(name, write_random, seed, size, ORIGINAL_MTIME);
}

/* ---- tools: the fault proxy and the lying server -------------------------- */

/* $ENV, else the tool of that name in the directory of the running test
 * binary. */
static int tool_path(const char *env_name, const char *name, char *out, size_t n)
{
	const char *env = getenv(env_name);
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
	return join_path(out, n, exe, name) < 0 ? fail("path too long: %s", exe) : 0;
}

/* Read the first line a tool prints, at most PROXY_PORT_TIMEOUT_MS. */
static int read_first_line(const char *tool, int fd, char *line, size_t n)
{
	int64_t deadline = now_ms() + PROXY_PORT_TIMEOUT_MS;
	size_t used = 0;

	while (used + 1 < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t got;

		if (left <= 0)
			return fail("%s printed no port within %d ms", tool, PROXY_PORT_TIMEOUT_MS);
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
			return fail("%s closed its stdout before printing a port", tool);
		used += (size_t)got;
		line[used] = '\0';
		if (strchr(line, '\n'))
			return 0;
	}
	return fail("%s's first line is too long", tool);
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

/* A tool that listens on a port of its own choosing and prints it: start
 * argv (argv[0] the binary, named tool in messages), read the port.  On
 * success *pid, *stdout_fd (kept open so that a later write does not kill
 * it with SIGPIPE) and *port are set; on failure nothing is left running. */
static int tool_start(const char *tool, char *const argv[], pid_t *pid,
		      int *stdout_fd, int *port)
{
	char line[256], how[64];
	int out[2], status;

	*pid = 0;
	*stdout_fd = -1;
	if (access(argv[0], X_OK) < 0)
		return fail("%s %s: %s (build tests/%s, or set its variable)",
			    tool, argv[0], strerror(errno), tool);
	if (pipe2(out, O_CLOEXEC) < 0)
		return fail("pipe: %s", strerror(errno));
	*pid = spawn(argv, out[1], -1);
	close(out[1]);
	if (*pid < 0) {
		*pid = 0;
		close(out[0]);
		return fail("fork: %s", strerror(errno));
	}
	if (read_first_line(tool, out[0], line, sizeof(line)) == 0 &&
	    (*port = port_from_line(line)) > 0) {
		*stdout_fd = out[0];
		return 0;
	}
	status = stop_child(*pid, PROXY_STOP_TIMEOUT_MS);
	*pid = 0;
	close(out[0]);
	if (status != -1) {
		describe_exit(how, sizeof(how), status);
		fprintf(stderr, "harness: %s %s\n", tool, how);
	}
	return fail("no port from %s", tool);
}

int proxy_start(struct proxy *p, const char *schedule)
{
	return proxy_start_to(p, harness.server.ports[0], schedule);
}

int proxy_start_to(struct proxy *p, int upstream_port, const char *schedule)
{
	char binary[PATH_MAX], upstream[16];
	char *argv[] = { binary, "-u", upstream, "-l", p->log, (char *)schedule, NULL };
	char log_name[64];

	memset(p, 0, sizeof(*p));
	p->stdout_fd = -1;
	if (!harness.running)
		return fail("proxy_start needs harness_start first");
	if (tool_path("FAULTPROXY", "faultproxy", binary, sizeof(binary)) < 0)
		return -1;
	snprintf(upstream, sizeof(upstream), "%d", upstream_port);
	snprintf(log_name, sizeof(log_name), "proxy-%d.log", ++proxy_serial);
	if (join_path(p->log, sizeof(p->log), harness.dir, log_name) < 0)
		return fail("proxy log path too long");
	return tool_start("faultproxy", argv, &p->pid, &p->stdout_fd, &p->port);
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
	format_url(out, n, "http://127.0.0.1", p->port, path);
}

char *proxy_log(const struct proxy *p)
{
	return read_log(p->log);
}

int proxy_connections(const struct proxy *p)
{
	return count_log_lines(proxy_log(p));
}

/* The lying server answers every path it does not know with 404, the
 * readiness probe's too. */
static bool liar_answers(int port)
{
	int64_t deadline = now_ms() + PROXY_PORT_TIMEOUT_MS;

	while (!answers_with_status(port, 404)) {
		if (now_ms() >= deadline)
			return false;
		sleep_ms(POLL_INTERVAL_MS);
	}
	return true;
}

int liar_start(void)
{
	char binary[PATH_MAX];
	char *argv[] = { binary, NULL };

	if (liar.pid)
		return 0;
	if (!harness.running)
		return fail("liar_start needs harness_start first");
	if (tool_path("LIARSERVER", "liarserver", binary, sizeof(binary)) < 0 ||
	    tool_start("liarserver", argv, &liar.pid, &liar.stdout_fd, &liar.port) < 0)
		return -1;
	if (!liar_answers(liar.port)) {
		liar_stop();
		return fail("liarserver did not answer within %d ms", PROXY_PORT_TIMEOUT_MS);
	}
	return 0;
}

static void liar_stop(void)
{
	stop_child(liar.pid, PROXY_STOP_TIMEOUT_MS);
	liar.pid = 0;
	if (liar.stdout_fd >= 0)
		close(liar.stdout_fd);
	liar.stdout_fd = -1;
}

void liar_url(char *out, size_t n, const char *path)
{
	format_url(out, n, "http://127.0.0.1", liar.port, path);
}

/* ---- for other harnesses (objharness.c) ----------------------------------- */

pid_t harness_spawn(char *const argv[], int stdout_fd, int stderr_fd)
{
	return spawn(argv, stdout_fd, stderr_fd);
}

int harness_kill_child(pid_t pid)
{
	return kill_child(pid);
}

int harness_stable_port(void)
{
	return stable_port(NULL, 0);
}

int harness_tool_path(const char *env_name, const char *name, char *out, size_t n)
{
	return tool_path(env_name, name, out, n);
}

void harness_on_stop(void (*stop)(void))
{
	for (size_t i = 0; i < COUNT_OF(stop_hooks); i++) {
		if (stop_hooks[i] == stop)
			return;
		if (!stop_hooks[i]) {
			stop_hooks[i] = stop;
			return;
		}
	}
	fail("harness_on_stop: no room for another function");
}

int64_t harness_now_ms(void)
{
	return now_ms();
}

void harness_sleep_ms(long ms)
{
	sleep_ms(ms);
}

char *harness_read_file(const char *path, size_t *len)
{
	return read_whole_file(path, len);
}

/* ---- AIStore-shaped cluster --------------------------------------------- */

/* A target: the objects, and an access log to tell which target served what. */
static int write_target_http(FILE *f, const struct nginx *n)
{
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\taccess_log %s aisfile if=$aisfile_loggable;\n",
		n->ports[0], n->access_log);
	write_object_locations(f);
	fprintf(f, "\t}\n");
	return 0;
}

/* s as an nginx double-quoted string.  nginx would expand a '$' and has no
 * escape for it, so text with one is refused. */
static int write_nginx_string(FILE *f, const char *s)
{
	if (strchr(s, '$'))
		return fail("nginx cannot return a literal '$': %s", s);
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
	return 0;
}

/* GET /v1/objects/testbck/OBJECT answers status with the JSON an AIStore
 * gateway sends; message is already JSON-escaped. */
static int write_ais_error(FILE *f, const char *object, int status, const char *message)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"message\":\"%s\",\"method\":\"GET\",\"url_path\":\"/v1/objects/testbck/%s\","
		 "\"remote_addr\":\"127.0.0.1\",\"caller\":\"\",\"node\":\"p[gw]\",\"status\":%d}",
		 message, object, status);
	fprintf(f, "\t\tlocation = /v1/objects/testbck/%s { default_type application/json; return %d ",
		object, status);
	if (write_nginx_string(f, body) < 0)
		return -1;
	fprintf(f, "; }\n");
	return 0;
}

/*
 * The gateway redirects every GET, path and query kept, the way an AIStore
 * proxy does.  A GET from byte 0 (no Range, or "bytes=0-", how a stream
 * starts) always goes to target 0 and any other ranged one
 * to a random target ($request_id is random per request), so a resumed read
 * usually continues on a different target than it started on.
 */
static int write_gateway_http(FILE *f, const struct nginx *n)
{
	const struct nginx *t = cluster.targets;

	fprintf(f,
		"\tsplit_clients \"$request_id\" $aisfile_any_target { 33.3%% %d; 33.3%% %d; * %d; }\n"
		"\tmap $http_range $aisfile_target { \"\" %d; \"~^bytes=0-\" %d; default $aisfile_any_target; }\n"
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n"
		"\t\taccess_log %s aisfile if=$aisfile_loggable;\n",
		t[0].ports[0], t[1].ports[0], t[2].ports[0], t[0].ports[0],
		t[0].ports[0], n->ports[0], n->access_log);
	if (write_ais_error(f, "json-missing", 404,
			    "object \\\"ais://testbck/json-missing\\\" does not exist") < 0 ||
	    write_ais_error(f, "json-forbidden", 403, "access denied: token required") < 0)
		return -1;
	fprintf(f,
		"\t\tlocation / { return 301 http://127.0.0.1:$aisfile_target$request_uri; }\n"
		"\t}\n");
	return 0;
}

static void cluster_stop(void)
{
	nginx_stop(&cluster.gateway);
	for (int i = 0; i < CLUSTER_TARGETS; i++)
		nginx_stop(&cluster.targets[i]);
	cluster.running = false;
}

int cluster_start(void)
{
	if (cluster.running)
		return 0;
	if (harness_start() < 0)
		return -1;
	for (int i = 0; i < CLUSTER_TARGETS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "target%d", i);
		if (nginx_init(&cluster.targets[i], name, 1, 200) < 0 ||
		    nginx_start(&cluster.targets[i], write_target_http) < 0) {
			cluster_stop();
			return -1;
		}
	}
	/* Last: its config names the targets' ports. */
	if (nginx_init(&cluster.gateway, "gateway", 1, 301) < 0 ||
	    nginx_start(&cluster.gateway, write_gateway_http) < 0) {
		cluster_stop();
		return -1;
	}
	cluster.running = true;
	return 0;
}

void cluster_url(char *out, size_t n, const char *path)
{
	format_url(out, n, "http://127.0.0.1", cluster.gateway.ports[0], path);
}

static bool valid_target(int i)
{
	if (!cluster.running) {
		fail("no cluster: call cluster_start() first");
		return false;
	}
	if (i < 0 || i >= CLUSTER_TARGETS) {
		fail("no target %d: targets are 0..%d", i, CLUSTER_TARGETS - 1);
		return false;
	}
	return true;
}

int cluster_target_port(int i)
{
	return valid_target(i) ? cluster.targets[i].ports[0] : -1;
}

int cluster_kill_target(int i)
{
	if (!valid_target(i))
		return -1;
	pthread_mutex_lock(&cluster.lock);
	kill_child(cluster.targets[i].pid);
	cluster.targets[i].pid = 0;
	pthread_mutex_unlock(&cluster.lock);
	return 0;
}

int cluster_start_target(int i)
{
	int rc;

	if (!valid_target(i))
		return -1;
	pthread_mutex_lock(&cluster.lock);
	rc = nginx_restart(&cluster.targets[i]);
	pthread_mutex_unlock(&cluster.lock);
	return rc;
}

/* op on every target, even after one failed; -1 if any did. */
static int every_target(int (*op)(int i))
{
	int rc = 0;

	for (int i = 0; i < CLUSTER_TARGETS; i++)
		if (op(i) < 0)
			rc = -1;
	return rc;
}

int cluster_kill_all_targets(void)
{
	return every_target(cluster_kill_target);
}

int cluster_start_all_targets(void)
{
	return every_target(cluster_start_target);
}

char *cluster_gateway_log(void)
{
	return read_log(cluster.gateway.access_log);
}

int cluster_gateway_requests(void)
{
	return count_log_lines(cluster_gateway_log());
}

char *cluster_target_log(int i)
{
	return valid_target(i) ? read_log(cluster.targets[i].access_log) : NULL;
}

/* ---- TLS ---------------------------------------------------------------- */

/* Our own openssl config, so the certificates do not depend on the system's
 * openssl.cnf.  -subj names the subjects; these sections add the x509v3
 * extensions that make a CA a CA and a server certificate valid for
 * 127.0.0.1 and localhost. */
static const char openssl_conf[] =
	"[req]\n"
	"distinguished_name = dn\n"
	"[dn]\n"
	"[ca_ext]\n"
	"basicConstraints = critical, CA:TRUE\n"
	"keyUsage = critical, keyCertSign, cRLSign\n"
	"subjectKeyIdentifier = hash\n"
	"[server_ext]\n"
	"basicConstraints = critical, CA:FALSE\n"
	"keyUsage = critical, digitalSignature\n"
	"extendedKeyUsage = serverAuth\n"
	"subjectAltName = DNS:localhost, IP:127.0.0.1\n"
	"subjectKeyIdentifier = hash\n"
	"authorityKeyIdentifier = keyid\n"
	"[client_ext]\n"
	"basicConstraints = critical, CA:FALSE\n"
	"keyUsage = critical, digitalSignature\n"
	"extendedKeyUsage = clientAuth\n"
	"subjectKeyIdentifier = hash\n"
	"authorityKeyIdentifier = keyid\n";

/* Run the openssl tool with args (NULL-terminated, without argv[0]), its
 * output appended to openssl.out; 0 if it exits 0 within TOOL_TIMEOUT_MS. */
static int run_openssl(const char *const args[])
{
	const char *binary = getenv("OPENSSL") ? getenv("OPENSSL") : "/usr/bin/openssl";
	const char *output = tls_file("openssl.out");
	char *argv[32];
	size_t argc = 0;
	char how[64];
	int out, status = 0, done;
	pid_t pid;

	if (access(binary, X_OK) < 0)
		return fail("openssl %s: %s (set OPENSSL to its path)", binary, strerror(errno));
	argv[argc++] = (char *)binary;
	while (*args && argc + 1 < COUNT_OF(argv))
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	out = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return fail("create %s: %s", output, strerror(errno));
	pid = spawn(argv, out, out);
	close(out);
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	done = wait_child(pid, TOOL_TIMEOUT_MS, &status);
	if (done == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (done == 0) {
		kill_child(pid);
		snprintf(how, sizeof(how), "did not finish within %d ms", TOOL_TIMEOUT_MS);
	} else if (done < 0) {
		snprintf(how, sizeof(how), "could not be waited for: %s", strerror(errno));
	} else {
		describe_exit(how, sizeof(how), status);
	}
	print_file("openssl output", output);
	return fail("openssl %s %s", argv[1], how);
}

#define TLS_KEY_OPTIONS "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"
#define TLS_DAYS "2"

/* A self-signed CA certificate and its key. */
static int make_ca(const char *pem, const char *key, const char *subject)
{
	const char *const args[] = {
		"req", "-config", tls_file("openssl.cnf"), "-x509", TLS_KEY_OPTIONS,
		"-keyout", tls_file(key), "-out", tls_file(pem), "-days", TLS_DAYS,
		"-subj", subject, "-extensions", "ca_ext", NULL
	};

	return run_openssl(args);
}

/* A key, and a certificate for it signed by ca.pem with the extensions of
 * section extensions in openssl.cnf. */
static int make_signed(const char *pem, const char *key, const char *csr,
		       const char *subject, const char *extensions, const char *serial)
{
	const char *const request[] = {
		"req", "-config", tls_file("openssl.cnf"), "-new", TLS_KEY_OPTIONS,
		"-keyout", tls_file(key), "-out", tls_file(csr), "-subj", subject, NULL
	};
	const char *const sign[] = {
		"x509", "-req", "-in", tls_file(csr), "-CA", tls_file("ca.pem"),
		"-CAkey", tls_file("ca.key"), "-set_serial", serial, "-days", TLS_DAYS,
		"-extfile", tls_file("openssl.cnf"), "-extensions", extensions,
		"-out", tls_file(pem), NULL
	};

	return run_openssl(request) < 0 || run_openssl(sign) < 0 ? -1 : 0;
}

/* DIR/tls with the paths of every file in it, and openssl.cnf written. */
static int prepare_tls_dir(void)
{
	int fd;

	if (join_path(tls.dir, sizeof(tls.dir), harness.dir, "tls") < 0)
		return fail("temp dir path too long: %s", harness.dir);
	for (size_t i = 0; i < COUNT_OF(tls_file_names); i++)
		if (join_path(tls.files[i], sizeof(tls.files[i]), tls.dir, tls_file_names[i]) < 0)
			return fail("temp dir path too long: %s", harness.dir);
	if (mkdir(tls.dir, 0700) < 0 && errno != EEXIST)
		return fail("mkdir %s: %s", tls.dir, strerror(errno));
	fd = open(tls_file("openssl.cnf"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("create %s: %s", tls_file("openssl.cnf"), strerror(errno));
	if (write_all(fd, openssl_conf, sizeof(openssl_conf) - 1) < 0) {
		close(fd);
		return fail("write %s: %s", tls_file("openssl.cnf"), strerror(errno));
	}
	close(fd);
	return 0;
}

static int make_certificates(void)
{
	if (make_ca("ca.pem", "ca.key", "/CN=aisfile test CA") < 0 ||
	    make_ca("other-ca.pem", "other-ca.key", "/CN=aisfile unrelated CA") < 0 ||
	    make_signed("server.pem", "server.key", "server.csr", "/CN=localhost",
			"server_ext", "1001") < 0 ||
	    make_signed("client.pem", "client.key", "client.csr", "/CN=aisfile test client",
			"client_ext", "1002") < 0)
		return -1;
	return 0;
}

/* One https server per enum tls_server, ports[which] being its port. */
static int write_tls_http(FILE *f, const struct nginx *n)
{
	fprintf(f,
		"\tssl_certificate %s;\n"
		"\tssl_certificate_key %s;\n",
		tls_file("server.pem"), tls_file("server.key"));
	for (int which = 0; which < TLS_SERVER_COUNT; which++) {
		fprintf(f,
			"\tserver {\n"
			"\t\tlisten 127.0.0.1:%d ssl;\n"
			"\t\tserver_name localhost;\n"
			"\t\taccess_log %s aisfile if=$aisfile_loggable;\n",
			n->ports[which], n->access_log);
		/* No valid client certificate: nginx answers 400. */
		if (which == TLS_CLIENT_CERT)
			fprintf(f,
				"\t\tssl_verify_client on;\n"
				"\t\tssl_client_certificate %s;\n",
				tls_file("ca.pem"));
		/* An https gateway that sends the client on to plain http. */
		if (which == TLS_DOWNGRADE)
			fprintf(f,
				"\t\tlocation / { return 301 http://127.0.0.1:%d$request_uri; }\n",
				cluster.targets[0].ports[0]);
		else
			write_object_locations(f);
		fprintf(f, "\t}\n");
	}
	return 0;
}

static void tls_stop(void)
{
	nginx_stop(&tls.server);
	memset(&tls, 0, sizeof(tls));
}

int tls_start(void)
{
	if (tls.running)
		return 0;
	/* TLS_DOWNGRADE redirects to cluster target 0. */
	if (cluster_start() < 0)
		return -1;
	/* An https port answers the plain-HTTP readiness probe with 400. */
	if (prepare_tls_dir() < 0 || make_certificates() < 0 ||
	    nginx_init(&tls.server, "tls", TLS_SERVER_COUNT, 400) < 0 ||
	    nginx_start(&tls.server, write_tls_http) < 0) {
		tls_stop();
		return -1;
	}
	tls.running = true;
	return 0;
}

static void format_tls_url(char *out, size_t n, const char *origin,
			   enum tls_server which, const char *path)
{
	if ((unsigned)which >= TLS_SERVER_COUNT || !tls.running) {
		fail("no TLS server %d (is tls_start() done?)", (int)which);
		if (n > 0)
			out[0] = '\0';
		return;
	}
	format_url(out, n, origin, tls.server.ports[which], path);
}

void tls_url(char *out, size_t n, enum tls_server which, const char *path)
{
	format_tls_url(out, n, "https://127.0.0.1", which, path);
}

void tls_url_localhost(char *out, size_t n, enum tls_server which, const char *path)
{
	format_tls_url(out, n, "https://localhost", which, path);
}

const char *tls_file(const char *name)
{
	for (size_t i = 0; name && i < COUNT_OF(tls_file_names); i++)
		if (strcmp(name, tls_file_names[i]) == 0 && tls.files[i][0])
			return tls.files[i];
	fail("no TLS file %s (is tls_start() done?)", name ? name : "(null)");
	return NULL;
}

/* ---- redirect chain across two loopback addresses ----------------------- */

#define CHAIN_SERVERS 3
#define SECOND_LOOPBACK "127.0.0.2"

_Static_assert(CHAIN_HOP2 + 1 == CHAIN_SERVERS, "one port per enum chain_server");
_Static_assert(CHAIN_SERVERS <= NGINX_MAX_PORTS, "the chain nginx listens on them all");

static const char *const chain_names[CHAIN_SERVERS] = { "gateway", "hop1", "hop2" };
static const char *const chain_addresses[CHAIN_SERVERS] = {
	"127.0.0.1", SECOND_LOOPBACK, "127.0.0.1",
};

static struct {
	bool running;
	struct nginx server; /* ports[which] serves enum chain_server which */
	char logs[CHAIN_SERVERS][PATH_MAX];
} chain;

/* Whether this host lets us listen on 127.0.0.2 (Linux routes all of
 * 127.0.0.0/8 to lo; other systems and some sandboxes do not). */
static bool second_loopback_usable(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool usable;

	if (fd < 0)
		return false;
	inet_pton(AF_INET, SECOND_LOOPBACK, &addr.sin_addr);
	usable = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	if (!usable)
		fail("cannot bind %s (%s): the redirect-chain tests will be skipped",
		     SECOND_LOOPBACK, strerror(errno));
	close(fd);
	return usable;
}

/* The head of one chain server: where it listens, and its log. */
static void write_chain_server_head(FILE *f, const struct nginx *n, enum chain_server which)
{
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten %s:%d;\n",
		chain_addresses[which], n->ports[which]);
	if (which == CHAIN_HOP1)
		fprintf(f, "\t\tlisten 127.0.0.1:%d;\n", n->ports[which]);
	fprintf(f,
		"\t\tserver_name localhost;\n"
		"\t\taccess_log %s aisfile_chain if=$aisfile_loggable;\n"
		"\t\tlocation / { root %s; }\n",
		chain.logs[which], harness.objdir);
}

/* rewrite ... permanent answers 301 and keeps the query. */
static int write_chain_http(FILE *f, const struct nginx *n)
{
	const int *port = n->ports;

	fprintf(f, "\tlog_format aisfile_chain '$request|$http_authorization|$http_cookie|$status';\n");
	write_chain_server_head(f, n, CHAIN_GATEWAY);
	fprintf(f,
		"\t\tlocation /chain/ { rewrite ^/chain/(.*)$ http://%s:%d/obj/$1 permanent; }\n"
		"\t\tlocation /chain2/ { rewrite ^/chain2/(.*)$ http://%s:%d/chain2/$1 permanent; }\n"
		"\t}\n",
		SECOND_LOOPBACK, port[CHAIN_HOP1], SECOND_LOOPBACK, port[CHAIN_HOP1]);
	write_chain_server_head(f, n, CHAIN_HOP1);
	fprintf(f,
		"\t\tlocation /obj/ { alias %s/; }\n"
		"\t\tlocation /chain2/ { rewrite ^/chain2/(.*)$ http://127.0.0.1:%d/$1 permanent; }\n"
		"\t}\n",
		harness.objdir, port[CHAIN_HOP2]);
	write_chain_server_head(f, n, CHAIN_HOP2);
	fprintf(f, "\t}\n");
	return 0;
}

static void chain_stop(void)
{
	nginx_stop(&chain.server);
	memset(&chain, 0, sizeof(chain));
}

int chain_start(void)
{
	if (chain.running)
		return 0;
	if (harness_start() < 0)
		return -1;
	if (!second_loopback_usable())
		return CHAIN_NO_SECOND_ADDRESS;
	if (nginx_init(&chain.server, "chain", CHAIN_SERVERS, 200) < 0)
		return -1;
	for (int which = 0; which < CHAIN_SERVERS; which++) {
		char suffix[32];

		snprintf(suffix, sizeof(suffix), "-%s.log", chain_names[which]);
		if (nginx_file(chain.logs[which], &chain.server, suffix) < 0) {
			chain_stop();
			return fail("temp dir path too long: %s", harness.dir);
		}
	}
	if (nginx_start(&chain.server, write_chain_http) < 0) {
		chain_stop();
		return -1;
	}
	chain.running = true;
	return 0;
}

void chain_url(char *out, size_t n, enum chain_server which, const char *path)
{
	char origin[32];

	if ((unsigned)which >= CHAIN_SERVERS || !chain.running) {
		fail("no chain server %d (is chain_start() done?)", (int)which);
		if (n > 0)
			out[0] = '\0';
		return;
	}
	snprintf(origin, sizeof(origin), "http://%s", chain_addresses[which]);
	format_url(out, n, origin, chain.server.ports[which], path);
}

char *chain_log(enum chain_server which)
{
	if ((unsigned)which >= CHAIN_SERVERS || !chain.running) {
		fail("no chain server %d (is chain_start() done?)", (int)which);
		return NULL;
	}
	return read_log(chain.logs[which]);
}

/* ---- objects served with extra headers ---------------------------------- */

static struct {
	bool running;
	struct nginx server;
	const struct served_object *objects;
	size_t count;
} served;

static void served_stop(void)
{
	nginx_stop(&served.server);
	memset(&served, 0, sizeof(served));
}

static int write_served_http(FILE *f, const struct nginx *n)
{
	fprintf(f,
		"\tserver {\n"
		"\t\tlisten 127.0.0.1:%d;\n"
		"\t\tserver_name localhost;\n",
		n->ports[0]);
	for (size_t i = 0; i < served.count; i++) {
		const struct served_object *o = &served.objects[i];

		fprintf(f, "\t\tlocation = %s {\n\t\t\talias %s/%s;\n",
			o->path, harness.objdir, o->object);
		for (const char *const *h = o->headers; h && *h; h++) {
			const char *colon = strchr(*h, ':');

			if (!colon)
				return fail("served header without a colon: %s", *h);
			fprintf(f, "\t\t\tadd_header %.*s \"%s\" always;\n",
				(int)(colon - *h), *h, colon + 1 + strspn(colon + 1, " "));
		}
		fputs("\t\t}\n", f);
	}
	fputs("\t}\n", f);
	return 0;
}

int served_start(const struct served_object *objects, size_t count)
{
	if (harness_start() < 0)
		return -1;
	served_stop();
	served.objects = objects;
	served.count = count;
	if (nginx_init(&served.server, "served", 1, 404) < 0 ||
	    nginx_start(&served.server, write_served_http) < 0) {
		served_stop();
		return -1;
	}
	served.running = true;
	return 0;
}

int served_port(void)
{
	return served.running ? served.server.ports[0] : -1;
}

void served_url(char *out, size_t n, const char *path)
{
	format_url(out, n, "http://127.0.0.1", served.server.ports[0], path);
}
