/* A small log-structured filesystem: one lock, one file whose pages live in the page cache,
 * writeback through the device below.
 *
 * It exists for the 2014-2020 dm-bufio/loop arguments (Patocka's "[PATCH 0/6] Overhaul
 * memalloc_no*", 2020): a filesystem holds its lock across allocations, so those allocations are
 * GFP_NOFS (reclaim must not call back into it), and anything that needs the lock to make progress,
 * a loop worker writing into the file, can be waited on by reclaim only through I/O. Every write
 * appends a fresh page-cache page, so the file needs no index: the model's interest is who
 * allocates under which lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "reservoir/harness.h"
#include "common/list.h"

struct rsv_fs {
	struct rsv_system_object obj;
	struct rsv_system *sys;
	struct rsv_mutex lock;
	struct rsv_mapping *file;
	uint64_t next_index;
	_Atomic uint64_t writes, transactions, failed_allocations;
};

static void fs_destroy(struct rsv_system_object *o)
{
	free(rsv_container_of(o, struct rsv_fs, obj));
}

struct rsv_fs *rsv_fs_create(struct rsv_system *sys, const char *name, struct rsv_bdev *dev)
{
	struct rsv_fs *fs;

	if (!sys || !dev || dev->sys != sys || !rsv_task_current())
		return errno = EINVAL, NULL;
	if (!(fs = calloc(1, sizeof(*fs))))
		return errno = ENOMEM, NULL;
	fs->sys = sys;
	rsv_mutex_init(&fs->lock, "fs lock");
	fs->file = rsv_mapping_create(sys, RSV_MAPPING_FILE, name, dev, RSV_MAPPING_FS);
	if (!fs->file) {
		free(fs);
		return NULL;
	}
	fs->obj.destroy = fs_destroy;
	rsv_system_add_object(sys, &fs->obj);
	return fs;
}

/* write_begin/copy/write_end, under the lock. */
int rsv_fs_write(struct rsv_fs *fs, const void *data, rsv_gfp_t gfp)
{
	struct rsv_page *page;

	rsv_mutex_lock(&fs->lock);
	page = rsv_mapping_add_page(fs->file, gfp, fs->next_index);
	if (page) {
		memcpy(rsv_page_address(page), data, RSV_PAGE_SIZE);
		rsv_page_mark_dirty(page);
		fs->next_index++;
		atomic_fetch_add(&fs->writes, 1);
	} else {
		atomic_fetch_add(&fs->failed_allocations, 1);
	}
	rsv_mutex_unlock(&fs->lock);
	if (!page)
		return -ENOMEM;
	rsv_balance_dirty_pages_ratelimited(fs->file);
	return 0;
}

int rsv_fs_transaction(struct rsv_fs *fs, unsigned nr_pages, rsv_gfp_t extra_gfp)
{
	/* On the stack: a transaction stuck for good (a deadlocked run) leaks nothing. */
	struct rsv_page *journal[RSV_FS_MAX_TRANSACTION];
	unsigned n = 0;
	bool whole;

	if (nr_pages > RSV_FS_MAX_TRANSACTION)
		return -EINVAL;
	rsv_mutex_lock(&fs->lock);
	while (n < nr_pages && (journal[n] = rsv_alloc_pages(RSV_GFP_NOFS | extra_gfp, 0)))
		n++;
	whole = n == nr_pages;
	if (whole)
		atomic_fetch_add(&fs->transactions, 1);
	else
		atomic_fetch_add(&fs->failed_allocations, 1);
	rsv_mutex_unlock(&fs->lock);
	while (n)
		rsv_free_pages(journal[--n], 0);
	return whole ? 0 : -ENOMEM;
}

struct rsv_mutex *rsv_fs_lock(struct rsv_fs *fs)
{
	return &fs->lock;
}

/* Without the lock: a filesystem stuck under it must still be observable. */
void rsv_fs_stats(struct rsv_fs *fs, struct rsv_fs_stats *out)
{
	*out = (struct rsv_fs_stats){ .writes = fs->writes, .transactions = fs->transactions,
				      .failed_allocations = fs->failed_allocations };
}
