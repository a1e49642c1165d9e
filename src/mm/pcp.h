/* Private: the per-task page cache's hot path, inline so that a cache hit is a handful of
 * instructions in the caller's frame. The protocol is described in pcp.c. */
#ifndef RSV_MM_PCP_H
#define RSV_MM_PCP_H

#include "mm/internal.h"

#if defined(__SANITIZE_THREAD__)
#define RSV_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RSV_TSAN_BUILD 1
#endif
#endif

static inline int rsv__pcp_count(const struct rsv_pcp *pcp)
{
	return atomic_load_explicit(&pcp->count, memory_order_relaxed);
}

/* Whether someone holds @pcp's lists under the protocol: its owner inside a section (the lock
 * word, or the busy flag in asymmetric mode), a drainer holding the lock, or a drain of many
 * caches that froze it. A debug check: it cannot say who. */
static inline bool rsv__pcp_owned(const struct rsv_pcp *pcp)
{
	return atomic_load_explicit(&pcp->lock.v, memory_order_relaxed) ||
	       atomic_load_explicit(&pcp->busy, memory_order_relaxed) || pcp->frozen;
}

/* Only whoever holds the cache under its protocol writes the count. */
static inline void rsv__pcp_count_add(struct rsv_pcp *pcp, int n)
{
	atomic_store_explicit(&pcp->count, rsv__pcp_count(pcp) + n, memory_order_relaxed);
}

static inline bool rsv__pcp_enter(const struct rsv_system *sys, struct rsv_pcp *pcp)
{
	(void)sys;
	if (!pcp->asym) /* rsv_spin_trylock(), inline: no call to spoil the fast paths */
		return !atomic_exchange_explicit(&pcp->lock.v, 1, memory_order_acquire);
	atomic_store_explicit(&pcp->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst); /* the CPU fence is the drainer's membarrier */
	/* Acquire: a drainer that cleared the request also finished with the lists. */
	if (rsv_likely(!atomic_load_explicit(&pcp->drain_req, memory_order_acquire)))
		return true;
	atomic_store_explicit(&pcp->busy, 0, memory_order_release);
	return false;
}

static inline void rsv__pcp_exit(const struct rsv_system *sys, struct rsv_pcp *pcp)
{
	(void)sys;
	if (!pcp->asym)
		atomic_store_explicit(&pcp->lock.v, 0, memory_order_release);
	else /* release: a drainer that sees 0 also sees what we did to the lists */
		atomic_store_explicit(&pcp->busy, 0, memory_order_release);
}

static inline void rsv__pcp_push(const struct rsv_system *sys, struct rsv_task *tsk, uint32_t pfn,
				 unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	rsv_assert(rsv__pcp_owned(pcp) && order <= RSV_PCP_MAX_ORDER);
	rsv__set_page_state(p, RSV_PAGE_PCP);
	p->order = (uint8_t)order;
	p->owner = tsk->id;
	rsv__pfn_list_push(sys, &pcp->lists[order], pfn);
	rsv__pcp_count_add(pcp, 1 << order);
}

static inline uint32_t rsv__pcp_pop(const struct rsv_system *sys, struct rsv_pcp *pcp,
				    unsigned order)
{
	uint32_t pfn;

	rsv_assert(rsv__pcp_owned(pcp));
	pfn = rsv__pfn_list_pop(sys, &pcp->lists[order]);
	rsv__pcp_count_add(pcp, -(1 << order));
	return pfn;
}

/* A cache hit, or NULL: then rsv__rmqueue() refills or falls back to the buddy. */
static inline struct rsv_page *rsv__pcp_alloc_fast(const struct rsv_system *sys,
						   struct rsv_task *tsk, unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;
	uint32_t pfn;

	if (order > RSV_PCP_MAX_ORDER || rsv_unlikely(!rsv__pcp_enter(sys, pcp)))
		return NULL;
	if (rsv_unlikely(pcp->lists[order].head == RSV_NIL)) {
		rsv__pcp_exit(sys, pcp);
		return NULL;
	}
	pfn = rsv__pcp_pop(sys, pcp, order);
	rsv__pcp_exit(sys, pcp);
	rsv__task_stat_add(tsk, RSV_STAT_ALLOC_PCP_HIT, 1);
	return rsv__pfn_page(sys, pfn);
}

/* Caches a freed block below the high mark; false leaves it to rsv__free_to_pcp_or_buddy(). */
static inline bool rsv__pcp_free_fast(const struct rsv_system *sys, struct rsv_task *tsk,
				      uint32_t pfn, unsigned order)
{
	struct rsv_pcp *pcp = &tsk->pcp;

	if (order > RSV_PCP_MAX_ORDER || rsv_unlikely(!rsv__pcp_enter(sys, pcp)))
		return false;
	if (rsv_unlikely(rsv__pcp_count(pcp) + (1 << order) > sys->pcp_high)) {
		rsv__pcp_exit(sys, pcp);
		return false;
	}
	rsv__pcp_push(sys, tsk, pfn, order);
	rsv__pcp_exit(sys, pcp);
	return true;
}

#endif
