/*
 * objserver - an AIStore-compatible object server for the write tests: the
 * native object API and its multipart upload, over real loopback sockets.
 * AIStore itself is not packaged for Debian; this speaks the part of its
 * protocol a client of objects uses (NVIDIA/aistore api/mpt.go,
 * ais/proxy.go, ais/target.go, ais/tgtmpt.go, cmn/err.go).
 *
 * usage: objserver -d STORE [-a ADDRESS] [-p PORT] [-l LOG] [-n NAME]
 *                  [-g PORT[,PORT...]]
 *
 *   -d STORE  the store directory (must exist), shared by every node of a
 *             cluster, gateway included (layout: objserver.h)
 *   -a ADDR   the IPv4 loopback address to listen on (default 127.0.0.1;
 *             anything outside 127.0.0.0/8 is refused)
 *   -p PORT   the port (default 0: the kernel picks); SO_REUSEADDR, so a
 *             restarted node gets its port back at once
 *   -l LOG    append one line per answered request: "REQUEST-LINE|RANGE|
 *             BODY-BYTES-RECEIVED|STATUS", e.g.
 *             "PUT /v1/objects/b/o?provider=ais HTTP/1.1|-|4096|200"; STATUS
 *             is "cut" when a fault reset the request, 499 when the client
 *             went away first (nginx's code); /_ctl requests are left out
 *   -n NAME   the node's name in error bodies: "t[NAME]", "p[NAME]"
 *   -g PORTS  run as the gateway in front of the targets on these ports
 *             (same address)
 *
 * Prints the port it listens on as the first line of stdout.  SIGTERM and
 * SIGINT exit 0; a port already taken exits 98 (EADDRINUSE), so a harness
 * can pick another; bad arguments exit 2.
 *
 * A target serves, under /v1/objects/BUCKET/OBJECT?provider=ais (OBJECT
 * percent-decoded byte for byte, '/' making directories; empty, "." and
 * ".." segments are 400):
 *   GET     the object, 200, or 206 for "Range: bytes=A-B", "A-", "-N";
 *           416 with "Content-Range: bytes * /SIZE" if unsatisfiable,
 *           malformed or multi-range ("* /" has a space only so as not to
 *           end this comment); headers Content-Length,
 *           ETag ("XXH64 hex"), Ais-Version (1, 2, ... per object),
 *           Ais-Checksum-Type: xxhash2, Ais-Checksum-Value (XXH64, seed 0,
 *           16 lowercase hex digits, of the whole object even for a range)
 *   HEAD    the same headers, no body
 *   PUT     the body becomes the object, atomically (temp file + rename);
 *           a body cut short leaves the old object and no temp file
 *   DELETE  removes the object
 *   multipart, as api/mpt.go sends it:
 *   POST {"action":"mpt-upload"}            200, body = the upload ID
 *   PUT ?uploadId=ID&partNumber=N (N >= 1)  200, stores part N; sending N
 *                                           again replaces it (a retry)
 *   POST ?uploadId=ID {"action":"mpt-complete","value":[{"part-number":1,
 *        "etag":""},...]}  concatenates the parts into the object atomically
 *        and removes the upload.  As AIStore: the sorted list must be
 *        exactly 1..N (else 400) and name every part uploaded (else 501);
 *        a listed part never uploaded is 400.  Nothing is committed on error.
 *   DELETE ?uploadId=ID {"action":"mpt-abort"}  removes the upload
 *   An unknown upload ID is 404.  Buckets need no creating.
 * Errors are AIStore's JSON (application/json): {"message","method",
 * "url_path","remote_addr","caller","node","status"}; for HEAD in the
 * Hdr-Error header instead of a body.
 *
 * The gateway (-g) answers every object request with a redirect to the
 * target that owns the object, FNV-1a of "BUCKET/OBJECT" modulo the target
 * count: 301 for GET, 307 (same method and body) for PUT, POST, DELETE and
 * HEAD, Location = the target's base URL + the same path and query.  All
 * nodes share the store directory, so any target can serve any request:
 * ownership only decides where the gateway sends it.
 *
 * Control, on every node (all nodes of a cluster share one state, kept in
 * the store):
 *   GET  /_ctl/stats    "mpt-upload=1 part=5 part-retry=1 complete=1 abort=0
 *                       put=0 get=0 head=0 delete=0 redirect=0 fault-503=0
 *                       fault-cut=0": requests by kind as targets received
 *                       them (part-retry: part PUTs whose part number had
 *                       been sent before, counted in part too), redirects
 *                       the gateway sent, faults fired
 *   GET  /_ctl/uploads  "uploads=U parts=P tmp=T" and a line "ID BUCKET/
 *                       OBJECT parts=N" per unfinished upload; tmp counts
 *                       temp files of bodies being received (and uploads
 *                       being deleted)
 *   POST /_ctl/fault?op=OP&nth=N&do=ACTION[&after=BYTES]
 *                       arm a one-shot fault on the Nth request of kind OP
 *                       (mpt-upload, part, complete, abort, put, get, head,
 *                       delete) from now, on whichever target gets it:
 *                       do=503 answers 503 (an AIStore JSON error) and
 *                       stores nothing; do=cut reads BYTES of the request
 *                       body (default: half its Content-Length) and resets
 *                       the connection without an answer
 *   POST /_ctl/reset    zero the counters, disarm the faults
 *
 * HTTP/1.1 with keep-alive, Content-Length and chunked request bodies,
 * 100 Continue when a body is wanted; heads up to 16 KiB (431 beyond), and
 * a malformed request is 400 and closes the connection.  One thread per
 * connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "objserver.h"

#define MAX_TARGETS 16
#define MAX_CONNECTIONS 256
#define ACTION_BODY_LIMIT ((size_t)4 << 20)
#define BODY_BUFFER_SIZE (256 * 1024)
/* What a fault "cut" reads of a chunked body, whose length is unknown. */
#define CUT_CHUNKED_DEFAULT (32 * 1024)
#define EXIT_PORT_TAKEN 98

