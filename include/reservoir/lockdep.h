/* reservoir/lockdep.h: a lock-dependency checker in the manner of the kernel's lockdep: the
 * order in which a run's tasks take their mutexes and pseudo-locks, and every cycle in it,
 * whether the run deadlocked or not. */
#ifndef RESERVOIR_LOCKDEP_H
#define RESERVOIR_LOCKDEP_H

#include "defs.h"
#include "gfp.h"

struct rsv_system;

/* A lockdep-style checker for @sys (see src/check/lockdep.c): from now on every mutex taken
 * by a task, the fs_reclaim and io_reclaim pseudo-locks of reclaim that may enter filesystems
 * or start I/O (and of the allocations that may so reclaim), and the io:DEV pseudo-locks of
 * device workers and of the tasks waiting for their I/O are ordered, and an order that closes
 * a cycle is reported, deadlocked or not. Enable before the tasks run. 0, -EBUSY (already),
 * -ENOMEM. */
RSV_API int rsv_lockdep_enable(struct rsv_system *sys);
/* Cycles found; @buf gets the first, in words. */
RSV_API unsigned rsv_lockdep_report(struct rsv_system *sys, char *buf, size_t len);
/* Whether @after has been taken, directly or through others, while @before was held. */
RSV_API bool rsv_lockdep_ordered(struct rsv_system *sys, const char *before, const char *after);
/* Pseudo-locks (@cls a string that outlives the system): held across a region... */
RSV_API void rsv_lockdep_acquire(struct rsv_system *sys, const char *cls);
RSV_API void rsv_lockdep_release(struct rsv_system *sys, const char *cls);
/* ...or waited for: everything the caller holds is ordered before @cls, as if it took it. */
RSV_API void rsv_lockdep_wait(struct rsv_system *sys, const char *cls);
/* Who hears of a cycle, once, when it is first seen: @fn with the report (both chains, each
 * edge with the task that recorded it first and what it did). Without a hook the report is
 * printed to stderr. */
/* might_alloc(): what an allocation in the calling task's context @gfp would record, without
 * allocating. And fs_reclaim_acquire()/release(): the reclaim pseudo-lock (fs_reclaim or
 * io_reclaim) that reclaim in context @gfp holds, for code that reclaims by itself. No-ops
 * without the checker or for a context that cannot reclaim. */
RSV_API void rsv_might_alloc(rsv_gfp_t gfp);
RSV_API void rsv_reclaim_acquire(rsv_gfp_t gfp);
RSV_API void rsv_reclaim_release(rsv_gfp_t gfp);
RSV_API void rsv_lockdep_set_report_hook(struct rsv_system *sys,
					 void (*fn)(void *arg, const char *report), void *arg);

#endif
