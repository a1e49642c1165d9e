/* Page reclaim (the kernel's mm/vmscan.c): scanning the LRU lists, the decisions the reclaim
 * context's gfp allows, writeback and swap-out through the mappings' devices, shrink_node, and
 * direct reclaim with its throttle on pfmemalloc_wait.
 *
 * Which pages a reclaimer may touch:
 *   clean file page          dropped
 *   dirty file page          written back: needs __GFP_IO, and __GFP_FS if the mapping's
 *                            writeback enters a filesystem or its device does (a loop device)
 *   anonymous page           written to the mapping's swap device: needs __GFP_IO, and
 *                            __GFP_FS if that device needs it; freed when the write completes
 *   under writeback          left alone, counted (a throttle decides whether to wait)
 *   referenced               given another round (second chance) */
#include <stdlib.h>
#include "common/assert.h"
#include "reclaim/internal.h"

struct scan_control {
	rsv_gfp_t gfp;
	int priority;
	bool is_kswapd;
	unsigned long nr_to_reclaim;
	unsigned long nr_reclaimed;
	unsigned long nr_scanned;
	unsigned long nr_writeback; /* met under writeback */
	unsigned long nr_unqueued_dirty; /* dirty pages this reclaimer could not write */
	unsigned long nr_dirty;          /* dirty or under writeback */
	unsigned long nr_congested;      /* under writeback and met before (PG_reclaim) */
};

static bool dev_allows(const struct rsv_bdev *dev, rsv_gfp_t gfp)
{
	return dev && (gfp & RSV___GFP_IO) &&
	       (!(dev->flags & RSV_BDEV_NEEDS_FS) || (gfp & RSV___GFP_FS));
}

static bool may_writeback(const struct rsv_mapping *m, rsv_gfp_t gfp)
{
	return dev_allows(m->dev, gfp) && (!(m->flags & RSV_MAPPING_FS) || (gfp & RSV___GFP_FS));
}

/* ---- writeback and swap-out ---- */

/* A writeback request, on the system's list while in flight, so that what a stuck run leaves
 * in a device's queue is freed with the system rather than lost. */
struct wb_request {
	struct rsv_request req;
	struct rsv_list node;
};

static void wb_request_free(struct rsv_reclaim *r, struct wb_request *w)
{
	rsv_spin_lock(&r->objects_lock);
	rsv_list_del(&w->node);
	rsv_spin_unlock(&r->objects_lock);
	free(w);
}

/* At system teardown, every task stopped: requests no device will complete. */
void rsv__writeback_requests_free(struct rsv_reclaim *r)
{
	while (!rsv_list_empty(&r->wb_inflight)) {
		struct wb_request *w = rsv_container_of(r->wb_inflight.next, struct wb_request,
							node);

		rsv_list_del(&w->node);
		free(w);
	}
}

/* Runs in the completing device's task. A swapped-out page is freed here; if a reclaimer
 * holds it isolated right now, the reclaimer frees it when it puts its batch back. */
static void writeback_end_io(struct rsv_request *req)
{
	struct rsv_page *p = req->page;
	struct rsv_mapping *m = rsv__page_mapping(p);
	struct rsv_system *sys = m->sys;
	struct rsv_reclaim *r = rsv__reclaim(sys);
	bool anon = m->kind == RSV_MAPPING_ANON, free_now = false, turned_dirty = false;
	int error = req->error;

	wb_request_free(r, rsv_container_of(req, struct wb_request, req));
	/* The page's next state is set before PG_writeback goes: a reclaimer that isolated it
	 * reads its flags without lru_lock, and a page seen neither under writeback nor done
	 * would be written out a second time, then freed by putback under that second write. */
	rsv_spin_lock(&r->lru_lock);
	if (error) {
		if (!anon && !(rsv__page_set(p, PG_dirty) & PG_dirty))
			turned_dirty = rsv__account_dirty(m, 1);
	} else if (anon) {
		if (rsv__page_flags(p) & PG_lru) {
			rsv__lru_del(sys, p, RSV_LRU_ANON);
			free_now = true;
		} else {
			rsv__page_set(p, PG_free_on_putback);
		}
	}
	rsv__page_clear(p, PG_writeback | PG_reclaim);
	rsv_spin_unlock(&r->lru_lock);
	if (turned_dirty)
		rsv__wb_wakeup_delayed(sys);
	rsv__vm_add(r, RSV_NR_WRITEBACK, -1);
	if (anon && !error) {
		rsv__vm_add(r, RSV_NR_SWAPPED, 1);
		if (m->owner)
			atomic_fetch_add(&m->owner->swapents, 1);
	}
	if (free_now) {
		rsv__current_stat_add(RSV_STAT_PGSTEAL, 1);
		rsv__mapping_free_page(p);
	}
	atomic_fetch_sub(&m->nr_inflight, 1);
	rsv_wake_up_all(&r->writeback_wait);
	rsv__throttle_writeback_done(sys);
}

