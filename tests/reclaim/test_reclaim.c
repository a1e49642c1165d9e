/* Reclaim: what each gfp context may do to each kind of page, kswapd's low/high behaviour,
 * and allocators living off a page cache. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(reclaim, .timeout = 60);

/* ---- what a context may reclaim ---- */

struct ctx_test {
	struct rsv_mapping *file, *anon;
	rsv_gfp_t gfp;
	unsigned long reclaimed;
	struct rsv_task *task;
};

static int reclaim_once(void *arg)
{
	struct ctx_test *c = arg;

	c->task = rsv_task_current();
	c->reclaimed = rsv_try_to_free_pages(c->gfp, 0);
	rsv_msleep(100); /* let writeback and swap-out complete */
	return 0;
}

/* 100 dirty file pages (writeback enters the FS) and 100 anonymous pages with a swap device. */
static struct rsv_system *dirty_and_anon(struct ctx_test *c, rsv_gfp_t gfp, enum rsv_backend be)
{
	struct rsv_system *sys = test_system(be, 4096, 5);
	struct rsv_bdev *disk = rsv_ramdev_create(sys, "disk", 4096, RSV_NSEC_PER_MSEC, 0);
	struct rsv_bdev *swap = rsv_ramdev_create(sys, "swap", 4096, RSV_NSEC_PER_MSEC, 0);

	memset(c, 0, sizeof(*c));
	c->gfp = gfp;
	rsv_task_attach(sys, "setup");
	c->file = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", disk, RSV_MAPPING_FS);
	c->anon = rsv_mapping_create(sys, RSV_MAPPING_ANON, "anon", swap, 0);
	for (int i = 0; i < 100; i++) {
		rsv_page_mark_dirty(rsv_mapping_add_page(c->file, RSV_GFP_KERNEL, (uint64_t)i));
		cr_assert_not_null(rsv_mapping_add_page(c->anon, RSV_GFP_KERNEL, (uint64_t)i));
	}
	rsv_task_detach();
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_DIRTY), 100);
	rsv_task_create(sys, "reclaimer", reclaim_once, c);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	return sys;
}

static void teardown_mappings(struct rsv_system *sys, struct ctx_test *c)
{
	cr_assert_eq(rsv_mapping_destroy(c->file), -EPERM, "destroyed from a non-task thread");
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(c->file);
	rsv_mapping_destroy(c->anon);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reclaim, gfp_kernel_writes_back_and_swaps, .timeout = 10)
{
	struct ctx_test c;
	struct rsv_system *sys = dirty_and_anon(&c, RSV_GFP_KERNEL, RSV_BACKEND_SIM);

	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PGWRITEBACK), 0);
	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PSWPOUT), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_WRITEBACK), 0, "all writeback completed");
	cr_assert_lt(rsv_vm_counter(sys, RSV_NR_DIRTY), 100);
	cr_assert_gt(rsv_vm_counter(sys, RSV_NR_SWAPPED), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_ANON) + rsv_vm_counter(sys, RSV_NR_SWAPPED), 100);
	teardown_mappings(sys, &c);
}

Test(reclaim, gfp_nofs_swaps_but_never_writes_fs_pages, .timeout = 10)
{
	struct ctx_test c;
	struct rsv_system *sys = dirty_and_anon(&c, RSV_GFP_NOFS, RSV_BACKEND_SIM);

	cr_assert_eq(rsv_task_stat(c.task, RSV_STAT_PGWRITEBACK), 0);
	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PGSKIP_DIRTY), 0);
	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PSWPOUT), 0, "NOFS still allows swap I/O");
	/* A batch of dirty pages it could not write made it wake the flusher, which can. */
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_DIRTY) +
			     (long)rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), 100);
	teardown_mappings(sys, &c);
}

Test(reclaim, gfp_noio_starts_no_io, .timeout = 10)
{
	struct ctx_test c;
	struct rsv_system *sys = dirty_and_anon(&c, RSV_GFP_NOIO, RSV_BACKEND_SIM);

	cr_assert_eq(rsv_task_stat(c.task, RSV_STAT_PGWRITEBACK), 0);
	cr_assert_eq(rsv_task_stat(c.task, RSV_STAT_PSWPOUT), 0);
	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PGSKIP_ANON), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_SWAPPED), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_DIRTY) +
			     (long)rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), 100,
		     "only the flusher wrote");
	teardown_mappings(sys, &c);
}

