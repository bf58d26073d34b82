/*
 * url.c - turn what the user wrote into the http(s) URL to GET.
 *
 *   http://HOST/PATH, https://HOST/PATH   used as given (validated)
 *   ais://BUCKET/OBJECT                   {endpoint}/v1/objects/BUCKET/OBJECT?provider=ais
 *   ais://@UUID#NS/BUCKET/OBJECT          ... &namespace=%40UUID%23NS
 *   s3:// gs:// az:// oc://               ... ?provider=aws|gcp|azure|oci
 *
 * Everything is checked before any request is made, so a bad URL costs no
 * network traffic and gives a message that says what is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char *fail_null(int err, char *msg, size_t msglen, const char *fmt,
                       const char *arg)
{
	snprintf(msg, msglen, fmt, arg);
	errno = err;
	return NULL;
}

/* Check an http(s) URL with libcurl's parser and return its normal form. */
static char *checked_http_url(const char *url, char *err, size_t errlen)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *norm = NULL, *out = NULL;
	CURLUcode rc;

	if (!h)
		return fail_null(ENOMEM, err, errlen, "out of memory%s", "");
	rc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		snprintf(err, errlen, "malformed URL '%s': %s", url,
		         curl_url_strerror(rc));
		errno = EINVAL;
		goto done;
	}
	/* An AIS endpoint comes here unchecked: ftp://HOST must not pass. */
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		fail_null(EINVAL, err, errlen, "malformed URL '%s': not http or "
		          "https", url);
		goto done;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		fail_null(EINVAL, err, errlen, "malformed URL '%s': no host", url);
		goto done;
	}
	if (curl_url_get(h, CURLUPART_URL, &norm, 0) != CURLUE_OK) {
		fail_null(EINVAL, err, errlen, "malformed URL '%s'", url);
		goto done;
	}
	out = strdup(norm);
	if (!out)
		fail_null(ENOMEM, err, errlen, "out of memory%s", "");
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(norm);
	curl_url_cleanup(h);
	return out;
}

static bool valid_bucket(const char *b, size_t len)
{
	/* "." and ".." would be resolved away as path segments. */
	if (len == 0 || len > 255 || (len <= 2 && strspn(b, ".") >= len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)b[i]) && !strchr("-_.", b[i]))
			return false;
	return true;
}

static bool is_dot_segment(const char *seg)
{
	size_t len = strcspn(seg, "/");

	return (len == 1 || len == 2) && strspn(seg, ".") >= len;
}

/* Percent-encode s; keep_slash keeps '/' so an object name stays a path,
 * with its "." and ".." segments encoded too: plain, the URL parser would
 * resolve them and ask for another object, or another API. */
static char *percent_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	bool dots = false;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (keep_slash && (p == (const unsigned char *)s || p[-1] == '/'))
			dots = is_dot_segment((const char *)p);
		if ((keep_slash && *p == '/') ||
		    (!dots && (isalnum(*p) || strchr("-._~", *p)))) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* AIStore's URI schemes and the backend provider each names. */
static const struct {
	const char *scheme; /* with "://" */
	const char *provider;
} providers[] = {
	{ "ais://", "ais" },
	{ "s3://", "aws" },
	{ "gs://", "gcp" },
	{ "az://", "azure" },
	{ "oc://", "oci" },
};

static const char *provider_of(const char *url, size_t *scheme_len)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(*providers); i++) {
		*scheme_len = strlen(providers[i].scheme);
		if (!strncasecmp(url, providers[i].scheme, *scheme_len))
			return providers[i].provider;
	}
	return NULL;
}

/* "@UUID#NS" or "#NS" before the bucket: AIStore's namespace, sent as its
 * "uname" @UUID#NS in the namespace query parameter.  Sets *rest past it. */
static char *namespace_param(const char *p, const char **rest)
{
	const char *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : strlen(p);
	char *uname, *encoded;

	*rest = p;
	if (*p != '@' && *p != '#')
		return strdup("");
	if (!memchr(p, '#', len))
		return NULL;
	*rest = p + len + (slash ? 1 : 0);
	if (asprintf(&uname, "%s%.*s", *p == '#' ? "@" : "", (int)len, p) < 0)
		return NULL;
	encoded = percent_encode(uname, false);
	free(uname);
	return encoded;
}

/* The endpoint an AIS URL goes to, in normal form: an http(s) URL with a
 * host and no query or fragment, which would swallow the API path. */
static char *checked_endpoint(const char *endpoint, const char *url,
                              char *err, size_t errlen)
{
	char *base = NULL;

	if (!endpoint)
		return fail_null(EINVAL, err, errlen,
		                 "'%s' needs the AIStore endpoint: set AIS_ENDPOINT "
		                 "(e.g. http://localhost:8080), options.endpoint, "
		                 "or cluster.url in the AIStore CLI's "
		                 "~/.config/ais/cli/cli.json", url);
	errno = EINVAL;
	if (!strpbrk(endpoint, "?#"))
		base = checked_http_url(endpoint, err, errlen);
	if (!base && errno == EINVAL)
		snprintf(err, errlen, "malformed AIS endpoint '%s' for '%s': "
		         "expected http(s)://HOST[:PORT][/PATH]", endpoint, url);
	return base;
}

