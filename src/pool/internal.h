/* Private to the library: the pool layer's state (slab caches, their per-task magazines and
 * depots, kmalloc's caches) and the page-descriptor fields a slab uses. */
#ifndef RSV_POOL_INTERNAL_H
#define RSV_POOL_INTERNAL_H

#include <string.h>
#include "mm/pcp.h"
#include "reservoir/mempool.h"
#include "reservoir/reservation.h"
#include "reservoir/slab.h"

/* A slab's pages carry RSV_PAGE_SLAB and its cache (page->slab_cache); its head page is
 * linked by next/prev into one of the cache's lists and holds the free list and the count of
 * objects handed out (page->freelist, page->inuse). Blocks from the buddy are aligned to their
 * size, so an object's slab and its offset in it follow from its address alone. */

struct rsv_magazine {
	struct rsv_magazine *next; /* in the depot */
	unsigned count;
	void *objs[];
};

/* One task's cache of one kmem_cache's objects: Bonwick's two magazines. The counters are
 * written by the owner only, with plain loads and stores of relaxed atomics. */
struct rsv_task_cache {
	struct rsv_kmem_cache *cache; /* NULL when unused or its cache went away */
	struct rsv_magazine *loaded, *prev;
	_Atomic uint64_t allocs, frees, misses; /* misses: refills from slabs; the rest hit */
};

struct rsv_task_caches {
	unsigned nr;
	/* kfree()'s guess at the cache of the next object it frees: the last one's. */
	struct rsv_kmem_cache *kfree_guess;
	struct rsv_task_cache tc[];
};

enum slab_list { SLAB_FULL, SLAB_PARTIAL, SLAB_EMPTY, NR_SLAB_LISTS };
_Static_assert(NR_SLAB_LISTS - 1 <= RSV_SLAB_LIST_MASK >> RSV_SLAB_LIST_SHIFT,
	       "a slab list number must fit its page-flag field");

#define RSV_SLAB_MAGIC 0x736c6162u

/* Debug and hardened builds poison every cache without a constructor (rsv_kmem_cache_create()),
 * kmalloc's included. */
#if defined(RSV_DEBUG) || defined(RSV_HARDENED)
#define RSV_SLAB_POISON_ALL true
#else
#define RSV_SLAB_POISON_ALL false
#endif

