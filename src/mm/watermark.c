/* Zone watermarks: how they are sized (the kernel's __setup_per_zone_wmarks()) and the test every
 * allocation makes against them (__zone_watermark_ok). */
#include "mm/internal.h"

static unsigned long int_sqrt(unsigned long x)
{
	unsigned long r = 0, bit = 1UL << (sizeof(long) * 8 - 2);

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

/* min_free_kbytes = int_sqrt(lowmem_kB * 16) clamped to [128, 262144] kB; then min is this
 * zone's share (all of it, with one zone), and low and high each add
 * max(min / 4, managed * watermark_scale_factor / 10000). */
void rsv__setup_watermarks(struct rsv_system *sys)
{
	struct rsv_zone *z = &sys->zone;
	unsigned long lowmem_kb = z->managed << (RSV_PAGE_SHIFT - 10);
	unsigned long kb = sys->cfg.min_free_kbytes;
	unsigned wsf = sys->cfg.watermark_scale_factor ? sys->cfg.watermark_scale_factor : 10;
	unsigned long min, gap;

	if (!kb) {
		kb = int_sqrt(lowmem_kb * 16);
		kb = kb < 128 ? 128 : kb > 262144 ? 262144 : kb;
	}
	sys->min_free_kbytes = (unsigned)kb;
	min = kb >> (RSV_PAGE_SHIFT - 10);
	gap = z->managed * wsf / 10000;
	if (gap < min / 4)
		gap = min / 4;
	z->wmark[RSV_WMARK_MIN] = min;
	z->wmark[RSV_WMARK_LOW] = min + gap;
	z->wmark[RSV_WMARK_HIGH] = min + 2 * gap;
}

/* The kernel's __zone_watermark_ok(). @free_pages is NR_FREE_PAGES, or a caller's estimate
 * (should_reclaim_retry adds the reclaimable pages). */
bool rsv__zone_watermark_ok(const struct rsv_zone *z, unsigned order, unsigned long mark,
			    unsigned alloc_flags, long free_pages)
{
	long min = (long)mark;

	/* Pages of a higher-order block beyond the first cannot serve this request, and the
	 * high-atomic reserve is off limits unless the caller may use reserves. */
	free_pages -= (1L << order) - 1;
	if (!(alloc_flags & RSV_ALLOC_RESERVES))
		free_pages -= (long)z->nr_reserved_highatomic;

	if (alloc_flags & RSV_ALLOC_RESERVES) {
		if (alloc_flags & RSV_ALLOC_MIN_RESERVE) {
			min -= min / 2;
			if (alloc_flags & RSV_ALLOC_NON_BLOCK)
				min -= min / 4;
		}
		if (alloc_flags & RSV_ALLOC_OOM)
			min -= min / 2;
	}
	if (free_pages <= min + (long)z->lowmem_reserve)
		return false;
	if (!order)
		return true;
	for (unsigned o = order; o < RSV_NR_ORDERS; o++)
		if (atomic_load_explicit(&z->free_area[o].nr_free, memory_order_relaxed))
			return true;
	return false;
}
