/* Reclaim throttling, as policy `throttle` (throttle_vm_writeout() and reclaim_throttle()).
 *
 * throttle-vm-writeout (pre-4.9): at the end of every shrink, by every reclaimer, while pages
 * under writeback exceed the hard dirty limit plus 10%, sleep HZ/10. A caller without both
 * __GFP_FS and __GFP_IO leaves after one sleep (it may hold what the I/O needs); the others
 * loop. A flusher that allocates with GFP_NOIO (kcryptd) thus pays 100 ms per reclaiming
 * allocation while writeback is high: the stall of the 2016 thread.
 *
 * less-throttle-exempt (Hocko's RFC 2/2): the same, but PF_LOCAL_THROTTLE tasks are exempt.
 *
 * reclaim-throttle (v5.16, today): sleeps tied to a reason and woken by its cure.
 *   WRITEBACK   kswapd, when everything it met was under writeback: HZ/10, woken after 32
 *               completions per sleeper.
 *   ISOLATED    a direct reclaimer that finds more pages isolated than left on the list (an
 *               eighth of the list for FS|IO callers, so that NOFS/NOIO reclaimers, which
 *               the others may depend on, get further): HZ/50, woken when a batch goes back;
 *               after one wait it gives the list up.
 *   NOPROGRESS  a direct reclaimer that made no progress at priority 1: one jiffy.
 *   CONGESTED   a direct reclaimer while kswapd has marked the node congested (every dirty
 *               or writeback page it met was met under writeback before: pages cycle faster
 *               than they are written): one jiffy, never for PF_LOCAL_THROTTLE tasks.
 * NOPROGRESS and CONGESTED are skipped when kswapd has given up or too little is
 * write-pending for waiting to help. Kthreads and workqueue workers other than kswapd are
 * never throttled: reclaim may depend on them.
 *
 * Under the two pre-4.9 policies too many isolated pages meant congestion_wait(HZ/10) in a
 * loop, for as long as it lasted. */
#include "reclaim/internal.h"

void rsv__throttle_init(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	rsv_waitqueue_init(&r->reclaim_wait[RSV_THROTTLE_WRITEBACK], "reclaim_wait[WRITEBACK]");
	rsv_waitqueue_init(&r->reclaim_wait[RSV_THROTTLE_ISOLATED], "reclaim_wait[ISOLATED]");
	rsv_waitqueue_init(&r->reclaim_wait[RSV_THROTTLE_NOPROGRESS], "reclaim_wait[NOPROGRESS]");
	rsv_waitqueue_init(&r->reclaim_wait[RSV_THROTTLE_CONGESTED], "reclaim_wait[CONGESTED]");
	atomic_init(&r->congested, false);
	rsv_waitqueue_init(&r->congestion_wait, "congestion_wait");
	atomic_init(&r->nr_written, 0);
	atomic_init(&r->nr_reclaim_start, 0);
	atomic_init(&r->nr_throttled, 0);
}

/* global_dirty_limits(): ratios of the dirtyable memory (free plus file pages). */
void rsv_dirty_limits(struct rsv_system *sys, unsigned long *background, unsigned long *thresh)
{
	unsigned ratio = sys->cfg.dirty_ratio ? sys->cfg.dirty_ratio : 20;
	unsigned bg_ratio = sys->cfg.dirty_background_ratio ? sys->cfg.dirty_background_ratio : 10;
	unsigned long dirtyable = rsv_system_free_pages(sys) +
				  (unsigned long)rsv__vm_get(rsv__reclaim(sys), RSV_NR_FILE);
	unsigned long hard = sys->cfg.dirty_thresh_pages ? sys->cfg.dirty_thresh_pages
							 : dirtyable * ratio / 100;

	if (thresh)
		*thresh = hard;
	if (background)
		*background = sys->cfg.dirty_thresh_pages ? hard * bg_ratio / ratio
							  : dirtyable * bg_ratio / 100;
}

static void throttled_sleep(struct rsv_waitqueue *wq, uint64_t timeout_ns,
			    enum rsv_stat_item item)
{
	struct rsv_wait_entry we;
	uint64_t start = rsv_now();

	rsv__current_stat_add(item, 1);
	rsv_wait_entry_init(&we);
	rsv__prepare_to_wait_as(wq, &we, RSV_TASK_UNINTERRUPTIBLE, RSV_WAIT_THROTTLE);
	rsv_schedule_timeout(timeout_ns);
	rsv_finish_wait(wq, &we);
	rsv__current_stat_add(RSV_STAT_THROTTLE_NS, rsv_now() - start);
}

/* ---- throttle_vm_writeout ---- */

static void throttle_vm_writeout(struct rsv_system *sys, rsv_gfp_t gfp)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	for (;;) {
		unsigned long thresh;

		rsv_dirty_limits(sys, NULL, &thresh);
		thresh += thresh / 10; /* allocators get a little more room than heavy writers */
		if ((unsigned long)rsv__vm_get(r, RSV_NR_WRITEBACK) <= thresh)
			return;
		/* congestion_wait(BLK_RW_ASYNC, HZ/10) */
		throttled_sleep(&r->congestion_wait, RSV_NSEC_PER_SEC / 10,
				RSV_STAT_THROTTLE_VM_WRITEOUT);
		if ((gfp & (RSV___GFP_FS | RSV___GFP_IO)) != (RSV___GFP_FS | RSV___GFP_IO))
			return;
	}
}

/* ---- reclaim_throttle ---- */

static bool skip_noprogress(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	long write_pending = rsv__vm_get(r, RSV_NR_DIRTY) + rsv__vm_get(r, RSV_NR_WRITEBACK);

	return atomic_load(&r->kswapd_failures) >= MAX_KSWAPD_FAILURES ||
	       2 * write_pending <= (long)rsv__reclaimable_pages(sys);
}

