/*
 * objserver_store.c - the store directory of tests/objserver: its layout
 * (objserver.h), object names, and objects with their versions and
 * checksums.  Multipart uploads (objserver_upload.c) and the shared
 * counters and faults (objserver_state.c) build on the helpers here.
 *
 * Every node of a cluster (gateway and targets, separate processes) opens
 * the same directory, so all state lives on disk and every change that must
 * look atomic is a rename or happens under a flock.  Each lock takes its own
 * open file description, so one flock serves threads and processes alike.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "objserver.h"

#define BUCKET_NAME_MAX 64

/* ---- paths ----------------------------------------------------------------------- */

int store_path(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static int object_path(const struct store *s, const struct object_name *n, char *out)
{
	return store_path(out, "%s/%s/%s", s->root, n->bucket, n->object);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void store_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries of tmp/ and trash/ are named PID.something: remove those whose
 * process is gone (a node killed mid-request), and only those, since the
 * other nodes of the cluster share the directory. */
static void sweep_dead(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	char path[PATH_MAX];

	while (d && (entry = readdir(d))) {
		long pid = strtol(entry->d_name, NULL, 10);
		bool alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);

		if (entry->d_name[0] != '.' && !alive &&
		    store_path(path, "%s/%s", dir, entry->d_name) == 0)
			store_remove_tree(path);
	}
	if (d)
		closedir(d);
}

int store_open(struct store *s, const char *root)
{
	static const char *const dirs[] = { "", "/meta", "/uploads", "/tmp", "/trash" };
	char path[PATH_MAX];

	if (snprintf(s->root, sizeof(s->root), "%s", root) >= (int)sizeof(s->root) ||
	    store_path(s->sys, "%s/.objserver", root) < 0) {
		fprintf(stderr, "objserver: store path too long: %s\n", root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (store_path(path, "%s%s", s->sys, dirs[i]) < 0 ||
		    (mkdir(path, 0755) < 0 && errno != EEXIST)) {
			fprintf(stderr, "objserver: mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	if (store_path(path, "%s/tmp", s->sys) == 0)
		sweep_dead(path);
	if (store_path(path, "%s/trash", s->sys) == 0)
		sweep_dead(path);
	return 0;
}

int store_lock(const struct store *s, const char *name, int how)
{
	char path[PATH_MAX];
	int fd;

	if (store_path(path, "%s/%s", s->sys, name) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	while (fd >= 0 && flock(fd, how) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* ---- object names ------------------------------------------------------------- */

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode src[0..len) into out (cap bytes, NUL-terminated): 0, or
 * -1 for a bad escape, an encoded NUL or no room. */
static int percent_decode(const char *src, size_t len, char *out, size_t cap)
{
	size_t used = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)src[i];

		if (ch == '%') {
			int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(src[i + 2]) : -1;

			if (lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch == 0 || used + 1 >= cap)
			return -1;
		out[used++] = (char)ch;
	}
	out[used] = '\0';
	return 0;
}

static bool valid_bucket(const char *b)
{
	if (!*b || *b == '.' || strlen(b) > BUCKET_NAME_MAX)
		return false;
	for (; *b; b++)
		if (!(*b >= 'a' && *b <= 'z') && !(*b >= 'A' && *b <= 'Z') &&
		    !(*b >= '0' && *b <= '9') && !strchr("-_.", *b))
			return false;
	return true;
}

/* Every '/'-separated segment names one directory level on disk, so none
 * may be empty (a//b would be a/b), "." or "..", or longer than NAME_MAX. */
static const char *bad_segment(const char *object)
{
	const char *seg = object;

	for (;;) {
		size_t len = strcspn(seg, "/");

		if (len == 0)
			return "an empty path segment";
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "a '.' or '..' segment";
		if (len > NAME_MAX)
			return "a segment longer than NAME_MAX";
		if (!seg[len])
			return NULL;
		seg += len + 1;
	}
}

int object_name_parse(const char *raw_path, struct object_name *n, struct reply_error *e)
{
	static const char prefix[] = "/v1/objects/";
	const char *bucket = raw_path + sizeof(prefix) - 1;
	const char *slash;
	const char *why;

	if (strncmp(raw_path, prefix, sizeof(prefix) - 1) != 0)
		return reply_fail(e, 400, "not an object path: %s", raw_path);
	slash = strchr(bucket, '/');
	if (percent_decode(bucket, slash ? (size_t)(slash - bucket) : strlen(bucket),
			   n->bucket, sizeof(n->bucket)) < 0 || !valid_bucket(n->bucket))
		return reply_fail(e, 400, "invalid bucket name in %s", raw_path);
	if (!slash || !slash[1])
		return reply_fail(e, 400, "missing object name in %s", raw_path);
	if (percent_decode(slash + 1, strlen(slash + 1), n->object, sizeof(n->object)) < 0)
		return reply_fail(e, 400, "invalid object name (bad escape, NUL or too long) in %s",
				  raw_path);
	why = bad_segment(n->object);
	if (why)
		return reply_fail(e, 400, "invalid object name %s: it has %s", raw_path, why);
	return 0;
}

/* ---- object metadata ------------------------------------------------------------ */

static int meta_path(const struct store *s, ino_t ino, char *out)
{
	return store_path(out, "%s/meta/%ju", s->sys, (uintmax_t)ino);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The version and checksum recorded for the file st describes, if the
 * record is about this very file (same size and mtime): true. */
static bool meta_read(const struct store *s, const struct stat *st, uint64_t *version,
		      uint64_t *cksum)
{
	char path[PATH_MAX];
	uint64_t size;
	int64_t mtime;
	FILE *f;
	bool ok;

	if (meta_path(s, st->st_ino, path) < 0 || !(f = fopen(path, "re")))
		return false;
	ok = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNx64, version, &size, &mtime,
		    cksum) == 4 && size == (uint64_t)st->st_size && mtime == mtime_ns(st);
	fclose(f);
	return ok;
}

static int meta_write(const struct store *s, const struct stat *st, uint64_t version,
		      uint64_t cksum)
{
	char path[PATH_MAX];
	FILE *f;

	if (meta_path(s, st->st_ino, path) < 0 || !(f = fopen(path, "we")))
		return -1;
	fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRId64 " %016" PRIx64 "\n", version,
		(uint64_t)st->st_size, mtime_ns(st), cksum);
	return fclose(f) == 0 ? 0 : -1;
}

/* XXH64 of a whole file, for one put there by hand (no metadata). */
static int hash_file(int fd, uint64_t *cksum)
{
	XXH64_state_t *state = XXH64_createState();
	char *buf = malloc(STORE_COPY_BUFFER);
	off_t at = 0;
	ssize_t got = 1;

	if (state && buf) {
		XXH64_reset(state, 0);
		while ((got = pread(fd, buf, STORE_COPY_BUFFER, at)) > 0 || (got < 0 && errno == EINTR))
			if (got > 0) {
				XXH64_update(state, buf, (size_t)got);
				at += got;
			}
		*cksum = XXH64_digest(state);
	}
	free(buf);
	XXH64_freeState(state);
	return state && buf && got == 0 ? 0 : -1;
}

/* ---- objects -------------------------------------------------------------------- */

static int not_found(const struct object_name *n, struct reply_error *e)
{
	return reply_fail(e, 404, "ais://%s/%s does not exist", n->bucket, n->object);
}

int store_object_open(struct store *s, const struct object_name *n,
		      struct object_info *info, struct reply_error *e)
{
	char path[PATH_MAX];
	struct stat st;
	bool known;
	int lock, error;

	info->fd = -1;
	if (object_path(s, n, path) < 0)
		return reply_fail(e, 400, "object name too long");
	/* Open and metadata under one lock: a commit renames and records
	 * under it, so the two always describe the same version. */
	lock = store_lock(s, "lock", LOCK_SH);
	if (lock < 0)
		return reply_fail(e, 500, "lock the store: %s", strerror(errno));
	info->fd = open(path, O_RDONLY | O_CLOEXEC);
	error = errno;
	if (info->fd >= 0 && (fstat(info->fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(info->fd);
		info->fd = -1;
		error = ENOENT; /* a directory: other objects are named under it */
	}
	known = info->fd >= 0 && meta_read(s, &st, &info->version, &info->cksum);
	close(lock);
	if (info->fd < 0)
		return error == ENOENT || error == ENOTDIR
			? not_found(n, e) : reply_fail(e, 500, "open %s: %s", path, strerror(error));
	info->size = (uint64_t)st.st_size;
	if (!known) {
		info->version = 1;
		if (hash_file(info->fd, &info->cksum) < 0) {
			close(info->fd);
			info->fd = -1;
			return reply_fail(e, 500, "read %s: %s", path, strerror(errno));
		}
	}
	return 0;
}

/* Remove the object's now empty parent directories, up to the bucket's. */
static void remove_empty_parents(const struct store *s, const struct object_name *n, char *path)
{
	size_t floor = strlen(s->root) + 1 + strlen(n->bucket);
	char *slash;

	while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > floor) {
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
}

int store_object_delete(struct store *s, const struct object_name *n, struct reply_error *e)
{
	char path[PATH_MAX], meta[PATH_MAX];
	struct stat st;
	int lock, rc = 0;

	if (object_path(s, n, path) < 0)
		return reply_fail(e, 400, "object name too long");
	lock = store_lock(s, "lock", LOCK_EX);
	if (lock < 0)
		return reply_fail(e, 500, "lock the store: %s", strerror(errno));
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = not_found(n, e);
	} else if (unlink(path) < 0) {
		rc = reply_fail(e, 500, "unlink %s: %s", path, strerror(errno));
	} else {
		if (meta_path(s, st.st_ino, meta) == 0)
			unlink(meta);
		remove_empty_parents(s, n, path);
	}
	close(lock);
	return rc;
}

int store_temp_create(struct store *s, struct store_temp *t, struct reply_error *e)
{
	static atomic_uint_fast64_t serial;
	uint32_t salt = 0;

	t->fd = -1;
	t->hash = NULL;
	t->size = 0;
	if (getrandom(&salt, sizeof(salt), 0) < 0)
		salt = (uint32_t)rand();
	if (store_path(t->path, "%s/tmp/%ld.%" PRIuFAST64 ".%08" PRIx32, s->sys, (long)getpid(),
			atomic_fetch_add(&serial, 1), salt) < 0) {
		t->path[0] = '\0';
		return reply_fail(e, 500, "store path too long");
	}
	t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	t->hash = XXH64_createState();
	if (t->fd < 0 || !t->hash) {
		reply_fail(e, 500, "create %s: %s", t->path, strerror(errno));
		store_temp_discard(t);
		return -1;
	}
	XXH64_reset(t->hash, 0);
	return 0;
}

int store_temp_write(struct store_temp *t, const void *buf, size_t n, struct reply_error *e)
{
	const char *p = buf;

	XXH64_update(t->hash, buf, n);
	t->size += n;
	while (n > 0) {
		ssize_t done = write(t->fd, p, n);

		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return reply_fail(e, 500, "write %s: %s", t->path, strerror(errno));
		p += done;
		n -= (size_t)done;
	}
	return 0;
}

void store_temp_discard(struct store_temp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->path[0])
		unlink(t->path);
	XXH64_freeState(t->hash);
	t->fd = -1;
	t->path[0] = '\0';
	t->hash = NULL;
}

int store_temp_close(struct store_temp *t, struct stat *st, struct reply_error *e)
{
	int rc = fstat(t->fd, st);

	if (close(t->fd) < 0)
		rc = -1;
	t->fd = -1;
	return rc < 0 ? reply_fail(e, 500, "close %s: %s", t->path, strerror(errno)) : 0;
}

/* mkdir -p the object's parent directories.  A parent that is an object
 * already is a conflict: that name cannot also be a directory. */
static int make_parents(const struct store *s, const struct object_name *n, const char *path,
			struct reply_error *e)
{
	char dir[PATH_MAX];
	size_t from = strlen(s->root) + 1;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *slash = strchr(dir + from, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return errno == ENOTDIR
				? reply_fail(e, 409, "ais://%s/%s: a parent name is an object",
					     n->bucket, n->object)
				: reply_fail(e, 500, "mkdir %s: %s", dir, strerror(errno));
		*slash = '/';
	}
	return 0;
}

/* The version of what is at path now (0: nothing), under the store lock.
 * A file put there by hand counts as version 1. */
static int current_version(const struct store *s, const struct object_name *n, const char *path,
			   struct stat *old, uint64_t *version, struct reply_error *e)
{
	uint64_t ignored;

	*version = 0;
	if (lstat(path, old) < 0) {
		old->st_ino = 0;
		return errno == ENOENT ? 0 : errno == ENOTDIR
			? reply_fail(e, 409, "ais://%s/%s: a parent name is an object", n->bucket, n->object)
			: reply_fail(e, 500, "stat %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(old->st_mode))
		return reply_fail(e, 409, "ais://%s/%s: other objects are named under it",
				  n->bucket, n->object);
	if (!meta_read(s, old, version, &ignored))
		*version = 1;
	return 0;
}

int store_commit(struct store *s, struct store_temp *t, const struct object_name *n,
		 struct object_info *info, struct reply_error *e)
{
	char path[PATH_MAX], meta[PATH_MAX];
	struct stat st, old;
	uint64_t cksum = XXH64_digest(t->hash);
	int lock, rc = -1;

	if (object_path(s, n, path) < 0) {
		store_temp_discard(t);
		return reply_fail(e, 400, "object name too long");
	}
	if (store_temp_close(t, &st, e) < 0) {
		store_temp_discard(t);
		return -1;
	}
	lock = store_lock(s, "lock", LOCK_EX);
	if (lock < 0) {
		reply_fail(e, 500, "lock the store: %s", strerror(errno));
	} else if (make_parents(s, n, path, e) == 0 &&
		   current_version(s, n, path, &old, &info->version, e) == 0) {
		info->version++;
		if (meta_write(s, &st, info->version, cksum) < 0 || rename(t->path, path) < 0) {
			reply_fail(e, 500, "install %s: %s", path, strerror(errno));
			if (meta_path(s, st.st_ino, meta) == 0)
				unlink(meta);
		} else {
			t->path[0] = '\0';
			if (old.st_ino && old.st_ino != st.st_ino && meta_path(s, old.st_ino, meta) == 0)
				unlink(meta);
			rc = 0;
		}
	}
	if (lock >= 0)
		close(lock);
	store_temp_discard(t);
	info->fd = -1;
	info->size = (uint64_t)st.st_size;
	info->cksum = cksum;
	return rc;
}