static struct {
	struct store store;
	char node[80];              /* "t[NAME]" or "p[NAME]" */
	char address[INET_ADDRSTRLEN];
	int targets[MAX_TARGETS];   /* gateway mode: the targets' ports */
	size_t target_count;        /* 0: a target */
	int log_fd;                 /* -1: no access log */
} server = { .log_fd = -1 };

static atomic_int open_connections;

/* One request to an object, parsed. */
struct exchange {
	struct http_request *rq;
	struct object_name name;
	bool has_upload;
	char upload_id[UPLOAD_ID_MAX + 1];
	char part_number[32];       /* as sent; "" if absent */
};

/* ---- answers ------------------------------------------------------------------------- */

/* AIStore's error (cmn/err.go, ErrHTTP.write): JSON in the body, or in the
 * Hdr-Error header for HEAD.  url_path is the path as sent (still
 * percent-encoded, so the JSON stays ASCII). */
static void respond_error_with(struct http_request *rq, int status, const char *headers,
			       const char *message)
{
	json_object *o = json_object_new_object();
	const char *json;
	char *head = NULL;

	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "method", json_object_new_string(rq->method));
	json_object_object_add(o, "url_path", json_object_new_string(rq->path));
	json_object_object_add(o, "remote_addr", json_object_new_string(rq->conn->peer));
	json_object_object_add(o, "caller", json_object_new_string(""));
	json_object_object_add(o, "node", json_object_new_string(server.node));
	json_object_object_add(o, "status", json_object_new_int(status));
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (asprintf(&head, "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
		     "%s%s%s%s", headers ? headers : "", rq->head_only ? "Hdr-Error: " : "",
		     rq->head_only ? json : "", rq->head_only ? "\r\n" : "") < 0)
		head = NULL;
	http_respond(rq, status, head, rq->head_only ? NULL : json, rq->head_only ? 0 : strlen(json));
	free(head);
	json_object_put(o);
}

static void respond_error(struct http_request *rq, int status, const char *message)
{
	respond_error_with(rq, status, NULL, message);
}

static void respond_failure(struct http_request *rq, const struct reply_error *e)
{
	respond_error(rq, e->status, e->message);
}

static void respond_text(struct http_request *rq, const char *text)
{
	http_respond(rq, 200, "Content-Type: text/plain; charset=utf-8\r\n", text, strlen(text));
}

