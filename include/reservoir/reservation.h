/* reservoir/reservation.h: page reservations for critical sections, beyond the zone reserves.
 *
 * The 2004 argument (Arcangeli, "Remove OOM killer from try_to_free_pages /
 * all_unreclaimable braindamage"): a filesystem's writeout must be able to allocate a bounded
 * number of pages even when memory is exhausted, or the writeout that would free memory never
 * runs. A user states the bound once (rsv_reservation_create, at "mount") and brackets each
 * writeout with rsv_reservation_enable/disable. What the bracket buys is policy `reservation`:
 *
 *   watermarks   nothing more than the allocator's own min-watermark reserves (the kernel).
 *   global-pool  Arcangeli: one pool, as large as the largest live reservation. A task in a
 *                section whose ordinary allocation has failed takes a global semaphore (once
 *                per section) and allocates from the pool; leaving the section it refills the
 *                pool with ordinary blocking allocations, then releases the semaphore. Memory
 *                held back: the largest reservation, however many writers there are.
 *   per-thread   reiser4: entering a section reserves its pages into the task's own list and
 *                the section's allocations draw from it first; what is left goes back at the
 *                end. Memory held back: one reservation per writer in a section.
 *
 * Only order-0 pages come out of a reservation. Sections nest; the outermost one counts. A
 * section must not wait for another section's writeout: under global-pool the pool holder
 * would wait for a task that waits for the semaphore.
 *
 * Context: enable and disable are called by the task that writes, in its own context, and may
 * sleep (per-thread reservations fill there, the global pool refills there); creating and
 * destroying a reservation too. Misuse (a disable without its enable) is named. */
#ifndef RESERVOIR_RESERVATION_H
#define RESERVOIR_RESERVATION_H

#include "defs.h"

struct rsv_system;
struct rsv_reservation;

#define RSV_RESERVATION_MAX_PAGES (1ul << 16)

/* One reservation of @nr_pages (1..RSV_RESERVATION_MAX_PAGES, and at most a quarter of the arena)
 * for the calling task's system.
 * Under global-pool the pool grows to it at once with blocking allocations. NULL with errno
 * EINVAL (bad size), EPERM (not a task) or ENOMEM. */
RSV_API struct rsv_reservation *rsv_reservation_create(struct rsv_system *sys,
						   unsigned long nr_pages);
/* 0, or -EBUSY while a section on it is open (nothing changes). The pool shrinks to the
 * largest reservation left. NULL is a no-op. */
RSV_API int rsv_reservation_destroy(struct rsv_reservation *r);

/* Enters a section for the calling task. 0, -EINVAL (not a task of the reservation's system,
 * or a destroyed reservation), or -ENOMEM when per-thread pages could not be had (a fatal
 * signal, or an OOM victim's failed allocation); the section is then not entered. */
RSV_API int rsv_reservation_enable(struct rsv_reservation *r);
/* Leaves it; a disable without an enable is a misuse (named). */
RSV_API void rsv_reservation_disable(struct rsv_reservation *r);
/* The calling task's section depth (0 outside any). */
RSV_API unsigned rsv_reservation_depth(void);

struct rsv_reservation_stats {
	unsigned policy;                /* enum rsv_reservation_policy */
	unsigned long reservations;     /* live ones */
	unsigned long pool_target;      /* global-pool: the largest live reservation */
	unsigned long pool_pages;       /* global-pool: pages in the pool now */
	unsigned long pinned, pinned_peak; /* pages held back: the pool plus per-thread lists */
	uint64_t sections;              /* outermost sections entered */
	uint64_t pool_allocs;           /* pages the global pool handed out */
	unsigned long pool_used_peak;   /* the most pages out of the pool at once */
	uint64_t pool_empty;            /* a holder found the pool empty */
	uint64_t sem_acquires, sem_waits, sem_wait_ns;
	unsigned users, users_peak;     /* tasks holding the global pool (the semaphore) */
	uint64_t refill_pages, refill_waits;
	uint64_t thread_reserved;       /* pages put on per-thread lists */
	uint64_t thread_allocs;         /* allocations served from them */
	uint64_t thread_returned;       /* pages left over and given back */
};

/* The reservations' statistics (pages pinned now and at peak, the global pool's use and its
 * semaphore's waits, per-thread reserves): a consistent copy, taken under the pool's lock. */
RSV_API void rsv_reservation_stats(struct rsv_system *sys, struct rsv_reservation_stats *st);

#endif
