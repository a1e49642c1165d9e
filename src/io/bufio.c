/* dm-bufio: a client's buffer cache over a block device, and the shrinker the 2014-2020
 * threads fought over ("[PATCH 0/6] Overhaul memalloc_no*", 2020).
 *
 * The client mutex covers the buffers; a buffer being written is waited for with the mutex
 * held, as __make_buffer_clean() does (so no other path sees it mid-write). So a shrinker that
 * takes the mutex and writes dirty buffers makes reclaim wait for the device below, and if that
 * device is a loop device whose worker needs a filesystem lock or memory, reclaim waits for itself.
 * Policy `bufio` decides which reclaim contexts may do that: those with __GFP_IO (before
 * 9d28eb12447e), those with
 * __GFP_FS (after it), or none, the scan only handing the work to the client's worker (v5.9).
 * A scan visits the clean list, then the dirty one, each from its cold end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "reservoir/harness.h"
#include "common/list.h"

enum { LIST_CLEAN, LIST_DIRTY, NR_LISTS };

struct rsv_buffer {
	struct rsv_bufio_client *c;
	uint64_t block;
	struct rsv_page *page;
	int hold;
	unsigned list;
	struct rsv_request req;
	struct rsv_list lru; /* hot end at the head */
};

struct rsv_bufio_client {
	struct rsv_system_object obj;
	struct rsv_system *sys;
	struct rsv_bdev *dev;
	enum rsv_bufio_policy policy;
	struct rsv_mutex lock;
	struct rsv_list lru[NR_LISTS];
	unsigned long n[NR_LISTS];
	_Atomic long nr_buffers; /* for the lockless count */
	_Atomic uint64_t nr_dirty;
	struct rsv_shrinker shrinker;
	_Atomic long need_shrink;     /* workqueue: buffers reclaim asked for */
	_Atomic bool work_queued;     /* workqueue: queue_work() of the shrink work */
	struct rsv_waitqueue work_wait;
	_Atomic uint64_t scans, stops, evicted, written, worker_runs, dirty_reached;
};

/* ---- buffers, under the client mutex ---- */

static void link_buffer(struct rsv_buffer *b, unsigned list)
{
	b->list = list;
	b->c->n[list]++;
	if (list == LIST_DIRTY)
		atomic_fetch_add(&b->c->nr_dirty, 1);
	rsv_list_add(&b->lru, &b->c->lru[list]);
}

static void unlink_buffer(struct rsv_buffer *b)
{
	b->c->n[b->list]--;
	if (b->list == LIST_DIRTY)
		atomic_fetch_sub(&b->c->nr_dirty, 1);
	rsv_list_del(&b->lru);
}

static struct rsv_buffer *find_buffer(struct rsv_bufio_client *c, uint64_t block)
{
	for (unsigned l = 0; l < NR_LISTS; l++) {
		struct rsv_list *pos;

		rsv_list_for_each(pos, &c->lru[l]) {
			struct rsv_buffer *b = rsv_container_of(pos, struct rsv_buffer, lru);

			if (b->block == block)
				return b;
		}
	}
	return NULL;
}

/* __make_buffer_clean(): write a dirty buffer and wait for it, the mutex held throughout. */
static int make_clean(struct rsv_buffer *b)
{
	struct rsv_bufio_client *c = b->c;
	int err;

	if (b->list != LIST_DIRTY)
		return 0;
	b->req = (struct rsv_request){ .bdev = c->dev, .op = RSV_REQ_WRITE, .sector = b->block,
				       .page = b->page, .private = b };
	if ((err = rsv_submit_request(&b->req)) || (err = rsv_request_wait(&b->req)))
		return err; /* stays dirty */
	atomic_fetch_add(&c->written, 1);
	unlink_buffer(b);
	link_buffer(b, LIST_CLEAN);
	return 0;
}

static void free_buffer(struct rsv_buffer *b)
{
	unlink_buffer(b);
	atomic_fetch_sub(&b->c->nr_buffers, 1);
	rsv_free_pages(b->page, 0);
	free(b);
}

/* __try_evict_buffer(): held buffers stay; dirty ones go only when @may_write. */
static bool try_evict(struct rsv_buffer *b, bool may_write)
{
	if (b->hold || (b->list == LIST_DIRTY && !may_write))
		return false;
	if (make_clean(b))
		return false;
	atomic_fetch_add(&b->c->evicted, 1);
	free_buffer(b);
	return true;
}

