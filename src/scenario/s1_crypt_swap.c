/* s1-crypt-swap-reserves (Hocko, "[RFC PATCH 0/2] mempool vs. page allocator interaction",
 * and Rientjes' reply to its patch 1, July 2016: f9054c70d28b against its revert).
 *
 * Anonymous memory swaps out to a swap area on dm-crypt on a disk with a 5 ms latency, while
 * two hogs keep memory short. Reclaim (kswapd, and the hogs' direct reclaim: PF_MEMALLOC both)
 * swaps pages out; each swap-out allocates a crypt io with GFP_NOIO, and kcryptd a bounce page.
 * Under mempool=2016 a reclaimer whose io pool is empty may take its io from the reserves
 * below min, so swap-outs pile up in flight on reserve memory until free memory is gone. */
#include <errno.h>
#include <stdlib.h>
#include "scenario/internal.h"

enum { P_ANON, P_FREE, P_POOL, P_IO_MS, P_HOGS, P_HOG_PAGES, P_ROUNDS, P_SLOTS, P_RACE, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_ANON] = { "anon_pages", 2000, 1, 3000, "swappable anonymous pages" },
	[P_FREE] = { "free", 110, 0, 1000, "free pages at the start (min is 128)" },
	[P_POOL] = { "pool", 16, 1, 1024, "elements in the crypt io pool and the page pool" },
	[P_IO_MS] = { "io_ms", 5, 0, 1000, "disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 0 },
	[P_HOGS] = { "hogs", 2, 0, 16, "GFP_KERNEL hog tasks", .swarm = true, .swarm_alt = 0 },
	[P_HOG_PAGES] = { "hog_pages", 400, 1, 2000, "pages a hog holds per round" },
	[P_ROUNDS] = { "rounds", 5, 1, 1000, "hog rounds" },
	[P_SLOTS] = { "swap_slots", 4096, 1, 4096, "slots of the swap area on dm-crypt" },
	[P_RACE] = { "race", 0, 0, 1,
		     "1: the filler gives memory back RACE_STEPS steps after the hogs start, "
		     "not once they are done: the reserves run out only where the swap-outs "
		     "take them first",
		     .axis = true },
};

/* The racy variant's window: the filler's steps between starting the hogs and giving its
 * memory back (a process exiting as another starts). Under 2016 the hogs' reclaim must have
 * put enough swap-outs in flight on reserve memory within them to take it to zero. */
#define RACE_STEPS 200

/* throttle too: the pre-4.9 throttle_vm_writeout holds reclaimers back while writeback is
 * above the dirty limit, which caps the swap-outs 2016 can put in flight on the reserves. */
static const enum rsv_policy_key keys[] = { RSV_POLICY_MEMPOOL, RSV_POLICY_THROTTLE };

#define FILL_MAX 4096

struct s1 {
	struct rsv_scenario_run *run;
	struct rsv_bdev *disk, *crypt, *swap;
	struct rsv_mapping *anon;
	_Atomic bool started;
	struct rsv_waitqueue start_wq; /* race=1: the hogs wait here for the start */
	_Atomic unsigned hogs_done, hog_failures;
	unsigned long min_free;
	uint64_t seen_completed;
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
};

