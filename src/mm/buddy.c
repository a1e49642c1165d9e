/* The buddy allocator: free blocks of 2^order pages on per-order lists, split on allocation
 * and merged with their buddy on free. Page numbers are relative to the arena, so a block's
 * buddy is pfn ^ (1 << order). Callers hold the zone lock (checked), but for the layout at
 * system creation, which no one else can see yet. */
#include "common/assert.h"
#include "mm/internal.h"

static void area_push(struct rsv_system *sys, unsigned order, uint32_t pfn)
{
	struct rsv_free_area *area = &sys->zone.free_area[order];
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	rsv__set_page_state(p, RSV_PAGE_BUDDY);
	p->order = (uint8_t)order;
	rsv__pfn_list_push(sys, &area->list, pfn);
	atomic_store_explicit(&area->nr_free,
			      atomic_load_explicit(&area->nr_free, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void area_del(struct rsv_system *sys, unsigned order, uint32_t pfn)
{
	struct rsv_free_area *area = &sys->zone.free_area[order];

	rsv__pfn_list_del(sys, &area->list, pfn);
	atomic_store_explicit(&area->nr_free,
			      atomic_load_explicit(&area->nr_free, memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

static void add_free_pages(struct rsv_zone *z, long n)
{
	atomic_store_explicit(&z->nr_free_pages, rsv__zone_free(z) + n, memory_order_relaxed);
}

/* Lays the arena out as the largest naturally aligned blocks that fit. */
void rsv__buddy_init(struct rsv_system *sys)
{
	struct rsv_zone *z = &sys->zone;
	unsigned long pfn = 0;

	for (unsigned o = 0; o < RSV_NR_ORDERS; o++) {
		z->free_area[o].list = RSV_PFN_LIST_INIT;
		atomic_init(&z->free_area[o].nr_free, 0);
	}
	atomic_init(&z->nr_free_pages, 0);
	while (pfn < sys->nr_pages) {
		unsigned order = RSV_MAX_ORDER;

		while ((pfn & ((1UL << order) - 1)) || pfn + (1UL << order) > sys->nr_pages)
			order--;
		area_push(sys, order, (uint32_t)pfn);
		add_free_pages(z, 1L << order);
		pfn += 1UL << order;
	}
}

/* __rmqueue_smallest(): the smallest free block of at least @order, split down to @order
 * with the upper halves going back on the lower lists. */
struct rsv_page *rsv__rmqueue_smallest(struct rsv_system *sys, unsigned order)
{
	struct rsv_zone *z = &sys->zone;
	struct rsv_page *page;
	unsigned o = order;
	uint32_t pfn;

	rsv_assert_held(&z->lock);
	rsv_assert(order <= RSV_MAX_ORDER);
	while (o < RSV_NR_ORDERS && z->free_area[o].list.head == RSV_NIL)
		o++;
	if (o == RSV_NR_ORDERS)
		return NULL;
	pfn = z->free_area[o].list.head;
	area_del(sys, o, pfn);
	while (o > order) {
		o--;
		area_push(sys, o, pfn + (1u << o));
	}
	add_free_pages(z, -(1L << order));
	/* Relabel under the lock, as the kernel clears PageBuddy: a block that still said BUDDY
	 * after leaving the lists could be merged into by a concurrent free of its buddy. */
	page = rsv__pfn_page(sys, pfn);
	rsv__set_page_state(page, RSV_PAGE_ALLOC);
	page->order = (uint8_t)order;
	return page;
}

/* __free_one_page(): merges with the buddy while it is a free block of the same order. The
 * page that stops being a head becomes a tail again, so a stale head can never be freed. */
void rsv__free_one_page(struct rsv_system *sys, uint32_t pfn, unsigned order)
{
	rsv_assert_held(&sys->zone.lock);
	/* A naturally aligned block inside the arena, not on a free list already. */
	rsv_assert(order <= RSV_MAX_ORDER && !(pfn & ((1u << order) - 1)) &&
		   pfn + (1ul << order) <= sys->nr_pages);
	rsv_assert(rsv__page_state(rsv__pfn_page(sys, pfn)) != RSV_PAGE_BUDDY);
	add_free_pages(&sys->zone, 1L << order);
	while (order < RSV_MAX_ORDER) {
		uint32_t buddy = pfn ^ (1u << order);
		struct rsv_page *b;

		if (buddy >= sys->nr_pages)
			break;
		b = rsv__pfn_page(sys, buddy);
		if (rsv__page_state(b) != RSV_PAGE_BUDDY || b->order != order)
			break;
		area_del(sys, order, buddy);
		if (buddy < pfn) {
			rsv__set_page_state(rsv__pfn_page(sys, pfn), RSV_PAGE_TAIL);
			pfn = buddy;
		} else {
			rsv__set_page_state(b, RSV_PAGE_TAIL);
		}
		order++;
	}
	area_push(sys, order, pfn);
}

/* Wakes callers waiting for pages (__GFP_NOFAIL, the OOM path's retries); called after pages
 * reach the buddy. Only once free memory is back above the min watermark: below it a waiter
 * would fail again at once, and tasks that free a few pages in turn would keep each other
 * spinning. The waits are bounded, so a waiter that could use less still gets its turn. */
void rsv__zone_wake_waiters(struct rsv_system *sys)
{
	if (rsv_waitqueue_active(&sys->zone.free_wait) &&
	    rsv__zone_free(&sys->zone) > (long)sys->zone.wmark[RSV_WMARK_MIN])
		rsv_wake_up_all(&sys->zone.free_wait);
}
