/* reservoir/kernel.h: the kernel's spellings, opt-in, so that a function written for Linux
 * 6.12 or later compiles unchanged against reservoir.
 *
 * Include it last, in files that want it; it claims the kernel's short global names. Every
 * name here behaves as the same name does in the kernel (argument types and count, units,
 * ownership of memory, return value); a name whose meaning would differ is left undefined, so
 * that a port fails to compile instead of misbehaving. Calls that name no system act for the
 * calling task's. `struct page` is an incomplete type naming the same object as struct
 * rsv_page; page_to_rsv()/rsv_to_page() convert at the boundary. Kernel code that sleeps must
 * run in a task, as everywhere. docs/kernel-h.md lists every name against the kernel header it
 * comes from, and what is left out and why. */
#ifndef RESERVOIR_KERNEL_H
#define RESERVOIR_KERNEL_H

#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../reservoir.h"
#include "lockdep.h"

/* ---- types ---- */

typedef rsv_gfp_t gfp_t;
typedef struct rsv_mempool mempool_t;
/* Function types, as the kernel's: a mempool_alloc_t * is what rsv_mempool_alloc_t is. */
typedef void *(mempool_alloc_t)(gfp_t gfp_mask, void *pool_data);
typedef void(mempool_free_t)(void *element, void *pool_data);
typedef struct rsv_spinlock spinlock_t;
#define kmem_cache rsv_kmem_cache

struct page; /* the kernel's name for a struct rsv_page */

static inline struct rsv_page *page_to_rsv(struct page *p) { return (struct rsv_page *)p; }
static inline struct page *rsv_to_page(struct rsv_page *p) { return (struct page *)p; }

/* ---- gfp and task flags ---- */

#define __GFP_MOVABLE RSV___GFP_MOVABLE
#define __GFP_RECLAIMABLE RSV___GFP_RECLAIMABLE
#define __GFP_HIGH RSV___GFP_HIGH
#define __GFP_IO RSV___GFP_IO
#define __GFP_FS RSV___GFP_FS
#define __GFP_ZERO RSV___GFP_ZERO
#define __GFP_DIRECT_RECLAIM RSV___GFP_DIRECT_RECLAIM
#define __GFP_KSWAPD_RECLAIM RSV___GFP_KSWAPD_RECLAIM
#define __GFP_RECLAIM RSV___GFP_RECLAIM
#define __GFP_NOWARN RSV___GFP_NOWARN
#define __GFP_RETRY_MAYFAIL RSV___GFP_RETRY_MAYFAIL
#define __GFP_NOFAIL RSV___GFP_NOFAIL
#define __GFP_NORETRY RSV___GFP_NORETRY
#define __GFP_MEMALLOC RSV___GFP_MEMALLOC
#define __GFP_NOMEMALLOC RSV___GFP_NOMEMALLOC
#define __GFP_ACCOUNT RSV___GFP_ACCOUNT
#define __GFP_NOLOCKDEP RSV___GFP_NOLOCKDEP
#define GFP_KERNEL RSV_GFP_KERNEL
#define GFP_NOFS RSV_GFP_NOFS
#define GFP_NOIO RSV_GFP_NOIO
#define GFP_ATOMIC RSV_GFP_ATOMIC
#define GFP_NOWAIT RSV_GFP_NOWAIT
#define GFP_USER RSV_GFP_USER
#define GFP_KERNEL_ACCOUNT (RSV_GFP_KERNEL | RSV___GFP_ACCOUNT)
/* One zone, one node, no highmem, and every block is one object: these select nothing here
 * and are accepted as 0, so that code passing them keeps its meaning. */
#define __GFP_COMP 0u
#define __GFP_HIGHMEM 0u
#define __GFP_THISNODE 0u
#define __GFP_DMA 0u
#define __GFP_DMA32 0u
#define GFP_DMA __GFP_DMA
#define GFP_DMA32 __GFP_DMA32
#define GFP_HIGHUSER (GFP_USER | __GFP_HIGHMEM)
#define NUMA_NO_NODE (-1)

#define PF_WQ_WORKER RSV_PF_WQ_WORKER
#define PF_MEMALLOC RSV_PF_MEMALLOC
#define PF_KSWAPD RSV_PF_KSWAPD
#define PF_MEMALLOC_NOFS RSV_PF_MEMALLOC_NOFS
#define PF_MEMALLOC_NOIO RSV_PF_MEMALLOC_NOIO
#define PF_LOCAL_THROTTLE RSV_PF_LOCAL_THROTTLE
#define PF_LESS_THROTTLE RSV_PF_LESS_THROTTLE
#define PF_KTHREAD RSV_PF_KTHREAD
#define PF_MEMALLOC_PIN RSV_PF_MEMALLOC_PIN

#define gfpflags_allow_blocking rsv_gfpflags_allow_blocking
#define current_gfp_context rsv_current_gfp_context

