/*
 * readahead.c - fetch ahead of the caller, on worker threads, in bounded
 * memory.
 *
 * The object is cut into parts, each fetched into a slot: a part_size buffer.
 * There are readahead_bytes / part_size slots, so that is all the memory.
 * Slots hold consecutive parts starting at the caller's position; the caller
 * gets pointers into them (no copy) and a slot goes back to work once the
 * caller has moved past it and called again.  One worker streams the parts
 * over one open-ended request; when the server honours Range and the object
 * is large enough, `connections` workers fetch parts at once, each with a
 * bounded Range request, and the caller still sees them in order.
 *
 * After a jump the read-ahead window starts small and doubles with every part
 * the caller finishes, so a skip over a large tar member costs a little, not
 * a whole read-ahead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FIRST_WINDOW (64 * 1024)
#define PARALLEL_MIN_PARTS 4

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_FETCHING, SLOT_DONE,
                  SLOT_FAILED };

struct slot {
	char *buf;
	int64_t off;          /* object offset of buf[0] */
	size_t len;           /* bytes of the part */
	size_t filled;        /* bytes written so far */
	enum slot_state state;
	bool dropped;         /* the caller jumped away while it was fetching */
	bool after_jump;      /* the first part queued after a jump */
	bool reported;        /* its failure went to the caller */
	_Atomic bool cancel;
	struct fetcher *worker;
	int err;
	char errmsg[AIS_ERRMSG_MAX];
};

struct worker {
	struct readahead *ra;
	struct fetcher fetcher;
	int index;
	pthread_t thread;
	bool started;
};

struct readahead {
	struct object *obj;
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a slot was queued, or stop */
	pthread_cond_t data;  /* a slot got bytes, ended, or was freed */
	struct slot *slots;
	int nslots;
	size_t part_size;
	int64_t next_off;     /* where the next part to queue starts */
	size_t window;        /* bytes the caller may be ahead of by */
	size_t window_max;
	size_t read_through;  /* a hop this far past next_off reads on */
	bool parallel;
	bool jumped;          /* the next part queued starts after a jump */
	int active_workers;
	bool stop;
	struct worker *workers;
	int nworkers;
};

/* ---- slots (with ra->lock held) ------------------------------------------- */

static bool slot_in_use(const struct slot *sl)
{
	return sl->state != SLOT_FREE || sl->dropped;
}

static struct slot *free_slot(struct readahead *ra)
{
	for (int i = 0; i < ra->nslots; i++)
		if (!slot_in_use(&ra->slots[i]))
			return &ra->slots[i];
	return NULL;
}

/* Queue parts from next_off while slots are free and the window allows. */
static void queue_parts(struct readahead *ra, int64_t pos)
{
	int64_t size = atomic_load(&ra->obj->size);
	struct slot *sl;
	bool queued = false;

	while ((size < 0 || ra->next_off < size) &&
	       ra->next_off < pos + (int64_t)ra->window &&
	       (sl = free_slot(ra))) {
		int64_t len = pos + (int64_t)ra->window - ra->next_off;

		if (len > (int64_t)ra->part_size)
			len = (int64_t)ra->part_size;
		if (size >= 0 && len > size - ra->next_off)
			len = size - ra->next_off;
		sl->off = ra->next_off;
		sl->len = (size_t)len;
		sl->filled = 0;
		sl->state = SLOT_QUEUED;
		sl->reported = false;
		sl->after_jump = ra->jumped;
		ra->jumped = false;
		ra->next_off += len;
		queued = true;
	}
	if (queued)
		pthread_cond_broadcast(&ra->work);
}

static void drop_slot(struct slot *sl)
{
	if (sl->state == SLOT_FETCHING) {
		/* The worker owns the buffer until it sees the cancel. */
		sl->dropped = true;
		atomic_store(&sl->cancel, true);
		fetcher_wake(sl->worker);
	}
	sl->state = SLOT_FREE;
}

/* Free the parts the caller has moved past; each one finished in order
 * widens the window. */
