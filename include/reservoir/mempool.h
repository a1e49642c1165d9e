/* reservoir/mempool.h: memory pools that guarantee forward progress (the kernel's mempool).
 *
 * A pool keeps min_nr preallocated elements. An allocation tries the backing allocator first
 * (cheap, and it leaves the elements for when they are needed), then the pool, then waits for
 * an element to come back: a caller that may block never gets NULL, under every policy. A
 * caller that may not block gets NULL only when both the backing allocator and the pool are
 * empty. How the backing allocator is asked (which of the zones' reserves it may touch,
 * whether it may reclaim) is policy `mempool`, one per position of the seed threads.
 *
 * The contract (Weiner, 2016): between allocating an element and freeing it, its holder must
 * not wait for another element of the same pool, nor for anything a task waiting on the pool
 * may hold. Every call is made by a task of the pool's system.
 *
 * Context: the calls that take elements may sleep when their gfp allows it (never under a
 * spinlock), and take the pool's spinlock inside; freeing never sleeps and may be called from
 * an I/O completion. Creation preallocates with GFP_KERNEL and may sleep. Failures return
 * -errno or NULL with errno; misuse (a foreign element, a double free) is named and counted. */
#ifndef RESERVOIR_MEMPOOL_H
#define RESERVOIR_MEMPOOL_H

#include "defs.h"
#include "gfp.h"
#include "sync.h"

struct rsv_system;
struct rsv_kmem_cache;

typedef void *(*rsv_mempool_alloc_t)(rsv_gfp_t gfp, void *pool_data);
typedef void (*rsv_mempool_free_t)(void *element, void *pool_data);

struct rsv_mempool_stats {
	uint64_t from_backing;     /* allocations the backing allocator served */
	uint64_t from_pool;        /* allocations the pool's elements served */
	uint64_t waits, wait_ns;   /* sleeps for an element to come back, and their length */
	uint64_t direct_reclaims;  /* backing allocations that entered direct reclaim */
	uint64_t reclaim_with_elements; /* ...of which began while the pool had elements */
	uint64_t reserves_granted; /* backing allocations served below the min watermark */
	uint64_t returned_to_pool; /* frees that refilled the pool */
	long low_water;            /* the fewest elements the pool has held */
	long free_after_grant;     /* the fewest free pages one of those grants left; -1: none */
};

/* The fields mempool_t has in the kernel, which kernel-style code may read; the library's own
 * bookkeeping (counts per task, statistics, its name and system) sits behind an opaque area
 * of fixed size, so that it can change without changing this struct. Embed one and call
 * rsv_mempool_init(), as with mempool_init(), or let rsv_mempool_create() allocate it. */
#define RSV_MEMPOOL_PRIVATE_BYTES 256

struct rsv_mempool {
	struct rsv_spinlock lock;
	int min_nr;
	_Atomic int curr_nr;
	void **elements;
	void *pool_data;
	rsv_mempool_alloc_t alloc;
	rsv_mempool_free_t free;
	struct rsv_waitqueue wait;
	union {
		unsigned char bytes[RSV_MEMPOOL_PRIVATE_BYTES];
		uint64_t align;
	} rsv__private;
};

#define RSV_MEMPOOL_MAX_MIN_NR (1 << 20)

/* mempool_init(), for a pool of @sys: @min_nr 0..RSV_MEMPOOL_MAX_MIN_NR elements
 * preallocated with GFP_KERNEL (a zero-minimum pool keeps one) by the calling task, which must
 * be one of @sys. 0, -EINVAL (bad arguments, another system's task or slab cache), -EPERM
 * (not a task) or -ENOMEM. As every object of a system (caches, mappings, devices,
 * reservations), a pool names its system; allocating and freeing use the calling task's. */
RSV_API int rsv_mempool_init(struct rsv_mempool *pool, struct rsv_system *sys, int min_nr,
			     rsv_mempool_alloc_t alloc, rsv_mempool_free_t free, void *pool_data);
/* Frees the pool's elements. A zeroed pool is fine. Elements still out are a misuse (named). */
RSV_API void rsv_mempool_exit(struct rsv_mempool *pool);
RSV_API struct rsv_mempool *rsv_mempool_create(struct rsv_system *sys, int min_nr,
					       rsv_mempool_alloc_t alloc, rsv_mempool_free_t free,
					       void *pool_data);
