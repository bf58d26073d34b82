/*
 * objharness.c - runs tests/objserver as a gateway and OBJSRV_TARGETS
 * targets for the write tests, and talks to its /_ctl endpoints.  See
 * objharness.h for the contract and tests/objserver.c for the server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "objharness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define READY_TIMEOUT_MS 10000
#define POLL_INTERVAL_MS 10
#define CTL_TIMEOUT_MS 2000
#define PROBE_TIMEOUT_MS 200
#define BIND_ATTEMPTS 5
/* objserver's exit status when its port is taken (EADDRINUSE). */
#define EXIT_PORT_TAKEN 98
#define NODES (1 + OBJSRV_TARGETS)

/* One objserver process: nodes[0] is the gateway, nodes[1 + i] target i. */
struct node {
	char name[16];
	int port;
	pid_t pid;          /* 0: not running */
	char log[PATH_MAX];
	char output[PATH_MAX];
};

static struct {
	bool running;
	/* Serialises kills and restarts, which may come from a helper thread. */
	pthread_mutex_t lock;
	char binary[PATH_MAX];
	char store[PATH_MAX];
	struct node nodes[NODES];
} objsrv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("objharness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static struct node *node_of(int node)
{
	if (!objsrv.running || node < OBJSRV_GATEWAY || node >= OBJSRV_TARGETS) {
		fail("no object server node %d (is objsrv_start() done?)", node);
		return NULL;
	}
	return &objsrv.nodes[node + 1];
}

/* ---- talking to a node ------------------------------------------------------------ */

struct reply {
	char *text;
	size_t len, cap;
};

static size_t keep_reply(char *data, size_t size, size_t count, void *arg)
{
	struct reply *r = arg;
	size_t n = size * count;

	if (r->len + n >= r->cap)
		n = r->cap - 1 - r->len;
	memcpy(r->text + r->len, data, n);
	r->len += n;
	r->text[r->len] = '\0';
	return size * count;
}

/* method http://127.0.0.1:port + path, the reply body in out (NUL-terminated,
 * truncated to n): its status, or -1 if the node did not answer. */
static long request(int port, const char *method, const char *path, long timeout_ms,
		    char *out, size_t n)
{
	struct reply r = { out, 0, n };
	CURL *curl = curl_easy_init();
	char url[512];
	long status = -1;

	if (!curl || n == 0) {
		curl_easy_cleanup(curl);
		return -1;
	}
	out[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	return status;
}

/* A /_ctl request to the first node that answers it with 200 (they share
 * one state): 0, or -1 after saying why. */
static int control(const char *method, const char *path, char *out, size_t n)
{
	long status = -1;

	for (int i = 0; i < NODES && objsrv.running; i++) {
		int port = objsrv.nodes[i].port;

		status = request(port, method, path, CTL_TIMEOUT_MS, out, n);
		if (status == 200)
			return 0;
		if (status > 0)
			return fail("%s %s: status %ld: %s", method, path, status, out);
	}
	return fail("%s %s: no object server node answers", method, path);
}

/* ---- processes -------------------------------------------------------------------- */

enum launch { LAUNCH_READY, LAUNCH_PORT_TAKEN, LAUNCH_FAILED };

static void print_output(const struct node *nd)
{
	char *text = harness_read_file(nd->output, NULL);

	fprintf(stderr, "---- %s output (%s) ----\n%s", nd->name, nd->output,
		text && *text ? text : "(empty)\n");
	free(text);
}

/* Poll until the node answers GET /_ctl/stats, exits, or runs out of time. */
static enum launch wait_ready(struct node *nd)
{
	int64_t deadline = harness_now_ms() + READY_TIMEOUT_MS;
	char scratch[1024];
	int status;

	for (;;) {
		if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
			nd->pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_PORT_TAKEN)
				return LAUNCH_PORT_TAKEN;
			fail("%s exited (status 0x%x) before it answered", nd->name, (unsigned)status);
			print_output(nd);
			return LAUNCH_FAILED;
		}
		if (request(nd->port, "GET", "/_ctl/stats", PROBE_TIMEOUT_MS, scratch,
			    sizeof(scratch)) == 200)
			return LAUNCH_READY;
		if (harness_now_ms() >= deadline) {
			fail("%s did not answer within %d ms", nd->name, READY_TIMEOUT_MS);
			print_output(nd);
			harness_kill_child(nd->pid);
			nd->pid = 0;
			return LAUNCH_FAILED;
		}
		harness_sleep_ms(POLL_INTERVAL_MS);
	}
}

