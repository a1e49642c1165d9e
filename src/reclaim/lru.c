/* LRU lists: new pages enter at the head, reclaim takes from the tail. Callers hold the LRU
 * lock. */
#include "reclaim/internal.h"

void rsv__lru_add(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];

	rsv__pfn_list_push(sys, &l->list, rsv__pfn(sys, p));
	l->nr++;
	rsv__page_set(p, PG_lru);
}

void rsv__lru_del(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];

	rsv__pfn_list_del(sys, &l->list, rsv__pfn(sys, p));
	l->nr--;
	rsv__page_clear(p, PG_lru);
}

struct rsv_page *rsv__lru_tail(struct rsv_system *sys, enum rsv_lru_type t)
{
	uint32_t tail = rsv__reclaim(sys)->lru[t].list.tail;

	return tail == RSV_NIL ? NULL : rsv__pfn_page(sys, tail);
}
