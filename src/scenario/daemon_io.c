/* The storage-daemon scenarios' I/O path: reads on channels sharing one pool of buffers, parked
 * when the pool is empty and served by completions' buffers or a poller (SPDK's
 * spdk_bdev_io_get_buf() and nomem lists, "IOs waiting for a buf from pool can stack"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/assert.h"
#include "scenario/daemon_io.h"

#define REPOLL_NS (5 * RSV_NSEC_PER_SEC)

static void io_done(struct rsv_request *req);

/* The read into @buf. The disk refuses only a request in flight, out of range or without a
 * page, none of which the scenarios make: a refusal is their own bug, said and stopped. */
/* A read submitted after the oldest one parked on another channel starts before it: counted
 * against that one (a FIFO pool lets none do so). */
static void count_overtaking(struct rsv__daemon_io *io)
{
	for (unsigned ch = 0; ch < RSV__DAEMON_MAX_CH; ch++) {
		struct rsv__daemon_channel *c = &io->d->ch[ch];

		if (ch == io->ch)
			continue;
		rsv_mutex_lock(&c->lock);
		if (!rsv_list_empty(&c->parked)) {
			struct rsv__daemon_io *head = rsv_container_of(c->parked.next,
								       struct rsv__daemon_io, node);

			if (head->seq < io->seq)
				atomic_fetch_add(&head->overtaken, 1);
		}
		rsv_mutex_unlock(&c->lock);
	}
}

static void start(struct rsv__daemon_io *io, struct rsv_page *buf)
{
	int err;

	if (io->d->count_overtaking)
		count_overtaking(io);
	atomic_fetch_add(&io->d->ch[io->ch].started, 1);
	io->req = (struct rsv_request){ .bdev = io->d->disk,
					.op = RSV_REQ_READ,
					.sector = io->ch,
					.page = buf,
					.end_io = io_done,
					.private = io };
	if ((err = rsv_submit_request(&io->req))) {
		fprintf(stderr, "reservoir: %s: the disk refused a read (%d)\n",
			rsv_scenario_name(io->d->run->s), err);
		abort();
	}
}

/* RSV__HANDOFF_OLDEST's lock around a decision between the pool and the parked lists. */
static void share_lock(struct rsv__daemon *d)
{
	if (d->handoff == RSV__HANDOFF_OLDEST)
		rsv_mutex_lock(&d->share);
}

static void share_unlock(struct rsv__daemon *d)
{
	if (d->handoff == RSV__HANDOFF_OLDEST)
		rsv_mutex_unlock(&d->share);
}

void rsv__daemon_submit(struct rsv__daemon_io *io)
{
	struct rsv__daemon *d = io->d;
	struct rsv__daemon_channel *c = &d->ch[io->ch];
	struct rsv_page *buf = NULL;

	share_lock(d);
	rsv_mutex_lock(&c->lock);
	/* Its place in the order of submissions is taken where it joins the queue, under the
	 * locks that order it against the others: a read held up before them has not arrived
	 * yet, and one that arrives behind it and starts first did overtake it. */
	io->seq = atomic_fetch_add(&d->seqs, 1);
	/* Behind whoever is parked: on this channel, and under OLDEST on any. */
	if (rsv_list_empty(&c->parked) && !d->nr_parked)
		buf = rsv_mempool_alloc(d->bufs, RSV_GFP_NOWAIT);
	if (!buf) {
		io->ticket = atomic_fetch_add(&d->tickets, 1);
		rsv_list_add_tail(&io->node, &c->parked);
		atomic_fetch_add(&c->parked_total, 1);
		if (d->handoff == RSV__HANDOFF_OLDEST)
			d->nr_parked++;
	}
	rsv_mutex_unlock(&c->lock);
	share_unlock(d);
	if (buf)
		start(io, buf);
}

/* The oldest read parked on @c, which has one, taken off its list; the caller holds c->lock
 * (and, under OLDEST, d->share, which nr_parked is under). */
static struct rsv__daemon_io *unpark_oldest(struct rsv__daemon *d, struct rsv__daemon_channel *c)
{
	struct rsv__daemon_io *io = rsv_container_of(c->parked.next, struct rsv__daemon_io, node);

	rsv_list_del(&io->node);
	if (d->handoff == RSV__HANDOFF_OLDEST)
		d->nr_parked--;
	return io;
}

/* The oldest read parked on channel @ch, taken off its list, or NULL. */
static struct rsv__daemon_io *take_parked(struct rsv__daemon *d, unsigned ch)
{
	struct rsv__daemon_channel *c = &d->ch[ch];
	struct rsv__daemon_io *io = NULL;

	rsv_mutex_lock(&c->lock);
	if (!rsv_list_empty(&c->parked))
		io = unpark_oldest(d, c);
	rsv_mutex_unlock(&c->lock);
	return io;
}

/* RSV__HANDOFF_OLDEST: the channel whose oldest parked read parked first, or -1. The caller
 * holds d->share, so nothing parks or is taken before take_parked(). */
static int oldest_channel(struct rsv__daemon *d)
{
	uint64_t best = UINT64_MAX;
	int which = -1;

	for (unsigned ch = 0; ch < RSV__DAEMON_MAX_CH; ch++) {
		struct rsv__daemon_channel *c = &d->ch[ch];

		rsv_mutex_lock(&c->lock);
		if (!rsv_list_empty(&c->parked)) {
			struct rsv__daemon_io *io = rsv_container_of(c->parked.next,
								     struct rsv__daemon_io, node);

			if (io->ticket < best) {
				best = io->ticket;
				which = (int)ch;
			}
		}
		rsv_mutex_unlock(&c->lock);
	}
	return which;
}

