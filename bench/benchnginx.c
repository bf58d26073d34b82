/*
 * benchnginx.c - Debian's nginx for the benchmarks: a generated config on a
 * free 127.0.0.1 port, a bounded wait until it answers, stop, and what its
 * access log shows.  See benchutil.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define NGINX_READY_TIMEOUT_MS 10000
#define NGINX_BIND_ATTEMPTS 5
#define PROBE_TIMEOUT_MS 200
#define POLL_INTERVAL_MS 20

static int free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

static void nginx_paths(struct bench_nginx *n, const char *name)
{
	static const char *const suffixes[] = { ".conf", "-error.log", ".out", "-access.log" };
	char *const paths[] = { n->conf, n->error_log, n->out, n->access_log };
	char file[64];

	snprintf(n->name, sizeof(n->name), "%s", name);
	for (size_t i = 0; i < COUNT_OF(paths); i++) {
		snprintf(file, sizeof(file), "%s%s", name, suffixes[i]);
		if (bench_path_join(paths[i], bench_ctx.workdir, file) < 0)
			bench_die("work dir path too long: %s", bench_ctx.workdir);
	}
}

/* One process in the foreground (the pid we fork is nginx itself), every
 * file it writes inside the work dir; the servers come from write_servers. */
static void write_nginx_conf(const struct bench_nginx *n, bench_nginx_servers write_servers,
			     void *arg)
{
	const char *d = bench_ctx.workdir;
	FILE *f = fopen(n->conf, "we");

	if (f == NULL)
		bench_die("create %s: %s", n->conf, strerror(errno));
	fprintf(f, "daemon off;\nmaster_process off;\n");
	if (geteuid() == 0)
		fprintf(f, "user root;\n");
	fprintf(f,
		"pid %s/%s.pid;\n"
		"lock_file %s/%s.lock;\n"
		"error_log %s warn;\n"
		"events { worker_connections 1024; }\n"
		"http {\n"
		"\taccess_log off;\n"
		"\tlog_format bench '$connection|$request|$http_range|$status|$body_bytes_sent';\n"
		"\tclient_body_temp_path %s/nginx-tmp/client_body;\n"
		"\tproxy_temp_path %s/nginx-tmp/proxy;\n"
		"\tfastcgi_temp_path %s/nginx-tmp/fastcgi;\n"
		"\tuwsgi_temp_path %s/nginx-tmp/uwsgi;\n"
		"\tscgi_temp_path %s/nginx-tmp/scgi;\n"
		"\tdefault_type application/octet-stream;\n"
		"\tsendfile on;\n"
		"\tkeepalive_timeout 60;\n"
		"\tkeepalive_requests 100000;\n",
		d, n->name, d, n->name, n->error_log, d, d, d, d, d);
	write_servers(f, n, arg);
	fprintf(f, "}\n");
	if (fclose(f) != 0)
		bench_die("write %s: %s", n->conf, strerror(errno));
}

static void spawn_nginx(struct bench_nginx *n)
{
	char prefix[PATH_MAX + 1];
	char *argv[] = { (char *)bench_ctx.nginx_binary, "-p", prefix, "-e", n->error_log,
			 "-c", n->conf, NULL };

	snprintf(prefix, sizeof(prefix), "%s/", bench_ctx.workdir);
	bench_spawn_server(&n->pid, argv, n->out);
}

bool bench_nginx_answers(const struct bench_nginx *n)
{
	return bench_http_request(n->port, "GET", "/ready", PROBE_TIMEOUT_MS, NULL, 0) == 200;
}

enum nginx_outcome { NGINX_READY, NGINX_PORT_TAKEN, NGINX_FAILED };

/* Poll until nginx answers, exits, or the time is up.  A taken port shows in
 * the error log at once, though nginx itself retries bind() for 2.5 s. */
static enum nginx_outcome wait_for_nginx(struct bench_nginx *n)
{
	double deadline = bench_now() + NGINX_READY_TIMEOUT_MS / 1000.0;
	char log[8192];
	int status;

	for (;;) {
		bool taken = bench_read_text(n->error_log, log, sizeof(log)) > 0 &&
			     strstr(log, "Address already in use") != NULL;

		if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			n->pid = 0;
			return taken ? NGINX_PORT_TAKEN : NGINX_FAILED;
		}
		if (taken) {
			bench_nginx_stop(n);
			return NGINX_PORT_TAKEN;
		}
		if (bench_nginx_answers(n))
			return NGINX_READY;
		if (bench_now() > deadline) {
			bench_nginx_stop(n);
			return NGINX_FAILED;
		}
		bench_sleep_ms(POLL_INTERVAL_MS);
	}
}

