/* LRU lists threaded through the page descriptors' links (free while a page is allocated).
 * New pages enter at the head; reclaim takes from the tail. Callers hold the LRU lock. */
#include "reclaim/internal.h"

void rsv__lru_add(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];
	uint32_t pfn = rsv__pfn(sys, p);

	p->prev = RSV_NIL;
	p->next = l->head;
	if (l->head != RSV_NIL)
		rsv__pfn_page(sys, l->head)->prev = pfn;
	else
		l->tail = pfn;
	l->head = pfn;
	l->nr++;
	rsv__page_set(p, PG_lru);
}

void rsv__lru_del(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t)
{
	struct rsv_lru *l = &rsv__reclaim(sys)->lru[t];

	if (p->prev != RSV_NIL)
		rsv__pfn_page(sys, p->prev)->next = p->next;
	else
		l->head = p->next;
	if (p->next != RSV_NIL)
		rsv__pfn_page(sys, p->next)->prev = p->prev;
	else
		l->tail = p->prev;
	p->next = p->prev = RSV_NIL;
	l->nr--;
	rsv__page_clear(p, PG_lru);
}

struct rsv_page *rsv__lru_tail(struct rsv_system *sys, enum rsv_lru_type t)
{
	uint32_t tail = rsv__reclaim(sys)->lru[t].tail;

	return tail == RSV_NIL ? NULL : rsv__pfn_page(sys, tail);
}