/* The headers that describe a stored object (GET, HEAD, PUT, complete). */
static void object_headers(char *out, size_t n, const struct object_info *info)
{
	snprintf(out, n,
		 "ETag: \"%016" PRIx64 "\"\r\nAis-Version: %" PRIu64 "\r\n"
		 "Ais-Checksum-Type: xxhash2\r\nAis-Checksum-Value: %016" PRIx64 "\r\n",
		 info->cksum, info->version, info->cksum);
}

/* ---- the access log ------------------------------------------------------------------ */

static void log_request(const struct http_request *rq)
{
	char status[16], *line = NULL;
	int len;

	if (server.log_fd < 0 || strncmp(rq->path, "/_ctl/", 6) == 0)
		return;
	if (rq->status == HTTP_STATUS_CUT)
		snprintf(status, sizeof(status), "cut");
	else if (rq->status == 0 || rq->body_error == HTTP_BODY_CUT)
		snprintf(status, sizeof(status), "499");
	else
		snprintf(status, sizeof(status), "%d", rq->status);
	len = asprintf(&line, "%s %s %s|%s|%" PRIu64 "|%s\n", *rq->method ? rq->method : "-",
		       *rq->target ? rq->target : "-", *rq->version ? rq->version : "-",
		       rq->range ? rq->range : "-", rq->received, status);
	if (len > 0 && write(server.log_fd, line, (size_t)len) < 0)
		perror("objserver: write the access log");
	free(line);
}

/* ---- queries ---------------------------------------------------------------------------- */

/* The value of key in query "a=1&b=2", percent-decoded ('+' is a space)
 * into out: 1, 0 if absent, -1 if malformed or longer than n - 1. */
static int query_get(const char *query, const char *key, char *out, size_t n)
{
	size_t key_len = strlen(key);

	for (const char *p = query; *p; p += strcspn(p, "&"), p += *p == '&') {
		size_t len = strcspn(p, "&"), used = 0;

		if (len <= key_len || strncmp(p, key, key_len) != 0 || p[key_len] != '=')
			continue;
		for (const char *v = p + key_len + 1; v < p + len; v++) {
			unsigned hex;

			if (used + 1 >= n)
				return -1;
			if (*v == '%') {
				if (v + 2 >= p + len || sscanf(v + 1, "%2x", &hex) != 1 ||
				    !strchr("0123456789abcdefABCDEF", v[2]) || hex == 0)
					return -1;
				out[used++] = (char)hex;
				v += 2;
			} else {
				out[used++] = *v == '+' ? ' ' : *v;
			}
		}
		out[used] = '\0';
		return 1;
	}
	if (n > 0)
		out[0] = '\0';
	return 0;
}

/* The object name and the query parameters that matter. */
static int parse_exchange(struct exchange *x, struct reply_error *e)
{
	char provider[16];
	int found;

	if (object_name_parse(x->rq->path, &x->name, e) < 0)
		return -1;
	found = query_get(x->rq->query, "provider", provider, sizeof(provider));
	if (found < 0 || (found && strcmp(provider, "ais") != 0))
		return reply_fail(e, 400, "provider \"%s\" is not served here (only ais)",
				  found < 0 ? "?" : provider);
	found = query_get(x->rq->query, "uploadId", x->upload_id, sizeof(x->upload_id));
	if (found < 0 || (found && !*x->upload_id))
		return reply_fail(e, 400, "invalid uploadId");
	x->has_upload = found;
	if (query_get(x->rq->query, "partNumber", x->part_number, sizeof(x->part_number)) < 0)
		return reply_fail(e, 400, "invalid partNumber");
	return 0;
}

/* ---- faults --------------------------------------------------------------------------------- */

/* Read what a fault "cut" lets through of the body, then reset. */
static void cut_request(struct http_request *rq, uint64_t after)
{
	char scratch[16384];

	if (after == UINT64_MAX)
		after = rq->body == HTTP_BODY_LENGTH ? rq->left / 2 : CUT_CHUNKED_DEFAULT;
	while (rq->received < after) {
		uint64_t want = after - rq->received;

		if (http_body_read(rq, scratch, want < sizeof(scratch) ? (size_t)want : sizeof(scratch)) <= 0)
			break;
	}
	http_abort(rq);
}

