/*
 * aiscli.c - read what the AIStore CLI keeps for its user: cli.json (the
 * cluster's URL and TLS settings) and the AuthN token file that `ais auth
 * login` writes, both JSON, parsed with json-c.
 *
 * The rules follow NVIDIA/aistore: the directory is $HOME/.config/ais/cli
 * (cmn/cos.HomeConfigDir with cmn/fname.HomeCLI; the CLI honours no
 * override), cli.json is plain JSON (cmd/cli/config/config.go, Config), and
 * a token file is plain JSON {"token": "..."} (api/authn.TokenMsg, written by
 * jsp.Save with jsp.Plain()).  As Go's decoder does, members it does not
 * know are ignored, null is the same as absent, and a member of the wrong
 * type is an error.  A file that is not what the CLI writes is reported with
 * its path and what is wrong with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "internal.h"

/* Far above what the CLI writes (a cli.json of 1-2 KiB, a token of a few
 * KiB); anything larger is not one of its files. */
#define FILE_MAX (1 << 20)

static int fail(int err, char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int err, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

char *aisi_cli_path(const char *name)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096], *path;

	/* Go's cos.HomeDir() asks the passwd entry first; $HOME first is what
	 * the CLI's documentation says and what C programs do.  They differ
	 * only when HOME was changed on purpose. */
	if ((!home || *home != '/') &&
	    getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
		home = found->pw_dir;
	if (!home || *home != '/') {
		errno = ENOENT;
		return NULL;
	}
	if (asprintf(&path, "%s/.config/ais/cli/%s", home, name) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return path;
}

/* The whole file in *text (malloc'd, NUL-terminated, *len bytes before the
 * NUL).  Returns 0, or -1 with errno (ENOENT kept for "no such file") and a
 * message. */
static int read_file(const char *path, const char *label, char **text,
                     size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *why = NULL;
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	ssize_t n = 1;

	*text = NULL;
	if (fd < 0) {
		int e = errno == ENOTDIR ? ENOENT : errno;

		return fail(e == ENOENT ? ENOENT : EINVAL, err, errlen,
		            "%s '%s': %s", label, path, strerror(e));
	}
	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > FILE_MAX)
		why = "larger than 1 MiB";
	if (why) {
		close(fd);
		return fail(EINVAL, err, errlen, "%s '%s': %s", label, path, why);
	}
	buf = malloc((size_t)st.st_size + 2);
	/* Read to the end, not to st_size: the file may be growing. */
	while (buf && used <= (size_t)st.st_size && n > 0) {
		n = read(fd, buf + used, (size_t)st.st_size + 1 - used);
		if (n < 0 && errno == EINTR)
			n = 1;
		else if (n > 0)
			used += (size_t)n;
	}
	close(fd);
	if (!buf)
		return fail(ENOMEM, err, errlen, "out of memory");
	if (n < 0 || used > (size_t)st.st_size) {
		int e = errno;

		explicit_bzero(buf, used);
		free(buf);
		return fail(EINVAL, err, errlen, "%s '%s': %s", label, path,
		            n < 0 ? strerror(e) : "changed while being read");
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
}

/* Index of the first byte from i on that is not JSON white space. */
static size_t skip_space(const char *text, size_t i, size_t len)
{
	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
	                   text[i] == '\r' || text[i] == '\n'))
		i++;
	return i;
}

