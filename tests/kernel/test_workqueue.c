/* Workqueues through reservoir/kernel.h, as a dm-crypt-style driver uses them: each write is
 * handed to a WQ_MEM_RECLAIM workqueue ("kcryptd") that transforms its page and completes it.
 * The code between the markers uses kernel names only and builds with -Wall -Wextra -Werror.
 * On both backends the writes finish while no worker can be made (every THREAD_SIZE stack
 * allocation fails): the rescuer runs them. */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(kernel_workqueue, .timeout = 60);

/* ---- kernel-style code ---- */

struct kc_io {
	struct work_struct work;
	struct completion done;
	unsigned char *data;
	unsigned char key;
};

static struct workqueue_struct *kcryptd;

static void kcryptd_crypt(struct work_struct *work)
{
	struct kc_io *io = container_of(work, struct kc_io, work);
	unsigned int i;

	for (i = 0; i < PAGE_SIZE; i++)
		io->data[i] ^= io->key;
	complete(&io->done);
}

static int kc_ctr(const char *devname)
{
	kcryptd = alloc_workqueue("kcryptd/%s", WQ_CPU_INTENSIVE | WQ_MEM_RECLAIM | WQ_UNBOUND, 1,
				  devname);
	return kcryptd ? 0 : -ENOMEM;
}

static void kc_dtr(void)
{
	destroy_workqueue(kcryptd);
}

/* Encrypts @data in kcryptd and waits, as a synchronous write path would. */
static int kc_write(unsigned char *data, unsigned char key)
{
	struct kc_io io = { .data = data, .key = key };

	INIT_WORK(&io.work, kcryptd_crypt);
	init_completion(&io.done);
	if (!queue_work(kcryptd, &io.work))
		return -EBUSY;
	wait_for_completion_io(&io.done);
	return 0;
}

/* ---- end of kernel-style code ---- */

#define NR_WRITES 8

struct kc_run {
	int ctr, writes_ok, bad_bytes;
	struct rsv_workqueue_stats st;
	unsigned workers;
	unsigned long failures;
};

static int writer(void *arg)
{
	struct kc_run *r = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	unsigned char *data = kmalloc(PAGE_SIZE, GFP_KERNEL);
	struct rsv_fault_config fc;

	r->ctr = kc_ctr("ram0");
	if (r->ctr || !data)
		return 1;
	rsv_fault_config_default(&fc);
	fc.times = -1;
	fc.ignore_gfp_wait = false;
	fc.min_order = 2;
	rsv_fault_set(sys, RSV_FAIL_PAGE_ALLOC, &fc);
	memset(data, 0x5a, PAGE_SIZE);
	for (int i = 0; i < NR_WRITES; i++)
		r->writes_ok += kc_write(data, (unsigned char)(i + 1)) == 0;
	/* 1 ^ 2 ^ ... ^ 8 = 8: every transform ran exactly once. */
	for (unsigned int i = 0; i < PAGE_SIZE; i++)
		r->bad_bytes += data[i] != (0x5a ^ 8);
	drain_workqueue(kcryptd); /* the last item's own bookkeeping, after its complete() */
	rsv_workqueue_stats(wq_to_rsv(kcryptd), &r->st);
	rsv_workqueue_pool_stats(sys, &r->workers, &r->failures);
	fc.enabled = false;
	rsv_fault_set(sys, RSV_FAIL_PAGE_ALLOC, &fc);
	kc_dtr();
	kfree(data);
	return 0;
}

static void kcryptd_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 9);
	struct kc_run r = { 0 };

	rsv_task_create(sys, "writer", writer, &r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(r.ctr, 0);
	cr_assert_eq(r.writes_ok, NR_WRITES);
	cr_assert_eq(r.bad_bytes, 0);
	cr_assert_eq(r.st.rescued + r.st.executed, NR_WRITES);
	cr_assert_geq(r.st.rescued, 1, "no worker could be made: the rescuer ran them");
	cr_assert_geq(r.failures, 1);
	teardown_whole(sys);
}

Test(kernel_workqueue, kcryptd_makes_progress_without_workers_on_the_simulator)
{
	kcryptd_on(RSV_BACKEND_SIM);
}

Test(kernel_workqueue, kcryptd_makes_progress_without_workers_on_real_threads)
{
	kcryptd_on(RSV_BACKEND_OS);
}
