/*
 * readahead.c - a stream's buffers, and who fills them.
 *
 * The object is cut into parts, each fetched into a slot.  The caller gets
 * pointers into the slots (no copy), and a slot goes back to work once the
 * caller has moved past it and called again.  A part at the caller's
 * position that nobody fetches yet is fetched by the caller itself, on its
 * own thread, with the stream's own fetcher; parts ahead of it are fetched
 * by the client's worker threads, up to `connections` of them for one
 * stream.  With read-ahead off there is one slot and no worker: the same
 * machinery, filled only on the caller's thread.
 *
 * Nothing is made before it is needed.  The first part is small enough that
 * a small object arrives in one request and no thread starts; a slot's
 * memory is allocated when a part first needs it, counted against the
 * client's budget, and kept until the stream closes.
 *
 * The window (how far ahead parts are queued) doubles with every part the
 * caller finishes and starts over after a jump, at the length of the runs
 * the caller has been reading between jumps: reading a few members of a big
 * zip fetches about what is read.  Every part after the first is a bounded
 * Range request, so a jump never has to kill a transfer in full flight.
 *
 * Locking: the client's lock guards the slots of all its streams.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FIRST_WINDOW (64 * 1024)
/* A window learned from runs is rounded up to this. */
#define WINDOW_GRAIN (16 * 1024)
/* The first part: what a small object arrives in, in one request. */
#define FIRST_PART (256 * 1024)
/* What a stream may hold when the client's budget is spent. */
#define MIN_SLOT (256 * 1024)
#define MIN_SLOTS 2
#define MAX_SLOTS 256

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_FETCHING, SLOT_DONE,
                  SLOT_FAILED };

struct slot {
	char *buf;
	size_t cap;           /* bytes allocated, and counted in the budget */
	int64_t off;          /* object offset of buf[0] */
	size_t len;           /* bytes of the part */
	size_t filled;        /* bytes written so far */
	enum slot_state state;
	bool by_caller;       /* the caller's own fetcher fills it */
	bool dropped;         /* the caller jumped away while a worker had it */
	bool after_jump;      /* the first part queued after a jump */
	bool reported;        /* its failure went to the caller */
	_Atomic bool cancel;
	struct fetcher *worker;
	int err;
	char errmsg[AIS_ERRMSG_MAX];
};

struct readahead {
	struct object *obj;
	struct ais_client *client;
	pthread_cond_t data;  /* a slot got bytes, ended, or a worker left */
	struct slot *slots;
	int nslots;
	struct fetcher caller;     /* fetches on the caller's thread */
	struct slot *caller_slot;  /* the slot it is aimed at */
	size_t part_size;
	size_t window;             /* bytes the caller may be ahead of by */
	size_t window_max;         /* also the bound of the slots' memory */
	size_t memory;             /* bytes the slots hold */
	size_t read_through;       /* a hop this far past next_off reads on */
	int64_t next_off;          /* where the next part to queue starts */
	bool use_workers;          /* read-ahead on */
	bool jumped;               /* the next part queued starts after a jump */
	int64_t jumps;             /* restarts and long seeks */
	int busy;                  /* workers fetching for this stream */
	int max_busy;
	/* The access pattern: where the current run of reading began, how far
	 * it got, and how long runs have been. */
	int64_t run_start;
	int64_t run_end;
	size_t run_len;
	int64_t skip_to;           /* parts before it were jumped over */
	struct readahead *next;    /* the client's list of streams */
};

/* ---- slots (with the client's lock held) ------------------------------------ */

