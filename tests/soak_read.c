/*
 * soak_read.c - the soak's reader, run in a forked child: read one object
 * through the fault proxy with ais_next, with fread, or as a tar through
 * libarchive, and check every byte handed out against the version that was
 * on disk when the read began (mapped before the open, so a replace later
 * leaves the mapping on the old inode).  It makes the version switch too.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aisfile_archive.h"
#include "harness.h"
#include "soak.h"

struct reader {
	const struct soak_plan *plan;
	const unsigned char *reference;	/* the version being read */
	uint64_t size;
	struct soak_progress *progress;
	struct soak_result *result;
	ais_stream *stream;		/* while this side owns or may query it */
	int stream_err;			/* hand-wired archive: the stream's failure */
};

static void set_phase(struct reader *r, const char *phase)
{
	snprintf(r->progress->phase, sizeof r->progress->phase, "%s", phase);
}

static bool stopped(const struct reader *r)
{
	return r->result->err != 0 || r->result->wrong_bytes;
}

static void fail_with(struct reader *r, int err, const char *message)
{
	r->result->err = err ? err : EIO;
	snprintf(r->result->message, sizeof r->result->message, "%s%s",
	         err ? "" : "(no errno) ", message && *message ? message : "(no message)");
}

static void wrong_bytes(struct reader *r, uint64_t at, const char *what)
{
	r->result->wrong_bytes = true;
	r->result->wrong_at = at;
	snprintf(r->result->message, sizeof r->result->message, "%s", what);
}

/* Whether buf holds bytes [offset, offset + n) of the version being read. */
static bool check_bytes(struct reader *r, uint64_t offset, const void *buf, size_t n)
{
	const unsigned char *got = buf;
	char what[160];

	if (offset > r->size || n > r->size - offset) {
		snprintf(what, sizeof what, "%zu bytes at %llu run past the end (%llu)",
		         n, (unsigned long long)offset, (unsigned long long)r->size);
		wrong_bytes(r, offset, what);
		return false;
	}
	if (memcmp(got, r->reference + offset, n) == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (got[i] != r->reference[offset + i]) {
			snprintf(what, sizeof what, "byte %llu is 0x%02x, the version being read has 0x%02x",
			         (unsigned long long)(offset + i), got[i], r->reference[offset + i]);
			wrong_bytes(r, offset + i, what);
			break;
		}
	}
	return false;
}

/* Counts bytes handed out, and replaces the object once the plan says. */
static void delivered(struct reader *r, size_t n)
{
	const struct soak_plan *plan = r->plan;

	r->result->delivered += n;
	__atomic_store_n(&r->progress->delivered, r->result->delivered, __ATOMIC_RELAXED);
	if (!plan->version_switch || r->result->switched ||
	    r->result->delivered < plan->switch_at)
		return;
	set_phase(r, "version switch");
	if (harness_replace(plan->object->name, plan->switch_seed) == 0)
		r->result->switched = true;
	else
		fprintf(stderr, "soak: harness_replace(%s) failed\n", plan->object->name);
	set_phase(r, "read");
}

static void take_stats(struct reader *r)
{
	if (r->stream && ais_stats(r->stream, &r->result->stats) == 0)
		r->result->have_stats = true;
}

/* A stream that found another version stays failed: no later call may
 * hand out a byte of it. */
static void expect_stays_failed(struct reader *r)
{
	const void *buf;
	ssize_t n = ais_next(r->stream, &buf);
	char what[160];

	if (n >= 0) {
		snprintf(what, sizeof what, "ais_next returned %zd after %s", n,
		         strerrorname_np(r->result->err));
		wrong_bytes(r, r->result->delivered, what);
	}
}

static void read_next(struct reader *r, const char *url)
{
	const void *buf;
	ssize_t n;

	r->stream = ais_open(url, &r->plan->options);
	if (!r->stream) {
		fail_with(r, errno, ais_last_error());
		return;
	}
	set_phase(r, "read");
	delivered(r, 0);
	while (!stopped(r) && (n = ais_next(r->stream, &buf)) != 0) {
		if (n < 0)
			fail_with(r, errno, ais_errmsg(r->stream));
		else if (check_bytes(r, r->result->delivered, buf, (size_t)n))
			delivered(r, (size_t)n);
	}
	if (r->result->err == ESTALE || r->result->err == EBADMSG)
		expect_stays_failed(r);
	if (!stopped(r) && r->result->delivered != r->size)
		wrong_bytes(r, r->result->delivered, "the stream ended before the object did");
	take_stats(r);
	set_phase(r, "close");
	ais_close(r->stream);
	r->stream = NULL;
}

static void export_seconds(const char *name, long ms)
{
	char value[32];

	snprintf(value, sizeof value, "%ld.%03ld", ms / 1000, ms % 1000);
	setenv(name, value, 1);
}

