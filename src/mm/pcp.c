/* Per-task page caches (the kernel's per-CPU pagesets): lists of free blocks of order 0..3
 * that a task allocates from and frees to without the zone lock. Refilled from the buddy in
 * batches and spilled back above a high mark.
 *
 * Only the owner uses its cache, but any task may drain it: a failing allocation must reach
 * pages stranded in a sleeping task's cache. Two ways to make that safe:
 *
 * Asymmetric (the default): the owner marks itself busy with a plain store and checks for a
 * drain request, separated only by a compiler barrier, so a cache hit costs no atomic
 * read-modify-write. A drainer sets the request, then membarrier() forces a full barrier on
 * every running thread, then waits for busy to clear. Either the owner's busy store is
 * visible to the drainer after that barrier, or the owner's check comes after it and sees the
 * request; in both cases they never touch the lists at once (Dekker's argument with the
 * fence moved entirely to the rare side, as the kernel did when it drained other CPUs' lists
 * by IPI). An owner that sees a request uses the buddy directly. On the simulator no fence
 * is needed: no task runs while another is between two scheduling points.
 *
 * Locked (no membarrier, or under TSan, which cannot see that fence): the owner takes the
 * cache's spinlock with trylock and uses the buddy when a drainer holds it, exactly as the
 * kernel's pcp spinlock works today. */
#include "common/assert.h"
#include "mm/pcp.h"

static void wait_not_busy(struct rsv_pcp *pcp)
{
	unsigned spins = 0;

	/* Owner sections are short and never sleep; the owner may only be preempted. */
	while (atomic_load_explicit(&pcp->busy, memory_order_acquire))
		if (++spins > 128)
			rsv__cpu_yield();
		else
			rsv__cpu_relax();
}

static void request(struct rsv_pcp *pcp)
{
	rsv_spin_lock(&pcp->lock);
	atomic_store_explicit(&pcp->drain_req, 1, memory_order_relaxed);
}

static void release(struct rsv_pcp *pcp)
{
	atomic_store_explicit(&pcp->drain_req, 0, memory_order_release);
	rsv_spin_unlock(&pcp->lock);
}

static void pcp_thaw(const struct rsv_system *sys, struct rsv_pcp *pcp)
{
	if (!sys->pcp_asym)
		rsv_spin_unlock(&pcp->lock);
	else
		release(pcp);
}

static struct rsv_pcp *task_pcp(struct rsv_list *pos)
{
	return &rsv_container_of(pos, struct rsv_task, node)->pcp;
}

/* Freezes the caches of every task, or only of those holding pages: one fence for all of
 * them rather than one each. The frozen marks are only touched under sys->tasks_lock. */
static void freeze_many(struct rsv_system *sys, bool only_nonempty)
{
	struct rsv_list *pos;

	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_pcp *pcp = task_pcp(pos);

		pcp->frozen = !only_nonempty || rsv__pcp_count(pcp);
		if (!pcp->frozen)
			continue;
		if (sys->pcp_asym)
			request(pcp);
		else
			rsv_spin_lock(&pcp->lock);
	}
	if (!sys->pcp_asym)
		return;
	if (sys->pcp_fence)
		rsv__membarrier();
	rsv_list_for_each(pos, &sys->tasks)
		if (task_pcp(pos)->frozen)
			wait_not_busy(task_pcp(pos));
}

void rsv__pcp_freeze_all(struct rsv_system *sys)
{
	rsv_assert_held(&sys->tasks_lock);
	freeze_many(sys, false);
}

void rsv__pcp_thaw_all(struct rsv_system *sys)
{
	struct rsv_list *pos;

	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_pcp *pcp = task_pcp(pos);

		if (pcp->frozen)
			pcp_thaw(sys, pcp);
		pcp->frozen = false;
	}
}

void rsv__pcp_init(struct rsv_pcp *pcp)
{
	rsv_spin_init(&pcp->lock);
	for (unsigned o = 0; o <= RSV_PCP_MAX_ORDER; o++)
		pcp->lists[o] = RSV_PFN_LIST_INIT;
	atomic_init(&pcp->count, 0);
}

/* batch: pages per refill or spill; high: the most pages a cache holds. A 4096-page arena
 * gets 4 and 24; the batch grows with the arena to at most 63 (the kernel's order of size).
 * Then the cache protocol: asymmetric unless the fence is missing or TSan is watching. */
void rsv__pcp_setup(struct rsv_system *sys)
{
	int b = sys->cfg.pcp_batch ? (int)sys->cfg.pcp_batch : (int)(sys->nr_pages / 1024);

	if (b < 1)
		b = 1;
	if (b > 63 && !sys->cfg.pcp_batch)
		b = 63;
	sys->pcp_batch = b;
	sys->pcp_high = sys->cfg.pcp_high ? (int)sys->cfg.pcp_high : 6 * b;
	sys->pcp_fence = rsv_platform_backend(sys->plat) == RSV_BACKEND_OS;
	sys->one_thread = !sys->pcp_fence;
#ifdef RSV_TSAN_BUILD
	sys->pcp_asym = false;
#else
	sys->pcp_asym = !sys->cfg.pcp_locked && (!sys->pcp_fence || rsv__membarrier_available());
#endif
}

