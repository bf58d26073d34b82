/*
 * internal.h - what the files of libaisfile share.  Nothing here is exported:
 * the library is built with -fvisibility=hidden and only AIS_EXPORT names
 * leave it.
 */
#ifndef AISFILE_INTERNAL_H
#define AISFILE_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "aisfile.h"

#define AIS_ERRMSG_MAX 1024

/* Failure injection: tests/check_failpaths.c builds the library's sources
 * with -DAIS_FAILPOINTS and makes the named step fail; the library itself
 * has none. */
#ifdef AIS_FAILPOINTS
bool aisi_failpoint(const char *name);
#define FAILPOINT(name) aisi_failpoint(name)
#else
#define FAILPOINT(name) false
#endif

/* ---- configuration (config.c) ------------------------------------------ */

/* The settings of ais_config, for where each came from. */
enum config_setting {
	CFG_ENDPOINT,
	CFG_TOKEN,
	CFG_CA_FILE,
	CFG_CERT_FILE,
	CFG_KEY_FILE,
	CFG_SKIP_VERIFY,
	CFG_CONNECT_TIMEOUT,
	CFG_READ_TIMEOUT,
	CFG_RETRY_TIME,
	CFG_MAX_RETRIES,
	CFG_BACKOFF,
	CFG_CHUNK_SIZE,
	CFG_SKIP_READ_THROUGH,
	CFG_READAHEAD,
	CFG_CONNECTIONS,
	CFG_PART_SIZE,
	CFG_MEMORY_LIMIT,
	CFG_MIN_SPEED,
	CFG_RESUME_UNVALIDATED,
	CFG_VERIFY,
	CFG_HEADERS,
	CFG_SETTINGS /* their count */
};

/* Where a setting came from.  name is static: the environment variable
 * (ORIGIN_ENV), the cli.json field (ORIGIN_CLI_CONFIG, the file is
 * ais_config.cli_path), or for ORIGIN_TOKEN_FILE "AIS_AUTHN_TOKEN_FILE" or
 * NULL for the CLI's own token file (the file is ais_config.token_path). */
enum config_origin {
	ORIGIN_DEFAULT,
	ORIGIN_OPTION,
	ORIGIN_ENV,
	ORIGIN_CLI_CONFIG,
	ORIGIN_TOKEN_FILE,
};
struct config_source {
	enum config_origin origin;
	const char *name;
};

/* Whether the AIStore CLI's cli.json took part. */
enum cli_config_state {
	CLI_CONFIG_UNUSED, /* not an AIStore URI (or a client's settings) */
	CLI_CONFIG_ABSENT, /* no such file, or no home directory */
	CLI_CONFIG_READ,
};

/* ais_options with every field resolved against the environment, the
 * AIStore CLI's configuration and the defaults, and owned copies of what
 * the caller lent us. */
struct ais_config {
	long connect_timeout_ms;
	long read_timeout_ms;
	int max_retries;
	long retry_time_ms;
	long backoff_initial_ms;
	long backoff_max_ms;
	size_t chunk_size;
	size_t skip_read_through;
	size_t readahead_bytes; /* 0: read-ahead off */
	int connections;
	size_t part_size;
	size_t memory_limit;    /* for a client */
	long min_speed;         /* bytes/s; 0: no check */
	bool resume_unvalidated;
	int verify;             /* AIS_VERIFY_OFF, _CHEAP or _ALL */
	struct curl_slist *headers;
	char *endpoint;
	char *token;     /* NULL when none */
	char *ca_file;
	char *cert_file;
	char *key_file;
	bool skip_verify;
	struct config_source source[CFG_SETTINGS];
	enum cli_config_state cli_state;
	char *cli_path;   /* the cli.json looked for; NULL without a home */
	char *token_path; /* the token file read, if any */
};

/* Resolve opts (NULL: all unset) for a stream of url, or for a client when
 * url is NULL.  The AIStore CLI's files are read only for an AIStore URI
 * (ais://, s3://, ...): those requests go to the CLI's cluster.  Returns 0,
 * or -1 with errno (EINVAL, ENOMEM) and a reason in err. */