/* Count the request; true if an armed fault answered it instead. */
static bool fault_fired(struct http_request *rq, enum counter kind, bool retry)
{
	struct fault_hit hit = state_count(&server.store, kind, retry);
	char message[128];

	switch (hit.action) {
	case FAULT_503:
		snprintf(message, sizeof(message), "injected fault: 503 for this %s request",
			 counter_names[kind]);
		respond_error(rq, 503, message);
		return true;
	case FAULT_CUT:
		cut_request(rq, hit.cut_after);
		return true;
	default:
		return false;
	}
}

/* ---- target: objects --------------------------------------------------------------------- */

static bool parse_u64(const char **p, uint64_t *out)
{
	uint64_t value = 0;
	const char *start = *p;

	for (; **p >= '0' && **p <= '9'; (*p)++) {
		if (value > (UINT64_MAX - 9) / 10)
			return false;
		value = value * 10 + (uint64_t)(**p - '0');
	}
	*out = value;
	return *p > start;
}

/* Range against an object of size: 0 for the whole object (no Range), 1
 * for bytes [*from, *from + *length), -1 when it cannot be served (416). */
static int parse_range(const char *range, uint64_t size, uint64_t *from, uint64_t *length)
{
	const char *p = range;
	uint64_t first, last = UINT64_MAX;

	if (!range)
		return 0;
	if (strncmp(p, "bytes=", 6) != 0)
		return -1;
	p += 6;
	if (*p == '-') {
		p++;
		if (!parse_u64(&p, &last) || *p || last == 0 || size == 0)
			return -1;
		*from = last >= size ? 0 : size - last;
		*length = size - *from;
		return 1;
	}
	if (!parse_u64(&p, &first) || *p++ != '-' || (*p && (!parse_u64(&p, &last) || *p)) ||
	    first > last || first >= size)
		return -1;
	*from = first;
	*length = (last < size - 1 ? last : size - 1) - first + 1;
	return 1;
}

static void serve_get(struct exchange *x)
{
	struct http_request *rq = x->rq;
	struct object_info info;
	struct reply_error e;
	char headers[512], with_range[640];
	uint64_t from = 0, length;
	int ranged;

	if (fault_fired(rq, rq->head_only ? COUNT_HEAD : COUNT_GET, false))
		return;
	if (store_object_open(&server.store, &x->name, &info, &e) < 0) {
		respond_failure(rq, &e);
		return;
	}
	object_headers(headers, sizeof(headers), &info);
	length = info.size;
	/* A HEAD describes the whole object, whatever its Range. */
	ranged = rq->head_only ? 0 : parse_range(rq->range, info.size, &from, &length);
	if (ranged < 0) {
		snprintf(with_range, sizeof(with_range), "%sContent-Range: bytes */%" PRIu64 "\r\n",
			 headers, info.size);
		respond_error_with(rq, 416, with_range, "range not satisfiable");
	} else {
		snprintf(with_range, sizeof(with_range),
			 "%sContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n",
			 headers);
		if (ranged)
			snprintf(with_range + strlen(with_range), sizeof(with_range) - strlen(with_range),
				 "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
				 from, from + length - 1, info.size);
		http_respond_file(rq, ranged ? 206 : 200, with_range, info.fd, (off_t)from, length);
	}
	close(info.fd);
}

/* The request body into a new temp file of the store: 0, or -1 with e
 * and nothing left behind. */
static int receive_body(struct http_request *rq, struct store_temp *t, struct reply_error *e)
{
	char *buf = malloc(BODY_BUFFER_SIZE);
	ssize_t got = 1;

	if (!buf)
		return reply_fail(e, 500, "out of memory");
	if (store_temp_create(&server.store, t, e) < 0) {
		free(buf);
		return -1;
	}
	while ((got = http_body_read(rq, buf, BODY_BUFFER_SIZE)) > 0)
		if (store_temp_write(t, buf, (size_t)got, e) < 0)
			break;
	free(buf);
	if (got == 0)
		return 0;
	store_temp_discard(t);
	return got < 0 ? reply_fail(e, 400, "request body %s", rq->body_error == HTTP_BODY_CUT
				    ? "ended early" : "is malformed (bad chunk)") : -1;
}

