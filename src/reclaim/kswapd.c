/* kswapd: background reclaim. Woken when an allocation finds the zone below its low mark, it
 * reclaims with GFP_KERNEL (it may write back and swap, and it runs the FS shrinkers) until
 * the zone is back above high, then naps HZ/10 and sleeps. A run that reclaims nothing counts
 * a failure; after 16 in a row the node is hopeless and wake-ups are ignored until some
 * reclaim succeeds again (the kernel's kswapd_failures). */
#include "reclaim/internal.h"

static bool balanced(struct rsv_system *sys)
{
	return rsv_system_free_pages(sys) >=
	       sys->zone.wmark[RSV_WMARK_HIGH] + atomic_load(&rsv__reclaim(sys)->boost);
}

static bool hopeless(struct rsv_reclaim *r)
{
	return atomic_load(&r->kswapd_failures) >= MAX_KSWAPD_FAILURES;
}

/* Throttled direct reclaimers re-check allow_direct_reclaim() when woken. */
static void wake_throttled(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (rsv_waitqueue_active(&r->pfmemalloc_wait) && rsv__allow_direct_reclaim(sys))
		rsv_wake_up_all(&r->pfmemalloc_wait);
}

/* balance_pgdat(): priority 12 down to 1 until the zone is balanced at high. */
static void balance_pgdat(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	unsigned long want = sys->zone.wmark[RSV_WMARK_HIGH], reclaimed = 0;

	if (want < SWAP_CLUSTER_MAX)
		want = SWAP_CLUSTER_MAX;
	for (int prio = DEF_PRIORITY; prio >= 1 && !balanced(sys); prio--) {
		reclaimed += rsv__shrink_node(sys, RSV_GFP_KERNEL, prio, want, true, NULL);
		wake_throttled(sys);
		if (rsv_kthread_should_stop())
			return;
	}
	rsv__current_stat_add(RSV_STAT_KSWAPD_RECLAIM, reclaimed);
	/* A boost lasts one balancing run, reached or not, as the kernel clears it once kswapd
	 * has tried: reclaim past high that finds nothing more must not go on forever. */
	atomic_store(&r->boost, 0);
	if (balanced(sys))
		rsv__clear_congested(sys);
	if (reclaimed) {
		atomic_store(&r->kswapd_failures, 0);
	} else if (!balanced(sys)) {
		atomic_fetch_add(&r->kswapd_failures, 1);
		rsv__current_stat_add(RSV_STAT_KSWAPD_FAILURE, 1);
	}
}

static bool woken_or_stopped(struct rsv_reclaim *r)
{
	return atomic_load(&r->kswapd_woken) || rsv_kthread_should_stop();
}

/* kswapd may sleep once the zone is balanced, or once it has given up (hopeless). */
static bool may_sleep(struct rsv_system *sys)
{
	return balanced(sys) || hopeless(rsv__reclaim(sys));
}

/* kswapd_try_to_sleep(): nothing while there is work it can do; otherwise wake the throttled
 * reclaimers, nap HZ/10 in case the pressure is not over, then sleep until woken. */
static void try_to_sleep(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_wait_entry we;

	if (!may_sleep(sys))
		return;
	if (rsv_waitqueue_active(&r->pfmemalloc_wait))
		rsv_wake_up_all(&r->pfmemalloc_wait);
	rsv_wait_entry_init(&we);
	rsv_prepare_to_wait(&r->kswapd_wait, &we, RSV_TASK_UNINTERRUPTIBLE);
	if (!woken_or_stopped(r))
		rsv_schedule_timeout(RSV_NSEC_PER_SEC / 10);
	rsv_finish_wait(&r->kswapd_wait, &we);
	if (woken_or_stopped(r) || !may_sleep(sys))
		return;
	atomic_store(&r->kswapd_sleeping, true);
	rsv_wait_event(&r->kswapd_wait, woken_or_stopped(r));
	atomic_store(&r->kswapd_sleeping, false);
}

static int kswapd_main(void *arg)
{
	struct rsv_system *sys = arg;
	struct rsv_reclaim *r = rsv__reclaim(sys);

	rsv_task_set_flags(RSV_PF_MEMALLOC | RSV_PF_KSWAPD, 0);
	rsv_wait_event(&r->kswapd_wait, woken_or_stopped(r));
	atomic_store(&r->kswapd_sleeping, false);
	while (!rsv_kthread_should_stop()) {
		const char *lockdep;

		atomic_store(&r->kswapd_woken, false);
		lockdep = rsv__lockdep_reclaim_enter(sys, rsv__task_current(), RSV_GFP_KERNEL);
		balance_pgdat(sys);
		rsv__lockdep_reclaim_exit(sys, lockdep);
		try_to_sleep(sys);
	}
	return 0;
}

/* wakeup_kswapd(): ignored when the node is hopeless or already balanced at high. */
void rsv__wakeup_kswapd(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (!r->kswapd || hopeless(r) || balanced(sys))
		return;
	if (!atomic_exchange(&r->kswapd_woken, true) && atomic_load(&r->kswapd_sleeping))
		rsv__current_stat_add(RSV_STAT_KSWAPD_WAKEUP, 1);
	rsv_wake_up(&r->kswapd_wait);
}

int rsv__kswapd_start(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	/* It starts asleep: the first wake-up is a wake-up even before it has run. */
	atomic_store(&r->kswapd_sleeping, true);
	r->kswapd = rsv_kthread_create(sys, "kswapd0", kswapd_main, sys);
	return r->kswapd ? 0 : -ENOMEM;
}