int aisi_config_resolve(struct ais_config *cfg, const struct ais_options *opts,
                        const char *url, char *err, size_t errlen);
void aisi_config_release(struct ais_config *cfg);

/* ---- the AIStore CLI's files (aiscli.c) -------------------------------- */

/* What aisfile takes from the AIStore CLI's cli.json: owned strings, NULL
 * where the file says nothing or "". */
struct cli_config {
	char *endpoint;     /* cluster.url, else cluster.default_ais_host */
	const char *endpoint_field; /* which of the two; static */
	char *ca_file;      /* cluster.client_ca_tls */
	char *cert_file;    /* cluster.client_crt */
	char *key_file;     /* cluster.client_crt_key */
	bool skip_verify;   /* cluster.skip_verify_crt */
	bool has_skip_verify;
};

/* The CLI's files: $HOME/.config/ais/cli/NAME (the passwd entry's home when
 * HOME is unset).  malloc'd; NULL with ENOENT when there is no home, or
 * ENOMEM. */
char *aisi_cli_path(const char *name);
/* The settings in the text of cli.json (len bytes, NUL or not; path only
 * names it in messages).  Returns 0, or -1 with errno (EINVAL, ENOMEM) and
 * the reason in err; out is zeroed either way before it is filled. */
int aisi_cli_config_parse(struct cli_config *out, const char *text,
                          size_t len, const char *path, char *err,
                          size_t errlen);
/* Read and parse the cli.json at path: 1 when read, 0 when there is no such
 * file, -1 with errno and err. */
int aisi_cli_config_load(struct cli_config *out, const char *path, char *err,
                         size_t errlen);
void aisi_cli_config_release(struct cli_config *c);
/* The token of an AuthN token file's text {"token": "..."} (len bytes):
 * a malloc'd copy, or NULL with errno (EINVAL, ENOMEM) and a reason in err
 * that begins with label and path. */
char *aisi_token_parse(const char *text, size_t len, const char *label,
                       const char *path, char *err, size_t errlen);
/* Read the token file at path: its token, or NULL with errno: ENOENT when
 * there is no such file, else EINVAL or ENOMEM; err says why. */
char *aisi_token_load(const char *path, const char *label, char *err,
                      size_t errlen);

/* ---- URLs (url.c) ------------------------------------------------------ */

/* Turn a user URL (http, https, ais://BUCKET/OBJECT) into the http(s) URL to
 * GET.  Returns a malloc'd string, or NULL with errno (EINVAL, ENOMEM) and a
 * reason in err. */
char *aisi_url_resolve(const char *url, const char *endpoint, char *err,
                  size_t errlen);
/* Whether url names an object in AIStore (ais://, s3://, gs://, az://,
 * oc://), read through the endpoint. */
bool aisi_url_is_store(const char *url);

/* ---- checksums (checksum.c) -------------------------------------------- */

enum cksum_kind {
	CKSUM_NONE, CKSUM_XXH64, CKSUM_CRC32C, CKSUM_MD5, CKSUM_SHA256,
	CKSUM_SHA512,
};

/* A hash being computed over bytes handed out in order. */
struct cksum {
	enum cksum_kind kind;
	void *xxh;      /* XXH64_state_t */
	uint32_t crc;
	void *md;       /* EVP_MD_CTX */
};

/* The kind of an AIStore checksum type name (Ais-Checksum-Type), whether
 * it is cheap to compute, and the length of its hex value; CKSUM_NONE for
 * a name it does not know. */
enum cksum_kind aisi_cksum_kind(const char *type, bool *cheap, size_t *hex_len);
/* Returns 0, or -1 when out of memory. */
int aisi_cksum_begin(struct cksum *ck, enum cksum_kind kind);
void aisi_cksum_update(struct cksum *ck, const void *p, size_t n);
/* The lowercase hex value, as AIStore writes it; once, at the end. */
int aisi_cksum_hex(struct cksum *ck, char *out, size_t cap);
void aisi_cksum_end(struct cksum *ck);
/* CRC-32C (Castagnoli) of n bytes continuing crc (0 to start). */
uint32_t aisi_crc32c(uint32_t crc, const void *data, size_t n);
/* The same the way asked (for tests/check_crc32c.c): the table, the CPU's
 * instruction (crc unchanged when it has none), or the best there is. */
