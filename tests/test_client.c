/*
 * test_client.c - a client owns what its streams share.  Thousands of small
 * objects through one client leave no descriptor or thread behind, a small
 * object costs one request and no thread, streams reuse pooled connections
 * and seeks keep them, threads share a client that its streams outlive, and
 * a forked child gets a default client of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"

#define CLIENT_CONNECTIONS 4
#define MANY_OPENS 10000
#define SAMPLE_EVERY 250
#define REUSE_OPENS 200
#define SEEKS 100
#define SEEK_READ (64 * 1024)
#define SHARING_THREADS 8
#define SHARED_OPENS 400
/* Descriptors a client may hold besides its pooled connections (a wake-up
 * pipe or eventfd, say), and threads besides its workers. */
#define FD_SLACK 3
#define THREAD_SLACK 1

/* The small objects and their bytes, read from disk once per test. */
struct small_objects {
	char name[SMALL_OBJECTS][32];
	unsigned char *bytes[SMALL_OBJECTS];
	size_t len[SMALL_OBJECTS];
};

static int load_small_objects(struct small_objects *so)
{
	for (int i = 0; i < SMALL_OBJECTS; i++) {
		small_object_name(so->name[i], sizeof(so->name[i]), i);
		so->bytes[i] = harness_object(so->name[i], &so->len[i]);
		if (!so->bytes[i])
			return -1;
	}
	return 0;
}

static void free_small_objects(struct small_objects *so)
{
	for (int i = 0; i < SMALL_OBJECTS; i++)
		free(so->bytes[i]);
}

/* "/small-07.bin" for object i, into out. */
static void small_path(char *out, size_t n, int i)
{
	char name[32];

	small_object_name(name, sizeof(name), i);
	snprintf(out, n, "/%s", name);
}

/* 1 if s yields exactly want[0..len) with ais_next, then the end. */
static int stream_yields(ais_stream *s, const unsigned char *want, size_t len)
{
	size_t used = 0;
	const void *p;
	ssize_t n;

	while ((n = ais_next(s, &p)) > 0) {
		if (used + (size_t)n > len || memcmp(want + used, p, (size_t)n) != 0)
			return 0;
		used += (size_t)n;
	}
	return n == 0 && used == len;
}

static int count_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int count = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}

/* Open descriptors of this process (the one opendir() uses included, the
 * same in every count). */
static int count_fds(void)
{
	return count_dir_entries("/proc/self/fd");
}

static int count_threads(void)
{
	return count_dir_entries("/proc/self/task");
}

/* The socket inodes among this process's descriptors, into ino[0..max);
 * returns how many. */
static int socket_inodes(unsigned long *ino, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int count = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && count < max) {
		char path[300], target[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino[count]) == 1)
			count++;
	}
	closedir(d);
	return count;
}

/* TCP connections this process holds open, in any state but LISTEN: its
 * socket descriptors that /proc/self/net/tcp lists (which also lists
 * every other process's).  curl's wake-up socketpairs are not TCP. */
static int count_tcp_connections(void)
{
	unsigned long mine[1024];
	int n = socket_inodes(mine, 1024), count = 0;
	FILE *f = fopen("/proc/self/net/tcp", "re");
	char line[512];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long inode;
		unsigned state;

		if (sscanf(line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %lu",
		           &state, &inode) != 2 || state == 0x0A)
			continue;
		for (int i = 0; i < n; i++)
			if (mine[i] == inode && inode != 0) {
				count++;
				break;
			}
	}
	fclose(f);
	return count;
}

/* count() once it is at most limit, polled for up to 2 s: a joined thread
 * leaves /proc/self/task a moment after pthread_join() returns. */
static int settled_count(int (*count)(void), int limit)
{
	struct timespec tick = { 0, 10 * 1000000L };
	int now = count();

	for (int i = 0; i < 200 && now > limit; i++) {
		nanosleep(&tick, NULL);
		now = count();
	}
	return now;
}

static ais_client *new_client(int connections)
{
	struct ais_options o = AIS_OPTIONS_INIT;

	o.connections = connections;
	return ais_client_new(&o);
}

