/*
 * error.c - the one place that records a failure: errno, the stream's own
 * message, and the calling thread's last message (for callers that only hold
 * a FILE*).
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

static __thread char thread_last_error[AIS_ERRMSG_MAX];

static int ais_failv(struct ais_stream *s, int err, const char *fmt,
                     va_list ap)
{
	vsnprintf(thread_last_error, sizeof(thread_last_error), fmt, ap);
	if (s)
		snprintf(aisi_stream_errbuf(s), AIS_ERRMSG_MAX, "%s",
		         thread_last_error);
	errno = err;
	return -1;
}

int aisi_fail(struct ais_stream *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ais_failv(s, err, fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

AIS_EXPORT const char *ais_last_error(void)
{
	return thread_last_error;
}

int64_t aisi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void aisi_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
