/* Workqueues: the kernel's queueing rules (pending once, never reentrant, flush waits for the
 * instance queued before it, max_active, cancel), and the guarantee RSV_WQ_MEM_RECLAIM buys:
 * when no worker can be made, the rescuer runs the work; without it, the work waits. */
#include "helpers.h"

TestSuite(workqueue, .timeout = 60);

struct counted {
	struct rsv_work work;
	_Atomic int runs, running, overlaps;
	int requeue; /* times it queues itself again */
	struct rsv_workqueue *wq;
	uint64_t sleep_ns;
	int order[64];
	_Atomic int *seq;
	int id;
};

static void counted_fn(struct rsv_work *w)
{
	struct counted *c = (struct counted *)(void *)((char *)w - offsetof(struct counted, work));

	if (atomic_fetch_add(&c->running, 1))
		atomic_fetch_add(&c->overlaps, 1);
	if (c->seq)
		c->order[0] = atomic_fetch_add(c->seq, 1);
	if (c->sleep_ns)
		rsv_sleep_ns(c->sleep_ns);
	atomic_fetch_sub(&c->running, 1);
	atomic_fetch_add(&c->runs, 1);
	if (c->requeue > 0) {
		c->requeue--;
		rsv_queue_work(c->wq, &c->work);
	}
}

#define NR_ITEMS 16

struct rules {
	struct counted items[NR_ITEMS], ordered[8], self, cancelled, hot;
	_Atomic int seq;
	bool again_false, cancel_true, flush_idle_false;
	int hot_queued;
};

static int rules_task(void *arg)
{
	struct rules *r = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_workqueue *wq = rsv_alloc_workqueue(sys, "plain", 0, 0, "wq:plain");
	struct rsv_workqueue *ord = rsv_alloc_workqueue(sys, "ordered", RSV_WQ_UNBOUND, 1, NULL);

	cr_assert(wq && ord);
	for (int i = 0; i < NR_ITEMS; i++) {
		rsv_init_work(&r->items[i].work, counted_fn, "work:item");
		r->items[i].sleep_ns = 100000;
		cr_assert(rsv_queue_work(wq, &r->items[i].work));
	}
	r->again_false = !rsv_queue_work(wq, &r->items[NR_ITEMS - 1].work) ||
			 !rsv_work_pending(&r->items[NR_ITEMS - 1].work);
	for (int i = 0; i < NR_ITEMS; i++)
		rsv_flush_work(&r->items[i].work);

	/* max_active 1: one at a time, in queue order. */
	for (int i = 0; i < 8; i++) {
		rsv_init_work(&r->ordered[i].work, counted_fn, NULL);
		r->ordered[i].seq = &r->seq;
		r->ordered[i].sleep_ns = 50000;
		rsv_queue_work(ord, &r->ordered[i].work);
	}

	/* An item that queues itself four times: each flush waits for one instance. */
	rsv_init_work(&r->self.work, counted_fn, NULL);
	r->self.wq = wq;
	r->self.requeue = 4;
	rsv_queue_work(wq, &r->self.work);
	rsv_flush_work(&r->self.work);
	cr_assert_geq(atomic_load(&r->self.runs), 1);

	/* Queued behind a sleeping item on the ordered queue, then cancelled: never runs. */
	rsv_init_work(&r->cancelled.work, counted_fn, NULL);
	rsv_queue_work(ord, &r->cancelled.work);
	r->cancel_true = rsv_cancel_work_sync(&r->cancelled.work);
	rsv_drain_workqueue(ord);

	/* Queued again and again while it runs: never on two workers at once. */
	rsv_init_work(&r->hot.work, counted_fn, NULL);
	r->hot.sleep_ns = 200000;
	for (int i = 0; i < 200; i++) {
		r->hot_queued += rsv_queue_work(wq, &r->hot.work);
		rsv_sleep_ns(20000);
	}
	rsv_flush_work(&r->hot.work);
	r->flush_idle_false = !rsv_flush_work(&r->hot.work);

	rsv_destroy_workqueue(ord);
	rsv_destroy_workqueue(wq);
	return 0;
}

