/*
 * objserver_state.c - the counters and one-shot faults of tests/objserver.
 * Every node of a cluster counts into, and arms faults in, one file in the
 * shared store (.objserver/state), read and written under its flock, so
 * that "the Nth part PUT" means the Nth the cluster got, whichever target
 * got it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "objserver.h"

#define FAULT_SLOTS 16
#define STATE_MAGIC UINT64_C(0x6f626a7374617465) /* "objstate" */

const char *const counter_names[COUNTERS] = {
	[COUNT_MPT_UPLOAD] = "mpt-upload", [COUNT_PART] = "part", [COUNT_COMPLETE] = "complete",
	[COUNT_ABORT] = "abort", [COUNT_PUT] = "put", [COUNT_GET] = "get", [COUNT_HEAD] = "head",
	[COUNT_DELETE] = "delete", [COUNT_PART_RETRY] = "part-retry",
	[COUNT_REDIRECT] = "redirect", [COUNT_FAULT_503] = "fault-503",
	[COUNT_FAULT_CUT] = "fault-cut",
};

/* The order /_ctl/stats prints them in. */
static const enum counter stats_order[COUNTERS] = {
	COUNT_MPT_UPLOAD, COUNT_PART, COUNT_PART_RETRY, COUNT_COMPLETE, COUNT_ABORT,
	COUNT_PUT, COUNT_GET, COUNT_HEAD, COUNT_DELETE, COUNT_REDIRECT,
	COUNT_FAULT_503, COUNT_FAULT_CUT,
};

struct armed_fault {
	uint32_t kind;
	uint32_t action;     /* enum fault_action; FAULT_NONE: a free slot */
	uint64_t countdown;  /* requests of kind until it fires, this one included */
	uint64_t cut_after;
};

/* The content of .objserver/state. */
struct shared_state {
	uint64_t magic;
	uint64_t counters[COUNTERS];
	struct armed_fault faults[FAULT_SLOTS];
};

/* Lock the state file and read it (zeroed if new): the fd, or -1. */
static int state_load(const struct store *s, struct shared_state *state)
{
	int fd = store_lock(s, "state", LOCK_EX);

	if (fd < 0)
		return -1;
	if (pread(fd, state, sizeof(*state), 0) != (ssize_t)sizeof(*state) ||
	    state->magic != STATE_MAGIC) {
		memset(state, 0, sizeof(*state));
		state->magic = STATE_MAGIC;
	}
	return fd;
}

/* Write the state back and unlock it: 0 or -1. */
static int state_store(int fd, const struct shared_state *state)
{
	int rc = pwrite(fd, state, sizeof(*state), 0) == (ssize_t)sizeof(*state) ? 0 : -1;

	close(fd);
	return rc;
}

struct fault_hit state_count(struct store *s, enum counter kind, bool retry)
{
	struct fault_hit hit = { FAULT_NONE, 0 };
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return hit;
	state.counters[kind]++;
	if (retry)
		state.counters[COUNT_PART_RETRY]++;
	for (int i = 0; i < FAULT_SLOTS; i++) {
		struct armed_fault *f = &state.faults[i];

		if (f->action == FAULT_NONE || f->kind != (uint32_t)kind)
			continue;
		/* Two faults due on one request: the second waits for the next. */
		if (--f->countdown > 0 || hit.action != FAULT_NONE) {
			f->countdown += f->countdown == 0;
			continue;
		}
		hit.action = (enum fault_action)f->action;
		hit.cut_after = f->cut_after;
		state.counters[hit.action == FAULT_503 ? COUNT_FAULT_503 : COUNT_FAULT_CUT]++;
		memset(f, 0, sizeof(*f));
	}
	state_store(fd, &state);
	return hit;
}

int state_arm_fault(struct store *s, enum counter kind, uint64_t nth, enum fault_action action,
		    uint64_t cut_after, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	for (int i = 0; i < FAULT_SLOTS; i++) {
		if (state.faults[i].action != FAULT_NONE)
			continue;
		state.faults[i] = (struct armed_fault){ (uint32_t)kind, action, nth, cut_after };
		return state_store(fd, &state) == 0 ? 0 : reply_fail(e, 500, "write the state: %s",
								       strerror(errno));
	}
	close(fd);
	return reply_fail(e, 409, "all %d fault slots are armed", FAULT_SLOTS);
}

int state_reset(struct store *s, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	memset(state.counters, 0, sizeof(state.counters));
	memset(state.faults, 0, sizeof(state.faults));
	return state_store(fd, &state) == 0 ? 0 : reply_fail(e, 500, "write the state: %s",
							       strerror(errno));
}

int state_format(struct store *s, char *out, size_t n, struct reply_error *e)
{
	struct shared_state state;
	int fd = state_load(s, &state);
	size_t used = 0;

	if (fd < 0)
		return reply_fail(e, 500, "lock the state: %s", strerror(errno));
	close(fd);
	for (int i = 0; i < COUNTERS && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%s=%" PRIu64, i ? " " : "",
					 counter_names[stats_order[i]], state.counters[stats_order[i]]);
	if (used + 1 < n)
		out[used++] = '\n', out[used] = '\0';
	return 0;
}
