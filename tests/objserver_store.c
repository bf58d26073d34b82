/*
 * objserver_store.c - the store directory of tests/objserver: objects with
 * their versions and checksums, multipart uploads, and the counters and
 * faults all nodes of a cluster share.  The layout is in objserver.h.
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

#define COPY_BUFFER_SIZE (1 << 20)
#define BUCKET_NAME_MAX 64
#define UPLOAD_ID_BYTES 8
#define FAULT_SLOTS 16
#define STATE_MAGIC UINT64_C(0x6f626a7374617465) /* "objstate" */

/* ---- paths ----------------------------------------------------------------------- */

/* snprintf into a PATH_MAX buffer: 0, or -1 if it did not fit. */
static int path_format(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_format(char *out, const char *fmt, ...)
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
	return path_format(out, "%s/%s/%s", s->root, n->bucket, n->object);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *path)
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
		    path_format(path, "%s/%s", dir, entry->d_name) == 0)
			remove_tree(path);
	}
	if (d)
		closedir(d);
}

int store_open(struct store *s, const char *root)
{
	static const char *const dirs[] = { "", "/meta", "/uploads", "/tmp", "/trash" };
	char path[PATH_MAX];

	if (snprintf(s->root, sizeof(s->root), "%s", root) >= (int)sizeof(s->root) ||
	    path_format(s->sys, "%s/.objserver", root) < 0) {
		fprintf(stderr, "objserver: store path too long: %s\n", root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (path_format(path, "%s%s", s->sys, dirs[i]) < 0 ||
		    (mkdir(path, 0755) < 0 && errno != EEXIST)) {
			fprintf(stderr, "objserver: mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	if (path_format(path, "%s/tmp", s->sys) == 0)
		sweep_dead(path);
	if (path_format(path, "%s/trash", s->sys) == 0)
		sweep_dead(path);
	return 0;
}

/* flock name (a file in .objserver) shared or exclusive; the fd to close to
 * let go, or -1. */
static int lock_take(const struct store *s, const char *name, int how)
{
	char path[PATH_MAX];
	int fd;

	if (path_format(path, "%s/%s", s->sys, name) < 0)
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
	return path_format(out, "%s/meta/%ju", s->sys, (uintmax_t)ino);
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
	char *buf = malloc(COPY_BUFFER_SIZE);
	off_t at = 0;
	ssize_t got = 1;

	if (state && buf) {
		XXH64_reset(state, 0);
		while ((got = pread(fd, buf, COPY_BUFFER_SIZE, at)) > 0 || (got < 0 && errno == EINTR))
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
	lock = lock_take(s, "lock", LOCK_SH);
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
	lock = lock_take(s, "lock", LOCK_EX);
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
	if (path_format(t->path, "%s/tmp/%ld.%" PRIuFAST64 ".%08" PRIx32, s->sys, (long)getpid(),
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

/* Close the temp's file, keeping its path: what it holds is final. */
static int temp_finish(struct store_temp *t, struct stat *st, struct reply_error *e)
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
	if (temp_finish(t, &st, e) < 0) {
		store_temp_discard(t);
		return -1;
	}
	lock = lock_take(s, "lock", LOCK_EX);
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

/* ---- multipart uploads ------------------------------------------------------------ */

static int upload_dir(const struct store *s, const char *id, char *out)
{
	return path_format(out, "%s/uploads/%s", s->sys, id);
}

static int part_path(const struct store *s, const char *id, int32_t part, char *out)
{
	return path_format(out, "%s/uploads/%s/part-%010" PRId32, s->sys, id, part);
}

/* Upload IDs are ours, made of [0-9a-f]; anything else is not one, and
 * must not reach a path. */
static bool valid_upload_id(const char *id)
{
	size_t len = strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_");

	return len > 0 && len <= UPLOAD_ID_MAX && !id[len];
}

int upload_create(struct store *s, const struct object_name *n, char id[UPLOAD_ID_MAX + 1],
		  struct reply_error *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	size_t bucket_len = strlen(n->bucket) + 1, object_len = strlen(n->object);
	unsigned char bytes[UPLOAD_ID_BYTES];
	int fd, attempts = 0;

	do {
		if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
			return reply_fail(e, 500, "getrandom: %s", strerror(errno));
		for (size_t i = 0; i < sizeof(bytes); i++)
			sprintf(id + 2 * i, "%02x", bytes[i]);
		if (upload_dir(s, id, dir) < 0)
			return reply_fail(e, 500, "store path too long");
	} while (mkdir(dir, 0755) < 0 && errno == EEXIST && ++attempts < 5);
	if (path_format(path, "%s/object", dir) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return reply_fail(e, 500, "create upload %s: %s", dir, strerror(errno));
	if (write(fd, n->bucket, bucket_len) != (ssize_t)bucket_len ||
	    write(fd, n->object, object_len) != (ssize_t)object_len) {
		close(fd);
		remove_tree(dir);
		return reply_fail(e, 500, "write %s: %s", path, strerror(errno));
	}
	close(fd);
	return 0;
}

/* The object an upload's "object" file (bucket, NUL, object) names; NULL
 * if owner[0..len) is not such a record. */
static const char *owner_object(const char *owner, size_t len)
{
	const char *nul = memchr(owner, '\0', len);

	return nul ? nul + 1 : NULL;
}

/* The upload's "object" file, open, after checking that the upload exists
 * and is one of object n; with how (LOCK_SH, LOCK_EX, or 0) taken on it and
 * the upload still there once it is.  -1 with e (400 or 404) otherwise. */
static int upload_open(const struct store *s, const char *id, const struct object_name *n,
		       int how, struct reply_error *e)
{
	char path[PATH_MAX], owner[NAME_MAX + 1 + PATH_MAX];
	struct stat held, now;
	ssize_t len;
	int fd;

	if (!valid_upload_id(id))
		return reply_fail(e, 400, "invalid upload ID \"%s\"", id);
	if (path_format(path, "%s/uploads/%s/object", s->sys, id) < 0)
		return reply_fail(e, 500, "store path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return reply_fail(e, 404, "upload \"%s\" not found", id);
	len = read(fd, owner, sizeof(owner) - 1);
	owner[len > 0 ? len : 0] = '\0';
	if (len < 0 || !owner_object(owner, (size_t)len) || strcmp(owner, n->bucket) != 0 ||
	    strcmp(owner_object(owner, (size_t)len), n->object) != 0) {
		close(fd);
		return reply_fail(e, 404, "upload \"%s\" not found for ais://%s/%s", id, n->bucket,
				  n->object);
	}
	while (how && flock(fd, how) < 0 && errno == EINTR)
		;
	/* Completed or aborted while we waited: its directory has moved. */
	if (how && (fstat(fd, &held) < 0 || stat(path, &now) < 0 || held.st_ino != now.st_ino)) {
		close(fd);
		return reply_fail(e, 404, "upload \"%s\" not found", id);
	}
	return fd;
}

int upload_note_attempt(struct store *s, const char *id, const struct object_name *n,
			int32_t part, bool *retry, struct reply_error *e)
{
	char path[PATH_MAX];
	int fd = upload_open(s, id, n, 0, e), seen;

	if (fd < 0)
		return -1;
	close(fd);
	if (path_format(path, "%s/uploads/%s/seen-%" PRId32, s->sys, id, part) < 0)
		return reply_fail(e, 500, "store path too long");
	seen = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	*retry = seen < 0 && errno == EEXIST;
	if (seen >= 0)
		close(seen);
	return 0;
}

int upload_put_part(struct store *s, const char *id, const struct object_name *n,
		    int32_t part, struct store_temp *t, struct reply_error *e)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc = -1;

	if (temp_finish(t, &st, e) < 0) {
		store_temp_discard(t);
		return -1;
	}
	/* Shared: parts may land side by side, but not while the upload is
	 * being completed or aborted. */
	fd = upload_open(s, id, n, LOCK_SH, e);
	if (fd >= 0) {
		if (part_path(s, id, part, path) < 0)
			reply_fail(e, 500, "store path too long");
		else if (rename(t->path, path) < 0)
			reply_fail(e, 500, "rename %s: %s", path, strerror(errno));
		else
			rc = 0;
		if (rc == 0)
			t->path[0] = '\0';
		close(fd);
	}
	store_temp_discard(t);
	return rc;
}

static int compare_parts(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* Part files in the upload's directory; -1 on error. */
static long count_parts(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	long count = 0;

	if (!d)
		return -1;
	while ((entry = readdir(d)))
		count += strncmp(entry->d_name, "part-", 5) == 0;
	closedir(d);
	return count;
}

/* AIStore's rules (ais/tgtmpt.go, _checkParts): the list is exactly
 * 1..count once sorted, and covers every part uploaded.  A listed part that
 * was never uploaded is a 400 here (AIStore says 501, partial completion). */
static int check_parts(const struct store *s, const char *id, int32_t *parts, size_t count,
		       struct reply_error *e)
{
	char path[PATH_MAX];
	long uploaded;

	if (count == 0)
		return reply_fail(e, 400, "nil parts list");
	qsort(parts, count, sizeof(*parts), compare_parts);
	for (size_t i = 0; i < count; i++)
		if (parts[i] != (int32_t)(i + 1))
			return reply_fail(e, 400, "parts must be exactly 1..%zu: got %" PRId32
					  " at position %zu", count, parts[i], i);
	for (size_t i = 0; i < count; i++)
		if (part_path(s, id, parts[i], path) < 0 || access(path, F_OK) < 0)
			return reply_fail(e, 400, "upload \"%s\": part %" PRId32 " was not uploaded",
					  id, parts[i]);
	if (upload_dir(s, id, path) < 0 || (uploaded = count_parts(path)) < 0)
		return reply_fail(e, 500, "list upload \"%s\": %s", id, strerror(errno));
	if ((size_t)uploaded != count)
		return reply_fail(e, 501, "partial completion is not allowed: requested %zu parts, have %ld",
				  count, uploaded);
	return 0;
}

/* Append part file path to t. */
static int append_part(struct store_temp *t, const char *path, char *buf, struct reply_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0;

	if (fd < 0)
		return reply_fail(e, 500, "open %s: %s", path, strerror(errno));
	while ((got = read(fd, buf, COPY_BUFFER_SIZE)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || store_temp_write(t, buf, (size_t)got, e) < 0)
			break;
	}
	close(fd);
	return got == 0 ? 0 : got < 0 ? reply_fail(e, 500, "read %s: %s", path, strerror(errno)) : -1;
}

/* Move the upload's directory out of uploads/ at once (later requests for
 * it get 404), then delete it. */
static void upload_remove(const struct store *s, const char *id)
{
	char dir[PATH_MAX], trash[PATH_MAX];

	if (upload_dir(s, id, dir) == 0 &&
	    path_format(trash, "%s/trash/%ld.%s", s->sys, (long)getpid(), id) == 0 &&
	    rename(dir, trash) == 0)
		remove_tree(trash);
}

int upload_complete(struct store *s, const char *id, const struct object_name *n,
		    int32_t *parts, size_t count, struct object_info *info,
		    struct reply_error *e)
{
	char path[PATH_MAX];
	struct store_temp t;
	char *buf = NULL;
	int fd = upload_open(s, id, n, LOCK_EX, e), rc = -1;

	if (fd < 0)
		return -1;
	if (check_parts(s, id, parts, count, e) == 0 && store_temp_create(s, &t, e) == 0) {
		buf = malloc(COPY_BUFFER_SIZE);
		rc = buf ? 0 : reply_fail(e, 500, "out of memory");
		for (size_t i = 0; i < count && rc == 0; i++)
			rc = part_path(s, id, parts[i], path) < 0
				? reply_fail(e, 500, "store path too long") : append_part(&t, path, buf, e);
		if (rc == 0)
			rc = store_commit(s, &t, n, info, e);
		else
			store_temp_discard(&t);
		if (rc == 0)
			upload_remove(s, id);
	}
	free(buf);
	close(fd);
	return rc;
}

int upload_abort(struct store *s, const char *id, const struct object_name *n,
		 struct reply_error *e)
{
	int fd = upload_open(s, id, n, LOCK_EX, e);

	if (fd < 0)
		return -1;
	upload_remove(s, id);
	close(fd);
	return 0;
}

/* Entries of dir, "." and ".." left out; 0 if it cannot be read. */
static long count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	long count = 0;

	while (d && (entry = readdir(d)))
		count += strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0;
	if (d)
		closedir(d);
	return count;
}

/* "ID BUCKET/OBJECT parts=N\n" for one upload, appended to out. */
static void describe_upload(const struct store *s, const char *id, FILE *out, long *parts)
{
	char dir[PATH_MAX], path[PATH_MAX], owner[NAME_MAX + 1 + PATH_MAX];
	const char *object = NULL;
	size_t len = 0;
	long count;
	FILE *f;

	if (upload_dir(s, id, dir) < 0 || path_format(path, "%s/object", dir) < 0)
		return;
	f = fopen(path, "re");
	if (f) {
		len = fread(owner, 1, sizeof(owner) - 1, f);
		fclose(f);
	}
	owner[len] = '\0';
	object = owner_object(owner, len);
	count = count_parts(dir);
	*parts += count > 0 ? count : 0;
	fprintf(out, "%s %s/%s parts=%ld\n", id, object ? owner : "?", object ? object : "?",
		count);
}

char *store_leftovers(struct store *s)
{
	char dir[PATH_MAX], *listing = NULL, *text = NULL;
	size_t listing_len = 0;
	long uploads = 0, parts = 0, tmp = 0;
	FILE *out = open_memstream(&listing, &listing_len);
	struct dirent *entry;
	DIR *d;

	if (!out || path_format(dir, "%s/uploads", s->sys) < 0 || !(d = opendir(dir))) {
		if (out)
			fclose(out);
		free(listing);
		return NULL;
	}
	while ((entry = readdir(d)))
		if (entry->d_name[0] != '.') {
			uploads++;
			describe_upload(s, entry->d_name, out, &parts);
		}
	closedir(d);
	fclose(out);
	if (path_format(dir, "%s/tmp", s->sys) == 0)
		tmp += count_entries(dir);
	if (path_format(dir, "%s/trash", s->sys) == 0)
		tmp += count_entries(dir);
	if (asprintf(&text, "uploads=%ld parts=%ld tmp=%ld\n%s", uploads, parts, tmp,
		     listing ? listing : "") < 0)
		text = NULL;
	free(listing);
	return text;
}

/* ---- counters and faults ----------------------------------------------------------- */

const char *const counter_names[COUNTERS] = {
	[COUNT_MPT_UPLOAD] = "mpt-upload", [COUNT_PART] = "part", [COUNT_COMPLETE] = "complete",
	[COUNT_ABORT] = "abort", [COUNT_PUT] = "put", [COUNT_GET] = "get", [COUNT_HEAD] = "head",
	[COUNT_DELETE] = "delete", [COUNT_PART_RETRY] = "part-retry",
	[COUNT_REDIRECT] = "redirect", [COUNT_FAULT_503] = "fault-503",
	[COUNT_FAULT_CUT] = "fault-cut",
};

/* The order /_ctl/stats prints them in. */
static const enum counter stats_order[COUNTERS] = {
	COUNT_MPT_UPLOAD, COUNT_PART, COUNT_PART_RETRY, COUNT_COMPLETE, COUNT_ABORT,
	COUNT_PUT, COUNT_GET, COUNT_HEAD, COUNT_DELETE, COUNT_REDIRECT,
	COUNT_FAULT_503, COUNT_FAULT_CUT,
};

struct armed_fault {
	uint32_t kind;
	uint32_t action;     /* enum fault_action; FAULT_NONE: a free slot */
	uint64_t countdown;  /* requests of kind until it fires, this one included */
	uint64_t cut_after;
};

/* The content of .objserver/state. */
struct shared_state {
	uint64_t magic;
	uint64_t counters[COUNTERS];
	struct armed_fault faults[FAULT_SLOTS];
};

/* Lock the state file and read it (zeroed if new): the fd, or -1. */
static int state_load(const struct store *s, struct shared_state *state)
{
	int fd = lock_take(s, "state", LOCK_EX);

	if (fd < 0)
		return -1;
	if (pread(fd, state, sizeof(*state), 0) != (ssize_t)sizeof(*state) ||
	    state->magic != STATE_MAGIC) {
		memset(state, 0, sizeof(*state));
		state->magic = STATE_MAGIC;
	}
	return fd;
}

/* Write the state back and unlock it: 0 or -1. */
static int state_store(int fd, const struct shared_state *state)
{
	int rc = pwrite(fd, state, sizeof(*state), 0) == (ssize_t)sizeof(*state) ? 0 : -1;

	close(fd);
	return rc;
}

struct fault_hit state_count(struct store *s, enum counter kind, bool retry)
{
	struct fault_hit hit = { FAULT_NONE, 0 };
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return hit;
	state.counters[kind]++;
	if (retry)
		state.counters[COUNT_PART_RETRY]++;
	for (int i = 0; i < FAULT_SLOTS; i++) {
		struct armed_fault *f = &state.faults[i];

		if (f->action == FAULT_NONE || f->kind != (uint32_t)kind)
			continue;
		/* Two faults due on one request: the second waits for the next. */
		if (--f->countdown > 0 || hit.action != FAULT_NONE) {
			f->countdown += f->countdown == 0;
			continue;
		}
		hit.action = (enum fault_action)f->action;
		hit.cut_after = f->cut_after;
		state.counters[hit.action == FAULT_503 ? COUNT_FAULT_503 : COUNT_FAULT_CUT]++;
		memset(f, 0, sizeof(*f));
	}
	state_store(fd, &state);
	return hit;
}

int state_arm_fault(struct store *s, enum counter kind, uint64_t nth, enum fault_action action,
		    uint64_t cut_after, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	for (int i = 0; i < FAULT_SLOTS; i++) {
		if (state.faults[i].action != FAULT_NONE)
			continue;
		state.faults[i] = (struct armed_fault){ (uint32_t)kind, action, nth, cut_after };
		return state_store(fd, &state) == 0 ? 0 : reply_fail(e, 500, "write the state: %s",
								       strerror(errno));
	}
	close(fd);
	return reply_fail(e, 409, "all %d fault slots are armed", FAULT_SLOTS);
}

int state_reset(struct store *s, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	memset(state.counters, 0, sizeof(state.counters));
	memset(state.faults, 0, sizeof(state.faults));
	return state_store(fd, &state) == 0 ? 0 : reply_fail(e, 500, "write the state: %s",
							       strerror(errno));
}

int state_format(struct store *s, char *out, size_t n, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);
	size_t used = 0;

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	close(fd);
	for (int i = 0; i < COUNTERS && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%s=%" PRIu64, i ? " " : "",
					 counter_names[stats_order[i]], state.counters[stats_order[i]]);
	if (used + 1 < n)
		out[used++] = '\n', out[used] = '\0';
	return 0;
}
