/*
 * liarserver - a loopback HTTP server that lies, for the "hostile servers"
 * suite: replies whose headers contradict each other or their body, a
 * validator that disappears, 416s with and without a size.  nginx never
 * does these things, so they need a server of our own.
 *
 * usage: liarserver
 *
 * Prints its kernel-chosen port on stdout once listening.  The request path
 * chooses the lie; liarserver.h lists the paths and the bytes each serves.
 * Every connection carries one request and is closed after the reply.
 * SIGTERM/SIGINT exit 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "liarserver.h"

#define REQUEST_HEAD_LIMIT (16 * 1024)
#define SEND_BUFFER_SIZE (64 * 1024)
#define HEAD_LIMIT 2048

/* What the client asked for. */
struct request {
	char path[256];
	bool ranged;
	int64_t from;
	int64_t to; /* -1: to the end */
};

/* ---- sockets ---------------------------------------------------------------- */

static bool send_all(int fd, const void *data, size_t length)
{
	const char *p = data;

	while (length > 0) {
		ssize_t sent = send(fd, p, length, MSG_NOSIGNAL);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0)
			return false;
		p += sent;
		length -= (size_t)sent;
	}
	return true;
}

/* Unread input would turn close() into an RST; the lies must arrive whole,
 * ended by a clean FIN. */
static void close_gracefully(int fd)
{
	char discard[4096];

	shutdown(fd, SHUT_WR);
	while (recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0)
		;
	close(fd);
}