static void rules_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 7);
	struct rules *r = calloc(1, sizeof(*r));

	rsv_task_create(sys, "main", rules_task, r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	for (int i = 0; i < NR_ITEMS; i++)
		cr_assert_eq(atomic_load(&r->items[i].runs), 1, "item %d ran once", i);
	cr_assert(r->again_false, "a pending item is not queued twice");
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(atomic_load(&r->ordered[i].runs), 1);
		cr_assert_eq(r->ordered[i].order[0], i, "ordered: item %d ran in its turn", i);
	}
	cr_assert_eq(atomic_load(&r->self.runs), 5, "4 requeues: 5 runs by the end");
	cr_assert(r->cancel_true);
	cr_assert_eq(atomic_load(&r->cancelled.runs), 0, "cancelled while pending: never ran");
	cr_assert_gt(r->hot_queued, 1);
	cr_assert_eq(atomic_load(&r->hot.runs), r->hot_queued, "each queueing ran once");
	cr_assert_eq(atomic_load(&r->hot.overlaps), 0, "never on two workers at once");
	cr_assert(r->flush_idle_false, "nothing pending or running: flush says false");
	free(r);
	teardown_whole(sys);
}

Test(workqueue, keeps_the_kernels_queueing_rules_on_the_simulator)
{
	rules_on(RSV_BACKEND_SIM);
}

Test(workqueue, keeps_the_kernels_queueing_rules_on_real_threads)
{
	rules_on(RSV_BACKEND_OS);
}

/* ---- forward progress ---- */

struct rescue {
	unsigned wq_flags;
	struct counted item;
	bool flushed;
	struct rsv_workqueue_stats st;
	unsigned long failures;
	unsigned workers;
};

static int rescue_task(void *arg)
{
	struct rescue *r = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_workqueue *wq = rsv_alloc_workqueue(sys, "writeback", r->wq_flags, 0, NULL);
	struct rsv_fault_config fc;

	cr_assert(wq);
	/* From now on no worker can be made: every THREAD_SIZE stack allocation fails, as
	 * kthread creation does when memory is short. */
	rsv_fault_config_default(&fc);
	fc.times = -1;
	fc.ignore_gfp_wait = false;
	fc.min_order = 2;
	cr_assert_eq(rsv_fault_set(sys, RSV_FAIL_PAGE_ALLOC, &fc), 0);
	rsv_init_work(&r->item.work, counted_fn, NULL);
	rsv_queue_work(wq, &r->item.work);
	rsv_flush_work(&r->item.work);
	r->flushed = true;
	rsv_workqueue_stats(wq, &r->st);
	rsv_workqueue_pool_stats(sys, &r->workers, &r->failures);
	fc.enabled = false;
	rsv_fault_set(sys, RSV_FAIL_PAGE_ALLOC, &fc);
	rsv_destroy_workqueue(wq);
	return 0;
}

static void rescue_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 3);
	struct rescue r = { .wq_flags = RSV_WQ_MEM_RECLAIM };

	rsv_task_create(sys, "flusher", rescue_task, &r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert(r.flushed);
	cr_assert_eq(atomic_load(&r.item.runs), 1);
	cr_assert_eq(r.st.rescued, 1, "the rescuer ran it");
	cr_assert_eq(r.st.executed, 0, "no worker could");
	cr_assert_geq(r.st.maydays, 1);
	cr_assert_geq(r.failures, 1, "the manager tried to make a worker and could not");
	cr_assert_eq(r.workers, 1, "the pool never grew past its first worker");
	teardown_whole(sys);
}

Test(workqueue, a_mem_reclaim_queue_is_rescued_when_no_worker_can_be_made_sim)
{
	rescue_on(RSV_BACKEND_SIM);
}

