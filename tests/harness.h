/*
 * harness.h - the real servers the test suites run against.
 *
 * harness_start() generates a fixed set of objects in a private temp dir and
 * serves them with a real nginx on a free 127.0.0.1 port; proxy_start() puts
 * the fault-injection proxy (tests/faultproxy) in front of that nginx.  On
 * demand, cluster_start() adds an AIStore-shaped cluster (a gateway that
 * redirects to three storage targets, each a real nginx), tls_start() https
 * servers with their own CA, and chain_start() a chain of redirects across
 * two loopback addresses.  The tests then talk HTTP to real sockets, as a
 * user's program would.
 *
 * Every object is generated deterministically from a fixed seed, so a test
 * compares what the library returned with harness_object() byte for byte.
 *
 * Threads: harness_object(), small_object_name(), the *_url() functions,
 * proxy_log(), proxy_connections(), tls_file(), chain_log() and every
 * cluster_* function except cluster_start() may be called from any thread
 * (the cluster and chain ones once their start has returned 0); a test may
 * restart targets from a helper thread while its main thread is blocked
 * reading from one.  Everything else,
 * and harness_stop() in particular, only from the thread that runs the suites
 * and only while no other thread is inside the harness.
 *
 * Every server and tool is forked by one harness thread that lives from
 * harness_start() to harness_stop(), and gets SIGKILL when it ends
 * (PR_SET_PDEATHSIG): a crashed test binary leaves no server running (its
 * temp dir does stay behind; only harness_stop() or exit() removes it), and a
 * target restarted from a helper thread does not die with that thread.
 *
 * Environment: NGINX (default /usr/sbin/nginx), FAULTPROXY (default
 * "faultproxy" next to the test binary), LIARSERVER (the same for
 * "liarserver"), OPENSSL (default /usr/bin/openssl),
 * HARNESS_KEEP=1 keeps the temp dir after harness_stop() or a failed start,
 * for a post-mortem.
 */
#ifndef AISFILE_TESTS_HARNESS_H
#define AISFILE_TESTS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Object names served at http://127.0.0.1:PORT/NAME */
#define OBJ_RANDOM   "random.bin"   /* 8 MiB pseudo-random bytes */
#define OBJ_BIG      "big.bin"      /* 256 MiB pseudo-random bytes */
#define OBJ_TEXT     "text.txt"     /* ~2 MiB text: lines of 0..20000 chars, some empty, some > 8 KiB, ends with a newline */
#define OBJ_EMPTY    "empty.bin"    /* 0 bytes */
#define OBJ_SMALLTAR "small.tar"    /* pax/ustar tar: directories dir00..dir09, 300 files dirNN/fileNNNN.dat of 0..40 KiB */
#define OBJ_LARGETAR "large.tar"    /* tar of 4 members of 32 MiB each, random content */
#define OBJ_ZIP      "members.zip"  /* zip: 3 small deflated text files and 2 stored 8 MiB random members */
#define OBJ_MUTABLE  "mutable.bin"  /* 16 MiB random; tests replace it with harness_replace() */

/* SMALL_OBJECTS objects of pseudo-random bytes, each of 1 KiB to
 * SMALL_OBJECT_MAX_SIZE, for tests that open many objects one after another:
 * the first four are exactly 1 KiB, 100 KiB, 64 KiB and 64 KiB + 1, the others
 * random sizes in between.  small_object_name() gives object i's name
 * ("small-07.bin"); any thread may call it. */
#define SMALL_OBJECTS 64
#define SMALL_OBJECT_MAX_SIZE (100 * 1024)
void small_object_name(char *out, size_t n, int i);

/*
 * Once per test binary: create the temp dir (under $TMPDIR or /tmp), generate
 * all objects in DIR/objects, start nginx and wait until it answers GET
 * /empty.bin with 200.  Returns 0, or -1 after printing why on stderr.
 * Calling it again while running returns 0.
 */
int harness_start(void);
/* Stop every server (TLS, cluster, nginx) and remove the temp dir.  Safe to
 * call twice, or without start. */
