/* reservoir/bdev.h: block devices. A request is submitted and completes later: on the
 * simulator after a virtual delay, on real threads from the device's own service task.
 * Writeback and swap-out go through this interface; stacked devices (crypt, loop) implement
 * it too.
 *
 * Context: submitting never sleeps; completion runs the request's end_io in the device's
 * service task (or the stacked device's worker), so an end_io must not sleep for long and
 * must not wait for the device it completes on. */
#ifndef RESERVOIR_BDEV_H
#define RESERVOIR_BDEV_H

#include "defs.h"
#include "sync.h"

struct rsv_system;
struct rsv_page;
struct rsv_bdev;
struct rsv_task;

enum rsv_req_op { RSV_REQ_READ, RSV_REQ_WRITE };

struct rsv_request {
	struct rsv_bdev *bdev;
	enum rsv_req_op op;
	uint64_t sector; /* in pages */
	struct rsv_page *page;
	void (*end_io)(struct rsv_request *req); /* runs in the completing task */
	void *private;
	int error;
	/* Owned by the device while in flight. */
	struct rsv_list node;
	_Atomic int state;
	uint64_t submit_time;
};

struct rsv_bdev_ops {
	int (*submit)(struct rsv_bdev *bdev, struct rsv_request *req);
	void (*destroy)(struct rsv_bdev *bdev);
	/* Optional: no room for another write (a full swap area); reclaim then leaves the
	 * anonymous pages that would go there alone, as the kernel does without swap space. */
	bool (*full)(struct rsv_bdev *bdev);
};

#define RSV_BDEV_NEEDS_FS 0x1u /* its I/O enters a filesystem (a loop device): needs __GFP_FS */

struct rsv_bdev {
	const struct rsv_bdev_ops *ops;
	struct rsv_system *sys;
	char name[32];
	char io_class[40]; /* "io:NAME": its I/O as a lockdep pseudo-lock */
	unsigned flags;
	uint64_t nr_sectors;
	void *private;
	struct rsv_task *worker; /* the task serving its requests, if one does: reports follow it */
	_Atomic uint64_t submitted, completed, inflight, bad_completions;
	struct rsv_waitqueue io_done; /* rsv_request_wait() */
	struct rsv_list node;
};

/* A RAM-backed device of @nr_sectors pages whose requests complete @latency_ns after
 * submission, in order. Its storage is the device's, not the arena's. With RSV_RAMDEV_NULL it
 * keeps none, as null_blk without memory_backed: writes complete and are counted, reads
 * return zeros; for workloads that never read back what they wrote (swap-out, writeback). */
#define RSV_RAMDEV_NULL 0x100u
/* A RAM device of @sys named @name, served by its own service task. Called by a task of @sys
 * or before any runs; may sleep (allocates with GFP_KERNEL). NULL with errno: EINVAL for no
 * system, no sectors or unknown @flags, ENOMEM. */
RSV_API struct rsv_bdev *rsv_ramdev_create(struct rsv_system *sys, const char *name,
					   uint64_t nr_sectors, uint64_t latency_ns,
					   unsigned flags);
/* For device implementations: registers @bdev with @sys (its ops->destroy runs when the system
 * goes). 0, or -EINVAL without a device, a system, a submit op or any sectors. */
RSV_API int rsv_bdev_register(struct rsv_bdev *bdev, struct rsv_system *sys, const char *name,
			      const struct rsv_bdev_ops *ops, uint64_t nr_sectors,
			      unsigned flags);
/* 0, or -EINVAL for a request already in flight, a sector out of range or no page. */
RSV_API int rsv_submit_request(struct rsv_request *req);
/* Waits, uninterruptibly, until @req (submitted, without an end_io) has completed; returns
 * its error. Reports show the caller waiting for I/O to the device, served by its worker. */
RSV_API int rsv_request_wait(struct rsv_request *req);
/* Called by device implementations. -EALREADY (and a counted error) for a request that is
 * not in flight: completing twice never runs end_io twice. */
RSV_API int rsv_request_complete(struct rsv_request *req, int error);

#endif