static bool slot_in_use(const struct slot *sl)
{
	return sl->state != SLOT_FREE || sl->dropped;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Make sl hold at least len bytes, within the stream's bound and the
 * client's budget; when neither has room, within MIN_SLOT if must.
 * Returns how many bytes it can hold for the part (0: none). */
static size_t slot_reserve(struct readahead *ra, struct slot *sl, size_t len,
                           bool must)
{
	struct ais_client *c = ra->client;
	size_t share = c->cfg.memory_limit / (size_t)(c->nstreams ? c->nstreams : 1);
	size_t need;
	char *buf;

	if (sl->cap >= len)
		return len;
	need = len - sl->cap;
	if (ra->memory + need > ra->window_max ||
	    c->memory_used + need > c->cfg.memory_limit ||
	    ra->memory + need > (share > MIN_SLOT ? share : MIN_SLOT)) {
		if (!must)
			return sl->cap >= MIN_SLOT ? sl->cap : 0;
		if (sl->cap >= min_size(len, MIN_SLOT))
			return sl->cap;
		len = min_size(len, MIN_SLOT);
		need = len - sl->cap;
	}
	if (!(buf = realloc(sl->buf, len)))
		return sl->cap;
	sl->buf = buf;
	sl->cap = len;
	ra->memory += need;
	c->memory_used += need;
	return len;
}

static struct slot *free_slot(struct readahead *ra)
{
	struct slot *best = NULL;

	/* The largest free one: it needs no new memory most often. */
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (!slot_in_use(sl) && (!best || sl->cap > best->cap))
			best = sl;
	}
	return best;
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

static bool have_identity(struct readahead *ra)
{
	bool have;

	pthread_mutex_lock(&ra->obj->lock);
	have = ra->obj->have_identity;
	pthread_mutex_unlock(&ra->obj->lock);
	return have;
}

/* Workers fetch ahead once the first reply showed that the server honours
 * Range: a server that does not is read in one request, in order. */
static bool workers_allowed(struct readahead *ra)
{
	return ra->use_workers && atomic_load(&ra->obj->range_ok) &&
	       atomic_load(&ra->obj->joinable);
}

/* Queue parts from next_off while slots, memory and the window allow; the
 * part at pos always gets a slot.  Until the first reply, only that part.
 * Parts ahead of pos wait until the caller has read further since its last
 * jump than its runs have been long: a run like the last ones is served by
 * the part at pos alone. */
static void queue_parts(struct readahead *ra, int64_t pos)
{
	int64_t size = atomic_load(&ra->obj->size);
	bool known = have_identity(ra);
	bool ahead = workers_allowed(ra) &&
	             pos - ra->run_start >= (int64_t)ra->run_len;
	struct slot *sl;

	while ((size < 0 || ra->next_off < size) &&
	       (ra->next_off <= pos ||
	        (known && ahead && ra->next_off < pos + (int64_t)ra->window)) &&
	       (sl = free_slot(ra))) {
		bool needed = ra->next_off <= pos;
		int64_t len = pos + (int64_t)ra->window - ra->next_off;
		size_t room;

		if (!known)
			len = (int64_t)min_size(FIRST_PART, ra->part_size);
		if (len > (int64_t)ra->part_size)
			len = (int64_t)ra->part_size;
		if (len < FIRST_WINDOW)
			len = FIRST_WINDOW;
		if (size >= 0 && len > size - ra->next_off)
			len = size - ra->next_off;
		if (!(room = slot_reserve(ra, sl, (size_t)len, needed)))
			break;
		sl->off = ra->next_off;
		sl->len = min_size((size_t)len, room);
		sl->filled = 0;
		sl->state = SLOT_QUEUED;
		sl->by_caller = false;
		sl->reported = false;
		sl->after_jump = ra->jumped;
		ra->jumped = false;
		ra->next_off += (int64_t)sl->len;
		if (!needed && ahead)
			aisi_client_want_worker(ra->client);
		if (!known)
			break;
	}
}

static void drop_slot(struct readahead *ra, struct slot *sl)
{
	if (sl->state == SLOT_FETCHING && !sl->by_caller) {
		/* The worker owns the buffer until it sees the cancel. */
		sl->dropped = true;
		atomic_store(&sl->cancel, true);
		aisi_fetcher_wake(sl->worker);
	}
	if (ra->caller_slot == sl)
		ra->caller_slot = NULL;
	sl->by_caller = false;
	sl->state = SLOT_FREE;
}

/* The window after the caller read a part: from the start of the object
 * it doubles with every part; after a jump it grows to what the caller has
 * read since, so a run that ends after n bytes has fetched at most about n
 * too many, and usually much less. */
static void widen(struct readahead *ra, int64_t pos)
{
	size_t read_since = (size_t)(pos - ra->run_start);

	if (!ra->jumps)
		ra->window = min_size(ra->window * 2, ra->window_max);
	else if (read_since > ra->window)
		ra->window = min_size(read_since, ra->window_max);
}

/* Free the parts the caller has moved past; each one finished in order
 * widens the window, and one still unfinished is of no use any more. */
static void release_passed(struct readahead *ra, int64_t pos)
{
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (sl->state == SLOT_FREE || sl->off + (int64_t)sl->len > pos)
			continue;
		if (sl->state == SLOT_DONE) {
			sl->state = SLOT_FREE;
			if (sl->off >= ra->skip_to) /* read, not jumped over */
				widen(ra, pos);
		} else {
			drop_slot(ra, sl);
		}
	}
}

