/*
 * http.c - the HTTP transport: one request at a time over libcurl's multi
 * interface, driven by the stream: a GET, or a PUT, POST or DELETE with a
 * body from memory or pulled from the writer.  It knows nothing of objects,
 * resumes or stdio: it sends the request it is told, parses the reply
 * headers, hands 2xx bodies to the stream's sink (pausing when the sink has
 * no room), keeps the body of an error reply for the message, and says how
 * the request ended.
 *
 * A connection (one multi handle and one easy handle) outlives the requests
 * sent on it: the client keeps idle ones in a pool and lends them to any of
 * its streams, so the TCP connection is reused (keep-alive) when the server
 * allows.  Each request carries the settings of the stream that sends it.
 * Redirects are not followed here: a 3xx ends the request with its Location,
 * and the fetcher decides where to go and what credentials go along.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define ERROR_BODY_MAX 4096
#define POLL_SLICE_MS 100
#define EXPECT_WAIT_MS 1000

struct http_conn {
	const struct ais_config *cfg; /* the settings of the request in flight */
	CURLSH *share;                /* the client's DNS and TLS session caches */
	CURLM *multi;
	CURL *easy;
	struct curl_slist *request_headers;
	struct http_sink sink;
	struct http_reply reply;
	/* The body of the request in flight, if any, and how much of it
	 * went to libcurl. */
	struct http_body body;
	bool has_body;
	int64_t body_taken;
	bool sending;         /* its body is still going out */
	curl_off_t sent;      /* body bytes on the wire, as libcurl counts */
	bool active;          /* easy handle is in the multi handle */
	bool paused;          /* the sink said "no room" */
	bool reply_delivered; /* on_reply was called for this request */
	int reply_error;      /* what on_reply returned */
	bool progressed;      /* bytes arrived during this aisi_http_pump */
	int64_t last_activity_ms;
	/* Time limits beyond the stall: the reply header must be whole soon
	 * after the request (after its body, for one with a body), and a body
	 * going either way must keep a minimum speed over each window of
	 * read_timeout_ms the transfer is driven. */
	int64_t started_ms;
	int64_t reply_clock_ms; /* the header deadline counts from here */
	bool headers_done;
	int64_t window_start_ms;
	uint64_t window_bytes;
	int64_t pump_left_ms; /* when the last aisi_http_pump returned */
	char error_body[ERROR_BODY_MAX];
	size_t error_body_len;
	char curl_error[CURL_ERROR_SIZE];
	char start_error[256]; /* why aisi_http_start failed */
	char *location; /* of the last 3xx reply */
	int connections; /* opened by requests since the last take */
};

static void header_value(char *dst, size_t cap, const char *v, size_t len)
{
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
	               v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* A byte position of a Content-Range: digits only (no sign), and below
 * INT64_MAX so that end + 1 is one too.  Returns past it, or NULL. */
static const char *parse_position(const char *p, int64_t *out)
{
	int64_t n = 0;

	if (!isdigit((unsigned char)*p))
		return NULL;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - 1 - (*p - '0')) / 10)
			return NULL;
		n = n * 10 + (*p - '0');
	}
	*out = n;
	return p;
}

/* "bytes a-b/total"; the total may be "*" when unknown; "bytes * /total"
 * in a 416.  Anything else leaves the range absent. */
static void parse_content_range(struct http_reply *r, const char *v)
{
	int64_t a, b, total = -1;
	const char *p;

	if (strncmp(v, "bytes ", 6))
		return;
	v += 6;
	if (!strncmp(v, "*/", 2)) {
		if ((p = parse_position(v + 2, &total)) && !*p)
			r->range_total = total;
		return;
	}
	if (!(p = parse_position(v, &a)) || *p++ != '-' ||
	    !(p = parse_position(p, &b)) || *p++ != '/')
		return;
	if (strcmp(p, "*") && !((p = parse_position(p, &total)) && !*p))
		return;
	r->range_start = a;
	r->range_end = b;
	r->range_total = total;
}