/* Takes a page for writeback: PG_dirty becomes PG_writeback. The caller owns the page (it
 * isolated it) or holds lru_lock while the page is on the LRU (the flusher), so that no
 * reclaimer claims it at the same time. True if the page was dirty. */
bool rsv__writeback_claim(struct rsv_page *p)
{
	struct rsv_mapping *m = rsv__page_mapping(p);
	bool was_dirty;

	rsv_assert(!(rsv__page_flags(p) & PG_lru) || rsv__held(&rsv__reclaim(m->sys)->lru_lock));
	rsv_assert(!(rsv__page_flags(p) & PG_writeback)); /* written once at a time */
	was_dirty = rsv__page_clear(p, PG_dirty) & PG_dirty;

	if (was_dirty)
		rsv__account_dirty(m, -1);
	rsv__page_set(p, PG_writeback);
	rsv__vm_add(rsv__reclaim(m->sys), RSV_NR_WRITEBACK, 1);
	atomic_fetch_add(&m->nr_inflight, 1);
	return was_dirty;
}

/* Sends a claimed page to its mapping's device. Request descriptors come from the C heap,
 * not the arena: the page is the I/O's, the descriptor is the model's. On failure the page is
 * as before. */
void rsv__writeback_submit(struct rsv_page *p, bool was_dirty)
{
	struct rsv_mapping *m = rsv__page_mapping(p);
	struct rsv_system *sys = m->sys;
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct wb_request *w = calloc(1, sizeof(*w));

	if (w) {
		w->req.bdev = m->dev;
		w->req.op = RSV_REQ_WRITE;
		/* A page's number is a unique slot on any device at least as large as the arena. */
		w->req.sector = rsv__pfn(sys, p) % m->dev->nr_sectors;
		w->req.page = p;
		w->req.end_io = writeback_end_io;
		rsv_spin_lock(&r->objects_lock);
		rsv_list_add_tail(&w->node, &r->wb_inflight);
		rsv_spin_unlock(&r->objects_lock);
		if (!rsv_submit_request(&w->req))
			return;
		wb_request_free(r, w);
	}
	/* Dirty again before PG_writeback goes, for the same reason as in writeback_end_io():
	 * a page on the LRU seen clean and idle would be dropped with its data. */
	if (was_dirty && !(rsv__page_set(p, PG_dirty) & PG_dirty) && rsv__account_dirty(m, 1))
		rsv__wb_wakeup_delayed(sys);
	rsv__page_clear(p, PG_writeback);
	rsv__vm_add(r, RSV_NR_WRITEBACK, -1);
	atomic_fetch_sub(&m->nr_inflight, 1);
	rsv_wake_up_all(&r->writeback_wait);
}

/* Starts writing an isolated page to its mapping's device. */
static void start_writeback(struct rsv_page *p)
{
	rsv__writeback_submit(p, rsv__writeback_claim(p));
}

/* ---- scanning ---- */

static int isolate(struct rsv_system *sys, enum rsv_lru_type t, struct rsv_page **out, int max)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_page *p;
	int n = 0;

	rsv_spin_lock(&r->lru_lock);
	while (n < max && (p = rsv__lru_tail(sys, t))) {
		rsv__lru_del(sys, p, t);
		out[n++] = p;
	}
	rsv__vm_add(r, RSV_NR_ISOLATED, n);
	atomic_fetch_add(&r->isolated[t], n);
	rsv_spin_unlock(&r->lru_lock);
	return n;
}

