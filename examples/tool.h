/*
 * tool.h - what the aisfile tools (aiscat, aistar, aisput) share: the
 * progress line, --version, the configuration lines of -v, and catching an
 * interrupt so that an upload is aborted rather than cut off.
 */
#ifndef AISFILE_EXAMPLES_TOOL_H
#define AISFILE_EXAMPLES_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A progress line on stderr, redrawn in place, like curl's meter: bytes
 * done, and when the size is known the percent and the time left. */
struct meter {
	bool enabled;
	double start;      /* monotonic seconds when it started */
	double last_shown; /* 0: not drawn yet */
};

/* Start the clock; an enabled meter draws, a disabled one stays silent. */
void meter_start(struct meter *m, bool enabled);
/*
 * Draw the line for done bytes of total (-1: unknown), with note (the
 * tool's own words, or NULL) at its end: the first call draws at once,
 * later ones at most every 0.25 s.  final draws the totals and ends the
 * line.
 */
void meter_show(struct meter *m, uint64_t done, int64_t total,
                const char *note, bool final);
/* Clear the line, so that a message can take its place. */
void meter_clear(const struct meter *m);

/* "812 B", "1.5 MiB", ... in out, which is returned. */
const char *human_bytes(uint64_t n, char *out, size_t len);

/* The options of aiscat and aisput: -h, --help, -q, -v, --version. */
struct common_options {
	bool quiet;   /* -q: no progress line */
	bool verbose; /* -v: settings before, counters after */
};
/*
 * Parse them (getopt_long, so optind is then at the first operand): -h
 * prints usage to stdout, --version the version.  Returns -1 to go on, or
 * the exit status: 0 after -h or --version, 2 after an unknown option
 * (usage on stderr).
 */
int parse_common_options(int argc, char **argv, const char *prog,
                         void (*usage)(FILE *out), struct common_options *opts);

/* "PROG: why" on stderr after ais_open() or ais_create() failed: the
 * library's message, which names the URL, else the URL and errno's. */
void print_open_failure(const char *prog, const char *url);

/* --version: "PROG (aisfile) VERSION" of the library in use, on stdout. */
void print_version(const char *prog);
/* -v: where each setting for url comes from (ais_config_describe), one
 * "PROG: " line each on stderr.  Nothing when it fails: ais_open() will
 * say why. */
void print_config(const char *prog, const char *url);

/*
 * From now on SIGINT, SIGTERM and SIGHUP only set a flag (and interrupt a
 * blocking read): a tool that writes an object checks it before each piece
 * and before the commit, and aborts the upload, so that an interrupt stores
 * nothing and leaves no parts on the server.
 */
void catch_interrupts(void);
/* The signal caught since catch_interrupts(), or 0. */
int interrupted(void);

#endif