enum { CRC32C_BEST, CRC32C_TABLE, CRC32C_HARDWARE };
uint32_t aisi_crc32c_with(int how, uint32_t crc, const void *data, size_t n);
/* Whether the object is in AIStore: an AIStore URI, or a resolved URL whose
 * path starts with /v1/objects/. */
bool aisi_url_is_aistore(const char *url, const char *resolved);
/* resolved with name=value (percent-encoded) added to its query: a
 * malloc'd string, or NULL with ENOMEM. */
char *aisi_url_add_query(const char *resolved, const char *name,
                         const char *value);

/* ---- HTTP transport (http.c) ------------------------------------------- */

#define HTTP_VALIDATOR_MAX 256

/* What the final response of a request said about itself, as it said it:
 * whether that adds up is for the fetcher to judge. */
struct http_reply {
	long status;
	int64_t content_length; /* -1 when absent */
	/* A later Content-Length header that disagrees with content_length;
	 * -1 when there is none. */
	int64_t content_length_conflict;
	int64_t range_start;    /* Content-Range "bytes a-b/total"; -1 when absent */
	int64_t range_end;      /* b; -1 when absent */
	int64_t range_total;    /* -1 when absent or "*" */
	char etag[HTTP_VALIDATOR_MAX];
	char last_modified[HTTP_VALIDATOR_MAX];
	char ais_version[HTTP_VALIDATOR_MAX];
	char ais_checksum[HTTP_VALIDATOR_MAX];
	char ais_checksum_type[32];
};

/* Parse one header line of a reply into r (len bytes, CRLF included or
 * not; no NUL needed): a status line "HTTP/..." starts r over, other lines
 * fill the fields they name. */
void aisi_http_parse_header(struct http_reply *r, const char *line, size_t len);
/* The server's own words for an error reply whose body (NUL-terminated) is
 * body, as one line in out (cap > 0 bytes, always NUL-terminated). */
void aisi_http_error_text(const char *body, char *out, size_t cap);

/* on_body return values besides "n taken". */
#define HTTP_BODY_PAUSE ((size_t)-1)
#define HTTP_BODY_ABORT ((size_t)-2)

/* How the transport hands a 2xx reply and its body to the stream. */
struct http_sink {
	/* Once per request, before the first body byte (or at the end of an
	 * empty body).  Return 0 to take the body, or an errno to abort. */
	int (*on_reply)(void *ctx, const struct http_reply *r);
	/* Body bytes.  Return n when taken, HTTP_BODY_PAUSE when there is no
	 * room now (the same bytes come again after the next aisi_http_pump), or
	 * HTTP_BODY_ABORT. */
	size_t (*on_body)(void *ctx, const char *p, size_t n);
	void *ctx;
};

/* How a finished request ended. */
struct http_result {
	CURLcode code;         /* CURLE_OK when the reply arrived whole */
	long status;           /* final HTTP status, 0 when none */
	int64_t range_total;   /* its Content-Range total ("bytes * /N" of a
	                        * 416); -1 when absent or "*" */
	const char *location;  /* absolute Location of a 3xx, else NULL; valid
	                        * until the connection's next request */
	char detail[512]; /* curl's error text or the server's */
};

struct http_conn;

/* A connection with nothing in flight; share (may be NULL) holds the DNS
 * and TLS session caches. */
struct http_conn *aisi_http_conn_new(CURLSH *share);
void aisi_http_conn_free(struct http_conn *c);
/* Wipe every line of a header list, then free it. */
void aisi_http_free_headers(struct curl_slist *list);
/* The Range of a request: "bytes=from-to", or "bytes=from-" when to < 0;
 * none at all unless send. */
struct http_range {
	int64_t from;
	int64_t to;
	bool send;
};

