/* reservoir/gfp.h: allocation context flags with the kernel's values and meanings.
 *
 * Composite masks are the kernel's of today: GFP_KERNEL may sleep, start I/O and enter
 * filesystems; GFP_NOFS may not enter filesystems; GFP_NOIO may not start I/O either;
 * GFP_ATOMIC may not sleep but may dig into half the min reserve. Unknown bits and
 * contradictory masks are refused with -EINVAL, never guessed at. */
#ifndef RESERVOIR_GFP_H
#define RESERVOIR_GFP_H

#include "defs.h"

typedef unsigned int rsv_gfp_t;

#define RSV___GFP_MOVABLE 0x08u         /* migratetype hint; cleared by the PIN scope */
#define RSV___GFP_RECLAIMABLE 0x10u     /* migratetype hint */
#define RSV___GFP_HIGH 0x20u            /* ALLOC_MIN_RESERVE: half the min reserve usable */
#define RSV___GFP_IO 0x40u              /* reclaim may start physical I/O */
#define RSV___GFP_FS 0x80u              /* reclaim may enter filesystems */
#define RSV___GFP_ZERO 0x100u           /* return zeroed memory */
#define RSV___GFP_DIRECT_RECLAIM 0x400u /* caller may sleep and reclaim */
#define RSV___GFP_KSWAPD_RECLAIM 0x800u /* caller may wake kswapd */
#define RSV___GFP_NOWARN 0x2000u        /* no failure report */
#define RSV___GFP_RETRY_MAYFAIL 0x4000u /* retry while progress, never OOM-kill, may fail */
#define RSV___GFP_NOFAIL 0x8000u        /* never fail: loop until it succeeds */
#define RSV___GFP_NORETRY 0x10000u      /* one light reclaim round, then fail */
#define RSV___GFP_MEMALLOC 0x20000u     /* ignore watermarks */
#define RSV___GFP_NOMEMALLOC 0x80000u   /* never touch reserves; beats MEMALLOC */
#define RSV___GFP_ACCOUNT 0x400000u     /* charge the page to the allocating task */
#define RSV___GFP_NOLOCKDEP 0x800000u   /* no reclaim-recursion checking */

#define RSV___GFP_RECLAIM (RSV___GFP_DIRECT_RECLAIM | RSV___GFP_KSWAPD_RECLAIM)

#define RSV_GFP_KERNEL (RSV___GFP_RECLAIM | RSV___GFP_IO | RSV___GFP_FS)
#define RSV_GFP_NOFS (RSV___GFP_RECLAIM | RSV___GFP_IO)
#define RSV_GFP_NOIO (RSV___GFP_RECLAIM)
#define RSV_GFP_ATOMIC (RSV___GFP_HIGH | RSV___GFP_KSWAPD_RECLAIM)
#define RSV_GFP_NOWAIT (RSV___GFP_KSWAPD_RECLAIM | RSV___GFP_NOWARN)
#define RSV_GFP_USER (RSV_GFP_KERNEL | RSV___GFP_ACCOUNT)

#define RSV_GFP_VALID_MASK                                                                  \
	(RSV___GFP_MOVABLE | RSV___GFP_RECLAIMABLE | RSV___GFP_HIGH | RSV___GFP_IO |        \
	 RSV___GFP_FS | RSV___GFP_ZERO | RSV___GFP_RECLAIM | RSV___GFP_NOWARN |             \
	 RSV___GFP_RETRY_MAYFAIL | RSV___GFP_NOFAIL | RSV___GFP_NORETRY | RSV___GFP_MEMALLOC | \
	 RSV___GFP_NOMEMALLOC | RSV___GFP_ACCOUNT | RSV___GFP_NOLOCKDEP)

/* 0, or -EINVAL for an unknown bit, FS without IO, NOFAIL without DIRECT_RECLAIM or with
 * NORETRY/RETRY_MAYFAIL or above order 1, NORETRY with RETRY_MAYFAIL, or order > 10. */
RSV_API int rsv_gfp_check(rsv_gfp_t gfp, unsigned order);
/* Why rsv_gfp_check() refused @gfp, or NULL. */
RSV_API const char *rsv_gfp_check_reason(rsv_gfp_t gfp, unsigned order);
/* Applies the current task's NOIO / NOFS / PIN scopes (current_gfp_context()). */
RSV_API rsv_gfp_t rsv_current_gfp_context(rsv_gfp_t gfp);
/* "GFP_NOFS|__GFP_NOWARN": composite names first, then single bits. Returns the length. */
RSV_API int rsv_gfp_format(rsv_gfp_t gfp, char *buf, size_t len);

static inline bool rsv_gfpflags_allow_blocking(rsv_gfp_t gfp)
{
	return gfp & RSV___GFP_DIRECT_RECLAIM;
}

#endif