struct rsv_kmem_cache {
	unsigned magic;
	unsigned id;
	struct rsv_system *sys;
	char name[32];
	/* The system's arena, copied for the free path's checks: one cache line fewer. */
	const char *arena;
	size_t arena_bytes;
	struct rsv_page *memmap;
	size_t size, stride, align;
	unsigned flags;
	/* A free object's link to the next on its slab's free list lives link_off bytes in (0;
	 * past the object in a cache with a constructor, which owns every byte of its objects),
	 * stored encoded with link_key. key_off, when not 0, is where a free object holds
	 * free_key, the mark that sends a second free of it to the slow path (slab.c). */
	uint32_t link_off, key_off;
	uintptr_t link_key, free_key;
	void (*ctor)(void *obj);
	unsigned order, objperslab, mag_size;
	uint32_t reciprocal; /* 2^32 / stride, rounded up: offset / stride without a divide */
	uint32_t slab_mask;  /* bytes in a slab, less one */

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

/* The reservations of reservation.c: the global pool, and the counts of per-thread pages. */
struct rsv_reservation_pool {
	struct rsv_spinlock lock;
	struct rsv_semaphore sem; /* one holder of the global pool at a time */
	struct rsv_list reservations;
	unsigned long nr_reservations;
	unsigned long target, nr; /* pages the pool should hold, and holds */
	struct rsv_pfn_list pages;
	unsigned long pinned;     /* pool pages plus every per-thread list */
	unsigned users;
	struct rsv_reservation_stats st;
};

/* A mempool's bookkeeping, in the opaque area of struct rsv_mempool (the public header keeps
 * only mempool_t's own fields). */
struct rsv_mempool_private {
	unsigned magic;
	struct rsv_system *sys;
	size_t elem_size;      /* for poisoning in debug builds; 0 when unknown */
	unsigned char backing; /* which of the library's allocators backs it, if any */
	char name[32];
	/* Elements out and backing hits are counted per task (pool/pool_counts.c) under
	 * (id, serial); these take what a task without a slot does. */
	unsigned id;
	uint64_t serial;
	_Atomic long outstanding;
	_Atomic uint64_t st_backing, st_pool, st_waits, st_wait_ns, st_reclaims, st_reclaim_with,
		st_grants, st_returned;
	_Atomic long low_water;
	_Atomic long grant_free_low; /* LONG_MAX until a grant below min */
};

_Static_assert(sizeof(struct rsv_mempool_private) <= RSV_MEMPOOL_PRIVATE_BYTES,
	       "a mempool's bookkeeping must fit the public struct's opaque area");
_Static_assert(_Alignof(struct rsv_mempool_private) <= _Alignof(uint64_t),
	       "the opaque area is aligned for uint64_t only");

static inline struct rsv_mempool_private *rsv__mp_mut(struct rsv_mempool *pool)
{
	return (struct rsv_mempool_private *)pool->rsv__private.bytes;
}

static inline const struct rsv_mempool_private *rsv__mp_const(const struct rsv_mempool *pool)
{
	return (const struct rsv_mempool_private *)pool->rsv__private.bytes;
}

/* The bookkeeping of @pool, const if @pool is. */
#define rsv__mp(pool)                                                                              \
	_Generic((pool), const struct rsv_mempool * : rsv__mp_const, default : rsv__mp_mut)(pool)

/* One task's counts for one mempool, written by that task alone with plain (relaxed) loads
 * and stores, and summed by readers: a mempool's fast path then writes no shared line. A
 * slot belongs to the pool whose serial it holds; serials are never reused, so a slot left
 * by a destroyed pool never matches. */
struct rsv_pool_slot {
	_Atomic uint64_t serial;
	_Atomic long out;         /* elements taken, less elements given back */
	_Atomic uint64_t backing; /* allocations the backing allocator served */
	void *last_freed;         /* the fresh double free a slot sees cheaply */
};

#define RSV_POOL_SLOTS_PER_CHUNK 64u
#define RSV_POOL_CHUNKS 256u
#define RSV_POOL_MAX_IDS (RSV_POOL_SLOTS_PER_CHUNK * RSV_POOL_CHUNKS)

/* Chunks are allocated on first use and never move, so readers may walk them. */
struct rsv_task_pools {
	_Atomic(struct rsv_pool_slot *) chunk[RSV_POOL_CHUNKS];
};

/* The pool layer's state, one per system (assembled in init.c): the slab caches and
 * kmalloc's, the reservations, the mempool id table. */
struct rsv_pool_layer {
	struct rsv_spinlock lock; /* the cache table and list */
	struct rsv_kmem_cache **by_id;
	unsigned nr_ids;
	struct rsv_list caches;
	struct rsv_kmem_cache *kmalloc[16];
	struct rsv_shrinker shrinker;
	struct rsv_reservation_pool reservations;
	uint64_t pool_ids[RSV_POOL_CHUNKS]; /* mempool ids in use, a bit each; under lock */
	uint64_t next_pool_serial;
	/* The shrinker's last count and when it was taken: reclaim asks at every priority of
	 * every pass, and walking every cache each time dominated long reclaim loops. */
	_Atomic unsigned long count_cached;
	_Atomic uint64_t count_until; /* rsv_now() before which count_cached stands */
};

static inline struct rsv_pool_layer *rsv__pool_layer(const struct rsv_system *sys)
{
	return sys->pool_data;
}

/* Which of its cache's lists (enum slab_list) a slab's head page is on. */
static inline unsigned rsv__slab_list(const struct rsv_page *head)
{
	return (rsv__page_flags(head) & RSV_SLAB_LIST_MASK) >> RSV_SLAB_LIST_SHIFT;
}

/* Whether @obj, @off bytes into the arena, is at the start of an object of @c, given that its
 * page is one of @c's. Blocks from the buddy are aligned to their size within the arena. */
static inline bool rsv__slab_off_aligned(const struct rsv_kmem_cache *c, size_t off)
{
	uint32_t in_slab = (uint32_t)(off & c->slab_mask);
	uint32_t index = (uint32_t)(((uint64_t)in_slab * c->reciprocal) >> 32);

	return index * c->stride == in_slab;
}

static inline bool rsv__slab_obj_aligned(const struct rsv_kmem_cache *c, const void *obj)
{
	return rsv__slab_off_aligned(c, (size_t)((const char *)obj - c->arena));
}

/* Whether @obj is an object of @c, from its address alone: in the arena, on a page of @c, at
 * an object boundary. */
static inline bool rsv__slab_own_object(const struct rsv_kmem_cache *c, const void *obj)
{
	size_t off = (size_t)((const char *)obj - c->arena);

	return rsv_likely(off < c->arena_bytes) &&
	       rsv_likely(c->memmap[off >> RSV_PAGE_SHIFT].slab_cache == c) &&
	       rsv_likely(rsv__slab_off_aligned(c, off));
}

/* Where the caller's cache of cache @id would be, or NULL: only its address. The array is
 * the owner's alone (only it grows or frees it), but a drainer empties the entries, so their
 * fields are read inside the per-task section. */
static inline struct rsv_task_cache *rsv__task_cache_slot(struct rsv_task *t, unsigned id)
{
	struct rsv_task_caches *ts = t->slab;

	return rsv_likely(ts && id < ts->nr) ? &ts->tc[id] : NULL;
}

/* Inside the section: the caller's cache of @c, or NULL. */
static inline struct rsv_task_cache *rsv__task_cache(struct rsv_task *t,
						   const struct rsv_kmem_cache *c)
{
	struct rsv_task_caches *ts = t->slab;

	if (rsv_likely(ts && c->id < ts->nr && ts->tc[c->id].cache == c))
		return &ts->tc[c->id];
	return NULL;
}

/* Poisoned caches (debug and hardened builds): a free object holds POISON_FREE in every
 * word, but the first where it is on a slab's free list. One handed out keeps that poison (a
 * read before the first write shows it, as in SLUB) except in its second and last words,
 * which hold POISON_INUSE until its user writes them: the last word takes in the padding,
 * which no user writes, so that a free object is told from one in use without filling the
 * object twice. Strides are whole words, objects word-aligned. */
#define POISON_FREE 0x6b
#define POISON_INUSE 0x5a
#define POISON_WORD(b) (0x0101010101010101ull * (b))

static inline bool rsv__slab_poison_intact(const struct rsv_kmem_cache *c, const void *obj,
					   size_t from)
{
	const uint64_t *w = obj;

	for (size_t i = from / 8; i < c->stride / 8; i++)
		if (w[i] != POISON_WORD(POISON_FREE))
			return false;
	return true;
}

void rsv__slab_poison_broken(struct rsv_kmem_cache *c, void *obj);

/* The free mark (glibc's tcache key has the idea): a free object of a cache with a key_off
 * holds free_key there, and one handed out has it cleared, so that a free which finds it is
 * very likely a second free and goes to the slow path, which looks for the object among the
 * free ones before it says so (rsv__slab_obj_is_free). One load and one store per free, one
 * store per allocation, in a line the caller is about to touch anyway. */
static inline bool rsv__slab_key_is_set(const struct rsv_kmem_cache *c, const void *obj)
{
	uintptr_t v;

	if (!c->key_off)
		return false;
	memcpy(&v, (const char *)obj + c->key_off, sizeof(v));
	return v == c->free_key;
}

static inline void rsv__slab_key_set(const struct rsv_kmem_cache *c, void *obj)
{
	if (c->key_off)
		memcpy((char *)obj + c->key_off, &c->free_key, sizeof(c->free_key));
}

static inline void rsv__slab_key_clear(const struct rsv_kmem_cache *c, void *obj)
{
	uintptr_t zero = 0;

	if (c->key_off)
		memcpy((char *)obj + c->key_off, &zero, sizeof(zero));
}

/* Checks a free object's poison as it is handed out (a write after free is reported) and
 * marks it in use. The check reads every word without a branch: it is the common case. */
static inline void rsv__slab_poison_take(struct rsv_kmem_cache *c, void *obj, size_t from)
{
	uint64_t *w = obj, diff = 0;
	size_t n = c->stride / 8;

	for (size_t i = from / 8; i < n; i++)
		diff |= w[i] ^ POISON_WORD(POISON_FREE);
	if (rsv_unlikely(diff))
		rsv__slab_poison_broken(c, obj);
	w[n - 1] = POISON_WORD(POISON_INUSE);
	if (n > 1)
		w[1] = POISON_WORD(POISON_INUSE);
}

/* The hits, shared by the slab and kmalloc entry points: a pop from (or a push onto) the
 * task's loaded magazine inside the per-task protocol's section, one counter, no atomic
 * read-modify-write. NULL or false sends the caller down its slow path, which checks
 * everything. The caller has checked @t and @c, and for a free that @obj is @c's.
 *
 * Every field of the task's cache is read inside the section: a drainer (a shrink, a
 * destroy) may have emptied it, freed its magazines and zeroed it just before, and the
 * section's entry is what orders the owner after that (a hit that read the loaded magazine
 * first pushed into freed memory: regress/free_pushed_into_a_magazine_a_drainer_had_freed).
 * An emptied cache no longer names @c. */
/* The hit on @tc, the slot of @c's objects. */
static inline void *rsv__slab_alloc_hit_cc(struct rsv_task *t, struct rsv_task_cache *tc,
					   const struct rsv_kmem_cache *c)
{
	struct rsv_magazine *m;
	void *obj = NULL;

	if (rsv_unlikely(!rsv__pcp_enter(t->sys, &t->pcp)))
		return NULL;
	m = tc->loaded;
	if (rsv_likely(tc->cache == c) && rsv_likely(m->count)) {
		obj = m->objs[--m->count];
		rsv__owner_add(&tc->allocs, 1);
	}
	rsv__pcp_exit(t->sys, &t->pcp);
	return obj;
}

/* An unpoisoned cache's hit: a poisoned one's objects are checked in
 * rsv__slab_alloc_poisoned(), out of line, so that the hit saves no registers. */
static inline void *rsv__slab_alloc_hit(struct rsv_task *t, struct rsv_kmem_cache *c)
{
	struct rsv_task_cache *tc = rsv__task_cache_slot(t, c->id);
	void *obj;

	if (rsv_unlikely(!tc) || rsv_unlikely(c->flags & RSV_SLAB_POISON))
		return NULL;
	obj = rsv__slab_alloc_hit_cc(t, tc, c);
	if (rsv_likely(obj))
		rsv__slab_key_clear(c, obj);
	return obj;
}

/* The one double free a magazine sees cheaply: the object freed last. */
static inline bool rsv__magazine_last_is(const struct rsv_magazine *m, const void *obj)
{
	return m->count && m->objs[m->count - 1] == obj;
}

/* The hit of an unpoisoned cache; a poisoned one's is rsv__slab_free_poisoned(), out of
 * line: its loops and memset() would make every hit save registers. No call here, so that
 * the callers' hits, whose every other path is a tail call, save none. */
static inline bool rsv__slab_free_hit(struct rsv_task *t, struct rsv_kmem_cache *c, void *obj)
{
	struct rsv_task_cache *tc;
	struct rsv_magazine *m;
	bool done = false;

	if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
		return false;
	if (rsv_unlikely(!(tc = rsv__task_cache_slot(t, c->id))))
		return false;
	/* The free mark: likely a second free, which the slow path makes sure of. */
	if (rsv_unlikely(rsv__slab_key_is_set(c, obj)))
		return false;
	if (rsv_unlikely(!rsv__pcp_enter(t->sys, &t->pcp)))
		return false;
	m = tc->loaded;
	if (rsv_likely(tc->cache == c) && rsv_likely(m->count < c->mag_size) &&
	    rsv_likely(!rsv__magazine_last_is(m, obj))) {
		rsv__slab_key_set(c, obj);
		m->objs[m->count++] = obj;
		rsv__owner_add(&tc->frees, 1);
		done = true;
	}
	rsv__pcp_exit(t->sys, &t->pcp);
	return done;
}

/* init.c */
int rsv__pool_init(struct rsv_system *sys);
void rsv__pool_exit(struct rsv_system *sys);

/* slab.c */
void rsv__slab_exit(struct rsv_system *sys); /* the caches' C-heap parts, at teardown */
void rsv__slab_task_exit(struct rsv_task *t);
unsigned long rsv__slab_shrink_count(struct rsv_shrinker *s, struct rsv_shrink_control *sc);
unsigned long rsv__slab_shrink_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc);
/* kmem_cache_free() with its checks: 0, or -EINVAL for a free they refused (a misuse,
 * reported and counted), -EPERM without a task. */