static void serve_put(struct exchange *x)
{
	struct object_info info;
	struct store_temp t;
	struct reply_error e;
	char headers[512];

	if (fault_fired(x->rq, COUNT_PUT, false))
		return;
	if (receive_body(x->rq, &t, &e) < 0 ||
	    store_commit(&server.store, &t, &x->name, &info, &e) < 0) {
		respond_failure(x->rq, &e);
		return;
	}
	object_headers(headers, sizeof(headers), &info);
	http_respond(x->rq, 200, headers, NULL, 0);
}

static void serve_delete(struct exchange *x)
{
	struct reply_error e;

	if (fault_fired(x->rq, COUNT_DELETE, false))
		return;
	if (store_object_delete(&server.store, &x->name, &e) < 0)
		respond_failure(x->rq, &e);
	else
		http_respond(x->rq, 200, NULL, NULL, 0);
}

/* ---- target: multipart ------------------------------------------------------------------- */

/* The JSON action message {"action": ..., "value": ...} in the body, its
 * action checked against want.  An empty body is no message (NULL, e
 * status 0) when may_be_empty.  The caller puts the object. */
static json_object *read_action(struct http_request *rq, const char *want, bool may_be_empty,
				struct reply_error *e)
{
	enum json_tokener_error error = json_tokener_success;
	json_object *msg = NULL, *action;
	char *body;
	size_t len;

	e->status = 0;
	if (http_body_read_all(rq, ACTION_BODY_LIMIT, &body, &len, e) < 0)
		return NULL;
	if (len == 0 && may_be_empty) {
		free(body);
		return NULL;
	}
	if (strlen(body) == len)
		msg = json_tokener_parse_verbose(body, &error);
	free(body);
	if (!msg || !json_object_is_type(msg, json_type_object)) {
		reply_fail(e, 400, "invalid action message: %s", msg ? "not a JSON object"
			   : len == 0 ? "empty body" : json_tokener_error_desc(error));
	} else if (!json_object_object_get_ex(msg, "action", &action) ||
		   !json_object_is_type(action, json_type_string)) {
		reply_fail(e, 400, "invalid action message: no \"action\"");
	} else if (strcmp(json_object_get_string(action), want) != 0) {
		reply_fail(e, 400, "invalid action \"%s\" here (expected \"%s\")",
			   json_object_get_string(action), want);
	} else {
		return msg;
	}
	json_object_put(msg);
	return NULL;
}

static void serve_mpt_upload(struct exchange *x)
{
	char id[UPLOAD_ID_MAX + 1];
	struct reply_error e;
	json_object *msg;

	if (fault_fired(x->rq, COUNT_MPT_UPLOAD, false))
		return;
	msg = read_action(x->rq, "mpt-upload", false, &e);
	if (!msg || upload_create(&server.store, &x->name, id, &e) < 0)
		respond_failure(x->rq, &e);
	else
		respond_text(x->rq, id);
	json_object_put(msg);
}

/* A part number as AIStore takes it: a positive int32. */
static int parse_part_number(const struct exchange *x, int32_t *part, struct reply_error *e)
{
	const char *p = x->part_number;
	uint64_t value;

	if (!parse_u64(&p, &value) || *p || value < 1 || value > INT32_MAX)
		return reply_fail(e, 400, "ais://%s/%s: invalid part number \"%s\" for uploadID \"%s\"",
				  x->name.bucket, x->name.object, x->part_number, x->upload_id);
	*part = (int32_t)value;
	return 0;
}

static void serve_part(struct exchange *x)
{
	struct store_temp t;
	struct reply_error e;
	bool retry = false;
	int32_t part = 0;
	int known;

	if (parse_part_number(x, &part, &e) < 0) {
		respond_failure(x->rq, &e);
		return;
	}
	/* Noted before counting, so that a part whose first attempt a fault
	 * answered counts its next attempt as a retry. */
	known = upload_note_attempt(&server.store, x->upload_id, &x->name, part, &retry, &e);
	if (fault_fired(x->rq, COUNT_PART, retry))
		return;
	if (known < 0 || receive_body(x->rq, &t, &e) < 0 ||
	    upload_put_part(&server.store, x->upload_id, &x->name, part, &t, &e) < 0)
		respond_failure(x->rq, &e);
	else
		http_respond(x->rq, 200, NULL, NULL, 0);
}

/* The part numbers of an mpt-complete message's "value": a malloc'd array,
 * or NULL with e. */
