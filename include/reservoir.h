/* reservoir: the Linux kernel's memory forward-progress machinery in userspace.
 * The umbrella header; each subsystem also has its own under reservoir/. */
#ifndef RESERVOIR_H
#define RESERVOIR_H

#include "reservoir/defs.h"
#include "reservoir/platform.h"
#include "reservoir/gfp.h"
#include "reservoir/policy.h"
#include "reservoir/system.h"
#include "reservoir/task.h"
#include "reservoir/page.h"
#include "reservoir/stats.h"
#include "reservoir/bdev.h"
#include "reservoir/reclaim.h"
#include "reservoir/watchdog.h"
#include "reservoir/slab.h"
#include "reservoir/mempool.h"
#include "reservoir/reservation.h"
#include "reservoir/scenario.h"
#include "reservoir/bio.h"
#include "reservoir/fault.h"

#define RSV_VERSION "0.1.0"

RSV_API const char *rsv_version(void);
RSV_API const char *rsv_strerror(int err); /* for the negative errno values returned here */

#endif
