/* Private to the library: the pool layer's state (slab caches, their per-task magazines and
 * depots, kmalloc's caches) and the page-descriptor fields a slab uses. */
#ifndef RSV_POOL_INTERNAL_H
#define RSV_POOL_INTERNAL_H

#include "mm/pcp.h"
#include "reclaim/internal.h"
#include "reservoir/reserve.h"
#include "reservoir/slab.h"

/* Page flags of the pages of a slab (every page, head and tails) and of a large kmalloc
 * block (its head). The allocator's own bit is RSV_PAGE_ACCOUNTED (0x8000). */
#define RSV_PAGE_SLAB 0x4000u
#define RSV_PAGE_KMALLOC 0x2000u
#define RSV_SLAB_LIST_MASK 0x0003u /* which of the cache's lists a slab head is on */

/* A slab's head page: next/prev link it into one of the cache's lists, priv is the cache,
 * priv2 the first free object, owner the number of objects handed out of it. A tail page:
 * priv is the cache. Blocks from the buddy are aligned to their size, so an object's slab and
 * its offset in it follow from its address alone. */

struct rsv_magazine {
	struct rsv_magazine *next; /* in the depot */
	unsigned count;
	void *objs[];
};

/* One task's cache of one kmem_cache's objects: Bonwick's two magazines. The counters are
 * written by the owner only, with plain loads and stores of relaxed atomics. */
struct rsv_cpu_cache {
	struct rsv_kmem_cache *cache; /* NULL when unused or its cache went away */
	struct rsv_magazine *loaded, *prev;
	_Atomic uint64_t allocs, frees, hits;
};

struct rsv_task_slab {
	unsigned nr;
	struct rsv_cpu_cache cc[];
};

enum { SLAB_FULL, SLAB_PARTIAL, SLAB_EMPTY, NR_SLAB_LISTS };

#define RSV_SLAB_MAGIC 0x736c6162u

struct rsv_kmem_cache {
	unsigned magic;
	unsigned id;
	struct rsv_system *sys;
	char name[32];
	size_t size, stride, align;
	unsigned flags;
	void (*ctor)(void *obj);
	unsigned order, objperslab, mag_size;
	uint32_t reciprocal; /* 2^32 / stride, rounded up: offset / stride without a divide */

	struct rsv_spinlock lock; /* the slab lists and the depot */
	struct rsv_pfn_list lists[NR_SLAB_LISTS];
	unsigned long nr[NR_SLAB_LISTS];
	unsigned long inuse;     /* objects out of slabs: allocated or in magazines */
	struct rsv_magazine *depot_full, *depot_empty;
	unsigned nr_depot_full, nr_depot_empty;
	uint64_t slabs_created, slabs_freed;
	/* Counts of tasks that exited fold in here (under lock). */
	uint64_t exited_allocs, exited_frees, exited_hits;
	struct rsv_list node;
};

/* The reservations of reserve.c: the global pool, and the counts of per-thread pages. */
struct rsv_reserve_pool {
	struct rsv_spinlock lock;
	struct rsv_semaphore sem; /* one holder of the global pool at a time */
	struct rsv_list reservations;
	unsigned long nr_reservations;
	unsigned long target, nr; /* pages the pool should hold, and holds */
	struct rsv_pfn_list pages;
	unsigned long pinned;     /* pool pages plus every per-thread list */
	unsigned users;
	struct rsv_reserve_stats st;
};

/* The pool layer's state; the reservations ride along with the slab caches. */
struct rsv_slab_system {
	struct rsv_spinlock lock; /* the cache table and list */
	struct rsv_kmem_cache **by_id;
	unsigned nr_ids;
	struct rsv_list caches;
	struct rsv_kmem_cache *kmalloc[16];
	struct rsv_shrinker shrinker;
	struct rsv_reserve_pool reserve;
};

static inline struct rsv_slab_system *rsv__slab(const struct rsv_system *sys)
{
	return sys->pool_data;
}

static inline void rsv__stat_inc(_Atomic uint64_t *v)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline unsigned rsv__pflags(const struct rsv_page *p)
{
	return atomic_load_explicit(&p->flags, memory_order_relaxed);
}

/* Whether @obj is at the start of an object of @c, given that its page is one of @c's. */
static inline bool rsv__slab_obj_aligned(const struct rsv_kmem_cache *c, const void *obj)
{
	uint32_t off = (uint32_t)(((const char *)obj - c->sys->arena) &
				  (((size_t)RSV_PAGE_SIZE << c->order) - 1));
	uint32_t index = (uint32_t)(((uint64_t)off * c->reciprocal) >> 32);

	return index * c->stride == off;
}

/* slab.c */
int rsv__slab_init(struct rsv_system *sys);
void rsv__slab_exit(struct rsv_system *sys);
void rsv__slab_free_checked(struct rsv_kmem_cache *c, void *obj, const char *who);

/* slab_info.c */
int rsv__slab_check(struct rsv_system *sys);

/* reserve.c */
void rsv__reserve_init(struct rsv_system *sys);
void rsv__reserve_exit(struct rsv_system *sys);
struct rsv_page *rsv__reserve_alloc(struct rsv_task *t, rsv_gfp_t gfp, unsigned order,
				    enum rsv_reserve_when when);
void rsv__reserve_task_exit(struct rsv_task *t);
int rsv__reserve_check(struct rsv_system *sys);

/* kmalloc.c */
int rsv__kmalloc_init(struct rsv_system *sys);

#endif