static void release_passed(struct readahead *ra, int64_t pos)
{
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (sl->state == SLOT_DONE && sl->off + (int64_t)sl->len <= pos) {
			sl->state = SLOT_FREE;
			if (ra->window < ra->window_max)
				ra->window = ra->window * 2 < ra->window_max ?
				             ra->window * 2 : ra->window_max;
		}
	}
}

static struct slot *slot_at(struct readahead *ra, int64_t pos)
{
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (sl->state != SLOT_FREE && sl->off <= pos &&
		    pos < sl->off + (int64_t)sl->len)
			return sl;
	}
	return NULL;
}

/* The caller jumped where no slot reaches: start over from pos. */
static void restart_at(struct readahead *ra, int64_t pos)
{
	for (int i = 0; i < ra->nslots; i++)
		drop_slot(&ra->slots[i]);
	ra->next_off = pos;
	ra->jumped = true;
	ra->window = FIRST_WINDOW < ra->window_max ? FIRST_WINDOW : ra->window_max;
	pthread_cond_broadcast(&ra->data);
}

/* Fetch in parallel once the first reply showed Range works on an object
 * large enough to be worth several connections. */
static void choose_mode(struct readahead *ra)
{
	int64_t size = atomic_load(&ra->obj->size);
	bool parallel = ra->nworkers > 1 && atomic_load(&ra->obj->range_ok) &&
	                size >= PARALLEL_MIN_PARTS * (int64_t)ra->part_size;

	if (parallel == ra->parallel)
		return;
	ra->parallel = parallel;
	ra->active_workers = parallel ? ra->nworkers : 1;
	pthread_cond_broadcast(&ra->work);
}

/* ---- workers ----------------------------------------------------------------- */

static struct slot *next_queued(struct readahead *ra, int index)
{
	struct slot *best = NULL;

	if (index >= ra->active_workers)
		return NULL;
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (sl->state == SLOT_QUEUED && (!best || sl->off < best->off))
			best = sl;
	}
	return best;
}

/* Fill one slot, publishing bytes as they come.  Called and returns with
 * ra->lock held. */
