/*
 * aistar - list, extract or create an archive in a remote object store.
 *
 *     aistar [-h] [-v] [--version] (-t | -x) [-C DIR] URL [MEMBER...]
 *     aistar [-h] [-v] [--version] -c [-C DIR] [--format FMT]
 *            [-z | -j | -J | --zstd] URL PATH...
 *
 * The example of the libarchive shim: libarchive reads straight from the
 * buffers the transport filled (ais_archive_read), and the members it skips
 * become Range requests (ais_archive_skip, ais_archive_seek), so listing a
 * tar of large files, or pulling one member out of a zip, does not download
 * the whole object.  Any format and filter libarchive knows is accepted.
 * -c writes an archive into the store instead (aistar_create.c).
 *
 * Exit status: 0 done, 1 something failed or a MEMBER was not found (-c:
 * nothing was stored), 2 usage, 128+N interrupted by signal N (-c).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <aisfile.h>
#include <aisfile_archive.h>

#include "aistar.h"
#include "tool.h"

/* Refuse to write outside DIR: no "..", no absolute paths, no writing
 * through a symlink the archive planted earlier. */
#define EXTRACT_FLAGS (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | \
	ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
	ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Everything one run works with, passed to each helper. */
struct job {
	ais_stream *stream;
	struct archive *in;    /* the archive at the URL */
	struct archive *disk;  /* extraction target; NULL when listing */
	char **names;          /* MEMBER arguments; none means every member */
	bool *found;           /* found[i]: names[i] matched an entry */
	int name_count;
	uint64_t members;      /* entries listed, or whose extraction began */
	struct meter progress;
};

static void usage(FILE *out)
{
	fputs("usage: aistar [-h] [-v] [--version] (-t | -x) [-C DIR] URL [MEMBER...]\n"
	      "       aistar [-h] [-v] [--version] -c [-C DIR] [--format FMT]\n"
	      "              [-z | -j | -J | --zstd] URL PATH...\n"
	      "List (-t) or extract (-x) the archive at URL (http://, https://,\n"
	      "ais://BUCKET/OBJECT); with MEMBERs, only the entries of exactly those paths.\n"
	      "Create (-c) an archive of PATHs at URL, the format from its name as bsdtar -a\n"
	      "tells it (.tar, .tar.gz, .tgz, .tar.zst, .zip, .cpio, ...; else tar); the\n"
	      "object appears whole or not at all.\n"
	      "  -C DIR        extract into DIR, or archive PATHs relative to DIR; it must\n"
	      "                exist (default: .)\n"
	      "  --format FMT  -c: libarchive's format FMT (pax, paxr, ustar, gnutar, zip,\n"
	      "                cpio, newc, 7zip, ...) instead of the name's\n"
	      "  -z, -j, -J, --zstd\n"
	      "                -c: compress with gzip, bzip2, xz, zstd instead of the name's\n"
	      "  -h, --help    show this help and exit\n"
	      "  -v            print where each setting came from, each member created\n"
	      "                (-c), and the stream's counters at the end, to stderr\n"
	      "  --version     print the version and exit\n",
	      out);
}

/* The progress line: how far into the archive, the members, the bytes
 * received (less than the archive when members are skipped), resumes. */
static void progress_show(struct job *job, bool final)
{
	struct ais_stats st;
	char note[96], received[32];

	if (!job->progress.enabled)
		return;
	ais_stats(job->stream, &st);
	snprintf(note, sizeof(note), "%" PRIu64 " members, %s received, %" PRIu64
		 " resumes", job->members,
		 human_bytes(st.bytes_received, received, sizeof(received)),
		 st.resumes);
	meter_show(&job->progress, (uint64_t)ais_tell(job->stream),
		   ais_size(job->stream), note, final);
}

/*
 * libarchive's message says what it was doing; the stream's says what the
 * network did.  Show both, unless the shim already copied one into the other.
 */
