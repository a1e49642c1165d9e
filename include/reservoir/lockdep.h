/* reservoir/lockdep.h: a lock-dependency checker in the manner of the kernel's lockdep: the
 * order in which a run's tasks take their mutexes and pseudo-locks, and every cycle in it,
 * whether the run deadlocked or not. */
#ifndef RESERVOIR_LOCKDEP_H
#define RESERVOIR_LOCKDEP_H

#include "defs.h"

struct rsv_system;

/* A lockdep-style checker for @sys (see src/check/lockdep.c): from now on every mutex taken
 * by a task, the fs_reclaim pseudo-lock of FS-capable reclaim and allocation, and the io:DEV
 * pseudo-locks of device workers are ordered, and an order that closes a cycle is reported,
 * deadlocked or not. Enable before the tasks run. 0, -EBUSY (already), -ENOMEM. */
RSV_API int rsv_lockdep_enable(struct rsv_system *sys);
/* Cycles found; @buf gets the first, in words. */
RSV_API unsigned rsv_lockdep_report(struct rsv_system *sys, char *buf, size_t len);
/* Whether @after has been taken, directly or through others, while @before was held. */
RSV_API bool rsv_lockdep_ordered(struct rsv_system *sys, const char *before, const char *after);
/* Pseudo-locks (@cls a string that outlives the system): held across a region... */
RSV_API void rsv_lockdep_acquire(struct rsv_system *sys, const char *cls);
RSV_API void rsv_lockdep_release(struct rsv_system *sys, const char *cls);
/* ...or waited for: only pseudo-locks the caller holds are ordered before @cls. */
RSV_API void rsv_lockdep_wait(struct rsv_system *sys, const char *cls);

#endif
