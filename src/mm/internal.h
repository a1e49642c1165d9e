/* Private to the library: the mm layer's structures (system, zone, page descriptors, tasks)
 * and the interface through which the reclaim layer plugs into the page allocator. */
#ifndef RSV_MM_INTERNAL_H
#define RSV_MM_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <reservoir/harness.h>
#include "common/assert.h"
#include "common/counter.h"
#include "common/list.h"
#include "platform/internal.h"

/* ---- page descriptors ---- */

/* Every arena page is in exactly one block; the block's first page (its head) says what the
 * block is, every other page of it is RSV_PAGE_TAIL. */
enum rsv_page_state {
	RSV_PAGE_TAIL = 0, /* not the head of a block */
	RSV_PAGE_BUDDY,    /* head of a free block in the buddy lists */
	RSV_PAGE_PCP,      /* head of a free block in a task's page cache */
	RSV_PAGE_ALLOC,    /* head of an allocated block */
};

#define RSV_NIL UINT32_MAX

struct rsv_mapping;
struct rsv_kmem_cache;

/* The last 20 bytes mean what the layer holding the block says, one named overlay per owner
 * as in the kernel's struct page; page_flags.h says which flag bit marks which overlay. */
struct rsv_page {
	uint32_t next, prev; /* list links as page numbers (buddy, LRU or slab lists) */
	_Atomic uint8_t state; /* enum rsv_page_state; see rsv__page_state() */
	uint8_t order;       /* block order, for heads */
	_Atomic uint16_t flags; /* bits of the layers holding the block: page_flags.h */
	union {
		uint32_t owner; /* task id: the PCP holder, the task charged (RSV_PAGE_ACCOUNTED),
				 * or an anonymous page's task (PG_anon) */
		uint32_t inuse; /* a slab's head (RSV_PAGE_SLAB): objects handed out of it */
	};
	union {
		struct {                        /* PG_mapping: reclaim/mapping.c */
			struct rsv_mapping *mapping;
			uint64_t index;         /* page number within the mapping */
		};
		struct {                        /* RSV_PAGE_SLAB: pool/slab.c */
			struct rsv_kmem_cache *slab_cache; /* every page of the slab */
			void *freelist;         /* the head's first free object, or NULL */
		};
		uint64_t kmalloc_size;          /* RSV_PAGE_KMALLOC alone: a large block's size */
		_Atomic uint32_t extra_refs;    /* a block no layer holds: get_page()'s references
						 * beyond the allocator's one (page_alloc.c) */
		uint64_t layer_words[2];        /* cleared when the block changes hands, and by a
						 * layer before it frees the block */
	};
};

_Static_assert(sizeof(struct rsv_page) == 32, "page descriptor must stay at 32 bytes");

/* A neighbour's merge reads this byte under the zone lock while the block's holder may
 * relabel it without (PCP to ALLOC), so every access is atomic. Relaxed suffices: the only
 * value a merge acts on, BUDDY, is set and cleared under the zone lock, which orders it. */
static inline unsigned rsv__page_state(const struct rsv_page *p)
{
	return atomic_load_explicit(&p->state, memory_order_relaxed);
}

static inline void rsv__set_page_state(struct rsv_page *p, enum rsv_page_state s)
{
	atomic_store_explicit(&p->state, (uint8_t)s, memory_order_relaxed);
}

#include "mm/page_flags.h"

/* ---- alloc flags (the kernel's ALLOC_*) ---- */

#define RSV_ALLOC_WMARK_MIN 0x00u
#define RSV_ALLOC_WMARK_LOW 0x01u
#define RSV_ALLOC_WMARK_HIGH 0x02u
#define RSV_ALLOC_WMARK_MASK 0x03u
#define RSV_ALLOC_NO_WATERMARKS 0x04u
#define RSV_ALLOC_OOM 0x08u
#define RSV_ALLOC_NON_BLOCK 0x10u
#define RSV_ALLOC_MIN_RESERVE 0x20u
#define RSV_ALLOC_CPUSET 0x40u
#define RSV_ALLOC_HIGHATOMIC 0x200u
#define RSV_ALLOC_KSWAPD 0x800u
#define RSV_ALLOC_RESERVES \
	(RSV_ALLOC_NON_BLOCK | RSV_ALLOC_MIN_RESERVE | RSV_ALLOC_HIGHATOMIC | RSV_ALLOC_OOM)

