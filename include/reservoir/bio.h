/* reservoir/bio.h: the I/O stacks of the seed threads. I/O descriptors from a bioset mempool;
 * dm-crypt (a worker that encrypts into bounce pages from a page mempool) over any device, so
 * that swap over dm-crypt is an anonymous mapping whose device is a crypt device; a small
 * filesystem; a loop device whose worker writes into a file of that filesystem; and a dm-bufio
 * client whose shrinker is gated by policy `bufio`.
 *
 * A bio is one page of I/O to one device. It comes from its bioset's mempool, so a writer
 * that may block always gets one, and goes back there when its completion has run. */
#ifndef RESERVOIR_BIO_H
#define RESERVOIR_BIO_H

#include "bdev.h"
#include "gfp.h"

struct rsv_mempool;
struct rsv_kmem_cache;
struct rsv_bio;

typedef void (*rsv_bio_end_io_t)(struct rsv_bio *bio);

struct rsv_bio {
	struct rsv_request req; /* what the device sees */
	struct rsv_bioset *bs;
	rsv_bio_end_io_t end_io; /* runs in the completing device's task; then put the bio */
	void *private;
	size_t front_pad;        /* bytes before the bio a user asked for (bioset_init's) */
};

struct rsv_bioset {
	struct rsv_kmem_cache *cache;
	struct rsv_mempool *pool;
	size_t front_pad;
};

/* A set of bios with @front_pad bytes of the user's state in front of each (the kernel's
 * container_of idiom), @pool_size of them preallocated. 0, -EINVAL, -EPERM, -ENOMEM. */
RSV_API int rsv_bioset_init(struct rsv_bioset *bs, struct rsv_system *sys, const char *name,
			    int pool_size, size_t front_pad);
RSV_API void rsv_bioset_exit(struct rsv_bioset *bs);
/* mempool_alloc(): never NULL for a caller that may block. */
RSV_API struct rsv_bio *rsv_bio_alloc(struct rsv_bioset *bs, rsv_gfp_t gfp);
RSV_API void rsv_bio_put(struct rsv_bio *bio);
/* The user's state in front of @bio. */
static inline void *rsv_bio_front(struct rsv_bio *bio)
{
	return (char *)bio - bio->front_pad;
}
/* Writes or reads @page at @sector of @dev; @bio->end_io runs on completion. */
RSV_API int rsv_submit_bio(struct rsv_bio *bio, struct rsv_bdev *dev, enum rsv_req_op op,
			   uint64_t sector, struct rsv_page *page);

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

/* ---- swap ---- */

/* A swap area of @nr_slots page slots on @lower (at most its size): an anonymous mapping whose
 * device it is swaps out to it. Each write takes a free slot and goes to @lower in the
 * submitter's context (so swap over dm-crypt allocates the crypt io as the reclaimer); a full
 * area refuses with -ENOSPC and the page stays. Destroyed with the system. */
RSV_API struct rsv_bdev *rsv_swap_create(struct rsv_system *sys, const char *name,
					 struct rsv_bdev *lower, uint64_t nr_slots);

struct rsv_swap_stats {
	uint64_t slots, used, full_refusals;
};
RSV_API void rsv_swap_stats(struct rsv_bdev *swap, struct rsv_swap_stats *out);

/* ---- a small filesystem ---- */

/* A log-structured filesystem on @dev with one file: every write appends a page-cache page
 * (no block is ever overwritten in place), written back by the flusher through @dev with
 * __GFP_FS needed, as a filesystem's writeback does. One lock serialises writers and
 * transactions, and inside it the filesystem allocates with GFP_NOFS, as journalling
 * filesystems do: reclaim must not re-enter it while the lock is held. */
struct rsv_fs;

struct rsv_fs_stats {
	uint64_t writes, transactions, failed_allocations;
};

RSV_API struct rsv_fs *rsv_fs_create(struct rsv_system *sys, const char *name,
				     struct rsv_bdev *dev);
/* Appends one page of @data under the lock. The page-cache page is allocated with @gfp, as
 * narrowed by the caller's scope (a loop worker under memalloc_noio gets GFP_NOIO). 0, or
 * -ENOMEM when @gfp allowed the allocation to fail. */
RSV_API int rsv_fs_write(struct rsv_fs *fs, const void *data, rsv_gfp_t gfp);
/* A transaction: takes the lock and, inside it, @nr_pages (at most RSV_FS_MAX_TRANSACTION)
 * journal pages with GFP_NOFS, released at commit. 0, -EINVAL, or -ENOMEM (with
 * __GFP_NORETRY in @extra_gfp). */
#define RSV_FS_MAX_TRANSACTION 512
RSV_API int rsv_fs_transaction(struct rsv_fs *fs, unsigned nr_pages, rsv_gfp_t extra_gfp);
/* The lock, for callers that want to hold it across their own work. */
RSV_API struct rsv_mutex *rsv_fs_lock(struct rsv_fs *fs);
RSV_API void rsv_fs_stats(struct rsv_fs *fs, struct rsv_fs_stats *out);

/* ---- loop ---- */

/* A block device of @nr_sectors pages backed by @fs's file: a worker task ("loop0") turns each
 * write into rsv_fs_write(GFP_KERNEL). Under policy loop=noio the worker runs each batch with
 * PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE, restoring its flags afterwards (d0a255e795ab); under
 * loop=plain its allocations may recurse into I/O, and through the shrinkers into the devices
 * stacked on it. Reads complete at once (the data is in the file). */
RSV_API struct rsv_bdev *rsv_loop_create(struct rsv_system *sys, const char *name,
					 struct rsv_fs *fs, uint64_t nr_sectors);

/* ---- dm-bufio ---- */

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
/* The client's mutex ("M" of spec G). */
RSV_API struct rsv_mutex *rsv_bufio_lock(struct rsv_bufio_client *c);

#endif
