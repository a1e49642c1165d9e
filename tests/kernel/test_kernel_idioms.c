/* Kernel idioms through reservoir/kernel.h, each with the kernel's semantics, on both
 * backends: the schedule_timeout() loop, a blk-crypto-style bulk allocation and partial
 * free, a slab shrinker on the 6.7+ API, nested memalloc scopes, wait_event()/wake_up(), and
 * the statically defined locks. The code between the markers uses kernel names only and
 * builds with -Wall -Wextra -Werror (tests/CMakeLists: tests/kernel/). */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(kernel_idioms, .timeout = 60);

/* ---- kernel-style code ---- */

/* Sleeps @ms in jiffies, going back to sleep after early wake-ups: the loop that silently
 * misbehaved while schedule_timeout() returned nanoseconds. */
static long sleep_jiffies(unsigned int ms, int *rounds)
{
	long timeout = msecs_to_jiffies(ms);

	while (timeout) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		timeout = schedule_timeout(timeout);
		(*rounds)++;
	}
	return timeout;
}

#define NR_BOUNCE 8

static mempool_t *bounce_pool;

/* blk-crypto's fallback: a set of bounce pages at once, so that writers each holding part of
 * a set cannot deadlock on the pool. */
static void alloc_bounce_set(struct page **pages)
{
	memset(pages, 0, NR_BOUNCE * sizeof(*pages));
	mempool_alloc_bulk(bounce_pool, (void **)pages, NR_BOUNCE, 0);
}

/* ...and its completion: the pool keeps what it needs, the rest is freed here. */
static unsigned int free_bounce_set(struct page **pages)
{
	unsigned int i = mempool_free_bulk(bounce_pool, (void **)pages, NR_BOUNCE);
	unsigned int kept = i;

	for (; i < NR_BOUNCE; i++)
		__free_page(pages[i]);
	return kept;
}

struct obj_cache {
	spinlock_t lock;
	unsigned long nr;
	struct shrinker *shrinker;
};

static unsigned long obj_count(struct shrinker *s, struct shrink_control *sc)
{
	struct obj_cache *oc = s->private_data;

	return oc->nr ? oc->nr : SHRINK_EMPTY;
}

static unsigned long obj_scan(struct shrinker *s, struct shrink_control *sc)
{
	struct obj_cache *oc = s->private_data;
	unsigned long flags, freed;

	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	spin_lock_irqsave(&oc->lock, flags);
	freed = oc->nr < sc->nr_to_scan ? oc->nr : sc->nr_to_scan;
	oc->nr -= freed;
	spin_unlock_irqrestore(&oc->lock, flags);
	return freed;
}

static int obj_cache_init(struct obj_cache *oc, unsigned long nr)
{
	spin_lock_init(&oc->lock);
	oc->nr = nr;
	oc->shrinker = shrinker_alloc(0, "obj-cache-%d", 1);
	if (!oc->shrinker)
		return -ENOMEM;
	oc->shrinker->count_objects = obj_count;
	oc->shrinker->scan_objects = obj_scan;
	oc->shrinker->seeks = DEFAULT_SEEKS;
	oc->shrinker->private_data = oc;
	shrinker_register(oc->shrinker);
	return 0;
}

/* An fs transaction that submits I/O: NOFS around the transaction, NOIO around the submit. */
static gfp_t nested_scopes(gfp_t *inside_nofs, gfp_t *after)
{
	unsigned int nofs = memalloc_nofs_save();
	unsigned int noio;
	gfp_t inner;

	*inside_nofs = current_gfp_context(GFP_KERNEL);
	noio = memalloc_noio_save();
	inner = current_gfp_context(GFP_KERNEL);
	memalloc_noio_restore(noio);
	memalloc_nofs_restore(nofs);
	*after = current_gfp_context(GFP_KERNEL);
	return inner;
}