enum rsv_wmark { RSV_WMARK_MIN, RSV_WMARK_LOW, RSV_WMARK_HIGH, RSV_NR_WMARK };

/* ---- zone ---- */

/* A list threaded through the page descriptors' links by page number, newest at the head:
 * the buddy's free areas, the per-task caches and the LRUs are all made of these. */
struct rsv_pfn_list {
	uint32_t head, tail;
};

#define RSV_PFN_LIST_INIT ((struct rsv_pfn_list){ RSV_NIL, RSV_NIL })

struct rsv_free_area {
	struct rsv_pfn_list list;
	_Atomic unsigned long nr_free; /* blocks; read without the lock by watermark checks */
};

struct rsv_zone {
	struct rsv_spinlock lock;
	struct rsv_free_area free_area[RSV_NR_ORDERS];
	_Atomic long nr_free_pages; /* NR_FREE_PAGES: buddy only, not per-task caches */
	unsigned long wmark[RSV_NR_WMARK];
	unsigned long managed;
	unsigned long lowmem_reserve; /* 0 in a one-zone system; kept for the formula */
	unsigned long nr_reserved_highatomic;
	struct rsv_waitqueue free_wait; /* __GFP_NOFAIL callers wait here for freed pages */
};

/* ---- per-task page cache (the kernel's per-CPU pageset) ---- */

#define RSV_PCP_MAX_ORDER RSV_COSTLY_ORDER

struct rsv_pcp {
	struct rsv_spinlock lock;   /* drainers; and the owner too in locked mode */
	_Atomic uint32_t busy;      /* asymmetric mode: the owner is inside a fast section */
	_Atomic uint32_t drain_req; /* asymmetric mode: a drainer wants the lists */
	struct rsv_pfn_list lists[RSV_PCP_MAX_ORDER + 1];
	_Atomic int count; /* pages; written under the cache's protocol, read by anyone */
	bool frozen;       /* held by a drain of many caches; under sys->tasks_lock */
	bool asym;         /* sys->pcp_asym, kept here for the fast paths */
};

/* ---- the reclaim layer's hooks into the allocator's slow path ---- */

enum rsv_oom_result {
	RSV_OOM_NONE,     /* no OOM killer here (mm alone): the allocation may fail */
	RSV_OOM_NO_VICTIM, /* the killer found no task it may kill: the kernel panics */
	RSV_OOM_PROGRESS, /* a kill was made, or the caller is a dying task: retry */
	RSV_OOM_WAIT,     /* progress that others must make (a victim exiting, a reclaim this
			   * context may not do): retry once pages come back, after oom_lock */
};

struct rsv_reclaim_ops {
	void (*wake_kswapd)(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);
	/* Direct reclaim for the calling task (already under PF_MEMALLOC); pages reclaimed. */
	unsigned long (*direct_reclaim)(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);
	/* Pages reclaim could still free (LRU pages), for should_reclaim_retry(). */
	unsigned long (*reclaimable_pages)(struct rsv_system *sys);
	/* out_of_memory(), called under oom_lock: what the allocation may count on. */
	enum rsv_oom_result (*out_of_memory)(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);
	/* The layer's part of rsv_system_check(): 0, or -EUCLEAN after rsv__set_error(). */
	int (*check)(struct rsv_system *sys);
	/* A created task returned: release what the layer holds for it (its memory). */
	void (*task_exit)(struct rsv_system *sys, struct rsv_task *t);
};

/* ---- tasks ---- */

/* A task's reservation sections (pool/reservation.c), written by the task itself. The allocator
 * reads only flags: FIRST sends order-0 allocations to the task's own reserved pages before
 * anything else, FALLBACK lets a failing one fall back to the global pool. */
