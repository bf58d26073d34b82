/*
 * objserver_store.c - the store directory of tests/objserver: its layout
 * (objserver.h), object names, manifests, and objects with their versions,
 * checksums and chunks.  Multipart uploads (objserver_upload.c) and the
 * shared counters and faults (objserver_state.c) build on the helpers here.
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
#define MANIFEST_MAGIC "objserver-object 1"
/* More chunks than AIStore allows (core/ufest.go: 9999): a broken manifest. */
#define MANIFEST_CHUNKS_MAX 100000

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

int store_chunk_dir(const struct store *s, const char *id, char *out)
{
	return store_path(out, "%s/chunks/%s", s->sys, id);
}

int store_part_path(char *out, const char *dir, uint64_t number)
{
	return store_path(out, "%s/part-%010" PRIu64, dir, number);
}

/* A fresh name in tmp/, PID.SEQ.RANDOM, so that a node can tell what is
 * whose when it sweeps. */
static int temp_path(const struct store *s, char *out)
{
	static atomic_uint_fast64_t serial;
	uint32_t salt = 0;

	if (getrandom(&salt, sizeof(salt), 0) < 0)
		salt = (uint32_t)rand();
	return store_path(out, "%s/tmp/%ld.%" PRIuFAST64 ".%08" PRIx32, s->sys, (long)getpid(),
			  atomic_fetch_add(&serial, 1), salt);
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

/* ---- IDs and owners ---------------------------------------------------------------- */

int store_random_id(char id[2 * STORE_ID_BYTES + 1])
{
	unsigned char bytes[STORE_ID_BYTES];

	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		return -1;
	for (size_t i = 0; i < sizeof(bytes); i++)
		sprintf(id + 2 * i, "%02x", bytes[i]);
	return 0;
}

bool store_valid_id(const char *id)
{
	size_t len = strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_");

	return len > 0 && len <= UPLOAD_ID_MAX && !id[len];
}

int store_owner_write(const char *dir, const struct object_name *n)
{
	char path[PATH_MAX];
	size_t bucket_len = strlen(n->bucket) + 1, object_len = strlen(n->object);
	int fd, rc;

	if (store_path(path, "%s/object", dir) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	rc = write(fd, n->bucket, bucket_len) == (ssize_t)bucket_len &&
	     write(fd, n->object, object_len) == (ssize_t)object_len ? 0 : -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

int store_owner_read(int fd, struct object_name *n)
{
	char owner[NAME_MAX + 1 + PATH_MAX];
	ssize_t len = pread(fd, owner, sizeof(owner) - 1, 0);
	const char *nul = len > 0 ? memchr(owner, '\0', (size_t)len) : NULL;

	if (!nul || nul - owner > NAME_MAX)
		return -1;
	owner[len] = '\0';
	memcpy(n->bucket, owner, (size_t)(nul - owner) + 1);
	snprintf(n->object, sizeof(n->object), "%s", nul + 1);
	return 0;
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

/* ---- manifests ------------------------------------------------------------------ */

/* An object's manifest, as objserver.h lays it out. */
struct manifest {
	struct object_info info;
	char chunks[UPLOAD_ID_MAX + 1];   /* the chunk directory's ID */
	uint64_t *sizes;                   /* malloc'd, count of them; or NULL */
	size_t count;
};

/* Parse the manifest in f, the chunks' sizes too if with_sizes: 0, or -1
 * if f holds no valid one. */
static int manifest_parse(FILE *f, struct manifest *m, bool with_sizes)
{
	uint64_t count, total = 0;

	m->sizes = NULL;
	if (fscanf(f, MANIFEST_MAGIC " version %" SCNu64 " size %" SCNu64 " xxh64 %" SCNx64
		   " chunks %64s %" SCNu64, &m->info.version, &m->info.size, &m->info.cksum,
		   m->chunks, &count) != 5 || !store_valid_id(m->chunks) || count == 0 ||
	    count > MANIFEST_CHUNKS_MAX)
		return -1;
	m->count = (size_t)count;
	if (!with_sizes)
		return 0;
	m->sizes = malloc(m->count * sizeof(*m->sizes));
	for (size_t i = 0; m->sizes && i < m->count; i++) {
		if (fscanf(f, "%" SCNu64, &m->sizes[i]) != 1 || m->sizes[i] > UINT64_MAX - total)
			break;
		total += m->sizes[i];
		if (i + 1 == m->count && total == m->info.size)
			return 0;
	}
	free(m->sizes);
	m->sizes = NULL;
	return -1;
}

/* The manifest at path into m (see manifest_parse): 0, or why not: ENOENT,
 * ENOTDIR (a parent is an object), EISDIR (not a regular file: other
 * objects are named under it), EINVAL (not a manifest), or another errno. */
static int manifest_read(const char *path, struct manifest *m, bool with_sizes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error;
	struct stat st;
	FILE *f;

	if (fd < 0)
		return errno;
	error = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
	if (error) {
		close(fd);
		return error;
	}
	f = fdopen(fd, "r");
	if (!f) {
		error = errno;
		close(fd);
		return error;
	}
	error = manifest_parse(f, m, with_sizes) == 0 ? 0 : EINVAL;
	fclose(f);
	return error;
}

/* A manifest for v as version info into a new temp file t (closed, its
 * path kept).  0, or -1 with e. */
static int manifest_write(struct store *s, struct store_temp *t, const struct object_info *info,
			  const struct new_version *v, struct reply_error *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct stat st;
	int rc;

	if (!out)
		return reply_fail(e, 500, "out of memory");
	fprintf(out, MANIFEST_MAGIC "\nversion %" PRIu64 "\nsize %" PRIu64 "\nxxh64 %016" PRIx64
		"\nchunks %s %zu\n", info->version, info->size, info->cksum, v->id, v->count);
	for (size_t i = 0; i < v->count; i++)
		fprintf(out, "%" PRIu64 "\n", v->sizes[i]);
	if (fclose(out) != 0) {
		free(text);
		return reply_fail(e, 500, "out of memory");
	}
	rc = store_temp_create(s, t, false, e);
	if (rc == 0)
		rc = store_temp_write(t, text, len, e);
	if (rc == 0)
		rc = store_temp_close(t, &st, e);
	free(text);
	return rc;
}

/* ---- chunk directories ------------------------------------------------------------ */

/* Whether chunks/id is the chunk directory its owner's manifest names. */
static bool chunks_in_use(const struct store *s, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct object_name n;
	struct manifest m;
	bool owned;
	int fd;

	if (store_chunk_dir(s, id, dir) < 0 || store_path(path, "%s/object", dir) < 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	owned = fd >= 0 && store_owner_read(fd, &n) == 0;
	if (fd >= 0)
		close(fd);
	return owned && object_path(s, &n, path) == 0 && manifest_read(path, &m, false) == 0 &&
	       strcmp(m.chunks, id) == 0;
}

long store_orphaned_chunks(struct store *s, bool remove)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *entry;
	long orphans = 0;
	int lock;
	DIR *d;

	/* Commits rename chunk directories in and manifests over under the
	 * exclusive lock: under ours, none is half done. */
	if (store_path(dir, "%s/chunks", s->sys) < 0 ||
	    (lock = store_lock(s, "lock", remove ? LOCK_EX : LOCK_SH)) < 0)
		return -1;
	d = opendir(dir);
	while (d && (entry = readdir(d))) {
		if (entry->d_name[0] == '.' || chunks_in_use(s, entry->d_name))
			continue;
		orphans++;
		if (remove && store_path(path, "%s/%s", dir, entry->d_name) == 0)
			store_remove_tree(path);
	}
	if (d)
		closedir(d);
	close(lock);
	return d ? orphans : -1;
}

/* Move chunks/id to trash/, its path there into trash, for the caller to
 * remove once it lets go of the store lock ("" if it stays: the next node
 * to start removes it). */
static void retire_chunks(const struct store *s, const char *id, char *trash)
{
	char dir[PATH_MAX];

	if (store_chunk_dir(s, id, dir) < 0 ||
	    store_path(trash, "%s/trash/%ld.%s", s->sys, (long)getpid(), id) < 0 ||
	    rename(dir, trash) < 0)
		trash[0] = '\0';
}

/* ---- the store --------------------------------------------------------------------- */

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
	static const char *const dirs[] = { "", "/chunks", "/uploads", "/tmp", "/trash" };
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
	if (store_orphaned_chunks(s, true) < 0) {
		fprintf(stderr, "objserver: sweep %s/chunks: %s\n", s->sys, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- reading and deleting objects -------------------------------------------------- */

static int not_found(const struct object_name *n, struct reply_error *e)
{
	return reply_fail(e, 404, "ais://%s/%s does not exist", n->bucket, n->object);
}

/* A manifest_read() error as the answer to a reader. */
static int read_failure(const struct object_name *n, int error, struct reply_error *e)
{
	if (error == ENOENT || error == ENOTDIR || error == EISDIR)
		return not_found(n, e);
	if (error == EINVAL)
		return reply_fail(e, 500, "ais://%s/%s: broken manifest", n->bucket, n->object);
	return reply_fail(e, 500, "ais://%s/%s: read the manifest: %s", n->bucket, n->object,
			  strerror(error));
}

/* Open the chunks of m that hold bytes [r->from, r->from + r->length), in
 * order, into r->pieces.  0, or -1 with e (r's pieces stay for the caller
 * to close). */
static int open_pieces(const struct store *s, const struct object_name *n,
		       const struct manifest *m, struct object_reader *r, struct reply_error *e)
{
	uint64_t at = 0, end = r->from + r->length;
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;

	r->pieces = malloc(m->count * sizeof(*r->pieces));
	if (!r->pieces || store_chunk_dir(s, m->chunks, dir) < 0)
		return reply_fail(e, 500, "out of memory or path too long");
	for (size_t i = 0; i < m->count && at < end; at += m->sizes[i], i++) {
		uint64_t first = r->from > at ? r->from - at : 0;
		uint64_t last = end - at < m->sizes[i] ? end - at : m->sizes[i];
		int fd;

		if (first >= last)
			continue;
		if (store_part_path(path, dir, i + 1) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return reply_fail(e, 500, "ais://%s/%s: open chunk %zu: %s", n->bucket,
					  n->object, i + 1, strerror(errno));
		r->pieces[r->count++] = (struct file_piece){ fd, (off_t)first, last - first };
		/* A short chunk would end the body early: say so now instead. */
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != m->sizes[i])
			return reply_fail(e, 500, "ais://%s/%s: chunk %zu is not the manifest's size",
					  n->bucket, n->object, i + 1);
	}
	return 0;
}

int store_object_open(struct store *s, const struct object_name *n, choose_bytes_fn *choose,
		      void *arg, struct object_reader *r, struct reply_error *e)
{
	char path[PATH_MAX];
	struct manifest m = { .sizes = NULL };
	int lock, error, rc;

	memset(r, 0, sizeof(*r));
	if (object_path(s, n, path) < 0)
		return reply_fail(e, 400, "object name too long");
	/* The manifest and its chunks under one lock: a commit switches
	 * versions and retires chunks under it, so the chunks opened are the
	 * manifest's, and stay readable however long the answer takes. */
	lock = store_lock(s, "lock", LOCK_SH);
	if (lock < 0)
		return reply_fail(e, 500, "lock the store: %s", strerror(errno));
	error = manifest_read(path, &m, true);
	rc = error ? read_failure(n, error, e) : 0;
	if (rc == 0) {
		r->info = m.info;
		choose(arg, m.info.size, &r->from, &r->length);
		rc = open_pieces(s, n, &m, r, e);
	}
	close(lock);
	free(m.sizes);
	if (rc < 0)
		store_object_close(r);
	return rc;
}

void store_object_close(struct object_reader *r)
{
	for (size_t i = 0; i < r->count; i++)
		close(r->pieces[i].fd);
	free(r->pieces);
	r->pieces = NULL;
	r->count = 0;
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
	char path[PATH_MAX], trash[PATH_MAX] = "";
	struct manifest m;
	int lock, error, rc = 0;

	if (object_path(s, n, path) < 0)
		return reply_fail(e, 400, "object name too long");
	lock = store_lock(s, "lock", LOCK_EX);
	if (lock < 0)
		return reply_fail(e, 500, "lock the store: %s", strerror(errno));
	error = manifest_read(path, &m, false);
	/* A file that is no manifest is removed all the same. */
	if (error && error != EINVAL) {
		rc = read_failure(n, error, e);
	} else if (unlink(path) < 0) {
		rc = reply_fail(e, 500, "unlink %s: %s", path, strerror(errno));
	} else {
		if (!error)
			retire_chunks(s, m.chunks, trash);
		remove_empty_parents(s, n, path);
	}
	close(lock);
	if (trash[0])
		store_remove_tree(trash);
	return rc;
}

/* ---- writing objects ----------------------------------------------------------------- */

int store_temp_create(struct store *s, struct store_temp *t, bool hashed, struct reply_error *e)
{
	t->fd = -1;
	t->hash = NULL;
	t->size = 0;
	if (temp_path(s, t->path) < 0) {
		t->path[0] = '\0';
		return reply_fail(e, 500, "store path too long");
	}
	t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	t->hash = hashed ? XXH64_createState() : NULL;
	if (t->fd < 0 || (hashed && !t->hash)) {
		reply_fail(e, 500, "create %s: %s", t->path, strerror(errno));
		store_temp_discard(t);
		return -1;
	}
	if (hashed)
		XXH64_reset(t->hash, 0);
	return 0;
}

int store_temp_write(struct store_temp *t, const void *buf, size_t n, struct reply_error *e)
{
	const char *p = buf;

	if (t->hash)
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

/* The version at path now (0: nothing), and its chunk directory in
 * old->chunks ("" if none), under the store lock.  A file that is no
 * manifest is replaced as if nothing were there. */
static int current_version(const struct object_name *n, const char *path, struct manifest *old,
			   struct reply_error *e)
{
	int error = manifest_read(path, old, false);

	if (error == ENOENT || error == EINVAL) {
		old->info.version = 0;
		old->chunks[0] = '\0';
		return 0;
	}
	if (error == ENOTDIR)
		return reply_fail(e, 409, "ais://%s/%s: a parent name is an object", n->bucket, n->object);
	if (error == EISDIR)
		return reply_fail(e, 409, "ais://%s/%s: other objects are named under it",
				  n->bucket, n->object);
	return error ? reply_fail(e, 500, "read %s: %s", path, strerror(error)) : 0;
}

int store_commit(struct store *s, const struct object_name *n, const struct new_version *v,
		 struct object_info *info, struct reply_error *e)
{
	char path[PATH_MAX], chunks[PATH_MAX], trash[PATH_MAX] = "";
	struct store_temp manifest = { .fd = -1 };
	struct manifest old;
	int lock, rc = -1;

	info->size = 0;
	for (size_t i = 0; i < v->count; i++)
		info->size += v->sizes[i];
	info->cksum = v->cksum;
	info->version = 0;
	if (object_path(s, n, path) < 0)
		return reply_fail(e, 400, "object name too long");
	if (store_chunk_dir(s, v->id, chunks) < 0)
		return reply_fail(e, 500, "store path too long");
	lock = store_lock(s, "lock", LOCK_EX);
	if (lock < 0)
		return reply_fail(e, 500, "lock the store: %s", strerror(errno));
	if (make_parents(s, n, path, e) == 0 && current_version(n, path, &old, e) == 0) {
		info->version = old.info.version + 1;
		if (manifest_write(s, &manifest, info, v, e) < 0) {
			/* e says why */
		} else if (rename(v->dir, chunks) < 0) {
			reply_fail(e, 500, "rename %s to %s: %s", v->dir, chunks, strerror(errno));
		} else if (rename(manifest.path, path) < 0) {
			/* The switch, and the only step a reader can see. */
			reply_fail(e, 500, "install %s: %s", path, strerror(errno));
			rename(chunks, v->dir);
		} else {
			manifest.path[0] = '\0';
			if (old.chunks[0])
				retire_chunks(s, old.chunks, trash);
			rc = 0;
		}
		store_temp_discard(&manifest);
	}
	close(lock);
	if (trash[0])
		store_remove_tree(trash);
	return rc;
}

/* A new directory in tmp/ for the chunks of one object version of n, its
 * owner recorded.  0, or -1 with e. */
static int make_chunk_dir(struct store *s, const struct object_name *n, char *dir,
			  struct reply_error *e)
{
	if (temp_path(s, dir) < 0)
		return reply_fail(e, 500, "store path too long");
	if (mkdir(dir, 0755) < 0)
		return reply_fail(e, 500, "mkdir %s: %s", dir, strerror(errno));
	if (store_owner_write(dir, n) < 0) {
		reply_fail(e, 500, "write %s/object: %s", dir, strerror(errno));
		store_remove_tree(dir);
		return -1;
	}
	return 0;
}

int store_put(struct store *s, struct store_temp *t, const struct object_name *n,
	      struct object_info *info, struct reply_error *e)
{
	char dir[PATH_MAX], chunk[PATH_MAX], id[2 * STORE_ID_BYTES + 1];
	uint64_t size = 0;
	struct new_version v = { dir, id, &size, 1, XXH64_digest(t->hash) };
	struct stat st;
	int rc = -1;

	if (store_random_id(id) < 0) {
		reply_fail(e, 500, "getrandom: %s", strerror(errno));
	} else if (store_temp_close(t, &st, e) == 0 && make_chunk_dir(s, n, dir, e) == 0) {
		size = (uint64_t)st.st_size;
		if (store_part_path(chunk, dir, 1) < 0 || rename(t->path, chunk) < 0) {
			reply_fail(e, 500, "rename %s: %s", t->path, strerror(errno));
		} else {
			t->path[0] = '\0'; /* the chunk now */
			rc = store_commit(s, n, &v, info, e);
		}
		if (rc < 0)
			store_remove_tree(dir);
	}
	store_temp_discard(t);
	return rc;
}