/* A reclaim-path helper that marks itself as freeing memory for one allocation, the way
 * swap-over-network code does, and restores the caller's bit exactly; and tests the scope
 * bits as kernel code does, by reading current->flags. */
static void *alloc_as_memalloc(size_t size, bool *was_nofs, bool *inside, char *comm)
{
	unsigned int pflags = current->flags & PF_MEMALLOC;
	void *p;

	*was_nofs = current->flags & PF_MEMALLOC_NOFS;
	current->flags |= PF_MEMALLOC;
	*inside = current->flags & PF_MEMALLOC;
	p = kmalloc(size, GFP_KERNEL);
	current_restore_flags(pflags, PF_MEMALLOC);
	memcpy(comm, current->comm, TASK_COMM_LEN);
	return p;
}

static DECLARE_WAIT_QUEUE_HEAD(done_wq);
static DEFINE_MUTEX(done_lock);
static DEFINE_SEMAPHORE(done_sem, 1);
static int done;

static void wait_for_done(void)
{
	wait_event(done_wq, READ_ONCE(done));
}

static void signal_done(void)
{
	down(&done_sem);
	mutex_lock(&done_lock);
	WRITE_ONCE(done, 1);
	mutex_unlock(&done_lock);
	up(&done_sem);
	wake_up(&done_wq);
}

/* ---- end of kernel-style code ---- */

/* ---- the tests ---- */

struct idioms {
	long left;
	int rounds;
	uint64_t slept_ns;
	long running_left, woken_left;
	_Atomic(struct rsv_thread *) sleeper;
	unsigned int kept_first, kept_second;
	int pool_after;
	unsigned long objs_after_nofs, objs_after_kernel;
	gfp_t inner, inside_nofs, after;
	int woke;
	bool was_nofs, memalloc_inside, memalloc_after, lib_saw_memalloc;
	char comm[TASK_COMM_LEN];
};

static int timer_task(void *arg)
{
	struct idioms *t = arg;
	uint64_t start = rsv_now();

	t->left = sleep_jiffies(20, &t->rounds);
	t->slept_ns = rsv_now() - start;
	t->running_left = schedule_timeout(5); /* TASK_RUNNING: back at once, all of it left */
	/* Woken long before its 10 s: the jiffies left come back. */
	set_current_state(TASK_UNINTERRUPTIBLE);
	atomic_store(&t->sleeper, rsv_thread_self());
	t->woken_left = schedule_timeout(10 * HZ);
	return 0;
}

static int waker_task(void *arg)
{
	struct idioms *t = arg;
	struct rsv_thread *s;

	while (!(s = atomic_load(&t->sleeper)))
		rsv_msleep(1);
	rsv_msleep(5);
	while (!rsv_wake_thread(s, RSV_TASK_UNINTERRUPTIBLE) && !rsv_thread_exited(s))
		rsv_msleep(1);
	return 0;
}

static int bulk_task(void *arg)
{
	struct idioms *t = arg;
	struct page *pages[NR_BOUNCE];

	alloc_bounce_set(pages);
	t->kept_first = free_bounce_set(pages); /* the pool was whole: it keeps none */
	/* A set of which four came out of the pool itself: it takes four back, from the front,
	 * and the caller frees the other four. */
	for (int i = 0; i < 4; i++)
		pages[i] = mempool_alloc_preallocated(bounce_pool);
	for (int i = 4; i < NR_BOUNCE; i++)
		pages[i] = mempool_alloc(bounce_pool, GFP_NOIO);
	t->kept_second = free_bounce_set(pages);
	t->pool_after = rsv_mempool_curr_nr(bounce_pool);
	return 0;
}

