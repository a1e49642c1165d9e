/* Throttling policies: 300 pages under writeback on a slow device against a dirty limit of
 * 200 (threshold 220), and a kcryptd-like NOIO workqueue worker that reclaims. */
#include <stdlib.h>
#include "helpers.h"
#include "reclaim/internal.h"

/* The flusher's way to write a page still on the LRU: claimed under lru_lock, submitted
 * outside it (rsv__writeback_claim() asserts the lock for a page on the LRU). */
static void claim_and_submit(struct rsv_system *sys, struct rsv_page *p)
{
	bool was_dirty;

	rsv_spin_lock(&rsv__reclaim(sys)->lru_lock);
	was_dirty = rsv__writeback_claim(p);
	rsv_spin_unlock(&rsv__reclaim(sys)->lru_lock);
	rsv__writeback_submit(p, was_dirty);
}

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(throttle, .timeout = 60);

struct thr {
	rsv_gfp_t gfp;
	unsigned flags;
	uint64_t delay_ns, elapsed;
	unsigned long reclaimed;
	struct rsv_task *task;
};

static int reclaimer(void *arg)
{
	struct thr *t = arg;
	uint64_t start;

	t->task = rsv_task_current();
	rsv_task_set_flags(t->flags, 0);
	rsv_sleep_ns(t->delay_ns);
	start = rsv_now();
	t->reclaimed = rsv_try_to_free_pages(t->gfp, 0);
	t->elapsed = rsv_now() - start;
	return 0;
}

static struct rsv_system *writeback_heavy(enum rsv_throttle_policy policy, struct thr *t)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_SIM, .seed = 4, .dirty_thresh_pages = 200,
		.misuse = RSV_MISUSE_RETURN, .policy.value[RSV_POLICY_THROTTLE] = policy });
	struct rsv_bdev *slow = rsv_ramdev_create(sys, "slow", 4096, 10 * RSV_NSEC_PER_SEC, 0);
	struct rsv_mapping *file;

	rsv_task_attach(sys, "setup");
	file = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", slow, RSV_MAPPING_FS);
	for (int i = 0; i < 300; i++) {
		struct rsv_page *p = rsv_mapping_add_page(file, RSV_GFP_KERNEL, (uint64_t)i);

		rsv_page_mark_dirty(p);
		claim_and_submit(sys, p); /* as the flusher does */
	}
	rsv_task_detach();
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_WRITEBACK), 300);
	rsv_task_create(sys, "kcryptd", reclaimer, t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	return sys;
}

#define HZ_10 (RSV_NSEC_PER_SEC / 10)

Test(throttle, vm_writeout_puts_a_noio_worker_to_sleep_hz_10_per_call)
{
	struct thr t = { .gfp = RSV_GFP_NOIO, .flags = RSV_PF_WQ_WORKER };
	struct rsv_system *sys = writeback_heavy(RSV_THROTTLE_VM_WRITEOUT, &t);
	uint64_t sleeps = rsv_task_stat(t.task, RSV_STAT_THROTTLE_VM_WRITEOUT);

	cr_assert_geq(sleeps, 1);
	/* Without __GFP_FS|__GFP_IO it leaves after one sleep: HZ/10 per call (plus the
	 * simulator's microsecond per scheduling decision). */
	cr_assert_geq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NS), sleeps * HZ_10);
	cr_assert_lt(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NS), sleeps * (HZ_10 + RSV_JIFFY_NS));
	cr_assert_geq(t.elapsed, sleeps * HZ_10);
	cr_assert_lt(t.elapsed, 10 * RSV_NSEC_PER_SEC, "it waited for the writeback itself");
	rsv_system_destroy(sys);
}

