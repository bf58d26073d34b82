/*
 * client.c - what the streams of one client share: a pool of open
 * connections, the DNS and TLS session caches, a bounded set of worker
 * threads that fetch ahead for every stream, and the memory budget of their
 * buffers (kept in readahead.c).  The shape is aws-c-s3's client and
 * libcurl's multi connection cache: limits are per client, not per stream.
 *
 * Nothing is made before it is needed: a client starts with no connection
 * and no thread, so a stream that gets its object in the first answer costs
 * one request on a pooled connection and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLIENT_DEFAULT_CONNECTIONS 8

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int aisi_curl_init(void)
{
	pthread_once(&curl_once, init_curl);
	if (curl_init_result == CURLE_OK)
		return 0;
	return aisi_fail(NULL, EIO, "libcurl failed to initialise: %s",
	                curl_easy_strerror(curl_init_result));
}

/* ---- libcurl's shared caches ------------------------------------------------ */

static void share_lock(CURL *e, curl_lock_data data, curl_lock_access access,
                       void *userptr)
{
	struct ais_client *c = userptr;

	(void)e;
	(void)data;
	(void)access;
	pthread_mutex_lock(&c->share_lock);
}

static void share_unlock(CURL *e, curl_lock_data data, void *userptr)
{
	struct ais_client *c = userptr;

	(void)e;
	(void)data;
	pthread_mutex_unlock(&c->share_lock);
}

/* DNS answers and TLS sessions are shared by every connection of the client.
 * Connections themselves are not: libcurl does not support sharing its
 * connection cache between threads, so the pool lends whole handles. */
static CURLSH *share_new(struct ais_client *c)
{
	CURLSH *sh = curl_share_init();

	if (!sh)
		return NULL;
	if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(sh, CURLSHOPT_USERDATA, c) ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
		curl_share_cleanup(sh);
		return NULL;
	}
	return sh;
}

/* ---- workers -------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct ais_client *c = arg;
	struct fetcher f;

	memset(&f, 0, sizeof(f));
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (aisi_readahead_work(c, &f))
			continue;
		c->idle_threads++;
		pthread_cond_wait(&c->work, &c->lock);
		c->idle_threads--;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int aisi_client_want_worker(struct ais_client *c)
{
	int max = c->cfg.connections;

	if (c->idle_threads > 0) {
		pthread_cond_signal(&c->work);
		return 0;
	}
	if (c->nthreads >= max || c->stop)
		return 0;
	if (!c->threads && !(c->threads = calloc((size_t)max, sizeof(pthread_t)))) {
		errno = ENOMEM;
		return -1;
	}
	/* Without a new worker the caller's thread fetches the part itself
	 * when it gets there: slower, never wrong. */
	errno = FAILPOINT("thread-create") ? EAGAIN :
	        pthread_create(&c->threads[c->nthreads], NULL, worker_main, c);
	if (errno)
		return -1;
	c->nthreads++;
	return 0;
}

static void stop_workers(struct ais_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
}

/* ---- the connection pool ---------------------------------------------------------- */

struct http_conn *aisi_client_conn_take_locked(struct ais_client *c)
{
	return c->nidle > 0 ? c->idle[--c->nidle] : NULL;
}

struct http_conn *aisi_client_conn_get(struct ais_client *c)
{
	struct http_conn *conn;

	pthread_mutex_lock(&c->lock);
	conn = aisi_client_conn_take_locked(c);
	pthread_mutex_unlock(&c->lock);
	return conn ? conn : aisi_http_conn_new(c->share);
}

void aisi_client_conn_put(struct ais_client *c, struct http_conn *conn)
{
	if (!conn)
		return;
	aisi_http_abort(conn);
	pthread_mutex_lock(&c->lock);
	if (c->nidle < c->cfg.connections) {
		c->idle[c->nidle++] = conn;
		conn = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	aisi_http_conn_free(conn);
}

/* ---- life ---------------------------------------------------------------------------- */

static void client_destroy(struct ais_client *c)
{
	stop_workers(c);
	for (int i = 0; i < c->nidle; i++)
		aisi_http_conn_free(c->idle[i]);
	free(c->idle);
	free(c->threads);
	if (c->share)
		curl_share_cleanup(c->share);
	aisi_config_release(&c->cfg);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->share_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void aisi_client_hold(struct ais_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
}

void aisi_client_release(struct ais_client *c)
{
	int left;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left == 0)
		client_destroy(c);
}

static struct ais_client *client_new(const struct ais_options *opts)
{
	char err[AIS_ERRMSG_MAX];
	struct ais_client *c;

	if (aisi_curl_init() < 0)
		return NULL;
	if (!(c = calloc(1, sizeof(*c)))) {
		aisi_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->share_lock, NULL);
	pthread_cond_init(&c->work, NULL);
	c->refs = 1;
	if (aisi_config_resolve(&c->cfg, opts, NULL, err, sizeof(err)) < 0) {
		int e = errno;

		client_destroy(c);
		aisi_fail(NULL, e, "%s", err);
		return NULL;
	}
	/* A stream fetches on 4 connections by default, a client serves
	 * several streams: it gets 8 unless told otherwise. */
	if (c->cfg.source[CFG_CONNECTIONS].origin == ORIGIN_DEFAULT)
		c->cfg.connections = CLIENT_DEFAULT_CONNECTIONS;
	c->idle = calloc((size_t)c->cfg.connections, sizeof(*c->idle));
	c->share = share_new(c);
	if (!c->idle || !c->share) {
		client_destroy(c);
		aisi_fail(NULL, ENOMEM, "out of memory");
		return NULL;
	}
	return c;
}

AIS_EXPORT ais_client *ais_client_new(const struct ais_options *opts)
{
	return client_new(opts);
}

AIS_EXPORT void ais_client_free(ais_client *c)
{
	aisi_client_release(c);
}

/* ---- the default client ------------------------------------------------------------ */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ais_client *default_client;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The child of a fork has none of the parent's threads: it forgets the
 * parent's client (without touching it, its locks may be held) and makes
 * its own on first use. */
static void forget_default_in_child(void)
{
	pthread_mutex_init(&default_lock, NULL);
	default_client = NULL;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_default_in_child);
}

struct ais_client *aisi_client_default(void)
{
	struct ais_client *c;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&default_lock);
	if (!default_client)
		default_client = client_new(NULL);
	if ((c = default_client))
		aisi_client_hold(c);
	pthread_mutex_unlock(&default_lock);
	return c;
}

/* At exit, the default client goes once no stream holds it; a stream left
 * open keeps it (and its threads) to the end of the process. */
__attribute__((destructor)) static void release_default(void)
{
	pthread_mutex_lock(&default_lock);
	aisi_client_release(default_client);
	default_client = NULL;
	pthread_mutex_unlock(&default_lock);
}
