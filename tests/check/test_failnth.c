/* A fail-nth sweep: each API scenario runs with its 1st, 2nd, 3rd... fault site failing, until
 * a run completes with no fault left to fire. Every failure must surface as the documented
 * NULL or error, the scenario must unwind, the invariants must hold and the arena must be
 * whole afterwards; a blocking mempool allocation and a __GFP_NOFAIL one never fail. */
#include "helpers.h"

TestSuite(failnth, .timeout = 300);

#define MAX_SITES 400

typedef void (*scenario_fn)(struct rsv_system *sys);

/* Scenarios run as simulator tasks (they may sleep), where Criterion's asserts may not: the
 * first broken promise is kept here and asserted after the run. */
static char broken[256];

#define CHECK(cond, ...)                                                                    \
	do {                                                                                \
		if (!(cond) && !broken[0])                                                  \
			snprintf(broken, sizeof(broken), __VA_ARGS__);                      \
	} while (0)

static void pages_orders(struct rsv_system *sys)
{
	struct rsv_page *p[RSV_NR_ORDERS];

	for (unsigned o = 0; o <= 5; o++)
		p[o] = rsv_alloc_pages(RSV_GFP_KERNEL, o);
	for (unsigned o = 0; o <= 5; o++)
		if (p[o])
			rsv_free_pages(p[o], o);
}

static void pages_nowait(struct rsv_system *sys)
{
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_NOWAIT, 0);

	CHECK(p || errno == ENOMEM, "NOWAIT: NULL with errno %d", errno);
	if (p)
		rsv_free_pages(p, 0);
}

static void pages_nofail(struct rsv_system *sys)
{
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 1);

	CHECK((p) != NULL, "__GFP_NOFAIL returned NULL");
	rsv_free_pages(p, 1);
}

static void pages_zeroed(struct rsv_system *sys)
{
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_ZERO, 1);

	if (p) {
		const unsigned char *a = rsv_page_address(p);

		for (size_t i = 0; i < 2 * RSV_PAGE_SIZE; i += 511)
			CHECK(a[i] == 0, "__GFP_ZERO page not zeroed");
		rsv_free_pages(p, 1);
	}
}

static void pages_many(struct rsv_system *sys)
{
	struct rsv_page *p[64];

	for (int i = 0; i < 64; i++)
		p[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	for (int i = 0; i < 64; i++)
		if (p[i])
			rsv_free_pages(p[i], 0);
}

static void kmalloc_sizes(struct rsv_system *sys)
{
	void *o[14];
	size_t size = 8;

	for (int i = 0; i < 14; i++, size *= 2)
		o[i] = rsv_kmalloc(size, RSV_GFP_KERNEL); /* 8 B .. 64 KiB: both kinds */
	for (int i = 0; i < 14; i++)
		rsv_kfree(o[i]);
}

static void kzalloc_odd(struct rsv_system *sys)
{
	unsigned char *o = rsv_kzalloc(100, RSV_GFP_KERNEL);

	if (o) {
		for (int i = 0; i < 100; i++)
			CHECK(o[i] == 0, "kzalloc not zeroed");
		CHECK(rsv_ksize(o) >= 100, "ksize %zu", rsv_ksize(o));
	}
	rsv_kfree(o);
}

static void kmalloc_churn(struct rsv_system *sys)
{
	void *o[200];

	for (int i = 0; i < 200; i++)
		o[i] = rsv_kmalloc(48 + (size_t)(i % 5) * 40, RSV_GFP_NOWAIT);
	for (int i = 0; i < 200; i += 2)
		rsv_kfree(o[i]);
	for (int i = 0; i < 200; i += 2)
		o[i] = rsv_kmalloc(300, RSV_GFP_KERNEL);
	for (int i = 0; i < 200; i++)
		rsv_kfree(o[i]);
}

static void cache_life(struct rsv_system *sys)
{
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "sweep", 200, 0, 0, NULL);
	void *o[40];

	if (!c)
		return;
	for (int i = 0; i < 40; i++)
		o[i] = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	for (int i = 0; i < 40; i++)
		if (o[i])
			rsv_kmem_cache_free(c, o[i]);
	CHECK(rsv_kmem_cache_destroy(c) == 0, "cache destroy failed");
}

