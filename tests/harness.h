/*
 * harness.h - the real servers the test suites run against.
 *
 * harness_start() generates a fixed set of objects in a private temp dir and
 * serves them with a real nginx on a free 127.0.0.1 port; proxy_start() puts
 * the fault-injection proxy (tests/faultproxy) in front of that nginx.  The
 * tests then talk HTTP to real sockets, as a user's program would.
 *
 * Every object is generated deterministically from a fixed seed, so a test
 * compares what the library returned with harness_object() byte for byte.
 *
 * Threads: harness_object(), the *_url() functions, proxy_log() and
 * proxy_connections() may be called from any thread; everything else from the
 * thread that runs the suites.  nginx and proxies get SIGKILL when that thread
 * dies (PR_SET_PDEATHSIG), so a crashed test leaves no server running (its
 * temp dir does stay behind; only harness_stop() or exit() removes it).
 *
 * Environment: NGINX (default /usr/sbin/nginx), FAULTPROXY (default
 * "faultproxy" next to the test binary), HARNESS_KEEP=1 keeps the temp dir
 * after harness_stop() or a failed start, for a post-mortem.
 */
#ifndef AISFILE_TESTS_HARNESS_H
#define AISFILE_TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* Object names served at http://127.0.0.1:PORT/NAME */
#define OBJ_RANDOM   "random.bin"   /* 8 MiB pseudo-random bytes */
#define OBJ_BIG      "big.bin"      /* 256 MiB pseudo-random bytes */
#define OBJ_TEXT     "text.txt"     /* ~2 MiB text: lines of 0..20000 chars, some empty, some > 8 KiB, ends with a newline */
#define OBJ_EMPTY    "empty.bin"    /* 0 bytes */
#define OBJ_SMALLTAR "small.tar"    /* pax/ustar tar: directories dir00..dir09, 300 files dirNN/fileNNNN.dat of 0..40 KiB */
#define OBJ_LARGETAR "large.tar"    /* tar of 4 members of 32 MiB each, random content */
#define OBJ_ZIP      "members.zip"  /* zip: 3 small deflated text files and 2 stored 8 MiB random members */
#define OBJ_MUTABLE  "mutable.bin"  /* 16 MiB random; tests replace it with harness_replace() */

/*
 * Once per test binary: create the temp dir (under $TMPDIR or /tmp), generate
 * all objects in DIR/objects, start nginx and wait until it answers GET
 * /empty.bin with 200.  Returns 0, or -1 after printing why on stderr.
 * Calling it again while running returns 0.
 */
int harness_start(void);
/* Stop nginx and remove the temp dir.  Safe to call twice, or without start. */
void harness_stop(void);
int harness_port(void);
/* out = "http://127.0.0.1:PORT" + path (path starts with '/'). */
void harness_url(char *out, size_t n, const char *path);
/* The temp dir, and the dir nginx serves.  Valid until harness_stop(). */
const char *harness_dir(void);
const char *harness_objdir(void);
/* malloc'd copy of the object's current bytes on disk, *len set; NULL on
 * error.  Caller frees. */
unsigned char *harness_object(const char *name, size_t *len);
/*
 * Atomically (rename) replace object name with pseudo-random content of the
 * same size, derived from seed, and an mtime 1000 s later than the current
 * one, so nginx's ETag and Last-Modified change.  A request already being
 * answered keeps reading the old bytes.  Returns 0 or -1.
 */
int harness_replace(const char *name, unsigned seed);
/* Put back the object's original content and mtime (as at start).  0 or -1. */
int harness_restore(const char *name);

struct proxy {
	pid_t pid;
	int port;
	char log[512];
	/* Read end of the proxy's stdout.  Held open until proxy_stop() so a
	 * later write by the proxy does not kill it with SIGPIPE. */
	int stdout_fd;
};
/*
 * Start faultproxy -u NGINX_PORT -l LOG SCHEDULE and read the port it listens
 * on from the first line of its stdout (waits at most 5 s).  The log lives in
 * the temp dir, one per proxy.  Needs harness_start().  Returns 0 or -1.
 */
int proxy_start(struct proxy *p, const char *schedule);
/* SIGTERM, then SIGKILL if it has not exited after 2 s.  Safe to call twice. */
void proxy_stop(struct proxy *p);
void proxy_url(const struct proxy *p, char *out, size_t n, const char *path);
/* malloc'd NUL-terminated content of the proxy's log (may be ""), caller
 * frees.  NULL on error. */
char *proxy_log(const struct proxy *p);
/* Number of lines in the log, which is the number of connections accepted;
 * -1 on error. */
int proxy_connections(const struct proxy *p);
/* A loopback TCP port nothing listens on right now (bind port 0, close);
 * -1 on error. */
int harness_free_port(void);

#endif