static int shrink_task(void *arg)
{
	struct idioms *t = arg;
	struct obj_cache oc;

	if (obj_cache_init(&oc, 1000))
		return 1;
	rsv_shrink_slab(rsv_task_system(task_to_rsv(current)), GFP_NOFS, 0);
	t->objs_after_nofs = oc.nr;
	rsv_shrink_slab(rsv_task_system(task_to_rsv(current)), GFP_KERNEL, 0);
	t->objs_after_kernel = oc.nr;
	shrinker_free(oc.shrinker);
	t->inner = nested_scopes(&t->inside_nofs, &t->after);
	/* The library's scope is what current->flags shows, and what the code writes there is
	 * what the library sees. */
	{
		unsigned int nofs = memalloc_nofs_save();
		void *p = alloc_as_memalloc(64, &t->was_nofs, &t->memalloc_inside, t->comm);

		memalloc_nofs_restore(nofs);
		t->memalloc_after = current->flags & PF_MEMALLOC;
		current->flags |= PF_MEMALLOC;
		t->lib_saw_memalloc = rsv_task_flags(rsv_task_current()) & RSV_PF_MEMALLOC;
		current->flags &= ~PF_MEMALLOC;
		kfree(p);
	}
	return 0;
}

static int waiter_task(void *arg)
{
	struct idioms *t = arg;

	wait_for_done();
	t->woke = 1;
	return 0;
}

static int signaller_task(void *arg)
{
	rsv_msleep(3);
	signal_done();
	return 0;
}

static void idioms_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 3);
	struct idioms t = { 0 };

	done = 0;
	rsv_task_attach(sys, "setup");
	bounce_pool = mempool_create_page_pool(4, 0);
	cr_assert(bounce_pool && mempool_initialized(bounce_pool));
	rsv_task_detach();
	rsv_task_create(sys, "timer", timer_task, &t);
	rsv_task_create(sys, "waker", waker_task, &t);
	rsv_task_create(sys, "bulk", bulk_task, &t);
	rsv_task_create(sys, "shrink-and-flags", shrink_task, &t);
	rsv_task_create(sys, "waiter", waiter_task, &t);
	rsv_task_create(sys, "signaller", signaller_task, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);

	cr_assert_eq(t.left, 0, "the loop ends when the jiffies run out");
	cr_assert_geq(t.slept_ns, 20 * RSV_NSEC_PER_MSEC);
	cr_assert_lt(t.slept_ns, 2 * RSV_NSEC_PER_SEC, "a nanosecond count would sleep ~forever");
	cr_assert_geq(t.rounds, 1);
	cr_assert_eq(t.running_left, 5, "in TASK_RUNNING nothing is slept");
	cr_assert_gt(t.woken_left, 8 * HZ, "woken early: most of the 10 s left, in jiffies");
	cr_assert_leq(t.woken_left, 10 * HZ);

	cr_assert_eq(t.kept_first, 0);
	cr_assert_eq(t.kept_second, 4, "the four the pool lacked, from the front");
	cr_assert_eq(t.pool_after, 4);

	cr_assert_eq(t.objs_after_nofs, 1000, "SHRINK_STOP without __GFP_FS");
	cr_assert_lt(t.objs_after_kernel, 1000, "scanned with GFP_KERNEL");
	cr_assert_eq(t.inside_nofs, GFP_NOFS);
	cr_assert_eq(t.inner, GFP_NOIO, "NOIO inside NOFS");
	cr_assert_eq(t.after, GFP_KERNEL, "nested scopes restore exactly");

	cr_assert(t.was_nofs, "memalloc_nofs_save() shows in current->flags");
	cr_assert(t.memalloc_inside && !t.memalloc_after, "current_restore_flags() restores");
	cr_assert(t.lib_saw_memalloc, "a bit set in current->flags is the task's");
	cr_assert_str_eq(t.comm, "shrink-and-flag", "comm is the name cut at TASK_COMM_LEN");

	cr_assert(t.woke && done);
	rsv_task_attach(sys, "teardown");
	mempool_destroy(bounce_pool);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(kernel_idioms, with_the_kernels_semantics_on_the_simulator)
{
	idioms_on(RSV_BACKEND_SIM);
}
Test(kernel_idioms, with_the_kernels_semantics_on_real_threads)
{
	idioms_on(RSV_BACKEND_OS);
}