Test(throttle, reclaim_throttle_leaves_the_worker_alone)
{
	struct thr t = { .gfp = RSV_GFP_NOIO, .flags = RSV_PF_WQ_WORKER };
	struct rsv_system *sys = writeback_heavy(RSV_THROTTLE_RECLAIM, &t);

	cr_assert_eq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_VM_WRITEOUT), 0);
	cr_assert_eq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NOPROGRESS), 0);
	cr_assert_eq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NS), 0);
	cr_assert_lt(t.elapsed, RSV_NSEC_PER_MSEC);
	rsv_system_destroy(sys);
}

Test(throttle, reclaim_throttle_naps_a_plain_task_without_progress)
{
	/* Not a worker: no progress at priority 1 with mostly write-pending memory costs a
	 * jiffy, not HZ/10. */
	struct thr t = { .gfp = RSV_GFP_NOIO };
	struct rsv_system *sys = writeback_heavy(RSV_THROTTLE_RECLAIM, &t);

	cr_assert_eq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NOPROGRESS), 1);
	cr_assert_geq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NS), RSV_JIFFY_NS);
	cr_assert_lt(rsv_task_stat(t.task, RSV_STAT_THROTTLE_NS), 2 * RSV_JIFFY_NS);
	rsv_system_destroy(sys);
}

Test(throttle, less_throttle_exempts_pf_local_throttle)
{
	struct thr t = { .gfp = RSV_GFP_NOIO, .flags = RSV_PF_WQ_WORKER | RSV_PF_LESS_THROTTLE };
	struct rsv_system *sys = writeback_heavy(RSV_THROTTLE_LESS_THROTTLE_EXEMPT, &t);

	cr_assert_eq(rsv_task_stat(t.task, RSV_STAT_THROTTLE_VM_WRITEOUT), 0);
	rsv_system_destroy(sys);
	/* ...but only those: the same worker without the flag is throttled. */
	t = (struct thr){ .gfp = RSV_GFP_NOIO, .flags = RSV_PF_WQ_WORKER };
	sys = writeback_heavy(RSV_THROTTLE_LESS_THROTTLE_EXEMPT, &t);
	cr_assert_gt(rsv_task_stat(t.task, RSV_STAT_THROTTLE_VM_WRITEOUT), 0);
	rsv_system_destroy(sys);
}

Test(throttle, vm_writeout_loops_a_gfp_kernel_caller_until_writeback_drains)
{
	struct thr t = { .gfp = RSV_GFP_KERNEL };
	struct rsv_system *sys = writeback_heavy(RSV_THROTTLE_VM_WRITEOUT, &t);

	/* With FS and IO it keeps sleeping until the 10 s device has finished. */
	cr_assert_geq(t.elapsed, 9 * RSV_NSEC_PER_SEC);
	cr_assert_gt(rsv_task_stat(t.task, RSV_STAT_THROTTLE_VM_WRITEOUT), 50);
	cr_assert_leq(rsv_vm_counter(sys, RSV_NR_WRITEBACK), 220);
	rsv_system_destroy(sys);
}

/* ---- too many isolated ---- */

/* A crowd of reclaimers is faked by the isolated count of the file list, which holds 64 clean
 * pages: FS|IO callers may have an eighth of the list isolated (8), the others all of it. */
struct crowd {
	struct rsv_mapping *file;
	long fake_isolated;
	uint64_t release_after_ns; /* the crowd puts its pages back */
	struct thr reclaimers[2];
	int nr;
};

static int crowd_main(void *arg)
{
	struct crowd *c = arg;
	struct rsv_reclaim *r = rsv__reclaim(rsv_task_system(rsv_task_current()));

	rsv_msleep(0);
	rsv_sleep_ns(c->release_after_ns);
	atomic_fetch_sub(&r->isolated[RSV_LRU_FILE], c->fake_isolated);
	rsv__throttle_isolated_done(rsv_task_system(rsv_task_current()));
	return 0;
}

static struct rsv_system *crowded(enum rsv_throttle_policy policy, struct crowd *c)
{
	struct rsv_system *sys = rsv_system_create(
		&(struct rsv_system_config){ .nr_pages = 4096,
					     .backend = RSV_BACKEND_SIM,
					     .seed = 9,
					     .misuse = RSV_MISUSE_RETURN,
					     .policy.value[RSV_POLICY_THROTTLE] = policy });

