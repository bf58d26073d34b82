/*
 * aisfile.h - read or write an object in a remote object store as a
 * resilient stream.
 *
 * This header is the whole public contract of libaisfile.  Everything a caller
 * may rely on is written here; anything not written here may change.
 *
 * An ais_stream reads one object over HTTP(S) (an AIStore cluster, or any
 * server that answers Range requests).  When the connection breaks, stalls, or
 * the server answers 5xx, the stream re-requests the rest with
 * "Range: bytes=N-" from the original URL and the caller never sees the break.
 * If the object changes between two requests the read fails with ESTALE; bytes
 * from two versions are never spliced.
 *
 * A stream made by ais_create() writes one object instead (see "Writing"
 * below): in AIStore as a multipart upload whose parts are resent after a
 * failure, elsewhere as one HTTP PUT.
 *
 * Errors: every function that can fail sets errno and leaves a message that
 * names what happened (HTTP status, the server's own error text, the URL, the
 * byte offset).  Read it with ais_errmsg() for a stream, or ais_last_error()
 * for the calling thread (useful when you only hold a FILE*).
 *
 * Thread safety: one stream must not be used by two threads at the same time.
 * Different streams may be used concurrently from different threads.  The
 * library initialises libcurl once, thread-safely, on first use.
 */
#ifndef AISFILE_H
#define AISFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AIS_EXPORT __attribute__((visibility("default")))
#else
#define AIS_EXPORT
#endif

/* An open object stream.  Opaque; created by ais_open(), freed by ais_close(). */
typedef struct ais_stream ais_stream;

/* What streams share: connections, worker threads, buffer memory.  Opaque;
 * see ais_client_new(). */
typedef struct ais_client ais_client;

/*
 * Tuning.  A field left at 0 (or NULL) takes its value from the environment
 * where a variable is named below, else the built-in default; a value set here
 * wins over the environment.  Initialise the struct with AIS_OPTIONS_INIT
 * and set only what you need.  Passing NULL options to ais_open() is the same
 * as passing AIS_OPTIONS_INIT.
 *
 * The AIStore CLI's configuration comes last, for the settings the `ais`
 * command keeps, and only for AIStore URIs (ais://, s3://, gs://, az://,
 * oc://): their requests go to the cluster the CLI is configured for, and a
 * login token or a cluster's CA is not used for any other server.  The
 * order is the CLI's own (NVIDIA/aistore cmd/cli, api/authn):
 *   endpoint   opts, AIS_ENDPOINT, cluster.url in cli.json (when empty,
 *              cluster.default_ais_host)
 *   ca_file    opts, AIS_CLIENT_CA, cluster.client_ca_tls
 *   cert_file  opts, AIS_CRT, cluster.client_crt
 *   key_file   opts, AIS_CRT_KEY, cluster.client_crt_key
 *   skip_verify opts, AIS_SKIP_VERIFY_CRT, cluster.skip_verify_crt
 *   token      opts, AIS_AUTHN_TOKEN, the file named by AIS_AUTHN_TOKEN_FILE,
 *              the file `ais auth login` writes
 * cli.json is $HOME/.config/ais/cli/cli.json and the login token file
 * $HOME/.config/ais/cli/auth.token (the passwd entry's home when HOME is
 * unset; the CLI honours no other override).  Either may be missing; one
 * that is not the JSON the CLI writes fails ais_open() with EINVAL and a
 * message naming the file and the fault.  An empty variable counts as
 * unset.  ais_config_describe() tells where each setting came from.
 *
 * The struct grows at its end as the library learns new settings; size
 * tells the library which fields a program knows, so a program built
 * against an older header keeps working with a newer library.  A program
 * built against a newer header that sets a field the library does not know
 * gets EINVAL.
 */