static int32_t *completed_parts(json_object *msg, size_t *count, struct reply_error *e)
{
	json_object *value, *item, *number;
	int32_t *parts;

	if (!json_object_object_get_ex(msg, "value", &value) ||
	    !json_object_is_type(value, json_type_array)) {
		reply_fail(e, 400, "nil parts list");
		return NULL;
	}
	*count = json_object_array_length(value);
	parts = calloc(*count ? *count : 1, sizeof(*parts));
	if (!parts) {
		reply_fail(e, 500, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < *count; i++) {
		int64_t n;

		item = json_object_array_get_idx(value, i);
		if (!json_object_object_get_ex(item, "part-number", &number) ||
		    !json_object_is_type(number, json_type_int) ||
		    (n = json_object_get_int64(number)) < 1 || n > INT32_MAX) {
			free(parts);
			reply_fail(e, 400, "invalid completed part at position %zu", i);
			return NULL;
		}
		parts[i] = (int32_t)n;
	}
	return parts;
}

static void serve_complete(struct exchange *x)
{
	struct object_info info;
	struct reply_error e;
	int32_t *parts = NULL;
	size_t count = 0;
	char headers[512];
	json_object *msg;

	if (fault_fired(x->rq, COUNT_COMPLETE, false))
		return;
	msg = read_action(x->rq, "mpt-complete", false, &e);
	if (!msg || !(parts = completed_parts(msg, &count, &e)) ||
	    upload_complete(&server.store, x->upload_id, &x->name, parts, count, &info, &e) < 0) {
		respond_failure(x->rq, &e);
	} else {
		object_headers(headers, sizeof(headers), &info);
		http_respond(x->rq, 200, headers, NULL, 0);
	}
	free(parts);
	json_object_put(msg);
}

static void serve_abort(struct exchange *x)
{
	struct reply_error e;
	json_object *msg;

	if (fault_fired(x->rq, COUNT_ABORT, false))
		return;
	msg = read_action(x->rq, "mpt-abort", true, &e);
	if (e.status || upload_abort(&server.store, x->upload_id, &x->name, &e) < 0)
		respond_failure(x->rq, &e);
	else
		http_respond(x->rq, 200, NULL, NULL, 0);
	json_object_put(msg);
}

static void serve_target(struct http_request *rq)
{
	struct exchange x = { .rq = rq };
	const char *m = rq->method;
	struct reply_error e;

	if (parse_exchange(&x, &e) < 0)
		respond_failure(rq, &e);
	else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		serve_get(&x);
	else if (strcmp(m, "PUT") == 0)
		x.has_upload ? serve_part(&x) : serve_put(&x);
	else if (strcmp(m, "POST") == 0)
		x.has_upload ? serve_complete(&x) : serve_mpt_upload(&x);
	else if (strcmp(m, "DELETE") == 0)
		x.has_upload ? serve_abort(&x) : serve_delete(&x);
	else
		respond_error(rq, 405, "invalid method for /v1/objects");
}

/* ---- gateway -------------------------------------------------------------------------------- */

/* FNV-1a, 64 bit: stable, and good enough to spread names over targets. */
static uint64_t fnv1a(uint64_t hash, const char *s)
{
	for (; *s; s++)
		hash = (hash ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	return hash;
}

static void serve_gateway(struct http_request *rq)
{
	struct object_name name;
	struct reply_error e;
	const char *m = rq->method;
	char *location = NULL;
	uint64_t hash;
	int status;

	if (object_name_parse(rq->path, &name, &e) < 0) {
		respond_failure(rq, &e);
		return;
	}
	if (strcmp(m, "GET") == 0) {
		status = 301;
	} else if (strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0 || strcmp(m, "DELETE") == 0 ||
		   strcmp(m, "HEAD") == 0) {
		status = 307;
	} else {
		respond_error(rq, 405, "invalid method for /v1/objects");
		return;
	}
	hash = fnv1a(fnv1a(fnv1a(UINT64_C(0xcbf29ce484222325), name.bucket), "/"), name.object);
	state_count(&server.store, COUNT_REDIRECT, false);
	if (asprintf(&location, "Location: http://%s:%d%s\r\n", server.address,
		     server.targets[hash % server.target_count], rq->target) < 0) {
		respond_error(rq, 500, "out of memory");
		return;
	}
	http_respond(rq, status, location, NULL, 0);
	free(location);
}

/* ---- control -------------------------------------------------------------------------------- */

/* POST /_ctl/fault?op=OP&nth=N&do=503|cut[&after=BYTES] */
static void serve_fault(struct http_request *rq)
{
	char op[32], nth_text[24], action[8], after_text[24];
	const char *p;
	uint64_t nth, after = UINT64_MAX;
	struct reply_error e;
	int kind = -1;

	if (query_get(rq->query, "op", op, sizeof(op)) == 1)
		for (int i = 0; i < COUNTER_OPS; i++)
			if (strcmp(op, counter_names[i]) == 0)
				kind = i;
	p = nth_text;
	if (kind < 0 || query_get(rq->query, "nth", nth_text, sizeof(nth_text)) != 1 ||
	    !parse_u64(&p, &nth) || *p || nth == 0 ||
	    query_get(rq->query, "do", action, sizeof(action)) != 1 ||
	    (strcmp(action, "503") != 0 && strcmp(action, "cut") != 0)) {
		respond_error(rq, 400, "usage: POST /_ctl/fault?op=OP&nth=N&do=503|cut[&after=BYTES]");
		return;
	}
	p = after_text;
	if (query_get(rq->query, "after", after_text, sizeof(after_text)) != 0 &&
	    (!parse_u64(&p, &after) || *p || after == UINT64_MAX)) {
		respond_error(rq, 400, "invalid after");
		return;
	}
	if (state_arm_fault(&server.store, (enum counter)kind, nth,
			    strcmp(action, "503") == 0 ? FAULT_503 : FAULT_CUT, after, &e) < 0)
		respond_failure(rq, &e);
	else
		respond_text(rq, "armed\n");
}

static void serve_control(struct http_request *rq)
{
	bool get = strcmp(rq->method, "GET") == 0, post = strcmp(rq->method, "POST") == 0;
	struct reply_error e;
	char stats[1024];
	char *text;

	if (strcmp(rq->path, "/_ctl/stats") == 0 && get) {
		if (state_format(&server.store, stats, sizeof(stats), &e) < 0)
			respond_failure(rq, &e);
		else
			respond_text(rq, stats);
	} else if (strcmp(rq->path, "/_ctl/uploads") == 0 && get) {
		text = store_leftovers(&server.store);
		if (text)
			respond_text(rq, text);
		else
			respond_error(rq, 500, "cannot list the uploads");
		free(text);
	} else if (strcmp(rq->path, "/_ctl/fault") == 0 && post) {
		serve_fault(rq);
	} else if (strcmp(rq->path, "/_ctl/reset") == 0 && post) {
		if (state_reset(&server.store, &e) < 0)
			respond_failure(rq, &e);
		else
			respond_text(rq, "reset\n");
	} else {
		respond_error(rq, 404, "no such control endpoint (GET /_ctl/stats, GET /_ctl/uploads, "
			      "POST /_ctl/fault, POST /_ctl/reset)");
	}
}

/* ---- connections ------------------------------------------------------------------------ */

static void serve_request(struct http_request *rq)
{
	if (strncmp(rq->path, "/_ctl/", 6) == 0)
		serve_control(rq);
	else if (strncmp(rq->path, "/v1/objects/", 12) != 0)
		respond_error(rq, 404, "invalid route (this server serves /v1/objects/ and /_ctl/)");
	else if (server.target_count > 0)
		serve_gateway(rq);
	else
		serve_target(rq);
}

struct connection {
	struct http_conn conn;
	struct http_request request;
};

static void *serve_connection(void *arg)
{
	struct connection *c = arg;
	struct http_request *rq = &c->request;
	const char *why;
	int bad;

	while ((bad = http_read_request(&c->conn, rq, &why)) >= 0) {
		if (bad)
			respond_error(rq, bad, why);
		else
			serve_request(rq);
		log_request(rq);
		if (!rq->keep_alive || c->conn.broken)
			break;
	}
	http_conn_finish(&c->conn);
	free(c);
	atomic_fetch_sub(&open_connections, 1);
	return NULL;
}

static void start_connection(int fd, const struct sockaddr_in *peer)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct connection *c = malloc(sizeof(*c));
	char name[64], address[INET_ADDRSTRLEN];
	pthread_t thread;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!c || atomic_fetch_add(&open_connections, 1) >= MAX_CONNECTIONS) {
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
			perror("objserver: send 503");
		if (c)
			atomic_fetch_sub(&open_connections, 1);
		free(c);
		close(fd);
		return;
	}
	inet_ntop(AF_INET, &peer->sin_addr, address, sizeof(address));
	snprintf(name, sizeof(name), "%s:%d", address, ntohs(peer->sin_port));
	if (http_conn_init(&c->conn, fd, name) < 0) {
		free(c);
		atomic_fetch_sub(&open_connections, 1);
		return;
	}
	if (pthread_create(&thread, NULL, serve_connection, c) != 0) {
		close(fd);
		free(c->conn.buf);
		free(c);
		atomic_fetch_sub(&open_connections, 1);
		return;
	}
	pthread_detach(thread);
}

