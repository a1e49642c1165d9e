/* reservoir/swap.h: a swap area on a device, so that swap over dm-crypt is an anonymous mapping
 * whose device is a crypt device. */
#ifndef RESERVOIR_SWAP_H
#define RESERVOIR_SWAP_H

#include "bdev.h"

struct rsv_system;

/* A swap area of @nr_slots page slots on @lower (at most its size): an anonymous mapping whose
 * device it is swaps out to it. Each write takes a free slot and goes to @lower in the
 * submitter's context (so swap over dm-crypt allocates the crypt io as the reclaimer); a full
 * area refuses with -ENOSPC and the page stays. Destroyed with the system. */
RSV_API struct rsv_bdev *rsv_swap_create(struct rsv_system *sys, const char *name,
					 struct rsv_bdev *lower, uint64_t nr_slots);

struct rsv_swap_stats {
	uint64_t slots, used, full_refusals;
};
/* The swap area's slots, those in use, and swap-outs refused for want of a slot. */
RSV_API void rsv_swap_stats(struct rsv_bdev *swap, struct rsv_swap_stats *out);

#endif
