/*
 * aisput - store standard input or a file as an object in a remote object
 * store.
 *
 *     aisput [-h] [-q] [-v] [--version] URL [FILE]
 *
 * The example of writing: ais_create() opens the object for writing,
 * ais_write() copies each piece read into the stream's part buffers (in
 * AIStore the parts go out while the next ones are read, and a part whose
 * request fails is sent again from its buffer), and ais_commit() makes the
 * object appear whole.  A failure before that, or an interrupt, aborts the
 * upload: no object appears and no part is left on the server.
 *
 * Exit status: 0 stored, 1 failed (nothing stored), 2 usage error, 128+N
 * interrupted by signal N (nothing stored).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aisfile.h>

#include "tool.h"

/* What one read(2) asks for; ais_write copies it into the part buffers. */
#define PIECE (1 << 20)

static void usage(FILE *out)
{
	fputs("usage: aisput [-h] [-q] [-v] [--version] URL [FILE]\n"
	      "Store FILE (default or '-': standard input) as the object at URL\n"
	      "(http://, https://, ais://BUCKET/OBJECT); the object appears whole or not at all.\n"
	      "  -h, --help  show this help and exit\n"
	      "  -q          quiet: no progress line on a terminal\n"
	      "  -v          print where each setting came from, and the stream's\n"
	      "              counters at the end, to stderr\n"
	      "  --version   print the version and exit\n",
	      out);
}

/* The progress line: bytes handed to the stream of the size (known for a
 * regular file), the bytes the server has accepted, and the resends. */
static void progress_show(struct meter *m, const ais_stream *s, int64_t size,
                          bool final)
{
	struct ais_stats st;
	char note[64], uploaded[32];

	if (!m->enabled)
		return;
	ais_stats(s, &st);
	snprintf(note, sizeof(note), "%s uploaded, %" PRIu64 " resends",
	         human_bytes(st.bytes_uploaded, uploaded, sizeof(uploaded)),
	         st.resumes);
	meter_show(m, (uint64_t)ais_tell(s), size, note, final);
}

/* The fixed one-line format of -v. */
static void print_stats(const ais_stream *s)
{
	struct ais_stats st;

	if (ais_stats(s, &st) < 0)
		return;
	fprintf(stderr, "aisput: requests=%" PRIu64 " resumes=%" PRIu64
	        " failures=%" PRIu64 " uploaded=%" PRIu64 " parts=%" PRIu64
	        " copied=%" PRIu64 "\n", st.requests, st.resumes, st.failures,
	        st.bytes_uploaded, st.parts_uploaded, st.bytes_copied);
}

/*
 * Copy fd to the stream until its end.  Returns 0, or -1 with the reason
 * in why (so that the caller can first end the progress line); an
 * interrupt is a failure too.
 */
static int copy_to_stream(int fd, const char *name, ais_stream *s,
                          struct meter *progress, int64_t size,
                          char *why, size_t why_len)
{
	static char piece[PIECE];

	for (;;) {
		ssize_t n = read(fd, piece, sizeof(piece));

		if (interrupted()) {
			snprintf(why, why_len, "interrupted: nothing was stored");
			return -1;
		}
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, why_len, "%s: %s", name, strerror(errno));
			return -1;
		}
		if (ais_write(s, piece, (size_t)n) < 0) {
			snprintf(why, why_len, "%s", ais_errmsg(s));
			return -1;
		}
		progress_show(progress, s, size, false);
	}
}

/* The size of what fd holds, when it is a regular file; else -1. */
static int64_t file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

int main(int argc, char **argv)
{
	const char *url, *name = "standard input";
	struct common_options opts;
	struct meter progress;
	int fd = STDIN_FILENO, status;
	char why[1024];
	int64_t size;
	ais_stream *s;

	if ((status = parse_common_options(argc, argv, "aisput", usage, &opts)) >= 0)
		return status;
	status = 0;
	if (optind != argc - 1 && optind != argc - 2) {
		usage(stderr);
		return 2;
	}
	url = argv[optind];
	if (optind + 1 < argc && strcmp(argv[optind + 1], "-") != 0) {
		name = argv[optind + 1];
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "aisput: %s: %s\n", name, strerror(errno));
			return 1;
		}
	}
	size = file_size(fd);

	catch_interrupts();
	meter_start(&progress, !opts.quiet && isatty(STDERR_FILENO));
	if (opts.verbose)
		print_config("aisput", url);
	s = ais_create(url, NULL);
	if (s == NULL) {
		print_open_failure("aisput", url);
		return 1;
	}

	if (copy_to_stream(fd, name, s, &progress, size, why, sizeof(why)) < 0)
		status = 1;
	/* The last check before the object becomes visible: an interrupt that
	 * ended the input early must not store what came before it. */
	if (status == 0 && interrupted()) {
		snprintf(why, sizeof(why), "interrupted: nothing was stored");
		status = 1;
	}
	if (status == 0 && ais_commit(s) < 0) {
		snprintf(why, sizeof(why), "%s", ais_errmsg(s));
		status = 1;
	}
	if (status == 0)
		progress_show(&progress, s, size, true);
	else
		meter_clear(&progress); /* the message takes the line's place */
	if (status != 0)
		fprintf(stderr, "aisput: %s\n", why);
	if (opts.verbose)
		print_stats(s);
	/* Committed: ais_close only frees.  Failed: the library has aborted the
	 * upload already, unless the input or an interrupt ended it: abort. */
	if (status == 0)
		ais_close(s);
	else
		ais_abort(s);
	if (fd != STDIN_FILENO)
		close(fd);
	return status != 0 && interrupted() ? 128 + interrupted() : status;
}
