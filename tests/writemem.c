/*
 * writemem - the memory a large write takes: WRITEMEM_SIZE bytes (default
 * 2 GiB) written with ais_write in 1 MiB pieces, with the default options,
 * as a multipart upload through the object server's gateway.  The library
 * promises at most (connections + 1) x part_size bytes of buffers whatever
 * the object's size (aisfile.h); the peak RSS of this process above its
 * baseline (once the servers run, before the first request: libcurl's and
 * OpenSSL's start-up, the threads and connections count against the
 * slack) must stay within that plus WRITEMEM_SLACK_MB (default 16).
 *
 * The peak is the kernel's VmHWM, reset after setup through
 * /proc/self/clear_refs (the harness's own object generation would hide
 * ours).  The stored object is then checked: its size, and its bytes in
 * 64 pieces spread over it.  Run by make check; exits 0 when within the
 * bound, 1 otherwise, 77 (skipped) when the peak cannot be measured (no
 * clear_refs, or a sanitizer build).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aisfile.h"
#include "harness.h"
#include "objharness.h"
#include "writing.h"

/* Sanitizers keep shadow memory and freed blocks: RSS says nothing of the
 * library there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#define PIECE (1 << 20)
#define SAMPLES 64
#define EXIT_SKIP 77

/* A field of /proc/self/status in KiB, or -1. */
static long status_kib(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kib = strtol(line + len + 1, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* Make VmHWM start again from the current RSS. */
static int reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, "5", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok && status_kib("VmHWM") <= status_kib("VmRSS") + 1024 ? 0 : -1;
}

static int upload(const char *name, uint64_t size, struct ais_stats *st,
                  double *seconds)
{
	char url[512], path[256];
	int64_t start = harness_now_ms();
	ais_stream *s;
	int rc;

	snprintf(path, sizeof(path), "wbck/%s", name);
	objsrv_url(url, sizeof(url), path);
	if (!(s = ais_create(url, NULL)))
		return fprintf(stderr, "writemem: %s\n", ais_last_error()), -1;
	rc = write_pattern(s, size, 0, 77, PIECE);
	if (rc == 0)
		rc = ais_commit(s);
	if (rc < 0)
		fprintf(stderr, "writemem: %s\n", ais_errmsg(s));
	ais_stats(s, st);
	ais_close(s);
	*seconds = (double)(harness_now_ms() - start) / 1000.0;
	return rc;
}

/* The stored object's size, and SAMPLES pieces of its bytes. */
static int stored_matches(const char *name, uint64_t size)
{
	unsigned char *buf = malloc(PIECE);
	uint64_t stored = 0;
	int ok;

	ok = buf && objsrv_pread_object("wbck", name, buf, 0, 0, &stored) == 0 && stored == size;
	for (int i = 0; ok && i < SAMPLES; i++) {
		uint64_t at = size / SAMPLES * (uint64_t)i;
		size_t n = size - at < PIECE ? (size_t)(size - at) : PIECE;

		ok = objsrv_pread_object("wbck", name, buf, n, at, NULL) == (ssize_t)n &&
		     pattern_matches(buf, n, at, 77);
	}
	free(buf);
	return ok;
}

int main(void)
{
	const char *env = getenv("WRITEMEM_SIZE"), *slack_env = getenv("WRITEMEM_SLACK_MB");
	uint64_t size = env ? strtoull(env, NULL, 0) : (uint64_t)2 << 30;
	long slack_kib = (slack_env ? atol(slack_env) : 16) * 1024;
	long bound_kib = (4 + 1) * 8 * 1024; /* defaults: 4 connections, 8 MiB parts */
	long base_kib, peak_kib;
	struct ais_stats st = { 0 };
	double seconds = 0;
	int ok;

#ifdef SANITIZED
	fprintf(stderr, "writemem: a sanitizer build: skipped\n");
	return EXIT_SKIP;
#endif
	if (harness_start() < 0 || objsrv_start() < 0)
		return 1;
	if (reset_peak() < 0) {
		fprintf(stderr, "writemem: cannot reset VmHWM: skipped\n");
		harness_stop();
		return EXIT_SKIP;
	}
	base_kib = status_kib("VmRSS");
	ok = upload("writemem.bin", size, &st, &seconds) == 0;
	peak_kib = status_kib("VmHWM");
	ok = ok && st.bytes_uploaded == size && stored_matches("writemem.bin", size);
	printf("writemem: %llu bytes in %.1f s (%.0f MB/s), %llu parts, "
	       "%llu requests, %llu resent; RSS %ld KiB before, peak %ld KiB: "
	       "+%ld KiB for a bound of %ld KiB + %ld KiB slack: %s\n",
	       (unsigned long long)size, seconds, (double)size / seconds / 1e6,
	       (unsigned long long)st.parts_uploaded,
	       (unsigned long long)st.requests, (unsigned long long)st.resumes,
	       base_kib, peak_kib, peak_kib - base_kib, bound_kib, slack_kib,
	       !ok ? "UPLOAD FAILED" :
	       peak_kib - base_kib <= bound_kib + slack_kib ? "PASS" : "FAIL");
	harness_stop();
	return ok && peak_kib - base_kib <= bound_kib + slack_kib ? 0 : 1;
}
