/*
 * soak_plan.c - one soak run, drawn from its seed alone, so that
 * SOAK_SEED=<run seed> SOAK_RUNS=1 draws the same run again.
 */
#include <stdio.h>
#include <string.h>

#include "soak.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Faults per run, at most.  Each failing action is one failed attempt; with
 * the default budget of 8 consecutive failures a run never plans to run out
 * of retries, so an EIO is the library's doing, not the plan's. */
#define MAX_FAULTS 6
#define MAX_FAILING_ACTIONS 7
/* A cut this early lands in the response head or the first body bytes. */
#define HEAD_REGION 1500

uint64_t soak_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t between(uint64_t *rng, uint64_t low, uint64_t high)
{
	return low + soak_random(rng) % (high - low + 1);
}

static bool chance(uint64_t *rng, unsigned percent)
{
	return soak_random(rng) % 100 < percent;
}

static long pick_long(uint64_t *rng, const long *values, size_t n)
{
	return values[soak_random(rng) % n];
}

static void pick_options(struct soak_plan *plan, uint64_t *rng)
{
	static const long connections[] = { 1, 4, 8 };
	static const long readahead[] = { -1, 0, 16 * MIB };	/* off, 64 MiB, 16 MiB */
	static const long part_sizes[] = { 0, 1 * MIB, 4 * MIB, 16 * MIB };
	static const long chunk_sizes[] = { 0, 64 * KIB, 1 * MIB };
	static const long read_sizes[] = { 4096, 65536, 1 * MIB, 0 };
	struct ais_options *o = &plan->options;

	*o = (struct ais_options)AIS_OPTIONS_INIT;
	o->connect_timeout_ms = 2000;
	o->read_timeout_ms = 500;	/* a stall costs half a second */
	o->backoff_initial_ms = 10;
	o->backoff_max_ms = 200;
	o->retry_time_ms = 30000;
	o->connections = (int)pick_long(rng, connections, COUNT_OF(connections));
	o->readahead_bytes = pick_long(rng, readahead, COUNT_OF(readahead));
	o->part_size = (size_t)pick_long(rng, part_sizes, COUNT_OF(part_sizes));
	o->chunk_size = (size_t)pick_long(rng, chunk_sizes, COUNT_OF(chunk_sizes));
	plan->read_size = (size_t)pick_long(rng, read_sizes, COUNT_OF(read_sizes));
	if (plan->read_size == 0)
		plan->read_size = (size_t)between(rng, 1, 300000);
}

static void append(char *schedule, const char *action)
{
	size_t used = strlen(schedule);

	snprintf(schedule + used, SOAK_SCHEDULE_MAX - used, "%s%s",
	         used ? "," : "", action);
}

static bool parallel(const struct soak_plan *plan)
{
	return plan->options.readahead_bytes >= 0 && plan->options.connections > 1;
}

/* Bytes one connection is likely to carry: the whole object when one
 * connection reads it, about a share of it when parts run in parallel. */
static uint64_t connection_span(const struct soak_plan *plan)
{
	return plan->object->size / (uint64_t)(parallel(plan) ? plan->options.connections : 1);
}

static uint64_t fault_offset(const struct soak_plan *plan, uint64_t *rng)
{
	if (chance(rng, 15))
		return between(rng, 0, HEAD_REGION);
	return between(rng, 0, connection_span(plan));
}

/* One fault; returns the failed attempts it costs (norange costs none). */
static int append_fault(struct soak_plan *plan, uint64_t *rng, int failing_left)
{
	unsigned kind = (unsigned)(soak_random(rng) % 100);
	char action[48];

	if (kind < 25 || kind >= 85) {
		snprintf(action, sizeof action, "%s:%llu", kind < 25 ? "cut" : "reset",
		         (unsigned long long)fault_offset(plan, rng));
	} else if (kind < 45) {
		snprintf(action, sizeof action, "stall:%llu",
		         (unsigned long long)fault_offset(plan, rng));
	} else if (kind < 65) {
		int burst = (int)between(rng, 1, 3);

		if (burst > failing_left)
			burst = failing_left;
		for (int i = 1; i < burst; i++)
			append(plan->schedule, "503");
		append(plan->schedule, "503");
		return burst;
	} else {
		/* A 200 to the first request is a server without Range, which
		 * the stream then reads in one piece; a later one is the lie. */
		if (plan->schedule[0] == '\0')
			append(plan->schedule, "pass");
		append(plan->schedule, "norange");
		return 0;
	}
	append(plan->schedule, action);
	return 1;
}

