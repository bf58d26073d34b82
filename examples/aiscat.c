/*
 * aiscat - write an object in a remote object store to stdout.
 *
 *     aiscat [-h] [-q] [-v] [--version] URL
 *
 * The example of the zero-copy read: ais_next() hands out the buffer the
 * transport filled and write(2) sends it straight to stdout, so no byte is
 * copied on the way.  Broken connections are resumed inside the library; the
 * progress line and -v show how often that happened, and -v where each
 * setting came from.
 *
 * Exit status: 0 done, 1 open, read or write failed, 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <aisfile.h>

#include "tool.h"

static void usage(FILE *out)
{
	fputs("usage: aiscat [-h] [-q] [-v] [--version] URL\n"
	      "Write the object at URL (http://, https://, ais://BUCKET/OBJECT) to stdout.\n"
	      "  -h, --help  show this help and exit\n"
	      "  -q          quiet: no progress or summary line on a terminal\n"
	      "  -v          print where each setting came from, and the stream's\n"
	      "              counters at the end, to stderr\n"
	      "  --version   print the version and exit\n",
	      out);
}

/* The progress line: bytes delivered of the size, and the resumes. */
static void progress_show(struct meter *m, const ais_stream *s, bool final)
{
	struct ais_stats stats;
	char note[32];

	if (!m->enabled)
		return;
	ais_stats(s, &stats);
	snprintf(note, sizeof(note), "%" PRIu64 " resumes", stats.resumes);
	meter_show(m, stats.bytes_delivered, ais_size(s), note, final);
}

/* The fixed one-line format that tests and the demo parse. */
static void print_stats(const ais_stream *s)
{
	struct ais_stats st;

	if (ais_stats(s, &st) < 0)
		return;
	fprintf(stderr, "aiscat: requests=%" PRIu64 " resumes=%" PRIu64
		" failures=%" PRIu64 " received=%" PRIu64 " discarded=%" PRIu64
		" delivered=%" PRIu64 " copied=%" PRIu64 "\n",
		st.requests, st.resumes, st.failures, st.bytes_received,
		st.bytes_discarded, st.bytes_delivered, st.bytes_copied);
}

/* write(2) may take less than asked (pipes, signals): loop until all is out. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy the object to stdout.  Returns 0, or -1 with the reason in why (so
 * that the caller can first finish the progress line, then print it).
 */
static int copy_to_stdout(ais_stream *s, struct meter *progress,
			  char *why, size_t why_len)
{
	for (;;) {
		const void *buf;
		ssize_t n = ais_next(s, &buf);

		if (n == 0)
			return 0;
		if (n < 0) {
			int err = errno;
			const char *msg = ais_errmsg(s);

			snprintf(why, why_len, "%s", *msg ? msg : strerror(err));
			return -1;
		}
		/* buf is valid only until the next call on s: write it out now. */
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			snprintf(why, why_len, "write to stdout: %s", strerror(errno));
			return -1;
		}
		progress_show(progress, s, false);
	}
}

int main(int argc, char **argv)
{
	struct common_options opts;
	struct meter progress;
	char why[512];
	const char *url;
	ais_stream *s;
	int status;

	if ((status = parse_common_options(argc, argv, "aiscat", usage, &opts)) >= 0)
		return status;
	status = 0;
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	url = argv[optind];

	/* A closed pipe is a write error to report, not a silent SIGPIPE death. */
	signal(SIGPIPE, SIG_IGN);

	/* When the data itself goes to the terminal, a progress line would be
	 * drawn over it, so show one only when stdout goes elsewhere. */
	meter_start(&progress, !opts.quiet && isatty(STDERR_FILENO) &&
	            !isatty(STDOUT_FILENO));
	if (opts.verbose)
		print_config("aiscat", url);
	s = ais_open(url, NULL);
	if (s == NULL) {
		print_open_failure("aiscat", url);
		return 1;
	}

	if (copy_to_stdout(s, &progress, why, sizeof(why)) < 0)
		status = 1;
	progress_show(&progress, s, true); /* before the error, which goes below it */
	if (status != 0)
		fprintf(stderr, "aiscat: %s\n", why);
	if (opts.verbose)
		print_stats(s);
	ais_close(s);
	return status;
}