void harness_stop(void);
int harness_port(void);
/* out = "http://127.0.0.1:PORT" + path (path starts with '/'). */
void harness_url(char *out, size_t n, const char *path);
/* The temp dir, and the dir nginx serves.  Valid until harness_stop(). */
const char *harness_dir(void);
const char *harness_objdir(void);
/* Where nginx stores what is PUT to http://127.0.0.1:PORT/dav/NAME (WebDAV
 * PUT and DELETE, any size, chunked too, parent dirs made): DIR/dav/NAME.
 * Valid until harness_stop(). */
const char *harness_davdir(void);
/* malloc'd copy of the object's current bytes on disk, *len set; NULL on
 * error.  Caller frees. */
unsigned char *harness_object(const char *name, size_t *len);
/*
 * Atomically (rename) replace object name with pseudo-random content of the
 * same size, derived from seed, and an mtime 1000 s later than the current
 * one, so nginx's ETag and Last-Modified change.  A request already being
 * answered keeps reading the old bytes.  Returns 0 or -1.
 */
int harness_replace(const char *name, unsigned seed);
/* Put back the object's original content and mtime (as at start).  0 or -1. */
int harness_restore(const char *name);
/*
 * Generate object name (a plain file name, not one of the objects above):
 * size pseudo-random bytes from seed, with the mtime harness_start() gives
 * its own objects, installed atomically as harness_replace() does.  Calling
 * it again with the same seed puts the original back after a
 * harness_replace().  Needs harness_start().  0 or -1.
 */
int harness_add_object(const char *name, unsigned seed, uint64_t size);

struct proxy {
	pid_t pid;
	int port;
	char log[512];
	/* Read end of the proxy's stdout.  Held open until proxy_stop() so a
	 * later write by the proxy does not kill it with SIGPIPE. */
	int stdout_fd;
};
/*
 * Start faultproxy -u NGINX_PORT -l LOG SCHEDULE and read the port it listens
 * on from the first line of its stdout (waits at most 5 s).  The log lives in
 * the temp dir, one per proxy.  Needs harness_start().  Returns 0 or -1.
 */
int proxy_start(struct proxy *p, const char *schedule);
/* The same in front of another loopback server's port. */
int proxy_start_to(struct proxy *p, int upstream_port, const char *schedule);
/* SIGTERM, then SIGKILL if it has not exited after 2 s.  Safe to call twice. */
void proxy_stop(struct proxy *p);
void proxy_url(const struct proxy *p, char *out, size_t n, const char *path);
/* malloc'd NUL-terminated content of the proxy's log (may be ""), caller
 * frees.  NULL on error. */
char *proxy_log(const struct proxy *p);
/* Number of lines in the log, which is the number of connections accepted;
 * -1 on error. */
int proxy_connections(const struct proxy *p);
/*
 * The lying server (tests/liarserver, or $LIARSERVER): an HTTP server on a
 * free 127.0.0.1 port whose request path chooses how it breaks the protocol
 * (see tests/liarserver.h).  liar_start() starts it, reads its port and
 * waits until it answers (at most 5 s); calling it again while it runs
 * returns 0.  Needs harness_start(); harness_stop() stops it.  0 or -1.
 */
int liar_start(void);
/* out = "http://127.0.0.1:LIAR_PORT" + path. */
void liar_url(char *out, size_t n, const char *path);

/* A loopback TCP port nothing listens on right now (bind port 0, close);
 * -1 on error. */
int harness_free_port(void);