/* Visits up to @nr buffers, clean list first, each from its cold end. */
static unsigned long scan_lists(struct rsv_bufio_client *c, unsigned long nr, bool may_write,
				_Atomic long *need)
{
	unsigned long freed = 0;

	for (unsigned l = 0; l < NR_LISTS; l++) {
		struct rsv_list *pos = c->lru[l].prev;

		if (l == LIST_DIRTY && pos != &c->lru[l])
			atomic_fetch_add(&c->dirty_reached,
					 1); /* whether it may write them or not */
		while (pos != &c->lru[l]) {
			struct rsv_buffer *b = rsv_container_of(pos, struct rsv_buffer, lru);

			pos = pos->prev;
			if (try_evict(b, may_write)) {
				freed++;
				if (need && atomic_fetch_sub(need, 1) <= 1)
					return freed;
			}
			if (!need && !--nr)
				return freed;
		}
	}
	return freed;
}

/* ---- the shrinker ---- */

static unsigned long bufio_count(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct rsv_bufio_client *c = s->private_data;
	long n = atomic_load(&c->nr_buffers);

	if (c->policy == RSV_BUFIO_WORKQUEUE)
		n -= atomic_load(&c->need_shrink);
	return n > 0 ? (unsigned long)n : 0;
}

static unsigned long bufio_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct rsv_bufio_client *c = s->private_data;
	rsv_gfp_t gate = c->policy == RSV_BUFIO_GFP_IO ? RSV___GFP_IO : RSV___GFP_FS;
	bool may_block = sc->gfp_mask & gate;
	unsigned long freed;

	atomic_fetch_add(&c->scans, 1);
	if (c->policy == RSV_BUFIO_WORKQUEUE) {
		atomic_fetch_add(&c->need_shrink, (long)sc->nr_to_scan);
		atomic_store(&c->work_queued, true);
		rsv_wake_up(&c->work_wait);
		return sc->nr_to_scan; /* taken on: the worker does it */
	}
	if (may_block) {
		rsv_mutex_lock(&c->lock);
	} else if (!rsv_mutex_trylock(&c->lock)) {
		atomic_fetch_add(&c->stops, 1);
		return RSV_SHRINK_STOP;
	}
	freed = scan_lists(c, sc->nr_to_scan, may_block, NULL);
	rsv_mutex_unlock(&c->lock);
	return freed;
}

