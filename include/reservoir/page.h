/* reservoir/page.h: the page allocator: buddy blocks of 2^order pages from the arena, with
 * the kernel's watermarks, reserves and slow path. Allocations are made on behalf of the
 * calling task (which must belong to the system) under its flags and scopes.
 *
 * Context: a task of the system; allocation sleeps only when @gfp has __GFP_DIRECT_RECLAIM
 * (then no spinlock may be held), frees never sleep. A NULL page is ENOMEM, or EINVAL for a bad
 * gfp or order, named as a misuse. */
#ifndef RESERVOIR_PAGE_H
#define RESERVOIR_PAGE_H

#include "defs.h"
#include "gfp.h"

struct rsv_page;
struct rsv_system;

/* NULL with errno ENOMEM when the allocator gives up, EINVAL for a bad gfp or order, EPERM
 * when the calling thread is not a task. A __GFP_NOFAIL request never returns NULL. */
RSV_API struct rsv_page *rsv_alloc_pages(rsv_gfp_t gfp, unsigned order);
static inline struct rsv_page *rsv_alloc_page(rsv_gfp_t gfp) { return rsv_alloc_pages(gfp, 0); }
/* 0, or -EINVAL for a double free, a tail page, a wrong order or a page of another system. */
RSV_API int rsv_free_pages(struct rsv_page *page, unsigned order);
static inline int rsv_free_page(struct rsv_page *page) { return rsv_free_pages(page, 0); }

/* References, as get_page()/put_page(): an allocated block has one, its allocator's;
 * rsv_get_page() adds one, and rsv_put_page() or rsv_free_pages() drop one, the last freeing
 * the block. Only for blocks from rsv_alloc_pages() that no layer holds (not slab, kmalloc or
 * page-cache pages): anything else is a misuse, -EINVAL. rsv_page_count() is 0 for those. */
RSV_API int rsv_get_page(struct rsv_page *page);
RSV_API int rsv_put_page(struct rsv_page *page);
RSV_API int rsv_page_count(const struct rsv_page *page);

/* __get_free_pages(): the address of a block of 2^@order pages, or NULL; as rsv_alloc_pages()
 * for @gfp and context. rsv_free_pages_addr() frees it: 0, or -EINVAL (named as a misuse) for
 * an address that is not such a block's first byte. */
RSV_API void *rsv_get_free_pages(rsv_gfp_t gfp, unsigned order);
RSV_API int rsv_free_pages_addr(void *addr, unsigned order);

/* Translations within the calling task's system, as allocation and freeing are: the address
 * of @page, NULL if it is not one of its pages; the page descriptor of @addr, NULL if it is
 * not in its arena; the page number of @page, RSV_NO_PFN if it is not one of its pages. */
RSV_API void *rsv_page_address(const struct rsv_page *page);
RSV_API struct rsv_page *rsv_virt_to_page(const void *addr);
#define RSV_NO_PFN (~0ul)
/* The page's frame number in the calling task's arena, or RSV_NO_PFN for a pointer that is
 * not one of its page descriptors (or no task calling). Never sleeps. */
RSV_API unsigned long rsv_page_to_pfn(const struct rsv_page *page);

/* Returns the calling task's cached pages to the buddy allocator. */
RSV_API void rsv_drain_local_pages(void);
/* Returns every task's cached pages to the buddy allocator. */
RSV_API void rsv_drain_all_pages(struct rsv_system *sys);

#endif