	rsv_task_attach(sys, "setup");
	c->file = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", NULL, 0);
	for (int i = 0; i < 64; i++)
		cr_assert_not_null(rsv_mapping_add_page(c->file, RSV_GFP_KERNEL, (uint64_t)i));
	rsv_task_detach();
	atomic_fetch_add(&rsv__reclaim(sys)->isolated[RSV_LRU_FILE], c->fake_isolated);
	for (int i = 0; i < c->nr; i++)
		rsv_task_create(sys, "reclaimer", reclaimer, &c->reclaimers[i]);
	rsv_task_create(sys, "crowd", crowd_main, c);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	return sys;
}

static void crowd_teardown(struct rsv_system *sys, struct crowd *c)
{
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(c->file);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(throttle, too_many_isolated_stops_fs_io_callers_first)
{
	/* 10 isolated: over an eighth of 64 for GFP_KERNEL, not over 64 for GFP_NOFS. */
	struct crowd c = { .fake_isolated = 10, .release_after_ns = 5 * RSV_NSEC_PER_SEC,
			   .nr = 2, .reclaimers = { { .gfp = RSV_GFP_KERNEL },
						    { .gfp = RSV_GFP_NOFS } } };
	struct rsv_system *sys = crowded(RSV_THROTTLE_RECLAIM, &c);
	struct rsv_task *kernel = c.reclaimers[0].task, *nofs = c.reclaimers[1].task;

	/* One HZ/50 wait per list scan, then it gives the list up. */
	cr_assert_geq(rsv_task_stat(kernel, RSV_STAT_THROTTLE_ISOLATED), 1);
	cr_assert_geq(rsv_task_stat(kernel, RSV_STAT_THROTTLE_NS),
		      rsv_task_stat(kernel, RSV_STAT_THROTTLE_ISOLATED) * (RSV_NSEC_PER_SEC / 50));
	cr_assert_eq(rsv_task_stat(nofs, RSV_STAT_THROTTLE_ISOLATED), 0);
	cr_assert_lt(c.reclaimers[0].elapsed, RSV_NSEC_PER_SEC,
		     "it gave up, it did not wait it out");
	crowd_teardown(sys, &c);
}

Test(throttle, an_isolated_wait_ends_when_the_crowd_puts_pages_back)
{
	struct crowd c = { .fake_isolated = 10, .release_after_ns = 5 * RSV_NSEC_PER_MSEC,
			   .nr = 1, .reclaimers = { { .gfp = RSV_GFP_KERNEL } } };
	struct rsv_system *sys = crowded(RSV_THROTTLE_RECLAIM, &c);
	struct rsv_task *t = c.reclaimers[0].task;

	cr_assert_eq(rsv_task_stat(t, RSV_STAT_THROTTLE_ISOLATED), 1);
	cr_assert_lt(rsv_task_stat(t, RSV_STAT_THROTTLE_NS), 10 * RSV_NSEC_PER_MSEC,
		     "woken by the putback, not by the HZ/50 timeout");
	cr_assert_gt(c.reclaimers[0].reclaimed, 0, "then it reclaimed the clean pages");
	crowd_teardown(sys, &c);
}

Test(throttle, workers_are_never_throttled_for_isolation)
{
	struct crowd c = { .fake_isolated = 100, .release_after_ns = RSV_NSEC_PER_SEC,
			   .nr = 1, .reclaimers = { { .gfp = RSV_GFP_KERNEL,
						      .flags = RSV_PF_WQ_WORKER } } };
	struct rsv_system *sys = crowded(RSV_THROTTLE_RECLAIM, &c);

	cr_assert_eq(rsv_task_stat(c.reclaimers[0].task, RSV_STAT_THROTTLE_ISOLATED), 0);
	cr_assert_lt(c.reclaimers[0].elapsed, RSV_NSEC_PER_MSEC);
	crowd_teardown(sys, &c);
}

Test(throttle, pre_4_9_isolation_waits_hz_10_for_as_long_as_it_lasts)
{
	struct crowd c = { .fake_isolated = 10, .release_after_ns = 350 * RSV_NSEC_PER_MSEC,
			   .nr = 1, .reclaimers = { { .gfp = RSV_GFP_KERNEL } } };
	struct rsv_system *sys = crowded(RSV_THROTTLE_VM_WRITEOUT, &c);
	struct rsv_task *t = c.reclaimers[0].task;

	/* congestion_wait(HZ/10) is not woken by the putback: 4 naps cover 350 ms. */
	cr_assert_eq(rsv_task_stat(t, RSV_STAT_THROTTLE_ISOLATED), 4);
	cr_assert_geq(c.reclaimers[0].elapsed, 400 * RSV_NSEC_PER_MSEC);
	cr_assert_gt(c.reclaimers[0].reclaimed, 0);
	crowd_teardown(sys, &c);
}

/* ---- congested ---- */

struct congestion {
	struct rsv_page *held[4096];
	int nr_held;
	struct thr plain, local;
};

/* Takes memory until the zone is under its low mark, which wakes kswapd, then holds it. */
static int squeeze_main(void *arg)
{
	struct congestion *c = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_watermarks w;

	rsv_system_watermarks(sys, &w);
	while (rsv_system_free_pages(sys) >= w.low)
		c->held[c->nr_held++] = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY, 0);
	rsv_msleep(5000);
	for (int i = 0; i < c->nr_held; i++)
		rsv_free_pages(c->held[i], 0);
	return 0;
}