/* ---- current ---- */

/* The kernel's task_struct as far as kernel code touches it directly: its PF_* flags (the
 * task writes its own, as in the kernel; `current->flags |= PF_MEMALLOC` is one atomic
 * update) and its name. The rest of the task is reservoir's, reached with task_to_rsv(). */
#define TASK_COMM_LEN RSV_TASK_COMM_LEN
struct task_struct {
	_Atomic unsigned int flags;
	char comm[TASK_COMM_LEN];
};
_Static_assert(sizeof(struct task_struct) == sizeof(struct rsv_task_head) &&
		       offsetof(struct task_struct, flags) ==
			       offsetof(struct rsv_task_head, flags) &&
		       offsetof(struct task_struct, comm) == offsetof(struct rsv_task_head, comm),
	       "struct task_struct must be laid out as struct rsv_task_head");
static inline struct rsv_task *task_to_rsv(struct task_struct *t)
{
	return (struct rsv_task *)(void *)t;
}
static inline struct task_struct *rsv_to_task(struct rsv_task *t)
{
	return (struct task_struct *)(void *)rsv_task_head(t);
}

#define current (rsv_to_task(rsv_task_current()))
/* Clears @flags in current->flags, then sets those of them that were set in @orig_flags. */
static inline void current_restore_flags(unsigned long orig_flags, unsigned long flags)
{
	current->flags &= ~(unsigned int)flags;
	current->flags |= (unsigned int)(orig_flags & flags);
}
static inline bool fatal_signal_pending(struct task_struct *t)
{
	return task_to_rsv(t) == rsv_task_current() && rsv_fatal_signal_pending();
}
static inline bool tsk_is_oom_victim(struct task_struct *t)
{
	return rsv_task_is_oom_victim(task_to_rsv(t));
}
static inline void might_alloc(gfp_t gfp)
{
	rsv_might_alloc(gfp);
}
static inline void fs_reclaim_acquire(gfp_t gfp)
{
	rsv_reclaim_acquire(gfp);
}
static inline void fs_reclaim_release(gfp_t gfp)
{
	rsv_reclaim_release(gfp);
}
#define memalloc_flags_save rsv_memalloc_flags_save
#define memalloc_flags_restore rsv_memalloc_flags_restore
#define memalloc_noio_save rsv_memalloc_noio_save
#define memalloc_noio_restore rsv_memalloc_noio_restore
#define memalloc_nofs_save rsv_memalloc_nofs_save
#define memalloc_nofs_restore rsv_memalloc_nofs_restore
#define memalloc_noreclaim_save rsv_memalloc_noreclaim_save
#define memalloc_noreclaim_restore rsv_memalloc_noreclaim_restore
#define memalloc_pin_save rsv_memalloc_pin_save
#define memalloc_pin_restore rsv_memalloc_pin_restore

/* ---- pages ---- */

#define PAGE_SIZE RSV_PAGE_SIZE
#define PAGE_SHIFT RSV_PAGE_SHIFT

static inline struct page *alloc_pages(gfp_t gfp, unsigned order)
{
	return rsv_to_page(rsv_alloc_pages(gfp, order));
}
static inline struct page *alloc_page(gfp_t gfp) { return alloc_pages(gfp, 0); }
/* One node: @nid (a node or NUMA_NO_NODE) selects nothing. */
static inline struct page *alloc_pages_node(int nid, gfp_t gfp, unsigned order)
{
	(void)nid;
	return alloc_pages(gfp, order);
}
static inline struct page *virt_to_page(const void *addr)
{
	return rsv_to_page(rsv_virt_to_page(addr));
}
static inline void __free_pages(struct page *p, unsigned order)
{
	rsv_free_pages(page_to_rsv(p), order);
}
static inline void __free_page(struct page *p) { __free_pages(p, 0); }
/* References (linux/mm.h): a block from alloc_pages() has one; get_page() adds one and
 * put_page() or __free_pages() drop one, the last freeing the whole block (every block here is
 * one object, as a compound page). Slab, kmalloc and page-cache pages keep their references
 * in their layer: get_page() on one is refused as a misuse. */
static inline void get_page(struct page *p)
{
	rsv_get_page(page_to_rsv(p));
}
static inline void put_page(struct page *p)
{
	rsv_put_page(page_to_rsv(p));
}
static inline int page_count(const struct page *p)
{
	return rsv_page_count((const struct rsv_page *)p);
}
static inline int page_ref_count(const struct page *p)
{
	return page_count(p);
}
static inline void *page_address(const struct page *p)
{
	return rsv_page_address((const struct rsv_page *)p);
}
static inline unsigned long __get_free_pages(gfp_t gfp, unsigned order)
{
	return (unsigned long)rsv_get_free_pages(gfp, order);
}
static inline unsigned long __get_free_page(gfp_t gfp) { return __get_free_pages(gfp, 0); }
static inline unsigned long get_zeroed_page(gfp_t gfp)
{
	return __get_free_pages(gfp | __GFP_ZERO, 0);
}
static inline void free_pages(unsigned long addr, unsigned order)
{
	if (addr)
		rsv_free_pages_addr((void *)addr, order);
}
static inline void free_page(unsigned long addr) { free_pages(addr, 0); }

