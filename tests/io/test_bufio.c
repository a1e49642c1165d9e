/* dm-bufio: buffers held by their users, dirty ones written back, and the shrinker under each
 * `bufio` policy: gfp-fs evicts (and writes) only for reclaim with __GFP_FS and stops at a
 * contended mutex; workqueue hands the work to the client's worker and never blocks. */
#include "helpers.h"

TestSuite(bufio, .timeout = 60);

#define BUFFERS 6

/* A system under @policy with a bufio client over a RAM device, in *@client. */
static struct rsv_system *bufio_system(enum rsv_backend backend, const char *policy,
				       struct rsv_bufio_client **client)
{
	struct rsv_system_config cfg = { .nr_pages = 512, .backend = backend, .seed = 8,
					 .misuse = RSV_MISUSE_RETURN };
	struct rsv_system *sys;

	cr_assert_eq(rsv_policy_parse(&cfg.policy, policy, NULL, 0), 0);
	sys = rsv_system_create(&cfg);
	cr_assert_not_null(sys);
	rsv_task_attach(sys, "setup");
	*client = rsv_bufio_create(sys, "client", rsv_ramdev_create(sys, "ram0", 64, 0, 0));
	cr_assert_not_null(*client);
	rsv_task_detach();
	return sys;
}

/* BUFFERS buffers, blocks 0..BUFFERS-1, the first two dirty; block 0 stays held. */
static struct rsv_buffer *populate(struct rsv_bufio_client *c)
{
	struct rsv_buffer *held = NULL;

	for (uint64_t b = 0; b < BUFFERS; b++) {
		struct rsv_buffer *buf = rsv_bufio_new(c, b, RSV_GFP_KERNEL);

		cr_assert_not_null(buf);
		memset(rsv_buffer_data(buf), (int)b, RSV_PAGE_SIZE);
		if (b < 2)
			rsv_bufio_mark_dirty(buf);
		if (b == 0)
			held = buf;
		else
			rsv_bufio_release(buf);
	}
	{
		struct rsv_buffer *a = rsv_bufio_new(c, 3, RSV_GFP_KERNEL);
		struct rsv_buffer *b = rsv_bufio_new(c, 3, RSV_GFP_KERNEL);

		cr_assert_eq(a, b, "one buffer per block");
		cr_assert_eq(((unsigned char *)rsv_buffer_data(a))[100], 3, "its data kept");
		rsv_bufio_release(a);
		rsv_bufio_release(b);
	}
	return held;
}

struct fs_test {
	struct rsv_bufio_client *c;
	struct rsv_bufio_stats filled, contended, nofs, kernel, written;
	int write_err;
	unsigned char held_data;
};

static int fs_reclaimer(void *arg)
{
	struct fs_test *t = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_buffer *held = populate(t->c);

	rsv_bufio_stats(t->c, &t->filled);
	/* The mutex held (by us): a scan may not block on it, so it stops. */
	rsv_mutex_lock(rsv_bufio_lock(t->c));
	rsv_shrink_slab(sys, RSV_GFP_NOFS, 0);
	rsv_mutex_unlock(rsv_bufio_lock(t->c));
	rsv_bufio_stats(t->c, &t->contended);
	/* NOFS: clean, unheld buffers go; the dirty ones stay unwritten. */
	rsv_shrink_slab(sys, RSV_GFP_NOFS, 0);
	rsv_bufio_stats(t->c, &t->nofs);
	/* GFP_KERNEL may write: the unheld dirty buffer is written, then freed. */
	rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0);
	rsv_bufio_stats(t->c, &t->kernel);
	t->held_data = ((unsigned char *)rsv_buffer_data(held))[17];
	t->write_err = rsv_bufio_write_dirty(t->c);
	rsv_bufio_stats(t->c, &t->written);
	rsv_bufio_release(held);
	return 0;
}

static void gfp_fs_gates_eviction(enum rsv_backend backend)
{
	struct fs_test t = { 0 };
	struct rsv_system *sys = bufio_system(backend, "bufio=gfp-fs", &t.c);

	rsv_task_create(sys, "reclaimer", fs_reclaimer, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.filled.buffers, BUFFERS);
	cr_assert_gt(t.contended.stops, 0, "a held mutex stops a NOFS scan");
	cr_assert_eq(t.contended.evicted, 0);
	cr_assert_eq(t.nofs.evicted, BUFFERS - 2, "the clean unheld ones");
	cr_assert_eq(t.nofs.written, 0, "no writing without __GFP_FS");
	cr_assert_eq(t.kernel.written, 1);
	cr_assert_eq(t.kernel.buffers, 1, "only the held buffer is left");
	cr_assert_eq(t.held_data, 0, "its data intact");
	cr_assert_eq(t.write_err, 0);
	cr_assert_eq(t.written.written, 2, "write_dirty wrote the held one");
	teardown_holding(sys, 1); /* the held buffer's page, released but cached */
}

Test(bufio, gfp_fs_gates_eviction_on_the_simulator) { gfp_fs_gates_eviction(RSV_BACKEND_SIM); }
Test(bufio, gfp_fs_gates_eviction_on_real_threads) { gfp_fs_gates_eviction(RSV_BACKEND_OS); }

struct wq_test {
	struct rsv_bufio_client *c;
	struct rsv_bufio_stats after_scan, settled;
};

static int reclaimer(void *arg)
{
	struct wq_test *t = arg;

	rsv_bufio_release(populate(t->c));
	/* The reclaimer holds the client's mutex: under workqueue the scan must not care. */
	rsv_mutex_lock(rsv_bufio_lock(t->c));
	rsv_shrink_slab(rsv_task_system(rsv_task_current()), RSV_GFP_KERNEL, 0);
	rsv_bufio_stats(t->c, &t->after_scan);
	rsv_mutex_unlock(rsv_bufio_lock(t->c));
	for (int i = 0; i < 200; i++) {
		rsv_bufio_stats(t->c, &t->settled);
		if (t->settled.buffers == 0)
			break;
		rsv_msleep(1);
	}
	return 0;
}

static void workqueue_defers_to_the_worker(enum rsv_backend backend)
{
	struct wq_test t = { 0 };
	struct rsv_system *sys = bufio_system(backend, "bufio=workqueue", &t.c);

	rsv_task_create(sys, "reclaimer", reclaimer, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_gt(t.after_scan.scans, 0);
	cr_assert_eq(t.after_scan.evicted, 0, "the scan itself evicts nothing");
	cr_assert_eq(t.after_scan.stops, 0, "and never stops on the mutex");
	cr_assert_gt(t.settled.worker_runs, 0);
	cr_assert_eq(t.settled.buffers, 0, "the worker evicted every buffer, dirty ones too");
	cr_assert_eq(t.settled.written, 2);
	teardown_whole(sys);
}

Test(bufio, workqueue_defers_to_the_worker_on_the_simulator)
{
	workqueue_defers_to_the_worker(RSV_BACKEND_SIM);
}

Test(bufio, workqueue_defers_to_the_worker_on_real_threads)
{
	workqueue_defers_to_the_worker(RSV_BACKEND_OS);
}
