/*
 * suites.h - the CUnit suites of test_aisfile and the helpers they share.
 * Every suite runs against the real nginx that main() starts (harness.h).
 */
#ifndef AISFILE_TESTS_SUITES_H
#define AISFILE_TESTS_SUITES_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

#include "aisfile.h"
#include "harness.h"

/* Each test file registers its suite. */
int register_url_suite(void);
int register_read_suite(void);
int register_fault_suite(void);
int register_seek_suite(void);
int register_stdio_suite(void);
int register_archive_suite(void);
int register_cluster_suite(void);
int register_tls_suite(void);
int register_tools_suite(void);
int register_readahead_suite(void);
int register_client_suite(void);
int register_redirect_suite(void);
int register_hostile_suite(void);
int register_verify_suite(void);
int register_config_suite(void);
int register_objserver_suite(void);
int register_write_suite(void);

/* Register a suite from a NULL-terminated table; returns 0 or -1. */
struct test_case {
	const char *name;
	void (*fn)(void);
};
int add_suite(const char *name, const struct test_case *tests);
/* The tests of the tools that write (test_tools_write.c), which run in the
 * example tools suite. */
extern const struct test_case tools_write_tests[];
/* The same, with an init run before the suite (0 = ready; else the suite's
 * tests are reported as failed). */
int add_suite_with_init(const char *name, int (*init)(void),
                        const struct test_case *tests);
/* The same, with setup run before and teardown after each test, even one
 * that a _FATAL assertion ended. */
int add_suite_with_setup(const char *name, void (*setup)(void),
                         void (*teardown)(void),
                         const struct test_case *tests);

/* The next of 8 static rotating buffers of URL_SLOT_SIZE bytes, for helpers
 * that return a URL; the suites' thread only. */
#define URL_SLOT_SIZE 512
char *url_slot(void);
/* URL of path on the test nginx, in a static rotating buffer (8 slots). */
const char *url_of(const char *path);
/* URL of path through proxy p, same buffers. */
const char *proxied(const struct proxy *p, const char *path);

/* Options for fault tests: stalls noticed after 1 s, short backoffs. */
struct ais_options fast_options(void);

/* Read s to the end with ais_next into a malloc'd buffer (*len set).  On a
 * read failure returns what was read so far and sets *err to errno, else 0. */
unsigned char *drain_next(ais_stream *s, size_t *len, int *err);

/* Assert that got[0..len) equals the start of object name. */
void assert_object_prefix(const char *name, const unsigned char *got,
                          size_t len);
/* Assert that got is exactly object name. */
void assert_object_equal(const char *name, const unsigned char *got,
                         size_t len);
/* Whether got[0..len) equals bytes [offset, offset + len) of object name,
 * read from disk, so a caller need not hold a 256 MiB object in memory. */
int object_matches(const char *name, uint64_t offset, const void *got,
                   size_t len);
/* 1 if s yields the bytes of object name, checked piece by piece with
 * ais_next, from its position up to stop, or to the end and no further when
 * stop is -1; 0 on a mismatch or a failure (whose message it prints). */
int stream_matches_object(ais_stream *s, const char *name, int64_t stop);
/* Open url with o on the default client and read object name to the end;
 * 1 if byte-exact (else 0, and why on stderr).  *st gets the stream's
 * counters when st is not NULL. */
int read_exact(const char *url, const struct ais_options *o,
               const char *name, struct ais_stats *st);
/* Assert that ais_open(url, NULL) fails with errno err and a message that
 * holds words. */
void expect_open_fails(const char *url, int err, const char *words);

/* The example tools as commands (runtool.c).  tool_path("aiscat") is
 * $AISCAT (the name in capitals), else examples/aiscat beside the test
 * binary; the string stays valid for 4 more calls. */
const char *tool_path(const char *name);
struct run {
	int status;     /* exit status, or -1 when it did not exit */
	char *out;      /* what it printed, NUL-terminated, malloc'd */
	char *err;
};
/* Run argv (argv[0] a path) with stdin from /dev/null and stdout and stderr
 * captured; the environment is the caller's. */
struct run run_tool(char *const argv[]);
/* The same with stderr on a pseudo-terminal: err is what it showed. */
struct run run_tool_on_terminal(char *const argv[]);
/* The same with stdin from a pipe fed data, then closed. */
struct run run_tool_fed(char *const argv[], const void *data, size_t len);
/* In steps: start argv with stdin from a pipe whose writing end is *feed
 * (close it for the end of input); the pid, or -1 with *feed -1. */
pid_t start_tool_fed(char *const argv[], int *feed);
/* Write all of data to feed (blocking while the tool does not read); 0, or
 * -1 when the tool closed its end. */
int feed_tool(int feed, const void *data, size_t len);
/* Wait for a tool start_tool_fed() started and collect what it printed. */
struct run finish_tool(pid_t pid);
void run_free(struct run *r);

#endif
