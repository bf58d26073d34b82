/*
 * aistar_create.c - aistar -c: an archive of local files written straight
 * into the store, with no temporary file.
 *
 * archive_read_disk walks the PATHs and reads each file's metadata and
 * data, as bsdtar -c does; archive_write formats (and compresses) them; its
 * output goes through the library's libarchive write callbacks into a
 * stream of ais_create(): in AIStore a multipart upload whose parts leave
 * while the next files are read.  The object appears at
 * archive_write_close(), whose close callback commits.  Any failure before
 * (a path that cannot be read, an entry the format refuses, the upload, an
 * interrupt) aborts the upload instead, so a partial archive never appears.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <aisfile.h>
#include <aisfile_archive.h>

#include "aistar.h"
#include "tool.h"

/* libarchive hands the write callback blocks of this size; the last one is
 * not padded (as bsdtar writing a regular file), so the object holds
 * exactly the archive. */
#define BLOCK_SIZE (1 << 20)
/* Compression suffixes a name may stack (".tar.gz.uu"). */
#define MAX_FILTERS 4

/* Everything one run works with, passed to each helper. */
struct creation {
	const struct create_request *req;
	ais_stream *stream;
	struct archive *out;   /* the archive being written into the stream */
	struct archive *disk;  /* walks the paths, reads metadata and data */
	struct archive_entry_linkresolver *links; /* hard links, per format */
	struct archive_entry *current; /* the entry the disk reader is at */
	uint64_t members;
	uint64_t data_done;    /* bytes of member data archived so far */
	int64_t data_total;    /* their sum from a first walk, or -1 */
	bool told_slash;
	bool abandoned;        /* failed: the archive is closed without a commit */
	struct meter progress;
};

/*
 * bsdtar -a's reading of a name, right to left: compression suffixes
 * (".gz"), then one format suffix (".tar") or a short form of a compressed
 * tar (".tgz").  The tables of bsdtar 3.6.2 (tar/creation_set.c), with
 * ".zstd" (older bsdtar's) and ".jar" added.
 */
struct suffix {
	const char *suffix;
	const char *format; /* NULL: a compression suffix; look further left */
	const char *filter;
};

static const struct suffix suffixes[] = {
	{ ".gz", NULL, "gzip" }, { ".bz2", NULL, "bzip2" },
	{ ".xz", NULL, "xz" }, { ".zst", NULL, "zstd" },
	{ ".zstd", NULL, "zstd" }, { ".lz4", NULL, "lz4" },
	{ ".lzma", NULL, "lzma" }, { ".lz", NULL, "lzip" },
	{ ".Z", NULL, "compress" }, { ".lzo", NULL, "lzop" },
	{ ".grz", NULL, "grzip" }, { ".lrz", NULL, "lrzip" },
	{ ".uu", NULL, "uuencode" },
	{ ".tar", "paxr", NULL }, { ".zip", "zip", NULL },
	{ ".jar", "zip", NULL }, { ".cpio", "cpio", NULL },
	{ ".7z", "7zip", NULL }, { ".ar", "arbsd", NULL },
	{ ".iso", "iso9660", NULL }, { ".mtree", "mtree", NULL },
	{ ".shar", "shar", NULL }, { ".warc", "warc", NULL },
	{ ".xar", "xar", NULL },
	{ ".tgz", "paxr", "gzip" }, { ".taz", "paxr", "gzip" },
	{ ".tbz", "paxr", "bzip2" }, { ".tbz2", "paxr", "bzip2" },
	{ ".tz2", "paxr", "bzip2" }, { ".txz", "paxr", "xz" },
	{ ".tlz", "paxr", "lzma" }, { ".tzst", "paxr", "zstd" },
	{ ".tzo", "paxr", "lzop" }, { ".tZ", "paxr", "compress" },
	{ ".taZ", "paxr", "compress" },
};

static const struct suffix *find_suffix(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strlen(suffixes[i].suffix) == len &&
		    memcmp(suffixes[i].suffix, s, len) == 0)
			return &suffixes[i];
	return NULL;
}

/* The last element of url's path: an http(s) URL's path ends at '?' or
 * '#'; an AIStore URI's OBJECT is taken as written. */
