/*
 * internal.h - what the files of libaisfile share.  Nothing here is exported:
 * the library is built with -fvisibility=hidden and only AIS_EXPORT names
 * leave it.
 */
#ifndef AISFILE_INTERNAL_H
#define AISFILE_INTERNAL_H

#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "aisfile.h"

#define AIS_ERRMSG_MAX 1024

/* ---- configuration (config.c) ------------------------------------------ */

/* ais_options with every field resolved against the environment and the
 * defaults, and owned copies of what the caller lent us. */
struct ais_config {
	long connect_timeout_ms;
	long read_timeout_ms;
	int max_retries;
	long retry_time_ms;
	long backoff_initial_ms;
	long backoff_max_ms;
	size_t chunk_size;
	size_t skip_read_through;
	struct curl_slist *headers;
	char *endpoint;
	char *token;     /* NULL when none */
	char *ca_file;
	char *cert_file;
	char *key_file;
	bool skip_verify;
};

int config_resolve(struct ais_config *cfg, const struct ais_options *opts,
                   char *err, size_t errlen);
void config_release(struct ais_config *cfg);

/* ---- URLs (url.c) ------------------------------------------------------ */

/* Turn a user URL (http, https, ais://BUCKET/OBJECT) into the http(s) URL to
 * GET.  Returns a malloc'd string, or NULL with errno (EINVAL, ENOMEM) and a
 * reason in err. */
char *url_resolve(const char *url, const char *endpoint, char *err,
                  size_t errlen);

/* ---- HTTP transport (http.c) ------------------------------------------- */

#define HTTP_VALIDATOR_MAX 256

/* What the final response of a request said about itself. */
struct http_reply {
	long status;
	int64_t content_length; /* -1 when absent */
	int64_t range_start;    /* Content-Range "bytes a-b/total"; -1 when absent */
	int64_t range_total;    /* -1 when absent or "*" */
	char etag[HTTP_VALIDATOR_MAX];
	char last_modified[HTTP_VALIDATOR_MAX];
	char ais_version[HTTP_VALIDATOR_MAX];
	char ais_checksum[HTTP_VALIDATOR_MAX];
};

/* on_body return values besides "n taken". */
#define HTTP_BODY_PAUSE ((size_t)-1)
#define HTTP_BODY_ABORT ((size_t)-2)

/* How the transport hands a 2xx reply and its body to the stream. */
struct http_sink {
	/* Once per request, before the first body byte (or at the end of an
	 * empty body).  Return 0 to take the body, or an errno to abort. */
	int (*on_reply)(void *ctx, const struct http_reply *r);
	/* Body bytes.  Return n when taken, HTTP_BODY_PAUSE when there is no
	 * room now (the same bytes come again after the next http_pump), or
	 * HTTP_BODY_ABORT. */
	size_t (*on_body)(void *ctx, const char *p, size_t n);
	void *ctx;
};

/* How a finished request ended. */
struct http_result {
	CURLcode code;         /* CURLE_OK when the reply arrived whole */
	long status;           /* final HTTP status, 0 when none */
	bool stalled;          /* no byte for read_timeout_ms */
	char detail[512]; /* curl's error text or the server's */
};

struct http_conn;

struct http_conn *http_conn_new(const struct ais_config *cfg);
void http_conn_free(struct http_conn *c);
/* Send GET url, with "Range: bytes=offset-" when offset > 0 and If-Match
 * when if_match is not NULL.  Any request in flight is dropped first. */
int http_start(struct http_conn *c, const char *url, int64_t offset,
               const char *if_match, const struct http_sink *sink);
/* Drop the request in flight, if any. */
void http_abort(struct http_conn *c);
bool http_active(const struct http_conn *c);

enum http_pump_result {
	HTTP_PUMP_RUNNING, /* still in flight */
	HTTP_PUMP_DONE,    /* finished: see *res */
};
/* Drive the request until body bytes arrive, it ends, or timeout_ms passes
 * (0: only what is ready now).  Unpauses a paused body first.  Detects stalls.  Returns how it stands and
 * fills *res when done. */
enum http_pump_result http_pump(struct http_conn *c, long timeout_ms,
                                struct http_result *res);

/* ---- errors (error.c) -------------------------------------------------- */

/* Record a failure: the message goes to the stream (when s is not NULL) and
 * to the thread's last error, errno is set to err.  Returns -1. */
int ais_fail(struct ais_stream *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ais_failv(struct ais_stream *s, int err, const char *fmt, va_list ap);
char *ais_stream_errbuf(struct ais_stream *s);

/* ---- misc -------------------------------------------------------------- */

int64_t ais_now_ms(void);
void ais_sleep_ms(long ms);

#endif /* AISFILE_INTERNAL_H */