/* Start the node on its port and wait until it answers. */
static enum launch launch(struct node *nd)
{
	char port[16], targets[16 * OBJSRV_TARGETS] = "";
	char *argv[] = { objsrv.binary, "-d", objsrv.store, "-p", port, "-l", nd->log,
			 "-n", nd->name, NULL, NULL, NULL };
	int out;

	snprintf(port, sizeof(port), "%d", nd->port);
	if (nd == &objsrv.nodes[0]) {
		for (int i = 0; i < OBJSRV_TARGETS; i++)
			snprintf(targets + strlen(targets), sizeof(targets) - strlen(targets),
				 "%s%d", i ? "," : "", objsrv.nodes[1 + i].port);
		argv[9] = "-g";
		argv[10] = targets;
	}
	out = open(nd->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		fail("create %s: %s", nd->output, strerror(errno));
		return LAUNCH_FAILED;
	}
	nd->pid = harness_spawn(argv, out, out);
	close(out);
	if (nd->pid < 0) {
		nd->pid = 0;
		fail("fork: %s", strerror(errno));
		return LAUNCH_FAILED;
	}
	return wait_ready(nd);
}

/* Start the node on a fresh port, another if someone takes it first. */
static int start_node(struct node *nd)
{
	for (int attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
		enum launch outcome;

		nd->port = harness_stable_port();
		if (nd->port < 0)
			return fail("no free port: %s", strerror(errno));
		outcome = launch(nd);
		if (outcome != LAUNCH_PORT_TAKEN)
			return outcome == LAUNCH_READY ? 0 : -1;
	}
	return fail("%s could not bind a free port in %d attempts", nd->name, BIND_ATTEMPTS);
}

static int init_node(struct node *nd, const char *name)
{
	const char *dir = harness_dir();

	memset(nd, 0, sizeof(*nd));
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	if (snprintf(nd->log, sizeof(nd->log), "%s/objsrv-%s.log", dir, name) >= (int)sizeof(nd->log) ||
	    snprintf(nd->output, sizeof(nd->output), "%s/objsrv-%s.out", dir, name) >=
		    (int)sizeof(nd->output))
		return fail("temp dir path too long: %s", dir);
	return 0;
}

int objsrv_start(void)
{
	if (objsrv.running)
		return 0;
	if (harness_start() < 0 ||
	    harness_tool_path("OBJSERVER", "objserver", objsrv.binary, sizeof(objsrv.binary)) < 0)
		return -1;
	if (access(objsrv.binary, X_OK) < 0)
		return fail("objserver %s: %s (build tests/objserver, or set OBJSERVER)",
			    objsrv.binary, strerror(errno));
	if (snprintf(objsrv.store, sizeof(objsrv.store), "%s/objstore", harness_dir()) >=
	    (int)sizeof(objsrv.store))
		return fail("temp dir path too long: %s", harness_dir());
	if (mkdir(objsrv.store, 0755) < 0 && errno != EEXIST)
		return fail("mkdir %s: %s", objsrv.store, strerror(errno));
	harness_on_stop(objsrv_stop);
	objsrv.running = true;
	/* Targets first: the gateway's command line names their ports. */
	for (int i = NODES - 1; i >= 0; i--) {
		char name[16] = "gateway";

		if (i > 0)
			snprintf(name, sizeof(name), "target%d", i - 1);
		if (init_node(&objsrv.nodes[i], name) < 0 || start_node(&objsrv.nodes[i]) < 0) {
			objsrv_stop();
			return -1;
		}
	}
	return 0;
}

void objsrv_stop(void)
{
	if (!objsrv.running)
		return;
	objsrv_kill();
	objsrv.running = false;
}

/* ---- URLs ------------------------------------------------------------------------- */

int objsrv_port(int node)
{
	struct node *nd = node_of(node);

	return nd ? nd->port : -1;
}

