/* reservoir/fs.h: a small log-structured filesystem with one lock and GFP_NOFS transactions. */
#ifndef RESERVOIR_FS_H
#define RESERVOIR_FS_H

#include "bdev.h"
#include "gfp.h"

struct rsv_system;

/* A log-structured filesystem on @dev with one file: every write appends a page-cache page
 * (no block is ever overwritten in place), written back by the flusher through @dev with
 * __GFP_FS needed, as a filesystem's writeback does. One lock serialises writers and
 * transactions, and inside it the filesystem allocates with GFP_NOFS, as journalling
 * filesystems do: reclaim must not re-enter it while the lock is held. */
struct rsv_fs;

struct rsv_fs_stats {
	uint64_t writes, transactions, failed_allocations;
};

/* A filesystem of @sys on @dev, whose writes go through its page cache and @dev. Called by a
 * task of @sys. NULL with errno (EINVAL for a device of another system, ENOMEM). */
RSV_API struct rsv_fs *rsv_fs_create(struct rsv_system *sys, const char *name,
				     struct rsv_bdev *dev);
/* Appends one page of @data under the lock. The page-cache page is allocated with @gfp, as
 * narrowed by the caller's scope (a loop worker under memalloc_noio gets GFP_NOIO). 0, or
 * -ENOMEM when @gfp allowed the allocation to fail. */
RSV_API int rsv_fs_write(struct rsv_fs *fs, const void *data, rsv_gfp_t gfp);
#define RSV_FS_MAX_TRANSACTION 512
/* A transaction: takes the lock and, inside it, @nr_pages (at most RSV_FS_MAX_TRANSACTION)
 * journal pages with GFP_NOFS, released at commit. 0, -EINVAL, or -ENOMEM (with
 * __GFP_NORETRY in @extra_gfp). */
RSV_API int rsv_fs_transaction(struct rsv_fs *fs, unsigned nr_pages, rsv_gfp_t extra_gfp);
/* The lock, for callers that want to hold it across their own work. */
RSV_API struct rsv_mutex *rsv_fs_lock(struct rsv_fs *fs);
RSV_API void rsv_fs_stats(struct rsv_fs *fs, struct rsv_fs_stats *out);

#endif
