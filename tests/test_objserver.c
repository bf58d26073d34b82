/*
 * test_objserver.c - the object server the write tests will run against
 * (tests/objserver, through objharness.h), checked on its own with libcurl
 * and raw sockets: what it stores is what was sent, byte for byte; ranges,
 * validators and errors look as AIStore's do; the gateway redirects; a
 * multipart upload completes, aborts and fails cleanly; its faults fire
 * once; and a request cut short changes nothing.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "objharness.h"
#include "suites.h"

/* What one request got. */
struct answer {
	CURLcode code;          /* CURLE_OK when an answer came */
	long status;
	unsigned char *body;    /* malloc'd, NUL-terminated */
	size_t len;
	long redirects;
	long new_connections;
	curl_off_t content_length;
	char etag[80];
	char version[32];
	char cksum_type[32];
	char cksum[32];
	char content_range[80];
	char content_type[80];
	char location[512];
};

/* A request body: its bytes, and where curl is in them. */
struct body {
	const unsigned char *data;
	size_t len;
	size_t at;
};

/* One handle for the suite, so that requests reuse connections. */
static CURL *curl;

/* ---- test data ----------------------------------------------------------------------- */

/* size deterministic pseudo-random bytes from seed (splitmix64). */
static unsigned char *make_bytes(size_t size, uint64_t seed)
{
	unsigned char *out = malloc(size ? size : 1);

	for (size_t i = 0; out && i < size; i++) {
		uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));

		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		out[i] = (unsigned char)(z ^ (z >> 31));
	}
	return out;
}

/* A bucket/object name no other test uses: "wbck/NAME-COUNTER". */
static const char *fresh_name(const char *name)
{
	static unsigned counter;
	char *out = url_slot();

	snprintf(out, URL_SLOT_SIZE, "wbck/%s-%u", name, ++counter);
	return out;
}

static const char *via_gateway(const char *bucket_obj, const char *query)
{
	char *out = url_slot();

	objsrv_url(out, URL_SLOT_SIZE, bucket_obj);
	strncat(out, query, URL_SLOT_SIZE - strlen(out) - 1);
	return out;
}

static const char *on_target(int target, const char *bucket_obj, const char *query)
{
	char *out = url_slot();

	objsrv_target_url(out, URL_SLOT_SIZE, target, bucket_obj);
	strncat(out, query, URL_SLOT_SIZE - strlen(out) - 1);
	return out;
}

/* ---- requests with libcurl --------------------------------------------------------------- */

static size_t keep_body(char *data, size_t size, size_t count, void *arg)
{
	struct answer *a = arg;
	unsigned char *bigger = realloc(a->body, a->len + size * count + 1);

	if (!bigger)
		return 0;
	a->body = bigger;
	memcpy(a->body + a->len, data, size * count);
	a->len += size * count;
	a->body[a->len] = '\0';
	return size * count;
}

static void copy_header(char *out, size_t n, const char *line, size_t len, const char *name)
{
	size_t name_len = strlen(name);

	if (len <= name_len + 1 || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
		return;
	line += name_len + 1;
	len -= name_len + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, n, "%.*s", (int)len, line);
}

/* The headers of the last response (a redirect's are forgotten). */
static size_t keep_header(char *line, size_t size, size_t count, void *arg)
{
	struct answer *a = arg;
	size_t len = size * count;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		a->etag[0] = a->version[0] = a->cksum_type[0] = a->cksum[0] = '\0';
		a->content_range[0] = a->content_type[0] = a->location[0] = '\0';
	}
	copy_header(a->etag, sizeof(a->etag), line, len, "ETag");
	copy_header(a->version, sizeof(a->version), line, len, "Ais-Version");
	copy_header(a->cksum_type, sizeof(a->cksum_type), line, len, "Ais-Checksum-Type");
	copy_header(a->cksum, sizeof(a->cksum), line, len, "Ais-Checksum-Value");
	copy_header(a->content_range, sizeof(a->content_range), line, len, "Content-Range");
	copy_header(a->content_type, sizeof(a->content_type), line, len, "Content-Type");
	copy_header(a->location, sizeof(a->location), line, len, "Location");
	return len;
}

static size_t send_body(char *out, size_t size, size_t count, void *arg)
{
	struct body *b = arg;
	size_t n = size * count < b->len - b->at ? size * count : b->len - b->at;

	memcpy(out, b->data + b->at, n);
	b->at += n;
	return n;
}