/* Content-Length may come twice, or as a list ("42, 42"), and means
 * something only when every value is the same (RFC 9110, 8.6); the first
 * value that differs is kept for the fetcher to refuse. */
static void parse_content_length(struct http_reply *r, const char *v)
{
	char *end;

	for (;;) {
		long long n;

		v += strspn(v, " \t");
		if (!isdigit((unsigned char)*v)) /* a sign would pass -1, "none" */
			return;
		n = strtoll(v, &end, 10);
		if (r->content_length < 0)
			r->content_length = n;
		else if (n != r->content_length && r->content_length_conflict < 0)
			r->content_length_conflict = n;
		v = end + strspn(end, " \t");
		if (*v++ != ',')
			return;
	}
}

static void reset_reply(struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->content_length_conflict = -1;
	r->range_start = -1;
	r->range_end = -1;
	r->range_total = -1;
}

/* Headers of every response in the chain arrive here (redirects too); a
 * status line starts a new response, so only the final one is kept. */
void aisi_http_parse_header(struct http_reply *r, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	char value[HTTP_VALIDATOR_MAX];
	size_t name_len;

	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		reset_reply(r);
		return;
	}
	if (!colon)
		return;
	name_len = (size_t)(colon - line);
	header_value(value, sizeof(value), colon + 1, len - name_len - 1);
#define IS(name) (name_len == strlen(name) && !strncasecmp(line, name, name_len))
	if (IS("Content-Length"))
		parse_content_length(r, value);
	else if (IS("Content-Range"))
		parse_content_range(r, value);
	else if (IS("ETag"))
		snprintf(r->etag, sizeof(r->etag), "%s", value);
	else if (IS("Last-Modified"))
		snprintf(r->last_modified, sizeof(r->last_modified), "%s", value);
	else if (IS("Ais-Version"))
		snprintf(r->ais_version, sizeof(r->ais_version), "%s", value);
	else if (IS("Ais-Checksum-Value"))
		snprintf(r->ais_checksum, sizeof(r->ais_checksum), "%s", value);
	else if (IS("Ais-Checksum-Type"))
		snprintf(r->ais_checksum_type, sizeof(r->ais_checksum_type), "%.31s",
		         value);
#undef IS
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	struct http_conn *c = userdata;
	size_t len = size * n;

	c->last_activity_ms = aisi_now_ms();
	/* An interim reply (100 Continue) has its own blank line: the final
	 * header is not done until the last status line's block ends. */
	if (len >= 5 && !memcmp(p, "HTTP/", 5))
		c->headers_done = false;
	if (len <= 2 && (*p == '\r' || *p == '\n')) {
		/* The blank line ends a header block: the body's speed counts
		 * from here. */
		c->headers_done = true;
		c->window_start_ms = c->last_activity_ms;
		c->window_bytes = 0;
	}
	aisi_http_parse_header(&c->reply, p, len);
	return len;
}

static bool is_success(long status)
{
	return status >= 200 && status < 300;
}

static void deliver_reply(struct http_conn *c)
{
	if (c->reply_delivered)
		return;
	c->reply_delivered = true;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->reply.status);
	if (is_success(c->reply.status))
		c->reply_error = c->sink.on_reply(c->sink.ctx, &c->reply);
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	struct http_conn *c = userdata;
	size_t len = size * n, taken;

	c->last_activity_ms = aisi_now_ms();
	c->headers_done = true;
	c->window_bytes += len;
	deliver_reply(c);
	if (c->reply_error)
		return 0; /* CURLE_WRITE_ERROR ends the request */
	if (!is_success(c->reply.status)) {
		size_t room = sizeof(c->error_body) - 1 - c->error_body_len;
		size_t keep = len < room ? len : room;

		memcpy(c->error_body + c->error_body_len, p, keep);
		c->error_body_len += keep;
		return len;
	}
	taken = c->sink.on_body(c->sink.ctx, p, len);
	c->progressed = c->progressed || taken == len;
	if (taken == HTTP_BODY_PAUSE) {
		c->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (taken == HTTP_BODY_ABORT)
		return 0;
	return taken;
}

