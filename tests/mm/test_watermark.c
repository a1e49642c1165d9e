/* Watermark sizing (__setup_per_zone_wmarks()) and the watermark test over every alloc-flag
 * combination. */
#include "helpers.h"
#include "mm/internal.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(watermark, .timeout = 60);

static void wmarks_of(unsigned long pages, unsigned mfk, unsigned wsf, struct rsv_watermarks *w)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = pages, .backend = RSV_BACKEND_SIM, .min_free_kbytes = mfk,
		.watermark_scale_factor = wsf });

	cr_assert_not_null(sys);
	rsv_system_watermarks(sys, w);
	teardown_whole(sys);
}

Test(watermark, test_arena_is_128_160_192)
{
	struct rsv_watermarks w;

	wmarks_of(4096, 0, 0, &w);
	cr_assert_eq(w.min_free_kbytes, 512);
	cr_assert_eq(w.min, 128);
	cr_assert_eq(w.low, 160);
	cr_assert_eq(w.high, 192);
}

/* Rows computed by hand from the formula, covering both clamps and both gap terms. */
Test(watermark, formula_across_sizes)
{
	static const struct {
		unsigned long pages;
		unsigned mfk, wsf;
		unsigned kb;
		unsigned long min, low, high;
	} rows[] = {
		/* lowmem 256 kB: sqrt(4096) = 64 kB, clamped up to 128 kB = 32 pages */
		{ 64, 0, 0, 128, 32, 40, 48 },
		/* 1024 pages: sqrt(4096 * 16) = 256 kB = 64 pages, gap 16 */
		{ 1024, 0, 0, 256, 64, 80, 96 },
		/* 262144 pages (1 GiB): sqrt(1048576 * 16) = 4096 kB = 1024 pages; the scale
		 * factor's gap 262144 * 10 / 10000 = 262 beats min / 4 = 256 */
		{ 262144, 0, 0, 4096, 1024, 1286, 1548 },
		/* a user value wins over the formula */
		{ 4096, 1024, 0, 1024, 256, 320, 384 },
		/* watermark_scale_factor 1000 (10%): gap 409 */
		{ 4096, 0, 1000, 512, 128, 537, 946 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rsv_watermarks w;

		wmarks_of(rows[i].pages, rows[i].mfk, rows[i].wsf, &w);
		cr_assert_eq(w.min_free_kbytes, rows[i].kb, "row %zu", i);
		cr_assert_eq(w.min, rows[i].min, "row %zu: min %lu", i, w.min);
		cr_assert_eq(w.low, rows[i].low, "row %zu: low %lu", i, w.low);
		cr_assert_eq(w.high, rows[i].high, "row %zu: high %lu", i, w.high);
	}
}

Test(watermark, bad_config_refused)
{
	cr_assert_null(rsv_system_create(
		&(struct rsv_system_config){ .nr_pages = 4, .backend = RSV_BACKEND_SIM }));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .watermark_scale_factor = 3001, .backend = RSV_BACKEND_SIM }));
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = (enum rsv_backend)7 }));
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){
		.nr_pages = RSV_MAX_ARENA_PAGES + 1, .backend = RSV_BACKEND_SIM }));
}

Test(watermark, override_validated)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 4096, 1);
	struct rsv_watermarks w;

	cr_assert_eq(rsv_system_set_watermarks(sys, 200, 100, 300), -EINVAL);
	cr_assert_eq(rsv_system_set_watermarks(sys, 10, 20, 5000), -EINVAL);
	cr_assert_eq(rsv_system_set_watermarks(sys, 10, 20, 30), 0);
	rsv_system_watermarks(sys, &w);
	cr_assert(w.min == 10 && w.low == 20 && w.high == 30);
	teardown_whole(sys);
}

/* Effective min for each combination of the reserve bits, at each of the three marks:
 * MIN_RESERVE halves; with NON_BLOCK a further quarter of that; OOM halves what is left;
 * NON_BLOCK alone and HIGHATOMIC change nothing here (HIGHATOMIC only unlocks the
 * high-atomic reserve). */
