/*
 * http.c - the HTTP transport: one GET at a time over libcurl's multi
 * interface, driven by the stream.  It knows nothing of objects, resumes or
 * stdio: it sends the request it is told, parses the reply headers, hands 2xx
 * bodies to the stream's sink (pausing when the sink has no room), keeps the
 * body of an error reply for the message, and says how the request ended.
 *
 * The multi handle and the easy handle live as long as the stream, so the
 * connection is reused between requests (keep-alive) when the server allows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define ERROR_BODY_MAX 4096
#define POLL_SLICE_MS 100

struct http_conn {
	const struct ais_config *cfg;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *request_headers;
	struct http_sink sink;
	struct http_reply reply;
	bool active;          /* easy handle is in the multi handle */
	bool paused;          /* the sink said "no room" */
	bool reply_delivered; /* on_reply was called for this request */
	int reply_error;      /* what on_reply returned */
	bool progressed;      /* bytes arrived during this http_pump */
	int64_t last_activity_ms;
	char error_body[ERROR_BODY_MAX];
	size_t error_body_len;
	char curl_error[CURL_ERROR_SIZE];
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

static void parse_content_range(struct http_reply *r, const char *v)
{
	long long a, b, total;

	/* "bytes a-b/total"; the total may be "*" when unknown */
	if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &total) == 3) {
		r->range_start = a;
		r->range_total = total;
	} else if (sscanf(v, "bytes %lld-%lld/*", &a, &b) == 2) {
		r->range_start = a;
	} else if (sscanf(v, "bytes */%lld", &total) == 1) {
		r->range_total = total;
	}
}

static void reset_reply(struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->range_start = -1;
	r->range_total = -1;
}

/* Headers of every response in the chain arrive here (redirects too); a
 * status line starts a new response, so only the final one is kept. */
static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	struct http_conn *c = userdata;
	struct http_reply *r = &c->reply;
	size_t len = size * n;
	const char *colon = memchr(p, ':', len);
	char value[HTTP_VALIDATOR_MAX];
	size_t name_len;

	c->last_activity_ms = ais_now_ms();
	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		reset_reply(r);
		return len;
	}
	if (!colon)
		return len;
	name_len = (size_t)(colon - p);
	header_value(value, sizeof(value), colon + 1, len - name_len - 1);
#define IS(name) (name_len == strlen(name) && !strncasecmp(p, name, name_len))
	if (IS("Content-Length"))
		r->content_length = strtoll(value, NULL, 10);
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
#undef IS
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

	c->last_activity_ms = ais_now_ms();
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

static void setup_tls(struct http_conn *c)
{
	const struct ais_config *cfg = c->cfg;
	CURL *e = c->easy;

	if (cfg->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Where redirects may go.  An AIStore gateway redirects every GET to a
 * target on another host, and the target checks the token too, so with a
 * token the Authorization header must follow (libcurl drops it on a host
 * change by default).  Following it to plain http from https would put the
 * token on the wire in clear: such a request follows https redirects only. */
static void set_redirect_policy(struct http_conn *c, const char *url)
{
	bool with_token = c->cfg->token != NULL;
	bool from_https = !strncasecmp(url, "https:", 6);

	curl_easy_setopt(c->easy, CURLOPT_UNRESTRICTED_AUTH, with_token ? 1L : 0L);
	curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR,
	                 with_token && from_https ? "https" : "http,https");
}

static int setup_easy(struct http_conn *c)
{
	const struct ais_config *cfg = c->cfg;
	CURL *e = c->easy;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "aisfile/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_error);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	/* Larger socket reads mean fewer callbacks; the pieces handed to the
	 * sink stay at most CURL_MAX_WRITE_SIZE each. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	setup_tls(c);
	return 0;
}

struct http_conn *http_conn_new(const struct ais_config *cfg)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cfg = cfg;
	c->multi = curl_multi_init();
	c->easy = curl_easy_init();
	if (!c->multi || !c->easy) {
		http_conn_free(c);
		errno = ENOMEM;
		return NULL;
	}
	setup_easy(c);
	return c;
}

void http_abort(struct http_conn *c)
{
	if (!c->active)
		return;
	curl_multi_remove_handle(c->multi, c->easy);
	c->active = false;
	c->paused = false;
}

bool http_active(const struct http_conn *c)
{
	return c->active;
}

void http_wakeup(struct http_conn *c)
{
	curl_multi_wakeup(c->multi);
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	if (c->easy)
		http_abort(c);
	curl_easy_cleanup(c->easy);
	curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->request_headers);
	free(c);
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