/*
 * The AIStore-shaped cluster.  AIStore serves a GET through a gateway that
 * answers 301 with a Location on one storage target, which sends the body.
 * Here the gateway and the CLUSTER_TARGETS targets are each an nginx on its
 * own 127.0.0.1 port:
 *
 *  - every target serves the objects, at / and at /v1/objects/testbck/, with
 *    Range, ETag and Last-Modified;
 *  - the gateway answers every GET with 301 to
 *    http://127.0.0.1:TARGET_PORT/same/path?same=query, where a request
 *    from byte 0 (no Range, or "Range: bytes=0-") goes to target 0 and any
 *    other ranged one to a target picked at random per request;
 *  - GET /v1/objects/testbck/json-missing on the gateway answers 404 and
 *    .../json-forbidden 403, each with an AIStore error JSON body
 *    (application/json; {"message":...,"status":404}).
 *
 * Each server appends one line per request it answered, readiness probes
 * left out, to its access log: "$request|$http_range|$http_authorization|
 * $status", e.g. "GET /random.bin HTTP/1.1|bytes=10-|Bearer x|206" (fields
 * the request lacks are "-").  nginx writes the line after it has sent the
 * response, so a client can see the response a moment before the line is
 * there; a target killed mid-response writes none.
 *
 * Target ports come from below the kernel's ephemeral port range, so no
 * outgoing connection or proxy takes the port of a killed target, and it
 * restarts on the same port.
 */
#define CLUSTER_TARGETS 3

/* Start the targets and the gateway (and harness_start() if needed).
 * Calling it again while running returns 0.  0, or -1 after printing why
 * on stderr.  harness_stop() stops the cluster. */
int cluster_start(void);
/* out = "http://127.0.0.1:GATEWAY_PORT" + path. */
void cluster_url(char *out, size_t n, const char *path);
/* Port of target i (0..CLUSTER_TARGETS-1), the same across kills and
 * restarts; -1 if there is no such target. */
int cluster_target_port(int i);
/* SIGKILL target i and reap it: its port refuses connections and its open
 * connections are reset or closed at once.  Killing a killed target is 0;
 * -1 only for a bad i. */
int cluster_kill_target(int i);
/* Start target i again on the same port and wait until it answers (at most
 * 10 s).  0 at once if it runs; -1 after printing why on stderr. */
int cluster_start_target(int i);
/* The above for every target; -1 if any one failed. */
int cluster_kill_all_targets(void);
int cluster_start_all_targets(void);
/* Lines in the gateway's access log, i.e. requests it answered; -1 on error. */
int cluster_gateway_requests(void);
/* malloc'd NUL-terminated content of the gateway's / target i's access log
 * ("" if it has none yet), caller frees.  NULL on error. */
char *cluster_gateway_log(void);
char *cluster_target_log(int i);

/*
 * https servers.  tls_start() generates, with the openssl tool, in DIR/tls: a
 * CA (ca.pem, ca.key), a certificate for the servers signed by it (CN and
 * subjectAltName DNS:localhost, IP:127.0.0.1), a client certificate signed
 * by it (client.pem, client.key), and an unrelated CA (other-ca.pem); all EC
 * P-256, valid for 2 days.  Then one nginx serves on its own port each:
 */
enum tls_server {
	TLS_PLAIN,       /* the objects, at / and /v1/objects/testbck/ */
	TLS_CLIENT_CERT, /* the same, but a request without a client certificate
			  * signed by ca.pem gets 400 */
	TLS_DOWNGRADE,   /* every GET: 301 to the same path and query on
			  * http://127.0.0.1:TARGET0_PORT (plain http) */
};
/* Start the https servers (and cluster_start() if needed).  Calling it again
 * while running returns 0.  0, or -1 after printing why on stderr.
 * harness_stop() stops them. */
int tls_start(void);
/* out = "https://127.0.0.1:PORT" + path, or "https://localhost:PORT" + path;
 * "" if there is no such server. */
void tls_url(char *out, size_t n, enum tls_server which, const char *path);
void tls_url_localhost(char *out, size_t n, enum tls_server which, const char *path);
/* Full path of a file in DIR/tls: "ca.pem", "ca.key", "other-ca.pem",
 * "client.pem", "client.key", "server.pem", "server.key".  Valid until
 * harness_stop(); NULL (and a message) for another name or before
 * tls_start(). */
const char *tls_file(const char *name);