static void ctor(void *obj)
{
	memset(obj, 0xab, 64);
}

static void cache_ctor(struct rsv_system *sys)
{
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "ctor", 64, 0, 0, ctor);
	unsigned char *o;

	if (!c)
		return;
	if ((o = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL))) {
		CHECK(o[63] == 0xab, "ctor did not run");
		rsv_kmem_cache_free(c, o);
	}
	rsv_kmem_cache_destroy(c);
}

static void cache_bulk(struct rsv_system *sys)
{
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "bulk", 96, 0, 0, NULL);
	void *o[32];
	size_t n;

	if (!c)
		return;
	n = rsv_kmem_cache_alloc_bulk(c, RSV_GFP_KERNEL, 32, o);
	CHECK(n == 0 || n == 32, "bulk allocation is all or nothing: %zu", n);
	if (n)
		rsv_kmem_cache_free_bulk(c, n, o);
	rsv_kmem_cache_destroy(c);
}

static void cache_shrink(struct rsv_system *sys)
{
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "shrink", 512, 0, 0, NULL);
	void *o[64];

	if (!c)
		return;
	for (int i = 0; i < 64; i++)
		o[i] = rsv_kmem_cache_alloc(c, RSV_GFP_NOWAIT);
	for (int i = 0; i < 64; i++)
		if (o[i])
			rsv_kmem_cache_free(c, o[i]);
	rsv_kmem_cache_shrink(c);
	rsv_kmem_cache_destroy(c);
}

/* A pool whose creation may fail, then allocations that must not. */
static void pool_use(struct rsv_mempool *pool, rsv_gfp_t gfp, int n)
{
	void *e[8];

	for (int i = 0; i < n; i++) {
		e[i] = rsv_mempool_alloc(pool, gfp);
		if (gfp & RSV___GFP_DIRECT_RECLAIM)
			CHECK((e[i]) != NULL, "a blocking mempool allocation returned NULL");
	}
	for (int i = 0; i < n; i++)
		rsv_mempool_free(e[i], pool);
}

static void pool_kmalloc(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 4, 128);

	if (!pool)
		return;
	pool_use(pool, RSV_GFP_KERNEL, 4);
	rsv_mempool_destroy(pool);
}

static void pool_pages(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_page_pool(sys, 3, 1);

	if (!pool)
		return;
	pool_use(pool, RSV_GFP_NOIO, 3);
	rsv_mempool_destroy(pool);
}

static void pool_slab(struct rsv_system *sys)
{
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "pooled", 256, 0, 0, NULL);
	struct rsv_mempool *pool = c ? rsv_mempool_create_slab_pool(sys, 4, c) : NULL;

	if (pool) {
		pool_use(pool, RSV_GFP_NOFS, 4);
		rsv_mempool_destroy(pool);
	}
	if (c)
		rsv_kmem_cache_destroy(c);
}

static void pool_nowait(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 2, 64);

	if (!pool)
		return;
	pool_use(pool, RSV_GFP_NOWAIT, 3); /* may be NULL: it may not block */
	rsv_mempool_destroy(pool);
}

static void pool_resize(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 2, 64);
	int err;

	if (!pool)
		return;
	err = rsv_mempool_resize(pool, 6);
	CHECK(err == 0 || err == -ENOMEM, "resize: %d", err);
	CHECK(rsv_mempool_min_nr(pool) == (err ? 2 : 6), "min_nr %d after %d",
	      rsv_mempool_min_nr(pool), err);
	pool_use(pool, RSV_GFP_KERNEL, rsv_mempool_min_nr(pool));
	CHECK(rsv_mempool_resize(pool, 1) == 0, "shrinking resize failed");
	rsv_mempool_destroy(pool);
}