static void report(struct job *job, struct archive *a, const char *what)
{
	const char *archive_msg = archive_error_string(a);
	const char *stream_msg = ais_errmsg(job->stream);

	if (archive_msg == NULL)
		archive_msg = strerror(archive_errno(a));
	meter_clear(&job->progress); /* the message replaces the progress line */
	if (a == job->in && *stream_msg && strstr(archive_msg, stream_msg) == NULL)
		fprintf(stderr, "aistar: %s: %s (%s)\n", what, archive_msg, stream_msg);
	else
		fprintf(stderr, "aistar: %s: %s\n", what, archive_msg);
}

/* With no MEMBER arguments every entry is wanted; else exact matches only. */
static bool wanted(struct job *job, const char *path)
{
	bool match = job->name_count == 0;

	for (int i = 0; i < job->name_count; i++) {
		if (strcmp(job->names[i], path) == 0) {
			job->found[i] = true;
			match = true;
		}
	}
	return match;
}

/* Skip the rest of an entry's data; on a tar this seeks past it. */
static int skip_entry(struct job *job, const char *path)
{
	int r = archive_read_data_skip(job->in);

	if (r < ARCHIVE_WARN)
		report(job, job->in, path);
	return r;
}

/* Hand each data block from the reader to the disk writer as it is: the
 * block points into libarchive's (often the transport's) buffer, no copy. */
static int copy_data(struct job *job, const char *path)
{
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(job->in, &block, &size, &offset);

		if (r == ARCHIVE_EOF)
			return ARCHIVE_OK;
		if (r < ARCHIVE_WARN) {
			report(job, job->in, path);
			return r;
		}
		if (archive_write_data_block(job->disk, block, size, offset) < ARCHIVE_WARN) {
			report(job, job->disk, path);
			return ARCHIVE_FATAL;
		}
		progress_show(job, false);
	}
}

/* Returns ARCHIVE_OK, ARCHIVE_FAILED (this entry only), or ARCHIVE_FATAL. */
static int extract_entry(struct job *job, struct archive_entry *entry, const char *path)
{
	int r = archive_write_header(job->disk, entry);

	if (r < ARCHIVE_OK)
		report(job, job->disk, path);
	if (r == ARCHIVE_FATAL)
		return r;
	if (r < ARCHIVE_WARN) {
		/* Not written (e.g. a path the secure flags refused); move on. */
		return skip_entry(job, path) == ARCHIVE_FATAL ? ARCHIVE_FATAL : ARCHIVE_FAILED;
	}
	r = copy_data(job, path);
	if (r == ARCHIVE_FATAL)
		return r;
	/* Sets the times and permissions, so it runs even after a failed copy. */
	if (archive_write_finish_entry(job->disk) < ARCHIVE_WARN) {
		report(job, job->disk, path);
		return ARCHIVE_FATAL;
	}
	return r < ARCHIVE_WARN ? ARCHIVE_FAILED : ARCHIVE_OK;
}

/* Walk the entries once.  Returns 0, or 1 if anything failed (each failure
 * was reported where it happened). */
static int walk_archive(struct job *job, const char *url)
{
	struct archive_entry *entry;
	int r, status = 0;

	while ((r = archive_read_next_header(job->in, &entry)) != ARCHIVE_EOF) {
		const char *path;

		if (r < ARCHIVE_OK)
			report(job, job->in, url);
		if (r == ARCHIVE_RETRY)
			continue;
		if (r < ARCHIVE_WARN)
			return 1;
		path = archive_entry_pathname(entry);
		if (path == NULL)
			path = "";
		if (!wanted(job, path)) {
			r = skip_entry(job, path);
		} else if (job->disk == NULL) {
			puts(path);
			/* Explicit, though the next header would skip too: the skip
			 * is what becomes a Range request instead of a download. */
			r = skip_entry(job, path);
			job->members++;
		} else {
			r = extract_entry(job, entry, path);
			job->members++;
		}
		if (r == ARCHIVE_FATAL)
			return 1;
		if (r < ARCHIVE_WARN)
			status = 1;
		progress_show(job, false);
	}
	return status;
}