struct ais_options {
	/* sizeof(struct ais_options) as the program was compiled; set by
	 * AIS_OPTIONS_INIT.  0 (a struct zeroed by hand) means this header's
	 * size. */
	size_t size;
	/* Time to establish a connection.  Env AIS_CONNECT_TIMEOUT (seconds).
	 * Default 10000 ms. */
	long connect_timeout_ms;
	/* A request that delivers no byte for this long is treated as broken and
	 * resumed (stall detection); its reply header must be complete within
	 * connect_timeout_ms + read_timeout_ms of sending it (of sending its
	 * body, for an upload, which stalls too when none of its body goes
	 * out for this long).  Env AIS_READ_TIMEOUT (seconds).  Default
	 * 30000 ms. */
	long read_timeout_ms;
	/* Consecutive failed attempts allowed before a read fails with EIO.  An
	 * attempt that delivers at least one byte resets the count.  Each
	 * request of an upload (a part, a whole object) has a count of its
	 * own.  -1 means no retry at all.  Env AIS_MAX_RETRIES.  Default 8. */
	int max_retries;
	/* Total time, in ms, that consecutive failed attempts may take, from the
	 * start of the first attempt that failed after the last byte.  Env
	 * AIS_RETRY_TIME (seconds).  Default 120000 ms. */
	long retry_time_ms;
	/* Backoff before the first retry; it doubles on each further failure,
	 * up to backoff_max_ms, with random jitter of up to half its value.
	 * Defaults 100 ms and 5000 ms. */
	long backoff_initial_ms;
	long backoff_max_ms;
	/* With read-ahead off, the size of the one buffer the stream fills and
	 * ais_next() hands out.  Default 4 MiB; at least 64 KiB is used. */
	size_t chunk_size;
	/* A forward skip or seek of at most this many bytes past the fetched data
	 * reads through on the open connection instead of sending a new Range
	 * request.  Default 256 KiB. */
	size_t skip_read_through;
	/* Read-ahead: bytes the client's worker threads may fetch ahead of
	 * the caller while it works; also the bound on the stream's buffer
	 * memory (within the client's memory_limit).  Read-ahead starts only
	 * once the object is larger than the first answer (256 KiB) and the
	 * server honours Range.  -1 turns it off: the caller's thread does the
	 * fetching, into one chunk_size buffer.  More than the client's
	 * memory_limit counts as memory_limit.  Env AIS_READAHEAD (bytes,
	 * with an optional K, M or G suffix; 0 means off).  Default 64 MiB. */
	long readahead_bytes;
	/* Parallel ranged fetching: with read-ahead on, parts of part_size
	 * bytes (smaller while the window grows) are fetched by up to this many
	 * worker threads at once, each over its own connection, and handed out
	 * in order.  1 means one connection: the caller's thread fetches, with
	 * no read-ahead.  For ais_client_new() it is the client's bound on
	 * worker threads and on the idle connections it keeps.  For a write
	 * stream (ais_create), the parts uploaded at once, each by a thread
	 * of the stream.  Env AIS_CONNECTIONS.  Default 4 for a stream, 8 for
	 * a client. */
	int connections;
	/* Size of one part, read or written.  Env AIS_PART_SIZE (as
	 * AIS_READAHEAD).  Default 8 MiB; at least 64 KiB is used.  A write
	 * stream uploads parts of exactly this size (the last one smaller),
	 * up to `connections` of them at once; see ais_create(). */
	size_t part_size;
	/* Extra request headers, "Name: value", NULL-terminated array.  Copied by
	 * ais_open(); the caller keeps ownership. */
	const char *const *headers;
	/* Base URL of the AIStore gateway for ais://, s3://, gs://, az:// and
	 * oc:// URLs, e.g. "http://localhost:8080".  Env AIS_ENDPOINT, else
	 * cluster.url of the AIStore CLI's cli.json.  No default. */
	const char *endpoint;
	/* AuthN token sent as "Authorization: Bearer TOKEN".  Env
	 * AIS_AUTHN_TOKEN, else the "token" of the JSON file named by
	 * AIS_AUTHN_TOKEN_FILE ({"token": "..."}), else, for AIStore URIs, of
	 * the one `ais auth login` wrote.  The token follows the
	 * gateway's redirects to storage targets on other hosts, which check
	 * it too; a request that began on https then follows redirects to
	 * https only, so the token never travels in clear (see README,
	 * "Tokens and redirects"). */
	const char *token;
	/* TLS: CA bundle to verify the server with (env AIS_CLIENT_CA), client
	 * certificate and key in PEM (env AIS_CRT, AIS_CRT_KEY); for AIStore
	 * URIs then the CLI's cluster.client_ca_tls, client_crt and
	 * client_crt_key. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	/* 1: do not verify the server's certificate; -1: verify even when
	 * AIS_SKIP_VERIFY_CRT or cli.json says otherwise; 0: take
	 * AIS_SKIP_VERIFY_CRT (1/t/true/y/yes/on), else for AIStore URIs the
	 * CLI's cluster.skip_verify_crt; default verify. */
	int skip_verify;
	/* Client only (ais_client_new(), and the default client): the bytes of
	 * read-ahead buffers all streams of the client may hold together.  A
	 * stream's window grows while there is room; when the budget is spent
	 * a stream keeps one buffer of at most 256 KiB, so no stream stalls.
	 * Env AIS_MEMORY_LIMIT (as AIS_READAHEAD).  Default 256 MiB. */
	size_t memory_limit;
	/* A transfer that brings (or, uploading, sends) fewer bytes per second
	 * than this over a read_timeout_ms window starves and is replaced
	 * (resumed), as one that stalls is.  -1 turns the check off.  Env AIS_MIN_SPEED (bytes per
	 * second, K/M/G allowed; 0 means off).  Default 1024. */
	long min_speed;
	/* An object whose first reply carries no validator (ETag,
	 * Last-Modified, Ais-Version, or the checksum of the whole object)
	 * cannot prove that the bytes of a second request belong to the same
	 * version.  By default such a stream fetches no parallel parts, reads
	 * on in one request (with read-ahead on, after its first 256 KiB part:
	 * the one place two requests meet), and a break after some bytes fails
	 * with EIO instead of resuming.  1 allows resuming and parallel parts
	 * anyway; -1 refuses even when the environment allows.  Env AIS_RESUME_UNVALIDATED
	 * (1/t/true/y/yes/on).  Default refuse. */
	int resume_unvalidated;
	/* End-to-end checksum of a whole-object read: when the server states
	 * the checksum of the whole object (AIStore's Ais-Checksum-Type and
	 * Ais-Checksum-Value) and the stream delivers every byte from 0 to the
	 * end in order, the bytes are hashed on the fly and the last read fails
	 * with EBADMSG on a mismatch instead of ending cleanly.  AIS_VERIFY_CHEAP
	 * checks xxhash, xxhash2 and crc32c; AIS_VERIFY_ALL also md5, sha256
	 * (AIStore's name for SHA-512/256) and sha512; AIS_VERIFY_OFF checks
	 * nothing.  A read that is not sequential is not checked and counted
	 * in ais_stats.checksums_skipped.  Env AIS_VERIFY (off, cheap, all).
	 * 0 means the environment, else AIS_VERIFY_CHEAP. */
	int verify;
};

