/* reservoir: the Linux kernel's memory forward-progress machinery in userspace.
 *
 * The core: locks and wait queues, GFP rules and policies, systems and tasks, the page
 * allocator, reclaim and block devices, slab caches, mempools and reservations; what a
 * program that allocates through reservoir needs. The harness (platforms and threads driven
 * directly, the seed scenarios, the I/O models and the checkers) is reservoir/harness.h.
 * Each subsystem also has its own header under reservoir/. */
#ifndef RESERVOIR_H
#define RESERVOIR_H

#include "reservoir/defs.h"
#include "reservoir/sync.h"
#include "reservoir/gfp.h"
#include "reservoir/policy.h"
#include "reservoir/system.h"
#include "reservoir/task.h"
#include "reservoir/page.h"
#include "reservoir/stats.h"
#include "reservoir/bdev.h"
#include "reservoir/reclaim.h"
#include "reservoir/slab.h"
#include "reservoir/mempool.h"
#include "reservoir/reservation.h"
#include "reservoir/version.h"

/* The library's version, "MAJOR.MINOR.PATCH": the one it was built as, which may be newer
 * than the RSV_VERSION a program was compiled against (same major: compatible). Never NULL;
 * may be called before anything else, from any thread. */
RSV_API const char *rsv_version(void);
/* A hash of the library's sources: two builds with the same id schedule the same run the same
 * way, so a recorded schedule is only replayed by a build of its id. */
RSV_API const char *rsv_build_id(void);
RSV_API const char *rsv_strerror(int err); /* for the negative errno values returned here */

#endif
