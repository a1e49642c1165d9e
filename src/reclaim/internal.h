/* Private to the library: the reclaim layer's state (LRU lists, mappings, shrinkers,
 * kswapd, devices) hung off struct rsv_system, and the page flags it uses. */
#ifndef RSV_RECLAIM_INTERNAL_H
#define RSV_RECLAIM_INTERNAL_H

#include "mm/internal.h"


enum rsv_lru_type { RSV_LRU_ANON, RSV_LRU_FILE, RSV_NR_LRU };

enum rsv_throttle_reason {
	RSV_THROTTLE_WRITEBACK,
	RSV_THROTTLE_ISOLATED,
	RSV_THROTTLE_NOPROGRESS,
	RSV_THROTTLE_CONGESTED,
	RSV_NR_THROTTLE_REASONS
};

/* Threaded through page->next/prev (free while a page is allocated); head is the newest. */
struct rsv_lru {
	struct rsv_pfn_list list;
	_Atomic unsigned long nr; /* changed under lru_lock; read without it for scan targets */
};

static inline unsigned long rsv__lru_size(const struct rsv_lru *l)
{
	return atomic_load_explicit(&l->nr, memory_order_relaxed);
}

struct rsv_mapping {
	struct rsv_system *sys;
	enum rsv_mapping_kind kind;
	char name[32];
	struct rsv_bdev *dev;
	unsigned flags;
	struct rsv_task *owner; /* charged for the anonymous pages */
	_Atomic long nr_pages;
	_Atomic long nr_inflight; /* pages under writeback */
	_Atomic long nr_dirty;
	_Atomic uint64_t dirtied_when; /* the inode's: when nr_dirty last left 0 */
	struct rsv_list node;
};

struct rsv_reclaim {
	struct rsv_system *sys;

	struct rsv_spinlock lru_lock;
	struct rsv_lru lru[RSV_NR_LRU];
	_Atomic long vm[RSV_NR_VM_COUNTERS];
	struct rsv_waitqueue writeback_wait; /* writeback completions */

	struct rsv_spinlock shrinker_lock; /* the list; scans hold a reference, not the lock */
	struct rsv_list shrinkers;
	struct rsv_waitqueue shrinker_idle; /* unregister waits here for scans to finish */

	struct rsv_spinlock objects_lock; /* the mapping and device lists */
	struct rsv_list mappings;
	struct rsv_list bdevs;
	struct rsv_list wb_inflight; /* writeback requests in flight (vmscan.c) */

	/* The OOM reaper's queue of victims. */
	struct rsv_task *oom_reaper;
	struct rsv_spinlock oom_queue_lock;
	struct rsv_task *oom_queue[64];
	uint64_t oom_queued_at[64];
	unsigned oom_queue_len;
	struct rsv_waitqueue oom_reaper_wait;

	/* reclaim_throttle(): one queue per reason, and writeback completions since the first
	 * sleeper, for waking WRITEBACK sleepers after 32 per sleeper. */
	struct rsv_waitqueue reclaim_wait[RSV_NR_THROTTLE_REASONS];
	_Atomic bool congested; /* LRUVEC_NODE_CONGESTED: set by kswapd, cleared when balanced */
	struct rsv_waitqueue congestion_wait; /* pre-4.9 naps: nothing here wakes them early */
	_Atomic long isolated[RSV_NR_LRU];
	_Atomic long nr_written;
	_Atomic long nr_reclaim_start;
	_Atomic int nr_throttled;

	struct rsv_task *flusher;
	struct rsv_waitqueue flusher_wait;
	struct rsv_waitqueue dirty_pause; /* balance_dirty_pages() sleeps: only kills wake it */
	_Atomic bool flusher_woken;
	_Atomic bool flush_all;      /* reclaim asked for every dirty page */
	_Atomic bool dirty_exceeded; /* writers check their dirtying more often */
	/* The next periodic writeback round (wb_wakeup_delayed()); 0 while nothing is dirty. */
	_Atomic uint64_t kupdate_at;
	uint64_t dirty_expire_ns, dirty_writeback_ns;

	struct rsv_task *kswapd;
	struct rsv_waitqueue kswapd_wait;
	struct rsv_waitqueue pfmemalloc_wait;
	_Atomic bool kswapd_woken;
	_Atomic bool kswapd_sleeping;
	_Atomic unsigned kswapd_order;
	_Atomic int kswapd_failures;
	/* psi.c: pages kswapd reclaims past high, set when the kernel reports memory pressure
	 * and cleared once kswapd got there (the kernel's watermark_boost). */
	_Atomic unsigned long boost;
	struct rsv_task *psi_monitor;
	void *psi_monitor_fd; /* the trigger's descriptor, as the monitor's argument */
	int psi_state;        /* 1 armed, 0 not asked, -errno: unavailable (psi_why) */
	char psi_why[192];
	_Atomic uint64_t psi_events;
};

#define SWAP_CLUSTER_MAX 32UL
#define DEF_PRIORITY 12
#define MAX_KSWAPD_FAILURES 16

static inline struct rsv_reclaim *rsv__reclaim(const struct rsv_system *sys)
{
	return sys->reclaim_data;
}

