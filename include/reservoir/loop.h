/* reservoir/loop.h: a loop device whose worker writes into a file of reservoir/fs.h. */
#ifndef RESERVOIR_LOOP_H
#define RESERVOIR_LOOP_H

#include "fs.h"

/* A block device of @nr_sectors pages backed by @fs's file: a worker task ("loop0") turns each
 * write into rsv_fs_write(GFP_KERNEL). Under policy loop=noio the worker runs each batch with
 * PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE, restoring its flags afterwards (d0a255e795ab); under
 * loop=plain its allocations may recurse into I/O, and through the shrinkers into the devices
 * stacked on it. Reads complete at once (the data is in the file). */
RSV_API struct rsv_bdev *rsv_loop_create(struct rsv_system *sys, const char *name,
					 struct rsv_fs *fs, uint64_t nr_sectors);

#endif
