/* Misuse that would corrupt memory is caught and named. With misuse set to abort (the debug
 * and hardened builds' default) each detector ends the process with SIGABRT; in release's
 * return mode the same calls are refused and counted, and nothing is lost. */
#include <signal.h>
#include "helpers.h"

TestSuite(hardening, .timeout = 30);

static struct rsv_system *aborting(void)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 1024, .backend = RSV_BACKEND_SIM, .misuse = RSV_MISUSE_ABORT });

	cr_assert_not_null(sys);
	rsv_task_attach(sys, "victim");
	return sys;
}

Test(hardening, a_late_double_free_in_a_poisoned_cache, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "poisoned", 64, 0, RSV_SLAB_POISON,
							  NULL);
	void *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL),
	     *y = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_free(c, y); /* x is no longer the last freed: only the poison tells */
	rsv_kmem_cache_free(c, x);
}

Test(hardening, a_free_of_the_middle_of_an_object, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "objs", 128, 0, 0, NULL);
	char *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x + 8);
}

Test(hardening, a_free_to_the_wrong_cache, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_kmem_cache *a = rsv_kmem_cache_create(sys, "a", 96, 0, 0, NULL);
	struct rsv_kmem_cache *b = rsv_kmem_cache_create(sys, "b", 96, 0, 0, NULL);

	rsv_kmem_cache_free(b, rsv_kmem_cache_alloc(a, RSV_GFP_KERNEL));
}

Test(hardening, a_kfree_of_memory_it_does_not_own, .signal = SIGABRT)
{
	static char not_ours[64];

	aborting();
	rsv_kfree(not_ours + 16);
}

Test(hardening, a_foreign_element_freed_to_a_mempool, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_mempool *p = rsv_mempool_create_kmalloc_pool(sys, 2, 64);
	struct rsv_mempool *q = rsv_mempool_create_page_pool(sys, 2, 0);

	(void)sys;
	rsv_mempool_free(rsv_mempool_alloc(q, RSV_GFP_KERNEL), p);
}

Test(hardening, a_write_after_free_seen_at_reuse, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "poisoned", 64, 0, RSV_SLAB_POISON,
							  NULL);
	char *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x);
	x[40] = 7;
	rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
}

Test(hardening, a_page_freed_twice, .signal = SIGABRT)
{
	struct rsv_system *sys = aborting();
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 1);

	(void)sys;
	rsv_free_pages(p, 1);
	rsv_free_pages(p, 1);
}

/* The same misuse in return mode: refused, named, counted; the arena is whole afterwards. */
Test(hardening, in_return_mode_refused_and_counted)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_kmem_cache *c, *d;
	void *x, *y;

	rsv_task_attach(sys, "user");
	c = rsv_kmem_cache_create(sys, "poisoned", 64, 0, RSV_SLAB_POISON, NULL);
	d = rsv_kmem_cache_create(sys, "other", 64, 0, 0, NULL);
	x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	y = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_free(c, y);
	rsv_kmem_cache_free(c, x);
	cr_assert(strstr(rsv_system_error(sys), "double free"), "%s", rsv_system_error(sys));
	x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	rsv_kmem_cache_free(d, x);
	cr_assert(strstr(rsv_system_error(sys), "another cache"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 2);
	rsv_kmem_cache_free(c, x);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_kmem_cache_destroy(d), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan, free pages of the arena and parked pool elements are poisoned: touching one is
 * reported like a use after free on the heap (make check runs ASan with abort_on_error=1). */
Test(hardening, asan_sees_a_freed_page_touched, .signal = SIGABRT)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_page *p;
	volatile char *a;

	rsv_task_attach(sys, "user");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	a = rsv_page_address(p);
	a[0] = 1;
	rsv_free_pages(p, 0);
	a[100] = 2;
}

Test(hardening, asan_sees_a_parked_element_touched, .signal = SIGABRT)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_mempool *pool;
	volatile char *e;

	rsv_task_attach(sys, "user");
	pool = rsv_mempool_create_kmalloc_pool(sys, 1, 64);
	e = rsv_mempool_alloc_preallocated(pool);
	rsv_mempool_free((void *)e, pool); /* back into the pool: parked */
	e[8] = 3;
}
#endif