/* ---- slab ---- */

typedef unsigned int slab_flags_t;
#define SLAB_HWCACHE_ALIGN RSV_SLAB_HWCACHE_ALIGN
#define SLAB_POISON RSV_SLAB_POISON
/* Creation failing is fatal, as the kernel's panic(). */
#define SLAB_PANIC ((slab_flags_t)0x00040000u)
/* Mean nothing here, and so 0: there is no memory cgroup to charge (SLAB_ACCOUNT), no
 * reclaimable-slab counter (SLAB_RECLAIM_ACCOUNT), and caches are never merged
 * (SLAB_NO_MERGE). SLAB_TYPESAFE_BY_RCU is not defined: there is no RCU to defer frees to. */
#define SLAB_ACCOUNT ((slab_flags_t)0)
#define SLAB_RECLAIM_ACCOUNT ((slab_flags_t)0)
#define SLAB_NO_MERGE ((slab_flags_t)0)

static inline struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
						   slab_flags_t flags, void (*ctor)(void *))
{
	struct rsv_task *t = rsv_task_current();
	struct kmem_cache *c = t ? rsv_kmem_cache_create(rsv_task_system(t), name, size, align,
							 flags & ~SLAB_PANIC, ctor)
				 : NULL;

	if (!c && (flags & SLAB_PANIC)) {
		fprintf(stderr, "kmem_cache_create: Failed to create slab '%s'. Error %d\n", name,
			t ? -errno : -EPERM);
		abort();
	}
	return c;
}
static inline void kmem_cache_destroy(struct kmem_cache *c) { (void)rsv_kmem_cache_destroy(c); }
#define kmem_cache_alloc rsv_kmem_cache_alloc
#define kmem_cache_free rsv_kmem_cache_free
static inline void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	return rsv_kmem_cache_alloc(c, gfp | __GFP_ZERO);
}
/* 0, as the kernel's; what it freed is reservoir's to count. */
static inline int kmem_cache_shrink(struct kmem_cache *c)
{
	rsv_kmem_cache_shrink(c);
	return 0;
}
/* All or nothing: @size, or 0 with nothing allocated. */
static inline int kmem_cache_alloc_bulk(struct kmem_cache *c, gfp_t gfp, size_t size, void **p)
{
	return (int)rsv_kmem_cache_alloc_bulk(c, gfp, size, p);
}
static inline void kmem_cache_free_bulk(struct kmem_cache *c, size_t size, void **p)
{
	rsv_kmem_cache_free_bulk(c, size, p);
}
#define KMEM_CACHE(s, flags)                                                                       \
	kmem_cache_create(#s, sizeof(struct s), __alignof__(struct s), (flags), NULL)

/* kmalloc(0) is ZERO_SIZE_PTR, which kfree() takes and nothing may dereference. */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)
#define KMALLOC_MAX_SIZE RSV_KMALLOC_MAX_SIZE
static inline void *kmalloc(size_t size, gfp_t gfp)
{
	return size ? rsv_kmalloc(size, gfp) : ZERO_SIZE_PTR;
}
static inline void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}
static inline void *kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return n && size ? rsv_kmalloc_array(n, size, gfp) : ZERO_SIZE_PTR;
}
static inline void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	return kmalloc_array(n, size, gfp | __GFP_ZERO);
}
static inline void kfree(const void *p)
{
	if (!ZERO_OR_NULL_PTR(p))
		rsv_kfree(p);
}
static inline size_t ksize(const void *p)
{
	return ZERO_OR_NULL_PTR(p) ? 0 : rsv_ksize(p);
}
/* In place while the block is large enough, else a new block with the old contents (the
 * rest zeroed with __GFP_ZERO), the old one freed; new_size 0 frees and gives ZERO_SIZE_PTR;
 * NULL on failure, leaving @p as it was. A @p kmalloc did not return, or freed already, is
 * the misuse ksize() reports, and gives NULL. */