/* 300 pages under writeback on a 10 s device and the zone under low: kswapd meets them all
 * under writeback twice, marks the node congested; direct reclaimers then nap a jiffy per
 * pass, except PF_LOCAL_THROTTLE ones. */
Test(throttle, kswapd_marks_the_node_congested_and_direct_reclaim_naps)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_SIM, .seed = 4, .dirty_thresh_pages = 200,
		.misuse = RSV_MISUSE_RETURN });
	struct rsv_bdev *slow = rsv_ramdev_create(sys, "slow", 4096, 10 * RSV_NSEC_PER_SEC, 0);
	struct congestion *c = calloc(1, sizeof(*c));
	struct rsv_mapping *file;

	rsv_task_attach(sys, "setup");
	file = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", slow, 0);
	for (int i = 0; i < 300; i++) {
		struct rsv_page *p = rsv_mapping_add_page(file, RSV_GFP_KERNEL, (uint64_t)i);

		rsv_page_mark_dirty(p);
		claim_and_submit(sys, p);
	}
	rsv_task_detach();
	c->plain = (struct thr){ .gfp = RSV_GFP_KERNEL, .delay_ns = 3 * RSV_NSEC_PER_SEC };
	c->local = (struct thr){ .gfp = RSV_GFP_KERNEL, .delay_ns = 3 * RSV_NSEC_PER_SEC,
				 .flags = RSV_PF_LOCAL_THROTTLE };
	rsv_task_create(sys, "squeeze", squeeze_main, c);
	rsv_task_create(sys, "plain", reclaimer, &c->plain);
	rsv_task_create(sys, "local", reclaimer, &c->local);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_geq(rsv_stats_get(sys, RSV_STAT_KSWAPD_WAKEUP), 1);
	cr_assert_geq(rsv_task_stat(c->plain.task, RSV_STAT_THROTTLE_CONGESTED), 1);
	cr_assert_geq(rsv_task_stat(c->plain.task, RSV_STAT_THROTTLE_NS),
		      rsv_task_stat(c->plain.task, RSV_STAT_THROTTLE_CONGESTED) * RSV_JIFFY_NS);
	cr_assert_eq(rsv_task_stat(c->local.task, RSV_STAT_THROTTLE_CONGESTED), 0);
	rsv_system_destroy(sys);
	free(c);
}