#define MR RSV_ALLOC_MIN_RESERVE
#define NB RSV_ALLOC_NON_BLOCK
#define OM RSV_ALLOC_OOM
#define HA RSV_ALLOC_HIGHATOMIC

static const struct {
	unsigned flags;
	long eff[3]; /* for marks 128, 160, 192 */
} eff_rows[] = {
	{ 0, { 128, 160, 192 } },
	{ MR, { 64, 80, 96 } },
	{ NB, { 128, 160, 192 } },
	{ MR | NB, { 48, 60, 72 } },
	{ OM, { 64, 80, 96 } },
	{ OM | MR, { 32, 40, 48 } },
	{ OM | NB, { 64, 80, 96 } },
	{ OM | MR | NB, { 24, 30, 36 } },
	{ HA, { 128, 160, 192 } },
	{ HA | MR, { 64, 80, 96 } },
	{ HA | NB, { 128, 160, 192 } },
	{ HA | MR | NB, { 48, 60, 72 } },
	{ HA | OM, { 64, 80, 96 } },
	{ HA | OM | MR, { 32, 40, 48 } },
	{ HA | OM | NB, { 64, 80, 96 } },
	{ HA | OM | MR | NB, { 24, 30, 36 } },
};

static void zone_for_table(struct rsv_zone *z)
{
	memset(z, 0, sizeof(*z));
	z->wmark[RSV_WMARK_MIN] = 128;
	z->wmark[RSV_WMARK_LOW] = 160;
	z->wmark[RSV_WMARK_HIGH] = 192;
}

Test(watermark, every_flag_combination_order0)
{
	struct rsv_zone z;

	zone_for_table(&z);
	for (size_t r = 0; r < sizeof(eff_rows) / sizeof(eff_rows[0]); r++) {
		for (int m = 0; m < 3; m++) {
			unsigned long mark = z.wmark[m];
			long eff = eff_rows[r].eff[m];
			unsigned f = eff_rows[r].flags | (unsigned)m;

			cr_assert(!rsv__zone_watermark_ok(&z, 0, mark, f, eff),
				  "flags %#x mark %lu: passed with free == effective min %ld", f,
				  mark, eff);
			cr_assert(rsv__zone_watermark_ok(&z, 0, mark, f, eff + 1),
				  "flags %#x mark %lu: failed with free == effective min + 1", f,
				  mark);
			cr_assert_eq(rsv__zone_watermark_fast(&z, 0, mark, f), false);
		}
	}
}

Test(watermark, highatomic_reserve_unusable_without_reserve_bits)
{
	struct rsv_zone z;

	zone_for_table(&z);
	z.nr_reserved_highatomic = 10;
	/* 138 free, 10 of them high-atomic: a plain request sees 128, which is not > 128. */
	cr_assert(!rsv__zone_watermark_ok(&z, 0, 128, 0, 138));
	cr_assert(rsv__zone_watermark_ok(&z, 0, 128, 0, 139));
	/* Any reserve bit makes them usable (and NON_BLOCK alone changes nothing else). */
	cr_assert(rsv__zone_watermark_ok(&z, 0, 128, NB, 129));
	cr_assert(rsv__zone_watermark_ok(&z, 0, 128, HA, 129));
}

Test(watermark, higher_orders_need_a_block)
{
	struct rsv_zone z;

	zone_for_table(&z);
	/* order 2: 3 of the free pages cannot be used for it. */
	atomic_store(&z.free_area[2].nr_free, 1);
	cr_assert(!rsv__zone_watermark_ok(&z, 2, 128, 0, 131));
	cr_assert(rsv__zone_watermark_ok(&z, 2, 128, 0, 132));
	/* Enough pages, but no block of order >= 3. */
	cr_assert(!rsv__zone_watermark_ok(&z, 3, 128, 0, 1000));
	atomic_store(&z.free_area[5].nr_free, 1);
	cr_assert(rsv__zone_watermark_ok(&z, 3, 128, 0, 1000));
}