int rsv__slab_free_checked(struct rsv_kmem_cache *c, void *obj, const char *who);
/* What follows an allocation that the hit did not serve, or a free it did not take, in the
 * caller's tail (so that the hit saves no registers): every check and the slow path. @t
 * may be NULL. */
void *rsv__slab_alloc_rest(struct rsv_kmem_cache *c, struct rsv_task *t, rsv_gfp_t gfp);
int rsv__slab_free_rest(struct rsv_kmem_cache *c, struct rsv_task *t, void *obj, const char *who);
/* A poisoned cache's allocation and free, in the caller's tail instead of the hit: the hit
 * with its poison checks, else the slow path. The caller has checked @t, @c, and for the
 * allocation @gfp as the hit does, for the free that @obj is an object of @c. */
void *rsv__slab_alloc_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t, rsv_gfp_t gfp);
void *rsv__slab_alloc_hit_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t); /* or NULL */
int rsv__slab_free_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t, void *obj,
			    const char *who);
/* Whether @obj, an object of @c, is free: on its slab's free list or in a magazine, the
 * depot's or any task's. Every task's caches frozen (one membarrier()) and the cache lock
 * held while it looks, so that no object moves between those places; what it cannot see is
 * an object on its way between them outside both (a refill's batch, an exiting task's
 * magazines being emptied). For the frees and ksize()s that looks_free() makes suspect. */