/* A setting a request depends on for its safety or its meaning: one that
 * libcurl refuses (an older libcurl than the build's, a TLS backend without
 * it) stops the request instead of sending it without. */
/* Why a request could not start, in c->start_error: -1 with errno. */
static int out_of_memory(struct http_conn *c)
{
	snprintf(c->start_error, sizeof(c->start_error),
	         "out of memory starting a request");
	errno = ENOMEM;
	return -1;
}

#define MUST_SET(c, opt, value) \
	must_set((c), curl_easy_setopt((c)->easy, (opt), (value)), #opt)

static int must_set(struct http_conn *c, CURLcode rc, const char *name)
{
	if (FAILPOINT("setopt"))
		rc = CURLE_UNKNOWN_OPTION;
	if (rc == CURLE_OK)
		return 0;
	if (rc == CURLE_OUT_OF_MEMORY)
		return out_of_memory(c);
	snprintf(c->start_error, sizeof(c->start_error), "libcurl %s refused "
	         "%s (%s): the request is not sent without it",
	         curl_version_info(CURLVERSION_NOW)->version, name + 8,
	         curl_easy_strerror(rc));
	errno = ENOTSUP;
	return -1;
}

/* The whole body went to libcurl: the reply is due from now. */
static void body_done(struct http_conn *c)
{
	c->sending = false;
	c->reply_clock_ms = aisi_now_ms();
}

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
	struct http_conn *c = userdata;
	size_t room = size * n, got;
	int64_t asked = aisi_now_ms(), now;

	if (c->body.data) {
		got = (size_t)(c->body.len - c->body_taken);
		if (got > room)
			got = room;
		memcpy(buf, c->body.data + c->body_taken, got);
	} else {
		got = c->body.read(c->body.ctx, buf, room);
		if (got == HTTP_BODY_ABORT)
			return CURL_READFUNC_ABORT;
	}
	c->body_taken += (int64_t)got;
	now = aisi_now_ms();
	if (got == 0 || (c->body.len >= 0 && c->body_taken >= c->body.len))
		body_done(c);
	/* Time spent waiting for the writer's bytes is the writer's, not a
	 * stall nor a slow network. */
	if (now - asked > POLL_SLICE_MS) {
		c->last_activity_ms = now;
		c->window_start_ms = now;
		c->window_bytes = 0;
	}
	return got;
}

/* Bytes of the body on the wire are progress, as bytes of a reply are. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_conn *c = userdata;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (ulnow > c->sent) {
		c->window_bytes += (uint64_t)(ulnow - c->sent);
		c->sent = ulnow;
		c->last_activity_ms = aisi_now_ms();
	}
	return 0;
}

/* The settings of the stream sending the request: libcurl keeps TLS
 * connections apart by these, so a pooled connection is reused only by a
 * request with the same ones. */
static int setup_request(struct http_conn *c)
{
	const struct ais_config *cfg = c->cfg;

	if (MUST_SET(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms) ||
	    (cfg->ca_file && MUST_SET(c, CURLOPT_CAINFO, cfg->ca_file)) ||
	    (cfg->cert_file && MUST_SET(c, CURLOPT_SSLCERT, cfg->cert_file)) ||
	    (cfg->key_file && MUST_SET(c, CURLOPT_SSLKEY, cfg->key_file)))
		return -1;
	if (cfg->skip_verify &&
	    (MUST_SET(c, CURLOPT_SSL_VERIFYPEER, 0L) ||
	     MUST_SET(c, CURLOPT_SSL_VERIFYHOST, 0L)))
		return -1;
	return 0;
}

/* Options every request has.  curl_easy_reset() before each request drops
 * the last stream's settings but keeps the open connections and caches. */