/* The fixed one-line format that tests and the demo parse. */
static void print_stats(struct job *job)
{
	struct ais_stats st;

	if (ais_stats(job->stream, &st) < 0)
		return;
	fprintf(stderr, "aistar: members=%" PRIu64 " requests=%" PRIu64
		" resumes=%" PRIu64 " failures=%" PRIu64 " received=%" PRIu64
		" delivered=%" PRIu64 " copied=%" PRIu64 "\n", job->members,
		st.requests, st.resumes, st.failures, st.bytes_received,
		st.bytes_delivered, st.bytes_copied);
}

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256, OPT_FORMAT, OPT_ZSTD };
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "zstd", no_argument, NULL, OPT_ZSTD },
		{ NULL, 0, NULL, 0 },
	};
	struct create_request create = { 0 };
	struct job job = { 0 };
	const char *dir = ".", *url;
	bool verbose = false, found[argc]; /* one per argument: no malloc to fail */
	int opt, mode = 0, status;

	while ((opt = getopt_long(argc, argv, "hvtxcC:zjJ", long_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			print_version("aistar");
			return 0;
		case 'v':
			verbose = true;
			break;
		case 't':
		case 'x':
		case 'c':
			if (mode != 0 && mode != opt) {
				usage(stderr);
				return 2;
			}
			mode = opt;
			break;
		case 'C':
			dir = optarg;
			break;
		case OPT_FORMAT:
			create.format = optarg;
			break;
		case 'z':
			create.filter = "gzip";
			break;
		case 'j':
			create.filter = "bzip2";
			break;
		case 'J':
			create.filter = "xz";
			break;
		case OPT_ZSTD:
			create.filter = "zstd";
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* -c needs a PATH; the format options mean nothing to -t and -x. */
	if (mode == 0 || optind >= argc ||
	    (mode == 'c' && optind + 1 >= argc) ||
	    (mode != 'c' && (create.format || create.filter))) {
		usage(stderr);
		return 2;
	}
	url = argv[optind];
	/* Entry paths are relative, so the disk writer puts them under the
	 * working directory, and -c names PATHs from it.  Fail here, before
	 * any byte is fetched or sent. */
	if (mode != 't' && chdir(dir) < 0) {
		fprintf(stderr, "aistar: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (mode == 'c') {
		create.url = url;
		create.paths = argv + optind + 1;
		create.path_count = argc - optind - 1;
		create.verbose = verbose;
		return create_archive(&create);
	}
	job.names = argv + optind + 1;
	job.name_count = argc - optind - 1;
	job.found = memset(found, 0, sizeof(found));

	meter_start(&job.progress, isatty(STDERR_FILENO) &&
		    (mode == 'x' || !isatty(STDOUT_FILENO)));
	if (verbose)
		print_config("aistar", url);
	job.stream = ais_open(url, NULL);
	if (job.stream == NULL) {
		const char *msg = ais_last_error();

		fprintf(stderr, "aistar: %s: %s\n", url, *msg ? msg : strerror(errno));
		return 1;
	}

	job.in = archive_read_new();
	archive_read_support_format_all(job.in);
	archive_read_support_filter_all(job.in);
	archive_read_set_seek_callback(job.in, ais_archive_seek);
	if (mode == 'x') {
		job.disk = archive_write_disk_new();
		archive_write_disk_set_options(job.disk, EXTRACT_FLAGS);
	}
	/*
	 * No close callback (unlike ais_archive_open): this program opened the
	 * stream, and still reads its counters after libarchive is done, so it
	 * closes the stream itself below.
	 */
	if (archive_read_open2(job.in, job.stream, NULL, ais_archive_read,
			       ais_archive_skip, NULL) != ARCHIVE_OK) {
		report(&job, job.in, url);
		status = 1;
	} else {
		status = walk_archive(&job, url);
	}
	/* Directory times and permissions are set last, when the writer closes. */
	if (job.disk != NULL && archive_write_close(job.disk) < ARCHIVE_WARN) {
		report(&job, job.disk, dir);
		status = 1;
	}
	progress_show(&job, true);
	for (int i = 0; i < job.name_count; i++) {
		if (!job.found[i]) {
			fprintf(stderr, "aistar: %s: not found in archive\n", job.names[i]);
			status = 1;
		}
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "aistar: write to stdout: %s\n", strerror(errno));
		status = 1;
	}
	if (verbose)
		print_stats(&job);

	archive_write_free(job.disk);
	archive_read_free(job.in);
	ais_close(job.stream);
	return status;
}
