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
 *   PUT     the body becomes the object (of one chunk), atomically; a
 *           body cut short leaves the old object and no temp file
 *   DELETE  removes the object
 *   multipart, as api/mpt.go sends it:
 *   POST {"action":"mpt-upload"}            200, body = the upload ID
 *   PUT ?uploadId=ID&partNumber=N (N >= 1)  200, stores part N; sending N
 *                                           again replaces it (a retry)
 *   POST ?uploadId=ID {"action":"mpt-complete","value":[{"part-number":1,
 *        "etag":""},...]}  makes the parts, in order, the object's chunks,
 *        atomically and without copying them, which ends the upload.
 *        The checksum is the running XXH64 kept as parts land (each
 *        hashed once, in order, as soon as those before it are there);
 *        only if that does not cover exactly the listed parts (a part
 *        was re-sent after it was hashed) are the parts read again.  As AIStore: the sorted list must
 *        be exactly 1..N (else 400) and name every part uploaded (else 501);
 *        a listed part never uploaded is 400.  Nothing is committed on error.
 *   DELETE ?uploadId=ID {"action":"mpt-abort"}  removes the upload
 *   An unknown upload ID is 404.  Buckets need no creating.
 * Errors are AIStore's JSON (application/json): {"message","method",
 * "url_path","remote_addr","caller","node","status"}; for HEAD in the
 * Hdr-Error header instead of a body.
 *
 * Objects are stored as AIStore stores a completed multipart upload
 * (core/ufest.go): the object's path in the store holds a small manifest
 * (its size, version, XXH64, and the sizes of its chunks), and the bytes
 * are chunk files in a directory of that version's own; the layout is in
 * objserver.h.  mpt-complete renames the upload's directory, parts and
 * all, into place as the chunks; a PUT's body is one chunk.  So every byte
 * is written to the store once.  The one atomic step of a commit is the
 * rename of the new manifest over the old, under the store's lock, under
 * which readers open the chunks they send: a GET sees the old version or
 * the new one, whole, however long it takes.  The old version's chunks are
 * removed after the switch.  A node killed mid-commit leaves the old object
 * and at most a chunk directory that no manifest names, which is counted in
 * /_ctl/uploads (tmp) until the next node to start removes it.
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
 *                       temp files of bodies being received, uploads and
 *                       old chunks being deleted, and chunks left by a
 *                       node killed mid-commit
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "objserver.h"

#define MAX_TARGETS 16
#define MAX_CONNECTIONS 256
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

/* ---- answers ------------------------------------------------------------------------- */

/* AIStore's error (cmn/err.go, ErrHTTP.write): JSON in the body, or in the
 * Hdr-Error header for HEAD.  url_path is the path as sent (still
 * percent-encoded, so the JSON stays ASCII). */
void respond_error_with(struct http_request *rq, int status, const char *headers,
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

void respond_error(struct http_request *rq, int status, const char *message)
{
	respond_error_with(rq, status, NULL, message);
}

void respond_failure(struct http_request *rq, const struct reply_error *e)
{
	respond_error(rq, e->status, e->message);
}

void respond_text(struct http_request *rq, const char *text)
{
	http_respond(rq, 200, "Content-Type: text/plain; charset=utf-8\r\n", text, strlen(text));
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

	if (http_query_get(rq->query, "op", op, sizeof(op)) == 1)
		for (int i = 0; i < COUNTER_OPS; i++)
			if (strcmp(op, counter_names[i]) == 0)
				kind = i;
	p = nth_text;
	if (kind < 0 || http_query_get(rq->query, "nth", nth_text, sizeof(nth_text)) != 1 ||
	    !http_parse_u64(&p, &nth) || *p || nth == 0 ||
	    http_query_get(rq->query, "do", action, sizeof(action)) != 1 ||
	    (strcmp(action, "503") != 0 && strcmp(action, "cut") != 0)) {
		respond_error(rq, 400, "usage: POST /_ctl/fault?op=OP&nth=N&do=503|cut[&after=BYTES]");
		return;
	}
	p = after_text;
	if (http_query_get(rq->query, "after", after_text, sizeof(after_text)) != 0 &&
	    (!http_parse_u64(&p, &after) || *p || after == UINT64_MAX)) {
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
		serve_target(&server.store, rq);
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

/* A GET holds a file open for every chunk it sends: allow as many files as
 * the system lets us. */
static void raise_file_limit(void)
{
	struct rlimit files;

	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
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
	raise_file_limit();
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