#define RSV_TR_FIRST 0x1u
#define RSV_TR_FALLBACK 0x2u
#define RSV_TR_HOLDS 0x4u /* holds the global pool's semaphore */

struct rsv_task_reservation {
	unsigned flags;
	unsigned depth;
	unsigned long want;        /* per-thread: the open sections' largest reservation */
	unsigned long nr;          /* per-thread: pages on the list */
	struct rsv_pfn_list pages; /* per-thread: allocated pages held for the section */
};

/* What a task is in the middle of, for the blocked-chain reports. Written by the task, read by
 * a reporter while the task is parked (or, on real threads, racily: it is only words). */
enum rsv_doing {
	RSV_DOING_NOTHING,
	RSV_DOING_ALLOC,   /* in the page allocator's slow path */
	RSV_DOING_MEMPOOL, /* waiting for an element of obj, a mempool */
	RSV_DOING_IO,      /* waiting for a request to obj, a block device */
	RSV_DOING_LAYER,   /* waiting on obj of a layer above mm, which describe() puts in words */
};

/* A layer's words for a task waiting on @obj, and the task it waits for (or NULL). Called by
 * a reporter while the task is parked, or on real threads while the system is stuck: it may
 * only try locks. */
typedef void (*rsv_doing_describe_t)(const void *obj, char *buf, size_t len,
				     struct rsv_task **holder);

struct rsv_task_doing {
	enum rsv_doing what;
	const void *obj;
	rsv_doing_describe_t describe; /* RSV_DOING_LAYER */
	rsv_gfp_t gfp;
	unsigned order;
	uint64_t since;
};

/* What the page allocator's slow path did for one caller, reported through the task as the
 * kernel's shrinkers report freed slab pages through current->reclaim_state: the caller
 * (mempool_alloc()'s backing allocation) cannot pass it down through a mempool_alloc_t. */
struct rsv_alloc_cost {
	unsigned long direct_reclaims; /* __alloc_pages_direct_reclaim() entered */
	unsigned long grants;          /* allocations that went below the min watermark */
};

struct rsv_task {
	struct rsv_task_head head; /* first: rsv_task_head() casts; flags written by the task */
	struct rsv_system *sys;
	struct rsv_thread *thread;
	unsigned id;
	char name[32];
	_Atomic bool oom_victim;   /* tsk_is_oom_victim */
	_Atomic bool fatal_signal; /* SIGKILL pending: seen at allocation and killable waits */
	_Atomic bool oom_skip;     /* MMF_OOM_SKIP: reaped or gone, the killer looks elsewhere */
	_Atomic long rss;          /* pages charged to the task (its anonymous memory) */
	_Atomic long swapents;     /* its pages written out to swap */
	_Atomic int oom_score_adj; /* -1000 (never) .. 1000; the OOM killer reads it unlocked */
	unsigned nr_dirtied;       /* pages dirtied since balance_dirty_pages last looked */
	_Atomic bool started;      /* ->thread is set: others may signal it (release/acquire) */
	_Atomic bool exited;
	_Atomic bool should_stop; /* rsv_kthread_stop() asked this kthread to return */
	bool attached;
	/* rsv_task_serve_io(): the I/O path this task serves ("" none), and whether its
	 * allocation that may issue I/O was named already (once per task). */
	char io_path[32];
	bool io_path_named;
	int exit_code;
	int (*fn)(void *);
	void *arg;
	struct rsv_pcp pcp;
	void *slab;                /* the pool layer's per-task magazines, under pcp's protocol */
	_Atomic(void *) mempools;  /* the pool layer's per-task mempool counts */
	struct rsv_task_reservation reservation;
	struct rsv_rand rand;
	struct rsv_task_doing doing; /* for reports, set around long waits (mm/describe.c) */
	_Atomic bool alloc_hooks;  /* a checker (fault injection, lockdep) watches this task's
				    * allocations: its fast paths take the slow path */
	bool make_it_fail;         /* fault injection's task filter */
	unsigned fail_nth;         /* its fault sites until the one that fails; 0: none */
	unsigned oom_naps;         /* backoff waits during this allocation (page_alloc.c) */
	struct rsv_alloc_cost *alloc_cost; /* where the slow path reports, or NULL (below) */
	struct rsv_list node; /* in sys->tasks, until the system is destroyed */
	struct rsv_list spare_node; /* in sys->spare_tasks while it waits to be reused */
	_Atomic uint64_t stat[RSV_NR_STATS];
};