/* Following a 307 sends the body again from its start. */
static int rewind_body(void *arg, curl_off_t offset, int origin)
{
	struct body *b = arg;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > b->len)
		return CURL_SEEKFUNC_FAIL;
	b->at = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

struct request {
	const char *method;
	const char *url;
	const void *body;       /* PUT, POST, DELETE: sent as the request body */
	size_t len;
	bool chunked;           /* PUT: Transfer-Encoding: chunked */
	const char *range;      /* "10-19" */
	bool follow;            /* follow redirects, 307 with method and body */
};

static void perform(const struct request *r, struct answer *a)
{
	struct body b = { r->body, r->len, 0 };
	struct curl_slist *headers = NULL;

	memset(a, 0, sizeof(*a));
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, r->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
	if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, send_body);
		curl_easy_setopt(curl, CURLOPT_READDATA, &b);
		curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, rewind_body);
		curl_easy_setopt(curl, CURLOPT_SEEKDATA, &b);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
				 r->chunked ? (curl_off_t)-1 : (curl_off_t)r->len);
	} else if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	}
	if (r->range)
		curl_easy_setopt(curl, CURLOPT_RANGE, r->range);
	if (r->follow) {
		curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
		curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
	}
	a->code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(curl, CURLINFO_REDIRECT_COUNT, &a->redirects);
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &a->new_connections);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &a->content_length);
	curl_slist_free_all(headers);
	if (a->code != CURLE_OK)
		a->status = 0;
}

static bool body_has(const struct answer *a, const char *needle)
{
	return a->body && strstr((const char *)a->body, needle);
}

static void answer_free(struct answer *a)
{
	free(a->body);
	a->body = NULL;
}

/* method url (following redirects) with body; the status, or 0 when no
 * answer came. */
static long call(const char *method, const char *url, const void *body, size_t len)
{
	struct request r = { method, url, body, len, false, NULL, true };
	struct answer a;

	perform(&r, &a);
	answer_free(&a);
	return a.status;
}

static void expect_status(long got, long want, const char *what)
{
	CU_ASSERT_EQUAL(got, want);
	if (got != want)
		fprintf(stderr, "\n  %s: status %ld, expected %ld\n", what, got, want);
}

/* PUT size pseudo-random bytes from seed to url, expecting 200: the bytes,
 * for the caller to compare with and free. */
static unsigned char *put_object(const char *url, size_t size, uint64_t seed)
{
	unsigned char *data = make_bytes(size, seed);

	expect_status(call("PUT", url, data, size), 200, "PUT");
	return data;
}

/* ---- multipart steps, through the gateway ------------------------------------------------ */

/* POST mpt-upload: the upload ID in id. */
static void start_upload(const char *bucket_obj, char *id, size_t n)
{
	static const char msg[] = "{\"action\":\"mpt-upload\"}";
	struct request r = { "POST", via_gateway(bucket_obj, ""), msg, sizeof(msg) - 1,
			     false, NULL, true };
	struct answer a;

	perform(&r, &a);
	expect_status(a.status, 200, "mpt-upload");
	CU_ASSERT_EQUAL(a.redirects, 1);
	snprintf(id, n, "%s", a.body ? (char *)a.body : "");
	CU_ASSERT(strlen(id) > 0);
	answer_free(&a);
}

static long put_part(const char *bucket_obj, const char *id, int part, const void *data,
		     size_t len, bool chunked)
{
	char query[192];
	struct request r = { "PUT", NULL, data, len, chunked, NULL, true };
	struct answer a;

	snprintf(query, sizeof(query), "&uploadId=%s&partNumber=%d", id, part);
	r.url = via_gateway(bucket_obj, query);
	perform(&r, &a);
	answer_free(&a);
	return a.status;
}

/* POST mpt-complete listing parts[0..count) in that order. */
static long complete_upload(const char *bucket_obj, const char *id, const int *parts, size_t count)
{
	char msg[1024], query[160];
	size_t used;

	used = (size_t)snprintf(msg, sizeof(msg), "{\"action\":\"mpt-complete\",\"value\":[");
	for (size_t i = 0; i < count; i++)
		used += (size_t)snprintf(msg + used, sizeof(msg) - used,
					 "%s{\"part-number\":%d,\"etag\":\"\"}", i ? "," : "", parts[i]);
	snprintf(msg + used, sizeof(msg) - used, "]}");
	snprintf(query, sizeof(query), "&uploadId=%s", id);
	return call("POST", via_gateway(bucket_obj, query), msg, strlen(msg));
}