/* Moves up to @nr pages from @pcp to the buddy; the caller owns the lists (rsv__pcp_owned()),
 * and it takes the zone lock. Blocks leave from the list heads, and orders are visited from
 * high to low so the largest blocks (the costliest to rebuild) go back first. */
static int pcp_free_bulk(struct rsv_system *sys, struct rsv_pcp *pcp, int nr)
{
	int freed = 0;

	rsv_assert(rsv__pcp_owned(pcp));
	rsv_spin_lock(&sys->zone.lock);
	for (int o = RSV_PCP_MAX_ORDER; o >= 0 && freed < nr; o--) {
		while (pcp->lists[o].head != RSV_NIL && freed < nr) {
			uint32_t pfn = rsv__pcp_pop(sys, pcp, (unsigned)o);

			rsv__free_one_page(sys, pfn, (unsigned)o);
			freed += 1 << o;
		}
	}
	rsv_spin_unlock(&sys->zone.lock);
	return freed;
}

static void pcp_refill(struct rsv_system *sys, struct rsv_task *tsk, unsigned order)
{
	int blocks = order ? sys->pcp_batch >> order : sys->pcp_batch;

	if (order && blocks < 2)
		blocks = 2;
	rsv_spin_lock(&sys->zone.lock);
	while (blocks--) {
		struct rsv_page *p = rsv__rmqueue_smallest(sys, order);

		if (!p)
			break;
		rsv__pcp_push(sys, tsk, rsv__pfn(sys, p), order);
	}
	rsv_spin_unlock(&sys->zone.lock);
	rsv__task_stat_add(tsk, RSV_STAT_PCP_REFILL, 1);
}

static struct rsv_page *rmqueue_buddy(struct rsv_system *sys, unsigned order)
{
	struct rsv_page *p;

	rsv_spin_lock(&sys->zone.lock);
	p = rsv__rmqueue_smallest(sys, order);
	rsv_spin_unlock(&sys->zone.lock);
	return p;
}

/* rmqueue(): the task's cache for small orders, the buddy otherwise. The watermark check has
 * already been made. */
struct rsv_page *rsv__rmqueue(struct rsv_system *sys, struct rsv_task *tsk, unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	struct rsv_page *p = NULL;

	if (order <= RSV_PCP_MAX_ORDER && rsv_likely(rsv__pcp_enter(sys, pcp))) {
		if (rsv_unlikely(pcp->lists[order].head == RSV_NIL))
			pcp_refill(sys, tsk, order);
		if (rsv_likely(pcp->lists[order].head != RSV_NIL)) {
			p = rsv__pfn_page(sys, rsv__pcp_pop(sys, pcp, order));
			rsv__task_stat_add(tsk, RSV_STAT_ALLOC_PCP_HIT, 1);
		}
		rsv__pcp_exit(sys, pcp);
		if (p)
			return p;
	}
	p = rmqueue_buddy(sys, order);
	if (p)
		rsv__task_stat_add(tsk, RSV_STAT_ALLOC_BUDDY, 1);
	return p;
}

void rsv__free_to_pcp_or_buddy(struct rsv_system *sys, struct rsv_task *tsk, uint32_t pfn,
			       unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	int spilled = 0;

	if (order <= RSV_PCP_MAX_ORDER && rsv_likely(rsv__pcp_enter(sys, pcp))) {
		rsv__pcp_push(sys, tsk, pfn, order);
		if (rsv_unlikely(rsv__pcp_count(pcp) > sys->pcp_high))
			spilled = pcp_free_bulk(sys, pcp, sys->pcp_batch);
		rsv__pcp_exit(sys, pcp);
		if (!spilled)
			return;
		rsv__task_stat_add(tsk, RSV_STAT_PCP_SPILL, 1);
	} else {
		rsv_spin_lock(&sys->zone.lock);
		rsv__free_one_page(sys, pfn, order);
		rsv_spin_unlock(&sys->zone.lock);
	}
	rsv__zone_wake_waiters(sys);
}

/* Returns everything in the calling task's own cache to the buddy; the pages freed. The
 * owner needs no fence, only to exclude other drainers, which hold the lock. Other tasks'
 * caches are drained by rsv__pcp_drain_all(). Callers wake the zone's waiters. */
int rsv__drain_pcp(struct rsv_system *sys, struct rsv_task *owner)
{
	struct rsv_pcp *pcp = &owner->pcp;
	int freed;

	rsv_spin_lock(&pcp->lock);
	freed = rsv__pcp_count(pcp) ? pcp_free_bulk(sys, pcp, rsv__pcp_count(pcp)) : 0;
	rsv_spin_unlock(&pcp->lock);
	return freed;
}

int rsv__pcp_drain_all(struct rsv_system *sys)
{
	struct rsv_list *pos;
	int freed = 0;

	rsv_assert_held(&sys->tasks_lock);
	freeze_many(sys, true);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_pcp *pcp = task_pcp(pos);

		if (pcp->frozen && rsv__pcp_count(pcp))
			freed += pcp_free_bulk(sys, pcp, rsv__pcp_count(pcp));
	}
	rsv__pcp_thaw_all(sys);
	return freed;
}