_Static_assert(offsetof(struct rsv_task, head) == 0, "rsv_task_head() casts a task to its head");

/* ---- the pool layer's hooks (slab caches keep per-task magazines) ---- */

enum rsv_reservation_when {
	RSV_RESERVATION_FIRST,    /* before anything else, for a task with RSV_TR_FIRST */
	RSV_RESERVATION_FALLBACK, /* instead of the OOM killer or failure, for RSV_TR_FALLBACK */
};

struct rsv_pool_ops {
	void (*task_exit)(struct rsv_task *t); /* the task's cached objects go back */
	int (*check)(struct rsv_system *sys);  /* as rsv_reclaim_ops.check */
	/* A page from the task's reservation, or NULL; may sleep only if @gfp allows it. */
	struct rsv_page *(*reservation_alloc)(struct rsv_task *t, rsv_gfp_t gfp, unsigned order,
					  enum rsv_reservation_when when);
	/* Words for a task waiting on @pool's elements, and a task holding some (or NULL). */
	void (*describe_wait)(const void *pool, const struct rsv_task *waiter, char *buf,
			      size_t len, struct rsv_task **holder);
};
extern const struct rsv_pool_ops rsv__no_pool_ops;

/* ---- the system ---- */

struct rsv_system {
	struct rsv_system_config cfg;
	struct rsv_platform *plat;
	struct rsv_policy policy;
	enum rsv_misuse_mode misuse;

	char *arena;
	unsigned long nr_pages;
	size_t arena_bytes;
	int mlock_result;
	struct rsv_page *memmap;
	size_t memmap_bytes;

	struct rsv_zone zone;
	unsigned min_free_kbytes;
	int pcp_batch, pcp_high;
	bool pcp_asym;  /* owners enter their cache without atomics (see pcp.c) */
	bool pcp_fence; /* ...and drainers need membarrier() for it: real threads */
	bool one_thread; /* the simulator: one OS thread runs all its tasks, one at a time */

	const struct rsv_reclaim_ops *reclaim;
	void *reclaim_data;
	const struct rsv_pool_ops *pool;
	void *pool_data;
	void *watchdog_data; /* src/check/watchdog.c */
	void *lockdep_data;  /* src/check/lockdep.c */
	void *wq_pool;       /* src/io/workqueue.c: its worker pool, from the first workqueue */
	void *fault_data;    /* src/check/fault.c */
	_Atomic bool alloc_hooks; /* rsv__arm_alloc_hooks() ran: new tasks start with it */
	struct rsv_mutex oom_lock;
	struct rsv_mutex drain_lock; /* one drain of all caches at a time (pcpu_drain_mutex) */

	struct rsv_spinlock tasks_lock;
	struct rsv_list tasks;
	/* Records of adopted threads that detached (os backend), reused by the next
	 * rsv_task_attach(): a daemon whose thread pool makes a thread per connection keeps as
	 * many records as it ever had threads at once, not as many as it ever made. */
	struct rsv_list spare_tasks;
	unsigned nr_tasks;
	_Atomic bool kthreads_stop; /* rsv_kthread_should_stop() for every service task */
	_Atomic uint64_t stat[RSV_NR_STATS]; /* events outside any task */

	struct rsv_spinlock error_lock;
	char error[256];
	_Atomic bool panicking, panicked; /* rsv__panic(): entered once; message written */
	char panic_msg[256];

	struct rsv_list objects; /* rsv_system_add_object(): destroyed with the system */
};

/* panic(): the system stops as a panicked kernel does (see rsv_system_config.panic); the
 * calling task never returns. */
