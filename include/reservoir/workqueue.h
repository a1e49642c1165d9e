/* reservoir/workqueue.h: workqueues, with the kernel's forward-progress guarantee for the work
 * reclaim waits on.
 *
 * Work items run in the workers of one pool per system, as in the kernel's unbound pools. A
 * worker that is about to run work when no other worker is idle first makes another, as the
 * kernel's manager does, and making one allocates (a worker and a THREAD_SIZE stack) with
 * GFP_KERNEL, so it may enter reclaim and wait there. If reclaim is waiting for the very work
 * that is queued, only a workqueue made with RSV_WQ_MEM_RECLAIM still makes progress: when the
 * pool has been trying to make a worker for MAYDAY_INITIAL_TIMEOUT, its mayday timer calls the
 * rescuer of every such workqueue with work queued, a thread made (with its memory) when the
 * workqueue was, and the rescuer runs that workqueue's items itself. A workqueue without the
 * flag waits for the pool, and the simulator reports the deadlock.
 *
 * As in the kernel: an item is queued at most once (rsv_queue_work() says false while it is
 * pending) and never runs on two workers at once; it may queue itself again or free itself from
 * its function; rsv_flush_work() waits for the instance queued before it was called, not for
 * later ones; no more than max_active items of a workqueue run at once.
 *
 * Context: queueing never sleeps and may be called from any task of the system; flush, cancel
 * and drain sleep until the work has run, and must not be called from the work they wait for
 * (check_flush_dependency() is a named misuse). */
#ifndef RESERVOIR_WORKQUEUE_H
#define RESERVOIR_WORKQUEUE_H

#include "defs.h"
#include "sync.h"

struct rsv_system;
struct rsv_workqueue;
struct rsv_work;

typedef void (*rsv_work_func_t)(struct rsv_work *work);

struct rsv_work {
	struct rsv_list entry; /* on a worklist: the pool's lock */
	rsv_work_func_t func;
	const char *lock_class; /* the checker's class for running and flushing it, or NULL */
	/* The workqueue code's. */
	_Atomic bool pending;         /* queued and not yet started */
	/* Where it was last queued: written under the pool's lock, read by flush and cancel
	 * before they know which pool's lock to take. */
	_Atomic(struct rsv_workqueue *) wq;
	struct rsv_work *barrier_for; /* a flush's barrier: the item it follows, else NULL */
};

/* INIT_WORK(): @lock_class must outlive the system (a string literal). */
RSV_API void rsv_init_work(struct rsv_work *work, rsv_work_func_t func, const char *lock_class);

/* The kernel's WQ_* values. RSV_WQ_MEM_RECLAIM gives the workqueue a rescuer. The others are
 * accepted and change nothing here: every workqueue runs in the one unbound pool, with no
 * CPUs to bind to, no priorities, no freezer and no sysfs. */
#define RSV_WQ_UNBOUND 0x02u
#define RSV_WQ_FREEZABLE 0x04u
#define RSV_WQ_MEM_RECLAIM 0x08u
#define RSV_WQ_HIGHPRI 0x10u
#define RSV_WQ_CPU_INTENSIVE 0x20u
#define RSV_WQ_SYSFS 0x40u
#define RSV_WQ_POWER_EFFICIENT 0x80u
#define RSV_WQ_MAX_ACTIVE 512
#define RSV_WQ_DFL_ACTIVE (RSV_WQ_MAX_ACTIVE / 2)

/* How the pool's workers waited for memory: the kernel's MAYDAY_INITIAL_TIMEOUT,
 * MAYDAY_INTERVAL and CREATE_COOLDOWN. */
#define RSV_WQ_MAYDAY_INITIAL_NS (10 * RSV_NSEC_PER_MSEC)
#define RSV_WQ_MAYDAY_INTERVAL_NS (100 * RSV_NSEC_PER_MSEC)
#define RSV_WQ_CREATE_COOLDOWN_NS (1000 * RSV_NSEC_PER_MSEC)

/* A workqueue of @sys named @name; @max_active 0 means RSV_WQ_DFL_ACTIVE. Called by a task of
 * @sys (a rescuer's memory comes from the arena, GFP_KERNEL). @lock_class: as
 * rsv_init_work()'s. NULL with errno EPERM (not a task of @sys), EINVAL (an unknown flag,
 * @max_active outside 0..RSV_WQ_MAX_ACTIVE) or ENOMEM. */
RSV_API struct rsv_workqueue *rsv_alloc_workqueue(struct rsv_system *sys, const char *name,
						  unsigned flags, int max_active,
						  const char *lock_class);
/* Waits until nothing is queued on @wq or running from it, then frees it (the last one of a
 * system stops the pool's workers). By a task of its system; queueing on it meanwhile from
 * anywhere but its own items is a misuse. */
RSV_API void rsv_destroy_workqueue(struct rsv_workqueue *wq);
/* Waits until nothing is queued on @wq or running from it; its items may queue more meanwhile,
 * nothing else may (a misuse, refused). */
RSV_API void rsv_drain_workqueue(struct rsv_workqueue *wq);
/* true if @work was queued, false if it was already pending. */
RSV_API bool rsv_queue_work(struct rsv_workqueue *wq, struct rsv_work *work);
/* Waits until the instance of @work pending or running at the call has finished; true if
 * there was one. A wait for that work: reports and the checker see it. */
RSV_API bool rsv_flush_work(struct rsv_work *work);
/* Takes @work off its queue if pending, then waits for a running instance; true if it was
 * pending. */
RSV_API bool rsv_cancel_work_sync(struct rsv_work *work);
RSV_API bool rsv_work_pending(const struct rsv_work *work);

struct rsv_workqueue_stats {
	unsigned long executed; /* items run by the pool's workers */
	unsigned long rescued;  /* items run by the rescuer */
	unsigned long maydays;  /* times the mayday timer called the rescuer */
};
/* The workqueue's items run by workers and by the rescuer, and the mayday calls. */
RSV_API void rsv_workqueue_stats(struct rsv_workqueue *wq, struct rsv_workqueue_stats *st);
/* The pool of @sys: workers made, attempts that found no memory. */
RSV_API void rsv_workqueue_pool_stats(struct rsv_system *sys, unsigned *workers,
				      unsigned long *create_failures);

#endif