/* The v5.9 shrink work: the allocating context never blocks in bufio; this task does. */
static int bufio_worker(void *arg)
{
	struct rsv_bufio_client *c = arg;

	for (;;) {
		/* One pass per queue_work(), as shrink_work() runs: what a pass could not evict
		 * (buffers held by their users) waits for the next scan to queue it again. */
		rsv_wait_event(&c->work_wait,
			       atomic_load(&c->work_queued) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		atomic_store(&c->work_queued, false);
		atomic_fetch_add(&c->worker_runs, 1);
		rsv_mutex_lock(&c->lock);
		scan_lists(c, 0, true, &c->need_shrink);
		if (!atomic_load(&c->nr_buffers) || atomic_load(&c->need_shrink) < 0)
			atomic_store(&c->need_shrink, 0);
		rsv_mutex_unlock(&c->lock);
	}
}

/* ---- the client ---- */

static void client_destroy(struct rsv_system_object *o)
{
	struct rsv_bufio_client *c = rsv_container_of(o, struct rsv_bufio_client, obj);

	if (c->shrinker.registered)
		rsv_unregister_shrinker(c->sys, &c->shrinker);
	/* The pages go with the arena; a deadlocked run may have left a scan half done. */
	for (unsigned l = 0; l < NR_LISTS; l++) {
		while (!rsv_list_empty(&c->lru[l])) {
			struct rsv_buffer *b = rsv_container_of(c->lru[l].next, struct rsv_buffer,
								lru);

			rsv_list_del(&b->lru);
			free(b);
		}
	}
	free(c);
}

struct rsv_bufio_client *rsv_bufio_create(struct rsv_system *sys, const char *name,
					  struct rsv_bdev *dev)
{
	struct rsv_bufio_client *c;
	char task[32];

	if (!sys || !dev || dev->sys != sys || !rsv_task_current())
		return errno = EINVAL, NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return errno = ENOMEM, NULL;
	c->sys = sys;
	c->dev = dev;
	c->policy = rsv_policy_get(rsv_system_policy(sys), RSV_POLICY_BUFIO);
	rsv_mutex_init(&c->lock, "bufio client mutex");
	for (unsigned l = 0; l < NR_LISTS; l++)
		rsv_list_init(&c->lru[l]);
	rsv_waitqueue_init(&c->work_wait, "dm_bufio_wq");
	c->shrinker = (struct rsv_shrinker){ .count_objects = bufio_count,
					     .scan_objects = bufio_scan, .seeks = 1,
					     .name = name ? name : "bufio", .private_data = c };
	c->obj.destroy = client_destroy;
	rsv_system_add_object(sys, &c->obj);
	snprintf(task, sizeof(task), "dm_bufio/%.20s", name ? name : "bufio");
	if (c->policy == RSV_BUFIO_WORKQUEUE && !rsv_kthread_create(sys, task, bufio_worker, c))
		return NULL; /* added: freed with the system */
	if (rsv_register_shrinker(sys, &c->shrinker))
		return errno = EINVAL, NULL;
	return c;
}

struct rsv_buffer *rsv_bufio_new(struct rsv_bufio_client *c, uint64_t block, rsv_gfp_t gfp)
{
	struct rsv_page *page = NULL;
	struct rsv_buffer *b;

	rsv_mutex_lock(&c->lock);
	while (!(b = find_buffer(c, block))) {
		if (page) {
			if (!(b = calloc(1, sizeof(*b))))
				break;
			*b = (struct rsv_buffer){ .c = c, .block = block, .page = page };
			link_buffer(b, LIST_CLEAN);
			atomic_fetch_add(&c->nr_buffers, 1);
			page = NULL;
			break;
		}
		/* Allocate without the mutex: reclaim may need it. */
		rsv_mutex_unlock(&c->lock);
		page = rsv_alloc_pages(gfp, 0);
		rsv_mutex_lock(&c->lock);
		if (!page)
			break;
	}
	if (b) {
		b->hold++;
		unlink_buffer(b); /* to the hot end */
		link_buffer(b, b->list);
	}
	rsv_mutex_unlock(&c->lock);
	if (page)
		rsv_free_pages(page, 0);
	return b;
}

void *rsv_buffer_data(struct rsv_buffer *b)
{
	return rsv_page_address(b->page);
}

void rsv_bufio_mark_dirty(struct rsv_buffer *b)
{
	rsv_mutex_lock(&b->c->lock);
	if (b->list == LIST_CLEAN) {
		unlink_buffer(b);
		link_buffer(b, LIST_DIRTY);
	}
	rsv_mutex_unlock(&b->c->lock);
}

void rsv_bufio_release(struct rsv_buffer *b)
{
	rsv_mutex_lock(&b->c->lock);
	if (b->hold > 0)
		b->hold--;
	rsv_mutex_unlock(&b->c->lock);
}

int rsv_bufio_write_dirty(struct rsv_bufio_client *c)
{
	int err = 0;

	rsv_mutex_lock(&c->lock);
	while (!rsv_list_empty(&c->lru[LIST_DIRTY])) {
		struct rsv_buffer *b = rsv_container_of(c->lru[LIST_DIRTY].prev,
							struct rsv_buffer, lru);
		int e = make_clean(b);

		if (e && !err)
			err = e;
		if (e)
			break;
	}
	rsv_mutex_unlock(&c->lock);
	return err;
}

/* Without the mutex: a client stuck in its own shrinker must still be observable. */
void rsv_bufio_stats(struct rsv_bufio_client *c, struct rsv_bufio_stats *out)
{
	*out = (struct rsv_bufio_stats){ .buffers = (uint64_t)atomic_load(&c->nr_buffers),
					 .dirty = atomic_load(&c->nr_dirty), .scans = c->scans,
					 .stops = c->stops, .evicted = c->evicted,
					 .written = c->written, .worker_runs = c->worker_runs,
					 .dirty_reached = c->dirty_reached };
}

struct rsv_mutex *rsv_bufio_lock(struct rsv_bufio_client *c)
{
	return &c->lock;
}
