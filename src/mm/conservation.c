/* rsv_system_check(): the conservation invariant, per page and in totals.
 *
 * Walking the descriptors block by block proves every page belongs to exactly one block with
 * one state; walking the buddy and page-cache lists proves every free block is on exactly the
 * list its state says; the totals must then add up to the arena. Counts alone could hide a
 * leak offset by a double count; this cannot. */
#include <stdarg.h>
#include <stdio.h>
#include "mm/internal.h"

struct census {
	unsigned long pages[RSV_PAGE_ALLOC + 1];
	unsigned long heads[RSV_PAGE_ALLOC + 1];
};

#define FAIL(sys, ...) (rsv__set_error((sys), __VA_ARGS__), -EUCLEAN)

static int walk_blocks(struct rsv_system *sys, struct census *c)
{
	unsigned long pfn = 0;

	while (pfn < sys->nr_pages) {
		const struct rsv_page *p = &sys->memmap[pfn];
		unsigned long size = 1UL << p->order;
		unsigned state = rsv__page_state(p);

		if (state == RSV_PAGE_TAIL || state > RSV_PAGE_ALLOC)
			return FAIL(sys, "page %lu: state %u where a block should start", pfn,
				    state);
		if (p->order > RSV_MAX_ORDER || (pfn & (size - 1)) || pfn + size > sys->nr_pages)
			return FAIL(sys, "page %lu: order %u block is misaligned or overruns", pfn,
				    p->order);
		for (unsigned long i = 1; i < size; i++)
			if (rsv__page_state(&sys->memmap[pfn + i]) != RSV_PAGE_TAIL)
				return FAIL(sys, "page %lu: inside the order-%u block at %lu but "
						 "in state %u",
					    pfn + i, p->order, pfn,
					    rsv__page_state(&sys->memmap[pfn + i]));
		c->pages[state] += size;
		c->heads[state]++;
		pfn += size;
	}
	return 0;
}

/* Walks one list of blocks that must all be in @state at @order; counts blocks and pages. */
static int walk_list(struct rsv_system *sys, const struct rsv_pfn_list *l, unsigned state,
		     unsigned order, uint32_t owner, unsigned long *blocks, unsigned long *pages)
{
	uint32_t prev = RSV_NIL;

	for (uint32_t pfn = l->head; pfn != RSV_NIL; pfn = sys->memmap[pfn].next) {
		const struct rsv_page *p;

		if (pfn >= sys->nr_pages || *blocks > sys->nr_pages)
			return FAIL(sys, "free list of order %u is corrupt near page %u", order,
				    pfn);
		p = &sys->memmap[pfn];
		if (rsv__page_state(p) != state || p->order != order || p->prev != prev)
			return FAIL(sys, "page %u on an order-%u %s list has state %u order %u",
				    pfn, order, state == RSV_PAGE_BUDDY ? "buddy" : "task-cache",
				    rsv__page_state(p), p->order);
		if (state == RSV_PAGE_PCP && p->owner != owner)
			return FAIL(sys, "page %u is in task %u's cache but owned by %u", pfn,
				    owner, p->owner);
		(*blocks)++;
		*pages += 1UL << order;
		prev = pfn;
	}
	if (l->tail != prev)
		return FAIL(sys, "an order-%u list ends at page %u but its tail says %u", order,
			    prev, l->tail);
	return 0;
}