/* Values of ais_options.verify. */
#define AIS_VERIFY_OFF   1
#define AIS_VERIFY_CHEAP 2
#define AIS_VERIFY_ALL   3

#ifdef __cplusplus
#define AIS_OPTIONS_INIT { sizeof(struct ais_options) }
#else
#define AIS_OPTIONS_INIT { .size = sizeof(struct ais_options) }
#endif

/* Counters of one stream, read with ais_stats().  A write stream counts
 * requests, failures, resumes, bytes_copied, connections, redirects,
 * bytes_uploaded and parts_uploaded; its other counters stay 0. */
struct ais_stats {
	uint64_t requests;        /* HTTP requests sent (each redirect hop not
	                           * counted); for a write stream every PUT,
	                           * POST and DELETE */
	uint64_t resumes;         /* requests that continued a broken transfer;
	                           * for a write stream, PUTs sent again (a
	                           * part resent from its buffer) */
	uint64_t seeks;           /* requests started because of a seek or skip */
	uint64_t failures;        /* attempts that failed (and were retried,
	                           * unless the budget was spent) */
	uint64_t bytes_received;  /* body bytes taken from the network */
	uint64_t bytes_discarded; /* received bytes dropped (read-through skips,
	                           * a server that ignored Range) */
	uint64_t bytes_delivered; /* bytes handed to the caller */
	uint64_t bytes_copied;    /* bytes the library copied into caller buffers
	                           * (ais_read, the FILE* shim); 0 on the
	                           * ais_next and libarchive paths.  For a
	                           * write stream, the bytes ais_write copied
	                           * into its part buffers: every byte written,
	                           * through ais_write, the FILE* shim or
	                           * libarchive */
	uint64_t connections;     /* new TCP connections its requests opened
	                           * (0 when every request found one open) */
	uint64_t redirects;       /* redirects followed (each hop once) */
	uint64_t checksums_verified; /* whole-object checksums computed and
	                              * found equal to the server's */
	uint64_t checksums_skipped;  /* checksums the server stated that were
	                              * not checked: the read was not
	                              * sequential, or the type is off */
	uint64_t bytes_uploaded;  /* write streams: object bytes the server
	                           * accepted, each byte once however often it
	                           * was sent (the object's size once
	                           * committed) */
	uint64_t parts_uploaded;  /* write streams: parts of a multipart upload
	                           * the server accepted (0 for one PUT) */
	/* Room for counters of later versions, so that the struct keeps its
	 * size and a binary built against this header keeps working; zero. */
	uint64_t reserved[4];
};