RSV_API void rsv_mempool_destroy(struct rsv_mempool *pool); /* NULL is a no-op */
/* Names @pool in reports and statistics (copied; cut to the report's width). Any thread. */
RSV_API void rsv_mempool_set_name(struct rsv_mempool *pool, const char *name);
/* Shrinking frees the surplus; growing refills best-effort (later frees top it up). 0,
 * -EINVAL for a bad size, -EBUSY below the number of elements out (the pool is unchanged). */
RSV_API int rsv_mempool_resize(struct rsv_mempool *pool, int new_min_nr);

/* mempool_alloc(): an element, from the backing allocator or the pool, under policy
 * `mempool`. With a blocking @gfp (__GFP_DIRECT_RECLAIM) it never returns NULL: it waits for an
 * element to be freed, re-polling every 5 s; it may sleep, so no spinlock may be held. With a
 * non-blocking @gfp (GFP_NOWAIT, GFP_ATOMIC) it never sleeps and returns NULL when both are
 * empty. Called by a task of the pool's system; an invalid @gfp is a misuse (NULL, EINVAL). */
RSV_API void *rsv_mempool_alloc(struct rsv_mempool *pool, rsv_gfp_t gfp);
/* From the pool's elements only, never sleeping: NULL if there are none. */
RSV_API void *rsv_mempool_alloc_preallocated(struct rsv_mempool *pool);
/* Fills the NULL slots of @elems[0..count), count <= min_nr; may sleep, never fails: when
 * the backing allocator fails it takes every missing element from the pool at once, so
 * tasks each holding part of a set cannot deadlock. Returns @count. */
RSV_API unsigned rsv_mempool_alloc_bulk(struct rsv_mempool *pool, void **elems, unsigned count);
/* Refills the pool from @elems first; returns how many it kept (the rest were freed). */
RSV_API unsigned rsv_mempool_free_bulk(struct rsv_mempool *pool, void **elems, unsigned count);
/* The kernel's mempool_free_bulk(): takes all @count elements back, keeps elems[0..n) while
 * the pool is short and returns n; the caller frees elems[n..count) to the backing allocator
 * itself. A NULL or refused element (named as a misuse) ends the kept prefix. */
RSV_API unsigned rsv_mempool_keep_bulk(struct rsv_mempool *pool, void **elems, unsigned count);
RSV_API void rsv_mempool_free(void *element, struct rsv_mempool *pool); /* NULL ignored */

/* Elements in the pool now, and the pool's minimum: racy reads for statistics, any thread. */
RSV_API int rsv_mempool_curr_nr(const struct rsv_mempool *pool);
RSV_API int rsv_mempool_min_nr(const struct rsv_mempool *pool);
/* The pool's statistics so far (struct rsv_mempool_stats). Any thread; racy but never torn
 * within one field. */
RSV_API void rsv_mempool_stats(const struct rsv_mempool *pool, struct rsv_mempool_stats *out);

/* Backing allocators: a slab cache (pool_data is the cache), kmalloc (pool_data is the size
 * as a uintptr_t), pages (pool_data is the order; elements are struct rsv_page *). */
RSV_API void *rsv_mempool_alloc_slab(rsv_gfp_t gfp, void *pool_data);
RSV_API void rsv_mempool_free_slab(void *element, void *pool_data);
RSV_API void *rsv_mempool_kmalloc(rsv_gfp_t gfp, void *pool_data);
RSV_API void rsv_mempool_kfree(void *element, void *pool_data);
RSV_API void *rsv_mempool_alloc_pages(rsv_gfp_t gfp, void *pool_data);
RSV_API void rsv_mempool_free_pages(void *element, void *pool_data);
RSV_API struct rsv_mempool *rsv_mempool_create_slab_pool(struct rsv_system *sys, int min_nr,
							 struct rsv_kmem_cache *c);
RSV_API struct rsv_mempool *rsv_mempool_create_kmalloc_pool(struct rsv_system *sys, int min_nr,
							    size_t size);
RSV_API struct rsv_mempool *rsv_mempool_create_page_pool(struct rsv_system *sys, int min_nr,
							 unsigned order);

#endif