static int check_buddy(struct rsv_system *sys, const struct census *c)
{
	struct rsv_zone *z = &sys->zone;
	unsigned long blocks = 0, pages = 0;

	for (unsigned o = 0; o < RSV_NR_ORDERS; o++) {
		unsigned long before = blocks;
		int err = walk_list(sys, &z->free_area[o].list, RSV_PAGE_BUDDY, o, 0, &blocks,
				    &pages);

		if (err)
			return err;
		if (blocks - before != atomic_load(&z->free_area[o].nr_free))
			return FAIL(sys, "order %u: %lu blocks listed, nr_free says %lu", o,
				    blocks - before, atomic_load(&z->free_area[o].nr_free));
	}
	if (blocks != c->heads[RSV_PAGE_BUDDY] || pages != c->pages[RSV_PAGE_BUDDY])
		return FAIL(sys, "%lu free blocks in the descriptors, %lu on the buddy lists",
			    c->heads[RSV_PAGE_BUDDY], blocks);
	if ((long)pages != rsv__zone_free(z))
		return FAIL(sys, "buddy holds %lu pages, NR_FREE_PAGES says %ld", pages,
			    rsv__zone_free(z));
	/* Two free buddies of one order must have merged. */
	for (unsigned long pfn = 0; pfn < sys->nr_pages; pfn += 1UL << sys->memmap[pfn].order) {
		const struct rsv_page *p = &sys->memmap[pfn];
		unsigned long buddy = pfn ^ (1UL << p->order);

		if (rsv__page_state(p) == RSV_PAGE_BUDDY && p->order < RSV_MAX_ORDER &&
		    buddy < sys->nr_pages &&
		    rsv__page_state(&sys->memmap[buddy]) == RSV_PAGE_BUDDY &&
		    sys->memmap[buddy].order == p->order)
			return FAIL(sys, "free buddies %lu and %lu of order %u were not merged",
				    pfn, buddy, p->order);
	}
	return 0;
}

static int check_pcp(struct rsv_system *sys, const struct census *c)
{
	unsigned long blocks = 0, pages = 0;
	struct rsv_list *pos;

	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);
		unsigned long tpages = 0;

		for (unsigned o = 0; o <= RSV_PCP_MAX_ORDER; o++) {
			int err = walk_list(sys, &t->pcp.lists[o], RSV_PAGE_PCP, o, t->id, &blocks,
					    &tpages);
			if (err)
				return err;
		}
		if ((long)tpages != atomic_load(&t->pcp.count))
			return FAIL(sys, "task \"%s\" caches %lu pages, its count says %d", t->name,
				    tpages, atomic_load(&t->pcp.count));
		pages += tpages;
	}
	if (blocks != c->heads[RSV_PAGE_PCP] || pages != c->pages[RSV_PAGE_PCP])
		return FAIL(sys, "%lu cached blocks in the descriptors, %lu in task caches",
			    c->heads[RSV_PAGE_PCP], blocks);
	return 0;
}

static int check_locked(struct rsv_system *sys, unsigned flags)
{
	struct census c = { { 0 }, { 0 } };
	unsigned long total;
	int err;

	if ((err = walk_blocks(sys, &c)) || (err = check_buddy(sys, &c)) ||
	    (err = check_pcp(sys, &c)))
		return err;
	total = c.pages[RSV_PAGE_BUDDY] + c.pages[RSV_PAGE_PCP] + c.pages[RSV_PAGE_ALLOC];
	if (total != sys->nr_pages)
		return FAIL(sys, "free %lu + cached %lu + allocated %lu != %lu pages",
			    c.pages[RSV_PAGE_BUDDY], c.pages[RSV_PAGE_PCP], c.pages[RSV_PAGE_ALLOC],
			    sys->nr_pages);
	if ((flags & RSV_CHECK_WHOLE) && c.pages[RSV_PAGE_BUDDY] != sys->nr_pages)
		return FAIL(sys, "arena not whole: %lu pages still allocated, %lu in task caches",
			    c.pages[RSV_PAGE_ALLOC], c.pages[RSV_PAGE_PCP]);
	return 0;
}

int rsv_system_check(struct rsv_system *sys, unsigned flags)
{
	int err;

	/* Lock order: tasks list, each task cache, zone, as everywhere else. */
	rsv_spin_lock(&sys->tasks_lock);
	rsv__pcp_freeze_all(sys);
	rsv_spin_lock(&sys->zone.lock);
	err = check_locked(sys, flags);
	rsv_spin_unlock(&sys->zone.lock);
	rsv__pcp_thaw_all(sys);
	rsv_spin_unlock(&sys->tasks_lock);
	if (!err)
		err = sys->reclaim->check(sys);
	return err ? err : sys->pool->check(sys);
}
