/* Mempools: the API, the forward-progress test of the 2016 thread under every policy, the
 * non-blocking rule, and misuse. */
#include <stdlib.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(mempool, .timeout = 120);

/* A backing allocator on the C heap that can be told to fail every time. */
struct backing {
	_Atomic bool fail;
	_Atomic long live;
};

static void *heap_alloc(rsv_gfp_t gfp, void *data)
{
	struct backing *b = data;

	(void)gfp;
	if (atomic_load(&b->fail))
		return NULL;
	atomic_fetch_add(&b->live, 1);
	return malloc(64);
}

static void heap_free(void *e, void *data)
{
	struct backing *b = data;

	atomic_fetch_sub(&b->live, 1);
	free(e);
}

/* ---- Johannes Weiner's test: the backing allocator always fails ---- */

struct weiner {
	struct rsv_mempool pool;
	struct backing backing;
	int cycles;
	_Atomic int done;
	_Atomic int nulls;
	struct rsv_progress progress;
};

static int cycler(void *arg)
{
	struct weiner *w = arg;

	for (int i = 0; i < w->cycles; i++) {
		void *e = rsv_mempool_alloc(&w->pool, RSV_GFP_NOIO);

		if (!e) {
			atomic_fetch_add(&w->nulls, 1);
			continue;
		}
		rsv_progress_inc(&w->progress);
		rsv_mempool_free(e, &w->pool);
	}
	atomic_fetch_add(&w->done, 1);
	return 0;
}

static enum rsv_run_result weiner_run(enum rsv_backend be, enum rsv_mempool_policy policy,
				      uint64_t seed, int tasks, int min_nr, int cycles,
				      struct weiner *w)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 256, .backend = be, .seed = seed, .misuse = RSV_MISUSE_RETURN,
		.time_limit_ns = 3600 * RSV_NSEC_PER_SEC,
		.policy.value[RSV_POLICY_MEMPOOL] = policy });
	enum rsv_run_result r;

	cr_assert_not_null(sys);
	memset(w, 0, sizeof(*w));
	w->cycles = cycles;
	rsv_task_attach(sys, "setup");
	cr_assert_eq(rsv_mempool_init(&w->pool, sys, min_nr, heap_alloc, heap_free, &w->backing),
		     0);
	rsv_task_detach();
	atomic_store(&w->backing.fail, true);
	for (int i = 0; i < tasks; i++)
		rsv_task_create(sys, "cycler", cycler, w);
	r = rsv_system_run(sys);
	atomic_store(&w->backing.fail, false);
	rsv_task_attach(sys, "teardown");
	rsv_mempool_exit(&w->pool);
	rsv_task_detach();
	cr_assert_eq(atomic_load(&w->backing.live), 0, "elements lost");
	rsv_system_destroy(sys);
	return r;
}

static void weiner_sim(enum rsv_mempool_policy policy, int seeds)
{
	static const int tasks[] = { 2, 8, 64 }, pools[] = { 1, 2, 4 };

	for (int ti = 0; ti < 3; ti++)
		for (int pi = 0; pi < 3; pi++)
			for (int seed = 0; seed < seeds; seed++) {
				struct weiner w;
				enum rsv_run_result r = weiner_run(RSV_BACKEND_SIM, policy,
								   (uint64_t)seed, tasks[ti],
								   pools[pi], 100, &w);

				cr_assert_eq(r, RSV_RUN_DONE, "N=%d M=%d seed %d: %s", tasks[ti],
					     pools[pi], seed, rsv_run_result_name(r));
				cr_assert_eq(atomic_load(&w.nulls), 0);
				cr_assert_eq(atomic_load(&w.done), tasks[ti]);
			}
}

#define WEINER_SEEDS 1000

Test(mempool, forward_progress_upstream, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_UPSTREAM, WEINER_SEEDS);
}

Test(mempool, forward_progress_revert, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_REVERT, WEINER_SEEDS);
}

Test(mempool, forward_progress_2016, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_2016, WEINER_SEEDS);
}

Test(mempool, forward_progress_memdie_only, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_MEMDIE_ONLY, WEINER_SEEDS);
}