static int hog(void *arg)
{
	struct s1 *s = arg;
	long n = s->run->p[P_HOG_PAGES];
	struct rsv_page **held = calloc((size_t)n, sizeof(*held));

	if (s->run->p[P_RACE]) /* woken at the instant the filler starts them */
		rsv_wait_event(&s->start_wq, atomic_load(&s->started));
	while (!atomic_load(&s->started))
		rsv_msleep(1);
	for (long r = 0; held && r < s->run->p[P_ROUNDS]; r++) {
		for (long i = 0; i < n; i++)
			if (!(held[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
				atomic_fetch_add(&s->hog_failures, 1);
		rsv_msleep(10);
		for (long i = 0; i < n; i++)
			if (held[i])
				rsv_free_pages(held[i], 0);
	}
	free(held);
	atomic_fetch_add(&s->hogs_done, 1);
	return 0;
}

/* Every millisecond: the least free memory seen once the hogs may start, and swap-outs
 * completed (the work's progress). */
static void observe(struct rsv_scenario_run *run, uint64_t now)
{
	struct s1 *s = run->data;
	unsigned long free_now = rsv_system_free_pages(run->sys);

	if (atomic_load(&s->started) && free_now < s->min_free)
		s->min_free = free_now;
	rsv__scenario_progress_to(run, &s->seen_completed, atomic_load(&s->disk->completed));
}

/* Fills memory down to the scenario's free level as an unkillable task, then starts the
 * hogs; gives it back when they are done. */
static int filler(void *arg)
{
	struct s1 *s = arg;
	struct rsv_system *sys = s->run->sys;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	s->nr_fill = rsv__scenario_exhaust(sys, (unsigned long)s->run->p[P_FREE], s->fill,
					   FILL_MAX, false);
	s->min_free = rsv_system_free_pages(sys);
	atomic_store(&s->started, true);
	if (s->run->p[P_RACE])
		rsv_wake_up_all(&s->start_wq);
	for (int i = 0; s->run->p[P_RACE] && i < RACE_STEPS; i++)
		rsv_sched_point();
	while (!s->run->p[P_RACE] && atomic_load(&s->hogs_done) < (unsigned)s->run->p[P_HOGS])
		rsv_msleep(10);
	while (s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s1 *s = calloc(1, sizeof(*s));
	struct rsv_crypt_config cc = { .io_pool = (int)p[P_POOL], .page_pool = (int)p[P_POOL] };
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	rsv_waitqueue_init(&s->start_wq, "hogs' start");
	/* Swapped pages are never read back: the disk keeps no data (null_blk). */
	s->disk = rsv_ramdev_create(run->sys, "disk", 4096,
				    (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	if (!s->disk || !(s->crypt = rsv_crypt_create(run->sys, "crypt", s->disk, &cc)) ||
	    !(s->swap = rsv_swap_create(run->sys, "swap", s->crypt, (uint64_t)p[P_SLOTS])))
		return -ENOMEM;
	s->anon = rsv_mapping_create(run->sys, RSV_MAPPING_ANON, "swapped", s->swap, 0);
	if (!s->anon)
		return -ENOMEM;
	for (long i = 0; i < p[P_ANON]; i++)
		if (!rsv_mapping_add_page(s->anon, RSV_GFP_KERNEL, (uint64_t)i))
			return rsv__scenario_setup_error(run, -ENOMEM, "setup: anonymous page %ld "
							 "of anon_pages=%ld", i, p[P_ANON]);
	if (run->paths_apart)
		return 0;
	if ((err = rsv__scenario_task(run, "filler", filler, s)))
		return err;
	for (long i = 0; i < p[P_HOGS]; i++)
		if ((err = rsv__scenario_task(run, "hog", hog, s)))
			return err;
	return 0;
}

/* A hog's path apart: a GFP_KERNEL allocation, then reclaim in that context swaps the
 * anonymous pages out through dm-crypt, whose worker takes bounce pages from its pool. */
static void hog_path(void *arg)
{
	struct s1 *s = arg;
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);

	if (p)
		rsv_free_pages(p, 0);
	atomic_store(&s->hogs_done, 1);
}

static const struct rsv_scenario_path *paths(const long *p, unsigned *n)
{
	static const struct rsv_scenario_path hog = { "hog", hog_path, RSV_GFP_KERNEL };

	(void)p;
	*n = 1;
	return &hog;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s1 *s = run->data;
	struct rsv_crypt_stats cs;
	uint64_t kills = rsv_stats_get(run->sys, RSV_STAT_OOM_KILL);
	uint64_t needless = rsv_stats_get(run->sys, RSV_STAT_OOM_KILL_RECLAIMABLE);

	rsv_crypt_stats(s->crypt, &cs);
	rsv__scenario_counter(run, "swap_outs", (int64_t)atomic_load(&s->disk->completed));
	/* The monitor looks every millisecond; a grant below min reads free memory at once, so
	 * that a racy run whose memory came back within the millisecond is judged by what the
	 * grants did. */
	if (cs.free_after_grant >= 0 && (unsigned long)cs.free_after_grant < s->min_free)
		s->min_free = (unsigned long)cs.free_after_grant;
	rsv__scenario_counter(run, "min_free", (int64_t)s->min_free);
	rsv__scenario_counter(run, "inflight_max", (int64_t)cs.inflight_max);
	rsv__scenario_counter(run, "below_min_by_mempool",
			      (int64_t)(cs.io_pool_grants + cs.page_pool_grants));
	rsv__scenario_counter(run, "io_pool_waits", (int64_t)cs.io_pool_waits);
	rsv__scenario_counter(run, "page_pool_waits", (int64_t)cs.page_pool_waits);
	rsv__scenario_counter(run, "oom_kill", (int64_t)kills);
	rsv__scenario_counter(run, "oom_kill_reclaimable", (int64_t)needless);
	rsv__scenario_counter(run, "hog_failures", atomic_load(&s->hog_failures));
	{
		struct rsv_swap_stats ss;

		rsv_swap_stats(s->swap, &ss);
		rsv__scenario_counter(run, "swap_slots_used", (int64_t)ss.used);
		rsv__scenario_counter(run, "swap_full", (int64_t)ss.full_refusals);
	}
	/* The seed's situation: a swap-out found a crypt pool empty, so that the policy had to
	 * choose between waiting for it and the reserves. */
	if (!(cs.io_pool_waits + cs.page_pool_waits + cs.io_pool_grants + cs.page_pool_grants)) {
		rsv__scenario_invalid(run,
				      "the crypt pools never ran dry (%lu swap-outs; pool=%ld, "
				      "io_ms=%ld, free=%ld, hogs=%ld, anon_pages=%ld): no mempool "
				      "allocation had to wait or take the reserves",
				      (unsigned long)atomic_load(&s->disk->completed),
				      run->p[P_POOL], run->p[P_IO_MS], run->p[P_FREE],
				      run->p[P_HOGS], run->p[P_ANON]);
		return;
	}
	if (run->res->verdict != RSV_VERDICT_PROGRESS)
		return;
	/* A kill is needless when reclaim still had pages swap could take (or was writing):
	 * hogs that want more than memory and swap can give are killed of necessity. */
	if (needless)
		rsv__scenario_verdict(run, RSV_VERDICT_NEEDLESS_OOM, "%lu of %lu OOM kills while "
				      "swap could still have freed memory", (unsigned long)needless,
				      (unsigned long)kills);
	else if (!s->min_free && cs.io_pool_grants + cs.page_pool_grants)
		rsv__scenario_verdict(run, RSV_VERDICT_RESERVE_DEPLETED, "free memory reached 0; "
				      "mempool users took %lu allocations below min",
				      (unsigned long)(cs.io_pool_grants + cs.page_pool_grants));
}

static void pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct s1 *s = run->data;
	struct rsv_crypt_stats cs;

	if (!s->crypt)
		return;
	rsv_crypt_stats(s->crypt, &cs);
	*fill = cs.pool_fill;
	*size = cs.pool_size;
}

static void teardown(struct rsv_scenario_run *run)
{
	free(run->data);
}

/* What an exploration should see happen in some run, whatever the policy. */
static const struct rsv_scenario_property sometimes[] = {
	{ "memory falls below min while swap-outs fly", "wmark_fail_min" },
	{ "reclaim swaps pages out through dm-crypt", "swap_outs" },
};

const struct rsv_scenario rsv__s1_crypt_swap = {
	.name = "s1-crypt-swap-reserves",
	RSV__SCENARIO_TABLES,
	.summary = "swap over dm-crypt under memory pressure: may a reclaimer's mempool "
		   "allocation dig into the reserves (f9054c70d28b) or must it wait?",
	.nr_pages = 4096,
	.setup = setup,
	.paths = paths,
	.observe = observe,
	.judge = judge,
	.pools = pools,
	.teardown = teardown,
};