static long abort_upload(const char *bucket_obj, const char *id)
{
	static const char msg[] = "{\"action\":\"mpt-abort\"}";
	char query[160];

	snprintf(query, sizeof(query), "&uploadId=%s", id);
	return call("DELETE", via_gateway(bucket_obj, query), msg, sizeof(msg) - 1);
}

/* The object's bytes through the gateway equal want[0..len), and so does
 * the file in the store. */
static void assert_stored(const char *bucket_obj, const unsigned char *want, size_t len)
{
	struct request r = { "GET", via_gateway(bucket_obj, ""), NULL, 0, false, NULL, true };
	const char *slash = strchr(bucket_obj, '/');
	char bucket[64];
	unsigned char *on_disk;
	size_t disk_len = 0;
	struct answer a;

	perform(&r, &a);
	expect_status(a.status, 200, "GET the object");
	CU_ASSERT_EQUAL(a.len, len);
	CU_ASSERT(a.len == len && (len == 0 || memcmp(a.body, want, len) == 0));
	answer_free(&a);
	snprintf(bucket, sizeof(bucket), "%.*s", (int)(slash - bucket_obj), bucket_obj);
	on_disk = objsrv_read_object(bucket, slash + 1, &disk_len);
	CU_ASSERT_PTR_NOT_NULL(on_disk);
	CU_ASSERT(on_disk && disk_len == len && (len == 0 || memcmp(on_disk, want, len) == 0));
	free(on_disk);
}

static void assert_no_object(const char *bucket_obj)
{
	const char *slash = strchr(bucket_obj, '/');
	char bucket[64];
	size_t len;
	unsigned char *on_disk;

	expect_status(call("GET", via_gateway(bucket_obj, ""), NULL, 0), 404, "GET a missing object");
	snprintf(bucket, sizeof(bucket), "%.*s", (int)(slash - bucket_obj), bucket_obj);
	on_disk = objsrv_read_object(bucket, slash + 1, &len);
	CU_ASSERT_PTR_NULL(on_disk);
	free(on_disk);
}

/* ---- raw sockets, for what curl will not send ------------------------------------------- */

static int connect_to(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read into out (NUL-terminated) until stop appears, the peer closes, or
 * 5 s pass; the bytes read. */
static size_t read_until(int fd, char *out, size_t n, const char *stop)
{
	size_t used = 0;

	out[0] = '\0';
	while (used + 1 < n && !(stop && strstr(out, stop))) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&pfd, 1, 5000) <= 0)
			break;
		got = recv(fd, out + used, n - 1 - used, 0);
		if (got <= 0)
			break;
		used += (size_t)got;
		out[used] = '\0';
	}
	return used;
}

/* Send request to target 0 and read the answer until the server closes;
 * the status of its status line, or 0. */
static int raw_status(const char *request, size_t len)
{
	char reply[4096];
	int fd = connect_to(objsrv_port(0)), status = 0;

	if (fd < 0)
		return 0;
	if (send(fd, request, len, MSG_NOSIGNAL) == (ssize_t)len &&
	    read_until(fd, reply, sizeof(reply), NULL) > 12)
		sscanf(reply, "HTTP/1.1 %d", &status);
	close(fd);
	return status;
}

static void expect_raw_status(const char *request, int want)
{
	int got = raw_status(request, strlen(request));

	CU_ASSERT_EQUAL(got, want);
	if (got != want)
		fprintf(stderr, "\n  %.40s...: status %d, expected %d\n", request, got, want);
}

/* ---- plain objects ---------------------------------------------------------------------------- */

static void test_put_then_get_is_byte_exact_with_checksum(void)
{
	const char *name = fresh_name("plain");
	size_t len = (3 << 20) + 17; /* over 1 MiB: curl asks for 100 Continue */
	unsigned char *data = make_bytes(len, 1);
	struct request r = { "PUT", on_target(0, name, ""), data, len, false, NULL, false };
	struct answer a;
	char want[32];

	perform(&r, &a);
	expect_status(a.status, 200, "PUT");
	answer_free(&a);
	r = (struct request){ "GET", on_target(1, name, ""), NULL, 0, false, NULL, false };
	perform(&r, &a);
	expect_status(a.status, 200, "GET");
	CU_ASSERT(a.len == len && memcmp(a.body, data, len) == 0);
	snprintf(want, sizeof(want), "%016" PRIx64, (uint64_t)XXH64(data, len, 0));
	CU_ASSERT_STRING_EQUAL(a.cksum_type, "xxhash2");
	CU_ASSERT_STRING_EQUAL(a.cksum, want);
	CU_ASSERT_STRING_EQUAL(a.version, "1");
	CU_ASSERT(a.etag[0] == '"' && a.etag[strlen(a.etag) - 1] == '"');
	answer_free(&a);
	assert_stored(name, data, len);
	free(data);
}