RSV_NORETURN void rsv__panic(struct rsv_system *sys, const char *fmt, ...) RSV_PRINTF(2, 3);

/* ---- helpers shared across mm/ ---- */

static inline struct rsv_task *rsv__task_current(void)
{
	struct rsv_thread *t = rsv__self;

	return t ? (struct rsv_task *)t->ctx : NULL;
}

static inline unsigned rsv__task_flags(const struct rsv_task *t)
{
	return atomic_load_explicit(&t->head.flags, memory_order_relaxed);
}

/* Only the task itself writes its counters. */
static inline void rsv__task_stat_add(struct rsv_task *t, enum rsv_stat_item item, uint64_t n)
{
	rsv__owner_add(&t->stat[item], n);
}

static inline void rsv__sys_stat_add(struct rsv_system *sys, enum rsv_stat_item item, uint64_t n)
{
	rsv__shared_add(&sys->stat[item], n);
}

/* Counted on the reporting task when there is one, so that a layer can tell whether a call
 * it made just now was refused by reading its own counter (no other task writes it). */
static inline void rsv__count_misuse(struct rsv_system *sys)
{
	struct rsv_task *t = rsv__task_current();

	if (t && t->sys == sys)
		rsv__task_stat_add(t, RSV_STAT_MISUSE, 1);
	else
		rsv__sys_stat_add(sys, RSV_STAT_MISUSE, 1);
}

static inline uint32_t rsv__pfn(const struct rsv_system *sys, const struct rsv_page *p)
{
	return (uint32_t)(p - sys->memmap);
}

/* The address of @p, a page of the system's arena (unchecked: rsv_page_address() checks). */
static inline char *rsv__page_addr(const struct rsv_system *sys, const struct rsv_page *p)
{
	return sys->arena + ((size_t)rsv__pfn(sys, p) << RSV_PAGE_SHIFT);
}

/* The page of the arena that holds @addr, or NULL. */
static inline struct rsv_page *rsv__addr_page(const struct rsv_system *sys, const void *addr)
{
	const char *a = addr;

	if (rsv_unlikely(a < sys->arena || a >= sys->arena + sys->arena_bytes))
		return NULL;
	return &sys->memmap[(size_t)(a - sys->arena) >> RSV_PAGE_SHIFT];
}

static inline struct rsv_page *rsv__pfn_page(const struct rsv_system *sys, uint32_t pfn)
{
	return &sys->memmap[pfn];
}

static inline void rsv__pfn_list_push(const struct rsv_system *sys, struct rsv_pfn_list *l,
				      uint32_t pfn)
{
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	p->prev = RSV_NIL;
	p->next = l->head;
	if (l->head != RSV_NIL)
		rsv__pfn_page(sys, l->head)->prev = pfn;
	else
		l->tail = pfn;
	l->head = pfn;
}

static inline void rsv__pfn_list_del(const struct rsv_system *sys, struct rsv_pfn_list *l,
				     uint32_t pfn)
{
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	if (p->prev != RSV_NIL)
		rsv__pfn_page(sys, p->prev)->next = p->next;
	else
		l->head = p->next;
	if (p->next != RSV_NIL)
		rsv__pfn_page(sys, p->next)->prev = p->prev;
	else
		l->tail = p->prev;
	p->next = p->prev = RSV_NIL;
}

/* rsv__pfn_list_del() of the head, which has no prev: the caches' pop, one branch fewer. */
static inline uint32_t rsv__pfn_list_pop(const struct rsv_system *sys, struct rsv_pfn_list *l)
{
	uint32_t pfn = l->head;
	struct rsv_page *p = rsv__pfn_page(sys, pfn);

	rsv_assert(pfn != RSV_NIL && p->prev == RSV_NIL);
	l->head = p->next;
	if (p->next != RSV_NIL)
		rsv__pfn_page(sys, p->next)->prev = RSV_NIL;
	else
		l->tail = RSV_NIL;
	p->next = RSV_NIL;
	return pfn;
}

