/*
 * objserver_upload.c - multipart uploads in the store of tests/objserver:
 * start, parts (a resent part replaces the first), complete (the parts
 * concatenated into the object by one atomic commit), abort, and the count
 * of what unfinished uploads leave behind.  Layout: objserver.h.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objserver.h"

#define UPLOAD_ID_BYTES 8

static int upload_dir(const struct store *s, const char *id, char *out)
{
	return store_path(out, "%s/uploads/%s", s->sys, id);
}

static int part_path(const struct store *s, const char *id, int32_t part, char *out)
{
	return store_path(out, "%s/uploads/%s/part-%010" PRId32, s->sys, id, part);
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
	if (store_path(path, "%s/object", dir) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return reply_fail(e, 500, "create upload %s: %s", dir, strerror(errno));
	if (write(fd, n->bucket, bucket_len) != (ssize_t)bucket_len ||
	    write(fd, n->object, object_len) != (ssize_t)object_len) {
		close(fd);
		store_remove_tree(dir);
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
	if (store_path(path, "%s/uploads/%s/object", s->sys, id) < 0)
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
	while ((got = read(fd, buf, STORE_COPY_BUFFER)) != 0) {
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
	    store_path(trash, "%s/trash/%ld.%s", s->sys, (long)getpid(), id) == 0 &&
	    rename(dir, trash) == 0)
		store_remove_tree(trash);
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
		buf = malloc(STORE_COPY_BUFFER);
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

	if (upload_dir(s, id, dir) < 0 || store_path(path, "%s/object", dir) < 0)
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
	if (asprintf(&text, "uploads=%ld parts=%ld tmp=%ld\n%s", uploads, parts, tmp,
		     listing ? listing : "") < 0)
		text = NULL;
	free(listing);
	return text;
}
