/* Throttling policies: 300 pages under writeback on a slow device against a dirty limit of
 * 200 (threshold 220), and a kcryptd-like NOIO workqueue worker that reclaims. */
#include "helpers.h"
#include "reclaim/internal.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(throttle, .timeout = 60);

struct thr {
	rsv_gfp_t gfp;
	unsigned flags;
	uint64_t elapsed;
	struct rsv_task *task;
};

static int reclaimer(void *arg)
{
	struct thr *t = arg;
	uint64_t start;

	t->task = rsv_task_current();
	rsv_task_set_flags(t->flags, 0);
	start = rsv_now();
	rsv_try_to_free_pages(t->gfp, 0);
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
		rsv__writeback_submit(p, rsv__writeback_claim(p)); /* as a flusher would */
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