/* The body of a PUT, POST or DELETE: len bytes at data, or pulled from
 * read (len bytes, or -1 for a body of unknown length, sent in chunks). */
struct http_body {
	const char *method;       /* "PUT", "POST" or "DELETE" */
	const char *content_type; /* NULL: none */
	const char *data;         /* NULL: pulled from read */
	int64_t len;
	/* Up to n bytes into buf; 0 at the end, HTTP_BODY_ABORT to fail the
	 * request.  May block until the writer brings bytes.  Called on the
	 * thread that pumps the request. */
	size_t (*read)(void *ctx, char *buf, size_t n);
	void *ctx;
};

/* Send GET url with range, If-Match when if_match is not NULL, and the
 * stream's credentials (token, Authorization and Cookie headers) only when
 * with_auth.  cfg must outlive the request.  Any request in flight is
 * dropped first.  Returns 0, or -1 with errno (ENOMEM, or ENOTSUP when
 * libcurl refused a setting the request depends on) and the reason in
 * aisi_http_start_error(). */
int aisi_http_start(struct http_conn *c, const struct ais_config *cfg,
               const char *url, const struct http_range *range,
               const char *if_match, bool with_auth,
               const struct http_sink *sink);
const char *aisi_http_start_error(const struct http_conn *c);
/* Send body->method url with the body, and the stream's credentials only
 * when with_auth.  cfg and body's bytes must outlive the request.  The
 * reply goes to sink as a GET's does. */
int aisi_http_send(struct http_conn *c, const struct ais_config *cfg,
                   const char *url, const struct http_body *body,
                   bool with_auth, const struct http_sink *sink);
/* "HTTP 404 Not Found: the server's words" for a reply that ended with a
 * status. */
void aisi_http_status_why(const struct http_result *res, char *out,
                          size_t cap);
/* Make an aisi_http_pump() waiting in another thread return at once. */
void aisi_http_wakeup(struct http_conn *c);
/* Drop the request in flight, if any. */
void aisi_http_abort(struct http_conn *c);
bool aisi_http_active(const struct http_conn *c);
/* TCP connections opened by the requests that ended since the last call. */
int aisi_http_take_connections(struct http_conn *c);

enum http_pump_result {
	HTTP_PUMP_RUNNING, /* still in flight */
	HTTP_PUMP_DONE,    /* finished: see *res */
};
/* Drive the request until body bytes arrive, it ends, or timeout_ms passes
 * (0: only what is ready now).  Unpauses a paused body first.  Detects stalls.  Returns how it stands and
 * fills *res when done. */
enum http_pump_result aisi_http_pump(struct http_conn *c, long timeout_ms,
                                struct http_result *res);

/* ---- failures, retries and redirects (policy.c) ------------------------- */

/* "HTTP 404" reads better as "HTTP 404 Not Found": the words, or "". */
const char *aisi_http_status_text(long status);
/* Whether another attempt may fix a reply with this status (5xx, 408,
 * 429), and the errno of one that is final: ENOENT for 404, EACCES for 401
 * and 403, EIO for the rest. */
bool aisi_status_retryable(long status);
int aisi_status_errno(long status);
/* Whether another attempt may fix a transport failure (not a bad URL, a
 * certificate or out of memory). */
bool aisi_transport_retryable(CURLcode code);

/* The retry budget of one run of consecutive failed attempts. */
struct retry {
	int failures;             /* consecutive failed attempts */
	int64_t first_failure_ms; /* when the first of them started */
	unsigned int jitter_seed;
};

#define RETRY_WAIT_SLICE_MS 20

/* salt (any pointer) keeps the jitter of two retriers apart. */
void aisi_retry_init(struct retry *r, const void *salt);
/* Count a failed attempt that started at started_ms.  Returns the backoff
 * (ms) to wait before the next attempt, or -1 when the budget is spent:
 * more than max_retries failures, or retry_time_ms since the first. */
long aisi_retry_next(struct retry *r, const struct ais_config *cfg,
                     int64_t started_ms);