Test(mempool, forward_progress_no_direct_reclaim, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_NO_DIRECT_RECLAIM, WEINER_SEEDS);
}

Test(mempool, forward_progress_pool_first, .timeout = 600)
{
	weiner_sim(RSV_MEMPOOL_POOL_FIRST, WEINER_SEEDS);
}

Test(mempool, forward_progress_os, .timeout = 600)
{
	for (unsigned p = 0; p < rsv_policy_nr_values(RSV_POLICY_MEMPOOL); p++) {
		struct weiner w;

		cr_assert_eq(weiner_run(RSV_BACKEND_OS, p, 1, 8, 2, 10000, &w), RSV_RUN_DONE);
		cr_assert_eq(atomic_load(&w.nulls), 0);
	}
}

/* ---- the negative control: one task holds two elements of a one-element pool ---- */

static int greedy_holder(void *arg)
{
	struct weiner *w = arg;
	void *a = rsv_mempool_alloc(&w->pool, RSV_GFP_NOIO);
	void *b = rsv_mempool_alloc(&w->pool,
				    RSV_GFP_NOIO); /* breaks the contract: waits forever */

	rsv_progress_inc(&w->progress);

	rsv_mempool_free(b, &w->pool);
	rsv_mempool_free(a, &w->pool);
	return 0;
}

Test(mempool, holding_two_elements_of_a_one_element_pool_is_reported_as_a_deadlock)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 256, .backend = RSV_BACKEND_SIM, .seed = 1 });
	struct weiner *w = calloc(1, sizeof(*w));
	const char *report;

	rsv_task_attach(sys, "setup");
	cr_assert_eq(rsv_mempool_init(&w->pool, sys, 1, heap_alloc, heap_free, &w->backing), 0);
	rsv_mempool_set_name(&w->pool, "bio_pool");
	rsv_task_detach();
	atomic_store(&w->backing.fail, true);
	rsv_progress_register(sys, &w->progress, "elements");
	rsv_watchdog_start(sys, &(struct rsv_watchdog_config){
		.progress_timeout_ns = 30 * RSV_NSEC_PER_SEC, .stop_run = true });
	rsv_task_create(sys, "greedy", greedy_holder, w);
	/* The pool re-polls every 5 s, as the kernel's does, so the scheduler always has a timer
	 * left; the progress watchdog sees the task sit in the pool's wait at every look and
	 * reports a deadlock, naming the task and the pool's wait queue. */
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_DEADLOCK);
	report = rsv_platform_report(rsv_system_platform(sys));
	cr_assert(strstr(report, "deadlock"), "%s", report);
	cr_assert(strstr(report, "greedy"), "%s", report);
	cr_assert(strstr(report, "mempool"), "%s", report);
	rsv_system_destroy(sys);
	free(w);
}

/* ---- the API ---- */

static struct rsv_system *attached(void)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);

	rsv_task_attach(sys, "test");
	return sys;
}

static void finish(struct rsv_system *sys)
{
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	teardown_whole(sys);
}

Test(mempool, a_caller_that_may_not_block_gets_null_only_when_both_are_empty)
{
	struct rsv_system *sys = attached();
	struct backing b = { 0 };
	struct rsv_mempool *pool = rsv_mempool_create(sys, 2, heap_alloc, heap_free, &b);
	void *e[3];
	struct rsv_mempool_stats st;

	atomic_store(&b.fail, true);
	e[0] = rsv_mempool_alloc(pool, RSV_GFP_NOWAIT);
	e[1] = rsv_mempool_alloc(pool, RSV_GFP_ATOMIC);
	cr_assert(e[0] && e[1], "the pool's elements serve non-blocking callers");
	cr_assert_null(e[2] = rsv_mempool_alloc(pool, RSV_GFP_NOWAIT));
	atomic_store(&b.fail, false);
	cr_assert_not_null(e[2] = rsv_mempool_alloc(pool, RSV_GFP_NOWAIT), "backing works again");
	rsv_mempool_stats(pool, &st);
	cr_assert_eq(st.from_pool, 2);
	cr_assert_eq(st.from_backing, 1);
	cr_assert_eq(st.low_water, 0);
	for (int i = 0; i < 3; i++)
		rsv_mempool_free(e[i], pool);
	cr_assert_eq(rsv_mempool_curr_nr(pool), 2, "frees refill the pool first");
	rsv_mempool_destroy(pool);
	cr_assert_eq(atomic_load(&b.live), 0);
	finish(sys);
}

