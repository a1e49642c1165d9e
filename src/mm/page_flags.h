/* Every bit of struct rsv_page's flags word, and the layer that owns it. Each layer sets and
 * clears only its own bits, so the bits must not overlap: checked below at compile time, as
 * the kernel's page-flags layout is checked in include/linux/page-flags-layout.h. */
#ifndef RSV_MM_PAGE_FLAGS_H
#define RSV_MM_PAGE_FLAGS_H

/* mm/page_alloc.c: the block was allocated with __GFP_ACCOUNT and is charged to
 * page->owner. */
#define RSV_PAGE_ACCOUNTED 0x8000u

/* pool/: every page of a slab (head and tails), and the head of a large kmalloc block. */
#define RSV_PAGE_SLAB 0x4000u
#define RSV_PAGE_KMALLOC 0x2000u
/* pool/slab.c: which of its cache's lists a slab's head is on (enum slab_list, two bits). */
#define RSV_SLAB_LIST_SHIFT 8
#define RSV_SLAB_LIST_MASK (0x3u << RSV_SLAB_LIST_SHIFT)

/* reclaim/: a page of a mapping (the page cache or an anonymous mapping). Changed with
 * atomic bit operations: the owner dirties and touches while reclaim scans. */
#define PG_lru 0x01u        /* on an LRU list (else isolated by a reclaimer) */
#define PG_anon 0x02u
#define PG_dirty 0x04u
#define PG_writeback 0x08u
#define PG_referenced 0x10u
#define PG_free_on_putback 0x20u /* swap-out finished while isolated: free, do not put back */
#define PG_mapping 0x40u    /* page->mapping is set */
#define PG_reclaim 0x80u    /* reclaim met it under writeback: meeting it again means pages
			     * cycle through the LRU faster than they are written */

#define RSV_PAGE_FLAGS_MM RSV_PAGE_ACCOUNTED
#define RSV_PAGE_FLAGS_POOL (RSV_PAGE_SLAB | RSV_PAGE_KMALLOC | RSV_SLAB_LIST_MASK)
#define RSV_PAGE_FLAGS_RECLAIM                                                                \
	(PG_lru | PG_anon | PG_dirty | PG_writeback | PG_referenced | PG_free_on_putback |   \
	 PG_mapping | PG_reclaim)

/* Within a layer, a bit named twice makes the sum of the flags exceed their OR
 * (a + b == (a | b) + (a & b)). */
_Static_assert(PG_lru + PG_anon + PG_dirty + PG_writeback + PG_referenced + PG_free_on_putback +
		       PG_mapping + PG_reclaim == RSV_PAGE_FLAGS_RECLAIM,
	       "a reclaim page flag is defined twice");
_Static_assert(RSV_PAGE_SLAB + RSV_PAGE_KMALLOC + RSV_SLAB_LIST_MASK == RSV_PAGE_FLAGS_POOL,
	       "a pool page flag is defined twice");
_Static_assert((RSV_PAGE_FLAGS_MM & RSV_PAGE_FLAGS_POOL) == 0 &&
		       (RSV_PAGE_FLAGS_MM & RSV_PAGE_FLAGS_RECLAIM) == 0 &&
		       (RSV_PAGE_FLAGS_POOL & RSV_PAGE_FLAGS_RECLAIM) == 0,
	       "two layers own the same page flag");
_Static_assert(((RSV_PAGE_FLAGS_MM | RSV_PAGE_FLAGS_POOL | RSV_PAGE_FLAGS_RECLAIM) &
		~0xffffu) == 0, "page flags must fit struct rsv_page's 16-bit word");

static inline unsigned rsv__page_flags(const struct rsv_page *p)
{
	return atomic_load_explicit(&p->flags, memory_order_relaxed);
}

static inline unsigned rsv__page_set(struct rsv_page *p, unsigned f)
{
	return atomic_fetch_or_explicit(&p->flags, (uint16_t)f, memory_order_acq_rel);
}

static inline unsigned rsv__page_clear(struct rsv_page *p, unsigned f)
{
	return atomic_fetch_and_explicit(&p->flags, (uint16_t)~f, memory_order_acq_rel);
}

#endif