/* The one place that builds request headers: the caller's, the token, then
 * Range and If-Match for a resumed or repositioned request. */
static struct curl_slist *build_headers(const struct ais_config *cfg,
                                        const struct http_range *range,
                                        const char *if_match)
{
	struct curl_slist *list = NULL, *next;
	char line[HTTP_VALIDATOR_MAX + 32];

	for (const struct curl_slist *h = cfg->headers; h; h = h->next) {
		if (!(next = curl_slist_append(list, h->data)))
			goto oom;
		list = next;
	}
	if (cfg->token) {
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
	return list;
oom:
	curl_slist_free_all(list);
	return NULL;
}

int http_start(struct http_conn *c, const char *url,
               const struct http_range *range, const char *if_match,
               const struct http_sink *sink)
{
	struct curl_slist *headers = NULL;

	http_abort(c);
	if ((range->send || (if_match && *if_match) || c->cfg->headers ||
	     c->cfg->token) &&
	    !(headers = build_headers(c->cfg, range, if_match))) {
		errno = ENOMEM;
		return -1;
	}
	curl_slist_free_all(c->request_headers);
	c->request_headers = headers;
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	set_redirect_policy(c, url);
	c->sink = *sink;
	reset_reply(&c->reply);
	c->reply_delivered = false;
	c->reply_error = 0;
	c->paused = false;
	c->error_body_len = 0;
	c->curl_error[0] = '\0';
	c->last_activity_ms = ais_now_ms();
	if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK) {
		errno = ENOMEM;
		return -1;
	}
	c->active = true;
	return 0;
}

/* Copy the JSON string starting after its opening quote, undoing the
 * simple escapes (\" \\ \/ \n \t); stops at the closing quote. */
static void json_string(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (; *p && *p != '"' && n + 1 < cap; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			out[n++] = *p == 'n' ? ' ' : *p == 't' ? ' ' : *p;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

/* The server's own words for an error reply: AIStore's JSON "message", the
 * <title> of an HTML page, or the first line of a text body. */
static void error_text(const struct http_conn *c, char *out, size_t cap)
{
	const char *body = c->error_body, *msg = strstr(body, "\"message\"");
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

static void finish(struct http_conn *c, CURLcode code, struct http_result *res)
{
	memset(res, 0, sizeof(*res));
	/* A whole reply with an empty body has not been shown to the sink
	 * yet; a broken one never is. */
	if (code == CURLE_OK)
		deliver_reply(c);
	else
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->reply.status);
	res->code = code;
	res->status = c->reply.status;
	if (code == CURLE_OK && !is_success(c->reply.status)) {
		c->error_body[c->error_body_len] = '\0';
		error_text(c, res->detail, sizeof(res->detail));
	} else if (code != CURLE_OK) {
		snprintf(res->detail, sizeof(res->detail), "%s",
		         c->curl_error[0] ? c->curl_error : curl_easy_strerror(code));
	}
	http_abort(c);
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

static bool stalled(struct http_conn *c, struct http_result *res)
{
	if (c->paused || ais_now_ms() - c->last_activity_ms < c->cfg->read_timeout_ms)
		return false;
	memset(res, 0, sizeof(*res));
	res->code = CURLE_OPERATION_TIMEDOUT;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res->status);
	snprintf(res->detail, sizeof(res->detail), "no data for %ld ms",
	         c->cfg->read_timeout_ms);
	http_abort(c);
	return true;
}

enum http_pump_result http_pump(struct http_conn *c, long timeout_ms,
                                struct http_result *res)
{
	int64_t deadline = ais_now_ms() + timeout_ms;
	int running;

	c->progressed = false;
	if (c->paused) {
		/* The stream made room: take the held-back bytes now.  Time spent
		 * paused is the caller's, not a stall. */
		c->paused = false;
		c->last_activity_ms = ais_now_ms();
		curl_easy_pause(c->easy, CURLPAUSE_CONT);
	}
	for (;;) {
		curl_multi_perform(c->multi, &running);
		if (check_done(c, res))
			return HTTP_PUMP_DONE;
		if (c->paused || c->progressed)
			return HTTP_PUMP_RUNNING;
		if (stalled(c, res))
			return HTTP_PUMP_DONE;
		long left = (long)(deadline - ais_now_ms());
		if (left <= 0)
			return HTTP_PUMP_RUNNING;
		curl_multi_poll(c->multi, NULL, 0,
		                left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS,
		                NULL);
	}
}