static void object_name(const char *url, char *out, size_t len)
{
	const char *end = url + strlen(url), *start;

	if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
		end = url + strcspn(url, "?#");
	for (start = end; start > url && start[-1] != '/'; start--)
		;
	snprintf(out, len, "%.*s", (int)(end - start), start);
}

/*
 * Set the format and filters of out: from the object's name (default: pax
 * restricted tar, as bsdtar's), each half replaced by --format or a
 * compression option when given.  ARCHIVE_OK, or an error set on out.
 */
static int choose_format(struct archive *out, const struct create_request *req)
{
	const char *format = "paxr", *filters[MAX_FILTERS];
	int count = 0, r;
	char name[1024];
	size_t end;

	object_name(req->url, name, sizeof(name));
	for (end = strlen(name); end > 0; ) {
		const char *dot = memrchr(name, '.', end);
		const struct suffix *sfx = dot ? find_suffix(dot, end - (size_t)(dot - name)) : NULL;

		if (sfx == NULL)
			break;
		if (sfx->filter != NULL && count < MAX_FILTERS)
			filters[count++] = sfx->filter;
		if (sfx->format != NULL) {
			format = sfx->format;
			break;
		}
		end = (size_t)(dot - name);
	}
	if (req->format != NULL)
		format = req->format;
	if (req->filter != NULL) {
		filters[0] = req->filter;
		count = 1;
	}
	if ((r = archive_write_set_format_by_name(out, format)) != ARCHIVE_OK)
		return r;
	/* Collected outermost first; libarchive stacks the first added
	 * filter next to the format. */
	while (count-- > 0)
		if ((r = archive_write_add_filter_by_name(out, filters[count])) != ARCHIVE_OK)
			return r;
	return ARCHIVE_OK;
}

/*
 * The bytes of data under paths, walked once without opening a file, so
 * that the progress line can show a percent; -1 when a path cannot be
 * walked (the real walk says why).
 */
static int64_t data_total(char **paths, int count)
{
	struct archive *disk = archive_read_disk_new();
	struct archive_entry *e = archive_entry_new();
	int64_t total = 0;

	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR |
	        ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS |
	        ARCHIVE_READDISK_NO_SPARSE);
	for (int i = 0; i < count && total >= 0; i++) {
		int r = archive_read_disk_open(disk, paths[i]);

		while (r == ARCHIVE_OK) {
			r = archive_read_next_header2(disk, e);
			if (r == ARCHIVE_EOF || r < ARCHIVE_WARN)
				break;
			if (archive_entry_filetype(e) == AE_IFREG)
				total += archive_entry_size(e);
			if (archive_read_disk_can_descend(disk))
				archive_read_disk_descend(disk);
			r = ARCHIVE_OK;
		}
		if (r != ARCHIVE_EOF)
			total = -1;
		archive_read_close(disk);
	}
	archive_entry_free(e);
	archive_read_free(disk);
	return total;
}

/* The progress line: member data archived of the total, the members, the
 * archive's bytes so far and the upload's resends. */
static void progress_show(struct creation *c, bool final)
{
	struct ais_stats st;
	char note[96], written[32];

	if (!c->progress.enabled)
		return;
	ais_stats(c->stream, &st);
	snprintf(note, sizeof(note), "%" PRIu64 " members, %s archive, %" PRIu64
	         " resends", c->members,
	         human_bytes((uint64_t)ais_tell(c->stream), written, sizeof(written)),
	         st.resumes);
	/* At the end what was archived is the total, whatever the first walk
	 * counted (a hard link's data is stored once, a file may change). */
	meter_show(&c->progress, c->data_done,
	           final ? (int64_t)c->data_done : c->data_total, note, final);
}

/* Say what failed, in place of the progress line: "aistar: WHAT: WHY", or
 * "aistar: WHY" when WHY names it already.  Returns -1. */
static int fail(struct creation *c, const char *what, const char *why)
{
	meter_clear(&c->progress);
	if (what == NULL || strncmp(why, what, strlen(what)) == 0)
		fprintf(stderr, "aistar: %s\n", why);
	else
		fprintf(stderr, "aistar: %s: %s\n", what, why);
	return -1;
}

/* A failure of the archive being written: the upload's own message (it
 * names the URL and the request) when the stream failed, else libarchive's
 * about the member. */