/* A worker still writes into a slot the caller has left. */
static bool worker_holds_slot(const struct readahead *ra)
{
	for (int i = 0; i < ra->nslots; i++)
		if (ra->slots[i].dropped ||
		    (ra->slots[i].state == SLOT_FETCHING && !ra->slots[i].by_caller))
			return true;
	return false;
}

/* The caller jumps from one run of reading to another: the window starts
 * over as long as the runs it has been reading (a little more), so a run
 * like the last costs one request, and parts it jumps over do not widen
 * it. */
static void learn_run(struct readahead *ra, int64_t to)
{
	size_t run = ra->run_end > ra->run_start ?
	             (size_t)(ra->run_end - ra->run_start) : 0;
	size_t window;

	/* A shorter run counts at once, a longer one half: a window too long
	 * is fetched and wasted, one too short grows as the caller reads on. */
	ra->run_len = run < ra->run_len || !ra->run_len ? run :
	              (ra->run_len + run) / 2;
	window = ra->run_len + ra->run_len / 4;
	window = (window + WINDOW_GRAIN - 1) / WINDOW_GRAIN * WINDOW_GRAIN;
	ra->window = window < FIRST_WINDOW ? FIRST_WINDOW :
	             min_size(window, ra->window_max);
	ra->run_start = ra->run_end = ra->skip_to = to;
	ra->jumps++;
}

/* The caller is where no slot reaches: start over from pos. */
static void restart_at(struct readahead *ra, int64_t pos)
{
	for (int i = 0; i < ra->nslots; i++)
		drop_slot(ra, &ra->slots[i]);
	if (ra->run_start != pos)
		learn_run(ra, pos);
	ra->next_off = pos;
	ra->jumped = true;
}

/* ---- the client's workers ------------------------------------------------------ */

static struct slot *next_queued(struct readahead *ra)
{
	struct slot *best = NULL;

	if (ra->busy >= ra->max_busy)
		return NULL;
	for (int i = 0; i < ra->nslots; i++) {
		struct slot *sl = &ra->slots[i];

		if (sl->state == SLOT_QUEUED && (!best || sl->off < best->off))
			best = sl;
	}
	return best;
}

/* Fill one slot on a worker, publishing bytes as they come.  Called and
 * returns with the client's lock held; ra is not touched after busy drops
 * (the stream may be closing). */