/* What to do with one isolated page; true if it was freed. */
static bool reclaim_page(struct rsv_system *sys, struct scan_control *sc, struct rsv_page *p)
{
	struct rsv_mapping *m = rsv__page_mapping(p);
	unsigned f = rsv__page_flags(p);

	/* Its swap-out completed while we held it (perhaps while this batch's submissions
	 * waited for a mempool): putback frees it. Writing it again would free it under I/O. */
	if (f & PG_free_on_putback)
		return false;
	if (f & (PG_dirty | PG_writeback))
		sc->nr_dirty++;
	/* Flags are tested before they are changed: a page met again and again under writeback
	 * would otherwise cost a locked instruction each time for nothing. */
	if (f & PG_writeback) {
		if ((f & PG_reclaim) || (rsv__page_set(p, PG_reclaim) & PG_reclaim))
			sc->nr_congested++;
		sc->nr_writeback++;
		rsv__current_stat_add(RSV_STAT_PGSKIP_WRITEBACK, 1);
		return false;
	}
	if ((f & PG_referenced) && (rsv__page_clear(p, PG_referenced) & PG_referenced)) {
		rsv__current_stat_add(RSV_STAT_PGROTATED, 1);
		return false;
	}
	if (m->kind == RSV_MAPPING_ANON) {
		if (!dev_allows(m->dev, sc->gfp)) {
			rsv__current_stat_add(RSV_STAT_PGSKIP_ANON, 1);
			return false;
		}
		rsv__current_stat_add(RSV_STAT_PSWPOUT, 1);
		start_writeback(p);
		return false;
	}
	if (f & PG_dirty) {
		if (!may_writeback(m, sc->gfp)) {
			rsv__current_stat_add(RSV_STAT_PGSKIP_DIRTY, 1);
			sc->nr_unqueued_dirty++;
			return false;
		}
		rsv__current_stat_add(RSV_STAT_PGWRITEBACK, 1);
		start_writeback(p);
		return false;
	}
	rsv__current_stat_add(RSV_STAT_PGSTEAL, 1);
	rsv__mapping_free_page(p);
	return true;
}

/* Puts back what was not freed, at the head: rotated pages get a full round. A page whose
 * swap-out completed while we held it is freed instead. */
static unsigned long putback(struct rsv_system *sys, enum rsv_lru_type t, struct rsv_page **pages,
			     const bool *freed, int n)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_page *done[SWAP_CLUSTER_MAX];
	int nr_done = 0;

	rsv_spin_lock(&r->lru_lock);
	for (int i = 0; i < n; i++) {
		if (freed[i])
			continue;
		/* Set under lru_lock, which we hold: a plain test is exact. */
		if ((rsv__page_flags(pages[i]) & PG_free_on_putback) &&
		    (rsv__page_clear(pages[i], PG_free_on_putback) & PG_free_on_putback))
			done[nr_done++] = pages[i];
		else
			rsv__lru_add(sys, pages[i], t);
	}
	rsv__vm_add(r, RSV_NR_ISOLATED, -n);
	atomic_fetch_sub(&r->isolated[t], n);
	rsv_spin_unlock(&r->lru_lock);
	rsv__throttle_isolated_done(sys);
	for (int i = 0; i < nr_done; i++)
		rsv__mapping_free_page(done[i]);
	rsv__current_stat_add(RSV_STAT_PGSTEAL, (uint64_t)nr_done);
	return (unsigned long)nr_done;
}