static int output_failed(struct creation *c, const char *name)
{
	const char *msg = archive_error_string(c->out);
	const char *upload = ais_errmsg(c->stream);

	if (msg == NULL)
		msg = strerror(archive_errno(c->out));
	return fail(c, *upload && strstr(msg, upload) ? NULL : name, msg);
}

/* A failure of the disk reader; libarchive's message ("x: Cannot stat")
 * leaves out the reason. */
static int disk_failed(struct creation *c, const char *path)
{
	const char *msg = archive_error_string(c->disk);
	int err = archive_errno(c->disk);
	char why[1024];

	if (msg == NULL)
		msg = "failed";
	if (err > 0 && strstr(msg, strerror(err)) == NULL)
		snprintf(why, sizeof(why), "%s: %s", msg, strerror(err));
	else
		snprintf(why, sizeof(why), "%s", msg);
	return fail(c, path, why);
}

/* -1 after an interrupt, so that the upload is aborted. */
static int check_interrupt(struct creation *c)
{
	return interrupted() ? fail(c, "interrupted", "nothing was stored") : 0;
}

static bool has_dotdot(const char *name)
{
	for (const char *p = name; *p; ) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

/*
 * Member names are relative, as bsdtar stores them: a leading '/' is
 * removed (said once), and a ".." element is refused, since extracting it
 * would be refused (use -C instead).  0, 1 to leave the entry out ("/"
 * itself), or -1.
 */
static int member_name(struct creation *c, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	char *relative;

	if (name == NULL)
		return fail(c, archive_entry_sourcepath(e), "no name");
	if (has_dotdot(name))
		return fail(c, name, "a name with '..' would not extract; use -C DIR");
	if (name[0] != '/')
		return 0;
	if (!c->told_slash) {
		meter_clear(&c->progress);
		fprintf(stderr, "aistar: removing leading '/' from member names\n");
		c->told_slash = true;
	}
	name += strspn(name, "/");
	if (*name == '\0')
		return 1;
	/* A copy: the name points into the entry being renamed. */
	if ((relative = strdup(name)) == NULL)
		return fail(c, name, strerror(ENOMEM));
	archive_entry_copy_pathname(e, relative);
	free(relative);
	return 0;
}

static int write_block(struct creation *c, const char *name, const void *buf,
                       size_t len)
{
	la_ssize_t n = archive_write_data(c->out, buf, len);

	if (n < 0)
		return output_failed(c, name);
	if ((size_t)n != len)
		return fail(c, name, "changed size while being archived");
	c->data_done += len;
	progress_show(c, false);
	return check_interrupt(c);
}

/* The holes of a sparse file, as bsdtar writes them: zeros, which the
 * format leaves out again where it can. */
static int write_zeros(struct creation *c, const char *name, int64_t len)
{
	static const char zeros[65536];

	while (len > 0) {
		size_t n = len < (int64_t)sizeof(zeros) ? (size_t)len : sizeof(zeros);

		if (write_block(c, name, zeros, n) < 0)
			return -1;
		len -= (int64_t)n;
	}
	return 0;
}

/* The data of the entry the disk reader is at: blocks at their offsets. */
static int copy_from_disk(struct creation *c, const char *name, int64_t size)
{
	int64_t done = 0;

	for (;;) {
		const void *block;
		size_t len;
		la_int64_t offset;
		int r = archive_read_data_block(c->disk, &block, &len, &offset);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_OK)
			return disk_failed(c, name);
		if (offset > done && write_zeros(c, name, offset - done) < 0)
			return -1;
		if (write_block(c, name, block, len) < 0)
			return -1;
		done = offset + (int64_t)len;
	}
	return done > size ? fail(c, name, "changed size while being archived") :
	       write_zeros(c, name, size - done);
}

/* The data of an entry the disk reader has left behind (a hard link whose
 * data a cpio format stores with its last name), read from its file. */
static int copy_from_file(struct creation *c, const char *name,
                          const char *path, int64_t size)
{
	char buf[65536];
	int64_t done = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return fail(c, path, strerror(errno));
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = fail(c, path, strerror(errno));
		else if ((done += n) > size)
			rc = fail(c, name, "changed size while being archived");
		else
			rc = write_block(c, name, buf, (size_t)n);
	}
	close(fd);
	if (rc == 0 && done < size)
		rc = fail(c, name, "changed size while being archived");
	return rc;
}

