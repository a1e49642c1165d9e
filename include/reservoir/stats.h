/* reservoir/stats.h: event counters, like /proc/vmstat. Each task counts its own events
 * without atomic read-modify-writes; reads sum over the system's tasks. */
#ifndef RESERVOIR_STATS_H
#define RESERVOIR_STATS_H

#include <stdio.h>
#include "defs.h"

struct rsv_system;

#define RSV_STAT_LIST(X)                                                                           \
	X(ALLOC_FAST, "alloc_fast", "allocations served at the low watermark")                     \
	X(ALLOC_PCP_HIT, "alloc_pcp_hit", "allocations served from the task's page cache")         \
	X(ALLOC_BUDDY, "alloc_buddy", "allocations served from the buddy lists directly")          \
	X(ALLOC_SLOW, "alloc_slow", "allocations that entered the slow path")                      \
	X(ALLOC_FAIL, "alloc_fail", "allocations that returned NULL")                              \
	X(ALLOC_ZEROED, "alloc_zeroed", "allocations zeroed for __GFP_ZERO")                       \
	X(FREE, "free", "blocks freed")                                                            \
	X(PCP_REFILL, "pcp_refill", "per-task cache refills from the buddy")                       \
	X(PCP_SPILL, "pcp_spill", "per-task cache spills above the high mark")                     \
	X(DRAIN_ALL, "drain_all", "drains of every task's page cache")                             \
	X(WMARK_FAIL_MIN, "wmark_fail_min", "watermark checks failed at min")                      \
	X(WMARK_FAIL_LOW, "wmark_fail_low", "watermark checks failed at low")                      \
	X(WMARK_FAIL_HIGH, "wmark_fail_high", "watermark checks failed at high")                   \
	X(GRANT_NO_WATERMARKS, "grant_no_watermarks",                                              \
	  "allocations below min via ALLOC_NO_WATERMARKS")                                         \
	X(GRANT_OOM, "grant_oom", "allocations below min via ALLOC_OOM")                           \
	X(GRANT_MIN_RESERVE, "grant_min_reserve", "allocations below min via ALLOC_MIN_RESERVE")   \
	X(GRANT_NON_BLOCK, "grant_non_block", "allocations below min via ALLOC_NON_BLOCK")         \
	X(BELOW_MIN_PF_MEMALLOC, "below_min_pf_memalloc",                                          \
	  "pages taken below min by PF_MEMALLOC tasks")                                            \
	X(BELOW_MIN_GFP_MEMALLOC, "below_min_gfp_memalloc",                                        \
	  "pages taken below min by __GFP_MEMALLOC")                                               \
	X(BELOW_MIN_OOM_VICTIM, "below_min_oom_victim", "pages taken below min by OOM victims")    \
	X(BELOW_MIN_ATOMIC, "below_min_atomic", "pages taken below min by __GFP_HIGH callers")     \
	X(BELOW_MIN_NONBLOCK, "below_min_nonblock",                                                \
	  "pages taken below min by non-blocking callers")                                         \
	X(BELOW_MIN_NOFAIL, "below_min_nofail", "pages taken below min by __GFP_NOFAIL callers")   \
	X(KSWAPD_WAKE, "kswapd_wake_requests", "requests to wake kswapd")                          \
	X(DIRECT_RECLAIM, "direct_reclaim", "direct reclaim rounds")                               \
	X(DIRECT_RECLAIM_PAGES, "direct_reclaim_pages", "pages reclaimed by direct reclaim")       \
	X(RECLAIM_RETRY, "reclaim_retry", "slow path retries after should_reclaim_retry")          \
	X(OOM_CALL, "oom_call", "calls into the OOM killer")                                       \
	X(NOFAIL_WAIT, "nofail_wait", "__GFP_NOFAIL waits for freed pages")                        \
	X(MISUSE, "misuse", "misuses detected (double free, foreign page, bad input)")             \
	X(PGSCAN, "pgscan", "LRU pages scanned by reclaim")                                        \
	X(PGSTEAL, "pgsteal", "pages reclaimed from the LRU")                                      \
	X(PGROTATED, "pgrotated", "referenced pages given another round")                          \
	X(PGSKIP_DIRTY, "pgskip_dirty", "dirty pages skipped: writeback not allowed")              \
	X(PGSKIP_ANON, "pgskip_anon", "anonymous pages skipped: swap-out not allowed")             \
	X(PGSKIP_WRITEBACK, "pgskip_writeback", "pages skipped while under writeback")             \
	X(PGWRITEBACK, "pgwriteback", "dirty file pages sent to writeback by reclaim")             \
	X(PSWPOUT, "pswpout", "anonymous pages written to swap")                                   \
	X(SLABS_SCANNED, "slabs_scanned", "objects shrinkers were asked to scan")                  \
	X(SHRINKER_FREED, "shrinker_freed", "objects shrinkers freed")                             \
	X(KSWAPD_WAKEUP, "kswapd_wakeups", "times kswapd was woken from sleep")                    \
	X(KSWAPD_RECLAIM, "kswapd_reclaim_pages", "pages kswapd reclaimed")                        \
	X(KSWAPD_FAILURE, "kswapd_failures", "kswapd runs that reclaimed nothing")                 \
	X(THROTTLE_DIRECT, "throttle_direct_reclaim",                                              \
	  "direct reclaimers throttled on pfmemalloc_wait")                                        \
	X(OOM_KILL, "oom_kill", "tasks killed by the OOM killer")                                  \
	X(OOM_KILL_RECLAIMABLE, "oom_kill_reclaimable",                                            \
	  "of those, kills made while reclaim could still free pages (file, or anon with swap)")   \
	X(THROTTLE_VM_WRITEOUT, "throttle_vm_writeout",                                            \
	  "sleeps in throttle_vm_writeout (pre-4.9)")                                              \
	X(THROTTLE_WRITEBACK, "throttle_writeback", "reclaim_throttle sleeps: writeback")          \
	X(THROTTLE_NOPROGRESS, "throttle_noprogress", "reclaim_throttle sleeps: no progress")      \
	X(THROTTLE_ISOLATED, "throttle_isolated", "sleeps because too many pages were isolated")   \
	X(THROTTLE_CONGESTED, "throttle_congested", "reclaim_throttle sleeps: node congested")     \
	X(THROTTLE_NS, "throttle_ns", "nanoseconds reclaimers slept throttled")                    \
	X(OOM_REAPED, "oom_reaped_pages", "pages the OOM reaper freed from victims")               \
	X(FLUSHER_WAKEUP, "flusher_wakeups", "flusher rounds of background or reclaim writeback")  \
	X(FLUSHER_PAGES, "flusher_pages", "dirty pages the flusher sent to writeback")             \
	X(FLUSHER_KUPDATE, "flusher_kupdate_pages",                                                \
	  "of those, pages of files dirty longer than dirty_expire_centisecs")                     \
	X(DIRTY_THROTTLE, "dirty_throttle", "balance_dirty_pages pauses")                          \
	X(DIRTY_THROTTLE_NS, "dirty_throttle_ns",                                                  \
	  "nanoseconds writers paused in balance_dirty_pages")                                     \
	X(MEMPOOL_WAIT_WOKEN, "mempool_wait_woken",                                                \
	  "mempool_alloc() waits ended by a free to the pool")                                     \
	X(MEMPOOL_WAIT_TIMEOUT, "mempool_wait_timeout",                                            \
	  "mempool_alloc() waits ended by their 5 s timeout (the re-poll)")

enum rsv_stat_item {
#define RSV_STAT_ENUM(id, name, doc) RSV_STAT_##id,
	RSV_STAT_LIST(RSV_STAT_ENUM)
#undef RSV_STAT_ENUM
	RSV_NR_STATS
};

/* Event @item summed over the system's tasks, living and exited. Any thread; a racy sum that
 * never goes backwards for one task. */
RSV_API uint64_t rsv_stats_get(struct rsv_system *sys, enum rsv_stat_item item);
struct rsv_task;
/* One task's own count: what it did itself (kswapd's work is kswapd's). */
RSV_API uint64_t rsv_task_stat(const struct rsv_task *t, enum rsv_stat_item item);
/* Fills out[RSV_NR_STATS]. */
RSV_API void rsv_stats_snapshot(struct rsv_system *sys, uint64_t *out);
RSV_API const char *rsv_stat_name(enum rsv_stat_item item);
RSV_API const char *rsv_stat_doc(enum rsv_stat_item item);
/* "name value" lines, nonzero counters only unless @all, then free pages and watermarks. */
RSV_API void rsv_stats_print(struct rsv_system *sys, FILE *out, bool all);

#endif
