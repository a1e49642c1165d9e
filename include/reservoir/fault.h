/* reservoir/fault.h: fault injection, the kernel's fail_page_alloc, failslab and
 * fail_mempool_alloc knobs (Documentation/fault-injection), so that error paths run.
 *
 * Each attribute decides, for every eligible call, whether to fail it; the knobs apply in the
 * kernel's order: the task filter, then space (bytes that must pass first), probability,
 * interval, and times (how many failures in all). Independently a task may ask for exactly
 * its N-th fault site to fail (/proc/self/fail-nth), which overrides every knob, the way a
 * sweep raises N until a call succeeds without the fault firing.
 *
 * fail_page_alloc and fail_slab make the allocation return NULL; fail_mempool_alloc and
 * fail_mempool_alloc_bulk make the pool's backing allocator fail, so the pool's elements are
 * used. A __GFP_NOFAIL allocation is never failed; with ignore_gfp_wait (the default, as in
 * the kernel) neither is one that may sleep.
 *
 * Knobs are set through rsv_fault_set() or rsv_fault_parse(), which also reads the
 * RSV_FAIL environment variable at rsv_system_create():
 *   RSV_FAIL="fail_slab:probability=10,times=-1;fail_page_alloc:interval=100,times=5" */
#ifndef RESERVOIR_FAULT_H
#define RESERVOIR_FAULT_H

#include "defs.h"

struct rsv_system;
struct rsv_task;

enum rsv_fault_attr {
	RSV_FAIL_PAGE_ALLOC,
	RSV_FAIL_SLAB,
	RSV_FAIL_MEMPOOL_ALLOC,
	RSV_FAIL_MEMPOOL_ALLOC_BULK,
	RSV_NR_FAULT_ATTRS
};

struct rsv_fault_config {
	bool enabled;
	unsigned probability;   /* percent, 0..100 */
	unsigned long interval; /* only every N-th call that passed the other tests; 0 or 1: each */
	long times;             /* failures allowed in all; -1 = unlimited, 0 = none */
	unsigned long space;    /* bytes allowed through before anything fails */
	unsigned verbose;       /* 0: silent; 1: a line on stderr per failure; 2: with counts */
	bool ignore_gfp_wait;   /* spare allocations that may sleep (__GFP_DIRECT_RECLAIM) */
	unsigned min_order;     /* fail_page_alloc: only orders at least this */
	bool task_filter;       /* only tasks marked with rsv_task_make_it_fail() */
};

/* The kernel's defaults: enabled, probability 100, interval 1, times 1, ignore_gfp_wait. */
RSV_API void rsv_fault_config_default(struct rsv_fault_config *c);
/* 0, or -EINVAL for an unknown attribute or a knob out of range. */
RSV_API int rsv_fault_set(struct rsv_system *sys, enum rsv_fault_attr a,
			  const struct rsv_fault_config *c);
RSV_API int rsv_fault_get(struct rsv_system *sys, enum rsv_fault_attr a,
			  struct rsv_fault_config *c);
/* "attr:knob=value,...;attr:..." as in RSV_FAIL. Unnamed knobs keep the kernel's defaults.
 * 0, or -EINVAL with a message naming the bad word and the valid choices in @err. */
RSV_API int rsv_fault_parse(struct rsv_system *sys, const char *spec, char *err, size_t errlen);
RSV_API const char *rsv_fault_attr_name(enum rsv_fault_attr a);
/* Calls seen and failures injected so far. */
RSV_API uint64_t rsv_fault_calls(struct rsv_system *sys, enum rsv_fault_attr a);
RSV_API uint64_t rsv_fault_injected(struct rsv_system *sys, enum rsv_fault_attr a);

/* /proc/<pid>/make-it-fail, for task_filter. */
RSV_API int rsv_task_make_it_fail(struct rsv_task *t, bool on);
/* /proc/self/fail-nth: the calling task's @n-th fault site from now fails, whatever the
 * knobs say (1 = the next one); 0 cancels. -EPERM outside a task. */
RSV_API int rsv_fail_nth_set(unsigned n);
/* What is left of it: 0 once the failure has been injected (or none was asked for). */
RSV_API unsigned rsv_fail_nth_get(void);

#endif