static void shrink_lru(struct rsv_system *sys, struct scan_control *sc, enum rsv_lru_type t)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	unsigned long size = rsv__lru_size(&r->lru[t]); /* a racy read is fine for a scan target */
	unsigned long to_scan = size >> sc->priority;

	if (!to_scan)
		to_scan = size < SWAP_CLUSTER_MAX ? size : SWAP_CLUSTER_MAX;
	switch (rsv__wait_isolated(sys, t, sc->gfp, sc->is_kswapd)) {
	case RSV_ISOLATED_GIVE_UP:
		return;
	case RSV_ISOLATED_KILLED: /* about to exit and free its memory: let it go */
		sc->nr_reclaimed += SWAP_CLUSTER_MAX;
		return;
	default:
		break;
	}
	while (to_scan && sc->nr_reclaimed < sc->nr_to_reclaim) {
		struct rsv_page *batch[SWAP_CLUSTER_MAX];
		bool freed[SWAP_CLUSTER_MAX];
		int n = isolate(sys, t, batch,
				(int)(to_scan < SWAP_CLUSTER_MAX ? to_scan : SWAP_CLUSTER_MAX));
		unsigned long unqueued = sc->nr_unqueued_dirty;

		if (!n)
			break;
		to_scan -= (unsigned long)n;
		sc->nr_scanned += (unsigned long)n;
		rsv__current_stat_add(RSV_STAT_PGSCAN, (uint64_t)n);
		for (int i = 0; i < n; i++)
			sc->nr_reclaimed += (freed[i] = reclaim_page(sys, sc, batch[i]));
		sc->nr_reclaimed += putback(sys, t, batch, freed, n);
		/* Everything taken was dirty and this context may not write it: the flushers
		 * can, so ask them (shrink_inactive_list's WB_REASON_VMSCAN wake-up). */
		if (sc->nr_unqueued_dirty - unqueued == (unsigned long)n)
			rsv__wakeup_flusher(sys, true);
	}
}

static bool can_swap(struct rsv_system *sys);

/* shrink_node(): the file LRU, then the anonymous one, then the shrinkers. What the shrinkers
 * give back to the buddy allocator counts as reclaimed, as reclaim_state does in the kernel. */
unsigned long rsv__shrink_node(struct rsv_system *sys, rsv_gfp_t gfp, int priority,
			       unsigned long nr_to_reclaim, bool is_kswapd, bool *empty)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct scan_control sc = { .gfp = gfp, .priority = priority, .is_kswapd = is_kswapd,
				   .nr_to_reclaim = nr_to_reclaim };
	bool swap = can_swap(sys), had_objects = false;
	unsigned long before;
	long gained;

	if (empty) /* racy reads: a hint for skipping priorities, never for correctness */
		*empty = !rsv__lru_size(&r->lru[RSV_LRU_FILE]) &&
			 (!swap || !rsv__lru_size(&r->lru[RSV_LRU_ANON]));
	shrink_lru(sys, &sc, RSV_LRU_FILE);
	if (swap)
		shrink_lru(sys, &sc, RSV_LRU_ANON);
	before = rsv_system_free_pages(sys);
	rsv__shrink_slab(sys, gfp, priority, &had_objects);
	if (empty && had_objects)
		*empty = false;
	gained = (long)rsv_system_free_pages(sys) - (long)before;
	if (gained > 0)
		sc.nr_reclaimed += (unsigned long)gained;
	/* Any reclaimer's success makes the node worth kswapd's time again. */
	if (sc.nr_reclaimed)
		atomic_store(&rsv__reclaim(sys)->kswapd_failures, 0);
	rsv__throttle_after_shrink(sys, gfp, &(struct rsv_shrink_result){
		.is_kswapd = is_kswapd, .priority = priority, .scanned = sc.nr_scanned,
		.writeback = sc.nr_writeback, .reclaimed = sc.nr_reclaimed, .dirty = sc.nr_dirty,
		.congested = sc.nr_congested });
	return sc.nr_reclaimed;
}

/* ---- direct reclaim ---- */

/* allow_direct_reclaim(): above half the min reserve, or when kswapd has given up (then the
 * OOM path must be reachable). Waking kswapd here keeps a throttled task from waiting on a
 * kswapd that is asleep. */
bool rsv__allow_direct_reclaim(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (atomic_load(&r->kswapd_failures) >= MAX_KSWAPD_FAILURES)
		return true;
	if (rsv_system_free_pages(sys) > sys->zone.wmark[RSV_WMARK_MIN] / 2)
		return true;
	if (rsv_waitqueue_active(&r->kswapd_wait)) {
		atomic_store(&r->kswapd_woken, true);
		rsv_wake_up(&r->kswapd_wait);
	}
	return false;
}

/* throttle_direct_reclaim(): below half the min reserve, direct reclaimers wait for kswapd
 * instead of competing for the last pages (Mel Gorman, swap over NBD). Service tasks are
 * never throttled; without __GFP_FS the wait is a series of 1 s naps. */
