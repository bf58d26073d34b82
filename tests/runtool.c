/*
 * runtool.c - run the example tools (examples/aiscat, examples/aistar,
 * examples/aisput) as a user would, with stdout and stderr captured, with
 * stderr on a terminal (a pseudo-terminal the test reads), or with stdin
 * fed from a pipe the test writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "suites.h"

extern char **environ;

const char *tool_path(const char *name)
{
	static char path[4][PATH_MAX];
	static unsigned next;
	char env[32], self[PATH_MAX - 64], *slot = path[next++ % 4];
	ssize_t n;

	/* $AISCAT, $AISTAR from make check, else beside the test binary's
	 * directory. */
	snprintf(env, sizeof(env), "%s", name);
	for (char *p = env; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	if (getenv(env))
		return getenv(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(slot, PATH_MAX, "%s/../examples/%s", self, name);
	return slot;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;

	if (!f)
		return strdup("");
	buf = malloc(1 << 20);
	len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Spawn argv with stdin from in_fd, or /dev/null when in_fd < 0, stdout to
 * DIR/tool.out and stderr to err_fd, or to DIR/tool.err when err_fd < 0.
 * Returns the pid or -1. */
static pid_t spawn_tool(char *const argv[], int in_fd, int err_fd)
{
	char out[PATH_MAX], err[PATH_MAX];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	snprintf(out, sizeof(out), "%s/tool.out", harness_dir());
	snprintf(err, sizeof(err), "%s/tool.err", harness_dir());
	posix_spawn_file_actions_init(&fa);
	if (in_fd < 0)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	else
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (err_fd < 0)
		posix_spawn_file_actions_addopen(&fa, 2, err,
		                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	else
		posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static int exit_status(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static char *tool_file(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", harness_dir(), name);
	return slurp(path);
}

struct run run_tool(char *const argv[])
{
	return finish_tool(spawn_tool(argv, -1, -1));
}

pid_t start_tool_fed(char *const argv[], int *feed)
{
	int fds[2];
	pid_t pid;

	*feed = -1;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = spawn_tool(argv, fds[0], -1);
	close(fds[0]);
	if (pid < 0)
		close(fds[1]);
	else
		*feed = fds[1];
	return pid;
}

int feed_tool(int feed, const void *data, size_t len)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
	const char *p = data;
	int rc = 0;

	/* A tool that exits early must fail the write, not kill the suite. */
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, &old);
	while (len > 0) {
		ssize_t n = write(feed, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

struct run finish_tool(pid_t pid)
{
	struct run r;

	r.status = exit_status(pid);
	r.out = tool_file("tool.out");
	r.err = tool_file("tool.err");
	return r;
}

struct run run_tool_fed(char *const argv[], const void *data, size_t len)
{
	int feed;
	pid_t pid = start_tool_fed(argv, &feed);

	if (pid >= 0) {
		feed_tool(feed, data, len);
		close(feed);
	}
	return finish_tool(pid);
}

/* What the terminal showed, read until the tool closed it. */
static char *read_terminal(int master)
{
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	ssize_t n;

	while (text && len < cap - 1 &&
	       ((n = read(master, text + len, cap - 1 - len)) > 0 ||
	        (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	if (text)
		text[len] = '\0';
	return text ? text : strdup("");
}

struct run run_tool_on_terminal(char *const argv[])
{
	struct run r = { -1, NULL, NULL };
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -1;
	const char *name;

	if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0 &&
	    (name = ptsname(master)))
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave >= 0) {
		pid_t pid = spawn_tool(argv, -1, slave);

		/* Only the tool holds the terminal now: reading ends (EIO) when
		 * it exits. */
		close(slave);
		r.err = read_terminal(master);
		r.status = exit_status(pid);
	}
	if (master >= 0)
		close(master);
	r.out = tool_file("tool.out");
	if (!r.err)
		r.err = strdup("");
	return r;
}

void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}