/* Sleep ms, returning early once *cancel (may be NULL) is set. */
void aisi_retry_wait(long ms, const _Atomic bool *cancel);

/* Where a request stands on a chain of redirects from the caller's URL. */
struct redirect {
	int hops;        /* redirects followed from the URL */
	bool downgraded; /* one of them went from https to http */
};

/* Whether a request at from (on the chain r, from the caller's url) may
 * follow a redirect to location.  Returns 0 and r updated, or an errno
 * (EIO, EACCES) with the reason in err. */
int aisi_redirect_check(const struct ais_config *cfg, const char *url,
                        const char *from, const char *location,
                        struct redirect *r, char *err, size_t errlen);
/* Whether the stream's credentials go along: one hop from the URL at most,
 * and never after a downgrade to http. */
bool aisi_redirect_with_auth(const struct redirect *r);

/* ---- fetching (fetch.c) ------------------------------------------------ */

/* Counters the fetchers of a stream add to, from any thread. */
struct fetch_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t resumes;
	_Atomic uint64_t seeks;
	_Atomic uint64_t failures;
	_Atomic uint64_t bytes_received;
	_Atomic uint64_t bytes_discarded;
	_Atomic uint64_t connections;
	_Atomic uint64_t redirects;
	_Atomic uint64_t checksums_verified;
	_Atomic uint64_t checksums_skipped;
	_Atomic uint64_t bytes_uploaded;
	_Atomic uint64_t parts_uploaded;
};

/* What every fetcher of one stream shares: the object and its identity. */
struct object {
	const struct ais_config *cfg;
	const char *url; /* the caller's URL: where every failure starts over */
	pthread_mutex_t lock;        /* guards the fields up to identity */
	/* Where a redirect from url led the first time, and how many hops
	 * away; later requests go straight there until one fails. */
	char *target;
	struct redirect target_route; /* how the redirects reached it */
	bool have_identity;
	struct http_reply identity;  /* the first reply: size and validators */
	/* The first reply carried a validator, or the caller allows joining
	 * requests without one: only then do bytes of two requests meet. */
	_Atomic bool joinable;
	_Atomic int64_t size;        /* -1 while unknown */
	/* One past the furthest byte any reply brought: the object has at
	 * least this many. */
	_Atomic int64_t known_length;
	_Atomic bool range_ok;       /* the first reply was a 206 */
	/* The checksum of the whole object (Ais-Checksum-Type and -Value),
	 * once a reply is known to state it: a reply of all of it, or two
	 * replies of ranges of different lengths that agree.  An AIStore
	 * target with checksummed range reads labels a range with the
	 * checksum of the range; range_sums says a reply showed that.
	 * Guarded by lock. */
	char whole_sum[HTTP_VALIDATOR_MAX];
	char whole_sum_type[32];
	bool range_sums;
	_Atomic bool sticky_claimed;
	_Atomic int sticky_errno;    /* ESTALE once the object changed */
	char sticky_msg[AIS_ERRMSG_MAX]; /* written once, before sticky_errno */
	struct fetch_stats stats;
};

/* Why a fetcher sends its next request: counted as a resume, a seek, or
 * neither (the first request, a new part of a parallel fetch). */
enum request_reason { REQ_FIRST, REQ_RESUME, REQ_SEEK, REQ_PART };

/* One connection filling a window of the object: bytes [off, off + cap)
 * into buf, len of them so far. */