static inline long rsv__zone_free(const struct rsv_zone *z)
{
	return atomic_load_explicit(&z->nr_free_pages, memory_order_relaxed);
}

/* misuse.c */
int rsv__misuse(struct rsv_system *sys, const char *fmt, ...) RSV_PRINTF(2, 3);
void rsv__set_error(struct rsv_system *sys, const char *fmt, ...) RSV_PRINTF(2, 3);

/* watermark.c */
void rsv__setup_watermarks(struct rsv_system *sys);
bool rsv__zone_watermark_ok(const struct rsv_zone *z, unsigned order, unsigned long mark,
			    unsigned alloc_flags, long free_pages);

/* zone_watermark_fast(): the order-0 common case inline, the rest out of line. */
static inline bool rsv__zone_watermark_fast(const struct rsv_zone *z, unsigned order,
					    unsigned long mark, unsigned alloc_flags)
{
	long free_pages = rsv__zone_free(z);

	if (rsv_likely(!order)) {
		long fast_free = free_pages;

		if (!(alloc_flags & RSV_ALLOC_RESERVES))
			fast_free -= (long)z->nr_reserved_highatomic;
		if (fast_free > (long)(mark + z->lowmem_reserve))
			return true;
	}
	return rsv__zone_watermark_ok(z, order, mark, alloc_flags, free_pages);
}

/* buddy.c: callers hold zone->lock (asserted) */
void rsv__buddy_init(struct rsv_system *sys);
struct rsv_page *rsv__rmqueue_smallest(struct rsv_system *sys, unsigned order);
void rsv__free_one_page(struct rsv_system *sys, uint32_t pfn, unsigned order);
void rsv__zone_wake_waiters(struct rsv_system *sys);

/* pcp.c */
void rsv__pcp_init(struct rsv_pcp *pcp);
struct rsv_page *rsv__rmqueue(struct rsv_system *sys, struct rsv_task *tsk, unsigned order);
void rsv__free_to_pcp_or_buddy(struct rsv_system *sys, struct rsv_task *tsk, uint32_t pfn,
			       unsigned order);
int rsv__drain_pcp(struct rsv_system *sys, struct rsv_task *owner); /* owner == current */
void rsv__pcp_setup(struct rsv_system *sys);
/* Stops every task's cache for inspection (the checker); callers hold sys->tasks_lock
 * (asserted, as every "callers hold" below). */
void rsv__pcp_freeze_all(struct rsv_system *sys);
/* Drains every task's cache that holds pages; callers hold sys->tasks_lock. Pages freed. */
int rsv__pcp_drain_all(struct rsv_system *sys);
void rsv__pcp_thaw_all(struct rsv_system *sys);

/* gfp.c */
unsigned rsv__gfp_to_alloc_flags(rsv_gfp_t gfp, unsigned order);
unsigned rsv__gfp_pfmemalloc_flags(const struct rsv_system *sys, const struct rsv_task *tsk,
				   rsv_gfp_t gfp);
rsv_gfp_t rsv__gfp_scoped(unsigned pf, rsv_gfp_t gfp);

/* current_gfp_context(), with the common no-scope case inline. */
static inline rsv_gfp_t rsv__task_gfp_context(const struct rsv_task *tsk, rsv_gfp_t gfp)
{
	unsigned pf = tsk ? rsv__task_flags(tsk) : 0;

	return rsv_likely(!(pf & RSV_PF_SCOPE_MASK)) ? gfp : rsv__gfp_scoped(pf, gfp);
}

/* rsv_gfp_check() != 0, with the common masks decided inline: only the rarely used
 * NOFAIL/NORETRY/RETRY_MAYFAIL combinations need the full rules. */
static inline bool rsv__gfp_invalid(rsv_gfp_t gfp, unsigned order)
{
	if (rsv_unlikely(gfp & (RSV___GFP_NOFAIL | RSV___GFP_NORETRY | RSV___GFP_RETRY_MAYFAIL)))
		return rsv_gfp_check(gfp, order) != 0;
	return (gfp & ~RSV_GFP_VALID_MASK) || order > RSV_MAX_ORDER ||
	       (gfp & (RSV___GFP_FS | RSV___GFP_IO | RSV___GFP_DIRECT_RECLAIM)) ==
		       (RSV___GFP_FS | RSV___GFP_DIRECT_RECLAIM);
}

