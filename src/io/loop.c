/* The loop device: block requests turned into writes on a file of a filesystem.
 *
 * One worker task takes the queued requests a batch at a time. Its page-cache allocations are
 * GFP_KERNEL, so without a scope they may reclaim with __GFP_IO and __GFP_FS, and reclaim may
 * wait on I/O to the loop device itself, or on a lock of a device stacked on it: the 2019
 * dm-bufio deadlock. Policy loop=noio runs each batch under PF_MEMALLOC_NOIO |
 * PF_LOCAL_THROTTLE and restores the worker's flags after it (d0a255e795ab, and
 * loop_process_work today). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "reservoir/harness.h"
#include "common/list.h"

struct loop_dev {
	struct rsv_bdev bdev;
	struct rsv_fs *fs;
	struct rsv_spinlock lock;
	struct rsv_list queue;
	struct rsv_waitqueue wait;
};

static bool queued(struct loop_dev *lo)
{
	bool any;

	rsv_spin_lock(&lo->lock);
	any = !rsv_list_empty(&lo->queue);
	rsv_spin_unlock(&lo->lock);
	return any;
}

/* Takes the whole queue, as loop_process_work() does, into @batch. */
static void take_batch(struct loop_dev *lo, struct rsv_list *batch)
{
	rsv_list_init(batch);
	rsv_spin_lock(&lo->lock);
	while (!rsv_list_empty(&lo->queue)) {
		struct rsv_list *n = lo->queue.next;

		rsv_list_del(n);
		rsv_list_add_tail(n, batch);
	}
	rsv_spin_unlock(&lo->lock);
}

static void handle(struct loop_dev *lo, struct rsv_request *req)
{
	int err = 0;

	if (req->op == RSV_REQ_WRITE)
		err = rsv_fs_write(lo->fs, rsv_page_address(req->page), RSV_GFP_KERNEL);
	rsv_request_complete(req, err);
}

static int loop_worker(void *arg)
{
	struct loop_dev *lo = arg;
	bool noio = rsv_policy_get(rsv_system_policy(lo->bdev.sys), RSV_POLICY_LOOP) ==
		    RSV_LOOP_NOIO;

	for (;;) {
		struct rsv_list batch;
		unsigned saved = 0;

		rsv_wait_event(&lo->wait, queued(lo) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		take_batch(lo, &batch);
		if (noio)
			saved = rsv_memalloc_flags_save(RSV_PF_MEMALLOC_NOIO |
							RSV_PF_LOCAL_THROTTLE);
		rsv_lockdep_acquire(lo->bdev.sys, lo->bdev.io_class);
		while (!rsv_list_empty(&batch)) {
			struct rsv_request *req =
				rsv_container_of(batch.next, struct rsv_request, node);

			rsv_list_del(&req->node);
			handle(lo, req);
		}
		rsv_lockdep_release(lo->bdev.sys, lo->bdev.io_class);
		if (noio)
			rsv_memalloc_flags_restore(saved);
	}
}

static int loop_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct loop_dev *lo = (struct loop_dev *)bdev;

	rsv_spin_lock(&lo->lock);
	rsv_list_add_tail(&req->node, &lo->queue);
	rsv_spin_unlock(&lo->lock);
	rsv_wake_up(&lo->wait);
	return 0;
}

static void loop_destroy(struct rsv_bdev *bdev)
{
	free(bdev);
}

static const struct rsv_bdev_ops loop_ops = {
	.submit = loop_submit,
	.destroy = loop_destroy,
};

struct rsv_bdev *rsv_loop_create(struct rsv_system *sys, const char *name, struct rsv_fs *fs,
				 uint64_t nr_sectors)
{
	struct loop_dev *lo;
	char task[32];

	if (!sys || !fs || !nr_sectors || !rsv_task_current())
		return errno = EINVAL, NULL;
	if (!(lo = calloc(1, sizeof(*lo))))
		return errno = ENOMEM, NULL;
	lo->fs = fs;
	rsv_spin_init(&lo->lock);
	rsv_list_init(&lo->queue);
	rsv_waitqueue_init(&lo->wait, "loop queue");
	/* Its writes enter a filesystem: reclaim writing to it needs __GFP_FS. */
	rsv_bdev_register(&lo->bdev, sys, name, &loop_ops, nr_sectors, RSV_BDEV_NEEDS_FS);
	snprintf(task, sizeof(task), "%.24s", lo->bdev.name);
	if (!(lo->bdev.worker = rsv_kthread_create(sys, task, loop_worker, lo)))
		return NULL; /* registered: freed with the system */
	return &lo->bdev;
}
