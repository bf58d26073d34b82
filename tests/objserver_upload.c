/*
 * objserver_upload.c - multipart uploads in the store of tests/objserver:
 * start, parts (a resent part replaces the first; each part is hashed into
 * the upload's running XXH64 once those before it are there), complete
 * (the parts become the object's chunks by one atomic commit, not copied;
 * read again for the checksum only if the running hash does not cover
 * them), abort, and the count of what unfinished uploads
 * leave behind.  Layout: objserver.h.
 *
 * An upload is a directory, so every node of the cluster sees it.  Its
 * "object" file is also its lock: parts land under a shared flock,
 * complete and abort hold it exclusively, and whoever waited checks that
 * the upload is still there once the lock is theirs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH64_state_t's layout: a running hash */
#include <xxhash.h>

#include "objserver.h"

/*
 * The running checksum of an upload (AIStore's streaming whole checksum,
 * core/ufest.go): its file "hash", written under an exclusive flock of
 * itself, holds the XXH64 state of parts 1..next-1.  Whenever a part lands,
 * every part from next on that is there is hashed forward, in order, read
 * back from the store (it was just written, so from the page cache; a part
 * that came early waits there for the ones before it).  A part sent again
 * after it was hashed makes the hash invalid (next 0) for good: complete
 * then reads every part, as it does when the hash does not cover exactly
 * the parts listed.  The state is the raw struct: every node runs this same
 * binary.  An empty or missing file is a hash of nothing yet.
 */
struct running_hash {
	char magic[8];           /* RUNNING_HASH_MAGIC */
	int32_t next;            /* the next part to hash; 0: invalid */
	uint32_t unused;
	XXH64_state_t state;
};

#define RUNNING_HASH_MAGIC "objhash1"

static int running_hash_land(const char *dir, int32_t part, const char *from,
			     struct reply_error *e);

/* What complete reads the parts with: small enough that each block is
 * still in the cache when it is hashed (128 KiB read 1 GiB of tmpfs and
 * hashed it in 0.22 s here, 1 MiB in 0.27 s). */
#define HASH_BUFFER (128 * 1024)
/* How much of a part is mapped at a time to hash it. */
#define HASH_WINDOW (8 * 1024 * 1024)

static int upload_dir(const struct store *s, const char *id, char *out)
{
	return store_path(out, "%s/uploads/%s", s->sys, id);
}

static int part_path(const struct store *s, const char *id, int32_t part, char *out)
{
	char dir[PATH_MAX];

	return upload_dir(s, id, dir) < 0 ? -1 : store_part_path(out, dir, (uint64_t)part);
}

int upload_create(struct store *s, const struct object_name *n, char id[UPLOAD_ID_MAX + 1],
		  struct reply_error *e)
{
	char dir[PATH_MAX];
	int attempts = 0;

	do {
		if (store_random_id(id) < 0)
			return reply_fail(e, 500, "getrandom: %s", strerror(errno));
		if (upload_dir(s, id, dir) < 0)
			return reply_fail(e, 500, "store path too long");
	} while (mkdir(dir, 0755) < 0 && errno == EEXIST && ++attempts < 5);
	if (store_owner_write(dir, n) < 0) {
		reply_fail(e, 500, "create upload %s: %s", dir, strerror(errno));
		store_remove_tree(dir);
		return -1;
	}
	return 0;
}

/* The upload's "object" file, open, after checking that the upload exists
 * and is one of object n; with how (LOCK_SH, LOCK_EX, or 0) taken on it and
 * the upload still there once it is.  -1 with e (400 or 404) otherwise. */