/* The formerly silent mismatch of mempool_free_bulk(): it used to free what the pool did
 * not keep, so this caller, which frees the rest itself as blk-crypto does, freed them
 * twice. Now the misuse counter stays at zero and the arena is whole. */
Test(kernel_idioms, free_bulk_leaves_the_rest_to_the_caller)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct page *pages[NR_BOUNCE];

	rsv_task_attach(sys, "blk-crypto");
	bounce_pool = mempool_create_page_pool(2, 0);
	for (int i = 0; i < NR_BOUNCE; i++) /* the first two out of the pool itself */
		pages[i] = i < 2 ? mempool_alloc_preallocated(bounce_pool)
				 : mempool_alloc(bounce_pool, GFP_NOIO);
	cr_assert_eq(rsv_mempool_curr_nr(bounce_pool), 0);
	cr_assert_eq(free_bounce_set(pages), 2);
	cr_assert_eq(rsv_mempool_curr_nr(bounce_pool), 2);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0, "%s", rsv_system_error(sys));
	mempool_destroy(bounce_pool);
	rsv_task_detach();
	teardown_whole(sys);
}

/* might_alloc() and fs_reclaim_acquire(): a lock held across a GFP_NOFS might_alloc(), and
 * taken inside an fs_reclaim_acquire(GFP_NOFS) region, is a cycle through io_reclaim; the
 * checker hears it without anything being allocated. */
static DEFINE_MUTEX(journal_lock);

static void journal_reserve(void)
{
	mutex_lock(&journal_lock);
	might_alloc(GFP_NOFS);
	mutex_unlock(&journal_lock);
}

static void journal_shrink(void)
{
	fs_reclaim_acquire(GFP_NOFS);
	mutex_lock(&journal_lock);
	mutex_unlock(&journal_lock);
	fs_reclaim_release(GFP_NOFS);
}

Test(kernel_idioms, might_alloc_and_fs_reclaim_acquire_feed_the_checker)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	char report[2048];

	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	rsv_lockdep_set_report_hook(sys, NULL, NULL);
	rsv_task_attach(sys, "journal");
	journal_reserve();
	cr_assert_eq(rsv_lockdep_report(sys, report, sizeof(report)), 0);
	journal_shrink();
	cr_assert_eq(rsv_lockdep_report(sys, report, sizeof(report)), 1);
	cr_assert(strstr(report, "journal_lock -> io_reclaim (journal allocated with GFP_NOFS)"),
		  "%s", report);
	rsv_task_detach();
	teardown_whole(sys);
}

/* Completions count: two complete()s let two waits through, each taking one, and a wait
 * with nothing completed times out with 0. */
static int completion_counter(void *arg)
{
	struct completion *c = arg;
	unsigned long first, second, third;

	complete(c);
	complete(c);
	first = wait_for_completion_timeout(c, 10);
	second = wait_for_completion_timeout(c, 10);
	third = wait_for_completion_timeout(c, 10);
	return first > 0 && second > 0 && third == 0 && !completion_done(c) ? 0 : 1;
}

Test(kernel_idioms, completions_count_and_time_out)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct completion c;
	struct rsv_task *t;

	init_completion(&c);
	t = rsv_task_create(sys, "counter", completion_counter, &c);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_task_exit_code(t), 0);
	teardown_whole(sys);
}

/* kernel.h renames no identifier: members and variables may be called as kernel functions
 * and types are (a struct's mutex, a counter called up, an op called schedule). */
struct io_sched_ops {
	void (*schedule)(struct io_sched_ops *ops);
	int up, down;
	struct mutex mutex;
	struct semaphore semaphore;
};