static size_t read_request_head(int fd, char *head, size_t cap)
{
	size_t length = 0;

	while (length + 1 < cap && !memmem(head, length, "\r\n\r\n", 4)) {
		ssize_t got = recv(fd, head + length, cap - 1 - length, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		length += (size_t)got;
	}
	head[length] = '\0';
	return length;
}

/* ---- requests ---------------------------------------------------------------- */

/* "GET /path?query HTTP/1.1" and an optional "Range: bytes=A-[B]". */
static bool parse_request(char *head, struct request *rq)
{
	char *range = strcasestr(head, "\r\nRange:");
	long long from, to;

	memset(rq, 0, sizeof(*rq));
	rq->to = -1;
	if (sscanf(head, "%*s %255[^? ]", rq->path) != 1)
		return false;
	if (!range)
		return true;
	range += strlen("\r\nRange:");
	if (sscanf(range, " bytes=%lld-%lld", &from, &to) == 2) {
		rq->to = to;
	} else if (sscanf(range, " bytes=%lld-", &from) != 1) {
		return false;
	}
	rq->ranged = true;
	rq->from = from;
	return true;
}

/* The bytes of an object of size the request gets, as an honest server
 * would send them: false when it starts at or past the end. */
static bool honest_range(const struct request *rq, int64_t size, int64_t *from,
                         int64_t *to)
{
	*from = rq->ranged ? rq->from : 0;
	*to = rq->to >= 0 && rq->to < size ? rq->to : size - 1;
	return *from < size;
}

/* ---- replies ----------------------------------------------------------------- */

/* The status line, the header lines of fmt (each ending "\r\n"), and the
 * blank line. */
static bool send_head(int fd, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool send_head(int fd, const char *status, const char *fmt, ...)
{
	char head[HEAD_LIMIT];
	va_list ap;
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nConnection: close\r\n",
	                 status);

	va_start(ap, fmt);
	n += vsnprintf(head + n, sizeof(head) - (size_t)n, fmt, ap);
	va_end(ap);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	return send_all(fd, head, (size_t)n);
}

/* Bytes [from, from + length) of a version, sent raw or as one chunk of a
 * chunked body. */
/* XXH64 (seed 0) of the first length bytes of a version. */
static uint64_t object_xxh64(int version, int64_t length)
{
	unsigned char buf[4096];
	XXH64_state_t *st = XXH64_createState();
	uint64_t sum;

	XXH64_reset(st, 0);
	for (int64_t at = 0; at < length; at += (int64_t)sizeof(buf)) {
		size_t n = length - at < (int64_t)sizeof(buf) ?
		           (size_t)(length - at) : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = liar_byte(version, at + (int64_t)i);
		XXH64_update(st, buf, n);
	}
	sum = XXH64_digest(st);
	XXH64_freeState(st);
	return sum;
}

static bool send_object(int fd, int version, int64_t from, int64_t length,
                        bool chunked)
{
	static __thread unsigned char buf[SEND_BUFFER_SIZE];

	while (length > 0) {
		size_t n = length < (int64_t)sizeof(buf) ? (size_t)length : sizeof(buf);
		char size_line[32];

		for (size_t i = 0; i < n; i++)
			buf[i] = liar_byte(version, from + (int64_t)i);
		snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
		if ((chunked && !send_all(fd, size_line, strlen(size_line))) ||
		    !send_all(fd, buf, n) || (chunked && !send_all(fd, "\r\n", 2)))
			return false;
		from += (int64_t)n;
		length -= (int64_t)n;
	}
	return true;
}

static void serve_long_206(int fd, const struct request *rq, bool with_length)
{
	int64_t from = rq->ranged ? rq->from : 0;
	int64_t label_end = from + LIAR_LONG_LABEL - 1;

	if (with_length)
		send_head(fd, "206 Partial Content",
		          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n"
		          "Content-Length: %d\r\n", from, label_end,
		          LIAR_LONG_SIZE, LIAR_LONG_BODY);
	else
		send_head(fd, "206 Partial Content",
		          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n",
		          from, label_end, LIAR_LONG_SIZE);
	send_object(fd, 1, from, LIAR_LONG_LABEL, false);
	send_object(fd, 2, from + LIAR_LONG_LABEL, LIAR_LONG_BODY - LIAR_LONG_LABEL,
	            false);
}

static void serve_two_lengths(int fd, const struct request *rq)
{
	(void)rq;
	send_head(fd, "200 OK", "Content-Length: %d\r\nContent-Length: %d\r\n",
	          LIAR_TWO_LENGTHS_SIZE, LIAR_TWO_LENGTHS_SHORT);
	send_object(fd, 1, 0, LIAR_TWO_LENGTHS_SIZE, false);
}

static void serve_total_smaller(int fd, const struct request *rq)
{
	int64_t from = rq->ranged ? rq->from : 0;

	send_head(fd, "206 Partial Content",
	          "Content-Range: bytes %" PRId64 "-%d/%d\r\n"
	          "Content-Length: %" PRId64 "\r\n", from,
	          LIAR_SMALL_TOTAL_BODY - 1, LIAR_SMALL_TOTAL_SIZE,
	          LIAR_SMALL_TOTAL_BODY - from);
	send_object(fd, 1, from, LIAR_SMALL_TOTAL_BODY - from, false);
}

/* The answer to a request past the end of an object: total is its size
 * as text, or "*". */
static void send_416(int fd, const char *total)
{
	send_head(fd, "416 Range Not Satisfiable",
	          "Content-Range: bytes */%s\r\nContent-Length: 0\r\n", total);
}

static void serve_etag_vanishes(int fd, const struct request *rq)
{
	int64_t from, to;

	if (!honest_range(rq, LIAR_VANISH_SIZE, &from, &to)) {
		send_416(fd, "10000");
		return;
	}
	if (from == 0) {
		send_head(fd, "206 Partial Content",
		          "Content-Range: bytes 0-%" PRId64 "/%d\r\n"
		          "Content-Length: %" PRId64 "\r\nETag: %s\r\n", to,
		          LIAR_VANISH_SIZE, to + 1, LIAR_VANISH_ETAG);
		send_object(fd, 1, 0, LIAR_VANISH_CUT, false);
		return;
	}
	send_head(fd, "206 Partial Content",
	          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n"
	          "Content-Length: %" PRId64 "\r\n", from, to, LIAR_VANISH_SIZE,
	          to - from + 1);
	send_object(fd, 2, from, to - from + 1, false);
}

static void serve_range_checksum(int fd, const struct request *rq)
{
	int64_t from, to;

	if (!honest_range(rq, LIAR_RANGE_CKSUM_SIZE, &from, &to)) {
		send_416(fd, "3145728");
		return;
	}
	/* A range's own checksum (not a real one: any value that differs from
	 * range to range); a reply of the whole object carries the object's
	 * real XXH64, as an AIStore target's does. */
	uint64_t sum = (uint64_t)from * 31 + (uint64_t)to;

	if (from == 0 && to == LIAR_RANGE_CKSUM_SIZE - 1)
		sum = object_xxh64(1, LIAR_RANGE_CKSUM_SIZE);
	send_head(fd, rq->ranged ? "206 Partial Content" : "200 OK",
	          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n"
	          "Content-Length: %" PRId64 "\r\nAis-Version: 1\r\n"
	          "Ais-Checksum-Type: xxhash2\r\n"
	          "Ais-Checksum-Value: %016" PRIx64 "\r\n", from, to,
	          LIAR_RANGE_CKSUM_SIZE, to - from + 1, sum);
	send_object(fd, 1, from, to - from + 1, false);
}

static void serve_no_validator(int fd, const struct request *rq)
{
	int64_t from, to;

	if (!honest_range(rq, LIAR_NOVAL_SIZE, &from, &to)) {
		send_416(fd, "100000");
		return;
	}
	send_head(fd, "206 Partial Content",
	          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n"
	          "Content-Length: %" PRId64 "\r\n", from, to, LIAR_NOVAL_SIZE,
	          to - from + 1);
	send_object(fd, 1, from, from == 0 ? LIAR_NOVAL_CUT : to - from + 1,
	            false);
}

static void serve_http10(int fd, const struct request *rq, bool cut)
{
	char head[256];
	int64_t from, to;

	if (!honest_range(rq, LIAR_H10_SIZE, &from, &to)) {
		send_416(fd, "*");
		return;
	}
	if (from == 0)
		snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nETag: %s\r\n"
		         "\r\n", LIAR_H10_ETAG);
	else
		snprintf(head, sizeof(head), "HTTP/1.0 206 Partial Content\r\n"
		         "ETag: %s\r\nContent-Range: bytes %" PRId64 "-%" PRId64
		         "/*\r\n\r\n", LIAR_H10_ETAG, from, to);
	if (!send_all(fd, head, strlen(head)))
		return;
	send_object(fd, 1, from, cut && from == 0 ? LIAR_H10_CUT_AT :
	            to - from + 1, false);
}