Test(mempool, helper_pools_resize_bulk_and_preallocated)
{
	struct rsv_system *sys = attached();
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "bio", 192, 0, 0, NULL);
	struct rsv_mempool *slab = rsv_mempool_create_slab_pool(sys, 4, c);
	struct rsv_mempool *km = rsv_mempool_create_kmalloc_pool(sys, 2, 300);
	struct rsv_mempool *pages = rsv_mempool_create_page_pool(sys, 2, 1);
	void *set[4] = { 0 };
	struct rsv_page *pg;

	cr_assert(slab && km && pages);
	cr_assert_eq(rsv_mempool_curr_nr(slab), 4);
	cr_assert_eq(rsv_mempool_alloc_bulk(slab, set, 4), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(set[i]);
	cr_assert_eq(rsv_mempool_free_bulk(slab, set, 4), 0, "the pool was full");
	cr_assert_not_null(set[0] = rsv_mempool_alloc_preallocated(slab));
	cr_assert_eq(rsv_mempool_curr_nr(slab), 3);
	cr_assert_eq(rsv_mempool_resize(slab, 0), -EBUSY, "one element is out");
	rsv_mempool_free(set[0], slab);
	cr_assert_eq(rsv_mempool_resize(slab, 8), 0);
	cr_assert_eq(rsv_mempool_curr_nr(slab), 8);
	cr_assert_eq(rsv_mempool_resize(slab, 1), 0);
	cr_assert_eq(rsv_mempool_curr_nr(slab), 1);
	cr_assert_geq(rsv_ksize(set[1] = rsv_mempool_alloc(km, RSV_GFP_KERNEL)), 300);
	rsv_mempool_free(set[1], km);
	pg = rsv_mempool_alloc(pages, RSV_GFP_KERNEL);
	cr_assert_not_null(pg);
	rsv_mempool_free(pg, pages);
	rsv_mempool_destroy(slab);
	rsv_mempool_destroy(km);
	rsv_mempool_destroy(pages);
	rsv_mempool_destroy(NULL);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	finish(sys);
}