Test(reclaim, os_backend_writeback_and_swap, .timeout = 10)
{
	struct ctx_test c;
	struct rsv_system *sys = dirty_and_anon(&c, RSV_GFP_KERNEL, RSV_BACKEND_OS);

	cr_assert_gt(rsv_task_stat(c.task, RSV_STAT_PSWPOUT), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_WRITEBACK), 0);
	teardown_mappings(sys, &c);
}

/* ---- a page cache that allocators live off ---- */

#define CACHE_PAGES 3000
#define WORKERS 4
#define PER_WORKER 600

struct cache_test {
	struct rsv_mapping *cache;
	unsigned long failures[WORKERS];
	_Atomic int next, holding;
};

static int hungry(void *arg)
{
	struct cache_test *t = arg;
	int me = atomic_fetch_add(&t->next, 1);
	struct rsv_page *held[PER_WORKER];

	for (int i = 0; i < PER_WORKER; i++)
		if (!(held[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
			t->failures[me]++;
	/* All hold theirs at once, more than is free: on real threads too, however slowly the
	 * others start, reclaim must feed them. */
	atomic_fetch_add(&t->holding, 1);
	while (atomic_load(&t->holding) < WORKERS)
		rsv_msleep(1);
	for (int i = 0; i < PER_WORKER; i++)
		if (held[i])
			rsv_free_pages(held[i], 0);
	return 0;
}

static void cache_run(enum rsv_backend be, uint64_t seed)
{
	struct rsv_system *sys = test_system(be, 4096, seed);
	struct cache_test t = { 0 };

	rsv_task_attach(sys, "setup");
	t.cache = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", NULL, 0);
	for (int i = 0; i < CACHE_PAGES; i++)
		cr_assert_not_null(rsv_mapping_add_page(t.cache, RSV_GFP_KERNEL, (uint64_t)i));
	rsv_task_detach();
	for (int i = 0; i < WORKERS; i++)
		rsv_task_create(sys, "hungry", hungry, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "%s",
		     rsv_platform_report(rsv_system_platform(sys)));
	for (int i = 0; i < WORKERS; i++)
		cr_assert_eq(t.failures[i], 0, "seed %lu: worker %d failed %lu allocations",
			     (unsigned long)seed, i, t.failures[i]);
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_PGSTEAL), 0);
	cr_assert_lt(rsv_mapping_nr_pages(t.cache), CACHE_PAGES);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(t.cache);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reclaim, clean_cache_feeds_four_tasks_sim_many_seeds, .timeout = 60)
{
	for (uint64_t seed = 0; seed < 50; seed++)
		cache_run(RSV_BACKEND_SIM, seed);
}

Test(reclaim, clean_cache_feeds_four_tasks_os, .timeout = 60)
{
	cache_run(RSV_BACKEND_OS, 1);
}

/* ---- kswapd wakes below low and stops at high ---- */

struct kswapd_test {
	unsigned long free_when_stopped, free_after;
	uint64_t wakeups_before;
};

static int dip_below_low(void *arg)
{
	struct kswapd_test *k = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	struct rsv_watermarks w;

	rsv_system_watermarks(sys, &w);
	k->wakeups_before = rsv_stats_get(sys, RSV_STAT_KSWAPD_WAKEUP);
	/* Allocate until the first trip into the slow path (the zone fell below low, which
	 * wakes kswapd), then stop: from here on only kswapd changes the free count. GFP_ATOMIC
	 * never reclaims by itself. */
	while (!rsv_task_stat(rsv_task_current(), RSV_STAT_ALLOC_SLOW))
		if (!rsv_alloc_pages(RSV_GFP_ATOMIC, 0))
			break;
	k->free_when_stopped = rsv_system_free_pages(sys);
	rsv_msleep(1000);
	k->free_after = rsv_system_free_pages(sys);
	return 0;
}

Test(reclaim, kswapd_wakes_at_low_and_stops_at_high, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 4096, 9);
	struct kswapd_test k = { 0 };
	struct rsv_mapping *cache;
	struct rsv_watermarks w;

	rsv_system_watermarks(sys, &w);
	rsv_task_attach(sys, "setup");
	cache = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", NULL, 0);
	for (int i = 0; i < 3000; i++)
		rsv_mapping_add_page(cache, RSV_GFP_KERNEL, (uint64_t)i);
	rsv_task_detach();
	rsv_task_create(sys, "dipper", dip_below_low, &k);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(k.wakeups_before, 0, "kswapd woke before the zone fell below low");
	cr_assert_leq(k.free_when_stopped, w.low);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_KSWAPD_WAKEUP), 1);
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_KSWAPD_RECLAIM), 0);
	cr_assert_geq(k.free_after, w.high, "kswapd stopped below high: %lu", k.free_after);
	cr_assert_lt(k.free_after, w.high + 64, "kswapd reclaimed far past high: %lu",
		     k.free_after);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_DIRECT_RECLAIM), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_KSWAPD_FAILURE), 0);
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(cache);
	rsv_task_detach();
	/* the dipper's pages were never freed: count them out explicitly */
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_system_destroy(sys);
}