static void pool_bulk(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 4, 512);
	void *e[4] = { 0 };

	if (!pool)
		return;
	CHECK(rsv_mempool_alloc_bulk(pool, e, 4) == 4, "bulk short");
	for (int i = 0; i < 4; i++)
		CHECK(e[i] != NULL, "bulk element %d NULL", i);
	rsv_mempool_free_bulk(pool, e, 4);
	rsv_mempool_destroy(pool);
}

static void pool_prealloc(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create_page_pool(sys, 2, 0);
	void *a, *b;

	if (!pool)
		return;
	a = rsv_mempool_alloc_preallocated(pool);
	b = rsv_mempool_alloc_preallocated(pool);
	CHECK(a && b, "two preallocated elements");
	CHECK(rsv_mempool_alloc_preallocated(pool) == NULL, "a third preallocated element");
	rsv_mempool_free(a, pool);
	rsv_mempool_free(b, pool);
	rsv_mempool_destroy(pool);
}

static void pool_wrapper_alloc(struct rsv_system *sys)
{
	struct rsv_mempool *pool = rsv_mempool_create(sys, 3, rsv_mempool_kmalloc,
						      rsv_mempool_kfree, (void *)(uintptr_t)1000);

	if (!pool)
		return;
	pool_use(pool, RSV_GFP_KERNEL, 3);
	rsv_mempool_destroy(pool);
}

static void file_mapping(struct rsv_system *sys)
{
	struct rsv_mapping *m = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", NULL, 0);

	if (!m)
		return;
	for (int i = 0; i < 20; i++) {
		struct rsv_page *p = rsv_mapping_add_page(m, RSV_GFP_KERNEL, (uint64_t)i);

		if (p && i % 3 == 0)
			rsv_page_mark_dirty(p);
	}
	CHECK(rsv_mapping_destroy(m) == 0, "mapping destroy failed");
}

static void anon_mapping(struct rsv_system *sys)
{
	struct rsv_mapping *m = rsv_mapping_create(sys, RSV_MAPPING_ANON, "anon", NULL, 0);

	if (!m)
		return;
	for (int i = 0; i < 20; i++)
		rsv_mapping_add_page(m, RSV_GFP_NOWAIT, (uint64_t)i);
	CHECK(rsv_mapping_destroy(m) == 0, "mapping destroy failed");
}

static unsigned long count_one(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	return 64;
}

static unsigned long scan_one(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	void *o = rsv_kmalloc(32, RSV_GFP_NOWAIT); /* a shrinker that allocates, as some do */

	rsv_kfree(o);
	return sc->nr_to_scan;
}

static void shrinker(struct rsv_system *sys)
{
	struct rsv_shrinker s = { .count_objects = count_one, .scan_objects = scan_one,
				  .name = "sweep" };

	CHECK(rsv_register_shrinker(sys, &s) == 0, "register");
	rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0);
	CHECK(rsv_unregister_shrinker(sys, &s) == 0, "unregister");
}

static void reclaim_file(struct rsv_system *sys)
{
	struct rsv_mapping *m = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", NULL, 0);

	if (!m)
		return;
	for (int i = 0; i < 64; i++)
		rsv_mapping_add_page(m, RSV_GFP_NOWAIT, (uint64_t)i);
	rsv_try_to_free_pages(RSV_GFP_KERNEL, 0);
	rsv_mapping_destroy(m);
}

static void scopes(struct rsv_system *sys)
{
	unsigned noio = rsv_memalloc_noio_save();
	void *a = rsv_kmalloc(64, RSV_GFP_KERNEL);
	unsigned nofs = rsv_memalloc_nofs_save();
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);

	rsv_memalloc_nofs_restore(nofs);
	rsv_memalloc_noio_restore(noio);
	rsv_kfree(a);
	if (p)
		rsv_free_pages(p, 0);
}

