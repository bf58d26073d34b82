/*
 * aiscat - write an object in a remote object store to stdout.
 *
 *     aiscat [-h] [-q] [-v] URL
 *
 * The example of the zero-copy read: ais_next() hands out the buffer the
 * transport filled and write(2) sends it straight to stdout, so no byte is
 * copied on the way.  Broken connections are resumed inside the library; the
 * progress line and -v show how often that happened.
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
#include <time.h>
#include <unistd.h>

#include <aisfile.h>

/* Seconds between two refreshes of the progress line. */
#define PROGRESS_INTERVAL 0.25

struct progress {
	bool enabled;
	double start;      /* CLOCK_MONOTONIC seconds, before ais_open() */
	double last_shown;
};

static void usage(FILE *out)
{
	fputs("usage: aiscat [-h] [-q] [-v] URL\n"
	      "Write the object at URL (http://, https://, ais://BUCKET/OBJECT) to stdout.\n"
	      "  -h  show this help and exit\n"
	      "  -q  quiet: no progress or summary line on a terminal\n"
	      "  -v  print the stream's counters to stderr at the end\n",
	      out);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "812 B", "1.5 MiB", ... in out, which is returned for use in printf. */
static const char *human_bytes(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double value = (double)n;
	size_t unit = 0;

	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(out, len, "%" PRIu64 " B", n);
	else
		snprintf(out, len, "%.1f %s", value, units[unit]);
	return out;
}

/*
 * Redraw the progress line at most every PROGRESS_INTERVAL; the final call
 * always draws, with a newline so that the totals stay on the screen.  "\r"
 * goes back to the line's start and "\033[K" clears what a longer line left.
 * The line is written at once: stderr is unbuffered and would flicker.
 */
static void progress_show(struct progress *p, const ais_stream *s, bool final)
{
	struct ais_stats stats;
	char line[160], done[32], total[32];
	int64_t size = ais_size(s);
	double now, elapsed, rate;
	int used;

	if (!p->enabled)
		return;
	now = now_seconds();
	if (!final && now - p->last_shown < PROGRESS_INTERVAL)
		return;
	elapsed = now - p->start;
	ais_stats(s, &stats);
	rate = elapsed > 0 ? (double)stats.bytes_delivered / elapsed / 1e6 : 0;
	used = snprintf(line, sizeof(line), "\r%s",
			human_bytes(stats.bytes_delivered, done, sizeof(done)));
	if (size > 0)
		used += snprintf(line + used, sizeof(line) - used, " of %s (%.0f%%)",
				 human_bytes((uint64_t)size, total, sizeof(total)),
				 100.0 * (double)stats.bytes_delivered / (double)size);
	snprintf(line + used, sizeof(line) - used,
		 " in %.1f s, %.1f MB/s, %" PRIu64 " resumes\033[K%s",
		 elapsed, rate, stats.resumes, final ? "\n" : "");
	fputs(line, stderr);
	p->last_shown = now;
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
static int copy_to_stdout(ais_stream *s, struct progress *progress,
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
	struct progress progress = { 0 };
	bool quiet = false, verbose = false;
	char why[512];
	const char *url;
	ais_stream *s;
	int opt, status = 0;

	while ((opt = getopt(argc, argv, "hqv")) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	url = argv[optind];

	/* A closed pipe is a write error to report, not a silent SIGPIPE death. */
	signal(SIGPIPE, SIG_IGN);

	/* When the data itself goes to the terminal, a progress line would be
	 * drawn over it, so show one only when stdout goes elsewhere. */
	progress.enabled = !quiet && isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
	progress.start = progress.last_shown = now_seconds();

	s = ais_open(url, NULL);
	if (s == NULL) {
		int err = errno;
		const char *msg = ais_last_error();

		/* The library's message already names the URL. */
		if (*msg)
			fprintf(stderr, "aiscat: %s\n", msg);
		else
			fprintf(stderr, "aiscat: %s: %s\n", url, strerror(err));
		return 1;
	}

	if (copy_to_stdout(s, &progress, why, sizeof(why)) < 0)
		status = 1;
	progress_show(&progress, s, true); /* before the error, which goes below it */
	if (status != 0)
		fprintf(stderr, "aiscat: %s\n", why);
	if (verbose)
		print_stats(s);
	ais_close(s);
	return status;
}