/* page_alloc.c */
struct rsv_page *rsv__alloc_pages_slowpath(struct rsv_system *sys, struct rsv_task *tsk,
					   rsv_gfp_t gfp, unsigned order);

/* task.c */
void rsv__task_free_all(struct rsv_system *sys);
struct rsv_task *rsv__task_by_id(struct rsv_system *sys, unsigned id);
void rsv__kthreads_stop(struct rsv_system *sys);

/* check/watchdog.c */
void rsv__watchdog_exit(struct rsv_system *sys);

/* check/lockdep.c: the fs_reclaim and io_reclaim pseudo-locks; no-ops unless
 * rsv_lockdep_enable() ran, and nothing at all in a build without the checker
 * (RSV_LOCKDEP=OFF), as the kernel's without CONFIG_LOCKDEP. reclaim_enter() returns what
 * reclaim_exit() releases. */
#ifndef RSV_NO_LOCKDEP
void rsv__lockdep_might_alloc(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp);
const char *rsv__lockdep_reclaim_enter(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp);
void rsv__lockdep_reclaim_exit(struct rsv_system *sys, const char *held);
void rsv__lockdep_exit(struct rsv_system *sys);
#else
static inline void rsv__lockdep_might_alloc(struct rsv_system *sys, struct rsv_task *t,
					    rsv_gfp_t gfp)
{
	(void)sys, (void)t, (void)gfp;
}
static inline const char *rsv__lockdep_reclaim_enter(struct rsv_system *sys, struct rsv_task *t,
						     rsv_gfp_t gfp)
{
	(void)sys, (void)t, (void)gfp;
	return NULL;
}
static inline void rsv__lockdep_reclaim_exit(struct rsv_system *sys, const char *held)
{
	(void)sys, (void)held;
}
static inline void rsv__lockdep_exit(struct rsv_system *sys)
{
	(void)sys;
}
#endif

/* task.c: every task, and every task to come, takes its allocations past the checkers. */
void rsv__arm_alloc_hooks(struct rsv_system *sys);
/* task.c: a worker of an I/O path (rsv_task_serve_io()) allocating with reclaim that may issue
 * I/O, named once per task. */
void rsv__io_path_check(struct rsv_task *t, rsv_gfp_t gfp);
/* The checkers every allocation path asks for a task with t->alloc_hooks, before it
 * allocates: lockdep's might_alloc(), then the I/O-path check. */
static inline void rsv__might_alloc(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp)
{
	rsv__lockdep_might_alloc(sys, t, gfp);
	if (rsv_unlikely(t->io_path[0]))
		rsv__io_path_check(t, gfp);
}
/* check/fault.c: should this allocation fail? Asked for tasks with t->alloc_hooks. */
bool rsv__should_fail(struct rsv_system *sys, struct rsv_task *t, enum rsv_fault_attr a,
		      rsv_gfp_t gfp, unsigned order, size_t size);
void rsv__fault_exit(struct rsv_system *sys);

/* mm/describe.c: the words reports give a blocked task. */
void rsv__describe_task(void *sys, struct rsv_thread *t, uint64_t now,
			struct rsv_thread_note *note);
static inline struct rsv_task_doing rsv__doing_begin(struct rsv_task *t, enum rsv_doing what,
						     const void *obj)
{
	struct rsv_task_doing prev = t->doing;

	t->doing = (struct rsv_task_doing){ .what = what, .obj = obj, .since = rsv_now() };
	return prev;
}

/* system.c: the mm half of a system; src/system.c assembles the layers around it. */
struct rsv_system *rsv__mm_system_create(const struct rsv_system_config *cfg);
void rsv__mm_system_destroy(struct rsv_system *sys);

extern const struct rsv_reclaim_ops rsv__no_reclaim_ops;

#endif