static int upload_open(const struct store *s, const char *id, const struct object_name *n,
		       int how, struct reply_error *e)
{
	char path[PATH_MAX];
	struct object_name owner;
	struct stat held, now;
	int fd;

	if (!store_valid_id(id))
		return reply_fail(e, 400, "invalid upload ID \"%s\"", id);
	if (store_path(path, "%s/uploads/%s/object", s->sys, id) < 0)
		return reply_fail(e, 500, "store path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return reply_fail(e, 404, "upload \"%s\" not found", id);
	if (store_owner_read(fd, &owner) < 0 || strcmp(owner.bucket, n->bucket) != 0 ||
	    strcmp(owner.object, n->object) != 0) {
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
	if (store_path(path, "%s/uploads/%s/seen-%" PRId32, s->sys, id, part) < 0)
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

	if (store_temp_close(t, &st, e) < 0) {
		store_temp_discard(t);
		return -1;
	}
	/* Shared: parts may land side by side, but not while the upload is
	 * being completed or aborted. */
	fd = upload_open(s, id, n, LOCK_SH, e);
	if (fd >= 0) {
		/* Still under the shared lock: complete sees the running
		 * hash whole. */
		if (upload_dir(s, id, path) < 0)
			reply_fail(e, 500, "store path too long");
		else
			rc = running_hash_land(path, part, t->path, e);
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

/* Add the bytes of file path to state: its size in *size.  0, or -1 with e.
 * Mapped (the page cache hashed in place: a quarter less time than read()
 * into buf here), in windows of HASH_WINDOW; read if it cannot be.  A part
 * is never changed in place (a retry renames a new file over it), so the
 * mapping stays whole. */
static int hash_part(const char *path, XXH64_state_t *state, char *buf, uint64_t *size,
		     struct reply_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t got = 0;

	*size = 0;
	if (fd < 0)
		return reply_fail(e, 500, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		while (*size < (uint64_t)st.st_size) {
			size_t n = (uint64_t)st.st_size - *size < HASH_WINDOW
				? (size_t)((uint64_t)st.st_size - *size) : HASH_WINDOW;
			void *m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd,
				       (off_t)*size);

			if (m == MAP_FAILED)
				break;
			XXH64_update(state, m, n);
			munmap(m, n);
			*size += n;
		}
		if (lseek(fd, (off_t)*size, SEEK_SET) < 0) {
			close(fd);
			return reply_fail(e, 500, "seek %s: %s", path, strerror(errno));
		}
	}
	while ((got = read(fd, buf, HASH_BUFFER)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		XXH64_update(state, buf, (size_t)got);
		*size += (uint64_t)got;
	}
	close(fd);
	return got == 0 ? 0 : reply_fail(e, 500, "read %s: %s", path, strerror(errno));
}

/* Open and lock (exclusively) the upload's running hash and read it into h:
 * the fd, or -1 (no running hash to use or update). */
static int running_hash_open(const char *dir, struct running_hash *h)
{
	char path[PATH_MAX];
	ssize_t got;
	int fd;

	if (store_path(path, "%s/hash", dir) < 0 ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	got = pread(fd, h, sizeof(*h), 0);
	if (got == 0) {
		memset(h, 0, sizeof(*h));
		memcpy(h->magic, RUNNING_HASH_MAGIC, sizeof(h->magic));
		h->next = 1;
		XXH64_reset(&h->state, 0);
	} else if (got != (ssize_t)sizeof(*h) ||
		   memcmp(h->magic, RUNNING_HASH_MAGIC, sizeof(h->magic)) != 0) {
		h->next = 0;
	}
	return fd;
}

static bool running_hash_save(int fd, const struct running_hash *h)
{
	return pwrite(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h);
}

/* Make the file from part `part` of the upload whose directory is dir, and
 * hash forward from next over every part there in a row; if part was
 * hashed already (a retry), make the running hash invalid first.  Both
 * under the running hash's lock, so that "hashed already" means this very
 * part number was, not that another request got to it first.  0, or -1
 * with e (the part did not land).  A failure to hash fails nothing:
 * complete falls back to reading the parts. */
static int running_hash_land(const char *dir, int32_t part, const char *from,
			     struct reply_error *e)
{
	struct running_hash h;
	struct reply_error ignored;
	char path[PATH_MAX], *buf = NULL;
	uint64_t size;
	int fd;

	if (store_part_path(path, dir, (uint64_t)part) < 0)
		return reply_fail(e, 500, "store path too long");
	if ((fd = running_hash_open(dir, &h)) < 0)
		return reply_fail(e, 500, "open %s/hash: %s", dir, strerror(errno));
	if (h.next > 0 && part < h.next) {
		h.next = 0;
		running_hash_save(fd, &h);
	}
	if (rename(from, path) < 0) {
		reply_fail(e, 500, "rename %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	while (h.next > 0 && h.next < INT32_MAX) {
		if (store_part_path(path, dir, (uint64_t)h.next) < 0 || access(path, F_OK) < 0)
			break;
		if (!buf && !(buf = malloc(HASH_BUFFER)))
			break;
		/* The state on disk stays that of the parts before: a
		 * failure or a kill mid-part leaves it as it was. */
		if (hash_part(path, &h.state, buf, &size, &ignored) < 0) {
			h.next = 0;
			running_hash_save(fd, &h);
			break;
		}
		h.next++;
		if (!running_hash_save(fd, &h))
			break;
	}
	free(buf);
	close(fd);
	return 0;
}

/* Complete's shortcut: the running hash if it covers exactly parts
 * 1..count, with the parts' sizes from stat.  0, or -1 to read them all. */
static int running_hash_use(const struct store *s, const char *id, size_t count,
			    uint64_t *sizes, uint64_t *cksum)
{
	struct running_hash h;
	struct stat st;
	char dir[PATH_MAX], path[PATH_MAX];
	int fd, rc = -1;

	if (upload_dir(s, id, dir) < 0 || (fd = running_hash_open(dir, &h)) < 0)
		return -1;
	if (h.next > 0 && (size_t)h.next == count + 1) {
		rc = 0;
		for (size_t i = 0; i < count && rc == 0; i++)
			if (store_part_path(path, dir, (uint64_t)(i + 1)) < 0 ||
			    stat(path, &st) < 0)
				rc = -1;
			else
				sizes[i] = (uint64_t)st.st_size;
		if (rc == 0)
			*cksum = XXH64_digest(&h.state);
	}
	close(fd);
	return rc;
}

/* Read parts 1..count of the upload once, in order: their sizes, and the
 * XXH64 of them all, which is the whole object's: the last resort, when the
 * running hash does not cover them (AIStore reads the chunks so too when it
 * has no streaming checksum nor checksums of them to combine: core/ufest.go,
 * ComputeWholeChecksum).  0, or -1 with e. */
static int hash_parts(const struct store *s, const char *id, size_t count, uint64_t *sizes,
		      uint64_t *cksum, struct reply_error *e)
{
	XXH64_state_t *state = XXH64_createState();
	char *buf = malloc(HASH_BUFFER), path[PATH_MAX];
	int rc = state && buf ? 0 : reply_fail(e, 500, "out of memory");

	if (state)
		XXH64_reset(state, 0);
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = part_path(s, id, (int32_t)(i + 1), path) < 0
			? reply_fail(e, 500, "store path too long")
			: hash_part(path, state, buf, &sizes[i], e);
	if (rc == 0)
		*cksum = XXH64_digest(state);
	free(buf);
	XXH64_freeState(state);
	return rc;
}

/* The seen-N markers of a completed upload, now in its chunk directory,
 * which should hold chunks and their owner only. */
static void remove_markers(const struct store *s, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *entry;
	DIR *d;

	if (store_chunk_dir(s, id, dir) < 0 || !(d = opendir(dir)))
		return;
	while ((entry = readdir(d)))
		if ((strncmp(entry->d_name, "seen-", 5) == 0 ||
		     strcmp(entry->d_name, "hash") == 0) &&
		    store_path(path, "%s/%s", dir, entry->d_name) == 0)
			unlink(path);
	closedir(d);
}

/* Move the upload's directory out of uploads/ at once (later requests for
 * it get 404), then delete it. */
static void upload_remove(const struct store *s, const char *id)
{
	char dir[PATH_MAX], trash[PATH_MAX];

	if (upload_dir(s, id, dir) == 0 &&
	    store_path(trash, "%s/trash/%ld.%s", s->sys, (long)getpid(), id) == 0 &&
	    rename(dir, trash) == 0)
		store_remove_tree(trash);
}

int upload_complete(struct store *s, const char *id, const struct object_name *n,
		    int32_t *parts, size_t count, struct object_info *info,
		    struct reply_error *e)
{
	char dir[PATH_MAX];
	uint64_t *sizes = malloc((count ? count : 1) * sizeof(*sizes));
	struct new_version v = { dir, id, sizes, count, 0 };
	int fd = upload_open(s, id, n, LOCK_EX, e), rc = -1;

	if (fd < 0) {
		free(sizes);
		return -1;
	}
	/* check_parts sorts parts: they are 1..count once it agrees. */
	if (!sizes || upload_dir(s, id, dir) < 0)
		reply_fail(e, 500, "out of memory or path too long");
	else if (check_parts(s, id, parts, count, e) == 0 &&
		 (running_hash_use(s, id, count, sizes, &v.cksum) == 0 ||
		  hash_parts(s, id, count, sizes, &v.cksum, e) == 0))
		rc = store_commit(s, n, &v, info, e);
	if (rc == 0)
		remove_markers(s, id);
	free(sizes);
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
	char dir[PATH_MAX], path[PATH_MAX];
	struct object_name owner;
	bool known = false;
	long count;
	int fd;

	if (upload_dir(s, id, dir) < 0 || store_path(path, "%s/object", dir) < 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		known = store_owner_read(fd, &owner) == 0;
		close(fd);
	}
	count = count_parts(dir);
	*parts += count > 0 ? count : 0;
	fprintf(out, "%s %s/%s parts=%ld\n", id, known ? owner.bucket : "?",
		known ? owner.object : "?", count);
}

char *store_leftovers(struct store *s)
{
	char dir[PATH_MAX], *listing = NULL, *text = NULL;
	size_t listing_len = 0;
	long uploads = 0, parts = 0, tmp = 0, orphans = store_orphaned_chunks(s, false);
	FILE *out = open_memstream(&listing, &listing_len);
	struct dirent *entry;
	DIR *d;

	if (!out || store_path(dir, "%s/uploads", s->sys) < 0 || !(d = opendir(dir))) {
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
	if (store_path(dir, "%s/tmp", s->sys) == 0)
		tmp += count_entries(dir);
	if (store_path(dir, "%s/trash", s->sys) == 0)
		tmp += count_entries(dir);
	tmp += orphans > 0 ? orphans : 0;
	if (asprintf(&text, "uploads=%ld parts=%ld tmp=%ld\n%s", uploads, parts, tmp,
		     listing ? listing : "") < 0)
		text = NULL;
	free(listing);
	return text;
}