/* One member: its header, then its data, if it carries any. */
static int write_member(struct creation *c, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	int64_t size = archive_entry_size(e);
	int r = archive_write_header(c->out, e);

	if (r < ARCHIVE_WARN)
		return output_failed(c, name);
	if (r == ARCHIVE_WARN) {
		meter_clear(&c->progress);
		fprintf(stderr, "aistar: %s: %s\n", name, archive_error_string(c->out));
	}
	c->members++;
	if (c->req->verbose) {
		meter_clear(&c->progress);
		fprintf(stderr, "a %s\n", name);
	}
	if (archive_entry_filetype(e) != AE_IFREG || size <= 0)
		r = 0;
	else if (e == c->current)
		r = copy_from_disk(c, name, size);
	else
		r = copy_from_file(c, name, archive_entry_sourcepath(e), size);
	if (r == 0 && archive_write_finish_entry(c->out) < ARCHIVE_WARN)
		return output_failed(c, name);
	return r;
}

/*
 * Pass e through the hard-link resolver, which may hold it back (a cpio
 * format stores a file's data with its last name) and hand out others,
 * and write what it hands out.  Takes e.  0 or -1.
 */
static int write_linked(struct creation *c, struct archive_entry *e)
{
	struct archive_entry *last = NULL;
	int rc = 0;

	archive_entry_linkify(c->links, &e, &last);
	if (e != NULL)
		rc = write_member(c, e);
	if (rc == 0 && last != NULL)
		rc = write_member(c, last);
	archive_entry_free(e);
	archive_entry_free(last);
	return rc;
}

/* Archive path and, if a directory, everything under it.  0 or -1. */
static int archive_path(struct creation *c, const char *path)
{
	int r = archive_read_disk_open(c->disk, path), rc = 0;

	if (r != ARCHIVE_OK)
		return disk_failed(c, path);
	while (rc == 0) {
		struct archive_entry *e = archive_entry_new();

		if (e == NULL) {
			rc = fail(c, path, strerror(ENOMEM));
			break;
		}
		r = archive_read_next_header2(c->disk, e);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (r == ARCHIVE_WARN) {
			meter_clear(&c->progress);
			fprintf(stderr, "aistar: %s\n", archive_error_string(c->disk));
		} else if (r < ARCHIVE_WARN) {
			archive_entry_free(e);
			rc = disk_failed(c, path);
			break;
		}
		if (archive_read_disk_can_descend(c->disk))
			archive_read_disk_descend(c->disk);
		c->current = e;
		rc = member_name(c, e);
		if (rc == 0)
			rc = write_linked(c, e);
		else
			archive_entry_free(e);
		if (rc == 1)
			rc = 0;
		c->current = NULL;
	}
	archive_read_close(c->disk);
	return rc;
}

/* The entries the resolver still holds, each with its data. */
static int write_held_links(struct creation *c)
{
	for (;;) {
		struct archive_entry *e = NULL, *none = NULL;

		archive_entry_linkify(c->links, &e, &none);
		if (e == NULL)
			return 0;
		if (write_member(c, e) < 0) {
			archive_entry_free(e);
			return -1;
		}
		archive_entry_free(e);
	}
}

/* The fixed one-line format of -v. */
static void print_stats(const struct creation *c)
{
	struct ais_stats st;

	if (ais_stats(c->stream, &st) < 0)
		return;
	fprintf(stderr, "aistar: members=%" PRIu64 " requests=%" PRIu64
	        " resumes=%" PRIu64 " failures=%" PRIu64 " uploaded=%" PRIu64
	        " parts=%" PRIu64 " copied=%" PRIu64 "\n", c->members,
	        st.requests, st.resumes, st.failures, st.bytes_uploaded,
	        st.parts_uploaded, st.bytes_copied);
}

/*
 * The library's write callbacks (ais_archive_write_cb and _close_cb), with
 * a way to give up: an abandoned archive takes no more bytes, and its close
 * callback finds an error, on which the library's discards the upload
 * instead of committing it.  A failed run closes its archive that way
 * rather than with archive_write_fail() and archive_write_free(), because
 * libarchive (3.6.2) frees the block buffer of its client only in close.
 */