static void serve_empty_416(int fd, const struct request *rq)
{
	if (rq->ranged)
		send_416(fd, "0");
	else
		send_head(fd, "200 OK", "Content-Length: 0\r\n");
}

/* The object of unknown size, its body ended by the close, or chunked and
 * broken just before the last chunk. */
static void serve_unknown(int fd, const struct request *rq, bool chunked)
{
	const char *encoding = chunked ? "Transfer-Encoding: chunked\r\n" : "";
	int64_t from, to;

	if (!honest_range(rq, LIAR_UNKNOWN_SIZE, &from, &to)) {
		send_416(fd, "*");
		return;
	}
	if (rq->ranged)
		send_head(fd, "206 Partial Content",
		          "Content-Range: bytes %" PRId64 "-%" PRId64 "/*\r\n%s",
		          from, to, encoding);
	else
		send_head(fd, "200 OK", "%s", encoding);
	send_object(fd, 1, from, to - from + 1, chunked);
}

static void serve_gzip(int fd, const struct request *rq)
{
	(void)rq;
	send_head(fd, "200 OK", "Content-Type: text/plain\r\n"
	          "Content-Encoding: gzip\r\nContent-Length: %zu\r\n",
	          sizeof(liar_gzip_body));
	send_all(fd, liar_gzip_body, sizeof(liar_gzip_body));
}

static void serve_not_found(int fd)
{
	static const char text[] = "no such lie\n";

	send_head(fd, "404 Not Found", "Content-Type: text/plain\r\n"
	          "Content-Length: %zu\r\n", sizeof(text) - 1);
	send_all(fd, text, sizeof(text) - 1);
}

