/*
 * objserver_target.c - what a target of tests/objserver answers under
 * /v1/objects/BUCKET/OBJECT: GET (ranges) and HEAD, PUT, DELETE, and the
 * multipart upload (mpt-upload, parts, mpt-complete, mpt-abort), each
 * counted, and answered by an armed fault instead when one is due.  The
 * protocol is described at the top of objserver.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objserver.h"

#define ACTION_BODY_LIMIT ((size_t)4 << 20)
#define BODY_BUFFER_SIZE (256 * 1024)
/* What a fault "cut" reads of a chunked body, whose length is unknown. */
#define CUT_CHUNKED_DEFAULT (32 * 1024)

/* One request to an object, parsed. */
struct exchange {
	struct store *store;
	struct http_request *rq;
	struct object_name name;
	bool has_upload;
	char upload_id[UPLOAD_ID_MAX + 1];
	char part_number[32];       /* as sent; "" if absent */
};

/* The headers that describe a stored object (GET, HEAD, PUT, complete). */
static void object_headers(char *out, size_t n, const struct object_info *info)
{
	snprintf(out, n,
		 "ETag: \"%016" PRIx64 "\"\r\nAis-Version: %" PRIu64 "\r\n"
		 "Ais-Checksum-Type: xxhash2\r\nAis-Checksum-Value: %016" PRIx64 "\r\n",
		 info->cksum, info->version, info->cksum);
}

/* The object name and the query parameters that matter. */
static int parse_exchange(struct exchange *x, struct reply_error *e)
{
	char provider[16];
	int found;

	if (object_name_parse(x->rq->path, &x->name, e) < 0)
		return -1;
	found = http_query_get(x->rq->query, "provider", provider, sizeof(provider));
	if (found < 0 || (found && strcmp(provider, "ais") != 0))
		return reply_fail(e, 400, "provider \"%s\" is not served here (only ais)",
				  found < 0 ? "?" : provider);
	found = http_query_get(x->rq->query, "uploadId", x->upload_id, sizeof(x->upload_id));
	if (found < 0 || (found && !*x->upload_id))
		return reply_fail(e, 400, "invalid uploadId");
	x->has_upload = found;
	if (http_query_get(x->rq->query, "partNumber", x->part_number, sizeof(x->part_number)) < 0)
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
static bool fault_fired(struct exchange *x, enum counter kind, bool retry)
{
	struct http_request *rq = x->rq;
	struct fault_hit hit = state_count(x->store, kind, retry);
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

/* ---- objects ------------------------------------------------------------------------------ */

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
		if (!http_parse_u64(&p, &last) || *p || last == 0 || size == 0)
			return -1;
		*from = last >= size ? 0 : size - last;
		*length = size - *from;
		return 1;
	}
	if (!http_parse_u64(&p, &first) || *p++ != '-' || (*p && (!http_parse_u64(&p, &last) || *p)) ||
	    first > last || first >= size)
		return -1;
	*from = first;
	*length = (last < size - 1 ? last : size - 1) - first + 1;
	return 1;
}

/* A GET or HEAD: what it asks for and, once the object's size is known,
 * what it gets. */
struct wanted_bytes {
	const struct http_request *rq;
	int ranged;          /* parse_range()'s answer; 0 for a HEAD */
};

/* choose_bytes_fn: the bytes the answer to w->rq sends. */
static void choose_wanted(void *arg, uint64_t size, uint64_t *from, uint64_t *length)
{
	struct wanted_bytes *w = arg;

	*from = 0;
	*length = size;
	/* A HEAD describes the whole object, whatever its Range. */
	w->ranged = w->rq->head_only ? 0 : parse_range(w->rq->range, size, from, length);
	if (w->rq->head_only || w->ranged < 0)
		*length = 0;
}