static void test_chunked_put_is_stored_whole(void)
{
	const char *name = fresh_name("chunked");
	size_t len = 300 * 1024 + 3;
	unsigned char *data = make_bytes(len, 2);
	struct request r = { "PUT", on_target(0, name, ""), data, len, true, NULL, false };
	struct answer a;

	perform(&r, &a);
	expect_status(a.status, 200, "chunked PUT");
	answer_free(&a);
	assert_stored(name, data, len);
	free(data);
}

static void test_names_are_stored_byte_exact_after_decoding(void)
{
	static const char encoded[] = "wbck/dir%20one/sub/a%2Bb%25c.bin";
	unsigned char *data = put_object(on_target(0, encoded, ""), 1000, 3), *on_disk;
	size_t len = 0;

	on_disk = objsrv_read_object("wbck", "dir one/sub/a+b%c.bin", &len);
	CU_ASSERT(on_disk && len == 1000 && memcmp(on_disk, data, len) == 0);
	free(on_disk);
	free(data);
}

/* GET with Range range gets status, Content-Range content_range and bytes
 * [from, from + len) of data. */
static void expect_range(const char *url, const char *range, long status,
			 const char *content_range, const unsigned char *want, size_t len)
{
	struct request r = { "GET", url, NULL, 0, false, range, false };
	struct answer a;

	perform(&r, &a);
	expect_status(a.status, status, range);
	CU_ASSERT_STRING_EQUAL(a.content_range, content_range);
	if (status == 206)
		CU_ASSERT(a.len == len && memcmp(a.body, want, len) == 0);
	answer_free(&a);
}

static void test_ranges_are_206_with_content_range(void)
{
	const char *url = on_target(0, fresh_name("ranges"), "");
	unsigned char *data = put_object(url, 100000, 4);

	expect_range(url, "10-19", 206, "bytes 10-19/100000", data + 10, 10);
	expect_range(url, "99990-", 206, "bytes 99990-99999/100000", data + 99990, 10);
	expect_range(url, "-5", 206, "bytes 99995-99999/100000", data + 99995, 5);
	expect_range(url, "99990-200000", 206, "bytes 99990-99999/100000", data + 99990, 10);
	expect_range(url, "-200000", 206, "bytes 0-99999/100000", data, 100000);
	free(data);
}

static void test_unsatisfiable_range_is_416_with_size(void)
{
	const char *url = on_target(0, fresh_name("416"), "");
	unsigned char *data = put_object(url, 100000, 5);

	expect_range(url, "100000-", 416, "bytes */100000", NULL, 0);
	expect_range(url, "-0", 416, "bytes */100000", NULL, 0);
	free(data);
}

static void test_head_gives_size_and_the_validators_of_get(void)
{
	const char *url = on_target(0, fresh_name("head"), "");
	unsigned char *data = put_object(url, 12345, 6);
	struct request r = { "HEAD", url, NULL, 0, false, NULL, false };
	struct answer head, get;

	perform(&r, &head);
	r.method = "GET";
	perform(&r, &get);
	expect_status(head.status, 200, "HEAD");
	CU_ASSERT_EQUAL(head.content_length, 12345);
	CU_ASSERT_EQUAL(head.len, 0);
	CU_ASSERT_STRING_EQUAL(head.etag, get.etag);
	CU_ASSERT_STRING_EQUAL(head.version, get.version);
	CU_ASSERT_STRING_EQUAL(head.cksum, get.cksum);
	answer_free(&head);
	answer_free(&get);
	free(data);
}

