/* Sizes at and around SIZE_MAX for every entry point that takes one: each is refused before
 * any work (NULL with errno, or -EINVAL), never rounded into a small block; the sizes just
 * inside the limit still work; the arena is whole at teardown. */
#include <limits.h>
#include <stdint.h>
#include "helpers.h"

TestSuite(sizes, .timeout = 60);

static struct rsv_system *setup(void)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 4096, 1);

	cr_assert_not_null(rsv_task_attach(sys, "sizes"));
	return sys;
}

static void finish(struct rsv_system *sys)
{
	rsv_task_detach();
	teardown_whole(sys);
}

/* Before the fix, size + PAGE_SIZE - 1 wrapped and kmalloc_large() handed out one page. */
Test(sizes, kmalloc_near_size_max_is_refused_not_wrapped)
{
	struct rsv_system *sys = setup();
	unsigned long free0 = rsv_system_free_pages(sys);
	uint64_t misuse0 = rsv_stats_get(sys, RSV_STAT_MISUSE);
	const size_t bad[] = { SIZE_MAX,
			       SIZE_MAX - 1,
			       SIZE_MAX - 4094,
			       SIZE_MAX - 4095,
			       SIZE_MAX - RSV_PAGE_SIZE,
			       SIZE_MAX / 2 + 1,
			       RSV_KMALLOC_MAX_SIZE + 1 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_kmalloc(bad[i], RSV_GFP_KERNEL), "kmalloc(%zu) succeeded",
			       bad[i]);
		cr_assert_eq(errno, EINVAL, "kmalloc(%zu): errno %d", bad[i], errno);
		errno = 0;
		cr_assert_null(rsv_kzalloc(bad[i], RSV_GFP_KERNEL), "kzalloc(%zu) succeeded",
			       bad[i]);
		cr_assert_eq(errno, EINVAL);
	}
	cr_assert(strstr(rsv_system_error(sys), "larger than an order-10 block"), "%s",
		  rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE) - misuse0, 14);
	cr_assert_eq(rsv_system_free_pages(sys), free0, "a refused size took pages");
	finish(sys);
}

Test(sizes, kmalloc_at_the_limit_is_one_max_order_block)
{
	struct rsv_system *sys = setup();
	void *p = rsv_kmalloc(RSV_KMALLOC_MAX_SIZE, RSV_GFP_KERNEL);
	void *q = rsv_kmalloc(RSV_KMALLOC_MAX_SIZE - RSV_PAGE_SIZE + 1, RSV_GFP_KERNEL);

	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert_eq(rsv_ksize(p), RSV_KMALLOC_MAX_SIZE);
	cr_assert_eq(rsv_ksize(q), RSV_KMALLOC_MAX_SIZE);
	rsv_kfree(p);
	rsv_kfree(q);
	finish(sys);
}

Test(sizes, kmalloc_array_and_kcalloc_refuse_an_overflowing_product)
{
	struct rsv_system *sys = setup();
	unsigned long free0 = rsv_system_free_pages(sys);
	const size_t pairs[][2] = { { SIZE_MAX, 2 }, { 2, SIZE_MAX }, { SIZE_MAX / 2 + 1, 2 },
				    { (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX, SIZE_MAX } };
	uint64_t *z;

	for (unsigned i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_kmalloc_array(pairs[i][0], pairs[i][1], RSV_GFP_KERNEL));
		cr_assert_eq(errno, EOVERFLOW, "kmalloc_array(%zu, %zu): errno %d", pairs[i][0],
			     pairs[i][1], errno);
		errno = 0;
		cr_assert_null(rsv_kcalloc(pairs[i][0], pairs[i][1], RSV_GFP_KERNEL));
		cr_assert_eq(errno, EOVERFLOW);
	}
	/* A product that does not overflow but is too big is kmalloc's refusal. */
	errno = 0;
	cr_assert_null(rsv_kcalloc(SIZE_MAX / 4096, 4096, RSV_GFP_KERNEL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(rsv_system_free_pages(sys), free0);
	z = rsv_kcalloc(512, sizeof(*z), RSV_GFP_KERNEL);
	cr_assert_not_null(z);
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(z[i], 0);
	rsv_kfree(z);
	finish(sys);
}

Test(sizes, kmalloc_pool_of_an_impossible_size_is_refused_at_creation)
{
	struct rsv_system *sys = setup();
	unsigned long free0 = rsv_system_free_pages(sys);
	struct rsv_mempool pool;
	const size_t bad[] = { SIZE_MAX, SIZE_MAX - 4094, RSV_KMALLOC_MAX_SIZE + 1, 0 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_mempool_create_kmalloc_pool(sys, 2, bad[i]), "size %zu", bad[i]);
		cr_assert_eq(errno, EINVAL);
		cr_assert_eq(rsv_mempool_init(&pool, sys, 2, rsv_mempool_kmalloc, rsv_mempool_kfree,
					      (void *)(uintptr_t)bad[i]),
			     -EINVAL);
	}
	cr_assert_eq(rsv_mempool_init(&pool, sys, 1, rsv_mempool_alloc_pages,
				      rsv_mempool_free_pages,
				      (void *)(uintptr_t)(RSV_MAX_ORDER + 1)),
		     -EINVAL);
	cr_assert_null(rsv_mempool_create_page_pool(sys, 1, RSV_MAX_ORDER + 1));
	cr_assert_null(rsv_mempool_create_page_pool(sys, 1, UINT32_MAX));
	cr_assert_eq(rsv_system_free_pages(sys), free0, "a refused pool took pages");
	finish(sys);
}

Test(sizes, kmalloc_pool_at_the_limit_works)
{
	struct rsv_system *sys = setup();
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 1, RSV_KMALLOC_MAX_SIZE);
	void *e;

	cr_assert_not_null(pool);
	e = rsv_mempool_alloc(pool, RSV_GFP_KERNEL);
	cr_assert_not_null(e);
	cr_assert_eq(rsv_ksize(e), RSV_KMALLOC_MAX_SIZE);
	rsv_mempool_free(e, pool);
	rsv_mempool_destroy(pool);
	finish(sys);
}