Test(mempool, bad_input_is_named)
{
	struct rsv_system *sys = attached();
	struct backing b = { 0 };
	struct rsv_mempool pool;
	struct rsv_mempool *km = rsv_mempool_create_kmalloc_pool(sys, 1, 64);
	void *e, *other;

	cr_assert_eq(rsv_mempool_init(&pool, sys, -1, heap_alloc, heap_free, &b), -EINVAL);
	cr_assert_eq(rsv_mempool_init(&pool, sys, RSV_MEMPOOL_MAX_MIN_NR + 1, heap_alloc, heap_free,
				      &b),
		     -EINVAL);
	cr_assert_eq(rsv_mempool_init(&pool, sys, 1, NULL, heap_free, &b), -EINVAL);
	cr_assert_null(rsv_mempool_create_kmalloc_pool(sys, 1, 0));
	rsv_mempool_set_name(km, "km64");
	rsv_mempool_free(NULL, km);
	other = rsv_kmalloc(8, RSV_GFP_KERNEL);
	rsv_mempool_free(other, km);
	cr_assert(strstr(rsv_system_error(sys), "\"km64\""), "%s", rsv_system_error(sys));
	cr_assert(strstr(rsv_system_error(sys), "not a kmalloc block of the pool's size"));
	rsv_kfree(other);
	e = rsv_mempool_alloc(km, RSV_GFP_KERNEL);
	rsv_mempool_free(e, km);
	rsv_mempool_free(e, km); /* it went back to kmalloc, which names the double free */
	cr_assert(strstr(rsv_system_error(sys), "double free"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_mempool_curr_nr(km), 1, "nothing lost, nothing added twice");
	e = rsv_mempool_alloc(km, RSV_GFP_KERNEL);
	rsv_mempool_destroy(km);
	cr_assert(strstr(rsv_system_error(sys), "1 elements still out"), "%s",
		  rsv_system_error(sys));
	rsv_kfree(e);
	finish(sys);
}

/* The context rule: a pool names its system, as caches and reservations do; its elements
 * are made in the calling task's context, which must be a task of that system. */
Test(mempool, a_pool_for_another_system_or_over_its_cache_is_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_system *other = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_kmem_cache *foreign;
	struct rsv_mempool pool;

	cr_assert_eq(rsv_mempool_init(&pool, sys, 1, rsv_mempool_kmalloc, rsv_mempool_kfree,
				      (void *)(uintptr_t)64),
		     -EPERM, "not a task");
	rsv_task_attach(other, "other");
	foreign = rsv_kmem_cache_create(other, "foreign", 64, 0, 0, NULL);
	cr_assert_null(rsv_mempool_create_kmalloc_pool(sys, 1, 64), "a task of another system");
	cr_assert(strstr(rsv_system_error(other), "for another system"), "%s",
		  rsv_system_error(other));
	rsv_task_detach();
	rsv_task_attach(sys, "setup");
	cr_assert_null(rsv_mempool_create_slab_pool(sys, 1, foreign), "another system's cache");
	cr_assert(strstr(rsv_system_error(sys), "not a cache of its system"), "%s",
		  rsv_system_error(sys));
	cr_assert_null(rsv_mempool_create_kmalloc_pool(NULL, 1, 64));
	rsv_task_detach();
	rsv_task_attach(other, "other");
	cr_assert_eq(rsv_kmem_cache_destroy(foreign), 0);
	rsv_task_detach();
	teardown_whole(sys);
	teardown_whole(other);
}

/* Coverage counts how each wait of mempool_alloc() ended: by a free to the pool, or by the
 * 5 s re-poll timeout (the allocator then tries again, and here succeeds once the holder
 * has let go directly to the page allocator). */
struct wait_ends {
	struct rsv_mempool *pool;
	void *held[2];
	_Atomic int stage;
};

static int holder(void *arg)
{
	struct wait_ends *w = arg;

	w->held[0] = rsv_mempool_alloc(w->pool, RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC);
	w->held[1] = rsv_mempool_alloc(w->pool, RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC);
	atomic_store(&w->stage, 1);
	rsv_msleep(7000); /* past the waiter's first 5 s re-poll: a timeout, then... */
	rsv_mempool_free(w->held[0], w->pool); /* ...this wakes it: woken */
	return 0;
}

static int waiter(void *arg)
{
	struct wait_ends *w = arg;
	void *e;

	while (!atomic_load(&w->stage))
		rsv_msleep(1);
	e = rsv_mempool_alloc(w->pool, RSV_GFP_NOWAIT);
	cr_assert_null(e, "the pool is empty and the arena too tight for the backing allocator");
	e = rsv_mempool_alloc(w->pool, RSV_GFP_NOIO);
	rsv_mempool_free(e, w->pool);
	return 0;
}

Test(mempool, waits_are_counted_by_how_they_ended)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);
	struct wait_ends w = { 0 };
	struct rsv_page *fill[512];
	unsigned n = 0;

	rsv_task_attach(sys, "setup");
	w.pool = rsv_mempool_create_page_pool(sys, 2, 0);
	cr_assert(w.pool);
	rsv_task_detach();
	rsv_task_attach(sys, "filler");
	/* No free page left for the backing allocator: waiting on the pool is the only way. */
	while (n < 512 &&
	       (fill[n] = rsv_alloc_pages(RSV_GFP_NOWAIT | RSV___GFP_NOMEMALLOC | RSV___GFP_NOWARN,
					  0)))
		n++;
	rsv_task_detach();
	rsv_task_create(sys, "holder", holder, &w);
	rsv_task_create(sys, "waiter", waiter, &w);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MEMPOOL_WAIT_TIMEOUT), 1);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MEMPOOL_WAIT_WOKEN), 1);
	rsv_task_attach(sys, "teardown");
	rsv_mempool_free(w.held[1], w.pool);
	while (n)
		rsv_free_pages(fill[--n], 0);
	rsv_mempool_destroy(w.pool);
	rsv_task_detach();
	teardown_whole(sys);
}