static void test_second_put_is_a_new_version(void)
{
	const char *name = fresh_name("versions");
	unsigned char *first = make_bytes(5000, 7), *second = make_bytes(5000, 8);
	struct request r = { "PUT", on_target(0, name, ""), first, 5000, false, NULL, false };
	struct answer a, b;

	perform(&r, &a);
	r.body = second;
	perform(&r, &b);
	expect_status(b.status, 200, "second PUT");
	CU_ASSERT_STRING_EQUAL(a.version, "1");
	CU_ASSERT_STRING_EQUAL(b.version, "2");
	CU_ASSERT_STRING_NOT_EQUAL(a.etag, b.etag);
	answer_free(&a);
	answer_free(&b);
	assert_stored(name, second, 5000);
	free(first);
	free(second);
}

static void test_missing_object_is_404_with_aistore_json(void)
{
	struct request r = { "GET", via_gateway(fresh_name("missing"), ""), NULL, 0, false, NULL, true };
	struct answer a;

	perform(&r, &a);
	expect_status(a.status, 404, "GET missing");
	CU_ASSERT_STRING_EQUAL(a.content_type, "application/json");
	CU_ASSERT(body_has(&a, "\"status\":404"));
	CU_ASSERT(body_has(&a, "does not exist"));
	CU_ASSERT(body_has(&a, "\"node\":\"t["));
	answer_free(&a);
}

static void test_delete_removes_the_object(void)
{
	const char *name = fresh_name("delete");

	expect_status(call("PUT", via_gateway(name, ""), "x", 1), 200, "PUT");
	expect_status(call("DELETE", via_gateway(name, ""), NULL, 0), 200, "DELETE");
	assert_no_object(name);
	expect_status(call("DELETE", via_gateway(name, ""), NULL, 0), 404, "DELETE again");
}

/* ---- the gateway ---------------------------------------------------------------------------- */

/* Where the gateway sends method for name, without following it. */
static void redirect_of(const char *method, const char *name, long *status, char *location,
			size_t n)
{
	struct request r = { method, via_gateway(name, "&uploadId=x"), "{}", 2, false, NULL, false };
	struct answer a;

	perform(&r, &a);
	*status = a.status;
	snprintf(location, n, "%s", a.location);
	answer_free(&a);
}

static void test_gateway_redirects_get_301_and_the_rest_307(void)
{
	const char *name = fresh_name("redirect");
	const char *methods[] = { "PUT", "POST", "DELETE", "HEAD" };
	char get[512], other[512];
	long status;

	/* To one of the targets, same path and query ... */
	redirect_of("GET", name, &status, get, sizeof(get));
	expect_status(status, 301, "GET via the gateway");
	CU_ASSERT(strcmp(get, on_target(0, name, "&uploadId=x")) == 0 ||
		  strcmp(get, on_target(1, name, "&uploadId=x")) == 0);
	/* ... and always to the same one for an object. */
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		redirect_of(methods[i], name, &status, other, sizeof(other));
		expect_status(status, 307, methods[i]);
		CU_ASSERT_STRING_EQUAL(other, get);
	}
}

/* ---- multipart ------------------------------------------------------------------------------ */