static int setup_easy(struct http_conn *c)
{
	CURL *e = c->easy;

	/* Redirects are ours to follow (fetch.c), to http and https only. */
	if (MUST_SET(c, CURLOPT_NOSIGNAL, 1L) ||
	    MUST_SET(c, CURLOPT_FOLLOWLOCATION, 0L) ||
	    MUST_SET(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    MUST_SET(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
	    (c->share && MUST_SET(c, CURLOPT_SHARE, c->share)) ||
	    MUST_SET(c, CURLOPT_ERRORBUFFER, c->curl_error) ||
	    MUST_SET(c, CURLOPT_HEADERFUNCTION, on_header) ||
	    MUST_SET(c, CURLOPT_HEADERDATA, c) ||
	    MUST_SET(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    MUST_SET(c, CURLOPT_WRITEDATA, c))
		return -1;
	/* Helpful, not essential. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "aisfile/" PACKAGE_VERSION);
	/* Larger socket reads mean fewer callbacks; the pieces handed to the
	 * sink stay at most CURL_MAX_WRITE_SIZE each. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	return 0;
}

const char *aisi_http_start_error(const struct http_conn *c)
{
	return c->start_error;
}

struct http_conn *aisi_http_conn_new(CURLSH *share)
{
	struct http_conn *c = FAILPOINT("conn-new") ? NULL :
	                      calloc(1, sizeof(*c));

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->multi = curl_multi_init();
	c->easy = curl_easy_init();
	if (!c->multi || !c->easy) {
		aisi_http_conn_free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* Idle connections stay in the pool's handles, one each, so the pool
	 * bounds them; a handle does not hoard one per server it met. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1L);
	c->share = share;
	return c;
}

void aisi_http_abort(struct http_conn *c)
{
	long connects = 0;

	if (!c->active)
		return;
	if (curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects) ==
	    CURLE_OK && connects > 0)
		c->connections += (int)connects;
	curl_multi_remove_handle(c->multi, c->easy);
	c->active = false;
	c->paused = false;
}

int aisi_http_take_connections(struct http_conn *c)
{
	int n = c->connections;

	c->connections = 0;
	return n;
}

bool aisi_http_active(const struct http_conn *c)
{
	return c->active;
}

void aisi_http_wakeup(struct http_conn *c)
{
	curl_multi_wakeup(c->multi);
}

void aisi_http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	if (c->easy)
		aisi_http_abort(c);
	curl_easy_cleanup(c->easy);
	curl_multi_cleanup(c->multi);
	aisi_http_free_headers(c->request_headers);
	free(c->location);
	free(c);
}

/* Free a header list, wiping every line first: it may hold a credential. */
void aisi_http_free_headers(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

/* Headers that carry credentials go only where the token may go. */
static bool is_credential(const char *line)
{
	return !strncasecmp(line, "Authorization:", 14) ||
	       !strncasecmp(line, "Cookie:", 7) ||
	       !strncasecmp(line, "Proxy-Authorization:", 20);
}

static struct curl_slist *append_bearer(struct curl_slist *list,
                                        const char *token)
{
	struct curl_slist *next = NULL;
	char *line;

	if (asprintf(&line, "Authorization: Bearer %s", token) < 0)
		return NULL;
	next = curl_slist_append(list, line);
	explicit_bzero(line, strlen(line));
	free(line);
	return next;
}

/* An object's bytes wait for "100 Continue": an AIStore gateway answers a
 * PUT with a redirect before reading it, so the body goes only to the
 * target that keeps it (and a server that answers early does not close on
 * unread bytes).  Small JSON bodies go at once ("Expect:" with no value
 * keeps libcurl from adding its own). */
static const char *expect_line(const struct http_body *body)
{
	return !strcmp(body->method, "PUT") && body->len != 0 ?
	       "Expect: 100-continue" : "Expect:";
}

/* The one place that builds request headers: the caller's, the token (both
 * only with_auth), then Range and If-Match for a resumed or repositioned
 * request, or what describes a body. */
static struct curl_slist *build_headers(const struct ais_config *cfg,
                                        const struct http_range *range,
                                        const char *if_match, bool with_auth,
                                        const struct http_body *body)
{
	struct curl_slist *list = NULL, *next;
	char line[HTTP_VALIDATOR_MAX + 32];

	for (const struct curl_slist *h = cfg->headers; h; h = h->next) {
		if (!with_auth && is_credential(h->data))
			continue;
		if (!(next = curl_slist_append(list, h->data)))
			goto oom;
		list = next;
	}
	if (cfg->token && with_auth) {
		if (!(next = append_bearer(list, cfg->token)))
			goto oom;
		list = next;
	}
	if (range->send) {
		if (range->to >= 0)
			snprintf(line, sizeof(line), "Range: bytes=%lld-%lld",
			         (long long)range->from, (long long)range->to);
		else
			snprintf(line, sizeof(line), "Range: bytes=%lld-",
			         (long long)range->from);
		if (!(next = curl_slist_append(list, line)))
			goto oom;
		list = next;
	}
	if (if_match && *if_match) {
		snprintf(line, sizeof(line), "If-Match: %s", if_match);
		if (!(next = curl_slist_append(list, line)))
			goto oom;
		list = next;
	}
	if (body && body->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", body->content_type);
		if (!(next = curl_slist_append(list, line)))
			goto oom;
		list = next;
	}
	/* A body of unknown length goes in chunks. */
	if (body && body->len < 0) {
		if (!(next = curl_slist_append(list, "Transfer-Encoding: chunked")))
			goto oom;
		list = next;
	}
	if (body && !(next = curl_slist_append(list, expect_line(body))))
		goto oom;
	if (body)
		list = next;
	return list;
oom:
	aisi_http_free_headers(list);
	return NULL;
}

/* What libcurl needs to send a body: the method, the length (or chunks),
 * and where the bytes come from. */
static int setup_body(struct http_conn *c)
{
	CURL *e = c->easy;

	c->body_taken = 0;
	c->sent = 0;
	c->sending = c->has_body && c->body.len != 0;
	if (!c->has_body)
		return 0;
	if (MUST_SET(c, CURLOPT_UPLOAD, 1L) ||
	    (strcmp(c->body.method, "PUT") &&
	     MUST_SET(c, CURLOPT_CUSTOMREQUEST, c->body.method)) ||
	    MUST_SET(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body.len) ||
	    MUST_SET(c, CURLOPT_READFUNCTION, on_read) ||
	    MUST_SET(c, CURLOPT_READDATA, c) ||
	    MUST_SET(c, CURLOPT_XFERINFOFUNCTION, on_progress) ||
	    MUST_SET(c, CURLOPT_XFERINFODATA, c) ||
	    MUST_SET(c, CURLOPT_NOPROGRESS, 0L))
		return -1;
	/* A server that never says "100 Continue" gets the body after a
	 * while, well before the stall timer would give up on it. */
	curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS,
	                 c->cfg->read_timeout_ms / 2 < EXPECT_WAIT_MS ?
	                 c->cfg->read_timeout_ms / 2 : (long)EXPECT_WAIT_MS);
	return 0;
}

/* Send a request: the headers, then the body, if any. */
static int start(struct http_conn *c, const struct ais_config *cfg,
                 const char *url, const struct http_range *range,
                 const char *if_match, bool with_auth,
                 const struct http_body *body, const struct http_sink *sink)
{
	struct curl_slist *headers = NULL;

	aisi_http_abort(c);
	c->cfg = cfg;
	if ((range->send || (if_match && *if_match) || cfg->headers ||
	     cfg->token || body) &&
	    !(headers = build_headers(cfg, range, if_match, with_auth, body)))
		return out_of_memory(c);
	aisi_http_free_headers(c->request_headers);
	c->request_headers = headers;
	c->start_error[0] = '\0';
	c->has_body = body != NULL;
	if (body)
		c->body = *body;
	curl_easy_reset(c->easy);
	if (setup_easy(c) < 0 || MUST_SET(c, CURLOPT_HTTPHEADER, headers) ||
	    MUST_SET(c, CURLOPT_URL, url) || setup_request(c) < 0 ||
	    setup_body(c) < 0)
		return -1;
	c->sink = *sink;
	reset_reply(&c->reply);
	c->reply_delivered = false;
	c->reply_error = 0;
	c->paused = false;
	c->error_body_len = 0;
	c->curl_error[0] = '\0';
	c->last_activity_ms = c->started_ms = c->window_start_ms = aisi_now_ms();
	c->reply_clock_ms = c->pump_left_ms = c->started_ms;
	c->headers_done = false;
	c->window_bytes = 0;
	if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
		return out_of_memory(c);
	c->active = true;
	return 0;
}

int aisi_http_start(struct http_conn *c, const struct ais_config *cfg,
               const char *url, const struct http_range *range,
               const char *if_match, bool with_auth,
               const struct http_sink *sink)
{
	return start(c, cfg, url, range, if_match, with_auth, NULL, sink);
}

int aisi_http_send(struct http_conn *c, const struct ais_config *cfg,
                   const char *url, const struct http_body *body,
                   bool with_auth, const struct http_sink *sink)
{
	static const struct http_range no_range = { 0, -1, false };

	return start(c, cfg, url, &no_range, NULL, with_auth, body, sink);
}

void aisi_http_status_why(const struct http_result *res, char *out, size_t cap)
{
	const char *words = aisi_http_status_text(res->status);

	snprintf(out, cap, "HTTP %ld%s%s%s%s", res->status, *words ? " " : "",
	         words, *res->detail ? ": " : "", res->detail);
}

/* Copy the JSON string starting after its opening quote, undoing the
 * simple escapes (\" \\ \/ \n \t); stops at the closing quote. */
static void json_string(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	/* A raw line break cannot be in a JSON string: it ends the text. */
	for (; *p && !strchr("\"\r\n", *p) && n + 1 < cap; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			out[n++] = strchr("nt\r\n", *p) ? ' ' : *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

/* The server's own words for an error reply: AIStore's JSON "message", the
 * <title> of an HTML page, or the first line of a text body. */
void aisi_http_error_text(const char *body, char *out, size_t cap)
{
	const char *msg = strstr(body, "\"message\"");
	const char *title = strstr(body, "<title>");

	while (*body == ' ' || *body == '\n')
		body++;
	if (*body == '{' && msg && (msg = strchr(msg + 9, ':')) &&
	    (msg = strchr(msg, '"'))) {
		json_string(msg + 1, out, cap);
		return;
	}
	if (*body == '<' && title) {
		title += strlen("<title>");
		snprintf(out, cap, "%.*s", (int)strcspn(title, "<\r\n"), title);
		return;
	}
	snprintf(out, cap, "%.*s", (int)strcspn(body, "\r\n"), body);
}

/* Where a 3xx reply points, as an absolute URL, kept until the next one. */
static void keep_location(struct http_conn *c, struct http_result *res)
{
	char *loc = NULL;

	free(c->location);
	c->location = NULL;
	if (res->status < 300 || res->status >= 400 ||
	    curl_easy_getinfo(c->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK ||
	    !loc)
		return;
	c->location = strdup(loc);
	res->location = c->location;
}

static void reset_result(struct http_result *res)
{
	memset(res, 0, sizeof(*res));
	res->range_total = -1;
}

static void finish(struct http_conn *c, CURLcode code, struct http_result *res)
{
	reset_result(res);
	/* A whole reply with an empty body has not been shown to the sink
	 * yet; a broken one never is. */
	if (code == CURLE_OK)
		deliver_reply(c);
	else
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->reply.status);
	res->code = code;
	res->status = c->reply.status;
	res->range_total = c->reply.range_total;
	if (code == CURLE_OK)
		keep_location(c, res);
	if (code == CURLE_OK && !is_success(c->reply.status)) {
		c->error_body[c->error_body_len] = '\0';
		aisi_http_error_text(c->error_body, res->detail, sizeof(res->detail));
	} else if (code != CURLE_OK) {
		snprintf(res->detail, sizeof(res->detail), "%s",
		         c->curl_error[0] ? c->curl_error : curl_easy_strerror(code));
	}
	aisi_http_abort(c);
}

static bool check_done(struct http_conn *c, struct http_result *res)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy) {
			finish(c, m->data.result, res);
			return true;
		}
	}
	return false;
}

/* End the request as timed out, saying why. */
static bool time_out(struct http_conn *c, struct http_result *res,
                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool time_out(struct http_conn *c, struct http_result *res,
                     const char *fmt, ...)
{
	va_list ap;

	reset_result(res);
	res->code = CURLE_OPERATION_TIMEDOUT;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res->status);
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	aisi_http_abort(c);
	return true;
}

static bool stalled(struct http_conn *c, struct http_result *res)
{
	if (c->paused || aisi_now_ms() - c->last_activity_ms < c->cfg->read_timeout_ms)
		return false;
	return time_out(c, res, "no data for %ld ms", c->cfg->read_timeout_ms);
}

/* A server that trickles (a header line, a byte) at a time resets the
 * stall timer forever: bound the header, and ask the body for a minimum
 * speed. */
static bool starving(struct http_conn *c, struct http_result *res)
{
	const struct ais_config *cfg = c->cfg;
	int64_t now = aisi_now_ms(), span = now - c->window_start_ms;
	long header_limit = cfg->connect_timeout_ms + cfg->read_timeout_ms;

	if (!c->headers_done && !c->sending &&
	    now - c->reply_clock_ms >= header_limit)
		return time_out(c, res, "no complete reply header within %ld ms",
		                header_limit);
	if (!(c->headers_done || c->sending) || c->paused ||
	    cfg->min_speed <= 0 || span < cfg->read_timeout_ms)
		return false;
	if (c->window_bytes * 1000 < (uint64_t)cfg->min_speed * (uint64_t)span)
		return time_out(c, res, "%llu bytes in %lld ms, less than the "
		                "minimum of %ld bytes/s",
		                (unsigned long long)c->window_bytes, (long long)span,
		                cfg->min_speed);
	c->window_start_ms = now;
	c->window_bytes = 0;
	return false;
}

enum http_pump_result aisi_http_pump(struct http_conn *c, long timeout_ms,
                                struct http_result *res)
{
	int64_t deadline = aisi_now_ms() + timeout_ms;
	int running;

	c->progressed = false;
	if (c->paused) {
		/* The stream made room: take the held-back bytes now.  Time spent
		 * paused is the caller's, not a stall. */
		c->paused = false;
		c->last_activity_ms = aisi_now_ms();
		curl_easy_pause(c->easy, CURLPAUSE_CONT);
	}
	/* Time the caller spent away from the transfer does not count
	 * against its speed. */
	if (aisi_now_ms() - c->pump_left_ms > POLL_SLICE_MS) {
		c->window_start_ms = aisi_now_ms();
		c->window_bytes = 0;
	}
	for (;;) {
		curl_multi_perform(c->multi, &running);
		if (check_done(c, res))
			return HTTP_PUMP_DONE;
		if (starving(c, res))
			return HTTP_PUMP_DONE;
		if (c->paused || c->progressed)
			break;
		if (stalled(c, res))
			return HTTP_PUMP_DONE;
		long left = (long)(deadline - aisi_now_ms());
		if (left <= 0)
			break;
		curl_multi_poll(c->multi, NULL, 0,
		                left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS,
		                NULL);
	}
	c->pump_left_ms = aisi_now_ms();
	return HTTP_PUMP_RUNNING;
}