static void reclaim_throttle(struct rsv_system *sys, enum rsv_throttle_reason reason)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	unsigned pf = rsv__task_flags(rsv__task_current());

	if (!(pf & RSV_PF_KSWAPD) && (pf & (RSV_PF_KTHREAD | RSV_PF_WQ_WORKER)))
		return;
	switch (reason) {
	case RSV_THROTTLE_ISOLATED:
		throttled_sleep(&r->reclaim_wait[reason], RSV_NSEC_PER_SEC / 50,
				RSV_STAT_THROTTLE_ISOLATED);
		return;
	case RSV_THROTTLE_CONGESTED:
	case RSV_THROTTLE_NOPROGRESS:
		if (skip_noprogress(sys))
			return;
		throttled_sleep(&r->reclaim_wait[reason], RSV_JIFFY_NS,
				reason == RSV_THROTTLE_CONGESTED ? RSV_STAT_THROTTLE_CONGESTED
								 : RSV_STAT_THROTTLE_NOPROGRESS);
		return;
	default:
		break;
	}
	if (atomic_fetch_add(&r->nr_throttled, 1) == 0)
		atomic_store(&r->nr_reclaim_start, atomic_load(&r->nr_written));
	throttled_sleep(&r->reclaim_wait[reason], RSV_NSEC_PER_SEC / 10,
			RSV_STAT_THROTTLE_WRITEBACK);
	atomic_fetch_sub(&r->nr_throttled, 1);
}

/* acct_reclaim_writeback(): wake the WRITEBACK sleepers once enough has been written. */
void rsv__throttle_writeback_done(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	long written = atomic_fetch_add(&r->nr_written, 1) + 1;
	int sleepers = atomic_load(&r->nr_throttled);

	if (sleepers &&
	    written - atomic_load(&r->nr_reclaim_start) > (long)SWAP_CLUSTER_MAX * sleepers)
		rsv_wake_up_all(&r->reclaim_wait[RSV_THROTTLE_WRITEBACK]);
}

/* ---- too many isolated ---- */

static bool too_many_isolated(struct rsv_system *sys, enum rsv_lru_type t, rsv_gfp_t gfp,
			      bool is_kswapd)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	long on_list = (long)rsv__lru_size(&r->lru[t]); /* racy, as the kernel's node counters */

	if (is_kswapd)
		return false;
	if ((gfp & (RSV___GFP_FS | RSV___GFP_IO)) == (RSV___GFP_FS | RSV___GFP_IO))
		on_list >>= 3;
	return atomic_load(&r->isolated[t]) > on_list;
}

enum rsv_isolated_verdict rsv__wait_isolated(struct rsv_system *sys, enum rsv_lru_type t,
					     rsv_gfp_t gfp, bool is_kswapd)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	bool modern = rsv_policy_get(&sys->policy, RSV_POLICY_THROTTLE) == RSV_THROTTLE_RECLAIM;
	bool stalled = false;

	while (too_many_isolated(sys, t, gfp, is_kswapd)) {
		if (!modern) {
			throttled_sleep(&r->congestion_wait, RSV_NSEC_PER_SEC / 10,
					RSV_STAT_THROTTLE_ISOLATED);
		} else if (stalled) {
			return RSV_ISOLATED_GIVE_UP;
		} else {
			stalled = true;
			reclaim_throttle(sys, RSV_THROTTLE_ISOLATED);
		}
		if (rsv_fatal_signal_pending())
			return RSV_ISOLATED_KILLED;
	}
	return RSV_ISOLATED_SCAN;
}

void rsv__throttle_isolated_done(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (rsv_waitqueue_active(&r->reclaim_wait[RSV_THROTTLE_ISOLATED]))
		rsv_wake_up_all(&r->reclaim_wait[RSV_THROTTLE_ISOLATED]);
}

/* kswapd found the node balanced: pages no longer cycle faster than they are written. */
void rsv__clear_congested(struct rsv_system *sys)
{
	atomic_store(&rsv__reclaim(sys)->congested, false);
}

static void reclaim_throttle_after_shrink(struct rsv_system *sys,
					  const struct rsv_shrink_result *res, unsigned pf)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (res->is_kswapd && res->dirty && res->dirty == res->congested)
		atomic_store(&r->congested, true);
	if (res->is_kswapd && res->writeback && res->writeback == res->scanned)
		reclaim_throttle(sys, RSV_THROTTLE_WRITEBACK);
	if (!res->is_kswapd && !(pf & RSV_PF_LOCAL_THROTTLE) && atomic_load(&r->congested))
		reclaim_throttle(sys, RSV_THROTTLE_CONGESTED);
	else if (!res->is_kswapd && res->priority == 1 && !res->reclaimed)
		reclaim_throttle(sys, RSV_THROTTLE_NOPROGRESS);
}

void rsv__throttle_after_shrink(struct rsv_system *sys, rsv_gfp_t gfp,
				const struct rsv_shrink_result *res)
{
	unsigned pf = rsv__task_flags(rsv__task_current());

	switch (rsv_policy_get(&sys->policy, RSV_POLICY_THROTTLE)) {
	case RSV_THROTTLE_LESS_THROTTLE_EXEMPT:
		if (pf & RSV_PF_LOCAL_THROTTLE)
			return;
		/* fall through */
	case RSV_THROTTLE_VM_WRITEOUT:
		throttle_vm_writeout(sys, gfp);
		return;
	default:
		reclaim_throttle_after_shrink(sys, res, pf);
	}
}