static void fetch_slot(struct readahead *ra, struct slot *sl, struct fetcher *f)
{
	struct ais_client *c = ra->client;
	size_t have = 0;
	int64_t size;
	ssize_t n;

	sl->state = SLOT_FETCHING;
	sl->worker = f;
	atomic_store(&sl->cancel, false);
	ra->busy++;
	aisi_fetcher_init(f, ra->obj, c);
	/* Before the slot shows this worker, so aisi_fetcher_wake() finds the
	 * connection in place and never races its creation. */
	if (!(f->http = aisi_client_conn_take_locked(c)))
		f->http = aisi_http_conn_new(c->share);
	f->next_reason = sl->after_jump ? REQ_SEEK : REQ_PART;
	f->cancel = &sl->cancel;
	aisi_fetcher_aim(f, sl->buf, sl->len, sl->off, true);
	for (;;) {
		pthread_mutex_unlock(&c->lock);
		n = aisi_fetcher_fill(f, have, sl->len);
		pthread_mutex_lock(&c->lock);
		if (sl->dropped) {
			sl->dropped = false;
			break;
		}
		if (n < 0) {
			/* The bytes before the failure are good: handed out first. */
			sl->filled = f->len;
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
	pthread_mutex_unlock(&c->lock);
	aisi_fetcher_release(f);
	pthread_mutex_lock(&c->lock);
	ra->busy--;
	pthread_cond_broadcast(&ra->data);
}

bool aisi_readahead_work(struct ais_client *c, struct fetcher *f)
{
	struct readahead **link, *ra;
	struct slot *sl = NULL;

	for (link = &c->streams; (ra = *link); link = &ra->next)
		if ((sl = next_queued(ra)))
			break;
	if (!sl)
		return false;
	/* Round robin: the stream served goes to the back of the line. */
	if (ra->next) {
		struct readahead **tail = link;

		*link = ra->next;
		while (*tail)
			tail = &(*tail)->next;
		*tail = ra;
		ra->next = NULL;
	}
	fetch_slot(ra, sl, f);
	return true;
}

/* ---- the caller's side -------------------------------------------------------------- */

/* Fill sl, the part at pos, on the caller's thread until it has bytes at
 * pos, it is whole, or the fetch fails.  Called and returns with the
 * client's lock held. */
static void caller_fill(struct readahead *ra, struct slot *sl, int64_t pos)
{
	struct ais_client *c = ra->client;
	struct fetcher *f = &ra->caller;
	int64_t size;
	ssize_t n;

	if (ra->caller_slot != sl) {
		/* Parts are bounded, so a jump finds the connection free, but
		 * with read-ahead off a read from the start to the end is one
		 * request until the first jump, and a server that ignores
		 * Range is read in one request, in order. */
		bool bounded = (!have_identity(ra) ||
		                (atomic_load(&ra->obj->range_ok) &&
		                 atomic_load(&ra->obj->joinable))) &&
		               (ra->use_workers || ra->jumps > 0);

		sl->state = SLOT_FETCHING;
		sl->by_caller = true;
		ra->caller_slot = sl;
		pthread_mutex_unlock(&c->lock);
		if (!aisi_fetcher_aim(f, sl->buf, sl->len, sl->off, bounded) &&
		    f->next_reason != REQ_RESUME && f->next_reason != REQ_FIRST)
			f->next_reason = sl->after_jump ? REQ_SEEK : REQ_PART;
		pthread_mutex_lock(&c->lock);
		sl->filled = f->len;
		if (sl->filled > (size_t)(pos - sl->off))
			return;
	}
	pthread_mutex_unlock(&c->lock);
	n = aisi_fetcher_fill(f, (size_t)(pos - sl->off), sl->len);
	pthread_mutex_lock(&c->lock);
	if (n < 0) {
		sl->filled = f->len; /* the bytes before the failure are good */
		sl->state = SLOT_FAILED;
		sl->err = errno;
		snprintf(sl->errmsg, sizeof(sl->errmsg), "%s", f->errmsg);
		sl->by_caller = false;
		ra->caller_slot = NULL;
		return;
	}
	sl->filled = (size_t)n;
	size = atomic_load(&ra->obj->size);
	if (n == (ssize_t)sl->len || (size >= 0 && sl->off + n >= size)) {
		sl->len = (size_t)n;
		sl->state = SLOT_DONE;
		sl->by_caller = false;
		ra->caller_slot = NULL;
	}
}

void aisi_readahead_seek(struct readahead *ra, int64_t from, int64_t to)
{
	pthread_mutex_lock(&ra->client->lock);
	/* A hop inside what is being read is part of the run. */
	if (to < from || to - from > (int64_t)ra->read_through) {
		ra->run_end = from;
		learn_run(ra, to);
	}
	pthread_mutex_unlock(&ra->client->lock);
}

ssize_t aisi_readahead_peek(struct readahead *ra, int64_t pos, const char **p,
                       int *err, char *msg, size_t msglen)
{
	struct ais_client *c = ra->client;
	struct slot *sl;
	ssize_t n = -1;

	pthread_mutex_lock(&c->lock);
	if (pos > ra->run_end)
		ra->run_end = pos;
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
		}
		if (!sl) {
			int64_t size = atomic_load(&ra->obj->size);

			if (size >= 0 && pos >= size) {
				n = 0;
				break;
			}
			/* A short hop past the queued parts reads through them,
			 * as an open request would; anything else starts over. */
			if (pos < ra->next_off ||
			    (uint64_t)(pos - ra->next_off) > ra->read_through)
				restart_at(ra, pos);
		}
		queue_parts(ra, pos);
		sl = slot_at(ra, pos);
		if (sl && (sl->state == SLOT_QUEUED || sl->by_caller)) {
			caller_fill(ra, sl, pos);
			continue;
		}
		if (!sl && free_slot(ra)) {
			/* A free slot and still no part at pos: no memory. */
			*err = ENOMEM;
			snprintf(msg, msglen, "out of memory for a read-ahead buffer");
			break;
		}
		if (!sl && !worker_holds_slot(ra)) {
			restart_at(ra, pos);
			continue;
		}
		/* A worker has the part, or every slot waits for a worker to
		 * let go of a part the caller jumped away from. */
		pthread_cond_wait(&ra->data, &c->lock);
	}
	queue_parts(ra, pos);
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* ---- life ------------------------------------------------------------------------------ */

void aisi_readahead_free(struct readahead *ra)
{
	struct ais_client *c;

	if (!ra)
		return;
	c = ra->client;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < ra->nslots; i++)
		drop_slot(ra, &ra->slots[i]);
	while (ra->busy > 0)
		pthread_cond_wait(&ra->data, &c->lock);
	for (struct readahead **link = &c->streams; *link; link = &(*link)->next) {
		if (*link == ra) {
			*link = ra->next;
			c->nstreams--;
			break;
		}
	}
	c->memory_used -= ra->memory;
	pthread_mutex_unlock(&c->lock);
	aisi_fetcher_release(&ra->caller);
	for (int i = 0; i < ra->nslots; i++)
		free(ra->slots[i].buf);
	free(ra->slots);
	pthread_cond_destroy(&ra->data);
	free(ra);
}