static void throttle_direct_reclaim(struct rsv_system *sys, rsv_gfp_t gfp)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_task *tsk = rsv__task_current();

	if ((rsv__task_flags(tsk) & RSV_PF_KTHREAD) || !r->kswapd ||
	    atomic_load(&tsk->fatal_signal) || rsv__allow_direct_reclaim(sys))
		return;
	rsv__current_stat_add(RSV_STAT_THROTTLE_DIRECT, 1);
	rsv__wakeup_kswapd(sys, gfp, 0);
	if (gfp & RSV___GFP_FS) {
		rsv_wait_event_killable(&r->pfmemalloc_wait, rsv__allow_direct_reclaim(sys));
		return;
	}
	{
		struct rsv_wait_entry we;

		rsv_wait_entry_init(&we);
		rsv_prepare_to_wait(&r->pfmemalloc_wait, &we, RSV_TASK_UNINTERRUPTIBLE);
		if (!rsv__allow_direct_reclaim(sys))
			rsv_schedule_timeout(RSV_NSEC_PER_SEC);
		rsv_finish_wait(&r->pfmemalloc_wait, &we);
	}
}

/* try_to_free_pages(): called by the allocator's slow path with PF_MEMALLOC set. */
unsigned long rsv__try_to_free_pages(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order)
{
	bool modern = rsv_policy_get(&sys->policy, RSV_POLICY_THROTTLE) == RSV_THROTTLE_RECLAIM;
	unsigned long reclaimed = 0;

	throttle_direct_reclaim(sys, gfp);
	for (int prio = DEF_PRIORITY; prio >= 0 && reclaimed < SWAP_CLUSTER_MAX; prio--) {
		bool empty;

		reclaimed += rsv__shrink_node(sys, gfp, prio, SWAP_CLUSTER_MAX - reclaimed, false,
					      &empty);
		/* Nothing to scan at this priority is nothing at the next ones either: go to
		 * priority 1, where reclaim_throttle decides on a no-progress sleep. (The
		 * pre-4.9 throttles act at every priority, so they walk them all.) */
		if (empty && modern && prio > 2)
			prio = 2;
	}
	return reclaimed;
}

unsigned long rsv_try_to_free_pages(rsv_gfp_t gfp, unsigned order)
{
	struct rsv_task *tsk = rsv__task_current();
	unsigned long reclaimed;
	unsigned noreclaim;
	const char *lockdep;

	if (!tsk || rsv_gfp_check(gfp, order))
		return 0;
	gfp = rsv__task_gfp_context(tsk, gfp);
	lockdep = rsv__lockdep_reclaim_enter(tsk->sys, tsk, gfp);
	noreclaim = rsv_memalloc_noreclaim_save();
	reclaimed = rsv__try_to_free_pages(tsk->sys, gfp, order);
	rsv_memalloc_noreclaim_restore(noreclaim);
	rsv__lockdep_reclaim_exit(tsk->sys, lockdep);
	return reclaimed;
}

/* Whether any anonymous mapping has a swap device: without one, anonymous pages cannot be
 * reclaimed, and, as get_scan_count() does, reclaim does not scan them at all. */
static bool can_swap(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	bool swap = false;
	struct rsv_list *pos;

	rsv_spin_lock(&r->objects_lock);
	rsv_list_for_each(pos, &r->mappings) {
		struct rsv_mapping *m = rsv_container_of(pos, struct rsv_mapping, node);

		if (m->kind == RSV_MAPPING_ANON && m->dev &&
		    (!m->dev->ops->full || !m->dev->ops->full(m->dev))) {
			swap = true;
			break;
		}
	}
	rsv_spin_unlock(&r->objects_lock);
	return swap;
}

/* zone_reclaimable_pages(): file pages, plus anonymous ones if any mapping can swap (has a
 * swap device with room). */
unsigned long rsv__reclaimable_pages(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	long file = rsv__vm_get(r, RSV_NR_FILE), anon = rsv__vm_get(r, RSV_NR_ANON);

	return (unsigned long)(file + (can_swap(sys) ? anon : 0));
}