struct fetcher {
	struct object *obj;
	struct ais_client *client;
	struct http_conn *http; /* borrowed from the client for a request */
	char *req_url;          /* where the request in flight went */
	struct redirect route;  /* how req_url was reached from obj->url */
	bool at_target;         /* it went straight to obj->target */
	struct http_sink sink;
	char *buf;
	size_t cap;
	size_t len;
	int64_t off;
	size_t limit;  /* this fill stops at len == limit (<= cap) */
	bool bounded;  /* ask for exactly the window, "bytes=a-b" */
	/* The request in flight. */
	int64_t req_offset; /* the byte asked for */
	int64_t req_next;   /* object offset of the next body byte on the wire */
	int64_t req_end;    /* one past the last byte asked for; -1 open */
	/* A reply without a length ended at confirm_at: the next request
	 * asks whether the object ends there. */
	bool confirming_end;
	int64_t confirm_at;
	int64_t reply_end;  /* one past the last byte a 206 labels; -1 for a
	                     * 200 (set by its reply, before the body) */
	enum request_reason next_reason;
	/* Retry state: consecutive failed attempts since the last byte. */
	struct retry retry;
	size_t attempt_bytes;   /* kept from the request in flight */
	int64_t request_started_ms;
	int refused_errno;
	const _Atomic bool *cancel; /* set from another thread: stop now */
	/* libcurl hands over pieces whole: what did not fit the window waits
	 * here for the next, contiguous window. */
	char spill[CURL_MAX_WRITE_SIZE];
	size_t spill_len;
	int64_t spill_off;
	char errmsg[AIS_ERRMSG_MAX]; /* why the last fill failed */
};

/* A fetcher for o whose connections come from client c. */
void aisi_fetcher_init(struct fetcher *f, struct object *o, struct ais_client *c);
/* Give the connection back (closing the request in flight, if any). */
void aisi_fetcher_release(struct fetcher *f);
/* Point the fetcher at a new window.  The request in flight goes on when it
 * will reach off soon; otherwise it ends.  A new request asks for the window
 * only ("bytes=a-b") when bounded, else for the rest of the object.  Returns
 * whether the request in flight went on. */
bool aisi_fetcher_aim(struct fetcher *f, char *buf, size_t cap, int64_t off,
                 bool bounded);
/* Fill the window until it holds more than have bytes and nothing more is
 * ready at once, or limit bytes, or it reaches the object's end.  Returns
 * len (0: the window starts at the end), or -1 with errno and f->errmsg. */
ssize_t aisi_fetcher_fill(struct fetcher *f, size_t have, size_t limit);
/* Interrupt a fill waiting for the network in another thread. */
void aisi_fetcher_wake(struct fetcher *f);

/* ---- requests with a body (upload.c) ----------------------------------- */

/* Where the uploads of one stream go, and what they count in. */
struct upload_target {
	struct object *obj;          /* cfg, the caller's URL, the counters */
	struct ais_client *client;   /* lends the connections */
	const _Atomic bool *cancel;  /* set from another thread: stop now;
	                              * NULL: never */
};

struct upload_request {
	const char *url;
	const char *what;            /* names it in messages: "PUT part 3" */
	struct http_body body;
	/* A streamed body: the bytes of it taken so far (none: it can be
	 * sent again). */
	uint64_t (*body_taken)(void *ctx);
	/* Room for the body of the 2xx reply (NULL: dropped); a longer one
	 * fails the request. */
	char *reply;
	size_t reply_cap;
	size_t reply_len;
};

/* Send req until a 2xx, within the retry budget (at most max_retries
 * retries when max_retries >= 0 is below the stream's).  Returns 0, or -1
 * with errno (EIO, ENOENT, EACCES, ECANCELED, ENOMEM) and the reason in
 * err. */
int aisi_upload_send(const struct upload_target *to, struct upload_request *req,
                     int max_retries, char *err, size_t errlen);

/* ---- the write stream's buffers (write.c) ------------------------------ */

struct writer;

/* The buffers and upload threads of a write stream to o's URL: AIStore's
 * multipart upload when multipart, else one PUT (NULL with errno). */
struct writer *aisi_writer_new(struct object *o, struct ais_client *c,
                               bool multipart);
/* Copy len bytes in; they go out in parts.  Returns len, or -1 with *err
 * and msg (the upload's first failure, for good). */
ssize_t aisi_writer_write(struct writer *w, const void *buf, size_t len,
                          int *err, char *msg, size_t msglen);
/* Send the rest and make the object visible: 0, or -1 with *err and msg
 * (the upload is aborted then).  Once only: later calls fail with EBADF. */
