/*
 * objserver_http.c - HTTP/1.1 on one connection of tests/objserver: request
 * heads (bounded, strictly parsed), request bodies (Content-Length or
 * chunked, with 100 Continue sent when the body is first wanted),
 * responses, and how a connection ends.  See objserver.h for the contract.
 *
 * Strict on purpose: the write tests should learn about a malformed request
 * from this server rather than from a real AIStore later.  What Go's
 * net/http (AIStore's server) refuses, this refuses too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "objserver.h"

/* Head plus room for a body's first bytes. */
#define HTTP_CONN_BUFFER (HTTP_HEAD_LIMIT + 64 * 1024)
/* A client that sends nothing for this long is gone. */
#define HTTP_READ_TIMEOUT_MS 60000
#define HTTP_MAX_HEADERS 100
/* Longest chunk-size line (extensions included) or trailer line. */
#define HTTP_CHUNK_LINE_LIMIT 4096
/* A body we do not want is read and dropped up to this size, so that the
 * connection stays usable; past it, the connection closes. */
#define HTTP_DRAIN_LIMIT ((uint64_t)64 << 20)
/* How long, and how much, a closing connection still reads so that the
 * client sees our answer instead of a reset. */
#define HTTP_LINGER_MS 2000
#define HTTP_LINGER_BYTES ((size_t)64 << 20)

int reply_fail(struct reply_error *e, int status, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- the connection ---------------------------------------------------------- */

int http_conn_init(struct http_conn *c, int fd, const char *peer)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->buf = malloc(HTTP_CONN_BUFFER);
	if (!c->buf) {
		close(fd);
		return -1;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is readable: 1, or 0 after timeout_ms, or -1 on error. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - now_ms();
		int ready = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (ready >= 0 || errno != EINTR)
			return ready > 0 ? 1 : ready;
	}
}

/* recv into buf with the read timeout: > 0 bytes, or 0 at EOF, timeout or
 * error (the connection is then broken). */
static ssize_t conn_recv(struct http_conn *c, void *buf, size_t n)
{
	for (;;) {
		ssize_t got;

		if (wait_readable(c->fd, HTTP_READ_TIMEOUT_MS) <= 0)
			break;
		got = recv(c->fd, buf, n, 0);
		if (got > 0)
			return got;
		if (got == 0 || errno != EINTR)
			break;
	}
	c->broken = true;
	return 0;
}

/* Read more into buf (moving unread bytes to its start first): the number
 * of bytes added, 0 if the buffer is full or the connection ended. */
static size_t conn_fill(struct http_conn *c)
{
	ssize_t got;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == HTTP_CONN_BUFFER || c->broken)
		return 0;
	got = conn_recv(c, c->buf + c->end, HTTP_CONN_BUFFER - c->end);
	c->end += (size_t)got;
	return (size_t)got;
}

static size_t conn_buffered(const struct http_conn *c)
{
	return c->end - c->start;
}

static bool send_all(struct http_conn *c, const void *data, size_t n, int flags)
{
	const char *p = data;

	while (n > 0 && !c->broken) {
		ssize_t sent = send(c->fd, p, n, MSG_NOSIGNAL | flags);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0) {
			c->broken = true;
			break;
		}
		p += sent;
		n -= (size_t)sent;
	}
	return !c->broken;
}

/* Read and drop what the client still sends, for a bounded time, so that
 * closing does not reset the connection under our last answer. */
static void linger(struct http_conn *c)
{
	int64_t deadline = now_ms() + HTTP_LINGER_MS;
	size_t dropped = 0;

	shutdown(c->fd, SHUT_WR);
	while (dropped < HTTP_LINGER_BYTES) {
		int64_t left = deadline - now_ms();
		ssize_t got;

		if (left <= 0 || wait_readable(c->fd, (int)left) <= 0)
			break;
		got = recv(c->fd, c->buf, HTTP_CONN_BUFFER, 0);
		if (got <= 0 && !(got < 0 && errno == EINTR))
			break;
		if (got > 0)
			dropped += (size_t)got;
	}
}

void http_conn_finish(struct http_conn *c)
{
	if (!c->aborted) {
		if (!c->broken)
			linger(c);
		close(c->fd);
	}
	free(c->buf);
	c->buf = NULL;
}

