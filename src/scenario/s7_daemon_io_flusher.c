/* s7-daemon-io-flusher (PR_SET_IO_FLUSHER, 8d19f1c8e193; ublksrv and libublk-rs calling
 * prctl(PR_SET_IO_FLUSHER, 0) on a worker, fixed in 2026; the loop worker's d0a255e795ab is the
 * same rule in the kernel).
 *
 * A userspace block device (ublk0) is served by a daemon's worker threads, one hardware queue
 * each: a request submitted from a worker's CPU lands on that worker's own queue, the client's
 * on a shared one that any idle worker takes from. Each request costs the worker a buffer
 * (GFP_KERNEL: a userspace page fault) and a write to the backing disk. A filesystem on ublk0
 * keeps dirty inodes whose shrinker, under __GFP_FS (super_cache_scan()), writes one back
 * through ublk0 and waits for it. Memory is below min until a filler gives it back.
 *
 * A worker with PR_SET_IO_FLUSHER (PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE) allocates GFP_NOIO: its
 * reclaim skips the shrinker and it waits for the filler. ioflusher=late-cleared is the bug:
 * the pool's last worker runs with the flag cleared (one a dynamic pool added without it, or
 * set up with prctl(PR_SET_IO_FLUSHER, 0) by mistake); when a request reaches it
 * while memory is short (only some schedules: whichever idle worker runs first takes it), its
 * reclaim writes an inode to its own queue and waits for itself. ioflusher=every-worker sets
 * the flag on every worker. The situation is the bug's only when the late worker handled a
 * request while memory was below min; runs where it did not are out of it (invalid-setup). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/list.h"
#include "scenario/internal.h"

enum { P_WORKERS, P_IOS, P_INODES, P_HOLD_MS, P_IO_MS, NR_P };

#define MAX_WORKERS 64

static const struct rsv_scenario_param params[NR_P] = {
	[P_WORKERS] = { "workers", 12, 1, MAX_WORKERS,
			"daemon worker threads, one ublk queue each; the last is the late one" },
	[P_IOS] = { "ios", 1, 1, 1000, "writes the client submits to ublk0 while memory is short" },
	[P_INODES] = { "inodes", 64, 0, 1024, "dirty inodes of the filesystem on ublk0",
		       .swarm = true, .swarm_alt = 0 },
	[P_HOLD_MS] = { "hold_ms", 200, 1, 20000, "virtual ms until the filler frees memory" },
	[P_IO_MS] = { "io_ms", 1, 0, 1000, "backing disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 0 },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_IOFLUSHER };

#define FILL_MAX 4096

struct queue {
	struct rsv_bdev bdev; /* ublk0qN: requests submitted from worker N's CPU */
	struct rsv_list reqs;
};

struct s7 {
	struct rsv_scenario_run *run;
	struct rsv_bdev ublk; /* ublk0: the client's requests, taken by any idle worker */
	struct rsv_list shared;
	struct queue q[MAX_WORKERS];
	unsigned nr_workers;
	struct rsv_mutex lock; /* every queue's list */
	struct rsv_waitqueue work;
	struct rsv_bdev *disk;
	struct rsv_shrinker icache;
	struct rsv_page **inode_pages; /* a dirty inode's buffer, freed once written */
	_Atomic long dirty_inodes;
	_Atomic bool stop;
	_Atomic unsigned ready; /* workers with their flags set */
	unsigned refs;          /* the run's, and each registered device's (put_state()) */
	struct rsv_page *client_page;
	unsigned long min_wmark;
	/* What happened, for the judge. */
	_Atomic unsigned handled[MAX_WORKERS], handled_short[MAX_WORKERS];
	_Atomic unsigned inode_writes, inode_writes_own_queue, client_done;
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
};

static struct s7 *of(struct rsv_bdev *bdev)
{
	return bdev->private;
}

/* The daemon's side of a submission: onto a list, every idle worker woken. Once the daemon
 * stops (its workers leave when their lists are empty, checked under the same lock), ublk0 is
 * gone: a late write (kswapd's, from the inode shrinker) is refused, not left unserved. */