static inline void *krealloc(const void *p, size_t new_size, gfp_t gfp)
{
	size_t old = ksize(p);
	void *n;

	if (!new_size) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	if (!old && !ZERO_OR_NULL_PTR(p))
		return NULL;
	if (old >= new_size)
		return (void *)p;
	n = kmalloc(new_size, gfp);
	if (!n)
		return NULL;
	if (old)
		memcpy(n, p, old);
	kfree(p);
	return n;
}
/* No vmalloc here: kvmalloc() is kmalloc(), up to KMALLOC_MAX_SIZE. */
#define kvmalloc kmalloc
#define kvzalloc kzalloc
#define kvcalloc kcalloc
#define kvfree kfree
static inline char *kstrdup(const char *s, gfp_t gfp)
{
	size_t len = s ? strlen(s) + 1 : 0;
	char *d = len ? kmalloc(len, gfp) : NULL;

	if (d)
		memcpy(d, s, len);
	return d;
}

/* ---- mempool ---- */

/* The kernel has one system: a pool made by kernel-style code belongs to the calling task's. */
#define mempool_init(pool, ...)                                                                    \
	rsv_mempool_init((pool), rsv_task_system(rsv_task_current()), __VA_ARGS__)
static inline int mempool_init_slab_pool(mempool_t *pool, int min_nr, struct kmem_cache *c)
{
	return rsv_mempool_init(pool, rsv_task_system(rsv_task_current()), min_nr,
				rsv_mempool_alloc_slab, rsv_mempool_free_slab, c);
}
static inline int mempool_init_kmalloc_pool(mempool_t *pool, int min_nr, size_t size)
{
	return rsv_mempool_init(pool, rsv_task_system(rsv_task_current()), min_nr,
				rsv_mempool_kmalloc, rsv_mempool_kfree, (void *)size);
}
static inline int mempool_init_page_pool(mempool_t *pool, int min_nr, int order)
{
	return rsv_mempool_init(pool, rsv_task_system(rsv_task_current()), min_nr,
				rsv_mempool_alloc_pages, rsv_mempool_free_pages,
				(void *)(long)order);
}
static inline bool mempool_initialized(const mempool_t *pool)
{
	return pool->elements != NULL;
}
/* One node here: @gfp_mask (for the pool's own memory, from the C heap) and @node_id mean
 * nothing. */
static inline mempool_t *mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn,
					     mempool_free_t *free_fn, void *pool_data,
					     gfp_t gfp_mask, int node_id)
{
	(void)gfp_mask;
	(void)node_id;
	return rsv_mempool_create(rsv_task_system(rsv_task_current()), min_nr, alloc_fn, free_fn,
				  pool_data);
}
#define mempool_exit rsv_mempool_exit
#define mempool_create(...) rsv_mempool_create(rsv_task_system(rsv_task_current()), __VA_ARGS__)
#define mempool_destroy rsv_mempool_destroy
#define mempool_resize rsv_mempool_resize
#define mempool_alloc rsv_mempool_alloc
#define mempool_alloc_preallocated rsv_mempool_alloc_preallocated
/* Fills the NULL slots of @elems[0..count); @allocated (how many are filled already) is only
 * a hint here, as the slots say it. Always 0, as the kernel's. */
static inline int mempool_alloc_bulk(mempool_t *pool, void **elems, unsigned int count,
				     unsigned int allocated)
{
	(void)allocated;
	rsv_mempool_alloc_bulk(pool, elems, count);
	return 0;
}
/* Keeps elems[0..n) while the pool is short and returns n; the caller frees the rest. */
#define mempool_free_bulk rsv_mempool_keep_bulk
#define mempool_free rsv_mempool_free
#define mempool_alloc_slab rsv_mempool_alloc_slab
#define mempool_free_slab rsv_mempool_free_slab
#define mempool_kmalloc rsv_mempool_kmalloc
#define mempool_kfree rsv_mempool_kfree
#define mempool_alloc_pages rsv_mempool_alloc_pages
#define mempool_free_pages rsv_mempool_free_pages
#define mempool_create_slab_pool(...)                                                              \
	rsv_mempool_create_slab_pool(rsv_task_system(rsv_task_current()), __VA_ARGS__)
#define mempool_create_kmalloc_pool(...)                                                           \
	rsv_mempool_create_kmalloc_pool(rsv_task_system(rsv_task_current()), __VA_ARGS__)
#define mempool_create_page_pool(...)                                                              \
	rsv_mempool_create_page_pool(rsv_task_system(rsv_task_current()), __VA_ARGS__)
#define mempool_is_saturated(pool) (rsv_mempool_curr_nr(pool) >= rsv_mempool_min_nr(pool))

/* ---- reservations (Arcangeli's names, LKML 2004) ---- */

#define create_reserved_pages_pool rsv_reservation_create
#define destroy_reserved_pages_pool rsv_reservation_destroy
#define enable_reserved_pages_pool rsv_reservation_enable
#define disable_reserved_pages_pool rsv_reservation_disable

/* ---- reclaim: the shrinker API of 6.7 and later ---- */

#define SHRINK_STOP RSV_SHRINK_STOP
#define SHRINK_EMPTY RSV_SHRINK_EMPTY
#define DEFAULT_SEEKS RSV_DEFAULT_SEEKS