static void test_many_small_objects_leave_no_fds_or_threads(void)
{
	struct small_objects so;
	int fds0 = count_fds(), threads0 = count_threads();
	int fd_bound = fds0 + CLIENT_CONNECTIONS + FD_SLACK;
	int thread_bound = threads0 + CLIENT_CONNECTIONS + THREAD_SLACK;
	int max_fds = fds0, max_threads = threads0;
	int open_failures = 0, mismatches = 0;
	ais_client *c;

	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	c = new_client(CLIENT_CONNECTIONS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < MANY_OPENS; i++) {
		int k = i % SMALL_OBJECTS;
		char path[64];
		ais_stream *s;

		small_path(path, sizeof(path), k);
		s = ais_client_open(c, url_of(path), NULL);
		if (!s) {
			if (open_failures++ == 0)
				fprintf(stderr, "\n  open %d failed: %s\n", i,
				        ais_last_error());
			continue;
		}
		if (!stream_yields(s, so.bytes[k], so.len[k]))
			mismatches++;
		ais_close(s);
		if (i % SAMPLE_EVERY == 0) {
			int fds = count_fds(), threads = count_threads();

			max_fds = fds > max_fds ? fds : max_fds;
			max_threads = threads > max_threads ? threads : max_threads;
		}
	}
	fprintf(stderr, "\n  %d opens: fds %d -> max %d -> %d, threads %d -> max %d -> %d\n",
	        MANY_OPENS, fds0, max_fds, count_fds(), threads0, max_threads,
	        count_threads());
	CU_ASSERT_EQUAL(open_failures, 0);
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(max_fds <= fd_bound);
	CU_ASSERT(max_threads <= thread_bound);
	CU_ASSERT(count_fds() <= fd_bound);
	CU_ASSERT(count_threads() <= thread_bound);
	/* With no stream open, freeing the client closes and joins it all. */
	ais_client_free(c);
	CU_ASSERT(settled_count(count_fds, fds0) <= fds0);
	CU_ASSERT(settled_count(count_threads, threads0) <= threads0);
	free_small_objects(&so);
}

static void test_idle_connections_stay_within_the_client_bound(void)
{
	struct small_objects so;
	int ports[1 + CLUSTER_TARGETS];
	int tcp0, idle, mismatches = 0;
	ais_client *c;

	CU_ASSERT_EQUAL_FATAL(cluster_start(), 0);
	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	ports[0] = harness_port();
	for (int i = 0; i < CLUSTER_TARGETS; i++)
		ports[1 + i] = cluster_target_port(i);
	tcp0 = count_tcp_connections();
	c = new_client(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* One stream at a time, each on another server than the last. */
	for (int i = 0; i < 4 * SMALL_OBJECTS; i++) {
		int k = i % SMALL_OBJECTS;
		char url[512];
		ais_stream *s;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s",
		         ports[i % (1 + CLUSTER_TARGETS)], so.name[k]);
		s = ais_client_open(c, url, NULL);
		if (!s || !stream_yields(s, so.bytes[k], so.len[k]))
			mismatches++;
		ais_close(s);
	}
	idle = count_tcp_connections();
	fprintf(stderr, "\n  %d servers in turn, client bound 2: TCP connections "
	        "%d -> %d\n", 1 + CLUSTER_TARGETS, tcp0, idle);
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(idle <= tcp0 + 2);
	ais_client_free(c);
	CU_ASSERT(settled_count(count_tcp_connections, tcp0) <= tcp0);
	free_small_objects(&so);
}