static la_ssize_t send_cb(struct archive *a, void *data,
                                 const void *buf, size_t len)
{
	struct creation *c = data;

	if (c->abandoned) {
		archive_set_error(a, ECANCELED, "the archive was abandoned");
		return ARCHIVE_FATAL;
	}
	return ais_archive_write_cb(a, c->stream, buf, len);
}

static int commit_cb(struct archive *a, void *data)
{
	struct creation *c = data;

	if (c->abandoned)
		archive_set_error(a, ECANCELED, "the archive was abandoned");
	return ais_archive_write_close_cb(a, c->stream);
}

/* The writer, its format chosen, opened on c->stream.  0 or -1. */
static int open_archive(struct creation *c)
{
	c->out = archive_write_new();
	if (c->out == NULL)
		return fail(c, c->req->url, strerror(ENOMEM));
	if (choose_format(c->out, c->req) != ARCHIVE_OK)
		return output_failed(c, c->req->url);
	archive_write_set_bytes_per_block(c->out, BLOCK_SIZE);
	archive_write_set_bytes_in_last_block(c->out, 1);
	/*
	 * As ais_archive_write_open() wires the library's callbacks, but no
	 * free callback: this program made the stream and reads its counters
	 * after libarchive is done, so it closes the stream itself.
	 */
	if (archive_write_open2(c->out, c, NULL, send_cb, commit_cb,
	                        NULL) != ARCHIVE_OK)
		return output_failed(c, c->req->url);
	return 0;
}

/*
 * Finish the archive and commit: only now may the object appear.  The
 * close callback commits, and leaves an error when it could not, or when
 * it discarded the upload after an earlier error.  libarchive does not
 * pass on what a close callback returns (archive_write_close() is
 * ARCHIVE_OK either way, in 3.6.2 as in its master), so the error, not the
 * return, says whether the object is in the store.  0 or -1.
 */
static int close_archive(struct creation *c)
{
	archive_write_close(c->out);
	if (archive_errno(c->out) != 0 || archive_error_string(c->out) != NULL)
		return output_failed(c, c->req->url);
	return 0;
}

/* Walk every path, then write what the hard links held back.  0 or -1. */
static int archive_paths(struct creation *c)
{
	c->disk = archive_read_disk_new();
	c->links = archive_entry_linkresolver_new();
	if (c->disk == NULL || c->links == NULL)
		return fail(c, c->req->url, strerror(ENOMEM));
	archive_read_disk_set_symlink_physical(c->disk);
	archive_read_disk_set_standard_lookup(c->disk);
	archive_entry_linkresolver_set_strategy(c->links, archive_format(c->out));
	for (int i = 0; i < c->req->path_count; i++)
		if (archive_path(c, c->req->paths[i]) < 0)
			return -1;
	return write_held_links(c);
}

int create_archive(const struct create_request *req)
{
	struct creation c = { .req = req, .data_total = -1 };
	int rc;

	catch_interrupts();
	meter_start(&c.progress, isatty(STDERR_FILENO));
	if (c.progress.enabled)
		c.data_total = data_total(req->paths, req->path_count);
	if (req->verbose)
		print_config("aistar", req->url);
	c.stream = ais_create(req->url, NULL);
	if (c.stream == NULL) {
		print_open_failure("aistar", req->url);
		return 1;
	}
	rc = open_archive(&c);
	if (rc == 0)
		rc = archive_paths(&c);
	if (rc == 0)
		rc = check_interrupt(&c);
	if (rc == 0) {
		rc = close_archive(&c);
	} else if (c.out != NULL) {
		c.abandoned = true;
		archive_write_close(c.out); /* discards the upload: commit_cb */
	}
	if (rc == 0)
		progress_show(&c, true);
	if (req->verbose)
		print_stats(&c);
	archive_write_free(c.out);
	archive_read_free(c.disk);
	archive_entry_linkresolver_free(c.links);
	if (rc == 0) {
		ais_close(c.stream);
		return 0;
	}
	ais_abort(c.stream);
	return interrupted() ? 128 + interrupted() : 1;
}