/* ---- the program ------------------------------------------------------------------------ */

static int listen_on(const char *address, int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	inet_pton(AF_INET, address, &addr.sin_addr);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0) {
		int error = errno;

		fprintf(stderr, "objserver: listen on %s:%d: %s\n", address, port, strerror(error));
		exit(error == EADDRINUSE ? EXIT_PORT_TAKEN : 1);
	}
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);

	return getsockname(fd, (struct sockaddr *)&addr, &len) == 0 ? ntohs(addr.sin_port) : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: objserver -d STORE [-a ADDRESS] [-p PORT] [-l LOG] [-n NAME] "
		"[-g PORT[,PORT...]]\n");
	exit(2);
}

static int parse_port(const char *text)
{
	char *end;
	long port = strtol(text, &end, 10);

	if (end == text || *end || port < 0 || port > 65535)
		usage();
	return (int)port;
}

static void parse_targets(char *list)
{
	for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
		if (server.target_count == MAX_TARGETS)
			usage();
		server.targets[server.target_count] = parse_port(p);
		if (server.targets[server.target_count++] == 0)
			usage();
	}
	if (server.target_count == 0)
		usage();
}

/* Connection threads own nothing that needs tidying; temp files of a
 * request in flight are swept when a node next opens the store. */
static void exit_on_signal(int signal_number)
{
	(void)signal_number;
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sigaction exit_action = { .sa_handler = exit_on_signal };
	const char *store = NULL, *log = NULL, *name = NULL;
	struct in_addr loopback;
	int opt, port = 0, listener;

	snprintf(server.address, sizeof(server.address), "127.0.0.1");
	while ((opt = getopt(argc, argv, "d:a:p:l:n:g:")) != -1) {
		switch (opt) {
		case 'd': store = optarg; break;
		case 'a': snprintf(server.address, sizeof(server.address), "%s", optarg); break;
		case 'p': port = parse_port(optarg); break;
		case 'l': log = optarg; break;
		case 'n': name = optarg; break;
		case 'g': parse_targets(optarg); break;
		default: usage();
		}
	}
	if (!store || optind != argc)
		usage();
	if (inet_pton(AF_INET, server.address, &loopback) != 1 ||
	    (ntohl(loopback.s_addr) >> 24) != 127) {
		fprintf(stderr, "objserver: %s is not an IPv4 loopback address\n", server.address);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &exit_action, NULL);
	sigaction(SIGINT, &exit_action, NULL);
	if (store_open(&server.store, store) < 0)
		return 1;
	if (log && (server.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "objserver: open %s: %s\n", log, strerror(errno));
		return 1;
	}
	listener = listen_on(server.address, port);
	port = bound_port(listener);
	if (name)
		snprintf(server.node, sizeof(server.node), "%c[%s]", server.target_count ? 'p' : 't', name);
	else
		snprintf(server.node, sizeof(server.node), "%c[%d]", server.target_count ? 'p' : 't', port);
	printf("%d\n", port);
	fflush(stdout);
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (fd >= 0) {
			start_connection(fd, &peer);
		} else if (errno != EINTR && errno != ECONNABORTED) {
			/* Out of fds or memory: give the connections a moment. */
			struct timespec pause = { 0, 10 * 1000000L };

			perror("objserver: accept");
			nanosleep(&pause, NULL);
		}
	}
}