/*
 * Open the object at url for reading and wait for the server's first answer,
 * so that a missing object or a refused request fails here.
 *
 * url: "http://...", "https://...", or an AIStore URI read through the
 * gateway given by opts->endpoint, AIS_ENDPOINT or the AIStore CLI's
 * cli.json (see struct ais_options):
 *   ais://BUCKET/OBJECT          GET {endpoint}/v1/objects/BUCKET/OBJECT?provider=ais
 *   ais://@UUID#NS/BUCKET/OBJECT the same in namespace NS of cluster UUID
 *                                (&namespace=@UUID#NS, percent-encoded)
 *   s3://, gs://, az://, oc://   remote backends: provider aws, gcp, azure, oci
 * OBJECT is percent-encoded with '/' kept.
 *
 * Returns a stream, or NULL with errno set:
 *   EINVAL  NULL or malformed URL, unknown scheme, ais:// without endpoint,
 *           a malformed option or environment variable (token file, boolean),
 *           a malformed cli.json or login token file (for AIStore URIs)
 *   ENOENT  404
 *   EACCES  401, 403; a redirect from https to http while a token is set
 *   EIO     other 4xx (the server's text is in the message), or the retry
 *           budget ran out on transport errors and 5xx
 *   ENOMEM  out of memory
 * The reason is in ais_last_error().
 */
AIS_EXPORT ais_stream *ais_open(const char *url, const struct ais_options *opts);

/*
 * Zero-copy read.  Sets *buf to the next bytes of the object, inside a buffer
 * the transport filled, and returns their count (> 0).  Returns 0 at the end of
 * the object, -1 with errno on failure (EIO, ESTALE, ...).
 *
 * Lifetime: *buf stays valid and unchanged until the next call of any
 * function on the same stream (ais_next, ais_read, ais_seek, ais_close, ...),
 * and no longer.  The caller must not write through it.
 */
AIS_EXPORT ssize_t ais_next(ais_stream *s, const void **buf);

/* Copying read of up to len bytes into buf.  Returns the count, 0 at the
 * end, -1 with errno on failure.  The count is short at the end of the
 * object, or when a failure came after some bytes were copied: the next
 * ais_read or ais_next then returns -1 with that failure's errno and
 * message (as read(2) does); ais_seek clears it. */
AIS_EXPORT ssize_t ais_read(ais_stream *s, void *buf, size_t len);

/*
 * Move the read position, as lseek(2): whence is SEEK_SET, SEEK_CUR or
 * SEEK_END.  Seeking costs no request when the target is inside data already
 * fetched; otherwise the next read starts a Range request there.  Seeking
 * past the end is allowed (reads then return 0).  Returns the new position,
 * or -1 with errno: EINVAL (bad whence, negative target), ESPIPE (SEEK_END
 * when the size is unknown).
 */
AIS_EXPORT int64_t ais_seek(ais_stream *s, int64_t offset, int whence);

/* Current read position; for a write stream, the bytes written so far. */
AIS_EXPORT int64_t ais_tell(const ais_stream *s);

/* Object size in bytes, or -1 when the server did not tell it (always -1
 * for a write stream). */
AIS_EXPORT int64_t ais_size(const ais_stream *s);

/* Copy the stream's counters into *out.  Returns 0, or -1 with EINVAL. */
AIS_EXPORT int ais_stats(const ais_stream *s, struct ais_stats *out);

/* The message of the stream's last failure, or "" when none.  The string
 * belongs to the stream and is valid until its next failure or close. */
AIS_EXPORT const char *ais_errmsg(const ais_stream *s);

/* The message of the last failure of any aisfile call on this thread, or ""
 * when none (like dlerror(), but not cleared by reading).  Thread-local; valid
 * until the next failing aisfile call on this thread. */
AIS_EXPORT const char *ais_last_error(void);

/* Close the stream and free everything it holds.  NULL is accepted.  The
 * pointer is invalid afterwards, whatever it returns.  A read stream
 * returns 0, or -1 with EBADMSG when every byte was read, the end-to-end
 * checksum did not match and no read reported it yet.  A write stream
 * commits first (see ais_create) and returns 0 once the object is in the
 * store, or -1 with errno.  On failure the reason is in ais_last_error()
 * (the stream is freed, so ais_errmsg() cannot be asked). */
