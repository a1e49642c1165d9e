/* Per-task page caches (the kernel's per-CPU pagesets): lists of free blocks of order 0..3
 * that a task allocates from and frees to without the zone lock. Refilled from the buddy in
 * batches and spilled back above a high mark.
 *
 * Each cache has a spinlock that only its owner and a drainer ever take. Uncontended it costs
 * one atomic exchange; the kernel pays the same since its pcp lists became spinlock-protected
 * so that they can be drained remotely. The owner uses trylock and goes to the buddy when a
 * drainer holds it, so an allocation never waits on a drain. */
#include "mm/internal.h"

void rsv__pcp_init(struct rsv_pcp *pcp)
{
	rsv_spin_init(&pcp->lock);
	for (unsigned o = 0; o <= RSV_PCP_MAX_ORDER; o++)
		pcp->lists[o] = RSV_NIL;
	pcp->count = 0;
}

/* batch: pages per refill or spill; high: the most pages a cache holds. A 4096-page arena
 * gets 4 and 24; the batch grows with the arena to at most 63 (the kernel's order of size). */
void rsv__pcp_layout(const struct rsv_system *sys, int *batch, int *high)
{
	int b = sys->cfg.pcp_batch ? (int)sys->cfg.pcp_batch : (int)(sys->nr_pages / 1024);

	if (b < 1)
		b = 1;
	if (b > 63 && !sys->cfg.pcp_batch)
		b = 63;
	*batch = b;
	*high = sys->cfg.pcp_high ? (int)sys->cfg.pcp_high : 6 * b;
}

static void pcp_push(struct rsv_system *sys, struct rsv_task *tsk, uint32_t pfn, unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	p->state = RSV_PAGE_PCP;
	p->order = (uint8_t)order;
	p->owner = tsk->id;
	p->prev = RSV_NIL;
	p->next = pcp->lists[order];
	if (p->next != RSV_NIL)
		rsv__pfn_page(sys, p->next)->prev = pfn;
	pcp->lists[order] = pfn;
	pcp->count += 1 << order;
}

static uint32_t pcp_pop(struct rsv_system *sys, struct rsv_pcp *pcp, unsigned order)
{
	uint32_t pfn = pcp->lists[order];
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	pcp->lists[order] = p->next;
	if (p->next != RSV_NIL)
		rsv__pfn_page(sys, p->next)->prev = RSV_NIL;
	p->next = p->prev = RSV_NIL;
	pcp->count -= 1 << order;
	return pfn;
}

/* Moves up to @nr pages from @pcp to the buddy; called with the pcp lock held, takes the
 * zone lock. Blocks leave from the list heads, and orders are visited from high to low so
 * the largest blocks (the costliest to rebuild) go back first. */
static int pcp_free_bulk(struct rsv_system *sys, struct rsv_pcp *pcp, int nr)
{
	int freed = 0;

	rsv_spin_lock(&sys->zone.lock);
	for (int o = RSV_PCP_MAX_ORDER; o >= 0 && freed < nr; o--) {
		while (pcp->lists[o] != RSV_NIL && freed < nr) {
			uint32_t pfn = pcp_pop(sys, pcp, (unsigned)o);

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
		pcp_push(sys, tsk, rsv__pfn(sys, p), order);
	}
	rsv_spin_unlock(&sys->zone.lock);
	rsv__count(tsk, RSV_STAT_PCP_REFILL, 1);
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

	if (order <= RSV_PCP_MAX_ORDER && rsv_likely(rsv_spin_trylock(&pcp->lock))) {
		if (rsv_unlikely(pcp->lists[order] == RSV_NIL))
			pcp_refill(sys, tsk, order);
		if (rsv_likely(pcp->lists[order] != RSV_NIL)) {
			p = rsv__pfn_page(sys, pcp_pop(sys, pcp, order));
			rsv__count(tsk, RSV_STAT_ALLOC_PCP_HIT, 1);
		}
		rsv_spin_unlock(&pcp->lock);
		if (p)
			return p;
	}
	p = rmqueue_buddy(sys, order);
	if (p)
		rsv__count(tsk, RSV_STAT_ALLOC_BUDDY, 1);
	return p;
}

void rsv__free_to_pcp_or_buddy(struct rsv_system *sys, struct rsv_task *tsk, uint32_t pfn,
			       unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	int spilled = 0;

	if (order <= RSV_PCP_MAX_ORDER && rsv_likely(rsv_spin_trylock(&pcp->lock))) {
		pcp_push(sys, tsk, pfn, order);
		if (rsv_unlikely(pcp->count > sys->pcp_high))
			spilled = pcp_free_bulk(sys, pcp, sys->pcp_batch);
		rsv_spin_unlock(&pcp->lock);
		if (!spilled)
			return;
		rsv__count(tsk, RSV_STAT_PCP_SPILL, 1);
	} else {
		rsv_spin_lock(&sys->zone.lock);
		rsv__free_one_page(sys, pfn, order);
		rsv_spin_unlock(&sys->zone.lock);
	}
	rsv__zone_wake_waiters(sys);
}

/* Returns everything in @owner's cache to the buddy; the pages freed. Safe from any task: the
 * owner's trylock fails meanwhile and it uses the buddy directly. Wakes nobody, so that it
 * can run under the tasks lock; callers wake the zone's waiters afterwards. */
int rsv__drain_pcp(struct rsv_system *sys, struct rsv_task *owner)
{
	int freed;

	rsv_spin_lock(&owner->pcp.lock);
	freed = owner->pcp.count ? pcp_free_bulk(sys, &owner->pcp, owner->pcp.count) : 0;
	rsv_spin_unlock(&owner->pcp.lock);
	return freed;
}