static char *store_url(const char *url, const char *endpoint, char *err,
                       size_t errlen)
{
	size_t scheme_len, eplen;
	const char *provider = provider_of(url, &scheme_len);
	const char *bucket, *slash;
	char *ns, *object, *base, *full = NULL, *checked;

	ns = namespace_param(url + scheme_len, &bucket);
	if (!ns)
		return fail_null(EINVAL, err, errlen,
		                 "malformed URL '%s': a namespace is @UUID#NAME or "
		                 "#NAME before the bucket", url);
	slash = strchr(bucket, '/');
	if (!slash || !valid_bucket(bucket, (size_t)(slash - bucket))) {
		free(ns);
		snprintf(err, errlen, "malformed URL '%s': expected %.*sBUCKET/OBJECT "
		         "with a bucket name of letters, digits, '-', '_', '.'", url,
		         (int)scheme_len, url);
		errno = EINVAL;
		return NULL;
	}
	if (!slash[1]) {
		free(ns);
		return fail_null(EINVAL, err, errlen,
		                 "malformed URL '%s': no object name", url);
	}
	if (!(base = checked_endpoint(endpoint, url, err, errlen))) {
		free(ns);
		return NULL;
	}
	object = percent_encode(slash + 1, true);
	eplen = strlen(base);
	while (eplen && base[eplen - 1] == '/')
		eplen--;
	if (!object || asprintf(&full, "%.*s/v1/objects/%.*s/%s?provider=%s%s%s",
	                        (int)eplen, base, (int)(slash - bucket),
	                        bucket, object, provider,
	                        *ns ? "&namespace=" : "", ns) < 0)
		full = NULL;
	free(object);
	free(ns);
	free(base);
	if (!full)
		return fail_null(ENOMEM, err, errlen, "out of memory%s", "");
	checked = checked_http_url(full, err, errlen);
	if (!checked)
		snprintf(err, errlen, "malformed AIS endpoint '%s' for '%s'",
		         endpoint, url);
	free(full);
	return checked;
}

bool aisi_url_is_store(const char *url)
{
	size_t scheme_len;

	return url && provider_of(url, &scheme_len);
}

char *aisi_url_resolve(const char *url, const char *endpoint, char *err,
                  size_t errlen)
{
	const char *sep;
	size_t scheme_len;

	if (!url || !*url)
		return fail_null(EINVAL, err, errlen, "no URL given%s", "");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return fail_null(EINVAL, err, errlen,
			                 "malformed URL '%s': contains a control "
			                 "character", url);
	sep = strstr(url, "://");
	if (!sep)
		return fail_null(EINVAL, err, errlen,
		                 "malformed URL '%s': no scheme (use http://, "
		                 "https:// or ais://)", url);
	if (provider_of(url, &scheme_len))
		return store_url(url, endpoint, err, errlen);
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		snprintf(err, errlen, "unsupported scheme '%.*s' in '%s' (use http, "
		         "https, ais, s3, gs, az or oc)", (int)(sep - url), url, url);
		errno = EINVAL;
		return NULL;
	}
	/* An object name may hold spaces (ais:// encodes them); a URL may not. */
	if (strchr(url, ' '))
		return fail_null(EINVAL, err, errlen, "malformed URL '%s': contains "
		                 "a space (percent-encode it as %%20)", url);
	return checked_http_url(url, err, errlen);
}

bool aisi_url_is_aistore(const char *url, const char *resolved)
{
	CURLU *h = curl_url();
	char *path = NULL;
	bool is = aisi_url_is_store(url);

	if (!is && h && curl_url_set(h, CURLUPART_URL, resolved, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK)
		is = !strncmp(path, "/v1/objects/", 12);
	curl_free(path);
	curl_url_cleanup(h);
	return is;
}

/* With libcurl's parser, so that a fragment or an empty query come out
 * right. */
char *aisi_url_add_query(const char *resolved, const char *name,
                         const char *value)
{
	CURLU *h = curl_url();
	char *encoded = percent_encode(value, false), *pair = NULL;
	char *full = NULL, *out = NULL;

	if (encoded && asprintf(&pair, "%s=%s", name, encoded) < 0)
		pair = NULL;
	if (h && pair &&
	    curl_url_set(h, CURLUPART_URL, resolved, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_QUERY, pair, CURLU_APPENDQUERY) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &full, 0) == CURLUE_OK)
		out = strdup(full);
	if (!out)
		errno = ENOMEM;
	curl_free(full);
	free(pair);
	free(encoded);
	curl_url_cleanup(h);
	return out;
}