static void export_bytes(const char *name, long bytes)
{
	char value[32];

	if (bytes == 0) {
		unsetenv(name);
		return;
	}
	snprintf(value, sizeof value, "%ld", bytes < 0 ? 0 : bytes);
	setenv(name, value, 1);
}

/* ais_fopen() takes no options: hand the plan's to it (and to the default
 * client this child makes on first use) through the environment. */
static void export_options(const struct ais_options *o)
{
	char value[32];

	export_seconds("AIS_CONNECT_TIMEOUT", o->connect_timeout_ms);
	export_seconds("AIS_READ_TIMEOUT", o->read_timeout_ms);
	export_seconds("AIS_RETRY_TIME", o->retry_time_ms);
	export_bytes("AIS_READAHEAD", o->readahead_bytes);
	export_bytes("AIS_PART_SIZE", (long)o->part_size);
	snprintf(value, sizeof value, "%d", o->connections);
	setenv("AIS_CONNECTIONS", value, 1);
	unsetenv("AIS_MAX_RETRIES");
}

static FILE *open_file(struct reader *r, const char *url)
{
	FILE *f;

	if (r->plan->library_opens) {
		export_options(&r->plan->options);
		f = ais_fopen(url, "rb");
		if (!f)
			fail_with(r, errno, ais_last_error());
		return f;
	}
	r->stream = ais_open(url, &r->plan->options);
	if (!r->stream) {
		fail_with(r, errno, ais_last_error());
		return NULL;
	}
	f = ais_fdopen(r->stream, "rb");
	if (!f) {
		fail_with(r, errno, ais_errmsg(r->stream));
		ais_close(r->stream);
		r->stream = NULL;
	}
	return f;
}

static void read_fread(struct reader *r, const char *url)
{
	unsigned char *buf = malloc(r->plan->read_size);
	FILE *f = buf ? open_file(r, url) : NULL;

	if (!f) {
		if (!buf)
			fail_with(r, ENOMEM, "read buffer");
		free(buf);
		return;
	}
	set_phase(r, "read");
	delivered(r, 0);
	while (!stopped(r)) {
		size_t n;
		int err;

		errno = 0;
		n = fread(buf, 1, r->plan->read_size, f);
		err = errno;
		if (n > 0 && check_bytes(r, r->result->delivered, buf, n))
			delivered(r, n);
		if (n == r->plan->read_size || stopped(r))
			continue;
		if (ferror(f))
			fail_with(r, err, r->stream ? ais_errmsg(r->stream) : ais_last_error());
		else if (r->result->delivered != r->size)
			wrong_bytes(r, r->result->delivered, "fread hit the end before the object's end");
		break;
	}
	take_stats(r);
	set_phase(r, "close");
	fclose(f);
	r->stream = NULL;
	free(buf);
}

/* The aisfile_archive.h callbacks, wired as ais_archive_open() wires them,
 * with a look at every raw byte libarchive is given and at the stats. */
static la_ssize_t checked_archive_read(struct archive *a, void *data, const void **buf)
{
	struct reader *r = data;
	int64_t at = ais_tell(r->stream);
	la_ssize_t n = ais_archive_read(a, r->stream, buf);

	if (n < 0) {
		r->stream_err = archive_errno(a);
	} else if (n > 0 && !check_bytes(r, (uint64_t)at, *buf, (size_t)n)) {
		archive_set_error(a, EILSEQ, "soak: wrong bytes from the stream");
		return ARCHIVE_FATAL;
	}
	return n;
}

static la_int64_t checked_archive_skip(struct archive *a, void *data, la_int64_t request)
{
	struct reader *r = data;
	la_int64_t n = ais_archive_skip(a, r->stream, request);

	if (n < 0)
		r->stream_err = archive_errno(a);
	return n;
}

static la_int64_t checked_archive_seek(struct archive *a, void *data, la_int64_t offset,
                                       int whence)
{
	struct reader *r = data;
	la_int64_t n = ais_archive_seek(a, r->stream, offset, whence);

	if (n < 0)
		r->stream_err = archive_errno(a);
	return n;
}

static int checked_archive_close(struct archive *a, void *data)
{
	struct reader *r = data;
	int rc;

	take_stats(r);
	rc = ais_archive_close(a, r->stream);
	r->stream = NULL;
	return rc;
}

static int open_remote_archive(struct reader *r, struct archive *a, const char *url)
{
	if (r->plan->library_opens)
		return ais_archive_open(a, url, &r->plan->options);
	r->stream = ais_open(url, &r->plan->options);
	if (!r->stream) {
		r->stream_err = errno;
		archive_set_error(a, r->stream_err, "%s", ais_last_error());
		return ARCHIVE_FATAL;
	}
	archive_read_set_seek_callback(a, checked_archive_seek);
	return archive_read_open2(a, r, NULL, checked_archive_read, checked_archive_skip,
	                          checked_archive_close);
}

/* libarchive failed on the remote archive.  A failure of the stream is the
 * stream's errno; libarchive failing on its own means it was handed bytes
 * that do not make the source's tar. */
