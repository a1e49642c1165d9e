/* reservoir/slab.h: object caches over the page allocator, and kmalloc.
 *
 * A cache hands out objects of one size carved from slabs (blocks of 2^order pages). Each
 * task keeps magazines of free objects per cache, so that a hit on allocation or free is a
 * few instructions with no atomic operation; full and empty magazines are exchanged with the
 * cache's depot a magazine at a time, so an object freed by another task than the one that
 * allocated it (an I/O completion) costs no lock of its own. Empty slabs go back to the page
 * allocator through the slab shrinker, or at once with rsv_kmem_cache_shrink().
 *
 * Every call is made by a task of the cache's system, in its context (gfp as for pages).
 *
 * Context: allocation as for pages (sleeps only with a blocking gfp); free never sleeps, from
 * any task of the system; creating and destroying caches may sleep and must not race with
 * their use. Misuse (a foreign or double free, a poisoned object in a hardened build) is named
 * and, by the system's misuse mode, counted or aborted. */
#ifndef RESERVOIR_SLAB_H
#define RESERVOIR_SLAB_H

#include <stdio.h>
#include "defs.h"
#include "gfp.h"

struct rsv_system;
struct rsv_kmem_cache;

#define RSV_SLAB_HWCACHE_ALIGN 0x1u /* align objects to 64 bytes */
#define RSV_SLAB_POISON 0x2u        /* fill free objects with 0x6b and check them on reuse */

#define RSV_KMALLOC_MAX_CACHE_SIZE 8192u /* larger kmalloc sizes come from pages */

/* @size 1..RSV_KMALLOC_MAX_CACHE_SIZE x 4; @align 0 (8) or a power of two up to 4096; @ctor
 * runs once on every object of a new slab. NULL and errno EINVAL on bad input. */
RSV_API struct rsv_kmem_cache *rsv_kmem_cache_create(struct rsv_system *sys, const char *name,
						     size_t size, size_t align, unsigned flags,
						     void (*ctor)(void *obj));
/* 0; -EBUSY while objects are allocated (the cache stays usable; the error names it and the
 * count); -EPERM from a thread that is not a task of the cache's system. NULL is a no-op. */
RSV_API int rsv_kmem_cache_destroy(struct rsv_kmem_cache *c);
RSV_API void *rsv_kmem_cache_alloc(struct rsv_kmem_cache *c, rsv_gfp_t gfp);
/* NULL is ignored. An object of another cache, or one already free, is a misuse. */
RSV_API void rsv_kmem_cache_free(struct rsv_kmem_cache *c, void *obj);
/* Fills @objs with @n objects, all or none: the count, or 0. */
RSV_API size_t rsv_kmem_cache_alloc_bulk(struct rsv_kmem_cache *c, rsv_gfp_t gfp, size_t n,
					 void **objs);
RSV_API void rsv_kmem_cache_free_bulk(struct rsv_kmem_cache *c, size_t n, void **objs);
/* Empties every task's magazines and the depot into the slabs and frees the empty slabs;
 * the pages freed. */
RSV_API unsigned long rsv_kmem_cache_shrink(struct rsv_kmem_cache *c);
/* The same for every cache of @sys, kmalloc's included. */
RSV_API unsigned long rsv_slab_shrink_all(struct rsv_system *sys);
RSV_API size_t rsv_kmem_cache_size(const struct rsv_kmem_cache *c); /* the object size */
/* The cache's name as given at creation. Any thread. */
RSV_API const char *rsv_kmem_cache_name(const struct rsv_kmem_cache *c);

/* /proc/slabinfo's columns, plus the fast-path counters. */
struct rsv_slabinfo {
	const char *name;
	unsigned long active_objs; /* allocated, or cached in magazines and the depot */
	unsigned long num_objs;
	size_t objsize;            /* the stride: size rounded up to the alignment */
	unsigned objperslab, pagesperslab;
	unsigned long active_slabs, num_slabs;
	unsigned long allocated;   /* handed out and not freed */
	uint64_t allocs, frees, magazine_hits, slabs_created, slabs_freed;
};
/* The cache's counters and sizes (what /proc/slabinfo shows), summed over its depot and every
 * task's magazines: call it at a quiescent point for exact figures. */
RSV_API void rsv_kmem_cache_info(struct rsv_kmem_cache *c, struct rsv_slabinfo *out);
/* slabinfo-like lines for every cache with slabs (every cache if @all). */
RSV_API void rsv_slabinfo_print(struct rsv_system *sys, FILE *out, bool all);

/* The largest kmalloc: one block of the highest order (the kernel's KMALLOC_MAX_SIZE). */
#define RSV_KMALLOC_MAX_SIZE ((size_t)RSV_PAGE_SIZE << RSV_MAX_ORDER)

/* kmalloc: size classes 8, 16, 32, 64, 96, 128, 192, 256, 512, 1k, 2k, 4k, 8k; larger sizes
 * are whole pages of the smallest order that fits. Size 0 returns NULL (errno EINVAL); a size
 * above RSV_KMALLOC_MAX_SIZE is a misuse (NULL, errno EINVAL), however near SIZE_MAX. */
RSV_API void *rsv_kmalloc(size_t size, rsv_gfp_t gfp);
RSV_API void *rsv_kzalloc(size_t size, rsv_gfp_t gfp);
/* kmalloc_array(), kcalloc(): @n objects of @size; a product that overflows size_t returns
 * NULL with errno EOVERFLOW before anything is allocated. */
RSV_API void *rsv_kmalloc_array(size_t n, size_t size, rsv_gfp_t gfp);
RSV_API void *rsv_kcalloc(size_t n, size_t size, rsv_gfp_t gfp);
/* NULL is ignored; a pointer kmalloc did not return is a misuse. */
RSV_API void rsv_kfree(const void *p);
/* The usable size of a block kmalloc returned; 0, and a misuse, for any other pointer or a
 * block freed already (a use after free, seen as a free would see a double free). */
RSV_API size_t rsv_ksize(const void *p);
/* The cache that serves @size (NULL above RSV_KMALLOC_MAX_CACHE_SIZE). */
RSV_API struct rsv_kmem_cache *rsv_kmalloc_cache(struct rsv_system *sys, size_t size);

#endif