struct readahead *aisi_readahead_new(struct object *obj, struct ais_client *c)
{
	const struct ais_config *cfg = obj->cfg;
	struct readahead *ra = FAILPOINT("readahead-new") ? NULL :
	                       calloc(1, sizeof(*ra));

	if (!ra)
		goto oom;
	ra->obj = obj;
	ra->client = c;
	/* One connection is the caller's own: no worker then. */
	ra->use_workers = cfg->readahead_bytes > 0 && cfg->connections > 1;
	ra->part_size = ra->use_workers ? cfg->part_size : cfg->chunk_size;
	ra->window_max = ra->use_workers ? cfg->readahead_bytes : cfg->chunk_size;
	/* More than the client's whole budget could never be used. */
	if (ra->window_max > c->cfg.memory_limit)
		ra->window_max = c->cfg.memory_limit;
	if (ra->window_max < ra->part_size)
		ra->window_max = ra->part_size;
	ra->nslots = ra->use_workers ?
	             (int)min_size(ra->window_max / ra->part_size + MIN_SLOTS,
	                           MAX_SLOTS) : 1;
	ra->max_busy = cfg->connections;
	ra->read_through = cfg->skip_read_through;
	ra->window = min_size(FIRST_PART, ra->window_max);
	aisi_fetcher_init(&ra->caller, obj, c);
	if (FAILPOINT("readahead-slots") ||
	    !(ra->slots = calloc((size_t)ra->nslots, sizeof(*ra->slots)))) {
		free(ra); /* the fetcher holds nothing before its first fill */
		goto oom;
	}
	pthread_cond_init(&ra->data, NULL);
	pthread_mutex_lock(&c->lock);
	ra->next = c->streams;
	c->streams = ra;
	c->nstreams++;
	pthread_mutex_unlock(&c->lock);
	return ra;
oom:
	errno = ENOMEM;
	return NULL;
}