static void count_schedule(struct io_sched_ops *ops)
{
	mutex_lock(&ops->mutex);
	ops->up++;
	mutex_unlock(&ops->mutex);
	down(&ops->semaphore);
	ops->down++;
	up(&ops->semaphore);
}

Test(kernel_idioms, no_identifier_is_renamed)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct io_sched_ops ops = { .schedule = count_schedule };

	mutex_init(&ops.mutex);
	sema_init(&ops.semaphore, 1);
	rsv_task_attach(sys, "ops");
	ops.schedule(&ops);
	ops.schedule(&ops);
	rsv_task_detach();
	cr_assert_eq(ops.up, 2);
	cr_assert_eq(ops.down, 2);
	teardown_whole(sys);
}

/* SLAB_PANIC: a cache that cannot be made takes the process down, as the kernel's panics;
 * the flags that mean nothing here make an ordinary cache. */
struct io_ctx {
	unsigned long sector;
	void *private;
};

Test(kernel_idioms, slab_flags_that_mean_nothing_make_an_ordinary_cache)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct kmem_cache *c;
	struct io_ctx *x;

	rsv_task_attach(sys, "t");
	c = kmem_cache_create("io_ctx", sizeof(struct io_ctx), 0,
			      SLAB_ACCOUNT | SLAB_RECLAIM_ACCOUNT | SLAB_NO_MERGE | SLAB_PANIC,
			      NULL);
	cr_assert(c);
	x = kmem_cache_zalloc(c, GFP_KERNEL);
	cr_assert(x && !x->sector);
	kmem_cache_free(c, x);
	kmem_cache_destroy(c);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(kernel_idioms, slab_panic_aborts_when_the_cache_cannot_be_made, .signal = SIGABRT)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);

	rsv_task_attach(sys, "t");
	kmem_cache_create("too_aligned", 64, 2 * PAGE_SIZE, SLAB_PANIC, NULL);
}

/* ---- regression: an on-stack completion touched after its waiter had returned ----
 *
 * complete() set `done` and then woke the queue: the waiter could see `done`, return and let
 * the completion go out of scope while complete() was still in the wake-up, reading and
 * locking the dead queue (TSan saw it in the toy driver, whose requests reuse the memory).
 * The waiter now waits until complete() has let go. Each completion here is poisoned as soon
 * as its wait returns, so a late touch reads garbage. */

#define HANDOFFS 3000

struct handoff {
	struct completion *_Atomic slot;
	_Atomic int served;
};

static int completer_task(void *arg)
{
	struct handoff *h = arg;

	for (int i = 0; i < HANDOFFS; i++) {
		struct completion *c;

		while (!(c = atomic_exchange(&h->slot, NULL)))
			rsv_yield();
		complete(c);
		atomic_fetch_add(&h->served, 1);
	}
	return 0;
}

static int waiter_on_stack(void *arg)
{
	struct handoff *h = arg;

	for (int i = 0; i < HANDOFFS; i++) {
		DECLARE_COMPLETION_ONSTACK(io_done);

		atomic_store(&h->slot, &io_done);
		if (i % 2)
			wait_for_completion(&io_done);
		else
			while (!try_wait_for_completion(&io_done))
				rsv_yield();
		memset(&io_done, 0xa5, sizeof(io_done)); /* gone, as its stack frame would be */
	}
	return 0;
}

static void on_stack_completions(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 256, 4);
	struct handoff h = { 0 };

	rsv_task_create(sys, "waiter", waiter_on_stack, &h);
	rsv_task_create(sys, "completer", completer_task, &h);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(atomic_load(&h.served), HANDOFFS);
	teardown_whole(sys);
}

Test(kernel_idioms, on_stack_completion_touched_after_its_waiter_returned)
{
	on_stack_completions(RSV_BACKEND_OS);
}

Test(kernel_idioms, on_stack_completion_touched_after_its_waiter_returned_sim)
{
	on_stack_completions(RSV_BACKEND_SIM);
}
