/* reservoir/bufio.h: a dm-bufio client whose shrinker is gated by policy `bufio`. */
#ifndef RESERVOIR_BUFIO_H
#define RESERVOIR_BUFIO_H

#include "bdev.h"
#include "gfp.h"

struct rsv_system;

/* A buffer cache over a device: one page per block, a client mutex, clean and dirty LRU lists,
 * and a shrinker whose behaviour is policy `bufio`:
 *   gfp-io     (before 9d28eb12447e) the scan takes the mutex blocking and writes dirty
 *              buffers (waiting for them) only when the reclaim context has __GFP_IO;
 *              otherwise it trylocks and skips dirty buffers;
 *   gfp-fs     (9d28eb12447e) the same, gated on __GFP_FS;
 *   workqueue  (v5.9) the scan adds to a count and wakes the client's worker, which takes the
 *              mutex and evicts clean, then dirty buffers; the reclaimer never blocks here. */
struct rsv_bufio_client;
struct rsv_buffer;

struct rsv_bufio_stats {
	uint64_t buffers, dirty;
	uint64_t scans, stops;         /* shrinker scans; SHRINK_STOPs for a contended mutex */
	uint64_t evicted, written;     /* buffers freed by reclaim; dirty ones written first */
	uint64_t dirty_reached;        /* scans (reclaim's or the worker's) that got past the
					* clean buffers to a dirty one, written or not */
	uint64_t worker_runs;
};

/* A dm-bufio client of @sys on @dev, with its shrinker registered and its worker started.
 * Called by a task of @sys; may sleep. NULL with errno (EINVAL, ENOMEM). */
RSV_API struct rsv_bufio_client *rsv_bufio_create(struct rsv_system *sys, const char *name,
						  struct rsv_bdev *dev);
/* The buffer for @block, created (a page allocated with @gfp) if absent, held by the caller
 * until rsv_bufio_release(). NULL when the allocation failed. */
RSV_API struct rsv_buffer *rsv_bufio_new(struct rsv_bufio_client *c, uint64_t block,
					 rsv_gfp_t gfp);
RSV_API void *rsv_buffer_data(struct rsv_buffer *b);
RSV_API void rsv_bufio_mark_dirty(struct rsv_buffer *b);
RSV_API void rsv_bufio_release(struct rsv_buffer *b);
/* Writes every dirty buffer and waits: 0, or the first I/O error. */
RSV_API int rsv_bufio_write_dirty(struct rsv_bufio_client *c);
RSV_API void rsv_bufio_stats(struct rsv_bufio_client *c, struct rsv_bufio_stats *out);
/* The client's mutex ("M" of the 2020 dm-bufio/loop thread). */
RSV_API struct rsv_mutex *rsv_bufio_lock(struct rsv_bufio_client *c);

#endif