static void fetch_slot(struct worker *w, struct slot *sl)
{
	struct readahead *ra = w->ra;
	struct fetcher *f = &w->fetcher;
	size_t have = 0;
	int64_t size;
	ssize_t n;

	sl->state = SLOT_FETCHING;
	sl->worker = f;
	atomic_store(&sl->cancel, false);
	/* A request that broke as its last part filled is resumed here. */
	if (!fetcher_aim(f, sl->buf, sl->len, sl->off, ra->parallel) &&
	    f->next_reason != REQ_RESUME)
		f->next_reason = sl->after_jump ? REQ_SEEK : REQ_PART;
	f->cancel = &sl->cancel;
	for (;;) {
		pthread_mutex_unlock(&ra->lock);
		n = fetcher_fill(f, have, sl->len);
		pthread_mutex_lock(&ra->lock);
		if (sl->dropped) {
			sl->dropped = false;
			break;
		}
		if (n < 0) {
			sl->state = SLOT_FAILED;
			sl->err = errno;
			snprintf(sl->errmsg, sizeof(sl->errmsg), "%s", f->errmsg);
			break;
		}
		sl->filled = have = (size_t)n;
		size = atomic_load(&ra->obj->size);
		if (n == (ssize_t)sl->len || (size >= 0 && f->off + n >= size)) {
			sl->len = (size_t)n; /* shorter only at an end found late */
			sl->state = SLOT_DONE;
			break;
		}
		pthread_cond_broadcast(&ra->data);
	}
	f->cancel = NULL;
	pthread_cond_broadcast(&ra->data);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct readahead *ra = w->ra;
	struct slot *sl;

	pthread_mutex_lock(&ra->lock);
	while (!ra->stop) {
		if (!(sl = next_queued(ra, w->index))) {
			pthread_cond_wait(&ra->work, &ra->lock);
			continue;
		}
		fetch_slot(w, sl);
		choose_mode(ra);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

/* ---- the caller's side ------------------------------------------------------- */

ssize_t readahead_peek(struct readahead *ra, int64_t pos, const char **p,
                       int *err, char *msg, size_t msglen)
{
	struct slot *sl;
	ssize_t n = -1;

	pthread_mutex_lock(&ra->lock);
	for (;;) {
		release_passed(ra, pos);
		sl = slot_at(ra, pos);
		if (sl && sl->filled > (size_t)(pos - sl->off)) {
			*p = sl->buf + (pos - sl->off);
			n = (ssize_t)(sl->filled - (size_t)(pos - sl->off));
			break;
		}
		if (sl && sl->state == SLOT_FAILED && !sl->reported) {
			*err = sl->err;
			snprintf(msg, msglen, "%s", sl->errmsg);
			sl->reported = true;
			break;
		}
		if (sl && sl->state == SLOT_FAILED) {
			/* Not for good: a call after the failure asks again. */
			sl->state = SLOT_QUEUED;
			sl->filled = 0;
			sl->reported = false;
			pthread_cond_broadcast(&ra->work);
		}
		if (!sl) {
			int64_t size = atomic_load(&ra->obj->size);

			if (size >= 0 && pos >= size) {
				n = 0;
				break;
			}
			/* A short hop past the queued parts reads through them,
			 * as the open request would; anything else starts over. */
			if (pos < ra->next_off ||
			    (uint64_t)(pos - ra->next_off) > ra->read_through ||
			    free_slot(ra) == NULL)
				restart_at(ra, pos);
		}
		queue_parts(ra, pos);
		pthread_cond_wait(&ra->data, &ra->lock);
	}
	queue_parts(ra, pos);
	pthread_mutex_unlock(&ra->lock);
	return n;
}

static void readahead_stop(struct readahead *ra)
{
	pthread_mutex_lock(&ra->lock);
	ra->stop = true;
	for (int i = 0; i < ra->nslots; i++)
		if (ra->slots[i].state == SLOT_FETCHING)
			drop_slot(&ra->slots[i]);
	pthread_cond_broadcast(&ra->work);
	pthread_mutex_unlock(&ra->lock);
	for (int i = 0; i < ra->nworkers; i++)
		if (ra->workers[i].started)
			pthread_join(ra->workers[i].thread, NULL);
}

void readahead_free(struct readahead *ra)
{
	if (!ra)
		return;
	readahead_stop(ra);
	for (int i = 0; i < ra->nworkers; i++)
		if (ra->workers[i].fetcher.http)
			fetcher_release(&ra->workers[i].fetcher);
	for (int i = 0; i < ra->nslots; i++)
		free(ra->slots[i].buf);
	free(ra->slots);
	free(ra->workers);
	pthread_cond_destroy(&ra->work);
	pthread_cond_destroy(&ra->data);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

static int start_workers(struct readahead *ra)
{
	for (int i = 0; i < ra->nworkers; i++) {
		struct worker *w = &ra->workers[i];

		w->ra = ra;
		w->index = i;
		if (fetcher_init(&w->fetcher, ra->obj) < 0)
			return -1;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return -1;
		w->started = true;
	}
	return 0;
}

struct readahead *readahead_new(struct object *obj)
{
	const struct ais_config *cfg = obj->cfg;
	struct readahead *ra = calloc(1, sizeof(*ra));

	if (!ra)
		return NULL;
	ra->obj = obj;
	ra->part_size = cfg->part_size;
	ra->window_max = cfg->readahead_bytes;
	ra->read_through = cfg->skip_read_through;
	ra->window = FIRST_WINDOW < ra->window_max ? FIRST_WINDOW : ra->window_max;
	ra->nslots = (int)(cfg->readahead_bytes / cfg->part_size);
	if (ra->nslots < 2)
		ra->nslots = 2;
	ra->nworkers = cfg->connections;
	ra->active_workers = 1;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->work, NULL);
	pthread_cond_init(&ra->data, NULL);
	ra->slots = calloc((size_t)ra->nslots, sizeof(*ra->slots));
	ra->workers = calloc((size_t)ra->nworkers, sizeof(*ra->workers));
	if (!ra->slots || !ra->workers)
		goto fail;
	for (int i = 0; i < ra->nslots; i++)
		if (!(ra->slots[i].buf = malloc(ra->part_size)))
			goto fail;
	if (start_workers(ra) < 0)
		goto fail;
	return ra;
fail:
	readahead_free(ra);
	errno = ENOMEM;
	return NULL;
}