static void serve_get(struct exchange *x)
{
	struct http_request *rq = x->rq;
	struct wanted_bytes wanted = { rq, 0 };
	struct object_reader r;
	struct reply_error e;
	char headers[512], with_range[640];

	if (fault_fired(x, rq->head_only ? COUNT_HEAD : COUNT_GET, false))
		return;
	if (store_object_open(x->store, &x->name, choose_wanted, &wanted, &r, &e) < 0) {
		respond_failure(rq, &e);
		return;
	}
	object_headers(headers, sizeof(headers), &r.info);
	if (wanted.ranged < 0) {
		snprintf(with_range, sizeof(with_range), "%sContent-Range: bytes */%" PRIu64 "\r\n",
			 headers, r.info.size);
		respond_error_with(rq, 416, with_range, "range not satisfiable");
	} else {
		snprintf(with_range, sizeof(with_range),
			 "%sContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n",
			 headers);
		if (wanted.ranged)
			snprintf(with_range + strlen(with_range), sizeof(with_range) - strlen(with_range),
				 "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
				 r.from, r.from + r.length - 1, r.info.size);
		if (rq->head_only)
			http_respond(rq, 200, with_range, NULL, r.info.size);
		else
			http_respond_pieces(rq, wanted.ranged ? 206 : 200, with_range, r.pieces, r.count);
	}
	store_object_close(&r);
}

/* The request body into a new temp file of the store, hashed or not (see
 * store_temp_create): 0, or -1 with e and nothing left behind. */
static int receive_body(struct exchange *x, struct store_temp *t, bool hashed,
			struct reply_error *e)
{
	struct http_request *rq = x->rq;
	char *buf = malloc(BODY_BUFFER_SIZE);
	ssize_t got = 1;

	if (!buf)
		return reply_fail(e, 500, "out of memory");
	if (store_temp_create(x->store, t, hashed, e) < 0) {
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

	if (fault_fired(x, COUNT_PUT, false))
		return;
	if (receive_body(x, &t, true, &e) < 0 ||
	    store_put(x->store, &t, &x->name, &info, &e) < 0) {
		respond_failure(x->rq, &e);
		return;
	}
	object_headers(headers, sizeof(headers), &info);
	http_respond(x->rq, 200, headers, NULL, 0);
}

static void serve_delete(struct exchange *x)
{
	struct reply_error e;

	if (fault_fired(x, COUNT_DELETE, false))
		return;
	if (store_object_delete(x->store, &x->name, &e) < 0)
		respond_failure(x->rq, &e);
	else
		http_respond(x->rq, 200, NULL, NULL, 0);
}

/* ---- multipart ---------------------------------------------------------------------------- */

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

	if (fault_fired(x, COUNT_MPT_UPLOAD, false))
		return;
	msg = read_action(x->rq, "mpt-upload", false, &e);
	if (!msg || upload_create(x->store, &x->name, id, &e) < 0)
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

	if (!http_parse_u64(&p, &value) || *p || value < 1 || value > INT32_MAX)
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
	known = upload_note_attempt(x->store, x->upload_id, &x->name, part, &retry, &e);
	if (fault_fired(x, COUNT_PART, retry))
		return;
	if (known < 0 || receive_body(x, &t, false, &e) < 0 ||
	    upload_put_part(x->store, x->upload_id, &x->name, part, &t, &e) < 0)
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

	if (fault_fired(x, COUNT_COMPLETE, false))
		return;
	msg = read_action(x->rq, "mpt-complete", false, &e);
	if (!msg || !(parts = completed_parts(msg, &count, &e)) ||
	    upload_complete(x->store, x->upload_id, &x->name, parts, count, &info, &e) < 0) {
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

	if (fault_fired(x, COUNT_ABORT, false))
		return;
	msg = read_action(x->rq, "mpt-abort", true, &e);
	if (e.status || upload_abort(x->store, x->upload_id, &x->name, &e) < 0)
		respond_failure(x->rq, &e);
	else
		http_respond(x->rq, 200, NULL, NULL, 0);
	json_object_put(msg);
}

void serve_target(struct store *s, struct http_request *rq)
{
	struct exchange x = { .store = s, .rq = rq };
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