static void pause_trickle(void)
{
	struct timespec ts = { 0, LIAR_TRICKLE_MS * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* At most a minute of trickling, should a client never leave. */
#define TRICKLE_STEPS (60 * 1000 / LIAR_TRICKLE_MS)

static void serve_header_trickle(int fd)
{
	char line[64];

	static const char status[] = "HTTP/1.1 206 Partial Content\r\n";

	if (!send_all(fd, status, sizeof(status) - 1))
		return;
	for (int i = 0; i < TRICKLE_STEPS; i++) {
		pause_trickle();
		snprintf(line, sizeof(line), "X-Trickle-%d: %d\r\n", i, i);
		if (!send_all(fd, line, strlen(line)))
			return;
	}
}

static void serve_body_trickle(int fd, const struct request *rq)
{
	int64_t from, to;

	if (!honest_range(rq, LIAR_TRICKLE_SIZE, &from, &to)) {
		send_416(fd, "1048576");
		return;
	}
	send_head(fd, "206 Partial Content",
	          "Content-Range: bytes %" PRId64 "-%" PRId64 "/%d\r\n"
	          "Content-Length: %" PRId64 "\r\nETag: \"t1\"\r\n", from, to,
	          LIAR_TRICKLE_SIZE, to - from + 1);
	for (int i = 0; i < TRICKLE_STEPS && from <= to; i++, from++) {
		if (!send_object(fd, 1, from, 1, false))
			return;
		pause_trickle();
	}
}

static void serve(int fd, const struct request *rq)
{
	const char *p = rq->path;

	if (!strcmp(p, LIAR_LONG_206))
		serve_long_206(fd, rq, true);
	else if (!strcmp(p, LIAR_LONG_206_CLOSE))
		serve_long_206(fd, rq, false);
	else if (!strcmp(p, LIAR_TWO_LENGTHS))
		serve_two_lengths(fd, rq);
	else if (!strcmp(p, LIAR_SMALL_TOTAL))
		serve_total_smaller(fd, rq);
	else if (!strcmp(p, LIAR_ETAG_VANISHES))
		serve_etag_vanishes(fd, rq);
	else if (!strcmp(p, LIAR_EMPTY_416))
		serve_empty_416(fd, rq);
	else if (!strcmp(p, LIAR_RANGE_CKSUM))
		serve_range_checksum(fd, rq);
	else if (!strcmp(p, LIAR_H10_CUT))
		serve_http10(fd, rq, true);
	else if (!strcmp(p, LIAR_H10_WHOLE))
		serve_http10(fd, rq, false);
	else if (!strcmp(p, LIAR_NO_VALIDATOR))
		serve_no_validator(fd, rq);
	else if (!strcmp(p, LIAR_HEADER_TRICKLE))
		serve_header_trickle(fd);
	else if (!strcmp(p, LIAR_BODY_TRICKLE))
		serve_body_trickle(fd, rq);
	else if (!strcmp(p, LIAR_UNKNOWN_416))
		serve_unknown(fd, rq, false);
	else if (!strcmp(p, LIAR_UNKNOWN_CUT_AT_END))
		serve_unknown(fd, rq, true);
	else if (!strcmp(p, LIAR_GZIP))
		serve_gzip(fd, rq);
	else
		serve_not_found(fd);
}

/* ---- connections ------------------------------------------------------------- */

static void *serve_connection(void *argument)
{
	int fd = (int)(intptr_t)argument;
	char head[REQUEST_HEAD_LIMIT];
	struct request rq;

	if (read_request_head(fd, head, sizeof(head)) > 0 &&
	    parse_request(head, &rq))
		serve(fd, &rq);
	close_gracefully(fd);
	return NULL;
}

static void start_connection(int fd)
{
	pthread_t thread;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (pthread_create(&thread, NULL, serve_connection, (void *)(intptr_t)fd))
		close(fd);
	else
		pthread_detach(thread);
}

static int listen_on_loopback(int *port)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof address;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 ||
	    listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &length) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(address.sin_port);
	return fd;
}

/* Connection threads own nothing that needs tidying. */
static void exit_on_signal(int signal_number)
{
	(void)signal_number;
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sigaction exit_action = { .sa_handler = exit_on_signal };
	int port, listener;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: liarserver\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &exit_action, NULL);
	sigaction(SIGINT, &exit_action, NULL);
	if ((listener = listen_on_loopback(&port)) < 0) {
		perror("liarserver: listen");
		return 1;
	}
	printf("%d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			start_connection(fd);
		else if (errno != EINTR)
			perror("liarserver: accept");
	}
}