struct shrink_control {
	gfp_t gfp_mask;
	int nid; /* one node: always 0 */
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
};

struct shrinker {
	unsigned long (*count_objects)(struct shrinker *, struct shrink_control *sc);
	unsigned long (*scan_objects)(struct shrinker *, struct shrink_control *sc);
	long batch;
	int seeks;
	unsigned flags;
	void *private_data;
	/* reservoir's: the shrinker it registers, and the system it registered with. */
	struct rsv_shrinker rsv;
	struct rsv_system *sys;
	char name[32];
};

static inline struct shrinker *rsv__kshrinker(struct rsv_shrinker *s)
{
	return (struct shrinker *)((char *)s - offsetof(struct shrinker, rsv));
}

static inline unsigned long rsv__kshrink_call(struct rsv_shrinker *s,
					      struct rsv_shrink_control *rsc, bool scan)
{
	struct shrinker *k = rsv__kshrinker(s);
	struct shrink_control sc = { .gfp_mask = rsc->gfp_mask,
				     .nr_to_scan = rsc->nr_to_scan,
				     .nr_scanned = rsc->nr_scanned };
	unsigned long ret = scan ? k->scan_objects(k, &sc) : k->count_objects(k, &sc);

	rsc->nr_scanned = sc.nr_scanned;
	return ret;
}

static inline unsigned long rsv__kshrink_count(struct rsv_shrinker *s,
					       struct rsv_shrink_control *sc)
{
	return rsv__kshrink_call(s, sc, false);
}

static inline unsigned long rsv__kshrink_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	return rsv__kshrink_call(s, sc, true);
}

/* shrinker_alloc(): zeroed, named from @fmt, not yet registered; NULL without memory. The
 * kernel's flags (SHRINKER_MEMCG_AWARE, SHRINKER_NUMA_AWARE) mean nothing here. */
static inline RSV_PRINTF(2, 3) struct shrinker *shrinker_alloc(unsigned int flags, const char *fmt,
							       ...)
{
	struct shrinker *k = calloc(1, sizeof(*k));
	va_list ap;

	if (!k)
		return NULL;
	k->flags = flags;
	va_start(ap, fmt);
	vsnprintf(k->name, sizeof(k->name), fmt, ap);
	va_end(ap);
	return k;
}

/* Registers with the calling task's system; the callbacks must be set. */
static inline void shrinker_register(struct shrinker *k)
{
	k->sys = rsv_task_system(rsv_task_current());
	k->rsv = (struct rsv_shrinker){ .count_objects = rsv__kshrink_count,
					.scan_objects = rsv__kshrink_scan,
					.batch = k->batch,
					.seeks = k->seeks,
					.name = k->name,
					.private_data = k->private_data };
	if (!k->sys || rsv_register_shrinker(k->sys, &k->rsv))
		k->sys = NULL;
}

/* Unregisters (waiting for scans in progress) and frees; NULL is a no-op. */
static inline void shrinker_free(struct shrinker *k)
{
	if (!k)
		return;
	if (k->sys)
		rsv_unregister_shrinker(k->sys, &k->rsv);
	free(k);
}

/* ---- errors, messages, assertions ---- */

#define MAX_ERRNO 4095
static inline void *ERR_PTR(long error)
{
	return (void *)error;
}
static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}
static inline bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO;
}
static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}
static inline int PTR_ERR_OR_ZERO(const void *ptr)
{
	return IS_ERR(ptr) ? (int)PTR_ERR(ptr) : 0;
}

/* printk's levels, to stderr: this is the caller's code printing, not the library. */
#define pr_emerg(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_alert(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_crit(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) ((void)0)

/* WARN_ON() says where and goes on, returning the condition; BUG_ON() stops the process. */
#define WARN_ON(cond)                                                                              \
	({                                                                                         \
		bool __c = !!(cond);                                                               \
		if (__c)                                                                           \
			fprintf(stderr, "WARNING: %s at %s:%d\n", #cond, __FILE__, __LINE__);      \
		__c;                                                                               \
	})
#define WARN_ON_ONCE(cond)                                                                         \
	({                                                                                         \
		static bool __warned;                                                              \
		bool __c = !!(cond);                                                               \
		if (__c && !__warned) {                                                            \
			__warned = true;                                                           \
			fprintf(stderr, "WARNING: %s at %s:%d\n", #cond, __FILE__, __LINE__);      \
		}                                                                                  \
		__c;                                                                               \
	})
#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (cond) {                                                                        \
			fprintf(stderr, "BUG: %s at %s:%d\n", #cond, __FILE__, __LINE__);          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
#define BUG() BUG_ON(1)

/* ---- lists ---- */

struct list_head {
	struct list_head *next, *prev;
};
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define LIST_HEAD_INIT(name)                                                                       \
	{                                                                                          \
		&(name), &(name)                                                                   \
	}
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *h)
{
	h->next = h->prev = h;
}
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h)
{
	__list_add(n, h, h->next);
}
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	__list_add(n, h->prev, h);
}
static inline void list_del(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	e->next = e->prev = NULL; /* the kernel poisons; a use after deletion faults either way */
}
static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	INIT_LIST_HEAD(e);
}
static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	list_del_init(e);
	list_add_tail(e, h);
}
static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_first_entry_or_null(ptr, type, member)                                                \
	(list_empty(ptr) ? NULL : list_first_entry(ptr, type, member))
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_entry(pos, head, member)                                                     \
	for (pos = list_first_entry(head, __typeof__(*pos), member); &pos->member != (head);       \
	     pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)                                             \
	for (pos = list_first_entry(head, __typeof__(*pos), member),                               \
	    n = list_next_entry(pos, member);                                                      \
	     &pos->member != (head); pos = n, n = list_next_entry(n, member))