static void test_small_object_costs_one_request_and_no_thread(void)
{
	struct small_objects so;
	int threads0 = count_threads();
	ais_client *c = new_client(CLIENT_CONNECTIONS);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	/* 1 KiB, 100 KiB, 64 KiB, 64 KiB + 1: each fits its first answer. */
	for (int k = 0; k < 4; k++) {
		struct ais_stats st;
		char path[64];
		ais_stream *s;

		small_path(path, sizeof(path), k);
		s = ais_client_open(c, url_of(path), NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT(stream_yields(s, so.bytes[k], so.len[k]));
		CU_ASSERT_EQUAL(count_threads(), threads0);
		ais_stats(s, &st);
		CU_ASSERT_EQUAL(st.requests, 1);
		ais_close(s);
	}
	ais_client_free(c);
	free_small_objects(&so);
}

static void test_streams_reuse_one_pooled_connection(void)
{
	struct small_objects so;
	uint64_t connections = 0;
	int mismatches = 0;
	struct proxy p;
	ais_client *c = new_client(CLIENT_CONNECTIONS);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	for (int i = 0; i < REUSE_OPENS; i++) {
		int k = i % SMALL_OBJECTS;
		struct ais_stats st;
		char path[64];
		ais_stream *s;

		small_path(path, sizeof(path), k);
		s = ais_client_open(c, proxied(&p, path), NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		if (!stream_yields(s, so.bytes[k], so.len[k]))
			mismatches++;
		ais_stats(s, &st);
		connections += st.connections;
		ais_close(s);
	}
	fprintf(stderr, "\n  %d streams: proxy saw %d connections, streams counted %llu\n",
	        REUSE_OPENS, proxy_connections(&p), (unsigned long long)connections);
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(proxy_connections(&p) >= 1);
	CU_ASSERT(proxy_connections(&p) <= 2);
	CU_ASSERT_EQUAL(connections, (uint64_t)proxy_connections(&p));
	ais_client_free(c);
	proxy_stop(&p);
	free_small_objects(&so);
}

/* splitmix64, so the offsets are the same on every run. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void test_seeks_keep_the_connection(void)
{
	struct ais_options o = fast_options();
	static unsigned char buf[SEEK_READ];
	uint64_t state = 42, size = 256u << 20;
	int mismatches = 0;
	struct ais_stats st;
	struct proxy p;
	ais_client *c = new_client(8);
	ais_stream *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(proxy_start(&p, "pass"), 0);
	s = ais_client_open(c, proxied(&p, "/big.bin"), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < SEEKS; i++) {
		int64_t at = (int64_t)(next_random(&state) % (size - SEEK_READ));

		CU_ASSERT_EQUAL(ais_seek(s, at, SEEK_SET), at);
		CU_ASSERT_EQUAL(ais_read(s, buf, SEEK_READ), SEEK_READ);
		if (!object_matches(OBJ_BIG, (uint64_t)at, buf, SEEK_READ))
			mismatches++;
	}
	ais_stats(s, &st);
	fprintf(stderr, "\n  %d seeks: proxy saw %d connections; requests=%llu "
	        "connections=%llu\n", SEEKS, proxy_connections(&p),
	        (unsigned long long)st.requests, (unsigned long long)st.connections);
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT(proxy_connections(&p) <= 8);
	CU_ASSERT_EQUAL(st.connections, (uint64_t)proxy_connections(&p));
	ais_close(s);
	ais_client_free(c);
	proxy_stop(&p);
}

struct sharer {
	ais_client *client;
	const struct small_objects *objects;
	int first; /* reads objects first, first + SHARING_THREADS, ... */
	int failures;
};

static void *read_share(void *arg)
{
	struct sharer *t = arg;

	for (int i = t->first; i < SHARED_OPENS; i += SHARING_THREADS) {
		int k = i % SMALL_OBJECTS;
		char path[64], url[512];
		ais_stream *s;

		small_path(path, sizeof(path), k);
		harness_url(url, sizeof(url), path);
		s = ais_client_open(t->client, url, NULL);
		if (!s || !stream_yields(s, t->objects->bytes[k], t->objects->len[k]))
			t->failures++;
		ais_close(s);
	}
	return NULL;
}

static void test_threads_share_one_client(void)
{
	struct sharer t[SHARING_THREADS];
	pthread_t id[SHARING_THREADS];
	struct small_objects so;
	ais_client *c = new_client(CLIENT_CONNECTIONS);
	int failures = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	for (int i = 0; i < SHARING_THREADS; i++) {
		t[i] = (struct sharer){ .client = c, .objects = &so, .first = i };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&id[i], NULL, read_share, &t[i]), 0);
	}
	for (int i = 0; i < SHARING_THREADS; i++) {
		pthread_join(id[i], NULL);
		failures += t[i].failures;
	}
	CU_ASSERT_EQUAL(failures, 0);
	ais_client_free(c);
	free_small_objects(&so);
}

/* Opens two streams on the client, reads a piece of each, lets the main
 * thread free the client, then reads both to the end and closes them. */
struct outliver {
	ais_client *client;
	sem_t opened;
	sem_t client_freed;
	int opened_ok;
	int first_exact;
	int second_exact;
};

static ais_stream *open_and_start(ais_client *c, const char *path)
{
	char url[512];
	ais_stream *s;
	const void *p;
	ssize_t n;

	harness_url(url, sizeof(url), path);
	s = ais_client_open(c, url, NULL);
	if (s && ((n = ais_next(s, &p)) <= 0 ||
	          !object_matches(OBJ_RANDOM, 0, p, (size_t)n))) {
		ais_close(s);
		return NULL;
	}
	return s;
}