void bench_nginx_start(struct bench_nginx *n, const char *name,
		       bench_nginx_servers write_servers, void *arg)
{
	char log[4096];

	if (access(bench_ctx.nginx_binary, X_OK) < 0)
		bench_die("nginx %s: %s (install nginx, or set NGINX)", bench_ctx.nginx_binary,
			  strerror(errno));
	nginx_paths(n, name);
	for (int attempt = 0; attempt < NGINX_BIND_ATTEMPTS; attempt++) {
		n->port = free_port();
		if (n->port < 0)
			bench_die("no free port: %s", strerror(errno));
		write_nginx_conf(n, write_servers, arg);
		unlink(n->error_log);
		spawn_nginx(n);
		switch (wait_for_nginx(n)) {
		case NGINX_READY:
			fprintf(stderr, "%s: nginx %d listens on 127.0.0.1:%d\n", n->name,
				(int)n->pid, n->port);
			return;
		case NGINX_PORT_TAKEN:
			continue;
		case NGINX_FAILED:
			if (bench_read_text(n->error_log, log, sizeof(log)) > 0)
				fprintf(stderr, "%s", log);
			if (bench_read_text(n->out, log, sizeof(log)) > 0)
				fprintf(stderr, "%s", log);
			bench_die("%s: nginx did not answer GET /ready within %d ms", n->name,
				  NGINX_READY_TIMEOUT_MS);
		}
	}
	bench_die("%s: nginx could not bind a free port in %d attempts", n->name,
		  NGINX_BIND_ATTEMPTS);
}

void bench_nginx_stop(struct bench_nginx *n)
{
	bench_terminate(&n->pid);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* How many distinct values ids holds (sorted in place). */
static uint64_t count_distinct(uint64_t *ids, size_t n)
{
	uint64_t distinct = 0;

	qsort(ids, n, sizeof(ids[0]), compare_u64);
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || ids[i] != ids[i - 1];
	return distinct;
}

/* Wait, bounded, until nginx answers a probe. */
static int settle(const struct bench_nginx *n)
{
	double deadline = bench_now() + NGINX_READY_TIMEOUT_MS / 1000.0;

	while (!bench_nginx_answers(n)) {
		if (bench_now() > deadline)
			return bench_fail("%s: nginx did not answer GET /ready within %d ms", n->name,
					  NGINX_READY_TIMEOUT_MS);
		bench_sleep_ms(POLL_INTERVAL_MS);
	}
	return 0;
}

/* Where the next phase's lines begin: after every line of a request whose
 * connection closed before (a killed run's too), so the log is settled
 * first; a failure to settle shows in the count that follows. */
off_t bench_nginx_log_mark(const struct bench_nginx *n)
{
	struct stat st;

	settle(n);
	return stat(n->access_log, &st) == 0 ? st.st_size : 0;
}

/* One line of format "bench": "$connection|$request|$http_range|$status|
 * $body_bytes_sent". */
int bench_nginx_log_count(const struct bench_nginx *n, off_t mark, struct bench_log_counts *out)
{
	uint64_t *ids = NULL;
	size_t count = 0, cap = 0, len = 0;
	char *line = NULL;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (settle(n) < 0)
		return -1;
	f = fopen(n->access_log, "re");
	if (f == NULL || fseeko(f, mark, SEEK_SET) < 0) {
		if (f)
			fclose(f);
		return bench_fail("read %s: %s", n->access_log, strerror(errno));
	}
	while (getline(&line, &len, f) > 0) {
		char *request = strchr(line, '|'), *bytes = strrchr(line, '|');

		if (request == NULL || strncmp(request + 1, "GET /ready ", 11) == 0)
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 256;
			ids = realloc(ids, cap * sizeof(*ids));
			if (ids == NULL)
				bench_die("out of memory");
		}
		ids[count++] = strtoull(line, NULL, 10);
		out->body_bytes += strtoull(bytes + 1, NULL, 10);
	}
	out->requests = count;
	out->connections = count_distinct(ids, count);
	free(ids);
	free(line);
	fclose(f);
	return 0;
}