int aisi_writer_commit(struct writer *w, int *err, char *msg, size_t msglen);
/* Stop, and abort a multipart upload on the server; a committed writer is
 * left as it is. */
void aisi_writer_abort(struct writer *w);
/* Abort unless committed, and free. */
void aisi_writer_free(struct writer *w);
/* Whether it was neither committed nor aborted yet. */
bool aisi_writer_is_open(const struct writer *w);
/* Bytes accepted by aisi_writer_write so far. */
uint64_t aisi_writer_written(const struct writer *w);

/* ---- the client (client.c) --------------------------------------------- */

struct readahead;

/* What the streams of one client share.  lock guards everything here and
 * the part state of every stream's read-ahead (readahead.c). */
struct ais_client {
	pthread_mutex_t lock;
	pthread_cond_t work;         /* a part was queued, or stop */
	int refs;                    /* the owner's, plus one per open stream */
	struct ais_config cfg;       /* connections, memory_limit */
	CURLSH *share;
	pthread_mutex_t share_lock;
	/* Idle connections, most recently used last. */
	struct http_conn **idle;
	int nidle;
	/* Worker threads, started one at a time as work waits for them. */
	pthread_t *threads;
	int nthreads;
	int idle_threads;
	bool stop;
	/* Streams with read-ahead, served round robin. */
	struct readahead *streams;
	int nstreams;
	size_t memory_used;
};

/* curl_global_init, once; 0 or -1 with errno and the message set. */
int aisi_curl_init(void);
/* The process-wide client, made on first use, with a hold for the caller;
 * NULL with errno and the message set. */
struct ais_client *aisi_client_default(void);
void aisi_client_hold(struct ais_client *c);
void aisi_client_release(struct ais_client *c);
/* Lend a connection (pooled, or new); NULL with ENOMEM. */
struct http_conn *aisi_client_conn_get(struct ais_client *c);
/* aisi_client_conn_get with the client's lock held (NULL: make one later). */
struct http_conn *aisi_client_conn_take_locked(struct ais_client *c);
/* Take one back: pooled while there is room, else closed. */
void aisi_client_conn_put(struct ais_client *c, struct http_conn *conn);
/* With c->lock held: a worker is needed; start one if none is idle and
 * the bound allows.  Returns 0, or -1 with errno when none could start. */
int aisi_client_want_worker(struct ais_client *c);

/* ---- read-ahead (readahead.c) ------------------------------------------ */

/* The stream's buffers: parts of the object, filled on the caller's thread
 * or by the client's workers (NULL with errno). */
struct readahead *aisi_readahead_new(struct object *obj, struct ais_client *c);
/* Stop its fetches and free everything. */
void aisi_readahead_free(struct readahead *ra);
/* Bytes at pos: sets *p and returns their count, valid until the next call;
 * 0 at the end; -1 with *err and msg on failure (the next call asks again,
 * except after ESTALE). */
ssize_t aisi_readahead_peek(struct readahead *ra, int64_t pos, const char **p,
                       int *err, char *msg, size_t msglen);
/* The caller moves from one position to another (ais_seek). */
void aisi_readahead_seek(struct readahead *ra, int64_t from, int64_t to);
/* With the client's lock held, in a worker: fetch one queued part of some
 * stream, if any.  Returns whether there was one. */
bool aisi_readahead_work(struct ais_client *c, struct fetcher *f);

/* ---- errors (error.c) -------------------------------------------------- */

/* Record a failure: the message goes to the stream (when s is not NULL) and
 * to the thread's last error, errno is set to err.  Returns -1. */
int aisi_fail(struct ais_stream *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *aisi_stream_errbuf(struct ais_stream *s);

/* ---- the stream (stream.c), for the shims ------------------------------- */

/* Whether s was made by ais_create. */
bool aisi_stream_writable(const struct ais_stream *s);
/* Discard a write stream's upload without freeing it. */
void aisi_stream_discard(struct ais_stream *s);

/* ---- misc -------------------------------------------------------------- */

int64_t aisi_now_ms(void);
void aisi_sleep_ms(long ms);

#endif /* AISFILE_INTERNAL_H */
