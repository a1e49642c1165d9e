/* reservoir/harness.h: what tests, tools and experiments add to the core (reservoir.h):
 * platforms and threads driven directly, the seed scenarios, the I/O models of the seed
 * threads (bios, dm-crypt, swap, a filesystem, loop, dm-bufio), and the checkers (watchdogs,
 * lockdep, fault injection). */
#ifndef RESERVOIR_HARNESS_H
#define RESERVOIR_HARNESS_H

#include "../reservoir.h"
#include "platform.h"
#include "scenario.h"
#include "bio.h"
#include "crypt.h"
#include "swap.h"
#include "fs.h"
#include "loop.h"
#include "bufio.h"
#include "watchdog.h"
#include "lockdep.h"
#include "fault.h"
#include "workqueue.h"
#include "explore.h"

#endif