/* ---- a NOFS allocation never runs FS work in a shrinker ---- */

struct fs_shrinker {
	struct rsv_shrinker s;
	struct rsv_task *nofs_task;
	unsigned long fs_work_in_nofs, calls_from_nofs, objects;
};

static unsigned long fs_count(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	return ((struct fs_shrinker *)s)->objects;
}

/* Like the kernel's superblock shrinker: without __GFP_FS it must not enter the FS. */
static unsigned long fs_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct fs_shrinker *f = (struct fs_shrinker *)s;
	bool nofs_caller = rsv_task_current() == f->nofs_task;

	f->calls_from_nofs += nofs_caller;
	if (!(sc->gfp_mask & RSV___GFP_FS))
		return RSV_SHRINK_STOP;
	f->fs_work_in_nofs += nofs_caller;
	return 0;
}

static int nofs_allocator(void *arg)
{
	struct fs_shrinker *f = arg;
	unsigned nofs = rsv_memalloc_nofs_save();

	f->nofs_task = rsv_task_current();
	/* NORETRY: one reclaim round, then fail. A plain NOFS request would retry for as long
	 * as nobody frees memory: no OOM kill is allowed without __GFP_FS. */
	for (int i = 0; i < 4096; i++)
		if (!rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY, 0))
			break;
	rsv_memalloc_nofs_restore(nofs);
	return 0;
}

Test(reclaim, nofs_scope_keeps_shrinkers_out_of_the_fs, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 2);
	struct fs_shrinker f;

	memset(&f, 0, sizeof(f));
	f.objects = 10000;
	f.s.count_objects = fs_count;
	f.s.scan_objects = fs_scan;
	f.s.seeks = 1;
	f.s.name = "sb";
	cr_assert_eq(rsv_register_shrinker(sys, &f.s), 0);
	rsv_task_create(sys, "nofs", nofs_allocator, &f);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_gt(f.calls_from_nofs, 0, "direct reclaim never reached the shrinker");
	cr_assert_eq(f.fs_work_in_nofs, 0, "a NOFS allocation's reclaim passed __GFP_FS");
	rsv_unregister_shrinker(sys, &f.s);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_system_destroy(sys);
}

/* ---- a referenced page survives one more scan ---- */

struct touch_test {
	struct rsv_mapping *file;
	unsigned long reclaimed;
};

static int reclaim_touched(void *arg)
{
	struct touch_test *t = arg;

	t->reclaimed = rsv_try_to_free_pages(RSV_GFP_KERNEL, 0);
	return 0;
}

Test(reclaim, touched_pages_are_rotated_before_untouched_ones_go, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 5);
	struct rsv_bdev *disk = rsv_ramdev_create(sys, "disk", 1024, RSV_NSEC_PER_MSEC, 0);
	struct touch_test t = { 0 };
	struct rsv_page *plain;

	rsv_task_attach(sys, "setup");
	t.file = rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", disk, RSV_MAPPING_FS);
	/* Added first, so the oldest on the LRU: without the touch they would go first. */
	for (int i = 0; i < 64; i++) {
		struct rsv_page *p = rsv_mapping_add_page(t.file, RSV_GFP_KERNEL, (uint64_t)i);

		cr_assert_not_null(p);
		if (i < 32)
			cr_assert_eq(rsv_page_touch(p), 0);
	}
	plain = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	cr_assert_eq(rsv_page_touch(plain), -EINVAL, "not a page of a mapping");
	rsv_free_pages(plain, 0);
	rsv_task_detach();
	rsv_task_create(sys, "reclaimer", reclaim_touched, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_gt(t.reclaimed, 0);
	cr_assert_geq(rsv_stats_get(sys, RSV_STAT_PGROTATED), 1);
	cr_assert_geq(rsv_mapping_nr_pages(t.file), 32, "%lu reclaimed, a touched page among them",
		      t.reclaimed);
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(t.file);
	rsv_task_detach();
	teardown_whole(sys);
}