static void object_url(char *out, size_t n, int node, const char *bucket_obj)
{
	int port = objsrv_port(node);

	if (port < 0) {
		if (n > 0)
			out[0] = '\0';
		return;
	}
	snprintf(out, n, "http://127.0.0.1:%d/v1/objects/%s?provider=ais", port, bucket_obj);
}

void objsrv_url(char *out, size_t n, const char *bucket_obj)
{
	object_url(out, n, OBJSRV_GATEWAY, bucket_obj);
}

void objsrv_target_url(char *out, size_t n, int target, const char *bucket_obj)
{
	object_url(out, n, target < 0 ? OBJSRV_TARGETS : target, bucket_obj);
}

/* ---- kill and restart ------------------------------------------------------------- */

int objsrv_kill(void)
{
	pthread_mutex_lock(&objsrv.lock);
	for (int i = 0; i < NODES; i++) {
		harness_kill_child(objsrv.nodes[i].pid);
		objsrv.nodes[i].pid = 0;
	}
	pthread_mutex_unlock(&objsrv.lock);
	return 0;
}

int objsrv_kill_target(int target)
{
	struct node *nd = target >= 0 ? node_of(target) : NULL;

	if (!nd)
		return target < 0 ? fail("no target %d", target) : -1;
	pthread_mutex_lock(&objsrv.lock);
	harness_kill_child(nd->pid);
	nd->pid = 0;
	pthread_mutex_unlock(&objsrv.lock);
	return 0;
}

int objsrv_restart(void)
{
	int rc = 0;

	if (!objsrv.running)
		return fail("objsrv_restart needs objsrv_start first");
	pthread_mutex_lock(&objsrv.lock);
	for (int i = NODES - 1; i >= 0; i--) {
		struct node *nd = &objsrv.nodes[i];
		int status;

		/* A node that died on its own is reaped and started too. */
		if (nd->pid > 0 && waitpid(nd->pid, &status, WNOHANG) == 0)
			continue;
		nd->pid = 0;
		switch (launch(nd)) {
		case LAUNCH_READY:
			break;
		case LAUNCH_PORT_TAKEN:
			rc = fail("%s cannot restart: port %d is taken", nd->name, nd->port);
			break;
		default:
			rc = -1;
		}
	}
	pthread_mutex_unlock(&objsrv.lock);
	return rc;
}

/* ---- control ---------------------------------------------------------------------- */

int objsrv_stats(char *buf, size_t n)
{
	return control("GET", "/_ctl/stats", buf, n);
}

long long objsrv_stat(const char *counter)
{
	char stats[1024], key[64];
	const char *at;

	if (objsrv_stats(stats, sizeof(stats)) < 0)
		return -1;
	snprintf(key, sizeof(key), "%s=", counter);
	for (at = strstr(stats, key); at; at = strstr(at + 1, key))
		if (at == stats || at[-1] == ' ')
			return strtoll(at + strlen(key), NULL, 10);
	return -1;
}

int objsrv_reset(void)
{
	char reply[256];

	return control("POST", "/_ctl/reset", reply, sizeof(reply));
}

int objsrv_fault(const char *op, int nth, const char *action, long long after)
{
	char path[256], reply[512];

	if (after >= 0)
		snprintf(path, sizeof(path), "/_ctl/fault?op=%s&nth=%d&do=%s&after=%lld", op, nth,
			 action, after);
	else
		snprintf(path, sizeof(path), "/_ctl/fault?op=%s&nth=%d&do=%s", op, nth, action);
	return control("POST", path, reply, sizeof(reply));
}

int objsrv_leftovers(void)
{
	char listing[8192];
	int uploads, parts, tmp;

	if (control("GET", "/_ctl/uploads", listing, sizeof(listing)) < 0)
		return -1;
	if (sscanf(listing, "uploads=%d parts=%d tmp=%d", &uploads, &parts, &tmp) != 3)
		return fail("GET /_ctl/uploads: unexpected reply: %s", listing);
	return uploads + parts + tmp;
}

/* ---- files ------------------------------------------------------------------------ */

/* A stored object's manifest (its format: tests/objserver.h): where its
 * chunks are and how big each is. */
