/* reservoir/reclaim.h: reclaimable memory and the machinery that reclaims it.
 *
 * Pages of a mapping sit on the system's LRU: anonymous pages (reclaimed by writing them to
 * the mapping's swap device, which needs __GFP_IO), clean file pages (dropped), dirty file
 * pages (written back through the mapping's device first, which needs __GFP_FS when the
 * mapping says writeback enters the filesystem), and pages under writeback (waited for).
 * Shrinkers let upper layers offer their caches to reclaim. kswapd reclaims in the
 * background between the low and high watermarks; allocators reclaim directly below min.
 *
 * Context: mapping and shrinker calls are made by a task of the system and may sleep when they
 * allocate (with the gfp given) or wait for writeback; shrinker callbacks run in the reclaiming
 * task's context, with its gfp, and must not allocate with a gfp wider than it. */
#ifndef RESERVOIR_RECLAIM_H
#define RESERVOIR_RECLAIM_H

#include "defs.h"
#include "gfp.h"
#include "sync.h"

struct rsv_system;
struct rsv_page;
struct rsv_bdev;
struct rsv_mapping;

enum rsv_mapping_kind { RSV_MAPPING_ANON, RSV_MAPPING_FILE };

#define RSV_MAPPING_FS 0x1u /* writing its pages back enters the filesystem: needs __GFP_FS */

/* @dev: the swap device (anon) or the backing device (file); NULL makes anonymous memory
 * unswappable and file pages unwritable (dirty pages then stay until the owner cleans them).
 * The mapping's anonymous pages are charged to the calling task (OOM badness). */
RSV_API struct rsv_mapping *rsv_mapping_create(struct rsv_system *sys,
					       enum rsv_mapping_kind kind, const char *name,
					       struct rsv_bdev *dev, unsigned flags);
/* Frees every page, waiting for writeback in flight. Called by a task of the mapping's system:
 * 0, -EINVAL, or -EPERM from any other thread. */
RSV_API int rsv_mapping_destroy(struct rsv_mapping *m);
/* Allocates a page for @index with @gfp (in the caller's context) and puts it on the LRU. */
RSV_API struct rsv_page *rsv_mapping_add_page(struct rsv_mapping *m, rsv_gfp_t gfp,
					      uint64_t index);
RSV_API unsigned long rsv_mapping_nr_pages(const struct rsv_mapping *m);
/* 0, or -EINVAL if @page is not a page of a mapping. */
RSV_API int rsv_page_mark_dirty(struct rsv_page *page);
RSV_API int rsv_page_touch(struct rsv_page *page); /* referenced: survives one more scan */
/* For tasks that dirty pages of @m, after dirtying (the kernel's write path does the same):
 * wakes the flusher above the background limit and pauses the caller, killably, above the
 * freerun ceiling, (thresh + background) / 2, until writeback brings the dirty and writeback
 * pages under the hard limit. A PF_LOCAL_THROTTLE task is weighed only by its device's
 * pages. Checks once every 32 pages the task dirtied; no-op for mappings without a device. */
RSV_API void rsv_balance_dirty_pages_ratelimited(struct rsv_mapping *m);

/* Gauges, like the kernel's NR_* node counters. */
enum rsv_vm_counter {
	RSV_NR_FILE,      /* file pages on the LRU */
	RSV_NR_ANON,      /* anonymous pages on the LRU */
	RSV_NR_DIRTY,
	RSV_NR_WRITEBACK,
	RSV_NR_SWAPPED,   /* anonymous pages written out and freed */
	RSV_NR_ISOLATED,  /* taken off the LRU by a reclaimer, not yet back */
	RSV_NR_VM_COUNTERS
};
/* The system's page counter @c (file, anon, dirty, writeback, swapped, isolated pages), as
 * /proc/vmstat's nr_* lines: a racy read, any thread. */
RSV_API long rsv_vm_counter(struct rsv_system *sys, enum rsv_vm_counter c);
/* The global dirty limits in pages: background (flushers start) and hard (writers wait). */
RSV_API void rsv_dirty_limits(struct rsv_system *sys, unsigned long *background,
			      unsigned long *thresh);
RSV_API const char *rsv_vm_counter_name(enum rsv_vm_counter c);

/* ---- shrinkers ---- */

#define RSV_SHRINK_STOP (~0UL)
#define RSV_SHRINK_EMPTY (~0UL - 1)
#define RSV_DEFAULT_SEEKS 2

struct rsv_shrink_control {
	rsv_gfp_t gfp_mask;        /* the reclaim context: a shrinker restricts itself by it */
	unsigned long nr_to_scan;
	unsigned long nr_scanned;  /* a scan may report more work than it freed */
};

struct rsv_shrinker {
	unsigned long (*count_objects)(struct rsv_shrinker *s, struct rsv_shrink_control *sc);
	unsigned long (*scan_objects)(struct rsv_shrinker *s, struct rsv_shrink_control *sc);
	long batch; /* 0 = 128 */
	int seeks;  /* 0 = RSV_DEFAULT_SEEKS */
	const char *name;
	void *private_data;
	/* Owned by the shrinker core. */
	_Atomic long nr_deferred;
	struct rsv_list node;
	bool registered, dying;
	int active; /* scans in progress */
	_Atomic uint64_t nr_calls, nr_freed, nr_overscan;
};

/* 0, -EBUSY if already registered, -EINVAL without callbacks. */
RSV_API int rsv_register_shrinker(struct rsv_system *sys, struct rsv_shrinker *s);
/* 0, -ENOENT if @s is not registered with @sys. */
RSV_API int rsv_unregister_shrinker(struct rsv_system *sys, struct rsv_shrinker *s);
/* One shrink_slab() pass at @priority (12 = gentlest) with @gfp; objects freed. */
RSV_API unsigned long rsv_shrink_slab(struct rsv_system *sys, rsv_gfp_t gfp, int priority);

/* ---- reclaim entry points ---- */

/* try_to_free_pages() for the calling task, in its context; pages reclaimed. */
RSV_API unsigned long rsv_try_to_free_pages(rsv_gfp_t gfp, unsigned order);

#endif
