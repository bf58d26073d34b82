/*
 * faultproxy - a loopback TCP proxy between an HTTP client and a local server
 * that injects the failures a resilient stream must survive.
 *
 * usage: faultproxy -u UPSTREAM_PORT [-l LOGFILE] SCHEDULE
 *
 * Prints its kernel-chosen port on stdout once listening.  Connection K gets
 * action K of the comma-separated SCHEDULE; past its end, "pass", or the last
 * action again if it ends in '*'.  N counts bytes sent to the client over the
 * whole connection (headers and keep-alive responses included); for the up*
 * actions, bytes received from the client (request heads and bodies).
 *   pass      forward both ways until a side closes
 *   cut:N     after N bytes, close both sockets with a FIN
 *   reset:N   after N bytes, abort the client with an RST
 *   stall:N   after N bytes, drop upstream; hold the client (discarding its
 *             input) until it closes or 120 s pass
 *   503       read the request head, answer 503, close; no upstream contact
 *   close     close at once
 *   delay:MS  wait MS ms before connecting upstream, then pass
 *   flip:N    pass, but invert byte N (counted as for cut) on its way to
 *             the client: a body damaged in transit, with intact framing
 *   norange   drop the Range header from the first request head, then pass:
 *             the server answers a ranged request with 200 and the whole
 *             body, as one that ignores Range does (later requests on the
 *             same connection go through unchanged)
 *   upcut:N   after N bytes from the client, close both sockets with a FIN
 *   upreset:N after N bytes from the client, abort the client with an RST
 *   upstall:N after N bytes from the client, drop upstream and read nothing
 *             more: the client's upload stalls until it closes or 120 s pass
 *   upslow:N  pass, but take at most N bytes per second from the client: an
 *             upload that keeps its connection busy for a while
 * -l appends "K ACTION METHOD PATH range=VALUE" ('-' if absent) per connection,
 * from its first request head, followed by " length=VALUE" and " te=VALUE"
 * when the head has a Content-Length or a Transfer-Encoding (a request with
 * a body).  SIGTERM/SIGINT exit 0; bad arguments exit 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RELAY_BUFFER_SIZE (64 * 1024)
#define REQUEST_HEAD_LIMIT (16 * 1024)
#define STALL_SECONDS 120
#define NO_LIMIT (-1LL)

enum action_kind {
	ACTION_PASS, ACTION_CUT, ACTION_RESET, ACTION_STALL,
	ACTION_503, ACTION_CLOSE, ACTION_DELAY, ACTION_NORANGE, ACTION_FLIP,
	ACTION_UPCUT, ACTION_UPRESET, ACTION_UPSTALL, ACTION_UPSLOW,
};

struct action {
	enum action_kind kind;
	long long amount;	/* bytes to the client, or milliseconds for delay */
	char text[32];		/* as written in the schedule, for the log */
};

static const struct {
	const char *name;
	enum action_kind kind;
	bool takes_amount;
} action_names[] = {
	{ "pass", ACTION_PASS, false },
	{ "cut", ACTION_CUT, true },
	{ "reset", ACTION_RESET, true },
	{ "stall", ACTION_STALL, true },
	{ "503", ACTION_503, false },
	{ "close", ACTION_CLOSE, false },
	{ "delay", ACTION_DELAY, true },
	{ "norange", ACTION_NORANGE, false },
	{ "flip", ACTION_FLIP, true },
	{ "upcut", ACTION_UPCUT, true },
	{ "upreset", ACTION_UPRESET, true },
	{ "upstall", ACTION_UPSTALL, true },
	{ "upslow", ACTION_UPSLOW, true },
};

#define ACTION_NAME_COUNT (sizeof action_names / sizeof action_names[0])

struct connection {
	unsigned long number;	/* 1 for the first accepted connection */
	struct action action;
	int client_fd;
	int upstream_fd;	/* -1 until connected */
};

/* A piece of the request head; not NUL-terminated. */
struct span {
	const char *text;
	int length;
};

struct request_summary {
	struct span method;
	struct span path;
	struct span range;
	struct span length;
	struct span transfer_encoding;
};