static void memalloc_reclaimer(struct rsv_system *sys)
{
	unsigned saved = rsv_memalloc_noreclaim_save();
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_ATOMIC, 0);

	rsv_memalloc_noreclaim_restore(saved);
	if (p)
		rsv_free_pages(p, 0);
}

static void bioset(struct rsv_system *sys)
{
	struct rsv_bioset bs;
	struct rsv_bio *b[3];

	if (rsv_bioset_init(&bs, sys, "sweep_bio", 2, 64))
		return;
	for (int i = 0; i < 3; i++)
		CHECK((b[i] = rsv_bio_alloc(&bs, RSV_GFP_NOIO)) != NULL, "bio_alloc returned NULL");
	for (int i = 0; i < 3; i++)
		rsv_bio_put(b[i]);
	rsv_bioset_exit(&bs);
}

static void reservation(struct rsv_system *sys)
{
	struct rsv_reservation *r = rsv_reservation_create(sys, 8);
	struct rsv_page *p[4];

	if (!r)
		return;
	if (!rsv_reservation_enable(r)) {
		for (int i = 0; i < 4; i++)
			p[i] = rsv_alloc_pages(RSV_GFP_NOIO, 0);
		for (int i = 0; i < 4; i++)
			if (p[i])
				rsv_free_pages(p[i], 0);
		rsv_reservation_disable(r);
	}
	CHECK(rsv_reservation_destroy(r) == 0, "reservation destroy");
}

static void kmalloc_large_orders(struct rsv_system *sys)
{
	void *a = rsv_kmalloc(3 * RSV_PAGE_SIZE, RSV_GFP_KERNEL);
	void *b = rsv_kzalloc(20000, RSV_GFP_NOFS);

	rsv_kfree(a);
	rsv_kfree(b);
}