AIS_EXPORT int ais_close(ais_stream *s);

/*
 * Writing.
 *
 * Open url for writing: the URL forms, the token, TLS settings, extra
 * headers and the redirect rule are those of ais_open().  Nothing is sent
 * yet, and nothing sent before ais_close() can make a partial object
 * visible: the object appears whole at ais_close(), or not at all.
 * Returns a stream, or NULL with errno (EINVAL for a malformed URL or
 * option, ENOMEM).  A missing bucket or a refused token shows at the first
 * ais_write() that sends a part, else at ais_close().
 *
 * How the object goes out:
 *  - AIStore (ais://, s3://, gs://, az://, oc:// URIs, and http(s) URLs
 *    whose path starts with /v1/objects/): an object of at most part_size
 *    bytes is one PUT with a Content-Length, sent at ais_close().  A larger
 *    one is a multipart upload: POST {"action":"mpt-upload"} for an upload
 *    ID, then "PUT URL?uploadId=ID&partNumber=N" for each part of
 *    part_size bytes, up to `connections` at once while the caller goes on
 *    writing, and ais_close() sends POST {"action":"mpt-complete",...}.
 *    The gateway's 307 redirects are followed with the same method and
 *    body.  A part whose request fails (a connection cut, reset or stalled
 *    past read_timeout_ms or below min_speed, a 5xx, 408 or 429) is sent
 *    again from its buffer within the retry budget of a read
 *    (max_retries, retry_time_ms, backoff); other 4xx fail at once.
 *  - Any other HTTP server: one PUT.  At most part_size bytes go with a
 *    Content-Length at ais_close(); a larger object streams as one PUT
 *    with Transfer-Encoding: chunked, fed from the caller's writes by an
 *    upload thread.  Such a PUT cannot be resumed: a break after its
 *    first bytes fails the upload with EIO and a message that says so
 *    (before its first byte it is retried as above).
 *
 * Memory: at most (connections + 1) x part_size bytes of buffers (40 MiB
 * by default), whatever the object's size: `connections` parts in flight
 * and the one being filled.  ais_write() waits while all of them are full.
 * A buffer grows as bytes arrive, so a small object costs little.
 *
 * Threads: the stream starts up to `connections` threads of its own (one
 * for a plain PUT), when the first part is ready, and joins them at
 * ais_close() or ais_abort(); they borrow connections from the client's
 * pool.  The stream itself, as every stream, belongs to one thread at a
 * time.
 *
 * Failures are sticky: once the upload failed (the budget ran out, a final
 * 4xx), it is aborted on the server, the next ais_write() and ais_close()
 * fail with the same errno and message, and no object appears.  errno:
 * ENOENT for a 404 (a missing bucket), EACCES for 401 and 403 (or a
 * refused https to http redirect), EIO for the rest.  The message names
 * the URL, the request (e.g. "PUT part 3"), the HTTP status and the
 * server's own words.
 *
 * ais_read(), ais_next() and ais_seek() on a write stream, and ais_write()
 * on a read stream, fail with EBADF.
 */
AIS_EXPORT ais_stream *ais_create(const char *url,
                                  const struct ais_options *opts);

/* ais_create() on client c. */
AIS_EXPORT ais_stream *ais_client_create(ais_client *c, const char *url,
                                         const struct ais_options *opts);

/* Commit without closing: send what is left, make the object visible, and
 * keep the stream for ais_stats() and ais_errmsg(); ais_close() then only
 * frees it (and returns 0).  Returns 0, or -1 with errno and ais_errmsg()
 * as ais_close() would (the upload is aborted then).  Once only: a second
 * call, or ais_write() after it, fails with EBADF. */
AIS_EXPORT int ais_commit(ais_stream *s);

/* Copy len bytes into the stream; they go out in parts while the caller
 * goes on.  Returns len, or -1 with errno and ais_errmsg() (the upload's
 * failure, every time once it failed; EBADF on a read stream or after
 * commit; EINVAL for NULL).  May wait while every buffer is in flight. */
AIS_EXPORT ssize_t ais_write(ais_stream *s, const void *buf, size_t len);

/* Discard a stream and free it.  A write stream sends nothing more, and
 * its multipart upload, if it began, is aborted on the server (DELETE
 * {"action":"mpt-abort"}, best effort: a few attempts), so no part is left
 * behind and no object appears.  A read stream is simply closed.  NULL is
 * accepted. */
AIS_EXPORT void ais_abort(ais_stream *s);

