/* Block devices: request submission and completion, and the RAM device.
 *
 * A request is in one of three states, changed by compare-and-swap, so that a device that
 * completes twice (or a caller who resubmits a request in flight) is caught and counted
 * instead of running end_io twice. The RAM device keeps its data outside the arena: a device's
 * storage is not the machine's memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reclaim/internal.h"

enum { REQ_IDLE, REQ_INFLIGHT, REQ_COMPLETING };

int rsv_bdev_register(struct rsv_bdev *bdev, struct rsv_system *sys, const char *name,
		      const struct rsv_bdev_ops *ops, uint64_t nr_sectors, unsigned flags)
{
	struct rsv_reclaim *r;

	if (!bdev || !sys || !ops || !ops->submit || !nr_sectors)
		return -EINVAL;
	r = rsv__reclaim(sys);
	bdev->ops = ops;
	bdev->sys = sys;
	snprintf(bdev->name, sizeof(bdev->name), "%s", name ? name : "bdev");
	snprintf(bdev->io_class, sizeof(bdev->io_class), "io:%s", bdev->name);
	bdev->flags = flags;
	bdev->nr_sectors = nr_sectors;
	atomic_init(&bdev->submitted, 0);
	atomic_init(&bdev->completed, 0);
	atomic_init(&bdev->inflight, 0);
	atomic_init(&bdev->bad_completions, 0);
	rsv_waitqueue_init(&bdev->io_done, "I/O completion");
	rsv_spin_lock(&r->objects_lock);
	rsv_list_add_tail(&bdev->node, &r->bdevs);
	rsv_spin_unlock(&r->objects_lock);
	return 0;
}

int rsv_submit_request(struct rsv_request *req)
{
	struct rsv_bdev *bdev = req->bdev;
	int idle = REQ_IDLE;
	int err;

	if (!bdev || !req->page || req->sector >= bdev->nr_sectors)
		return -EINVAL;
	if (!atomic_compare_exchange_strong(&req->state, &idle, REQ_INFLIGHT))
		return rsv__misuse(bdev->sys, "request %p submitted to \"%s\" while in flight",
				   (void *)req, bdev->name);
	req->error = 0;
	req->submit_time = rsv_now();
	atomic_fetch_add(&bdev->submitted, 1);
	atomic_fetch_add(&bdev->inflight, 1);
	err = bdev->ops->submit(bdev, req);
	if (err) {
		atomic_store(&req->state, REQ_IDLE);
		atomic_fetch_sub(&bdev->inflight, 1);
	}
	return err;
}

int rsv_request_complete(struct rsv_request *req, int error)
{
	struct rsv_bdev *bdev = req->bdev;
	int inflight = REQ_INFLIGHT;
	void (*end_io)(struct rsv_request *);

	if (!atomic_compare_exchange_strong(&req->state, &inflight, REQ_COMPLETING)) {
		atomic_fetch_add(&bdev->bad_completions, 1);
		rsv__misuse(bdev->sys, "device \"%s\" completed request %p, which is not in flight",
			    bdev->name, (void *)req);
		return -EALREADY;
	}
	req->error = error;
	end_io = req->end_io;
	/* From here a waiter may reuse or free the request: end_io may resubmit it. */
	atomic_store(&req->state, REQ_IDLE);
	atomic_fetch_sub(&bdev->inflight, 1);
	atomic_fetch_add(&bdev->completed, 1);
	if (end_io)
		end_io(req);
	else if (rsv_waitqueue_active(&bdev->io_done))
		rsv_wake_up_all(&bdev->io_done);
	return 0;
}

int rsv_request_wait(struct rsv_request *req)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_bdev *bdev = req->bdev;
	struct rsv_task_doing prev;

	if (!bdev)
		return -EINVAL;
	if (!t || req->end_io)
		return rsv__misuse(bdev->sys, "rsv_request_wait(%p) on \"%s\": %s", (void *)req,
				   bdev->name, !t ? "not called by a task"
						  : "the request has an end_io: its completion is "
						    "the caller's to wait for");
	rsv_lockdep_wait(bdev->sys, bdev->io_class);
	prev = rsv__doing_begin(t, RSV_DOING_IO, bdev);
	rsv_wait_event(&bdev->io_done, atomic_load(&req->state) == REQ_IDLE);
	t->doing = prev;
	return req->error;
}

void rsv__bdevs_destroy_all(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_list *pos, *tmp;

	rsv_list_for_each_safe(pos, tmp, &r->bdevs) {
		struct rsv_bdev *b = rsv_container_of(pos, struct rsv_bdev, node);

		rsv_list_del(&b->node);
		if (b->ops->destroy)
			b->ops->destroy(b);
	}
}

