/* Who may go how far below the watermarks, end to end through rsv_alloc_pages() on a system
 * with nothing reclaimable (__alloc_pages_slowpath()): the reserve ladder min 128, GFP_ATOMIC 48,
 * ALLOC_OOM 64, PF_MEMALLOC and __GFP_MEMALLOC to zero. A one-page cache batch keeps the counts
 * exact. Direct reclaim may throttle below half of min (waiting for kswapd to give up), so these
 * run on a real thread: a simulator's set-up context may not sleep. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(reserves, .timeout = 60);

static struct rsv_system *ladder_system(enum rsv_memdie_policy memdie)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_OS, .pcp_batch = 1, .pcp_high = 1,
		.misuse = RSV_MISUSE_RETURN, .policy.value[RSV_POLICY_MEMDIE] = memdie });

	cr_assert_not_null(sys);
	cr_assert_not_null(rsv_task_attach(sys, "setup"));
	return sys;
}

/* Allocates order-0 pages with @gfp until it fails; returns how many, keeping them. A
 * blocking request that may not fail would panic with nothing to kill, as the kernel's does:
 * __GFP_RETRY_MAYFAIL lets it fail instead, at the same watermarks. */
static int grab(struct rsv_page **held, int *n, rsv_gfp_t gfp)
{
	int got = 0;
	struct rsv_page *p;

	if (gfp & RSV___GFP_DIRECT_RECLAIM)
		gfp |= RSV___GFP_RETRY_MAYFAIL;
	while ((p = rsv_alloc_pages(gfp, 0)) != NULL) {
		held[(*n)++] = p;
		got++;
	}
	cr_assert_eq(errno, ENOMEM);
	return got;
}

static void release(struct rsv_page **held, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(rsv_free_pages(held[i], 0), 0);
	rsv_drain_local_pages();
}

static struct rsv_page *held[4096];

Test(reserves, ladder)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_PARTIAL);
	int n = 0;

	grab(held, &n, RSV_GFP_KERNEL);
	rsv_drain_local_pages();
	cr_assert_eq(rsv_system_free_pages(sys), 128, "GFP_KERNEL stops at min");
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_ATOMIC), 0);

	cr_assert_eq(grab(held, &n, RSV_GFP_NOWAIT), 0, "GFP_NOWAIT gets no reserve");
	cr_assert_eq(grab(held, &n, RSV_GFP_KERNEL | RSV___GFP_HIGH), 64,
		     "__GFP_HIGH: half of min");
	cr_assert_eq(rsv_system_free_pages(sys), 64);
	cr_assert_eq(grab(held, &n, RSV_GFP_ATOMIC), 16, "GFP_ATOMIC: a further quarter");
	cr_assert_eq(rsv_system_free_pages(sys), 48);
	cr_assert_eq(grab(held, &n, RSV_GFP_ATOMIC | RSV___GFP_NOMEMALLOC), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_ATOMIC), 128 - 48);

	cr_assert_eq(grab(held, &n, RSV_GFP_ATOMIC | RSV___GFP_MEMALLOC), 48, "MEMALLOC to zero");
	cr_assert_eq(rsv_system_free_pages(sys), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_GFP_MEMALLOC), 48);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_DIRECT_RECLAIM) > 0, true);

	release(held, n);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reserves, pf_memalloc_and_oom_victims)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_PARTIAL);
	struct rsv_task *t = rsv_task_current();
	unsigned nr;
	int n = 0;

	grab(held, &n, RSV_GFP_KERNEL);
	rsv_task_mark_oom_victim(t);
	cr_assert_eq(grab(held, &n, RSV_GFP_KERNEL), 64, "ALLOC_OOM: half of min, then fail");
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_OOM_VICTIM), 64);
	cr_assert_eq(grab(held, &n, RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC), 0);
	rsv_task_exit_oom_victim(t);

	nr = rsv_memalloc_noreclaim_save();
	cr_assert_eq(grab(held, &n, RSV_GFP_KERNEL), 64, "PF_MEMALLOC takes the rest");
	cr_assert_eq(rsv_system_free_pages(sys), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_PF_MEMALLOC), 64);
	rsv_memalloc_noreclaim_restore(nr);

	release(held, n);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reserves, memdie_full_gives_victims_everything)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_FULL);
	int n = 0;

	grab(held, &n, RSV_GFP_KERNEL);
	rsv_task_mark_oom_victim(rsv_task_current());
	cr_assert_eq(grab(held, &n, RSV_GFP_KERNEL), 128);
	cr_assert_eq(rsv_system_free_pages(sys), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_GRANT_NO_WATERMARKS), 128);
	release(held, n);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reserves, non_blocking_fails_fast_and_noretry_fails)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_PARTIAL);
	int n = 0;

	grab(held, &n, RSV_GFP_KERNEL);
	uint64_t reclaims = rsv_stats_get(sys, RSV_STAT_DIRECT_RECLAIM);

	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOWAIT, 0));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_DIRECT_RECLAIM), reclaims,
		     "a non-blocking caller entered direct reclaim");
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY, 0));
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_RETRY_MAYFAIL, 0));
	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOFS | RSV___GFP_NORETRY, 0));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_DIRECT_RECLAIM), reclaims + 3);
	/* A plain GFP_KERNEL request with nothing to kill would panic (tests/reclaim/
	 * test_panic.c); a plain GFP_NOFS one would retry until someone frees memory, since no
	 * OOM kill is allowed without __GFP_FS. */
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 0);
	/* Costly orders give up after one round even with plenty free. */
	release(held, n);
	n = 0;
	cr_assert_not_null(held[0] = rsv_alloc_pages(RSV_GFP_KERNEL, 10));
	cr_assert_eq(rsv_free_pages(held[0], 10), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

/* ---- __GFP_NOFAIL waits until another task frees ---- */

struct nofail {
	struct rsv_page *hoard[4096];
	int nr;
	struct rsv_page *got;
	uint64_t got_at, freed_at;
};

static int hoarder(void *arg)
{
	struct nofail *nf = arg;
	struct rsv_page *p;

	while ((p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_MEMALLOC | RSV___GFP_RETRY_MAYFAIL,
				    0)))
		nf->hoard[nf->nr++] = p;
	rsv_msleep(5000);
	nf->freed_at = rsv_now();
	rsv_free_pages(nf->hoard[--nf->nr], 0);
	rsv_drain_local_pages();
	rsv_msleep(10);
	while (nf->nr)
		rsv_free_pages(nf->hoard[--nf->nr], 0);
	return 0;
}