/*
 * A redirect chain across two loopback addresses, for where credentials may
 * travel: a host, the host it redirects to, and one more hop.  One nginx
 * serves three servers (no server checks credentials):
 *
 *  - CHAIN_GATEWAY, http://127.0.0.1:P1: GET /chain/PATH answers 301 to
 *    http://127.0.0.2:P2/obj/PATH, GET /chain2/PATH 301 to
 *    http://127.0.0.2:P2/chain2/PATH; the objects at /;
 *  - CHAIN_HOP1, http://127.0.0.2:P2 (another host): the objects at /obj/
 *    and at /; GET /chain2/PATH answers 301 to http://127.0.0.1:P3/PATH;
 *  - CHAIN_HOP2, http://127.0.0.1:P3 (the gateway's address, another port,
 *    two hops from it): the objects at /.
 *
 * Every redirect keeps the query.  HOP1 also listens on 127.0.0.1:P2, only
 * so that the readiness probe reaches it; tests use its 127.0.0.2 URL.  Each
 * server appends "$request|$http_authorization|$http_cookie|$status" per
 * request to its own log (probes left out, "-" for a missing field; written
 * just after the response, as the cluster's).
 */
enum chain_server { CHAIN_GATEWAY, CHAIN_HOP1, CHAIN_HOP2 };
/* chain_start() when this host cannot bind 127.0.0.2: nothing started; the
 * tests that need the chain should say they were skipped. */
#define CHAIN_NO_SECOND_ADDRESS 1
/* Start the chain (and harness_start() if needed).  Calling it again while
 * running returns 0.  0, CHAIN_NO_SECOND_ADDRESS, or -1 after printing why on
 * stderr.  harness_stop() stops it. */
int chain_start(void);
/* out = "http://ADDRESS:PORT" + path of server which; "" before chain_start(). */
void chain_url(char *out, size_t n, enum chain_server which, const char *path);
/* malloc'd NUL-terminated content of server which's log ("" if it has none
 * yet), caller frees.  NULL on error.  Any thread. */
char *chain_log(enum chain_server which);

/* ---- objects served with extra headers (AIStore's checksum headers) ---- */

/* The harness object at path, served by its own nginx with the headers
 * ("Name: value") added to every reply. */
struct served_object {
	const char *path;     /* "/sum/xxhash2", an exact location */
	const char *object;   /* a harness object name */
	const char *const *headers; /* NULL-terminated */
};

/* Start (or restart with a new list) the nginx serving objects[0..count),
 * which must stay valid until harness_stop().  Returns 0 or -1.  Suite
 * thread only. */
int served_start(const struct served_object *objects, size_t count);
int served_port(void);
void served_url(char *out, size_t n, const char *path);
/*
 * For the other server harnesses of the test binary (objharness.c): the
 * launcher, ports and tool lookup this harness uses for its own servers.
 * Each needs harness_start(); harness_stable_port(), harness_tool_path()
 * and harness_on_stop() only from the suites' thread, the others from any.
 */
/* fork+exec argv (argv[0] the binary, NULL-terminated) from the launcher
 * thread, as every server here is: SIGKILL when the test binary ends, stdin
 * /dev/null, stdout and stderr on the given fds (-1: inherit), no other fd.
 * The pid, or -1 with errno set; reap it with waitpid() or
 * harness_kill_child(). */
pid_t harness_spawn(char *const argv[], int stdout_fd, int stderr_fd);
/* SIGKILL pid and reap it: its wait status, or -1 if there was no child. */
int harness_kill_child(pid_t pid);
/* A free loopback port below the kernel's ephemeral range, as the cluster's
 * targets get: nothing else takes it while its server is killed.  -1 on
 * error. */
int harness_stable_port(void);
/* out = $env_name if set, else tool name next to the test binary.  0 or -1. */
int harness_tool_path(const char *env_name, const char *name, char *out, size_t n);
/* Have harness_stop() call stop first, before it stops its own servers and
 * removes the temp dir.  Up to 4 functions; registering one twice is once. */
void harness_on_stop(void (*stop)(void));
/* Monotonic milliseconds, and a sleep that EINTR does not cut short. */
int64_t harness_now_ms(void);
void harness_sleep_ms(long ms);
/* malloc'd content of path plus a terminating NUL, *len (if len) set to
 * its length; read to EOF, so a log may grow meanwhile.  NULL with errno. */
char *harness_read_file(const char *path, size_t *len);

#endif