/* ---- the RAM device ---- */

struct ramdev {
	struct rsv_bdev bdev;
	uint64_t latency_ns;
	struct rsv_spinlock lock;
	struct rsv_list queue;
	struct rsv_waitqueue wait;
	unsigned char **sectors; /* written pages, allocated on first write; NULL: a null device */
};

static int ramdev_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct ramdev *rd = rsv_container_of(bdev, struct ramdev, bdev);

	rsv_spin_lock(&rd->lock);
	rsv_list_add_tail(&req->node, &rd->queue);
	rsv_spin_unlock(&rd->lock);
	rsv_wake_up(&rd->wait);
	return 0;
}

static int transfer(struct ramdev *rd, struct rsv_request *req)
{
	unsigned char **slot = rd->sectors ? &rd->sectors[req->sector] : NULL;
	void *data = rsv_page_address(req->page);

	if (!data)
		return -EIO;
	if (!slot) {
		if (req->op == RSV_REQ_READ)
			memset(data, 0, RSV_PAGE_SIZE);
		return 0;
	}
	if (req->op == RSV_REQ_READ) {
		if (*slot)
			memcpy(data, *slot, RSV_PAGE_SIZE);
		else
			memset(data, 0, RSV_PAGE_SIZE);
		return 0;
	}
	if (!*slot && !(*slot = malloc(RSV_PAGE_SIZE)))
		return -ENOMEM;
	memcpy(*slot, data, RSV_PAGE_SIZE);
	return 0;
}

static struct rsv_request *next_request(struct ramdev *rd)
{
	struct rsv_request *req = NULL;

	rsv_spin_lock(&rd->lock);
	if (!rsv_list_empty(&rd->queue)) {
		req = rsv_container_of(rd->queue.next, struct rsv_request, node);
		rsv_list_del(&req->node);
	}
	rsv_spin_unlock(&rd->lock);
	return req;
}

static bool ramdev_idle(struct ramdev *rd)
{
	bool empty;

	rsv_spin_lock(&rd->lock);
	empty = rsv_list_empty(&rd->queue);
	rsv_spin_unlock(&rd->lock);
	return empty;
}

/* The device's service task: requests complete in order, each no sooner than its latency
 * after submission. */
static int ramdev_main(void *arg)
{
	struct ramdev *rd = arg;

	for (;;) {
		struct rsv_request *req;
		uint64_t due, now;

		rsv_wait_event(&rd->wait, !ramdev_idle(rd) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		while ((req = next_request(rd))) {
			due = req->submit_time + rd->latency_ns;
			now = rsv_now();
			if (due > now)
				rsv_sleep_ns(due - now);
			rsv_request_complete(req, transfer(rd, req));
		}
	}
}

static void ramdev_destroy(struct rsv_bdev *bdev)
{
	struct ramdev *rd = rsv_container_of(bdev, struct ramdev, bdev);

	for (uint64_t i = 0; rd->sectors && i < bdev->nr_sectors; i++)
		free(rd->sectors[i]);
	free(rd->sectors);
	free(rd);
}

static const struct rsv_bdev_ops ramdev_ops = {
	.submit = ramdev_submit,
	.destroy = ramdev_destroy,
};

struct rsv_bdev *rsv_ramdev_create(struct rsv_system *sys, const char *name,
				   uint64_t nr_sectors, uint64_t latency_ns, unsigned flags)
{
	struct ramdev *rd;
	char task_name[32];

	if (!sys || !nr_sectors || nr_sectors > (1ULL << 32) ||
	    (flags & ~(RSV_BDEV_NEEDS_FS | RSV_RAMDEV_NULL))) {
		errno = EINVAL;
		return NULL;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd || (!(flags & RSV_RAMDEV_NULL) &&
		    !(rd->sectors = calloc(nr_sectors, sizeof(*rd->sectors))))) {
		free(rd);
		errno = ENOMEM;
		return NULL;
	}
	rd->latency_ns = latency_ns;
	rsv_spin_init(&rd->lock);
	rsv_list_init(&rd->queue);
	rsv_waitqueue_init(&rd->wait, "ramdev queue");
	rsv_bdev_register(&rd->bdev, sys, name, &ramdev_ops, nr_sectors, flags & RSV_BDEV_NEEDS_FS);
	snprintf(task_name, sizeof(task_name), "ramdev/%.20s", rd->bdev.name);
	if (!(rd->bdev.worker = rsv_kthread_create(sys, task_name, ramdev_main, rd)))
		return NULL; /* registered: freed with the system */
	return &rd->bdev;
}