/* The JSON object the text holds, and nothing else but white space. */
static json_object *parse_object(const char *text, size_t len,
                                 const char *label, const char *path,
                                 char *err, size_t errlen)
{
	json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	json_object *obj;
	size_t end;

	if (!tok) {
		fail(ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	/* Trailing bytes are judged below, to say what they are. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	                       JSON_TOKENER_ALLOW_TRAILING_CHARS);
	obj = len > (size_t)FILE_MAX ? NULL :
	      json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj) {
		if (len > (size_t)FILE_MAX)
			fail(EINVAL, err, errlen, "%s '%s': larger than 1 MiB",
			     label, path);
		else if (skip_space(text, 0, len) == len)
			fail(EINVAL, err, errlen, "%s '%s': empty", label, path);
		else if (jerr == json_tokener_continue)
			fail(EINVAL, err, errlen, "%s '%s': not JSON: it ends "
			     "inside a value", label, path);
		else
			fail(EINVAL, err, errlen, "%s '%s': not JSON: %s at byte %zu",
			     label, path, json_tokener_error_desc(jerr), end);
		return NULL;
	}
	end = skip_space(text, end, len);
	if (end < len || !json_object_is_type(obj, json_type_object)) {
		fail(EINVAL, err, errlen, end < len ? "%s '%s': not JSON: more "
		     "after the value at byte %zu" : "%s '%s': not a JSON object",
		     label, path, end);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* Member key of obj as an owned string in *out: NULL when absent, null or
 * "".  field names it in messages.  Returns 0, or -1 with errno. */
static int get_string(json_object *obj, const char *key, const char *field,
                      const char *path, char **out, char *err, size_t errlen)
{
	json_object *v;
	const char *s;
	size_t len;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(EINVAL, err, errlen, "AIStore CLI config '%s': %s is "
		            "not a string", path, field);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return fail(EINVAL, err, errlen, "AIStore CLI config '%s': %s "
		            "holds a NUL character", path, field);
	if (len && !(*out = strdup(s)))
		return fail(ENOMEM, err, errlen, "out of memory");
	return 0;
}

static int read_cluster(struct cli_config *out, json_object *cluster,
                        const char *path, char *err, size_t errlen)
{
	char *host = NULL;
	json_object *v;

	if (get_string(cluster, "url", "cluster.url", path, &out->endpoint,
	               err, errlen) < 0 ||
	    get_string(cluster, "default_ais_host", "cluster.default_ais_host",
	               path, &host, err, errlen) < 0 ||
	    get_string(cluster, "client_ca_tls", "cluster.client_ca_tls", path,
	               &out->ca_file, err, errlen) < 0 ||
	    get_string(cluster, "client_crt", "cluster.client_crt", path,
	               &out->cert_file, err, errlen) < 0 ||
	    get_string(cluster, "client_crt_key", "cluster.client_crt_key", path,
	               &out->key_file, err, errlen) < 0) {
		free(host);
		return -1;
	}
	/* The CLI's getClusterEndpoint(): cluster.url, and when that is
	 * empty (after a Docker probe we do not make) default_ais_host. */
	out->endpoint_field = "cluster.url";
	if (!out->endpoint) {
		out->endpoint = host;
		out->endpoint_field = "cluster.default_ais_host";
		host = NULL;
	}
	free(host);
	if (!json_object_object_get_ex(cluster, "skip_verify_crt", &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(EINVAL, err, errlen, "AIStore CLI config '%s': "
		            "cluster.skip_verify_crt is not true or false", path);
	out->skip_verify = json_object_get_boolean(v);
	out->has_skip_verify = true;
	return 0;
}

int aisi_cli_config_parse(struct cli_config *out, const char *text,
                          size_t len, const char *path, char *err,
                          size_t errlen)
{
	json_object *root, *cluster;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	root = parse_object(text, len, "AIStore CLI config", path, err, errlen);
	if (!root)
		return -1;
	if (json_object_object_get_ex(root, "cluster", &cluster) && cluster) {
		if (!json_object_is_type(cluster, json_type_object))
			rc = fail(EINVAL, err, errlen, "AIStore CLI config '%s': "
			          "cluster is not a JSON object", path);
		else
			rc = read_cluster(out, cluster, path, err, errlen);
	}
	json_object_put(root);
	if (rc < 0) {
		int e = errno;

		aisi_cli_config_release(out);
		errno = e;
	}
	return rc;
}

int aisi_cli_config_load(struct cli_config *out, const char *path, char *err,
                         size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (read_file(path, "AIStore CLI config", &text, &len, err, errlen) < 0)
		return errno == ENOENT ? 0 : -1;
	rc = aisi_cli_config_parse(out, text, len, path, err, errlen);
	free(text);
	return rc < 0 ? -1 : 1;
}

void aisi_cli_config_release(struct cli_config *c)
{
	free(c->endpoint);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	memset(c, 0, sizeof(*c));
}

static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return true;
	return false;
}

char *aisi_token_parse(const char *text, size_t len, const char *label,
                       const char *path, char *err, size_t errlen)
{
	json_object *root = parse_object(text, len, label, path, err, errlen);
	json_object *v;
	const char *problem = NULL;
	char *token = NULL;

	if (!root)
		return NULL;
	if (!json_object_object_get_ex(root, "token", &v) || !v)
		problem = "no {\"token\": \"...\"} in it";
	else if (!json_object_is_type(v, json_type_string))
		problem = "\"token\" is not a string";
	else if (json_object_get_string_len(v) == 0)
		problem = "\"token\" is empty";
	else if (has_control(json_object_get_string(v),
	                     (size_t)json_object_get_string_len(v)))
		problem = "the token holds a control character";
	if (problem)
		fail(EINVAL, err, errlen, "%s '%s': %s", label, path, problem);
	else if (!(token = strdup(json_object_get_string(v))))
		fail(ENOMEM, err, errlen, "out of memory");
	/* Wipe json-c's copy of it; its tokener's scratch buffer is freed
	 * as it is. */
	if (v && json_object_is_type(v, json_type_string))
		explicit_bzero((char *)json_object_get_string(v),
		               (size_t)json_object_get_string_len(v));
	json_object_put(root);
	return token;
}

char *aisi_token_load(const char *path, const char *label, char *err,
                      size_t errlen)
{
	char *text, *token;
	size_t len;

	if (read_file(path, label, &text, &len, err, errlen) < 0)
		return NULL;
	token = aisi_token_parse(text, len, label, path, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return token;
}
