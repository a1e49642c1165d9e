/* reservoir/crypt.h: dm-crypt over any device: ios from a bioset, bounce pages from a page mempool,
 * a kcryptd worker that encrypts and submits. */
#ifndef RESERVOIR_CRYPT_H
#define RESERVOIR_CRYPT_H

#include "bio.h"

struct rsv_crypt_stats {
	uint64_t ios, inflight_max;
	uint64_t io_pool_waits, page_pool_waits; /* sleeps in mempool_alloc */
	uint64_t io_pool_grants, page_pool_grants; /* backing allocations below min */
	uint64_t page_pool_reclaims; /* kcryptd's pool allocations that entered direct reclaim */
	uint64_t worker_throttles;   /* kcryptd's sleeps in reclaim throttling, of any kind */
	uint64_t worker_throttled_ns; /* and the time it spent in them */
	long pool_fill, pool_size;   /* elements in both pools now, and their min_nr */
	long page_pool_fill, page_pool_size; /* the bounce-page pool's alone */
	long page_pool_low_water;            /* ...and the fewest it ever held */
	long free_after_grant; /* the fewest free pages a grant below min left (-1: none) */
};

struct rsv_crypt_config {
	int io_pool;          /* crypt ios preallocated; 0 = 16 */
	int page_pool;        /* bounce pages preallocated; 0 = 16 */
	rsv_gfp_t worker_gfp; /* kcryptd's bounce-page allocations; 0 = GFP_NOIO */
};

/* dm-crypt over @lower (@cfg may be NULL): its own ios from a bioset, bounce pages from a page
 * pool, and a worker task ("kcryptd", a kernel thread) that encrypts and submits. The ios
 * are allocated in the submitter's context with GFP_NOIO (the swap-out path's allocation),
 * the bounce pages in the worker's. Destroyed with the system. */
RSV_API struct rsv_bdev *rsv_crypt_create(struct rsv_system *sys, const char *name,
					  struct rsv_bdev *lower,
					  const struct rsv_crypt_config *cfg);
RSV_API void rsv_crypt_stats(struct rsv_bdev *crypt, struct rsv_crypt_stats *out);

#endif