Test(sizes, mempool_min_nr_and_bulk_counts_out_of_range_are_refused)
{
	struct rsv_system *sys = setup();
	struct rsv_mempool *pool;
	void *elems[4];

	errno = 0;
	cr_assert_null(rsv_mempool_create_kmalloc_pool(sys, -1, 64));
	cr_assert_null(rsv_mempool_create_kmalloc_pool(sys, INT32_MAX, 64));
	pool = rsv_mempool_create_kmalloc_pool(sys, 2, 64);
	cr_assert_not_null(pool);
	cr_assert_eq(rsv_mempool_resize(pool, -1), -EINVAL);
	cr_assert_eq(rsv_mempool_resize(pool, INT32_MAX), -EINVAL);
	/* More than min_nr at once could wait forever: refused, nothing taken. */
	cr_assert_eq(rsv_mempool_alloc_bulk(pool, elems, UINT32_MAX), 0);
	cr_assert_eq(rsv_mempool_curr_nr(pool), 2);
	rsv_mempool_destroy(pool);
	finish(sys);
}

Test(sizes, slab_cache_sizes_and_alignments_out_of_range_are_refused)
{
	struct rsv_system *sys = setup();
	const size_t sizes[] = { 0, SIZE_MAX, SIZE_MAX - 7, 4 * RSV_KMALLOC_MAX_CACHE_SIZE + 1 };
	const size_t aligns[] = { SIZE_MAX, (size_t)1 << 63, 3, 2 * RSV_PAGE_SIZE };
	struct rsv_kmem_cache *c;

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_kmem_cache_create(sys, "bad", sizes[i], 0, 0, NULL));
		cr_assert_eq(errno, EINVAL, "size %zu", sizes[i]);
	}
	for (unsigned i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_kmem_cache_create(sys, "bad", 64, aligns[i], 0, NULL));
		cr_assert_eq(errno, EINVAL, "align %zu", aligns[i]);
	}
	c = rsv_kmem_cache_create(sys, "edge", 4 * RSV_KMALLOC_MAX_CACHE_SIZE, RSV_PAGE_SIZE, 0,
				  NULL);
	cr_assert_not_null(c);
	rsv_kmem_cache_free(c, rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL));
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0);
	finish(sys);
}

Test(sizes, page_orders_and_arena_sizes_out_of_range_are_refused)
{
	struct rsv_system *sys = setup();

	errno = 0;
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, RSV_MAX_ORDER + 1));
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, UINT32_MAX));
	cr_assert_null(rsv_get_free_pages(RSV_GFP_KERNEL, UINT32_MAX));
	errno = 0;
	cr_assert_null(rsv_reservation_create(sys, ULONG_MAX));
	cr_assert_eq(errno, EINVAL);
	finish(sys);
	errno = 0;
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){ .nr_pages = ULONG_MAX }));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){
		.nr_pages = RSV_MAX_ARENA_PAGES + 1 }));
}