static void test_multipart_upload_through_the_gateway(void)
{
	const char *name = fresh_name("multipart");
	size_t sizes[] = { (2 << 20) + 5, 300 * 1024, 1000 }, total = 0;
	static const int reversed[] = { 3, 2, 1 };
	unsigned char *parts[3], *whole;
	char id[128];

	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	start_upload(name, id, sizeof(id));
	for (int i = 0; i < 3; i++) {
		parts[i] = make_bytes(sizes[i], 10 + (uint64_t)i);
		/* Part 2 chunked, part 1 big enough for 100 Continue. */
		expect_status(put_part(name, id, i + 1, parts[i], sizes[i], i == 1), 200, "part");
		total += sizes[i];
	}
	CU_ASSERT_EQUAL(objsrv_leftovers(), 1 + 3);
	expect_status(complete_upload(name, id, reversed, 3), 200, "mpt-complete");
	whole = malloc(total);
	for (size_t i = 0, at = 0; i < 3; at += sizes[i], i++)
		memcpy(whole + at, parts[i], sizes[i]);
	assert_stored(name, whole, total);
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	CU_ASSERT_EQUAL(objsrv_stat("mpt-upload"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("part"), 3);
	CU_ASSERT_EQUAL(objsrv_stat("part-retry"), 0);
	CU_ASSERT_EQUAL(objsrv_stat("complete"), 1);
	for (int i = 0; i < 3; i++)
		free(parts[i]);
	free(whole);
}

static void test_resent_part_replaces_the_first(void)
{
	const char *name = fresh_name("resend");
	unsigned char *first = make_bytes(4000, 20), *second = make_bytes(4000, 21);
	static const int one[] = { 1 };
	char id[128];

	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	start_upload(name, id, sizeof(id));
	expect_status(put_part(name, id, 1, first, 4000, false), 200, "part 1");
	expect_status(put_part(name, id, 1, second, 4000, false), 200, "part 1 again");
	expect_status(complete_upload(name, id, one, 1), 200, "mpt-complete");
	assert_stored(name, second, 4000);
	CU_ASSERT_EQUAL(objsrv_stat("part"), 2);
	CU_ASSERT_EQUAL(objsrv_stat("part-retry"), 1);
	free(first);
	free(second);
}

static void test_abort_leaves_nothing_behind(void)
{
	const char *name = fresh_name("abort");
	unsigned char *data = make_bytes(70000, 30);
	char id[128];

	start_upload(name, id, sizeof(id));
	expect_status(put_part(name, id, 1, data, 70000, false), 200, "part 1");
	expect_status(put_part(name, id, 2, data, 70000, false), 200, "part 2");
	expect_status(abort_upload(name, id), 200, "mpt-abort");
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	expect_status(put_part(name, id, 3, data, 100, false), 404, "part after abort");
	expect_status(abort_upload(name, id), 404, "abort again");
	assert_no_object(name);
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	free(data);
}

static void test_complete_with_a_missing_part_commits_nothing(void)
{
	const char *name = fresh_name("missing-part");
	unsigned char *data = make_bytes(1000, 40);
	static const int listed[] = { 1, 2, 3 };
	struct request r = { "POST", NULL, NULL, 0, false, NULL, true };
	struct answer a;
	char id[128], query[160], msg[256];

	start_upload(name, id, sizeof(id));
	expect_status(put_part(name, id, 1, data, 1000, false), 200, "part 1");
	expect_status(put_part(name, id, 3, data, 1000, false), 200, "part 3");
	snprintf(query, sizeof(query), "&uploadId=%s", id);
	snprintf(msg, sizeof(msg), "{\"action\":\"mpt-complete\",\"value\":[{\"part-number\":1},"
		 "{\"part-number\":2},{\"part-number\":3}]}");
	r.url = via_gateway(name, query);
	r.body = msg;
	r.len = strlen(msg);
	perform(&r, &a);
	expect_status(a.status, 400, "mpt-complete without part 2");
	CU_ASSERT_STRING_EQUAL(a.content_type, "application/json");
	CU_ASSERT(body_has(&a, "part 2"));
	answer_free(&a);
	assert_no_object(name);
	/* The upload is still there to retry or abort. */
	CU_ASSERT_EQUAL(objsrv_leftovers(), 1 + 2);
	expect_status(complete_upload(name, id, listed, 3), 400, "again");
	expect_status(abort_upload(name, id), 200, "mpt-abort");
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	free(data);
}

static void test_unknown_upload_is_404(void)
{
	const char *name = fresh_name("unknown");
	static const int one[] = { 1 };

	expect_status(put_part(name, "0123456789abcdef", 1, "x", 1, false), 404, "part");
	expect_status(complete_upload(name, "0123456789abcdef", one, 1), 404, "complete");
	expect_status(put_part(name, "..", 1, "x", 1, false), 400, "part of upload ..");
}

/* ---- faults --------------------------------------------------------------------------------- */

static void test_503_fault_fires_once(void)
{
	const char *name = fresh_name("fault503");
	unsigned char *data = make_bytes(2 * 50000, 50);
	static const int both[] = { 1, 2 };
	char id[128];

	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	start_upload(name, id, sizeof(id));
	CU_ASSERT_EQUAL_FATAL(objsrv_fault("part", 2, "503", -1), 0);
	expect_status(put_part(name, id, 1, data, 50000, false), 200, "part 1");
	expect_status(put_part(name, id, 2, data + 50000, 50000, false), 503, "part 2");
	expect_status(put_part(name, id, 2, data + 50000, 50000, false), 200, "part 2 again");
	expect_status(complete_upload(name, id, both, 2), 200, "mpt-complete");
	assert_stored(name, data, 2 * 50000);
	CU_ASSERT_EQUAL(objsrv_stat("fault-503"), 1);
	CU_ASSERT_EQUAL(objsrv_stat("part-retry"), 1);
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	free(data);
}

static void test_cut_fault_fires_once_and_leaves_no_temp_file(void)
{
	const char *name = fresh_name("faultcut");
	size_t len = 200000;
	unsigned char *data = make_bytes(len, 60);
	static const int one[] = { 1 };
	char id[128];

	CU_ASSERT_EQUAL_FATAL(objsrv_reset(), 0);
	start_upload(name, id, sizeof(id));
	CU_ASSERT_EQUAL_FATAL(objsrv_fault("part", 1, "cut", 1000), 0);
	expect_status(put_part(name, id, 1, data, len, false), 0, "cut part 1");
	CU_ASSERT_EQUAL(objsrv_leftovers(), 1); /* the upload, no part, no temp file */
	expect_status(put_part(name, id, 1, data, len, false), 200, "part 1 again");
	expect_status(complete_upload(name, id, one, 1), 200, "mpt-complete");
	assert_stored(name, data, len);
	CU_ASSERT_EQUAL(objsrv_stat("fault-cut"), 1);
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	free(data);
}

/* Poll (at most 5 s) until target 0's log has a line containing needle. */
static bool target_logged(const char *needle)
{
	for (int i = 0; i < 500; i++) {
		char *log = objsrv_log(0);
		bool found = log && strstr(log, needle);

		free(log);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_put_cut_by_the_client_keeps_the_old_object(void)
{
	const char *name = fresh_name("client-cut");
	unsigned char *old = put_object(on_target(0, name, ""), 50000, 70);
	unsigned char *partial = make_bytes(25000, 71);
	char head[512], line[256];
	int fd;

	snprintf(head, sizeof(head), "PUT /v1/objects/%s?provider=ais HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Content-Length: 50000\r\n\r\n", name);
	fd = connect_to(objsrv_port(0));
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
	CU_ASSERT(send(fd, partial, 25000, MSG_NOSIGNAL) == 25000);
	close(fd);
	snprintf(line, sizeof(line), "PUT /v1/objects/%s?provider=ais HTTP/1.1|-|25000|499", name);
	CU_ASSERT(target_logged(line));
	assert_stored(name, old, 50000);
	CU_ASSERT_EQUAL(objsrv_leftovers(), 0);
	free(old);
	free(partial);
}

/* ---- HTTP ----------------------------------------------------------------------------------- */

static void test_malformed_requests_are_refused(void)
{
	char big[20000];

	expect_raw_status("HELLO\r\n\r\n", 400);
	expect_raw_status("GET /v1/objects/wbck/x HTTP/1.1\r\n\r\n", 400); /* no Host */
	expect_raw_status("GET /v1/objects/wbck/x HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	expect_raw_status("PUT /v1/objects/wbck/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
			  "Transfer-Encoding: chunked\r\n\r\nabc", 400);
	expect_raw_status("PUT /v1/objects/wbck/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
			  "Content-Length: 4\r\n\r\nabcd", 400);
	expect_raw_status("PUT /v1/objects/wbck/x HTTP/1.1\r\nHost: h\r\n"
			  "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400);
	expect_raw_status("GET /v1/objects/wbck/x HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
	snprintf(big, sizeof(big), "GET /v1/objects/wbck/x HTTP/1.1\r\nHost: h\r\nX-Big: %*s\r\n\r\n",
		 18000, "");
	expect_raw_status(big, 431);
}

static void test_names_that_would_escape_the_store_are_400(void)
{
	expect_raw_status("GET /v1/objects/wbck/a/../../../etc/passwd HTTP/1.1\r\nHost: h\r\n"
			  "Connection: close\r\n\r\n", 400);
	expect_raw_status("PUT /v1/objects/wbck/%2e%2e/x HTTP/1.1\r\nHost: h\r\n"
			  "Content-Length: 0\r\nConnection: close\r\n\r\n", 400);
	expect_raw_status("GET /v1/objects/.objserver/state HTTP/1.1\r\nHost: h\r\n"
			  "Connection: close\r\n\r\n", 400);
	expect_raw_status("GET /v1/objects/wbck/a%00b HTTP/1.1\r\nHost: h\r\n"
			  "Connection: close\r\n\r\n", 400);
}

static void test_expect_100_continue_is_answered_before_the_body(void)
{
	const char *name = fresh_name("expect");
	char head[512], reply[2048];
	int fd = connect_to(objsrv_port(0));

	CU_ASSERT_FATAL(fd >= 0);
	snprintf(head, sizeof(head), "PUT /v1/objects/%s?provider=ais HTTP/1.1\r\nHost: h\r\n"
		 "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", name);
	CU_ASSERT(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
	read_until(fd, reply, sizeof(reply), "\r\n\r\n");
	CU_ASSERT_STRING_EQUAL(reply, "HTTP/1.1 100 Continue\r\n\r\n");
	CU_ASSERT(send(fd, "hello", 5, MSG_NOSIGNAL) == 5);
	read_until(fd, reply, sizeof(reply), "\r\n\r\n");
	CU_ASSERT_EQUAL(strncmp(reply, "HTTP/1.1 200 ", 13), 0);
	close(fd);
	assert_stored(name, (const unsigned char *)"hello", 5);
}

static void test_requests_reuse_one_connection(void)
{
	const char *name = fresh_name("keepalive");
	struct request r = { "GET", on_target(0, name, ""), NULL, 0, false, NULL, false };
	struct answer a;

	expect_status(call("PUT", on_target(0, name, ""), "abc", 3), 200, "PUT");
	perform(&r, &a);
	answer_free(&a);
	perform(&r, &a);
	expect_status(a.status, 200, "second GET");
	CU_ASSERT_EQUAL(a.new_connections, 0);
	answer_free(&a);
}

/* ---- the harness ---------------------------------------------------------------------------- */

static void test_restarted_servers_keep_committed_objects(void)
{
	const char *name = fresh_name("restart");
	unsigned char *data = put_object(via_gateway(name, ""), 10000, 80);

	CU_ASSERT_EQUAL(objsrv_kill(), 0);
	expect_status(call("GET", via_gateway(name, ""), NULL, 0), 0, "GET while killed");
	CU_ASSERT_EQUAL_FATAL(objsrv_restart(), 0);
	assert_stored(name, data, 10000);
	CU_ASSERT_EQUAL(objsrv_kill_target(0), 0);
	CU_ASSERT_EQUAL_FATAL(objsrv_restart(), 0);
	assert_stored(name, data, 10000);
	free(data);
}

static int objserver_init(void)
{
	if (objsrv_start() < 0)
		return -1;
	curl = curl ? curl : curl_easy_init();
	return curl ? 0 : -1;
}

int register_objserver_suite(void)
{
	static const struct test_case tests[] = {
		{ "PUT then GET is byte-exact with its checksum",
		  test_put_then_get_is_byte_exact_with_checksum },
		{ "chunked PUT is stored whole", test_chunked_put_is_stored_whole },
		{ "names are stored byte-exact after decoding",
		  test_names_are_stored_byte_exact_after_decoding },
		{ "ranges are 206 with Content-Range", test_ranges_are_206_with_content_range },
		{ "unsatisfiable range is 416 with the size",
		  test_unsatisfiable_range_is_416_with_size },
		{ "HEAD gives the size and the validators of GET",
		  test_head_gives_size_and_the_validators_of_get },
		{ "a second PUT is a new version", test_second_put_is_a_new_version },
		{ "missing object is 404 with AIStore's JSON",
		  test_missing_object_is_404_with_aistore_json },
		{ "DELETE removes the object", test_delete_removes_the_object },
		{ "gateway redirects GET with 301 and the rest with 307",
		  test_gateway_redirects_get_301_and_the_rest_307 },
		{ "multipart upload through the gateway",
		  test_multipart_upload_through_the_gateway },
		{ "a resent part replaces the first", test_resent_part_replaces_the_first },
		{ "abort leaves nothing behind", test_abort_leaves_nothing_behind },
		{ "complete with a missing part commits nothing",
		  test_complete_with_a_missing_part_commits_nothing },
		{ "unknown upload is 404", test_unknown_upload_is_404 },
		{ "503 fault fires once", test_503_fault_fires_once },
		{ "cut fault fires once and leaves no temp file",
		  test_cut_fault_fires_once_and_leaves_no_temp_file },
		{ "PUT cut by the client keeps the old object",
		  test_put_cut_by_the_client_keeps_the_old_object },
		{ "malformed requests are refused", test_malformed_requests_are_refused },
		{ "names that would escape the store are 400",
		  test_names_that_would_escape_the_store_are_400 },
		{ "Expect: 100-continue is answered before the body",
		  test_expect_100_continue_is_answered_before_the_body },
		{ "requests reuse one connection", test_requests_reuse_one_connection },
		{ "restarted servers keep committed objects",
		  test_restarted_servers_keep_committed_objects },
		{ NULL, NULL },
	};

	return add_suite_with_init("object server", objserver_init, tests);
}