struct manifest {
	char chunks[PATH_MAX];   /* the chunk directory */
	uint64_t size;
	uint64_t *sizes;         /* malloc'd, count of them */
	size_t count;
};

/* Read bucket/obj's manifest into m: 0, or -1 with errno (ENOENT when there
 * is no such object, EIO when the manifest is broken). */
static int manifest_load(const char *bucket, const char *obj, struct manifest *m)
{
	char path[PATH_MAX], id[65];
	unsigned long long version, size, count, total = 0;
	const char *p;
	char *text;
	int used = 0;

	memset(m, 0, sizeof(*m));
	if (snprintf(path, sizeof(path), "%s/%s/%s", objsrv.store, bucket, obj) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	text = harness_read_file(path, NULL);
	if (!text) {
		/* A directory holds other objects; it is not one. */
		if (errno == EISDIR || errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	if (sscanf(text, "objserver-object 1 version %llu size %llu xxh64 %*x chunks %64s %llu%n",
		   &version, &size, id, &count, &used) == 4 && count > 0 && count < 1000000 &&
	    snprintf(m->chunks, sizeof(m->chunks), "%s/.objserver/chunks/%s", objsrv.store, id) <
		    (int)sizeof(m->chunks))
		m->sizes = malloc(count * sizeof(*m->sizes));
	for (p = text + used; m->sizes && m->count < count; m->count++) {
		char *end;

		m->sizes[m->count] = strtoull(p, &end, 10);
		if (end == p)
			break;
		total += m->sizes[m->count];
		p = end;
	}
	free(text);
	if (!m->sizes || m->count != count || total != size) {
		free(m->sizes);
		m->sizes = NULL;
		errno = EIO;
		return -1;
	}
	m->size = size;
	return 0;
}

/* Bytes [offset, offset + n) of the object m describes (fewer past its
 * end) into buf, from its chunk files: the count, or -1 with errno EIO. */
static ssize_t read_chunks(const struct manifest *m, void *buf, size_t n, uint64_t offset)
{
	uint64_t at = 0, end = offset + n < m->size ? offset + n : m->size;
	size_t done = 0;

	for (size_t i = 0; i < m->count && at < end; at += m->sizes[i], i++) {
		uint64_t first = offset > at ? offset - at : 0;
		uint64_t last = end - at < m->sizes[i] ? end - at : m->sizes[i];
		char path[PATH_MAX + 32];
		ssize_t got = -1;
		int fd;

		if (first >= last)
			continue;
		snprintf(path, sizeof(path), "%s/part-%010zu", m->chunks, i + 1);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			got = pread(fd, (char *)buf + done, last - first, (off_t)first);
			close(fd);
		}
		if (got != (ssize_t)(last - first)) {
			errno = EIO;
			return -1;
		}
		done += last - first;
	}
	return (ssize_t)done;
}

ssize_t objsrv_pread_object(const char *bucket, const char *obj, void *buf, size_t n,
			    uint64_t offset, uint64_t *size)
{
	struct manifest m;
	ssize_t got;

	if (manifest_load(bucket, obj, &m) < 0)
		return -1;
	if (size)
		*size = m.size;
	got = read_chunks(&m, buf, n, offset);
	free(m.sizes);
	return got;
}

unsigned char *objsrv_read_object(const char *bucket, const char *obj, size_t *len)
{
	unsigned char *bytes = NULL;
	struct manifest m;

	if (manifest_load(bucket, obj, &m) < 0)
		return NULL;
	if (m.size < SIZE_MAX)
		bytes = malloc((size_t)m.size + 1);
	if (bytes && read_chunks(&m, bytes, (size_t)m.size, 0) == (ssize_t)m.size) {
		bytes[m.size] = '\0';
		*len = (size_t)m.size;
	} else {
		free(bytes);
		bytes = NULL;
	}
	free(m.sizes);
	return bytes;
}

const char *objsrv_store_dir(void)
{
	return objsrv.store;
}

char *objsrv_log(int node)
{
	struct node *nd = node_of(node);
	char *text;

	if (!nd)
		return NULL;
	text = harness_read_file(nd->log, NULL);
	if (!text && errno == ENOENT)
		return strdup("");
	return text;
}