static void pick_faults(struct soak_plan *plan, uint64_t *rng)
{
	int wanted = chance(rng, 10) ? 0 : (int)between(rng, 1, MAX_FAULTS);
	int failing_left = MAX_FAILING_ACTIONS;

	plan->schedule[0] = '\0';
	for (plan->faults = 0; plan->faults < wanted && failing_left > 0; plan->faults++) {
		/* With parts in parallel, some connections pass first, so
		 * faults also hit later parts. */
		int gap = parallel(plan) && chance(rng, 30) ? (int)between(rng, 1, 2) : 0;

		for (; gap > 0; gap--)
			append(plan->schedule, "pass");
		failing_left -= append_fault(plan, rng, failing_left);
	}
	if (plan->schedule[0] == '\0')
		append(plan->schedule, "pass");
	plan->version_switch = chance(rng, 25);
	if (plan->version_switch) {
		plan->switch_at = between(rng, 0, plan->object->size - 1);
		plan->switch_seed = (unsigned)soak_random(rng);
	}
}

void soak_plan_run(struct soak_plan *plan, uint64_t seed,
                   const struct soak_object *objects, size_t object_count)
{
	uint64_t rng = seed;
	const struct soak_object *tar = NULL;

	memset(plan, 0, sizeof(*plan));
	plan->seed = seed;
	plan->path = (enum soak_path)(soak_random(&rng) % 3);
	plan->library_opens = chance(&rng, 30);
	for (size_t i = 0; i < object_count; i++)
		if (objects[i].is_tar)
			tar = &objects[i];
	if (plan->path == SOAK_ARCHIVE && tar)
		plan->object = tar;
	else
		plan->object = &objects[soak_random(&rng) % object_count];
	if (plan->path == SOAK_ARCHIVE && !plan->object->is_tar)
		plan->path = SOAK_NEXT;
	pick_options(plan, &rng);
	/* ais_fopen takes its settings from the environment, which has no
	 * chunk size (soak_read() sets the rest). */
	if (plan->path == SOAK_FREAD && plan->library_opens)
		plan->options.chunk_size = 0;
	pick_faults(plan, &rng);
}

static void format_size(char *out, size_t n, long bytes)
{
	if (bytes > 0 && bytes % (long)MIB == 0)
		snprintf(out, n, "%ldM", bytes / (long)MIB);
	else if (bytes > 0 && bytes % (long)KIB == 0)
		snprintf(out, n, "%ldK", bytes / (long)KIB);
	else
		snprintf(out, n, bytes ? "%ld" : "def", bytes);
}

void soak_describe_plan(const struct soak_plan *plan, char *out, size_t n)
{
	static const char *const path_names[][2] = {
		[SOAK_NEXT] = { "next", "next" },
		[SOAK_FREAD] = { "fread/fdopen", "fread/fopen" },
		[SOAK_ARCHIVE] = { "archive/callbacks", "archive/archive_open" },
	};
	const struct ais_options *o = &plan->options;
	char part[24], chunk[24], readahead[24], read_size[24];

	format_size(part, sizeof part, (long)o->part_size);
	format_size(chunk, sizeof chunk, (long)o->chunk_size);
	format_size(read_size, sizeof read_size, (long)plan->read_size);
	if (o->readahead_bytes < 0)
		snprintf(readahead, sizeof readahead, "off");
	else
		format_size(readahead, sizeof readahead, o->readahead_bytes ? o->readahead_bytes : 64 * (long)MIB);
	snprintf(out, n, "%s conns=%d ra=%s part=%s chunk=%s%s%s",
	         path_names[plan->path][plan->path != SOAK_NEXT && plan->library_opens],
	         o->connections, readahead, part, chunk,
	         plan->path == SOAK_NEXT ? "" : " bufsize=",
	         plan->path == SOAK_NEXT ? "" : read_size);
}