/*
 * Open url as a FILE* (glibc fopencookie).  mode "r" or "rb" reads:
 * fread, fgets, getline, fseek, ftell (SEEK_SET, SEEK_CUR, SEEK_END),
 * feof, ferror and fclose work as on a file.  mode "w" or "wb" writes
 * (ais_create()): fwrite, fprintf, fputs work, ftell tells the bytes
 * written, fseek fails with ESPIPE, and fclose() commits the object,
 * returning EOF with errno set and ais_last_error() when it could not.
 * Any other mode ("a", "r+", "w+", "a+", ...) fails with EINVAL.
 * Failures set errno and ais_last_error().  Returns NULL with errno as
 * ais_open() on failure.
 */
AIS_EXPORT FILE *ais_fopen(const char *url, const char *mode);

/*
 * Wrap an open stream in a FILE*, as fdopen(3) does for a descriptor: a read
 * stream with "r" or "rb", a write stream (ais_create) with "w" or "wb".  On
 * success the FILE owns the stream: fclose() closes it, and the caller may use
 * s only for ais_stats(), ais_errmsg(), ais_size() until then.  On failure
 * (EINVAL bad mode or NULL, ENOMEM) s is left open and owned by the caller.
 */
AIS_EXPORT FILE *ais_fdopen(ais_stream *s, const char *mode);

/*
 * Clients.  Every stream belongs to a client, which owns what streams share:
 * a pool of open connections (a stream borrows one per request and gives it
 * back healthy), DNS and TLS session caches, at most `connections` worker
 * threads that fetch ahead for all its streams, and one memory budget for
 * their buffers (memory_limit).  ais_open(), ais_fopen() and
 * ais_archive_open() use a process-wide default client, created on first use
 * from the environment (AIS_CONNECTIONS, AIS_MEMORY_LIMIT) and released at
 * exit.
 *
 * A client is thread-safe: any number of threads may open, read and close
 * streams of one client at once (each stream still belongs to one thread at
 * a time).  No thread starts until a stream proves larger than its first
 * answer; threads and buffers are made as they are needed.
 *
 * fork(): a child process must not use streams or clients of its parent
 * (their threads do not exist in the child).  In the child, the default
 * client starts afresh on first use, so ais_open() there just works.
 */

/* A new client with the limits of opts (connections, memory_limit; NULL =
 * defaults and environment).  Returns NULL with errno (EINVAL, ENOMEM). */
AIS_EXPORT ais_client *ais_client_new(const struct ais_options *opts);

/* Open url on client c, as ais_open() does on the default client.  opts
 * give the stream's own settings (timeouts, read-ahead, token, headers);
 * the client's limits stay those it was made with. */
AIS_EXPORT ais_stream *ais_client_open(ais_client *c, const char *url,
                                       const struct ais_options *opts);

/* ais_fopen() on client c, for reading or writing. */
AIS_EXPORT FILE *ais_client_fopen(ais_client *c, const char *url,
                                  const char *mode);

/* Release the caller's hold on c.  Streams still open keep it alive: it is
 * freed, its threads joined and its connections closed, when the last of
 * them closes.  NULL is accepted. */
AIS_EXPORT void ais_client_free(ais_client *c);

/*
 * Where the settings of ais_open(url, opts) come from: writes text to buf,
 * one line per setting, "NAME: VALUE (SOURCE)", where SOURCE is "options",
 * the environment variable, "FIELD in PATH" of the AIStore CLI's cli.json,
 * or "default"; a first line says whether cli.json was read.  The token
 * is never written, only where it came from ("token: from
 * AIS_AUTHN_TOKEN_FILE /path").  Nothing is sent over the network.  url
 * only decides whether the AIStore CLI's files apply (an AIStore URI); NULL
 * describes the settings of ais_client_new(opts).
 *
 * As snprintf(3): at most len bytes are written, always NUL-terminated
 * when len > 0 (buf may be NULL when len is 0), and the return value is the
 * length of the whole text, so a return >= len means it was cut short.
 * Returns -1 with errno and ais_last_error() set when ais_open() would fail
 * for its settings: EINVAL (a malformed option, environment variable,
 * cli.json or token file), ENOMEM.
 */
AIS_EXPORT int ais_config_describe(const char *url,
                                   const struct ais_options *opts, char *buf,
                                   size_t len);

/* Library version string, e.g. "0.1.0". */
AIS_EXPORT const char *ais_version(void);

#ifdef __cplusplus
}
#endif

#endif /* AISFILE_H */