static int enqueue(struct s7 *s, struct rsv_list *list, struct rsv_request *req)
{
	rsv_mutex_lock(&s->lock);
	if (atomic_load(&s->stop)) {
		rsv_mutex_unlock(&s->lock);
		return -ESHUTDOWN;
	}
	rsv_list_add_tail(&req->node, list);
	rsv_mutex_unlock(&s->lock);
	rsv_wake_up_all(&s->work);
	return 0;
}

static int shared_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	return enqueue(of(bdev), &of(bdev)->shared, req);
}

static int queue_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct queue *q = rsv_container_of(bdev, struct queue, bdev);

	return enqueue(of(bdev), &q->reqs, req);
}

/* The scenario's state holds its devices, which the system destroys after the run, one after
 * another in the order they were registered; a worker stuck in the shrinker keeps the state
 * in use until then. So the run and each registered device hold a reference, and the last to
 * go frees it: a device's, at the system's destruction, when its kernel threads have stopped
 * and the shrinker may go without waiting for a scan that will never end. */
static void put_state(struct s7 *s)
{
	if (--s->refs)
		return;
	if (s->icache.registered)
		rsv_unregister_shrinker(s->run->sys, &s->icache);
	free(s->inode_pages);
	free(s);
}

static void ublk_destroy(struct rsv_bdev *bdev)
{
	put_state(of(bdev));
}

static const struct rsv_bdev_ops shared_ops = { .submit = shared_submit, .destroy = ublk_destroy };
static const struct rsv_bdev_ops queue_ops = { .submit = queue_submit, .destroy = ublk_destroy };

/* The queue of the CPU the caller runs on: its own if it is a worker, else the shared one. */
static struct rsv_bdev *cpu_queue(struct s7 *s)
{
	struct rsv_task *me = rsv_task_current();

	for (unsigned i = 0; i < s->nr_workers; i++)
		if (s->q[i].bdev.worker == me)
			return &s->q[i].bdev;
	return &s->ublk;
}

/* The filesystem's inode cache: reclaimable only where reclaim may enter the filesystem. */
static unsigned long icache_count(struct rsv_shrinker *sh, struct rsv_shrink_control *sc)
{
	struct s7 *s = sh->private_data;

	(void)sc;
	return (unsigned long)atomic_load(&s->dirty_inodes);
}

/* Writes dirty inodes back through ublk0, from the caller's CPU, one at a time, waiting for
 * each (the inode is freed only once its write is stable). An inode is a slab object: freeing
 * a few frees no page, so that writing them back is what reclaim may wait on, not what ends
 * the shortage (the filler does). */
static unsigned long icache_scan(struct rsv_shrinker *sh, struct rsv_shrink_control *sc)
{
	struct s7 *s = sh->private_data;
	unsigned long freed = 0;

	if (!(sc->gfp_mask & RSV___GFP_FS))
		return RSV_SHRINK_STOP;
	while (freed < sc->nr_to_scan) {
		long n = atomic_fetch_sub(&s->dirty_inodes, 1);
		struct rsv_request req;
		struct rsv_bdev *dev;

		if (n <= 0) {
			atomic_fetch_add(&s->dirty_inodes, 1);
			break;
		}
		dev = cpu_queue(s);
		req = (struct rsv_request){ .bdev = dev,
					    .op = RSV_REQ_WRITE,
					    .sector = (uint64_t)(n - 1) % dev->nr_sectors,
					    .page = s->inode_pages[n - 1] };
		atomic_fetch_add(&s->inode_writes, 1);
		if (dev != &s->ublk)
			atomic_fetch_add(&s->inode_writes_own_queue, 1);
		if (rsv_submit_request(&req)) {
			atomic_fetch_add(&s->dirty_inodes, 1); /* ublk0 is gone: still dirty */
			break;
		}
		rsv_request_wait(&req);
		freed++;
	}
	return freed ? freed : RSV_SHRINK_STOP;
}