Test(workqueue, a_mem_reclaim_queue_is_rescued_when_no_worker_can_be_made_os)
{
	rescue_on(RSV_BACKEND_OS);
}

/* The same without WQ_MEM_RECLAIM: the item waits for a worker that cannot be made, and
 * the flusher with it, for as long as the run lasts. */
Test(workqueue, without_mem_reclaim_the_work_waits_for_a_worker_forever)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.backend = RSV_BACKEND_SIM,
		.nr_pages = 1024,
		.seed = 3,
		.misuse = RSV_MISUSE_RETURN,
		.time_limit_ns = 30 * RSV_NSEC_PER_SEC,
	});
	struct rescue r = { .wq_flags = 0 };

	cr_assert(sys);
	rsv_task_create(sys, "flusher", rescue_task, &r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_TIME_LIMIT);
	cr_assert(!r.flushed);
	cr_assert_eq(atomic_load(&r.item.runs), 0);
	rsv_system_destroy(sys);
}

/* ---- misuse and the checker ---- */

static struct rsv_workqueue *self_wq;
static struct rsv_work self_work;
static int self_flush_ret = -1;

static void flushes_itself(struct rsv_work *w)
{
	self_flush_ret = rsv_flush_work(w);
}

static int misuse_task(void *arg)
{
	struct rsv_system *sys = arg;

	self_wq = rsv_alloc_workqueue(sys, "self", 0, 0, NULL);
	rsv_init_work(&self_work, flushes_itself, NULL);
	rsv_queue_work(self_wq, &self_work);
	rsv_flush_work(&self_work);
	rsv_destroy_workqueue(self_wq);
	return 0;
}

Test(workqueue, flushing_the_running_item_from_itself_is_refused_as_misuse)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);

	rsv_task_create(sys, "main", misuse_task, sys);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(self_flush_ret, 0);
	cr_assert(strstr(rsv_system_error(sys), "wait for itself"), "%s", rsv_system_error(sys));
	rsv_system_destroy(sys);
}

Test(workqueue, bad_arguments_are_refused_before_anything_is_made)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);

	errno = 0;
	cr_assert_null(rsv_alloc_workqueue(sys, "x", 0, 0, NULL));
	cr_assert_eq(errno, EPERM, "not a task");
	rsv_task_attach(sys, "setup");
	cr_assert_null(rsv_alloc_workqueue(sys, "x", 0x10000, 0, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_alloc_workqueue(sys, "x", 0, RSV_WQ_MAX_ACTIVE + 1, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_alloc_workqueue(sys, "x", 0, -1, NULL));
	cr_assert_eq(errno, EINVAL);
	rsv_task_detach();
	teardown_whole(sys);
}

static struct rsv_mutex dev_lock = RSV_MUTEX_INIT(dev_lock, "dev_lock");
static struct rsv_work locked_work;
static bool work_takes_lock;

static void takes_dev_lock(struct rsv_work *w)
{
	(void)w;
	if (!work_takes_lock)
		return;
	rsv_mutex_lock(&dev_lock);
	rsv_mutex_unlock(&dev_lock);
}

/* Two runs of the item, neither of which deadlocks: flushed under dev_lock while it does not
 * take the lock, then taking it while nobody holds it. Together: dev_lock -> the work ->
 * dev_lock, the deadlock waiting for the day both happen at once. */
static int flush_under_lock(void *arg)
{
	struct rsv_system *sys = arg;
	struct rsv_workqueue *wq = rsv_alloc_workqueue(sys, "dev", 0, 0, "wq:dev");

	rsv_init_work(&locked_work, takes_dev_lock, "work:takes_dev_lock");
	rsv_mutex_lock(&dev_lock);
	rsv_queue_work(wq, &locked_work);
	rsv_flush_work(&locked_work);
	rsv_mutex_unlock(&dev_lock);
	work_takes_lock = true;
	rsv_queue_work(wq, &locked_work);
	rsv_flush_work(&locked_work);
	rsv_destroy_workqueue(wq);
	return 0;
}

static void quiet(void *arg, const char *report)
{
	(void)arg;
	(void)report;
}

Test(workqueue, flushing_work_that_takes_a_held_lock_is_a_reported_cycle)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);
	char buf[2048];

	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	rsv_lockdep_set_report_hook(sys, quiet, NULL);
	rsv_task_create(sys, "main", flush_under_lock, sys);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "neither run deadlocked");
	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 1);
	cr_assert(strstr(buf, "work:takes_dev_lock") && strstr(buf, "dev_lock"), "%s", buf);
	teardown_whole(sys);
}

