/*
 * objserver.h - the parts of tests/objserver (an AIStore-compatible object
 * server for the write tests; objserver.c says what it serves) that its
 * files share:
 *
 *   objserver_http.c   HTTP/1.1 messages on one connection: request heads,
 *                      bodies (Content-Length, chunked, 100-continue),
 *                      responses, keep-alive and how a connection ends;
 *   objserver_store.c  the store on disk: object names, objects, their
 *                      versions and checksums;
 *   objserver_upload.c multipart uploads in the store;
 *   objserver_state.c  the counters and faults every node of one cluster
 *                      shares;
 *   objserver_target.c a target's answers to object and multipart requests;
 *   objserver.c        the program: command line, connections, routing,
 *                      errors and the access log, the gateway, /_ctl.
 *
 * Nothing here is a library: it is one test program, split by concern.
 */
#ifndef AISFILE_TESTS_OBJSERVER_H
#define AISFILE_TESTS_OBJSERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- errors --------------------------------------------------------------- */

/* Why a request failed: the status to answer and the message that goes into
 * AIStore's JSON error body. */
struct reply_error {
	int status;
	char message[1024];
};

/* Fill e and return -1, so that a failure path is one line. */
int reply_fail(struct reply_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- HTTP (objserver_http.c) ---------------------------------------------- */

/* Longest request head (request line and headers) we read; a longer one is
 * answered 431, as Go's net/http (and so AIStore) does. */
#define HTTP_HEAD_LIMIT (16 * 1024)

/* One client connection.  Bytes read past the current request's head wait in
 * buf for its body or the next (pipelined) request. */
struct http_conn {
	int fd;
	char peer[64];    /* "127.0.0.1:PORT" */
	char *buf;        /* HTTP_CONN_BUFFER bytes */
	size_t start;     /* unread bytes are buf[start, end) */
	size_t end;
	bool broken;      /* reading or sending failed: no further request */
	bool aborted;     /* reset by http_abort(): nothing more to do */
};

enum http_body_kind { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

/* How reading a request body went wrong: the client stopped sending (closed,
 * reset, or went silent for HTTP_READ_TIMEOUT_MS), or sent a broken chunk. */
enum http_body_error { HTTP_BODY_FINE, HTTP_BODY_CUT, HTTP_BODY_MALFORMED };

/*
 * One request.  Its strings point into head, a private copy of the request
 * head, and stay valid until the next http_read_request() on the connection.
 */
struct http_request {
	struct http_conn *conn;
	char head[HTTP_HEAD_LIMIT + 1];
	const char *method;       /* "" until the request line parsed */
	const char *target;       /* path and query as sent */
	const char *path;         /* target up to '?', a copy */
	const char *query;        /* after '?', or "" */
	const char *version;      /* "HTTP/1.1" */
	const char *range;        /* Range header, or NULL */
	const char *user_agent;   /* or NULL */
	bool head_only;           /* HEAD: headers but no body in responses */
	bool expect_continue;     /* the client waits for 100 Continue */
	bool continue_sent;
	enum http_body_kind body;
	uint64_t left;            /* bytes left in the body, or in its chunk */
	bool body_done;
	enum http_body_error body_error;
	uint64_t received;        /* body bytes read so far */
	bool keep_alive;          /* another request may follow on conn */
	/* What was answered, for the access log: the status, 0 if nothing
	 * (the client went away), HTTP_STATUS_CUT if a fault reset it. */
	int status;
	char path_copy[HTTP_HEAD_LIMIT + 1];
};

#define HTTP_STATUS_CUT (-1)

/* Take ownership of fd; -1 if out of memory (fd closed). */
int http_conn_init(struct http_conn *c, int fd, const char *peer);
/* End the connection: a lingering close that lets the client read our
 * last answer (unless it was reset), and free the buffer. */
void http_conn_finish(struct http_conn *c);

/*
 * Read and parse the next request head on c into rq.  Returns 0 for a
 * request; -1 when the connection ended first (closed, reset, idle for
 * HTTP_READ_TIMEOUT_MS) and there is nothing to answer; or an error status
 * (400, 417, 431, 501, 505) with *why set, which the caller answers before
 * closing the connection.
 */
int http_read_request(struct http_conn *c, struct http_request *rq, const char **why);

/* Up to n bytes of the request body: > 0, 0 at its end, -1 when it cannot
 * be read (rq->body_error says why).  The first call sends 100 Continue if
 * the client asked for it. */
ssize_t http_body_read(struct http_request *rq, void *buf, size_t n);
/* Read the whole body into a malloc'd NUL-terminated buffer of at most
 * limit bytes: 0, or -1 with e set (413 too large, 400 malformed or cut). */
int http_body_read_all(struct http_request *rq, size_t limit, char **out, size_t *len,
		       struct reply_error *e);

/* length bytes of fd from offset: a piece of a response body. */
struct file_piece {
	int fd;
	off_t offset;
	uint64_t length;
};

/*
 * Answer rq with status, headers (complete lines, each ending "\r\n", or
 * NULL) and body[0..len) (no body for HEAD; Content-Length says len even
 * then).  A body the client has not finished sending is read and dropped
 * first where that is cheap, else the connection closes after the answer.
 * 0, or -1 if sending failed.
 */
int http_respond(struct http_request *rq, int status, const char *headers,
		 const void *body, size_t len);
/* The same with the files' bytes pieces[0..count), one after the other, as
 * the body: Content-Length says their sum. */
int http_respond_pieces(struct http_request *rq, int status, const char *headers,
			const struct file_piece *pieces, size_t count);
/* Reset the connection (RST, no answer): what a fault "cut" does. */
void http_abort(struct http_request *rq);

/* Decimal digits at *p (advanced past them) into *out: false if there are
 * none or they overflow. */
bool http_parse_u64(const char **p, uint64_t *out);
/* The value of key in query "a=1&b=2", percent-decoded ('+' is a space)
 * into out: 1, 0 if absent, -1 if malformed or longer than n - 1. */
int http_query_get(const char *query, const char *key, char *out, size_t n);

/* ---- the store (objserver_store.c) ---------------------------------------- */

/*
 * Layout of a store directory, shared by every node of one cluster:
 *
 *   STORE/BUCKET/OBJECT          the object's manifest (below), nothing else
 *   STORE/.objserver/chunks/ID/  the bytes of one object version: chunks
 *                                part-NNNNNNNNNN (1..COUNT, in order), and
 *                                "object": bucket, NUL, object name (whose)
 *   STORE/.objserver/uploads/ID/ one multipart upload: "object", part-
 *                                NNNNNNNNNN files, seen-N markers (part N
 *                                was sent before), "hash": the running
 *                                XXH64 of parts 1..next-1 (objserver_
 *                                upload.c); mpt-complete renames the
 *                                directory to chunks/ID
 *   STORE/.objserver/tmp/        bodies being received, manifests being
 *                                written, a PUT's chunk directory being
 *                                made: PID.SEQ.RANDOM
 *   STORE/.objserver/trash/      uploads and replaced versions' chunks
 *                                being removed, PID.ID
 *   STORE/.objserver/state       counters and armed faults (struct in
 *                                objserver_state.c), under flock
 *   STORE/.objserver/lock        flock'd: shared to read a manifest and
 *                                open its chunks, exclusive to change one
 *
 * A manifest is text, one field a line, every number decimal but XXH64:
 *
 *   objserver-object 1
 *   version VERSION               1 for the first version
 *   size SIZE                     the object's bytes: the chunks' sum
 *   xxh64 HEX16                   XXH64, seed 0, of the whole object
 *   chunks ID COUNT               its chunk directory, COUNT >= 1 chunks
 *   SIZE-OF-CHUNK-1
 *   ...
 *   SIZE-OF-CHUNK-COUNT
 *
 * (AIStore's chunk manifest, core/ufest.go, in short).  The ETag is the
 * XXH64.  A commit, all under the exclusive lock: the manifest is written
 * to tmp/, the new chunk directory renamed to chunks/ID, the manifest
 * renamed over the object (the switch, the one step a reader can see), the
 * old version's chunk directory renamed into trash/, and removed once the
 * lock is let go.  A reader reads the manifest and opens the chunks it will
 * send under the shared lock.  A chunk directory whose owner's manifest
 * names another (a node killed mid-commit) is removed by the next node to
 * start.
 *
 * Bucket names cannot start with '.', so .objserver never clashes.
 */
struct store {
	char root[PATH_MAX];
	char sys[PATH_MAX];
};

/* A decoded object name: the bytes after percent-decoding. */
struct object_name {
	char bucket[NAME_MAX + 1];
	char object[PATH_MAX];
};

/* What a reader or writer learns about an object. */
struct object_info {
	uint64_t size;
	uint64_t version;    /* 1 for the first version */
	uint64_t cksum;      /* XXH64, seed 0, of the whole object */
};

/* An object open for reading: bytes [from, from + length) of one version,
 * as pieces of its chunk files, in order. */
struct object_reader {
	struct object_info info;
	uint64_t from, length;
	struct file_piece *pieces;   /* malloc'd, count of them; fds open */
	size_t count;
};

/* Which bytes of an object of size bytes a reader will send: [*from,
 * *from + *length), *length 0 for none (a HEAD, an unsatisfiable range). */
typedef void choose_bytes_fn(void *arg, uint64_t size, uint64_t *from, uint64_t *length);

/* A request body on its way into the store. */
struct store_temp {
	int fd;
	char path[PATH_MAX];
	void *hash;          /* XXH64_state_t, or NULL: not hashed */
	uint64_t size;
};

/* The chunks of an object's next version, ready for store_commit(): dir
 * holds part-NNNNNNNNNN (1..count, sizes[i - 1] bytes each) and "object",
 * and becomes chunks/id. */
struct new_version {
	const char *dir;
	const char *id;
	const uint64_t *sizes;
	size_t count;
	uint64_t cksum;      /* XXH64 of the whole */
};

/* Upload and chunk directory IDs we make: 16 hex digits. */
#define STORE_ID_BYTES 8
#define UPLOAD_ID_MAX 64

/* Create the layout under root (which must exist) and remove what dead
 * processes left in tmp/, trash/ and chunks/.  0 or -1 with a message on
 * stderr. */
int store_open(struct store *s, const char *root);

/* Split "/v1/objects/BUCKET/OBJECT" (raw, percent-encoded) into n.
 * 0, or -1 with e: 400 for a name that is malformed or would escape. */
int object_name_parse(const char *raw_path, struct object_name *n, struct reply_error *e);

/* Open the object for reading: its manifest, then (choose says which bytes,
 * once the size is known) the chunks that hold them.  0, or -1 with e (404
 * if there is no such object).  The caller calls store_object_close(). */
int store_object_open(struct store *s, const struct object_name *n, choose_bytes_fn *choose,
		      void *arg, struct object_reader *r, struct reply_error *e);
void store_object_close(struct object_reader *r);
/* Remove the object and its chunks: 0, or -1 with e (404 if missing). */
int store_object_delete(struct store *s, const struct object_name *n, struct reply_error *e);

/* A temp file, hashed as it is written when the XXH64 of its bytes will be
 * wanted (a PUT's body; not a part: parts are hashed in order once there).
 * 0, or -1 with e. */
int store_temp_create(struct store *s, struct store_temp *t, bool hashed, struct reply_error *e);
int store_temp_write(struct store_temp *t, const void *buf, size_t n, struct reply_error *e);
/* Remove the temp file (after a failure); safe on a consumed temp. */
void store_temp_discard(struct store_temp *t);
/* Close the temp's file, keeping its path (what it holds is final), with
 * its stat in st.  0, or -1 with e. */
int store_temp_close(struct store_temp *t, struct stat *st, struct reply_error *e);
/* Make the complete hashed temp the object's next version, of one chunk; the temp is consumed either way.  0 (info set), or -1 with e. */
int store_put(struct store *s, struct store_temp *t, const struct object_name *n,
	      struct object_info *info, struct reply_error *e);
/* Make v the object's next version: 0 with info set and v->dir gone, or -1
 * with e and nothing changed (v->dir still there). */
int store_commit(struct store *s, const struct object_name *n, const struct new_version *v,
		 struct object_info *info, struct reply_error *e);

/* What objserver_upload.c and objserver_state.c build on. */
/* snprintf into a PATH_MAX buffer: 0, or -1 if it did not fit. */
int store_path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remove path and everything under it, as far as possible. */
void store_remove_tree(const char *path);
/* flock .objserver/NAME shared or exclusive (LOCK_SH, LOCK_EX), on an open
 * file description of its own, so that it excludes other threads as well as
 * other processes: the fd to close to let go, or -1. */
int store_lock(const struct store *s, const char *name, int how);
/* A new random ID (2 * STORE_ID_BYTES hex digits) into id.  0 or -1. */
int store_random_id(char id[2 * STORE_ID_BYTES + 1]);
/* Whether id can be an upload or chunk directory ID (and so a path
 * component): [0-9A-Za-z_-], at most UPLOAD_ID_MAX. */
bool store_valid_id(const char *id);
/* chunks/ID, and the path of chunk or part number in dir. 0, or -1 if too
 * long. */
int store_chunk_dir(const struct store *s, const char *id, char *out);
int store_part_path(char *out, const char *dir, uint64_t number);
/* Chunk directories that no manifest names (a node was killed mid-commit),
 * counted, and removed if remove.  -1 on error. */
long store_orphaned_chunks(struct store *s, bool remove);
/* Write dir/object, the record of whose upload or chunks dir holds.  0 or
 * -1 with errno. */
int store_owner_write(const char *dir, const struct object_name *n);
/* Read such a record from fd into n: 0, or -1 if it is not one. */
int store_owner_read(int fd, struct object_name *n);

/* ---- multipart uploads (objserver_upload.c) ------------------------------- */

/* Start an upload of n: its new ID in id.  0, or -1 with e. */
int upload_create(struct store *s, const struct object_name *n, char id[UPLOAD_ID_MAX + 1],
		  struct reply_error *e);
/* Note an attempt to send part of upload id of n; *retry says whether that
 * part number was sent before.  0, or -1 with e (404 unknown upload). */
int upload_note_attempt(struct store *s, const char *id, const struct object_name *n,
			int32_t part, bool *retry, struct reply_error *e);
/* Make the complete temp part `part` of the upload, replacing an earlier
 * one; the temp is consumed either way.  0, or -1 with e. */
int upload_put_part(struct store *s, const char *id, const struct object_name *n,
		    int32_t part, struct store_temp *t, struct reply_error *e);
/* Make parts[0..count) (part numbers, in any order: sorted here) the
 * object's chunks, in order, and so end the upload; the parts are not
 * copied, and read again for the checksum only if the running hash does not
 * cover exactly them.  On -1 (e set) nothing was
 * committed and the upload is as it was. */
int upload_complete(struct store *s, const char *id, const struct object_name *n,
		    int32_t *parts, size_t count, struct object_info *info,
		    struct reply_error *e);
/* Remove the upload and its parts.  0, or -1 with e (404 unknown). */
int upload_abort(struct store *s, const char *id, const struct object_name *n,
		 struct reply_error *e);
/* malloc'd "uploads=U parts=P tmp=T\n" and a line "ID BUCKET/OBJECT
 * PARTS" per upload; tmp counts tmp/ and trash/ entries and chunk
 * directories no manifest names.  NULL on error. */
char *store_leftovers(struct store *s);

/* ---- counters and faults (objserver_state.c) ------------------------------ */

/* Request kinds, counted by the nodes that serve them; the first
 * COUNTER_OPS are also what a fault can be armed on. */
enum counter {
	COUNT_MPT_UPLOAD, COUNT_PART, COUNT_COMPLETE, COUNT_ABORT,
	COUNT_PUT, COUNT_GET, COUNT_HEAD, COUNT_DELETE,
	COUNTER_OPS,
	COUNT_PART_RETRY = COUNTER_OPS, COUNT_REDIRECT, COUNT_FAULT_503, COUNT_FAULT_CUT,
	COUNTERS
};

extern const char *const counter_names[COUNTERS];

enum fault_action { FAULT_NONE, FAULT_503, FAULT_CUT };

/* A fault that fired on this request. */
struct fault_hit {
	enum fault_action action;
	uint64_t cut_after;  /* FAULT_CUT: body bytes to read before the reset;
			      * UINT64_MAX: half of Content-Length */
};

/* Count a request of kind (and a part retry), and fire the fault armed on
 * the Nth request of that kind if this is it. */
struct fault_hit state_count(struct store *s, enum counter kind, bool retry);
/* Arm a one-shot fault: the nth request of kind from now gets action.
 * 0, or -1 with e. */
int state_arm_fault(struct store *s, enum counter kind, uint64_t nth, enum fault_action action,
		    uint64_t cut_after, struct reply_error *e);
/* Zero the counters and disarm every fault.  0, or -1 with e. */
int state_reset(struct store *s, struct reply_error *e);
/* "mpt-upload=1 part=5 ...\n" into out.  0, or -1 with e. */
int state_format(struct store *s, char *out, size_t n, struct reply_error *e);

/* ---- answers (objserver.c, objserver_target.c) ---------------------------- */

/* AIStore's JSON error (body, or Hdr-Error for HEAD), with extra headers
 * (complete lines, or NULL). */
void respond_error_with(struct http_request *rq, int status, const char *headers,
			const char *message);
void respond_error(struct http_request *rq, int status, const char *message);
void respond_failure(struct http_request *rq, const struct reply_error *e);
/* 200 with text/plain. */
void respond_text(struct http_request *rq, const char *text);
/* Answer a request under /v1/objects/ as a target of store s. */
void serve_target(struct store *s, struct http_request *rq);

#endif
