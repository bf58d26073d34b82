/*
 * fuzz_url.c - aisi_url_resolve() on any URL, against any endpoint.
 *
 * Input: "ENDPOINT\nURL" (a URL holds no control character, so the first
 * newline splits them), "\x01URL" for no endpoint, or just "URL" against
 * http://localhost:8080.
 *
 * Invariants: NULL comes with errno EINVAL or ENOMEM and a message;
 * otherwise the result is an http(s) URL with no control character or
 * space that resolves to itself again (after one more step when libcurl
 * decoded a percent-encoded host), and a store URL (ais://, s3://, ...)
 * names exactly the bucket, object and provider it was given: the path
 * ends in /v1/objects/BUCKET/OBJECT (OBJECT decoded) and the query is
 * provider=P[&namespace=NS], whatever the endpoint or object name holds.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *scheme;
	const char *provider;
} stores[] = {
	{ "ais://", "ais" }, { "s3://", "aws" }, { "gs://", "gcp" },
	{ "az://", "azure" }, { "oc://", "oci" },
};

static const char *store_provider(const char *url, size_t *scheme_len)
{
	for (size_t i = 0; i < sizeof(stores) / sizeof(*stores); i++) {
		*scheme_len = strlen(stores[i].scheme);
		if (!strncasecmp(url, stores[i].scheme, *scheme_len))
			return stores[i].provider;
	}
	return NULL;
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* Percent-decode s into a malloc'd buffer (a "%00" in the endpoint's part
 * decodes to a NUL: *len counts it). */
static char *decode(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	assert(out);
	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			*o++ = (char)(hexval((unsigned char)s[1]) * 16 +
			              hexval((unsigned char)s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	return n >= t && !memcmp(s + n - t, tail, t);
}

/* The request a store URL resolved to asks for bucket/object at provider. */
static void check_store_url(const char *url, size_t scheme_len,
                            const char *provider, const char *out)
{
	const char *bucket = url + scheme_len, *slash;
	char *path = NULL, *query = NULL, *fragment = NULL, *want, *decoded;
	size_t len;
	CURLU *h = curl_url();

	if (*bucket == '@' || *bucket == '#') /* a namespace first */
		bucket = strchr(bucket, '/') + 1;
	slash = strchr(bucket, '/');
	assert(slash && slash[1]);
	assert(h && curl_url_set(h, CURLUPART_URL, out, 0) == CURLUE_OK);
	assert(curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK);
	assert(curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK);
	assert(curl_url_get(h, CURLUPART_FRAGMENT, &fragment, 0) ==
	       CURLUE_NO_FRAGMENT);
	assert(asprintf(&want, "/v1/objects/%.*s/%s", (int)(slash - bucket),
	                bucket, slash + 1) > 0);
	decoded = decode(path, &len);
	assert(ends_with(decoded, len, want));
	assert(!strncmp(query, "provider=", 9));
	assert(!strncmp(query + 9, provider, strlen(provider)));
	assert(query[9 + strlen(provider)] == '\0' ||
	       !strncmp(query + 9 + strlen(provider), "&namespace=", 11));
	free(decoded);
	free(want);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(h);
}

static void check_resolved(const char *url, const char *endpoint,
                           const char *out)
{
	char err[256], *again;
	size_t scheme_len;
	const char *provider = store_provider(url, &scheme_len);

	assert(!strncmp(out, "http://", 7) || !strncmp(out, "https://", 8));
	for (const char *p = out; *p; p++)
		assert((unsigned char)*p > ' ' && *p != 0x7f);
	/* The result is a URL of its own normal form, but for libcurl
	 * decoding a host ("8%2e0" becomes "8.0", which then reads as the
	 * IPv4 address 8.0.0.0): that settles in one more step. */
	again = aisi_url_resolve(out, endpoint, err, sizeof(err));
	assert(again);
	if (strcmp(again, out)) {
		char *third = aisi_url_resolve(again, endpoint, err, sizeof(err));

		assert(strchr(url, '%') || (endpoint && strchr(endpoint, '%')));
		assert(third && !strcmp(third, again));
		free(third);
	}
	free(again);
	if (provider) {
		assert(endpoint);
		check_store_url(url, scheme_len, provider, out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1), *url, *nl, err[256];
	const char *endpoint = "http://localhost:8080";
	char *out;

	assert(input);
	memcpy(input, data, size);
	input[size] = '\0';
	url = input;
	if (*url == '\x01') {
		endpoint = NULL;
		url++;
	} else if ((nl = strchr(url, '\n'))) {
		*nl = '\0';
		endpoint = url;
		url = nl + 1;
	}
	memset(err, 'x', sizeof(err));
	errno = 0;
	out = aisi_url_resolve(url, endpoint, err, sizeof(err));
	if (!out) {
		assert(errno == EINVAL || errno == ENOMEM);
		assert(memchr(err, '\0', sizeof(err)) && err[0] != '\0');
	} else {
		check_resolved(url, endpoint, out);
		free(out);
	}
	free(input);
	return 0;
}
