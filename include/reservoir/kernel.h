/* reservoir/kernel.h: the kernel's spellings, opt-in, so that a function written for
 * mm/mempool.c's callers compiles unchanged against reservoir.
 *
 * Include it last, in files that want it; it claims short global names (current, kmalloc,
 * GFP_KERNEL, struct page, mempool_t). Everything maps onto the rsv_ API of the task that
 * makes the call: kmem_cache_create() and friends that take no system use the current
 * task's. `struct page` is an incomplete type naming the same object as struct rsv_page;
 * page_to_rsv()/rsv_to_page() convert at the boundary. `current` is a struct task_struct pointer to
 * the calling task, and the accessors kernel code uses on it are functions here (current->flags
 * becomes current_flags()). Kernel code that sleeps must run in a task, as everywhere. */
#ifndef RESERVOIR_KERNEL_H
#define RESERVOIR_KERNEL_H

#include "../reservoir.h"

/* ---- types ---- */

typedef rsv_gfp_t gfp_t;
typedef struct rsv_mempool mempool_t;
typedef rsv_mempool_alloc_t mempool_alloc_t;
typedef rsv_mempool_free_t mempool_free_t;
typedef struct rsv_spinlock spinlock_t;
#define kmem_cache rsv_kmem_cache
#define task_struct rsv_task
#define mutex rsv_mutex
#define semaphore rsv_semaphore
#define shrinker rsv_shrinker
#define shrink_control rsv_shrink_control

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

#define current (rsv_task_current())
static inline unsigned current_flags(void) { return rsv_task_flags(rsv_task_current()); }
static inline bool fatal_signal_pending(struct task_struct *t)
{
	return t == rsv_task_current() && rsv_fatal_signal_pending();
}
static inline bool tsk_is_oom_victim(struct task_struct *t) { return rsv_task_is_oom_victim(t); }
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
static inline void __free_pages(struct page *p, unsigned order)
{
	rsv_free_pages(page_to_rsv(p), order);
}
static inline void __free_page(struct page *p) { __free_pages(p, 0); }
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

#define SLAB_HWCACHE_ALIGN RSV_SLAB_HWCACHE_ALIGN
#define SLAB_POISON RSV_SLAB_POISON

static inline struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
						   unsigned flags, void (*ctor)(void *))
{
	struct rsv_task *t = rsv_task_current();

	return t ? rsv_kmem_cache_create(rsv_task_system(t), name, size, align, flags, ctor)
		 : NULL;
}
static inline void kmem_cache_destroy(struct kmem_cache *c) { (void)rsv_kmem_cache_destroy(c); }
#define kmem_cache_alloc rsv_kmem_cache_alloc
#define kmem_cache_free rsv_kmem_cache_free
static inline void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	return rsv_kmem_cache_alloc(c, gfp | __GFP_ZERO);
}
#define kmem_cache_shrink rsv_kmem_cache_shrink
#define kmem_cache_alloc_bulk rsv_kmem_cache_alloc_bulk
#define kmem_cache_free_bulk rsv_kmem_cache_free_bulk
#define kmalloc rsv_kmalloc
#define kzalloc rsv_kzalloc
#define kmalloc_array rsv_kmalloc_array
#define kcalloc rsv_kcalloc
#define KMALLOC_MAX_SIZE RSV_KMALLOC_MAX_SIZE
#define kfree rsv_kfree
#define ksize rsv_ksize

/* ---- mempool ---- */

/* The kernel has one system: a pool made by kernel-style code belongs to the calling task's. */
#define mempool_init(pool, ...) rsv_mempool_init((pool), rsv_task_system(current), __VA_ARGS__)
#define mempool_exit rsv_mempool_exit
#define mempool_create(...) rsv_mempool_create(rsv_task_system(current), __VA_ARGS__)
#define mempool_destroy rsv_mempool_destroy
#define mempool_resize rsv_mempool_resize
#define mempool_alloc rsv_mempool_alloc
#define mempool_alloc_preallocated rsv_mempool_alloc_preallocated
#define mempool_alloc_bulk rsv_mempool_alloc_bulk
#define mempool_free_bulk rsv_mempool_free_bulk
#define mempool_free rsv_mempool_free
#define mempool_alloc_slab rsv_mempool_alloc_slab
#define mempool_free_slab rsv_mempool_free_slab
#define mempool_kmalloc rsv_mempool_kmalloc
#define mempool_kfree rsv_mempool_kfree
#define mempool_alloc_pages rsv_mempool_alloc_pages
#define mempool_free_pages rsv_mempool_free_pages
#define mempool_create_slab_pool(...)                                                              \
	rsv_mempool_create_slab_pool(rsv_task_system(current), __VA_ARGS__)
#define mempool_create_kmalloc_pool(...)                                                           \
	rsv_mempool_create_kmalloc_pool(rsv_task_system(current), __VA_ARGS__)
#define mempool_create_page_pool(...)                                                              \
	rsv_mempool_create_page_pool(rsv_task_system(current), __VA_ARGS__)
#define mempool_is_saturated(pool) (rsv_mempool_curr_nr(pool) >= rsv_mempool_min_nr(pool))

/* ---- reservations (Arcangeli's names, seed 003) ---- */

#define create_reserved_pages_pool rsv_reservation_create
#define destroy_reserved_pages_pool rsv_reservation_destroy
#define enable_reserved_pages_pool rsv_reservation_enable
#define disable_reserved_pages_pool rsv_reservation_disable

/* ---- reclaim ---- */

#define register_shrinker(s) rsv_register_shrinker(rsv_task_system(rsv_task_current()), (s))
#define unregister_shrinker(s) rsv_unregister_shrinker(rsv_task_system(rsv_task_current()), (s))
#define SHRINK_STOP RSV_SHRINK_STOP
#define SHRINK_EMPTY RSV_SHRINK_EMPTY
#define try_to_free_pages rsv_try_to_free_pages

/* ---- sleeping and locks ---- */

#define HZ RSV_HZ
#define jiffies (rsv_now() / RSV_JIFFY_NS)
#define msleep rsv_msleep
#define schedule_timeout(j) rsv_schedule_timeout((uint64_t)(j) * RSV_JIFFY_NS)
#define io_schedule_timeout schedule_timeout
#define cond_resched rsv_sched_point
#define might_sleep() ((void)0)
#define spin_lock_init rsv_spin_init
#define spin_lock rsv_spin_lock
#define spin_trylock rsv_spin_trylock
#define spin_unlock rsv_spin_unlock
#define spin_lock_irqsave(l, f) ((void)(f), rsv_spin_lock(l))
#define spin_unlock_irqrestore(l, f) ((void)(f), rsv_spin_unlock(l))
#define mutex_init(m) rsv_mutex_init((m), #m)
#define mutex_lock rsv_mutex_lock
#define mutex_trylock rsv_mutex_trylock
#define mutex_unlock rsv_mutex_unlock
#define sema_init(s, n) rsv_sema_init((s), #s, (n))
#define down rsv_down
#define down_trylock(s) (!rsv_down_trylock(s)) /* the kernel's: 0 when taken */
#define up rsv_up

#endif