static inline void rsv__vm_add(struct rsv_reclaim *r, enum rsv_vm_counter c, long n)
{
	atomic_fetch_add_explicit(&r->vm[c], n, memory_order_relaxed);
}

/* Every change of a page's PG_dirty goes through here: the global and the mapping's count,
 * and the mapping's dirtied_when when it turns dirty. True when the system had nothing dirty
 * before: the caller then arms periodic writeback with rsv__wb_wakeup_delayed() once it holds
 * no spinlock (waking the flusher is a scheduling point). */
static inline bool rsv__account_dirty(struct rsv_mapping *m, long n)
{
	struct rsv_reclaim *r = m->sys->reclaim_data;
	long before = atomic_fetch_add_explicit(&r->vm[RSV_NR_DIRTY], n, memory_order_relaxed);

	if (atomic_fetch_add_explicit(&m->nr_dirty, n, memory_order_relaxed) <= 0 && n > 0)
		atomic_store_explicit(&m->dirtied_when, rsv_now(), memory_order_relaxed);
	return before <= 0 && before + n > 0;
}

static inline long rsv__vm_get(const struct rsv_reclaim *r, enum rsv_vm_counter c)
{
	return atomic_load_explicit(&r->vm[c], memory_order_relaxed);
}

/* Reclaim runs in tasks, but its entry points are reachable from anywhere a page is freed. */
static inline void rsv__current_stat_add(enum rsv_stat_item item, uint64_t n)
{
	struct rsv_task *t = rsv__task_current();

	if (t)
		rsv__task_stat_add(t, item, n);
}

static inline struct rsv_mapping *rsv__page_mapping(const struct rsv_page *p)
{
	return p->mapping;
}

/* init.c */
int rsv__reclaim_init(struct rsv_system *sys);
void rsv__reclaim_exit(struct rsv_system *sys);

/* lru.c: callers hold r->lru_lock (asserted) */
void rsv__lru_add(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t);
void rsv__lru_del(struct rsv_system *sys, struct rsv_page *p, enum rsv_lru_type t);
struct rsv_page *rsv__lru_tail(struct rsv_system *sys, enum rsv_lru_type t);

/* mapping.c */
void rsv__mapping_free_page(struct rsv_page *p);
void rsv__mappings_destroy_all(struct rsv_system *sys);
void rsv__mappings_release_task(struct rsv_system *sys, struct rsv_task *t);

/* bdev.c */
void rsv__bdevs_destroy_all(struct rsv_system *sys);

/* vmscan.c */
unsigned long rsv__try_to_free_pages(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);
/* *@empty (may be NULL): there was nothing for any priority to look at, no page on a list
 * this reclaimer scans and no shrinker with objects. */
unsigned long rsv__shrink_node(struct rsv_system *sys, rsv_gfp_t gfp, int priority,
			       unsigned long nr_to_reclaim, bool is_kswapd, bool *empty);
unsigned long rsv__reclaimable_pages(struct rsv_system *sys);
bool rsv__allow_direct_reclaim(struct rsv_system *sys);
bool rsv__writeback_claim(struct rsv_page *p);
void rsv__writeback_submit(struct rsv_page *p, bool was_dirty);
void rsv__writeback_requests_free(struct rsv_reclaim *r);

/* invariants.c */
int rsv__reclaim_check(struct rsv_system *sys);

/* shrinker.c */
/* ...and sets *@had_objects when some shrinker counted objects (never clears it). */
unsigned long rsv__shrink_slab(struct rsv_system *sys, rsv_gfp_t gfp, int priority,
			       bool *had_objects);

/* oom.c */
enum rsv_oom_result rsv__out_of_memory(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);
int rsv__oom_reaper_start(struct rsv_system *sys);

/* throttle.c */
struct rsv_shrink_result {
	bool is_kswapd;
	int priority;
	unsigned long scanned, writeback, reclaimed;
	unsigned long dirty;     /* met dirty or under writeback */
	unsigned long congested; /* met under writeback a second time */
};
enum rsv_isolated_verdict { RSV_ISOLATED_SCAN, RSV_ISOLATED_GIVE_UP, RSV_ISOLATED_KILLED };
enum rsv_isolated_verdict rsv__wait_isolated(struct rsv_system *sys, enum rsv_lru_type t,
					     rsv_gfp_t gfp, bool is_kswapd);
void rsv__throttle_isolated_done(struct rsv_system *sys);
void rsv__clear_congested(struct rsv_system *sys);
void rsv__throttle_init(struct rsv_system *sys);
void rsv__throttle_after_shrink(struct rsv_system *sys, rsv_gfp_t gfp,
				const struct rsv_shrink_result *res);
void rsv__throttle_writeback_done(struct rsv_system *sys);

/* writeback.c */
int rsv__flusher_start(struct rsv_system *sys);
void rsv__wakeup_flusher(struct rsv_system *sys, bool all);
void rsv__wb_wakeup_delayed(struct rsv_system *sys);

/* kswapd.c */
int rsv__kswapd_start(struct rsv_system *sys);
/* psi.c: the pressure monitor, if the system asked for it (never fails the system). */
void rsv__psi_start(struct rsv_system *sys);
void rsv__psi_boost(struct rsv_system *sys);
void rsv__wakeup_kswapd(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order);

#endif