bool rsv__slab_obj_is_free(struct rsv_kmem_cache *c, const void *obj);
/* 0 if @obj is an object of @c handed out, else -EINVAL and a misuse naming @who. */
int rsv__slab_check_live(struct rsv_kmem_cache *c, const void *obj, const char *who);
/* kfree(), the same way, its misuse reports naming @who. */
int rsv__kfree(const void *p, const char *who);
/* ksize(): 0, and a misuse naming @who, for what is not a kmalloc block handed out; with
 * @who NULL only the size of what looks like one, no report (for checks of their own). */
size_t rsv__ksize_checked(const void *p, const char *who);

/* slab_info.c */
int rsv__slab_check(struct rsv_system *sys);

/* pool_counts.c */
struct rsv_pool_slot *rsv__pool_slot_slow(struct rsv_task *t, struct rsv_mempool *pool);
void rsv__pool_register(struct rsv_mempool *pool);
void rsv__pool_unregister(struct rsv_mempool *pool);
long rsv__pool_outstanding(struct rsv_mempool *pool);
/* slab.c: the next free object after @obj, its link decoded. */
void *rsv__slab_link_load(const struct rsv_kmem_cache *c, const void *obj);
void rsv__pool_describe_wait(const void *pool, const struct rsv_task *waiter, char *buf,
			     size_t len, struct rsv_task **holder);