/* Runs in the disk's completing task: the buffer goes to a parked read (which one is the
 * handoff policy's choice) or back to the pool. */
static void io_done(struct rsv_request *req)
{
	struct rsv__daemon_io *io = req->private, *next = NULL;
	struct rsv__daemon *d = io->d;
	struct rsv_waitqueue *wq = io->wq;
	int ch = (int)io->ch;

	share_lock(d);
	if (d->handoff == RSV__HANDOFF_OLDEST)
		ch = oldest_channel(d);
	if (ch >= 0)
		next = take_parked(d, (unsigned)ch);
	if (!next) {
		/* OLDEST: nobody parked anywhere, or oldest_channel() would have named them. */
		rsv_assert(d->handoff != RSV__HANDOFF_OLDEST || !d->nr_parked);
		atomic_fetch_add(&d->pool_returns, 1);
		rsv_mempool_free(req->page, d->bufs);
	}
	share_unlock(d);
	if (next) {
		atomic_fetch_add(&d->ch[next->ch].handoffs, 1);
		start(next, req->page);
	}
	rsv_progress_inc(&d->run->progress);
	atomic_fetch_add(&d->ch[io->ch].completed, 1);
	atomic_store(&io->done, true);
	if (wq)
		rsv_wake_up(wq);
}

void rsv__daemon_wait(struct rsv_waitqueue *wq, _Atomic bool *flag)
{
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(wq, &we, RSV_TASK_UNINTERRUPTIBLE);
		if (atomic_load(flag))
			break;
		rsv_schedule();
	}
	rsv_finish_wait(wq, &we);
}

void rsv__daemon_user_done(struct rsv__daemon *d)
{
	if (atomic_fetch_sub(&d->users, 1) == 1)
		rsv_wake_up(&d->poller_wq);
}

int rsv__daemon_poller(void *arg)
{
	struct rsv__daemon *d = arg;
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(&d->poller_wq, &we, RSV_TASK_UNINTERRUPTIBLE);
		if (!atomic_load(&d->users))
			break;
		rsv_schedule_timeout(REPOLL_NS);
		rsv_finish_wait(&d->poller_wq, &we);
		for (unsigned ch = 0; ch < RSV__DAEMON_MAX_CH; ch++) {
			struct rsv__daemon_channel *c = &d->ch[ch];

			for (;;) {
				struct rsv__daemon_io *io = NULL;
				struct rsv_page *buf = NULL;

				share_lock(d);
				rsv_mutex_lock(&c->lock);
				if (!rsv_list_empty(&c->parked) &&
				    (buf = rsv_mempool_alloc(d->bufs, RSV_GFP_NOWAIT)))
					io = unpark_oldest(d, c);
				rsv_mutex_unlock(&c->lock);
				share_unlock(d);
				if (!io)
					break;
				atomic_fetch_add(&d->repolled, 1);
				start(io, buf);
			}
		}
	}
	rsv_finish_wait(&d->poller_wq, &we);
	return 0;
}

void rsv__daemon_teardown(struct rsv_scenario_run *run)
{
	struct rsv__daemon *d = run->data;

	if (d)
		rsv_mempool_destroy(d->bufs);
	free(d);
}

void rsv__daemon_pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct rsv__daemon *d = run->data;

	if (!d || !d->bufs)
		return;
	*fill = rsv_mempool_curr_nr(d->bufs);
	*size = rsv_mempool_min_nr(d->bufs);
}

#define FILL_MAX 4096

int rsv__daemon_init(struct rsv__daemon *d, struct rsv_scenario_run *run, long bufs, uint64_t io_ns,
		     enum rsv__daemon_handoff handoff, unsigned users)
{
	static const char *const names[RSV__DAEMON_MAX_CH] = { "channel 0", "channel 1" };
	struct rsv_watermarks wm;
	struct rsv_page **fill;

	d->run = run;
	d->handoff = handoff;
	atomic_store(&d->users, users);
	for (unsigned ch = 0; ch < RSV__DAEMON_MAX_CH; ch++) {
		rsv_mutex_init(&d->ch[ch].lock, names[ch]);
		rsv_list_init(&d->ch[ch].parked);
	}
	rsv_mutex_init(&d->share, "pool share");
	rsv_waitqueue_init(&d->poller_wq, "nomem poller");
	/* Reads land in the buffers; the disk keeps nothing (null_blk), reads return zeros. */
	d->disk = rsv_ramdev_create(run->sys, "disk", 16, io_ns, RSV_RAMDEV_NULL);
	if (!d->disk || !(d->bufs = rsv_mempool_create_page_pool(run->sys, (int)bufs, 0)))
		return rsv__scenario_setup_error(run, -ENOMEM,
						 "setup: the disk or the pool of "
						 "bufs=%ld buffers",
						 bufs);
	rsv_mempool_set_name(d->bufs, "daemon buffers");
	/* Memory short, half the min watermark free: the pool's backing allocations
	 * (GFP_NOWAIT) fail, its elements are all the daemon has. The pages stay taken for the
	 * run's life (the system's destruction gives them back). */
	if (!(fill = calloc(FILL_MAX, sizeof(*fill))))
		return -ENOMEM;
	rsv_system_watermarks(run->sys, &wm);
	rsv__scenario_exhaust(run->sys, wm.min / 2, fill, FILL_MAX, true);
	free(fill);
	return 0;
}