static int nofail_taker(void *arg)
{
	struct nofail *nf = arg;

	rsv_msleep(1); /* after the hoarder has taken everything */
	nf->got = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 0);
	nf->got_at = rsv_now();
	if (nf->got)
		rsv_free_pages(nf->got, 0);
	return 0;
}

Test(reserves, nofail_waits_for_a_free, .timeout = 20)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, seed);
		struct nofail *nf = calloc(1, sizeof(*nf));

		rsv_task_create(sys, "hoarder", hoarder, nf);
		rsv_task_create(sys, "nofail", nofail_taker, nf);
		cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "%s",
			     rsv_platform_report(rsv_system_platform(sys)));
		cr_assert_not_null(nf->got, "__GFP_NOFAIL returned NULL");
		cr_assert_geq(nf->got_at, nf->freed_at, "got a page before any was freed");
		cr_assert_gt(rsv_stats_get(sys, RSV_STAT_NOFAIL_WAIT), 0);
		free(nf);
		teardown_whole(sys);
	}
}

/* ---- __GFP_ZERO ---- */

Test(reserves, zeroed_pages_are_zero)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_PARTIAL);
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 2);
	unsigned char *a = rsv_page_address(p);

	memset(a, 0xa5, 4 * RSV_PAGE_SIZE);
	rsv_free_pages(p, 2);
	p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_ZERO, 2);
	a = rsv_page_address(p);
	for (size_t i = 0; i < 4 * RSV_PAGE_SIZE; i++)
		cr_assert_eq(a[i], 0, "byte %zu not zeroed", i);
	rsv_free_pages(p, 2);
	rsv_task_detach();
	teardown_whole(sys);
}

/* A NOFAIL request that the OOM step cannot help takes the reserves (ALLOC_NO_WATERMARKS,
 * as the kernel does) before it waits, and that is accounted to NOFAIL. */
Test(reserves, nofail_below_min_is_accounted)
{
	struct rsv_system *sys = ladder_system(RSV_MEMDIE_PARTIAL);
	int n = 0;

	grab(held, &n, RSV_GFP_KERNEL);
	cr_assert_eq(rsv_system_free_pages(sys), 128);
	for (int i = 0; i < 100; i++)
		cr_assert_not_null(
			held[n++] = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 0));
	cr_assert_eq(rsv_system_free_pages(sys), 28);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_BELOW_MIN_NOFAIL), 100);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_GRANT_NO_WATERMARKS), 100);
	release(held, n);
	rsv_task_detach();
	teardown_whole(sys);
}