uint64_t rsv__pool_backing(struct rsv_mempool *pool);
void rsv__pool_counts_free(struct rsv_task *t);

/* The calling task's slot for @pool if it has one already, else NULL; no call, for the fast
 * paths, whose other paths are all tail calls. */
static inline struct rsv_pool_slot *rsv__pool_slot_hit(struct rsv_task *t, struct rsv_mempool *pool)
{
	struct rsv_task_pools *tp = atomic_load_explicit(&t->mempools, memory_order_relaxed);
	struct rsv_pool_slot *chunk, *s;

	if (rsv_likely(tp && rsv__mp(pool)->id < RSV_POOL_MAX_IDS) &&
	    rsv_likely((chunk = atomic_load_explicit(&tp->chunk[rsv__mp(pool)->id /
								RSV_POOL_SLOTS_PER_CHUNK],
						     memory_order_relaxed)) != NULL)) {
		s = &chunk[rsv__mp(pool)->id % RSV_POOL_SLOTS_PER_CHUNK];
		if (rsv_likely(atomic_load_explicit(&s->serial, memory_order_relaxed) ==
			       rsv__mp(pool)->serial))
			return s;
	}
	return NULL;
}

/* The calling task's slot for @pool, or NULL (no memory for one, or too many pools): the
 * caller then counts in the pool's shared fields. */
static inline struct rsv_pool_slot *rsv__pool_slot(struct rsv_task *t, struct rsv_mempool *pool)
{
	struct rsv_pool_slot *s = rsv__pool_slot_hit(t, pool);

	return rsv_likely(s != NULL) ? s : rsv__pool_slot_slow(t, pool);
}

/* reservation.c */
void rsv__reservation_init(struct rsv_system *sys);
void rsv__reservation_exit(struct rsv_system *sys);
struct rsv_page *rsv__reservation_alloc(struct rsv_task *t, rsv_gfp_t gfp, unsigned order,
				    enum rsv_reservation_when when);
void rsv__reservation_task_exit(struct rsv_task *t);
int rsv__reservation_check(struct rsv_system *sys);

/* kmalloc.c */
int rsv__kmalloc_init(struct rsv_system *sys);

#endif