/* The worker's own queue first, then the shared one; NULL once stopped with nothing left. */
static struct rsv_request *next_request(struct s7 *s, struct queue *q)
{
	struct rsv_request *req = NULL;
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(&s->work, &we, RSV_TASK_UNINTERRUPTIBLE);
		rsv_mutex_lock(&s->lock);
		if (!rsv_list_empty(&q->reqs))
			req = rsv_container_of(q->reqs.next, struct rsv_request, node);
		else if (!rsv_list_empty(&s->shared))
			req = rsv_container_of(s->shared.next, struct rsv_request, node);
		if (req)
			rsv_list_del(&req->node);
		rsv_mutex_unlock(&s->lock);
		if (req || atomic_load(&s->stop))
			break;
		rsv_schedule();
	}
	rsv_finish_wait(&s->work, &we);
	return req;
}

static int worker(void *arg)
{
	struct queue *q = arg;
	struct s7 *s = of(&q->bdev);
	unsigned idx = (unsigned)(q - s->q);
	bool late = idx == s->nr_workers - 1;
	struct rsv_request *req;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	/* The fix: every worker asks for the flag. The bug: the late one clears it. */
	rsv_task_set_io_flusher(!late || rsv_policy_get(rsv_system_policy(s->run->sys),
							RSV_POLICY_IOFLUSHER) ==
						 RSV_IOFLUSHER_EVERY_WORKER,
				NULL);
	q->bdev.worker = rsv_task_current();
	atomic_fetch_add(&s->ready, 1);
	while ((req = next_request(s, q))) {
		struct rsv_page *buf;
		struct rsv_request w;
		int err = -ENOMEM;

		/* Counted before the allocation, which may never return. */
		atomic_fetch_add(&s->handled[idx], 1);
		if (rsv_system_free_pages(s->run->sys) < s->min_wmark)
			atomic_fetch_add(&s->handled_short[idx], 1);
		buf = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
		if (buf) {
			w = (struct rsv_request){ .bdev = s->disk,
						  .op = RSV_REQ_WRITE,
						  .sector = req->sector % s->disk->nr_sectors,
						  .page = buf };
			err = rsv_submit_request(&w);
			if (!err)
				err = rsv_request_wait(&w);
			rsv_free_pages(buf, 0);
		}
		rsv_progress_inc(&s->run->progress);
		rsv_request_complete(req, err);
	}
	return 0;
}

