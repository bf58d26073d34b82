/*
 * objharness.h - the AIStore-compatible object server (tests/objserver, or
 * $OBJSERVER; what it serves is at the top of tests/objserver.c) as a small
 * cluster for the write tests: one gateway in front of OBJSRV_TARGETS
 * targets, each its own process on a stable 127.0.0.1 port, all sharing
 * one store directory in the harness temp dir.  The gateway redirects each
 * object request to the target that owns it (301 GET, 307 the rest); since
 * the store is shared, every target could serve it.
 *
 * Processes are forked by the harness's launcher thread (harness_spawn()),
 * so they die with the test binary; harness_stop() stops them.
 *
 * Threads: objsrv_start() and objsrv_stop() from the suites' thread only;
 * everything else from any thread once objsrv_start() has returned 0 (a
 * test may kill the servers from a helper thread mid-upload).
 *
 * Each node appends a line per request to its access log (see objsrv_log());
 * counters, faults and leftovers are the cluster's, whichever node is asked.
 */
#ifndef AISFILE_TESTS_OBJHARNESS_H
#define AISFILE_TESTS_OBJHARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OBJSRV_TARGETS 2
/* objsrv_log()'s name for the gateway; targets are 0..OBJSRV_TARGETS-1. */
#define OBJSRV_GATEWAY (-1)

/* Start the gateway and the targets (and harness_start() if needed) and
 * wait until each answers (at most 10 s each).  Calling it again while
 * running returns 0.  0, or -1 after printing why on stderr. */
int objsrv_start(void);
/* Stop every node; the store stays until harness_stop().  Safe twice. */
void objsrv_stop(void);

/* out = "http://127.0.0.1:GATEWAY_PORT/v1/objects/" + bucket_obj +
 * "?provider=ais".  bucket_obj is "BUCKET/OBJECT" as it goes into a URL
 * (percent-encoded where it must be). */
void objsrv_url(char *out, size_t n, const char *bucket_obj);
/* The same on target i, bypassing the gateway; "" for a bad i. */
void objsrv_target_url(char *out, size_t n, int target, const char *bucket_obj);
/* Port of target i, or of the gateway for OBJSRV_GATEWAY; the same across
 * kills and restarts.  -1 if there is no such node. */
int objsrv_port(int node);

/* SIGKILL every node and reap it (connections reset, uploads in flight cut;
 * what was committed stays).  0. */
int objsrv_kill(void);
/* SIGKILL only target i (the gateway keeps redirecting to it).  0, or -1
 * for a bad i. */
int objsrv_kill_target(int target);
/* Start every node that is not running, on its old port, and wait until it
 * answers.  0, or -1 after printing why on stderr. */
int objsrv_restart(void);

/* The cluster's counters as GET /_ctl/stats gives them ("mpt-upload=1
 * part=5 part-retry=1 complete=1 abort=0 put=0 ..."), in buf.  0 or -1. */
int objsrv_stats(char *buf, size_t n);
/* One counter of objsrv_stats() by name ("part-retry"); -1 if unknown or
 * the cluster does not answer. */
long long objsrv_stat(const char *counter);
/* Zero the counters and disarm every fault.  0 or -1. */
int objsrv_reset(void);
/*
 * Arm a one-shot fault: the nth request of kind op ("mpt-upload", "part",
 * "complete", "abort", "put", "get", "head", "delete") that a target gets
 * from now on gets action: "503" (answered 503, nothing stored) or "cut"
 * (after `after` bytes of its body, or half its Content-Length when after
 * is -1, the connection is reset without an answer).  0 or -1.
 */
int objsrv_fault(const char *op, int nth, const char *action, long long after);
/* Unfinished uploads + their part files + temp files in the store: 0 when
 * nothing was left behind; -1 if the cluster does not answer.  (GET
 * /_ctl/uploads on objsrv_port(node) lists them.) */
int objsrv_leftovers(void);

/* malloc'd copy of the stored object's bytes read straight from the store
 * directory (bucket and obj as stored: not percent-encoded): its manifest,
 * then its chunks (the layout is in tests/objserver.h), *len set.  NULL
 * with errno ENOENT if there is no such object, EIO if what is stored is
 * broken.  Caller frees. */
unsigned char *objsrv_read_object(const char *bucket, const char *obj, size_t *len);
/* The same for bytes [offset, offset + n) of it (fewer past its end) into
 * buf, and its size into *size (unless NULL): the count of bytes, or -1
 * with errno as above. */
ssize_t objsrv_pread_object(const char *bucket, const char *obj, void *buf, size_t n,
			    uint64_t offset, uint64_t *size);
/* The store directory (DIR/objstore).  Valid until harness_stop(). */
const char *objsrv_store_dir(void);
/* malloc'd NUL-terminated access log of a node (OBJSRV_GATEWAY or a target
 * index): a line "REQUEST-LINE|RANGE|BODY-BYTES|STATUS" per request, written
 * after the answer; "" if none yet.  NULL on error.  Caller frees. */
char *objsrv_log(int node);

#endif