static void *outlive_client(void *arg)
{
	struct outliver *o = arg;
	ais_stream *first = open_and_start(o->client, "/random.bin");
	ais_stream *second = open_and_start(o->client, "/random.bin?second");

	o->opened_ok = first && second;
	sem_post(&o->opened);
	while (sem_wait(&o->client_freed) < 0 && errno == EINTR)
		;
	if (first) {
		/* The first ais_next checked byte 0; go on from its end. */
		o->first_exact = stream_matches_object(first, OBJ_RANDOM, -1);
		ais_close(first);
	}
	/* The client is still alive: second holds it. */
	if (second) {
		o->second_exact = stream_matches_object(second, OBJ_RANDOM, -1);
		ais_close(second);
	}
	return NULL;
}

static void test_streams_outlive_a_freed_client(void)
{
	int fds0 = count_fds(), threads0 = count_threads();
	struct outliver o = { .client = new_client(CLIENT_CONNECTIONS) };
	pthread_t id;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o.client);
	sem_init(&o.opened, 0, 0);
	sem_init(&o.client_freed, 0, 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&id, NULL, outlive_client, &o), 0);
	while (sem_wait(&o.opened) < 0 && errno == EINTR)
		;
	ais_client_free(o.client);
	sem_post(&o.client_freed);
	pthread_join(id, NULL);
	CU_ASSERT(o.opened_ok);
	CU_ASSERT(o.first_exact);
	CU_ASSERT(o.second_exact);
	/* Closing the last stream freed the client: its threads are joined and
	 * its connections closed. */
	CU_ASSERT(settled_count(count_threads, threads0) <= threads0);
	CU_ASSERT(settled_count(count_fds, fds0) <= fds0);
	sem_destroy(&o.opened);
	sem_destroy(&o.client_freed);
}

/* In a forked child: read a small object on the default client.  Exit 0 if
 * it was byte-exact, 1 if it did not open, 2 if the bytes differ. */
static void read_in_child(const char *url, const unsigned char *want, size_t len)
{
	ais_stream *s = ais_open(url, NULL);
	int exact;

	if (!s) {
		fprintf(stderr, "\n  child: open %s: %s\n", url, ais_last_error());
		_exit(1);
	}
	exact = stream_yields(s, want, len);
	ais_close(s);
	_exit(exact ? 0 : 2);
}

static void test_forked_child_gets_its_own_default_client(void)
{
	struct small_objects so;
	ais_stream *parent, *after;
	const void *p;
	int status = -1;
	ssize_t n;
	pid_t child;

	CU_ASSERT_EQUAL_FATAL(load_small_objects(&so), 0);
	/* The default client exists, with a read-ahead under way. */
	parent = ais_open(url_of("/random.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
	n = ais_next(parent, &p);
	CU_ASSERT(n > 0 && object_matches(OBJ_RANDOM, 0, p, (size_t)n));
	fflush(NULL);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	/* A small object: no thread needed in the child (ThreadSanitizer
	 * refuses new threads after a multithreaded fork). */
	if (child == 0)
		read_in_child(url_of("/small-05.bin"), so.bytes[5], so.len[5]);
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	/* The parent's stream and client go on as if nothing happened. */
	CU_ASSERT(stream_matches_object(parent, OBJ_RANDOM, -1));
	ais_close(parent);
	after = ais_open(url_of("/small-06.bin"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT(stream_yields(after, so.bytes[6], so.len[6]));
	ais_close(after);
	free_small_objects(&so);
}

int register_client_suite(void)
{
	static const struct test_case tests[] = {
		{ "10000 small objects leave no fds or threads behind",
		  test_many_small_objects_leave_no_fds_or_threads },
		{ "idle connections stay within the client's bound",
		  test_idle_connections_stay_within_the_client_bound },
		{ "a small object costs one request and no thread",
		  test_small_object_costs_one_request_and_no_thread },
		{ "streams reuse one pooled connection",
		  test_streams_reuse_one_pooled_connection },
		{ "seeks keep the connection", test_seeks_keep_the_connection },
		{ "threads share one client", test_threads_share_one_client },
		{ "streams outlive a freed client",
		  test_streams_outlive_a_freed_client },
		{ "forked child gets its own default client",
		  test_forked_child_gets_its_own_default_client },
		{ NULL, NULL },
	};

	return add_suite("clients", tests);
}