/* ---- atomics ---- */

typedef struct {
	int counter;
} atomic_t;
#define ATOMIC_INIT(i)                                                                             \
	{                                                                                          \
		(i)                                                                                \
	}
static inline int atomic_read(const atomic_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}
static inline void atomic_set(atomic_t *v, int i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_add(int i, atomic_t *v)
{
	__atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_sub(int i, atomic_t *v)
{
	__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_inc(atomic_t *v)
{
	atomic_add(1, v);
}
static inline void atomic_dec(atomic_t *v)
{
	atomic_sub(1, v);
}
/* The value-returning operations are fully ordered, as the kernel's are. */
static inline int atomic_add_return(int i, atomic_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline int atomic_sub_return(int i, atomic_t *v)
{
	return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline int atomic_inc_return(atomic_t *v)
{
	return atomic_add_return(1, v);
}
static inline int atomic_dec_return(atomic_t *v)
{
	return atomic_sub_return(1, v);
}
static inline bool atomic_dec_and_test(atomic_t *v)
{
	return atomic_sub_return(1, v) == 0;
}
static inline int atomic_cmpxchg(atomic_t *v, int old, int new_value)
{
	__atomic_compare_exchange_n(&v->counter, &old, new_value, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return old;
}

/* ---- compiler ---- */

/* One access, never torn or merged by the compiler, and seen as atomic by TSan. */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define likely(x) rsv_likely(x)
#define unlikely(x) rsv_unlikely(x)

/* ---- time ---- */

#define HZ RSV_HZ
#define jiffies ((unsigned long)(rsv_now() / RSV_JIFFY_NS))
#define MAX_SCHEDULE_TIMEOUT LONG_MAX
static inline unsigned long msecs_to_jiffies(unsigned int m)
{
	return ((unsigned long)m * HZ + 999) / 1000;
}
static inline unsigned int jiffies_to_msecs(unsigned long j)
{
	return (unsigned int)(j * 1000 / HZ);
}
static inline void msleep(unsigned int msecs)
{
	rsv_msleep(msecs);
}
/* A scheduling point; 0, as the kernel's when it did not reschedule is all callers test. */
static inline int cond_resched(void)
{
	rsv_sched_point();
	return 0;
}
#define might_sleep() ((void)0)

/* ---- sleeping: task states, schedule_timeout(), wait queues ---- */

#define TASK_RUNNING RSV_TASK_RUNNING
#define TASK_UNINTERRUPTIBLE RSV_TASK_UNINTERRUPTIBLE
#define TASK_KILLABLE RSV_TASK_KILLABLE
#define set_current_state(state) rsv_set_current_state(state)
#define __set_current_state(state) rsv_set_current_state(state)

/* Sleeps @timeout jiffies, or until woken if the task state was set first; returns the
 * jiffies left (0 when it timed out), MAX_SCHEDULE_TIMEOUT sleeping until woken. In
 * TASK_RUNNING it returns at once with @timeout, as the kernel's does. */
static inline long schedule_timeout(long timeout)
{
	uint64_t left;

	if (timeout == MAX_SCHEDULE_TIMEOUT) {
		rsv_schedule();
		return MAX_SCHEDULE_TIMEOUT;
	}
	if (timeout < 0)
		timeout = 0;
	left = rsv_schedule_timeout((uint64_t)timeout * RSV_JIFFY_NS);
	return (long)((left + RSV_JIFFY_NS - 1) / RSV_JIFFY_NS);
}
static inline long schedule_timeout_uninterruptible(long timeout)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	return schedule_timeout(timeout);
}
static inline long schedule_timeout_killable(long timeout)
{
	set_current_state(TASK_KILLABLE);
	return schedule_timeout(timeout);
}
static inline long io_schedule_timeout(long timeout)
{
	return schedule_timeout(timeout);
}
static inline void schedule(void)
{
	rsv_schedule();
}

typedef struct rsv_waitqueue wait_queue_head_t;
struct wait_queue_entry {
	struct rsv_wait_entry rsv;
};
#define DECLARE_WAIT_QUEUE_HEAD(name) wait_queue_head_t name = RSV_WAITQUEUE_INIT(name, #name)
#define init_waitqueue_head(wq) rsv_waitqueue_init((wq), #wq)
#define DEFINE_WAIT(name)                                                                          \
	struct wait_queue_entry name = {                                                           \
		.rsv = { { &name.rsv.node, &name.rsv.node }, NULL, 0, false }                      \
	}
static inline void prepare_to_wait(wait_queue_head_t *wq, struct wait_queue_entry *e, int state)
{
	rsv_prepare_to_wait(wq, &e->rsv, (enum rsv_sleep_state)state);
}
static inline void prepare_to_wait_exclusive(wait_queue_head_t *wq, struct wait_queue_entry *e,
					     int state)
{
	rsv_prepare_to_wait_exclusive(wq, &e->rsv, (enum rsv_sleep_state)state);
}
static inline void finish_wait(wait_queue_head_t *wq, struct wait_queue_entry *e)
{
	rsv_finish_wait(wq, &e->rsv);
}
#define wake_up(wq) rsv_wake_up(wq)
#define wake_up_all(wq) rsv_wake_up_all(wq)
#define waitqueue_active(wq) rsv_waitqueue_active(wq)
#define wq_has_sleeper(wq) rsv_waitqueue_active(wq)
/* The kernel's take the queue itself, not its address. */
#define wait_event(wq_head, condition) rsv_wait_event(&(wq_head), condition)
#define wait_event_timeout(wq_head, condition, timeout)                                            \
	({                                                                                         \
		long __left = (timeout);                                                           \
		DEFINE_WAIT(__w);                                                                  \
		for (;;) {                                                                         \
			prepare_to_wait(&(wq_head), &__w, TASK_UNINTERRUPTIBLE);                   \
			if (condition) { /* evaluated once per pass: it may consume */             \
				__left = __left ? __left : 1;                                      \
				break;                                                             \
			}                                                                          \
			if (!__left)                                                               \
				break;                                                             \
			__left = schedule_timeout(__left);                                         \
			if (!__left) { /* timed out: one last look, as the kernel's */             \
				__left = (condition) ? 1 : 0;                                      \
				break;                                                             \
			}                                                                          \
		}                                                                                  \
		finish_wait(&(wq_head), &__w);                                                     \
		__left;                                                                            \
	})

/* ---- completions ---- */

/* A waiter returns only once no complete() is still at work on the completion: the
 * kernel's complete() wakes holding the wait queue's lock, which the waiter takes to see
 * `done`, so an on-stack completion may go out of scope as soon as wait_for_completion()
 * returns. Here wake-ups are not made under a lock (they are scheduling points on the
 * simulator), so @completing counts the complete() calls between their first touch and their
 * last, and a waiter that has taken `done` waits for it to drop to 0. */
struct completion {
	unsigned int done; /* UINT_MAX: completed for good (complete_all()) */
	wait_queue_head_t wait;
	unsigned int completing;
};
#define COMPLETION_INITIALIZER(x)                                                                  \
	{                                                                                          \
		0, RSV_WAITQUEUE_INIT((x).wait, #x), 0                                             \
	}
#define DECLARE_COMPLETION(x) struct completion x = COMPLETION_INITIALIZER(x)
#define DECLARE_COMPLETION_ONSTACK(x) DECLARE_COMPLETION(x)
static inline void init_completion(struct completion *x)
{
	x->done = 0;
	x->completing = 0;
	rsv_waitqueue_init(&x->wait, "completion");
}
static inline void reinit_completion(struct completion *x)
{
	WRITE_ONCE(x->done, 0);
}
static inline void complete(struct completion *x)
{
	unsigned int d;

	__atomic_fetch_add(&x->completing, 1, __ATOMIC_SEQ_CST);
	d = __atomic_load_n(&x->done, __ATOMIC_RELAXED);
	while (d != UINT_MAX && !__atomic_compare_exchange_n(&x->done, &d, d + 1, false,
							     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	rsv_wake_up(&x->wait);
	__atomic_fetch_sub(&x->completing, 1, __ATOMIC_RELEASE); /* the last touch */
}
static inline void complete_all(struct completion *x)
{
	__atomic_fetch_add(&x->completing, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&x->done, UINT_MAX, __ATOMIC_SEQ_CST);
	rsv_wake_up_all(&x->wait);
	__atomic_fetch_sub(&x->completing, 1, __ATOMIC_RELEASE);
}
/* After a waiter took `done`: until the completer has let go of @x. */
static inline void __completion_settle(struct completion *x)
{
	while (__atomic_load_n(&x->completing, __ATOMIC_ACQUIRE))
		rsv_yield();
}
/* Takes one completion if there is one (none is taken after complete_all()). */
static inline bool __completion_take(struct completion *x)
{
	unsigned int d = __atomic_load_n(&x->done, __ATOMIC_ACQUIRE);

	while (d && d != UINT_MAX)
		if (__atomic_compare_exchange_n(&x->done, &d, d - 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE))
			return true;
	return d == UINT_MAX;
}
static inline bool try_wait_for_completion(struct completion *x)
{
	if (!__completion_take(x))
		return false;
	__completion_settle(x);
	return true;
}
static inline bool completion_done(struct completion *x)
{
	return READ_ONCE(x->done) != 0;
}
static inline void wait_for_completion(struct completion *x)
{
	rsv_wait_event(&x->wait, __completion_take(x));
	__completion_settle(x);
}
static inline void wait_for_completion_io(struct completion *x)
{
	wait_for_completion(x);
}
/* 0 if it timed out, else the jiffies left (at least 1). */
static inline unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)
{
	unsigned long left = (unsigned long)wait_event_timeout(x->wait, __completion_take(x),
							       (long)timeout);

	if (left)
		__completion_settle(x);
	return left;
}

/* ---- kthreads ---- */

/* kthread_run(): a service task of the calling task's system, started at once (the kernel's
 * kthread_create(), which leaves it stopped until woken, is not provided: it would not be the
 * same). ERR_PTR(-ENOMEM), never NULL, when it cannot be made. */
static inline RSV_PRINTF(3, 4) struct task_struct *kthread_run(int (*fn)(void *), void *data,
							       const char *namefmt, ...)
{
	char name[32];
	struct rsv_task *t;
	va_list ap;

	va_start(ap, namefmt);
	vsnprintf(name, sizeof(name), namefmt, ap);
	va_end(ap);
	t = rsv_kthread_create(rsv_task_system(rsv_task_current()), name, fn, data);
	return t ? rsv_to_task(t) : (struct task_struct *)ERR_PTR(-ENOMEM);
}
static inline bool kthread_should_stop(void)
{
	return rsv_kthread_should_stop();
}
static inline int kthread_stop(struct task_struct *k)
{
	return rsv_kthread_stop(task_to_rsv(k));
}

/* ---- locks ---- */

#define DEFINE_SPINLOCK(x) spinlock_t x = RSV_SPINLOCK_INIT
#define spin_lock_init rsv_spin_init
#define spin_lock rsv_spin_lock
#define spin_trylock rsv_spin_trylock
#define spin_unlock rsv_spin_unlock
/* No interrupts here: the irq and bh variants are the plain lock, and the saved flags are
 * 0, written so that code which reads them reads something defined. */
#define spin_lock_irqsave(l, flags)                                                                \
	do {                                                                                       \
		(flags) = 0;                                                                       \
		rsv_spin_lock(l);                                                                  \
	} while (0)
#define spin_unlock_irqrestore(l, flags)                                                           \
	do {                                                                                       \
		(void)(flags);                                                                     \
		rsv_spin_unlock(l);                                                                \
	} while (0)
#define spin_lock_irq rsv_spin_lock
#define spin_unlock_irq rsv_spin_unlock
#define spin_lock_bh rsv_spin_lock
#define spin_unlock_bh rsv_spin_unlock

struct mutex {
	struct rsv_mutex rsv;
};
#define DEFINE_MUTEX(x) struct mutex x = { RSV_MUTEX_INIT(x.rsv, #x) }
#define mutex_init(m) rsv_mutex_init(&(m)->rsv, #m)
static inline void mutex_lock(struct mutex *m)
{
	rsv_mutex_lock(&m->rsv);
}
static inline int mutex_trylock(struct mutex *m)
{
	return rsv_mutex_trylock(&m->rsv);
}
static inline void mutex_unlock(struct mutex *m)
{
	rsv_mutex_unlock(&m->rsv);
}
static inline bool mutex_is_locked(struct mutex *m)
{
	return rsv_mutex_owner(&m->rsv) != NULL;
}

struct semaphore {
	struct rsv_semaphore rsv;
};
#define DEFINE_SEMAPHORE(x, n) struct semaphore x = { RSV_SEMAPHORE_INIT(x.rsv, #x, n) }
#define sema_init(s, n) rsv_sema_init(&(s)->rsv, #s, (n))
static inline void down(struct semaphore *s)
{
	rsv_down(&s->rsv);
}
/* The kernel's: 0 when taken, 1 when not. */
static inline int down_trylock(struct semaphore *s)
{
	return !rsv_down_trylock(&s->rsv);
}
static inline void up(struct semaphore *s)
{
	rsv_up(&s->rsv);
}

#include "kernel/blk.h"
#include "kernel/workqueue.h"

#endif
