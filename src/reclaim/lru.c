/* LRU lists: new pages enter at the head, reclaim takes from the tail. Callers hold the LRU
 * lock (asserted). */
#include "common/assert.h"
#include "reclaim/internal.h"

/* PG_lru shares its word with bits others change without the LRU lock, so it takes a locked
 * instruction, except on the simulator, where no one else can run meanwhile: there a plain
 * read and write do, and long reclaim scans stop paying for atomics they do not need. */
static inline void set_lru_flag(const struct rsv_system *sys, struct rsv_page *p, bool on)
{
	unsigned f;

	if (!sys->one_thread) {
		if (on)
			rsv__page_set(p, PG_lru);
		else
			rsv__page_clear(p, PG_lru);
		return;
	}
	f = rsv__page_flags(p);
	atomic_store_explicit(&p->flags, (uint16_t)(on ? f | PG_lru : f & ~PG_lru),
			      memory_order_relaxed);
}

void rsv__lru_add(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];

	rsv_assert_held(&rsv__reclaim(sys)->lru_lock);
	rsv_assert(!(rsv__page_flags(p) & PG_lru));
	rsv__pfn_list_push(sys, &l->list, rsv__pfn(sys, p));
	atomic_store_explicit(&l->nr, rsv__lru_size(l) + 1, memory_order_relaxed);
	set_lru_flag(sys, p, true);
}

void rsv__lru_del(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];

	rsv_assert_held(&rsv__reclaim(sys)->lru_lock);
	rsv_assert((rsv__page_flags(p) & PG_lru) && rsv__lru_size(l) > 0);
	rsv__pfn_list_del(sys, &l->list, rsv__pfn(sys, p));
	atomic_store_explicit(&l->nr, rsv__lru_size(l) - 1, memory_order_relaxed);
	set_lru_flag(sys, p, false);
}

struct rsv_page *rsv__lru_tail(struct rsv_system *sys, enum rsv_lru_type t)
{
	uint32_t tail = rsv__reclaim(sys)->lru[t].list.tail;

	rsv_assert_held(&rsv__reclaim(sys)->lru_lock);
	return tail == RSV_NIL ? NULL : rsv__pfn_page(sys, tail);
}