/* ---- request heads ------------------------------------------------------------ */

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch);
}

/* A header value may hold visible characters, spaces, tabs and obs-text;
 * no other control character (a bare CR or LF would be a smuggling trick). */
static bool valid_field_value(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

bool http_parse_u64(const char **p, uint64_t *out)
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

/* Content-Length: digits only, no overflow, no list. */
static bool parse_length(const char *v, uint64_t *out)
{
	return http_parse_u64(&v, out) && !*v;
}

/* Whether the comma-separated list v holds token (case-insensitive). */
static bool list_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v) {
		size_t len;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		len = strcspn(v, ", \t");
		if (len == n && strncasecmp(v, token, n) == 0)
			return true;
		v += len;
	}
	return false;
}

/* What the header lines said that framing depends on. */
struct framing {
	bool has_length, chunked, has_host;
	uint64_t length;
};

static int header_fail(const char **why, int status, const char *what)
{
	*why = what;
	return status;
}

/* One "Name: value" line: 0, or an error status with *why. */
static int parse_header(struct http_request *rq, char *line, struct framing *f, const char **why)
{
	char *colon = strchr(line, ':');
	char *value;
	uint64_t length;

	if (*line == ' ' || *line == '\t')
		return header_fail(why, 400, "obsolete line folding in the request head");
	if (!colon || colon == line)
		return header_fail(why, 400, "malformed header line");
	*colon = '\0';
	for (const char *p = line; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return header_fail(why, 400, "malformed header name");
	value = trim(colon + 1);
	if (!valid_field_value(value))
		return header_fail(why, 400, "control character in a header value");
	if (strcasecmp(line, "Content-Length") == 0) {
		if (!parse_length(value, &length))
			return header_fail(why, 400, "invalid Content-Length");
		if (f->has_length && length != f->length)
			return header_fail(why, 400, "two different Content-Length headers");
		f->has_length = true;
		f->length = length;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		if (f->chunked || strcasecmp(value, "chunked") != 0)
			return header_fail(why, 501, "unsupported Transfer-Encoding (only chunked)");
		f->chunked = true;
	} else if (strcasecmp(line, "Expect") == 0) {
		if (strcasecmp(value, "100-continue") != 0)
			return header_fail(why, 417, "unsupported expectation");
		rq->expect_continue = true;
	} else if (strcasecmp(line, "Connection") == 0) {
		if (list_has(value, "close"))
			rq->keep_alive = false;
	} else if (strcasecmp(line, "Host") == 0) {
		if (f->has_host)
			return header_fail(why, 400, "two Host headers");
		f->has_host = true;
	} else if (strcasecmp(line, "Range") == 0) {
		if (!rq->range)
			rq->range = value;
	} else if (strcasecmp(line, "User-Agent") == 0) {
		rq->user_agent = value;
	}
	return 0;
}

/* "METHOD TARGET HTTP/1.x" in place: 0, or an error status with *why. */
static int parse_request_line(struct http_request *rq, char *line, const char **why)
{
	char *target = strchr(line, ' ');
	char *version = target ? strchr(target + 1, ' ') : NULL;
	size_t path_len;

	if (!target || !version || strchr(version + 1, ' '))
		return header_fail(why, 400, "malformed request line");
	*target++ = '\0';
	*version++ = '\0';
	for (const char *p = line; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return header_fail(why, 400, "malformed method");
	if (!*line)
		return header_fail(why, 400, "malformed method");
	rq->method = line;
	if (strncmp(version, "HTTP/", 5) != 0 || !isdigit((unsigned char)version[5]) ||
	    version[6] != '.' || !isdigit((unsigned char)version[7]) || version[8])
		return header_fail(why, 400, "malformed HTTP version");
	if (version[5] != '1')
		return header_fail(why, 505, "HTTP version not supported");
	rq->version = version;
	if (version[7] == '0')
		rq->keep_alive = false;
	for (const unsigned char *p = (const unsigned char *)target; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return header_fail(why, 400, "invalid character in the request target");
	if (*target != '/')
		return header_fail(why, 400, "request target must be a path");
	rq->target = target;
	path_len = strcspn(target, "?");
	memcpy(rq->path_copy, target, path_len);
	rq->path_copy[path_len] = '\0';
	rq->path = rq->path_copy;
	rq->query = target[path_len] ? target + path_len + 1 : "";
	rq->head_only = strcmp(line, "HEAD") == 0;
	return 0;
}

/* Parse the head in rq->head (NUL-terminated, without the final CRLF CRLF). */
static int parse_head(struct http_request *rq, const char **why)
{
	struct framing f = { 0 };
	char *line = rq->head;
	char *eol = strstr(line, "\r\n");
	int headers = 0, status;

	if (eol)
		*eol = '\0';
	if (strchr(line, '\r') || strchr(line, '\n'))
		return header_fail(why, 400, "bare CR or LF in the request line");
	status = parse_request_line(rq, line, why);
	while (status == 0 && eol) {
		line = eol + 2;
		eol = strstr(line, "\r\n");
		if (eol)
			*eol = '\0';
		if (strchr(line, '\r') || strchr(line, '\n'))
			return header_fail(why, 400, "bare CR or LF in a header line");
		if (++headers > HTTP_MAX_HEADERS)
			return header_fail(why, 431, "too many header lines");
		status = parse_header(rq, line, &f, why);
	}
	if (status)
		return status;
	if (rq->version[7] == '1' && !f.has_host)
		return header_fail(why, 400, "missing required Host header");
	if (f.chunked && f.has_length)
		return header_fail(why, 400, "both Content-Length and Transfer-Encoding");
	if (f.chunked && rq->version[7] == '0')
		return header_fail(why, 400, "chunked body in an HTTP/1.0 request");
	if (rq->version[7] == '0')
		rq->expect_continue = false;
	rq->body = f.chunked ? HTTP_BODY_CHUNKED : f.has_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	rq->left = f.has_length ? f.length : 0;
	rq->body_done = rq->body == HTTP_BODY_NONE || (f.has_length && f.length == 0);
	return 0;
}

static void request_reset(struct http_request *rq, struct http_conn *c)
{
	rq->conn = c;
	rq->method = rq->target = rq->path = rq->query = rq->version = "";
	rq->range = rq->user_agent = NULL;
	rq->head_only = rq->expect_continue = rq->continue_sent = false;
	rq->body = HTTP_BODY_NONE;
	rq->left = rq->received = 0;
	rq->body_done = true;
	rq->body_error = HTTP_BODY_FINE;
	rq->keep_alive = true;
	rq->status = 0;
}

int http_read_request(struct http_conn *c, struct http_request *rq, const char **why)
{
	char *end;
	size_t len;
	int status;

	request_reset(rq, c);
	for (;;) {
		/* RFC 9112 2.2: empty lines before a request line are skipped. */
		while (conn_buffered(c) >= 2 && memcmp(c->buf + c->start, "\r\n", 2) == 0)
			c->start += 2;
		end = memmem(c->buf + c->start, conn_buffered(c), "\r\n\r\n", 4);
		if (end)
			break;
		if (conn_buffered(c) >= HTTP_HEAD_LIMIT) {
			rq->keep_alive = false;
			return header_fail(why, 431, "request head too large");
		}
		if (conn_fill(c) == 0)
			return -1;
	}
	len = (size_t)(end - (c->buf + c->start));
	if (len > HTTP_HEAD_LIMIT || memchr(c->buf + c->start, '\0', len)) {
		rq->keep_alive = false;
		return header_fail(why, len > HTTP_HEAD_LIMIT ? 431 : 400,
				   len > HTTP_HEAD_LIMIT ? "request head too large" : "NUL in the request head");
	}
	memcpy(rq->head, c->buf + c->start, len);
	rq->head[len] = '\0';
	c->start += len + 4;
	status = parse_head(rq, why);
	if (status)
		rq->keep_alive = false;
	return status;
}

/* ---- request bodies ------------------------------------------------------------ */

/* Up to n bytes of the connection: buffered ones first, then straight from
 * the socket.  0 when the connection ended. */
static size_t conn_read(struct http_conn *c, void *buf, size_t n)
{
	size_t have = conn_buffered(c);

	if (have > 0) {
		size_t take = have < n ? have : n;

		memcpy(buf, c->buf + c->start, take);
		c->start += take;
		return take;
	}
	return c->broken ? 0 : (size_t)conn_recv(c, buf, n);
}

/* A CRLF-terminated line of at most HTTP_CHUNK_LINE_LIMIT bytes, NUL put in
 * place of its CR; consumed from the buffer.  NULL with rq->body_error. */
static char *conn_line(struct http_request *rq)
{
	struct http_conn *c = rq->conn;

	for (;;) {
		char *at = c->buf + c->start;
		char *eol = memmem(at, conn_buffered(c), "\r\n", 2);

		if (eol) {
			*eol = '\0';
			c->start += (size_t)(eol - at) + 2;
			if (memchr(at, '\n', (size_t)(eol - at)) || strchr(at, '\r')) {
				rq->body_error = HTTP_BODY_MALFORMED;
				return NULL;
			}
			return at;
		}
		if (conn_buffered(c) > HTTP_CHUNK_LINE_LIMIT) {
			rq->body_error = HTTP_BODY_MALFORMED;
			return NULL;
		}
		if (conn_fill(c) == 0) {
			rq->body_error = HTTP_BODY_CUT;
			return NULL;
		}
	}
}

/* Start the next chunk (after the CRLF of the previous one, if any): sets
 * rq->left, or body_done at the last chunk after skipping the trailers. */
static int next_chunk(struct http_request *rq)
{
	uint64_t size = 0;
	int digits = 0;
	char *line, *p;

	/* Every chunk before the last has data, so having received bytes
	 * means a chunk's data just ended: its CRLF comes first. */
	if (rq->received > 0) {
		line = conn_line(rq);
		if (!line)
			return -1;
		if (*line) {
			rq->body_error = HTTP_BODY_MALFORMED;
			return -1;
		}
	}
	line = conn_line(rq);
	if (!line)
		return -1;
	for (p = line; isxdigit((unsigned char)*p); p++, digits++) {
		int ch = tolower((unsigned char)*p);

		size = size * 16 + (uint64_t)(isdigit(ch) ? ch - '0' : ch - 'a' + 10);
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (digits == 0 || digits > 15 || (*p && *p != ';')) {
		rq->body_error = HTTP_BODY_MALFORMED;
		return -1;
	}
	if (size > 0) {
		rq->left = size;
		return 0;
	}
	/* The last chunk: trailer lines up to an empty one, all ignored. */
	for (int trailers = 0; trailers <= HTTP_MAX_HEADERS; trailers++) {
		line = conn_line(rq);
		if (!line)
			return -1;
		if (!*line) {
			rq->body_done = true;
			return 0;
		}
	}
	rq->body_error = HTTP_BODY_MALFORMED;
	return -1;
}

static bool send_continue(struct http_request *rq)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";

	rq->continue_sent = true;
	return send_all(rq->conn, interim, sizeof(interim) - 1, 0);
}

ssize_t http_body_read(struct http_request *rq, void *buf, size_t n)
{
	size_t got;

	if (rq->body_error)
		return -1;
	if (rq->body_done || n == 0)
		return 0;
	if (rq->expect_continue && !rq->continue_sent && !send_continue(rq)) {
		rq->body_error = HTTP_BODY_CUT;
		return -1;
	}
	if (rq->body == HTTP_BODY_CHUNKED && rq->left == 0) {
		if (next_chunk(rq) < 0)
			return -1;
		if (rq->body_done)
			return 0;
	}
	got = conn_read(rq->conn, buf, rq->left < n ? (size_t)rq->left : n);
	if (got == 0) {
		rq->body_error = HTTP_BODY_CUT;
		return -1;
	}
	rq->left -= got;
	rq->received += got;
	if (rq->body == HTTP_BODY_LENGTH && rq->left == 0)
		rq->body_done = true;
	return (ssize_t)got;
}

int http_body_read_all(struct http_request *rq, size_t limit, char **out, size_t *len,
		       struct reply_error *e)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap + 1);
	ssize_t got = 1;

	while (buf && got > 0) {
		if (used == cap) {
			char *bigger = cap < limit ? realloc(buf, 2 * cap + 1) : NULL;

			if (!bigger) {
				free(buf);
				return cap < limit ? reply_fail(e, 500, "out of memory")
						   : reply_fail(e, 413, "request body larger than %zu bytes", limit);
			}
			buf = bigger;
			cap *= 2;
		}
		got = http_body_read(rq, buf + used, cap - used);
		if (got > 0)
			used += (size_t)got;
	}
	if (!buf)
		return reply_fail(e, 500, "out of memory");
	if (got < 0) {
		free(buf);
		return reply_fail(e, 400, "request body %s", rq->body_error == HTTP_BODY_CUT
				  ? "ended early" : "is malformed (bad chunk)");
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

/* Before answering: a body we did not read must not be taken for the next
 * request.  Read and drop it if the client is sending it anyway and it is
 * not huge; otherwise the connection closes after the answer. */
static void settle_body(struct http_request *rq)
{
	char scratch[16384];

	if (rq->body_done)
		return;
	if (rq->body_error || (rq->expect_continue && !rq->continue_sent)) {
		rq->keep_alive = false;
		return;
	}
	while (!rq->body_done && rq->received < HTTP_DRAIN_LIMIT)
		if (http_body_read(rq, scratch, sizeof(scratch)) < 0)
			break;
	if (!rq->body_done)
		rq->keep_alive = false;
}

/* ---- responses -------------------------------------------------------------------- */

static const char *reason(int status)
{
	static const struct { int status; const char *text; } reasons[] = {
		{ 200, "OK" }, { 206, "Partial Content" },
		{ 301, "Moved Permanently" }, { 307, "Temporary Redirect" },
		{ 400, "Bad Request" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 409, "Conflict" }, { 413, "Content Too Large" },
		{ 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 503, "Service Unavailable" }, { 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].text;
	return "Unknown";
}

/* The status line and headers, with Content-Length and Connection added. */
static bool send_head(struct http_request *rq, int status, const char *headers,
		      uint64_t length, bool more)
{
	size_t cap = (headers ? strlen(headers) : 0) + 256;
	char *head = malloc(cap);
	int n;
	bool ok;

	settle_body(rq);
	if (!head) {
		rq->conn->broken = true;
		return false;
	}
	n = snprintf(head, cap, "HTTP/1.1 %d %s\r\n%sContent-Length: %" PRIu64 "\r\n%s\r\n",
		     status, reason(status), headers ? headers : "", length,
		     rq->keep_alive ? "" : "Connection: close\r\n");
	rq->status = status;
	ok = send_all(rq->conn, head, (size_t)n, more ? MSG_MORE : 0);
	free(head);
	return ok;
}

int http_respond(struct http_request *rq, int status, const char *headers,
		 const void *body, size_t len)
{
	bool with_body = !rq->head_only && len > 0;

	if (!send_head(rq, status, headers, len, with_body))
		return -1;
	return with_body && !send_all(rq->conn, body, len, 0) ? -1 : 0;
}

/* All of piece p to the connection. */
static bool send_piece(struct http_conn *c, struct file_piece p)
{
	while (p.length > 0) {
		ssize_t sent = sendfile(c->fd, p.fd, &p.offset,
					p.length < ((size_t)1 << 30) ? (size_t)p.length : (size_t)1 << 30);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0) {
			c->broken = true;
			return false;
		}
		p.length -= (uint64_t)sent;
	}
	return true;
}

int http_respond_pieces(struct http_request *rq, int status, const char *headers,
			const struct file_piece *pieces, size_t count)
{
	uint64_t length = 0;
	bool with_body;

	for (size_t i = 0; i < count; i++)
		length += pieces[i].length;
	with_body = !rq->head_only && length > 0;
	if (!send_head(rq, status, headers, length, with_body))
		return -1;
	for (size_t i = 0; with_body && i < count; i++)
		if (!send_piece(rq->conn, pieces[i]))
			return -1;
	return 0;
}

void http_abort(struct http_request *rq)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct http_conn *c = rq->conn;

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(c->fd);
	c->aborted = c->broken = true;
	rq->keep_alive = false;
	rq->status = HTTP_STATUS_CUT;
}

/* ---- queries ------------------------------------------------------------------------------ */

/* The value of key in query "a=1&b=2", percent-decoded ('+' is a space)
 * into out: 1, 0 if absent, -1 if malformed or longer than n - 1. */
int http_query_get(const char *query, const char *key, char *out, size_t n)
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