/* ---- what a report says, and the kernel's flush-dependency warning ---- */

static struct rsv_waitqueue never;
static struct rsv_work stuck_work;

static void waits_forever(struct rsv_work *w)
{
	(void)w;
	rsv_wait_event(&never, false);
}

static int flush_stuck(void *arg)
{
	struct rsv_workqueue *wq = rsv_alloc_workqueue(arg, "stuck", 0, 0, NULL);

	rsv_init_work(&stuck_work, waits_forever, "work:waits_forever");
	rsv_queue_work(wq, &stuck_work);
	rsv_flush_work(&stuck_work);
	return 0;
}

Test(workqueue, a_deadlocked_flush_names_the_item_and_the_worker_running_it)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);
	const char *rep;

	rsv_waitqueue_init(&never, "never");
	rsv_task_create(sys, "flusher", flush_stuck, sys);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DEADLOCK);
	rep = rsv_platform_report(rsv_system_platform(sys));
	cr_assert(rep && strstr(rep, "in flush_work() of work:waits_forever on workqueue "
				     "\"stuck\", run by \"kworker/u:"),
		  "%s", rep ? rep : "(no report)");
	rsv_system_destroy(sys);
}

struct dependency {
	bool reclaim_wq;
	char error[256];
	unsigned long misuse;
};

static void nothing(struct rsv_work *w)
{
	(void)w;
}

static int memalloc_flusher(void *arg)
{
	struct dependency *d = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_workqueue *wq =
		rsv_alloc_workqueue(sys, "target", d->reclaim_wq ? RSV_WQ_MEM_RECLAIM : 0, 0, NULL);
	struct rsv_work w;
	unsigned noreclaim;

	rsv_init_work(&w, nothing, NULL);
	rsv_queue_work(wq, &w);
	noreclaim = rsv_memalloc_noreclaim_save(); /* as reclaim runs: PF_MEMALLOC */
	rsv_flush_work(&w);
	rsv_memalloc_noreclaim_restore(noreclaim);
	snprintf(d->error, sizeof(d->error), "%s", rsv_system_error(sys));
	d->misuse = rsv_stats_get(sys, RSV_STAT_MISUSE);
	rsv_destroy_workqueue(wq);
	return 0;
}

Test(workqueue, reclaim_flushing_a_queue_without_a_rescuer_is_a_misuse)
{
	struct dependency d = { .reclaim_wq = false };
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);

	rsv_task_create(sys, "reclaimer", memalloc_flusher, &d);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "the flush still goes on");
	cr_assert_eq(d.misuse, 1);
	cr_assert(strstr(d.error, "PF_MEMALLOC task \"reclaimer\" is flushing !WQ_MEM_RECLAIM "
				  "workqueue \"target\""),
		  "%s", d.error);
	teardown_whole(sys);

	d = (struct dependency){ .reclaim_wq = true };
	sys = test_system(RSV_BACKEND_SIM, 512, 1);
	rsv_task_create(sys, "reclaimer", memalloc_flusher, &d);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(d.misuse, 0, "%s", d.error);
	teardown_whole(sys);
}