/* Memory below min from the start until hold_ms, as a process that then exits. */
static int filler(void *arg)
{
	struct s7 *s = arg;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	rsv_msleep((unsigned)s->run->p[P_HOLD_MS]);
	while (s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	return 0;
}

/* The client: its writes to ublk0, each waited for, once every worker is idle. */
static int client(void *arg)
{
	struct s7 *s = arg;
	struct rsv_page *page = s->client_page;

	/* Every worker idle: which takes the first request is the scheduler's choice. */
	while (atomic_load(&s->ready) < s->nr_workers)
		rsv_msleep(1);
	rsv_msleep(1);
	for (long i = 0; i < s->run->p[P_IOS]; i++) {
		struct rsv_request req = { .bdev = &s->ublk,
					   .op = RSV_REQ_WRITE,
					   .sector = (uint64_t)i % s->ublk.nr_sectors,
					   .page = page };

		if (!rsv_submit_request(&req))
			rsv_request_wait(&req);
	}
	atomic_store(&s->client_done, 1);
	rsv_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	rsv_mutex_unlock(&s->lock);
	rsv_wake_up_all(&s->work);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s7 *s = calloc(1, sizeof(*s));
	struct rsv_watermarks wm;
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	s->refs = 1;
	s->nr_workers = (unsigned)p[P_WORKERS];
	rsv_mutex_init(&s->lock, "ublk0 queues");
	rsv_waitqueue_init(&s->work, "ublk0 idle workers");
	rsv_list_init(&s->shared);
	rsv_system_watermarks(run->sys, &wm);
	s->min_wmark = wm.min;
	s->disk = rsv_ramdev_create(run->sys, "disk", 1024,
				    (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	if (!s->disk)
		return -ENOMEM;
	s->ublk.private = s;
	if ((err = rsv_bdev_register(&s->ublk, run->sys, "ublk0", &shared_ops, 1024,
				     RSV_BDEV_NEEDS_FS)))
		return err;
	s->refs++;
	for (unsigned i = 0; i < s->nr_workers; i++) {
		char name[32];

		snprintf(name, sizeof(name), "ublk0q%u", i);
		rsv_list_init(&s->q[i].reqs);
		s->q[i].bdev.private = s;
		if ((err = rsv_bdev_register(&s->q[i].bdev, run->sys, name, &queue_ops, 1024,
					     RSV_BDEV_NEEDS_FS)))
			return err;
		s->refs++;
	}
	if (!(s->inode_pages = calloc((size_t)p[P_INODES] + 1, sizeof(*s->inode_pages))))
		return -ENOMEM;
	for (long i = 0; i < p[P_INODES]; i++)
		if (!(s->inode_pages[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
			return rsv__scenario_setup_error(run, -ENOMEM,
							 "setup: inode %ld of "
							 "inodes=%ld",
							 i, p[P_INODES]);
	atomic_store(&s->dirty_inodes, p[P_INODES]);
	if (!(s->client_page = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
		return -ENOMEM;
	s->icache = (struct rsv_shrinker){ .count_objects = icache_count,
					   .scan_objects = icache_scan,
					   .seeks = 1,
					   .name = "ublk0 fs inodes",
					   .private_data = s };
	if ((err = rsv_register_shrinker(run->sys, &s->icache)))
		return err;
	/* Below min (above the half of it where direct reclaimers wait for kswapd), without
	 * waking kswapd: a worker's allocation must reclaim, and at once. */
	s->nr_fill = rsv__scenario_exhaust(run->sys, wm.min * 3 / 4, s->fill, FILL_MAX, true);
	for (unsigned i = 0; i < s->nr_workers; i++)
		if ((err = rsv__scenario_task(run,
					      i == s->nr_workers - 1 ? "late worker" : "worker",
					      worker, &s->q[i])))
			return err;
	if ((err = rsv__scenario_task(run, "filler", filler, s)) ||
	    (err = rsv__scenario_task(run, "client", client, s)))
		return err;
	return 0;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s7 *s = run->data;
	unsigned late = s->nr_workers - 1, others = 0;

	for (unsigned i = 0; i < late; i++)
		others += atomic_load(&s->handled[i]);
	rsv__scenario_counter(run, "late_worker_requests", atomic_load(&s->handled[late]));
	rsv__scenario_counter(run, "late_worker_requests_short",
			      atomic_load(&s->handled_short[late]));
	rsv__scenario_counter(run, "other_worker_requests", others);
	rsv__scenario_counter(run, "inode_writes", atomic_load(&s->inode_writes));
	rsv__scenario_counter(run, "inode_writes_own_queue",
			      atomic_load(&s->inode_writes_own_queue));
	rsv__scenario_counter(run, "client_done", atomic_load(&s->client_done));
	if (!atomic_load(&s->handled_short[late])) {
		rsv__scenario_invalid(run,
				      "the late worker served no request while memory was "
				      "short (%u requests went to the others; workers=%ld, "
				      "ios=%ld)",
				      others, run->p[P_WORKERS], run->p[P_IOS]);
		return;
	}
}

static void teardown(struct rsv_scenario_run *run)
{
	if (run->data)
		put_state(run->data);
}

static const struct rsv_scenario_property sometimes[] = {
	{ "the late worker serves a request while memory is short", "late_worker_requests_short" },
	{ "reclaim writes an inode back through ublk0", "inode_writes" },
};

const struct rsv_scenario rsv__s7_daemon_io_flusher = {
	.name = "s7-daemon-io-flusher",
	RSV__SCENARIO_TABLES,
	.summary = "a ublk daemon's workers run with PR_SET_IO_FLUSHER but a late one cleared it: "
		   "its reclaim writes back through its own queue and waits for itself. Racy: "
		   "only where the late worker is the idle one that takes a request first",
	.nr_pages = 2048,
	.setup = setup,
	.judge = judge,
	.teardown = teardown,
};