static const struct {
	const char *name;
	scenario_fn fn;
	enum rsv_reservation_policy reservation;
} scenarios[] = {
	{ "pages_orders", pages_orders, RSV_RESERVATION_WATERMARKS },
	{ "pages_nowait", pages_nowait, RSV_RESERVATION_WATERMARKS },
	{ "pages_nofail", pages_nofail, RSV_RESERVATION_WATERMARKS },
	{ "pages_zeroed", pages_zeroed, RSV_RESERVATION_WATERMARKS },
	{ "pages_many", pages_many, RSV_RESERVATION_WATERMARKS },
	{ "kmalloc_sizes", kmalloc_sizes, RSV_RESERVATION_WATERMARKS },
	{ "kzalloc_odd", kzalloc_odd, RSV_RESERVATION_WATERMARKS },
	{ "kmalloc_churn", kmalloc_churn, RSV_RESERVATION_WATERMARKS },
	{ "kmalloc_large_orders", kmalloc_large_orders, RSV_RESERVATION_WATERMARKS },
	{ "cache_life", cache_life, RSV_RESERVATION_WATERMARKS },
	{ "cache_ctor", cache_ctor, RSV_RESERVATION_WATERMARKS },
	{ "cache_bulk", cache_bulk, RSV_RESERVATION_WATERMARKS },
	{ "cache_shrink", cache_shrink, RSV_RESERVATION_WATERMARKS },
	{ "pool_kmalloc", pool_kmalloc, RSV_RESERVATION_WATERMARKS },
	{ "pool_pages", pool_pages, RSV_RESERVATION_WATERMARKS },
	{ "pool_slab", pool_slab, RSV_RESERVATION_WATERMARKS },
	{ "pool_nowait", pool_nowait, RSV_RESERVATION_WATERMARKS },
	{ "pool_resize", pool_resize, RSV_RESERVATION_WATERMARKS },
	{ "pool_bulk", pool_bulk, RSV_RESERVATION_WATERMARKS },
	{ "pool_prealloc", pool_prealloc, RSV_RESERVATION_WATERMARKS },
	{ "pool_wrapper_alloc", pool_wrapper_alloc, RSV_RESERVATION_WATERMARKS },
	{ "file_mapping", file_mapping, RSV_RESERVATION_WATERMARKS },
	{ "anon_mapping", anon_mapping, RSV_RESERVATION_WATERMARKS },
	{ "shrinker", shrinker, RSV_RESERVATION_WATERMARKS },
	{ "reclaim_file", reclaim_file, RSV_RESERVATION_WATERMARKS },
	{ "scopes", scopes, RSV_RESERVATION_WATERMARKS },
	{ "memalloc_reclaimer", memalloc_reclaimer, RSV_RESERVATION_WATERMARKS },
	{ "bioset", bioset, RSV_RESERVATION_WATERMARKS },
	{ "reservation_watermarks", reservation, RSV_RESERVATION_WATERMARKS },
	{ "reservation_global_pool", reservation, RSV_RESERVATION_GLOBAL_POOL },
	{ "reservation_per_thread", reservation, RSV_RESERVATION_PER_THREAD },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

struct sweep_run {
	struct rsv_system *sys;
	unsigned scenario, n;
	bool fired;
};

static int sweeper(void *arg)
{
	struct sweep_run *run = arg;

	rsv_fail_nth_set(run->n);
	scenarios[run->scenario].fn(run->sys);
	run->fired = rsv_fail_nth_get() == 0;
	rsv_fail_nth_set(0);
	return 0;
}

/* One run of scenario @i with its @n-th fault site failing; true if the fault fired. */
static bool run_nth(unsigned i, unsigned n)
{
	struct rsv_policy policy = RSV_POLICY_DEFAULT;
	struct sweep_run run = { .scenario = i, .n = n };
	struct rsv_system *sys;

	policy.value[RSV_POLICY_RESERVATION] = (unsigned char)scenarios[i].reservation;
	sys = run.sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 2048, .backend = RSV_BACKEND_SIM, .seed = n,
		.misuse = RSV_MISUSE_RETURN, .policy = policy });
	cr_assert_not_null(sys);
	broken[0] = 0;
	rsv_task_create(sys, "sweeper", sweeper, &run);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "%s, site %u: %s", scenarios[i].name, n,
		     rsv_platform_report(rsv_system_platform(sys)));
	cr_assert_eq(broken[0], 0, "%s, site %u: %s", scenarios[i].name, n, broken);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s, site %u: %s", scenarios[i].name, n,
		     rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0, "%s, site %u: %s", scenarios[i].name,
		     n, rsv_system_error(sys));
	teardown_whole(sys); /* nothing leaked */
	return run.fired;
}

/* Every site of every scenario; returns the sites swept. */
static unsigned sweep(unsigned from, unsigned to)
{
	unsigned sites = 0;

	for (unsigned i = from; i < to && i < NR_SCENARIOS; i++) {
		unsigned n = 1;

		while (run_nth(i, n)) {
			cr_assert_lt(n, MAX_SITES, "%s: more than %d fault sites?",
				     scenarios[i].name, MAX_SITES);
			n++;
		}
		sites += n - 1;
	}
	return sites;
}

Test(failnth, there_are_at_least_thirty_scenarios)
{
	cr_assert_geq(NR_SCENARIOS, 30);
}

static void sweep_range(unsigned from, unsigned to)
{
	unsigned sites = sweep(from, to);

	cr_log_info("%u fault sites swept over scenarios %u..%u", sites, from, to - 1);
	cr_assert_geq(sites, to - from, "fewer fault sites than scenarios");
}

Test(failnth, pages_and_slab) { sweep_range(0, 13); }
Test(failnth, mempools) { sweep_range(13, 21); }
Test(failnth, reclaim_scopes_io_and_reserves) { sweep_range(21, NR_SCENARIOS); }