static void archive_failed(struct reader *r, struct archive *a, const char *where)
{
	int err = r->plan->library_opens ? archive_errno(a) : r->stream_err;
	char what[sizeof r->result->message];

	if (r->result->wrong_bytes)
		return;
	if (r->plan->library_opens && (err == EILSEQ || err == EINVAL || err <= 0))
		err = 0;
	if (err) {
		fail_with(r, err, archive_error_string(a));
		return;
	}
	snprintf(what, sizeof what, "archive damaged %s: %s", where,
	         archive_error_string(a) ? archive_error_string(a) : "?");
	wrong_bytes(r, r->result->delivered, what);
}

static la_ssize_t read_exactly(struct archive *a, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		la_ssize_t m = archive_read_data(a, buf + got, n - got);

		if (m <= 0)
			return m < 0 ? m : (la_ssize_t)got;
		got += (size_t)m;
	}
	return (la_ssize_t)got;
}

static void compare_member(struct reader *r, struct archive *remote, struct archive *local,
                           const char *member, unsigned char *got, unsigned char *want)
{
	uint64_t offset = 0;
	char what[400];

	while (!stopped(r)) {
		la_ssize_t n = archive_read_data(remote, got, r->plan->read_size);
		la_ssize_t m;

		if (n < 0) {
			archive_failed(r, remote, "in member data");
			return;
		}
		m = read_exactly(local, want, n ? (size_t)n : 1);
		if (n == 0 && m == 0)
			return;
		if (m != n || memcmp(got, want, (size_t)n) != 0) {
			snprintf(what, sizeof what, "member %s differs from the source at or after byte %llu",
			         member, (unsigned long long)offset);
			wrong_bytes(r, offset, what);
			return;
		}
		offset += (uint64_t)n;
		delivered(r, (size_t)n);
	}
}

static void compare_archives(struct reader *r, struct archive *remote, struct archive *local)
{
	unsigned char *got = malloc(r->plan->read_size), *want = malloc(r->plan->read_size);
	struct archive_entry *theirs, *ours;
	char what[400];

	while (got && want && !stopped(r)) {
		int rc = archive_read_next_header(remote, &theirs);
		int expected = archive_read_next_header(local, &ours);

		if (rc == ARCHIVE_EOF && expected == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			archive_failed(r, remote, "reading a header");
		} else if (rc == ARCHIVE_EOF || expected != ARCHIVE_OK ||
		           strcmp(archive_entry_pathname(theirs), archive_entry_pathname(ours)) != 0 ||
		           archive_entry_size(theirs) != archive_entry_size(ours)) {
			snprintf(what, sizeof what, "member list differs from the source at %s",
			         expected == ARCHIVE_OK ? archive_entry_pathname(ours) : "its end");
			wrong_bytes(r, r->result->delivered, what);
		} else {
			compare_member(r, remote, local, archive_entry_pathname(ours), got, want);
		}
	}
	if (!got || !want)
		fail_with(r, ENOMEM, "archive buffers");
	free(got);
	free(want);
}

static void read_archive(struct reader *r, const char *url)
{
	struct archive *remote = archive_read_new(), *local = archive_read_new();

	if (!remote || !local) {
		fail_with(r, ENOMEM, "archive_read_new");
	} else {
		archive_read_support_format_tar(remote);
		archive_read_support_format_tar(local);
		if (archive_read_open_memory(local, r->reference, r->size) != ARCHIVE_OK)
			fail_with(r, EINVAL, archive_error_string(local));
		else if (open_remote_archive(r, remote, url) != ARCHIVE_OK)
			archive_failed(r, remote, "at the open");
	}
	set_phase(r, "read");
	if (!stopped(r)) {
		delivered(r, 0);
		compare_archives(r, remote, local);
	}
	set_phase(r, "close");
	archive_read_free(remote);	/* closes the stream */
	archive_read_free(local);
}

static const unsigned char *map_object(const char *name, uint64_t size)
{
	char path[4096];
	int fd;
	void *map;

	snprintf(path, sizeof path, "%s/%s", harness_objdir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return map == MAP_FAILED ? NULL : map;
}

void soak_read(const struct soak_plan *plan, const char *url,
               struct soak_progress *progress, struct soak_result *result)
{
	struct reader r = { plan, NULL, plan->object->size, progress, result, NULL, 0 };

	memset(result, 0, sizeof(*result));
	set_phase(&r, "open");
	r.reference = map_object(plan->object->name, plan->object->size);
	if (!r.reference) {
		fail_with(&r, errno, "cannot map the object's current version");
		return;
	}
	if (plan->path == SOAK_NEXT)
		read_next(&r, url);
	else if (plan->path == SOAK_FREAD)
		read_fread(&r, url);
	else
		read_archive(&r, url);
	set_phase(&r, "done");
	munmap((void *)r.reference, (size_t)r.size);
}
