/*
 * tool.c - what the aisfile tools share: the progress line, --version, the
 * configuration lines of -v, and catching an interrupt.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aisfile.h>

#include "tool.h"

/* Seconds between two redraws of the progress line. */
#define METER_INTERVAL 0.25

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *human_bytes(uint64_t n, char *out, size_t len)
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

/* "0:08", "12:34", "1:02:03" as curl prints the time left; "--:--" when
 * there is no rate to tell it from. */
static const char *time_left(double seconds, char *out, size_t len)
{
	long s;

	if (seconds < 0 || seconds > 359999)
		return snprintf(out, len, "--:--"), out;
	s = (long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
	return out;
}

void meter_start(struct meter *m, bool enabled)
{
	m->enabled = enabled;
	m->start = now_seconds();
	m->last_shown = 0;
}

/*
 * "\r" goes back to the line's start and "\033[K" clears what a longer line
 * left.  The line is written at once: stderr is unbuffered and would
 * flicker.
 */
void meter_show(struct meter *m, uint64_t done, int64_t total,
                const char *note, bool final)
{
	char line[256], bytes[32], size[32], left[32];
	double now, elapsed, rate;
	int used;

	if (!m->enabled)
		return;
	now = now_seconds();
	if (!final && m->last_shown > 0 && now - m->last_shown < METER_INTERVAL)
		return;
	elapsed = now - m->start;
	rate = elapsed > 0 ? (double)done / elapsed : 0;
	human_bytes(done, bytes, sizeof(bytes));
	if (total > 0 && !final)
		used = snprintf(line, sizeof(line), "\r%3d%% %s of %s, %.1f MB/s, "
		                "ETA %s", (int)((double)done * 100 / (double)total),
		                bytes, human_bytes((uint64_t)total, size, sizeof(size)),
		                rate / 1e6, time_left(rate > 0 ? ((double)total -
		                (double)done) / rate : -1, left, sizeof(left)));
	else if (total > 0)
		used = snprintf(line, sizeof(line), "\r%s of %s in %.1f s, %.1f MB/s",
		                bytes, human_bytes((uint64_t)total, size, sizeof(size)),
		                elapsed, rate / 1e6);
	else
		used = snprintf(line, sizeof(line), "\r%s in %.1f s, %.1f MB/s", bytes,
		                elapsed, rate / 1e6);
	if (used < 0 || (size_t)used >= sizeof(line))
		used = (int)sizeof(line) - 1;
	snprintf(line + used, sizeof(line) - (size_t)used, "%s%s\033[K%s",
	         note ? ", " : "", note ? note : "", final ? "\n" : "");
	fputs(line, stderr);
	m->last_shown = now;
}

void meter_clear(const struct meter *m)
{
	if (m->enabled && m->last_shown > 0)
		fputs("\r\033[K", stderr);
}

int parse_common_options(int argc, char **argv, const char *prog,
                         void (*usage)(FILE *out), struct common_options *opts)
{
	enum { OPT_VERSION = 256 };
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*opts = (struct common_options){ false, false };
	while ((opt = getopt_long(argc, argv, "hqv", long_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			print_version(prog);
			return 0;
		case 'q':
			opts->quiet = true;
			break;
		case 'v':
			opts->verbose = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

void print_open_failure(const char *prog, const char *url)
{
	int err = errno;
	const char *msg = ais_last_error();

	if (*msg)
		fprintf(stderr, "%s: %s\n", prog, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, url, strerror(err));
}

void print_version(const char *prog)
{
	printf("%s (aisfile) %s\n", prog, ais_version());
}

void print_config(const char *prog, const char *url)
{
	int len = ais_config_describe(url, NULL, NULL, 0);
	char *text = len > 0 ? malloc((size_t)len + 1) : NULL;

	if (text && ais_config_describe(url, NULL, text, (size_t)len + 1) == len)
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "%s: %s\n", prog, line);
	free(text);
}

static volatile sig_atomic_t caught_signal;

static void note_signal(int sig)
{
	caught_signal = sig;
}

void catch_interrupts(void)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a read(2) waiting on stdin returns EINTR, so the
	 * tool notices at once instead of at the next byte. */
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

int interrupted(void)
{
	return caught_signal;
}