static const char injected_503[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 13\r\n"
	"Connection: close\r\n"
	"\r\n"
	"injected 503\n";

static int upstream_port;
static struct action *schedule;
static size_t schedule_length;
static bool schedule_repeats_last;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static bool parse_amount(const char *text, long long *amount)
{
	char *end;

	/* strtoll would also accept leading blanks and a sign. */
	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*amount = value;
	return true;
}

static bool parse_action(const char *text, struct action *action)
{
	const char *colon = strchr(text, ':');
	size_t name_length = colon ? (size_t)(colon - text) : strlen(text);

	for (size_t i = 0; i < ACTION_NAME_COUNT; i++) {
		if (strlen(action_names[i].name) != name_length ||
		    strncmp(action_names[i].name, text, name_length) != 0)
			continue;
		if (action_names[i].takes_amount != (colon != NULL))
			return false;
		action->kind = action_names[i].kind;
		action->amount = 0;
		snprintf(action->text, sizeof action->text, "%.31s", text);
		return colon == NULL || parse_amount(colon + 1, &action->amount);
	}
	return false;
}

static bool parse_schedule(const char *text)
{
	char *copy = strdup(text);
	size_t capacity = 1;
	bool ok = true;

	for (const char *p = text; *p; p++)
		capacity += *p == ',';
	schedule = calloc(capacity, sizeof *schedule);
	if (!copy || !schedule)
		return false;
	for (char *token = copy; ok && token; ) {
		char *comma = strchr(token, ',');
		if (comma)
			*comma = '\0';
		size_t length = strlen(token);
		if (length > 0 && token[length - 1] == '*' && !comma) {
			token[length - 1] = '\0';
			schedule_repeats_last = true;
		}
		ok = parse_action(token, &schedule[schedule_length++]);
		if (!ok)
			fprintf(stderr, "faultproxy: bad action '%s' (only the last may end in '*')\n", token);
		token = comma ? comma + 1 : NULL;
	}
	free(copy);
	return ok;
}

static struct action action_for_connection(unsigned long number)
{
	if (number <= schedule_length)
		return schedule[number - 1];
	if (schedule_repeats_last)
		return schedule[schedule_length - 1];
	return (struct action){ ACTION_PASS, 0, "pass" };
}

static void sleep_milliseconds(long long milliseconds)
{
	struct timespec pause = {
		.tv_sec = milliseconds / 1000,
		.tv_nsec = (milliseconds % 1000) * 1000000,
	};

	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Unread input would turn close() into an RST; a cut has to look like a clean FIN. */
static void close_gracefully(int *fd)
{
	char discard[4096];

	if (*fd < 0)
		return;
	shutdown(*fd, SHUT_WR);
	while (recv(*fd, discard, sizeof discard, MSG_DONTWAIT) > 0)
		;
	close_fd(fd);
}

/* A zero linger timeout makes close() abort the connection with an RST. */
static void close_with_reset(int *fd)
{
	struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(*fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
	close_fd(fd);
}

static ssize_t receive(int fd, char *buffer, size_t size)
{
	ssize_t received;

	do
		received = recv(fd, buffer, size, 0);
	while (received < 0 && errno == EINTR);
	return received;
}

static bool send_all(int fd, const char *data, size_t length)
{
	while (length > 0) {
		ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0)
			return false;
		data += sent;
		length -= (size_t)sent;
	}
	return true;
}

static struct sockaddr_in loopback_address(int port)
{
	struct sockaddr_in address = { .sin_family = AF_INET };

	address.sin_port = htons((unsigned short)port);
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return address;
}

static int connect_upstream(void)
{
	struct sockaddr_in address = loopback_address(upstream_port);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
		close_fd(&fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Reads until the blank line ending the head, the size bound, or EOF; returns the byte count. */
static size_t read_request_head(int fd, char *head)
{
	size_t length = 0;

	while (length < REQUEST_HEAD_LIMIT && !memmem(head, length, "\r\n\r\n", 4)) {
		ssize_t received = receive(fd, head + length, REQUEST_HEAD_LIMIT - length);
		if (received <= 0)
			break;
		length += (size_t)received;
	}
	return length;
}

static struct span span_between(const char *start, const char *end)
{
	return (struct span){ start, (int)(end - start) };
}

static const char *line_end(const char *cursor, const char *end)
{
	const char *found = memmem(cursor, (size_t)(end - cursor), "\r\n", 2);

	return found ? found : end;
}

static struct span find_header(const char *cursor, const char *end, const char *name)
{
	size_t name_length = strlen(name);

	while (cursor < end) {
		const char *eol = line_end(cursor, end);
		if ((size_t)(eol - cursor) > name_length && cursor[name_length] == ':' &&
		    strncasecmp(cursor, name, name_length) == 0) {
			const char *value = cursor + name_length + 1;
			while (value < eol && (*value == ' ' || *value == '\t'))
				value++;
			return span_between(value, eol);
		}
		if (eol == end)
			break;
		cursor = eol + 2;
	}
	return (struct span){ NULL, 0 };
}

/* The request line is "METHOD PATH VERSION"; what is missing stays empty. */
static struct request_summary summarize_request(const char *head, size_t length)
{
	/* Body bytes may follow the head in the buffer: stop at its blank line. */
	const char *blank = memmem(head, length, "\r\n\r\n", 4);
	const char *end = blank ? blank + 2 : head + length;
	const char *eol = line_end(head, end);
	const char *space = memchr(head, ' ', (size_t)(eol - head));
	struct request_summary summary = { .method = span_between(head, space ? space : eol) };

	if (space) {
		const char *path_end = memchr(space + 1, ' ', (size_t)(eol - space - 1));
		summary.path = span_between(space + 1, path_end ? path_end : eol);
	}
	if (eol != end) {
		summary.range = find_header(eol + 2, end, "range");
		summary.length = find_header(eol + 2, end, "content-length");
		summary.transfer_encoding = find_header(eol + 2, end, "transfer-encoding");
	}
	return summary;
}

static struct span dash_if_empty(struct span span)
{
	return span.length > 0 ? span : (struct span){ "-", 1 };
}

static void log_connection(const struct connection *connection, struct request_summary request)
{
	struct span method = dash_if_empty(request.method);
	struct span path = dash_if_empty(request.path);
	struct span range = dash_if_empty(request.range);

	if (!log_file)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(log_file, "%lu %s %.*s %.*s range=%.*s", connection->number, connection->action.text,
		method.length, method.text, path.length, path.text, range.length, range.text);
	if (request.length.length > 0)
		fprintf(log_file, " length=%.*s", request.length.length, request.length.text);
	if (request.transfer_encoding.length > 0)
		fprintf(log_file, " te=%.*s", request.transfer_encoding.length,
			request.transfer_encoding.text);
	fputc('\n', log_file);
	fflush(log_file);
	pthread_mutex_unlock(&log_lock);
}

/* Removes every "name:" line after the request line, up to the blank line
 * that ends the head; returns the new length. */
static size_t drop_header(char *head, size_t length, const char *name)
{
	size_t name_length = strlen(name);
	char *end = head + length;
	char *cursor = (char *)line_end(head, end);	/* at the CRLF before a line */

	while (end - cursor >= 2) {
		char *line = cursor + 2;
		char *eol = (char *)line_end(line, end);

		if (eol == end || eol == line)
			break;
		if ((size_t)(eol - line) > name_length && line[name_length] == ':' &&
		    strncasecmp(line, name, name_length) == 0) {
			memmove(line, eol + 2, (size_t)(end - eol - 2));
			end -= eol + 2 - line;
			continue;
		}
		cursor = eol;
	}
	return (size_t)(end - head);
}

enum relay_end { RELAY_SIDE_CLOSED, RELAY_LIMIT_REACHED };

static long long milliseconds_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Forwards both ways until a side closes, `limit` bytes reached the client
 * or `up_limit` bytes came from it (NO_LIMIT: never); at most up_rate bytes
 * a second from the client (0: as fast as they come); byte `flip`
 * (NO_LIMIT: none) to the client goes inverted. */
static enum relay_end relay(int client_fd, int upstream_fd, long long limit, long long up_limit,
			    long long up_rate, long long flip)
{
	char buffer[RELAY_BUFFER_SIZE];
	long long sent_to_client = 0, received_from_client = 0, start = milliseconds_now();
	struct pollfd sides[2] = { { client_fd, POLLIN, 0 }, { upstream_fd, POLLIN, 0 } };

	while ((limit == NO_LIMIT || sent_to_client < limit) &&
	       (up_limit == NO_LIMIT || received_from_client < up_limit)) {
		if (poll(sides, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return RELAY_SIDE_CLOSED;
		}
		if (sides[0].revents) {
			size_t wanted = sizeof buffer;
			/* Take no more than the limit, so exactly N bytes go up. */
			if (up_limit != NO_LIMIT && up_limit - received_from_client < (long long)wanted)
				wanted = (size_t)(up_limit - received_from_client);
			/* Small steps, so that the rate holds over short spans too. */
			if (up_rate > 0 && up_rate / 20 + 1 < (long long)wanted)
				wanted = (size_t)(up_rate / 20 + 1);
			ssize_t received = receive(client_fd, buffer, wanted);
			if (received <= 0 || !send_all(upstream_fd, buffer, (size_t)received))
				return RELAY_SIDE_CLOSED;
			received_from_client += received;
			if (up_rate > 0) {
				long long due = start + received_from_client * 1000 / up_rate;
				if (due > milliseconds_now())
					sleep_milliseconds(due - milliseconds_now());
			}
		}
		if (sides[1].revents) {
			size_t wanted = sizeof buffer;
			/* Read no more than the limit allows, so exactly N bytes go out. */
			if (limit != NO_LIMIT && limit - sent_to_client < (long long)wanted)
				wanted = (size_t)(limit - sent_to_client);
			ssize_t received = receive(upstream_fd, buffer, wanted);
			if (received > 0 && flip >= sent_to_client && flip < sent_to_client + received)
				buffer[flip - sent_to_client] ^= (char)0xff;
			if (received <= 0 || !send_all(client_fd, buffer, (size_t)received))
				return RELAY_SIDE_CLOSED;
			sent_to_client += received;
		}
	}
	return RELAY_LIMIT_REACHED;
}

/* Keeps the client connected but starved, swallowing what it sends, so its own timeout must fire. */
static void starve_client(int client_fd)
{
	char discard[4096];
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t deadline = now.tv_sec + STALL_SECONDS;
	while (now.tv_sec < deadline) {
		struct pollfd client = { client_fd, POLLIN, 0 };
		int ready = poll(&client, 1, (int)(deadline - now.tv_sec) * 1000);
		if (ready < 0 && errno != EINTR)
			return;
		if (ready > 0 && receive(client_fd, discard, sizeof discard) <= 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
	}
}

/* Holds the client connected without reading from it, so its upload stalls
 * and its own timeout must fire. */
static void ignore_client(int client_fd)
{
	struct pollfd client = { client_fd, POLLRDHUP, 0 };

	while (poll(&client, 1, STALL_SECONDS * 1000) < 0 && errno == EINTR)
		;
}

static long long client_byte_limit(struct action action)
{
	enum action_kind kind = action.kind;

	return kind == ACTION_CUT || kind == ACTION_RESET || kind == ACTION_STALL ? action.amount : NO_LIMIT;
}

static long long upload_byte_limit(struct action action)
{
	enum action_kind kind = action.kind;

	return kind == ACTION_UPCUT || kind == ACTION_UPRESET || kind == ACTION_UPSTALL ?
		action.amount : NO_LIMIT;
}

static void finish_relayed_connection(struct connection *connection, enum relay_end end)
{
	enum action_kind kind = connection->action.kind;

	close_fd(&connection->upstream_fd);
	if (end == RELAY_LIMIT_REACHED && (kind == ACTION_RESET || kind == ACTION_UPRESET)) {
		close_with_reset(&connection->client_fd);
		return;
	}
	if (end == RELAY_LIMIT_REACHED && kind == ACTION_STALL)
		starve_client(connection->client_fd);
	if (end == RELAY_LIMIT_REACHED && kind == ACTION_UPSTALL)
		ignore_client(connection->client_fd);
	close_gracefully(&connection->client_fd);
}

static void serve_request(struct connection *connection)
{
	char head[REQUEST_HEAD_LIMIT];
	size_t head_length = read_request_head(connection->client_fd, head);

	log_connection(connection, summarize_request(head, head_length));
	if (head_length == 0)
		return;
	if (connection->action.kind == ACTION_503) {
		send_all(connection->client_fd, injected_503, sizeof injected_503 - 1);
		return;
	}
	if (connection->action.kind == ACTION_DELAY)
		sleep_milliseconds(connection->action.amount);
	if (connection->action.kind == ACTION_NORANGE)
		head_length = drop_header(head, head_length, "range");
	connection->upstream_fd = connect_upstream();
	if (connection->upstream_fd < 0) {
		fprintf(stderr, "faultproxy: connection %lu: upstream port %d: %s\n",
			connection->number, upstream_port, strerror(errno));
		return;
	}
	/* An up* limit inside the request head cuts the head itself. */
	long long up_limit = upload_byte_limit(connection->action);
	size_t head_sent = head_length;
	if (up_limit != NO_LIMIT && (long long)head_sent > up_limit)
		head_sent = (size_t)up_limit;
	if (!send_all(connection->upstream_fd, head, head_sent))
		return;
	if (up_limit != NO_LIMIT)
		up_limit -= (long long)head_sent;
	enum relay_end end = head_sent < head_length ? RELAY_LIMIT_REACHED :
		relay(connection->client_fd, connection->upstream_fd,
		      client_byte_limit(connection->action), up_limit,
		      connection->action.kind == ACTION_UPSLOW ? connection->action.amount : 0,
		      connection->action.kind == ACTION_FLIP ? connection->action.amount : NO_LIMIT);
	finish_relayed_connection(connection, end);
}

static void *serve_connection(void *argument)
{
	struct connection *connection = argument;

	if (connection->action.kind == ACTION_CLOSE)
		log_connection(connection, (struct request_summary){ 0 });
	else
		serve_request(connection);
	close_gracefully(&connection->client_fd);
	close_fd(&connection->upstream_fd);
	free(connection);
	return NULL;
}

static void start_connection(int client_fd, unsigned long number)
{
	struct connection *connection = malloc(sizeof *connection);
	pthread_t thread;
	int one = 1;

	if (!connection) {
		close_fd(&client_fd);
		return;
	}
	*connection = (struct connection){ number, action_for_connection(number), client_fd, -1 };
	setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (pthread_create(&thread, NULL, serve_connection, connection) == 0) {
		pthread_detach(thread);
	} else {
		close_fd(&connection->client_fd);
		free(connection);
	}
}

static int listen_on_loopback(int *port)
{
	struct sockaddr_in address = loopback_address(0);
	socklen_t address_length = sizeof address;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &address_length) < 0) {
		close_fd(&fd);
		return -1;
	}
	*port = ntohs(address.sin_port);
	return fd;
}

static void accept_forever(int listener)
{
	unsigned long number = 0;

	for (;;) {
		int client_fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (client_fd >= 0) {
			start_connection(client_fd, ++number);
		} else if (errno != EINTR) {
			perror("faultproxy: accept");
			sleep_milliseconds(10);	/* out of fds: let connections finish */
		}
	}
}

/* Connection threads own nothing that needs tidying and the log is flushed per
 * line, so leaving at once is both prompt and safe. */
static void exit_on_signal(int signal_number)
{
	(void)signal_number;
	_exit(0);
}

static void install_signal_handlers(void)
{
	struct sigaction exit_action = { .sa_handler = exit_on_signal };

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &exit_action, NULL);
	sigaction(SIGINT, &exit_action, NULL);
}

static bool parse_arguments(int argc, char **argv)
{
	long long port = 0;
	int option;

	while ((option = getopt(argc, argv, "u:l:")) != -1) {
		if (option == 'u' && parse_amount(optarg, &port) && port > 0 && port < 65536) {
			upstream_port = (int)port;
		} else if (option == 'l' && !log_file) {
			log_file = fopen(optarg, "a");
			if (!log_file) {
				fprintf(stderr, "faultproxy: %s: %s\n", optarg, strerror(errno));
				return false;
			}
		} else {
			return false;
		}
	}
	return upstream_port != 0 && optind == argc - 1 && parse_schedule(argv[optind]);
}

int main(int argc, char **argv)
{
	int port;
	int listener;

	if (!parse_arguments(argc, argv)) {
		fprintf(stderr, "usage: faultproxy -u UPSTREAM_PORT [-l LOGFILE] SCHEDULE\n"
			"  SCHEDULE: comma-separated pass, cut:N, reset:N, stall:N, 503, close,\n"
			"  delay:MS, norange, upcut:N, upreset:N, upstall:N, upslow:N; a\n"
			"  trailing '*' repeats the last action\n");
		return 2;
	}
	install_signal_handlers();
	listener = listen_on_loopback(&port);
	if (listener < 0) {
		perror("faultproxy: listen");
		return 1;
	}
	printf("%d\n", port);
	fflush(stdout);
	accept_forever(listener);
	return 0;
}
