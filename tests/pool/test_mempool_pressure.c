/* Mempools under memory pressure: upstream's mempool_alloc reaches direct reclaim only after
 * finding its pool empty. A page cache to reclaim, hogs that keep memory short, and I/O tasks
 * cycling elements of a page pool; the pool's counters say when reclaim was entered. */
#include <stdlib.h>
#include "helpers.h"

TestSuite(mempool_pressure, .timeout = 300);

#define CACHE_PAGES 2500
#define HOGS 4
#define HOG_ROUNDS 20
#define HOG_HOLD 900
#define IO_TASKS 6
#define IO_ROUNDS 150
#define IO_BATCH 3
#define POOL_MIN 2

struct pressure {
	struct rsv_mempool *pool;
	_Atomic unsigned hogs, hog_failures, io_nulls, io_done;
};

/* Even-numbered hogs allocate like a process (GFP_KERNEL), odd ones like a network receive
 * path (GFP_ATOMIC: below min, never reclaiming, retried a millisecond later). */
static int hog(void *arg)
{
	struct pressure *p = arg;
	struct rsv_page **held = calloc(HOG_HOLD, sizeof(*held));
	bool atomic_hog = atomic_fetch_add(&p->hogs, 1) % 2;

	for (int r = 0; r < HOG_ROUNDS; r++) {
		for (int i = 0; i < HOG_HOLD; i++) {
			while (atomic_hog && !(held[i] = rsv_alloc_pages(RSV_GFP_ATOMIC, 0)))
				rsv_msleep(1);
			if (!atomic_hog && !(held[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
				atomic_fetch_add(&p->hog_failures, 1);
		}
		rsv_msleep(20);
		for (int i = 0; i < HOG_HOLD; i++)
			if (held[i])
				rsv_free_pages(held[i], 0);
	}
	free(held);
	return 0;
}

/* A writeout: a few bounce pages from the pool, in flight for a millisecond. */
static int io_task(void *arg)
{
	struct pressure *p = arg;
	void *e[IO_BATCH];

	for (int r = 0; r < IO_ROUNDS; r++) {
		for (int i = 0; i < IO_BATCH; i++)
			if (!(e[i] = rsv_mempool_alloc(p->pool, RSV_GFP_NOIO)))
				atomic_fetch_add(&p->io_nulls, 1);
		rsv_msleep(1);
		for (int i = 0; i < IO_BATCH; i++)
			rsv_mempool_free(e[i], p->pool);
	}
	atomic_fetch_add(&p->io_done, 1);
	return 0;
}

static void run_pressure(enum rsv_mempool_policy policy, rsv_mempool_alloc_t backing,
			 uint64_t seed, struct rsv_mempool_stats *st)
{
	struct rsv_system_config cfg = { .nr_pages = 4096, .backend = RSV_BACKEND_SIM,
					 .seed = seed, .misuse = RSV_MISUSE_RETURN };
	struct pressure p = { 0 };
	struct rsv_system *sys;
	struct rsv_mapping *cache;
	struct rsv_bdev *dev;

	cfg.policy.value[RSV_POLICY_MEMPOOL] = (unsigned char)policy;
	sys = rsv_system_create(&cfg);
	cr_assert_not_null(sys);
	rsv_task_attach(sys, "setup");
	dev = rsv_ramdev_create(sys, "disk", CACHE_PAGES, 2 * RSV_NSEC_PER_MSEC, 0);
	cache = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", dev, 0);
	for (int i = 0; i < CACHE_PAGES; i++) {
		struct rsv_page *pg = rsv_mapping_add_page(cache, RSV_GFP_KERNEL, (uint64_t)i);

		if (i % 4)
			rsv_page_mark_dirty(pg);
	}
	p.pool = backing ? rsv_mempool_create(sys, POOL_MIN, backing, rsv_mempool_free_pages, NULL)
			 : rsv_mempool_create_page_pool(sys, POOL_MIN, 0);
	cr_assert_not_null(p.pool);
	rsv_task_detach();
	for (int i = 0; i < HOGS; i++)
		rsv_task_create(sys, "hog", hog, &p);
	for (int i = 0; i < IO_TASKS; i++)
		rsv_task_create(sys, "io", io_task, &p);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(p.io_done, IO_TASKS);
	cr_assert_eq(p.io_nulls, 0, "a caller that may block never gets NULL");
	rsv_mempool_stats(p.pool, st);
	rsv_task_attach(sys, "teardown");
	rsv_mempool_destroy(p.pool);
	rsv_mapping_destroy(cache);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(mempool_pressure, upstream_reclaims_only_with_an_empty_pool)
{
	struct rsv_mempool_stats st;
	uint64_t reclaims = 0, from_pool = 0;

	for (uint64_t seed = 1; seed <= 10; seed++) {
		run_pressure(RSV_MEMPOOL_UPSTREAM, NULL, seed, &st);
		cr_assert_eq(st.reclaim_with_elements, 0, "seed %lu: %lu of %lu direct reclaims "
			     "began with elements in the pool", (unsigned long)seed,
			     (unsigned long)st.reclaim_with_elements,
			     (unsigned long)st.direct_reclaims);
		reclaims += st.direct_reclaims;
		from_pool += st.from_pool;
	}
	cr_assert_gt(from_pool, 0, "the pressure reached the pool");
	cr_assert_gt(reclaims, 0, "and its second pass, which reclaims");
	cr_log_info("upstream: %lu allocations from the pool, %lu direct reclaims, none with "
		    "elements left", (unsigned long)from_pool, (unsigned long)reclaims);
}

/* The control: a backing allocator that ignores the gfp it is given reclaims on the first
 * pass, with the pool full, and the counter says so. */
static void *greedy_pages(rsv_gfp_t gfp, void *data)
{
	(void)gfp, (void)data;
	return rsv_alloc_pages(RSV_GFP_NOIO | RSV___GFP_NORETRY | RSV___GFP_NOMEMALLOC, 0);
}

Test(mempool_pressure, a_backing_allocator_that_reclaims_with_elements_is_counted)
{
	struct rsv_mempool_stats st;
	uint64_t with = 0;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		run_pressure(RSV_MEMPOOL_UPSTREAM, greedy_pages, seed, &st);
		with += st.reclaim_with_elements;
	}
	cr_assert_gt(with, 0);
}
