/*
 * benchserver.c - this project's own test servers (tests/objserver,
 * tests/faultproxy) as the benchmarks' subprocesses, and one plain HTTP
 * request to any server on 127.0.0.1.  See benchutil.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

#define SERVER_READY_TIMEOUT_MS 10000
#define POLL_INTERVAL_MS 10

/* ---- one HTTP request ------------------------------------------------------- */

static int connect_loopback(int port, long timeout_ms)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval timeout = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int bench_http_request(int port, const char *method, const char *path, long timeout_ms,
		       char *body, size_t n)
{
	char reply[8192], request[1024];
	size_t got = 0;
	int len, status = -1, fd = connect_loopback(port, timeout_ms);
	const char *end;

	if (body && n)
		body[0] = '\0';
	if (fd < 0)
		return -1;
	len = snprintf(request, sizeof(request), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		       "Content-Length: 0\r\nConnection: close\r\n\r\n", method, path, port);
	if (len > 0 && (size_t)len < sizeof(request) &&
	    send(fd, request, (size_t)len, MSG_NOSIGNAL) == len) {
		for (;;) {
			ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

			if (r <= 0)
				break;
			got += (size_t)r;
			if (got == sizeof(reply) - 1)
				break;
		}
	}
	close(fd);
	reply[got] = '\0';
	if (got >= 12 && strncmp(reply, "HTTP/1.", 7) == 0 && reply[8] == ' ')
		status = atoi(reply + 9);
	end = strstr(reply, "\r\n\r\n");
	if (status > 0 && body && n && end)
		snprintf(body, n, "%s", end + 4);
	return status;
}

/* ---- finding a program -------------------------------------------------------- */

void bench_find_program(char *out, const char *env_var, const char *target)
{
	const char *env = getenv(env_var);
	char exe[PATH_MAX], dir[PATH_MAX], relative[PATH_MAX];
	ssize_t len;

	if (env && *env) {
		if (access(env, X_OK) < 0)
			bench_die("%s=%s: %s", env_var, env, strerror(errno));
		snprintf(out, PATH_MAX, "%s", env);
		return;
	}
	/* The benchmarks are linked with -no-install: /proc/self/exe is
	 * bench/PROGRAM in the build tree, not a libtool wrapper. */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = '\0';
		bench_dir_of(dir, exe);
		snprintf(relative, sizeof(relative), "../%s", target);
		if (bench_path_join(out, dir, relative) == 0 && access(out, X_OK) == 0)
			return;
	}
	bench_die("%s not found next to this program; build it (make %s) or set %s",
		  target, target, env_var);
}

/* ---- servers ---------------------------------------------------------------------- */

static void show_output(const struct bench_server *s)
{
	char text[4096];

	if (bench_read_text(s->out, text, sizeof(text)) > 0)
		fprintf(stderr, "---- %s output ----\n%s", s->name, text);
}

/* The port the server printed as its first line, once the line is whole. */
static int printed_port(const struct bench_server *s)
{
	char text[64];
	char *end;
	long port;

	if (bench_read_text(s->out, text, sizeof(text)) <= 0 || strchr(text, '\n') == NULL)
		return -1;
	port = strtol(text, &end, 10);
	return *end == '\n' && port > 0 && port < 65536 ? (int)port : -1;
}

void bench_server_start(struct bench_server *s, const char *name, char *const argv[])
{
	double deadline = bench_now() + SERVER_READY_TIMEOUT_MS / 1000.0;
	char file[64];
	int status;
	pid_t pid;

	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(file, sizeof(file), "%s.out", name);
	if (bench_path_join(s->out, bench_ctx.workdir, file) < 0)
		bench_die("work dir path too long: %s", bench_ctx.workdir);
	unlink(s->out);
	s->port = -1;
	bench_spawn_server(&s->pid, argv, s->out);
	pid = s->pid;
	/* Both servers print the port once they listen: no probe needed. */
	while ((s->port = printed_port(s)) < 0) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s->pid = 0;
			show_output(s);
			bench_die("%s (%s) exited before it printed its port", name, argv[0]);
		}
		if (bench_now() > deadline) {
			bench_server_stop(s);
			show_output(s);
			bench_die("%s did not print its port within %d ms", name,
				  SERVER_READY_TIMEOUT_MS);
		}
		bench_sleep_ms(POLL_INTERVAL_MS);
	}
	fprintf(stderr, "%s: %d listens on 127.0.0.1:%d\n", name, (int)pid, s->port);
}

void bench_server_stop(struct bench_server *s)
{
	bench_terminate(&s->pid);
}
